//! Arbitrary plaintext, sealed with the test key through the deterministic core, then loaded
//! into several types. The fuzzer cannot forge a tag, so this is the target that reaches the
//! MessagePack framing check and rmp-serde. Checks the framing check against rmpv, an
//! independent parser: a plaintext loads (as `IgnoredAny`) exactly when it is one complete
//! MessagePack value with nothing after it, nested at most 128 deep (rmpv differs on one
//! point: it reads the reserved marker 0xc1 as nil, which the spec refuses).
#![no_main]

use itsclassified::{hazmat, Error};
use itsclassified_fuzz::{load_every_type, now, serializer, T0};
use libfuzzer_sys::fuzz_target;
use rmpv::Value;

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| depth(k).max(depth(v)))
                .max()
                .unwrap_or(0)
        }
        _ => 0,
    }
}

/// rmpv's verdict: one complete value, all bytes used, at most 128 nested containers.
fn oracle(plaintext: &[u8]) -> bool {
    let mut rest = plaintext;
    match rmpv::decode::read_value(&mut rest) {
        Ok(v) => rest.is_empty() && depth(&v) <= 128,
        Err(_) => false,
    }
}

fuzz_target!(|plaintext: &[u8]| {
    let s = serializer();
    let token = match hazmat::seal_bytes_with_nonce(&s, plaintext, [9; 24], T0) {
        Ok(token) => token,
        Err(Error::TooLong { .. }) => return,
        Err(e) => panic!("sealing failed: {e:?}"),
    };
    load_every_type(&s, &token);
    let ours = match s.loads_at::<serde::de::IgnoredAny>(&token, now()) {
        Ok(_) => true,
        Err(Error::Payload) => false,
        Err(e) => panic!("authentic token refused before the payload: {e:?}"),
    };
    let theirs = oracle(plaintext);
    if ours {
        assert!(theirs, "accepted a plaintext that rmpv refuses");
    } else if theirs {
        // rmpv reads the reserved marker 0xc1 as nil; the spec (and rmp-serde) refuse it.
        assert!(plaintext.contains(&0xc1), "refused a plaintext that rmpv accepts");
    }
});
