//! Direct access to the baskets of a ROOT file.
//!
//! oxyroot 0.1.25 describes trees and branches well but decodes basket data wrongly or panics in
//! several cases (zstd baskets, jagged branches whose last basket is stored inside the TTree
//! record). This module reads the file's records itself: it walks every key from `fBEGIN` to
//! `fEND` (as ROOT's `TFile::Map` does), keeps the `TBasket` keys with their entry counts, puts
//! each branch's baskets in entry order (from the `fBasketSeek` arrays in the tree's record),
//! and decompresses a basket's payload (zlib, zstd, lz4 or lzma blocks) on request.

use std::collections::HashMap;
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

/// The baskets of every branch of every tree, by (tree name, branch name), in entry order.
pub(crate) type BasketIndex = HashMap<(String, String), Vec<BasketKey>>;

/// The largest basket payload this reader takes (ROOT's own baskets stay far below).
pub(crate) const MAX_BASKET_BYTES: u64 = 1 << 30;

/// What the walk over a file's records found: the baskets, and the name of every `TTree`
/// record (those in subdirectories too).
pub(crate) struct Scan {
    pub baskets: BasketIndex,
    pub trees: Vec<String>,
}

/// Reads the file header and walks every record, collecting the `TBasket` keys.
pub(crate) fn scan_baskets(file: &mut File) -> Result<Scan, String> {
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let header = read_at(file, 0, 64.min(len))?;
    let mut r = Cursor::new(&header);
    if r.bytes(4)? != b"root" {
        return Err("missing `root` magic bytes".into());
    }
    let version = r.i32()?;
    let begin = r.i32()? as u64;
    let big = version >= 1_000_000;
    let end = r.seek(big)?;
    let seek_free = r.seek(big)?;
    if end > len {
        return Err(format!(
            "file is truncated: header says {end} bytes, file has {len}"
        ));
    }
    let free = free_segments(file, seek_free, end)?;
    let mut baskets = Vec::new();
    let mut trees = Vec::new();
    // Each directory's name and parent, by the position of its key.
    let mut directories: HashMap<u64, (String, u64)> = HashMap::new();
    let mut pos = begin;
    while pos < end {
        if let Some(gap) = free.iter().find(|g| g.contains(&pos)) {
            pos = gap.end;
            continue;
        }
        let head = read_at(file, pos, 1024.min(end - pos))?;
        let nbytes = Cursor::new(&head).i32()?;
        if nbytes < 0 {
            // A gap left by a deleted record.
            pos += nbytes.unsigned_abs() as u64;
            continue;
        }
        if nbytes == 0 {
            return Err(format!("corrupt record at byte {pos}: length 0"));
        }
        match parse_key(&head, pos)? {
            Some(Record::Basket(tree, branch, key, pdir)) => {
                if key.seek + key.nbytes > len {
                    return Err(format!(
                        "corrupt basket key at byte {pos}: its {} bytes run past the end of the file",
                        key.nbytes
                    ));
                }
                baskets.push((tree, branch, key, pdir));
            }
            Some(Record::Tree(name, key, pdir)) if key.seek + key.nbytes <= len => {
                trees.push((name, key, pdir));
            }
            Some(Record::Directory(name, pdir)) => {
                directories.insert(pos, (name, pdir));
            }
            _ => {}
        }
        pos += nbytes as u64;
    }
    // Trees and baskets are named by their path (`dir/tree`), as the directories give it.
    let path = |name: String, pdir: u64| -> String {
        let mut parts = vec![name];
        let mut at = pdir;
        while let Some((dir, parent)) = directories.get(&at) {
            if parts.len() > 64 {
                break; // a loop of damaged records
            }
            parts.push(dir.clone());
            at = *parent;
        }
        parts.reverse();
        parts.join("/")
    };
    let trees: Vec<(String, String, BasketKey)> = trees
        .into_iter()
        .map(|(name, key, pdir)| (path(name.clone(), pdir), name, key))
        .collect();
    // A basket names its tree but not the tree's directory (ROOT writes the file as the
    // basket's directory): it belongs to the only tree of that name, or, when directories hold
    // trees of the same name, to the one whose record lists its position.
    // The 8-byte words of each such tree's record (its cycles' records together), read once.
    let mut words: HashMap<String, std::collections::HashSet<u64>> = HashMap::new();
    let mut index = BasketIndex::new();
    for (tree, branch, key, _) in baskets {
        let mut paths: Vec<&String> = trees
            .iter()
            .filter(|(_, name, _)| *name == tree)
            .map(|(path, _, _)| path)
            .collect();
        paths.sort();
        paths.dedup();
        let owner = match paths.as_slice() {
            [] => tree.clone(),
            [path] => (*path).clone(),
            several => several
                .iter()
                .find(|path| {
                    words
                        .entry((**path).clone())
                        .or_insert_with(|| {
                            trees
                                .iter()
                                .filter(|(p, _, _)| p == **path)
                                .filter_map(|(_, _, k)| tree_record(file, k))
                                .flat_map(|r| {
                                    (0..r.len().saturating_sub(7))
                                        .map(|at| be_u64(&r, at))
                                        .collect::<Vec<_>>()
                                })
                                .collect()
                        })
                        .contains(&key.seek)
                })
                .map_or_else(|| tree.clone(), |path| (*path).clone()),
        };
        index.entry((owner, branch)).or_default().push(key);
    }
    let trees: Vec<(String, BasketKey)> = trees
        .into_iter()
        .map(|(path, _, key)| (path, key))
        .collect();
    order_by_entry(file, &trees, &mut index);
    Ok(Scan {
        baskets: index,
        trees: trees.into_iter().map(|(name, _)| name).collect(),
    })
}

