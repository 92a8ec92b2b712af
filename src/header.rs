//! The clear-text token header (version, key id, issued-at) and reading it without a key.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::key::KeyId;
use crate::seal::{decode_token, MAX_TOKEN_LEN_LIMIT};
use crate::Error;

/// The version byte of the v1 wire format.
pub(crate) const VERSION_V1: u8 = 0x01;
/// Version, key id and issued-at: the associated data of the AEAD.
pub(crate) const HEADER_LEN: usize = 1 + 4 + 8;
/// XChaCha20-Poly1305 nonce length.
pub(crate) const NONCE_LEN: usize = 24;
/// Everything before the ciphertext.
pub(crate) const PREFIX_LEN: usize = HEADER_LEN + NONCE_LEN;
/// Poly1305 tag length.
pub(crate) const TAG_LEN: usize = 16;
/// The shortest raw token: header, nonce and tag around an empty ciphertext.
pub(crate) const MIN_RAW_LEN: usize = PREFIX_LEN + TAG_LEN;

/// The fields of a token header, as bytes 0..13 of the raw token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) key_id: KeyId,
    pub(crate) issued_at: u64,
}

impl Header {
    pub(crate) fn to_bytes(self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0] = VERSION_V1;
        out[1..5].copy_from_slice(&self.key_id.get().to_be_bytes());
        out[5..13].copy_from_slice(&self.issued_at.to_be_bytes());
        out
    }

    /// Reads the header of a raw token that has not been authenticated yet: checks the length
    /// and the version, nothing else.
    pub(crate) fn parse_untrusted(raw: &[u8]) -> Result<Header, Error> {
        if raw.len() < MIN_RAW_LEN {
            return Err(Error::Malformed);
        }
        if raw[0] != VERSION_V1 {
            return Err(Error::UnsupportedVersion);
        }
        let mut key_id = [0u8; 4];
        key_id.copy_from_slice(&raw[1..5]);
        let mut issued_at = [0u8; 8];
        issued_at.copy_from_slice(&raw[5..13]);
        Ok(Header {
            key_id: KeyId::new(u32::from_be_bytes(key_id)),
            issued_at: u64::from_be_bytes(issued_at),
        })
    }
}

/// Seconds since the Unix epoch as a `SystemTime`, or `None` where the platform cannot
/// represent it.
pub(crate) fn unix_to_system_time(secs: u64) -> Option<SystemTime> {
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// Whole seconds since the Unix epoch; times before it are out of range.
pub(crate) fn system_time_to_unix(t: SystemTime) -> Result<u64, Error> {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| Error::TimeOutOfRange)
}

/// The clear-text header of a token, read **without a key and without verifying anything**.
///
/// Anyone can write any value into these fields: use them to debug ("which key made this
/// token?", "when does it say it was issued?"), never to decide anything. Only
/// [`TimedSerializer::loads_with_meta`](crate::TimedSerializer::loads_with_meta) gives verified
/// metadata.
///
/// ```
/// use itsclassified::{untrusted_header, SecretKey, TimedSerializer};
///
/// let key = SecretKey::generate();
/// let key_id = key.key_id();
/// let token = TimedSerializer::new(key, "session").dumps("hello")?;
/// let header = untrusted_header(&token)?;
/// assert_eq!(header.untrusted_key_id(), key_id);
/// assert_eq!(header.untrusted_version(), 1);
/// # Ok::<(), itsclassified::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UntrustedHeader {
    version: u8,
    key_id: KeyId,
    issued_at: u64,
}

impl UntrustedHeader {
    /// The version byte (1 for every token this release makes).
    pub fn untrusted_version(&self) -> u8 {
        self.version
    }

    /// The key id the token claims to be made under.
    pub fn untrusted_key_id(&self) -> KeyId {
        self.key_id
    }

    /// The issued-at the token claims, in seconds since the Unix epoch.
    pub fn untrusted_issued_at_unix(&self) -> u64 {
        self.issued_at
    }

    /// The issued-at the token claims, or `None` if the platform cannot represent it.
    pub fn untrusted_issued_at(&self) -> Option<SystemTime> {
        unix_to_system_time(self.issued_at)
    }
}

/// Reads a token's header without a key: see [`UntrustedHeader`].
///
/// The token must be canonical base64url of at most 64 KiB and long enough to be a token; the
/// version must be one this crate reads. Nothing is authenticated.
///
/// ```
/// assert!(itsclassified::untrusted_header("garbage!").is_err());
/// ```
pub fn untrusted_header(token: &str) -> Result<UntrustedHeader, Error> {
    let raw = decode_token(token, MAX_TOKEN_LEN_LIMIT)?;
    let header = Header::parse_untrusted(&raw)?;
    Ok(UntrustedHeader {
        version: raw[0],
        key_id: header.key_id,
        issued_at: header.issued_at,
    })
}
