//! `make bench-kernels`: rows per second of the filter kernels on each tier.
//!
//! For each column type and predicate shape, one batch of `--rows` random
//! values is filtered by: the scalar build, the SIMD build and the GPU tier
//! (under wasmtime, through the `filter.evaluate` export), and the same engine
//! core compiled natively (linked here as a library). Times are the kernels'
//! own, as their reports measure them (upload, dispatch and read-back
//! included for the GPU), best of five runs. Then the GPU crossover: the
//! smallest batch on which the GPU beats SIMD.
//!
//! Usage: `bench-kernels [--rows N]`; prints a Markdown table.

use arrow_array::{ArrayRef, Float32Array, Float64Array, Int32Array, Int64Array, RecordBatch};
use quiver_host::bindings::filter::{ComputePreference, Selection};
use quiver_host::runtime::{Build, Runtime, Session};
use std::sync::Arc;

const RUNS: usize = 5;

/// (column type, predicate) pairs; the column is always `x`.
const CASES: [(&str, &str); 12] = [
    ("int32", "x > 100"),
    ("int32", "x BETWEEN -500 AND 500"),
    ("int32", "x IN (1, 5, 9, 13, 17, 21, 25, 29)"),
    ("int64", "x > 100"),
    ("int64", "x BETWEEN -500 AND 500"),
    ("int64", "x IN (1, 5, 9, 13, 17, 21, 25, 29)"),
    ("float32", "x > 1.5"),
    ("float32", "x BETWEEN -50.5 AND 50.5"),
    ("float32", "x IN (1, 5, 9, 13, 17, 21, 25, 29)"),
    ("float64", "x > 1.5"),
    ("float64", "x BETWEEN -50.5 AND 50.5"),
    ("float64", "x IN (1, 5, 9, 13, 17, 21, 25, 29)"),
];

fn column(kind: &str, rows: usize) -> ArrayRef {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 2001) as i64 - 1000
    };
    let values: Vec<i64> = (0..rows).map(|_| next()).collect();
    match kind {
        "int32" => Arc::new(Int32Array::from_iter_values(
            values.iter().map(|&v| v as i32),
        )),
        "int64" => Arc::new(Int64Array::from_iter_values(values)),
        "float32" => Arc::new(Float32Array::from_iter_values(
            values.iter().map(|&v| v as f32 / 4.0),
        )),
        _ => Arc::new(Float64Array::from_iter_values(
            values.iter().map(|&v| v as f64 / 4.0),
        )),
    }
}

fn batch(kind: &str, rows: usize) -> RecordBatch {
    RecordBatch::try_from_iter([("x", column(kind, rows))]).unwrap()
}

fn ipc(batch: &RecordBatch) -> Vec<u8> {
    let mut writer = arrow_ipc::writer::StreamWriter::try_new(Vec::new(), &batch.schema()).unwrap();
    writer.write(batch).unwrap();
    writer.finish().unwrap();
    writer.into_inner().unwrap()
}

async fn session(build: Build) -> Session {
    let path = Runtime::locate_component(build).unwrap();
    Runtime::load(&path).unwrap().session(&[]).await.unwrap()
}

/// Kernel nanoseconds of one evaluation in the component, or the error.
async fn component_nanos(
    session: &mut Session,
    sql: &str,
    bytes: &[u8],
    compute: ComputePreference,
) -> Result<u64, String> {
    let filter = session.engine.quiver_engine_filter();
    let expr = filter
        .call_parse(&mut session.store, sql)
        .await
        .unwrap()
        .unwrap();
    let selection: Selection = filter
        .call_evaluate(&mut session.store, &expr, bytes, compute)
        .await
        .unwrap()
        .map_err(|error| format!("{error:?}"))?;
    Ok(selection.kernels.iter().map(|kernel| kernel.nanos).sum())
}

/// Best of [`RUNS`] component evaluations.
async fn best_component(
    session: &mut Session,
    sql: &str,
    bytes: &[u8],
    compute: ComputePreference,
) -> Option<u64> {
    let mut best = None;
    for _ in 0..RUNS {
        let nanos = component_nanos(session, sql, bytes, compute).await.ok()?;
        best = Some(best.map_or(nanos, |b: u64| b.min(nanos)));
    }
    best
}

