//! Loading the engine component (compiled once, then cached on disk) and
//! instantiating it with the host's capabilities.

use crate::access::FileAccess;
use crate::bindings::{Engine as EngineWorld, EnginePre};
use crate::disk::{cache_home, short_digest, write_whole};
use crate::host::cache::DiskRangeCache;
use crate::state::QuiverState;
use anyhow::{Context, Result};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};

/// Which build of the engine component to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    /// `quiver-engine.wasm`, built with SIMD128 (wasmtime always runs it).
    Simd,
    /// `quiver-engine-scalar.wasm`, built without SIMD128.
    Scalar,
}

impl Build {
    /// File name of the build next to the `quiver` binary.
    pub fn file_name(self) -> &'static str {
        match self {
            Build::Simd => "quiver-engine.wasm",
            Build::Scalar => "quiver-engine-scalar.wasm",
        }
    }

    /// Environment variable that overrides where the build is found.
    pub fn env_var(self) -> &'static str {
        match self {
            Build::Simd => "QUIVER_ENGINE_WASM",
            Build::Scalar => "QUIVER_ENGINE_SCALAR_WASM",
        }
    }
}

/// A compiled engine component, ready to instantiate many times.
pub struct Runtime {
    engine: Engine,
    pre: EnginePre<QuiverState>,
    range_cache: Option<Arc<DiskRangeCache>>,
}

/// One engine instance and its store.
pub struct Session {
    /// The store holding the instance's state.
    pub store: Store<QuiverState>,
    /// The instance's exports.
    pub engine: EngineWorld,
    /// What it may read (kept for as long as the instance lives).
    _access: FileAccess,
}

impl Session {
    /// The largest size the instance's linear memory has had, in bytes.
    pub fn peak_memory_bytes(&self) -> usize {
        self.store.data().memory.peak_bytes
    }
}

impl Runtime {
    /// Finds a build of the component: the path in its environment variable
    /// (`$QUIVER_ENGINE_WASM`, `$QUIVER_ENGINE_SCALAR_WASM`), else next to the
    /// running executable (where `make build` puts both).
    pub fn locate_component(build: Build) -> Result<PathBuf> {
        if let Some(path) = std::env::var_os(build.env_var()) {
            return Ok(PathBuf::from(path));
        }
        let exe = std::env::current_exe().context("cannot find the running executable")?;
        let beside = exe.with_file_name(build.file_name());
        anyhow::ensure!(
            beside.exists(),
            "the engine component {} is missing: run `make build`, or set {}",
            beside.display(),
            build.env_var()
        );
        Ok(beside)
    }

    /// Loads the component at `path`, compiling it only when no cached
    /// compilation for these exact bytes and this wasmtime exists, for up to
    /// [`Runtime::DEFAULT_INSTANCES`] live instances.
    pub fn load(path: &Path) -> Result<Self> {
        Self::load_for(path, Self::DEFAULT_INSTANCES)
    }

    /// Live instances [`Runtime::load`] makes room for.
    pub const DEFAULT_INSTANCES: u32 = 4;

    /// Loads the component at `path` for up to `instances` live instances
    /// at once: their memories, tables and stacks come from one pool
    /// reserved up front (wasmtime's pooling allocator), so starting one is
    /// cheap.
    pub fn load_for(path: &Path, instances: u32) -> Result<Self> {
        let instances = instances.max(1);
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(instances)
            // The engine instantiates three core modules; each has one
            // memory (two of them none) and one table.
            .total_core_instances(instances * 4)
            .total_memories(instances * 2)
            .total_tables(instances * 4)
            .total_stacks(instances)
            .max_memory_size(1 << 32);
        let mut config = Config::new();
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config)?;
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let component = load_cached(&engine, &bytes)?;
        let linker = capabilities(&engine)?;
        let pre = EnginePre::new(linker.instantiate_pre(&component)?)?;
        Ok(Self {
            engine,
            pre,
            range_cache: None,
        })
    }

    /// Gives every instance made from now on `cache` as its `range-cache`
    /// (`None`, the default: a cache that keeps nothing).
    pub fn set_range_cache(&mut self, cache: Option<Arc<DiskRangeCache>>) {
        self.range_cache = cache;
    }

    /// A fresh instance that can read files in `directories` (and the network).
    pub async fn session(&self, directories: &[PathBuf]) -> Result<Session> {
        self.session_with(FileAccess::directories(directories)?, None)
            .await
    }

    /// A fresh instance that can read what `access` allows (and the network),
    /// whose linear memory may grow to `memory_limit` bytes: asking for more
    /// stops it with [`crate::state::MemoryLimitExceeded`].
    pub async fn session_with(
        &self,
        access: FileAccess,
        memory_limit: Option<usize>,
    ) -> Result<Session> {
        let mut state = QuiverState::new(&access, memory_limit)?;
        state.range_cache = self.range_cache.clone();
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.memory);
        let engine = self.pre.instantiate_async(&mut store).await?;
        Ok(Session {
            store,
            engine,
            _access: access,
        })
    }
}

/// A linker with what the host offers a component: WASI 0.2, `wasi:http`,
/// and the `gpu` and `range-cache` interfaces.
pub(crate) fn capabilities(engine: &Engine) -> Result<Linker<QuiverState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    crate::bindings::quiver::engine::gpu::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| {
        state
    })?;
    crate::bindings::quiver::engine::range_cache::add_to_linker::<_, HasSelf<_>>(
        &mut linker,
        |state| state,
    )?;
    Ok(linker)
}

/// The compiled component from the cache, or compiled now and cached.
pub(crate) fn load_cached(engine: &Engine, wasm: &[u8]) -> Result<Component> {
    let Some(path) = cache_path(engine, wasm) else {
        return Ok(Component::new(engine, wasm)?);
    };
    if path.exists() {
        // SAFETY: the file was written by `Component::serialize` of this very
        // wasmtime for these bytes (the name hashes both); wasmtime checks the
        // header and we recompile on any error.
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
            return Ok(component);
        }
    }
    let component = Component::new(engine, wasm)?;
    if let (Some(dir), Ok(serialized)) = (path.parent(), component.serialize()) {
        // A cache that cannot be written only costs speed next time.
        if std::fs::create_dir_all(dir).is_ok() {
            let _ = write_whole(&path, &serialized);
        }
    }
    Ok(component)
}

/// `$XDG_CACHE_HOME/quiver/` (or `~/.cache/quiver/`), with a file name that
/// hashes the component bytes and the engine's compatibility settings.
fn cache_path(engine: &Engine, wasm: &[u8]) -> Option<PathBuf> {
    let mut compatibility = std::collections::hash_map::DefaultHasher::new();
    engine
        .precompile_compatibility_hash()
        .hash(&mut compatibility);
    let name = short_digest(wasm);
    Some(cache_home()?.join(format!(
        "engine-{name}-{:016x}.cwasm",
        compatibility.finish()
    )))
}
