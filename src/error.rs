//! The crate's errors: [`Error`] for token operations, [`KeyError`] for loading keys.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Everything that can go wrong making or loading a token.
///
/// Every message is fixed text: it never contains token bytes, key material or payload
/// values, so an error can be logged or shown as it is. Fields carry only what a caller can act
/// on (lengths, times). Loading keys has its own error, [`KeyError`], which converts into
/// [`Error::Key`] with `?`.
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

    /// The token is authentic but its payload does not deserialize into the requested type:
    /// a different type, a value nested too deep, or a type that needs serde to buffer its
    /// input (`#[serde(untagged)]`, `#[serde(tag = "..")]`, `#[serde(flatten)]`), which `loads`
    /// never reads (see the crate docs, "Payload types").
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

    /// A secret key could not be loaded, or a key ring could not be built: see [`KeyError`].
    ///
    /// No token operation returns it; it is here so that `?` can mix key loading and token
    /// operations in one function returning `Result<_, itsclassified::Error>`.
    #[error(transparent)]
    Key(#[from] KeyError),

    /// [`dumps`](crate::TimedSerializer::dumps) was given a value nested deeper than a token's
    /// payload may be: a value inside more than 128 arrays, maps or enum variants, or one whose
    /// reading back would take more than 256 nested serde calls (an `Option`, a newtype and a
    /// container are one call each, so `struct W(Option<Vec<W>>)` reaches it at 85 levels).
    /// `loads` refuses both, so its token could never be loaded: it is refused when it is made.
    #[error("value is nested deeper than a token payload may be")]
    TooDeep {
        /// The deepest nesting a payload may have.
        max: usize,
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
}

/// Why a secret key could not be loaded, or a key ring could not be built.
///
/// It says what is wrong ([`KeyError::kind`]) and, for keys read from the environment or a file,
/// where ([`KeyError::origin`]): the variable's name or the file's path and the key's position,
/// never the key. Like [`Error`], its message is safe to log.
///
/// ```
/// use itsclassified::{KeyErrorKind, SecretKey};
///
/// let err = SecretKey::from_bytes(b"hunter2").unwrap_err();
/// assert_eq!(err.kind(), KeyErrorKind::TooShort { min: 32, got: 7 });
/// assert_eq!(err.to_string(), "secret key is too short: need at least 32 bytes, got 7");
/// ```
#[derive(Debug)]
pub struct KeyError {
    kind: KeyErrorKind,
    origin: Option<KeyOrigin>,
    io: Option<std::io::Error>,
}

/// What is wrong with a key, a key list or a key ring; see [`KeyError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyErrorKind {
    /// The environment variable is not set, or is not valid Unicode.
    #[error("environment variable is not set or not valid Unicode")]
    Missing,
    /// The key file could not be read (its I/O error is the [source](std::error::Error::source)),
    /// is not UTF-8, or is longer than its metadata says (it grew while it was read).
    #[error("key file cannot be read")]
    Unreadable,
    /// The key file is a FIFO (a named pipe) or a pipe that no process had open for writing
    /// within half a second, with nothing in it: nothing would ever arrive to read. Opening and
    /// reading it does not block (a FIFO without a writer used to block the open for ever).
    #[error("key file is a FIFO or pipe that no process writes to")]
    NoWriter,
    /// The key file is larger than any key file needs to be.
    #[error("key file is larger than {} KiB: not a key file", max / 1024)]
    FileTooLarge {
        /// The largest key file read, in bytes.
        max: u64,
    },
    /// A secret is shorter than [`SecretKey::MIN_LEN`](crate::SecretKey::MIN_LEN).
    #[error("secret key is too short: need at least {min} bytes, got {got}")]
    TooShort {
        /// The minimum length in bytes.
        min: usize,
        /// The length given.
        got: usize,
    },
    /// A key is not base64 (standard or URL-safe alphabet, padded or not).
    #[error("secret key is not valid base64")]
    NotBase64,
    /// Two secrets of one key ring have the same key id (most likely one secret listed twice).
    #[error("two secret keys have the same key id")]
    Duplicate,
    /// No key was given where at least one is needed (an empty list, variable or file).
    #[error("no secret key was given")]
    Empty,
    /// A file that should hold exactly one key holds several.
    #[error("expected exactly one secret key, found several")]
    Multiple,
    /// The operating system's random number generator failed while generating a key.
    #[error("the operating system's random number generator failed")]
    Rng,
}

/// Where a key that failed to load came from.
///
/// A name or path that may itself hold a key (a secret, a list of secrets or `NAME=secret`
/// pasted where a variable's name or a file's path belongs) is not kept: it is replaced by
/// [`KeyOrigin::WITHHELD`], so that the error cannot carry the secret into a log.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyOrigin {
    /// An environment variable.
    Env {
        /// The variable's name.
        var: String,
        /// The position of the key in the comma-separated list, from 1.
        entry: Option<usize>,
    },
    /// A key file.
    File {
        /// The file's path.
        path: PathBuf,
        /// The line of the key, from 1.
        line: Option<usize>,
    },
}

