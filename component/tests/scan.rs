//! Scans of in-memory Parquet files through the sans-IO core: the same code
//! the component runs, with a memory transport in place of HTTP.

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray, StructArray};
use arrow_schema::{DataType, Field};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use quiver_engine::error::Error;
use quiver_engine::filter::parse_where;
use quiver_engine::scan::{ParquetFile, ScanRequest, StreamEvent};
use quiver_engine::source::{FetchOptions, MemoryTransport, RemoteFile};
use std::sync::Arc;

/// The fuzz corpus replay, in this binary to save a link (see its module).
mod fuzz_corpus;

/// 1,000 rows in row groups of 100: `id` 0..1000, `name` "n{id}", `half` id/2
/// with NULL for every tenth row.
fn sample_file() -> Bytes {
    let base = ids_and_names();
    let half: ArrayRef = Arc::new(Int64Array::from_iter(
        (0..1000i64).map(|i| (i % 10 != 0).then_some(i / 2)),
    ));
    let batch = RecordBatch::try_from_iter([
        ("id", Arc::clone(base.column(0))),
        ("name", Arc::clone(base.column(1))),
        ("half", half),
    ])
    .unwrap();
    write(&batch, 100)
}

fn write(batch: &RecordBatch, row_group_rows: usize) -> Bytes {
    let properties = WriterProperties::builder()
        .set_max_row_group_row_count(Some(row_group_rows))
        .build();
    write_with(batch, properties)
}

fn write_with(batch: &RecordBatch, properties: WriterProperties) -> Bytes {
    let mut buffer = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut buffer, batch.schema(), Some(properties)).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
    Bytes::from(buffer)
}

/// 1,000 rows: `id` 0..1000 and `name` "n{id}".
fn ids_and_names() -> RecordBatch {
    let ids: Vec<i64> = (0..1000).collect();
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(Int64Array::from(ids.clone()))),
        (
            "name",
            Arc::new(StringArray::from_iter_values(
                ids.iter().map(|i| format!("n{i}")),
            )),
        ),
    ];
    RecordBatch::try_from_iter(columns).unwrap()
}

fn open(data: Bytes) -> Result<ParquetFile, Error> {
    open_with_tail(data, FetchOptions::DEFAULT_TAIL_BYTES)
}

/// Opens with a tail of `tail_bytes`: a small one keeps data pages out of
/// the tail, so that their reads are counted.
fn open_with_tail(data: Bytes, tail_bytes: u64) -> Result<ParquetFile, Error> {
    let options = FetchOptions {
        tail_bytes,
        ..FetchOptions::default()
    };
    let remote = RemoteFile::open(
        "mem://sample",
        Box::new(MemoryTransport::new(data)),
        options,
    )?;
    ParquetFile::open(remote)
}

/// [`ids_and_names`] in row groups of 100 rows, pages of 10 rows, with a
/// page index.
fn paged_sample_file() -> Bytes {
    let properties = WriterProperties::builder()
        .set_max_row_group_row_count(Some(100))
        .set_data_page_row_count_limit(10)
        .set_write_batch_size(10)
        .build();
    write_with(&ids_and_names(), properties)
}

fn collect(
    file: &ParquetFile,
    request: ScanRequest,
) -> (Vec<RecordBatch>, quiver_engine::scan::ScanStats) {
    let mut stream = file.scan(request).unwrap();
    let mut batches = Vec::new();
    while let Some(batch) = stream.next_batch().unwrap() {
        batches.push(batch);
    }
    (batches, stream.stats())
}

