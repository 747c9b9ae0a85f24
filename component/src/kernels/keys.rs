//! Order-preserving keys and sets of key intervals.
//!
//! Every kernel compares unsigned integer keys: a column's raw bits map to a
//! key whose unsigned order is SQL's order of the values (for floats: `-0.0`
//! equals `0.0`, and NaN is one value, greater than every other), and a
//! predicate (a comparison, `BETWEEN`, an `IN` list, their `NOT`s, `AND`s and
//! `OR`s on one column) becomes a sorted set of key intervals. The CPU and GPU
//! tiers compute the same keys from the same bits, so their answers are
//! bit-identical by construction.

use crate::filter::CompareOp;

/// How a column's bits map to keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Unsigned integers: the bits are the key.
    Unsigned,
    /// Two's-complement integers: the sign bit flipped.
    Signed,
    /// IEEE 754 floats: canonicalised, then negatives' bits all flipped and
    /// the sign bit of the rest set.
    Float,
}

/// The width of a column's values, and of its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    /// 32-bit values (int32, uint32, float32, date32).
    W32,
    /// 64-bit values (int64, uint64, float64, timestamps).
    W64,
}

impl Width {
    /// The largest key of this width.
    pub fn max_key(self) -> u64 {
        match self {
            Width::W32 => u64::from(u32::MAX),
            Width::W64 => u64::MAX,
        }
    }

    /// Bytes per value.
    pub fn bytes(self) -> usize {
        match self {
            Width::W32 => 4,
            Width::W64 => 8,
        }
    }
}

/// The key of a 32-bit value's bits.
#[inline(always)]
pub fn key32(bits: u32, encoding: Encoding) -> u32 {
    match encoding {
        Encoding::Unsigned => bits,
        Encoding::Signed => bits ^ 0x8000_0000,
        Encoding::Float => {
            let magnitude = bits & 0x7fff_ffff;
            let bits = if magnitude > 0x7f80_0000 {
                0x7fc0_0000
            } else if magnitude == 0 {
                0
            } else {
                bits
            };
            bits ^ ((((bits as i32) >> 31) as u32) | 0x8000_0000)
        }
    }
}

/// The key of a 64-bit value's bits.
#[inline(always)]
pub fn key64(bits: u64, encoding: Encoding) -> u64 {
    match encoding {
        Encoding::Unsigned => bits,
        Encoding::Signed => bits ^ (1 << 63),
        Encoding::Float => {
            let magnitude = bits & !(1 << 63);
            let bits = if magnitude > 0x7ff0_0000_0000_0000 {
                0x7ff8_0000_0000_0000
            } else if magnitude == 0 {
                0
            } else {
                bits
            };
            bits ^ ((((bits as i64) >> 63) as u64) | (1 << 63))
        }
    }
}

/// A set of keys: sorted, disjoint, non-adjacent inclusive intervals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySet {
    ranges: Vec<(u64, u64)>,
}

impl KeySet {
    /// No key.
    pub fn empty() -> Self {
        Self { ranges: Vec::new() }
    }

    /// Every key of `width`.
    pub fn full(width: Width) -> Self {
        Self::interval(0, width.max_key())
    }

    /// The keys from `low` to `high`, both included (none if `low > high`).
    pub fn interval(low: u64, high: u64) -> Self {
        Self {
            ranges: if low <= high {
                vec![(low, high)]
            } else {
                Vec::new()
            },
        }
    }

    /// The keys `k` for which `k op key` holds.
    pub fn compare(op: CompareOp, key: u64, width: Width) -> Self {
        let max = width.max_key();
        let below = |k: u64| {
            k.checked_sub(1)
                .map_or(Self::empty(), |k| Self::interval(0, k))
        };
        let above = |k: u64| {
            k.checked_add(1)
                .map_or(Self::empty(), |k| Self::interval(k, max))
        };
        match op {
            CompareOp::Eq => Self::interval(key, key),
            CompareOp::NotEq => below(key).union(&above(key)),
            CompareOp::Lt => below(key),
            CompareOp::LtEq => Self::interval(0, key),
            CompareOp::Gt => above(key),
            CompareOp::GtEq => Self::interval(key, max),
        }
    }

    /// The intervals, sorted.
    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.ranges
    }

    /// Keys in either set.
    pub fn union(&self, other: &Self) -> Self {
        Self::union_all([self, other])
    }

    /// Keys in any of the sets (one sort, however many sets).
    pub fn union_all<'a>(sets: impl IntoIterator<Item = &'a Self>) -> Self {
        let mut all: Vec<(u64, u64)> = sets
            .into_iter()
            .flat_map(|set| set.ranges.iter().copied())
            .collect();
        all.sort_unstable();
        let mut ranges: Vec<(u64, u64)> = Vec::with_capacity(all.len());
        for (low, high) in all {
            match ranges.last_mut() {
                Some(last) if low <= last.1.saturating_add(1) => last.1 = last.1.max(high),
                _ => ranges.push((low, high)),
            }
        }
        Self { ranges }
    }

    /// Keys in both sets.
    pub fn intersection(&self, other: &Self) -> Self {
        let (mut i, mut j, mut ranges) = (0, 0, Vec::new());
        while let (Some(&(a_low, a_high)), Some(&(b_low, b_high))) =
            (self.ranges.get(i), other.ranges.get(j))
        {
            let (low, high) = (a_low.max(b_low), a_high.min(b_high));
            if low <= high {
                ranges.push((low, high));
            }
            if a_high < b_high {
                i += 1;
            } else {
                j += 1;
            }
        }
        Self { ranges }
    }

    /// The keys of `width` not in the set.
    pub fn complement(&self, width: Width) -> Self {
        let mut ranges = Vec::with_capacity(self.ranges.len() + 1);
        let mut next = Some(0u64);
        for &(low, high) in &self.ranges {
            if let Some(start) = next
                && start < low
            {
                ranges.push((start, low - 1));
            }
            next = high.checked_add(1);
        }
        if let Some(start) = next
            && start <= width.max_key()
        {
            ranges.push((start, width.max_key()));
        }
        Self { ranges }
    }

    /// Whether `key` is in the set (a binary search).
    #[inline]
    pub fn contains(&self, key: u64) -> bool {
        let after = self.ranges.partition_point(|&(low, _)| low <= key);
        after > 0 && key <= self.ranges[after - 1].1
    }
}

