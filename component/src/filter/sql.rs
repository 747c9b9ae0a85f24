//! SQL text ⇄ [`Expr`]: parsing WHERE clauses with `sqlparser`, and printing
//! expressions back as SQL that parses to the same tree.

use super::{CompareOp, Decimal, Expr, Literal};
use crate::error::{Error, Result};
use sqlparser::ast::{self, BinaryOperator, DataType, UnaryOperator, Value};
use sqlparser::dialect::DuckDbDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

/// Deepest nesting of a WHERE clause (parentheses, NOT, operators inside
/// operators); deeper input is refused rather than risking the stack. Chains
/// like `a OR b OR c …` are flat and may be as long as needed.
const MAX_NESTING: usize = 50;

/// Parses a WHERE clause (the text after `WHERE`).
///
/// ```
/// use quiver_engine::filter::{parse_where, Expr};
/// let expr = parse_where("price > 10 AND name LIKE 'a%'").unwrap();
/// assert!(matches!(expr, Expr::And(operands) if operands.len() == 2));
/// ```
pub fn parse_where(text: &str) -> Result<Expr> {
    let syntax = |error: sqlparser::parser::ParserError| {
        Error::Syntax(format!("invalid WHERE clause {text:?}: {error}"))
    };
    let mut parser = Parser::new(&DuckDbDialect {})
        .with_recursion_limit(MAX_NESTING)
        .try_with_sql(text)
        .map_err(syntax)?;
    let parsed = parser.parse_expr().map_err(syntax)?;
    let rest = parser.peek_token();
    if rest.token != Token::EOF {
        return Err(Error::Syntax(format!(
            "invalid WHERE clause {text:?}: unexpected {} after the expression",
            rest.token
        )));
    }
    convert(parsed)
}

fn unsupported(text: &str) -> Error {
    Error::Syntax(format!(
        "unsupported expression `{text}`: use comparisons, BETWEEN, IN, IS [NOT] NULL, LIKE, AND, OR, NOT"
    ))
}

fn boxed(expr: ast::Expr) -> Result<Box<Expr>> {
    convert(expr).map(Box::new)
}

/// The operands of a chain `a OP b OP c …`, which the parser builds
/// left-deep, taken apart in a loop: a long chain neither recurses here nor
/// is dropped recursively.
fn chain_operands(expr: ast::Expr, chain: &BinaryOperator) -> Vec<ast::Expr> {
    let mut operands = Vec::new();
    let mut current = expr;
    loop {
        match current {
            ast::Expr::BinaryOp { left, op, right } if op == *chain => {
                operands.push(*right);
                current = *left;
            }
            first => {
                operands.push(first);
                break;
            }
        }
    }
    operands.reverse();
    operands
}

fn compare_op(op: &BinaryOperator) -> Option<CompareOp> {
    Some(match op {
        BinaryOperator::Eq => CompareOp::Eq,
        BinaryOperator::NotEq => CompareOp::NotEq,
        BinaryOperator::Lt => CompareOp::Lt,
        BinaryOperator::LtEq => CompareOp::LtEq,
        BinaryOperator::Gt => CompareOp::Gt,
        BinaryOperator::GtEq => CompareOp::GtEq,
        _ => return None,
    })
}

