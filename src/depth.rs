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
//!
//! Two more rules close what counting alone leaves open:
//! - serde's buffered paths (`untagged`, internally tagged, `flatten`) replay the input
//!   through serde's own private deserializer, which no adapter reaches: a payload type that
//!   asks for them is refused (see [`buffers_content`]);
//! - [`serialize`] counts the same calls when a value is written, so that `dumps` refuses with
//!   `TooDeep` what `loads` would refuse, rather than make a token nobody can load.

use std::cell::Cell;
use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};
use serde::ser;

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

/// The refusal of a payload type that makes serde buffer its input (see [`buffers_content`]).
const BUFFERED: &str =
    "payload type buffers content (serde untagged, internally tagged or flatten)";

/// Whether `V` is serde's own visitor that buffers a value into its private `Content` tree.
///
/// `#[serde(untagged)]`, internally tagged enums (`#[serde(tag = "..")]`), the content of an
/// adjacently tagged enum that comes before its tag, and `#[serde(flatten)]` first read the
/// value into that tree, then hand it to the type's `Deserialize` through serde's private
/// `ContentRefDeserializer`. That deserializer is serde's, not ours: no adapter can wrap it,
/// and its `deserialize_option` and `deserialize_newtype_struct` hand a non-nil value back
/// *unconsumed* (`visit_some(self)`). A type such as `struct Rec(Option<Box<Rec>>)` behind an
/// untagged enum then recurses without end on the one authentic byte `01`, and the stack
/// overflow aborts the process. No count of ours can see those calls (serde_stacker cannot
/// either: it wraps the same entry points), so the one bound that holds for every type is to
/// refuse the buffering itself, before the tree is built: such a payload type loads nothing
/// (`Payload`, on every token, so it shows in the first test), and the docs say so.
///
/// Told by type name, the only public trace of serde's private visitors (`ContentVisitor`,
/// `TaggedContentVisitor`, whose values are or hold `Content`). The names are not a stable
/// interface: tests in this module and in tests/hostile.rs load each buffering shape and fail
/// if a serde release renames them.
fn buffers_content<'de, V: Visitor<'de>>() -> bool {
    const SERDE_PRIVATE: [&str; 4] = [
        "serde::private::de::content::",
        "serde::__private::de::content::",
        "serde_core::private::content::",
        "serde_core::__private::content::",
    ];
    let (visitor, value) = (
        std::any::type_name::<V>(),
        std::any::type_name::<V::Value>(),
    );
    SERDE_PRIVATE
        .iter()
        .any(|prefix| visitor.starts_with(prefix) || value.starts_with(prefix))
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

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        if buffers_content::<V>() {
            return Err(de::Error::custom(BUFFERED));
        }
        let (inner, depth) = (self.inner, self.depth);
        descend!(
            depth,
            inner.deserialize_any(Tracked {
                inner: visitor,
                depth
            })
        )
    }

    forward_deserialize! {
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

// ---------------------------------------------------------------------------------------------
// The same bound when a value is written, so that `dumps` never makes a token `loads` refuses.
// ---------------------------------------------------------------------------------------------

/// The float 64 NaN every NaN is written as (SPEC.md 3.1): quiet, positive, no payload.
const CANONICAL_NAN_64: u64 = 0x7ff8_0000_0000_0000;
/// The float 32 NaN every 32-bit NaN is written as.
const CANONICAL_NAN_32: u32 = 0x7fc0_0000;

/// Why [`serialize`] failed: the depth bound, or the wrapped serializer's own error.
#[derive(Debug)]
pub(crate) enum SerializeError<E> {
    /// Loading the value back would take more than [`MAX_CALL_DEPTH`] nested calls.
    TooDeep,
    /// The value's `Serialize` or the format failed.
    Failed(E),
}

/// Serializes `value` into `ser`, refusing any value whose loading would nest deeper than
/// [`MAX_CALL_DEPTH`] `deserialize_*` calls.
///
/// Each `serialize_*` call stands for the `deserialize_*` call that reads it back, at the same
/// depth: an `Option`'s `Some`, a newtype and a container hold their contents one level down.
/// Two places take one more level when read than when written, and are counted so here: an
/// enum variant's name (read by its own call, one level below the enum), and a tuple or struct
/// variant's fields (read inside `tuple_variant`/`struct_variant`, one level below the name).
/// For every type whose `Serialize` and `Deserialize` mirror each other (derived ones, the
/// standard library's) the two sides then count alike: whatever `dumps` makes, `loads` reads
/// (the property test in tests/hostile.rs).
pub(crate) fn serialize<T, S>(value: &T, ser: S) -> Result<S::Ok, SerializeError<S::Error>>
where
    T: ser::Serialize + ?Sized,
    S: ser::Serializer,
{
    let state = Budget {
        depth: Cell::new(0),
        exceeded: Cell::new(false),
    };
    let result = value.serialize(Writer {
        inner: ser,
        budget: &state,
    });
    match result {
        Ok(ok) => Ok(ok),
        Err(_) if state.exceeded.get() => Err(SerializeError::TooDeep),
        Err(e) => Err(SerializeError::Failed(e)),
    }
}

/// The calls in progress, and whether a call was refused for depth.
struct Budget {
    depth: Cell<usize>,
    exceeded: Cell<bool>,
}

impl Budget {
    /// Enters a call whose reading back takes calls down to `extra` levels below its own (0 for
    /// a scalar), returning the depth to restore when it ends.
    fn enter<E: ser::Error>(&self, extra: usize) -> Result<usize, E> {
        let level = self.depth.get();
        if level + extra >= MAX_CALL_DEPTH {
            self.exceeded.set(true);
            return Err(E::custom("value nested too deep"));
        }
        Ok(level)
    }
}

/// A serializer that counts depth; hands [`Nested`] values on to the one it wraps.
struct Writer<'a, S> {
    inner: S,
    budget: &'a Budget,
}

