//! The classic baseline a physicist would pick instead of a learned model: float mantissas
//! rounded to the fewest bits that meet the error bound (or the relative RMS to match), the
//! columns then written as lossless Parquet.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float32Type, Float64Type, SchemaRef};
use baler_udfs::quantise::Bound;
use parquet::arrow::ArrowWriter;
use serde::Serialize;

use crate::convert::{ByteCounter, DEFAULT_ZSTD_LEVEL, lossless_properties};
use crate::error::{Error, Result};
use crate::ingest::{self, ReadOptions, f64_values};
use crate::metrics::VariableMetrics;
use crate::options::ErrorBounds;

/// Mantissa bits kept for one float column by the truncation baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TruncationChoice {
    pub column: String,
    pub mantissa_bits: u32,
    pub relative_rms: f64,
}

/// Rounds `x` to `keep` mantissa bits (to nearest; ties away from zero in magnitude).
pub fn truncate_f32(x: f32, keep: u32) -> f32 {
    if keep >= 23 || !x.is_finite() {
        return x;
    }
    let drop = 23 - keep;
    let bits = x.to_bits();
    let rounded = bits.wrapping_add(1 << (drop - 1)) & !((1u32 << drop) - 1);
    let y = f32::from_bits(rounded);
    if y.is_finite() { y } else { x }
}

/// Rounds `x` to `keep` mantissa bits (to nearest).
pub fn truncate_f64(x: f64, keep: u32) -> f64 {
    if keep >= 52 || !x.is_finite() {
        return x;
    }
    let drop = 52 - keep;
    let bits = x.to_bits();
    let rounded = bits.wrapping_add(1 << (drop - 1)) & !((1u64 << drop) - 1);
    let y = f64::from_bits(rounded);
    if y.is_finite() { y } else { x }
}

/// Mantissa bits of a float type (23 or 52); `None` for other types.
pub fn mantissa_bits(dt: &DataType) -> Option<u32> {
    match dt {
        DataType::Float32 => Some(23),
        DataType::Float64 => Some(52),
        _ => None,
    }
}

/// Sum of squared truncation errors for every number of kept bits, and of squared values.
#[derive(Debug, Clone)]
pub struct TruncationErrors {
    squared: Vec<f64>,
    values: f64,
    max_abs: f64,
}

impl TruncationErrors {
    pub fn new(bits: u32) -> Self {
        Self {
            squared: vec![0.0; bits as usize + 1],
            values: 0.0,
            max_abs: 0.0,
        }
    }

    pub fn update(&mut self, array: &ArrayRef) -> Result<()> {
        let x = f64_values(array)?;
        for (keep, acc) in self.squared.iter_mut().enumerate() {
            *acc += truncated(array, keep as u32)
                .iter()
                .zip(&x)
                .map(|(t, x)| (t - x) * (t - x))
                .sum::<f64>();
        }
        self.values += x.iter().map(|x| x * x).sum::<f64>();
        self.max_abs = x.iter().fold(self.max_abs, |m, x| m.max(x.abs()));
        Ok(())
    }

    fn relative_rms(&self, bits: u32) -> f64 {
        if self.values == 0.0 {
            0.0
        } else {
            (self.squared[bits as usize] / self.values).sqrt()
        }
    }

    /// The fewest bits that keep every value within `bound`.
    fn choose_bounded(&self, bound: Bound) -> (u32, f64) {
        let bits = bits_within(self.squared.len() as u32 - 1, bound, self.max_abs);
        (bits, self.relative_rms(bits))
    }

    /// The fewest bits whose relative RMS is at most `target`.
    fn choose(&self, target: f64) -> (u32, f64) {
        let last = self.squared.len() as u32 - 1;
        (0..=last)
            .find(|&k| self.relative_rms(k) <= target)
            .map_or((last, 0.0), |k| (k, self.relative_rms(k)))
    }
}

/// A float column rounded to `keep` mantissa bits, as f64 values.
fn truncated(array: &ArrayRef, keep: u32) -> Vec<f64> {
    match array.data_type() {
        DataType::Float32 => array
            .as_primitive::<Float32Type>()
            .values()
            .iter()
            .map(|x| f64::from(truncate_f32(*x, keep)))
            .collect(),
        _ => array
            .as_primitive::<Float64Type>()
            .values()
            .iter()
            .map(|x| truncate_f64(*x, keep))
            .collect(),
    }
}

/// A float column rounded to `keep` mantissa bits, in its own type.
fn truncated_array(array: &ArrayRef, keep: u32) -> ArrayRef {
    match array.data_type() {
        DataType::Float32 => Arc::new(
            array
                .as_primitive::<Float32Type>()
                .unary::<_, Float32Type>(|x| truncate_f32(x, keep)),
        ) as ArrayRef,
        _ => Arc::new(
            array
                .as_primitive::<Float64Type>()
                .unary::<_, Float64Type>(|x| truncate_f64(x, keep)),
        ),
    }
}

