//! The tower layer and service: load the session lazily, run the handler, then carry out the
//! cookie decision on the response.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::header::{CACHE_CONTROL, SET_COOKIE, VARY};
use axum::http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use cookie::Cookie;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tower_layer::Layer;
use tower_service::Service;

use super::config::{Config, SessionConfigError, SessionLayerBuilder};
use super::extract::Session;
use super::state::{decide, now_unix, Action, Decision, RenewPolicy, Shared, State, StoredRef};
use crate::{Error, TimedSerializer};

/// A tower layer that keeps a `T` in an encrypted cookie, for handlers to reach with the
/// [`Session<T>`] extractor. It does what Starlette's `SessionMiddleware` does, with safe
/// defaults: the cookie is encrypted, expires, and is written only when it changes.
///
/// The cookie, by default: name `__Host-session`, `HttpOnly`, `Secure`, `SameSite=Lax`,
/// `Path=/`, no `Domain`, and `Max-Age` = the serializer's `max_age` (whole seconds), which must
/// be set. Change them with [`SessionLayer::builder`]; a cookie that cannot carry the `__Host-`
/// prefix (one sent over plain HTTP, or with a `Domain` or another `Path`) is named `session`.
///
/// What the layer does:
///
/// - **Reading.** The request's cookie is decrypted when the handler first asks the
///   [`Session`] for its value (routes that don't use the session pay nothing). A cookie that is
///   malformed, altered, expired, issued under a key no longer in the ring, or holds something
///   other than a `T` gives an empty session, never an error page; the cause is logged at debug
///   level. Each `name=value` pair of the `Cookie` header is parsed on its own, so a sibling
///   application's non-ASCII cookie does not hide the session's. If a request carries several
///   cookies with the session's name (browsers send one per matching path and domain, most
///   specific first), the first of them that loads wins; at most four that reach decryption are
///   tried, and junk refused by the cheap checks before it (length, base64, version, key id)
///   does not count against those four.
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
///   that a shared cache does not hand one user's page to another. `Vary` alone is not enough
///   for a response that *sets* the cookie (two anonymous visitors send the same empty `Cookie`
///   header), so every response that carries the session's `Set-Cookie` gets
///   `Cache-Control: private` (RFC 9111 section 5.2.2.7), and a `public` or `s-maxage` the
///   handler set is removed, with a debug log saying why: the stance of Rails, whose default
///   `Cache-Control` is private. Sliding renewal is not done on a response the handler marked
///   `public` or `s-maxage` (it would undo the handler's caching); the session is renewed on its
///   next response that is not.
/// - **Cookie tossing and login CSRF.** A site on a sibling subdomain (or a man in the middle of
///   a plain-HTTP request to one) can set cookies for your domain: junk to push your cookie out
///   (bounded as above), or its *own valid session cookie* with a longer `Path`, which the
///   browser then sends first, logging the victim in as the attacker. The `__Host-` prefix
///   stops both, since browsers accept such a cookie only from the host itself, with `Secure`
///   and `Path=/`: it is the default name wherever the configuration allows it.
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
    pub(super) config: Arc<Config>,
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
        SessionLayerBuilder::new(serializer)
    }

    pub(super) fn from_config(config: Config) -> SessionLayer<T> {
        SessionLayer {
            config: Arc::new(config),
            _payload: PhantomData,
        }
    }

    /// The name of the session cookie, as the configuration chose it.
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer, web::SessionLayer};
    /// let s = TimedSerializer::new(SecretKey::generate(), "s").max_age(std::time::Duration::from_secs(60));
    /// let layer = SessionLayer::<u64>::new(s)?;
    /// assert_eq!(layer.cookie_name(), "__Host-session");
    /// # Ok::<(), itsclassified::web::SessionConfigError>(())
    /// ```
    pub fn cookie_name(&self) -> &str {
        &self.config.name
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
        let shared = Arc::new(Shared::<T>::new(
            Arc::clone(&self.config),
            request.headers(),
        ));
        request
            .extensions_mut()
            .insert(Session::from_shared(Arc::clone(&shared)));
        // The clone that was driven to readiness handles this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            shared.check_revocation().await;
            let response = inner.call(request).await?;
            Ok(shared.finish(response))
        })
    }
}

