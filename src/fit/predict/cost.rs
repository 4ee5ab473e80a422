//! What a column's residuals cost: their order-0 entropy or pcodec's bytes, the cheaper grid,
//! and the split of a residual stream into parts that code smaller.

use baler_udfs::format::{Domain, Lag, Predictor, Split};
use baler_udfs::predictor::Compiled;
use baler_udfs::quantise::{GridKind, Quantiser};

use super::{Column, Events, FitError, Inputs, feature_inputs};

/// The grid (and its quantiser) on which a column's sample values code smaller (their grid
/// points as one pcodec stream): the widest cells the bound allows, or mantissa truncation's
/// grid, which holds values with few mantissa bits exactly.
pub(super) fn cheapest_grid(
    name: &str,
    bound: baler_udfs::quantise::Bound,
    dt: &arrow::datatypes::DataType,
    values: &[f64],
) -> baler_udfs::Result<(GridKind, Quantiser)> {
    let mut best: Option<(f64, GridKind, Quantiser)> = None;
    for kind in [GridKind::Cells, GridKind::Mantissa] {
        let q = Quantiser::with_grid(name, bound, dt, kind)?;
        let cells: Vec<i64> = values.iter().map(|&x| q.index_of_value(x)).collect();
        let bits = baler_udfs::stream::encode_integers(&cells)?.len() as f64;
        if best.as_ref().is_none_or(|(b, _, _)| bits < *b) {
            best = Some((bits, kind, q));
        }
    }
    let (_, kind, q) = best.expect("two grids");
    Ok((kind, q))
}

/// The bits per row the residuals `predictor` leaves on the sample rows in `range` cost: their
/// order-0 entropy, or on small samples (where that entropy flatters wide distributions and
/// pcodec's metadata weighs) the bytes pcodec codes them in.
pub(super) fn residual_bits(
    c: &Column,
    predictor: &Compiled,
    inputs: &Inputs,
    range: std::ops::Range<usize>,
) -> f64 {
    let n = range.len().max(1) as f64;
    let q = residuals(c, predictor, inputs, range);
    if q.len() <= SMALL_SAMPLE_ROWS
        && let Ok(bytes) = baler_udfs::stream::encode_integers(&q)
    {
        return 8.0 * bytes.len() as f64 / n;
    }
    entropy_bits(&q) / n
}

/// Samples of at most this many rows are scored by pcodec's bytes rather than entropy.
pub(super) const SMALL_SAMPLE_ROWS: usize = 8192;

/// The residuals (grid steps from the prediction's cell to the value's) `predictor` leaves on
/// the sample rows in `range`.
pub(super) fn residuals(
    c: &Column,
    predictor: &Compiled,
    inputs: &Inputs,
    range: std::ops::Range<usize>,
) -> Vec<i64> {
    let features = feature_inputs(&predictor.predictor, inputs, range.clone());
    let predicted = predictor.predict(&features, range.len());
    c.values[range]
        .iter()
        .zip(predicted)
        .map(|(x, p)| {
            let k_hat = match predictor.predictor.domain {
                Domain::Value | Domain::Abs => c.quantiser.index_of_value(p),
                Domain::Grid => c.quantiser.index_of_coordinate(p),
            };
            c.quantiser.index_of_value(*x).wrapping_sub(k_hat)
        })
        .collect()
}

/// The order-0 entropy of `values`, in bits (all of them together). Counted on a sorted copy
/// and summed in value order, so that the result does not depend on a hash map's order.
fn entropy_bits(values: &[i64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let n = values.len() as f64;
    sorted
        .chunk_by(|a, b| a == b)
        .map(|run| {
            let m = run.len() as f64;
            -m * (m / n).log2()
        })
        .sum()
}

/// Bytes a split adds to the header.
pub(super) const SPLIT_HEADER_BYTES: f64 = 30.0;

/// For each column (in coding order `order`, with its final predictor), the split of its
/// residuals into streams that makes the file smallest on the sample, if one beats a single
/// stream: by the row's rank in its event, or by whether a column coded before is zero. Sizes
/// are the pcodec streams of every sample row, scaled to the file (which counts each stream's
/// metadata once per sample's worth of rows: about twice per block, erring against splitting).
#[allow(clippy::too_many_arguments)]
pub(super) fn choose_splits(
    columns: &[Column],
    order: &[usize],
    predictors: &[Predictor],
    weights: &[u8],
    inputs: &Inputs,
    total_rows: u64,
    events: Option<&Events>,
) -> std::result::Result<Vec<(String, Split)>, FitError> {
    let all = columns.first().map_or(0, |c| c.values.len());
    let scale = total_rows as f64 / all.max(1) as f64;
    let coded = |q: &[i64]| -> std::result::Result<f64, FitError> {
        Ok(baler_udfs::stream::encode_integers(q)?.len() as f64)
    };
    let mut splits = Vec::new();
    for (at, (&column, p)) in order.iter().zip(predictors).enumerate() {
        let c = &columns[column];
        let q = residuals(c, &Compiled::load(p, weights)?, inputs, 0..all);
        let mut best = (coded(&q)? * scale, None);
        let mut candidates: Vec<(Split, Vec<u8>)> = Vec::new();
        if let Some(e) = events {
            for parts in [2usize, 3, 4] {
                let last = (parts - 1) as u32;
                let part = e.ranks[..all].iter().map(|&r| r.min(last) as u8).collect();
                candidates.push((Split::Rank { parts }, part));
            }
        }
        for &earlier in &order[..at] {
            let d = &columns[earlier];
            let values = &inputs[&(d.name, Domain::Value, Lag::Current)][..all];
            let part: Vec<u8> = values.iter().map(|&v| u8::from(v != 0.0)).collect();
            let zeros = part.iter().filter(|&&p| p == 0).count();
            if zeros > 0 && zeros < all {
                candidates.push((
                    Split::Zero {
                        column: d.name.to_owned(),
                    },
                    part,
                ));
            }
        }
        for (split, part) in candidates {
            let mut parts: Vec<Vec<i64>> = vec![Vec::new(); split.parts()];
            for (&k, &r) in part.iter().zip(&q) {
                parts[usize::from(k)].push(r);
            }
            let mut bytes = SPLIT_HEADER_BYTES;
            for p in &parts {
                bytes += coded(p)? * scale;
            }
            if bytes < best.0 {
                best = (bytes, Some(split));
            }
        }
        if let (_, Some(split)) = best {
            splits.push((c.name.to_owned(), split));
        }
    }
    Ok(splits)
}
