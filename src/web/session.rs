//! Encrypted cookie sessions: a tower layer and an axum extractor.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE, VARY};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use axum::response::IntoResponse;
use cookie::Cookie;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tower_layer::Layer;
use tower_service::Service;

use super::Clock;
use crate::{Error, TimedSerializer, TokenMeta};

/// How many cookies with the session's name a request may carry that are tried; the rest are
/// ignored. Browsers send one per path and domain that matches, most specific path first.
const MAX_CANDIDATES: usize = 4;

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
}

#[derive(Debug)]
struct Config {
    serializer: TimedSerializer,
    /// Whole seconds, at least one.
    max_age: Duration,
    name: String,
    domain: Option<String>,
    path: String,
    same_site: SameSite,
    secure: bool,
    renew_after: Option<Duration>,
    clock: Clock,
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

    fn live_cookie(&self, token: String) -> Cookie<'static> {
        let mut cookie = self.cookie(token);
        let secs = i64::try_from(self.max_age.as_secs()).unwrap_or(i64::MAX);
        cookie.set_max_age(cookie::time::Duration::seconds(secs));
        cookie
    }

    fn removal_cookie(&self) -> Cookie<'static> {
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
///     .cookie_name("__Host-session")
///     .same_site(SameSite::Strict)
///     .renew_after(Duration::from_secs(4 * 3600))
///     .build()?;
/// # Ok::<(), itsclassified::web::SessionConfigError>(())
/// ```
pub struct SessionLayerBuilder<T> {
    serializer: TimedSerializer,
    name: String,
    domain: Option<String>,
    path: String,
    same_site: SameSite,
    secure: bool,
    renew_after: Option<Duration>,
    clock: Clock,
    _payload: PhantomData<fn() -> T>,
}

