//! The session core of the crate (`itsclassified::session`, SPEC.md section 10) for Python: a
//! policy (the cookie's attributes, lifetimes, chunking, checked once) and the per-request
//! state machine. The Starlette middleware and the Flask interface only carry headers and
//! values between their framework and these two classes: every decision (which cookie is the
//! session, renewal, absolute lifetime, chunks, cache safety, keep / issue / remove) is the
//! crate's, so a Python service and a Rust service treat one cookie the same way.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use itsclassified::session::{
    FinishError, RequestCookies, SameSite, SessionPolicy as CorePolicy, SessionState as CoreState,
    Verdict,
};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::convert::{from_msgpack_value, to_msgpack_value};
use crate::{token_text, unix_seconds, Serializer};

pyo3::create_exception!(
    itsclassified,
    SessionTooLarge,
    PyRuntimeError,
    "The session does not fit in max_chunks cookies of 4096 bytes: the response becomes a 500 without Set-Cookie."
);

/// The session policy: built once from a serializer (which must have a `max_age`) and the
/// cookie settings; the crate refuses settings that browsers would drop or that would break
/// the `Set-Cookie` line.
#[pyclass(
    frozen,
    module = "itsclassified._itsclassified",
    name = "SessionPolicy"
)]
pub struct SessionPolicy {
    pub(crate) inner: CorePolicy,
}

fn whole_seconds(seconds: Option<u64>) -> Option<Duration> {
    seconds.map(Duration::from_secs)
}

#[pymethods]
impl SessionPolicy {
    #[new]
    #[pyo3(signature = (serializer, *, cookie_name=None, path=None, domain=None, same_site="lax", secure=true, partitioned=false, renew_after=None, absolute_lifetime=None, max_chunks=1, reseal_fallback=true, now=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        serializer: PyRef<'_, Serializer>,
        cookie_name: Option<&Bound<'_, PyAny>>,
        path: Option<&Bound<'_, PyAny>>,
        domain: Option<&Bound<'_, PyAny>>,
        same_site: &str,
        secure: bool,
        partitioned: bool,
        renew_after: Option<u64>,
        absolute_lifetime: Option<u64>,
        max_chunks: usize,
        reseal_fallback: bool,
        now: Option<f64>,
    ) -> PyResult<Self> {
        // Text settings with lone surrogates cannot be a cookie attribute: a ValueError, like
        // every other unusable setting.
        let text = |obj: &Bound<'_, PyAny>, what: &str| -> PyResult<String> {
            let s = obj
                .cast::<PyString>()
                .map_err(|_| PyTypeError::new_err(format!("{what} must be a str")))?;
            s.to_cow()
                .map(|c| c.into_owned())
                .map_err(|_| PyValueError::new_err(format!("{what} is not valid Unicode")))
        };
        let mut builder = CorePolicy::builder(serializer.inner.clone());
        if let Some(name) = cookie_name {
            builder = builder.cookie_name(text(name, "cookie_name")?);
        }
        if let Some(path) = path {
            builder = builder.path(text(path, "path")?);
        }
        if let Some(domain) = domain {
            builder = builder.domain(text(domain, "domain")?);
        }
        builder = builder.same_site(match same_site.to_ascii_lowercase().as_str() {
            "lax" => SameSite::Lax,
            "strict" => SameSite::Strict,
            "none" => SameSite::None,
            _ => {
                return Err(PyValueError::new_err(
                    "same_site must be \"lax\", \"strict\" or \"none\"",
                ))
            }
        });
        if !secure {
            builder = builder.insecure_allow_http();
        }
        if partitioned {
            builder = builder.partitioned();
        }
        if let Some(after) = whole_seconds(renew_after) {
            builder = builder.renew_after(after);
        }
        if let Some(lifetime) = whole_seconds(absolute_lifetime) {
            builder = builder.absolute_lifetime(lifetime);
        }
        builder = builder.max_chunks(max_chunks);
        if !reseal_fallback {
            builder = builder.keep_fallback_cookies();
        }
        if let Some(now) = now {
            // A fixed clock, for tests of expiry and lifetimes.
            let at = crate::system_time(Some(now))?;
            builder = builder.with_clock(move || at);
        }
        let inner = builder
            .build()
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(SessionPolicy { inner })
    }

    /// The session cookie's name (chunks are `<name>.0`, `<name>.1`, ...).
    #[getter]
    fn cookie_name(&self) -> &str {
        self.inner.cookie_name()
    }

    /// The most cookies one session may take.
    #[getter]
    fn max_chunks(&self) -> usize {
        self.inner.max_chunks()
    }

    /// How long a "log out everywhere" cutoff must be kept for these sessions:
    /// `max_age + leeway`, seconds.
    #[getter]
    fn retention(&self) -> u64 {
        self.inner
            .serializer()
            .revocation_retention()
            .map_or(0, |d| d.as_secs())
    }

    /// A token of a new session holding `value`, started and issued at `now` (Unix seconds,
    /// `None`: now): for tests, tools and migrations.
    #[pyo3(signature = (value, now=None))]
    fn seal_new_session(
        &self,
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
        now: Option<f64>,
    ) -> PyResult<String> {
        let when = crate::system_time(now)?;
        let (value, _) = to_msgpack_value(value)?;
        self.inner
            .seal_new_session_at(&value, when)
            .map_err(|e| crate::to_py_err(py, e, crate::Op::Dumps, when))
    }

    /// `(value, session_id, start, issued_at)` of a session token (chunks joined), opened as
    /// the session reader does at `now` (Unix seconds, `None`: the policy's clock): the
    /// envelope and the absolute lifetime included. Raises the token errors.
    #[pyo3(signature = (token, now=None))]
    fn open_session<'py>(
        &self,
        py: Python<'py>,
        token: &Bound<'py, PyAny>,
        now: Option<f64>,
    ) -> PyResult<(Bound<'py, PyAny>, String, u64, u64)> {
        let token = token_text(token)?;
        let when = match now {
            Some(_) => crate::system_time(now)?,
            None => SystemTime::now(),
        };
        let opened = self
            .inner
            .open_session_at::<rmpv::Value>(&token, when)
            .map_err(|e| crate::to_py_err(py, e, crate::Op::Loads, when))?;
        let value = from_msgpack_value(py, &opened.value).map_err(|_| {
            crate::to_py_err(py, itsclassified::Error::Payload, crate::Op::Loads, when)
        })?;
        Ok((
            value,
            opened.id.to_string(),
            opened.start,
            unix_seconds(opened.meta.issued_at),
        ))
    }

    fn __repr__(&self) -> String {
        format!(
            "SessionPolicy(cookie_name={:?}, max_chunks={})",
            self.inner.cookie_name(),
            self.inner.max_chunks()
        )
    }
}

