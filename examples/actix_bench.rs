//! The actix-web server of `scripts/http_bench.sh` (`HTTP_BENCH_DOORS=actix`): the routes of
//! `examples/http_bench.rs` (the axum one) through `itsclassified::actix`, so that the two doors'
//! rows compare.
//!
//!     cargo run --release --example actix_bench --features actix
//!
//! Routes (all `GET`, all answer the same small JSON user): `/plain` (no authentication, the
//! baseline), `/bearer` (`Bearer<User>`), `/session` (`Session<User>`, the cookie read),
//! `/session-write` (the cookie read, then a new one set). Prints `PORT=`, `TOKEN=` and
//! `COOKIE=` lines, then serves until killed, on one worker thread (one core).

use std::net::{Ipv4Addr, TcpListener};
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use itsclassified::actix::{Bearer, BearerSerializer, Session, SessionMiddleware};
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

async fn plain() -> HttpResponse {
    HttpResponse::Ok().json(user())
}

async fn bearer(bearer: Bearer<User>) -> HttpResponse {
    HttpResponse::Ok().json(bearer.payload)
}

async fn session(session: Session<User>) -> HttpResponse {
    match session.get() {
        Some(user) => HttpResponse::Ok().json(user),
        None => HttpResponse::Unauthorized().finish(),
    }
}

async fn session_write(session: Session<User>) -> HttpResponse {
    let Some(user) = session.get() else {
        return HttpResponse::Unauthorized().finish();
    };
    session.set(user.clone());
    HttpResponse::Ok().json(user)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let key = SecretKey::generate().to_base64();
    let bearer_serializer = BearerSerializer::new(
        TimedSerializer::new(SecretKey::from_base64(&key)?, "api-token")
            .max_age(Duration::from_secs(3600)),
    )?;
    let cookies = TimedSerializer::new(SecretKey::from_base64(&key)?, "session-cookie")
        .max_age(Duration::from_secs(3600));
    let token = bearer_serializer.dumps(&user())?;
    let sessions = SessionMiddleware::<User>::new(cookies)?;
    let session_token = sessions
        .policy()
        .seal_new_session_at(&user(), std::time::SystemTime::now())?;
    let cookie = format!("{}={session_token}", sessions.cookie_name());

    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    println!("PORT={}", listener.local_addr()?.port());
    println!("TOKEN={token}");
    println!("COOKIE={cookie}");
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            // The session middleware wraps only the session routes, as in the axum server.
            App::new()
                .app_data(bearer_serializer.clone())
                .route("/plain", web::get().to(plain))
                .route("/bearer", web::get().to(bearer))
                .service(
                    web::scope("")
                        .wrap(sessions.clone())
                        .route("/session", web::get().to(session))
                        .route("/session-write", web::get().to(session_write)),
                )
        })
        .workers(1)
        .listen(listener)?
        .run()
        .await
    })?;
    Ok(())
}
