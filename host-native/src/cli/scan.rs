//! `quiver scan`: run a scan and write its batches in the chosen format.

use super::args::{Format, ScanArgs};
use super::explain;
use super::output::BatchWriter;
use super::sink::Sink;
use super::{Failure, session_for};
use quiver_host::bindings::filter::ComputeTier;
use quiver_host::bindings::range_fetch::FetchStats;
use quiver_host::bindings::scan::{OpenPath, OpenStats, RowFilter, ScanRequest, ScanStats};
use quiver_host::client::default_open_options;
use quiver_host::source::Source;
use serde_json::json;
use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Runs the scan described by `args`.
pub async fn run(args: ScanArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let source = Source::parse(&args.source)?;
    let format = args.format.unwrap_or_else(|| {
        if args.output.is_none() && std::io::stdout().is_terminal() {
            Format::Table
        } else {
            Format::Csv
        }
    });
    // The engine keeps within the limit itself; the instance's memory is
    // capped a little above it (10%, at least 4 MiB, so that the engine
    // starts and can refuse a limit too small), so that a mistake there
    // stops the scan cleanly.
    let memory_cap = args.memory_limit.map(|bytes| {
        let slack = (bytes / 10).max(4 << 20);
        usize::try_from(bytes.saturating_add(slack)).unwrap_or(usize::MAX)
    });
    let mut session =
        session_for(&source, &args.allow_dir, args.compute.build(), memory_cap).await?;
    let mut options = default_open_options();
    options.fetch.max_retries = args.max_retries;
    options.fetch.memory_limit = args.memory_limit;
    let file = session.open(&source.url, options).await??;
    let request = ScanRequest {
        columns: args.columns.clone(),
        filter: args.where_clause.clone().map(RowFilter::Sql),
        offset: args.offset,
        limit: args.limit,
        batch_size: args.batch_size,
        compute: Some(args.compute.preference()),
        memory_limit: args.memory_limit,
    };
    if args.explain {
        let plan = session.explain(&file, request).await??;
        let open = session.open_stats(&file).await?;
        let mut out = std::io::stdout().lock();
        return explain::print(&mut out, &source.url, &plan, &open, format == Format::Json);
    }
    let stream = session.scan(&file, request).await??;
    let sink: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::fs::File::create(path).map_err(|e| {
            anyhow::Error::from(e).context(format!("cannot create {}", path.display()))
        })?),
        None => Box::new(std::io::stdout().lock()),
    };
    let (sink, reader_gone) = Sink::new(sink);
    let schema = session.schema(&stream).await?;
    let mut writer = BatchWriter::new(format, std::io::BufWriter::new(sink), &schema)?;
    let written = async {
        while let Some(batch) = session.next_batch(&stream).await?? {
            writer.write_ipc(&batch)?;
        }
        writer.finish().map_err(Failure::from)
    };
    match written.await {
        // The reader stopped reading (`| head`): that is success, and there
        // is no one left to show statistics to on this pipe.
        Err(_) if reader_gone.get() => return Ok(()),
        outcome => outcome?,
    }
    if args.stats {
        let scan_stats = session.scan_stats(&stream).await?;
        let traffic = session.fetch_stats(&file).await?;
        let open = session.open_stats(&file).await?;
        let line = stats_json(
            &scan_stats,
            &traffic,
            &open,
            session.peak_memory_bytes(),
            started,
        );
        eprintln!("{line}");
    }
    session.close_stream(stream).await?;
    session.close_file(file).await?;
    Ok(())
}

/// The `--stats` line. Requests, bytes and round trips cover the whole
/// command: the open (footer) and the scan (page index and data).
fn stats_json(
    stats: &ScanStats,
    traffic: &FetchStats,
    open: &OpenStats,
    peak_memory_bytes: usize,
    started: Instant,
) -> serde_json::Value {
    let open_path = match open.path {
        OpenPath::SuffixRange => "suffix-range",
        OpenPath::WholeFile => "whole-file",
        OpenPath::RangeAfter416 => "range-after-416",
        OpenPath::RangeAfterProbe => "range-after-probe",
        OpenPath::LocalFile => "local-file",
    };
    json!({
        "requests": traffic.requests,
        "bytes_fetched": traffic.bytes_fetched,
        "round_trips": traffic.round_trips,
        "retries": traffic.retries,
        "open_path": open_path,
        "open_requests": open.fetch.requests,
        "bytes_footer": open.fetch.bytes_fetched,
        "bytes_index": stats.index.bytes_fetched,
        "bytes_data": stats.fetch.bytes_fetched - stats.index.bytes_fetched,
        "row_groups": stats.row_groups,
        "row_groups_pruned": stats.row_groups_pruned,
        "row_groups_scanned": stats.row_groups_scanned,
        "pages_pruned": stats.pages_pruned,
        "rows_scanned": stats.rows_scanned,
        "rows_matched": stats.rows_matched,
        "rows_returned": stats.rows_returned,
        "elapsed_ms": started.elapsed().as_millis() as u64,
        "peak_memory_bytes": peak_memory_bytes,
        "gpu_adapter": stats.gpu_adapter,
        "kernels": stats.kernels.iter().map(|kernel| json!({
            "predicate": kernel.predicate,
            "column_type": kernel.column_type,
            "tier": match kernel.tier {
                ComputeTier::Gpu => "gpu",
                ComputeTier::Simd => "simd",
                ComputeTier::Scalar => "scalar",
            },
            "reason": kernel.reason,
            "batches": kernel.batches,
            "rows": kernel.rows,
            "ms": kernel.nanos as f64 / 1e6,
        })).collect::<Vec<_>>(),
    })
}
