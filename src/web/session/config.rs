//! The session cookie's policy: its attributes, their defaults, and the checks that keep
//! browsers from silently dropping it.

use std::fmt;
use std::marker::PhantomData;
use std::time::{Duration, SystemTime};

use cookie::Cookie;

use super::layer::SessionLayer;
use crate::web::revocation::{AnyRevocation, Revocation};
use crate::web::Clock;
use crate::TimedSerializer;

/// The `SameSite` attribute of the session cookie.
///
/// ```
/// use itsclassified::web::SameSite;
/// assert_eq!(SameSite::default(), SameSite::Lax);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SameSite {
    /// Sent only with requests that start on the same site.
    Strict,
    /// Also sent with top-level navigations from other sites (following a link), not with
    /// cross-site subrequests or cross-site `POST` forms. The default.
    #[default]
    Lax,
    /// Sent with every request, cross-site ones included. Needs `Secure`; protect every
    /// state-changing route against CSRF yourself.
    None,
}

impl SameSite {
    fn to_cookie(self) -> cookie::SameSite {
        match self {
            SameSite::Strict => cookie::SameSite::Strict,
            SameSite::Lax => cookie::SameSite::Lax,
            SameSite::None => cookie::SameSite::None,
        }
    }
}

/// A session configuration that [`SessionLayerBuilder::build`] refuses.
///
/// ```
/// use itsclassified::web::{SessionConfigError, SessionLayer};
/// use itsclassified::{SecretKey, TimedSerializer};
///
/// let no_expiry = TimedSerializer::new(SecretKey::generate(), "session").no_expiry();
/// assert!(matches!(SessionLayer::<String>::new(no_expiry), Err(SessionConfigError::MaxAgeNotSet)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionConfigError {
    /// The serializer has no `max_age` of at least one second (it was built without
    /// [`TimedSerializer::max_age`], or with [`TimedSerializer::no_expiry`]). Session cookies
    /// must expire: the cookie's `Max-Age` is the serializer's `max_age`.
    #[error("the session serializer needs .max_age(..) of at least one second")]
    MaxAgeNotSet,
    /// The cookie name is empty or not an RFC 6265 token (letters, digits and
    /// ``!#$%&'*+-.^_`|~``).
    #[error("the session cookie name is not a valid cookie name")]
    InvalidCookieName,
    /// The domain is empty or has characters other than ASCII letters, digits, `-` and `.`.
    #[error("the session cookie domain is not a valid domain name")]
    InvalidDomain,
    /// The path does not start with `/` or has a character other than visible ASCII except `;`.
    #[error(
        "the session cookie path must start with '/' and contain no ';' or control characters"
    )]
    InvalidPath,
    /// A `__Host-` cookie needs `Secure`, `Path=/` and no `Domain`; a `__Secure-` cookie needs
    /// `Secure`. Browsers drop such cookies otherwise.
    #[error("the session cookie name prefix (__Host- or __Secure-) requires attributes that are not set")]
    CookiePrefix,
    /// `SameSite=None` needs `Secure`; browsers drop such cookies otherwise.
    #[error("SameSite=None requires a Secure cookie")]
    SameSiteNoneInsecure,
    /// The renewal threshold is not below the serializer's `max_age`, so no session would ever
    /// be renewed.
    #[error("renew_after must be shorter than the serializer's max_age")]
    RenewAfterTooLong,
    /// Sliding renewal without an absolute lifetime: an active session (or a stolen cookie
    /// replayed often enough) would never expire. Set
    /// [`absolute_lifetime`](SessionLayerBuilder::absolute_lifetime) too.
    #[error("renew_after needs an absolute_lifetime, or active sessions never expire")]
    RenewWithoutAbsoluteLifetime,
    /// The absolute lifetime is shorter than a second.
    #[error("absolute_lifetime must be at least one second")]
    AbsoluteLifetimeTooShort,
}

