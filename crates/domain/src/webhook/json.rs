//! Lenient readers over `serde_json::Value`.
//!
//! Meta's payloads vary between API versions and between Meta's own examples
//! and the SDK fixtures (a timestamp is a string in one and an integer in the
//! other; ids are strings or numbers). Reading each field through these
//! helpers means one odd field yields `None` instead of losing the whole item.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// The text of a string, or the decimal form of a number; `None` otherwise.
///
/// Ids such as `message_template_id` or `entry.id` come as either.
pub(crate) fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// [`text`] of `value[key]`, treating an empty string as absent.
pub(crate) fn text_at(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(text).filter(|s| !s.is_empty())
}

/// An integer from a JSON integer, an integral float, or a decimal string.
///
/// Unix timestamps arrive as `"1697043223"` from Meta and as `1697043223`
/// in some SDK fixtures.
pub(crate) fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| integral_float(n.as_f64()?)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn integral_float(f: f64) -> Option<i64> {
    // The range check makes the cast exact: the value is integral and fits.
    let fits = f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64;
    fits.then_some(f as i64)
}

/// [`int`] of `value[key]`.
pub(crate) fn int_at(value: &Value, key: &str) -> Option<i64> {
    value.get(key).and_then(int)
}

/// `true` only for a JSON `true` (or the string `"true"`) at `value[key]`.
pub(crate) fn flag_at(value: &Value, key: &str) -> bool {
    match value.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// `value[key]` when it is an object: the shape every type-specific part has.
pub(crate) fn object_at<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value.get(key).filter(|v| v.is_object())
}

/// The items of the array at `value[key]`; empty when absent or not an array.
pub(crate) fn items_at<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Serde adapter: a string or number as `Option<String>`, anything else `None`.
pub(crate) fn de_opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(text(&Value::deserialize(d)?))
}

/// Serde adapter: an integer or decimal string as `Option<i64>`.
pub(crate) fn de_opt_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(int(&Value::deserialize(d)?))
}

/// Serde adapter: a string, or `""` for anything else (`field` must never
/// make a change unreadable).
pub(crate) fn de_text_or_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(text(&Value::deserialize(d)?).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_accepts_strings_and_numbers_only() {
        assert_eq!(text(&json!("abc")), Some("abc".into()));
        assert_eq!(text(&json!(12345678)), Some("12345678".into()));
        assert_eq!(text(&json!(null)), None);
        assert_eq!(text(&json!({"a": 1})), None);
        assert_eq!(text_at(&json!({"k": ""}), "k"), None);
    }

    #[test]
    fn int_accepts_integers_integral_floats_and_strings() {
        assert_eq!(int(&json!(1697043223)), Some(1697043223));
        assert_eq!(int(&json!("1697043223")), Some(1697043223));
        assert_eq!(int(&json!(" 42 ")), Some(42));
        assert_eq!(int(&json!(3.0)), Some(3));
        assert_eq!(int(&json!(3.5)), None);
        assert_eq!(int(&json!(1e300)), None);
        assert_eq!(int(&json!("12a")), None);
        assert_eq!(int(&json!(true)), None);
    }

    #[test]
    fn flags_items_and_objects_tolerate_absence() {
        let v = json!({"t": true, "s": "TRUE", "n": 1, "a": [1, 2], "o": {}});
        assert!(flag_at(&v, "t"));
        assert!(flag_at(&v, "s"));
        assert!(!flag_at(&v, "n"));
        assert!(!flag_at(&v, "missing"));
        assert_eq!(items_at(&v, "a").len(), 2);
        assert!(items_at(&v, "o").is_empty());
        assert!(object_at(&v, "o").is_some());
        assert!(object_at(&v, "a").is_none());
    }
}