/// One request's session (the crate's `SessionState`): what the request's cookies hold, what
/// the revocation store said, what the handler did, and the cookie decision at the end.
#[pyclass(module = "itsclassified._itsclassified", name = "SessionState")]
pub struct SessionState {
    policy: CorePolicy,
    inner: CoreState<rmpv::Value>,
}

#[pymethods]
impl SessionState {
    /// The session of a request whose `Cookie` header values are `cookie_headers` (str or
    /// bytes each, in the order received). Nothing is decrypted yet.
    #[new]
    fn new(
        policy: PyRef<'_, SessionPolicy>,
        cookie_headers: Vec<Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let mut raw: Vec<Vec<u8>> = Vec::with_capacity(cookie_headers.len());
        for header in &cookie_headers {
            if let Ok(bytes) = header.cast::<PyBytes>() {
                raw.push(bytes.as_bytes().to_vec());
            } else if let Ok(text) = header.cast::<PyString>() {
                // A header decoded as latin-1 (ASGI, WSGI): back to its bytes. Characters
                // beyond latin-1 (or lone surrogates) are not a token's: dropped, so the rest of
                // the header still counts.
                let text = text.to_string_lossy();
                raw.push(
                    text.chars()
                        .map(|c| u8::try_from(u32::from(c)).unwrap_or(0))
                        .collect(),
                );
            } else {
                return Err(PyTypeError::new_err("a Cookie header must be str or bytes"));
            }
        }
        let policy = policy.inner.clone();
        let cookies = RequestCookies::parse(&policy, raw.iter().map(Vec::as_slice));
        Ok(SessionState {
            inner: CoreState::new(cookies),
            policy,
        })
    }

    /// Decrypts the request's cookies (once): the first that loads is the session.
    fn load(&mut self) {
        self.inner.load(&self.policy);
    }

    /// Marks the session as used by the handler: the response varies with the cookie.
    fn mark_extracted(&mut self) {
        self.inner.mark_extracted();
    }

