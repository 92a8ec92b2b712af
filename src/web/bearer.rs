//! `Authorization: Bearer <token>` (RFC 6750): the framework-neutral parts (the serializer, the
//! header's parsing, the rejection table, the load and its revocation check) shared by the axum
//! extractor below and the actix-web one (`crate::actix`), which only translate.

use std::fmt;
use std::marker::PhantomData;
use std::time::SystemTime;

#[cfg(feature = "axum")]
use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
#[cfg(feature = "axum")]
use axum::http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
#[cfg(feature = "axum")]
use axum::http::request::Parts;
#[cfg(feature = "axum")]
use axum::http::{HeaderValue, StatusCode};
#[cfg(feature = "axum")]
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::revocation::{AnyRevocation, Revocation, Verdict};
use crate::clock::Clock;
use crate::revocation::StoreError;
use crate::{Error, TimedSerializer, TokenMeta};

/// The [`TimedSerializer`] that [`Bearer`] loads tokens with.
///
/// `Bearer` takes it from the router state through [`FromRef`](https://docs.rs/axum/0.8/axum/extract/trait.FromRef.html): either make it the state, or
/// implement `FromRef<YourState> for BearerSerializer`. The newtype keeps it apart from the
/// serializer of [`SessionLayer`](https://docs.rs/itsclassified/latest/itsclassified/web/struct.SessionLayer.html), which should use another salt, so that a
/// session cookie can never be presented as a bearer token or the other way round.
///
/// Cloning is cheap (the serializer shares its keys).
///
/// ```
/// use axum::extract::FromRef;
/// use itsclassified::web::BearerSerializer;
/// use itsclassified::{SecretKey, TimedSerializer};
/// use std::time::Duration;
///
/// #[derive(Clone)]
/// struct AppState { bearer: BearerSerializer, /* database pool, ... */ }
///
/// impl FromRef<AppState> for BearerSerializer {
///     fn from_ref(state: &AppState) -> Self { state.bearer.clone() }
/// }
///
/// let state = AppState {
///     bearer: BearerSerializer::new(
///         TimedSerializer::new(SecretKey::generate(), "api-token")
///             .max_age(Duration::from_secs(15 * 60)),
///     )?,
/// };
/// let token = state.bearer.dumps(&"user-123")?;
/// # Ok::<(), itsclassified::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct BearerSerializer {
    serializer: TimedSerializer,
    clock: Clock,
    revocation: Option<AnyRevocation>,
}

