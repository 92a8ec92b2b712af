//! The [`Session<T>`] extractor: the handler's view of the request's session state.

use std::fmt;
use std::sync::Arc;

#[cfg(feature = "axum")]
use axum::extract::FromRequestParts;
#[cfg(feature = "axum")]
use axum::http::request::Parts;
#[cfg(feature = "axum")]
use axum::http::StatusCode;
#[cfg(feature = "axum")]
use axum::response::IntoResponse;
use serde::de::DeserializeOwned;

#[cfg(feature = "axum")]
use super::layer::unavailable;
use super::shared::Shared;
use crate::revocation::StoreError;
use crate::session::SessionId;
use crate::TokenMeta;

/// Extractor for the session of a [`SessionLayer<T>`](https://docs.rs/itsclassified/latest/itsclassified/web/struct.SessionLayer.html) (axum) or `SessionMiddleware<T>` (actix): read it, replace it, clear it.
///
/// The methods take `&self` and every clone refers to the same session, so it can be extracted
/// more than once and handed around; the layer writes the cookie after the handler's response
/// is made, from the state at that moment (changes made after that, from a spawned task, are
/// lost). The last of [`set`](Session::set) and [`clear`](Session::clear) wins.
///
/// Extracting a `Session<T>` from a route that has no `SessionLayer<T>` (or one for another
/// type) fails with [`SessionRejection::MissingLayer`], a 500; while the layer's revocation
/// store cannot answer for the request's cookie, with [`SessionRejection::StoreUnavailable`], a
/// 503 with `Retry-After` (the session is neither read as empty nor replaced, and the browser
/// keeps its cookie).
///
/// ```
/// use axum::http::StatusCode;
/// use itsclassified::web::Session;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Clone, Serialize, Deserialize)]
/// struct Cart { items: Vec<u32> }
///
/// async fn add_item(session: Session<Cart>) -> StatusCode {
///     let mut cart = session.get().unwrap_or(Cart { items: vec![] });
///     if cart.items.len() >= 50 {
///         return StatusCode::CONFLICT;
///     }
///     cart.items.push(42);
///     session.set(cart);
///     StatusCode::NO_CONTENT
/// }
/// ```
pub struct Session<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Session<T> {
    pub(crate) fn from_shared(shared: Arc<Shared<T>>) -> Session<T> {
        Session { shared }
    }

    /// What a door's extractor returns for the session its middleware put on the request
    /// (`found`): marks the session read (so the response varies on `Cookie`), and refuses it
    /// while the store could not answer for its cookie.
    /// `layer` names the door's session layer type in the log.
    pub(crate) fn extract(
        found: Option<&Session<T>>,
        layer: &'static str,
    ) -> Result<Session<T>, SessionRejection> {
        match found {
            Some(session) => {
                let mut state = session.shared.lock();
                state.mark_extracted();
                if state.is_unavailable() {
                    return Err(SessionRejection::StoreUnavailable);
                }
                drop(state);
                Ok(session.clone())
            }
            None => {
                tracing::error!(
                    payload = std::any::type_name::<T>(),
                    "Session<T> extracted on a route without a {layer}<T> for the same T"
                );
                Err(SessionRejection::MissingLayer)
            }
        }
    }
}

