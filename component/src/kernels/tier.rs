//! Choosing a tier for each kernel call, and the report of what ran where.
//!
//! `auto` takes the GPU only where a cost model says it wins: a kernel costs
//! the CPU `rows × cpu_ns_per_row` and the GPU `fixed_ns + bytes ×
//! gpu_ns_per_byte` (upload, dispatch and read-back included). The three
//! figures are measured once per adapter, on the first `auto` decision that
//! needs them, by timing this build's CPU loop and two dispatches, and are
//! remembered for the life of the instance. Batches under
//! [`MIN_GPU_ROWS`] never reach the model (so a scan with the default batch
//! size never pays for calibration), and a software adapter is never chosen
//! by `auto`: it is for checking the GPU path, not for speed.

use super::cpu::{self, RawColumn};
use super::gpu::{self, Accelerator, Adapter};
use super::keys::{Encoding, KeySet};
use crate::error::{Error, Result};
use arrow_buffer::{BooleanBuffer, NullBuffer};
use arrow_schema::DataType;
use std::sync::Mutex;
use std::time::Instant;

/// Rows below which `auto` keeps a kernel on the CPU without asking the cost
/// model: a GPU dispatch costs more than SIMD code takes for them (about
/// 180 µs against 22 µs for 65,536 int32 rows on an H200 and a Xeon).
pub const MIN_GPU_ROWS: usize = 1 << 16;

/// Where a kernel runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// WGSL on the host's GPU.
    Gpu,
    /// wasm SIMD128 code.
    Simd,
    /// Scalar code.
    Scalar,
}

impl Tier {
    /// The CPU tier this build runs: SIMD in the `+simd128` build.
    pub const CPU: Tier = if cfg!(target_feature = "simd128") {
        Tier::Simd
    } else {
        Tier::Scalar
    };
}

/// Which tier the caller asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Preference {
    /// The GPU where the cost model says it wins, else this build's CPU tier.
    #[default]
    Auto,
    /// Always the GPU.
    Gpu,
    /// SIMD128 (the SIMD build only).
    Simd,
    /// Scalar code (the scalar build only).
    Scalar,
}

/// How one predicate was evaluated, summed over the batches that took the
/// same tier for the same reason.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelReport {
    /// The predicate as SQL.
    pub predicate: String,
    /// The column's Arrow type.
    pub column_type: String,
    /// Where it ran.
    pub tier: Tier,
    /// Why there.
    pub reason: String,
    /// Batches evaluated.
    pub batches: u64,
    /// Rows evaluated.
    pub rows: u64,
    /// Time spent in the kernel, in nanoseconds.
    pub nanos: u64,
}

/// One kernel call: a predicate on one column of one batch.
pub struct KernelCall<'a> {
    /// The predicate as SQL, for the report.
    pub predicate: &'a str,
    /// The column's Arrow type, for the report.
    pub column_type: &'a DataType,
    /// The column's raw bits.
    pub column: RawColumn<'a>,
    /// How the bits map to keys.
    pub encoding: Encoding,
    /// The keys that satisfy the predicate.
    pub set: &'a KeySet,
    /// The column's null mask.
    pub validity: Option<&'a NullBuffer>,
}

/// The tiers a scan or an evaluation may use, and what they did.
pub struct Compute {
    preference: Preference,
    accelerator: Option<Box<dyn Accelerator>>,
    /// The host's adapter, asked once, when first needed.
    adapter: Option<Option<Adapter>>,
    reports: Vec<KernelReport>,
}

impl Compute {
    /// Tiers for `preference`, with the host's GPU if it has one. Asking for
    /// the CPU tier this build lacks is an error: hosts load the scalar build
    /// for `scalar` and the SIMD build otherwise.
    pub fn new(preference: Preference, accelerator: Option<Box<dyn Accelerator>>) -> Result<Self> {
        let missing = match (preference, Tier::CPU) {
            (Preference::Simd, Tier::Scalar) => Some("simd"),
            (Preference::Scalar, Tier::Simd) => Some("scalar"),
            _ => None,
        };
        if let Some(tier) = missing {
            return Err(Error::Unsupported(format!(
                "the {tier} tier is in the other build of the engine ({}); load that build",
                if tier == "simd" {
                    "quiver-engine.wasm"
                } else {
                    "quiver-engine-scalar.wasm"
                }
            )));
        }
        Ok(Self {
            preference,
            accelerator,
            adapter: None,
            reports: Vec::new(),
        })
    }

