//! `itsclassified._itsclassified`: the native half of the Python package.
//!
//! The Python half (`python/itsclassified/__init__.py`) subclasses [`Serializer`] and turns
//! datetimes, timedeltas and key lists into the plain numbers and lists taken here.
#![forbid(unsafe_code)]

mod convert;
mod session;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use itsclassified::{untrusted_header, Error, SecretKey, TimedSerializer};
use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use std::borrow::Cow;

use pyo3::types::{PyBytes, PyString, PyTuple};

use crate::convert::{to_msgpack_value, PyOut, PyValueSeed};

create_exception!(
    itsclassified,
    BadToken,
    PyValueError,
    "A token was refused. The base of every token rejection."
);
create_exception!(
    itsclassified,
    InvalidToken,
    BadToken,
    "The token is malformed, altered, made for another salt, too long or of an unknown version."
);
create_exception!(
    itsclassified,
    TokenExpired,
    BadToken,
    "The token is authentic but older than max_age, or issued further in the future than the leeway."
);
create_exception!(
    itsclassified,
    UnknownKey,
    BadToken,
    "The token was made under a key that is not in the serializer's key list."
);

/// Tokens at least this long are opened without the GIL, and payloads whose MessagePack is
/// estimated at least this large are sealed without it. Below it, releasing and taking back the
/// GIL costs more than the cryptography it would let other threads overlap with (a 2 KiB token
/// opens in a few microseconds).
const GIL_RELEASE_THRESHOLD: usize = 2048;

/// What the failing call was doing: `TooLong` from `dumps` is a payload too large, not a
/// token rejection.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Dumps,
    Loads,
}

/// The one place where crate errors become Python exceptions. Messages are the crate's fixed
/// texts (no token, payload or key material); key errors name lengths at most.
pub(crate) fn to_py_err(py: Python<'_>, error: Error, op: Op, now: SystemTime) -> PyErr {
    let text = error.to_string();
    match error {
        Error::TooLong { len, max } if op == Op::Dumps => PyValueError::new_err(format!(
            "payload is too large: {text} ({len} > {max} bytes)"
        )),
        Error::TooLong { .. } | Error::Malformed | Error::UnsupportedVersion | Error::Invalid => {
            InvalidToken::new_err(text)
        }
        Error::UnknownKey => UnknownKey::new_err(text),
        Error::Expired { issued_at, age, .. } => {
            let issued_unix = unix_seconds(issued_at) as i128;
            expired(py, text, Some(issued_unix), i128::from(age.as_secs()))
        }
        Error::IssuedInFuture { issued_at_unix } => {
            let age = i128::from(unix_seconds(now)) - i128::from(issued_at_unix);
            expired(py, text, Some(i128::from(issued_at_unix)), age)
        }
        Error::Payload => BadToken::new_err(text),
        Error::TimeOutOfRange => PyValueError::new_err(text),
        Error::Rng => PyOSError::new_err(text),
        Error::Key(_) | Error::TooDeep { .. } => PyValueError::new_err(text),
        other if other.is_rejection() => BadToken::new_err(text),
        _ => PyRuntimeError::new_err(text),
    }
}

/// A `TokenExpired` with `.issued_at` (aware UTC datetime, or `None` where Python's datetime
/// cannot hold it) and `.age` (whole seconds; negative for a token issued in the future).
fn expired(py: Python<'_>, text: String, issued_unix: Option<i128>, age: i128) -> PyErr {
    let err = TokenExpired::new_err(text);
    let value = err.value(py);
    let issued_at = issued_unix
        .and_then(|secs| aware_utc(py, secs).ok())
        .unwrap_or_else(|| py.None().into_bound(py));
    // Setting attributes on a fresh exception instance cannot fail in practice; if it did, the
    // exception still carries its message and type.
    let _ = value.setattr("issued_at", issued_at);
    let _ = value.setattr("age", age);
    err
}

