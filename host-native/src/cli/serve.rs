//! `quiver serve`: a static file server with HTTP Range support, whose
//! answers carry a strong `ETag`, so that the range cache can keep what
//! clients fetch from it.

use super::Failure;
use anyhow::Context;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::http::header::ETAG;
use axum::middleware::{self, Next};
use axum::response::Response;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tower_http::services::ServeDir;

/// Serves `dir` on 127.0.0.1:`port` until interrupted.
pub async fn run(dir: &Path, port: u16) -> Result<(), Failure> {
    if !dir.is_dir() {
        return Err(anyhow::anyhow!("{} is not a directory", dir.display()).into());
    }
    let root = Arc::new(dir.to_path_buf());
    let app = axum::Router::new()
        .fallback_service(ServeDir::new(dir))
        .layer(middleware::from_fn_with_state(root, with_etag));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    let address = listener.local_addr()?;
    println!(
        "serving {} at http://{address}/ (Ctrl-C to stop)",
        dir.display()
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("the server failed")?;
    Ok(())
}

/// Adds `ETag: "SIZE-MTIME"` to a successful answer for a file, when the
/// file's size and modification time were the same before the request was
/// handed on and once its answer's head was ready: by then the file the body
/// streams from is open, so a file replaced meanwhile gets no `ETag`, never
/// one of another version. (A file rewritten in place while its body streams
/// is not caught, as with any static server.)
async fn with_etag(State(root): State<Arc<PathBuf>>, request: Request, next: Next) -> Response {
    let file = file_of(&root, request.uri().path());
    let before = file.as_deref().and_then(version_of);
    let mut response = next.run(request).await;
    let after = file.as_deref().and_then(version_of);
    let unchanged = if before == after { before } else { None };
    if response.status().is_success()
        && let Some(value) = unchanged.and_then(|etag| HeaderValue::from_str(&etag).ok())
    {
        response.headers_mut().insert(ETAG, value);
    }
    response
}

/// The file under `root` that the URL path names, without leaving `root`.
fn file_of(root: &Path, url_path: &str) -> Option<PathBuf> {
    let decoded = percent_encoding::percent_decode_str(url_path)
        .decode_utf8()
        .ok()?;
    let mut path = root.to_path_buf();
    for part in decoded.split('/').filter(|part| !part.is_empty()) {
        if part == "." || part == ".." || part.contains('\\') {
            return None;
        }
        path.push(part);
    }
    Some(path)
}

/// A strong `ETag` for the file at `path` from its size and modification
/// time in nanoseconds; `None` for a directory or a missing file.
fn version_of(path: &Path) -> Option<String> {
    let metadata = std::fs::metadata(path).ok()?;
    metadata.is_file().then(|| {
        let nanos = metadata.mtime() as i128 * 1_000_000_000 + i128::from(metadata.mtime_nsec());
        format!("\"{:x}-{:x}\"", metadata.len(), nanos)
    })
}
