//! One table of over-HTTP cases, run against an axum app (`itsclassified::web`) and an
//! actix-web app (`itsclassified::actix`) that have the same routes, the same keys, the same
//! session settings and the same revocation store: each case states what the answer must be,
//! and both doors' answers (status, body, the headers that carry the rules, and every
//! `Set-Cookie` line with its token masked) must be equal. A behaviour that differs between
//! the adapters is a failing case, named.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use itsclassified::revocation::{
    MemoryStore, RevocationStatus, RevocationStore, StoreError, StoreFuture, TokenId,
};
use itsclassified::session::{SessionId, SessionPolicy};
use itsclassified::{SecretKey, TimedSerializer};
use serde::{Deserialize, Serialize};

const BEARER_MAX_AGE: u64 = 900;
const SESSION_MAX_AGE: u64 = 3600;
const RENEW_AFTER: u64 = 1800;
const ABSOLUTE_LIFETIME: u64 = 4 * 3600;
const INVALID_TOKEN: &str =
    r#"Bearer error="invalid_token", error_description="The access token is invalid""#;
const EXPIRED_TOKEN: &str =
    r#"Bearer error="invalid_token", error_description="The access token expired""#;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct User {
    user_id: String,
    role: String,
}

fn user(id: &str) -> User {
    User {
        user_id: id.into(),
        role: "admin".into(),
    }
}

/// The JSON body both doors' JSON routes refuse with (the documented recipe): the RFC 6750 error
/// code, or a code of the API's own where RFC 6750 has none.
fn api_error_body(rejection: &itsclassified::web::BearerRejection) -> serde_json::Value {
    let error = rejection.error_code().unwrap_or(match rejection.status() {
        401 => "unauthorized",
        503 => "temporarily_unavailable",
        _ => "server_error",
    });
    serde_json::json!({ "error": error, "error_description": rejection.error_description() })
}

/// A memory store that can be switched off: every call then fails as a dead store does.
struct Switchable {
    inner: MemoryStore,
    down: AtomicBool,
}

impl Switchable {
    fn gate(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::Timeout)
        } else {
            Ok(())
        }
    }
}

impl RevocationStore for Switchable {
    fn revoke_token(&self, id: TokenId, until: SystemTime) -> StoreFuture<'_, bool> {
        let gate = self.gate();
        Box::pin(async move {
            gate?;
            self.inner.revoke_token(id, until).await
        })
    }
    fn revoke_subject<'a>(
        &'a self,
        subject: &'a str,
        cutoff: SystemTime,
        retain: Duration,
    ) -> StoreFuture<'a, ()> {
        let gate = self.gate();
        Box::pin(async move {
            gate?;
            self.inner.revoke_subject(subject, cutoff, retain).await
        })
    }
    fn status<'a>(
        &'a self,
        id: TokenId,
        issued_at: SystemTime,
        subject: Option<&'a str>,
    ) -> StoreFuture<'a, RevocationStatus> {
        let gate = self.gate();
        Box::pin(async move {
            gate?;
            self.inner.status(id, issued_at, subject).await
        })
    }
    fn revoke_session(&self, id: SessionId, until: SystemTime) -> StoreFuture<'_, bool> {
        let gate = self.gate();
        Box::pin(async move {
            gate?;
            self.inner.revoke_session(id, until).await
        })
    }
    fn session_status<'a>(
        &'a self,
        id: SessionId,
        issued_at: SystemTime,
        subject: Option<&'a str>,
    ) -> StoreFuture<'a, RevocationStatus> {
        let gate = self.gate();
        Box::pin(async move {
            gate?;
            self.inner.session_status(id, issued_at, subject).await
        })
    }
    fn subject_cutoff<'a>(&'a self, subject: &'a str) -> StoreFuture<'a, Option<SystemTime>> {
        let gate = self.gate();
        Box::pin(async move {
            gate?;
            self.inner.subject_cutoff(subject).await
        })
    }
}

/// What both apps are built from.
#[derive(Clone)]
struct Setup {
    bearer: TimedSerializer,
    cookies: TimedSerializer,
    /// The cookies' serializer of the key before the rotation (a fallback key of `cookies`).
    old_cookies: TimedSerializer,
    store: Arc<Switchable>,
}

impl Setup {
    fn new() -> Setup {
        let (new, old) = (SecretKey::generate(), SecretKey::generate());
        let old_b64 = old.to_base64();
        let ring = |s: &str| {
            TimedSerializer::with_keys(
                vec![
                    SecretKey::from_base64(&new.to_base64()).unwrap(),
                    SecretKey::from_base64(&old_b64).unwrap(),
                ],
                s,
            )
            .unwrap()
        };
        Setup {
            bearer: ring("api-token").max_age(Duration::from_secs(BEARER_MAX_AGE)),
            cookies: ring("session-cookie").max_age(Duration::from_secs(SESSION_MAX_AGE)),
            old_cookies: TimedSerializer::new(
                SecretKey::from_base64(&old_b64).unwrap(),
                "session-cookie",
            )
            .max_age(Duration::from_secs(SESSION_MAX_AGE)),
            store: Arc::new(Switchable {
                inner: MemoryStore::new(),
                down: AtomicBool::new(false),
            }),
        }
    }