impl<T> SessionLayerBuilder<T> {
    /// The cookie name; `session` by default. A name starting with `__Host-` makes browsers
    /// enforce `Secure`, `Path=/` and no `Domain` (the strongest choice where it fits).
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer, web::SessionLayer};
    /// # let s = TimedSerializer::new(SecretKey::generate(), "s").max_age(std::time::Duration::from_secs(60));
    /// let layer = SessionLayer::<u64>::builder(s).cookie_name("__Host-sid").build()?;
    /// # Ok::<(), itsclassified::web::SessionConfigError>(())
    /// ```
    #[must_use]
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The cookie's `Domain` attribute; none by default, so the cookie goes back only to the
    /// host that set it. With a domain it also goes to every subdomain: set it only when they
    /// must share the session.
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer, web::SessionLayer};
    /// # let s = TimedSerializer::new(SecretKey::generate(), "s").max_age(std::time::Duration::from_secs(60));
    /// let layer = SessionLayer::<u64>::builder(s).domain("example.com").build()?;
    /// # Ok::<(), itsclassified::web::SessionConfigError>(())
    /// ```
    #[must_use]
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// The cookie's `Path` attribute; `/` by default.
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer, web::SessionLayer};
    /// # let s = TimedSerializer::new(SecretKey::generate(), "s").max_age(std::time::Duration::from_secs(60));
    /// let layer = SessionLayer::<u64>::builder(s).path("/app").build()?;
    /// # Ok::<(), itsclassified::web::SessionConfigError>(())
    /// ```
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// The cookie's `SameSite` attribute; [`SameSite::Lax`] by default.
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer, web::{SameSite, SessionLayer}};
    /// # let s = TimedSerializer::new(SecretKey::generate(), "s").max_age(std::time::Duration::from_secs(60));
    /// let layer = SessionLayer::<u64>::builder(s).same_site(SameSite::Strict).build()?;
    /// # Ok::<(), itsclassified::web::SessionConfigError>(())
    /// ```
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
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer, web::SessionLayer};
    /// use std::time::Duration;
    /// let max_age = Duration::from_secs(7 * 24 * 3600);
    /// let s = TimedSerializer::new(SecretKey::generate(), "s").max_age(max_age);
    /// let layer = SessionLayer::<u64>::builder(s).renew_after(max_age / 2).build()?;
    /// # Ok::<(), itsclassified::web::SessionConfigError>(())
    /// ```
    #[must_use]
    pub fn renew_after(mut self, age: Duration) -> Self {
        self.renew_after = Some(age);
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
        if !is_cookie_name(&self.name) {
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
        let lower = self.name.to_ascii_lowercase();
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
        Ok(SessionLayer {
            config: Arc::new(Config {
                serializer: self.serializer,
                max_age,
                name: self.name,
                domain: self.domain,
                path: self.path,
                same_site: self.same_site,
                secure: self.secure,
                renew_after: self.renew_after,
                clock: self.clock,
            }),
            _payload: PhantomData,
        })
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

/// A tower layer that keeps a `T` in an encrypted cookie, for handlers to reach with the
/// [`Session<T>`] extractor. It does what Starlette's `SessionMiddleware` does, with safe
/// defaults: the cookie is encrypted, expires, and is written only when it changes.
///
/// The cookie, by default: name `session`, `HttpOnly`, `Secure`, `SameSite=Lax`, `Path=/`, no
/// `Domain`, and `Max-Age` = the serializer's `max_age` (whole seconds), which must be set. Change
/// them with [`SessionLayer::builder`].
///
/// What the layer does:
///
/// - **Reading.** The request's cookie is decrypted when the handler first asks the
///   [`Session`] for its value (routes that don't use the session pay nothing). A cookie that is
///   malformed, altered, expired, issued under a key no longer in the ring, or holds something
///   other than a `T` gives an empty session, never an error page; the cause is logged at debug
///   level. If a request carries several cookies with the session's name (browsers send one per
///   matching path and domain, most specific first), the first of them that loads wins.
/// - **Writing.** A `Set-Cookie` header is added only when the handler called
///   [`Session::set`], [`Session::clear`] or [`Session::renew`], or when sliding renewal
///   ([`SessionLayerBuilder::renew_after`]) is due: never just because a session exists.
///   `clear` sends an expired cookie (empty value, `Max-Age=0`) with the same name, path and
///   domain, which makes the browser delete it.
/// - **A bad cookie is not cleared.** An invalid or expired cookie leads to an empty session and
///   no `Set-Cookie`; it is replaced by the next `set`. Clearing it would race with a concurrent
///   request that logs the user in (the later response would delete the fresh cookie) and would
///   delete cookies of another application that uses the same name; the browser drops an expired
///   cookie by itself, since `Max-Age` is the serializer's `max_age`.
/// - **Oversized cookies.** Browsers silently drop a cookie longer than 4096 bytes (name, value
///   and attributes together). If the session would need one, or the serializer refuses the
///   token with [`Error::TooLong`](crate::Error::TooLong), the response is replaced by an empty
///   500 and the cause is logged at error level, so the failure cannot go unnoticed. (The
///   browser keeps its previous cookie.) Keep sessions small: ids, not records.
/// - **Caches.** A response to a request that extracted the session gets `Vary: Cookie`, so
///   that a shared cache does not hand one user's page to another.
///
/// Like any cookie session without server-side state, a cookie stays valid until it expires,
/// even after [`Session::clear`]: a copy taken before logout still works until then. Keep
/// `max_age` short, or keep a revocation list (a counter in the payload, say) where that
/// matters.
///
/// ```
/// use axum::{routing::{get, post}, Router};
/// use itsclassified::web::{Session, SessionLayer};
/// use itsclassified::{SecretKey, TimedSerializer};
/// use serde::{Deserialize, Serialize};
/// use std::time::Duration;
///
/// #[derive(Clone, Serialize, Deserialize)]
/// struct UserSession { user_id: String }
///
/// async fn login(session: Session<UserSession>) {
///     // ... check the credentials first ...
///     session.set(UserSession { user_id: "123".into() });
/// }
/// async fn whoami(session: Session<UserSession>) -> String {
///     session.get().map_or_else(|| "nobody".into(), |s| s.user_id)
/// }
/// async fn logout(session: Session<UserSession>) { session.clear() }
///
/// let serializer = TimedSerializer::new(SecretKey::generate(), "session")
///     .max_age(Duration::from_secs(24 * 3600));
/// let app: Router = Router::new()
///     .route("/login", post(login))
///     .route("/whoami", get(whoami))
///     .route("/logout", post(logout))
///     .layer(SessionLayer::<UserSession>::new(serializer)?);
/// # Ok::<(), itsclassified::web::SessionConfigError>(())
/// ```
pub struct SessionLayer<T> {
    config: Arc<Config>,
    _payload: PhantomData<fn() -> T>,
}

impl<T> SessionLayer<T> {
    /// The most bytes a `Set-Cookie` value (name, value and attributes) may have: 4096, the
    /// least that RFC 6265 (section 6.1) asks browsers to store, and what they enforce.
    pub const MAX_COOKIE_LEN: usize = 4096;

    /// A layer with the default cookie settings; see [`SessionLayer`]. Fails with
    /// [`SessionConfigError::MaxAgeNotSet`] if the serializer has no `max_age` of at least a
    /// second.
    ///
    /// ```
    /// use itsclassified::web::SessionLayer;
    /// use itsclassified::{SecretKey, TimedSerializer};
    ///
    /// let serializer = TimedSerializer::new(SecretKey::generate(), "session")
    ///     .max_age(std::time::Duration::from_secs(3600));
    /// let layer = SessionLayer::<Vec<String>>::new(serializer)?;
    /// # Ok::<(), itsclassified::web::SessionConfigError>(())
    /// ```
    pub fn new(serializer: TimedSerializer) -> Result<SessionLayer<T>, SessionConfigError> {
        Self::builder(serializer).build()
    }

    /// A builder to change the cookie settings, starting from the defaults.
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer, web::SessionLayer};
    /// # let serializer = TimedSerializer::new(SecretKey::generate(), "s").max_age(std::time::Duration::from_secs(60));
    /// let layer = SessionLayer::<u64>::builder(serializer).cookie_name("sid").build()?;
    /// # Ok::<(), itsclassified::web::SessionConfigError>(())
    /// ```
    pub fn builder(serializer: TimedSerializer) -> SessionLayerBuilder<T> {
        SessionLayerBuilder {
            serializer,
            name: "session".into(),
            domain: None,
            path: "/".into(),
            same_site: SameSite::Lax,
            secure: true,
            renew_after: None,
            clock: Clock::default(),
            _payload: PhantomData,
        }
    }
}

impl<T> Clone for SessionLayer<T> {
    fn clone(&self) -> Self {
        SessionLayer {
            config: Arc::clone(&self.config),
            _payload: PhantomData,
        }
    }
}

impl<T> fmt::Debug for SessionLayer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionLayer")
            .field("config", &self.config)
            .finish()
    }
}

