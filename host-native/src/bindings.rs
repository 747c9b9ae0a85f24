//! The only `bindgen!` call: host bindings for the `quiver:engine/engine`
//! world. WASI interfaces come from `wasmtime-wasi` and `wasmtime-wasi-http`;
//! only Quiver's own interfaces are generated here.

#![allow(missing_docs)]

wasmtime::component::bindgen!({
    world: "engine",
    path: "../wit",
    imports: { default: trappable },
    exports: { default: async },
    with: {
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        "wasi:filesystem": wasmtime_wasi::p2::bindings::filesystem,
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
    },
});

pub use exports::quiver::engine::types::{Error as EngineError, HttpStatusError};
pub use exports::quiver::engine::{filter, range_fetch, scan};
