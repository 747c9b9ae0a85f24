//! Command-line flags. Parsing only validates; nothing is loaded here.

use clap::{Parser, Subcommand, ValueEnum};
use quiver_host::bindings::filter::ComputePreference;
use quiver_host::runtime::Build;
use std::path::PathBuf;

/// Query Parquet files, local or remote over HTTP range requests.
#[derive(Debug, Parser)]
#[command(name = "quiver", version, about, propagate_version = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show a file's schema, row groups and metadata (reads only the footer).
    Info {
        /// A local path, a file:// URL or an http(s):// URL.
        source: String,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Let the engine read this directory too (repeatable; by default it
        /// can read only the file named).
        #[arg(long, value_name = "DIR")]
        allow_dir: Vec<PathBuf>,
    },
    /// Read rows, optionally filtered and limited.
    Scan(ScanArgs),
    /// Run a command component (one that exports wasi:cli/run), such as an
    /// application composed with the engine by `wac plug`, with WASI,
    /// wasi:http and the GPU interface.
    Run {
        /// The component file.
        component: PathBuf,
        /// Let the component read this directory (repeatable; read-only).
        #[arg(long, value_name = "DIR")]
        allow_dir: Vec<PathBuf>,
        /// Arguments passed to the component.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Show or empty the cache of byte ranges fetched over HTTP.
    Cache {
        #[command(subcommand)]
        action: CacheAction,
        #[command(flatten)]
        cache: CacheArgs,
    },
    /// Serve a directory over HTTP with Range support (for demos and tests).
    Serve {
        /// The directory to serve.
        dir: PathBuf,
        /// Port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
}

/// What `quiver cache` does.
#[derive(Debug, Clone, Copy, Subcommand)]
pub enum CacheAction {
    /// Print the cache's directory, files, entries and bytes.
    Info,
    /// Remove every cached range.
    Clear,
}

/// Where fetched ranges are cached.
#[derive(Debug, Clone, clap::Args)]
pub struct CacheArgs {
    /// The cache's directory (default: $QUIVER_CACHE_DIR, else
    /// $XDG_CACHE_HOME/quiver/ranges, else ~/.cache/quiver/ranges).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Most bytes the cache keeps, least recently used first out (suffixes
    /// K, M, G; default 1G).
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub cache_size: Option<u64>,
}

/// What `--explain` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Explain {
    /// The plan only; no data page is read.
    Plan,
    /// The plan, then the scan, with the measured requests, bytes and times
    /// beside the estimates.
    Analyze,
}

/// Flags of `quiver scan`.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// What to read, as one table: local paths, file:// or http(s):// URLs,
    /// directories (every *.parquet file under them) or quoted patterns
    /// ('data/*.parquet', 'data/**/*.parquet'). Folders named key=value in
    /// the files' paths become columns (Hive partitioning).
    #[arg(required = true, value_name = "SOURCE")]
    pub sources: Vec<String>,
    /// Columns to return, comma-separated, in this order (default: all).
    #[arg(long, value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// A SQL WHERE clause, e.g. "price > 10 AND name LIKE 'a%'".
    #[arg(long = "where", value_name = "EXPR")]
    pub where_clause: Option<String>,
    /// Return at most N rows.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Skip the first N matching rows.
    #[arg(long, value_name = "N")]
    pub offset: Option<u64>,
    /// Most bytes of memory the engine may hold (suffixes K, M, G for KiB,
    /// MiB, GiB; default 4G): the scan reads fewer row groups at once and
    /// makes smaller batches to stay within it, and fails with a
    /// memory-limit error when one row group cannot fit. The instance's
    /// memory is also capped 10% (at least 4 MiB) above it.
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub memory_limit: Option<u64>,
    /// Let the engine read this directory too (repeatable; by default it can
    /// read only the file named, nothing else on the file system).
    #[arg(long, value_name = "DIR")]
    pub allow_dir: Vec<PathBuf>,
    /// Retries of an HTTP request that failed transiently (connection errors,
    /// timeouts, 408, 429, 5xx), with backoff; 0 disables them (default 3).
    #[arg(long, value_name = "N")]
    pub max_retries: Option<u32>,
    /// Output format (default: table on a terminal, csv otherwise).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write the output to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print scan statistics as one JSON object on the last line of stderr.
    #[arg(long)]
    pub stats: bool,
    /// Show no progress bar (one is drawn on stderr only when it is a
    /// terminal and the scan takes more than a moment).
    #[arg(long, short)]
    pub quiet: bool,
    /// Print the plan (row groups and pages kept or pruned, the requests of
    /// each wave, the bytes expected) instead of rows; reads no data pages.
    /// `--explain=analyze` also runs the scan (discarding its rows) and
    /// prints the measured requests, bytes and times beside the estimates.
    /// With `--format json`, one JSON object per file.
    #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "plan", value_name = "WHAT")]
    pub explain: Option<Explain>,
    /// Fetch every range from the server: neither read nor fill the cache of
    /// ranges fetched before (kept per URL and ETag; see `quiver cache`).
    #[arg(long)]
    pub no_cache: bool,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Most rows per batch (default 8192, at most 1048576; batches never span
    /// row groups). Larger batches give the GPU tier more work per dispatch.
    #[arg(long, value_name = "N")]
    pub batch_size: Option<u32>,
    /// Where the filter's kernels run: `auto` takes the GPU only where its
    /// calibrated cost model says it wins (never a software adapter), else
    /// SIMD; `scalar` loads the engine's scalar build.
    #[arg(long, value_enum, default_value_t = Compute::Auto)]
    pub compute: Compute,
    /// Engine instances scanning at once, 1 to 256: files, and runs of a
    /// big file's row groups, are scanned in parallel and returned in order
    /// (default: the available cores). The memory limit is split among them.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
    /// Least compressed bytes of row groups worth an instance of their own
    /// when a file is split among instances (suffixes K, M, G).
    #[arg(long, value_name = "BYTES", value_parser = parse_size, default_value = "16M")]
    pub min_split_bytes: u64,
}

/// Kernel tiers for `--compute`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Compute {
    /// The GPU where it wins, else SIMD.
    Auto,
    /// The GPU for every kernel (an error without an adapter).
    Gpu,
    /// wasm SIMD128.
    Simd,
    /// Scalar code, in the scalar build of the engine.
    Scalar,
}

impl Compute {
    /// The engine build that runs this tier.
    pub fn build(self) -> Build {
        match self {
            Compute::Scalar => Build::Scalar,
            _ => Build::Simd,
        }
    }

    /// The preference passed to the engine.
    pub fn preference(self) -> ComputePreference {
        match self {
            Compute::Auto => ComputePreference::Auto,
            Compute::Gpu => ComputePreference::Gpu,
            Compute::Simd => ComputePreference::Simd,
            Compute::Scalar => ComputePreference::Scalar,
        }
    }
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A readable table sized to the terminal (nested values as
    /// `{a: 1, b: [1, 2]}`).
    Table,
    /// Comma-separated values with a header line (no nested columns).
    Csv,
    /// One JSON object per row, one per line: a struct is an object, a
    /// list an array, a map an object with its keys as strings; nulls are
    /// written as null.
    Json,
    /// An Arrow IPC stream.
    Arrow,
}

/// Parses the process arguments; `--help`, `--version` and usage errors exit here.
pub fn parse() -> Args {
    Args::parse()
}

/// `123`, `64K`, `512M` or `2G` (powers of 1024) as bytes.
fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, ""),
    };
    let scale: u64 = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        _ => return Err(format!("unknown size unit {unit:?}: use K, M or G")),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| format!("{text:?} is not a size in bytes"))
}
