//! Many files read as one table: the sources a user names (files, URLs,
//! directories, glob patterns) expanded into a sorted list of files, and the
//! Hive-style `key=value` folders of their paths as partition columns.
//!
//! This is mechanism only: listing what exists. Which files and rows a query
//! keeps is decided by the engine's filter (see `cli::scan`).

use crate::source::Source;
use anyhow::{Context, Result, bail};
use arrow_array::types::Date32Type;
use arrow_array::{ArrayRef, Date32Array, Int64Array, StringArray};
use arrow_cast::parse::Parser;
use arrow_schema::{DataType, Field};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The partition value Hive writes for NULL.
const HIVE_NULL: &str = "__HIVE_DEFAULT_PARTITION__";

/// One file of a dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// Where the engine reads it.
    pub source: Source,
    /// Its partition values, one per key of the dataset, in key order
    /// (`None` for Hive's NULL).
    pub partition_values: Vec<Option<String>>,
}

/// A partition key and the Arrow type its values are read as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionKey {
    /// The name before `=` in the folder names.
    pub name: String,
    /// `Int64` where every value is a whole number, `Date32` where every
    /// value is a date (`2024-01-15`), else `Utf8`, as DuckDB's
    /// `hive_partitioning` reads them (BIGINT, DATE, VARCHAR).
    pub data_type: DataType,
}

/// The files of a query, in the order their rows are returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    /// The files, sorted by path within each source, sources in the order given.
    pub files: Vec<DataFile>,
    /// The partition keys every file's path has, in path order (none when
    /// the paths have no `key=value` folders).
    pub partition_keys: Vec<PartitionKey>,
}

impl Dataset {
    /// Expands `sources`: an `http(s)://` URL or a file names one file; a
    /// directory names every `*.parquet` file under it; a local pattern with
    /// `*`, `?` or `[…]` (`data/*.parquet`, `data/**/*.parquet`) names the
    /// files it matches. HTTP has no listing: name each URL.
    pub fn resolve(sources: &[String]) -> Result<Self> {
        let mut files: Vec<(Source, Vec<(String, String)>)> = Vec::new();
        for text in sources {
            for source in expand(text)? {
                let path = match &source.local_path {
                    Some(path) => path.to_string_lossy().into_owned(),
                    None => url_path(&source.url),
                };
                files.push((source, hive_segments(&path)));
            }
        }
        let Some((_, first)) = files.first() else {
            bail!("no files to read");
        };
        let names: Vec<String> = first.iter().map(|(key, _)| key.clone()).collect();
        for (source, segments) in &files {
            let keys: Vec<&String> = segments.iter().map(|(key, _)| key).collect();
            if keys != names.iter().collect::<Vec<_>>() {
                bail!(
                    "the files are partitioned differently: {} has the partition keys {keys:?}, {} has {names:?}",
                    source.url,
                    files[0].0.url
                );
            }
        }
        let files: Vec<DataFile> = files
            .into_iter()
            .map(|(source, segments)| DataFile {
                source,
                partition_values: segments
                    .into_iter()
                    .map(|(_, value)| (value != HIVE_NULL).then_some(value))
                    .collect(),
            })
            .collect();
        let partition_keys = names
            .into_iter()
            .enumerate()
            .map(|(position, name)| {
                let all = |is: fn(&str) -> bool| {
                    files
                        .iter()
                        .all(|file| file.partition_values[position].as_deref().is_none_or(is))
                };
                let data_type = if all(|value| value.parse::<i64>().is_ok()) {
                    DataType::Int64
                } else if all(|value| parse_date(value).is_some()) {
                    DataType::Date32
                } else {
                    DataType::Utf8
                };
                PartitionKey { name, data_type }
            })
            .collect();
        Ok(Self {
            files,
            partition_keys,
        })
    }

    /// The position of the partition key `name`, if it is one.
    pub fn partition_position(&self, name: &str) -> Option<usize> {
        self.partition_keys.iter().position(|key| key.name == name)
    }

    /// The field of partition key `position`.
    pub fn partition_field(&self, position: usize) -> Field {
        let key = &self.partition_keys[position];
        Field::new(&key.name, key.data_type.clone(), true)
    }

