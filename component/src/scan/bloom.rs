//! Bloom filter probes: whether a row group's column may hold the values
//! that `column = constant` tests, from the split-block bloom filters
//! writers store per column chunk. Only the 32-byte blocks the values hash
//! to are read (with the filter's header), unless the whole filter is
//! smaller.

use super::bounds::Bounds;
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

/// Row-group bounds with the bloom filters' answers on top.
pub struct WithBlooms<'a> {
    /// The statistics of every row group of the file.
    pub bounds: &'a Bounds,
    /// The answers.
    pub blooms: &'a BloomAnswers,
}

impl ContainerStats for WithBlooms<'_> {
    fn containers(&self) -> usize {
        self.bounds.containers()
    }

    fn column(&self, name: &str) -> Option<&ColumnBounds> {
        self.bounds.column(name)
    }

    fn may_contain(&self, name: &str, value: &ArrayRef) -> Option<Vec<bool>> {
        let key = plain_key(value.as_ref(), *self.blooms.physical.get(name)?)?;
        Some(
            (0..self.containers())
                .map(|group| {
                    self.blooms
                        .answers
                        .get(&(group, name.to_owned(), key.clone()))
                        .copied()
                        .unwrap_or(true)
                })
                .collect(),
        )
    }
}

/// Reads the bloom filter blocks that the predicate's equalities hash to,
/// in the row groups `groups` (one wave, or none where they lie in the
/// tail), and returns the answers. Probes outside the tail only when
/// `worth_a_round_trip`.
pub fn probe(
    source: &mut RemoteFile,
    metadata: &ParquetMetaData,
    predicate: &BoundPredicate,
    groups: &[usize],
    leaf_of: impl Fn(&str) -> Option<usize>,
    worth_a_round_trip: bool,
) -> Result<BloomAnswers> {
    struct Probe {
        group: usize,
        name: String,
        keys: Vec<Vec<u8>>,
        filter: Range<u64>,
        header: Range<u64>,
        blocks: Vec<Range<u64>>,
    }
    let mut answers = BloomAnswers::default();
    let mut by_column: HashMap<&str, Vec<Vec<u8>>> = HashMap::new();
    for (name, value) in predicate.equalities() {
        let Some(leaf) = leaf_of(name) else { continue };
        let physical = metadata
            .file_metadata()
            .schema_descr()
            .column(leaf)
            .physical_type();
        if let Some(key) = plain_key(value.as_ref(), physical) {
            answers.physical.insert(name.to_owned(), physical);
            by_column.entry(name).or_default().push(key);
        }
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
            let (Ok(offset), Ok(length)) = (u64::try_from(offset), u64::try_from(length)) else {
                continue;
            };
            if offset + length > source.size() {
                continue;
            }
            // The bitset is a power of two; the header before it is a few bytes.
            let bitset = prev_power_of_two(length);
            let header_len = length - bitset;
            if bitset < BLOCK_BYTES || header_len == 0 || header_len > 64 {
                continue;
            }
            let filter = offset..offset + length;
            let header = offset..offset + header_len;
            let blocks_total = bitset / BLOCK_BYTES;
            let blocks: Vec<Range<u64>> = keys
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
                filter,
                header,
                blocks,
            });
        }
    }
    // Per filter, the blocks and header when that is less than the whole.
    let mut ranges = Vec::new();
    for probe in &probes {
        let partial =
            (probe.header.end - probe.header.start) + probe.blocks.len() as u64 * BLOCK_BYTES;
        if partial < probe.filter.end - probe.filter.start {
            ranges.push(probe.header.clone());
            ranges.extend(probe.blocks.iter().cloned());
        } else {
            ranges.push(probe.filter.clone());
        }
    }
    // Probing costs a round trip unless the filters lie in the tail read at
    // open; without enough bytes at stake, it does not pay.
    if !worth_a_round_trip && !ranges.iter().all(|range| source.is_cached(range)) {
        return Ok(BloomAnswers::default());
    }
    let data = source.read(&ranges)?;
    let mut data = data.into_iter();
    for probe in probes {
        let partial_len = 1 + probe.blocks.len();
        let whole = (probe.header.end - probe.header.start)
            + probe.blocks.len() as u64 * BLOCK_BYTES
            >= probe.filter.end - probe.filter.start;
        let present: Option<Vec<bool>> = if whole {
            let bytes = data.next().unwrap_or_default();
            Sbbf::from_bytes(&bytes)
                .ok()
                .map(|filter| probe.keys.iter().map(|k| filter.check(&k[..])).collect())
        } else {
            let parts: Vec<_> = data.by_ref().take(partial_len).collect();
            partial_check(&parts, &probe).then(|| {
                probe
                    .keys
                    .iter()
                    .zip(&parts[1..])
                    .map(|(key, block)| Sbbf::new(block).check(&key[..]) || block.len() != 32)
                    .collect()
            })
        };
        // A filter that cannot be read answers nothing (every value may be there).
        if let Some(present) = present {
            for (key, present) in probe.keys.into_iter().zip(present) {
                answers
                    .answers
                    .insert((probe.group, probe.name.clone(), key), present);
            }
        }
    }
    return Ok(answers);

    /// Whether the header read with the blocks describes the filter the
    /// blocks were computed for: a bitset of the inferred size, hashed with
    /// xxHash, uncompressed. Checked by decoding a filter made of the header
    /// and an empty bitset of that size.
    fn partial_check(parts: &[bytes::Bytes], probe: &Probe) -> bool {
        let Some(header) = parts.first() else {
            return false;
        };
        let bitset =
            (probe.filter.end - probe.filter.start) - (probe.header.end - probe.header.start);
        let mut whole = header.to_vec();
        whole.resize(header.len() + bitset as usize, 0);
        Sbbf::from_bytes(&whole).is_ok()
    }
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
fn plain_key(value: &dyn Array, physical: PhysicalType) -> Option<Vec<u8>> {
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
