//! The one error type of this crate, the warning type, and the source location both carry.
//!
//! Every message starts with `file:line` (or `file:line:column` where the column says more),
//! like a compiler's, so an operator can jump straight to the offending line.

use std::fmt;
use std::sync::Arc;

/// Where in which file something was found. Lines and columns count from 1.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// The file name as handed to the parser (e.g. `corosync.conf` or `uidgid.d/pacemaker`);
    /// shared by every location in the same file.
    pub file: Arc<str>,
    /// The line, from 1.
    pub line: u32,
    /// The column in characters, from 1, where it adds information.
    pub col: Option<u32>,
}

impl Location {
    /// A location without a column.
    pub fn new(file: &str, line: u32) -> Location {
        Location { file: Arc::from(file), line, col: None }
    }

    /// Another location in the same file (shares the name).
    pub fn at_line(&self, line: u32) -> Location {
        Location { file: Arc::clone(&self.file), line, col: None }
    }

    /// The same location with a column.
    pub fn with_col(mut self, col: u32) -> Location {
        self.col = Some(col);
        self
    }
}

/// `file:line` or `file:line:col`.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.col {
            Some(col) => write!(f, "{}:{}:{}", self.file, self.line, col),
            None => write!(f, "{}:{}", self.file, self.line),
        }
    }
}

/// Why a configuration was refused. Parsing is pure, so no state changed anywhere: the caller
/// keeps whatever configuration it had.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The bytes are not UTF-8 (the location is the line of the first bad byte).
    #[error("{at}: the file is not valid UTF-8")]
    NotUtf8 {
        /// Where.
        at: Location,
    },
    /// A line longer than 511 bytes (not counting the newline; corosync-behaviour §5.1).
    #[error("{at}: line too long ({len} bytes; at most 511 are allowed)")]
    LineTooLong {
        /// Where.
        at: Location,
        /// The line's length in bytes.
        len: usize,
    },
    /// `{` with nothing before it.
    #[error("{at}: missing section name before opening bracket '{{'")]
    MissingSectionName {
        /// Where.
        at: Location,
    },
    /// Something after `{` on the same line (e.g. a one-line section).
    #[error(
        "{at}: extra characters after opening bracket '{{' (a section's contents go on the following lines)"
    )]
    ExtraAfterOpen {
        /// Where; the column points at the first extra character.
        at: Location,
    },
    /// `: value` with nothing before the colon.
    #[error("{at}: missing key name before ':'")]
    MissingKeyName {
        /// Where.
        at: Location,
    },
    /// `}` that is not alone on its line.
    #[error("{at}: extra characters before or after closing bracket '}}'")]
    ExtraAroundClose {
        /// Where.
        at: Location,
    },
    /// `}` at top level.
    #[error("{at}: unexpected closing brace '}}' outside any section")]
    UnexpectedClose {
        /// Where.
        at: Location,
    },
    /// A line that is none of comment, section open, `key: value` or `}`.
    #[error("{at}: line is not opening or closing section or key value")]
    NotAStatement {
        /// Where.
        at: Location,
    },
    /// The file ended inside a section.
    #[error("{at}: missing closing brace: section '{section}' opened on this line is never closed")]
    MissingClose {
        /// The line that opened the unclosed section.
        at: Location,
        /// The section's dotted path.
        section: String,
    },
    /// A dotted key path of 255 characters or more (corosync's `ICMAP_KEYNAME_MAXLEN`).
    #[error("{at}: key path is too long ({len} characters; it must stay under 255)")]
    PathTooLong {
        /// Where.
        at: Location,
        /// The path's length.
        len: usize,
    },
    /// A key that the section does not know.
    #[error("{at}: unknown key '{key}' in section '{section}'{}", did_you_mean(.suggestion))]
    UnknownKey {
        /// Where.
        at: Location,
        /// The section's dotted path.
        section: &'static str,
        /// The key as written.
        key: String,
        /// The nearest known key, if one is close.
        suggestion: Option<&'static str>,
    },
    /// A subsection that the section does not know.
    #[error("{at}: unknown section '{name}' in section '{section}'{}", did_you_mean(.suggestion))]
    UnknownSection {
        /// Where.
        at: Location,
        /// The enclosing section's dotted path.
        section: &'static str,
        /// The subsection's name as written.
        name: String,
        /// The nearest known subsection, if one is close.
        suggestion: Option<&'static str>,
    },
    /// A value of the wrong type or out of range.
    #[error("{at}: invalid value '{value}' for key '{key}' in section '{section}': expected {expected}")]
    InvalidValue {
        /// Where (the column points at the value).
        at: Location,
        /// The section's dotted path.
        section: &'static str,
        /// The key.
        key: String,
        /// The value as written.
        value: String,
        /// What would have been accepted.
        expected: String,
    },
    /// A required key is absent.
    #[error("{at}: missing key '{key}' in section '{section}': {why}")]
    MissingKey {
        /// The section's opening line (or the end of the file if the section is absent).
        at: Location,
        /// The section's dotted path.
        section: &'static str,
        /// The key.
        key: &'static str,
        /// Why it is needed.
        why: &'static str,
    },
    /// A value that must be unique is used twice.
    #[error("{at}: duplicate {what} '{value}' (already used on line {first_line})")]
    Duplicate {
        /// The second use.
        at: Location,
        /// What kind of value (`nodeid`, `address`, `node name`, `linknumber`).
        what: &'static str,
        /// The value.
        value: String,
        /// The line of the first use.
        first_line: u32,
    },
    /// Keys that are each valid but do not fit together.
    #[error("{at}: {reason}")]
    Inconsistent {
        /// The key or section that cannot stand.
        at: Location,
        /// What does not fit.
        reason: String,
    },
}

impl ConfigError {
    /// Where the error was found.
    pub fn location(&self) -> &Location {
        match self {
            ConfigError::NotUtf8 { at }
            | ConfigError::LineTooLong { at, .. }
            | ConfigError::MissingSectionName { at }
            | ConfigError::ExtraAfterOpen { at }
            | ConfigError::MissingKeyName { at }
            | ConfigError::ExtraAroundClose { at }
            | ConfigError::UnexpectedClose { at }
            | ConfigError::NotAStatement { at }
            | ConfigError::MissingClose { at, .. }
            | ConfigError::PathTooLong { at, .. }
            | ConfigError::UnknownKey { at, .. }
            | ConfigError::UnknownSection { at, .. }
            | ConfigError::InvalidValue { at, .. }
            | ConfigError::MissingKey { at, .. }
            | ConfigError::Duplicate { at, .. }
            | ConfigError::Inconsistent { at, .. } => at,
        }
    }
}

fn did_you_mean(suggestion: &Option<&'static str>) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean '{s}'?)"),
        None => String::new(),
    }
}

/// Something accepted but probably not meant: an unknown top-level section, a key set twice,
/// a nodelist without a quorum provider. The daemon logs these at startup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// Where.
    pub at: Location,
    /// What, in one sentence.
    pub message: String,
}

/// `file:line: message`.
impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}
