//! Binding: resolving an [`Expr`] against a schema, before any data is read.
//!
//! Binding checks every column and type, and turns each comparison into one
//! that Arrow's kernels evaluate exactly: a literal is converted to the
//! column's own type, and where it cannot be represented there (a fraction
//! against an integer column, a value beyond the column's range) the operator
//! is rewritten so the answer stays exact, e.g. `int_col < 2.5` becomes
//! `int_col <= 2`, and `int8_col < 1000` becomes "TRUE unless NULL".

use super::decimal::Decimal;
use super::sql::{parse_date, parse_timestamp};
use super::{CompareOp, Expr, Literal};
use crate::columns::{field_of, find_path};
use crate::error::{Error, Result};
use arrow_array::{ArrayRef, Decimal128Array, Int64Array};
use arrow_schema::{DataType, FieldRef, Schema, TimeUnit};
use std::cmp::Ordering;
use std::sync::Arc;

const MICROS_PER_DAY: i128 = 86_400_000_000;

/// An expression bound to a schema, ready to evaluate on batches of it.
#[derive(Debug, Clone)]
pub struct BoundPredicate {
    pub(super) root: Node,
    columns: Vec<String>,
}

impl BoundPredicate {
    /// The file columns the predicate reads, by their exact names.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }
}

/// A bound boolean expression.
#[derive(Debug, Clone)]
pub(super) enum Node {
    /// The same value for every row.
    Const(Option<bool>),
    /// A boolean column used as the predicate.
    BoolColumn(Operand),
    /// `left op right`, both of one type.
    Compare {
        left: Operand,
        op: CompareOp,
        right: Operand,
    },
    /// `value` where the column is not NULL, NULL where it is.
    UnlessNull {
        column: Operand,
        value: bool,
    },
    /// `column IS [NOT] NULL`.
    IsNull {
        column: Operand,
        negated: bool,
    },
    /// `column [NOT] LIKE pattern` (pattern in Arrow's syntax).
    Like {
        column: Operand,
        pattern: String,
        negated: bool,
    },
    /// Three-valued AND of every operand (TRUE when there are none).
    All(Vec<Node>),
    /// Three-valued OR of every operand (FALSE when there are none).
    Any(Vec<Node>),
    Not(Box<Node>),
    /// Whether an element of the list column `list` satisfies `element`, a
    /// predicate bound to the list's elements as the one column
    /// [`ELEMENT`]; NULL where the list is NULL.
    ListContains {
        list: String,
        element: Box<Node>,
    },
    /// A predicate on one fixed-width column, run by a kernel tier.
    Kernel(Box<super::lower::KernelNode>),
}

/// A comparison operand, already of the type the comparison runs in.
#[derive(Debug, Clone)]
pub(super) enum Operand {
    /// A column of the batch, converted on the fly.
    Column {
        name: String,
        cast: Option<DataType>,
        canonical_float: bool,
    },
    /// The number of elements (of a list) or characters (of a string) of each
    /// value of a column, as Int64.
    Length { name: String },
    /// A one-element array holding a constant.
    Scalar(ArrayRef),
}

/// The name of the one column of the batch a [`Node::ListContains`] element
/// predicate is evaluated on.
pub(super) const ELEMENT: &str = "element";

/// Binds `expr` to `schema`: checks columns and types and prepares exact
/// comparisons. Nothing is read.
pub fn bind(expr: &Expr, schema: &Schema) -> Result<BoundPredicate> {
    let mut columns = Vec::new();
    for name in expr.columns() {
        let resolved = find_path(schema, name)?.name();
        if !columns.contains(&resolved) {
            columns.push(resolved);
        }
    }
    Ok(BoundPredicate {
        root: bind_bool(expr, schema)?,
        columns,
    })
}

/// Finds a column: by exact name, else by a unique case-insensitive match
/// (SQL identifiers are case-insensitive). Returns its name and the type it
/// is compared in (dictionaries are compared by their values).
fn resolve(schema: &Schema, name: &str) -> Result<(String, DataType)> {
    let path = find_path(schema, name)?;
    let field = &path.field;
    let data_type = match field.data_type() {
        DataType::Dictionary(_, values) => values.as_ref().clone(),
        other => other.clone(),
    };
    if data_type.is_nested() {
        return Err(Error::Unsupported(format!(
            "column {:?} is {data_type}: compare its fields (as {0}.field), its length \
             (len({0})) or its elements (list_contains({0}, value)), not the whole value",
            path.name()
        )));
    }
    Ok((path.name(), data_type))
}

