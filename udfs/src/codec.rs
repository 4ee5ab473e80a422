//! Decoding stored batches (pass-through and latent columns) back to the original columns.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, PrimitiveArray, RecordBatch, StringArray, UInt64Array,
};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Field, Float16Type, Float32Type, Schema, SchemaRef, UInt64Type,
};
use parquet::file::metadata::ParquetMetaData;

use crate::error::{Error, Result};
use crate::exact::ExactDense;
use crate::format::{
    DECODER_TENSOR_PREFIX, Domain, Footer, Header, MethodSpec, Predictor, Storage, decoder_widths,
};
use crate::normalise::Normalisation;
use crate::predictor::{Compiled, feature_input};
use crate::quantise::{Quantiser, unzigzag, zigzag};

/// A compressed file's header and model, ready to decode (and encode) its batches.
///
/// All predictions are computed bit-exactly ([`crate::exact`]), so the residuals written at
/// compression time decode to the same values on any machine.
#[derive(Debug, Clone)]
pub struct Codec {
    header: Header,
    schema: SchemaRef,
    /// The model columns (decoded or predicted), in header order.
    columns: Vec<ModelColumn>,
    model: Model,
    /// The stored inputs ([`Header::model_inputs`]): latents, then one residual per bounded
    /// model column, in `columns` order.
    inputs: Vec<(String, DataType)>,
}

/// One model column: where it sits in the header, its grid and where its residual is stored.
#[derive(Debug, Clone)]
struct ModelColumn {
    /// Index among the header's columns.
    index: usize,
    /// The grid of a column with an error bound.
    quantiser: Option<Quantiser>,
    /// A bounded column's position among the residual inputs.
    residual: Option<usize>,
}

/// What predicts the model columns.
#[derive(Debug, Clone)]
enum Model {
    /// Method `ae`: the decoder, and for each model column (in `columns` order) its decoder
    /// output and normalisation.
    Decoder {
        net: ExactDense,
        outputs: Vec<(usize, Normalisation)>,
        latents: usize,
    },
    /// Methods `predict` and `residual`: the predictors, in coding order.
    Predictors(Vec<Step>),
}

/// One predictor in coding order: its column and its features' columns (positions in
/// [`Codec::columns`]), and the predictor itself.
#[derive(Debug, Clone)]
struct Step {
    target: usize,
    sources: Vec<usize>,
    predictor: Compiled,
}

/// Where the residuals come from: the stored columns (decoding; one per bounded model
/// column, in order), or the original values (encoding, which computes them).
enum Residuals<'a> {
    Stored(Vec<Vec<i64>>),
    Encode(&'a [Vec<f64>]),
}

