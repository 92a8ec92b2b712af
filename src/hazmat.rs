//! Deterministic sealing for test vectors and fuzzing. **Never use in an application.**
//!
//! Only compiled with the `hazmat` cargo feature. These functions take the nonce and the
//! issued-at from the caller, so that a token can be checked byte for byte against a test
//! vector, and a fuzzer can reach the payload decoder with authenticated plaintext of its
//! choosing. Sealing two different payloads under the same key with the same nonce destroys
//! the confidentiality and integrity of both: the public API draws a fresh random nonce for
//! every token and is the only one an application may use.

use serde::Serialize;

use crate::{Error, TimedSerializer};

/// The length of a token's nonce in bytes (XChaCha20-Poly1305's 24).
pub const NONCE_LEN: usize = crate::wire::NONCE_LEN;

/// Serializes `value` exactly as [`TimedSerializer::dumps`] does, sealed under the primary key
/// with the given `nonce` and `issued_at_unix` (seconds since the Unix epoch).
///
/// ```
/// use itsclassified::{hazmat, SecretKey, TimedSerializer};
///
/// let s = TimedSerializer::new(SecretKey::from_bytes(&[0; 32])?, "s");
/// let a = hazmat::seal_value_with_nonce(&s, &1u8, [0; hazmat::NONCE_LEN], 1_700_000_000)?;
/// let b = hazmat::seal_value_with_nonce(&s, &1u8, [0; hazmat::NONCE_LEN], 1_700_000_000)?;
/// assert_eq!(a, b);
/// # Ok::<(), itsclassified::Error>(())
/// ```
pub fn seal_value_with_nonce<T: Serialize + ?Sized>(
    serializer: &TimedSerializer,
    value: &T,
    nonce: [u8; NONCE_LEN],
    issued_at_unix: u64,
) -> Result<String, Error> {
    serializer.seal_value_with(value, &nonce, issued_at_unix)
}

/// Seals `plaintext` bytes as they are (no serialization) under the primary key with the given
/// `nonce` and `issued_at_unix`: a token whose payload may be any bytes at all.
///
/// ```
/// use itsclassified::{hazmat, Error, SecretKey, TimedSerializer};
///
/// let s = TimedSerializer::new(SecretKey::from_bytes(&[0; 32])?, "s").no_expiry();
/// let token = hazmat::seal_bytes_with_nonce(&s, &[0xc1], [0; hazmat::NONCE_LEN], 1_700_000_000)?;
/// assert!(matches!(s.loads::<u8>(&token), Err(Error::Payload)));
/// # Ok::<(), itsclassified::Error>(())
/// ```
pub fn seal_bytes_with_nonce(
    serializer: &TimedSerializer,
    plaintext: &[u8],
    nonce: [u8; NONCE_LEN],
    issued_at_unix: u64,
) -> Result<String, Error> {
    serializer.seal_bytes_with(plaintext, &nonce, issued_at_unix)
}
