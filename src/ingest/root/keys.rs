//! Direct access to the baskets of a ROOT file.
//!
//! oxyroot 0.1.25 describes trees and branches well but decodes basket data wrongly or panics in
//! several cases (zstd baskets, jagged branches whose last basket is stored inside the TTree
//! record). This module reads a basket's key where the branch's basket table (`fBasketSeek`)
//! puts it, checks it, and decompresses its payload (zlib, zstd, lz4 or lzma blocks) on
//! request.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

/// Where a basket is and how large it is, read from its key header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BasketKey {
    /// Offset of the key in the file.
    pub seek: u64,
    /// Bytes of the whole record on disk (key header + payload).
    pub nbytes: u64,
    /// Length of the key header, which the payload follows.
    pub key_len: u64,
    /// Uncompressed payload length.
    pub obj_len: u64,
    /// Number of entries in the basket.
    pub entries: u64,
    /// End of the data inside the basket buffer, counted from the start of the key header;
    /// entry offsets (for jagged branches) follow the data.
    pub last: u64,
}

impl BasketKey {
    /// Bytes of value data in the basket (without the trailing entry offsets).
    pub fn data_len(&self) -> u64 {
        self.last.saturating_sub(self.key_len)
    }
}

/// The largest basket payload this reader takes (ROOT's own baskets stay far below).
pub(crate) const MAX_BASKET_BYTES: u64 = 1 << 30;

/// Checks a file's header before oxyroot reads it: the `root` magic bytes, and a file as long as
/// its header says (a truncated file is named as such, not by the read that runs off its end).
pub(crate) fn check_header(file: &mut File) -> Result<(), String> {
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let header = read_at(file, 0, 64.min(len))?;
    let mut r = Cursor::new(&header);
    if r.bytes(4)? != b"root" {
        return Err("missing `root` magic bytes".into());
    }
    let version = r.i32()?;
    let _begin = r.i32()?;
    let end = r.seek(version >= 1_000_000)?;
    if end > len {
        return Err(format!(
            "file is truncated: header says {end} bytes, file has {len}"
        ));
    }
    Ok(())
}

/// The key of a basket of `branch` that its branch's basket table puts at byte `seek`, `nbytes`
/// long on disk: read and checked (a `TBasket` of that branch and size) without the walk.
pub(crate) fn basket_at(
    file: &mut File,
    seek: u64,
    nbytes: u64,
    branch: &str,
) -> Result<BasketKey, String> {
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    if seek >= len || seek.saturating_add(nbytes) > len {
        return Err(format!(
            "its basket table puts a basket of {nbytes} bytes at byte {seek}, past the end of the {len}-byte file"
        ));
    }
    let head = read_at(file, seek, 1024.min(len - seek))?;
    match parse_basket_key(&head, seek)? {
        Some((name, key)) if name == branch && key.nbytes == nbytes => Ok(key),
        Some((name, key)) => Err(format!(
            "its basket table puts a basket of {nbytes} bytes at byte {seek}, where the key is a basket of `{name}` of {} bytes",
            key.nbytes
        )),
        None => Err(format!(
            "its basket table puts a basket at byte {seek}, where there is no basket key"
        )),
    }
}

/// Parses the key header of a `TBasket`: the branch it names and where its data is; `None`
/// for a record of another class.
fn parse_basket_key(head: &[u8], seek: u64) -> Result<Option<(String, BasketKey)>, String> {
    let mut r = Cursor::new(head);
    let nbytes = r.i32()?;
    let version = r.i16()?;
    let obj_len = r.i32()?;
    let _datime = r.u32()?;
    let key_len = r.i16()?;
    let _cycle = r.i16()?;
    r.seek(version > 1000)?;
    r.seek(version > 1000)?;
    if r.tstring()? != "TBasket" {
        return Ok(None);
    }
    let branch = r.tstring()?;
    let tree = r.tstring()?;
    let _basket_version = r.i16()?;
    let _buffer_size = r.i32()?;
    // A negative size says an IO-features byte follows (as ROOT's `TBasket::Streamer` reads
    // it): `kGenerateOffsetMap`, for baskets written without entry offsets.
    if r.i32()? < 0 {
        r.bytes(1)?;
    }
    let entries = r.i32()?;
    let last = r.i32()?;
    let corrupt = |what: String| {
        Err(format!(
            "corrupt key of basket `{branch}` (tree `{tree}`) at byte {seek}: {what}"
        ))
    };
    if nbytes < 0 || key_len < 0 || i32::from(key_len) > nbytes {
        return corrupt(format!(
            "key length {key_len} for a record of {nbytes} bytes"
        ));
    }
    if obj_len < 0 || obj_len as u64 > MAX_BASKET_BYTES {
        return corrupt(format!("uncompressed length {obj_len}"));
    }
    if entries < 0 || last < i32::from(key_len) || last as u64 > obj_len as u64 + key_len as u64 {
        return corrupt(format!(
            "{entries} entries ending at {last} in a buffer of {obj_len} bytes"
        ));
    }
    let key = BasketKey {
        seek,
        nbytes: nbytes as u64,
        key_len: key_len as u64,
        obj_len: obj_len as u64,
        entries: entries as u64,
        last: last as u64,
    };
    Ok(Some((branch, key)))
}

