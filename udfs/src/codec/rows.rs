//! Rebuilding a block's model columns: the predictions (decoder or predictors), the residuals
//! (split streams scattered back to rows), the grid, and the cast to each column's type.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float32Array, Float64Array, PrimitiveArray,
    RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Float16Type, Float32Type, Float64Type};

use super::{Codec, Model, Parts, Reconstruction, Residuals};
use crate::error::{Error, Result};
use crate::exact::round;
use crate::format::{Domain, Lag, Storage};
use crate::predictor::feature_value;
use crate::stream;

/// Rows whose features are built and predicted together when decoding with predictors.
const CHUNK_ROWS: usize = 2048;

impl Codec {
    /// The part of each row for model column `v`'s residuals (`None` without a split), from
    /// the decoded values so far and the rows' ranks.
    pub(super) fn part_of_rows(
        &self,
        v: usize,
        recs: &[Vec<f64>],
        ranks: &[u32],
    ) -> Option<Vec<u8>> {
        Some(match self.columns[v].split? {
            Parts::Zero(s) => recs[s].iter().map(|&x| u8::from(x != 0.0)).collect(),
            Parts::Rank(parts) => {
                let last = (parts - 1) as u32;
                ranks.iter().map(|&r| r.min(last) as u8).collect()
            }
        })
    }

    /// The decoded values of the model columns (as `f64`), and their residuals in row order
    /// (bounded columns, in order): computed when encoding, read from the parts' streams when
    /// decoding. Only the `needed` columns are computed (every one when encoding).
    pub(super) fn reconstruct(
        &self,
        latents: &[Vec<f32>],
        rows: usize,
        residuals: Residuals,
        ranks: &[u32],
        needed: &[bool],
    ) -> Result<Reconstruction> {
        let mut recs: Vec<Vec<f64>> = vec![Vec::new(); self.columns.len()];
        let mut all: Vec<Option<Vec<i64>>> = vec![None; self.columns.len()];
        let slots: Vec<Option<usize>> = {
            let mut next = 0..;
            self.columns
                .iter()
                .map(|c| c.quantiser.and_then(|_| next.next()))
                .collect()
        };
        // The decoded values of model column `v` from its predictions (in `domain`).
        let mut finish = |v: usize,
                          recs: &[Vec<f64>],
                          predicted: Vec<f64>,
                          domain: Domain|
         -> Result<Vec<f64>> {
            let column = &self.columns[v];
            let Some(q) = &column.quantiser else {
                return Ok(predicted);
            };
            let k_hat = predicted.iter().map(|&p| match domain {
                Domain::Value | Domain::Abs => q.index_of_value(p),
                Domain::Grid => q.index_of_coordinate(p),
            });
            let r = match &residuals {
                Residuals::Stored(stored) => {
                    let parts = &stored[slots[v].expect("bounded columns have a slot")];
                    let r = match self.part_of_rows(v, recs, ranks) {
                        None => stream::decode_integers::<i64>(parts[0], rows)?,
                        Some(part) => scatter(parts, &part)?,
                    };
                    if r.len() != rows {
                        return Err(Error::Stream(format!(
                            "{} residuals for {rows} rows",
                            r.len()
                        )));
                    }
                    let out = k_hat.zip(&r).map(|(k, r)| q.decode(k, *r)).collect();
                    all[v] = Some(r);
                    return Ok(out);
                }
                Residuals::Encode(originals) => {
                    let name = &self.header.columns[column.index].name;
                    let mut out = Vec::with_capacity(rows);
                    let mut res = Vec::with_capacity(rows);
                    for (k, x) in k_hat.zip(&originals[v]) {
                        let (r, rec) = q.encode(name, *x, k)?;
                        res.push(r);
                        out.push(rec);
                    }
                    all[v] = Some(res);
                    out
                }
            };
            Ok(r)
        };
        match &self.model {
            Model::Decoder { net, outputs, .. } => {
                let y = net.forward_columns(latents);
                for (v, (output, norm)) in outputs.iter().enumerate() {
                    if !needed[v] {
                        continue;
                    }
                    let predicted = y[*output].iter().map(|y| norm.inverse(*y)).collect();
                    recs[v] = finish(v, &recs, predicted, Domain::Value)?;
                }
            }
            Model::Predictors(steps) => {
                // Features are built and predictions made a chunk of rows at a time, in buffers
                // reused throughout: a predictor may use dozens of features, and a block's worth
                // of each would be megabytes of fresh memory per block.
                let mut buffers: Vec<Vec<f64>> = Vec::new();
                for step in steps.iter().filter(|s| needed[s.target]) {
                    let p = &step.predictor;
                    let features = &p.predictor.features;
                    buffers.resize_with(buffers.len().max(features.len()), Vec::new);
                    let mut predicted = Vec::with_capacity(rows);
                    for start in (0..rows).step_by(CHUNK_ROWS) {
                        let chunk = start..(start + CHUNK_ROWS).min(rows);
                        for ((f, &s), buffer) in
                            features.iter().zip(&step.sources).zip(&mut buffers)
                        {
                            buffer.clear();
                            let q = s.and_then(|s| self.columns[s].quantiser.as_ref());
                            let feature = |x: f64| feature_value(f.domain, x, q);
                            match (f.lag, s) {
                                (Lag::First, _) | (_, None) => buffer.extend(
                                    chunk
                                        .clone()
                                        .map(|r| f64::from(u8::from(ranks.get(r) == Some(&0)))),
                                ),
                                (Lag::Previous, Some(s)) => buffer.extend(chunk.clone().map(|r| {
                                    previous_row(&recs[s], ranks, r).map_or(0.0, feature)
                                })),
                                (Lag::Current, Some(s)) => {
                                    buffer
                                        .extend(recs[s][chunk.clone()].iter().map(|&x| feature(x)));
                                }
                            }
                        }
                        let inputs: Vec<&[f64]> = buffers[..features.len()]
                            .iter()
                            .map(Vec::as_slice)
                            .collect();
                        predicted.extend(p.predict(&inputs, chunk.len()));
                    }
                    recs[step.target] = finish(step.target, &recs, predicted, p.predictor.domain)?;
                }
            }
        }
        // Columns that are not needed are zeros (projected away by the caller).
        for (rec, _) in recs.iter_mut().zip(needed).filter(|(_, n)| !**n) {
            *rec = vec![0.0; rows];
        }
        Ok((recs, all.into_iter().flatten().collect()))
    }

