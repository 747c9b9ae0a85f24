//! The engine component under wasmtime, called through its WIT exports: the
//! world's shape, the `filter` and `range-fetch` interfaces, and typed errors
//! across the boundary. Needs `make build` (the component next to the CLI).

use arrow_array::{ArrayRef, Int32Array, RecordBatch, StringArray};
use quiver_host::access::FileAccess;
use quiver_host::bindings::EngineError;
use quiver_host::bindings::exports::quiver::engine::types::ByteRange;
use quiver_host::bindings::filter::{ComputePreference, Literal, Node};
use quiver_host::bindings::range_fetch::FetchOptions;
use quiver_host::runtime::{Runtime, Session};
use quiver_host::state::MemoryLimitExceeded;
use std::path::PathBuf;
use std::sync::Arc;

fn component_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/quiver-engine.wasm")
}

async fn session(directories: &[PathBuf]) -> Session {
    let path = component_path();
    assert!(
        path.exists(),
        "{} is missing: run `make build` first",
        path.display()
    );
    Runtime::load(&path)
        .unwrap()
        .session(directories)
        .await
        .unwrap()
}

fn no_fetch_options() -> FetchOptions {
    FetchOptions {
        tail_bytes: Some(16),
        coalesce_gap: Some(0),
        max_concurrency: None,
        max_retries: None,
        retry_deadline_ms: None,
        conditional_requests: None,
        idle_timeout_ms: None,
        memory_limit: None,
        cache: None,
    }
}

