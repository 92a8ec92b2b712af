//! Encrypted cookie sessions for actix-web: a builder with actix-session's names, a
//! `Transform`/`Service` middleware, and the [`Session<T>`] extractor. Every rule is the
//! session core's (through `crate::web::session::shared`, which the axum layer uses too): this
//! file only carries headers between actix-web and the core.

use std::fmt;
use std::future::{ready, Future, Ready};
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{HeaderValue, CACHE_CONTROL, COOKIE, RETRY_AFTER, SET_COOKIE, VARY};
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::session::{SameSite, SessionConfigError, SessionPolicy, SessionPolicyBuilder};
use crate::web::revocation::AnyRevocation;
use crate::web::session::shared::{varies_on_cookie, Outcome, Shared};
use crate::web::{Revocation, Session, SessionRejection};
use crate::TimedSerializer;

/// An actix-web middleware that keeps a `T` in an encrypted cookie, for handlers to reach with
/// the [`Session<T>`] extractor: the axum door's `SessionLayer` for actix-web, with the same
/// behaviour, decided by the same session core (SPEC.md section 10).
///
/// The cookie, by default: name `__Host-session`, `HttpOnly`, `Secure`, `SameSite=Lax`,
/// `Path=/`, no `Domain`, `Max-Age` = the serializer's `max_age` (which must be set). It is
/// written only when the handler called [`Session::set`], [`Session::clear`] or
/// [`Session::renew`], or when sliding renewal is due; a bad cookie gives an empty session and
/// is not cleared; a session larger than [`max_chunks`](SessionMiddlewareBuilder::max_chunks)
/// cookies makes the response an empty 500; a 5xx response writes no new session; a response
/// that sets the cookie becomes `Cache-Control: private`, and one whose request extracted the
/// session gets `Vary: Cookie`; a cookie opened by a fallback key is re-sealed under the
/// primary one. With a [revocation store](SessionMiddlewareBuilder::revocation), every cookie
/// is checked before the handler; while the store cannot answer, extracting the session is a
/// 503 with `Retry-After` and no `Set-Cookie` goes out.
///
/// ```
/// use actix_web::{web, App};
/// use itsclassified::actix::{Session, SessionMiddleware};
/// use itsclassified::{SecretKey, TimedSerializer};
/// use std::time::Duration;
///
/// async fn visits(session: Session<u64>) -> String {
///     let n = session.get().unwrap_or(0) + 1;
///     session.set(n);
///     n.to_string()
/// }
///
/// let serializer = TimedSerializer::new(SecretKey::generate(), "session")
///     .max_age(Duration::from_secs(24 * 3600));
/// let app = App::new()
///     .wrap(SessionMiddleware::<u64>::new(serializer)?)
///     .route("/", web::get().to(visits));
/// # Ok::<(), itsclassified::actix::SessionConfigError>(())
/// ```
pub struct SessionMiddleware<T> {
    policy: Arc<SessionPolicy>,
    revocation: Option<AnyRevocation>,
    _payload: PhantomData<fn() -> T>,
}

impl<T> SessionMiddleware<T> {
    /// A middleware with the default cookie settings. Fails with
    /// [`SessionConfigError::MaxAgeNotSet`] if the serializer has no `max_age` of at least a
    /// second.
    pub fn new(serializer: TimedSerializer) -> Result<SessionMiddleware<T>, SessionConfigError> {
        Self::builder(serializer).build()
    }

    /// A builder to change the cookie settings, starting from the defaults.
    pub fn builder(serializer: TimedSerializer) -> SessionMiddlewareBuilder<T> {
        SessionMiddlewareBuilder {
            policy: SessionPolicy::builder(serializer),
            domain: None,
            secure: true,
            revocation: None,
            _payload: PhantomData,
        }
    }

    /// The name of the session cookie, as the configuration chose it.
    pub fn cookie_name(&self) -> &str {
        self.policy.cookie_name()
    }

    /// The session core's policy this middleware carries out.
    pub fn policy(&self) -> &SessionPolicy {
        &self.policy
    }
}

impl<T> Clone for SessionMiddleware<T> {
    fn clone(&self) -> Self {
        SessionMiddleware {
            policy: Arc::clone(&self.policy),
            revocation: self.revocation.clone(),
            _payload: PhantomData,
        }
    }
}

impl<T> fmt::Debug for SessionMiddleware<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionMiddleware")
            .field("policy", &self.policy)
            .field("revocation", &self.revocation)
            .finish()
    }
}

