//! Selectivity: the expected fraction of a container's rows that satisfy a
//! predicate, estimated from the statistics that pruning reads (see
//! [`super::prune`]), for planning estimates only.
//!
//! The model is the textbook one. Values are spread uniformly between a
//! container's bounds; comparisons of one column against constants
//! (`x >= 3 AND x < 7`, BETWEEN) cover the part of `[min, max]` their
//! interval covers, counted in steps of the type (1 for integers and dates,
//! `10^-scale` for decimals, continuous for floats); an equality matches
//! one value in `distinct count` where the statistics give it, else one
//! step of the range. Operands on different columns are independent: AND
//! multiplies, OR is `1 - (1-a)(1-b)`, NOT is `1 - s`. What the statistics
//! cannot bound (strings, LIKE, IS NULL, two columns) gets a fixed guess.
//! NULLs are ignored, except that an all-NULL container matches nothing.
//! A container that pruning rules out has selectivity 0.

use super::bind::{Node, Operand};
use super::prune::{ColumnBounds, ContainerStats, comparable_bound};
use super::{BoundPredicate, CompareOp};
use crate::error::Result;
use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;

/// An equality whose statistics bound nothing (strings without a distinct
/// count, unknown bounds).
const EQUALITY_GUESS: f64 = 0.01;
/// A range comparison whose statistics bound nothing.
const RANGE_GUESS: f64 = 1.0 / 3.0;
/// LIKE, IS NULL, `list_contains` and comparisons of two columns.
const OTHER_GUESS: f64 = 0.1;
/// A boolean column that holds both values.
const BOOLEAN_GUESS: f64 = 0.5;

impl BoundPredicate {
    /// For each container, the expected fraction of its rows that satisfy
    /// the predicate, in `[0, 1]` (see the module documentation).
    pub fn selectivity(&self, stats: &dyn ContainerStats) -> Result<Vec<f64>> {
        let estimate = selectivity(&self.root, stats)?;
        let possible = self.may_match(stats)?;
        Ok(estimate
            .into_iter()
            .zip(possible)
            .map(|(s, possible)| if possible { s.clamp(0.0, 1.0) } else { 0.0 })
            .collect())
    }

    /// For each container, whether set-membership structures (bloom filters,
    /// dictionaries) report the values that the predicate's equalities need,
    /// so that some row there is taken to match: `column = constant` where
    /// [`ContainerStats::holds`] says so, combined through AND, OR and `IN`.
    /// Anything else counts as not known.
    pub fn known_to_match(&self, stats: &dyn ContainerStats) -> Vec<bool> {
        known(&self.root, stats)
    }
}

fn known(node: &Node, stats: &dyn ContainerStats) -> Vec<bool> {
    let n = stats.containers();
    match node {
        Node::Compare {
            left,
            op: CompareOp::Eq,
            right,
        } => comparison(left, CompareOp::Eq, right)
            .and_then(|compare| stats.holds(compare.name, compare.value))
            .unwrap_or_else(|| vec![false; n]),
        Node::Kernel(kernel) => known(&kernel.bound, stats),
        Node::All(operands) => operands.iter().fold(vec![true; n], |all, operand| {
            let held = known(operand, stats);
            all.iter().zip(held).map(|(a, b)| *a && b).collect()
        }),
        Node::Any(operands) => operands.iter().fold(vec![false; n], |any, operand| {
            let held = known(operand, stats);
            any.iter().zip(held).map(|(a, b)| *a || b).collect()
        }),
        _ => vec![false; n],
    }
}