/// Best of [`RUNS`] native evaluations of the same engine core.
fn best_native(sql: &str, batch: &RecordBatch) -> u64 {
    let predicate = quiver_engine::filter::bind(
        &quiver_engine::filter::parse_where(sql).unwrap(),
        &batch.schema(),
    )
    .unwrap();
    (0..RUNS)
        .map(|_| {
            let mut compute = quiver_engine::kernels::Compute::cpu();
            predicate.select_on(batch, &mut compute).unwrap();
            compute
                .reports()
                .iter()
                .map(|report| report.nanos)
                .sum::<u64>()
        })
        .min()
        .unwrap()
}

fn mrows(rows: usize, nanos: Option<u64>) -> String {
    nanos.map_or("n/a".into(), |n| {
        format!("{:.0}", rows as f64 / n.max(1) as f64 * 1e3)
    })
}

fn ratio(numerator: Option<u64>, denominator: Option<u64>) -> String {
    match (numerator, denominator) {
        (Some(n), Some(d)) => format!("{:.2}×", n as f64 / d.max(1) as f64),
        _ => "n/a".into(),
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rows: usize = args
        .iter()
        .position(|arg| arg == "--rows")
        .and_then(|i| args.get(i + 1))
        .map_or(1 << 22, |n| n.parse().expect("--rows takes a number"));
    let mut simd = session(Build::Simd).await;
    let mut scalar = session(Build::Scalar).await;
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l[l.find(':').map_or(0, |i| i + 2)..].to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let adapter = quiver_host::host::gpu::describe_adapter();
    println!(
        "CPU: {cpu}; GPU adapter: {}; {rows} rows per batch, best of {RUNS}\n",
        adapter.as_deref().unwrap_or("none")
    );
    println!(
        "| column | predicate | scalar Mrows/s | SIMD Mrows/s | SIMD ÷ scalar | native Mrows/s | wasm scalar ÷ native (time) | wasm SIMD ÷ native (time) | GPU Mrows/s |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for (kind, sql) in CASES {
        let batch = batch(kind, rows);
        let bytes = ipc(&batch);
        let on_scalar = best_component(&mut scalar, sql, &bytes, ComputePreference::Scalar).await;
        let on_simd = best_component(&mut simd, sql, &bytes, ComputePreference::Simd).await;
        let on_gpu = best_component(&mut simd, sql, &bytes, ComputePreference::Gpu).await;
        let native = Some(best_native(sql, &batch));
        println!(
            "| {kind} | `{sql}` | {} | {} | {} | {} | {} | {} | {} |",
            mrows(rows, on_scalar),
            mrows(rows, on_simd),
            ratio(on_scalar, on_simd),
            mrows(rows, native),
            ratio(on_scalar, native),
            ratio(on_simd, native),
            mrows(rows, on_gpu),
        );
    }
    println!("\nGPU crossover (int32 `x > 100`): SIMD vs GPU time per batch size");
    println!("\n| rows | SIMD µs | GPU µs |\n|---:|---:|---:|");
    let mut crossover = None;
    for shift in (10..=24).step_by(2) {
        let size = 1usize << shift;
        let bytes = ipc(&batch("int32", size));
        let on_simd = best_component(&mut simd, "x > 100", &bytes, ComputePreference::Simd).await;
        let on_gpu = best_component(&mut simd, "x > 100", &bytes, ComputePreference::Gpu).await;
        let micros = |n: Option<u64>| n.map_or("n/a".into(), |n| format!("{:.1}", n as f64 / 1e3));
        println!("| {size} | {} | {} |", micros(on_simd), micros(on_gpu));
        if let (None, Some(s), Some(g)) = (crossover, on_simd, on_gpu)
            && g < s
        {
            crossover = Some(size);
        }
    }
    match crossover {
        Some(size) => println!("\nThe GPU first beats SIMD at {size} rows."),
        None => println!(
            "\nThe GPU never beats SIMD up to {} rows on this adapter.",
            1 << 24
        ),
    }
}
