//! An axum service with both kinds of credentials: bearer tokens for API clients and an
//! encrypted cookie session for browsers.
//!
//!     cargo run --example axum_api --features axum,reload,redis
//!     PORT=8080 ITSCLASSIFIED_KEYS=<key>,<old key> cargo run --example axum_api --features axum,reload,redis
//!     ITSCLASSIFIED_KEYS_FILE=keys.txt REDIS_URL=redis://127.0.0.1:6379 \
//!         cargo run --example axum_api --features axum,reload,redis
//!
//! It follows the example contract that every door of the project follows (the routes, the
//! environment and the behaviour below), and the repository's conformance suite
//! (`scripts/conformance.sh`) checks it, alone and paired with a second instance through one
//! Redis.
//!
//! Keys come from `ITSCLASSIFIED_KEYS_FILE` (one key a line, primary first, `#` comments), else
//! from `ITSCLASSIFIED_KEYS` (comma-separated), else a key is generated for this run. The key
//! file is read again on SIGHUP, without a restart and without dropping a request: rotate by
//! editing the file in three phases (README, "Rotation") and sending `kill -HUP <pid>` after
//! each; if the new file is unusable, the keys in force stay and the error is printed. The file
//! is read on a thread of its own, never on the request path, so even a FIFO without a writer
//! cannot freeze the server. SIGHUP without a key file only logs that there is nothing to
//! reload; SIGTERM stops the server cleanly.
//!
//! Sessions: `ITSCLASSIFIED_SESSION_MAX_AGE` (seconds, default 86400),
//! `ITSCLASSIFIED_SESSION_RENEW_AFTER` (default 43200) and
//! `ITSCLASSIFIED_SESSION_ABSOLUTE_LIFETIME` (default 604800); a session may take up to three
//! cookies (`__Host-session.0` ... `.2`) and a larger one is a 500.
//!
//! Then, from another terminal:
//!
//!     curl -si -c jar -H 'content-type: application/json' \
//!          -d '{"user_id": "123", "role": "admin"}' http://localhost:3000/login
//!     curl -si -H "authorization: Bearer <token from the login answer>" http://localhost:3000/me
//!     curl -si -b jar http://localhost:3000/session
//!     curl -si -b jar -c jar -X PUT -H 'content-type: application/json' \
//!          -d '{"role": "viewer"}' http://localhost:3000/session
//!     curl -si -b jar -c jar -X POST http://localhost:3000/logout
//!
//! `POST /logout` clears the session and revokes what was presented: the session (every copy of
//! its cookie, also one saved before a change), and the bearer token if a valid one came along,
//! so a saved copy is refused afterwards. An expired, revoked or malformed bearer token does not
//! stop the session from being cleared:
//!
//!     curl -si -b jar -c jar -H "authorization: Bearer $TOKEN" -X POST http://localhost:3000/logout
//!     curl -si -H "authorization: Bearer $TOKEN" http://localhost:3000/me      # 401 now
//!
//! `POST /logout-all` (with the bearer token or the session) refuses every token and session of
//! that user issued up to now, on every instance that shares the store; other users are
//! untouched:
//!
//!     curl -si -H "authorization: Bearer $TOKEN" -X POST http://localhost:3000/logout-all
//!
//! Revocations are kept in this process, or with `REDIS_URL=redis://127.0.0.1:6379` in Redis,
//! shared by every instance started with the same URL. When the store cannot answer, requests
//! that need it get a 503 with `Retry-After` (never a 401, which would make clients throw their
//! tokens away), and no cookie is written.
//!
//! The session cookie is `Secure`, as it should be, and so named `__Host-session` (a prefix that
//! stops subdomains from planting one). Browsers and curl treat `http://localhost` as a secure
//! origin and send it there; other clients (and other host names) only send it over HTTPS. For
//! plain-HTTP development with such a client, set `ITSCLASSIFIED_INSECURE_COOKIES=1` to drop
//! `Secure` (the cookie is then named `session`): never do that in production, where it would
//! send the session in clear text.
//!
//! `POST /login` checks no password: it is a demo of the token plumbing, not of authentication.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, State};
use axum::http::header::RETRY_AFTER;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use itsclassified::revocation::{MemoryStore, RedisStore, RevocationStore};
use itsclassified::web::{
    Bearer, BearerRejection, BearerSerializer, IssueError, Revocation, Session, SessionLayer,
};
use itsclassified::{SecretKey, TimedSerializer};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use zeroize::Zeroizing;