fn bind_bool(expr: &Expr, schema: &Schema) -> Result<Node> {
    let node = match expr {
        Expr::Literal(Literal::Boolean(b)) => Node::Const(Some(*b)),
        Expr::Literal(Literal::Null) => Node::Const(None),
        Expr::Literal(other) => {
            return Err(Error::TypeMismatch(format!(
                "{other:?} is not a boolean condition"
            )));
        }
        Expr::Column(name) => {
            let (name, data_type) = resolve(schema, name)?;
            if data_type != DataType::Boolean {
                return Err(Error::TypeMismatch(format!(
                    "column {name:?} is {data_type}, not a boolean condition"
                )));
            }
            Node::BoolColumn(column_operand(name, &data_type, DataType::Boolean))
        }
        Expr::Compare { op, left, right } => bind_compare(*op, left, right, schema)?,
        Expr::Between {
            value,
            low,
            high,
            negated,
        } => {
            let inside = Node::All(vec![
                bind_compare(CompareOp::GtEq, value, low, schema)?,
                bind_compare(CompareOp::LtEq, value, high, schema)?,
            ]);
            negate_if(inside, *negated)
        }
        Expr::InList {
            value,
            items,
            negated,
        } => {
            let equals = items
                .iter()
                .map(|item| bind_compare(CompareOp::Eq, value, item, schema))
                .collect::<Result<Vec<_>>>()?;
            negate_if(Node::Any(equals), *negated)
        }
        Expr::IsNull { value, negated } => match value.as_ref() {
            Expr::Length(inner) => {
                let (name, _) = resolve_length(schema, inner)?;
                Node::IsNull {
                    column: Operand::Length { name },
                    negated: *negated,
                }
            }
            Expr::Column(name) => {
                // any column, a struct, list or map too, is NULL or not as a whole
                let path = find_path(schema, name)?;
                let data_type = path.field.data_type();
                let column = column_operand(path.name(), data_type, data_type.clone());
                Node::IsNull {
                    column,
                    negated: *negated,
                }
            }
            Expr::Literal(literal) => Node::Const(Some((*literal == Literal::Null) != *negated)),
            _ => {
                return Err(Error::Unsupported(
                    "IS NULL applies to a column or a constant".into(),
                ));
            }
        },
        Expr::Like {
            value,
            pattern,
            negated,
        } => {
            let Expr::Column(name) = value.as_ref() else {
                return Err(Error::Unsupported("LIKE applies to a string column".into()));
            };
            let (name, data_type) = resolve(schema, name)?;
            if !matches!(
                data_type,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) {
                return Err(Error::TypeMismatch(format!(
                    "LIKE needs a string column, but {name:?} is {data_type}"
                )));
            }
            // Arrow's LIKE treats a backslash as an escape; SQL's LIKE without
            // ESCAPE has none, so backslashes are matched literally.
            let pattern = pattern.replace('\\', "\\\\");
            Node::Like {
                column: column_operand(name, &data_type, data_type.clone()),
                pattern,
                negated: *negated,
            }
        }
        Expr::Length(_) => {
            return Err(Error::TypeMismatch(format!(
                "{} is a number, not a boolean condition",
                super::to_sql(expr)
            )));
        }
        Expr::ListContains { list, value } => bind_list_contains(schema, list, value)?,
        Expr::And(operands) => Node::All(bind_all(operands, schema)?),
        Expr::Or(operands) => Node::Any(bind_all(operands, schema)?),
        Expr::Not(inner) => Node::Not(Box::new(bind_bool(inner, schema)?)),
    };
    Ok(super::lower::lower(node, expr, schema))
}

fn bind_all(operands: &[Expr], schema: &Schema) -> Result<Vec<Node>> {
    operands
        .iter()
        .map(|operand| bind_bool(operand, schema))
        .collect()
}

fn negate_if(node: Node, negated: bool) -> Node {
    if negated {
        Node::Not(Box::new(node))
    } else {
        node
    }
}