fn ids(batches: &[RecordBatch], column: &str) -> Vec<Option<i64>> {
    batches
        .iter()
        .flat_map(|b| {
            b.column_by_name(column)
                .unwrap()
                .as_primitive::<Int64Type>()
                .iter()
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn filter_projection_order_and_stats() {
    let file = open(sample_file()).unwrap();
    let request = ScanRequest {
        columns: Some(vec!["half".into(), "id".into()]),
        filter: Some(parse_where("id >= 150 AND id < 160 AND half IS NOT NULL").unwrap()),
        ..ScanRequest::default()
    };
    let (batches, stats) = collect(&file, request);
    let names: Vec<String> = batches[0]
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["half", "id"]);
    let expected: Vec<Option<i64>> = (151..160).map(Some).collect();
    assert_eq!(ids(&batches, "id"), expected);
    assert_eq!(stats.rows_matched, 9);
    assert_eq!(stats.rows_returned, 9);
    assert_eq!(stats.row_groups, 10);
    assert_eq!(stats.row_groups_pruned, 9, "statistics leave one row group");
    assert_eq!(stats.rows_scanned, 100);
}

#[test]
fn offset_and_limit_apply_after_the_filter_and_stop_early() {
    let file = open(sample_file()).unwrap();
    let request = ScanRequest {
        columns: Some(vec!["id".into()]),
        filter: Some(parse_where("name LIKE 'n1%'").unwrap()),
        offset: 5,
        limit: Some(3),
        ..ScanRequest::default()
    };
    let (batches, stats) = collect(&file, request);
    // Matches in file order: 1, 10, 11, 12, 13, 14, 15, 16, …: skip five, keep three.
    assert_eq!(ids(&batches, "id"), [Some(14), Some(15), Some(16)]);
    assert_eq!(
        stats.row_groups_scanned, 1,
        "the limit is reached in the first row group"
    );

    let (batches, stats) = collect(
        &file,
        ScanRequest {
            offset: 250,
            limit: Some(2),
            ..ScanRequest::default()
        },
    );
    assert_eq!(ids(&batches, "id"), [Some(250), Some(251)]);
    assert_eq!(stats.rows_returned, 2);
}

#[test]
fn bad_requests_are_refused_before_reading() {
    let file = open(sample_file()).unwrap();
    let scan = |request: ScanRequest| file.scan(request).err().unwrap();
    assert!(matches!(
        scan(ScanRequest {
            columns: Some(vec!["nope".into()]),
            ..Default::default()
        }),
        Error::ColumnNotFound(_)
    ));
    assert!(matches!(
        scan(ScanRequest {
            batch_size: Some(0),
            ..Default::default()
        }),
        Error::InvalidArgument(_)
    ));
    assert!(matches!(
        scan(ScanRequest {
            filter: Some(parse_where("name > 3").unwrap()),
            ..Default::default()
        }),
        Error::TypeMismatch(_)
    ));
    assert_eq!(
        file.source().borrow().stats().requests,
        1,
        "only the open read anything"
    );
}

/// 4 rows in row groups of 2: `id` 1..=4, `s` a struct of `x` and of `y`, a
/// struct of `z` (NULL in row 3, and `s.y` in row 2), `tags` a list of
/// strings (NULL in row 4, empty in row 3).
fn nested_file() -> Bytes {
    let y = StructArray::try_new(
        vec![Field::new("z", DataType::Utf8, true)].into(),
        vec![Arc::new(StringArray::from(vec!["a", "b", "c", "d"])) as ArrayRef],
        Some(vec![true, false, true, true].into()),
    )
    .unwrap();
    let s = StructArray::try_new(
        vec![
            Field::new("x", DataType::Int64, true),
            Field::new("y", y.data_type().clone(), true),
        ]
        .into(),
        vec![
            Arc::new(Int64Array::from(vec![10, 20, 30, 40])) as ArrayRef,
            Arc::new(y) as ArrayRef,
        ],
        Some(vec![true, true, false, true].into()),
    )
    .unwrap();
    let mut tags = ListBuilder::new(StringBuilder::new());
    for row in [Some(vec!["a", "b"]), Some(vec!["b"]), Some(vec![]), None] {
        match row {
            Some(values) => {
                values.iter().for_each(|v| tags.values().append_value(v));
                tags.append(true);
            }
            None => tags.append(false),
        }
    }
    let batch = RecordBatch::try_from_iter([
        (
            "id",
            Arc::new(Int64Array::from(vec![1, 2, 3, 4])) as ArrayRef,
        ),
        ("s", Arc::new(s) as ArrayRef),
        ("tags", Arc::new(tags.finish()) as ArrayRef),
    ])
    .unwrap();
    write(&batch, 2)
}

fn ids_where(file: &ParquetFile, condition: &str) -> Vec<Option<i64>> {
    let request = ScanRequest {
        columns: Some(vec!["id".into()]),
        filter: Some(parse_where(condition).unwrap()),
        ..Default::default()
    };
    ids(&collect(file, request).0, "id")
}

#[test]
fn nested_columns_are_read_whole_or_by_dotted_path() {
    let file = open(nested_file()).unwrap();
    let (batches, _) = collect(&file, ScanRequest::default());
    assert_eq!(batches[0].schema(), file.arrow_schema().clone());
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(rows, 4);

    // fields of one struct share their top-level column, in the order first named
    let request = ScanRequest {
        columns: Some(vec!["S.y.z".into(), "id".into()]),
        ..Default::default()
    };
    let (batches, _) = collect(&file, request);
    let schema = batches[0].schema();
    assert_eq!(
        schema.field(0).data_type().to_string(),
        "Struct(\"y\": Struct(\"z\": Utf8))"
    );
    assert_eq!(schema.field(1).name(), "id");

    for (columns, words) in [
        (vec!["s", "s.x"], "overlap"),
        (vec!["id", "id"], "listed twice"),
    ] {
        let request = ScanRequest {
            columns: Some(columns.into_iter().map(String::from).collect()),
            ..Default::default()
        };
        let Err(Error::InvalidArgument(message)) = file.scan(request) else {
            panic!("overlapping columns must be refused")
        };
        assert!(message.contains(words), "{message}");
    }
    let request = ScanRequest {
        columns: Some(vec!["s.q".into()]),
        ..Default::default()
    };
    assert!(matches!(file.scan(request), Err(Error::ColumnNotFound(_))));
}

#[test]
fn nested_fields_lengths_and_members_filter_rows_as_duckdb_does() {
    let file = open(nested_file()).unwrap();
    // a field is NULL where a struct above it is: row 3 (s) and row 2 (s.y)
    assert_eq!(ids_where(&file, "s.x >= 20"), [Some(2), Some(4)]);
    assert_eq!(ids_where(&file, "s.y.z IS NULL"), [Some(2), Some(3)]);
    assert_eq!(ids_where(&file, "s.y.z <> 'a'"), [Some(4)]);
    assert_eq!(ids_where(&file, "len(tags) >= 1"), [Some(1), Some(2)]);
    assert_eq!(ids_where(&file, "len(tags) = 0"), [Some(3)]);
    assert_eq!(ids_where(&file, "len(tags) IS NULL"), [Some(4)]);
    assert_eq!(
        ids_where(&file, "tags IS NULL OR s IS NULL"),
        [Some(3), Some(4)]
    );
    assert_eq!(ids_where(&file, "s.y IS NOT NULL"), [Some(1), Some(4)]);
    assert_eq!(
        ids_where(&file, "list_contains(tags, 'b')"),
        [Some(1), Some(2)]
    );
    assert_eq!(
        ids_where(&file, "NOT list_contains(tags, 'a')"),
        [Some(2), Some(3)]
    );
    assert_eq!(ids_where(&file, "list_contains(tags, NULL)"), []);
    for (condition, words) in [
        ("s > 1", "compare its fields"),
        ("list_contains(tags, 1)", "list_contains(tags"),
        ("len(id) > 1", "needs a list or a string"),
    ] {
        let request = ScanRequest {
            filter: Some(parse_where(condition).unwrap()),
            ..Default::default()
        };
        let Err(error) = file.scan(request) else {
            panic!("{condition} must be refused")
        };
        assert!(error.to_string().contains(words), "{condition}: {error}");
    }
}

#[test]
fn files_that_are_not_parquet_get_typed_errors() {
    assert!(matches!(
        open(Bytes::from_static(b"")),
        Err(Error::NotParquet(_))
    ));
    assert!(matches!(
        open(Bytes::from_static(b"hello, this is not parquet")),
        Err(Error::NotParquet(_))
    ));
    let mut encrypted = b"PARE0000000000000".to_vec();
    encrypted.extend_from_slice(b"PARE");
    assert!(matches!(
        open(Bytes::from(encrypted)),
        Err(Error::Unsupported(_))
    ));
    // A footer that claims more bytes than the file has.
    let mut lying = b"PAR1".to_vec();
    lying.extend_from_slice(&[0; 8]);
    lying.extend_from_slice(&1_000_000u32.to_le_bytes());
    lying.extend_from_slice(b"PAR1");
    assert!(matches!(
        open(Bytes::from(lying)),
        Err(Error::NotParquet(_))
    ));
    // Garbage where the footer should be.
    let mut garbage = b"PAR1".to_vec();
    garbage.extend_from_slice(&[0xff; 64]);
    garbage.extend_from_slice(&64u32.to_le_bytes());
    garbage.extend_from_slice(b"PAR1");
    assert!(matches!(
        open(Bytes::from(garbage)),
        Err(Error::CorruptFile(_))
    ));
}

#[test]
fn a_footer_larger_than_the_tail_costs_one_more_read() {
    let data = sample_file();
    let options = FetchOptions {
        tail_bytes: 16,
        ..FetchOptions::default()
    };
    let remote = RemoteFile::open(
        "mem://small-tail",
        Box::new(MemoryTransport::new(data)),
        options,
    )
    .unwrap();
    let file = ParquetFile::open(remote).unwrap();
    assert_eq!(file.metadata().num_row_groups(), 10);
    assert_eq!(file.source().borrow().stats().requests, 2);
}

#[test]
fn the_page_index_prunes_pages_and_statistics_prune_row_groups() {
    let file = open_with_tail(paged_sample_file(), 4096).unwrap();
    let request = ScanRequest {
        columns: Some(vec!["name".into()]),
        filter: Some(parse_where("id = 555 OR id = 557").unwrap()),
        ..ScanRequest::default()
    };
    let (batches, stats) = collect(&file, request);
    let names: Vec<&str> = batches
        .iter()
        .flat_map(|b| b.column(0).as_string::<i32>().iter().flatten())
        .collect();
    assert_eq!(names, ["n555", "n557"]);
    assert_eq!(stats.row_groups_pruned, 9);
    assert_eq!(stats.row_groups_scanned, 1);
    assert_eq!(stats.rows_scanned, 10, "one page of `id` is tested");
    // 9 of 10 pages of each of the two columns in the row group read.
    assert_eq!(stats.pages_pruned, 18);
}

#[test]
fn round_trips_do_not_grow_with_row_groups() {
    let file = open_with_tail(paged_sample_file(), 4096).unwrap();
    let request = ScanRequest {
        columns: Some(vec!["id".into(), "name".into()]),
        filter: Some(parse_where("name LIKE '%5'").unwrap()),
        ..ScanRequest::default()
    };
    let (batches, stats) = collect(&file, request);
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 100);
    assert_eq!(stats.row_groups_scanned, 10);
    // The page index (one wave, outside the small tail), then the filter
    // column of every row group, then the other column's matching pages.
    assert_eq!(stats.fetch.round_trips, 3, "{stats:?}");
    assert_eq!(stats.index.round_trips, 1, "{stats:?}");
}

#[test]
fn counting_scans_read_no_pages() {
    let file = open_with_tail(paged_sample_file(), 4096).unwrap();
    let (batches, stats) = collect(
        &file,
        ScanRequest {
            columns: Some(vec![]),
            ..ScanRequest::default()
        },
    );
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 1000);
    assert!(batches.iter().all(|b| b.num_columns() == 0));
    assert_eq!(stats.fetch.requests, 0, "{stats:?}");

    let (batches, stats) = collect(
        &file,
        ScanRequest {
            columns: Some(vec![]),
            filter: Some(parse_where("id >= 990").unwrap()),
            ..ScanRequest::default()
        },
    );
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 10);
    assert_eq!(stats.rows_scanned, 10);
}

