//! The typed layer: serde values in, expiring tokens out.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::depth::SerializeError;
use crate::error::KeyError;
use crate::key::{KeyId, Prk, SecretKey};
use crate::msgpack::{has_repeated_key, single_value_len, FrameError, MAX_DEPTH};
use crate::ring_cell::RingCell;
use crate::seal::{random_nonce, Opened};
use crate::wire::{
    system_time_to_unix, unix_to_system_time, TokenId, DEFAULT_MAX_TOKEN_LEN, MAX_TOKEN_LEN_LIMIT,
    NONCE_LEN,
};
use crate::Error;

/// The expiry policy of a serializer, as [`TimedSerializer::configured_expiry`] reports it.
///
/// ```
/// use itsclassified::{Expiry, SecretKey, TimedSerializer};
/// use std::time::Duration;
///
/// let s = TimedSerializer::new(SecretKey::generate(), "s");
/// assert_eq!(s.configured_expiry(), Expiry::NotSet); // loads fails until one is chosen
/// let s = s.max_age(Duration::from_secs(60));
/// assert_eq!(s.configured_expiry(), Expiry::After(Duration::from_secs(60)));
/// assert_eq!(s.no_expiry().configured_expiry(), Expiry::Never);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expiry {
    /// Neither [`max_age`](TimedSerializer::max_age) nor
    /// [`no_expiry`](TimedSerializer::no_expiry) was called: `loads` fails with
    /// [`Error::MaxAgeNotSet`].
    NotSet,
    /// [`no_expiry`](TimedSerializer::no_expiry): tokens never expire by age.
    Never,
    /// [`max_age`](TimedSerializer::max_age): tokens older than this are refused.
    After(Duration),
}

impl Expiry {
    /// The maximum age, if tokens expire.
    ///
    /// ```
    /// use itsclassified::Expiry;
    /// use std::time::Duration;
    /// assert_eq!(Expiry::After(Duration::from_secs(9)).max_age(), Some(Duration::from_secs(9)));
    /// assert_eq!(Expiry::Never.max_age(), None);
    /// ```
    pub fn max_age(self) -> Option<Duration> {
        match self {
            Expiry::After(max_age) => Some(max_age),
            Expiry::NotSet | Expiry::Never => None,
        }
    }
}

/// Turns serde values into encrypted, authenticated, expiring URL-safe tokens and back.
///
/// Built once at start-up from one or more [`SecretKey`]s and a salt that names the purpose of
/// the tokens (`"session"`, `"password-reset"`, ...): a token made for one salt never loads
/// under another. HKDF runs once per key here; `dumps` and `loads` only encrypt and decrypt.
/// Cloning is cheap and shares the derived keys; the serializer is `Send + Sync`.
///
/// `loads` needs an expiry policy: call [`max_age`](TimedSerializer::max_age) (or, for tokens
/// that are revoked some other way, [`no_expiry`](TimedSerializer::no_expiry)), else it fails
/// with [`Error::MaxAgeNotSet`].
///
/// ```
/// use itsclassified::{SecretKey, TimedSerializer};
/// use serde::{Deserialize, Serialize};
/// use std::time::Duration;
///
/// #[derive(Serialize, Deserialize, Debug, PartialEq)]
/// struct Session { user_id: String, role: String }
///
/// let serializer = TimedSerializer::new(SecretKey::generate(), "session")
///     .max_age(Duration::from_secs(3600));
/// let session = Session { user_id: "123".into(), role: "admin".into() };
/// let token = serializer.dumps(&session)?;
/// assert_eq!(token.len(), 103);
/// assert_eq!(serializer.loads::<Session>(&token)?, session);
/// # Ok::<(), itsclassified::Error>(())
/// ```
#[derive(Clone)]
pub struct TimedSerializer {
    /// The ring, shared with clones; and the family, shared with siblings (`with_salt`), which
    /// keeps the salt of each for `replace_keys`.
    ring: RingCell,
    expiry: Expiry,
    leeway: Duration,
    max_token_len: usize,
}

/// A payload loaded together with its verified metadata; see
/// [`TimedSerializer::loads_with_meta`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Loaded<T> {
    /// The payload.
    pub payload: T,
    /// What the token says about itself, verified.
    pub meta: TokenMeta,
}

