//! Checks the crate byte for byte against `tests/vectors/v1.json`, which
//! `scripts/reference_vectors.py` (an independent Python implementation) wrote. SPEC.md §8
//! describes every field.

use std::fmt;
use std::time::{Duration, UNIX_EPOCH};

use itsclassified::{
    hazmat, untrusted_header, Error, KeyError, KeyErrorKind, SecretKey, TimedSerializer,
};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
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

fn hex_field(v: &Value, field: &str) -> Vec<u8> {
    hex(v[field].as_str().unwrap_or_else(|| panic!("{field}")))
}

fn nonce(v: &Value) -> [u8; 24] {
    hex_field(v, "nonce_hex").try_into().unwrap()
}

/// The key ring of a vector: `secret_hex`, then `fallback_secrets_hex` (SPEC.md §8).
fn ring_secrets(v: &Value) -> Vec<Vec<u8>> {
    let mut secrets = vec![hex_field(v, "secret_hex")];
    if let Some(fallbacks) = v.get("fallback_secrets_hex") {
        for s in fallbacks.as_array().unwrap() {
            secrets.push(hex(s.as_str().unwrap()));
        }
    }
    secrets
}

/// A serializer with the vector's key ring, salt, and optional `leeway` and `max_token_len`.
/// `max_age` is applied by [`with_max_age`].
fn serializer(v: &Value) -> TimedSerializer {
    let keys = ring_secrets(v)
        .iter()
        .map(|s| SecretKey::from_bytes(s).unwrap())
        .collect::<Vec<_>>();
    let mut s = TimedSerializer::with_keys(keys, hex_field(v, "salt_hex")).unwrap();
    if let Some(leeway) = v.get("leeway") {
        s = s.leeway(Duration::from_secs(leeway.as_u64().unwrap()));
    }
    if let Some(max) = v.get("max_token_len") {
        s = s.max_token_len(usize::try_from(max.as_u64().unwrap()).unwrap());
    }
    s
}

/// `max_age`: whole seconds, or `null` for no-expiry mode.
fn with_max_age(s: TimedSerializer, v: &Value) -> TimedSerializer {
    match &v["max_age"] {
        Value::Null => s.no_expiry(),
        n => s.max_age(Duration::from_secs(n.as_u64().unwrap())),
    }
}

fn vectors() -> Value {
    serde_json::from_str(VECTORS).expect("v1.json parses")
}

fn section(all: &Value, name: &str, expected_len: usize) -> Vec<Value> {
    let list = all[name].as_array().unwrap().clone();
    assert_eq!(list.len(), expected_len, "number of {name} vectors");
    list
}

/// Any MessagePack value, keeping what `serde_json::Value` loses: map order, the width of a
/// float, and byte strings. Decoding a canonical payload into it and serializing it again with
/// the crate gives the crate's encoding of that value.
#[derive(Debug)]
enum Val {
    Nil,
    Bool(bool),
    Uint(u64),
    Int(i64),
    F32(f32),
    F64(f64),
    Str(String),
    Bin(Vec<u8>),
    Array(Vec<Val>),
    Map(Vec<(Val, Val)>),
}

