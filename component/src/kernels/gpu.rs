//! The GPU tier: [`select.wgsl`](select.wgsl) dispatched through the host's
//! `gpu` import, in chunks that fit the adapter's binding limit.

use super::cpu::RawColumn;
use super::keys::{Encoding, KeySet, Width};
use crate::error::{Error, Result};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, ToByteSlice};

/// The kernels' one WGSL source, passed unchanged to every host.
pub const SELECT_WGSL: &str = include_str!("select.wgsl");

/// Invocations per workgroup (`@workgroup_size` in the WGSL).
const WORKGROUP_SIZE: u64 = 64;

/// Largest storage binding used, whatever the adapter allows: well under
/// lavapipe's 128 MiB binding limit and wasmtime's default budget of 128 MiB
/// copied per host call (a dispatch passes all its buffers in one call), and
/// a bound on the memory one dispatch holds.
const MAX_BINDING_BYTES: u64 = 32 << 20;

/// The host's GPU adapter, as the engine sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Adapter {
    /// Adapter name as the driver reports it.
    pub name: String,
    /// Backend API ("vulkan", "metal", "dx12", "gl", "webgpu").
    pub backend: String,
    /// A software rasteriser (lavapipe, llvmpipe, SwiftShader).
    pub software: bool,
    /// Largest storage buffer binding, in bytes.
    pub max_binding_bytes: u64,
    /// Largest workgroup count per dispatch dimension.
    pub max_workgroups: u32,
}

/// How a storage buffer starts out.
#[derive(Debug, Clone)]
pub enum BufferInit {
    /// These bytes (a multiple of 4).
    Contents(Vec<u8>),
    /// This many zero bytes.
    Zeroed(u64),
}

/// One storage buffer of a dispatch, at `@binding(binding)` of group 0.
#[derive(Debug, Clone)]
pub struct StorageBuffer {
    /// Binding number.
    pub binding: u32,
    /// Initial contents.
    pub init: BufferInit,
    /// Whether the dispatch returns its contents.
    pub read_back: bool,
}

/// One compute dispatch.
#[derive(Debug, Clone)]
pub struct Dispatch {
    /// WGSL source.
    pub wgsl: &'static str,
    /// Entry point.
    pub entry_point: &'static str,
    /// Storage buffers.
    pub buffers: Vec<StorageBuffer>,
    /// Workgroup counts in x, y and z.
    pub workgroups: (u32, u32, u32),
}

/// A host's GPU: the `gpu` import in the component, absent in native tests.
pub trait Accelerator: Send {
    /// The adapter, or `None` when the host has none.
    fn adapter(&self) -> Option<Adapter>;
    /// Runs a dispatch and returns the read-back buffers in binding order.
    fn run(&self, dispatch: Dispatch) -> std::result::Result<Vec<Vec<u8>>, String>;
}

/// The selection bits of `column` for `set`, ANDed with `validity`, computed
/// on the GPU. Identical to the CPU tiers' answer.
pub fn select(
    accelerator: &dyn Accelerator,
    adapter: &Adapter,
    column: RawColumn<'_>,
    encoding: Encoding,
    set: &KeySet,
    validity: Option<&NullBuffer>,
) -> Result<BooleanBuffer> {
    let (width, bytes) = match column {
        RawColumn::W32(values) => (Width::W32, values.to_byte_slice()),
        RawColumn::W64(values) => (Width::W64, values.to_byte_slice()),
    };
    let rows = column.len();
    let validity = validity.map(|nulls| nulls.inner().sliced());
    let binding_limit = adapter.max_binding_bytes.min(MAX_BINDING_BYTES);
    let chunk_rows = (binding_limit / width.bytes() as u64 / 32 * 32).max(32) as usize;
    let intervals = interval_words(set, width);
    let mut selection: Vec<u8> = Vec::with_capacity(rows.div_ceil(32) * 4);
    for start in (0..rows).step_by(chunk_rows) {
        let end = (start + chunk_rows).min(rows);
        let chunk = &bytes[start * width.bytes()..end * width.bytes()];
        let validity_bytes = validity
            .as_ref()
            .map(|bits| padded(&bits.as_slice()[start / 8..end.div_ceil(8)]));
        let dispatch = chunk_dispatch(
            adapter,
            width,
            encoding,
            chunk,
            end - start,
            &intervals,
            validity_bytes,
        )?;
        let mut read = accelerator.run(dispatch).map_err(Error::Gpu)?;
        let words = read
            .pop()
            .filter(|words| words.len() == (end - start).div_ceil(32) * 4);
        let words = words.ok_or_else(|| Error::Gpu("the GPU returned a short selection".into()))?;
        selection.extend_from_slice(&words);
    }
    Ok(BooleanBuffer::new(Buffer::from_vec(selection), 0, rows))
}

