//! The session id (SPEC.md section 10.1): 16 random bytes that name one session from login to
//! logout, kept through renewals, changes and re-seals. Logout revokes it, so every copy of the
//! session's cookie is refused, whenever it was taken.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::Error;

/// The id of a session: 128 bits from the operating system's random number generator, drawn
/// when the session starts. It is inside the encrypted cookie, so only the service sees it; it
/// is not a credential (the cookie is), and it is what a revocation store records on logout.
///
/// Printed as 22 characters of unpadded base64url, as a [`TokenId`](crate::TokenId) is.
///
/// ```
/// use itsclassified::session::SessionId;
///
/// let id = SessionId::from_bytes([0xfb; 16]);
/// assert_eq!(id.to_string(), "-_v7-_v7-_v7-_v7-_v7-w");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId([u8; SessionId::LEN]);

impl SessionId {
    /// The length of a session id in bytes.
    pub const LEN: usize = 16;

    /// A fresh id from the OS random number generator; fails only when the OS cannot give
    /// randomness (the error of `dumps` in that case).
    pub(crate) fn generate() -> Result<SessionId, Error> {
        let mut bytes = [0u8; SessionId::LEN];
        getrandom::fill(&mut bytes).map_err(|_| Error::Rng)?;
        Ok(SessionId(bytes))
    }

    /// The id with these bytes (for test vectors, and for stores that read ids back).
    pub fn from_bytes(bytes: [u8; SessionId::LEN]) -> SessionId {
        SessionId(bytes)
    }

    /// The id's bytes.
    ///
    /// ```
    /// # use itsclassified::session::SessionId;
    /// assert_eq!(SessionId::from_bytes([1; 16]).as_bytes(), &[1; 16]);
    /// ```
    pub fn as_bytes(&self) -> &[u8; SessionId::LEN] {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 22];
        // 16 bytes are 22 characters of unpadded base64: the buffer fits exactly.
        let n = URL_SAFE_NO_PAD
            .encode_slice(self.0, &mut buf)
            .map_err(|_| fmt::Error)?;
        f.write_str(std::str::from_utf8(&buf[..n]).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_id_prints_as_22_base64url_characters() {
        assert_eq!(SessionId::from_bytes([0; 16]).to_string(), "A".repeat(22));
        assert_eq!(
            format!("{:?}", SessionId::from_bytes([0xfb; 16])),
            "SessionId(-_v7-_v7-_v7-_v7-_v7-w)"
        );
    }

    #[test]
    fn fresh_session_ids_differ() {
        let (a, b) = (
            SessionId::generate().unwrap(),
            SessionId::generate().unwrap(),
        );
        assert_ne!(a, b);
        assert_ne!(a.as_bytes(), &[0; 16]);
    }
}
