//! Exact decimal numbers for literals: `unscaled / 10^scale`.

use crate::error::{Error, Result};
use std::fmt;

/// Most significant digits a decimal literal may have (Arrow's Decimal128).
pub const MAX_DIGITS: u32 = 38;

/// An exact number `unscaled × 10^-scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    /// The digits as an integer.
    pub unscaled: i128,
    /// How many of the digits are after the decimal point.
    pub scale: u32,
}

impl Decimal {
    /// An integer.
    pub fn integer(value: i128) -> Self {
        Self {
            unscaled: value,
            scale: 0,
        }
    }

    /// Parses plain decimal notation: `-12`, `3.50`, `.5`, `+7.` (no exponent).
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = || Error::Syntax(format!("{text:?} is not a decimal number"));
        let (negative, digits) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty() && fraction.is_empty()
            || !whole
                .bytes()
                .chain(fraction.bytes())
                .all(|b| b.is_ascii_digit())
        {
            return Err(invalid());
        }
        let significant = format!("{whole}{fraction}");
        let significant = significant.trim_start_matches('0');
        if significant.len() > MAX_DIGITS as usize {
            return Err(Error::Unsupported(format!(
                "the number {text} has more than {MAX_DIGITS} digits"
            )));
        }
        let magnitude: i128 = if significant.is_empty() {
            0
        } else {
            significant.parse().map_err(|_| invalid())?
        };
        Ok(Self {
            unscaled: if negative { -magnitude } else { magnitude },
            scale: fraction.len() as u32,
        })
    }

    /// The value as the nearest `f64`.
    pub fn to_f64(self) -> f64 {
        // Parsing the decimal text rounds correctly, unlike dividing.
        self.to_string().parse().unwrap_or(f64::NAN)
    }

    /// The value at `scale` digits after the point, rounded toward negative
    /// infinity, and whether that rounding was exact. `None` on overflow.
    pub fn rescale_floor(self, scale: u32) -> Option<(i128, bool)> {
        if scale >= self.scale {
            let factor = 10i128.checked_pow(scale - self.scale)?;
            Some((self.unscaled.checked_mul(factor)?, true))
        } else {
            match 10i128.checked_pow(self.scale - scale) {
                Some(factor) => {
                    let floor = self.unscaled.div_euclid(factor);
                    Some((floor, self.unscaled.rem_euclid(factor) == 0))
                }
                // More than 38 digits of scale difference: the value is below one unit.
                None => Some((if self.unscaled < 0 { -1 } else { 0 }, self.unscaled == 0)),
            }
        }
    }

    /// Compares two decimals exactly.
    pub fn cmp_exact(self, other: Decimal) -> std::cmp::Ordering {
        let scale = self.scale.max(other.scale);
        match (self.rescale_floor(scale), other.rescale_floor(scale)) {
            (Some((a, _)), Some((b, _))) => a.cmp(&b),
            // Overflow only happens for huge magnitudes: compare through f64.
            _ => self.to_f64().total_cmp(&other.to_f64()),
        }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.unscaled.unsigned_abs().to_string();
        let sign = if self.unscaled < 0 { "-" } else { "" };
        let scale = self.scale as usize;
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (whole, fraction) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{whole}.{fraction}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_round_trip() {
        for text in [
            "0",
            "-12",
            "3.50",
            "-0.05",
            "18446744073709551615",
            "0.000001",
        ] {
            assert_eq!(Decimal::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(Decimal::parse(".5").unwrap().to_string(), "0.5");
        assert!(Decimal::parse("1e5").is_err());
        assert!(Decimal::parse("-").is_err());
    }

    #[test]
    fn rescale_floors_toward_negative_infinity() {
        let d = Decimal::parse("-2.5").unwrap();
        assert_eq!(d.rescale_floor(0), Some((-3, false)));
        assert_eq!(
            Decimal::parse("2.5").unwrap().rescale_floor(0),
            Some((2, false))
        );
        assert_eq!(
            Decimal::parse("2.50").unwrap().rescale_floor(1),
            Some((25, true))
        );
        assert_eq!(
            Decimal::parse("7").unwrap().rescale_floor(3),
            Some((7000, true))
        );
    }
}