impl BearerSerializer {
    /// Wraps the serializer that makes and loads bearer tokens. It needs an expiry policy
    /// ([`TimedSerializer::max_age`] or [`TimedSerializer::no_expiry`]), and fails with
    /// [`Error::MaxAgeNotSet`] without one, at start-up: such a serializer would issue tokens
    /// at login and then refuse every request with a 500.
    ///
    /// ```
    /// # use itsclassified::{Error, SecretKey, TimedSerializer, web::BearerSerializer};
    /// let bearer = BearerSerializer::new(
    ///     TimedSerializer::new(SecretKey::generate(), "api-token")
    ///         .max_age(std::time::Duration::from_secs(900)),
    /// )?;
    /// let forgot = BearerSerializer::new(TimedSerializer::new(SecretKey::generate(), "api-token"));
    /// assert!(matches!(forgot, Err(Error::MaxAgeNotSet)));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn new(serializer: TimedSerializer) -> Result<BearerSerializer, Error> {
        if serializer.configured_expiry() == crate::Expiry::NotSet {
            return Err(Error::MaxAgeNotSet);
        }
        Ok(BearerSerializer {
            serializer,
            clock: Clock::default(),
            revocation: None,
        })
    }

    /// Consults a revocation store for every token that loads: a revoked token, or one of a
    /// subject issued at or before the subject's cutoff, is refused exactly like an invalid
    /// one (401 `invalid_token`). While the store cannot answer, every token is refused with a
    /// 503 and `Retry-After` ([`BearerRejection::StoreUnavailable`]), never a 401 (unless
    /// [fail-open](Revocation::insecure_fail_open)); see [`Revocation`].
    ///
    /// The revocation is for one payload type `T`: extracting a [`Bearer<U>`] of another type
    /// `U` with this serializer is a bug of the service, answered with a 500 and logged at
    /// error level (use the second type parameter of [`Bearer`] for tokens of other types).
    /// The revocation learns how long this serializer's tokens live, so that
    /// [`Revocation::revoke_subject`] (through this revocation or a clone) keeps its cutoff long
    /// enough. To revoke a presented token (on logout), call [`Bearer::revoke`]; for "log out
    /// everywhere", [`Bearer::revoke_subject`]; to re-issue one (key rotation),
    /// [`BearerSerializer::reissue`], which checks it first.
    ///
    /// ```
    /// use itsclassified::revocation::{MemoryStore, RevocationStore};
    /// use itsclassified::web::{BearerSerializer, Revocation};
    /// use itsclassified::{SecretKey, TimedSerializer};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    ///
    /// let store: Arc<dyn RevocationStore> = Arc::new(MemoryStore::new());
    /// let bearer = BearerSerializer::new(
    ///     TimedSerializer::new(SecretKey::generate(), "api-token").max_age(Duration::from_secs(900)),
    /// )?
    /// .revocation(Revocation::<String>::new(store).subject(|user_id| Some(user_id.clone())));
    /// # Ok::<(), itsclassified::Error>(())
    /// ```
    #[must_use]
    pub fn revocation<T: 'static>(mut self, revocation: Revocation<T>) -> BearerSerializer {
        revocation.attach(&self.serializer);
        self.revocation = Some(AnyRevocation::new(revocation));
        self
    }

    /// Replaces the system clock by `now`, for tests that need tokens to age. [`Bearer`] loads
    /// and [`BearerSerializer::dumps`] issues as if the time were `now()`.
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer, web::BearerSerializer};
    /// use std::time::{Duration, SystemTime};
    /// let s = TimedSerializer::new(SecretKey::generate(), "t").max_age(Duration::from_secs(60));
    /// let bearer = BearerSerializer::new(s)?.with_clock(|| SystemTime::now() + Duration::from_secs(3600));
    /// # Ok::<(), itsclassified::Error>(())
    /// ```
    #[must_use]
    pub fn with_clock(
        mut self,
        now: impl Fn() -> SystemTime + Send + Sync + 'static,
    ) -> BearerSerializer {
        self.clock = Clock::custom(now);
        self
    }

    /// The wrapped serializer.
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer, web::BearerSerializer};
    /// let bearer = BearerSerializer::new(TimedSerializer::new(SecretKey::generate(), "t").no_expiry())?;
    /// assert_eq!(bearer.serializer().configured_expiry(), itsclassified::Expiry::Never);
    /// # Ok::<(), itsclassified::Error>(())
    /// ```
    pub fn serializer(&self) -> &TimedSerializer {
        &self.serializer
    }

    /// Issues a token for `claims`, at the time of the clock (see
    /// [`with_clock`](BearerSerializer::with_clock)): [`TimedSerializer::dumps_at`].
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer, web::BearerSerializer};
    /// let bearer = BearerSerializer::new(TimedSerializer::new(SecretKey::generate(), "t").no_expiry())?;
    /// let token = bearer.dumps(&("user-123", ["read"]))?;
    /// # Ok::<(), itsclassified::Error>(())
    /// ```
    pub fn dumps<T: Serialize + ?Sized>(&self, claims: &T) -> Result<String, Error> {
        self.serializer.dumps_at(claims, self.clock.now())
    }

    /// Issues a token for `claims` as [`dumps`](BearerSerializer::dumps) does, but after the
    /// cutoff of their subject if one is recorded (SPEC.md section 10.5): a token issued right
    /// after "log out everywhere" would otherwise be refused by it. Use it at login. Without a
    /// [revocation](BearerSerializer::revocation), or for claims without subject, it is `dumps`.
    ///
    /// Fails with [`IssueError::StoreUnavailable`] when the store cannot say (answer 503), and
    /// with [`IssueError::Token`] as `dumps` does.
    ///
    /// ```
    /// # use itsclassified::{SecretKey, TimedSerializer, web::BearerSerializer};
    /// # async fn login() -> Result<String, itsclassified::web::IssueError> {
    /// let bearer = BearerSerializer::new(
    ///     TimedSerializer::new(SecretKey::generate(), "t").max_age(std::time::Duration::from_secs(900)),
    /// ).map_err(itsclassified::web::IssueError::Token)?;
    /// let token = bearer.issue(&"user-123".to_owned()).await?;
    /// # Ok(token) }
    /// ```
    pub async fn issue<T: Serialize + 'static>(&self, claims: &T) -> Result<String, IssueError> {
        let now = self.clock.now();
        let cutoff = match &self.revocation {
            None => None,
            Some(any) => match any.get::<T>() {
                Some(revocation) => revocation
                    .cutoff_of(claims)
                    .await
                    .map_err(|e| {
                        tracing::error!(error = %e, "no bearer token issued: the revocation store cannot answer");
                        IssueError::StoreUnavailable
                    })?,
                None => return Err(IssueError::Token(Error::Serialize)),
            },
        };
        let at = match cutoff {
            Some(cutoff) if cutoff >= now => cutoff + std::time::Duration::from_secs(1),
            _ => now,
        };
        self.serializer
            .dumps_at(claims, at)
            .map_err(IssueError::Token)
    }

    /// Re-issues a presented token under the primary key, as [`TimedSerializer::reissue`] does
    /// (same payload, same issued-at, a fresh nonce: key rotation), **after the checks of the
    /// [`Bearer`] extractor**: it must load as a `T`, and, with a
    /// [revocation](BearerSerializer::revocation), be neither revoked nor covered by its
    /// subject's cutoff. A re-issued token has a new token id, which no revocation of the old
    /// one covers: re-issuing without this check would bring a logged-out token back to life
    /// (SPEC.md section 6.5). This is the re-issue a service with revocation should call.
    ///
    /// Fails with [`IssueError::Token`] for a token that does not load (the [`Error`] says
    /// why), [`IssueError::Revoked`] for a revoked one, [`IssueError::StoreUnavailable`] when
    /// the store cannot say (answer 503; nothing is re-issued).
    ///
    /// ```
    /// use itsclassified::revocation::{MemoryStore, RevocationStore};
    /// use itsclassified::web::{BearerSerializer, IssueError, Revocation};
    /// use itsclassified::{SecretKey, TimedSerializer};
    /// use std::{sync::Arc, time::Duration};
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let store: Arc<dyn RevocationStore> = Arc::new(MemoryStore::new());
    /// let revocation = Revocation::<String>::new(store).subject(|user| Some(user.clone()));
    /// let bearer = BearerSerializer::new(
    ///     TimedSerializer::new(SecretKey::generate(), "api-token").max_age(Duration::from_secs(900)),
    /// )?
    /// .revocation(revocation.clone());
    ///
    /// let token = bearer.issue(&"user-1".to_owned()).await?;
    /// let fresh = bearer.reissue::<String>(&token).await?;
    /// // Logged out: the old token cannot be re-issued into a live one.
    /// let loaded = bearer.serializer().loads_with_meta::<String>(&token)?;
    /// revocation.revoke(&loaded.meta, &loaded.payload).await?;
    /// assert!(matches!(bearer.reissue::<String>(&token).await, Err(IssueError::Revoked)));
    /// # let _ = fresh;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn reissue<T: DeserializeOwned + 'static>(
        &self,
        token: &str,
    ) -> Result<String, IssueError> {
        let now = self.clock.now();
        let loaded = self
            .serializer
            .loads_with_meta_at::<T>(token, now)
            .map_err(IssueError::Token)?;
        if let Some(any) = &self.revocation {
            let revocation = any.get::<T>().ok_or(IssueError::Token(Error::Serialize))?;
            let subject = revocation.subject_of(&loaded.payload);
            match revocation
                .admits(&loaded.meta, subject.as_deref(), "bearer token to re-issue")
                .await
            {
                Verdict::Admitted => {}
                Verdict::Revoked => return Err(IssueError::Revoked),
                Verdict::Unavailable => return Err(IssueError::StoreUnavailable),
            }
        }
        self.serializer
            .reissue_at(token, now)
            .map_err(IssueError::Token)
    }
}

