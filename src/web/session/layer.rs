//! The tower layer and service: the axum adapter of the session core. Before the handler it
//! runs the core's revocation check; after it, it writes the core's decision on the response.
//! No session rule lives here: only the translation between axum's types and the core's.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::header::{CACHE_CONTROL, COOKIE, RETRY_AFTER, SET_COOKIE, VARY};
use axum::http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tower_layer::Layer;
use tower_service::Service;

use super::config::SessionLayerBuilder;
use super::extract::Session;
use super::shared::{varies_on_cookie, Outcome, Shared};
use crate::session::{SessionConfigError, SessionPolicy};
use crate::web::revocation::AnyRevocation;
use crate::TimedSerializer;

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
///   does not count against those four, however much of it there is. Everything about reading
///   and writing the cookie is the session core's ([`crate::session`], SPEC.md section 10); this
///   layer only carries it between axum and the core.
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
///   and attributes together). A session that needs more is split into up to
///   [`max_chunks`](SessionLayerBuilder::max_chunks) cookies (1 by default); beyond that the
///   response is replaced by an empty 500 without `Set-Cookie` and the cause, naming
///   `max_chunks`, is logged at error level, so the failure cannot go unnoticed. (The browser
///   keeps its previous cookie.) Keep sessions small: ids, not records.
/// - **Failed requests change nothing.** A 5xx response carries no new session cookie (a
///   [`Session::set`] before the failure is not applied); a removal still goes out.
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
/// even after [`Session::clear`]: a copy taken before logout still works until then. Configure a
/// [revocation store](SessionLayerBuilder::revocation) and log out with
/// [`Session::clear_and_revoke`], which revokes the session's id: every copy of its cookie is
/// refused from then on, however often it was renewed or changed since the copy was taken.
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
    pub(super) policy: Arc<SessionPolicy>,
    pub(super) revocation: Option<AnyRevocation>,
    _payload: PhantomData<fn() -> T>,
}

impl<T> SessionLayer<T> {
    /// The most bytes a `Set-Cookie` value (name, value and attributes) may have: 4096, the
    /// least that RFC 6265 (section 6.1) asks browsers to store, and what they enforce.
    pub const MAX_COOKIE_LEN: usize = crate::session::policy::MAX_COOKIE_LEN;

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

    pub(super) fn from_parts(
        policy: SessionPolicy,
        revocation: Option<AnyRevocation>,
    ) -> SessionLayer<T> {
        SessionLayer {
            policy: Arc::new(policy),
            revocation,
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
        self.policy.cookie_name()
    }

    /// The session core's policy this layer carries out.
    pub fn policy(&self) -> &SessionPolicy {
        &self.policy
    }
}

impl<T> Clone for SessionLayer<T> {
    fn clone(&self) -> Self {
        SessionLayer {
            policy: Arc::clone(&self.policy),
            revocation: self.revocation.clone(),
            _payload: PhantomData,
        }
    }
}

impl<T> fmt::Debug for SessionLayer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionLayer")
            .field("policy", &self.policy)
            .field("revocation", &self.revocation)
            .finish()
    }
}

impl<S, T> Layer<S> for SessionLayer<T> {
    type Service = SessionService<S, T>;

    fn layer(&self, inner: S) -> SessionService<S, T> {
        SessionService {
            inner,
            layer: self.clone(),
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
    layer: SessionLayer<T>,
}

impl<S: Clone, T> Clone for SessionService<S, T> {
    fn clone(&self) -> Self {
        SessionService {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S: fmt::Debug, T> fmt::Debug for SessionService<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
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
        let cookies = request
            .headers()
            .get_all(COOKIE)
            .iter()
            .map(HeaderValue::as_bytes);
        let shared = Arc::new(Shared::<T>::new(
            &self.layer.policy,
            self.layer.revocation.as_ref(),
            cookies,
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
            Ok(finish(&shared, response).await)
        })
    }
}

/// Carries out the core's decision on an axum response: `Set-Cookie` lines, `Cache-Control:
/// private` and `Vary: Cookie`, or an empty 500 if the cookie cannot be made (503 if the cutoff
/// of a new session's subject cannot be read).
async fn finish<T, B>(shared: &Shared<T>, mut response: Response<B>) -> Response<B>
where
    T: Serialize + DeserializeOwned + 'static,
    B: Default,
{
    let status = response.status().as_u16();
    let cache_control: Vec<String> = response
        .headers()
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect();
    let cache_control = cache_control.iter().map(String::as_str);
    let finished = match shared.finish(status, cache_control).await {
        Outcome::Write(finished) => finished,
        Outcome::InternalError(e) => {
            tracing::error!(error = %e, source = ?std::error::Error::source(&e).map(ToString::to_string), "session cookie not written; the response is replaced by a 500");
            return internal_error();
        }
        Outcome::Unavailable(e) => {
            if let Some(e) = e {
                tracing::error!(error = %e, "no session started (503): the revocation store cannot give the subject's cutoff");
            }
            return unavailable();
        }
    };
    let headers = response.headers_mut();
    for line in finished.set_cookie {
        match HeaderValue::try_from(line) {
            Ok(value) => {
                headers.append(SET_COOKIE, value);
            }
            Err(_) => {
                // Unreachable: base64url tokens and checked attributes.
                tracing::error!(
                    "session cookie is not a valid header value; the response is replaced by a 500"
                );
                return internal_error();
            }
        }
    }
    if let Some(value) = finished.cache_control {
        tracing::debug!(
            "Cache-Control made private: the response sets the session cookie, which a shared cache must not store"
        );
        let value =
            HeaderValue::try_from(value).unwrap_or(HeaderValue::from_static("private, no-store"));
        headers.insert(CACHE_CONTROL, value);
    }
    if finished.vary_cookie {
        add_vary_cookie(headers);
    }
    response
}

fn internal_error<B: Default>() -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

/// A 503 with `Retry-After`: the revocation store could not answer.
pub(super) fn unavailable<B: Default>() -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response.headers_mut().insert(
        RETRY_AFTER,
        HeaderValue::from_static(crate::web::RETRY_AFTER_SECS),
    );
    response
}

/// Adds `Vary: Cookie` unless a `Vary` header already names it (or `*`).
fn add_vary_cookie(headers: &mut HeaderMap) {
    if !varies_on_cookie(headers.get_all(VARY).iter().map(HeaderValue::as_bytes)) {
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
}
