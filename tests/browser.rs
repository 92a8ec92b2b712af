//! The session cookie in a real browser: Debian's Chromium, driven through WebDriver
//! (chromedriver, with the `fantoccini` client), against the example server
//! `examples/axum_api.rs` on `http://localhost:PORT`.
//!
//! Cookie mistakes are silent: a browser drops a `__Host-` cookie that carries a `Domain`, a
//! cookie over 4 KiB, a `SameSite=None` cookie without `Secure`, and no one sees an error. So this
//! test asks the browser itself what it stored. It shows that Chromium
//! - stores the session cookie set by `POST /login` (issued with `fetch` from a page of the same
//!   origin) under the expected name, `HttpOnly`, `Secure`, `SameSite=Lax`, `Path=/`, host-only,
//!   and hides it from `document.cookie`;
//! - sends it back on `GET /session` (200 with the user), from `fetch` and as a page, also after
//!   a reload;
//! - forgets it after `POST /logout` (then `GET /session` is 401 and the WebDriver cookie list,
//!   which includes `HttpOnly` cookies, is empty);
//! - gets a 500 and no cookie for a session too large for the example's three cookies, and
//!   keeps the previous session cookie unchanged when that happens while logged in;
//! - stores a session of two cookies (`__Host-session.0`, `.1`), sends both back, and drops them
//!   when the session is small again;
//! - with `ITSCLASSIFIED_INSECURE_COOKIES=1`, stores a cookie named `session` without `Secure`.
//!
//! The page the `fetch` calls run in is a small test page served by this test at `/` of an origin
//! that passes every other request through to the example unchanged (see `start_front` for why
//! the example's own origin cannot hold a page before login).
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (`scripts/install_browser.sh` installs
//! them). Skip policy: with `CI=true` the test runs and FAILS when either is missing; otherwise (a
//! developer without Chromium) it prints the reason to stderr and returns early, passing.
//!
//! The server is the compiled example next to the test binary (`target/<profile>/examples/`,
//! built by `cargo test`); when it is missing the test builds it with `cargo build --example
//! axum_api --features axum,reload`. Every wait is bounded: a broken browser or server fails the test
//! within a minute instead of hanging. The server, chromedriver and Chromium are killed at the end,
//! also when the test fails (a `Drop` guard). Only loopback addresses are used.

mod example_server;

use std::future::Future;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cookie::SameSite;
use fantoccini::cookies::Cookie;
use fantoccini::{Client, ClientBuilder};
use itsclassified::SecretKey;
use serde_json::{json, Value};

/// The session cookie name the example sets by default (`Secure`, `Path=/`, no `Domain`): the
/// `__Host-` prefix, which browsers accept only from the host itself.
const SECURE_COOKIE_NAME: &str = "__Host-session";

/// The cookie name with `ITSCLASSIFIED_INSECURE_COOKIES=1` (no `Secure`, so no `__Host-` prefix).
const INSECURE_COOKIE_NAME: &str = "session";

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

use example_server::{example_binary, free_port, Guard};

/// Bounds on every wait (starting a process: `example_server::START_TIMEOUT`).
const BROWSER_START_TIMEOUT: Duration = Duration::from_secs(30);
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// The whole test, as a last resort.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn chromium_stores_sends_and_forgets_the_session_cookie() {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if !missing.is_empty() {
        let reason = format!(
            "{} missing: run scripts/install_browser.sh (as root)",
            missing.join(" and ")
        );
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true and {reason}");
        }
        // Straight to stderr: libtest captures `eprintln!` of a passing test.
        let _ = writeln!(std::io::stderr(), "SKIPPED tests/browser.rs: {reason}");
        return;
    }

    let example = example_binary();
    let mut guard = Guard::new(example);
    let started = Instant::now();
    match tokio::time::timeout(TEST_TIMEOUT, scenarios(&mut guard)).await {
        Ok(()) => {}
        Err(_) => panic!("the browser test did not finish within {TEST_TIMEOUT:?}"),
    }
    let seconds = started.elapsed().as_secs_f64();
    let _ = writeln!(
        std::io::stderr(),
        "tests/browser.rs: scenarios took {seconds:.1} s"
    );
}

