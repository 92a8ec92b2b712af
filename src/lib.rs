#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod aead;
mod error;
mod header;
mod key;
mod msgpack;
mod seal;
mod serializer;

#[cfg(feature = "hazmat")]
#[cfg_attr(docsrs, doc(cfg(feature = "hazmat")))]
pub mod hazmat;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod web;

pub use error::Error;
pub use header::{untrusted_header, UntrustedHeader};
pub use key::{KeyId, SecretKey};
pub use serializer::{Loaded, TimedSerializer, TokenMeta};
