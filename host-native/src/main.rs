//! The `quiver` command: parse flags, run, map the outcome to an exit code.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::args::parse();
    cli::exit_code(cli::run(args))
}
