//! A transport over bytes in memory, for tests and examples.

use super::{Opened, Transport};
use crate::error::Result;
use bytes::Bytes;
use std::ops::Range;

/// Serves a file held in memory; counts nothing itself.
#[derive(Debug, Clone)]
pub struct MemoryTransport {
    data: Bytes,
    validator: Option<String>,
}

impl MemoryTransport {
    /// A transport over `data`.
    pub fn new(data: impl Into<Bytes>) -> Self {
        Self {
            data: data.into(),
            validator: None,
        }
    }

    /// The same transport, whose open reports `validator` as the file's.
    pub fn with_validator(mut self, validator: &str) -> Self {
        self.validator = Some(validator.to_owned());
        self
    }
}

impl Transport for MemoryTransport {
    fn open(&mut self, tail_bytes: u64) -> Result<Opened> {
        let size = self.data.len() as u64;
        let tail_start = size.saturating_sub(tail_bytes) as usize;
        let tail = self.data.slice(tail_start..);
        Ok(Opened {
            size,
            validator: self.validator.clone(),
            bytes: tail.len() as u64,
            tail,
            path: super::OpenPath::SuffixRange,
            requests: 1,
        })
    }

    fn fetch(&mut self, ranges: &[Range<u64>], _max_concurrency: usize) -> Result<Vec<Bytes>> {
        Ok(ranges
            .iter()
            .map(|range| self.data.slice(range.start as usize..range.end as usize))
            .collect())
    }
}