    /// The value of partition key `position` for each of `files`, as an
    /// array (one row per file).
    pub fn partition_column(&self, position: usize, files: &[usize]) -> ArrayRef {
        let values = files
            .iter()
            .map(|&file| self.files[file].partition_values[position].as_deref());
        match self.partition_keys[position].data_type {
            DataType::Int64 => Arc::new(
                values
                    .map(|value| value.and_then(|v| v.parse::<i64>().ok()))
                    .collect::<Int64Array>(),
            ),
            DataType::Date32 => Arc::new(
                values
                    .map(|value| value.and_then(parse_date))
                    .collect::<Date32Array>(),
            ),
            _ => Arc::new(values.collect::<StringArray>()),
        }
    }
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
pub fn parse_date(text: &str) -> Option<i32> {
    let shaped = text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-';
    shaped.then(|| Date32Type::parse(text)).flatten()
}

/// The files `text` names.
fn expand(text: &str) -> Result<Vec<Source>> {
    let is_url = text.contains("://");
    let is_pattern = !is_url && text.contains(['*', '?', '[']);
    let path = Path::new(text);
    if is_url || (!is_pattern && !path.is_dir()) {
        return Ok(vec![Source::parse(text)?]);
    }
    let pattern = if is_pattern {
        text.to_owned()
    } else {
        path.join("**")
            .join("*.parquet")
            .to_string_lossy()
            .into_owned()
    };
    let mut paths: Vec<PathBuf> = glob::glob(&pattern)
        .with_context(|| format!("invalid pattern {text:?}"))?
        .filter_map(|entry| entry.ok())
        .filter(|path| path.is_file())
        .collect();
    paths.sort();
    if paths.is_empty() {
        bail!("{text:?} names no files");
    }
    paths
        .into_iter()
        .map(|path| Source::parse(&path.to_string_lossy()))
        .collect()
}

/// The path of a URL with each segment decoded (`year%3D2024` is
/// `year=2024`).
fn url_path(url: &str) -> String {
    let Ok(url) = url::Url::parse(url) else {
        return String::new();
    };
    url.path_segments()
        .into_iter()
        .flatten()
        .map(|segment| percent_encoding::percent_decode_str(segment).decode_utf8_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The `key=value` folders of a path (its last part, the file, is not one).
fn hive_segments(path: &str) -> Vec<(String, String)> {
    let mut parts: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
    parts.pop();
    parts
        .into_iter()
        .filter_map(|part| part.split_once('='))
        .filter(|(key, _)| !key.is_empty())
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hive_folders_become_partition_values_and_file_names_do_not() {
        assert_eq!(
            hive_segments("/data/year=2024/region=eu/part=1.parquet"),
            [
                ("year".to_owned(), "2024".to_owned()),
                ("region".to_owned(), "eu".to_owned())
            ]
        );
        assert!(hive_segments("plain/file.parquet").is_empty());
        let url = url_path("http://host/data/year%3D2024/x.parquet");
        assert_eq!(
            hive_segments(&url),
            [("year".to_owned(), "2024".to_owned())]
        );
    }

    #[test]
    fn a_directory_lists_its_parquet_files_sorted_with_typed_partitions() {
        let root = std::env::temp_dir().join(format!("quiver-dataset-test-{}", std::process::id()));
        for (folder, name) in [
            ("year=2024/region=eu", "b.parquet"),
            ("year=2023/region=us", "a.parquet"),
            ("year=2023/region=us", "notes.txt"),
        ] {
            std::fs::create_dir_all(root.join(folder)).unwrap();
            std::fs::write(root.join(folder).join(name), b"x").unwrap();
        }
        let dataset = Dataset::resolve(&[root.to_string_lossy().into_owned()]).unwrap();
        let names: Vec<&str> = dataset
            .files
            .iter()
            .map(|file| file.source.url.rsplit('/').next().unwrap())
            .collect();
        assert_eq!(names, ["a.parquet", "b.parquet"]);
        assert_eq!(dataset.partition_keys[0].data_type, DataType::Int64);
        assert_eq!(parse_date("1970-01-02"), Some(1));
        assert_eq!(parse_date("2024-1-5"), None);
        assert_eq!(dataset.partition_keys[1].data_type, DataType::Utf8);
        assert_eq!(
            dataset.files[1].partition_values,
            [Some("2024".to_owned()), Some("eu".to_owned())]
        );
        let pattern = root.join("year=2023").join("*").join("*.parquet");
        let matched = Dataset::resolve(&[pattern.to_string_lossy().into_owned()]).unwrap();
        assert_eq!(matched.files.len(), 1);
        assert_eq!(matched.partition_keys.len(), 2);
        std::fs::write(root.join("loose.parquet"), b"x").unwrap();
        let error = Dataset::resolve(&[root.to_string_lossy().into_owned()]).unwrap_err();
        assert!(
            error.to_string().contains("partitioned differently"),
            "{error}"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
