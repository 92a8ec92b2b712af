//! Revoking tokens before they expire: logout that sticks, and "log out everywhere".
//!
//! A token of this crate is stateless: it loads until it expires, wherever it is presented. A
//! [`RevocationStore`] adds the one piece of state that revocation needs, and no more:
//!
//! - **this token**: [`revoke`](RevocationStore::revoke) one token by its [`TokenId`] until the
//!   moment it would have expired anyway ([`TokenMeta::expires_at`]); after that its entry is
//!   dropped, so the store holds the revocations of one `max_age` window at most;
//! - **everything of one subject up to now** ("log out everywhere", a password change, a locked
//!   account): [`revoke_subject`](RevocationStore::revoke_subject) records a cutoff; every token
//!   of that subject **issued at or before the cutoff second** is refused. Issued-at times are
//!   whole seconds; an issuer that reads the cutoff ([`subject_cutoff`](RevocationStore::subject_cutoff))
//!   issues a new token one second after it, so a login right after "log out everywhere" works
//!   (the web doors do so).
//!
//! The subject is whatever the application names its users by (a user id, say); the store
//! only sees it through [`check`](RevocationStore::check). A store keeps long subjects as a
//! SHA-256 hash, so that no entry grows with its subject.
//!
//! Stores: [`MemoryStore`] (one process; bounded; no async runtime needed) and, with the
//! feature `redis`, [`RedisStore`] (shared by every instance of a service). The web extractors
//! consult a store through [`web::Revocation`] (feature `axum` or `actix`), which adds the
//! timeout and the fail-closed policy, and revokes through the same subject function and
//! token lifetimes the checks use (`Bearer::revoke`, `Revocation::revoke_subject`): a web
//! service should revoke that way, which fails loudly when mis-wired. The store-level calls
//! below are for advanced use: code outside the web doors calls
//! [`check`](RevocationStore::check) with the [`TokenMeta`] that
//! [`loads_with_meta`](crate::TimedSerializer::loads_with_meta) returns, and passes `retain`
//! itself.
//!
//! ```
//! use itsclassified::revocation::{MemoryStore, RevocationStatus, RevocationStore};
//! use itsclassified::{SecretKey, TimedSerializer};
//! use std::time::Duration;
//!
//! # fn block_on<F: std::future::Future>(f: F) -> F::Output { tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f) }
//! # block_on(async {
//! let tokens = TimedSerializer::new(SecretKey::generate(), "api-token")
//!     .max_age(Duration::from_secs(900));
//! let store = MemoryStore::new();
//!
//! let token = tokens.dumps("user-1")?;
//! let loaded = tokens.loads_with_meta::<String>(&token)?;
//! let subject = Some(loaded.payload.as_str());
//! assert_eq!(store.check(&loaded.meta, subject).await?, RevocationStatus::Active);
//!
//! assert!(store.revoke(&loaded.meta).await?); // logout: this token only
//! assert_eq!(store.check(&loaded.meta, subject).await?, RevocationStatus::Revoked);
//! assert!(!store.revoke(&loaded.meta).await?); // revoked already
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

#![cfg_attr(feature = "redis", doc = "\n[`RedisStore`]: RedisStore")]
#![cfg_attr(
    not(feature = "redis"),
    doc = "\n[`RedisStore`]: https://docs.rs/itsclassified/latest/itsclassified/revocation/struct.RedisStore.html"
)]
#![cfg_attr(
    any(feature = "axum", feature = "actix"),
    doc = "\n[`web::Revocation`]: crate::web::Revocation"
)]
#![cfg_attr(
    not(any(feature = "axum", feature = "actix")),
    doc = "\n[`web::Revocation`]: https://docs.rs/itsclassified/latest/itsclassified/web/struct.Revocation.html"
)]

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::session::SessionId;
use crate::TokenMeta;

mod memory;
#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::RedisStore;
/// The id a revocation records: defined by the wire format (SPEC.md 6.4), re-exported here.
pub use crate::wire::TokenId;
pub use memory::MemoryStore;

