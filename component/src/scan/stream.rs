//! One scan: a push decoder per row group, all driven in lock-step so that
//! the byte ranges every row group needs next are fetched together, in one
//! wave of concurrent requests.
//!
//! With a filter, a row group is read in two phases (late materialization):
//! first the pages of the filter's columns, then, once the filter has run,
//! only the pages of the other columns that hold matching rows. Because all
//! admitted row groups advance together, the second phase of one row group
//! travels in the same wave as the first phase of the next: the extra phase
//! costs one round trip per scan, not one per row group.

use super::SharedFile;
use super::pages::{ChunkBytes, check_pages};
use super::plan::{GroupPlan, ScanPlan};
use crate::columns::prune_columns;
use crate::error::{Error, Result};
use crate::filter::BoundPredicate;
use crate::ipc;
use crate::kernels::{Compute, KernelReport};
use crate::memory::{MemoryBudget, human_bytes};
use crate::source::FetchStats;
use arrow_array::{BooleanArray, RecordBatch, RecordBatchOptions};
use arrow_schema::{ArrowError, SchemaRef};
use parquet::DecodeResult;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ArrowReaderMetadata, ParquetRecordBatchReader, RowFilter,
};
use parquet::arrow::push_decoder::{
    ParquetPushDecoder, ParquetPushDecoderBuilder, RowGroupSelection,
};
use parquet::file::metadata::ColumnChunkMetaData;
use std::collections::VecDeque;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// What decoding one column takes beyond its fetched bytes, counted while
/// admitting row groups: its dictionary and one page, decompressed (pages
/// are checked against the memory limit once fetched: `pages`).
const PAGE_ALLOWANCE: u64 = 2 << 20;

/// Copies of a batch alive at once: the decoder's, the filtered or
/// reordered one, and its IPC encoding.
const BATCH_COPIES: u64 = 3;

/// The smallest batch a tight memory limit shrinks batches to.
const MIN_BATCH_ROWS: usize = 1024;

/// Most row groups decoded side by side.
const MAX_ADMITTED_GROUPS: usize = 64;

/// At this fraction of matching rows, late materialization saves too little
/// to pay for its extra phase: later row groups are read in one phase.
const LATE_MATERIALIZATION_CUTOFF: f64 = 0.9;

/// Rows the filter must have tested before its selectivity is trusted.
const SELECTIVITY_SAMPLE_ROWS: u64 = 10_000;

/// What a scan did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Row groups in the file.
    pub row_groups: u32,
    /// Row groups excluded by statistics, the page index or bloom filters.
    pub row_groups_pruned: u32,
    /// Row groups whose data was fetched.
    pub row_groups_scanned: u32,
    /// Data pages of the read columns excluded by the page index.
    pub pages_pruned: u64,
    /// Rows the filter tested (without a filter: rows read).
    pub rows_scanned: u64,
    /// Rows that satisfied the filter, before offset and limit.
    pub rows_matched: u64,
    /// Rows returned.
    pub rows_returned: u64,
    /// All traffic this scan caused (index and data).
    pub fetch: FetchStats,
    /// The part of `fetch` that read page indexes and bloom filters.
    pub index: FetchStats,
}

/// What a scan yields next (see [`BatchStream::next_event`]).
#[derive(Debug)]
pub enum StreamEvent {
    /// A batch of rows.
    Batch(RecordBatch),
    /// A wave of requests was fetched; no batch is complete yet.
    Fetched,
}

/// How far a scan has got. Every field but `bytes_planned` only grows, and
/// so does the fraction `bytes_fetched / bytes_planned`; once the scan ends,
/// `row_groups_done == row_groups_total` and `bytes_fetched == bytes_planned`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanProgress {
    /// Row groups the plan reads (pruned ones not counted); once the scan
    /// ends, those it read (a limit may end it early).
    pub row_groups_total: u32,
    /// Row groups read completely.
    pub row_groups_done: u32,
    /// Bytes read so far, from the server or the range cache: the page
    /// index, bloom filters and dictionaries the plan read, and data pages.
    pub bytes_fetched: u64,
    /// `bytes_fetched` plus what the plan may still fetch: the column chunks
    /// of the row groups not read yet (an upper bound, since pruned pages and
    /// pages without matches are skipped).
    pub bytes_planned: u64,
}

