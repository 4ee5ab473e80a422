//! Numeric streams coded by pcodec, and the framing that holds a block's streams.
//!
//! A stream is one sequence of numbers of one type (a pass-through column, a latent, a
//! residual), written as pcodec's *wrapped* format: its one-byte header, the chunk's metadata
//! and a single page. Its count is not stored: the block says how many rows it has, and every
//! stream's length follows from that (and, for split streams, from values decoded before it).
//! An empty stream is zero bytes.
//!
//! A block is its row count (LEB128), then its streams in the order the header gives, each
//! preceded by its byte length (LEB128), then the CRC-32 (IEEE) of everything before it,
//! little-endian.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, PrimitiveArray};
use arrow::buffer::{NullBuffer, ScalarBuffer};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type,
    Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use pco::data_types::Number;
use pco::wrapped::{FileCompressor, FileDecompressor};
use pco::{ChunkConfig, PagingSpec};

use crate::error::{Error, Result};

/// pcodec's compression level for every stream (0–12; 8 is pcodec's default).
pub const COMPRESSION_LEVEL: usize = 8;
/// The most rows a block may hold (a reader refuses more before allocating anything).
pub const MAX_BLOCK_ROWS: usize = 1 << 24;

/// Codes `values` as one stream.
///
/// # Errors
/// [`Error::Stream`] if pcodec refuses the values (it never does for finite data).
pub fn encode<T: Number>(values: &[T]) -> Result<Vec<u8>> {
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let stream_err = |e: pco::errors::PcoError| Error::Stream(format!("cannot code a stream: {e}"));
    let file = FileCompressor::default();
    let config = ChunkConfig::default()
        .with_compression_level(COMPRESSION_LEVEL)
        .with_paging_spec(PagingSpec::Exact(vec![values.len()]))
        .with_enable_8_bit(true);
    let mut out = file.write_header(Vec::new()).map_err(stream_err)?;
    let mut chunk = file.chunk_compressor(values, &config).map_err(stream_err)?;
    out = chunk.write_meta(out).map_err(stream_err)?;
    chunk.write_page(0, out).map_err(stream_err)
}

/// Decodes a stream of `n` numbers.
///
/// # Errors
/// [`Error::Stream`] when the bytes are not a stream of `n` numbers of type `T`.
pub fn decode<T: Number>(bytes: &[u8], n: usize) -> Result<Vec<T>> {
    if n == 0 {
        return if bytes.is_empty() {
            Ok(Vec::new())
        } else {
            Err(Error::Stream(format!(
                "{} bytes for an empty stream",
                bytes.len()
            )))
        };
    }
    let stream_err = |e: pco::errors::PcoError| Error::Stream(format!("damaged stream: {e}"));
    // pcodec checks what it reads, but a reader of files must not trust any one library never
    // to panic on hostile bytes: a panic is a damaged stream too.
    let decoded = std::panic::catch_unwind(|| -> Result<(Vec<T>, pco::Progress)> {
        let (file, rest) = FileDecompressor::new(bytes).map_err(stream_err)?;
        let (mut chunk, rest) = file.chunk_decompressor::<T, _>(rest).map_err(stream_err)?;
        let mut page = chunk.page_decompressor(rest, n).map_err(stream_err)?;
        let mut out = vec![T::default(); n];
        let progress = page.read(&mut out).map_err(stream_err)?;
        Ok((out, progress))
    })
    .map_err(|_| Error::Stream("damaged stream: the pcodec decoder failed on it".into()))?;
    let (out, progress) = decoded?;
    if progress.n_processed != n || !progress.finished {
        return Err(Error::Stream(format!(
            "the stream holds {} numbers, expected {n}",
            progress.n_processed
        )));
    }
    Ok(out)
}

