//! Fields: 2D or 3D float arrays (a CFD slice, its frames over time) compressed by predicting
//! each value from its causal neighbours in space and in the previous frames.
//!
//! A field is `frames × height × width` values in C order (a 2D array is one frame). They are
//! coded in scan order; each value is predicted from already decoded values at fixed offsets
//! `(dt, dy, dx)` (the [`Stencil`]) with learned linear weights, the prediction snapped to the
//! bound's grid by the same [`Quantiser`] as table columns, and the grid distance `q` stored.
//! Decoding repeats the same prediction from the same decoded values: every operation is an
//! IEEE-754 double operation in a fixed order, so both ends agree bit for bit.
//!
//! The container is Parquet, like tables: one row (and row group) per block of whole frames,
//! with the block's first frame, its frame count and its bytes: the `q` of its values in parts
//! by their context (how large the neighbours' `q` are, which decoding knows first), each part a
//! pcodec stream, framed with a CRC-32. Blocks are independent: a block's first frame does not
//! see the frame before it. The footer key [`FIELD_KEY`] holds the [`FieldHeader`] (shape,
//! type, bound, stencil, weights, context edges) as JSON. See `docs/format.md`.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BinaryArray, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, UInt32Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::quantise::{Bound, Quantiser};
use crate::stream;

/// The footer key of a field file's header.
pub const FIELD_KEY: &str = "baler.field";
/// The field format version this build reads and writes.
pub const FIELD_VERSION: u32 = 1;

/// A coded block: its first frame, its frame count and its bytes.
pub type CodedBlock = (usize, usize, Vec<u8>);

const FIRST_FRAME_COLUMN: &str = "first_frame";
const FRAMES_COLUMN: &str = "frames";
const DATA_COLUMN: &str = "data";

/// The element type of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Float32,
    Float64,
}

impl FieldType {
    /// The Arrow type of the values.
    pub fn data_type(self) -> DataType {
        match self {
            Self::Float32 => DataType::Float32,
            Self::Float64 => DataType::Float64,
        }
    }
}

/// `frames × height × width`; a 2D field has one frame and `shape` of length 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    pub frames: usize,
    pub height: usize,
    pub width: usize,
}

impl Dims {
    /// The dimensions of a 2D or 3D shape.
    ///
    /// # Errors
    /// [`Error::Header`] for other ranks and for empty axes.
    pub fn of(shape: &[usize]) -> Result<Self> {
        let dims = match *shape {
            [height, width] => Self {
                frames: 1,
                height,
                width,
            },
            [frames, height, width] => Self {
                frames,
                height,
                width,
            },
            _ => {
                return Err(Error::Header(format!(
                    "a field is 2D (height, width) or 3D (frames, height, width), not shape {shape:?}"
                )));
            }
        };
        if dims.frame() == 0 || dims.frames == 0 {
            return Err(Error::Header(format!("shape {shape:?} has an empty axis")));
        }
        Ok(dims)
    }

    /// Values per frame.
    pub fn frame(&self) -> usize {
        self.height * self.width
    }

    /// Values in all.
    pub fn len(&self) -> usize {
        self.frames * self.frame()
    }

    /// Whether the field holds no value (never, for checked dimensions).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The causal neighbours a value is predicted from, and their weights.
///
/// Offset `(dt, dy, dx)` reads the decoded value at `(t − dt, y − dy, x − dx)`. An offset is
/// causal (decoded before the value) when `dt > 0`, or `dt = 0, dy > 0`, or `dt = dy = 0, dx > 0`.
/// A neighbour outside the field or before the block's first frame reads the nearest one there
/// is instead: the left value, else the one above, else the previous frame's, else 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stencil {
    pub offsets: Vec<[i64; 3]>,
    pub weights: Vec<f64>,
    pub intercept: f64,
}

impl Stencil {
    /// The neighbours for a field of `frames` frames: in the frame, the two values to the
    /// left and the two rows above (two columns to either side); with more than one frame, the
    /// 3×3 window around the point in the previous frame and the point two frames back.
    /// Weights start at zero.
    pub fn neighbourhood(frames: usize) -> Self {
        let mut offsets: Vec<[i64; 3]> = vec![
            [0, 0, 1],
            [0, 0, 2],
            [0, 1, 0],
            [0, 1, 1],
            [0, 1, -1],
            [0, 1, 2],
            [0, 1, -2],
            [0, 2, 0],
            [0, 2, 1],
            [0, 2, -1],
        ];
        if frames > 1 {
            for dy in -1..=1 {
                for dx in -1..=1 {
                    offsets.push([1, dy, dx]);
                }
            }
            offsets.push([2, 0, 0]);
        }
        Self {
            weights: vec![0.0; offsets.len()],
            offsets,
            intercept: 0.0,
        }
    }