/// Why [`BearerSerializer::issue`] or [`BearerSerializer::reissue`] made no token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The revocation store could not give the subject's cutoff, or could not say whether the
    /// token to re-issue is revoked: answer 503.
    #[error("the revocation store cannot answer")]
    StoreUnavailable,
    /// The token to re-issue is revoked (or its subject's cutoff covers it): answer 401, as
    /// for an invalid token.
    #[error("the token is revoked")]
    Revoked,
    /// The token could not be made (see [`Error`]).
    #[error(transparent)]
    Token(Error),
}

impl TryFrom<TimedSerializer> for BearerSerializer {
    type Error = Error;

    /// [`BearerSerializer::new`].
    fn try_from(serializer: TimedSerializer) -> Result<BearerSerializer, Error> {
        BearerSerializer::new(serializer)
    }
}

/// Extractor for `Authorization: Bearer <token>`: the token's payload, loaded as a `T` with the
/// [`BearerSerializer`] of the router state, and its verified metadata.
///
/// A request without a valid token never reaches the handler; it gets a [`BearerRejection`]:
///
/// | request | status | `WWW-Authenticate` |
/// |---|---|---|
/// | no `Authorization` header, or another scheme (`Basic ...`) | 401 | `Bearer` |
/// | token malformed, altered, under an unknown key, of another purpose (salt), issued in the future, or with a payload that is not a `T` | 401 | `Bearer error="invalid_token", error_description="The access token is invalid"` |
/// | token expired | 401 | `Bearer error="invalid_token", error_description="The access token expired"` |
/// | no token after `Bearer`, more than one token, a tab after `Bearer`, two `Authorization` headers, bytes that are not visible ASCII | 400 | `Bearer error="invalid_request"` |
/// | a problem of the service, such as a serializer without expiry policy | 500 | none |
///
/// Bodies are empty, unless a JSON API shapes them: see [`BearerRejection`], "Shaping the body",
/// for the accessors and a wrapper extractor that answers `{"error":"invalid_token"}` with the
/// same status and headers. The scheme name is case-insensitive (RFC 7235); the scheme and the
/// token are separated by one or more spaces. The cause of a refusal is logged with `tracing` at
/// debug level, a problem of the service at error level; neither log contains the token.
///
/// `Option<Bearer<T>>` is `None` when the request has no `Authorization` header or one of
/// another scheme, and refuses the request as above for a bad bearer header or token.
///
/// The second type parameter names where the serializer comes from: [`BearerSerializer`] by
/// default, or a type of yours that the router state provides ([`FromRef`](https://docs.rs/axum/0.8/axum/extract/trait.FromRef.html)) and that holds a
/// `BearerSerializer` ([`AsRef`]), so that one app can take tokens of several purposes, each
/// under its own salt, as in the second example.
///
#[cfg_attr(feature = "axum", doc = "```")]
#[cfg_attr(not(feature = "axum"), doc = "```ignore")]
/// use axum::{routing::get, Json, Router};
/// use itsclassified::web::{Bearer, BearerSerializer};
/// use itsclassified::{SecretKey, TimedSerializer};
/// use serde::{Deserialize, Serialize};
/// use std::time::Duration;
///
/// #[derive(Serialize, Deserialize)]
/// struct Claims { sub: String, scopes: Vec<String> }
///
/// async fn me(Bearer { payload, meta, .. }: Bearer<Claims>) -> Json<Claims> {
///     tracing::info!(age = ?meta.age, "token accepted");
///     Json(payload)
/// }
///
/// let bearer = BearerSerializer::new(
///     TimedSerializer::new(SecretKey::generate(), "api-token").max_age(Duration::from_secs(900)),
/// )?;
/// let app: Router = Router::new().route("/me", get(me)).with_state(bearer);
/// # Ok::<(), itsclassified::Error>(())
/// ```
///
/// Access and refresh tokens in one router, each with its own salt:
///
#[cfg_attr(feature = "axum", doc = "```")]
#[cfg_attr(not(feature = "axum"), doc = "```ignore")]
/// use axum::extract::FromRef;
/// use axum::{routing::{get, post}, Router};
/// use itsclassified::web::{Bearer, BearerSerializer};
/// use itsclassified::{SecretKey, TimedSerializer};
/// use std::time::Duration;
///
/// /// Long-lived tokens that only the refresh route accepts.
/// #[derive(Clone)]
/// struct RefreshTokens(BearerSerializer);
///
/// impl AsRef<BearerSerializer> for RefreshTokens {
///     fn as_ref(&self) -> &BearerSerializer { &self.0 }
/// }
///
/// #[derive(Clone)]
/// struct AppState { access: BearerSerializer, refresh: RefreshTokens }
///
/// impl FromRef<AppState> for BearerSerializer {
///     fn from_ref(state: &AppState) -> Self { state.access.clone() }
/// }
/// impl FromRef<AppState> for RefreshTokens {
///     fn from_ref(state: &AppState) -> Self { state.refresh.clone() }
/// }
///
/// async fn api(Bearer { payload: user, .. }: Bearer<String>) -> String { user }
///
/// async fn refresh(
///     axum::extract::State(state): axum::extract::State<AppState>,
///     Bearer { payload: user, .. }: Bearer<String, RefreshTokens>,
/// ) -> String {
///     state.access.dumps(&user).unwrap_or_default()
/// }
///
/// # let (k1, k2) = (SecretKey::from_bytes(&[1; 32])?, SecretKey::from_bytes(&[1; 32])?);
/// let state = AppState {
///     access: BearerSerializer::new(
///         TimedSerializer::new(k1, "access-token").max_age(Duration::from_secs(15 * 60)),
///     )?,
///     refresh: RefreshTokens(BearerSerializer::new(
///         TimedSerializer::new(k2, "refresh-token").max_age(Duration::from_secs(30 * 86400)),
///     )?),
/// };
/// let app: Router = Router::new()
///     .route("/api", get(api))
///     .route("/refresh", post(refresh))
///     .with_state(state);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[non_exhaustive]
pub struct Bearer<T, K = BearerSerializer> {
    /// The token's payload.
    pub payload: T,
    /// Its verified metadata: issued-at, age, key id.
    pub meta: TokenMeta,
    /// The revocation of the serializer that loaded it, for [`Bearer::revoke`].
    revocation: Option<AnyRevocation>,
    _source: PhantomData<fn() -> K>,
}

