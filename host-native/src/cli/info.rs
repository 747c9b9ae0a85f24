//! `quiver info`: a file's footer, as text or one JSON object.

use super::{Failure, session_for};
use quiver_host::bindings::scan::{FileMetadata, LayoutAdvice};
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
        "schema": metadata.schema_tree.iter().map(|n| json!({
            "name": n.name,
            "depth": n.depth,
            "repetition": n.repetition,
            "physical_type": n.physical_type,
            "logical_type": n.logical_type,
            "arrow_type": n.arrow_type,
        })).collect::<Vec<_>>(),
        "row_groups": metadata.row_groups.iter().map(|g| json!({
            "num_rows": g.num_rows,
            "compressed_size": g.compressed_size,
            "uncompressed_size": g.uncompressed_size,
        })).collect::<Vec<_>>(),
        "key_value": metadata.key_value.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
        "layout": metadata.layout_advice.iter().map(|a| json!({
            "rule": a.rule,
            "columns": a.columns,
            "reason": a.reason,
            "fix": a.fix,
        })).collect::<Vec<_>>(),
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
    writeln!(out, "\nschema:")?;
    let mut schema = comfy_table::Table::new();
    schema
        .load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
    // Long Arrow types wrap to fit a terminal; piped output keeps them whole.
    if let Some((terminal_size::Width(width), _)) =
        terminal_size::terminal_size_of(std::io::stdout())
    {
        schema.set_width(width);
    }
    schema.set_header([
        "column",
        "physical type",
        "logical type",
        "repetition",
        "arrow type",
    ]);
    let depths: Vec<u32> = metadata.schema_tree.iter().map(|n| n.depth).collect();
    for (node, prefix) in metadata.schema_tree.iter().zip(tree_prefixes(&depths)) {
        schema.add_row([
            format!("{prefix}{}", node.name),
            node.physical_type.clone().unwrap_or_default(),
            node.logical_type.clone().unwrap_or_default(),
            node.repetition.clone(),
            node.arrow_type.clone().unwrap_or_default(),
        ]);
    }
    writeln!(out, "{schema}")?;
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
    writeln!(out, "{groups}")?;
    write_layout(out, &metadata.layout_advice)
}

/// The layout section: what makes remote reads of the file slow, each with
/// its reason and fix, or a line saying nothing does.
fn write_layout(out: &mut impl Write, advice: &[LayoutAdvice]) -> std::io::Result<()> {
    writeln!(out, "\nlayout:")?;
    if advice.is_empty() {
        return writeln!(out, "  well laid out for remote reads: nothing to change");
    }
    for item in advice {
        let columns = match item.columns.is_empty() {
            true => String::new(),
            false => format!(" ({})", item.columns.join(", ")),
        };
        writeln!(out, "  - {}{columns}: {}", item.rule, item.reason)?;
        writeln!(out, "    fix: {}", item.fix)?;
    }
    Ok(())
}

/// The tree drawing before each name of a schema listed in pre-order with
/// these depths: nothing for top-level columns, then one `│  ` (or blank,
/// under a last child) per level and `├─ `, or `└─ ` for a last child.
fn tree_prefixes(depths: &[u32]) -> Vec<String> {
    // Whether the node at each position has a sibling after it: a later node
    // at its depth before any shallower one.
    let has_next: Vec<bool> = depths
        .iter()
        .enumerate()
        .map(|(index, &depth)| {
            depths[index + 1..]
                .iter()
                .take_while(|&&later| later >= depth)
                .any(|&later| later == depth)
        })
        .collect();
    // `open[k]`: whether the current ancestor at depth k + 1 has a next sibling.
    let mut open: Vec<bool> = Vec::new();
    depths
        .iter()
        .zip(&has_next)
        .map(|(&depth, &next)| {
            let depth = depth as usize;
            if depth == 0 {
                open.clear();
                return String::new();
            }
            open.truncate(depth - 1);
            let mut prefix: String = open
                .iter()
                .map(|&more| if more { "│  " } else { "   " })
                .collect();
            prefix.push_str(if next { "├─ " } else { "└─ " });
            open.push(next);
            prefix
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::tree_prefixes;

    #[test]
    fn tree_prefixes_draw_branches_and_last_children() {
        // id; s { a; items (list { element { x; y } }) }; m
        let depths = [0, 0, 1, 1, 2, 3, 4, 4, 0];
        assert_eq!(
            tree_prefixes(&depths),
            [
                "",
                "",
                "├─ ",
                "└─ ",
                "   └─ ",
                "      └─ ",
                "         ├─ ",
                "         └─ ",
                "",
            ]
        );
        assert_eq!(
            tree_prefixes(&[0, 1, 2, 1, 0]),
            ["", "├─ ", "│  └─ ", "└─ ", ""]
        );
    }
}
