//! One HTTP range request through `wasi:http`: building it, and driving its
//! response and body forward without blocking.

use crate::error::{Error, Result};
use crate::memory::human_bytes;
use std::ops::Range;
use url::Url;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingBody, IncomingResponse, Method,
    OutgoingRequest, RequestOptions, Scheme,
};
use wasip2::io::poll::Pollable;
use wasip2::io::streams::{InputStream, StreamError};

/// Longest wait for a TCP/TLS connection, in nanoseconds (or the idle
/// timeout, when that is shorter).
const CONNECT_TIMEOUT_NS: u64 = 10_000_000_000;

/// Bytes asked of a body stream per read call.
const READ_CHUNK: u64 = 1024 * 1024;

/// The `Range` header of one request.
#[derive(Debug, Clone)]
pub(super) enum WantedBytes {
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
    pub(super) fn max_body(&self) -> u64 {
        match self {
            WantedBytes::Suffix(n) => *n,
            WantedBytes::Span(range) => range.end - range.start,
        }
    }
}

/// The most body bytes a response may bring.
#[derive(Debug, Clone, Copy)]
pub(super) struct BodyLimits {
    /// For a `206 Partial Content`: the bytes asked for.
    pub ranged: u64,
    /// For any other status (a server that ignores `Range` and sends the
    /// whole file): what the memory limit leaves.
    pub whole: u64,
}

/// A complete response.
#[derive(Debug)]
pub(super) struct Response {
    /// The URL that answered (the last one, after redirects).
    pub url: Url,
    pub status: u16,
    pub content_range: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub retry_after: Option<String>,
    pub location: Option<String>,
    pub body: Vec<u8>,
}

/// A request in flight. Fields drop in declaration order, which is the order
/// `wasi:http` requires: a stream before its body, a body before its response.
pub(super) enum InFlight {
    Waiting(FutureIncomingResponse, Url),
    Reading {
        stream: InputStream,
        _body: IncomingBody,
        _response: IncomingResponse,
        partial: Response,
        /// The most body bytes accepted (see [`BodyLimits`]).
        max_body: u64,
    },
}

/// The result of driving a request forward.
pub(super) enum Step {
    Pending(InFlight),
    Done(Response),
}

impl InFlight {
    /// Ready when the request can move forward.
    pub(super) fn subscribe(&self) -> Pollable {
        match self {
            InFlight::Waiting(future, _) => future.subscribe(),
            InFlight::Reading { stream, .. } => stream.subscribe(),
        }
    }
}

/// Sends a GET of `wanted` to `url` with `extra` headers (a precondition);
/// it fails when the server is silent for `idle_timeout_ns`.
pub(super) fn start(
    url: &Url,
    wanted: &WantedBytes,
    extra: Option<(&str, &str)>,
    idle_timeout_ns: u64,
) -> Result<InFlight> {
    let invalid = |what: &str| Error::Internal(format!("cannot build request for {url}: {what}"));
    let mut entries = vec![("range".to_string(), wanted.header().into_bytes())];
    if let Some((name, value)) = extra {
        entries.push((name.to_string(), value.as_bytes().to_vec()));
    }
    let headers = Fields::from_list(&entries).map_err(|e| invalid(&format!("{e:?}")))?;
    let request = OutgoingRequest::new(headers);
    let scheme = if url.scheme() == "https" {
        Scheme::Https
    } else {
        Scheme::Http
    };
    let authority = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    let path = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
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
    let future = outgoing_handler::handle(request, Some(timeouts(idle_timeout_ns)))
        .map_err(|code| network_error(url, &code))?;
    Ok(InFlight::Waiting(future, url.clone()))
}

pub(super) fn network_error(url: &Url, code: &ErrorCode) -> Error {
    Error::Network(format!("request to {url} failed: {code:?}"))
}

