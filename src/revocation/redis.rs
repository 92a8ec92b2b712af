//! The shared revocation store on Redis (feature `redis`).

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{
    subject_hash, unix_secs, RevocationStatus, RevocationStore, StoreError, StoreFuture, TokenId,
};
use crate::session::SessionId;

/// Sets a subject's cutoff unless a later one is there, and keeps the longer expiry. Atomic on
/// the server, so that two instances revoking at once cannot move a cutoff back.
/// KEYS[1] = subject key; ARGV[1] = cutoff (unix seconds); ARGV[2] = time to live (ms).
const SET_CUTOFF: &str = r"
local cur = tonumber(redis.call('GET', KEYS[1]) or '-1')
local ttl = redis.call('PTTL', KEYS[1])
local new = tonumber(ARGV[1])
local px = tonumber(ARGV[2])
if new > cur then
  if ttl > px then px = ttl end
  redis.call('SET', KEYS[1], ARGV[1], 'PX', px)
elseif px > ttl then
  redis.call('PEXPIRE', KEYS[1], px)
end
return 1
";

/// Revokes a session id: sets the key unless it is there, and never shortens its expiry.
/// KEYS[1] = session key; ARGV[1] = time to live (ms). Returns 1 when the key was new.
const REVOKE_SESSION: &str = r"
local ttl = redis.call('PTTL', KEYS[1])
local px = tonumber(ARGV[1])
if ttl == -2 then
  redis.call('SET', KEYS[1], '1', 'PX', px)
  return 1
end
if ttl >= 0 and px > ttl then
  redis.call('PEXPIRE', KEYS[1], px)
end
return 0
";

/// A [`RevocationStore`] on a Redis server, shared by every instance of a service that uses
/// the same server and prefix: a logout on one instance is refused on all of them.
///
/// - **Revoking** a token is one `SET <key> 1 PX <ms> NX`: atomic, so that
///   [`revoke`](RevocationStore::revoke) answers `true` to exactly one of several instances
///   revoking the same token (a single-use link).
/// - **Keys** (SPEC.md section 10.6) are `<prefix>t:<token id>` (a revoked token),
///   `<prefix>i:<session id>` (a revoked session) and `<prefix>s:<hash of the subject>` (a
///   subject's cutoff, in unix seconds), the prefix being
///   [`DEFAULT_PREFIX`](RedisStore::DEFAULT_PREFIX) unless [chosen](RedisStore::prefix).
///   Subjects are hashed (SHA-256), so keys have a fixed length whatever the subject.
/// - **Every key expires on its own**: a token's key with `SET .. PX` at the moment the token
///   would have expired, a cutoff's key after the retention given to
///   [`revoke_subject`](RevocationStore::revoke_subject). Redis never holds more than the
///   revocations of one token lifetime, without any sweeping by the service (and without
///   `maxmemory` eviction, which could drop a live revocation: run this Redis with
///   `maxmemory-policy noeviction`, the default, or a volatile policy on a dedicated instance).
/// - **One round trip per check**: an `MGET` of the token's key and the subject's key.
/// - **Time-bounded**: every command gives up after the [timeout](RedisStore::timeout)
///   ([`DEFAULT_TIMEOUT`](RedisStore::DEFAULT_TIMEOUT)) with [`StoreError::Timeout`], and a
///   server that is down answers [`StoreError::Backend`] at once; the
///   [`ConnectionManager`] reconnects in the background.
/// - **One timeout, not one per request** (a circuit breaker): after a command fails or times
///   out, every command fails at once with [`StoreError::CircuitOpen`] for the
///   [breaker window](RedisStore::breaker_window)
///   ([`DEFAULT_BREAKER_WINDOW`](RedisStore::DEFAULT_BREAKER_WINDOW), 500 ms); then one command,
///   and only one, goes to the server as a probe while the others still fail at once. A probe
///   that succeeds closes the breaker; one that fails opens it for another window. So a
///   stalled server costs one timeout per window, not one per request, and service resumes
///   within a window and a round trip of the server answering again. The breaker logs once per
///   change of state (with the `axum` feature's `tracing`), and
///   [`is_available`](RedisStore::is_available) exposes it for health checks.
///
/// ```no_run
/// use itsclassified::revocation::{RedisStore, RevocationStore};
/// use std::sync::Arc;
///
/// # async fn start() -> Result<(), itsclassified::revocation::StoreError> {
/// let store: Arc<dyn RevocationStore> =
///     Arc::new(RedisStore::connect("redis://127.0.0.1:6379", "myapp:revoked:").await?);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
    set_cutoff: redis::Script,
    revoke_session: redis::Script,
    breaker: Arc<Breaker>,
}