    fn store(&self) -> Arc<dyn RevocationStore> {
        self.store.clone()
    }

    fn token(&self, user: &User, age: u64) -> String {
        self.bearer
            .dumps_at(user, SystemTime::now() - Duration::from_secs(age))
            .unwrap()
    }

    /// A session cookie header of a session started `age` seconds ago.
    fn session(&self, user: &User, age: u64) -> String {
        let policy = SessionPolicy::new(self.cookies.clone()).unwrap();
        let at = SystemTime::now() - Duration::from_secs(age);
        format!(
            "__Host-session={}",
            policy.seal_new_session_at(user, at).unwrap()
        )
    }

    fn old_key_session(&self, user: &User) -> String {
        let policy = SessionPolicy::new(self.old_cookies.clone()).unwrap();
        let token = policy.seal_new_session_at(user, SystemTime::now()).unwrap();
        format!("__Host-session={token}")
    }
}

mod axum_app {
    use super::*;
    use axum::extract::State;
    use axum::extract::{FromRef, FromRequestParts};
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::{get, post};
    use axum::{Json, Router};
    use itsclassified::web::{
        Bearer, BearerRejection, BearerSerializer, Revocation, Session, SessionLayer,
    };

    async fn me(b: Bearer<User>) -> Json<User> {
        Json(b.payload)
    }

    /// `Bearer<User>` with JSON refusals: a wrapper extractor (axum's way to customize a
    /// rejection).
    struct ApiUser(Bearer<User>);

    impl<S: Send + Sync> FromRequestParts<S> for ApiUser
    where
        BearerSerializer: FromRef<S>,
    {
        type Rejection = axum::response::Response;

        async fn from_request_parts(
            parts: &mut axum::http::request::Parts,
            state: &S,
        ) -> Result<Self, Self::Rejection> {
            Bearer::from_request_parts(parts, state)
                .await
                .map(ApiUser)
                .map_err(|r| {
                    let body = Json(api_error_body(&r));
                    r.into_response_with(body)
                })
        }
    }

    async fn json_me(ApiUser(b): ApiUser) -> Json<User> {
        Json(b.payload)
    }

