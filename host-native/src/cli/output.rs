//! Writing batches (received as Arrow IPC streams) as a table, CSV, JSON
//! lines or one Arrow IPC stream.
//!
//! Nested columns: the table shows them as Arrow displays them
//! (`{a: 1, b: [1, 2]}`); in JSON a struct is an object, a list an array and
//! a map an object from its keys (as strings, e.g. `{"1": "x"}`, as DuckDB
//! and Spark write them) to its values; Arrow streams carry them as they
//! are; CSV refuses them (see [`check_format`]). JSON writes nulls as
//! `null`, so that a map entry whose value is null is kept.

use super::args::Format;
use anyhow::{Context, Result};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{DataType, Field, FieldRef, Schema, SchemaRef};
use quiver_host::bindings::EngineError;
use std::io::Write;
use std::sync::Arc;

/// Refuses, before anything is written, columns that `format` cannot hold:
/// nested ones (structs, lists, maps) in CSV.
pub fn check_format(format: Format, schema: &Schema) -> Result<(), EngineError> {
    if format != Format::Csv {
        return Ok(());
    }
    let nested: Vec<&FieldRef> = schema
        .fields()
        .iter()
        .filter(|field| field.data_type().is_nested())
        .collect();
    if nested.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = nested
        .iter()
        .map(|field| format!("{:?} ({})", field.name(), short_type(field.data_type())))
        .collect();
    let hint = match nested.iter().find_map(|field| struct_leaf(field)) {
        Some(leaf) => format!("use --format json, or --columns to pick leaves like {leaf}"),
        None => "use --format json, or --columns to leave them out".to_owned(),
    };
    Err(EngineError::Unsupported(format!(
        "CSV cannot hold nested columns: {}; {hint}",
        names.join(", ")
    )))
}

/// A data type for a one-line message: in full if short, else its kind
/// (`Struct(…)`).
fn short_type(data_type: &DataType) -> String {
    let full = data_type.to_string();
    match full.split_once('(') {
        Some((kind, _)) if full.chars().count() > 40 => format!("{kind}(…)"),
        _ => full,
    }
}

/// The dotted path of the first flat field under `field` through structs
/// only (`s.a`), if it is a struct.
fn struct_leaf(field: &Field) -> Option<String> {
    let DataType::Struct(children) = field.data_type() else {
        return None;
    };
    children.iter().find_map(|child| {
        let rest = match child.data_type() {
            DataType::Struct(_) => struct_leaf(child)?,
            data_type if !data_type.is_nested() => child.name().clone(),
            _ => return None,
        };
        Some(format!("{}.{rest}", field.name()))
    })
}

/// `data_type` with the keys of its maps, at any depth, as strings where
/// they are not (JSON objects have only string keys).
fn with_string_map_keys(data_type: &DataType) -> DataType {
    let field = |field: &FieldRef| -> FieldRef {
        Arc::new(
            field
                .as_ref()
                .clone()
                .with_data_type(with_string_map_keys(field.data_type())),
        )
    };
    match data_type {
        DataType::List(item) => DataType::List(field(item)),
        DataType::LargeList(item) => DataType::LargeList(field(item)),
        DataType::FixedSizeList(item, size) => DataType::FixedSizeList(field(item), *size),
        DataType::Struct(children) => DataType::Struct(children.iter().map(field).collect()),
        DataType::Map(entries, sorted) => match entries.data_type() {
            DataType::Struct(pair) if pair.len() == 2 => {
                let key = match pair[0].data_type() {
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                        Arc::clone(&pair[0])
                    }
                    _ => Arc::new(pair[0].as_ref().clone().with_data_type(DataType::Utf8)),
                };
                let pair = DataType::Struct(vec![key, field(&pair[1])].into());
                DataType::Map(
                    Arc::new(entries.as_ref().clone().with_data_type(pair)),
                    *sorted,
                )
            }
            _ => data_type.clone(),
        },
        other => other.clone(),
    }
}

/// For JSON: the schema of batches of `schema` once their map keys are
/// strings, if that changes any column (and Arrow can cast it).
fn json_schema(schema: &Schema) -> Option<SchemaRef> {
    let fields: Vec<FieldRef> = schema
        .fields()
        .iter()
        .map(|field| {
            let keyed = with_string_map_keys(field.data_type());
            match arrow_cast::can_cast_types(field.data_type(), &keyed) {
                true => Arc::new(field.as_ref().clone().with_data_type(keyed)),
                false => Arc::clone(field),
            }
        })
        .collect();
    let changed = fields
        .iter()
        .zip(schema.fields())
        .any(|(new, old)| new.data_type() != old.data_type());
    changed.then(|| Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())))
}

