//! The session of one request as a small machine: what the request's cookies hold, what the
//! store said about it, what the handler did, and the one decision the response depends on
//! (keep, issue or remove the cookie). Nothing here does I/O: an adapter (the axum layer, the
//! Python middleware) asks the store what [`SessionState::pending_check`] names, feeds the
//! answer back with [`SessionState::resolve`], and writes what [`SessionState::finish`] gives.
//! Every decision is unit-tested here without a server.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::cookies::{
    issue_lines, removal_lines, RequestCookies, TooManyChunks, MAX_AUTHENTICATED_CANDIDATES,
};
use super::envelope::{Envelope, EnvelopeRef};
use super::id::SessionId;
use super::policy::SessionPolicy;
use crate::wire::{system_time_to_unix, unix_to_system_time};
use crate::{Error, TokenMeta};

/// What the handler did with the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Nothing that changes the cookie.
    None,
    /// A new value.
    Set,
    /// Logout.
    Clear,
    /// The same value, issued anew.
    Renew,
}

/// What the response does with the session cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// No `Set-Cookie`: the browser keeps what it has.
    Keep,
    /// A new cookie with the session's value.
    Issue,
    /// Removal cookies (empty, expired), which make the browser delete its cookies.
    Remove,
}

/// What a revocation store said about the request's session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Not revoked (or the policy lets sessions through unchecked).
    Admitted,
    /// Revoked: its id, or its subject's cutoff.
    Revoked,
    /// The store could not answer: the request gets a 503, and its session is neither read
    /// as empty nor replaced.
    Unavailable,
}

/// What an adapter asks its revocation store before the handler runs (SPEC.md section 10.5):
/// is this session id revoked, or its subject's cutoff at or after this issued-at?
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionCheck {
    /// The session's id.
    pub session_id: SessionId,
    /// The presented token's issued-at.
    pub issued_at: SystemTime,
}

/// What to revoke on logout: the session's id, until no copy of it can load anywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionRevocation {
    /// The session's id.
    pub session_id: SessionId,
    /// The last second (inclusive) at which a copy could still load.
    pub until: SystemTime,
    /// The latest issued-at a copy can have: the presented cookie's, or now if later. What a
    /// store with a per-subject bound covers with a cutoff when it records no entry
    /// ([`RevocationStore::revoke_session_of`](crate::revocation::RevocationStore::revoke_session_of)).
    pub issued_at: SystemTime,
}

/// Why [`SessionState::finish`] could not make the cookie: the response must become an empty
/// 500 without `Set-Cookie` (the browser keeps its previous cookie). Messages are fixed text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FinishError {
    /// The session's token needs more cookies than `max_chunks` allows.
    #[error("the session is too large for the session policy's max_chunks cookies of 4096 bytes; keep less in it or raise max_chunks")]
    TooLarge,
    /// Sealing failed (a problem of the service: the value's `Serialize` failed, the OS random
    /// number generator failed, ...).
    #[error("the session cookie could not be made")]
    Seal(#[source] Error),
}

/// What the adapter writes on the response.
#[derive(Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finish {
    /// `Set-Cookie` header values, in order.
    pub set_cookie: Vec<String>,
    /// A new value for the response's `Cache-Control` (replacing every such header), when it
    /// must become `private`.
    pub cache_control: Option<String>,
    /// Add `Vary: Cookie` (the session was read or written).
    pub vary_cookie: bool,
}

/// The session as it stands: loaded from the request, or set by the handler.
struct Current<T> {
    value: T,
    /// `None` for a session that starts in this request (its id is drawn when it is issued).
    id: Option<SessionId>,
    start: Option<u64>,
}

/// The request's cookie that loaded, while it is still the session.
#[derive(Clone, Copy)]
struct Presented {
    meta: TokenMeta,
    /// When it was opened (and, with a store, checked): the issued-at floor of a re-issue.
    validated_at: u64,
}

/// The session of one request. See the [module documentation](self).
pub struct SessionState<T> {
    cookies: RequestCookies,
    loaded: bool,
    current: Option<Current<T>>,
    presented: Option<Presented>,
    checked: bool,
    /// The store could not answer for this session: its id and start, to revoke on logout.
    unavailable: Option<(SessionId, u64)>,
    /// A logout whose revocation could not be recorded: no `Set-Cookie` at all.
    revocation_failed: bool,
    action: Action,
    extracted: bool,
}

impl<T> fmt::Debug for SessionState<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Neither the value nor the cookies.
        f.debug_struct("SessionState")
            .field("loaded", &self.loaded)
            .field("action", &self.action)
            .field("unavailable", &self.unavailable.is_some())
            .finish_non_exhaustive()
    }
}

fn now_unix(now: SystemTime) -> u64 {
    system_time_to_unix(now).unwrap_or(0)
}

/// True while a session that started at `start` is within `lifetime` at `now` (a start in the
/// future, clock skew between instances, is within).
pub(crate) fn within_lifetime(start: u64, lifetime: Duration, now: u64) -> bool {
    now.saturating_sub(start) <= lifetime.as_secs()
}

