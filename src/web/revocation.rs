//! How the web extractors consult a [`RevocationStore`]: the subject of a payload, the timeout,
//! and what a store that cannot answer means.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use crate::revocation::{RevocationStatus, RevocationStore, StoreError, StoreFuture};
pub(crate) use crate::session::Verdict;
use crate::session::{SessionCheck, SessionRevocation};
use crate::{Expiry, TimedSerializer, TokenMeta};

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
    /// What the serializers attached to a revocation on this store say about how long their
    /// tokens live: a subject's cutoff must outlive the longest of them, or a token it refused
    /// would load again once it is forgotten. Shared by every revocation on the same store.
    attached: Arc<Mutex<Retention>>,
}

/// What every revocation on one store has learned, by the store's address: the retention a
/// cutoff needs is the longest lifetime of the tokens *the store* checks (SPEC.md section
/// 10.5), so two revocations made separately for the bearer tokens and the sessions, on one
/// store, must know the same. Entries are weak: a family lives as long as one of its
/// revocations, which keeps the store, and so its address, alive.
type Families = Vec<(usize, std::sync::Weak<Mutex<Retention>>)>;

static FAMILIES: Mutex<Families> = Mutex::new(Vec::new());

/// The retention shared by every revocation on `store`.
fn retention_of(store: &Arc<dyn RevocationStore>) -> Arc<Mutex<Retention>> {
    let address = Arc::as_ptr(store).cast::<()>() as usize;
    let mut families = FAMILIES.lock().unwrap_or_else(PoisonError::into_inner);
    families.retain(|(_, family)| family.strong_count() > 0);
    let found = families
        .iter()
        .find(|(a, _)| *a == address)
        .and_then(|(_, family)| family.upgrade());
    found.unwrap_or_else(|| {
        let family = Arc::default();
        families.push((address, Arc::downgrade(&family)));
        family
    })
}

/// The longest lifetime (`max_age + leeway`) of the tokens checked through one store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Retention {
    /// The longest `max_age + leeway` of an attached serializer; `None` while none is attached.
    longest: Option<Duration>,
    /// An attached serializer issues tokens that never expire.
    never: bool,
}

impl Retention {
    fn extend(&mut self, lifetime: Duration) {
        self.longest = Some(self.longest.map_or(lifetime, |l| l.max(lifetime)));
    }

    fn attach(&mut self, serializer: &TimedSerializer) {
        match serializer.configured_expiry() {
            Expiry::After(max_age) => {
                self.extend(max_age.saturating_add(serializer.configured_leeway()));
            }
            Expiry::Never => self.never = true,
            // Refused where serializers are attached (`BearerSerializer::new`, the session
            // builders): such a serializer loads no token, so there is nothing to outlive.
            Expiry::NotSet => {}
        }
    }

    fn get(self) -> Result<Duration, StoreError> {
        match self {
            Retention { never: true, .. } => Err(StoreError::NeverExpires),
            Retention { longest: None, .. } => Err(StoreError::NotAttached),
            Retention {
                longest: Some(longest),
                ..
            } => Ok(longest),
        }
    }
}

impl<T> Revocation<T> {
    /// How long a check may take by default before the store counts as unable to answer.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(300);

    /// Consults `store`, without subject, with the default timeout, failing closed.
    pub fn new(store: Arc<dyn RevocationStore>) -> Revocation<T> {
        Revocation {
            subject: None,
            timeout: Self::DEFAULT_TIMEOUT,
            fail_open: false,
            attached: retention_of(&store),
            store,
        }
    }

    /// Keeps every cutoff of [`revoke_subject`](Revocation::revoke_subject) at least `retain`,
    /// besides what the attached serializers teach: for a store shared with services of other
    /// processes or languages whose tokens live longer than this one's (SPEC.md section 10.5:
    /// the longest `max_age + leeway` of the tokens *the store* checks). Like what the
    /// serializers teach, it holds for every revocation on the same store.
    ///
    /// ```
    /// # use itsclassified::{revocation::MemoryStore, web::Revocation};
    /// # use std::{sync::Arc, time::Duration};
    /// // The Python front end's sessions live a week.
    /// let r = Revocation::<String>::new(Arc::new(MemoryStore::new()))
    ///     .retain_at_least(Duration::from_secs(7 * 86400 + 60));
    /// assert_eq!(r.retention().unwrap(), Duration::from_secs(7 * 86400 + 60));
    /// ```
    #[must_use]
    pub fn retain_at_least(self, retain: Duration) -> Self {
        self.attached
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(retain);
        self
    }

