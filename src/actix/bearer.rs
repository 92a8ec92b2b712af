//! [`Bearer<T>`] as an actix-web extractor: the shared parsing, load and rejection table
//! (`crate::web::bearer`), translated.

use std::future::Future;
use std::pin::Pin;

use actix_web::body::MessageBody;
use actix_web::dev::Payload;
use actix_web::http::header::{
    HeaderValue, TryIntoHeaderValue, AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE,
};
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, HttpResponseBuilder, ResponseError};
use serde::de::DeserializeOwned;

use crate::web::bearer::{bearer_token, load};
use crate::web::{Bearer, BearerRejection, BearerSerializer};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// The token of the request and the serializer `K` found in the app data, owned, for a future
/// that outlives the borrow of the request.
fn token_and_serializer<K>(
    req: &HttpRequest,
) -> Result<Option<(String, BearerSerializer)>, BearerRejection>
where
    K: AsRef<BearerSerializer> + 'static,
{
    let values = req
        .headers()
        .get_all(AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    let Some(token) = bearer_token(values)? else {
        return Ok(None);
    };
    let serializer = req
        .app_data::<K>()
        .or_else(|| req.app_data::<web::Data<K>>().map(|data| data.get_ref()));
    match serializer {
        Some(serializer) => Ok(Some((token.to_owned(), serializer.as_ref().clone()))),
        None => {
            tracing::error!(
                serializer = std::any::type_name::<K>(),
                "Bearer<T> extracted without its serializer in the app data (App::app_data)"
            );
            Err(BearerRejection::NotConfigured)
        }
    }
}

/// `Authorization: Bearer <token>`, loaded as a `T` with the serializer `K` of the app data
/// (`App::app_data(K)` or `App::app_data(web::Data<K>)`). The answers are the axum door's
/// (see [`BearerRejection`]): 401 `WWW-Authenticate: Bearer` without a token or with another
/// scheme, 400 `invalid_request` for a malformed header, 401 `invalid_token` for a token that
/// does not load or is revoked, 503 with `Retry-After` while the store cannot answer, an empty
/// 500 for a problem of the service (a `K` missing from the app data among them).
impl<T, K> FromRequest for Bearer<T, K>
where
    T: DeserializeOwned + Send + 'static,
    K: AsRef<BearerSerializer> + 'static,
{
    type Error = BearerRejection;
    type Future = BoxFuture<Result<Self, BearerRejection>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = token_and_serializer::<K>(req);
        Box::pin(async move {
            match found? {
                Some((token, serializer)) => load(&serializer, &token).await,
                None => {
                    tracing::debug!("bearer token refused: no Authorization header");
                    Err(BearerRejection::MissingToken)
                }
            }
        })
    }
}

/// An optional bearer token, as axum's `Option<Bearer<T>>` is: `None` without an
/// `Authorization` header or with another scheme, the [`BearerRejection`] answer for a token
/// that is malformed, invalid, expired or revoked, or while the store cannot answer.
///
/// actix-web's own `Option<Bearer<T>>` is `None` on *every* refusal (actix-web implements
/// `FromRequest` for `Option<E>` of any extractor that way): a revoked token then reads as
/// anonymous and a store outage too. Use this type for routes that serve both.
///
/// ```
/// use itsclassified::actix::OptionalBearer;
///
/// async fn greeting(OptionalBearer(bearer): OptionalBearer<String>) -> String {
///     bearer.map_or("hello, stranger".into(), |b| format!("hello, {}", b.payload))
/// }
/// ```
#[derive(Debug)]
pub struct OptionalBearer<T, K = BearerSerializer>(pub Option<Bearer<T, K>>);

impl<T, K> FromRequest for OptionalBearer<T, K>
where
    T: DeserializeOwned + Send + 'static,
    K: AsRef<BearerSerializer> + 'static,
{
    type Error = BearerRejection;
    type Future = BoxFuture<Result<Self, BearerRejection>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = token_and_serializer::<K>(req);
        Box::pin(async move {
            match found {
                Ok(Some((token, serializer))) => load(&serializer, &token).await.map(Some),
                Ok(None) | Err(BearerRejection::OtherScheme) => Ok(None),
                Err(e) => Err(e),
            }
            .map(OptionalBearer)
        })
    }
}

