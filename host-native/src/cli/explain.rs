//! `quiver scan --explain`: the plan of a scan, without reading data pages.

use super::Failure;
use super::args::{Format, ScanArgs};
use super::query::Query;
use super::scan::{open_options, scan_request};
use quiver_host::bindings::exports::quiver::engine::types::ByteRange;
use quiver_host::bindings::scan::{OpenStats, RowGroupVerdict, ScanPlan};
use quiver_host::dataset::Dataset;
use quiver_host::runtime::Session;
use serde_json::json;
use std::io::Write;

/// Plans the scan `args` asks for on each file `query` reads, on
/// `session`, and prints each plan: as text, or one JSON object per file
/// (files left out by their partition values are named too).
pub async fn print_files(
    out: &mut impl Write,
    session: &mut Session,
    dataset: &Dataset,
    query: &Query,
    args: &ScanArgs,
    format: Format,
) -> Result<(), Failure> {
    let as_json = format == Format::Json;
    for (index, file) in dataset.files.iter().enumerate() {
        let url = file.source.url.as_str();
        if !query.files.contains(&index) {
            if as_json {
                writeln!(out, "{}", json!({"url": url, "pruned_by": "partition"}))?;
            } else {
                writeln!(out, "pruned by partition: {url}")?;
            }
            continue;
        }
        let options = open_options(args, args.memory_limit);
        let opened = session.open(url, options).await??;
        let request = scan_request(
            args,
            query.request_of(dataset, index),
            (args.offset, args.limit),
            args.memory_limit,
            None,
        );
        let plan = session.explain(&opened, request).await??;
        let open = session.open_stats(&opened).await?;
        session.close_file(opened).await?;
        if as_json {
            writeln!(out, "{}", to_json(url, &plan, &open))?;
        } else {
            write_text(out, url, &plan, &open)?;
        }
    }
    Ok(())
}

fn verdict_name(verdict: RowGroupVerdict) -> &'static str {
    match verdict {
        RowGroupVerdict::Read => "read",
        RowGroupVerdict::PrunedByStatistics => "pruned by statistics",
        RowGroupVerdict::PrunedByPageIndex => "pruned by page index",
        RowGroupVerdict::PrunedByBloomFilter => "pruned by bloom filter",
        RowGroupVerdict::PrunedByDictionary => "pruned by dictionary",
        RowGroupVerdict::Skipped => "skipped (offset/limit)",
    }
}

fn total(ranges: &[ByteRange]) -> u64 {
    ranges.iter().map(|range| range.length).sum()
}

fn to_json(url: &str, plan: &ScanPlan, open: &OpenStats) -> serde_json::Value {
    let ranges = |ranges: &[ByteRange]| {
        ranges
            .iter()
            .map(|r| json!([r.offset, r.offset + r.length]))
            .collect::<Vec<_>>()
    };
    json!({
        "url": url,
        "file_size": plan.file_size,
        "late_materialization": plan.late_materialization,
        "row_groups": plan.row_groups.iter().map(|g| json!({
            "num_rows": g.num_rows,
            "verdict": verdict_name(g.verdict),
            "rows_selected": g.rows_selected,
            "pages_pruned": g.pages_pruned,
        })).collect::<Vec<_>>(),
        "bytes_footer": open.fetch.bytes_fetched,
        "bytes_index": plan.index.bytes_fetched,
        "first_phase": ranges(&plan.first_phase),
        "second_phase": ranges(&plan.second_phase),
        "estimated_bytes": open.fetch.bytes_fetched + plan.index.bytes_fetched
            + total(&plan.first_phase) + total(&plan.second_phase),
    })
}

fn write_text(
    out: &mut impl Write,
    url: &str,
    plan: &ScanPlan,
    open: &OpenStats,
) -> std::io::Result<()> {
    let count = |verdict: RowGroupVerdict| {
        plan.row_groups
            .iter()
            .filter(|g| g.verdict == verdict)
            .count()
    };
    writeln!(out, "plan for {url} ({} bytes)", plan.file_size)?;
    writeln!(
        out,
        "row groups: {} read, {} pruned by statistics, {} by page index, {} by bloom filter, \
         {} by dictionary, {} skipped",
        count(RowGroupVerdict::Read),
        count(RowGroupVerdict::PrunedByStatistics),
        count(RowGroupVerdict::PrunedByPageIndex),
        count(RowGroupVerdict::PrunedByBloomFilter),
        count(RowGroupVerdict::PrunedByDictionary),
        count(RowGroupVerdict::Skipped),
    )?;
    let mut groups = comfy_table::Table::new();
    groups.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    groups.set_header(["#", "rows", "verdict", "rows to read", "pages pruned"]);
    for (index, g) in plan.row_groups.iter().enumerate() {
        groups.add_row([
            index.to_string(),
            g.num_rows.to_string(),
            verdict_name(g.verdict).to_string(),
            g.rows_selected.to_string(),
            g.pages_pruned.to_string(),
        ]);
    }
    writeln!(out, "{groups}")?;
    writeln!(
        out,
        "wave 1 (open): {} request(s), {} bytes: footer{}",
        open.fetch.requests,
        open.fetch.bytes_fetched,
        if plan.index.requests == 0 {
            " and the page index, bloom filters and dictionaries it needs"
        } else {
            ""
        }
    )?;
    let mut wave = 2;
    if plan.index.requests > 0 {
        writeln!(
            out,
            "wave {wave} (page index, bloom filters, dictionaries): {} request(s), {} bytes",
            plan.index.requests, plan.index.bytes_fetched
        )?;
        wave += 1;
    }
    let phase = |out: &mut dyn Write, wave: u32, what: &str, ranges: &[ByteRange]| {
        writeln!(
            out,
            "wave {wave} ({what}): {} request(s), {} bytes",
            ranges.len(),
            total(ranges)
        )?;
        for range in ranges {
            writeln!(
                out,
                "  bytes {}-{}",
                range.offset,
                range.offset + range.length.max(1) - 1
            )?;
        }
        Ok::<(), std::io::Error>(())
    };
    if plan.late_materialization {
        phase(out, wave, "filter columns", &plan.first_phase)?;
        phase(
            out,
            wave + 1,
            "other columns where rows match; at most",
            &plan.second_phase,
        )?;
    } else {
        phase(out, wave, "all columns, one phase", &plan.first_phase)?;
    }
    let estimate = open.fetch.bytes_fetched
        + plan.index.bytes_fetched
        + total(&plan.first_phase)
        + total(&plan.second_phase);
    writeln!(
        out,
        "at most {estimate} bytes of {} ({:.1}% of the file)",
        plan.file_size,
        100.0 * estimate as f64 / plan.file_size.max(1) as f64
    )
}