impl<S, T> Layer<S> for SessionLayer<T> {
    type Service = SessionService<S, T>;

    fn layer(&self, inner: S) -> SessionService<S, T> {
        SessionService {
            inner,
            config: Arc::clone(&self.config),
            _payload: PhantomData,
        }
    }
}

/// The service that [`SessionLayer`] wraps around the inner service; not used directly.
///
/// ```
/// use axum::routing::{get, MethodRouter};
/// use itsclassified::web::{SessionLayer, SessionService};
/// use itsclassified::{SecretKey, TimedSerializer};
/// use tower_layer::Layer;
///
/// # let s = TimedSerializer::new(SecretKey::generate(), "s").max_age(std::time::Duration::from_secs(60));
/// let layer = SessionLayer::<u64>::new(s)?;
/// let route: MethodRouter = get(|| async { "hi" });
/// let service: SessionService<MethodRouter, u64> = layer.layer(route);
/// # Ok::<(), itsclassified::web::SessionConfigError>(())
/// ```
pub struct SessionService<S, T> {
    inner: S,
    config: Arc<Config>,
    _payload: PhantomData<fn() -> T>,
}

impl<S: Clone, T> Clone for SessionService<S, T> {
    fn clone(&self) -> Self {
        SessionService {
            inner: self.inner.clone(),
            config: Arc::clone(&self.config),
            _payload: PhantomData,
        }
    }
}

impl<S: fmt::Debug, T> fmt::Debug for SessionService<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .finish()
    }
}

