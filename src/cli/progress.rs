//! Progress bars on standard error, hidden when it is not a terminal or with `--quiet`.

use baler_arrow::progress::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// An indicatif bar behind the library's [`Progress`] trait.
pub struct Bar {
    bar: ProgressBar,
}

impl Bar {
    pub fn new(quiet: bool) -> Self {
        let bar = ProgressBar::hidden();
        if !quiet {
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        Self { bar }
    }
}

impl Progress for Bar {
    fn start(&self, stage: &str, total: Option<u64>) {
        let template = match (stage, total) {
            ("train", _) => "train [{bar:30}] epoch {pos}/{len} {msg} ({eta})",
            (_, Some(_)) => "{msg:>10} [{bar:40}] {human_pos}/{human_len} rows ({per_sec}, {eta})",
            (_, None) => "{msg:>10} {spinner} {human_pos} rows ({per_sec})",
        };
        self.bar.set_style(
            ProgressStyle::with_template(template)
                .expect("valid template")
                .progress_chars("=> "),
        );
        self.bar.set_message(stage.to_owned());
        self.bar.set_length(total.unwrap_or(0));
        self.bar.set_position(0);
    }

    fn advance(&self, rows: u64) {
        self.bar.inc(rows);
    }

    fn epoch(&self, epoch: usize, loss: f64, learning_rate: f64) {
        self.bar.set_position(epoch as u64);
        self.bar
            .set_message(format!("loss {loss:.3e} lr {learning_rate:.1e}"));
    }

    fn note(&self, message: &str) {
        self.bar.suspend(|| eprintln!("note: {message}"));
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