fn convert(expr: ast::Expr) -> Result<Expr> {
    Ok(match expr {
        ast::Expr::BinaryOp {
            op: BinaryOperator::And,
            ..
        } => Expr::And(convert_chain(expr, &BinaryOperator::And)?),
        ast::Expr::BinaryOp {
            op: BinaryOperator::Or,
            ..
        } => Expr::Or(convert_chain(expr, &BinaryOperator::Or)?),
        ast::Expr::BinaryOp { left, op, right } => match compare_op(&op) {
            Some(op) => Expr::Compare {
                op,
                left: boxed(*left)?,
                right: boxed(*right)?,
            },
            None => {
                return Err(unsupported(
                    &ast::Expr::BinaryOp { left, op, right }.to_string(),
                ));
            }
        },
        ast::Expr::Identifier(ident) => Expr::Column(ident.value),
        ast::Expr::CompoundIdentifier(parts) => {
            return Err(Error::Unsupported(format!(
                "nested field {} is not supported yet",
                parts
                    .iter()
                    .map(|p| p.value.as_str())
                    .collect::<Vec<_>>()
                    .join(".")
            )));
        }
        ast::Expr::Nested(inner) => convert(*inner)?,
        ast::Expr::Value(value) => Expr::Literal(literal(value.value)?),
        ast::Expr::TypedString(typed) => {
            let text = typed.value.value.clone().into_string();
            match (&typed.data_type, text) {
                (DataType::Date, Some(text)) => Expr::Literal(Literal::Date(parse_date(&text)?)),
                (DataType::Timestamp(_, _) | DataType::Datetime(_), Some(text)) => {
                    Expr::Literal(Literal::Timestamp(parse_timestamp(&text)?))
                }
                _ => return Err(unsupported(&ast::Expr::TypedString(typed).to_string())),
            }
        }
        ast::Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr,
        } => Expr::Not(boxed(*expr)?),
        ast::Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match convert(*expr)? {
            Expr::Literal(Literal::Exact(d)) => Expr::Literal(Literal::Exact(Decimal {
                unscaled: -d.unscaled,
                scale: d.scale,
            })),
            Expr::Literal(Literal::Float(f)) => Expr::Literal(Literal::Float(-f)),
            other => return Err(unsupported(&format!("-{}", to_sql(&other)))),
        },
        ast::Expr::UnaryOp {
            op: UnaryOperator::Plus,
            expr,
        } => match convert(*expr)? {
            number @ Expr::Literal(Literal::Exact(_) | Literal::Float(_)) => number,
            other => return Err(unsupported(&format!("+{}", to_sql(&other)))),
        },
        ast::Expr::Between {
            expr,
            negated,
            low,
            high,
        } => Expr::Between {
            value: boxed(*expr)?,
            low: boxed(*low)?,
            high: boxed(*high)?,
            negated,
        },
        ast::Expr::In {
            expr,
            target: ast::InTarget::List(items),
            negated,
            global: false,
        } => Expr::InList {
            value: boxed(*expr)?,
            items: items.into_iter().map(convert).collect::<Result<_>>()?,
            negated,
        },
        ast::Expr::IsNull(value) => Expr::IsNull {
            value: boxed(*value)?,
            negated: false,
        },
        ast::Expr::IsNotNull(value) => Expr::IsNull {
            value: boxed(*value)?,
            negated: true,
        },
        ast::Expr::Like {
            negated,
            any: false,
            expr,
            pattern,
            escape_char: None,
        } => match convert(*pattern)? {
            Expr::Literal(Literal::Text(pattern)) => Expr::Like {
                value: boxed(*expr)?,
                pattern,
                negated,
            },
            other => {
                return Err(Error::Unsupported(format!(
                    "LIKE needs a string literal pattern, not {}",
                    to_sql(&other)
                )));
            }
        },
        other => return Err(unsupported(&other.to_string())),
    })
}

fn convert_chain(expr: ast::Expr, chain: &BinaryOperator) -> Result<Vec<Expr>> {
    chain_operands(expr, chain)
        .into_iter()
        .map(convert)
        .collect()
}

fn literal(value: Value) -> Result<Literal> {
    Ok(match value {
        Value::Null => Literal::Null,
        Value::Boolean(b) => Literal::Boolean(b),
        Value::SingleQuotedString(s) => Literal::Text(s),
        Value::Number(text, _) if text.contains(['e', 'E']) => Literal::Float(
            text.parse()
                .map_err(|_| Error::Syntax(format!("{text:?} is not a number")))?,
        ),
        Value::Number(text, _) => Literal::Exact(Decimal::parse(&text)?),
        other => return Err(unsupported(&other.to_string())),
    })
}

/// Parses `YYYY-MM-DD` into days since 1970-01-01.
pub(crate) fn parse_date(text: &str) -> Result<i32> {
    let date = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|error| Error::Syntax(format!("invalid DATE {text:?}: {error}")))?;
    Ok(date
        .signed_duration_since(chrono::NaiveDate::default())
        .num_days() as i32)
}

/// Parses a timestamp (`YYYY-MM-DD[ HH:MM[:SS[.fraction]]]`, optionally with
/// `T` and a UTC offset) into microseconds since 1970-01-01 00:00:00 UTC.
/// Digits beyond microseconds are truncated, as DuckDB's TIMESTAMP does.
pub(crate) fn parse_timestamp(text: &str) -> Result<i64> {
    let instant = arrow_cast::parse::string_to_datetime(&chrono::Utc, text.trim())
        .map_err(|error| Error::Syntax(format!("invalid TIMESTAMP {text:?}: {error}")))?;
    Ok(instant.timestamp_micros())
}