impl<T: 'static, K> Bearer<T, K> {
    /// Logout: revokes this token, through the revocation of the [`BearerSerializer`] that
    /// loaded it (see [`Revocation::revoke`]), until it would have expired anyway. `true`
    /// unless it was revoked already (logout is idempotent).
    ///
    /// Fails with [`StoreError::NotConfigured`] when that serializer has no
    /// [revocation](BearerSerializer::revocation) for `T`: a logout that revoked nothing
    /// would answer "done" and leave the token working. Fails with the store's error when it
    /// cannot record it ([`StoreError::is_unavailable`]: answer 503).
    ///
    /// ```
    /// use itsclassified::{revocation::StoreError, web::Bearer};
    ///
    /// async fn logout(bearer: Bearer<String>) -> Result<(), StoreError> {
    ///     bearer.revoke().await?;
    ///     Ok(())
    /// }
    /// ```
    pub async fn revoke(&self) -> Result<bool, StoreError> {
        self.revocation()?.revoke(&self.meta, &self.payload).await
    }

    /// Log out everywhere: every token and session of this token's subject issued up to now,
    /// through the revocation of the [`BearerSerializer`] that loaded it (see
    /// [`Revocation::revoke_subject`], which names the subject and keeps the cutoff as long as
    /// needed).
    ///
    /// Fails with [`StoreError::NotConfigured`] when that serializer has no revocation for `T`,
    /// and as [`Revocation::revoke_subject`] does.
    pub async fn revoke_subject(&self) -> Result<(), StoreError> {
        self.revocation()?.revoke_subject(&self.payload).await
    }

    fn revocation(&self) -> Result<&Revocation<T>, StoreError> {
        match &self.revocation {
            Some(any) => any.get::<T>().ok_or(StoreError::NotConfigured),
            None => {
                tracing::error!(
                    "a bearer token was to be revoked, but its BearerSerializer has no revocation"
                );
                Err(StoreError::NotConfigured)
            }
        }
    }
}

impl<T: Clone, K> Clone for Bearer<T, K> {
    fn clone(&self) -> Self {
        Bearer {
            payload: self.payload.clone(),
            meta: self.meta,
            revocation: self.revocation.clone(),
            _source: PhantomData,
        }
    }
}

impl<T: fmt::Debug, K> fmt::Debug for Bearer<T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bearer")
            .field("payload", &self.payload)
            .field("meta", &self.meta)
            .finish()
    }
}

impl AsRef<BearerSerializer> for BearerSerializer {
    fn as_ref(&self) -> &BearerSerializer {
        self
    }
}