impl KeyOrigin {
    /// Stands for a variable name or file path that may hold key material: a name that no
    /// shell sets (such as `A,B` or `NAME=value`), or a name or path that holds a run of 43 or
    /// more base64 characters mixing upper and lower case, as a key's text does, or of 43 or
    /// more hex digits mixing digits and letters.
    pub const WITHHELD: &'static str = "<withheld: it may hold a key>";

    pub(crate) fn env(var: &str, entry: Option<usize>) -> KeyOrigin {
        let var = if crate::redact::withhold_env_name(var) {
            Self::WITHHELD.to_string()
        } else {
            var.to_string()
        };
        KeyOrigin::Env { var, entry }
    }

    pub(crate) fn file(path: &Path, line: Option<usize>) -> KeyOrigin {
        let path = if crate::redact::withhold_path(path) {
            PathBuf::from(Self::WITHHELD)
        } else {
            path.to_path_buf()
        };
        KeyOrigin::File { path, line }
    }
}

impl fmt::Display for KeyOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyOrigin::Env { var, entry } => {
                write!(f, "environment variable {var}")?;
                entry.map_or(Ok(()), |n| write!(f, ", key {n}"))
            }
            KeyOrigin::File { path, line } => {
                write!(f, "key file {}", path.display())?;
                line.map_or(Ok(()), |n| write!(f, ", line {n}"))
            }
        }
    }
}

impl KeyError {
    pub(crate) fn new(kind: KeyErrorKind) -> KeyError {
        KeyError {
            kind,
            origin: None,
            io: None,
        }
    }

    pub(crate) fn io(source: std::io::Error) -> KeyError {
        KeyError {
            kind: KeyErrorKind::Unreadable,
            origin: None,
            io: Some(source),
        }
    }

    /// The same error, saying where the key came from (an origin already set is kept: it is
    /// the more precise one).
    pub(crate) fn at(mut self, origin: KeyOrigin) -> KeyError {
        self.origin.get_or_insert(origin);
        self
    }

    /// What is wrong.
    pub fn kind(&self) -> KeyErrorKind {
        self.kind
    }

    /// Where the key came from, for keys read from an environment variable or a file.
    ///
    /// ```
    /// use itsclassified::{KeyErrorKind, KeyOrigin, SecretKey};
    ///
    /// let err = SecretKey::from_env("ITSCLASSIFIED_DOC_UNSET").unwrap_err();
    /// assert_eq!(err.kind(), KeyErrorKind::Missing);
    /// assert!(matches!(err.origin(), Some(KeyOrigin::Env { var, entry: None }) if var == "ITSCLASSIFIED_DOC_UNSET"));
    /// assert_eq!(err.to_string(), "environment variable ITSCLASSIFIED_DOC_UNSET is not set or not valid Unicode");
    /// ```
    pub fn origin(&self) -> Option<&KeyOrigin> {
        self.origin.as_ref()
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.origin, self.kind) {
            (Some(origin), KeyErrorKind::Missing) => {
                write!(f, "{origin} is not set or not valid Unicode")?
            }
            (Some(origin), KeyErrorKind::Unreadable) => write!(f, "cannot read {origin}")?,
            (Some(origin), KeyErrorKind::NoWriter) => {
                write!(f, "{origin} is a FIFO or pipe that no process writes to")?
            }
            (Some(origin), KeyErrorKind::FileTooLarge { max }) => write!(
                f,
                "{origin} is larger than {} KiB: not a key file",
                max / 1024
            )?,
            (Some(origin), kind) => write!(f, "{origin}: {kind}")?,
            (None, kind) => write!(f, "{kind}")?,
        }
        match &self.io {
            Some(io) => write!(f, ": {io}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for KeyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.io.as_ref().map(|e| e as _)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    #[test]
    fn an_origin_that_may_hold_a_key_is_withheld_and_a_name_is_not() {
        let key = URL_SAFE_NO_PAD.encode([0x5c; 32].map(|b: u8| b.wrapping_mul(7)));
        let key = format!("{key}Aa");
        for var in [key.clone(), format!("NAME={key}"), format!("{key},")] {
            let shown = KeyOrigin::env(&var, Some(2)).to_string();
            assert_eq!(
                shown,
                format!("environment variable {}, key 2", KeyOrigin::WITHHELD)
            );
            let shown = KeyOrigin::file(Path::new(&var), None).to_string();
            assert_eq!(shown, format!("key file {}", KeyOrigin::WITHHELD));
        }
        assert_eq!(
            KeyOrigin::env("MyKeys", None).to_string(),
            "environment variable MyKeys"
        );
        assert_eq!(
            KeyOrigin::file(Path::new("/run/secrets/keys"), Some(3)).to_string(),
            "key file /run/secrets/keys, line 3"
        );
    }
}
