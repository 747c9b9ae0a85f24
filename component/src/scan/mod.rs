//! Parquet files: opening one (decoding its footer) and scanning it.

mod advice;
mod bloom;
mod bounds;
mod dictionary;
mod estimate;
mod explain;
mod footer_repair;
mod pages;
mod plan;
mod request;
mod stream;
mod thrift;

pub use advice::Advice;
pub use explain::{Explanation, GroupExplanation, Verdict};
pub use plan::PrunedBy;
pub use request::ScanRequest;
pub use stream::{BatchStream, ScanProgress, ScanStats, StreamEvent};

use crate::error::{Error, Result};
use crate::kernels::Compute;
use crate::source::{FetchStats, RemoteFile};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use footer_repair::{names_encryption, repair_footer};
use parquet::DecodeResult;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::basic::Type as PhysicalType;
use parquet::file::metadata::{
    ColumnChunkMetaData, FileMetaData, PageIndexPolicy, ParquetMetaData,
    ParquetMetaDataPushDecoder, ParquetMetaDataReader,
};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

/// An opened file shared by a [`ParquetFile`] and the scans it started.
pub type SharedFile = Rc<RefCell<RemoteFile>>;

/// Length of the `PAR1` magic at both ends of a Parquet file.
const MAGIC_LEN: i64 = 4;

/// Bytes at the end of every Parquet file: footer length (4) and magic (4).
const FOOTER_TRAILER: u64 = 8;

/// An open Parquet file: its bytes and its decoded footer.
#[derive(Debug, Clone)]
pub struct ParquetFile {
    source: SharedFile,
    reader_metadata: ArrowReaderMetadata,
    open_traffic: FetchStats,
    /// Bytes of the serialized footer.
    footer_bytes: u64,
}

impl ParquetFile {
    /// Decodes the footer of `remote`. Reads that fall in the tail fetched at
    /// open cost nothing; a footer bigger than that costs one more request.
    pub fn open(mut remote: RemoteFile) -> Result<Self> {
        let (metadata, footer_bytes) = read_footer(&mut remote)?;
        let reader_metadata = arrow_metadata(Arc::new(count_rows_by_groups(metadata)))?;
        Ok(Self {
            open_traffic: remote.stats(),
            source: Rc::new(RefCell::new(remote)),
            reader_metadata,
            footer_bytes,
        })
    }

    /// What in the file's layout makes remote reads slow (see `advice`).
    pub fn layout_advice(&self) -> Vec<Advice> {
        advice::layout_advice(
            self.metadata(),
            self.arrow_schema(),
            self.source.borrow().size(),
            self.footer_bytes,
        )
    }

    /// The decoded footer.
    pub fn metadata(&self) -> &Arc<ParquetMetaData> {
        self.reader_metadata.metadata()
    }

    /// The file's schema as Arrow types.
    pub fn arrow_schema(&self) -> &Arc<Schema> {
        self.reader_metadata.schema()
    }

    /// The traffic of the open: the tail and, if the footer was bigger, the
    /// rest of it.
    pub fn open_traffic(&self) -> FetchStats {
        self.open_traffic
    }

    /// The file's bytes.
    pub fn source(&self) -> &SharedFile {
        &self.source
    }

    /// Plans `request` and describes the plan, reading no data page.
    pub fn explain(&self, request: &ScanRequest) -> Result<Explanation> {
        explain::explain(&self.source, &self.reader_metadata, request)
    }

    /// Starts a scan; checks the request against the schema before reading.
    /// The filter runs on this build's CPU tier.
    pub fn scan(&self, request: ScanRequest) -> Result<BatchStream> {
        self.scan_on(request, Compute::cpu())
    }

    /// Like [`ParquetFile::scan`], running the filter's kernels on the tiers
    /// `compute` chooses.
    pub fn scan_on(&self, request: ScanRequest, compute: Compute) -> Result<BatchStream> {
        BatchStream::start(
            Rc::clone(&self.source),
            &self.reader_metadata,
            &request,
            compute,
        )
    }
}

