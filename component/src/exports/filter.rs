//! Implementation of the `quiver:engine/filter` interface, and the conversion
//! between the flat WIT node list and the core expression tree.

use super::Engine;
use crate::bindings::exports::quiver::engine::filter::{
    BetweenNode, CompareNode, Comparison, ComputePreference, Expression, Guest, InListNode,
    IsNullNode, LikeNode, ListContainsNode, Literal as WitLiteral, Node, Selection,
};
use crate::bindings::exports::quiver::engine::types::Error as WitError;
use crate::error::{Error, Result};
use crate::filter::{CompareOp, Decimal, Expr, Literal, MAX_DEPTH, bind, parse_where, to_sql};
use crate::ipc::decode_stream;

impl Guest for Engine {
    fn parse(where_clause: String) -> Result<Expression, WitError> {
        Ok(to_nodes(&parse_where(&where_clause)?))
    }

    fn to_sql(expr: Expression) -> Result<String, WitError> {
        Ok(to_sql(&from_nodes(&expr)?))
    }

    fn evaluate(
        expr: Expression,
        batch: Vec<u8>,
        compute: ComputePreference,
    ) -> Result<Selection, WitError> {
        let mut compute = super::compute::compute(Some(compute))?;
        let expr = from_nodes(&expr)?;
        let (schema, batches) = decode_stream(&batch)?;
        let batch = arrow_select::concat::concat_batches(&schema, &batches).map_err(Error::from)?;
        let rows = u32::try_from(batch.num_rows())
            .map_err(|_| Error::InvalidArgument("a batch may hold at most 2^32-1 rows".into()))?;
        let selected = bind(&expr, &schema)?.select_on(&batch, &mut compute)?;
        let mut bits = selected.values().sliced().as_slice()[..rows.div_ceil(8) as usize].to_vec();
        // Bits past the last row are unspecified in Arrow buffers: clear them.
        if let (Some(last), tail @ 1..) = (bits.last_mut(), rows % 8) {
            *last &= (1u8 << tail) - 1;
        }
        Ok(Selection {
            rows,
            selected: selected.true_count() as u32,
            bits,
            kernels: super::compute::wit_reports(compute.reports()),
        })
    }
}

/// Flattens a tree: children first, the root last.
pub(super) fn to_nodes(expr: &Expr) -> Expression {
    let mut nodes = Vec::new();
    push_node(expr, &mut nodes);
    Expression { nodes }
}

fn push_node(expr: &Expr, nodes: &mut Vec<Node>) -> u32 {
    let child = |e: &Expr, nodes: &mut Vec<Node>| push_node(e, nodes);
    let node = match expr {
        Expr::Column(name) => Node::Column(name.clone()),
        Expr::Literal(literal) => Node::Literal(wit_literal(literal)),
        Expr::Compare { op, left, right } => {
            let (left, right) = (child(left, nodes), child(right, nodes));
            Node::Compare(CompareNode {
                op: wit_op(*op),
                left,
                right,
            })
        }
        Expr::Between {
            value,
            low,
            high,
            negated,
        } => {
            let (value, low, high) = (child(value, nodes), child(low, nodes), child(high, nodes));
            Node::Between(BetweenNode {
                value,
                low,
                high,
                negated: *negated,
            })
        }
        Expr::InList {
            value,
            items,
            negated,
        } => {
            let value = child(value, nodes);
            let items = items.iter().map(|item| child(item, nodes)).collect();
            Node::InList(InListNode {
                value,
                items,
                negated: *negated,
            })
        }
        Expr::IsNull { value, negated } => Node::IsNull(IsNullNode {
            value: child(value, nodes),
            negated: *negated,
        }),
        Expr::Like {
            value,
            pattern,
            negated,
        } => Node::Like(LikeNode {
            value: child(value, nodes),
            pattern: pattern.clone(),
            negated: *negated,
        }),
        Expr::And(operands) => Node::And(
            operands
                .iter()
                .map(|operand| child(operand, nodes))
                .collect(),
        ),
        Expr::Or(operands) => Node::Or(
            operands
                .iter()
                .map(|operand| child(operand, nodes))
                .collect(),
        ),
        Expr::Not(inner) => Node::Not(child(inner, nodes)),
        Expr::Length(value) => Node::Length(child(value, nodes)),
        Expr::ListContains { list, value } => {
            let (list, value) = (child(list, nodes), child(value, nodes));
            Node::ListContains(ListContainsNode { list, value })
        }
    };
    nodes.push(node);
    (nodes.len() - 1) as u32
}

