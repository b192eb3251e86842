//! Input rules shared by several schemas, and the bridge from `validator`'s
//! errors to the `errors[]` list of a 422 (docs/conventions.md#errors).

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};
use validator::{Validate, ValidationError, ValidationErrors, ValidationErrorsKind};

use crate::{FieldError, ServiceError};

/// Runs `validator` rules and, when any break, returns them all as one 422.
///
/// # Errors
/// [`ServiceError::Validation`] listing every broken rule.
pub fn validate(input: &impl Validate) -> Result<(), ServiceError> {
    input
        .validate()
        .map_err(|e| ServiceError::Validation(field_errors(&e)))
}

/// Flattens `validator`'s nested errors into dotted field paths.
pub fn field_errors(errors: &ValidationErrors) -> Vec<FieldError> {
    let mut out = Vec::new();
    collect(errors, "", &mut out);
    out.sort_by(|a, b| a.field.cmp(&b.field));
    out
}

fn collect(errors: &ValidationErrors, prefix: &str, out: &mut Vec<FieldError>) {
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => out.extend(list.iter().map(|e| {
                let message = e
                    .message
                    .clone()
                    .unwrap_or_else(|| Cow::Owned(format!("breaks the {} rule", e.code)));
                FieldError::new(path.clone(), e.code.clone(), message)
            })),
            ValidationErrorsKind::Struct(inner) => collect(inner, &path, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    collect(inner, &format!("{path}.{index}"), out);
                }
            }
        }
    }
}

/// `deserialize_with` for `Option<Option<T>>` PATCH fields: absent stays
/// `None` (with `#[serde(default)]`), `null` becomes `Some(None)`, a value
/// `Some(Some(v))`. The standard serde idiom for telling the two apart.
pub fn double_option<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// A JSON integer read leniently: `1970` and `1970.0` are the same number
/// (JSON Schema's `integer` admits both); `1970.5` or a string is refused.
struct IntegerVisitor;

impl serde::de::Visitor<'_> for IntegerVisitor {
    type Value = i32;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an integer")
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i32, E> {
        i32::try_from(v).map_err(|_| E::custom("integer out of range"))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i32, E> {
        i32::try_from(v).map_err(|_| E::custom("integer out of range"))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<i32, E> {
        if v.fract() == 0.0 && v >= f64::from(i32::MIN) && v <= f64::from(i32::MAX) {
            Ok(v as i32)
        } else {
            Err(E::custom(format!(
                "invalid type: number {v}, expected an integer"
            )))
        }
    }
}

/// `deserialize_with` for an `i32` that also accepts integral JSON floats.
pub fn integer<'de, D: Deserializer<'de>>(de: D) -> Result<i32, D::Error> {
    de.deserialize_any(IntegerVisitor)
}

/// [`integer`] for a PATCH field: absent (with `#[serde(default)]`), `null`
/// (`Some(None)`) or an integer.
pub fn integer_patch<'de, D: Deserializer<'de>>(de: D) -> Result<Option<Option<i32>>, D::Error> {
    struct Wrap(i32);
    impl<'de> Deserialize<'de> for Wrap {
        fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
            integer(de).map(Wrap)
        }
    }
    Option::<Wrap>::deserialize(de).map(|v| Some(v.map(|w| w.0)))
}

fn rule(code: &'static str, message: &'static str) -> ValidationError {
    ValidationError::new(code).with_message(Cow::Borrowed(message))
}

/// Usernames: 3–50 ASCII letters, digits and `_` (docs/accounts.md#register).
pub fn username(value: &str) -> Result<(), ValidationError> {
    if !(3..=50).contains(&value.len()) {
        return Err(rule("length", "must be 3 to 50 characters"));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(rule("regex", "may hold only ASCII letters, digits and _"));
    }
    Ok(())
}

/// Passwords: 8–72 bytes of UTF-8 (bcrypt reads only 72: longer is refused,
/// never truncated), with at least one ASCII digit and one ASCII uppercase
/// letter (the documented [`PASSWORD_PATTERN`]).
pub fn password(value: &str) -> Result<(), ValidationError> {
    if !(8..=72).contains(&value.len()) {
        return Err(rule("length", "must be 8 to 72 bytes long"));
    }
    if !value.bytes().any(|b| b.is_ascii_digit()) || !value.bytes().any(|b| b.is_ascii_uppercase())
    {
        return Err(rule(
            "password_strength",
            "must contain at least one digit and one uppercase letter",
        ));
    }
    Ok(())
}

/// The password rule as a JSON Schema pattern (ECMA-262): a digit and an
/// uppercase letter somewhere, no NUL. The byte-length bound (8–72 bytes)
/// has no JSON Schema form; `minLength`/`maxLength` count characters.
/// `#[schema(pattern = ...)]` takes only a literal, so `UserCreate` and
/// `MeUpdate` repeat it; a test checks the document against this constant.
pub const PASSWORD_PATTERN: &str = r"^(?=[^\u0000]*[0-9])(?=[^\u0000]*[A-Z])[^\u0000]*$";

/// Slugs: lowercase ASCII letters and digits in runs joined by single hyphens,
/// 1–200 characters (docs/blog.md#slugs).
pub fn slug(value: &str) -> Result<(), ValidationError> {
    if value.is_empty() || value.len() > 200 {
        return Err(rule("length", "must be 1 to 200 characters"));
    }
    let ok = value.split('-').all(|run| {
        !run.is_empty()
            && run
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    });
    if ok {
        Ok(())
    } else {
        Err(rule(
            "regex",
            "may hold only lowercase ASCII letters, digits and single hyphens between them",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_bounds_are_bytes() {
        assert!(password(&format!("A1{}", "x".repeat(70))).is_ok());
        assert!(password(&format!("A1{}", "x".repeat(71))).is_err());
        assert!(password("Short1A").is_err());
        assert!(password("nouppercase1").is_err());
    }

    #[test]
    fn slug_rules() {
        assert!(slug("hello-world-2").is_ok());
        for bad in ["", "Hello", "a--b", "-a", "a-", "a b"] {
            assert!(slug(bad).is_err(), "{bad}");
        }
    }
}
