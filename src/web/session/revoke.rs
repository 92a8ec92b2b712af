//! The session's side of revocation: checking the request's cookie against the store before
//! the handler runs, and revoking it on logout.

use std::sync::PoisonError;

use serde::de::DeserializeOwned;

use super::state::Shared;
use crate::revocation::StoreError;
use crate::web::revocation::Verdict;

impl<T: DeserializeOwned + 'static> Shared<T> {
    /// With a revocation store configured: loads the request's cookie and, if the store does
    /// not admit it (revoked, or the store cannot answer and the policy fails closed), forgets
    /// it, so that the handler sees an empty session, exactly as for an invalid cookie.
    pub(super) async fn check_revocation(&self) {
        let Some(revocation) = &self.config.revocation else {
            return;
        };
        let (meta, subject, revocation) = {
            let mut state = self.lock();
            self.load(&mut state);
            let Some(meta) = state.meta().copied() else {
                return; // no cookie, or none that loads: nothing to check
            };
            let Some(revocation) = revocation.get::<T>() else {
                state.discard();
                return;
            };
            let subject = state.value().and_then(|v| revocation.subject_of(v));
            (meta, subject, revocation)
        };
        let verdict = revocation
            .admits(&meta, subject.as_deref(), "session cookie")
            .await;
        if verdict != Verdict::Admitted {
            self.lock().discard();
        }
        if verdict == Verdict::Unanswered {
            *self
                .unchecked
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(meta);
        }
    }

    /// Empties the session (the response removes the cookie) and revokes the cookie the
    /// request presented, if one loaded (whether or not the store could be asked about it).
    pub(super) async fn clear_and_revoke(&self) -> Result<(), StoreError> {
        let meta = {
            let mut state = self.lock();
            self.load(&mut state);
            let meta = state.meta().copied();
            state.clear();
            meta
        };
        let meta = meta.or_else(|| {
            *self
                .unchecked
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
        });
        let revocation = match &self.config.revocation {
            Some(revocation) => revocation.get::<T>().ok_or(StoreError::NotConfigured)?,
            None => return Err(StoreError::NotConfigured),
        };
        match meta {
            Some(meta) => revocation.revoke(&meta).await,
            None => Ok(()),
        }
    }
}