    /// This build's CPU tier only.
    pub fn cpu() -> Self {
        Self {
            preference: Preference::Auto,
            accelerator: None,
            adapter: Some(None),
            reports: Vec::new(),
        }
    }

    /// The adapter as "name (backend)", if a kernel has asked the host.
    pub fn adapter_name(&self) -> Option<String> {
        let adapter = self.adapter.as_ref()?.as_ref()?;
        Some(format!("{} ({})", adapter.name, adapter.backend))
    }

    /// What ran where so far.
    pub fn reports(&self) -> &[KernelReport] {
        &self.reports
    }

    /// The selection bits of one kernel call, NULL rows cleared.
    pub fn run(&mut self, call: &KernelCall<'_>) -> Result<BooleanBuffer> {
        let (tier, reason) = self.choose(call)?;
        let start = Instant::now();
        let (bits, tier, reason) = match tier {
            Tier::Gpu => match self.run_gpu(call) {
                Ok(bits) => (bits, tier, reason),
                Err(error) if self.preference == Preference::Auto => (
                    run_cpu(call),
                    Tier::CPU,
                    format!("auto: the GPU failed ({error}); ran on the CPU"),
                ),
                Err(error) => return Err(error),
            },
            cpu_tier => (run_cpu(call), cpu_tier, reason),
        };
        let nanos = start.elapsed().as_nanos() as u64;
        self.record(call, tier, reason, nanos);
        Ok(bits)
    }

    fn choose(&mut self, call: &KernelCall<'_>) -> Result<(Tier, String)> {
        match self.preference {
            Preference::Simd | Preference::Scalar => Ok((Tier::CPU, "requested".into())),
            Preference::Gpu => match self.adapter() {
                Some(adapter) => Ok((Tier::Gpu, format!("requested; adapter {}", adapter.name))),
                None => Err(Error::Gpu(
                    "the GPU tier was requested, but the host offers no GPU adapter".into(),
                )),
            },
            Preference::Auto => {
                if call.column.len() < MIN_GPU_ROWS {
                    return Ok((
                        Tier::CPU,
                        format!("auto: batches under {MIN_GPU_ROWS} rows stay on the CPU"),
                    ));
                }
                let Some(adapter) = self.adapter() else {
                    return Ok((Tier::CPU, "auto: the host offers no GPU adapter".into()));
                };
                if adapter.software {
                    return Ok((
                        Tier::CPU,
                        format!("auto: {} is a software adapter, never chosen", adapter.name),
                    ));
                }
                let model = self.cost_model(&adapter)?;
                let bytes = call.column.len() as f64 * call.column.width().bytes() as f64;
                let gpu_ns = model.fixed_ns + bytes * model.gpu_ns_per_byte;
                let cpu_ns = call.column.len() as f64 * model.cpu_ns_per_row;
                let crossover = model.crossover_rows(call.column.width().bytes());
                Ok(if gpu_ns < cpu_ns {
                    (
                        Tier::Gpu,
                        format!(
                            "auto: above the GPU crossover ({crossover}) on {}",
                            adapter.name
                        ),
                    )
                } else {
                    (
                        Tier::CPU,
                        format!(
                            "auto: below the GPU crossover ({crossover}) on {}",
                            adapter.name
                        ),
                    )
                })
            }
        }
    }

    fn adapter(&mut self) -> Option<Adapter> {
        let accelerator = &self.accelerator;
        self.adapter
            .get_or_insert_with(|| accelerator.as_ref().and_then(|gpu| gpu.adapter()))
            .clone()
    }

    fn run_gpu(&mut self, call: &KernelCall<'_>) -> Result<BooleanBuffer> {
        let adapter = self
            .adapter()
            .ok_or_else(|| Error::Gpu("the host offers no GPU adapter".into()))?;
        let accelerator = self
            .accelerator
            .as_deref()
            .ok_or_else(|| Error::Gpu("the host offers no GPU".into()))?;
        gpu::select(
            accelerator,
            &adapter,
            call.column,
            call.encoding,
            call.set,
            call.validity,
        )
    }

