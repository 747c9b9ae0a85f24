//! The scan plan: which row groups, and which rows inside them, a scan reads,
//! decided from the footer's statistics and the page index before any data
//! page is fetched.

use super::bloom::{BloomAnswers, WithMembership};
use super::bounds::{Bounds, page_firsts};
use super::dictionary::DictionaryAnswers;
use crate::columns::{find_path, leaf_of_path};
use crate::error::Result;
use crate::filter::BoundPredicate;
use crate::source::RemoteFile;
use arrow_schema::Schema;
use parquet::arrow::arrow_reader::{RowSelection, RowSelector};
use parquet::file::metadata::page_index::{PageIndex, PageIndexBuilder, PageIndexProvider};
use parquet::file::metadata::{ColumnChunkMetaData, ParquetMetaData};
use parquet::file::page_index::index_reader::{decode_column_index, decode_offset_index};
use parquet::file::page_index::offset_index::OffsetIndexMetaData;
use std::ops::Range;

/// Why a row group is not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrunedBy {
    /// Its column statistics exclude every row.
    Statistics,
    /// Its page statistics exclude every row.
    PageIndex,
    /// Its bloom filters hold none of the values the filter needs.
    BloomFilter,
    /// Its dictionaries hold none of the values the filter needs.
    Dictionary,
}

/// A row group to read.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupPlan {
    /// Index in the file.
    pub group: usize,
    /// The rows to read (`None`: all of them).
    pub selection: Option<RowSelection>,
}

/// What a scan reads.
#[derive(Debug, Clone, Default)]
pub struct ScanPlan {
    /// The row groups to read, in file order.
    pub groups: Vec<GroupPlan>,
    /// The row groups pruned, and by what.
    pub pruned: Vec<(usize, PrunedBy)>,
    /// For each row group of the file, the data pages of the read columns
    /// that the page index pruned.
    pub pages_pruned: Vec<u64>,
    /// The planned row groups whose bloom filters or dictionaries report
    /// the values the filter looks for (see
    /// [`BoundPredicate::known_to_match`]), in file order.
    pub held: Vec<usize>,
}

/// Which indexes to load: the column index of the predicate's leaves, the
/// offset index of every leaf read.
#[derive(Debug, Clone, Default)]
pub struct IndexNeeds {
    /// Leaves whose column index (page statistics) prunes pages.
    pub column_index: Vec<usize>,
    /// Leaves whose offset index (page locations) lets reads skip pages.
    pub offset_index: Vec<usize>,
}

/// Loads the page index entries `needs` names for `groups`: free when they
/// lie in the tail read at open, else one wave of requests. Entries that are
/// missing, out of the file or fail to decode are left out (their pages are
/// then neither pruned nor skipped).
pub fn load_page_index(
    source: &mut RemoteFile,
    metadata: &ParquetMetaData,
    groups: &[usize],
    needs: &IndexNeeds,
) -> Result<Option<PageIndex>> {
    #[derive(Clone, Copy)]
    enum Entry {
        Column,
        Offset,
    }
    let size = source.size();
    let mut wanted: Vec<(usize, usize, Entry, Range<u64>)> = Vec::new();
    for &group in groups {
        let row_group = metadata.row_group(group);
        let mut want = |leaf: usize, entry: Entry, range: Option<Range<u64>>| {
            if let Some(range) = range.filter(|r| r.start < r.end && r.end <= size) {
                wanted.push((group, leaf, entry, range));
            }
        };
        for &leaf in &needs.column_index {
            want(
                leaf,
                Entry::Column,
                row_group.column(leaf).column_index_range(),
            );
        }
        for &leaf in &needs.offset_index {
            want(
                leaf,
                Entry::Offset,
                row_group.column(leaf).offset_index_range(),
            );
        }
    }
    if wanted.is_empty() {
        return Ok(None);
    }
    let ranges: Vec<Range<u64>> = wanted.iter().map(|(.., range)| range.clone()).collect();
    let bytes = source.read(&ranges)?;
    let mut builder = PageIndexBuilder::new(
        metadata.num_row_groups(),
        metadata.file_metadata().schema_descr().num_columns(),
    );
    for ((group, leaf, entry, _), data) in wanted.into_iter().zip(bytes) {
        let chunk = metadata.row_group(group).column(leaf);
        match entry {
            Entry::Column => {
                if let Ok(index) = decode_column_index(&data, chunk.column_type()) {
                    builder.put_column_index(index, group, leaf);
                }
            }
            Entry::Offset => {
                let rows = metadata.row_group(group).num_rows();
                if let Ok(index) = decode_offset_index(&data)
                    && offset_index_is_sound(&index, chunk, rows)
                {
                    builder.put_offset_index(index, group, leaf);
                }
            }
        }
    }
    Ok(Some(builder.build()))
}