async fn scenarios(guard: &mut Guard) {
    let server = start_front(start_server(guard, false)).await;
    let insecure_server = start_front(start_server(guard, true)).await;
    let driver_url = start_chromedriver(guard);
    let browser = within(
        "WebDriver session (Chromium start)",
        BROWSER_START_TIMEOUT,
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities(&guard.dir.join("profile")))
            .connect(&driver_url),
    )
    .await;

    secure_cookie(&browser, server).await;
    insecure_cookie(&browser, insecure_server).await;

    // Quits Chromium; the guard kills whatever is left.
    within(
        "closing the WebDriver session",
        COMMAND_TIMEOUT,
        browser.close(),
    )
    .await;
}

/// The example's default: a `Secure` cookie over `http://localhost` (a secure context).
async fn secure_cookie(browser: &Client, port: u16) {
    let origin = format!("http://localhost:{port}");
    goto(browser, &format!("{origin}/")).await;
    assert_eq!(
        script(browser, "return document.title;").await,
        json!(PAGE_TITLE),
        "the test page is loaded"
    );
    assert!(
        cookies(browser).await.is_empty(),
        "a fresh profile has no cookies"
    );
    let (status, _) = fetch(browser, "GET", "/session", None).await;
    assert_eq!(status, 401, "no session before login");

    // Login: the browser stores the cookie the answer sets.
    let alice = json!({ "user_id": "alice", "role": "admin" });
    let (status, body) = fetch(browser, "POST", "/login", Some(&alice)).await;
    assert_eq!(status, 200, "login");
    let token = serde_json::from_str::<Value>(&body).expect("login answers JSON")["token"].clone();
    assert!(
        token.as_str().is_some_and(|t| !t.is_empty()),
        "login answers a bearer token"
    );
    let cookie = session_cookie(browser, SECURE_COOKIE_NAME).await;
    assert_eq!(cookie.http_only(), Some(true), "HttpOnly");
    assert_eq!(cookie.secure(), Some(true), "Secure");
    assert_eq!(cookie.same_site(), Some(SameSite::Lax), "SameSite=Lax");
    assert_eq!(cookie.path(), Some("/"), "Path=/");
    // Host-only (no Domain attribute): chromedriver reports the host without a leading dot.
    assert_eq!(cookie.domain(), Some("localhost"), "host-only cookie");
    assert!(!cookie.value().is_empty(), "the cookie holds the token");
    let session_value = cookie.value().to_owned();
    let visible = script(browser, "return document.cookie;").await;
    assert_eq!(
        visible,
        json!(""),
        "HttpOnly: the page's script cannot read the cookie"
    );

    // The browser sends it back.
    let (status, body) = fetch(browser, "GET", "/session", None).await;
    assert_eq!(status, 200, "GET /session after login");
    assert_eq!(
        serde_json::from_str::<Value>(&body).ok(),
        Some(alice.clone())
    );

    // Navigations carry it too: /session as a page shows the user, also after a reload.
    goto(browser, &format!("{origin}/session")).await;
    assert_eq!(
        page_json(browser).await,
        Some(alice.clone()),
        "/session as a page"
    );
    within("reload", COMMAND_TIMEOUT, browser.refresh()).await;
    assert_eq!(
        page_json(browser).await,
        Some(alice.clone()),
        "/session reloaded"
    );
    let (status, _) = fetch(browser, "GET", "/session", None).await;
    assert_eq!(status, 200, "GET /session after a reload");
    assert!(
        session_cookie(browser, SECURE_COOKIE_NAME).await.value() == session_value,
        "the reload keeps the same cookie"
    );

    // A session too large for the example's three cookies: 500, and the browser keeps the
    // cookie it had.
    let huge = json!({ "role": "x".repeat(13_000) });
    let (status, _) = fetch(browser, "PUT", "/session", Some(&huge)).await;
    assert_eq!(status, 500, "a session over three cookies");
    assert!(
        session_cookie(browser, SECURE_COOKIE_NAME).await.value() == session_value,
        "the failed change leaves the previous cookie as it was"
    );
    let (status, body) = fetch(browser, "GET", "/session", None).await;
    assert_eq!(status, 200, "still logged in as before");
    assert_eq!(
        serde_json::from_str::<Value>(&body).ok(),
        Some(alice.clone())
    );

    // A session that takes two cookies: Chromium stores both chunks, sends them back, and
    // drops them when the session is small again.
    let role = "r".repeat(5000);
    let (status, _) = fetch(browser, "PUT", "/session", Some(&json!({ "role": role }))).await;
    assert_eq!(status, 200, "a session of two cookies");
    let mut names: Vec<String> = cookies(browser)
        .await
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            format!("{SECURE_COOKIE_NAME}.0"),
            format!("{SECURE_COOKIE_NAME}.1")
        ],
        "two chunks, the single cookie expired"
    );
    let (status, body) = fetch(browser, "GET", "/session", None).await;
    assert_eq!(status, 200, "GET /session with two chunks");
    assert_eq!(
        serde_json::from_str::<Value>(&body).ok(),
        Some(json!({ "user_id": alice["user_id"], "role": role }))
    );
    let (status, _) = fetch(
        browser,
        "PUT",
        "/session",
        Some(&json!({ "role": "admin" })),
    )
    .await;
    assert_eq!(status, 200, "back to one cookie");
    let (status, body) = fetch(browser, "GET", "/session", None).await;
    assert_eq!(status, 200, "GET /session after the chunks expired");
    assert_eq!(
        serde_json::from_str::<Value>(&body).ok(),
        Some(alice.clone())
    );
    let one = session_cookie(browser, SECURE_COOKIE_NAME).await;
    assert_ne!(
        one.value(),
        session_value,
        "a new token of the same session"
    );

    // Logout: the browser forgets the cookie.
    let (status, _) = fetch(browser, "POST", "/logout", None).await;
    assert_eq!(status, 204, "logout");
    assert!(
        cookies(browser).await.is_empty(),
        "no cookie left after logout"
    );
    let (status, _) = fetch(browser, "GET", "/session", None).await;
    assert_eq!(status, 401, "no session after logout");

    // An oversized login with no cookie before: still a 500 and no cookie.
    let big = json!({ "user_id": "x".repeat(13_000), "role": "admin" });
    let (status, _) = fetch(browser, "POST", "/login", Some(&big)).await;
    assert_eq!(status, 500, "an oversized session from scratch");
    assert!(
        cookies(browser).await.is_empty(),
        "no cookie for an oversized session"
    );

    // For contrast, a large session that fits (about 2,800 bytes of token) is stored.
    let large = json!({ "user_id": "y".repeat(2000), "role": "admin" });
    let (status, _) = fetch(browser, "POST", "/login", Some(&large)).await;
    assert_eq!(status, 200, "a large session under the cap");
    let stored = session_cookie(browser, SECURE_COOKIE_NAME).await;
    assert!(stored.value().len() > 2000, "the large cookie is stored");
    let (status, body) = fetch(browser, "GET", "/session", None).await;
    assert_eq!(status, 200, "GET /session with the large cookie");
    assert_eq!(serde_json::from_str::<Value>(&body).ok(), Some(large));
    let (status, _) = fetch(browser, "POST", "/logout", None).await;
    assert_eq!(status, 204, "logout");
    assert!(
        cookies(browser).await.is_empty(),
        "no cookie left after the second logout"
    );
}

