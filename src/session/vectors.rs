//! Checks the session core against every vector of `tests/vectors/sessions.json`, which
//! `scripts/reference_sessions.py` (an independent Python implementation of SPEC.md sections
//! 10.1 and 10.3) wrote. SPEC.md section 10.7 describes every field.
//!
//! A unit test rather than a file of `tests/`: the vectors pin what only crate-private items
//! can reproduce (deterministic sealing with a given nonce, the envelope, the `Set-Cookie`
//! writer, the reader's candidates before any check).
//!
//! The file is read into types that deny unknown fields, so a list or a field added to the file
//! fails these tests until they check it (SPEC.md section 10.7: a vector is never passed by
//! ignoring a field); each test counts the vectors it checked.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use super::cookies::{issue_lines, RequestCookies, TooManyChunks};
use super::envelope::{Envelope, EnvelopeRef};
use super::id::SessionId;
use super::policy::{SameSite, SessionPolicy, MAX_COOKIE_LEN};
use crate::{Error, SecretKey, TimedSerializer};

const VECTORS: &str = include_str!("../../tests/vectors/sessions.json");

/// The `max_age` at which SPEC.md section 10.7 opens the `envelopes` vectors.
const ENVELOPE_MAX_AGE: u64 = 86_400;

/// How many vectors each list has: a list that shrinks (or grows unchecked) fails.
const ENVELOPES: usize = 11;
const INVALID_ENVELOPES: usize = 15;
const ACCEPTED_ENVELOPES: usize = 3;
const CHUNKS: usize = 9;
const COOKIE_HEADERS: usize = 24;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u64,
    profile: String,
    envelopes: Vec<EnvelopeVector>,
    invalid_envelopes: Vec<InvalidEnvelope>,
    accepted_envelopes: Vec<AcceptedEnvelope>,
    chunks: Vec<ChunkVector>,
    cookie_headers: Vec<HeaderVector>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvelopeVector {
    name: String,
    note: String,
    secret_hex: String,
    salt_text: String,
    key_id: String,
    issued_at: u64,
    nonce_hex: String,
    session_id_hex: String,
    session_id: String,
    start: u64,
    value_json: Val,
    payload_msgpack_hex: String,
    token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InvalidEnvelope {
    name: String,
    note: String,
    secret_hex: String,
    salt_text: String,
    issued_at: u64,
    nonce_hex: String,
    payload_msgpack_hex: String,
    token: String,
    now: u64,
    max_age: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AcceptedEnvelope {
    name: String,
    note: String,
    secret_hex: String,
    salt_text: String,
    issued_at: u64,
    nonce_hex: String,
    payload_msgpack_hex: String,
    token: String,
    now: u64,
    max_age: u64,
    session_id_hex: String,
    start: u64,
    value_json: Val,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChunkVector {
    name: String,
    note: String,
    cookie_name: String,
    token_from: String,
    token: String,
    max_chunks: usize,
    attributes: String,
    set_cookie_lines: Option<Vec<String>>,
    line_lengths: Option<Vec<usize>>,
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderVector {
    name: String,
    note: String,
    cookie_name: String,
    max_chunks: usize,
    cookie_header: String,
    candidates: Vec<String>,
}

fn vectors() -> File {
    let file: File = serde_json::from_str(VECTORS).expect("sessions.json parses");
    assert_eq!(file.version, 1, "sessions.json version");
    assert_eq!(file.profile, "session", "sessions.json profile");
    file
}

/// Any MessagePack (or JSON) value, keeping what `serde_json::Value` loses: the order of a
/// map's keys (serde_json here sorts them), the width of a float, byte strings. `value_json`
/// is read into it in document order, so the crate's encoding of it is the reference's.
#[derive(Debug, Clone, PartialEq)]
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
                f.write_str("any value")
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

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn nonce(nonce_hex: &str) -> [u8; 24] {
    hex(nonce_hex).try_into().expect("a 24-byte nonce")
}

fn session_id(session_id_hex: &str) -> SessionId {
    SessionId::from_bytes(
        hex(session_id_hex)
            .try_into()
            .expect("a 16-byte session id"),
    )
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// The session policy that opens a vector's tokens: its secret and salt, `max_age`, and
/// `max_chunks` 16, so that the maximum length is 65536 as the reference opens them (the
/// `large-value-token-*` envelopes are up to 43000 characters).
fn opening_policy(secret_hex: &str, salt_text: &str, max_age: u64) -> SessionPolicy {
    let key = SecretKey::from_bytes(&hex(secret_hex)).expect("a 32-byte secret");
    let serializer = TimedSerializer::new(key, salt_text).max_age(Duration::from_secs(max_age));
    SessionPolicy::builder(serializer)
        .max_chunks(16)
        .build()
        .expect("the opening policy")
}

/// The value as serde_json reads it back from the session (the order of map keys aside).
fn as_json(value: &Val) -> serde_json::Value {
    serde_json::to_value(value).expect("a JSON value")
}

#[test]
fn envelopes_are_written_sealed_and_opened_byte_for_byte() {
    let file = vectors();
    assert_eq!(file.envelopes.len(), ENVELOPES, "number of envelopes");
    let mut checked = 0;
    for v in &file.envelopes {
        let ctx = format!("{} ({})", v.name, v.note);
        let policy = opening_policy(&v.secret_hex, &v.salt_text, ENVELOPE_MAX_AGE);
        let serializer = policy.serializer();
        assert_eq!(serializer.primary_key_id().to_string(), v.key_id, "{ctx}");
        let id = session_id(&v.session_id_hex);
        assert_eq!(
            id.to_string(),
            v.session_id,
            "{ctx}: the printed session id"
        );
        let envelope = EnvelopeRef {
            value: &v.value_json,
            id,
            start: v.start,
        };
        // Encoding: the canonical envelope of SPEC.md section 10.1.
        let payload = hex(&v.payload_msgpack_hex);
        assert_eq!(
            rmp_serde::to_vec_named(&envelope).unwrap(),
            payload,
            "{ctx}: the envelope's bytes"
        );
        // Sealing, as `seal_new_session_at` does but with the vector's nonce and issued-at.
        let nonce = nonce(&v.nonce_hex);
        assert_eq!(
            serializer
                .seal_value_with(&envelope, &nonce, v.issued_at)
                .unwrap(),
            v.token,
            "{ctx}: the token"
        );
        assert_eq!(
            serializer
                .seal_bytes_with(&payload, &nonce, v.issued_at)
                .unwrap(),
            v.token,
            "{ctx}: the token of the payload bytes"
        );
        // Opening, at now = issued_at with max_age 86400.
        let now = at(v.issued_at);
        let opened = policy
            .open_session_at::<Val>(&v.token, now)
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_eq!(opened.value, v.value_json, "{ctx}: the value, in order");
        assert_eq!(opened.id, id, "{ctx}: the session id");
        assert_eq!(opened.id.to_string(), v.session_id, "{ctx}");
        assert_eq!(opened.start, v.start, "{ctx}: the start");
        assert_eq!(opened.meta.key_id.to_string(), v.key_id, "{ctx}");
        assert_eq!(opened.meta.issued_at, now, "{ctx}");
        let loaded: Envelope<serde_json::Value> = serializer
            .loads_at(&v.token, now)
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_eq!(
            loaded,
            Envelope {
                value: as_json(&v.value_json),
                id,
                start: v.start
            },
            "{ctx}: as serde_json::Value"
        );
        checked += 1;
    }
    assert_eq!(checked, ENVELOPES);
}

#[test]
fn invalid_envelopes_are_authentic_tokens_refused_as_sessions() {
    let file = vectors();
    assert_eq!(
        file.invalid_envelopes.len(),
        INVALID_ENVELOPES,
        "number of invalid_envelopes"
    );
    let mut checked = 0;
    for v in &file.invalid_envelopes {
        let ctx = format!("{} ({})", v.name, v.note);
        assert_eq!(
            v.now, v.issued_at,
            "{ctx}: SPEC.md 10.7 has now = issued_at"
        );
        let policy = opening_policy(&v.secret_hex, &v.salt_text, v.max_age);
        let serializer = policy.serializer();
        let token = serializer
            .seal_bytes_with(
                &hex(&v.payload_msgpack_hex),
                &nonce(&v.nonce_hex),
                v.issued_at,
            )
            .unwrap();
        assert_eq!(token, v.token, "{ctx}: the token");
        let now = at(v.now);
        // A v1 token of any value: steps 1 to 8 of SPEC.md 6.1 pass.
        serializer
            .loads_at::<Val>(&v.token, now)
            .unwrap_or_else(|e| panic!("{ctx}: not a v1 token of any value: {e}"));
        // As a session: refused, the envelope does not load.
        for result in [
            policy.open_session_at::<Val>(&v.token, now).map(|_| ()),
            policy
                .open_session_at::<serde_json::Value>(&v.token, now)
                .map(|_| ()),
            serializer
                .loads_at::<Envelope<serde_json::Value>>(&v.token, now)
                .map(|_| ()),
        ] {
            assert!(matches!(result, Err(Error::Payload)), "{ctx}: {result:?}");
        }
        checked += 1;
    }
    assert_eq!(checked, INVALID_ENVELOPES);
}

#[test]
fn accepted_envelopes_open_whatever_their_encoding() {
    let file = vectors();
    assert_eq!(
        file.accepted_envelopes.len(),
        ACCEPTED_ENVELOPES,
        "number of accepted_envelopes"
    );
    let mut checked = 0;
    for v in &file.accepted_envelopes {
        let ctx = format!("{} ({})", v.name, v.note);
        assert_eq!(
            v.now, v.issued_at,
            "{ctx}: SPEC.md 10.7 has now = issued_at"
        );
        let policy = opening_policy(&v.secret_hex, &v.salt_text, v.max_age);
        let serializer = policy.serializer();
        let payload = hex(&v.payload_msgpack_hex);
        let token = serializer
            .seal_bytes_with(&payload, &nonce(&v.nonce_hex), v.issued_at)
            .unwrap();
        assert_eq!(token, v.token, "{ctx}: the token");
        let id = session_id(&v.session_id_hex);
        // Not the canonical form: the crate would write other bytes.
        let canonical = rmp_serde::to_vec_named(&EnvelopeRef {
            value: &v.value_json,
            id,
            start: v.start,
        })
        .unwrap();
        assert_ne!(canonical, payload, "{ctx}: a non-canonical envelope");
        let now = at(v.now);
        let opened = policy
            .open_session_at::<Val>(&v.token, now)
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_eq!(opened.value, v.value_json, "{ctx}: the value");
        assert_eq!(opened.id, id, "{ctx}: the session id");
        assert_eq!(opened.start, v.start, "{ctx}: the start");
        let loaded: Envelope<serde_json::Value> = serializer
            .loads_at(&v.token, now)
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_eq!(
            loaded,
            Envelope {
                value: as_json(&v.value_json),
                id,
                start: v.start
            },
            "{ctx}: as serde_json::Value"
        );
        checked += 1;
    }
    assert_eq!(checked, ACCEPTED_ENVELOPES);
}

/// The policy whose lines carry exactly `attributes`, and the `Max-Age` they say. Every
/// attribute of the string must be understood; the caller then checks that the crate's writer
/// reproduces the string (its order included).
fn chunk_policy(v: &ChunkVector, ctx: &str) -> (SessionPolicy, u64) {
    let rest = v
        .attributes
        .strip_prefix("; ")
        .unwrap_or_else(|| panic!("{ctx}: attributes start with '; '"));
    let (mut http_only, mut same_site, mut secure) = (false, None, false);
    let (mut path, mut domain, mut max_age, mut partitioned) = (None, None, None, false);
    for attribute in rest.split("; ") {
        match attribute.split_once('=') {
            None if attribute == "HttpOnly" => http_only = true,
            None if attribute == "Secure" => secure = true,
            None if attribute == "Partitioned" => partitioned = true,
            Some(("SameSite", "Lax")) => same_site = Some(SameSite::Lax),
            Some(("SameSite", "Strict")) => same_site = Some(SameSite::Strict),
            Some(("SameSite", "None")) => same_site = Some(SameSite::None),
            Some(("Path", p)) => path = Some(p.to_owned()),
            Some(("Domain", d)) => domain = Some(d.to_owned()),
            Some(("Max-Age", n)) => max_age = Some(n.parse::<u64>().expect("Max-Age")),
            _ => panic!("{ctx}: an attribute this test does not know: {attribute:?}"),
        }
    }
    assert!(http_only, "{ctx}: every line is HttpOnly (SPEC.md 10.4)");
    let max_age = max_age.unwrap_or_else(|| panic!("{ctx}: no Max-Age"));
    let serializer = TimedSerializer::new(SecretKey::from_bytes(&[0; 32]).unwrap(), "s")
        .max_age(Duration::from_secs(max_age));
    let mut builder = SessionPolicy::builder(serializer)
        .cookie_name(v.cookie_name.as_str())
        .max_chunks(v.max_chunks)
        .same_site(same_site.unwrap_or_else(|| panic!("{ctx}: no SameSite")))
        .path(path.unwrap_or_else(|| panic!("{ctx}: no Path")));
    if !secure {
        builder = builder.insecure_allow_http();
    }
    if let Some(domain) = domain {
        builder = builder.domain(domain);
    }
    if partitioned {
        builder = builder.partitioned();
    }
    let policy = builder
        .build()
        .unwrap_or_else(|e| panic!("{ctx}: the policy: {e}"));
    (policy, max_age)
}

#[test]
fn chunks_are_written_greedily_line_for_line() {
    let file = vectors();
    assert_eq!(file.chunks.len(), CHUNKS, "number of chunks");
    let mut checked = 0;
    for v in &file.chunks {
        let ctx = format!("{} ({})", v.name, v.note);
        let from = file
            .envelopes
            .iter()
            .find(|e| e.name == v.token_from)
            .unwrap_or_else(|| panic!("{ctx}: no envelope {}", v.token_from));
        assert_eq!(v.token, from.token, "{ctx}: the token of {}", v.token_from);
        let (policy, max_age) = chunk_policy(v, &ctx);
        // The crate writes this attribute string, in this order: else the builder cannot
        // produce the vector's lines, and that is reported here rather than faked.
        assert_eq!(
            issue_lines(&policy, "t", max_age, (false, 0)).unwrap(),
            [format!("{}=t{}", v.cookie_name, v.attributes)],
            "{ctx}: the crate's attribute string"
        );
        assert!(
            v.token.len() <= policy.serializer().configured_max_token_len(),
            "{ctx}: the token is within min(65536, 4096 x max_chunks)"
        );
        // The request carried no session cookie: no removal lines.
        let written = issue_lines(&policy, &v.token, max_age, (false, 0));
        match (v.error.as_deref(), &v.set_cookie_lines, &v.line_lengths) {
            (None, Some(lines), Some(lengths)) => {
                let written = written.unwrap_or_else(|e| panic!("{ctx}: {e:?}"));
                assert_eq!(&written, lines, "{ctx}: the lines");
                let got: Vec<usize> = written.iter().map(String::len).collect();
                assert_eq!(&got, lengths, "{ctx}: the line lengths");
                assert!(got.iter().all(|&n| n <= MAX_COOKIE_LEN), "{ctx}");
                // The reader joins what the writer wrote.
                let header: Vec<&str> = written
                    .iter()
                    .map(|l| l.strip_suffix(v.attributes.as_str()).expect(&ctx))
                    .collect();
                let found = RequestCookies::parse(&policy, [header.join("; ").as_bytes()]);
                assert_eq!(
                    found.raw_candidates(),
                    std::slice::from_ref(&v.token),
                    "{ctx}: read back"
                );
            }
            (Some("TooManyChunks"), None, None) => {
                assert_eq!(written, Err(TooManyChunks), "{ctx}");
            }
            (error, lines, lengths) => panic!(
                "{ctx}: a vector this test does not understand: error {error:?}, \
                 set_cookie_lines present {}, line_lengths present {}",
                lines.is_some(),
                lengths.is_some()
            ),
        }
        checked += 1;
    }
    assert_eq!(checked, CHUNKS);
}

#[test]
fn cookie_headers_give_the_candidates_in_order() {
    let file = vectors();
    assert_eq!(
        file.cookie_headers.len(),
        COOKIE_HEADERS,
        "number of cookie_headers"
    );
    let mut checked = 0;
    for v in &file.cookie_headers {
        let ctx = format!("{} ({})", v.name, v.note);
        let serializer = TimedSerializer::new(SecretKey::from_bytes(&[0; 32]).unwrap(), "s")
            .max_age(Duration::from_secs(ENVELOPE_MAX_AGE));
        let policy = SessionPolicy::builder(serializer)
            .cookie_name(v.cookie_name.as_str())
            .max_chunks(v.max_chunks)
            .build()
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        let found = RequestCookies::parse(&policy, [v.cookie_header.as_bytes()]);
        assert_eq!(found.raw_candidates(), v.candidates, "{ctx}");
        checked += 1;
    }
    assert_eq!(checked, COOKIE_HEADERS);
}
