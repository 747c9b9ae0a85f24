//! Implementation of the `quiver:engine/gpu` interface with `wgpu`.
//!
//! Mechanism only: the engine passes WGSL, buffers and workgroup counts; this
//! host compiles the shader (once per source and entry point), binds the
//! buffers, dispatches and reads back. It knows nothing of Parquet or filters.
//!
//! The adapter is whatever `wgpu` picks for high performance on the Vulkan,
//! Metal, DX12 or GL backends (`WGPU_BACKEND` and `WGPU_ADAPTER_NAME` choose
//! another); set `QUIVER_GPU=off` to offer none. The adapter is found on the
//! engine's first `adapter()` call, on the calling thread: a driver still
//! starting on another thread when the process exits can corrupt its heap.

use crate::bindings::quiver::engine::gpu::{
    AdapterInfo, BufferInit, ComputePass, DeviceKind, GpuError, Host,
};
use crate::state::QuiverState;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use wgpu::util::DeviceExt;

/// Environment variable that hides the GPU from the engine when set to `off`.
pub const GPU_ENV: &str = "QUIVER_GPU";

impl Host for QuiverState {
    fn adapter(&mut self) -> wasmtime::Result<Option<AdapterInfo>> {
        Ok(device().map(|gpu| gpu.info.clone()))
    }

    fn run(&mut self, pass: ComputePass) -> wasmtime::Result<Result<Vec<Vec<u8>>, GpuError>> {
        Ok(match device() {
            Some(gpu) => gpu.run(&pass),
            None => Err(GpuError::NoAdapter),
        })
    }
}

/// The adapter as "name (backend, kind)", or `None` without one.
pub fn describe_adapter() -> Option<String> {
    device().map(|gpu| {
        let info = &gpu.info;
        format!("{} ({}, {:?})", info.name, info.backend, info.kind)
    })
}

/// The process's one device, found on first use.
fn device() -> Option<&'static Gpu> {
    static DEVICE: OnceLock<Option<Gpu>> = OnceLock::new();
    DEVICE
        .get_or_init(|| {
            if std::env::var(GPU_ENV).is_ok_and(|value| value.eq_ignore_ascii_case("off")) {
                return None;
            }
            pollster::block_on(Gpu::open())
        })
        .as_ref()
}

/// A compiled pipeline, keyed by (WGSL source, entry point).
type PipelineCache = HashMap<(Arc<str>, String), wgpu::ComputePipeline>;

/// An open device and the pipelines compiled on it.
struct Gpu {
    info: AdapterInfo,
    device: wgpu::Device,
    queue: wgpu::Queue,
    pipelines: Mutex<PipelineCache>,
}

