//! An opened file: fixed size, a cached tail, bounds-checked coalesced reads
//! and traffic counters.

use super::cache::{RangeCache, RangeStore};
use super::{OpenPath, RetryPolicy, Transport, plan_wave, split_large};
use crate::error::{Error, Result};
use bytes::Bytes;
use std::ops::Range;

/// How reads are planned (the WIT `fetch-options` with defaults filled in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchOptions {
    /// Bytes read from the end of the file at open.
    pub tail_bytes: u64,
    /// Ranges at most this far apart are read in one request.
    pub coalesce_gap: u64,
    /// Most requests in flight at once.
    pub max_concurrency: usize,
    /// How transient failures are retried.
    pub retry: RetryPolicy,
    /// Whether reads after the open carry a precondition on the version
    /// opened (`If-Match`); responses' validators are compared either way.
    pub conditional_requests: bool,
    /// Longest silence of a server (connecting, before the first byte,
    /// between two bytes) before a request fails, in milliseconds.
    pub idle_timeout_ms: u64,
    /// The memory limit the bytes held at open count against (`None`: the
    /// engine's default); it bounds the body of a server that ignores
    /// `Range` and sends the whole file.
    pub memory_limit: Option<u64>,
    /// Whether reads use the host's range cache (HTTP files with a strong
    /// `ETag` only).
    pub cache: bool,
}

impl FetchOptions {
    /// Default bytes read at open: enough for the footer and page index of
    /// most files, so that planning a scan needs no second round trip.
    pub const DEFAULT_TAIL_BYTES: u64 = 256 * 1024;
    /// Default gap read through rather than split: about what the headers
    /// of one more request cost. Wider gaps are read through only when a
    /// wave has more requests than slots (see [`FetchOptions::wait_cost_bytes`]).
    pub const DEFAULT_COALESCE_GAP: u64 = 4 * 1024;
    /// Round trip assumed by the cost model that weighs bytes against waits.
    pub const ASSUMED_ROUND_TRIP_MS: u64 = 50;
    /// Requests longer than this are split into pieces fetched in parallel
    /// while a wave has free slots.
    pub const SPLIT_ABOVE_BYTES: u64 = 8 * 1024 * 1024;
    /// Bandwidth assumed by the cost model (100 Mbit/s).
    pub const ASSUMED_BYTES_PER_SECOND: u64 = 12_500_000;
    /// Default requests in flight: browsers allow 6 per host on HTTP/1.1 and
    /// ~100 streams on HTTP/2; 32 keeps servers friendly and pipes full.
    pub const DEFAULT_MAX_CONCURRENCY: usize = 32;
    /// Largest tail read at open: the footer guess must not become a download.
    pub const MAX_TAIL_BYTES: u64 = 64 * 1024 * 1024;
    /// Most requests in flight that a caller may ask for.
    pub const MAX_CONCURRENCY: usize = 256;
    /// Default idle timeout: generous, as object stores can be slow to
    /// start a body.
    pub const DEFAULT_IDLE_TIMEOUT_MS: u64 = 30_000;
}

impl FetchOptions {
    /// What a request that must wait for a free slot costs, in bytes that
    /// could be read in that time: one round trip's worth of bandwidth,
    /// shared by the slots.
    pub fn wait_cost_bytes(&self) -> u64 {
        Self::ASSUMED_BYTES_PER_SECOND * Self::ASSUMED_ROUND_TRIP_MS
            / 1000
            / self.max_concurrency.max(1) as u64
    }
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            tail_bytes: Self::DEFAULT_TAIL_BYTES,
            coalesce_gap: Self::DEFAULT_COALESCE_GAP,
            max_concurrency: Self::DEFAULT_MAX_CONCURRENCY,
            retry: RetryPolicy::default(),
            conditional_requests: true,
            idle_timeout_ms: Self::DEFAULT_IDLE_TIMEOUT_MS,
            memory_limit: None,
            cache: true,
        }
    }
}

/// Traffic counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchStats {
    /// Requests made (for local files: reads).
    pub requests: u64,
    /// Bytes received.
    pub bytes_fetched: u64,
    /// Waves of requests, each sent only after the previous one ended.
    pub round_trips: u64,
    /// Requests sent again after a transient failure (in `requests` too).
    pub retries: u64,
    /// Ranges served from the range cache instead of the server.
    pub cache_hits: u64,
    /// Bytes served from the range cache (not in `bytes_fetched`).
    pub cache_bytes: u64,
}

