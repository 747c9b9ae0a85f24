//! The bodies of Quiver's fuzz targets, written once for two callers: the
//! cargo-fuzz targets in `fuzz_targets/` (nightly, libFuzzer, `make fuzz`)
//! and the corpus replay in `component/tests/fuzz_corpus/mod.rs` (stable,
//! `make test`), which compiles this file as a module. Each body takes the
//! raw bytes of one input; errors are fine, a panic is a bug.
//!
//! Only the engine's own crates may be named here: the replay builds this
//! file with the engine's dependencies.

use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array, Int8Array,
    Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray, TimestampMillisecondArray,
    UInt64Array,
};
use arrow_schema::{DataType, Field};
use bytes::Bytes;
use quiver_engine::filter::{CompareOp, Decimal, Expr, Literal, bind, parse_where, to_sql};
use quiver_engine::scan::{ParquetFile, ScanRequest};
use quiver_engine::source::{
    CoalescedRanges, FetchOptions, MemoryTransport, RemoteFile, coalesce, plan_wave, split_large,
};
use std::ops::Range;
use std::sync::{Arc, OnceLock};

/// The bytes are a whole file: decode its footer through a 64-byte tail (so
/// the rest of the footer and the page index are fetched), then plan a scan
/// that loads the page index, bloom filters and dictionaries, reading no data
/// page.
pub fn footer(data: &[u8]) {
    let tail = FetchOptions {
        tail_bytes: 64,
        ..FetchOptions::default()
    };
    if let Some(file) = open(data, tail) {
        let _ = file.explain(&scan_request(&file, true));
    }
}

/// The bytes are a whole file: scan every flat column to the end in small
/// batches, once plainly and once through a filter that matches every row.
pub fn pages(data: &[u8]) {
    let Some(file) = open(data, FetchOptions::default()) else {
        return;
    };
    for filtered in [false, true] {
        if let Ok(mut stream) = file.scan(scan_request(&file, filtered)) {
            while let Ok(Some(_)) = stream.next_batch() {}
        }
    }
}

fn open(data: &[u8], options: FetchOptions) -> Option<ParquetFile> {
    let transport = Box::new(MemoryTransport::new(Bytes::copy_from_slice(data)));
    let remote = RemoteFile::open("memory:///fuzz.parquet", transport, options).ok()?;
    ParquetFile::open(remote).ok()
}

/// Every flat column, 64 rows a batch; `filtered` adds `c = x OR c <> x OR c
/// IS NULL` on the first one, which keeps every row but makes the planner
/// read the page index, bloom filters and dictionaries of `c`.
fn scan_request(file: &ParquetFile, filtered: bool) -> ScanRequest {
    let flat: Vec<&Field> = (file.arrow_schema().fields().iter())
        .filter(|field| !field.data_type().is_nested())
        .map(|field| field.as_ref())
        .collect();
    let filter = flat.first().filter(|_| filtered).and_then(|field| {
        let value = match field.data_type() {
            DataType::Dictionary(_, values) => values.as_ref(),
            other => other,
        };
        let literal = match value {
            DataType::Boolean => Literal::Boolean(true),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Literal::Text("a".into()),
            DataType::Date32 | DataType::Date64 => Literal::Date(0),
            DataType::Timestamp(..) => Literal::Timestamp(0),
            numeric if numeric.is_numeric() => Literal::Exact(Decimal::integer(0)),
            _ => return None,
        };
        let column = || Box::new(Expr::Column(field.name().clone()));
        let compare = |op| Expr::Compare {
            op,
            left: column(),
            right: Box::new(Expr::Literal(literal.clone())),
        };
        Some(Expr::Or(vec![
            compare(CompareOp::Eq),
            compare(CompareOp::NotEq),
            Expr::IsNull {
                value: column(),
                negated: false,
            },
        ]))
    });
    ScanRequest {
        columns: Some(flat.iter().map(|field| field.name().clone()).collect()),
        filter,
        batch_size: Some(64),
        ..ScanRequest::default()
    }
}

