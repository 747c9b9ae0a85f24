//! Finding a column by name, as SQL does (the exact name first, else the one
//! column whose name matches ignoring ASCII case), and fields inside struct
//! columns by a dotted path (`user.address.city`).
//!
//! A name is first looked up whole among the top-level columns, so a column
//! whose own name holds a dot is found as it is; only then is it read as a
//! path. A resolved column is named by its [`ColumnPath::name`]: the exact
//! field names joined by dots, which resolves back to the same column.

use crate::error::{Error, Result};
use arrow_array::{Array, ArrayRef, RecordBatch, StructArray};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, Field, FieldRef, Fields, Schema};
use parquet::schema::types::SchemaDescriptor;
use std::sync::Arc;

/// Columns listed in a "not found" message before it is cut short.
const LISTED_COLUMNS: usize = 30;

/// A column of a schema: a top-level column, or a field reached from one
/// through struct fields only.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnPath {
    /// The top-level column's index.
    pub root: usize,
    /// The exact field names from the top-level column down.
    pub names: Vec<String>,
    /// The field the path ends at.
    pub field: FieldRef,
}

impl ColumnPath {
    /// The name that resolves back to this column: the field names joined by dots.
    pub fn name(&self) -> String {
        self.names.join(".")
    }
}

/// The column `name` names in `schema`: a top-level column, else a dotted
/// path through struct fields.
pub fn find_path(schema: &Schema, name: &str) -> Result<ColumnPath> {
    if let Some(root) = find_field(schema.fields(), name) {
        let field = Arc::clone(&schema.fields()[root]);
        return Ok(ColumnPath {
            root,
            names: vec![field.name().clone()],
            field,
        });
    }
    let path = walk(schema.fields(), name).ok_or_else(|| match name.split_once('.') {
        Some((first, _)) if find_field(schema.fields(), first).is_some() => {
            path_error(schema, name)
        }
        _ => not_found(schema.fields(), name, "the file has"),
    })?;
    let root = find_field(schema.fields(), &path[0].0).unwrap_or_default();
    let field = Arc::clone(&path[path.len() - 1].1);
    Ok(ColumnPath {
        root,
        names: path.into_iter().map(|(name, _)| name).collect(),
        field,
    })
}

/// The fields reached by reading `name` as `field.rest` in `fields`, each
/// with its exact name; `None` when no reading names a field.
fn walk(fields: &Fields, name: &str) -> Option<Vec<(String, FieldRef)>> {
    if let Some(index) = find_field(fields, name) {
        let field = Arc::clone(&fields[index]);
        return Some(vec![(field.name().clone(), field)]);
    }
    // Each dot may end the first name; the longest first name that leads
    // somewhere wins, so a field whose name holds a dot is found.
    for (at, _) in name
        .match_indices('.')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        let (first, rest) = (&name[..at], &name[at + 1..]);
        let Some(index) = find_field(fields, first) else {
            continue;
        };
        let field = &fields[index];
        let DataType::Struct(children) = field.data_type() else {
            continue;
        };
        if let Some(mut below) = walk(children, rest) {
            below.insert(0, (field.name().clone(), Arc::clone(field)));
            return Some(below);
        }
    }
    None
}

/// The index of the field `name`: the exact name, else the one field whose
/// name matches it ignoring ASCII case.
fn find_field(fields: &Fields, name: &str) -> Option<usize> {
    if let Some(index) = fields.iter().position(|f| f.name() == name) {
        return Some(index);
    }
    let mut matches = fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.name().eq_ignore_ascii_case(name));
    match (matches.next(), matches.next()) {
        (Some((index, _)), None) => Some(index),
        _ => None,
    }
}

/// Why a dotted `name` whose first part is a column leads nowhere: the
/// first part not found, or a part that is not a struct.
fn path_error(schema: &Schema, name: &str) -> Error {
    let mut fields = schema.fields().clone();
    let mut reached: Vec<String> = Vec::new();
    for part in name.split('.') {
        let Some(index) = find_field(&fields, part) else {
            return not_found(&fields, part, &format!("{} has", reached.join(".")));
        };
        let field = Arc::clone(&fields[index]);
        reached.push(field.name().clone());
        match field.data_type() {
            DataType::Struct(children) => fields = children.clone(),
            other => {
                return Error::ColumnNotFound(format!(
                    "{name:?}: {} is {other}, not a struct; only struct fields can be named \
                     with a dot (use len() or list_contains() on lists)",
                    reached.join(".")
                ));
            }
        }
    }
    Error::ColumnNotFound(format!("column {name:?} not found"))
}

