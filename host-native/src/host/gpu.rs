//! Implementation of the `quiver:engine/gpu` interface.
//!
//! This host offers no adapter yet: every query runs on the CPU tiers, and a
//! compute pass is refused with the typed `no-adapter` error.

use crate::bindings::quiver::engine::gpu::{AdapterInfo, ComputePass, GpuError, Host};
use crate::state::QuiverState;

impl Host for QuiverState {
    fn adapter(&mut self) -> wasmtime::Result<Option<AdapterInfo>> {
        Ok(None)
    }

    fn run(&mut self, _pass: ComputePass) -> wasmtime::Result<Result<Vec<Vec<u8>>, GpuError>> {
        Ok(Err(GpuError::NoAdapter))
    }
}