/// Moves a request forward as far as it can go without blocking.
pub(super) fn advance(in_flight: InFlight, limits: BodyLimits) -> Result<Step> {
    match in_flight {
        InFlight::Waiting(future, url) => match future.get() {
            None => Ok(Step::Pending(InFlight::Waiting(future, url))),
            Some(Err(())) => Err(Error::Internal("response taken twice".into())),
            Some(Ok(Err(code))) => Err(network_error(&url, &code)),
            Some(Ok(Ok(response))) => {
                let (mut partial, content_length) = {
                    let headers = response.headers();
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .first()
                            .map(|value| String::from_utf8_lossy(value).into_owned())
                    };
                    let response = Response {
                        url,
                        status: response.status(),
                        content_range: header("content-range"),
                        etag: header("etag"),
                        last_modified: header("last-modified"),
                        retry_after: header("retry-after"),
                        location: header("location"),
                        body: Vec::new(),
                    };
                    let length = header("content-length").and_then(|v| v.trim().parse().ok());
                    (response, length)
                };
                // The most the body may take, and its length where known:
                // from its Content-Range (a range) or Content-Length (a
                // whole file). A known length gets one buffer of that size,
                // where a growing one would leave its old copies behind as
                // holes in linear memory. A whole file of unknown length
                // grows into its buffer, holding the old and the new one
                // while it moves: it may take half of what the limit leaves.
                let (max_body, announced) = match (partial.status, content_length) {
                    (206, _) => {
                        let span = partial
                            .content_range
                            .as_deref()
                            .and_then(parse_content_range)
                            .and_then(|(range, _)| range);
                        let length = span.map_or(0, |range| range.end - range.start);
                        (limits.ranged, length.min(limits.ranged))
                    }
                    (_, Some(length)) if length > limits.whole => {
                        return Err(too_long(&partial, limits.whole));
                    }
                    (_, Some(length)) => (limits.whole, length),
                    (_, None) => (limits.whole / 2, 0),
                };
                partial
                    .body
                    .reserve(usize::try_from(announced).unwrap_or(0));
                let body = response
                    .consume()
                    .map_err(|()| Error::Internal("response body taken twice".into()))?;
                let stream = body
                    .stream()
                    .map_err(|()| Error::Internal("body stream taken twice".into()))?;
                read_available(InFlight::Reading {
                    stream,
                    _body: body,
                    _response: response,
                    partial,
                    max_body,
                })
            }
        },
        reading @ InFlight::Reading { .. } => read_available(reading),
    }
}

/// The error for a body longer than `max_body`.
fn too_long(partial: &Response, max_body: u64) -> Error {
    match partial.status {
        206 => Error::Protocol(format!(
            "{} sent more than the {max_body} bytes asked for (status 206)",
            partial.url
        )),
        200 => Error::MemoryLimit(format!(
            "{} ignores Range requests and sends the whole file (status 200), which is larger \
             than the {} it may take of the memory limit; raise the limit, or serve the file \
             from a server that supports Range",
            partial.url,
            human_bytes(max_body)
        )),
        status => Error::Protocol(format!(
            "{} answered with status {status} and a body of more than {}",
            partial.url,
            human_bytes(max_body)
        )),
    }
}

/// Reads whatever the body stream has without blocking.
fn read_available(mut in_flight: InFlight) -> Result<Step> {
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
                let length = partial.body.len() + chunk.len();
                if length as u64 > *max_body {
                    return Err(too_long(partial, *max_body));
                }
                if length > partial.body.capacity() {
                    // Doubling, but never past the most the body may take.
                    let capacity = usize::try_from(*max_body)
                        .unwrap_or(usize::MAX)
                        .min(partial.body.capacity() * 2)
                        .max(length);
                    partial.body.reserve_exact(capacity - partial.body.len());
                }
                partial.body.extend_from_slice(&chunk);
            }
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(error)) => {
                return Err(Error::Network(format!(
                    "reading the response from {} failed: {}",
                    partial.url,
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

/// Timeouts for every request, so a silent server cannot stall a scan
/// forever. Hosts that cannot enforce one ignore it.
fn timeouts(idle_timeout_ns: u64) -> RequestOptions {
    let options = RequestOptions::new();
    let _ = options.set_connect_timeout(Some(CONNECT_TIMEOUT_NS.min(idle_timeout_ns)));
    let _ = options.set_first_byte_timeout(Some(idle_timeout_ns));
    let _ = options.set_between_bytes_timeout(Some(idle_timeout_ns));
    options
}

/// Parses `bytes first-last/total` (or `bytes */total`) into (first..last+1, total).
pub(super) fn parse_content_range(value: &str) -> Option<(Option<Range<u64>>, u64)> {
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