    /// Splits the residuals of bounded model column `v` into their parts' streams' values.
    pub(super) fn split_residuals(
        &self,
        v: usize,
        r: &[i64],
        recs: &[Vec<f64>],
        ranks: &[u32],
    ) -> Vec<Vec<i64>> {
        match self.part_of_rows(v, recs, ranks) {
            None => vec![r.to_vec()],
            Some(part) => {
                let count = self.columns[v].split.map_or(1, Parts::count);
                let mut parts = vec![Vec::new(); count];
                for (&p, &q) in part.iter().zip(r) {
                    parts[usize::from(p)].push(q);
                }
                parts
            }
        }
    }

    /// The latents as `f32`, latent by latent.
    pub(super) fn latent_values(&self, latents: &[ArrayRef]) -> Result<Vec<Vec<f32>>> {
        latents
            .iter()
            .enumerate()
            .map(|(i, a)| {
                if let Some(h) = a.as_primitive_opt::<Float16Type>() {
                    Ok(h.values().iter().map(|v| v.to_f32()).collect())
                } else if let Some(f) = a.as_primitive_opt::<Float32Type>() {
                    Ok(f.values().to_vec())
                } else {
                    Err(Error::ColumnType {
                        column: format!("latent {i}"),
                        expected: "Float32 or Float16".into(),
                        found: a.data_type().to_string(),
                    })
                }
            })
            .collect()
    }

    /// The original columns in header order: the pass-through columns (`pass`, in header
    /// order), the constants, and the model columns from their decoded values (`recs`).
    pub(super) fn assemble(
        &self,
        pass: Vec<ArrayRef>,
        recs: Vec<Vec<f64>>,
        rows: usize,
    ) -> Result<RecordBatch> {
        let mut pass = pass.into_iter();
        let mut recs = recs.into_iter();
        let mut arrays = Vec::with_capacity(self.header.columns.len());
        for (spec, field) in self.header.columns.iter().zip(self.schema.fields()) {
            let dt = field.data_type();
            arrays.push(match &spec.storage {
                Storage::PassThrough => pass.next().expect("one array per pass-through column"),
                Storage::Constant { value } => {
                    let text = StringArray::from_iter_values(std::iter::repeat_n(value, rows));
                    arrow::compute::cast(&text, dt)?
                }
                Storage::Decoded { .. } | Storage::Predicted => {
                    let values = recs.next().expect("one array per model column");
                    to_type(values.into_iter(), dt)?
                }
            });
        }
        let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            arrays,
            &options,
        )?)
    }
}

/// Each row's rank in its event: 0 where the event value differs from the previous row's (or
/// for the first row), else one more than the previous row's rank.
///
/// # Errors
/// [`Error::Arrow`] for a column Arrow cannot compare.
pub fn event_ranks(events: &ArrayRef) -> Result<Vec<u32>> {
    let n = events.len();
    let mut ranks = vec![0u32; n];
    if n > 1 {
        let same =
            arrow::compute::kernels::cmp::eq(&events.slice(1, n - 1), &events.slice(0, n - 1))?;
        for r in 1..n {
            if same.value(r - 1) {
                ranks[r] = ranks[r - 1] + 1;
            }
        }
    }
    Ok(ranks)
}

