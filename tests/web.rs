//! The `axum` feature over real HTTP: a server on an ephemeral loopback port, reqwest as client.

mod support;

use std::time::{Duration, SystemTime};

use axum::routing::get;
use axum::Router;
use cookie::Cookie;
use itsclassified::session::SessionPolicy;
use itsclassified::web::{BearerSerializer, SameSite};
use itsclassified::{untrusted_header, SecretKey, TimedSerializer};
use reqwest::header::{AUTHORIZATION, COOKIE, VARY};
use serde_json::{json, Value};
use support::*;

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
        ("session salt", app.seal(&alice())),
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
async fn another_scheme_gets_a_bare_401_challenge() {
    // RFC 6750 section 3.1: a request that uses another authentication method gets no error code.
    let app = start().await;
    let token = app.bearer.dumps(&alice()).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("basic", b"Basic YWxhZGRpbjpvcGVuc2VzYW1l".to_vec()),
        ("token scheme", format!("Token {token}").into_bytes()),
        ("no separator", format!("Bearer{token}").into_bytes()),
    ];
    for (what, header) in cases {
        let response = get_me(&app, &[header.as_slice()]).await;
        assert_eq!(response.status(), 401, "{what}");
        assert_eq!(www_authenticate(&response), Some("Bearer"), "{what}");
        assert_eq!(response.text().await.unwrap(), "", "{what}");
    }
}

#[tokio::test]
async fn two_bearer_purposes_in_one_app() {
    use axum::extract::FromRef;
    use itsclassified::web::Bearer;

    #[derive(Clone)]
    struct Refresh(BearerSerializer);
    impl AsRef<BearerSerializer> for Refresh {
        fn as_ref(&self) -> &BearerSerializer {
            &self.0
        }
    }
    #[derive(Clone)]
    struct State {
        access: BearerSerializer,
        refresh: Refresh,
    }
    impl FromRef<State> for BearerSerializer {
        fn from_ref(state: &State) -> Self {
            state.access.clone()
        }
    }
    impl FromRef<State> for Refresh {
        fn from_ref(state: &State) -> Self {
            state.refresh.clone()
        }
    }
    async fn api(Bearer { payload, .. }: Bearer<User>) -> String {
        payload.user_id
    }
    async fn refresh(Bearer { payload, .. }: Bearer<User, Refresh>) -> String {
        format!("refreshed {}", payload.user_id)
    }
    // One key, two salts: each route accepts only its own purpose.
    let key = || SecretKey::from_bytes(&[5; 32]).unwrap();
    let hour = Duration::from_secs(3600);
    let state = State {
        access: BearerSerializer::new(TimedSerializer::new(key(), "access").max_age(hour)).unwrap(),
        refresh: Refresh(
            BearerSerializer::new(TimedSerializer::new(key(), "refresh").max_age(30 * 24 * hour))
                .unwrap(),
        ),
    };
    let access = state.access.dumps(&alice()).unwrap();
    let refresh_token = state.refresh.0.dumps(&alice()).unwrap();
    let base = serve(
        Router::new()
            .route("/api", get(api))
            .route("/refresh", get(refresh))
            .with_state(state),
    )
    .await;
    let call = |path: &'static str, token: String| {
        let url = format!("{base}{path}");
        async move { client().get(url).bearer_auth(token).send().await.unwrap() }
    };
    let response = call("/api", access.clone()).await;
    assert_eq!(response.text().await.unwrap(), alice().user_id);
    let response = call("/refresh", refresh_token.clone()).await;
    assert_eq!(
        response.text().await.unwrap(),
        format!("refreshed {}", alice().user_id)
    );
    assert_rejected(call("/api", refresh_token).await, 401, Some(INVALID_TOKEN)).await;
    assert_rejected(call("/refresh", access).await, 401, Some(INVALID_TOKEN)).await;
}

#[test]
fn a_bearer_serializer_without_expiry_policy_is_refused_at_start_up() {
    // It would issue tokens at login and then answer every request with a 500.
    let serializer = TimedSerializer::new(SecretKey::generate(), "api-token");
    assert!(matches!(
        BearerSerializer::new(serializer.clone()),
        Err(itsclassified::Error::MaxAgeNotSet)
    ));
    assert!(BearerSerializer::try_from(serializer.clone()).is_err());
    assert!(BearerSerializer::new(serializer.clone().no_expiry()).is_ok());
    assert!(BearerSerializer::new(serializer.max_age(Duration::from_secs(60))).is_ok());
}

