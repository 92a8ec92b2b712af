//! Arbitrary `Cookie` headers (NUL separates several header fields) through the session core:
//! parse, load, check, renew and finish. Never a panic; every `Set-Cookie` line it writes is at
//! most 4096 bytes of visible ASCII and spaces (no header injection); the only error is a
//! session too large to re-issue in its chunks. The seeds hold real session cookies under the
//! fuzz key, single and chunked, so the authenticated paths are reached too.
#![no_main]

use itsclassified::session::{FinishError, RequestCookies, SessionPolicy, SessionState, Verdict};
use itsclassified_fuzz::{now, serializer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let policy = SessionPolicy::builder(serializer())
        .cookie_name("sid")
        .max_chunks(3)
        .with_clock(now)
        .build()
        .unwrap();
    let headers = data.split(|&b| b == 0);
    let mut state =
        SessionState::<serde_json::Value>::new(RequestCookies::parse(&policy, headers));
    state.load(&policy);
    if state.pending_check().is_some() {
        let verdict = match data.first().map(|b| b % 3) {
            Some(0) => Verdict::Revoked,
            Some(1) => Verdict::Unavailable,
            _ => Verdict::Admitted,
        };
        state.resolve(verdict);
    }
    if data.len() % 2 == 0 {
        state.renew();
    } else if let Some(value) = state.value().cloned() {
        state.set(value);
    }
    match state.finish(&policy, 200, ["max-age=60"], None) {
        Ok(finish) => {
            for line in finish.set_cookie {
                assert!(line.len() <= 4096, "a Set-Cookie line of {} bytes", line.len());
                assert!(
                    line.bytes().all(|b| b == b' ' || b.is_ascii_graphic()),
                    "a Set-Cookie line with a control or non-ASCII byte"
                );
            }
        }
        Err(FinishError::TooLarge) => {}
        Err(e) => panic!("finishing a fuzzed session failed: {e:?}"),
    }
});