/// A feature's values moved one row down within each event: row `r` gets row `r − 1`'s value,
/// the first row of an event 0.
pub fn previous(x: &[f64], ranks: &[u32]) -> Vec<f64> {
    (0..x.len())
        .map(|r| previous_row(x, ranks, r).unwrap_or(0.0))
        .collect()
}

/// Row `r − 1`'s value, when row `r` is not the first of its event.
fn previous_row(x: &[f64], ranks: &[u32], r: usize) -> Option<f64> {
    ranks.get(r).is_some_and(|&k| k > 0).then(|| x[r - 1])
}

/// The residuals of every row from its parts' streams: row `r` takes the next value of part
/// `part[r]`.
pub(super) fn scatter(parts: &[&[u8]], part: &[u8]) -> Result<Vec<i64>> {
    let mut counts = vec![0usize; parts.len()];
    for &p in part {
        *counts
            .get_mut(usize::from(p))
            .ok_or_else(|| Error::Stream(format!("part {p} of {} parts", parts.len())))? += 1;
    }
    let mut decoded = parts
        .iter()
        .zip(&counts)
        .map(|(bytes, &n)| Ok(stream::decode_integers::<i64>(bytes, n)?.into_iter()))
        .collect::<Result<Vec<_>>>()?;
    Ok(part
        .iter()
        .map(|&p| decoded[usize::from(p)].next().unwrap_or_default())
        .collect())
}

/// A numeric column's values as `f64`.
pub(super) fn f64_values(array: &ArrayRef) -> Result<Vec<f64>> {
    let a = arrow::compute::cast(array, &DataType::Float64)?;
    Ok(a.as_primitive::<Float64Type>().values().to_vec())
}

/// Casts decoded values to the column's type: floats as they are, integers rounded and clamped
/// to the type's range, booleans true above one half.
pub(super) fn to_type(values: impl Iterator<Item = f64>, dt: &DataType) -> Result<ArrayRef> {
    use arrow::datatypes as t;
    /// Rounded, clamped to the type's range, and converted (exactly: the value is an integer
    /// within the range).
    macro_rules! integers {
        ($type:ty, $native:ty) => {{
            let (lo, hi) = int_range(dt);
            Arc::new(PrimitiveArray::<$type>::from_iter_values(
                values.map(|v| round(v).clamp(lo, hi) as $native),
            )) as ArrayRef
        }};
    }
    Ok(match dt {
        DataType::Float64 => Arc::new(Float64Array::from_iter_values(values)),
        DataType::Float32 => Arc::new(Float32Array::from_iter_values(values.map(|v| v as f32))),
        DataType::Boolean => Arc::new(values.map(|v| Some(v > 0.5)).collect::<BooleanArray>()),
        DataType::Int8 => integers!(t::Int8Type, i8),
        DataType::Int16 => integers!(t::Int16Type, i16),
        DataType::Int32 => integers!(t::Int32Type, i32),
        DataType::Int64 => integers!(t::Int64Type, i64),
        DataType::UInt8 => integers!(t::UInt8Type, u8),
        DataType::UInt16 => integers!(t::UInt16Type, u16),
        DataType::UInt32 => integers!(t::UInt32Type, u32),
        DataType::UInt64 => integers!(t::UInt64Type, u64),
        _ => {
            let (lo, hi) = int_range(dt);
            let floats: Float64Array = values.map(|v| round(v).clamp(lo, hi)).collect();
            arrow::compute::cast(&floats, dt)?
        }
    })
}

/// The range of an integer type, as floats.
pub(super) fn int_range(dt: &DataType) -> (f64, f64) {
    match dt {
        DataType::Int8 => (i8::MIN.into(), i8::MAX.into()),
        DataType::Int16 => (i16::MIN.into(), i16::MAX.into()),
        DataType::Int32 => (i32::MIN.into(), i32::MAX.into()),
        // The largest float below 2^63 (i64::MAX itself rounds up to 2^63, out of range).
        DataType::Int64 => (
            i64::MIN as f64,
            f64::from_bits((i64::MAX as f64).to_bits() - 1),
        ),
        DataType::UInt8 => (0.0, u8::MAX.into()),
        DataType::UInt16 => (0.0, u16::MAX.into()),
        DataType::UInt32 => (0.0, u32::MAX.into()),
        DataType::UInt64 => (0.0, f64::from_bits((u64::MAX as f64).to_bits() - 1)),
        _ => (f64::MIN, f64::MAX),
    }
}
