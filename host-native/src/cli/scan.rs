//! `quiver scan`: scan one file or many, on one engine instance or several,
//! and write the batches in file order in the chosen format.

use super::args::{Format, ScanArgs};
use super::output::{BatchWriter, check_format};
use super::progress::ProgressDisplay;
use super::query::Query;
use super::sink::Sink;
use super::stats::Totals;
use super::units::{Unit, plan_units};
use super::{Failure, explain};
use anyhow::{Context, anyhow};
use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use quiver_host::access::FileAccess;
use quiver_host::bindings::scan::{OpenOptions, RowFilter, ScanRequest};
use quiver_host::client::default_open_options;
use quiver_host::dataset::Dataset;
use quiver_host::pool::{FileRef, Opened, Pool, ScanEvent};
use quiver_host::runtime::Runtime;
use std::collections::VecDeque;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// The engine's memory limit when the user sets none (its own default),
/// split among the instances of a parallel scan.
const DEFAULT_MEMORY_LIMIT: u64 = 4 << 30;

/// Runs the scan described by `args`.
pub async fn run(args: ScanArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let dataset = Dataset::resolve(&args.sources)?;
    let format = args.format.unwrap_or_else(|| {
        if args.output.is_none() && std::io::stdout().is_terminal() {
            Format::Table
        } else {
            Format::Csv
        }
    });
    let threads = args
        .threads
        .map_or_else(available_cores, usize::from)
        .clamp(1, 256);
    let component = Runtime::locate_component(args.compute.build())?;
    let mut runtime = Runtime::load_for(&component, threads as u32 + 1)?;
    if !args.no_cache {
        runtime.set_range_cache(super::cache::open(&args.cache));
    }
    let runtime = Arc::new(runtime);
    let local_files: Vec<PathBuf> = dataset
        .files
        .iter()
        .filter_map(|file| file.source.local_path.clone())
        .collect();
    let access = || FileAccess::new(&local_files, &args.allow_dir);
    let mut planner = match (&args.where_clause, dataset.partition_keys.is_empty()) {
        (Some(_), false) => Some(runtime.session_with(access()?, None).await?),
        _ => None,
    };
    let query = Query::plan(
        &dataset,
        args.where_clause.as_deref(),
        args.columns.as_deref(),
        planner.as_mut(),
    )
    .await?;
    drop(planner);
    if args.explain.is_some() {
        let mut session = runtime
            .session_with(access()?, memory_cap(args.memory_limit))
            .await?;
        let mut out = std::io::stdout().lock();
        return explain::print_files(&mut out, &mut session, &dataset, &query, &args, format).await;
    }
    let mut pool = Pool::new(Arc::clone(&runtime));
    let scanned = scan_files(&args, &dataset, &query, &mut pool, access, threads, format).await;
    // Every worker ends before the runtime does, error or not: an instance
    // cut off in the middle of a request would panic in wasmtime-wasi.
    pool.stop();
    let peak_memory_bytes = pool.finish().await?;
    // `None`: the reader stopped reading (`| head`). That is success, and
    // there is no one left to show statistics to on this pipe.
    if let (Some(totals), true) = (scanned?, args.stats) {
        eprintln!("{}", totals.to_json(peak_memory_bytes, started));
    }
    Ok(())
}

