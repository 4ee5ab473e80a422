//! Per-column statistics of the first pass: ranges, bad values, and the transform a column
//! gets before normalisation.

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
    }
}