/// The verified metadata of a token that loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenMeta {
    /// When the token was issued (whole seconds).
    pub issued_at: SystemTime,
    /// Its age at loading, in whole seconds (zero for a token issued in the future within the
    /// leeway).
    pub age: Duration,
    /// The key id of the key that opened it.
    pub key_id: KeyId,
    /// Position of that key in the key ring: 0 for the primary key, 1 for the first fallback, ...
    pub key_index: usize,
    /// The token's id, for revoking this one token (see [`TokenId`]): not secret, not a
    /// credential.
    pub token_id: TokenId,
    /// The moment after which no instance accepts the token anyway: `issued_at + max_age +
    /// leeway` (the leeway covers instances whose clocks lag), or `None` for a serializer with
    /// [`no_expiry`](TimedSerializer::no_expiry). A revocation store keeps a token's entry until
    /// then, and no longer.
    pub expires_at: Option<SystemTime>,
}

impl TokenMeta {
    /// True when the token was made under the primary key; false when it was made under a
    /// fallback key and should be [reissued](TimedSerializer::reissue) during a rotation.
    ///
    /// ```
    /// use itsclassified::{SecretKey, TimedSerializer};
    ///
    /// let s = TimedSerializer::new(SecretKey::generate(), "s").no_expiry();
    /// let loaded = s.loads_with_meta::<u8>(&s.dumps(&1u8)?)?;
    /// assert!(loaded.meta.is_primary());
    /// # Ok::<(), itsclassified::Error>(())
    /// ```
    pub fn is_primary(&self) -> bool {
        self.key_index == 0
    }
}

