//! Property test of the compute tiers: random columns (NULLs, NaNs, ±0.0,
//! ±inf, subnormals, integer extremes) and random predicates give the same
//! selection bits on the scalar build, the SIMD build and the GPU (lavapipe
//! where the machine has no GPU). The answers themselves are checked against
//! DuckDB in `tests/test_tiers.py`; this checks that the tiers agree, on many
//! more cases than a CLI test can afford. Needs `make build` (both builds
//! next to the CLI) and a Vulkan driver (`make setup` installs lavapipe).

use arrow_array::{
    ArrayRef, Date32Array, Float32Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    TimestampMicrosecondArray, UInt32Array, UInt64Array,
};
use quiver_host::bindings::filter::{ComputePreference, ComputeTier, Selection};
use quiver_host::runtime::{Build, Runtime, Session};
use std::path::PathBuf;
use std::sync::Arc;

/// Rows per batch: not a multiple of 32, so every tier's tail is exercised.
const ROWS: usize = 4_999;
/// Random predicates tested.
const CASES: usize = 300;

/// A small deterministic generator (xorshift64*): the cases are the same on
/// every run, and a failure names its seed and case.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const SPECIAL_F64: [f64; 12] = [
    f64::NAN,
    -f64::NAN,
    0.0,
    -0.0,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::MAX,
    f64::MIN,
    f64::MIN_POSITIVE,
    5e-324,
    -5e-324,
    f64::MIN_POSITIVE / 2.0,
];
const SPECIAL_I64: [i64; 6] = [i64::MIN, i64::MAX, 0, -1, 1, i64::MIN + 1];

/// A value of column `kind`: often a special one, else a small or a wide one.
fn value(random: &mut Random, kind: &str) -> f64 {
    let special = random.chance(25);
    match kind {
        "f32" | "f64" if special => random.pick(&SPECIAL_F64),
        "f32" | "f64" => (random.below(2000) as f64 - 1000.0) / 8.0,
        _ if special => random.pick(&SPECIAL_I64) as f64,
        _ => random.below(2000) as f64 - 1000.0,
    }
}

fn column(random: &mut Random, kind: &str) -> ArrayRef {
    let mut values = Vec::with_capacity(ROWS);
    for _ in 0..ROWS {
        values.push((!random.chance(10)).then(|| value(random, kind)));
        if kind.starts_with('i') || kind == "date" || kind == "ts" {
            // Integer specials, exactly.
            if let Some(Some(v)) = values
                .last_mut()
                .map(|v| v.as_mut())
                .filter(|_| random.chance(5))
            {
                *v = random.pick(&SPECIAL_I64) as f64;
            }
        }
    }
    let ints = |v: &Vec<Option<f64>>| v.iter().map(|x| x.map(|x| x as i64)).collect::<Vec<_>>();
    match kind {
        "i32" => Arc::new(Int32Array::from_iter(
            ints(&values).into_iter().map(|x| x.map(|x| x as i32)),
        )),
        "u32" => Arc::new(UInt32Array::from_iter(
            ints(&values).into_iter().map(|x| x.map(|x| x as u32)),
        )),
        "date" => Arc::new(Date32Array::from_iter(
            ints(&values).into_iter().map(|x| x.map(|x| x as i32)),
        )),
        "i64" => Arc::new(Int64Array::from_iter(ints(&values))),
        "u64" => Arc::new(UInt64Array::from_iter(
            ints(&values).into_iter().map(|x| x.map(|x| x as u64)),
        )),
        "ts" => Arc::new(TimestampMicrosecondArray::from_iter(ints(&values))),
        "f32" => Arc::new(Float32Array::from_iter(
            values.iter().map(|x| x.map(|x| x as f32)),
        )),
        _ => Arc::new(Float64Array::from_iter(values)),
    }
}

const KINDS: [&str; 8] = ["i32", "u32", "date", "i64", "u64", "ts", "f32", "f64"];

/// A literal for column `kind` in SQL, often one of the column's own values.
fn literal(random: &mut Random, kind: &str, batch: &RecordBatch) -> String {
    let array = batch.column_by_name(kind).unwrap();
    let row = random.below(ROWS);
    let from_column = random.chance(60) && array.is_valid(row);
    // Dates and timestamps have no cast to Float64: go through Int64.
    let integers = match array.data_type() {
        arrow_schema::DataType::Date32 | arrow_schema::DataType::Timestamp(..) => {
            arrow_cast::cast(array, &arrow_schema::DataType::Int64).unwrap()
        }
        _ => Arc::clone(array),
    };
    let cast = arrow_cast::cast(&integers, &arrow_schema::DataType::Float64).unwrap();
    let f = if from_column {
        cast.as_any()
            .downcast_ref::<Float64Array>()
            .unwrap()
            .value(row)
    } else {
        value(random, kind)
    };
    match kind {
        "f32" | "f64" if f.is_nan() || f.is_infinite() => "1e308".into(),
        "f32" | "f64" => format!("{f:e}"),
        "date" => format!(
            "DATE '{}'",
            text(Arc::new(Date32Array::from(vec![
                f.clamp(-719_162.0, 2_932_896.0) as i32
            ])))
        ),
        "ts" => {
            let micros = f.clamp(-62_135_596_800e6, 253_402_300_799e6) as i64;
            format!(
                "TIMESTAMP '{}'",
                text(Arc::new(TimestampMicrosecondArray::from(vec![micros])))
            )
        }
        _ => format!("{}", f as i64),
    }
}

