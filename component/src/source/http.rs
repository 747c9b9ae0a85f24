//! HTTP(S) range requests through the standard `wasi:http` import.
//!
//! All requests of a batch are started first and then driven together with a
//! single `wasi:io/poll.poll` over every pending response and body, so a wave
//! of N ranges costs one round trip, not N.

use super::{OpenPath, Opened, Transport};
use crate::error::{Error, Result};
use bytes::Bytes;
use std::ops::Range;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingBody, IncomingResponse, Method,
    OutgoingRequest, RequestOptions, Scheme,
};
use wasip2::io::poll::{Pollable, poll};
use wasip2::io::streams::{InputStream, StreamError};

/// Longest wait for a TCP/TLS connection, in nanoseconds.
const CONNECT_TIMEOUT_NS: u64 = 10_000_000_000;

/// Longest wait for the first byte of a response, or between two bytes of a
/// body, in nanoseconds. Generous: object stores can be slow to start a body.
const IDLE_TIMEOUT_NS: u64 = 30_000_000_000;

/// Bytes asked of a body stream per read call.
const READ_CHUNK: u64 = 1024 * 1024;

/// Largest body accepted from a server that ignores `Range` and sends the
/// whole file on open; beyond it the open fails instead of downloading.
const MAX_WHOLE_BODY: u64 = super::FetchOptions::MAX_TAIL_BYTES;

/// One file on an HTTP(S) server.
#[derive(Debug)]
pub struct HttpTransport {
    url: url::Url,
    size: Option<u64>,
}

/// The `Range` header of one request.
#[derive(Debug, Clone)]
enum WantedBytes {
    /// `bytes=-N`: the last N bytes.
    Suffix(u64),
    /// `bytes=a-b`, inclusive, for the half-open range `a..b+1`.
    Span(Range<u64>),
}

impl WantedBytes {
    fn header(&self) -> String {
        match self {
            WantedBytes::Suffix(n) => format!("bytes=-{n}"),
            WantedBytes::Span(range) => format!("bytes={}-{}", range.start, range.end - 1),
        }
    }

    /// The most body bytes a correct server can send for this request.
    fn max_body(&self) -> u64 {
        match self {
            WantedBytes::Suffix(_) => MAX_WHOLE_BODY,
            WantedBytes::Span(range) => range.end - range.start,
        }
    }
}

/// A complete response.
#[derive(Debug)]
struct Response {
    status: u16,
    content_range: Option<String>,
    validator: Option<String>,
    body: Vec<u8>,
}

/// A request in flight. Fields drop in declaration order, which is the order
/// `wasi:http` requires: a stream before its body, a body before its response.
enum InFlight {
    Waiting(FutureIncomingResponse),
    Reading {
        stream: InputStream,
        _body: IncomingBody,
        _response: IncomingResponse,
        partial: Response,
        max_body: u64,
    },
}

impl HttpTransport {
    /// A transport for an `http://` or `https://` URL.
    pub fn new(url: url::Url) -> Result<Self> {
        if url.host_str().is_none() {
            return Err(Error::InvalidArgument(format!("{url} has no host")));
        }
        Ok(Self { url, size: None })
    }

    fn start(&self, wanted: &WantedBytes) -> Result<FutureIncomingResponse> {
        let invalid =
            |what: &str| Error::Internal(format!("cannot build request for {}: {what}", self.url));
        let headers = Fields::from_list(&[("range".to_string(), wanted.header().into_bytes())])
            .map_err(|e| invalid(&format!("{e:?}")))?;
        let request = OutgoingRequest::new(headers);
        let scheme = if self.url.scheme() == "https" {
            Scheme::Https
        } else {
            Scheme::Http
        };
        let authority = match self.url.port() {
            Some(port) => format!("{}:{port}", self.url.host_str().unwrap_or_default()),
            None => self.url.host_str().unwrap_or_default().to_string(),
        };
        let path = match self.url.query() {
            Some(query) => format!("{}?{query}", self.url.path()),
            None => self.url.path().to_string(),
        };
        request
            .set_method(&Method::Get)
            .map_err(|()| invalid("method"))?;
        request
            .set_scheme(Some(&scheme))
            .map_err(|()| invalid("scheme"))?;
        request
            .set_authority(Some(&authority))
            .map_err(|()| invalid("authority"))?;
        request
            .set_path_with_query(Some(&path))
            .map_err(|()| invalid("path"))?;
        outgoing_handler::handle(request, Some(timeouts()))
            .map_err(|code| self.network_error(&code))
    }

