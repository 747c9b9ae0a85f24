//! The engine's two host-side imports for hosts that provide neither:
//! `quiver:engine/gpu`, whose `adapter` reports none and whose `run` refuses
//! every pass with `gpu-error::no-adapter` (so the engine's `auto` tier picks
//! the CPU kernels), and `quiver:engine/range-cache`, which keeps nothing (so
//! every range is fetched from the server).
//!
//! Built for `wasm32-wasip2` as the `no-gpu` world of `wit/plugs.wit`, then
//! plugged into the engine with `wac plug` (`make stock-engine`): the result
//! imports only standard WASI 0.2 and runs on stock hosts.

#![cfg(target_arch = "wasm32")]
#![warn(missing_docs)]

#[allow(missing_docs, clippy::all, clippy::pedantic)]
mod bindings {
    wit_bindgen::generate!({
        world: "no-gpu",
        path: "../wit",
    });
}

use bindings::exports::quiver::engine::gpu::{AdapterInfo, ComputePass, GpuError, Guest};
use bindings::exports::quiver::engine::range_cache::{FileVersion, Guest as RangeCacheGuest};

/// The component's exports: a GPU capability with no adapter, and a range
/// cache with no storage.
pub struct NoGpu;

impl RangeCacheGuest for NoGpu {
    /// Nothing is kept, so nothing is found.
    fn lookup(_version: FileVersion, _offset: u64, _length: u64) -> Option<Vec<u8>> {
        None
    }

    /// Keeps nothing.
    fn keep(_version: FileVersion, _offset: u64, _bytes: Vec<u8>) {}

    /// Nothing is kept, so nothing is left to forget.
    fn forget_other_versions(_url: String, _current: Option<String>) {}
}

impl Guest for NoGpu {
    /// No adapter: the host has no GPU to offer.
    fn adapter() -> Option<AdapterInfo> {
        None
    }

    /// Refuses the pass: there is no adapter to run it on.
    fn run(_pass: ComputePass) -> Result<Vec<Vec<u8>>, GpuError> {
        Err(GpuError::NoAdapter)
    }
}

bindings::export!(NoGpu with_types_in bindings);