/// The circuit breaker shared by every clone of a store: closed (commands go to the server),
/// or open until a moment, after which one probe goes.
struct Breaker {
    window: Mutex<Duration>,
    /// `Some(t)`: open; commands fail at once until `t`, then one probe goes.
    open_until: Mutex<Option<Instant>>,
    /// A probe is in flight: the others still fail at once.
    probing: AtomicBool,
}

/// What the breaker lets a command do.
#[derive(Debug, PartialEq, Eq)]
enum Pass {
    /// Closed: go.
    Go,
    /// Open, window over: go as the one probe.
    Probe,
    /// Open: fail at once.
    Refuse,
}

impl Breaker {
    fn new(window: Duration) -> Breaker {
        Breaker {
            window: Mutex::new(window),
            open_until: Mutex::new(None),
            probing: AtomicBool::new(false),
        }
    }

    fn open_until(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.open_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn pass(&self, now: Instant) -> Pass {
        match *self.open_until() {
            None => Pass::Go,
            Some(until) if now < until => Pass::Refuse,
            Some(_) => {
                if self.probing.swap(true, Ordering::AcqRel) {
                    Pass::Refuse
                } else {
                    Pass::Probe
                }
            }
        }
    }

    /// Records how a command that went ended.
    fn record(&self, pass: &Pass, ok: bool, now: Instant) {
        let window = *self.window.lock().unwrap_or_else(PoisonError::into_inner);
        let mut open_until = self.open_until();
        let was_open = open_until.is_some();
        if ok {
            *open_until = None;
            if was_open {
                log_state("the revocation store answers again: the circuit breaker is closed");
            }
        } else {
            *open_until = Some(now + window);
            if !was_open {
                log_state("the revocation store failed: the circuit breaker is open, requests that need it are refused at once and one probe a window goes to it");
            }
        }
        if *pass == Pass::Probe {
            self.probing.store(false, Ordering::Release);
        }
    }
}

/// Ends a command's pass when its future is dropped before the outcome was recorded.
struct ProbeGuard<'a> {
    breaker: &'a Breaker,
    pass: Option<Pass>,
}

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        if let Some(pass) = self.pass.take() {
            self.breaker.record(&pass, false, Instant::now());
        }
    }
}

fn log_state(_message: &'static str) {
    #[cfg(feature = "axum")]
    tracing::warn!("{_message}");
}

impl RedisStore {
    /// The key prefix of [`connect`](RedisStore::connect) when none is given.
    pub const DEFAULT_PREFIX: &'static str = "itsclassified:revoked:";
    /// How long a command may take before it fails with [`StoreError::Timeout`]: 250 ms.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(250);
    /// How long the circuit breaker stays open after a failure before one probe goes: 500 ms.
    pub const DEFAULT_BREAKER_WINDOW: Duration = Duration::from_millis(500);