    /// An open whose response was the whole file.
    fn whole_file(&mut self, response: Response, requests: u64, earlier_bytes: u64) -> Opened {
        let size = response.body.len() as u64;
        self.size = Some(size);
        Opened {
            size,
            validator: response.validator,
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
                let validator = response.validator.or(first.validator);
                self.read_tail(
                    total,
                    tail_bytes,
                    validator,
                    OpenPath::RangeAfterProbe,
                    (2, spent),
                )
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
        validator: Option<String>,
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
            validator,
            requests: requests + u64::from(start < size),
            bytes: bytes + tail.len() as u64,
            tail,
            path,
        })
    }

    fn network_error(&self, code: &ErrorCode) -> Error {
        Error::Network(format!("request to {} failed: {code:?}", self.url))
    }

    /// Sends every request, with at most `max_concurrency` in flight, and
    /// returns the responses in the order of `wanted`.
    fn execute(&self, wanted: &[WantedBytes], max_concurrency: usize) -> Result<Vec<Response>> {
        let mut responses: Vec<Option<Response>> = wanted.iter().map(|_| None).collect();
        let mut next_to_start = 0;
        let mut active: Vec<(usize, InFlight)> = Vec::new();
        loop {
            while active.len() < max_concurrency && next_to_start < wanted.len() {
                let future = self.start(&wanted[next_to_start])?;
                active.push((next_to_start, InFlight::Waiting(future)));
                next_to_start += 1;
            }
            if active.is_empty() {
                break;
            }
            let ready = {
                let pollables: Vec<Pollable> = active.iter().map(|(_, f)| f.subscribe()).collect();
                let refs: Vec<&Pollable> = pollables.iter().collect();
                let mut ready = poll(&refs);
                ready.sort_unstable_by(|a, b| b.cmp(a));
                ready
            };
            for position in ready {
                let (index, in_flight) = active.swap_remove(position as usize);
                match self.advance(in_flight, wanted[index].max_body())? {
                    Step::Pending(in_flight) => active.push((index, in_flight)),
                    Step::Done(response) => responses[index] = Some(response),
                }
            }
        }
        responses
            .into_iter()
            .collect::<Option<Vec<Response>>>()
            .ok_or_else(|| Error::Internal("a request finished without a response".into()))
    }

    fn advance(&self, in_flight: InFlight, max_body: u64) -> Result<Step> {
        match in_flight {
            InFlight::Waiting(future) => match future.get() {
                None => Ok(Step::Pending(InFlight::Waiting(future))),
                Some(Err(())) => Err(Error::Internal("response taken twice".into())),
                Some(Ok(Err(code))) => Err(self.network_error(&code)),
                Some(Ok(Ok(response))) => {
                    let partial = {
                        let headers = response.headers();
                        let header = |name: &str| {
                            headers
                                .get(name)
                                .first()
                                .map(|value| String::from_utf8_lossy(value).into_owned())
                        };
                        Response {
                            status: response.status(),
                            content_range: header("content-range"),
                            validator: header("etag").or_else(|| header("last-modified")),
                            body: Vec::new(),
                        }
                    };
                    let body = response
                        .consume()
                        .map_err(|()| Error::Internal("response body taken twice".into()))?;
                    let stream = body
                        .stream()
                        .map_err(|()| Error::Internal("body stream taken twice".into()))?;
                    self.read_available(InFlight::Reading {
                        stream,
                        _body: body,
                        _response: response,
                        partial,
                        max_body,
                    })
                }
            },
            reading @ InFlight::Reading { .. } => self.read_available(reading),
        }
    }

    /// Reads whatever the body stream has without blocking.
    fn read_available(&self, mut in_flight: InFlight) -> Result<Step> {
        let InFlight::Reading {
            stream,
            partial,
            max_body,
            ..
        } = &mut in_flight
        else {
            return Ok(Step::Pending(in_flight));
        };
        loop {
            match stream.read(READ_CHUNK) {
                Ok(chunk) if chunk.is_empty() => return Ok(Step::Pending(in_flight)),
                Ok(chunk) => {
                    partial.body.extend_from_slice(&chunk);
                    let limit = if partial.status == 206 {
                        *max_body
                    } else {
                        MAX_WHOLE_BODY
                    };
                    if partial.body.len() as u64 > limit {
                        return Err(Error::Protocol(format!(
                            "{} sent more than the {limit} bytes asked for (status {})",
                            self.url, partial.status
                        )));
                    }
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(error)) => {
                    return Err(Error::Network(format!(
                        "reading the response from {} failed: {}",
                        self.url,
                        error.to_debug_string()
                    )));
                }
            }
        }
        let InFlight::Reading { partial, .. } = in_flight else {
            unreachable!("matched above")
        };
        Ok(Step::Done(partial))
    }

    fn status_error(&self, status: u16) -> Error {
        Error::HttpStatus {
            url: self.url.to_string(),
            status,
        }
    }
}