/// What both the bearer token and the session hold.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct User {
    user_id: String,
    role: String,
}

/// The body of `PUT /session`.
#[derive(Deserialize)]
struct RoleChange {
    role: String,
}

#[derive(Clone)]
struct AppState {
    bearer: BearerSerializer,
    /// The revocation the bearer tokens and the sessions are checked with (clones share what
    /// they learn): "log out everywhere" goes through it.
    revocation: Revocation<User>,
}

impl FromRef<AppState> for BearerSerializer {
    fn from_ref(state: &AppState) -> BearerSerializer {
        state.bearer.clone()
    }
}

/// A 503 with `Retry-After`: the revocation store cannot answer. Never a 401, which would make
/// the client throw away credentials that are fine.
fn store_unavailable() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, [(RETRY_AFTER, "1")]).into_response()
}

/// Starts a new session (a new session id) and issues a bearer token for whoever asks (no
/// password: a demo). Both are issued after any "log out everywhere" cutoff of the user, so
/// that logging in again right after it works.
async fn login(
    State(state): State<AppState>,
    session: Session<User>,
    Json(user): Json<User>,
) -> Result<Json<Value>, Response> {
    let token = state.bearer.issue(&user).await.map_err(|e| match e {
        IssueError::StoreUnavailable => store_unavailable(),
        e => {
            tracing::error!(error = %e, "cannot issue a token");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    })?;
    session.clear();
    session.set(user);
    Ok(Json(json!({ "token": token })))
}

/// Needs `Authorization: Bearer <token>`.
async fn me(Bearer { payload, meta, .. }: Bearer<User>) -> Json<Value> {
    Json(json!({ "user": payload, "token_age_secs": meta.age.as_secs() }))
}

/// Needs the session cookie.
async fn get_session(session: Session<User>) -> Result<Json<User>, StatusCode> {
    session.get().map(Json).ok_or(StatusCode::UNAUTHORIZED)
}

/// Changes the session's role: the same session (same id, same start), a new cookie.
async fn put_session(
    session: Session<User>,
    Json(change): Json<RoleChange>,
) -> Result<Json<User>, StatusCode> {
    let mut user = session.get().ok_or(StatusCode::UNAUTHORIZED)?;
    user.role = change.role;
    session.set(user.clone());
    Ok(Json(user))
}

/// Clears the session and revokes what was presented: the session (every copy of its cookie),
/// and the bearer token if a valid one came with it. A stale, revoked or malformed bearer token
/// is ignored, so that it cannot stop the session from being cleared.
async fn logout(session: Session<User>, bearer: Result<Bearer<User>, BearerRejection>) -> Response {
    let token = match &bearer {
        Ok(bearer) => bearer.revoke().await.map(|_| ()),
        // The store cannot say whether the token is revoked: nor could it record it.
        Err(BearerRejection::StoreUnavailable) => return store_unavailable(),
        Err(_) => Ok(()),
    };
    let cookie = session.clear_and_revoke().await;
    match cookie.and(token) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(), // logged; a 503 while the store cannot record it
    }
}

