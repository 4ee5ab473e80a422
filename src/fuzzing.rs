//! Entry points for fuzzing the readers: each takes arbitrary bytes, reads them as the tool
//! would, and must return (an error, usually) without panicking, aborting or allocating without
//! bound. The cargo-fuzz targets in `fuzz/`, the corpus replay test and the `fuzz` example (a
//! stable-Rust mutation loop) call them.

use std::path::Path;

use baler_udfs::codec::Codec;
use baler_udfs::file::CompressedFile;
use baler_udfs::format::{Footer, Header};

use crate::ingest::{self, ReadOptions};

/// What one input did: read cleanly, or was refused with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Read,
    Refused,
}

impl<T, E> From<std::result::Result<T, E>> for Outcome {
    fn from(r: std::result::Result<T, E>) -> Self {
        if r.is_ok() { Self::Read } else { Self::Refused }
    }
}

/// Reads `bytes` as an input file (ROOT or Parquet) at `scratch`: opens it and reads every
/// batch.
pub fn input_file(bytes: &[u8], scratch: &Path) -> Outcome {
    if std::fs::write(scratch, bytes).is_err() {
        return Outcome::Refused;
    }
    ingest::open(scratch, &ReadOptions::default().with_batch_rows(4096))
        .and_then(|reader| reader.collect::<crate::Result<Vec<_>>>())
        .into()
}

/// Reads `bytes` as a compressed file at `scratch`: its footer, its block index, every block.
pub fn compressed_file(bytes: &[u8], scratch: &Path) -> Outcome {
    if std::fs::write(scratch, bytes).is_err() {
        return Outcome::Refused;
    }
    CompressedFile::open(scratch)
        .and_then(|file| {
            (0..file.blocks.len())
                .map(|b| file.decode_block(b))
                .collect::<baler_udfs::Result<Vec<_>>>()
        })
        .into()
}

/// Reads `bytes` as a header (JSON) and builds its codec (no weights).
pub fn header(bytes: &[u8]) -> Outcome {
    serde_json::from_slice::<Header>(bytes)
        .map_err(|e| baler_udfs::Error::Header(e.to_string()))
        .and_then(|header| {
            header.validate()?;
            Codec::try_new(&Footer {
                header,
                weights: Vec::new(),
            })
        })
        .into()
}

/// Decodes `bytes` as a block of `codec`'s files.
pub fn block(codec: &Codec, bytes: &[u8]) -> Outcome {
    codec.decode_block(bytes).into()
}

/// A deterministic mutation of `input`: `seed` picks how many bytes to flip, overwrite with
/// extreme values, insert or cut, and where.
pub fn mutate(input: &[u8], seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = input.to_vec();
    let edits = 1 + next() % 8;
    for _ in 0..edits {
        if out.is_empty() {
            out.push(next() as u8);
            continue;
        }
        let at = (next() % out.len() as u64) as usize;
        match next() % 6 {
            0 => out[at] ^= 1 << (next() % 8),
            1 => out[at] = [0x00, 0xff, 0x7f, 0x80][(next() % 4) as usize],
            2 => {
                // A 4-byte field set to an extreme (lengths, counts, offsets).
                let value: [u8; 4] = [[0xff; 4], [0x7f, 0xff, 0xff, 0xff], [0x80, 0, 0, 0], [0; 4]]
                    [(next() % 4) as usize];
                let end = (at + 4).min(out.len());
                out[at..end].copy_from_slice(&value[..end - at]);
            }
            3 => out.truncate(at),
            4 => out.insert(at, next() as u8),
            _ => {
                let len = (next() % 64) as usize;
                let end = (at + len).min(out.len());
                out.drain(at..end);
            }
        }
    }
    out
}