fn selectivity(node: &Node, stats: &dyn ContainerStats) -> Result<Vec<f64>> {
    let n = stats.containers();
    Ok(match node {
        Node::Const(value) => vec![if *value == Some(true) { 1.0 } else { 0.0 }; n],
        Node::BoolColumn(_) => vec![BOOLEAN_GUESS; n],
        Node::Compare { left, op, right } => match comparison(left, *op, right) {
            Some(compare) => interval(stats, &[compare])?,
            None if *op == CompareOp::Eq => vec![EQUALITY_GUESS; n],
            None => vec![RANGE_GUESS; n],
        },
        Node::UnlessNull { value, .. } => vec![if *value { 1.0 } else { 0.0 }; n],
        Node::IsNull { negated, .. } | Node::Like { negated, .. } => {
            let s = if *negated {
                1.0 - OTHER_GUESS
            } else {
                OTHER_GUESS
            };
            vec![s; n]
        }
        Node::ListContains { .. } => vec![OTHER_GUESS; n],
        Node::Kernel(kernel) => selectivity(&kernel.bound, stats)?,
        Node::Not(inner) => selectivity(inner, stats)?
            .into_iter()
            .map(|s| 1.0 - s)
            .collect(),
        Node::Any(operands) => {
            let mut none = vec![1.0; n];
            for operand in operands {
                let s = selectivity(operand, stats)?;
                none.iter_mut()
                    .zip(s)
                    .for_each(|(none, s)| *none *= 1.0 - s);
            }
            none.into_iter().map(|none| 1.0 - none).collect()
        }
        Node::All(operands) => {
            // Comparisons of one column with constants bound one interval
            // together; everything else multiplies as independent.
            let mut intervals: Vec<Vec<Comparison>> = Vec::new();
            let mut all = vec![1.0; n];
            for operand in operands {
                let operand = match operand {
                    Node::Kernel(kernel) => &kernel.bound,
                    other => other,
                };
                let compare = match operand {
                    Node::Compare { left, op, right } if *op != CompareOp::NotEq => {
                        comparison(left, *op, right)
                    }
                    _ => None,
                };
                match compare {
                    Some(compare) => {
                        match intervals.iter_mut().find(|group| group[0].joins(&compare)) {
                            Some(group) => group.push(compare),
                            None => intervals.push(vec![compare]),
                        }
                    }
                    None => multiply(&mut all, selectivity(operand, stats)?),
                }
            }
            for group in &intervals {
                multiply(&mut all, interval(stats, group)?);
            }
            all
        }
    })
}

fn multiply(all: &mut [f64], by: Vec<f64>) {
    all.iter_mut().zip(by).for_each(|(all, s)| *all *= s);
}

/// `column op value`, with the column on the left.
struct Comparison<'a> {
    name: &'a str,
    cast: Option<&'a DataType>,
    canonical_float: bool,
    op: CompareOp,
    value: &'a ArrayRef,
}

impl Comparison<'_> {
    /// Whether both compare the same column the same way, so that their
    /// values are of one type.
    fn joins(&self, other: &Comparison) -> bool {
        self.name == other.name
            && self.cast == other.cast
            && self.canonical_float == other.canonical_float
            && self.value.data_type() == other.value.data_type()
    }
}

fn comparison<'a>(left: &'a Operand, op: CompareOp, right: &'a Operand) -> Option<Comparison<'a>> {
    let (column, op, value) = match (left, right) {
        (column, Operand::Scalar(value)) => (column, op, value),
        (Operand::Scalar(value), column) => (column, op.flipped(), value),
        _ => return None,
    };
    let Operand::Column {
        name,
        cast,
        canonical_float,
    } = column
    else {
        return None;
    };
    Some(Comparison {
        name,
        cast: cast.as_ref(),
        canonical_float: *canonical_float,
        op,
        value,
    })
}

