//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) and the kept
//! crash reproducers (`fuzz/regressions/<target>/`) through the fuzz
//! targets' bodies: none may panic.
//!
//! Why here, and why by `#[path]`: CI has stable Rust only, no nightly and no
//! cargo-fuzz. The bodies are written once, in `fuzz/src/lib.rs`; the fuzz
//! targets call them, and this module compiles the same file. Building the
//! fuzz crate itself would compile arrow and parquet once more (its own
//! workspace and target directory), minutes on 2 cores. And this is a module
//! of the `scan` integration test rather than a test binary of its own:
//! each test binary is linked with the release profile's thin LTO over arrow
//! and parquet, about a minute and a half on 2 cores, while the module adds
//! a few seconds to the `scan` binary and well under a second of replay.
//! The file may only name crates the engine depends on.

#[path = "../../../fuzz/src/lib.rs"]
mod bodies;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

fn replay(target: &str, body: fn(&[u8])) {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut failed = Vec::new();
    let mut replayed = 0;
    for kind in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(kind).join(target)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.map(|entry| entry.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            let name = format!("{target}/{}", path.file_name().unwrap().to_string_lossy());
            let data = std::fs::read(&path).unwrap();
            replayed += 1;
            if catch_unwind(AssertUnwindSafe(|| body(&data))).is_err() {
                failed.push(format!("{kind}/{name}"));
            }
        }
    }
    println!("{target}: {replayed} inputs replayed");
    assert!(failed.is_empty(), "inputs that panic: {failed:?}");
    assert!(replayed > 0, "no corpus for {target} in {}", fuzz.display());
}

#[test]
fn footer_corpus() {
    replay("footer", bodies::footer);
}

#[test]
fn pages_corpus() {
    replay("pages", bodies::pages);
}

#[test]
fn where_clause_corpus() {
    replay("where_clause", bodies::where_clause);
}

#[test]
fn ranges_corpus() {
    replay("ranges", bodies::ranges);
}
