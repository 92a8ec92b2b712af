//! The v1 wire format, as SPEC.md describes it: the raw token layout, the header, the length
//! limits and their arithmetic, and the canonical base64url text form.
//!
//! This is a leaf: it knows nothing of keys beyond the key id, of serde or of time policy. Every
//! other module that touches token bytes takes its sizes and its decoding from here, so the
//! format has one owner.
//!
//! ```text
//! offset  size  field
//!      0     1  version      0x01
//!      1     4  key id       u32, big-endian           } header = AAD
//!      5     8  issued-at    u64, big-endian, seconds  }
//!     13    24  nonce        random per token
//!     37     n  ciphertext   of the n-byte MessagePack plaintext
//!   37+n    16  tag          Poly1305
//! ```

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::key::KeyId;
use crate::Error;

/// The version byte of the v1 wire format.
pub(crate) const VERSION_V1: u8 = 0x01;
/// Version, key id and issued-at: the associated data of the AEAD.
pub(crate) const HEADER_LEN: usize = 1 + 4 + 8;
/// XChaCha20-Poly1305 nonce length (the AEAD's own constant).
pub(crate) const NONCE_LEN: usize = crate::aead::NONCE_LEN;
/// Everything before the ciphertext.
pub(crate) const PREFIX_LEN: usize = HEADER_LEN + NONCE_LEN;
/// Poly1305 tag length (the AEAD's own constant).
pub(crate) const TAG_LEN: usize = crate::aead::TAG_LEN;
/// The shortest raw token: header, nonce and tag around an empty ciphertext.
pub(crate) const MIN_RAW_LEN: usize = PREFIX_LEN + TAG_LEN;

// The layout follows the AEAD's sizes (src/aead.rs ties them to chacha20poly1305's); SPEC.md
// fixes the result.
const _: () = assert!(NONCE_LEN == 24 && TAG_LEN == 16, "SPEC.md section 2");
const _: () = assert!(
    MIN_RAW_LEN == 53,
    "SPEC.md section 2: the shortest raw token"
);
const _: () = assert!(
    MAX_TOKEN_LEN_LIMIT <= crate::aead::MAX_MESSAGE_LEN,
    "the AEAD seals every token the limit allows"
);

/// The default maximum token length, in bytes of the token string.
pub(crate) const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;
/// No serializer accepts or makes a token string longer than this.
pub(crate) const MAX_TOKEN_LEN_LIMIT: usize = 64 * 1024;

/// Length of the unpadded base64 text of `raw_len` bytes: `ceil(4 * raw_len / 3)`.
pub(crate) const fn encoded_len(raw_len: usize) -> usize {
    raw_len / 3 * 4 + [0, 2, 3][raw_len % 3]
}

/// The largest raw token whose text fits in `max_len` characters (the inverse of
/// [`encoded_len`]: see the unit test).
pub(crate) const fn max_raw_len(max_len: usize) -> usize {
    max_len / 4 * 3 + [0, 0, 1, 2][max_len % 4]
}

/// Decodes a token string: refuses it if longer than `max_len` bytes before looking at them,
/// then accepts only canonical unpadded base64url (no `=`, `+`, `/`, whitespace or non-zero
/// trailing bits), so that every raw token has exactly one text form.
///
/// The buffer is sized once from the text's length. The token is public (whoever holds it can
/// decode it), so its bytes are not wiped here; the plaintext that decrypting them in place
/// yields is (`seal::Opened`).
pub(crate) fn decode_token(token: &str, max_len: usize) -> Result<Vec<u8>, Error> {
    if token.len() > max_len {
        return Err(Error::TooLong {
            len: token.len(),
            max: max_len,
        });
    }
    let mut raw = vec![0u8; base64::decoded_len_estimate(token.len())];
    let len = URL_SAFE_NO_PAD
        .decode_slice(token, &mut raw)
        .map_err(|_| Error::Malformed)?;
    raw.truncate(len);
    Ok(raw)
}