/// `ITSCLASSIFIED_INSECURE_COOKIES=1`: no `Secure`, and the plain name.
async fn insecure_cookie(browser: &Client, port: u16) {
    goto(browser, &format!("http://localhost:{port}/")).await;
    // Cookies are not port-specific: the secure scenario must have left none behind.
    assert!(
        cookies(browser).await.is_empty(),
        "no cookie before the insecure login"
    );
    let bob = json!({ "user_id": "bob", "role": "user" });
    let (status, _) = fetch(browser, "POST", "/login", Some(&bob)).await;
    assert_eq!(status, 200, "insecure login");
    let cookie = session_cookie(browser, INSECURE_COOKIE_NAME).await;
    assert_eq!(
        cookie.secure(),
        Some(false),
        "no Secure with ITSCLASSIFIED_INSECURE_COOKIES=1"
    );
    assert_eq!(cookie.http_only(), Some(true), "HttpOnly");
    assert_eq!(cookie.same_site(), Some(SameSite::Lax), "SameSite=Lax");
    assert_eq!(cookie.path(), Some("/"), "Path=/");
    let (status, body) = fetch(browser, "GET", "/session", None).await;
    assert_eq!(status, 200, "GET /session (insecure)");
    assert_eq!(serde_json::from_str::<Value>(&body).ok(), Some(bob));
    let (status, _) = fetch(browser, "POST", "/logout", None).await;
    assert_eq!(status, 204, "insecure logout");
    assert!(
        cookies(browser).await.is_empty(),
        "no cookie left after the insecure logout"
    );
    let (status, _) = fetch(browser, "GET", "/session", None).await;
    assert_eq!(status, 401, "no session after the insecure logout");
}

