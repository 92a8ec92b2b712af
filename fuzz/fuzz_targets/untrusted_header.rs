//! The keyless header reader on arbitrary strings: never panics; when it accepts a string, the
//! string is canonical base64url of a version-1 raw token.
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use itsclassified::untrusted_header;
use itsclassified_fuzz::assert_rejection;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match untrusted_header(&text) {
        Ok(h) => {
            let raw = URL_SAFE_NO_PAD.decode(text.as_bytes()).expect("accepted text decodes");
            assert_eq!(URL_SAFE_NO_PAD.encode(&raw), text, "accepted text is canonical");
            assert!(raw.len() >= 53);
            assert_eq!(h.untrusted_version(), 1);
            assert_eq!(h.untrusted_key_id().get().to_be_bytes(), raw[1..5]);
        }
        Err(e) => assert_rejection(&e),
    }
});
