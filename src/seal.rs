//! The bytes-level sealing layer: key ring, AEAD and the canonical base64url text form.
//!
//! Nothing here knows about serde or time policy: [`KeyRing::seal_with`] turns a header, a nonce
//! and plaintext bytes into a token string, [`KeyRing::open`] turns a token string back into an
//! authenticated header and plaintext.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use zeroize::Zeroize;

#[cfg(test)]
use crate::error::KeyError;
#[cfg(test)]
use crate::key::SecretKey;
use crate::key::{DerivedKey, KeyId, Prk};
use crate::wire::{
    decode_token, encode_token, encoded_len, max_raw_len, Header, TokenId, HEADER_LEN, MIN_RAW_LEN,
    NONCE_LEN, PREFIX_LEN, TAG_LEN,
};
use crate::Error;

/// A token that passed authentication: its header, which key of the ring opened it, and the
/// plaintext (wiped on drop).
pub(crate) struct Opened {
    pub(crate) header: Header,
    pub(crate) key_index: usize,
    /// Header, nonce and plaintext. Only the plaintext is secret: the header and nonce are in
    /// the token, and the bytes past the end (the tag, the decoder's spare room) are public or
    /// zero. So only the plaintext is wiped, a third of the volatile writes of wiping it all
    /// on a session-sized token.
    raw: Vec<u8>,
}

impl Opened {
    pub(crate) fn plaintext(&self) -> &[u8] {
        &self.raw[PREFIX_LEN..]
    }

    /// The first bytes of the token's nonce: its [`TokenId`].
    pub(crate) fn token_id(&self) -> TokenId {
        let mut id = [0u8; TokenId::LEN];
        id.copy_from_slice(&self.raw[HEADER_LEN..HEADER_LEN + TokenId::LEN]);
        TokenId::from_bytes(id)
    }
}

impl Drop for Opened {
    fn drop(&mut self) {
        self.raw[PREFIX_LEN..].zeroize();
    }
}

/// The writer the plaintext is serialized with: it appends to the token buffer, and when the
/// buffer is full moves its content into a larger one and wipes the old one. (A `Vec<u8>`
/// writer grows by reallocating, and the allocator frees the old block, plaintext inside.)
pub(crate) struct PlaintextWriter<'a>(&'a mut Vec<u8>);

impl PlaintextWriter<'_> {
    /// The plaintext written so far, after the header and nonce.
    pub(crate) fn plaintext(&self) -> &[u8] {
        &self.0[PREFIX_LEN..]
    }
}

impl std::io::Write for PlaintextWriter<'_> {
    #[inline]
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.write_all(data)?;
        Ok(data.len())
    }

    /// What rmp-serde calls: appends all of `data`, in a larger buffer if it does not fit.
    #[inline]
    fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        if self.0.capacity() - self.0.len() < data.len() {
            grow_wiping(self.0, data.len());
        }
        self.0.extend_from_slice(data);
        Ok(())
    }

    #[inline]
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Moves `buf` into a buffer with room for `more` bytes (at least twice as large), and wipes
/// the old one before it is freed.
#[cold]
#[inline(never)]
fn grow_wiping(buf: &mut Vec<u8>, more: usize) {
    let needed = buf.len().saturating_add(more);
    let mut larger = Vec::with_capacity(needed.max(buf.capacity().saturating_mul(2)));
    larger.extend_from_slice(buf);
    let mut old = std::mem::replace(buf, larger);
    // Vec's zeroize wipes its whole capacity.
    old.zeroize();
}

/// Plaintext room reserved by the first `seal_with` of a ring whose plaintext size is unknown.
const INITIAL_PLAINTEXT_CAPACITY: usize = 128;

/// The derived keys of one serializer, primary first, each for the serializer's salt.
pub(crate) struct KeyRing {
    keys: Vec<DerivedKey>,
    /// The largest plaintext sealed so far: the working buffer of the next token is sized for
    /// it, so that after the first few tokens a `dumps` allocates once for its buffer (instead
    /// of growing it, and wiping each old copy, as the serializer writes).
    plaintext_capacity: AtomicUsize,
}

impl KeyRing {
    /// Derives every key of the ring for `salt`, primary first. The PRKs were checked when
    /// they were extracted (`Prk::extract_all`: not empty, no two with one key id).
    ///
    /// The derived keys hold their subkeys inline, so they go into a vector sized once: a
    /// growing vector would free copies of the subkeys without wiping them.
    pub(crate) fn derive(prks: &[Prk], salt: &[u8]) -> KeyRing {
        let mut derived: Vec<DerivedKey> = Vec::with_capacity(prks.len());
        for prk in prks {
            derived.push(prk.derive(salt));
        }
        KeyRing::from_keys(derived)
    }