/// Refuses every bearer token and session of the caller issued up to now, on every instance
/// sharing the store. Authenticated by a bearer token or the session.
async fn logout_all(
    State(state): State<AppState>,
    session: Session<User>,
    bearer: Result<Bearer<User>, BearerRejection>,
) -> Response {
    let user = match bearer {
        Ok(bearer) => bearer.payload,
        Err(BearerRejection::StoreUnavailable) => return store_unavailable(),
        Err(_) => match session.get() {
            Some(user) => user,
            None => return StatusCode::UNAUTHORIZED.into_response(),
        },
    };
    match state.revocation.revoke_subject(&user).await {
        Ok(()) => {
            session.clear();
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// The revocation store: Redis at `REDIS_URL` (shared by every instance started with the same
/// URL), else one in this process.
async fn revocation_store() -> Result<Arc<dyn RevocationStore>, Box<dyn std::error::Error>> {
    match std::env::var("REDIS_URL") {
        Ok(url) => {
            let store = RedisStore::connect(&url, "itsclassified-example:").await?;
            tracing::info!("revocations go to Redis (REDIS_URL)");
            Ok(Arc::new(store))
        }
        Err(_) => {
            tracing::warn!("REDIS_URL is not set: revocations are kept in this process only");
            Ok(Arc::new(MemoryStore::new()))
        }
    }
}

/// Where the keys come from.
enum KeySource {
    File(PathBuf),
    Env,
    Generated(Zeroizing<String>),
}

impl KeySource {
    fn from_env() -> KeySource {
        if let Some(path) = std::env::var_os("ITSCLASSIFIED_KEYS_FILE") {
            return KeySource::File(path.into());
        }
        if std::env::var_os("ITSCLASSIFIED_KEYS").is_some() {
            return KeySource::Env;
        }
        tracing::warn!("ITSCLASSIFIED_KEYS is not set: using a key generated for this run only (tokens and cookies issued now will not load after a restart)");
        KeySource::Generated(SecretKey::generate().to_base64())
    }

    /// The key ring, read once (and cloned for the second purpose).
    fn keys(&self) -> Result<Vec<SecretKey>, itsclassified::KeyError> {
        match self {
            KeySource::File(path) => SecretKey::list_from_file(path),
            KeySource::Env => SecretKey::list_from_env("ITSCLASSIFIED_KEYS"),
            KeySource::Generated(key) => Ok(vec![SecretKey::from_base64(key)?]),
        }
    }
}

/// The key ring read from the key file, once, on a thread of its own, so that a file that blocks
/// (a FIFO without a writer) holds up that thread only, never a request or the shutdown.
fn read_key_file(path: PathBuf) -> tokio::sync::oneshot::Receiver<Result<Vec<SecretKey>, String>> {
    let (send, receive) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = send.send(SecretKey::list_from_file(&path).map_err(|e| e.to_string()));
    });
    receive
}

/// Handles SIGHUP: re-reads the key file (if there is one) and swaps the ring of `serializer`
/// and so of every serializer of its family: its siblings of other salts (`with_salt`), and the
/// clones the layer and the extractor hold. A file that does not load leaves the keys in force:
/// a typo must not log everyone out. One read at a time.
#[cfg(unix)]
async fn reload_on_sighup(
    path: Option<PathBuf>,
    serializer: TimedSerializer,
) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        let mut pending: Option<tokio::sync::oneshot::Receiver<_>> = None;
        while hangups.recv().await.is_some() {
            let Some(path) = &path else {
                tracing::info!("SIGHUP: nothing to reload (no ITSCLASSIFIED_KEYS_FILE)");
                continue;
            };
            if let Some(reading) = &mut pending {
                if matches!(
                    reading.try_recv(),
                    Err(tokio::sync::oneshot::error::TryRecvError::Empty)
                ) {
                    tracing::error!("SIGHUP: the previous read of the key file has not finished; the keys in force stay");
                    continue;
                }
            }
            let reading = pending.insert(read_key_file(path.clone()));
            // Within a few seconds, or the read is left to its thread and reported as stuck.
            let outcome = match tokio::time::timeout(Duration::from_secs(5), reading).await {
                Ok(Ok(outcome)) => {
                    pending = None;
                    outcome
                }
                Ok(Err(_)) => {
                    pending = None;
                    Err("the reading thread stopped".to_owned())
                }
                Err(_) => Err(
                    "the key file did not answer within 5 s (a FIFO without a writer?)".to_owned(),
                ),
            };
            // One read, one call, every purpose: the bearer tokens' serializer and its sibling
            // for cookies get the new ring, each derived for its own salt (or, on an error,
            // neither does).
            let swapped =
                outcome.and_then(|keys| serializer.replace_keys(keys).map_err(|e| e.to_string()));
            match swapped {
                Ok(()) => {
                    let ids: Vec<String> = serializer
                        .key_ids()
                        .iter()
                        .map(ToString::to_string)
                        .collect();
                    tracing::info!("SIGHUP: keys reloaded, key ids now {}", ids.join(", "));
                }
                Err(e) => tracing::error!("SIGHUP: keys not reloaded, the keys in force stay: {e}"),
            }
        }
    });
    Ok(())
}

