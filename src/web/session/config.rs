//! The builder of the session layer: the core's [`SessionPolicyBuilder`] with the revocation
//! the layer consults, under the names axum users know from this crate's earlier releases.

use std::fmt;
use std::marker::PhantomData;
use std::time::{Duration, SystemTime};

use super::layer::SessionLayer;
use crate::session::{SameSite, SessionConfigError, SessionPolicy, SessionPolicyBuilder};
use crate::web::revocation::{AnyRevocation, Revocation};
use crate::TimedSerializer;

/// Builder for [`SessionLayer`], from [`SessionLayer::builder`]. Every setting has a safe
/// default; [`build`](SessionLayerBuilder::build) checks that the cookie it describes is one
/// browsers accept.
///
/// ```
/// use itsclassified::web::{SameSite, SessionLayer};
/// use itsclassified::{SecretKey, TimedSerializer};
/// use std::time::Duration;
///
/// let serializer = TimedSerializer::new(SecretKey::generate(), "session")
///     .max_age(Duration::from_secs(8 * 3600));
/// let layer = SessionLayer::<String>::builder(serializer)
///     .same_site(SameSite::Strict)
///     .renew_after(Duration::from_secs(4 * 3600))
///     .absolute_lifetime(Duration::from_secs(7 * 24 * 3600))
///     .build()?;
/// # Ok::<(), itsclassified::web::SessionConfigError>(())
/// ```
pub struct SessionLayerBuilder<T> {
    policy: SessionPolicyBuilder,
    revocation: Option<AnyRevocation>,
    _payload: PhantomData<fn() -> T>,
}

impl<T> SessionLayerBuilder<T> {
    pub(super) fn new(serializer: TimedSerializer) -> SessionLayerBuilder<T> {
        SessionLayerBuilder {
            policy: SessionPolicy::builder(serializer),
            revocation: None,
            _payload: PhantomData,
        }
    }

