//! A serde `Deserializer` adapter that bounds how deep deserialization recurses.
//!
//! The framing check ([`crate::msgpack`]) bounds the nesting of arrays and maps, but not every
//! recursion of serde consumes a container: rmp-serde's `deserialize_option` reads the next
//! marker, and when it is not nil hands the *same* input to `visit_some`. A type such as
//! `struct Rec(Option<Box<Rec>>)` then recurses on the one-byte plaintext `[0x01]` without
//! end, and the thread's stack overflows (an abort, not a panic). The adapter counts the
//! `deserialize_*` calls in progress, wrapping every deserializer that serde hands on (through
//! visitors, sequence, map and enum access), and refuses to go deeper than
//! [`MAX_CALL_DEPTH`].
//!
//! The limit leaves room for legitimate payloads: the framing check admits 128 containers,
//! and a container seldom takes more than one extra call (an `Option` or a newtype around it).

use std::cell::Cell;
use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};

/// The deepest nesting of `deserialize_*` calls allowed.
pub(crate) const MAX_CALL_DEPTH: usize = 2 * crate::msgpack::MAX_DEPTH;

/// Deserializes a `T` from `de`, refusing recursion deeper than [`MAX_CALL_DEPTH`].
pub(crate) fn deserialize<'de, T, D>(de: D) -> Result<T, D::Error>
where
    T: de::Deserialize<'de>,
    D: Deserializer<'de>,
{
    let depth = Cell::new(0);
    T::deserialize(Tracked {
        inner: de,
        depth: &depth,
    })
}

/// A value of serde's (deserializer, visitor, access or seed) that shares the depth counter.
struct Tracked<'a, X> {
    inner: X,
    depth: &'a Cell<usize>,
}

impl<'a, X> Tracked<'a, X> {
    fn wrap<Y>(&self, inner: Y) -> Tracked<'a, Y> {
        Tracked {
            inner,
            depth: self.depth,
        }
    }
}

/// Runs one `deserialize_*` call one level deeper, or refuses it. A macro rather than a
/// function taking a closure: in a debug build every frame counts (see the stack test in
/// tests/hostile.rs).
macro_rules! descend {
    ($depth:expr, $call:expr) => {{
        let depth: &Cell<usize> = $depth;
        let level = depth.get();
        if level >= MAX_CALL_DEPTH {
            return Err(de::Error::custom("payload nested too deep"));
        }
        depth.set(level + 1);
        let result = $call;
        depth.set(level);
        result
    }};
}

