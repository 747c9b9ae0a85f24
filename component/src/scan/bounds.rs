//! Column bounds from a file's statistics: per row group from the footer,
//! per page from the page index. Only bounds that are valid as SQL compares
//! values are used; the others count as unknown.

use crate::columns::{find_path, leaf_of_path};
use crate::error::Result;
use crate::filter::{ColumnBounds, ContainerStats};
use arrow_array::{Array, ArrayRef, BooleanArray, UInt32Array, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::basic::{ColumnOrder, SortOrder, Type as PhysicalType};
use parquet::file::metadata::page_index::PageIndexProvider;
use parquet::file::metadata::{FileMetaData, ParquetMetaData};
use std::collections::HashMap;
use std::sync::Arc;

/// Bounds of some columns over a list of containers.
#[derive(Debug, Clone, Default)]
pub struct Bounds {
    containers: usize,
    columns: HashMap<String, ColumnBounds>,
}

impl ContainerStats for Bounds {
    fn containers(&self) -> usize {
        self.containers
    }

    fn column(&self, name: &str) -> Option<&ColumnBounds> {
        self.columns.get(name)
    }
}

impl Bounds {
    /// The bounds of the row groups `groups`, for the columns `names`.
    pub fn of_row_groups(
        metadata: &ParquetMetaData,
        schema: &Schema,
        names: &[String],
        groups: &[usize],
    ) -> Result<Self> {
        let file = metadata.file_metadata();
        let mut columns = HashMap::new();
        for name in names {
            let Some(converter) = converter(name, schema, file)? else {
                continue;
            };
            let Some(leaf) = converter.parquet_column_index() else {
                continue;
            };
            let chunks = || groups.iter().map(|&g| metadata.row_group(g));
            let row_counts: Vec<u64> = chunks().map(|g| g.num_rows().max(0) as u64).collect();
            // Old writers' `min`/`max` fields were compared as signed values;
            // they bound only columns that sort that way.
            let untrusted: BooleanArray = chunks()
                .map(|g| {
                    let legacy = g
                        .column(leaf)
                        .statistics()
                        .is_some_and(|s| s.is_min_max_deprecated());
                    Some(legacy && !signed_numeric(file, leaf))
                })
                .collect();
            let (min, max) = if bounds_trusted(file, leaf) {
                (
                    arrow_select::nullif::nullif(&converter.row_group_mins(chunks())?, &untrusted)?,
                    arrow_select::nullif::nullif(
                        &converter.row_group_maxes(chunks())?,
                        &untrusted,
                    )?,
                )
            } else {
                let unknown =
                    arrow_array::new_null_array(converter.arrow_field().data_type(), groups.len());
                (Arc::clone(&unknown), unknown)
            };
            let null_counts = converter.row_group_null_counts(chunks())?;
            let nan_counts = converter.row_group_nan_counts(chunks())?;
            let distinct = chunks()
                .map(|g| {
                    g.column(leaf)
                        .statistics()
                        .and_then(|s| s.distinct_count_opt())
                })
                .collect();
            columns.insert(
                name.clone(),
                column_bounds(min, max, &null_counts, &nan_counts, &row_counts, distinct),
            );
        }
        Ok(Self {
            containers: groups.len(),
            columns,
        })
    }

    /// The bounds of runs of rows inside row group `group`: `runs` start at
    /// the given row numbers and each ends where the next starts (the last
    /// at `rows`). Columns with a column index get the bounds of the page
    /// each run lies in; the others get `fallback`'s bounds of the whole row
    /// group (its container `fallback_container`).
    #[allow(clippy::too_many_arguments)]
    pub fn of_runs(
        metadata: &ParquetMetaData,
        page_index: &dyn PageIndexProvider,
        schema: &Schema,
        names: &[String],
        group: usize,
        runs: &[u64],
        fallback: &Bounds,
        fallback_container: usize,
    ) -> Result<Self> {
        let file = metadata.file_metadata();
        let mut columns = HashMap::new();
        for name in names {
            let Some(converter) = converter(name, schema, file)? else {
                continue;
            };
            let leaf = converter.parquet_column_index();
            let pages = leaf.and_then(|leaf| page_firsts(page_index, group, leaf));
            let has_column_index =
                leaf.is_some_and(|leaf| page_index.column_index(group, leaf).is_some());
            let (Some(leaf), Some(firsts), true) = (leaf, pages, has_column_index) else {
                if let Some(whole) = fallback.columns.get(name) {
                    let indices = vec![fallback_container as u32; runs.len()];
                    columns.insert(name.clone(), take_bounds(whole, &indices)?);
                }
                continue;
            };
            let row_counts = page_row_counts(&firsts, metadata.row_group(group).num_rows());
            let (min, max) = if bounds_trusted(file, leaf) {
                (
                    converter.data_page_mins(page_index, [&group])?,
                    converter.data_page_maxes(page_index, [&group])?,
                )
            } else {
                let unknown =
                    arrow_array::new_null_array(converter.arrow_field().data_type(), firsts.len());
                (Arc::clone(&unknown), unknown)
            };
            if min.len() != firsts.len() || max.len() != firsts.len() {
                continue;
            }
            let null_counts = converter.data_page_null_counts(page_index, [&group])?;
            let nan_counts = converter.data_page_nan_counts(page_index, [&group])?;
            // Pages have no distinct count: the row group's stands in.
            let distinct = fallback
                .columns
                .get(name)
                .and_then(|whole| whole.distinct_count.get(fallback_container).copied())
                .flatten();
            let per_page = column_bounds(
                min,
                max,
                &null_counts,
                &nan_counts,
                &row_counts,
                vec![distinct; firsts.len()],
            );
            let indices: Vec<u32> = runs
                .iter()
                .map(|&start| {
                    firsts
                        .partition_point(|&first| first <= start)
                        .saturating_sub(1) as u32
                })
                .collect();
            columns.insert(name.clone(), take_bounds(&per_page, &indices)?);
        }
        Ok(Self {
            containers: runs.len(),
            columns,
        })
    }
}

/// The first row of each page of a column chunk, from the offset index.
pub fn page_firsts(
    page_index: &dyn PageIndexProvider,
    group: usize,
    leaf: usize,
) -> Option<Vec<u64>> {
    let locations = page_index.offset_index(group, leaf)?.page_locations();
    Some(
        locations
            .iter()
            .map(|page| page.first_row_index.max(0) as u64)
            .collect(),
    )
}

fn page_row_counts(firsts: &[u64], rows: i64) -> Vec<u64> {
    let rows = rows.max(0) as u64;
    firsts
        .iter()
        .enumerate()
        .map(|(i, first)| {
            firsts
                .get(i + 1)
                .copied()
                .unwrap_or(rows)
                .saturating_sub(*first)
        })
        .collect()
}

fn converter<'a>(
    name: &str,
    schema: &'a Schema,
    file: &'a FileMetaData,
) -> Result<Option<StatisticsConverter<'a>>> {
    let Ok(path) = find_path(schema, name) else {
        return Ok(None);
    };
    let Some(leaf) = leaf_of_path(file.schema_descr(), &path) else {
        return Ok(None);
    };
    let mut field: &Field = schema.field(path.root);
    for child in &path.names[1..] {
        let DataType::Struct(children) = field.data_type() else {
            return Ok(None);
        };
        let Some((_, found)) = children.find(child) else {
            return Ok(None);
        };
        field = found;
    }
    Ok(Some(
        StatisticsConverter::from_column_index(leaf, field, file.schema_descr())?
            .with_missing_null_counts_as_zero(false)
            .with_column_orders(file.column_orders().map(Vec::as_slice)),
    ))
}