/// The decision, from what the handler did, the request's cookie (if it loaded), the policy,
/// the response's status and whether the handler marked it storable by shared caches.
///
/// An untouched session is re-issued when its cookie is due for sliding renewal, or was opened
/// by a fallback key (so that a rotation moves active sessions to the primary key); neither on
/// a response meant for shared caches (it would undo the caching or serve one user's cookie to
/// others). A 5xx response issues nothing (a failed request must not change the session); a
/// removal still goes out.
pub(crate) fn decide(
    action: Action,
    presented: Option<&TokenMeta>,
    policy: &SessionPolicy,
    status: u16,
    shared_cacheable: bool,
) -> Decision {
    let decision = match action {
        Action::Clear => return Decision::Remove,
        Action::Set | Action::Renew => Decision::Issue,
        Action::None => {
            let Some(meta) = presented else {
                return Decision::Keep;
            };
            let due = policy.renew_after.is_some_and(|after| meta.age >= after);
            let fallback = policy.reseal_fallback && !meta.is_primary();
            if (due || fallback) && !shared_cacheable {
                Decision::Issue
            } else {
                Decision::Keep
            }
        }
    };
    if status >= 500 {
        Decision::Keep
    } else {
        decision
    }
}

impl<T> SessionState<T> {
    /// The session of a request with these cookies, not decrypted yet.
    pub fn new(cookies: RequestCookies) -> SessionState<T> {
        SessionState {
            cookies,
            loaded: false,
            current: None,
            presented: None,
            checked: false,
            unavailable: None,
            revocation_failed: false,
            action: Action::None,
            extracted: false,
        }
    }

    /// Marks the session as used by the handler: the response varies with the cookie.
    pub fn mark_extracted(&mut self) {
        self.extracted = true;
    }

    /// True when the store could not answer for this request's session: the adapter answers
    /// 503 rather than show the handler an empty session.
    pub fn is_unavailable(&self) -> bool {
        self.unavailable.is_some()
    }

    /// The value, once [loaded](SessionState::load) (or set).
    pub fn value(&self) -> Option<&T> {
        self.current.as_ref().map(|c| &c.value)
    }

    /// The verified metadata of the request's cookie, while it is the session (not after
    /// `set` of a new session or `clear`).
    pub fn meta(&self) -> Option<&TokenMeta> {
        self.presented.as_ref().map(|p| &p.meta)
    }

    /// The session's id, for a session that came with the request.
    pub fn session_id(&self) -> Option<SessionId> {
        self.current.as_ref().and_then(|c| c.id)
    }

    /// When the session started (Unix seconds), for a session that came with the request.
    pub fn started(&self) -> Option<u64> {
        self.current.as_ref().and_then(|c| c.start)
    }

    /// What to ask the store before the handler runs: `Some` once the request's cookie has
    /// loaded and until [`resolve`](SessionState::resolve) is called.
    pub fn pending_check(&self) -> Option<SessionCheck> {
        if self.checked {
            return None;
        }
        let presented = self.presented.as_ref()?;
        Some(SessionCheck {
            session_id: self.session_id()?,
            issued_at: presented.meta.issued_at,
        })
    }

    /// The store's answer to [`pending_check`](SessionState::pending_check). `Revoked`
    /// empties the session, exactly as an invalid cookie would; `Unavailable` hides it and
    /// makes the request one that writes no cookie.
    pub fn resolve(&mut self, verdict: Verdict) {
        self.checked = true;
        match verdict {
            Verdict::Admitted => {}
            Verdict::Revoked => self.discard(),
            Verdict::Unavailable => {
                if let (Some(id), Some(start)) = (self.session_id(), self.started()) {
                    self.unavailable = Some((id, start));
                }
                self.discard();
            }
        }
    }

    /// Forgets the loaded value, as if no cookie had loaded, without changing what the
    /// handler asked for.
    fn discard(&mut self) {
        self.current = None;
        self.presented = None;
    }

    /// Replaces the value. A session that came with the request keeps its id and start (a
    /// change does not extend its absolute lifetime); without one, a new session starts.
    /// Ignored (`false`) when the store could not answer for this request.
    pub fn set(&mut self, value: T) -> bool {
        if self.unavailable.is_some() {
            return false;
        }
        let (id, start) = match &self.current {
            Some(c) => (c.id, c.start),
            None => (None, None),
        };
        self.current = Some(Current { value, id, start });
        self.action = Action::Set;
        true
    }

    /// Empties the session: the response removes the cookie, and a later `set` starts a new
    /// session with a new id.
    pub fn clear(&mut self) {
        self.current = None;
        self.presented = None;
        self.action = Action::Clear;
    }

    /// Asks for the loaded value to be issued anew. Does nothing for an empty session, or
    /// after a set or clear (which already decide the cookie).
    pub fn renew(&mut self) {
        if self.current.is_some() && self.action == Action::None {
            self.action = Action::Renew;
        }
    }

    /// What logout must revoke: the session that came with the request (whether or not the
    /// store could be asked about it), until no copy of it can load anywhere. Call it before
    /// [`clear`](SessionState::clear).
    pub fn revocation(&self, policy: &SessionPolicy) -> Option<SessionRevocation> {
        let (id, start) = match (&self.current, self.unavailable) {
            (
                Some(Current {
                    id: Some(id),
                    start: Some(start),
                    ..
                }),
                _,
            ) => (*id, *start),
            (_, Some(unavailable)) => unavailable,
            _ => return None,
        };
        let now = now_unix(policy.now());
        let until = policy.session_retention_end(now, start);
        let issued_at = self
            .presented
            .map_or(now, |p| now.max(now_unix(p.meta.issued_at)));
        Some(SessionRevocation {
            session_id: id,
            until: unix_to_system_time(until).unwrap_or(SystemTime::UNIX_EPOCH),
            issued_at: unix_to_system_time(issued_at).unwrap_or(SystemTime::UNIX_EPOCH),
        })
    }

    /// The logout's revocation could not be recorded (the store failed): the response then
    /// writes no cookie at all, not even the removal, so that the user sees a failed logout
    /// (a 503) rather than one that looks done while copies of the cookie still load (SPEC.md
    /// section 10.5).
    pub fn revocation_failed(&mut self) {
        self.revocation_failed = true;
    }