macro_rules! forward_deserialize {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
            let (inner, depth) = (self.inner, self.depth);
            descend!(depth, inner.$method($($arg,)* Tracked { inner: visitor, depth }))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Tracked<'_, D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty);)*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Tracked<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit! {
        visit_bool(bool);
        visit_i8(i8);
        visit_i16(i16);
        visit_i32(i32);
        visit_i64(i64);
        visit_i128(i128);
        visit_u8(u8);
        visit_u16(u16);
        visit_u32(u32);
        visit_u64(u64);
        visit_u128(u128);
        visit_f32(f32);
        visit_f64(f64);
        visit_char(char);
        visit_str(&str);
        visit_borrowed_str(&'de str);
        visit_string(String);
        visit_bytes(&[u8]);
        visit_borrowed_bytes(&'de [u8]);
        visit_byte_buf(Vec<u8>);
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        let de = self.wrap(de);
        self.inner.visit_some(de)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        let de = self.wrap(de);
        self.inner.visit_newtype_struct(de)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        let seq = self.wrap(seq);
        self.inner.visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        let map = self.wrap(map);
        self.inner.visit_map(map)
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        let data = self.wrap(data);
        self.inner.visit_enum(data)
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Tracked<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<S::Value, D::Error> {
        let de = self.wrap(de);
        self.inner.deserialize(de)
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Tracked<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        let seed = self.wrap(seed);
        self.inner.next_element_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Tracked<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let seed = self.wrap(seed);
        self.inner.next_key_seed(seed)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        let seed = self.wrap(seed);
        self.inner.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'a, 'de, A: EnumAccess<'de>> EnumAccess<'de> for Tracked<'a, A> {
    type Error = A::Error;
    type Variant = Tracked<'a, A::Variant>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), A::Error> {
        let depth = self.depth;
        let (value, variant) = self.inner.variant_seed(Tracked { inner: seed, depth })?;
        Ok((
            value,
            Tracked {
                inner: variant,
                depth,
            },
        ))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Tracked<'_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.inner.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        let seed = self.wrap(seed);
        self.inner.newtype_variant_seed(seed)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        let (inner, depth) = (self.inner, self.depth);
        descend!(
            depth,
            inner.tuple_variant(
                len,
                Tracked {
                    inner: visitor,
                    depth
                }
            )
        )
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let (inner, depth) = (self.inner, self.depth);
        descend!(
            depth,
            inner.struct_variant(
                fields,
                Tracked {
                    inner: visitor,
                    depth
                }
            )
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    fn load<T: de::DeserializeOwned>(bytes: &[u8]) -> Result<T, rmp_serde::decode::Error> {
        deserialize(&mut rmp_serde::Deserializer::from_read_ref(bytes))
    }

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Rec(Option<Box<Rec>>);

    #[test]
    fn an_option_that_never_consumes_input_is_refused() {
        // Without the adapter this overflows the stack and aborts the process.
        assert!(load::<Rec>(&[0x01]).is_err());
        // nil is an honest None.
        assert!(load::<Rec>(&[0xc0]).is_ok());
    }

    #[test]
    fn ordinary_values_pass_through_unchanged() {
        #[derive(Deserialize, Debug, PartialEq)]
        enum Shape {
            Unit,
            Circle(u32),
            Rect { w: u8, h: u8 },
            Pair(i8, i8),
        }
        #[derive(Deserialize, Debug, PartialEq)]
        struct S {
            name: String,
            tags: Vec<Option<String>>,
            shapes: Vec<Shape>,
            bytes: serde_bytes::ByteBuf,
        }
        #[derive(serde::Serialize)]
        enum ShapeOut {
            Unit,
            Circle(u32),
            Rect { w: u8, h: u8 },
            Pair(i8, i8),
        }
        #[derive(serde::Serialize)]
        struct SOut<'a> {
            name: &'a str,
            tags: Vec<Option<&'a str>>,
            shapes: Vec<ShapeOut>,
            #[serde(with = "serde_bytes")]
            bytes: &'a [u8],
        }
        let bytes = rmp_serde::to_vec_named(&SOut {
            name: "n",
            tags: vec![Some("a"), None],
            shapes: vec![
                ShapeOut::Unit,
                ShapeOut::Circle(3),
                ShapeOut::Rect { w: 1, h: 2 },
                ShapeOut::Pair(-1, 1),
            ],
            bytes: &[1, 2],
        })
        .unwrap();
        let s: S = load(&bytes).unwrap();
        assert_eq!(
            s,
            S {
                name: "n".into(),
                tags: vec![Some("a".into()), None],
                shapes: vec![
                    Shape::Unit,
                    Shape::Circle(3),
                    Shape::Rect { w: 1, h: 2 },
                    Shape::Pair(-1, 1)
                ],
                bytes: serde_bytes::ByteBuf::from(vec![1, 2]),
            }
        );
    }

    #[test]
    fn the_limit_is_at_max_call_depth() {
        // n nested arrays around nil: n + 1 calls of deserialize_any for a dynamic value.
        let nested = |n: usize| {
            let mut v = vec![0x91u8; n];
            v.push(0xc0);
            v
        };
        assert!(load::<serde_json::Value>(&nested(MAX_CALL_DEPTH - 1)).is_ok());
        assert!(load::<serde_json::Value>(&nested(MAX_CALL_DEPTH)).is_err());
    }

    #[test]
    fn the_deepest_payload_the_framing_check_admits_loads_with_an_option_at_every_level() {
        // Two calls a container (the Option, then the array): MAX_DEPTH arrays take exactly
        // MAX_CALL_DEPTH calls, the margin the doc comment above MAX_CALL_DEPTH promises.
        #[derive(Deserialize, Debug)]
        #[serde(transparent)]
        #[allow(dead_code)]
        struct Level(Option<Vec<Level>>);
        let depth = crate::msgpack::MAX_DEPTH;
        let mut deepest = vec![0x91u8; depth - 1];
        deepest.push(0x90);
        assert_eq!(
            crate::msgpack::single_value_len(&deepest),
            Ok(deepest.len())
        );
        assert!(load::<Level>(&deepest).is_ok());
        // The same arrays with a third call a level (a newtype) go past the limit.
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct Wrapped(Option<Vec<Wrapped>>);
        assert!(load::<Wrapped>(&deepest).is_err());
    }

    #[test]
    fn the_adapter_is_invisible_to_formats_and_types() {
        // Types that read differently in human-readable formats (an IP address is a string in
        // JSON, a compact enum in MessagePack) see the wrapped format's answer.
        let ip: std::net::IpAddr = "192.0.2.1".parse().unwrap();
        let packed = rmp_serde::to_vec(&ip).unwrap();
        assert_eq!(load::<std::net::IpAddr>(&packed).unwrap(), ip);
        let json = |text: &str| {
            deserialize::<std::net::IpAddr, _>(&mut serde_json::Deserializer::from_str(text))
        };
        assert_eq!(json("\"192.0.2.1\"").unwrap(), ip);
        // An enum's unit variant written as a one-entry map (`{"Unit": nil}`, as some
        // MessagePack writers do): the variant's nil is read, and the next value is intact.
        #[derive(Deserialize, Debug, PartialEq)]
        enum Light {
            On,
            Off,
        }
        let unit_as_map = [
            0x92, 0x81, 0xa2, b'O', b'n', 0xc0, 0x81, 0xa3, b'O', b'f', b'f', 0xc0,
        ];
        assert_eq!(
            load::<Vec<Light>>(&unit_as_map).unwrap(),
            [Light::On, Light::Off]
        );
        // A type mismatch reads as it does without the adapter: the visitor's `expecting`.
        let direct = u8::deserialize(&mut serde_json::Deserializer::from_str("\"x\""))
            .unwrap_err()
            .to_string();
        let wrapped = deserialize::<u8, _>(&mut serde_json::Deserializer::from_str("\"x\""))
            .unwrap_err()
            .to_string();
        assert_eq!(wrapped, direct);
        assert!(direct.contains("expected u8"), "{direct}");
    }
}