/// A value serialized one level down, through a [`Writer`].
struct Nested<'a, T: ?Sized> {
    value: &'a T,
    budget: &'a Budget,
}

impl<T: ser::Serialize + ?Sized> ser::Serialize for Nested<'_, T> {
    fn serialize<S: ser::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(Writer {
            inner: ser,
            budget: self.budget,
        })
    }
}

/// A compound (sequence, map, struct, ...) in progress: its fields are written `below` the
/// depth it restores to (`level`) when it ends.
struct Compound<'a, C> {
    inner: C,
    budget: &'a Budget,
    level: usize,
}

impl<'a, C> Compound<'a, C> {
    fn finish<R>(self, end: impl FnOnce(C) -> R) -> R {
        let (budget, level) = (self.budget, self.level);
        let result = end(self.inner);
        budget.depth.set(level);
        result
    }
}

impl<'a, S: ser::Serializer> Writer<'a, S> {
    /// A scalar: one call, no level below it.
    fn leaf<R>(
        self,
        extra: usize,
        write: impl FnOnce(S) -> Result<R, S::Error>,
    ) -> Result<R, S::Error> {
        self.budget.enter::<S::Error>(extra)?;
        write(self.inner)
    }

    /// A call that writes one value one level down (`Some`, a newtype, a newtype variant);
    /// `extra` as for [`Budget::enter`] (the value checks its own level).
    fn wrapping<R>(
        self,
        extra: usize,
        write: impl FnOnce(S, &'a Budget) -> Result<R, S::Error>,
    ) -> Result<R, S::Error> {
        let level = self.budget.enter::<S::Error>(extra)?;
        self.budget.depth.set(level + 1);
        let result = write(self.inner, self.budget);
        self.budget.depth.set(level);
        result
    }

    /// A compound whose fields sit `below` levels down (1, or 2 for a tuple or struct variant,
    /// whose reading takes a call one level down before the fields: an empty one still needs
    /// that level, its fields check their own).
    fn open<C>(
        self,
        below: usize,
        open: impl FnOnce(S) -> Result<C, S::Error>,
    ) -> Result<Compound<'a, C>, S::Error> {
        let level = self.budget.enter::<S::Error>(below - 1)?;
        let inner = open(self.inner)?;
        self.budget.depth.set(level + below);
        Ok(Compound {
            inner,
            budget: self.budget,
            level,
        })
    }
}

macro_rules! forward_scalar {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method(self, $($arg: $ty),*) -> Result<S::Ok, S::Error> {
            self.leaf(0, |inner| inner.$method($($arg),*))
        }
    )*};
}

