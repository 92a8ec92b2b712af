//! The session policy: the cookie's attributes, lifetimes, renewal and chunking, their defaults,
//! and the checks that keep browsers from silently dropping the cookie. Framework-neutral: the
//! axum layer, and any other door, build one and hand it to [`SessionState`](super::SessionState).

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::envelope::{Envelope, EnvelopeRef};
use super::id::SessionId;
use super::state::within_lifetime;
use crate::clock::Clock;
use crate::wire::system_time_to_unix;
use crate::{Error, TimedSerializer, TokenMeta};

/// The most bytes a `Set-Cookie` value (name, value and attributes) may have: 4096, the least
/// that RFC 6265 (section 6.1) asks browsers to store, and what they enforce.
pub const MAX_COOKIE_LEN: usize = 4096;

/// The most chunks [`SessionPolicyBuilder::max_chunks`] accepts: 16 cookies of 4096 bytes are
/// the 64 KiB that a token may have at most (SPEC.md section 4.2).
pub const MAX_CHUNKS_LIMIT: usize = 16;

/// The `SameSite` attribute of the session cookie.
///
/// ```
/// use itsclassified::session::SameSite;
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
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// A session configuration that [`SessionPolicyBuilder::build`] refuses.
///
/// ```
/// use itsclassified::session::{SessionConfigError, SessionPolicy};
/// use itsclassified::{SecretKey, TimedSerializer};
///
/// let no_expiry = TimedSerializer::new(SecretKey::generate(), "session").no_expiry();
/// assert_eq!(SessionPolicy::new(no_expiry).unwrap_err(), SessionConfigError::MaxAgeNotSet);
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
    /// `Partitioned` needs `Secure`; browsers drop such cookies otherwise.
    #[error("Partitioned requires a Secure cookie")]
    PartitionedInsecure,
    /// The renewal threshold is not below the serializer's `max_age`, so no session would ever
    /// be renewed.
    #[error("renew_after must be shorter than the serializer's max_age")]
    RenewAfterTooLong,
    /// Sliding renewal without an absolute lifetime: an active session (or a stolen cookie
    /// replayed often enough) would never expire. Set
    /// [`absolute_lifetime`](SessionPolicyBuilder::absolute_lifetime) too.
    #[error("renew_after needs an absolute_lifetime, or active sessions never expire")]
    RenewWithoutAbsoluteLifetime,
    /// The absolute lifetime is shorter than a second.
    #[error("absolute_lifetime must be at least one second")]
    AbsoluteLifetimeTooShort,
    /// `max_chunks` is 0 or more than [`MAX_CHUNKS_LIMIT`].
    #[error("max_chunks must be between 1 and 16")]
    InvalidMaxChunks,
}

/// How sessions are kept in cookies: built by [`SessionPolicy::builder`], checked once, then
/// shared by every request (cloning is cheap: the serializer shares its keys).
#[derive(Clone)]
pub struct SessionPolicy {
    /// The serializer, with its maximum token length set to what `max_chunks` cookies hold.
    pub(crate) serializer: TimedSerializer,
    /// Whole seconds, at least one.
    pub(crate) max_age: Duration,
    pub(crate) leeway: Duration,
    pub(crate) name: String,
    pub(crate) domain: Option<String>,
    pub(crate) path: String,
    pub(crate) same_site: SameSite,
    pub(crate) secure: bool,
    pub(crate) partitioned: bool,
    pub(crate) renew_after: Option<Duration>,
    /// Whole seconds, at least one.
    pub(crate) absolute_lifetime: Option<Duration>,
    pub(crate) max_chunks: usize,
    pub(crate) reseal_fallback: bool,
    pub(crate) clock: Clock,
    /// The attributes after the value (`; HttpOnly; ...` up to before `Max-Age`), made once.
    pub(crate) attributes: String,
}

