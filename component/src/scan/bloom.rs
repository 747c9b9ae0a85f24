//! Bloom filter probes: whether a row group's column may hold the values
//! that `column = constant` tests, from the split-block bloom filters
//! writers store per column chunk; and the row-group view that combines
//! their answers with the dictionaries'. Only the 32-byte blocks the values hash
//! to are read (with the filter's header), unless the whole filter is
//! smaller.

use super::bounds::Bounds;
use super::dictionary::DictionaryAnswers;
use crate::error::Result;
use crate::filter::{BoundPredicate, ColumnBounds, ContainerStats};
use crate::source::RemoteFile;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use parquet::basic::Type as PhysicalType;
use parquet::bloom_filter::Sbbf;
use parquet::file::metadata::ParquetMetaData;
use std::collections::HashMap;
use std::ops::Range;
use twox_hash::XxHash64;

/// Bytes of one block of a split-block bloom filter.
const BLOCK_BYTES: u64 = 32;

/// What bloom filters answered: for (row group, column, plain-encoded
/// value), whether the value may be present.
#[derive(Debug, Default)]
pub struct BloomAnswers {
    answers: HashMap<(usize, String, Vec<u8>), bool>,
    physical: HashMap<String, PhysicalType>,
}

/// Row-group bounds with what bloom filters and dictionaries answered on
/// top.
pub struct WithMembership<'a> {
    /// The statistics of every row group of the file.
    pub bounds: &'a Bounds,
    /// The bloom filters' answers.
    pub blooms: &'a BloomAnswers,
    /// The dictionaries read.
    pub dictionaries: &'a DictionaryAnswers,
}

impl ContainerStats for WithMembership<'_> {
    fn containers(&self) -> usize {
        self.bounds.containers()
    }

    fn column(&self, name: &str) -> Option<&ColumnBounds> {
        self.bounds.column(name)
    }

    fn may_contain(&self, name: &str, value: &ArrayRef) -> Option<Vec<bool>> {
        Some(
            self.answers(name, value)
                .map(|(bloom, dictionary)| bloom.unwrap_or(true) && dictionary.unwrap_or(true))
                .collect(),
        )
    }

    /// A bloom filter that may hold the value counts as holding it.
    fn holds(&self, name: &str, value: &ArrayRef) -> Option<Vec<bool>> {
        Some(
            self.answers(name, value)
                .map(|(bloom, dictionary)| match dictionary {
                    Some(held) => held && bloom != Some(false),
                    None => bloom == Some(true),
                })
                .collect(),
        )
    }

    fn may_contain_other(&self, name: &str, value: &ArrayRef) -> Option<Vec<bool>> {
        Some(
            (0..self.containers())
                .map(|group| {
                    self.dictionaries
                        .may_hold_other(group, name, value)
                        .unwrap_or(true)
                })
                .collect(),
        )
    }
}

impl WithMembership<'_> {
    /// For each row group, what its bloom filter and its dictionary answer
    /// about `name` holding `value` (`None`: not read).
    fn answers<'a>(
        &'a self,
        name: &'a str,
        value: &'a ArrayRef,
    ) -> impl Iterator<Item = (Option<bool>, Option<bool>)> + 'a {
        let key = self
            .blooms
            .physical
            .get(name)
            .and_then(|physical| plain_key(value.as_ref(), *physical));
        (0..self.containers()).map(move |group| {
            let bloom = key.as_ref().and_then(|key| {
                self.blooms
                    .answers
                    .get(&(group, name.to_owned(), key.clone()))
                    .copied()
            });
            (bloom, self.dictionaries.may_hold(group, name, value))
        })
    }
}

/// One bloom filter to probe.
struct Probe {
    group: usize,
    name: String,
    keys: Vec<Vec<u8>>,
    filter: Range<u64>,
    header: Range<u64>,
    blocks: Vec<Range<u64>>,
}

impl Probe {
    /// Whether reading the header and blocks costs less than the filter.
    fn partial(&self) -> bool {
        let partial =
            (self.header.end - self.header.start) + self.blocks.len() as u64 * BLOCK_BYTES;
        partial < self.filter.end - self.filter.start
    }