/// Opens the files `query` reads on `pool`, checks their schemas, then
/// scans them on up to `threads` instances and writes the batches in order.
/// Returns what every open and scan did, or `None` when the reader of the
/// output went away.
async fn scan_files(
    args: &ScanArgs,
    dataset: &Dataset,
    query: &Query,
    pool: &mut Pool,
    access: impl Fn() -> anyhow::Result<FileAccess> + Copy,
    threads: usize,
    format: Format,
) -> Result<Option<Totals>, Failure> {
    // Files are opened first, on up to one instance per file, so that their
    // schemas are checked before any row is written.
    let opening: Vec<usize> = match query.files.is_empty() {
        true => vec![0], // only for the schema of an empty answer
        false => query.files.clone(),
    };
    let openers = threads.min(opening.len());
    let open_limit = instance_limit(args.memory_limit, openers);
    pool.add_workers(openers, access, memory_cap(open_limit))
        .await?;
    let options = open_options(args, open_limit);
    let replies: Vec<_> = opening
        .iter()
        .enumerate()
        .map(|(position, &file)| pool.open(position % openers, file_ref(dataset, file), options))
        .collect();
    let mut opened: Vec<Opened> = Vec::with_capacity(replies.len());
    for reply in replies {
        opened.push(
            reply
                .await
                .map_err(|_| anyhow!("an engine worker stopped"))???,
        );
    }
    let first = (
        dataset.files[opening[0]].source.url.as_str(),
        &opened[0].metadata,
    );
    for (position, file) in opened.iter().enumerate().skip(1) {
        let url = dataset.files[opening[position]].source.url.as_str();
        query.check_schema(first, (url, &file.metadata))?;
    }
    let units: Vec<Unit> = match query.files.is_empty() {
        true => Vec::new(),
        false => plan_units(&opened, openers, threads, args.min_split_bytes),
    };
    let workers = units.iter().map(|unit| unit.worker + 1).max().unwrap_or(1);
    let scan_limit = instance_limit(args.memory_limit, workers.max(openers));
    pool.add_workers(
        workers.saturating_sub(openers),
        access,
        memory_cap(scan_limit),
    )
    .await?;
    // A worker ahead of the writer may keep a quarter of its instance's
    // limit in batches not written yet, on the host.
    let buffer_bytes = scan_limit.unwrap_or(DEFAULT_MEMORY_LIMIT) / 4;
    // One unit takes the offset and limit itself; across several, each
    // returns at most offset + limit rows and the rows are cut here.
    let (engine_window, mut window) = match units.len() {
        1 => ((args.offset, args.limit), RowWindow::everything()),
        _ => (
            (
                None,
                args.limit
                    .map(|limit| limit.saturating_add(args.offset.unwrap_or(0))),
            ),
            RowWindow::new(args.offset.unwrap_or(0), args.limit),
        ),
    };
    let mut receivers: VecDeque<_> = units
        .iter()
        .map(|unit| {
            let file = query.files[unit.position];
            let request = scan_request(
                args,
                query.request_of(dataset, file),
                engine_window,
                scan_limit,
                unit.row_groups.clone(),
            );
            let receiver = pool.scan(
                unit.worker,
                file_ref(dataset, file),
                options,
                request,
                buffer_bytes,
            );
            (file, receiver)
        })
        .collect();

    // The output's schema is that of the first scan's batches (with no file
    // to read, of a scan of no row groups of the first file opened).
    let mut schema_only = match receivers.is_empty() {
        true => {
            let file = opening[0];
            let (columns, _) = query.request_of(dataset, file);
            let window = (None, None);
            let request = scan_request(args, (columns, None), window, scan_limit, Some(Vec::new()));
            Some(pool.scan(0, file_ref(dataset, file), options, request, buffer_bytes))
        }
        false => None,
    };
    let first_events = match (&mut schema_only, receivers.front_mut()) {
        (Some(events), _) | (None, Some((_, events))) => events,
        (None, None) => return Err(anyhow!("no scan to take the output's schema from").into()),
    };
    let scan_schema = match first_events.recv().await {
        Some(ScanEvent::Schema(ipc)) => StreamReader::try_new(&ipc[..], None)
            .context("the engine sent an invalid schema")?
            .schema(),
        Some(ScanEvent::Failed(error)) => return Err(Failure::Engine(error)),
        Some(ScanEvent::Broken(error)) => return Err(Failure::Host(error)),
        _ => return Err(anyhow!("a scan ended before sending its schema").into()),
    };
    let layout = query.layout(dataset, &scan_schema)?;
    check_format(format, &layout.schema)?;

    let scans = units
        .iter()
        .zip(&receivers)
        .map(|(unit, (_, receiver))| {
            let at_most = unit.compressed_bytes(&opened[unit.position]);
            (receiver.progress(), at_most)
        })
        .collect();
    let progress = ProgressDisplay::start(scans, args.quiet);

    let mut totals = Totals::new(dataset, query, workers.max(openers));
    for open in &opened {
        totals.add_open(&open.open);
    }
    let sink: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::fs::File::create(path).map_err(|e| {
            anyhow::Error::from(e).context(format!("cannot create {}", path.display()))
        })?),
        None => Box::new(std::io::stdout().lock()),
    };
    let (sink, reader_gone) = Sink::new(sink);
    let mut writer = BatchWriter::new(
        format,
        std::io::BufWriter::new(sink),
        Arc::clone(&layout.schema),
    )?;
    let written = async {
        'units: while let Some((file, events)) = receivers.front_mut() {
            while let Some(event) = events.recv().await {
                match event {
                    ScanEvent::Batch(ipc) => {
                        for batch in decode(&ipc)? {
                            let batch = layout.assemble(dataset, *file, &batch)?;
                            if let Some(batch) = window.cut(batch) {
                                totals.rows_returned += batch.num_rows() as u64;
                                writer.write(&batch)?;
                            }
                            if window.is_full() {
                                break 'units;
                            }
                        }
                    }
                    ScanEvent::Finished { stats, opens } => {
                        totals.add_scan(*file, &stats, &opens);
                    }
                    ScanEvent::Schema(_) => {} // the layout was made from the first
                    ScanEvent::Failed(error) => return Err(Failure::Engine(error)),
                    ScanEvent::Broken(error) => return Err(Failure::Host(error)),
                }
            }
            receivers.pop_front();
        }
        writer.finish().map_err(Failure::from)
    };
    let written = written.await;
    drop(progress); // cleared before anything else is printed on stderr
    match written {
        // The reader stopped reading (`| head`): that is success, and there
        // is no one left to show statistics to on this pipe.
        Err(_) if reader_gone.get() => return Ok(None),
        outcome => outcome?,
    }
    // The limit may have been reached before every scan ended: stop them,
    // and count what they did.
    pool.stop();
    if let Some(mut events) = schema_only {
        while events.recv().await.is_some() {}
    }
    for (file, mut events) in receivers {
        while let Some(event) = events.recv().await {
            if let ScanEvent::Finished { stats, opens } = event {
                totals.add_scan(file, &stats, &opens);
            }
        }
    }
    Ok(Some(totals))
}

