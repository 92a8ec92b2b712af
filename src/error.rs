//! The one error type of the crate.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// Everything that can go wrong in this crate.
///
/// Every message is fixed text: it never contains token bytes, key material or payload
/// values, so an error can be logged or shown as it is. Fields carry only what a caller can act
/// on (lengths, times, the name of an environment variable or file).
///
/// The enum is `#[non_exhaustive]`: match the variants you handle and keep a wildcard arm.
/// [`Error::is_rejection`] tells a token the client got wrong from a problem of the service.
///
/// ```
/// use itsclassified::{Error, SecretKey, TimedSerializer};
/// use std::time::Duration;
///
/// let s = TimedSerializer::new(SecretKey::generate(), "session").max_age(Duration::from_secs(60));
/// match s.loads::<String>("not a token") {
///     Err(Error::Expired { .. }) => println!("please log in again"),
///     Err(e) if e.is_rejection() => println!("bad token: {e}"),
///     Err(e) => panic!("service misconfigured: {e}"),
///     Ok(_) => unreachable!(),
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The token string is longer than the serializer's maximum token length. Checked before any
    /// decoding. [`dumps`](crate::TimedSerializer::dumps) returns it too, for a payload whose token
    /// would be longer than the maximum (such a token could never be loaded).
    #[error("token exceeds the maximum token length")]
    TooLong {
        /// Length of the token string, in bytes (from `dumps`: of the token it would have made).
        len: usize,
        /// The configured maximum.
        max: usize,
    },

    /// The token is not canonical base64url without padding, or is too short to be a token.
    #[error("token is malformed")]
    Malformed,

    /// The token's version byte is not one this crate reads.
    #[error("token version is not supported")]
    UnsupportedVersion,

    /// The token names a key id that is not in the serializer's key ring: it was made under a
    /// key that has been removed, or under a key of another service.
    #[error("token was issued under a key that is not accepted")]
    UnknownKey,

    /// The token failed authentication: it was altered, forged, or made for another salt.
    #[error("token is invalid")]
    Invalid,

    /// The token is authentic but older than `max_age`.
    #[error("token has expired")]
    Expired {
        /// When the token was issued.
        issued_at: SystemTime,
        /// Its age when it was loaded, in whole seconds.
        age: Duration,
        /// The serializer's `max_age`.
        max_age: Duration,
    },

    /// The token is authentic but its issued-at lies further in the future than the leeway
    /// allows (a clock out of step, or a token minted with a wrong time).
    #[error("token was issued in the future")]
    IssuedInFuture {
        /// When the token says it was issued, in whole seconds since the Unix epoch.
        issued_at_unix: u64,
    },

    /// The token is authentic but its payload does not deserialize into the requested type.
    #[error("token payload does not match the expected type")]
    Payload,

    /// The value could not be serialized to MessagePack (its `Serialize` implementation failed).
    #[error("value could not be serialized")]
    Serialize,

    /// `loads` was called on a serializer with neither `.max_age(..)` nor `.no_expiry()`.
    #[error("max_age is not configured: call .max_age(..) or .no_expiry() on the serializer")]
    MaxAgeNotSet,

    /// A time before the Unix epoch, or too far after it to be represented, was given.
    #[error("time is out of range")]
    TimeOutOfRange,

    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Rng,

    /// A secret key is shorter than the minimum.
    #[error("secret key is too short: need at least {min} bytes, got {got}")]
    KeyTooShort {
        /// The minimum length, [`SecretKey::MIN_LEN`](crate::SecretKey::MIN_LEN).
        min: usize,
        /// The length given.
        got: usize,
    },

    /// A secret key is not valid base64 (standard or URL-safe alphabet, padded or not).
    #[error("secret key is not valid base64")]
    KeyEncoding,

    /// No secret key was given where at least one is needed.
    #[error("no secret key was given")]
    NoKeys,

    /// A file that should hold exactly one secret key holds several.
    #[error("expected exactly one secret key, found several")]
    MultipleKeys,

    /// Two secret keys of one key ring have the same key id (most likely the same secret twice).
    #[error("two secret keys have the same key id")]
    DuplicateKeyId,

    /// The environment variable that should hold keys is not set, or is not valid Unicode.
    #[error("environment variable {var} is not set or not valid Unicode")]
    KeyEnvMissing {
        /// The variable's name.
        var: String,
    },

    /// The key file could not be read.
    #[error("cannot read key file {}: {source}", path.display())]
    KeyFile {
        /// The file's path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// A key read from an environment variable or a file is unusable; `source` says why.
    #[error("{origin}: {source}")]
    KeySource {
        /// Where the key came from, for example `environment variable APP_KEYS, key 2`.
        origin: String,
        /// What is wrong with it.
        source: Box<Error>,
    },
}

impl Error {
    /// True for the errors that mean "this token is not acceptable" (malformed, too long,
    /// unknown version or key, invalid, expired, issued in the future, wrong payload type):
    /// the client should get a new token. False for problems of the service itself
    /// (configuration, keys, clock, random number generator, serialization).
    ///
    /// ```
    /// use itsclassified::Error;
    /// assert!(Error::Invalid.is_rejection());
    /// assert!(!Error::MaxAgeNotSet.is_rejection());
    /// ```
    pub fn is_rejection(&self) -> bool {
        matches!(
            self,
            Error::TooLong { .. }
                | Error::Malformed
                | Error::UnsupportedVersion
                | Error::UnknownKey
                | Error::Invalid
                | Error::Expired { .. }
                | Error::IssuedInFuture { .. }
                | Error::Payload
        )
    }

    pub(crate) fn in_source(self, origin: impl Into<String>) -> Error {
        Error::KeySource {
            origin: origin.into(),
            source: Box::new(self),
        }
    }
}