/// Builder for [`SessionMiddleware`], from [`SessionMiddleware::builder`], with the names of
/// actix-session's `SessionMiddlewareBuilder` where the setting is the same:
///
/// | actix-session | here |
/// |---|---|
/// | `cookie_name(String)` | [`cookie_name`](Self::cookie_name) (default `__Host-session`, not `id`) |
/// | `cookie_path(String)` | [`cookie_path`](Self::cookie_path) |
/// | `cookie_domain(Option<String>)` | [`cookie_domain`](Self::cookie_domain) |
/// | `cookie_same_site(SameSite)` | [`cookie_same_site`](Self::cookie_same_site) (this crate's [`SameSite`]) |
/// | `cookie_secure(bool)` | [`cookie_secure`](Self::cookie_secure) (`false` drops the `__Host-` name) |
/// | `cookie_http_only(bool)` | none: always `HttpOnly` |
/// | `cookie_content_security(..)` | none: always encrypted and authenticated (XChaCha20-Poly1305) |
/// | `session_lifecycle(PersistentSession::session_ttl)` | the serializer's `max_age`, plus [`renew_after`](Self::renew_after) and [`absolute_lifetime`](Self::absolute_lifetime) |
/// | the `Key` | the serializer's key ring: rotation with fallback keys |
/// | `CookieSessionStore` 4096-byte limit | [`max_chunks`](Self::max_chunks) |
/// | none | [`revocation`](Self::revocation): logout that sticks |
pub struct SessionMiddlewareBuilder<T> {
    policy: SessionPolicyBuilder,
    domain: Option<String>,
    secure: bool,
    revocation: Option<AnyRevocation>,
    _payload: PhantomData<fn() -> T>,
}

impl<T> SessionMiddlewareBuilder<T> {
    /// The cookie name. By default `__Host-session` when the cookie is `Secure` with `Path=/`
    /// and no `Domain` (the defaults), else `session`.
    #[must_use]
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.policy = self.policy.cookie_name(name);
        self
    }

    /// The cookie's `Path`; `/` by default.
    #[must_use]
    pub fn cookie_path(mut self, path: impl Into<String>) -> Self {
        self.policy = self.policy.path(path);
        self
    }

    /// The cookie's `Domain`; `None` by default, so the cookie goes back only to the host that
    /// set it. With a domain it also goes to every subdomain.
    #[must_use]
    pub fn cookie_domain(mut self, domain: Option<String>) -> Self {
        self.domain = domain;
        self
    }

    /// The cookie's `SameSite`; [`SameSite::Lax`] by default.
    #[must_use]
    pub fn cookie_same_site(mut self, same_site: SameSite) -> Self {
        self.policy = self.policy.same_site(same_site);
        self
    }

    /// `false` drops the `Secure` attribute (and so the `__Host-` name), so that the cookie
    /// also travels over plain HTTP: **for local development only**, since the session then
    /// goes in clear text to anyone on the path of an `http://` request. `true` by default.
    #[must_use]
    pub fn cookie_secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// Sliding expiry: a session whose cookie is at least `age` old gets a new cookie on its
    /// next request. Off by default; shorter than `max_age`; needs
    /// [`absolute_lifetime`](Self::absolute_lifetime).
    #[must_use]
    pub fn renew_after(mut self, age: Duration) -> Self {
        self.policy = self.policy.renew_after(age);
        self
    }

    /// The absolute lifetime of a session, however often it is renewed.
    #[must_use]
    pub fn absolute_lifetime(mut self, lifetime: Duration) -> Self {
        self.policy = self.policy.absolute_lifetime(lifetime);
        self
    }

    /// How many cookies of 4096 bytes one session may take: 1 by default, at most 16.
    #[must_use]
    pub fn max_chunks(mut self, max_chunks: usize) -> Self {
        self.policy = self.policy.max_chunks(max_chunks);
        self
    }

    /// Adds the `Partitioned` attribute (CHIPS); needs `Secure`.
    #[must_use]
    pub fn partitioned(mut self) -> Self {
        self.policy = self.policy.partitioned();
        self
    }

    /// Stops re-sealing cookies opened by a fallback key under the primary one.
    #[must_use]
    pub fn keep_fallback_cookies(mut self) -> Self {
        self.policy = self.policy.keep_fallback_cookies();
        self
    }

    /// Replaces the system clock, for tests of expiry and renewal.
    #[must_use]
    pub fn with_clock(mut self, now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.policy = self.policy.with_clock(now);
        self
    }

    /// Consults a revocation store for every request that carries a session cookie, as the
    /// axum door does: a revoked session is empty; while the store cannot answer, extracting
    /// the [`Session`] is a 503 with `Retry-After` and no cookie is written.
    /// [`Session::clear_and_revoke`] revokes the session on logout.
    #[must_use]
    pub fn revocation(mut self, revocation: Revocation<T>) -> Self
    where
        T: 'static,
    {
        self.revocation = Some(AnyRevocation::new(revocation));
        self
    }

    /// Checks the settings and makes the middleware: the errors of the axum door's builder.
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer};
    /// use itsclassified::actix::{SameSite, SessionConfigError, SessionMiddleware};
    /// # let s = TimedSerializer::new(SecretKey::generate(), "s").max_age(std::time::Duration::from_secs(60));
    /// let err = SessionMiddleware::<u64>::builder(s.clone()).cookie_name("my session").build();
    /// assert_eq!(err.unwrap_err(), SessionConfigError::InvalidCookieName);
    /// let ok = SessionMiddleware::<u64>::builder(s)
    ///     .cookie_path("/app")
    ///     .cookie_same_site(SameSite::Strict)
    ///     .build()?;
    /// assert_eq!(ok.cookie_name(), "session"); // no `__Host-` prefix with another path
    /// # Ok::<(), SessionConfigError>(())
    /// ```
    pub fn build(self) -> Result<SessionMiddleware<T>, SessionConfigError> {
        let mut policy = self.policy;
        if let Some(domain) = self.domain {
            policy = policy.domain(domain);
        }
        if !self.secure {
            policy = policy.insecure_allow_http();
        }
        let policy = policy.build()?;
        if let Some(revocation) = &self.revocation {
            // What its `revoke_subject` must keep a cutoff for.
            revocation.attach(policy.serializer());
        }
        Ok(SessionMiddleware {
            policy: Arc::new(policy),
            revocation: self.revocation,
            _payload: PhantomData,
        })
    }
}

