//! Host implementations of Quiver's own imported interfaces, one module each.

pub mod cache;
pub mod gpu;
