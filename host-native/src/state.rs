//! The per-instance store state: WASI contexts, the resource table, and the
//! meter (and cap) of the instance's linear memory.

use crate::access::FileAccess;
use crate::host::cache::DiskRangeCache;
use std::fmt;
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// What one engine instance may touch.
pub struct QuiverState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    /// The instance's memory: its peak, and the cap (see `Runtime::session_with`).
    pub memory: MemoryMeter,
    /// Where the `range-cache` import keeps ranges (`None`: nowhere, every
    /// lookup misses).
    pub range_cache: Option<Arc<DiskRangeCache>>,
}

/// Watches an instance's linear memory grow: keeps its peak size, and stops
/// the instance when it asks for more than the limit.
#[derive(Debug, Default)]
pub struct MemoryMeter {
    /// The largest size the memory has had, in bytes.
    pub peak_bytes: usize,
    /// The most the memory may grow to, in bytes.
    pub limit_bytes: Option<usize>,
}

/// Why an instance stopped: it asked for more memory than its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLimitExceeded {
    /// The limit, in bytes.
    pub limit_bytes: usize,
    /// The size the memory was asked to grow to, in bytes.
    pub asked_bytes: usize,
}

impl fmt::Display for MemoryLimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the engine needed {} bytes of memory, more than its limit of {} bytes",
            self.asked_bytes, self.limit_bytes
        )
    }
}

impl std::error::Error for MemoryLimitExceeded {}

impl wasmtime::ResourceLimiter for MemoryMeter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Beyond the memory's own maximum (4 GiB for a 32-bit instance) the
        // growth would fail and the engine abort on the failed allocation:
        // stop it with the same clear error as the limit.
        let cap = match (self.limit_bytes, maximum) {
            (Some(limit), Some(maximum)) => Some(limit.min(maximum)),
            (limit, maximum) => limit.or(maximum),
        };
        if let Some(limit_bytes) = cap.filter(|&limit| desired > limit) {
            return Err(wasmtime::Error::new(MemoryLimitExceeded {
                limit_bytes,
                asked_bytes: desired,
            }));
        }
        self.peak_bytes = self.peak_bytes.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

impl QuiverState {
    /// A state whose filesystem holds only the directories `access` opens,
    /// read-only, each at the path it stands for (so `file://` URLs mean the
    /// same inside and out), with no environment variables, and whose memory
    /// may grow to `memory_limit` bytes (unbounded: `None`).
    pub fn new(access: &FileAccess, memory_limit: Option<usize>) -> anyhow::Result<Self> {
        let mut builder = WasiCtx::builder();
        builder.inherit_stderr();
        Self::with(builder, access, memory_limit)
    }

    /// The state of a command: as [`QuiverState::new`] without a memory
    /// limit, with `args` as its arguments and the host's standard input,
    /// output and error.
    pub fn command(access: &FileAccess, args: &[String]) -> anyhow::Result<Self> {
        let mut builder = WasiCtx::builder();
        builder.inherit_stdio().args(args);
        Self::with(builder, access, None)
    }

    fn with(
        mut builder: wasmtime_wasi::WasiCtxBuilder,
        access: &FileAccess,
        memory_limit: Option<usize>,
    ) -> anyhow::Result<Self> {
        for (directory, guest_path) in access.preopens() {
            builder.preopened_dir(directory, guest_path, FsPerms::ReadOnly)?;
        }
        Ok(Self {
            wasi: builder.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            memory: MemoryMeter {
                peak_bytes: 0,
                limit_bytes: memory_limit,
            },
            range_cache: None,
        })
    }
}

impl WasiView for QuiverState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for QuiverState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: Default::default(),
        }
    }
}