fn bind_compare(op: CompareOp, left: &Expr, right: &Expr, schema: &Schema) -> Result<Node> {
    match (left, right) {
        (Expr::Column(name), Expr::Literal(literal)) => {
            column_vs_literal(schema, name, op, literal)
        }
        (Expr::Literal(literal), Expr::Column(name)) => {
            column_vs_literal(schema, name, op.flipped(), literal)
        }
        (Expr::Length(list), Expr::Literal(literal)) => {
            length_vs_literal(schema, list, op, literal)
        }
        (Expr::Literal(literal), Expr::Length(list)) => {
            length_vs_literal(schema, list, op.flipped(), literal)
        }
        (Expr::Column(left), Expr::Column(right)) => column_vs_column(schema, left, op, right),
        (Expr::Literal(left), Expr::Literal(right)) => Ok(Node::Const(
            compare_literals(left, right)?.map(|ordering| op.holds(ordering)),
        )),
        _ => Err(Error::Unsupported(format!(
            "comparison operands must be columns or constants, not {}",
            super::to_sql(&Expr::Compare {
                op,
                left: Box::new(left.clone()),
                right: Box::new(right.clone())
            })
        ))),
    }
}

/// The column `len(value)` measures, with its type: a list or a string.
fn resolve_length(schema: &Schema, value: &Expr) -> Result<(String, DataType)> {
    let Expr::Column(name) = value else {
        return Err(Error::Unsupported(format!(
            "len() applies to a column, not {}",
            super::to_sql(value)
        )));
    };
    let path = find_path(schema, name)?;
    let data_type = path.field.data_type().clone();
    let measurable = match &data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, values) => values.is_string(),
        list => list_element(list).is_some(),
    };
    if !measurable {
        return Err(Error::TypeMismatch(format!(
            "len() needs a list or a string, but {:?} is {data_type}",
            path.name()
        )));
    }
    Ok((path.name(), data_type))
}

/// The element field of a list type that `len()` and `list_contains()`
/// evaluate on; `None` for other types.
fn list_element(data_type: &DataType) -> Option<&FieldRef> {
    match data_type {
        DataType::List(element)
        | DataType::LargeList(element)
        | DataType::FixedSizeList(element, _) => Some(element),
        _ => None,
    }
}

/// `len(list) op literal`, compared as BIGINT as DuckDB does.
fn length_vs_literal(
    schema: &Schema,
    list: &Expr,
    op: CompareOp,
    literal: &Literal,
) -> Result<Node> {
    let (name, _) = resolve_length(schema, list)?;
    if *literal == Literal::Null {
        return Ok(Node::Const(None));
    }
    let display = format!("len({name})");
    let (floor, exact) = match number(literal, &display, &DataType::Int64)? {
        Number::Exact(d) => saturating_floor(d, 0),
        Number::Approximate(f) if f.is_finite() => (f.floor() as i128, f.fract() == 0.0),
        Number::Approximate(f) => {
            return Err(Error::TypeMismatch(format!(
                "cannot compare {display} with {f}"
            )));
        }
    };
    let length = Operand::Length { name };
    Ok(
        match bound_integer(op, floor, exact, 0, i128::from(i64::MAX)) {
            Bounded::Always(value) => Node::UnlessNull {
                column: length,
                value,
            },
            Bounded::Compare(op, value) => Node::Compare {
                left: length,
                op,
                right: Operand::Scalar(integer_scalar(&DataType::Int64, value)?),
            },
        },
    )
}

/// `list_contains(list, value)`: `element = value` bound to the list's
/// element type, tested on every element.
fn bind_list_contains(schema: &Schema, list: &Expr, value: &Expr) -> Result<Node> {
    let Expr::Column(name) = list else {
        return Err(Error::Unsupported(format!(
            "list_contains() searches a list column, not {}",
            super::to_sql(list)
        )));
    };
    let path = find_path(schema, name)?;
    let Some(element) = list_element(path.field.data_type()) else {
        return Err(Error::TypeMismatch(format!(
            "list_contains() needs a list, but {:?} is {}",
            path.name(),
            path.field.data_type()
        )));
    };
    let Expr::Literal(literal) = value else {
        return Err(Error::Unsupported(format!(
            "list_contains() looks for a constant, not {}",
            super::to_sql(value)
        )));
    };
    if *literal == Literal::Null {
        return Ok(Node::Const(None));
    }
    let elements = Schema::new(vec![
        element
            .as_ref()
            .clone()
            .with_name(ELEMENT)
            .with_nullable(true),
    ]);
    let equals = column_vs_literal(&elements, ELEMENT, CompareOp::Eq, literal).map_err(
        |error| match error {
            Error::TypeMismatch(message) => Error::TypeMismatch(format!(
                "list_contains({}, …): {}",
                path.name(),
                message.replace(&format!("{ELEMENT:?}"), &format!("{:?}", path.name()))
            )),
            other => other,
        },
    )?;
    Ok(Node::ListContains {
        list: path.name(),
        element: Box::new(equals),
    })
}

