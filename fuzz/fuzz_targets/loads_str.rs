//! Arbitrary strings as tokens: never a panic, never a success (the fuzzer holds no key), and
//! every refusal is a token rejection.
#![no_main]

use itsclassified_fuzz::{assert_rejection, now, serializer, Session};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data);
    let s = serializer();
    match s.loads_at::<Session>(&token, now()) {
        Ok(v) => panic!("a token loaded without the key: {v:?}"),
        Err(e) => assert_rejection(&e),
    }
    match s.loads_at::<serde_json::Value>(&token, now()) {
        Ok(v) => panic!("a token loaded without the key: {v:?}"),
        Err(e) => assert_rejection(&e),
    }
});
