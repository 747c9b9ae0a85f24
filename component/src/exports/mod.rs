//! The exported WIT interfaces: thin translators between the generated types
//! and the core. Each submodule implements one interface.

mod cache;
mod compute;
mod error;
mod filter;
mod range_fetch;
mod scan;

/// The component: one type implementing every exported interface.
pub struct Engine;

crate::bindings::export!(Engine with_types_in crate::bindings);
