//! Blocks ↔ original columns: the codec encodes a batch of original rows into one block of
//! streams and decodes a block back, with the same code on both sides.
//!
//! A block's streams, in order (see `docs/format.md`):
//! 1. each pass-through column, in header order: its values and its nulls;
//! 2. method `ae`: each latent (Float32 or Float16);
//! 3. each bounded model column, in header order: its residuals `q` (Int64).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::error::{Error, Result};
use crate::exact::ExactDense;
use crate::format::{
    DECODER_TENSOR_PREFIX, Footer, Header, Lag, MethodSpec, Predictor, Split, Storage,
    decoder_widths,
};
use crate::normalise::Normalisation;
use crate::predictor::Compiled;
use crate::quantise::Quantiser;
use crate::stream;

mod rows;
use rows::f64_values;
pub use rows::{event_ranks, previous};

/// A compressed file's header and model, ready to decode (and encode) its blocks.
///
/// All predictions are computed bit-exactly ([`crate::exact`]), so the residuals written at
/// compression time decode to the same values on any machine.
#[derive(Debug, Clone)]
pub struct Codec {
    header: Header,
    schema: SchemaRef,
    /// The model columns (decoded or predicted), in header order.
    columns: Vec<ModelColumn>,
    /// Header indices of the pass-through columns.
    pass_through: Vec<usize>,
    model: Model,
}

/// One model column: where it sits in the header, its grid when it has a bound, and how its
/// residuals are split.
#[derive(Debug, Clone)]
struct ModelColumn {
    /// Index among the header's columns.
    index: usize,
    quantiser: Option<Quantiser>,
    split: Option<Parts>,
}

/// The context that splits a column's residuals into parts.
#[derive(Debug, Clone, Copy)]
enum Parts {
    /// Part 0 where model column `.0` (a position in `Codec::columns`) is zero.
    Zero(usize),
    /// Part `min(rank, parts − 1)`.
    Rank(usize),
}

impl Parts {
    fn count(self) -> usize {
        match self {
            Self::Zero(_) => 2,
            Self::Rank(parts) => parts,
        }
    }
}

/// What predicts the model columns.
#[derive(Debug, Clone)]
enum Model {
    /// Method `ae`: the decoder, the latents' type, and for each model column (in `columns`
    /// order) its decoder output and normalisation.
    Decoder {
        net: ExactDense,
        latents: usize,
        latent_type: DataType,
        outputs: Vec<(usize, Normalisation)>,
    },
    /// Methods `predict` and `residual`: the predictors, in coding order.
    Predictors(Vec<Step>),
}

/// One predictor in coding order: its column and its features' columns (positions in
/// [`Codec::columns`]), and the predictor itself.
#[derive(Debug, Clone)]
struct Step {
    target: usize,
    /// Positions in [`Codec::columns`] of the features' columns (none for [`Lag::First`]).
    sources: Vec<Option<usize>>,
    predictor: Compiled,
}

/// A block made by [`Codec::encode_block`].
#[derive(Debug, Clone)]
pub struct EncodedBlock {
    /// The block's bytes, as stored.
    pub bytes: Vec<u8>,
    /// What decoding the block gives: the original columns, bounded values on their grids.
    pub decoded: RecordBatch,
    /// The coded bytes of each stream, in block order.
    pub streams: Vec<StreamSize>,
}

/// What a stream holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamKind {
    /// A pass-through column's values.
    PassThrough,
    /// A pass-through column's nulls.
    Nulls,
    /// A latent of the autoencoder.
    Latent,
    /// A bounded model column's residuals.
    Residual,
}

/// The coded size of one stream of a block.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StreamSize {
    /// The original column (or `latent <i>`).
    pub column: String,
    pub kind: StreamKind,
    pub bytes: usize,
}