    fn ranges(&self) -> Vec<Range<u64>> {
        if self.partial() {
            std::iter::once(self.header.clone())
                .chain(self.blocks.iter().cloned())
                .collect()
        } else {
            vec![self.filter.clone()]
        }
    }

    /// Whether each key may be present, from the bytes of [`Probe::ranges`];
    /// `None` if the filter cannot be read.
    fn answer(&self, parts: &[bytes::Bytes]) -> Option<Vec<bool>> {
        if !self.partial() {
            let filter = Sbbf::from_bytes(parts.first()?).ok()?;
            return Some(self.keys.iter().map(|k| filter.check(&k[..])).collect());
        }
        // The header must describe the filter the blocks were computed for:
        // decode it with an empty bitset of the inferred size.
        let header = parts.first()?;
        let bitset = (self.filter.end - self.filter.start) - (self.header.end - self.header.start);
        let mut empty = header.to_vec();
        empty.resize(header.len() + bitset as usize, 0);
        Sbbf::from_bytes(&empty).ok()?;
        self.keys
            .iter()
            .zip(&parts[1..])
            .map(|(key, block)| {
                (block.len() as u64 == BLOCK_BYTES).then(|| Sbbf::new(block).check(&key[..]))
            })
            .collect()
    }
}

/// The bloom filter probes a predicate's equalities call for.
pub struct BloomPlan {
    probes: Vec<Probe>,
    physical: HashMap<String, PhysicalType>,
}

impl BloomPlan {
    /// Plans the probes of the row groups `groups`: for every equality on a
    /// column whose chunk has a bloom filter, the blocks its value hashes to.
    pub fn new(
        metadata: &ParquetMetaData,
        predicate: &BoundPredicate,
        groups: &[usize],
        file_size: u64,
        leaf_of: impl Fn(&str) -> Option<usize>,
    ) -> Self {
        let mut physical = HashMap::new();
        let mut by_column: HashMap<&str, Vec<Vec<u8>>> = HashMap::new();
        for keyed in keyed_comparisons(metadata, predicate.equalities(), &leaf_of) {
            physical.insert(keyed.name.to_owned(), keyed.physical);
            by_column.entry(keyed.name).or_default().push(keyed.key);
        }
        let mut probes = Vec::new();
        for &group in groups {
            for (name, keys) in &by_column {
                let Some(leaf) = leaf_of(name) else { continue };
                let chunk = metadata.row_group(group).column(leaf);
                let (Some(offset), Some(length)) =
                    (chunk.bloom_filter_offset(), chunk.bloom_filter_length())
                else {
                    continue;
                };
                let (Ok(offset), Ok(length)) = (u64::try_from(offset), u64::try_from(length))
                else {
                    continue;
                };
                if offset.saturating_add(length) > file_size {
                    continue;
                }
                // The bitset is a power of two; the header before it a few bytes.
                let bitset = prev_power_of_two(length);
                let header_len = length - bitset;
                if bitset < BLOCK_BYTES || header_len == 0 || header_len > 64 {
                    continue;
                }
                let header = offset..offset + header_len;
                let blocks_total = bitset / BLOCK_BYTES;
                let blocks = keys
                    .iter()
                    .map(|key| {
                        let hash = XxHash64::oneshot(0, key);
                        let block = ((hash >> 32) * blocks_total) >> 32;
                        let start = header.end + block * BLOCK_BYTES;
                        start..start + BLOCK_BYTES
                    })
                    .collect();
                probes.push(Probe {
                    group,
                    name: (*name).to_owned(),
                    keys: keys.clone(),
                    filter: offset..offset + length,
                    header,
                    blocks,
                });
            }
        }
        Self { probes, physical }
    }

    /// The byte ranges the probes read.
    pub fn ranges(&self) -> Vec<Range<u64>> {
        self.probes.iter().flat_map(Probe::ranges).collect()
    }

