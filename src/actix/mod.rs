//! Web integration for [actix-web](https://docs.rs/actix-web/4) 4 (feature `actix`): the same
//! bearer tokens, encrypted cookie sessions and revocation as the axum door ([`web`](crate::web)
//! with feature `axum`), as a thin adapter.
//!
//! Everything that decides is shared with the axum door: the `Authorization` parsing and the
//! RFC 6750 rejection table ([`BearerRejection`]), the revocation policy ([`Revocation`]: the
//! timeout, fail closed with a 503, the circuit breaker's answer), and the whole session profile
//! of SPEC.md section 10 (the session core, [`crate::session`]: defaults, chunks, renewal,
//! absolute lifetime, cache safety, fallback re-seal, revocation, and "a 5xx writes no
//! cookie"). This module only translates actix-web's requests and responses. The same keys and
//! the same store give tokens and cookies both doors accept.
//!
//! - [`Bearer<T>`] is a [`FromRequest`](actix_web::FromRequest) extractor: the
//!   [`BearerSerializer`] comes from the app data (`App::app_data(serializer)` or
//!   `App::app_data(web::Data::new(serializer))`). [`OptionalBearer<T>`] is what axum's
//!   `Option<Bearer<T>>` is; actix-web's own `Option<Bearer<T>>` turns *every* refusal into
//!   `None`, a store that cannot answer included.
//! - [`SessionMiddleware<T>`] (a [`Transform`](actix_web::dev::Transform)) keeps a `T` in an
//!   encrypted cookie, and [`Session<T>`] is the handler's view of it: `get`, `set`, `clear`,
//!   `renew`, `meta`, `id`, `clear_and_revoke`.
//!
//! ```
//! use actix_web::{web, App, HttpResponse};
//! use itsclassified::actix::{Bearer, BearerSerializer, Session, SessionMiddleware};
//! use itsclassified::{SecretKey, TimedSerializer};
//! use serde::{Deserialize, Serialize};
//! use std::time::Duration;
//!
//! #[derive(Clone, Serialize, Deserialize)]
//! struct User { id: String }
//!
//! async fn api(bearer: Bearer<User>) -> String { bearer.payload.id }
//! async fn page(session: Session<User>) -> String {
//!     session.get().map_or("anonymous".into(), |u| u.id)
//! }
//!
//! let bearer = BearerSerializer::new(
//!     TimedSerializer::new(SecretKey::generate(), "api-token").max_age(Duration::from_secs(900)),
//! )?;
//! let cookies =
//!     TimedSerializer::new(SecretKey::generate(), "session").max_age(Duration::from_secs(86400));
//! let sessions = SessionMiddleware::<User>::new(cookies)?;
//! let app = App::new()
//!     .app_data(bearer)
//!     .wrap(sessions)
//!     .route("/api", web::get().to(api))
//!     .route("/page", web::get().to(page));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bearer;
mod session;

pub use crate::web::{
    Bearer, BearerRejection, BearerSerializer, IssueError, Revocation, SameSite, Session,
    SessionConfigError, SessionRejection,
};
pub use bearer::OptionalBearer;
pub use session::{SessionMiddleware, SessionMiddlewareBuilder, SessionMiddlewareService};

/// The answer to a revocation that could not be recorded, as the axum door gives it: a 503 with
/// `Retry-After` when the store could not answer, an empty 500 for a bug of the service's
/// wiring; logged at error level.
impl actix_web::ResponseError for crate::revocation::StoreError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        actix_web::http::StatusCode::from_u16(crate::web::revocation::store_error_status(self))
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> actix_web::HttpResponse {
        crate::web::revocation::log_store_error(self);
        let mut response = actix_web::HttpResponse::build(self.status_code());
        if self.is_unavailable() {
            response.insert_header((
                actix_web::http::header::RETRY_AFTER,
                crate::web::RETRY_AFTER_SECS,
            ));
        }
        response.finish()
    }
}
