//! The host's `gpu` import as the kernels' [`Accelerator`], and the WIT forms
//! of tier preferences and kernel reports.

use crate::bindings::exports::quiver::engine::filter::{
    ComputePreference, ComputeTier, KernelReport as WitKernelReport,
};
use crate::bindings::quiver::engine::gpu;
use crate::error::Result;
use crate::kernels::gpu::{Accelerator, Adapter, BufferInit, Dispatch};
use crate::kernels::{Compute, KernelReport, Preference, Tier};

/// The `gpu` interface the host provides.
struct HostGpu;

impl Accelerator for HostGpu {
    fn adapter(&self) -> Option<Adapter> {
        gpu::adapter().map(|info| Adapter {
            software: info.kind == gpu::DeviceKind::Cpu,
            name: info.name,
            backend: info.backend,
            max_binding_bytes: info.max_storage_buffer_binding_size,
            max_workgroups: info.max_compute_workgroups_per_dimension,
        })
    }

    fn run(&self, dispatch: Dispatch) -> std::result::Result<Vec<Vec<u8>>, String> {
        let pass = gpu::ComputePass {
            wgsl: dispatch.wgsl.to_owned(),
            entry_point: dispatch.entry_point.to_owned(),
            buffers: dispatch
                .buffers
                .into_iter()
                .map(|buffer| gpu::StorageBuffer {
                    binding: buffer.binding,
                    init: match buffer.init {
                        BufferInit::Contents(bytes) => gpu::BufferInit::Contents(bytes),
                        BufferInit::Zeroed(size) => gpu::BufferInit::Zeroed(size),
                    },
                    read_back: buffer.read_back,
                })
                .collect(),
            workgroups: dispatch.workgroups,
        };
        gpu::run(&pass).map_err(|error| match error {
            gpu::GpuError::NoAdapter => "the host has no GPU adapter".to_owned(),
            gpu::GpuError::Shader(message) => format!("the kernel did not compile: {message}"),
            gpu::GpuError::LimitExceeded(message) => {
                format!("beyond the adapter's limits: {message}")
            }
            gpu::GpuError::Device(message) => format!("the device failed: {message}"),
        })
    }
}

/// Kernel tiers for `preference`, with the host's GPU.
pub(super) fn compute(preference: Option<ComputePreference>) -> Result<Compute> {
    let preference = match preference.unwrap_or(ComputePreference::Auto) {
        ComputePreference::Auto => Preference::Auto,
        ComputePreference::Gpu => Preference::Gpu,
        ComputePreference::Simd => Preference::Simd,
        ComputePreference::Scalar => Preference::Scalar,
    };
    Compute::new(preference, Some(Box::new(HostGpu)))
}

/// The WIT form of kernel reports.
pub(super) fn wit_reports(reports: &[KernelReport]) -> Vec<WitKernelReport> {
    reports
        .iter()
        .map(|report| WitKernelReport {
            predicate: report.predicate.clone(),
            column_type: report.column_type.clone(),
            tier: match report.tier {
                Tier::Gpu => ComputeTier::Gpu,
                Tier::Simd => ComputeTier::Simd,
                Tier::Scalar => ComputeTier::Scalar,
            },
            reason: report.reason.clone(),
            batches: report.batches,
            rows: report.rows,
            nanos: report.nanos,
        })
        .collect()
}