impl SessionPolicy {
    /// A policy with the default cookie settings (see [`SessionPolicyBuilder`]). Fails with
    /// [`SessionConfigError::MaxAgeNotSet`] if the serializer has no `max_age` of a second.
    ///
    /// ```
    /// use itsclassified::session::SessionPolicy;
    /// use itsclassified::{SecretKey, TimedSerializer};
    ///
    /// let s = TimedSerializer::new(SecretKey::generate(), "session")
    ///     .max_age(std::time::Duration::from_secs(3600));
    /// let policy = SessionPolicy::new(s)?;
    /// assert_eq!(policy.cookie_name(), "__Host-session");
    /// # Ok::<(), itsclassified::session::SessionConfigError>(())
    /// ```
    pub fn new(serializer: TimedSerializer) -> Result<SessionPolicy, SessionConfigError> {
        SessionPolicy::builder(serializer).build()
    }

    /// A builder starting from the defaults.
    pub fn builder(serializer: TimedSerializer) -> SessionPolicyBuilder {
        SessionPolicyBuilder::new(serializer)
    }

    /// The name of the session cookie (chunks are `<name>.0`, `<name>.1`, ...).
    pub fn cookie_name(&self) -> &str {
        &self.name
    }

    /// The most cookies one session may take.
    pub fn max_chunks(&self) -> usize {
        self.max_chunks
    }

    /// The absolute lifetime, if one is set.
    pub fn absolute_lifetime(&self) -> Option<Duration> {
        self.absolute_lifetime
    }

    /// The serializer that seals and opens session tokens (its maximum token length is
    /// `min(65536, 4096 × max_chunks)`).
    pub fn serializer(&self) -> &TimedSerializer {
        &self.serializer
    }

    /// A session token for a new session holding `value`, as a login issues it (a fresh
    /// session id, started and issued at `now`): the value of the `Set-Cookie` line(s), joined.
    /// For tests, tools and migrations; a web service lets its adapter issue cookies.
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer, session::SessionPolicy};
    /// # let s = TimedSerializer::new(SecretKey::generate(), "s").max_age(std::time::Duration::from_secs(60));
    /// let policy = SessionPolicy::new(s)?;
    /// let token = policy.seal_new_session_at(&"user-1", std::time::SystemTime::now())?;
    /// let opened = policy.open_session::<String>(&token)?;
    /// assert_eq!(opened.value, "user-1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn seal_new_session_at<T: Serialize + ?Sized>(
        &self,
        value: &T,
        now: SystemTime,
    ) -> Result<String, Error> {
        let start = system_time_to_unix(now)?;
        let envelope = EnvelopeRef {
            value,
            id: SessionId::generate()?,
            start,
        };
        self.serializer.dumps_at(&envelope, now)
    }

    /// Opens a session token (a cookie's value, or its chunks joined) as the session reader
    /// does (SPEC.md section 10): the token, the envelope, then the absolute lifetime, at the
    /// policy's clock. A session past its absolute lifetime is [`Error::Expired`].
    pub fn open_session<T: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<OpenedSession<T>, Error> {
        self.open_session_at(token, self.now())
    }

    /// [`open_session`](SessionPolicy::open_session) as if the time were `now`.
    pub fn open_session_at<T: DeserializeOwned>(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<OpenedSession<T>, Error> {
        let loaded = self
            .serializer
            .loads_with_meta_at::<Envelope<T>>(token, now)?;
        let envelope = loaded.payload;
        if let Some(lifetime) = self.absolute_lifetime {
            let now_secs = system_time_to_unix(now)?;
            if !within_lifetime(envelope.start, lifetime, now_secs) {
                return Err(Error::Expired {
                    issued_at: loaded.meta.issued_at,
                    age: loaded.meta.age,
                    max_age: lifetime,
                });
            }
        }
        Ok(OpenedSession {
            value: envelope.value,
            id: envelope.id,
            start: envelope.start,
            meta: loaded.meta,
        })
    }

    /// How long a revocation of a session must be kept (SPEC.md section 10.5): until no copy of
    /// any token of the session can load on any instance.
    pub(crate) fn session_retention_end(&self, now: u64, start: u64) -> u64 {
        let leeway = self.leeway.as_secs();
        // A copy issued up to the leeway in the future expires max_age + leeway after that.
        let by_age = now
            .saturating_add(leeway)
            .saturating_add(self.max_age.as_secs());
        let end = match self.absolute_lifetime {
            Some(lifetime) => by_age.min(start.saturating_add(lifetime.as_secs())),
            None => by_age,
        };
        end.saturating_add(leeway)
    }

    pub(crate) fn now(&self) -> SystemTime {
        self.clock.now()
    }
}