/// The cookie policy of a [`SessionLayer`], checked by [`SessionLayerBuilder::build`].
#[derive(Debug)]
pub(super) struct Config {
    pub(super) serializer: TimedSerializer,
    /// Whole seconds, at least one.
    pub(super) max_age: Duration,
    pub(super) name: String,
    pub(super) domain: Option<String>,
    pub(super) path: String,
    pub(super) same_site: SameSite,
    pub(super) secure: bool,
    pub(super) renew_after: Option<Duration>,
    /// Whole seconds, at least one.
    pub(super) absolute_lifetime: Option<Duration>,
    pub(super) reseal_fallback: bool,
    pub(super) clock: Clock,
    pub(super) revocation: Option<AnyRevocation>,
}

/// The cookie name when none is chosen: `__Host-session` where the cookie qualifies for the
/// prefix (`Secure`, `Path=/`, no `Domain`), else `session`. Browsers refuse a `__Host-` cookie
/// from a subdomain or without those attributes, so a sibling site cannot plant one.
pub(super) fn default_cookie_name(secure: bool, path: &str, domain: Option<&str>) -> &'static str {
    if secure && path == "/" && domain.is_none() {
        "__Host-session"
    } else {
        "session"
    }
}

impl Config {
    /// The session cookie without value and lifetime.
    fn cookie(&self, value: String) -> Cookie<'static> {
        let mut cookie = Cookie::new(self.name.clone(), value);
        cookie.set_http_only(true);
        cookie.set_secure(self.secure);
        cookie.set_same_site(self.same_site.to_cookie());
        cookie.set_path(self.path.clone());
        if let Some(domain) = &self.domain {
            cookie.set_domain(domain.clone());
        }
        cookie
    }

    /// A cookie with the token that the browser keeps for `lifetime` (whole seconds).
    pub(super) fn live_cookie(&self, token: String, lifetime: Duration) -> Cookie<'static> {
        let mut cookie = self.cookie(token);
        let secs = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
        cookie.set_max_age(cookie::time::Duration::seconds(secs));
        cookie
    }

    pub(super) fn removal_cookie(&self) -> Cookie<'static> {
        let mut cookie = self.cookie(String::new());
        // Empty value, Max-Age=0 and an Expires in the past.
        cookie.make_removal();
        cookie
    }
}

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
    serializer: TimedSerializer,
    name: Option<String>,
    domain: Option<String>,
    path: String,
    same_site: SameSite,
    secure: bool,
    renew_after: Option<Duration>,
    absolute_lifetime: Option<Duration>,
    reseal_fallback: bool,
    clock: Clock,
    revocation: Option<AnyRevocation>,
    _payload: PhantomData<fn() -> T>,
}

impl<T> SessionLayerBuilder<T> {
    pub(super) fn new(serializer: TimedSerializer) -> SessionLayerBuilder<T> {
        SessionLayerBuilder {
            serializer,
            name: None,
            domain: None,
            path: "/".into(),
            same_site: SameSite::Lax,
            secure: true,
            renew_after: None,
            absolute_lifetime: None,
            reseal_fallback: true,
            clock: Clock::default(),
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
        self.name = Some(name.into());
        self
    }

    /// The cookie's `Domain` attribute; none by default, so the cookie goes back only to the
    /// host that set it. With a domain it also goes to every subdomain: set it only when they
    /// must share the session.
    #[must_use]
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// The cookie's `Path` attribute; `/` by default.
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// The cookie's `SameSite` attribute; [`SameSite::Lax`] by default.
    #[must_use]
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
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
        self.secure = false;
        self
    }

    /// Sliding expiry: a session whose cookie is at least `age` old (whole seconds) gets a new
    /// cookie, issued now, on its next request, even if the handler did not change it. Active
    /// users then stay logged in while an idle session still expires after `max_age`. Off by
    /// default; `age` must be shorter than `max_age` (half of it is a common choice).
    #[must_use]
    pub fn renew_after(mut self, age: Duration) -> Self {
        self.renew_after = Some(age);
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
        self.absolute_lifetime = Some(lifetime);
        self
    }

    /// Stops re-sealing cookies opened by a fallback key. By default, during a key rotation, a
    /// session cookie made under a fallback key is re-issued under the primary key on a
    /// response whose request read the session, so active sessions move to the new key
    /// without user action (and none is lost when the old key is removed).
    #[must_use]
    pub fn keep_fallback_cookies(mut self) -> Self {
        self.reseal_fallback = false;
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
        self.clock = Clock::custom(now);
        self
    }

