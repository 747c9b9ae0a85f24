//! The `quiver` command's behaviour: run a parsed command, and turn its
//! outcome into an exit status (in one place, [`exit_code`]).

pub mod args;
mod cache;
mod explain;
mod info;
mod output;
mod progress;
mod query;
mod scan;
mod serve;
mod sink;
mod stats;
mod units;

use args::{Args, Command};
use quiver_host::bindings::EngineError;
use quiver_host::client::describe_error;
use quiver_host::state::MemoryLimitExceeded;
use std::process::ExitCode;

/// Why a command failed.
pub enum Failure {
    /// The engine refused the query with a typed error (exit 1).
    Engine(EngineError),
    /// The host failed or the component trapped (exit 2).
    Host(anyhow::Error),
    /// A command component said it failed, in its own words (exit 1).
    CommandFailed,
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure::Host(error)
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Failure::Host(error.into())
    }
}

impl From<EngineError> for Failure {
    fn from(error: EngineError) -> Self {
        Failure::Engine(error)
    }
}

/// Runs a command on a fresh tokio runtime.
pub fn run(args: Args) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match args.command {
            Command::Info {
                source,
                json,
                allow_dir,
            } => info::run(&source, json, &allow_dir).await,
            Command::Scan(scan_args) => scan::run(scan_args).await,
            Command::Run {
                component,
                allow_dir,
                args,
            } => run_command(&component, &allow_dir, args).await,
            Command::Cache { action, cache } => cache::run(action, &cache),
            Command::Serve { dir, port } => serve::run(&dir, port).await,
        }
    })
}

/// Exit status: 0 success (a closed output pipe included), 1 a typed engine
/// error, 2 a usage error (from clap) or a host failure or trap. The error is
/// printed once, on one line.
pub fn exit_code(outcome: Result<(), Failure>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::CommandFailed) => ExitCode::from(1),
        Err(Failure::Engine(error)) => {
            eprintln!("quiver: error: {}", describe_error(&error));
            ExitCode::from(1)
        }
        Err(Failure::Host(error)) => {
            let broken_pipe = error
                .chain()
                .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
                .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe);
            if broken_pipe {
                return ExitCode::SUCCESS;
            }
            let over_limit = error
                .chain()
                .find_map(|cause| cause.downcast_ref::<MemoryLimitExceeded>());
            let trap = error
                .chain()
                .find_map(|cause| cause.downcast_ref::<wasmtime::Trap>());
            match (over_limit, trap) {
                (Some(over), _) => {
                    eprintln!("quiver: error: memory limit: {over} (--memory-limit)")
                }
                (None, Some(trap)) => {
                    eprintln!("quiver: error: the engine trapped ({trap}); this is a bug in Quiver")
                }
                (None, None) => {
                    eprintln!("quiver: error: {}", format!("{error:#}").replace('\n', " "))
                }
            }
            ExitCode::from(2)
        }
    }
}

/// `quiver run`: the component gets its file name and `args` as its
/// arguments, and may read `allowed_directories`.
async fn run_command(
    component: &std::path::Path,
    allowed_directories: &[std::path::PathBuf],
    args: Vec<String>,
) -> Result<(), Failure> {
    let access = quiver_host::access::FileAccess::new(&[], allowed_directories)?;
    let name = component
        .file_name()
        .map_or_else(String::new, |name| name.to_string_lossy().into_owned());
    let argv: Vec<String> = std::iter::once(name).chain(args).collect();
    match quiver_host::command::run(component, &argv, &access).await? {
        Ok(()) => Ok(()),
        Err(()) => Err(Failure::CommandFailed),
    }
}

/// Loads the component and starts an instance that can read `source` (and
/// `allowed_directories`) and nothing else on the file system, with at most
/// `memory_limit` bytes of linear memory.
async fn session_for(
    source: &quiver_host::source::Source,
    allowed_directories: &[std::path::PathBuf],
    build: quiver_host::runtime::Build,
    memory_limit: Option<usize>,
) -> anyhow::Result<quiver_host::runtime::Session> {
    use quiver_host::access::FileAccess;
    use quiver_host::runtime::Runtime;
    let runtime = Runtime::load(&Runtime::locate_component(build)?)?;
    let files: Vec<_> = source.local_path.iter().cloned().collect();
    let access = FileAccess::new(&files, allowed_directories)?;
    runtime.session_with(access, memory_limit).await
}
