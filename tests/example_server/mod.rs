//! The compiled `axum_api` example as a real server for tests: found next to the test binary
//! (or built), started on a free loopback port with the environment a test gives it, and
//! killed (its whole process group) when the guard drops, also when a test fails.

#![allow(dead_code)] // each test binary uses a part

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Bounds on every wait.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Building the example when `cargo test` did not (e.g. `cargo test --test browser`).
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(600);

/// The processes this test started and its temporary directory. Dropping it (also while a
/// failed assertion unwinds) kills the processes and removes the directory; on failure it first
/// prints the tails of their logs.
pub struct Guard {
    pub example: PathBuf,
    pub dir: PathBuf,
    children: Vec<(&'static str, Child)>,
}

impl Guard {
    pub fn new(example: PathBuf) -> Guard {
        // Tests of one binary run in parallel in one process: the process id and a counter
        // name the directory (the clock's nanoseconds did, and two tests started in the same
        // tick shared a directory that the first to finish removed).
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "itsclassified-example-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(dir.join("profile")).expect("temporary directory");
        Guard {
            example,
            dir,
            children: Vec::new(),
        }
    }

    /// Starts `command` in a process group of its own (so that its children can be killed with
    /// it), with its output in `<dir>/<name>.log`.
    pub fn spawn(&mut self, name: &'static str, mut command: Command) {
        let log = File::create(self.dir.join(format!("{name}.log"))).expect("log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        self.children.push((name, child));
    }

    /// Starts the example on a free loopback port with `env` (and `ITSCLASSIFIED_*` variables
    /// of the test's own environment removed), waits until it accepts connections, and gives
    /// the port and the process id.
    ///
    /// Ready means its own log says it listens on the port: a port that was free a moment ago
    /// can be taken by another test's server in between, and connecting to it would then
    /// reach that one. The example then exits (the port is in use) and is started again on
    /// another port, three times at most.
    pub fn start_example(&mut self, name: &'static str, env: &[(&str, &str)]) -> (u16, u32) {
        for _ in 0..3 {
            let port = free_port();
            let mut command = Command::new(&self.example);
            command.env("PORT", port.to_string());
            for var in [
                "ITSCLASSIFIED_KEYS",
                "ITSCLASSIFIED_KEYS_FILE",
                "ITSCLASSIFIED_INSECURE_COOKIES",
                "REDIS_URL",
            ] {
                command.env_remove(var);
            }
            command.envs(env.iter().copied());
            self.spawn(name, command);
            let listening = format!("listening on http://127.0.0.1:{port}");
            let log = self.dir.join(format!("{name}.log"));
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                if std::fs::read_to_string(&log).is_ok_and(|l| l.contains(&listening)) {
                    let pid = self.children.last().expect("just started").1.id();
                    return (port, pid);
                }
                let (_, child) = self.children.last_mut().expect("a started process");
                if let Ok(Some(_)) = child.try_wait() {
                    break; // the port was taken: again, on another one
                }
                assert!(
                    Instant::now() < deadline,
                    "{name} not listening on {port} within {START_TIMEOUT:?}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            self.children.pop();
        }
        panic!("{name} exited before listening, three times");
    }

    /// Waits (at most `START_TIMEOUT`) until the last started process listens on `port`.
    pub fn wait_for_port(&mut self, name: &str, port: u16) {
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            let (_, child) = self.children.last_mut().expect("a started process");
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{name} exited before listening: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "{name} not listening on {addr} within {START_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let failed = std::thread::panicking();
        for (name, child) in self.children.iter_mut().rev() {
            // The whole process group: chromedriver's Chromium processes go with it.
            let group = format!("-{}", child.id());
            let _ = Command::new("kill")
                .args(["-KILL", "--", &group])
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            let _ = child.wait();
            if failed {
                let log = std::fs::read_to_string(self.dir.join(format!("{name}.log")))
                    .unwrap_or_default();
                let lines: Vec<&str> = log.lines().collect();
                let tail = &lines[lines.len().saturating_sub(30)..];
                eprintln!("--- last lines of {name}'s output ---\n{}", tail.join("\n"));
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port that was free a moment ago (the OS picks it; the race with other processes is
/// small and only fails the start).
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// The compiled `axum_api` example, next to this test binary; built when missing.
pub fn example_binary() -> PathBuf {
    // This binary is target/<profile>/deps/browser-<hash>.
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let binary = profile_dir.join("examples").join("axum_api");
    if binary.exists() {
        return binary;
    }
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args([
            "build",
            "--example",
            "axum_api",
            "--features",
            "axum,reload",
        ])
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"));
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cargo.arg("--release");
    }
    let mut build = cargo.spawn().expect("cargo runs");
    let deadline = Instant::now() + BUILD_TIMEOUT;
    let status = loop {
        if let Some(status) = build.try_wait().expect("cargo build status") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = build.kill();
            let _ = build.wait();
            panic!("cargo build --example axum_api did not finish within {BUILD_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "cargo build --example axum_api failed");
    assert!(binary.exists(), "{} after the build", binary.display());
    binary
}