/// The fraction of rows inside the interval that `comparisons` (of one
/// column, all but `<>`, or a single `<>`) bound together.
fn interval(stats: &dyn ContainerStats, comparisons: &[Comparison]) -> Result<Vec<f64>> {
    let n = stats.containers();
    let first = &comparisons[0];
    let guess = if comparisons.iter().all(|c| c.op == CompareOp::Eq) {
        EQUALITY_GUESS
    } else if comparisons.iter().all(|c| c.op == CompareOp::NotEq) {
        1.0 - EQUALITY_GUESS
    } else {
        RANGE_GUESS
    };
    let Some(bounds) = stats.column(first.name) else {
        return Ok(vec![guess; n]);
    };
    let min = comparable_bound(&bounds.min, first.cast, first.canonical_float)?;
    let max = comparable_bound(&bounds.max, first.cast, first.canonical_float)?;
    let (Some(min), Some(max), Some(unit)) = (numbers(&min), numbers(&max), step(min.data_type()))
    else {
        return Ok(strings(bounds, comparisons, guess));
    };
    let mut values = Vec::with_capacity(comparisons.len());
    for compare in comparisons {
        match numbers(compare.value).and_then(|v| v[0]) {
            Some(value) if !value.is_nan() => values.push((compare.op, value)),
            _ => return Ok(vec![guess; n]),
        }
    }
    Ok((0..n)
        .map(|i| match (min[i], max[i]) {
            _ if !bounds.may_have_value[i] => 0.0,
            (Some(lo), Some(hi)) if lo <= hi => {
                let spread = Spread {
                    lo,
                    hi,
                    unit,
                    distinct: distinct(bounds, i),
                };
                let fraction = spread.fraction(&values);
                if fraction.is_finite() {
                    fraction
                } else {
                    guess
                }
            }
            _ => guess,
        })
        .collect())
}

/// Comparisons whose bounds are not numbers: only an equality with a
/// distinct count, or a container of one value, is better than a guess.
fn strings(bounds: &ColumnBounds, comparisons: &[Comparison], guess: f64) -> Vec<f64> {
    (0..bounds.may_have_value.len())
        .map(|i| match (comparisons, distinct(bounds, i)) {
            (_, _) if !bounds.may_have_value[i] => 0.0,
            (_, Some(1)) => 1.0,
            ([single], Some(count)) if single.op == CompareOp::Eq => 1.0 / count as f64,
            ([single], Some(count)) if single.op == CompareOp::NotEq => 1.0 - 1.0 / count as f64,
            _ => guess,
        })
        .collect()
}

fn distinct(bounds: &ColumnBounds, i: usize) -> Option<u64> {
    bounds
        .distinct_count
        .get(i)
        .copied()
        .flatten()
        .filter(|&d| d > 0)
}

/// The values of a numeric or temporal array as `f64` (`None` for other
/// types).
fn numbers(array: &ArrayRef) -> Option<Vec<Option<f64>>> {
    let data_type = array.data_type();
    let numeric = if data_type.is_temporal() {
        arrow_cast::cast(array, &DataType::Int64).ok()?
    } else if data_type.is_numeric() {
        std::sync::Arc::clone(array)
    } else {
        return None;
    };
    let floats = arrow_cast::cast(&numeric, &DataType::Float64).ok()?;
    Some(floats.as_primitive::<Float64Type>().iter().collect())
}

/// The distance between two neighbouring values of a type, in the units
/// [`numbers`] gives (0 for floating point: continuous).
fn step(data_type: &DataType) -> Option<f64> {
    Some(match data_type {
        DataType::Float16 | DataType::Float32 | DataType::Float64 => 0.0,
        DataType::Decimal32(_, scale)
        | DataType::Decimal64(_, scale)
        | DataType::Decimal128(_, scale)
        | DataType::Decimal256(_, scale) => 10f64.powi(-i32::from(*scale)),
        DataType::Date64 => 86_400_000.0,
        other if other.is_integer() || other.is_temporal() => 1.0,
        _ => return None,
    })
}

/// An end of an interval: its value, and whether the interval includes it.
type End = (f64, bool);

/// Values spread uniformly over `[lo, hi]` in steps of `unit`.
struct Spread {
    lo: f64,
    hi: f64,
    unit: f64,
    distinct: Option<u64>,
}