/// Where the residuals come from: the block (decoding; one per bounded model column, in
/// order), or the original values (encoding, which computes them).
enum Residuals<'a> {
    /// Decoding: for each bounded model column, in order, the streams of its parts.
    Stored(Vec<Vec<&'a [u8]>>),
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
        let columns = header
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.storage.is_model())
            .map(|(index, c)| {
                let quantiser = c.quantiser()?;
                Ok(ModelColumn {
                    index,
                    quantiser,
                    split: None,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let position_of = |columns: &[ModelColumn], name: &str| {
            columns
                .iter()
                .position(|c| header.columns[c.index].name == name)
                .ok_or_else(|| Error::Header(format!("`{name}` is not a model column")))
        };
        let mut columns = columns;
        for v in 0..columns.len() {
            columns[v].split = match &header.columns[columns[v].index].split {
                None => None,
                Some(Split::Zero { column }) => Some(Parts::Zero(position_of(&columns, column)?)),
                Some(Split::Rank { parts }) => Some(Parts::Rank(*parts)),
            };
        }
        let pass_through = header
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| matches!(c.storage, Storage::PassThrough))
            .map(|(i, c)| {
                let dt = c.arrow_type()?;
                if stream::is_storable(&dt) {
                    Ok(i)
                } else {
                    Err(Error::Header(format!(
                        "pass-through column `{}` has type {dt}, which no stream holds",
                        c.name
                    )))
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let model = match &header.method {
            MethodSpec::Ae(ae) => Model::Decoder {
                net: ExactDense::from_safetensors(
                    &footer.weights,
                    DECODER_TENSOR_PREFIX,
                    &decoder_widths(&ae.model),
                    ae.model.negative_slope,
                )?,
                latents: ae.latent.columns.len(),
                latent_type: ae.latent.arrow_type(),
                outputs: columns
                    .iter()
                    .filter_map(|c| Normalisation::of_storage(&header.columns[c.index].storage))
                    .collect(),
            },
            MethodSpec::Predict(p) | MethodSpec::Residual(p) => {
                let position = |name: &str| position_of(&columns, name);
                Model::Predictors(
                    p.predictors
                        .iter()
                        .map(|p: &Predictor| {
                            Ok(Step {
                                target: position(&p.column)?,
                                sources: p
                                    .features
                                    .iter()
                                    .map(|f| match f.lag {
                                        Lag::First => Ok(None),
                                        _ => position(&f.column).map(Some),
                                    })
                                    .collect::<Result<_>>()?,
                                predictor: Compiled::load(p, &footer.weights)?,
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
            pass_through,
            model,
        })
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

    /// Header indices of the pass-through columns, in header order.
    pub fn pass_through_columns(&self) -> &[usize] {
        &self.pass_through
    }

    /// The number of latents (0 but for method `ae`).
    fn latents(&self) -> usize {
        match &self.model {
            Model::Decoder { latents, .. } => *latents,
            Model::Predictors(_) => 0,
        }
    }

    /// The number of streams in a block.
    fn stream_count(&self) -> usize {
        2 * self.pass_through.len() + self.latents() + self.residual_streams()
    }

    /// The number of residual streams: one per part of each bounded model column.
    fn residual_streams(&self) -> usize {
        self.columns
            .iter()
            .filter(|c| c.quantiser.is_some())
            .map(|c| c.split.map_or(1, Parts::count))
            .sum()
    }

    /// The header index of the event column, when the table has one.
    fn event_column(&self) -> Option<usize> {
        let event = self.header.event.as_ref()?;
        self.header.columns.iter().position(|c| &c.name == event)
    }

    /// Each row's rank in its event (0 for the first row of an event), from the event column
    /// of a block (`columns(i)` gives header column `i`); empty without an event column.
    fn ranks(&self, columns: &dyn Fn(usize) -> Option<ArrayRef>) -> Result<Vec<u32>> {
        match self.event_column().and_then(columns) {
            Some(events) => event_ranks(&events),
            None => Ok(Vec::new()),
        }
    }

    /// Encodes one block: the original rows `batch` (every original column, in header order)
    /// and, for method `ae`, their latents as they are to be stored (Float32 or Float16
    /// arrays). Returns the block and the batch that decoding it will give, computed by the
    /// same code.
    ///
    /// # Errors
    /// [`Error::Bound`] for a value no grid point can hold, [`Error::ColumnType`] for a batch
    /// that does not match the header, [`Error::Stream`] when a stream cannot be coded.
    pub fn encode_block(&self, batch: &RecordBatch, latents: &[ArrayRef]) -> Result<EncodedBlock> {
        let rows = batch.num_rows();
        if batch.num_columns() != self.header.columns.len() {
            return Err(Error::ColumnType {
                column: "(batch)".into(),
                expected: format!("{} columns", self.header.columns.len()),
                found: format!("{} columns", batch.num_columns()),
            });
        }
        if latents.len() != self.latents() {
            return Err(Error::ColumnType {
                column: "(latents)".into(),
                expected: format!("{} latents", self.latents()),
                found: format!("{}", latents.len()),
            });
        }
        let originals = self
            .columns
            .iter()
            .map(|c| f64_values(batch.column(c.index)))
            .collect::<Result<Vec<_>>>()?;
        let mut streams = Vec::with_capacity(self.stream_count());
        let mut sizes = Vec::with_capacity(self.stream_count());
        let mut push = |bytes: Vec<u8>, column: &str, kind: StreamKind| {
            sizes.push(StreamSize {
                column: column.to_owned(),
                kind,
                bytes: bytes.len(),
            });
            streams.push(bytes);
        };
        for &i in &self.pass_through {
            let column = self.checked(batch.column(i), i)?;
            let [values, nulls] = if self.is_event(i) {
                stream::encode_runs(column)?
            } else {
                stream::encode_array(column)?
            };
            let name = &self.header.columns[i].name;
            push(values, name, StreamKind::PassThrough);
            push(nulls, name, StreamKind::Nulls);
        }
        for (i, latent) in latents.iter().enumerate() {
            let [values, _] = stream::encode_array(latent)?;
            push(values, &format!("latent {i}"), StreamKind::Latent);
        }
        let ranks = self.ranks(&|i| Some(batch.column(i).clone()))?;
        let (recs, residuals) = self.reconstruct(
            &self.latent_values(latents)?,
            rows,
            Residuals::Encode(&originals),
            &ranks,
            &vec![true; self.columns.len()],
        )?;
        let bounded = (0..self.columns.len()).filter(|&v| self.columns[v].quantiser.is_some());
        for (r, v) in residuals.iter().zip(bounded) {
            let name = &self.header.columns[self.columns[v].index].name;
            for part in self.split_residuals(v, r, &recs, &ranks) {
                push(stream::encode_integers(&part)?, name, StreamKind::Residual);
            }
        }
        let pass = self.pass_through.iter().map(|&i| batch.column(i).clone());
        let decoded = self.assemble(pass.collect(), recs, rows)?;
        Ok(EncodedBlock {
            bytes: stream::frame(rows, &streams),
            decoded,
            streams: sizes,
        })
    }

    /// Decodes a block into the original columns.
    ///
    /// # Errors
    /// [`Error::Block`] for a damaged block (checksum, framing), [`Error::Stream`] for a
    /// damaged stream.
    pub fn decode_block(&self, block: &[u8]) -> Result<RecordBatch> {
        let all: Vec<usize> = (0..self.header.columns.len()).collect();
        Ok(self.decode_projected(block, &all)?.0)
    }

    /// Decodes the original columns `projection` (header indices) of a block; model columns
    /// are decoded only when one of them is asked for, and then only those asked for and the
    /// ones their predictions depend on (the others come back as zeros, projected away).
    /// Returns the batch and whether model columns were decoded.
    ///
    /// # Errors
    /// Those of [`Codec::decode_block`], and [`Error::MissingColumn`] for an index out of range.
    pub fn decode_projected(
        &self,
        block: &[u8],
        projection: &[usize],
    ) -> Result<(RecordBatch, bool)> {
        if let Some(&i) = projection.iter().find(|&&i| i >= self.header.columns.len()) {
            return Err(Error::MissingColumn(format!("column {i}")));
        }
        let (rows, streams) = stream::unframe(block, self.stream_count())?;
        let mut streams = streams.into_iter();
        let mut next = || streams.next().expect("unframe returns every stream");
        let mut pass = Vec::with_capacity(self.pass_through.len());
        let event = self.event_column();
        for &i in &self.pass_through {
            let (values, nulls) = (next(), next());
            let dt = self.schema.field(i).data_type();
            pass.push(if projection.contains(&i) || Some(i) == event {
                self.decode_pass_through(i, values, nulls, rows)?
            } else {
                arrow::array::new_null_array(dt, rows)
            });
        }
        let model = projection
            .iter()
            .any(|&i| self.header.columns[i].storage.is_model());
        let recs = if model {
            let latents = match &self.model {
                Model::Decoder {
                    latents,
                    latent_type,
                    ..
                } => (0..*latents)
                    .map(|_| stream::decode_array(next(), &[], latent_type, rows))
                    .collect::<Result<Vec<_>>>()?,
                Model::Predictors(_) => Vec::new(),
            };
            let residuals = self.residual_parts(&mut next);
            let latents = self.latent_values(&latents)?;
            let ranks = self.ranks(&|i| self.event_array(i, &pass))?;
            let needed = self.needed(projection);
            self.reconstruct(
                &latents,
                rows,
                Residuals::Stored(residuals),
                &ranks,
                &needed,
            )?
            .0
        } else {
            vec![vec![0.0; rows]; self.columns.len()]
        };
        let batch = self.assemble(pass, recs, rows)?;
        Ok((batch.project(projection)?, model))
    }

    /// For each model column (in `columns` order), whether decoding `projection` (header
    /// indices) needs it: asked for, or a feature or split column of one that is needed.
    fn needed(&self, projection: &[usize]) -> Vec<bool> {
        let mut needed: Vec<bool> = self
            .columns
            .iter()
            .map(|c| projection.contains(&c.index))
            .collect();
        let split_of = |v: usize| match self.columns[v].split {
            Some(Parts::Zero(s)) => Some(s),
            _ => None,
        };
        match &self.model {
            // The decoder computes every output at once; only split columns add to the set.
            Model::Decoder { .. } => {
                for v in 0..needed.len() {
                    if needed[v]
                        && let Some(s) = split_of(v)
                    {
                        needed[s] = true;
                    }
                }
            }
            // Coding order: a step depends only on steps before it, so one backward pass.
            Model::Predictors(steps) => {
                for step in steps.iter().rev() {
                    if needed[step.target] {
                        for s in step.sources.iter().flatten() {
                            needed[*s] = true;
                        }
                        if let Some(s) = split_of(step.target) {
                            needed[s] = true;
                        }
                    }
                }
            }
        }
        needed
    }

    /// Every stream of a block, decoded as it is stored (pass-through values and nulls, latents,
    /// residuals as Int64), with the column it belongs to: for inspection and tests.
    ///
    /// # Errors
    /// Those of [`Codec::decode_block`].
    pub fn decode_streams(&self, block: &[u8]) -> Result<Vec<(String, StreamKind, ArrayRef)>> {
        let (rows, streams) = stream::unframe(block, self.stream_count())?;
        let mut streams = streams.into_iter();
        let mut out = Vec::new();
        for &i in &self.pass_through {
            let (Some(values), Some(nulls)) = (streams.next(), streams.next()) else {
                break;
            };
            let name = &self.header.columns[i].name;
            out.push((
                name.clone(),
                StreamKind::PassThrough,
                self.decode_pass_through(i, values, nulls, rows)?,
            ));
        }
        if let Model::Decoder {
            latents,
            latent_type,
            ..
        } = &self.model
        {
            for (i, bytes) in streams.by_ref().take(*latents).enumerate() {
                out.push((
                    format!("latent {i}"),
                    StreamKind::Latent,
                    stream::decode_array(bytes, &[], latent_type, rows)?,
                ));
            }
        }
        // Residuals in full (every part in row order): decoded through the model, whose
        // context splits them.
        let mut rest = streams;
        let residuals = self.residual_parts(&mut || rest.next().expect("every stream"));
        let pass: Vec<ArrayRef> = out
            .iter()
            .take(self.pass_through.len())
            .map(|o| o.2.clone())
            .collect();
        let ranks = self.ranks(&|i| self.event_array(i, &pass))?;
        let latents: Vec<ArrayRef> = out
            .iter()
            .filter(|o| o.1 == StreamKind::Latent)
            .map(|o| o.2.clone())
            .collect();
        let (_, full) = self.reconstruct(
            &self.latent_values(&latents)?,
            rows,
            Residuals::Stored(residuals),
            &ranks,
            &vec![true; self.columns.len()],
        )?;
        let bounded = self.columns.iter().filter(|c| c.quantiser.is_some());
        for (c, q) in bounded.zip(full) {
            out.push((
                self.header.columns[c.index].name.clone(),
                StreamKind::Residual,
                Arc::new(arrow::array::Int64Array::from(q)),
            ));
        }
        Ok(out)
    }

    /// Whether header column `i` is the event index (stored as runs).
    fn is_event(&self, i: usize) -> bool {
        self.header.event.as_ref() == Some(&self.header.columns[i].name)
    }

    /// Pass-through column `i` from its two streams.
    fn decode_pass_through(&self, i: usize, a: &[u8], b: &[u8], rows: usize) -> Result<ArrayRef> {
        let dt = self.schema.field(i).data_type();
        if self.is_event(i) {
            stream::decode_runs(a, b, dt, rows)
        } else {
            stream::decode_array(a, b, dt, rows)
        }
    }

    /// `array` when it has the type the header gives column `i`.
    fn checked<'a>(&self, array: &'a ArrayRef, i: usize) -> Result<&'a ArrayRef> {
        let dt = self.schema.field(i).data_type();
        if array.data_type() == dt {
            Ok(array)
        } else {
            Err(Error::ColumnType {
                column: self.header.columns[i].name.clone(),
                expected: dt.to_string(),
                found: array.data_type().to_string(),
            })
        }
    }

    /// The streams of each bounded model column's residual parts, taken from `next`.
    fn residual_parts<'a>(&self, next: &mut dyn FnMut() -> &'a [u8]) -> Vec<Vec<&'a [u8]>> {
        self.columns
            .iter()
            .filter(|c| c.quantiser.is_some())
            .map(|c| {
                (0..c.split.map_or(1, Parts::count))
                    .map(|_| next())
                    .collect()
            })
            .collect()
    }

    /// The event column among the decoded pass-through columns `pass` (header index `i`).
    fn event_array(&self, i: usize, pass: &[ArrayRef]) -> Option<ArrayRef> {
        let at = self.pass_through.iter().position(|&p| p == i)?;
        pass.get(at).cloned()
    }
}

/// The decoded values of the model columns, and the residuals of the bounded ones in row
/// order.
type Reconstruction = (Vec<Vec<f64>>, Vec<Vec<i64>>);