/// Whether an offset index can be followed: pages start at row 0, in row
/// order, and lie inside their column chunk.
fn offset_index_is_sound(
    index: &OffsetIndexMetaData,
    chunk: &ColumnChunkMetaData,
    rows: i64,
) -> bool {
    let (start, length) = chunk.byte_range();
    let locations = index.page_locations();
    locations
        .first()
        .is_some_and(|page| page.first_row_index == 0)
        && locations
            .windows(2)
            .all(|pair| pair[0].first_row_index < pair[1].first_row_index)
        && locations.iter().all(|page| {
            page.first_row_index < rows.max(1)
                && page.offset >= 0
                && page.compressed_page_size > 0
                && (page.offset as u64) >= start
                && page.offset as u64 + page.compressed_page_size as u64 <= start + length
        })
}

/// Plans a scan of the row groups `covered` (in file order): prunes them by
/// their statistics, then pages by the page index (when loaded), into row
/// selections. `read_leaves` are the leaves the scan reads (for counting
/// pruned pages).
pub fn plan(
    metadata: &ParquetMetaData,
    page_index: Option<&PageIndex>,
    schema: &Schema,
    predicate: Option<&BoundPredicate>,
    read_leaves: &[usize],
    covered: &[usize],
) -> Result<ScanPlan> {
    let Some(predicate) = predicate else {
        return Ok(ScanPlan {
            groups: covered
                .iter()
                .copied()
                .map(|group| GroupPlan {
                    group,
                    selection: None,
                })
                .collect(),
            ..ScanPlan::default()
        });
    };
    let names = predicate.columns();
    let all: Vec<usize> = (0..metadata.num_row_groups()).collect();
    let group_bounds = Bounds::of_row_groups(metadata, schema, names, &all)?;
    let keep = predicate.may_match(&group_bounds)?;
    let predicate_leaves: Vec<usize> = names
        .iter()
        .filter_map(|name| leaf_of(metadata, schema, name))
        .collect();
    let mut result = ScanPlan {
        pages_pruned: vec![0; metadata.num_row_groups()],
        ..ScanPlan::default()
    };
    for &group in covered {
        if !keep[group] {
            result.pruned.push((group, PrunedBy::Statistics));
            continue;
        }
        let selected = match page_index {
            Some(page_index) => select_runs(
                metadata,
                page_index,
                schema,
                predicate,
                group,
                &predicate_leaves,
                &group_bounds,
            )?,
            None => None,
        };
        let rows = metadata.row_group(group).num_rows().max(0) as u64;
        let whole = std::iter::once(0..rows).collect::<Vec<_>>();
        let selected_ranges = selected.clone().unwrap_or_else(|| whole.clone());
        if let Some(page_index) = page_index {
            result.pages_pruned[group] +=
                pages_outside(page_index, group, read_leaves, &selected_ranges, rows);
        }
        match selected {
            Some(ranges) if ranges.is_empty() => result.pruned.push((group, PrunedBy::PageIndex)),
            Some(ranges) if ranges != whole => result.groups.push(GroupPlan {
                group,
                selection: Some(selection_of(&ranges, rows)),
            }),
            _ => result.groups.push(GroupPlan {
                group,
                selection: None,
            }),
        }
    }
    Ok(result)
}

/// Moves the planned row groups whose bloom filters or dictionaries rule
/// out every match to the pruned ones.
pub fn prune_by_membership(
    plan: &mut ScanPlan,
    metadata: &ParquetMetaData,
    schema: &Schema,
    predicate: &BoundPredicate,
    blooms: &BloomAnswers,
    dictionaries: &DictionaryAnswers,
) -> Result<()> {
    let all: Vec<usize> = (0..metadata.num_row_groups()).collect();
    let bounds = Bounds::of_row_groups(metadata, schema, predicate.columns(), &all)?;
    let verdict = |blooms: &BloomAnswers, dictionaries: &DictionaryAnswers| {
        predicate.may_match(&WithMembership {
            bounds: &bounds,
            blooms,
            dictionaries,
        })
    };
    let with_both = verdict(blooms, dictionaries)?;
    let held = predicate.known_to_match(&WithMembership {
        bounds: &bounds,
        blooms,
        dictionaries,
    });
    let with_blooms = verdict(blooms, &DictionaryAnswers::default())?;
    let (kept, pruned): (Vec<GroupPlan>, Vec<GroupPlan>) = plan
        .groups
        .drain(..)
        .partition(|group| with_both[group.group]);
    plan.held = kept
        .iter()
        .map(|group| group.group)
        .filter(|&group| held[group])
        .collect();
    plan.groups = kept;
    plan.pruned.extend(pruned.into_iter().map(|group| {
        let by = if with_blooms[group.group] {
            PrunedBy::Dictionary
        } else {
            PrunedBy::BloomFilter
        };
        (group.group, by)
    }));
    plan.pruned.sort_unstable_by_key(|(group, _)| *group);
    Ok(())
}