impl<'a, S: ser::Serializer> ser::Serializer for Writer<'a, S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Compound<'a, S::SerializeSeq>;
    type SerializeTuple = Compound<'a, S::SerializeTuple>;
    type SerializeTupleStruct = Compound<'a, S::SerializeTupleStruct>;
    type SerializeTupleVariant = Compound<'a, S::SerializeTupleVariant>;
    type SerializeMap = Compound<'a, S::SerializeMap>;
    type SerializeStruct = Compound<'a, S::SerializeStruct>;
    type SerializeStructVariant = Compound<'a, S::SerializeStructVariant>;

    forward_scalar! {
        serialize_bool(v: bool);
        serialize_i8(v: i8);
        serialize_i16(v: i16);
        serialize_i32(v: i32);
        serialize_i64(v: i64);
        serialize_i128(v: i128);
        serialize_u8(v: u8);
        serialize_u16(v: u16);
        serialize_u32(v: u32);
        serialize_u64(v: u64);
        serialize_u128(v: u128);
        serialize_char(v: char);
        serialize_str(v: &str);
        serialize_bytes(v: &[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(name: &'static str);
    }

    fn serialize_f32(self, v: f32) -> Result<S::Ok, S::Error> {
        // SPEC.md 3.1: one NaN, the quiet NaN with no payload (what a NaN's sign and payload
        // bits say is not part of the value, and would make one value two encodings).
        let v = if v.is_nan() {
            f32::from_bits(CANONICAL_NAN_32)
        } else {
            v
        };
        self.leaf(0, |inner| inner.serialize_f32(v))
    }

    fn serialize_f64(self, v: f64) -> Result<S::Ok, S::Error> {
        let v = if v.is_nan() {
            f64::from_bits(CANONICAL_NAN_64)
        } else {
            v
        };
        self.leaf(0, |inner| inner.serialize_f64(v))
    }

    fn serialize_unit_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<S::Ok, S::Error> {
        // Read back as the enum, then its name one level down.
        self.leaf(1, |inner| {
            inner.serialize_unit_variant(name, index, variant)
        })
    }

    fn serialize_some<T: ser::Serialize + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        self.wrapping(0, |inner, budget| {
            inner.serialize_some(&Nested { value, budget })
        })
    }

    fn serialize_newtype_struct<T: ser::Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        // rmp-serde writes an ext value for a newtype of this name (rmpv's `Value::Ext`, its
        // own `ExtStruct`); SPEC.md 3.1: an encoder MUST NOT write ext values.
        if name == rmp_serde::MSGPACK_EXT_STRUCT_NAME {
            return Err(ser::Error::custom(
                "ext values are not part of the token format",
            ));
        }
        self.wrapping(0, |inner, budget| {
            inner.serialize_newtype_struct(name, &Nested { value, budget })
        })
    }

    fn serialize_newtype_variant<T: ser::Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        // The variant's name is read one level down, beside the value.
        self.wrapping(1, |inner, budget| {
            inner.serialize_newtype_variant(name, index, variant, &Nested { value, budget })
        })
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        self.open(1, |inner| inner.serialize_seq(len))
    }

    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
        self.open(1, |inner| inner.serialize_tuple(len))
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, S::Error> {
        self.open(1, |inner| inner.serialize_tuple_struct(name, len))
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        self.open(2, |inner| {
            inner.serialize_tuple_variant(name, index, variant, len)
        })
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        self.open(1, |inner| inner.serialize_map(len))
    }

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        self.open(1, |inner| inner.serialize_struct(name, len))
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        self.open(2, |inner| {
            inner.serialize_struct_variant(name, index, variant, len)
        })
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

impl<S: ser::SerializeSeq> ser::SerializeSeq for Compound<'_, S> {
    type Ok = S::Ok;
    type Error = S::Error;

    fn serialize_element<T: ser::Serialize + ?Sized>(&mut self, value: &T) -> Result<(), S::Error> {
        let value = Nested {
            value,
            budget: self.budget,
        };
        self.inner.serialize_element(&value)
    }

    fn end(self) -> Result<S::Ok, S::Error> {
        self.finish(S::end)
    }
}

impl<S: ser::SerializeTuple> ser::SerializeTuple for Compound<'_, S> {
    type Ok = S::Ok;
    type Error = S::Error;

    fn serialize_element<T: ser::Serialize + ?Sized>(&mut self, value: &T) -> Result<(), S::Error> {
        let value = Nested {
            value,
            budget: self.budget,
        };
        self.inner.serialize_element(&value)
    }

    fn end(self) -> Result<S::Ok, S::Error> {
        self.finish(S::end)
    }
}

