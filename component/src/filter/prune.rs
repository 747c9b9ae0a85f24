//! Pruning: deciding from statistics, before reading any row, which parts of
//! a file cannot hold a row that satisfies a predicate.
//!
//! A *container* is a part of the file the statistics describe: a row group,
//! or a run of rows inside one (where a page index gives page statistics).
//! For every container the predicate gets two verdicts: whether it *may be
//! true* for some row there, and whether it *may be false* for some row (the
//! second is what `NOT` turns into the first). A NULL verdict is neither, as
//! in SQL. Unknown statistics always answer "may", so pruning is exact: it
//! drops a container only when no row of it can satisfy the predicate.
//!
//! The bounds are compared with the same conversions and kernels that
//! evaluate the predicate on rows, so both agree on every value, NaN and
//! `-0.0` included.

use super::BoundPredicate;
use super::CompareOp;
use super::bind::{Node, Operand};
use super::eval::convert;
use crate::error::{Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, BooleanArray, Scalar};
use arrow_ord::cmp;
use arrow_schema::DataType;
use std::sync::Arc;

/// What statistics say about one column in each container.
#[derive(Debug, Clone)]
pub struct ColumnBounds {
    /// Lower bound of the non-NULL, non-NaN values (NULL where unknown), in
    /// the column's Arrow type.
    pub min: ArrayRef,
    /// Upper bound of the non-NULL, non-NaN values (NULL where unknown).
    pub max: ArrayRef,
    /// Whether the container may hold a NULL.
    pub may_have_null: Vec<bool>,
    /// Whether the container may hold a non-NULL value.
    pub may_have_value: Vec<bool>,
    /// Whether the container may hold a NaN (floating-point columns).
    pub may_have_nan: Vec<bool>,
    /// The number of distinct values, where the statistics give it (only
    /// estimates use it: see [`BoundPredicate::selectivity`]).
    pub distinct_count: Vec<Option<u64>>,
}

/// Statistics of the containers, by column name. A column with no entry has
/// no usable statistics.
pub trait ContainerStats {
    /// Number of containers.
    fn containers(&self) -> usize;
    /// The bounds of a column, if any are known.
    fn column(&self, name: &str) -> Option<&ColumnBounds>;

    /// For each container, whether the column may hold `value` (a one-element
    /// array of the comparison type), where a set-membership structure such
    /// as a bloom filter knows; `None` where nothing is known.
    fn may_contain(&self, _name: &str, _value: &ArrayRef) -> Option<Vec<bool>> {
        None
    }

    /// For each container, whether the column may hold a non-NULL value
    /// other than `value`, where an exact value set (a dictionary) knows.
    fn may_contain_other(&self, _name: &str, _value: &ArrayRef) -> Option<Vec<bool>> {
        None
    }

    /// For each container, whether a set-membership structure reports the
    /// column holding `value` (`false` where none knows); only estimates use
    /// it (see [`BoundPredicate::known_to_match`]).
    fn holds(&self, _name: &str, _value: &ArrayRef) -> Option<Vec<bool>> {
        None
    }
}

/// The two verdicts of a node, one entry per container.
struct Verdicts {
    may_be_true: Vec<bool>,
    may_be_false: Vec<bool>,
}

impl Verdicts {
    fn uniform(containers: usize, may_be_true: bool, may_be_false: bool) -> Self {
        Self {
            may_be_true: vec![may_be_true; containers],
            may_be_false: vec![may_be_false; containers],
        }
    }
}

impl BoundPredicate {
    /// For each container, whether a row there may satisfy the predicate.
    /// `false` is a proof that none does.
    pub fn may_match(&self, stats: &dyn ContainerStats) -> Result<Vec<bool>> {
        Ok(verdicts(&self.root, stats)?.may_be_true)
    }
}

