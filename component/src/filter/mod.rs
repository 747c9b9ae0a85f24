//! Filter expressions: the typed tree, its SQL text form, binding to a schema
//! and evaluation on Arrow batches with SQL semantics.

mod bind;
mod decimal;
mod eval;
mod lower;
mod prune;
mod selectivity;
mod sql;

pub use bind::{BoundPredicate, bind};
pub use decimal::Decimal;
pub use prune::{ColumnBounds, ContainerStats};
pub use sql::{parse_where, to_sql};

/// A constant.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// SQL `NULL`.
    Null,
    /// `TRUE` / `FALSE`.
    Boolean(bool),
    /// An exact number (integers of any size up to 38 digits, and decimals).
    Exact(Decimal),
    /// An approximate number written with an exponent, a SQL DOUBLE.
    Float(f64),
    /// A character string.
    Text(String),
    /// `DATE '…'`, days since 1970-01-01.
    Date(i32),
    /// `TIMESTAMP '…'`, microseconds since 1970-01-01 00:00:00.
    Timestamp(i64),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `=`
    Eq,
    /// `!=` or `<>`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
}

impl CompareOp {
    /// The operator with its operands swapped: `a < b` is `b > a`.
    pub fn flipped(self) -> Self {
        match self {
            CompareOp::Lt => CompareOp::Gt,
            CompareOp::LtEq => CompareOp::GtEq,
            CompareOp::Gt => CompareOp::Lt,
            CompareOp::GtEq => CompareOp::LtEq,
            symmetric => symmetric,
        }
    }

    /// The operator's SQL symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::NotEq => "<>",
            CompareOp::Lt => "<",
            CompareOp::LtEq => "<=",
            CompareOp::Gt => ">",
            CompareOp::GtEq => ">=",
        }
    }

    /// Whether `ordering` (left compared with right) satisfies the operator.
    pub fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            CompareOp::Eq => ordering == Equal,
            CompareOp::NotEq => ordering != Equal,
            CompareOp::Lt => ordering == Less,
            CompareOp::LtEq => ordering != Greater,
            CompareOp::Gt => ordering == Greater,
            CompareOp::GtEq => ordering != Less,
        }
    }
}

/// A boolean expression over the columns of one file.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A column by name.
    Column(String),
    /// A constant.
    Literal(Literal),
    /// `left op right`.
    Compare {
        /// The operator.
        op: CompareOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// `value [NOT] BETWEEN low AND high`.
    Between {
        /// The tested value.
        value: Box<Expr>,
        /// Lower bound, included.
        low: Box<Expr>,
        /// Upper bound, included.
        high: Box<Expr>,
        /// `NOT BETWEEN`.
        negated: bool,
    },
    /// `value [NOT] IN (items)`.
    InList {
        /// The tested value.
        value: Box<Expr>,
        /// The candidates.
        items: Vec<Expr>,
        /// `NOT IN`.
        negated: bool,
    },
    /// `value IS [NOT] NULL`.
    IsNull {
        /// The tested value.
        value: Box<Expr>,
        /// `IS NOT NULL`.
        negated: bool,
    },
    /// `value [NOT] LIKE pattern`.
    Like {
        /// The tested string.
        value: Box<Expr>,
        /// `%` for any run of characters, `_` for one; no escape character.
        pattern: String,
        /// `NOT LIKE`.
        negated: bool,
    },
    /// `len(value)`: the number of elements of a list, or of characters of a
    /// string; NULL where the value is NULL.
    Length(Box<Expr>),
    /// `list_contains(list, value)`, also written `value IN list`: whether an
    /// element of the list equals `value`. NULL where the list or `value` is
    /// NULL; NULL elements never match.
    ListContains {
        /// The list searched.
        list: Box<Expr>,
        /// The value looked for.
        value: Box<Expr>,
    },
    /// Three-valued `AND` of the operands (a chain `a AND b AND c` is one node).
    And(Vec<Expr>),
    /// Three-valued `OR` of the operands.
    Or(Vec<Expr>),
    /// Three-valued `NOT`.
    Not(Box<Expr>),
}

/// Deepest nesting of an expression (operators inside operators). Chains of
/// `AND`/`OR` and `IN` lists are flat and do not count against it. SQL text
/// nests at most 50 levels (the parser's limit); node lists from other
/// components at most this many.
pub const MAX_DEPTH: usize = 128;

impl Expr {
    /// Every column the expression reads, each once, in order of appearance.
    pub fn columns(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        self.visit_columns(&mut |name| {
            if !names.contains(&name) {
                names.push(name);
            }
        });
        names
    }

    fn visit_columns<'a>(&'a self, visit: &mut impl FnMut(&'a str)) {
        match self {
            Expr::Column(name) => visit(name),
            Expr::Literal(_) => {}
            Expr::Compare { left, right, .. } => {
                left.visit_columns(visit);
                right.visit_columns(visit);
            }
            Expr::Between {
                value, low, high, ..
            } => {
                value.visit_columns(visit);
                low.visit_columns(visit);
                high.visit_columns(visit);
            }
            Expr::InList { value, items, .. } => {
                value.visit_columns(visit);
                items.iter().for_each(|item| item.visit_columns(visit));
            }
            Expr::IsNull { value, .. }
            | Expr::Like { value, .. }
            | Expr::Not(value)
            | Expr::Length(value) => value.visit_columns(visit),
            Expr::ListContains { list, value } => {
                list.visit_columns(visit);
                value.visit_columns(visit);
            }
            Expr::And(operands) | Expr::Or(operands) => operands
                .iter()
                .for_each(|operand| operand.visit_columns(visit)),
        }
    }
}