    /// The cookie name. By default `__Host-session` when the cookie is `Secure` with `Path=/`
    /// and no `Domain` (the defaults), else `session`. A name starting with `__Host-` makes
    /// browsers enforce those three attributes and refuse the cookie from a subdomain: keep
    /// the prefix wherever the configuration allows it.
    #[must_use]
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.policy = self.policy.cookie_name(name);
        self
    }

    /// The cookie's `Domain` attribute; none by default, so the cookie goes back only to the
    /// host that set it. With a domain it also goes to every subdomain: set it only when they
    /// must share the session.
    #[must_use]
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.policy = self.policy.domain(domain);
        self
    }

    /// The cookie's `Path` attribute; `/` by default.
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.policy = self.policy.path(path);
        self
    }

    /// The cookie's `SameSite` attribute; [`SameSite::Lax`] by default.
    #[must_use]
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.policy = self.policy.same_site(same_site);
        self
    }

    /// Drops the `Secure` attribute, so that the cookie also travels over plain HTTP.
    ///
    /// **For local development over `http://` only.** Without `Secure` the session cookie is
    /// sent in clear text to anyone on the network path of an `http://` request to your domain,
    /// and whoever reads it holds the session until it expires. Browsers treat
    /// `http://localhost` as secure already, so even local development seldom needs this.
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer, web::SessionLayer};
    /// # let s = TimedSerializer::new(SecretKey::generate(), "s").max_age(std::time::Duration::from_secs(60));
    /// let dev_only = std::env::var_os("DEV_INSECURE_COOKIES").is_some();
    /// let mut builder = SessionLayer::<u64>::builder(s);
    /// if dev_only {
    ///     builder = builder.insecure_allow_http();
    /// }
    /// let layer = builder.build()?;
    /// # Ok::<(), itsclassified::web::SessionConfigError>(())
    /// ```
    #[must_use]
    pub fn insecure_allow_http(mut self) -> Self {
        self.policy = self.policy.insecure_allow_http();
        self
    }

    /// Sliding expiry: a session whose cookie is at least `age` old (whole seconds) gets a new
    /// cookie, issued now, on its next request, even if the handler did not change it. Active
    /// users then stay logged in while an idle session still expires after `max_age`. Off by
    /// default; `age` must be shorter than `max_age` (half of it is a common choice).
    #[must_use]
    pub fn renew_after(mut self, age: Duration) -> Self {
        self.policy = self.policy.renew_after(age);
        self
    }

    /// The absolute lifetime of a session (OWASP's "absolute timeout"): a session started
    /// longer ago than this is refused, however often it was renewed. The start is kept in
    /// the cookie, authenticated, and survives renewals and [`Session::set`](super::Session::set)
    /// (only [`Session::clear`](super::Session::clear) ends a session); the cookie's `Max-Age`
    /// never reaches past it. Required with [`renew_after`](SessionLayerBuilder::renew_after).
    ///
    /// The cookie then holds the map `{"v": <value>, "s": <start, Unix seconds>}` rather than
    /// the value alone, so turning this on (or off) empties sessions made before, once; and a
    /// service reading the same cookie (the Python middleware, say) must read that shape.
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer, web::SessionLayer};
    /// use std::time::Duration;
    /// let hour = Duration::from_secs(3600);
    /// // Idle sessions end after 8 hours, active ones after 7 days at the most.
    /// let s = TimedSerializer::new(SecretKey::generate(), "s").max_age(8 * hour);
    /// let layer = SessionLayer::<u64>::builder(s)
    ///     .renew_after(hour)
    ///     .absolute_lifetime(7 * 24 * hour)
    ///     .build()?;
    /// # Ok::<(), itsclassified::web::SessionConfigError>(())
    /// ```
    #[must_use]
    pub fn absolute_lifetime(mut self, lifetime: Duration) -> Self {
        self.policy = self.policy.absolute_lifetime(lifetime);
        self
    }

    /// How many cookies one session may take: 1 by default, at most 16. A session whose cookie
    /// would be longer than 4096 bytes is split into `<name>.0`, `<name>.1`, ... (SPEC.md
    /// section 10.3); beyond this many the response is an empty 500 and the log names this
    /// setting.
    ///
    /// Large cookies cost every request: the browser sends all of them with each request to the
    /// path, and many proxies refuse request headers over 8 KB. Keep sessions small (ids, not
    /// records) and raise this only where a session must carry more.
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer, web::SessionLayer};
    /// # let s = TimedSerializer::new(SecretKey::generate(), "s").max_age(std::time::Duration::from_secs(60));
    /// let layer = SessionLayer::<Vec<String>>::builder(s).max_chunks(3).build()?;
    /// # Ok::<(), itsclassified::web::SessionConfigError>(())
    /// ```
    #[must_use]
    pub fn max_chunks(mut self, max_chunks: usize) -> Self {
        self.policy = self.policy.max_chunks(max_chunks);
        self
    }

    /// Adds the `Partitioned` attribute (CHIPS), for a service embedded in other sites' pages:
    /// browsers that partition third-party cookies keep this one per top-level site. Needs
    /// `Secure`.
    #[must_use]
    pub fn partitioned(mut self) -> Self {
        self.policy = self.policy.partitioned();
        self
    }

    /// Stops re-sealing cookies opened by a fallback key. By default, during a key rotation, a
    /// session cookie made under a fallback key is re-issued under the primary key on a
    /// response whose request read the session, so active sessions move to the new key
    /// without user action (and none is lost when the old key is removed).
    #[must_use]
    pub fn keep_fallback_cookies(mut self) -> Self {
        self.policy = self.policy.keep_fallback_cookies();
        self
    }

    /// Replaces the system clock by `now` for loading and issuing cookies, for tests of expiry
    /// and renewal. (The `Expires` date of a clearing cookie is always in the past.)
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer, web::SessionLayer};
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// use std::time::{Duration, SystemTime};
    ///
    /// let offset = Arc::new(AtomicU64::new(0));
    /// let clock = offset.clone();
    /// # let s = TimedSerializer::new(SecretKey::generate(), "s").max_age(Duration::from_secs(60));
    /// let layer = SessionLayer::<u64>::builder(s)
    ///     .with_clock(move || SystemTime::now() + Duration::from_secs(clock.load(Ordering::Relaxed)))
    ///     .build()?;
    /// offset.store(3600, Ordering::Relaxed); // an hour later
    /// # Ok::<(), itsclassified::web::SessionConfigError>(())
    /// ```
    #[must_use]
    pub fn with_clock(mut self, now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.policy = self.policy.with_clock(now);
        self
    }

    /// Consults a revocation store for every request that carries a session cookie, before the
    /// handler runs: a revoked session (its id, on logout), or one of a subject issued at or
    /// before the subject's cutoff, is an empty session exactly like an invalid cookie (no 500,
    /// no `Set-Cookie`). While the store cannot answer (unless
    /// [fail-open](Revocation::insecure_fail_open)), extracting the [`Session`](super::Session)
    /// is a 503 with `Retry-After`, and the response carries no `Set-Cookie`: the session is
    /// neither read as empty nor replaced. See [`Revocation`]. With a store, the cookie is
    /// decrypted and checked on every request that carries one, whether or not the handler
    /// reads the session. [`Session::clear_and_revoke`](super::Session::clear_and_revoke)
    /// revokes the session (every copy of its cookie) on logout, and a new session of a subject
    /// is issued after the subject's cutoff, so a login right after "log out everywhere" works.
    ///
    /// ```
    /// use itsclassified::revocation::{MemoryStore, RevocationStore};
    /// use itsclassified::web::{Revocation, SessionLayer};
    /// use itsclassified::{SecretKey, TimedSerializer};
    /// use serde::{Deserialize, Serialize};
    /// use std::sync::Arc;
    ///
    /// #[derive(Clone, Serialize, Deserialize)]
    /// struct UserSession { user_id: String }
    ///
    /// let store: Arc<dyn RevocationStore> = Arc::new(MemoryStore::new());
    /// # let s = TimedSerializer::new(SecretKey::generate(), "session").max_age(std::time::Duration::from_secs(3600));
    /// let layer = SessionLayer::<UserSession>::builder(s)
    ///     .revocation(Revocation::new(store).subject(|s: &UserSession| Some(s.user_id.clone())))
    ///     .build()?;
    /// # Ok::<(), itsclassified::web::SessionConfigError>(())
    /// ```
    #[must_use]
    pub fn revocation(mut self, revocation: Revocation<T>) -> Self
    where
        T: 'static,
    {
        self.revocation = Some(AnyRevocation::new(revocation));
        self
    }

    /// Checks the settings and makes the layer.
    ///
    /// Fails with [`SessionConfigError::MaxAgeNotSet`] if the serializer has no `max_age` of at
    /// least a second, and with the other [`SessionConfigError`]s for a cookie that browsers
    /// would refuse or that would break the `Set-Cookie` header.
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer, web::{SessionConfigError, SessionLayer}};
    /// # let s = TimedSerializer::new(SecretKey::generate(), "s").max_age(std::time::Duration::from_secs(60));
    /// let err = SessionLayer::<u64>::builder(s).cookie_name("my session").build().unwrap_err();
    /// assert_eq!(err, SessionConfigError::InvalidCookieName);
    /// ```
    pub fn build(self) -> Result<SessionLayer<T>, SessionConfigError> {
        let policy = self.policy.build()?;
        if let Some(revocation) = &self.revocation {
            // What its `revoke_subject` must keep a cutoff for.
            revocation.attach(policy.serializer());
        }
        Ok(SessionLayer::from_parts(policy, self.revocation))
    }
}