/// What the row filter shares with the decoders that run it: its kernel
/// tiers, and the counters it updates.
pub(super) struct FilterRun {
    compute: Mutex<Compute>,
    tested: AtomicU64,
    matched: AtomicU64,
}

impl Default for FilterRun {
    /// A filter run on this build's CPU tier.
    fn default() -> Self {
        Self::new(Compute::cpu())
    }
}

impl FilterRun {
    fn new(compute: Compute) -> Self {
        Self {
            compute: Mutex::new(compute),
            tested: AtomicU64::new(0),
            matched: AtomicU64::new(0),
        }
    }

    /// The kernel tiers, locked (a panic while they were held leaves them
    /// usable: they hold no invariant a half-done kernel call could break).
    fn compute(&self) -> MutexGuard<'_, Compute> {
        self.compute.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The rows of `batch` that `predicate` keeps, counted.
    fn select(&self, predicate: &BoundPredicate, batch: &RecordBatch) -> Result<BooleanArray> {
        let selected = predicate.select_on(batch, &mut self.compute())?;
        self.count(batch.num_rows(), selected.true_count());
        Ok(selected)
    }

    fn count(&self, tested: usize, matched: usize) {
        self.tested.fetch_add(tested as u64, Ordering::Relaxed);
        self.matched.fetch_add(matched as u64, Ordering::Relaxed);
    }

    fn selectivity(&self) -> Option<f64> {
        let tested = self.tested.load(Ordering::Relaxed);
        (tested >= SELECTIVITY_SAMPLE_ROWS)
            .then(|| self.matched.load(Ordering::Relaxed) as f64 / tested as f64)
    }
}

/// Rows the row filter of one late-materialized row group tested and kept,
/// to check them against its row count.
#[derive(Debug, Default)]
pub(super) struct FilteredRows {
    tested: AtomicU64,
    matched: AtomicU64,
}

/// How a row group's rows are filtered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phases {
    /// No filter: one phase.
    Unfiltered,
    /// The decoder filters between its two phases (late materialization).
    Late,
    /// One phase reads output and filter columns; the filter runs after.
    Early,
}

/// Everything needed to build the decoder of one row group.
#[derive(Debug)]
pub(super) struct DecoderFactory {
    /// The file's metadata, with the page index the plan loaded.
    pub metadata: ArrowReaderMetadata,
    /// Parquet leaves returned, in file order.
    pub output_leaves: Vec<usize>,
    /// Parquet leaves the filter reads, in file order.
    pub filter_leaves: Vec<usize>,
    /// The bound filter, if any.
    pub predicate: Option<Arc<BoundPredicate>>,
    /// Rows per batch.
    pub batch_size: usize,
    /// The schema of the batches returned.
    pub schema: SchemaRef,
    /// The memory the scan may use.
    pub budget: MemoryBudget,
}

impl DecoderFactory {
    /// How row groups are filtered before any selectivity is known: in two
    /// phases, unless the filter reads every output column anyway.
    pub(super) fn initial_phases(&self) -> Phases {
        if self.predicate.is_none() {
            Phases::Unfiltered
        } else if self
            .output_leaves
            .iter()
            .all(|leaf| self.filter_leaves.contains(leaf))
        {
            Phases::Early
        } else {
            Phases::Late
        }
    }

    /// A decoder for one row group.
    pub(super) fn build(
        &self,
        plan: &GroupPlan,
        phases: Phases,
        (batch_rows, limit): (usize, Option<u64>),
        (counters, filtered): (&Arc<FilterRun>, &Arc<FilteredRows>),
    ) -> Result<ParquetPushDecoder> {
        let descriptor = self.metadata.parquet_schema();
        let leaves = match phases {
            Phases::Early => union(&self.output_leaves, &self.filter_leaves),
            _ => self.output_leaves.clone(),
        };
        // An offset, even of zero, makes the reader count rows: it then never
        // looks for a page after the last one (where padded chunks of old
        // writers hold other bytes).
        let mut builder = ParquetPushDecoderBuilder::new_with_metadata(self.metadata.clone())
            .with_projection(ProjectionMask::leaves(descriptor, leaves))
            .with_batch_size(batch_rows)
            .with_offset(0)
            .with_row_group_selections(vec![RowGroupSelection::new(
                plan.group,
                plan.selection.clone(),
            )]);
        if let Some(limit) = limit {
            builder = builder.with_limit(usize::try_from(limit).unwrap_or(usize::MAX));
        }
        if plan.selection.is_some() {
            // The predicate cache widens the pages read for columns both
            // filtered and returned to whole batches; where pages were
            // pruned, that would fetch pruned pages.
            builder = builder.with_max_predicate_cache_size(0);
        }
        if let (Phases::Late, Some(predicate)) = (phases, &self.predicate) {
            let mask = ProjectionMask::leaves(descriptor, self.filter_leaves.clone());
            builder = builder.with_row_filter(row_filter(
                mask,
                Arc::clone(predicate),
                (Arc::clone(counters), Arc::clone(filtered)),
            ));
        }
        Ok(builder.build()?)
    }

