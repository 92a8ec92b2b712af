//! Secret keys, key ids and the HKDF derivation of per-salt subkeys.

use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::{STANDARD_NO_PAD_INDIFFERENT, URL_SAFE_NO_PAD_INDIFFERENT};
use base64::Engine as _;
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize as _, Zeroizing};

use crate::aead::{AeadKey, KEY_LEN};
use crate::error::{KeyError, KeyErrorKind, KeyOrigin};

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
/// there is no `Display` and no way to read the bytes back. `Clone` makes a second copy, wiped
/// on its own drop. For one key ring serving two purposes (two salts), read the keys once, build
/// one serializer and make the other with
/// [`TimedSerializer::with_salt`](crate::TimedSerializer::with_salt) (with `reload`, one
/// `replace_keys` then reloads both), rather than read a key file twice (a rotation between the
/// two reads would give the two serializers different rings). Keep secrets out of
/// source code: load them from the environment ([`SecretKey::from_env`],
/// [`SecretKey::list_from_env`]) or from a file ([`SecretKey::from_file`]).
///
/// ```
/// use itsclassified::SecretKey;
///
/// let key = SecretKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8")?;
/// assert_eq!(
///     format!("{key:?}"),
///     r#"SecretKey { key_id: KeyId(1cd6b86b), bytes: "<redacted>" }"#
/// );
/// # Ok::<(), itsclassified::KeyError>(())
/// ```
#[derive(Clone)]
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

    /// Like [`SecretKey::generate`], but returns [`KeyErrorKind::Rng`] if the operating
    /// system's random number generator fails.
    ///
    /// ```
    /// let key = itsclassified::SecretKey::try_generate()?;
    /// # Ok::<(), itsclassified::KeyError>(())
    /// ```
    pub fn try_generate() -> Result<SecretKey, KeyError> {
        let mut bytes = Zeroizing::new(vec![0u8; Self::GENERATED_LEN]);
        getrandom::fill(&mut bytes).map_err(|_| KeyError::new(KeyErrorKind::Rng))?;
        Ok(SecretKey { bytes })
    }

    /// A key from raw secret bytes, at least [`SecretKey::MIN_LEN`] of them.
    ///
    /// The bytes must come from a cryptographically secure random source: a password or a
    /// passphrase is not a key. Shorter input fails with [`KeyErrorKind::TooShort`], which
    /// states the lengths, never the bytes.
    ///
    /// ```
    /// use itsclassified::{KeyErrorKind, SecretKey};
    ///
    /// let key = SecretKey::from_bytes(&[7u8; 32])?;
    /// let err = SecretKey::from_bytes(b"hunter2").unwrap_err();
    /// assert_eq!(err.kind(), KeyErrorKind::TooShort { min: 32, got: 7 });
    /// # Ok::<(), itsclassified::KeyError>(())
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Result<SecretKey, KeyError> {
        if bytes.len() < Self::MIN_LEN {
            return Err(KeyError::new(KeyErrorKind::TooShort {
                min: Self::MIN_LEN,
                got: bytes.len(),
            }));
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
    /// # Ok::<(), itsclassified::KeyError>(())
    /// ```
    pub fn from_base64(text: &str) -> Result<SecretKey, KeyError> {
        let text = text.trim().trim_end_matches('=');
        let url_safe = text.bytes().any(|b| b == b'-' || b == b'_');
        let engine = if url_safe {
            &URL_SAFE_NO_PAD_INDIFFERENT
        } else {
            &STANDARD_NO_PAD_INDIFFERENT
        };
        // Sized up front: a growing Vec would leave copies of the secret in freed memory.
        let mut bytes = Zeroizing::new(vec![0u8; base64::decoded_len_estimate(text.len())]);
        let len = engine
            .decode_slice(text, &mut bytes)
            .map_err(|_| KeyError::new(KeyErrorKind::NotBase64))?;
        Self::from_bytes(&bytes[..len])
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
    /// # Ok::<(), itsclassified::KeyError>(())
    /// ```
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&*self.bytes))
    }

    /// One key, base64, from the environment variable `var`. Errors name the variable,
    /// never its value (and not even its name if the name looks like a key: see
    /// [`KeyOrigin`]).
    ///
    /// ```
    /// # unsafe { std::env::set_var("MY_APP_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8") };
    /// let key = itsclassified::SecretKey::from_env("MY_APP_KEY")?;
    /// # Ok::<(), itsclassified::KeyError>(())
    /// ```
    pub fn from_env(var: &str) -> Result<SecretKey, KeyError> {
        let value = read_env(var)?;
        Self::from_base64(&value).map_err(|e| e.at(KeyOrigin::env(var, None)))
    }

    /// A list of keys, base64, comma-separated, primary first, from the environment variable
    /// `var` (such as `ITSCLASSIFIED_KEYS`): the form [`TimedSerializer::with_keys`] takes.
    /// Whitespace around each key is ignored; an empty list is [`KeyErrorKind::Empty`].
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
    /// # Ok::<(), itsclassified::KeyError>(())
    /// ```
    pub fn list_from_env(var: &str) -> Result<Vec<SecretKey>, KeyError> {
        let value = read_env(var)?;
        parse_list(value.split(','), |n| KeyOrigin::env(var, n))
    }

    /// Keys from a file: one base64 key a line, primary first; blank lines and lines starting
    /// with `#` are skipped. Errors name the file and line, never the key. A file larger than
    /// 64 KiB is refused without being read to the end; the text is read into one buffer sized
    /// from the file's length and wiped after parsing.
    ///
    /// The file is opened without blocking, so that a FIFO without a writer cannot hang the
    /// caller (opening one for reading blocks until a writer comes): a FIFO or pipe (such as
    /// `--keys-file <(vault read ...)`) that no process writes to within half a second is
    /// refused with [`KeyErrorKind::NoWriter`], and one whose writer has not finished after 10
    /// seconds with [`KeyErrorKind::Unreadable`].
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("itsclassified-doc-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let path = dir.join("keys");
    /// # std::fs::write(&path, "# primary\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n").unwrap();
    /// let keys = itsclassified::SecretKey::list_from_file(&path)?;
    /// assert_eq!(keys.len(), 1);
    /// # Ok::<(), itsclassified::KeyError>(())
    /// ```
    pub fn list_from_file(path: impl AsRef<Path>) -> Result<Vec<SecretKey>, KeyError> {
        let path = path.as_ref();
        let buf = read_key_file(path).map_err(|e| e.at(KeyOrigin::file(path, None)))?;
        let text = std::str::from_utf8(&buf).map_err(|_| {
            KeyError::io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "not UTF-8 text",
            ))
            .at(KeyOrigin::file(path, None))
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
        parse_list(lines, |n| KeyOrigin::file(path, n))
    }

    /// Exactly one key from a file in the format of [`SecretKey::list_from_file`].
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("itsclassified-doc1-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let path = dir.join("key");
    /// # std::fs::write(&path, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n").unwrap();
    /// let key = itsclassified::SecretKey::from_file(&path)?;
    /// # Ok::<(), itsclassified::KeyError>(())
    /// ```
    pub fn from_file(path: impl AsRef<Path>) -> Result<SecretKey, KeyError> {
        let path = path.as_ref();
        let mut keys = Self::list_from_file(path)?;
        match keys.pop() {
            Some(key) if keys.is_empty() => Ok(key),
            _ => Err(KeyError::new(KeyErrorKind::Multiple).at(KeyOrigin::file(path, None))),
        }
    }

    /// The key id of this secret: the same for every salt, written in clear in every token made
    /// under it (see SPEC.md). Useful to tell keys apart in logs and during rotation.
    ///
    /// ```
    /// use itsclassified::{SecretKey, TimedSerializer};
    ///
    /// let key = SecretKey::from_bytes(&[0u8; 32])?;
    /// assert_eq!(key.key_id().to_string(), "b214fafa");
    /// // Every token made under the key carries its id in clear.
    /// let token = TimedSerializer::new(key, "session").dumps(&1u8)?;
    /// assert_eq!(itsclassified::untrusted_header(&token)?.untrusted_key_id().to_string(), "b214fafa");
    /// # Ok::<(), itsclassified::Error>(())
    /// ```
    pub fn key_id(&self) -> KeyId {
        Prk::extract(self).key_id()
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

/// How long a FIFO or pipe is given to have a writer: a FIFO that nobody has opened for writing
/// reads as ended (non-blocking), and is refused once this has passed without a writer or data.
const WRITER_WAIT: Duration = Duration::from_millis(500);

/// How long a pipe with a writer is given to deliver the whole key file (`--keys-file <(vault
/// read ...)`): a writer that holds the pipe open and never finishes must not hang the caller.
const PIPE_READ_WAIT: Duration = Duration::from_secs(10);

/// The pause between two reads of a pipe that has nothing to read yet.
const PIPE_POLL: Duration = Duration::from_millis(5);

/// Reads a key file into one buffer sized from its length (capped at the limit) plus one byte
/// to see the end of the file: the buffer never grows, so no copy of the key text is left in
/// freed memory, and it is wiped on drop.
///
/// On Unix the file is opened non-blocking: opening a FIFO for reading blocks until a writer
/// opens it, for ever if none does, before any check could run. A regular file reads as
/// before; a FIFO, a pipe (`/dev/fd/N`) or a device is read with bounded waits
/// ([`WRITER_WAIT`] for a writer, [`PIPE_READ_WAIT`] in all).
fn read_key_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let too_large = || {
        KeyError::new(KeyErrorKind::FileTooLarge {
            max: MAX_KEY_FILE_LEN,
        })
    };
    // Elsewhere than unix there are no FIFOs to block on: a plain open. (Inline, not a
    // function of its own: cargo-mutants would mutate code this build does not compile.)
    #[cfg(unix)]
    let mut file = open_key_file(path)?;
    #[cfg(not(unix))]
    let mut file = std::fs::File::open(path).map_err(KeyError::io)?;
    let meta = file.metadata().map_err(KeyError::io)?;
    // A pipe or a device (`--keys-file <(...)`, /dev/zero) has no length to go by: it gets the
    // limit. Either way the capacity is at most 64 KiB + 1, so the conversion cannot truncate.
    let sized = meta.is_file();
    let capacity = if sized {
        if meta.len() > MAX_KEY_FILE_LEN {
            return Err(too_large());
        }
        meta.len() as usize + 1
    } else {
        MAX_KEY_FILE_LEN as usize + 1
    };
    let mut buf = Zeroizing::new(vec![0u8; capacity]);
    let filled = if sized {
        fill(&mut file, &mut buf).map_err(KeyError::io)?
    } else {
        #[cfg(unix)]
        let fifo = is_fifo(&meta);
        #[cfg(not(unix))]
        let fifo = false;
        fill_stream(&mut file, &mut buf, fifo, Instant::now())?
    };
    if filled == capacity {
        return Err(if sized {
            // More than the metadata said a moment ago (the file grew, or it is one of the
            // files, such as /proc's, whose stated length is not their content's).
            KeyError::io(std::io::Error::other(
                "the file is longer than its metadata says",
            ))
        } else {
            too_large()
        });
    }
    buf.truncate(filled);
    Ok(buf)
}

/// Opens a key file for reading without blocking on a FIFO that has no writer.
#[cfg(unix)]
fn open_key_file(path: &Path) -> Result<std::fs::File, KeyError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(KeyError::io)
}

/// True for a FIFO or a pipe: an empty read may mean "no writer yet" rather than the end.
#[cfg(unix)]
fn is_fifo(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt as _;
    meta.file_type().is_fifo()
}

/// Reads a stream opened non-blocking (a FIFO, a pipe, a device) into `buf` until it ends or
/// `buf` is full, and returns how much was read. For a `fifo`, nothing to read and no writer
/// (what a FIFO nobody opened reads as) is only taken for the end once some data came, or once
/// a writer was there (`WouldBlock`); before that, a writer gets [`WRITER_WAIT`] to turn up, after which
/// the file is refused as [`KeyErrorKind::NoWriter`]. A writer that keeps the stream open
/// without finishing is cut off after [`PIPE_READ_WAIT`] ([`KeyErrorKind::Unreadable`], a
/// timed-out I/O error).
fn fill_stream(
    reader: &mut impl std::io::Read,
    buf: &mut [u8],
    fifo: bool,
    started: Instant,
) -> Result<usize, KeyError> {
    use std::io::ErrorKind;
    let mut filled = 0;
    // A device (/dev/null) has no writer to wait for: its end is its end.
    let mut writer_seen = !fifo;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) if writer_seen => break,
            Ok(0) if started.elapsed() >= WRITER_WAIT => {
                return Err(KeyError::new(KeyErrorKind::NoWriter))
            }
            Ok(0) => std::thread::sleep(PIPE_POLL),
            Ok(n) => {
                filled += n;
                writer_seen = true;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                writer_seen = true;
                if started.elapsed() >= PIPE_READ_WAIT {
                    return Err(KeyError::io(std::io::Error::new(
                        ErrorKind::TimedOut,
                        "the writer did not finish within 10 seconds",
                    )));
                }
                std::thread::sleep(PIPE_POLL);
            }
            Err(e) => return Err(KeyError::io(e)),
        }
    }
    Ok(filled)
}