fn aware_utc(py: Python<'_>, secs: i128) -> PyResult<Bound<'_, PyAny>> {
    let datetime = py.import("datetime")?;
    let utc = datetime.getattr("timezone")?.getattr("utc")?;
    datetime
        .getattr("datetime")?
        .call_method1("fromtimestamp", (secs, utc))
}

pub(crate) fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Unix seconds from Python (`None`: now) as a `SystemTime`; negative, NaN or infinite times
/// are refused.
pub(crate) fn system_time(seconds: Option<f64>) -> PyResult<SystemTime> {
    let Some(seconds) = seconds else {
        return Ok(SystemTime::now());
    };
    Duration::try_from_secs_f64(seconds)
        .ok()
        .and_then(|d| UNIX_EPOCH.checked_add(d))
        .ok_or_else(|| PyValueError::new_err("time is out of range"))
}

/// Seconds as a `Duration`: a Python int exactly (the whole u64 range, as in Rust), a float
/// as far as `Duration` holds it.
fn duration(seconds: &Bound<'_, PyAny>, what: &str) -> PyResult<Duration> {
    let refuse = || PyValueError::new_err(format!("{what} must be a finite number >= 0"));
    if let Ok(whole) = seconds.extract::<u64>() {
        return Ok(Duration::from_secs(whole));
    }
    let seconds: f64 = seconds.extract().map_err(|_| refuse())?;
    Duration::try_from_secs_f64(seconds).map_err(|_| refuse())
}

/// One key from a Python `str` (base64) or `bytes`.
fn secret_key(key: &Bound<'_, PyAny>) -> PyResult<SecretKey> {
    let loaded = if let Ok(text) = key.cast::<PyString>() {
        // Never the codec's message: it would quote part of the key.
        let text = text
            .to_cow()
            .map_err(|_| PyValueError::new_err("a key str is not valid Unicode"))?;
        SecretKey::from_base64(&text)
    } else if let Ok(bytes) = key.cast::<PyBytes>() {
        SecretKey::from_bytes(bytes.as_bytes())
    } else {
        return Err(PyTypeError::new_err(format!(
            "a key must be str (base64) or bytes, not {}",
            type_name(key)
        )));
    };
    loaded.map_err(|e| PyValueError::new_err(e.to_string()))
}

pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string())
}

/// The native serializer. Use `itsclassified.TimedSerializer`, its Python subclass, which
/// takes keys, datetimes and timedeltas.
#[pyclass(
    frozen,
    subclass,
    module = "itsclassified._itsclassified",
    name = "Serializer"
)]
pub struct Serializer {
    pub(crate) inner: TimedSerializer,
}

#[pymethods]
impl Serializer {
    /// `keys`: list of str (base64) or bytes, primary first; `max_age`: seconds, or `None` for
    /// no expiry; `leeway`: seconds.
    #[new]
    #[pyo3(signature = (keys, salt, max_age, leeway, max_token_len))]
    fn new(
        keys: Vec<Bound<'_, PyAny>>,
        salt: &Bound<'_, PyAny>,
        max_age: Option<Bound<'_, PyAny>>,
        leeway: Bound<'_, PyAny>,
        max_token_len: usize,
    ) -> PyResult<Self> {
        let keys = keys
            .iter()
            .map(secret_key)
            .collect::<PyResult<Vec<SecretKey>>>()?;
        let salt: Vec<u8> = if let Ok(text) = salt.cast::<PyString>() {
            text.to_cow()
                .map_err(|_| PyValueError::new_err("salt is not valid Unicode"))?
                .as_bytes()
                .to_vec()
        } else if let Ok(bytes) = salt.cast::<PyBytes>() {
            bytes.as_bytes().to_vec()
        } else {
            return Err(PyTypeError::new_err(format!(
                "salt must be str or bytes, not {}",
                type_name(salt)
            )));
        };
        let inner = TimedSerializer::with_keys(keys, salt)
            .map_err(|e| PyValueError::new_err(e.to_string()))?
            .leeway(duration(&leeway, "leeway")?)
            .max_token_len(max_token_len);
        let inner = match max_age {
            Some(seconds) => inner.max_age(duration(&seconds, "max_age")?),
            None => inner.no_expiry(),
        };
        Ok(Serializer { inner })
    }

    /// The token of `obj`, issued now.
    fn dumps(&self, py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<String> {
        self.dumps_impl(py, obj, None)
    }

    /// The payload of `token`, if it loads.
    fn loads<'py>(
        &self,
        py: Python<'py>,
        token: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let token = token_text(token)?;
        self.loads_impl(py, &token, None).map(|(obj, _)| obj)
    }

    /// `token` re-sealed under the primary key, same payload and issued-at.
    fn reissue(&self, py: Python<'_>, token: &Bound<'_, PyAny>) -> PyResult<String> {
        let token = token_text(token)?;
        let now = SystemTime::now();
        let result = if token.len() >= GIL_RELEASE_THRESHOLD {
            py.detach(|| self.inner.reissue_at(&token, now))
        } else {
            self.inner.reissue_at(&token, now)
        };
        result.map_err(|e| to_py_err(py, e, Op::Loads, now))
    }

