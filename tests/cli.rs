//! The `itsclassified` binary run as a process: every command, every error path, and tokens
//! crossing between the command line and the library in both directions.
//!
//! Hermetic: every run starts from an empty environment, and files are made in the temporary
//! directory under unique names.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use itsclassified::{untrusted_header, SecretKey, TimedSerializer};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_itsclassified");
const T0: u64 = 1_700_000_000;
const T0_RFC3339: &str = "2023-11-14T22:13:20Z";
const HOUR: Duration = Duration::from_secs(3600);

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Session {
    user_id: String,
    role: String,
}

fn session() -> Session {
    Session {
        user_id: "123".into(),
        role: "admin".into(),
    }
}

/// A payload with what JSON has no form for: bytes, integer map keys, a 32-bit float.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Blob {
    #[serde(with = "serde_bytes")]
    data: Vec<u8>,
    counts: BTreeMap<u32, String>,
    ratio: f32,
}

fn blob() -> Blob {
    Blob {
        data: vec![0, 1, 2, 254, 255],
        counts: BTreeMap::from([(1, "one".into()), (20, "twenty".into())]),
        ratio: 0.1,
    }
}

fn key(byte: u8) -> SecretKey {
    SecretKey::from_bytes(&[byte; 32]).unwrap()
}

/// The base64 text of `key(byte)`, as it would be in ITSCLASSIFIED_KEYS.
fn key_text(byte: u8) -> String {
    key(byte).to_base64().to_string()
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn library(byte: u8, salt: &str) -> TimedSerializer {
    TimedSerializer::new(key(byte), salt).max_age(HOUR)
}

/// One run of the binary.
struct Cli {
    cmd: Command,
    stdin: Vec<u8>,
}

#[derive(Debug)]
struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Cli {
    fn new(args: &[&str]) -> Cli {
        let mut cmd = Command::new(BIN);
        cmd.args(args).env_clear();
        Cli {
            cmd,
            stdin: Vec::new(),
        }
    }

    /// Sets ITSCLASSIFIED_KEYS.
    fn keys(self, keys: &str) -> Cli {
        self.env("ITSCLASSIFIED_KEYS", keys)
    }

    fn env(mut self, var: &str, value: &str) -> Cli {
        self.cmd.env(var, value);
        self
    }

    fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Cli {
        self.stdin = bytes.into();
        self
    }

    fn run(mut self) -> Output {
        let mut child = self
            .cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let mut pipe = child.stdin.take().unwrap();
        let input = std::mem::take(&mut self.stdin);
        // The binary may stop reading early (input too large): ignore a broken pipe.
        let writer = std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        Output {
            code: out.status.code().expect("exited, not killed by a signal"),
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        }
    }
}

impl Output {
    /// Exit 0, nothing on stderr; the stdout.
    fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "{self:?}");
        assert_eq!(self.stderr, "", "{self:?}");
        &self.stdout
    }

    /// The one-line stdout, without its newline.
    fn line(&self) -> &str {
        let out = self.ok();
        assert_eq!(out.matches('\n').count(), 1, "{self:?}");
        out.trim_end_matches('\n')
    }

    fn json(&self) -> Value {
        serde_json::from_str(self.ok()).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    /// Exit `code`, nothing on stdout, and one line on stderr: `itsclassified: <message>`;
    /// the message.
    fn fails(&self, code: i32) -> &str {
        assert_eq!(self.stdout, "", "{self:?}");
        self.error_line(code)
    }

    /// Like `fails`, for commands that print a report before failing.
    fn error_line(&self, code: i32) -> &str {
        assert_eq!(self.code, code, "{self:?}");
        assert!(self.stderr.ends_with('\n'), "{self:?}");
        assert_eq!(self.stderr.matches('\n').count(), 1, "one line: {self:?}");
        self.stderr
            .strip_prefix("itsclassified: ")
            .unwrap_or_else(|| panic!("prefixed: {self:?}"))
            .trim_end()
    }

    /// A usage error from clap: exit 2, nothing on stdout, clap's error on stderr.
    fn usage_error(&self) -> &str {
        assert_eq!(self.code, 2, "{self:?}");
        assert_eq!(self.stdout, "", "{self:?}");
        assert!(self.stderr.starts_with("error: "), "{self:?}");
        &self.stderr
    }
}

/// A file in the temporary directory under a unique name, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, contents: &str, mode: u32) -> TempFile {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "itsclassified-cli-test-{}-{}-{name}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, contents).unwrap();
        set_mode(&path, mode);
        TempFile(path)
    }

    /// A FIFO (named pipe) instead of a file.
    #[cfg(unix)]
    fn fifo(name: &str) -> TempFile {
        let file = TempFile::new(name, "", 0o600);
        std::fs::remove_file(&file.0).unwrap();
        let made = Command::new("mkfifo")
            .args(["-m", "600"])
            .arg(&file.0)
            .status()
            .unwrap();
        assert!(made.success());
        file
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) {}

