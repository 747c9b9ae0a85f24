//! Layout advice: what in a file's layout makes remote reads slow, each with
//! the reason and the fix, judged from the footer alone.

use super::bounds::Bounds;
use crate::filter::ContainerStats;
use crate::memory::human_bytes;
use crate::source::FetchOptions;
use arrow_array::Array;
use arrow_ord::cmp;
use arrow_schema::Schema;
use parquet::basic::{Encoding, LogicalType, Type as PhysicalType};
use parquet::file::metadata::{ColumnChunkMetaData, ParquetMetaData};

/// A row group bigger than this (compressed) is pruned or read as one lump.
pub const LARGE_ROW_GROUP: u64 = 256 << 20;
/// Row groups smaller than this on average cost a request per column each
/// for little data...
pub const SMALL_ROW_GROUP: u64 = 1 << 20;
/// ...when a file has more than this many.
pub const MANY_ROW_GROUPS: usize = 8;
/// Row groups a file needs before the order of its values can help.
pub const SORTABLE_ROW_GROUPS: usize = 4;
/// Rows a column needs before a bloom filter pays for itself.
pub const BLOOM_WORTHY_ROWS: i64 = 10_000;
/// Columns named in one piece of advice before the list is cut short.
const LISTED: usize = 8;

/// One thing in a file's layout that makes remote reads slow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advice {
    /// A stable name for the rule, e.g. `no-page-index`.
    pub rule: &'static str,
    /// The columns it is about (none for the whole file).
    pub columns: Vec<String>,
    /// What it costs a remote read.
    pub reason: String,
    /// How to write the file instead.
    pub fix: String,
}

/// The layout advice for a file of `file_size` bytes whose footer is
/// `metadata` (the Arrow view `schema`) and takes `footer_bytes`.
pub fn layout_advice(
    metadata: &ParquetMetaData,
    schema: &Schema,
    file_size: u64,
    footer_bytes: u64,
) -> Vec<Advice> {
    let groups = metadata.row_groups();
    if groups.is_empty() {
        return Vec::new();
    }
    let mut advice = Vec::new();
    let chunks = || groups.iter().flat_map(|group| group.columns());
    if chunks().all(|chunk| chunk.offset_index_offset().is_none()) {
        advice.push(Advice {
            rule: "no-page-index",
            columns: Vec::new(),
            reason: "there is no page index, so a filter cannot skip pages: every row group \
                     read is read whole, for every column"
                .into(),
            fix: "write a page index (pyarrow: write_page_index=True; arrow-rs and Spark \
                  write one by default, DuckDB does not)"
                .into(),
        });
    }
    let sizes: Vec<u64> = (groups.iter())
        .map(|group| group.compressed_size().max(0) as u64)
        .collect();
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let average = sizes.iter().sum::<u64>() / sizes.len() as u64;
    if largest > LARGE_ROW_GROUP {
        advice.push(Advice {
            rule: "row-groups-too-large",
            columns: Vec::new(),
            reason: format!(
                "a row group holds {} compressed: statistics keep or skip it whole, and reading \
                 it takes that much memory at once",
                human_bytes(largest)
            ),
            fix: format!(
                "write row groups of at most {} (pyarrow: row_group_size in rows; DuckDB: \
                 ROW_GROUP_SIZE)",
                human_bytes(LARGE_ROW_GROUP)
            ),
        });
    } else if groups.len() > MANY_ROW_GROUPS && average < SMALL_ROW_GROUP {
        advice.push(Advice {
            rule: "row-groups-too-small",
            columns: Vec::new(),
            reason: format!(
                "{} row groups of {} on average: each costs a request per column read, and its \
                 own footer entry",
                groups.len(),
                human_bytes(average)
            ),
            fix: "write fewer, larger row groups (16-256 MiB: pyarrow row_group_size, DuckDB \
                  ROW_GROUP_SIZE)"
                .into(),
        });
    }
    let descriptor = metadata.file_metadata().schema_descr();
    let leaves = 0..descriptor.num_columns();
    let name = |leaf: usize| descriptor.column(leaf).path().string();
    let column_chunks = |leaf: usize| groups.iter().map(move |group| group.column(leaf));
    let no_statistics: Vec<String> = leaves
        .clone()
        .filter(|&leaf| {
            column_chunks(leaf).any(|chunk| {
                chunk
                    .statistics()
                    .is_none_or(|stats| stats.min_bytes_opt().is_none())
                    && chunk.num_values() > 0
            })
        })
        .map(name)
        .collect();
    if !no_statistics.is_empty() {
        advice.push(Advice {
            rule: "missing-statistics",
            columns: listed(no_statistics),
            reason: "row groups without min/max statistics cannot be skipped by a filter on \
                     these columns"
                .into(),
            fix: "write statistics (pyarrow: write_statistics=True, the default)".into(),
        });
    }
    let sorted = sorted_columns(metadata, schema);
    if groups.len() >= SORTABLE_ROW_GROUPS
        && sorted.is_empty()
        && groups.iter().all(|group| group.sorting_columns().is_none())
    {
        advice.push(Advice {
            rule: "unsorted",
            columns: Vec::new(),
            reason: "no column's row groups hold separate ranges of values: a range or equality \
                     filter on any column keeps nearly every row group"
                .into(),
            fix: "sort the rows by the column filtered on most before writing (DuckDB: ORDER BY; \
                  pyarrow: table.sort_by)"
                .into(),
        });
    }
    let high_cardinality = |leaf: usize| {
        let column = descriptor.column(leaf);
        let rows: i64 = groups.iter().map(|group| group.num_rows()).sum();
        let keyish = match column.physical_type() {
            PhysicalType::BYTE_ARRAY | PhysicalType::FIXED_LEN_BYTE_ARRAY => true,
            PhysicalType::INT32 | PhysicalType::INT64 => matches!(
                column.logical_type_ref(),
                None | Some(LogicalType::Integer { .. })
            ),
            _ => false,
        };
        keyish
            && column.max_rep_level() == 0
            && rows >= BLOOM_WORTHY_ROWS
            && column_chunks(leaf).any(|chunk| !all_dictionary(chunk))
    };
    let no_bloom: Vec<String> = leaves
        .clone()
        .filter(|&leaf| {
            high_cardinality(leaf)
                && !sorted.contains(&name(leaf))
                && column_chunks(leaf).all(|chunk| chunk.bloom_filter_offset().is_none())
        })
        .map(name)
        .collect();
    if !no_bloom.is_empty() {
        advice.push(Advice {
            rule: "no-bloom-filter",
            columns: listed(no_bloom),
            reason: "many distinct values, unsorted, and no bloom filter: an equality filter \
                     (`= v`, IN) on them reads every row group"
                .into(),
            fix: "write bloom filters for them (arrow-rs: set_bloom_filter_enabled; Spark: \
                  parquet.bloom.filter.enabled#column; DuckDB writes them for dictionary \
                  columns), or sort by one of them"
                .into(),
        });
    }
    let fell_back: Vec<String> = leaves
        .filter(|&leaf| column_chunks(leaf).any(dictionary_fell_back))
        .map(name)
        .collect();
    if !fell_back.is_empty() {
        advice.push(Advice {
            rule: "dictionary-fallback",
            columns: listed(fell_back),
            reason: "the dictionary filled up part way through a column chunk: the pages after \
                     it are plain (larger), and the dictionary no longer rules the chunk out"
                .into(),
            fix: "raise the dictionary page limit (pyarrow: dictionary_pagesize_limit) or turn \
                  dictionary encoding off for these columns (use_dictionary=[...])"
                .into(),
        });
    }
    let tail = tail_needed(metadata, file_size, footer_bytes);
    if tail > FetchOptions::DEFAULT_TAIL_BYTES {
        advice.push(Advice {
            rule: "large-footer",
            columns: Vec::new(),
            reason: format!(
                "the footer and page index take {}, more than the {} an open reads: opening \
                 costs a second request",
                human_bytes(tail),
                human_bytes(FetchOptions::DEFAULT_TAIL_BYTES)
            ),
            fix: "write fewer row groups or columns per file, or open with a larger tail \
                  (fetch-options.tail-bytes)"
                .into(),
        });
    }
    advice
}

