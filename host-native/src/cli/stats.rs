//! The `--stats` line: what every open and scan of a query did, added up.

use super::query::Query;
use quiver_host::bindings::filter::{ComputeTier, KernelReport};
use quiver_host::bindings::range_fetch::FetchStats;
use quiver_host::bindings::scan::{OpenPath, OpenStats, ScanStats};
use quiver_host::dataset::Dataset;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Instant;

/// Counters of a whole query.
#[derive(Default)]
pub struct Totals {
    requests: u64,
    bytes_fetched: u64,
    round_trips: u64,
    retries: u64,
    cache_hits: u64,
    cache_bytes: u64,
    open_paths: Vec<&'static str>,
    open_requests: u64,
    bytes_footer: u64,
    bytes_index: u64,
    row_groups: u64,
    row_groups_pruned: u64,
    row_groups_scanned: u64,
    pages_pruned: u64,
    rows_scanned: u64,
    rows_matched: u64,
    /// Rows written (counted by the caller).
    pub rows_returned: u64,
    gpu_adapter: Option<String>,
    kernels: Vec<KernelReport>,
    files: usize,
    files_pruned_by_partition: usize,
    /// Per file read: (row groups covered, row groups pruned).
    file_groups: BTreeMap<usize, (u64, u64)>,
    instances: usize,
}

impl Totals {
    /// Counters for `query` over `dataset`, run on `instances` instances.
    pub fn new(dataset: &Dataset, query: &Query, instances: usize) -> Self {
        Self {
            files: dataset.files.len(),
            files_pruned_by_partition: query.pruned_by_partition,
            instances,
            ..Self::default()
        }
    }

    /// Counts an open.
    pub fn add_open(&mut self, open: &OpenStats) {
        self.add_traffic(&open.fetch);
        self.open_requests += open.fetch.requests;
        self.bytes_footer += open.fetch.bytes_fetched;
        self.open_paths.push(open_path_name(open.path));
    }

    /// Counts a finished scan of `file`, and the opens it needed.
    pub fn add_scan(&mut self, file: usize, stats: &ScanStats, opens: &[OpenStats]) {
        for open in opens {
            self.add_open(open);
        }
        self.add_traffic(&stats.fetch);
        self.bytes_index += stats.index.bytes_fetched;
        self.row_groups += u64::from(stats.row_groups);
        self.row_groups_pruned += u64::from(stats.row_groups_pruned);
        self.row_groups_scanned += u64::from(stats.row_groups_scanned);
        self.pages_pruned += stats.pages_pruned;
        self.rows_scanned += stats.rows_scanned;
        self.rows_matched += stats.rows_matched;
        let groups = self.file_groups.entry(file).or_default();
        groups.0 += u64::from(stats.row_groups);
        groups.1 += u64::from(stats.row_groups_pruned);
        if self.gpu_adapter.is_none() {
            self.gpu_adapter.clone_from(&stats.gpu_adapter);
        }
        for kernel in &stats.kernels {
            let same = self
                .kernels
                .iter_mut()
                .find(|k| k.predicate == kernel.predicate && k.tier == kernel.tier);
            match same {
                Some(same) => {
                    same.batches += kernel.batches;
                    same.rows += kernel.rows;
                    same.nanos += kernel.nanos;
                }
                None => self.kernels.push(kernel.clone()),
            }
        }
    }

    /// Counts the traffic of an open or a scan.
    fn add_traffic(&mut self, fetch: &FetchStats) {
        self.requests += fetch.requests;
        self.bytes_fetched += fetch.bytes_fetched;
        self.round_trips += fetch.round_trips;
        self.retries += fetch.retries;
        self.cache_hits += fetch.cache_hits;
        self.cache_bytes += fetch.cache_bytes;
    }

    /// The `--stats` object. Requests, bytes and round trips cover the whole
    /// command: the opens (footers) and the scans (page indexes and data).
    /// `cache_hits` and `cache_bytes` count the ranges and bytes the range
    /// cache served instead of the server: bytes not in `bytes_fetched`.
    pub fn to_json(&self, peak_memory_bytes: usize, started: Instant) -> serde_json::Value {
        let open_path = match self.open_paths.split_first() {
            Some((first, rest)) if rest.iter().all(|path| path == first) => *first,
            Some(_) => "mixed",
            None => "none",
        };
        let files_pruned_by_statistics = self
            .file_groups
            .values()
            .filter(|(covered, pruned)| covered > &0 && covered == pruned)
            .count();
        json!({
            "requests": self.requests,
            "bytes_fetched": self.bytes_fetched,
            "round_trips": self.round_trips,
            "retries": self.retries,
            "cache_hits": self.cache_hits,
            "cache_bytes": self.cache_bytes,
            "open_path": open_path,
            "open_requests": self.open_requests,
            "bytes_footer": self.bytes_footer,
            "bytes_index": self.bytes_index,
            "bytes_data": self.bytes_fetched - self.bytes_footer - self.bytes_index,
            "row_groups": self.row_groups,
            "row_groups_pruned": self.row_groups_pruned,
            "row_groups_scanned": self.row_groups_scanned,
            "pages_pruned": self.pages_pruned,
            "rows_scanned": self.rows_scanned,
            "rows_matched": self.rows_matched,
            "rows_returned": self.rows_returned,
            "files": self.files,
            "files_pruned_by_partition": self.files_pruned_by_partition,
            "files_pruned_by_statistics": files_pruned_by_statistics,
            "instances": self.instances,
            "elapsed_ms": started.elapsed().as_millis() as u64,
            "peak_memory_bytes": peak_memory_bytes,
            "gpu_adapter": self.gpu_adapter,
            "kernels": self.kernels.iter().map(|kernel| json!({
                "predicate": kernel.predicate,
                "column_type": kernel.column_type,
                "tier": match kernel.tier {
                    ComputeTier::Gpu => "gpu",
                    ComputeTier::Simd => "simd",
                    ComputeTier::Scalar => "scalar",
                },
                "reason": kernel.reason,
                "batches": kernel.batches,
                "rows": kernel.rows,
                "ms": kernel.nanos as f64 / 1e6,
            })).collect::<Vec<_>>(),
        })
    }
}

/// The `open_path` name of an open.
fn open_path_name(path: OpenPath) -> &'static str {
    match path {
        OpenPath::SuffixRange => "suffix-range",
        OpenPath::WholeFile => "whole-file",
        OpenPath::RangeAfter416 => "range-after-416",
        OpenPath::RangeAfterProbe => "range-after-probe",
        OpenPath::LocalFile => "local-file",
    }
}
