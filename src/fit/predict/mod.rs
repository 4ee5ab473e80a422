//! Method `predict`: learns, from a sample, an order in which to code the columns and a
//! predictor of each column from the decoded values of the columns before it: linear, plus a
//! small network where that pays for its weights.
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
//!   column is coded next;
//! - once the order is fixed, each column whose linear residuals still cost bits gets a small
//!   network ([`super::network`]) trained on what the linear part leaves; it is kept when the
//!   bits it saves on rows it was not trained on, over the whole file, outweigh its weights.

use std::collections::HashMap;
use std::path::Path;

use baler_udfs::codec::{event_ranks, previous};
use baler_udfs::format::{
    ColumnSpec, Domain, FitSummary, Lag, MethodSpec, PredictSpec, Predictor, Split, Storage,
};
use baler_udfs::predictor::{Compiled, feature_input};
use baler_udfs::quantise::Quantiser;

use super::columns::{column_specs, event_column, header};
use super::{Fitted, Scan, compress_err, network};
use cost::{cheapest_grid, choose_splits, residual_bits};
pub(crate) use linear::solve;
use linear::{Sums, header_bytes, raw_predictor, rounded, snap, strongest};

mod cost;
mod linear;
use crate::error::{Error, Result};
use crate::options::{CompressOptions, Method};

/// Rows of the sample used to fit the predictors; as many more, when the sample has them,
/// decide whether a network pays.
pub const FIT_ROWS: usize = 16_384;
/// Feature counts of the sparse fits tried besides the fit on every feature.
const SPARSE_FEATURES: [usize; 3] = [1, 3, 8];
/// Significant digits tried for a chosen predictor's numbers (the header is smaller with fewer).
const ROUNDED_DIGITS: [usize; 4] = [2, 4, 6, 9];
/// Linear residual entropy (bits per row) below which no network is tried.
const NETWORK_MIN_BITS: f64 = 1.0;