/// Codes integers as the narrowest unsigned stream their range allows: a tag byte (the width
/// in bytes of the offsets, 0 when every value equals the minimum), the minimum (zigzag
/// LEB128), then the pcodec stream of the offsets from it. Empty input is zero bytes.
///
/// # Errors
/// [`Error::Stream`] if pcodec refuses the offsets.
pub fn encode_integers<T: Copy + Into<i128>>(values: &[T]) -> Result<Vec<u8>> {
    let Some((min, max)) = values.iter().fold(None, |acc: Option<(i128, i128)>, &v| {
        let v = v.into();
        Some(acc.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
    }) else {
        return Ok(Vec::new());
    };
    let range = (max - min) as u128;
    let width: u8 = match range {
        0 => 0,
        r if r <= u128::from(u8::MAX) => 1,
        r if r <= u128::from(u16::MAX) => 2,
        r if r <= u128::from(u32::MAX) => 4,
        _ => 8,
    };
    let mut out = vec![width];
    write_uleb128(&mut out, ((min << 1) ^ (min >> 127)) as u128);
    let offsets = values.iter().map(|&v| (v.into() - min) as u64);
    let stream = match width {
        0 => Vec::new(),
        1 => encode(&offsets.map(|o| o as u8).collect::<Vec<_>>())?,
        2 => encode(&offsets.map(|o| o as u16).collect::<Vec<_>>())?,
        4 => encode(&offsets.map(|o| o as u32).collect::<Vec<_>>())?,
        _ => encode(&offsets.collect::<Vec<_>>())?,
    };
    out.extend(stream);
    Ok(out)
}

/// Decodes `n` integers written by [`encode_integers`], each converted to `T`.
///
/// # Errors
/// [`Error::Stream`] for a damaged stream or a value that does not fit `T`.
pub fn decode_integers<T: TryFrom<i128>>(bytes: &[u8], n: usize) -> Result<Vec<T>> {
    if n == 0 && bytes.is_empty() {
        return Ok(Vec::new());
    }
    let Some((&width, mut rest)) = bytes.split_first() else {
        return Err(Error::Stream(format!("an empty stream for {n} integers")));
    };
    let zigzag = read_uleb128(&mut rest)
        .ok_or_else(|| Error::Stream("the stream's minimum is cut off".into()))?;
    let min = ((zigzag >> 1) as i128) ^ -((zigzag & 1) as i128);
    let offsets: Vec<u64> = match width {
        0 if rest.is_empty() => vec![0; n],
        1 => decode::<u8>(rest, n)?.into_iter().map(u64::from).collect(),
        2 => decode::<u16>(rest, n)?.into_iter().map(u64::from).collect(),
        4 => decode::<u32>(rest, n)?.into_iter().map(u64::from).collect(),
        8 => decode::<u64>(rest, n)?,
        w => {
            return Err(Error::Stream(format!(
                "integer stream of width {w} ({} bytes)",
                rest.len()
            )));
        }
    };
    offsets
        .into_iter()
        .map(|o| {
            let v = min
                .checked_add(i128::from(o))
                .ok_or_else(|| Error::Stream("an integer out of range".into()))?;
            T::try_from(v).map_err(|_| {
                Error::Stream(format!(
                    "{v} does not fit the column's {}",
                    std::any::type_name::<T>()
                ))
            })
        })
        .collect()
}

/// Codes a column of integers without nulls as runs of equal values (the event index: a value
/// repeated for every row of an event): the run values, then the run count (LEB128) and the run
/// lengths.
///
/// # Errors
/// [`Error::Stream`] for a column that is not integers or has nulls.
pub fn encode_runs(array: &ArrayRef) -> Result<[Vec<u8>; 2]> {
    if array.null_count() > 0 || !array.data_type().is_integer() {
        return Err(Error::Stream(format!(
            "runs hold integers without nulls, not {} with {} nulls",
            array.data_type(),
            array.null_count()
        )));
    }
    let values = arrow::compute::cast(array, &DataType::Int64).ok();
    let wide = array.data_type() == &DataType::UInt64;
    let v: Vec<i128> = if wide {
        array
            .as_primitive::<UInt64Type>()
            .values()
            .iter()
            .map(|&x| x.into())
            .collect()
    } else {
        let values = values.ok_or_else(|| Error::Stream("integers that are not i64".into()))?;
        values
            .as_primitive::<Int64Type>()
            .values()
            .iter()
            .map(|&x| x.into())
            .collect()
    };
    let mut run_values = Vec::new();
    let mut run_lengths: Vec<u64> = Vec::new();
    for x in v {
        match (run_values.last(), run_lengths.last_mut()) {
            (Some(&last), Some(len)) if last == x => *len += 1,
            _ => {
                run_values.push(x);
                run_lengths.push(1);
            }
        }
    }
    let mut lengths = Vec::new();
    write_uleb(&mut lengths, run_lengths.len() as u64);
    lengths.extend(encode_integers(&run_lengths)?);
    Ok([encode_integers(&run_values)?, lengths])
}

/// Decodes a column of `n` integers of type `dt` from its runs ([`encode_runs`]).
///
/// # Errors
/// [`Error::Stream`] for damaged streams or runs that do not add up to `n` rows.
pub fn decode_runs(values: &[u8], lengths: &[u8], dt: &DataType, n: usize) -> Result<ArrayRef> {
    let mut rest = lengths;
    let runs = read_uleb(&mut rest)
        .and_then(|r| usize::try_from(r).ok())
        .filter(|&r| r <= n)
        .ok_or_else(|| Error::Stream(format!("no run count of at most {n}")))?;
    let lengths = decode_integers::<u64>(rest, runs)?;
    let values = decode_integers::<i128>(values, runs)?;
    if lengths.iter().try_fold(0u64, |a, &l| a.checked_add(l)) != Some(n as u64) {
        return Err(Error::Stream(format!(
            "runs that do not add up to {n} rows"
        )));
    }
    let mut out = Vec::with_capacity(n);
    for (v, len) in values.into_iter().zip(lengths) {
        out.extend(std::iter::repeat_n(v, len as usize));
    }
    let column: ArrayRef = if dt == &DataType::UInt64 {
        let v = out
            .into_iter()
            .map(|x| u64::try_from(x).map_err(|_| Error::Stream(format!("{x} is not a UInt64"))))
            .collect::<Result<Vec<_>>>()?;
        Arc::new(arrow::array::UInt64Array::from(v))
    } else {
        let v = out
            .into_iter()
            .map(|x| i64::try_from(x).map_err(|_| Error::Stream(format!("{x} is not an Int64"))))
            .collect::<Result<Vec<_>>>()?;
        arrow::compute::cast(&arrow::array::Int64Array::from(v), dt)
            .map_err(|e| Error::Stream(format!("a run value out of range for {dt}: {e}")))?
    };
    Ok(column)
}

/// The column types a stream can hold: integers, floats and booleans (as bytes).
pub fn is_storable(dt: &DataType) -> bool {
    dt.is_integer() || dt.is_floating() || *dt == DataType::Boolean
}

/// Calls `$body` with `$t` bound to the Arrow primitive type of `$dt`; `$other` for types that
/// are not primitive numbers.
macro_rules! with_primitive {
    ($dt:expr, $t:ident => $body:expr, $other:expr) => {
        match $dt {
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
            DataType::UInt8 => {
                type $t = UInt8Type;
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
            DataType::Float16 => {
                type $t = Float16Type;
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
            _ => $other,
        }
    };
}

/// Calls `$body` with `$t` bound to the Arrow primitive type of the integer type `$dt`.
macro_rules! with_integer {
    ($dt:expr, $t:ident => $body:expr) => {
        match $dt {
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
            DataType::UInt8 => {
                type $t = UInt8Type;
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
            _ => {
                type $t = UInt64Type;
                $body
            }
        }
    };
}

/// Codes a column's values as one stream and its nulls as a second (one byte per row, 1 for a
/// null; empty without nulls). Values under nulls are kept as they are.
///
/// # Errors
/// [`Error::Stream`] for a type no stream holds ([`is_storable`]).
pub fn encode_array(array: &ArrayRef) -> Result<[Vec<u8>; 2]> {
    let nulls: Vec<u8> = match array.nulls() {
        Some(n) if n.null_count() > 0 => n.iter().map(|valid| u8::from(!valid)).collect(),
        _ => Vec::new(),
    };
    let nulls = encode_integers(&nulls)?;
    let values = if let Some(b) = array.as_boolean_opt() {
        let bytes: Vec<u8> = b.values().iter().map(u8::from).collect();
        encode_integers(&bytes)?
    } else if array.data_type().is_integer() {
        with_integer!(array.data_type(), T => encode_integers(array.as_primitive::<T>().values())?)
    } else {
        with_primitive!(array.data_type(), T => encode_values::<T>(array)?, {
            return Err(Error::Stream(format!(
                "a stream cannot hold {} values",
                array.data_type()
            )));
        })
    };
    Ok([values, nulls])
}

fn encode_values<T: ArrowPrimitiveType>(array: &ArrayRef) -> Result<Vec<u8>>
where
    T::Native: Number,
{
    encode(array.as_primitive::<T>().values())
}

/// Decodes a column of `n` values of type `dt` from its value and null streams.
///
/// # Errors
/// [`Error::Stream`] for damaged streams or a type no stream holds.
pub fn decode_array(values: &[u8], nulls: &[u8], dt: &DataType, n: usize) -> Result<ArrayRef> {
    let nulls = if nulls.is_empty() {
        None
    } else {
        let flags = decode_integers::<u8>(nulls, n)?;
        Some(NullBuffer::from_iter(flags.iter().map(|&f| f == 0)))
    };
    if *dt == DataType::Boolean {
        let bytes = decode_integers::<u8>(values, n)?;
        let bits: BooleanArray = bytes.iter().map(|&b| Some(b != 0)).collect();
        return Ok(Arc::new(BooleanArray::new(bits.values().clone(), nulls)));
    }
    if dt.is_integer() {
        return with_integer!(dt, T => {
            let v = decode_integers::<<T as ArrowPrimitiveType>::Native>(values, n)?;
            Ok(Arc::new(PrimitiveArray::<T>::new(ScalarBuffer::from(v), nulls)) as ArrayRef)
        });
    }
    with_primitive!(dt, T => decode_values::<T>(values, n, nulls), Err(Error::Stream(format!(
        "a stream cannot hold {dt} values"
    ))))
}

fn decode_values<T: ArrowPrimitiveType>(
    bytes: &[u8],
    n: usize,
    nulls: Option<NullBuffer>,
) -> Result<ArrayRef>
where
    T::Native: Number,
{
    let values = ScalarBuffer::from(decode::<T::Native>(bytes, n)?);
    Ok(Arc::new(PrimitiveArray::<T>::new(values, nulls)))
}

/// Joins a block of `rows` rows from its streams: each with its length, then the checksum.
pub fn frame(rows: usize, streams: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(streams.iter().map(|s| s.len() + 4).sum::<usize>() + 12);
    write_uleb(&mut out, rows as u64);
    for s in streams {
        write_uleb(&mut out, s.len() as u64);
        out.extend_from_slice(s);
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Splits a block into its row count and its `count` streams, after checking its checksum.
///
/// # Errors
/// [`Error::Block`] for a checksum mismatch, more than [`MAX_BLOCK_ROWS`] rows, a length that
/// runs past the block, or bytes left over.
pub fn unframe(block: &[u8], count: usize) -> Result<(usize, Vec<&[u8]>)> {
    let Some((body, crc)) = block.split_last_chunk::<4>() else {
        return Err(Error::Block(format!(
            "{} bytes cannot hold a block",
            block.len()
        )));
    };
    let (expected, found) = (u32::from_le_bytes(*crc), crc32fast::hash(body));
    if expected != found {
        return Err(Error::Block(format!(
            "checksum mismatch: stored {expected:08x}, the bytes hash to {found:08x}"
        )));
    }
    let mut rest = body;
    let rows = read_uleb(&mut rest)
        .and_then(|r| usize::try_from(r).ok())
        .filter(|&r| r <= MAX_BLOCK_ROWS)
        .ok_or_else(|| Error::Block(format!("no row count of at most {MAX_BLOCK_ROWS}")))?;
    let mut streams = Vec::with_capacity(count.min(body.len()));
    for i in 0..count {
        let len = read_uleb(&mut rest)
            .ok_or_else(|| Error::Block(format!("stream {i}: its length is cut off")))?;
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= rest.len())
            .ok_or_else(|| {
                Error::Block(format!(
                    "stream {i} claims {len} bytes, {} are left",
                    rest.len()
                ))
            })?;
        let (s, r) = rest.split_at(len);
        streams.push(s);
        rest = r;
    }
    if !rest.is_empty() {
        return Err(Error::Block(format!(
            "{} bytes after the last of {count} streams",
            rest.len()
        )));
    }
    Ok((rows, streams))
}

fn write_uleb128(out: &mut Vec<u8>, mut v: u128) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn read_uleb128(bytes: &mut &[u8]) -> Option<u128> {
    let mut v = 0u128;
    for shift in (0..128).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        v |= u128::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn write_uleb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn read_uleb(bytes: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_round_trip_every_type_and_bit_pattern() {
        let ints: Vec<i64> = (0..10_000).map(|i| (i * 7919 % 13) - 6).collect();
        assert_eq!(
            decode::<i64>(&encode(&ints).unwrap(), ints.len()).unwrap(),
            ints
        );
        let floats: Vec<f32> = [0.0, -0.0, f32::NAN, f32::INFINITY, f32::MIN_POSITIVE, 1e-45]
            .into_iter()
            .chain((0..5000).map(|i| (i as f32 * 0.37).sin() * 100.0))
            .collect();
        let back = decode::<f32>(&encode(&floats).unwrap(), floats.len()).unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back), bits(&floats));
        let bytes: Vec<u8> = (0..300).map(|i| (i % 3) as u8).collect();
        assert_eq!(decode::<u8>(&encode(&bytes).unwrap(), 300).unwrap(), bytes);
        assert!(encode::<u64>(&[]).unwrap().is_empty());
        assert_eq!(decode::<u64>(&[], 0).unwrap(), Vec::<u64>::new());
    }

    #[test]
    fn arrays_round_trip_with_their_nulls() {
        use arrow::array::{Float32Array, Int32Array};
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from(vec![Some(1), None, Some(-3), None])),
            Arc::new(Float32Array::from(vec![1.5, f32::NAN, -0.0, 7.0])),
            Arc::new(BooleanArray::from(vec![
                Some(true),
                Some(false),
                None,
                Some(true),
            ])),
        ];
        for a in arrays {
            let [values, nulls] = encode_array(&a).unwrap();
            let back = decode_array(&values, &nulls, a.data_type(), a.len()).unwrap();
            assert_eq!(back.to_data(), a.to_data());
        }
    }

    #[test]
    fn integers_take_the_narrowest_stream_and_round_trip_at_the_extremes() {
        for values in [
            vec![i64::MIN, i64::MAX, 0, -1],
            vec![5; 1000],
            (0..1000).map(|i| 1_000_000_000 + (i % 7)).collect(),
            vec![-3, 250, 7],
        ] {
            let bytes = encode_integers(&values).unwrap();
            assert_eq!(
                decode_integers::<i64>(&bytes, values.len()).unwrap(),
                values
            );
        }
        let big = vec![u64::MAX, 0, u64::MAX - 1];
        let bytes = encode_integers(&big).unwrap();
        assert_eq!(decode_integers::<u64>(&bytes, 3).unwrap(), big);
        assert!(decode_integers::<u8>(&bytes, 3).is_err(), "does not fit");
        // A small range after a large offset is one byte per value before pcodec.
        let offset: Vec<i64> = (0..1000).map(|i| 1_000_000_000 + (i % 7)).collect();
        assert_eq!(encode_integers(&offset).unwrap()[0], 1);
        assert!(encode_integers(&[5i64; 1000]).unwrap().len() < 4);
    }

    #[test]
    fn runs_round_trip_and_are_small_for_an_event_index() {
        use arrow::array::UInt64Array;
        let events: ArrayRef = Arc::new(UInt64Array::from_iter_values(
            (0..3000u64).map(|i| 227_291_401 + i / 3 + (i / 7) % 2),
        ));
        let [values, lengths] = encode_runs(&events).unwrap();
        assert!(
            values.len() + lengths.len() < 600,
            "{} + {}",
            values.len(),
            lengths.len()
        );
        let back = decode_runs(&values, &lengths, &DataType::UInt64, 3000).unwrap();
        assert_eq!(back.to_data(), events.to_data());
        assert!(decode_runs(&values, &lengths, &DataType::UInt64, 2999).is_err());
    }

    #[test]
    fn a_constant_stream_costs_a_few_bytes() {
        let zeros = vec![0i64; 65_536];
        assert!(encode(&zeros).unwrap().len() < 32);
    }

    #[test]
    fn frames_check_their_bytes() {
        let streams = vec![vec![1, 2, 3], Vec::new(), vec![9; 200]];
        let block = frame(7, &streams);
        let (rows, back) = unframe(&block, 3).unwrap();
        assert_eq!(rows, 7);
        assert_eq!(back, [&[1u8, 2, 3][..], &[], &[9; 200][..]]);
        let mut bad = block.clone();
        bad[2] ^= 1;
        assert!(
            unframe(&bad, 3)
                .unwrap_err()
                .to_string()
                .contains("checksum mismatch")
        );
        assert!(
            unframe(&block, 2)
                .unwrap_err()
                .to_string()
                .contains("after")
        );
        assert!(
            unframe(&block, 4)
                .unwrap_err()
                .to_string()
                .contains("cut off")
        );
        assert!(unframe(&[1, 2], 1).is_err());
    }

    #[test]
    fn a_stream_of_the_wrong_length_or_type_is_an_error() {
        let bytes = encode(&[1i64, 2, 3, 4]).unwrap();
        assert!(decode::<i64>(&bytes, 5).is_err());
        assert!(decode::<i64>(&bytes[..bytes.len() - 1], 4).is_err());
    }
}