    /// Checks that every offset is causal and the weights fit.
    ///
    /// # Errors
    /// [`Error::Header`] naming the offending offset.
    pub fn check(&self) -> Result<()> {
        if self.weights.len() != self.offsets.len() {
            return Err(Error::Header(format!(
                "stencil of {} offsets has {} weights",
                self.offsets.len(),
                self.weights.len()
            )));
        }
        for &[dt, dy, dx] in &self.offsets {
            let causal = dt > 0 || (dt == 0 && (dy > 0 || (dy == 0 && dx > 0)));
            if !causal || dt.abs().max(dy.abs()).max(dx.abs()) > 64 {
                return Err(Error::Header(format!(
                    "stencil offset (dt {dt}, dy {dy}, dx {dx}) is not a causal neighbour within 64"
                )));
            }
        }
        if !self.intercept.is_finite() || self.weights.iter().any(|w| !w.is_finite()) {
            return Err(Error::Header("stencil weights are not finite".into()));
        }
        Ok(())
    }

    /// The neighbours' values of point `(t, y, x)` of a block (`t` counted from the block's
    /// first frame) whose decoded values so far are `decoded`, into `out`.
    pub fn features(
        &self,
        dims: Dims,
        decoded: &[f64],
        (t, y, x): (usize, usize, usize),
        out: &mut Vec<f64>,
    ) {
        let (h, w) = (dims.height as i64, dims.width as i64);
        let at = |t: usize, y: usize, x: usize| decoded[(t * dims.height + y) * dims.width + x];
        let fallback = if x > 0 {
            at(t, y, x - 1)
        } else if y > 0 {
            at(t, y - 1, x)
        } else if t > 0 {
            at(t - 1, y, x)
        } else {
            0.0
        };
        out.clear();
        for &[dt, dy, dx] in &self.offsets {
            let (tt, yy, xx) = (t as i64 - dt, y as i64 - dy, x as i64 - dx);
            let inside = tt >= 0 && (0..h).contains(&yy) && (0..w).contains(&xx);
            out.push(if inside {
                at(tt as usize, yy as usize, xx as usize)
            } else {
                fallback
            });
        }
    }

    /// The prediction from the neighbours' values: the intercept plus each weighted value, in
    /// offset order.
    pub fn predict(&self, features: &[f64]) -> f64 {
        let mut p = self.intercept;
        for (w, f) in self.weights.iter().zip(features) {
            p += w * f;
        }
        p
    }
}

/// What a field file holds, as its footer says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldHeader {
    pub version: u32,
    /// The array's name (its key in the `.npz` it came from).
    pub name: String,
    /// The array's shape: `[height, width]` or `[frames, height, width]`.
    pub shape: Vec<usize>,
    pub dtype: FieldType,
    pub bound: Bound,
    pub stencil: Stencil,
    /// Frames per block (the last block may hold fewer).
    pub frames_per_block: usize,
    /// The residuals are coded in parts by their context (the neighbours' `|q|`): part `p`
    /// holds the points with `edges[p − 1] ≤ context < edges[p]`. Ascending.
    pub context_edges: Vec<u64>,
}

impl FieldHeader {
    /// The dimensions, checked.
    ///
    /// # Errors
    /// [`Error::Header`] for a shape that is not a field.
    pub fn dims(&self) -> Result<Dims> {
        Dims::of(&self.shape)
    }

    /// The quantiser of the values.
    ///
    /// # Errors
    /// [`Error::Bound`] when the bound does not apply.
    pub fn quantiser(&self) -> Result<Quantiser> {
        Quantiser::new(&self.name, self.bound, &self.dtype.data_type())
    }

