//! Checks the crate byte for byte against `tests/vectors/v1.json`, which
//! `scripts/reference_vectors.py` (an independent Python implementation) wrote.

use std::time::{Duration, UNIX_EPOCH};

use itsclassified::{hazmat, untrusted_header, Error, SecretKey, TimedSerializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

const VECTORS: &str = include_str!("vectors/v1.json");

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Session {
    user_id: String,
    role: String,
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn serializer(v: &Value) -> TimedSerializer {
    let secret = SecretKey::from_bytes(&hex(v["secret_hex"].as_str().unwrap())).unwrap();
    TimedSerializer::new(secret, hex(v["salt_hex"].as_str().unwrap()))
}

fn vectors() -> Value {
    serde_json::from_str(VECTORS).expect("v1.json parses")
}

#[test]
fn valid_vectors_seal_and_open_byte_for_byte() {
    let all = vectors();
    let valid = all["valid"].as_array().unwrap();
    assert_eq!(valid.len(), 8, "number of valid vectors");
    for v in valid {
        let name = v["name"].as_str().unwrap();
        let issued_at = v["issued_at"].as_u64().unwrap();
        let nonce: [u8; 24] = hex(v["nonce_hex"].as_str().unwrap()).try_into().unwrap();
        let plaintext = hex(v["payload_msgpack_hex"].as_str().unwrap());
        let token = v["token"].as_str().unwrap();
        let s = serializer(v).max_age(Duration::from_secs(3600));

        assert_eq!(
            s.primary_key_id().to_string(),
            v["key_id"].as_str().unwrap(),
            "{name}: key id"
        );
        let sealed = hazmat::seal_bytes_with_nonce(&s, &plaintext, nonce, issued_at).unwrap();
        assert_eq!(sealed, token, "{name}: token");

        let now = UNIX_EPOCH + Duration::from_secs(issued_at);
        let loaded = s.loads_with_meta_at::<Value>(token, now).unwrap();
        assert_eq!(loaded.payload, v["payload_json"], "{name}: payload");
        assert_eq!(loaded.meta.issued_at, now, "{name}: issued-at");
        assert_eq!(
            loaded.meta.key_id,
            s.primary_key_id(),
            "{name}: meta key id"
        );

        let header = untrusted_header(token).unwrap();
        assert_eq!(header.untrusted_issued_at_unix(), issued_at, "{name}");
        assert_eq!(header.untrusted_key_id(), s.primary_key_id(), "{name}");
    }
}

#[test]
fn seed_vector_from_a_struct() {
    let all = vectors();
    let v = &all["valid"][0];
    assert_eq!(v["name"], "seed-session");
    let session = Session {
        user_id: "123".into(),
        role: "admin".into(),
    };
    assert_eq!(
        rmp_serde::to_vec_named(&session).unwrap(),
        hex(v["payload_msgpack_hex"].as_str().unwrap()),
        "structs are MessagePack maps with field names"
    );
    let nonce: [u8; 24] = hex(v["nonce_hex"].as_str().unwrap()).try_into().unwrap();
    let issued_at = v["issued_at"].as_u64().unwrap();
    let s = serializer(v).no_expiry();
    let token = hazmat::seal_value_with_nonce(&s, &session, nonce, issued_at).unwrap();
    assert_eq!(token, v["token"].as_str().unwrap());
    assert_eq!(token.len(), 103, "the seed payload's token length");
    assert_eq!(s.loads::<Session>(&token).unwrap(), session);
}

fn error_name(e: &Error) -> &'static str {
    match e {
        Error::TooLong { .. } => "TooLong",
        Error::Malformed => "Malformed",
        Error::UnsupportedVersion => "UnsupportedVersion",
        Error::UnknownKey => "UnknownKey",
        Error::Invalid => "Invalid",
        Error::Expired { .. } => "Expired",
        Error::IssuedInFuture { .. } => "IssuedInFuture",
        Error::Payload => "Payload",
        _ => "other",
    }
}

#[test]
fn invalid_vectors_are_refused_with_their_error() {
    let all = vectors();
    let invalid = all["invalid"].as_array().unwrap();
    assert_eq!(invalid.len(), 30, "number of invalid vectors");
    for v in invalid {
        let name = v["name"].as_str().unwrap();
        let s = serializer(v).max_age(Duration::from_secs(v["max_age"].as_u64().unwrap()));
        let now = UNIX_EPOCH + Duration::from_secs(v["now"].as_u64().unwrap());
        let err = s
            .loads_at::<Session>(v["token"].as_str().unwrap(), now)
            .expect_err(name);
        assert_eq!(
            error_name(&err),
            v["error"].as_str().unwrap(),
            "{name}: {err}"
        );
        assert!(err.is_rejection(), "{name}");
    }
}