/// Reads into `buf` until it is full or the reader ends, and returns how much was read. A
/// read that a signal interrupted is tried again, as `Read::read_exact` does; unlike
/// `read_to_end`, nothing is read into another (unwiped) buffer first.
fn fill(reader: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn read_env(var: &str) -> Result<Zeroizing<String>, KeyError> {
    std::env::var(var)
        .map(Zeroizing::new)
        .map_err(|_| KeyError::new(KeyErrorKind::Missing).at(KeyOrigin::env(var, None)))
}

/// Parses base64 keys, one an entry, skipping empty entries; `origin(Some(n))` names entry `n`
/// (1-based) in errors, `origin(None)` the whole list, which must not be empty.
fn parse_list<'a>(
    entries: impl Iterator<Item = &'a str>,
    origin: impl Fn(Option<usize>) -> KeyOrigin,
) -> Result<Vec<SecretKey>, KeyError> {
    let mut keys = Vec::new();
    for (i, entry) in entries.enumerate() {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        keys.push(SecretKey::from_base64(entry).map_err(|e| e.at(origin(Some(i + 1))))?);
    }
    if keys.is_empty() {
        return Err(KeyError::new(KeyErrorKind::Empty).at(origin(None)));
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

/// The length of an HKDF-SHA256 pseudorandom key.
const PRK_LEN: usize = 32;

/// The HKDF pseudorandom key of one secret (`PRK = HKDF-Extract(salt, secret)`) with the key id
/// it gives, the form in which a serializer family keeps its keys (see `crate::ring_cell`): the
/// subkey of any salt is one HKDF-Expand away. The bytes are wiped on drop; `Debug` shows the
/// key id only.
///
/// For this crate's derivations the PRK is as good as the secret: whoever reads it can make
/// and open the tokens of every salt. The secret itself is still not kept.
pub(crate) struct Prk {
    id: KeyId,
    prk: Zeroizing<[u8; PRK_LEN]>,
}

impl Prk {
    /// Runs HKDF-Extract over the secret, and the Expand of its key id.
    pub(crate) fn extract(key: &SecretKey) -> Prk {
        let (mut out, hkdf) = Hkdf::<Sha256>::extract(Some(HKDF_EXTRACT_SALT), &key.bytes);
        let mut prk = Zeroizing::new([0u8; PRK_LEN]);
        prk.copy_from_slice(&out);
        out.as_mut_slice().zeroize();
        let mut id = [0u8; 4];
        // 4 bytes is far below HKDF-SHA256's limit of 255 * 32 bytes.
        hkdf.expand(HKDF_INFO_KEY_ID, &mut id)
            .expect("4 bytes is a valid HKDF output length");
        Prk {
            id: KeyId(u32::from_be_bytes(id)),
            prk,
        }
    }

    /// The PRKs of a key ring, primary first. Fails on an empty list or on two secrets with
    /// one key id.
    ///
    /// The secrets are collected first (moving a `SecretKey` moves only a pointer to its
    /// bytes), so that the PRKs, which hold their bytes inline, go into a vector sized once: a
    /// growing vector would free copies of them without wiping them.
    pub(crate) fn extract_all(
        keys: impl IntoIterator<Item = SecretKey>,
    ) -> Result<Vec<Prk>, KeyError> {
        let secrets: Vec<SecretKey> = keys.into_iter().collect();
        if secrets.is_empty() {
            return Err(KeyError::new(KeyErrorKind::Empty));
        }
        let mut prks: Vec<Prk> = Vec::with_capacity(secrets.len());
        for secret in &secrets {
            let prk = Prk::extract(secret);
            if prks.iter().any(|p| p.id == prk.id) {
                return Err(KeyError::new(KeyErrorKind::Duplicate));
            }
            prks.push(prk);
        }
        debug_assert_eq!(prks.capacity(), secrets.len());
        Ok(prks)
    }

    /// The key id of the secret: the same for every salt.
    pub(crate) fn key_id(&self) -> KeyId {
        self.id
    }

    /// The 32-byte encryption subkey for `salt` (HKDF-Expand from the kept PRK).
    fn subkey_bytes(&self, salt: &[u8]) -> Zeroizing<[u8; KEY_LEN]> {
        let hkdf = Hkdf::<Sha256>::from_prk(&*self.prk).expect("a PRK is SHA-256's length");
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        hkdf.expand_multi_info(&[HKDF_INFO_ENC_PREFIX, salt], &mut *key)
            .expect("32 bytes is a valid HKDF output length");
        key
    }

    /// The key id and AEAD subkey of this secret for `salt`.
    pub(crate) fn derive(&self, salt: &[u8]) -> DerivedKey {
        DerivedKey {
            id: self.id,
            aead: AeadKey::new(&self.subkey_bytes(salt)),
        }
    }
}

impl fmt::Debug for Prk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prk")
            .field("key_id", &self.id)
            .field("prk", &"<redacted>")
            .finish()
    }
}

