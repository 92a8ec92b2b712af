//! The session of one request as both doors hold it: the core's [`SessionState`] behind a lock,
//! the revocation checks around it, and the decision the door writes on its response. Nothing
//! here knows a framework: a door hands in the `Cookie` header values, the status and the
//! `Cache-Control` values of its response, and writes back the [`Outcome`].

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::revocation::StoreError;
use crate::session::{Finish, FinishError, RequestCookies, SessionPolicy, SessionState, Verdict};
use crate::web::revocation::AnyRevocation;

/// What the door does to its response once the handler answered.
pub(crate) enum Outcome {
    /// Write these headers on the handler's response.
    Write(Finish),
    /// Replace the response by an empty 500: the cookie could not be made. The door logs the
    /// cause at error level (under its own module's name, which log filters know).
    InternalError(FinishError),
    /// Replace the response by an empty 503 with `Retry-After`: the store could not give the
    /// cutoff of a new session's subject (`None`: the revocation is for another payload type,
    /// logged already). The door logs the cause.
    Unavailable(Option<StoreError>),
}

/// The session of one request, shared by the service and every clone of its [`Session`]
/// extractor: the core's state behind a lock, with the policy and revocation of the layer.
pub(crate) struct Shared<T> {
    pub(crate) policy: Arc<SessionPolicy>,
    pub(crate) revocation: Option<AnyRevocation>,
    state: Mutex<SessionState<T>>,
}

impl<T> Shared<T> {
    /// The session of a request whose `Cookie` header values (raw bytes) are `cookies`.
    pub(crate) fn new<'a>(
        policy: &Arc<SessionPolicy>,
        revocation: Option<&AnyRevocation>,
        cookies: impl IntoIterator<Item = &'a [u8]>,
    ) -> Shared<T> {
        let cookies = RequestCookies::parse(policy, cookies);
        Shared {
            policy: Arc::clone(policy),
            revocation: revocation.cloned(),
            state: Mutex::new(SessionState::new(cookies)),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, SessionState<T>> {
        // No code that can panic runs under the lock but `T`'s serde impls; the state is
        // either set completely or not at all, so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: DeserializeOwned + 'static> Shared<T> {
    /// With a revocation store configured: loads the request's session and asks the store
    /// about it (what the core names), then hands the answer to the core.
    pub(crate) async fn check_revocation(&self) {
        let Some(any) = &self.revocation else {
            return;
        };
        let (check, subject, revocation) = {
            let mut state = self.lock();
            state.load(&self.policy);
            let Some(check) = state.pending_check() else {
                return; // no cookie, or none that loads: nothing to check
            };
            let Some(revocation) = any.get::<T>() else {
                state.resolve(Verdict::Revoked);
                return;
            };
            let subject = state.value().and_then(|v| revocation.subject_of(v));
            (check, subject, revocation)
        };
        let verdict = revocation.admits_session(&check, subject.as_deref()).await;
        self.lock().resolve(verdict);
    }

    /// Empties the session (the response removes the cookie) and revokes the session the
    /// request presented, if one loaded, whether or not the store could be asked about it.
    pub(crate) async fn clear_and_revoke(&self) -> Result<(), StoreError> {
        let revocation = match &self.revocation {
            Some(any) => any.get::<T>(),
            None => None,
        };
        let (target, subject) = {
            let mut state = self.lock();
            state.load(&self.policy);
            let target = state.revocation(&self.policy);
            let subject = revocation.and_then(|r| state.value().and_then(|v| r.subject_of(v)));
            state.clear();
            (target, subject)
        };
        let revocation = revocation.ok_or(StoreError::NotConfigured)?;
        let revoked = match target {
            Some(target) => revocation.revoke_session(&target, subject.as_deref()).await,
            None => Ok(()),
        };
        if revoked.is_err() {
            self.lock().revocation_failed();
        }
        revoked
    }
}

impl<T: Serialize + DeserializeOwned + 'static> Shared<T> {
    /// The core's decision for a response of `status` whose `Cache-Control` values are
    /// `cache_control`.
    pub(crate) async fn finish<'a>(
        &self,
        status: u16,
        cache_control: impl IntoIterator<Item = &'a str> + Clone,
    ) -> Outcome {
        let cutoff = match self.new_session_cutoff(status).await {
            Ok(cutoff) => cutoff,
            Err(e) => return Outcome::Unavailable(e),
        };
        let finished = self
            .lock()
            .finish(&self.policy, status, cache_control, cutoff);
        match finished {
            Ok(finished) => Outcome::Write(finished),
            Err(e) => Outcome::InternalError(e),
        }
    }

    /// The subject cutoff a session this response starts must be issued after: `Ok(None)` when
    /// it starts none, or has no subject or no store; `Err` when the store cannot answer.
    async fn new_session_cutoff(
        &self,
        status: u16,
    ) -> Result<Option<SystemTime>, Option<StoreError>> {
        let Some(any) = &self.revocation else {
            return Ok(None);
        };
        if !self.lock().starts_session(status) {
            return Ok(None);
        }
        let Some(revocation) = any.get::<T>() else {
            return Err(None);
        };
        let subject = self.lock().value().and_then(|v| revocation.subject_of(v));
        let Some(subject) = subject else {
            return Ok(None);
        };
        revocation.cutoff(&subject).await.map_err(Some)
    }
}

/// Whether `Vary` header values already name `Cookie` (or `*`): then `Vary: cookie` is not
/// added again.
pub(crate) fn varies_on_cookie<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> bool {
    values
        .into_iter()
        .filter_map(|v| std::str::from_utf8(v).ok())
        .flat_map(|v| v.split(','))
        .any(|field| {
            let field = field.trim();
            field == "*" || field.eq_ignore_ascii_case("cookie")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vary_cookie_is_found_in_any_spelling_and_list() {
        assert!(!varies_on_cookie([]));
        assert!(varies_on_cookie([&b"Accept-Encoding, Cookie"[..]]));
        assert!(varies_on_cookie([&b"accept-encoding"[..], &b"*"[..]]));
        assert!(!varies_on_cookie([&b"accept-encoding"[..]]));
        assert!(!varies_on_cookie([&b"cookies"[..]]));
    }
}