impl Codec {
    /// Builds the codec from a checked footer.
    ///
    /// # Errors
    /// [`Error::Header`] or [`Error::Weights`] if the weights do not fit the header's model,
    /// [`Error::Bound`] for a bound on a column type that cannot have one.
    pub fn try_new(footer: &Footer) -> Result<Self> {
        let header = &footer.header;
        let fields = header
            .columns
            .iter()
            .map(|c| Ok(Field::new(&c.name, c.arrow_type()?, true)))
            .collect::<Result<Vec<_>>>()?;
        let mut bounded = 0..;
        let columns = header
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.storage.is_model())
            .map(|(index, c)| {
                let quantiser = c
                    .bound
                    .map(|b| Quantiser::new(&c.name, b, &c.arrow_type()?))
                    .transpose()?;
                Ok(ModelColumn {
                    index,
                    residual: quantiser.and_then(|_| bounded.next()),
                    quantiser,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let model = match &header.method {
            MethodSpec::Ae(ae) => Model::Decoder {
                net: ExactDense::from_safetensors(
                    &footer.decoder,
                    DECODER_TENSOR_PREFIX,
                    &decoder_widths(&ae.model),
                    ae.model.negative_slope,
                )?,
                outputs: columns
                    .iter()
                    .filter_map(|c| Normalisation::of_storage(&header.columns[c.index].storage))
                    .collect(),
                latents: ae.latent.columns.len(),
            },
            MethodSpec::Predict(p) | MethodSpec::Residual(p) => {
                let position = |name: &str| {
                    columns
                        .iter()
                        .position(|c| header.columns[c.index].name == name)
                        .ok_or_else(|| Error::Header(format!("`{name}` is not a predicted column")))
                };
                Model::Predictors(
                    p.predictors
                        .iter()
                        .map(|p: &Predictor| {
                            Ok(Step {
                                target: position(&p.column)?,
                                sources: p
                                    .features
                                    .iter()
                                    .map(|f| position(&f.column))
                                    .collect::<Result<_>>()?,
                                predictor: Compiled::load(p, &footer.decoder)?,
                            })
                        })
                        .collect::<Result<_>>()?,
                )
            }
        };
        Ok(Self {
            header: header.clone(),
            schema: Arc::new(Schema::new(fields)),
            columns,
            model,
            inputs: header.model_inputs(),
        })
    }

    /// Reads the codec from a Parquet file's footer metadata.
    ///
    /// # Errors
    /// See [`Footer::from_metadata`] and [`Codec::try_new`].
    pub fn from_parquet_metadata(metadata: &ParquetMetaData) -> Result<Self> {
        let kv: HashMap<String, String> = metadata
            .file_metadata()
            .key_value_metadata()
            .into_iter()
            .flatten()
            .filter_map(|kv| Some((kv.key.clone(), kv.value.clone()?)))
            .collect();
        Self::try_new(&Footer::from_metadata(&kv)?)
    }

    /// Opens a compressed Parquet file and reads its codec.
    ///
    /// # Errors
    /// I/O and Parquet errors, and those of [`Codec::from_parquet_metadata`].
    pub fn open(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path)?;
        let metadata =
            parquet::file::metadata::ParquetMetaDataReader::new().parse_and_finish(&file)?;
        Self::from_parquet_metadata(&metadata)
    }

    /// The file's header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The original columns: names, order and types.
    pub fn output_schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Header indices of the model columns (decoded or predicted), in header order.
    pub fn model_columns(&self) -> Vec<usize> {
        self.columns.iter().map(|c| c.index).collect()
    }

    /// The number of latent inputs (0 but for method `ae`).
    fn latents(&self) -> usize {
        match &self.model {
            Model::Decoder { latents, .. } => *latents,
            Model::Predictors(_) => 0,
        }
    }

    /// Decodes the columns that are not passed through (constant and model columns, in header
    /// order) from the model inputs ([`Header::model_inputs`]: latents, then residuals), one
    /// decoder pass for all of them.
    ///
    /// # Errors
    /// [`Error::ColumnType`] for inputs of the wrong type.
    pub fn decode_model_columns(&self, inputs: &[&ArrayRef]) -> Result<Vec<ArrayRef>> {
        let k = self.latents().min(inputs.len());
        let rows = inputs.first().map_or(0, |a| a.len());
        let residuals = inputs[k..]
            .iter()
            .zip(&self.inputs[k..])
            .map(|(a, (name, _))| {
                Ok(values::<UInt64Type>(a, name)?
                    .values()
                    .iter()
                    .map(|&z| unzigzag(z))
                    .collect())
            })
            .collect::<Result<Vec<_>>>()?;
        let (recs, _) = self.reconstruct(&inputs[..k], rows, Residuals::Stored(residuals))?;
        self.typed(recs, rows)
    }

    /// Encoding: the residual columns (UInt64 [`zigzag`] codes, in [`Header::model_inputs`]
    /// order) for the original values of the model columns (`originals[i]` for
    /// [`Codec::model_columns`]`[i]`), given the latents; and the columns decoding will give (as
    /// [`Codec::decode_model_columns`] returns them), computed by the same code.
    ///
    /// # Errors
    /// [`Error::Bound`] for a value no grid point can hold.
    pub fn encode_residuals(
        &self,
        latents: &[&ArrayRef],
        originals: &[Vec<f64>],
    ) -> Result<(Vec<ArrayRef>, Vec<ArrayRef>)> {
        let rows = originals.first().map_or(0, Vec::len);
        let (recs, residuals) = self.reconstruct(latents, rows, Residuals::Encode(originals))?;
        let arrays = residuals
            .into_iter()
            .map(|r| Arc::new(UInt64Array::from_iter_values(r.into_iter().map(zigzag))) as ArrayRef)
            .collect();
        Ok((arrays, self.typed(recs, rows)?))
    }

    /// The decoded values of the model columns (as `f64`), and the residuals computed when
    /// encoding (in bounded-column order).
    fn reconstruct(
        &self,
        latents: &[&ArrayRef],
        rows: usize,
        residuals: Residuals,
    ) -> Result<Reconstruction> {
        let mut recs: Vec<Vec<f64>> = vec![Vec::new(); self.columns.len()];
        let mut computed: Vec<Vec<i64>> = vec![Vec::new(); self.columns.len()];
        // The decoded values of model column `v` from its predictions (in `domain`).
        let mut finish = |v: usize, predicted: Vec<f64>, domain: Domain| -> Result<Vec<f64>> {
            let column = &self.columns[v];
            let Some(q) = &column.quantiser else {
                return Ok(predicted);
            };
            let k_hat = predicted.iter().map(|&p| match domain {
                Domain::Value => q.index_of_value(p),
                Domain::Grid => q.index_of_coordinate(p),
            });
            match &residuals {
                Residuals::Stored(stored) => {
                    let r = &stored[column.residual.expect("bounded columns have a slot")];
                    Ok(k_hat.zip(r).map(|(k, r)| q.decode(k, *r)).collect())
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
                    computed[v] = res;
                    Ok(out)
                }
            }
        };
        match &self.model {
            Model::Decoder { net, outputs, .. } => {
                let y = net.forward_columns(&self.latent_values(latents)?);
                for (v, (output, norm)) in outputs.iter().enumerate() {
                    let predicted = y[*output].iter().map(|y| norm.inverse(*y)).collect();
                    recs[v] = finish(v, predicted, Domain::Value)?;
                }
            }
            Model::Predictors(steps) => {
                for step in steps {
                    let p = &step.predictor;
                    let inputs: Vec<_> = p
                        .predictor
                        .features
                        .iter()
                        .zip(&step.sources)
                        .map(|(f, &s)| {
                            feature_input(f.domain, &recs[s], self.columns[s].quantiser.as_ref())
                        })
                        .collect();
                    let inputs: Vec<&[f64]> = inputs.iter().map(AsRef::as_ref).collect();
                    let predicted = p.predict(&inputs, rows);
                    recs[step.target] = finish(step.target, predicted, p.predictor.domain)?;
                }
            }
        }
        let residuals = computed
            .into_iter()
            .zip(&self.columns)
            .filter(|(_, c)| c.residual.is_some())
            .map(|(r, _)| r)
            .collect();
        Ok((recs, residuals))
    }

    /// The latent columns as `f32`, column by column.
    fn latent_values(&self, latents: &[&ArrayRef]) -> Result<Vec<Vec<f32>>> {
        self.header
            .method
            .latent_columns()
            .iter()
            .zip(latents)
            .map(|(name, a)| match a.data_type() {
                DataType::Float16 => Ok(values::<Float16Type>(a, name)?
                    .values()
                    .iter()
                    .map(|v| v.to_f32())
                    .collect()),
                _ => Ok(values::<Float32Type>(a, name)?.values().to_vec()),
            })
            .collect()
    }

    /// The model columns (constant, decoded, predicted; header order) in their types.
    fn typed(&self, recs: Vec<Vec<f64>>, rows: usize) -> Result<Vec<ArrayRef>> {
        let mut recs = recs.into_iter();
        let mut arrays = Vec::new();
        for (spec, field) in self.header.columns.iter().zip(self.schema.fields()) {
            let dt = field.data_type();
            match &spec.storage {
                Storage::PassThrough => {}
                Storage::Constant { value } => {
                    let text = StringArray::from_iter_values(std::iter::repeat_n(value, rows));
                    arrays.push(arrow::compute::cast(&text, dt)?);
                }
                Storage::Decoded { .. } | Storage::Predicted => {
                    let values = recs.next().expect("one array per model column");
                    arrays.push(to_type(values.into_iter(), dt)?);
                }
            }
        }
        Ok(arrays)
    }

    /// The model inputs of a stored batch ([`Header::model_inputs`] order).
    ///
    /// # Errors
    /// [`Error::MissingColumn`] when one is absent.
    pub fn model_inputs<'a>(&self, stored: &'a RecordBatch) -> Result<Vec<&'a ArrayRef>> {
        self.inputs
            .iter()
            .map(|(n, _)| {
                stored
                    .column_by_name(n)
                    .ok_or_else(|| Error::MissingColumn(n.clone()))
            })
            .collect()
    }