/// Runs `fetch(path)` in the page (same origin, so cookies go along and `Set-Cookie` is stored)
/// and returns the status and the body text.
async fn fetch(browser: &Client, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
    const JS: &str = r#"
        const [method, path, body, done] = arguments;
        const init = { method, credentials: "same-origin" };
        if (body !== null) {
            init.headers = { "content-type": "application/json" };
            init.body = JSON.stringify(body);
        }
        fetch(path, init)
            .then(async (r) => done({ status: r.status, body: await r.text() }))
            .catch((e) => done({ error: String(e) }));
    "#;
    let args = vec![
        json!(method),
        json!(path),
        body.cloned().unwrap_or(Value::Null),
    ];
    let what = format!("fetch {method} {path}");
    let answer = within(&what, COMMAND_TIMEOUT, browser.execute_async(JS, args)).await;
    if let Some(error) = answer.get("error") {
        panic!("{what} failed in the page: {error}");
    }
    let status = answer["status"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok());
    let body = answer["body"].as_str().map(str::to_owned);
    match (status, body) {
        (Some(status), Some(body)) => (status, body),
        _ => panic!("{what}: unexpected script answer"),
    }
}

async fn goto(browser: &Client, url: &str) {
    within(
        &format!("navigating to {url}"),
        COMMAND_TIMEOUT,
        browser.goto(url),
    )
    .await;
}

/// The current page's text as JSON (Chromium shows a JSON answer as text).
async fn page_json(browser: &Client) -> Option<Value> {
    let text = script(browser, "return document.body.innerText;").await;
    serde_json::from_str(text.as_str()?).ok()
}

async fn script(browser: &Client, js: &str) -> Value {
    within("script", COMMAND_TIMEOUT, browser.execute(js, vec![])).await
}

/// Every cookie the browser holds for the current page, `HttpOnly` ones included.
async fn cookies(browser: &Client) -> Vec<Cookie<'static>> {
    within(
        "get all cookies",
        COMMAND_TIMEOUT,
        browser.get_all_cookies(),
    )
    .await
}

/// The one cookie named `name`; fails when there is none, several, or any other cookie.
async fn session_cookie(browser: &Client, name: &str) -> Cookie<'static> {
    let all = cookies(browser).await;
    let names: Vec<&str> = all.iter().map(|c| c.name()).collect();
    assert_eq!(
        names,
        [name],
        "the browser holds exactly the session cookie"
    );
    all.into_iter().next().expect("one cookie")
}

const PAGE_TITLE: &str = "itsclassified browser test";

