//! Running a command component (one that exports `wasi:cli/run`), such as an
//! application composed with the engine by `wac plug`, with what the host
//! offers the engine: WASI 0.2, `wasi:http`, read-only pre-opened
//! directories and the `gpu` interface on wgpu.

use crate::access::FileAccess;
use crate::runtime::{capabilities, load_cached};
use crate::state::QuiverState;
use anyhow::{Context, Result};
use std::path::Path;
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::p2::bindings::CommandPre;

/// Runs the command component at `path` with `args` (the first is its
/// name), the host's standard streams, and the files `access` allows.
/// The outer error is a component that cannot be loaded or trapped; the
/// inner one is `wasi:cli/run` returning an error.
pub async fn run(path: &Path, args: &[String], access: &FileAccess) -> Result<Result<(), ()>> {
    let engine = Engine::new(&Config::new())?;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let component = load_cached(&engine, &bytes)?;
    let pre =
        CommandPre::new(capabilities(&engine)?.instantiate_pre(&component)?).map_err(|error| {
            anyhow::anyhow!("{} is not a command component: {error}", path.display())
        })?;
    let mut store = Store::new(&engine, QuiverState::command(access, args)?);
    let command = pre.instantiate_async(&mut store).await?;
    Ok(command.wasi_cli_run().call_run(&mut store).await?)
}