    /// `dumps` with the issued-at given in Unix seconds (`None`: now).
    #[pyo3(signature = (obj, issued_at))]
    fn _dumps_at(
        &self,
        py: Python<'_>,
        obj: &Bound<'_, PyAny>,
        issued_at: Option<f64>,
    ) -> PyResult<String> {
        self.dumps_impl(py, obj, issued_at)
    }

    /// `(payload, issued_at_unix, age_seconds, key_id, key_index, token_id, expires_at_unix)`
    /// as if the time were `now` (Unix seconds, `None`: now); `expires_at_unix` is `None`
    /// without expiry.
    #[pyo3(signature = (token, now))]
    fn _loads_with_meta_at<'py>(
        &self,
        py: Python<'py>,
        token: &Bound<'py, PyAny>,
        now: Option<f64>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let token = token_text(token)?;
        let (obj, meta) = self.loads_impl(py, &token, now)?;
        let issued_at = unix_seconds(meta.issued_at);
        (
            obj,
            issued_at,
            meta.age.as_secs(),
            meta.key_id.to_string(),
            meta.key_index,
            meta.token_id.to_string(),
            meta.expires_at.map(unix_seconds),
        )
            .into_pyobject(py)
    }

    /// Swaps the key list at run time (primary first), for every holder of this serializer
    /// (the session middleware included), without dropping a request. On an error the keys in
    /// force stay.
    fn _replace_keys(&self, keys: Vec<Bound<'_, PyAny>>) -> PyResult<()> {
        let keys = keys
            .iter()
            .map(secret_key)
            .collect::<PyResult<Vec<SecretKey>>>()?;
        self.inner
            .replace_keys(keys)
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// `max_age + leeway` in seconds: how long a revocation of these tokens must be kept
    /// (`None` without expiry).
    #[getter]
    fn revocation_retention(&self) -> Option<u64> {
        self.inner.revocation_retention().map(|d| d.as_secs())
    }

    /// The key ids of the key list, primary first (8 hex characters each).
    #[getter]
    fn key_ids(&self) -> Vec<String> {
        self.inner
            .key_ids()
            .iter()
            .map(|id| id.to_string())
            .collect()
    }

    /// `max_age` in seconds, or `None` for no expiry.
    #[getter]
    fn max_age(&self) -> Option<f64> {
        self.inner
            .configured_expiry()
            .max_age()
            .map(|d| d.as_secs_f64())
    }

    /// The longest token made or accepted.
    #[getter]
    fn max_token_len(&self) -> usize {
        self.inner.configured_max_token_len()
    }

    fn __repr__(&self) -> String {
        // The key ids only: never key material.
        let max_age = self
            .max_age()
            .map_or_else(|| "None".to_owned(), |s| s.to_string());
        format!(
            "TimedSerializer(key_ids={:?}, max_age={max_age}, max_token_len={})",
            self.key_ids(),
            self.max_token_len()
        )
    }
}

impl Serializer {
    fn dumps_impl(
        &self,
        py: Python<'_>,
        obj: &Bound<'_, PyAny>,
        issued_at: Option<f64>,
    ) -> PyResult<String> {
        let when = system_time(issued_at)?;
        let (value, estimated_len) = to_msgpack_value(obj)?;
        let result = if estimated_len >= GIL_RELEASE_THRESHOLD {
            py.detach(|| self.inner.dumps_at(&value, when))
        } else {
            self.inner.dumps_at(&value, when)
        };
        result.map_err(|e| to_py_err(py, e, Op::Dumps, when))
    }

    fn loads_impl<'py>(
        &self,
        py: Python<'py>,
        token: &str,
        now: Option<f64>,
    ) -> PyResult<(Bound<'py, PyAny>, itsclassified::TokenMeta)> {
        let now = system_time(now)?;
        if token.len() >= GIL_RELEASE_THRESHOLD {
            let loaded = py
                .detach(|| self.inner.loads_with_meta_at::<rmpv::Value>(token, now))
                .map_err(|e| to_py_err(py, e, Op::Loads, now))?;
            let obj = convert::from_msgpack_value(py, &loaded.payload)
                .map_err(|_| to_py_err(py, Error::Payload, Op::Loads, now))?;
            Ok((obj, loaded.meta))
        } else {
            let loaded = self
                .inner
                .loads_with_meta_at::<PyOut>(token, now)
                .map_err(|e| to_py_err(py, e, Op::Loads, now))?;
            Ok((loaded.payload.0.into_bound(py), loaded.meta))
        }
    }
}