/// The text form of a raw token.
pub(crate) fn encode_token(raw: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(raw)
}

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
    /// and the version, nothing else. A token too short to hold a header, nonce and tag is
    /// malformed whatever its first byte says (SPEC.md, order of checks).
    pub(crate) fn parse_untrusted(untrusted_raw: &[u8]) -> Result<Header, Error> {
        if untrusted_raw.len() < MIN_RAW_LEN {
            return Err(Error::Malformed);
        }
        if untrusted_raw[0] != VERSION_V1 {
            return Err(Error::UnsupportedVersion);
        }
        let mut key_id = [0u8; 4];
        key_id.copy_from_slice(&untrusted_raw[1..5]);
        let mut issued_at = [0u8; 8];
        issued_at.copy_from_slice(&untrusted_raw[5..13]);
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

/// Whole seconds since the Unix epoch, the unit of the issued-at field; times before it are
/// out of range.
pub(crate) fn system_time_to_unix(t: SystemTime) -> Result<u64, Error> {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| Error::TimeOutOfRange)
}

/// The id of one token, for revoking that token alone.
///
/// It is the first 16 bytes of the token's random 24-byte nonce, printed as 22 characters of
/// unpadded base64url. The nonce comes fresh from the operating system's random number
/// generator for every token (a [reissued](crate::TimedSerializer::reissue) or renewed token
/// gets a new one, and so a new id), and 128 random bits do not collide among any number of
/// tokens a service will ever issue. A hash of the nonce would add cost and nothing else: the
/// nonce is already public, in clear in the token, and carries no secret.
///
/// **Not secret and not a credential**: anyone who holds the token can compute its id, and the
/// id alone opens nothing (a token needs its ciphertext and tag to load). It is safe in logs and
/// as a key in a shared store. It exists only once the token has loaded, so a forged token
/// never has one.
///
/// ```
/// use itsclassified::{SecretKey, TimedSerializer};
///
/// let s = TimedSerializer::new(SecretKey::generate(), "s").no_expiry();
/// let (a, b) = (s.dumps(&1u8)?, s.dumps(&1u8)?);
/// let (a, b) = (s.loads_with_meta::<u8>(&a)?.meta, s.loads_with_meta::<u8>(&b)?.meta);
/// assert_ne!(a.token_id, b.token_id); // same payload, same second: different tokens
/// assert_eq!(a.token_id.to_string().len(), 22);
/// # Ok::<(), itsclassified::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenId([u8; TokenId::LEN]);

impl TokenId {
    /// The length of a token id in bytes (22 characters printed).
    pub const LEN: usize = 16;

    pub(crate) fn from_bytes(bytes: [u8; TokenId::LEN]) -> TokenId {
        TokenId(bytes)
    }

    /// The id's bytes.
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer};
    /// # let s = TimedSerializer::new(SecretKey::generate(), "s").no_expiry();
    /// let id = s.loads_with_meta::<u8>(&s.dumps(&1u8)?)?.meta.token_id;
    /// assert_eq!(id.as_bytes().len(), 16);
    /// # Ok::<(), itsclassified::Error>(())
    /// ```
    pub fn as_bytes(&self) -> &[u8; TokenId::LEN] {
        &self.0
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 22];
        // 16 bytes are 22 characters of unpadded base64: the buffer fits exactly.
        match URL_SAFE_NO_PAD.encode_slice(self.0, &mut buf) {
            Ok(n) => f.write_str(std::str::from_utf8(&buf[..n]).map_err(|_| fmt::Error)?),
            Err(_) => Err(fmt::Error),
        }
    }
}

