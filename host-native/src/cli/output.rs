//! Writing batches (received as Arrow IPC streams) as a table, CSV, JSON
//! lines or one Arrow IPC stream.

use super::args::Format;
use anyhow::Result;
use arrow_array::RecordBatch;
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::SchemaRef;
use std::io::Write;

/// Writes the batches of one scan in one format.
pub struct BatchWriter<W: Write> {
    schema: SchemaRef,
    out: Option<W>,
    arrow: Option<arrow_ipc::writer::StreamWriter<W>>,
    csv: Option<arrow_csv::Writer<W>>,
    json: Option<arrow_json::LineDelimitedWriter<W>>,
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
            Format::Json => writer.json = Some(arrow_json::LineDelimitedWriter::new(out)),
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
            json.write(batch)?;
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
