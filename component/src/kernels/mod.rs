//! Filter kernels and their compute tiers.
//!
//! Comparisons, `BETWEEN` and `IN` lists on 32- and 64-bit integer, float,
//! date and timestamp columns run here rather than through Arrow's generic
//! kernels: the column's raw bits become order-preserving keys ([`keys`]) and
//! the predicate a set of key intervals, tested by one of three tiers that
//! give bit-identical answers: WGSL on the host's GPU ([`gpu`]), explicit
//! wasm SIMD128 code (the `+simd128` build) or a scalar loop ([`cpu`]).
//! [`tier`] chooses among them and reports what ran where.

pub mod cpu;
pub mod gpu;
pub mod keys;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd;
pub mod tier;

pub use tier::{Compute, KernelReport, Preference, Tier};