fn column_operand(name: String, source: &DataType, target: DataType) -> Operand {
    let canonical_float = target.is_floating();
    let cast = (*source != target).then_some(target);
    Operand::Column {
        name,
        cast,
        canonical_float,
    }
}

/// What a literal comparison becomes once the literal is in the column's units.
enum Bounded {
    /// The same answer for every non-NULL row.
    Always(bool),
    /// Compare with this value, in the column's units.
    Compare(CompareOp, i128),
}

/// Rewrites `column op literal` for an integer-valued column whose values lie
/// in `min..=max`, given the literal rounded down to the column's units
/// (`floor`) and whether that rounding was exact.
fn bound_integer(op: CompareOp, floor: i128, exact: bool, min: i128, max: i128) -> Bounded {
    use CompareOp::*;
    let (op, value) = if exact {
        (op, floor)
    } else {
        match op {
            Eq => return Bounded::Always(false),
            NotEq => return Bounded::Always(true),
            Lt | LtEq => (LtEq, floor),
            Gt | GtEq => (Gt, floor),
        }
    };
    if value < min {
        Bounded::Always(matches!(op, NotEq | Gt | GtEq))
    } else if value > max {
        Bounded::Always(matches!(op, NotEq | Lt | LtEq))
    } else {
        Bounded::Compare(op, value)
    }
}

/// A number literal: exact, or approximate (SQL DOUBLE).
enum Number {
    Exact(Decimal),
    Approximate(f64),
}

fn number(literal: &Literal, column: &str, data_type: &DataType) -> Result<Number> {
    match literal {
        Literal::Exact(d) => Ok(Number::Exact(*d)),
        Literal::Float(f) => Ok(Number::Approximate(*f)),
        // SQL casts a string constant to the column's type.
        Literal::Text(text) => match Decimal::parse(text.trim()) {
            Ok(d) => Ok(Number::Exact(d)),
            Err(_) => text
                .trim()
                .parse()
                .map(Number::Approximate)
                .map_err(|_| mismatch(column, data_type, literal)),
        },
        other => Err(mismatch(column, data_type, other)),
    }
}

fn mismatch(column: &str, data_type: &DataType, literal: &Literal) -> Error {
    Error::TypeMismatch(format!(
        "cannot compare column {column:?} of type {data_type} with {}",
        super::sql::to_sql(&Expr::Literal(literal.clone()))
    ))
}

