//! The SIMD128 tier: the selection loop written with `core::arch::wasm32`.
//!
//! LLVM does not vectorise the scalar loop's bit packing, so this is written
//! out: keys are computed four (32-bit) or two (64-bit) lanes at a time with
//! the same integer operations as [`super::keys`], each interval test is one
//! subtraction and one unsigned comparison, and `bitmask` packs the lanes
//! into the output word. Rows past the last whole word go through the scalar
//! loop.

use super::cpu::scalar_words;
use super::keys::{Encoding, KeySet, key32, key64};
use core::arch::wasm32::*;

/// Selection words for 32-bit values and at most a few intervals.
pub fn select32(values: &[u32], encoding: Encoding, set: &KeySet) -> Vec<u32> {
    match encoding {
        Encoding::Unsigned => run32(values, encoding, set, |v| v),
        Encoding::Signed => run32(values, encoding, set, |v| {
            v128_xor(v, u32x4_splat(0x8000_0000))
        }),
        Encoding::Float => run32(values, encoding, set, |v| {
            let magnitude = v128_and(v, u32x4_splat(0x7fff_ffff));
            let nan = u32x4_gt(magnitude, u32x4_splat(0x7f80_0000));
            let zero = i32x4_eq(magnitude, u32x4_splat(0));
            let bits = v128_andnot(v128_bitselect(u32x4_splat(0x7fc0_0000), v, nan), zero);
            v128_xor(bits, v128_or(i32x4_shr(bits, 31), u32x4_splat(0x8000_0000)))
        }),
    }
}

/// Selection words for 64-bit values and at most a few intervals.
pub fn select64(values: &[u64], encoding: Encoding, set: &KeySet) -> Vec<u32> {
    match encoding {
        Encoding::Unsigned => run64(values, encoding, set, |v| v),
        Encoding::Signed => run64(values, encoding, set, |v| v128_xor(v, u64x2_splat(1 << 63))),
        Encoding::Float => run64(values, encoding, set, |v| {
            let magnitude = v128_and(v, u64x2_splat(!(1 << 63)));
            let nan = i64x2_gt(magnitude, u64x2_splat(0x7ff0_0000_0000_0000));
            let zero = i64x2_eq(magnitude, u64x2_splat(0));
            let bits = v128_andnot(
                v128_bitselect(u64x2_splat(0x7ff8_0000_0000_0000), v, nan),
                zero,
            );
            v128_xor(bits, v128_or(i64x2_shr(bits, 63), u64x2_splat(1 << 63)))
        }),
    }
}

#[inline(always)]
fn run32(values: &[u32], encoding: Encoding, set: &KeySet, key: impl Fn(v128) -> v128) -> Vec<u32> {
    // Interval [low, high] holds k when k - low <= high - low (unsigned).
    let bounds: Vec<(v128, v128)> = set
        .ranges()
        .iter()
        .map(|&(low, high)| (u32x4_splat(low as u32), u32x4_splat((high - low) as u32)))
        .collect();
    let whole = values.len() / 32 * 32;
    let mut words = Vec::with_capacity(values.len().div_ceil(32));
    for chunk in values[..whole].chunks_exact(32) {
        let mut word = 0u32;
        for (lane, four) in chunk.chunks_exact(4).enumerate() {
            // SAFETY: `four` holds exactly 16 readable bytes; the load is unaligned.
            let v = unsafe { core::ptr::read_unaligned(four.as_ptr().cast::<v128>()) };
            let k = key(v);
            let mut hit = u32x4_splat(0);
            for &(low, width) in &bounds {
                hit = v128_or(hit, u32x4_le(i32x4_sub(k, low), width));
            }
            word |= u32::from(i32x4_bitmask(hit)) << (lane * 4);
        }
        words.push(word);
    }
    words.extend(scalar_words(
        &values[whole..],
        |bits| u64::from(key32(bits, encoding)),
        set,
    ));
    words
}

#[inline(always)]
fn run64(values: &[u64], encoding: Encoding, set: &KeySet, key: impl Fn(v128) -> v128) -> Vec<u32> {
    // wasm has no unsigned 64-bit comparison: flip both sign bits and
    // compare signed.
    let sign = u64x2_splat(1 << 63);
    let bounds: Vec<(v128, v128)> = set
        .ranges()
        .iter()
        .map(|&(low, high)| (u64x2_splat(low), v128_xor(u64x2_splat(high - low), sign)))
        .collect();
    let whole = values.len() / 32 * 32;
    let mut words = Vec::with_capacity(values.len().div_ceil(32));
    for chunk in values[..whole].chunks_exact(32) {
        let mut word = 0u32;
        for (lane, two) in chunk.chunks_exact(2).enumerate() {
            // SAFETY: `two` holds exactly 16 readable bytes; the load is unaligned.
            let v = unsafe { core::ptr::read_unaligned(two.as_ptr().cast::<v128>()) };
            let k = key(v);
            let mut hit = u64x2_splat(0);
            for &(low, width) in &bounds {
                let offset = v128_xor(i64x2_sub(k, low), sign);
                hit = v128_or(hit, i64x2_le(offset, width));
            }
            word |= u32::from(i64x2_bitmask(hit)) << (lane * 2);
        }
        words.push(word);
    }
    words.extend(scalar_words(
        &values[whole..],
        |bits| key64(bits, encoding),
        set,
    ));
    words
}
