//! Implementation of the `quiver:engine/scan` interface.

use super::Engine;
use super::compute::{compute, wit_reports};
use super::filter::from_nodes;
use super::range_fetch::{open_remote, wit_stats};
use crate::bindings::exports::quiver::engine::scan::{
    BatchStream as WitBatchStream, ColumnInfo, FetchStats as WitFetchStats, FileMetadata, Guest,
    GuestBatchStream, GuestParquetFile, LayoutAdvice, OpenOptions, OpenPath, OpenStats,
    ParquetFile as WitParquetFile, RowFilter, RowGroupInfo, RowGroupPlan, RowGroupVerdict,
    ScanEvent, ScanPlan, ScanProgress, ScanRequest as WitScanRequest, ScanStats as WitScanStats,
    SchemaNode,
};
use crate::bindings::exports::quiver::engine::types::ByteRange;
use crate::bindings::exports::quiver::engine::types::Error as WitError;
use crate::error::Result;
use crate::filter::parse_where;
use crate::ipc::encode_schema;
use crate::scan::{BatchStream, ParquetFile, PrunedBy, ScanRequest, Verdict};
use crate::source;
use arrow_schema::Schema;
use parquet::basic::{
    ConvertedType, DecimalType, IntType, LogicalType, Repetition, TimeType, TimeUnit, TimestampType,
};
use parquet::schema::types::Type;
use std::cell::RefCell;

/// The `parquet-file` resource.
pub struct ParquetFileResource(ParquetFile);

/// The `batch-stream` resource.
pub struct BatchStreamResource {
    stream: RefCell<BatchStream>,
}

impl Guest for Engine {
    type ParquetFile = ParquetFileResource;
    type BatchStream = BatchStreamResource;

    fn open(url: String, options: OpenOptions) -> Result<WitParquetFile, WitError> {
        let remote = open_remote(&url, options.fetch)?;
        Ok(WitParquetFile::new(ParquetFileResource(ParquetFile::open(
            remote,
        )?)))
    }
}

impl GuestParquetFile for ParquetFileResource {
    fn metadata(&self) -> FileMetadata {
        describe(&self.0)
    }

    fn scan(&self, request: WitScanRequest) -> Result<WitBatchStream, WitError> {
        let compute = compute(request.compute)?;
        let stream = self.0.scan_on(core_request(request)?, compute)?;
        Ok(WitBatchStream::new(BatchStreamResource {
            stream: RefCell::new(stream),
        }))
    }

    fn fetch_stats(&self) -> WitFetchStats {
        wit_stats(self.0.source().borrow().stats())
    }

    fn explain(&self, request: WitScanRequest) -> Result<ScanPlan, WitError> {
        let explanation = self.0.explain(&core_request(request)?)?;
        let byte_ranges = |ranges: Vec<std::ops::Range<u64>>| {
            ranges
                .into_iter()
                .map(|range| ByteRange {
                    offset: range.start,
                    length: range.end - range.start,
                })
                .collect()
        };
        Ok(ScanPlan {
            row_groups: explanation
                .groups
                .iter()
                .map(|group| RowGroupPlan {
                    num_rows: group.rows,
                    verdict: match group.verdict {
                        Verdict::Read => RowGroupVerdict::Read,
                        Verdict::Pruned(PrunedBy::Statistics) => {
                            RowGroupVerdict::PrunedByStatistics
                        }
                        Verdict::Pruned(PrunedBy::PageIndex) => RowGroupVerdict::PrunedByPageIndex,
                        Verdict::Pruned(PrunedBy::BloomFilter) => {
                            RowGroupVerdict::PrunedByBloomFilter
                        }
                        Verdict::Pruned(PrunedBy::Dictionary) => {
                            RowGroupVerdict::PrunedByDictionary
                        }
                        Verdict::Skipped => RowGroupVerdict::Skipped,
                    },
                    rows_selected: group.rows_selected,
                    pages_pruned: group.pages_pruned,
                })
                .collect(),
            late_materialization: explanation.late_materialization,
            first_phase: byte_ranges(explanation.first_phase),
            second_phase: byte_ranges(explanation.second_phase),
            index: wit_stats(explanation.index),
            file_size: explanation.file_size,
            estimated_bytes: explanation.estimated_bytes,
        })
    }

