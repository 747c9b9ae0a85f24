//! Evaluating a [`BoundPredicate`] on a record batch with Arrow's kernels and
//! SQL's three-valued logic.

use super::bind::{ELEMENT, Node, Operand, canonical};
use super::lower::KernelNode;
use super::{BoundPredicate, CompareOp};
use crate::columns::column_in;
use crate::error::{Error, Result};
use crate::kernels::Compute;
use crate::kernels::cpu::RawColumn;
use crate::kernels::keys::Width;
use crate::kernels::tier::KernelCall;
use arrow_arith::boolean::{and_kleene, is_not_null, is_null, not, or_kleene};
use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef, BooleanArray, Datum, Int64Array, RecordBatch, Scalar};
use arrow_buffer::BooleanBuffer;
use arrow_ord::cmp;
use arrow_schema::DataType;
use std::ops::Range;
use std::sync::Arc;

impl BoundPredicate {
    /// Evaluates the predicate on every row of `batch`, which must hold the
    /// columns of [`BoundPredicate::columns`], with this build's CPU tier.
    /// NULL means "unknown".
    pub fn evaluate(&self, batch: &RecordBatch) -> Result<BooleanArray> {
        self.evaluate_on(batch, &mut Compute::cpu())
    }

    /// Like [`BoundPredicate::evaluate`], running kernels on the tiers
    /// `compute` chooses (and recording them there).
    pub fn evaluate_on(&self, batch: &RecordBatch, compute: &mut Compute) -> Result<BooleanArray> {
        evaluate(
            &self.root,
            &mut Columns {
                batch,
                converted: Vec::new(),
                compute,
            },
        )
    }

    /// Like [`BoundPredicate::evaluate`], with NULL turned into false: the rows
    /// a WHERE clause keeps.
    pub fn select(&self, batch: &RecordBatch) -> Result<BooleanArray> {
        self.select_on(batch, &mut Compute::cpu())
    }

    /// Like [`BoundPredicate::select`], on the tiers `compute` chooses.
    pub fn select_on(&self, batch: &RecordBatch, compute: &mut Compute) -> Result<BooleanArray> {
        let verdict = self.evaluate_on(batch, compute)?;
        Ok(match verdict.nulls() {
            Some(nulls) => BooleanArray::new(verdict.values() & nulls.inner(), None),
            None => verdict,
        })
    }
}

/// Which conversion of which column: (name, cast, canonical float).
type ConversionKey<'a> = (&'a str, Option<&'a DataType>, bool);

/// The batch's columns, each converted to a comparison type at most once per
/// batch however many comparisons use it (an `IN` list of thousands), and the
/// kernel tiers.
struct Columns<'a, 'c> {
    batch: &'a RecordBatch,
    converted: Vec<(ConversionKey<'a>, ArrayRef)>,
    compute: &'c mut Compute,
}

fn evaluate<'a>(node: &'a Node, batch: &mut Columns<'a, '_>) -> Result<BooleanArray> {
    let rows = batch.batch.num_rows();
    Ok(match node {
        Node::Const(value) => BooleanArray::from(vec![*value; rows]),
        Node::BoolColumn(operand) => column(operand, batch)?.as_boolean().clone(),
        Node::Compare { left, op, right } => {
            let left = value(left, batch)?;
            let right = value(right, batch)?;
            let (left, right) = (left.as_ref(), right.as_ref());
            match op {
                CompareOp::Eq => cmp::eq(left, right)?,
                CompareOp::NotEq => cmp::neq(left, right)?,
                CompareOp::Lt => cmp::lt(left, right)?,
                CompareOp::LtEq => cmp::lt_eq(left, right)?,
                CompareOp::Gt => cmp::gt(left, right)?,
                CompareOp::GtEq => cmp::gt_eq(left, right)?,
            }
        }
        Node::UnlessNull {
            column: operand,
            value,
        } => {
            let array = column(operand, batch)?;
            let values = if *value {
                BooleanBuffer::new_set(rows)
            } else {
                BooleanBuffer::new_unset(rows)
            };
            BooleanArray::new(values, array.logical_nulls())
        }
        Node::IsNull {
            column: operand,
            negated,
        } => {
            let array = column(operand, batch)?;
            if *negated {
                is_not_null(&array)?
            } else {
                is_null(&array)?
            }
        }
        Node::Like {
            column: operand,
            pattern,
            negated,
        } => {
            let array = column(operand, batch)?;
            let pattern = Scalar::new(arrow_cast::cast(
                &arrow_array::StringArray::from(vec![pattern.as_str()]),
                array.data_type(),
            )?);
            if *negated {
                arrow_string::like::nlike(&array, &pattern)?
            } else {
                arrow_string::like::like(&array, &pattern)?
            }
        }
        Node::All(operands) => fold(operands, batch, true, and_kleene)?,
        Node::Any(operands) => fold(operands, batch, false, or_kleene)?,
        Node::Not(inner) => not(&evaluate(inner, batch)?)?,
        Node::Kernel(kernel) => run_kernel(kernel, batch)?,
        Node::ListContains { list, element } => {
            list_contains(&batch_column(batch, list)?, element, batch.compute)?
        }
    })
}

