//! Dictionary probes: the exact set of values of a column chunk whose data
//! pages are all dictionary-encoded, from its dictionary page. `=` and `IN`
//! prune a row group whose dictionary lacks every value they need, and `<>`
//! one whose dictionary holds nothing but the excluded value.

use super::bloom::{keyed_comparisons, plain_key};
use crate::error::Result;
use crate::filter::BoundPredicate;
use crate::source::RemoteFile;
use arrow_array::ArrayRef;
use bytes::{Buf, Bytes};
use parquet::basic::{Encoding, Type as PhysicalType};
use parquet::column::page::{Page, PageReader};
use parquet::file::metadata::{ColumnChunkMetaData, ParquetMetaData};
use parquet::file::reader::{ChunkReader, Length};
use parquet::file::serialized_reader::SerializedPageReader;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;

/// Largest dictionary page read to prune with (as stored).
const MAX_DICTIONARY_BYTES: u64 = 1 << 20;

/// The dictionaries to read.
pub struct DictionaryPlan {
    probes: Vec<(usize, String, usize, Range<u64>)>,
    physical: HashMap<String, PhysicalType>,
}

/// The values of the dictionaries read: for (row group, column), the PLAIN
/// encoding of every value the chunk holds.
#[derive(Debug, Default)]
pub struct DictionaryAnswers {
    sets: HashMap<(usize, String), HashSet<Vec<u8>>>,
    physical: HashMap<String, PhysicalType>,
}

impl DictionaryAnswers {
    /// Whether row group `group`'s column may hold `value`; `None` where its
    /// dictionary was not read.
    pub fn may_hold(&self, group: usize, name: &str, value: &ArrayRef) -> Option<bool> {
        let key = plain_key(value.as_ref(), *self.physical.get(name)?)?;
        Some(self.sets.get(&(group, name.to_owned()))?.contains(&key))
    }

    /// Whether row group `group`'s column may hold a value other than
    /// `value`; `None` where its dictionary was not read.
    pub fn may_hold_other(&self, group: usize, name: &str, value: &ArrayRef) -> Option<bool> {
        let key = plain_key(value.as_ref(), *self.physical.get(name)?)?;
        let set = self.sets.get(&(group, name.to_owned()))?;
        Some(set.iter().any(|other| *other != key))
    }
}

impl DictionaryPlan {
    /// Plans reading the dictionary page of every chunk of `groups` whose
    /// column an equality or inequality of the predicate tests, where every
    /// data page of the chunk is dictionary-encoded.
    pub fn new(
        metadata: &ParquetMetaData,
        predicate: &BoundPredicate,
        groups: &[usize],
        leaf_of: impl Fn(&str) -> Option<usize>,
    ) -> Self {
        let mut physical = HashMap::new();
        let mut columns: Vec<(&str, usize)> = Vec::new();
        for keyed in keyed_comparisons(metadata, predicate.equalities_and_inequalities(), leaf_of) {
            if physical
                .insert(keyed.name.to_owned(), keyed.physical)
                .is_none()
            {
                columns.push((keyed.name, keyed.leaf));
            }
        }
        let mut probes = Vec::new();
        for &group in groups {
            for &(name, leaf) in &columns {
                if let Some(range) = dictionary_range(metadata.row_group(group).column(leaf)) {
                    probes.push((group, name.to_owned(), leaf, range));
                }
            }
        }
        Self { probes, physical }
    }

    /// The byte ranges of the dictionary pages.
    pub fn ranges(&self) -> Vec<Range<u64>> {
        self.probes
            .iter()
            .map(|(.., range)| range.clone())
            .collect()
    }