#[tokio::test]
async fn a_revocation_for_another_payload_type_is_a_service_error_500() {
    use itsclassified::revocation::MemoryStore;
    use itsclassified::web::Revocation;
    let serializer =
        TimedSerializer::new(SecretKey::generate(), "api-token").max_age(Duration::from_secs(60));
    let token = serializer.dumps(&alice()).unwrap();
    // A bug of the service: the extractor loads `User`, the revocation is for `u64`.
    let bearer = BearerSerializer::new(serializer)
        .unwrap()
        .revocation(Revocation::<u64>::new(std::sync::Arc::new(
            MemoryStore::new(),
        )));
    let app = Router::new().route("/me", get(me)).with_state(bearer);
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
    // Another scheme is no bearer token at all (RFC 6750 section 3.1) ...
    let response = get(Some("Basic abc".into())).await.unwrap();
    assert_eq!(response.text().await.unwrap(), "anonymous");
    // ... a malformed bearer header is still a bad request.
    let response = get(Some("Bearer a b".into())).await.unwrap();
    assert_rejected(response, 400, Some(INVALID_REQUEST)).await;
}

// ---------------------------------------------------------------- JSON-shaped bearer refusals

/// The documented recipe (`BearerRejection`, "Shaping the body"): a wrapper extractor whose
/// refusals are JSON, with the status and headers of RFC 6750.
mod json_api {
    use super::*;
    use axum::extract::{FromRef, FromRequestParts};
    use axum::http::request::Parts;
    use axum::response::Response;
    use axum::Json;
    use itsclassified::web::{Bearer, BearerRejection};

    pub struct ApiUser(pub Bearer<User>);

    impl<S: Send + Sync> FromRequestParts<S> for ApiUser
    where
        BearerSerializer: FromRef<S>,
    {
        type Rejection = Response;

        async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
            Bearer::from_request_parts(parts, state)
                .await
                .map(ApiUser)
                .map_err(api_error)
        }
    }

    fn api_error(rejection: BearerRejection) -> Response {
        let error = rejection.error_code().unwrap_or(match rejection.status() {
            401 => "unauthorized",
            503 => "temporarily_unavailable",
            _ => "server_error",
        });
        let body = Json(json!({
            "error": error,
            "error_description": rejection.error_description(),
        }));
        rejection.into_response_with(body)
    }

    async fn me(ApiUser(bearer): ApiUser) -> Json<User> {
        Json(bearer.payload)
    }

    pub async fn serve_json(bearer: BearerSerializer) -> String {
        serve(Router::new().route("/json/me", get(me)).with_state(bearer)).await
    }
}

/// A revocation store that never answers: every call fails as a dead store does.
struct DeadStore;

impl itsclassified::revocation::RevocationStore for DeadStore {
    fn revoke_token(
        &self,
        _: itsclassified::TokenId,
        _: SystemTime,
    ) -> itsclassified::revocation::StoreFuture<'_, bool> {
        dead()
    }
    fn revoke_subject<'a>(
        &'a self,
        _: &'a str,
        _: SystemTime,
        _: Duration,
    ) -> itsclassified::revocation::StoreFuture<'a, ()> {
        dead()
    }
    fn status<'a>(
        &'a self,
        _: itsclassified::TokenId,
        _: SystemTime,
        _: Option<&'a str>,
    ) -> itsclassified::revocation::StoreFuture<'a, itsclassified::revocation::RevocationStatus>
    {
        dead()
    }
    fn revoke_session(
        &self,
        _: itsclassified::session::SessionId,
        _: SystemTime,
    ) -> itsclassified::revocation::StoreFuture<'_, bool> {
        dead()
    }
    fn session_status<'a>(
        &'a self,
        _: itsclassified::session::SessionId,
        _: SystemTime,
        _: Option<&'a str>,
    ) -> itsclassified::revocation::StoreFuture<'a, itsclassified::revocation::RevocationStatus>
    {
        dead()
    }
    fn subject_cutoff<'a>(
        &'a self,
        _: &'a str,
    ) -> itsclassified::revocation::StoreFuture<'a, Option<SystemTime>> {
        dead()
    }
}

