//! # Quiver engine
//!
//! A Parquet query engine built as a WebAssembly component. The core is plain
//! Rust and sans-IO above [`source`]: it decides which byte ranges it needs,
//! a [`source::Transport`] fetches them (through `wasi:http` or
//! `wasi:filesystem` in the component, from memory in tests), and the
//! decoder, filter and IPC encoder turn them into Arrow batches.
//!
//! The WIT bindings and the exported interfaces live in `bindings` and
//! `exports`, compiled only for WebAssembly.

#![warn(missing_docs)]

pub mod columns;
pub mod error;
pub mod filter;
pub mod ipc;
pub mod kernels;
pub mod memory;
pub mod scan;
pub mod source;

#[cfg(target_arch = "wasm32")]
mod bindings;
#[cfg(target_arch = "wasm32")]
mod exports;