/// For each list of `array`, whether an element satisfies `element` (NULL
/// where the list is NULL).
fn list_contains(array: &ArrayRef, element: &Node, compute: &mut Compute) -> Result<BooleanArray> {
    let (values, ranges) = list_ranges(array)?;
    let field = arrow_schema::Field::new(ELEMENT, values.data_type().clone(), true);
    let elements = RecordBatch::try_new(
        Arc::new(arrow_schema::Schema::new(vec![field])),
        vec![values],
    )?;
    let matched = evaluate(
        element,
        &mut Columns {
            batch: &elements,
            converted: Vec::new(),
            compute,
        },
    )?;
    let found = |range: &Range<usize>| {
        range
            .clone()
            .any(|at| matched.is_valid(at) && matched.value(at))
    };
    let values: BooleanBuffer = ranges.iter().map(found).collect();
    Ok(BooleanArray::new(values, array.logical_nulls()))
}

/// The elements of the lists of `array`, and where each list's lie among them.
fn list_ranges(array: &ArrayRef) -> Result<(ArrayRef, Vec<Range<usize>>)> {
    fn between<O: Copy + TryInto<usize>>(offsets: &[O]) -> Vec<Range<usize>> {
        let at = |offset: O| offset.try_into().unwrap_or_default();
        offsets.windows(2).map(|w| at(w[0])..at(w[1])).collect()
    }
    Ok(match array.data_type() {
        DataType::List(_) => {
            let list = array.as_list::<i32>();
            (Arc::clone(list.values()), between(list.value_offsets()))
        }
        DataType::LargeList(_) => {
            let list = array.as_list::<i64>();
            (Arc::clone(list.values()), between(list.value_offsets()))
        }
        DataType::FixedSizeList(_, size) => {
            let list = array.as_fixed_size_list();
            let size = (*size).max(0) as usize;
            let start = |row: usize| (list.offset() + row) * size;
            let ranges = (0..list.len()).map(|row| start(row)..start(row + 1));
            (Arc::clone(list.values()), ranges.collect())
        }
        other => {
            return Err(Error::Internal(format!(
                "a list function on a column of type {other}"
            )));
        }
    })
}

/// The number of elements of each list, or characters of each string, of
/// `array`, as Int64 (NULL where the value is NULL).
fn lengths(array: &ArrayRef) -> Result<ArrayRef> {
    let counts: Int64Array = match array.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _) => {
            let strings = arrow_cast::cast(array, &DataType::Utf8)?;
            strings
                .as_string::<i32>()
                .iter()
                .map(|text| text.map(|text| text.chars().count() as i64))
                .collect()
        }
        _ => {
            let (_, ranges) = list_ranges(array)?;
            let counts = ranges.iter().map(|range| range.len() as i64).collect();
            Int64Array::new(counts, array.logical_nulls())
        }
    };
    Ok(Arc::new(counts))
}

/// The column `name` of the batch being filtered.
fn batch_column(columns: &Columns<'_, '_>, name: &str) -> Result<ArrayRef> {
    column_in(columns.batch, name)
        .ok_or_else(|| Error::Internal(format!("column {name:?} missing from the filter batch")))
}

/// A kernel node on its column: the selection bits (NULL rows cleared) with
/// the column's null mask.
fn run_kernel(kernel: &KernelNode, columns: &mut Columns<'_, '_>) -> Result<BooleanArray> {
    let array = column_in(columns.batch, &kernel.column)
        .filter(|array| *array.data_type() == kernel.data_type)
        .ok_or_else(|| {
            Error::Internal(format!(
                "column {:?} of type {} missing from the filter batch",
                kernel.column, kernel.data_type
            ))
        })?;
    let data = array.to_data();
    let column = match kernel.width {
        Width::W32 => RawColumn::W32(data.buffer::<u32>(0)),
        Width::W64 => RawColumn::W64(data.buffer::<u64>(0)),
    };
    let bits = columns.compute.run(&KernelCall {
        predicate: &kernel.sql,
        column_type: &kernel.data_type,
        column,
        encoding: kernel.encoding,
        set: &kernel.set,
        validity: array.nulls(),
    })?;
    Ok(BooleanArray::new(bits, array.nulls().cloned()))
}

