//! Typed calls into one engine instance.
//!
//! Every call returns two layers: the outer `anyhow::Result` fails only on a
//! trap or host failure (a broken contract); the inner `Result` carries the
//! engine's typed error, which the caller can act on.

use crate::bindings::EngineError;
use crate::bindings::filter::{ComputePreference, Expression, Selection};
use crate::bindings::range_fetch::{FetchOptions, FetchStats};
use crate::bindings::scan::{
    FileMetadata, OpenOptions, OpenStats, ScanEvent, ScanPlan, ScanProgress, ScanRequest, ScanStats,
};
use crate::runtime::Session;
use anyhow::Result;
use wasmtime::component::ResourceAny;

/// An open `parquet-file` resource of a session.
pub struct ParquetFile(ResourceAny);

/// A `batch-stream` resource of a session.
pub struct BatchStream(ResourceAny);

/// The result of an engine call: a trap or host failure outside, the engine's
/// typed error inside.
pub type EngineResult<T> = Result<Result<T, EngineError>>;

impl Session {
    /// Opens a Parquet file by URL.
    pub async fn open(&mut self, url: &str, options: OpenOptions) -> EngineResult<ParquetFile> {
        let scan = self.engine.quiver_engine_scan();
        Ok(scan
            .call_open(&mut self.store, url, options)
            .await?
            .map(ParquetFile))
    }

    /// The file's footer metadata.
    pub async fn metadata(&mut self, file: &ParquetFile) -> Result<FileMetadata> {
        let scan = self.engine.quiver_engine_scan();
        Ok(scan
            .parquet_file()
            .call_metadata(&mut self.store, file.0)
            .await?)
    }

    /// Traffic on the file so far (its open and all its scans).
    pub async fn fetch_stats(&mut self, file: &ParquetFile) -> Result<FetchStats> {
        let scan = self.engine.quiver_engine_scan();
        Ok(scan
            .parquet_file()
            .call_fetch_stats(&mut self.store, file.0)
            .await?)
    }

    /// What opening `file` cost, and how its size was learned.
    pub async fn open_stats(&mut self, file: &ParquetFile) -> Result<OpenStats> {
        let scan = self.engine.quiver_engine_scan();
        Ok(scan
            .parquet_file()
            .call_open_stats(&mut self.store, file.0)
            .await?)
    }

    /// Plans a scan of `file` without reading data pages.
    pub async fn explain(
        &mut self,
        file: &ParquetFile,
        request: ScanRequest,
    ) -> EngineResult<ScanPlan> {
        let scan = self.engine.quiver_engine_scan();
        Ok(scan
            .parquet_file()
            .call_explain(&mut self.store, file.0, &request)
            .await?)
    }

    /// Starts a scan of `file`.
    pub async fn scan(
        &mut self,
        file: &ParquetFile,
        request: ScanRequest,
    ) -> EngineResult<BatchStream> {
        let scan = self.engine.quiver_engine_scan();
        Ok(scan
            .parquet_file()
            .call_scan(&mut self.store, file.0, &request)
            .await?
            .map(BatchStream))
    }

    /// The schema of the scan's batches, as an Arrow IPC stream.
    pub async fn schema(&mut self, stream: &BatchStream) -> Result<Vec<u8>> {
        let scan = self.engine.quiver_engine_scan();
        Ok(scan
            .batch_stream()
            .call_schema(&mut self.store, stream.0)
            .await?)
    }

    /// The next batch, or progress after a wave of requests that completed
    /// none, or `None` at the end.
    pub async fn next_event(&mut self, stream: &BatchStream) -> EngineResult<Option<ScanEvent>> {
        let scan = self.engine.quiver_engine_scan();
        Ok(scan
            .batch_stream()
            .call_next_event(&mut self.store, stream.0)
            .await?)
    }

    /// How far the scan has got.
    pub async fn scan_progress(&mut self, stream: &BatchStream) -> Result<ScanProgress> {
        let scan = self.engine.quiver_engine_scan();
        Ok(scan
            .batch_stream()
            .call_progress(&mut self.store, stream.0)
            .await?)
    }

    /// What the scan has done so far.
    pub async fn scan_stats(&mut self, stream: &BatchStream) -> Result<ScanStats> {
        let scan = self.engine.quiver_engine_scan();
        Ok(scan
            .batch_stream()
            .call_stats(&mut self.store, stream.0)
            .await?)
    }

    /// Parses a SQL WHERE clause into the engine's expression nodes.
    pub async fn parse_where(&mut self, clause: &str) -> EngineResult<Expression> {
        let filter = self.engine.quiver_engine_filter();
        Ok(filter.call_parse(&mut self.store, clause).await?)
    }

    /// Evaluates `expression` on the rows of `batch` (an Arrow IPC stream).
    pub async fn evaluate(
        &mut self,
        expression: &Expression,
        batch: &[u8],
        compute: ComputePreference,
    ) -> EngineResult<Selection> {
        let filter = self.engine.quiver_engine_filter();
        Ok(filter
            .call_evaluate(&mut self.store, expression, batch, compute)
            .await?)
    }

    /// Releases a stream.
    pub async fn close_stream(&mut self, stream: BatchStream) -> Result<()> {
        Ok(stream.0.resource_drop_async(&mut self.store).await?)
    }

    /// Releases a file.
    pub async fn close_file(&mut self, file: ParquetFile) -> Result<()> {
        Ok(file.0.resource_drop_async(&mut self.store).await?)
    }
}

/// Open options with every default.
pub fn default_open_options() -> OpenOptions {
    OpenOptions {
        fetch: FetchOptions {
            tail_bytes: None,
            coalesce_gap: None,
            max_concurrency: None,
            max_retries: None,
            retry_deadline_ms: None,
            conditional_requests: None,
            idle_timeout_ms: None,
            memory_limit: None,
            cache: None,
        },
    }
}

/// A one-line description of an engine error: its case and its message.
pub fn describe_error(error: &EngineError) -> String {
    match error {
        EngineError::InvalidArgument(m) => format!("invalid argument: {m}"),
        EngineError::NotFound(m) => format!("not found: {m}"),
        EngineError::PermissionDenied(m) => format!("permission denied: {m}"),
        EngineError::HttpStatus(e) => format!("HTTP status {} from {}", e.status, e.url),
        EngineError::Network(m) => format!("network error: {m}"),
        EngineError::Io(m) => format!("I/O error: {m}"),
        EngineError::Protocol(m) => format!("HTTP protocol error: {m}"),
        EngineError::RangeOutOfBounds(r) => {
            format!(
                "byte range {}+{} reaches past the end of the file",
                r.offset, r.length
            )
        }
        EngineError::NotParquet(m) => format!("not a Parquet file: {m}"),
        EngineError::CorruptFile(m) => format!("corrupt file: {m}"),
        EngineError::Unsupported(m) => format!("unsupported: {m}"),
        EngineError::SyntaxError(m) => format!("syntax error: {m}"),
        EngineError::ColumnNotFound(m) => format!("column not found: {m}"),
        EngineError::TypeMismatch(m) => format!("type mismatch: {m}"),
        EngineError::Gpu(m) => format!("GPU error: {m}"),
        EngineError::SourceChanged(m) => format!("source changed: {m}"),
        EngineError::MemoryLimit(m) => format!("memory limit: {m}"),
        EngineError::Internal(m) => format!("internal error: {m}"),
    }
}
