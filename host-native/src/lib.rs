//! # quiver-host
//!
//! Runs the Quiver engine component under wasmtime. The host provides
//! capabilities only: HTTP through `wasmtime-wasi-http`, the directories the
//! user named through `wasi:filesystem`, and the `gpu` interface. All query
//! logic lives in the component.
//!
//! [`runtime::Runtime`] compiles (or loads from the cache) the component;
//! [`runtime::Session`] is one instance; [`source::Source`] turns what a user
//! typed into a URL and the directory to open.

#![warn(missing_docs)]

pub mod bindings;
pub mod client;
pub mod host;
pub mod runtime;
pub mod source;
pub mod state;