    /// A ring from secrets, for the tests: what a serializer builds, without the serializer.
    #[cfg(test)]
    pub(crate) fn new(
        keys: impl IntoIterator<Item = SecretKey>,
        salt: &[u8],
    ) -> Result<KeyRing, KeyError> {
        Ok(KeyRing::derive(&Prk::extract_all(keys)?, salt))
    }

    /// A ring of one key, for the tests.
    #[cfg(test)]
    pub(crate) fn single(key: &SecretKey, salt: &[u8]) -> KeyRing {
        KeyRing::derive(&[Prk::extract(key)], salt)
    }

    fn from_keys(keys: Vec<DerivedKey>) -> KeyRing {
        KeyRing {
            keys,
            plaintext_capacity: AtomicUsize::new(INITIAL_PLAINTEXT_CAPACITY),
        }
    }

    pub(crate) fn primary_id(&self) -> KeyId {
        self.keys[0].id
    }

    pub(crate) fn ids(&self) -> impl ExactSizeIterator<Item = KeyId> + '_ {
        self.keys.iter().map(|k| k.id)
    }

    /// Seals the plaintext that `write_plaintext` appends to the buffer under the primary key,
    /// with the given nonce and issued-at. Deterministic: the public API passes a fresh random
    /// nonce. `known_plaintext_len` is the plaintext's length when the caller knows it (it then
    /// sizes the buffer exactly); otherwise the largest plaintext sealed so far does.
    ///
    /// The plaintext is written into one buffer, sized from the largest plaintext this ring has
    /// sealed, and encrypted in place; on any error the buffer is wiped. When a payload larger
    /// than any before fills the buffer, [`PlaintextWriter`] moves it into a larger one and
    /// wipes the old one, so no copy of the plaintext is freed unwiped.
    pub(crate) fn seal_with(
        &self,
        nonce: &[u8; NONCE_LEN],
        issued_at: u64,
        max_len: usize,
        known_plaintext_len: Option<usize>,
        write_plaintext: impl FnOnce(&mut PlaintextWriter<'_>) -> Result<(), Error>,
    ) -> Result<String, Error> {
        let key = &self.keys[0];
        let max_raw = max_raw_len(max_len);
        let capacity_hint =
            known_plaintext_len.unwrap_or_else(|| self.plaintext_capacity.load(Ordering::Relaxed));
        // Layout (SPEC.md section 2): header || nonce || plaintext, encrypted in place, || tag.
        let mut buf = Vec::with_capacity((PREFIX_LEN + capacity_hint + TAG_LEN).min(max_raw));
        buf.extend_from_slice(
            &Header {
                key_id: key.id,
                issued_at,
            }
            .to_bytes(),
        );
        buf.extend_from_slice(nonce);
        if let Err(e) = write_plaintext(&mut PlaintextWriter(&mut buf)) {
            buf.zeroize();
            return Err(e);
        }
        let raw_len = buf.len() + TAG_LEN;
        if raw_len > max_raw {
            buf.zeroize();
            return Err(Error::TooLong {
                len: encoded_len(raw_len),
                max: max_len,
            });
        }
        if known_plaintext_len.is_none() {
            self.learn_plaintext_len(buf.len() - PREFIX_LEN, capacity_hint);
        }
        let (prefix, body) = buf.split_at_mut(PREFIX_LEN);
        // Cannot fail: the length was bounded above (see `AeadKey::seal_in_place_detached`).
        let tag = key
            .aead
            .seal_in_place_detached(nonce, &prefix[..HEADER_LEN], body);
        // From here the buffer holds only public token bytes.
        buf.extend_from_slice(&tag);
        Ok(encode_token(&buf))
    }

    /// Remembers a plaintext of `written` bytes, if larger than the `hint` its buffer was sized
    /// for, so that the next buffers are sized for it. Comparing first keeps the warm path free
    /// of writes to the counter every thread shares.
    fn learn_plaintext_len(&self, written: usize, hint: usize) {
        if written > hint {
            self.plaintext_capacity
                .fetch_max(written, Ordering::Relaxed);
        }
    }

    /// Decodes and authenticates a token: length, base64, version, key by id, then the AEAD.
    /// Nothing about time or payload is checked here.
    pub(crate) fn open(&self, token: &str, max_len: usize) -> Result<Opened, Error> {
        let mut raw = decode_token(token, max_len)?;
        let header = Header::parse_untrusted(&raw)?;
        let (key_index, key) = self
            .keys
            .iter()
            .enumerate()
            .find(|(_, k)| k.id == header.key_id)
            .ok_or(Error::UnknownKey)?;
        let len = raw.len();
        debug_assert!(len >= MIN_RAW_LEN);
        let (prefix, body) = raw.split_at_mut(PREFIX_LEN);
        let (ciphertext, tag) = body.split_at_mut(len - PREFIX_LEN - TAG_LEN);
        let tag = <&[u8; TAG_LEN]>::try_from(&*tag).map_err(|_| Error::Malformed)?;
        let nonce =
            <&[u8; NONCE_LEN]>::try_from(&prefix[HEADER_LEN..]).map_err(|_| Error::Malformed)?;
        // On failure the buffer holds no plaintext (see `AeadKey::open_in_place_detached`).
        key.aead
            .open_in_place_detached(nonce, &prefix[..HEADER_LEN], ciphertext, tag)
            .map_err(|_| Error::Invalid)?;
        raw.truncate(len - TAG_LEN);
        Ok(Opened {
            header,
            key_index,
            raw,
        })
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.ids()).finish()
    }
}