/// How far past the revoking instance's clock a "log out everywhere" cutoff reaches
/// (SPEC.md section 10.5): 30 seconds. A token minted just before the cutoff by an instance
/// whose clock runs up to this much ahead is still refused. Issuers that know the subject's
/// cutoff ([`RevocationStore::subject_cutoff`]) issue new tokens one second after it, so that a
/// login right after "log out everywhere" works; the margin is below the default leeway (60 s),
/// so such a token still loads everywhere.
pub const CUTOFF_MARGIN: Duration = Duration::from_secs(30);

/// What [`RevocationStore::check`] found. Both refusals refuse the token alike; they are told
/// apart for the logs (a single logout, or "log out everywhere").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum RevocationStatus {
    /// Neither the token nor its subject's tokens of that time are revoked.
    Active,
    /// The token (or its session) was revoked by its id: a logout.
    Revoked,
    /// The token was issued at or before its subject's cutoff: "log out everywhere" (or, in a
    /// [`MemoryStore`], a subject past its per-subject bound). A token revoked by its id is
    /// [`Revoked`](RevocationStatus::Revoked), whatever its subject's cutoff.
    SubjectCutoff,
}

impl RevocationStatus {
    /// Whether the token is refused, for either reason.
    ///
    /// ```
    /// use itsclassified::revocation::RevocationStatus;
    /// assert!(!RevocationStatus::Active.is_revoked());
    /// assert!(RevocationStatus::Revoked.is_revoked());
    /// assert!(RevocationStatus::SubjectCutoff.is_revoked());
    /// ```
    pub fn is_revoked(self) -> bool {
        !matches!(self, RevocationStatus::Active)
    }
}

/// Why a [`RevocationStore`] could not answer or record. The messages are fixed text; a
/// backend's own error is kept as the [source](std::error::Error::source), for logs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store did not answer within its timeout.
    #[error("the revocation store did not answer in time")]
    Timeout,
    /// The store (a Redis server, say) failed or cannot be reached.
    #[error("the revocation store failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The [`MemoryStore`] holds as many live entries as its capacity allows; the revocation was
    /// not recorded.
    #[error("the revocation store is full")]
    Full,
    /// The token never expires ([`no_expiry`](crate::TimedSerializer::no_expiry)), so its entry
    /// (or a cutoff that covers it) would have to be kept forever: rotate its key out of the
    /// ring instead.
    #[error("tokens that never expire cannot be revoked")]
    NeverExpires,
    /// No revocation store is configured where one was asked to revoke: a [`Bearer`] whose
    /// `BearerSerializer` has no revocation for its payload type, a session layer without one.
    /// A bug of the service's wiring, reported rather than answered with a silent `Ok` that
    /// would revoke nothing.
    ///
    /// [`Bearer`]: https://docs.rs/itsclassified/latest/itsclassified/web/struct.Bearer.html
    #[error("no revocation store is configured")]
    NotConfigured,
    /// "Log out everywhere" was asked for a payload of which the revocation names no subject:
    /// it has no subject function, or the function answers `None` for this payload. A bug of
    /// the service's wiring (the checks could not refuse that subject's tokens either).
    #[error("the revocation names no subject for this payload")]
    NoSubject,
    /// "Log out everywhere" was asked of a revocation attached to no serializer (no
    /// `BearerSerializer::revocation`, no session layer), which therefore cannot know how long
    /// the tokens its cutoff must refuse live. Attach the revocation (a clone of it) where
    /// tokens are checked.
    #[error("the revocation is attached to no serializer")]
    NotAttached,
    /// The store failed or timed out a moment ago, and is not asked again until its circuit
    /// breaker lets a probe through (`RedisStore`, feature `redis`): the
    /// answer is at once, not after another timeout.
    #[error("the revocation store failed a moment ago and is not asked again yet")]
    CircuitOpen,
}

impl StoreError {
    /// Whether the store could not answer or record (down, slow, full, its breaker open):
    /// answer 503 and let the client retry. `false` for the errors of a service's wiring
    /// ([`NotConfigured`](StoreError::NotConfigured), [`NoSubject`](StoreError::NoSubject),
    /// [`NotAttached`](StoreError::NotAttached), [`NeverExpires`](StoreError::NeverExpires)),
    /// which no retry mends: answer 500.
    ///
    /// ```
    /// use itsclassified::revocation::StoreError;
    /// assert!(StoreError::Timeout.is_unavailable());
    /// assert!(!StoreError::NotConfigured.is_unavailable());
    /// ```
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Timeout
                | StoreError::Backend(_)
                | StoreError::Full
                | StoreError::CircuitOpen
        )
    }
}

