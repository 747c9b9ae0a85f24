//! Starting a scan: checking the request against the schema, loading the
//! page index it needs, planning, and building the stream.

use super::bloom::BloomPlan;
use super::dictionary::DictionaryPlan;
use super::plan::{
    IndexNeeds, ScanPlan, apply_offset_limit, leaf_of, load_page_index, plan, prune_by_membership,
};
use super::stream::{BatchStream, DecoderFactory, ScanStats};
use super::{SharedFile, arrow_metadata};
use crate::columns::{ColumnPath, find_path, leaf_of_path, leaves_under, prune_field};
use crate::error::{Error, Result};
use crate::filter::{BoundPredicate, Expr, bind};
use crate::kernels::Compute;
use crate::memory::MemoryBudget;
use crate::source::{FetchOptions, FetchStats};
use arrow_schema::{Field, Schema};
use parquet::arrow::arrow_reader::ArrowReaderMetadata;
use parquet::file::metadata::ParquetMetaData;
use parquet::schema::types::SchemaDescriptor;
use std::sync::Arc;

/// What to read (the WIT `scan-request` with defaults filled in).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanRequest {
    /// Columns to return in this order; `None` for all, empty for none (the
    /// batches then only count rows).
    pub columns: Option<Vec<String>>,
    /// Rows to keep; `None` for all.
    pub filter: Option<Expr>,
    /// Matching rows to skip first.
    pub offset: u64,
    /// Most rows to return.
    pub limit: Option<u64>,
    /// Most rows per batch; `None` for the default.
    pub batch_size: Option<u32>,
    /// Most bytes the engine may hold while the scan runs; `None` for
    /// [`MemoryBudget::DEFAULT_LIMIT`].
    pub memory_limit: Option<u64>,
    /// Row groups to read, in increasing order; `None` for all of them.
    pub row_groups: Option<Vec<usize>>,
}

impl ScanRequest {
    /// Rows per batch when the request names none.
    pub const DEFAULT_BATCH_SIZE: u32 = 8192;
    /// Largest batch a caller may ask for: bounds the memory of one batch.
    pub const MAX_BATCH_SIZE: u32 = 1 << 20;
}

/// A checked request with its plan, before the stream starts.
pub(super) struct Prepared {
    pub plan: ScanPlan,
    /// The row groups the scan covers (all of the file's, or those asked for).
    pub groups: Vec<usize>,
    pub factory: DecoderFactory,
    pub schema: Arc<Schema>,
    pub stats: ScanStats,
}

