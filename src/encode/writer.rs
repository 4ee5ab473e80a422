//! The bytes each part of a compressed file takes.

use baler_udfs::codec::{StreamKind, StreamSize};
use serde::Serialize;

/// Bytes of each part of a compressed file (coded streams, and the rest).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Parts {
    pub pass_through_bytes: u64,
    pub latent_bytes: u64,
    pub residual_bytes: u64,
    /// Everything else: the footer (header, weights), block framing, Parquet metadata.
    pub footer_bytes: u64,
    /// Per row: bits of latents and of residuals.
    pub latent_bits_per_row: f64,
    pub residual_bits_per_row: f64,
}

impl Parts {
    /// Adds a block's streams.
    pub fn add(&mut self, streams: &[StreamSize]) {
        for s in streams {
            let bytes = s.bytes as u64;
            match s.kind {
                StreamKind::PassThrough | StreamKind::Nulls => self.pass_through_bytes += bytes,
                StreamKind::Latent => self.latent_bytes += bytes,
                StreamKind::Residual => self.residual_bytes += bytes,
            }
        }
    }

    /// Completes the parts of a written file of `size` bytes and `rows` rows.
    pub fn finish(&mut self, size: u64, rows: u64) {
        self.footer_bytes =
            size.saturating_sub(self.pass_through_bytes + self.latent_bytes + self.residual_bytes);
        let per_row = |b: u64| 8.0 * b as f64 / rows.max(1) as f64;
        self.latent_bits_per_row = per_row(self.latent_bytes);
        self.residual_bits_per_row = per_row(self.residual_bytes);
    }
}