/// Methods `predict` and `residual` (`method`): predictors fitted on the sample.
///
/// # Errors
/// [`Error::NotApplicable`] without a column to predict, [`Error::Compress`] for a value no
/// grid point can hold, training failures of the predictor networks.
pub(super) fn fit_method(
    input: &Path,
    scan: &Scan,
    options: &CompressOptions,
    method: Method,
) -> Result<Fitted> {
    let start = std::time::Instant::now();
    let columns = column_specs(scan, method, options.bounds.as_ref())?;
    let sample = scan.model_sample(&columns, 2 * FIT_ROWS);
    let predicted: Vec<&ColumnSpec> = columns
        .iter()
        .filter(|c| matches!(c.storage, Storage::Predicted))
        .collect();
    if predicted.is_empty() {
        return Err(Error::NotApplicable {
            method: method.name(),
            message: format!(
                "`{}` has no varying numeric columns outside `--keep` to predict",
                input.display()
            ),
        });
    }
    let mut columns = columns.clone();
    let mut grids = Vec::with_capacity(predicted.len());
    let coded = predicted
        .iter()
        .zip(&sample)
        .map(|(c, values)| {
            let dt = c.arrow_type().map_err(compress_err(input))?;
            let bound = c.bound.expect("predicted columns have bounds");
            let (grid, quantiser) =
                cheapest_grid(&c.name, bound, &dt, values).map_err(compress_err(input))?;
            grids.push((c.name.clone(), grid));
            Ok(Column {
                name: &c.name,
                quantiser,
                values,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    for (name, grid) in grids {
        if let Some(c) = columns.iter_mut().find(|c| c.name == name) {
            c.grid = grid;
        }
    }
    let learn = method == Method::Predict;
    let seed = options.train.seed;
    let event = event_column(&columns);
    let sample_rows = sample.first().map_or(0, Vec::len);
    let ranks = match event.as_ref().and_then(|e| scan.head.column_by_name(e)) {
        Some(events) if events.len() >= sample_rows => {
            event_ranks(&events.slice(0, sample_rows)).map_err(compress_err(input))?
        }
        _ => Vec::new(),
    };
    let events = event
        .as_deref()
        .filter(|_| !ranks.is_empty())
        .map(|column| Events {
            column,
            ranks: &ranks,
        });
    let fit = fit(&coded, learn, scan.rows, seed, events.as_ref()).map_err(|e| match e {
        FitError::Bound(e) => compress_err(input)(e),
        FitError::Training(e) => Error::Training(e),
    })?;
    for (name, split) in fit.splits {
        if let Some(c) = columns.iter_mut().find(|c| c.name == name) {
            c.split = Some(split);
        }
    }
    let spec = PredictSpec {
        predictors: fit.predictors,
        fit: FitSummary {
            rows: sample.first().map_or(0, |s| s.len().min(FIT_ROWS)) as u64,
            seed,
            seconds: start.elapsed().as_secs_f64(),
        },
    };
    let method = if learn {
        MethodSpec::Predict(spec)
    } else {
        MethodSpec::Residual(spec)
    };
    Ok(Fitted::new(None, header(columns, method), fit.weights))
}

/// Why fitting predictors failed.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    /// A sample value no grid point can hold.
    #[error(transparent)]
    Bound(#[from] baler_udfs::Error),
    /// Training a predictor network failed.
    #[error(transparent)]
    Training(#[from] candle_core::Error),
}

/// The fitted predictors, in coding order, their networks' weights (safetensors bytes; empty
/// when no predictor has a network), and how each column's residuals are split (by column).
pub struct Fit {
    pub predictors: Vec<Predictor>,
    pub weights: Vec<u8>,
    pub splits: Vec<(String, Split)>,
}

/// The event context of the sample: the event column's name and each sample row's rank in its
/// event.
pub struct Events<'a> {
    pub column: &'a str,
    pub ranks: &'a [u32],
}

/// A column to code: its name, quantiser and sample values.
pub struct Column<'a> {
    pub name: &'a str,
    pub quantiser: Quantiser,
    pub values: &'a [f64],
}

/// A feature's sample values, by column, domain and lag.
type Inputs<'a> = HashMap<(&'a str, Domain, Lag), Vec<f64>>;

/// One feature vector of the pool: an earlier column in one domain and lag (or the first-row
/// indicator), centred and scaled.
struct PoolFeature {
    column: String,
    domain: Domain,
    lag: Lag,
    mean: f64,
    scale: f64,
    /// `(value − mean) / scale` per row.
    z: Vec<f64>,
}

/// A fitted candidate for one column.
#[derive(Clone)]
struct Candidate {
    predictor: Predictor,
    /// Entropy of its residuals, bits per row.
    bits: f64,
    /// Bytes it would cost in the file: residuals over every row, and its header entry.
    cost: f64,
}

/// Fits predictors for `columns` (all of the same sample length); with `learn` off, every
/// column is predicted by a constant (the model-free residual coder). `total_rows` (the whole
/// file's) weighs a network's saving against its size; `seed` seeds its training.
///
/// # Errors
/// [`FitError::Bound`] for a sample value no grid point can hold, [`FitError::Training`] when
/// training a network fails.
pub fn fit(
    columns: &[Column],
    learn: bool,
    total_rows: u64,
    seed: u64,
    events: Option<&Events>,
) -> std::result::Result<Fit, FitError> {
    let all = columns.first().map_or(0, |c| c.values.len());
    let rows = all.min(FIT_ROWS);
    let inputs = sample_inputs(columns, events)?;
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
    let mut sums = Sums::new(&targets);
    let mut coded: Vec<usize> = Vec::new();
    let mut chosen: Vec<Candidate> = Vec::new();
    if let (true, Some(e)) = (learn, events) {
        let first = inputs[&(e.column, Domain::Value, Lag::First)][..rows].to_vec();
        let key = (e.column.to_owned(), Domain::Value, Lag::First);
        sums.add(key, first);
    }
    while coded.len() < columns.len() {
        // Each target's candidates, scored on every core (in target order), then each
        // column's cheapest candidate and what its constant costs.
        let todo: Vec<usize> = (0..targets.len())
            .filter(|&t| !coded.contains(&targets[t].0))
            .collect();
        let scored = crate::parallel::map(&todo, |&t| {
            let (column, domain, _) = &targets[t];
            let c = &columns[*column];
            // A constant prediction of 0: the stream coder takes any offset for free.
            let constant = Predictor {
                column: c.name.to_owned(),
                domain: *domain,
                intercept: 0.0,
                features: Vec::new(),
                network: None,
            };
            let fits = if learn && !sums.pool.is_empty() {
                let w = solve(&sums.gram, &sums.cross[t]);
                let raw =
                    |w: &[f64]| raw_predictor(c.name, *domain, sums.target_means[t], w, &sums.pool);
                let fitted = raw(&w);
                // The snapped fit first: on a tie, the exact identity wins. Fits on the few
                // strongest features cost less header, which small files feel.
                let mut fits = vec![snap(&fitted)];
                for m in SPARSE_FEATURES.into_iter().filter(|&m| m < w.len()) {
                    fits.push(raw(&strongest(&sums.gram, &sums.cross[t], &w, m)));
                }
                fits.push(fitted);
                // Features must earn their place: the constant is a candidate too.
                fits.push(constant);
                fits
            } else {
                vec![constant]
            };
            fits.into_iter()
                .map(|predictor| score(c, predictor, &inputs, rows, total_rows))
                .collect::<Vec<Candidate>>()
        });
        let mut per_column: HashMap<usize, (Candidate, f64)> = HashMap::new();
        for (&t, candidates) in todo.iter().zip(scored) {
            for candidate in candidates {
                let constant = candidate.predictor.features.is_empty();
                let entry = per_column
                    .entry(targets[t].0)
                    .or_insert_with(|| (candidate.clone(), f64::INFINITY));
                if constant {
                    entry.1 = entry.1.min(candidate.cost);
                }
                if candidate.cost < entry.0.cost {
                    entry.0 = candidate;
                }
            }
        }
        // The column that what is coded helps least goes next: columns that nothing predicts
        // (pt, eta) come first, so that those they predict can use them; on a tie, the cheaper.
        let (column, (mut candidate, _)) = per_column
            .into_iter()
            .min_by(|(a, (ca, ba)), (b, (cb, bb))| {
                let (ga, gb) = (ba - ca.cost, bb - cb.cost);
                ga.total_cmp(&gb)
                    .then(ca.cost.total_cmp(&cb.cost))
                    .then(a.cmp(b))
            })
            .expect("a column is left to code");
        // The same predictor with its numbers written with fewer digits, when the header bytes
        // that saves outweigh the residual bits it costs.
        for digits in ROUNDED_DIGITS {
            let c = &columns[column];
            let rounded = score(
                c,
                rounded(&candidate.predictor, digits),
                &inputs,
                rows,
                total_rows,
            );
            if rounded.cost < candidate.cost {
                candidate = rounded;
            }
        }
        coded.push(column);
        chosen.push(candidate);
        if learn {
            let c = &columns[column];
            let lags: &[Lag] = if events.is_some() {
                &[Lag::Current, Lag::Previous]
            } else {
                &[Lag::Current]
            };
            for domain in feature_domains(c) {
                for &lag in lags {
                    let values = inputs[&(c.name, domain, lag)][..rows].to_vec();
                    let key = (c.name.to_owned(), domain, lag);
                    sums.add(key, values);
                }
            }
        }
    }
    let mut predictors = Vec::new();
    let mut tensors = Vec::new();
    let order = coded.clone();
    for (column, candidate) in coded.into_iter().zip(chosen) {
        let c = &columns[column];
        let mut predictor = candidate.predictor;
        // A network is worth training only if removing every residual bit would pay for it.
        let could_pay = candidate.bits * total_rows as f64 / 8.0
            > network::cost_bytes(predictor.features.len()) as f64;
        if learn
            && could_pay
            && candidate.bits >= NETWORK_MIN_BITS
            && !predictor.features.is_empty()
        {
            let check = if all > rows { rows..all } else { 0..rows };
            if let Some(trained) =
                try_network(c, &predictor, &inputs, rows, check, total_rows, seed)?
            {
                predictor.network = Some(trained.network);
                tensors.extend(trained.tensors);
            }
        }
        predictors.push(predictor);
    }
    tensors.sort_by(|a: &(String, _), b| a.0.cmp(&b.0));
    let weights = if tensors.is_empty() {
        Vec::new()
    } else {
        safetensors::serialize(tensors, None)
            .map_err(|e| candle_core::Error::Msg(format!("cannot save predictor networks: {e}")))?
    };
    let splits = choose_splits(
        columns,
        &order,
        &predictors,
        &weights,
        &inputs,
        total_rows,
        events,
    )?;
    Ok(Fit {
        predictors,
        weights,
        splits,
    })
}

/// Every column's input as a feature, in each of its domains (and, with events, as the
/// previous row's value), on every sample row, and the first-row indicator. The decoded values
/// do not depend on the predictors, so they are computed once.
fn sample_inputs<'a>(
    columns: &[Column<'a>],
    events: Option<&Events<'a>>,
) -> baler_udfs::Result<Inputs<'a>> {
    let mut inputs = HashMap::new();
    for c in columns {
        let decoded = c
            .values
            .iter()
            .map(|&x| c.quantiser.encode(c.name, x, 0).map(|(_, rec)| rec))
            .collect::<baler_udfs::Result<Vec<f64>>>()?;
        for domain in feature_domains(c) {
            let input = feature_input(domain, &decoded, Some(&c.quantiser)).into_owned();
            if let Some(e) = events {
                inputs.insert((c.name, domain, Lag::Previous), previous(&input, e.ranks));
            }
            inputs.insert((c.name, domain, Lag::Current), input);
        }
    }
    if let Some(e) = events {
        let rows = columns.first().map_or(0, |c| c.values.len());
        let first = (0..rows)
            .map(|r| f64::from(u8::from(e.ranks.get(r).is_none_or(|&k| k == 0))))
            .collect();
        inputs.insert((e.column, Domain::Value, Lag::First), first);
    }
    Ok(inputs)
}

/// Trains a network for `predictor` on the first `rows` rows and returns it when the bits it
/// saves on the `check` rows, scaled to `total_rows`, outweigh its size.
fn try_network(
    c: &Column,
    predictor: &Predictor,
    inputs: &Inputs,
    rows: usize,
    check: std::ops::Range<usize>,
    total_rows: u64,
    seed: u64,
) -> candle_core::Result<Option<network::Trained>> {
    let features = feature_inputs(predictor, inputs, ..);
    let all = features.first().map_or(0, |f| f.len());
    let linear = Compiled::new(predictor.clone(), None);
    let target = in_domain(c, predictor.domain, c.values);
    let left: Vec<f64> = target
        .iter()
        .zip(linear.predict(&features, all))
        .map(|(t, p)| t - p)
        .collect();
    let Some(trained) = network::train(c.name, &features, &left, rows, seed)? else {
        return Ok(None);
    };
    let with = Compiled::new(
        Predictor {
            network: Some(trained.network.clone()),
            ..predictor.clone()
        },
        Some(trained.exact.clone()),
    );
    let saved =
        residual_bits(c, &linear, inputs, check.clone()) - residual_bits(c, &with, inputs, check);
    let saved_bytes = saved * total_rows as f64 / 8.0;
    Ok((saved_bytes > trained.cost_bytes() as f64).then_some(trained))
}

/// The inputs of `predictor`'s features on the rows in `range`.
fn feature_inputs<'a>(
    predictor: &'a Predictor,
    inputs: &'a Inputs<'a>,
    range: impl std::slice::SliceIndex<[f64], Output = [f64]> + Clone,
) -> Vec<&'a [f64]> {
    predictor
        .features
        .iter()
        .map(|f| &inputs[&(f.column.as_str(), f.domain, f.lag)][range.clone()])
        .collect()
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

