//! The pure-Rust AEAD backend (the default): RustCrypto's `chacha20poly1305`.

use chacha20poly1305::{AeadInOut, KeyInit, Tag, XChaCha20Poly1305, XNonce};

use super::{KEY_LEN, NONCE_LEN, TAG_LEN};

/// chacha20poly1305's key state, wiped on drop by its `zeroize` feature.
pub(super) struct Key(XChaCha20Poly1305);

impl Key {
    pub(super) fn new(subkey: &[u8; KEY_LEN]) -> Key {
        Key(XChaCha20Poly1305::new(subkey.into()))
    }

    pub(super) fn seal(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> [u8; TAG_LEN] {
        self.0
            .encrypt_inout_detached(&XNonce::from(*nonce), aad, buf.into())
            .expect("XChaCha20-Poly1305 seals any message below 256 GiB")
            .into()
    }

    pub(super) fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), ()> {
        self.0
            .decrypt_inout_detached(&XNonce::from(*nonce), aad, buf.into(), &Tag::from(*tag))
            .map_err(|_| ())
    }
}
