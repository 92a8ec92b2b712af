//! The `axum` feature over real HTTP: a server on an ephemeral loopback port, reqwest as client.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use cookie::Cookie;
use itsclassified::web::{
    Bearer, BearerSerializer, SameSite, Session, SessionLayer, SessionLayerBuilder,
};
use itsclassified::{untrusted_header, SecretKey, TimedSerializer};
use reqwest::header::{HeaderMap, AUTHORIZATION, COOKIE, SET_COOKIE, VARY, WWW_AUTHENTICATE};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

const BEARER_MAX_AGE: u64 = 900;
const SESSION_MAX_AGE: u64 = 3600;

const MISSING: &str = "Bearer";
const INVALID_TOKEN: &str =
    r#"Bearer error="invalid_token", error_description="The access token is invalid""#;
const EXPIRED_TOKEN: &str =
    r#"Bearer error="invalid_token", error_description="The access token expired""#;
const INVALID_REQUEST: &str = r#"Bearer error="invalid_request""#;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct User {
    user_id: String,
    role: String,
}

fn alice() -> User {
    User {
        user_id: "alice".into(),
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

async fn login(
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

async fn me(Bearer { payload, meta, .. }: Bearer<User>) -> Json<Value> {
    Json(json!({ "user": payload, "age": meta.age.as_secs() }))
}

async fn maybe(bearer: Option<Bearer<User>>) -> String {
    bearer.map_or_else(|| "anonymous".into(), |b| b.payload.user_id)
}

async fn get_session(session: Session<User>) -> Result<Json<User>, StatusCode> {
    session.get().map(Json).ok_or(StatusCode::UNAUTHORIZED)
}

async fn set_session(session: Session<User>, Json(user): Json<User>) -> &'static str {
    session.set(user);
    "stored"
}

async fn session_age(session: Session<User>) -> String {
    session
        .meta()
        .map_or_else(|| "none".into(), |m| m.age.as_secs().to_string())
}

async fn renew(session: Session<User>) {
    session.renew();
}

async fn logout(session: Session<User>) -> StatusCode {
    session.clear();
    StatusCode::NO_CONTENT
}

async fn plain() -> &'static str {
    "plain"
}

/// A running test app and what a test needs to forge and age its tokens.
struct TestApp {
    base: String,
    bearer: TimedSerializer,
    cookies: TimedSerializer,
    /// Seconds added to the system clock of the app.
    offset: Arc<AtomicU64>,
}

impl TestApp {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn advance(&self, secs: u64) {
        self.offset.fetch_add(secs, Ordering::SeqCst);
    }

    fn now(&self) -> SystemTime {
        SystemTime::now() + Duration::from_secs(self.offset.load(Ordering::SeqCst))
    }
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// Starts the app with the session layer configured by `configure`.
async fn start_with(
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
    let app = Router::new()
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/maybe", get(maybe))
        .route("/session", get(get_session).post(set_session))
        .route("/session/age", get(session_age))
        .route("/session/renew", post(renew))
        .route("/logout", post(logout))
        .route("/plain", get(plain))
        .layer(layer)
        .with_state(AppState {
            bearer: BearerSerializer::new(bearer.clone()).with_clock(clock),
        });
    TestApp {
        base: serve(app).await,
        bearer,
        cookies,
        offset,
    }
}

fn session_serializer() -> TimedSerializer {
    TimedSerializer::new(SecretKey::from_bytes(&[1; 32]).unwrap(), "session")
        .max_age(Duration::from_secs(SESSION_MAX_AGE))
}

/// The app with the default (secure) cookie settings.
async fn start() -> TestApp {
    start_with(session_serializer(), |b| b).await
}

/// The app with cookies that reqwest's cookie store sends over plain HTTP.
async fn start_insecure() -> TestApp {
    start_with(session_serializer(), |b| b.insecure_allow_http()).await
}

/// A client without cookie store: cookies are inspected and sent by hand.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn cookie_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .cookie_store(true)
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The one `Set-Cookie` of a response, parsed.
fn the_set_cookie(headers: &HeaderMap) -> Cookie<'static> {
    let all = set_cookies(headers);
    assert_eq!(all.len(), 1, "expected one Set-Cookie, got {all:?}");
    Cookie::parse(all[0].clone()).unwrap()
}

fn www_authenticate(response: &reqwest::Response) -> Option<&str> {
    let mut values = response.headers().get_all(WWW_AUTHENTICATE).iter();
    let first = values.next().map(|v| v.to_str().unwrap());
    assert!(values.next().is_none(), "more than one WWW-Authenticate");
    first
}

/// Logs in as alice: the bearer token and the response headers.
async fn login_token(app: &TestApp, client: &reqwest::Client) -> (String, HeaderMap) {
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

async fn get_me(app: &TestApp, authorization: &[&[u8]]) -> reqwest::Response {
    let mut request = client().get(app.url("/me"));
    for value in authorization {
        request = request.header(
            AUTHORIZATION,
            reqwest::header::HeaderValue::from_bytes(value).unwrap(),
        );
    }
    request.send().await.unwrap()
}

async fn assert_rejected(response: reqwest::Response, status: u16, challenge: Option<&str>) {
    assert_eq!(response.status(), status);
    assert_eq!(www_authenticate(&response), challenge);
    assert!(set_cookies(response.headers()).is_empty());
    assert_eq!(
        response.text().await.unwrap(),
        "",
        "a rejection has no body"
    );
}

async fn get_session_with(app: &TestApp, cookie: &str) -> reqwest::Response {
    client()
        .get(app.url("/session"))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap()
}

fn flip_middle(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

// ---------------------------------------------------------------- bearer tokens

#[tokio::test]
async fn bearer_token_from_login_is_accepted() {
    let app = start().await;
    let (token, _) = login_token(&app, &client()).await;
    assert_eq!(app.bearer.loads::<User>(&token).unwrap(), alice());

    for header in [
        format!("Bearer {token}"),
        format!("bearer {token}"),
        format!("BEARER   {token}"),
    ] {
        let response = get_me(&app, &[header.as_bytes()]).await;
        assert_eq!(response.status(), 200, "{header}");
        assert!(www_authenticate(&response).is_none());
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["user"], json!(alice()));
        // Ages are whole seconds: a second boundary may pass between login and this request.
        assert!(body["age"] == 0 || body["age"] == 1, "{body}");
    }

    app.advance(120);
    let body: Value = get_me(&app, &[format!("Bearer {token}").as_bytes()])
        .await
        .json()
        .await
        .unwrap();
    assert!(body["age"] == 120 || body["age"] == 121, "{body}");
}

#[tokio::test]
async fn bearer_missing_is_401_without_error_code() {
    let app = start().await;
    assert_rejected(get_me(&app, &[]).await, 401, Some(MISSING)).await;
}

#[tokio::test]
async fn bearer_invalid_tokens_are_401_invalid_token() {
    let app = start().await;
    let token = app.bearer.dumps(&alice()).unwrap();
    let other_key =
        TimedSerializer::new(SecretKey::from_bytes(&[2; 32]).unwrap(), "api-token").no_expiry();
    let in_future = app
        .bearer
        .dumps_at(&alice(), SystemTime::now() + Duration::from_secs(3600))
        .unwrap();
    let cases = [
        ("tampered", flip_middle(&token)),
        ("truncated", token[..token.len() - 1].to_owned()),
        ("appended", format!("{token}A")),
        ("garbage", "not-a-token".to_owned()),
        ("not base64url", "abc!def".to_owned()),
        ("unknown key", other_key.dumps(&alice()).unwrap()),
        ("session salt", app.cookies.dumps(&alice()).unwrap()),
        ("wrong payload type", app.bearer.dumps(&42u64).unwrap()),
        ("issued in the future", in_future),
        ("too long", "A".repeat(9000)),
    ];
    for (what, bad) in cases {
        let response = get_me(&app, &[format!("Bearer {bad}").as_bytes()]).await;
        assert_eq!(response.status(), 401, "{what}");
        assert_eq!(www_authenticate(&response), Some(INVALID_TOKEN), "{what}");
        assert_eq!(response.text().await.unwrap(), "", "{what}");
    }
}

#[tokio::test]
async fn bearer_expired_is_401_with_expired_description() {
    let app = start().await;
    let (token, _) = login_token(&app, &client()).await;
    let header = format!("Bearer {token}");

    // Ages are whole seconds and a second boundary may pass during the test: max_age - 1 or
    // max_age old, still valid.
    app.advance(BEARER_MAX_AGE - 1);
    assert_eq!(get_me(&app, &[header.as_bytes()]).await.status(), 200);

    app.advance(3);
    assert_rejected(
        get_me(&app, &[header.as_bytes()]).await,
        401,
        Some(EXPIRED_TOKEN),
    )
    .await;

    // An expired token that was tampered with is invalid, not expired.
    let tampered = format!("Bearer {}", flip_middle(&token));
    assert_rejected(
        get_me(&app, &[tampered.as_bytes()]).await,
        401,
        Some(INVALID_TOKEN),
    )
    .await;
}

#[tokio::test]
async fn bearer_malformed_requests_are_400_invalid_request() {
    let app = start().await;
    let token = app.bearer.dumps(&alice()).unwrap();
    let good = format!("Bearer {token}");
    let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
        (
            "basic scheme",
            vec![b"Basic YWxhZGRpbjpvcGVuc2VzYW1l".to_vec()],
        ),
        ("token scheme", vec![format!("Token {token}").into_bytes()]),
        ("scheme only", vec![b"Bearer".to_vec()]),
        ("empty", vec![b"".to_vec()]),
        (
            "two tokens",
            vec![format!("Bearer {token} {token}").into_bytes()],
        ),
        (
            "tab separator",
            vec![format!("Bearer\t{token}").into_bytes()],
        ),
        ("no separator", vec![format!("Bearer{token}").into_bytes()]),
        ("not ASCII", vec![b"Bearer \xc3\xa9t\xc3\xa9".to_vec()]),
        (
            "two headers",
            vec![good.clone().into_bytes(), good.clone().into_bytes()],
        ),
    ];
    for (what, headers) in cases {
        let headers: Vec<&[u8]> = headers.iter().map(Vec::as_slice).collect();
        let response = get_me(&app, &headers).await;
        assert_eq!(response.status(), 400, "{what}");
        assert_eq!(www_authenticate(&response), Some(INVALID_REQUEST), "{what}");
        assert_eq!(response.text().await.unwrap(), "", "{what}");
    }
    // The same token alone is fine.
    assert_eq!(get_me(&app, &[good.as_bytes()]).await.status(), 200);
}

#[tokio::test]
async fn bearer_service_error_is_500() {
    // A serializer without expiry policy is a bug of the service, not of the client.
    let serializer = TimedSerializer::new(SecretKey::generate(), "api-token");
    let token = serializer.dumps(&alice()).unwrap();
    let app = Router::new()
        .route("/me", get(me))
        .with_state(BearerSerializer::new(serializer));
    let base = serve(app).await;
    let response = client()
        .get(format!("{base}/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_rejected(response, 500, None).await;
}

#[tokio::test]
async fn optional_bearer() {
    let app = start().await;
    let token = app.bearer.dumps(&alice()).unwrap();
    let get = |auth: Option<String>| {
        let mut request = client().get(app.url("/maybe"));
        if let Some(auth) = auth {
            request = request.header(AUTHORIZATION, auth);
        }
        request.send()
    };
    let response = get(None).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "anonymous");
    let response = get(Some(format!("Bearer {token}"))).await.unwrap();
    assert_eq!(response.text().await.unwrap(), "alice");
    let response = get(Some(format!("Bearer {}", flip_middle(&token))))
        .await
        .unwrap();
    assert_rejected(response, 401, Some(INVALID_TOKEN)).await;
    let response = get(Some("Basic abc".into())).await.unwrap();
    assert_rejected(response, 400, Some(INVALID_REQUEST)).await;
}

// ---------------------------------------------------------------- cookie sessions

#[tokio::test]
async fn session_flow_with_a_cookie_store() {
    let app = start_insecure().await;
    let browser = cookie_client();

    let response = browser.get(app.url("/session")).send().await.unwrap();
    assert_eq!(response.status(), 401, "no session yet");
    assert!(set_cookies(response.headers()).is_empty());

    let (_, login) = login_token(&app, &browser).await;
    let cookie = the_set_cookie(&login);
    assert_eq!(cookie.name(), "session");
    assert_eq!(cookie.secure(), None, "no Secure attribute");

    let response = browser.get(app.url("/session")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        set_cookies(response.headers()).is_empty(),
        "unchanged session: no Set-Cookie"
    );
    assert_eq!(response.json::<User>().await.unwrap(), alice());

    let response = browser.post(app.url("/logout")).send().await.unwrap();
    assert_eq!(response.status(), 204);
    let removal = the_set_cookie(response.headers());
    assert_eq!(removal.name(), "session");
    assert_eq!(removal.value(), "");
    assert_eq!(removal.max_age(), Some(cookie::time::Duration::ZERO));

    let response = browser.get(app.url("/session")).send().await.unwrap();
    assert_eq!(response.status(), 401, "logged out");
    assert!(set_cookies(response.headers()).is_empty());
}

#[tokio::test]
async fn session_cookie_default_attributes() {
    let app = start().await;
    let (_, login) = login_token(&app, &client()).await;
    let raw = set_cookies(&login);
    assert_eq!(raw.len(), 1);
    let cookie = Cookie::parse(raw[0].clone()).unwrap();
    let value = cookie.value().to_owned();
    assert_eq!(
        raw[0],
        format!(
            "session={value}; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age={SESSION_MAX_AGE}"
        )
    );
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.secure(), Some(true));
    assert_eq!(cookie.same_site(), Some(cookie::SameSite::Lax));
    assert_eq!(cookie.path(), Some("/"));
    assert_eq!(cookie.domain(), None);
    assert_eq!(cookie.expires(), None);
    assert_eq!(
        cookie.max_age(),
        Some(cookie::time::Duration::seconds(SESSION_MAX_AGE as i64))
    );
    assert_eq!(login.get(VARY).unwrap(), "cookie");

    // The value is a token of the session serializer, and loads as the session.
    assert_eq!(app.cookies.loads::<User>(&value).unwrap(), alice());
    let response = get_session_with(&app, &format!("session={value}")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<User>().await.unwrap(), alice());

    // Like browsers, reqwest's cookie store treats loopback as a secure origin and sends the
    // Secure cookie over plain HTTP to 127.0.0.1: the flow works with the defaults.
    let browser = cookie_client();
    login_token(&app, &browser).await;
    let response = browser.get(app.url("/session")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<User>().await.unwrap(), alice());
}

#[tokio::test]
async fn session_cookie_custom_attributes_and_clear() {
    let app = start_with(session_serializer(), |b| {
        b.cookie_name("sid")
            .domain("example.test")
            .path("/")
            .same_site(SameSite::Strict)
    })
    .await;
    let (_, login) = login_token(&app, &client()).await;
    let cookie = the_set_cookie(&login);
    let value = cookie.value().to_owned();
    assert_eq!(
        set_cookies(&login)[0],
        format!(
            "sid={value}; HttpOnly; SameSite=Strict; Secure; Path=/; Domain=example.test; Max-Age={SESSION_MAX_AGE}"
        )
    );

    // Another name is not the session.
    let response = get_session_with(&app, &format!("session={value}")).await;
    assert_eq!(response.status(), 401);
    let response = get_session_with(&app, &format!("sid={value}")).await;
    assert_eq!(response.status(), 200);

    let response = client()
        .post(app.url("/logout"))
        .header(COOKIE, format!("sid={value}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let raw = set_cookies(response.headers());
    assert_eq!(raw.len(), 1);
    assert!(
        raw[0].starts_with(
            "sid=; HttpOnly; SameSite=Strict; Secure; Path=/; Domain=example.test; Max-Age=0; Expires="
        ),
        "{}",
        raw[0]
    );
    let removal = Cookie::parse(raw[0].clone()).unwrap();
    let expires = removal.expires_datetime().unwrap();
    assert!(expires < cookie::time::OffsetDateTime::now_utc());

    // Clearing works without a cookie too, and with a custom path.
    let app = start_with(session_serializer(), |b| b.path("/app")).await;
    let response = client().post(app.url("/logout")).send().await.unwrap();
    let raw = set_cookies(response.headers());
    assert_eq!(raw.len(), 1);
    assert!(raw[0]
        .starts_with("session=; HttpOnly; SameSite=Lax; Secure; Path=/app; Max-Age=0; Expires="));
}

#[tokio::test]
async fn no_set_cookie_on_unchanged_sessions() {
    let app = start().await;
    let token = app.cookies.dumps(&alice()).unwrap();
    let cookie = format!("other=1; session={token}");

    for path in ["/session", "/session/age", "/plain"] {
        let response = client()
            .get(app.url(path))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert!(set_cookies(response.headers()).is_empty(), "{path}");
        let vary: Vec<_> = response.headers().get_all(VARY).iter().collect();
        if path == "/plain" {
            assert!(vary.is_empty(), "a route without the session does not vary");
        } else {
            assert_eq!(vary, ["cookie"], "{path}");
        }
    }
    // No cookie at all, session read: still no Set-Cookie.
    let response = client().get(app.url("/session")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert!(set_cookies(response.headers()).is_empty());
}

#[tokio::test]
async fn bad_cookies_give_an_empty_session() {
    let app = start().await;
    let token = app.cookies.dumps(&alice()).unwrap();
    let other_key = TimedSerializer::new(SecretKey::from_bytes(&[2; 32]).unwrap(), "session")
        .max_age(Duration::from_secs(60));
    let old = app
        .cookies
        .dumps_at(
            &alice(),
            SystemTime::now() - Duration::from_secs(SESSION_MAX_AGE + 5),
        )
        .unwrap();
    let cases = [
        ("tampered", format!("session={}", flip_middle(&token))),
        ("truncated", format!("session={}", &token[..40])),
        ("garbage", "session=garbage".to_owned()),
        ("empty", "session=".to_owned()),
        ("quoted", format!("session=\"{token}\"")),
        ("expired", format!("session={old}")),
        (
            "unknown key",
            format!("session={}", other_key.dumps(&alice()).unwrap()),
        ),
        (
            "bearer token",
            format!("session={}", app.bearer.dumps(&alice()).unwrap()),
        ),
        (
            "wrong type",
            format!("session={}", app.cookies.dumps(&7u8).unwrap()),
        ),
        ("huge", format!("session={}", "A".repeat(7000))),
        ("no pair", "session".to_owned()),
        ("junk", ";;; =; ==; session==; a=b=c".to_owned()),
    ];
    for (what, cookie) in cases {
        let response = get_session_with(&app, &cookie).await;
        assert_eq!(
            response.status(),
            401,
            "{what}: empty session, not an error"
        );
        assert!(
            set_cookies(response.headers()).is_empty(),
            "{what}: bad cookie is not cleared"
        );
        assert_eq!(response.text().await.unwrap(), "");
    }

    // A non-ASCII Cookie header.
    let response = client()
        .get(app.url("/session"))
        .header(
            COOKIE,
            reqwest::header::HeaderValue::from_bytes(b"session=\xc3\xa9").unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // A bad cookie before a good one (another path, a tossed cookie): the first that loads wins.
    let response = get_session_with(&app, &format!("session=garbage; session={token}")).await;
    assert_eq!(response.status(), 200);
    // Two Cookie headers.
    let response = client()
        .get(app.url("/session"))
        .header(COOKIE, "session=garbage")
        .header(COOKIE, format!("session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // A bad cookie is replaced by the next login.
    let response = client()
        .post(app.url("/login"))
        .header(COOKIE, "session=garbage")
        .json(&alice())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let fresh = the_set_cookie(response.headers());
    assert_eq!(app.cookies.loads::<User>(fresh.value()).unwrap(), alice());
}

#[tokio::test]
async fn sessions_expire() {
    let app = start_insecure().await;
    let browser = cookie_client();
    login_token(&app, &browser).await;

    app.advance(SESSION_MAX_AGE - 1); // max_age - 1 or max_age old: still valid
    let response = browser.get(app.url("/session")).send().await.unwrap();
    assert_eq!(response.status(), 200);

    app.advance(3);
    let response = browser.get(app.url("/session")).send().await.unwrap();
    assert_eq!(response.status(), 401, "expired");
    assert!(set_cookies(response.headers()).is_empty());
}

#[tokio::test]
async fn sliding_renewal() {
    let app = start_with(session_serializer(), |b| {
        b.insecure_allow_http()
            .renew_after(Duration::from_secs(SESSION_MAX_AGE / 2))
    })
    .await;
    let browser = cookie_client();
    let (_, login) = login_token(&app, &browser).await;
    let first = the_set_cookie(&login).value().to_owned();

    // Whole seconds, and a second boundary may pass during the test: 1798 or 1799 s old.
    app.advance(SESSION_MAX_AGE / 2 - 2);
    let response = browser.get(app.url("/session")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(set_cookies(response.headers()).is_empty(), "not yet due");

    app.advance(2);
    // Due: renewed even on a route that does not use the session.
    let response = browser.get(app.url("/plain")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let renewed = the_set_cookie(response.headers());
    assert_ne!(renewed.value(), first);
    assert_eq!(
        renewed.max_age(),
        Some(cookie::time::Duration::seconds(SESSION_MAX_AGE as i64))
    );
    let issued = |token: &str| {
        untrusted_header(token)
            .unwrap()
            .untrusted_issued_at()
            .unwrap()
    };
    let age = issued(renewed.value())
        .duration_since(issued(&first))
        .unwrap()
        .as_secs();
    assert!(
        (SESSION_MAX_AGE / 2..=SESSION_MAX_AGE / 2 + 2).contains(&age),
        "renewed cookie issued {age} s after the first"
    );
    assert_eq!(
        app.cookies
            .loads_at::<User>(renewed.value(), app.now())
            .unwrap(),
        alice()
    );

    // Without the renewal the session would have expired by now.
    app.advance(SESSION_MAX_AGE / 2 + 10);
    assert!(app.cookies.loads_at::<User>(&first, app.now()).is_err());
    let response = browser.get(app.url("/session")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<User>().await.unwrap(), alice());

    // A bad cookie is not renewed.
    let response = get_session_with(&app, "session=garbage").await;
    assert!(set_cookies(response.headers()).is_empty());
}

#[tokio::test]
async fn explicit_renew_and_meta() {
    let app = start().await;
    let old = app
        .cookies
        .dumps_at(&alice(), SystemTime::now() - Duration::from_secs(100))
        .unwrap();

    let response = client()
        .get(app.url("/session/age"))
        .header(COOKIE, format!("session={old}"))
        .send()
        .await
        .unwrap();
    let age: u64 = response.text().await.unwrap().parse().unwrap();
    assert!((100..=101).contains(&age), "age {age}");

    let response = client()
        .post(app.url("/session/renew"))
        .header(COOKIE, format!("session={old}"))
        .send()
        .await
        .unwrap();
    let renewed = the_set_cookie(response.headers());
    let loaded = app
        .cookies
        .loads_with_meta::<User>(renewed.value())
        .unwrap();
    assert_eq!(loaded.payload, alice());
    assert!(loaded.meta.age <= Duration::from_secs(1));

    // Renewing an empty session writes nothing.
    let response = client()
        .post(app.url("/session/renew"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(set_cookies(response.headers()).is_empty());
}

#[tokio::test]
async fn oversized_sessions_are_500() {
    // The token fits the serializer's 8 KiB default but not a 4096-byte cookie.
    let app = start().await;
    let big = User {
        user_id: "alice".into(),
        role: "x".repeat(3500),
    };
    let response = client()
        .post(app.url("/session"))
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    assert!(set_cookies(response.headers()).is_empty());
    assert_eq!(
        response.text().await.unwrap(),
        "",
        "the handler's body is gone"
    );

    // Just below the limit works.
    let fits = User {
        user_id: "alice".into(),
        role: "x".repeat(2900),
    };
    let response = client()
        .post(app.url("/session"))
        .json(&fits)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let raw = set_cookies(response.headers());
    assert_eq!(raw.len(), 1);
    assert!(raw[0].len() <= 4096);

    // The serializer's max_token_len refuses it first: Error::TooLong.
    let app = start_with(session_serializer().max_token_len(1000), |b| b).await;
    let response = client()
        .post(app.url("/session"))
        .json(&fits)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    assert!(set_cookies(response.headers()).is_empty());
    assert_eq!(response.text().await.unwrap(), "");
}

#[tokio::test]
async fn session_without_layer_is_500() {
    let app = Router::new().route("/session", get(get_session));
    let base = serve(app).await;
    let response = client()
        .get(format!("{base}/session"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    assert_eq!(response.text().await.unwrap(), "");
}

// ---------------------------------------------------------------- logs

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn logs_give_the_cause_but_no_token() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // The server task runs on this thread (current-thread runtime), under the subscriber.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let secrets = runtime.block_on(async {
        let app = start().await;
        let token = app.bearer.dumps(&alice()).unwrap();
        let tampered = flip_middle(&token);
        let expired = app
            .bearer
            .dumps_at(&alice(), SystemTime::now() - Duration::from_secs(3600))
            .unwrap();
        let cookie = flip_middle(&app.cookies.dumps(&alice()).unwrap());
        for auth in [&tampered, &expired] {
            let response = get_me(&app, &[format!("Bearer {auth}").as_bytes()]).await;
            assert_eq!(response.status(), 401);
        }
        assert_eq!(get_me(&app, &[b"Basic c2VjcmV0"]).await.status(), 400);
        let response = get_session_with(&app, &format!("session={cookie}")).await;
        assert_eq!(response.status(), 401);
        let big = User {
            user_id: "alice".into(),
            role: "x".repeat(3500),
        };
        let response = client()
            .post(app.url("/session"))
            .json(&big)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 500);
        vec![token, tampered, expired, cookie, "c2VjcmV0".into()]
    });

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    for expected in [
        "DEBUG itsclassified::web::bearer: bearer token refused error=token is invalid",
        "DEBUG itsclassified::web::bearer: bearer token refused error=token has expired",
        "DEBUG itsclassified::web::bearer: bearer token refused: Authorization scheme is not Bearer",
        "DEBUG itsclassified::web::session: session cookie refused; the session is empty error=token is invalid",
        "ERROR itsclassified::web::session: session cookie is longer than browsers accept",
    ] {
        assert!(logs.contains(expected), "missing {expected:?} in:\n{logs}");
    }
    for secret in secrets {
        assert!(!logs.contains(&secret), "a credential leaked into the logs");
        // Any 20-character piece of a token would be a leak too.
        for piece in secret.as_bytes().chunks(20).filter(|c| c.len() == 20) {
            let piece = std::str::from_utf8(piece).unwrap();
            assert!(!logs.contains(piece), "a token leaked into the logs");
        }
    }
}