    /// Reads the dictionary pages (fetched ahead, or in one wave) and decodes
    /// them. A page that cannot be decoded answers nothing.
    pub fn answer(
        self,
        source: &mut RemoteFile,
        metadata: &ParquetMetaData,
    ) -> Result<DictionaryAnswers> {
        let mut answers = DictionaryAnswers {
            sets: HashMap::new(),
            physical: self.physical,
        };
        let file_size = source.size();
        for (group, name, leaf, range) in self.probes {
            let bytes = source.read(std::slice::from_ref(&range))?.remove(0);
            let chunk = metadata.row_group(group).column(leaf);
            if let Some(values) = decode(chunk, range.start, bytes, file_size) {
                answers.sets.insert((group, name), values);
            }
        }
        Ok(answers)
    }
}

/// Where a chunk's dictionary page is, if every data page of the chunk is
/// dictionary-encoded (so the dictionary holds every value) and the page is
/// small enough to be worth reading.
fn dictionary_range(chunk: &ColumnChunkMetaData) -> Option<Range<u64>> {
    let all_dictionary = chunk.page_encoding_stats_mask().is_some_and(|mask| {
        mask.is_only(Encoding::PLAIN_DICTIONARY) || mask.is_only(Encoding::RLE_DICTIONARY)
    });
    let start = u64::try_from(chunk.dictionary_page_offset()?).ok()?;
    let end = u64::try_from(chunk.data_page_offset()).ok()?;
    (all_dictionary && start >= 4 && start < end && end - start <= MAX_DICTIONARY_BYTES)
        .then_some(start..end)
}

/// The PLAIN-encoded values of a dictionary page.
fn decode(
    chunk: &ColumnChunkMetaData,
    start: u64,
    bytes: Bytes,
    file_size: u64,
) -> Option<HashSet<Vec<u8>>> {
    let window = Window {
        start,
        bytes,
        file_size,
    };
    let rows = usize::try_from(chunk.num_values()).ok()?;
    let mut pages = SerializedPageReader::new(Arc::new(window), chunk, rows, None).ok()?;
    let Page::DictionaryPage {
        buf, num_values, ..
    } = pages.get_next_page().ok()??
    else {
        return None;
    };
    let values = plain_values(&buf, chunk.column_type())?;
    (values.len() == num_values as usize).then(|| values.into_iter().collect())
}

/// Splits PLAIN-encoded values (the types [`plain_key`] encodes).
fn plain_values(mut buf: &[u8], physical: PhysicalType) -> Option<Vec<Vec<u8>>> {
    let fixed = |width: usize| {
        buf.len()
            .is_multiple_of(width)
            .then(|| buf.chunks(width).map(<[u8]>::to_vec).collect())
    };
    match physical {
        PhysicalType::INT32 => fixed(4),
        PhysicalType::INT64 => fixed(8),
        PhysicalType::BYTE_ARRAY => {
            let mut values = Vec::new();
            while !buf.is_empty() {
                if buf.len() < 4 {
                    return None;
                }
                let len = buf.get_u32_le() as usize;
                values.push(buf.get(..len)?.to_vec());
                buf = &buf[len..];
            }
            Some(values)
        }
        _ => None,
    }
}

/// A few bytes of the file, read by the page reader at file offsets.
struct Window {
    start: u64,
    bytes: Bytes,
    file_size: u64,
}

impl Window {
    fn slice(&self, start: u64, length: Option<usize>) -> parquet::errors::Result<Bytes> {
        let outside = || parquet::errors::ParquetError::EOF(format!("offset {start} not read"));
        let from = usize::try_from(start.checked_sub(self.start).ok_or_else(outside)?)
            .map_err(|_| outside())?;
        let to = match length {
            Some(length) => from.checked_add(length).ok_or_else(outside)?,
            None => self.bytes.len(),
        };
        if from > to || to > self.bytes.len() {
            return Err(outside());
        }
        Ok(self.bytes.slice(from..to))
    }
}

impl Length for Window {
    fn len(&self) -> u64 {
        self.file_size
    }
}

impl ChunkReader for Window {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(self.slice(start, None)?.reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.slice(start, Some(length))
    }
}
