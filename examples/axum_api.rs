//! An axum service with both kinds of credentials: bearer tokens for API clients and an
//! encrypted cookie session for browsers.
//!
//!     cargo run --example axum_api --features axum
//!     PORT=8080 ITSCLASSIFIED_KEYS=<key>,<old key> cargo run --example axum_api --features axum
//!
//! Then, from another terminal:
//!
//!     curl -si -c jar -H 'content-type: application/json' \
//!          -d '{"user_id": "123", "role": "admin"}' http://localhost:3000/login
//!     curl -si -H "authorization: Bearer <token from the login answer>" http://localhost:3000/me
//!     curl -si -b jar http://localhost:3000/session
//!     curl -si -b jar -c jar -X POST http://localhost:3000/logout
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
use std::time::Duration;

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use itsclassified::web::{Bearer, BearerSerializer, Session, SessionLayer};
use itsclassified::{SecretKey, TimedSerializer};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// What both the bearer token and the session hold.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct User {
    user_id: String,
    role: String,
}

#[derive(Clone)]
struct AppState {
    bearer: BearerSerializer,
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

async fn logout(session: Session<User>) -> StatusCode {
    session.clear();
    StatusCode::NO_CONTENT
}

/// The key ring, read once per serializer (a `SecretKey` cannot be cloned).
fn key_ring(generated: Option<&str>) -> Result<Vec<SecretKey>, itsclassified::KeyError> {
    match generated {
        Some(key) => Ok(vec![SecretKey::from_base64(key)?]),
        None => SecretKey::list_from_env("ITSCLASSIFIED_KEYS"),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::DEBUG)
        .with_writer(std::io::stderr)
        .init();

    let generated = match std::env::var_os("ITSCLASSIFIED_KEYS") {
        Some(_) => None,
        None => {
            eprintln!("ITSCLASSIFIED_KEYS is not set: using a key generated for this run only");
            eprintln!("(tokens and cookies issued now will not load after a restart)");
            Some(SecretKey::generate().to_base64())
        }
    };
    let generated = generated.as_deref().map(String::as_str);

    // One key ring, two purposes: the salts keep bearer tokens and cookies apart.
    let bearer = TimedSerializer::with_keys(key_ring(generated)?, "api-token")?
        .max_age(Duration::from_secs(15 * 60));
    let cookies = TimedSerializer::with_keys(key_ring(generated)?, "session-cookie")?
        .max_age(Duration::from_secs(24 * 3600))
        .max_token_len(3800);

    let mut sessions = SessionLayer::<User>::builder(cookies)
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
        .layer(sessions.build()?)
        .with_state(AppState {
            bearer: BearerSerializer::new(bearer),
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
