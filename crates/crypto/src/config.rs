//! `totem.crypto_cipher` and `totem.crypto_hash` (corosync-behaviour §5.3), accepted with corosync's
//! spellings.
//!
//! Invariant: a [`CryptoConfig`] never holds a cipher without a hash (corosync refuses that
//! combination, so do we).
//!
//! Deviation from corosync: the named cipher and hash do not choose the algorithm. When crypto
//! is on (anything but none/none) every datagram is sealed with XChaCha20-Poly1305 under a key
//! derived by HKDF-SHA256 from the authkey and the cluster name (see [`crate::seal`]). The names
//! are accepted so that an existing corosync.conf loads unchanged, and reported in the start-up
//! log. A hash without a cipher ("authentication only" in corosync) is therefore encrypted as
//! well; no setting sends authenticated-but-readable datagrams.

use std::fmt;
use std::str::FromStr;

use crate::CryptoError;

/// A `crypto_cipher` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CryptoCipher {
    /// `none`: no encryption requested.
    None,
    /// `aes256`.
    Aes256,
    /// `aes192`.
    Aes192,
    /// `aes128`.
    Aes128,
}

impl CryptoCipher {
    /// Every value, in corosync's documentation order.
    pub const ALL: [CryptoCipher; 4] =
        [CryptoCipher::None, CryptoCipher::Aes256, CryptoCipher::Aes192, CryptoCipher::Aes128];

    /// The corosync spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CryptoCipher::None => "none",
            CryptoCipher::Aes256 => "aes256",
            CryptoCipher::Aes192 => "aes192",
            CryptoCipher::Aes128 => "aes128",
        }
    }
}

impl FromStr for CryptoCipher {
    type Err = CryptoError;

    /// Exact, case-sensitive match, as corosync's `strcmp`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CryptoCipher::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| CryptoError::UnknownCipher(s.into()))
    }
}

impl fmt::Display for CryptoCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `crypto_hash` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CryptoHash {
    /// `none`: no authentication requested.
    None,
    /// `md5`.
    Md5,
    /// `sha1`.
    Sha1,
    /// `sha256`.
    Sha256,
    /// `sha384`.
    Sha384,
    /// `sha512`.
    Sha512,
}

impl CryptoHash {
    /// Every value, in corosync's documentation order.
    pub const ALL: [CryptoHash; 6] = [
        CryptoHash::None,
        CryptoHash::Md5,
        CryptoHash::Sha1,
        CryptoHash::Sha256,
        CryptoHash::Sha384,
        CryptoHash::Sha512,
    ];

    /// The corosync spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CryptoHash::None => "none",
            CryptoHash::Md5 => "md5",
            CryptoHash::Sha1 => "sha1",
            CryptoHash::Sha256 => "sha256",
            CryptoHash::Sha384 => "sha384",
            CryptoHash::Sha512 => "sha512",
        }
    }
}

impl FromStr for CryptoHash {
    type Err = CryptoError;

    /// Exact, case-sensitive match, as corosync's `strcmp`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CryptoHash::ALL
            .into_iter()
            .find(|h| h.as_str() == s)
            .ok_or_else(|| CryptoError::UnknownHash(s.into()))
    }
}

impl fmt::Display for CryptoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A checked pair of `crypto_cipher` and `crypto_hash`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CryptoConfig {
    cipher: CryptoCipher,
    hash: CryptoHash,
}

impl CryptoConfig {
    /// No crypto: datagrams go in the clear (the caller logs a warning at start).
    pub const PLAINTEXT: CryptoConfig = CryptoConfig { cipher: CryptoCipher::None, hash: CryptoHash::None };

    /// What `secauth: on` means in corosync, and upstream main's default: aes256 + sha256.
    pub const SECAUTH: CryptoConfig = CryptoConfig { cipher: CryptoCipher::Aes256, hash: CryptoHash::Sha256 };