    /// True when finishing a response with this status would start a new session: the adapter
    /// should then look up the cutoff of the session's subject (SPEC.md section 10.5) and pass
    /// it to [`finish`](SessionState::finish), so that a login right after "log out
    /// everywhere" is not refused.
    pub fn starts_session(&self, status: u16) -> bool {
        status < 500
            && self.unavailable.is_none()
            && self.action == Action::Set
            && self.current.as_ref().is_some_and(|c| c.id.is_none())
    }
}

impl<T: DeserializeOwned> SessionState<T> {
    /// Decrypts the request's cookies, once: the first candidate that loads as a session of
    /// `T`, within its absolute lifetime, is the session; an empty session if none does.
    pub fn load(&mut self, policy: &SessionPolicy) {
        if self.loaded {
            return;
        }
        self.loaded = true;
        let now = policy.now();
        let now_secs = now_unix(now);
        let mut found = None;
        // Candidates that got as far as the AEAD, of at most MAX_AUTHENTICATED_CANDIDATES:
        // junk refused by the cheap checks before it costs no decryption and takes no place.
        let mut authenticated = 0;
        for candidate in self.cookies.candidates() {
            if authenticated == MAX_AUTHENTICATED_CANDIDATES {
                #[cfg(feature = "axum")]
                tracing::debug!("more session cookies than are tried; the rest are ignored");
                break;
            }
            let loaded = match policy
                .serializer
                .loads_with_meta_at::<Envelope<T>>(&candidate, now)
            {
                Ok(loaded) => loaded,
                Err(e) => {
                    if reached_authentication(&e) {
                        authenticated += 1;
                    }
                    log_refusal(&e);
                    continue;
                }
            };
            authenticated += 1;
            if let Some(lifetime) = policy.absolute_lifetime {
                if !within_lifetime(loaded.payload.start, lifetime, now_secs) {
                    #[cfg(feature = "axum")]
                    tracing::debug!("session cookie refused: past its absolute lifetime");
                    continue;
                }
            }
            found = Some(loaded);
            break;
        }
        if let Some(loaded) = found {
            let envelope = loaded.payload;
            self.current = Some(Current {
                value: envelope.value,
                id: Some(envelope.id),
                start: Some(envelope.start),
            });
            self.presented = Some(Presented {
                meta: loaded.meta,
                validated_at: now_secs,
            });
        }
    }
}

/// True when opening a candidate got as far as the AEAD: every refusal but the cheap ones of
/// SPEC.md section 6.1, steps 1 to 4 (length, text form, version, key id).
fn reached_authentication(error: &Error) -> bool {
    !matches!(
        error,
        Error::TooLong { .. } | Error::Malformed | Error::UnsupportedVersion | Error::UnknownKey
    )
}

fn log_refusal(_e: &Error) {
    #[cfg(feature = "axum")]
    if _e.is_rejection() {
        tracing::debug!(error = %_e, "session cookie refused");
    } else {
        tracing::error!(error = %_e, "session cookie could not be checked");
    }
}

impl<T: Serialize + DeserializeOwned> SessionState<T> {
    /// The cookie decision carried out: the `Set-Cookie` lines, the `Cache-Control` and `Vary`
    /// the response needs, or an error after which the response must become an empty 500.
    ///
    /// `status` is the response's status; `cache_control` the values of its `Cache-Control`
    /// headers; `subject_cutoff` the cutoff of the subject of a session this response starts
    /// (see [`starts_session`](SessionState::starts_session)), if the store has one.
    pub fn finish<'a>(
        &mut self,
        policy: &SessionPolicy,
        status: u16,
        cache_control: impl IntoIterator<Item = &'a str> + Clone,
        subject_cutoff: Option<SystemTime>,
    ) -> Result<Finish, FinishError> {
        let mut finish = Finish {
            vary_cookie: self.extracted,
            ..Finish::default()
        };
        if self.unavailable.is_some() || self.revocation_failed {
            return Ok(finish);
        }
        let shared_cacheable = is_shared_cacheable(cache_control.clone());
        // Sliding renewal needs the cookie's age: decrypt it if the handler did not.
        if self.action == Action::None && policy.renew_after.is_some() && !shared_cacheable {
            self.load(policy);
        }
        let decision = decide(self.action, self.meta(), policy, status, shared_cacheable);
        let seen = self.cookies.seen();
        let lines = match decision {
            Decision::Keep => return Ok(finish),
            Decision::Remove => removal_lines(policy, seen),
            Decision::Issue => match self.issue(policy, subject_cutoff)? {
                Some((token, max_age)) if max_age > 0 => issue_lines(policy, &token, max_age, seen)
                    .map_err(|TooManyChunks| FinishError::TooLarge)?,
                // Past its absolute lifetime: nothing left to keep.
                Some(_) => removal_lines(policy, seen),
                None => return Ok(finish),
            },
        };
        finish.set_cookie = lines;
        finish.cache_control = private_cache_control(cache_control);
        finish.vary_cookie = true;
        Ok(finish)
    }

    /// Seals the session: its token and the cookie's `Max-Age`.
    fn issue(
        &self,
        policy: &SessionPolicy,
        subject_cutoff: Option<SystemTime>,
    ) -> Result<Option<(String, u64)>, FinishError> {
        let Some(current) = &self.current else {
            return Ok(None);
        };
        let now = now_unix(policy.now());
        let (id, start, issued_at) = match (current.id, current.start, &self.presented) {
            (Some(id), Some(start), Some(presented)) => {
                // A re-issue: never after the moment the session was validated, never before
                // the presented token (SPEC.md section 10.2).
                let presented_at = now_unix(presented.meta.issued_at);
                (id, start, presented.validated_at.max(presented_at))
            }
            _ => {
                let id = SessionId::generate().map_err(FinishError::Seal)?;
                let floor = subject_cutoff.map_or(0, |c| now_unix(c).saturating_add(1));
                (id, now, now.max(floor))
            }
        };
        let envelope = EnvelopeRef {
            value: &current.value,
            id,
            start,
        };
        let issued =
            unix_to_system_time(issued_at).ok_or(FinishError::Seal(Error::TimeOutOfRange))?;
        let token = policy
            .serializer
            .dumps_at(&envelope, issued)
            .map_err(|e| match e {
                Error::TooLong { .. } => FinishError::TooLarge,
                e => FinishError::Seal(e),
            })?;
        let mut max_age = policy.max_age.as_secs();
        if let Some(lifetime) = policy.absolute_lifetime {
            let ends = start.saturating_add(lifetime.as_secs());
            max_age = max_age.min(ends.saturating_sub(now));
        }
        Ok(Some((token, max_age)))
    }
}