/// The footer of `remote`, decoded, with its length in bytes.
fn read_footer(remote: &mut RemoteFile) -> Result<(ParquetMetaData, u64)> {
    let size = remote.size();
    let url = remote.url().to_owned();
    if size < FOOTER_TRAILER + 4 {
        return Err(Error::NotParquet(format!(
            "{url} is {size} bytes long, too short to be a Parquet file"
        )));
    }
    let trailer = remote
        .read(std::slice::from_ref(&(size - FOOTER_TRAILER..size)))?
        .remove(0);
    match &trailer[4..] {
        b"PAR1" => {}
        b"PARE" => {
            return Err(Error::Unsupported(format!(
                "{url} is an encrypted Parquet file; encryption is not supported"
            )));
        }
        _ => {
            return Err(Error::NotParquet(format!(
                "{url} is not a Parquet file (it does not end with the PAR1 magic)"
            )));
        }
    }
    let footer_len = u64::from(u32::from_le_bytes([
        trailer[0], trailer[1], trailer[2], trailer[3],
    ]));
    if footer_len + FOOTER_TRAILER + 4 > size {
        return Err(Error::NotParquet(format!(
            "{url}: the footer claims {footer_len} bytes but the file has only {size}"
        )));
    }
    let footer_start = size - FOOTER_TRAILER - footer_len;
    let metadata = match decode_footer(remote) {
        // Some early writers put fields of another type where the format now
        // has one; Thrift readers skip them, the decoder does not. Retry once
        // without them.
        Err(Error::CorruptFile(message)) => {
            let footer_range = footer_start..size - FOOTER_TRAILER;
            let footer = remote.read(std::slice::from_ref(&footer_range))?.remove(0);
            let repaired =
                repair_footer(&footer).map_err(|_| Error::CorruptFile(message.clone()))?;
            if repaired[..] == footer[..] {
                return Err(Error::CorruptFile(message));
            }
            ParquetMetaDataReader::decode_metadata(&repaired)
                .map_err(|_| Error::CorruptFile(message))?
        }
        result => result?,
    };
    let footer_range = footer_start..size - FOOTER_TRAILER;
    if remote.is_cached(&footer_range) {
        let footer = remote.read(std::slice::from_ref(&footer_range))?.remove(0);
        if names_encryption(&footer).unwrap_or(false) {
            return Err(Error::Unsupported(format!(
                "{url} has encrypted columns (its footer is plaintext); encryption is not \
                 supported"
            )));
        }
    }
    check_column_chunks(&metadata, size, &url)?;
    Ok((repair_column_chunks(metadata, footer_start)?, footer_len))
}

/// Where a column chunk starts: at its dictionary page, unless the writer put
/// an offset inside the leading magic there (some write 0 for "none"; see
/// [`repair_column_chunks`]), else at its first data page.
fn chunk_start(column: &ColumnChunkMetaData) -> i64 {
    column
        .dictionary_page_offset()
        .filter(|&offset| offset >= MAGIC_LEN)
        .unwrap_or(column.data_page_offset())
}

/// Refuses a footer whose column chunks cannot lie inside the file:
/// negative or overflowing offsets and sizes, or ranges past its end (as
/// parquet-cpp does; a chunk may overlap the footer, whose bytes the page
/// reader never reaches). The decoder asserts on negative ones, which in a
/// WebAssembly instance is a trap.
fn check_column_chunks(metadata: &ParquetMetaData, file_size: u64, url: &str) -> Result<()> {
    for (group_index, group) in metadata.row_groups().iter().enumerate() {
        for column in group.columns() {
            let start = chunk_start(column);
            let size = column.compressed_size();
            let end = u64::try_from(start)
                .ok()
                .zip(u64::try_from(size).ok())
                .and_then(|(start, size)| start.checked_add(size));
            let inside = start >= MAGIC_LEN && end.is_some_and(|end| end <= file_size);
            if !inside {
                return Err(Error::CorruptFile(format!(
                    "{url}: column {} of row group {group_index} claims {size} bytes at byte \
                     {start}, outside the file's {file_size} bytes",
                    column.column_path().string()
                )));
            }
        }
    }
    Ok(())
}

