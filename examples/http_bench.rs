//! The server of `scripts/http_bench.sh`: one handler served four ways on 127.0.0.1, so that a
//! load generator can measure what a token costs inside an HTTP request.
//!
//!     cargo run --release --example http_bench --features axum
//!
//! Routes (all `GET`, all answer the same small JSON user):
//!
//! - `/plain`: no authentication, the baseline;
//! - `/bearer`: the user from `Authorization: Bearer <token>` (`Bearer<User>`);
//! - `/session`: the user from the session cookie (`Session<User>`, a `loads`);
//! - `/session-write`: reads the session cookie, then sets a new session (a `loads` and a
//!   `dumps`: every response carries a `Set-Cookie`).
//!
//! On start it prints, one a line, `PORT=<port>`, `TOKEN=<bearer token>` and
//! `COOKIE=<name=value>` for the load generator (under a key generated for this run only), then
//! serves until killed. A single-threaded runtime: the server uses one of the machine's cores,
//! the load generator the other.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::extract::FromRef;
use axum::routing::get;
use axum::{Json, Router};
use itsclassified::web::{Bearer, BearerSerializer, Session, SessionLayer};
use itsclassified::{SecretKey, TimedSerializer};
use serde::{Deserialize, Serialize};

/// The seed session payload of the benchmarks.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct User {
    user_id: String,
    role: String,
}

fn user() -> User {
    User {
        user_id: "123".into(),
        role: "admin".into(),
    }
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

async fn plain() -> Json<User> {
    Json(user())
}

async fn bearer(Bearer { payload, .. }: Bearer<User>) -> Json<User> {
    Json(payload)
}

async fn session(session: Session<User>) -> Result<Json<User>, axum::http::StatusCode> {
    session
        .get()
        .map(Json)
        .ok_or(axum::http::StatusCode::UNAUTHORIZED)
}

async fn session_write(session: Session<User>) -> Result<Json<User>, axum::http::StatusCode> {
    let user = session.get().ok_or(axum::http::StatusCode::UNAUTHORIZED)?;
    session.set(user.clone());
    Ok(Json(user))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let key = SecretKey::generate().to_base64();
    let bearer_serializer = BearerSerializer::new(
        TimedSerializer::new(SecretKey::from_base64(&key)?, "api-token")
            .max_age(Duration::from_secs(3600)),
    )?;
    let cookies = TimedSerializer::new(SecretKey::from_base64(&key)?, "session-cookie")
        .max_age(Duration::from_secs(3600));
    let token = bearer_serializer.dumps(&user())?;
    // The cookie a browser would hold after logging in: the layer's own name (__Host-session
    // by default) and a session token of its policy. (A hand-made `session=<token>` cookie
    // made every /session request a 401 once the default name changed, and nothing noticed.)
    let layer = SessionLayer::<User>::new(cookies)?;
    let session_token = layer
        .policy()
        .seal_new_session_at(&user(), std::time::SystemTime::now())?;
    let cookie = format!("{}={session_token}", layer.cookie_name());

    // The session layer wraps only the session routes, so that the baseline and the bearer
    // route pay nothing for it.
    let sessions = Router::new()
        .route("/session", get(session))
        .route("/session-write", get(session_write))
        .layer(layer);
    let app = Router::new()
        .route("/plain", get(plain))
        .route("/bearer", get(bearer))
        .with_state(AppState {
            bearer: bearer_serializer,
        })
        .merge(sessions);

    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
    println!("PORT={}", listener.local_addr()?.port());
    println!("TOKEN={token}");
    println!("COOKIE={cookie}");
    axum::serve(listener, app).await?;
    Ok(())
}