/// `names`, cut to [`LISTED`] with a count of the rest.
fn listed(mut names: Vec<String>) -> Vec<String> {
    if names.len() > LISTED {
        let more = names.len() - LISTED;
        names.truncate(LISTED);
        names.push(format!("… {more} more"));
    }
    names
}

/// Whether every data page of `chunk` is dictionary-encoded (unknown: no).
fn all_dictionary(chunk: &ColumnChunkMetaData) -> bool {
    chunk.dictionary_page_offset().is_some()
        && chunk.page_encoding_stats_mask().is_some_and(|mask| {
            mask.is_only(Encoding::PLAIN_DICTIONARY) || mask.is_only(Encoding::RLE_DICTIONARY)
        })
}

/// Whether `chunk` has a dictionary and yet data pages of another encoding.
fn dictionary_fell_back(chunk: &ColumnChunkMetaData) -> bool {
    chunk.dictionary_page_offset().is_some()
        && chunk.page_encoding_stats_mask().is_some_and(|mask| {
            (mask.is_set(Encoding::PLAIN_DICTIONARY) || mask.is_set(Encoding::RLE_DICTIONARY))
                && !all_dictionary(chunk)
        })
}

/// The top-level columns whose row groups' [min, max] ranges follow one
/// another (ascending or descending), by the bounds pruning trusts.
fn sorted_columns(metadata: &ParquetMetaData, schema: &Schema) -> Vec<String> {
    let names: Vec<String> = (schema.fields().iter())
        .filter(|field| !field.data_type().is_nested())
        .map(|field| field.name().clone())
        .collect();
    let groups: Vec<usize> = (0..metadata.num_row_groups()).collect();
    let Ok(bounds) = Bounds::of_row_groups(metadata, schema, &names, &groups) else {
        return Vec::new();
    };
    names
        .into_iter()
        .filter(|name| {
            let Some(column) = bounds.column(name) else {
                return false;
            };
            let (mins, maxes, n) = (&column.min, &column.max, groups.len());
            if n < 2 || mins.null_count() > 0 || maxes.null_count() > 0 {
                return false;
            }
            let (earlier_max, later_min) = (maxes.slice(0, n - 1), mins.slice(1, n - 1));
            let (earlier_min, later_max) = (mins.slice(0, n - 1), maxes.slice(1, n - 1));
            let all = |verdict: Result<arrow_array::BooleanArray, _>| {
                verdict.is_ok_and(|v| v.true_count() == n - 1)
            };
            all(cmp::lt_eq(&earlier_max, &later_min)) || all(cmp::gt_eq(&earlier_min, &later_max))
        })
        .collect()
}

/// Bytes at the end of the file an open needs: the footer, and the page
/// index where it lies just before it.
fn tail_needed(metadata: &ParquetMetaData, file_size: u64, footer_bytes: u64) -> u64 {
    let index_start = (metadata.row_groups().iter())
        .flat_map(|group| group.columns())
        .flat_map(|chunk| [chunk.column_index_offset(), chunk.offset_index_offset()])
        .flatten()
        .filter_map(|offset| u64::try_from(offset).ok())
        .min();
    let footer = footer_bytes + 8;
    match index_start {
        Some(start) if start < file_size => (file_size - start).max(footer),
        _ => footer,
    }
}
