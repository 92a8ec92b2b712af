//! The `axum_api` example as an operator runs it: keys from `ITSCLASSIFIED_KEYS_FILE`, rotated
//! in three phases by editing the file and sending SIGHUP, without a restart.

mod example_server;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use example_server::{example_binary, Guard};
use itsclassified::{untrusted_header, KeyId, SecretKey};
use serde_json::{json, Value};

/// How long a reload may take to show (it is one signal and one file read).
const RELOAD_TIMEOUT: Duration = Duration::from_secs(10);

fn key(n: u8) -> SecretKey {
    SecretKey::from_bytes(&[n; 32]).unwrap()
}

fn write_keys(path: &Path, keys: &[u8]) {
    let text: Vec<String> = keys
        .iter()
        .map(|&n| key(n).to_base64().to_string())
        .collect();
    std::fs::write(path, format!("# primary first\n{}\n", text.join("\n"))).unwrap();
}

fn hangup(pid: u32) {
    let status = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

struct Api {
    base: String,
    client: reqwest::Client,
}

impl Api {
    /// A bearer token from `POST /login`.
    async fn login(&self) -> String {
        let response = self
            .client
            .post(format!("{}/login", self.base))
            .json(&json!({ "user_id": "123", "role": "admin" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["token"].as_str().unwrap().to_owned()
    }

    /// The status of `GET /me` with the token.
    async fn me(&self, token: &str) -> u16 {
        self.client
            .get(format!("{}/me", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Logs in until the token is made under `primary` (the reload has happened), at most
    /// RELOAD_TIMEOUT.
    async fn wait_for_primary(&self, primary: KeyId) -> String {
        let deadline = Instant::now() + RELOAD_TIMEOUT;
        loop {
            let token = self.login().await;
            if untrusted_header(&token).unwrap().untrusted_key_id() == primary {
                return token;
            }
            assert!(
                Instant::now() < deadline,
                "no reload within {RELOAD_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `GET /me` with the token answers `status`, at most RELOAD_TIMEOUT.
    async fn wait_for_status(&self, token: &str, status: u16) {
        let deadline = Instant::now() + RELOAD_TIMEOUT;
        while self.me(token).await != status {
            assert!(
                Instant::now() < deadline,
                "not {status} within {RELOAD_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn sighup_reloads_the_key_file_through_a_three_phase_rotation() {
    let mut guard = Guard::new(example_binary());
    let file = guard.dir.join("keys.txt");
    write_keys(&file, &[1]);
    let (port, pid) = guard.start_example(
        "axum_api-keys-file",
        &[("ITSCLASSIFIED_KEYS_FILE", file.to_str().unwrap())],
    );
    let api = Api {
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::new(),
    };
    let before = api.login().await;
    assert_eq!(
        untrusted_header(&before).unwrap().untrusted_key_id(),
        key(1).key_id()
    );
    assert_eq!(api.me(&before).await, 200);

    // Phase 1: key 2 as a fallback. Tokens are still made under key 1.
    write_keys(&file, &[1, 2]);
    hangup(pid);
    // Phase 2: key 2 primary; tokens of key 1 still load.
    write_keys(&file, &[2, 1]);
    hangup(pid);
    let after = api.wait_for_primary(key(2).key_id()).await;
    assert_eq!(api.me(&after).await, 200);
    assert_eq!(api.me(&before).await, 200);

    // A file that does not load (a typo) leaves the keys in force.
    std::fs::write(&file, "not a key\n").unwrap();
    hangup(pid);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(api.me(&after).await, 200);
    assert_eq!(api.me(&before).await, 200);

    // Phase 3: key 1 removed. Its tokens stop loading right after the reload.
    write_keys(&file, &[2]);
    hangup(pid);
    api.wait_for_status(&before, 401).await;
    assert_eq!(api.me(&after).await, 200);
    let log = std::fs::read_to_string(guard.dir.join("axum_api-keys-file.log")).unwrap();
    assert!(
        log.contains("SIGHUP: keys not reloaded, the keys in force stay"),
        "{log}"
    );
    assert!(log.contains("SIGHUP: keys reloaded"), "{log}");
    // The log names key ids, never keys.
    for n in [1, 2] {
        assert!(!log.contains(key(n).to_base64().as_str()));
    }
}

#[tokio::test]
async fn logout_revokes_what_was_presented_and_logout_all_every_token_of_the_user() {
    let mut guard = Guard::new(example_binary());
    let key = key(7).to_base64();
    // Plain HTTP cookies, so that the cookie can be replayed by hand below.
    let (port, _) = guard.start_example(
        "axum_api-logout",
        &[
            ("ITSCLASSIFIED_KEYS", key.as_str()),
            ("ITSCLASSIFIED_INSECURE_COOKIES", "1"),
        ],
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let login = |user: &'static str| {
        let (client, url) = (client.clone(), format!("{base}/login"));
        async move {
            let response = client
                .post(url)
                .json(&json!({ "user_id": user, "role": "admin" }))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let cookie = response.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .to_owned();
            let cookie = cookie.split(';').next().unwrap().to_owned();
            let body: Value = response.json().await.unwrap();
            (body["token"].as_str().unwrap().to_owned(), cookie)
        }
    };
    let status = |path: &'static str, token: Option<String>, cookie: Option<String>| {
        let mut request = client.get(format!("{base}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let post = |path: &'static str, token: Option<String>, cookie: Option<String>| {
        let mut request = client.post(format!("{base}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };

    // Logout with both credentials: saved copies of both are refused afterwards.
    let (token, cookie) = login("alice").await;
    let (other_token, other_cookie) = login("alice").await;
    assert_eq!(status("/me", Some(token.clone()), None).await, 200);
    assert_eq!(status("/session", None, Some(cookie.clone())).await, 200);
    assert_eq!(
        post("/logout", Some(token.clone()), Some(cookie.clone())).await,
        204
    );
    assert_eq!(status("/me", Some(token), None).await, 401);
    assert_eq!(status("/session", None, Some(cookie)).await, 401);
    // Alice's other login is untouched by a plain logout ...
    assert_eq!(status("/me", Some(other_token.clone()), None).await, 200);
    assert_eq!(
        status("/session", None, Some(other_cookie.clone())).await,
        200
    );

    // ... but not by logout-all, which leaves other users alone.
    let (bob_token, bob_cookie) = login("bob").await;
    let (third_token, _) = login("alice").await;
    assert_eq!(
        post("/logout-all", Some(third_token.clone()), None).await,
        204
    );
    assert_eq!(status("/me", Some(other_token), None).await, 401);
    assert_eq!(status("/me", Some(third_token), None).await, 401);
    assert_eq!(status("/session", None, Some(other_cookie)).await, 401);
    assert_eq!(status("/me", Some(bob_token), None).await, 200);
    assert_eq!(status("/session", None, Some(bob_cookie)).await, 200);
    // A login right after logout-all works: its token and session come after the cutoff.
    let (fresh_token, fresh_cookie) = login("alice").await;
    assert_eq!(status("/me", Some(fresh_token), None).await, 200);
    assert_eq!(status("/session", None, Some(fresh_cookie)).await, 200);
    // Without credentials there is nothing to log out.
    assert_eq!(post("/logout-all", None, None).await, 401);
}

#[tokio::test]
async fn a_key_file_that_blocks_never_freezes_the_server() {
    let mut guard = Guard::new(example_binary());
    let file = guard.dir.join("keys.txt");
    write_keys(&file, &[1]);
    let (port, pid) = guard.start_example(
        "axum_api-fifo",
        &[("ITSCLASSIFIED_KEYS_FILE", file.to_str().unwrap())],
    );
    let api = Api {
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::new(),
    };
    let token = api.login().await;
    // The key file becomes a FIFO that nobody writes: opening it blocks for ever.
    std::fs::remove_file(&file).unwrap();
    let status = Command::new("mkfifo").arg(&file).status().unwrap();
    assert!(status.success());
    hangup(pid);
    // The server answers at once while the read hangs, and again after a second SIGHUP.
    for _ in 0..2 {
        for _ in 0..5 {
            let started = Instant::now();
            assert_eq!(api.me(&token).await, 200);
            assert!(started.elapsed() < Duration::from_secs(1));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        hangup(pid);
    }
    // The keys in force stay: the token still loads, and a new login works.
    assert_eq!(api.me(&api.login().await).await, 200);
    let log_file = guard.dir.join("axum_api-fifo.log");
    let deadline = Instant::now() + RELOAD_TIMEOUT;
    loop {
        let log = std::fs::read_to_string(&log_file).unwrap();
        if log.contains("SIGHUP: keys not reloaded, the keys in force stay") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no log line about the stuck read:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
