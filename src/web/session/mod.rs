//! Encrypted cookie sessions, in three parts as tower-sessions has them: the cookie policy and
//! its builder (`config`), the tower layer and service that carry out a decision on the
//! response (`layer`), and the per-request state with that decision as a pure function
//! (`state`), which the [`Session`] extractor (`extract`) reads and changes.

mod config;
mod extract;
mod layer;
mod revoke;
mod state;

pub use config::{SameSite, SessionConfigError, SessionLayerBuilder};
pub use extract::{Session, SessionRejection};
pub use layer::{SessionLayer, SessionService};
