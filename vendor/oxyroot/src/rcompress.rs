use flate2::read::ZlibDecoder;
use lz4::block::decompress_to_buffer as LZ4_decompress_to_buffer;
use std::io::Read;
use xz2::read::XzDecoder;

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug)]
pub enum Error {
    Io(std::io::Error),
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

// Note: this contains ZL[src][dst] where src and dst are 3 bytes each.
const HEADER_SIZE: usize = 9;

// because each zipped block contains:
// - the size of the input data
// - the size of the compressed data
// where each size is saved on 3 bytes, the maximal size
// of each block can not be bigger than 16Mb.
#[allow(dead_code)]
const K_MAX_COMPRESSED_BLOCK_SIZE: usize = 0xffffff;

#[allow(dead_code)]
#[derive(PartialEq)]
enum Kind {
    #[allow(dead_code)]
    Inherit = -1,
    UseGlobal = 0,
    Zlib = 1,
    Lzma = 2,
    OldCompression = 3,
    LZ4 = 4,
    Zstd = 5,
    UndefinedCompression = 6,
}

// kindOf returns the kind of compression algorithm.
fn kind_of(buf: &[u8]) -> Kind {
    match (buf[0] as char, buf[1] as char) {
        ('Z', 'L') => Kind::Zlib,
        ('X', 'Z') => Kind::Lzma,
        ('L', '4') => Kind::LZ4,
        ('Z', 'S') => Kind::Zstd,
        ('C', 'S') => Kind::OldCompression,

        _ => Kind::UndefinedCompression,
    }
}

/// Decompresses ROOT's sequence of compressed blocks into `dst`, block by block.
///
/// baler-arrow patch: oxyroot 0.1.25 panicked (`unimplemented!()`) on zstd blocks (ROOT's
/// default since 6.30 for some files) and on unknown headers, and decoded only the first block
/// of a zlib or lz4 record of several blocks (records over 16 MiB).
pub fn decompress(dst: &mut [u8], mut src: &[u8]) -> Result<usize> {
    let invalid = |m: String| Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, m));
    let mut at = 0usize;
    while at < dst.len() {
        if src.len() < HEADER_SIZE {
            return Err(invalid("compressed block header is cut short".into()));
        }
        let hdr = &src[..HEADER_SIZE];
        let srcsz = hdr[3] as usize | (hdr[4] as usize) << 8 | (hdr[5] as usize) << 16;
        let tgtsz = hdr[6] as usize | (hdr[7] as usize) << 8 | (hdr[8] as usize) << 16;
        let kind = kind_of(hdr);
        let block = src
            .get(HEADER_SIZE..HEADER_SIZE + srcsz)
            .ok_or_else(|| invalid("compressed block is cut short".into()))?;
        let out = dst
            .get_mut(at..at + tgtsz)
            .ok_or_else(|| invalid("compressed block is larger than its record".into()))?;
        match kind {
            Kind::Zlib => {
                ZlibDecoder::new(block).read_exact(out)?;
            }
            Kind::Lzma => {
                XzDecoder::new(block).read_exact(out)?;
            }
            Kind::LZ4 => {
                // 8 bytes of checksum precede the LZ4 block.
                let data = block
                    .get(8..)
                    .ok_or_else(|| invalid("lz4 block is cut short".into()))?;
                LZ4_decompress_to_buffer(data, Some(tgtsz as i32), out)?;
            }
            Kind::Zstd => {
                zstd::stream::read::Decoder::new(block)?.read_exact(out)?;
            }
            Kind::OldCompression => {
                return Err(invalid(
                    "the legacy ROOT compression algorithm `CS` is not supported".into(),
                ));
            }
            Kind::Inherit | Kind::UseGlobal | Kind::UndefinedCompression => {
                return Err(invalid(format!(
                    "unknown compression algorithm `{}{}`",
                    hdr[0].escape_ascii(),
                    hdr[1].escape_ascii()
                )));
            }
        }
        at += tgtsz;
        src = &src[HEADER_SIZE + srcsz..];
    }
    Ok(0)
}

fn root_compress_algo_level(algo: i32) -> (Kind, i32) {
    let kind = algo / 100;
    let level = algo % 100;
    let kind = match kind {
        0 => Kind::UseGlobal,
        1 => Kind::Zlib,
        2 => Kind::Lzma,
        3 => Kind::OldCompression,
        4 => Kind::LZ4,
        5 => Kind::Zstd,
        _ => Kind::UndefinedCompression,
    };
    (kind, level)
}

pub fn compress(src: Vec<u8>, compression: i32) -> Result<Vec<u8>> {
    assert_eq!(compression, 1);

    let (kind, level) = root_compress_algo_level(compression);

    if kind == Kind::UseGlobal || level == 0 || src.len() < 512 {
        // no compression
        // let mut dst = Vec::new();
        //std::io::copy(src, &mut dst)?;
        return Ok(src);
    }

    unimplemented!();

    // let mut dst = Vec::new();
    // {
    //     let mut w = flate2::write::ZlibEncoder::new(&mut dst, flate2::Compression::default());
    //     std::io::copy(&mut src, &mut w)?;
    // }
    //
    // Ok(dst)
}
