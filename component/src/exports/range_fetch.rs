//! Implementation of the `quiver:engine/range-fetch` interface.

use super::Engine;
use super::cache::HostRangeStore;
use crate::bindings::exports::quiver::engine::range_fetch::{
    FetchOptions as WitFetchOptions, FetchStats as WitFetchStats, Guest, GuestRemoteFile,
    RemoteFile as WitRemoteFile,
};
use crate::bindings::exports::quiver::engine::types::{ByteRange, Error as WitError};
use crate::error::Error;
use crate::source::{FetchOptions, FetchStats, RemoteFile, RetryPolicy, transport_for};
use std::cell::RefCell;

/// The `remote-file` resource.
pub struct RemoteFileResource(RefCell<RemoteFile>);

impl Guest for Engine {
    type RemoteFile = RemoteFileResource;

    fn open(url: String, options: WitFetchOptions) -> Result<WitRemoteFile, WitError> {
        let file = open_remote(&url, options)?;
        Ok(WitRemoteFile::new(RemoteFileResource(RefCell::new(file))))
    }
}

/// Opens `url` with the WIT options (shared with `scan.open`).
pub(super) fn open_remote(url: &str, options: WitFetchOptions) -> Result<RemoteFile, Error> {
    let defaults = FetchOptions::default();
    let max_concurrency = match options.max_concurrency {
        Some(n) => usize::try_from(n)
            .map_err(|_| Error::InvalidArgument(format!("max-concurrency {n} is too large")))?,
        None => defaults.max_concurrency,
    };
    let retry = RetryPolicy {
        max_retries: options.max_retries.unwrap_or(defaults.retry.max_retries),
        deadline_ms: options
            .retry_deadline_ms
            .map_or(defaults.retry.deadline_ms, u64::from),
    };
    let options = FetchOptions {
        tail_bytes: options.tail_bytes.unwrap_or(defaults.tail_bytes),
        coalesce_gap: options.coalesce_gap.unwrap_or(defaults.coalesce_gap),
        max_concurrency,
        retry,
        conditional_requests: options
            .conditional_requests
            .unwrap_or(defaults.conditional_requests),
        idle_timeout_ms: options
            .idle_timeout_ms
            .map_or(defaults.idle_timeout_ms, u64::from),
        memory_limit: options.memory_limit,
        cache: options.cache.unwrap_or(defaults.cache),
    };
    let mut file = RemoteFile::open(url, transport_for(url, &options)?, options)?;
    // Local files are not cached: reading them again costs as little.
    if options.cache && !url.starts_with("file:") {
        file.use_cache(Box::new(HostRangeStore));
    }
    Ok(file)
}

/// Converts traffic counters to WIT.
pub(super) fn wit_stats(stats: FetchStats) -> WitFetchStats {
    WitFetchStats {
        requests: stats.requests,
        bytes_fetched: stats.bytes_fetched,
        round_trips: stats.round_trips,
        retries: stats.retries,
        cache_hits: stats.cache_hits,
        cache_bytes: stats.cache_bytes,
    }
}

impl GuestRemoteFile for RemoteFileResource {
    fn url(&self) -> String {
        self.0.borrow().url().to_owned()
    }

    fn size(&self) -> u64 {
        self.0.borrow().size()
    }

    fn etag(&self) -> Option<String> {
        self.0.borrow().validator().map(str::to_owned)
    }

    fn read(&self, ranges: Vec<ByteRange>) -> Result<Vec<Vec<u8>>, WitError> {
        let ranges = ranges
            .iter()
            .map(|r| match r.offset.checked_add(r.length) {
                Some(end) => Ok(r.offset..end),
                None => Err(Error::RangeOutOfBounds(r.offset..u64::MAX)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let data = self.0.borrow_mut().read(&ranges)?;
        Ok(data.into_iter().map(|bytes| bytes.to_vec()).collect())
    }

    fn stats(&self) -> WitFetchStats {
        wit_stats(self.0.borrow().stats())
    }
}
