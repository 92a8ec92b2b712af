//! [`Bearer<T>`] as an actix-web extractor: the shared parsing, load and rejection table
//! (`crate::web::bearer`), translated.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{HeaderValue, AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
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

/// The same answers as the axum door's `IntoResponse`: an empty body, the status, and the
/// `WWW-Authenticate` and `Retry-After` headers of the shared table.
impl ResponseError for BearerRejection {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(ResponseError::status_code(self));
        if let Some(retry_after) = self.retry_after() {
            response.insert_header((RETRY_AFTER, retry_after));
        }
        if let Some(challenge) = self.www_authenticate() {
            response.insert_header((WWW_AUTHENTICATE, challenge));
        }
        response.finish()
    }
}