/// How far parquet-cpp extends each column chunk of files hit by PARQUET-816.
const PARQUET_816_PADDING: u64 = 100;

/// Whether `created_by` names parquet-mr before 1.2.9, which left the
/// dictionary page header out of a column chunk's `total_compressed_size`
/// (PARQUET-816). A bare "parquet-mr" counts as old, as parquet-cpp decides.
fn written_before_parquet_816_fix(created_by: Option<&str>) -> bool {
    let Some(rest) = created_by.and_then(|text| text.strip_prefix("parquet-mr")) else {
        return false;
    };
    let version = rest
        .trim_start()
        .strip_prefix("version")
        .unwrap_or(rest)
        .trim_start();
    let numbers: Vec<u64> = version
        .split(|c: char| !c.is_ascii_digit())
        .take(3)
        .map_while(|part| part.parse().ok())
        .collect();
    numbers < vec![1, 2, 9]
}

/// Corrects column chunk locations that writers are known to get wrong, as
/// parquet-cpp does, so the decoder reads the bytes the pages are really in:
/// - a `dictionary_page_offset` inside the leading magic (some writers put 0
///   for "none") is dropped: the chunk starts at its first data page;
/// - chunks of files hit by PARQUET-816 are extended by up to
///   [`PARQUET_816_PADDING`] bytes, never past the footer or into the next
///   chunk. The page reader stops after the chunk's last value, so the
///   padding is never decoded.
fn repair_column_chunks(metadata: ParquetMetaData, footer_start: u64) -> Result<ParquetMetaData> {
    let pad = written_before_parquet_816_fix(metadata.file_metadata().created_by());
    let bad_dictionary_offset = |column: &ColumnChunkMetaData| {
        column
            .dictionary_page_offset()
            .is_some_and(|offset| offset < MAGIC_LEN)
    };
    let needed = pad
        || metadata
            .row_groups()
            .iter()
            .flat_map(|g| g.columns())
            .any(bad_dictionary_offset);
    if !needed {
        return Ok(metadata);
    }
    let mut chunk_starts: Vec<u64> = metadata
        .row_groups()
        .iter()
        .flat_map(|g| g.columns())
        .map(|column| chunk_start(column) as u64)
        .collect();
    chunk_starts.sort_unstable();
    let mut row_groups = Vec::with_capacity(metadata.num_row_groups());
    for group in metadata.row_groups() {
        let mut columns = Vec::with_capacity(group.num_columns());
        for column in group.columns() {
            let mut builder = column.clone().into_builder();
            if bad_dictionary_offset(column) {
                builder = builder.set_dictionary_page_offset(None);
            }
            if pad {
                // Never into the next chunk: where chunks are contiguous,
                // their declared sizes were right after all.
                let start = chunk_start(column) as u64;
                let length = column.compressed_size() as u64;
                let next_start = chunk_starts
                    .iter()
                    .copied()
                    .find(|&other| other > start)
                    .unwrap_or(footer_start)
                    .min(footer_start);
                let padded = (length + PARQUET_816_PADDING)
                    .min(next_start.saturating_sub(start))
                    .max(length);
                let padded = i64::try_from(padded)
                    .map_err(|_| Error::CorruptFile("column chunk too large".into()))?;
                builder = builder.set_total_compressed_size(padded);
            }
            columns.push(builder.build()?);
        }
        row_groups.push(
            group
                .clone()
                .into_builder()
                .set_column_metadata(columns)
                .build()?,
        );
    }
    Ok(metadata.into_builder().set_row_groups(row_groups).build())
}

