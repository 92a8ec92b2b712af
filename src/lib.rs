//! Encrypted, authenticated, expiring tokens for any serde value, in the style of Python's
//! itsdangerous.
//!
//! [`TimedSerializer::dumps`] turns a value into a short URL-safe string;
//! [`TimedSerializer::loads`] gives it back only if the token is authentic, was made for the
//! same purpose (the *salt*), is not older than `max_age`, and was made under a key the service
//! still trusts. Unlike itsdangerous, nobody can read the payload without the key. Use it for
//! bearer tokens, session cookies, password-reset and e-mail-confirmation links: anything that
//! must carry state through an untrusted client.
//!
//! ```
//! use itsclassified::{Error, SecretKey, TimedSerializer};
//! use serde::{Deserialize, Serialize};
//! use std::time::Duration;
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct Session { user_id: String, role: String }
//!
//! # unsafe { std::env::set_var("APP_KEY", SecretKey::generate().to_base64().as_str()) };
//! // Built once at start-up from a key kept out of the source, and shared: the serializer is
//! // Clone + Send + Sync.
//! let sessions = TimedSerializer::new(SecretKey::from_env("APP_KEY")?, "session")
//!     .max_age(Duration::from_secs(24 * 3600));
//!
//! let token = sessions.dumps(&Session { user_id: "123".into(), role: "admin".into() })?;
//! let session: Session = sessions.loads(&token)?;
//! assert_eq!(session.role, "admin");
//!
//! // The same key for another purpose: a session token is no password-reset token.
//! let resets = TimedSerializer::new(SecretKey::from_env("APP_KEY")?, "password-reset")
//!     .max_age(Duration::from_secs(1800));
//! assert!(matches!(resets.loads::<Session>(&token), Err(Error::Invalid)));
//! # Ok::<(), Error>(())
//! ```
//!
//! # Security model
//!
//! Each token is one XChaCha20-Poly1305 encryption under a subkey that HKDF-SHA256 derives from
//! the secret and the salt, with a fresh 24-byte random nonce; the header (version, key id,
//! issued-at) is authenticated as associated data. The client and the network may read,
//! replay, truncate or forge tokens: they cannot read or alter a payload, move a token to
//! another salt, extend its lifetime, or make it load under a key that was removed from the
//! ring. The issued-at, the key id and the payload's length are readable by anyone (see
//! [`untrusted_header`]). `loads` checks, in this order, the length (before decoding
//! anything), canonical base64url, the version, the key id, the authentication tag, the time,
//! then the payload's MessagePack framing, and only then runs serde: no input panics, and every
//! refusal is an [`Error`] with a fixed message that never contains the token, the payload or
//! key material. A token is a bearer credential until it expires; the README's security section
//! says more, and [SPEC.md](https://docs.rs/crate/itsclassified/latest/source/SPEC.md) defines
//! the wire format.
//!
//! # Payload types
//!
//! Any type that derives (or implements) `Serialize` and `Deserialize` is a payload, with two
//! bounds that keep an authentic but hostile payload (one sealed by a peer with a bug, or
//! under a leaked key) from aborting the process:
//! - **Depth**: at most 128 nested arrays, maps and enum variants, and at most 256 nested
//!   serde calls (an `Option` and a newtype are calls too). `dumps` counts exactly as `loads`
//!   does and refuses a deeper value with [`Error::TooDeep`], so it never makes a token that
//!   `loads` refuses for its depth.
//! - **No buffering**: `loads` refuses (with [`Error::Payload`], on every token) a type that
//!   makes serde buffer its input: `#[serde(untagged)]`, internally tagged enums
//!   (`#[serde(tag = "t")]`), `#[serde(flatten)]`, and an adjacently tagged enum whose content
//!   comes before its tag. serde replays the buffer through its own private deserializer, where
//!   no bound can reach: `struct Rec(Option<Box<Rec>>)` behind an untagged enum recurses
//!   without end on the single authentic byte `01`, a stack overflow that aborts the process.
//!   Use serde's default, externally tagged enums and plain fields (or load a
//!   `serde_json::Value` and convert it yourself). `dumps` cannot tell such a type from the
//!   value, so the refusal shows at the first `loads`, in the first test.
//!
//! # Where things are
//!
//! - [`TimedSerializer`]: `dumps`, `loads`, `loads_with_meta` (verified [`TokenMeta`]),
//!   `reissue` for key rotation, and the builder methods `max_age`, `no_expiry`, `leeway`,
//!   `max_token_len`.
//! - [`SecretKey`]: generating keys and loading them from the environment or a file; its
//!   errors are [`KeyError`]s. Every token names its key by [`KeyId`].
//! - [`Error`]: every reason a token is refused or cannot be made;
//!   [`Error::is_rejection`] separates the client's bad token from the service's own problem.
//! - [`web`] (feature `axum`): the `Bearer<T>` extractor and encrypted cookie sessions.
//! - [`revocation`]: logout that sticks and "log out everywhere": a [`TokenId`] per token, the
//!   [`RevocationStore`](revocation::RevocationStore) trait, an in-memory store and (feature
//!   `redis`) a Redis store.
//! - [`hazmat`] (feature `hazmat`): deterministic sealing for test vectors and fuzzing only.
//!
//! # Features
//!
//! | feature | adds |
//! |---|---|
//! | `axum` | [`web`]: a bearer-token extractor and encrypted cookie sessions for axum 0.8 |
//! | `redis` | [`RedisStore`]: revocations shared by every instance through Redis |
//! | `cli` | the `itsclassified` command-line tool (the library does not change) |
//! | `hazmat` | [`hazmat`]: sealing with a caller-chosen nonce; never in an application |
//! | `reload` | [`TimedSerializer::replace_keys`]: swap the key ring at run time (arc-swap) |
//!
//! The [README](https://docs.rs/crate/itsclassified/latest/source/README.md) has recipes
//! (bearer tokens, cookies, password-reset links, key rotation), the command-line manual and
//! the benchmarks.
//!
// Links to items behind features resolve in every feature combination: to the item when it
// is compiled in, to its page on docs.rs (built with every feature) when it is not.
#![cfg_attr(feature = "axum", doc = "[`web`]: crate::web")]
#![cfg_attr(
    not(feature = "axum"),
    doc = "[`web`]: https://docs.rs/itsclassified/latest/itsclassified/web/index.html"
)]
#![cfg_attr(feature = "hazmat", doc = "[`hazmat`]: crate::hazmat")]
#![cfg_attr(
    not(feature = "hazmat"),
    doc = "[`hazmat`]: https://docs.rs/itsclassified/latest/itsclassified/hazmat/index.html"
)]
#![cfg_attr(
    feature = "redis",
    doc = "[`RedisStore`]: crate::revocation::RedisStore"
)]
#![cfg_attr(
    not(feature = "redis"),
    doc = "[`RedisStore`]: https://docs.rs/itsclassified/latest/itsclassified/revocation/struct.RedisStore.html"
)]
#![cfg_attr(
    feature = "reload",
    doc = "[`TimedSerializer::replace_keys`]: crate::TimedSerializer::replace_keys"
)]
#![cfg_attr(
    not(feature = "reload"),
    doc = "[`TimedSerializer::replace_keys`]: https://docs.rs/itsclassified/latest/itsclassified/struct.TimedSerializer.html#method.replace_keys"
)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod aead;
mod clock;
mod depth;
mod error;
mod header;
mod key;
mod msgpack;
mod redact;
pub mod revocation;
mod ring_cell;
mod seal;
mod serializer;
pub mod session;
mod wire;

#[cfg(feature = "hazmat")]
#[cfg_attr(docsrs, doc(cfg(feature = "hazmat")))]
pub mod hazmat;

// With actix-web alone, `web` holds only the framework-neutral types `actix` re-exports (the
// bearer serializer, the rejections, the revocation policy, the session extractor's type).
#[cfg(any(feature = "axum", feature = "actix"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "axum", feature = "actix"))))]
pub mod web;

#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub mod actix;

pub use error::{Error, KeyError, KeyErrorKind, KeyOrigin};
pub use header::{untrusted_header, UntrustedHeader};
pub use key::{KeyId, SecretKey};
pub use serializer::{Expiry, Loaded, TimedSerializer, TokenMeta};
pub use wire::TokenId;

// The README's examples are compiled and run as doctests, though the README is not the crate's
// front page. They are complete programs, with no hidden `#` lines (which GitHub and crates.io
// show), so they need the features they use: CI's doctest runs have `axum`.
#[cfg(all(doctest, feature = "axum"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