impl fmt::Debug for SessionPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionPolicy")
            .field("serializer", &self.serializer)
            .field("name", &self.name)
            .field("domain", &self.domain)
            .field("path", &self.path)
            .field("same_site", &self.same_site)
            .field("secure", &self.secure)
            .field("partitioned", &self.partitioned)
            .field("max_age", &self.max_age)
            .field("renew_after", &self.renew_after)
            .field("absolute_lifetime", &self.absolute_lifetime)
            .field("max_chunks", &self.max_chunks)
            .field("reseal_fallback", &self.reseal_fallback)
            .field("clock", &self.clock)
            .finish()
    }
}

/// A session token opened by [`SessionPolicy::open_session`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct OpenedSession<T> {
    /// The application's value.
    pub value: T,
    /// The session's id.
    pub id: SessionId,
    /// When the session started, Unix seconds.
    pub start: u64,
    /// The token's verified metadata.
    pub meta: TokenMeta,
}

/// The cookie name when none is chosen: `__Host-session` where the cookie qualifies for the
/// prefix (`Secure`, `Path=/`, no `Domain`), else `session`. Browsers refuse a `__Host-` cookie
/// from a subdomain or without those attributes, so a sibling site cannot plant one.
pub(crate) fn default_cookie_name(secure: bool, path: &str, domain: Option<&str>) -> &'static str {
    if secure && path == "/" && domain.is_none() {
        "__Host-session"
    } else {
        "session"
    }
}

/// Builder for [`SessionPolicy`]. Every setting has a safe default;
/// [`build`](SessionPolicyBuilder::build) checks that the cookie it describes is one browsers
/// accept.
///
/// ```
/// use itsclassified::session::{SameSite, SessionPolicy};
/// use itsclassified::{SecretKey, TimedSerializer};
/// use std::time::Duration;
///
/// let serializer = TimedSerializer::new(SecretKey::generate(), "session")
///     .max_age(Duration::from_secs(8 * 3600));
/// let policy = SessionPolicy::builder(serializer)
///     .same_site(SameSite::Strict)
///     .renew_after(Duration::from_secs(4 * 3600))
///     .absolute_lifetime(Duration::from_secs(7 * 24 * 3600))
///     .max_chunks(2)
///     .build()?;
/// # Ok::<(), itsclassified::session::SessionConfigError>(())
/// ```
pub struct SessionPolicyBuilder {
    serializer: TimedSerializer,
    name: Option<String>,
    domain: Option<String>,
    path: String,
    same_site: SameSite,
    secure: bool,
    partitioned: bool,
    renew_after: Option<Duration>,
    absolute_lifetime: Option<Duration>,
    max_chunks: usize,
    reseal_fallback: bool,
    clock: Clock,
}

