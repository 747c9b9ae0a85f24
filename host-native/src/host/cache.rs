//! Implementation of the `quiver:engine/range-cache` interface: a
//! size-bounded, least-recently-used store of byte ranges on disk.
//!
//! Mechanism only: the engine decides what to keep and under which version
//! (URL and strong `ETag`), and when a version is stale. Each URL has a
//! directory named by the SHA-256 of the URL, holding one file per range,
//! named `VERSION-OFFSET-LENGTH` where `VERSION` is the SHA-256 of the
//! validator: every file names the version its bytes belong to, so no
//! interleaving of processes that see different versions can serve one's
//! bytes for the other's. A hit refreshes the entry's modification time;
//! when the store passes its size, the least recently used entries go first.
//! Files are written whole and renamed into place, so several instances and
//! processes may share a directory; an entry another process removes is a
//! miss, never a wrong answer.
//!
//! Hand-written rather than a crate: the engine asks for ranges inside kept
//! ranges, which key-value caches (`cacache`, `moka`) do not answer.

use crate::bindings::quiver::engine::range_cache::{FileVersion, Host};
use crate::disk::{cache_home, short_digest, write_whole};
use crate::state::QuiverState;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

/// Environment variable naming the cache directory.
pub const CACHE_DIR_ENV: &str = "QUIVER_CACHE_DIR";

/// Size the store keeps to unless told otherwise: 1 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// A range store in one directory.
#[derive(Debug)]
pub struct DiskRangeCache {
    root: PathBuf,
    max_bytes: u64,
    /// Bytes of entries, as this process last counted them (`None`: not
    /// counted yet).
    used_bytes: Mutex<Option<u64>>,
}

/// What a cache directory holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheUsage {
    /// URLs with entries.
    pub files: u64,
    /// Ranges kept.
    pub entries: u64,
    /// Bytes of the ranges kept.
    pub bytes: u64,
}

/// One kept range's file.
struct Entry {
    path: PathBuf,
    length: u64,
    /// When it was kept or last read.
    last_used: SystemTime,
}

impl DiskRangeCache {
    /// A store in `root` (created on first write) that keeps at most
    /// `max_bytes` of ranges.
    pub fn new(root: PathBuf, max_bytes: u64) -> Self {
        Self {
            root,
            max_bytes,
            used_bytes: Mutex::new(None),
        }
    }

