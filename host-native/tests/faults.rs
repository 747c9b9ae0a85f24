//! Hostile and flaky servers: the engine's retries, redirects and version
//! pinning against the fault-injecting server (`fault_server`), counted at
//! the server. Every case ends in the right bytes or a typed error, in a
//! bounded number of requests. Needs `make build`.

mod fault_server;

use fault_server::FaultServer;
use quiver_host::bindings::EngineError;
use quiver_host::bindings::exports::quiver::engine::types::ByteRange;
use quiver_host::bindings::range_fetch::{FetchOptions, FetchStats};
use quiver_host::runtime::{Runtime, Session};
use std::path::PathBuf;
use std::time::Instant;

/// 64 KiB of bytes that differ from their reverse.
fn content() -> Vec<u8> {
    (0..65_536u32).map(|i| (i * 7 % 251) as u8).collect()
}

async fn session() -> Session {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/quiver-engine.wasm");
    assert!(
        path.exists(),
        "{} is missing: run `make build` first",
        path.display()
    );
    Runtime::load(&path).unwrap().session(&[]).await.unwrap()
}

fn options(max_retries: Option<u32>) -> FetchOptions {
    FetchOptions {
        tail_bytes: Some(1024),
        coalesce_gap: Some(0),
        max_concurrency: None,
        max_retries,
        retry_deadline_ms: None,
        conditional_requests: None,
        idle_timeout_ms: None,
        memory_limit: None,
        cache: None,
    }
}

/// The ranges every test reads after the open: two far apart, one in the tail.
const RANGES: [(u64, u64); 3] = [(100, 400), (30_000, 5_000), (65_000, 100)];

/// Opens `url` and reads [`RANGES`]; returns the bytes (or the error) and the traffic.
async fn open_and_read(
    s: &mut Session,
    url: &str,
    options: FetchOptions,
) -> Result<(Vec<Vec<u8>>, FetchStats), EngineError> {
    let fetch = s.engine.quiver_engine_range_fetch();
    let file = fetch.call_open(&mut s.store, url, options).await.unwrap()?;
    let remote = fetch.remote_file();
    let ranges: Vec<ByteRange> = RANGES
        .iter()
        .map(|&(offset, length)| ByteRange { offset, length })
        .collect();
    let data = remote
        .call_read(&mut s.store, file, &ranges)
        .await
        .unwrap()?;
    let stats = remote.call_stats(&mut s.store, file).await.unwrap();
    Ok((data, stats))
}

/// Starts a fault server and reads [`RANGES`] from its `fault` path.
async fn read_from(
    fault: &str,
    options: FetchOptions,
) -> (FaultServer, Result<(Vec<Vec<u8>>, FetchStats), EngineError>) {
    let server = FaultServer::start(content()).await;
    let mut s = session().await;
    let outcome = open_and_read(&mut s, &server.url(fault), options).await;
    (server, outcome)
}

fn expected() -> Vec<Vec<u8>> {
    let content = content();
    RANGES
        .iter()
        .map(|&(offset, length)| content[offset as usize..(offset + length) as usize].to_vec())
        .collect()
}

#[tokio::test]
async fn transient_503s_are_retried_and_counted() {
    let (server, outcome) = read_from("flaky", options(None)).await;
    let (data, stats) = outcome.unwrap();
    assert_eq!(data, expected());
    let log = server.log("flaky");
    let failed = log.iter().filter(|r| r.status == 503).count();
    // the open, and the two ranges outside the tail: each failed once, then served
    assert_eq!((failed, log.len()), (3, 6), "{log:?}");
    for refused in log.iter().filter(|r| r.status == 503) {
        let same_range = log.iter().filter(|r| r.range == refused.range).count();
        assert_eq!(same_range, 2, "the same range asked again: {log:?}");
    }
    assert_eq!((stats.retries, stats.requests), (3, 6), "{stats:?}");
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let started = Instant::now();
    let (server, outcome) = read_from("throttle", options(None)).await;
    let (data, stats) = outcome.unwrap();
    assert_eq!(data, expected());
    assert!(
        started.elapsed().as_millis() >= 1_000,
        "Retry-After: 1 was not waited for"
    );
    assert_eq!(stats.retries, 1);
    assert_eq!(server.log("throttle")[0].status, 429);
}

#[tokio::test]
async fn a_server_that_stays_down_is_an_http_error_after_bounded_retries() {
    let (server, outcome) = read_from("down", options(Some(2))).await;
    let error = outcome.unwrap_err();
    assert!(
        matches!(&error, EngineError::HttpStatus(e) if e.status == 503 && e.url.ends_with("/down/f")),
        "{error:?}"
    );
    assert_eq!(server.log("down").len(), 3, "one try and two retries");
}