    fn open_stats(&self) -> OpenStats {
        let path = match self.0.source().borrow().open_path() {
            source::OpenPath::SuffixRange => OpenPath::SuffixRange,
            source::OpenPath::WholeFile => OpenPath::WholeFile,
            source::OpenPath::RangeAfter416 => OpenPath::RangeAfter416,
            source::OpenPath::RangeAfterProbe => OpenPath::RangeAfterProbe,
            source::OpenPath::LocalFile => OpenPath::LocalFile,
        };
        OpenStats {
            path,
            fetch: wit_stats(self.0.open_traffic()),
        }
    }
}

impl GuestBatchStream for BatchStreamResource {
    fn schema(&self) -> Vec<u8> {
        // Encoding a schema that came from a decoded file cannot fail; an
        // empty stream would be rejected by every reader, never misread.
        encode_schema(self.stream.borrow().schema()).unwrap_or_default()
    }

    fn next(&self) -> Result<Option<Vec<u8>>, WitError> {
        Ok(self.stream.borrow_mut().next_ipc()?)
    }

    fn progress(&self) -> ScanProgress {
        wit_progress(self.stream.borrow().progress())
    }

    fn next_event(&self) -> Result<Option<ScanEvent>, WitError> {
        let mut stream = self.stream.borrow_mut();
        Ok(match stream.next_ipc_event()? {
            Some(Some(batch)) => Some(ScanEvent::Batch(batch)),
            Some(None) => Some(ScanEvent::Progress(wit_progress(stream.progress()))),
            None => None,
        })
    }

    fn stats(&self) -> WitScanStats {
        let stream = self.stream.borrow();
        let stats = stream.stats();
        WitScanStats {
            row_groups: stats.row_groups,
            row_groups_pruned: stats.row_groups_pruned,
            row_groups_scanned: stats.row_groups_scanned,
            pages_pruned: stats.pages_pruned,
            rows_scanned: stats.rows_scanned,
            rows_matched: stats.rows_matched,
            rows_returned: stats.rows_returned,
            fetch: wit_stats(stats.fetch),
            index: wit_stats(stats.index),
            gpu_adapter: stream.gpu_adapter(),
            kernels: wit_reports(&stream.kernels()),
        }
    }
}

fn core_request(request: WitScanRequest) -> Result<ScanRequest> {
    let filter = match request.filter {
        None => None,
        Some(RowFilter::Sql(text)) => Some(parse_where(&text)?),
        Some(RowFilter::Expression(expression)) => Some(from_nodes(&expression)?),
    };
    Ok(ScanRequest {
        columns: request.columns,
        filter,
        offset: request.offset.unwrap_or(0),
        limit: request.limit,
        batch_size: request.batch_size,
        memory_limit: request.memory_limit,
        row_groups: request
            .row_groups
            .map(|groups| groups.into_iter().map(|group| group as usize).collect()),
    })
}

fn wit_progress(progress: crate::scan::ScanProgress) -> ScanProgress {
    ScanProgress {
        row_groups_total: progress.row_groups_total,
        row_groups_done: progress.row_groups_done,
        bytes_fetched: progress.bytes_fetched,
        bytes_planned: progress.bytes_planned,
    }
}

fn describe(file: &ParquetFile) -> FileMetadata {
    let metadata = file.metadata();
    let footer = metadata.file_metadata();
    let schema = file.arrow_schema();
    let descriptor = footer.schema_descr();
    let columns = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(root, field)| {
            let leaf = (0..descriptor.num_columns())
                .find(|&leaf| descriptor.get_column_root_idx(leaf) == root);
            let group = descriptor.root_schema().get_fields().get(root);
            let (physical_type, logical_type) = match (leaf, group) {
                (Some(leaf), Some(node)) if node.is_primitive() => {
                    let column = descriptor.column(leaf);
                    (
                        column.physical_type().to_string(),
                        column.logical_type_ref().map(logical_type_name),
                    )
                }
                _ => (
                    "GROUP".to_string(),
                    group
                        .and_then(|n| n.get_basic_info().logical_type_ref().map(logical_type_name)),
                ),
            };
            ColumnInfo {
                name: field.name().clone(),
                physical_type,
                logical_type,
                arrow_type: field.data_type().to_string(),
                nullable: field.is_nullable(),
            }
        })
        .collect();
    let row_groups = metadata
        .row_groups()
        .iter()
        .map(|group| RowGroupInfo {
            num_rows: u64::try_from(group.num_rows()).unwrap_or(0),
            compressed_size: u64::try_from(group.compressed_size()).unwrap_or(0),
            uncompressed_size: u64::try_from(group.total_byte_size()).unwrap_or(0),
        })
        .collect();
    let source = file.source().borrow();
    FileMetadata {
        size: source.size(),
        etag: source.validator().map(str::to_owned),
        num_rows: u64::try_from(footer.num_rows()).unwrap_or(0),
        version: footer.version(),
        created_by: footer.created_by().map(str::to_owned),
        columns,
        schema_tree: schema_tree(descriptor.root_schema(), schema),
        row_groups,
        key_value: footer
            .key_value_metadata()
            .map(|pairs| {
                pairs
                    .iter()
                    .map(|kv| (kv.key.clone(), kv.value.clone()))
                    .collect()
            })
            .unwrap_or_default(),
        arrow_schema: encode_schema(schema).unwrap_or_default(),
        layout_advice: (file.layout_advice().into_iter())
            .map(|advice| LayoutAdvice {
                rule: advice.rule.to_owned(),
                columns: advice.columns,
                reason: advice.reason,
                fix: advice.fix,
            })
            .collect(),
    }
}