/// Why [`Bearer`] refused a request, and the response it becomes
/// ([RFC 6750, section 3](https://www.rfc-editor.org/rfc/rfc6750#section-3)); see [`Bearer`]
/// for the table. The response never carries the cause: `Display` is fixed text and the wrapped
/// [`Error`] is for the service's own logs.
///
#[cfg_attr(feature = "axum", doc = "```")]
#[cfg_attr(not(feature = "axum"), doc = "```ignore")]
/// use axum::response::IntoResponse;
/// use itsclassified::{web::BearerRejection, Error};
///
/// let response = BearerRejection::InvalidToken(Error::Invalid).into_response();
/// assert_eq!(response.status(), 401);
/// assert_eq!(
///     response.headers()["www-authenticate"],
///     r#"Bearer error="invalid_token", error_description="The access token is invalid""#
/// );
/// ```
///
/// # Shaping the body (JSON APIs)
///
/// The answer's body is empty. A JSON API that wants its own error shape
/// (`{"error":"invalid_token"}`) keeps the RFC 6750 status and headers and chooses the body:
///
/// - the accessors give the answer of the table, the same for every door:
///   [`status`](BearerRejection::status), [`www_authenticate`](BearerRejection::www_authenticate),
///   [`retry_after`](BearerRejection::retry_after), and for the body the RFC 6750
///   [`error_code`](BearerRejection::error_code) and
///   [`error_description`](BearerRejection::error_description);
/// - [`into_response_with`] (axum) and [`error_response_with`] (actix-web) make the response
///   with a body of your choosing: its own headers (`content-type`) are kept, the status,
///   `WWW-Authenticate` and `Retry-After` are the rejection's.
///
/// Put only these fixed strings, or text of your own, in the body: never the wrapped [`Error`]
/// (a service error's message is for the logs), and never the token.
///
/// In axum, the way to customize any extractor's rejection is a wrapper extractor whose
/// `Rejection` is the response you want (axum's `extract` documentation, "Customizing extractor
/// responses"). Handlers take the wrapper instead of `Bearer<T>`:
///
#[cfg_attr(feature = "axum", doc = "```")]
#[cfg_attr(not(feature = "axum"), doc = "```ignore")]
/// use axum::extract::{FromRef, FromRequestParts};
/// use axum::http::request::Parts;
/// use axum::response::Response;
/// use axum::{routing::get, Json, Router};
/// use itsclassified::web::{Bearer, BearerRejection, BearerSerializer};
/// use itsclassified::{SecretKey, TimedSerializer};
/// use serde::{Deserialize, Serialize};
/// use std::time::Duration;
///
/// #[derive(Serialize, Deserialize)]
/// struct User { id: String }
///
/// /// The body of every refusal: `{"error": "invalid_token", "error_description": "..."}`.
/// #[derive(Serialize)]
/// struct ApiError {
///     error: &'static str,
///     #[serde(skip_serializing_if = "Option::is_none")]
///     error_description: Option<&'static str>,
/// }
///
/// fn api_error(rejection: BearerRejection) -> Response {
///     let error = match rejection.error_code() {
///         Some(code) => code, // "invalid_token", "invalid_request"
///         None => match rejection.status() {
///             401 => "unauthorized", // no token, or another scheme
///             503 => "temporarily_unavailable", // the revocation store cannot answer
///             _ => "server_error",
///         },
///     };
///     let description = rejection.error_description();
///     rejection.into_response_with(Json(ApiError { error, error_description: description }))
/// }
///
/// /// `Bearer<User>` with JSON refusals.
/// struct ApiUser(Bearer<User>);
///
/// impl<S: Send + Sync> FromRequestParts<S> for ApiUser
/// where
///     BearerSerializer: FromRef<S>,
/// {
///     type Rejection = Response;
///
///     async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
///         Bearer::from_request_parts(parts, state).await.map(ApiUser).map_err(api_error)
///     }
/// }
///
/// async fn me(ApiUser(bearer): ApiUser) -> Json<User> {
///     Json(bearer.payload)
/// }
///
/// let bearer = BearerSerializer::new(
///     TimedSerializer::new(SecretKey::generate(), "api-token").max_age(Duration::from_secs(900)),
/// )
/// .expect("an expiry policy is set");
/// let app: Router = Router::new().route("/me", get(me)).with_state(bearer.clone());
///
/// // What a request with a bad token gets (axum calls the extractor the same way):
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let request = axum::http::Request::get("/me").header("authorization", "Bearer nope").body(())?;
/// let (mut parts, ()) = request.into_parts();
/// let Err(response) = ApiUser::from_request_parts(&mut parts, &bearer).await else {
///     panic!("an invalid token was accepted");
/// };
/// assert_eq!(response.status(), 401);
/// assert_eq!(
///     response.headers()["www-authenticate"],
///     r#"Bearer error="invalid_token", error_description="The access token is invalid""#
/// );
/// assert_eq!(response.headers()["content-type"], "application/json");
/// let body = axum::body::to_bytes(response.into_body(), 1024).await?;
/// assert_eq!(
///     body,
///     r#"{"error":"invalid_token","error_description":"The access token is invalid"}"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// In actix-web, [`error_response_with`] makes the `HttpResponse`: return it from a handler that
/// takes `Result<Bearer<T>, BearerRejection>`, or from a `FromRequest` wrapper through
/// `actix_web::error::InternalError::from_response` (its documentation has the example).
///
#[cfg_attr(
    feature = "axum",
    doc = "[`into_response_with`]: BearerRejection::into_response_with"
)]
#[cfg_attr(
    not(feature = "axum"),
    doc = "[`into_response_with`]: https://docs.rs/itsclassified/latest/itsclassified/web/enum.BearerRejection.html#method.into_response_with"
)]
#[cfg_attr(
    feature = "actix",
    doc = "[`error_response_with`]: BearerRejection::error_response_with"
)]
#[cfg_attr(
    not(feature = "actix"),
    doc = "[`error_response_with`]: https://docs.rs/itsclassified/latest/itsclassified/web/enum.BearerRejection.html#method.error_response_with"
)]
#[derive(Debug)]
#[non_exhaustive]
pub enum BearerRejection {
    /// No `Authorization` header: 401 with `WWW-Authenticate: Bearer`, no error code.
    MissingToken,
    /// The `Authorization` header uses another scheme (`Basic ...`, say): 401 with
    /// `WWW-Authenticate: Bearer` and no error code, as
    /// [RFC 6750, section 3.1](https://www.rfc-editor.org/rfc/rfc6750#section-3.1) asks of a
    /// request that uses another authentication method.
    OtherScheme,
    /// The `Authorization` header is not one `Bearer <token>`: 400 with
    /// `error="invalid_request"`.
    InvalidRequest,
    /// The token is not acceptable ([`Error::is_rejection`]): 401 with `error="invalid_token"`
    /// and an `error_description` that says whether it expired or is invalid.
    InvalidToken(Error),
    /// A problem of the service, not of the client (an [`Error`] that is not a rejection): 500.
    ServiceError(Error),
    /// The revocation store could not say whether the token is revoked (down, or slower than
    /// its timeout): 503 with `Retry-After`, and no `invalid_token`, so that the client keeps
    /// its token and retries (a 401 `invalid_token` would make it throw the token away).
    StoreUnavailable,
    /// The extractor found no [`BearerSerializer`] to load the token with (actix-web: none in
    /// the app data; axum checks this at compile time): a bug of the service, an empty 500,
    /// logged at error level.
    NotConfigured,
}

