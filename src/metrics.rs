//! Reconstruction metrics (the Baler paper's residual and response) and compression ratios.

use serde::Serialize;

/// Running sums for one variable; [`VariableAccumulator::finish`] gives its metrics.
#[derive(Debug, Clone, Default)]
pub struct VariableAccumulator {
    n: u64,
    residual_sum: f64,
    residual_sq: f64,
    max_abs_residual: f64,
    original_sq: f64,
    response_n: u64,
    response_sum: f64,
    response_sq: f64,
    response_skipped: u64,
}

/// Metrics of one variable: residual x̂ − x and response (x̂ − x)/x for x ≠ 0.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariableMetrics {
    pub name: String,
    pub rows: u64,
    pub residual_mean: f64,
    pub residual_rms: f64,
    pub max_abs_residual: f64,
    /// RMS of the residual over RMS of the values (0 when every value is 0).
    pub relative_rms: f64,
    pub response_mean: f64,
    pub response_rms: f64,
    /// Rows left out of the response because x = 0.
    pub response_skipped: u64,
}

/// Column titles of [`VariableMetrics::table_row`].
pub const TABLE_HEADER: [&str; 7] = [
    "variable",
    "resid mean",
    "resid RMS",
    "max |resid|",
    "rel RMS",
    "resp mean",
    "resp RMS",
];

impl VariableMetrics {
    /// The metrics formatted for a table, in [`TABLE_HEADER`] order.
    pub fn table_row(&self) -> [String; 7] {
        [
            self.name.clone(),
            format!("{:.4e}", self.residual_mean),
            format!("{:.4e}", self.residual_rms),
            format!("{:.4e}", self.max_abs_residual),
            format!("{:.4}", self.relative_rms),
            format!("{:.4e}", self.response_mean),
            format!("{:.4e}", self.response_rms),
        ]
    }
}

impl VariableAccumulator {
    /// Adds pairs of (original, reconstructed) values.
    pub fn update(&mut self, pairs: impl Iterator<Item = (f64, f64)>) {
        for (x, y) in pairs {
            let r = y - x;
            self.n += 1;
            self.residual_sum += r;
            self.residual_sq += r * r;
            self.max_abs_residual = self.max_abs_residual.max(r.abs());
            self.original_sq += x * x;
            if x == 0.0 {
                self.response_skipped += 1;
            } else {
                let q = r / x;
                self.response_n += 1;
                self.response_sum += q;
                self.response_sq += q * q;
            }
        }
    }

    /// The metrics so far.
    pub fn finish(&self, name: &str) -> VariableMetrics {
        let mean = |sum: f64, n: u64| if n == 0 { 0.0 } else { sum / n as f64 };
        let residual_rms = mean(self.residual_sq, self.n).sqrt();
        let original_rms = mean(self.original_sq, self.n).sqrt();
        VariableMetrics {
            name: name.to_owned(),
            rows: self.n,
            residual_mean: mean(self.residual_sum, self.n),
            residual_rms,
            max_abs_residual: self.max_abs_residual,
            relative_rms: if original_rms == 0.0 {
                0.0
            } else {
                residual_rms / original_rms
            },
            response_mean: mean(self.response_sum, self.response_n),
            response_rms: mean(self.response_sq, self.response_n).sqrt(),
            response_skipped: self.response_skipped,
        }
    }
}

/// Byte counts behind the compression ratios.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sizes {
    /// The input file.
    pub input_bytes: u64,
    /// The compressed output file, decoder and footer included.
    pub output_bytes: u64,
    /// The same rows and columns written as lossless Parquet (zstd, BYTE_STREAM_SPLIT).
    pub lossless_bytes: u64,
    /// Uncompressed bytes of the columns the model replaces.
    pub raw_bytes: u64,
    /// Uncompressed bytes of the latent values.
    pub latent_bytes: u64,
    /// The model file the output references (0 when the output embeds its model).
    pub model_bytes: u64,
}

/// Compression ratios: bigger is better.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ratios {
    /// Raw bytes of the compressed columns over latent bytes.
    pub r: f64,
    /// Input file size over output file size (model included).
    pub r_actual: f64,
    /// Lossless Parquet size over output file size: the gain over lossless compression.
    pub r_lossless: f64,
    /// Lossless Parquet size over output and referenced model file together.
    pub r_lossless_with_model: f64,
}

impl From<&Sizes> for Ratios {
    fn from(s: &Sizes) -> Self {
        let ratio = |a: u64, b: u64| {
            if b == 0 {
                f64::NAN
            } else {
                a as f64 / b as f64
            }
        };
        Self {
            r: ratio(s.raw_bytes, s.latent_bytes),
            r_actual: ratio(s.input_bytes, s.output_bytes),
            r_lossless: ratio(s.lossless_bytes, s.output_bytes),
            r_lossless_with_model: ratio(s.lossless_bytes, s.output_bytes + s.model_bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn residual_and_response_match_a_hand_computed_case() {
        let mut acc = VariableAccumulator::default();
        // Residuals +1, -1, +2 (x = 0 skipped in the response).
        acc.update([(10.0, 11.0), (4.0, 3.0), (0.0, 2.0)].into_iter());
        let m = acc.finish("pt");
        assert_eq!(m.rows, 3);
        assert!((m.residual_mean - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.residual_rms - 2.0f64.sqrt()).abs() < 1e-12);
        assert_eq!(m.max_abs_residual, 2.0);
        assert!((m.relative_rms - 2.0f64.sqrt() / (116.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((m.response_mean - (0.1 - 0.25) / 2.0).abs() < 1e-12);
        assert!((m.response_rms - ((0.01 + 0.0625) / 2.0f64).sqrt()).abs() < 1e-12);
        assert_eq!(m.response_skipped, 1);
    }

    #[test]
    fn ratios_divide_the_right_sizes() {
        let s = Sizes {
            input_bytes: 1000,
            output_bytes: 100,
            lossless_bytes: 400,
            raw_bytes: 960,
            latent_bytes: 120,
            model_bytes: 0,
        };
        let r = Ratios::from(&s);
        assert_eq!((r.r, r.r_actual, r.r_lossless), (8.0, 10.0, 4.0));
    }
}
