//! Checking pages before the decoder sees them.
//!
//! The decoder trusts a page header: it allocates the declared uncompressed
//! size at once, and its GZIP and BROTLI codecs inflate until their input
//! ends, whatever the header says. A hostile file could make it allocate
//! gigabytes from a few bytes (a decompression bomb), which in a WebAssembly
//! instance is a trap. So every fetched page is checked first:
//! - its declared uncompressed size must fit in what the memory limit leaves;
//! - it must be a size its codec can reach from the compressed bytes;
//! - GZIP and BROTLI pages, and LZ4 pages stored as LZ4 frames (the decoder's
//!   fallback for old writers), are inflated into a counter, bounded by the
//!   declared size, to prove they stop there (this costs their decompression
//!   twice).
//!
//! Headers that do not parse are left for the decoder, which reports them.

use super::thrift::{BOOL_TRUE, CompactReader, I32, STRUCT};
use crate::error::{Error, Result};
use crate::memory::{MemoryBudget, human_bytes};
use parquet::basic::Compression;
use std::io::Read;

/// What a page header declares about its sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PageSizes {
    /// Bytes of the header itself.
    header: usize,
    /// Bytes after the header, as stored.
    compressed: usize,
    /// Bytes once decompressed (levels of v2 pages included).
    uncompressed: usize,
    /// Leading bytes stored uncompressed (the levels of a v2 data page).
    plain_prefix: usize,
    /// Whether the bytes after `plain_prefix` are compressed (v2 pages may
    /// say no).
    compressed_body: bool,
}

/// Reads the page header at the start of `bytes`; `None` if it does not
/// parse or declares negative sizes.
fn page_sizes(bytes: &[u8]) -> Option<PageSizes> {
    let mut reader = CompactReader::new(bytes);
    let (mut uncompressed, mut compressed) = (None, None);
    let (mut plain_prefix, mut compressed_body) = (0i64, true);
    let mut last = 0;
    while let Some((id, kind)) = reader.field_header(last).ok()? {
        last = id;
        match (id, kind) {
            (2, I32) => uncompressed = Some(reader.i32().ok()?),
            (3, I32) => compressed = Some(reader.i32().ok()?),
            (8, STRUCT) => (plain_prefix, compressed_body) = v2_levels(&mut reader)?,
            _ => reader.skip(kind, 1).ok()?,
        }
    }
    Some(PageSizes {
        header: reader.position(),
        compressed: usize::try_from(compressed?).ok()?,
        uncompressed: usize::try_from(uncompressed?).ok()?,
        plain_prefix: usize::try_from(plain_prefix).ok()?,
        compressed_body,
    })
}

/// The levels' length and `is_compressed` of a `DataPageHeaderV2`.
fn v2_levels(reader: &mut CompactReader) -> Option<(i64, bool)> {
    let (mut levels, mut compressed) = (0i64, true);
    let mut last = 0;
    while let Some((id, kind)) = reader.field_header(last).ok()? {
        last = id;
        match (id, kind) {
            (5 | 6, I32) => levels += i64::from(reader.i32().ok()?),
            (7, _) if kind <= 2 => compressed = kind == BOOL_TRUE,
            _ => reader.skip(kind, 2).ok()?,
        }
    }
    Some((levels, compressed))
}

/// The most a codec can expand its input, where the format bounds it:
/// snappy copies at most 64 bytes per 2-byte tag, LZ4 about 255 per byte,
/// deflate about 1032 per byte. ZSTD and BROTLI have no useful bound.
fn max_expansion(codec: Compression) -> Option<usize> {
    match codec {
        Compression::UNCOMPRESSED => Some(1),
        Compression::SNAPPY => Some(33),
        Compression::LZ4 | Compression::LZ4_RAW => Some(256),
        Compression::GZIP(_) => Some(1040),
        _ => None,
    }
}