impl TimedSerializer {
    /// The clock skew allowed by default for tokens whose issued-at lies in the future.
    pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);
    /// The longest token string accepted (and made) by default: 8 KiB, the common limit of one
    /// HTTP header line and well above a 4 KiB cookie.
    pub const DEFAULT_MAX_TOKEN_LEN: usize = DEFAULT_MAX_TOKEN_LEN;
    /// The highest value [`max_token_len`](TimedSerializer::max_token_len) accepts: 64 KiB.
    pub const MAX_TOKEN_LEN_LIMIT: usize = MAX_TOKEN_LEN_LIMIT;

    /// A serializer with one key, for the purpose named by `salt`.
    ///
    /// ```
    /// use itsclassified::{SecretKey, TimedSerializer};
    /// let s = TimedSerializer::new(SecretKey::generate(), "password-reset");
    /// ```
    pub fn new(key: SecretKey, salt: impl AsRef<[u8]>) -> TimedSerializer {
        Self::from_cell(RingCell::new(vec![Prk::extract(&key)], salt.as_ref()))
    }

    /// A serializer with a key ring for rotation: the first key is the primary and issues every
    /// token; the others are still accepted until removed. Fails with
    /// [`KeyErrorKind::Empty`](crate::KeyErrorKind::Empty) on an empty list and
    /// [`KeyErrorKind::Duplicate`](crate::KeyErrorKind::Duplicate) if two secrets share a key
    /// id.
    ///
    /// ```
    /// use itsclassified::{SecretKey, TimedSerializer};
    ///
    /// let (old, new) = (SecretKey::from_bytes(&[1; 32])?, SecretKey::from_bytes(&[2; 32])?);
    /// let before = TimedSerializer::new(SecretKey::from_bytes(&[1; 32])?, "s").no_expiry();
    /// let token = before.dumps(&"hi")?;
    ///
    /// let after = TimedSerializer::with_keys([new, old], "s")?.no_expiry();
    /// assert_eq!(after.loads::<String>(&token)?, "hi");
    /// # Ok::<(), itsclassified::Error>(())
    /// ```
    pub fn with_keys(
        keys: impl IntoIterator<Item = SecretKey>,
        salt: impl AsRef<[u8]>,
    ) -> Result<TimedSerializer, KeyError> {
        Ok(Self::from_cell(RingCell::new(
            Prk::extract_all(keys)?,
            salt.as_ref(),
        )))
    }

    /// A sibling serializer for another purpose on the same key ring: the same keys, primary
    /// and key ids, derived for `salt`. Its tokens are those of
    /// [`with_keys`](TimedSerializer::with_keys) with the same keys and `salt` (each loads what
    /// the other makes), and, as between any two salts, a token of this serializer does not
    /// load in the sibling ([`Error::Invalid`]) nor the other way round.
    ///
    /// The keys are read once for every purpose: read them, build one serializer, and make the
    /// others from it. With the feature `reload`, the serializer and its siblings (and theirs,
    /// and every clone of any of them) stay one family: `replace_keys` on any of them replaces
    /// the keys of all, each derived for its own salt (see [`replace_keys`]), and a sibling made
    /// later has the keys in force. A dropped sibling is not kept alive by the family.
    ///
    /// The sibling starts with the default policy, as a new serializer does, not with this
    /// one's: another purpose usually has another lifetime, and forgetting to choose it must
    /// stay an error ([`Error::MaxAgeNotSet`] on `loads`). The leeway and the maximum token
    /// length are the defaults too.
    ///
    /// What it costs: to derive the keys of any salt, every serializer keeps the HKDF
    /// pseudorandom key (PRK) of each of its secrets, wiped on drop, rather than only the
    /// subkeys of its own salt. The secrets themselves are still not kept, but for this crate the
    /// PRK is as good as the secret: a disclosure of the process's memory yields the keys of
    /// every salt, not only the ones in use.
    ///
    /// ```
    /// use itsclassified::{Error, SecretKey, TimedSerializer};
    /// use std::time::Duration;
    ///
    /// let key = |b| SecretKey::from_bytes(&[b; 32]);
    /// let api = TimedSerializer::with_keys([key(1)?, key(2)?], "api-token")?
    ///     .max_age(Duration::from_secs(900));
    /// let sessions = api.with_salt("session");
    /// assert_eq!(sessions.key_ids(), api.key_ids());
    /// // A new policy: the sibling does not inherit max_age.
    /// assert!(matches!(sessions.loads::<u8>(&sessions.dumps(&1u8)?), Err(Error::MaxAgeNotSet)));
    /// let sessions = sessions.max_age(Duration::from_secs(86400));
    ///
    /// // The same tokens as a serializer built for the salt from the same keys...
    /// let same = TimedSerializer::with_keys([key(1)?, key(2)?], "session")?.no_expiry();
    /// assert_eq!(same.loads::<String>(&sessions.dumps("hi")?)?, "hi");
    /// // ...and none of the other purpose's.
    /// assert!(matches!(sessions.loads::<String>(&api.dumps("hi")?), Err(Error::Invalid)));
    ///
    /// // With the feature `reload`: new keys for one purpose are new keys for all.
    /// #[cfg(feature = "reload")]
    /// {
    ///     api.replace_keys([key(3)?])?;
    ///     assert_eq!(sessions.primary_key_id(), key(3)?.key_id());
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    #[cfg_attr(
        feature = "reload",
        doc = "[`replace_keys`]: TimedSerializer::replace_keys"
    )]
    #[cfg_attr(
        not(feature = "reload"),
        doc = "[`replace_keys`]: https://docs.rs/itsclassified/latest/itsclassified/struct.TimedSerializer.html#method.replace_keys"
    )]
    #[must_use]
    pub fn with_salt(&self, salt: impl AsRef<[u8]>) -> TimedSerializer {
        // Why this works without the secrets: the family keeps the HKDF PRK of each (see
        // ring_cell::Family), one Expand away from the keys of any salt. That is its cost too:
        // what a memory disclosure yields is now every salt's keys, not this serializer's only.
        Self::from_cell(self.ring.sibling(salt.as_ref()))
    }

    /// A serializer on `ring` with the default policy (expiry not set, default leeway and
    /// maximum token length).
    fn from_cell(ring: RingCell) -> TimedSerializer {
        TimedSerializer {
            ring,
            expiry: Expiry::NotSet,
            leeway: Self::DEFAULT_LEEWAY,
            max_token_len: Self::DEFAULT_MAX_TOKEN_LEN,
        }
    }

    /// Tokens older than `max_age` are refused with [`Error::Expired`]. A token exactly
    /// `max_age` old still loads. Ages are counted in whole seconds.
    ///
    /// ```
    /// # use itsclassified::{Error, SecretKey, TimedSerializer};
    /// use std::time::{Duration, SystemTime};
    /// let s = TimedSerializer::new(SecretKey::generate(), "s").max_age(Duration::from_secs(15 * 60));
    /// let t0 = SystemTime::now();
    /// let token = s.dumps_at(&1u8, t0)?;
    /// assert_eq!(s.loads_at::<u8>(&token, t0 + Duration::from_secs(15 * 60))?, 1);
    /// let late = s.loads_at::<u8>(&token, t0 + Duration::from_secs(15 * 60 + 1));
    /// assert!(matches!(late, Err(Error::Expired { .. })));
    /// # Ok::<(), Error>(())
    /// ```
    #[must_use]
    pub fn max_age(mut self, max_age: Duration) -> TimedSerializer {
        self.expiry = Expiry::After(max_age);
        self
    }

    /// Tokens never expire by age. Only for tokens that are revoked some other way (by rotating
    /// the key out of the ring, say): an explicit choice, since forgetting an expiry is a bug.
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer};
    /// let s = TimedSerializer::new(SecretKey::generate(), "api-key").no_expiry();
    /// ```
    #[must_use]
    pub fn no_expiry(mut self) -> TimedSerializer {
        self.expiry = Expiry::Never;
        self
    }

    /// How far in the future a token's issued-at may lie before it is refused with
    /// [`Error::IssuedInFuture`], for clocks out of step between servers. Whole seconds; the
    /// default is [`DEFAULT_LEEWAY`](TimedSerializer::DEFAULT_LEEWAY).
    ///
    /// ```
    /// # use itsclassified::{Error, SecretKey, TimedSerializer};
    /// use std::time::{Duration, SystemTime};
    /// let s = TimedSerializer::new(SecretKey::generate(), "s")
    ///     .max_age(Duration::from_secs(60))
    ///     .leeway(Duration::from_secs(5));
    /// let now = SystemTime::now();
    /// // Minted by a server whose clock runs 5 s ahead: accepted, with age zero.
    /// let token = s.dumps_at(&1u8, now + Duration::from_secs(5))?;
    /// assert_eq!(s.loads_with_meta_at::<u8>(&token, now)?.meta.age, Duration::ZERO);
    /// let token = s.dumps_at(&1u8, now + Duration::from_secs(6))?;
    /// assert!(matches!(s.loads_at::<u8>(&token, now), Err(Error::IssuedInFuture { .. })));
    /// # Ok::<(), Error>(())
    /// ```
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> TimedSerializer {
        self.leeway = leeway;
        self
    }

    /// The longest token string `loads` accepts (checked before any decoding) and `dumps` makes.
    /// The default is [`DEFAULT_MAX_TOKEN_LEN`](TimedSerializer::DEFAULT_MAX_TOKEN_LEN) (8 KiB);
    /// values above [`MAX_TOKEN_LEN_LIMIT`](TimedSerializer::MAX_TOKEN_LEN_LIMIT) (64 KiB) are
    /// lowered to it.
    ///
    /// ```
    /// # use itsclassified::{Error, SecretKey, TimedSerializer};
    /// // A session cookie must fit in the browser's 4096-byte limit, name and attributes included.
    /// let s = TimedSerializer::new(SecretKey::generate(), "session").max_token_len(3800);
    /// assert!(matches!(s.dumps(&"x".repeat(4000)), Err(Error::TooLong { max: 3800, .. })));
    /// ```
    #[must_use]
    pub fn max_token_len(mut self, max_token_len: usize) -> TimedSerializer {
        self.max_token_len = max_token_len.min(MAX_TOKEN_LEN_LIMIT);
        self
    }

    /// The expiry policy in force: [`Expiry::NotSet`] until
    /// [`max_age`](TimedSerializer::max_age) or [`no_expiry`](TimedSerializer::no_expiry) is
    /// called (see [`Expiry`] for an example).
    pub fn configured_expiry(&self) -> Expiry {
        self.expiry
    }

    /// How long a revocation of this serializer's tokens must be remembered: `max_age +
    /// leeway`, the longest a token can still load on any instance whose clock lags by up to
    /// the leeway. `None` without expiry (such tokens cannot be revoked by id). Pass the
    /// longest of these to
    /// [`RevocationStore::revoke_subject`](crate::revocation::RevocationStore::revoke_subject).
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer};
    /// use std::time::Duration;
    /// let s = TimedSerializer::new(SecretKey::generate(), "s").max_age(Duration::from_secs(900));
    /// assert_eq!(s.revocation_retention(), Some(Duration::from_secs(960)));
    /// assert_eq!(s.no_expiry().revocation_retention(), None);
    /// ```
    pub fn revocation_retention(&self) -> Option<Duration> {
        self.expiry
            .max_age()
            .map(|max_age| max_age.saturating_add(self.leeway))
    }

    /// The leeway in force for tokens issued in the future (see
    /// [`leeway`](TimedSerializer::leeway)).
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer};
    /// let s = TimedSerializer::new(SecretKey::generate(), "s");
    /// assert_eq!(s.configured_leeway(), TimedSerializer::DEFAULT_LEEWAY);
    /// ```
    pub fn configured_leeway(&self) -> Duration {
        self.leeway
    }

    /// The maximum token length in force (see
    /// [`max_token_len`](TimedSerializer::max_token_len)).
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer};
    /// let s = TimedSerializer::new(SecretKey::generate(), "s");
    /// assert_eq!(s.configured_max_token_len(), TimedSerializer::DEFAULT_MAX_TOKEN_LEN);
    /// ```
    pub fn configured_max_token_len(&self) -> usize {
        self.max_token_len
    }

    /// The key id of the primary key, under which every new token is made.
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer};
    /// let key = SecretKey::generate();
    /// let id = key.key_id();
    /// assert_eq!(TimedSerializer::new(key, "s").primary_key_id(), id);
    /// ```
    pub fn primary_key_id(&self) -> KeyId {
        self.ring.load().primary_id()
    }

    /// The key ids of the ring, primary first.
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer};
    /// let s = TimedSerializer::with_keys([SecretKey::generate(), SecretKey::generate()], "s")?;
    /// assert_eq!(s.key_ids().len(), 2);
    /// # Ok::<(), itsclassified::Error>(())
    /// ```
    pub fn key_ids(&self) -> Vec<KeyId> {
        self.ring.load().ids().collect()
    }

    /// Replaces the key ring at run time (feature `reload`), for this serializer and every clone
    /// of it, such as the ones a web layer holds: on SIGHUP, or when a mounted secret file
    /// changes. Atomic, and lock-free for requests: a `loads` or `dumps` in flight finishes with
    /// the ring it started with, the next one uses the new ring, and none waits (replacements
    /// and [`with_salt`](TimedSerializer::with_salt) calls in one family take turns on a lock of
    /// their own). Tokens under a removed key stop loading
    /// right away; tokens under an added key load. The keys are derived for the serializer's
    /// salt; on an error ([`KeyErrorKind::Empty`](crate::KeyErrorKind::Empty),
    /// [`KeyErrorKind::Duplicate`](crate::KeyErrorKind::Duplicate)) the ring in force stays.
    ///
    /// The keys of every sibling ([`with_salt`](TimedSerializer::with_salt)) are replaced too,
    /// each derived for its own salt, whichever member of the family this is called on: one
    /// reload of the keys, read once, serves every purpose. Each member switches atomically;
    /// the members switch one after the other, within the call. On an error no member changes.
    ///
    /// For a rotation across a fleet, see the README's "Rotation": add the new key as a
    /// fallback everywhere first, then make it primary, then remove the old one.
    ///
    /// ```
    /// use itsclassified::{Error, SecretKey, TimedSerializer};
    ///
    /// let key = |b| SecretKey::from_bytes(&[b; 32]);
    /// let s = TimedSerializer::with_keys([key(1)?], "session")?.no_expiry();
    /// let handle = s.clone(); // what the web layer holds
    /// let old_token = s.dumps("old")?;
    ///
    /// s.replace_keys([key(2)?, key(1)?])?; // phase 2: new primary, old still accepted
    /// assert_eq!(handle.primary_key_id(), key(2)?.key_id());
    /// assert_eq!(handle.loads::<String>(&old_token)?, "old");
    ///
    /// s.replace_keys([key(2)?])?; // phase 3: the old key is gone
    /// assert!(matches!(handle.loads::<String>(&old_token), Err(Error::UnknownKey)));
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// Several purposes, one reload:
    ///
    /// ```
    /// use itsclassified::{Error, KeyErrorKind, SecretKey, TimedSerializer};
    ///
    /// let key = |b| SecretKey::from_bytes(&[b; 32]);
    /// let api = TimedSerializer::with_keys([key(1)?], "api-token")?.no_expiry();
    /// let sessions = api.with_salt("session").no_expiry();
    ///
    /// sessions.replace_keys([key(2)?, key(1)?])?; // through any member
    /// assert_eq!(api.primary_key_id(), key(2)?.key_id());
    /// // Each derived for its own salt: a serializer built from the keys reads them.
    /// let fresh = TimedSerializer::with_keys([key(2)?], "api-token")?.no_expiry();
    /// assert_eq!(fresh.loads::<u8>(&api.dumps(&7u8)?)?, 7);
    ///
    /// // A refused list changes no member.
    /// let err = api.replace_keys([key(3)?, key(3)?]).unwrap_err();
    /// assert_eq!(err.kind(), KeyErrorKind::Duplicate);
    /// assert_eq!(sessions.primary_key_id(), key(2)?.key_id());
    /// # Ok::<(), Error>(())
    /// ```
    #[cfg(feature = "reload")]
    #[cfg_attr(docsrs, doc(cfg(feature = "reload")))]
    pub fn replace_keys(&self, keys: impl IntoIterator<Item = SecretKey>) -> Result<(), KeyError> {
        self.ring.replace(Prk::extract_all(keys)?);
        Ok(())
    }

    /// Serializes `value` to MessagePack (structs as maps with field names) and seals it under
    /// the primary key with a fresh random nonce, issued now.
    ///
    /// Fails with [`Error::Serialize`] if the value's `Serialize` fails, [`Error::TooDeep`] if
    /// it is nested deeper than a payload may be, [`Error::TooLong`] if the token would exceed
    /// the maximum token length, [`Error::Rng`] if the operating system's random number
    /// generator fails: each a token that `loads` would refuse, refused when it is made.
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer};
    /// let s = TimedSerializer::new(SecretKey::generate(), "email-confirm");
    /// let token = s.dumps("alice@example.com")?;
    /// assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    /// # Ok::<(), itsclassified::Error>(())
    /// ```
    pub fn dumps<T: Serialize + ?Sized>(&self, value: &T) -> Result<String, Error> {
        self.dumps_at(value, SystemTime::now())
    }

    /// Like [`dumps`](TimedSerializer::dumps), with the issued-at given (whole seconds are
    /// kept). Fails with [`Error::TimeOutOfRange`] for a time before the Unix epoch.
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer};
    /// use std::time::{Duration, UNIX_EPOCH};
    /// let s = TimedSerializer::new(SecretKey::generate(), "s").no_expiry();
    /// let token = s.dumps_at(&1u8, UNIX_EPOCH + Duration::from_secs(1_700_000_000))?;
    /// let meta = s.loads_with_meta::<u8>(&token)?.meta;
    /// assert_eq!(meta.issued_at, UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    /// # Ok::<(), itsclassified::Error>(())
    /// ```
    pub fn dumps_at<T: Serialize + ?Sized>(
        &self,
        value: &T,
        issued_at: SystemTime,
    ) -> Result<String, Error> {
        let issued_at = system_time_to_unix(issued_at)?;
        self.seal_value_with(value, &random_nonce()?, issued_at)
    }

    /// The deterministic core of `dumps`: the caller supplies nonce and issued-at.
    pub(crate) fn seal_value_with<T: Serialize + ?Sized>(
        &self,
        value: &T,
        nonce: &[u8; NONCE_LEN],
        issued_at: u64,
    ) -> Result<String, Error> {
        self.ring
            .load()
            .seal_with(nonce, issued_at, self.max_token_len, None, |buf| {
                // Counted as `loads` counts (crate::depth), so that no token is made that
                // `loads` would refuse for its depth.
                let mut writer = rmp_serde::Serializer::new(&mut *buf).with_struct_map();
                match crate::depth::serialize(value, &mut writer) {
                    Ok(()) => {}
                    Err(SerializeError::TooDeep) => return Err(Error::TooDeep { max: MAX_DEPTH }),
                    Err(SerializeError::Failed(_)) => return Err(Error::Serialize),
                }
                // rmp-serde writes well-framed MessagePack, but nests as deep as the value.
                match single_value_len(buf.plaintext()) {
                    // A map whose Serialize wrote one key twice (SPEC.md 3.1: keys MUST be
                    // distinct; a reader would keep one of them, and which is unspecified).
                    Ok(_) if has_repeated_key(buf.plaintext()) => Err(Error::Serialize),
                    Ok(_) => Ok(()),
                    Err(FrameError::TooDeep) => Err(Error::TooDeep { max: MAX_DEPTH }),
                    Err(FrameError::Truncated | FrameError::Reserved) => Err(Error::Serialize),
                }
            })
    }

    /// Seals plaintext bytes as they are, with the caller's nonce and issued-at.
    pub(crate) fn seal_bytes_with(
        &self,
        plaintext: &[u8],
        nonce: &[u8; NONCE_LEN],
        issued_at: u64,
    ) -> Result<String, Error> {
        self.ring.load().seal_with(
            nonce,
            issued_at,
            self.max_token_len,
            Some(plaintext.len()),
            |buf| std::io::Write::write_all(buf, plaintext).map_err(|_| Error::Serialize),
        )
    }

    /// Loads a token made by [`dumps`](TimedSerializer::dumps) with one of this serializer's keys
    /// and the same salt, if it is not older than `max_age`.
    ///
    /// The checks run in this order: configuration ([`Error::MaxAgeNotSet`]), length
    /// ([`Error::TooLong`], before any decoding), canonical base64url and minimum size
    /// ([`Error::Malformed`]), version ([`Error::UnsupportedVersion`]), key id
    /// ([`Error::UnknownKey`]), authentication ([`Error::Invalid`]), time
    /// ([`Error::IssuedInFuture`], [`Error::Expired`]), then the payload type
    /// ([`Error::Payload`]). Nothing about an unauthenticated token is trusted past the key
    /// lookup.
    ///
    /// ```
    /// # use itsclassified::{Error, SecretKey, TimedSerializer};
    /// let s = TimedSerializer::new(SecretKey::generate(), "s").max_age(std::time::Duration::from_secs(60));
    /// let token = s.dumps(&vec![1, 2, 3])?;
    /// assert_eq!(s.loads::<Vec<u8>>(&token)?, [1, 2, 3]);
    /// assert!(matches!(s.loads::<String>(&token), Err(Error::Payload)));
    /// # Ok::<(), itsclassified::Error>(())
    /// ```
    pub fn loads<T: DeserializeOwned>(&self, token: &str) -> Result<T, Error> {
        self.loads_at(token, SystemTime::now())
    }

    /// Like [`loads`](TimedSerializer::loads), as if the time were `now`.
    ///
    /// ```
    /// # use itsclassified::{Error, SecretKey, TimedSerializer};
    /// use std::time::{Duration, SystemTime};
    /// let s = TimedSerializer::new(SecretKey::generate(), "s").max_age(Duration::from_secs(60));
    /// let token = s.dumps(&1u8)?;
    /// let later = SystemTime::now() + Duration::from_secs(120);
    /// assert!(matches!(s.loads_at::<u8>(&token, later), Err(Error::Expired { .. })));
    /// # Ok::<(), itsclassified::Error>(())
    /// ```
    pub fn loads_at<T: DeserializeOwned>(&self, token: &str, now: SystemTime) -> Result<T, Error> {
        self.loads_with_meta_at(token, now).map(|l| l.payload)
    }

    /// Like [`loads`](TimedSerializer::loads), returning the payload with its verified
    /// [`TokenMeta`]: issued-at, age, and which key opened it.
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer};
    /// let s = TimedSerializer::new(SecretKey::generate(), "s").max_age(std::time::Duration::from_secs(60));
    /// let loaded = s.loads_with_meta::<String>(&s.dumps("hi")?)?;
    /// assert_eq!(loaded.payload, "hi");
    /// assert_eq!(loaded.meta.key_id, s.primary_key_id());
    /// # Ok::<(), itsclassified::Error>(())
    /// ```
    pub fn loads_with_meta<T: DeserializeOwned>(&self, token: &str) -> Result<Loaded<T>, Error> {
        self.loads_with_meta_at(token, SystemTime::now())
    }

    /// Like [`loads_with_meta`](TimedSerializer::loads_with_meta), as if the time were `now`.
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer};
    /// use std::time::{Duration, SystemTime};
    /// let s = TimedSerializer::new(SecretKey::generate(), "s").max_age(Duration::from_secs(600));
    /// let t0 = SystemTime::now();
    /// let token = s.dumps_at(&1u8, t0)?;
    /// let meta = s.loads_with_meta_at::<u8>(&token, t0 + Duration::from_secs(90))?.meta;
    /// assert_eq!(meta.age, Duration::from_secs(90));
    /// # Ok::<(), itsclassified::Error>(())
    /// ```
    pub fn loads_with_meta_at<T: DeserializeOwned>(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<Loaded<T>, Error> {
        let (opened, meta) = self.open_checked(token, now)?;
        let payload = deserialize(opened.plaintext())?;
        Ok(Loaded { payload, meta })
    }

    /// Re-seals an accepted token under the primary key, with the same payload bytes and the
    /// same issued-at (so it expires when the original would have) and a fresh nonce: for
    /// rolling key rotation, like Fernet's `MultiFernet.rotate`. The token must pass every check
    /// of `loads` except the payload type.
    ///
    /// **It does not consult revocation.** The new token has a new
    /// [token id](crate::TokenMeta::token_id), which a revocation of the old one does not
    /// cover (a subject's cutoff does: the issued-at is kept). A service that revokes tokens
    /// must check the token first (SPEC.md section 6.5): with the `axum` feature,
    /// `web::BearerSerializer::reissue` loads, checks and re-issues in one call; otherwise
    /// check [`RevocationStore::check`](crate::revocation::RevocationStore::check) with the
    /// metadata of [`loads_with_meta`](TimedSerializer::loads_with_meta) before calling this.
    ///
    /// ```
    /// use itsclassified::{SecretKey, TimedSerializer};
    ///
    /// let old = TimedSerializer::new(SecretKey::from_bytes(&[1; 32])?, "s").no_expiry();
    /// let token = old.dumps("hi")?;
    /// let ring = TimedSerializer::with_keys(
    ///     [SecretKey::from_bytes(&[2; 32])?, SecretKey::from_bytes(&[1; 32])?], "s")?.no_expiry();
    /// let fresh = ring.reissue(&token)?;
    /// assert!(ring.loads_with_meta::<String>(&fresh)?.meta.is_primary());
    /// # Ok::<(), itsclassified::Error>(())
    /// ```
    pub fn reissue(&self, token: &str) -> Result<String, Error> {
        self.reissue_at(token, SystemTime::now())
    }

    /// Like [`reissue`](TimedSerializer::reissue), as if the time were `now`.
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer};
    /// # let s = TimedSerializer::new(SecretKey::generate(), "s").no_expiry();
    /// let token = s.reissue_at(&s.dumps(&1u8)?, std::time::SystemTime::now())?;
    /// # Ok::<(), itsclassified::Error>(())
    /// ```
    pub fn reissue_at(&self, token: &str, now: SystemTime) -> Result<String, Error> {
        let (opened, _) = self.open_checked(token, now)?;
        self.seal_bytes_with(
            opened.plaintext(),
            &random_nonce()?,
            opened.header.issued_at,
        )
    }

    /// Everything `loads` checks but the payload type.
    fn open_checked(&self, token: &str, now: SystemTime) -> Result<(Opened, TokenMeta), Error> {
        if self.expiry == Expiry::NotSet {
            return Err(Error::MaxAgeNotSet);
        }
        let opened = self.ring.load().open(token, self.max_token_len)?;
        let issued_at = opened.header.issued_at;
        let now_unix = system_time_to_unix(now)?;
        let age = match now_unix.checked_sub(issued_at) {
            Some(age) => Duration::from_secs(age),
            None if issued_at - now_unix <= self.leeway.as_secs() => Duration::ZERO,
            None => {
                return Err(Error::IssuedInFuture {
                    issued_at_unix: issued_at,
                })
            }
        };
        // At most `now + leeway`: representable unless the leeway is absurd (2^63 s and more),
        // which is the service's problem, not the token's.
        let issued_at_time = unix_to_system_time(issued_at).ok_or(Error::TimeOutOfRange)?;
        if let Expiry::After(max_age) = self.expiry {
            if age > max_age {
                return Err(Error::Expired {
                    issued_at: issued_at_time,
                    age,
                    max_age,
                });
            }
        }
        let expires_at = match self.expiry {
            Expiry::After(max_age) => max_age
                .checked_add(self.leeway)
                .and_then(|d| issued_at_time.checked_add(d)),
            Expiry::NotSet | Expiry::Never => None,
        };
        let meta = TokenMeta {
            issued_at: issued_at_time,
            age,
            key_id: opened.header.key_id,
            key_index: opened.key_index,
            token_id: opened.token_id(),
            expires_at,
        };
        Ok((opened, meta))
    }
}