impl Spread {
    /// The fraction of values that satisfy every `(op, value)`.
    fn fraction(&self, comparisons: &[(CompareOp, f64)]) -> f64 {
        if comparisons.len() == 1 && comparisons[0].0 == CompareOp::NotEq {
            return 1.0 - self.fraction(&[(CompareOp::Eq, comparisons[0].1)]);
        }
        // The interval's ends; none is unbounded.
        let (mut low, mut high): (Option<End>, Option<End>) = (None, None);
        let tighter_low = |low: Option<End>, end: End| match low {
            Some(old) if old.0 > end.0 || (old.0 == end.0 && !old.1) => old,
            _ => end,
        };
        let tighter_high = |high: Option<End>, end: End| match high {
            Some(old) if old.0 < end.0 || (old.0 == end.0 && !old.1) => old,
            _ => end,
        };
        for &(op, value) in comparisons {
            match op {
                CompareOp::Lt => high = Some(tighter_high(high, (value, false))),
                CompareOp::LtEq => high = Some(tighter_high(high, (value, true))),
                CompareOp::Gt => low = Some(tighter_low(low, (value, false))),
                CompareOp::GtEq => low = Some(tighter_low(low, (value, true))),
                CompareOp::Eq => {
                    low = Some(tighter_low(low, (value, true)));
                    high = Some(tighter_high(high, (value, true)));
                }
                CompareOp::NotEq => {}
            }
        }
        let above_low = match low {
            None => 0.0,
            Some((value, true)) => self.below(value),
            Some((value, false)) => self.below(value) + self.equal(value),
        };
        let below_high = match high {
            None => 1.0,
            Some((value, true)) => self.below(value) + self.equal(value),
            Some((value, false)) => self.below(value),
        };
        (below_high - above_low).clamp(0.0, 1.0)
    }

    /// The fraction of values below `value`.
    fn below(&self, value: f64) -> f64 {
        if value <= self.lo {
            return 0.0;
        }
        if value > self.hi {
            return 1.0;
        }
        let width = self.hi - self.lo + self.unit;
        if width <= 0.0 {
            return 0.0;
        }
        // The values below `value` less any that `equal` counts for it.
        ((value - self.lo) / width).min(1.0 - self.equal(value))
    }