/// Flips one character in the middle of a token, keeping it canonical base64url.
fn tamper(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

// ---------------------------------------------------------------------------------------------
// keygen

#[test]
fn keygen_prints_one_usable_key() {
    let out = Cli::new(&["keygen"]).run();
    let line = out.line();
    assert_eq!(line.len(), 43, "32 bytes as unpadded base64url");
    assert!(line
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    let key = SecretKey::from_base64(line).unwrap();
    // It works as ITSCLASSIFIED_KEYS.
    let token = Cli::new(&["dumps", "--salt", "s", "--json", "1"])
        .keys(line)
        .run()
        .line()
        .to_string();
    let s = TimedSerializer::new(key, "s").max_age(HOUR);
    assert_eq!(s.loads::<u8>(&token).unwrap(), 1);
}

#[test]
fn keygen_count_prints_distinct_keys() {
    for args in [&["keygen", "--count", "5"][..], &["keygen", "-n", "5"]] {
        let out = Cli::new(args).run();
        let lines: Vec<&str> = out.ok().lines().collect();
        assert_eq!(lines.len(), 5);
        let mut ids: Vec<_> = lines
            .iter()
            .map(|l| SecretKey::from_base64(l).unwrap().key_id())
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 5, "distinct keys");
        // Comma-joined they make a key ring.
        let ring = lines.join(",");
        Cli::new(&["dumps", "--salt", "s", "--json", "1"])
            .keys(&ring)
            .run()
            .line();
    }
}

#[test]
fn keygen_refuses_bad_counts() {
    for count in ["0", "1001", "-1", "x", ""] {
        let out = Cli::new(&["keygen", &format!("--count={count}")]).run();
        assert!(out.usage_error().contains("--count"), "{out:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// dumps -> library, library -> loads

#[test]
fn cli_token_loads_into_a_serde_struct() {
    let before = SystemTime::now() - Duration::from_secs(1);
    let token = Cli::new(&["dumps", "--salt", "session"])
        .keys(&key_text(1))
        .stdin(r#"{"user_id": "123", "role": "admin"}"#)
        .run()
        .line()
        .to_string();
    let loaded = library(1, "session")
        .loads_with_meta::<Session>(&token)
        .unwrap();
    assert_eq!(loaded.payload, session());
    assert!(loaded.meta.issued_at >= before && loaded.meta.issued_at <= SystemTime::now());
    assert_eq!(loaded.meta.key_id, key(1).key_id());
    // Not under another salt.
    assert!(library(1, "other").loads::<Session>(&token).is_err());
}

#[test]
fn dumps_issued_at_accepts_rfc3339_and_unix_seconds() {
    for issued_at in [T0_RFC3339, "1700000000", "2023-11-14T23:13:20+01:00"] {
        let token = Cli::new(&[
            "dumps",
            "--salt",
            "session",
            "--issued-at",
            issued_at,
            "--json",
            r#"{"role": "admin", "user_id": "123"}"#,
        ])
        .keys(&key_text(1))
        .run()
        .line()
        .to_string();
        let s = library(1, "session");
        let loaded = s
            .loads_with_meta_at::<Session>(&token, at(T0 + 10))
            .unwrap();
        assert_eq!(loaded.payload, session(), "field order does not matter");
        assert_eq!(loaded.meta.issued_at, at(T0), "{issued_at}");
    }
}

#[test]
fn library_token_loads_in_the_cli() {
    let token = library(1, "session").dumps_at(&session(), at(T0)).unwrap();
    let out = Cli::new(&[
        "loads",
        "--salt",
        "session",
        "--max-age",
        "1h",
        "--now",
        &(T0 + 90).to_string(),
        &token,
    ])
    .keys(&key_text(1))
    .run();
    assert_eq!(out.json(), serde_json::to_value(session()).unwrap());
    assert_eq!(
        out.stdout, "{\n  \"user_id\": \"123\",\n  \"role\": \"admin\"\n}\n",
        "pretty, in the struct's field order"
    );
}

#[test]
fn object_members_keep_their_order_both_ways() {
    let token = Cli::new(&[
        "dumps",
        "--salt",
        "s",
        "--json",
        r#"{"z": 1, "a": {"y": 2, "b": 3}}"#,
    ])
    .keys(&key_text(1))
    .run()
    .line()
    .to_string();
    let out = Cli::new(&["loads", "--salt", "s", "--max-age", "1h", &token])
        .keys(&key_text(1))
        .run();
    assert_eq!(
        out.ok(),
        "{\n  \"z\": 1,\n  \"a\": {\n    \"y\": 2,\n    \"b\": 3\n  }\n}\n"
    );
}

#[test]
fn loads_reads_stdin_and_trims_the_newline() {
    let token = library(1, "session").dumps_at(&session(), at(T0)).unwrap();
    for input in [
        format!("{token}\n"),
        format!("{token}\r\n"),
        format!("  {token} \n\n"),
        token.clone(),
    ] {
        for args in [&["loads"][..], &["loads", "-"]] {
            let mut args = args.to_vec();
            args.extend(["--salt", "session", "--max-age", "1h", "--now", T0_RFC3339]);
            let out = Cli::new(&args)
                .keys(&key_text(1))
                .stdin(input.clone())
                .run();
            assert_eq!(out.json(), json!({"user_id": "123", "role": "admin"}));
        }
    }
}

#[test]
fn loads_meta_reports_the_verified_metadata() {
    // Key 1 is a fallback of the ring "2,1".
    let token = library(1, "session").dumps_at(&session(), at(T0)).unwrap();
    let out = Cli::new(&[
        "loads",
        "--salt",
        "session",
        "--max-age",
        "1h",
        "--meta",
        "--now",
        &(T0 + 90).to_string(),
    ])
    .keys(&format!("{},{}", key_text(2), key_text(1)))
    .stdin(token.clone())
    .run();
    let token_id = library(1, "session")
        .loads_with_meta_at::<Session>(&token, at(T0))
        .unwrap()
        .meta
        .token_id
        .to_string();
    assert_eq!(token_id.len(), 22);
    // expires_at is issued_at + max_age + the leeway (60 s by default).
    assert_eq!(
        out.json(),
        json!({
            "payload": {"user_id": "123", "role": "admin"},
            "meta": {
                "issued_at": T0_RFC3339,
                "issued_at_unix": T0,
                "age_seconds": 90,
                "key_id": key(1).key_id().to_string(),
                "key_index": 1,
                "primary": false,
                "token_id": token_id,
                "expires_at": "2023-11-14T23:14:20Z",
                "expires_at_unix": T0 + 3600 + 60,
            }
        })
    );
}

#[test]
fn loads_meta_has_no_expiry_without_a_max_age() {
    let token = library(1, "s").dumps_at(&1, at(T0)).unwrap();
    let out = Cli::new(&["loads", "--salt", "s", "--no-expiry", "--meta", &token])
        .keys(&key_text(1))
        .run();
    let meta = &out.json()["meta"];
    assert_eq!(meta["expires_at"], Value::Null, "{meta}");
    assert_eq!(meta["expires_at_unix"], Value::Null, "{meta}");
    assert_eq!(meta["issued_at_unix"], json!(T0), "{meta}");
}

#[test]
fn loads_no_expiry_accepts_old_tokens() {
    let token = library(1, "api").dumps_at(&"k", at(T0)).unwrap();
    let out = Cli::new(&["loads", "--salt", "api", "--no-expiry", &token])
        .keys(&key_text(1))
        .run();
    assert_eq!(out.json(), json!("k"));
}

#[test]
fn bytes_and_integer_keys_have_a_lossless_json_form() {
    let token = library(1, "blob").dumps(&blob()).unwrap();
    let out = Cli::new(&["loads", "--salt", "blob", "--max-age", "1h", &token])
        .keys(&key_text(1))
        .run();
    let shown = out.json();
    assert_eq!(
        shown,
        json!({
            "data": {"$bin": "AAEC/v8="},
            "counts": {"$map": [[1, "one"], [20, "twenty"]]},
            "ratio": f64::from(0.1f32),
        })
    );
    // What loads prints, dumps reads back into the same struct.
    let again = Cli::new(&["dumps", "--salt", "blob"])
        .keys(&key_text(1))
        .stdin(out.stdout.clone())
        .run()
        .line()
        .to_string();
    assert_eq!(library(1, "blob").loads::<Blob>(&again).unwrap(), blob());
}

#[test]
fn nan_tag_like_keys_and_repeated_keys_have_a_json_form() {
    let value = rmpv::Value::Array(vec![
        rmpv::Value::F64(f64::NAN),
        rmpv::Value::F64(f64::NEG_INFINITY),
        rmpv::Value::Map(vec![("$bin".into(), "not bytes".into())]),
        rmpv::Value::Map(vec![("$ext".into(), 1.into())]),
    ]);
    let token = library(1, "x").dumps(&value).unwrap();
    let out = Cli::new(&["loads", "--salt", "x", "--max-age", "1h", &token])
        .keys(&key_text(1))
        .run();
    assert_eq!(
        out.json(),
        json!([
            {"$float": "NaN"},
            {"$float": "-Infinity"},
            {"$map": [["$bin", "not bytes"]]},
            {"$map": [["$ext", 1]]},
        ])
    );
    let again = Cli::new(&["dumps", "--salt", "x"])
        .keys(&key_text(1))
        .stdin(out.stdout.clone())
        .run()
        .line()
        .to_string();
    let back: rmpv::Value = library(1, "x").loads(&again).unwrap();
    let encode = |v: &rmpv::Value| {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, v).unwrap();
        out
    };
    assert_eq!(encode(&back), encode(&value), "the same MessagePack");
}

#[test]
#[cfg(feature = "hazmat")]
fn loads_shows_a_map_with_a_key_twice_and_dumps_refuses_it_back() {
    // SPEC.md 3.4: a decoder may deliver a map with two equal keys; 3.1: no encoder writes one
    // (the library's dumps refuses it too: sealed here as raw bytes).
    let value = rmpv::Value::Map(vec![("k".into(), 1.into()), ("k".into(), 2.into())]);
    let mut plaintext = Vec::new();
    rmpv::encode::write_value(&mut plaintext, &value).unwrap();
    assert!(library(1, "x").dumps(&value).is_err());
    let now = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token =
        itsclassified::hazmat::seal_bytes_with_nonce(&library(1, "x"), &plaintext, [5; 24], now)
            .unwrap();
    let out = Cli::new(&["loads", "--salt", "x", "--max-age", "1h", &token])
        .keys(&key_text(1))
        .run();
    assert_eq!(out.json(), json!({"$map": [["k", 1], ["k", 2]]}));
    let out = Cli::new(&["dumps", "--salt", "x"])
        .keys(&key_text(1))
        .stdin(out.stdout.clone())
        .run();
    assert_eq!(
        out.fails(2),
        "payload JSON: $map: a map has the same key twice, and a token's map keys must be distinct (SPEC.md 3.1)"
    );
}

#[test]
fn dumps_refuses_what_spec_forbids_in_a_payload() {
    let cases = [
        (
            r#"{"$ext": {"type": 5, "data": "AQI="}}"#,
            "payload JSON: $ext: a token's payload cannot hold an ext value (SPEC.md 3.1)",
        ),
        (
            r#"{"user": {"born": {"$ext": {"type": -1, "data": "AAAAAA=="}}}}"#,
            "payload JSON: $ext: a token's payload cannot hold an ext value (SPEC.md 3.1)",
        ),
        (
            r#"{"$map": [[1, "a"], [2, "b"], [1, "c"]]}"#,
            "payload JSON: $map: a map has the same key twice, and a token's map keys must be distinct (SPEC.md 3.1)",
        ),
        (
            r#"[{"$map": [["k", 1], ["k", 1]]}]"#,
            "payload JSON: $map: a map has the same key twice, and a token's map keys must be distinct (SPEC.md 3.1)",
        ),
        (
            "18446744073709551616",
            "payload JSON: an integer is beyond 64 bits (a payload holds integers from -9223372036854775808 to 18446744073709551615, SPEC.md 3.1)",
        ),
        (
            r#"{"id": -9223372036854775809}"#,
            "payload JSON: an integer is beyond 64 bits (a payload holds integers from -9223372036854775808 to 18446744073709551615, SPEC.md 3.1)",
        ),
        (
            "[1, 123456789012345678901234567890]",
            "payload JSON: an integer is beyond 64 bits (a payload holds integers from -9223372036854775808 to 18446744073709551615, SPEC.md 3.1)",
        ),
    ];
    for (input, expected) in cases {
        let json = format!("--json={input}");
        let out = Cli::new(&["dumps", "--salt", "s", &json])
            .keys(&key_text(1))
            .run();
        assert_eq!(out.fails(2), expected, "{input}");
    }
}

#[test]
fn dumps_decides_integer_or_float_by_the_text() {
    let cases: [(&str, rmpv::Value); 6] = [
        ("18446744073709551615", rmpv::Value::from(u64::MAX)),
        ("-9223372036854775808", rmpv::Value::from(i64::MIN)),
        ("-0", rmpv::Value::from(0)),
        ("-0.0", rmpv::Value::F64(-0.0)),
        ("1.0", rmpv::Value::F64(1.0)),
        ("1e2", rmpv::Value::F64(100.0)),
    ];
    for (input, expected) in cases {
        let json = format!("--json={input}");
        let token = Cli::new(&["dumps", "--salt", "s", &json])
            .keys(&key_text(1))
            .run()
            .line()
            .to_string();
        let loaded: rmpv::Value = library(1, "s").loads(&token).unwrap();
        let encode = |v: &rmpv::Value| {
            let mut out = Vec::new();
            rmpv::encode::write_value(&mut out, v).unwrap();
            out
        };
        assert_eq!(encode(&loaded), encode(&expected), "{input}");
    }
}

/// The test vectors of SPEC.md 8.
fn vectors() -> Value {
    serde_json::from_str(include_str!("vectors/v1.json")).unwrap()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// `loads` run as a vector says: its ring, salt, clock, max age, leeway and maximum length.
fn loads_vector(vector: &Value, extra: &[&str]) -> Option<Output> {
    let salt = String::from_utf8(unhex(vector["salt_hex"].as_str().unwrap())).ok()?;
    let mut ring = vec![vector["secret_hex"].as_str().unwrap().to_string()];
    if let Some(more) = vector["fallback_secrets_hex"].as_array() {
        ring.extend(more.iter().map(|s| s.as_str().unwrap().to_string()));
    }
    let keys: Vec<String> = ring
        .iter()
        .map(|hex| {
            SecretKey::from_bytes(&unhex(hex))
                .unwrap()
                .to_base64()
                .to_string()
        })
        .collect();
    let mut args: Vec<String> = vec!["loads".into(), "--salt".into(), salt];
    args.push(format!("--now={}", vector["now"]));
    match vector["max_age"].as_u64() {
        Some(max_age) => args.push(format!("--max-age={max_age}s")),
        None => args.push("--no-expiry".into()),
    }
    if let Some(leeway) = vector["leeway"].as_u64() {
        args.push(format!("--leeway={leeway}s"));
    }
    if let Some(max) = vector["max_token_len"].as_u64() {
        args.push(format!("--max-token-len={max}"));
    }
    args.extend(extra.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let token = vector["token"].as_str().unwrap();
    Some(Cli::new(&args).keys(&keys.join(",")).stdin(token).run())
}

#[test]
fn loads_agrees_with_every_decode_vector_payload_and_metadata() {
    let vectors = vectors();
    for vector in vectors["decode"].as_array().unwrap() {
        let name = vector["name"].as_str().unwrap();
        let out = loads_vector(vector, &["--meta"]).expect("a text salt");
        let meta = &vector["meta"];
        let Some(payload) = vector.get("payload_json") else {
            // Nested deeper than this test's JSON reader goes (128): the metadata by its text.
            let text = out.ok();
            for field in [
                format!("\"token_id\": {}", meta["token_id"]),
                format!("\"issued_at_unix\": {}", meta["issued_at"]),
                format!("\"age_seconds\": {}", meta["age"]),
            ] {
                assert!(text.contains(&field), "{name}: {field}");
            }
            continue;
        };
        let shown = out.json();
        assert_eq!(&shown["payload"], payload, "{name}");
        let m = &shown["meta"];
        assert_eq!(m["issued_at_unix"], meta["issued_at"], "{name}");
        assert_eq!(m["age_seconds"], meta["age"], "{name}");
        assert_eq!(m["key_id"], meta["key_id"], "{name}");
        assert_eq!(m["key_index"], meta["key_index"], "{name}");
        assert_eq!(m["token_id"], meta["token_id"], "{name}");
        assert_eq!(m["expires_at_unix"], meta["expires_at"], "{name}");
    }
}

#[test]
fn loads_refuses_every_invalid_vector_with_the_exit_code_of_its_kind() {
    let vectors = vectors();
    let mut checked = 0;
    for vector in vectors["invalid"].as_array().unwrap() {
        let name = vector["name"].as_str().unwrap();
        let token = vector["token"].as_str().unwrap();
        // The documented conveniences (SPEC.md Appendix A): loads reads any value, so a type
        // mismatch (or a missing field) cannot happen; an empty token is a usage error; whitespace around a token
        // is trimmed.
        if name == "wrong-type"
            || name == "missing-field"
            || token.is_empty()
            || token.trim() != token
        {
            continue;
        }
        let expected = match vector["error"].as_str().unwrap() {
            "TooLong" | "Malformed" | "UnsupportedVersion" | "Invalid" | "Payload" => 3,
            "IssuedInFuture" | "Expired" => 4,
            "UnknownKey" => 5,
            other => panic!("{name}: unknown kind {other}"),
        };
        let Some(out) = loads_vector(vector, &[]) else {
            continue;
        };
        assert_eq!(out.code, expected, "{name}: {out:?}");
        assert_eq!(out.stdout, "", "{name}");
        checked += 1;
    }
    assert!(checked >= 49, "{checked}");
}

#[test]
fn loads_delivers_no_ext_value_and_no_str_that_is_not_utf8() {
    let vectors = vectors();
    for name in ["ext-in-field", "invalid-utf8-in-str"] {
        let vector = vectors["invalid"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap();
        let out = loads_vector(vector, &[]).unwrap();
        assert_eq!(
            out.fails(3),
            "token payload does not match the expected type: the authentic payload holds an ext value or a str that is not UTF-8, which no payload may (SPEC.md 3.4)",
            "{name}"
        );
    }
    // Bytes (bin) are delivered, as $bin: only a str must be UTF-8.
    let token = library(1, "b")
        .dumps(&serde_bytes::ByteBuf::from(vec![0xff, 0xfe]))
        .unwrap();
    let out = Cli::new(&["loads", "--salt", "b", "--no-expiry", &token])
        .keys(&key_text(1))
        .run();
    assert_eq!(out.json(), json!({"$bin": "//4="}));
}

#[test]
fn dumps_makes_the_deepest_payloads_spec_allows_and_refuses_deeper_ones() {
    let vectors = vectors();
    let encode_vector = |name: &str| {
        vectors["encode"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap()
            .clone()
    };
    let dumps = |json: String| {
        Cli::new(&["dumps", "--salt", "s"])
            .keys(&key_text(1))
            .stdin(json)
            .run()
    };
    let plaintext = |token: &str| {
        let value: rmpv::Value = library(1, "s").loads(token).unwrap();
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, &value).unwrap();
        out
    };
    // 129 arrays, the innermost empty (depth 128): past serde_json's own limit of 128.
    let deepest = format!("{}{}", "[".repeat(129), "]".repeat(129));
    let out = dumps(deepest);
    let vector = encode_vector("depth-129-arrays-innermost-empty");
    assert_eq!(
        plaintext(out.line()),
        unhex(vector["payload_msgpack_hex"].as_str().unwrap())
    );
    // 128 maps around a scalar, the form loads prints, read back.
    let mut maps = "1".to_string();
    for _ in 0..128 {
        maps = format!("{{\"k\": {maps}}}");
    }
    let token = dumps(maps.clone()).line().to_string();
    let printed = Cli::new(&["loads", "--salt", "s", "--no-expiry", &token])
        .keys(&key_text(1))
        .run()
        .ok()
        .to_string();
    assert_eq!(plaintext(dumps(printed).line()), plaintext(&token));
    // One level more is TooDeep (SPEC.md 3.3 and 5), as the encode vectors say; far deeper
    // JSON is refused before it is parsed.
    let too_deep = "value is nested deeper than a token payload may be";
    for (name, json) in [
        (
            "depth-129-arrays-around-scalar",
            format!("{}1{}", "[".repeat(129), "]".repeat(129)),
        ),
        ("depth-129-maps-around-scalar", format!("{{\"k\": {maps}}}")),
    ] {
        assert_eq!(encode_vector(name)["error"], "TooDeep");
        assert_eq!(dumps(json).fails(1), too_deep, "{name}");
    }
    assert_eq!(dumps("[".repeat(1_000_000)).fails(1), too_deep);
    assert_eq!(dumps("{\"a\":".repeat(100_000)).fails(1), too_deep);
}

#[test]
fn max_token_len_zero_refuses_every_token_and_larger_values_clamp_to_65536() {
    let token = library(1, "session").dumps(&session()).unwrap();
    let out = loads_at(&token, &key_text(1), &["--max-token-len", "0"]);
    assert_eq!(
        out.fails(3),
        format!(
            "token exceeds the maximum token length ({} > 0 bytes, see --max-token-len)",
            token.len()
        )
    );
    let out = Cli::new(&[
        "dumps",
        "--salt",
        "s",
        "--json",
        "1",
        "--max-token-len",
        "0",
    ])
    .keys(&key_text(1))
    .run();
    assert_eq!(
        out.fails(1),
        "payload is too large: its token would be longer than 0 bytes (--max-token-len)"
    );
    // 100000 acts as 65536: a token of 65537 characters is too long, one of 65536 is not (it
    // decodes to a version byte 0), as the vectors maximum-clamped-* say.
    for (len, expected) in [
        (
            65_537,
            "token exceeds the maximum token length (65537 > 65536 bytes, see --max-token-len)",
        ),
        (65_536, "token version is not supported"),
    ] {
        let out = loads_at(
            &"A".repeat(len),
            &key_text(1),
            &["--max-token-len", "100000"],
        );
        assert_eq!(out.fails(3), expected);
    }
    let big = serde_json::to_string(&"x".repeat(60_000)).unwrap();
    for max in ["65537", "100000", "99999999999999999999999"] {
        let out = Cli::new(&["dumps", "--salt", "s", "--max-token-len", max])
            .keys(&key_text(1))
            .stdin(big.clone())
            .run();
        assert_eq!(
            out.fails(1),
            "payload is too large: its token would be longer than 65536 bytes (--max-token-len)"
        );
    }
}

#[test]
fn times_are_any_unix_seconds_not_only_dates_up_to_the_year_9999() {
    // 10^14 s is in the year 3170843; a date cannot show it, Unix seconds can.
    let far = 100_000_000_000_000u64;
    let token = Cli::new(&[
        "dumps",
        "--salt",
        "s",
        "--json",
        "1",
        "--issued-at",
        &far.to_string(),
    ])
    .keys(&key_text(1))
    .run()
    .line()
    .to_string();
    assert_eq!(
        untrusted_header(&token).unwrap().untrusted_issued_at_unix(),
        far
    );
    let out = Cli::new(&[
        "loads",
        "--salt",
        "s",
        "--max-age",
        "1h",
        "--meta",
        "--now",
        &(far + 10).to_string(),
        &token,
    ])
    .keys(&key_text(1))
    .run();
    let shown = out.json();
    assert_eq!(shown["meta"]["issued_at"], Value::Null, "no date shows it");
    assert_eq!(shown["meta"]["issued_at_unix"], json!(far));
    assert_eq!(shown["meta"]["age_seconds"], json!(10));
    assert_eq!(shown["meta"]["expires_at_unix"], json!(far + 3660));
    // Dates still parse as before.
    let out = Cli::new(&[
        "dumps",
        "--salt",
        "s",
        "--json",
        "1",
        "--issued-at",
        T0_RFC3339,
    ])
    .keys(&key_text(1))
    .run();
    let token = out.line();
    assert_eq!(
        untrusted_header(token).unwrap().untrusted_issued_at_unix(),
        T0
    );
}

// ---------------------------------------------------------------------------------------------
// keys

#[cfg(unix)]
#[test]
fn keys_file_with_comments_and_blank_lines() {
    let file = TempFile::new(
        "keys",
        &format!(
            "# itsclassified keys, primary first\n\n{}\n   # the previous key, until 2024-06\n{}\n",
            key_text(2),
            key_text(1)
        ),
        0o600,
    );
    // dumps uses the primary (key 2).
    let token = Cli::new(&[
        "dumps",
        "--salt",
        "s",
        "--keys-file",
        file.path(),
        "--json",
        "7",
    ])
    .run()
    .line()
    .to_string();
    assert_eq!(library(2, "s").loads::<u8>(&token).unwrap(), 7);
    // A token of the fallback key (key 1) still loads, without any warning (mode 600).
    let old = library(1, "s").dumps(&8u8).unwrap();
    let out = Cli::new(&[
        "loads",
        "--salt",
        "s",
        "--max-age",
        "1h",
        "--keys-file",
        file.path(),
        &old,
    ])
    .keys("ignored when --keys-file is given")
    .run();
    assert_eq!(out.json(), json!(8));
}

#[cfg(unix)]
#[test]
fn group_readable_keys_file_gets_a_warning() {
    for mode in [0o640, 0o604, 0o660] {
        let file = TempFile::new("exposed-keys", &format!("{}\n", key_text(1)), mode);
        let out = Cli::new(&[
            "dumps",
            "--salt",
            "s",
            "--keys-file",
            file.path(),
            "--json",
            "1",
        ])
        .run();
        assert_eq!(out.code, 0, "{out:?}");
        let token = out.stdout.trim_end();
        assert_eq!(library(1, "s").loads::<u8>(token).unwrap(), 1);
        assert_eq!(
            out.stderr,
            format!(
                "itsclassified: warning: key file {path} is accessible by group or others (mode {mode:03o}); make it private: chmod 600 {path}\n",
                path = file.path()
            )
        );
        assert!(!out.stderr.contains(&key_text(1)));
    }
}

#[cfg(unix)]
#[test]
fn the_warning_withholds_a_key_file_path_that_may_hold_a_key() {
    // A file named after a key (a key pasted into the file name by mistake): its path is not
    // echoed by the permission warning.
    let name = key_text(9);
    let file = TempFile::new(&name, &format!("{}\n", key_text(1)), 0o644);
    let out = Cli::new(&[
        "dumps",
        "--salt",
        "s",
        "--keys-file",
        file.path(),
        "--json",
        "1",
    ])
    .run();
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.stderr,
        "itsclassified: warning: the key file given (its path not shown: it may hold a key) is accessible by group or others (mode 644); make it private with chmod 600\n"
    );
    assert!(!out.stderr.contains(&name));
}

#[test]
fn keys_env_names_another_variable() {
    let token = Cli::new(&[
        "dumps",
        "--salt",
        "s",
        "--keys-env",
        "APP_KEYS",
        "--json",
        "2",
    ])
    .env("APP_KEYS", &key_text(3))
    .keys(&key_text(1))
    .run()
    .line()
    .to_string();
    assert_eq!(library(3, "s").loads::<u8>(&token).unwrap(), 2);
}

#[test]
fn missing_key_variable_is_a_key_error() {
    let cases: [&[&str]; 4] = [
        &["dumps", "--salt", "s", "--json", "1"],
        &["loads", "--salt", "s", "--max-age", "1h", "x"],
        &["reissue", "--salt", "s", "--max-age", "1h", "x"],
        &[
            "dumps",
            "--salt",
            "s",
            "--json",
            "1",
            "--keys-env",
            "APP_KEYS",
        ],
    ];
    for args in cases {
        let out = Cli::new(args).run();
        let message = out.fails(6);
        let var = if args.contains(&"APP_KEYS") {
            "APP_KEYS"
        } else {
            "ITSCLASSIFIED_KEYS"
        };
        assert!(
            message.starts_with(&format!("environment variable {var} is not set")),
            "{message}"
        );
        assert!(message.contains("--keys-file"), "{message}");
    }
}

#[test]
fn empty_key_variable_is_a_key_error() {
    let out = Cli::new(&["dumps", "--salt", "s", "--json", "1"])
        .keys(" , ")
        .run();
    assert_eq!(
        out.fails(6),
        "environment variable ITSCLASSIFIED_KEYS: no secret key was given"
    );
}

#[test]
fn short_key_is_named_but_never_shown() {
    let short = URL_SAFE_NO_PAD.encode([7u8; 16]);
    for (keys, entry) in [(short.clone(), 1), (format!("{},{short}", key_text(1)), 2)] {
        let out = Cli::new(&["dumps", "--salt", "s", "--json", "1"])
            .keys(&keys)
            .run();
        assert_eq!(
            out.fails(6),
            format!(
                "environment variable ITSCLASSIFIED_KEYS, key {entry}: secret key is too short: need at least 32 bytes, got 16"
            )
        );
        assert!(!out.stderr.contains(&short));
    }
}

#[test]
fn key_that_is_not_base64_is_named_but_never_shown() {
    let out = Cli::new(&["loads", "--salt", "s", "--max-age", "1h", "x"])
        .keys("hunter2hunter2hunter2hunter2hunter2hunter2!!")
        .run();
    assert_eq!(
        out.fails(6),
        "environment variable ITSCLASSIFIED_KEYS, key 1: secret key is not valid base64"
    );
    assert!(!out.stderr.contains("hunter2"));
}

#[test]
fn same_key_twice_is_a_key_error() {
    let out = Cli::new(&["dumps", "--salt", "s", "--json", "1"])
        .keys(&format!("{},{}", key_text(1), key_text(1)))
        .run();
    let message = out.fails(6);
    assert!(
        message
            .starts_with("environment variable ITSCLASSIFIED_KEYS: two keys have the same key id"),
        "{message}"
    );
}

#[test]
fn unreadable_key_file_is_a_key_error() {
    let path = std::env::temp_dir().join(format!(
        "itsclassified-cli-test-{}-does-not-exist",
        std::process::id()
    ));
    let path = path.to_str().unwrap();
    let out = Cli::new(&["dumps", "--salt", "s", "--json", "1", "--keys-file", path]).run();
    let message = out.fails(6);
    assert!(
        message.starts_with(&format!("cannot read key file {path}: ")),
        "{message}"
    );
}

#[test]
fn bad_key_in_a_file_is_named_by_line() {
    let short = URL_SAFE_NO_PAD.encode([7u8; 8]);
    let file = TempFile::new(
        "bad-keys",
        &format!("# comment\n{}\n{short}\n", key_text(1)),
        0o600,
    );
    let out = Cli::new(&[
        "dumps",
        "--salt",
        "s",
        "--json",
        "1",
        "--keys-file",
        file.path(),
    ])
    .run();
    assert_eq!(
        out.fails(6),
        format!(
            "key file {}, line 3: secret key is too short: need at least 32 bytes, got 8",
            file.path()
        )
    );
}

/// Every shape a key (or a list of keys) pasted in the wrong place has been seen in, the key
/// given in both base64 alphabets (a URL-safe key from `keygen`, a standard one with `+`, `/`
/// and padding as `openssl rand -base64 32` prints) and in hex.
fn pasted_key_shapes() -> Vec<(String, Vec<String>)> {
    let url = key_text(9);
    let std = base64::engine::general_purpose::STANDARD.encode([0xfb; 32]);
    assert!(
        std.contains('+') && std.contains('/') && std.ends_with('='),
        "{std}"
    );
    let std = std.replacen("+", "Ab", 1);
    // A hex secret, as `openssl rand -hex 32` prints (which from_base64 would take as base64).
    let hex: String = (0..32u8)
        .map(|i| format!("{:02x}", i.wrapping_mul(37) ^ 0xa5))
        .collect();
    let mut shapes = Vec::new();
    for (key, other) in [(&url, &std), (&std, &url), (&hex, &url)] {
        let secrets = vec![key.clone(), other.clone()];
        for text in [
            key.clone(),
            format!("{key},{other}"),
            format!("{key}, {other}"),
            format!("ITSCLASSIFIED_KEYS={key}"),
            format!("{key},"),
            format!("'{key}'"),
            format!("./{key}"),
        ] {
            shapes.push((text, secrets.clone()));
        }
    }
    shapes
}

/// Asserts that no secret appears in either output stream.
fn echoes_none(out: &Output, secrets: &[String]) {
    for secret in secrets {
        let stripped = secret.trim_end_matches('=');
        assert!(!out.stderr.contains(stripped), "{out:?}");
        assert!(!out.stdout.contains(stripped), "{out:?}");
    }
}

#[test]
fn a_key_given_where_a_name_or_path_belongs_is_not_echoed_whatever_its_shape() {
    for (text, secrets) in pasted_key_shapes() {
        let out = Cli::new(&["dumps", "--salt", "s", "--json", "1", "--keys-env", &text]).run();
        let message = out.fails(6);
        assert!(message.contains("may hold a key (not shown)"), "{message}");
        echoes_none(&out, &secrets);
        let out = Cli::new(&["dumps", "--salt", "s", "--json", "1", "--keys-file", &text]).run();
        let message = out.fails(6);
        assert!(message.contains("may hold a key (not shown)"), "{message}");
        echoes_none(&out, &secrets);
        // inspect names where the keys would come from, without loading them.
        let token = library(1, "s").dumps(&1).unwrap();
        let out = Cli::new(&["inspect", "--keys-env", &text, &token]).run();
        assert!(
            out.ok().contains("the environment variable given"),
            "{out:?}"
        );
        echoes_none(&out, &secrets);
    }
}

#[test]
fn a_key_pasted_as_an_argument_is_not_echoed_by_usage_errors() {
    for (text, secrets) in pasted_key_shapes() {
        let unknown_flag = format!("--keys={text}");
        let dashed = format!("--{text}");
        let cases: [&[&str]; 6] = [
            &["keygen", &text],
            &["dumps", "--salt", "s", "--json", "1", &text],
            &["dumps", "--salt", "s", "--json", "1", &unknown_flag],
            &["dumps", "--salt", "s", "--json", "1", &dashed],
            &[&text],
            &["loads", "--salt", "s", "--max-age", &text, "x"],
        ];
        for args in cases {
            let out = Cli::new(args).run();
            out.usage_error();
            echoes_none(&out, &secrets);
        }
    }
}

#[test]
fn a_key_given_where_the_token_belongs_is_not_echoed() {
    for (text, secrets) in pasted_key_shapes() {
        let out = Cli::new(&["loads", "--salt", "s", "--no-expiry", &text])
            .keys(&key_text(1))
            .run();
        assert_eq!(out.fails(3), "token is malformed");
        echoes_none(&out, &secrets);
    }
}

#[cfg(unix)]
#[test]
fn a_key_file_that_is_a_fifo_without_a_writer_fails_within_a_second() {
    let fifo = TempFile::fifo("no-writer");
    let started = std::time::Instant::now();
    let out = Cli::new(&[
        "dumps",
        "--salt",
        "s",
        "--json",
        "1",
        "--keys-file",
        fifo.path(),
    ])
    .run();
    let took = started.elapsed();
    assert_eq!(
        out.fails(6),
        format!(
            "key file {} is a FIFO or pipe that no process writes to",
            fifo.path()
        )
    );
    assert!(took < Duration::from_secs(1), "{took:?}");
}

/// Opens a FIFO for writing once a reader has it open, giving up after 5 seconds (a blocking
/// open would hang the test for ever if the reader never came).
#[cfg(unix)]
fn open_fifo_writer(path: &Path) -> std::fs::File {
    use std::os::unix::fs::OpenOptionsExt as _;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
        {
            Ok(file) => return file,
            // ENXIO: no reader yet.
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                assert!(std::time::Instant::now() < deadline, "no reader came");
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[cfg(unix)]
#[test]
fn a_key_file_that_is_a_fifo_with_a_writer_is_read() {
    let fifo = TempFile::fifo("writer");
    let path = fifo.0.clone();
    let keys = format!("# written into a FIFO\n{}\n", key_text(1));
    // The writer opens once the reader has, then writes in two parts, a pause between.
    let writer = std::thread::spawn(move || {
        let mut file = open_fifo_writer(&path);
        file.write_all(&keys.as_bytes()[..5]).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        file.write_all(&keys.as_bytes()[5..]).unwrap();
    });
    let out = Cli::new(&[
        "dumps",
        "--salt",
        "s",
        "--json",
        "7",
        "--keys-file",
        fifo.path(),
    ])
    .run();
    writer.join().unwrap();
    let token = out.line();
    assert_eq!(library(1, "s").loads::<u8>(token).unwrap(), 7);
}

#[test]
fn keys_env_and_keys_file_conflict() {
    let out = Cli::new(&[
        "dumps",
        "--salt",
        "s",
        "--json",
        "1",
        "--keys-env",
        "A",
        "--keys-file",
        "/nonexistent",
    ])
    .run();
    assert!(out.usage_error().contains("cannot be used with"), "{out:?}");
}

// ---------------------------------------------------------------------------------------------
// refused tokens

fn loads_at(token: &str, keys: &str, extra: &[&str]) -> Output {
    let mut args = vec!["loads", "--salt", "session", "--max-age", "1h"];
    args.extend(extra);
    Cli::new(&args).keys(keys).stdin(token).run()
}

#[test]
fn tampered_token_is_invalid_and_never_echoed() {
    let token = library(1, "session").dumps(&session()).unwrap();
    let bad = tamper(&token);
    let out = loads_at(&bad, &key_text(1), &[]);
    let message = out.fails(3);
    assert!(message.starts_with("token is invalid"), "{message}");
    assert!(!out.stderr.contains(&bad[10..30]));
}

#[test]
fn token_for_another_salt_is_invalid() {
    let token = library(1, "password-reset")
        .dumps(&"a@example.com")
        .unwrap();
    let message = loads_at(&token, &key_text(1), &[]).fails(3).to_string();
    assert!(message.contains("another salt"), "{message}");
}

#[test]
fn malformed_input_is_invalid() {
    let token = library(1, "session").dumps(&session()).unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"hello".to_vec(), "token is malformed"),
        (token.as_bytes()[..40].to_vec(), "token is malformed"),
        (format!("{token}=").into_bytes(), "token is malformed"),
        (
            format!("{} {}", &token[..50], &token[50..]).into_bytes(),
            "token is malformed",
        ),
        (
            vec![0xff, 0xfe, 0x00, 0x80],
            "token is malformed (not UTF-8 text)",
        ),
        (
            vec![b'A'; 100 * 1024],
            "token on standard input is longer than the longest token accepted (65536 bytes)",
        ),
        (
            vec![b'A'; 9000],
            "token exceeds the maximum token length (9000 > 8192 bytes, see --max-token-len)",
        ),
    ];
    for (input, expected) in cases {
        let out = Cli::new(&["loads", "--salt", "session", "--max-age", "1h"])
            .keys(&key_text(1))
            .stdin(input)
            .run();
        assert_eq!(out.fails(3), expected);
    }
}

#[test]
fn max_token_len_is_enforced() {
    let token = library(1, "session").dumps(&session()).unwrap();
    let out = loads_at(&token, &key_text(1), &["--max-token-len", "100"]);
    assert_eq!(
        out.fails(3),
        format!(
            "token exceeds the maximum token length ({} > 100 bytes, see --max-token-len)",
            token.len()
        )
    );
}

#[test]
fn unsupported_version_is_invalid() {
    let token = library(1, "session").dumps(&session()).unwrap();
    let mut raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
    raw[0] = 2;
    let v2 = URL_SAFE_NO_PAD.encode(&raw);
    assert_eq!(
        loads_at(&v2, &key_text(1), &[]).fails(3),
        "token version is not supported"
    );
    let out = Cli::new(&["inspect", &v2]).run();
    assert_eq!(
        out.fails(3),
        "token version is not supported (this release reads version 1)"
    );
}

#[test]
fn expiry_is_checked_against_now() {
    let token = library(1, "session").dumps_at(&session(), at(T0)).unwrap();
    let keys = key_text(1);
    // Exactly max_age old still loads; one second more does not.
    let out = loads_at(&token, &keys, &["--now", &(T0 + 3600).to_string()]);
    assert_eq!(out.json(), json!({"user_id": "123", "role": "admin"}));
    let out = loads_at(&token, &keys, &["--now", &(T0 + 3601).to_string()]);
    assert_eq!(
        out.fails(4),
        format!("token has expired: issued at {T0_RFC3339}, 1h 1s old, max age 1h")
    );
    // RFC 3339 with an offset: 01:13:21+02:00 is 23:13:21Z, T0 + 1h 1s.
    let out = loads_at(&token, &keys, &["--now", "2023-11-15T01:13:21+02:00"]);
    assert_eq!(out.code, 4, "{out:?}");
    let out = loads_at(&token, &keys, &["--now", "2023-11-15T01:13:20+02:00"]);
    assert_eq!(out.code, 0, "{out:?}");
}

#[test]
fn tokens_from_the_future_are_refused_beyond_the_leeway() {
    let token = library(1, "session").dumps_at(&session(), at(T0)).unwrap();
    let keys = key_text(1);
    // The default leeway is 60 s.
    let out = loads_at(&token, &keys, &["--now", &(T0 - 60).to_string()]);
    assert_eq!(out.json(), json!({"user_id": "123", "role": "admin"}));
    let out = loads_at(&token, &keys, &["--now", &(T0 - 61).to_string()]);
    assert_eq!(
        out.fails(4),
        format!(
            "token was issued in the future: issued at {T0_RFC3339}, 1m 1s ahead of now, more than the leeway of 1m"
        )
    );
    let out = loads_at(
        &token,
        &keys,
        &["--now", &(T0 - 1).to_string(), "--leeway", "0s"],
    );
    assert_eq!(out.code, 4, "{out:?}");
    let out = loads_at(
        &token,
        &keys,
        &["--now", &(T0 - 600).to_string(), "--leeway", "10m"],
    );
    assert_eq!(out.code, 0, "{out:?}");
}

#[test]
fn unknown_key_names_both_key_ids() {
    let token = library(1, "session").dumps(&session()).unwrap();
    let keys = format!("{},{}", key_text(2), key_text(3));
    let out = loads_at(&token, &keys, &[]);
    assert_eq!(
        out.fails(5),
        format!(
            "token was issued under a key that is not accepted: the token names key id {}, the keys given have {} (primary), {}",
            key(1).key_id(),
            key(2).key_id(),
            key(3).key_id()
        )
    );
}

// ---------------------------------------------------------------------------------------------
// bad arguments and input

#[test]
fn bad_durations_are_usage_errors() {
    for bad in [
        "",
        "10",
        "1.5h",
        "-1s",
        "1h30m",
        "5w",
        "99999999999999999999d",
        "213503982334602d",
    ] {
        for flag in ["--max-age", "--leeway"] {
            let value = format!("{flag}={bad}");
            let mut args = vec!["loads", "--salt", "s", &value, "x"];
            if flag != "--max-age" {
                args.push("--no-expiry");
            }
            let out = Cli::new(&args).keys(&key_text(1)).run();
            let err = out.usage_error();
            assert!(err.contains(flag), "{bad}: {err}");
            assert!(
                err.contains("expected a whole number and a unit")
                    || err.contains("duration is too large"),
                "{bad}: {err}"
            );
        }
    }
}

#[test]
fn bad_times_are_usage_errors() {
    let token = library(1, "session").dumps(&session()).unwrap();
    for bad in [
        "yesterday",
        "2024-05-01",
        "2024-05-01T12:00:00",
        "1969-12-31T23:59:59Z",
        "-5",
        "18446744073709551616",
        "99999999999999999999999",
        "10000-01-01T00:00:00Z",
    ] {
        let now = format!("--now={bad}");
        let out = Cli::new(&[
            "loads",
            "--salt",
            "session",
            "--max-age",
            "1h",
            &now,
            &token,
        ])
        .keys(&key_text(1))
        .run();
        assert!(out.usage_error().contains("--now"), "{out:?}");
        let issued_at = format!("--issued-at={bad}");
        let out = Cli::new(&["dumps", "--salt", "s", &issued_at, "--json", "1"])
            .keys(&key_text(1))
            .run();
        assert!(out.usage_error().contains("--issued-at"), "{out:?}");
    }
}

#[test]
fn bad_json_is_a_usage_error() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            b"{not json".to_vec(),
            "payload is not valid JSON: key must be a string at line 1 column 2",
        ),
        (
            b"{} {}".to_vec(),
            "payload is not valid JSON: trailing characters at line 1 column 4",
        ),
        (
            b"".to_vec(),
            "no JSON given: pass it on standard input or with --json TEXT",
        ),
        (
            b" \n ".to_vec(),
            "no JSON given: pass it on standard input or with --json TEXT",
        ),
        (
            b"[1,]".to_vec(),
            "payload is not valid JSON: trailing comma at line 1 column 4",
        ),
        (
            vec![b'"', 0xff, b'"'],
            "JSON on standard input is not UTF-8 text",
        ),
        (
            vec![b' '; 1024 * 1024 + 1],
            "JSON on standard input is larger than 1048576 bytes",
        ),
        (
            br#"{"$bin": "***"}"#.to_vec(),
            "payload JSON: $bin: expected a base64 string (standard alphabet, padded)",
        ),
        (
            br#"{"user_id": "1", "role": "a", "user_id": "2"}"#.to_vec(),
            "payload JSON: an object has the same member name twice (write a map with repeated keys as {\"$map\": [[key, value], ...]})",
        ),
        (
            br#"[{"$map": [[1]]}]"#.to_vec(),
            "payload JSON: $map: expected a list of [key, value] pairs",
        ),
        (
            "[".repeat(200).into_bytes(),
            "payload is not valid JSON: EOF while parsing a list at line 1 column 200",
        ),
    ];
    for (input, expected) in cases {
        let out = Cli::new(&["dumps", "--salt", "s"])
            .keys(&key_text(1))
            .stdin(input)
            .run();
        assert_eq!(out.fails(2), expected);
    }
    let out = Cli::new(&["dumps", "--salt", "s", "--json", "nope"])
        .keys(&key_text(1))
        .run();
    assert_eq!(
        out.fails(2),
        "payload is not valid JSON: expected ident at line 1 column 2"
    );
}

#[test]
fn payload_too_large_for_a_token() {
    let big = serde_json::to_string(&"x".repeat(10_000)).unwrap();
    let out = Cli::new(&["dumps", "--salt", "s"])
        .keys(&key_text(1))
        .stdin(big.clone())
        .run();
    assert_eq!(
        out.fails(1),
        "payload is too large: its token would be longer than 8192 bytes (--max-token-len)"
    );
    let token = Cli::new(&["dumps", "--salt", "s", "--max-token-len", "65536"])
        .keys(&key_text(1))
        .stdin(big)
        .run()
        .line()
        .to_string();
    let s = TimedSerializer::new(key(1), "s")
        .max_age(HOUR)
        .max_token_len(65536);
    assert_eq!(s.loads::<String>(&token).unwrap().len(), 10_000);
}

#[test]
fn no_token_is_a_usage_error() {
    for input in ["", " \n\t\r\n"] {
        let out = Cli::new(&["loads", "--salt", "s", "--max-age", "1h"])
            .keys(&key_text(1))
            .stdin(input)
            .run();
        assert_eq!(
            out.fails(2),
            "no token given: pass it as an argument or on standard input"
        );
    }
}

#[test]
fn clap_usage_errors_exit_2() {
    // No command: the help, on stderr.
    let out = Cli::new(&[]).run();
    assert_eq!((out.code, out.stdout.as_str()), (2, ""), "{out:?}");
    assert!(
        out.stderr.contains("Usage: itsclassified <COMMAND>"),
        "{out:?}"
    );
    let cases: [&[&str]; 7] = [
        &["frobnicate"],
        &["dumps", "--salt", "s", "--json", "1", "--keys-env", ""],
        &["loads", "x", "--max-age", "1h"],
        &["loads", "--salt", "s", "x"],
        &[
            "loads",
            "--salt",
            "s",
            "--max-age",
            "1h",
            "--no-expiry",
            "x",
        ],
        &["inspect", "--max-age", "1h", "x"],
        &["dumps", "--salt", "s", "--max-token-len", "-1"],
    ];
    for args in cases {
        Cli::new(args).keys(&key_text(1)).run().usage_error();
    }
}

#[test]
fn help_documents_exit_codes_and_the_json_form() {
    let out = Cli::new(&["--help"]).run();
    let help = out.ok();
    for line in [
        "  0  success",
        "  2  usage error",
        "  3  token invalid",
        "  4  token expired",
        "  5  token made under a key id",
        "  6  key problem",
        "{\"$bin\": \"<base64",
        "{\"$map\": [[<key>, <value>], ...]}",
        "ITSCLASSIFIED_KEYS",
    ] {
        assert!(help.contains(line), "{line}");
    }
    // Exit 3 covers every refusal it is used for, the payload included.
    assert!(help.contains("altered,\n     forged, made for another salt, or its authentic payload"));
    let help = Cli::new(&["loads", "--help"]).run();
    assert!(help.ok().contains("`dumps` refuses {\"$ext\": ...}"));
    assert!(help.ok().contains("  5  token made under a key id"));
}

// ---------------------------------------------------------------------------------------------
// inspect

#[test]
fn inspect_without_keys_reads_the_header_only() {
    let token = library(1, "session").dumps_at(&session(), at(T0)).unwrap();
    let out = Cli::new(&["inspect", "--now", &(T0 + 5400).to_string(), &token]).run();
    assert_eq!(
        out.ok(),
        format!(
            "UNVERIFIED header (read without a key: anyone can write these fields)\n\
             version:    1\n\
             key id:     {}\n\
             issued at:  {T0_RFC3339}\n\
             age:        1h 30m\n\
             verified:   not checked: to verify, set environment variable ITSCLASSIFIED_KEYS (or pass --keys-file PATH) and pass --salt SALT\n",
            key(1).key_id()
        )
    );
    // The same from standard input, with keys set but no salt.
    let out = Cli::new(&["inspect", "--now", &(T0 - 30).to_string()])
        .keys(&key_text(1))
        .stdin(format!("{token}\n"))
        .run();
    let report = out.ok();
    assert!(
        report.contains("\nage:        in the future by 30s\n"),
        "{report}"
    );
    assert!(
        report.ends_with("verified:   not checked: pass --salt SALT to verify with the keys from environment variable ITSCLASSIFIED_KEYS\n"),
        "{report}"
    );
}

#[test]
fn inspect_shows_far_future_issued_at_without_failing() {
    let header = untrusted_header(&library(1, "s").dumps(&1u8).unwrap()).unwrap();
    assert_eq!(header.untrusted_version(), 1);
    // A forged header claiming issued-at u64::MAX: the fields are read, nothing is trusted.
    let token = library(1, "s").dumps(&1u8).unwrap();
    let mut raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
    raw[5..13].copy_from_slice(&u64::MAX.to_be_bytes());
    let forged = URL_SAFE_NO_PAD.encode(&raw);
    let out = Cli::new(&["inspect", "--now", T0_RFC3339, &forged]).run();
    let report = out.ok();
    assert!(
        report.contains("issued at:  Unix time 18446744073709551615 (too far in the future to show as a date)\n"),
        "{report}"
    );
    assert!(report.contains("age:        in the future by "), "{report}");
    // And verifying it fails: the header is authenticated.
    let out = Cli::new(&["inspect", "--salt", "s", &forged])
        .keys(&key_text(1))
        .run();
    assert!(out.error_line(3).starts_with("token is invalid"), "{out:?}");
    assert!(
        out.stdout.contains("\nverified:   NO: token is invalid"),
        "{out:?}"
    );
}

#[test]
fn inspect_verifies_and_names_the_key() {
    let ring = format!("{},{}", key_text(2), key_text(1));
    let now = (T0 + 60).to_string();
    // Made under the primary key.
    let token = library(2, "session").dumps_at(&session(), at(T0)).unwrap();
    let out = Cli::new(&[
        "inspect",
        "--salt",
        "session",
        "--max-age",
        "1h",
        "--now",
        &now,
        &token,
    ])
    .keys(&ring)
    .run();
    assert!(
        out.ok().ends_with(&format!(
            "age:        1m\n\
             verified:   yes, authentic for this salt, opened by the primary key {}\n\
             expiry:     not expired (max age 1h)\n",
            key(2).key_id()
        )),
        "{out:?}"
    );
    // Made under the fallback key, no --max-age.
    let token = library(1, "session").dumps_at(&session(), at(T0)).unwrap();
    let out = Cli::new(&["inspect", "--salt", "session", "--now", &now, &token])
        .keys(&ring)
        .run();
    assert!(
        out.ok().ends_with(&format!(
            "verified:   yes, authentic for this salt, opened by fallback key 1 ({}), not the primary key {}: `itsclassified reissue` re-seals it under the primary key\n\
             expiry:     age not checked (pass --max-age to check it)\n",
            key(1).key_id(),
            key(2).key_id()
        )),
        "{out:?}"
    );
}

#[test]
fn inspect_says_why_a_token_is_refused() {
    let token = library(1, "session").dumps_at(&session(), at(T0)).unwrap();
    let late = (T0 + 7200).to_string();
    let cases: Vec<(String, Vec<&str>, i32, String)> = vec![
        (
            key_text(1),
            vec!["--salt", "other"],
            3,
            "token is invalid: altered".to_string(),
        ),
        (
            key_text(1),
            vec!["--salt", "session", "--max-age", "1h", "--now", &late],
            4,
            format!("token has expired: issued at {T0_RFC3339}, 2h old, max age 1h"),
        ),
        (
            key_text(2),
            vec!["--salt", "session"],
            5,
            "token was issued under a key that is not accepted".to_string(),
        ),
    ];
    for (keys, flags, code, expected) in cases {
        let mut args = vec!["inspect"];
        args.extend(flags);
        let out = Cli::new(&args).keys(&keys).stdin(token.clone()).run();
        let message = out.error_line(code).to_string();
        assert!(message.starts_with(&expected), "{message}");
        // The header is still shown, and the verdict.
        assert!(out.stdout.starts_with("UNVERIFIED header"), "{out:?}");
        assert!(
            out.stdout
                .contains(&format!("key id:     {}\n", key(1).key_id())),
            "{out:?}"
        );
        assert!(
            out.stdout
                .ends_with(&format!("verified:   NO: {message}\n")),
            "{out:?}"
        );
    }
}

#[test]
fn inspect_with_salt_but_no_keys_is_a_key_error() {
    let token = library(1, "session").dumps(&session()).unwrap();
    let out = Cli::new(&["inspect", "--salt", "session", &token]).run();
    let message = out.error_line(6);
    assert!(
        message.starts_with("environment variable ITSCLASSIFIED_KEYS is not set"),
        "{message}"
    );
    assert!(out.stdout.starts_with("UNVERIFIED header"), "{out:?}");
    assert!(
        out.stdout
            .ends_with("verified:   not checked: the keys could not be loaded\n"),
        "{out:?}"
    );
}

#[test]
fn inspect_refuses_garbage() {
    for input in ["hello", "", "AAAA"] {
        let out = Cli::new(&["inspect"]).stdin(input).run();
        let code = if input.is_empty() { 2 } else { 3 };
        out.fails(code);
    }
}

// ---------------------------------------------------------------------------------------------
// reissue

#[test]
fn reissue_moves_a_token_to_the_primary_key() {
    let ring = format!("{},{}", key_text(2), key_text(1));
    let token = library(1, "session").dumps_at(&session(), at(T0)).unwrap();
    let out = Cli::new(&[
        "reissue",
        "--salt",
        "session",
        "--max-age",
        "1d",
        "--now",
        &(T0 + 60).to_string(),
    ])
    .keys(&ring)
    .stdin(format!("{token}\n"))
    .run();
    let fresh = out.line();
    assert_ne!(fresh, token);
    let s = TimedSerializer::with_keys([key(2), key(1)], "session")
        .unwrap()
        .max_age(Duration::from_secs(86_400));
    let loaded = s.loads_with_meta_at::<Session>(fresh, at(T0 + 60)).unwrap();
    assert_eq!(loaded.payload, session());
    assert_eq!(loaded.meta.issued_at, at(T0), "same issued-at");
    assert!(loaded.meta.is_primary());
    assert_eq!(loaded.meta.key_id, key(2).key_id());
    // The primary alone now loads it.
    assert_eq!(
        TimedSerializer::new(key(2), "session")
            .no_expiry()
            .loads::<Session>(fresh)
            .unwrap(),
        session()
    );
}

#[test]
fn reissue_refuses_what_loads_refuses() {
    let token = library(1, "session").dumps_at(&session(), at(T0)).unwrap();
    let late = (T0 + 3601).to_string();
    let cases: [(&str, &str, &[&str], i32); 4] = [
        ("session", "1", &["--now", &late], 4),
        ("session", "2", &[], 5),
        ("other", "1", &[], 3),
        ("session", "1", &["--max-token-len", "50"], 3),
    ];
    for (salt, key_byte, extra, code) in cases {
        let mut args = vec!["reissue", "--salt", salt, "--max-age", "1h"];
        args.extend(extra);
        let keys = key_text(key_byte.parse().unwrap());
        let out = Cli::new(&args).keys(&keys).stdin(token.clone()).run();
        out.fails(code);
    }
}