/// A one-element date or timestamp array as SQL literal text.
fn text(array: ArrayRef) -> String {
    let text = arrow_cast::cast(&array, &arrow_schema::DataType::Utf8).unwrap();
    let text = text
        .as_any()
        .downcast_ref::<arrow_array::StringArray>()
        .unwrap();
    text.value(0).replace('T', " ")
}

fn predicate(random: &mut Random, batch: &RecordBatch) -> String {
    let kind = random.pick(&KINDS);
    let shape = random.below(7);
    let op = random.pick(&["=", "<>", "<", "<=", ">", ">="]);
    let l: Vec<String> = (0..3).map(|_| literal(random, kind, batch)).collect();
    match shape {
        0 => format!("{kind} BETWEEN {} AND {}", l[0], l[1]),
        1 => format!("{kind} NOT BETWEEN {} AND {}", l[0], l[1]),
        2 => format!("{kind} IN ({}, {}, {})", l[0], l[1], l[2]),
        3 => format!("{kind} NOT IN ({}, {})", l[0], l[1]),
        4 => format!("{kind} < {} OR {kind} >= {}", l[0], l[1]),
        5 => format!("NOT ({kind} <> {})", l[0]),
        _ => format!("{kind} {op} {}", l[0]),
    }
}

fn batch(random: &mut Random) -> RecordBatch {
    let columns: Vec<(&str, ArrayRef)> = KINDS
        .iter()
        .map(|kind| (*kind, column(random, kind)))
        .collect();
    RecordBatch::try_from_iter(columns).unwrap()
}

fn ipc(batch: &RecordBatch) -> Vec<u8> {
    let mut writer = arrow_ipc::writer::StreamWriter::try_new(Vec::new(), &batch.schema()).unwrap();
    writer.write(batch).unwrap();
    writer.finish().unwrap();
    writer.into_inner().unwrap()
}

async fn session(build: Build) -> Session {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/release")
        .join(build.file_name());
    assert!(
        path.exists(),
        "{} is missing: run `make build` first",
        path.display()
    );
    Runtime::load(&path).unwrap().session(&[]).await.unwrap()
}

/// Evaluates `sql` on the batch with one build and preference.
async fn evaluate(
    session: &mut Session,
    sql: &str,
    ipc: &[u8],
    compute: ComputePreference,
) -> Selection {
    let filter = session.engine.quiver_engine_filter();
    let expr = filter
        .call_parse(&mut session.store, sql)
        .await
        .unwrap()
        .unwrap_or_else(|error| panic!("{sql}: {error:?}"));
    filter
        .call_evaluate(&mut session.store, &expr, ipc, compute)
        .await
        .unwrap()
        .unwrap_or_else(|error| panic!("{sql} with {compute:?}: {error:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn scalar_simd_and_gpu_select_the_same_rows() {
    let mut random = Random(0x5eed_cafe_f00d_0001);
    let batch = batch(&mut random);
    let bytes = ipc(&batch);
    let mut simd = session(Build::Simd).await;
    let mut scalar = session(Build::Scalar).await;
    let mut selected_somewhere = 0;
    for case in 0..CASES {
        let sql = predicate(&mut random, &batch);
        let on_scalar = evaluate(&mut scalar, &sql, &bytes, ComputePreference::Scalar).await;
        let on_simd = evaluate(&mut simd, &sql, &bytes, ComputePreference::Simd).await;
        let on_gpu = evaluate(&mut simd, &sql, &bytes, ComputePreference::Gpu).await;
        for (selection, tier) in [
            (&on_scalar, ComputeTier::Scalar),
            (&on_simd, ComputeTier::Simd),
            (&on_gpu, ComputeTier::Gpu),
        ] {
            let tiers: Vec<_> = selection.kernels.iter().map(|kernel| kernel.tier).collect();
            assert_eq!(
                tiers,
                [tier],
                "case {case}, {sql}: a kernel must run on {tier:?}"
            );
        }
        assert_eq!(
            on_simd.bits, on_scalar.bits,
            "case {case}: SIMD vs scalar on {sql}"
        );
        assert_eq!(
            on_gpu.bits, on_scalar.bits,
            "case {case}: GPU vs scalar on {sql}"
        );
        assert_eq!(
            (on_simd.selected, on_gpu.selected),
            (on_scalar.selected, on_scalar.selected)
        );
        if on_scalar.selected > 0 && on_scalar.selected < ROWS as u32 {
            selected_somewhere += 1;
        }
    }
    // The cases must discriminate: most select some rows and not others.
    assert!(
        selected_somewhere > CASES / 2,
        "only {selected_somewhere} cases select a strict subset"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_build_refuses_the_cpu_tier_it_lacks() {
    let mut random = Random(7);
    let bytes = ipc(&batch(&mut random));
    for (build, missing) in [
        (Build::Simd, ComputePreference::Scalar),
        (Build::Scalar, ComputePreference::Simd),
    ] {
        let mut session = session(build).await;
        let filter = session.engine.quiver_engine_filter();
        let expr = filter
            .call_parse(&mut session.store, "i32 > 0")
            .await
            .unwrap()
            .unwrap();
        let error = filter
            .call_evaluate(&mut session.store, &expr, &bytes, missing)
            .await
            .unwrap()
            .unwrap_err();
        assert!(format!("{error:?}").contains("other build"), "{error:?}");
    }
}
