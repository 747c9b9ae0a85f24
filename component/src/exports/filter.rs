//! Implementation of the `quiver:engine/filter` interface, and the conversion
//! between the flat WIT node list and the core expression tree.

use super::Engine;
use crate::bindings::exports::quiver::engine::filter::{
    BetweenNode, CompareNode, Comparison, Expression, Guest, InListNode, IsNullNode, LikeNode,
    Literal as WitLiteral, Node, Selection,
};
use crate::bindings::quiver::engine::types::Error as WitError;
use crate::error::{Error, Result};
use crate::filter::{CompareOp, Decimal, Expr, Literal, bind, parse_where, to_sql};
use crate::ipc::decode_stream;

impl Guest for Engine {
    fn parse(where_clause: String) -> Result<Expression, WitError> {
        Ok(to_nodes(&parse_where(&where_clause)?))
    }

    fn to_sql(expr: Expression) -> Result<String, WitError> {
        Ok(to_sql(&from_nodes(&expr)?))
    }

    fn evaluate(expr: Expression, batch: Vec<u8>) -> Result<Selection, WitError> {
        let expr = from_nodes(&expr)?;
        let (schema, batches) = decode_stream(&batch)?;
        let batch = arrow_select::concat::concat_batches(&schema, &batches).map_err(Error::from)?;
        let rows = u32::try_from(batch.num_rows())
            .map_err(|_| Error::InvalidArgument("a batch may hold at most 2^32-1 rows".into()))?;
        let selected = bind(&expr, &schema)?.select(&batch)?;
        let mut bits = selected.values().sliced().as_slice()[..rows.div_ceil(8) as usize].to_vec();
        // Bits past the last row are unspecified in Arrow buffers: clear them.
        if let (Some(last), tail @ 1..) = (bits.last_mut(), rows % 8) {
            *last &= (1u8 << tail) - 1;
        }
        Ok(Selection {
            rows,
            selected: selected.true_count() as u32,
            bits,
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
        Expr::And(left, right) => Node::And((child(left, nodes), child(right, nodes))),
        Expr::Or(left, right) => Node::Or((child(left, nodes), child(right, nodes))),
        Expr::Not(inner) => Node::Not(child(inner, nodes)),
    };
    nodes.push(node);
    (nodes.len() - 1) as u32
}

/// Rebuilds the tree, checking that every operand points to an earlier node
/// (so the list cannot hold cycles).
pub(super) fn from_nodes(expression: &Expression) -> Result<Expr> {
    let nodes = &expression.nodes;
    if nodes.is_empty() {
        return Err(Error::InvalidArgument("the expression has no nodes".into()));
    }
    let mut built: Vec<Expr> = Vec::with_capacity(nodes.len());
    for (position, node) in nodes.iter().enumerate() {
        let operand = |index: u32| -> Result<Box<Expr>> {
            built
                .get(index as usize)
                .filter(|_| (index as usize) < position)
                .cloned()
                .map(Box::new)
                .ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "node {position} refers to node {index}, which is not an earlier node"
                    ))
                })
        };
        let expr = match node {
            Node::Column(name) => Expr::Column(name.clone()),
            Node::Literal(literal) => Expr::Literal(core_literal(literal)?),
            Node::Compare(c) => Expr::Compare {
                op: core_op(c.op),
                left: operand(c.left)?,
                right: operand(c.right)?,
            },
            Node::Between(b) => Expr::Between {
                value: operand(b.value)?,
                low: operand(b.low)?,
                high: operand(b.high)?,
                negated: b.negated,
            },
            Node::InList(list) => Expr::InList {
                value: operand(list.value)?,
                items: list
                    .items
                    .iter()
                    .map(|&i| operand(i).map(|e| *e))
                    .collect::<Result<_>>()?,
                negated: list.negated,
            },
            Node::IsNull(n) => Expr::IsNull {
                value: operand(n.value)?,
                negated: n.negated,
            },
            Node::Like(l) => Expr::Like {
                value: operand(l.value)?,
                pattern: l.pattern.clone(),
                negated: l.negated,
            },
            Node::And((l, r)) => Expr::And(operand(*l)?, operand(*r)?),
            Node::Or((l, r)) => Expr::Or(operand(*l)?, operand(*r)?),
            Node::Not(inner) => Expr::Not(operand(*inner)?),
        };
        built.push(expr);
    }
    Ok(built.pop().unwrap_or(Expr::Literal(Literal::Null)))
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