fn verdicts(node: &Node, stats: &dyn ContainerStats) -> Result<Verdicts> {
    let n = stats.containers();
    Ok(match node {
        Node::Const(value) => Verdicts::uniform(n, *value == Some(true), *value == Some(false)),
        Node::BoolColumn(operand) => match bounds(operand, stats) {
            None => Verdicts::uniform(n, true, true),
            Some(column) => {
                let min = column.min.as_boolean_opt();
                let max = column.max.as_boolean_opt();
                let known = |array: Option<&BooleanArray>, i: usize| {
                    array.filter(|a| a.is_valid(i)).map(|a| a.value(i))
                };
                Verdicts {
                    may_be_true: (0..n)
                        .map(|i| column.may_have_value[i] && known(max, i) != Some(false))
                        .collect(),
                    may_be_false: (0..n)
                        .map(|i| column.may_have_value[i] && known(min, i) != Some(true))
                        .collect(),
                }
            }
        },
        Node::Compare { left, op, right } => match (left, right) {
            (Operand::Column { .. }, Operand::Scalar(value)) => compare(left, *op, value, stats)?,
            (Operand::Scalar(value), Operand::Column { .. }) => {
                compare(right, op.flipped(), value, stats)?
            }
            _ => Verdicts::uniform(n, true, true),
        },
        Node::UnlessNull { column, value } => {
            let has_value = values_possible(column, stats, n);
            let none = vec![false; n];
            if *value {
                Verdicts {
                    may_be_true: has_value,
                    may_be_false: none,
                }
            } else {
                Verdicts {
                    may_be_true: none,
                    may_be_false: has_value,
                }
            }
        }
        Node::IsNull { column, negated } => {
            let has_value = values_possible(column, stats, n);
            let has_null = match bounds(column, stats) {
                Some(column) => column.may_have_null.clone(),
                None => vec![true; n],
            };
            if *negated {
                Verdicts {
                    may_be_true: has_value,
                    may_be_false: has_null,
                }
            } else {
                Verdicts {
                    may_be_true: has_null,
                    may_be_false: has_value,
                }
            }
        }
        Node::Like {
            column,
            pattern,
            negated,
        } => {
            let has_value = values_possible(column, stats, n);
            let in_prefix_range = match (bounds(column, stats), literal_prefix(pattern)) {
                (Some(bounds), Some(prefix)) if !*negated => prefix_may_match(bounds, &prefix)?,
                _ => vec![true; n],
            };
            Verdicts {
                may_be_true: and(&has_value, &in_prefix_range),
                may_be_false: has_value,
            }
        }
        Node::All(operands) => {
            let mut result = Verdicts::uniform(n, true, false);
            for operand in operands {
                let v = verdicts(operand, stats)?;
                result.may_be_true = and(&result.may_be_true, &v.may_be_true);
                result.may_be_false = or(&result.may_be_false, &v.may_be_false);
            }
            result
        }
        Node::Any(operands) => {
            let mut result = Verdicts::uniform(n, false, true);
            for operand in operands {
                let v = verdicts(operand, stats)?;
                result.may_be_true = or(&result.may_be_true, &v.may_be_true);
                result.may_be_false = and(&result.may_be_false, &v.may_be_false);
            }
            result
        }
        Node::Not(inner) => {
            let v = verdicts(inner, stats)?;
            Verdicts {
                may_be_true: v.may_be_false,
                may_be_false: v.may_be_true,
            }
        }
        Node::Kernel(kernel) => verdicts(&kernel.bound, stats)?,
        Node::ListContains { .. } => Verdicts::uniform(n, true, true),
    })
}

fn column_name(operand: &Operand) -> Option<&str> {
    match operand {
        Operand::Column { name, .. } => Some(name),
        // a length is not bounded by its column's statistics
        Operand::Length { .. } | Operand::Scalar(_) => None,
    }
}

fn bounds<'a>(operand: &Operand, stats: &'a dyn ContainerStats) -> Option<&'a ColumnBounds> {
    stats.column(column_name(operand)?)
}

fn values_possible(operand: &Operand, stats: &dyn ContainerStats, n: usize) -> Vec<bool> {
    match bounds(operand, stats) {
        Some(column) => column.may_have_value.clone(),
        None => vec![true; n],
    }
}

fn and(a: &[bool], b: &[bool]) -> Vec<bool> {
    a.iter().zip(b).map(|(x, y)| *x && *y).collect()
}

fn or(a: &[bool], b: &[bool]) -> Vec<bool> {
    a.iter().zip(b).map(|(x, y)| *x || *y).collect()
}

