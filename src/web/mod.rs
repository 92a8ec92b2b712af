//! Web integration for [axum](https://docs.rs/axum/0.8) 0.8 (feature `axum`): a bearer-token
//! extractor and encrypted cookie sessions.
//!
//! The types that do not speak axum ([`BearerSerializer`], [`Bearer`], [`BearerRejection`],
//! [`Revocation`], [`Session`]) are shared with the actix-web door (feature `actix`,
//! `itsclassified::actix`, which re-exports them): with `actix` alone, this module holds only
//! those.
//!
//! - [`Bearer<T>`] reads `Authorization: Bearer <token>`, loads a `T` with the
//!   [`BearerSerializer`] found in the router state, and answers every failure the way
//!   [RFC 6750, section 3](https://www.rfc-editor.org/rfc/rfc6750#section-3) says, without
//!   saying more than "invalid" or "expired".
//! - [`SessionLayer<T>`](https://docs.rs/itsclassified/latest/itsclassified/web/struct.SessionLayer.html) (axum) and [`Session<T>`] keep a typed, encrypted session in a cookie, like
//!   Starlette's `SessionMiddleware`: the cookie is read when the handler asks for the session
//!   and written only when the session was set, renewed or cleared.
//!
//! Use a different salt (and so a different [`TimedSerializer`](crate::TimedSerializer)) for
//! bearer tokens and for session cookies: a token made for one purpose then never loads as the
//! other.
//!
//! Nothing here logs or echoes a token or a cookie value. Refused tokens and cookies are logged
//! with [`tracing`](https://docs.rs/tracing) at debug level (the client's mistake), problems of
//! the service at error level; the [`Error`](crate::Error) messages logged are fixed text.
//!
// The example needs the axum door: compiled with feature `axum`, shown as-is without.
#![cfg_attr(feature = "axum", doc = "```")]
#![cfg_attr(not(feature = "axum"), doc = "```ignore")]
//! use axum::{routing::get, Router};
//! use itsclassified::web::{Bearer, BearerSerializer, Session, SessionLayer};
//! use itsclassified::{SecretKey, TimedSerializer};
//! use serde::{Deserialize, Serialize};
//! use std::time::Duration;
//!
//! #[derive(Clone, Serialize, Deserialize)]
//! struct User { id: String }
//!
//! async fn api(Bearer { payload, .. }: Bearer<User>) -> String { payload.id }
//! async fn page(session: Session<User>) -> String {
//!     session.get().map_or("anonymous".into(), |u| u.id)
//! }
//!
//! let bearer = BearerSerializer::new(
//!     TimedSerializer::new(SecretKey::generate(), "api-token").max_age(Duration::from_secs(900)),
//! )?;
//! let cookies =
//!     TimedSerializer::new(SecretKey::generate(), "session").max_age(Duration::from_secs(86400));
//! let app: Router = Router::new()
//!     .route("/api", get(api))
//!     .route("/page", get(page))
//!     .layer(SessionLayer::<User>::new(cookies)?)
//!     .with_state(bearer);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// The framework-neutral parts (the bearer serializer, the header's parsing and the rejection
// table, the revocation policy, the per-request session) are compiled for either door; what
// speaks axum is behind `feature = "axum"`, and `crate::actix` holds what speaks actix-web.
pub(crate) mod bearer;
pub(crate) mod revocation;
pub(crate) mod session;

pub use bearer::{Bearer, BearerRejection, BearerSerializer, IssueError};
pub use revocation::Revocation;
pub use session::{SameSite, Session, SessionConfigError, SessionRejection};
#[cfg(feature = "axum")]
pub use session::{SessionLayer, SessionLayerBuilder, SessionService};

/// The `Retry-After` of a 503 when the revocation store cannot answer: one second.
pub(crate) const RETRY_AFTER_SECS: &str = "1";
