//! `quiver serve`: a static file server with HTTP Range support.

use super::Failure;
use anyhow::Context;
use std::path::Path;
use tower_http::services::ServeDir;

/// Serves `dir` on 127.0.0.1:`port` until interrupted.
pub async fn run(dir: &Path, port: u16) -> Result<(), Failure> {
    if !dir.is_dir() {
        return Err(anyhow::anyhow!("{} is not a directory", dir.display()).into());
    }
    let app = axum::Router::new().fallback_service(ServeDir::new(dir));
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