    /// Checks the pair: a cipher needs a hash; a hash alone is allowed.
    pub fn new(cipher: CryptoCipher, hash: CryptoHash) -> Result<CryptoConfig, CryptoError> {
        if cipher != CryptoCipher::None && hash == CryptoHash::None {
            return Err(CryptoError::CipherWithoutHash(cipher.as_str()));
        }
        Ok(CryptoConfig { cipher, hash })
    }

    /// Parses both values with corosync's spellings and checks the pair.
    pub fn parse(cipher: &str, hash: &str) -> Result<CryptoConfig, CryptoError> {
        CryptoConfig::new(cipher.parse()?, hash.parse()?)
    }

    /// The configured `crypto_cipher` (reported only; see the module docs).
    pub fn cipher(&self) -> CryptoCipher {
        self.cipher
    }

    /// The configured `crypto_hash` (reported only; see the module docs).
    pub fn hash(&self) -> CryptoHash {
        self.hash
    }

    /// True for none/none: datagrams are neither sealed nor checked.
    pub fn is_plaintext(&self) -> bool {
        self.cipher == CryptoCipher::None && self.hash == CryptoHash::None
    }
}

impl fmt::Display for CryptoConfig {
    /// One line for the start-up log, saying what is really used.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "crypto_cipher={} crypto_hash={}", self.cipher, self.hash)?;
        if self.is_plaintext() {
            f.write_str(": datagrams are NOT authenticated or encrypted")
        } else {
            f.write_str(
                ": datagrams sealed with XChaCha20-Poly1305, key from HKDF-SHA256(authkey, cluster_name)",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// corosync-behaviour §5.3: the spellings corosync accepts.
    #[test]
    fn corosync_spellings_parse_and_print_back() {
        for c in ["none", "aes256", "aes192", "aes128"] {
            assert_eq!(c.parse::<CryptoCipher>().unwrap().as_str(), c);
        }
        for h in ["none", "md5", "sha1", "sha256", "sha384", "sha512"] {
            assert_eq!(h.parse::<CryptoHash>().unwrap().to_string(), h);
        }
    }

    #[test]
    fn other_spellings_are_refused() {
        for c in ["AES256", "aes", "3des", "", " none", "chacha20"] {
            assert_eq!(c.parse::<CryptoCipher>(), Err(CryptoError::UnknownCipher(c.into())));
        }
        for h in ["SHA256", "sha224", "crc32", ""] {
            assert_eq!(h.parse::<CryptoHash>(), Err(CryptoError::UnknownHash(h.into())));
        }
    }

    /// corosync-behaviour §5.3: a cipher needs a hash; a hash without a cipher is allowed.
    #[test]
    fn every_combination_follows_corosync() {
        for c in CryptoCipher::ALL {
            for h in CryptoHash::ALL {
                let r = CryptoConfig::new(c, h);
                if c != CryptoCipher::None && h == CryptoHash::None {
                    assert_eq!(r, Err(CryptoError::CipherWithoutHash(c.as_str())));
                } else {
                    let cfg = r.unwrap();
                    assert_eq!((cfg.cipher(), cfg.hash()), (c, h));
                    assert_eq!(cfg.is_plaintext(), c == CryptoCipher::None && h == CryptoHash::None);
                }
            }
        }
    }

    #[test]
    fn parse_checks_the_pair_and_reports_it() {
        assert!(CryptoConfig::parse("none", "none").unwrap().is_plaintext());
        assert_eq!(CryptoConfig::parse("aes256", "sha256"), Ok(CryptoConfig::SECAUTH));
        assert_eq!(CryptoConfig::parse("aes128", "none"), Err(CryptoError::CipherWithoutHash("aes128")));
        assert!(CryptoConfig::parse("aes512", "sha256").is_err());
        let auth_only = CryptoConfig::parse("none", "sha1").unwrap();
        assert!(!auth_only.is_plaintext());
        assert!(auth_only.to_string().contains("crypto_hash=sha1"));
        assert!(CryptoConfig::PLAINTEXT.to_string().contains("NOT"));
    }
}