/// Deserializes an authenticated plaintext that must hold exactly one MessagePack value.
fn deserialize<T: DeserializeOwned>(plaintext: &[u8]) -> Result<T, Error> {
    match single_value_len(plaintext) {
        Ok(len) if len == plaintext.len() => {}
        _ => return Err(Error::Payload),
    }
    let mut de = rmp_serde::Deserializer::from_read_ref(plaintext);
    crate::depth::deserialize(&mut de).map_err(|_| Error::Payload)
}

impl fmt::Debug for TimedSerializer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimedSerializer")
            .field("key_ids", &*self.ring.load())
            .field("expiry", &self.expiry)
            .field("leeway", &self.leeway)
            .field("max_token_len", &self.max_token_len)
            .finish()
    }
}

// Compile-time proof of the thread-safety promise.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TimedSerializer>();
};

#[cfg(test)]
mod tests {
    use super::*;

    fn serializer() -> TimedSerializer {
        TimedSerializer::new(SecretKey::from_bytes(&[0; 32]).unwrap(), "salt")
    }

    #[test]
    fn configured_expiry_is_the_policy_set() {
        assert_eq!(serializer().configured_expiry(), Expiry::NotSet);
        assert_eq!(serializer().no_expiry().configured_expiry(), Expiry::Never);
        let age = Duration::from_secs(900);
        assert_eq!(
            serializer().max_age(age).configured_expiry(),
            Expiry::After(age)
        );
    }

    #[test]
    fn configured_max_token_len_is_the_limit_set_capped() {
        assert_eq!(
            serializer().configured_max_token_len(),
            TimedSerializer::DEFAULT_MAX_TOKEN_LEN
        );
        assert_eq!(
            serializer().max_token_len(300).configured_max_token_len(),
            300
        );
        assert_eq!(
            serializer()
                .max_token_len(usize::MAX)
                .configured_max_token_len(),
            MAX_TOKEN_LEN_LIMIT
        );
    }
}
