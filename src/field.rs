//! Fields from NumPy files: read `.npy`/`.npz` float arrays, fit the causal stencil, compress
//! under an error bound, and write them back with their shape and type.
//!
//! The coding itself (stencil, blocks, container) is the decode side's
//! ([`baler_udfs::field`]); this module fits the stencil's weights and moves arrays in and out
//! of NumPy's formats.
//!
//! The fit: least absolute deviations (iteratively reweighted least squares) of each value on
//! its neighbours, first on the original values, then again on the values as decoding will
//! see them (quantised neighbours); the weights that code smaller are kept.

use std::fs::File;
use std::io::{BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};

use baler_udfs::field::{
    CodedBlock, Dims, FIELD_VERSION, FieldFile, FieldHeader, FieldType, Stencil, contexts,
    pack_block, quantise_block, write_field,
};
use baler_udfs::quantise::Bound;
use npyz::WriterBuilder;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::options::{DEFAULT_RELATIVE_BOUND, ErrorBounds};
use crate::output::{AtomicFile, check_output, file_bytes};

/// Values per block: about a million, in whole frames.
const BLOCK_VALUES: usize = 1 << 20;
/// Points the weights are fitted on, at most (spread evenly over the field).
const FIT_SAMPLE: usize = 60_000;
/// Parts the residuals are coded in, by context, at most.
const CONTEXT_PARTS: usize = 8;

/// A field read from a NumPy file: its values in C order as doubles.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: FieldType,
    pub values: Vec<f64>,
}

/// Whether `path` names a NumPy file (`.npy` or `.npz`).
pub fn is_numpy(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy") || e.eq_ignore_ascii_case("npz"))
}

/// Whether `path` is a field file (a Parquet file with a field header); anything unreadable
/// is not, and is left to the other readers to report.
pub fn is_field_file(path: &Path) -> bool {
    path.is_file() && baler_udfs::field::is_field(path).unwrap_or(false)
}

