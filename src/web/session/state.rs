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

/// The cookie decision, from what the handler did, the verified metadata of the request's
/// cookie (if it loaded), the renewal policy, and whether the handler marked the response as
/// storable by shared caches (`Cache-Control: public` or `s-maxage`).
///
/// Sliding renewal is skipped on a response meant for shared caches: a cookie there would
/// either make the response private (undoing the handler's caching) or be served to other
/// users; the session is renewed on its next uncacheable response instead. What the handler
/// asked for explicitly (set, clear, renew) is always done, and the layer then makes the
/// response private.
pub(super) fn decide(
    action: Action,
    loaded: Option<&TokenMeta>,
    renew_after: Option<Duration>,
    shared_cacheable: bool,
) -> Decision {
    match action {
        Action::Clear => Decision::Remove,
        Action::Set | Action::Renew => Decision::Issue,
        Action::None => match (loaded, renew_after) {
            (Some(meta), Some(renew_after)) if meta.age >= renew_after && !shared_cacheable => {
                Decision::Issue
            }
            _ => Decision::Keep,
        },
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

/// The session of one request.
pub(super) struct State<T> {
    load: Load<T>,
    action: Action,
    /// The handler extracted the session: the response varies with the cookie.
    pub(super) extracted: bool,
}

impl<T> State<T> {
    /// A session whose value is in the request cookies `candidates`, not decrypted yet.
    pub(super) fn new(candidates: Vec<String>) -> State<T> {
        State {
            load: Load::Pending(candidates),
            action: Action::None,
            extracted: false,
        }
    }

    pub(super) fn action(&self) -> Action {
        self.action
    }

    /// Replaces the value; the cookie is issued anew.
    pub(super) fn set(&mut self, value: T) {
        self.load = Load::Done {
            value: Some(value),
            meta: None,
        };
        self.action = Action::Set;
    }

    /// Empties the session; the cookie is removed.
    pub(super) fn clear(&mut self) {
        self.load = Load::Done {
            value: None,
            meta: None,
        };
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
    pub(super) fn load_with(
        &mut self,
        open: impl FnOnce(Vec<String>) -> (Option<T>, Option<TokenMeta>),
    ) {
        if let Load::Pending(candidates) = &mut self.load {
            let (value, meta) = open(std::mem::take(candidates));
            self.load = Load::Done { value, meta };
        }
    }

    /// Forgets the loaded value, as if no cookie had loaded (a revoked cookie), without
    /// changing what the handler asked for.
    pub(super) fn discard(&mut self) {
        self.load = Load::Done {
            value: None,
            meta: None,
        };
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
) -> (Option<T>, Option<TokenMeta>) {
    let mut authenticated = 0;
    for candidate in candidates {
        if authenticated == MAX_AUTHENTICATED_CANDIDATES {
            tracing::debug!("more session cookies than are tried; the rest are ignored");
            break;
        }
        match serializer.loads_with_meta_at::<T>(&candidate, now) {
            Ok(loaded) => return (Some(loaded.payload), Some(loaded.meta)),
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
    (None, None)
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
        let config = &self.config;
        state
            .load_with(|candidates| open_first(&config.serializer, candidates, config.clock.now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use std::time::UNIX_EPOCH;

    fn meta(age_secs: u64) -> TokenMeta {
        let s = TimedSerializer::new(crate::SecretKey::from_bytes(&[1; 32]).unwrap(), "s")
            .max_age(Duration::from_secs(10_000));
        let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let token = s.dumps_at(&0u8, t0).unwrap();
        s.loads_with_meta_at::<u8>(&token, t0 + Duration::from_secs(age_secs))
            .unwrap()
            .meta
    }

    #[test]
    fn the_cookie_decision_for_every_combination() {
        use Action as A;
        use Decision::{Issue, Keep, Remove};
        let hour = Duration::from_secs(3600);
        let (young, due, old) = (meta(10), meta(3600), meta(5000));
        // (action, loaded cookie, renew_after, shared-cacheable response) => decision
        type Row<'a> = (
            Action,
            Option<&'a TokenMeta>,
            Option<Duration>,
            bool,
            Decision,
        );
        let table: &[Row] = &[
            // What the handler did wins, whatever else holds.
            (A::Clear, None, None, false, Remove),
            (A::Clear, Some(&old), Some(hour), true, Remove),
            (A::Set, None, None, false, Issue),
            (A::Set, Some(&young), Some(hour), true, Issue),
            (A::Renew, Some(&young), None, false, Issue),
            (A::Renew, Some(&young), None, true, Issue),
            // Untouched sessions: renewed once due, not before, not without a policy.
            (A::None, None, None, false, Keep),
            (A::None, None, Some(hour), false, Keep),
            (A::None, Some(&old), None, false, Keep),
            (A::None, Some(&young), Some(hour), false, Keep),
            (A::None, Some(&due), Some(hour), false, Issue),
            (A::None, Some(&old), Some(hour), false, Issue),
            // ... but never on a response meant for shared caches.
            (A::None, Some(&due), Some(hour), true, Keep),
            (A::None, Some(&old), Some(hour), true, Keep),
        ];
        for &(action, loaded, renew_after, cacheable, expected) in table {
            assert_eq!(
                decide(action, loaded, renew_after, cacheable),
                expected,
                "{action:?} {:?} {renew_after:?} cacheable={cacheable}",
                loaded.map(|m| m.age)
            );
        }
        // Every combination: set and clear always decide, no policy never renews.
        for action in [A::None, A::Set, A::Clear, A::Renew] {
            for loaded in [None, Some(&young), Some(&due), Some(&old)] {
                for renew_after in [None, Some(hour)] {
                    for cacheable in [false, true] {
                        let d = decide(action, loaded, renew_after, cacheable);
                        match action {
                            A::Clear => assert_eq!(d, Remove),
                            A::Set | A::Renew => assert_eq!(d, Issue),
                            A::None if renew_after.is_none() || cacheable || loaded.is_none() => {
                                assert_eq!(d, Keep)
                            }
                            A::None => {}
                        }
                    }
                }
            }
        }
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
            (Some(7), Some(meta(1)))
        });
        assert_eq!(state.value(), Some(&7));
        assert!(state.meta().is_some());
        // Loading again does not reopen anything.
        state.load_with(|_| panic!("loaded twice"));
        state.renew();
        assert_eq!(state.action(), Action::Renew);
        state.set(9);
        assert_eq!((state.value(), state.meta()), (Some(&9), None));
        assert_eq!(state.action(), Action::Set);
        // renew after set leaves the set in place.
        state.renew();
        assert_eq!(state.action(), Action::Set);
        state.clear();
        assert_eq!((state.value(), state.action()), (None, Action::Clear));
        // renew of an empty session does nothing.
        state.renew();
        assert_eq!(state.action(), Action::Clear);
        // set after clear wins: the last call decides.
        state.set(1);
        assert_eq!(state.action(), Action::Set);
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
        assert_eq!(open_first::<u8>(&s, candidates, now).0, Some(5));
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
        assert_eq!(open_first::<u8>(&s, candidates, now).0, None);
        let mut candidates: Vec<String> = (0..3).map(forged).collect();
        candidates.push(real);
        assert_eq!(open_first::<u8>(&s, candidates, now).0, Some(5));
    }
}