/// The bytes are a WHERE clause: if it parses, printing it must give SQL
/// that parses to the same tree, and binding it to a fixed schema and
/// evaluating it on a few rows must not panic.
pub fn where_clause(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(expr) = parse_where(text) else {
        return;
    };
    let sql = to_sql(&expr);
    match parse_where(&sql) {
        Ok(again) => assert_eq!(
            again, expr,
            "{text:?} printed as {sql:?} reads back changed"
        ),
        Err(error) => panic!("{text:?} printed as {sql:?}, which does not parse: {error}"),
    }
    let batch = sample_batch();
    if let Ok(predicate) = bind(&expr, batch.schema_ref())
        && let Ok(matches) = predicate.evaluate(batch)
    {
        assert_eq!(matches.len(), batch.num_rows(), "{text:?}");
    }
}

/// Four rows of the types a WHERE clause can compare, with NULLs and
/// extremes: `i` int64, `n` int8, `u` uint64, `f` float64, `g` float32, `s`
/// utf8, `d` date32, `t` timestamp(µs), `tz` timestamp(ms, UTC), `dec`
/// decimal(9, 2), `b` boolean.
fn sample_batch() -> &'static RecordBatch {
    static BATCH: OnceLock<RecordBatch> = OnceLock::new();
    BATCH.get_or_init(|| {
        let decimal = Decimal128Array::from(vec![Some(-999_999_999), None, Some(0), Some(12_345)]);
        let columns: Vec<(&str, ArrayRef)> = vec![
            (
                "i",
                Arc::new(Int64Array::from(vec![
                    Some(i64::MIN),
                    None,
                    Some(0),
                    Some(i64::MAX),
                ])),
            ),
            (
                "n",
                Arc::new(Int8Array::from(vec![Some(-128), Some(127), None, Some(0)])),
            ),
            (
                "u",
                Arc::new(UInt64Array::from(vec![
                    Some(0),
                    None,
                    Some(7),
                    Some(u64::MAX),
                ])),
            ),
            (
                "f",
                Arc::new(Float64Array::from(vec![
                    Some(f64::NAN),
                    Some(-0.0),
                    None,
                    Some(1e300),
                ])),
            ),
            (
                "g",
                Arc::new(Float32Array::from(vec![
                    Some(f32::INFINITY),
                    None,
                    Some(0.5),
                    Some(-1.0),
                ])),
            ),
            (
                "s",
                Arc::new(StringArray::from(vec![
                    Some(""),
                    Some("a%_\\"),
                    None,
                    Some("é"),
                ])),
            ),
            (
                "d",
                Arc::new(Date32Array::from(vec![
                    Some(i32::MIN),
                    Some(0),
                    None,
                    Some(19_000),
                ])),
            ),
            (
                "t",
                Arc::new(TimestampMicrosecondArray::from(vec![
                    Some(i64::MIN),
                    None,
                    Some(0),
                    Some(1),
                ])),
            ),
            (
                "tz",
                Arc::new(
                    TimestampMillisecondArray::from(vec![None, Some(-1), Some(0), Some(i64::MAX)])
                        .with_timezone("UTC"),
                ),
            ),
            (
                "dec",
                Arc::new(
                    decimal
                        .with_precision_and_scale(9, 2)
                        .expect("valid decimal type"),
                ),
            ),
            (
                "b",
                Arc::new(BooleanArray::from(vec![
                    Some(true),
                    Some(false),
                    None,
                    Some(true),
                ])),
            ),
        ];
        RecordBatch::try_from_iter(columns).expect("valid batch")
    })
}

/// Bytes of the synthetic file the `ranges` body reads: wanted ranges start
/// below 2^16 and are shorter than 2^16 bytes (then shifted by a base, up to
/// where the last one may end at `u64::MAX`).
const SPAN: u64 = 2 * u16::MAX as u64;

