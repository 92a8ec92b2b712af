//! Secret keys, key ids and the HKDF derivation of per-salt subkeys.

use std::fmt;
use std::path::Path;

use base64::engine::general_purpose::{STANDARD_NO_PAD_INDIFFERENT, URL_SAFE_NO_PAD_INDIFFERENT};
use base64::Engine as _;
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::aead::{AeadKey, KEY_LEN};
use crate::Error;

/// HKDF-Extract salt: binds every derived value to this crate and wire format version.
pub(crate) const HKDF_EXTRACT_SALT: &[u8] = b"itsclassified/v1";
/// HKDF-Expand info for the 4-byte key id.
pub(crate) const HKDF_INFO_KEY_ID: &[u8] = b"itsclassified/v1 kid";
/// HKDF-Expand info prefix for the 32-byte encryption subkey; the serializer's salt follows it.
pub(crate) const HKDF_INFO_ENC_PREFIX: &[u8] = b"itsclassified/v1 enc ";

/// A secret of at least [`SecretKey::MIN_LEN`] random bytes, from which every key of a
/// [`TimedSerializer`](crate::TimedSerializer) is derived.
///
/// The bytes are wiped from memory when the key is dropped. `Debug` prints only the key id;
/// there is no `Display`, no `Clone` and no way to read the bytes back. Keep secrets out of
/// source code: load them from the environment ([`SecretKey::from_env`],
/// [`SecretKey::list_from_env`]) or from a file ([`SecretKey::from_file`]).
///
/// ```
/// use itsclassified::SecretKey;
///
/// let key = SecretKey::generate();
/// assert!(!format!("{key:?}").contains("["));
///
/// let key = SecretKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8")?;
/// assert_eq!(key.key_id().to_string(), key.key_id().to_string());
/// # Ok::<(), itsclassified::Error>(())
/// ```
pub struct SecretKey {
    bytes: Zeroizing<Vec<u8>>,
}

impl SecretKey {
    /// The minimum length of a secret, in bytes.
    pub const MIN_LEN: usize = 32;
    /// The length of the secrets that [`SecretKey::generate`] makes, in bytes.
    pub const GENERATED_LEN: usize = 32;

    /// A new secret of [`SecretKey::GENERATED_LEN`] bytes from the operating system's random
    /// number generator.
    ///
    /// # Panics
    /// If the operating system's random number generator fails, which on supported platforms
    /// does not happen once the system has booted. [`SecretKey::try_generate`] returns that as
    /// an error instead.
    ///
    /// ```
    /// let key = itsclassified::SecretKey::generate();
    /// println!("{}", key.key_id());
    /// ```
    pub fn generate() -> SecretKey {
        match Self::try_generate() {
            Ok(key) => key,
            Err(_) => panic!("the operating system's random number generator failed"),
        }
    }

    /// Like [`SecretKey::generate`], but returns [`Error::Rng`] if the operating system's
    /// random number generator fails.
    ///
    /// ```
    /// let key = itsclassified::SecretKey::try_generate()?;
    /// # Ok::<(), itsclassified::Error>(())
    /// ```
    pub fn try_generate() -> Result<SecretKey, Error> {
        let mut bytes = Zeroizing::new(vec![0u8; Self::GENERATED_LEN]);
        getrandom::fill(&mut bytes).map_err(|_| Error::Rng)?;
        Ok(SecretKey { bytes })
    }