impl BearerRejection {
    /// The status of the answer: 401, 400, 500 or 503 (see the table of [`Bearer`]), as the
    /// number every framework's status type is made from.
    ///
    /// ```
    /// use itsclassified::{web::BearerRejection, Error};
    ///
    /// assert_eq!(BearerRejection::MissingToken.status(), 401);
    /// assert_eq!(BearerRejection::InvalidRequest.status(), 400);
    /// assert_eq!(BearerRejection::InvalidToken(Error::Invalid).status(), 401);
    /// assert_eq!(BearerRejection::StoreUnavailable.status(), 503);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            BearerRejection::MissingToken
            | BearerRejection::OtherScheme
            | BearerRejection::InvalidToken(_) => 401,
            BearerRejection::InvalidRequest => 400,
            BearerRejection::ServiceError(_) | BearerRejection::NotConfigured => 500,
            BearerRejection::StoreUnavailable => 503,
        }
    }

    /// The value of the answer's `WWW-Authenticate` header, if it has one: `Bearer` when the
    /// request has no bearer token, with `error="invalid_request"` or `error="invalid_token"`
    /// (and its [`error_description`](BearerRejection::error_description)) otherwise; none for
    /// a 500 or a 503, which are not the client's credentials' fault.
    ///
    /// ```
    /// use itsclassified::{web::BearerRejection, Error};
    ///
    /// assert_eq!(BearerRejection::OtherScheme.www_authenticate(), Some("Bearer"));
    /// assert_eq!(
    ///     BearerRejection::InvalidRequest.www_authenticate(),
    ///     Some(r#"Bearer error="invalid_request""#)
    /// );
    /// assert_eq!(BearerRejection::StoreUnavailable.www_authenticate(), None);
    /// ```
    pub fn www_authenticate(&self) -> Option<&'static str> {
        match self {
            BearerRejection::MissingToken | BearerRejection::OtherScheme => Some("Bearer"),
            BearerRejection::InvalidRequest => Some(r#"Bearer error="invalid_request""#),
            BearerRejection::InvalidToken(Error::Expired { .. }) => Some(
                r#"Bearer error="invalid_token", error_description="The access token expired""#,
            ),
            BearerRejection::InvalidToken(_) => Some(
                r#"Bearer error="invalid_token", error_description="The access token is invalid""#,
            ),
            BearerRejection::ServiceError(_)
            | BearerRejection::StoreUnavailable
            | BearerRejection::NotConfigured => None,
        }
    }

    /// The value of the answer's `Retry-After` header (delta-seconds), if it has one: only
    /// [`StoreUnavailable`](BearerRejection::StoreUnavailable) does (the store could not
    /// answer; the client should keep its token and retry).
    ///
    /// ```
    /// use itsclassified::web::BearerRejection;
    ///
    /// assert_eq!(BearerRejection::StoreUnavailable.retry_after(), Some("1"));
    /// assert_eq!(BearerRejection::MissingToken.retry_after(), None);
    /// ```
    pub fn retry_after(&self) -> Option<&'static str> {
        matches!(self, BearerRejection::StoreUnavailable).then_some(super::RETRY_AFTER_SECS)
    }

    /// The RFC 6750 error code of the answer (the `error` of its `WWW-Authenticate`), for a JSON
    /// body to carry: `invalid_token` (401) or `invalid_request` (400); none for a request
    /// without a bearer token (RFC 6750, section 3.1, asks for no code then), a 500 or a 503.
    ///
    /// ```
    /// use itsclassified::{web::BearerRejection, Error};
    ///
    /// assert_eq!(BearerRejection::InvalidToken(Error::Invalid).error_code(), Some("invalid_token"));
    /// assert_eq!(BearerRejection::InvalidRequest.error_code(), Some("invalid_request"));
    /// assert_eq!(BearerRejection::MissingToken.error_code(), None);
    /// assert_eq!(BearerRejection::StoreUnavailable.error_code(), None);
    /// ```
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            BearerRejection::InvalidToken(_) => Some("invalid_token"),
            BearerRejection::InvalidRequest => Some("invalid_request"),
            BearerRejection::MissingToken
            | BearerRejection::OtherScheme
            | BearerRejection::ServiceError(_)
            | BearerRejection::StoreUnavailable
            | BearerRejection::NotConfigured => None,
        }
    }

    /// The `error_description` of the answer's `WWW-Authenticate`, for a JSON body to carry:
    /// whether an `invalid_token` expired or is invalid (fixed text, the same as in the header;
    /// a client may refresh an expired token). None for every other refusal.
    ///
    /// ```
    /// use itsclassified::{web::BearerRejection, Error};
    /// use std::time::{Duration, SystemTime};
    ///
    /// let (age, max_age) = (Duration::from_secs(901), Duration::from_secs(900));
    /// let expired = Error::Expired { issued_at: SystemTime::UNIX_EPOCH, age, max_age };
    /// assert_eq!(
    ///     BearerRejection::InvalidToken(expired).error_description(),
    ///     Some("The access token expired")
    /// );
    /// assert_eq!(
    ///     BearerRejection::InvalidToken(Error::Invalid).error_description(),
    ///     Some("The access token is invalid")
    /// );
    /// assert_eq!(BearerRejection::InvalidRequest.error_description(), None);
    /// ```
    pub fn error_description(&self) -> Option<&'static str> {
        match self {
            BearerRejection::InvalidToken(Error::Expired { .. }) => {
                Some("The access token expired")
            }
            BearerRejection::InvalidToken(_) => Some("The access token is invalid"),
            BearerRejection::MissingToken
            | BearerRejection::OtherScheme
            | BearerRejection::InvalidRequest
            | BearerRejection::ServiceError(_)
            | BearerRejection::StoreUnavailable
            | BearerRejection::NotConfigured => None,
        }
    }
}

impl fmt::Display for BearerRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BearerRejection::MissingToken => "no bearer token in the request",
            BearerRejection::OtherScheme => "the request uses another authentication scheme",
            BearerRejection::InvalidRequest => "the Authorization header is not `Bearer <token>`",
            BearerRejection::InvalidToken(Error::Expired { .. }) => "the bearer token expired",
            BearerRejection::InvalidToken(_) => "the bearer token is invalid",
            BearerRejection::ServiceError(_) => "the bearer token could not be checked",
            BearerRejection::StoreUnavailable => {
                "the revocation store cannot answer; the bearer token was not checked"
            }
            BearerRejection::NotConfigured => "no bearer serializer is configured for the route",
        })
    }
}

impl std::error::Error for BearerRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BearerRejection::InvalidToken(e) | BearerRejection::ServiceError(e) => Some(e),
            BearerRejection::MissingToken
            | BearerRejection::OtherScheme
            | BearerRejection::InvalidRequest
            | BearerRejection::StoreUnavailable
            | BearerRejection::NotConfigured => None,
        }
    }
}

