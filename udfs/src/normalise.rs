//! Normalisation of the autoencoder's columns, both ways: an optional [`Transform`], then
//! min-max scaling to [0, 1]. The tool normalises when training and encoding; decoding undoes
//! it with the same parameters, read from the header.

use crate::format::{ColumnSpec, Storage, Transform};

impl Transform {
    /// Applies the transform.
    pub fn forward(self, x: f64) -> f64 {
        match self {
            Self::Identity => x,
            Self::Log1p => x.ln_1p(),
        }
    }

    /// Undoes the transform, bit-exactly on every machine ([`crate::exact::exp_m1`]).
    pub fn inverse(self, y: f64) -> f64 {
        match self {
            Self::Identity => y,
            Self::Log1p => crate::exact::exp_m1(y),
        }
    }
}

/// One column's normalisation: `(transform(x) − min) / (max − min)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalisation {
    pub min: f64,
    pub max: f64,
    pub transform: Transform,
}

impl Normalisation {
    /// The normalised value of `x`, as the network sees it.
    pub fn forward(&self, x: f64) -> f32 {
        ((self.transform.forward(x) - self.min) / (self.max - self.min)) as f32
    }

    /// The decoder output and normalisation of a [`Storage::Decoded`] column; `None` for other
    /// storages.
    pub fn of_storage(storage: &Storage) -> Option<(usize, Self)> {
        match *storage {
            Storage::Decoded {
                index,
                min,
                max,
                transform,
            } => Some((
                index,
                Self {
                    min,
                    max,
                    transform,
                },
            )),
            _ => None,
        }
    }

    /// The value a network output `y` stands for.
    pub fn inverse(&self, y: f32) -> f64 {
        self.transform
            .inverse(f64::from(y) * (self.max - self.min) + self.min)
    }
}

/// The normalisation of every decoded column, in decoder-output order.
#[derive(Debug, Clone, PartialEq)]
pub struct Normaliser {
    pub columns: Vec<Normalisation>,
}

impl Normaliser {
    /// From per-column normalisations, in decoder-output order. Columns with `min == max` must
    /// not be normalised (they are stored as constants instead).
    pub fn new(columns: impl IntoIterator<Item = Normalisation>) -> Self {
        Self {
            columns: columns.into_iter().collect(),
        }
    }

    /// The normalisation of the header's decoded columns ([`Storage::Decoded`]), in
    /// decoder-output order.
    pub fn of_columns(columns: &[ColumnSpec]) -> Self {
        let mut ranges: Vec<(usize, Normalisation)> = columns
            .iter()
            .filter_map(|c| Normalisation::of_storage(&c.storage))
            .collect();
        ranges.sort_by_key(|r| r.0);
        Self::new(ranges.into_iter().map(|(_, n)| n))
    }

    /// Normalises `columns` (each a column of equal length, in decoder-output order) into a
    /// row-major `rows × n` buffer.
    pub fn normalise(&self, columns: &[Vec<f64>]) -> Vec<f32> {
        let n = columns.len();
        let rows = columns.first().map_or(0, Vec::len);
        let mut out = vec![0f32; rows * n];
        for (j, (column, norm)) in columns.iter().zip(&self.columns).enumerate() {
            for (r, v) in column.iter().enumerate() {
                out[r * n + j] = norm.forward(*v);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(min: f64, max: f64) -> Normalisation {
        Normalisation {
            min,
            max,
            transform: Transform::Identity,
        }
    }

    #[test]
    fn normalised_rows_span_zero_to_one() {
        let n = Normaliser::new([identity(0.0, 10.0), identity(-1.0, 1.0)]);
        let rows = n.normalise(&[vec![0.0, 5.0, 10.0], vec![1.0, -1.0, 0.0]]);
        assert_eq!(rows, [0.0, 1.0, 0.5, 0.0, 1.0, 0.5]);
        let n = Normaliser::new([Normalisation {
            min: 0.0,
            max: 1000f64.ln_1p(),
            transform: Transform::Log1p,
        }]);
        let y = n.normalise(&[vec![0.0, 1000.0]]);
        assert_eq!(y, [0.0, 1.0]);
    }

    #[test]
    fn inverse_undoes_forward() {
        let log = Normalisation {
            min: 0.0,
            max: 1000f64.ln_1p(),
            transform: Transform::Log1p,
        };
        for x in [0.0, 1.0, 37.5, 999.0] {
            let back = log.inverse(log.forward(x));
            assert!((back - x).abs() <= 1e-4 * x.max(1.0), "{x} -> {back}");
        }
        assert_eq!(identity(-1.0, 3.0).inverse(0.5), 1.0);
    }
}