/// Per float column, the fewest mantissa bits that meet the column's error bound when the file
/// has bounds, and otherwise whose relative RMS is at most the compressed file's for that column
/// (all bits for columns the file does not reconstruct).
pub fn choose_truncation(
    schema: &SchemaRef,
    floats: &[usize],
    errors: &[TruncationErrors],
    metrics: &[VariableMetrics],
    bounds: Option<&ErrorBounds>,
) -> Vec<TruncationChoice> {
    floats
        .iter()
        .zip(errors)
        .map(|(&i, e)| {
            let name = schema.field(i).name();
            let target = metrics
                .iter()
                .find(|m| &m.name == name)
                .map_or(0.0, |m| m.relative_rms);
            let (bits, rel) = match bounds {
                Some(b) => e.choose_bounded(b.get(name).unwrap_or(Bound::Exact)),
                None => e.choose(target),
            };
            TruncationChoice {
                column: name.clone(),
                mantissa_bits: bits,
                relative_rms: rel,
            }
        })
        .collect()
}

/// Mantissa bits that round-to-nearest truncation keeps so that every value of a float column
/// of type `dt` stays within the relative bound `epsilon` (`2^-(bits+1) ≤ ε`).
pub fn bits_for_relative_bound(dt: &DataType, epsilon: f64) -> Option<u32> {
    Some(bits_within(
        mantissa_bits(dt)?,
        Bound::Relative { epsilon },
        0.0,
    ))
}

/// The fewest of `full` mantissa bits that keep every value, the largest of magnitude
/// `max_abs`, within `bound`: round-to-nearest truncation to `b` bits errs by at most
/// `2^-(b+1)·|x|`.
fn bits_within(full: u32, bound: Bound, max_abs: f64) -> u32 {
    let (magnitude, epsilon) = match bound {
        Bound::Exact => return full,
        Bound::Relative { epsilon } => (1.0, epsilon),
        Bound::Absolute { epsilon } => (max_abs, epsilon),
    };
    (0..=full)
        .find(|b| 0.5f64.powi(*b as i32 + 1) * magnitude <= epsilon)
        .unwrap_or(full)
}

/// Bytes of the original columns with float columns truncated as chosen, as Parquet + zstd.
///
/// # Errors
/// Read and write errors.
pub fn truncated_size(
    original: &Path,
    read: &ReadOptions,
    choices: &[TruncationChoice],
) -> Result<u64> {
    let reader = ingest::open(original, read)?;
    let schema = reader.schema();
    let parquet_err = |source| Error::Parquet {
        path: original.to_owned(),
        source,
    };
    let props = lossless_properties(&schema, DEFAULT_ZSTD_LEVEL)?;
    let mut writer = ArrowWriter::try_new(ByteCounter::default(), schema.clone(), Some(props))
        .map_err(parquet_err)?;
    for batch in reader {
        let batch = batch?;
        writer
            .write(&truncated_batch(&batch, choices)?)
            .map_err(parquet_err)?;
    }
    Ok(writer.into_inner().map_err(parquet_err)?.0)
}

/// Bytes of the original columns with float columns truncated as chosen, each column coded
/// whole by pcodec (its standalone format, default configuration): the strongest classic
/// lossless coder on truncated values.
///
/// # Errors
/// Read errors, and [`Error::Options`] if pcodec refuses a column.
pub fn truncated_pcodec_size(
    original: &Path,
    read: &ReadOptions,
    choices: &[TruncationChoice],
) -> Result<u64> {
    let table = truncated_batch(&ingest::read_table(original, read)?, choices)?;
    let schema = table.schema();
    let mut bytes = 0;
    for (f, column) in schema.fields().iter().zip(table.columns()) {
        bytes += pcodec_compress(column)
            .map_err(|message| Error::Options {
                message: format!("pcodec cannot code column `{}`: {message}", f.name()),
            })?
            .len() as u64;
    }
    Ok(bytes)
}