impl fmt::Debug for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_id_is_its_bytes_shown_as_unpadded_base64url() {
        let bytes: [u8; TokenId::LEN] = std::array::from_fn(|i| (i as u8).wrapping_mul(17) ^ 0xf0);
        let id = TokenId::from_bytes(bytes);
        assert_eq!(id.as_bytes(), &bytes);
        assert_eq!(id.to_string(), URL_SAFE_NO_PAD.encode(bytes));
        assert_eq!(id.to_string().len(), 22);
        assert_eq!(format!("{id:?}"), format!("TokenId({id})"));
    }

    #[test]
    fn max_raw_len_is_the_largest_raw_length_whose_text_fits() {
        for n in 0..=MAX_TOKEN_LEN_LIMIT {
            let raw = max_raw_len(n);
            assert!(encoded_len(raw) <= n, "n = {n}");
            assert!(n < encoded_len(raw + 1), "n = {n}");
        }
    }

    #[test]
    fn encoded_len_matches_the_encoder() {
        for raw_len in 0..200 {
            assert_eq!(
                encode_token(&vec![0xa5; raw_len]).len(),
                encoded_len(raw_len)
            );
        }
    }

    #[test]
    fn decode_refuses_a_long_token_before_reading_it() {
        // Not base64 at all: only the length can have refused it.
        let token = "!".repeat(101);
        assert!(matches!(
            decode_token(&token, 100),
            Err(Error::TooLong { len: 101, max: 100 })
        ));
        assert!(matches!(
            decode_token(&token[..100], 100),
            Err(Error::Malformed)
        ));
    }

    #[test]
    fn decode_counts_bytes_not_characters() {
        let token = "é".repeat(50); // 100 bytes, 50 characters
        assert!(matches!(
            decode_token(&token, 99),
            Err(Error::TooLong { len: 100, .. })
        ));
    }

    #[test]
    fn decode_accepts_only_canonical_unpadded_base64url() {
        let raw: Vec<u8> = (0u8..=255).collect();
        let canonical = encode_token(&raw);
        assert_eq!(decode_token(&canonical, 1000).unwrap().as_slice(), raw);
        // Padding: 256 bytes leave one byte over, written as two characters and "==".
        assert!(matches!(
            decode_token(&format!("{canonical}=="), 1000),
            Err(Error::Malformed)
        ));
        // The standard alphabet's '+' and '/' in place of '-' and '_'.
        let standard = canonical.replace('-', "+").replace('_', "/");
        assert_ne!(standard, canonical);
        assert!(matches!(
            decode_token(&standard, 1000),
            Err(Error::Malformed)
        ));
        // Whitespace anywhere.
        assert!(matches!(
            decode_token(&format!(" {canonical}"), 1000),
            Err(Error::Malformed)
        ));
        assert!(matches!(
            decode_token(&format!("{canonical}\n"), 1000),
            Err(Error::Malformed)
        ));
        // A length of 4k + 1 characters cannot be base64 of anything.
        assert!(matches!(decode_token("AAAAA", 1000), Err(Error::Malformed)));
    }

    #[test]
    fn decode_refuses_non_zero_trailing_bits() {
        // One byte 0x00 is "AA"; "AB" sets a bit that carries no data.
        assert_eq!(decode_token("AA", 10).unwrap().as_slice(), [0]);
        assert!(matches!(decode_token("AB", 10), Err(Error::Malformed)));
        // Two bytes are three characters with two unused bits.
        assert_eq!(decode_token("AAA", 10).unwrap().as_slice(), [0, 0]);
        assert!(matches!(decode_token("AAB", 10), Err(Error::Malformed)));
    }

    fn raw_token(version: u8, len: usize) -> Vec<u8> {
        let mut raw = vec![0u8; len];
        if let Some(first) = raw.first_mut() {
            *first = version;
        }
        raw
    }

    #[test]
    fn header_refuses_every_length_shorter_than_a_token() {
        for len in 0..MIN_RAW_LEN {
            // Malformed even where the version byte is wrong too: length is checked first.
            assert!(matches!(
                Header::parse_untrusted(&raw_token(1, len)),
                Err(Error::Malformed)
            ));
            assert!(matches!(
                Header::parse_untrusted(&raw_token(2, len)),
                Err(Error::Malformed)
            ));
        }
        assert!(Header::parse_untrusted(&raw_token(1, MIN_RAW_LEN)).is_ok());
    }

    #[test]
    fn header_refuses_every_other_version() {
        for version in (0..=255u8).filter(|&v| v != VERSION_V1) {
            assert!(matches!(
                Header::parse_untrusted(&raw_token(version, MIN_RAW_LEN)),
                Err(Error::UnsupportedVersion)
            ));
        }
    }

    #[test]
    fn header_round_trips_through_its_bytes() {
        let header = Header {
            key_id: KeyId::new(0x0102_0304),
            issued_at: 0x0506_0708_090a_0b0c,
        };
        let bytes = header.to_bytes();
        assert_eq!(bytes, [1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        let mut raw = bytes.to_vec();
        raw.resize(MIN_RAW_LEN, 0);
        assert_eq!(Header::parse_untrusted(&raw).unwrap(), header);
    }

    #[test]
    fn unix_seconds_round_trip_and_refuse_times_before_the_epoch() {
        let t = unix_to_system_time(1_700_000_000).unwrap();
        assert_eq!(system_time_to_unix(t).unwrap(), 1_700_000_000);
        let before = UNIX_EPOCH - Duration::from_secs(1);
        assert!(matches!(
            system_time_to_unix(before),
            Err(Error::TimeOutOfRange)
        ));
        // Sub-second parts are dropped, not rounded.
        let t = UNIX_EPOCH + Duration::from_millis(1_999);
        assert_eq!(system_time_to_unix(t).unwrap(), 1);
    }
}