/// Combines the operands with a three-valued `combine`, in a loop (a chain
/// of thousands of operands costs no stack); `empty` is the answer for none.
fn fold<'a>(
    operands: &'a [Node],
    batch: &mut Columns<'a, '_>,
    empty: bool,
    combine: fn(&BooleanArray, &BooleanArray) -> Result<BooleanArray, arrow_schema::ArrowError>,
) -> Result<BooleanArray> {
    let mut operands = operands.iter();
    let Some(first) = operands.next() else {
        return Ok(BooleanArray::from(vec![empty; batch.batch.num_rows()]));
    };
    let mut verdict = evaluate(first, batch)?;
    for operand in operands {
        verdict = combine(&verdict, &evaluate(operand, batch)?)?;
    }
    Ok(verdict)
}

/// An operand as a kernel input: a column array or a scalar.
fn value<'a>(operand: &'a Operand, batch: &mut Columns<'a, '_>) -> Result<Box<dyn Datum>> {
    Ok(match operand {
        Operand::Scalar(array) => Box::new(Scalar::new(Arc::clone(array))),
        Operand::Column { .. } | Operand::Length { .. } => Box::new(column(operand, batch)?),
    })
}

/// A column of the batch, cast to the comparison type and, for floats,
/// canonicalised so that Arrow's total order matches SQL's.
fn column<'a>(operand: &'a Operand, columns: &mut Columns<'a, '_>) -> Result<ArrayRef> {
    if let Operand::Length { name } = operand {
        return lengths(&batch_column(columns, name)?);
    }
    let Operand::Column {
        name,
        cast,
        canonical_float,
    } = operand
    else {
        return Err(Error::Internal(
            "a constant used where a column is needed".into(),
        ));
    };
    let array = batch_column(columns, name)?;
    if cast.is_none() && !*canonical_float {
        return Ok(array);
    }
    let key = (name.as_str(), cast.as_ref(), *canonical_float);
    if let Some((_, converted)) = columns.converted.iter().find(|(k, _)| *k == key) {
        return Ok(Arc::clone(converted));
    }
    let converted = convert(&array, cast.as_ref(), *canonical_float)?;
    columns.converted.push((key, Arc::clone(&converted)));
    Ok(converted)
}

/// A column cast to the comparison type and, for floats, canonicalised so
/// that Arrow's total order matches SQL's.
pub(super) fn convert(
    array: &ArrayRef,
    cast: Option<&DataType>,
    canonical_float: bool,
) -> Result<ArrayRef> {
    let array = match cast {
        Some(data_type) => arrow_cast::cast(array, data_type)?,
        None => Arc::clone(array),
    };
    if !canonical_float {
        return Ok(array);
    }
    let floats = arrow_cast::cast(&array, &DataType::Float64)?;
    let canonical: arrow_array::Float64Array =
        floats.as_primitive::<Float64Type>().unary(canonical);
    Ok(Arc::new(canonical))
}

#[cfg(test)]
mod tests {
    use crate::filter::{bind, parse_where};
    use arrow_array::{
        ArrayRef, BooleanArray, Decimal128Array, Float32Array, Int8Array, RecordBatch, StringArray,
        UInt64Array,
    };
    use std::sync::Arc;

    fn batch() -> RecordBatch {
        let columns: Vec<(&str, ArrayRef)> = vec![
            (
                "i",
                Arc::new(Int8Array::from(vec![
                    Some(-128),
                    Some(2),
                    Some(3),
                    None,
                    Some(127),
                ])),
            ),
            (
                "u",
                Arc::new(UInt64Array::from(vec![
                    Some(u64::MAX),
                    Some(0),
                    Some(1 << 63),
                    Some(5),
                    None,
                ])),
            ),
            (
                "d",
                Arc::new(
                    Decimal128Array::from(vec![Some(250), Some(-5), None, Some(100), Some(251)])
                        .with_precision_and_scale(9, 2)
                        .unwrap(),
                ),
            ),
            (
                "f",
                Arc::new(Float32Array::from(vec![
                    Some(f32::NAN),
                    Some(-0.0),
                    Some(0.1),
                    None,
                    Some(-f32::NAN),
                ])),
            ),
            (
                "s",
                Arc::new(StringArray::from(vec![
                    Some("apple"),
                    Some("ap"),
                    None,
                    Some("b%c"),
                    Some("a\\b"),
                ])),
            ),
        ];
        RecordBatch::try_from_iter(columns).unwrap()
    }

