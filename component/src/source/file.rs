//! Local files. In the component they are read through `wasi:filesystem`
//! directly (so only the directories the host opened are reachable, and each
//! read's buffer becomes the returned bytes without a copy); natively through
//! the standard library.

use super::{Opened, Transport};
use crate::error::{Error, Result};
use bytes::Bytes;
use std::ops::Range;
use std::path::PathBuf;

/// Why a local file operation failed, before the path is added.
#[derive(Debug)]
enum FileError {
    NotFound,
    Denied,
    IsDirectory,
    Other(String),
}

/// Reads one local file.
#[derive(Debug)]
pub struct FileTransport {
    path: PathBuf,
    file: Option<platform::OpenFile>,
}

impl FileTransport {
    /// A transport for a `file://` URL (opened lazily by [`Transport::open`]).
    pub fn from_url(url: &url::Url) -> Result<Self> {
        let path = url.to_file_path().map_err(|()| {
            Error::InvalidArgument(format!("{url} is not an absolute local file URL"))
        })?;
        Ok(Self { path, file: None })
    }

    fn error(&self, error: FileError) -> Error {
        let path = self.path.display();
        match error {
            FileError::NotFound => Error::NotFound(format!("{path}: no such file")),
            FileError::Denied => Error::PermissionDenied(format!(
                "{path}: access denied (only the files and directories the host opened are readable)"
            )),
            FileError::IsDirectory => {
                Error::InvalidArgument(format!("{path} is a directory, not a file"))
            }
            FileError::Other(message) => Error::Io(format!("{path}: {message}")),
        }
    }

    fn read_at(&mut self, range: &Range<u64>) -> Result<Bytes> {
        let Some(file) = self.file.as_mut() else {
            return Err(Error::Internal("file read before it was opened".into()));
        };
        file.read_at(range).map_err(|error| self.error(error))
    }
}

impl Transport for FileTransport {
    fn open(&mut self, tail_bytes: u64) -> Result<Opened> {
        let (file, size) =
            platform::OpenFile::open(&self.path).map_err(|error| self.error(error))?;
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

#[cfg(not(target_arch = "wasm32"))]
mod platform {
    use super::FileError;
    use bytes::Bytes;
    use std::fs::File;
    use std::io::{ErrorKind, Read, Seek, SeekFrom};
    use std::ops::Range;
    use std::path::Path;

    /// An open file and its reads, through the standard library.
    #[derive(Debug)]
    pub struct OpenFile(File);

    fn file_error(error: std::io::Error) -> FileError {
        match error.kind() {
            ErrorKind::NotFound => FileError::NotFound,
            ErrorKind::PermissionDenied => FileError::Denied,
            _ => FileError::Other(error.to_string()),
        }
    }

    impl OpenFile {
        /// Opens `path`; returns the file and its size.
        pub fn open(path: &Path) -> Result<(Self, u64), FileError> {
            let file = File::open(path).map_err(file_error)?;
            let metadata = file.metadata().map_err(file_error)?;
            if metadata.is_dir() {
                return Err(FileError::IsDirectory);
            }
            Ok((Self(file), metadata.len()))
        }

        /// The bytes of `range`.
        pub fn read_at(&mut self, range: &Range<u64>) -> Result<Bytes, FileError> {
            let mut buffer = vec![0; (range.end - range.start) as usize];
            self.0
                .seek(SeekFrom::Start(range.start))
                .and_then(|_| self.0.read_exact(&mut buffer))
                .map_err(file_error)?;
            Ok(Bytes::from(buffer))
        }
    }
}

/// Reads through `wasi:filesystem` itself rather than the standard library:
/// the C library under it frees the buffers the host returns with its own
/// `free`, which the engine's allocator never sees (see `memory`), so reads
/// through it would look like memory never given back.
#[cfg(target_arch = "wasm32")]
mod platform {
    use super::FileError;
    use bytes::{Bytes, BytesMut};
    use std::ops::Range;
    use std::path::Path;
    use wasip2::filesystem::preopens::get_directories;
    use wasip2::filesystem::types::{
        Descriptor, DescriptorFlags, DescriptorType, ErrorCode, OpenFlags, PathFlags,
    };

    /// An open file descriptor.
    #[derive(Debug)]
    pub struct OpenFile(Descriptor);

    fn file_error(code: ErrorCode) -> FileError {
        match code {
            ErrorCode::NoEntry => FileError::NotFound,
            ErrorCode::Access | ErrorCode::NotPermitted => FileError::Denied,
            ErrorCode::IsDirectory => FileError::IsDirectory,
            other => FileError::Other(other.message().to_owned()),
        }
    }

    impl OpenFile {
        /// Opens `path` in the innermost pre-opened directory that holds it;
        /// returns the file and its size.
        pub fn open(path: &Path) -> Result<(Self, u64), FileError> {
            let (directory, relative) = get_directories()
                .into_iter()
                .filter_map(|(directory, guest)| {
                    let relative = path.strip_prefix(&guest).ok()?.to_str()?.to_owned();
                    Some((directory, relative))
                })
                .min_by_key(|(_, relative)| relative.len())
                .ok_or(FileError::Denied)?;
            let descriptor = directory
                .open_at(
                    PathFlags::SYMLINK_FOLLOW,
                    &relative,
                    OpenFlags::empty(),
                    DescriptorFlags::READ,
                )
                .map_err(file_error)?;
            let stat = descriptor.stat().map_err(file_error)?;
            if stat.type_ == DescriptorType::Directory {
                return Err(FileError::IsDirectory);
            }
            Ok((Self(descriptor), stat.size))
        }

        /// The bytes of `range`: the host's buffer itself when one read
        /// returns them all, else one buffer of the range's length (hosts
        /// return at most 64 KiB a read; a growing buffer would leave its
        /// old copies behind as holes in linear memory).
        pub fn read_at(&mut self, range: &Range<u64>) -> Result<Bytes, FileError> {
            let length = range.end - range.start;
            let mut gathered = BytesMut::new();
            while (gathered.len() as u64) < length {
                let at = range.start + gathered.len() as u64;
                let (chunk, end) = self
                    .0
                    .read(length - gathered.len() as u64, at)
                    .map_err(file_error)?;
                if gathered.is_empty() {
                    if chunk.len() as u64 == length {
                        return Ok(Bytes::from(chunk));
                    }
                    gathered.reserve(length as usize);
                }
                if chunk.is_empty() && end {
                    return Err(FileError::Other(format!(
                        "the file ended at byte {at}, before byte {} (was it truncated?)",
                        range.end
                    )));
                }
                gathered.extend_from_slice(&chunk);
            }
            Ok(gathered.freeze())
        }
    }
}
