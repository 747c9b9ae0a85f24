//! The per-instance store state: WASI contexts and the resource table.

use std::path::Path;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// What one engine instance may touch.
pub struct QuiverState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
}

impl QuiverState {
    /// A state whose filesystem holds only `directories`, read-only, each at
    /// its own absolute path (so `file://` URLs mean the same inside and out).
    pub fn new(directories: &[impl AsRef<Path>]) -> anyhow::Result<Self> {
        let mut builder = WasiCtx::builder();
        builder.inherit_stderr();
        for directory in directories {
            let directory = directory.as_ref();
            let guest_path = directory.to_str().ok_or_else(|| {
                anyhow::anyhow!("directory {} is not valid UTF-8", directory.display())
            })?;
            builder.preopened_dir(directory, guest_path, FsPerms::ReadOnly)?;
        }
        Ok(Self {
            wasi: builder.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
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