/// The future a [`RevocationStore`] method returns: boxed, so that the trait is object-safe and
/// a store can be shared as `Arc<dyn RevocationStore>`.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Where revocations are kept: a token denylist by [`TokenId`] and a cutoff per subject. See the
/// [module documentation](self) for the two kinds of revocation.
///
/// Object-safe: a service keeps one `Arc<dyn RevocationStore>` (in its axum state, say) and
/// shares it between the bearer tokens, the session cookies and its logout routes. A store
/// implements the three required methods; [`revoke`](RevocationStore::revoke) and
/// [`check`](RevocationStore::check) are the convenient forms that take a [`TokenMeta`].
///
/// Every entry carries the moment after which it no longer matters; a store drops it then, so
/// it never grows beyond the revocations of one token lifetime.
pub trait RevocationStore: Send + Sync {
    /// Refuses the token `id` until `until` (inclusive, whole seconds); a moment in the past
    /// records nothing. Answers `true` unless the token was revoked already: atomic, so that
    /// of two requests revoking one token at once exactly one gets `true` (a single-use link
    /// is used once).
    fn revoke_token(&self, id: TokenId, until: SystemTime) -> StoreFuture<'_, bool>;

    /// Refuses every token of `subject` issued at or before `cutoff` (whole seconds: the cutoff
    /// second itself included), remembered until `cutoff + retain`. `retain` must cover the
    /// longest lifetime of the tokens checked against this store:
    /// [`TimedSerializer::revocation_retention`](crate::TimedSerializer::revocation_retention)
    /// (`max_age + leeway`) of each serializer, the longest of them. A later cutoff replaces an
    /// earlier one; an earlier one never replaces a later one.
    fn revoke_subject<'a>(
        &'a self,
        subject: &'a str,
        cutoff: SystemTime,
        retain: Duration,
    ) -> StoreFuture<'a, ()>;

    /// Whether the token `id`, issued at `issued_at`, of `subject` (if the application names
    /// one) is revoked.
    fn status<'a>(
        &'a self,
        id: TokenId,
        issued_at: SystemTime,
        subject: Option<&'a str>,
    ) -> StoreFuture<'a, RevocationStatus>;

    /// Refuses every token of the session `id` (SPEC.md section 10.5) until `until` (inclusive,
    /// whole seconds): logout, which must also refuse copies of the cookie taken before the
    /// session was renewed or changed. A moment in the past records nothing; a later `until`
    /// extends an entry, an earlier one never shortens it. `true` unless it was revoked already.
    fn revoke_session(&self, id: SessionId, until: SystemTime) -> StoreFuture<'_, bool>;

    /// Whether a token of the session `id`, issued at `issued_at`, of `subject` (if the
    /// application names one) is revoked: the session id is, or the subject's cutoff is at or
    /// after `issued_at`.
    fn session_status<'a>(
        &'a self,
        id: SessionId,
        issued_at: SystemTime,
        subject: Option<&'a str>,
    ) -> StoreFuture<'a, RevocationStatus>;

    /// The subject's cutoff in force, if any: what an issuer reads to issue a new token of the
    /// subject one second after it (a login right after "log out everywhere").
    fn subject_cutoff<'a>(&'a self, subject: &'a str) -> StoreFuture<'a, Option<SystemTime>>;

    /// "Log out everywhere" now: refuses every token of `subject` issued up to the store's
    /// caller's clock plus [`CUTOFF_MARGIN`], remembered for `retain` after that (see
    /// [`revoke_subject`](RevocationStore::revoke_subject) for `retain`).
    fn revoke_subject_now<'a>(&'a self, subject: &'a str, retain: Duration) -> StoreFuture<'a, ()> {
        self.revoke_subject(subject, SystemTime::now() + CUTOFF_MARGIN, retain)
    }

    /// [`revoke_token`](RevocationStore::revoke_token), naming whose token it is: `subject` (as
    /// the checks name it) and `issued_at`, the token's issued-at. A store with a per-subject
    /// bound ([`MemoryStore`]) uses them so that one subject cannot fill the store: past its
    /// bound, it records a cutoff for the subject covering `issued_at` instead of one more
    /// entry. Stores without one ignore them (the default).
    fn revoke_token_of<'a>(
        &'a self,
        id: TokenId,
        until: SystemTime,
        issued_at: SystemTime,
        subject: Option<&'a str>,
    ) -> StoreFuture<'a, bool> {
        let _ = (issued_at, subject);
        self.revoke_token(id, until)
    }

    /// [`revoke_session`](RevocationStore::revoke_session), naming whose session it is (see
    /// [`revoke_token_of`](RevocationStore::revoke_token_of)); `issued_at` is the latest
    /// issued-at a copy of the session can have (the revoking instance's now).
    fn revoke_session_of<'a>(
        &'a self,
        id: SessionId,
        until: SystemTime,
        issued_at: SystemTime,
        subject: Option<&'a str>,
    ) -> StoreFuture<'a, bool> {
        let _ = (issued_at, subject);
        self.revoke_session(id, until)
    }

    /// [`revoke`](RevocationStore::revoke), naming the token's subject (see
    /// [`revoke_token_of`](RevocationStore::revoke_token_of)): what `web::Revocation::revoke`
    /// (feature `axum`) calls.
    fn revoke_of<'a>(
        &'a self,
        meta: &TokenMeta,
        subject: Option<&'a str>,
    ) -> StoreFuture<'a, bool> {
        match meta.expires_at {
            Some(until) => self.revoke_token_of(meta.token_id, until, meta.issued_at, subject),
            None => Box::pin(std::future::ready(Err(StoreError::NeverExpires))),
        }
    }

    /// Revokes the token that `meta` describes until it would have expired anyway
    /// ([`TokenMeta::expires_at`]); `true` unless it was revoked already (see
    /// [`revoke_token`](RevocationStore::revoke_token)). Fails with
    /// [`StoreError::NeverExpires`] for a token of a serializer without expiry.
    fn revoke(&self, meta: &TokenMeta) -> StoreFuture<'_, bool> {
        match meta.expires_at {
            Some(until) => self.revoke_token(meta.token_id, until),
            None => Box::pin(std::future::ready(Err(StoreError::NeverExpires))),
        }
    }

    /// Whether the token that `meta` describes, of `subject`, is revoked: its id is on the
    /// denylist, or it was issued at or before the subject's cutoff.
    fn check<'a>(
        &'a self,
        meta: &TokenMeta,
        subject: Option<&'a str>,
    ) -> StoreFuture<'a, RevocationStatus> {
        self.status(meta.token_id, meta.issued_at, subject)
    }
}