fn dead<'a, T>() -> itsclassified::revocation::StoreFuture<'a, T> {
    Box::pin(async { Err(itsclassified::revocation::StoreError::Timeout) })
}

/// What a JSON refusal is made of: status, `WWW-Authenticate`, `Retry-After`, `Content-Type`
/// and the body as JSON.
async fn get_json(
    base: &str,
    authorization: Option<&str>,
) -> (u16, Option<String>, Option<String>, Option<String>, Value) {
    let mut request = client().get(format!("{base}/json/me"));
    if let Some(value) = authorization {
        request = request.header(AUTHORIZATION, value);
    }
    let response = request.send().await.unwrap();
    let header = |name: &str| {
        let mut values = response.headers().get_all(name).iter();
        let first = values.next().map(|v| v.to_str().unwrap().to_owned());
        assert!(values.next().is_none(), "more than one {name}");
        first
    };
    let (www, retry, content_type) = (
        header("www-authenticate"),
        header("retry-after"),
        header("content-type"),
    );
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    if let Some(authorization) = authorization {
        // Never the token, nor anything of the header, in the body.
        let token = authorization.rsplit(' ').next().unwrap();
        assert!(token.len() < 8 || !text.contains(token), "{text}");
    }
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"));
    (status, www, retry, content_type, body)
}

fn json_bearer() -> (TimedSerializer, BearerSerializer) {
    let serializer = TimedSerializer::new(SecretKey::from_bytes(&[7; 32]).unwrap(), "api-token")
        .max_age(Duration::from_secs(BEARER_MAX_AGE));
    (
        serializer.clone(),
        BearerSerializer::new(serializer).unwrap(),
    )
}

#[tokio::test]
async fn json_refusals_keep_the_rfc_6750_status_and_headers() {
    let (serializer, bearer) = json_bearer();
    let base = json_api::serve_json(bearer).await;
    let json_type = Some("application/json".to_owned());
    let own = |s: &str| Some(s.to_owned());

    // A valid token passes the wrapper.
    let token = serializer.dumps(&alice()).unwrap();
    let (status, www, _, _, body) = get_json(&base, Some(&format!("Bearer {token}"))).await;
    assert_eq!((status, www, body), (200, None, json!(alice())));

    // No token, another scheme: 401, the bare challenge, no error code.
    for authorization in [None, Some("Basic YWxhZGRpbjpvcGVuc2VzYW1l")] {
        assert_eq!(
            get_json(&base, authorization).await,
            (
                401,
                own(MISSING),
                None,
                json_type.clone(),
                json!({ "error": "unauthorized", "error_description": null })
            ),
            "{authorization:?}"
        );
    }

    // An invalid token: 401 invalid_token, in the challenge and in the body.
    let tampered = format!("Bearer {}", flip_middle(&token));
    for authorization in ["Bearer not-a-token", &tampered] {
        assert_eq!(
            get_json(&base, Some(authorization)).await,
            (
                401,
                own(INVALID_TOKEN),
                None,
                json_type.clone(),
                json!({
                    "error": "invalid_token",
                    "error_description": "The access token is invalid",
                })
            ),
            "{authorization}"
        );
    }

    // An expired one: the description says so.
    let old = serializer
        .dumps_at(
            &alice(),
            SystemTime::now() - Duration::from_secs(BEARER_MAX_AGE + 60),
        )
        .unwrap();
    assert_eq!(
        get_json(&base, Some(&format!("Bearer {old}"))).await,
        (
            401,
            own(EXPIRED_TOKEN),
            None,
            json_type.clone(),
            json!({ "error": "invalid_token", "error_description": "The access token expired" })
        )
    );

    // A malformed header: 400 invalid_request.
    for authorization in ["Bearer a b", "Bearer"] {
        assert_eq!(
            get_json(&base, Some(authorization)).await,
            (
                400,
                own(INVALID_REQUEST),
                None,
                json_type.clone(),
                json!({ "error": "invalid_request", "error_description": null })
            ),
            "{authorization}"
        );
    }
}

