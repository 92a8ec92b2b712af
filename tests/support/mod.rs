//! The test app shared by tests/web.rs and tests/web_logs.rs: every route of the web layer,
//! served on an ephemeral loopback port, with a clock the tests move forward.
#![allow(dead_code)] // each test binary uses part of it

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use cookie::Cookie;
use itsclassified::session::{OpenedSession, SessionPolicy};
use itsclassified::web::{Bearer, BearerSerializer, Session, SessionLayer, SessionLayerBuilder};
use itsclassified::{SecretKey, TimedSerializer};
use reqwest::header::{HeaderMap, AUTHORIZATION, COOKIE, SET_COOKIE, WWW_AUTHENTICATE};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub const BEARER_MAX_AGE: u64 = 900;
pub const SESSION_MAX_AGE: u64 = 3600;
/// The absolute lifetime of the tests that renew sessions.
pub const ABSOLUTE_LIFETIME: u64 = 4 * SESSION_MAX_AGE;

pub const MISSING: &str = "Bearer";
pub const INVALID_TOKEN: &str =
    r#"Bearer error="invalid_token", error_description="The access token is invalid""#;
pub const EXPIRED_TOKEN: &str =
    r#"Bearer error="invalid_token", error_description="The access token expired""#;
pub const INVALID_REQUEST: &str = r#"Bearer error="invalid_request""#;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub user_id: String,
    pub role: String,
}

pub fn alice() -> User {
    User {
        user_id: "alice".into(),
        role: "admin".into(),
    }
}

#[derive(Clone)]
pub struct AppState {
    pub bearer: BearerSerializer,
}

impl FromRef<AppState> for BearerSerializer {
    fn from_ref(state: &AppState) -> BearerSerializer {
        state.bearer.clone()
    }
}

pub async fn login(
    State(state): State<AppState>,
    session: Session<User>,
    Json(user): Json<User>,
) -> Result<Json<Value>, StatusCode> {
    let token = state
        .bearer
        .dumps(&user)
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    session.set(user);
    Ok(Json(json!({ "token": token })))
}

pub async fn me(Bearer { payload, meta, .. }: Bearer<User>) -> Json<Value> {
    Json(json!({ "user": payload, "age": meta.age.as_secs() }))
}

pub async fn maybe(bearer: Option<Bearer<User>>) -> String {
    bearer.map_or_else(|| "anonymous".into(), |b| b.payload.user_id)
}

pub async fn get_session(session: Session<User>) -> Result<Json<User>, StatusCode> {
    session.get().map(Json).ok_or(StatusCode::UNAUTHORIZED)
}

pub async fn set_session(session: Session<User>, Json(user): Json<User>) -> &'static str {
    session.set(user);
    "stored"
}

pub async fn session_age(session: Session<User>) -> String {
    session
        .meta()
        .map_or_else(|| "none".into(), |m| m.age.as_secs().to_string())
}

pub async fn renew(session: Session<User>) {
    session.renew();
}

pub async fn logout(session: Session<User>) -> StatusCode {
    session.clear();
    StatusCode::NO_CONTENT
}