    /// Connects to the Redis server at `url` (`redis://host:port/db`, `rediss://` needs a TLS
    /// feature of the `redis` crate) with a [`ConnectionManager`] whose connection attempts
    /// and responses are bounded by [`DEFAULT_TIMEOUT`](RedisStore::DEFAULT_TIMEOUT). Waits for
    /// the first connection, so a wrong URL or a server that is down fails here, at start-up.
    /// Keys start with `prefix` (use a different one per application sharing the server).
    pub async fn connect(url: &str, prefix: impl Into<String>) -> Result<RedisStore, StoreError> {
        let client = redis::Client::open(url).map_err(backend)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Self::DEFAULT_TIMEOUT))
            .set_response_timeout(Some(Self::DEFAULT_TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(1));
        let conn = bounded(
            Self::DEFAULT_TIMEOUT * 4,
            ConnectionManager::new_with_config(client, config),
        )
        .await?;
        Ok(RedisStore::from_manager(conn, prefix))
    }

    /// A store on a [`ConnectionManager`] the application made (with its own TLS, timeouts or
    /// retry policy).
    ///
    /// ```no_run
    /// # async fn start() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:6379")?;
    /// let conn = redis::aio::ConnectionManager::new(client).await?;
    /// let store = itsclassified::revocation::RedisStore::from_manager(conn, "myapp:revoked:");
    /// # Ok(()) }
    /// ```
    pub fn from_manager(conn: ConnectionManager, prefix: impl Into<String>) -> RedisStore {
        RedisStore {
            conn,
            prefix: prefix.into(),
            timeout: Self::DEFAULT_TIMEOUT,
            set_cutoff: redis::Script::new(SET_CUTOFF),
            revoke_session: redis::Script::new(REVOKE_SESSION),
            breaker: Arc::new(Breaker::new(Self::DEFAULT_BREAKER_WINDOW)),
        }
    }

    /// Changes the key prefix.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> RedisStore {
        self.prefix = prefix.into();
        self
    }

    /// Changes how long one command may take.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> RedisStore {
        self.timeout = timeout;
        self
    }

    /// Changes how long the circuit breaker stays open after a failure (for every clone of
    /// this store).
    #[must_use]
    pub fn breaker_window(self, window: Duration) -> RedisStore {
        *self
            .breaker
            .window
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = window;
        self
    }

    /// False while the circuit breaker is open (the last command failed or timed out, and no
    /// probe has succeeded since): for a health check. A store that was never asked is
    /// available.
    pub fn is_available(&self) -> bool {
        self.breaker.open_until().is_none()
    }

    /// Runs one command through the circuit breaker, within the timeout.
    async fn run<T>(
        &self,
        command: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        let pass = self.breaker.pass(Instant::now());
        if pass == Pass::Refuse {
            return Err(StoreError::CircuitOpen);
        }
        // A command whose future is dropped before it ends (the client went away, an outer
        // timeout fired) must not leave its probe in flight for ever: the guard ends it, as a
        // failure, unless the command's outcome was recorded first.
        let mut guard = ProbeGuard {
            breaker: &self.breaker,
            pass: Some(pass),
        };
        let result = bounded(self.timeout, command).await;
        if let Some(pass) = guard.pass.take() {
            self.breaker.record(&pass, result.is_ok(), Instant::now());
        }
        result
    }

    fn token_key(&self, id: TokenId) -> String {
        format!("{}t:{id}", self.prefix)
    }

    fn session_key(&self, id: SessionId) -> String {
        format!("{}i:{id}", self.prefix)
    }

    /// Whether the key `id_key` exists, or the subject's cutoff is at or after `issued_at`:
    /// one round trip (`EXISTS`, or `MGET` of both keys).
    async fn refused(
        &self,
        id_key: String,
        issued_at: SystemTime,
        subject: Option<&str>,
    ) -> Result<RevocationStatus, StoreError> {
        let mut conn = self.conn.clone();
        let status = match subject {
            None => {
                let cmd = redis::cmd("EXISTS").arg(id_key).clone();
                if self.run(cmd.query_async::<u8>(&mut conn)).await? > 0 {
                    RevocationStatus::Revoked
                } else {
                    RevocationStatus::Active
                }
            }
            Some(subject) => {
                let cmd = redis::cmd("MGET")
                    .arg(id_key)
                    .arg(self.subject_key(subject))
                    .clone();
                let (id, cutoff): (Option<u8>, Option<u64>) =
                    self.run(cmd.query_async(&mut conn)).await?;
                if id.is_some() {
                    RevocationStatus::Revoked
                } else if cutoff.is_some_and(|c| unix_secs(issued_at) <= c) {
                    RevocationStatus::SubjectCutoff
                } else {
                    RevocationStatus::Active
                }
            }
        };
        Ok(status)
    }

    fn subject_key(&self, subject: &str) -> String {
        format!(
            "{}s:{}",
            self.prefix,
            URL_SAFE_NO_PAD.encode(subject_hash(subject))
        )
    }
}

fn backend(e: redis::RedisError) -> StoreError {
    StoreError::Backend(Box::new(e))
}

/// `fut`, failing with [`StoreError::Timeout`] after `timeout`.
async fn bounded<T>(
    timeout: Duration,
    fut: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(result) => result.map_err(backend),
        Err(_) => Err(StoreError::Timeout),
    }
}

/// Milliseconds from now until the end of second `until` (unix), at least one; `None` when that
/// moment has passed.
fn ttl_ms(until_secs: u64) -> Option<u64> {
    let end = SystemTime::UNIX_EPOCH + Duration::from_secs(until_secs.saturating_add(1));
    let left = end.duration_since(SystemTime::now()).ok()?;
    Some(u64::try_from(left.as_millis()).unwrap_or(u64::MAX).max(1))
}