/// The bytes are a little-endian header, then wanted ranges:
/// `base: u64, max_gap: u64, wait_cost: u64, piece_bytes: u32,
/// max_concurrency: u8`, then up to 256 × `(start: u16, length: u16)`, each
/// shifted by `base`. The plans of `coalesce`, `split_large` and `plan_wave`
/// must be sorted and disjoint, cover every wanted range, read nothing
/// outside them, and slice back exactly the wanted bytes of a synthetic file.
pub fn ranges(data: &[u8]) {
    let Some((header, rest)) = data.split_first_chunk::<29>() else {
        return;
    };
    let word = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().unwrap_or_default());
    let base = word(0).min(u64::MAX - SPAN);
    let (max_gap, wait_cost) = (word(8), word(16));
    let piece_bytes = u64::from(u32::from_le_bytes([
        header[24], header[25], header[26], header[27],
    ]));
    let max_concurrency = usize::from(header[28]);
    let wanted: Vec<Range<u64>> = (rest.chunks_exact(4).take(256))
        .map(|c| {
            let start = base + u64::from(u16::from_le_bytes([c[0], c[1]]));
            start..start + u64::from(u16::from_le_bytes([c[2], c[3]]))
        })
        .collect();
    let coalesced = coalesce(&wanted, max_gap);
    check_plan(&coalesced, &wanted, base, Some(max_gap));
    let split = split_large(coalesced.clone(), &wanted, max_concurrency, piece_bytes);
    check_plan(&split, &wanted, base, None);
    let read = |plan: &CoalescedRanges| plan.requests.iter().map(|r| r.end - r.start).sum::<u64>();
    assert_eq!(
        read(&split),
        read(&coalesced),
        "splitting changed the bytes read"
    );
    let most = max_concurrency.max(coalesced.requests.len());
    assert!(
        split.requests.len() <= most,
        "split into more requests than slots"
    );
    let wave = plan_wave(&wanted, max_gap, max_concurrency, wait_cost);
    check_plan(&wave, &wanted, base, Some(max_gap));
    assert!(
        wave.requests.len() <= coalesced.requests.len(),
        "a wave sends more requests"
    );
}

/// Checks one plan's invariants; `gap`: requests must be further apart.
fn check_plan(plan: &CoalescedRanges, wanted: &[Range<u64>], base: u64, gap: Option<u64>) {
    let requests = &plan.requests;
    assert!(requests.iter().all(|r| r.start <= r.end), "{requests:?}");
    for pair in requests.windows(2) {
        let apart = pair[0].end.saturating_add(gap.unwrap_or(0));
        let ok = apart < pair[1].start || gap.is_none() && apart == pair[1].start;
        assert!(
            ok,
            "requests {pair:?} overlap or are not more than {gap:?} apart"
        );
    }
    for range in wanted.iter().filter(|range| !range.is_empty()) {
        // Sorted and disjoint, so the covering requests are consecutive.
        let end = (requests.iter()).fold(range.start, |at, r| {
            if r.start <= at && at < r.end {
                r.end
            } else {
                at
            }
        });
        assert!(end >= range.end, "{range:?} is not covered by {requests:?}");
    }
    let starts = wanted.iter().map(|range| range.start).min();
    let ends = wanted.iter().map(|range| range.end).max();
    if let (Some(first), Some(last)) = (requests.first(), requests.last()) {
        assert!(
            starts <= Some(first.start) && Some(last.end) <= ends,
            "reads outside {wanted:?}"
        );
    }
    let file = synthetic_file();
    let bytes = |r: &Range<u64>| file.slice((r.start - base) as usize..(r.end - base) as usize);
    let bodies: Vec<Bytes> = requests.iter().map(bytes).collect();
    for (range, got) in wanted.iter().zip(plan.slice(wanted, &bodies)) {
        assert!(
            got == bytes(range),
            "slice of {range:?} differs from its bytes"
        );
    }
}

fn synthetic_file() -> &'static Bytes {
    static FILE: OnceLock<Bytes> = OnceLock::new();
    FILE.get_or_init(|| {
        (0..=SPAN)
            .map(|at| (at.wrapping_mul(0x9E37_79B9) >> 13) as u8)
            .collect::<Vec<u8>>()
            .into()
    })
}
