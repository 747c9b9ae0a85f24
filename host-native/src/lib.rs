//! # quiver-host
//!
//! Runs the Quiver engine component under wasmtime. The host provides
//! capabilities only: HTTP through `wasmtime-wasi-http`, the files the user
//! named (and directories allowed) through `wasi:filesystem`, and the `gpu`
//! interface. All query
//! logic lives in the component.
//!
//! [`runtime::Runtime`] compiles (or loads from the cache) the component;
//! [`runtime::Session`] is one instance; [`pool::Pool`] runs several at once;
//! [`source::Source`] turns what a user typed into a URL and the local file
//! it names, and [`dataset::Dataset`] many of them into one table;
//! [`access::FileAccess`] is what an instance may read; [`command::run`] runs
//! an application component composed with the engine.

#![warn(missing_docs)]

pub mod access;
pub mod bindings;
pub mod client;
pub mod command;
pub mod dataset;
pub mod disk;
pub mod host;
pub mod pool;
pub mod runtime;
pub mod source;
pub mod state;
pub mod where_split;
