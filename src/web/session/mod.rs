//! Encrypted cookie sessions for axum: a thin adapter on the framework-neutral session core
//! ([`crate::session`]), in three parts as tower-sessions has them: the builder (`config`), the
//! tower layer and service that run the core's check before the handler and write its decision
//! on the response (`layer`), and the [`Session`] extractor (`extract`).

mod config;
mod extract;
mod layer;

pub use crate::session::{SameSite, SessionConfigError};
pub use config::SessionLayerBuilder;
pub use extract::{Session, SessionRejection};
pub use layer::{SessionLayer, SessionService};
