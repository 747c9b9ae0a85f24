//! Where a file's bytes come from.
//!
//! A [`Transport`] performs the I/O for one file (HTTP through `wasi:http`, a
//! local file through `wasi:filesystem`, or memory in tests). [`RemoteFile`]
//! holds the policy on top of it: bounds checks, the cached tail, coalescing
//! and traffic counters. Nothing above this module does I/O.

pub mod cache;
mod coalesce;
mod file;
#[cfg(target_arch = "wasm32")]
mod http;
mod memory;
mod remote;
pub mod retry;

pub use coalesce::{CoalescedRanges, coalesce, plan_wave, split_large};
pub use file::FileTransport;
pub use memory::MemoryTransport;
pub use remote::{FetchOptions, FetchStats, RemoteFile};
pub use retry::RetryPolicy;

/// How a file's size and tail were learned when it was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenPath {
    /// One suffix range (`bytes=-N`) answered with its `Content-Range`.
    SuffixRange,
    /// The server ignored `Range` and sent the whole file.
    WholeFile,
    /// The server refused the suffix range (416) but gave the size; the
    /// tail was then read as an ordinary range.
    RangeAfter416,
    /// The server's answer did not give the size; a `bytes=0-0` probe did,
    /// and the tail was then read as an ordinary range.
    RangeAfterProbe,
    /// A local file: its size from the file system, its tail in one read.
    LocalFile,
}

impl OpenPath {
    /// The path's name in stats: `suffix-range`, `whole-file`, …
    pub fn name(self) -> &'static str {
        match self {
            OpenPath::SuffixRange => "suffix-range",
            OpenPath::WholeFile => "whole-file",
            OpenPath::RangeAfter416 => "range-after-416",
            OpenPath::RangeAfterProbe => "range-after-probe",
            OpenPath::LocalFile => "local-file",
        }
    }
}

use crate::error::{Error, Result};
use bytes::Bytes;
use std::ops::Range;

/// What a transport learns when it opens a file.
#[derive(Debug, Clone)]
pub struct Opened {
    /// File size in bytes.
    pub size: u64,
    /// The server's validator (`ETag`, else `Last-Modified`).
    pub validator: Option<String>,
    /// The last bytes of the file: as many as asked for, or the whole file
    /// when it is smaller or the server sent all of it.
    pub tail: Bytes,
    /// How the size and tail were learned.
    pub path: OpenPath,
    /// Requests the open took, one after the other.
    pub requests: u64,
    /// Body bytes received by the open (the tail, and any probe).
    pub bytes: u64,
}

/// Requests a transport sent again, since it was made.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Resent {
    /// After a transient failure (a retry).
    pub retries: u64,
    /// To follow a redirect.
    pub redirects: u64,
}

/// Performs the reads of one file. Callers pass ranges that lie inside the
/// file, sorted and not overlapping.
pub trait Transport {
    /// Learns the file's size and validator, and reads its last `tail_bytes`
    /// bytes, in one request where the protocol allows.
    fn open(&mut self, tail_bytes: u64) -> Result<Opened>;

    /// Reads every range, with up to `max_concurrency` requests in flight,
    /// and returns their bytes in the order asked.
    fn fetch(&mut self, ranges: &[Range<u64>], max_concurrency: usize) -> Result<Vec<Bytes>>;

    /// Requests sent again so far, beyond those `open` counted and those
    /// `fetch` was asked for. Transports that never resend keep the default.
    fn resent(&self) -> Resent {
        Resent::default()
    }
}

/// Picks the transport for a URL: `http(s)://` or `file://`, with the retry,
/// timeout and precondition settings of `options` (HTTP only).
pub fn transport_for(url: &str, options: &FetchOptions) -> Result<Box<dyn Transport>> {
    let parsed = url::Url::parse(url)
        .map_err(|error| Error::InvalidArgument(format!("invalid URL {url:?}: {error}")))?;
    match parsed.scheme() {
        "file" => Ok(Box::new(FileTransport::from_url(&parsed)?)),
        "http" | "https" => http_transport(parsed, options),
        scheme => Err(Error::InvalidArgument(format!(
            "unsupported URL scheme {scheme:?} in {url:?}: use http://, https:// or file://"
        ))),
    }
}

#[cfg(target_arch = "wasm32")]
fn http_transport(url: url::Url, options: &FetchOptions) -> Result<Box<dyn Transport>> {
    Ok(Box::new(http::HttpTransport::new(url, options)?))
}

#[cfg(not(target_arch = "wasm32"))]
fn http_transport(url: url::Url, _options: &FetchOptions) -> Result<Box<dyn Transport>> {
    Err(Error::Unsupported(format!(
        "{url}: HTTP is read through the wasi:http import, which only the WebAssembly build has"
    )))
}