fn column_vs_literal(
    schema: &Schema,
    name: &str,
    op: CompareOp,
    literal: &Literal,
) -> Result<Node> {
    let (name, data_type) = resolve(schema, name)?;
    if *literal == Literal::Null {
        return Ok(Node::Const(None));
    }
    let source = field_of(schema, &name)
        .map(|f| f.data_type().clone())
        .unwrap_or(data_type.clone());
    let column = |target: DataType| column_operand(name.clone(), &source, target);
    let integer_compare = |floor: i128, exact: bool, min: i128, max: i128| -> Result<Node> {
        Ok(match bound_integer(op, floor, exact, min, max) {
            Bounded::Always(value) => Node::UnlessNull {
                column: column(data_type.clone()),
                value,
            },
            Bounded::Compare(op, value) => Node::Compare {
                left: column(data_type.clone()),
                op,
                right: Operand::Scalar(integer_scalar(&data_type, value)?),
            },
        })
    };
    let float_compare = |value: f64| Node::Compare {
        left: column(DataType::Float64),
        op,
        right: Operand::Scalar(Arc::new(arrow_array::Float64Array::from(vec![canonical(
            value,
        )]))),
    };
    match &data_type {
        t if t.is_integer() => match number(literal, &name, t)? {
            Number::Exact(d) => {
                let (floor, exact) = saturating_floor(d, 0);
                let (min, max) = integer_range(t);
                integer_compare(floor, exact, min, max)
            }
            Number::Approximate(f) => Ok(float_compare(f)),
        },
        DataType::Decimal32(precision, scale)
        | DataType::Decimal64(precision, scale)
        | DataType::Decimal128(precision, scale) => match number(literal, &name, &data_type)? {
            Number::Exact(d) => {
                let limit = 10i128.pow(u32::from(*precision)) - 1;
                let (floor, exact) = match u32::try_from(*scale) {
                    Ok(scale) => saturating_floor(d, scale),
                    Err(_) => {
                        return Err(Error::Unsupported(format!(
                            "negative decimal scale in {name:?}"
                        )));
                    }
                };
                integer_compare(floor, exact, -limit, limit)
            }
            Number::Approximate(f) => Ok(float_compare(f)),
        },
        t if t.is_floating() => match number(literal, &name, t)? {
            // SQL casts an exact literal to the column's type: against a FLOAT
            // (f32) column, `0.1` means the f32 nearest to 0.1, as in DuckDB.
            Number::Exact(d) if *t == DataType::Float32 => {
                Ok(float_compare(f64::from(d.to_f64() as f32)))
            }
            Number::Exact(d) => Ok(float_compare(d.to_f64())),
            Number::Approximate(f) => Ok(float_compare(f)),
        },
        DataType::Date32 => {
            let (floor, exact) = match literal {
                Literal::Date(days) => (i128::from(*days), true),
                Literal::Text(text) => (i128::from(parse_date(text)?), true),
                Literal::Timestamp(micros) => {
                    let micros = i128::from(*micros);
                    (
                        micros.div_euclid(MICROS_PER_DAY),
                        micros.rem_euclid(MICROS_PER_DAY) == 0,
                    )
                }
                other => return Err(mismatch(&name, &data_type, other)),
            };
            integer_compare(floor, exact, i128::from(i32::MIN), i128::from(i32::MAX))
        }
        DataType::Timestamp(unit, _) => {
            let micros = match literal {
                Literal::Timestamp(micros) => i128::from(*micros),
                Literal::Date(days) => i128::from(*days) * MICROS_PER_DAY,
                Literal::Text(text) => i128::from(parse_timestamp(text)?),
                other => return Err(mismatch(&name, &data_type, other)),
            };
            let (floor, exact) = match unit {
                TimeUnit::Second => (micros.div_euclid(1_000_000), micros % 1_000_000 == 0),
                TimeUnit::Millisecond => (micros.div_euclid(1_000), micros % 1_000 == 0),
                TimeUnit::Microsecond => (micros, true),
                TimeUnit::Nanosecond => (micros * 1_000, true),
            };
            integer_compare(floor, exact, i128::from(i64::MIN), i128::from(i64::MAX))
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => match literal {
            Literal::Text(text) => Ok(Node::Compare {
                left: column(DataType::Utf8),
                op,
                right: Operand::Scalar(Arc::new(arrow_array::StringArray::from(vec![
                    text.as_str(),
                ]))),
            }),
            other => Err(mismatch(&name, &data_type, other)),
        },
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => match literal {
            Literal::Text(text) => Ok(Node::Compare {
                left: column(DataType::Binary),
                op,
                right: Operand::Scalar(Arc::new(arrow_array::BinaryArray::from(vec![
                    text.as_bytes(),
                ]))),
            }),
            other => Err(mismatch(&name, &data_type, other)),
        },
        DataType::Boolean => match literal {
            Literal::Boolean(b) => Ok(Node::Compare {
                left: column(DataType::Boolean),
                op,
                right: Operand::Scalar(Arc::new(arrow_array::BooleanArray::from(vec![*b]))),
            }),
            other => Err(mismatch(&name, &data_type, other)),
        },
        other => Err(Error::Unsupported(format!(
            "comparisons on column {name:?} of type {other} are not supported yet"
        ))),
    }
}

/// `d` rounded down at `scale` digits; beyond 128 bits, the largest value of
/// the right sign (every column range check then decides the answer).
fn saturating_floor(d: Decimal, scale: u32) -> (i128, bool) {
    d.rescale_floor(scale).unwrap_or(if d.unscaled < 0 {
        (i128::MIN, true)
    } else {
        (i128::MAX, true)
    })
}

fn integer_range(data_type: &DataType) -> (i128, i128) {
    match data_type {
        DataType::Int8 => (i8::MIN.into(), i8::MAX.into()),
        DataType::Int16 => (i16::MIN.into(), i16::MAX.into()),
        DataType::Int32 => (i32::MIN.into(), i32::MAX.into()),
        DataType::UInt8 => (0, u8::MAX.into()),
        DataType::UInt16 => (0, u16::MAX.into()),
        DataType::UInt32 => (0, u32::MAX.into()),
        DataType::UInt64 => (0, u64::MAX.into()),
        _ => (i64::MIN.into(), i64::MAX.into()),
    }
}

/// A one-element array of `data_type` holding `value` (already range-checked).
fn integer_scalar(data_type: &DataType, value: i128) -> Result<ArrayRef> {
    let array: ArrayRef = match data_type {
        DataType::Decimal128(precision, scale) => Arc::new(
            Decimal128Array::from(vec![value]).with_precision_and_scale(*precision, *scale)?,
        ),
        DataType::Date32 | DataType::Timestamp(_, _) => {
            let as_i64 = Int64Array::from(vec![value as i64]);
            let intermediate = if *data_type == DataType::Date32 {
                arrow_cast::cast(&as_i64, &DataType::Int32)?
            } else {
                Arc::new(as_i64) as ArrayRef
            };
            arrow_cast::cast(&intermediate, data_type)?
        }
        _ => {
            let wide = Decimal128Array::from(vec![value]).with_precision_and_scale(38, 0)?;
            arrow_cast::cast(&wide, data_type)?
        }
    };
    Ok(array)
}

/// The value SQL compares floats by: every NaN the same and largest, and
/// `-0.0` equal to `0.0`.
pub(super) fn canonical(value: f64) -> f64 {
    if value.is_nan() {
        f64::NAN
    } else if value == 0.0 {
        0.0
    } else {
        value
    }
}

fn column_vs_column(schema: &Schema, left: &str, op: CompareOp, right: &str) -> Result<Node> {
    let (left_name, left_type) = resolve(schema, left)?;
    let (right_name, right_type) = resolve(schema, right)?;
    let source = |name: &str| {
        field_of(schema, name)
            .map(|f| f.data_type().clone())
            .unwrap_or(DataType::Null)
    };
    let numeric = |t: &DataType| t.is_numeric();
    let common = if left_type == right_type {
        left_type.clone()
    } else if numeric(&left_type) && numeric(&right_type) {
        if left_type.is_floating() || right_type.is_floating() {
            DataType::Float64
        } else {
            let scale = |t: &DataType| match t {
                DataType::Decimal32(_, s)
                | DataType::Decimal64(_, s)
                | DataType::Decimal128(_, s) => *s,
                _ => 0,
            };
            DataType::Decimal128(38, scale(&left_type).max(scale(&right_type)))
        }
    } else if left_type.is_temporal() && right_type.is_temporal() {
        DataType::Timestamp(TimeUnit::Microsecond, None)
    } else if matches!(
        left_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    ) && matches!(
        right_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    ) {
        DataType::Utf8
    } else {
        return Err(Error::TypeMismatch(format!(
            "cannot compare column {left_name:?} ({left_type}) with column {right_name:?} ({right_type})"
        )));
    };
    let common = if common.is_floating() {
        DataType::Float64
    } else {
        common
    };
    Ok(Node::Compare {
        left: column_operand(left_name.clone(), &source(&left_name), common.clone()),
        op,
        right: column_operand(right_name.clone(), &source(&right_name), common),
    })
}

/// Compares two constants; `None` when either is NULL.
fn compare_literals(left: &Literal, right: &Literal) -> Result<Option<Ordering>> {
    use Literal::*;
    let days_to_micros = |days: i32| i64::from(days) * MICROS_PER_DAY as i64;
    Ok(Some(match (left, right) {
        (Null, _) | (_, Null) => return Ok(None),
        (Exact(a), Exact(b)) => a.cmp_exact(*b),
        (Exact(a), Float(b)) => canonical(a.to_f64()).total_cmp(&canonical(*b)),
        (Float(a), Exact(b)) => canonical(*a).total_cmp(&canonical(b.to_f64())),
        (Float(a), Float(b)) => canonical(*a).total_cmp(&canonical(*b)),
        (Text(a), Text(b)) => a.as_bytes().cmp(b.as_bytes()),
        (Boolean(a), Boolean(b)) => a.cmp(b),
        (Date(a), Date(b)) => a.cmp(b),
        (Timestamp(a), Timestamp(b)) => a.cmp(b),
        (Date(a), Timestamp(b)) => days_to_micros(*a).cmp(b),
        (Timestamp(a), Date(b)) => a.cmp(&days_to_micros(*b)),
        (a, b) => {
            return Err(Error::TypeMismatch(format!(
                "cannot compare {} with {}",
                super::to_sql(&Expr::Literal(a.clone())),
                super::to_sql(&Expr::Literal(b.clone()))
            )));
        }
    }))
}
