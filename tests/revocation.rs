//! Revocation over real HTTP: the app on an ephemeral loopback port, reqwest as client, and for
//! the shared store a real `redis-server` that each test starts on a free loopback port (no
//! persistence) and kills at the end.
//!
//! Skip policy for the Redis tests: with `CI=true` they run and FAIL when `redis-server` is
//! missing (`scripts/install_redis.sh` installs it); otherwise they print the reason and return.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use itsclassified::revocation::{MemoryStore, RedisStore, RevocationStore, StoreError};
use itsclassified::web::{Bearer, BearerSerializer, Revocation, Session, SessionLayer};
use itsclassified::{SecretKey, TimedSerializer};
use reqwest::header::{AUTHORIZATION, COOKIE, SET_COOKIE, WWW_AUTHENTICATE};
use serde::{Deserialize, Serialize};

const INVALID_TOKEN: &str =
    r#"Bearer error="invalid_token", error_description="The access token is invalid""#;
const COOKIE_NAME: &str = "session";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct User {
    user_id: String,
}

fn user(id: &str) -> User {
    User { user_id: id.into() }
}

// ---------------------------------------------------------------- log capture

/// Everything logged by this test binary (one global subscriber: the server tasks run on other
/// threads than the test).
fn logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<&'static Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs: &'static Mutex<Vec<u8>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing_subscriber::filter::LevelFilter::DEBUG)
            .with_ansi(false)
            .with_writer(move || LogWriter(logs))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        logs
    })
}

struct LogWriter(&'static Mutex<Vec<u8>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_text() -> String {
    String::from_utf8_lossy(&logs().lock().unwrap()).into_owned()
}

// ---------------------------------------------------------------- the app

#[derive(Clone)]
struct AppState {
    bearer: BearerSerializer,
    /// The revocation both the bearer tokens and the sessions are checked with.
    revocation: Revocation<User>,
}

impl axum::extract::FromRef<AppState> for BearerSerializer {
    fn from_ref(state: &AppState) -> Self {
        state.bearer.clone()
    }
}

fn bearer_serializer() -> TimedSerializer {
    TimedSerializer::new(SecretKey::from_bytes(&[1; 32]).unwrap(), "api-token")
        .max_age(Duration::from_secs(900))
}

fn session_serializer() -> TimedSerializer {
    TimedSerializer::new(SecretKey::from_bytes(&[1; 32]).unwrap(), "session")
        .max_age(Duration::from_secs(3600))
}

async fn me(Bearer { payload, .. }: Bearer<User>) -> String {
    payload.user_id
}

async fn login(session: Session<User>, body: String) -> StatusCode {
    session.set(user(&body));
    StatusCode::NO_CONTENT
}

async fn whoami(session: Session<User>) -> Result<String, StatusCode> {
    session
        .get()
        .map(|u| u.user_id)
        .ok_or(StatusCode::UNAUTHORIZED)
}