/// The directives of `Cache-Control` header values, trimmed, in order.
fn cache_directives<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    values
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect()
}

/// The name of a directive (`s-maxage=60` -> `s-maxage`), lower case.
fn directive_name(directive: &str) -> String {
    directive
        .split('=')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// True when the handler asked shared caches to store the response: `public` or `s-maxage`.
pub(crate) fn is_shared_cacheable<'a>(values: impl IntoIterator<Item = &'a str>) -> bool {
    cache_directives(values)
        .iter()
        .any(|d| matches!(directive_name(d).as_str(), "public" | "s-maxage"))
}

/// The `Cache-Control` of a response that sets the session cookie: `private` added, `public`
/// and `s-maxage` removed. `None` when it is `no-store` already (no cache stores it) or private.
pub(crate) fn private_cache_control<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let directives = cache_directives(values);
    let names: Vec<String> = directives.iter().map(|d| directive_name(d)).collect();
    if names.iter().any(|n| n == "no-store") {
        return None;
    }
    let mut kept: Vec<&str> = Vec::with_capacity(directives.len() + 1);
    for (directive, name) in directives.iter().zip(&names) {
        if name != "public" && name != "s-maxage" {
            kept.push(directive);
        }
    }
    if kept.len() == directives.len() && names.iter().any(|n| n == "private") {
        return None;
    }
    if !names.iter().any(|n| n == "private") {
        kept.insert(0, "private");
    }
    Some(kept.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::policy::SessionPolicyBuilder;
    use crate::{SecretKey, TimedSerializer};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::UNIX_EPOCH;

    const T0: u64 = 1_700_000_000;
    const DAY: u64 = 86_400;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn serializer(key: u8) -> TimedSerializer {
        TimedSerializer::new(SecretKey::from_bytes(&[key; 32]).unwrap(), "s")
            .max_age(Duration::from_secs(DAY))
    }

    /// A policy on a clock the test moves (Unix seconds).
    fn policy_with(
        serializer: TimedSerializer,
        configure: impl FnOnce(SessionPolicyBuilder) -> SessionPolicyBuilder,
    ) -> (SessionPolicy, Arc<AtomicU64>) {
        let clock = Arc::new(AtomicU64::new(T0));
        let now = Arc::clone(&clock);
        let policy = configure(
            SessionPolicy::builder(serializer)
                .cookie_name("sid")
                .with_clock(move || at(now.load(Ordering::SeqCst))),
        )
        .build()
        .unwrap();
        (policy, clock)
    }

    fn policy() -> (SessionPolicy, Arc<AtomicU64>) {
        policy_with(serializer(1), |b| b)
    }

    /// The state of a request carrying `cookie` (a `name=value` list), loaded.
    fn request(policy: &SessionPolicy, cookie: &str) -> SessionState<String> {
        let mut state = SessionState::new(RequestCookies::parse(policy, [cookie.as_bytes()]));
        state.load(policy);
        state
    }

    /// The `name=value` pairs a browser would send back after `finish`.
    fn cookie_of(finish: &Finish) -> String {
        finish
            .set_cookie
            .iter()
            .filter(|l| !l.contains("Max-Age=0"))
            .map(|l| l.split(';').next().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Logs in `value` at the policy's clock and gives the cookie to send back.
    fn login(policy: &SessionPolicy, value: &str) -> String {
        let mut state = request(policy, "");
        state.set(value.to_owned());
        cookie_of(&state.finish(policy, 200, [], None).unwrap())
    }

    fn issued_at(policy: &SessionPolicy, cookie: &str) -> u64 {
        let state = request(policy, cookie);
        system_time_to_unix(state.meta().unwrap().issued_at).unwrap()
    }

    #[test]
    fn the_cookie_decision_for_every_combination() {
        let (p, _) = policy_with(serializer(1), |b| {
            b.renew_after(Duration::from_secs(3600))
                .absolute_lifetime(Duration::from_secs(7 * DAY))
        });
        let (no_renewal, _) = policy_with(serializer(1), |b| b.keep_fallback_cookies());
        let meta = |age: u64, fallback: bool| {
            let ring = TimedSerializer::with_keys(
                [
                    SecretKey::from_bytes(&[1; 32]).unwrap(),
                    SecretKey::from_bytes(&[2; 32]).unwrap(),
                ],
                "s",
            )
            .unwrap()
            .max_age(Duration::from_secs(DAY));
            let token = serializer(if fallback { 2 } else { 1 })
                .dumps_at(&0u8, at(T0))
                .unwrap();
            ring.loads_with_meta_at::<u8>(&token, at(T0 + age))
                .unwrap()
                .meta
        };
        let (young, due, fallback) = (meta(10, false), meta(3600, false), meta(10, true));
        use Action as A;
        use Decision::{Issue, Keep, Remove};
        // (action, loaded cookie, policy, status, shared-cacheable response) => decision
        type Row<'a> = (
            Action,
            Option<&'a TokenMeta>,
            &'a SessionPolicy,
            u16,
            bool,
            Decision,
        );
        let table: &[Row] = &[
            // What the handler did wins ...
            (A::Clear, None, &p, 200, false, Remove),
            (A::Clear, Some(&due), &p, 200, true, Remove),
            (A::Set, None, &p, 200, false, Issue),
            (A::Set, Some(&young), &p, 200, true, Issue),
            (A::Renew, Some(&young), &no_renewal, 200, false, Issue),
            // ... except that a failed request (5xx) issues nothing; a removal still goes out.
            (A::Set, Some(&young), &p, 500, false, Keep),
            (A::Renew, Some(&young), &p, 503, false, Keep),
            (A::None, Some(&due), &p, 502, false, Keep),
            (A::Clear, Some(&young), &p, 500, false, Remove),
            (A::Set, None, &p, 499, false, Issue),
            // Untouched sessions: renewed once due, not before, not without a policy.
            (A::None, None, &p, 200, false, Keep),
            (A::None, Some(&young), &p, 200, false, Keep),
            (A::None, Some(&due), &p, 200, false, Issue),
            (A::None, Some(&due), &no_renewal, 200, false, Keep),
            // A cookie of a fallback key moves to the primary key, unless turned off.
            (A::None, Some(&fallback), &p, 200, false, Issue),
            (A::None, Some(&fallback), &no_renewal, 200, false, Keep),
            // Neither on a response meant for shared caches.
            (A::None, Some(&due), &p, 200, true, Keep),
            (A::None, Some(&fallback), &p, 200, true, Keep),
        ];
        for (i, &(action, loaded, policy, status, cacheable, expected)) in table.iter().enumerate()
        {
            assert_eq!(
                decide(action, loaded, policy, status, cacheable),
                expected,
                "row {i}: {action:?} status {status} cacheable {cacheable}"
            );
        }
    }

    #[test]
    fn a_session_keeps_its_id_and_start_through_renewals_and_changes() {
        let (p, clock) = policy_with(serializer(1), |b| {
            b.renew_after(Duration::from_secs(3600))
                .absolute_lifetime(Duration::from_secs(7 * DAY))
        });
        let first = login(&p, "alice");
        let opened = p
            .open_session::<String>(first.split('=').nth(1).unwrap())
            .unwrap();
        assert_eq!((opened.value.as_str(), opened.start), ("alice", T0));
        // A change an hour later: same id, same start, a new token.
        clock.store(T0 + 100, Ordering::SeqCst);
        let mut change = request(&p, &first);
        change.set("alice, admin".to_owned());
        let changed = cookie_of(&change.finish(&p, 200, [], None).unwrap());
        let reopened = p
            .open_session::<String>(changed.split('=').nth(1).unwrap())
            .unwrap();
        assert_eq!((reopened.id, reopened.start), (opened.id, T0));
        assert_eq!(reopened.value, "alice, admin");
        // A renewal when due: same id and start again.
        clock.store(T0 + 4000, Ordering::SeqCst);
        let mut renewal = request(&p, &changed);
        let renewed = cookie_of(&renewal.finish(&p, 200, [], None).unwrap());
        let renewed = p
            .open_session::<String>(renewed.split('=').nth(1).unwrap())
            .unwrap();
        assert_eq!((renewed.id, renewed.start), (opened.id, T0));
        assert_eq!(
            system_time_to_unix(renewed.meta.issued_at).unwrap(),
            T0 + 4000
        );
        // Clear, then set: a new session with a new id.
        let mut relogin = request(&p, &changed);
        relogin.clear();
        relogin.set("bob".to_owned());
        let fresh = cookie_of(&relogin.finish(&p, 200, [], None).unwrap());
        let fresh = p
            .open_session::<String>(fresh.split('=').nth(1).unwrap())
            .unwrap();
        assert_ne!(fresh.id, opened.id);
        assert_eq!(fresh.start, T0 + 4000);
    }

    #[test]
    fn a_request_held_open_across_logout_everywhere_ends_with_a_cookie_issued_before_it() {
        // The attacker's request is validated at T0 + 10; the victim logs out everywhere at
        // T0 + 20 (cutoff T0 + 20 + margin); the attacker's response is sealed at T0 + 30.
        let (p, clock) = policy();
        let stolen = login(&p, "victim");
        clock.store(T0 + 10, Ordering::SeqCst);
        let mut held = request(&p, &stolen);
        held.resolve(Verdict::Admitted);
        held.set("victim, changed".to_owned());
        clock.store(T0 + 30, Ordering::SeqCst);
        let out = cookie_of(&held.finish(&p, 200, [], None).unwrap());
        let cutoff = T0 + 20 + crate::revocation::CUTOFF_MARGIN.as_secs();
        let issued = issued_at(&p, &out);
        assert_eq!(
            issued,
            T0 + 10,
            "issued when validated, not when the response was made"
        );
        assert!(issued <= cutoff, "so the cutoff refuses it");
    }

    #[test]
    fn a_reissue_is_never_issued_before_the_presented_token() {
        // A session started after a cutoff was issued at cutoff + 1 (in the future); changing
        // it must not move its issued-at back to now, under the cutoff.
        let (p, clock) = policy();
        let mut start = request(&p, "");
        start.set("alice".to_owned());
        let cutoff = at(T0 + 30);
        assert!(start.starts_session(200));
        let first = cookie_of(&start.finish(&p, 200, [], Some(cutoff)).unwrap());
        assert_eq!(issued_at(&p, &first), T0 + 31);
        clock.store(T0 + 5, Ordering::SeqCst);
        let mut change = request(&p, &first);
        assert!(!change.starts_session(200));
        change.set("alice, admin".to_owned());
        let changed = cookie_of(&change.finish(&p, 200, [], Some(cutoff)).unwrap());
        assert_eq!(issued_at(&p, &changed), T0 + 31);
        // A cutoff in the past does not move a new session's issued-at.
        let mut later = request(&p, "");
        later.set("bob".to_owned());
        let bob = cookie_of(&later.finish(&p, 200, [], Some(at(T0 - 100))).unwrap());
        assert_eq!(issued_at(&p, &bob), T0 + 5);
    }

    #[test]
    fn a_session_the_store_could_not_check_is_hidden_and_writes_nothing() {
        let (p, _) = policy();
        let cookie = login(&p, "alice");
        let mut state = request(&p, &cookie);
        let check = state.pending_check().expect("a loaded session is checked");
        assert_eq!(Some(check.session_id), state.session_id());
        state.resolve(Verdict::Unavailable);
        assert!(state.pending_check().is_none(), "asked once");
        assert!(state.is_unavailable());
        assert_eq!(state.value(), None);
        assert!(!state.set("mallory".to_owned()), "a set is not applied");
        state.clear();
        let finish = state.finish(&p, 200, [], None).unwrap();
        assert!(finish.set_cookie.is_empty(), "neither replaced nor removed");
        // Its id is still what logout revokes.
        assert_eq!(
            state.revocation(&p).map(|r| r.session_id),
            Some(check.session_id)
        );
    }

    #[test]
    fn logout_of_a_session_the_store_could_not_check_revokes_it_until_its_own_lifetime_ends() {
        let (p, clock) = policy_with(serializer(1), |b| {
            b.absolute_lifetime(Duration::from_secs(3600))
        });
        let cookie = login(&p, "alice");
        clock.store(T0 + 100, Ordering::SeqCst);
        let mut state = request(&p, &cookie);
        assert_eq!(state.started(), Some(T0));
        state.resolve(Verdict::Unavailable);
        assert_eq!(state.started(), None, "hidden");
        let revocation = state.revocation(&p).unwrap();
        // The session's start (kept aside while hidden) bounds the revocation.
        assert_eq!(revocation.until, at(T0 + 3600 + 60));
    }

    #[test]
    fn a_failed_response_starts_no_session() {
        let (p, _) = policy();
        let mut state = request(&p, "");
        assert_eq!(state.started(), None);
        state.set("alice".to_owned());
        assert!(state.starts_session(200) && state.starts_session(499));
        assert!(!state.starts_session(500));
        let finish = state.finish(&p, 500, [], None).unwrap();
        assert!(finish.set_cookie.is_empty());
    }

    #[test]
    fn a_fallback_key_cookie_is_resealed_only_when_the_request_read_it() {
        let ring = TimedSerializer::with_keys(
            [
                SecretKey::from_bytes(&[1; 32]).unwrap(),
                SecretKey::from_bytes(&[2; 32]).unwrap(),
            ],
            "s",
        )
        .unwrap()
        .max_age(Duration::from_secs(DAY));
        let (p, _) = policy_with(ring, |b| b);
        let (under_fallback, _) = policy_with(serializer(2), |b| b);
        let cookie = login(&under_fallback, "alice");
        // Not read by the handler: not opened, so not re-sealed.
        let mut unread =
            SessionState::<String>::new(RequestCookies::parse(&p, [cookie.as_bytes()]));
        assert_eq!(unread.finish(&p, 200, [], None).unwrap(), Finish::default());
        // Read: moved to the primary key.
        let mut read = request(&p, &cookie);
        assert!(!read.meta().unwrap().is_primary());
        let resealed = cookie_of(&read.finish(&p, 200, [], None).unwrap());
        assert!(request(&p, &resealed).meta().unwrap().is_primary());
    }

    #[test]
    fn a_revoked_session_is_empty_and_a_set_starts_a_new_one() {
        let (p, _) = policy();
        let cookie = login(&p, "alice");
        let mut state = request(&p, &cookie);
        let old = state.session_id().unwrap();
        state.resolve(Verdict::Revoked);
        assert_eq!(
            (state.value(), state.meta(), state.session_id()),
            (None, None, None)
        );
        assert!(!state.is_unavailable());
        assert!(state.revocation(&p).is_none(), "nothing left to revoke");
        assert!(state.set("alice".to_owned()));
        assert!(state.starts_session(200));
        let fresh = cookie_of(&state.finish(&p, 200, [], None).unwrap());
        assert_ne!(request(&p, &fresh).session_id(), Some(old));
    }

    #[test]
    fn logout_revokes_the_session_until_no_copy_can_load() {
        let (p, clock) = policy_with(serializer(1), |b| {
            b.absolute_lifetime(Duration::from_secs(3600))
        });
        let cookie = login(&p, "alice");
        clock.store(T0 + 100, Ordering::SeqCst);
        let mut state = request(&p, &cookie);
        let revocation = state.revocation(&p).unwrap();
        assert_eq!(Some(revocation.session_id), state.session_id());
        // The absolute lifetime ends first (start + an hour), plus the leeway.
        assert_eq!(revocation.until, at(T0 + 3600 + 60));
        state.clear();
        assert!(state.revocation(&p).is_none());
        let removal = state.finish(&p, 200, [], None).unwrap();
        assert!(removal.set_cookie[0].starts_with("sid=;"));
        assert_eq!(removal.cache_control.as_deref(), Some("private"));
    }

    #[test]
    fn a_logout_that_could_not_be_recorded_removes_nothing() {
        let (p, _) = policy();
        let cookie = login(&p, "alice");
        let mut state = request(&p, &cookie);
        state.clear();
        state.revocation_failed();
        let finish = state.finish(&p, 503, [], None).unwrap();
        assert!(
            finish.set_cookie.is_empty(),
            "the browser keeps its cookie: no false logout"
        );
    }

    #[test]
    fn a_session_past_its_absolute_lifetime_does_not_load() {
        let (p, clock) = policy_with(serializer(1), |b| {
            b.absolute_lifetime(Duration::from_secs(3600))
        });
        let cookie = login(&p, "alice");
        clock.store(T0 + 3600, Ordering::SeqCst);
        assert!(
            request(&p, &cookie).value().is_some(),
            "the last second is within"
        );
        // Its cookie then lives only as long as the lifetime leaves.
        let mut renew = request(&p, &cookie);
        renew.renew();
        let line = &renew.finish(&p, 200, [], None).unwrap().set_cookie[0];
        assert!(
            line.ends_with("Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"),
            "{line}"
        );
        clock.store(T0 + 3601, Ordering::SeqCst);
        assert!(request(&p, &cookie).value().is_none());
        assert!(p
            .open_session::<String>(cookie.split('=').nth(1).unwrap())
            .is_err());
    }

    #[test]
    fn the_cookie_max_age_is_what_the_absolute_lifetime_leaves() {
        let (p, clock) = policy_with(serializer(1), |b| {
            b.absolute_lifetime(Duration::from_secs(DAY + 100))
        });
        let cookie = login(&p, "alice");
        clock.store(T0 + 1000, Ordering::SeqCst);
        let mut change = request(&p, &cookie);
        change.set("bob".to_owned());
        let line = &change.finish(&p, 200, [], None).unwrap().set_cookie[0];
        assert!(
            line.ends_with(&format!("Max-Age={}", DAY + 100 - 1000)),
            "{line}"
        );
        let mut fresh = request(&p, "");
        fresh.set("carol".to_owned());
        let line = &fresh.finish(&p, 200, [], None).unwrap().set_cookie[0];
        assert!(
            line.ends_with(&format!("Max-Age={DAY}")),
            "max_age is the smaller: {line}"
        );
    }

    #[test]
    fn a_session_too_large_for_its_chunks_is_an_error_that_names_max_chunks() {
        let (p, _) = policy_with(serializer(1), |b| b.max_chunks(2));
        let mut state = request(&p, "");
        state.set("x".repeat(5000));
        let finish = state.finish(&p, 200, [], None).unwrap();
        assert_eq!(finish.set_cookie.len(), 2);
        let cookie = cookie_of(&finish);
        assert_eq!(request(&p, &cookie).value().map(String::len), Some(5000));
        let mut state = request(&p, "");
        state.set("x".repeat(9000));
        let err = state.finish(&p, 200, [], None).unwrap_err();
        assert!(matches!(err, FinishError::TooLarge));
        assert!(err.to_string().contains("max_chunks"));
    }

    #[test]
    fn an_untouched_session_is_not_written_and_renewal_loads_it_by_itself() {
        let (p, clock) = policy_with(serializer(1), |b| {
            b.renew_after(Duration::from_secs(3600))
                .absolute_lifetime(Duration::from_secs(7 * DAY))
        });
        let cookie = login(&p, "alice");
        let mut quiet = SessionState::<String>::new(RequestCookies::parse(&p, [cookie.as_bytes()]));
        let finish = quiet.finish(&p, 200, [], None).unwrap();
        assert_eq!(finish, Finish::default(), "not due: nothing, not even Vary");
        clock.store(T0 + 3600, Ordering::SeqCst);
        let mut due = SessionState::<String>::new(RequestCookies::parse(&p, [cookie.as_bytes()]));
        let finish = due.finish(&p, 200, [], None).unwrap();
        assert_eq!(
            finish.set_cookie.len(),
            1,
            "renewed without the handler reading it"
        );
        assert!(finish.vary_cookie);
        // Not on a response for shared caches, and then it is not made private either.
        let mut cached =
            SessionState::<String>::new(RequestCookies::parse(&p, [cookie.as_bytes()]));
        let finish = cached
            .finish(&p, 200, ["public, max-age=60"], None)
            .unwrap();
        assert!(finish.set_cookie.is_empty() && finish.cache_control.is_none());
    }

    #[test]
    fn extracting_the_session_makes_the_response_vary() {
        let (p, _) = policy();
        let mut state = request(&p, "");
        state.mark_extracted();
        let finish = state.finish(&p, 200, [], None).unwrap();
        assert!(finish.vary_cookie && finish.set_cookie.is_empty());
    }

    #[test]
    fn set_clear_and_renew_move_the_state() {
        let (p, _) = policy();
        let cookie = login(&p, "alice");
        let mut state = request(&p, &cookie);
        assert_eq!(state.action, Action::None);
        state.renew();
        assert_eq!(state.action, Action::Renew);
        assert!(state.set("bob".to_owned()));
        assert_eq!(state.action, Action::Set);
        state.renew();
        assert_eq!(state.action, Action::Set, "renew after set leaves the set");
        state.clear();
        assert_eq!((state.value(), state.action), (None, Action::Clear));
        state.renew();
        assert_eq!(state.action, Action::Clear, "nothing to renew");
        // An empty session cannot be renewed.
        let mut empty = request(&p, "");
        empty.renew();
        assert_eq!(empty.action, Action::None);
        // Loading twice opens nothing twice.
        let mut twice = request(&p, &cookie);
        twice.set("carol".to_owned());
        twice.load(&p);
        assert_eq!(twice.value().map(String::as_str), Some("carol"));
    }

    #[test]
    fn a_response_that_sets_the_cookie_is_private() {
        let private = |values: &[&str]| private_cache_control(values.iter().copied());
        assert_eq!(private(&[]).as_deref(), Some("private"));
        assert_eq!(
            private(&["max-age=60"]).as_deref(),
            Some("private, max-age=60")
        );
        assert_eq!(
            private(&["public, max-age=31536000"]).as_deref(),
            Some("private, max-age=31536000")
        );
        assert_eq!(
            private(&["Public", "s-maxage=600, max-age=60, must-revalidate"]).as_deref(),
            Some("private, max-age=60, must-revalidate")
        );
        assert_eq!(private(&["private, max-age=5"]), None, "private already");
        assert_eq!(
            private(&["private, public"]).as_deref(),
            Some("private"),
            "public removed"
        );
        assert_eq!(private(&["no-store"]), None);
        assert_eq!(private(&["no-cache, No-Store"]), None);
    }

    #[test]
    fn shared_cacheable_means_public_or_s_maxage() {
        assert!(is_shared_cacheable(["public, max-age=60"]));
        assert!(is_shared_cacheable(["max-age=60", "S-MaxAge=9"]));
        assert!(!is_shared_cacheable(["max-age=60"]));
        assert!(!is_shared_cacheable(["private"]));
        assert!(!is_shared_cacheable([]));
    }

    #[test]
    fn sessions_end_at_their_absolute_lifetime() {
        let day = Duration::from_secs(DAY);
        assert!(within_lifetime(T0, day, T0));
        assert!(within_lifetime(T0, day, T0 + DAY));
        assert!(!within_lifetime(T0, day, T0 + DAY + 1));
        assert!(
            within_lifetime(T0, day, T0 - 10),
            "a start in the future is within"
        );
    }

    #[test]
    fn junk_costs_no_decryption_and_never_pushes_the_real_cookie_out() {
        let (p, _) = policy();
        let real = login(&p, "alice");
        let stranger = serializer(9);
        let mut pairs: Vec<String> = (0..200).map(|i| format!("sid=junk{i}")).collect();
        pairs.extend((0..50).map(|i| format!("sid={}", stranger.dumps_at(&i, at(T0)).unwrap())));
        pairs.push("sid=AAAA".into());
        pairs.push(real);
        let state = request(&p, &pairs.join("; "));
        assert_eq!(state.value().map(String::as_str), Some("alice"));
    }

    #[test]
    fn four_candidates_that_reach_decryption_are_the_most_a_request_gets() {
        let (p, clock) = policy();
        let real = login(&p, "alice");
        // Forged under the service's key id (a flipped byte in the tag): they reach the AEAD.
        let token = real.split_once('=').unwrap().1.to_owned();
        let forged = |i: u8| {
            let mut t = token.clone().into_bytes();
            let last = t.len() - 2;
            t[last] = if t[last] == b'A' + i {
                b'B' + i
            } else {
                b'A' + i
            };
            format!("sid={}", String::from_utf8(t).unwrap())
        };
        let with = |n: u8| {
            let mut pairs: Vec<String> = (0..n).map(forged).collect();
            pairs.push(real.clone());
            request(&p, &pairs.join("; ")).value().cloned()
        };
        assert_eq!(with(3).as_deref(), Some("alice"));
        assert_eq!(with(4), None, "the fifth is not opened");
        // A session past its absolute lifetime reached decryption too, and counts.
        let (lived, lived_clock) = policy_with(serializer(1), |b| {
            b.absolute_lifetime(Duration::from_secs(10))
        });
        let old = login(&lived, "old");
        lived_clock.store(T0 + 100, Ordering::SeqCst);
        let fresh = login(&lived, "fresh");
        let four_old = [old.as_str(); 4].join("; ");
        assert_eq!(
            request(&lived, &format!("{four_old}; {fresh}")).value(),
            None
        );
        let three_old = [old.as_str(); 3].join("; ");
        assert_eq!(
            request(&lived, &format!("{three_old}; {fresh}"))
                .value()
                .map(String::as_str),
            Some("fresh")
        );
        clock.store(T0, Ordering::SeqCst);
    }

    #[test]
    fn only_refusals_after_the_cheap_checks_count_as_decrypted() {
        for cheap in [
            Error::TooLong { len: 2, max: 1 },
            Error::Malformed,
            Error::UnsupportedVersion,
            Error::UnknownKey,
        ] {
            assert!(!reached_authentication(&cheap), "{cheap:?}");
        }
        for costly in [
            Error::Invalid,
            Error::Payload,
            Error::IssuedInFuture { issued_at_unix: 1 },
        ] {
            assert!(reached_authentication(&costly), "{costly:?}");
        }
    }

    #[test]
    fn debug_shows_neither_value_nor_cookie() {
        let (p, _) = policy();
        let cookie = login(&p, "secret-value");
        let state = request(&p, &cookie);
        let debug = format!("{state:?}");
        assert!(
            !debug.contains("secret-value") && !debug.contains(&cookie[4..24]),
            "{debug}"
        );
        assert!(
            debug.starts_with("SessionState {") && debug.contains("loaded: true"),
            "{debug}"
        );
    }
}
