//! Reading Thrift's compact protocol, as far as the engine walks it itself:
//! to repair footers (`footer_repair`) and to check page headers before the
//! decoder trusts them (`pages`). Every read is bounds-checked, and nesting
//! is bounded, so hostile bytes give an error, never a panic.

use crate::error::{Error, Result};

/// Compact-protocol wire types.
pub const STOP: u8 = 0;
pub const BOOL_TRUE: u8 = 1;
pub const BOOL_FALSE: u8 = 2;
pub const BYTE: u8 = 3;
pub const I16: u8 = 4;
pub const I32: u8 = 5;
pub const I64: u8 = 6;
pub const DOUBLE: u8 = 7;
pub const BINARY: u8 = 8;
pub const LIST: u8 = 9;
pub const SET: u8 = 10;
pub const MAP: u8 = 11;
pub const STRUCT: u8 = 12;

/// Deepest nesting followed: far more than the format uses, and a bound on
/// the recursion hostile bytes can cause.
pub const MAX_DEPTH: usize = 32;

/// The error for bytes that are not valid compact Thrift.
pub fn malformed() -> Error {
    Error::CorruptFile("the Parquet metadata is not valid Thrift".into())
}

/// A cursor over compact-protocol bytes.
pub struct CompactReader<'a> {
    input: &'a [u8],
    position: usize,
}

impl<'a> CompactReader<'a> {
    /// A reader at the start of `input`.
    pub fn new(input: &'a [u8]) -> Self {
        Self { input, position: 0 }
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.position
    }

    /// The bytes from `start` to the current position.
    pub fn since(&self, start: usize) -> &'a [u8] {
        &self.input[start..self.position]
    }

    /// One byte.
    pub fn byte(&mut self) -> Result<u8> {
        let byte = *self.input.get(self.position).ok_or_else(malformed)?;
        self.position += 1;
        Ok(byte)
    }

    /// An unsigned varint.
    pub fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(malformed())
    }

    /// A zigzag-encoded `i32`.
    pub fn i32(&mut self) -> Result<i32> {
        let zigzag = self.varint()?;
        i32::try_from((zigzag >> 1) as i64 ^ -((zigzag & 1) as i64)).map_err(|_| malformed())
    }

    fn advance(&mut self, bytes: u64) -> Result<()> {
        let end = usize::try_from(bytes)
            .ok()
            .and_then(|n| self.position.checked_add(n))
            .ok_or_else(malformed)?;
        if end > self.input.len() {
            return Err(malformed());
        }
        self.position = end;
        Ok(())
    }

    /// Moves past one value of wire type `kind`.
    pub fn skip(&mut self, kind: u8, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(malformed());
        }
        match kind {
            // A boolean field's value is its wire type: no byte follows
            // (booleans in lists are read as BYTE: see `list_header`).
            BOOL_TRUE | BOOL_FALSE => Ok(()),
            BYTE => self.advance(1),
            I16 | I32 | I64 => self.varint().map(drop),
            DOUBLE => self.advance(8),
            BINARY => {
                let length = self.varint()?;
                self.advance(length)
            }
            LIST | SET => {
                let (count, element) = self.list_header()?;
                (0..count).try_for_each(|_| self.skip(element, depth + 1))
            }
            MAP => {
                let count = self.varint()?;
                if count == 0 {
                    return Ok(());
                }
                let types = self.byte()?;
                let (key, value) = (element_type(types >> 4), element_type(types & 0x0f));
                (0..count).try_for_each(|_| {
                    self.skip(key, depth + 1)?;
                    self.skip(value, depth + 1)
                })
            }
            STRUCT => loop {
                let Some((_, kind)) = self.field_header(0)? else {
                    return Ok(());
                };
                self.skip(kind, depth + 1)?;
            },
            _ => Err(malformed()),
        }
    }

    /// A list or set header: the element count and wire type.
    pub fn list_header(&mut self) -> Result<(u64, u8)> {
        let header = self.byte()?;
        let count = match header >> 4 {
            15 => self.varint()?,
            short => u64::from(short),
        };
        Ok((count, element_type(header & 0x0f)))
    }

    /// A field header after field `last_id`: its id and wire type, or `None`
    /// at the end of the struct.
    pub fn field_header(&mut self, last_id: i16) -> Result<Option<(i16, u8)>> {
        let header = self.byte()?;
        let kind = header & 0x0f;
        if kind == STOP {
            return Ok(None);
        }
        let id = match header >> 4 {
            0 => {
                let zigzag = self.varint()?;
                i16::try_from((zigzag >> 1) as i64 ^ -((zigzag & 1) as i64))
                    .map_err(|_| malformed())?
            }
            delta => last_id
                .checked_add(i16::from(delta))
                .ok_or_else(malformed)?,
        };
        Ok(Some((id, kind)))
    }
}

/// The wire type of a list's, set's or map's elements: booleans there are a
/// byte each, like BYTE (only a boolean field carries its value in its type).
fn element_type(kind: u8) -> u8 {
    match kind {
        BOOL_TRUE | BOOL_FALSE => BYTE,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_zigzag_ints_and_skips_nested_values() {
        // struct { 1: i32 -3, 2: list<binary> ["ab"], 3: struct { 1: bool true } }
        let bytes = [
            0x15, 0x05, 0x19, 0x18, 0x02, b'a', b'b', 0x1C, 0x11, 0x00, 0x00,
        ];
        let mut reader = CompactReader::new(&bytes);
        assert_eq!(reader.field_header(0).unwrap(), Some((1, I32)));
        assert_eq!(reader.i32().unwrap(), -3);
        let (id, kind) = reader.field_header(1).unwrap().unwrap();
        assert_eq!((id, kind), (2, LIST));
        reader.skip(kind, 0).unwrap();
        let (id, kind) = reader.field_header(2).unwrap().unwrap();
        assert_eq!((id, kind), (3, STRUCT));
        reader.skip(kind, 0).unwrap();
        assert_eq!(reader.field_header(3).unwrap(), None);
        assert_eq!(reader.position(), bytes.len());
    }

    #[test]
    fn truncated_or_too_deep_input_is_an_error() {
        assert!(CompactReader::new(&[0x18, 0x09]).skip(BINARY, 0).is_err());
        assert!(CompactReader::new(&[0xFF; 11]).varint().is_err());
        // A map declaring a billion boolean pairs in four bytes: each pair
        // reads two bytes, so it ends at once instead of spinning.
        let map_of_bools = [0x80, 0x94, 0xEB, 0xDC, 0x03, 0x11];
        assert!(CompactReader::new(&map_of_bools).skip(MAP, 0).is_err());
        let deep = [0x1C; 64];
        assert!(CompactReader::new(&deep).skip(STRUCT, 0).is_err());
    }
}