    /// Consults a revocation store for every request that carries a session cookie, before the
    /// handler runs: a revoked cookie, or one of a subject issued at or before the subject's
    /// cutoff, gives an empty session exactly like an invalid cookie (no 500, no `Set-Cookie`),
    /// and so does every cookie while the store cannot answer (unless
    /// [fail-open](Revocation::insecure_fail_open)); see [`Revocation`]. With a store, the cookie
    /// is decrypted and checked on every request that carries one, whether or not the handler
    /// reads the session. [`Session::clear_and_revoke`](super::Session::clear_and_revoke)
    /// revokes the presented cookie on logout.
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
        let max_age = match self.serializer.configured_expiry().max_age() {
            Some(d) if d.as_secs() >= 1 => Duration::from_secs(d.as_secs()),
            _ => return Err(SessionConfigError::MaxAgeNotSet),
        };
        let name = match self.name {
            Some(name) => name,
            None => {
                default_cookie_name(self.secure, &self.path, self.domain.as_deref()).to_string()
            }
        };
        if !is_cookie_name(&name) {
            return Err(SessionConfigError::InvalidCookieName);
        }
        if let Some(domain) = &self.domain {
            let ok = !domain.is_empty()
                && domain
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            if !ok {
                return Err(SessionConfigError::InvalidDomain);
            }
        }
        let path_ok = self.path.starts_with('/')
            && self.path.bytes().all(|b| b.is_ascii_graphic() && b != b';');
        if !path_ok {
            return Err(SessionConfigError::InvalidPath);
        }
        let lower = name.to_ascii_lowercase();
        let host_ok = self.secure && self.path == "/" && self.domain.is_none();
        if (lower.starts_with("__host-") && !host_ok)
            || (lower.starts_with("__secure-") && !self.secure)
        {
            return Err(SessionConfigError::CookiePrefix);
        }
        if self.same_site == SameSite::None && !self.secure {
            return Err(SessionConfigError::SameSiteNoneInsecure);
        }
        if matches!(self.renew_after, Some(r) if r >= max_age) {
            return Err(SessionConfigError::RenewAfterTooLong);
        }
        let absolute_lifetime = match self.absolute_lifetime {
            Some(d) if d.as_secs() == 0 => {
                return Err(SessionConfigError::AbsoluteLifetimeTooShort)
            }
            Some(d) => Some(Duration::from_secs(d.as_secs())),
            None if self.renew_after.is_some() => {
                return Err(SessionConfigError::RenewWithoutAbsoluteLifetime)
            }
            None => None,
        };
        Ok(SessionLayer::from_config(Config {
            serializer: self.serializer,
            max_age,
            name,
            domain: self.domain,
            path: self.path,
            same_site: self.same_site,
            secure: self.secure,
            renew_after: self.renew_after,
            absolute_lifetime,
            reseal_fallback: self.reseal_fallback,
            clock: self.clock,
            revocation: self.revocation,
        }))
    }
}

impl<T> fmt::Debug for SessionLayerBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionLayerBuilder")
            .field("serializer", &self.serializer)
            .field("name", &self.name)
            .field("domain", &self.domain)
            .field("path", &self.path)
            .field("same_site", &self.same_site)
            .field("secure", &self.secure)
            .field("renew_after", &self.renew_after)
            .field("absolute_lifetime", &self.absolute_lifetime)
            .field("reseal_fallback", &self.reseal_fallback)
            .field("clock", &self.clock)
            .finish()
    }
}

