//! The line grammar of corosync.conf (corosync-behaviour §5.1, corosync's `exec/coroparse.c`): text in, a
//! tree of sections and `key: value` items out. Knows nothing about what the keys mean.
//!
//! Rules, in the order they are applied to each line:
//! - a line is at most [`LINE_MAX`] bytes, not counting its `\n` (a `\r` before it counts);
//! - one trailing `\r` is removed, then trailing spaces, tabs and no-break spaces;
//! - a line that is then empty, or whose first non-blank character is `#`, is ignored (only
//!   whole-line comments exist: a later `#` is part of the value);
//! - a line containing `{` opens a section named by the text before it (trimmed, trailing `:`
//!   dropped); the name must not be empty and nothing may follow the `{`;
//! - otherwise a line containing `:` is `key: value`, split at the first colon, both trimmed;
//!   the key must not be empty, the value may be empty and may hold more colons and spaces;
//! - otherwise a line containing `}` closes the current section and must be exactly `}`;
//! - anything else is an error, as is a `}` at top level or a section still open at the end;
//! - the dotted path of a section or key (`totem.interface.mcastport`) must stay under
//!   [`PATH_MAX`] characters.
//!
//! Invariant: the tree depth is bounded by the path limit (each level adds at least two
//! characters), and the parser itself never recurses, so no input can exhaust the stack.

use crate::error::{ConfigError, Location};

/// The longest line corosync reads, in bytes, without its newline (a 512-byte `fgets` buffer).
pub const LINE_MAX: usize = 511;

/// Dotted key paths must be shorter than this (corosync's `ICMAP_KEYNAME_MAXLEN`).
pub const PATH_MAX: usize = 255;

/// A `key: value` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Item {
    /// The key, trimmed.
    pub key: String,
    /// The value, trimmed; may be empty.
    pub value: String,
    /// The line (no column: the key is the whole point of the line).
    pub at: Location,
    /// The column of the value's first character (or the end of the line if it is empty).
    pub value_col: u32,
}

impl Item {
    /// The location of the value, for errors about it.
    pub fn value_at(&self) -> Location {
        self.at.clone().with_col(self.value_col)
    }
}

/// One entry of a section, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    /// `key: value`.
    Item(Item),
    /// `name { … }`.
    Section(Section),
}

/// A section `name { … }`; the root of the tree is an unnamed section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Section {
    /// The name, trimmed, without a trailing `:`.
    pub name: String,
    /// The dotted path from the root (`nodelist.node`).
    pub path: String,
    /// The line that opened it (line 1 for the root).
    pub at: Location,
    /// Items and subsections, in file order.
    pub entries: Vec<Entry>,
}

impl Section {
    /// The `key: value` items directly inside this section.
    pub fn items(&self) -> impl Iterator<Item = &Item> {
        self.entries.iter().filter_map(|e| match e {
            Entry::Item(i) => Some(i),
            Entry::Section(_) => None,
        })
    }

    /// The subsections directly inside this section.
    pub fn sections(&self) -> impl Iterator<Item = &Section> {
        self.entries.iter().filter_map(|e| match e {
            Entry::Section(s) => Some(s),
            Entry::Item(_) => None,
        })
    }
}

/// What one line is.
#[derive(Debug, PartialEq, Eq)]
enum Statement<'a> {
    Blank,
    Open(&'a str),
    KeyValue { key: &'a str, value: &'a str, value_col: u32 },
    Close,
}

/// Parses one file into its tree. `file` is only used in locations.
pub(crate) fn parse(text: &str, file: &str) -> Result<Section, ConfigError> {
    let root_at = Location::new(file, 1);
    let mut stack =
        vec![Section { name: String::new(), path: String::new(), at: root_at.clone(), entries: vec![] }];
    for (index, raw) in text.split('\n').enumerate() {
        let line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let at = root_at.at_line(line_no);
        if raw.len() > LINE_MAX {
            return Err(ConfigError::LineTooLong { at: at.with_col(column(raw, LINE_MAX)), len: raw.len() });
        }
        match classify(raw, &at)? {
            Statement::Blank => {}
            Statement::Open(name) => open_section(&mut stack, name, at)?,
            Statement::KeyValue { key, value, value_col } => {
                let parent = stack.last_mut().ok_or_else(|| not_a_statement(&at))?;
                check_path(&parent.path, key, &at)?;
                parent.entries.push(Entry::Item(Item {
                    key: key.to_string(),
                    value: value.to_string(),
                    at,
                    value_col,
                }));
            }
            Statement::Close => close_section(&mut stack, at)?,
        }
    }
    match stack.len() {
        1 => stack.pop().ok_or_else(|| not_a_statement(&Location::new(file, 1))),
        _ => {
            let open = stack.pop().ok_or_else(|| not_a_statement(&Location::new(file, 1)))?;
            Err(ConfigError::MissingClose { at: open.at, section: open.path })
        }
    }
}

