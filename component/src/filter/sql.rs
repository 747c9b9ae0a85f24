//! SQL text ⇄ [`Expr`]: parsing WHERE clauses with `sqlparser`, and printing
//! expressions back as SQL that parses to the same tree.

use super::{CompareOp, Decimal, Expr, Literal};
use crate::error::{Error, Result};
use sqlparser::ast::{self, BinaryOperator, DataType, UnaryOperator, Value};
use sqlparser::dialect::DuckDbDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

/// Deepest nesting of a WHERE clause's expression (operators inside
/// operators); deeper input is refused rather than risking the stack. Chains
/// like `a OR b OR c …` are flat and may be as long as needed.
const MAX_NESTING: usize = 50;

/// The parser's own limit on nesting (parentheses and operators each count),
/// roomier than [`MAX_NESTING`]: [`to_sql`] puts every operator in
/// parentheses, and what it prints must parse back.
const PARSER_NESTING: usize = 4 * MAX_NESTING;

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
        .with_recursion_limit(PARSER_NESTING)
        .try_with_sql(text)
        .map_err(syntax)?;
    let mut parsed = parser.parse_expr().map_err(syntax)?;
    if nests_deeper_than(&mut parsed, PARSER_NESTING) {
        drop_flat(parsed);
        return Err(too_deep());
    }
    let rest = parser.peek_token();
    if rest.token != Token::EOF {
        return Err(Error::Syntax(format!(
            "invalid WHERE clause {text:?}: unexpected {} after the expression",
            rest.token
        )));
    }
    convert(parsed, 1)
}

fn unsupported(text: &str) -> Error {
    Error::Syntax(format!(
        "unsupported expression `{text}`: use comparisons, BETWEEN, IN, IS [NOT] NULL, LIKE, AND, OR, NOT, len(), list_contains()"
    ))
}

fn boxed(expr: ast::Expr, depth: usize) -> Result<Box<Expr>> {
    convert(expr, depth).map(Box::new)
}

fn too_deep() -> Error {
    Error::Syntax(format!(
        "the WHERE clause nests operators more than {MAX_NESTING} deep"
    ))
}

/// The operands of the operators the parser builds; other expressions count
/// as leaves here (and are refused as unsupported).
fn operands(expr: &mut ast::Expr) -> Vec<&mut ast::Expr> {
    use ast::Expr as E;
    match expr {
        E::BinaryOp { left, right, .. }
        | E::AnyOp { left, right, .. }
        | E::AllOp { left, right, .. }
        | E::IsDistinctFrom(left, right)
        | E::IsNotDistinctFrom(left, right)
        | E::AtTimeZone {
            timestamp: left,
            time_zone: right,
        }
        | E::Like {
            expr: left,
            pattern: right,
            ..
        }
        | E::ILike {
            expr: left,
            pattern: right,
            ..
        }
        | E::SimilarTo {
            expr: left,
            pattern: right,
            ..
        }
        | E::RLike {
            expr: left,
            pattern: right,
            ..
        } => vec![left, right],
        E::Between {
            expr, low, high, ..
        } => vec![expr, low, high],
        E::In { expr, target, .. } => {
            let mut operands = vec![expr.as_mut()];
            if let ast::InTarget::List(items) = target {
                operands.extend(items);
            }
            operands
        }
        E::UnaryOp { expr, .. }
        | E::Nested(expr)
        | E::IsFalse(expr)
        | E::IsNotFalse(expr)
        | E::IsTrue(expr)
        | E::IsNotTrue(expr)
        | E::IsNull(expr)
        | E::IsNotNull(expr)
        | E::IsUnknown(expr)
        | E::IsNotUnknown(expr)
        | E::IsJson { expr, .. }
        | E::IsNormalized { expr, .. }
        | E::Cast { expr, .. }
        | E::Collate { expr, .. } => vec![expr],
        _ => Vec::new(),
    }
}

/// Whether `expr` nests operators more than `limit` deep, found in a loop:
/// the parser builds chains of infix and postfix operators (`a = b = c …`,
/// `a IS NULL IS NULL …`) without recursing, so its recursion limit does not
/// bound them, and converting, printing or dropping one recurses once per
/// operator. Chains of `AND` or `OR` count as one level: [`chain_operands`]
/// takes them apart in a loop.
fn nests_deeper_than(expr: &mut ast::Expr, limit: usize) -> bool {
    let mut pending = vec![(expr, 1)];
    while let Some((expr, depth)) = pending.pop() {
        if depth > limit {
            return true;
        }
        let chain = match expr {
            ast::Expr::BinaryOp {
                op: op @ (BinaryOperator::And | BinaryOperator::Or),
                ..
            } => Some(op.clone()),
            _ => None,
        };
        for operand in operands(expr) {
            let same_chain =
                matches!(&*operand, ast::Expr::BinaryOp { op, .. } if Some(op) == chain.as_ref());
            pending.push((operand, if same_chain { depth } else { depth + 1 }));
        }
    }
    false
}

