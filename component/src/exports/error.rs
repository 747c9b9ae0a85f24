//! Converting core errors into the WIT `error` variant (the only place that
//! does).

use crate::bindings::exports::quiver::engine::types::{
    ByteRange, Error as WitError, HttpStatusError,
};
use crate::error::Error;

impl From<Error> for WitError {
    fn from(error: Error) -> Self {
        let message = error.to_string();
        match error {
            Error::InvalidArgument(_) => WitError::InvalidArgument(message),
            Error::NotFound(_) => WitError::NotFound(message),
            Error::PermissionDenied(_) => WitError::PermissionDenied(message),
            Error::HttpStatus { url, status } => {
                WitError::HttpStatus(HttpStatusError { url, status })
            }
            Error::Network(_) => WitError::Network(message),
            Error::Io(_) => WitError::Io(message),
            Error::Protocol(_) => WitError::Protocol(message),
            Error::RangeOutOfBounds(range) => WitError::RangeOutOfBounds(ByteRange {
                offset: range.start,
                length: range.end - range.start,
            }),
            Error::NotParquet(_) => WitError::NotParquet(message),
            Error::CorruptFile(_) => WitError::CorruptFile(message),
            Error::Unsupported(_) => WitError::Unsupported(message),
            Error::Syntax(_) => WitError::SyntaxError(message),
            Error::ColumnNotFound(_) => WitError::ColumnNotFound(message),
            Error::TypeMismatch(_) => WitError::TypeMismatch(message),
            Error::Gpu(_) => WitError::Gpu(message),
            Error::SourceChanged(_) => WitError::SourceChanged(message),
            Error::MemoryLimit(_) => WitError::MemoryLimit(message),
            Error::Internal(_) => WitError::Internal(message),
        }
    }
}