fn not_a_statement(at: &Location) -> ConfigError {
    ConfigError::NotAStatement { at: at.clone() }
}

fn open_section(stack: &mut Vec<Section>, name: &str, at: Location) -> Result<(), ConfigError> {
    let parent_path = stack.last().map(|s| s.path.as_str()).unwrap_or("");
    check_path(parent_path, name, &at)?;
    let path = join_path(parent_path, name);
    stack.push(Section { name: name.to_string(), path, at, entries: vec![] });
    Ok(())
}

fn close_section(stack: &mut Vec<Section>, at: Location) -> Result<(), ConfigError> {
    if stack.len() <= 1 {
        return Err(ConfigError::UnexpectedClose { at });
    }
    let done = stack.pop().ok_or_else(|| not_a_statement(&at))?;
    let parent = stack.last_mut().ok_or_else(|| not_a_statement(&at))?;
    parent.entries.push(Entry::Section(done));
    Ok(())
}

/// `parent.name`, or `name` at the root.
pub(crate) fn join_path(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

fn check_path(parent: &str, name: &str, at: &Location) -> Result<(), ConfigError> {
    let len = if parent.is_empty() { name.len() } else { parent.len() + 1 + name.len() };
    if len >= PATH_MAX {
        return Err(ConfigError::PathTooLong { at: at.clone(), len });
    }
    Ok(())
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// The 1-based character column of byte offset `byte` in `line`.
fn column(line: &str, byte: usize) -> u32 {
    let prefix = line.get(..byte).unwrap_or(line);
    u32::try_from(prefix.chars().count() + 1).unwrap_or(u32::MAX)
}

/// Classifies one raw line (without its `\n`) per corosync-behaviour §5.1.
fn classify<'a>(raw: &'a str, at: &Location) -> Result<Statement<'a>, ConfigError> {
    let line = raw.strip_suffix('\r').unwrap_or(raw);
    // Deviation from corosync: corosync trims trailing 0xA0 *bytes*, which in UTF-8 text would
    // cut the last byte off characters such as 'à' (C3 A0); we trim the no-break space
    // character U+00A0 instead, which is what that rule is for.
    let line = line.trim_end_matches([' ', '\t', '\u{a0}']);
    let content = line.trim_start_matches(is_blank);
    if content.is_empty() || content.starts_with('#') {
        return Ok(Statement::Blank);
    }
    if let Some(brace) = line.find('{') {
        return classify_open(line, brace, at);
    }
    if let Some(colon) = line.find(':') {
        let key = line[..colon].trim_matches(is_blank);
        if key.is_empty() {
            return Err(ConfigError::MissingKeyName { at: at.clone().with_col(column(line, colon)) });
        }
        let rest = &line[colon + 1..];
        let value = rest.trim_matches(is_blank);
        let value_col = column(line, line.len() - rest.trim_start_matches(is_blank).len());
        return Ok(Statement::KeyValue { key, value, value_col });
    }
    if line.contains('}') {
        if content != "}" {
            return Err(ConfigError::ExtraAroundClose { at: at.clone() });
        }
        return Ok(Statement::Close);
    }
    Err(ConfigError::NotAStatement { at: at.clone() })
}

fn classify_open<'a>(line: &'a str, brace: usize, at: &Location) -> Result<Statement<'a>, ConfigError> {
    let name = line[..brace].trim_matches(is_blank).trim_end_matches(|c: char| c == ':' || is_blank(c));
    if name.is_empty() {
        return Err(ConfigError::MissingSectionName { at: at.clone().with_col(column(line, brace)) });
    }
    let after = line[brace + 1..].trim_start_matches(is_blank);
    if !after.is_empty() {
        let col = column(line, line.len() - after.len());
        return Err(ConfigError::ExtraAfterOpen { at: at.clone().with_col(col) });
    }
    Ok(Statement::Open(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Location {
        Location::new("f", 1)
    }

    #[test]
    fn classify_orders_brace_before_colon_before_close() {
        // corosync-behaviour §5.1: `{` wins over `:`, `:` wins over `}`.
        assert_eq!(classify("totem: {", &at()), Ok(Statement::Open("totem")));
        assert!(matches!(classify("a: b}", &at()), Ok(Statement::KeyValue { key: "a", value: "b}", .. })));
        assert!(matches!(classify("a: {b", &at()), Err(ConfigError::ExtraAfterOpen { .. })));
        assert_eq!(classify("  }  ", &at()), Ok(Statement::Close));
    }

    #[test]
    fn columns_are_in_characters() {
        assert_eq!(column("ééx", 4), 3);
        assert_eq!(column("abc", 0), 1);
    }
}
