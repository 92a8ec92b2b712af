//! Authenticated but hostile plaintexts: what a holder of the key (or a bug in a peer
//! implementation) could seal. None may panic, overflow the stack or allocate without bound.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, UNIX_EPOCH};

use itsclassified::{hazmat, Error, SecretKey, TimedSerializer};
use serde::de::DeserializeOwned;
use serde::Deserialize;

const T0: u64 = 1_700_000_000;

#[derive(Deserialize, Debug)]
#[allow(dead_code)]
struct Session {
    user_id: String,
    role: String,
}

fn serializer() -> TimedSerializer {
    TimedSerializer::new(SecretKey::from_bytes(&[42; 32]).unwrap(), "hostile")
        .max_age(Duration::from_secs(60))
        .max_token_len(TimedSerializer::MAX_TOKEN_LEN_LIMIT)
}

fn load<T: DeserializeOwned>(plaintext: &[u8]) -> Result<T, Error> {
    let s = serializer();
    let token = hazmat::seal_bytes_with_nonce(&s, plaintext, [7; 24], T0).unwrap();
    s.loads_at::<T>(&token, UNIX_EPOCH + Duration::from_secs(T0))
}

/// Loads `plaintext` into every target type; returns how many accepted it.
fn load_all(plaintext: &[u8]) -> usize {
    [
        load::<Session>(plaintext).is_ok(),
        load::<serde_json::Value>(plaintext).is_ok(),
        load::<Vec<String>>(plaintext).is_ok(),
        load::<Vec<serde_json::Value>>(plaintext).is_ok(),
        load::<HashMap<String, Vec<u8>>>(plaintext).is_ok(),
        load::<BTreeMap<u64, String>>(plaintext).is_ok(),
        load::<Option<Vec<Vec<u8>>>>(plaintext).is_ok(),
        load::<String>(plaintext).is_ok(),
        load::<(u8, u16, u32)>(plaintext).is_ok(),
    ]
    .iter()
    .filter(|ok| **ok)
    .count()
}

fn assert_refused(name: &str, plaintext: &[u8]) {
    assert_eq!(load_all(plaintext), 0, "{name} was accepted by some type");
    assert!(
        matches!(load::<serde_json::Value>(plaintext), Err(Error::Payload)),
        "{name}"
    );
}

#[test]
fn absurd_length_prefixes() {
    let cases: &[(&str, &[u8])] = &[
        ("str32", &[0xdb, 0xff, 0xff, 0xff, 0xff, b'a']),
        ("str16", &[0xda, 0xff, 0xff, b'a']),
        ("bin32", &[0xc6, 0xff, 0xff, 0xff, 0xff, 1]),
        ("array32", &[0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0]),
        ("map32", &[0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, b'k', 0xc0]),
        ("ext32", &[0xc9, 0xff, 0xff, 0xff, 0xff, 1, 0]),
        ("array16 short", &[0xdc, 0x00, 0x05, 0xc0, 0xc0]),
        (
            "nested array32",
            &[0x91, 0xdd, 0x7f, 0xff, 0xff, 0xff, 0xc0],
        ),
    ];
    for (name, plaintext) in cases {
        assert_refused(name, plaintext);
    }
}

#[test]
fn malformed_values() {
    let cases: &[(&str, &[u8])] = &[
        ("empty", &[]),
        ("reserved", &[0xc1]),
        ("truncated u64", &[0xcf, 1, 2, 3]),
        ("truncated float", &[0xcb, 0]),
        ("map missing value", &[0x81, 0xa1, b'k']),
        ("trailing nil", &[0xc0, 0xc0]),
        ("trailing garbage", &[0x90, 0xff, 0xff]),
        ("invalid utf-8 in str", &[0xa2, 0xff, 0xfe]),
        ("str key to int map", &[0x81, 0xa1, b'k', 0x01]),
    ];
    for (name, plaintext) in cases {
        let accepted = load_all(plaintext);
        // Some of these are well-framed values that a lax type may take (invalid UTF-8 as
        // bytes); the framing errors must be refused by every type.
        if name.starts_with("invalid utf-8") || name.starts_with("str key") {
            assert!(
                matches!(load::<String>(plaintext), Err(Error::Payload)),
                "{name}"
            );
        } else {
            assert_eq!(accepted, 0, "{name}");
        }
    }
}

