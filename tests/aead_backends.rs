//! The `ring` backend against `chacha20poly1305`'s `XChaCha20Poly1305`, through the public API.
//!
//! Built only with the features `ring` and `hazmat` (Cargo.toml). The crate seals with the
//! backend of the build (HChaCha20 + ring); the test computes the same token independently from
//! SPEC.md: HKDF-SHA256 subkey, `XChaCha20Poly1305` with the 13-byte header as AAD. Both ways:
//! the crate's token must equal the reference byte for byte, and a reference token must load
//! in the crate to the same plaintext; a flipped tag bit must be refused. The AEAD seam itself
//! (random AAD, messages up to 64 KiB, the draft-irtf-cfrg-xchacha vector) is tested inside
//! `src/aead.rs`; `tests/vectors.rs` runs the v1 vectors under every feature set.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use std::time::{Duration, UNIX_EPOCH};

use itsclassified::{hazmat, Error, SecretKey, TimedSerializer};
use proptest::prelude::*;
use serde_bytes::ByteBuf;

/// The longest plaintext whose token fits in the 64 KiB limit: 49 152 raw bytes less 53.
const MAX_PLAINTEXT: usize = 49_152 - 53;

/// Deterministic filler bytes (SplitMix64), so that proptest draws a seed and a length instead
/// of tens of thousands of separate byte values.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// SPEC.md §1: the AEAD subkey of (secret, salt).
fn reference_aead(secret: &[u8], salt: &[u8]) -> XChaCha20Poly1305 {
    let prk = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"itsclassified/v1"), secret);
    let mut key = [0u8; 32];
    prk.expand_multi_info(&[b"itsclassified/v1 enc ", salt], &mut key)
        .unwrap();
    XChaCha20Poly1305::new(&key.into())
}

/// SPEC.md §2: the raw token, sealed by `XChaCha20Poly1305`.
fn reference_token(
    aead: &XChaCha20Poly1305,
    key_id: u32,
    issued_at: u64,
    nonce: [u8; 24],
    plaintext: &[u8],
) -> Vec<u8> {
    let mut raw = vec![1u8];
    raw.extend_from_slice(&key_id.to_be_bytes());
    raw.extend_from_slice(&issued_at.to_be_bytes());
    raw.extend_from_slice(&nonce);
    raw.extend_from_slice(plaintext);
    let (prefix, body) = raw.split_at_mut(37);
    let tag = aead
        .encrypt_inout_detached(&XNonce::from(nonce), &prefix[..13], body.into())
        .unwrap();
    raw.extend_from_slice(&tag);
    raw
}

fn serializer(secret: &[u8], salt: &[u8]) -> TimedSerializer {
    TimedSerializer::new(SecretKey::from_bytes(secret).unwrap(), salt)
        .no_expiry()
        .max_token_len(TimedSerializer::MAX_TOKEN_LEN_LIMIT)
}

proptest! {
    // Each case seals and opens up to 48 KiB twice in a debug build: 256 cases take about five seconds.
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn ring_backend_matches_xchacha20poly1305(
        secret in prop::array::uniform32(any::<u8>()),
        salt in prop::collection::vec(any::<u8>(), 0..40),
        nonce in prop::array::uniform24(any::<u8>()),
        // Up to 2100: loads refuses a token issued in the future, so each load runs "then".
        issued_at in 0..=4_102_444_800u64,
        seed in any::<u64>(),
        // Short messages are the common case; long ones reach past several ChaCha20 blocks.
        len in prop_oneof![0..=80usize, 0..=MAX_PLAINTEXT - 5],
        flip in 0..128usize,
    ) {
        let s = serializer(&secret, &salt);
        let key_id = s.primary_key_id().get();
        let reference = reference_aead(&secret, &salt);
        let message = bytes(seed, len);
        let then = UNIX_EPOCH + Duration::from_secs(issued_at);

        // Crate (ring backend) -> reference: byte for byte.
        let ours = hazmat::seal_bytes_with_nonce(&s, &message, nonce, issued_at).unwrap();
        let expected = reference_token(&reference, key_id, issued_at, nonce, &message);
        prop_assert_eq!(URL_SAFE_NO_PAD.decode(&ours).unwrap(), expected.clone());

        // Reference -> crate: a token sealed by XChaCha20Poly1305 around a MessagePack bin
        // loads to the same bytes.
        let packed = rmp_serde::to_vec(&ByteBuf::from(message.clone())).unwrap();
        let theirs = reference_token(&reference, key_id, issued_at, nonce, &packed);
        let theirs = URL_SAFE_NO_PAD.encode(&theirs);
        prop_assert_eq!(&s.loads_at::<ByteBuf>(&theirs, then).unwrap().into_vec(), &message);

        // The raw message sealed by the reference authenticates in the crate (it is not one
        // MessagePack value, hence Payload, which comes only after authentication)...
        if len > 0 && rmp_serde::from_slice::<serde::de::IgnoredAny>(&message).is_err() {
            let raw = URL_SAFE_NO_PAD.encode(&expected);
            prop_assert!(matches!(s.loads_at::<ByteBuf>(&raw, then), Err(Error::Payload)));
        }

        // ... and any flipped bit of the tag is refused, both ways.
        let mut tampered = expected;
        let at = tampered.len() - 16 + flip / 8;
        tampered[at] ^= 1 << (flip % 8);
        let tampered = URL_SAFE_NO_PAD.encode(&tampered);
        prop_assert!(matches!(s.loads_at::<ByteBuf>(&tampered, then), Err(Error::Invalid)));
        let mut raw = URL_SAFE_NO_PAD.decode(&ours).unwrap();
        let at = raw.len() - 16 + flip / 8;
        raw[at] ^= 1 << (flip % 8);
        let (prefix, body) = raw.split_at_mut(37);
        let (ciphertext, tag) = body.split_at_mut(len);
        prop_assert!(reference
            .decrypt_inout_detached(
                &XNonce::from(nonce),
                &prefix[..13],
                ciphertext.into(),
                &chacha20poly1305::Tag::try_from(&*tag).unwrap(),
            )
            .is_err());
    }
}
