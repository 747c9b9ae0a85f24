//! Splitting a parsed WHERE clause in two: the conditions on partition keys
//! alone, which choose files, and the rest, which the engine applies to each
//! file's rows, with the file's partition values put in place of the keys.
//! The clause is parsed and both halves are evaluated by the engine
//! (`filter.parse`, `filter.evaluate`, a scan's filter); this only regroups
//! and rewrites nodes.

use crate::bindings::filter::{
    BetweenNode, CompareNode, Expression, InListNode, IsNullNode, LikeNode, ListContainsNode,
    Literal, Node,
};

/// A WHERE clause split into its conditions on partition keys and the rest.
#[derive(Debug, Clone, Default)]
pub struct SplitFilter {
    /// The conjuncts that use only partition keys (`None`: there are none).
    pub partition: Option<Expression>,
    /// The other conjuncts (`None`: there are none). They may still use
    /// partition keys, next to columns (`year = 2024 OR fare > 10`).
    pub rows: Option<Expression>,
}

/// Splits `expression` at its top-level AND into the conjuncts that use
/// only partition keys (as `is_partition_key` tells) and the others.
pub fn split(expression: &Expression, is_partition_key: impl Fn(&str) -> bool) -> SplitFilter {
    let nodes = &expression.nodes;
    let Some(root) = nodes.len().checked_sub(1) else {
        return SplitFilter::default();
    };
    let mut conjuncts = Vec::new();
    collect_conjuncts(nodes, root as u32, &mut conjuncts);
    let (mut partition, mut rows) = (Vec::new(), Vec::new());
    for conjunct in conjuncts {
        let mut columns = Vec::new();
        collect_columns(nodes, conjunct, &mut columns);
        if !columns.is_empty() && columns.iter().all(|c| is_partition_key(c)) {
            partition.push(conjunct);
        } else {
            rows.push(conjunct);
        }
    }
    SplitFilter {
        partition: conjunction(nodes, &partition),
        rows: conjunction(nodes, &rows),
    }
}

/// `expression` with each column that `value_of` knows replaced by that
/// constant (a file's partition values), for the engine to fold.
pub fn substitute(
    expression: &Expression,
    value_of: impl Fn(&str) -> Option<Literal>,
) -> Expression {
    let nodes = expression
        .nodes
        .iter()
        .map(|node| match node {
            Node::Column(name) => value_of(name).map_or_else(|| node.clone(), Node::Literal),
            _ => node.clone(),
        })
        .collect();
    Expression { nodes }
}

/// The operands of AND nodes, flattened, from `index` down.
fn collect_conjuncts(nodes: &[Node], index: u32, out: &mut Vec<u32>) {
    match nodes.get(index as usize) {
        Some(Node::And(operands)) => {
            for &operand in operands {
                collect_conjuncts(nodes, operand, out);
            }
        }
        _ => out.push(index),
    }
}

/// The column names used under `index`.
fn collect_columns(nodes: &[Node], index: u32, out: &mut Vec<String>) {
    let Some(node) = nodes.get(index as usize) else {
        return;
    };
    if let Node::Column(name) = node {
        out.push(name.clone());
    }
    for operand in operands(node) {
        collect_columns(nodes, operand, out);
    }
}

/// The nodes `node` points to.
fn operands(node: &Node) -> Vec<u32> {
    match node {
        Node::Column(_) | Node::Literal(_) => Vec::new(),
        Node::Compare(CompareNode { left, right, .. }) => vec![*left, *right],
        Node::Between(BetweenNode {
            value, low, high, ..
        }) => vec![*value, *low, *high],
        Node::InList(InListNode { value, items, .. }) => std::iter::once(*value)
            .chain(items.iter().copied())
            .collect(),
        Node::IsNull(IsNullNode { value, .. }) | Node::Like(LikeNode { value, .. }) => {
            vec![*value]
        }
        Node::And(items) | Node::Or(items) => items.clone(),
        Node::Not(operand) | Node::Length(operand) => vec![*operand],
        Node::ListContains(ListContainsNode { list, value }) => vec![*list, *value],
    }
}