/// `batch` with its float columns truncated as `choices` say (the others as they are).
///
/// # Errors
/// Arrow errors building the batch.
pub fn truncated_batch(batch: &RecordBatch, choices: &[TruncationChoice]) -> Result<RecordBatch> {
    let schema = batch.schema();
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .zip(batch.columns())
        .map(
            |(f, c)| match choices.iter().find(|t| &t.column == f.name()) {
                Some(t) => truncated_array(c, t.mantissa_bits),
                None => c.clone(),
            },
        )
        .collect();
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// For every float column of `schema`, truncation to the fewest mantissa bits that keep each
/// value within `epsilon` of itself (relative).
pub fn relative_truncation(schema: &SchemaRef, epsilon: f64) -> Vec<TruncationChoice> {
    schema
        .fields()
        .iter()
        .filter_map(|f| {
            Some(TruncationChoice {
                column: f.name().clone(),
                mantissa_bits: bits_for_relative_bound(f.data_type(), epsilon)?,
                relative_rms: 0.0,
            })
        })
        .collect()
}

/// Calls `$body` with `$t` bound to the Arrow primitive type that pcodec codes a column of type
/// `$dt` as (booleans as `UInt8`); `$fallback` for other types.
macro_rules! with_pcodec_type {
    ($dt:expr, $t:ident => $body:expr, $other:ident => $fallback:expr) => {{
        use arrow::datatypes::{
            Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type,
            UInt64Type,
        };
        match $dt {
            DataType::Boolean | DataType::UInt8 => {
                type $t = UInt8Type;
                $body
            }
            DataType::Int8 => {
                type $t = Int8Type;
                $body
            }
            DataType::Int16 => {
                type $t = Int16Type;
                $body
            }
            DataType::Int32 => {
                type $t = Int32Type;
                $body
            }
            DataType::Int64 => {
                type $t = Int64Type;
                $body
            }
            DataType::UInt16 => {
                type $t = UInt16Type;
                $body
            }
            DataType::UInt32 => {
                type $t = UInt32Type;
                $body
            }
            DataType::UInt64 => {
                type $t = UInt64Type;
                $body
            }
            DataType::Float32 => {
                type $t = Float32Type;
                $body
            }
            DataType::Float64 => {
                type $t = Float64Type;
                $body
            }
            $other => $fallback,
        }
    }};
}

/// One column coded by pcodec's standalone format (booleans as 0/1 bytes).
///
/// # Errors
/// A column type pcodec does not code, or pcodec's own error.
pub fn pcodec_compress(column: &ArrayRef) -> std::result::Result<Vec<u8>, String> {
    use pco::standalone::simple_compress;
    let config = pco::ChunkConfig::default().with_enable_8_bit(true);
    if let Some(b) = column.as_boolean_opt() {
        let b: Vec<u8> = b.values().iter().map(u8::from).collect();
        return simple_compress(&b, &config).map_err(|e| e.to_string());
    }
    with_pcodec_type!(column.data_type(), T => {
        simple_compress(column.as_primitive::<T>().values(), &config).map_err(|e| e.to_string())
    }, other => Err(format!("no pcodec type for {other}")))
}

/// Decodes what [`pcodec_compress`] made of a column of type `dt`; returns how many values it
/// held.
///
/// # Errors
/// A column type pcodec does not code, or pcodec's own error.
pub fn pcodec_value_count(dt: &DataType, bytes: &[u8]) -> std::result::Result<usize, String> {
    use arrow::datatypes::ArrowPrimitiveType;
    use pco::standalone::simple_decompress;
    with_pcodec_type!(dt, T => {
        simple_decompress::<<T as ArrowPrimitiveType>::Native>(bytes)
            .map(|v| v.len())
            .map_err(|e| e.to_string())
    }, other => Err(format!("no pcodec type for {other}")))
}

#[cfg(test)]
mod tests {
    use arrow::array::Float32Array;

    use super::*;

    #[test]
    fn truncation_rounds_to_the_nearest_kept_mantissa() {
        assert_eq!(truncate_f32(1.0, 0), 1.0);
        assert_eq!(truncate_f32(1.75, 1), 2.0, "1.11b rounds up to 10.0b");
        assert_eq!(truncate_f32(1.25, 1), 1.5, "ties round away from zero");
        assert_eq!(truncate_f32(1.2, 1), 1.0);
        assert_eq!(truncate_f32(-1.75, 1), -2.0);
        assert_eq!(truncate_f32(3.3, 23), 3.3);
        assert_eq!(truncate_f64(1.75, 1), 2.0);
        let x = 123.456_f32;
        for keep in 0..23 {
            let rel = ((truncate_f32(x, keep) - x) / x).abs();
            assert!(
                rel <= 2f32.powi(-(keep as i32) - 1) * 1.0001,
                "{keep}: {rel}"
            );
        }
        assert!(truncate_f32(f32::NAN, 3).is_nan());
        assert_eq!(
            truncate_f32(f32::MAX, 0),
            f32::MAX,
            "no overflow to infinity"
        );
    }

    #[test]
    fn the_fewest_bits_meeting_the_target_are_chosen() {
        let mut e = TruncationErrors::new(23);
        let values: ArrayRef = Arc::new(Float32Array::from_iter_values(
            (1..2000).map(|i| i as f32 * 1.37),
        ));
        e.update(&values).unwrap();
        let (bits, rel) = e.choose(1e-3);
        assert!(rel <= 1e-3);
        let (fewer, rel_fewer) = e.choose(1e-2);
        assert!(fewer < bits && rel_fewer <= 1e-2);
        assert_eq!(e.choose(0.0).0, 23, "an exact target keeps every bit");
    }
}