/// Drops a parsed expression in a loop rather than by recursive drop glue.
fn drop_flat(expr: ast::Expr) {
    let mut pending = vec![expr];
    while let Some(mut expr) = pending.pop() {
        for operand in operands(&mut expr) {
            pending.push(std::mem::replace(operand, ast::Expr::value(Value::Null)));
        }
    }
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

/// Converts `expr`, which will sit `depth` levels deep in the tree (1 for
/// the root).
fn convert(expr: ast::Expr, depth: usize) -> Result<Expr> {
    if depth > MAX_NESTING {
        return Err(too_deep());
    }
    let below = depth + 1;
    Ok(match expr {
        ast::Expr::BinaryOp {
            op: BinaryOperator::And,
            ..
        } => Expr::And(convert_chain(expr, &BinaryOperator::And, below)?),
        ast::Expr::BinaryOp {
            op: BinaryOperator::Or,
            ..
        } => Expr::Or(convert_chain(expr, &BinaryOperator::Or, below)?),
        ast::Expr::BinaryOp { left, op, right } => match compare_op(&op) {
            Some(op) => Expr::Compare {
                op,
                left: boxed(*left, below)?,
                right: boxed(*right, below)?,
            },
            None => {
                return Err(unsupported(
                    &ast::Expr::BinaryOp { left, op, right }.to_string(),
                ));
            }
        },
        ast::Expr::Identifier(ident) => Expr::Column(ident.value),
        ast::Expr::CompoundIdentifier(parts) => Expr::Column(
            parts
                .iter()
                .map(|part| part.value.as_str())
                .collect::<Vec<_>>()
                .join("."),
        ),
        ast::Expr::Function(function) => convert_function(function, below)?,
        ast::Expr::Nested(inner) => convert(*inner, depth)?,
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
        } => Expr::Not(boxed(*expr, below)?),
        ast::Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match convert(*expr, depth)? {
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
        } => match convert(*expr, depth)? {
            number @ Expr::Literal(Literal::Exact(_) | Literal::Float(_)) => number,
            other => return Err(unsupported(&format!("+{}", to_sql(&other)))),
        },
        ast::Expr::Between {
            expr,
            negated,
            low,
            high,
        } => Expr::Between {
            value: boxed(*expr, below)?,
            low: boxed(*low, below)?,
            high: boxed(*high, below)?,
            negated,
        },
        ast::Expr::In {
            expr,
            target: ast::InTarget::List(items),
            negated,
            global: false,
        } => Expr::InList {
            value: boxed(*expr, below)?,
            items: (items.into_iter())
                .map(|item| convert(item, below))
                .collect::<Result<_>>()?,
            negated,
        },
        ast::Expr::IsNull(value) => Expr::IsNull {
            value: boxed(*value, below)?,
            negated: false,
        },
        ast::Expr::IsNotNull(value) => Expr::IsNull {
            value: boxed(*value, below)?,
            negated: true,
        },
        ast::Expr::Like {
            negated,
            any: false,
            expr,
            pattern,
            escape_char: None,
        } => match convert(*pattern, below)? {
            Expr::Literal(Literal::Text(pattern)) => Expr::Like {
                value: boxed(*expr, below)?,
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

/// The functions a WHERE clause may call: `len(list)` (also `length`,
/// `array_length`) and `list_contains(list, value)` (also `array_contains`,
/// `list_has`), as DuckDB names them.
fn convert_function(function: ast::Function, depth: usize) -> Result<Expr> {
    let text = function.to_string();
    let name = function.name.to_string().to_ascii_lowercase();
    let plain = function.filter.is_none()
        && function.over.is_none()
        && function.within_group.is_empty()
        && matches!(function.parameters, ast::FunctionArguments::None);
    let ast::FunctionArguments::List(list) = function.args else {
        return Err(unsupported(&text));
    };
    if !plain || list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
        return Err(unsupported(&text));
    }
    let mut args = Vec::with_capacity(list.args.len());
    for arg in list.args {
        match arg {
            ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(expr)) => {
                args.push(convert(expr, depth)?)
            }
            _ => return Err(unsupported(&text)),
        }
    }
    let arity = |wanted: usize| {
        if args.len() == wanted {
            Ok(())
        } else {
            Err(Error::Syntax(format!(
                "{name}() takes {wanted} argument{}, not {}: `{text}`",
                if wanted == 1 { "" } else { "s" },
                args.len()
            )))
        }
    };
    match name.as_str() {
        "len" | "length" | "array_length" => {
            arity(1)?;
            Ok(Expr::Length(Box::new(args.remove(0))))
        }
        "list_contains" | "array_contains" | "list_has" => {
            arity(2)?;
            let value = args.pop().map(Box::new);
            let list = args.pop().map(Box::new);
            match (list, value) {
                (Some(list), Some(value)) => Ok(Expr::ListContains { list, value }),
                _ => Err(unsupported(&text)),
            }
        }
        _ => Err(Error::Unsupported(format!(
            "unknown function {name}() in `{text}`: a WHERE clause may call len() and \
             list_contains()"
        ))),
    }
}

fn convert_chain(expr: ast::Expr, chain: &BinaryOperator, depth: usize) -> Result<Vec<Expr>> {
    chain_operands(expr, chain)
        .into_iter()
        .map(|operand| convert(operand, depth))
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
    let trimmed = text.trim();
    match arrow_cast::parse::string_to_datetime(&chrono::Utc, trimmed) {
        Ok(instant) => Ok(instant.timestamp_micros()),
        // Years outside 0000–9999, which arrow's parser refuses, written as
        // `to_sql` prints them: `+10000-01-01 04:59:59.000000`.
        Err(error) => chrono::NaiveDateTime::parse_from_str(trimmed, "%Y-%m-%d %H:%M:%S%.f")
            .map(|naive| naive.and_utc().timestamp_micros())
            .map_err(|_| Error::Syntax(format!("invalid TIMESTAMP {text:?}: {error}"))),
    }
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
        Expr::Length(value) => format!("len({})", to_sql(value)),
        Expr::ListContains { list, value } => {
            format!("list_contains({}, {})", to_sql(list), to_sql(value))
        }
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
        // `{:e}` prints the shortest digits that read back as the same f64;
        // an infinity, which it prints as `inf`, is written as a number too
        // large for a DOUBLE, which reads back as that infinity.
        Literal::Float(f) if f.is_infinite() => if *f > 0.0 { "1e999" } else { "-1e999" }.into(),
        Literal::Float(f) => format!("{f:e}"),
        Literal::Text(s) => format!("'{}'", s.replace('\'', "''")),
        Literal::Date(days) => match chrono::NaiveDate::default()
            .checked_add_signed(chrono::Duration::days(i64::from(*days)))
        {
            Some(date) => format!("DATE '{}'", date.format("%Y-%m-%d")),
            // Beyond the calendar's ±262,000 years (from another component).
            None => format!("DATE '{days}'"),
        },
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
            // Infinities printed as `inf`, read back as a column (found by
            // fuzzing), and instants that an offset moves past 9999 or before
            // year 0, printed in a form arrow's timestamp parser refused.
            "f = 1e958 OR f > -1E400",
            "t = TIMESTAMP '9999-12-31 23:59:59-05:00' OR t > TIMESTAMP '0000-01-01 00:00:00+01:00'",
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
        let nested = |n| format!("{}x = 1{}", "(".repeat(n), ")".repeat(n));
        assert!(
            parse_where(&nested(60)).is_ok(),
            "parentheses alone nest no operator"
        );
        let nested = nested(PARSER_NESTING + 1);
        assert!(matches!(parse_where(&nested), Err(Error::Syntax(_))));
    }

    #[test]
    fn nesting_is_bounded_and_what_is_allowed_prints_back() {
        // Each pattern nests one more level per repetition: 49 of them and the
        // innermost operand make the deepest expression allowed.
        for (open, close) in [
            ("NOT ", ""),
            ("a IN (", ")"),
            ("a = (", ")"),
            ("(", " = a)"),
            ("(", " IS NULL)"),
            ("a BETWEEN 1 AND (", ")"),
            ("(a OR ", ")"),
        ] {
            let clause = |n: usize| format!("{}b{}", open.repeat(n), close.repeat(n));
            let deepest = parse_where(&clause(MAX_NESTING - 1)).unwrap();
            assert_eq!(parse_where(&to_sql(&deepest)).unwrap(), deepest, "{open}");
            let error = parse_where(&clause(MAX_NESTING + 1)).unwrap_err();
            assert!(matches!(error, Error::Syntax(_)), "{open}");
        }
    }

    #[test]
    fn long_operator_chains_are_refused_without_deep_recursion() {
        // The parser builds chains of infix and postfix operators in a loop;
        // converting one recursed once per operator, and 1,000 of them
        // overflowed a 1 MiB stack (the WebAssembly default).
        for link in [" = a", " IS NULL", " + 1", " IS TRUE", "::INT", " LIKE 'x'"] {
            let clause = format!("a{}", link.repeat(100_000));
            let parsed = std::thread::Builder::new()
                .stack_size(1 << 20)
                .spawn(move || parse_where(&clause).map(drop))
                .unwrap()
                .join()
                .unwrap();
            assert!(matches!(parsed, Err(Error::Syntax(_))), "{link}");
        }
    }

    #[test]
    fn dates_beyond_the_calendar_print_without_panicking() {
        assert_eq!(
            to_sql(&Expr::Literal(Literal::Date(i32::MAX))),
            "DATE '2147483647'"
        );
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
