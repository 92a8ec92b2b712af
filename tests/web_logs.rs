//! Logs give the cause of a refusal and never a token. A test binary of its own: tracing's
//! thread-local subscriber can miss events while other tests' threads register the same
//! callsites, so this test runs alone.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use support::*;

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
        let cookie = flip_middle(&app.seal(&alice()));
        for auth in [&tampered, &expired] {
            let response = get_me(&app, &[format!("Bearer {auth}").as_bytes()]).await;
            assert_eq!(response.status(), 401);
        }
        assert_eq!(get_me(&app, &[b"Basic c2VjcmV0"]).await.status(), 401);
        assert_eq!(get_me(&app, &[b"Bearer a b"]).await.status(), 400);
        let response = get_session_with(&app, &app.pair(&cookie)).await;
        assert_eq!(response.status(), 401);
        let big = User {
            user_id: "alice".into(),
            role: "x".repeat(3500),
        };
        let response = post_session(&app, &big).await;
        assert_eq!(response.status(), 500);
        vec![token, tampered, expired, cookie, "c2VjcmV0".into()]
    });

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    for expected in [
        "DEBUG itsclassified::web::bearer: bearer token refused error=token is invalid",
        "DEBUG itsclassified::web::bearer: bearer token refused error=token has expired",
        "DEBUG itsclassified::web::bearer: no bearer token: the Authorization header uses another scheme",
        "DEBUG itsclassified::web::bearer: bearer token refused: Authorization header is not `Bearer <token>`",
        "DEBUG itsclassified::session::state: session cookie refused error=token is invalid",
        "ERROR itsclassified::web::session::layer: session cookie not written; the response is replaced by a 500 error=the session is too large for the session policy's max_chunks cookies",
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
