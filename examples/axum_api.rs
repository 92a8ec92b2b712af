//! An axum service with both kinds of credentials: bearer tokens for API clients and an
//! encrypted cookie session for browsers.
//!
//!     cargo run --example axum_api --features axum,reload,redis
//!     PORT=8080 ITSCLASSIFIED_KEYS=<key>,<old key> cargo run --example axum_api --features axum,reload,redis
//!     ITSCLASSIFIED_KEYS_FILE=keys.txt REDIS_URL=redis://127.0.0.1:6379 \
//!         cargo run --example axum_api --features axum,reload,redis
//!
//! Keys come from `ITSCLASSIFIED_KEYS_FILE` (one key a line, primary first, `#` comments), else
//! from `ITSCLASSIFIED_KEYS` (comma-separated), else a key is generated for this run. The key
//! file is read again on SIGHUP, without a restart and without dropping a request: rotate by
//! editing the file in three phases (README, "Rotation") and sending `kill -HUP <pid>` after
//! each; if the new file is unusable, the keys in force stay and the error is printed.
//!
//! Then, from another terminal:
//!
//!     curl -si -c jar -H 'content-type: application/json' \
//!          -d '{"user_id": "123", "role": "admin"}' http://localhost:3000/login
//!     curl -si -H "authorization: Bearer <token from the login answer>" http://localhost:3000/me
//!     curl -si -b jar http://localhost:3000/session
//!     curl -si -b jar -c jar -X POST http://localhost:3000/logout
//!
//! `POST /logout` clears the session and revokes what was presented: the cookie, and the bearer
//! token if one came along, so a saved copy is refused afterwards:
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
//! shared by every instance started with the same URL (`--features redis`).
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
use std::time::{Duration, SystemTime};

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use itsclassified::revocation::{MemoryStore, RedisStore, RevocationStore};
use itsclassified::web::{Bearer, BearerSerializer, Revocation, Session, SessionLayer};
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

#[derive(Clone)]
struct AppState {
    bearer: BearerSerializer,
    /// Where revocations go: Redis (`REDIS_URL`, shared by every instance) or this process.
    store: Arc<dyn RevocationStore>,
    /// How long a "log out everywhere" cutoff must be kept: the longest token lifetime.
    retain: Duration,
}

impl FromRef<AppState> for BearerSerializer {
    fn from_ref(state: &AppState) -> BearerSerializer {
        state.bearer.clone()
    }
}

/// Issues a bearer token and starts a cookie session for whoever asks (no password: a demo).
async fn login(
    State(state): State<AppState>,
    session: Session<User>,
    Json(user): Json<User>,
) -> Result<Json<Value>, StatusCode> {
    let token = state.bearer.dumps(&user).map_err(|e| {
        eprintln!("cannot issue a token: {e}");
        StatusCode::INTERNAL_SERVER_ERROR
    })?;
    session.set(user);
    Ok(Json(json!({ "token": token })))
}

/// Needs `Authorization: Bearer <token>`.
async fn me(Bearer { payload, meta, .. }: Bearer<User>) -> Json<Value> {
    Json(json!({ "user": payload, "token_age_secs": meta.age.as_secs() }))
}

/// Needs the session cookie.
async fn session(session: Session<User>) -> Result<Json<User>, StatusCode> {
    session.get().map(Json).ok_or(StatusCode::UNAUTHORIZED)
}

