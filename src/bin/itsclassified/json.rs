//! MessagePack payloads as JSON, and back.
//!
//! Most MessagePack values are JSON values: nil, booleans, integers (`u64` and `i64`), finite
//! floats, UTF-8 strings, arrays, and maps whose keys are distinct strings, which become JSON
//! objects in their order. The rest is written as a *tagged object*: a JSON object with exactly
//! one member whose name is one of the four tags below.
//!
//! | MessagePack                         | JSON                                             |
//! |-------------------------------------|--------------------------------------------------|
//! | bin (such as `serde_bytes`)         | `{"$bin": "<base64, standard alphabet, padded>"}` |
//! | map with a non-string key, or a one-entry map whose key is a tag name | `{"$map": [[<key>, <value>], ...]}` |
//! | float NaN, +infinity, -infinity     | `{"$float": "NaN"}`, `"Infinity"`, `"-Infinity"` |
//!
//! What SPEC.md forbids in a payload has no form: [`from_json`] refuses `{"$ext": ...}` (no
//! ext value may be written, §3.1), a `$map` with a key twice (map keys must be distinct,
//! §3.1; keys are the same when their MessagePack encodings are) and, in [`check_integers`], an
//! integer beyond 64 bits (which serde_json would silently turn into a float). [`to_json`]
//! refuses an ext value, and [`Deliverable`] finds a str that is not UTF-8, which a decoder
//! must not deliver (§3.4). A map with a repeated key, which a decoder may deliver (§3.4), is
//! shown as `$map` with every entry, and `dumps` refuses it back.
//!
//! [`to_json`] and [`from_json`] are inverse: `from_json(to_json(v)) == v` for every value both
//! accept, except that 32-bit floats come back as the 64-bit float of the same value (serde
//! reads either into `f32` or `f64`). Plain JSON (no tagged object) becomes exactly the
//! MessagePack that serializing it with serde gives, members in their order, so a JSON object is
//! a map like a serde struct's. Whether a JSON number is an integer or a float is decided by its
//! text: an integer has no fraction and no exponent (`-0` is the integer 0).
//!
//! [`Json`] is our own JSON tree rather than `serde_json::Value`: it keeps the order of object
//! members without serde_json's `preserve_order` feature, which would change `serde_json::Value`
//! for every crate in the build (the library's tests included), and it sees repeated member
//! names, which `serde_json::Value` silently drops.

use std::collections::HashSet;
use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rmpv::Value as Msgpack;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap as _, Serializer};

/// Binary data: `{"$bin": "<base64>"}`.
pub const TAG_BIN: &str = "$bin";
/// MessagePack extension type: reserved, and refused (no payload may hold an ext value).
pub const TAG_EXT: &str = "$ext";
/// A map as a list of key-value pairs: `{"$map": [[1, "a"], [2, "b"]]}`.
pub const TAG_MAP: &str = "$map";
/// A float JSON has no number for: `{"$float": "NaN"}`, `"Infinity"` or `"-Infinity"`.
pub const TAG_FLOAT: &str = "$float";

const TAGS: [&str; 4] = [TAG_BIN, TAG_EXT, TAG_MAP, TAG_FLOAT];

