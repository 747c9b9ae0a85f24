//! Several engine instances working at once, one tokio task each, all made
//! from one compiled component (and one pooling allocator, see
//! [`Runtime::load_for`]).
//!
//! Each worker owns its instance and keeps the files it opened. It takes
//! jobs in the order they were given to it: opening a file, or scanning
//! some of a file's row groups into a channel of its own. The caller reads
//! the channels in whatever order it wants the rows in. A channel holds at
//! most so many bytes of batches, so a worker ahead of the reader keeps
//! working until then, and waits instead of piling up memory.

use crate::access::FileAccess;
use crate::bindings::EngineError;
use crate::bindings::scan::{
    FileMetadata, OpenOptions, OpenStats, ScanEvent as WitScanEvent, ScanProgress, ScanRequest,
    ScanStats,
};
use crate::client::ParquetFile;
use crate::runtime::{Runtime, Session};
use anyhow::Result;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// Batches are counted against a channel's room in KiB.
const KIB: usize = 1024;

/// A file as the workers know it: its place in the query and its URL.
#[derive(Debug, Clone)]
pub struct FileRef {
    /// Its index among the query's files (the key workers keep it under).
    pub index: usize,
    /// The URL the engine opens.
    pub url: String,
}

/// What opening a file told.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The footer's metadata.
    pub metadata: FileMetadata,
    /// What the open cost.
    pub open: OpenStats,
}

/// What a worker sends about one scan, in order: its schema, batches, then
/// one end (or only an end, where the scan did not start).
pub enum ScanEvent {
    /// The schema of the scan's batches, an Arrow IPC stream.
    Schema(Vec<u8>),
    /// The next batch, an Arrow IPC stream.
    Batch(Vec<u8>),
    /// The scan ended: what it did, and the opens it needed (a file this
    /// worker had not opened yet).
    Finished {
        /// The scan's statistics.
        stats: ScanStats,
        /// Opens made for this scan.
        opens: Vec<OpenStats>,
    },
    /// The engine refused or failed the scan with a typed error.
    Failed(EngineError),
    /// The instance trapped or the host failed.
    Broken(anyhow::Error),
}

/// The outer layer fails on a trap or host failure, the inner one carries
/// the engine's typed error.
type Outcome<T> = Result<Result<T, EngineError>>;

enum Job {
    Open {
        file: FileRef,
        options: OpenOptions,
        reply: oneshot::Sender<Outcome<Opened>>,
    },
    Scan {
        file: FileRef,
        options: OpenOptions,
        request: ScanRequest,
        events: EventSender,
    },
}

/// The latest progress of a scan (`None` until it has started).
pub type ProgressWatch = watch::Receiver<Option<ScanProgress>>;

/// The sending side of a scan's channel: waits for room before each batch.
struct EventSender {
    events: mpsc::UnboundedSender<ScanEvent>,
    room: Arc<Semaphore>,
    capacity_kib: u32,
    progress: watch::Sender<Option<ScanProgress>>,
}

impl EventSender {
    /// Sends `event`, first waiting for room for a batch; false when the
    /// reader is gone.
    async fn send(&self, event: ScanEvent) -> bool {
        if let ScanEvent::Batch(batch) = &event {
            let kib = batch_kib(batch.len(), self.capacity_kib);
            match self.room.acquire_many(kib).await {
                Ok(permit) => permit.forget(),
                Err(_) => return false, // closed: the reader is gone
            }
        }
        self.events.send(event).is_ok()
    }
}

/// The batches and end of one scan, in order (see [`Pool::scan`]).
pub struct ScanReceiver {
    events: mpsc::UnboundedReceiver<ScanEvent>,
    room: Arc<Semaphore>,
    capacity_kib: u32,
    progress: ProgressWatch,
}

impl ScanReceiver {
    /// The scan's progress, as the engine reports it after each batch and
    /// each wave of requests (the worker updates it ahead of the events read
    /// here).
    pub fn progress(&self) -> ProgressWatch {
        self.progress.clone()
    }

    /// The next event, or `None` once the worker has sent its last.
    pub async fn recv(&mut self) -> Option<ScanEvent> {
        let event = self.events.recv().await?;
        if let ScanEvent::Batch(batch) = &event {
            self.room
                .add_permits(batch_kib(batch.len(), self.capacity_kib) as usize);
        }
        Some(event)
    }
}