impl BearerRejection {
    /// The answer with a body of your choosing (a JSON API's error shape), for actix-web: the
    /// rejection's status, `WWW-Authenticate` and `Retry-After`, with `body` as the body and
    /// `content_type` as its `Content-Type` (`ContentType::json()`, `"application/json"`, any
    /// header value; one that is not a valid header value makes actix-web answer 500). Build
    /// the body from the accessors ([`BearerRejection::error_code`],
    /// [`BearerRejection::error_description`], [`BearerRejection::status`]); put neither the
    /// token nor the wrapped [`Error`](crate::Error) in it.
    ///
    /// A handler can take `Result<Bearer<T>, BearerRejection>` and answer with it, or a wrapper
    /// extractor can give it to every route through `InternalError::from_response` (the
    /// rejection stays the error's cause, for middleware and logs):
    ///
    /// ```
    /// use actix_web::error::InternalError;
    /// use actix_web::http::header::ContentType;
    /// use actix_web::{dev::Payload, web, App, FromRequest, HttpRequest, HttpResponse};
    /// use itsclassified::actix::{Bearer, BearerRejection, BearerSerializer};
    /// use itsclassified::{SecretKey, TimedSerializer};
    /// use serde::{Deserialize, Serialize};
    /// use std::future::Future;
    /// use std::pin::Pin;
    /// use std::time::Duration;
    ///
    /// #[derive(Serialize, Deserialize)]
    /// struct User { id: String }
    ///
    /// fn api_error(rejection: &BearerRejection) -> HttpResponse {
    ///     let error = rejection.error_code().unwrap_or(match rejection.status() {
    ///         401 => "unauthorized",
    ///         503 => "temporarily_unavailable",
    ///         _ => "server_error",
    ///     });
    ///     let body = serde_json::json!({ "error": error });
    ///     rejection.error_response_with(ContentType::json(), body.to_string())
    /// }
    ///
    /// /// `Bearer<User>` with JSON refusals.
    /// struct ApiUser(Bearer<User>);
    ///
    /// impl FromRequest for ApiUser {
    ///     type Error = actix_web::Error;
    ///     type Future = Pin<Box<dyn Future<Output = Result<ApiUser, actix_web::Error>>>>;
    ///
    ///     fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
    ///         let bearer = Bearer::<User>::from_request(req, payload);
    ///         Box::pin(async move {
    ///             bearer.await.map(ApiUser).map_err(|rejection| {
    ///                 let response = api_error(&rejection);
    ///                 InternalError::from_response(rejection, response).into()
    ///             })
    ///         })
    ///     }
    /// }
    ///
    /// async fn me(ApiUser(bearer): ApiUser) -> HttpResponse {
    ///     HttpResponse::Ok().json(bearer.payload)
    /// }
    ///
    /// // Or, route by route:
    /// async fn maybe_me(bearer: Result<Bearer<User>, BearerRejection>) -> HttpResponse {
    ///     match bearer {
    ///         Ok(bearer) => HttpResponse::Ok().json(bearer.payload),
    ///         Err(rejection) => api_error(&rejection),
    ///     }
    /// }
    ///
    /// let bearer = BearerSerializer::new(
    ///     TimedSerializer::new(SecretKey::generate(), "api-token").max_age(Duration::from_secs(900)),
    /// )
    /// .expect("an expiry policy is set");
    /// let app = App::new()
    ///     .app_data(bearer)
    ///     .route("/me", web::get().to(me))
    ///     .route("/maybe-me", web::get().to(maybe_me));
    ///
    /// let response = api_error(&BearerRejection::InvalidRequest);
    /// assert_eq!(response.status(), 400);
    /// let header = |name| response.headers().get(name).unwrap().to_str().unwrap();
    /// assert_eq!(header("www-authenticate"), r#"Bearer error="invalid_request""#);
    /// assert_eq!(header("content-type"), "application/json");
    /// ```
    pub fn error_response_with(
        &self,
        content_type: impl TryIntoHeaderValue,
        body: impl MessageBody + 'static,
    ) -> HttpResponse {
        self.response_builder()
            .content_type(content_type)
            .body(body)
    }

    /// The status and headers of the answer, without body.
    fn response_builder(&self) -> HttpResponseBuilder {
        let mut response = HttpResponse::build(ResponseError::status_code(self));
        if let Some(retry_after) = self.retry_after() {
            response.insert_header((RETRY_AFTER, retry_after));
        }
        if let Some(challenge) = self.www_authenticate() {
            response.insert_header((WWW_AUTHENTICATE, challenge));
        }
        response
    }
}

/// The same answers as the axum door's `IntoResponse`: an empty body, the status, and the
/// `WWW-Authenticate` and `Retry-After` headers of the shared table
/// ([`BearerRejection::error_response_with`] for a body of your own).
impl ResponseError for BearerRejection {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        self.response_builder().finish()
    }
}