#[test]
fn bloom_filters_prune_row_groups_that_statistics_cannot() {
    let properties = WriterProperties::builder()
        .set_max_row_group_row_count(Some(100))
        .set_bloom_filter_enabled(true)
        .build();
    let file = open(write_with(&ids_and_names(), properties)).unwrap();
    // "n5555" lies inside the string range of several row groups ("n0".."n99",
    // "n500".."n599", …): only the bloom filters rule it out.
    let scan = |clause: &str| {
        collect(
            &file,
            ScanRequest {
                columns: Some(vec!["id".into()]),
                filter: Some(parse_where(clause).unwrap()),
                ..ScanRequest::default()
            },
        )
    };
    let (batches, stats) = scan("name = 'n5555'");
    assert!(ids(&batches, "id").is_empty());
    assert_eq!(stats.row_groups_pruned, 10, "{stats:?}");
    assert_eq!(stats.row_groups_scanned, 0);
    let (batches, stats) = scan("name IN ('n5555', 'n42') OR id = 999");
    assert_eq!(ids(&batches, "id"), [Some(42), Some(999)]);
    assert_eq!(stats.row_groups_scanned, 2, "{stats:?}");
    let explanation = file
        .explain(&ScanRequest {
            filter: Some(parse_where("name = 'n5555'").unwrap()),
            ..ScanRequest::default()
        })
        .unwrap();
    assert!(explanation.groups.iter().all(|group| group.verdict
        == quiver_engine::scan::Verdict::Pruned(quiver_engine::scan::PrunedBy::BloomFilter)
        || group.verdict
            == quiver_engine::scan::Verdict::Pruned(quiver_engine::scan::PrunedBy::Statistics)));
}

