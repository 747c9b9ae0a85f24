//! The CPU tiers: selection bitmaps from raw column bits and a key set.
//!
//! The same source builds both CPU tiers. In the SIMD build
//! (`target-feature=+simd128`) the hot loop is the explicit wasm SIMD128 code
//! in [`super::simd`]; in the scalar build, and natively, it is the plain loop
//! below, one row at a time.

use super::keys::{Encoding, KeySet, Width, key32, key64};
use arrow_buffer::{BooleanBuffer, Buffer};

/// Intervals up to which the scalar loop tests a set by comparing with each
/// interval; larger sets (long `IN` lists) use a binary search per row.
pub const LINEAR_RANGES: usize = 4;

/// Intervals up to which the SIMD loop compares with each interval: four
/// lanes per comparison make a short `IN` list cheaper than a search.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
const SIMD_LINEAR_RANGES: usize = 16;

/// A column's values as raw bits, in row order.
#[derive(Debug, Clone, Copy)]
pub enum RawColumn<'a> {
    /// 32-bit values.
    W32(&'a [u32]),
    /// 64-bit values.
    W64(&'a [u64]),
}

impl RawColumn<'_> {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            RawColumn::W32(values) => values.len(),
            RawColumn::W64(values) => values.len(),
        }
    }

    /// The width of its values.
    pub fn width(&self) -> Width {
        match self {
            RawColumn::W32(_) => Width::W32,
            RawColumn::W64(_) => Width::W64,
        }
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One bit per row, set where the row's key is in `set`; bits past the last
/// row are zero.
pub fn select(column: RawColumn<'_>, encoding: Encoding, set: &KeySet) -> BooleanBuffer {
    let rows = column.len();
    let words = match column {
        RawColumn::W32(values) => select32(values, encoding, set),
        RawColumn::W64(values) => select64(values, encoding, set),
    };
    BooleanBuffer::new(Buffer::from_vec(words), 0, rows)
}

fn select32(values: &[u32], encoding: Encoding, set: &KeySet) -> Vec<u32> {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if set.ranges().len() <= SIMD_LINEAR_RANGES {
        return super::simd::select32(values, encoding, set);
    }
    scalar_words(values, |bits| u64::from(key32(bits, encoding)), set)
}

fn select64(values: &[u64], encoding: Encoding, set: &KeySet) -> Vec<u32> {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if set.ranges().len() <= SIMD_LINEAR_RANGES {
        return super::simd::select64(values, encoding, set);
    }
    scalar_words(values, |bits| key64(bits, encoding), set)
}

/// The scalar loop: 32 rows per output word.
pub(super) fn scalar_words<T: Copy>(
    values: &[T],
    key: impl Fn(T) -> u64,
    set: &KeySet,
) -> Vec<u32> {
    let ranges = set.ranges();
    let test = |k: u64| -> bool {
        if ranges.len() <= LINEAR_RANGES {
            ranges
                .iter()
                .any(|&(low, high)| k.wrapping_sub(low) <= high - low)
        } else {
            set.contains(k)
        }
    };
    values
        .chunks(32)
        .map(|chunk| {
            chunk.iter().enumerate().fold(0u32, |word, (i, &value)| {
                word | (u32::from(test(key(value))) << i)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::CompareOp;

    #[test]
    fn bits_follow_rows_and_stop_at_the_last_row() {
        let values: Vec<u32> = (0..70).map(|i: i32| (i - 35) as u32).collect();
        let set = KeySet::compare(
            CompareOp::Gt,
            u64::from(key32(30, Encoding::Signed)),
            Width::W32,
        );
        let bits = select(RawColumn::W32(&values), Encoding::Signed, &set);
        assert_eq!(bits.len(), 70);
        let selected: Vec<usize> = bits.set_indices().collect();
        assert_eq!(selected, (66..70).collect::<Vec<_>>());
        assert_eq!(bits.inner().as_slice()[8..], [0b0011_1100, 0, 0, 0]);
    }

    #[test]
    fn long_in_lists_search_the_set() {
        let values: Vec<u64> = (0..100).collect();
        let set = (0..50u64)
            .map(|v| KeySet::interval(v * 2, v * 2))
            .fold(KeySet::empty(), |all, one| all.union(&one));
        let bits = select(RawColumn::W64(&values), Encoding::Unsigned, &set);
        assert_eq!(bits.count_set_bits(), 50);
        assert!(bits.value(98) && !bits.value(99));
    }
}