#[tokio::test]
async fn json_refusal_of_a_store_outage_is_503_with_retry_after() {
    let (serializer, bearer) = json_bearer();
    let revocation = itsclassified::web::Revocation::<User>::new(std::sync::Arc::new(DeadStore))
        .subject(|u| Some(u.user_id.clone()));
    let base = json_api::serve_json(bearer.revocation(revocation)).await;
    let token = serializer.dumps(&alice()).unwrap();
    assert_eq!(
        get_json(&base, Some(&format!("Bearer {token}"))).await,
        (
            503,
            None,
            Some("1".to_owned()),
            Some("application/json".to_owned()),
            json!({ "error": "temporarily_unavailable", "error_description": null })
        )
    );
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
            "__Host-session={value}; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age={SESSION_MAX_AGE}"
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
    assert_eq!(app.open::<User>(&value).unwrap().value, alice());
    let response = get_session_with(&app, &app.pair(&value)).await;
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
    let token = app.seal(&alice());
    let cookie = format!("other=1; {}", app.pair(&token));

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
    let token = app.seal(&alice());
    let other_key = TimedSerializer::new(SecretKey::from_bytes(&[2; 32]).unwrap(), "session")
        .max_age(Duration::from_secs(60));
    let old = app.seal_at(
        &alice(),
        SystemTime::now() - Duration::from_secs(SESSION_MAX_AGE + 5),
    );
    let cases = [
        ("tampered", app.pair(&flip_middle(&token))),
        ("truncated", app.pair(&token[..40])),
        ("garbage", app.pair("garbage")),
        ("empty", app.pair("")),
        ("quoted", app.pair(&format!("\"{token}\""))),
        ("expired", app.pair(&old)),
        ("unknown key", app.pair(&other_key.dumps(&alice()).unwrap())),
        (
            "bearer token",
            app.pair(&app.bearer.dumps(&alice()).unwrap()),
        ),
        ("wrong type", app.pair(&app.seal(&7u8))),
        ("huge", app.pair(&"A".repeat(7000))),
        ("no pair", app.cookie.clone()),
        ("junk", format!(";;; =; ==; {}==; a=b=c", app.cookie)),
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
            reqwest::header::HeaderValue::from_bytes(format!("{}=é", app.cookie).as_bytes())
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // A bad cookie before a good one (another path, a tossed cookie): the first that loads wins.
    let response = get_session_with(
        &app,
        &format!("{}; {}", app.pair("garbage"), app.pair(&token)),
    )
    .await;
    assert_eq!(response.status(), 200);
    // Two Cookie headers.
    let response = client()
        .get(app.url("/session"))
        .header(COOKIE, app.pair("garbage"))
        .header(COOKIE, app.pair(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // A bad cookie is replaced by the next login.
    let response = client()
        .post(app.url("/login"))
        .header(COOKIE, app.pair("garbage"))
        .json(&alice())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let fresh = the_set_cookie(response.headers());
    assert_eq!(app.open::<User>(fresh.value()).unwrap().value, alice());
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
    let app = start_with(session_serializer(), |b| renewing(b.insecure_allow_http())).await;
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
    // The cookie holds the value, the session's id and its start, which renewal keeps.
    let (first_stored, renewed_stored) = (
        app.open::<User>(&first).unwrap(),
        app.open::<User>(renewed.value()).unwrap(),
    );
    assert_eq!(renewed_stored.value, alice());
    assert_eq!(renewed_stored.start, first_stored.start);
    assert_eq!(renewed_stored.id, first_stored.id);

    // Without the renewal the session would have expired by now.
    app.advance(SESSION_MAX_AGE / 2 + 10);
    assert!(app.open::<User>(&first).is_err());
    let response = browser.get(app.url("/session")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<User>().await.unwrap(), alice());

    // A bad cookie is not renewed.
    let response = get_session_with(&app, &app.pair("garbage")).await;
    assert!(set_cookies(response.headers()).is_empty());
}

#[tokio::test]
async fn an_active_session_still_ends_at_its_absolute_lifetime() {
    let app = start_with(session_serializer(), |b| renewing(b.insecure_allow_http())).await;
    let browser = cookie_client();
    login_token(&app, &browser).await;
    // Active every half hour: renewed each time, never idle long enough to expire ...
    let mut elapsed = 0;
    let mut last_max_age = None;
    while elapsed + SESSION_MAX_AGE / 2 < ABSOLUTE_LIFETIME - 60 {
        app.advance(SESSION_MAX_AGE / 2 + 1);
        elapsed += SESSION_MAX_AGE / 2 + 1;
        let response = browser.get(app.url("/session")).send().await.unwrap();
        assert_eq!(response.status(), 200, "{elapsed} s in");
        if let Some(cookie) = set_cookies(response.headers()).first() {
            last_max_age = Cookie::parse(cookie.clone()).unwrap().max_age();
        }
    }
    // ... the cookie's Max-Age shrinks to what the absolute lifetime leaves ...
    let left = ABSOLUTE_LIFETIME - elapsed;
    assert!(left < SESSION_MAX_AGE);
    let left_seen = last_max_age.unwrap().whole_seconds() as u64;
    assert!(
        (left..=left + 2).contains(&left_seen),
        "Max-Age {left_seen}, {left} s left"
    );
    // ... and past the absolute lifetime the session is refused, however fresh its cookie.
    app.advance(left + 1);
    let response = browser.get(app.url("/session")).send().await.unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_cookie_of_a_fallback_key_moves_to_the_primary_key() {
    let old = SecretKey::from_bytes(&[1; 32]).unwrap();
    let new = || SecretKey::from_bytes(&[2; 32]).unwrap();
    let ring = TimedSerializer::with_keys([new(), old], "session")
        .unwrap()
        .max_age(Duration::from_secs(SESSION_MAX_AGE));
    let app = start_with(ring, |b| b).await;
    // A cookie from before the rotation, made under the old key (now a fallback).
    let before = SessionPolicy::new(session_serializer())
        .unwrap()
        .seal_new_session_at(&alice(), SystemTime::now())
        .unwrap();
    let response = get_session_with(&app, &app.pair(&before)).await;
    assert_eq!(response.status(), 200);
    let moved = the_set_cookie(response.headers());
    let meta = app.open::<User>(moved.value()).unwrap().meta;
    assert!(meta.is_primary(), "re-sealed under the primary key");
    // A cookie of the primary key is left alone.
    let response = get_session_with(&app, &app.pair(moved.value())).await;
    assert!(set_cookies(response.headers()).is_empty());

    // Unless turned off.
    let ring =
        TimedSerializer::with_keys([new(), SecretKey::from_bytes(&[1; 32]).unwrap()], "session")
            .unwrap()
            .max_age(Duration::from_secs(SESSION_MAX_AGE));
    let app = start_with(ring, |b| b.keep_fallback_cookies()).await;
    let response = get_session_with(&app, &app.pair(&before)).await;
    assert_eq!(response.status(), 200);
    assert!(set_cookies(response.headers()).is_empty());
}

#[tokio::test]
async fn explicit_renew_and_meta() {
    let app = start().await;
    let old = app.seal_at(&alice(), SystemTime::now() - Duration::from_secs(100));

    let response = client()
        .get(app.url("/session/age"))
        .header(COOKIE, app.pair(&old))
        .send()
        .await
        .unwrap();
    let age: u64 = response.text().await.unwrap().parse().unwrap();
    assert!((100..=101).contains(&age), "age {age}");

    let response = client()
        .post(app.url("/session/renew"))
        .header(COOKIE, app.pair(&old))
        .send()
        .await
        .unwrap();
    let renewed = the_set_cookie(response.headers());
    let loaded = app.open::<User>(renewed.value()).unwrap();
    assert_eq!(loaded.value, alice());
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
    let response = post_session(&app, &big).await;
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
    let response = post_session(&app, &fits).await;
    assert_eq!(response.status(), 200);
    let raw = set_cookies(response.headers());
    assert_eq!(raw.len(), 1);
    assert!(raw[0].len() <= 4096);

    // With max_chunks(2) the big one takes two cookies, each line within 4096 bytes ...
    let app = start_with(session_serializer(), |b| b.max_chunks(2)).await;
    let response = post_session(&app, &big).await;
    assert_eq!(response.status(), 200);
    let raw = set_cookies(response.headers());
    assert_eq!(raw.len(), 2);
    assert!(raw[0].starts_with("__Host-session.0=") && raw[1].starts_with("__Host-session.1="));
    assert!(raw.iter().all(|l| l.len() <= 4096));
    // ... and one that needs three is still a 500 without Set-Cookie.
    let bigger = User {
        user_id: "alice".into(),
        role: "x".repeat(7000),
    };
    let response = post_session(&app, &bigger).await;
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

// ---------------------------------------------------------------- hardening (issue 10)

fn cache_control(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all(reqwest::header::CACHE_CONTROL)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn responses_that_set_the_cookie_are_not_stored_by_shared_caches() {
    let app = start_with(session_serializer(), renewing).await;
    let (_, login) = login_token(&app, &client()).await;
    let token = the_set_cookie(&login).value().to_owned();
    app.advance(SESSION_MAX_AGE / 2 + 1);
    let get = |path: &'static str| {
        client()
            .get(app.url(path))
            .header(COOKIE, app.pair(&token))
            .send()
    };

    // A route cacheable by default (max-age, not private) whose session is due for renewal:
    // the renewed cookie comes with `private`.
    let response = get("/max-age").await.unwrap();
    let renewed = the_set_cookie(response.headers());
    assert_ne!(renewed.value(), token);
    assert_eq!(cache_control(&response), ["private, max-age=600"]);

    // A route the handler made `public`: no renewal there (it would be served to others, or
    // undo the caching), and its Cache-Control is untouched.
    let response = get("/public").await.unwrap();
    assert!(set_cookies(response.headers()).is_empty());
    assert_eq!(cache_control(&response), ["public, max-age=31536000"]);

    // A handler that sets the session on a `public` response: `public` and `s-maxage` go.
    let response = client()
        .post(app.url("/public/login"))
        .json(&alice())
        .send()
        .await
        .unwrap();
    assert_eq!(set_cookies(response.headers()).len(), 1);
    assert_eq!(cache_control(&response), ["private, max-age=60"]);

    // Logout too: a removal cookie replayed from a cache would log other users out.
    let response = client()
        .post(app.url("/logout"))
        .header(COOKIE, app.pair(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(set_cookies(response.headers()).len(), 1);
    assert_eq!(cache_control(&response), ["private"]);
}

#[tokio::test]
async fn a_non_ascii_cookie_of_another_app_does_not_log_the_user_out() {
    let app = start().await;
    let token = app.seal(&alice());
    let header = format!("lang=français; {}; theme=dark", app.pair(&token));
    let response = client()
        .get(app.url("/session"))
        .header(
            COOKIE,
            reqwest::header::HeaderValue::from_bytes(header.as_bytes()).unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<User>().await.unwrap(), alice());
}

#[tokio::test]
async fn tossed_junk_cookies_do_not_push_the_real_one_out() {
    let app = start().await;
    let token = app.seal(&alice());
    let stranger = TimedSerializer::new(SecretKey::from_bytes(&[9; 32]).unwrap(), "session")
        .max_age(Duration::from_secs(60));
    // Five kinds of junk that fail before decryption, then the real cookie.
    let junk = [
        "x".to_owned(),
        "AAAA".to_owned(),
        "A".repeat(9000),
        stranger.dumps(&alice()).unwrap(),
        stranger.dumps(&1u8).unwrap(),
    ];
    let mut pairs: Vec<String> = junk.iter().map(|j| app.pair(j)).collect();
    pairs.push(app.pair(&token));
    let response = get_session_with(&app, &pairs.join("; ")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<User>().await.unwrap(), alice());
}

#[tokio::test]
async fn the_default_cookie_name_is_host_prefixed_where_it_can_be() {
    // Secure, Path=/, no Domain: __Host-session, which a subdomain cannot set.
    let app = start().await;
    assert_eq!(app.cookie, "__Host-session");
    let (_, login) = login_token(&app, &client()).await;
    assert_eq!(the_set_cookie(&login).name(), "__Host-session");
    // A plain `session` cookie (what a subdomain could plant) is not the session.
    let token = app.seal(&alice());
    let response = get_session_with(&app, &format!("session={token}")).await;
    assert_eq!(response.status(), 401);
    // Over plain HTTP the prefix is not allowed: `session`.
    let app = start_insecure().await;
    assert_eq!(app.cookie, "session");
    let (_, login) = login_token(&app, &client()).await;
    assert_eq!(the_set_cookie(&login).name(), "session");
    // With a Domain too.
    let app = start_with(session_serializer(), |b| b.domain("example.test")).await;
    assert_eq!(app.cookie, "session");
}