    /// The column chunks a row group's decoder may read.
    fn read_chunks(&self, group: usize) -> impl Iterator<Item = &ColumnChunkMetaData> {
        let chunks = self.metadata.metadata().row_group(group).columns();
        union(&self.output_leaves, &self.filter_leaves)
            .into_iter()
            .map(move |leaf| &chunks[leaf])
    }

    /// Bytes of the column chunks row group `group` may read, as stored.
    fn chunk_bytes(&self, group: usize) -> u64 {
        self.read_chunks(group)
            .map(|chunk| chunk.byte_range().1)
            .sum()
    }

    /// The memory reading a row group in batches of `batch_rows` takes at
    /// most: its chunks as stored, a page of each decompressed, and the
    /// batches in flight.
    fn cost(&self, group: usize, batch_rows: usize) -> u64 {
        let rows = self.rows(group).max(1);
        let batch_rows = (batch_rows as u64).min(rows);
        self.read_chunks(group)
            .map(|chunk| {
                let decoded = chunk.uncompressed_size().max(0) as u64;
                let batch = (decoded / rows).max(1) * batch_rows * BATCH_COPIES;
                chunk.byte_range().1 + decoded.min(PAGE_ALLOWANCE) + batch
            })
            .sum()
    }

    /// Rows of row group `group`, as its footer says.
    fn rows(&self, group: usize) -> u64 {
        self.metadata.metadata().row_group(group).num_rows().max(0) as u64
    }

    /// The rows per batch that bring a row group's cost within `room`
    /// (halving down to [`MIN_BATCH_ROWS`]), with that cost.
    fn fit_batch(&self, group: usize, room: u64) -> (usize, u64) {
        let mut rows = self.batch_size;
        let mut cost = self.cost(group, rows);
        while cost > room && rows > MIN_BATCH_ROWS {
            rows = (rows / 2).max(MIN_BATCH_ROWS);
            cost = self.cost(group, rows);
        }
        (rows, cost)
    }

    /// Fails with `memory-limit` when one row of row group `group` (its
    /// columns read, decoded) is so large that its batch copies and the page
    /// it comes from cannot fit in `room`, however small the batches: a read
    /// that would otherwise run out of the instance's memory part way.
    fn check_row_fits(&self, group: usize, room: u64) -> Result<()> {
        let decoded: u64 = self
            .read_chunks(group)
            .map(|chunk| chunk.uncompressed_size().max(0) as u64)
            .sum();
        let per_row = decoded / self.rows(group).max(1);
        let needed = per_row.saturating_mul(BATCH_COPIES + 1);
        if needed <= room {
            return Ok(());
        }
        Err(Error::MemoryLimit(format!(
            "row group {group} holds {} per row in the columns read, and a row's batch copies and \
             page need {}, more than the limit of {} leaves ({}); read fewer columns",
            human_bytes(per_row),
            human_bytes(needed),
            human_bytes(self.budget.limit()),
            human_bytes(room)
        )))
    }

    /// The chunk of row group `group` that holds byte `offset`, for the page
    /// checks: its column's path and codec.
    fn chunk_at(&self, group: usize, offset: u64) -> Option<&ColumnChunkMetaData> {
        self.read_chunks(group).find(|chunk| {
            let (start, length) = chunk.byte_range();
            (start..start + length).contains(&offset)
        })
    }
}