fn not_found(fields: &Fields, name: &str, owner: &str) -> Error {
    let names: Vec<&str> = fields
        .iter()
        .take(LISTED_COLUMNS)
        .map(|f| f.name().as_str())
        .collect();
    let more = if fields.len() > LISTED_COLUMNS {
        ", …"
    } else {
        ""
    };
    Error::ColumnNotFound(format!(
        "column {name:?} not found; {owner}: {}{more}",
        names.join(", ")
    ))
}

/// The field of the column `name` in `schema` (see [`find_path`]).
pub fn field_of(schema: &Schema, name: &str) -> Option<FieldRef> {
    find_path(schema, name).ok().map(|path| path.field)
}

/// The values of the column `name` (a name from [`ColumnPath::name`]) in
/// `batch`: a field of a struct is NULL wherever a struct above it is.
pub fn column_in(batch: &RecordBatch, name: &str) -> Option<ArrayRef> {
    let path = find_path(batch.schema_ref(), name).ok()?;
    let mut array = Arc::clone(batch.column(path.root));
    for child in &path.names[1..] {
        let parent = array.as_any().downcast_ref::<StructArray>()?;
        let values = parent.column_by_name(child)?;
        let nulls = NullBuffer::union(parent.nulls(), values.nulls());
        array = arrow_array::make_array(values.to_data().into_builder().nulls(nulls).build().ok()?);
    }
    Some(array)
}

/// The Parquet leaves under the column `path` (every leaf of a list or map
/// column; the leaves of a struct's remaining fields are not included).
pub fn leaves_under(descriptor: &SchemaDescriptor, path: &ColumnPath) -> Vec<usize> {
    (0..descriptor.num_columns())
        .filter(|&leaf| {
            let column = descriptor.column(leaf);
            let parts = column.path().parts();
            parts.len() >= path.names.len() && parts.iter().zip(&path.names).all(|(a, b)| a == b)
        })
        .collect()
}

/// The one Parquet leaf that holds the values of `path` row for row: a
/// primitive column or struct field with no list above it.
pub fn leaf_of_path(descriptor: &SchemaDescriptor, path: &ColumnPath) -> Option<usize> {
    match leaves_under(descriptor, path)[..] {
        [leaf]
            if descriptor.column(leaf).max_rep_level() == 0
                && descriptor.column(leaf).path().parts().len() == path.names.len() =>
        {
            Some(leaf)
        }
        _ => None,
    }
}

/// `field` keeping only what the paths below it name (each path a list of
/// field names under `field`; an empty path keeps all of it), with struct
/// children in their own order.
pub fn prune_field(field: &Field, paths: &[&[String]]) -> Field {
    if paths.iter().any(|path| path.is_empty()) {
        return field.clone();
    }
    let DataType::Struct(children) = field.data_type() else {
        return field.clone();
    };
    let kept: Fields = children
        .iter()
        .filter_map(|child| {
            let below: Vec<&[String]> = paths
                .iter()
                .filter(|path| &path[0] == child.name())
                .map(|path| &path[1..])
                .collect();
            (!below.is_empty()).then(|| Arc::new(prune_field(child, &below)))
        })
        .collect();
    field.clone().with_data_type(DataType::Struct(kept))
}

/// `array` with the struct fields that `target` lacks dropped (its type is
/// `target`'s, pruned).
pub fn prune_array(array: &ArrayRef, target: &DataType) -> Result<ArrayRef> {
    if array.data_type() == target {
        return Ok(Arc::clone(array));
    }
    let (DataType::Struct(wanted), Some(parent)) =
        (target, array.as_any().downcast_ref::<StructArray>())
    else {
        return Err(Error::Internal(format!(
            "a column of type {} cannot be narrowed to {target}",
            array.data_type()
        )));
    };
    let children = prune_columns(wanted, |name| parent.column_by_name(name))?;
    Ok(Arc::new(StructArray::try_new(
        wanted.clone(),
        children,
        parent.nulls().cloned(),
    )?))
}