    fn check(&self) -> Result<()> {
        if self.version != FIELD_VERSION {
            return Err(Error::UnsupportedVersion {
                found: self.version.to_string(),
                supported: FIELD_VERSION,
            });
        }
        self.dims()?;
        self.stencil.check()?;
        if self.frames_per_block == 0 {
            return Err(Error::Header("a block holds at least one frame".into()));
        }
        if self.context_edges.len() > 64 || self.context_edges.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::Header(format!(
                "context edges {:?} are not ascending (at most 64)",
                self.context_edges
            )));
        }
        Ok(())
    }
}

/// The prediction's grid point for point `(t, y, x)` of a block decoded up to it.
fn predicted(
    header: &FieldHeader,
    quantiser: &Quantiser,
    dims: Dims,
    decoded: &[f64],
    point: (usize, usize, usize),
    features: &mut Vec<f64>,
) -> i64 {
    header.stencil.features(dims, decoded, point, features);
    quantiser.index_of_coordinate(quantiser.coordinate(header.stencil.predict(features)))
}

/// Every point of `frames` frames in scan order, as `(t, y, x)`.
fn points(dims: Dims, frames: usize) -> impl Iterator<Item = (usize, usize, usize)> {
    (0..frames).flat_map(move |t| {
        (0..dims.height).flat_map(move |y| (0..dims.width).map(move |x| (t, y, x)))
    })
}

/// The context of point `i` of a block: the sum of `|q|` of its left, upper-left, upper and
/// upper-right neighbours and of the same point in the previous frame (0 outside the block),
/// from `codes` known up to `i`.
fn context(dims: Dims, codes: &[i64], (t, y, x): (usize, usize, usize), i: usize) -> u64 {
    let (h, w) = (dims.width, dims.frame());
    let mut c = 0u64;
    let mut add = |j: usize| c = c.saturating_add(codes[j].unsigned_abs());
    if x > 0 {
        add(i - 1);
    }
    if y > 0 {
        add(i - h);
        if x > 0 {
            add(i - h - 1);
        }
        if x + 1 < dims.width {
            add(i - h + 1);
        }
    }
    if t > 0 {
        add(i - w);
    }
    c
}

/// The part (stream) a context goes to: the number of edges at or below it.
fn part(edges: &[u64], context: u64) -> usize {
    edges.partition_point(|&e| e <= context)
}

/// Snaps one block (whole frames, `values` in scan order) to the grid: each value's residual
/// `q` against its prediction, and the values decoding gives.
///
/// # Errors
/// [`Error::Bound`] naming a value no grid point near it can hold within the bound.
pub fn quantise_block(header: &FieldHeader, values: &[f64]) -> Result<(Vec<i64>, Vec<f64>)> {
    let dims = header.dims()?;
    let quantiser = header.quantiser()?;
    let mut decoded = Vec::with_capacity(values.len());
    let mut codes = Vec::with_capacity(values.len());
    let mut features = Vec::with_capacity(header.stencil.offsets.len());
    for (point, &x) in points(dims, values.len() / dims.frame()).zip(values) {
        let k = predicted(header, &quantiser, dims, &decoded, point, &mut features);
        let (q, rec) = quantiser.encode(&header.name, x, k)?;
        codes.push(q);
        decoded.push(rec);
    }
    Ok((codes, decoded))
}

/// The contexts of a block's points, from its residuals.
pub fn contexts(dims: Dims, codes: &[i64]) -> Vec<u64> {
    points(dims, codes.len() / dims.frame())
        .enumerate()
        .map(|(i, p)| context(dims, codes, p, i))
        .collect()
}

/// A block's bytes from its residuals: the count of each part, then each part's residuals
/// (split by [`FieldHeader::context_edges`]), each a pcodec stream, framed with a CRC-32.
///
/// # Errors
/// Stream errors.
pub fn pack_block(header: &FieldHeader, codes: &[i64]) -> Result<Vec<u8>> {
    let dims = header.dims()?;
    let mut parts = vec![Vec::new(); header.context_edges.len() + 1];
    for (&q, c) in codes.iter().zip(contexts(dims, codes)) {
        parts[part(&header.context_edges, c)].push(q);
    }
    let counts: Vec<u64> = parts.iter().map(|p| p.len() as u64).collect();
    let mut streams = vec![stream::encode_integers(&counts)?];
    for p in &parts {
        streams.push(stream::encode_integers(p)?);
    }
    Ok(stream::frame(codes.len(), &streams))
}

