//! The per-request session state: what the request's cookies hold, what the handler did with
//! the session, and the one decision the response depends on (keep, issue or remove the
//! cookie). Nothing here does I/O, so every decision is unit-tested without a server; the layer
//! (`layer.rs`) only carries them out.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use axum::http::header::COOKIE;
use axum::http::HeaderMap;
use serde::de::DeserializeOwned;

use super::config::Config;
use crate::{Error, TimedSerializer, TokenMeta};

/// How many of the request's session cookies may reach authentication (the AEAD). Browsers
/// send one cookie per matching path and domain, most specific path first; a few are
/// legitimate. Junk that fails the cheap checks before the AEAD (length, base64, version, key
/// id) does not count, so that a sibling site tossing cookies of that shape cannot push the
/// real one out.
pub(super) const MAX_AUTHENTICATED_CANDIDATES: usize = 4;
/// How many cookies with the session's name are looked at at all, a bound on the work one
/// request can ask for (each costs a base64 decode at most).
pub(super) const MAX_SCANNED_CANDIDATES: usize = 32;

/// What the handler did with the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Action {
    /// Nothing that changes the cookie.
    None,
    /// [`Session::set`](super::Session::set): a new value.
    Set,
    /// [`Session::clear`](super::Session::clear): logout.
    Clear,
    /// [`Session::renew`](super::Session::renew): the same value, issued anew.
    Renew,
}

/// What the response does with the session cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Decision {
    /// No `Set-Cookie`: the browser keeps what it has.
    Keep,
    /// A new cookie with the session's value, issued now.
    Issue,
    /// A removal cookie (empty, expired), which makes the browser delete its cookie.
    Remove,
}

/// When the layer re-issues a cookie the handler did not touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct RenewPolicy {
    /// Sliding expiry: re-issue a cookie at least this old.
    pub(super) renew_after: Option<Duration>,
    /// Re-seal a cookie opened by a fallback key under the primary key (rotation).
    pub(super) reseal_fallback: bool,
}