/// A page the handler marks as cacheable by anyone, for a year; does not use the session.
pub async fn public_page() -> ([(axum::http::HeaderName, &'static str); 1], &'static str) {
    (
        [(
            axum::http::header::CACHE_CONTROL,
            "public, max-age=31536000",
        )],
        "static",
    )
}

/// A page cacheable for ten minutes (by shared caches too, as the handler did not say
/// `private`); does not use the session.
pub async fn max_age_page() -> ([(axum::http::HeaderName, &'static str); 1], &'static str) {
    (
        [(axum::http::header::CACHE_CONTROL, "max-age=600")],
        "fresh",
    )
}

/// Logs in on a response the handler marked `public`: the layer must make it private.
pub async fn public_login(
    session: Session<User>,
    Json(user): Json<User>,
) -> ([(axum::http::HeaderName, &'static str); 1], &'static str) {
    session.set(user);
    (
        [(
            axum::http::header::CACHE_CONTROL,
            "public, s-maxage=600, max-age=60",
        )],
        "ok",
    )
}

pub async fn plain() -> &'static str {
    "plain"
}

/// A running test app and what a test needs to forge and age its tokens.
pub struct TestApp {
    pub base: String,
    pub bearer: TimedSerializer,
    pub cookies: TimedSerializer,
    /// Seconds added to the system clock of the app.
    pub offset: Arc<AtomicU64>,
    /// The session cookie's name, as the layer chose it.
    pub cookie: String,
    /// The layer's session policy, to forge and open session tokens as the layer does.
    pub policy: SessionPolicy,
}

impl TestApp {
    /// `name=value` for the session cookie, as a browser sends it.
    pub fn pair(&self, value: &str) -> String {
        format!("{}={value}", self.cookie)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn advance(&self, secs: u64) {
        self.offset.fetch_add(secs, Ordering::SeqCst);
    }

    pub fn now(&self) -> SystemTime {
        SystemTime::now() + Duration::from_secs(self.offset.load(Ordering::SeqCst))
    }

    /// A session token for a new session holding `value`, issued now (the app's clock).
    pub fn seal<T: serde::Serialize>(&self, value: &T) -> String {
        self.seal_at(value, self.now())
    }

    /// A session token for a new session holding `value`, issued at `at`.
    pub fn seal_at<T: serde::Serialize>(&self, value: &T, at: SystemTime) -> String {
        self.policy.seal_new_session_at(value, at).unwrap()
    }

    /// Opens a session token as the layer does, at the app's clock.
    pub fn open<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<OpenedSession<T>, itsclassified::Error> {
        self.policy.open_session_at(token, self.now())
    }
}

pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// Starts the app with the session layer configured by `configure`.
pub async fn start_with(
    cookies: TimedSerializer,
    configure: impl FnOnce(SessionLayerBuilder<User>) -> SessionLayerBuilder<User>,
) -> TestApp {
    let offset = Arc::new(AtomicU64::new(0));
    let clock = {
        let offset = offset.clone();
        move || SystemTime::now() + Duration::from_secs(offset.load(Ordering::SeqCst))
    };
    let bearer = TimedSerializer::new(SecretKey::from_bytes(&[1; 32]).unwrap(), "api-token")
        .max_age(Duration::from_secs(BEARER_MAX_AGE));
    let layer = configure(SessionLayer::<User>::builder(cookies.clone()).with_clock(clock.clone()))
        .build()
        .unwrap();
    let cookie = layer.cookie_name().to_owned();
    let policy = layer.policy().clone();
    let app = Router::new()
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/maybe", get(maybe))
        .route("/session", get(get_session).post(set_session))
        .route("/session/age", get(session_age))
        .route("/session/renew", post(renew))
        .route("/logout", post(logout))
        .route("/plain", get(plain))
        .route("/public", get(public_page))
        .route("/max-age", get(max_age_page))
        .route("/public/login", post(public_login))
        .layer(layer)
        .with_state(AppState {
            bearer: BearerSerializer::new(bearer.clone())
                .unwrap()
                .with_clock(clock),
        });
    TestApp {
        base: serve(app).await,
        bearer,
        cookies,
        offset,
        cookie,
        policy,
    }
}

/// Sliding renewal at half of `max_age`, within the absolute lifetime of the tests.
pub fn renewing(builder: SessionLayerBuilder<User>) -> SessionLayerBuilder<User> {
    builder
        .renew_after(Duration::from_secs(SESSION_MAX_AGE / 2))
        .absolute_lifetime(Duration::from_secs(ABSOLUTE_LIFETIME))
}

pub fn session_serializer() -> TimedSerializer {
    TimedSerializer::new(SecretKey::from_bytes(&[1; 32]).unwrap(), "session")
        .max_age(Duration::from_secs(SESSION_MAX_AGE))
}

/// The app with the default (secure) cookie settings.
pub async fn start() -> TestApp {
    start_with(session_serializer(), |b| b).await
}

/// The app with cookies that reqwest's cookie store sends over plain HTTP.
pub async fn start_insecure() -> TestApp {
    start_with(session_serializer(), |b| b.insecure_allow_http()).await
}

/// A client without cookie store: cookies are inspected and sent by hand.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

pub fn cookie_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .cookie_store(true)
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

pub fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The one `Set-Cookie` of a response, parsed.
pub fn the_set_cookie(headers: &HeaderMap) -> Cookie<'static> {
    let all = set_cookies(headers);
    assert_eq!(all.len(), 1, "expected one Set-Cookie, got {all:?}");
    Cookie::parse(all[0].clone()).unwrap()
}

pub fn www_authenticate(response: &reqwest::Response) -> Option<&str> {
    let mut values = response.headers().get_all(WWW_AUTHENTICATE).iter();
    let first = values.next().map(|v| v.to_str().unwrap());
    assert!(values.next().is_none(), "more than one WWW-Authenticate");
    first
}

/// Logs in as alice: the bearer token and the response headers.
pub async fn login_token(app: &TestApp, client: &reqwest::Client) -> (String, HeaderMap) {
    let response = client
        .post(app.url("/login"))
        .json(&alice())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let body: Value = response.json().await.unwrap();
    (body["token"].as_str().unwrap().to_owned(), headers)
}

pub async fn get_me(app: &TestApp, authorization: &[&[u8]]) -> reqwest::Response {
    let mut request = client().get(app.url("/me"));
    for value in authorization {
        request = request.header(
            AUTHORIZATION,
            reqwest::header::HeaderValue::from_bytes(value).unwrap(),
        );
    }
    request.send().await.unwrap()
}

pub async fn assert_rejected(response: reqwest::Response, status: u16, challenge: Option<&str>) {
    assert_eq!(response.status(), status);
    assert_eq!(www_authenticate(&response), challenge);
    assert!(set_cookies(response.headers()).is_empty());
    assert_eq!(
        response.text().await.unwrap(),
        "",
        "a rejection has no body"
    );
}

pub async fn get_session_with(app: &TestApp, cookie: &str) -> reqwest::Response {
    client()
        .get(app.url("/session"))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap()
}

/// `POST /session` with `user` as JSON, from a client without cookies.
pub async fn post_session(app: &TestApp, user: &User) -> reqwest::Response {
    client()
        .post(app.url("/session"))
        .json(user)
        .send()
        .await
        .unwrap()
}

pub fn flip_middle(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}
