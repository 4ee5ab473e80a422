//! Per-column min-max normalisation to [0, 1].

/// Running statistics of one column: range and the values that cannot be normalised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColumnStats {
    pub min: f64,
    pub max: f64,
    /// NaN or infinite values.
    pub non_finite: u64,
    /// Null values.
    pub nulls: u64,
}

impl Default for ColumnStats {
    fn default() -> Self {
        Self {
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            non_finite: 0,
            nulls: 0,
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
                }
            }
        }
    }

    /// Whether every (finite) value is the same.
    pub fn is_constant(&self) -> bool {
        self.min == self.max
    }
}

/// Maps each column to [0, 1] with its minimum and maximum.
#[derive(Debug, Clone, PartialEq)]
pub struct Normaliser {
    pub min: Vec<f64>,
    pub max: Vec<f64>,
}

impl Normaliser {
    /// From per-column ranges. Columns with `min == max` must not be normalised (they are
    /// stored as constants instead).
    pub fn new(ranges: impl IntoIterator<Item = (f64, f64)>) -> Self {
        let (min, max) = ranges.into_iter().unzip();
        Self { min, max }
    }

    /// Normalises `columns` (each a column of equal length) into a row-major `rows × n` buffer.
    pub fn normalise(&self, columns: &[Vec<f64>]) -> Vec<f32> {
        let n = columns.len();
        let rows = columns.first().map_or(0, Vec::len);
        let mut out = vec![0f32; rows * n];
        for (j, column) in columns.iter().enumerate() {
            let (min, scale) = (self.min[j], self.max[j] - self.min[j]);
            for (r, v) in column.iter().enumerate() {
                out[r * n + j] = ((v - min) / scale) as f32;
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
        let n = Normaliser::new([(0.0, 10.0), (-1.0, 1.0)]);
        let rows = n.normalise(&[vec![0.0, 5.0, 10.0], vec![1.0, -1.0, 0.0]]);
        assert_eq!(rows, [0.0, 1.0, 0.5, 0.0, 1.0, 0.5]);
    }
}
