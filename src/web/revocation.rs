//! How the web extractors consult a [`RevocationStore`]: the subject of a payload, the timeout,
//! and what a store that cannot answer means.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::revocation::{RevocationStatus, RevocationStore, StoreError, StoreFuture};
pub(crate) use crate::session::Verdict;
use crate::session::{SessionCheck, SessionRevocation};
use crate::TokenMeta;

type SubjectFn<T> = dyn Fn(&T) -> Option<String> + Send + Sync;

/// A [`RevocationStore`] as [`Bearer`](super::Bearer) and [`Session`](super::Session) consult
/// it: the store, how to find a payload's subject, how long to wait, and what to do when the
/// store cannot answer. Given to [`BearerSerializer::revocation`](super::BearerSerializer::revocation)
/// and [`SessionLayerBuilder::revocation`](https://docs.rs/itsclassified/latest/itsclassified/web/struct.SessionLayerBuilder.html#method.revocation).
///
/// - **Subject**: [`subject`](Revocation::subject) names the subject of a payload `T` (a user
///   id, say), for "log out everywhere"
///   ([`RevocationStore::revoke_subject`]). Without it only single tokens can be revoked.
/// - **Timeout**: a check that takes longer than [`timeout`](Revocation::timeout)
///   ([`DEFAULT_TIMEOUT`](Revocation::DEFAULT_TIMEOUT), 300 ms) counts as a store that cannot
///   answer. No request waits longer on a dead store. (The timer is tokio's: the server must
///   run on a tokio runtime with its time driver, as `#[tokio::main]` makes it.)
/// - **Fail closed, as the service's problem**: a store that cannot answer (down, timed out,
///   ...) means the request is refused with a 503 and `Retry-After`, never a 401: a client
///   told that its token is invalid throws it away, so a store blip would log every client
///   out. A session whose check could not be made is neither read as empty nor replaced (no
///   `Set-Cookie`). The cause is logged at error level. A revoked token is never let through
///   because the store is down. [`insecure_fail_open`](Revocation::insecure_fail_open) lets
///   tokens through instead (still logged at error level), for services that prefer
///   availability over a logout that sticks.
///
/// Cloning is cheap; the store is shared.
///
/// ```
/// use itsclassified::revocation::{MemoryStore, RevocationStore};
/// use itsclassified::web::Revocation;
/// use serde::{Deserialize, Serialize};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// #[derive(Serialize, Deserialize)]
/// struct Claims { user_id: String }
///
/// let store: Arc<dyn RevocationStore> = Arc::new(MemoryStore::new());
/// let revocation = Revocation::<Claims>::new(Arc::clone(&store))
///     .subject(|c| Some(c.user_id.clone()))
///     .timeout(Duration::from_millis(200));
/// ```
pub struct Revocation<T> {
    store: Arc<dyn RevocationStore>,
    subject: Option<Arc<SubjectFn<T>>>,
    timeout: Duration,
    fail_open: bool,
}

impl<T> Revocation<T> {
    /// How long a check may take by default before the store counts as unable to answer.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(300);

    /// Consults `store`, without subject, with the default timeout, failing closed.
    pub fn new(store: Arc<dyn RevocationStore>) -> Revocation<T> {
        Revocation {
            store,
            subject: None,
            timeout: Self::DEFAULT_TIMEOUT,
            fail_open: false,
        }
    }

    /// How to find the subject of a payload (`None`: a payload without subject, checked by
    /// token id only).
    #[must_use]
    pub fn subject(
        mut self,
        subject: impl Fn(&T) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.subject = Some(Arc::new(subject));
        self
    }

    /// How long a check (or a revocation) may take.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Accepts tokens when the store cannot answer, instead of refusing them. A token revoked
    /// by a logout then loads again while the store is down: choose this only where that is
    /// acceptable. Every such acceptance is logged at error level.
    #[must_use]
    pub fn insecure_fail_open(mut self) -> Self {
        self.fail_open = true;
        self
    }

