//! The actix-web twin of `examples/axum_api.rs`: bearer tokens for API clients and an encrypted
//! cookie session for browsers, through `itsclassified::actix`.
//!
//!     cargo run --example actix_api --features actix,reload,redis
//!     PORT=8080 ITSCLASSIFIED_KEYS=<key>,<old key> cargo run --example actix_api --features actix,reload,redis
//!     ITSCLASSIFIED_KEYS_FILE=keys.txt REDIS_URL=redis://127.0.0.1:6379 \
//!         cargo run --example actix_api --features actix,reload,redis
//!
//! It follows the example contract every door follows (routes, environment, behaviour; see
//! `examples/axum_api.rs` for the walk-through with curl), and the conformance suite
//! (`scripts/conformance.sh`) checks it alone and paired with the axum example through one
//! Redis: the same keys give tokens and cookies that both accept, and a logout on one is
//! refused on the other.
//!
//! Keys from `ITSCLASSIFIED_KEYS_FILE` (re-read on SIGHUP, on a thread of its own), else
//! `ITSCLASSIFIED_KEYS`, else one generated for this run. Revocations in Redis with
//! `REDIS_URL` (prefix `itsclassified-example:`), else in this process. When the store cannot
//! answer: 503 with `Retry-After`, no cookie written, never a 401. `ITSCLASSIFIED_INSECURE_COOKIES=1`
//! drops `Secure` (cookie `session`), for plain-HTTP development only.
//!
//! `POST /login` checks no password: it is a demo of the token plumbing, not of authentication.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::RETRY_AFTER;
use actix_web::http::StatusCode;
use actix_web::{web, App, HttpResponse, HttpServer, ResponseError};
use itsclassified::actix::{
    Bearer, BearerRejection, BearerSerializer, IssueError, Revocation, Session, SessionMiddleware,
};
use itsclassified::revocation::{MemoryStore, RedisStore, RevocationStore};
use itsclassified::{SecretKey, TimedSerializer};
use serde::{Deserialize, Serialize};
use serde_json::json;
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

struct AppState {
    bearer: BearerSerializer,
    /// The revocation the bearer tokens and the sessions are checked with (clones share what
    /// they learn): "log out everywhere" goes through it.
    revocation: Revocation<User>,
}

/// A 503 with `Retry-After`: the revocation store cannot answer. Never a 401, which would make
/// the client throw away credentials that are fine.
fn store_unavailable() -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .insert_header((RETRY_AFTER, "1"))
        .finish()
}

/// Starts a new session (a new session id) and issues a bearer token, both after any "log out
/// everywhere" cutoff of the user.
async fn login(
    state: web::Data<AppState>,
    session: Session<User>,
    user: web::Json<User>,
) -> HttpResponse {
    let user = user.into_inner();
    let token = match state.bearer.issue(&user).await {
        Ok(token) => token,
        Err(IssueError::StoreUnavailable) => return store_unavailable(),
        Err(e) => {
            tracing::error!(error = %e, "cannot issue a token");
            return HttpResponse::InternalServerError().finish();
        }
    };
    session.clear();
    session.set(user);
    HttpResponse::Ok().json(json!({ "token": token }))
}

/// Needs `Authorization: Bearer <token>`.
async fn me(bearer: Bearer<User>) -> HttpResponse {
    HttpResponse::Ok()
        .json(json!({ "user": bearer.payload, "token_age_secs": bearer.meta.age.as_secs() }))
}

/// Needs the session cookie.
async fn get_session(session: Session<User>) -> HttpResponse {
    match session.get() {
        Some(user) => HttpResponse::Ok().json(user),
        None => HttpResponse::Unauthorized().finish(),
    }
}

/// Changes the session's role: the same session (same id, same start), a new cookie.
async fn put_session(session: Session<User>, change: web::Json<RoleChange>) -> HttpResponse {
    let Some(mut user) = session.get() else {
        return HttpResponse::Unauthorized().finish();
    };
    user.role = change.into_inner().role;
    session.set(user.clone());
    HttpResponse::Ok().json(user)
}

/// Clears the session and revokes what was presented: the session (every copy of its cookie),
/// and the bearer token if a valid one came with it. A stale, revoked or malformed bearer token
/// is ignored, so that it cannot stop the session from being cleared.
async fn logout(
    session: Session<User>,
    bearer: Result<Bearer<User>, BearerRejection>,
) -> HttpResponse {
    let token = match &bearer {
        Ok(bearer) => bearer.revoke().await.map(|_| ()),
        // The store cannot say whether the token is revoked: nor could it record it.
        Err(BearerRejection::StoreUnavailable) => return store_unavailable(),
        Err(_) => Ok(()),
    };
    let cookie = session.clear_and_revoke().await;
    match cookie.and(token) {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(e) => e.error_response(), // logged; a 503 while the store cannot record it
    }
}