impl Gpu {
    /// Opens the preferred adapter with its own limits, or `None` when there
    /// is no adapter or it cannot make a device.
    async fn open() -> Option<Self> {
        let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle();
        descriptor.backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::PRIMARY);
        let instance = wgpu::Instance::new(descriptor);
        let adapter = wgpu::util::initialize_adapter_from_env_or_default(&instance, None)
            .await
            .ok()?;
        let limits = adapter.limits();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("quiver"),
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .ok()?;
        let details = adapter.get_info();
        let info = AdapterInfo {
            name: details.name.clone(),
            backend: details.backend.to_str().to_owned(),
            kind: match details.device_type {
                wgpu::DeviceType::DiscreteGpu => DeviceKind::Discrete,
                wgpu::DeviceType::IntegratedGpu => DeviceKind::Integrated,
                wgpu::DeviceType::VirtualGpu => DeviceKind::VirtualGpu,
                wgpu::DeviceType::Cpu => DeviceKind::Cpu,
                wgpu::DeviceType::Other => DeviceKind::Other,
            },
            max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
            max_compute_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
        };
        Some(Self {
            info,
            device,
            queue,
            pipelines: Mutex::new(HashMap::new()),
        })
    }

    /// Runs one compute pass and returns the read-back buffers.
    fn run(&self, pass: &ComputePass) -> Result<Vec<Vec<u8>>, GpuError> {
        self.check_limits(pass)?;
        let pipeline = self.pipeline(&pass.wgsl, &pass.entry_point)?;
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let buffers: Vec<wgpu::Buffer> = pass
            .buffers
            .iter()
            .map(|buffer| self.storage_buffer(buffer.binding, &buffer.init))
            .collect();
        let entries: Vec<wgpu::BindGroupEntry> = pass
            .buffers
            .iter()
            .zip(&buffers)
            .map(|(spec, buffer)| wgpu::BindGroupEntry {
                binding: spec.binding,
                resource: buffer.as_entire_binding(),
            })
            .collect();
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
        {
            let mut compute = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            compute.set_pipeline(&pipeline);
            compute.set_bind_group(0, &bind_group, &[]);
            let (x, y, z) = pass.workgroups;
            compute.dispatch_workgroups(x, y, z);
        }
        let staging: Vec<wgpu::Buffer> = pass
            .buffers
            .iter()
            .zip(&buffers)
            .filter(|(spec, _)| spec.read_back)
            .map(|(_, buffer)| {
                let copy = self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("quiver read-back"),
                    size: buffer.size(),
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                encoder.copy_buffer_to_buffer(buffer, 0, &copy, 0, buffer.size());
                copy
            })
            .collect();
        self.queue.submit([encoder.finish()]);
        if let Some(error) = pollster::block_on(scope.pop()) {
            return Err(GpuError::Device(error.to_string()));
        }
        staging.iter().map(|buffer| self.read(buffer)).collect()
    }

    /// Refuses buffers and dispatches beyond the adapter's limits up front, as
    /// a typed error rather than a device-lost.
    fn check_limits(&self, pass: &ComputePass) -> Result<(), GpuError> {
        let largest = self.info.max_storage_buffer_binding_size;
        for buffer in &pass.buffers {
            let size = match &buffer.init {
                BufferInit::Contents(bytes) => bytes.len() as u64,
                BufferInit::Zeroed(size) => *size,
            };
            if size > largest {
                return Err(GpuError::LimitExceeded(format!(
                    "binding {} holds {size} bytes; the adapter binds at most {largest}",
                    buffer.binding
                )));
            }
            if size == 0 || size % 4 != 0 {
                return Err(GpuError::LimitExceeded(format!(
                    "binding {} holds {size} bytes, not a positive multiple of 4",
                    buffer.binding
                )));
            }
        }
        let (x, y, z) = pass.workgroups;
        let most = self.info.max_compute_workgroups_per_dimension;
        if x.max(y).max(z) > most {
            return Err(GpuError::LimitExceeded(format!(
                "dispatch of {x}×{y}×{z} workgroups; the adapter allows {most} per dimension"
            )));
        }
        Ok(())
    }

    /// The pipeline for `entry_point` of `wgsl`, compiled on first use.
    fn pipeline(&self, wgsl: &str, entry_point: &str) -> Result<wgpu::ComputePipeline, GpuError> {
        let mut cache = self.pipelines.lock().unwrap_or_else(|e| e.into_inner());
        let key = (Arc::<str>::from(wgsl), entry_point.to_owned());
        if let Some(pipeline) = cache.get(&key) {
            return Ok(pipeline.clone());
        }
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("quiver kernel"),
                source: wgpu::ShaderSource::Wgsl(wgsl.into()),
            });
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry_point),
                layout: None,
                module: &module,
                entry_point: Some(entry_point),
                compilation_options: Default::default(),
                cache: None,
            });
        if let Some(error) = pollster::block_on(scope.pop()) {
            return Err(GpuError::Shader(error.to_string()));
        }
        cache.insert(key, pipeline.clone());
        Ok(pipeline)
    }

    fn storage_buffer(&self, binding: u32, init: &BufferInit) -> wgpu::Buffer {
        let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
        let label = format!("quiver binding {binding}");
        match init {
            BufferInit::Contents(bytes) => {
                self.device
                    .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                        label: Some(&label),
                        contents: bytes,
                        usage,
                    })
            }
            BufferInit::Zeroed(size) => self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(&label),
                size: *size,
                usage,
                mapped_at_creation: false,
            }),
        }
    }

    /// Waits for the GPU and copies a mapped staging buffer out.
    fn read(&self, staging: &wgpu::Buffer) -> Result<Vec<u8>, GpuError> {
        let (sender, receiver) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |result| {
            let _ = sender.send(result);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|error| GpuError::Device(error.to_string()))?;
        receiver
            .recv()
            .map_err(|_| GpuError::Device("the read-back was abandoned".into()))?
            .map_err(|error| GpuError::Device(error.to_string()))?;
        let bytes = staging
            .slice(..)
            .get_mapped_range()
            .map_err(|error| GpuError::Device(error.to_string()))?
            .to_vec();
        staging.unmap();
        Ok(bytes)
    }
}