/// The help text that describes the representation, for `--help`.
pub const HELP: &str = "\
JSON form of MessagePack values that JSON cannot hold (a one-member object with a tag name):
  bin (e.g. Vec<u8> with serde_bytes)  {\"$bin\": \"<base64, standard alphabet, padded>\"}
  map with non-string keys             {\"$map\": [[<key>, <value>], ...]}
  NaN, Infinity, -Infinity             {\"$float\": \"NaN\"}, {\"$float\": \"Infinity\"}, ...
A map with one entry whose key is \"$bin\", \"$ext\", \"$map\" or \"$float\" is written with $map.
`loads` prints this form and `dumps` reads it, so a payload survives loads | dumps unchanged
(32-bit floats become 64-bit floats of the same value). Objects keep their order; a struct is a
map from field names, as serde writes it. A number is an integer when its text has no fraction
and no exponent. What SPEC.md forbids in a payload is refused: `dumps` refuses {\"$ext\": ...},
a map with a key twice and integers beyond 64 bits (exit 2); `loads` refuses a payload holding
an ext value or a str that is not UTF-8 (exit 3), and shows a map with a key twice as $map.";

/// A JSON value whose objects keep their members in order, repeated names included.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A non-negative integer.
    U64(u64),
    /// A negative integer (non-negative ones are always [`Json::U64`]).
    I64(i64),
    /// Any other number: finite, since JSON has no other.
    F64(f64),
    /// A string.
    Str(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, members in order.
    Object(Vec<(String, Json)>),
}

impl From<u64> for Json {
    fn from(n: u64) -> Json {
        Json::U64(n)
    }
}

impl From<i64> for Json {
    fn from(n: i64) -> Json {
        match u64::try_from(n) {
            Ok(n) => Json::U64(n),
            Err(_) => Json::I64(n),
        }
    }
}

impl From<&str> for Json {
    fn from(s: &str) -> Json {
        Json::Str(s.to_string())
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::U64(n) => s.serialize_u64(*n),
            Json::I64(n) => s.serialize_i64(*n),
            Json::F64(f) => s.serialize_f64(*f),
            Json::Str(text) => s.serialize_str(text),
            Json::Array(items) => s.collect_seq(items),
            Json::Object(members) => {
                let mut map = s.serialize_map(Some(members.len()))?;
                for (name, value) in members {
                    map.serialize_entry(name, value)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
        Ok(Json::Bool(b))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json, E> {
        Ok(Json::from(n))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json, E> {
        Ok(Json::from(n))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Json, E> {
        Ok(Json::F64(f))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json, E> {
        Ok(Json::from(s))
    }

    fn visit_string<E>(self, s: String) -> Result<Json, E> {
        Ok(Json::Str(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::new();
        while let Some(member) = map.next_entry::<String, Json>()? {
            members.push(member);
        }
        Ok(Json::Object(members))
    }
}

/// Why an authentic payload is not delivered: it holds what SPEC.md 3.4 says a decoder must not
/// deliver as any value.
pub const UNDELIVERABLE: &str = "the authentic payload holds an ext value or a str that is not UTF-8, which no payload may (SPEC.md 3.4)";

/// A MessagePack value as JSON, with tagged objects for what JSON cannot hold; `Err` for an ext
/// value or a str that is not UTF-8 anywhere in it (see [`UNDELIVERABLE`]).
pub fn to_json(value: Msgpack) -> Result<Json, &'static str> {
    Ok(match value {
        Msgpack::Nil => Json::Null,
        Msgpack::Boolean(b) => Json::Bool(b),
        Msgpack::Integer(i) => {
            // An rmpv integer is either a u64 or a negative i64.
            if let Some(u) = i.as_u64() {
                Json::U64(u)
            } else if let Some(n) = i.as_i64() {
                Json::I64(n)
            } else {
                Json::Null
            }
        }
        Msgpack::F32(f) => float_to_json(f64::from(f)),
        Msgpack::F64(f) => float_to_json(f),
        Msgpack::String(s) => Json::Str(s.into_str().ok_or(UNDELIVERABLE)?),
        Msgpack::Binary(bytes) => tagged(TAG_BIN, Json::Str(STANDARD.encode(bytes))),
        Msgpack::Array(items) => {
            Json::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Msgpack::Map(pairs) => map_to_json(pairs)?,
        Msgpack::Ext(..) => return Err(UNDELIVERABLE),
    })
}

fn tagged(tag: &str, value: Json) -> Json {
    Json::Object(vec![(tag.to_string(), value)])
}

fn float_to_json(f: f64) -> Json {
    if f.is_finite() {
        return Json::F64(f);
    }
    let name = if f.is_nan() {
        "NaN"
    } else if f == f64::INFINITY {
        "Infinity"
    } else {
        "-Infinity"
    };
    tagged(TAG_FLOAT, Json::from(name))
}

fn map_to_json(pairs: Vec<(Msgpack, Msgpack)>) -> Result<Json, &'static str> {
    let keys: Option<Vec<&str>> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    let plain = match keys {
        // A one-entry map whose key is a tag name would read back as that tag.
        Some(keys) if keys.len() == 1 => !TAGS.contains(&keys[0]),
        // Repeated keys: only the list form keeps every entry.
        Some(keys) => keys.iter().collect::<HashSet<_>>().len() == keys.len(),
        None => false,
    };
    if !plain {
        let pairs = pairs
            .into_iter()
            .map(|(k, v)| Ok(Json::Array(vec![to_json(k)?, to_json(v)?])))
            .collect::<Result<_, &'static str>>()?;
        return Ok(tagged(TAG_MAP, Json::Array(pairs)));
    }
    let mut members = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        // Checked above: every key is a UTF-8 string.
        if let Msgpack::String(k) = k {
            members.push((k.into_str().ok_or(UNDELIVERABLE)?, to_json(v)?));
        }
    }
    Ok(Json::Object(members))
}

/// The deepest nesting of JSON arrays and objects that the JSON form of a payload can have: a
/// value may sit inside 128 containers (SPEC.md 3.3), each of which may take three levels of
/// JSON (`{"$map": [[key, value]]}`), and a tagged leaf one more. Deeper JSON is refused before
/// it is parsed, so that parsing it (with serde_json's own limit of 128 lifted) cannot exhaust
/// the stack.
pub const MAX_JSON_DEPTH: usize = 3 * (crate::PAYLOAD_MAX_DEPTH + 1) + 1;

/// Why [`check_integers`] refused a JSON text.
#[derive(Debug, PartialEq)]
pub enum ScanError {
    /// An integer beyond 64 bits: the message says so.
    BigInteger(String),
    /// Nested deeper than [`MAX_JSON_DEPTH`]: no payload is that deep.
    TooDeep,
}

/// Refuses an integer of more than 64 bits anywhere in `text` (serde_json reads one as a
/// float) and nesting deeper than [`MAX_JSON_DEPTH`], and gives the text back with every
/// integer `-0` written `0` (serde_json reads `-0` as the float -0.0): whether a number is an
/// integer is decided by its text, and an integer has no sign of zero. Only what lies outside
/// strings is looked at; the rest of the text is left to serde_json, which reads it next.
pub fn check_integers(text: &str) -> Result<std::borrow::Cow<'_, str>, ScanError> {
    let bytes = text.as_bytes();
    let mut minus_zeros = Vec::new();
    let (mut i, mut in_string, mut depth) = (0, false, 0usize);
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Err(ScanError::TooDeep);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if b != b'-' && !b.is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && matches!(bytes[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
        {
            i += 1;
        }
        let number = &text[start..i];
        if number.contains(['.', 'e', 'E']) {
            continue;
        }
        let (negative, digits) = match number.strip_prefix('-') {
            Some(digits) => (true, digits),
            None => (false, number),
        };
        // Leading zeros and stray signs are serde_json's to refuse: only the value counts here.
        let fits = match digits.parse::<u64>() {
            Ok(n) => !negative || n <= 1 << 63,
            Err(_) => !digits.bytes().all(|b| b.is_ascii_digit()) || digits.is_empty(),
        };
        if !fits {
            return Err(ScanError::BigInteger(format!(
                "an integer is beyond 64 bits (a payload holds integers from {} to {}, SPEC.md 3.1)",
                i64::MIN,
                u64::MAX
            )));
        }
        if negative && digits == "0" {
            minus_zeros.push(start);
        }
    }
    if minus_zeros.is_empty() {
        return Ok(std::borrow::Cow::Borrowed(text));
    }
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for at in minus_zeros {
        out.push_str(&text[from..at]);
        from = at + 1;
    }
    out.push_str(&text[from..]);
    Ok(std::borrow::Cow::Owned(out))
}

/// An authentic payload read only to see whether it may be delivered: it refuses an ext value
/// and a str that is not UTF-8, anywhere in the payload (SPEC.md 3.4).
///
/// Loading as `rmpv::Value` cannot tell such a str from bin: rmp-serde hands either to the
/// visitor as bytes. Asked for a sequence (`deserialize_seq`), rmp-serde hands bin over as a
/// sequence of its bytes instead, so bytes reach this visitor only from a str that is not UTF-8,
/// and an ext value as a newtype struct. Both are errors here, which the library reports as
/// `Error::Payload`. tests/cli.rs loads the SPEC.md vectors `invalid-utf8-in-str` and
/// `ext-in-field`, and bin, through this check: if rmp-serde changes, they fail.
pub struct Deliverable;

impl<'de> Deserialize<'de> for Deliverable {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Deliverable, D::Error> {
        d.deserialize_seq(DeliverableVisitor)
    }
}

struct DeliverableVisitor;

impl<'de> Visitor<'de> for DeliverableVisitor {
    type Value = Deliverable;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a MessagePack value without ext values or a str that is not UTF-8")
    }

    // Bytes (a str that is not UTF-8) and newtype structs (ext) take serde's default: an error.

    fn visit_unit<E>(self) -> Result<Deliverable, E> {
        Ok(Deliverable)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Deliverable, E> {
        Ok(Deliverable)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Deliverable, E> {
        Ok(Deliverable)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Deliverable, E> {
        Ok(Deliverable)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Deliverable, E> {
        Ok(Deliverable)
    }

    fn visit_str<E>(self, _: &str) -> Result<Deliverable, E> {
        Ok(Deliverable)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Deliverable, A::Error> {
        while seq.next_element::<Deliverable>()?.is_some() {}
        Ok(Deliverable)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Deliverable, A::Error> {
        while map.next_entry::<Deliverable, Deliverable>()?.is_some() {}
        Ok(Deliverable)
    }
}

/// JSON as a MessagePack value, reading tagged objects. Errors are fixed text about the tag and
/// never quote the input.
pub fn from_json(value: Json) -> Result<Msgpack, String> {
    Ok(match value {
        Json::Null => Msgpack::Nil,
        Json::Bool(b) => Msgpack::Boolean(b),
        Json::U64(n) => Msgpack::from(n),
        Json::I64(n) => Msgpack::from(n),
        Json::F64(f) => Msgpack::F64(f),
        Json::Str(s) => Msgpack::String(s.into()),
        Json::Array(items) => {
            Msgpack::Array(items.into_iter().map(from_json).collect::<Result<_, _>>()?)
        }
        Json::Object(mut members) => {
            if members.len() == 1 && TAGS.contains(&members[0].0.as_str()) {
                if let Some((name, inner)) = members.pop() {
                    return tag_from_json(&name, inner);
                }
            }
            let distinct = members
                .iter()
                .map(|(name, _)| name)
                .collect::<HashSet<_>>()
                .len();
            if distinct != members.len() {
                return Err(format!(
                    "an object has the same member name twice (write a map with repeated keys as {{\"{TAG_MAP}\": [[key, value], ...]}})"
                ));
            }
            Msgpack::Map(
                members
                    .into_iter()
                    .map(|(k, v)| Ok((Msgpack::String(k.into()), from_json(v)?)))
                    .collect::<Result<_, String>>()?,
            )
        }
    })
}

fn base64_from_json(tag: &str, value: &Json) -> Result<Vec<u8>, String> {
    let err = || format!("{tag}: expected a base64 string (standard alphabet, padded)");
    match value {
        Json::Str(text) => STANDARD.decode(text).map_err(|_| err()),
        _ => Err(err()),
    }
}

/// The message for `{"$ext": ...}`: the tag is kept reserved, so that a payload with an ext value
/// printed by an older release is refused rather than read as a plain map.
pub const EXT_REFUSED: &str = "$ext: a token's payload cannot hold an ext value (SPEC.md 3.1)";

/// The message for a `$map` with a key twice.
pub const REPEATED_KEY: &str =
    "$map: a map has the same key twice, and a token's map keys must be distinct (SPEC.md 3.1)";

fn tag_from_json(tag: &str, inner: Json) -> Result<Msgpack, String> {
    match tag {
        TAG_BIN => Ok(Msgpack::Binary(base64_from_json(tag, &inner)?)),
        TAG_EXT => Err(EXT_REFUSED.to_string()),
        TAG_MAP => {
            let err = || format!("{TAG_MAP}: expected a list of [key, value] pairs");
            let Json::Array(pairs) = inner else {
                return Err(err());
            };
            let pairs = pairs
                .into_iter()
                .map(|pair| match pair {
                    Json::Array(kv) if kv.len() == 2 => {
                        let mut kv = kv.into_iter();
                        let key = from_json(kv.next().unwrap_or(Json::Null))?;
                        let value = from_json(kv.next().unwrap_or(Json::Null))?;
                        Ok((key, value))
                    }
                    _ => Err(err()),
                })
                .collect::<Result<Vec<_>, String>>()?;
            let mut seen = HashSet::new();
            for (key, _) in &pairs {
                // Keys are the same when their encodings are: the canonical form has one
                // encoding a value, and this program writes only that.
                let mut encoded = Vec::new();
                rmpv::encode::write_value(&mut encoded, key).map_err(|_| err())?;
                if !seen.insert(encoded) {
                    return Err(REPEATED_KEY.to_string());
                }
            }
            Ok(Msgpack::Map(pairs))
        }
        TAG_FLOAT => match &inner {
            Json::Str(name) if name == "NaN" => Ok(Msgpack::F64(f64::NAN)),
            Json::Str(name) if name == "Infinity" => Ok(Msgpack::F64(f64::INFINITY)),
            Json::Str(name) if name == "-Infinity" => Ok(Msgpack::F64(f64::NEG_INFINITY)),
            _ => Err(format!(
                "{TAG_FLOAT}: expected \"NaN\", \"Infinity\" or \"-Infinity\" (write finite numbers as plain JSON numbers)"
            )),
        },
        _ => Err(format!("unknown tag {tag}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encoded(value: &Msgpack) -> Vec<u8> {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, value).unwrap();
        out
    }

    /// What `from_json(to_json(v))` must give: `v` with 32-bit floats widened.
    fn widened(value: &Msgpack) -> Msgpack {
        match value {
            Msgpack::F32(f) => Msgpack::F64(f64::from(*f)),
            Msgpack::Array(items) => Msgpack::Array(items.iter().map(widened).collect()),
            Msgpack::Map(pairs) => Msgpack::Map(
                pairs
                    .iter()
                    .map(|(k, v)| (widened(k), widened(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn text(value: &Json) -> String {
        serde_json::to_string(value).unwrap()
    }

    fn parse(text: &str) -> Json {
        serde_json::from_str(text).unwrap()
    }

    /// Through JSON text and back, as `loads | dumps` does.
    fn round_trip(value: &Msgpack) -> Msgpack {
        let text = serde_json::to_string_pretty(&to_json(value.clone()).unwrap()).unwrap();
        from_json(parse(&text)).unwrap()
    }

    #[test]
    fn json_text_keeps_member_order_and_repeats() {
        let json = parse(r#"{"b": 1, "a": [true, null, -2, 2.5, "x"], "b": {}}"#);
        assert_eq!(
            json,
            Json::Object(vec![
                ("b".into(), Json::U64(1)),
                (
                    "a".into(),
                    Json::Array(vec![
                        Json::Bool(true),
                        Json::Null,
                        Json::I64(-2),
                        Json::F64(2.5),
                        Json::from("x"),
                    ])
                ),
                ("b".into(), Json::Object(vec![])),
            ])
        );
        assert_eq!(text(&json), r#"{"b":1,"a":[true,null,-2,2.5,"x"],"b":{}}"#);
    }

    #[test]
    fn plain_values_are_plain_json() {
        let value = Msgpack::Map(vec![
            ("user_id".into(), "123".into()),
            ("role".into(), "admin".into()),
            ("n".into(), Msgpack::from(-5)),
            ("big".into(), Msgpack::from(u64::MAX)),
            ("small".into(), Msgpack::from(i64::MIN)),
            ("f".into(), Msgpack::F64(1.5)),
            (
                "list".into(),
                Msgpack::Array(vec![Msgpack::Nil, true.into()]),
            ),
        ]);
        assert_eq!(
            text(&to_json(value).unwrap()),
            r#"{"user_id":"123","role":"admin","n":-5,"big":18446744073709551615,"small":-9223372036854775808,"f":1.5,"list":[null,true]}"#
        );
    }

    #[test]
    fn non_json_values_are_tagged() {
        let cases = [
            (
                Msgpack::Binary(vec![0, 1, 2, 255]),
                r#"{"$bin":"AAEC/w=="}"#,
            ),
            (
                Msgpack::Map(vec![(1.into(), "a".into()), (2.into(), "b".into())]),
                r#"{"$map":[[1,"a"],[2,"b"]]}"#,
            ),
            (
                Msgpack::Map(vec![("k".into(), 1.into()), ("k".into(), 2.into())]),
                r#"{"$map":[["k",1],["k",2]]}"#,
            ),
            (
                Msgpack::Map(vec![("$bin".into(), "x".into())]),
                r#"{"$map":[["$bin","x"]]}"#,
            ),
            // A tag name among other keys is no tag.
            (
                Msgpack::Map(vec![("$bin".into(), "x".into()), ("y".into(), 1.into())]),
                r#"{"$bin":"x","y":1}"#,
            ),
            (Msgpack::F64(f64::NAN), r#"{"$float":"NaN"}"#),
            (Msgpack::F32(f32::INFINITY), r#"{"$float":"Infinity"}"#),
            (Msgpack::F64(f64::NEG_INFINITY), r#"{"$float":"-Infinity"}"#),
        ];
        for (value, expected) in cases {
            assert_eq!(text(&to_json(value).unwrap()), expected);
        }
    }

    #[test]
    fn ext_values_and_strs_that_are_not_utf8_are_not_delivered() {
        let not_utf8 = rmpv::decode::read_value(&mut &[0xa2, 0xff, 0xfe][..]).unwrap();
        assert!(matches!(&not_utf8, Msgpack::String(s) if !s.is_str()));
        for value in [
            Msgpack::Ext(-1, vec![1, 2]),
            Msgpack::Array(vec![1.into(), Msgpack::Ext(5, vec![])]),
            Msgpack::Map(vec![("k".into(), Msgpack::Ext(5, vec![]))]),
            Msgpack::Map(vec![(Msgpack::Ext(5, vec![]), 1.into())]),
            not_utf8.clone(),
            Msgpack::Map(vec![("k".into(), not_utf8.clone())]),
            Msgpack::Map(vec![(not_utf8, 1.into())]),
        ] {
            assert_eq!(to_json(value.clone()), Err(UNDELIVERABLE), "{value:?}");
        }
    }

    /// Runs [`Deliverable`] on MessagePack bytes through rmp-serde, as the library does.
    fn deliverable(bytes: &[u8]) -> bool {
        let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
        Deliverable::deserialize(&mut de).is_ok()
    }

    #[test]
    fn deliverable_tells_a_str_that_is_not_utf8_from_bin() {
        // bin 8 [ff fe], str 8 [ff fe], fixstr "ab", bin inside an array and a map.
        assert!(deliverable(&[0xc4, 2, 0xff, 0xfe]));
        assert!(!deliverable(&[0xd9, 2, 0xff, 0xfe]));
        assert!(!deliverable(&[0xa2, 0xff, 0xfe]));
        assert!(deliverable(&[0xa2, b'a', b'b']));
        assert!(deliverable(&[0x91, 0xc4, 1, 0xff]));
        assert!(!deliverable(&[0x92, 1, 0xa1, 0xff]));
        assert!(deliverable(&[0x81, 0xc4, 1, 0xff, 0xc4, 1, 0xff]));
        assert!(!deliverable(&[0x81, 0xa1, 0x80, 1]));
        // fixext 1 (type 5) alone, in an array, as a map value.
        assert!(!deliverable(&[0xd4, 5, 0x2a]));
        assert!(!deliverable(&[0x91, 0xd4, 5, 0x2a]));
        assert!(!deliverable(&[0x81, 0xa1, b'k', 0xc7, 1, 5, 0x2a]));
        // The refusal says what was expected (rmp-serde replaces it by its own UTF-8 error for a
        // str, and keeps it for ext).
        let mut de = rmp_serde::Deserializer::from_read_ref(&[0xd4, 5, 0x2a][..]);
        let err = Deliverable::deserialize(&mut de).err().unwrap().to_string();
        assert!(err.contains("without ext values"), "{err}");
        // Everything else of the data model.
        assert!(deliverable(&[
            0x99, 0xc0, 0xc3, 0xcc, 200, 0xd0, 0x80, 0xca, 0, 0, 0, 0, 0xcb, 0, 0, 0, 0, 0, 0, 0,
            0, 0xa0, 0x90, 0x80
        ]));
    }

    #[test]
    fn integers_beyond_64_bits_are_refused_and_minus_zero_is_an_integer() {
        for ok in [
            "18446744073709551615",
            "-9223372036854775808",
            "[0, -1, 1e300, -1.5e-7, 1.0]",
            r#"{"a": "99999999999999999999999", "b\"99999999999999999999": 1}"#,
            // Not numbers JSON has: serde_json refuses them next, with its own message.
            "[-]",
            "[1-2]",
            "[--1]",
        ] {
            assert_eq!(check_integers(ok).as_deref(), Ok(ok), "{ok}");
        }
        for bad in [
            "18446744073709551616",
            "-9223372036854775809",
            r#"{"a": [1, 2, 340282366920938463463374607431768211455]}"#,
            r#"{"a\\": -99999999999999999999}"#,
        ] {
            let Err(ScanError::BigInteger(err)) = check_integers(bad) else {
                panic!("{bad}");
            };
            assert!(
                err.starts_with("an integer is beyond 64 bits"),
                "{bad}: {err}"
            );
        }
        assert_eq!(
            check_integers(r#"[-0, -0.0, "-0", -0e1, {"-0": -0}]"#).as_deref(),
            Ok(r#"[0, -0.0, "-0", -0e1, {"-0": 0}]"#)
        );
    }

    #[test]
    fn json_deeper_than_any_payload_is_refused_before_it_is_parsed() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(check_integers(&nested(MAX_JSON_DEPTH)).is_ok());
        assert_eq!(
            check_integers(&nested(MAX_JSON_DEPTH + 1)),
            Err(ScanError::TooDeep)
        );
        assert_eq!(
            check_integers(&"{\"a\":".repeat(100_000)),
            Err(ScanError::TooDeep)
        );
        // The bound in figures: 3 levels for each of 129 containers (128 around a value, and
        // the value's own), and one for a tagged leaf.
        assert!(check_integers(&nested(388)).is_ok());
        assert_eq!(check_integers(&nested(389)), Err(ScanError::TooDeep));
        // Depth, not count: a closing bracket ends a level, so many siblings are shallow.
        let siblings = format!("[{}[]]", "[],".repeat(1000));
        assert!(check_integers(&siblings).is_ok());
        let objects = format!("[{}{{}}]", "{},".repeat(1000));
        assert!(check_integers(&objects).is_ok());
        // Brackets in strings do not count.
        let text = format!("[\"{}\"]", "[".repeat(1000));
        assert!(check_integers(&text).is_ok());
        // The deepest JSON form: 128 maps with non-text keys around a bin, each map three
        // levels of JSON, the bin one more, the outermost map itself at depth 0.
        let mut deepest = Msgpack::Binary(vec![1]);
        for _ in 0..128 {
            deepest = Msgpack::Map(vec![(Msgpack::Nil, deepest)]);
        }
        let text = serde_json::to_string(&to_json(deepest).unwrap()).unwrap();
        assert_eq!(
            text.bytes().filter(|&b| b == b'[' || b == b'{').count(),
            3 * 128 + 1
        );
        assert!(check_integers(&text).is_ok());
    }

    #[test]
    fn what_a_payload_cannot_hold_is_refused_by_dumps() {
        for (input, expected) in [
            (r#"{"$ext": {"type": 5, "data": "AQI="}}"#, EXT_REFUSED),
            (r#"[{"$ext": 1}]"#, EXT_REFUSED),
            (r#"{"$map": [["k", 1], ["k", 2]]}"#, REPEATED_KEY),
            (r#"{"$map": [[1, 1], [1, 2]]}"#, REPEATED_KEY),
            (r#"{"$map": [[-1, 1], [-1, 2]]}"#, REPEATED_KEY),
            (
                r#"{"$map": [[[1, {"a": 2}], 1], [[1, {"a": 2}], 2]]}"#,
                REPEATED_KEY,
            ),
            (
                r#"{"$map": [[{"$float": "NaN"}, 1], [{"$float": "NaN"}, 2]]}"#,
                REPEATED_KEY,
            ),
        ] {
            assert_eq!(
                from_json(parse(input)),
                Err(expected.to_string()),
                "{input}"
            );
        }
        // Distinct keys: an integer and a float of the same value, 0.0 and -0.0, "1" and 1.
        for input in [
            r#"{"$map": [[1, 1], [1.0, 2]]}"#,
            r#"{"$map": [[0.0, 1], [-0.0, 2]]}"#,
            r#"{"$map": [["1", 1], [1, 2]]}"#,
        ] {
            assert!(from_json(parse(input)).is_ok(), "{input}");
        }
    }

    #[test]
    fn tagged_objects_read_back() {
        let value = Msgpack::Array(vec![
            Msgpack::Binary(vec![]),
            Msgpack::Binary(vec![7; 100]),
            Msgpack::Map(vec![]),
            Msgpack::Map(vec![(
                Msgpack::Nil,
                Msgpack::Map(vec![("$map".into(), 1.into())]),
            )]),
            Msgpack::F64(f64::INFINITY),
            Msgpack::F64(f64::NEG_INFINITY),
            Msgpack::F32(0.1),
        ]);
        assert_eq!(encoded(&round_trip(&value)), encoded(&widened(&value)));
        let nan = round_trip(&Msgpack::F64(f64::NAN));
        assert!(matches!(nan, Msgpack::F64(f) if f.is_nan()));
    }

    #[test]
    fn floats_survive_json_text_exactly() {
        // A subnormal f32 widened to f64 needs serde_json's `float_roundtrip` to parse back to
        // the same bits.
        for f in [6.194_731e-39_f32, f32::MIN_POSITIVE, f32::MAX, 0.1, -0.0] {
            let value = Msgpack::F32(f);
            assert_eq!(
                encoded(&round_trip(&value)),
                encoded(&widened(&value)),
                "{f:e}"
            );
        }
        for f in [f64::MIN_POSITIVE, 5e-324, f64::MAX, 0.1, 1e300, -0.0] {
            let value = Msgpack::F64(f);
            assert_eq!(encoded(&round_trip(&value)), encoded(&value), "{f:e}");
        }
    }

    #[test]
    fn bad_json_payloads_are_refused() {
        for (input, expected) in [
            (r#"{"$bin": 5}"#, "$bin: expected a base64 string"),
            (r#"{"$bin": "AAEC/w"}"#, "$bin: expected a base64 string"),
            (r#"{"$bin": "AAEC_w=="}"#, "$bin: expected a base64 string"),
            (r#"{"$map": {"a": 1}}"#, "$map: expected a list"),
            (r#"{"$map": [[1]]}"#, "$map: expected a list"),
            (r#"{"$map": [[1, 2, 3]]}"#, "$map: expected a list"),
            (r#"{"$map": [[{"$bin": 1}, 2]]}"#, "$bin: expected"),
            (r#"{"$float": 1.5}"#, "$float: expected"),
            (r#"{"$float": "nan"}"#, "$float: expected"),
            (r#"[{"ok": {"$float": "inf"}}]"#, "$float: expected"),
            (
                r#"{"a": 1, "a": 2}"#,
                "an object has the same member name twice",
            ),
            (
                r#"[{"x": {"a": 1, "b": 2, "a": 3}}]"#,
                "an object has the same member name twice",
            ),
        ] {
            let err = from_json(parse(input)).expect_err(input);
            assert!(err.starts_with(expected), "{input}: {err}");
        }
    }

    #[test]
    fn other_dollar_keys_are_plain() {
        assert_eq!(
            from_json(parse(r#"{"$set": {"a": 1}}"#)).unwrap(),
            Msgpack::Map(vec![(
                "$set".into(),
                Msgpack::Map(vec![("a".into(), 1.into())])
            )])
        );
    }

    fn has_ext(value: &Msgpack) -> bool {
        match value {
            Msgpack::Ext(..) => true,
            Msgpack::Array(items) => items.iter().any(has_ext),
            Msgpack::Map(pairs) => pairs.iter().any(|(k, v)| has_ext(k) || has_ext(v)),
            _ => false,
        }
    }

    fn has_repeated_keys(value: &Msgpack) -> bool {
        match value {
            Msgpack::Array(items) => items.iter().any(has_repeated_keys),
            Msgpack::Map(pairs) => {
                let mut seen = HashSet::new();
                pairs.iter().any(|(k, v)| {
                    !seen.insert(encoded(k)) || has_repeated_keys(k) || has_repeated_keys(v)
                })
            }
            _ => false,
        }
    }

    fn msgpack() -> impl Strategy<Value = Msgpack> {
        let leaf = prop_oneof![
            Just(Msgpack::Nil),
            any::<bool>().prop_map(Msgpack::Boolean),
            any::<u64>().prop_map(Msgpack::from),
            any::<i64>().prop_map(Msgpack::from),
            any::<f32>().prop_map(Msgpack::F32),
            any::<f64>().prop_map(|f| Msgpack::F64(if f.is_nan() { f64::NAN } else { f })),
            ".{0,8}".prop_map(|s| Msgpack::String(s.into())),
            prop::sample::select(TAGS.to_vec()).prop_map(|s| Msgpack::String(s.into())),
            prop::collection::vec(any::<u8>(), 0..16).prop_map(Msgpack::Binary),
            (any::<i8>(), prop::collection::vec(any::<u8>(), 0..16))
                .prop_map(|(t, d)| Msgpack::Ext(t, d)),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Msgpack::Array),
                prop::collection::vec((inner.clone(), inner.clone()), 0..4).prop_map(Msgpack::Map),
                // Maps with string keys, some repeated or tag names.
                prop::collection::vec(
                    (
                        prop_oneof![
                            "[a-c$]{0,4}".prop_map(String::from),
                            prop::sample::select(TAGS.to_vec()).prop_map(String::from),
                        ],
                        inner
                    ),
                    0..4
                )
                .prop_map(|pairs| Msgpack::Map(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (Msgpack::String(k.into()), v))
                        .collect()
                )),
            ]
        })
    }

    /// JSON without tagged objects and without repeated member names.
    fn plain_json() -> impl Strategy<Value = Json> {
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            any::<u64>().prop_map(Json::from),
            any::<i64>().prop_map(Json::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Json::F64),
            ".{0,8}".prop_map(Json::Str),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
                prop::collection::vec(("[a-z$]{0,6}", inner), 0..5).prop_map(|members| {
                    let mut seen = HashSet::new();
                    Json::Object(
                        members
                            .into_iter()
                            .filter(|(name, _)| seen.insert(name.clone()))
                            .collect(),
                    )
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn every_value_a_payload_may_hold_survives_json_text(value in msgpack()) {
            // What SPEC.md forbids is refused on the way out (ext) or back in (repeated keys);
            // everything else comes back as it was.
            match to_json(value.clone()) {
                Err(e) => prop_assert!(has_ext(&value), "{}", e),
                Ok(json) => {
                    prop_assert!(!has_ext(&value));
                    let text = serde_json::to_string_pretty(&json).unwrap();
                    let repeated = has_repeated_keys(&widened(&value));
                    match from_json(parse(&text)) {
                        Err(e) => prop_assert!(repeated && e == REPEATED_KEY, "{}", e),
                        Ok(back) => {
                            prop_assert!(!repeated);
                            prop_assert_eq!(encoded(&back), encoded(&widened(&value)));
                        }
                    }
                }
            }
        }

        #[test]
        fn plain_json_becomes_what_serde_writes(value in plain_json()) {
            let msgpack = from_json(value.clone()).unwrap();
            prop_assert_eq!(
                rmp_serde::to_vec_named(&msgpack).unwrap(),
                rmp_serde::to_vec_named(&value).unwrap()
            );
            prop_assert_eq!(to_json(msgpack), Ok(value.clone()));
            // And through JSON text.
            prop_assert_eq!(parse(&text(&value)), value);
        }
    }
}