fn decode_footer(remote: &mut RemoteFile) -> Result<ParquetMetaData> {
    let url = remote.url().to_owned();
    let mut decoder = ParquetMetaDataPushDecoder::try_new(remote.size())?
        .with_page_index_policy(PageIndexPolicy::Skip);
    loop {
        match decoder.try_decode().map_err(|e| corrupt_footer(&url, e))? {
            DecodeResult::NeedsData(ranges) => {
                let data = remote.read(&ranges)?;
                decoder.push_ranges(ranges, data)?;
            }
            DecodeResult::Data(metadata) => return Ok(metadata),
            DecodeResult::Finished => {
                return Err(Error::Internal(format!(
                    "{url}: footer decoder finished without metadata"
                )));
            }
        }
    }
}

fn corrupt_footer(url: &str, error: parquet::errors::ParquetError) -> Error {
    Error::CorruptFile(format!("{url}: cannot decode the Parquet footer: {error}"))
}

/// `metadata` with the file's row count made the sum of its row groups',
/// as pyarrow and DuckDB read them: some writers (parquet-rs 0.3) left the
/// file's count at 0, and the reader returns no more rows than it says.
fn count_rows_by_groups(metadata: ParquetMetaData) -> ParquetMetaData {
    let rows = (metadata.row_groups().iter()).fold(0i64, |sum, group| {
        sum.saturating_add(group.num_rows().max(0))
    });
    let file = metadata.file_metadata();
    if file.num_rows() == rows {
        return metadata;
    }
    let counted = FileMetaData::new(
        file.version(),
        rows,
        file.created_by().map(str::to_owned),
        file.key_value_metadata().cloned(),
        file.schema_descr_ptr(),
        file.column_orders().cloned(),
    );
    ParquetMetaData::new(counted, metadata.row_groups().to_vec())
}

/// The Arrow view of the file. INT96 timestamps are read in microseconds
/// rather than Arrow's default nanoseconds, as DuckDB and Spark do, so that
/// dates beyond the years 1677–2262 are not wrapped.
fn arrow_metadata(metadata: Arc<ParquetMetaData>) -> Result<ArrowReaderMetadata> {
    let default = ArrowReaderMetadata::try_new(Arc::clone(&metadata), ArrowReaderOptions::new())?;
    let descriptor = metadata.file_metadata().schema_descr();
    let mut int96_roots: Vec<usize> = (0..descriptor.num_columns())
        .filter(|&leaf| descriptor.column(leaf).physical_type() == PhysicalType::INT96)
        .map(|leaf| descriptor.get_column_root_idx(leaf))
        .collect();
    int96_roots.dedup();
    let schema = default.schema();
    let nanos = DataType::Timestamp(TimeUnit::Nanosecond, None);
    if !int96_roots
        .iter()
        .any(|&root| schema.field(root).data_type() == &nanos)
    {
        return Ok(default);
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(index, field)| {
            if int96_roots.contains(&index) && field.data_type() == &nanos {
                field
                    .as_ref()
                    .clone()
                    .with_data_type(DataType::Timestamp(TimeUnit::Microsecond, None))
            } else {
                field.as_ref().clone()
            }
        })
        .collect();
    let hinted = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    Ok(ArrowReaderMetadata::try_new(
        metadata,
        ArrowReaderOptions::new().with_schema(hinted),
    )?)
}

#[cfg(test)]
mod tests {
    use super::written_before_parquet_816_fix as old_parquet_mr;

    #[test]
    fn recognises_writers_hit_by_parquet_816() {
        assert!(old_parquet_mr(Some("parquet-mr")));
        assert!(old_parquet_mr(Some("parquet-mr version 1.2.8 (build abc)")));
        assert!(!old_parquet_mr(Some(
            "parquet-mr version 1.2.9 (build abc)"
        )));
        assert!(!old_parquet_mr(Some(
            "parquet-mr version 1.13.0-SNAPSHOT (build x)"
        )));
        assert!(!old_parquet_mr(Some("parquet-cpp-arrow version 26.0.1")));
        assert!(!old_parquet_mr(None));
    }
}