    /// A revocation for payloads of another type `U` (the session's, say, where this one is the
    /// bearer token's), on the same store, with the same timeout and failure policy, and
    /// sharing (as every revocation on one store does) what both learn from the serializers
    /// they are attached to. It has no subject function: give it one.
    ///
    /// ```
    /// # use itsclassified::revocation::MemoryStore;
    /// # use itsclassified::web::Revocation;
    /// # use std::sync::Arc;
    /// struct Claims { sub: String }
    /// struct UserSession { user_id: String }
    ///
    /// let bearer = Revocation::<Claims>::new(Arc::new(MemoryStore::new()))
    ///     .subject(|c| Some(c.sub.clone()));
    /// let sessions = bearer.for_payload::<UserSession>().subject(|s| Some(s.user_id.clone()));
    /// ```
    pub fn for_payload<U>(&self) -> Revocation<U> {
        Revocation {
            store: Arc::clone(&self.store),
            subject: None,
            timeout: self.timeout,
            fail_open: self.fail_open,
            attached: Arc::clone(&self.attached),
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

    /// The store, for the store-level calls of advanced use (an administrator's "log out
    /// everywhere" for a user id without a payload at hand, say, with
    /// [`retention`](Revocation::retention)). The logout routes revoke through
    /// [`Bearer::revoke`](super::Bearer::revoke), [`revoke_subject`](Revocation::revoke_subject)
    /// and `Session::clear_and_revoke`, which cannot be wired wrong.
    ///
    /// ```
    /// # use itsclassified::{revocation::MemoryStore, web::Revocation};
    /// let r = Revocation::<String>::new(std::sync::Arc::new(MemoryStore::new()));
    /// let store = r.store();
    /// ```
    pub fn store(&self) -> &Arc<dyn RevocationStore> {
        &self.store
    }

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

    /// "Log out everywhere" for the subject of `payload`: every token and session of that
    /// subject issued up to now (plus [`CUTOFF_MARGIN`](crate::revocation::CUTOFF_MARGIN)) is
    /// refused, on every instance that shares the store. The subject is named by this
    /// revocation's subject function, the one the checks use, so the two cannot disagree; the
    /// cutoff is kept as long as the longest-lived token of the serializers attached to a
    /// revocation on the same store ([`BearerSerializer::revocation`](super::BearerSerializer::revocation),
    /// the session layer's `revocation`; SPEC.md section 10.5), and at least
    /// [`retain_at_least`](Revocation::retain_at_least): the caller does no arithmetic. A new token or session of the subject issued
    /// right after it is issued after the cutoff, so a login right after it works.
    ///
    /// Fails, rather than revoking nothing, with [`StoreError::NoSubject`] when the subject
    /// function is missing or names no subject for `payload`, [`StoreError::NotAttached`] when
    /// no revocation on its store is attached to a serializer, [`StoreError::NeverExpires`] when one of
    /// them issues tokens that never expire; and with the store's error (a
    /// [`StoreError::Timeout`] after this revocation's timeout) when it cannot record it.
    ///
    /// ```
    /// # use itsclassified::revocation::{MemoryStore, StoreError};
    /// # use itsclassified::web::{BearerSerializer, Revocation};
    /// # use itsclassified::{SecretKey, TimedSerializer};
    /// # use std::{sync::Arc, time::Duration};
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let revocation = Revocation::<String>::new(Arc::new(MemoryStore::new()))
    ///     .subject(|user_id| Some(user_id.clone()));
    /// // Not attached yet: it cannot tell how long the cutoff must last.
    /// assert!(matches!(
    ///     revocation.revoke_subject(&"user-1".to_owned()).await,
    ///     Err(StoreError::NotAttached)
    /// ));
    /// let bearer = BearerSerializer::new(
    ///     TimedSerializer::new(SecretKey::generate(), "api-token").max_age(Duration::from_secs(900)),
    /// )?
    /// .revocation(revocation.clone());
    /// revocation.revoke_subject(&"user-1".to_owned()).await?; // log out everywhere
    /// # let _ = bearer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn revoke_subject(&self, payload: &T) -> Result<(), StoreError> {
        let subject = self.subject_of(payload).ok_or(StoreError::NoSubject)?;
        let retain = self.retention()?;
        let revoke = self.store.revoke_subject_now(&subject, retain);
        match tokio::time::timeout(self.timeout, revoke).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Timeout),
        }?;
        tracing::info!("subject cutoff recorded (log out everywhere)");
        Ok(())
    }

    /// How long a subject's cutoff must be kept: the longest `max_age + leeway` of the
    /// serializers attached to a revocation on this store, or
    /// [`retain_at_least`](Revocation::retain_at_least) if longer (see
    /// [`revoke_subject`](Revocation::revoke_subject), which uses it), for store-level calls
    /// such as [`RevocationStore::revoke_subject_now`].
    ///
    /// Fails with [`StoreError::NotAttached`] while it is attached to none, and
    /// [`StoreError::NeverExpires`] when one of them issues tokens that never expire.
    pub fn retention(&self) -> Result<Duration, StoreError> {
        self.attached
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get()
    }

    /// Learns how long the tokens of `serializer` live: called where the revocation is
    /// attached (the bearer serializer, the session builders).
    pub(crate) fn attach(&self, serializer: &TimedSerializer) {
        attach(&self.attached, serializer);
    }

    /// The subject of `payload`, if a subject function is set and names one.
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
                tracing::debug!("{what} refused: revoked (logout)");
                Verdict::Revoked
            }
            Ok(RevocationStatus::SubjectCutoff) => {
                tracing::debug!(
                    "{what} refused: issued at or before its subject's cutoff (log out everywhere)"
                );
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
            attached: Arc::clone(&self.attached),
        }
    }
}