/// Keeps only the rows from `offset` on, and at most `limit` of them, by
/// narrowing the plan's selections (for scans without a filter, where
/// every row counts).
pub fn apply_offset_limit(
    plan: &mut ScanPlan,
    metadata: &ParquetMetaData,
    offset: u64,
    limit: Option<u64>,
) {
    let mut to_skip = offset;
    let mut to_take = limit.unwrap_or(u64::MAX);
    let mut groups = Vec::new();
    for group in plan.groups.drain(..) {
        if to_take == 0 {
            break;
        }
        let rows = metadata.row_group(group.group).num_rows().max(0) as u64;
        if to_skip >= rows {
            to_skip -= rows;
            continue;
        }
        let take = (rows - to_skip).min(to_take);
        let selection = if to_skip == 0 && take == rows {
            None
        } else {
            Some(selection_of(
                std::slice::from_ref(&(to_skip..to_skip + take)),
                rows,
            ))
        };
        to_take -= take;
        to_skip = 0;
        groups.push(GroupPlan {
            group: group.group,
            selection,
        });
    }
    plan.groups = groups;
}

/// The one leaf that holds the column `name` of `schema` row for row (a
/// primitive column, or a struct field with no list above it); `None` for
/// list and map columns, whose statistics do not bound a row's value.
pub fn leaf_of(metadata: &ParquetMetaData, schema: &Schema, name: &str) -> Option<usize> {
    let path = find_path(schema, name).ok()?;
    leaf_of_path(metadata.file_metadata().schema_descr(), &path)
}

/// The row ranges of `group` that the page statistics cannot exclude, or
/// `None` when no predicate column has page statistics there.
fn select_runs(
    metadata: &ParquetMetaData,
    page_index: &PageIndex,
    schema: &Schema,
    predicate: &BoundPredicate,
    group: usize,
    predicate_leaves: &[usize],
    group_bounds: &Bounds,
) -> Result<Option<Vec<Range<u64>>>> {
    let rows = metadata.row_group(group).num_rows().max(0) as u64;
    let Some(starts) = run_starts(page_index, group, predicate_leaves, rows) else {
        return Ok(None);
    };
    let runs = Bounds::of_runs(
        metadata,
        page_index,
        schema,
        predicate.columns(),
        group,
        &starts,
        group_bounds,
        group,
    )?;
    let keep = predicate.may_match(&runs)?;
    let mut ranges: Vec<Range<u64>> = Vec::new();
    for (i, start) in starts.iter().enumerate() {
        if !keep[i] {
            continue;
        }
        let end = starts.get(i + 1).copied().unwrap_or(rows);
        match ranges.last_mut() {
            Some(last) if last.end == *start => last.end = end,
            _ => ranges.push(*start..end),
        }
    }
    Ok(Some(ranges))
}

/// Where the runs of rows that page statistics bound start in `group` (of
/// `rows` rows): row 0 and the first row of every page of the predicate's
/// leaves that have a column index. `None` when none has one.
pub fn run_starts(
    page_index: &dyn PageIndexProvider,
    group: usize,
    predicate_leaves: &[usize],
    rows: u64,
) -> Option<Vec<u64>> {
    let mut starts: Vec<u64> = predicate_leaves
        .iter()
        .filter(|&&leaf| page_index.column_index(group, leaf).is_some())
        .filter_map(|&leaf| page_firsts(page_index, group, leaf))
        .flatten()
        .filter(|&first| first < rows)
        .collect();
    if starts.is_empty() {
        return None;
    }
    starts.push(0);
    starts.sort_unstable();
    starts.dedup();
    Some(starts)
}

/// A selection of `ranges` (sorted, disjoint) among `rows` rows.
fn selection_of(ranges: &[Range<u64>], rows: u64) -> RowSelection {
    let mut selectors = Vec::new();
    let mut at = 0;
    for range in ranges {
        if range.start > at {
            selectors.push(RowSelector::skip((range.start - at) as usize));
        }
        selectors.push(RowSelector::select((range.end - range.start) as usize));
        at = range.end;
    }
    if rows > at {
        selectors.push(RowSelector::skip((rows - at) as usize));
    }
    RowSelection::from(selectors)
}

/// Data pages of `leaves` in `group` that hold none of the `selected` rows.
fn pages_outside(
    page_index: &PageIndex,
    group: usize,
    leaves: &[usize],
    selected: &[Range<u64>],
    rows: u64,
) -> u64 {
    leaves
        .iter()
        .filter_map(|&leaf| page_firsts(page_index, group, leaf))
        .map(|firsts| {
            (0..firsts.len())
                .filter(|&i| {
                    let page = firsts[i]..firsts.get(i + 1).copied().unwrap_or(rows);
                    !selected
                        .iter()
                        .any(|range| range.start < page.end && page.start < range.end)
                })
                .count() as u64
        })
        .sum()
}