fn field_err(path: &Path, message: impl Into<String>) -> Error {
    Error::Field {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// Reads one `.npy` array: float32 or float64, C order, 2D or 3D.
fn read_npy<R: Read>(path: &Path, name: &str, reader: R) -> Result<Array> {
    let npy =
        npyz::NpyFile::new(reader).map_err(|e| field_err(path, format!("array `{name}`: {e}")))?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let dtype = match npy.dtype() {
        npyz::DType::Plain(t) if t.to_string() == "<f8" => FieldType::Float64,
        npyz::DType::Plain(t) if t.to_string() == "<f4" => FieldType::Float32,
        other => {
            return Err(field_err(
                path,
                format!(
                    "array `{name}` has dtype {}, expected float32 or float64 (little-endian)",
                    other.descr()
                ),
            ));
        }
    };
    if npy.order() != npyz::Order::C {
        return Err(field_err(
            path,
            format!("array `{name}` is in Fortran order; save it with numpy.ascontiguousarray"),
        ));
    }
    Dims::of(&shape).map_err(|e| field_err(path, format!("array `{name}`: {e}")))?;
    let read_err = |e: std::io::Error| field_err(path, format!("array `{name}`: {e}"));
    let values = match dtype {
        FieldType::Float64 => npy.into_vec::<f64>().map_err(read_err)?,
        FieldType::Float32 => npy
            .into_vec::<f32>()
            .map_err(read_err)?
            .into_iter()
            .map(f64::from)
            .collect(),
    };
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(field_err(
            path,
            format!(
                "array `{name}` holds {} at index {i}; fields must be finite",
                values[i]
            ),
        ));
    }
    Ok(Array {
        name: name.to_owned(),
        shape,
        dtype,
        values,
    })
}

/// Reads the field of a `.npy` file, or of a `.npz` archive: its one 2D or 3D float array
/// (other arrays, such as empty name lists, are passed over).
///
/// # Errors
/// [`Error::Open`], and [`Error::Field`] naming the file and the array for anything else: not
/// NumPy, a type other than float32/float64, a shape that is not 2D or 3D, several candidate
/// arrays, non-finite values.
pub fn read(path: &Path) -> Result<Array> {
    let file = File::open(path).map_err(|source| Error::Open {
        path: path.to_owned(),
        source,
    })?;
    let is_npz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"));
    if !is_npz {
        let name = path.file_stem().unwrap_or_default().to_string_lossy();
        return read_npy(path, &name, BufReader::new(file));
    }
    let mut zip = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| field_err(path, format!("not a NumPy .npz archive: {e}")))?;
    let names: Vec<String> = zip
        .file_names()
        .map(|n| n.map(|n| n.into_owned()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| field_err(path, format!("damaged .npz archive: {e}")))?;
    let mut found = Vec::new();
    let mut refused = Vec::new();
    for entry in &names {
        let name = entry.strip_suffix(".npy").unwrap_or(entry);
        let reader = zip
            .by_name(entry)
            .map_err(|e| field_err(path, format!("array `{name}`: {e}")))?;
        match read_npy(path, name, reader) {
            Ok(array) => found.push(array),
            Err(e) => refused.push(e.to_string()),
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(field_err(
            path,
            format!(
                "no 2D or 3D float array among {} ({})",
                names.join(", "),
                refused.join("; ")
            ),
        )),
        _ => Err(field_err(
            path,
            format!(
                "holds several field arrays ({}); save one per file",
                found
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// Writes `array` as `.npy`, or as a `.npz` archive holding it under its name when `path` ends
/// in `.npz` (stored, as `numpy.savez` does).
fn write_numpy<W: Write + Seek>(path: &Path, array: &Array, out: W) -> std::io::Result<()> {
    let shape: Vec<u64> = array.shape.iter().map(|&d| d as u64).collect();
    let is_npz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"));
    if is_npz {
        let mut zip = zip::ZipWriter::new(out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(array.values.len() * 8 >= u32::MAX as usize);
        zip.start_file(format!("{}.npy", array.name), options)
            .map_err(std::io::Error::other)?;
        write_npy(&mut zip, array, &shape)?;
        zip.finish().map_err(std::io::Error::other)?;
        Ok(())
    } else {
        write_npy(out, array, &shape)
    }
}

fn write_npy<W: Write>(out: W, array: &Array, shape: &[u64]) -> std::io::Result<()> {
    match array.dtype {
        FieldType::Float64 => {
            let mut w = npyz::WriteOptions::new()
                .default_dtype()
                .shape(shape)
                .writer(out)
                .begin_nd()?;
            w.extend(array.values.iter().copied())?;
            w.finish()
        }
        FieldType::Float32 => {
            let mut w = npyz::WriteOptions::new()
                .default_dtype()
                .shape(shape)
                .writer(out)
                .begin_nd()?;
            w.extend(array.values.iter().map(|&v| v as f32))?;
            w.finish()
        }
    }
}

/// Blocks of whole frames: `(first frame, frames)`.
fn blocks(dims: Dims) -> (usize, Vec<(usize, usize)>) {
    let per_block = (BLOCK_VALUES / dims.frame()).clamp(1, dims.frames);
    let blocks = (0..dims.frames)
        .step_by(per_block)
        .map(|first| (first, per_block.min(dims.frames - first)))
        .collect();
    (per_block, blocks)
}

/// Weights minimising the absolute prediction error of `targets` from `rows` (each row the
/// neighbours' values), by reweighted least squares; the intercept last.
fn fit_weights(rows: &[Vec<f64>], targets: &[f64]) -> (Vec<f64>, f64) {
    let p = rows.first().map_or(0, Vec::len) + 1;
    let mut weights = vec![1.0; targets.len()];
    let mut w = vec![0.0; p];
    for _ in 0..12 {
        let mut gram = vec![vec![0.0; p]; p];
        let mut cross = vec![0.0; p];
        for ((row, &y), &r) in rows.iter().zip(targets).zip(&weights) {
            let x: Vec<f64> = row.iter().copied().chain([1.0]).collect();
            for (a, (g, c)) in gram.iter_mut().zip(cross.iter_mut()).enumerate() {
                *c += r * x[a] * y;
                for (gb, xb) in g.iter_mut().zip(&x).take(a + 1) {
                    *gb += r * x[a] * xb;
                }
            }
        }
        // Only the lower triangle was summed.
        let full: Vec<Vec<f64>> = (0..p)
            .map(|a| (0..p).map(|b| gram[a.max(b)][a.min(b)]).collect())
            .collect();
        w = crate::fit::solve(&full, &cross);
        // The residual scale below which errors count as equal: a fraction of the typical one.
        let residuals: Vec<f64> = rows
            .iter()
            .zip(targets)
            .map(|(row, &y)| {
                (y - row.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() - w[p - 1]).abs()
            })
            .collect();
        let floor = residuals.iter().sum::<f64>() / residuals.len().max(1) as f64 * 1e-3;
        for (r, e) in weights.iter_mut().zip(&residuals) {
            *r = 1.0 / e.max(floor).max(f64::MIN_POSITIVE);
        }
    }
    // Stored as written: six significant digits keep the header short and cost nothing in
    // prediction (the coding uses the rounded weights).
    let round = |x: f64| format!("{x:.5e}").parse().unwrap_or(x);
    let intercept = round(w.pop().unwrap_or(0.0));
    (w.into_iter().map(round).collect(), intercept)
}

/// The neighbours' values and the targets of the fitting sample, read from `values` (the
/// originals, or the values decoding gives).
fn sample(
    header: &FieldHeader,
    dims: Dims,
    values: &[f64],
    originals: &[f64],
) -> (Vec<Vec<f64>>, Vec<f64>) {
    let (_, blocks) = blocks(dims);
    let step = (dims.len() / FIT_SAMPLE).max(1);
    let mut rows = Vec::new();
    let mut targets = Vec::new();
    for (first, frames) in blocks {
        let start = first * dims.frame();
        let block = &values[start..start + frames * dims.frame()];
        for i in (0..block.len()).step_by(step) {
            let (t, y, x) = (
                i / dims.frame(),
                (i / dims.width) % dims.height,
                i % dims.width,
            );
            let mut features = Vec::new();
            header
                .stencil
                .features(dims, block, (t, y, x), &mut features);
            rows.push(features);
            targets.push(originals[start + i]);
        }
    }
    (rows, targets)
}

/// Snaps every block to the grid (in parallel); returns each block's residuals and the decoded
/// values.
fn quantise(
    header: &FieldHeader,
    dims: Dims,
    values: &[f64],
) -> baler_udfs::Result<(Vec<Vec<i64>>, Vec<f64>)> {
    let (_, blocks) = blocks(dims);
    let coded: Vec<baler_udfs::Result<(Vec<i64>, Vec<f64>)>> = std::thread::scope(|s| {
        let handles: Vec<_> = blocks
            .iter()
            .map(|&(first, frames)| {
                let part = &values[first * dims.frame()..(first + frames) * dims.frame()];
                s.spawn(move || quantise_block(header, part))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(baler_udfs::Error::Block("encoder thread failed".into()))
                })
            })
            .collect()
    });
    let mut codes = Vec::with_capacity(blocks.len());
    let mut decoded = Vec::with_capacity(values.len());
    for c in coded {
        let (q, v) = c?;
        codes.push(q);
        decoded.extend(v);
    }
    Ok((codes, decoded))
}

/// The context edges for `parts` parts: quantiles of the contexts, so that each part holds a
/// similar share.
fn context_edges(dims: Dims, codes: &[Vec<i64>], parts: usize) -> Vec<u64> {
    let mut all: Vec<u64> = codes.iter().flat_map(|c| contexts(dims, c)).collect();
    all.sort_unstable();
    let mut edges: Vec<u64> = (1..parts)
        .map(|p| all[p * (all.len() - 1) / parts])
        .filter(|&e| e > 0)
        .collect();
    edges.dedup();
    edges
}

/// The smallest packing of `codes` over 1, 2, 4 and 8 context parts (each part costs a stream
/// header, which small fields feel): the header with its edges set, and the blocks.
fn pack_smallest(
    header: &FieldHeader,
    dims: Dims,
    codes: &[Vec<i64>],
) -> baler_udfs::Result<(FieldHeader, Vec<CodedBlock>)> {
    let mut best: Option<(FieldHeader, Vec<CodedBlock>)> = None;
    // Quantiles, and for contexts bunched at a few small values (coarse bounds), each small
    // value its own part.
    let mut candidates: Vec<Vec<u64>> = [1, 2, 4, CONTEXT_PARTS]
        .into_iter()
        .map(|parts| context_edges(dims, codes, parts))
        .collect();
    candidates.push((1..CONTEXT_PARTS as u64).collect());
    candidates.push(vec![1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192]);
    candidates.dedup();
    for edges in candidates {
        let mut h = header.clone();
        h.context_edges = edges;
        let blocks = pack(&h, dims, codes)?;
        if best.as_ref().is_none_or(|(_, b)| size(&blocks) < size(b)) {
            best = Some((h, blocks));
        }
    }
    Ok(best.expect("at least one packing"))
}

fn size(blocks: &[CodedBlock]) -> usize {
    blocks.iter().map(|b| b.2.len()).sum()
}

/// The blocks' bytes, `(first frame, frames, bytes)`.
fn pack(
    header: &FieldHeader,
    dims: Dims,
    codes: &[Vec<i64>],
) -> baler_udfs::Result<Vec<CodedBlock>> {
    let (_, blocks) = blocks(dims);
    blocks
        .into_iter()
        .zip(codes)
        .map(|((first, frames), q)| Ok((first, frames, pack_block(header, q)?)))
        .collect()
}

/// What compressing a field did.
#[derive(Debug, Clone, Serialize)]
pub struct FieldReport {
    pub input: PathBuf,
    pub output: PathBuf,
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: FieldType,
    pub bound: Bound,
    pub input_bytes: u64,
    pub output_bytes: u64,
    /// The raw values' bytes (values × 4 or 8).
    pub raw_bytes: u64,
    pub blocks: usize,
    /// The stencil's offsets and weights as stored.
    pub stencil: Stencil,
    /// Whether the weights refitted on decoded neighbours were kept (else the first fit's).
    pub refitted: bool,
}

/// Compresses the field of a NumPy file into a field file, under the bound `bounds` give its
/// array (by name, else `all`; without bounds, the default guarantee).
///
/// # Errors
/// Reading errors ([`read`]), [`Error::OutputExists`] / [`Error::OutputIsInput`],
/// [`Error::Options`] for no bound (`none`), a bound the values cannot meet
/// ([`Error::Compress`] naming the value), and write errors. Nothing is left at `output` on
/// failure.
pub fn compress(
    input: &Path,
    output: &Path,
    bounds: Option<&ErrorBounds>,
    force: bool,
) -> Result<FieldReport> {
    check_output(input, output, force)?;
    let array = read(input)?;
    let bound = match bounds {
        Some(b) => b.get(&array.name).unwrap_or(Bound::Relative {
            epsilon: DEFAULT_RELATIVE_BOUND,
        }),
        None => {
            return Err(Error::Options {
                message: format!(
                    "a field is always compressed under a bound (`{}` has array `{}`); give one, or `all=exact`",
                    input.display(),
                    array.name
                ),
            });
        }
    };
    let dims = Dims::of(&array.shape).map_err(|e| field_err(input, e.to_string()))?;
    let (frames_per_block, _) = blocks(dims);
    let mut header = FieldHeader {
        version: FIELD_VERSION,
        name: array.name.clone(),
        shape: array.shape.clone(),
        dtype: array.dtype,
        bound,
        stencil: Stencil::neighbourhood(dims.frames),
        frames_per_block,
        context_edges: Vec::new(),
    };
    let compress_err = |source| Error::Compress {
        path: input.to_owned(),
        source: Box::new(source),
    };
    header.quantiser().map_err(compress_err)?;
    let (rows, targets) = sample(&header, dims, &array.values, &array.values);
    (header.stencil.weights, header.stencil.intercept) = fit_weights(&rows, &targets);
    let (codes, decoded) = quantise(&header, dims, &array.values).map_err(compress_err)?;
    // Decoding predicts from quantised neighbours: fit again on those, keep what codes smaller.
    let mut refit = header.clone();
    let (rows, targets) = sample(&refit, dims, &decoded, &array.values);
    (refit.stencil.weights, refit.stencil.intercept) = fit_weights(&rows, &targets);
    let (recodes, _) = quantise(&refit, dims, &array.values).map_err(compress_err)?;
    let (first, coded) = pack_smallest(&header, dims, &codes).map_err(compress_err)?;
    let (second, recoded) = pack_smallest(&refit, dims, &recodes).map_err(compress_err)?;
    let refitted = size(&recoded) < size(&coded);
    let (header, coded) = if refitted {
        (second, recoded)
    } else {
        (first, coded)
    };
    let out = AtomicFile::create(output, force)?;
    let handle = out.handle()?;
    write_field(handle, &header, &coded).map_err(|source| Error::Compress {
        path: output.to_owned(),
        source: Box::new(source),
    })?;
    out.commit()?;
    let width = match array.dtype {
        FieldType::Float32 => 4,
        FieldType::Float64 => 8,
    };
    Ok(FieldReport {
        input: input.to_owned(),
        output: output.to_owned(),
        name: header.name,
        shape: header.shape,
        dtype: header.dtype,
        bound,
        input_bytes: file_bytes(input),
        output_bytes: file_bytes(output),
        raw_bytes: (array.values.len() * width) as u64,
        blocks: coded.len(),
        stencil: header.stencil,
        refitted,
    })
}

/// Opens a field file.
///
/// # Errors
/// [`Error::Codec`] naming the file.
pub fn open(path: &Path) -> Result<FieldFile> {
    FieldFile::open(path).map_err(|source| Error::Codec {
        path: path.to_owned(),
        source: Box::new(source),
    })
}

/// The decoded field of a field file.
///
/// # Errors
/// [`Error::Codec`] naming the file (and the damaged block).
pub fn decode(path: &Path) -> Result<Array> {
    decode_file(&open(path)?)
}

/// The decoded field of an opened field file.
fn decode_file(file: &FieldFile) -> Result<Array> {
    let values = file.decode().map_err(|source| Error::Codec {
        path: file.path.clone(),
        source: Box::new(source),
    })?;
    Ok(Array {
        name: file.header.name.clone(),
        shape: file.header.shape.clone(),
        dtype: file.header.dtype,
        values,
    })
}

/// Decodes a field file to `.npy` (or `.npz`, by `output`'s extension) with the original shape
/// and type. Returns the array written.
///
/// # Errors
/// As [`decode`], output errors; nothing is left at `output` on failure.
pub fn decompress(input: &Path, output: &Path, force: bool) -> Result<Array> {
    check_output(input, output, force)?;
    if !is_numpy(output) {
        return Err(Error::Options {
            message: format!(
                "`{}` holds a field: decompress it to a `.npy` or `.npz` file",
                input.display()
            ),
        });
    }
    let array = decode(input)?;
    let mut out = AtomicFile::create(output, force)?;
    write_numpy(output, &array, std::io::BufWriter::new(out.file())).map_err(|source| {
        Error::Write {
            path: output.to_owned(),
            source,
        }
    })?;
    out.commit()?;
    Ok(array)
}

/// The result of checking a field file against its original.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FieldCheck {
    pub values: usize,
    /// The largest `|x − x_rec|`.
    pub max_abs_error: f64,
}

/// Checks every value of a field file against the original NumPy file: the shape, the type, and
/// each value within the bound (as the quantiser states it, docs/format.md).
///
/// # Errors
/// [`Error::Verify`] naming the first value out of bound (index and values) or a shape or type
/// that differs.
pub fn verify(original: &Path, compressed: &Path) -> Result<FieldCheck> {
    let x = read(original)?;
    let file = open(compressed)?;
    let y = decode_file(&file)?;
    check(&file, &x, &y)
}

/// Checks the decoded field `y` of `file` against the original `x` (see [`verify`]).
fn check(file: &FieldFile, x: &Array, y: &Array) -> Result<FieldCheck> {
    let compressed = file.path.as_path();
    let fail = |message: String| Error::Verify {
        path: compressed.to_owned(),
        message,
    };
    if x.shape != y.shape || x.dtype != y.dtype {
        return Err(fail(format!(
            "shape {:?} {:?}, the original {:?} {:?}",
            y.shape, y.dtype, x.shape, x.dtype
        )));
    }
    let quantiser = file.header.quantiser().map_err(|source| Error::Codec {
        path: compressed.to_owned(),
        source: Box::new(source),
    })?;
    let mut max_abs_error = 0.0f64;
    for (i, (&a, &b)) in x.values.iter().zip(&y.values).enumerate() {
        if !quantiser.holds(a, b) {
            return Err(fail(format!(
                "value {i} is {b}, the original {a}: outside {}",
                file.header.bound
            )));
        }
        max_abs_error = max_abs_error.max((a - b).abs());
    }
    Ok(FieldCheck {
        values: x.values.len(),
        max_abs_error,
    })
}

/// Another way to store the same field, measured in the same run.
#[derive(Debug, Clone, Serialize)]
pub struct FieldBaseline {
    pub name: &'static str,
    pub bytes: u64,
    /// Its bytes over the compressed file's: above 1 when the file is smaller.
    pub ratio_to_file: f64,
}

/// How a field file does against its original: the guarantee checked value by value, the
/// error metrics, and classic alternatives under the same bound.
#[derive(Debug, Clone, Serialize)]
pub struct FieldEvaluation {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: FieldType,
    pub bound: Bound,
    pub values: usize,
    pub raw_bytes: u64,
    pub file_bytes: u64,
    /// Raw bytes over the file's.
    pub ratio: f64,
    pub max_abs_error: f64,
    pub rmse: f64,
    /// `20·log10(range / rmse)`.
    pub psnr_db: f64,
    /// The largest `|x_rec − x| / |x|` over non-zero values.
    pub max_relative_error: f64,
    pub baselines: Vec<FieldBaseline>,
}

/// The classic Lorenzo predictor (SZ's first): in a frame `left + up − up-left`; with frames,
/// the 3D version over the cube of the point's seven causal corners.
fn lorenzo(frames: usize) -> Stencil {
    let (offsets, weights): (Vec<[i64; 3]>, Vec<f64>) = if frames > 1 {
        (
            vec![
                [0, 0, 1],
                [0, 1, 0],
                [0, 1, 1],
                [1, 0, 0],
                [1, 0, 1],
                [1, 1, 0],
                [1, 1, 1],
            ],
            vec![1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0],
        )
    } else {
        (vec![[0, 0, 1], [0, 1, 0], [0, 1, 1]], vec![1.0, 1.0, -1.0])
    };
    Stencil {
        offsets,
        weights,
        intercept: 0.0,
    }
}

/// Evaluates the field file `compressed` against the NumPy file `original`: every value
/// checked against the bound ([`verify`]), error metrics, and in the same run the raw values
/// through pcodec (lossless) and the Lorenzo predictor with the same quantiser and pcodec
/// (streams only, no container). SZ3 and ZFP are compared by `benches/field_benchmark.py`.
///
/// # Errors
/// As [`verify`] and [`decode`].
pub fn evaluate(original: &Path, compressed: &Path) -> Result<(FieldEvaluation, Array, Array)> {
    let x = read(original)?;
    let file = open(compressed)?;
    let y = decode_file(&file)?;
    check(&file, &x, &y)?;
    let dims = Dims::of(&x.shape).map_err(|e| field_err(original, e.to_string()))?;
    let n = x.values.len();
    let (mut sq, mut max_abs, mut max_rel) = (0.0f64, 0.0f64, 0.0f64);
    for (&a, &b) in x.values.iter().zip(&y.values) {
        let e = (a - b).abs();
        sq += e * e;
        max_abs = max_abs.max(e);
        if a != 0.0 {
            max_rel = max_rel.max(e / a.abs());
        }
    }
    let rmse = (sq / n as f64).sqrt();
    let (lo, hi) = x
        .values
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    let width = match x.dtype {
        FieldType::Float32 => 4,
        FieldType::Float64 => 8,
    };
    let raw_bytes = (n * width) as u64;
    let file_bytes = file_bytes(compressed);
    let codec_err = |source| Error::Codec {
        path: compressed.to_owned(),
        source: Box::new(source),
    };
    let lossless = match x.dtype {
        FieldType::Float64 => baler_udfs::stream::encode(&x.values),
        FieldType::Float32 => {
            baler_udfs::stream::encode(&x.values.iter().map(|&v| v as f32).collect::<Vec<_>>())
        }
    }
    .map_err(codec_err)?
    .len() as u64;
    let classic = FieldHeader {
        stencil: lorenzo(dims.frames),
        context_edges: Vec::new(),
        ..file.header.clone()
    };
    let (codes, _) = quantise(&classic, dims, &x.values).map_err(codec_err)?;
    let lorenzo_bytes = size(&pack(&classic, dims, &codes).map_err(codec_err)?) as u64;
    let baseline = |name, bytes: u64| FieldBaseline {
        name,
        bytes,
        ratio_to_file: bytes as f64 / file_bytes.max(1) as f64,
    };
    let evaluation = FieldEvaluation {
        name: x.name.clone(),
        shape: x.shape.clone(),
        dtype: x.dtype,
        bound: file.header.bound,
        values: n,
        raw_bytes,
        file_bytes,
        ratio: raw_bytes as f64 / file_bytes.max(1) as f64,
        max_abs_error: max_abs,
        rmse,
        psnr_db: 20.0 * ((hi - lo) / rmse.max(f64::MIN_POSITIVE)).log10(),
        max_relative_error: max_rel,
        baselines: vec![
            baseline("pcodec, lossless", lossless),
            baseline(
                "Lorenzo + the same quantiser + pcodec (streams only)",
                lorenzo_bytes,
            ),
        ],
    };
    Ok((evaluation, x, y))
}