/// A fresh nonce from the operating system's random number generator.
pub(crate) fn random_nonce() -> Result<[u8; NONCE_LEN], Error> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|_| Error::Rng)?;
    Ok(nonce)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretKey {
        SecretKey::from_bytes(&[byte; 32]).unwrap()
    }

    #[test]
    fn debug_lists_the_key_ids_only() {
        let ring = KeyRing::new([key(0), key(1)], b"salt").unwrap();
        let ids: Vec<String> = ring.ids().map(|id| id.to_string()).collect();
        assert_eq!(ids[0], "b214fafa");
        assert_eq!(
            format!("{ring:?}"),
            format!("[KeyId(b214fafa), KeyId({})]", ids[1])
        );
    }

    #[test]
    fn the_plaintext_writer_appends_and_moves_to_a_larger_buffer_when_full() {
        use std::io::Write as _;
        let mut buf = vec![0u8; PREFIX_LEN];
        buf.reserve_exact(4);
        let capacity = buf.capacity();
        let mut writer = PlaintextWriter(&mut buf);
        assert_eq!(writer.write(b"ab").unwrap(), 2);
        writer.write_all(b"").unwrap();
        writer.write_all(b"cdefgh").unwrap();
        writer.flush().unwrap();
        assert_eq!(writer.plaintext(), b"abcdefgh");
        assert!(
            buf.capacity() >= 2 * capacity,
            "{} {capacity}",
            buf.capacity()
        );
        assert_eq!(buf.len(), PREFIX_LEN + 8);
    }

    /// The capacity of the buffer when the plaintext writer first sees it.
    fn capacity_seen(ring: &KeyRing, max_len: usize, known: Option<usize>) -> usize {
        let mut seen = 0;
        ring.seal_with(&[0; NONCE_LEN], 0, max_len, known, |buf| {
            assert_eq!(buf.0.len(), PREFIX_LEN);
            seen = buf.0.capacity();
            Ok(())
        })
        .unwrap();
        seen
    }

    #[test]
    fn buffer_is_sized_for_header_plaintext_and_tag() {
        let ring = KeyRing::single(&key(0), b"salt");
        let max = crate::wire::DEFAULT_MAX_TOKEN_LEN;
        // A known plaintext length sizes the buffer for exactly that token (Vec::with_capacity
        // of bytes allocates the capacity asked for).
        assert_eq!(
            capacity_seen(&ring, max, Some(1000)),
            PREFIX_LEN + 1000 + TAG_LEN
        );
        // Otherwise the largest plaintext sealed so far (at first, the initial guess).
        assert_eq!(
            capacity_seen(&ring, max, None),
            PREFIX_LEN + INITIAL_PLAINTEXT_CAPACITY + TAG_LEN
        );
        // Never more than the largest raw token the limit allows.
        let small = 200;
        assert_eq!(capacity_seen(&ring, small, Some(1000)), max_raw_len(small));
    }

    #[test]
    fn the_buffer_is_sized_for_the_largest_plaintext_of_unknown_length_so_far() {
        let ring = KeyRing::single(&key(0), b"salt");
        let max = crate::wire::DEFAULT_MAX_TOKEN_LEN;
        let seal = |len: usize, known: Option<usize>| {
            ring.seal_with(&[0; NONCE_LEN], 0, max, known, |buf| {
                buf.0.resize(PREFIX_LEN + len, 7);
                Ok(())
            })
            .unwrap();
        };
        let sized_for = |len: usize| PREFIX_LEN + len + TAG_LEN;
        seal(300, None);
        assert_eq!(capacity_seen(&ring, max, None), sized_for(300));
        // A smaller one changes nothing; nor does a larger one of known length (hazmat's
        // bytes), whose buffer was sized exactly for it.
        seal(50, None);
        seal(1000, Some(1000));
        assert_eq!(capacity_seen(&ring, max, None), sized_for(300));
        seal(301, None);
        assert_eq!(capacity_seen(&ring, max, None), sized_for(301));
    }
}