/// Seconds since the Unix epoch, 0 before it.
pub(crate) fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The fixed-size name a subject is stored under: SHA-256 with a domain-separation prefix.
/// Not secret (subjects are usually guessable user ids); it bounds the size of every entry.
pub(crate) fn subject_hash(subject: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"itsclassified revocation subject\0");
    h.update(subject.as_bytes());
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_ids_print_as_22_base64url_characters() {
        let id = TokenId::from_bytes([0xfb; 16]);
        assert_eq!(id.to_string(), "-_v7-_v7-_v7-_v7-_v7-w");
        assert_eq!(format!("{id:?}"), "TokenId(-_v7-_v7-_v7-_v7-_v7-w)");
        assert_eq!(TokenId::from_bytes([0; 16]).to_string(), "A".repeat(22));
    }

    #[test]
    fn both_refusals_are_revocations_and_only_outages_are_unavailability() {
        assert!(!RevocationStatus::Active.is_revoked());
        assert!(RevocationStatus::Revoked.is_revoked());
        assert!(RevocationStatus::SubjectCutoff.is_revoked());
        assert!(StoreError::Timeout.is_unavailable());
        assert!(StoreError::Full.is_unavailable());
        assert!(StoreError::CircuitOpen.is_unavailable());
        assert!(StoreError::Backend("x".into()).is_unavailable());
        assert!(!StoreError::NotConfigured.is_unavailable());
        assert!(!StoreError::NoSubject.is_unavailable());
        assert!(!StoreError::NotAttached.is_unavailable());
        assert!(!StoreError::NeverExpires.is_unavailable());
    }

    #[test]
    fn subjects_are_hashed_apart() {
        assert_ne!(subject_hash("a"), subject_hash("b"));
        assert_eq!(subject_hash("a"), subject_hash("a"));
    }
}
