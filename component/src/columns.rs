//! Finding a column by name, as SQL does: the exact name first, else the one
//! column whose name matches ignoring ASCII case.

use crate::error::{Error, Result};
use arrow_schema::Schema;

/// Columns listed in a "not found" message before it is cut short.
const LISTED_COLUMNS: usize = 30;

/// The index of the column `name` in `schema`.
pub fn find_column(schema: &Schema, name: &str) -> Result<usize> {
    if let Ok(index) = schema.index_of(name) {
        return Ok(index);
    }
    let mut matches = schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| f.name().eq_ignore_ascii_case(name));
    match (matches.next(), matches.next()) {
        (Some((index, _)), None) => Ok(index),
        _ => {
            let names: Vec<&str> = schema
                .fields()
                .iter()
                .take(LISTED_COLUMNS)
                .map(|f| f.name().as_str())
                .collect();
            let more = if schema.fields().len() > LISTED_COLUMNS {
                ", …"
            } else {
                ""
            };
            Err(Error::ColumnNotFound(format!(
                "column {name:?} not found; the file has: {}{more}",
                names.join(", ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::{DataType, Field};

    #[test]
    fn exact_then_unique_case_insensitive() {
        let schema = Schema::new(vec![
            Field::new("Id", DataType::Int32, true),
            Field::new("a", DataType::Int32, true),
            Field::new("A", DataType::Int32, true),
        ]);
        assert_eq!(find_column(&schema, "Id").unwrap(), 0);
        assert_eq!(find_column(&schema, "ID").unwrap(), 0);
        assert_eq!(find_column(&schema, "A").unwrap(), 2);
        assert!(matches!(
            find_column(&schema, "aa"),
            Err(Error::ColumnNotFound(_))
        ));
        // Two columns differ only in case: only an exact name can choose.
        let Err(Error::ColumnNotFound(message)) = find_column(&schema, "ʌ") else {
            panic!()
        };
        assert!(message.contains("Id, a, A"));
    }
}