/// `column op value` on the bounds: the non-NULL values lie in `[min, max]`,
/// plus NaN where the container may hold one.
fn compare(
    column: &Operand,
    op: CompareOp,
    value: &ArrayRef,
    stats: &dyn ContainerStats,
) -> Result<Verdicts> {
    let n = stats.containers();
    let membership = match (op, column_name(column)) {
        (CompareOp::Eq, Some(name)) => stats.may_contain(name, value),
        (CompareOp::NotEq, Some(name)) => stats.may_contain_other(name, value),
        _ => None,
    };
    let Some(bounds) = bounds(column, stats) else {
        let mut verdicts = Verdicts::uniform(n, true, true);
        if let Some(membership) = membership {
            verdicts.may_be_true = membership;
        }
        return Ok(verdicts);
    };
    let Operand::Column {
        cast,
        canonical_float,
        ..
    } = column
    else {
        return Err(Error::Internal(
            "a constant used where a column is needed".into(),
        ));
    };
    let min = comparable_bound(&bounds.min, cast.as_ref(), *canonical_float)?;
    let max = comparable_bound(&bounds.max, cast.as_ref(), *canonical_float)?;
    let value = Scalar::new(Arc::clone(value));
    // Each test answers "may": an unknown bound (NULL) counts as true.
    let test = |array: BooleanArray| -> Vec<bool> {
        array
            .iter()
            .map(|verdict| verdict.unwrap_or(true))
            .collect()
    };
    let min_lt = || -> Result<Vec<bool>> { Ok(test(cmp::lt(&min, &value)?)) };
    let min_le = || -> Result<Vec<bool>> { Ok(test(cmp::lt_eq(&min, &value)?)) };
    let max_gt = || -> Result<Vec<bool>> { Ok(test(cmp::gt(&max, &value)?)) };
    let max_ge = || -> Result<Vec<bool>> { Ok(test(cmp::gt_eq(&max, &value)?)) };
    let not_all_equal = || -> Result<Vec<bool>> {
        Ok(or(
            &test(cmp::neq(&min, &value)?),
            &test(cmp::neq(&max, &value)?),
        ))
    };
    let (mut may_be_true, mut may_be_false) = match op {
        CompareOp::Lt => (min_lt()?, max_ge()?),
        CompareOp::LtEq => (min_le()?, max_gt()?),
        CompareOp::Gt => (max_gt()?, min_le()?),
        CompareOp::GtEq => (max_ge()?, min_lt()?),
        CompareOp::Eq => (and(&min_le()?, &max_ge()?), not_all_equal()?),
        CompareOp::NotEq => (not_all_equal()?, and(&min_le()?, &max_ge()?)),
    };
    // NaN is not in the bounds; SQL orders it above every number and equal
    // to itself.
    if bounds.min.data_type().is_floating() {
        let value_is_nan = value_is_nan(value.into_inner().as_ref());
        let nan_holds = op.holds(if value_is_nan {
            std::cmp::Ordering::Equal
        } else {
            std::cmp::Ordering::Greater
        });
        for i in 0..n {
            if bounds.may_have_nan[i] {
                may_be_true[i] |= nan_holds;
                may_be_false[i] |= !nan_holds;
            }
        }
    }
    if let Some(membership) = membership {
        may_be_true = and(&may_be_true, &membership);
    }
    Ok(Verdicts {
        may_be_true: and(&may_be_true, &bounds.may_have_value),
        may_be_false: and(&may_be_false, &bounds.may_have_value),
    })
}

impl BoundPredicate {
    /// Every `column = constant` the predicate tests, anywhere in it: the
    /// values a set-membership structure can be asked about.
    pub fn equalities(&self) -> Vec<(&str, &ArrayRef)> {
        self.comparisons_with(&[CompareOp::Eq])
    }

    /// Every `column = constant` and `column <> constant`.
    pub fn equalities_and_inequalities(&self) -> Vec<(&str, &ArrayRef)> {
        self.comparisons_with(&[CompareOp::Eq, CompareOp::NotEq])
    }

    fn comparisons_with(&self, ops: &[CompareOp]) -> Vec<(&str, &ArrayRef)> {
        let mut found = Vec::new();
        let mut stack = vec![&self.root];
        while let Some(node) = stack.pop() {
            match node {
                Node::Compare {
                    left: Operand::Column { name, .. },
                    op,
                    right: Operand::Scalar(value),
                }
                | Node::Compare {
                    left: Operand::Scalar(value),
                    op,
                    right: Operand::Column { name, .. },
                } if ops.contains(op) => found.push((name.as_str(), value)),
                Node::All(operands) | Node::Any(operands) => stack.extend(operands),
                Node::Not(inner) => stack.push(inner),
                Node::Kernel(kernel) => stack.push(&kernel.bound),
                _ => {}
            }
        }
        found
    }
}