#[test]
fn deep_nesting_is_refused_before_serde_recurses() {
    for depth in [129usize, 1_000, 10_000] {
        let mut arrays = vec![0x91u8; depth];
        arrays.push(0xc0);
        assert_refused(&format!("arrays {depth}"), &arrays);
        let mut maps = Vec::new();
        for _ in 0..depth {
            maps.extend_from_slice(&[0x81, 0xa1, b'k']);
        }
        maps.push(0xc0);
        assert_refused(&format!("maps {depth}"), &maps);
    }
}

/// A recursive enum: rmp-serde does not count enum nesting against its own depth limit, so
/// without the crate's framing check a deep enough payload would overflow the stack.
#[derive(Deserialize, Debug)]
#[allow(dead_code)]
enum Expr {
    Lit(i64),
    Neg(Box<Expr>),
}

#[test]
fn deep_enum_nesting_is_refused() {
    for depth in [129usize, 9_000] {
        let mut plaintext = Vec::new();
        for _ in 0..depth {
            plaintext.extend_from_slice(&[0x81, 0xa3, b'N', b'e', b'g']);
        }
        plaintext.extend_from_slice(&[0x81, 0xa3, b'L', b'i', b't', 0x01]);
        assert!(
            matches!(load::<Expr>(&plaintext), Err(Error::Payload)),
            "depth {depth}"
        );
    }
    // Within the limit it loads.
    let mut plaintext = Vec::new();
    for _ in 0..100 {
        plaintext.extend_from_slice(&[0x81, 0xa3, b'N', b'e', b'g']);
    }
    plaintext.extend_from_slice(&[0x81, 0xa3, b'L', b'i', b't', 0x01]);
    assert!(load::<Expr>(&plaintext).is_ok());
}

/// A type whose deserialization can recurse without consuming input: rmp-serde's
/// `deserialize_option` re-reads the same non-nil marker at every level.
#[derive(Deserialize, Debug)]
#[allow(dead_code)]
struct Rec(Option<Box<Rec>>);

