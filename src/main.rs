use std::process::ExitCode;

mod cli;

fn main() -> ExitCode {
    // SAFETY: first thing in `main`, while the process has one thread.
    unsafe { baler_arrow::pin_thread_count() };
    // Rust ignores SIGPIPE, so printing into a closed pipe (`baler-arrow inspect f | head -1`)
    // would panic; the default action ends the process quietly, as for any Unix tool.
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    cli::main()
}