/// Clears the session and revokes what was presented: the session cookie, and the bearer token
/// if an `Authorization: Bearer` header came with it. A saved copy is refused afterwards.
async fn logout(
    State(state): State<AppState>,
    session: Session<User>,
    bearer: Option<Bearer<User>>,
) -> StatusCode {
    let cookie = session.clear_and_revoke().await;
    let token = match &bearer {
        Some(bearer) => state.store.revoke(&bearer.meta).await.map(|_| ()),
        None => Ok(()),
    };
    match (cookie, token) {
        (Ok(()), Ok(())) => StatusCode::NO_CONTENT,
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("logout not recorded: {e}");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

/// Refuses every bearer token and session of the caller issued up to now, on every instance
/// sharing the store. Authenticated by a bearer token or the session.
async fn logout_all(
    State(state): State<AppState>,
    session: Session<User>,
    bearer: Option<Bearer<User>>,
) -> StatusCode {
    let user = match bearer {
        Some(bearer) => bearer.payload,
        None => match session.get() {
            Some(user) => user,
            None => return StatusCode::UNAUTHORIZED,
        },
    };
    let cutoff = SystemTime::now();
    match state
        .store
        .revoke_subject(&user.user_id, cutoff, state.retain)
        .await
    {
        Ok(()) => {
            session.clear();
            StatusCode::NO_CONTENT
        }
        Err(e) => {
            eprintln!("logout-all not recorded: {e}");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

/// The revocation store: Redis at `REDIS_URL` (shared by every instance started with the same
/// URL), else one in this process.
async fn revocation_store() -> Result<Arc<dyn RevocationStore>, Box<dyn std::error::Error>> {
    match std::env::var("REDIS_URL") {
        Ok(url) => {
            let store = RedisStore::connect(&url, "itsclassified-example:").await?;
            eprintln!("revocations go to Redis (REDIS_URL)");
            Ok(Arc::new(store))
        }
        Err(_) => {
            eprintln!("REDIS_URL is not set: revocations are kept in this process only");
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
        eprintln!("ITSCLASSIFIED_KEYS is not set: using a key generated for this run only");
        eprintln!("(tokens and cookies issued now will not load after a restart)");
        KeySource::Generated(SecretKey::generate().to_base64())
    }

    /// The key ring, read once per serializer (a `SecretKey` cannot be cloned).
    fn keys(&self) -> Result<Vec<SecretKey>, itsclassified::KeyError> {
        match self {
            KeySource::File(path) => SecretKey::list_from_file(path),
            KeySource::Env => SecretKey::list_from_env("ITSCLASSIFIED_KEYS"),
            KeySource::Generated(key) => Ok(vec![SecretKey::from_base64(key)?]),
        }
    }
}

/// Re-reads the key file on every SIGHUP and swaps the rings of both serializers (and so of
/// the layer and the extractor, which hold clones). A file that does not load leaves the keys
/// in force: a typo must not log everyone out.
#[cfg(unix)]
async fn reload_on_sighup(source: KeySource, serializers: [TimedSerializer; 2]) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(e) => {
            eprintln!("cannot listen for SIGHUP, keys will not be reloaded: {e}");
            return;
        }
    };
    while hangups.recv().await.is_some() {
        let reloaded = serializers
            .iter()
            .try_for_each(|s| source.keys().and_then(|keys| s.replace_keys(keys)));
        match reloaded {
            Ok(()) => {
                let ids: Vec<String> = serializers[0]
                    .key_ids()
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                eprintln!("SIGHUP: keys reloaded, key ids now {}", ids.join(", "));
            }
            Err(e) => eprintln!("SIGHUP: keys not reloaded, the keys in force stay: {e}"),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::DEBUG)
        .with_writer(std::io::stderr)
        .init();

    let source = KeySource::from_env();
    // One key ring, two purposes: the salts keep bearer tokens and cookies apart.
    let bearer = TimedSerializer::with_keys(source.keys()?, "api-token")?
        .max_age(Duration::from_secs(15 * 60));
    let cookies = TimedSerializer::with_keys(source.keys()?, "session-cookie")?
        .max_age(Duration::from_secs(24 * 3600))
        .max_token_len(3800);
    #[cfg(unix)]
    if matches!(source, KeySource::File(_)) {
        tokio::spawn(reload_on_sighup(source, [bearer.clone(), cookies.clone()]));
    }

    // Revocations: the store, and the subject of a token (its user) for "log out everywhere".
    let store = revocation_store().await?;
    let retain = [&bearer, &cookies]
        .iter()
        .filter_map(|s| s.revocation_retention())
        .max()
        .unwrap_or(Duration::ZERO);
    let revocation =
        || Revocation::<User>::new(Arc::clone(&store)).subject(|user| Some(user.user_id.clone()));

    let mut sessions = SessionLayer::<User>::builder(cookies)
        .revocation(revocation())
        // Sliding expiry for active users, within an absolute lifetime of a week.
        .renew_after(Duration::from_secs(12 * 3600))
        .absolute_lifetime(Duration::from_secs(7 * 24 * 3600));
    if std::env::var_os("ITSCLASSIFIED_INSECURE_COOKIES").is_some_and(|v| v == "1") {
        eprintln!(
            "WARNING: ITSCLASSIFIED_INSECURE_COOKIES=1: the session cookie is sent over plain"
        );
        eprintln!("WARNING: HTTP (no Secure attribute). For local development only.");
        sessions = sessions.insecure_allow_http();
    }

    let app = Router::new()
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/session", get(session))
        .route("/logout", post(logout))
        .route("/logout-all", post(logout_all))
        .layer(sessions.build()?)
        .with_state(AppState {
            bearer: BearerSerializer::new(bearer).revocation(revocation()),
            store: Arc::clone(&store),
            retain,
        });

    let port = match std::env::var("PORT") {
        Ok(port) => port.parse()?,
        Err(_) => 3000,
    };
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