    /// The same, route by route: `Result<Bearer<T>, BearerRejection>`.
    async fn json_result(b: Result<Bearer<User>, BearerRejection>) -> axum::response::Response {
        match b {
            Ok(b) => Json(b.payload).into_response(),
            Err(r) => {
                let body = Json(api_error_body(&r));
                r.into_response_with(body)
            }
        }
    }
    async fn maybe(b: Option<Bearer<User>>) -> &'static str {
        if b.is_some() {
            "some"
        } else {
            "none"
        }
    }
    async fn get_session(s: Session<User>) -> Result<Json<User>, StatusCode> {
        s.get().map(Json).ok_or(StatusCode::UNAUTHORIZED)
    }
    async fn set_session(s: Session<User>, Json(u): Json<User>) -> StatusCode {
        s.set(u);
        StatusCode::NO_CONTENT
    }
    async fn set_public(s: Session<User>, Json(u): Json<User>) -> impl IntoResponse {
        s.set(u);
        ([(header::CACHE_CONTROL, "public, max-age=60")], "cached")
    }
    async fn read_public(s: Session<User>) -> impl IntoResponse {
        let _ = s.get();
        ([(header::CACHE_CONTROL, "public, max-age=60")], "cached")
    }
    async fn set_and_fail(s: Session<User>, Json(u): Json<User>) -> StatusCode {
        s.set(u);
        StatusCode::INTERNAL_SERVER_ERROR
    }
    async fn renew(s: Session<User>) -> StatusCode {
        s.renew();
        StatusCode::NO_CONTENT
    }
    async fn logout(s: Session<User>) -> StatusCode {
        match s.clear_and_revoke().await {
            Ok(()) => StatusCode::NO_CONTENT,
            Err(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
    async fn plain() -> &'static str {
        "plain"
    }
    async fn issue(State(b): State<BearerSerializer>, Json(u): Json<User>) -> String {
        b.issue(&u).await.unwrap_or_else(|_| "unavailable".into())
    }
    async fn logout_bearer(b: Bearer<User>) -> Result<StatusCode, StoreError> {
        b.revoke().await?;
        Ok(StatusCode::NO_CONTENT)
    }
    async fn logout_all(b: Bearer<User>) -> Result<StatusCode, StoreError> {
        b.revoke_subject().await?;
        Ok(StatusCode::NO_CONTENT)
    }

    pub async fn serve(setup: &Setup) -> String {
        let revocation =
            || Revocation::<User>::new(setup.store()).subject(|u| Some(u.user_id.clone()));
        let layer = SessionLayer::<User>::builder(setup.cookies.clone())
            .renew_after(Duration::from_secs(RENEW_AFTER))
            .absolute_lifetime(Duration::from_secs(ABSOLUTE_LIFETIME))
            .max_chunks(2)
            .revocation(revocation())
            .build()
            .unwrap();
        let app = Router::new()
            .route("/me", get(me))
            .route("/json/me", get(json_me))
            .route("/json/result", get(json_result))
            .route("/maybe", get(maybe))
            .route("/session", get(get_session).post(set_session))
            .route("/set-public", post(set_public))
            .route("/read-public", get(read_public))
            .route("/set-and-fail", post(set_and_fail))
            .route("/renew", post(renew))
            .route("/logout", post(logout))
            .route("/issue", post(issue))
            .route("/logout-bearer", post(logout_bearer))
            .route("/logout-all", post(logout_all))
            .route("/plain", get(plain))
            .layer(layer)
            .with_state(
                BearerSerializer::new(setup.bearer.clone())
                    .unwrap()
                    .revocation(revocation()),
            );
        let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }
}

mod actix_app {
    use super::*;
    use actix_web::http::header;
    use actix_web::{web, App, FromRequest, HttpResponse, HttpServer};
    use itsclassified::actix::{
        Bearer, BearerRejection, BearerSerializer, OptionalBearer, Revocation, Session,
        SessionMiddleware,
    };

    async fn me(b: Bearer<User>) -> HttpResponse {
        HttpResponse::Ok().json(b.payload)
    }

    fn api_error(r: &BearerRejection) -> HttpResponse {
        r.error_response_with(header::ContentType::json(), api_error_body(r).to_string())
    }

    /// `Bearer<User>` with JSON refusals: a wrapper extractor whose error is the JSON answer.
    struct ApiUser(Bearer<User>);

    impl FromRequest for ApiUser {
        type Error = actix_web::Error;
        type Future =
            std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

        fn from_request(
            req: &actix_web::HttpRequest,
            payload: &mut actix_web::dev::Payload,
        ) -> Self::Future {
            let bearer = Bearer::<User>::from_request(req, payload);
            Box::pin(async move {
                bearer.await.map(ApiUser).map_err(|r| {
                    let response = api_error(&r);
                    actix_web::error::InternalError::from_response(r, response).into()
                })
            })
        }
    }

    async fn json_me(ApiUser(b): ApiUser) -> HttpResponse {
        HttpResponse::Ok().json(b.payload)
    }

    /// The same, route by route: `Result<Bearer<T>, BearerRejection>`.
    async fn json_result(b: Result<Bearer<User>, BearerRejection>) -> HttpResponse {
        match b {
            Ok(b) => HttpResponse::Ok().json(b.payload),
            Err(r) => api_error(&r),
        }
    }

    async fn maybe(OptionalBearer(b): OptionalBearer<User>) -> &'static str {
        if b.is_some() {
            "some"
        } else {
            "none"
        }
    }
    async fn get_session(s: Session<User>) -> HttpResponse {
        match s.get() {
            Some(u) => HttpResponse::Ok().json(u),
            None => HttpResponse::Unauthorized().finish(),
        }
    }
    async fn set_session(s: Session<User>, u: web::Json<User>) -> HttpResponse {
        s.set(u.into_inner());
        HttpResponse::NoContent().finish()
    }
    async fn set_public(s: Session<User>, u: web::Json<User>) -> HttpResponse {
        s.set(u.into_inner());
        HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
            .body("cached")
    }
    async fn read_public(s: Session<User>) -> HttpResponse {
        let _ = s.get();
        HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
            .body("cached")
    }
    async fn set_and_fail(s: Session<User>, u: web::Json<User>) -> HttpResponse {
        s.set(u.into_inner());
        HttpResponse::InternalServerError().finish()
    }
    async fn renew(s: Session<User>) -> HttpResponse {
        s.renew();
        HttpResponse::NoContent().finish()
    }
    async fn logout(s: Session<User>) -> HttpResponse {
        match s.clear_and_revoke().await {
            Ok(()) => HttpResponse::NoContent().finish(),
            Err(_) => HttpResponse::ServiceUnavailable().finish(),
        }
    }
    async fn plain() -> &'static str {
        "plain"
    }
    async fn issue(b: web::Data<BearerSerializer>, u: web::Json<User>) -> String {
        b.issue(&u.into_inner())
            .await
            .unwrap_or_else(|_| "unavailable".into())
    }
    pub async fn logout_bearer(b: Bearer<User>) -> Result<HttpResponse, StoreError> {
        b.revoke().await?;
        Ok(HttpResponse::NoContent().finish())
    }
    async fn logout_all(b: Bearer<User>) -> Result<HttpResponse, StoreError> {
        b.revoke_subject().await?;
        Ok(HttpResponse::NoContent().finish())
    }

    /// The actix-web app on a thread of its own (actix-web runs its own runtime).
    pub fn serve(setup: &Setup) -> String {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let setup = setup.clone();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let revocation =
                    || Revocation::<User>::new(setup.store()).subject(|u| Some(u.user_id.clone()));
                let sessions = SessionMiddleware::<User>::builder(setup.cookies.clone())
                    .renew_after(Duration::from_secs(RENEW_AFTER))
                    .absolute_lifetime(Duration::from_secs(ABSOLUTE_LIFETIME))
                    .max_chunks(2)
                    .revocation(revocation())
                    .build()
                    .unwrap();
                let bearer = web::Data::new(
                    BearerSerializer::new(setup.bearer.clone())
                        .unwrap()
                        .revocation(revocation()),
                );
                HttpServer::new(move || {
                    App::new()
                        .app_data(bearer.clone())
                        .wrap(sessions.clone())
                        .route("/me", web::get().to(me))
                        .route("/json/me", web::get().to(json_me))
                        .route("/json/result", web::get().to(json_result))
                        .route("/maybe", web::get().to(maybe))
                        .route("/session", web::get().to(get_session))
                        .route("/session", web::post().to(set_session))
                        .route("/set-public", web::post().to(set_public))
                        .route("/read-public", web::get().to(read_public))
                        .route("/set-and-fail", web::post().to(set_and_fail))
                        .route("/renew", web::post().to(renew))
                        .route("/logout", web::post().to(logout))
                        .route("/issue", web::post().to(issue))
                        .route("/logout-bearer", web::post().to(logout_bearer))
                        .route("/logout-all", web::post().to(logout_all))
                        .route("/plain", web::get().to(plain))
                })
                .workers(1)
                .disable_signals()
                .listen(listener)
                .unwrap()
                .run()
                .await
                .unwrap()
            })
        });
        format!("http://{addr}")
    }
}