/// The dispatch for one chunk of rows (a multiple of 32 rows from the start).
fn chunk_dispatch(
    adapter: &Adapter,
    width: Width,
    encoding: Encoding,
    values: &[u8],
    rows: usize,
    intervals: &[u8],
    validity: Option<Vec<u8>>,
) -> Result<Dispatch> {
    let words = rows.div_ceil(32) as u64;
    let groups = words.div_ceil(WORKGROUP_SIZE);
    let x = groups.min(u64::from(adapter.max_workgroups)).max(1);
    let y = groups.div_ceil(x).max(1);
    let too_big = || {
        Error::Gpu(format!(
            "{rows} rows need more workgroups than the adapter allows"
        ))
    };
    let y = u32::try_from(y)
        .ok()
        .filter(|y| *y <= adapter.max_workgroups)
        .ok_or_else(too_big)?;
    let x = x as u32;
    let params = [
        rows as u32,
        (intervals.len() / (2 * width.bytes())) as u32,
        match encoding {
            Encoding::Unsigned => 0,
            Encoding::Signed => 1,
            Encoding::Float => 2,
        },
        u32::from(validity.is_some()),
        x * WORKGROUP_SIZE as u32,
    ];
    let buffer = |binding: u32, bytes: Vec<u8>| StorageBuffer {
        binding,
        init: BufferInit::Contents(bytes),
        read_back: false,
    };
    let placeholder = || vec![0u8; 4];
    Ok(Dispatch {
        wgsl: SELECT_WGSL,
        entry_point: match width {
            Width::W32 => "select32",
            Width::W64 => "select64",
        },
        buffers: vec![
            buffer(0, params.to_byte_slice().to_vec()),
            buffer(1, values.to_vec()),
            buffer(
                2,
                if intervals.is_empty() {
                    placeholder()
                } else {
                    intervals.to_vec()
                },
            ),
            buffer(3, validity.unwrap_or_else(placeholder)),
            StorageBuffer {
                binding: 4,
                init: BufferInit::Zeroed(words * 4),
                read_back: true,
            },
        ],
        workgroups: (x, y, 1),
    })
}

/// The set's intervals as the WGSL reads them: (low, high) per interval, each
/// key one u32 or a (low word, high word) pair.
fn interval_words(set: &KeySet, width: Width) -> Vec<u8> {
    let mut words: Vec<u32> = Vec::new();
    for &(low, high) in set.ranges() {
        match width {
            Width::W32 => words.extend([low as u32, high as u32]),
            Width::W64 => words.extend([
                low as u32,
                (low >> 32) as u32,
                high as u32,
                (high >> 32) as u32,
            ]),
        }
    }
    words.to_byte_slice().to_vec()
}

/// Bytes padded with zeros to a whole number of u32 words.
fn padded(bytes: &[u8]) -> Vec<u8> {
    let mut padded = bytes.to_vec();
    padded.resize(bytes.len().div_ceil(4) * 4, 0);
    padded
}