    fn rows(where_clause: &str) -> Vec<Option<bool>> {
        let batch = batch();
        let bound = bind(&parse_where(where_clause).unwrap(), &batch.schema()).unwrap();
        bound.evaluate(&batch).unwrap().iter().collect()
    }

    const T: Option<bool> = Some(true);
    const F: Option<bool> = Some(false);
    const N: Option<bool> = None;

    #[test]
    fn integer_columns_compare_exactly_with_any_number() {
        assert_eq!(rows("i < 2.5"), [T, T, F, N, F]);
        assert_eq!(rows("i = 2.5"), [F, F, F, N, F]);
        assert_eq!(rows("i < 1000"), [T, T, T, N, T]);
        assert_eq!(rows("i >= -129"), [T, T, T, N, T]);
        assert_eq!(rows("u > 9223372036854775807"), [T, F, T, F, N]);
        assert_eq!(rows("u = 18446744073709551615"), [T, F, F, F, N]);
        assert_eq!(rows("i = '3'"), [F, F, T, N, F]);
    }

    #[test]
    fn decimals_compare_exactly() {
        assert_eq!(rows("d = 2.5"), [T, F, N, F, F]);
        assert_eq!(rows("d > 2.505"), [F, F, N, F, T]);
        assert_eq!(rows("d <= 1"), [F, T, N, T, F]);
    }

    #[test]
    fn floats_order_nan_last_and_equal_zeroes() {
        assert_eq!(rows("f > 1e300"), [T, F, F, N, T]);
        assert_eq!(rows("f = 0"), [F, T, F, N, F]);
        assert_eq!(rows("f = f"), [T, T, T, N, T]);
        // An exact literal is cast to the f32 column's type; a DOUBLE is not.
        assert_eq!(rows("f = 0.1"), [F, F, T, N, F]);
        assert_eq!(rows("f = 1e-1"), [F, F, F, N, F]);
    }

    #[test]
    fn three_valued_logic_and_null_literals() {
        assert_eq!(rows("i = NULL"), [N, N, N, N, N]);
        assert_eq!(rows("NOT (i > 2)"), [T, T, F, N, F]);
        assert_eq!(rows("i IN (2, NULL)"), [N, T, N, N, N]);
        assert_eq!(rows("i NOT IN (2, NULL)"), [N, F, N, N, N]);
        assert_eq!(rows("i > 2 OR i IS NULL"), [F, F, T, T, T]);
        assert_eq!(rows("i BETWEEN 2 AND 3"), [F, T, T, N, F]);
    }

    #[test]
    fn like_has_no_escape_character() {
        assert_eq!(rows("s LIKE 'ap%'"), [T, T, N, F, F]);
        assert_eq!(rows("s LIKE 'b%c'"), [F, F, N, T, F]);
        assert_eq!(rows("s LIKE 'a\\b'"), [F, F, N, F, T]);
        assert_eq!(rows("s NOT LIKE '_p%'"), [F, F, N, T, T]);
    }

    #[test]
    fn long_in_lists_and_or_chains_evaluate_without_deep_recursion() {
        let list = (0..5_000)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        assert_eq!(rows(&format!("i IN ({list})")), [F, T, T, N, T]);
        let chain = (0..5_000)
            .map(|i| format!("i = {i}"))
            .collect::<Vec<_>>()
            .join(" OR ");
        assert_eq!(rows(&chain), [F, T, T, N, T]);
    }

    #[test]
    fn select_drops_unknown_rows() {
        let batch = batch();
        let bound = bind(&parse_where("i > 2").unwrap(), &batch.schema()).unwrap();
        assert_eq!(
            bound.select(&batch).unwrap(),
            BooleanArray::from(vec![false, false, true, false, true])
        );
    }

    #[test]
    fn binding_reports_typed_errors() {
        let schema = batch().schema();
        let error = |clause: &str| bind(&parse_where(clause).unwrap(), &schema).unwrap_err();
        assert!(matches!(
            error("nope = 1"),
            crate::error::Error::ColumnNotFound(_)
        ));
        assert!(matches!(
            error("i = 'abc'"),
            crate::error::Error::TypeMismatch(_)
        ));
        assert!(matches!(
            error("i LIKE 'a%'"),
            crate::error::Error::TypeMismatch(_)
        ));
        assert!(matches!(error("s"), crate::error::Error::TypeMismatch(_)));
    }
}