#[test]
fn recursion_that_consumes_no_input_is_refused() {
    // The one-byte authentic plaintext [0x01] once overflowed the stack (a process abort) when
    // loaded as Rec. Run on a small stack so that a regression fails here, loudly.
    std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(|| {
            for plaintext in [&[0x01u8][..], &[0x91, 0x01], &[0xa1, b'x']] {
                assert!(
                    matches!(load::<Rec>(plaintext), Err(Error::Payload)),
                    "{plaintext:?}"
                );
            }
            assert!(load::<Rec>(&[0xc0]).is_ok());
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn the_deepest_accepted_payload_fits_a_small_stack() {
    let mut arrays = vec![0x91u8; 128];
    arrays.push(0xc0);
    // A 640 KiB stack, under a third of the 2 MiB that std and tokio give a thread, in a debug
    // build (the depth-counting adapter of src/depth.rs took it from 512 KiB).
    std::thread::Builder::new()
        .stack_size(640 * 1024)
        .spawn(move || {
            let value = load::<serde_json::Value>(&arrays).expect("depth 128 is accepted");
            let mut depth = 0;
            let mut v = &value;
            while let Some(inner) = v.as_array().and_then(|a| a.first()) {
                depth += 1;
                v = inner;
            }
            assert_eq!(depth, 128);
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn many_small_elements_stay_bounded() {
    // The largest plaintext a token can carry, as one array of nils: memory use is bounded by
    // the token length times the size of the element type.
    let n: usize = 40_000;
    let mut plaintext = vec![0xdd];
    plaintext.extend_from_slice(&(n as u32).to_be_bytes());
    plaintext.extend(std::iter::repeat_n(0xc0, n));
    let v = load::<Vec<Option<u8>>>(&plaintext).unwrap();
    assert_eq!(v.len(), n);
    assert!(matches!(
        load::<Vec<String>>(&plaintext),
        Err(Error::Payload)
    ));
}

#[test]
fn ext_and_binary_into_dynamic_values() {
    // fixext 4 and bin 8 are well-framed; a dynamic value either takes them or refuses them
    // with Error::Payload, never anything else.
    for plaintext in [&[0xd6u8, 1, 0, 0, 0, 0][..], &[0xc4, 2, 0xff, 0x00]] {
        match load::<serde_json::Value>(plaintext) {
            Ok(_) | Err(Error::Payload) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
}

#[test]
fn an_issued_at_the_platform_cannot_represent_is_not_replaced_by_now() {
    // Only reachable with an absurd leeway (a token from the year 584 billion is "within the
    // leeway"); the metadata must not silently say "now" instead.
    let s = TimedSerializer::new(SecretKey::from_bytes(&[42; 32]).unwrap(), "hostile")
        .no_expiry()
        .leeway(Duration::from_secs(u64::MAX));
    let token = hazmat::seal_value_with_nonce(&s, &1u8, [7; 24], u64::MAX).unwrap();
    let now = UNIX_EPOCH + Duration::from_secs(T0);
    match s.loads_with_meta_at::<u8>(&token, now) {
        Err(Error::TimeOutOfRange) => {}
        Ok(loaded) => assert_ne!(loaded.meta.issued_at, now),
        Err(e) => panic!("{e:?}"),
    }
}

// --- serde's buffered paths: untagged, internally and adjacently tagged, flatten -------------

/// `Rec` behind each of serde's buffering shapes, with the hostile value at `r`.
mod buffered {
    use super::Rec;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(untagged)]
    #[allow(dead_code)]
    pub enum Untagged {
        R(Rec),
    }

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    pub struct Inner {
        pub r: Rec,
    }

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    pub struct Flattened {
        #[serde(flatten)]
        pub inner: Inner,
    }

    #[derive(Deserialize, Debug)]
    #[serde(tag = "t")]
    #[allow(dead_code)]
    pub enum Internal {
        V { r: Rec },
    }

    #[derive(Deserialize, Debug)]
    #[serde(tag = "t", content = "c")]
    #[allow(dead_code)]
    pub enum Adjacent {
        V(Rec),
    }
}

/// MessagePack of a map of text keys to small values (`Some(v)` = fixint, `None` = nil).
fn map_of(entries: &[(&str, MapValue)]) -> Vec<u8> {
    let mut out = vec![0x80 | entries.len() as u8];
    for (key, value) in entries {
        out.push(0xa0 | key.len() as u8);
        out.extend_from_slice(key.as_bytes());
        match value {
            MapValue::Int(n) => out.push(*n),
            MapValue::Text(t) => {
                out.push(0xa0 | t.len() as u8);
                out.extend_from_slice(t.as_bytes());
            }
        }
    }
    out
}

enum MapValue {
    Int(u8),
    Text(&'static str),
}

/// Runs `f` on a small stack, so that a regression overflows it here, loudly.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn an_untagged_enum_cannot_replay_a_value_into_endless_recursion() {
    // Without the refusal: serde buffers `01`, then hands it to Rec through its own private
    // deserializer, whose deserialize_option gives the same value back for ever (an abort).
    on_small_stack(|| {
        for plaintext in [&[0x01u8][..], &[0x91, 0x01], &[0xc0]] {
            assert!(
                matches!(load::<buffered::Untagged>(plaintext), Err(Error::Payload)),
                "{plaintext:?}"
            );
        }
    });
}

#[test]
fn a_flattened_field_cannot_replay_a_value_into_endless_recursion() {
    on_small_stack(|| {
        let plaintext = map_of(&[("r", MapValue::Int(1))]);
        assert!(matches!(
            load::<buffered::Flattened>(&plaintext),
            Err(Error::Payload)
        ));
    });
}

#[test]
fn an_internally_tagged_enum_cannot_replay_a_value_into_endless_recursion() {
    on_small_stack(|| {
        let plaintext = map_of(&[("t", MapValue::Text("V")), ("r", MapValue::Int(1))]);
        assert!(matches!(
            load::<buffered::Internal>(&plaintext),
            Err(Error::Payload)
        ));
    });
}

#[test]
fn an_adjacently_tagged_enum_is_refused_only_when_its_content_comes_before_its_tag() {
    on_small_stack(|| {
        // Content first: serde must buffer it until the tag says which variant it is.
        let content_first = map_of(&[("c", MapValue::Int(1)), ("t", MapValue::Text("V"))]);
        assert!(matches!(
            load::<buffered::Adjacent>(&content_first),
            Err(Error::Payload)
        ));
        // Tag first (the order `dumps` writes): read directly, under the depth bound.
        let tag_first = map_of(&[("t", MapValue::Text("V")), ("c", MapValue::Int(1))]);
        assert!(matches!(
            load::<buffered::Adjacent>(&tag_first),
            Err(Error::Payload)
        ));
        let honest = map_of(&[("t", MapValue::Text("V")), ("c", MapValue::Int(0))]);
        let mut honest = honest;
        *honest.last_mut().unwrap() = 0xc0;
        assert!(load::<buffered::Adjacent>(&honest).is_ok());
    });
}

#[test]
fn payload_types_that_buffer_load_nothing_even_when_honest() {
    // The price of the bound (see src/depth.rs, buffers_content): an honest token for an
    // untagged enum is refused too, on every load, so that the choice shows in the first test.
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    #[serde(untagged)]
    enum Id {
        Number(u64),
        Name(String),
    }
    let s = serializer();
    let token = s
        .dumps_at(&Id::Number(7), UNIX_EPOCH + Duration::from_secs(T0))
        .unwrap();
    assert!(matches!(
        s.loads_at::<Id>(&token, UNIX_EPOCH + Duration::from_secs(T0)),
        Err(Error::Payload)
    ));
    // The same value as an externally tagged enum (serde's default) loads.
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    enum Tagged {
        Number(u64),
        Name(String),
    }
    let token = s
        .dumps_at(
            &Tagged::Name("a".into()),
            UNIX_EPOCH + Duration::from_secs(T0),
        )
        .unwrap();
    assert_eq!(
        s.loads_at::<Tagged>(&token, UNIX_EPOCH + Duration::from_secs(T0))
            .unwrap(),
        Tagged::Name("a".into())
    );
}

// --- dumps and loads count depth alike ---------------------------------------------------------

/// The issue's shape: three calls a level (the newtype, the Option, the Vec).
#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct W(Option<Vec<W>>);

fn w_nested(levels: usize) -> W {
    let mut w = W(None);
    for _ in 0..levels {
        w = W(Some(vec![w]));
    }
    w
}

#[test]
fn dumps_refuses_exactly_the_nesting_that_loads_would_refuse() {
    let s = serializer();
    let at = UNIX_EPOCH + Duration::from_secs(T0);
    // W nested 90 to 128 deep is well within 128 containers, but past loads' call bound.
    let mut made = 0;
    for levels in 60..=128 {
        let value = w_nested(levels);
        let raw = rmp_serde::to_vec_named(&value).unwrap();
        let forced = hazmat::seal_bytes_with_nonce(&s, &raw, [7; 24], T0).unwrap();
        let loads_reads_it = s.loads_at::<W>(&forced, at).is_ok();
        match s.dumps_at(&value, at) {
            Ok(token) => {
                made += 1;
                assert!(
                    loads_reads_it,
                    "{levels} levels: dumps made what loads refuses"
                );
                assert_eq!(s.loads_at::<W>(&token, at).unwrap(), value);
            }
            Err(Error::TooDeep { .. }) => {
                assert!(
                    !loads_reads_it,
                    "{levels} levels: dumps refused what loads reads"
                );
            }
            Err(e) => panic!("{levels} levels: {e:?}"),
        }
        drop_deep(value);
    }
    // The boundary lies inside the range: some made, some refused.
    assert!((1..=68).contains(&made), "{made}");
}

/// Drops a deep W without recursing on the test thread's stack in a debug build.
fn drop_deep(mut w: W) {
    while let Some(mut v) = w.0.take() {
        match v.pop() {
            Some(inner) => w = inner,
            None => break,
        }
    }
}

mod agreement {
    use super::*;
    use proptest::prelude::*;
    use serde::{Deserialize, Serialize};

    /// Every way a derived type nests: each level of a random stack of these.
    #[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
    enum Node {
        Leaf(u8),
        Unit,
        Opt(Option<Box<Node>>),
        New(Wrap),
        Seq(Vec<Node>),
        Tup(Box<Node>, u8),
        Rec {
            n: Box<Node>,
        },
        Map(BTreeMap<u8, Node>),
        Plain(Box<Plain>),
        Empty(Vec<u8>),
        Pair((u8, Box<Node>)),
        /// Four calls for one container: what reaches the call bound before 128 containers.
        Deep(Option<Option<Wrap>>),
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
    struct Wrap(Box<Node>);

    #[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
    struct Plain {
        inner: Option<Box<Node>>,
        tail: Option<u8>,
    }

    fn build(kinds: &[u8], leaf: u8) -> Node {
        let mut node = match leaf % 3 {
            0 => Node::Leaf(leaf),
            1 => Node::Unit,
            _ => Node::Empty(vec![]),
        };
        for kind in kinds.iter().rev() {
            let inner = Box::new(node);
            node = match kind % 16 {
                0 => Node::Opt(Some(inner)),
                1 => Node::New(Wrap(inner)),
                2 => Node::Seq(vec![*inner]),
                3 => Node::Tup(inner, 1),
                4 => Node::Rec { n: inner },
                5 => Node::Map(BTreeMap::from([(0, *inner)])),
                6 => Node::Plain(Box::new(Plain {
                    inner: Some(inner),
                    tail: None,
                })),
                7 => Node::Pair((2, inner)),
                8 => Node::Opt(Some(Box::new(Node::New(Wrap(inner))))),
                9 => Node::Seq(vec![Node::Unit, *inner]),
                _ => Node::Deep(Some(Some(Wrap(inner)))),
            };
        }
        node
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever dumps makes, loads reads back; whatever dumps refuses for its depth, loads
        /// would have refused (checked by sealing rmp-serde's bytes past dumps).
        #[test]
        fn dumps_and_loads_agree_on_every_nesting(
            // 40 to 130 levels, a third of them four calls deep: both bounds (128 containers,
            // 256 calls) are met on either side, and each case lands on one side of them.
            kinds in proptest::collection::vec(any::<u8>(), 40..130),
            leaf in any::<u8>(),
        ) {
            let s = serializer();
            let at = UNIX_EPOCH + Duration::from_secs(T0);
            let value = build(&kinds, leaf);
            let raw = rmp_serde::to_vec_named(&value).unwrap();
            let forced = hazmat::seal_bytes_with_nonce(&s, &raw, [7; 24], T0).unwrap();
            let loaded = s.loads_at::<Node>(&forced, at);
            match s.dumps_at(&value, at) {
                Ok(token) => {
                    prop_assert!(loaded.is_ok(), "dumps made what loads refuses");
                    prop_assert_eq!(token.len(), forced.len());
                    prop_assert_eq!(s.loads_at::<Node>(&token, at).unwrap(), value);
                }
                Err(Error::TooDeep { .. }) => prop_assert!(loaded.is_err()),
                Err(e) => prop_assert!(false, "{:?}", e),
            }
        }
    }
}

// --- what an encoder must not write (SPEC.md 3.1) ------------------------------------------------

/// What rmp-serde turns into an ext value: a newtype of this name around (type, data).
struct Ext;

impl serde::Serialize for Ext {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct("_ExtStruct", &(-1i8, serde_bytes::Bytes::new(&[0; 4])))
    }
}

/// A map whose `Serialize` writes one key twice, at `depth` arrays down.
struct Repeated(usize);

impl serde::Serialize for Repeated {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        if self.0 > 0 {
            let mut seq = s.serialize_seq(Some(1))?;
            seq.serialize_element(&Repeated(self.0 - 1))?;
            return seq.end();
        }
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("role", "viewer")?;
        map.serialize_entry("role", "admin")?;
        map.end()
    }
}

#[test]
fn dumps_refuses_ext_values_and_repeated_map_keys() {
    let s = serializer();
    assert!(matches!(s.dumps(&Ext), Err(Error::Serialize)));
    assert!(matches!(s.dumps(&vec![Ext]), Err(Error::Serialize)));
    for depth in [0, 1, 5] {
        assert!(
            matches!(s.dumps(&Repeated(depth)), Err(Error::Serialize)),
            "{depth}"
        );
    }
    // Distinct keys, and equal values under different keys, are fine.
    let fine = BTreeMap::from([("a", 1), ("b", 1)]);
    assert!(s.dumps(&fine).is_ok());
}

#[test]
fn every_nan_is_written_as_the_one_canonical_nan() {
    let s = serializer();
    let seal = |v: &dyn erased::Value| v.seal(&s);
    let canonical64 = seal(&f64::from_bits(0x7ff8_0000_0000_0000));
    for bits in [
        0xfff8_0000_0000_0000u64,
        0x7ff0_0000_0000_0001,
        0x7fff_ffff_ffff_ffff,
    ] {
        assert_eq!(seal(&f64::from_bits(bits)), canonical64, "{bits:x}");
    }
    let canonical32 = seal(&f32::from_bits(0x7fc0_0000));
    for bits in [0xffc0_0000u32, 0x7f80_0001, 0x7fff_ffff] {
        assert_eq!(seal(&f32::from_bits(bits)), canonical32, "{bits:x}");
    }
    // Not NaN: written as it is (-0.0 stays -0.0, infinity stays infinity).
    assert_ne!(seal(&-0.0f64), seal(&0.0f64));
    assert_ne!(seal(&f64::INFINITY), canonical64);
}

/// Sealing with a fixed nonce, so that equal plaintexts give equal tokens.
mod erased {
    pub trait Value {
        fn seal(&self, s: &itsclassified::TimedSerializer) -> String;
    }

    impl<T: serde::Serialize> Value for T {
        fn seal(&self, s: &itsclassified::TimedSerializer) -> String {
            itsclassified::hazmat::seal_value_with_nonce(s, self, [3; 24], super::T0).unwrap()
        }
    }
}