impl<S, T, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S, T>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
    T: Serialize + DeserializeOwned + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResBody>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let shared = Arc::new(Shared {
            config: Arc::clone(&self.config),
            state: Mutex::new(State::<T>::from_request(
                &self.config.name,
                request.headers(),
            )),
        });
        request.extensions_mut().insert(Session {
            shared: Arc::clone(&shared),
        });
        // The clone that was driven to readiness handles this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let response = inner.call(request).await?;
            Ok(shared.finish(response))
        })
    }
}

/// Extractor for the session of a [`SessionLayer<T>`]: read it, replace it, clear it.
///
/// The methods take `&self` and every clone refers to the same session, so it can be extracted
/// more than once and handed around; the layer writes the cookie after the handler's response
/// is made, from the state at that moment (changes made after that, from a spawned task, are
/// lost). The last of [`set`](Session::set) and [`clear`](Session::clear) wins.
///
/// Extracting a `Session<T>` from a route that has no `SessionLayer<T>` (or one for another
/// type) fails with [`SessionRejection`], a 500.
///
/// ```
/// use axum::http::StatusCode;
/// use itsclassified::web::Session;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Clone, Serialize, Deserialize)]
/// struct Cart { items: Vec<u32> }
///
/// async fn add_item(session: Session<Cart>) -> StatusCode {
///     let mut cart = session.get().unwrap_or(Cart { items: vec![] });
///     if cart.items.len() >= 50 {
///         return StatusCode::CONFLICT;
///     }
///     cart.items.push(42);
///     session.set(cart);
///     StatusCode::NO_CONTENT
/// }
/// ```
pub struct Session<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for Session<T> {
    fn clone(&self) -> Self {
        Session {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> fmt::Debug for Session<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Neither the payload nor the cookie.
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned> Session<T> {
    /// The session's value: the request cookie's payload, or what the handler
    /// [`set`](Session::set) since. `None` if there was no cookie, it did not load, or the
    /// session was [cleared](Session::clear).
    ///
    /// ```
    /// # use itsclassified::web::Session;
    /// async fn handler(session: Session<String>) -> String {
    ///     session.get().unwrap_or_else(|| "anonymous".into())
    /// }
    /// ```
    pub fn get(&self) -> Option<T>
    where
        T: Clone,
    {
        let mut state = self.shared.lock();
        self.shared.load(&mut state);
        state.value.clone()
    }

    /// Replaces the session's value; the response carries a new cookie, issued now.
    ///
    /// ```
    /// # use itsclassified::web::Session;
    /// async fn handler(session: Session<String>) {
    ///     session.set("user-123".to_owned());
    /// }
    /// ```
    pub fn set(&self, value: T) {
        let mut state = self.shared.lock();
        state.candidates.clear();
        state.loaded = true;
        state.value = Some(value);
        state.meta = None;
        state.action = Action::Set;
    }

    /// Empties the session (logout): the response carries an expired cookie with the same name,
    /// path and domain, which the browser deletes.
    ///
    /// ```
    /// # use itsclassified::web::Session;
    /// async fn logout(session: Session<String>) {
    ///     session.clear();
    /// }
    /// ```
    pub fn clear(&self) {
        let mut state = self.shared.lock();
        state.candidates.clear();
        state.loaded = true;
        state.value = None;
        state.meta = None;
        state.action = Action::Clear;
    }

    /// Re-issues the current value in a new cookie, issued now under the primary key, which
    /// restarts its `max_age` (after a privilege change, say, or to move it off a key that is
    /// being rotated out). Does nothing for an empty session.
    ///
    /// ```
    /// # use itsclassified::web::Session;
    /// async fn handler(session: Session<String>) {
    ///     if session.meta().is_some_and(|m| !m.is_primary()) {
    ///         session.renew();
    ///     }
    /// }
    /// ```
    pub fn renew(&self) {
        let mut state = self.shared.lock();
        self.shared.load(&mut state);
        if state.value.is_some() && state.action == Action::None {
            state.action = Action::Renew;
        }
    }

    /// The verified metadata (issued-at, age, key) of the request's cookie, if it loaded and the
    /// session has not been set or cleared since.
    ///
    /// ```
    /// # use itsclassified::web::Session;
    /// async fn handler(session: Session<String>) -> String {
    ///     match session.meta() {
    ///         Some(meta) => format!("logged in {} s ago", meta.age.as_secs()),
    ///         None => "no session".into(),
    ///     }
    /// }
    /// ```
    pub fn meta(&self) -> Option<TokenMeta> {
        let mut state = self.shared.lock();
        self.shared.load(&mut state);
        state.meta
    }
}

impl<S, T> FromRequestParts<S> for Session<T>
where
    S: Send + Sync,
    T: Send + 'static,
{
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Session<T>>() {
            Some(session) => {
                session.shared.lock().extracted = true;
                Ok(session.clone())
            }
            None => {
                tracing::error!(
                    payload = std::any::type_name::<T>(),
                    "Session<T> extracted on a route without a SessionLayer<T> for the same T"
                );
                Err(SessionRejection { _private: () })
            }
        }
    }
}

/// [`Session<T>`] was extracted on a route without a [`SessionLayer<T>`] of the same `T`: a bug
/// of the service, answered with an empty 500 (and logged at error level).
///
/// ```
/// use axum::{routing::get, Router};
/// use itsclassified::web::Session;
///
/// // Missing `.layer(SessionLayer::<u64>::new(..)?)`: every request to `/` gets a 500.
/// let app: Router = Router::new().route("/", get(|s: Session<u64>| async move { s.get().is_some().to_string() }));
/// ```
#[derive(Debug)]
pub struct SessionRejection {
    _private: (),
}

impl fmt::Display for SessionRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Session<T> used on a route without a SessionLayer<T> for the same T")
    }
}

