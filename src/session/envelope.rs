//! The session envelope (SPEC.md section 10.1): what a session token's payload is.
//!
//! ```text
//! 83                      map of three entries, in this order:
//! a1 76  <value>          "v": the application's session value
//! a1 69  c4 10 <16 bytes> "i": the session id, bin 8 of exactly 16 bytes
//! a1 73  <uint>           "s": the session's start, Unix seconds, shortest form
//! ```
//!
//! One shape, always (with or without an absolute lifetime). Reading is strict: the three keys
//! each exactly once, `i` as 16 bytes of bin, `s` as an unsigned integer; unknown keys are
//! skipped so that a later version may add one. Anything else is `Payload`, and the session is
//! empty.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::id::SessionId;

/// A session as its token holds it, for writing.
pub(crate) struct EnvelopeRef<'a, T: ?Sized> {
    pub(crate) value: &'a T,
    pub(crate) id: SessionId,
    pub(crate) start: u64,
}

impl<T: Serialize + ?Sized> Serialize for EnvelopeRef<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("v", self.value)?;
        map.serialize_entry("i", &IdBytes(self.id))?;
        map.serialize_entry("s", &self.start)?;
        map.end()
    }
}

/// A session as its token holds it, read.
#[derive(Debug, PartialEq)]
pub(crate) struct Envelope<T> {
    pub(crate) value: T,
    pub(crate) id: SessionId,
    pub(crate) start: u64,
}

/// The session id as MessagePack bin (serde bytes), not as an array of integers.
struct IdBytes(SessionId);

impl Serialize for IdBytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0.as_bytes())
    }
}

impl<'de> Deserialize<'de> for IdBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl Visitor<'_> for IdVisitor {
            type Value = IdBytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("16 bytes")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<IdBytes, E> {
                <[u8; SessionId::LEN]>::try_from(v)
                    .map(|b| IdBytes(SessionId::from_bytes(b)))
                    .map_err(|_| E::invalid_length(v.len(), &self))
            }
        }
        deserializer.deserialize_bytes(IdVisitor)
    }
}