/// The result of driving a request forward.
enum Step {
    Pending(InFlight),
    Done(Response),
}

impl InFlight {
    fn subscribe(&self) -> Pollable {
        match self {
            InFlight::Waiting(future) => future.subscribe(),
            InFlight::Reading { stream, .. } => stream.subscribe(),
        }
    }
}

/// Timeouts for every request, so a silent server cannot stall a scan
/// forever. Hosts that cannot enforce one ignore it.
fn timeouts() -> RequestOptions {
    let options = RequestOptions::new();
    let _ = options.set_connect_timeout(Some(CONNECT_TIMEOUT_NS));
    let _ = options.set_first_byte_timeout(Some(IDLE_TIMEOUT_NS));
    let _ = options.set_between_bytes_timeout(Some(IDLE_TIMEOUT_NS));
    options
}

/// Parses `bytes first-last/total` (or `bytes */total`) into (first..last+1, total).
fn parse_content_range(value: &str) -> Option<(Option<Range<u64>>, u64)> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (span, total) = rest.split_once('/')?;
    let total = total.trim().parse().ok()?;
    if span.trim() == "*" {
        return Some((None, total));
    }
    let (first, last) = span.split_once('-')?;
    let first: u64 = first.trim().parse().ok()?;
    let last: u64 = last.trim().parse().ok()?;
    (first <= last && last < total).then_some((Some(first..last + 1), total))
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
                self.size = Some(total);
                let keep_from = response.body.len().saturating_sub(tail_bytes as usize);
                Ok(Opened {
                    size: total,
                    validator: response.validator,
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
                self.size = Some(0);
                Ok(Opened {
                    size: 0,
                    validator: response.validator,
                    tail: Bytes::new(),
                    path: OpenPath::SuffixRange,
                    requests: 1,
                    bytes: spent,
                })
            }
            // Suffix ranges refused, but the size is known.
            (416, Some((None, total))) => self.read_tail(
                total,
                tail_bytes,
                response.validator,
                OpenPath::RangeAfter416,
                (1, spent),
            ),
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
                let content_range = response.content_range.as_deref().and_then(parse_content_range);
                let whole_file = range.start == 0 && range.end == size;
                let acceptable = match (response.status, content_range) {
                    (206, Some((Some(span), total))) => span == *range && total == size,
                    (200, _) => whole_file,
                    (status, _) if !(200..300).contains(&status) => {
                        return Err(self.status_error(status));
                    }
                    _ => false,
                };
                if !acceptable || response.body.len() as u64 != range.end - range.start {
                    return Err(Error::Protocol(format!(
                        "{} answered the range {}-{} with status {}, Content-Range {:?} and {} bytes",
                        self.url,
                        range.start,
                        range.end - 1,
                        response.status,
                        response.content_range,
                        response.body.len()
                    )));
                }
                Ok(Bytes::from(response.body))
            })
            .collect()
    }
}