fn union(a: &[usize], b: &[usize]) -> Vec<usize> {
    let mut all: Vec<usize> = a.iter().chain(b).copied().collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// A row group being read.
struct ActiveGroup {
    /// Its index in the file.
    row_group: usize,
    decoder: ParquetPushDecoder,
    phases: Phases,
    /// Its batches, once all its data is in.
    reader: Option<ParquetRecordBatchReader>,
    /// The ranges it waits for.
    wants: Option<Vec<Range<u64>>>,
    done: bool,
    /// A decoding error, raised when the row group's turn comes, so that
    /// the rows of the row groups before it are returned first.
    failed: Option<Error>,
    fetched: bool,
    /// Its estimated memory (see [`DecoderFactory::cost`]).
    cost: u64,
    /// Bytes of its column chunks it may fetch (see [`ScanProgress`]).
    bytes_planned: u64,
    /// Bytes fetched for it so far.
    bytes_fetched: u64,
    /// Rows its pages must hold for the plan (unless a limit stops it
    /// early): all those its decoder returns, or those its row filter
    /// tests when it has one.
    rows_expected: Option<u64>,
    /// Rows its decoder returned so far.
    rows_read: u64,
    /// What its row filter tested and kept (late materialization).
    filtered: Arc<FilteredRows>,
}

/// A running scan. Yields batches in file order.
pub struct BatchStream {
    source: SharedFile,
    /// Output schema, in the requested column order.
    schema: SchemaRef,
    factory: DecoderFactory,
    pending: VecDeque<GroupPlan>,
    active: VecDeque<ActiveGroup>,
    /// Groups admitted at most at once (grows when a limit makes the scan
    /// start small).
    window: usize,
    /// Matching rows still to skip (filtered scans; the plan skips the
    /// others' offset).
    offset_left: u64,
    /// Rows still to return.
    limit_left: Option<u64>,
    counters: Arc<FilterRun>,
    finished: bool,
    stats: ScanStats,
    /// What the memory limit left when the scan started: admitted row
    /// groups' costs stay within it.
    headroom: u64,
    /// Row groups the plan reads, and those read completely.
    groups_planned: u32,
    groups_done: u32,
    /// Bytes of the column chunks of the row groups not admitted yet.
    pending_bytes: u64,
}

impl BatchStream {
    pub(super) fn new(
        source: SharedFile,
        factory: DecoderFactory,
        schema: SchemaRef,
        plan: ScanPlan,
        (offset, limit): (u64, Option<u64>),
        stats: ScanStats,
        compute: Compute,
    ) -> Self {
        let filtered = factory.predicate.is_some();
        let headroom = factory.budget.available();
        let window = if filtered && limit.is_some() {
            1
        } else {
            MAX_ADMITTED_GROUPS
        };
        let pending_bytes = plan
            .groups
            .iter()
            .map(|planned| factory.chunk_bytes(planned.group))
            .sum();
        Self {
            source,
            schema,
            groups_planned: plan.groups.len() as u32,
            groups_done: 0,
            pending_bytes,
            factory,
            pending: plan.groups.into(),
            active: VecDeque::new(),
            window,
            offset_left: if filtered { offset } else { 0 },
            limit_left: limit,
            counters: Arc::new(FilterRun::new(compute)),
            finished: false,
            headroom,
            stats: ScanStats {
                row_groups_pruned: plan.pruned.len() as u32,
                pages_pruned: plan.pages_pruned.iter().sum(),
                ..stats
            },
        }
    }

    /// The schema of every batch.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Where the filter's kernels ran so far, and why.
    pub fn kernels(&self) -> Vec<KernelReport> {
        self.counters.compute().reports().to_vec()
    }

    /// The GPU adapter the filter's kernels could use, as "name (backend)",
    /// once a kernel has asked the host for it.
    pub fn gpu_adapter(&self) -> Option<String> {
        self.counters.compute().adapter_name()
    }

    /// What the scan has done so far.
    pub fn stats(&self) -> ScanStats {
        let mut stats = self.stats;
        if self.factory.predicate.is_some() {
            stats.rows_scanned = self.counters.tested.load(Ordering::Relaxed);
            stats.rows_matched = self.counters.matched.load(Ordering::Relaxed);
        } else {
            stats.rows_scanned = stats.rows_returned;
            stats.rows_matched = stats.rows_returned;
        }
        stats
    }

    /// How far the scan has got.
    pub fn progress(&self) -> ScanProgress {
        // Bytes the range cache served count as read: they were planned.
        let bytes_fetched = self.stats.fetch.bytes_fetched + self.stats.fetch.cache_bytes;
        if self.finished {
            return ScanProgress {
                row_groups_total: self.groups_done,
                row_groups_done: self.groups_done,
                bytes_fetched,
                bytes_planned: bytes_fetched,
            };
        }
        let active: u64 = (self.active.iter())
            .map(|group| group.bytes_planned.saturating_sub(group.bytes_fetched))
            .sum();
        ScanProgress {
            row_groups_total: self.groups_planned,
            row_groups_done: self.groups_done,
            bytes_fetched,
            bytes_planned: bytes_fetched + self.pending_bytes + active,
        }
    }

    /// The next batch as an Arrow IPC stream.
    pub fn next_ipc(&mut self) -> Result<Option<Vec<u8>>> {
        self.next_batch()?
            .map(|batch| ipc::encode_batch(&batch))
            .transpose()
    }

    /// The next batch as an Arrow IPC stream, or `Ok(Some(None))` after a
    /// wave of requests (see [`BatchStream::next_event`]).
    pub fn next_ipc_event(&mut self) -> Result<Option<Option<Vec<u8>>>> {
        Ok(match self.next_event()? {
            Some(StreamEvent::Batch(batch)) => Some(Some(ipc::encode_batch(&batch)?)),
            Some(StreamEvent::Fetched) => Some(None),
            None => None,
        })
    }

    /// The next batch, or `None` at the end. After an error the scan is over.
    pub fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        loop {
            match self.next_event()? {
                Some(StreamEvent::Batch(batch)) => return Ok(Some(batch)),
                Some(StreamEvent::Fetched) => continue,
                None => return Ok(None),
            }
        }
    }

    /// The next batch, or [`StreamEvent::Fetched`] after each wave of
    /// requests that did not complete one (so that a long wait for a
    /// selective batch can show progress), or `None` at the end. After an
    /// error the scan is over.
    pub fn next_event(&mut self) -> Result<Option<StreamEvent>> {
        let result = self.advance();
        if !matches!(result, Ok(Some(_))) {
            self.finish();
        }
        result
    }

    fn finish(&mut self) {
        self.finished = true;
        self.pending.clear();
        self.active.clear();
    }

    fn advance(&mut self) -> Result<Option<StreamEvent>> {
        loop {
            if self.finished || self.limit_left == Some(0) {
                return Ok(None);
            }
            self.admit()?;
            let Some(front) = self.active.front_mut() else {
                return Ok(None);
            };
            if let Some(reader) = front.reader.as_mut() {
                match reader.next() {
                    Some(batch) => {
                        let batch = batch?;
                        front.rows_read += batch.num_rows() as u64;
                        let phases = front.phases;
                        if let Some(batch) = self.finish_batch(phases, batch)? {
                            return Ok(Some(StreamEvent::Batch(batch)));
                        }
                    }
                    None => front.reader = None,
                }
                continue;
            }
            if front.done {
                check_row_count(front)?;
                self.active.pop_front();
                self.groups_done += 1;
                continue;
            }
            for group in self.active.iter_mut() {
                step(group);
            }
            if let Some(error) = self.active[0].failed.take() {
                return Err(error);
            }
            let front = &self.active[0];
            if front.reader.is_none() && !front.done {
                self.fetch_wave()?;
                return Ok(Some(StreamEvent::Fetched));
            }
        }
    }

    /// Admits pending row groups while the window and the byte budget allow
    /// (always at least one when none is active).
    fn admit(&mut self) -> Result<()> {
        // A scan that starts small (a limit on filtered rows) admits a new
        // window only once the last one is done, each twice the size.
        let grows = self.window < MAX_ADMITTED_GROUPS;
        if grows && !self.active.is_empty() {
            return Ok(());
        }
        let mut committed: u64 = self.active.iter().map(|g| g.cost).sum();
        while self.active.len() < self.window {
            let Some(plan) = self.pending.front() else {
                break;
            };
            // The first row group gets smaller batches if that makes it
            // fit; later ones wait until earlier ones are done.
            let (batch_rows, cost) = if self.active.is_empty() {
                self.factory.check_row_fits(plan.group, self.headroom)?;
                self.factory.fit_batch(plan.group, self.headroom)
            } else {
                let rows = self.factory.batch_size;
                (rows, self.factory.cost(plan.group, rows))
            };
            if !self.active.is_empty() && committed + cost > self.headroom {
                break;
            }
            let plan = self.pending.pop_front().unwrap_or_else(|| unreachable!());
            let bytes_planned = self.factory.chunk_bytes(plan.group);
            self.pending_bytes = self.pending_bytes.saturating_sub(bytes_planned);
            let phases = self.phases();
            let limit = self.limit_left.map(|limit| limit + self.offset_left);
            let filtered = Arc::new(FilteredRows::default());
            let decoder = self.factory.build(
                &plan,
                phases,
                (batch_rows, limit),
                (&self.counters, &filtered),
            )?;
            let rows_expected = limit.is_none().then(|| {
                plan.selection.as_ref().map_or_else(
                    || self.factory.rows(plan.group),
                    |selection| selection.row_count() as u64,
                )
            });
            committed += cost;
            self.active.push_back(ActiveGroup {
                row_group: plan.group,
                decoder,
                phases,
                reader: None,
                wants: None,
                done: false,
                failed: None,
                fetched: false,
                cost,
                bytes_planned,
                bytes_fetched: 0,
                rows_expected,
                rows_read: 0,
                filtered,
            });
        }
        if grows {
            self.window = (self.window * 2).min(MAX_ADMITTED_GROUPS);
        }
        Ok(())
    }

    /// How the next admitted row group is filtered: as planned, unless the
    /// filter has turned out to keep nearly every row.
    fn phases(&self) -> Phases {
        let planned = self.factory.initial_phases();
        let unselective = self
            .counters
            .selectivity()
            .is_some_and(|fraction| fraction >= LATE_MATERIALIZATION_CUTOFF);
        if planned == Phases::Late && unselective {
            Phases::Early
        } else {
            planned
        }
    }

    /// Fetches what the waiting row groups need, in one wave: the first in
    /// file order always (or a `memory-limit` error if it cannot fit), the
    /// others while the memory limit allows.
    fn fetch_wave(&mut self) -> Result<()> {
        let budget = self.factory.budget;
        let mut ranges = Vec::new();
        let mut in_wave = Vec::with_capacity(self.active.len());
        for group in self.active.iter() {
            let Some(wants) = &group.wants else {
                in_wave.push(false);
                continue;
            };
            let bytes = span(wants);
            let first = ranges.is_empty();
            if first {
                budget.reserve(bytes, || {
                    let row_group = group.row_group;
                    format!("reading row group {row_group} (its column chunks as stored)")
                })?;
            } else if bytes > budget.available().saturating_sub(span(&ranges)) {
                in_wave.push(false);
                continue;
            }
            in_wave.push(true);
            ranges.extend(wants.iter().cloned());
        }
        let mut data = {
            let mut source = self.source.borrow_mut();
            let before = source.stats();
            let data = source.read(&ranges)?;
            self.stats.fetch = self.stats.fetch.plus(source.stats().since(before));
            data.into_iter()
        };
        for (group, _) in self
            .active
            .iter_mut()
            .zip(in_wave)
            .filter(|(_, in_wave)| *in_wave)
        {
            let Some(wants) = group.wants.take() else {
                continue;
            };
            let bytes: Vec<_> = data.by_ref().take(wants.len()).collect();
            group.bytes_fetched += bytes.iter().map(|b| b.len() as u64).sum::<u64>();
            if !group.fetched {
                group.fetched = true;
                self.stats.row_groups_scanned += 1;
            }
            let checked = wants.iter().zip(&bytes).try_for_each(|(range, bytes)| {
                check_fetched(&self.factory, group.row_group, range.start, bytes)
            });
            let pushed = checked.and_then(|()| Ok(group.decoder.push_ranges(wants, bytes)?));
            if let Err(error) = pushed {
                group.failed = Some(error);
            }
        }
        Ok(())
    }

    /// Filters (one-phase groups), reorders and applies offset and limit.
    fn finish_batch(&mut self, phases: Phases, batch: RecordBatch) -> Result<Option<RecordBatch>> {
        let factory = &self.factory;
        let batch = match (phases, &factory.predicate) {
            (Phases::Early, Some(predicate)) => {
                let selected = self.counters.select(predicate, &batch)?;
                arrow_select::filter::filter_record_batch(&batch, &selected)?
            }
            _ => batch,
        };
        let mut batch = conform(&batch, &factory.schema)?;
        let skip = self.offset_left.min(batch.num_rows() as u64);
        self.offset_left -= skip;
        let mut rows = batch.num_rows() as u64 - skip;
        if let Some(limit) = self.limit_left.as_mut() {
            rows = rows.min(*limit);
            *limit -= rows;
        }
        if skip > 0 || rows < batch.num_rows() as u64 {
            batch = batch.slice(skip as usize, rows as usize);
        }
        if batch.num_rows() == 0 {
            return Ok(None);
        }
        self.stats.rows_returned += batch.num_rows() as u64;
        Ok(Some(batch))
    }
}

