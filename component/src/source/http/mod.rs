//! HTTP(S) range requests through the standard `wasi:http` import.
//!
//! The open learns the size and the version (the validator: `ETag`, else
//! `Last-Modified`) in one suffix-range request where the server allows.
//! Later reads pin that version: they carry `If-Match` (or
//! `If-Unmodified-Since`) unless conditional requests are off, and every
//! response's validator is compared with it, so a file that changes mid-scan
//! gives `source-changed`, never rows of two versions.

mod exchange;
mod wave;

use super::{OpenPath, Opened, Resent, Transport};
use crate::error::{Error, Result};
use crate::memory::MemoryBudget;
use crate::source::FetchOptions;
use bytes::Bytes;
use exchange::{Response, WantedBytes, parse_content_range};
use std::ops::Range;
use wave::Requester;

/// One file on an HTTP(S) server.
#[derive(Debug)]
pub struct HttpTransport {
    /// Where requests go: the URL opened, or where it redirected to.
    url: url::Url,
    size: Option<u64>,
    /// The version opened: (`ETag`, `Last-Modified`) as the open saw them.
    version: (Option<String>, Option<String>),
    /// Whether later requests carry a precondition on the version.
    conditional: bool,
    requester: Requester,
}

impl HttpTransport {
    /// A transport for an `http://` or `https://` URL, with the retries,
    /// timeout and preconditions of `options`.
    pub fn new(url: url::Url, options: &FetchOptions) -> Result<Self> {
        if url.host_str().is_none() {
            return Err(Error::InvalidArgument(format!("{url} has no host")));
        }
        Ok(Self {
            url,
            size: None,
            version: (None, None),
            conditional: options.conditional_requests,
            requester: Requester::new(
                options.retry,
                options.idle_timeout_ms,
                MemoryBudget::new(options.memory_limit)?.available(),
            ),
        })
    }

    fn execute(&mut self, wanted: &[WantedBytes], max_concurrency: usize) -> Result<Vec<Response>> {
        let url = self.url.clone();
        self.requester.execute(&url, wanted, max_concurrency)
    }

    /// Remembers the version a response of the open came from, and where it
    /// was served from (later requests skip the redirects).
    fn pin(&mut self, response: &Response) {
        self.url = response.url.clone();
        self.version = (response.etag.clone(), response.last_modified.clone());
        self.requester.precondition = if !self.conditional {
            None
        } else {
            match &self.version {
                // A weak ETag never matches If-Match (strong comparison).
                (Some(etag), _) if !etag.starts_with("W/") => {
                    Some(("if-match".to_string(), etag.clone()))
                }
                (None, Some(modified)) => {
                    Some(("if-unmodified-since".to_string(), modified.clone()))
                }
                _ => None,
            }
        };
    }

    /// The validator of the version opened: its `ETag`, else `Last-Modified`.
    fn validator(&self) -> Option<String> {
        let (etag, last_modified) = &self.version;
        etag.clone().or_else(|| last_modified.clone())
    }

    /// Refuses a response from another version than the one opened.
    fn check_version(&self, response: &Response) -> Result<()> {
        let changed = |what: &str, opened: &str, now: &str| {
            Err(Error::SourceChanged(format!(
                "{} changed after it was opened: its {what} was {opened}, now {now}",
                self.url
            )))
        };
        match (&self.version, &response.etag, &response.last_modified) {
            ((Some(opened), _), Some(now), _) if opened != now => changed("ETag", opened, now),
            ((None, Some(opened)), _, Some(now)) if opened != now => {
                changed("Last-Modified", opened, now)
            }
            _ => Ok(()),
        }
    }

    /// An open whose response was the whole file.
    fn whole_file(&mut self, response: Response, requests: u64, earlier_bytes: u64) -> Opened {
        self.pin(&response);
        let size = response.body.len() as u64;
        self.size = Some(size);
        Opened {
            size,
            validator: self.validator(),
            tail: Bytes::from(response.body),
            path: OpenPath::WholeFile,
            requests,
            bytes: earlier_bytes + size,
        }
    }

    /// Opens with a `bytes=0-0` probe for the size, then reads the tail.
    fn probe_then_read_tail(
        &mut self,
        tail_bytes: u64,
        first: Response,
        spent: u64,
    ) -> Result<Opened> {
        let probe = WantedBytes::Span(0..1);
        let response = self.execute(std::slice::from_ref(&probe), 1)?.remove(0);
        let content_range = response
            .content_range
            .as_deref()
            .and_then(parse_content_range);
        match (response.status, content_range) {
            (206, Some((Some(std::ops::Range { start: 0, end: 1 }), total))) => {
                let spent = spent + response.body.len() as u64;
                self.pin(&response);
                self.read_tail(total, tail_bytes, OpenPath::RangeAfterProbe, (2, spent))
            }
            (200, _) => Ok(self.whole_file(response, 2, spent)),
            (status, _) if !(200..300).contains(&status) => Err(self.status_error(status)),
            _ => Err(Error::Protocol(format!(
                "{} answered a range request (status {}) without a usable Content-Range \
                 ({:?}), so the file's size cannot be learned",
                self.url, first.status, first.content_range
            ))),
        }
    }