#[cfg(feature = "axum")]
impl BearerRejection {
    /// The answer with a body of your choosing (a JSON API's error shape): `body`'s response
    /// (its `content-type` and other headers kept) with the rejection's status, and its
    /// `WWW-Authenticate` and `Retry-After` headers in place of any `body` set. The body is
    /// yours: put neither the token nor the wrapped [`Error`] in it (see "Shaping the body"
    /// above for the recipe, a wrapper extractor).
    ///
    /// ```
    /// use axum::Json;
    /// use itsclassified::web::BearerRejection;
    ///
    /// let rejection = BearerRejection::InvalidRequest;
    /// let body = Json(serde_json::json!({ "error": rejection.error_code() }));
    /// let response = rejection.into_response_with(body);
    /// assert_eq!(response.status(), 400);
    /// assert_eq!(response.headers()["www-authenticate"], r#"Bearer error="invalid_request""#);
    /// assert_eq!(response.headers()["content-type"], "application/json");
    /// ```
    pub fn into_response_with(self, body: impl IntoResponse) -> Response {
        let mut response = body.into_response();
        *response.status_mut() =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        headers.remove(RETRY_AFTER);
        headers.remove(WWW_AUTHENTICATE);
        if let Some(retry_after) = self.retry_after() {
            headers.insert(RETRY_AFTER, HeaderValue::from_static(retry_after));
        }
        if let Some(challenge) = self.www_authenticate() {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}

/// The answer of the table of [`Bearer`], with an empty body.
#[cfg(feature = "axum")]
impl IntoResponse for BearerRejection {
    fn into_response(self) -> Response {
        self.into_response_with(())
    }
}

/// The request's bearer token, from the values of its `Authorization` headers (raw bytes, as
/// every framework can give them): `Ok(None)` when the request has no `Authorization` header,
/// `Err(OtherScheme)` when it uses another authentication scheme, `Err(InvalidRequest)` when it
/// is not one well-formed header.
pub(crate) fn bearer_token<'a>(
    mut values: impl Iterator<Item = &'a [u8]>,
) -> Result<Option<&'a str>, BearerRejection> {
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        tracing::debug!("bearer token refused: more than one Authorization header");
        return Err(BearerRejection::InvalidRequest);
    }
    // Visible ASCII, space and tab only (what `http`'s `HeaderValue::to_str` accepts).
    let visible = value
        .iter()
        .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b));
    let Some(value) = visible.then(|| std::str::from_utf8(value).ok()).flatten() else {
        tracing::debug!("bearer token refused: Authorization header is not visible ASCII");
        return Err(BearerRejection::InvalidRequest);
    };
    // credentials = auth-scheme [ 1*SP token68 ], with optional whitespace around the value.
    let value = value.trim_matches([' ', '\t']);
    if value.is_empty() {
        tracing::debug!("bearer token refused: empty Authorization header");
        return Err(BearerRejection::InvalidRequest);
    }
    let scheme_end = value.find([' ', '\t']).unwrap_or(value.len());
    let (scheme, rest) = value.split_at(scheme_end);
    if !scheme.eq_ignore_ascii_case("bearer") {
        // RFC 6750 section 3.1: a request that uses another method gets the bare challenge.
        tracing::debug!("no bearer token: the Authorization header uses another scheme");
        return Err(BearerRejection::OtherScheme);
    }
    if rest.starts_with('\t') {
        tracing::debug!("bearer token refused: a tab after `Bearer`");
        return Err(BearerRejection::InvalidRequest);
    }
    let token = rest.trim_start_matches(' ');
    if token.is_empty() || token.contains([' ', '\t']) {
        tracing::debug!("bearer token refused: Authorization header is not `Bearer <token>`");
        return Err(BearerRejection::InvalidRequest);
    }
    Ok(Some(token))
}

/// Loads a token as `T` and asks the revocation store about it, if one is configured.
pub(crate) async fn load<T: DeserializeOwned + Send + 'static, K>(
    bearer: &BearerSerializer,
    token: &str,
) -> Result<Bearer<T, K>, BearerRejection> {
    let loaded = load_unchecked::<T>(bearer, token)?;
    if let Some(revocation) = &bearer.revocation {
        let Some(revocation) = revocation.get::<T>() else {
            return Err(BearerRejection::ServiceError(Error::Invalid));
        };
        let subject = revocation.subject_of(&loaded.payload);
        let verdict = revocation
            .admits(&loaded.meta, subject.as_deref(), "bearer token")
            .await;
        match verdict {
            Verdict::Admitted => {}
            // Exactly as an invalid token: the client learns nothing more.
            Verdict::Revoked => return Err(BearerRejection::InvalidToken(Error::Invalid)),
            // The service's problem, not the token's: the client keeps it and retries.
            Verdict::Unavailable => return Err(BearerRejection::StoreUnavailable),
        }
    }
    Ok(Bearer {
        payload: loaded.payload,
        meta: loaded.meta,
        revocation: bearer.revocation.clone(),
        _source: PhantomData,
    })
}

fn load_unchecked<T: DeserializeOwned>(
    bearer: &BearerSerializer,
    token: &str,
) -> Result<crate::Loaded<T>, BearerRejection> {
    match bearer
        .serializer
        .loads_with_meta_at::<T>(token, bearer.clock.now())
    {
        Ok(loaded) => Ok(loaded),
        Err(e) if e.is_rejection() => {
            tracing::debug!(error = %e, "bearer token refused");
            Err(BearerRejection::InvalidToken(e))
        }
        Err(e) => {
            tracing::error!(error = %e, "bearer token could not be checked");
            Err(BearerRejection::ServiceError(e))
        }
    }
}

/// The `Authorization` header values of an axum request, as bytes.
#[cfg(feature = "axum")]
fn authorization(headers: &axum::http::HeaderMap) -> impl Iterator<Item = &[u8]> {
    headers
        .get_all(AUTHORIZATION)
        .iter()
        .map(HeaderValue::as_bytes)
}

#[cfg(feature = "axum")]
impl<S, T, K> FromRequestParts<S> for Bearer<T, K>
where
    K: FromRef<S> + AsRef<BearerSerializer>,
    S: Send + Sync,
    T: DeserializeOwned + Send + 'static,
{
    type Rejection = BearerRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match bearer_token(authorization(&parts.headers))? {
            Some(token) => {
                // A clone (shared keys) rather than `K` itself, which need not be `Send`.
                let bearer = K::from_ref(state).as_ref().clone();
                load(&bearer, token).await
            }
            None => {
                tracing::debug!("bearer token refused: no Authorization header");
                Err(BearerRejection::MissingToken)
            }
        }
    }
}