/// Prints an expression as SQL that [`parse_where`] reads back unchanged.
pub fn to_sql(expr: &Expr) -> String {
    match expr {
        Expr::Column(name) => format!("\"{}\"", name.replace('"', "\"\"")),
        Expr::Literal(literal) => literal_sql(literal),
        Expr::Compare { op, left, right } => {
            format!("({} {} {})", to_sql(left), op.symbol(), to_sql(right))
        }
        Expr::Between {
            value,
            low,
            high,
            negated,
        } => format!(
            "({} {}BETWEEN {} AND {})",
            to_sql(value),
            not(*negated),
            to_sql(low),
            to_sql(high)
        ),
        Expr::InList {
            value,
            items,
            negated,
        } => format!(
            "({} {}IN ({}))",
            to_sql(value),
            not(*negated),
            items.iter().map(to_sql).collect::<Vec<_>>().join(", ")
        ),
        Expr::IsNull { value, negated } => format!("({} IS {}NULL)", to_sql(value), not(*negated)),
        Expr::Like {
            value,
            pattern,
            negated,
        } => format!(
            "({} {}LIKE {})",
            to_sql(value),
            not(*negated),
            literal_sql(&Literal::Text(pattern.clone()))
        ),
        Expr::And(operands) => join_sql(operands, " AND "),
        Expr::Or(operands) => join_sql(operands, " OR "),
        Expr::Not(inner) => format!("(NOT {})", to_sql(inner)),
    }
}

fn join_sql(operands: &[Expr], separator: &str) -> String {
    let parts: Vec<String> = operands.iter().map(to_sql).collect();
    format!("({})", parts.join(separator))
}

fn not(negated: bool) -> &'static str {
    if negated { "NOT " } else { "" }
}

fn literal_sql(literal: &Literal) -> String {
    match literal {
        Literal::Null => "NULL".into(),
        Literal::Boolean(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Literal::Exact(d) => d.to_string(),
        // `{:e}` prints the shortest digits that read back as the same f64.
        Literal::Float(f) => format!("{f:e}"),
        Literal::Text(s) => format!("'{}'", s.replace('\'', "''")),
        Literal::Date(days) => {
            let date = chrono::NaiveDate::default() + chrono::Duration::days(i64::from(*days));
            format!("DATE '{}'", date.format("%Y-%m-%d"))
        }
        Literal::Timestamp(micros) => match chrono::DateTime::from_timestamp_micros(*micros) {
            Some(instant) => format!("TIMESTAMP '{}'", instant.format("%Y-%m-%d %H:%M:%S%.6f")),
            None => format!("TIMESTAMP '{micros}'"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar_round_trips_through_sql_text() {
        for clause in [
            "a = 1 AND (b <> 'x''y' OR NOT c)",
            "x BETWEEN -2.5 AND 1e3",
            "x NOT IN (1, 2, NULL)",
            "\"Weird Name\" IS NOT NULL",
            "s LIKE 'ab%' AND s NOT LIKE '_x%'",
            "d >= DATE '2020-02-29' AND t < TIMESTAMP '2021-01-01 10:00:00.123456'",
            "u = 18446744073709551615 OR f > -0.0",
            "flag = TRUE OR flag IS NULL",
        ] {
            let parsed = parse_where(clause).unwrap();
            assert_eq!(parse_where(&to_sql(&parsed)).unwrap(), parsed, "{clause}");
        }
    }

    #[test]
    fn long_chains_are_flat() {
        let clause = (0..20_000)
            .map(|i| format!("x = {i}"))
            .collect::<Vec<_>>()
            .join(" OR ");
        let Expr::Or(operands) = parse_where(&clause).unwrap() else {
            panic!()
        };
        assert_eq!(operands.len(), 20_000);
        let nested = format!("{}x = 1{}", "(".repeat(60), ")".repeat(60));
        assert!(matches!(parse_where(&nested), Err(Error::Syntax(_))));
    }

    #[test]
    fn rejects_trailing_input_and_unsupported_syntax() {
        assert!(matches!(parse_where("a = 1 b"), Err(Error::Syntax(_))));
        assert!(matches!(parse_where("a +"), Err(Error::Syntax(_))));
        assert!(matches!(parse_where("a + 1 > 2"), Err(Error::Syntax(_))));
        assert!(matches!(
            parse_where("a IN (SELECT 1)"),
            Err(Error::Syntax(_))
        ));
    }

    #[test]
    fn literals_keep_their_kind() {
        let Expr::Compare { right, .. } = parse_where("a < 2.50").unwrap() else {
            panic!()
        };
        assert_eq!(
            *right,
            Expr::Literal(Literal::Exact(Decimal {
                unscaled: 250,
                scale: 2
            }))
        );
        let Expr::Compare { right, .. } =
            parse_where("a < TIMESTAMP '1970-01-01 00:00:01'").unwrap()
        else {
            panic!()
        };
        assert_eq!(*right, Expr::Literal(Literal::Timestamp(1_000_000)));
    }
}
