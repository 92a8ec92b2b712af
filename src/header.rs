//! The clear-text token header (version, key id, issued-at) and reading it without a key.

use std::time::SystemTime;

use crate::key::KeyId;
use crate::wire::{decode_token, unix_to_system_time, Header, MAX_TOKEN_LEN_LIMIT};
use crate::Error;

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
    let untrusted_raw = decode_token(token, MAX_TOKEN_LEN_LIMIT)?;
    let header = Header::parse_untrusted(&untrusted_raw)?;
    Ok(UntrustedHeader {
        version: untrusted_raw[0],
        key_id: header.key_id,
        issued_at: header.issued_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::encode_token;
    use crate::{SecretKey, TimedSerializer};

    #[test]
    fn header_fields_are_the_tokens() {
        let key = SecretKey::from_bytes(&[0; 32]).unwrap();
        let token = TimedSerializer::new(key, "salt").dumps(&1u8).unwrap();
        let header = untrusted_header(&token).unwrap();
        // Version 1 is the only one this release reads (`untrusted_version` returning a
        // constant 1 is therefore equivalent: see .cargo/mutants.toml).
        assert_eq!(header.untrusted_version(), 1);
        assert_eq!(header.untrusted_key_id().to_string(), "b214fafa");
        let mut other = decode_token(&token, MAX_TOKEN_LEN_LIMIT).unwrap();
        other[0] = 2;
        assert!(untrusted_header(&encode_token(&other)).is_err());
    }
}