impl<S: ser::SerializeTupleStruct> ser::SerializeTupleStruct for Compound<'_, S> {
    type Ok = S::Ok;
    type Error = S::Error;

    fn serialize_field<T: ser::Serialize + ?Sized>(&mut self, value: &T) -> Result<(), S::Error> {
        let value = Nested {
            value,
            budget: self.budget,
        };
        self.inner.serialize_field(&value)
    }

    fn end(self) -> Result<S::Ok, S::Error> {
        self.finish(S::end)
    }
}

impl<S: ser::SerializeTupleVariant> ser::SerializeTupleVariant for Compound<'_, S> {
    type Ok = S::Ok;
    type Error = S::Error;

    fn serialize_field<T: ser::Serialize + ?Sized>(&mut self, value: &T) -> Result<(), S::Error> {
        let value = Nested {
            value,
            budget: self.budget,
        };
        self.inner.serialize_field(&value)
    }

    fn end(self) -> Result<S::Ok, S::Error> {
        self.finish(S::end)
    }
}

impl<S: ser::SerializeMap> ser::SerializeMap for Compound<'_, S> {
    type Ok = S::Ok;
    type Error = S::Error;

    fn serialize_key<T: ser::Serialize + ?Sized>(&mut self, key: &T) -> Result<(), S::Error> {
        let key = Nested {
            value: key,
            budget: self.budget,
        };
        self.inner.serialize_key(&key)
    }

    fn serialize_value<T: ser::Serialize + ?Sized>(&mut self, value: &T) -> Result<(), S::Error> {
        let value = Nested {
            value,
            budget: self.budget,
        };
        self.inner.serialize_value(&value)
    }

    fn end(self) -> Result<S::Ok, S::Error> {
        self.finish(S::end)
    }
}

impl<S: ser::SerializeStruct> ser::SerializeStruct for Compound<'_, S> {
    type Ok = S::Ok;
    type Error = S::Error;

    fn serialize_field<T: ser::Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), S::Error> {
        let value = Nested {
            value,
            budget: self.budget,
        };
        self.inner.serialize_field(key, &value)
    }

    fn skip_field(&mut self, key: &'static str) -> Result<(), S::Error> {
        self.inner.skip_field(key)
    }

    fn end(self) -> Result<S::Ok, S::Error> {
        self.finish(S::end)
    }
}

