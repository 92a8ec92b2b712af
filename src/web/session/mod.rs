//! Encrypted cookie sessions for axum (and, through `shared` and the [`Session`] extractor's
//! neutral half, for actix-web): a thin adapter on the framework-neutral session core
//! ([`crate::session`]), in three parts as tower-sessions has them: the builder (`config`), the
//! tower layer and service that run the core's check before the handler and write its decision
//! on the response (`layer`), and the [`Session`] extractor (`extract`).

#[cfg(feature = "axum")]
mod config;
mod extract;
#[cfg(feature = "axum")]
mod layer;
pub(crate) mod shared;

pub use crate::session::{SameSite, SessionConfigError};
#[cfg(feature = "axum")]
pub use config::SessionLayerBuilder;
pub use extract::{Session, SessionRejection};
#[cfg(feature = "axum")]
pub use layer::{SessionLayer, SessionService};