/// Fails if a finished row group's pages held fewer or more rows than its
/// footer says (a damaged or hostile file), rather than return them as if
/// they were all. Where a row filter ran inside the decoder, the filter
/// columns' pages must hold them all, and the returned columns' pages the
/// rows the filter kept.
fn check_row_count(group: &ActiveGroup) -> Result<()> {
    let Some(expected) = group.rows_expected else {
        return Ok(());
    };
    let (held, returned_short) = match group.phases {
        Phases::Late => {
            let matched = group.filtered.matched.load(Ordering::Relaxed);
            (
                group.filtered.tested.load(Ordering::Relaxed),
                (matched != group.rows_read).then_some(matched),
            )
        }
        _ => (group.rows_read, None),
    };
    let row_group = group.row_group;
    if held != expected {
        return Err(Error::CorruptFile(format!(
            "row group {row_group} should hold {expected} rows, but its pages held {held}"
        )));
    }
    match returned_short {
        Some(matched) => Err(Error::CorruptFile(format!(
            "row group {row_group}: {matched} rows matched the filter, but the pages of the \
             columns returned held {} of them",
            group.rows_read
        ))),
        None => Ok(()),
    }
}

/// `batch` as the scan returns it: the columns of `schema`, in its order,
/// each narrowed to the struct fields requested (a one-phase batch also holds
/// the filter's columns and fields).
fn conform(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let columns = prune_columns(schema.fields(), |name| batch.column_by_name(name))?;
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        Arc::clone(schema),
        columns,
        &options,
    )?)
}