impl<T: Serialize + DeserializeOwned> Shared<T> {
    /// Carries out the session's [`Decision`] on the response: adds the `Set-Cookie`, with
    /// `Cache-Control: private`, and `Vary: Cookie`, or replaces the response by a 500 if the
    /// cookie cannot be made.
    fn finish<B: Default>(&self, mut response: Response<B>) -> Response<B> {
        let config = &self.config;
        let shared_cacheable = is_shared_cacheable(response.headers());
        let mut state = self.lock();
        // Sliding renewal needs the cookie's age: decrypt it if the handler did not.
        if state.action() == Action::None && config.renew_after.is_some() && !shared_cacheable {
            self.load(&mut state);
        }
        let policy = RenewPolicy {
            renew_after: config.renew_after,
            reseal_fallback: config.reseal_fallback,
        };
        let decision = decide(state.action(), state.meta(), policy, shared_cacheable);
        let cookie = match decision {
            Decision::Keep => None,
            Decision::Remove => Some(config.removal_cookie()),
            Decision::Issue => match self.issue(&state) {
                Ok(cookie) => cookie,
                Err(()) => return internal_error(),
            },
        };
        let extracted = state.extracted;
        drop(state);
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
            make_private(response.headers_mut());
        }
        if extracted || wrote {
            add_vary_cookie(response.headers_mut());
        }
        response
    }

    /// A cookie with the session's current value, issued now. With an absolute lifetime, the
    /// cookie carries the session's start (now, for a new session), and the browser keeps it
    /// no longer than the lifetime has left.
    fn issue(&self, state: &State<T>) -> Result<Option<Cookie<'static>>, ()> {
        let Some(value) = state.value() else {
            return Ok(None);
        };
        let config = &self.config;
        let now = config.clock.now();
        let made = match config.absolute_lifetime {
            None => config
                .serializer
                .dumps_at(value, now)
                .map(|token| (token, config.max_age)),
            Some(lifetime) => {
                let started = state.started().unwrap_or_else(|| now_unix(now));
                let ends = started.saturating_add(lifetime.as_secs());
                let left = Duration::from_secs(ends.saturating_sub(now_unix(now)));
                config
                    .serializer
                    .dumps_at(
                        &StoredRef {
                            v: value,
                            s: started,
                        },
                        now,
                    )
                    .map(|token| (token, left.min(config.max_age)))
            }
        };
        match made {
            Ok((token, lifetime)) => Ok(Some(config.live_cookie(token, lifetime))),
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

/// The directives of the response's `Cache-Control` headers, trimmed, in order.
fn cache_directives(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The name of a directive (`s-maxage=60` -> `s-maxage`), lower case.
fn directive_name(directive: &str) -> String {
    directive
        .split('=')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// True when the handler asked shared caches to store the response: `public` or `s-maxage`.
fn is_shared_cacheable(headers: &HeaderMap) -> bool {
    cache_directives(headers)
        .iter()
        .any(|d| matches!(directive_name(d).as_str(), "public" | "s-maxage"))
}

/// Makes a response that sets the session cookie unstorable by shared caches: adds `private`
/// and removes `public` and `s-maxage` (logged at debug level). A `no-store` response is left
/// alone: no cache stores it at all.
fn make_private(headers: &mut HeaderMap) {
    let directives = cache_directives(headers);
    let names: Vec<String> = directives.iter().map(|d| directive_name(d)).collect();
    if names.iter().any(|n| n == "no-store") {
        return;
    }
    let mut kept: Vec<&str> = Vec::with_capacity(directives.len() + 1);
    for (directive, name) in directives.iter().zip(&names) {
        if name == "public" || name == "s-maxage" {
            tracing::debug!(
                directive = %directive,
                "Cache-Control directive removed: the response sets the session cookie, which a shared cache must not store"
            );
        } else {
            kept.push(directive);
        }
    }
    if !names.iter().any(|n| n == "private") {
        kept.insert(0, "private");
    }
    match HeaderValue::from_str(&kept.join(", ")) {
        Ok(value) => {
            headers.insert(CACHE_CONTROL, value);
        }
        // Only visible ASCII went in; keep the strictest answer if that ever fails.
        Err(_) => {
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
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

    fn cache_control(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(CACHE_CONTROL, HeaderValue::from_static(v));
        }
        headers
    }

    fn private(values: &[&'static str]) -> String {
        let mut headers = cache_control(values);
        make_private(&mut headers);
        let all: Vec<_> = headers.get_all(CACHE_CONTROL).iter().collect();
        assert_eq!(all.len(), 1, "{all:?}");
        all[0].to_str().unwrap().to_owned()
    }

    #[test]
    fn a_response_that_sets_the_cookie_is_private() {
        assert_eq!(private(&[]), "private");
        assert_eq!(private(&["max-age=60"]), "private, max-age=60");
        assert_eq!(
            private(&["public, max-age=31536000"]),
            "private, max-age=31536000"
        );
        assert_eq!(
            private(&["Public", "s-maxage=600, max-age=60, must-revalidate"]),
            "private, max-age=60, must-revalidate"
        );
        assert_eq!(private(&["private, max-age=5"]), "private, max-age=5");
        assert_eq!(private(&["no-store"]), "no-store");
        assert_eq!(private(&["no-cache, No-Store"]), "no-cache, No-Store");
    }

    #[test]
    fn shared_cacheable_means_public_or_s_maxage() {
        assert!(is_shared_cacheable(&cache_control(&["public, max-age=60"])));
        assert!(is_shared_cacheable(&cache_control(&[
            "max-age=60",
            "S-MaxAge=9"
        ])));
        assert!(!is_shared_cacheable(&cache_control(&["max-age=60"])));
        assert!(!is_shared_cacheable(&cache_control(&["private"])));
        assert!(!is_shared_cacheable(&HeaderMap::new()));
    }
}
