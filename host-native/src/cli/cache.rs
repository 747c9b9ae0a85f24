//! `quiver cache`: the cache of fetched ranges, and the one every scan uses.

use super::Failure;
use super::args::{CacheAction, CacheArgs};
use anyhow::anyhow;
use quiver_host::host::cache::{DEFAULT_MAX_BYTES, DiskRangeCache};
use std::sync::Arc;

/// The cache `args` names, or `None` when no directory is named and no
/// default can be found (no `$HOME`).
pub fn open(args: &CacheArgs) -> Option<Arc<DiskRangeCache>> {
    let dir = args
        .cache_dir
        .clone()
        .or_else(DiskRangeCache::default_dir)?;
    Some(Arc::new(DiskRangeCache::new(
        dir,
        args.cache_size.unwrap_or(DEFAULT_MAX_BYTES),
    )))
}

/// Runs `quiver cache info` or `quiver cache clear`.
pub fn run(action: CacheAction, args: &CacheArgs) -> Result<(), Failure> {
    let cache = open(args).ok_or_else(|| {
        anyhow!("no cache directory: set --cache-dir, $QUIVER_CACHE_DIR or $HOME")
    })?;
    let dir = cache.root().display();
    match action {
        CacheAction::Info => {
            let usage = cache.usage();
            println!(
                "{dir}: {} file(s), {} range(s), {} bytes",
                usage.files, usage.entries, usage.bytes
            );
        }
        CacheAction::Clear => {
            let usage = cache.clear()?;
            println!(
                "removed {} range(s) of {} file(s), {} bytes, from {dir}",
                usage.entries, usage.files, usage.bytes
            );
        }
    }
    Ok(())
}