#[test]
fn dictionaries_prune_row_groups_that_statistics_cannot() {
    // Even row groups hold "a" and "c", odd ones "b" and "d": "b" lies inside
    // the statistics of every row group, but only odd dictionaries hold it.
    let numbers: Vec<i64> = (0..1000).collect();
    let category = |i: &i64| {
        let odd = (i / 100) % 2 == 1;
        match (odd, i % 2 == 0) {
            (false, true) => "a",
            (false, false) => "c",
            (true, true) => "b",
            (true, false) => "d",
        }
    };
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(Int64Array::from(numbers.clone()))),
        (
            "cat",
            Arc::new(StringArray::from_iter_values(numbers.iter().map(category))),
        ),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let file = open(write(&batch, 100)).unwrap();
    let (batches, stats) = collect(
        &file,
        ScanRequest {
            columns: Some(vec!["id".into()]),
            filter: Some(parse_where("cat = 'b'").unwrap()),
            ..ScanRequest::default()
        },
    );
    let expected: Vec<Option<i64>> = numbers
        .iter()
        .filter(|i| category(i) == "b")
        .map(|i| Some(*i))
        .collect();
    assert_eq!(ids(&batches, "id"), expected);
    assert_eq!(stats.row_groups_pruned, 5, "{stats:?}");
    assert_eq!(stats.row_groups_scanned, 5);
}