impl Drop for ScanReceiver {
    fn drop(&mut self) {
        // A worker waiting for room learns that no one will read.
        self.room.close();
    }
}

/// The room a batch of `bytes` takes: its KiB, at least 1 and at most the
/// whole channel (a bigger batch then waits for an empty channel).
fn batch_kib(bytes: usize, capacity_kib: u32) -> u32 {
    u32::try_from(bytes.div_ceil(KIB))
        .unwrap_or(u32::MAX)
        .clamp(1, capacity_kib)
}

/// A set of workers, each with its own engine instance.
pub struct Pool {
    runtime: Arc<Runtime>,
    jobs: Vec<mpsc::UnboundedSender<Job>>,
    tasks: Vec<JoinHandle<usize>>,
    /// Set once the caller needs no more batches.
    stop: Arc<AtomicBool>,
}

impl Pool {
    /// A pool of no workers yet, whose instances `runtime` will make.
    pub fn new(runtime: Arc<Runtime>) -> Self {
        Self {
            runtime,
            jobs: Vec::new(),
            tasks: Vec::new(),
            stop: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Starts `count` more workers, each with an instance that reads what
    /// `access` allows and whose linear memory is capped at `memory_cap`.
    pub async fn add_workers(
        &mut self,
        count: usize,
        access: impl Fn() -> Result<FileAccess>,
        memory_cap: Option<usize>,
    ) -> Result<()> {
        for _ in 0..count {
            let session = self.runtime.session_with(access()?, memory_cap).await?;
            let (sender, receiver) = mpsc::unbounded_channel();
            self.jobs.push(sender);
            let stop = Arc::clone(&self.stop);
            self.tasks.push(tokio::spawn(work(session, receiver, stop)));
        }
        Ok(())
    }

    /// Has `worker` open `file`; the answer comes once it is done (after the
    /// jobs given to it before).
    pub fn open(
        &self,
        worker: usize,
        file: FileRef,
        options: OpenOptions,
    ) -> oneshot::Receiver<Outcome<Opened>> {
        let (reply, answer) = oneshot::channel();
        // A worker that is gone drops the reply: the receiver then says so.
        let _ = self.jobs[worker].send(Job::Open {
            file,
            options,
            reply,
        });
        answer
    }

    /// Has `worker` scan `file` (opening it first with `options` if it has
    /// not yet), then close it; the batches and the end come through the
    /// returned channel, which holds up to `buffer_bytes` of batches not
    /// read yet. Dropping the receiver stops the scan at its next batch.
    pub fn scan(
        &self,
        worker: usize,
        file: FileRef,
        options: OpenOptions,
        request: ScanRequest,
        buffer_bytes: u64,
    ) -> ScanReceiver {
        let capacity_kib = u32::try_from(buffer_bytes / KIB as u64)
            .unwrap_or(u32::MAX)
            .clamp(1, Semaphore::MAX_PERMITS as u32);
        let room = Arc::new(Semaphore::new(capacity_kib as usize));
        let (sender, events) = mpsc::unbounded_channel();
        let (progress_sender, progress) = watch::channel(None);
        let receiver = ScanReceiver {
            events,
            room: Arc::clone(&room),
            capacity_kib,
            progress,
        };
        let events = EventSender {
            events: sender,
            room,
            capacity_kib,
            progress: progress_sender,
        };
        let _ = self.jobs[worker].send(Job::Scan {
            file,
            options,
            request,
            events,
        });
        receiver
    }

    /// Ends every job early: a running scan stops before its next batch
    /// and sends its end (with what it did so far); scans and opens not
    /// started yet end without an answer.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Waits for every worker to finish its jobs and returns the sum of
    /// their instances' peak memory, in bytes.
    pub async fn finish(self) -> Result<usize> {
        drop(self.jobs);
        let mut peak = 0;
        for task in self.tasks {
            peak += task.await?;
        }
        Ok(peak)
    }
}

/// A worker's loop: runs its jobs in order, then closes its files and
/// returns its instance's peak memory.
async fn work(
    mut session: Session,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    stop: Arc<AtomicBool>,
) -> usize {
    let mut files: HashMap<usize, ParquetFile> = HashMap::new();
    while let Some(job) = jobs.recv().await {
        match job {
            Job::Open {
                file,
                options,
                reply,
            } => {
                if stop.load(Ordering::Relaxed) {
                    continue; // the caller gave up: dropping the reply tells it
                }
                let opened = open(&mut session, &mut files, &file, options).await;
                let answer = match opened {
                    Ok(Ok(Some(open))) => describe(&mut session, &files[&file.index], open).await,
                    Ok(Ok(None)) => Ok(Err(EngineError::Internal(format!(
                        "{} was opened twice by one worker",
                        file.url
                    )))),
                    Ok(Err(error)) => Ok(Err(error)),
                    Err(error) => Err(error),
                };
                let _ = reply.send(answer);
            }
            Job::Scan {
                file,
                options,
                request,
                events,
            } => {
                if stop.load(Ordering::Relaxed) {
                    continue;
                }
                let scanned = scan(
                    &mut session,
                    &mut files,
                    &file,
                    options,
                    request,
                    &events,
                    &stop,
                );
                let end = match scanned.await {
                    Ok(Ok(Some(end))) => Some(end),
                    Ok(Ok(None)) => None, // the reader is gone
                    Ok(Err(error)) => Some(ScanEvent::Failed(error)),
                    Err(error) => Some(ScanEvent::Broken(error)),
                };
                // Its footer and tail are no longer needed here.
                if let Some(opened) = files.remove(&file.index) {
                    let _ = session.close_file(opened).await;
                }
                if let Some(end) = end {
                    events.send(end).await;
                }
            }
        }
    }
    for (_, file) in files.drain() {
        let _ = session.close_file(file).await;
    }
    session.peak_memory_bytes()
}

/// Opens `file` unless this worker has; returns what the open cost (`None`
/// when it was open already).
async fn open(
    session: &mut Session,
    files: &mut HashMap<usize, ParquetFile>,
    file: &FileRef,
    options: OpenOptions,
) -> Outcome<Option<OpenStats>> {
    if files.contains_key(&file.index) {
        return Ok(Ok(None));
    }
    let opened = match session.open(&file.url, options).await? {
        Ok(opened) => opened,
        Err(error) => return Ok(Err(error)),
    };
    let open = session.open_stats(&opened).await?;
    files.insert(file.index, opened);
    Ok(Ok(Some(open)))
}

async fn describe(session: &mut Session, file: &ParquetFile, open: OpenStats) -> Outcome<Opened> {
    let metadata = session.metadata(file).await?;
    Ok(Ok(Opened { metadata, open }))
}

/// Runs one scan into `events` until it ends or `stop` is set; returns its
/// end event, or `None` when the reader went away.
async fn scan(
    session: &mut Session,
    files: &mut HashMap<usize, ParquetFile>,
    file: &FileRef,
    options: OpenOptions,
    request: ScanRequest,
    events: &EventSender,
    stop: &AtomicBool,
) -> Outcome<Option<ScanEvent>> {
    let opens: Vec<OpenStats> = match open(session, files, file, options).await? {
        Ok(open) => open.into_iter().collect(),
        Err(error) => return Ok(Err(error)),
    };
    let stream = match session.scan(&files[&file.index], request).await? {
        Ok(stream) => stream,
        Err(error) => return Ok(Err(error)),
    };
    let schema = session.schema(&stream).await?;
    let outcome = match events.send(ScanEvent::Schema(schema)).await {
        false => None, // the reader is gone
        true => loop {
            if stop.load(Ordering::Relaxed) {
                let stats = session.scan_stats(&stream).await?;
                break Some(Ok(ScanEvent::Finished { stats, opens }));
            }
            let next = session.next_event(&stream).await?;
            let progress = match &next {
                Ok(Some(WitScanEvent::Progress(progress))) => *progress,
                _ => session.scan_progress(&stream).await?,
            };
            events.progress.send_replace(Some(progress));
            match next {
                Ok(Some(WitScanEvent::Progress(_))) => {}
                Ok(Some(WitScanEvent::Batch(batch))) => {
                    if !events.send(ScanEvent::Batch(batch)).await {
                        break None;
                    }
                }
                Ok(None) => {
                    let stats = session.scan_stats(&stream).await?;
                    break Some(Ok(ScanEvent::Finished { stats, opens }));
                }
                Err(error) => break Some(Err(error)),
            }
        },
    };
    session.close_stream(stream).await?;
    Ok(outcome.transpose())
}