/// The set of float32 keys `k` whose value `x` satisfies `(x as f64) op
/// literal`, where `literal` is already canonical: exact even when the
/// literal has no float32 representation.
pub fn float32_compare(op: CompareOp, literal: f64) -> KeySet {
    let nearest = literal as f32;
    let key = u64::from(key32(nearest.to_bits(), Encoding::Float));
    let widened = f64::from(nearest);
    if widened == literal || literal.is_nan() {
        return KeySet::compare(op, key, Width::W32);
    }
    // Not representable: every float32 lies strictly below or above it.
    let largest_below = if widened > literal { key - 1 } else { key };
    match op {
        CompareOp::Eq => KeySet::empty(),
        CompareOp::NotEq => KeySet::full(Width::W32),
        CompareOp::Lt | CompareOp::LtEq => KeySet::interval(0, largest_below),
        CompareOp::Gt | CompareOp::GtEq => {
            KeySet::interval(largest_below + 1, Width::W32.max_key())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql_order(a: f64, b: f64) -> std::cmp::Ordering {
        let canonical = |x: f64| if x.is_nan() { f64::NAN } else { x + 0.0 };
        canonical(a).total_cmp(&canonical(b))
    }

    const FLOATS: [f64; 12] = [
        f64::NEG_INFINITY,
        -1e300,
        -1.5,
        -f64::MIN_POSITIVE / 4.0,
        -0.0,
        0.0,
        5e-324,
        0.1,
        1.0,
        f64::MAX,
        f64::INFINITY,
        f64::NAN,
    ];

    #[test]
    fn float_keys_sort_as_sql_orders_values() {
        for a in FLOATS {
            for b in FLOATS.into_iter().chain([-f64::NAN]) {
                let keys =
                    key64(a.to_bits(), Encoding::Float).cmp(&key64(b.to_bits(), Encoding::Float));
                assert_eq!(keys, sql_order(a, b), "{a} vs {b}");
                let (a32, b32) = (a as f32, b as f32);
                let keys = key32(a32.to_bits(), Encoding::Float)
                    .cmp(&key32(b32.to_bits(), Encoding::Float));
                assert_eq!(keys, sql_order(a32.into(), b32.into()), "{a32} vs {b32}");
            }
        }
    }

    #[test]
    fn integer_keys_sort_as_integers() {
        let values = [i64::MIN, -1, 0, 1, i64::MAX];
        for a in values {
            for b in values {
                assert_eq!(
                    key64(a as u64, Encoding::Signed).cmp(&key64(b as u64, Encoding::Signed)),
                    a.cmp(&b)
                );
                let (a, b) = (a as i32, b as i32);
                assert_eq!(
                    key32(a as u32, Encoding::Signed).cmp(&key32(b as u32, Encoding::Signed)),
                    a.cmp(&b)
                );
            }
        }
    }

    #[test]
    fn set_algebra_keeps_intervals_sorted_and_merged() {
        let w = Width::W32;
        let a = KeySet::interval(10, 20).union(&KeySet::interval(21, 30));
        assert_eq!(a.ranges(), [(10, 30)]);
        let b = a.intersection(&KeySet::compare(CompareOp::NotEq, 15, w));
        assert_eq!(b.ranges(), [(10, 14), (16, 30)]);
        assert_eq!(
            b.complement(w).ranges(),
            [(0, 9), (15, 15), (31, u64::from(u32::MAX))]
        );
        assert_eq!(KeySet::full(w).complement(w), KeySet::empty());
        assert!(KeySet::compare(CompareOp::Lt, 0, w).ranges().is_empty());
        assert!(
            KeySet::compare(CompareOp::Gt, u64::MAX, Width::W64)
                .ranges()
                .is_empty()
        );
        assert!(b.contains(16) && !b.contains(15) && !b.contains(31) && b.contains(10));
    }

    #[test]
    fn float32_columns_compare_exactly_with_double_literals() {
        let ops = [
            CompareOp::Eq,
            CompareOp::NotEq,
            CompareOp::Lt,
            CompareOp::LtEq,
            CompareOp::Gt,
            CompareOp::GtEq,
        ];
        let columns = [
            f32::NEG_INFINITY,
            -0.1,
            -0.0,
            0.0,
            0.1,
            1.0,
            f32::MAX,
            f32::INFINITY,
            f32::NAN,
        ];
        for literal in [
            0.1f64,
            -0.1,
            1.0,
            1e300,
            -1e300,
            0.0,
            f64::INFINITY,
            f64::NAN,
        ] {
            for op in ops {
                let set = float32_compare(op, literal);
                for x in columns {
                    let expected = op.holds(sql_order(f64::from(x), literal));
                    let key = u64::from(key32(x.to_bits(), Encoding::Float));
                    assert_eq!(set.contains(key), expected, "{x} {op:?} {literal}");
                }
            }
        }
    }
}