impl<T> fmt::Debug for SessionMiddlewareBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionMiddlewareBuilder")
            .field("policy", &self.policy)
            .field("domain", &self.domain)
            .field("secure", &self.secure)
            .field("revocation", &self.revocation)
            .finish()
    }
}

impl<S, B, T> Transform<S, ServiceRequest> for SessionMiddleware<T>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
    T: Serialize + DeserializeOwned + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = SessionMiddlewareService<S, T>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SessionMiddlewareService {
            service: Rc::new(service),
            middleware: self.clone(),
        }))
    }
}

/// The service that [`SessionMiddleware`] wraps around the inner service; not used directly.
pub struct SessionMiddlewareService<S, T> {
    service: Rc<S>,
    middleware: SessionMiddleware<T>,
}

impl<S, T> fmt::Debug for SessionMiddlewareService<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionMiddlewareService")
            .field("middleware", &self.middleware)
            .finish_non_exhaustive()
    }
}

impl<S, B, T> Service<ServiceRequest> for SessionMiddlewareService<S, T>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
    T: Serialize + DeserializeOwned + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    #[allow(clippy::type_complexity)]
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let cookies = request.headers().get_all(COOKIE).map(HeaderValue::as_bytes);
        let shared = Arc::new(Shared::<T>::new(
            &self.middleware.policy,
            self.middleware.revocation.as_ref(),
            cookies,
        ));
        request
            .extensions_mut()
            .insert(Session::from_shared(Arc::clone(&shared)));
        let service = Rc::clone(&self.service);
        Box::pin(async move {
            shared.check_revocation().await;
            let response = service.call(request).await?;
            Ok(finish(&shared, response).await)
        })
    }
}

