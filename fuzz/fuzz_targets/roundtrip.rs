//! Arbitrary structured payloads through dumps then loads come back equal, and changing any one
//! byte of the token (at a fuzzer-chosen position, to a fuzzer-chosen value) is refused.
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use itsclassified_fuzz::{assert_rejection, now, serializer, Session};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, arbitrary::Arbitrary)]
struct Input {
    session: Session,
    position: u16,
    xor: std::num::NonZeroU8,
}

fuzz_target!(|input: Input| {
    let s = serializer();
    let token = match s.dumps_at(&input.session, now()) {
        Ok(token) => token,
        Err(itsclassified::Error::TooLong { .. }) => return,
        Err(e) => panic!("dumps failed: {e:?}"),
    };
    let loaded = s.loads_at::<itsclassified_fuzz::Session>(&token, now()).unwrap();
    assert_eq!(loaded, input.session);

    let mut raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
    let i = usize::from(input.position) % raw.len();
    raw[i] ^= input.xor.get();
    match s.loads_at::<Session>(&URL_SAFE_NO_PAD.encode(&raw), now()) {
        Ok(_) => panic!("a token with byte {i} changed loaded"),
        Err(e) => assert_rejection(&e),
    }
});