impl SessionPolicyBuilder {
    fn new(serializer: TimedSerializer) -> SessionPolicyBuilder {
        SessionPolicyBuilder {
            serializer,
            name: None,
            domain: None,
            path: "/".into(),
            same_site: SameSite::Lax,
            secure: true,
            partitioned: false,
            renew_after: None,
            absolute_lifetime: None,
            max_chunks: 1,
            reseal_fallback: true,
            clock: Clock::default(),
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
    #[must_use]
    pub fn insecure_allow_http(mut self) -> Self {
        self.secure = false;
        self
    }

    /// Adds the `Partitioned` attribute (CHIPS): a browser that partitions third-party cookies
    /// keeps this one per top-level site, for a service embedded in other sites' pages. Needs
    /// `Secure`. Off by default.
    #[must_use]
    pub fn partitioned(mut self) -> Self {
        self.partitioned = true;
        self
    }

    /// Sliding expiry: a session whose cookie is at least `age` old (whole seconds) gets a new
    /// cookie on its next request, even if the handler did not change it. Active users then
    /// stay logged in while an idle session still expires after `max_age`. Off by default;
    /// `age` must be shorter than `max_age` (half of it is a common choice), and an
    /// [`absolute_lifetime`](SessionPolicyBuilder::absolute_lifetime) is required with it.
    #[must_use]
    pub fn renew_after(mut self, age: Duration) -> Self {
        self.renew_after = Some(age);
        self
    }

    /// The absolute lifetime of a session (OWASP's "absolute timeout"): a session started
    /// longer ago than this is refused, however often it was renewed. The start is kept in
    /// the cookie, authenticated, and survives renewals and changes (only clearing ends a
    /// session); the cookie's `Max-Age` never reaches past it.
    #[must_use]
    pub fn absolute_lifetime(mut self, lifetime: Duration) -> Self {
        self.absolute_lifetime = Some(lifetime);
        self
    }

    /// How many cookies one session may take (SPEC.md section 10.3); 1 by default, at most
    /// [`MAX_CHUNKS_LIMIT`]. A session whose cookie would be longer than 4096 bytes is split
    /// into `<name>.0`, `<name>.1`, ... up to this many; beyond that the response is a 500.
    ///
    /// Large cookies cost every request: the browser sends all of them with each request to the
    /// path, and many proxies and servers refuse request headers over 8 KB (nginx's default
    /// `large_client_header_buffers` is 8 KB a line). Keep sessions small (ids, not records)
    /// and raise this only where a session must carry more.
    #[must_use]
    pub fn max_chunks(mut self, max_chunks: usize) -> Self {
        self.max_chunks = max_chunks;
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
    #[must_use]
    pub fn with_clock(mut self, now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Clock::custom(now);
        self
    }

    /// Checks the settings and makes the policy.
    ///
    /// Fails with [`SessionConfigError::MaxAgeNotSet`] if the serializer has no `max_age` of at
    /// least a second, and with the other [`SessionConfigError`]s for a cookie that browsers
    /// would refuse or that would break the `Set-Cookie` header.
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer, session::{SessionConfigError, SessionPolicy}};
    /// # let s = TimedSerializer::new(SecretKey::generate(), "s").max_age(std::time::Duration::from_secs(60));
    /// let err = SessionPolicy::builder(s).cookie_name("my session").build().unwrap_err();
    /// assert_eq!(err, SessionConfigError::InvalidCookieName);
    /// ```
    pub fn build(self) -> Result<SessionPolicy, SessionConfigError> {
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
        if self.partitioned && !self.secure {
            return Err(SessionConfigError::PartitionedInsecure);
        }
        if !(1..=MAX_CHUNKS_LIMIT).contains(&self.max_chunks) {
            return Err(SessionConfigError::InvalidMaxChunks);
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
        let attributes = attributes(
            self.same_site,
            self.secure,
            &self.path,
            self.domain.as_deref(),
        );
        let leeway = self.serializer.configured_leeway();
        let max_len = (MAX_COOKIE_LEN * self.max_chunks).min(TimedSerializer::MAX_TOKEN_LEN_LIMIT);
        Ok(SessionPolicy {
            serializer: self.serializer.max_token_len(max_len),
            max_age,
            leeway,
            name,
            domain: self.domain,
            path: self.path,
            same_site: self.same_site,
            secure: self.secure,
            partitioned: self.partitioned,
            renew_after: self.renew_after,
            absolute_lifetime,
            max_chunks: self.max_chunks,
            reseal_fallback: self.reseal_fallback,
            clock: self.clock,
            attributes,
        })
    }
}

/// `; HttpOnly; SameSite=..; Secure; Path=..; Domain=..` (the attributes every line of the
/// cookie has, before `Max-Age`).
fn attributes(same_site: SameSite, secure: bool, path: &str, domain: Option<&str>) -> String {
    let mut a = format!("; HttpOnly; SameSite={}", same_site.as_str());
    if secure {
        a.push_str("; Secure");
    }
    a.push_str("; Path=");
    a.push_str(path);
    if let Some(domain) = domain {
        a.push_str("; Domain=");
        a.push_str(domain);
    }
    a
}

impl fmt::Debug for SessionPolicyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionPolicyBuilder")
            .field("serializer", &self.serializer)
            .field("name", &self.name)
            .field("domain", &self.domain)
            .field("path", &self.path)
            .field("same_site", &self.same_site)
            .field("secure", &self.secure)
            .field("partitioned", &self.partitioned)
            .field("renew_after", &self.renew_after)
            .field("absolute_lifetime", &self.absolute_lifetime)
            .field("max_chunks", &self.max_chunks)
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
        let build = |f: fn(SessionPolicyBuilder) -> SessionPolicyBuilder| {
            f(SessionPolicy::builder(serializer())).build().err()
        };
        use SessionConfigError as E;
        assert_eq!(build(|b| b), None);
        for bad in ["", "a;b", "a=b", "sé", "a b"] {
            let name = bad.to_owned();
            let err = SessionPolicy::builder(serializer())
                .cookie_name(name)
                .build()
                .err();
            assert_eq!(err, Some(E::InvalidCookieName), "{bad:?}");
        }
        assert_eq!(build(|b| b.domain("")), Some(E::InvalidDomain));
        assert_eq!(build(|b| b.domain("a.com; Secure")), Some(E::InvalidDomain));
        assert_eq!(build(|b| b.path("app")), Some(E::InvalidPath));
        assert_eq!(build(|b| b.path("/a;b")), Some(E::InvalidPath));
        assert_eq!(build(|b| b.path("/a b")), Some(E::InvalidPath));
        assert_eq!(build(|b| b.cookie_name("__Host-s").path("/")), None);
        assert_eq!(
            build(|b| b.cookie_name("__Host-s").path("/a")),
            Some(E::CookiePrefix)
        );
        assert_eq!(
            build(|b| b.cookie_name("__host-s").domain("a.com")),
            Some(E::CookiePrefix)
        );
        assert_eq!(
            build(|b| b.cookie_name("__Host-s").insecure_allow_http()),
            Some(E::CookiePrefix)
        );
        assert_eq!(
            build(|b| b.cookie_name("__Secure-s").insecure_allow_http()),
            Some(E::CookiePrefix)
        );
        assert_eq!(build(|b| b.same_site(SameSite::None)), None);
        assert_eq!(
            build(|b| b.same_site(SameSite::None).insecure_allow_http()),
            Some(E::SameSiteNoneInsecure)
        );
        assert_eq!(build(|b| b.partitioned()), None);
        assert_eq!(
            build(|b| b.partitioned().insecure_allow_http()),
            Some(E::PartitionedInsecure)
        );
        assert_eq!(build(|b| b.max_chunks(0)), Some(E::InvalidMaxChunks));
        assert_eq!(build(|b| b.max_chunks(16)), None);
        assert_eq!(build(|b| b.max_chunks(17)), Some(E::InvalidMaxChunks));
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
            Some(E::RenewAfterTooLong)
        );
        assert_eq!(
            build(|b| b.renew_after(Duration::from_secs(59))),
            Some(E::RenewWithoutAbsoluteLifetime)
        );
        assert_eq!(build(|b| b.absolute_lifetime(WEEK)), None);
        assert_eq!(
            build(|b| b.absolute_lifetime(Duration::from_millis(999))),
            Some(E::AbsoluteLifetimeTooShort)
        );
        let unset = TimedSerializer::new(SecretKey::generate(), "s");
        assert_eq!(SessionPolicy::new(unset).err(), Some(E::MaxAgeNotSet));
        let sub_second = serializer().max_age(Duration::from_millis(999));
        assert_eq!(SessionPolicy::new(sub_second).err(), Some(E::MaxAgeNotSet));
    }

