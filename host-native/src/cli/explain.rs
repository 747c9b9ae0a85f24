//! `quiver scan --explain`: the plan of a scan, without reading data pages;
//! with `--explain=analyze`, also what running it measured.

use super::Failure;
use super::args::{Explain, Format, ScanArgs};
use super::query::Query;
use super::scan::{open_options, scan_request};
use quiver_host::bindings::exports::quiver::engine::types::ByteRange;
use quiver_host::bindings::range_fetch::FetchStats;
use quiver_host::bindings::scan::{
    OpenOptions, OpenStats, RowGroupVerdict, ScanPlan, ScanRequest, ScanStats,
};
use quiver_host::dataset::Dataset;
use quiver_host::runtime::Session;
use serde_json::json;
use std::io::Write;
use std::time::{Duration, Instant};

/// Plans the scan `args` asks for on each file `query` reads, on
/// `session`, and prints each plan: as text, or one JSON object per file
/// (files left out by their partition values are named too). With
/// `--explain=analyze`, each file is then opened again and scanned, its rows
/// discarded, and what that measured is printed beside the plan.
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
        let plan = session.explain(&opened, request.clone()).await??;
        let open = session.open_stats(&opened).await?;
        session.close_file(opened).await?;
        let measured = match args.explain {
            Some(Explain::Analyze) => Some(analyze(session, url, options, request).await?),
            _ => None,
        };
        if as_json {
            let mut value = to_json(url, &plan, &open);
            if let Some(measured) = &measured {
                value["analyze"] = measured.to_json(&plan, &open);
            }
            writeln!(out, "{value}")?;
        } else {
            write_text(out, url, &plan, &open)?;
            if let Some(measured) = &measured {
                measured.write_text(out, &plan, &open)?;
            }
        }
    }
    Ok(())
}

/// What running a scan measured: its open's and its own traffic, and times.
struct Measured {
    open: OpenStats,
    scan: ScanStats,
    open_time: Duration,
    scan_time: Duration,
}

/// Opens `url` afresh and runs the scan `request`, discarding the rows.
async fn analyze(
    session: &mut Session,
    url: &str,
    options: OpenOptions,
    request: ScanRequest,
) -> Result<Measured, Failure> {
    let started = Instant::now();
    let file = session.open(url, options).await??;
    let open_time = started.elapsed();
    let open = session.open_stats(&file).await?;
    let stream = session.scan(&file, request).await??;
    while session.next_event(&stream).await??.is_some() {}
    let scan = session.scan_stats(&stream).await?;
    let scan_time = started.elapsed() - open_time;
    session.close_stream(stream).await?;
    session.close_file(file).await?;
    Ok(Measured {
        open,
        scan,
        open_time,
        scan_time,
    })
}

impl Measured {
    /// The traffic of the open and the scan together.
    fn traffic(&self) -> FetchStats {
        let (open, scan) = (&self.open.fetch, &self.scan.fetch);
        FetchStats {
            requests: open.requests + scan.requests,
            bytes_fetched: open.bytes_fetched + scan.bytes_fetched,
            round_trips: open.round_trips + scan.round_trips,
            retries: open.retries + scan.retries,
            cache_hits: open.cache_hits + scan.cache_hits,
            cache_bytes: open.cache_bytes + scan.cache_bytes,
        }
    }

    /// Bytes the open and the scan read: from the server and from the cache.
    fn bytes_read(&self) -> u64 {
        let traffic = self.traffic();
        traffic.bytes_fetched + traffic.cache_bytes
    }

    fn to_json(&self, plan: &ScanPlan, open: &OpenStats) -> serde_json::Value {
        let traffic = self.traffic();
        json!({
            "requests": traffic.requests,
            "estimated_requests": estimated_requests(plan, open),
            "round_trips": traffic.round_trips,
            "estimated_round_trips": estimated_round_trips(plan, open),
            "bytes_fetched": traffic.bytes_fetched,
            "cache_bytes": traffic.cache_bytes,
            "bytes_read": self.bytes_read(),
            "estimated_bytes": estimate(plan, open),
            "open_ms": milliseconds(self.open_time),
            "scan_ms": milliseconds(self.scan_time),
            "rows_scanned": self.scan.rows_scanned,
            "rows_matched": self.scan.rows_matched,
            "rows_returned": self.scan.rows_returned,
        })
    }

    fn write_text(
        &self,
        out: &mut impl Write,
        plan: &ScanPlan,
        open: &OpenStats,
    ) -> std::io::Result<()> {
        let traffic = self.traffic();
        let mut table = comfy_table::Table::new();
        table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
        table.set_header(["analyze", "estimated", "measured"]);
        table.add_row([
            "requests".to_string(),
            estimated_requests(plan, open).to_string(),
            traffic.requests.to_string(),
        ]);
        table.add_row([
            "round trips".to_string(),
            estimated_round_trips(plan, open).to_string(),
            traffic.round_trips.to_string(),
        ]);
        table.add_row([
            "bytes".to_string(),
            estimate(plan, open).to_string(),
            match traffic.cache_bytes {
                0 => self.bytes_read().to_string(),
                cached => format!("{} ({cached} from the cache)", self.bytes_read()),
            },
        ]);
        table.add_row([
            "time".to_string(),
            String::new(),
            format!(
                "{:.1} ms open, {:.1} ms scan",
                milliseconds(self.open_time),
                milliseconds(self.scan_time)
            ),
        ]);
        table.add_row([
            "rows".to_string(),
            String::new(),
            format!(
                "{} scanned, {} matched, {} returned",
                self.scan.rows_scanned, self.scan.rows_matched, self.scan.rows_returned
            ),
        ]);
        writeln!(out, "{table}")
    }
}

fn milliseconds(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The bytes the plan expects the scan to fetch, its open included.
fn estimate(plan: &ScanPlan, open: &OpenStats) -> u64 {
    open.fetch.bytes_fetched + plan.estimated_bytes
}

/// Requests of the open and of every wave the plan lists.
fn estimated_requests(plan: &ScanPlan, open: &OpenStats) -> u64 {
    open.fetch.requests
        + plan.index.requests
        + plan.first_phase.len() as u64
        + plan.second_phase.len() as u64
}

/// The open's round trips, and one for each wave the plan lists.
fn estimated_round_trips(plan: &ScanPlan, open: &OpenStats) -> u64 {
    open.fetch.round_trips
        + plan.index.round_trips
        + u64::from(!plan.first_phase.is_empty())
        + u64::from(!plan.second_phase.is_empty())
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
        "estimated_bytes": estimate(plan, open),
        "at_most_bytes": upper_bound(plan, open),
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
    let estimate = estimate(plan, open);
    writeln!(
        out,
        "estimated {estimate} bytes, at most {} of {} ({:.1}% of the file)",
        upper_bound(plan, open),
        plan.file_size,
        100.0 * estimate as f64 / plan.file_size.max(1) as f64
    )
}

/// The bytes the scan fetches, its open included, if every row matches.
fn upper_bound(plan: &ScanPlan, open: &OpenStats) -> u64 {
    open.fetch.bytes_fetched
        + plan.index.bytes_fetched
        + total(&plan.first_phase)
        + total(&plan.second_phase)
}
