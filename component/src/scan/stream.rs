//! One scan: a push-decoder loop that asks for byte ranges, fetches them
//! (each wave concurrently), filters rows and yields Arrow batches.

use super::SharedFile;
use crate::columns::find_column;
use crate::error::{Error, Result};
use crate::filter::{BoundPredicate, Expr, bind};
use crate::ipc;
use crate::source::FetchStats;
use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, Schema, SchemaRef};
use parquet::DecodeResult;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowPredicateFn, ArrowReaderMetadata, RowFilter};
use parquet::arrow::push_decoder::{ParquetPushDecoder, ParquetPushDecoderBuilder};
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// What to read (the WIT `scan-request` with defaults filled in).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanRequest {
    /// Columns to return in this order; `None` for all.
    pub columns: Option<Vec<String>>,
    /// Rows to keep; `None` for all.
    pub filter: Option<Expr>,
    /// Matching rows to skip first.
    pub offset: u64,
    /// Most rows to return.
    pub limit: Option<u64>,
    /// Most rows per batch; `None` for the default.
    pub batch_size: Option<u32>,
}

impl ScanRequest {
    /// Rows per batch when the request names none.
    pub const DEFAULT_BATCH_SIZE: u32 = 8192;
    /// Largest batch a caller may ask for: bounds the memory of one batch.
    pub const MAX_BATCH_SIZE: u32 = 1 << 20;
}

/// What a scan did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Row groups in the file.
    pub row_groups: u32,
    /// Row groups whose data was fetched.
    pub row_groups_scanned: u32,
    /// Rows the filter tested (without a filter: rows read, offset included).
    pub rows_scanned: u64,
    /// Rows that satisfied the filter, before offset and limit.
    pub rows_matched: u64,
    /// Rows returned.
    pub rows_returned: u64,
    /// Traffic this scan caused.
    pub fetch: FetchStats,
}

/// Counters the row filter updates while the decoder runs it.
#[derive(Debug, Default)]
struct FilterCounters {
    tested: AtomicU64,
    matched: AtomicU64,
}

/// A running scan. Yields batches in file order.
pub struct BatchStream {
    source: SharedFile,
    state: State,
    /// Output schema, in the requested column order.
    schema: SchemaRef,
    /// For each output column, its index in the decoder's output.
    output_order: Vec<usize>,
    /// Byte ranges of each row group's column chunks, for counting.
    row_group_spans: Vec<Range<u64>>,
    row_groups_touched: Vec<bool>,
    filter_counters: Option<Arc<FilterCounters>>,
    offset_rows: u64,
    stats: ScanStats,
}

/// A scan is decoding until it ends; it never resumes after an error.
enum State {
    Decoding(Box<ParquetPushDecoder>),
    Finished,
}

impl BatchStream {
    pub(super) fn new(
        source: SharedFile,
        metadata: ArrowReaderMetadata,
        request: ScanRequest,
    ) -> Result<Self> {
        let file_schema = Arc::clone(metadata.schema());
        let batch_size = request
            .batch_size
            .unwrap_or(ScanRequest::DEFAULT_BATCH_SIZE);
        if batch_size == 0 || batch_size > ScanRequest::MAX_BATCH_SIZE {
            return Err(Error::InvalidArgument(format!(
                "batch size must be between 1 and {}, not {batch_size}",
                ScanRequest::MAX_BATCH_SIZE
            )));
        }
        let output_indices = output_columns(&file_schema, request.columns.as_deref())?;
        let mut decoded_indices = output_indices.clone();
        decoded_indices.sort_unstable();
        let output_order = output_indices
            .iter()
            .map(|index| decoded_indices.binary_search(index).unwrap_or_default())
            .collect();
        let schema = Arc::new(file_schema.project(&output_indices)?);

        let parquet_metadata = Arc::clone(metadata.metadata());
        let descriptor = metadata.parquet_schema();
        let mut builder = ParquetPushDecoderBuilder::new_with_metadata(metadata.clone())
            .with_projection(ProjectionMask::roots(descriptor, decoded_indices))
            .with_batch_size(batch_size as usize)
            .with_offset(usize::try_from(request.offset).unwrap_or(usize::MAX));
        if let Some(limit) = request.limit {
            builder = builder.with_limit(usize::try_from(limit).unwrap_or(usize::MAX));
        }
        let mut filter_counters = None;
        if let Some(filter) = &request.filter {
            let predicate = bind(filter, &file_schema)?;
            let filter_indices: Vec<usize> = predicate
                .columns()
                .iter()
                .map(|name| file_schema.index_of(name))
                .collect::<Result<_, _>>()?;
            let counters = Arc::new(FilterCounters::default());
            let mask = ProjectionMask::roots(descriptor, filter_indices);
            builder = builder.with_row_filter(row_filter(mask, predicate, Arc::clone(&counters)));
            filter_counters = Some(counters);
        }
        let row_group_spans = parquet_metadata
            .row_groups()
            .iter()
            .map(|group| {
                let ranges = group.columns().iter().map(|c| c.byte_range());
                let start = ranges.clone().map(|(start, _)| start).min().unwrap_or(0);
                let end = ranges.map(|(start, len)| start + len).max().unwrap_or(0);
                start..end
            })
            .collect::<Vec<_>>();
        let row_groups = row_group_spans.len();
        let total_rows = u64::try_from(parquet_metadata.file_metadata().num_rows()).unwrap_or(0);
        Ok(Self {
            source,
            state: State::Decoding(Box::new(builder.build()?)),
            schema,
            output_order,
            row_groups_touched: vec![false; row_groups],
            row_group_spans,
            filter_counters,
            offset_rows: request.offset.min(total_rows),
            stats: ScanStats {
                row_groups: row_groups as u32,
                ..ScanStats::default()
            },
        })
    }