/// The batches of one IPC stream from the engine.
fn decode(ipc: &[u8]) -> anyhow::Result<Vec<RecordBatch>> {
    StreamReader::try_new(ipc, None)
        .and_then(|reader| reader.collect())
        .context("the engine sent an invalid batch")
}

/// What the workers call file `index` of the dataset.
fn file_ref(dataset: &Dataset, index: usize) -> FileRef {
    FileRef {
        index,
        url: dataset.files[index].source.url.clone(),
    }
}

/// The scan request of one file: what `args` asks (`file_part` being the
/// columns and filter the query asks of that file), with this offset and
/// limit, memory limit and row groups.
pub(super) fn scan_request(
    args: &ScanArgs,
    file_part: (Option<Vec<String>>, Option<RowFilter>),
    (offset, limit): (Option<u64>, Option<u64>),
    memory_limit: Option<u64>,
    row_groups: Option<Vec<u32>>,
) -> ScanRequest {
    let (columns, filter) = file_part;
    ScanRequest {
        columns,
        filter,
        offset,
        limit,
        batch_size: args.batch_size,
        compute: Some(args.compute.preference()),
        memory_limit,
        row_groups,
    }
}

/// The open options of every file.
pub(super) fn open_options(args: &ScanArgs, memory_limit: Option<u64>) -> OpenOptions {
    let mut options = default_open_options();
    options.fetch.max_retries = args.max_retries;
    options.fetch.memory_limit = memory_limit;
    options.fetch.cache = Some(!args.no_cache);
    options
}

/// The memory limit of each of `instances` instances: the user's (or the
/// default) split evenly; a lone instance gets the user's as it is.
fn instance_limit(total: Option<u64>, instances: usize) -> Option<u64> {
    match instances {
        0 | 1 => total,
        n => Some(total.unwrap_or(DEFAULT_MEMORY_LIMIT) / n as u64),
    }
}

/// The cap on an instance's linear memory for an engine limit of `limit`:
/// the engine keeps within the limit itself; the cap sits a little above
/// it (10%, at least 4 MiB, so that the engine starts and can refuse a
/// limit too small), so that a mistake there stops the scan cleanly.
fn memory_cap(limit: Option<u64>) -> Option<usize> {
    limit.map(|bytes| {
        let slack = (bytes / 10).max(4 << 20);
        usize::try_from(bytes.saturating_add(slack)).unwrap_or(usize::MAX)
    })
}

/// The cores this process may use (1 when unknown).
fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| cores.get())
}

/// The rows to keep from a run of batches: skip some, then take at most so
/// many.
struct RowWindow {
    skip: u64,
    take: Option<u64>,
}

impl RowWindow {
    fn everything() -> Self {
        Self::new(0, None)
    }

    fn new(skip: u64, take: Option<u64>) -> Self {
        Self { skip, take }
    }

    /// The part of `batch` inside the window (`None`: no row of it).
    fn cut(&mut self, batch: RecordBatch) -> Option<RecordBatch> {
        let rows = batch.num_rows() as u64;
        let skipped = self.skip.min(rows);
        self.skip -= skipped;
        let taken = self
            .take
            .map_or(rows - skipped, |take| take.min(rows - skipped));
        if let Some(take) = &mut self.take {
            *take -= taken;
        }
        if taken == 0 && rows > 0 {
            return None;
        }
        Some(batch.slice(skipped as usize, taken as usize))
    }

    /// Whether no more rows can be kept.
    fn is_full(&self) -> bool {
        self.take == Some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Int64Array};

    fn batch(values: std::ops::Range<i64>) -> RecordBatch {
        let column: ArrayRef = Arc::new(Int64Array::from_iter_values(values));
        RecordBatch::try_from_iter([("v", column)]).unwrap()
    }

    fn values(batch: &RecordBatch) -> Vec<i64> {
        let column = batch.column(0).as_any().downcast_ref::<Int64Array>();
        column.unwrap().values().to_vec()
    }

    #[test]
    fn the_window_skips_then_takes_across_batches() {
        let mut window = RowWindow::new(3, Some(4));
        assert!(window.cut(batch(0..2)).is_none(), "all skipped");
        assert_eq!(values(&window.cut(batch(2..5)).unwrap()), [3, 4]);
        assert!(!window.is_full());
        assert_eq!(values(&window.cut(batch(5..10)).unwrap()), [5, 6]);
        assert!(window.is_full());
        let mut everything = RowWindow::everything();
        assert_eq!(values(&everything.cut(batch(0..3)).unwrap()), [0, 1, 2]);
        assert_eq!(everything.cut(batch(0..0)).unwrap().num_rows(), 0);
    }
}