/// A whole number of seconds from the environment variable `name`, or `default`.
fn seconds(name: &str, default: u64) -> Result<Duration, Box<dyn std::error::Error>> {
    match std::env::var(name) {
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(secs) => Ok(Duration::from_secs(secs)),
            Err(_) => Err(format!("{name} must be a whole number of seconds").into()),
        },
        Err(_) => Ok(Duration::from_secs(default)),
    }
}

/// Resolves on SIGTERM or Ctrl-C: the server then stops accepting and finishes what it has.
async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terms) => {
                tokio::select! {
                    _ = terms.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down");
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::DEBUG)
        .with_writer(std::io::stderr)
        .init();

    let source = KeySource::from_env();
    let session_max_age = seconds("ITSCLASSIFIED_SESSION_MAX_AGE", 86_400)?;
    let renew_after = seconds("ITSCLASSIFIED_SESSION_RENEW_AFTER", 43_200)?;
    let absolute_lifetime = seconds("ITSCLASSIFIED_SESSION_ABSOLUTE_LIFETIME", 604_800)?;
    // One key ring, read once, two purposes: the salts keep bearer tokens and cookies apart.
    // The cookies' serializer is a sibling of the tokens' (`with_salt`), so that one
    // `replace_keys` reloads both.
    let bearer = TimedSerializer::with_keys(source.keys()?, "api-token")?
        .max_age(Duration::from_secs(15 * 60));
    let cookies = bearer.with_salt("session-cookie").max_age(session_max_age);
    #[cfg(unix)]
    {
        let path = match &source {
            KeySource::File(path) => Some(path.clone()),
            _ => None,
        };
        reload_on_sighup(path, bearer.clone()).await?;
    }

    // Revocations: the store, and the subject of a token (its user) for "log out everywhere".
    let revocation = Revocation::<User>::new(revocation_store().await?)
        .subject(|user| Some(user.user_id.clone()));

    let mut sessions = SessionLayer::<User>::builder(cookies)
        .revocation(revocation.clone())
        // Sliding expiry for active users, within an absolute lifetime.
        .renew_after(renew_after)
        .absolute_lifetime(absolute_lifetime)
        .max_chunks(3);
    if std::env::var_os("ITSCLASSIFIED_INSECURE_COOKIES").is_some_and(|v| v == "1") {
        tracing::warn!("ITSCLASSIFIED_INSECURE_COOKIES=1: the session cookie is sent over plain HTTP (no Secure attribute). For local development only.");
        sessions = sessions.insecure_allow_http();
    }

    let app = Router::new()
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/session", get(get_session).put(put_session))
        .route("/logout", post(logout))
        .route("/logout-all", post(logout_all))
        .layer(sessions.build()?)
        .with_state(AppState {
            bearer: BearerSerializer::new(bearer)?.revocation(revocation.clone()),
            revocation,
        });

    let port = match std::env::var("PORT") {
        Ok(port) => port.parse()?,
        Err(_) => 3000,
    };
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await?;
    Ok(())
}
