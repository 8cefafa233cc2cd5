//! The daemon's per-source counts of dropped datagrams (its status document's
//! `dropped_datagrams`: datagrams that could not be opened or decoded, and datagrams from
//! addresses outside the nodelist), shown by `status` and passed through by `status --json`.
#![forbid(unsafe_code)]

use serde_json::Value;

/// `dropped_datagrams` of the daemon's status document, if it has one.
pub fn from_status(raw: &str) -> Option<Value> {
    let v: Value = serde_json::from_str(raw).ok()?;
    v.get("dropped_datagrams").filter(|d| d.is_array()).cloned()
}

/// The text section (empty when nothing was dropped).
pub fn render(drops: &Value) -> String {
    let rows: Vec<&Value> = drops.as_array().map(|a| a.iter().collect()).unwrap_or_default();
    if rows.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nDropped datagrams\n-----------------\n");
    out.push_str(&format!(
        "{:<40} {:>14} {:>10} {:>14}\n",
        "Source", "Undecryptable", "Malformed", "Not in nodelist"
    ));
    for r in rows {
        let n = |k: &str| r.get(k).and_then(Value::as_u64).unwrap_or(0);
        let source = r.get("source").and_then(Value::as_str).unwrap_or("?");
        out.push_str(&format!(
            "{:<40} {:>14} {:>10} {:>14}\n",
            source,
            n("undecryptable"),
            n("malformed"),
            n("stranger")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_each_source() {
        let raw = r#"{"dropped_datagrams":[{"source":"127.0.0.2","undecryptable":3,"malformed":5,"stranger":0},{"source":"other","undecryptable":0,"malformed":0,"stranger":9}]}"#;
        let d = from_status(raw).unwrap();
        let text = render(&d);
        assert!(text.contains("127.0.0.2"), "{text}");
        assert!(
            text.lines().any(|l| l.starts_with("127.0.0.2")
                && l.split_whitespace().collect::<Vec<_>>() == ["127.0.0.2", "3", "5", "0"]),
            "{text}"
        );
        assert!(
            text.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["other", "0", "0", "9"]),
            "{text}"
        );
        assert_eq!(from_status("{}"), None);
        assert_eq!(render(&serde_json::json!([])), "");
    }
}