/// A bound converted like the column it bounds. A NaN bound (written by a
/// writer that orders NaN somewhere) bounds nothing SQL can use: unknown.
pub(super) fn comparable_bound(
    bound: &ArrayRef,
    cast: Option<&DataType>,
    canonical_float: bool,
) -> Result<ArrayRef> {
    let converted = convert(bound, cast, canonical_float)?;
    if !converted.data_type().is_floating() {
        return Ok(converted);
    }
    let floats = arrow_cast::cast(&converted, &DataType::Float64)?;
    let floats = floats.as_primitive::<arrow_array::types::Float64Type>();
    let cleaned: arrow_array::Float64Array = floats
        .iter()
        .map(|value| value.filter(|v| !v.is_nan()))
        .collect();
    Ok(arrow_cast::cast(&cleaned, converted.data_type())?)
}

fn value_is_nan(value: &dyn Array) -> bool {
    match arrow_cast::cast(value, &DataType::Float64) {
        Ok(floats) => {
            let floats = floats.as_primitive::<arrow_array::types::Float64Type>();
            floats.is_valid(0) && floats.value(0).is_nan()
        }
        Err(_) => false,
    }
}

/// The fixed start of a LIKE pattern (in Arrow's syntax, where a backslash
/// escapes): every matching string begins with it. `None` if it is empty.
fn literal_prefix(pattern: &str) -> Option<String> {
    let mut prefix = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' | '_' => break,
            '\\' => match chars.next() {
                Some(escaped) => prefix.push(escaped),
                None => break,
            },
            other => prefix.push(other),
        }
    }
    (!prefix.is_empty()).then_some(prefix)
}

