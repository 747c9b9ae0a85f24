//! The engine's one error type. Every failure the engine reports is one of
//! these cases; `exports` converts them once into the WIT `error` variant.

use std::fmt;
use std::ops::Range;

/// Why an engine operation failed. The cases mirror the WIT `error` variant;
/// the strings are human-readable messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A caller-supplied argument is unusable.
    InvalidArgument(String),
    /// The file does not exist.
    NotFound(String),
    /// Access to the file was refused.
    PermissionDenied(String),
    /// A server answered with a status that ends the request.
    HttpStatus {
        /// The URL requested.
        url: String,
        /// The status code received.
        status: u16,
    },
    /// The server could not be reached or the transfer broke off.
    Network(String),
    /// Reading a local file failed.
    Io(String),
    /// The server broke the HTTP range protocol.
    Protocol(String),
    /// A byte range reaches past the end of the file.
    RangeOutOfBounds(Range<u64>),
    /// The bytes are not a Parquet file.
    NotParquet(String),
    /// The Parquet file is damaged.
    CorruptFile(String),
    /// Valid input that the engine does not support yet.
    Unsupported(String),
    /// The WHERE clause could not be parsed.
    Syntax(String),
    /// A named column is not in the file.
    ColumnNotFound(String),
    /// Operand types cannot be compared.
    TypeMismatch(String),
    /// The GPU tier was requested and is missing, or the adapter failed.
    Gpu(String),
    /// The file changed on the server after it was opened.
    SourceChanged(String),
    /// One unit of work needs more memory than the scan's limit leaves.
    MemoryLimit(String),
    /// A defect in the engine.
    Internal(String),
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::HttpStatus { url, status } => write!(f, "HTTP status {status} from {url}"),
            Error::RangeOutOfBounds(range) => write!(
                f,
                "byte range {}..{} reaches past the end of the file",
                range.start, range.end
            ),
            Error::InvalidArgument(message)
            | Error::NotFound(message)
            | Error::PermissionDenied(message)
            | Error::Network(message)
            | Error::Io(message)
            | Error::Protocol(message)
            | Error::NotParquet(message)
            | Error::CorruptFile(message)
            | Error::Unsupported(message)
            | Error::Syntax(message)
            | Error::ColumnNotFound(message)
            | Error::TypeMismatch(message)
            | Error::Gpu(message)
            | Error::SourceChanged(message)
            | Error::MemoryLimit(message)
            | Error::Internal(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}

impl From<parquet::errors::ParquetError> for Error {
    fn from(error: parquet::errors::ParquetError) -> Self {
        use parquet::errors::ParquetError;
        match error {
            ParquetError::NYI(message) => {
                Error::Unsupported(format!("not supported by the Parquet decoder: {message}"))
            }
            ParquetError::ArrowError(message) => {
                Error::CorruptFile(format!("cannot decode Parquet data: {message}"))
            }
            // The row filter's own errors (a GPU failure, say) come back
            // wrapped by Arrow and then by Parquet: unwrap them.
            ParquetError::External(inner) => match inner.downcast::<arrow_schema::ArrowError>() {
                Ok(arrow) => Error::from(*arrow),
                Err(other) => Error::CorruptFile(format!("cannot decode Parquet data: {other}")),
            },
            other => Error::CorruptFile(format!("cannot decode Parquet data: {other}")),
        }
    }
}

impl From<arrow_schema::ArrowError> for Error {
    fn from(error: arrow_schema::ArrowError) -> Self {
        use arrow_schema::ArrowError;
        match error {
            ArrowError::ExternalError(inner) => match inner.downcast::<Error>() {
                Ok(engine_error) => *engine_error,
                Err(other) => Error::Internal(format!("Arrow error: {other}")),
            },
            ArrowError::ParquetError(message) => {
                Error::CorruptFile(format!("cannot decode Parquet data: {message}"))
            }
            ArrowError::InvalidArgumentError(message) | ArrowError::CastError(message) => {
                Error::TypeMismatch(message)
            }
            ArrowError::IpcError(message) => {
                Error::InvalidArgument(format!("invalid Arrow IPC data: {message}"))
            }
            other => Error::Internal(format!("Arrow error: {other}")),
        }
    }
}
