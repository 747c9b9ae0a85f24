//! What a scan of many files asks of each: which files are read (their
//! partition values tested by the engine's filter), the filter and columns
//! each file's scan gets, and how each output batch is put together from a
//! file's batch and the file's partition values.

use super::Failure;
use anyhow::Context;
use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions, new_null_array};
use arrow_schema::{DataType, Schema, SchemaRef};
use quiver_host::bindings::EngineError;
use quiver_host::bindings::filter::{ComputePreference, Expression, Literal};
use quiver_host::bindings::scan::{ColumnInfo, FileMetadata, RowFilter};
use quiver_host::dataset::{Dataset, parse_date};
use quiver_host::runtime::Session;
use quiver_host::where_split::{split, substitute};
use std::sync::Arc;

/// The files a query reads and what it asks of each.
pub struct Query {
    /// Indices into the dataset's files of those read, in order.
    pub files: Vec<usize>,
    /// Files left out by their partition values.
    pub pruned_by_partition: usize,
    /// The filter of each file's scan: the WHERE clause less its conditions
    /// on partition keys alone, with other uses of partition keys still to
    /// be replaced by the file's values (see [`Query::filter_for`]).
    filter: Option<RowFilter>,
    /// The columns asked of each file (`None`: all of them).
    pub file_columns: Option<Vec<String>>,
    /// The columns asked for, partition keys included (`None`: every file
    /// column, then every partition key).
    requested: Option<Vec<String>>,
}

impl Query {
    /// Plans the query: where the WHERE clause tests partition keys, the
    /// `planner` instance splits it and evaluates those conditions on the
    /// files' partition values.
    pub async fn plan(
        dataset: &Dataset,
        where_clause: Option<&str>,
        columns: Option<&[String]>,
        planner: Option<&mut Session>,
    ) -> Result<Self, Failure> {
        let all: Vec<usize> = (0..dataset.files.len()).collect();
        let is_key = |name: &str| dataset.partition_position(name).is_some();
        let file_columns =
            columns.map(|names| names.iter().filter(|name| !is_key(name)).cloned().collect());
        let mut query = Self {
            files: all.clone(),
            pruned_by_partition: 0,
            filter: where_clause.map(|clause| RowFilter::Sql(clause.to_owned())),
            file_columns,
            requested: columns.map(<[String]>::to_vec),
        };
        let (Some(clause), Some(planner)) = (where_clause, planner) else {
            return Ok(query);
        };
        let expression = planner.parse_where(clause).await??;
        let halves = split(&expression, is_key);
        query.filter = halves.rows.map(RowFilter::Expression);
        if let Some(condition) = halves.partition {
            let selected = select_files(dataset, &condition, planner).await?;
            query.files = all.into_iter().filter(|&file| selected[file]).collect();
            query.pruned_by_partition = dataset.files.len() - query.files.len();
        }
        Ok(query)
    }

    /// What `file`'s scan asks for: its columns, and its filter (see
    /// [`Query::filter_for`]).
    pub fn request_of(
        &self,
        dataset: &Dataset,
        file: usize,
    ) -> (Option<Vec<String>>, Option<RowFilter>) {
        (self.file_columns.clone(), self.filter_for(dataset, file))
    }

    /// The filter of `file`'s scan: partition keys in it become the file's
    /// values.
    fn filter_for(&self, dataset: &Dataset, file: usize) -> Option<RowFilter> {
        match &self.filter {
            Some(RowFilter::Expression(expression)) => {
                let value_of = |name: &str| {
                    let key = dataset.partition_position(name)?;
                    let value = dataset.files[file].partition_values[key].as_deref();
                    Some(match (value, &dataset.partition_keys[key].data_type) {
                        (None, _) => Literal::Null,
                        (Some(value), DataType::Int64) => {
                            value.parse().map_or(Literal::Null, Literal::Integer)
                        }
                        (Some(value), DataType::Date32) => {
                            parse_date(value).map_or(Literal::Null, Literal::Date)
                        }
                        (Some(value), _) => Literal::Text(value.to_owned()),
                    })
                };
                Some(RowFilter::Expression(substitute(expression, value_of)))
            }
            other => other.clone(),
        }
    }

