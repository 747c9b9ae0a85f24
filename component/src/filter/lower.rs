//! Lowering bound predicates on one fixed-width column into kernel nodes.
//!
//! A comparison with a constant on a 32- or 64-bit integer, float, date or
//! timestamp column becomes a set of order-preserving key intervals; `AND`,
//! `OR` and `NOT` of such nodes on the same column become intersections,
//! unions and complements of their sets. So `x BETWEEN 1 AND 5`, `x IN (…)`,
//! `NOT (x < 3 OR x > 9)` each become one kernel call per batch, run by the
//! tier [`crate::kernels::Compute`] picks.

use super::Expr;
use super::bind::{Node, Operand};
use crate::columns::field_of;
use crate::kernels::keys::{Encoding, KeySet, Width, float32_compare, key32, key64};
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, Schema};

/// A predicate on one column, evaluated by a kernel.
#[derive(Debug, Clone)]
pub(super) struct KernelNode {
    /// The column's exact name.
    pub column: String,
    /// The column's type (one with a fixed 32- or 64-bit width).
    pub data_type: DataType,
    pub width: Width,
    pub encoding: Encoding,
    /// The keys of the values that satisfy the predicate.
    pub set: KeySet,
    /// The predicate as SQL, for reports.
    pub sql: String,
    /// The node as bound before lowering, which pruning reads.
    pub bound: Node,
}

/// The width and key encoding of a column type kernels can read.
pub(super) fn layout(data_type: &DataType) -> Option<(Width, Encoding)> {
    Some(match data_type {
        DataType::Int32 | DataType::Date32 => (Width::W32, Encoding::Signed),
        DataType::UInt32 => (Width::W32, Encoding::Unsigned),
        DataType::Float32 => (Width::W32, Encoding::Float),
        DataType::Int64 | DataType::Timestamp(_, _) => (Width::W64, Encoding::Signed),
        DataType::UInt64 => (Width::W64, Encoding::Unsigned),
        DataType::Float64 => (Width::W64, Encoding::Float),
        _ => return None,
    })
}

/// `node`, bound from `expr`, as a kernel node when it is a predicate on one
/// kernel-readable column; otherwise `node` unchanged.
pub(super) fn lower(node: Node, expr: &Expr, schema: &Schema) -> Node {
    match kernel_of(&node, schema) {
        Some((column, set)) => {
            let data_type = field_of(schema, &column).map(|field| field.data_type().clone());
            match data_type.and_then(|t| layout(&t).map(|l| (t, l))) {
                Some((data_type, (width, encoding))) => Node::Kernel(Box::new(KernelNode {
                    column,
                    data_type,
                    width,
                    encoding,
                    set,
                    sql: shortened(super::to_sql(expr)),
                    bound: node,
                })),
                None => node,
            }
        }
        None => node,
    }
}

/// The column and key set `node` tests, if it tests one kernel column.
fn kernel_of(node: &Node, schema: &Schema) -> Option<(String, KeySet)> {
    match node {
        Node::Kernel(kernel) => Some((kernel.column.clone(), kernel.set.clone())),
        Node::Compare {
            left: Operand::Column { name, cast, .. },
            op,
            right: Operand::Scalar(constant),
        } => {
            let (width, encoding) = column_layout(schema, name)?;
            let set = match (encoding, width, cast) {
                (Encoding::Float, Width::W32, Some(DataType::Float64)) => {
                    float32_compare(*op, f64::from_bits(constant_bits(constant, Width::W64)?))
                }
                (_, _, None) if constant.data_type() == &column_type(schema, name)? => {
                    let bits = constant_bits(constant, width)?;
                    let key = match width {
                        Width::W32 => u64::from(key32(bits as u32, encoding)),
                        Width::W64 => key64(bits, encoding),
                    };
                    KeySet::compare(*op, key, width)
                }
                _ => return None,
            };
            Some((name.clone(), set))
        }
        Node::UnlessNull {
            column: Operand::Column { name, .. },
            value,
        } => {
            let (width, _) = column_layout(schema, name)?;
            let set = if *value {
                KeySet::full(width)
            } else {
                KeySet::empty()
            };
            Some((name.clone(), set))
        }
        Node::Not(inner) => {
            let (column, set) = kernel_of(inner, schema)?;
            let (width, _) = column_layout(schema, &column)?;
            Some((column, set.complement(width)))
        }
        Node::All(operands) => {
            let (column, sets) = same_column(operands, schema)?;
            let mut sets = sets.into_iter();
            let first = sets.next()?;
            Some((column, sets.fold(first, |all, set| all.intersection(&set))))
        }
        Node::Any(operands) => {
            let (column, sets) = same_column(operands, schema)?;
            Some((column, KeySet::union_all(&sets)))
        }
        _ => None,
    }
}