/// The cookie decision, from what the handler did, the verified metadata of the request's
/// cookie (if it loaded), the renewal policy, and whether the handler marked the response as
/// storable by shared caches (`Cache-Control: public` or `s-maxage`).
///
/// An untouched session is re-issued when its cookie is due for sliding renewal, or was opened
/// by a fallback key (so that a rotation moves active sessions to the primary key). Neither
/// happens on a response meant for shared caches: a cookie there would either make the
/// response private (undoing the handler's caching) or be served to other users; it happens
/// on the session's next uncacheable response instead. What the handler asked for explicitly
/// (set, clear, renew) is always done, and the layer then makes the response private.
pub(super) fn decide(
    action: Action,
    loaded: Option<&TokenMeta>,
    policy: RenewPolicy,
    shared_cacheable: bool,
) -> Decision {
    match action {
        Action::Clear => Decision::Remove,
        Action::Set | Action::Renew => Decision::Issue,
        Action::None => {
            let Some(meta) = loaded else {
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
    }
}

/// The session's value: not read yet (the request's candidate cookie values), or known.
pub(super) enum Load<T> {
    Pending(Vec<String>),
    Done {
        value: Option<T>,
        /// The verified metadata of the request cookie the value came from; `None` once the
        /// handler set or cleared the session.
        meta: Option<TokenMeta>,
    },
}

/// What a request cookie held: the value, its metadata, and (with an absolute lifetime) when
/// the session started, in Unix seconds.
pub(super) struct Opened<T> {
    pub(super) value: T,
    pub(super) meta: TokenMeta,
    pub(super) started: Option<u64>,
}

/// The session of one request.
pub(super) struct State<T> {
    load: Load<T>,
    /// When the session started (Unix seconds), kept through renewals and `set`, forgotten by
    /// `clear`: the base of the absolute lifetime.
    started: Option<u64>,
    action: Action,
    /// The handler extracted the session: the response varies with the cookie.
    pub(super) extracted: bool,
}

impl<T> State<T> {
    /// A session whose value is in the request cookies `candidates`, not decrypted yet.
    pub(super) fn new(candidates: Vec<String>) -> State<T> {
        State {
            load: Load::Pending(candidates),
            started: None,
            action: Action::None,
            extracted: false,
        }
    }

    pub(super) fn action(&self) -> Action {
        self.action
    }

    /// Replaces the value; the cookie is issued anew. The session keeps its start, if it was
    /// loaded: changing a value does not extend an absolute lifetime.
    pub(super) fn set(&mut self, value: T) {
        self.load = Load::Done {
            value: Some(value),
            meta: None,
        };
        self.action = Action::Set;
    }

    /// Empties the session; the cookie is removed, and a later `set` starts a new session.
    pub(super) fn clear(&mut self) {
        self.load = Load::Done {
            value: None,
            meta: None,
        };
        self.started = None;
        self.action = Action::Clear;
    }

    /// Asks for the loaded value to be issued anew. Does nothing for an empty or not yet loaded
    /// session, or after a set or clear (which already decide the cookie).
    pub(super) fn renew(&mut self) {
        if let Load::Done { value: Some(_), .. } = self.load {
            if self.action == Action::None {
                self.action = Action::Renew;
            }
        }
    }

    /// Loads the value with `open` (given the candidate cookies) unless known already.
    pub(super) fn load_with(&mut self, open: impl FnOnce(Vec<String>) -> Option<Opened<T>>) {
        if let Load::Pending(candidates) = &mut self.load {
            self.load = match open(std::mem::take(candidates)) {
                Some(opened) => {
                    self.started = opened.started;
                    Load::Done {
                        value: Some(opened.value),
                        meta: Some(opened.meta),
                    }
                }
                None => Load::Done {
                    value: None,
                    meta: None,
                },
            };
        }
    }

    /// Forgets the loaded value, as if no cookie had loaded (a revoked cookie), without
    /// changing what the handler asked for. A later `set` starts a new session.
    pub(super) fn discard(&mut self) {
        self.load = Load::Done {
            value: None,
            meta: None,
        };
        self.started = None;
    }

    /// When the session started, if it was loaded with an absolute lifetime in force.
    pub(super) fn started(&self) -> Option<u64> {
        self.started
    }

    /// The value, once loaded.
    pub(super) fn value(&self) -> Option<&T> {
        match &self.load {
            Load::Done { value, .. } => value.as_ref(),
            Load::Pending(_) => None,
        }
    }

    /// The metadata of the request's cookie, once loaded, unless set or cleared since.
    pub(super) fn meta(&self) -> Option<&TokenMeta> {
        match &self.load {
            Load::Done { meta, .. } => meta.as_ref(),
            Load::Pending(_) => None,
        }
    }
}

/// The values of the request's cookies named `name`, in order, at most
/// [`MAX_SCANNED_CANDIDATES`].
///
/// Parsed pair by pair on the bytes, as RFC 6265 section 5.4 has user agents write them
/// (`name=value` pairs separated by `;` and optional spaces): a pair whose value is not visible
/// ASCII (the UTF-8 cookie of a sibling application, say) is skipped on its own, never the whole
/// header with the session cookie in it. Tokens are base64url, so nothing of ours is lost.
pub(super) fn session_cookies(headers: &HeaderMap, name: &str) -> Vec<String> {
    let mut found = Vec::new();
    for header in headers.get_all(COOKIE) {
        for pair in header.as_bytes().split(|&b| b == b';') {
            let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                continue;
            };
            if trim(&pair[..eq]) != name.as_bytes() {
                continue;
            }
            let value = trim(&pair[eq + 1..]);
            if value.is_empty() || !value.iter().all(u8::is_ascii_graphic) {
                continue;
            }
            if found.len() == MAX_SCANNED_CANDIDATES {
                return found;
            }
            // Visible ASCII, so valid UTF-8.
            if let Ok(value) = std::str::from_utf8(value) {
                found.push(value.to_owned());
            }
        }
    }
    found
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// True when loading the token got as far as authentication: every refusal but the cheap
/// ones that come before the AEAD (SPEC.md section 6: length, text form, version, key id).
pub(super) fn reached_authentication(error: &Error) -> bool {
    !matches!(
        error,
        Error::TooLong { .. } | Error::Malformed | Error::UnsupportedVersion | Error::UnknownKey
    )
}

/// Opens the first candidate that loads as a `T`, trying at most
/// [`MAX_AUTHENTICATED_CANDIDATES`] that reach authentication.
pub(super) fn open_first<T: DeserializeOwned>(
    serializer: &TimedSerializer,
    candidates: Vec<String>,
    now: SystemTime,
) -> Option<(T, TokenMeta)> {
    let mut authenticated = 0;
    for candidate in candidates {
        if authenticated == MAX_AUTHENTICATED_CANDIDATES {
            tracing::debug!("more session cookies than are tried; the rest are ignored");
            break;
        }
        match serializer.loads_with_meta_at::<T>(&candidate, now) {
            Ok(loaded) => return Some((loaded.payload, loaded.meta)),
            Err(e) => {
                if reached_authentication(&e) {
                    authenticated += 1;
                }
                if e.is_rejection() {
                    tracing::debug!(error = %e, "session cookie refused");
                } else {
                    tracing::error!(error = %e, "session cookie could not be checked");
                }
            }
        }
    }
    None
}

/// The cookie payload of a session with an absolute lifetime: the value and when the session
/// started (Unix seconds), authenticated with it and unchanged by renewals. A map with the
/// keys `v` and `s`.
#[derive(serde::Deserialize)]
pub(super) struct Stored<T> {
    pub(super) v: T,
    pub(super) s: u64,
}

/// What [`Stored`] deserializes from, for writing.
#[derive(serde::Serialize)]
pub(super) struct StoredRef<'a, T> {
    pub(super) v: &'a T,
    pub(super) s: u64,
}

/// Opens the request's session cookie as the configuration says: a plain `T`, or a
/// [`Stored<T>`] no older than the absolute lifetime (an older one is an empty session).
pub(super) fn open_session<T: DeserializeOwned>(
    config: &Config,
    candidates: Vec<String>,
) -> Option<Opened<T>> {
    let now = config.clock.now();
    let Some(lifetime) = config.absolute_lifetime else {
        let (value, meta) = open_first::<T>(&config.serializer, candidates, now)?;
        return Some(Opened {
            value,
            meta,
            started: None,
        });
    };
    let (stored, meta) = open_first::<Stored<T>>(&config.serializer, candidates, now)?;
    if within_lifetime(stored.s, lifetime, now) {
        Some(Opened {
            value: stored.v,
            meta,
            started: Some(stored.s),
        })
    } else {
        tracing::debug!("session refused: older than its absolute lifetime");
        None
    }
}

/// True while a session that started at `started` (Unix seconds) is within `lifetime` at
/// `now` (whole seconds; a session exactly `lifetime` old is still within it, as a token
/// exactly `max_age` old still loads).
pub(super) fn within_lifetime(started: u64, lifetime: Duration, now: SystemTime) -> bool {
    now_unix(now).saturating_sub(started) <= lifetime.as_secs()
}

/// Whole seconds since the Unix epoch; 0 for a clock before it.
pub(super) fn now_unix(now: SystemTime) -> u64 {
    now.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The state of one request, shared by the layer and every clone of its [`Session`]
/// extractor.
///
/// [`Session`]: super::Session
pub(super) struct Shared<T> {
    pub(super) config: Arc<Config>,
    state: Mutex<State<T>>,
    /// The request's cookie, refused because the revocation store could not answer: still to
    /// be revoked on logout (`revoke.rs`).
    pub(super) unchecked: Mutex<Option<TokenMeta>>,
}

impl<T> Shared<T> {
    pub(super) fn new(config: Arc<Config>, headers: &HeaderMap) -> Shared<T> {
        let candidates = session_cookies(headers, &config.name);
        Shared {
            config,
            state: Mutex::new(State::new(candidates)),
            unchecked: Mutex::new(None),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State<T>> {
        // No code that can panic runs under the lock but `T`'s serde impls; the state is
        // either set completely or not at all, so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: DeserializeOwned> Shared<T> {
    /// Decrypts the request's cookie(s), once; an empty session if none loads.
    pub(super) fn load(&self, state: &mut State<T>) {
        state.load_with(|candidates| open_session(&self.config, candidates));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use std::time::UNIX_EPOCH;

    /// The metadata of a cookie `age_secs` old, opened by the primary key or a fallback key.
    fn meta_of(age_secs: u64, fallback: bool) -> TokenMeta {
        let key = |b: u8| crate::SecretKey::from_bytes(&[b; 32]).unwrap();
        let ring = TimedSerializer::with_keys([key(1), key(2)], "s")
            .unwrap()
            .max_age(Duration::from_secs(10_000));
        let maker = TimedSerializer::new(key(if fallback { 2 } else { 1 }), "s");
        let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let token = maker.dumps_at(&0u8, t0).unwrap();
        ring.loads_with_meta_at::<u8>(&token, t0 + Duration::from_secs(age_secs))
            .unwrap()
            .meta
    }

    fn meta(age_secs: u64) -> TokenMeta {
        meta_of(age_secs, false)
    }

    fn policy(renew_after: Option<Duration>, reseal_fallback: bool) -> RenewPolicy {
        RenewPolicy {
            renew_after,
            reseal_fallback,
        }
    }

    #[test]
    fn the_cookie_decision_for_every_combination() {
        use Action as A;
        use Decision::{Issue, Keep, Remove};
        let hour = Some(Duration::from_secs(3600));
        let (young, due, old) = (meta(10), meta(3600), meta(5000));
        let fallback = meta_of(10, true);
        // (action, loaded cookie, renew policy, shared-cacheable response) => decision
        type Row<'a> = (Action, Option<&'a TokenMeta>, RenewPolicy, bool, Decision);
        let table: &[Row] = &[
            // What the handler did wins, whatever else holds.
            (A::Clear, None, policy(None, false), false, Remove),
            (A::Clear, Some(&old), policy(hour, true), true, Remove),
            (A::Set, None, policy(None, false), false, Issue),
            (A::Set, Some(&young), policy(hour, true), true, Issue),
            (A::Renew, Some(&young), policy(None, false), false, Issue),
            (A::Renew, Some(&young), policy(None, false), true, Issue),
            // Untouched sessions: renewed once due, not before, not without a policy.
            (A::None, None, policy(None, true), false, Keep),
            (A::None, None, policy(hour, true), false, Keep),
            (A::None, Some(&old), policy(None, false), false, Keep),
            (A::None, Some(&young), policy(hour, true), false, Keep),
            (A::None, Some(&due), policy(hour, false), false, Issue),
            (A::None, Some(&old), policy(hour, false), false, Issue),
            // A cookie of a fallback key moves to the primary key, unless turned off.
            (A::None, Some(&fallback), policy(None, true), false, Issue),
            (A::None, Some(&fallback), policy(hour, true), false, Issue),
            (A::None, Some(&fallback), policy(None, false), false, Keep),
            // ... but neither happens on a response meant for shared caches.
            (A::None, Some(&due), policy(hour, true), true, Keep),
            (A::None, Some(&old), policy(hour, true), true, Keep),
            (A::None, Some(&fallback), policy(None, true), true, Keep),
        ];
        for &(action, loaded, policy, cacheable, expected) in table {
            assert_eq!(
                decide(action, loaded, policy, cacheable),
                expected,
                "{action:?} {:?} {policy:?} cacheable={cacheable}",
                loaded.map(|m| (m.age, m.key_index))
            );
        }
        // Every combination: set and clear always decide; nothing is issued for an untouched
        // session without a reason (no renewal due, primary key) or on a shared-cacheable one.
        for action in [A::None, A::Set, A::Clear, A::Renew] {
            for loaded in [None, Some(&young), Some(&due), Some(&old), Some(&fallback)] {
                for renew_after in [None, hour] {
                    for reseal in [false, true] {
                        for cacheable in [false, true] {
                            let d = decide(action, loaded, policy(renew_after, reseal), cacheable);
                            let reason = loaded.is_some_and(|m| {
                                renew_after.is_some_and(|r| m.age >= r)
                                    || (reseal && m.key_index > 0)
                            });
                            let expected = match action {
                                A::Clear => Remove,
                                A::Set | A::Renew => Issue,
                                A::None if reason && !cacheable => Issue,
                                A::None => Keep,
                            };
                            assert_eq!(d, expected);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn sessions_end_at_their_absolute_lifetime() {
        let start = 1_700_000_000;
        let at = |secs: u64| UNIX_EPOCH + Duration::from_secs(secs);
        let day = Duration::from_secs(86_400);
        assert!(within_lifetime(start, day, at(start)));
        assert!(within_lifetime(start, day, at(start + 86_400)));
        assert!(!within_lifetime(start, day, at(start + 86_401)));
        // A start in the future (clock skew between instances) is within.
        assert!(within_lifetime(start, day, at(start - 10)));
        assert_eq!(now_unix(at(start)), start);
    }

    #[test]
    fn set_clear_and_renew_move_the_state() {
        let mut state = State::<u8>::new(vec!["c".into()]);
        assert_eq!(state.value(), None);
        // renew before loading does nothing: there is no value to issue.
        state.renew();
        assert_eq!(state.action(), Action::None);
        state.load_with(|candidates| {
            assert_eq!(candidates, ["c"]);
            Some(Opened {
                value: 7,
                meta: meta(1),
                started: Some(100),
            })
        });
        assert_eq!(state.started(), Some(100));
        assert_eq!(state.value(), Some(&7));
        assert!(state.meta().is_some());
        // Loading again does not reopen anything.
        state.load_with(|_| panic!("loaded twice"));
        state.renew();
        assert_eq!(state.action(), Action::Renew);
        state.set(9);
        assert_eq!((state.value(), state.meta()), (Some(&9), None));
        assert_eq!(state.started(), Some(100), "set keeps the session's start");
        assert_eq!(state.action(), Action::Set);
        // renew after set leaves the set in place.
        state.renew();
        assert_eq!(state.action(), Action::Set);
        state.clear();
        assert_eq!((state.value(), state.action()), (None, Action::Clear));
        assert_eq!(state.started(), None, "clear ends the session");
        // renew of an empty session does nothing.
        state.renew();
        assert_eq!(state.action(), Action::Clear);
        // set after clear wins: the last call decides.
        state.set(1);
        assert_eq!(state.action(), Action::Set);
    }

    #[test]
    fn a_discarded_session_is_empty_and_a_later_set_starts_a_new_one() {
        // What a revoked cookie's session becomes: as if no cookie had loaded.
        let mut state = State::<u8>::new(vec!["c".into()]);
        state.load_with(|_| {
            Some(Opened {
                value: 7,
                meta: meta(1),
                started: Some(100),
            })
        });
        state.discard();
        assert_eq!((state.value(), state.meta()), (None, None));
        assert_eq!(state.started(), None);
        assert_eq!(
            state.action(),
            Action::None,
            "the handler asked for nothing"
        );
        // Nothing is left to renew, and a set starts a session of its own.
        state.renew();
        assert_eq!(state.action(), Action::None);
        state.set(9);
        assert_eq!((state.value(), state.started()), (Some(&9), None));
    }

    #[test]
    fn the_request_cookie_loads_as_its_value_until_the_absolute_lifetime_ends() {
        use crate::web::SessionLayer;
        let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let s = TimedSerializer::new(crate::SecretKey::from_bytes(&[1; 32]).unwrap(), "s")
            .max_age(Duration::from_secs(86_400));
        let hour = Duration::from_secs(3600);
        let layer = |lifetime: Option<Duration>, now: SystemTime| {
            let builder = SessionLayer::<u8>::builder(s.clone()).with_clock(move || now);
            match lifetime {
                Some(lifetime) => builder.absolute_lifetime(lifetime),
                None => builder,
            }
            .build()
            .unwrap()
        };
        let load = |layer: SessionLayer<u8>, cookie: &str| {
            let mut headers = HeaderMap::new();
            let pair = format!("{}={cookie}", layer.cookie_name());
            headers.insert(COOKIE, HeaderValue::from_str(&pair).unwrap());
            let shared = Shared::<u8>::new(layer.config, &headers);
            let mut state = shared.lock();
            shared.load(&mut state);
            (state.value().copied(), state.started())
        };
        let plain = s.dumps_at(&7u8, t0).unwrap();
        assert_eq!(load(layer(None, t0), &plain), (Some(7), None));
        // With an absolute lifetime the cookie holds the session's start as well.
        let started = now_unix(t0);
        let stored = s
            .dumps_at(
                &StoredRef {
                    v: &7u8,
                    s: started,
                },
                t0,
            )
            .unwrap();
        let within = layer(Some(hour), t0 + hour);
        assert_eq!(load(within, &stored), (Some(7), Some(started)));
        let past = layer(Some(hour), t0 + hour + Duration::from_secs(1));
        assert_eq!(load(past, &stored), (None, None));
    }

    #[test]
    fn request_cookies_are_parsed_pair_by_pair() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; session=x; b"));
        // A sibling application's UTF-8 cookie in the same header as ours.
        headers.append(
            COOKIE,
            HeaderValue::from_bytes("lang=français; session=y".as_bytes()).unwrap(),
        );
        headers.append(
            COOKIE,
            HeaderValue::from_bytes(b"session=\xff; session=z").unwrap(),
        );
        headers.append(
            COOKIE,
            HeaderValue::from_static(";;session=w;=v; Session=u;session=; session =t\t"),
        );
        assert_eq!(
            session_cookies(&headers, "session"),
            ["x", "y", "z", "w", "t"]
        );
        assert_eq!(session_cookies(&headers, "lang"), Vec::<String>::new());
        assert_eq!(session_cookies(&headers, "a"), ["1"]);
    }

    #[test]
    fn the_number_of_cookies_looked_at_is_bounded() {
        let many: Vec<String> = (0..100).map(|i| format!("session={i}")).collect();
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_str(&many.join("; ")).unwrap());
        let found = session_cookies(&headers, "session");
        assert_eq!(found.len(), MAX_SCANNED_CANDIDATES);
        assert_eq!(found[0], "0");
    }

    #[test]
    fn only_refusals_after_the_cheap_checks_count_as_authenticated() {
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
    fn junk_before_the_real_cookie_does_not_push_it_out() {
        let s = TimedSerializer::new(crate::SecretKey::from_bytes(&[1; 32]).unwrap(), "s")
            .max_age(Duration::from_secs(60));
        let now = SystemTime::now();
        let real = s.dumps_at(&5u8, now).unwrap();
        // Cheap junk (not base64, wrong version, unknown key) does not count ...
        let other = TimedSerializer::new(crate::SecretKey::from_bytes(&[2; 32]).unwrap(), "s");
        let mut candidates: Vec<String> = vec!["x".into(), "AAAA".into()];
        candidates.extend((0..10).map(|i| other.dumps_at(&i, now).unwrap()));
        candidates.push(real.clone());
        assert_eq!(
            open_first::<u8>(&s, candidates, now).map(|(v, _)| v),
            Some(5)
        );
        // ... junk that reaches the AEAD does: four of it and the real cookie is not tried.
        let forged = |i: u8| {
            let mut t = real.clone().into_bytes();
            let last = t.len() - 2;
            t[last] = if t[last] == b'A' + i {
                b'B' + i
            } else {
                b'A' + i
            };
            String::from_utf8(t).unwrap()
        };
        let mut candidates: Vec<String> = (0..4).map(forged).collect();
        candidates.push(real.clone());
        assert_eq!(open_first::<u8>(&s, candidates, now).map(|(v, _)| v), None);
        let mut candidates: Vec<String> = (0..3).map(forged).collect();
        candidates.push(real);
        assert_eq!(
            open_first::<u8>(&s, candidates, now).map(|(v, _)| v),
            Some(5)
        );
    }
}