/// Refuses every bearer token and session of the caller issued up to now, on every instance
/// sharing the store. Authenticated by a bearer token or the session.
async fn logout_all(
    state: web::Data<AppState>,
    session: Session<User>,
    bearer: Result<Bearer<User>, BearerRejection>,
) -> HttpResponse {
    let user = match bearer {
        Ok(bearer) => bearer.payload,
        Err(BearerRejection::StoreUnavailable) => return store_unavailable(),
        Err(_) => match session.get() {
            Some(user) => user,
            None => return HttpResponse::Unauthorized().finish(),
        },
    };
    match state.revocation.revoke_subject(&user).await {
        Ok(()) => {
            session.clear();
            HttpResponse::NoContent().finish()
        }
        Err(e) => e.error_response(),
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

/// JSON bodies refused with axum's `Json` statuses, so that both examples answer alike: 415
/// without a JSON content type, 422 for JSON of the wrong shape, 400 for what is not JSON, 413
/// over the limit (actix-web's default answers 400 to the first three).
fn json_config() -> web::JsonConfig {
    web::JsonConfig::default().error_handler(|err, _req| {
        use actix_web::error::{InternalError, JsonPayloadError};
        let status = match &err {
            JsonPayloadError::ContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            JsonPayloadError::Deserialize(e) if e.is_data() => StatusCode::UNPROCESSABLE_ENTITY,
            JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            _ => StatusCode::BAD_REQUEST,
        };
        InternalError::from_response(err, HttpResponse::new(status)).into()
    })
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::DEBUG)
        .with_writer(std::io::stderr)
        .init();
    // actix-web's runtime: a tokio current-thread runtime (with I/O and time), on which the
    // revocation timeouts, the Redis connection and the signal handlers run as under axum.
    actix_web::rt::System::new().block_on(serve())
}

async fn serve() -> Result<(), Box<dyn std::error::Error>> {
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

    let revocation = Revocation::<User>::new(revocation_store().await?)
        .subject(|user| Some(user.user_id.clone()));

    // actix-session's builder names: cookie_secure(false) is the plain-HTTP development switch.
    let mut sessions = SessionMiddleware::<User>::builder(cookies)
        .revocation(revocation.clone())
        .renew_after(renew_after)
        .absolute_lifetime(absolute_lifetime)
        .max_chunks(3);
    if std::env::var_os("ITSCLASSIFIED_INSECURE_COOKIES").is_some_and(|v| v == "1") {
        tracing::warn!("ITSCLASSIFIED_INSECURE_COOKIES=1: the session cookie is sent over plain HTTP (no Secure attribute). For local development only.");
        sessions = sessions.cookie_secure(false);
    }
    let sessions = sessions.build()?;
    let bearer = BearerSerializer::new(bearer)?.revocation(revocation.clone());
    let state = web::Data::new(AppState {
        bearer: bearer.clone(),
        revocation,
    });

    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse()?,
        Err(_) => 3000,
    };
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(bearer.clone())
            .app_data(json_config())
            .wrap(sessions.clone())
            // Resources, not bare routes: another method is a 405 with `Allow`, as in axum
            // (a bare `.route` answers it with a 404); HEAD where GET is, as axum's `get`.
            .service(web::resource("/login").route(web::post().to(login)))
            .service(
                web::resource("/me")
                    .route(web::get().to(me))
                    .route(web::head().to(me)),
            )
            .service(
                web::resource("/session")
                    .route(web::get().to(get_session))
                    .route(web::head().to(get_session))
                    .route(web::put().to(put_session)),
            )
            .service(web::resource("/logout").route(web::post().to(logout)))
            .service(web::resource("/logout-all").route(web::post().to(logout_all)))
    })
    // The signals are this example's (SIGTERM stops, SIGHUP reloads), as in the axum one.
    .disable_signals()
    .bind((Ipv4Addr::LOCALHOST, port))?;
    for addr in server.addrs() {
        tracing::info!("listening on http://{addr}");
    }
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(async move {
        shutdown_signal().await;
        handle.stop(true).await;
    });
    server.await?;
    Ok(())
}
