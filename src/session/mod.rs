//! Sessions, defined once (SPEC.md section 10): the framework-neutral session core that every
//! door (the axum layer, the Python middleware, an actix adapter) calls, so that a session is
//! read, renewed, chunked, revoked and written the same way whatever serves the request.
//!
//! A session is an ordinary v1 token whose payload is an envelope: the application's value, a
//! random 128-bit [`SessionId`] that stays the same from login to logout, and the session's
//! start (for the absolute lifetime). Logout revokes the session id, so every copy of the
//! cookie is refused, however often the session was renewed or changed since the copy was
//! taken.
//!
//! The parts, each importing only from the ones before it:
//!
//! - [`id`]: the [`SessionId`];
//! - `envelope`: the payload layout;
//! - [`policy`]: [`SessionPolicy`], the cookie's attributes, lifetimes and chunking, and the
//!   checks of its builder;
//! - [`cookies`]: [`RequestCookies`], the request's `Cookie` headers read into candidates, and
//!   the `Set-Cookie` lines (chunked where needed);
//! - [`state`]: [`SessionState`], the per-request machine and its keep / issue / remove
//!   decision. It does no I/O: the adapter asks its revocation store what
//!   [`SessionState::pending_check`] names and feeds the answer back.
//!
//! ```
//! use itsclassified::session::{RequestCookies, SessionPolicy, SessionState, Verdict};
//! use itsclassified::{SecretKey, TimedSerializer};
//! use std::time::Duration;
//!
//! let serializer = TimedSerializer::new(SecretKey::generate(), "session-cookie")
//!     .max_age(Duration::from_secs(3600));
//! let policy = SessionPolicy::builder(serializer).insecure_allow_http().build()?;
//!
//! // Login: a request without a cookie; the handler sets the session.
//! let mut login = SessionState::<String>::new(RequestCookies::parse(&policy, []));
//! login.load(&policy);
//! login.set("user-1".to_owned());
//! let written = login.finish(&policy, 200, [], None)?;
//! let cookie = written.set_cookie[0].split(';').next().unwrap().to_owned(); // session=<token>
//! assert_eq!(written.cache_control.as_deref(), Some("private"));
//!
//! // The next request: the cookie loads; the adapter checks it against its store.
//! let mut next = SessionState::<String>::new(RequestCookies::parse(&policy, [cookie.as_bytes()]));
//! next.load(&policy);
//! let check = next.pending_check().expect("a session to check");
//! next.resolve(Verdict::Admitted); // what the store said about check.session_id
//! assert_eq!(next.value().map(String::as_str), Some("user-1"));
//! assert!(next.finish(&policy, 200, [], None)?.set_cookie.is_empty()); // unchanged: no cookie
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod cookies;
mod envelope;
pub mod id;
pub mod policy;
pub mod state;
#[cfg(test)]
mod vectors;

pub use cookies::RequestCookies;
pub use id::SessionId;
pub use policy::{
    OpenedSession, SameSite, SessionConfigError, SessionPolicy, SessionPolicyBuilder,
};
pub use state::{Finish, FinishError, SessionCheck, SessionRevocation, SessionState, Verdict};