/// Every node of `root` (the Parquet schema) but `root` itself, in
/// pre-order; top-level nodes carry the type of their field in `arrow`.
fn schema_tree(root: &Type, arrow: &Schema) -> Vec<SchemaNode> {
    let mut nodes = Vec::new();
    // Nodes still to list, the next one last; a loop rather than recursion,
    // so that no schema, however deep, can exhaust the stack.
    let mut pending: Vec<(&Type, u32, Option<String>)> = root
        .get_fields()
        .iter()
        .enumerate()
        .rev()
        .map(|(index, node)| {
            let arrow_type = arrow
                .fields()
                .get(index)
                .filter(|field| field.name() == node.name())
                .map(|field| field.data_type().to_string());
            (node.as_ref(), 0, arrow_type)
        })
        .collect();
    while let Some((node, depth, arrow_type)) = pending.pop() {
        let info = node.get_basic_info();
        let repetition = match info.has_repetition().then(|| info.repetition()) {
            Some(Repetition::OPTIONAL) => "optional",
            Some(Repetition::REPEATED) => "repeated",
            // A node without one is read as required.
            _ => "required",
        };
        let logical_type = match (info.logical_type_ref(), info.converted_type()) {
            (Some(logical), _) => Some(logical_type_name(logical)),
            (None, ConvertedType::NONE) => None,
            (None, ConvertedType::DECIMAL) if node.is_primitive() => Some(format!(
                "DECIMAL({},{})",
                node.get_precision(),
                node.get_scale()
            )),
            (None, converted) => Some(converted.to_string()),
        };
        nodes.push(SchemaNode {
            name: info.name().to_owned(),
            depth,
            repetition: repetition.to_owned(),
            physical_type: node
                .is_primitive()
                .then(|| node.get_physical_type().to_string()),
            logical_type,
            arrow_type,
        });
        if node.is_group() {
            let children = node.get_fields().iter().rev();
            pending.extend(children.map(|child| (child.as_ref(), depth + 1, None)));
        }
    }
    nodes
}

/// A Parquet logical type as people write it: `Decimal(10,2)`,
/// `Timestamp(MICROS,UTC)`, `Integer(8,signed)`, `String`.
fn logical_type_name(logical: &LogicalType) -> String {
    let unit = |unit: &TimeUnit| match unit {
        TimeUnit::MILLIS => "MILLIS",
        TimeUnit::MICROS => "MICROS",
        TimeUnit::NANOS => "NANOS",
    };
    let zone = |utc: bool| if utc { "UTC" } else { "local" };
    match logical {
        LogicalType::Decimal(DecimalType { scale, precision }) => {
            format!("Decimal({precision},{scale})")
        }
        LogicalType::Integer(IntType {
            bit_width,
            is_signed,
        }) => {
            format!(
                "Integer({bit_width},{})",
                if *is_signed { "signed" } else { "unsigned" }
            )
        }
        LogicalType::Timestamp(TimestampType {
            is_adjusted_to_u_t_c,
            unit: u,
        }) => {
            format!("Timestamp({},{})", unit(u), zone(*is_adjusted_to_u_t_c))
        }
        LogicalType::Time(TimeType {
            is_adjusted_to_u_t_c,
            unit: u,
        }) => {
            format!("Time({},{})", unit(u), zone(*is_adjusted_to_u_t_c))
        }
        other => format!("{other:?}"),
    }
}
