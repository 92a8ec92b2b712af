//! A real `redis-server` on a free loopback port, started by the test or benchmark that needs
//! it (no persistence) and killed on drop. Shared by tests/revocation.rs and
//! benches/revocation.rs.
//!
//! Skip policy: with `CI=true`, a missing `redis-server` is a failure (`scripts/install_redis.sh`
//! installs it); otherwise the reason is printed and the caller skips.

// Each user of this module uses part of it.
#![allow(dead_code)]

use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` of this process on a free loopback port, killed on drop.
pub struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// Starts one for `what` (a test's or benchmark's name), or returns `None` (with the reason
    /// printed) when `redis-server` is missing and CI is not set. Panics under `CI=true` when it
    /// is missing.
    pub fn start(what: &str) -> Option<RedisServer> {
        let found = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            let reason = "redis-server is not installed (run scripts/install_redis.sh)";
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true and {reason}");
            }
            // Straight to stderr, past the test harness's capture, so that the skip is seen.
            let _ = writeln!(std::io::stderr(), "SKIPPED {what}: {reason}");
            return None;
        }
        // A free port: bound by the OS, released, then given to redis-server. Another process
        // could take it in between; the readiness check below would then fail loudly.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = RedisServer { child, port };
        // Ready when it accepts a connection: at most 5 s.
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }

    /// The URL to connect to it.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Sends `signal` (`STOP`, `CONT`, ...) to the server process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Kills the server now (dropping it does the same).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