impl Serialize for Val {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Val::Nil => s.serialize_unit(),
            Val::Bool(b) => s.serialize_bool(*b),
            Val::Uint(n) => s.serialize_u64(*n),
            Val::Int(n) => s.serialize_i64(*n),
            Val::F32(f) => s.serialize_f32(*f),
            Val::F64(f) => s.serialize_f64(*f),
            Val::Str(text) => s.serialize_str(text),
            Val::Bin(bytes) => s.serialize_bytes(bytes),
            Val::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Val::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Val {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Val, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Val;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a MessagePack value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Val, E> {
                Ok(Val::Nil)
            }
            fn visit_none<E: de::Error>(self) -> Result<Val, E> {
                Ok(Val::Nil)
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Val, E> {
                Ok(Val::Bool(b))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Val, E> {
                Ok(Val::Uint(n))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Val, E> {
                Ok(Val::Int(n))
            }
            fn visit_f32<E: de::Error>(self, f: f32) -> Result<Val, E> {
                Ok(Val::F32(f))
            }
            fn visit_f64<E: de::Error>(self, f: f64) -> Result<Val, E> {
                Ok(Val::F64(f))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Val, E> {
                Ok(Val::Str(s.to_owned()))
            }
            fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<Val, E> {
                Ok(Val::Bin(b.to_vec()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Val, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Val::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Val, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Val::Map(entries))
            }
        }
        d.deserialize_any(V)
    }
}

/// Whether a payload loaded as any value matches a `payload_json` read losslessly, by SPEC.md
/// §8's rules: integers by value whatever their width, a float 64 or a float 32 of the same
/// value and sign (never an integer), maps with the same entries in the same order.
fn matches(loaded: &Val, json: &Val) -> bool {
    let same_float = |a: f64, b: f64| a == b && a.is_sign_negative() == b.is_sign_negative();
    match (loaded, json) {
        (Val::Nil, Val::Nil) => true,
        (Val::Bool(a), Val::Bool(b)) => a == b,
        (Val::Uint(a), Val::Uint(b)) => a == b,
        (Val::Int(a), Val::Int(b)) => a == b,
        // rmp-serde hands a non-negative int as u64 and serde_json a negative one as i64: the
        // same integer can arrive as either.
        (Val::Uint(a), Val::Int(b)) | (Val::Int(b), Val::Uint(a)) => i64::try_from(*a) == Ok(*b),
        (Val::F64(a), Val::F64(b)) => same_float(*a, *b),
        (Val::F32(a), Val::F64(b)) => same_float(f64::from(*a), *b),
        (Val::Str(a), Val::Str(b)) => a == b,
        (Val::Array(a), Val::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| matches(x, y))
        }
        (Val::Map(a), Val::Map(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|((ka, va), (kb, vb))| matches(ka, kb) && matches(va, vb))
        }
        _ => false,
    }
}

/// The `payload_json` of every vector of a list, by name, read losslessly (SPEC.md §8): serde_json
/// hands `Val` each number as an integer or a float by its text, and each object's members in
/// the order of the text, which `serde_json::Value` (sorted maps) does not keep. `None` where
/// the vector has no `payload_json` (a `null` one is `Some(Val::Nil)`).
fn lossless_payloads(list: &str) -> Vec<(String, Option<Val>)> {
    fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Val>, D::Error> {
        Val::deserialize(d).map(Some)
    }
    #[derive(Deserialize)]
    struct Vector {
        name: String,
        #[serde(default, deserialize_with = "present")]
        payload_json: Option<Val>,
    }
    #[derive(Deserialize)]
    struct Lists {
        valid: Vec<Vector>,
        decode: Vec<Vector>,
        encode: Vec<Vector>,
    }
    let lists: Lists = serde_json::from_str(VECTORS).expect("v1.json parses losslessly");
    let vectors = match list {
        "valid" => lists.valid,
        "decode" => lists.decode,
        "encode" => lists.encode,
        _ => panic!("{list} has no payload_json"),
    };
    vectors
        .into_iter()
        .map(|v| (v.name, v.payload_json))
        .collect()
}

/// The value whose canonical encoding is `plaintext`; checks that the crate's encoder writes it
/// back to the same bytes.
fn canonical_value(name: &str, plaintext: &[u8]) -> Val {
    let value: Val = rmp_serde::from_slice(plaintext).expect(name);
    assert_eq!(
        rmp_serde::to_vec_named(&value).unwrap(),
        plaintext,
        "{name}: the crate's encoding of the value"
    );
    value
}

#[test]
fn valid_vectors_seal_and_open_byte_for_byte() {
    for v in section(&vectors(), "valid", 12) {
        let name = v["name"].as_str().unwrap();
        let issued_at = v["issued_at"].as_u64().unwrap();
        let plaintext = hex_field(&v, "payload_msgpack_hex");
        let token = v["token"].as_str().unwrap();
        let s = serializer(&v).max_age(Duration::from_secs(3600));

        assert_eq!(
            s.primary_key_id().to_string(),
            v["key_id"].as_str().unwrap(),
            "{name}: key id"
        );
        let sealed = hazmat::seal_bytes_with_nonce(&s, &plaintext, nonce(&v), issued_at).unwrap();
        assert_eq!(sealed, token, "{name}: token");

        // The encoder: the value, serialized by the crate, gives the same bytes and token.
        let value = canonical_value(name, &plaintext);
        let dumped = hazmat::seal_value_with_nonce(&s, &value, nonce(&v), issued_at).unwrap();
        assert_eq!(dumped, token, "{name}: token from the value");

        if let Some(text) = v.get("salt_text") {
            let key = SecretKey::from_bytes(&hex_field(&v, "secret_hex")).unwrap();
            let by_text = TimedSerializer::new(key, text.as_str().unwrap());
            let sealed =
                hazmat::seal_bytes_with_nonce(&by_text, &plaintext, nonce(&v), issued_at).unwrap();
            assert_eq!(sealed, token, "{name}: the text salt is its UTF-8 bytes");
        }

        let now = UNIX_EPOCH + Duration::from_secs(issued_at);
        let loaded = s.loads_with_meta_at::<Value>(token, now).unwrap();
        assert_eq!(loaded.payload, v["payload_json"], "{name}: payload");
        assert_eq!(loaded.meta.issued_at, now, "{name}: issued-at");
        assert_eq!(loaded.meta.age, Duration::ZERO, "{name}: age");
        assert_eq!(loaded.meta.key_index, 0, "{name}: key index");
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

/// SPEC.md §8: `payload_json`, read losslessly, is the value whose canonical encoding is
/// `payload_msgpack_hex` (`valid` and `encode`), and a token loaded as any value matches it
/// (`valid` and `decode`): integers and floats told apart by their text, the sign of -0.0, map
/// order.
#[test]
fn payload_json_read_losslessly_is_the_payload() {
    let all = vectors();
    let (mut encoded, mut loaded) = (0, 0);
    for list in ["valid", "decode", "encode"] {
        let list_values = all[list].as_array().unwrap();
        let payloads = lossless_payloads(list);
        assert_eq!(payloads.len(), list_values.len(), "{list}");
        for (v, (name, json)) in list_values.iter().zip(payloads) {
            assert_eq!(v["name"], name.as_str(), "{list}: order");
            let Some(json) = json else {
                assert!(v.get("payload_json").is_none(), "{list} {name}");
                continue;
            };
            let plaintext = hex_field(v, "payload_msgpack_hex");
            if list != "decode" {
                // Encoding payload_json as in §3.1 gives the plaintext, and with the crate's
                // encoder the token.
                encoded += 1;
                assert_eq!(
                    rmp_serde::to_vec_named(&json).unwrap(),
                    plaintext,
                    "{list} {name}: payload_json encodes to payload_msgpack_hex"
                );
                if let Some(token) = v["token"].as_str() {
                    let issued_at = v["issued_at"].as_u64().unwrap();
                    let dumped =
                        hazmat::seal_value_with_nonce(&serializer(v), &json, nonce(v), issued_at);
                    assert_eq!(
                        dumped.unwrap(),
                        token,
                        "{list} {name}: token from payload_json"
                    );
                }
            }
            if list != "encode" {
                // Loaded as any value, the payload matches payload_json.
                loaded += 1;
                let (now, s) = match list {
                    "valid" => (
                        v["issued_at"].as_u64().unwrap(),
                        serializer(v).max_age(Duration::from_secs(3600)),
                    ),
                    _ => (v["now"].as_u64().unwrap(), with_max_age(serializer(v), v)),
                };
                let now = UNIX_EPOCH + Duration::from_secs(now);
                let payload = s
                    .loads_at::<Val>(v["token"].as_str().unwrap(), now)
                    .unwrap();
                assert!(
                    matches(&payload, &json),
                    "{list} {name}: {payload:?} matches {json:?}"
                );
            }
        }
    }
    assert_eq!((encoded, loaded), (12 + 6, 12 + 8), "payloads checked");
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
        hex_field(v, "payload_msgpack_hex"),
        "structs are MessagePack maps with field names"
    );
    let issued_at = v["issued_at"].as_u64().unwrap();
    let s = serializer(v).no_expiry();
    let token = hazmat::seal_value_with_nonce(&s, &session, nonce(v), issued_at).unwrap();
    assert_eq!(token, v["token"].as_str().unwrap());
    assert_eq!(token.len(), 103, "the seed payload's token length");
    assert_eq!(s.loads::<Session>(&token).unwrap(), session);
}

/// The name SPEC.md §6.2 gives the error.
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
        Error::TooDeep { .. } => "TooDeep",
        _ => "other",
    }
}

#[test]
fn invalid_vectors_are_refused_with_their_error() {
    for v in section(&vectors(), "invalid", 54) {
        let name = v["name"].as_str().unwrap();
        let s = with_max_age(serializer(&v), &v);
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

#[test]
fn decode_vectors_load_with_their_metadata() {
    let mut without_json = 0;
    for v in section(&vectors(), "decode", 11) {
        let name = v["name"].as_str().unwrap();
        let s = with_max_age(serializer(&v), &v);
        let now = UNIX_EPOCH + Duration::from_secs(v["now"].as_u64().unwrap());
        let token = v["token"].as_str().unwrap();
        let plaintext = hex_field(&v, "payload_msgpack_hex");
        let meta = &v["meta"];

        let loaded = s.loads_with_meta_at::<Val>(token, now).expect(name);
        match v.get("payload_json") {
            Some(json) => {
                let as_json = s.loads_at::<Value>(token, now).expect(name);
                assert_eq!(&as_json, json, "{name}: payload");
            }
            None => {
                // Nested too deep for a JSON file: the plaintext is canonical, so the value
                // that loaded re-encodes to it.
                without_json += 1;
                assert_eq!(
                    rmp_serde::to_vec_named(&loaded.payload).unwrap(),
                    plaintext,
                    "{name}: payload"
                );
            }
        }
        let issued_at = meta["issued_at"].as_u64().unwrap();
        assert_eq!(issued_at, v["issued_at"].as_u64().unwrap(), "{name}");
        assert_eq!(
            loaded.meta.issued_at,
            UNIX_EPOCH + Duration::from_secs(issued_at),
            "{name}: meta issued-at"
        );
        assert_eq!(
            loaded.meta.age,
            Duration::from_secs(meta["age"].as_u64().unwrap()),
            "{name}: meta age"
        );
        assert_eq!(
            loaded.meta.key_id.to_string(),
            meta["key_id"].as_str().unwrap(),
            "{name}: meta key id"
        );
        let key_index = usize::try_from(meta["key_index"].as_u64().unwrap()).unwrap();
        assert_eq!(loaded.meta.key_index, key_index, "{name}: meta key index");
        assert_eq!(
            loaded.meta.token_id.to_string(),
            meta["token_id"].as_str().unwrap(),
            "{name}: meta token id"
        );
        let expires_at = meta["expires_at"]
            .as_u64()
            .map(|secs| UNIX_EPOCH + Duration::from_secs(secs));
        assert!(
            expires_at.is_some() || meta["expires_at"].is_null(),
            "{name}: expires_at is a number or null"
        );
        assert_eq!(
            loaded.meta.expires_at, expires_at,
            "{name}: meta expires-at"
        );

        // The token is the plaintext sealed under the key that opened it.
        let sealing_key = SecretKey::from_bytes(&ring_secrets(&v)[key_index]).unwrap();
        let sealer = TimedSerializer::new(sealing_key, hex_field(&v, "salt_hex"));
        let sealed =
            hazmat::seal_bytes_with_nonce(&sealer, &plaintext, nonce(&v), issued_at).unwrap();
        assert_eq!(sealed, token, "{name}: token");
    }
    assert_eq!(
        without_json, 3,
        "decode vectors defined by their bytes alone"
    );
}

#[test]
fn encode_vectors_seal_or_refuse() {
    let (mut typed, mut too_deep) = (0, 0);
    for v in section(&vectors(), "encode", 12) {
        let name = v["name"].as_str().unwrap();
        if v.get("payload_type").is_some() {
            // A value with Rust types of its own: `typed_record_vector`.
            typed += 1;
            continue;
        }
        if v["error"] == "TooDeep" {
            too_deep += 1;
        }
        let plaintext = hex_field(&v, "payload_msgpack_hex");
        let value = if v["error"].is_string() {
            rmp_serde::from_slice(&plaintext).expect(name)
        } else {
            canonical_value(name, &plaintext)
        };
        let issued_at = v["issued_at"].as_u64().unwrap();
        let result = hazmat::seal_value_with_nonce(&serializer(&v), &value, nonce(&v), issued_at);
        match v["token"].as_str() {
            Some(token) => assert_eq!(result.expect(name), token, "{name}: token"),
            None => assert_eq!(
                error_name(&result.expect_err(name)),
                v["error"].as_str().unwrap(),
                "{name}"
            ),
        }
    }
    assert_eq!(typed, 1, "typed encode vectors");
    assert_eq!(
        too_deep, 2,
        "TooDeep encode vectors (SPEC.md §5: refused when made)"
    );
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum Role {
    Admin,
    #[allow(dead_code)] // part of the type the vector describes; the vector uses Admin
    Viewer,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum Shape {
    Circle(f64),
    Rect { w: u16, h: u16 },
    Line(u8, u8),
}

/// The `payload_type` of the `typed-record` encode vector, in Rust.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Record {
    id: u32,
    delta: i16,
    ratio: f32,
    score: f64,
    nick: Option<String>,
    email: Option<String>,
    role: Role,
    shape: Shape,
    line: Shape,
    circle: Shape,
    #[serde(with = "serde_bytes")]
    raw: Vec<u8>,
    small: Vec<u8>,
    flags: (bool, char),
    nothing: (),
}

#[test]
fn typed_record_vector() {
    let all = vectors();
    let v = all["encode"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "typed-record")
        .expect("typed-record vector");
    assert!(v["payload_type"]
        .as_str()
        .unwrap()
        .starts_with("record {id: u32"));
    let record = Record {
        id: 300,
        delta: -200,
        ratio: 0.25,
        score: 0.1,
        nick: None,
        email: Some("a@example.com".into()),
        role: Role::Admin,
        shape: Shape::Rect { w: 3, h: 4 },
        line: Shape::Line(1, 2),
        circle: Shape::Circle(0.5),
        raw: vec![0x00, 0xff],
        small: vec![1, 2],
        flags: (true, 'x'),
        nothing: (),
    };
    let plaintext = hex_field(v, "payload_msgpack_hex");
    assert_eq!(rmp_serde::to_vec_named(&record).unwrap(), plaintext);
    let issued_at = v["issued_at"].as_u64().unwrap();
    let s = serializer(v).no_expiry();
    let token = hazmat::seal_value_with_nonce(&s, &record, nonce(v), issued_at).unwrap();
    assert_eq!(token, v["token"].as_str().unwrap());
    assert_eq!(s.loads::<Record>(&token).unwrap(), record);
}

/// SPEC.md §1.3's configuration errors, by the names the vectors use.
fn config_error_name(e: &KeyError) -> &'static str {
    match e.kind() {
        KeyErrorKind::TooShort { .. } => "SecretTooShort",
        KeyErrorKind::Empty => "EmptyKeyRing",
        KeyErrorKind::Duplicate => "DuplicateKeyId",
        _ => "other",
    }
}

#[test]
fn key_vectors_build_a_ring_or_refuse() {
    for v in section(&vectors(), "keys", 6) {
        let name = v["name"].as_str().unwrap();
        let salt = hex_field(&v, "salt_hex");
        let result = v["secrets_hex"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| SecretKey::from_bytes(&hex(s.as_str().unwrap())))
            .collect::<Result<Vec<_>, _>>()
            .and_then(|keys| TimedSerializer::with_keys(keys, &salt));
        match v.get("key_ids") {
            Some(ids) => {
                let got = result
                    .expect(name)
                    .key_ids()
                    .iter()
                    .map(|id| Value::from(id.to_string()))
                    .collect::<Vec<_>>();
                assert_eq!(&Value::from(got), ids, "{name}");
            }
            None => {
                let err = result.expect_err(name);
                assert_eq!(config_error_name(&err), v["error"], "{name}: {err}");
                assert!(!Error::from(err).is_rejection(), "{name}");
            }
        }
    }
}