/// Decodes one block of `frames` frames.
///
/// # Errors
/// [`Error::Block`] for a damaged block (its CRC, its streams, its value counts).
pub fn decode_block(header: &FieldHeader, bytes: &[u8], frames: usize) -> Result<Vec<f64>> {
    let dims = header.dims()?;
    let quantiser = header.quantiser()?;
    let n_parts = header.context_edges.len() + 1;
    let (n, streams) = stream::unframe(bytes, n_parts + 1)?;
    if n != frames * dims.frame() {
        return Err(Error::Block(format!(
            "holds {n} values, its {frames} frames have {}",
            frames * dims.frame()
        )));
    }
    let counts: Vec<usize> = stream::decode_integers(streams[0], n_parts)?;
    if counts.iter().sum::<usize>() != n {
        return Err(Error::Block(format!(
            "its parts hold {} values, the block {n}",
            counts.iter().sum::<usize>()
        )));
    }
    let mut parts = streams[1..]
        .iter()
        .zip(&counts)
        .map(|(s, &c)| Ok(stream::decode_integers::<i64>(s, c)?.into_iter()))
        .collect::<Result<Vec<_>>>()?;
    let mut codes = Vec::with_capacity(n);
    let mut decoded = Vec::with_capacity(n);
    let mut features = Vec::with_capacity(header.stencil.offsets.len());
    for (i, point) in points(dims, frames).enumerate() {
        let c = context(dims, &codes, point, i);
        let q = parts[part(&header.context_edges, c)]
            .next()
            .ok_or_else(|| Error::Block(format!("a part runs out at value {i}")))?;
        let k = predicted(header, &quantiser, dims, &decoded, point, &mut features);
        codes.push(q);
        decoded.push(quantiser.decode(k, q));
    }
    Ok(decoded)
}

fn stored_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(FIRST_FRAME_COLUMN, DataType::UInt32, false),
        Field::new(FRAMES_COLUMN, DataType::UInt32, false),
        Field::new(DATA_COLUMN, DataType::Binary, false),
    ]))
}

/// Writes a field file: `header` in the footer, then each block as one row group.
///
/// # Errors
/// Parquet errors.
pub fn write_field<W: Write + Send>(
    out: W,
    header: &FieldHeader,
    blocks: &[CodedBlock],
) -> Result<()> {
    let json = serde_json::to_string(header).map_err(|e| Error::Header(e.to_string()))?;
    let schema = stored_schema();
    let mut writer =
        crate::file::block_file_writer(out, schema.clone(), vec![(FIELD_KEY.to_owned(), json)])?;
    for (first, frames, bytes) in blocks {
        let u32_of = |v: usize| {
            u32::try_from(v).map_err(|_| Error::Block(format!("{v} frames do not fit a block")))
        };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from(vec![u32_of(*first)?])),
            Arc::new(UInt32Array::from(vec![u32_of(*frames)?])),
            Arc::new(BinaryArray::from(vec![bytes.as_slice()])),
        ];
        writer.write(&RecordBatch::try_new(schema.clone(), columns)?)?;
        writer.flush()?;
    }
    writer.close()?;
    Ok(())
}

/// A field file, opened: its header and blocks.
#[derive(Debug, Clone)]
pub struct FieldFile {
    pub path: PathBuf,
    pub header: FieldHeader,
    /// Each block: its first frame, its frame count and its bytes.
    pub blocks: Vec<CodedBlock>,
}

/// Whether the Parquet file at `path` is a field file (its footer has [`FIELD_KEY`]).
///
/// # Errors
/// I/O and Parquet errors.
pub fn is_field(path: &Path) -> Result<bool> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path)?)?;
    Ok(field_entry(&builder).is_some())
}

fn field_entry(builder: &ParquetRecordBatchReaderBuilder<File>) -> Option<String> {
    builder
        .metadata()
        .file_metadata()
        .key_value_metadata()?
        .iter()
        .find(|kv| kv.key == FIELD_KEY)
        .and_then(|kv| kv.value.clone())
}