/// A key of the envelope map.
enum Field {
    Value,
    Id,
    Start,
    Other,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl Visitor<'_> for FieldVisitor {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key of the session envelope")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
                Ok(match v {
                    "v" => Field::Value,
                    "i" => Field::Id,
                    "s" => Field::Start,
                    _ => Field::Other,
                })
            }
            // Keys that are not text are not ours: skipped, as unknown text keys are.
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Field, E> {
                Ok(Field::Other)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Field, E> {
                Ok(Field::Other)
            }
            fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Field, E> {
                Ok(Field::Other)
            }
        }
        deserializer.deserialize_identifier(FieldVisitor)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Envelope<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EnvelopeVisitor<T>(PhantomData<fn() -> T>);
        impl<'de, T: DeserializeOwned> Visitor<'de> for EnvelopeVisitor<T> {
            type Value = Envelope<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a session envelope")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope<T>, A::Error> {
                let (mut value, mut id, mut start) = (None, None, None);
                while let Some(key) = map.next_key::<Field>()? {
                    let duplicate = match key {
                        Field::Value => value.replace(map.next_value::<T>()?).is_some(),
                        Field::Id => id.replace(map.next_value::<IdBytes>()?.0).is_some(),
                        Field::Start => start.replace(map.next_value::<u64>()?).is_some(),
                        Field::Other => {
                            map.next_value::<IgnoredAny>()?;
                            false
                        }
                    };
                    if duplicate {
                        return Err(de::Error::custom("a session envelope key given twice"));
                    }
                }
                match (value, id, start) {
                    (Some(value), Some(id), Some(start)) => Ok(Envelope { value, id, start }),
                    _ => Err(de::Error::custom("a session envelope without v, i and s")),
                }
            }
        }
        deserializer.deserialize_map(EnvelopeVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Error, SecretKey, TimedSerializer};
    use std::time::Duration;

    fn serializer() -> TimedSerializer {
        TimedSerializer::new(SecretKey::from_bytes(&[7; 32]).unwrap(), "s")
            .max_age(Duration::from_secs(60))
    }

    /// Seals raw MessagePack as a token and loads it as an envelope of `u8`.
    fn open(plaintext: &[u8]) -> Result<Envelope<u8>, Error> {
        let s = serializer();
        let token = s.seal_bytes_with(
            plaintext,
            &[0; 24],
            crate::wire::system_time_to_unix(std::time::SystemTime::now())?,
        )?;
        s.loads::<Envelope<u8>>(&token)
    }

    const ID: [u8; 16] = [0xab; 16];

    fn envelope_bytes(id_len: usize) -> Vec<u8> {
        let mut b = vec![0x83, 0xa1, b'v', 0x07, 0xa1, b'i', 0xc4, id_len as u8];
        b.extend(std::iter::repeat_n(0xab, id_len));
        b.extend([0xa1, b's', 0xcd, 0x01, 0x00]);
        b
    }

    #[test]
    fn the_envelope_is_written_as_a_map_of_v_i_s_in_that_order() {
        let bytes = rmp_serde::to_vec_named(&EnvelopeRef {
            value: &7u8,
            id: SessionId::from_bytes(ID),
            start: 256,
        })
        .unwrap();
        assert_eq!(bytes, envelope_bytes(16));
        assert_eq!(
            open(&bytes).unwrap(),
            Envelope {
                value: 7,
                id: SessionId::from_bytes(ID),
                start: 256
            }
        );
    }

    #[test]
    fn an_id_of_another_length_is_refused() {
        assert!(matches!(open(&envelope_bytes(15)), Err(Error::Payload)));
        assert!(matches!(open(&envelope_bytes(17)), Err(Error::Payload)));
    }

    #[test]
    fn an_id_written_as_text_or_integers_is_refused() {
        let mut text = vec![0x83, 0xa1, b'v', 0x07, 0xa1, b'i', 0xb0];
        text.extend([b'a'; 16]);
        text.extend([0xa1, b's', 0x01]);
        assert!(matches!(open(&text), Err(Error::Payload)));
        let mut ints = vec![0x83, 0xa1, b'v', 0x07, 0xa1, b'i', 0xdc, 0x00, 0x10];
        ints.extend([1; 16]);
        ints.extend([0xa1, b's', 0x01]);
        assert!(matches!(open(&ints), Err(Error::Payload)));
    }

    #[test]
    fn a_missing_or_repeated_key_is_refused() {
        // {v, s}: the envelope of a session with an absolute lifetime before session ids.
        assert!(matches!(
            open(&[0x82, 0xa1, b'v', 0x07, 0xa1, b's', 0x01]),
            Err(Error::Payload)
        ));
        // A plain value: the other shape of before.
        assert!(matches!(open(&[0x07]), Err(Error::Payload)));
        let mut twice = envelope_bytes(16);
        twice[0] = 0x84;
        twice.extend([0xa1, b'v', 0x08]);
        assert!(matches!(open(&twice), Err(Error::Payload)));
    }

    #[test]
    fn a_negative_or_textual_start_is_refused() {
        let mut negative = envelope_bytes(16);
        let n = negative.len();
        negative.truncate(n - 3);
        negative.push(0xff);
        assert!(matches!(open(&negative), Err(Error::Payload)));
        let mut text = envelope_bytes(16);
        text.truncate(n - 3);
        text.extend([0xa1, b'1']);
        assert!(matches!(open(&text), Err(Error::Payload)));
    }

    #[test]
    fn unknown_keys_are_skipped_and_an_array_is_no_envelope() {
        let mut extra = envelope_bytes(16);
        extra[0] = 0x85;
        extra.extend([0xa1, b'x', 0x90, 0x05, 0xc0]);
        assert_eq!(open(&extra).unwrap().start, 256);
        let array = [0x93, 0x07, 0xc4, 0x01, 0x00, 0x01];
        assert!(matches!(open(&array), Err(Error::Payload)));
    }
}
