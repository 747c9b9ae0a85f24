//! Reusing fetched ranges across opens: the policy of the range cache.
//!
//! A [`RangeStore`] is the host's storage (the `range-cache` import in the
//! component). What is cached, under which key, and when it is stale is
//! decided here: only versions the server named with a strong `ETag` are
//! cached, every entry is keyed by URL and that `ETag`, and each open, whose
//! own request learns the current `ETag`, tells the store to forget every
//! other version of the URL.

use bytes::Bytes;
use std::ops::Range;

/// One version of a remote file: the key of its cached ranges.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileVersion {
    /// The URL the file was opened with.
    pub url: String,
    /// The strong `ETag` the server gave this version.
    pub validator: String,
}

impl FileVersion {
    /// The cache key of `url` as opened with `validator`: `None` unless the
    /// validator is a strong `ETag` (quoted, without `W/`). A weak `ETag`
    /// promises equivalent content, not equal bytes, and `Last-Modified` has
    /// one-second resolution: a file rewritten within that second would be
    /// served stale.
    pub fn of(url: &str, validator: Option<&str>) -> Option<FileVersion> {
        let validator = validator?;
        let strong = validator.len() >= 2 && validator.starts_with('"') && validator.ends_with('"');
        strong.then(|| FileVersion {
            url: url.to_owned(),
            validator: validator.to_owned(),
        })
    }
}

/// Where cached ranges are stored: the host's side of the cache. A store may
/// drop any entry at any time; a lookup it cannot answer only costs a fetch.
pub trait RangeStore {
    /// The bytes of `range` in `version`, if one kept entry holds all of them.
    fn lookup(&self, version: &FileVersion, range: Range<u64>) -> Option<Bytes>;
    /// Keeps `bytes`, which start at `offset` in `version`.
    fn keep(&self, version: &FileVersion, offset: u64, bytes: &Bytes);
    /// Drops every entry of `url` but those of `current` (all when `None`).
    fn forget_other_versions(&self, url: &str, current: Option<&str>);
}

/// An open file's use of a store: the store and the version it was opened as.
pub struct RangeCache {
    store: Box<dyn RangeStore>,
    version: FileVersion,
}

impl RangeCache {
    /// Called once the open has learned the file's validator: forgets every
    /// other version of `url` in `store`, and returns the cache for this one,
    /// or `None` when the validator cannot key a cache (see [`FileVersion::of`]).
    pub fn for_open(
        store: Box<dyn RangeStore>,
        url: &str,
        validator: Option<&str>,
    ) -> Option<RangeCache> {
        let version = FileVersion::of(url, validator);
        store.forget_other_versions(url, version.as_ref().map(|v| v.validator.as_str()));
        Some(RangeCache {
            store,
            version: version?,
        })
    }

    /// The bytes of `range`, if the store holds them with the right length.
    pub fn lookup(&self, range: &Range<u64>) -> Option<Bytes> {
        self.store
            .lookup(&self.version, range.clone())
            .filter(|bytes| bytes.len() as u64 == range.end - range.start)
    }

    /// Keeps the bytes fetched for `range`.
    pub fn keep(&self, range: &Range<u64>, bytes: &Bytes) {
        if !bytes.is_empty() && bytes.len() as u64 == range.end - range.start {
            self.store.keep(&self.version, range.start, bytes);
        }
    }
}

/// A store in memory, shared by its clones: for tests of the policy.
#[cfg(test)]
#[derive(Debug, Clone, Default)]
pub struct MemoryRangeStore {
    entries: std::rc::Rc<std::cell::RefCell<Vec<(FileVersion, u64, Bytes)>>>,
}

#[cfg(test)]
impl MemoryRangeStore {
    /// How many entries are kept.
    pub fn entry_count(&self) -> usize {
        self.entries.borrow().len()
    }
}

#[cfg(test)]
impl RangeStore for MemoryRangeStore {
    fn lookup(&self, version: &FileVersion, range: Range<u64>) -> Option<Bytes> {
        self.entries
            .borrow()
            .iter()
            .find(|(v, start, bytes)| {
                v == version && *start <= range.start && start + bytes.len() as u64 >= range.end
            })
            .map(|(_, start, bytes)| {
                bytes.slice((range.start - start) as usize..(range.end - start) as usize)
            })
    }

    fn keep(&self, version: &FileVersion, offset: u64, bytes: &Bytes) {
        self.entries
            .borrow_mut()
            .push((version.clone(), offset, bytes.clone()));
    }

    fn forget_other_versions(&self, url: &str, current: Option<&str>) {
        self.entries
            .borrow_mut()
            .retain(|(v, _, _)| v.url != url || Some(v.validator.as_str()) == current);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_strong_etags_key_a_cache() {
        assert!(FileVersion::of("u", Some("\"abc\"")).is_some());
        assert!(FileVersion::of("u", Some("W/\"abc\"")).is_none());
        assert!(FileVersion::of("u", Some("Wed, 21 Oct 2015 07:28:00 GMT")).is_none());
        assert!(FileVersion::of("u", Some("\"")).is_none());
        assert!(FileVersion::of("u", None).is_none());
    }

    #[test]
    fn an_open_forgets_other_versions_of_its_url_only() {
        let store = MemoryRangeStore::default();
        let old = RangeCache::for_open(Box::new(store.clone()), "a", Some("\"1\"")).unwrap();
        old.keep(&(0..3), &Bytes::from_static(b"abc"));
        let other = RangeCache::for_open(Box::new(store.clone()), "b", Some("\"1\"")).unwrap();
        other.keep(&(0..3), &Bytes::from_static(b"xyz"));
        assert_eq!(store.entry_count(), 2);
        let new = RangeCache::for_open(Box::new(store.clone()), "a", Some("\"2\"")).unwrap();
        assert_eq!(new.lookup(&(0..3)), None);
        assert_eq!(store.entry_count(), 1, "only b's entry is left");
        assert!(RangeCache::for_open(Box::new(store.clone()), "b", None).is_none());
        assert_eq!(
            store.entry_count(),
            0,
            "an open without a strong ETag forgets the URL"
        );
    }

    #[test]
    fn lookups_inside_a_kept_range_are_answered() {
        let store = MemoryRangeStore::default();
        let cache = RangeCache::for_open(Box::new(store), "a", Some("\"1\"")).unwrap();
        cache.keep(&(10..16), &Bytes::from_static(b"abcdef"));
        assert_eq!(cache.lookup(&(11..13)), Some(Bytes::from_static(b"bc")));
        assert_eq!(cache.lookup(&(9..13)), None);
    }
}
