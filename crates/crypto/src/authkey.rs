//! Authkey checks (corosync-behaviour §5.3): the length of the key material and the permissions of the file
//! that held it.
//!
//! The caller reads the file (or the inline `totem.key`) and its mode bits; this module only
//! judges them. A key that passes [`validate_authkey`] is usable by
//! [`crate::CryptoContext::new`].

use std::fmt;

use crate::CryptoError;

/// Shortest authkey accepted, in bytes (corosync's `TOTEM_PRIVATE_KEY_LEN_MIN`, equal to
/// libknet's `KNET_MIN_KEY_LEN`).
pub const AUTHKEY_LEN_MIN: usize = 128;

/// Longest authkey accepted, in bytes (corosync's `TOTEM_PRIVATE_KEY_LEN_MAX`, equal to
/// libknet's `KNET_MAX_KEY_LEN`).
pub const AUTHKEY_LEN_MAX: usize = 4096;

/// Length `corosync-keygen` writes by default, in bytes (2048 bits).
pub const AUTHKEY_LEN_DEFAULT: usize = 256;

/// Mode bits that let the group or others read or write the key.
const GROUP_OTHER_RW: u32 = 0o066;

const _: () = assert!(AUTHKEY_LEN_MIN <= AUTHKEY_LEN_DEFAULT && AUTHKEY_LEN_DEFAULT <= AUTHKEY_LEN_MAX);

/// Checks that `key` is 128..=4096 bytes of raw key material.
///
/// Any byte values are accepted: the key is raw material (corosync-keygen writes random
/// bytes), not text.
pub fn validate_authkey(key: &[u8]) -> Result<(), CryptoError> {
    if key.len() < AUTHKEY_LEN_MIN {
        return Err(CryptoError::AuthkeyTooShort { len: key.len() });
    }
    if key.len() > AUTHKEY_LEN_MAX {
        return Err(CryptoError::AuthkeyTooLong { len: key.len() });
    }
    Ok(())
}

/// The authkey file can be read or written by its group or by others.
///
/// Not an error (corosync does not refuse such a key either), but worth one warning at start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthkeyModeWarning {
    /// The permission bits of the file (`st_mode & 0o7777`).
    pub mode: u32,
}

impl fmt::Display for AuthkeyModeWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut who = Vec::with_capacity(4);
        for (bit, what) in [
            (0o040, "group-readable"),
            (0o020, "group-writable"),
            (0o004, "world-readable"),
            (0o002, "world-writable"),
        ] {
            if self.mode & bit != 0 {
                who.push(what);
            }
        }
        write!(
            f,
            "authkey file mode is {:04o} ({}); it should be 0400 as corosync-keygen writes it (chmod 0400)",
            self.mode,
            who.join(", ")
        )
    }
}

/// Returns a warning when the key file's `mode` (as from `stat`, any file-type bits are
/// ignored) lets the group or others read or write it.
pub fn authkey_mode_warning(mode: u32) -> Option<AuthkeyModeWarning> {
    let perms = mode & 0o7777;
    (perms & GROUP_OTHER_RW != 0).then_some(AuthkeyModeWarning { mode: perms })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// corosync-behaviour §5.3: corosync accepts 128..=4096 bytes.
    #[test]
    fn key_length_limits_are_128_and_4096() {
        assert_eq!(validate_authkey(&[0u8; 127]), Err(CryptoError::AuthkeyTooShort { len: 127 }));
        assert_eq!(validate_authkey(&[]), Err(CryptoError::AuthkeyTooShort { len: 0 }));
        assert_eq!(validate_authkey(&[0u8; 128]), Ok(()));
        assert_eq!(validate_authkey(&[0xffu8; 256]), Ok(()));
        assert_eq!(validate_authkey(&[7u8; 4096]), Ok(()));
        assert_eq!(validate_authkey(&[0u8; 4097]), Err(CryptoError::AuthkeyTooLong { len: 4097 }));
    }

    #[test]
    fn key_length_messages_name_the_limits() {
        let short = validate_authkey(&[0u8; 100]).unwrap_err().to_string();
        assert!(short.contains("100 bytes") && short.contains("128"), "{short}");
        let long = validate_authkey(&[0u8; 5000]).unwrap_err().to_string();
        assert!(long.contains("5000 bytes") && long.contains("4096"), "{long}");
    }

    /// corosync-keygen writes the key with mode 0400.
    #[test]
    fn owner_only_modes_give_no_warning() {
        for mode in [0o400, 0o600, 0o700, 0o100_400, 0o100_600, 0o411, 0o4600] {
            assert_eq!(authkey_mode_warning(mode), None, "{mode:o}");
        }
    }

    #[test]
    fn group_or_other_access_warns() {
        for mode in [0o440, 0o420, 0o404, 0o402, 0o644, 0o666, 0o100_640, 0o777] {
            let w = authkey_mode_warning(mode);
            assert!(w.is_some(), "{mode:o}");
        }
        let w = authkey_mode_warning(0o100_644).unwrap();
        assert_eq!(w.mode, 0o644);
        let text = w.to_string();
        assert!(text.contains("0644") && text.contains("group-readable") && text.contains("world-readable"));
        assert!(text.contains("0400"), "{text}");
    }
}