    /// `$QUIVER_CACHE_DIR`, else `$XDG_CACHE_HOME/quiver/ranges`, else
    /// `~/.cache/quiver/ranges`; `None` when none is set.
    pub fn default_dir() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os(CACHE_DIR_ENV) {
            return Some(PathBuf::from(dir));
        }
        Some(cache_home()?.join("ranges"))
    }

    /// The directory of the store.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn url_dir(&self, url: &str) -> PathBuf {
        self.root.join(digest(url))
    }

    /// The bytes `offset .. offset + length` of `version`, from one entry
    /// that holds them all.
    pub fn lookup(&self, version: &FileVersion, offset: u64, length: u64) -> Option<Vec<u8>> {
        let dir = self.url_dir(&version.url);
        let wanted = digest(&version.validator);
        let end = offset.checked_add(length)?;
        let (path, start) = fs::read_dir(&dir).ok()?.flatten().find_map(|entry| {
            let name = EntryName::parse(&entry.file_name().to_string_lossy())?;
            (name.version == wanted && name.offset <= offset && name.offset + name.length >= end)
                .then(|| (entry.path(), name.offset))
        })?;
        let mut file = fs::File::open(&path).ok()?;
        file.seek(SeekFrom::Start(offset - start)).ok()?;
        let mut bytes = vec![0; usize::try_from(length).ok()?];
        file.read_exact(&mut bytes).ok()?;
        // The recency LRU eviction goes by; failing to set it only ages it.
        let _ = file.set_modified(SystemTime::now());
        Some(bytes)
    }

    /// Keeps `bytes` at `offset` of `version`. A store that cannot be
    /// written only keeps nothing.
    pub fn keep(&self, version: &FileVersion, offset: u64, bytes: &[u8]) {
        let length = bytes.len() as u64;
        if length == 0 || length > self.max_bytes {
            return;
        }
        let dir = self.url_dir(&version.url);
        let name = format!("{}-{offset}-{length}", digest(&version.validator));
        if fs::create_dir_all(&dir).is_ok() && write_whole(&dir.join(name), bytes).is_ok() {
            self.account(length as i64);
        }
    }

    /// Removes every entry of `url` unless they belong to `current`.
    pub fn forget_other_versions(&self, url: &str, current: Option<&str>) {
        let kept = current.map(digest);
        let mut freed = 0;
        for entry in fs::read_dir(self.url_dir(url))
            .into_iter()
            .flatten()
            .flatten()
        {
            let Some(name) = EntryName::parse(&entry.file_name().to_string_lossy()) else {
                continue;
            };
            if Some(name.version.as_str()) != kept.as_deref()
                && fs::remove_file(entry.path()).is_ok()
            {
                freed += name.length;
            }
        }
        if freed > 0 {
            self.account(-(freed as i64));
        }
    }

    /// Removes every entry.
    pub fn clear(&self) -> std::io::Result<CacheUsage> {
        let usage = self.usage();
        match fs::remove_dir_all(&self.root) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
        *self.used_bytes.lock().unwrap_or_else(|e| e.into_inner()) = Some(0);
        Ok(usage)
    }

    /// What the store holds now.
    pub fn usage(&self) -> CacheUsage {
        let mut usage = CacheUsage::default();
        for entries in self.entries().into_iter().filter(|e| !e.is_empty()) {
            usage.files += 1;
            for entry in entries {
                usage.entries += 1;
                usage.bytes += entry.length;
            }
        }
        usage
    }

    /// The entries of every URL's directory, one list per URL.
    fn entries(&self) -> Vec<Vec<Entry>> {
        let Ok(dirs) = fs::read_dir(&self.root) else {
            return Vec::new();
        };
        dirs.flatten()
            .filter(|dir| dir.path().is_dir())
            .map(|dir| {
                fs::read_dir(dir.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                    .filter_map(|entry| {
                        let name = EntryName::parse(&entry.file_name().to_string_lossy())?;
                        let last_used = entry.metadata().and_then(|m| m.modified()).ok()?;
                        Some(Entry {
                            path: entry.path(),
                            length: name.length,
                            last_used,
                        })
                    })
                    .collect()
            })
            .collect()
    }

    /// Adds `delta` bytes to the count, and evicts the least recently used
    /// entries once it passes the maximum, down to nine tenths of it.
    fn account(&self, delta: i64) {
        let mut used = self.used_bytes.lock().unwrap_or_else(|e| e.into_inner());
        // Counted for the first time, the directory already holds `delta`.
        let now = match *used {
            Some(bytes) => bytes.saturating_add_signed(delta),
            None => self.usage().bytes,
        };
        *used = Some(now);
        if now <= self.max_bytes {
            return;
        }
        let mut all: Vec<Entry> = self.entries().into_iter().flatten().collect();
        all.sort_by_key(|entry| entry.last_used);
        let mut left: u64 = all.iter().map(|entry| entry.length).sum();
        let target = self.max_bytes / 10 * 9;
        for entry in all {
            if left <= target {
                break;
            }
            if fs::remove_file(&entry.path).is_ok() {
                left -= entry.length;
            }
        }
        *used = Some(left);
    }
}

/// The fixed-length name of a URL's directory, or of a validator in a
/// range file's name.
fn digest(text: &str) -> String {
    short_digest(text.as_bytes())
}

/// What a range file's name says: `VERSION-OFFSET-LENGTH`.
struct EntryName {
    /// The digest of the validator of the version the bytes belong to.
    version: String,
    offset: u64,
    length: u64,
}