/// The columns `wanted` names, each found by name with `column` and
/// narrowed with [`prune_array`] to its field's type.
pub fn prune_columns<'a>(
    wanted: &Fields,
    column: impl Fn(&str) -> Option<&'a ArrayRef>,
) -> Result<Vec<ArrayRef>> {
    wanted
        .iter()
        .map(|field| {
            let found = column(field.name()).ok_or_else(|| {
                Error::Internal(format!("column {:?} missing from a batch", field.name()))
            })?;
            prune_array(found, field.data_type())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Int32Array;
    use arrow_buffer::BooleanBuffer;

    fn nested() -> Schema {
        let address = DataType::Struct(Fields::from(vec![
            Field::new("city", DataType::Utf8, true),
            Field::new("zip", DataType::Int32, true),
        ]));
        let user = DataType::Struct(Fields::from(vec![
            Field::new("age", DataType::Int32, true),
            Field::new("address", address, true),
            Field::new("a.b", DataType::Int32, true),
        ]));
        Schema::new(vec![
            Field::new("user", user, true),
            Field::new("x.y", DataType::Int32, true),
        ])
    }

    #[test]
    fn exact_then_unique_case_insensitive() {
        let schema = Schema::new(vec![
            Field::new("Id", DataType::Int32, true),
            Field::new("a", DataType::Int32, true),
            Field::new("A", DataType::Int32, true),
        ]);
        let root = |name: &str| find_path(&schema, name).map(|path| path.root);
        assert_eq!(root("Id").unwrap(), 0);
        assert_eq!(root("ID").unwrap(), 0);
        assert_eq!(root("A").unwrap(), 2);
        assert!(matches!(root("aa"), Err(Error::ColumnNotFound(_))));
        // Two columns differ only in case: only an exact name can choose.
        let Err(Error::ColumnNotFound(message)) = root("ʌ") else {
            panic!()
        };
        assert!(message.contains("Id, a, A"));
    }

    #[test]
    fn paths_through_structs() {
        let schema = nested();
        let city = find_path(&schema, "USER.address.City").unwrap();
        assert_eq!(city.root, 0);
        assert_eq!(city.name(), "user.address.city");
        assert_eq!(city.field.data_type(), &DataType::Utf8);
        // a top-level name holding a dot is found whole; so is a field's
        assert_eq!(find_path(&schema, "x.y").unwrap().root, 1);
        assert_eq!(
            find_path(&schema, "user.a.b").unwrap().names,
            ["user", "a.b"]
        );
        let Err(Error::ColumnNotFound(message)) = find_path(&schema, "user.address.town") else {
            panic!()
        };
        assert!(message.contains("user.address has: city, zip"), "{message}");
        let Err(Error::ColumnNotFound(message)) = find_path(&schema, "user.age.x") else {
            panic!()
        };
        assert!(message.contains("not a struct"), "{message}");
    }

    #[test]
    fn a_field_is_null_where_its_struct_is() {
        let fields = Fields::from(vec![Field::new("v", DataType::Int32, true)]);
        let values: ArrayRef = Arc::new(Int32Array::from(vec![1, 2, 3]));
        let nulls = NullBuffer::new(BooleanBuffer::from(vec![true, false, true]));
        let column = StructArray::new(fields.clone(), vec![values], Some(nulls));
        let schema = Schema::new(vec![Field::new("s", DataType::Struct(fields), true)]);
        let batch = RecordBatch::try_new(Arc::new(schema), vec![Arc::new(column)]).unwrap();
        let v = column_in(&batch, "s.v").unwrap();
        assert_eq!(v.null_count(), 1);
        assert!(v.is_null(1));
    }

    #[test]
    fn pruning_keeps_named_fields_in_file_order() {
        let schema = nested();
        let zip = ["address".to_string(), "zip".to_string()];
        let age = ["age".to_string()];
        let pruned = prune_field(schema.field(0), &[&zip, &age]);
        assert_eq!(
            pruned.data_type().to_string(),
            "Struct(\"age\": Int32, \"address\": Struct(\"zip\": Int32))"
        );
    }
}