    /// A key from raw secret bytes, at least [`SecretKey::MIN_LEN`] of them.
    ///
    /// The bytes must come from a cryptographically secure random source: a password or a
    /// passphrase is not a key. Shorter input fails with [`Error::KeyTooShort`], which states
    /// the lengths, never the bytes.
    ///
    /// ```
    /// use itsclassified::{Error, SecretKey};
    ///
    /// let key = SecretKey::from_bytes(&[7u8; 32])?;
    /// assert!(matches!(SecretKey::from_bytes(b"hunter2"), Err(Error::KeyTooShort { min: 32, got: 7 })));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Result<SecretKey, Error> {
        if bytes.len() < Self::MIN_LEN {
            return Err(Error::KeyTooShort {
                min: Self::MIN_LEN,
                got: bytes.len(),
            });
        }
        Ok(SecretKey {
            bytes: Zeroizing::new(bytes.to_vec()),
        })
    }

    /// A key from base64 text: the standard or the URL-safe alphabet, padded or not, with
    /// surrounding whitespace ignored. This is the form [`SecretKey::to_base64`] and the
    /// command-line `keygen` print.
    ///
    /// ```
    /// use itsclassified::SecretKey;
    ///
    /// let a = SecretKey::from_base64("+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/8=")?;
    /// let b = SecretKey::from_base64("-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_8")?;
    /// assert_eq!(a.key_id(), b.key_id());
    /// # Ok::<(), itsclassified::Error>(())
    /// ```
    pub fn from_base64(text: &str) -> Result<SecretKey, Error> {
        let text = text.trim().trim_end_matches('=');
        let url_safe = text.bytes().any(|b| b == b'-' || b == b'_');
        let engine = if url_safe {
            &URL_SAFE_NO_PAD_INDIFFERENT
        } else {
            &STANDARD_NO_PAD_INDIFFERENT
        };
        let mut bytes = Zeroizing::new(Vec::new());
        engine
            .decode_vec(text, &mut bytes)
            .map_err(|_| Error::KeyEncoding)?;
        Self::from_bytes(&bytes)
    }

    /// The key as unpadded base64url text, the form to store in an environment variable or a
    /// key file. The returned string is wiped when dropped.
    ///
    /// ```
    /// use itsclassified::SecretKey;
    ///
    /// let key = SecretKey::generate();
    /// let text = key.to_base64();
    /// assert_eq!(SecretKey::from_base64(&text)?.key_id(), key.key_id());
    /// # Ok::<(), itsclassified::Error>(())
    /// ```
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&*self.bytes))
    }

    /// One key, base64, from the environment variable `var`. Errors name the variable,
    /// never its value.
    ///
    /// ```
    /// # unsafe { std::env::set_var("MY_APP_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8") };
    /// let key = itsclassified::SecretKey::from_env("MY_APP_KEY")?;
    /// # Ok::<(), itsclassified::Error>(())
    /// ```
    pub fn from_env(var: &str) -> Result<SecretKey, Error> {
        let value = Zeroizing::new(read_env(var)?);
        Self::from_base64(&value).map_err(|e| e.in_source(format!("environment variable {var}")))
    }

    /// A list of keys, base64, comma-separated, primary first, from the environment variable
    /// `var` (such as `ITSCLASSIFIED_KEYS`): the form [`TimedSerializer::with_keys`] takes.
    /// Whitespace around each key is ignored; an empty list is [`Error::NoKeys`].
    ///
    /// [`TimedSerializer::with_keys`]: crate::TimedSerializer::with_keys
    ///
    /// ```
    /// # unsafe { std::env::set_var("MY_APP_KEYS", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8, AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8") };
    /// use itsclassified::{SecretKey, TimedSerializer};
    ///
    /// let keys = SecretKey::list_from_env("MY_APP_KEYS")?;
    /// assert_eq!(keys.len(), 2);
    /// let s = TimedSerializer::with_keys(keys, "session")?;
    /// # Ok::<(), itsclassified::Error>(())
    /// ```
    pub fn list_from_env(var: &str) -> Result<Vec<SecretKey>, Error> {
        let value = Zeroizing::new(read_env(var)?);
        let keys = parse_list(value.split(','), |n| {
            format!("environment variable {var}, key {n}")
        })?;
        if keys.is_empty() {
            return Err(Error::NoKeys.in_source(format!("environment variable {var}")));
        }
        Ok(keys)
    }

    /// Keys from a file: one base64 key a line, primary first; blank lines and lines starting
    /// with `#` are skipped. Errors name the file and line, never the key. A file larger than
    /// 64 KiB is refused without being read to the end.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("itsclassified-doc-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let path = dir.join("keys");
    /// # std::fs::write(&path, "# primary\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n").unwrap();
    /// let keys = itsclassified::SecretKey::list_from_file(&path)?;
    /// assert_eq!(keys.len(), 1);
    /// # Ok::<(), itsclassified::Error>(())
    /// ```
    pub fn list_from_file(path: impl AsRef<Path>) -> Result<Vec<SecretKey>, Error> {
        let path = path.as_ref();
        let text = read_key_file(path).map_err(|source| Error::KeyFile {
            path: path.to_path_buf(),
            source,
        })?;
        // Blank and comment lines are kept as empty entries so that line numbers stay right.
        let lines = text.lines().map(|line| {
            let line = line.trim();
            if line.starts_with('#') {
                ""
            } else {
                line
            }
        });
        let keys = parse_list(lines, |n| format!("key file {}, line {n}", path.display()))?;
        if keys.is_empty() {
            return Err(Error::NoKeys.in_source(format!("key file {}", path.display())));
        }
        Ok(keys)
    }

    /// Exactly one key from a file in the format of [`SecretKey::list_from_file`].
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("itsclassified-doc1-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let path = dir.join("key");
    /// # std::fs::write(&path, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n").unwrap();
    /// let key = itsclassified::SecretKey::from_file(&path)?;
    /// # Ok::<(), itsclassified::Error>(())
    /// ```
    pub fn from_file(path: impl AsRef<Path>) -> Result<SecretKey, Error> {
        let path = path.as_ref();
        let mut keys = Self::list_from_file(path)?;
        match keys.pop() {
            Some(key) if keys.is_empty() => Ok(key),
            _ => Err(Error::MultipleKeys.in_source(format!("key file {}", path.display()))),
        }
    }

    /// The key id of this secret: the same for every salt, written in clear in every token made
    /// under it (see SPEC.md). Useful to tell keys apart in logs and during rotation.
    ///
    /// ```
    /// let key = itsclassified::SecretKey::from_bytes(&[0u8; 32])?;
    /// assert_eq!(key.key_id().to_string(), format!("{:08x}", key.key_id().get()));
    /// # Ok::<(), itsclassified::Error>(())
    /// ```
    pub fn key_id(&self) -> KeyId {
        Extracted::new(self).key_id()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("key_id", &self.key_id())
            .field("bytes", &"<redacted>")
            .finish()
    }
}