/// Reads and decompresses a basket; returns its value data (entry offsets removed).
pub(crate) fn read_basket(file: &mut File, key: &BasketKey) -> Result<Vec<u8>, String> {
    let payload = read_at(file, key.seek + key.key_len, key.nbytes - key.key_len)?;
    let mut data = if key.obj_len == payload.len() as u64 {
        payload
    } else {
        decompress(&payload, key.obj_len as usize)?
    };
    let data_len = key.data_len() as usize;
    if data_len > data.len() {
        return Err(format!(
            "basket at byte {} holds {} bytes, its header promises {data_len}",
            key.seek,
            data.len()
        ));
    }
    data.truncate(data_len);
    Ok(data)
}

/// Decompresses ROOT's sequence of compressed blocks, each with a 9-byte header:
/// two letters naming the algorithm, a method byte, then the compressed and uncompressed sizes
/// as 3-byte little-endian integers. Never produces more than `expected` bytes.
fn decompress(mut input: &[u8], expected: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(expected.min(MAX_BASKET_BYTES as usize));
    while out.len() < expected {
        if input.len() < 9 {
            return Err("compressed block header is cut short".into());
        }
        let algo = [input[0], input[1]];
        let c_size = u24(&input[3..6]);
        let u_size = u24(&input[6..9]);
        let block = input
            .get(9..9 + c_size)
            .ok_or("compressed block is cut short")?;
        if out.len() + u_size > expected {
            return Err(format!(
                "compressed blocks promise more than the {expected} bytes of the basket"
            ));
        }
        let before = out.len();
        decompress_block(algo, block, u_size, &mut out)?;
        if out.len() - before != u_size {
            return Err(format!(
                "a compressed block gave {} bytes instead of {u_size}",
                out.len() - before
            ));
        }
        input = &input[9 + c_size..];
    }
    Ok(out)
}

fn decompress_block(
    algo: [u8; 2],
    block: &[u8],
    u_size: usize,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let err = |e: std::io::Error| format!("{} block: {e}", String::from_utf8_lossy(&algo));
    // At most one byte more than the block promises, so that a lie is seen, not obeyed.
    let cap = u_size as u64 + 1;
    match &algo {
        b"ZL" => {
            flate2::read::ZlibDecoder::new(block)
                .take(cap)
                .read_to_end(out)
                .map_err(err)?;
        }
        b"ZS" => {
            zstd::stream::read::Decoder::new(block)
                .and_then(|d| d.take(cap).read_to_end(out))
                .map_err(err)?;
        }
        b"L4" => {
            // ROOT puts an 8-byte xxhash checksum before the lz4 block.
            let body = block.get(8..).ok_or("lz4 block is cut short")?;
            let decoded =
                lz4_flex::block::decompress(body, u_size).map_err(|e| format!("L4 block: {e}"))?;
            out.extend_from_slice(&decoded);
        }
        b"XZ" => {
            xz2::read::XzDecoder::new(block)
                .take(cap)
                .read_to_end(out)
                .map_err(err)?;
        }
        other => {
            return Err(format!(
                "unsupported compression algorithm `{}`",
                String::from_utf8_lossy(other)
            ));
        }
    }
    Ok(())
}

fn u24(b: &[u8]) -> usize {
    b[0] as usize | (b[1] as usize) << 8 | (b[2] as usize) << 16
}

fn read_at(file: &mut File, pos: u64, len: u64) -> Result<Vec<u8>, String> {
    let size = file.metadata().map_err(|e| e.to_string())?.len();
    if pos.checked_add(len).is_none_or(|end| end > size) {
        return Err(format!(
            "cannot read {len} bytes at byte {pos}: the file has {size}"
        ));
    }
    let mut buf = vec![0; len as usize];
    file.seek(SeekFrom::Start(pos))
        .and_then(|_| file.read_exact(&mut buf))
        .map_err(|e| format!("cannot read {len} bytes at byte {pos}: {e}"))?;
    Ok(buf)
}

/// A big-endian reader over a byte slice that reports running off the end as an error.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], String> {
        let out = self
            .pos
            .checked_add(n)
            .and_then(|end| self.buf.get(self.pos..end))
            .ok_or_else(|| "record header is cut short".to_owned())?;
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        Ok(self.bytes(N)?.try_into().expect("slice of length N"))
    }

    fn i16(&mut self) -> Result<i16, String> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    fn i32(&mut self) -> Result<i32, String> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    /// A file position: 8 bytes in large files, 4 otherwise.
    fn seek(&mut self, big: bool) -> Result<u64, String> {
        Ok(if big {
            self.i64()? as u64
        } else {
            self.i32()? as u64
        })
    }

    /// ROOT's TString: one length byte, or 255 followed by a 4-byte length.
    fn tstring(&mut self) -> Result<String, String> {
        let mut n = self.bytes(1)?[0] as usize;
        if n == 255 {
            n = usize::try_from(self.i32()?).map_err(|_| "negative string length".to_owned())?;
        }
        Ok(String::from_utf8_lossy(self.bytes(n)?).into_owned())
    }
}
