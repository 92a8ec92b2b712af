//! The key parser on arbitrary text: never panics, never puts the input in an error message,
//! and a key it accepts survives to_base64 -> from_base64 unchanged.
#![no_main]

use itsclassified::{KeyErrorKind, SecretKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match SecretKey::from_base64(&text) {
        Ok(key) => {
            let again = SecretKey::from_base64(&key.to_base64()).expect("own encoding parses");
            assert_eq!(again.key_id(), key.key_id());
        }
        // The message is fixed text: only the lengths vary, never the input.
        Err(e) => match e.kind() {
            KeyErrorKind::NotBase64 => assert_eq!(e.to_string(), "secret key is not valid base64"),
            KeyErrorKind::TooShort { min, got } => {
                assert_eq!(min, 32);
                assert!(got < 32);
                assert_eq!(
                    e.to_string(),
                    format!("secret key is too short: need at least 32 bytes, got {got}")
                );
            }
            other => panic!("unexpected error: {other:?}"),
        },
    }
});