#[cfg(feature = "axum")]
impl<S, T, K> OptionalFromRequestParts<S> for Bearer<T, K>
where
    K: FromRef<S> + AsRef<BearerSerializer>,
    S: Send + Sync,
    T: DeserializeOwned + Send + 'static,
{
    type Rejection = BearerRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match bearer_token(authorization(&parts.headers)) {
            Ok(Some(token)) => {
                let bearer = K::from_ref(state).as_ref().clone();
                load(&bearer, token).await.map(Some)
            }
            Ok(None) | Err(BearerRejection::OtherScheme) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers<'a>(values: &'a [&'a [u8]]) -> impl Iterator<Item = &'a [u8]> {
        values.iter().copied()
    }

    const INVALID_TOKEN: &str =
        r#"Bearer error="invalid_token", error_description="The access token is invalid""#;
    const EXPIRED_TOKEN: &str =
        r#"Bearer error="invalid_token", error_description="The access token expired""#;

    /// Every variant (and both kinds of `InvalidToken`) with its answer: status,
    /// `WWW-Authenticate`, `Retry-After`, error code and description.
    #[allow(clippy::type_complexity)]
    fn rejection_table() -> Vec<(
        BearerRejection,
        u16,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
    )> {
        use BearerRejection::*;
        let expired = Error::Expired {
            issued_at: SystemTime::UNIX_EPOCH,
            age: std::time::Duration::from_secs(901),
            max_age: std::time::Duration::from_secs(900),
        };
        let (invalid, expired_text) = ("The access token is invalid", "The access token expired");
        vec![
            (MissingToken, 401, Some("Bearer"), None, None, None),
            (OtherScheme, 401, Some("Bearer"), None, None, None),
            (
                InvalidRequest,
                400,
                Some(r#"Bearer error="invalid_request""#),
                None,
                Some("invalid_request"),
                None,
            ),
            (
                InvalidToken(Error::Invalid),
                401,
                Some(INVALID_TOKEN),
                None,
                Some("invalid_token"),
                Some(invalid),
            ),
            (
                InvalidToken(Error::Malformed),
                401,
                Some(INVALID_TOKEN),
                None,
                Some("invalid_token"),
                Some(invalid),
            ),
            (
                InvalidToken(expired),
                401,
                Some(EXPIRED_TOKEN),
                None,
                Some("invalid_token"),
                Some(expired_text),
            ),
            (
                ServiceError(Error::MaxAgeNotSet),
                500,
                None,
                None,
                None,
                None,
            ),
            (StoreUnavailable, 503, None, Some("1"), None, None),
            (NotConfigured, 500, None, None, None, None),
        ]
    }

    #[test]
    fn rejection_accessors_answer_the_table() {
        for (rejection, status, challenge, retry_after, code, description) in rejection_table() {
            assert_eq!(
                (
                    rejection.status(),
                    rejection.www_authenticate(),
                    rejection.retry_after(),
                    rejection.error_code(),
                    rejection.error_description(),
                ),
                (status, challenge, retry_after, code, description),
                "{rejection:?}"
            );
            // The challenge says what the code and the description say.
            let made = match (code, description) {
                (Some(code), Some(d)) => {
                    format!(r#"Bearer error="{code}", error_description="{d}""#)
                }
                (Some(code), None) => format!(r#"Bearer error="{code}""#),
                (None, _) => "Bearer".to_owned(),
            };
            if let Some(challenge) = challenge {
                assert_eq!(challenge, made, "{rejection:?}");
            }
        }
    }

    /// The empty answer and the shaped one carry the table's status and headers; the shaped
    /// one keeps its body's headers, and the rejection's status and challenge win over the
    /// body's.
    #[cfg(feature = "axum")]
    #[test]
    fn responses_carry_the_table() {
        use axum::http::header::CONTENT_TYPE;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let header = |r: &Response, name| {
            r.headers()
                .get(name)
                .map(|v: &HeaderValue| v.to_str().unwrap().to_owned())
        };
        // Two of each rejection (they are not Clone): one for each answer.
        for ((rejection, status, challenge, retry_after, ..), (again, ..)) in
            rejection_table().into_iter().zip(rejection_table())
        {
            let name = format!("{rejection:?}");
            let empty = rejection.into_response();
            let body = (
                StatusCode::IM_A_TEAPOT,
                [
                    (WWW_AUTHENTICATE, "Basic realm=\"body\""),
                    (RETRY_AFTER, "3600"),
                    (CONTENT_TYPE, "application/problem+json"),
                ],
                r#"{"error":"x"}"#,
            );
            let shaped = again.into_response_with(body);
            for (response, content_type) in [
                (&empty, None),
                (&shaped, Some("application/problem+json".to_owned())),
            ] {
                assert_eq!(response.status(), status, "{name}");
                assert_eq!(
                    header(response, WWW_AUTHENTICATE).as_deref(),
                    challenge,
                    "{name}"
                );
                assert_eq!(
                    header(response, RETRY_AFTER).as_deref(),
                    retry_after,
                    "{name}"
                );
                assert_eq!(header(response, CONTENT_TYPE), content_type, "{name}");
                assert_eq!(
                    response.headers().len(),
                    response.headers().keys_len(),
                    "{name}"
                );
            }
            let read = |r: Response| {
                runtime
                    .block_on(axum::body::to_bytes(r.into_body(), 1024))
                    .unwrap()
            };
            assert_eq!(read(empty), "", "{name}");
            assert_eq!(read(shaped), r#"{"error":"x"}"#, "{name}");
        }
    }

    #[test]
    fn header_syntax() {
        let ok = |v: &[u8]| bearer_token(headers(&[v])).unwrap().map(str::to_owned);
        assert_eq!(ok(b"Bearer abc"), Some("abc".into()));
        assert_eq!(ok(b"bearer abc"), Some("abc".into()));
        assert_eq!(ok(b"BEARER   abc"), Some("abc".into()));
        assert_eq!(ok(b"Bearer abc.-_~+/=="), Some("abc.-_~+/==".into()));
        assert_eq!(bearer_token(headers(&[])).unwrap(), None);
        // What `http` refuses in a header value never reaches a token.
        assert!(matches!(
            bearer_token(headers(&[b"Bearer a\x7fb"])),
            Err(BearerRejection::InvalidRequest)
        ));

        let bad = |v: &[&[u8]]| {
            matches!(
                bearer_token(headers(v)),
                Err(BearerRejection::InvalidRequest)
            )
        };
        assert!(bad(&[b""]));
        assert!(bad(&[b"Bearer"]));
        assert!(bad(&[b"Bearer    "]));
        assert!(bad(&[b"Bearer a b"]));
        assert!(bad(&[b"Bearer a\tb"]));
        assert!(bad(&[b"Bearer\tabc"]));
        assert!(bad(&[b"Bearer \xff\xfe"]));
        assert!(bad(&[b"Bearer abc", b"Bearer abc"]));
        assert!(bad(&[b"Basic YWxhZGRpbjpvcGVuc2VzYW1l", b"Bearer abc"]));

        let other = |v: &[u8]| {
            matches!(
                bearer_token(headers(&[v])),
                Err(BearerRejection::OtherScheme)
            )
        };
        assert!(other(b"Basic YWxhZGRpbjpvcGVuc2VzYW1l"));
        assert!(other(b"Digest username=\"a\""));
        assert!(other(b"Bearerabc"));
        assert!(other(b"Negotiate"));
    }
}
