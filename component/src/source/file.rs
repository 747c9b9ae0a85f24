//! Local files, read through the standard library (which is `wasi:filesystem`
//! in the WebAssembly build, so only pre-opened directories are reachable).

use super::{Opened, Transport};
use crate::error::{Error, Result};
use bytes::Bytes;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::PathBuf;

/// Reads one local file.
#[derive(Debug)]
pub struct FileTransport {
    path: PathBuf,
    file: Option<File>,
}

impl FileTransport {
    /// A transport for a `file://` URL (opened lazily by [`Transport::open`]).
    pub fn from_url(url: &url::Url) -> Result<Self> {
        let path = url.to_file_path().map_err(|()| {
            Error::InvalidArgument(format!("{url} is not an absolute local file URL"))
        })?;
        Ok(Self { path, file: None })
    }

    fn io_error(&self, error: std::io::Error) -> Error {
        let path = self.path.display();
        match error.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound(format!("{path}: no such file")),
            std::io::ErrorKind::PermissionDenied => Error::PermissionDenied(format!(
                "{path}: access denied (only the directories the host opened are readable)"
            )),
            _ => Error::Io(format!("{path}: {error}")),
        }
    }

    fn read_at(&mut self, range: &Range<u64>) -> Result<Bytes> {
        let Some(file) = self.file.as_mut() else {
            return Err(Error::Internal("file read before it was opened".into()));
        };
        let mut buffer = vec![0; (range.end - range.start) as usize];
        let result = file
            .seek(SeekFrom::Start(range.start))
            .and_then(|_| file.read_exact(&mut buffer));
        result.map_err(|error| self.io_error(error))?;
        Ok(Bytes::from(buffer))
    }
}

impl Transport for FileTransport {
    fn open(&mut self, tail_bytes: u64) -> Result<Opened> {
        let file = File::open(&self.path).map_err(|error| self.io_error(error))?;
        let metadata = file.metadata().map_err(|error| self.io_error(error))?;
        if metadata.is_dir() {
            return Err(Error::InvalidArgument(format!(
                "{} is a directory, not a file",
                self.path.display()
            )));
        }
        let size = metadata.len();
        self.file = Some(file);
        let tail = self.read_at(&(size.saturating_sub(tail_bytes)..size))?;
        Ok(Opened {
            size,
            validator: None,
            bytes: tail.len() as u64,
            tail,
            path: super::OpenPath::LocalFile,
            requests: 1,
        })
    }

    fn fetch(&mut self, ranges: &[Range<u64>], _max_concurrency: usize) -> Result<Vec<Bytes>> {
        ranges.iter().map(|range| self.read_at(range)).collect()
    }
}