#[tokio::test]
async fn a_404_fails_at_once_with_the_status_and_url() {
    let (server, outcome) = read_from("gone", options(None)).await;
    let error = outcome.unwrap_err();
    assert!(
        matches!(&error, EngineError::HttpStatus(e) if e.status == 404 && e.url.ends_with("/gone/f")),
        "{error:?}"
    );
    assert_eq!(
        server.log("gone").len(),
        1,
        "4xx other than 408/429 is not retried"
    );
}

#[tokio::test]
async fn a_connection_cut_mid_body_is_retried() {
    let (server, outcome) = read_from("reset", options(None)).await;
    let (data, stats) = outcome.unwrap();
    assert_eq!(data, expected());
    assert_eq!(stats.retries, 3, "{stats:?}: {:?}", server.log("reset"));
}

#[tokio::test]
async fn without_retries_a_cut_is_a_network_error() {
    let (server, outcome) = read_from("reset", options(Some(0))).await;
    let error = outcome.unwrap_err();
    assert!(matches!(error, EngineError::Network(_)), "{error:?}");
    assert_eq!(server.log("reset").len(), 1);
}

#[tokio::test]
async fn redirects_are_followed_once_and_loops_are_bounded() {
    let (server, outcome) = read_from("redirect", options(None)).await;
    let (data, stats) = outcome.unwrap();
    assert_eq!(data, expected());
    // later reads go straight to where the open was redirected
    assert_eq!(server.log("redirect").len(), 1);
    assert_eq!(server.log("ok").len(), 3);
    assert_eq!(stats.requests, 4, "{stats:?}");

    let (server, outcome) = read_from("loop", options(None)).await;
    let error = outcome.unwrap_err();
    assert!(
        matches!(&error, EngineError::Protocol(m) if m.contains("redirected more than 5 times")),
        "{error:?}"
    );
    assert_eq!(server.log("loop").len(), 6);
}

#[tokio::test]
async fn a_file_changed_after_open_is_refused_by_if_match() {
    let (server, outcome) = read_from("changing", options(None)).await;
    let error = outcome.unwrap_err();
    assert!(
        matches!(&error, EngineError::SourceChanged(m) if m.contains("412")),
        "{error:?}"
    );
    let log = server.log("changing");
    assert!(
        log[1..]
            .iter()
            .all(|r| r.if_match.as_deref() == Some("\"v1\"")),
        "{log:?}"
    );
}

#[tokio::test]
async fn a_changed_etag_is_caught_where_if_match_is_ignored_or_not_sent() {
    let (server, outcome) = read_from("changing-lax", options(None)).await;
    let error = outcome.unwrap_err();
    assert!(
        matches!(&error, EngineError::SourceChanged(m) if m.contains("\"v1\"") && m.contains("\"v2\"")),
        "{error:?}"
    );
    // the precondition was sent, and ignored: the comparison caught the change
    let log = server.log("changing-lax");
    assert!(
        log[1..]
            .iter()
            .all(|r| r.if_match.is_some() && r.status == 206),
        "{log:?}"
    );
    // as browsers run it: no precondition sent, the response's ETag compared
    let unconditional = FetchOptions {
        conditional_requests: Some(false),
        ..options(None)
    };
    let (server, outcome) = read_from("changing", unconditional).await;
    let error = outcome.unwrap_err();
    assert!(matches!(error, EngineError::SourceChanged(_)), "{error:?}");
    assert!(server.log("changing").iter().all(|r| r.if_match.is_none()));
}

#[tokio::test]
async fn silent_servers_time_out_and_are_retried_within_bounds() {
    let server = FaultServer::start(content()).await;
    let mut s = session().await;
    for fault in ["stall-head", "stall-body"] {
        let started = Instant::now();
        let impatient = FetchOptions {
            idle_timeout_ms: Some(300),
            ..options(Some(1))
        };
        let error = open_and_read(&mut s, &server.url(fault), impatient)
            .await
            .unwrap_err();
        assert!(
            matches!(error, EngineError::Network(_)),
            "{fault}: {error:?}"
        );
        assert_eq!(server.log(fault).len(), 2, "{fault}: one try and one retry");
        let seconds = started.elapsed().as_secs_f64();
        assert!(
            seconds < 5.0,
            "{fault}: a 60 s stall was waited out ({seconds:.1} s)"
        );
    }
}
