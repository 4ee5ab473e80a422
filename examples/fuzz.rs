//! A stable-Rust mutation fuzzer over the same targets as `fuzz/` (which needs nightly and
//! cargo-fuzz): starting from the corpus, each execution mutates a corpus entry or an earlier
//! input that was read, and runs a target on it. A panic is caught, its input saved to
//! `fuzz/artifacts/<target>/`, and counted. Prints executions, inputs read and crashes.
//!
//! ```text
//! cargo run --release --example fuzz -- --target input_file --executions 1000000
//! ```

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, bail};
use baler_arrow::fuzzing::{self, Outcome};
use clap::Parser;

#[derive(Parser)]
struct Args {
    /// `input_file`, `compressed_file` or `header`.
    #[arg(long)]
    target: String,
    /// Executions to run.
    #[arg(long, default_value_t = 100_000)]
    executions: u64,
    /// Seed of the mutations.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut corpus: Vec<Vec<u8>> = std::fs::read_dir(root.join("corpus").join(&args.target))?
        .map(|e| Ok(std::fs::read(e?.path())?))
        .collect::<Result<_>>()?;
    if corpus.is_empty() {
        bail!("no corpus for `{}`", args.target);
    }
    let scratch = std::env::temp_dir().join(format!("baler-fuzz-{}", std::process::id()));
    let target = |bytes: &[u8]| match args.target.as_str() {
        "input_file" => fuzzing::input_file(bytes, &scratch),
        "compressed_file" => fuzzing::compressed_file(bytes, &scratch),
        _ => fuzzing::header(bytes),
    };
    std::panic::set_hook(Box::new(|_| {}));
    let seeds = corpus.len();
    let (mut read, mut crashes) = (0u64, 0u64);
    let start = Instant::now();
    for i in 0..args.executions {
        let parent = (i.wrapping_mul(2_654_435_761) as usize) % corpus.len();
        let input = fuzzing::mutate(&corpus[parent], args.seed.wrapping_add(i));
        match catch_unwind(AssertUnwindSafe(|| target(&input))) {
            Ok(Outcome::Read) => {
                read += 1;
                // Inputs that still read are kept to mutate further (a bounded pool).
                if corpus.len() < seeds + 256 {
                    corpus.push(input);
                }
            }
            Ok(Outcome::Refused) => {}
            Err(_) => {
                crashes += 1;
                let dir = root.join("artifacts").join(&args.target);
                std::fs::create_dir_all(&dir)?;
                std::fs::write(dir.join(format!("crash-{i}")), &input)?;
            }
        }
    }
    let _ = std::fs::remove_file(&scratch);
    println!(
        "{}: {} executions in {:.0} s ({:.0}/s), {read} read, {crashes} crashes",
        args.target,
        args.executions,
        start.elapsed().as_secs_f64(),
        args.executions as f64 / start.elapsed().as_secs_f64()
    );
    if crashes > 0 {
        bail!("{crashes} inputs crashed a reader; see fuzz/artifacts/");
    }
    Ok(())
}