impl std::error::Error for SessionRejection {}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> axum::response::Response {
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    None,
    Set,
    Clear,
    Renew,
}

struct State<T> {
    /// Values of the request's cookies with the session's name, not tried yet.
    candidates: Vec<String>,
    loaded: bool,
    value: Option<T>,
    meta: Option<TokenMeta>,
    action: Action,
    /// The handler extracted the session: the response varies with the cookie.
    extracted: bool,
}

impl<T> State<T> {
    fn from_request(name: &str, headers: &HeaderMap) -> State<T> {
        let mut candidates = Vec::new();
        'headers: for header in headers.get_all(COOKIE) {
            // A header that is not visible ASCII holds no cookie of ours (tokens are base64url).
            let Ok(header) = header.to_str() else {
                continue;
            };
            for cookie in Cookie::split_parse(header).flatten() {
                if cookie.name() == name {
                    if candidates.len() == MAX_CANDIDATES {
                        break 'headers;
                    }
                    candidates.push(cookie.value().to_owned());
                }
            }
        }
        State {
            candidates,
            loaded: false,
            value: None,
            meta: None,
            action: Action::None,
            extracted: false,
        }
    }
}

struct Shared<T> {
    config: Arc<Config>,
    state: Mutex<State<T>>,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // No code that can panic runs under the lock but `T`'s serde impls; their state is
        // either set completely or not at all, so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: DeserializeOwned> Shared<T> {
    /// Decrypts the request's cookie(s), once.
    fn load(&self, state: &mut State<T>) {
        if state.loaded {
            return;
        }
        state.loaded = true;
        let now = self.config.clock.now();
        for candidate in std::mem::take(&mut state.candidates) {
            match self
                .config
                .serializer
                .loads_with_meta_at::<T>(&candidate, now)
            {
                Ok(loaded) => {
                    state.value = Some(loaded.payload);
                    state.meta = Some(loaded.meta);
                    return;
                }
                Err(e) if e.is_rejection() => {
                    tracing::debug!(error = %e, "session cookie refused; the session is empty");
                }
                Err(e) => {
                    tracing::error!(error = %e, "session cookie could not be checked; the session is empty");
                }
            }
        }
    }
}

