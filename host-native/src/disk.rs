//! Files the host keeps in the user's cache directory (compiled engines,
//! fetched ranges): where that directory is, fixed-length names made from
//! digests, and writes that other processes never see half done.

use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};

/// `$XDG_CACHE_HOME/quiver`, else `~/.cache/quiver`; `None` when neither
/// variable is set.
pub fn cache_home() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("quiver"))
}

/// 32 hex digits of the SHA-256 of `bytes`: a file name of fixed length
/// for any key.
pub fn short_digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `bytes` to a temporary file beside `path`, then renames it there,
/// so that readers see the whole file or none.
pub fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = path.with_extension(format!(
        "tmp{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    fs::write(&temporary, bytes)?;
    fs::rename(&temporary, path).inspect_err(|_| {
        let _ = fs::remove_file(&temporary);
    })
}
