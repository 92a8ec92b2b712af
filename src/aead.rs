//! The AEAD seam: XChaCha20-Poly1305 under one 32-byte subkey, with two interchangeable
//! implementations chosen at build time. Nothing outside this module knows which one is in use.
//!
//! - Default: `chacha20poly1305`'s `XChaCha20Poly1305`, pure Rust; its key state is wiped on
//!   drop (the `zeroize` feature).
//! - Feature `ring`: the construction of draft-irtf-cfrg-xchacha §2.3 spelled out: HChaCha20
//!   (the `chacha20` crate) of the subkey and the first 16 nonce bytes gives a per-token key;
//!   ring's IETF ChaCha20-Poly1305 runs under it with the nonce `00000000 || nonce[16..24]`.
//!   Same ciphertext and tag, byte for byte (`tests/aead_backends.rs`). The subkey and each
//!   per-token key are held in `Zeroizing` buffers; the copy ring makes inside its
//!   `LessSafeKey` is not wiped on drop (ring does not zeroize).
//!
//! Both backends refuse only messages longer than about 256 GiB (the 32-bit ChaCha20 block
//! counter would wrap), far above anything this crate seals (at most [`MAX_MESSAGE_LEN`]); so
//! sealing here cannot fail, and opening fails only when authentication does.

use std::fmt;

/// Length of the 32-byte subkey derived by HKDF (SPEC.md §1).
pub(crate) const KEY_LEN: usize = 32;
/// XChaCha20-Poly1305 nonce length.
pub(crate) const NONCE_LEN: usize = 24;
/// Poly1305 tag length.
pub(crate) const TAG_LEN: usize = 16;
/// The longest message sealed or opened here: no token string is longer than 64 KiB (the
/// crate's `MAX_TOKEN_LEN_LIMIT`, asserted in `wire.rs`), and its raw bytes are shorter than
/// its text. Both backends accept up to 2^38 - 64 bytes.
pub(crate) const MAX_MESSAGE_LEN: usize = 64 * 1024;

// The sizes are XChaCha20-Poly1305's, whichever backend runs: a change of cipher cannot
// silently shift a field of the token.
mod sizes {
    use chacha20poly1305::aead::array::typenum::Unsigned as _;
    use chacha20poly1305::{AeadCore, KeySizeUser, XChaCha20Poly1305};
    const _: () = assert!(super::KEY_LEN == <XChaCha20Poly1305 as KeySizeUser>::KeySize::USIZE);
    const _: () = assert!(super::NONCE_LEN == <XChaCha20Poly1305 as AeadCore>::NonceSize::USIZE);
    const _: () = assert!(super::TAG_LEN == <XChaCha20Poly1305 as AeadCore>::TagSize::USIZE);
}

/// One XChaCha20-Poly1305 key: the HKDF subkey of one (secret, salt).
pub(crate) struct AeadKey(backend::Key);

impl AeadKey {
    /// The key for a 32-byte subkey. The caller keeps (and wipes) its own copy.
    pub(crate) fn new(subkey: &[u8; KEY_LEN]) -> AeadKey {
        AeadKey(backend::Key::new(subkey))
    }

    /// Encrypts `buf` in place and returns the tag.
    ///
    /// Precondition: `buf.len() <= MAX_MESSAGE_LEN` (64 KiB), which every caller guarantees by
    /// refusing longer tokens before sealing (`Error::TooLong`). The backends fail only above
    /// 256 GiB, so this function has no error to return; a longer message is a bug in the
    /// caller, caught by `debug_assert!` in debug builds.
    pub(crate) fn seal_in_place_detached(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> [u8; TAG_LEN] {
        debug_assert!(
            buf.len() <= MAX_MESSAGE_LEN,
            "message above the crate's limit"
        );
        self.0.seal(nonce, aad, buf)
    }

    /// Authenticates `buf` (the ciphertext), `aad` and `tag`, then decrypts `buf` in place.
    /// On failure `buf` holds no plaintext (it is left as it was, or zeroed) and the caller
    /// must not use it.
    pub(crate) fn open_in_place_detached(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), ()> {
        // Tokens are bounded before they are decoded; a longer message simply fails to open
        // in release builds (both backends accept it, and authentication decides).
        debug_assert!(
            buf.len() <= MAX_MESSAGE_LEN,
            "message above the crate's limit"
        );
        self.0.open(nonce, aad, buf, tag)
    }
}

impl fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AeadKey(<redacted>)")
    }
}

// One file a backend, so that mutation testing mutates each under the build that compiles it
// (scripts/mutants.sh: the core run for rustcrypto.rs, the ring run for ring.rs).
#[cfg(not(feature = "ring"))]
#[path = "aead/rustcrypto.rs"]
mod backend;

#[cfg(feature = "ring")]
#[path = "aead/ring.rs"]
mod backend;