impl FieldFile {
    /// Opens a field file and checks its header and blocks (frames in order, covering the
    /// field).
    ///
    /// # Errors
    /// [`Error::MissingKey`] for a Parquet file that is not a field file, [`Error::Header`] for
    /// a damaged header or block list, Parquet and I/O errors.
    pub fn open(path: &Path) -> Result<Self> {
        let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path)?)?;
        let json = field_entry(&builder).ok_or(Error::MissingKey(FIELD_KEY))?;
        let header: FieldHeader = serde_json::from_str(&json).map_err(|e| Error::Damaged {
            key: FIELD_KEY.into(),
            message: e.to_string(),
        })?;
        header.check()?;
        let dims = header.dims()?;
        let mut blocks = Vec::new();
        for batch in builder.build()? {
            let batch = batch?;
            let column = |name: &str| {
                batch
                    .column_by_name(name)
                    .ok_or_else(|| Error::MissingColumn(name.to_owned()))
            };
            let (first, frames, data) = (
                column(FIRST_FRAME_COLUMN)?,
                column(FRAMES_COLUMN)?,
                column(DATA_COLUMN)?,
            );
            let (Some(first), Some(frames), Some(data)) = (
                first.as_primitive_opt::<UInt32Type>(),
                frames.as_primitive_opt::<UInt32Type>(),
                data.as_binary_opt::<i32>(),
            ) else {
                return Err(Error::Header(
                    "the block columns have the wrong types".into(),
                ));
            };
            for r in 0..batch.num_rows() {
                if first.is_null(r) || frames.is_null(r) || data.is_null(r) {
                    return Err(Error::Header(format!("block {} has nulls", blocks.len())));
                }
                blocks.push((
                    first.value(r) as usize,
                    frames.value(r) as usize,
                    data.value(r).to_vec(),
                ));
            }
        }
        let mut next = 0;
        for (i, (first, frames, _)) in blocks.iter().enumerate() {
            if *first != next || *frames == 0 || *frames > header.frames_per_block {
                return Err(Error::Header(format!(
                    "block {i} holds frames {first}..{} where frame {next} comes next (at most {} per block)",
                    first + frames,
                    header.frames_per_block
                )));
            }
            next += frames;
        }
        if next != dims.frames {
            return Err(Error::Header(format!(
                "the blocks hold {next} frames, the shape {:?} has {}",
                header.shape, dims.frames
            )));
        }
        Ok(Self {
            path: path.to_owned(),
            header,
            blocks,
        })
    }

    /// Every value, in scan order (blocks decoded in parallel).
    ///
    /// # Errors
    /// [`Error::InBlock`] naming a damaged block.
    pub fn decode(&self) -> Result<Vec<f64>> {
        let parts: Vec<Result<Vec<f64>>> = std::thread::scope(|s| {
            let handles: Vec<_> = self
                .blocks
                .iter()
                .map(|(_, frames, bytes)| {
                    s.spawn(move || decode_block(&self.header, bytes, *frames))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(Error::Block("decoder thread failed".into())))
                })
                .collect()
        });
        let mut values = Vec::with_capacity(self.header.dims()?.len());
        for (block, part) in parts.into_iter().enumerate() {
            values.extend(part.map_err(|e| Error::InBlock {
                block,
                source: Box::new(e),
            })?);
        }
        Ok(values)
    }

    /// The values as Arrow: one row per value in scan order, with its `frame`, `y` and `x`.
    ///
    /// # Errors
    /// As [`FieldFile::decode`].
    pub fn to_batch(&self) -> Result<RecordBatch> {
        let dims = self.header.dims()?;
        let values = self.decode()?;
        let index = |f: &dyn Fn(usize) -> usize| -> ArrayRef {
            Arc::new(UInt32Array::from_iter_values(
                (0..values.len()).map(|i| f(i) as u32),
            ))
        };
        let value: ArrayRef = match self.header.dtype {
            FieldType::Float32 => Arc::new(arrow::array::Float32Array::from_iter_values(
                values.iter().map(|&v| v as f32),
            )),
            FieldType::Float64 => Arc::new(arrow::array::Float64Array::from(values.clone())),
        };
        let schema = Schema::new(vec![
            Field::new("frame", DataType::UInt32, false),
            Field::new("y", DataType::UInt32, false),
            Field::new("x", DataType::UInt32, false),
            Field::new(&self.header.name, self.header.dtype.data_type(), false),
        ]);
        let columns = vec![
            index(&|i| i / dims.frame()),
            index(&|i| (i / dims.width) % dims.height),
            index(&|i| i % dims.width),
            value,
        ];
        Ok(RecordBatch::try_new(Arc::new(schema), columns)?)
    }
}