    /// Rebuilds the original columns from a stored batch (pass-through columns and model
    /// inputs).
    ///
    /// # Errors
    /// [`Error::MissingColumn`] when a pass-through column or model input is absent,
    /// [`Error::ColumnType`] when one has the wrong type, and decoder errors.
    pub fn decode_batch(&self, stored: &RecordBatch) -> Result<RecordBatch> {
        let model = self.decode_model_columns(&self.model_inputs(stored)?)?;
        self.assemble(stored, model)
    }

    /// The original columns in header order: pass-through columns taken from `batch` (stored
    /// or original; checked against their declared types) and the model columns (as
    /// [`Codec::decode_model_columns`] returns them).
    ///
    /// # Errors
    /// [`Error::MissingColumn`] or [`Error::ColumnType`] for a pass-through column.
    pub fn assemble(&self, batch: &RecordBatch, model: Vec<ArrayRef>) -> Result<RecordBatch> {
        let mut model = model.into_iter();
        let mut arrays = Vec::with_capacity(self.header.columns.len());
        for (spec, field) in self.header.columns.iter().zip(self.schema.fields()) {
            let array = match spec.storage {
                Storage::PassThrough => pass_through(batch, &spec.name, field.data_type())?,
                _ => model.next().expect("one array per model column"),
            };
            arrays.push(array);
        }
        Ok(RecordBatch::try_new(self.schema.clone(), arrays)?)
    }
}

