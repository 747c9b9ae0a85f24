//! `quiver:engine/gpu` for hosts without a GPU: `adapter` reports
//! none and `run` refuses every pass with `gpu-error::no-adapter`,
//! so the engine's `auto` tier picks the CPU kernels.
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

/// The component's one export: a GPU capability with no adapter.
pub struct NoGpu;

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