    /// `(session_id, issued_at)` to ask the revocation store about, or `None`.
    fn pending_check(&self) -> Option<(String, u64)> {
        self.inner
            .pending_check()
            .map(|c| (c.session_id.to_string(), unix_seconds(c.issued_at)))
    }

    /// The store's answer: "admitted", "revoked" or "unavailable".
    fn resolve(&mut self, verdict: &str) -> PyResult<()> {
        let verdict = match verdict {
            "admitted" => Verdict::Admitted,
            "revoked" => Verdict::Revoked,
            "unavailable" => Verdict::Unavailable,
            _ => {
                return Err(PyValueError::new_err(
                    "verdict must be \"admitted\", \"revoked\" or \"unavailable\"",
                ))
            }
        };
        self.inner.resolve(verdict);
        Ok(())
    }

    /// True when the store could not answer for this request's session.
    #[getter]
    fn unavailable(&self) -> bool {
        self.inner.is_unavailable()
    }

    /// The session's value (a new Python object each call), or `None` for an empty session.
    /// A value Python cannot hold (an ext type) reads as an empty session.
    fn value<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        self.inner
            .value()
            .and_then(|v| from_msgpack_value(py, v).ok())
    }

    /// The session id of the session that came with the request.
    #[getter]
    fn session_id(&self) -> Option<String> {
        self.inner.session_id().map(|id| id.to_string())
    }

    /// When that session started, Unix seconds.
    #[getter]
    fn started(&self) -> Option<u64> {
        self.inner.started()
    }

    /// `(issued_at, age, key_index)` of the request's cookie while it is the session.
    fn meta(&self) -> Option<(u64, u64, usize)> {
        self.inner
            .meta()
            .map(|m| (unix_seconds(m.issued_at), m.age.as_secs(), m.key_index))
    }

    /// Replaces the value (the same session, or a new one when none came with the request).
    /// `False` when the store could not answer for this request (nothing changes).
    fn set(&mut self, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        let (value, _) = to_msgpack_value(value)?;
        Ok(self.inner.set(value))
    }

    /// Empties the session: the response removes the cookie; a later `set` starts a new
    /// session with a new id.
    fn clear(&mut self) {
        self.inner.clear();
    }

    /// Asks for the loaded session to be issued anew.
    fn renew(&mut self) {
        self.inner.renew();
    }

    /// `(session_id, until)` that a logout must revoke (until: the last Unix second at which a
    /// copy could load), or `None`. Call it before `clear`.
    fn revocation(&self) -> Option<(String, u64)> {
        self.inner
            .revocation(&self.policy)
            .map(|r| (r.session_id.to_string(), unix_seconds(r.until)))
    }

    /// The logout's revocation could not be recorded: the response writes no cookie at all.
    fn revocation_failed(&mut self) {
        self.inner.revocation_failed();
    }

    /// True when finishing with this status starts a new session: look up the subject's
    /// cutoff first and pass it to `finish`.
    fn starts_session(&self, status: u16) -> bool {
        self.inner.starts_session(status)
    }

    /// `(set_cookie_lines, cache_control, vary_cookie)` for a response with this status and
    /// these `Cache-Control` values; `cache_control` is `None` when it stays as it is. Raises
    /// `SessionTooLarge` (the response must become a 500 without `Set-Cookie`).
    #[pyo3(signature = (status, cache_control, subject_cutoff=None))]
    fn finish(
        &mut self,
        status: u16,
        cache_control: Vec<String>,
        subject_cutoff: Option<u64>,
    ) -> PyResult<(Vec<String>, Option<String>, bool)> {
        let cutoff = subject_cutoff.and_then(|c| UNIX_EPOCH.checked_add(Duration::from_secs(c)));
        let finish = self
            .inner
            .finish(
                &self.policy,
                status,
                cache_control.iter().map(String::as_str),
                cutoff,
            )
            .map_err(|e| match e {
                FinishError::TooLarge => SessionTooLarge::new_err(e.to_string()),
                other => PyRuntimeError::new_err(other.to_string()),
            })?;
        Ok((finish.set_cookie, finish.cache_control, finish.vary_cookie))
    }

    fn __repr__(&self) -> String {
        // Neither the value nor the cookies.
        format!("SessionState(unavailable={})", self.inner.is_unavailable())
    }
}