/// A token argument as text: a `str` (one with lone surrogates, which no token has, is
/// `InvalidToken`, not a `UnicodeEncodeError`) or ASCII `bytes`.
pub(crate) fn token_text<'a>(token: &'a Bound<'_, PyAny>) -> PyResult<Cow<'a, str>> {
    if let Ok(text) = token.cast::<PyString>() {
        return match text.to_cow() {
            Ok(s) => Ok(Cow::Owned(s.into_owned())),
            Err(_) => Err(InvalidToken::new_err("token is malformed")),
        };
    }
    if let Ok(bytes) = token.cast::<PyBytes>() {
        return match std::str::from_utf8(bytes.as_bytes()) {
            Ok(s) => Ok(Cow::Owned(s.to_owned())),
            Err(_) => Err(InvalidToken::new_err("token is malformed")),
        };
    }
    Err(PyTypeError::new_err(format!(
        "a token must be str or bytes, not {}",
        type_name(token)
    )))
}

/// A new key: 32 random bytes as 43 characters of unpadded base64url.
#[pyfunction]
fn generate_key() -> PyResult<String> {
    let key = SecretKey::try_generate().map_err(|e| PyOSError::new_err(e.to_string()))?;
    // The Zeroizing copy is wiped on drop; the Python str returned cannot be.
    Ok(key.to_base64().as_str().to_owned())
}

/// `(version, key_id, issued_at_unix)` of a token, read without a key and unverified.
#[pyfunction]
fn _untrusted_header(py: Python<'_>, token: &Bound<'_, PyAny>) -> PyResult<(u8, String, u64)> {
    let token = token_text(token)?;
    let header =
        untrusted_header(&token).map_err(|e| to_py_err(py, e, Op::Loads, SystemTime::now()))?;
    Ok((
        header.untrusted_version(),
        header.untrusted_key_id().to_string(),
        header.untrusted_issued_at_unix(),
    ))
}

/// The MessagePack `dumps` would seal for `obj`: for tests that compare it byte for byte with
/// what rmp-serde writes for the equivalent Rust value.
#[pyfunction]
fn _msgpack<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let (value, _) = to_msgpack_value(obj)?;
    let mut out = Vec::new();
    rmp_serde::encode::write_named(&mut out, &value)
        .map_err(|_| PyValueError::new_err("value could not be serialized"))?;
    Ok(PyBytes::new(py, &out))
}

/// The Python object `loads` makes of MessagePack bytes, by either path (`large=True`: through
/// the owned tree used without the GIL). The bytes must be exactly one value.
#[pyfunction]
#[pyo3(signature = (data, large))]
fn _from_msgpack<'py>(py: Python<'py>, data: &[u8], large: bool) -> PyResult<Bound<'py, PyAny>> {
    let bad = || BadToken::new_err("token payload does not match the expected type");
    let mut de = rmp_serde::Deserializer::new(std::io::Cursor::new(data));
    let obj = if large {
        let value: rmpv::Value = serde::Deserialize::deserialize(&mut de).map_err(|_| bad())?;
        convert::from_msgpack_value(py, &value).map_err(|_| bad())?
    } else {
        serde::de::DeserializeSeed::deserialize(PyValueSeed(py), &mut de).map_err(|_| bad())?
    };
    if de.position() == data.len() as u64 {
        Ok(obj)
    } else {
        Err(bad())
    }
}

#[pymodule]
fn _itsclassified(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Serializer>()?;
    m.add_class::<session::SessionPolicy>()?;
    m.add_class::<session::SessionState>()?;
    m.add("SessionTooLarge", py.get_type::<session::SessionTooLarge>())?;
    m.add_function(wrap_pyfunction!(generate_key, m)?)?;
    m.add_function(wrap_pyfunction!(_untrusted_header, m)?)?;
    m.add_function(wrap_pyfunction!(_msgpack, m)?)?;
    m.add_function(wrap_pyfunction!(_from_msgpack, m)?)?;
    m.add("BadToken", py.get_type::<BadToken>())?;
    m.add("InvalidToken", py.get_type::<InvalidToken>())?;
    m.add("TokenExpired", py.get_type::<TokenExpired>())?;
    m.add("UnknownKey", py.get_type::<UnknownKey>())?;
    m.add("GIL_RELEASE_THRESHOLD", GIL_RELEASE_THRESHOLD)?;
    m.add("MAX_DEPTH", convert::MAX_DEPTH)?;
    Ok(())
}