    /// Reads the last `tail_bytes` of a file of known `size` as an ordinary
    /// range, after `earlier` (requests, bytes) spent learning the size.
    fn read_tail(
        &mut self,
        size: u64,
        tail_bytes: u64,
        path: OpenPath,
        earlier: (u64, u64),
    ) -> Result<Opened> {
        self.size = Some(size);
        let start = size.saturating_sub(tail_bytes);
        let (requests, bytes) = earlier;
        let tail = if start < size {
            self.fetch(std::slice::from_ref(&(start..size)), 1)?
                .remove(0)
        } else {
            Bytes::new()
        };
        Ok(Opened {
            size,
            validator: self.validator(),
            requests: requests + u64::from(start < size),
            bytes: bytes + tail.len() as u64,
            tail,
            path,
        })
    }

    fn status_error(&self, status: u16) -> Error {
        if status == 412 {
            return Error::SourceChanged(format!(
                "{} changed after it was opened: the server refused the version opened \
                 (412 Precondition Failed)",
                self.url
            ));
        }
        Error::HttpStatus {
            url: self.url.to_string(),
            status,
        }
    }
}

impl Transport for HttpTransport {
    fn open(&mut self, tail_bytes: u64) -> Result<Opened> {
        // A zero-length suffix is not a valid range: ask for one byte instead.
        let wanted = WantedBytes::Suffix(tail_bytes.max(1));
        let response = self.execute(std::slice::from_ref(&wanted), 1)?.remove(0);
        let content_range = response
            .content_range
            .as_deref()
            .and_then(parse_content_range);
        let spent = response.body.len() as u64;
        match (response.status, content_range) {
            (206, Some((Some(span), total))) if span.end == total => {
                if response.body.len() as u64 != span.end - span.start {
                    return Err(Error::Protocol(format!(
                        "{} sent {} bytes for the range {}-{}",
                        self.url,
                        response.body.len(),
                        span.start,
                        span.end - 1
                    )));
                }
                self.pin(&response);
                self.size = Some(total);
                let keep_from = response.body.len().saturating_sub(tail_bytes as usize);
                Ok(Opened {
                    size: total,
                    validator: self.validator(),
                    tail: Bytes::from(response.body).slice(keep_from..),
                    path: OpenPath::SuffixRange,
                    requests: 1,
                    bytes: spent,
                })
            }
            // The server ignored Range and sent the whole file: keep all of
            // it, so every later read is served from memory.
            (200, _) => Ok(self.whole_file(response, 1, 0)),
            // An empty file has no satisfiable range.
            (416, Some((None, 0))) => {
                self.pin(&response);
                self.size = Some(0);
                Ok(Opened {
                    size: 0,
                    validator: self.validator(),
                    tail: Bytes::new(),
                    path: OpenPath::SuffixRange,
                    requests: 1,
                    bytes: spent,
                })
            }
            // Suffix ranges refused, but the size is known.
            (416, Some((None, total))) => {
                self.pin(&response);
                self.read_tail(total, tail_bytes, OpenPath::RangeAfter416, (1, spent))
            }
            // Suffix ranges refused, or answered without a usable
            // Content-Range: learn the size from a one-byte range.
            (416 | 206, _) => self.probe_then_read_tail(tail_bytes, response, spent),
            (status, _) => Err(self.status_error(status)),
        }
    }

    fn fetch(&mut self, ranges: &[Range<u64>], max_concurrency: usize) -> Result<Vec<Bytes>> {
        let size = self
            .size
            .ok_or_else(|| Error::Internal("HTTP read before open".into()))?;
        let wanted: Vec<WantedBytes> = ranges.iter().cloned().map(WantedBytes::Span).collect();
        let responses = self.execute(&wanted, max_concurrency)?;
        ranges
            .iter()
            .zip(responses)
            .map(|(range, response)| {
                let content_range = response
                    .content_range
                    .as_deref()
                    .and_then(parse_content_range);
                let whole_file = range.start == 0 && range.end == size;
                let acceptable = match (response.status, content_range) {
                    (206, Some((Some(span), total))) => span == *range && total == size,
                    (200, _) => whole_file,
                    (status, _) if !(200..300).contains(&status) => {
                        return Err(self.status_error(status));
                    }
                    _ => false,
                };
                self.check_version(&response)?;
                if !acceptable || response.body.len() as u64 != range.end - range.start {
                    return Err(Error::Protocol(format!(
                        "{} answered the range {}-{} ({} bytes) with status {}, {} and {} bytes",
                        self.url,
                        range.start,
                        range.end - 1,
                        range.end - range.start,
                        response.status,
                        response.content_range.as_deref().map_or_else(
                            || "no Content-Range".to_owned(),
                            |value| format!("Content-Range {value:?}")
                        ),
                        response.body.len()
                    )));
                }
                Ok(Bytes::from(response.body))
            })
            .collect()
    }

    fn resent(&self) -> Resent {
        self.requester.resent
    }
}
