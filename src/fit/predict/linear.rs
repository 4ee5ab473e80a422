//! Linear algebra of the fits: ridge least squares by Cholesky, sparse refits on the strongest
//! features, and the forms a fitted predictor takes (raw units, integer weights, rounded).

use baler_udfs::format::{Domain, Feature, Lag, Predictor};

use super::{PoolFeature, mean};

/// The running sums of the least-squares fits: the standardised features of the pool, their
/// Gram matrix `gram[a][b] = z_a·z_b`, and `cross[t][a] = z_a·(y_t − mean_t)` for every target.
pub(super) struct Sums<'t> {
    pub(super) pool: Vec<PoolFeature>,
    pub(super) gram: Vec<Vec<f64>>,
    pub(super) cross: Vec<Vec<f64>>,
    pub(super) target_means: Vec<f64>,
    targets: &'t [(usize, Domain, Vec<f64>)],
}

impl<'t> Sums<'t> {
    pub(super) fn new(targets: &'t [(usize, Domain, Vec<f64>)]) -> Self {
        Self {
            pool: Vec::new(),
            gram: Vec::new(),
            cross: vec![Vec::new(); targets.len()],
            target_means: targets.iter().map(|(_, _, y)| mean(y)).collect(),
            targets,
        }
    }

    /// Adds a feature (skipped when it does not vary) and extends the sums.
    pub(super) fn add(&mut self, (column, domain, lag): (String, Domain, Lag), values: Vec<f64>) {
        let m = mean(&values);
        let var = values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / values.len().max(1) as f64;
        if var <= 0.0 || !var.is_finite() {
            return;
        }
        let scale = var.sqrt();
        let z: Vec<f64> = values.iter().map(|v| (v - m) / scale).collect();
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        let row: Vec<f64> = self.pool.iter().map(|f| dot(&f.z, &z)).collect();
        for (g, r) in self.gram.iter_mut().zip(&row) {
            g.push(*r);
        }
        let mut own = row;
        own.push(dot(&z, &z));
        self.gram.push(own);
        for ((_, _, y), (c, tm)) in self
            .targets
            .iter()
            .zip(self.cross.iter_mut().zip(&self.target_means))
        {
            c.push(z.iter().zip(y).map(|(a, b)| a * (b - tm)).sum());
        }
        self.pool.push(PoolFeature {
            column,
            domain,
            lag,
            mean: m,
            scale,
            z,
        });
    }
}

/// The least-squares weights on the `m` features with the largest standardised weights in `w`
/// (the others zero).
pub(super) fn strongest(gram: &[Vec<f64>], b: &[f64], w: &[f64], m: usize) -> Vec<f64> {
    let mut keep: Vec<usize> = (0..w.len()).collect();
    keep.sort_by(|&i, &j| w[j].abs().total_cmp(&w[i].abs()));
    keep.truncate(m);
    let sub: Vec<Vec<f64>> = keep
        .iter()
        .map(|&i| keep.iter().map(|&j| gram[i][j]).collect())
        .collect();
    let sub_b: Vec<f64> = keep.iter().map(|&i| b[i]).collect();
    let mut out = vec![0.0; w.len()];
    for (&i, v) in keep.iter().zip(solve(&sub, &sub_b)) {
        out[i] = v;
    }
    out
}

/// `p` with its intercept and weights rounded to `digits` significant decimal digits (shorter
/// in the header).
pub(super) fn rounded(p: &Predictor, digits: usize) -> Predictor {
    let round = |x: f64| -> f64 {
        format!("{x:.*e}", digits.saturating_sub(1))
            .parse()
            .unwrap_or(x)
    };
    Predictor {
        intercept: round(p.intercept),
        features: p
            .features
            .iter()
            .map(|f| Feature {
                weight: round(f.weight),
                ..f.clone()
            })
            .collect(),
        ..p.clone()
    }
}

/// The bytes of a predictor's header entry (JSON).
pub(super) fn header_bytes(p: &Predictor) -> f64 {
    serde_json::to_string(p).map_or(0, |j| j.len()) as f64
}

/// Solves `(G + λI) w = b` by Cholesky (a small ridge keeps repeated features solvable).
pub(crate) fn solve(gram: &[Vec<f64>], b: &[f64]) -> Vec<f64> {
    let n = b.len();
    let trace: f64 = (0..n).map(|i| gram[i][i]).sum();
    let ridge = 1e-10 * trace / n.max(1) as f64;
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s = gram[i][j] + if i == j { ridge } else { 0.0 }
                - l[i][..j]
                    .iter()
                    .zip(&l[j][..j])
                    .map(|(a, b)| a * b)
                    .sum::<f64>();
            l[i][j] = if i == j {
                s.max(1e-300).sqrt()
            } else {
                s / l[j][j]
            };
        }
    }
    let mut y = vec![0.0; n];
    for i in 0..n {
        let s: f64 = (0..i).map(|k| l[i][k] * y[k]).sum();
        y[i] = (b[i] - s) / l[i][i];
    }
    let mut w = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| l[k][i] * w[k]).sum();
        w[i] = (y[i] - s) / l[i][i];
    }
    w
}

/// The predictor in raw units: `mean_t + Σ w (f − mean_f)/scale_f`.
pub(super) fn raw_predictor(
    name: &str,
    domain: Domain,
    target_mean: f64,
    w: &[f64],
    pool: &[PoolFeature],
) -> Predictor {
    let mut intercept = target_mean;
    let features = pool
        .iter()
        .zip(w)
        .filter(|(_, w)| w.is_finite() && **w != 0.0)
        .map(|(f, w)| {
            let weight = w / f.scale;
            intercept -= weight * f.mean;
            Feature {
                column: f.column.clone(),
                domain: f.domain,
                weight,
                lag: f.lag,
            }
        })
        .collect();
    Predictor {
        column: name.to_owned(),
        domain,
        intercept,
        features,
        network: None,
    }
}

/// The predictor with integer weights and no intercept, keeping only non-zero terms: exact
/// for identities such as `a = b` and `a = b + c`.
pub(super) fn snap(p: &Predictor) -> Predictor {
    Predictor {
        column: p.column.clone(),
        domain: p.domain,
        intercept: 0.0,
        features: p
            .features
            .iter()
            .filter(|f| f.weight.round() != 0.0)
            .map(|f| Feature {
                weight: f.weight.round(),
                ..f.clone()
            })
            .collect(),
        network: None,
    }
}