/// The operands' sets, when every operand tests the same column.
fn same_column(operands: &[Node], schema: &Schema) -> Option<(String, Vec<KeySet>)> {
    let mut column: Option<String> = None;
    let mut sets = Vec::with_capacity(operands.len());
    for operand in operands {
        let (name, set) = kernel_of(operand, schema)?;
        if column.get_or_insert_with(|| name.clone()) != &name {
            return None;
        }
        sets.push(set);
    }
    Some((column?, sets))
}

fn column_type(schema: &Schema, name: &str) -> Option<DataType> {
    Some(field_of(schema, name)?.data_type().clone())
}

fn column_layout(schema: &Schema, name: &str) -> Option<(Width, Encoding)> {
    layout(&column_type(schema, name)?)
}

/// The raw bits of a one-element constant array of a kernel type.
fn constant_bits(constant: &ArrayRef, width: Width) -> Option<u64> {
    if constant.len() != 1 || constant.is_null(0) {
        return None;
    }
    let data = constant.to_data();
    Some(match (width, layout(constant.data_type())?.0) {
        (Width::W32, Width::W32) => u64::from(data.buffer::<u32>(0)[0]),
        (Width::W64, Width::W64) => data.buffer::<u64>(0)[0],
        _ => return None,
    })
}

/// SQL text for a report: without the parentheses around the whole, and long
/// `IN` lists cut to their first characters.
fn shortened(sql: String) -> String {
    const MOST: usize = 120;
    let sql = match sql.strip_prefix('(').and_then(|s| s.strip_suffix(')')) {
        Some(inner) if balanced(inner) => inner.to_owned(),
        _ => sql,
    };
    match sql.char_indices().nth(MOST) {
        Some((cut, _)) => format!("{}…", &sql[..cut]),
        None => sql,
    }
}

/// Whether every parenthesis in `sql` outside string literals and quoted
/// names closes one opened before it.
fn balanced(sql: &str) -> bool {
    let (mut depth, mut quote) = (0i32, None);
    for c in sql.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{bind, parse_where};
    use arrow_schema::Field;

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("x", DataType::Int32, true),
            Field::new("y", DataType::Int32, true),
            Field::new("f", DataType::Float32, true),
            Field::new("small", DataType::Int8, true),
            Field::new(
                "coded",
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Int32)),
                true,
            ),
        ])
    }

    /// The kernel's key intervals as column values, or `None` when the
    /// predicate was not lowered.
    fn intervals(sql: &str) -> Option<Vec<(i64, i64)>> {
        let bound = bind(&parse_where(sql).unwrap(), &schema()).unwrap();
        let Node::Kernel(kernel) = &bound.root else {
            return None;
        };
        let value = |key: u64| i64::from((key as u32 ^ 0x8000_0000) as i32);
        Some(
            kernel
                .set
                .ranges()
                .iter()
                .map(|&(l, h)| (value(l), value(h)))
                .collect(),
        )
    }

    #[test]
    fn one_column_predicates_become_one_kernel() {
        let (min, max) = (i64::from(i32::MIN), i64::from(i32::MAX));
        assert_eq!(intervals("x BETWEEN 1 AND 5"), Some(vec![(1, 5)]));
        assert_eq!(intervals("x IN (3, 1, 2, 7)"), Some(vec![(1, 3), (7, 7)]));
        assert_eq!(intervals("NOT (x < 3 OR x > 9)"), Some(vec![(3, 9)]));
        assert_eq!(intervals("x <> 0"), Some(vec![(min, -1), (1, max)]));
        assert_eq!(intervals("x < 2.5 AND x >= -1"), Some(vec![(-1, 2)]));
        assert_eq!(intervals("x > 5 AND x < 3"), Some(vec![]));
        assert_eq!(
            intervals("x NOT IN (1, 2.5)"),
            Some(vec![(min, 0), (2, max)])
        );
    }

    #[test]
    fn other_predicates_stay_on_arrow() {
        assert_eq!(intervals("x = y"), None);
        assert_eq!(intervals("x > 1 AND y > 1"), None);
        assert_eq!(intervals("small > 1"), None);
        assert_eq!(intervals("coded > 1"), None);
        assert_eq!(intervals("x > 1e0"), None);
    }

    #[test]
    fn float32_columns_lower_with_exact_double_bounds() {
        let bound = bind(&parse_where("f < 1e-1").unwrap(), &schema()).unwrap();
        let Node::Kernel(kernel) = &bound.root else {
            panic!("not lowered")
        };
        let below = 0.1f32; // rounds up: 0.1f32 > 0.1
        let high = kernel.set.ranges()[0].1 as u32;
        assert_eq!(high, key32(below.to_bits(), Encoding::Float) - 1);
        assert_eq!(kernel.sql, "\"f\" < 1e-1");
    }
}