/// The decoded values of the model columns, and the residuals computed when encoding.
type Reconstruction = (Vec<Vec<f64>>, Vec<Vec<i64>>);

/// `array` as a primitive array of type `T`, or a type error naming the column.
fn values<'a, T: ArrowPrimitiveType>(
    array: &'a ArrayRef,
    name: &str,
) -> Result<&'a PrimitiveArray<T>> {
    array
        .as_primitive_opt::<T>()
        .ok_or_else(|| Error::ColumnType {
            column: name.to_owned(),
            expected: T::DATA_TYPE.to_string(),
            found: array.data_type().to_string(),
        })
}

/// A stored pass-through column, checked against its declared type.
fn pass_through(stored: &RecordBatch, name: &str, dt: &DataType) -> Result<ArrayRef> {
    let a = stored
        .column_by_name(name)
        .ok_or_else(|| Error::MissingColumn(name.to_owned()))?;
    if a.data_type() != dt {
        return Err(Error::ColumnType {
            column: name.to_owned(),
            expected: dt.to_string(),
            found: a.data_type().to_string(),
        });
    }
    Ok(a.clone())
}

/// Casts decoded values to the column's type: floats as they are, integers rounded and clamped
/// to the type's range, booleans true above one half.
fn to_type(values: impl Iterator<Item = f64>, dt: &DataType) -> Result<ArrayRef> {
    let floats: Float64Array = match dt {
        DataType::Float32 | DataType::Float64 => values.collect(),
        DataType::Boolean => values.map(|v| f64::from(u8::from(v > 0.5))).collect(),
        _ => {
            let (lo, hi) = int_range(dt);
            values.map(|v| v.round().clamp(lo, hi)).collect()
        }
    };
    Ok(arrow::compute::cast(&floats, dt)?)
}

/// The range of an integer type, as floats.
fn int_range(dt: &DataType) -> (f64, f64) {
    match dt {
        DataType::Int8 => (i8::MIN.into(), i8::MAX.into()),
        DataType::Int16 => (i16::MIN.into(), i16::MAX.into()),
        DataType::Int32 => (i32::MIN.into(), i32::MAX.into()),
        DataType::Int64 => (i64::MIN as f64, i64::MAX as f64),
        DataType::UInt8 => (0.0, u8::MAX.into()),
        DataType::UInt16 => (0.0, u16::MAX.into()),
        DataType::UInt32 => (0.0, u32::MAX.into()),
        DataType::UInt64 => (0.0, u64::MAX as f64),
        _ => (f64::MIN, f64::MAX),
    }
}
