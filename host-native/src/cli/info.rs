//! `quiver info`: a file's footer, as text or one JSON object.

use super::{Failure, session_for};
use quiver_host::bindings::scan::FileMetadata;
use quiver_host::client::default_open_options;
use quiver_host::source::Source;
use serde_json::json;
use std::io::Write;

/// Opens `source`, reads its footer and prints it; the engine may read
/// `allowed_directories` too.
pub async fn run(
    source: &str,
    as_json: bool,
    allowed_directories: &[std::path::PathBuf],
) -> Result<(), Failure> {
    let source = Source::parse(source)?;
    let build = quiver_host::runtime::Build::Simd;
    let mut session = session_for(&source, allowed_directories, build, None).await?;
    let file = session.open(&source.url, default_open_options()).await??;
    let metadata = session.metadata(&file).await?;
    let mut out = std::io::stdout().lock();
    if as_json {
        writeln!(out, "{}", to_json(&source.url, &metadata))?;
    } else {
        write_text(&mut out, &source.url, &metadata)?;
    }
    Ok(())
}

fn to_json(url: &str, metadata: &FileMetadata) -> serde_json::Value {
    json!({
        "url": url,
        "size": metadata.size,
        "etag": metadata.etag,
        "num_rows": metadata.num_rows,
        "version": metadata.version,
        "created_by": metadata.created_by,
        "columns": metadata.columns.iter().map(|c| json!({
            "name": c.name,
            "physical_type": c.physical_type,
            "logical_type": c.logical_type,
            "arrow_type": c.arrow_type,
            "nullable": c.nullable,
        })).collect::<Vec<_>>(),
        "row_groups": metadata.row_groups.iter().map(|g| json!({
            "num_rows": g.num_rows,
            "compressed_size": g.compressed_size,
            "uncompressed_size": g.uncompressed_size,
        })).collect::<Vec<_>>(),
        "key_value": metadata.key_value.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
    })
}

fn write_text(out: &mut impl Write, url: &str, metadata: &FileMetadata) -> std::io::Result<()> {
    writeln!(out, "file:       {url}")?;
    writeln!(out, "size:       {} bytes", metadata.size)?;
    writeln!(
        out,
        "rows:       {} in {} row groups",
        metadata.num_rows,
        metadata.row_groups.len()
    )?;
    writeln!(
        out,
        "created by: {}",
        metadata.created_by.as_deref().unwrap_or("(unknown)")
    )?;
    writeln!(out, "format:     version {}", metadata.version)?;
    writeln!(out, "\ncolumns:")?;
    let mut columns = comfy_table::Table::new();
    columns.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    columns.set_header([
        "name",
        "physical type",
        "logical type",
        "arrow type",
        "nullable",
    ]);
    for c in &metadata.columns {
        let logical = c.logical_type.as_deref().unwrap_or("");
        columns.add_row([
            c.name.as_str(),
            &c.physical_type,
            logical,
            &c.arrow_type,
            if c.nullable { "yes" } else { "no" },
        ]);
    }
    writeln!(out, "{columns}")?;
    writeln!(out, "\nrow groups:")?;
    let mut groups = comfy_table::Table::new();
    groups.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    groups.set_header(["#", "rows", "compressed bytes", "uncompressed bytes"]);
    for (index, g) in metadata.row_groups.iter().enumerate() {
        groups.add_row([
            index.to_string(),
            g.num_rows.to_string(),
            g.compressed_size.to_string(),
            g.uncompressed_size.to_string(),
        ]);
    }
    writeln!(out, "{groups}")
}