impl FetchStats {
    /// The traffic since `earlier` was taken.
    pub fn since(self, earlier: FetchStats) -> FetchStats {
        FetchStats {
            requests: self.requests - earlier.requests,
            bytes_fetched: self.bytes_fetched - earlier.bytes_fetched,
            round_trips: self.round_trips - earlier.round_trips,
            retries: self.retries - earlier.retries,
            cache_hits: self.cache_hits - earlier.cache_hits,
            cache_bytes: self.cache_bytes - earlier.cache_bytes,
        }
    }

    /// Both traffics together.
    pub fn plus(self, other: FetchStats) -> FetchStats {
        FetchStats {
            requests: self.requests + other.requests,
            bytes_fetched: self.bytes_fetched + other.bytes_fetched,
            round_trips: self.round_trips + other.round_trips,
            retries: self.retries + other.retries,
            cache_hits: self.cache_hits + other.cache_hits,
            cache_bytes: self.cache_bytes + other.cache_bytes,
        }
    }
}

/// An opened file. Reads inside the tail fetched at open cost nothing.
pub struct RemoteFile {
    url: String,
    transport: Box<dyn Transport>,
    size: u64,
    validator: Option<String>,
    tail: Bytes,
    options: FetchOptions,
    stats: FetchStats,
    open_path: OpenPath,
    /// Bytes fetched ahead by [`RemoteFile::prefetch`], kept for later reads.
    retained: Vec<(u64, Bytes)>,
    /// The host's range cache for the version opened, if it is used.
    cache: Option<RangeCache>,
}