/// The domains a column's values are features in: its prediction domains, and its absolute
/// value when it has negative values.
fn feature_domains(c: &Column) -> Vec<Domain> {
    let mut d = domains(c);
    if c.values.iter().any(|&x| x < 0.0) {
        d.push(Domain::Abs);
    }
    d
}

fn in_domain(c: &Column, domain: Domain, values: &[f64]) -> Vec<f64> {
    feature_input(domain, values, Some(&c.quantiser)).into_owned()
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// A candidate's residual bits on the first `rows` sample rows and its cost over the file.
fn score(
    c: &Column,
    predictor: Predictor,
    inputs: &Inputs,
    rows: usize,
    total_rows: u64,
) -> Candidate {
    let compiled = Compiled::new(predictor, None);
    let p = &compiled.predictor;
    let finite = p.intercept.is_finite() && p.features.iter().all(|f| f.weight.is_finite());
    let bits = if finite {
        residual_bits(c, &compiled, inputs, 0..rows)
    } else {
        f64::INFINITY
    };
    let cost = bits * total_rows as f64 / 8.0 + header_bytes(&compiled.predictor);
    Candidate {
        predictor: compiled.predictor,
        bits,
        cost,
    }
}

#[cfg(test)]
mod tests {
    use super::cost::residuals;
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
        let predictors = fit(&columns, true, n as u64, 1, None).unwrap().predictors;
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
        let inputs = sample_inputs(&columns, None).unwrap();
        for name in [last, second_e] {
            let p = &predictors[position(name)];
            let c = columns.iter().find(|c| c.name == name).unwrap();
            let q = residuals(c, &Compiled::new(p.clone(), None), &inputs, 0..n);
            assert!(q.iter().all(|&r| r == 0), "{name}: {p:?}");
            assert_eq!(p.intercept, 0.0, "{p:?}");
        }
    }

    #[test]
    fn a_nonlinear_dependence_gets_a_network_that_pays() {
        let n = 2 * FIT_ROWS;
        let mut state = 7u64;
        let x: Vec<f64> = (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                f64::from(1.0 + 0.5 * ((state >> 11) as f32 / (1u64 << 53) as f32))
            })
            .collect();
        // x spans less of the log scale than y, so it is coded first; y is not a linear
        // function of it (sin(8x) over 0.6 of a period turns back).
        let y: Vec<f64> = x
            .iter()
            .map(|x| f64::from((10.0 + 5.0 * (8.0 * x).sin()) as f32))
            .collect();
        let columns = [
            column("x", &x, "1e-3rel", DataType::Float32),
            column("y", &y, "1e-3rel", DataType::Float32),
        ];
        let fitted = fit(&columns, true, 10_000_000, 1, None).unwrap();
        // Training is seeded: the same sample gives the same network.
        assert_eq!(
            fit(&columns, true, 10_000_000, 1, None).unwrap().weights,
            fitted.weights
        );
        let p = fitted
            .predictors
            .iter()
            .find(|p| p.network.is_some())
            .expect("a network for the dependent column");
        assert!(!fitted.weights.is_empty());
        // Its residuals on the rows it was not trained on cost far fewer bits than the linear
        // part's alone, and the saved file evaluates it the same way.
        let c = columns.iter().find(|c| c.name == p.column).unwrap();
        let inputs = sample_inputs(&columns, None).unwrap();
        let linear = Compiled::new(
            Predictor {
                network: None,
                ..p.clone()
            },
            None,
        );
        let loaded = Compiled::load(p, &fitted.weights).unwrap();
        let check = FIT_ROWS..n;
        let (lin, net) = (
            residual_bits(c, &linear, &inputs, check.clone()),
            residual_bits(c, &loaded, &inputs, check),
        );
        assert!(
            net + 3.0 < lin,
            "{net} bits with the network, {lin} without: {p:?}"
        );
    }
}