/// An RFC 6265 cookie-name: an RFC 7230 token.
fn is_cookie_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SecretKey;

    fn serializer() -> TimedSerializer {
        TimedSerializer::new(SecretKey::generate(), "s").max_age(Duration::from_secs(60))
    }

    #[test]
    fn config_checks() {
        let build = |f: fn(SessionLayerBuilder<u8>) -> SessionLayerBuilder<u8>| {
            f(SessionLayer::<u8>::builder(serializer())).build().err()
        };
        assert_eq!(build(|b| b), None);
        assert_eq!(
            build(|b| b.cookie_name("")),
            Some(SessionConfigError::InvalidCookieName)
        );
        assert_eq!(
            build(|b| b.cookie_name("a;b")),
            Some(SessionConfigError::InvalidCookieName)
        );
        assert_eq!(
            build(|b| b.cookie_name("a=b")),
            Some(SessionConfigError::InvalidCookieName)
        );
        assert_eq!(
            build(|b| b.cookie_name("sé")),
            Some(SessionConfigError::InvalidCookieName)
        );
        assert_eq!(
            build(|b| b.domain("")),
            Some(SessionConfigError::InvalidDomain)
        );
        assert_eq!(
            build(|b| b.domain("a.com; Secure")),
            Some(SessionConfigError::InvalidDomain)
        );
        assert_eq!(
            build(|b| b.path("app")),
            Some(SessionConfigError::InvalidPath)
        );
        assert_eq!(
            build(|b| b.path("/a;b")),
            Some(SessionConfigError::InvalidPath)
        );
        assert_eq!(
            build(|b| b.path("/a b")),
            Some(SessionConfigError::InvalidPath)
        );
        assert_eq!(build(|b| b.cookie_name("__Host-s").path("/")), None);
        assert_eq!(
            build(|b| b.cookie_name("__Host-s").path("/a")),
            Some(SessionConfigError::CookiePrefix)
        );
        assert_eq!(
            build(|b| b.cookie_name("__host-s").domain("a.com")),
            Some(SessionConfigError::CookiePrefix)
        );
        assert_eq!(
            build(|b| b.cookie_name("__Host-s").insecure_allow_http()),
            Some(SessionConfigError::CookiePrefix)
        );
        assert_eq!(
            build(|b| b.cookie_name("__Secure-s").insecure_allow_http()),
            Some(SessionConfigError::CookiePrefix)
        );
        assert_eq!(build(|b| b.same_site(SameSite::None)), None);
        assert_eq!(
            build(|b| b.same_site(SameSite::None).insecure_allow_http()),
            Some(SessionConfigError::SameSiteNoneInsecure)
        );
        const WEEK: Duration = Duration::from_secs(7 * 86_400);
        assert_eq!(
            build(|b| b
                .renew_after(Duration::from_secs(59))
                .absolute_lifetime(WEEK)),
            None
        );
        assert_eq!(
            build(|b| b
                .renew_after(Duration::from_secs(60))
                .absolute_lifetime(WEEK)),
            Some(SessionConfigError::RenewAfterTooLong)
        );
        // Sliding renewal alone would keep an active session (or a replayed cookie) alive
        // for ever.
        assert_eq!(
            build(|b| b.renew_after(Duration::from_secs(59))),
            Some(SessionConfigError::RenewWithoutAbsoluteLifetime)
        );
        assert_eq!(build(|b| b.absolute_lifetime(WEEK)), None);
        assert_eq!(
            build(|b| b.absolute_lifetime(Duration::from_millis(999))),
            Some(SessionConfigError::AbsoluteLifetimeTooShort)
        );

        let unset = TimedSerializer::new(SecretKey::generate(), "s");
        assert_eq!(
            SessionLayer::<u8>::new(unset).err(),
            Some(SessionConfigError::MaxAgeNotSet)
        );
        let sub_second = serializer().max_age(Duration::from_millis(999));
        assert_eq!(
            SessionLayer::<u8>::new(sub_second).err(),
            Some(SessionConfigError::MaxAgeNotSet)
        );
    }

    #[test]
    fn the_default_name_takes_the_host_prefix_where_the_cookie_qualifies() {
        let name = |f: fn(SessionLayerBuilder<u8>) -> SessionLayerBuilder<u8>| {
            f(SessionLayer::<u8>::builder(serializer()))
                .build()
                .unwrap()
                .cookie_name()
                .to_string()
        };
        assert_eq!(name(|b| b), "__Host-session");
        assert_eq!(name(|b| b.same_site(SameSite::Strict)), "__Host-session");
        assert_eq!(name(|b| b.insecure_allow_http()), "session");
        assert_eq!(name(|b| b.domain("example.com")), "session");
        assert_eq!(name(|b| b.path("/app")), "session");
        assert_eq!(name(|b| b.cookie_name("sid")), "sid");
    }
}