    /// The adapter's measured costs, measured now if this is the first time.
    fn cost_model(&self, adapter: &Adapter) -> Result<CostModel> {
        static MODELS: Mutex<Vec<(String, CostModel)>> = Mutex::new(Vec::new());
        let mut models = MODELS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, model)) = models.iter().find(|(name, _)| *name == adapter.name) {
            return Ok(*model);
        }
        let accelerator = self
            .accelerator
            .as_deref()
            .ok_or_else(|| Error::Gpu("the host offers no GPU".into()))?;
        let model = CostModel::measure(accelerator, adapter)?;
        models.push((adapter.name.clone(), model));
        Ok(model)
    }

    fn record(&mut self, call: &KernelCall<'_>, tier: Tier, reason: String, nanos: u64) {
        let rows = call.column.len() as u64;
        let same = self.reports.iter_mut().find(|report| {
            report.predicate == call.predicate && report.tier == tier && report.reason == reason
        });
        match same {
            Some(report) => {
                report.batches += 1;
                report.rows += rows;
                report.nanos += nanos;
            }
            None => self.reports.push(KernelReport {
                predicate: call.predicate.to_owned(),
                column_type: call.column_type.to_string(),
                tier,
                reason,
                batches: 1,
                rows,
                nanos,
            }),
        }
    }
}

/// The CPU tier's bits, NULL rows cleared.
fn run_cpu(call: &KernelCall<'_>) -> BooleanBuffer {
    let bits = cpu::select(call.column, call.encoding, call.set);
    match call.validity {
        Some(nulls) => &bits & nulls.inner(),
        None => bits,
    }
}

/// Measured costs of the GPU and of this build's CPU loop on one adapter.
#[derive(Debug, Clone, Copy)]
struct CostModel {
    /// Upload, dispatch and read-back of a tiny kernel.
    fixed_ns: f64,
    /// Each further byte of column data on the GPU.
    gpu_ns_per_byte: f64,
    /// Each row on the CPU (32-bit values, one interval).
    cpu_ns_per_row: f64,
}

impl CostModel {
    /// Rows of calibration data: large enough for the per-byte cost to
    /// dominate a discrete GPU's fixed cost.
    const CALIBRATION_ROWS: usize = 1 << 22;

    fn measure(accelerator: &dyn Accelerator, adapter: &Adapter) -> Result<Self> {
        let values: Vec<u32> = (0..Self::CALIBRATION_ROWS as u32)
            .map(|i| i.wrapping_mul(2_654_435_761))
            .collect();
        let set = KeySet::interval(1 << 30, 3 << 30);
        let time_gpu = |rows: usize| -> Result<f64> {
            let column = RawColumn::W32(&values[..rows]);
            let start = Instant::now();
            gpu::select(accelerator, adapter, column, Encoding::Unsigned, &set, None)?;
            Ok(start.elapsed().as_nanos() as f64)
        };
        time_gpu(32)?; // compiles the pipeline
        let fixed_ns = time_gpu(32)?.min(time_gpu(32)?);
        let big_ns = time_gpu(values.len())?;
        let start = Instant::now();
        let bits = cpu::select(RawColumn::W32(&values), Encoding::Unsigned, &set);
        let cpu_ns = start.elapsed().as_nanos() as f64;
        std::hint::black_box(bits);
        let bytes = (values.len() * 4) as f64;
        Ok(Self {
            fixed_ns,
            gpu_ns_per_byte: ((big_ns - fixed_ns) / bytes).max(0.0),
            cpu_ns_per_row: cpu_ns / values.len() as f64,
        })
    }

    /// Where the GPU starts to win for values of `bytes_per_row`, in words.
    fn crossover_rows(&self, bytes_per_row: usize) -> String {
        let saving = self.cpu_ns_per_row - self.gpu_ns_per_byte * bytes_per_row as f64;
        if saving <= 0.0 {
            "never: the CPU is faster per row".into()
        } else {
            format!("~{} rows", (self.fixed_ns / saving).ceil() as u64)
        }
    }
}
