//! Method `predict`: learns, from a sample, an order in which to code the columns and a linear
//! predictor of each column from the decoded values of the columns before it.
//!
//! Every bounded value is stored as the point of a fixed grid (see
//! [`baler_udfs::quantise`]), so the decoded values do not depend on the predictors; the
//! predictors only decide how small the residuals are. Fitting therefore works on the decoded
//! sample directly:
//! - each step fits, for every column not yet coded and in both of its domains (value and grid
//!   coordinate, a log scale for relative bounds), a ridge least-squares predictor on every
//!   feature available (the coded columns' values and grid coordinates), from running sums
//!   (the Gram matrix) updated once per coded column;
//! - it also tries the fit with weights rounded to integers and no intercept, which turns
//!   `a = b` and `a = b + c` into exact identities with all-zero residuals;
//! - each candidate is scored by the entropy of its residuals on the sample, and the cheapest
//!   column is coded next.

use std::collections::HashMap;

use baler_udfs::format::{Domain, Feature, Predictor};
use baler_udfs::quantise::Quantiser;

use baler_udfs::Result;

/// Rows of the sample used to fit the predictors.
pub const FIT_ROWS: usize = 16_384;

/// A column to code: its name, quantiser and sample values.
pub struct Column<'a> {
    pub name: &'a str,
    pub quantiser: Quantiser,
    pub values: &'a [f64],
}

/// One feature vector of the pool: an earlier column in one domain, centred and scaled.
struct PoolFeature {
    column: usize,
    domain: Domain,
    mean: f64,
    scale: f64,
    /// `(value − mean) / scale` per row.
    z: Vec<f64>,
}

/// A fitted candidate for one column.
struct Candidate {
    predictor: Predictor,
    bits: f64,
}

/// Fits predictors for `columns` (all of the same sample length); with `learn` off, every
/// column is predicted by a constant (the model-free residual coder). Returns them in coding
/// order.
///
/// # Errors
/// [`baler_udfs::Error::Bound`] for a sample value no grid point can hold.
pub fn fit(columns: &[Column], learn: bool) -> Result<Vec<Predictor>> {
    let rows = columns.first().map_or(0, |c| c.values.len()).min(FIT_ROWS);
    // The decoded values do not depend on the predictors: compute them once.
    let decoded = columns
        .iter()
        .map(|c| {
            c.values[..rows]
                .iter()
                .map(|&x| c.quantiser.encode(c.name, x, 0).map(|(_, rec)| rec))
                .collect::<Result<Vec<f64>>>()
        })
        .collect::<Result<Vec<_>>>()?;
    // Targets: each column in each of its domains.
    let targets: Vec<(usize, Domain, Vec<f64>)> = columns
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            domains(c)
                .into_iter()
                .map(move |d| (i, d, in_domain(c, d, &c.values[..rows])))
        })
        .collect();
    let mut pool: Vec<PoolFeature> = Vec::new();
    // gram[a][b] = z_a·z_b; cross[t][a] = z_a·(y_t − mean_t).
    let mut gram: Vec<Vec<f64>> = Vec::new();
    let mut cross: Vec<Vec<f64>> = vec![Vec::new(); targets.len()];
    let target_means: Vec<f64> = targets.iter().map(|(_, _, y)| mean(y)).collect();
    let mut coded: Vec<usize> = Vec::new();
    let mut predictors = Vec::new();
    while coded.len() < columns.len() {
        let mut best: Option<(usize, Candidate)> = None;
        for (t, (column, domain, _)) in targets.iter().enumerate() {
            if coded.contains(column) {
                continue;
            }
            let c = &columns[*column];
            let fits = if learn && !pool.is_empty() {
                let w = solve(&gram, &cross[t]);
                let fitted = raw_predictor(c.name, *domain, target_means[t], &w, &pool, columns);
                // The snapped fit first: on a tie, the exact identity wins.
                vec![snap(&fitted), fitted]
            } else {
                vec![Predictor {
                    column: c.name.to_owned(),
                    domain: *domain,
                    intercept: target_means[t],
                    features: Vec::new(),
                }]
            };
            for predictor in fits {
                let bits = residual_bits(c, &predictor, &decoded, columns, rows);
                if best.as_ref().is_none_or(|(_, b)| bits < b.bits) {
                    best = Some((*column, Candidate { predictor, bits }));
                }
            }
        }
        let (column, chosen) = best.expect("a column is left to code");
        coded.push(column);
        predictors.push(chosen.predictor);
        if learn {
            let c = &columns[column];
            for domain in domains(c) {
                let values = in_domain(c, domain, &decoded[column]);
                add_feature(
                    &mut pool,
                    &mut gram,
                    &mut cross,
                    &targets,
                    &target_means,
                    column,
                    domain,
                    values,
                );
            }
        }
    }
    Ok(predictors)
}

/// The domains a column can be predicted in: its value, and its grid coordinate when that
/// differs (floats under relative or exact bounds, and absolute bounds' scaled values).
fn domains(c: &Column) -> Vec<Domain> {
    if c.quantiser.coordinate(3.0) == 3.0 {
        vec![Domain::Value]
    } else {
        vec![Domain::Value, Domain::Grid]
    }
}

