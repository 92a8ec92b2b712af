//! Shared fixtures of the fuzz targets: the fixed test key, the serializer and the target types.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use itsclassified::{Error, SecretKey, TimedSerializer};
use serde::{Deserialize, Serialize};

/// The issued-at of every token the targets seal, and the `now` they load at.
pub const T0: u64 = 1_700_000_000;

/// `T0` as a `SystemTime`.
pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0)
}

/// A serializer under a fixed test key (the fuzzer does not know it, but it is not secret).
pub fn serializer() -> TimedSerializer {
    TimedSerializer::new(SecretKey::from_bytes(&[0x42; 32]).unwrap(), "fuzz")
        .max_age(Duration::from_secs(3600))
        .max_token_len(TimedSerializer::MAX_TOKEN_LEN_LIMIT)
}

/// A typical session payload.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, arbitrary::Arbitrary)]
pub struct Session {
    pub user_id: String,
    pub role: String,
    pub scopes: Vec<String>,
    pub expires: Option<u64>,
    pub flags: BTreeMap<String, bool>,
}

/// Asserts that a refusal of untrusted input is a token rejection, never a service error.
pub fn assert_rejection(e: &Error) {
    assert!(e.is_rejection(), "untrusted input gave a non-rejection error: {e:?}");
}

/// A type whose deserialization can recurse without consuming input (rmp-serde's
/// `deserialize_option` re-reads a non-nil marker): the crate must bound it.
#[derive(serde::Deserialize, Debug)]
#[allow(dead_code)]
pub struct Rec(Option<Box<Rec>>);

/// `Rec` behind each of serde's buffering shapes (untagged, flatten, internally and
/// adjacently tagged): the crate refuses them all, before serde replays a buffer into `Rec`.
pub mod buffered {
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
        r: Rec,
    }

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    pub struct Flattened {
        #[serde(flatten)]
        inner: Inner,
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

/// Loads `token` into every target type; returns whether the dynamic value loaded.
pub fn load_every_type(s: &TimedSerializer, token: &str) -> bool {
    let results = [
        s.loads_at::<Session>(token, now()).err(),
        s.loads_at::<HashMap<String, serde_json::Value>>(token, now()).err(),
        s.loads_at::<Vec<Vec<u8>>>(token, now()).err(),
        s.loads_at::<(String, i64, Option<f64>)>(token, now()).err(),
        s.loads_at::<serde::de::IgnoredAny>(token, now()).err(),
        s.loads_at::<Rec>(token, now()).err(),
        s.loads_at::<buffered::Untagged>(token, now()).err(),
        s.loads_at::<buffered::Flattened>(token, now()).err(),
        s.loads_at::<buffered::Internal>(token, now()).err(),
        s.loads_at::<buffered::Adjacent>(token, now()).err(),
    ];
    for e in results.iter().flatten() {
        assert_rejection(e);
    }
    match s.loads_at::<serde_json::Value>(token, now()) {
        Ok(_) => true,
        Err(e) => {
            assert_rejection(&e);
            false
        }
    }
}
