//! Arbitrary raw tokens, canonically encoded: gets past base64 to the header, the length checks,
//! the key lookup and the AEAD. Never succeeds; errors match what the header says.
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use itsclassified::{untrusted_header, Error};
use itsclassified_fuzz::{assert_rejection, now, serializer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &[u8]| {
    let s = serializer();
    let token = URL_SAFE_NO_PAD.encode(raw);
    let err = match s.loads_at::<serde_json::Value>(&token, now()) {
        Ok(v) => panic!("a token loaded without the key: {v:?}"),
        Err(e) => e,
    };
    assert_rejection(&err);
    let expected_key = s.primary_key_id().get().to_be_bytes();
    match &err {
        Error::TooLong { .. } => assert!(token.len() > s.configured_max_token_len()),
        Error::Malformed => assert!(raw.len() < 53),
        Error::UnsupportedVersion => assert!(raw.len() >= 53 && raw[0] != 1),
        Error::UnknownKey => assert!(raw[0] == 1 && raw[1..5] != expected_key),
        Error::Invalid => assert!(raw[0] == 1 && raw[1..5] == expected_key),
        other => panic!("unexpected error before authentication: {other:?}"),
    }
    match untrusted_header(&token) {
        Ok(h) => {
            assert!(raw.len() >= 53 && raw[0] == 1);
            assert_eq!(h.untrusted_key_id().get().to_be_bytes(), raw[1..5]);
            assert_eq!(h.untrusted_issued_at_unix().to_be_bytes(), raw[5..13]);
        }
        Err(e) => assert_rejection(&e),
    }
});