fn attach(attached: &Mutex<Retention>, serializer: &TimedSerializer) {
    attached
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .attach(serializer);
}

impl<T> fmt::Debug for Revocation<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Revocation")
            .field("subject", &self.subject.is_some())
            .field("timeout", &self.timeout)
            .field("fail_open", &self.fail_open)
            .field("retention", &self.retention().ok())
            .finish_non_exhaustive()
    }
}

/// The answer to a revocation that could not be recorded, as a logout route gives it: a 503
/// with `Retry-After` when the store could not answer ([`StoreError::is_unavailable`]), so the
/// client retries; an empty 500 for a bug of the service's wiring
/// ([`StoreError::NotConfigured`], [`StoreError::NoSubject`], ...). Either is logged at error
/// level: a logout that was not recorded matters.
///
#[cfg_attr(feature = "axum", doc = "```")]
#[cfg_attr(not(feature = "axum"), doc = "```ignore")]
/// use axum::{http::StatusCode, response::IntoResponse};
/// use itsclassified::revocation::StoreError;
///
/// assert_eq!(StoreError::Timeout.into_response().status(), StatusCode::SERVICE_UNAVAILABLE);
/// assert_eq!(StoreError::NotConfigured.into_response().status(), StatusCode::INTERNAL_SERVER_ERROR);
/// ```
#[cfg(feature = "axum")]
impl axum::response::IntoResponse for StoreError {
    fn into_response(self) -> axum::response::Response {
        use axum::http::{header::RETRY_AFTER, HeaderValue, StatusCode};
        log_store_error(&self);
        let status = store_error_status(&self);
        let mut response = StatusCode::from_u16(status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response();
        if status == 503 {
            response.headers_mut().insert(
                RETRY_AFTER,
                HeaderValue::from_static(super::RETRY_AFTER_SECS),
            );
        }
        response
    }
}

/// The status a [`StoreError`] answers with: 503 (with `Retry-After`) or 500, for every door.
pub(crate) fn store_error_status(e: &StoreError) -> u16 {
    if e.is_unavailable() {
        503
    } else {
        500
    }
}

/// Logs a [`StoreError`] that becomes an answer, at error level.
pub(crate) fn log_store_error(e: &StoreError) {
    if e.is_unavailable() {
        let source = std::error::Error::source(e).map(ToString::to_string);
        tracing::error!(error = %e, ?source, "revocation not recorded (503): the revocation store cannot answer");
    } else {
        tracing::error!(error = %e, "revocation not recorded (500): the service's revocation is wired wrong");
    }
}

/// A [`Revocation<T>`] with its payload type erased, for configurations that are not generic
/// over the payload ([`BearerSerializer`](super::BearerSerializer), the session's config).
#[derive(Clone)]
pub(crate) struct AnyRevocation {
    revocation: Arc<dyn std::any::Any + Send + Sync>,
    attached: Arc<Mutex<Retention>>,
    payload: &'static str,
}

impl AnyRevocation {
    pub(crate) fn new<T: 'static>(revocation: Revocation<T>) -> AnyRevocation {
        AnyRevocation {
            attached: Arc::clone(&revocation.attached),
            revocation: Arc::new(revocation),
            payload: std::any::type_name::<T>(),
        }
    }