/// A new node list holding the subtrees at `roots`, joined by AND.
fn conjunction(nodes: &[Node], roots: &[u32]) -> Option<Expression> {
    let mut out = Vec::new();
    let tops: Vec<u32> = roots
        .iter()
        .map(|&root| copy(nodes, root, &mut out))
        .collect();
    match tops.len() {
        0 => return None,
        1 => {}
        _ => out.push(Node::And(tops)),
    }
    Some(Expression { nodes: out })
}

/// Copies the subtree at `index` to the end of `out`, operands first;
/// returns its new index.
fn copy(nodes: &[Node], index: u32, out: &mut Vec<Node>) -> u32 {
    let node = &nodes[index as usize];
    let mut moved = |operand: &u32| copy(nodes, *operand, out);
    let copied = match node {
        Node::Column(_) | Node::Literal(_) => node.clone(),
        Node::Compare(c) => Node::Compare(CompareNode {
            op: c.op,
            left: moved(&c.left),
            right: moved(&c.right),
        }),
        Node::Between(b) => Node::Between(BetweenNode {
            value: moved(&b.value),
            low: moved(&b.low),
            high: moved(&b.high),
            negated: b.negated,
        }),
        Node::InList(list) => Node::InList(InListNode {
            value: moved(&list.value),
            items: list.items.iter().map(&mut moved).collect(),
            negated: list.negated,
        }),
        Node::IsNull(is) => Node::IsNull(IsNullNode {
            value: moved(&is.value),
            negated: is.negated,
        }),
        Node::Like(like) => Node::Like(LikeNode {
            value: moved(&like.value),
            pattern: like.pattern.clone(),
            negated: like.negated,
        }),
        Node::And(items) => Node::And(items.iter().map(&mut moved).collect()),
        Node::Or(items) => Node::Or(items.iter().map(&mut moved).collect()),
        Node::Not(operand) => Node::Not(moved(operand)),
        Node::Length(operand) => Node::Length(moved(operand)),
        Node::ListContains(contains) => Node::ListContains(ListContainsNode {
            list: moved(&contains.list),
            value: moved(&contains.value),
        }),
    };
    out.push(copied);
    (out.len() - 1) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::filter::{Comparison, Literal};

    fn column(name: &str) -> Node {
        Node::Column(name.to_owned())
    }

    fn compare(left: u32, right: u32) -> Node {
        Node::Compare(CompareNode {
            op: Comparison::Eq,
            left,
            right,
        })
    }

    #[test]
    fn partition_conditions_and_row_conditions_come_apart() {
        // year = 2024 AND (fare = 1 AND region = 'eu')
        let nodes = vec![
            column("year"),
            Node::Literal(Literal::Integer(2024)),
            compare(0, 1),
            column("fare"),
            Node::Literal(Literal::Integer(1)),
            compare(3, 4),
            column("region"),
            Node::Literal(Literal::Text("eu".into())),
            compare(6, 7),
            Node::And(vec![5, 8]),
            Node::And(vec![2, 9]),
        ];
        let keys = |name: &str| name == "year" || name == "region";
        let split = split(&Expression { nodes }, keys);
        let partition = split.partition.unwrap().nodes;
        assert_eq!(partition.len(), 7);
        assert!(matches!(partition.last(), Some(Node::And(items)) if items == &[2, 5]));
        assert!(matches!(&partition[3], Node::Column(name) if name == "region"));
        let rows = split.rows.unwrap().nodes;
        assert_eq!(rows.len(), 3);
        assert!(matches!(&rows[0], Node::Column(name) if name == "fare"));
    }

    #[test]
    fn a_condition_mixing_keys_and_columns_stays_with_the_rows_and_takes_values() {
        let nodes = vec![column("year"), column("fare"), compare(0, 1), Node::Not(2)];
        let split = split(&Expression { nodes }, |name| name == "year");
        assert!(split.partition.is_none());
        let rows = split.rows.unwrap();
        let year = |name: &str| (name == "year").then_some(Literal::Integer(2024));
        let filled = substitute(&rows, year).nodes;
        assert!(matches!(filled[0], Node::Literal(Literal::Integer(2024))));
        assert!(matches!(&filled[1], Node::Column(name) if name == "fare"));
    }
}