/// Rebuilds the tree. The list must be one: every operand points to an
/// earlier node (so there are no cycles), every node but the root is used
/// exactly once (so a small list cannot stand for an exponentially large
/// tree), and nesting stays within [`MAX_DEPTH`].
pub(super) fn from_nodes(expression: &Expression) -> Result<Expr> {
    let nodes = &expression.nodes;
    let invalid = |message: String| Error::InvalidArgument(message);
    // Each built node with its depth, until an operand takes it.
    let mut built: Vec<Option<(Expr, usize)>> = Vec::with_capacity(nodes.len());
    for (position, node) in nodes.iter().enumerate() {
        let mut depth = 0;
        let mut take = |index: u32| -> Result<Expr> {
            let slot = built
                .get_mut(index as usize)
                .filter(|_| (index as usize) < position);
            let (expr, child_depth) = slot.and_then(Option::take).ok_or_else(|| {
                invalid(format!(
                    "node {position} uses node {index}, which is not an earlier, unused node"
                ))
            })?;
            depth = depth.max(child_depth);
            Ok(expr)
        };
        let expr = match node {
            Node::Column(name) => Expr::Column(name.clone()),
            Node::Literal(literal) => Expr::Literal(core_literal(literal)?),
            Node::Compare(c) => {
                let left = Box::new(take(c.left)?);
                Expr::Compare {
                    op: core_op(c.op),
                    left,
                    right: Box::new(take(c.right)?),
                }
            }
            Node::Between(b) => Expr::Between {
                value: Box::new(take(b.value)?),
                low: Box::new(take(b.low)?),
                high: Box::new(take(b.high)?),
                negated: b.negated,
            },
            Node::InList(list) => {
                let value = Box::new(take(list.value)?);
                let items = list.items.iter().map(|&i| take(i)).collect::<Result<_>>()?;
                Expr::InList {
                    value,
                    items,
                    negated: list.negated,
                }
            }
            Node::IsNull(n) => Expr::IsNull {
                value: Box::new(take(n.value)?),
                negated: n.negated,
            },
            Node::Like(l) => Expr::Like {
                value: Box::new(take(l.value)?),
                pattern: l.pattern.clone(),
                negated: l.negated,
            },
            Node::And(operands) => {
                Expr::And(operands.iter().map(|&i| take(i)).collect::<Result<_>>()?)
            }
            Node::Or(operands) => {
                Expr::Or(operands.iter().map(|&i| take(i)).collect::<Result<_>>()?)
            }
            Node::Not(inner) => Expr::Not(Box::new(take(*inner)?)),
            Node::Length(value) => Expr::Length(Box::new(take(*value)?)),
            Node::ListContains(contains) => {
                let list = Box::new(take(contains.list)?);
                Expr::ListContains {
                    list,
                    value: Box::new(take(contains.value)?),
                }
            }
        };
        let depth = depth + 1;
        if depth > MAX_DEPTH {
            return Err(invalid(format!(
                "the expression nests deeper than {MAX_DEPTH} levels"
            )));
        }
        built.push(Some((expr, depth)));
    }
    let root = built.pop().flatten().map(|(expr, _)| expr);
    let root = root.ok_or_else(|| invalid("the expression has no nodes".into()))?;
    if let Some(unused) = built.iter().position(Option::is_some) {
        return Err(invalid(format!(
            "node {unused} is not used by any other node"
        )));
    }
    Ok(root)
}

fn wit_literal(literal: &Literal) -> WitLiteral {
    match literal {
        Literal::Null => WitLiteral::Null,
        Literal::Boolean(b) => WitLiteral::Boolean(*b),
        Literal::Exact(d) => match i64::try_from(d.unscaled) {
            Ok(integer) if d.scale == 0 => WitLiteral::Integer(integer),
            _ => WitLiteral::Decimal(d.to_string()),
        },
        Literal::Float(f) => WitLiteral::Float(*f),
        Literal::Text(s) => WitLiteral::Text(s.clone()),
        Literal::Date(days) => WitLiteral::Date(*days),
        Literal::Timestamp(micros) => WitLiteral::Timestamp(*micros),
    }
}

fn core_literal(literal: &WitLiteral) -> Result<Literal> {
    Ok(match literal {
        WitLiteral::Null => Literal::Null,
        WitLiteral::Boolean(b) => Literal::Boolean(*b),
        WitLiteral::Integer(i) => Literal::Exact(Decimal::integer(i128::from(*i))),
        WitLiteral::Decimal(text) => Literal::Exact(
            Decimal::parse(text)
                .map_err(|e| Error::InvalidArgument(format!("decimal literal: {e}")))?,
        ),
        WitLiteral::Float(f) => Literal::Float(*f),
        WitLiteral::Text(s) => Literal::Text(s.clone()),
        WitLiteral::Date(days) => Literal::Date(*days),
        WitLiteral::Timestamp(micros) => Literal::Timestamp(*micros),
    })
}

fn wit_op(op: CompareOp) -> Comparison {
    match op {
        CompareOp::Eq => Comparison::Eq,
        CompareOp::NotEq => Comparison::NotEq,
        CompareOp::Lt => Comparison::Lt,
        CompareOp::LtEq => Comparison::LtEq,
        CompareOp::Gt => Comparison::Gt,
        CompareOp::GtEq => Comparison::GtEq,
    }
}

fn core_op(op: Comparison) -> CompareOp {
    match op {
        Comparison::Eq => CompareOp::Eq,
        Comparison::NotEq => CompareOp::NotEq,
        Comparison::Lt => CompareOp::Lt,
        Comparison::LtEq => CompareOp::LtEq,
        Comparison::Gt => CompareOp::Gt,
        Comparison::GtEq => CompareOp::GtEq,
    }
}