/// Whether a string starting with `prefix` may lie in each container's
/// bounds: `max >= prefix` and `min < ` the first string after every string
/// that starts with `prefix` (compared as bytes, as SQL compares strings).
fn prefix_may_match(bounds: &ColumnBounds, prefix: &str) -> Result<Vec<bool>> {
    let min = arrow_cast::cast(&bounds.min, &DataType::Utf8)?;
    let max = arrow_cast::cast(&bounds.max, &DataType::Utf8)?;
    let (min, max) = (min.as_string::<i32>(), max.as_string::<i32>());
    let prefix = prefix.as_bytes();
    Ok((0..bounds.may_have_value.len())
        .map(|i| {
            let max_reaches = !max.is_valid(i) || max.value(i).as_bytes() >= prefix;
            let min_below_end = !min.is_valid(i) || {
                let min = min.value(i).as_bytes();
                min < prefix || min.starts_with(prefix)
            };
            max_reaches && min_below_end
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{bind, parse_where};
    use arrow_array::{Float64Array, Int32Array, StringArray};
    use arrow_schema::{Field, Schema};
    use std::collections::HashMap;

    struct Stats {
        containers: usize,
        columns: HashMap<String, ColumnBounds>,
    }

    impl ContainerStats for Stats {
        fn containers(&self) -> usize {
            self.containers
        }
        fn column(&self, name: &str) -> Option<&ColumnBounds> {
            self.columns.get(name)
        }
    }

    fn bounds_of(min: ArrayRef, max: ArrayRef, nulls: &[bool], nans: &[bool]) -> ColumnBounds {
        ColumnBounds {
            may_have_value: vec![true; min.len()],
            may_have_null: nulls.to_vec(),
            may_have_nan: nans.to_vec(),
            distinct_count: vec![None; min.len()],
            min,
            max,
        }
    }

    /// Containers: [1, 10], [20, 30], unknown, all NULL (ints `i`);
    /// [-5, 0.0] with NaN, [1, 2], [-0.0, -0.0], unknown (floats `f`);
    /// ["apple", "apricot"], ["b", "c"], unknown, ["", "a"] (strings `s`).
    fn stats() -> Stats {
        let mut ints = bounds_of(
            Arc::new(Int32Array::from(vec![Some(1), Some(20), None, None])),
            Arc::new(Int32Array::from(vec![Some(10), Some(30), None, None])),
            &[false, true, true, true],
            &[false; 4],
        );
        ints.may_have_value[3] = false;
        let floats = bounds_of(
            Arc::new(Float64Array::from(vec![
                Some(-5.0),
                Some(1.0),
                Some(-0.0),
                None,
            ])),
            Arc::new(Float64Array::from(vec![
                Some(0.0),
                Some(2.0),
                Some(-0.0),
                None,
            ])),
            &[false; 4],
            &[true, false, false, true],
        );
        let strings = bounds_of(
            Arc::new(StringArray::from(vec![
                Some("apple"),
                Some("b"),
                None,
                Some(""),
            ])),
            Arc::new(StringArray::from(vec![
                Some("apricot"),
                Some("c"),
                None,
                Some("a"),
            ])),
            &[false; 4],
            &[false; 4],
        );
        Stats {
            containers: 4,
            columns: HashMap::from([
                ("i".to_string(), ints),
                ("f".to_string(), floats),
                ("s".to_string(), strings),
            ]),
        }
    }

    fn may_match(clause: &str) -> Vec<bool> {
        let schema = Schema::new(vec![
            Field::new("i", DataType::Int32, true),
            Field::new("f", DataType::Float64, true),
            Field::new("s", DataType::Utf8, true),
        ]);
        let predicate = bind(&parse_where(clause).unwrap(), &schema).unwrap();
        predicate.may_match(&stats()).unwrap()
    }

    const T: bool = true;
    const F: bool = false;

    #[test]
    fn ranges_prune_only_what_cannot_match() {
        assert_eq!(may_match("i = 10"), [T, F, T, F]);
        assert_eq!(may_match("i > 10"), [F, T, T, F]);
        assert_eq!(may_match("i >= 10"), [T, T, T, F]);
        assert_eq!(may_match("i < 20"), [T, F, T, F]);
        assert_eq!(may_match("i BETWEEN 11 AND 19"), [F, F, T, F]);
        assert_eq!(may_match("i IN (5, 25)"), [T, T, T, F]);
        assert_eq!(may_match("i IN (15, 35)"), [F, F, T, F]);
        assert_eq!(may_match("i < 2.5"), [T, F, T, F]);
    }

    #[test]
    fn negation_uses_the_may_be_false_verdict() {
        assert_eq!(may_match("NOT (i > 5)"), [T, F, T, F]);
        assert_eq!(may_match("NOT (i >= 1 AND i <= 10)"), [F, T, T, F]);
        assert_eq!(may_match("i NOT IN (1, 2)"), [T, T, T, F]);
        assert_eq!(may_match("i IS NULL"), [F, T, T, T]);
        assert_eq!(may_match("i IS NOT NULL"), [T, T, T, F]);
        assert_eq!(may_match("NOT (i IS NULL)"), [T, T, T, F]);
    }

    #[test]
    fn nan_and_signed_zero_follow_sql() {
        // NaN is above every number: `f > 100` may hold where NaN may be.
        assert_eq!(may_match("f > 100"), [T, F, F, T]);
        assert_eq!(may_match("f = 0"), [T, F, T, T]);
        assert_eq!(may_match("f < -0.0"), [T, F, F, T]);
        assert_eq!(may_match("f <> 1e300"), [T, T, T, T]);
    }

    #[test]
    fn like_prunes_by_its_prefix() {
        assert_eq!(may_match("s LIKE 'apr%'"), [T, F, T, F]);
        assert_eq!(may_match("s LIKE 'b_'"), [F, T, T, F]);
        assert_eq!(may_match("s LIKE '%x'"), [T, T, T, T]);
        assert_eq!(may_match("s NOT LIKE 'a%'"), [T, T, T, T]);
        // Without a wildcard the prefix is the whole pattern: still only a bound.
        assert_eq!(may_match("s LIKE 'a'"), [T, F, T, T]);
    }

    #[test]
    fn or_keeps_a_container_any_operand_keeps() {
        assert_eq!(may_match("i = 25 OR s = 'a'"), [F, T, T, T]);
        assert_eq!(may_match("i = 25 AND s = 'a'"), [F, F, T, F]);
    }
}