impl std::fmt::Debug for RemoteFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteFile")
            .field("url", &self.url)
            .field("size", &self.size)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl RemoteFile {
    /// Opens the file behind `transport`: one request that learns the size and
    /// reads the last `options.tail_bytes` bytes.
    pub fn open(
        url: &str,
        mut transport: Box<dyn Transport>,
        options: FetchOptions,
    ) -> Result<Self> {
        if options.tail_bytes > FetchOptions::MAX_TAIL_BYTES {
            return Err(Error::InvalidArgument(format!(
                "tail-bytes {} is larger than the maximum {}",
                options.tail_bytes,
                FetchOptions::MAX_TAIL_BYTES
            )));
        }
        if options.max_concurrency == 0 || options.max_concurrency > FetchOptions::MAX_CONCURRENCY {
            return Err(Error::InvalidArgument(format!(
                "max-concurrency must be between 1 and {}, not {}",
                FetchOptions::MAX_CONCURRENCY,
                options.max_concurrency
            )));
        }
        if options.idle_timeout_ms == 0 {
            return Err(Error::InvalidArgument(
                "idle-timeout-ms must be positive".into(),
            ));
        }
        if options.retry.max_retries > RetryPolicy::MAX_RETRIES {
            return Err(Error::InvalidArgument(format!(
                "max-retries must be at most {}, not {}",
                RetryPolicy::MAX_RETRIES,
                options.retry.max_retries
            )));
        }
        let opened = transport.open(options.tail_bytes)?;
        let stats = FetchStats {
            requests: opened.requests,
            bytes_fetched: opened.bytes,
            round_trips: opened.requests,
            ..FetchStats::default()
        };
        Ok(Self {
            url: url.to_owned(),
            transport,
            size: opened.size,
            validator: opened.validator,
            tail: opened.tail,
            options,
            stats,
            open_path: opened.path,
            retained: Vec::new(),
            cache: None,
        })
    }

    /// Makes later reads look up `store` first and keep what they fetch
    /// there, for this version of the file; forgets the store's entries of
    /// every other version of the URL. A file whose validator is not a strong
    /// `ETag` is not cached, and its entries are all forgotten.
    pub fn use_cache(&mut self, store: Box<dyn RangeStore>) {
        if self.open_path != OpenPath::WholeFile {
            self.cache = RangeCache::for_open(store, &self.url, self.validator.as_deref());
        }
    }

    /// How the open learned the size and tail.
    pub fn open_path(&self) -> OpenPath {
        self.open_path
    }

    /// The URL the file was opened with.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The server's validator, if it sent one.
    pub fn validator(&self) -> Option<&str> {
        self.validator.as_deref()
    }

    /// How reads are planned.
    pub fn options(&self) -> FetchOptions {
        self.options
    }

    /// Whether reading `range` costs nothing: the tail read at open or bytes
    /// fetched ahead hold all of it.
    pub fn is_cached(&self, range: &Range<u64>) -> bool {
        self.pieces(range)
            .iter()
            .all(|piece| matches!(piece, Piece::Held(_)))
    }

    /// Fetches `ranges` in one wave and keeps them, so that later reads of
    /// them (or inside them) cost nothing. For small things read ahead of
    /// need: bloom filter blocks, dictionary pages.
    pub fn prefetch(&mut self, ranges: &[Range<u64>]) -> Result<()> {
        let bytes = self.read(ranges)?;
        let tail_start = self.tail_start();
        for (range, bytes) in ranges.iter().zip(bytes) {
            if !range.is_empty() && range.start < tail_start {
                self.retained.push((range.start, bytes));
            }
        }
        Ok(())
    }

    /// Traffic since open.
    pub fn stats(&self) -> FetchStats {
        // `stats` counts the requests asked for; the transport, those it
        // sent again (retries and redirects), failed reads included.
        let resent = self.transport.resent();
        FetchStats {
            requests: self.stats.requests + resent.retries + resent.redirects,
            retries: resent.retries,
            ..self.stats
        }
    }

    /// Where the cached tail starts.
    fn tail_start(&self) -> u64 {
        self.size - self.tail.len() as u64
    }

    /// Reads `ranges` (in any order, possibly overlapping) and returns their
    /// bytes in the order asked. Fails before any I/O if one reaches past the
    /// end of the file. Only the parts not already held (the tail, bytes
    /// fetched ahead) are requested.
    pub fn read(&mut self, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        if let Some(bad) = ranges.iter().find(|r| r.start > r.end || r.end > self.size) {
            return Err(Error::RangeOutOfBounds(bad.clone()));
        }
        let mut pieces: Vec<Vec<Piece>> = ranges.iter().map(|range| self.pieces(range)).collect();
        if let Some(cache) = &self.cache {
            for piece in pieces.iter_mut().flatten() {
                if let Piece::Missing(range) = piece
                    && let Some(bytes) = cache.lookup(range)
                {
                    self.stats.cache_hits += 1;
                    self.stats.cache_bytes += bytes.len() as u64;
                    *piece = Piece::Held(bytes);
                }
            }
        }
        let missing: Vec<Range<u64>> = pieces
            .iter()
            .flatten()
            .filter_map(|piece| match piece {
                Piece::Missing(range) => Some(range.clone()),
                Piece::Held(_) => None,
            })
            .collect();
        let plan = split_large(
            plan_wave(
                &missing,
                self.options.coalesce_gap,
                self.options.max_concurrency,
                self.options.wait_cost_bytes(),
            ),
            &missing,
            self.options.max_concurrency,
            FetchOptions::SPLIT_ABOVE_BYTES,
        );
        let bodies = if plan.requests.is_empty() {
            Vec::new()
        } else {
            self.transport
                .fetch(&plan.requests, self.options.max_concurrency)?
        };
        self.stats.requests += plan.requests.len() as u64;
        self.stats.round_trips += u64::from(!plan.requests.is_empty());
        self.stats.bytes_fetched += bodies.iter().map(|b| b.len() as u64).sum::<u64>();
        // Whole requests are kept, not the pieces cut from them: fewer and
        // larger entries, and later reads look up pieces inside them.
        if let Some(cache) = &self.cache {
            for (range, body) in plan.requests.iter().zip(&bodies) {
                cache.keep(range, body);
            }
        }
        let mut fetched = plan.slice(&missing, &bodies).into_iter();
        Ok(pieces
            .into_iter()
            .map(|pieces| {
                let mut parts: Vec<Bytes> = pieces
                    .into_iter()
                    .map(|piece| match piece {
                        Piece::Held(bytes) => bytes,
                        Piece::Missing(_) => fetched.next().unwrap_or_default(),
                    })
                    .collect();
                if parts.len() == 1 {
                    parts.pop().unwrap_or_default()
                } else {
                    Bytes::from(parts.concat())
                }
            })
            .collect())
    }

    /// `range` cut into the parts already held and the parts to fetch, in
    /// order.
    fn pieces(&self, range: &Range<u64>) -> Vec<Piece> {
        if range.is_empty() {
            return vec![Piece::Held(Bytes::new())];
        }
        let mut held: Vec<(u64, &Bytes)> = self
            .retained
            .iter()
            .map(|(start, bytes)| (*start, bytes))
            .chain(std::iter::once((self.tail_start(), &self.tail)))
            .filter(|(start, bytes)| *start < range.end && start + bytes.len() as u64 > range.start)
            .collect();
        held.sort_unstable_by_key(|(start, _)| *start);
        let mut pieces = Vec::new();
        let mut at = range.start;
        for (start, bytes) in held {
            let end = (start + bytes.len() as u64).min(range.end);
            if end <= at {
                continue;
            }
            if start > at {
                pieces.push(Piece::Missing(at..start));
                at = start;
            }
            pieces.push(Piece::Held(
                bytes.slice((at - start) as usize..(end - start) as usize),
            ));
            at = end;
        }
        if at < range.end {
            pieces.push(Piece::Missing(at..range.end));
        }
        pieces
    }
}