/// Writes the batches of one scan in one format.
pub struct BatchWriter<W: Write> {
    schema: SchemaRef,
    out: Option<W>,
    arrow: Option<arrow_ipc::writer::StreamWriter<W>>,
    csv: Option<arrow_csv::Writer<W>>,
    json: Option<arrow_json::LineDelimitedWriter<W>>,
    /// For JSON, what batches are cast to first, if not their own schema:
    /// map keys as strings.
    json_schema: Option<SchemaRef>,
    /// Batches kept for the table, which needs every row to size its columns.
    table_rows: Vec<RecordBatch>,
    /// Whether any batch was written (arrow-csv writes the header with the first).
    wrote_batch: bool,
}

impl<W: Write> BatchWriter<W> {
    /// A writer for `format` of batches of `schema`.
    pub fn new(format: Format, out: W, schema: SchemaRef) -> Result<Self> {
        let mut writer = Self {
            schema,
            out: None,
            arrow: None,
            csv: None,
            json: None,
            json_schema: None,
            table_rows: Vec::new(),
            wrote_batch: false,
        };
        match format {
            Format::Arrow => {
                writer.arrow = Some(arrow_ipc::writer::StreamWriter::try_new(
                    out,
                    &writer.schema,
                )?)
            }
            Format::Csv => {
                writer.csv = Some(arrow_csv::WriterBuilder::new().with_header(true).build(out))
            }
            Format::Json => {
                writer.json_schema = json_schema(&writer.schema);
                // Explicit nulls: a map entry whose value is null is kept.
                writer.json = Some(
                    arrow_json::WriterBuilder::new()
                        .with_explicit_nulls(true)
                        .build(out),
                )
            }
            Format::Table => writer.out = Some(out),
        }
        Ok(writer)
    }

    /// Writes one batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.wrote_batch = true;
        if let Some(arrow) = &mut self.arrow {
            arrow.write(batch)?;
        } else if let Some(csv) = &mut self.csv {
            csv.write(batch)?;
        } else if let Some(json) = &mut self.json {
            match &self.json_schema {
                Some(schema) => json.write(&cast_batch(batch, schema)?)?,
                None => json.write(batch)?,
            }
        } else {
            self.table_rows.push(batch.clone());
        }
        Ok(())
    }

    /// Ends the output (the Arrow end marker, the table itself) and flushes it.
    pub fn finish(mut self) -> Result<()> {
        if let Some(mut arrow) = self.arrow.take() {
            arrow.finish()?;
            arrow.into_inner()?.flush()?;
        } else if let Some(csv) = self.csv.take() {
            if !self.wrote_batch {
                // arrow-csv writes the header with the first batch; an empty
                // result still gets one.
                let mut out = csv.into_inner();
                let names: Vec<&str> = self
                    .schema
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect();
                writeln!(out, "{}", names.join(","))?;
                out.flush()?;
            } else {
                csv.into_inner().flush()?;
            }
        } else if let Some(mut json) = self.json.take() {
            json.finish()?;
            json.into_inner().flush()?;
        } else if let Some(mut out) = self.out.take() {
            write_table(&mut out, &self.schema, &self.table_rows)?;
            out.flush()?;
        }
        Ok(())
    }
}

/// `batch` cast to `schema` (whose fields correspond to its columns).
fn cast_batch(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(
            |(column, field)| match column.data_type() == field.data_type() {
                true => Ok(Arc::clone(column)),
                false => arrow_cast::cast(column, field.data_type()),
            },
        )
        .collect::<Result<Vec<ArrayRef>, _>>()
        .context("map keys as JSON object keys")?;
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}

/// Renders rows as a table no wider than the terminal.
fn write_table(out: &mut impl Write, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<()> {
    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
    if let Some((terminal_size::Width(width), _)) = terminal_size::terminal_size() {
        table.set_width(width);
    }
    table.set_header(schema.fields().iter().map(|f| f.name().as_str()));
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = 0usize;
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|column| ArrayFormatter::try_new(column.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            table.add_row(formatters.iter().map(|f| f.value(row).to_string()));
        }
        rows += batch.num_rows();
    }
    for (index, field) in schema.fields().iter().enumerate() {
        if let Some(column) = table
            .column_mut(index)
            .filter(|_| field.data_type().is_numeric())
        {
            column.set_cell_alignment(comfy_table::CellAlignment::Right);
        }
    }
    writeln!(out, "{table}")?;
    writeln!(out, "{rows} row{}", if rows == 1 { "" } else { "s" })?;
    Ok(())
}