/// The (decompressed) payload of a `TTree` record, if it can be read.
fn tree_record(file: &mut File, key: &BasketKey) -> Option<Vec<u8>> {
    let payload = read_at(file, key.seek + key.key_len, key.nbytes - key.key_len).ok()?;
    if key.obj_len == payload.len() as u64 {
        Some(payload)
    } else {
        decompress(&payload, key.obj_len as usize).ok()
    }
}

/// Puts each branch's baskets in entry order. A branch's `fBasketSeek` array, in its tree's
/// record, lists its baskets' positions in entry order as big-endian 64-bit integers: the
/// record is searched for a run of the branch's basket positions, one after another, and the
/// baskets are sorted by their place in it. Baskets whose positions are not found (a record
/// that cannot be read) keep file order, which is entry order for every writer seen so far; the
/// counter check still catches a mismatch of lengths.
fn order_by_entry(file: &mut File, trees: &[(String, BasketKey)], index: &mut BasketIndex) {
    for (name, key) in trees {
        let Some(record) = tree_record(file, key) else {
            continue;
        };
        // Every place in the record where a basket position of this tree stands.
        let seeks: std::collections::HashSet<u64> = index
            .iter()
            .filter(|((tree, _), b)| tree == name && b.len() > 1)
            .flat_map(|(_, b)| b.iter().map(|k| k.seek))
            .collect();
        if seeks.is_empty() {
            continue;
        }
        let mut places: HashMap<u64, Vec<usize>> = HashMap::new();
        for at in 0..record.len().saturating_sub(7) {
            let v = be_u64(&record, at);
            if seeks.contains(&v) {
                places.entry(v).or_default().push(at);
            }
        }
        for ((tree, _), baskets) in index.iter_mut() {
            if tree != name || baskets.len() < 2 {
                continue;
            }
            if let Some(order) = seek_run(&record, &places, baskets) {
                let mut sorted: Vec<BasketKey> =
                    order.iter().map(|&i| baskets[i].clone()).collect();
                std::mem::swap(baskets, &mut sorted);
            }
        }
    }
}

/// The big-endian 64-bit integer at `at` of `record` (which has 8 bytes there).
fn be_u64(record: &[u8], at: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&record[at..at + 8]);
    u64::from_be_bytes(bytes)
}

