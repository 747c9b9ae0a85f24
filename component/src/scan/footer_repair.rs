//! Repairing footers in which an early writer put a field of the wrong type.
//!
//! Thrift readers skip a field whose wire type differs from the one the schema
//! declares; the `parquet` crate's decoder instead reads it as the declared
//! type and fails. A 2018 parquet-mr snapshot (used by Dremio), for example,
//! wrote a list at `ColumnMetaData` field 15, which the format now defines as
//! `bloom_filter_length: i32`. [`repair_footer`] rewrites the footer's
//! compact-protocol bytes without such fields inside `ColumnMetaData`, the
//! struct where writers diverged; every other byte is copied unchanged.

use crate::error::Result;

use super::thrift::{BOOL_FALSE, BOOL_TRUE, CompactReader, I32, I64, LIST, STOP, STRUCT};

use super::thrift::MAX_DEPTH;

/// The wire type the format declares for each `ColumnMetaData` field.
fn column_metadata_field_type(id: i16) -> Option<u8> {
    Some(match id {
        1 | 4 | 15 => I32,
        5 | 6 | 7 | 9 | 10 | 11 | 14 => I64,
        2 | 3 | 8 | 13 => LIST,
        12 | 16 | 17 => STRUCT,
        _ => return None,
    })
}

/// Where in the footer a struct sits: only the path down to `ColumnMetaData`
/// is rewritten.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Struct {
    FileMetaData,
    RowGroup,
    ColumnChunk,
    ColumnMetaData,
    Other,
}

impl Struct {
    /// The kind of struct found in field `id` (directly or as list elements).
    fn child(self, id: i16) -> Struct {
        match (self, id) {
            (Struct::FileMetaData, 4) => Struct::RowGroup,
            (Struct::RowGroup, 1) => Struct::ColumnChunk,
            (Struct::ColumnChunk, 3) => Struct::ColumnMetaData,
            _ => Struct::Other,
        }
    }
}

/// Whether a footer (serialized `FileMetaData`) names an encryption
/// algorithm (its field 8): a file written in plaintext-footer mode, whose
/// footer reads but whose column chunks are encrypted.
pub fn names_encryption(footer: &[u8]) -> Result<bool> {
    let mut reader = CompactReader::new(footer);
    let mut last = 0;
    while let Some((id, wire)) = reader.field_header(last)? {
        if id == 8 {
            return Ok(true);
        }
        reader.skip(wire, 1)?;
        last = id;
    }
    Ok(false)
}

/// The footer (serialized `FileMetaData`) without fields whose wire type
/// contradicts the format inside `ColumnMetaData`. Fails on malformed input.
pub fn repair_footer(footer: &[u8]) -> Result<Vec<u8>> {
    let mut rewriter = Rewriter {
        reader: CompactReader::new(footer),
        output: Vec::with_capacity(footer.len()),
    };
    rewriter.rewrite_struct(Struct::FileMetaData, 0)?;
    Ok(rewriter.output)
}

struct Rewriter<'a> {
    reader: CompactReader<'a>,
    output: Vec<u8>,
}