impl RevocationStore for RedisStore {
    fn revoke_token(&self, id: TokenId, until: SystemTime) -> StoreFuture<'_, bool> {
        Box::pin(async move {
            let Some(px) = ttl_ms(unix_secs(until)) else {
                return Ok(true);
            };
            let mut conn = self.conn.clone();
            // NX: the first revocation wins, atomically, and keeps its expiry (the token's).
            let cmd = redis::cmd("SET")
                .arg(self.token_key(id))
                .arg(1u8)
                .arg("PX")
                .arg(px)
                .arg("NX")
                .clone();
            let set: Option<String> = self.run(cmd.query_async(&mut conn)).await?;
            Ok(set.is_some())
        })
    }

    fn revoke_subject<'a>(
        &'a self,
        subject: &'a str,
        cutoff: SystemTime,
        retain: Duration,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let cutoff = unix_secs(cutoff);
            let Some(px) = ttl_ms(cutoff.saturating_add(retain.as_secs())) else {
                return Ok(());
            };
            let mut conn = self.conn.clone();
            let mut invocation = self.set_cutoff.key(self.subject_key(subject));
            invocation.arg(cutoff).arg(px);
            self.run(invocation.invoke_async::<()>(&mut conn)).await
        })
    }

    fn status<'a>(
        &'a self,
        id: TokenId,
        issued_at: SystemTime,
        subject: Option<&'a str>,
    ) -> StoreFuture<'a, RevocationStatus> {
        Box::pin(self.refused(self.token_key(id), issued_at, subject))
    }

    fn revoke_session(&self, id: SessionId, until: SystemTime) -> StoreFuture<'_, bool> {
        Box::pin(async move {
            let Some(px) = ttl_ms(unix_secs(until)) else {
                return Ok(true);
            };
            let mut conn = self.conn.clone();
            let mut invocation = self.revoke_session.key(self.session_key(id));
            invocation.arg(px);
            let fresh: u8 = self.run(invocation.invoke_async(&mut conn)).await?;
            Ok(fresh == 1)
        })
    }

    fn session_status<'a>(
        &'a self,
        id: SessionId,
        issued_at: SystemTime,
        subject: Option<&'a str>,
    ) -> StoreFuture<'a, RevocationStatus> {
        Box::pin(self.refused(self.session_key(id), issued_at, subject))
    }

    fn subject_cutoff<'a>(&'a self, subject: &'a str) -> StoreFuture<'a, Option<SystemTime>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let cmd = redis::cmd("GET").arg(self.subject_key(subject)).clone();
            let cutoff: Option<u64> = self.run(cmd.query_async(&mut conn)).await?;
            Ok(cutoff.map(|c| SystemTime::UNIX_EPOCH + Duration::from_secs(c)))
        })
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the connection: its URL may carry a password.
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_millis(500);

    #[test]
    fn a_closed_breaker_lets_every_command_go() {
        let b = Breaker::new(WINDOW);
        let t0 = Instant::now();
        assert_eq!(b.pass(t0), Pass::Go);
        b.record(&Pass::Go, true, t0);
        assert_eq!(b.pass(t0), Pass::Go);
        assert!(b.open_until().is_none());
    }

    #[test]
    fn a_failure_refuses_at_once_for_a_window_then_lets_one_probe_go() {
        let b = Breaker::new(WINDOW);
        let t0 = Instant::now();
        b.record(&Pass::Go, false, t0);
        assert_eq!(b.pass(t0), Pass::Refuse);
        assert_eq!(b.pass(t0 + WINDOW - Duration::from_millis(1)), Pass::Refuse);
        let later = t0 + WINDOW;
        assert_eq!(b.pass(later), Pass::Probe, "one probe ...");
        assert_eq!(b.pass(later), Pass::Refuse, "... and only one");
        // The probe fails: another window.
        b.record(&Pass::Probe, false, later);
        assert_eq!(b.pass(later + Duration::from_millis(1)), Pass::Refuse);
        let again = later + WINDOW;
        assert_eq!(b.pass(again), Pass::Probe);
        // The probe succeeds: closed.
        b.record(&Pass::Probe, true, again);
        assert_eq!(b.pass(again), Pass::Go);
        assert_eq!(b.pass(again), Pass::Go);
    }

    #[test]
    fn a_probe_dropped_before_its_answer_does_not_keep_the_breaker_open_for_ever() {
        // The bug a stall under load showed: the probe's future was dropped (the client went
        // away), its pass was never ended, and every later window refused its probe.
        let b = Breaker::new(WINDOW);
        let t0 = Instant::now();
        b.record(&Pass::Go, false, t0);
        let later = t0 + WINDOW;
        assert_eq!(b.pass(later), Pass::Probe);
        drop(ProbeGuard {
            breaker: &b,
            pass: Some(Pass::Probe),
        });
        // Counted as a failure: another window, then a probe again.
        assert!(b.pass(Instant::now()) == Pass::Refuse);
        assert_eq!(b.pass(Instant::now() + WINDOW + WINDOW), Pass::Probe);
        // A guard whose outcome was recorded does nothing more on drop.
        let b = Breaker::new(WINDOW);
        drop(ProbeGuard {
            breaker: &b,
            pass: None,
        });
        assert_eq!(b.pass(Instant::now()), Pass::Go);
    }

    #[test]
    fn a_command_that_went_before_the_failure_and_succeeds_after_it_closes_the_breaker() {
        // The server answers: whatever else failed, it is available again.
        let b = Breaker::new(WINDOW);
        let t0 = Instant::now();
        b.record(&Pass::Go, false, t0);
        b.record(&Pass::Go, true, t0);
        assert_eq!(b.pass(t0), Pass::Go);
    }
}