/// One request of a case.
#[derive(Default)]
struct Request {
    method: &'static str,
    path: &'static str,
    authorization: Vec<Vec<u8>>,
    cookie: Option<String>,
    body: Option<User>,
    store_down: bool,
}

/// What a door answered, as compared: the status, the body, the headers that carry the rules,
/// and the `Set-Cookie` lines with their values masked (a fresh nonce each time).
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    body: String,
    www_authenticate: Option<String>,
    retry_after: Option<String>,
    cache_control: Option<String>,
    vary: Option<String>,
    content_type: Option<String>,
    set_cookie: Vec<String>,
}

impl Answer {
    /// The `Set-Cookie` lines that issue a session (not removals).
    fn issued(&self) -> usize {
        self.set_cookie
            .iter()
            .filter(|l| !l.contains("Max-Age=0"))
            .count()
    }
    fn removed(&self) -> usize {
        self.set_cookie
            .iter()
            .filter(|l| l.contains("Max-Age=0"))
            .count()
    }
}

async fn ask(client: &reqwest::Client, base: &str, setup: &Setup, r: &Request) -> Answer {
    setup.store.down.store(r.store_down, Ordering::SeqCst);
    let method = reqwest::Method::from_bytes(r.method.as_bytes()).unwrap();
    let mut req = client.request(method, format!("{base}{}", r.path));
    for a in &r.authorization {
        req = req.header(
            "authorization",
            reqwest::header::HeaderValue::from_bytes(a).unwrap(),
        );
    }
    if let Some(c) = &r.cookie {
        req = req.header("cookie", c);
    }
    if let Some(b) = &r.body {
        req = req.json(b);
    }
    let response = req.send().await.unwrap();
    setup.store.down.store(false, Ordering::SeqCst);
    let header = |name: &str| {
        let values: Vec<_> = response
            .headers()
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_ascii_lowercase())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    };
    let set_cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| {
            let line = v.to_str().unwrap();
            let (pair, attributes) = line.split_once(';').unwrap_or((line, ""));
            let (name, value) = pair.split_once('=').unwrap();
            let masked = if value.is_empty() { "" } else { "<token>" };
            format!("{name}={masked};{attributes}")
        })
        .collect();
    Answer {
        status: response.status().as_u16(),
        www_authenticate: header("www-authenticate"),
        retry_after: header("retry-after"),
        cache_control: header("cache-control"),
        vary: header("vary"),
        // The JSON routes' only: elsewhere the handlers (not the doors) write their bodies
        // each its framework's way, with or without a text content type.
        content_type: header("content-type").filter(|_| r.path.starts_with("/json/")),
        set_cookie,
        body: response.text().await.unwrap(),
    }
}

type Check = fn(&Answer) -> bool;

struct Case {
    name: &'static str,
    request: fn(&Setup) -> Request,
    expect: Check,
}