impl EntryName {
    /// The parts of `name`, or `None` for another file (one being written).
    fn parse(name: &str) -> Option<Self> {
        let mut parts = name.splitn(3, '-');
        Some(Self {
            version: parts.next()?.to_owned(),
            offset: parts.next()?.parse().ok()?,
            length: parts.next()?.parse().ok()?,
        })
    }
}

impl Host for QuiverState {
    fn lookup(
        &mut self,
        version: FileVersion,
        offset: u64,
        length: u64,
    ) -> wasmtime::Result<Option<Vec<u8>>> {
        Ok(self
            .range_cache
            .as_ref()
            .and_then(|cache| cache.lookup(&version, offset, length)))
    }

    fn keep(&mut self, version: FileVersion, offset: u64, bytes: Vec<u8>) -> wasmtime::Result<()> {
        if let Some(cache) = &self.range_cache {
            cache.keep(&version, offset, &bytes);
        }
        Ok(())
    }

    fn forget_other_versions(
        &mut self,
        url: String,
        current: Option<String>,
    ) -> wasmtime::Result<()> {
        if let Some(cache) = &self.range_cache {
            cache.forget_other_versions(&url, current.as_deref());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(validator: &str) -> FileVersion {
        FileVersion {
            url: "http://h/f.parquet".into(),
            validator: validator.into(),
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("quiver-cache-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn kept_ranges_answer_lookups_inside_them_for_their_version_only() {
        let cache = DiskRangeCache::new(scratch("lookup"), 1 << 20);
        cache.keep(&version("\"1\""), 100, b"abcdef");
        assert_eq!(
            cache.lookup(&version("\"1\""), 102, 3),
            Some(b"cde".to_vec())
        );
        assert_eq!(cache.lookup(&version("\"1\""), 99, 3), None);
        assert_eq!(cache.lookup(&version("\"2\""), 102, 3), None);
        cache.forget_other_versions("http://h/f.parquet", Some("\"1\""));
        assert_eq!(cache.usage().entries, 1);
        cache.forget_other_versions("http://h/f.parquet", Some("\"2\""));
        assert_eq!(cache.usage(), CacheUsage::default());
        let _ = cache.clear();
    }

    #[test]
    fn each_range_answers_only_for_the_version_it_names() {
        // Two processes that opened different versions may keep ranges at
        // once; neither is ever given the other's bytes.
        let cache = DiskRangeCache::new(scratch("versions"), 1 << 20);
        cache.keep(&version("\"1\""), 0, b"old");
        cache.keep(&version("\"2\""), 0, b"new");
        assert_eq!(cache.lookup(&version("\"1\""), 0, 3), Some(b"old".to_vec()));
        assert_eq!(cache.lookup(&version("\"2\""), 0, 3), Some(b"new".to_vec()));
        let _ = cache.clear();
    }

    #[test]
    fn the_least_recently_used_entries_go_first() {
        let cache = DiskRangeCache::new(scratch("lru"), 100);
        let v = version("\"1\"");
        cache.keep(&v, 0, &[1; 40]);
        std::thread::sleep(std::time::Duration::from_millis(20));
        cache.keep(&v, 100, &[2; 40]);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(
            cache.lookup(&v, 0, 40).is_some(),
            "the first entry is used again"
        );
        cache.keep(&v, 200, &[3; 40]);
        assert!(
            cache.lookup(&v, 100, 40).is_none(),
            "the least recently used went"
        );
        assert!(cache.lookup(&v, 0, 40).is_some());
        assert!(cache.lookup(&v, 200, 40).is_some());
        assert_eq!(cache.usage().bytes, 80);
        let cleared = cache.clear().unwrap();
        assert_eq!(cleared.entries, 2);
        assert_eq!(cache.usage(), CacheUsage::default());
    }
}
