//! The `range-cache` import as the core's [`RangeStore`].

use crate::bindings::quiver::engine::range_cache::{self, FileVersion as WitFileVersion};
use crate::source::cache::{FileVersion, RangeStore};
use bytes::Bytes;
use std::ops::Range;

/// The host's range cache.
pub struct HostRangeStore;

fn wit_version(version: &FileVersion) -> WitFileVersion {
    WitFileVersion {
        url: version.url.clone(),
        validator: version.validator.clone(),
    }
}

impl RangeStore for HostRangeStore {
    fn lookup(&self, version: &FileVersion, range: Range<u64>) -> Option<Bytes> {
        range_cache::lookup(&wit_version(version), range.start, range.end - range.start)
            .map(Bytes::from)
    }

    fn keep(&self, version: &FileVersion, offset: u64, bytes: &Bytes) {
        range_cache::keep(&wit_version(version), offset, bytes);
    }

    fn forget_other_versions(&self, url: &str, current: Option<&str>) {
        range_cache::forget_other_versions(url, current);
    }
}