    /// The store.
    ///
    /// ```
    /// # use itsclassified::{revocation::MemoryStore, web::Revocation};
    /// let r = Revocation::<String>::new(std::sync::Arc::new(MemoryStore::new()));
    /// let store = r.store(); // for the logout routes
    /// ```
    pub fn store(&self) -> &Arc<dyn RevocationStore> {
        &self.store
    }

    /// The subject of `payload`, if a subject function is set and names one.
    /// Revokes the token that `meta` describes (logout of a bearer token), naming its subject
    /// through this revocation's subject function, so that a store with a per-subject bound
    /// ([`MemoryStore`](crate::revocation::MemoryStore)) keeps one user from filling it; within
    /// this revocation's timeout. `true` unless it was revoked already.
    ///
    /// ```
    /// # use itsclassified::revocation::MemoryStore;
    /// # use itsclassified::web::Revocation;
    /// # use itsclassified::{SecretKey, TimedSerializer};
    /// # use std::{sync::Arc, time::Duration};
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let revocation = Revocation::<String>::new(Arc::new(MemoryStore::new()))
    ///     .subject(|user_id| Some(user_id.clone()));
    /// let tokens = TimedSerializer::new(SecretKey::generate(), "api-token")
    ///     .max_age(Duration::from_secs(900));
    /// let loaded = tokens.loads_with_meta::<String>(&tokens.dumps("user-1")?)?;
    /// assert!(revocation.revoke(&loaded.meta, &loaded.payload).await?);
    /// assert!(!revocation.revoke(&loaded.meta, &loaded.payload).await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn revoke(&self, meta: &TokenMeta, payload: &T) -> Result<bool, StoreError> {
        let subject = self.subject_of(payload);
        let revoke = self.store.revoke_of(meta, subject.as_deref());
        match tokio::time::timeout(self.timeout, revoke).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Timeout),
        }
    }

    pub(crate) fn subject_of(&self, payload: &T) -> Option<String> {
        self.subject.as_ref().and_then(|f| f(payload))
    }

    /// Whether a loaded token may be used: not revoked, or (fail-open only) the store could not
    /// answer. Logs the refusal (debug) or the store's failure (error); `what` names the token
    /// in the log ("bearer token", "session cookie").
    pub(crate) async fn admits(
        &self,
        meta: &TokenMeta,
        subject: Option<&str>,
        what: &'static str,
    ) -> Verdict {
        self.judge(self.store.check(meta, subject), what).await
    }

    /// Whether the request's session may be used (SPEC.md section 10.5): its id not revoked,
    /// its token issued after its subject's cutoff.
    pub(crate) async fn admits_session(
        &self,
        check: &SessionCheck,
        subject: Option<&str>,
    ) -> Verdict {
        let status = self
            .store
            .session_status(check.session_id, check.issued_at, subject);
        self.judge(status, "session cookie").await
    }

    async fn judge(
        &self,
        status: StoreFuture<'_, RevocationStatus>,
        what: &'static str,
    ) -> Verdict {
        let answer = match tokio::time::timeout(self.timeout, status).await {
            Ok(answer) => answer,
            Err(_) => Err(StoreError::Timeout),
        };
        match answer {
            Ok(RevocationStatus::Active) => Verdict::Admitted,
            Ok(RevocationStatus::Revoked) => {
                tracing::debug!("{what} refused: revoked");
                Verdict::Revoked
            }
            Err(e) if self.fail_open => {
                tracing::error!(error = %e, source = ?std::error::Error::source(&e).map(ToString::to_string), "{what} accepted without a revocation check (fail-open): the revocation store cannot answer");
                Verdict::Admitted
            }
            // The breaker logged when it opened: one line per change of state, not per request.
            Err(StoreError::CircuitOpen) => {
                tracing::trace!("{what} refused with a 503 (fail closed): the revocation store's circuit breaker is open");
                Verdict::Unavailable
            }
            Err(e) => {
                tracing::error!(error = %e, source = ?std::error::Error::source(&e).map(ToString::to_string), "{what} refused with a 503 (fail closed): the revocation store cannot answer");
                Verdict::Unavailable
            }
        }
    }

    /// Revokes a session by its id (logout), within the timeout.
    pub(crate) async fn revoke_session(
        &self,
        r: &SessionRevocation,
        subject: Option<&str>,
    ) -> Result<(), StoreError> {
        let revoke = self
            .store
            .revoke_session_of(r.session_id, r.until, r.issued_at, subject);
        match tokio::time::timeout(self.timeout, revoke).await {
            Ok(result) => result.map(|_| ()),
            Err(_) => Err(StoreError::Timeout),
        }
    }

    /// The cutoff of the subject of `payload`, if it has a subject and the store a cutoff:
    /// what a new token or session of that subject is issued after (SPEC.md section 10.5).
    pub(crate) async fn cutoff_of(&self, payload: &T) -> Result<Option<SystemTime>, StoreError> {
        match self.subject_of(payload) {
            Some(subject) => self.cutoff(&subject).await,
            None => Ok(None),
        }
    }

    /// The cutoff of `subject` in the store, within the timeout.
    pub(crate) async fn cutoff(&self, subject: &str) -> Result<Option<SystemTime>, StoreError> {
        match tokio::time::timeout(self.timeout, self.store.subject_cutoff(subject)).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Timeout),
        }
    }
}