/// Checks `request`, loads the page index entries it needs (usually from the
/// tail read at open, else in one wave) and plans the scan.
pub(super) fn prepare(
    source: &SharedFile,
    metadata: &ArrowReaderMetadata,
    request: &ScanRequest,
) -> Result<Prepared> {
    let file_schema = Arc::clone(metadata.schema());
    let batch_size = request
        .batch_size
        .unwrap_or(ScanRequest::DEFAULT_BATCH_SIZE);
    if batch_size == 0 || batch_size > ScanRequest::MAX_BATCH_SIZE {
        return Err(Error::InvalidArgument(format!(
            "batch size must be between 1 and {}, not {batch_size}",
            ScanRequest::MAX_BATCH_SIZE
        )));
    }
    let budget = MemoryBudget::new(request.memory_limit)?;
    let descriptor = metadata.parquet_schema();
    let outputs = output_columns(&file_schema, request.columns.as_deref())?;
    let output_leaves = leaves_of(descriptor, &outputs);
    let schema = Arc::new(output_schema(&file_schema, &outputs));

    let predicate: Option<Arc<BoundPredicate>> = request
        .filter
        .as_ref()
        .map(|filter| bind(filter, &file_schema).map(Arc::new))
        .transpose()?;
    let filter_paths: Vec<ColumnPath> = match &predicate {
        Some(predicate) => predicate
            .columns()
            .iter()
            .map(|name| find_path(&file_schema, name))
            .collect::<Result<_>>()?,
        None => Vec::new(),
    };
    let filter_leaves = leaves_of(descriptor, &filter_paths);

    let parquet_metadata = metadata.metadata();
    let mut read_leaves = output_leaves.clone();
    read_leaves.extend(&filter_leaves);
    read_leaves.sort_unstable();
    read_leaves.dedup();
    // Page locations pay only when some rows will be skipped: with a filter,
    // or an offset or limit.
    let skips_rows = predicate.is_some() || request.offset > 0 || request.limit.is_some();
    let needs = IndexNeeds {
        column_index: filter_paths
            .iter()
            .filter_map(|path| leaf_of_path(descriptor, path))
            .collect(),
        offset_index: if skips_rows {
            read_leaves.clone()
        } else {
            Vec::new()
        },
    };
    let groups = covered_row_groups(
        request.row_groups.as_deref(),
        parquet_metadata.num_row_groups(),
    )?;
    let (page_index, index_traffic) = {
        let mut remote = source.borrow_mut();
        let before = remote.stats();
        let page_index = load_page_index(&mut remote, parquet_metadata, &groups, &needs)?;
        (page_index, remote.stats().since(before))
    };
    let mut scan_plan = plan(
        parquet_metadata,
        page_index.as_ref(),
        &file_schema,
        predicate.as_deref(),
        &read_leaves,
        &groups,
    )?;
    let mut probe_traffic = FetchStats::default();
    match &predicate {
        None => apply_offset_limit(
            &mut scan_plan,
            parquet_metadata,
            request.offset,
            request.limit,
        ),
        Some(predicate) if !predicate.equalities_and_inequalities().is_empty() => {
            probe_traffic = probe_membership(
                source,
                parquet_metadata,
                &file_schema,
                predicate,
                &mut scan_plan,
            )?;
        }
        Some(_) => {}
    }
    let index_traffic = index_traffic.plus(probe_traffic);
    let metadata = match page_index {
        Some(page_index) => arrow_metadata(Arc::new(
            parquet_metadata
                .as_ref()
                .clone()
                .into_builder()
                .set_page_index(Some(Arc::new(page_index)))
                .build(),
        ))?,
        None => metadata.clone(),
    };
    let covered = groups.len() as u32;
    Ok(Prepared {
        plan: scan_plan,
        groups,
        factory: DecoderFactory {
            metadata,
            output_leaves,
            filter_leaves,
            predicate,
            batch_size: batch_size as usize,
            schema: Arc::clone(&schema),
            budget,
        },
        schema,
        stats: ScanStats {
            row_groups: covered,
            fetch: index_traffic,
            index: index_traffic,
            ..ScanStats::default()
        },
    })
}

/// Probes the bloom filters and dictionaries that the predicate's
/// equalities and inequalities can use, in the planned row groups, and
/// prunes the row groups they rule out. One wave for both (none where they
/// lie in the tail read at open), made only when more than a round trip's
/// worth of the filter columns' bytes is at stake. Returns the traffic.
fn probe_membership(
    source: &SharedFile,
    metadata: &ParquetMetaData,
    schema: &Schema,
    predicate: &BoundPredicate,
    scan_plan: &mut ScanPlan,
) -> Result<FetchStats> {
    let groups: Vec<usize> = scan_plan.groups.iter().map(|g| g.group).collect();
    let leaf = |name: &str| leaf_of(metadata, schema, name);
    let mut remote = source.borrow_mut();
    let blooms = BloomPlan::new(metadata, predicate, &groups, remote.size(), leaf);
    let dictionaries = DictionaryPlan::new(metadata, predicate, &groups, leaf);
    let ranges: Vec<_> = blooms
        .ranges()
        .into_iter()
        .chain(dictionaries.ranges())
        .collect();
    // What pruning a row group saves before its first phase: the pages of
    // the filter's columns it would read (late materialization already
    // saves the other columns' pages of row groups without matches).
    let filter_leaves: Vec<usize> = predicate
        .columns()
        .iter()
        .filter_map(|name| leaf(name))
        .collect();
    let at_stake: u64 = scan_plan
        .groups
        .iter()
        .map(|planned| {
            let row_group = metadata.row_group(planned.group);
            let rows = row_group.num_rows().max(1) as u64;
            let selected = planned
                .selection
                .as_ref()
                .map_or(rows, |selection| selection.row_count() as u64);
            let bytes: u64 = filter_leaves
                .iter()
                .map(|&leaf| row_group.column(leaf).byte_range().1)
                .sum();
            bytes * selected / rows
        })
        .sum();
    let round_trip_bytes =
        FetchOptions::ASSUMED_BYTES_PER_SECOND * FetchOptions::ASSUMED_ROUND_TRIP_MS / 1000;
    let free = ranges.iter().all(|range| remote.is_cached(range));
    if ranges.is_empty() || (!free && at_stake <= round_trip_bytes) {
        return Ok(FetchStats::default());
    }
    let before = remote.stats();
    remote.prefetch(&ranges)?;
    let blooms = blooms.answer(&mut remote)?;
    let dictionaries = dictionaries.answer(&mut remote, metadata)?;
    let traffic = remote.stats().since(before);
    prune_by_membership(
        scan_plan,
        metadata,
        schema,
        predicate,
        &blooms,
        &dictionaries,
    )?;
    Ok(traffic)
}