impl<T: Serialize + DeserializeOwned> Shared<T> {
    /// Adds the `Set-Cookie` (and `Vary`) headers the session calls for to the response, or
    /// replaces the response by a 500 if the cookie cannot be made.
    fn finish<B: Default>(&self, mut response: Response<B>) -> Response<B> {
        let config = &self.config;
        let mut state = self.lock();
        let cookie = match state.action {
            Action::Clear => Ok(Some(config.removal_cookie())),
            Action::Set | Action::Renew => self.issue(&state),
            Action::None => match config.renew_after {
                Some(renew_after) => {
                    self.load(&mut state);
                    match state.meta {
                        Some(meta) if meta.age >= renew_after => self.issue(&state),
                        _ => Ok(None),
                    }
                }
                None => Ok(None),
            },
        };
        let extracted = state.extracted;
        drop(state);
        let cookie = match cookie {
            Ok(cookie) => cookie,
            Err(()) => return internal_error(),
        };
        let wrote = cookie.is_some();
        if let Some(cookie) = cookie {
            let line = cookie.to_string();
            if line.len() > SessionLayer::<T>::MAX_COOKIE_LEN {
                tracing::error!(
                    len = line.len(),
                    max = SessionLayer::<T>::MAX_COOKIE_LEN,
                    "session cookie is longer than browsers accept; the response is replaced by a 500"
                );
                return internal_error();
            }
            match HeaderValue::try_from(line) {
                Ok(value) => {
                    response.headers_mut().append(SET_COOKIE, value);
                }
                Err(_) => {
                    // Unreachable: base64url token and checked attributes.
                    tracing::error!("session cookie is not a valid header value; the response is replaced by a 500");
                    return internal_error();
                }
            }
        }
        if extracted || wrote {
            add_vary_cookie(response.headers_mut());
        }
        response
    }

    /// A cookie with the session's current value, issued now.
    fn issue(&self, state: &State<T>) -> Result<Option<Cookie<'static>>, ()> {
        let Some(value) = &state.value else {
            return Ok(None);
        };
        match self
            .config
            .serializer
            .dumps_at(value, self.config.clock.now())
        {
            Ok(token) => Ok(Some(self.config.live_cookie(token))),
            Err(e @ Error::TooLong { .. }) => {
                tracing::error!(
                    error = %e,
                    "session is too large for the serializer's max_token_len; the response is replaced by a 500"
                );
                Err(())
            }
            Err(e) => {
                tracing::error!(error = %e, "session cookie could not be made; the response is replaced by a 500");
                Err(())
            }
        }
    }
}

fn internal_error<B: Default>() -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

/// Adds `Vary: Cookie` unless a `Vary` header already names it (or `*`).
fn add_vary_cookie(headers: &mut HeaderMap) {
    let present = headers
        .get_all(VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|field| {
            let field = field.trim();
            field == "*" || field.eq_ignore_ascii_case("cookie")
        });
    if !present {
        headers.append(VARY, HeaderValue::from_static("cookie"));
    }
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
        assert_eq!(build(|b| b.renew_after(Duration::from_secs(59))), None);
        assert_eq!(
            build(|b| b.renew_after(Duration::from_secs(60))),
            Some(SessionConfigError::RenewAfterTooLong)
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
    fn request_cookies() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; session=x; b"));
        headers.append(COOKIE, HeaderValue::from_bytes(b"session=\xff").unwrap());
        headers.append(
            COOKIE,
            HeaderValue::from_static(";;session=y;=z; Session=w"),
        );
        let state = State::<u8>::from_request("session", &headers);
        assert_eq!(state.candidates, ["x", "y"]);

        let many =
            HeaderValue::from_static("session=1; session=2; session=3; session=4; session=5");
        headers.insert(COOKIE, many);
        let state = State::<u8>::from_request("session", &headers);
        assert_eq!(state.candidates, ["1", "2", "3", "4"]);
    }

    #[test]
    fn vary() {
        let mut headers = HeaderMap::new();
        add_vary_cookie(&mut headers);
        assert_eq!(headers.get_all(VARY).iter().collect::<Vec<_>>(), ["cookie"]);
        let mut headers = HeaderMap::new();
        headers.insert(VARY, HeaderValue::from_static("Accept-Encoding, Cookie"));
        add_vary_cookie(&mut headers);
        assert_eq!(headers.get_all(VARY).iter().count(), 1);
        let mut headers = HeaderMap::new();
        headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
        add_vary_cookie(&mut headers);
        assert_eq!(
            headers.get_all(VARY).iter().collect::<Vec<_>>(),
            ["accept-encoding", "cookie"]
        );
    }
}