impl<T> fmt::Debug for SessionLayerBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionLayerBuilder")
            .field("policy", &self.policy)
            .field("revocation", &self.revocation)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SecretKey;

    #[test]
    fn the_builder_hands_every_setting_to_the_core_policy() {
        let s = TimedSerializer::new(SecretKey::generate(), "s").max_age(Duration::from_secs(60));
        let layer = SessionLayer::<u8>::builder(s.clone())
            .cookie_name("sid")
            .domain("example.com")
            .path("/app")
            .same_site(SameSite::Strict)
            .partitioned()
            .max_chunks(3)
            .renew_after(Duration::from_secs(30))
            .absolute_lifetime(Duration::from_secs(600))
            .keep_fallback_cookies()
            .with_clock(SystemTime::now)
            .build()
            .unwrap();
        let debug = format!("{layer:?}");
        for field in [
            "\"sid\"",
            "Some(\"example.com\")",
            "\"/app\"",
            "Strict",
            "partitioned: true",
            "max_chunks: 3",
            "renew_after: Some(30s)",
            "absolute_lifetime: Some(600s)",
            "reseal_fallback: false",
            "Clock(custom)",
        ] {
            assert!(debug.contains(field), "{field} in {debug}");
        }
        let err = SessionLayer::<u8>::builder(s)
            .insecure_allow_http()
            .partitioned()
            .build();
        assert_eq!(err.unwrap_err(), SessionConfigError::PartitionedInsecure);
    }
}