    /// The fraction of values equal to `value`.
    fn equal(&self, value: f64) -> f64 {
        if value < self.lo || value > self.hi {
            return 0.0;
        }
        if self.lo == self.hi {
            return 1.0;
        }
        match self.distinct {
            Some(count) => 1.0 / count as f64,
            None if self.unit > 0.0 => self.unit / (self.hi - self.lo + self.unit),
            None => EQUALITY_GUESS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{bind, parse_where};
    use arrow_array::{Date32Array, Decimal128Array, Float64Array, Int64Array, StringArray};
    use arrow_schema::{Field, Schema};
    use std::collections::HashMap;
    use std::sync::Arc;

    struct Stats(HashMap<String, ColumnBounds>);

    impl ContainerStats for Stats {
        fn containers(&self) -> usize {
            1
        }
        fn column(&self, name: &str) -> Option<&ColumnBounds> {
            self.0.get(name)
        }
    }

    fn bounds(min: ArrayRef, max: ArrayRef, distinct: Option<u64>) -> ColumnBounds {
        ColumnBounds {
            min,
            max,
            may_have_null: vec![false],
            may_have_value: vec![true],
            may_have_nan: vec![false],
            distinct_count: vec![distinct],
        }
    }

    /// One container: `i` in [1, 100], `d` (decimal(4,2)) in [0.00, 0.10],
    /// `f` in [0, 10], `day` in [2000-01-01, +99 days], `s` in ["a", "z"]
    /// with 5 distinct values; `u` has no statistics.
    fn estimate(clause: &str) -> f64 {
        let schema = Schema::new(vec![
            Field::new("i", DataType::Int64, true),
            Field::new("d", DataType::Decimal128(4, 2), true),
            Field::new("f", DataType::Float64, true),
            Field::new("day", DataType::Date32, true),
            Field::new("s", DataType::Utf8, true),
            Field::new("u", DataType::Int64, true),
        ]);
        let decimal = |v: i128| -> ArrayRef {
            Arc::new(
                Decimal128Array::from(vec![v])
                    .with_precision_and_scale(4, 2)
                    .unwrap(),
            )
        };
        let stats = Stats(HashMap::from([
            (
                "i".to_string(),
                bounds(
                    Arc::new(Int64Array::from(vec![1])),
                    Arc::new(Int64Array::from(vec![100])),
                    None,
                ),
            ),
            ("d".to_string(), bounds(decimal(0), decimal(10), None)),
            (
                "f".to_string(),
                bounds(
                    Arc::new(Float64Array::from(vec![0.0])),
                    Arc::new(Float64Array::from(vec![10.0])),
                    None,
                ),
            ),
            (
                "day".to_string(),
                bounds(
                    Arc::new(Date32Array::from(vec![10957])),
                    Arc::new(Date32Array::from(vec![11056])),
                    None,
                ),
            ),
            (
                "s".to_string(),
                bounds(
                    Arc::new(StringArray::from(vec!["a"])),
                    Arc::new(StringArray::from(vec!["z"])),
                    Some(5),
                ),
            ),
        ]));
        let predicate = bind(&parse_where(clause).unwrap(), &schema).unwrap();
        predicate.selectivity(&stats).unwrap()[0]
    }

    fn close(clause: &str, expected: f64) {
        let got = estimate(clause);
        assert!(
            (got - expected).abs() < 1e-9,
            "{clause}: {got} != {expected}"
        );
    }

    #[test]
    fn ranges_cover_their_part_of_the_bounds() {
        close("i < 11", 0.1);
        close("i <= 10", 0.1);
        close("i > 90", 0.1);
        close("i >= 91", 0.1);
        close("i BETWEEN 11 AND 20", 0.1);
        close("i >= 11 AND i < 21", 0.1);
        close("i < 0", 0.0);
        close("i >= 1", 1.0);
        close("f < 2.5", 0.25);
        close("day BETWEEN DATE '2000-01-01' AND DATE '2000-01-10'", 0.1);
        // 0.05 .. 0.10 is 6 of the 11 values 0.00 .. 0.10
        close("d >= 0.05", 6.0 / 11.0);
    }

    #[test]
    fn equalities_match_one_value() {
        close("i = 50", 0.01);
        close("i = 500", 0.0);
        close("i <> 50", 0.99);
        close("i IN (1, 2)", 1.0 - 0.99 * 0.99);
        close("s = 'm'", 0.2);
        close("s <> 'm'", 0.8);
        close("u = 3", EQUALITY_GUESS);
    }

    #[test]
    fn operators_combine_as_independent() {
        close("i <= 50 AND f < 5", 0.25);
        close("i <= 50 OR f < 5", 0.75);
        close("NOT (i <= 50)", 0.5);
        close("i NOT BETWEEN 11 AND 20", 0.9);
        close("s LIKE 'a%'", OTHER_GUESS);
        close("s NOT LIKE 'a%'", 1.0 - OTHER_GUESS);
        close("u < 3", RANGE_GUESS);
    }

    /// Two containers; membership structures report every `i` value held
    /// in the first, nothing about the second or about other columns.
    struct Held;

    impl ContainerStats for Held {
        fn containers(&self) -> usize {
            2
        }
        fn column(&self, _name: &str) -> Option<&ColumnBounds> {
            None
        }
        fn holds(&self, name: &str, _value: &ArrayRef) -> Option<Vec<bool>> {
            (name == "i").then(|| vec![true, false])
        }
    }

    #[test]
    fn only_reported_equalities_make_a_match_known() {
        let schema = Schema::new(vec![
            Field::new("i", DataType::Int64, true),
            Field::new("j", DataType::Int64, true),
        ]);
        let known = |clause: &str| {
            bind(&parse_where(clause).unwrap(), &schema)
                .unwrap()
                .known_to_match(&Held)
        };
        assert_eq!(known("i = 5"), [true, false]);
        assert_eq!(known("i IN (5, 6)"), [true, false]);
        assert_eq!(known("i = 5 OR j = 1"), [true, false]);
        assert_eq!(known("i = 5 AND j = 1"), [false, false]);
        assert_eq!(known("i > 5"), [false, false]);
        assert_eq!(known("NOT (i = 5)"), [false, false]);
    }
}