/// Starts the origin the browser talks to, on a free loopback port: it serves a small test page at
/// `/` and passes every other request through to the example server on `upstream`, headers and
/// body unchanged (`Cookie` in, `Set-Cookie` out).
///
/// Why not the example's own origin: it serves no page, only empty-bodied answers before login
/// (401, 404, 405), and Chromium shows its own error page (`HTTP ERROR 401`, origin
/// `chrome-error://`) for a 4xx/5xx navigation with an empty body, from which a `fetch` to the
/// example fails. Cookies are per host, not per port, so the browser's cookie for `localhost` is
/// the same whichever port set it.
async fn start_front(upstream: u16) -> u16 {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("a free loopback port");
    let port = listener.local_addr().expect("bound address").port();
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(COMMAND_TIMEOUT)
        .build()
        .expect("an HTTP client");
    let page = format!(
        "<!doctype html><html><head><title>{PAGE_TITLE}</title></head>\
         <body><p>{PAGE_TITLE}</p></body></html>"
    );
    let app = axum::Router::new()
        .route(
            "/",
            axum::routing::get(move || async move { axum::response::Html(page) }),
        )
        .fallback(move |request: axum::extract::Request| pass_through(client, upstream, request));
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

/// Forwards `request` to the example server and its answer back, both unchanged but for the
/// hop-by-hop headers. Any failure is a 502 with a fixed body, which fails the test's checks.
async fn pass_through(
    client: reqwest::Client,
    upstream: u16,
    request: axum::extract::Request,
) -> axum::response::Response {
    use axum::http::header::{CONNECTION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
    use axum::response::IntoResponse as _;

    let bad_gateway = || (axum::http::StatusCode::BAD_GATEWAY, "pass-through failed");
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 64 * 1024).await else {
        return bad_gateway().into_response();
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut headers = parts.headers;
    for hop in [HOST, CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING] {
        headers.remove(hop);
    }
    let answer = client
        .request(parts.method, format!("http://127.0.0.1:{upstream}{path}"))
        .headers(headers)
        .body(body)
        .send()
        .await;
    let Ok(answer) = answer else {
        return bad_gateway().into_response();
    };
    let status = answer.status();
    let mut headers = answer.headers().clone();
    for hop in [CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING] {
        headers.remove(hop);
    }
    let Ok(body) = answer.bytes().await else {
        return bad_gateway().into_response();
    };
    (status, headers, body).into_response()
}

/// Awaits `fut` for at most `limit`; a timeout or an error fails the test.
async fn within<T, E: std::fmt::Display>(
    what: &str,
    limit: Duration,
    fut: impl Future<Output = Result<T, E>>,
) -> T {
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(value)) => value,
        Ok(Err(e)) => panic!("{what}: {e}"),
        Err(_) => panic!("{what}: no answer within {limit:?}"),
    }
}

/// Chromium as root in a container: no sandbox, no GPU, no /dev/shm, a fresh profile, and no
/// connections to outside hosts of its own (background networking, component updates, sync).
fn capabilities(profile: &Path) -> fantoccini::wd::Capabilities {
    let args = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect::<Vec<_>>();
    let timeout_ms = u64::try_from(COMMAND_TIMEOUT.as_millis()).expect("small");
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        "timeouts": { "script": timeout_ms, "pageLoad": timeout_ms, "implicit": 0 },
    });
    match capabilities {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object"),
    }
}

/// Starts the example server, secure or with `ITSCLASSIFIED_INSECURE_COOKIES=1`, with a fresh
/// key, and gives its port.
fn start_server(guard: &mut Guard, insecure: bool) -> u16 {
    let key = SecretKey::generate().to_base64();
    let mut env = vec![("ITSCLASSIFIED_KEYS", key.as_str())];
    let name = if insecure {
        env.push(("ITSCLASSIFIED_INSECURE_COOKIES", "1"));
        "axum_api-insecure"
    } else {
        "axum_api"
    };
    guard.start_example(name, &env).0
}

/// Starts chromedriver on a free loopback port and returns its URL.
fn start_chromedriver(guard: &mut Guard) -> String {
    let port = free_port();
    let mut command = Command::new(CHROMEDRIVER);
    command.arg(format!("--port={port}"));
    guard.spawn("chromedriver", command);
    guard.wait_for_port("chromedriver", port);
    format!("http://127.0.0.1:{port}")
}
