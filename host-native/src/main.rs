//! The `quiver` command: parse flags, run, map the outcome to an exit code.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    quiet_headless_vulkan();
    let args = cli::args::parse();
    cli::exit_code(cli::run(args))
}

/// On a machine without a desktop session, Mesa's Vulkan drivers print
/// "XDG_RUNTIME_DIR is invalid or not set" while probing for a Wayland
/// display. Pointing the variable at the temporary directory (where no
/// display socket is) keeps stderr to Quiver's own messages.
fn quiet_headless_vulkan() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        // SAFETY: called first thing in `main`, before any other thread exists.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir()) };
    }
}
