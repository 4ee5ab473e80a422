//! Decoding stored batches (pass-through and latent columns) back to the original columns.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Float32Type, Schema, SchemaRef};
use candle_core::{Device, Module, Tensor};
use parquet::file::metadata::ParquetMetaData;

use crate::decoder::Decoder;
use crate::error::{Error, Result};
use crate::format::{Footer, Header, Storage};

/// A compressed file's header and decoder, ready to decode its batches.
#[derive(Debug, Clone)]
pub struct Codec {
    header: Header,
    decoder: Decoder,
    schema: SchemaRef,
    device: Device,
}

impl Codec {
    /// Builds the codec from a checked footer, decoding on the CPU.
    ///
    /// # Errors
    /// [`Error::Decoder`] if the weights do not fit the header's model.
    pub fn try_new(footer: &Footer) -> Result<Self> {
        let device = Device::Cpu;
        let decoder = Decoder::from_safetensors(&footer.header.model, &footer.decoder, &device)?;
        let fields = footer
            .header
            .columns
            .iter()
            .map(|c| Ok(Field::new(&c.name, c.arrow_type()?, true)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            header: footer.header.clone(),
            decoder,
            schema: Arc::new(Schema::new(fields)),
            device,
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

    /// Runs the decoder on latents given column by column; returns the normalised outputs,
    /// row-major (`rows × outputs`).
    ///
    /// # Errors
    /// [`Error::ColumnType`] unless every latent is Float32, and decoder errors.
    pub fn decode_normalised(&self, latents: &[&ArrayRef]) -> Result<Vec<f32>> {
        let rows = latents.first().map_or(0, |a| a.len());
        let k = latents.len();
        let mut z = vec![0f32; rows * k];
        for (j, (name, array)) in self.header.latent.columns.iter().zip(latents).enumerate() {
            let values =
                array
                    .as_primitive_opt::<Float32Type>()
                    .ok_or_else(|| Error::ColumnType {
                        column: name.clone(),
                        expected: "Float32".into(),
                        found: array.data_type().to_string(),
                    })?;
            for (r, v) in values.values().iter().enumerate() {
                z[r * k + j] = *v;
            }
        }
        let z = Tensor::from_vec(z, (rows, k), &self.device)?;
        Ok(self.decoder.forward(&z)?.flatten_all()?.to_vec1::<f32>()?)
    }

    /// Decodes the columns the model stands for (decoded and constant columns, in header
    /// order) from the latent columns, one forward pass for all of them.
    ///
    /// # Errors
    /// [`Error::ColumnType`] unless every latent is Float32, and decoder errors.
    pub fn decode_model_columns(&self, latents: &[&ArrayRef]) -> Result<Vec<ArrayRef>> {
        let rows = latents.first().map_or(0, |a| a.len());
        let outputs = self.header.model.outputs;
        let y = self.decode_normalised(latents)?;
        let mut arrays = Vec::new();
        for (spec, field) in self.header.columns.iter().zip(self.schema.fields()) {
            let dt = field.data_type();
            match &spec.storage {
                Storage::PassThrough => {}
                Storage::Constant { value } => {
                    let text = StringArray::from_iter_values(std::iter::repeat_n(value, rows));
                    arrays.push(arrow::compute::cast(&text, dt)?);
                }
                Storage::Decoded {
                    index,
                    min,
                    max,
                    transform,
                } => {
                    let scale = max - min;
                    let values = (0..rows).map(|r| {
                        transform.inverse(f64::from(y[r * outputs + index]) * scale + min)
                    });
                    arrays.push(to_type(values, dt)?);
                }
            }
        }
        Ok(arrays)
    }

    /// The latent columns of a stored batch, in header order.
    ///
    /// # Errors
    /// [`Error::MissingColumn`] when one is absent.
    pub fn latent_columns<'a>(&self, stored: &'a RecordBatch) -> Result<Vec<&'a ArrayRef>> {
        self.header
            .latent
            .columns
            .iter()
            .map(|n| {
                stored
                    .column_by_name(n)
                    .ok_or_else(|| Error::MissingColumn(n.clone()))
            })
            .collect()
    }

    /// Rebuilds the original columns from a stored batch (pass-through and latent columns).
    ///
    /// # Errors
    /// [`Error::MissingColumn`] when a pass-through or latent column is absent,
    /// [`Error::ColumnType`] when one has the wrong type, and decoder errors.
    pub fn decode_batch(&self, stored: &RecordBatch) -> Result<RecordBatch> {
        let mut model = self
            .decode_model_columns(&self.latent_columns(stored)?)?
            .into_iter();
        let mut arrays = Vec::with_capacity(self.header.columns.len());
        for (spec, field) in self.header.columns.iter().zip(self.schema.fields()) {
            let array = match spec.storage {
                Storage::PassThrough => pass_through(stored, &spec.name, field.data_type())?,
                _ => model.next().expect("one array per model column"),
            };
            arrays.push(array);
        }
        Ok(RecordBatch::try_new(self.schema.clone(), arrays)?)
    }
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