/// A secret reduced to what the sealing layer needs for one salt: its key id and its AEAD
/// subkey. The subkey is wiped on drop (see `crate::aead` for what each backend keeps).
pub(crate) struct DerivedKey {
    pub(crate) id: KeyId,
    pub(crate) aead: AeadKey,
}

impl fmt::Debug for DerivedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DerivedKey")
            .field("id", &self.id)
            .field("aead", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_key_debug_shows_the_id_and_redacts_the_subkey() {
        let key = Prk::extract(&SecretKey::from_bytes(&[0; 32]).unwrap()).derive(b"salt");
        assert_eq!(
            format!("{key:?}"),
            r#"DerivedKey { id: KeyId(b214fafa), aead: "<redacted>" }"#
        );
    }

    /// What `DerivedKey::derive` computed before PRKs were kept: HKDF over the secret, then
    /// Expand for the key id and for the salt's subkey.
    fn derived_from_the_secret(key: &SecretKey, salt: &[u8]) -> (KeyId, [u8; KEY_LEN]) {
        let hkdf = Hkdf::<Sha256>::new(Some(HKDF_EXTRACT_SALT), &key.bytes);
        let mut id = [0u8; 4];
        hkdf.expand(HKDF_INFO_KEY_ID, &mut id).unwrap();
        let mut subkey = [0u8; KEY_LEN];
        hkdf.expand_multi_info(&[HKDF_INFO_ENC_PREFIX, salt], &mut subkey)
            .unwrap();
        (KeyId(u32::from_be_bytes(id)), subkey)
    }

    #[test]
    fn a_kept_prk_derives_the_key_id_and_subkeys_the_secret_does() {
        for (byte, salt) in [(0u8, &b"salt"[..]), (9, b""), (0xff, b"session")] {
            let key = SecretKey::from_bytes(&[byte; 40]).unwrap();
            let prk = Prk::extract(&key);
            let (id, subkey) = derived_from_the_secret(&key, salt);
            assert_eq!(prk.key_id(), id);
            assert_eq!(key.key_id(), id);
            assert_eq!(*prk.subkey_bytes(salt), subkey);
            assert_eq!(prk.derive(salt).id, id);
        }
        // The subkey depends on the salt; the key id does not.
        let prk = Prk::extract(&SecretKey::from_bytes(&[1; 32]).unwrap());
        assert_ne!(*prk.subkey_bytes(b"a"), *prk.subkey_bytes(b"b"));
    }

    #[test]
    fn prk_debug_shows_the_id_and_redacts_the_bytes() {
        let prk = Prk::extract(&SecretKey::from_bytes(&[0; 32]).unwrap());
        let shown = format!("{prk:?}");
        assert_eq!(
            shown,
            r#"Prk { key_id: KeyId(b214fafa), prk: "<redacted>" }"#
        );
        let hex: String = prk.prk.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!shown.contains(&hex));
    }

    #[test]
    fn extract_all_keeps_the_order_and_refuses_an_empty_list_and_a_repeated_key() {
        let key = |b: u8| SecretKey::from_bytes(&[b; 32]).unwrap();
        let prks = Prk::extract_all([key(3), key(1), key(2)]).unwrap();
        let ids: Vec<KeyId> = prks.iter().map(Prk::key_id).collect();
        assert_eq!(ids, [key(3).key_id(), key(1).key_id(), key(2).key_id()]);
        let err = Prk::extract_all(Vec::new()).unwrap_err();
        assert_eq!(err.kind(), KeyErrorKind::Empty);
        // A repeat anywhere, not only next to its twin.
        let err = Prk::extract_all([key(1), key(2), key(1)]).unwrap_err();
        assert_eq!(err.kind(), KeyErrorKind::Duplicate);
    }

    #[test]
    fn secret_key_debug_shows_the_id_and_redacts_the_bytes() {
        let key = SecretKey::from_bytes(&[0; 32]).unwrap();
        assert_eq!(
            format!("{key:?}"),
            r#"SecretKey { key_id: KeyId(b214fafa), bytes: "<redacted>" }"#
        );
    }

    /// A reader that hands out the results it was given, one a call, and refuses to be asked
    /// for nothing (a wasted call, which from a pipe also reads as its end).
    struct Script(std::collections::VecDeque<std::io::Result<&'static [u8]>>);

    impl std::io::Read for Script {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            assert!(!buf.is_empty(), "asked to read into nothing");
            match self.0.pop_front() {
                None => Ok(0),
                Some(Err(e)) => Err(e),
                Some(Ok(bytes)) => {
                    buf[..bytes.len()].copy_from_slice(bytes);
                    Ok(bytes.len())
                }
            }
        }
    }

    fn script(steps: Vec<std::io::Result<&'static [u8]>>) -> Script {
        Script(steps.into())
    }

    #[test]
    fn fill_reads_until_the_end_retrying_interrupted_reads() {
        use std::io::{Error as IoError, ErrorKind};
        let interrupted = || Err(IoError::from(ErrorKind::Interrupted));
        let mut buf = [0u8; 8];
        let mut reader = script(vec![Ok(b"ab"), interrupted(), Ok(b"c"), interrupted()]);
        assert_eq!(fill(&mut reader, &mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"abc");
        // A full buffer ends the reading: the rest stays unread.
        let mut reader = script(vec![Ok(b"abcd"), Ok(b"efgh"), Ok(b"ijkl")]);
        assert_eq!(fill(&mut reader, &mut buf).unwrap(), 8);
        assert_eq!(&buf, b"abcdefgh");
        assert_eq!(reader.0.len(), 1);
        // Any other error ends it, and is the answer.
        let mut reader = script(vec![
            Ok(b"ab"),
            Err(IoError::from(ErrorKind::PermissionDenied)),
            Ok(b"cd"),
        ]);
        let err = fill(&mut reader, &mut buf).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    }

    #[test]
    fn a_directory_is_an_unreadable_key_file() {
        let err = read_key_file(&std::env::temp_dir()).unwrap_err();
        assert_eq!(err.kind(), KeyErrorKind::Unreadable);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_file_longer_than_its_metadata_says_is_refused() {
        // procfs states a length of 0 for its files: reading past it would trust nothing.
        let err = read_key_file(Path::new("/proc/self/status")).unwrap_err();
        assert_eq!(err.kind(), KeyErrorKind::Unreadable);
        assert!(
            err.to_string().contains("longer than its metadata says"),
            "{err}"
        );
    }

    #[test]
    fn from_file_reads_exactly_one_key() {
        let dir = std::env::temp_dir().join(format!("itsclassified-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (one, two) = (dir.join("one"), dir.join("two"));
        let key = |b: u8| SecretKey::from_bytes(&[b; 32]).unwrap();
        std::fs::write(&one, format!("# primary\n{}\n", *key(1).to_base64())).unwrap();
        std::fs::write(
            &two,
            format!("{}\n{}\n", *key(1).to_base64(), *key(2).to_base64()),
        )
        .unwrap();
        assert_eq!(
            SecretKey::from_file(&one).unwrap().key_id(),
            key(1).key_id()
        );
        assert_eq!(
            SecretKey::from_file(&two).unwrap_err().kind(),
            KeyErrorKind::Multiple
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A FIFO in the temporary directory, removed on drop.
    #[cfg(unix)]
    struct Fifo(std::path::PathBuf);

    #[cfg(unix)]
    impl Fifo {
        fn new(name: &str) -> Fifo {
            let path = std::env::temp_dir()
                .join(format!("itsclassified-fifo-{}-{name}", std::process::id()));
            let _ = std::fs::remove_file(&path);
            let made = std::process::Command::new("mkfifo")
                .arg(&path)
                .status()
                .unwrap();
            assert!(made.success());
            Fifo(path)
        }
    }

    #[cfg(unix)]
    impl Drop for Fifo {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_without_a_writer_is_refused_within_a_second() {
        let fifo = Fifo::new("no-writer");
        let started = Instant::now();
        let err = SecretKey::list_from_file(&fifo.0).unwrap_err();
        let took = started.elapsed();
        assert_eq!(err.kind(), KeyErrorKind::NoWriter);
        assert!(took >= WRITER_WAIT, "{took:?}");
        assert!(took < Duration::from_secs(1), "{took:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "key file {} is a FIFO or pipe that no process writes to",
                fifo.0.display()
            )
        );
    }

    /// Opens a FIFO for writing once a reader has it open, giving up after 5 seconds (a
    /// blocking open would hang the test for ever if the reader never came).
    #[cfg(unix)]
    fn open_fifo_writer(path: &Path) -> std::fs::File {
        use std::os::unix::fs::OpenOptionsExt as _;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(path)
            {
                Ok(file) => return file,
                // ENXIO: no reader yet.
                Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                    assert!(Instant::now() < deadline, "no reader came");
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_with_a_writer_is_read() {
        use std::io::Write as _;
        let key = SecretKey::from_bytes(&[3; 32]).unwrap();
        let ms = Duration::from_millis;
        // (pause before the writer opens, pause between its two writes)
        for (late, delay) in [(ms(0), ms(0)), (ms(0), ms(200)), (ms(150), ms(0))] {
            let fifo = Fifo::new(&format!(
                "writer-{}-{}",
                late.as_millis(),
                delay.as_millis()
            ));
            let path = fifo.0.clone();
            let text = format!("# from a FIFO\n{}\n", *key.to_base64());
            // The writer opens the FIFO as soon as the reader has, or a little after (within the
            // wait for a writer), then writes in two parts: the reader waits for the rest
            // instead of stopping at an empty read.
            let writer = std::thread::spawn(move || {
                std::thread::sleep(late);
                let mut file = open_fifo_writer(&path);
                let (head, tail) = text.split_at(10);
                file.write_all(head.as_bytes()).unwrap();
                std::thread::sleep(delay);
                file.write_all(tail.as_bytes()).unwrap();
            });
            let keys = SecretKey::list_from_file(&fifo.0).unwrap();
            writer.join().unwrap();
            assert_eq!(keys.len(), 1);
            assert_eq!(keys[0].key_id(), key.key_id());
        }
    }

    #[test]
    fn a_stream_is_read_through_interruptions_and_waits_and_stops_at_other_errors() {
        use std::io::{Error as IoError, ErrorKind};
        let err = |kind| Err(IoError::from(kind));
        let mut buf = [0u8; 8];
        let mut reader = script(vec![
            err(ErrorKind::Interrupted),
            Ok(b"ab"),
            err(ErrorKind::WouldBlock),
            Ok(b"c"),
            err(ErrorKind::Interrupted),
        ]);
        assert_eq!(
            fill_stream(&mut reader, &mut buf, true, Instant::now()).unwrap(),
            3
        );
        assert_eq!(&buf[..3], b"abc");
        let mut reader = script(vec![Ok(b"ab"), err(ErrorKind::PermissionDenied)]);
        let e = fill_stream(&mut reader, &mut buf, true, Instant::now()).unwrap_err();
        assert_eq!(e.kind(), KeyErrorKind::Unreadable);
        assert_eq!(
            std::error::Error::source(&e)
                .and_then(|s| s.downcast_ref::<IoError>())
                .map(IoError::kind),
            Some(ErrorKind::PermissionDenied)
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_device_that_reads_as_ended_is_an_empty_key_file_at_once() {
        // /dev/null is a character device: no writer to wait for.
        let started = Instant::now();
        let err = SecretKey::list_from_file("/dev/null").unwrap_err();
        assert_eq!(err.kind(), KeyErrorKind::Empty);
        assert!(started.elapsed() < WRITER_WAIT, "{:?}", started.elapsed());
    }

    #[test]
    fn a_stream_that_never_ends_is_cut_off() {
        struct Silent;
        impl std::io::Read for Silent {
            fn read(&mut self, _buf: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::WouldBlock.into())
            }
        }
        let mut buf = [0u8; 8];
        let long_ago = Instant::now() - PIPE_READ_WAIT;
        let err = fill_stream(&mut Silent, &mut buf, true, long_ago).unwrap_err();
        assert_eq!(err.kind(), KeyErrorKind::Unreadable);
        assert!(err.to_string().contains("did not finish"), "{err}");
        // A full buffer is done: nothing is read into it, and no writer is waited for.
        let started = Instant::now();
        assert_eq!(fill_stream(&mut Silent, &mut [], true, started).unwrap(), 0);
        assert!(started.elapsed() < WRITER_WAIT);
        // A device that reads as ended is empty at once, with no writer to wait for.
        let started = Instant::now();
        assert_eq!(
            fill_stream(&mut std::io::empty(), &mut buf, false, started).unwrap(),
            0
        );
        assert!(started.elapsed() < WRITER_WAIT);
    }

    #[test]
    fn a_key_given_where_a_name_or_path_belongs_is_never_echoed() {
        use base64::engine::general_purpose::STANDARD;
        let url = SecretKey::from_bytes(&[0xfb; 32]).unwrap().to_base64();
        let url = format!("{}Aa", &url[..41]);
        let bytes: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(97) ^ 0xfb).collect();
        let std = STANDARD.encode(&bytes);
        for (key, other) in [(url.as_str(), std.as_str()), (std.as_str(), url.as_str())] {
            for text in [
                key.to_string(),
                format!("{key},{other}"),
                format!("NAME={key}"),
                format!("{key},"),
                format!("/tmp/{key}"),
            ] {
                let errors = [
                    SecretKey::from_env(&text).unwrap_err(),
                    SecretKey::list_from_env(&text).unwrap_err(),
                    SecretKey::from_file(&text).unwrap_err(),
                    SecretKey::list_from_file(&text).unwrap_err(),
                ];
                for err in errors {
                    let shown = format!("{err} {err:?}");
                    assert!(shown.contains(KeyOrigin::WITHHELD), "{shown}");
                    assert!(!shown.contains(key), "{shown}");
                    assert!(!shown.contains(other), "{shown}");
                }
            }
        }
    }
}