#[test]
fn a_damaged_row_group_fails_in_its_turn_after_the_rows_before_it() {
    let data = sample_file();
    let file = open(data.clone()).unwrap();
    let damaged = file.metadata().row_group(5).column(0).byte_range();
    let mut bytes = data.to_vec();
    let start = damaged.0 as usize;
    bytes[start..start + damaged.1 as usize].fill(0xEE);
    let file = open(Bytes::from(bytes)).unwrap();
    // With a filter, every row group's filter column is decoded as soon as
    // its bytes arrive, long before its rows are due.
    let mut stream = file
        .scan(ScanRequest {
            columns: Some(vec!["name".into(), "id".into()]),
            filter: Some(parse_where("id >= 0").unwrap()),
            ..ScanRequest::default()
        })
        .unwrap();
    let mut rows = 0;
    let error = loop {
        match stream.next_batch() {
            Ok(Some(batch)) => rows += batch.num_rows(),
            Ok(None) => panic!("the damaged row group was read without an error"),
            Err(error) => break error,
        }
    };
    assert_eq!(
        rows, 500,
        "the five row groups before the damaged one are returned"
    );
    assert!(matches!(error, Error::CorruptFile(_)), "{error:?}");
    assert!(
        stream.next_batch().unwrap().is_none(),
        "the scan ends after an error"
    );
}

