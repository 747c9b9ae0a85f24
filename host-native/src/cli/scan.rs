//! `quiver scan`: run a scan and write its batches in the chosen format.

use super::args::{Format, ScanArgs};
use super::output::BatchWriter;
use super::sink::Sink;
use super::{Failure, session_for};
use quiver_host::bindings::scan::{RowFilter, ScanRequest, ScanStats};
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
    let mut session = session_for(&source).await?;
    let file = session.open(&source.url, default_open_options()).await??;
    let request = ScanRequest {
        columns: args.columns.clone(),
        filter: args.where_clause.clone().map(RowFilter::Sql),
        offset: args.offset,
        limit: args.limit,
        batch_size: None,
    };
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
        let line = stats_json(
            &scan_stats,
            traffic.requests,
            traffic.bytes_fetched,
            started,
        );
        eprintln!("{line}");
    }
    session.close_stream(stream).await?;
    session.close_file(file).await?;
    Ok(())
}

/// The `--stats` line. Requests and bytes cover the whole command: the open
/// (footer) and the scan.
fn stats_json(
    stats: &ScanStats,
    requests: u64,
    bytes_fetched: u64,
    started: Instant,
) -> serde_json::Value {
    json!({
        "requests": requests,
        "bytes_fetched": bytes_fetched,
        "row_groups": stats.row_groups,
        "row_groups_scanned": stats.row_groups_scanned,
        "rows_scanned": stats.rows_scanned,
        "rows_matched": stats.rows_matched,
        "rows_returned": stats.rows_returned,
        "elapsed_ms": started.elapsed().as_millis() as u64,
        "gpu_adapter": stats.gpu_adapter,
    })
}