    #[test]
    fn the_default_name_takes_the_host_prefix_where_the_cookie_qualifies() {
        let name = |f: fn(SessionPolicyBuilder) -> SessionPolicyBuilder| {
            f(SessionPolicy::builder(serializer()))
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

    #[test]
    fn the_token_length_follows_max_chunks() {
        let len = |n| {
            SessionPolicy::builder(serializer().max_token_len(100))
                .max_chunks(n)
                .build()
                .unwrap()
                .serializer()
                .configured_max_token_len()
        };
        assert_eq!(len(1), 4096);
        assert_eq!(len(3), 12_288);
        assert_eq!(len(16), 65_536);
    }

    #[test]
    fn the_policy_reports_its_chunks_and_lifetime() {
        const WEEK: Duration = Duration::from_secs(7 * 86_400);
        let p = SessionPolicy::builder(serializer())
            .max_chunks(3)
            .absolute_lifetime(WEEK)
            .build()
            .unwrap();
        assert_eq!((p.max_chunks(), p.absolute_lifetime()), (3, Some(WEEK)));
        let plain = SessionPolicy::new(serializer()).unwrap();
        assert_eq!((plain.max_chunks(), plain.absolute_lifetime()), (1, None));
    }

    #[test]
    fn a_new_session_token_opens_as_a_session_started_when_it_was_sealed() {
        let p = SessionPolicy::new(serializer()).unwrap();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let token = p.seal_new_session_at("user-1", now).unwrap();
        let opened = p.open_session_at::<String>(&token, now).unwrap();
        assert_eq!(
            (opened.value.as_str(), opened.start),
            ("user-1", 1_700_000_000)
        );
        assert_eq!(opened.meta.issued_at, now);
        let other = p.seal_new_session_at("user-1", now).unwrap();
        let other = p.open_session_at::<String>(&other, now).unwrap();
        assert_ne!(other.id, opened.id, "every new session has its own id");
    }

    #[test]
    fn debug_shows_the_settings() {
        let builder = SessionPolicy::builder(serializer())
            .cookie_name("sid")
            .max_chunks(3);
        let debug = format!("{builder:?}");
        assert!(
            debug.starts_with("SessionPolicyBuilder {") && debug.contains("max_chunks: 3"),
            "{debug}"
        );
        let debug = format!("{:?}", builder.build().unwrap());
        assert!(
            debug.starts_with("SessionPolicy {")
                && debug.contains(r#"name: "sid""#)
                && debug.contains("max_age: 60s"),
            "{debug}"
        );
    }

    #[test]
    fn a_revoked_session_is_kept_until_no_copy_can_load() {
        let s = TimedSerializer::new(SecretKey::generate(), "s").max_age(Duration::from_secs(100));
        let plain = SessionPolicy::new(s.clone()).unwrap();
        // now + leeway (a copy from the future) + max_age, + leeway (a checker that lags).
        assert_eq!(plain.session_retention_end(1000, 0), 1000 + 60 + 100 + 60);
        let lived = SessionPolicy::builder(s)
            .absolute_lifetime(Duration::from_secs(50))
            .build()
            .unwrap();
        // The absolute lifetime ends first: start + lifetime, + leeway.
        assert_eq!(lived.session_retention_end(1000, 990), 990 + 50 + 60);
        assert_eq!(lived.session_retention_end(1000, 5000), 1000 + 160 + 60);
    }
}