    /// See [`Revocation::attach`].
    pub(crate) fn attach(&self, serializer: &TimedSerializer) {
        attach(&self.attached, serializer);
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

    fn serializer(max_age: u64) -> TimedSerializer {
        TimedSerializer::new(crate::SecretKey::generate(), "s")
            .max_age(Duration::from_secs(max_age))
    }

    #[test]
    fn the_retention_is_the_longest_lifetime_of_every_attached_serializer() {
        let r = Revocation::<String>::new(Arc::new(MemoryStore::new()));
        assert!(matches!(r.retention(), Err(StoreError::NotAttached)));
        // An unset expiry teaches nothing (its serializer loads no token).
        r.attach(&TimedSerializer::new(crate::SecretKey::generate(), "s"));
        assert!(matches!(r.retention(), Err(StoreError::NotAttached)));
        r.attach(&serializer(900));
        assert_eq!(r.retention().unwrap(), Duration::from_secs(960));
        // Clones and siblings of another payload type learn and know the same.
        let sibling = r.clone().for_payload::<u64>();
        AnyRevocation::new(sibling.clone()).attach(&serializer(3600).leeway(Duration::ZERO));
        assert_eq!(r.retention().unwrap(), Duration::from_secs(3600));
        r.attach(&serializer(10)); // a shorter one does not shorten it
        assert_eq!(sibling.retention().unwrap(), Duration::from_secs(3600));
        assert!(format!("{r:?}").contains("retention: Some(3600s)"));
        // Tokens that never expire: no cutoff can be kept long enough.
        r.attach(&serializer(10).no_expiry());
        assert!(matches!(r.retention(), Err(StoreError::NeverExpires)));
        // Another revocation on the same store knows it too; one on another store does not.
        let same = Revocation::<String>::new(Arc::clone(r.store()));
        assert!(matches!(same.retention(), Err(StoreError::NeverExpires)));
        let other = Revocation::<String>::new(Arc::new(MemoryStore::new()));
        assert!(matches!(other.retention(), Err(StoreError::NotAttached)));
    }

    #[test]
    fn revocations_made_separately_on_one_store_share_what_they_learn() {
        let store: Arc<dyn RevocationStore> = Arc::new(MemoryStore::new());
        let bearer = Revocation::<String>::new(Arc::clone(&store));
        let sessions = Revocation::<u64>::new(Arc::clone(&store));
        bearer.attach(&serializer(900));
        sessions.attach(&serializer(3600));
        assert_eq!(bearer.retention().unwrap(), Duration::from_secs(3660));
        let floor =
            Revocation::<u8>::new(Arc::clone(&store)).retain_at_least(Duration::from_secs(86400));
        assert_eq!(bearer.retention().unwrap(), Duration::from_secs(86400));
        assert_eq!(floor.retention().unwrap(), Duration::from_secs(86400));
        // A shorter floor does not shorten it.
        let _ = floor.retain_at_least(Duration::from_secs(1));
        assert_eq!(sessions.retention().unwrap(), Duration::from_secs(86400));
        // The registry holds no family alive: once every revocation on a store is gone, its
        // family is gone, and a new store (perhaps at the same address) learns afresh.
        let family = Arc::downgrade(&bearer.attached);
        drop((bearer, sessions, store));
        assert_eq!(family.strong_count(), 0);
        let fresh = Revocation::<u8>::new(Arc::new(MemoryStore::new()));
        assert!(matches!(fresh.retention(), Err(StoreError::NotAttached)));
    }

    #[test]
    fn a_sibling_keeps_the_store_and_policy_but_not_the_subject() {
        let r = Revocation::<String>::new(Arc::new(MemoryStore::new()))
            .subject(|s| Some(s.clone()))
            .timeout(Duration::from_millis(7))
            .insecure_fail_open();
        let sibling = r.for_payload::<u64>();
        assert!(Arc::ptr_eq(r.store(), sibling.store()));
        assert_eq!(sibling.timeout, Duration::from_millis(7));
        assert!(sibling.fail_open);
        assert_eq!(sibling.subject_of(&1), None);
    }

    #[test]
    fn a_store_error_answers_503_when_the_store_cannot_and_500_for_wiring() {
        for e in [
            StoreError::Timeout,
            StoreError::Full,
            StoreError::CircuitOpen,
            StoreError::Backend("down".into()),
        ] {
            assert_eq!(store_error_status(&e), 503, "{e}");
        }
        for e in [
            StoreError::NotConfigured,
            StoreError::NoSubject,
            StoreError::NotAttached,
            StoreError::NeverExpires,
        ] {
            assert_eq!(store_error_status(&e), 500, "{e}");
        }
    }

    #[test]
    fn no_subject_function_means_no_subject() {
        let r = Revocation::<String>::new(Arc::new(MemoryStore::new()));
        assert_eq!(r.subject_of(&"alice".to_owned()), None);
        assert_eq!(r.timeout, Revocation::<String>::DEFAULT_TIMEOUT);
        assert!(!r.fail_open && r.clone().insecure_fail_open().fail_open);
    }
}
