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
use super::plan::{GroupPlan, ScanPlan};
use crate::error::{Error, Result};
use crate::filter::BoundPredicate;
use crate::ipc;
use crate::kernels::{Compute, KernelReport};
use crate::source::FetchStats;
use arrow_array::{BooleanArray, RecordBatch};
use arrow_schema::{ArrowError, SchemaRef};
use parquet::DecodeResult;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ArrowReaderMetadata, ParquetRecordBatchReader, RowFilter,
};
use parquet::arrow::push_decoder::{
    ParquetPushDecoder, ParquetPushDecoderBuilder, RowGroupSelection,
};
use std::collections::VecDeque;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Bytes of column chunks (as stored) that may be admitted at once; bounds
/// the memory of buffered pages.
const ADMITTED_BYTES: u64 = 256 * 1024 * 1024;

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
    /// Root columns returned, in file order.
    pub output_roots: Vec<usize>,
    /// Root columns the filter reads, in file order.
    pub filter_roots: Vec<usize>,
    /// The bound filter, if any.
    pub predicate: Option<Arc<BoundPredicate>>,
    /// Rows per batch.
    pub batch_size: usize,
    /// For each requested column, its position among `output_roots`.
    pub output_order: Vec<usize>,
}

impl DecoderFactory {
    /// How row groups are filtered before any selectivity is known: in two
    /// phases, unless the filter reads every output column anyway.
    pub(super) fn initial_phases(&self) -> Phases {
        if self.predicate.is_none() {
            Phases::Unfiltered
        } else if self
            .output_roots
            .iter()
            .all(|root| self.filter_roots.contains(root))
        {
            Phases::Early
        } else {
            Phases::Late
        }
    }

    /// The leaves the filter reads.
    pub(super) fn filter_leaves(&self) -> Vec<usize> {
        let descriptor = self.metadata.parquet_schema();
        (0..descriptor.num_columns())
            .filter(|&leaf| {
                self.filter_roots
                    .contains(&descriptor.get_column_root_idx(leaf))
            })
            .collect()
    }

    /// A decoder for one row group.
    pub(super) fn build(
        &self,
        plan: &GroupPlan,
        phases: Phases,
        limit: Option<u64>,
        counters: &Arc<FilterRun>,
    ) -> Result<ParquetPushDecoder> {
        let descriptor = self.metadata.parquet_schema();
        let roots = match phases {
            Phases::Early => union(&self.output_roots, &self.filter_roots),
            _ => self.output_roots.clone(),
        };
        // An offset, even of zero, makes the reader count rows: it then never
        // looks for a page after the last one (where padded chunks of old
        // writers hold other bytes).
        let mut builder = ParquetPushDecoderBuilder::new_with_metadata(self.metadata.clone())
            .with_projection(ProjectionMask::roots(descriptor, roots))
            .with_batch_size(self.batch_size)
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
            let mask = ProjectionMask::roots(descriptor, self.filter_roots.clone());
            builder = builder.with_row_filter(row_filter(
                mask,
                Arc::clone(predicate),
                Arc::clone(counters),
            ));
        }
        Ok(builder.build()?)
    }

    /// Bytes (as stored) of the chunks a row group's decoder may read.
    fn admitted_bytes(&self, group: usize) -> u64 {
        let metadata = self.metadata.metadata();
        let descriptor = metadata.file_metadata().schema_descr();
        let roots = union(&self.output_roots, &self.filter_roots);
        metadata
            .row_group(group)
            .columns()
            .iter()
            .enumerate()
            .filter(|(leaf, _)| roots.contains(&descriptor.get_column_root_idx(*leaf)))
            .map(|(_, chunk)| chunk.byte_range().1)
            .sum()
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
    bytes: u64,
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
        let window = if filtered && limit.is_some() {
            1
        } else {
            MAX_ADMITTED_GROUPS
        };
        Self {
            source,
            schema,
            factory,
            pending: plan.groups.into(),
            active: VecDeque::new(),
            window,
            offset_left: if filtered { offset } else { 0 },
            limit_left: limit,
            counters: Arc::new(FilterRun::new(compute)),
            finished: false,
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

    /// The next batch as an Arrow IPC stream.
    pub fn next_ipc(&mut self) -> Result<Option<Vec<u8>>> {
        self.next_batch()?
            .map(|batch| ipc::encode_batch(&batch))
            .transpose()
    }

    /// The next batch, or `None` at the end. After an error the scan is over.
    pub fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
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

    fn advance(&mut self) -> Result<Option<RecordBatch>> {
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
                        let phases = front.phases;
                        if let Some(batch) = self.finish_batch(phases, batch?)? {
                            return Ok(Some(batch));
                        }
                    }
                    None => front.reader = None,
                }
                continue;
            }
            if front.done {
                self.active.pop_front();
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
        let mut admitted_bytes: u64 = self.active.iter().map(|g| g.bytes).sum();
        while self.active.len() < self.window {
            let Some(plan) = self.pending.front() else {
                break;
            };
            let bytes = self.factory.admitted_bytes(plan.group);
            if !self.active.is_empty() && admitted_bytes + bytes > ADMITTED_BYTES {
                break;
            }
            let plan = self.pending.pop_front().unwrap_or_else(|| unreachable!());
            let phases = self.phases();
            let limit = self.limit_left.map(|limit| limit + self.offset_left);
            let decoder = self.factory.build(&plan, phases, limit, &self.counters)?;
            admitted_bytes += bytes;
            self.active.push_back(ActiveGroup {
                decoder,
                phases,
                reader: None,
                wants: None,
                done: false,
                failed: None,
                fetched: false,
                bytes,
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

    /// Fetches what every waiting row group needs, in one wave.
    fn fetch_wave(&mut self) -> Result<()> {
        let mut ranges = Vec::new();
        for group in self.active.iter() {
            if let Some(wants) = &group.wants {
                ranges.extend(wants.iter().cloned());
            }
        }
        let mut data = {
            let mut source = self.source.borrow_mut();
            let before = source.stats();
            let data = source.read(&ranges)?;
            self.stats.fetch = self.stats.fetch.plus(source.stats().since(before));
            data.into_iter()
        };
        for group in self.active.iter_mut() {
            let Some(wants) = group.wants.take() else {
                continue;
            };
            let bytes: Vec<_> = data.by_ref().take(wants.len()).collect();
            if !group.fetched {
                group.fetched = true;
                self.stats.row_groups_scanned += 1;
            }
            if let Err(error) = group.decoder.push_ranges(wants, bytes) {
                group.failed = Some(error.into());
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
                let batch = arrow_select::filter::filter_record_batch(&batch, &selected)?;
                let roots = union(&factory.output_roots, &factory.filter_roots);
                let positions: Vec<usize> = factory
                    .output_roots
                    .iter()
                    .map(|root| roots.binary_search(root).unwrap_or_default())
                    .collect();
                batch.project(&positions)?
            }
            _ => batch,
        };
        let mut batch = batch.project(&factory.output_order)?;
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
    counters: Arc<FilterRun>,
) -> RowFilter {
    let evaluate = move |batch: RecordBatch| {
        counters
            .select(&predicate, &batch)
            .map_err(|error| ArrowError::ExternalError(Box::new(error)))
    };
    RowFilter::new(vec![Box::new(ArrowPredicateFn::new(mask, evaluate))])
}