impl<T> Clone for Session<T> {
    fn clone(&self) -> Self {
        Session {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> fmt::Debug for Session<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Neither the payload nor the cookie.
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned> Session<T> {
    /// The session's value: the request cookie's payload, or what the handler
    /// [`set`](Session::set) since. `None` if there was no cookie, it did not load, or the
    /// session was [cleared](Session::clear).
    ///
    /// ```
    /// # use itsclassified::web::Session;
    /// async fn handler(session: Session<String>) -> String {
    ///     session.get().unwrap_or_else(|| "anonymous".into())
    /// }
    /// ```
    pub fn get(&self) -> Option<T>
    where
        T: Clone,
    {
        let mut state = self.shared.lock();
        state.load(&self.shared.policy);
        state.value().cloned()
    }

    /// Replaces the session's value; the response carries a new cookie. The session keeps its
    /// id and its start (a value change does not extend an
    /// [absolute lifetime](https://docs.rs/itsclassified/latest/itsclassified/web/struct.SessionLayerBuilder.html#method.absolute_lifetime)); call
    /// [`clear`](Session::clear) first to start a new session with a new id, at login say. A
    /// response with a 5xx status does not apply it.
    ///
    /// ```
    /// # use itsclassified::web::Session;
    /// async fn handler(session: Session<String>) {
    ///     session.set("user-123".to_owned());
    /// }
    /// ```
    pub fn set(&self, value: T) {
        let mut state = self.shared.lock();
        // The session keeps its id and start: read them from the cookie being replaced.
        state.load(&self.shared.policy);
        state.set(value);
    }

    /// Empties the session (logout): the response carries an expired cookie with the same name,
    /// path and domain, which the browser deletes.
    ///
    /// ```
    /// # use itsclassified::web::Session;
    /// async fn logout(session: Session<String>) {
    ///     session.clear();
    /// }
    /// ```
    pub fn clear(&self) {
        self.shared.lock().clear();
    }

    /// Re-issues the current value in a new cookie, issued now under the primary key, which
    /// restarts its `max_age` (after a privilege change, say, or to move it off a key that is
    /// being rotated out). Does nothing for an empty session.
    ///
    /// ```
    /// # use itsclassified::web::Session;
    /// async fn handler(session: Session<String>) {
    ///     if session.meta().is_some_and(|m| !m.is_primary()) {
    ///         session.renew();
    ///     }
    /// }
    /// ```
    pub fn renew(&self) {
        let mut state = self.shared.lock();
        state.load(&self.shared.policy);
        state.renew();
    }

    /// The verified metadata (issued-at, age, key) of the request's cookie, if it loaded and the
    /// session has not been set or cleared since.
    ///
    /// ```
    /// # use itsclassified::web::Session;
    /// async fn handler(session: Session<String>) -> String {
    ///     match session.meta() {
    ///         Some(meta) => format!("logged in {} s ago", meta.age.as_secs()),
    ///         None => "no session".into(),
    ///     }
    /// }
    /// ```
    pub fn meta(&self) -> Option<TokenMeta> {
        let mut state = self.shared.lock();
        state.load(&self.shared.policy);
        state.meta().copied()
    }

    /// The id of the request's session, if its cookie loaded: the same from login to logout,
    /// through renewals and changes (SPEC.md section 10.1). Not a credential, but an identifier:
    /// keep it out of URLs and logs.
    ///
    /// ```
    /// # use itsclassified::web::Session;
    /// async fn handler(session: Session<String>) -> String {
    ///     session.id().map_or("none".into(), |id| id.to_string())
    /// }
    /// ```
    pub fn id(&self) -> Option<SessionId> {
        let mut state = self.shared.lock();
        state.load(&self.shared.policy);
        state.session_id()
    }
}

impl<T: DeserializeOwned + 'static> Session<T> {
    /// Logout that sticks: empties the session like [`clear`](Session::clear) (the response
    /// asks the browser to delete the cookie) **and** revokes the session's id in the layer's
    /// revocation store, so that every copy of its cookie (a stolen one, one taken before the
    /// session was renewed or changed, a browser that ignores the deletion) is refused until it
    /// would have expired anyway.
    ///
    /// Fails with [`StoreError::NotConfigured`] if the layer has no
    /// [revocation](https://docs.rs/itsclassified/latest/itsclassified/web/struct.SessionLayerBuilder.html#method.revocation), and with the store's error (a
    /// [`StoreError::Timeout`] after the revocation's timeout) if the store cannot record it:
    /// the copies then stay valid, so the response removes nothing either (the browser keeps
    /// its cookie) and should tell the user the logout failed (a 503 with `Retry-After`)
    /// rather than pretend. A request without a valid cookie has nothing to
    /// revoke: `Ok(())`.
    ///
    /// ```
    /// use axum::http::StatusCode;
    /// use itsclassified::web::Session;
    ///
    /// async fn logout(session: Session<String>) -> StatusCode {
    ///     match session.clear_and_revoke().await {
    ///         Ok(()) => StatusCode::NO_CONTENT,
    ///         Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    ///     }
    /// }
    /// ```
    pub async fn clear_and_revoke(&self) -> Result<(), StoreError> {
        self.shared.clear_and_revoke().await
    }
}

#[cfg(feature = "axum")]
impl<S, T> FromRequestParts<S> for Session<T>
where
    S: Send + Sync,
    T: Send + 'static,
{
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Session::extract(parts.extensions.get::<Session<T>>(), "SessionLayer")
    }
}

/// Why [`Session<T>`] could not be extracted.
///
#[cfg_attr(feature = "axum", doc = "```")]
#[cfg_attr(not(feature = "axum"), doc = "```ignore")]
/// use axum::{routing::get, Router};
/// use itsclassified::web::Session;
///
/// // Missing `.layer(SessionLayer::<u64>::new(..)?)`: every request to `/` gets a 500.
/// let app: Router = Router::new().route("/", get(|s: Session<u64>| async move { s.get().is_some().to_string() }));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum SessionRejection {
    /// The route has no [`SessionLayer<T>`](https://docs.rs/itsclassified/latest/itsclassified/web/struct.SessionLayer.html) of the same `T`: a bug of the
    /// service, answered with an empty 500 (and logged at error level).
    MissingLayer,
    /// The layer's revocation store could not answer for the request's cookie: an empty 503
    /// with `Retry-After`. The browser keeps its cookie, which works again once the store
    /// answers.
    StoreUnavailable,
}

impl fmt::Display for SessionRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SessionRejection::MissingLayer => {
                "Session<T> used on a route without a SessionLayer<T> for the same T"
            }
            SessionRejection::StoreUnavailable => {
                "the revocation store cannot answer; the session was not checked"
            }
        })
    }
}

impl std::error::Error for SessionRejection {}

#[cfg(feature = "axum")]
impl IntoResponse for SessionRejection {
    fn into_response(self) -> axum::response::Response {
        match self {
            SessionRejection::MissingLayer => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            SessionRejection::StoreUnavailable => unavailable(),
        }
    }
}