/// The largest key file read: far more than any key ring needs, and a bound on what a wrong
/// path (`/dev/zero`, a log file) can make the process read.
const MAX_KEY_FILE_LEN: u64 = 64 * 1024;

fn read_key_file(path: &Path) -> std::io::Result<Zeroizing<String>> {
    use std::io::Read as _;
    let mut text = Zeroizing::new(String::new());
    std::fs::File::open(path)?
        .take(MAX_KEY_FILE_LEN + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_KEY_FILE_LEN {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "larger than 64 KiB: not a key file",
        ));
    }
    Ok(text)
}

fn read_env(var: &str) -> Result<String, Error> {
    std::env::var(var).map_err(|_| Error::KeyEnvMissing {
        var: var.to_string(),
    })
}

/// Parses base64 keys, one an entry, skipping empty entries; `origin(n)` names entry `n`
/// (1-based) in errors.
fn parse_list<'a>(
    entries: impl Iterator<Item = &'a str>,
    origin: impl Fn(usize) -> String,
) -> Result<Vec<SecretKey>, Error> {
    let mut keys = Vec::new();
    for (i, entry) in entries.enumerate() {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        keys.push(SecretKey::from_base64(entry).map_err(|e| e.in_source(origin(i + 1)))?);
    }
    Ok(keys)
}

/// The key id of a secret: 4 bytes derived by HKDF, written big-endian in every token's header.
///
/// It names the secret whatever the salt, and is public: it is readable in every token. Its
/// `Display` is 8 lowercase hex digits.
///
/// ```
/// use itsclassified::KeyId;
/// assert_eq!(KeyId::new(0x0102_0a0b).to_string(), "01020a0b");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(u32);

impl KeyId {
    /// A key id from its numeric value.
    ///
    /// ```
    /// assert_eq!(itsclassified::KeyId::new(7).get(), 7);
    /// ```
    pub const fn new(id: u32) -> KeyId {
        KeyId(id)
    }

    /// The numeric value.
    ///
    /// ```
    /// assert_eq!(itsclassified::KeyId::new(7).get(), 7);
    /// ```
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

/// The HKDF pseudorandom key of one secret (`PRK = HKDF-Extract(salt, secret)`).
struct Extracted(Hkdf<Sha256>);

impl Extracted {
    fn new(key: &SecretKey) -> Self {
        Extracted(Hkdf::<Sha256>::new(Some(HKDF_EXTRACT_SALT), &key.bytes))
    }

    fn key_id(&self) -> KeyId {
        let mut id = [0u8; 4];
        // 4 bytes is far below HKDF-SHA256's limit of 255 * 32 bytes.
        self.0
            .expand(HKDF_INFO_KEY_ID, &mut id)
            .expect("4 bytes is a valid HKDF output length");
        KeyId(u32::from_be_bytes(id))
    }

    fn subkey(&self, salt: &[u8]) -> AeadKey {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        self.0
            .expand_multi_info(&[HKDF_INFO_ENC_PREFIX, salt], &mut *key)
            .expect("32 bytes is a valid HKDF output length");
        AeadKey::new(&key)
    }
}

/// A secret reduced to what the sealing layer needs for one salt: its key id and its AEAD
/// subkey. The subkey is wiped on drop (see `crate::aead` for what each backend keeps).
pub(crate) struct DerivedKey {
    pub(crate) id: KeyId,
    pub(crate) aead: AeadKey,
}

impl DerivedKey {
    /// Runs HKDF once for this secret and salt; the secret itself is not kept.
    pub(crate) fn derive(key: &SecretKey, salt: &[u8]) -> DerivedKey {
        let prk = Extracted::new(key);
        DerivedKey {
            id: prk.key_id(),
            aead: prk.subkey(salt),
        }
    }
}

impl fmt::Debug for DerivedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DerivedKey")
            .field("id", &self.id)
            .field("aead", &"<redacted>")
            .finish()
    }
}
