//! State shared by the section builders while one configuration is assembled: the warnings
//! so far and which keys each section instance has already set.

use std::collections::BTreeMap;

use crate::error::{ConfigError, Location, Warning};
use crate::suggest::nearest;
use crate::syntax::{Item, Section};

/// The builders' scratch state.
#[derive(Debug, Default)]
pub(crate) struct Ctx {
    /// Warnings collected so far, in file order.
    pub warnings: Vec<Warning>,
    /// `scope.key` → the line that first set it.
    seen: BTreeMap<String, u32>,
}

impl Ctx {
    /// Records a warning.
    pub fn warn(&mut self, at: &Location, message: String) {
        self.warnings.push(Warning { at: at.clone(), message });
    }

    /// Notes that `item` was set in `scope` (a section instance, e.g. `nodelist.node.2`) and
    /// warns when the same key was set there before. The last value wins, as in corosync.
    pub fn note(&mut self, scope: &str, section: &str, item: &Item) {
        let full = format!("{scope}.{}", item.key);
        // Deviation from corosync: the value still wins as in corosync, but we say so.
        if let Some(first) = self.seen.get(&full).copied() {
            let message = format!(
                "key '{}' in section '{section}' is set again (first on line {first}); the last value wins",
                item.key
            );
            self.warn(&item.at, message);
        } else {
            self.seen.insert(full, item.at.line);
        }
    }
}

/// The error for a key that `section` does not know.
// Deviation from corosync: unknown keys in totem, quorum, nodelist, node, logging (and their
// subsections) are errors with a suggestion; corosync stores them silently as
// strings (`two_nodes: 1` passes `corosync -t`).
pub(crate) fn unknown_key(section: &'static str, item: &Item, known: &[&'static str]) -> ConfigError {
    ConfigError::UnknownKey {
        at: item.at.clone(),
        section,
        key: item.key.clone(),
        suggestion: nearest(&item.key, known),
    }
}

/// The error for a subsection that `parent` does not know.
// Deviation from corosync: likewise for unknown subsections of the sections above.
pub(crate) fn unknown_section(parent: &'static str, sub: &Section, known: &[&'static str]) -> ConfigError {
    ConfigError::UnknownSection {
        at: sub.at.clone(),
        section: parent,
        name: sub.name.clone(),
        suggestion: nearest(&sub.name, known),
    }
}

/// The error for a key quorumd does not implement.
pub(crate) fn unsupported(item: &Item, reason: impl Into<String>) -> ConfigError {
    ConfigError::Unsupported { at: item.value_at(), key: item.key.clone(), reason: reason.into() }
}