    /// The schema of every batch.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// What the scan has done so far.
    pub fn stats(&self) -> ScanStats {
        let mut stats = self.stats;
        match &self.filter_counters {
            Some(counters) => {
                stats.rows_scanned = counters.tested.load(Ordering::Relaxed);
                stats.rows_matched = counters.matched.load(Ordering::Relaxed);
            }
            None => {
                let read = if stats.rows_returned > 0 || self.is_finished() {
                    self.offset_rows
                } else {
                    0
                };
                stats.rows_scanned = stats.rows_returned + read;
                stats.rows_matched = stats.rows_scanned;
            }
        }
        stats
    }

    fn is_finished(&self) -> bool {
        matches!(self.state, State::Finished)
    }

    /// The next batch, or `None` at the end. After an error the scan is over.
    pub fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let State::Decoding(mut decoder) = std::mem::replace(&mut self.state, State::Finished)
        else {
            return Ok(None);
        };
        loop {
            match decoder.try_decode()? {
                DecodeResult::NeedsData(ranges) => {
                    self.note_row_groups(&ranges);
                    let data = {
                        let mut source = self.source.borrow_mut();
                        let before = source.stats();
                        let data = source.read(&ranges)?;
                        let traffic = source.stats().since(before);
                        self.stats.fetch.requests += traffic.requests;
                        self.stats.fetch.bytes_fetched += traffic.bytes_fetched;
                        data
                    };
                    decoder.push_ranges(ranges, data)?;
                }
                DecodeResult::Data(batch) if batch.num_rows() == 0 => {}
                DecodeResult::Data(batch) => {
                    self.state = State::Decoding(decoder);
                    let batch = batch.project(&self.output_order)?;
                    self.stats.rows_returned += batch.num_rows() as u64;
                    return Ok(Some(batch));
                }
                DecodeResult::Finished => return Ok(None),
            }
        }
    }

    /// The next batch as an Arrow IPC stream.
    pub fn next_ipc(&mut self) -> Result<Option<Vec<u8>>> {
        self.next_batch()?
            .map(|batch| ipc::encode_batch(&batch))
            .transpose()
    }

    fn note_row_groups(&mut self, ranges: &[Range<u64>]) {
        for range in ranges {
            let group = self
                .row_group_spans
                .iter()
                .position(|span| span.contains(&range.start));
            if let Some(touched) = group.map(|g| &mut self.row_groups_touched[g]) {
                self.stats.row_groups_scanned += u32::from(!*touched);
                *touched = true;
            }
        }
    }
}

/// The indices of the output columns in file-schema order of the request.
fn output_columns(schema: &Schema, columns: Option<&[String]>) -> Result<Vec<usize>> {
    let indices: Vec<usize> = match columns {
        None => (0..schema.fields().len()).collect(),
        Some([]) => return Err(Error::InvalidArgument("the column list is empty".into())),
        Some(names) => names
            .iter()
            .map(|name| find_column(schema, name))
            .collect::<Result<_>>()?,
    };
    for (position, index) in indices.iter().enumerate() {
        if indices[..position].contains(index) {
            return Err(Error::InvalidArgument(format!(
                "column {:?} is listed twice",
                schema.field(*index).name()
            )));
        }
        let field = schema.field(*index);
        if field.data_type().is_nested() {
            return Err(Error::Unsupported(format!(
                "column {:?} is nested ({}); nested columns are not supported yet",
                field.name(),
                field.data_type()
            )));
        }
    }
    Ok(indices)
}

fn row_filter(
    mask: ProjectionMask,
    predicate: BoundPredicate,
    counters: Arc<FilterCounters>,
) -> RowFilter {
    let evaluate = move |batch: RecordBatch| {
        let selected = predicate
            .select(&batch)
            .map_err(|error| ArrowError::ExternalError(Box::new(error)))?;
        counters
            .tested
            .fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
        counters
            .matched
            .fetch_add(selected.true_count() as u64, Ordering::Relaxed);
        Ok(selected)
    };
    RowFilter::new(vec![Box::new(ArrowPredicateFn::new(mask, evaluate))])
}