fn in_domain(c: &Column, domain: Domain, values: &[f64]) -> Vec<f64> {
    match domain {
        Domain::Value => values.to_vec(),
        Domain::Grid => values.iter().map(|&x| c.quantiser.coordinate(x)).collect(),
    }
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Adds a feature to the pool and extends the running sums.
#[allow(clippy::too_many_arguments)]
fn add_feature(
    pool: &mut Vec<PoolFeature>,
    gram: &mut Vec<Vec<f64>>,
    cross: &mut [Vec<f64>],
    targets: &[(usize, Domain, Vec<f64>)],
    target_means: &[f64],
    column: usize,
    domain: Domain,
    values: Vec<f64>,
) {
    let m = mean(&values);
    let var = values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / values.len().max(1) as f64;
    if var <= 0.0 || !var.is_finite() {
        return;
    }
    let scale = var.sqrt();
    let z: Vec<f64> = values.iter().map(|v| (v - m) / scale).collect();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let row: Vec<f64> = pool.iter().map(|f| dot(&f.z, &z)).collect();
    for (g, r) in gram.iter_mut().zip(&row) {
        g.push(*r);
    }
    let mut own = row;
    own.push(dot(&z, &z));
    gram.push(own);
    for ((_, _, y), (c, tm)) in targets.iter().zip(cross.iter_mut().zip(target_means)) {
        c.push(z.iter().zip(y).map(|(a, b)| a * (b - tm)).sum());
    }
    pool.push(PoolFeature {
        column,
        domain,
        mean: m,
        scale,
        z,
    });
}

/// Solves `(G + λI) w = b` by Cholesky (a small ridge keeps repeated features solvable).
fn solve(gram: &[Vec<f64>], b: &[f64]) -> Vec<f64> {
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
fn raw_predictor(
    name: &str,
    domain: Domain,
    target_mean: f64,
    w: &[f64],
    pool: &[PoolFeature],
    columns: &[Column],
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
                column: columns[f.column].name.to_owned(),
                domain: f.domain,
                weight,
            }
        })
        .collect();
    Predictor {
        column: name.to_owned(),
        domain,
        intercept,
        features,
    }
}

/// The predictor with integer weights and no intercept, keeping only non-zero terms: exact
/// for identities such as `a = b` and `a = b + c`.
fn snap(p: &Predictor) -> Predictor {
    Predictor {
        column: p.column.clone(),
        domain: p.domain,
        intercept: 0.0,
        features: p
            .features
            .iter()
            .filter(|f| f.weight.round() != 0.0)
            .map(|f| Feature {
                column: f.column.clone(),
                domain: f.domain,
                weight: f.weight.round(),
            })
            .collect(),
    }
}

/// The entropy (bits per row) of the residuals `predictor` leaves on the sample.
fn residual_bits(
    c: &Column,
    predictor: &Predictor,
    decoded: &[Vec<f64>],
    columns: &[Column],
    rows: usize,
) -> f64 {
    let index = |name: &str| columns.iter().position(|c| c.name == name);
    let terms: Vec<(usize, Domain, f64)> = predictor
        .features
        .iter()
        .filter_map(|f| Some((index(&f.column)?, f.domain, f.weight)))
        .collect();
    let mut counts: HashMap<i64, u32> = HashMap::new();
    for (r, x) in c.values.iter().take(rows).enumerate() {
        let mut p = predictor.intercept;
        for &(j, domain, w) in &terms {
            let x = decoded[j][r];
            p += w * match domain {
                Domain::Value => x,
                Domain::Grid => columns[j].quantiser.coordinate(x),
            };
        }
        let k_hat = match predictor.domain {
            Domain::Value => c.quantiser.index_of_value(p),
            Domain::Grid => c.quantiser.index_of_coordinate(p),
        };
        let k = c.quantiser.index_of_value(*x);
        *counts.entry(k.wrapping_sub(k_hat)).or_default() += 1;
    }
    let n = rows.max(1) as f64;
    counts
        .values()
        .map(|&m| {
            let p = f64::from(m) / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::DataType;
    use baler_udfs::quantise::Bound;

    fn column<'a>(name: &'a str, values: &'a [f64], bound: &str, dt: DataType) -> Column<'a> {
        Column {
            name,
            quantiser: Quantiser::new(name, bound.parse::<Bound>().unwrap(), &dt).unwrap(),
            values,
        }
    }

    #[test]
    fn equal_columns_and_sums_become_exact_identities() {
        let n = 2000;
        let a: Vec<f64> = (0..n).map(|i| f64::from((i * 37 % 101) as u8)).collect();
        let b: Vec<f64> = (0..n).map(|i| f64::from((i * 53 % 67) as u8)).collect();
        let sum: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        let e: Vec<f64> = (0..n)
            .map(|i| f64::from(1.0f32 + (i as f32 * 0.731).sin().abs() * 100.0))
            .collect();
        let columns = [
            column("sum", &sum, "exact", DataType::Int32),
            column("a", &a, "exact", DataType::Int32),
            column("e", &e, "1e-2rel", DataType::Float32),
            column("b", &b, "exact", DataType::Int32),
            column("e2", &e, "1e-2rel", DataType::Float32),
        ];
        let predictors = fit(&columns, true).unwrap();
        let order: Vec<&str> = predictors.iter().map(|p| p.column.as_str()).collect();
        let position = |n: &str| order.iter().position(|o| *o == n).unwrap();
        // The last of a, b, sum and the second of e, e2 are predicted exactly.
        let last = ["a", "b", "sum"]
            .into_iter()
            .max_by_key(|n| position(n))
            .unwrap();
        let second_e = if position("e") > position("e2") {
            "e"
        } else {
            "e2"
        };
        for name in [last, second_e] {
            let p = &predictors[position(name)];
            let c = columns.iter().find(|c| c.name == name).unwrap();
            let decoded: Vec<Vec<f64>> = columns
                .iter()
                .map(|c| {
                    c.values
                        .iter()
                        .map(|&x| c.quantiser.encode(c.name, x, 0).unwrap().1)
                        .collect()
                })
                .collect();
            let bits = residual_bits(c, p, &decoded, &columns, n);
            assert_eq!(bits, 0.0, "{name}: {p:?}");
            assert_eq!(p.intercept, 0.0, "{p:?}");
        }
    }
}