    /// Reads the probes' ranges (fetched ahead, or in one wave) and answers.
    /// A filter that cannot be read answers nothing: every value may be there.
    pub fn answer(self, source: &mut RemoteFile) -> Result<BloomAnswers> {
        let mut answers = BloomAnswers {
            answers: HashMap::new(),
            physical: self.physical,
        };
        for probe in self.probes {
            let parts = source.read(&probe.ranges())?;
            if let Some(present) = probe.answer(&parts) {
                for (key, present) in probe.keys.iter().zip(present) {
                    answers
                        .answers
                        .insert((probe.group, probe.name.clone(), key.clone()), present);
                }
            }
        }
        Ok(answers)
    }
}

/// A comparison of a column with a constant whose PLAIN encoding (what
/// bloom filters hash and dictionaries hold) is certain.
pub(super) struct KeyedComparison<'a> {
    /// The column.
    pub name: &'a str,
    /// Its leaf in the file.
    pub leaf: usize,
    /// Its physical type.
    pub physical: PhysicalType,
    /// The constant, PLAIN-encoded.
    pub key: Vec<u8>,
}

/// The `comparisons` (column, constant) whose constant can be encoded as
/// the column stores it.
pub(super) fn keyed_comparisons<'a>(
    metadata: &ParquetMetaData,
    comparisons: Vec<(&'a str, &ArrayRef)>,
    leaf_of: impl Fn(&str) -> Option<usize>,
) -> Vec<KeyedComparison<'a>> {
    comparisons
        .into_iter()
        .filter_map(|(name, value)| {
            let leaf = leaf_of(name)?;
            let physical = metadata
                .file_metadata()
                .schema_descr()
                .column(leaf)
                .physical_type();
            let key = plain_key(value.as_ref(), physical)?;
            Some(KeyedComparison {
                name,
                leaf,
                physical,
                key,
            })
        })
        .collect()
}

fn prev_power_of_two(n: u64) -> u64 {
    if n == 0 {
        0
    } else {
        1 << (63 - n.leading_zeros())
    }
}

/// The PLAIN encoding of a one-element array as the column stores it (what
/// bloom filters hash), or `None` where the conversion is not certain.
pub(super) fn plain_key(value: &dyn Array, physical: PhysicalType) -> Option<Vec<u8>> {
    if value.len() != 1 || value.is_null(0) {
        return None;
    }
    let int = |v: i64| -> Option<Vec<u8>> {
        match physical {
            PhysicalType::INT32 => i32::try_from(v).ok().map(|v| v.to_le_bytes().to_vec()),
            PhysicalType::INT64 => Some(v.to_le_bytes().to_vec()),
            _ => None,
        }
    };
    let unsigned = |v: u64| -> Option<Vec<u8>> {
        match physical {
            PhysicalType::INT32 => u32::try_from(v).ok().map(|v| v.to_le_bytes().to_vec()),
            PhysicalType::INT64 => Some(v.to_le_bytes().to_vec()),
            _ => None,
        }
    };
    match value.data_type() {
        DataType::Int8 => int(value.as_primitive::<Int8Type>().value(0).into()),
        DataType::Int16 => int(value.as_primitive::<Int16Type>().value(0).into()),
        DataType::Int32 => int(value.as_primitive::<Int32Type>().value(0).into()),
        DataType::Int64 => int(value.as_primitive::<Int64Type>().value(0)),
        DataType::UInt8 => unsigned(value.as_primitive::<UInt8Type>().value(0).into()),
        DataType::UInt16 => unsigned(value.as_primitive::<UInt16Type>().value(0).into()),
        DataType::UInt32 => unsigned(value.as_primitive::<UInt32Type>().value(0).into()),
        DataType::UInt64 => unsigned(value.as_primitive::<UInt64Type>().value(0)),
        DataType::Date32 => int(value.as_primitive::<Date32Type>().value(0).into()),
        DataType::Decimal128(_, _) => {
            let unscaled = value.as_primitive::<Decimal128Type>().value(0);
            int(i64::try_from(unscaled).ok()?)
        }
        DataType::Utf8 if physical == PhysicalType::BYTE_ARRAY => {
            Some(value.as_string::<i32>().value(0).as_bytes().to_vec())
        }
        DataType::Binary if physical == PhysicalType::BYTE_ARRAY => {
            Some(value.as_binary::<i32>().value(0).to_vec())
        }
        _ => None,
    }
}