impl Rewriter<'_> {
    fn copy_from(&mut self, start: usize) {
        self.output.extend_from_slice(self.reader.since(start));
    }

    /// Copies one struct, rewriting the structs on the path to `ColumnMetaData`.
    fn rewrite_struct(&mut self, kind: Struct, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(super::thrift::malformed());
        }
        let (mut last_read, mut last_written) = (0i16, 0i16);
        loop {
            let header_start = self.reader.position();
            let Some((id, wire)) = self.reader.field_header(last_read)? else {
                self.output.push(STOP);
                return Ok(());
            };
            last_read = id;
            let declared = if kind == Struct::ColumnMetaData {
                column_metadata_field_type(id)
            } else {
                None
            };
            let contradicts = declared.is_some_and(|declared| {
                let wire = if wire == BOOL_FALSE { BOOL_TRUE } else { wire };
                wire != declared
            });
            if contradicts {
                self.reader.skip(wire, depth + 1)?;
                continue;
            }
            if kind == Struct::ColumnMetaData {
                self.write_field_header(last_written, id, wire);
            } else {
                self.copy_from(header_start);
            }
            last_written = id;
            let child = kind.child(id);
            match wire {
                STRUCT if child != Struct::Other => self.rewrite_struct(child, depth + 1)?,
                LIST if child != Struct::Other => {
                    let list_start = self.reader.position();
                    let (count, element) = self.reader.list_header()?;
                    self.copy_from(list_start);
                    for _ in 0..count {
                        if element == STRUCT {
                            self.rewrite_struct(child, depth + 1)?;
                        } else {
                            let value_start = self.reader.position();
                            self.reader.skip(element, depth + 1)?;
                            self.copy_from(value_start);
                        }
                    }
                }
                _ => {
                    let value_start = self.reader.position();
                    self.reader.skip(wire, depth + 1)?;
                    self.copy_from(value_start);
                }
            }
        }
    }

    /// Writes a field header, short form when the id follows closely.
    fn write_field_header(&mut self, last_id: i16, id: i16, wire: u8) {
        match id.checked_sub(last_id) {
            Some(delta @ 1..=15) => self.output.push(((delta as u8) << 4) | wire),
            _ => {
                self.output.push(wire);
                let mut zigzag = ((i64::from(id) << 1) ^ (i64::from(id) >> 63)) as u64;
                while zigzag >= 0x80 {
                    self.output.push((zigzag as u8) | 0x80);
                    zigzag >>= 7;
                }
                self.output.push(zigzag as u8);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FileMetaData { 4: [RowGroup { 1: [ColumnChunk { 3: ColumnMetaData {
    ///   1: i32 1, 15: list<i32> [7] (wrong: the format says i32), 16: struct {} } }] }], 6: "x" }
    fn footer_with_wrong_field() -> Vec<u8> {
        vec![
            0x49, 0x1C, // field 4, list of 1 struct
            0x19, 0x1C, // RowGroup field 1, list of 1 struct
            0x3C, // ColumnChunk field 3, struct
            0x15, 0x02, // ColumnMetaData field 1: i32 1
            0xE9, 0x15, 0x0E, // field 15 (delta 14): list of 1 i32: 7
            0x1C, 0x00, // field 16 (delta 1): empty struct
            0x00, // end of ColumnMetaData
            0x00, // end of ColumnChunk
            0x00, // end of RowGroup
            0x28, 0x01, b'x', // FileMetaData field 6 (delta 2): binary "x"
            0x00,
        ]
    }

    #[test]
    fn drops_only_the_contradicting_field_and_reencodes_the_next_header() {
        let repaired = repair_footer(&footer_with_wrong_field()).unwrap();
        let expected = vec![
            0x49, 0x1C, 0x19, 0x1C, 0x3C, 0x15, 0x02, // unchanged up to field 1
            0xFC, 0x00, // field 16, now 15 after field 1 (field 15 is gone)
            0x00, 0x00, 0x00, 0x28, 0x01, b'x', 0x00,
        ];
        assert_eq!(repaired, expected);
    }

    #[test]
    fn leaves_valid_footers_unchanged_and_rejects_garbage() {
        let valid = repair_footer(&footer_with_wrong_field()).unwrap();
        assert_eq!(repair_footer(&valid).unwrap(), valid);
        let mut long_form = valid.clone();
        long_form.splice(7..8, [0x0C, 0x20]); // field 16 written with its id in full
        let rewritten = repair_footer(&long_form).unwrap();
        assert_eq!(
            rewritten, valid,
            "only ColumnMetaData headers are re-encoded"
        );
        assert!(repair_footer(&[0x49, 0x1C, 0x19]).is_err());
        assert!(repair_footer(&[0x0F]).is_err());
    }
}