impl BatchStream {
    /// Starts the scan `request` of the file behind `source`.
    pub(super) fn start(
        source: SharedFile,
        metadata: &ArrowReaderMetadata,
        request: &ScanRequest,
        compute: Compute,
    ) -> Result<Self> {
        let prepared = prepare(&source, metadata, request)?;
        Ok(BatchStream::new(
            source,
            prepared.factory,
            prepared.schema,
            prepared.plan,
            (request.offset, request.limit),
            prepared.stats,
            compute,
        ))
    }
}

/// The row groups a scan covers: `requested` once checked (in range, in
/// increasing order, none twice), else every row group of the file.
fn covered_row_groups(requested: Option<&[usize]>, in_file: usize) -> Result<Vec<usize>> {
    let Some(requested) = requested else {
        return Ok((0..in_file).collect());
    };
    if let Some(&group) = requested.iter().find(|&&group| group >= in_file) {
        return Err(Error::InvalidArgument(format!(
            "row group {group} does not exist: the file has {in_file}"
        )));
    }
    if requested.windows(2).any(|pair| pair[0] >= pair[1]) {
        return Err(Error::InvalidArgument(format!(
            "row groups must be listed in increasing order, each once: {requested:?}"
        )));
    }
    Ok(requested.to_vec())
}

/// The output columns, in the order requested: every top-level column when
/// `columns` is `None`.
fn output_columns(schema: &Schema, columns: Option<&[String]>) -> Result<Vec<ColumnPath>> {
    let paths: Vec<ColumnPath> = match columns {
        None => (schema.fields().iter().enumerate())
            .map(|(root, field)| ColumnPath {
                root,
                names: vec![field.name().clone()],
                field: Arc::clone(field),
            })
            .collect(),
        Some(names) => names
            .iter()
            .map(|name| find_path(schema, name))
            .collect::<Result<_>>()?,
    };
    for (position, path) in paths.iter().enumerate() {
        let within = |outer: &ColumnPath, inner: &ColumnPath| {
            outer.root == inner.root && inner.names.starts_with(&outer.names)
        };
        if let Some(earlier) = paths[..position]
            .iter()
            .find(|earlier| within(earlier, path) || within(path, earlier))
        {
            let message = if earlier == path {
                format!("column {:?} is listed twice", path.name())
            } else {
                format!(
                    "columns {:?} and {:?} overlap: list one of them",
                    earlier.name(),
                    path.name()
                )
            };
            return Err(Error::InvalidArgument(message));
        }
    }
    Ok(paths)
}

/// The schema of the batches: a top-level column for each column requested
/// (fields of one struct share their top-level column, which keeps only the
/// fields named), in the order first requested.
fn output_schema(file_schema: &Schema, outputs: &[ColumnPath]) -> Schema {
    let mut roots: Vec<usize> = Vec::new();
    for path in outputs {
        if !roots.contains(&path.root) {
            roots.push(path.root);
        }
    }
    let fields: Vec<Field> = roots
        .iter()
        .map(|&root| {
            let below: Vec<&[String]> = outputs
                .iter()
                .filter(|path| path.root == root)
                .map(|path| &path.names[1..])
                .collect();
            prune_field(file_schema.field(root), &below)
        })
        .collect();
    Schema::new_with_metadata(fields, file_schema.metadata().clone())
}

/// Every Parquet leaf under `paths`, in file order, each once.
fn leaves_of(descriptor: &SchemaDescriptor, paths: &[ColumnPath]) -> Vec<usize> {
    let mut leaves: Vec<usize> = paths
        .iter()
        .flat_map(|path| leaves_under(descriptor, path))
        .collect();
    leaves.sort_unstable();
    leaves.dedup();
    leaves
}
