use std::process::ExitCode;

mod cli;

fn main() -> ExitCode {
    // SAFETY: first thing in `main`, while the process has one thread.
    unsafe { baler_arrow::pin_thread_count() };
    cli::main()
}
