//! Typed readings of `key: value` items. Each reader either returns the typed value or an
//! [`ConfigError::InvalidValue`] pointing at the value's column.
//!
//! Integers are plain decimal digits only: no sign, no `0x`, no spaces (corosync's `strtol`
//! also takes a sign; a negative value is out of range for every key here anyway).

use crate::error::ConfigError;
use crate::syntax::Item;

/// The error for `item` in `section`, expecting `expected`.
pub(crate) fn invalid(item: &Item, section: &'static str, expected: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        at: item.value_at(),
        section,
        key: item.key.clone(),
        value: item.value.clone(),
        expected: expected.into(),
    }
}

fn digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Only overflow can fail now.
    text.parse::<u64>().ok()
}

/// A decimal integer in `min..=max`.
// Deviation from corosync: every key has a type here and a bad value is an error; corosync
// types only some keys and keeps the rest as strings that later readers may ignore or
// default. We also refuse a leading `+` (which `strtol` takes).
pub(crate) fn uint(item: &Item, section: &'static str, min: u64, max: u64) -> Result<u64, ConfigError> {
    match digits(&item.value) {
        Some(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(invalid(item, section, format!("an integer in {min}..={max}"))),
    }
}

/// A `u32`.
pub(crate) fn u32_value(item: &Item, section: &'static str) -> Result<u32, ConfigError> {
    let v = uint(item, section, 0, u64::from(u32::MAX))?;
    u32::try_from(v).map_err(|_| invalid(item, section, "an integer in 0..=4294967295"))
}

/// A `u64`.
pub(crate) fn u64_value(item: &Item, section: &'static str) -> Result<u64, ConfigError> {
    uint(item, section, 0, u64::MAX)
}

/// A `u8` in `min..=max`.
pub(crate) fn u8_value(item: &Item, section: &'static str, min: u8, max: u8) -> Result<u8, ConfigError> {
    let v = uint(item, section, u64::from(min), u64::from(max))?;
    u8::try_from(v).map_err(|_| invalid(item, section, format!("an integer in {min}..={max}")))
}

/// A corosync `u8` flag: exactly `0` or `1` (corosync-behaviour §3.1: `two_node: yes` is an error).
pub(crate) fn flag01(item: &Item, section: &'static str) -> Result<bool, ConfigError> {
    match item.value.as_str() {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(invalid(item, section, "0 or 1")),
    }
}

/// A yes/no switch. Corosync takes `yes|no` for some keys and `on|off` for others.
// Deviation from corosync: every yes/no switch accepts both spellings (corosync-behaviour §8.H asks for
// one consistent boolean syntax); corosync rejects `to_syslog: on` and `fileline: yes`.
pub(crate) fn yes_no(item: &Item, section: &'static str) -> Result<bool, ConfigError> {
    match item.value.as_str() {
        "yes" | "on" => Ok(true),
        "no" | "off" => Ok(false),
        _ => Err(invalid(item, section, "yes or no (or on/off)")),
    }
}

/// One of a fixed set of words, mapped to a value.
pub(crate) fn one_of<T: Copy>(
    item: &Item,
    section: &'static str,
    table: &[(&str, T)],
) -> Result<T, ConfigError> {
    if let Some((_, v)) = table.iter().find(|(name, _)| *name == item.value) {
        return Ok(*v);
    }
    let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
    Err(invalid(item, section, format!("one of: {}", names.join(", "))))
}

/// Any non-empty text.
pub(crate) fn non_empty(item: &Item, section: &'static str) -> Result<String, ConfigError> {
    if item.value.is_empty() {
        return Err(invalid(item, section, "a non-empty value"));
    }
    Ok(item.value.clone())
}