impl<T> Clone for Revocation<T> {
    fn clone(&self) -> Self {
        Revocation {
            store: Arc::clone(&self.store),
            subject: self.subject.clone(),
            timeout: self.timeout,
            fail_open: self.fail_open,
        }
    }
}

impl<T> fmt::Debug for Revocation<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Revocation")
            .field("subject", &self.subject.is_some())
            .field("timeout", &self.timeout)
            .field("fail_open", &self.fail_open)
            .finish_non_exhaustive()
    }
}

/// A [`Revocation<T>`] with its payload type erased, for configurations that are not generic
/// over the payload ([`BearerSerializer`](super::BearerSerializer), the session's config).
#[derive(Clone)]
pub(crate) struct AnyRevocation {
    revocation: Arc<dyn std::any::Any + Send + Sync>,
    payload: &'static str,
}

impl AnyRevocation {
    pub(crate) fn new<T: 'static>(revocation: Revocation<T>) -> AnyRevocation {
        AnyRevocation {
            revocation: Arc::new(revocation),
            payload: std::any::type_name::<T>(),
        }
    }

    /// The revocation for payload `T`, or `None` (logged at error level) if it was configured
    /// for another payload type.
    pub(crate) fn get<T: 'static>(&self) -> Option<&Revocation<T>> {
        let found = self.revocation.downcast_ref::<Revocation<T>>();
        if found.is_none() {
            tracing::error!(
                configured = self.payload,
                extracted = std::any::type_name::<T>(),
                "the revocation was configured for another payload type; the token is refused"
            );
        }
        found
    }
}

impl fmt::Debug for AnyRevocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Revocation")
            .field("payload", &self.payload)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::revocation::MemoryStore;

    #[test]
    fn an_erased_revocation_is_found_only_for_its_payload_type() {
        let any = AnyRevocation::new(
            Revocation::<String>::new(Arc::new(MemoryStore::new())).subject(|s| Some(s.clone())),
        );
        let found = any.get::<String>().expect("same type");
        assert_eq!(found.subject_of(&"alice".to_owned()), Some("alice".into()));
        assert!(any.get::<u64>().is_none());
        assert!(format!("{any:?}").contains("alloc::string::String"));
    }

    #[test]
    fn no_subject_function_means_no_subject() {
        let r = Revocation::<String>::new(Arc::new(MemoryStore::new()));
        assert_eq!(r.subject_of(&"alice".to_owned()), None);
        assert_eq!(r.timeout, Revocation::<String>::DEFAULT_TIMEOUT);
        assert!(!r.fail_open && r.clone().insecure_fail_open().fail_open);
    }
}