/// How an LZ4 frame starts (little-endian 0x184D2204). The decoder reads an
/// LZ4 page as Hadoop's framing first, then as LZ4 frames, which it inflates
/// to their end whatever the header declares.
const LZ4_FRAME_MAGIC: [u8; 4] = [0x04, 0x22, 0x4D, 0x18];

/// A column chunk's bytes being checked: where they sit and how they are
/// compressed, for the checks and their messages.
pub(super) struct ChunkBytes<'a> {
    /// The bytes fetched: one or more whole pages.
    pub bytes: &'a [u8],
    /// Their offset in the file.
    pub offset: u64,
    /// The column's path, e.g. `l_comment`.
    pub column: &'a str,
    /// The column chunk's codec.
    pub codec: Compression,
}

/// Checks every page in `chunk` (see the module documentation).
pub(super) fn check_pages(chunk: &ChunkBytes, budget: &MemoryBudget) -> Result<()> {
    let mut position = 0;
    while position < chunk.bytes.len() {
        let Some(page) = page_sizes(&chunk.bytes[position..]) else {
            return Ok(());
        };
        let body_start = position + page.header;
        let Some(body) = body_start
            .checked_add(page.compressed)
            .and_then(|end| chunk.bytes.get(body_start..end))
        else {
            return Ok(());
        };
        let at = chunk.offset + position as u64;
        let describe = || format!("the page at byte {at} of column {}", chunk.column);
        budget.reserve(page.uncompressed as u64, describe)?;
        check_expansion(chunk, &page, body, at)?;
        position = body_start + page.compressed;
    }
    Ok(())
}

fn check_expansion(chunk: &ChunkBytes, page: &PageSizes, body: &[u8], at: u64) -> Result<()> {
    let corrupt = |what: String| {
        Error::CorruptFile(format!(
            "the page at byte {at} of column {} {what}: the file is damaged or hostile",
            chunk.column
        ))
    };
    if !page.compressed_body || chunk.codec == Compression::UNCOMPRESSED {
        return Ok(());
    }
    let (Some(prefix), Some(expected)) = (
        body.get(..page.plain_prefix),
        page.uncompressed.checked_sub(page.plain_prefix),
    ) else {
        return Err(corrupt("declares levels longer than the page".into()));
    };
    let compressed = &body[prefix.len()..];
    if let Some(ratio) = max_expansion(chunk.codec) {
        // 64 bytes of slack for headers and trailers of tiny pages.
        if expected > compressed.len().saturating_mul(ratio).saturating_add(64) {
            return Err(corrupt(format!(
                "declares {} once decompressed from {} of {:?}, more than the codec can expand to",
                human_bytes(expected as u64),
                human_bytes(compressed.len() as u64),
                chunk.codec
            )));
        }
    }
    let inflated = match chunk.codec {
        Compression::GZIP(_) => {
            bounded_len(flate2::read::MultiGzDecoder::new(compressed), expected)
        }
        Compression::BROTLI(_) => {
            bounded_len(brotli::Decompressor::new(compressed, 64 * 1024), expected)
        }
        Compression::LZ4 if compressed.starts_with(&LZ4_FRAME_MAGIC) => {
            bounded_len(lz4_flex::frame::FrameDecoder::new(compressed), expected)
        }
        _ => return Ok(()),
    };
    match inflated {
        // Errors in the stream itself are the decoder's to report.
        Some(length) if length > expected as u64 => Err(corrupt(format!(
            "inflates to more than the {} its header declares",
            human_bytes(expected as u64)
        ))),
        _ => Ok(()),
    }
}