/// A part of a wanted range: bytes already held, or a range to fetch.
enum Piece {
    Held(Bytes),
    Missing(Range<u64>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemoryTransport;

    fn file_of(len: u32, tail_bytes: u64) -> (Bytes, RemoteFile) {
        let data = Bytes::from((0..len).map(|i| (i % 256) as u8).collect::<Vec<u8>>());
        let options = FetchOptions {
            tail_bytes,
            coalesce_gap: 10,
            max_concurrency: 4,
            ..FetchOptions::default()
        };
        let file = RemoteFile::open(
            "mem://x",
            Box::new(MemoryTransport::new(data.clone())),
            options,
        )
        .unwrap();
        (data, file)
    }

    #[test]
    fn open_costs_one_request_and_tail_reads_are_free() {
        let (data, mut file) = file_of(1000, 100);
        assert_eq!(file.size(), 1000);
        assert_eq!(
            file.stats(),
            FetchStats {
                requests: 1,
                bytes_fetched: 100,
                round_trips: 1,
                ..FetchStats::default()
            }
        );
        let got = file.read(&[950..1000, 900..910]).unwrap();
        assert_eq!(got[0], data.slice(950..1000));
        assert_eq!(got[1], data.slice(900..910));
        assert_eq!(file.stats().requests, 1);
    }

    #[test]
    fn reads_coalesce_and_keep_order() {
        let (data, mut file) = file_of(1000, 10);
        let got = file.read(&[500..520, 0..5, 8..12, 995..1000]).unwrap();
        assert_eq!(got[0], data.slice(500..520));
        assert_eq!(got[1], data.slice(0..5));
        assert_eq!(got[2], data.slice(8..12));
        assert_eq!(got[3], data.slice(995..1000));
        // 0..5 and 8..12 merge; 500..520 stays apart; the tail is cached.
        assert_eq!(
            file.stats(),
            FetchStats {
                requests: 3,
                bytes_fetched: 10 + 12 + 20,
                round_trips: 2,
                ..FetchStats::default()
            }
        );
    }

    #[test]
    fn only_the_parts_not_held_are_fetched() {
        let (data, mut file) = file_of(1000, 100);
        file.prefetch(std::slice::from_ref(&(200..300))).unwrap();
        let before = file.stats();
        // 150..950: 150..200 and 300..900 are fetched, the rest is held.
        let got = file.read(&[150..950, 220..260]).unwrap();
        assert_eq!(got[0], data.slice(150..950));
        assert_eq!(got[1], data.slice(220..260));
        let traffic = file.stats().since(before);
        assert_eq!(traffic.bytes_fetched, 50 + 600, "{traffic:?}");
        assert_eq!(traffic.round_trips, 1);
    }

    #[test]
    fn a_second_open_of_the_same_version_reads_from_the_cache() {
        use crate::source::cache::MemoryRangeStore;
        let data = Bytes::from((0..1000u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
        let store = MemoryRangeStore::default();
        let open = |etag: &str| {
            let transport = MemoryTransport::new(data.clone()).with_validator(etag);
            let mut file = RemoteFile::open(
                "mem://x",
                Box::new(transport),
                FetchOptions {
                    tail_bytes: 100,
                    ..FetchOptions::default()
                },
            )
            .unwrap();
            file.use_cache(Box::new(store.clone()));
            file
        };
        let mut first = open("\"v1\"");
        assert_eq!(
            first.read(&[0..50, 300..400]).unwrap()[1],
            data.slice(300..400)
        );
        assert_eq!(first.stats().cache_hits, 0);
        let mut second = open("\"v1\"");
        let got = second.read(&[0..50, 320..340, 500..600]).unwrap();
        assert_eq!(
            got,
            vec![
                data.slice(0..50),
                data.slice(320..340),
                data.slice(500..600)
            ]
        );
        let traffic = second.stats();
        assert_eq!((traffic.cache_hits, traffic.cache_bytes), (2, 70));
        assert_eq!(
            traffic.bytes_fetched,
            100 + 100,
            "the tail and 500..600 only"
        );
        let mut changed = open("\"v2\"");
        changed.read(std::slice::from_ref(&(0..50))).unwrap();
        assert_eq!(
            changed.stats().cache_hits,
            0,
            "another version is never served"
        );
    }

    #[test]
    fn out_of_bounds_is_refused_before_io() {
        let (_, mut file) = file_of(100, 10);
        assert_eq!(
            file.read(&[0..10, 90..101]),
            Err(Error::RangeOutOfBounds(90..101))
        );
        assert_eq!(file.stats().requests, 1);
    }
}