/// Bytes in `ranges`.
fn span(ranges: &[Range<u64>]) -> u64 {
    ranges.iter().map(|range| range.end - range.start).sum()
}

/// Checks the pages fetched at `offset` for row group `group` before its
/// decoder sees them (see `pages`).
fn check_fetched(factory: &DecoderFactory, group: usize, offset: u64, bytes: &[u8]) -> Result<()> {
    let Some(chunk) = factory.chunk_at(group, offset) else {
        return Err(Error::Internal(format!(
            "the decoder of row group {group} asked for byte {offset}, outside its column chunks"
        )));
    };
    let column = format!("{} in row group {group}", chunk.column_path().string());
    let chunk = ChunkBytes {
        bytes,
        offset,
        column: &column,
        codec: chunk.compression(),
    };
    check_pages(&chunk, &factory.budget)
}

/// Moves a row group's decoder on until it needs data, has its batches
/// ready, or is done. An error is kept for the row group's turn.
fn step(group: &mut ActiveGroup) {
    if group.reader.is_some() || group.done || group.wants.is_some() || group.failed.is_some() {
        return;
    }
    match group.decoder.try_next_reader() {
        Ok(DecodeResult::NeedsData(ranges)) => group.wants = Some(ranges),
        Ok(DecodeResult::Data(reader)) => group.reader = Some(reader),
        Ok(DecodeResult::Finished) => group.done = true,
        Err(error) => group.failed = Some(error.into()),
    }
}

fn row_filter(
    mask: ProjectionMask,
    predicate: Arc<BoundPredicate>,
    (counters, filtered): (Arc<FilterRun>, Arc<FilteredRows>),
) -> RowFilter {
    let evaluate = move |batch: RecordBatch| {
        let selected = counters
            .select(&predicate, &batch)
            .map_err(|error| ArrowError::ExternalError(Box::new(error)))?;
        (filtered.tested).fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
        (filtered.matched).fetch_add(selected.true_count() as u64, Ordering::Relaxed);
        Ok(selected)
    };
    RowFilter::new(vec![Box::new(ArrowPredicateFn::new(mask, evaluate))])
}