async fn logout(session: Session<User>) -> StatusCode {
    match session.clear_and_revoke().await {
        Ok(()) => StatusCode::NO_CONTENT,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

async fn logout_bearer(bearer: Bearer<User>) -> Result<StatusCode, StoreError> {
    bearer.revoke().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn logout_all(
    State(state): State<AppState>,
    bearer: Bearer<User>,
) -> Result<StatusCode, StoreError> {
    state.revocation.revoke_subject(&bearer.payload).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Issues a bearer token after any cutoff of its subject, as a login does.
async fn mint(State(state): State<AppState>, body: String) -> Json<String> {
    Json(state.bearer.issue(&user(&body)).await.unwrap())
}

struct App {
    base: String,
}

/// One instance of the service, its revocations in `store`.
async fn start(store: Arc<dyn RevocationStore>, fail_open: bool) -> App {
    let mut revocation = Revocation::new(store)
        .subject(|u: &User| Some(u.user_id.clone()))
        .timeout(Duration::from_millis(300));
    if fail_open {
        revocation = revocation.insecure_fail_open();
    }
    let bearer = BearerSerializer::new(bearer_serializer())
        .unwrap()
        .revocation(revocation.clone());
    let layer = SessionLayer::<User>::builder(session_serializer())
        .cookie_name(COOKIE_NAME)
        .insecure_allow_http()
        .revocation(revocation.clone())
        .build()
        .unwrap();
    // Learned from both: the session cookie's lifetime, the longer one.
    assert_eq!(revocation.retention().unwrap(), Duration::from_secs(3660));
    let app = Router::new()
        .route("/me", get(me))
        .route("/mint", post(mint))
        .route("/login", post(login))
        .route("/whoami", get(whoami))
        .route("/logout", post(logout))
        .route("/logout-bearer", post(logout_bearer))
        .route("/logout-all", post(logout_all))
        .layer(layer)
        .with_state(AppState { bearer, revocation });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    App {
        base: format!("http://{addr}"),
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

impl App {
    /// Logs `user_id` in with a session; the session cookie's value.
    async fn login(&self, user_id: &str) -> String {
        let response = client()
            .post(format!("{}/login", self.base))
            .body(user_id.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
        let set_cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
        let value = set_cookie
            .strip_prefix(&format!("{COOKIE_NAME}="))
            .unwrap()
            .split(';')
            .next()
            .unwrap();
        assert!(!value.is_empty());
        value.to_owned()
    }

    /// A bearer token for `user_id`, made by this instance.
    async fn mint(&self, user_id: &str) -> String {
        let response = client()
            .post(format!("{}/mint", self.base))
            .body(user_id.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// `GET /whoami` with the session cookie `cookie`: the status and body.
    async fn whoami(&self, cookie: &str) -> (u16, String) {
        let response = client()
            .get(format!("{}/whoami", self.base))
            .header(COOKIE, format!("{COOKIE_NAME}={cookie}"))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        // An empty session is never answered by the layer with a cookie change, nor is a
        // session the store could not check (503).
        if status == 401 || status == 503 {
            assert!(response.headers().get(SET_COOKIE).is_none());
        }
        (status, response.text().await.unwrap())
    }

    /// `method path` with a bearer token: the status and `WWW-Authenticate`.
    async fn bearer(&self, method: &str, path: &str, token: &str) -> (u16, Option<String>) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = client()
            .request(method, format!("{}{path}", self.base))
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        let challenge = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned());
        (response.status().as_u16(), challenge)
    }

    async fn logout(&self, cookie: &str) -> reqwest::Response {
        client()
            .post(format!("{}/logout", self.base))
            .header(COOKIE, format!("{COOKIE_NAME}={cookie}"))
            .send()
            .await
            .unwrap()
    }
}

// ---------------------------------------------------------------- redis-server

mod redis_server;
use redis_server::RedisServer;

async fn redis_store(server: &RedisServer, prefix: &str) -> Arc<dyn RevocationStore> {
    Arc::new(RedisStore::connect(&server.url(), prefix).await.unwrap())
}

// ---------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_cookie_after_logout_is_refused() {
    logs();
    let app = start(Arc::new(MemoryStore::new()), false).await;
    let cookie = app.login("alice").await;
    let other_device = app.login("alice").await;
    assert_eq!(app.whoami(&cookie).await, (200, "alice".into()));

    let response = app.logout(&cookie).await;
    assert_eq!(response.status(), 204);
    // The browser is told to forget the cookie ...
    let removal = response.headers()[SET_COOKIE].to_str().unwrap();
    assert!(
        removal.starts_with(&format!("{COOKIE_NAME}=;")),
        "{removal}"
    );
    // ... and a copy kept elsewhere no longer opens the session, as an invalid cookie.
    assert_eq!(app.whoami(&cookie).await.0, 401);
    // Logging out of one session leaves the user's other sessions alone.
    assert_eq!(app.whoami(&other_device).await, (200, "alice".into()));
    // A second logout with the replayed cookie has nothing left to revoke.
    assert_eq!(app.logout(&cookie).await.status(), 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_user_logging_in_and_out_in_a_loop_cannot_fill_an_in_memory_store() {
    logs();
    // Room for 20 revocations, at most 3 of them one user's: the layer names the session's
    // subject when it revokes, so Mallory's 30 logouts take 3 entries and a cutoff.
    let app = start(
        Arc::new(MemoryStore::with_capacity(20).per_subject(3)),
        false,
    )
    .await;
    let mut last = String::new();
    for _ in 0..30 {
        last = app.login("mallory").await;
        assert_eq!(app.logout(&last).await.status(), 204);
    }
    assert_eq!(app.whoami(&last).await.0, 401);
    // Everyone else's logout still finds room.
    let alice = app.login("alice").await;
    let alice_elsewhere = app.login("alice").await;
    assert_eq!(app.logout(&alice).await.status(), 204);
    assert_eq!(app.whoami(&alice).await.0, 401);
    assert_eq!(app.whoami(&alice_elsewhere).await, (200, "alice".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mis_wired_revocation_fails_loudly_instead_of_revoking_nothing() {
    logs();
    let store: Arc<dyn RevocationStore> = Arc::new(MemoryStore::new());
    let alice = user("alice");

    // A BearerSerializer without revocation: a logout through it is a 500, not a 204 that
    // leaves the token working.
    let unwired = BearerSerializer::new(bearer_serializer()).unwrap();
    let app = Router::new()
        .route("/me", get(me))
        .route("/logout-bearer", post(logout_bearer))
        .with_state(unwired.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let app = App { base };
    let token = unwired.dumps(&alice).unwrap();
    assert_eq!(app.bearer("POST", "/logout-bearer", &token).await.0, 500);
    assert!(log_text().contains("its BearerSerializer has no revocation"));

    // A revocation attached to no serializer cannot tell how long a cutoff must last.
    let revocation =
        Revocation::<User>::new(Arc::clone(&store)).subject(|u| Some(u.user_id.clone()));
    assert!(matches!(
        revocation.retention(),
        Err(StoreError::NotAttached)
    ));
    assert!(matches!(
        revocation.revoke_subject(&alice).await,
        Err(StoreError::NotAttached)
    ));
    // Made for each door separately on one store, or as a sibling of another payload type,
    // revocations know the same: the longest lifetime of the tokens the store checks.
    let separate = Revocation::<User>::new(Arc::clone(&store));
    let _bearer = BearerSerializer::new(bearer_serializer())
        .unwrap()
        .revocation(separate.clone());
    assert_eq!(revocation.retention().unwrap(), Duration::from_secs(960));
    let sibling = revocation
        .for_payload::<String>()
        .subject(|s| Some(s.clone()));
    let _sessions = SessionLayer::<String>::builder(session_serializer())
        .revocation(sibling.clone())
        .build()
        .unwrap();
    assert_eq!(separate.retention().unwrap(), Duration::from_secs(3660));
    assert_eq!(sibling.retention().unwrap(), Duration::from_secs(3660));
    revocation.revoke_subject(&alice).await.unwrap();
    assert!(log_text().contains("subject cutoff recorded (log out everywhere)"));

    // Without a subject function there is no subject to cut off.
    assert!(matches!(
        separate.revoke_subject(&alice).await,
        Err(StoreError::NoSubject)
    ));
    // A serializer of tokens that never expire: no cutoff could be kept long enough.
    let forever =
        Revocation::<User>::new(Arc::new(MemoryStore::new())).subject(|u| Some(u.user_id.clone()));
    let _never = BearerSerializer::new(bearer_serializer().no_expiry())
        .unwrap()
        .revocation(forever.clone());
    assert!(matches!(
        forever.revoke_subject(&alice).await,
        Err(StoreError::NeverExpires)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_bearer_token_is_refused_like_an_invalid_one() {
    logs();
    let app = start(Arc::new(MemoryStore::new()), false).await;
    let token = app.mint("alice").await;
    let other = app.mint("alice").await;
    assert_eq!(app.bearer("GET", "/me", &token).await, (200, None));
    assert_eq!(app.bearer("POST", "/logout-bearer", &token).await.0, 204);
    let refused = app.bearer("GET", "/me", &token).await;
    assert_eq!(refused, (401, Some(INVALID_TOKEN.to_owned())));
    // Byte for byte what a tampered token gets.
    let mut tampered = token.clone().into_bytes();
    tampered[40] = if tampered[40] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(app.bearer("GET", "/me", &tampered).await, refused);
    // Only that token: another token of the same user still works.
    assert_eq!(app.bearer("GET", "/me", &other).await, (200, None));
    assert!(log_text().contains("bearer token refused: revoked (logout)"));
    // Until the user logs out everywhere; the log tells the two apart.
    assert_eq!(app.bearer("POST", "/logout-all", &other).await.0, 204);
    assert_eq!(app.bearer("GET", "/me", &other).await.0, 401);
    assert!(log_text().contains(
        "bearer token refused: issued at or before its subject's cutoff (log out everywhere)"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_everywhere_across_two_instances_sharing_one_redis() {
    logs();
    let Some(redis) =
        RedisServer::start("logout_everywhere_across_two_instances_sharing_one_redis")
    else {
        return;
    };
    let a = start(redis_store(&redis, "test:revoked:").await, false).await;
    let b = start(redis_store(&redis, "test:revoked:").await, false).await;

    let alice_token = a.mint("alice").await;
    let alice_cookie_a = a.login("alice").await;
    let alice_cookie_b = b.login("alice").await;
    let bob_token = b.mint("bob").await;
    let bob_cookie = a.login("bob").await;
    for app in [&a, &b] {
        assert_eq!(app.bearer("GET", "/me", &alice_token).await, (200, None));
        assert_eq!(app.whoami(&alice_cookie_b).await, (200, "alice".into()));
    }

    // A single logout on instance A is refused on instance B too.
    let single = a.mint("carol").await;
    assert_eq!(a.bearer("POST", "/logout-bearer", &single).await.0, 204);
    assert_eq!(b.bearer("GET", "/me", &single).await.0, 401);

    // Alice logs out everywhere, on instance B.
    assert_eq!(b.bearer("POST", "/logout-all", &alice_token).await.0, 204);
    for app in [&a, &b] {
        let refused = app.bearer("GET", "/me", &alice_token).await;
        assert_eq!(refused, (401, Some(INVALID_TOKEN.to_owned())));
        assert_eq!(app.whoami(&alice_cookie_a).await.0, 401);
        assert_eq!(app.whoami(&alice_cookie_b).await.0, 401);
        // Bob is untouched.
        assert_eq!(app.bearer("GET", "/me", &bob_token).await, (200, None));
        assert_eq!(app.whoami(&bob_cookie).await, (200, "bob".into()));
    }
    // A login right after it works everywhere: issued after the cutoff.
    let fresh = a.mint("alice").await;
    let fresh_cookie = b.login("alice").await;
    for app in [&a, &b] {
        assert_eq!(app.bearer("GET", "/me", &fresh).await, (200, None));
        assert_eq!(app.whoami(&fresh_cookie).await, (200, "alice".into()));
    }

    // A single-use token (a password-reset link, say), used at once on both instances by
    // eight requests: exactly one revocation wins.
    let link = bearer_serializer().dumps(&user("dave")).unwrap();
    let meta = bearer_serializer()
        .loads_with_meta::<User>(&link)
        .unwrap()
        .meta;
    let stores = [
        redis_store(&redis, "test:revoked:").await,
        redis_store(&redis, "test:revoked:").await,
    ];
    let attempts = (0..8).map(|i| {
        let store = Arc::clone(&stores[i % 2]);
        tokio::spawn(async move { store.revoke(&meta).await.unwrap() })
    });
    let mut won = 0;
    for attempt in attempts {
        won += usize::from(attempt.await.unwrap());
    }
    assert_eq!(won, 1);

    // Every key Redis holds expires on its own.
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys.len(), 3, "{keys:?}"); // carol's and dave's tokens, alice's cutoff
    for key in keys {
        assert!(key.starts_with("test:revoked:"), "{key}");
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        // Token: up to max_age + leeway (960 s); cutoff: the margin (30 s) and the session's
        // max_age + leeway (3660 s), learned by the revocation.
        assert!(ttl > 0 && ttl <= 3_691_000, "{key}: {ttl}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_mid_run_refuses_tokens_quickly_and_logs_an_error() {
    logs();
    let Some(mut redis) =
        RedisServer::start("redis_stopped_mid_run_refuses_tokens_quickly_and_logs_an_error")
    else {
        return;
    };
    let closed = start(redis_store(&redis, "test:down:").await, false).await;
    let open = start(redis_store(&redis, "test:down:").await, true).await;
    let token = closed.mint("alice").await;
    let cookie = closed.login("alice").await;
    let spare = closed.login("alice").await;
    assert_eq!(closed.bearer("GET", "/me", &token).await, (200, None));
    assert_eq!(closed.whoami(&cookie).await, (200, "alice".into()));

    // A server that hangs (stopped with SIGSTOP): the first check gives up after the timeout,
    // and the refusal is the service's problem (503), never "invalid token" (401). After that
    // first timeout the circuit breaker refuses at once: one timeout, not one per request.
    redis.signal("STOP");
    let started = Instant::now();
    assert_eq!(closed.bearer("GET", "/me", &token).await, (503, None));
    let first = started.elapsed();
    assert!(
        first >= Duration::from_millis(200) && first < Duration::from_secs(2),
        "the first refusal waits for the timeout: {first:?}"
    );
    let mut refusals = Vec::new();
    for round in 0..20 {
        let started = Instant::now();
        assert_eq!(
            closed.bearer("GET", "/me", &token).await,
            (503, None),
            "round {round}"
        );
        assert_eq!(closed.whoami(&cookie).await.0, 503, "round {round}");
        refusals.push(started.elapsed() / 2);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    refusals.sort();
    let median = refusals[refusals.len() / 2];
    assert!(
        median < Duration::from_millis(50),
        "after the first timeout, refusals are at once: median {median:?} ({refusals:?})"
    );
    // Once it answers again, so do the checks: within the breaker's window and a probe.
    redis.signal("CONT");
    let resumed = Instant::now();
    while closed.bearer("GET", "/me", &token).await.0 != 200 {
        assert!(
            resumed.elapsed() < Duration::from_secs(3),
            "no recovery within 3 s of SIGCONT"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(closed.whoami(&cookie).await, (200, "alice".into()));

    // A server that is gone.
    redis.stop();

    // Each answer within the timeout (300 ms) plus slack, never a 500, never a hang.
    for round in 0..3 {
        let started = Instant::now();
        let refused = closed.bearer("GET", "/me", &token).await;
        assert_eq!(refused, (503, None), "round {round}");
        assert_eq!(closed.whoami(&cookie).await.0, 503, "round {round}");
        // Logout cannot be recorded: the handler learns it and answers 503.
        assert_eq!(closed.logout(&spare).await.status(), 503, "round {round}");
        let took = started.elapsed();
        assert!(took < Duration::from_secs(3), "round {round}: {took:?}");
        // Opt-in fail-open lets the same tokens through.
        assert_eq!(open.bearer("GET", "/me", &token).await, (200, None));
        assert_eq!(open.whoami(&cookie).await, (200, "alice".into()));
    }

    let logs = log_text();
    assert!(
        logs.lines().any(|l| l.contains("ERROR")
            && l.contains(
                "bearer token refused with a 503 (fail closed): the revocation store cannot answer"
            )),
        "{logs}"
    );
    // The breaker logs when it changes state, not once per refused request (there were more
    // than forty): open and closed again for each store, open again when Redis is killed.
    let opened = logs
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("the circuit breaker is open"))
        .count();
    assert!((1..=6).contains(&opened), "{opened} lines:\n{logs}");
    assert!(
        logs.lines().any(|l| l.contains("ERROR")
            && l.contains("accepted without a revocation check (fail-open)")),
        "{logs}"
    );
    // No token or cookie in any log line.
    for secret in [&token, &cookie, &spare] {
        assert!(!logs.contains(secret.as_str()));
    }
}
