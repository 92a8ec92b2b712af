//! The `ring` AEAD backend (feature `ring`): HChaCha20 from RustCrypto's `chacha20`, then
//! ring's IETF ChaCha20-Poly1305.

use chacha20::{hchacha, R20};
use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, CHACHA20_POLY1305};
use zeroize::Zeroizing;

use super::{KEY_LEN, NONCE_LEN, TAG_LEN};

/// The HKDF subkey; every token gets its own ChaCha20-Poly1305 key from it and its nonce.
pub(super) struct Key(Zeroizing<[u8; KEY_LEN]>);

impl Key {
    pub(super) fn new(subkey: &[u8; KEY_LEN]) -> Key {
        Key(Zeroizing::new(*subkey))
    }

    /// draft-irtf-cfrg-xchacha §2.3: runs `f` with the IETF ChaCha20-Poly1305 key
    /// `HChaCha20(key, nonce[0..16])` and the nonce `00000000 || nonce[16..24]`. A closure
    /// rather than a return value: ring's key is a few hundred bytes (its key type has room
    /// for AES-GCM's tables), and returning it costs one more copy per token.
    #[inline(always)]
    fn with_ietf<R>(&self, nonce: &[u8; NONCE_LEN], f: impl FnOnce(&LessSafeKey, Nonce) -> R) -> R {
        let (head, tail) = nonce.split_at(16);
        let head: &[u8; 16] = head.try_into().expect("16 bytes");
        // The per-token key, wiped on drop (ring keeps its own copy, which is not).
        let subkey: Zeroizing<[u8; KEY_LEN]> =
            Zeroizing::new(hchacha::<R20>((&*self.0).into(), head.into()).0);
        let key = UnboundKey::new(&CHACHA20_POLY1305, &*subkey)
            .expect("a 32-byte key is a ChaCha20-Poly1305 key");
        let mut ietf_nonce = [0u8; 12];
        ietf_nonce[4..].copy_from_slice(tail);
        f(
            &LessSafeKey::new(key),
            Nonce::assume_unique_for_key(ietf_nonce),
        )
    }

    pub(super) fn seal(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> [u8; TAG_LEN] {
        let tag = self.with_ietf(nonce, |key, nonce| {
            key.seal_in_place_separate_tag(nonce, Aad::from(aad), buf)
                .expect("ChaCha20-Poly1305 seals any message below 256 GiB")
        });
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        out
    }

    pub(super) fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), ()> {
        // On a wrong tag ring zeroes `buf` before returning the error.
        self.with_ietf(nonce, |key, nonce| {
            key.open_in_place_separate_tag(nonce, Aad::from(aad), Tag::from(*tag), buf, 0..)
                .map(|_| ())
                .map_err(|_| ())
        })
    }
}