/// Whether the min/max statistics of a leaf bound its values in the order
/// SQL compares them. Files from before column orders were recorded compared
/// every type as signed: only signed numbers can trust them.
fn bounds_trusted(file: &FileMetaData, leaf: usize) -> bool {
    match file.column_order(leaf) {
        ColumnOrder::UNDEFINED => signed_numeric(file, leaf),
        order => order.sort_order() != SortOrder::UNDEFINED,
    }
}

/// Whether a leaf is a number (or boolean) whose type sorts as signed.
fn signed_numeric(file: &FileMetaData, leaf: usize) -> bool {
    let column = file.schema_descr().column(leaf);
    let physical = column.physical_type();
    let type_order = ColumnOrder::column_order_for_type(
        column.logical_type_ref(),
        column.converted_type(),
        physical,
    )
    .sort_order();
    match physical {
        PhysicalType::BOOLEAN | PhysicalType::INT32 | PhysicalType::INT64 => {
            type_order == SortOrder::SIGNED
        }
        PhysicalType::FLOAT | PhysicalType::DOUBLE => true,
        _ => false,
    }
}

fn column_bounds(
    min: ArrayRef,
    max: ArrayRef,
    null_counts: &UInt64Array,
    nan_counts: &UInt64Array,
    row_counts: &[u64],
    distinct_count: Vec<Option<u64>>,
) -> ColumnBounds {
    let known = |counts: &UInt64Array, i: usize| {
        (i < counts.len() && counts.is_valid(i)).then(|| counts.value(i))
    };
    let floating = min.data_type().is_floating();
    ColumnBounds {
        may_have_null: (0..row_counts.len())
            .map(|i| known(null_counts, i) != Some(0))
            .collect(),
        may_have_value: row_counts
            .iter()
            .enumerate()
            .map(|(i, rows)| known(null_counts, i).is_none_or(|nulls| nulls < *rows))
            .collect(),
        may_have_nan: (0..row_counts.len())
            .map(|i| floating && known(nan_counts, i) != Some(0))
            .collect(),
        distinct_count,
        min,
        max,
    }
}

fn take_bounds(bounds: &ColumnBounds, indices: &[u32]) -> Result<ColumnBounds> {
    let take_array = UInt32Array::from(indices.to_vec());
    let pick = |flags: &[bool]| indices.iter().map(|&i| flags[i as usize]).collect();
    Ok(ColumnBounds {
        min: arrow_select::take::take(&bounds.min, &take_array, None)?,
        max: arrow_select::take::take(&bounds.max, &take_array, None)?,
        may_have_null: pick(&bounds.may_have_null),
        may_have_value: pick(&bounds.may_have_value),
        may_have_nan: pick(&bounds.may_have_nan),
        distinct_count: indices
            .iter()
            .map(|&i| bounds.distinct_count[i as usize])
            .collect(),
    })
}
