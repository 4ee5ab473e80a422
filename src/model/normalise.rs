//! Per-column min-max normalisation to [0, 1], after an optional transform.

use baler_udfs::format::Transform;

/// Running statistics of one column: range and the values that cannot be normalised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColumnStats {
    pub min: f64,
    pub max: f64,
    /// NaN or infinite values.
    pub non_finite: u64,
    /// Null values.
    pub nulls: u64,
    /// Sum and count of the finite values.
    pub sum: f64,
    pub count: u64,
}

impl Default for ColumnStats {
    fn default() -> Self {
        Self {
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            non_finite: 0,
            nulls: 0,
            sum: 0.0,
            count: 0,
        }
    }
}

impl ColumnStats {
    /// Adds values; `None` is a null.
    pub fn update(&mut self, values: impl Iterator<Item = Option<f64>>) {
        for v in values {
            match v {
                None => self.nulls += 1,
                Some(v) if !v.is_finite() => self.non_finite += 1,
                Some(v) => {
                    self.min = self.min.min(v);
                    self.max = self.max.max(v);
                    self.sum += v;
                    self.count += 1;
                }
            }
        }
    }

    /// Whether every (finite) value is the same.
    pub fn is_constant(&self) -> bool {
        self.min == self.max
    }

    /// The mean of the finite values.
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        }
    }

    /// The transform for a column with these statistics: `log1p` for a non-negative
    /// floating-point column whose maximum exceeds [`LONG_TAIL`] times its mean (pT, masses,
    /// energies), so that the model's errors are relative rather than absolute.
    pub fn transform(&self, floating: bool) -> Transform {
        if floating && self.min >= 0.0 && self.max > LONG_TAIL * self.mean() {
            Transform::Log1p
        } else {
            Transform::Identity
        }
    }
}

/// A column whose maximum is this many times its mean has a long tail.
pub const LONG_TAIL: f64 = 10.0;

/// Maps each column to [0, 1]: its transform, then its minimum and maximum (of the
/// transformed values).
#[derive(Debug, Clone, PartialEq)]
pub struct Normaliser {
    pub min: Vec<f64>,
    pub max: Vec<f64>,
    pub transform: Vec<Transform>,
}

impl Normaliser {
    /// From per-column ranges (of the transformed values) and transforms. Columns with
    /// `min == max` must not be normalised (they are stored as constants instead).
    pub fn new(columns: impl IntoIterator<Item = (f64, f64, Transform)>) -> Self {
        let mut n = Self {
            min: Vec::new(),
            max: Vec::new(),
            transform: Vec::new(),
        };
        for (min, max, t) in columns {
            n.min.push(min);
            n.max.push(max);
            n.transform.push(t);
        }
        n
    }

    /// Normalises `columns` (each a column of equal length) into a row-major `rows × n` buffer.
    pub fn normalise(&self, columns: &[Vec<f64>]) -> Vec<f32> {
        let n = columns.len();
        let rows = columns.first().map_or(0, Vec::len);
        let mut out = vec![0f32; rows * n];
        for (j, column) in columns.iter().enumerate() {
            let (min, scale, t) = (self.min[j], self.max[j] - self.min[j], self.transform[j]);
            for (r, v) in column.iter().enumerate() {
                out[r * n + j] = ((t.forward(*v) - min) / scale) as f32;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_count_what_cannot_be_normalised() {
        let mut s = ColumnStats::default();
        s.update(
            [
                Some(1.0),
                Some(f64::NAN),
                None,
                Some(-3.0),
                Some(f64::INFINITY),
            ]
            .into_iter(),
        );
        assert_eq!((s.min, s.max, s.non_finite, s.nulls), (-3.0, 1.0, 2, 1));
        assert!(!s.is_constant());
    }

    #[test]
    fn normalised_rows_span_zero_to_one() {
        let n = Normaliser::new([
            (0.0, 10.0, Transform::Identity),
            (-1.0, 1.0, Transform::Identity),
        ]);
        let rows = n.normalise(&[vec![0.0, 5.0, 10.0], vec![1.0, -1.0, 0.0]]);
        assert_eq!(rows, [0.0, 1.0, 0.5, 0.0, 1.0, 0.5]);
    }

    #[test]
    fn long_tailed_non_negative_floats_get_a_log_transform() {
        let stats = |values: &[f64]| {
            let mut s = ColumnStats::default();
            s.update(values.iter().map(|v| Some(*v)));
            s
        };
        let mut pt = vec![20.0; 99];
        pt.push(3000.0);
        assert_eq!(stats(&pt).transform(true), Transform::Log1p);
        assert_eq!(
            stats(&pt).transform(false),
            Transform::Identity,
            "integers stay linear"
        );
        assert_eq!(
            stats(&[-1.0, 0.0, 2000.0]).transform(true),
            Transform::Identity,
            "negative values"
        );
        assert_eq!(
            stats(&[1.0, 2.0, 3.0]).transform(true),
            Transform::Identity,
            "no long tail"
        );
        let n = Normaliser::new([(0.0, 1000f64.ln_1p(), Transform::Log1p)]);
        let y = n.normalise(&[vec![0.0, 1000.0]]);
        assert_eq!(y, [0.0, 1.0]);
    }
}
