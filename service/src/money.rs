//! Prices: exact decimals that travel as JSON numbers
//! (docs/marketplace.md#prices).
//!
//! A JSON number is read through its shortest decimal form (`1.505` stays
//! `1.505`, so it can be refused for its third decimal), never used as a
//! float; a JSON string is refused. Amounts are written as numbers.

use std::str::FromStr as _;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive as _;
use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};
use validator::ValidationError;

/// Largest price.
pub const MAX_PRICE: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// `serialize_with`: the amount as a JSON number.
pub fn serialize<S: Serializer>(value: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    match value.normalize().to_i64() {
        Some(i) if value.fract().is_zero() => s.serialize_i64(i),
        _ => s.serialize_f64(value.to_f64().unwrap_or_default()),
    }
}

struct NumberVisitor;

impl Visitor<'_> for NumberVisitor {
    type Value = Decimal;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a number")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
        // `{}` on an f64 prints the shortest text that reads back as the same
        // float: the digits the client wrote, for any price in range.
        let read = Decimal::from_str(&v.to_string())
            .or_else(|_| Decimal::from_scientific(&format!("{v:e}")))
            .map_err(|_| E::custom("must be a number between 0 and 1000000"))?;
        if read.is_zero() && v != 0.0 {
            // Too small for 28 decimals (2.7e-300): certainly more than two,
            // so keep a value the two-decimal rule refuses, never zero.
            let mut smallest = Decimal::new(1, 28);
            smallest.set_sign_negative(v < 0.0);
            return Ok(smallest);
        }
        Ok(read)
    }
}

/// `deserialize_with` for a required price: a JSON number, never a string.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    d.deserialize_any(NumberVisitor)
}

/// `deserialize_with` for a PATCH price: absent (with `#[serde(default)]`),
/// `null` (`Some(None)`) or a number.
pub fn deserialize_patch<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<Decimal>>, D::Error> {
    struct Wrap(Decimal);
    impl<'de> serde::Deserialize<'de> for Wrap {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            deserialize(d).map(Wrap)
        }
    }
    let v: Option<Wrap> = serde::Deserialize::deserialize(d)?;
    Ok(Some(v.map(|w| w.0)))
}

/// A price as read back from the database. SQLite keeps NUMERIC as a REAL:
/// exact for two decimals up to a million, and rounding puts back the cents.
pub fn stored(value: Decimal) -> Decimal {
    value.round_dp(2)
}

/// 0 to 1 000 000 with at most two decimals (`1.50` is fine, `1.505` is not).
pub fn validate_price(value: &Decimal) -> Result<(), ValidationError> {
    if value.is_sign_negative() && !value.is_zero() || *value > MAX_PRICE {
        return Err(
            ValidationError::new("range").with_message("must be between 0 and 1000000".into())
        );
    }
    if value.normalize().scale() > 2 {
        return Err(
            ValidationError::new("decimals").with_message("must have at most two decimals".into())
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Decimal, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_str(json);
        deserialize(&mut de)
    }

    #[test]
    fn numbers_keep_their_decimals() {
        assert_eq!(parse("1.5").unwrap().to_string(), "1.5");
        assert_eq!(parse("10.10").unwrap(), Decimal::new(1010, 2));
        assert_eq!(parse("999999.99").unwrap(), Decimal::new(99_999_999, 2));
        assert!(validate_price(&parse("1.505").unwrap()).is_err());
        assert!(validate_price(&parse("1.50").unwrap()).is_ok());
        assert!(validate_price(&parse("1000000.01").unwrap()).is_err());
        assert!(validate_price(&parse("-1").unwrap()).is_err());
        // Found by the conformance fuzzing: a tiny float read as 0.
        assert!(validate_price(&parse("2.7006491901399315e-300").unwrap()).is_err());
        assert!(validate_price(&parse("1e-29").unwrap()).is_err());
        assert!(validate_price(&parse("0.0").unwrap()).is_ok());
    }

    #[test]
    fn strings_are_refused() {
        assert!(parse("\"1.5\"").is_err());
    }

    #[test]
    fn amounts_are_written_as_numbers() {
        let json = |d: Decimal| {
            let mut out = Vec::new();
            serialize(&d, &mut serde_json::Serializer::new(&mut out)).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(json(Decimal::new(1050, 2)), "10.5");
        assert_eq!(json(Decimal::new(1000, 2)), "10");
        assert_eq!(json(Decimal::new(99_999_999, 2)), "999999.99");
    }
}