#[cfg(test)]
mod tests {
    use super::*;

    /// draft-irtf-cfrg-xchacha-03, appendix A.3.1: the AEAD_XChaCha20_Poly1305 example.
    #[test]
    fn draft_xchacha_vector() {
        let key: [u8; 32] = std::array::from_fn(|i| 0x80 + i as u8);
        let nonce: [u8; 24] = std::array::from_fn(|i| 0x40 + i as u8);
        let aad = hex("50515253c0c1c2c3c4c5c6c7");
        let plaintext = b"Ladies and Gentlemen of the class of '99: If I could offer you only one \
tip for the future, sunscreen would be it.";
        let ciphertext = hex(concat!(
            "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb",
            "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452",
            "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9",
            "21f9664c97637da9768812f615c68b13b52e",
        ));
        let tag = hex("c0875924c1c7987947deafd8780acf49");

        let k = AeadKey::new(&key);
        let mut buf = plaintext.to_vec();
        let got = k.seal_in_place_detached(&nonce, &aad, &mut buf);
        assert_eq!(buf, ciphertext);
        assert_eq!(got.to_vec(), tag);

        k.open_in_place_detached(&nonce, &aad, &mut buf, &got)
            .expect("the vector opens");
        assert_eq!(buf, plaintext);

        // Any flipped bit of the tag, the AAD or the nonce is refused.
        let mut bad_tag = got;
        bad_tag[15] ^= 0x80;
        let mut buf = ciphertext.clone();
        assert!(k
            .open_in_place_detached(&nonce, &aad, &mut buf, &bad_tag)
            .is_err());
        let mut bad_nonce = nonce;
        bad_nonce[23] ^= 1;
        let mut buf = ciphertext.clone();
        assert!(k
            .open_in_place_detached(&bad_nonce, &aad, &mut buf, &got)
            .is_err());
        let mut buf = ciphertext.clone();
        assert!(k
            .open_in_place_detached(&nonce, &aad[1..], &mut buf, &got)
            .is_err());
    }

    /// The `ring` backend against `chacha20poly1305`'s `XChaCha20Poly1305` on the seam itself:
    /// random keys, nonces, AAD and messages up to 64 KiB, both ways, tampered tags refused.
    /// (In the default build both sides would be the same code, so it runs only with `ring`.)
    #[cfg(feature = "ring")]
    mod differential {
        use chacha20poly1305::{AeadInOut, KeyInit, Tag, XChaCha20Poly1305, XNonce};
        use proptest::prelude::*;

        use super::super::{AeadKey, MAX_MESSAGE_LEN};

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn matches_xchacha20poly1305(
                key in prop::array::uniform32(any::<u8>()),
                nonce in prop::array::uniform24(any::<u8>()),
                aad in prop::collection::vec(any::<u8>(), 0..80),
                len in prop_oneof![0..=130usize, 0..=MAX_MESSAGE_LEN],
                fill in any::<u8>(),
                flip in 0..128usize,
            ) {
                let message: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(31) ^ fill).collect();
                let ours = AeadKey::new(&key);
                let reference = XChaCha20Poly1305::new(&key.into());

                let mut a = message.clone();
                let tag_a = ours.seal_in_place_detached(&nonce, &aad, &mut a);
                let mut b = message.clone();
                let tag_b = reference
                    .encrypt_inout_detached(&XNonce::from(nonce), &aad, b.as_mut_slice().into())
                    .unwrap();
                prop_assert_eq!(&a, &b);
                prop_assert_eq!(tag_a, <[u8; 16]>::from(tag_b));

                // Each opens what the other sealed.
                let mut opened = b.clone();
                prop_assert!(ours.open_in_place_detached(&nonce, &aad, &mut opened, &tag_a).is_ok());
                prop_assert_eq!(&opened, &message);
                let mut opened = a.clone();
                prop_assert!(reference
                    .decrypt_inout_detached(&XNonce::from(nonce), &aad, opened.as_mut_slice().into(), &Tag::from(tag_a))
                    .is_ok());
                prop_assert_eq!(&opened, &message);

                // A flipped tag bit is refused, and no plaintext is left in the buffer.
                let mut bad = tag_a;
                bad[flip / 8] ^= 1 << (flip % 8);
                let mut buf = a.clone();
                prop_assert!(ours.open_in_place_detached(&nonce, &aad, &mut buf, &bad).is_err());
                prop_assert!(len == 0 || buf != message);
            }
        }
    }

    #[test]
    fn a_key_prints_as_redacted_and_never_as_its_bytes() {
        let key = AeadKey::new(&[0xab; KEY_LEN]);
        let shown = format!("{key:?}");
        assert_eq!(shown, "AeadKey(<redacted>)");
        assert!(!shown.to_lowercase().contains("ab, ab") && !shown.contains("171"));
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