/// How many bytes `reader` yields, reading at most one past `limit`; `None`
/// if the stream is malformed.
fn bounded_len(reader: impl Read, limit: usize) -> Option<u64> {
    std::io::copy(&mut reader.take(limit as u64 + 1), &mut std::io::sink()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A v1 page header: type DATA_PAGE, the two sizes, and an empty
    /// data_page_header.
    fn header(uncompressed: i32, compressed: i32) -> Vec<u8> {
        let zigzag = |v: i32| {
            let mut value = ((v << 1) ^ (v >> 31)) as u32;
            let mut out = Vec::new();
            while value >= 0x80 {
                out.push((value as u8) | 0x80);
                value >>= 7;
            }
            out.push(value as u8);
            out
        };
        let mut bytes = vec![0x15, 0x00, 0x15];
        bytes.extend(zigzag(uncompressed));
        bytes.push(0x15);
        bytes.extend(zigzag(compressed));
        bytes.extend([0x2C, 0x00, 0x00]); // field 5: empty struct; end
        bytes
    }

    fn chunk(bytes: &[u8], codec: Compression) -> ChunkBytes<'_> {
        ChunkBytes {
            bytes,
            offset: 4,
            column: "x",
            codec,
        }
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn honest_pages_pass() {
        let body = gzip(&[7u8; 5000]);
        let mut bytes = header(5000, body.len() as i32);
        bytes.extend(&body);
        bytes.extend(header(3, 3));
        bytes.extend([1, 2, 3]);
        let budget = MemoryBudget::default();
        check_pages(
            &chunk(&bytes, Compression::GZIP(Default::default())),
            &budget,
        )
        .unwrap();
    }

    #[test]
    fn a_page_declaring_more_than_the_limit_leaves_is_a_memory_limit_error() {
        let mut bytes = header(i32::MAX, 10);
        bytes.extend([0; 10]);
        let budget = MemoryBudget::new(Some(64 << 20)).unwrap();
        let error = check_pages(
            &chunk(&bytes, Compression::ZSTD(Default::default())),
            &budget,
        );
        let Err(Error::MemoryLimit(message)) = error else {
            panic!("{error:?}");
        };
        assert!(message.contains("byte 4 of column x"), "{message}");
    }

    #[test]
    fn a_size_the_codec_cannot_reach_is_corrupt() {
        let mut bytes = header(10 << 20, 100);
        bytes.extend([0; 100]);
        let error = check_pages(
            &chunk(&bytes, Compression::SNAPPY),
            &MemoryBudget::default(),
        );
        assert!(matches!(error, Err(Error::CorruptFile(m)) if m.contains("expand")));
    }

    #[test]
    fn a_gzip_page_that_inflates_past_its_declared_size_is_corrupt() {
        let body = gzip(&vec![0u8; 1 << 20]);
        let mut bytes = header(1000, body.len() as i32);
        bytes.extend(&body);
        let error = check_pages(
            &chunk(&bytes, Compression::GZIP(Default::default())),
            &MemoryBudget::default(),
        );
        assert!(matches!(error, Err(Error::CorruptFile(m)) if m.contains("inflates")));
    }

    #[test]
    fn an_lz4_frame_page_that_inflates_past_its_declared_size_is_corrupt() {
        let mut encoder = lz4_flex::frame::FrameEncoder::new(Vec::new());
        encoder.write_all(&vec![0u8; 1 << 20]).unwrap();
        let body = encoder.finish().unwrap();
        let mut bytes = header(1000, body.len() as i32);
        bytes.extend(&body);
        let error = check_pages(&chunk(&bytes, Compression::LZ4), &MemoryBudget::default());
        assert!(matches!(error, Err(Error::CorruptFile(m)) if m.contains("inflates")));
        let mut honest = header(1 << 20, body.len() as i32);
        honest.extend(&body);
        check_pages(&chunk(&honest, Compression::LZ4), &MemoryBudget::default()).unwrap();
    }

    #[test]
    fn unparseable_headers_are_left_to_the_decoder() {
        let budget = MemoryBudget::default();
        check_pages(&chunk(&[0xFF; 16], Compression::SNAPPY), &budget).unwrap();
        let mut bytes = header(5, 1000); // claims more bytes than there are
        bytes.extend([0; 4]);
        check_pages(&chunk(&bytes, Compression::SNAPPY), &budget).unwrap();
    }
}