    /// Checks that `file`'s columns agree with those of `first` (the file
    /// whose schema the output takes): the columns read must exist in both
    /// with one type, and without `--columns` both must have the same ones.
    pub fn check_schema(
        &self,
        first: (&str, &FileMetadata),
        file: (&str, &FileMetadata),
    ) -> Result<(), EngineError> {
        let ((first_url, first), (url, other)) = (first, file);
        let find = |metadata: &FileMetadata, name: &str| -> Option<ColumnInfo> {
            metadata.columns.iter().find(|c| c.name == name).cloned()
        };
        let names: Vec<String> = match &self.file_columns {
            Some(names) => names.clone(),
            None => {
                if let Some(extra) = other
                    .columns
                    .iter()
                    .find(|c| find(first, &c.name).is_none())
                {
                    return Err(EngineError::ColumnNotFound(format!(
                        "the files' schemas differ: {url} has a column {:?} that {first_url} \
                         lacks (name the columns to read with --columns)",
                        extra.name
                    )));
                }
                first.columns.iter().map(|c| c.name.clone()).collect()
            }
        };
        for name in names {
            let (Some(expected), found) = (find(first, &name), find(other, &name)) else {
                continue; // the scan of the first file reports it
            };
            match found {
                None => {
                    return Err(EngineError::ColumnNotFound(format!(
                        "the files' schemas differ: {url} has no column {name:?}, which \
                         {first_url} has"
                    )));
                }
                Some(found) if found.arrow_type != expected.arrow_type => {
                    return Err(EngineError::TypeMismatch(format!(
                        "the files' schemas differ: column {name:?} is {} in {url} but {} \
                         in {first_url}",
                        found.arrow_type, expected.arrow_type
                    )));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// How output batches are made from the batches of a file's scan, whose
    /// schema (the engine's, for the columns the query asks of the file) is
    /// `scan_schema`.
    pub fn layout(&self, dataset: &Dataset, scan_schema: &Schema) -> Result<Layout, Failure> {
        if let Some(field) = scan_schema
            .fields()
            .iter()
            .find(|field| dataset.partition_position(field.name()).is_some())
        {
            return Err(EngineError::InvalidArgument(format!(
                "the files have a column {:?}, which is also a partition key of their paths",
                field.name()
            ))
            .into());
        }
        let output: Vec<String> = match &self.requested {
            Some(names) => names.clone(),
            None => {
                // After the file's columns, the partition keys by name, as
                // DuckDB orders them.
                let mut keys: Vec<String> = dataset
                    .partition_keys
                    .iter()
                    .map(|key| key.name.clone())
                    .collect();
                keys.sort();
                let columns = scan_schema.fields().iter().map(|f| f.name().clone());
                columns.chain(keys).collect()
            }
        };
        let mut fields = Vec::new();
        let mut sources = Vec::new();
        let mut taken = vec![false; scan_schema.fields().len()];
        for name in &output {
            if let Some(key) = dataset.partition_position(name) {
                fields.push(Arc::new(dataset.partition_field(key)));
                sources.push(Column::Partition(key));
                continue;
            }
            let position = scan_column_of(scan_schema, name).ok_or_else(|| {
                EngineError::ColumnNotFound(format!("there is no column {name:?}"))
            })?;
            // Fields of one struct share its column, placed where first named.
            if !std::mem::replace(&mut taken[position], true) {
                fields.push(Arc::clone(&scan_schema.fields()[position]));
                sources.push(Column::File(position));
            }
        }
        Ok(Layout {
            schema: Arc::new(Schema::new(fields)),
            sources,
        })
    }
}

/// The column of a scan's batches that holds the column `name` asked for:
/// the column of that name (ignoring ASCII case, as the engine does when
/// only one matches), or the struct column a dotted path starts at.
fn scan_column_of(scan_schema: &Schema, name: &str) -> Option<usize> {
    let fields = scan_schema.fields();
    let alike = |field: &str, text: &str| field.eq_ignore_ascii_case(text);
    if let Some(position) = fields.iter().position(|f| f.name() == name) {
        return Some(position);
    }
    let mut matches = (0..fields.len()).filter(|&i| alike(fields[i].name(), name));
    if let (Some(position), None) = (matches.next(), matches.next()) {
        return Some(position);
    }
    fields.iter().position(|field| {
        let root = field.name();
        name.get(..root.len()).is_some_and(|head| alike(root, head))
            && name.as_bytes().get(root.len()) == Some(&b'.')
    })
}

/// Where an output column comes from.
enum Column {
    /// The file scan's column at this position.
    File(usize),
    /// The file's value of this partition key.
    Partition(usize),
}

/// How output batches are assembled.
pub struct Layout {
    /// The output's schema.
    pub schema: SchemaRef,
    sources: Vec<Column>,
}

impl Layout {
    /// The output batch for `batch`, a batch of `file`'s scan.
    pub fn assemble(
        &self,
        dataset: &Dataset,
        file: usize,
        batch: &RecordBatch,
    ) -> anyhow::Result<RecordBatch> {
        let rows = batch.num_rows();
        let columns: Vec<ArrayRef> = self
            .sources
            .iter()
            .zip(self.schema.fields())
            .map(|(source, field)| match source {
                Column::File(position) => Ok(batch.column(*position).clone()),
                Column::Partition(key) => {
                    let value = dataset.partition_column(*key, &[file]);
                    if value.is_null(0) {
                        return Ok(new_null_array(field.data_type(), rows));
                    }
                    let row_zero = arrow_array::UInt32Array::from(vec![0u32; rows]);
                    arrow_select::take::take(&value, &row_zero, None)
                }
            })
            .collect::<Result<_, _>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        RecordBatch::try_new_with_options(Arc::clone(&self.schema), columns, &options)
            .context("the engine's batch does not match the file's schema")
    }
}

/// Which files `condition` (on partition keys only) keeps: the engine
/// evaluates it on a batch holding one row of partition values per file.
async fn select_files(
    dataset: &Dataset,
    condition: &Expression,
    planner: &mut Session,
) -> Result<Vec<bool>, Failure> {
    let files: Vec<usize> = (0..dataset.files.len()).collect();
    let fields: Vec<_> = (0..dataset.partition_keys.len())
        .map(|key| dataset.partition_field(key))
        .collect();
    let columns = (0..dataset.partition_keys.len())
        .map(|key| dataset.partition_column(key, &files))
        .collect();
    let batch =
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).context("partition values")?;
    let mut ipc = Vec::new();
    {
        let mut writer = arrow_ipc::writer::StreamWriter::try_new(&mut ipc, &batch.schema())
            .context("partition values")?;
        writer.write(&batch).context("partition values")?;
        writer.finish().context("partition values")?;
    }
    let selection = planner
        .evaluate(condition, &ipc, ComputePreference::Auto)
        .await??;
    Ok(files
        .iter()
        .map(|&file| {
            selection
                .bits
                .get(file / 8)
                .is_some_and(|byte| byte >> (file % 8) & 1 == 1)
        })
        .collect())
}