#[test]
fn a_scan_of_some_row_groups_covers_only_them() {
    let file = open(sample_file()).unwrap();
    let only = |row_groups: Vec<usize>| ScanRequest {
        columns: Some(vec!["id".into()]),
        row_groups: Some(row_groups),
        ..ScanRequest::default()
    };
    let (batches, stats) = collect(&file, only(vec![2, 5]));
    let expected: Vec<Option<i64>> = (200..300).chain(500..600).map(Some).collect();
    assert_eq!(ids(&batches, "id"), expected);
    assert_eq!((stats.row_groups, stats.row_groups_scanned), (2, 2));

    let request = ScanRequest {
        offset: 150,
        limit: Some(3),
        ..only(vec![2, 5])
    };
    let (batches, _) = collect(&file, request);
    assert_eq!(ids(&batches, "id"), [Some(550), Some(551), Some(552)]);

    for wrong in [vec![5, 2], vec![3, 3], vec![10]] {
        assert!(
            matches!(
                file.scan(only(wrong.clone())),
                Err(Error::InvalidArgument(_))
            ),
            "{wrong:?}"
        );
    }
}

#[test]
fn progress_only_grows_and_ends_at_everything_fetched() {
    let file = open_with_tail(paged_sample_file(), 1024).unwrap();
    for (condition, limit) in [
        ("id IN (3, 250, 777) OR id > 900", None),
        ("id >= 0", Some(150)),
    ] {
        let request = ScanRequest {
            filter: Some(parse_where(condition).unwrap()),
            limit,
            batch_size: Some(40),
            ..Default::default()
        };
        let mut stream = file.scan(request).unwrap();
        let start = stream.progress();
        assert_eq!(start.row_groups_done, 0);
        assert!(start.row_groups_total > 1 && start.bytes_planned > start.bytes_fetched);
        let (mut reports, mut waves) = (vec![start], 0);
        while let Some(event) = stream.next_event().unwrap() {
            waves += usize::from(matches!(event, StreamEvent::Fetched));
            reports.push(stream.progress());
        }
        reports.push(stream.progress());
        assert!(waves > 0, "{condition}: progress comes between batches too");
        let fraction = |p: &quiver_engine::scan::ScanProgress| {
            p.bytes_fetched as f64 / p.bytes_planned.max(1) as f64
        };
        for pair in reports.windows(2) {
            assert!(
                fraction(&pair[1]) >= fraction(&pair[0]),
                "{condition}: {pair:?}"
            );
            assert!(pair[1].row_groups_done >= pair[0].row_groups_done);
            assert!(pair[1].bytes_fetched >= pair[0].bytes_fetched);
        }
        let end = reports[reports.len() - 1];
        assert_eq!(end.bytes_fetched, end.bytes_planned, "{condition}");
        assert_eq!(end.row_groups_done, end.row_groups_total, "{condition}");
        assert_eq!(end.bytes_fetched, stream.stats().fetch.bytes_fetched);
    }
}