/// Where `baskets`' positions stand one after another in `record` (`places`: where each
/// position appears): the baskets' indices in that order.
fn seek_run(
    record: &[u8],
    places: &HashMap<u64, Vec<usize>>,
    baskets: &[BasketKey],
) -> Option<Vec<usize>> {
    let n = baskets.len();
    let of: HashMap<u64, usize> = baskets
        .iter()
        .enumerate()
        .map(|(i, b)| (b.seek, i))
        .collect();
    let at_of = |at: usize| (at + 8 <= record.len()).then(|| be_u64(record, at));
    for &at in places.get(&baskets[0].seek)? {
        // Back to the start of the run of this branch's positions, then n of them forward.
        let mut start = at;
        while start >= 8
            && at_of(start - 8).is_some_and(|v| of.contains_key(&v))
            && at - start < 8 * n
        {
            start -= 8;
        }
        let mut seen = vec![false; n];
        let order: Option<Vec<usize>> = (0..n)
            .map(|k| {
                let i = *of.get(&at_of(start + 8 * k)?)?;
                (!std::mem::replace(&mut seen[i], true)).then_some(i)
            })
            .collect();
        if order.is_some() {
            return order;
        }
    }
    None
}

/// The file's free segments (the `TFree` list at `fSeekFree`), as byte ranges.
fn free_segments(
    file: &mut File,
    seek_free: u64,
    end: u64,
) -> Result<Vec<std::ops::Range<u64>>, String> {
    if seek_free == 0 || seek_free >= end {
        return Ok(Vec::new());
    }
    let head = read_at(file, seek_free, 1024.min(end - seek_free))?;
    let mut r = Cursor::new(&head);
    let nbytes = r.i32()? as u64;
    r.bytes(2)?;
    let obj_len = r.i32()? as u64;
    r.bytes(4)?;
    let key_len = r.i16()? as u64;
    if key_len > nbytes || obj_len != nbytes - key_len {
        return Err(format!(
            "unexpected free-segment record at byte {seek_free}"
        ));
    }
    let list = read_at(file, seek_free + key_len, nbytes - key_len)?;
    let mut r = Cursor::new(&list);
    let mut gaps = Vec::new();
    while r.pos + 2 <= list.len() {
        let big = r.i16()? > 1000;
        let first = r.seek(big)?;
        let last = r.seek(big)?;
        gaps.push(first..last.saturating_add(1));
    }
    Ok(gaps)
}

/// A record the reader keeps: a basket, or a tree's own record (which holds its branches'
/// `fBasketSeek` arrays).
/// A record the walk keeps, with the position of its directory (`fSeekPdir`).
enum Record {
    Basket(String, String, BasketKey, u64),
    Tree(String, BasketKey, u64),
    /// A directory (`TDirectoryFile`) named so: its key is at the position its contents name
    /// as their directory.
    Directory(String, u64),
}

/// Parses one key header; returns `None` when the record is neither a `TBasket` nor a `TTree`.
fn parse_key(head: &[u8], seek: u64) -> Result<Option<Record>, String> {
    let mut r = Cursor::new(head);
    let nbytes = r.i32()?;
    let version = r.i16()?;
    let obj_len = r.i32()?;
    let _datime = r.u32()?;
    let key_len = r.i16()?;
    let _cycle = r.i16()?;
    r.seek(version > 1000)?;
    let pdir = r.seek(version > 1000)?;
    let class = r.tstring()?;
    if class == "TDirectory" || class == "TDirectoryFile" {
        return Ok(Some(Record::Directory(r.tstring()?, pdir)));
    }
    if class == "TTree" {
        let name = r.tstring()?;
        let sane = nbytes >= 0
            && key_len >= 0
            && i32::from(key_len) <= nbytes
            && obj_len >= 0
            && obj_len as u64 <= MAX_BASKET_BYTES;
        return Ok(sane.then(|| {
            Record::Tree(
                name,
                BasketKey {
                    seek,
                    nbytes: nbytes as u64,
                    key_len: key_len as u64,
                    obj_len: obj_len as u64,
                    entries: 0,
                    last: key_len as u64 + obj_len as u64,
                },
                pdir,
            )
        }));
    }
    if class != "TBasket" {
        return Ok(None);
    }
    let branch = r.tstring()?;
    let tree = r.tstring()?;
    let _basket_version = r.i16()?;
    let _buffer_size = r.i32()?;
    let _nev_buf_size = r.i32()?;
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
    Ok(Some(Record::Basket(tree, branch, key, pdir)))
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