/// Carries out the core's decision on an actix-web response, as the axum layer does on its.
async fn finish<T, B>(
    shared: &Shared<T>,
    mut response: ServiceResponse<B>,
) -> ServiceResponse<EitherBody<B>>
where
    T: Serialize + DeserializeOwned + 'static,
{
    let status = response.status().as_u16();
    let cache_control: Vec<String> = response
        .headers()
        .get_all(CACHE_CONTROL)
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect();
    let cache_control = cache_control.iter().map(String::as_str);
    let finished = match shared.finish(status, cache_control).await {
        Outcome::Write(finished) => finished,
        Outcome::InternalError(e) => {
            tracing::error!(error = %e, source = ?std::error::Error::source(&e).map(ToString::to_string), "session cookie not written; the response is replaced by a 500");
            return replaced(response, internal_error());
        }
        Outcome::Unavailable(e) => {
            if let Some(e) = e {
                tracing::error!(error = %e, "no session started (503): the revocation store cannot give the subject's cutoff");
            }
            return replaced(response, unavailable());
        }
    };
    let mut lines = Vec::with_capacity(finished.set_cookie.len());
    for line in finished.set_cookie {
        match HeaderValue::try_from(line) {
            Ok(value) => lines.push(value),
            Err(_) => {
                // Unreachable: base64url tokens and checked attributes.
                tracing::error!(
                    "session cookie is not a valid header value; the response is replaced by a 500"
                );
                return replaced(response, internal_error());
            }
        }
    }
    let headers = response.headers_mut();
    for value in lines {
        headers.append(SET_COOKIE, value);
    }
    if let Some(value) = finished.cache_control {
        tracing::debug!(
            "Cache-Control made private: the response sets the session cookie, which a shared cache must not store"
        );
        let value =
            HeaderValue::try_from(value).unwrap_or(HeaderValue::from_static("private, no-store"));
        headers.insert(CACHE_CONTROL, value);
    }
    if finished.vary_cookie && !varies_on_cookie(headers.get_all(VARY).map(HeaderValue::as_bytes)) {
        headers.append(VARY, HeaderValue::from_static("cookie"));
    }
    response.map_into_left_body()
}

fn replaced<B>(response: ServiceResponse<B>, by: HttpResponse) -> ServiceResponse<EitherBody<B>> {
    response.into_response(by).map_into_right_body()
}

fn internal_error() -> HttpResponse {
    HttpResponse::InternalServerError().finish()
}

/// An empty 503 with `Retry-After`: the revocation store could not answer.
fn unavailable() -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .insert_header((RETRY_AFTER, crate::web::RETRY_AFTER_SECS))
        .finish()
}

/// The session a [`SessionMiddleware<T>`] put on the request. Without one of the same `T`, a
/// 500 ([`SessionRejection::MissingLayer`]); while its store cannot answer for the request's
/// cookie, a 503 with `Retry-After` ([`SessionRejection::StoreUnavailable`]).
impl<T: 'static> FromRequest for Session<T> {
    type Error = SessionRejection;
    type Future = Ready<Result<Session<T>, SessionRejection>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Session::extract(
            req.extensions().get::<Session<T>>(),
            "SessionMiddleware",
        ))
    }
}

/// The axum door's answers: an empty 500, or an empty 503 with `Retry-After`.
impl ResponseError for SessionRejection {
    fn status_code(&self) -> StatusCode {
        match self {
            SessionRejection::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            SessionRejection::StoreUnavailable => unavailable(),
            _ => internal_error(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SecretKey;

    #[test]
    fn the_actix_session_names_reach_the_core_policy_and_debug_shows_no_key() {
        let key = SecretKey::generate();
        let encoded = key.to_base64();
        let s = TimedSerializer::new(key, "s").max_age(Duration::from_secs(60));
        let middleware = SessionMiddleware::<u8>::builder(s.clone())
            .cookie_name("sid")
            .cookie_domain(Some("example.com".into()))
            .cookie_path("/app")
            .cookie_same_site(SameSite::Strict)
            .max_chunks(3)
            .renew_after(Duration::from_secs(30))
            .absolute_lifetime(Duration::from_secs(600))
            .keep_fallback_cookies()
            .build()
            .unwrap();
        let debug = format!("{middleware:?}");
        for field in [
            "\"sid\"",
            "Some(\"example.com\")",
            "\"/app\"",
            "Strict",
            "max_chunks: 3",
            "renew_after: Some(30s)",
            "absolute_lifetime: Some(600s)",
            "reseal_fallback: false",
        ] {
            assert!(debug.contains(field), "{field} in {debug}");
        }
        assert!(!debug.contains(encoded.as_str()), "the key in {debug}");
        // cookie_secure(false) is the plain-HTTP switch: no Secure, so no `__Host-` name.
        let insecure = SessionMiddleware::<u8>::builder(s.clone())
            .cookie_secure(false)
            .build()
            .unwrap();
        assert_eq!(insecure.cookie_name(), "session");
        assert_eq!(
            SessionMiddleware::<u8>::new(s).unwrap().cookie_name(),
            "__Host-session"
        );
    }
}