impl<S: ser::SerializeStructVariant> ser::SerializeStructVariant for Compound<'_, S> {
    type Ok = S::Ok;
    type Error = S::Error;

    fn serialize_field<T: ser::Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), S::Error> {
        let value = Nested {
            value,
            budget: self.budget,
        };
        self.inner.serialize_field(key, &value)
    }

    fn skip_field(&mut self, key: &'static str) -> Result<(), S::Error> {
        self.inner.skip_field(key)
    }

    fn end(self) -> Result<S::Ok, S::Error> {
        self.finish(S::end)
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

    /// `.0` newtypes around an [`End`]: a value as deep as wanted in calls with no container,
    /// so that only the call bound (not the framing check) decides. Read back with the length
    /// from `CHAIN_LEN`, as MessagePack does not show newtypes.
    #[derive(Debug, PartialEq)]
    struct Chain(usize, End);

    thread_local! {
        static CHAIN_LEN: Cell<usize> = const { Cell::new(0) };
    }

    struct Link<'a>(usize, &'a End);

    impl serde::Serialize for Link<'_> {
        fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match self.0 {
                0 => self.1.serialize(s),
                n => s.serialize_newtype_struct("Chain", &Link(n - 1, self.1)),
            }
        }
    }

    impl serde::Serialize for Chain {
        fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            Link(self.0, &self.1).serialize(s)
        }
    }

    struct LinkSeed(usize);

    impl<'de> DeserializeSeed<'de> for LinkSeed {
        type Value = End;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<End, D::Error> {
            if self.0 == 0 {
                return End::deserialize(d);
            }
            d.deserialize_newtype_struct("Chain", self)
        }
    }

    impl<'de> Visitor<'de> for LinkSeed {
        type Value = End;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a chain")
        }
        fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<End, D::Error> {
            LinkSeed(self.0 - 1).deserialize(d)
        }
    }

    impl<'de> Deserialize<'de> for Chain {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let len = CHAIN_LEN.with(Cell::get);
            LinkSeed(len).deserialize(d).map(|end| Chain(len, end))
        }
    }

    /// Every way a value ends, each reaching a different depth below its first call.
    #[derive(serde::Serialize, Deserialize, Debug, PartialEq, Clone)]
    enum End {
        Unit,
        Value(u8),
        Pair(u8, u8),
        Named { a: u8 },
        NoFields(),
        NoNamed {},
        Nothing(Option<u8>),
        Empty(Vec<u8>),
    }

    fn written(chain: &Chain) -> bool {
        let mut buf = Vec::new();
        let mut writer = rmp_serde::Serializer::new(&mut buf).with_struct_map();
        match serialize(chain, &mut writer) {
            Ok(()) => {
                assert_eq!(buf, rmp_serde::to_vec_named(chain).unwrap());
                true
            }
            Err(SerializeError::TooDeep) => false,
            Err(SerializeError::Failed(e)) => panic!("{e}"),
        }
    }

    fn read(chain: &Chain) -> bool {
        let bytes = rmp_serde::to_vec_named(chain).unwrap();
        CHAIN_LEN.with(|len| len.set(chain.0));
        match load::<Chain>(&bytes) {
            Ok(loaded) => {
                assert_eq!(&loaded, chain);
                true
            }
            Err(_) => false,
        }
    }

    #[test]
    fn a_value_is_written_exactly_when_it_can_be_read_back_however_it_ends() {
        for end in [
            End::Unit,
            End::Value(1),
            End::Pair(1, 2),
            End::Named { a: 1 },
            End::NoFields(),
            End::NoNamed {},
            End::Nothing(None),
            End::Nothing(Some(1)),
            End::Empty(vec![]),
            End::Empty(vec![1]),
        ] {
            let deepest = |accepts: fn(&Chain) -> bool| {
                (240..=260)
                    .filter(|&n| accepts(&Chain(n, end.clone())))
                    .max()
            };
            let (wrote, reads) = (deepest(written), deepest(read));
            assert!(reads.is_some_and(|n| n < 256), "{end:?}: {reads:?}");
            assert_eq!(wrote, reads, "{end:?}");
        }
    }

    #[test]
    fn the_writer_writes_exactly_what_the_wrapped_serializer_writes() {
        #[derive(serde::Serialize)]
        struct Pair(u8, &'static str);
        #[derive(serde::Serialize)]
        struct Skips {
            a: u8,
            #[serde(skip_serializing_if = "Option::is_none")]
            b: Option<u8>,
            c: Pair,
        }
        #[derive(serde::Serialize)]
        enum Shape {
            Unit,
            Rect {
                w: u8,
                #[serde(skip_serializing_if = "Option::is_none")]
                h: Option<u8>,
            },
            Line(u8, u8),
        }
        #[derive(serde::Serialize)]
        struct All {
            ip: std::net::IpAddr,
            pair: Pair,
            skips: Vec<Skips>,
            shapes: Vec<Shape>,
            map: std::collections::BTreeMap<u8, Option<()>>,
            float: f32,
            text: String,
        }
        let value = All {
            ip: "192.0.2.1".parse().unwrap(),
            pair: Pair(7, "x"),
            skips: vec![
                Skips {
                    a: 1,
                    b: None,
                    c: Pair(2, "y"),
                },
                Skips {
                    a: 3,
                    b: Some(4),
                    c: Pair(5, "z"),
                },
            ],
            shapes: vec![
                Shape::Unit,
                Shape::Rect { w: 1, h: None },
                Shape::Rect { w: 1, h: Some(2) },
                Shape::Line(3, 4),
            ],
            map: [(1, None), (2, Some(()))].into(),
            float: 0.5,
            text: "t".into(),
        };
        // MessagePack (compact: the address as its bytes).
        let mut ours = Vec::new();
        let mut writer = rmp_serde::Serializer::new(&mut ours).with_struct_map();
        serialize(&value, &mut writer).unwrap();
        assert_eq!(ours, rmp_serde::to_vec_named(&value).unwrap());
        // JSON (human-readable: the address as text).
        let mut ours = Vec::new();
        serialize(&value, &mut serde_json::Serializer::new(&mut ours)).unwrap();
        let json = String::from_utf8(ours).unwrap();
        assert_eq!(json, serde_json::to_string(&value).unwrap());
        assert!(json.contains("\"192.0.2.1\""), "{json}");
    }

    #[test]
    fn the_write_bound_is_reported_as_too_deep_not_as_a_failure() {
        let mut buf = Vec::new();
        let mut writer = rmp_serde::Serializer::new(&mut buf).with_struct_map();
        let chain = Chain(MAX_CALL_DEPTH, End::Unit);
        assert!(matches!(
            serialize(&chain, &mut writer),
            Err(SerializeError::TooDeep)
        ));
    }
}