#[test]
fn the_world_imports_http_gpu_and_the_range_cache_and_exports_its_interfaces() {
    let engine = wasmtime::Engine::default();
    let component = wasmtime::component::Component::from_file(&engine, component_path()).unwrap();
    let ty = component.component_type();
    let imports: Vec<String> = ty
        .imports(&engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let exports: Vec<String> = ty
        .exports(&engine)
        .map(|(name, _)| name.to_string())
        .collect();
    for wanted in [
        "wasi:http/outgoing-handler@0.2.12",
        "wasi:filesystem/preopens@0.2.12",
        "quiver:engine/gpu@0.1.0",
        "quiver:engine/range-cache@0.1.0",
    ] {
        assert!(
            imports.iter().any(|i| i == wanted),
            "{wanted} not in {imports:?}"
        );
    }
    assert!(
        !imports.iter().any(|i| i.starts_with("quiver:engine/types")),
        "the shared types are exported, never imported: {imports:?}"
    );
    for wanted in [
        "quiver:engine/types@0.1.0",
        "quiver:engine/range-fetch@0.1.0",
        "quiver:engine/filter@0.1.0",
        "quiver:engine/scan@0.1.0",
    ] {
        assert!(
            exports.iter().any(|e| e == wanted),
            "{wanted} not in {exports:?}"
        );
    }
}

#[tokio::test]
async fn filter_parses_prints_and_evaluates_across_the_boundary() {
    let mut s = session(&[]).await;
    let filter = s.engine.quiver_engine_filter();
    let expr = filter
        .call_parse(&mut s.store, "n > 1 AND (name LIKE 'a%' OR n IS NULL)")
        .await
        .unwrap()
        .unwrap();
    // Children come first and the root is last.
    assert!(matches!(expr.nodes.last(), Some(Node::And(_))));
    assert!(
        expr.nodes
            .iter()
            .any(|n| matches!(n, Node::Literal(Literal::Integer(1))))
    );
    let sql = filter
        .call_to_sql(&mut s.store, &expr)
        .await
        .unwrap()
        .unwrap();
    let reparsed = filter
        .call_parse(&mut s.store, &sql)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(format!("{:?}", reparsed.nodes), format!("{:?}", expr.nodes));

    let batch = RecordBatch::try_from_iter([
        (
            "n",
            Arc::new(Int32Array::from(vec![
                Some(0),
                Some(2),
                Some(3),
                None,
                Some(5),
            ])) as ArrayRef,
        ),
        (
            "name",
            Arc::new(StringArray::from(vec![
                "apple", "avocado", "banana", "apricot", "cherry",
            ])) as ArrayRef,
        ),
    ])
    .unwrap();
    let mut ipc = arrow_ipc::writer::StreamWriter::try_new(Vec::new(), &batch.schema()).unwrap();
    ipc.write(&batch).unwrap();
    ipc.finish().unwrap();
    let bytes = ipc.into_inner().unwrap();
    let selection = filter
        .call_evaluate(&mut s.store, &expr, &bytes, ComputePreference::Auto)
        .await
        .unwrap()
        .unwrap();
    // Row 1 (2, avocado) passes; row 3 has a NULL n, so `n > 1` is NULL: not selected.
    assert_eq!(
        (selection.rows, selection.selected, selection.bits),
        (5, 1, vec![0b0000_0010])
    );
}

#[tokio::test]
async fn filter_errors_are_typed_values_not_traps() {
    let mut s = session(&[]).await;
    let filter = s.engine.quiver_engine_filter();
    let syntax = filter.call_parse(&mut s.store, "a = = 1").await.unwrap();
    assert!(matches!(syntax, Err(EngineError::SyntaxError(_))));
    // An operand that points forward would make a cycle: refused, not followed.
    let cyclic = quiver_host::bindings::filter::Expression {
        nodes: vec![Node::Not(0)],
    };
    let printed = filter.call_to_sql(&mut s.store, &cyclic).await.unwrap();
    assert!(matches!(printed, Err(EngineError::InvalidArgument(_))));
    // A node used twice would let a short list stand for an exponential tree.
    let shared = filter
        .call_parse(&mut s.store, "x = 1")
        .await
        .unwrap()
        .unwrap();
    let mut doubled = shared.nodes.clone();
    let compare = (doubled.len() - 1) as u32;
    doubled.push(Node::And(vec![compare, compare]));
    let doubled = quiver_host::bindings::filter::Expression { nodes: doubled };
    let printed = filter.call_to_sql(&mut s.store, &doubled).await.unwrap();
    assert!(matches!(printed, Err(EngineError::InvalidArgument(_))));
    // Nesting beyond the documented 128 levels is refused, not followed.
    let mut deep = shared.nodes.clone();
    for level in 0..200 {
        deep.push(Node::Not((shared.nodes.len() - 1 + level) as u32));
    }
    let deep = quiver_host::bindings::filter::Expression { nodes: deep };
    let printed = filter.call_to_sql(&mut s.store, &deep).await.unwrap();
    assert!(matches!(printed, Err(EngineError::InvalidArgument(_))));
    // Long flat chains are fine, through SQL text and node lists alike.
    let chain = (0..10_000)
        .map(|i| format!("x = {i}"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let long = filter
        .call_parse(&mut s.store, &chain)
        .await
        .unwrap()
        .unwrap();
    assert!(
        filter
            .call_to_sql(&mut s.store, &long)
            .await
            .unwrap()
            .is_ok()
    );
    let expr = filter
        .call_parse(&mut s.store, "missing = 1")
        .await
        .unwrap()
        .unwrap();
    let garbage = filter
        .call_evaluate(&mut s.store, &expr, b"not arrow", ComputePreference::Auto)
        .await
        .unwrap();
    assert!(matches!(garbage, Err(EngineError::InvalidArgument(_))));
    // The instance is still usable after every error.
    assert!(
        filter
            .call_parse(&mut s.store, "x = 1")
            .await
            .unwrap()
            .is_ok()
    );
}

#[tokio::test]
async fn range_fetch_reads_local_files_only_inside_preopened_directories() {
    let directory = tempdir();
    let path = directory.join("data.bin");
    let content: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &content).unwrap();
    let url = url::Url::from_file_path(&path).unwrap().to_string();

    let mut s = session(std::slice::from_ref(&directory)).await;
    let fetch = s.engine.quiver_engine_range_fetch();
    let file = fetch
        .call_open(&mut s.store, &url, no_fetch_options())
        .await
        .unwrap()
        .unwrap();
    let remote = fetch.remote_file();
    assert_eq!(remote.call_size(&mut s.store, file).await.unwrap(), 10_000);
    let ranges = [
        ByteRange {
            offset: 9_000,
            length: 10,
        },
        ByteRange {
            offset: 5,
            length: 3,
        },
    ];
    let data = remote
        .call_read(&mut s.store, file, &ranges)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        data,
        vec![content[9_000..9_010].to_vec(), content[5..8].to_vec()]
    );
    let beyond = remote
        .call_read(
            &mut s.store,
            file,
            &[ByteRange {
                offset: 9_999,
                length: 2,
            }],
        )
        .await
        .unwrap();
    assert!(matches!(
        beyond,
        Err(EngineError::RangeOutOfBounds(ByteRange {
            offset: 9_999,
            length: 2
        }))
    ));

    // A session without the directory cannot see the file.
    let mut other = session(&[]).await;
    let fetch = other.engine.quiver_engine_range_fetch();
    let refused = fetch
        .call_open(&mut other.store, &url, no_fetch_options())
        .await
        .unwrap();
    assert!(
        matches!(
            refused,
            Err(EngineError::NotFound(_) | EngineError::PermissionDenied(_))
        ),
        "{refused:?}"
    );
    std::fs::remove_dir_all(directory).unwrap();
}

#[tokio::test]
async fn only_the_named_file_is_readable_not_its_siblings_nor_anything_else() {
    let directory = tempdir().join("named");
    std::fs::create_dir_all(&directory).unwrap();
    let (named, sibling) = (directory.join("named.bin"), directory.join("sibling.bin"));
    std::fs::write(&named, [7u8; 100]).unwrap();
    std::fs::write(&sibling, [8u8; 100]).unwrap();
    let access = FileAccess::new(std::slice::from_ref(&named), &[]).unwrap();
    let mut s = Runtime::load(&component_path())
        .unwrap()
        .session_with(access, None)
        .await
        .unwrap();
    let fetch = s.engine.quiver_engine_range_fetch();
    let open = |path: &std::path::Path| url::Url::from_file_path(path).unwrap().to_string();
    let file = fetch
        .call_open(&mut s.store, &open(&named), no_fetch_options())
        .await
        .unwrap();
    assert!(file.is_ok(), "{file:?}");
    let sibling = fetch
        .call_open(&mut s.store, &open(&sibling), no_fetch_options())
        .await
        .unwrap();
    assert!(
        matches!(sibling, Err(EngineError::NotFound(_))),
        "{sibling:?}"
    );
    let elsewhere = fetch
        .call_open(&mut s.store, &open(&component_path()), no_fetch_options())
        .await
        .unwrap();
    assert!(
        matches!(elsewhere, Err(EngineError::PermissionDenied(_))),
        "{elsewhere:?}"
    );
    std::fs::remove_dir_all(directory.parent().unwrap()).unwrap();
}

#[tokio::test]
async fn an_instance_that_outgrows_its_memory_cap_is_stopped_with_a_typed_error() {
    let runtime = Runtime::load(&component_path()).unwrap();
    let Err(error) = runtime
        .session_with(FileAccess::default(), Some(1 << 20))
        .await
    else {
        panic!("an engine fits in 1 MiB of memory?");
    };
    let over = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<MemoryLimitExceeded>())
        .unwrap_or_else(|| panic!("{error:#}"));
    assert_eq!(over.limit_bytes, 1 << 20);
    assert!(
        over.to_string()
            .contains("more than its limit of 1048576 bytes")
    );
}

/// A fresh directory under the system temporary directory.
fn tempdir() -> PathBuf {
    let unique = format!(
        "quiver-test-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    );
    let directory = std::env::temp_dir().join(unique.replace(['(', ')'], ""));
    std::fs::create_dir_all(&directory).unwrap();
    directory.canonicalize().unwrap()
}