fn cases() -> Vec<Case> {
    fn get(path: &'static str) -> Request {
        Request {
            method: "GET",
            path,
            ..Request::default()
        }
    }
    fn post(path: &'static str) -> Request {
        Request {
            method: "POST",
            path,
            ..Request::default()
        }
    }
    fn bearer(token: &str) -> Vec<Vec<u8>> {
        vec![format!("Bearer {token}").into_bytes()]
    }
    let challenge =
        |a: &Answer, c: &str| a.www_authenticate.as_deref() == Some(&c.to_ascii_lowercase());
    let _ = challenge;
    vec![
        Case {
            name: "a valid bearer token is 200 with its payload",
            request: |s| Request { authorization: bearer(&s.token(&user("a1"), 10)), ..get("/me") },
            expect: |a| a.status == 200 && a.body.contains("\"a1\"") && a.set_cookie.is_empty(),
        },
        Case {
            name: "no Authorization header is 401 with a bare Bearer challenge",
            request: |_| get("/me"),
            expect: |a| a.status == 401 && a.www_authenticate.as_deref() == Some("bearer") && a.body.is_empty(),
        },
        Case {
            name: "another scheme is 401 with a bare Bearer challenge",
            request: |_| Request { authorization: vec![b"Basic YWxhZGRpbjpvcGVu".to_vec()], ..get("/me") },
            expect: |a| a.status == 401 && a.www_authenticate.as_deref() == Some("bearer"),
        },
        Case {
            name: "a malformed header is 400 invalid_request",
            request: |_| Request { authorization: vec![b"Bearer a b".to_vec()], ..get("/me") },
            expect: |a| a.status == 400 && a.www_authenticate.as_deref() == Some(r#"bearer error="invalid_request""#),
        },
        Case {
            name: "two Authorization headers are 400 invalid_request",
            request: |s| {
                let t = s.token(&user("a2"), 0);
                Request { authorization: [bearer(&t), bearer(&t)].concat(), ..get("/me") }
            },
            expect: |a| a.status == 400,
        },
        Case {
            name: "a tampered token is 401 invalid_token, invalid",
            request: |s| {
                let mut t = s.token(&user("a3"), 0).into_bytes();
                let mid = t.len() / 2;
                t[mid] = if t[mid] == b'A' { b'B' } else { b'A' };
                Request { authorization: bearer(&String::from_utf8(t).unwrap()), ..get("/me") }
            },
            expect: |a| a.status == 401 && a.www_authenticate.as_deref() == Some(&INVALID_TOKEN.to_ascii_lowercase()[..]),
        },
        Case {
            name: "an expired token is 401 invalid_token, expired",
            request: |s| Request { authorization: bearer(&s.token(&user("a4"), BEARER_MAX_AGE + 3600)), ..get("/me") },
            expect: |a| a.status == 401 && a.www_authenticate.as_deref() == Some(&EXPIRED_TOKEN.to_ascii_lowercase()[..]),
        },
        Case {
            name: "a session cookie is not a bearer token (other salt)",
            request: |s| {
                let cookie = s.session(&user("a5"), 0);
                Request { authorization: bearer(cookie.split_once('=').unwrap().1), ..get("/me") }
            },
            expect: |a| a.status == 401 && a.www_authenticate.as_deref() == Some(&INVALID_TOKEN.to_ascii_lowercase()[..]),
        },
        Case {
            name: "a valid token while the store is down is 503 with Retry-After, no challenge",
            request: |s| Request { authorization: bearer(&s.token(&user("a6"), 0)), store_down: true, ..get("/me") },
            expect: |a| a.status == 503 && a.retry_after.as_deref() == Some("1") && a.www_authenticate.is_none(),
        },
        Case {
            name: "JSON refusals: a valid token passes the wrapper",
            request: |s| Request { authorization: bearer(&s.token(&user("j1"), 0)), ..get("/json/me") },
            expect: |a| a.status == 200 && a.body.contains("\"j1\""),
        },
        Case {
            name: "JSON refusals: no Authorization header is 401, a bare Bearer challenge and a JSON body",
            request: |_| get("/json/me"),
            expect: |a| {
                a.status == 401
                    && a.www_authenticate.as_deref() == Some("bearer")
                    && a.content_type.as_deref() == Some("application/json")
                    && a.body == r#"{"error":"unauthorized","error_description":null}"#
            },
        },
        Case {
            name: "JSON refusals: an invalid token is 401 invalid_token, in the challenge and the body",
            request: |_| Request { authorization: bearer("not-a-token"), ..get("/json/me") },
            expect: |a| {
                a.status == 401
                    && a.www_authenticate.as_deref() == Some(&INVALID_TOKEN.to_ascii_lowercase()[..])
                    && a.content_type.as_deref() == Some("application/json")
                    && a.body == r#"{"error":"invalid_token","error_description":"The access token is invalid"}"#
            },
        },
        Case {
            name: "JSON refusals: an expired token says so in the body",
            request: |s| Request { authorization: bearer(&s.token(&user("j2"), BEARER_MAX_AGE + 3600)), ..get("/json/me") },
            expect: |a| {
                a.status == 401
                    && a.www_authenticate.as_deref() == Some(&EXPIRED_TOKEN.to_ascii_lowercase()[..])
                    && a.body == r#"{"error":"invalid_token","error_description":"The access token expired"}"#
            },
        },
        Case {
            name: "JSON refusals: a malformed header is 400 invalid_request",
            request: |_| Request { authorization: vec![b"Bearer a b".to_vec()], ..get("/json/me") },
            expect: |a| {
                a.status == 400
                    && a.www_authenticate.as_deref() == Some(r#"bearer error="invalid_request""#)
                    && a.content_type.as_deref() == Some("application/json")
                    && a.body == r#"{"error":"invalid_request","error_description":null}"#
            },
        },
        Case {
            name: "JSON refusals: a store outage is 503 with Retry-After, no challenge, a JSON body",
            request: |s| Request { authorization: bearer(&s.token(&user("j3"), 0)), store_down: true, ..get("/json/me") },
            expect: |a| {
                a.status == 503
                    && a.retry_after.as_deref() == Some("1")
                    && a.www_authenticate.is_none()
                    && a.content_type.as_deref() == Some("application/json")
                    && a.body == r#"{"error":"temporarily_unavailable","error_description":null}"#
            },
        },
        Case {
            name: "JSON refusals through Result<Bearer<T>, BearerRejection>: an invalid token",
            request: |_| Request { authorization: bearer("not-a-token"), ..get("/json/result") },
            expect: |a| {
                a.status == 401
                    && a.www_authenticate.as_deref() == Some(&INVALID_TOKEN.to_ascii_lowercase()[..])
                    && a.content_type.as_deref() == Some("application/json")
                    && a.body.contains(r#""error":"invalid_token""#)
            },
        },
        Case {
            name: "JSON refusals through Result<Bearer<T>, BearerRejection>: a store outage",
            request: |s| Request { authorization: bearer(&s.token(&user("j4"), 0)), store_down: true, ..get("/json/result") },
            expect: |a| a.status == 503 && a.retry_after.as_deref() == Some("1") && a.body.contains("temporarily_unavailable"),
        },
        Case {
            name: "optional bearer: absent or another scheme is None",
            request: |_| Request { authorization: vec![b"Basic eA==".to_vec()], ..get("/maybe") },
            expect: |a| a.status == 200 && a.body == "none",
        },
        Case {
            name: "optional bearer: a valid token is Some",
            request: |s| Request { authorization: bearer(&s.token(&user("a7"), 0)), ..get("/maybe") },
            expect: |a| a.status == 200 && a.body == "some",
        },
        Case {
            name: "optional bearer: an expired token is still a 401, not None",
            request: |s| Request { authorization: bearer(&s.token(&user("a8"), 99_999)), ..get("/maybe") },
            expect: |a| a.status == 401,
        },
        Case {
            name: "optional bearer: a store outage is a 503, not None",
            request: |s| Request { authorization: bearer(&s.token(&user("a9"), 0)), store_down: true, ..get("/maybe") },
            expect: |a| a.status == 503 && a.retry_after.is_some(),
        },
        Case {
            name: "a live session reads, without Set-Cookie, with Vary: Cookie",
            request: |s| Request { cookie: Some(s.session(&user("s1"), 10)), ..get("/session") },
            expect: |a| a.status == 200 && a.body.contains("\"s1\"") && a.set_cookie.is_empty() && a.vary.as_deref() == Some("cookie"),
        },
        Case {
            name: "no cookie is an empty session: 401 from the handler, no Set-Cookie",
            request: |_| get("/session"),
            expect: |a| a.status == 401 && a.set_cookie.is_empty() && a.vary.as_deref() == Some("cookie"),
        },
        Case {
            name: "a junk cookie is an empty session and is not cleared",
            request: |_| Request { cookie: Some("__Host-session=not-a-token; other=1".into()), ..get("/session") },
            expect: |a| a.status == 401 && a.set_cookie.is_empty(),
        },
        Case {
            name: "an expired session cookie is an empty session",
            request: |s| Request { cookie: Some(s.session(&user("s2"), SESSION_MAX_AGE + 600)), ..get("/session") },
            expect: |a| a.status == 401 && a.set_cookie.is_empty(),
        },
        Case {
            name: "setting a session issues the default cookie: __Host-, Secure, HttpOnly, Lax, Path=/, Max-Age, private",
            request: |_| Request { body: Some(user("s3")), ..post("/session") },
            expect: |a| {
                a.status == 204
                    && a.set_cookie == ["__Host-session=<token>; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=3600"]
                    && a.cache_control.as_deref() == Some("private")
                    && a.vary.as_deref() == Some("cookie")
            },
        },
        Case {
            name: "a session set on a public response makes it private",
            request: |_| Request { body: Some(user("s4")), ..post("/set-public") },
            expect: |a| a.status == 200 && a.issued() == 1 && a.cache_control.as_deref().is_some_and(|c| c.contains("private") && !c.contains("public")),
        },
        Case {
            name: "a session due for renewal is renewed on read, and its Max-Age never passes the absolute lifetime",
            request: |s| Request { cookie: Some(s.session(&user("s5"), RENEW_AFTER + 60)), ..get("/session") },
            expect: |a| a.status == 200 && a.issued() == 1 && a.set_cookie[0].contains("Max-Age=3600"),
        },
        Case {
            name: "no renewal on a response the handler marked public",
            request: |s| Request { cookie: Some(s.session(&user("s6"), RENEW_AFTER + 60)), ..get("/read-public") },
            expect: |a| a.status == 200 && a.set_cookie.is_empty() && a.cache_control.as_deref() == Some("public, max-age=60"),
        },
        Case {
            name: "near its absolute lifetime a renewed cookie's Max-Age is what is left",
            request: |s| Request { cookie: Some(s.session(&user("s7"), ABSOLUTE_LIFETIME - 100)), ..get("/session") },
            expect: |a| a.status == 401 && a.set_cookie.is_empty(),
        },
        Case {
            name: "explicit renew issues a new cookie",
            request: |s| Request { cookie: Some(s.session(&user("s8"), 10)), ..post("/renew") },
            expect: |a| a.status == 204 && a.issued() == 1,
        },
        Case {
            name: "a cookie of a fallback key is re-sealed under the primary key when read",
            request: |s| Request { cookie: Some(s.old_key_session(&user("s9"))), ..get("/session") },
            expect: |a| a.status == 200 && a.issued() == 1,
        },
        Case {
            name: "a session larger than one cookie takes two chunks",
            request: |_| Request { body: Some(User { user_id: "big".into(), role: "x".repeat(3500) }), ..post("/session") },
            expect: |a| a.status == 204 && a.issued() == 2 && a.set_cookie[0].starts_with("__Host-session.0=<token>"),
        },
        Case {
            name: "a session too large for max_chunks is an empty 500 without Set-Cookie",
            request: |_| Request { body: Some(User { user_id: "huge".into(), role: "x".repeat(9000) }), ..post("/session") },
            expect: |a| a.status == 500 && a.set_cookie.is_empty() && a.body.is_empty(),
        },
        Case {
            name: "a 5xx response does not apply a set",
            request: |_| Request { body: Some(user("s10")), ..post("/set-and-fail") },
            expect: |a| a.status == 500 && a.set_cookie.is_empty(),
        },
        Case {
            name: "a route that does not extract the session sets nothing and does not vary",
            request: |s| Request { cookie: Some(s.session(&user("s11"), 10)), ..get("/plain") },
            expect: |a| a.status == 200 && a.vary.is_none() && a.set_cookie.is_empty(),
        },
        Case {
            name: "sliding renewal also happens on a route that does not extract the session",
            request: |s| Request { cookie: Some(s.session(&user("s17"), RENEW_AFTER + 60)), ..get("/plain") },
            expect: |a| a.status == 200 && a.issued() == 1 && a.cache_control.as_deref() == Some("private"),
        },
        Case {
            name: "logout clears and revokes: removal cookies, 204",
            request: |s| Request { cookie: Some(s.session(&user("s12"), 10)), ..post("/logout") },
            expect: |a| a.status == 204 && a.removed() >= 1 && a.issued() == 0,
        },
        Case {
            name: "a session cookie while the store is down is a 503 with Retry-After and no Set-Cookie",
            request: |s| Request { cookie: Some(s.session(&user("s13"), RENEW_AFTER + 60)), store_down: true, ..get("/session") },
            expect: |a| a.status == 503 && a.retry_after.as_deref() == Some("1") && a.set_cookie.is_empty(),
        },
        Case {
            name: "a logout while the store is down is refused and removes nothing",
            request: |s| Request { cookie: Some(s.session(&user("s14"), 10)), store_down: true, ..post("/logout") },
            expect: |a| a.status == 503 && a.set_cookie.is_empty(),
        },
        Case {
            name: "a new session whose subject's cutoff cannot be read is a 503",
            request: |_| Request { body: Some(user("s15")), store_down: true, ..post("/session") },
            expect: |a| a.status == 503 && a.retry_after.as_deref() == Some("1") && a.set_cookie.is_empty(),
        },
        Case {
            name: "several cookies of the session's name: the first that loads wins",
            request: |s| Request {
                cookie: Some(format!("__Host-session=junk; {}", s.session(&user("s16"), 0))),
                ..get("/session")
            },
            expect: |a| a.status == 200 && a.body.contains("\"s16\""),
        },
    ]
}

/// Both apps on `setup`, answering: their base URLs and a client.
async fn both_doors(setup: &Setup) -> (String, String, reqwest::Client) {
    let axum = axum_app::serve(setup).await;
    let actix = actix_app::serve(setup);
    let client = reqwest::Client::new();
    // The actix server's thread binds before it returns; wait (bounded) until it answers.
    for _ in 0..100 {
        if client.get(format!("{actix}/plain")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (axum, actix, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_doors_answer_every_case_alike() {
    let setup = Setup::new();
    let (axum, actix, client) = both_doors(&setup).await;

    let mut failures = Vec::new();
    for case in cases() {
        // The same credentials for both doors (a revocation on one is seen by the other, so
        // each door gets its own request made the same way).
        let on_axum = ask(&client, &axum, &setup, &(case.request)(&setup)).await;
        let on_actix = ask(&client, &actix, &setup, &(case.request)(&setup)).await;
        if !(case.expect)(&on_axum) {
            failures.push(format!("axum: {}: {on_axum:#?}", case.name));
        }
        if !(case.expect)(&on_actix) {
            failures.push(format!("actix: {}: {on_actix:#?}", case.name));
        }
        if on_axum != on_actix {
            failures.push(format!(
                "the doors differ: {}:\naxum {on_axum:#?}\nactix {on_actix:#?}",
                case.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_on_one_door_is_refused_on_the_other() {
    let setup = Setup::new();
    let (axum, actix, client) = both_doors(&setup).await;
    for (first, second) in [(&axum, &actix), (&actix, &axum)] {
        let cookie = setup.session(&user("x"), 0);
        let read = Request {
            cookie: Some(cookie.clone()),
            ..Request {
                method: "GET",
                path: "/session",
                ..Request::default()
            }
        };
        assert_eq!(ask(&client, second, &setup, &read).await.status, 200);
        let logout = Request {
            cookie: Some(cookie.clone()),
            method: "POST",
            path: "/logout",
            ..Request::default()
        };
        assert_eq!(ask(&client, first, &setup, &logout).await.status, 204);
        assert_eq!(ask(&client, second, &setup, &read).await.status, 401);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bearer_logout_and_a_logout_all_on_one_door_are_refused_on_the_other() {
    let setup = Setup::new();
    let (axum, actix, client) = both_doors(&setup).await;
    let with_token = |method: &'static str, path: &'static str, token: &str| Request {
        method,
        path,
        authorization: vec![format!("Bearer {token}").into_bytes()],
        ..Request::default()
    };
    for (n, (first, second)) in [(&axum, &actix), (&actix, &axum)].into_iter().enumerate() {
        // Logout of one bearer token, through the serializer's own revocation.
        let token = setup.token(&user(&format!("y{n}")), 0);
        let other = setup.token(&user(&format!("y{n}")), 0);
        let me = with_token("GET", "/me", &token);
        assert_eq!(ask(&client, second, &setup, &me).await.status, 200);
        let logout = with_token("POST", "/logout-bearer", &token);
        assert_eq!(ask(&client, first, &setup, &logout).await.status, 204);
        assert_eq!(ask(&client, second, &setup, &me).await.status, 401);
        let other_me = with_token("GET", "/me", &other);
        assert_eq!(ask(&client, second, &setup, &other_me).await.status, 200);

        // Logout everywhere, through the subject function of the checks: the user's session
        // cookie too, though the revocation that recorded it is the bearer door's.
        let cookie = setup.session(&user(&format!("y{n}")), 0);
        let read = Request {
            cookie: Some(cookie),
            method: "GET",
            path: "/session",
            ..Request::default()
        };
        assert_eq!(ask(&client, second, &setup, &read).await.status, 200);
        let all = with_token("POST", "/logout-all", &other);
        assert_eq!(ask(&client, first, &setup, &all).await.status, 204);
        assert_eq!(ask(&client, second, &setup, &other_me).await.status, 401);
        assert_eq!(ask(&client, second, &setup, &read).await.status, 401);
        // A login right after it works on both doors.
        let login = Request {
            method: "POST",
            path: "/issue",
            body: Some(user(&format!("y{n}"))),
            ..Request::default()
        };
        let fresh = ask(&client, second, &setup, &login).await.body;
        let fresh_me = with_token("GET", "/me", &fresh);
        assert_eq!(ask(&client, first, &setup, &fresh_me).await.status, 200);
        assert_eq!(ask(&client, second, &setup, &fresh_me).await.status, 200);
    }
}

/// What axum refuses at compile time is a bug actix-web can only meet at run time: a bearer
/// route without its serializer in the app data, a session route outside the middleware. Both
/// are empty 500s (and error logs), never a 401 that would make a client drop its token.
#[test]
fn actix_routes_missing_their_configuration_are_500s() {
    use actix_web::{test, web, App, HttpResponse};
    use itsclassified::actix::{Bearer, OptionalBearer, Session};

    async fn me(b: Bearer<User>) -> HttpResponse {
        HttpResponse::Ok().json(b.payload)
    }
    async fn maybe(b: OptionalBearer<User>) -> HttpResponse {
        HttpResponse::Ok().body(if b.0.is_some() { "some" } else { "none" })
    }
    async fn session(s: Session<User>) -> HttpResponse {
        HttpResponse::Ok().body(format!("{}", s.get().is_some()))
    }

    let setup = Setup::new();
    let token = setup.token(&user("m1"), 0);
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(
            App::new()
                .route("/me", web::get().to(me))
                .route("/maybe", web::get().to(maybe))
                .route("/session", web::get().to(session)),
        )
        .await;
        let with_token = |path: &str| {
            test::TestRequest::get()
                .uri(path)
                .insert_header(("authorization", format!("Bearer {token}")))
                .to_request()
        };
        for path in ["/me", "/maybe"] {
            let response = test::call_service(&app, with_token(path)).await;
            assert_eq!(response.status(), 500, "{path}");
            assert!(response.headers().get("www-authenticate").is_none());
            assert!(test::read_body(response).await.is_empty());
        }
        // Without a token there is nothing to load: the answers of a configured route.
        let response =
            test::call_service(&app, test::TestRequest::get().uri("/me").to_request()).await;
        assert_eq!(response.status(), 401);
        let response =
            test::call_service(&app, test::TestRequest::get().uri("/maybe").to_request()).await;
        assert_eq!(test::read_body(response).await, "none");

        let request = test::TestRequest::get()
            .uri("/session")
            .insert_header(("cookie", setup.session(&user("m2"), 0)))
            .to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(response.status(), 500);
        assert!(response.headers().get("set-cookie").is_none());

        // A bearer logout through a serializer without revocation: a 500, not a 204 that
        // would leave the token working.
        let unwired = itsclassified::actix::BearerSerializer::new(setup.bearer.clone()).unwrap();
        let app = test::init_service(
            App::new()
                .app_data(unwired)
                .route("/logout-bearer", web::post().to(actix_app::logout_bearer)),
        )
        .await;
        let request = test::TestRequest::post()
            .uri("/logout-bearer")
            .insert_header(("authorization", format!("Bearer {token}")))
            .to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(response.status(), 500);
        assert!(response.headers().get("retry-after").is_none());
    });
}
