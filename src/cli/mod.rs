//! The command-line tool: parses arguments, calls the library, prints results.

mod args;
mod commands;
mod dataset;
mod field;
mod progress;

use std::process::ExitCode;

use clap::Parser;

pub use args::Cli;

/// Exit code for bad input (a missing file, a wrong option, a damaged file).
const EXIT_BAD_INPUT: u8 = 1;
/// Exit code for internal or I/O failures.
const EXIT_INTERNAL: u8 = 2;

pub fn main() -> ExitCode {
    silence_reader_panics();
    let cli = Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => report(&err),
    }
}

/// Prints `error: …` and one `caused by:` line per source; picks the exit code.
fn report(err: &anyhow::Error) -> ExitCode {
    if is_broken_pipe(err) {
        return ExitCode::SUCCESS;
    }
    eprintln!("error: {err}");
    // Some errors (DataFusion's) repeat their source in their own message: print each text once.
    let mut last = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !last.contains(&text) {
            eprintln!("  caused by: {text}");
        }
        last = text;
    }
    let internal = err.chain().any(|c| {
        matches!(
            c.downcast_ref::<baler_arrow::Error>(),
            Some(baler_arrow::Error::Write { .. })
        )
    });
    ExitCode::from(if internal {
        EXIT_INTERNAL
    } else {
        EXIT_BAD_INPUT
    })
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The ROOT reader (oxyroot) reports some damaged or unsupported files by panicking; the
/// library turns those panics into errors, so their default message would only repeat it.
fn silence_reader_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let from_reader = info
            .location()
            .is_some_and(|l| l.file().contains("oxyroot"));
        if !from_reader {
            default(info);
        }
    }));
}
