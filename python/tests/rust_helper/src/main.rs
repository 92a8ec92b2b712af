//! Test helper for `python/tests/test_crosslang.py`: what the Rust side writes and reads for
//! the README's `Session` struct and for other serde values.
//!
//! - `msgpack`: prints a JSON object of named hex strings, each `rmp_serde::to_vec_named` of a
//!   fixed Rust value (the Python test builds the equivalent Python value and compares bytes).
//! - `dumps-session SALT USER_ID ROLE`: prints the token of `Session { user_id, role }`.
//! - `loads-session SALT MAX_AGE_SECS`: reads a token on standard input, loads it into
//!   `Session` and prints it as JSON; on failure prints the error on stderr and exits 1.
//!
//! Keys come from `ITSCLASSIFIED_KEYS` (comma-separated base64, primary first), as for the CLI.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

use itsclassified::{SecretKey, TimedSerializer};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Session {
    user_id: String,
    role: String,
}

#[derive(Serialize)]
struct Inner {
    k: Vec<Vec<u8>>,
    o: Option<String>,
}

#[derive(Serialize)]
struct All {
    s: String,
    neg: i64,
    big: u64,
    small: u8,
    minus: i8,
    f: f64,
    t: bool,
    none: Option<u8>,
    bytes: serde_bytes::ByteBuf,
    list: Vec<i32>,
    nested: Inner,
    tuple: (u16, String),
    unit: (),
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn msgpack() -> BTreeMap<&'static str, String> {
    let mut out = BTreeMap::new();
    let mut put = |name, bytes: Vec<u8>| {
        out.insert(name, hex(&bytes));
    };
    put(
        "session",
        rmp_serde::to_vec_named(&Session {
            user_id: "123".into(),
            role: "admin".into(),
        })
        .unwrap(),
    );
    let all = All {
        s: "héllo ☃".into(),
        neg: i64::MIN,
        big: u64::MAX,
        small: 200,
        minus: -33,
        f: 1.5,
        t: true,
        none: None,
        bytes: serde_bytes::ByteBuf::from(vec![0u8, 255]),
        list: vec![1, -2, 300_000],
        nested: Inner {
            k: vec![vec![], vec![1, 2]],
            o: Some("x".into()),
        },
        tuple: (65535, "t".into()),
        unit: (),
    };
    put("all", rmp_serde::to_vec_named(&all).unwrap());
    let map: BTreeMap<u32, &str> = [(1, "a"), (300, "b")].into_iter().collect();
    put("int_keys", rmp_serde::to_vec_named(&map).unwrap());
    put(
        "string",
        rmp_serde::to_vec_named("x".repeat(40).as_str()).unwrap(),
    );
    put(
        "floats",
        rmp_serde::to_vec_named(&[0.0f64, -2.5, 1e300]).unwrap(),
    );
    out
}

fn serializer(salt: &str) -> Result<TimedSerializer, String> {
    let keys = SecretKey::list_from_env("ITSCLASSIFIED_KEYS").map_err(|e| e.to_string())?;
    TimedSerializer::with_keys(keys, salt).map_err(|e| e.to_string())
}

fn run(args: &[String]) -> Result<String, String> {
    match args {
        [cmd] if cmd == "msgpack" => serde_json::to_string(&msgpack()).map_err(|e| e.to_string()),
        [cmd, salt, user_id, role] if cmd == "dumps-session" => {
            let session = Session {
                user_id: user_id.clone(),
                role: role.clone(),
            };
            serializer(salt)?.dumps(&session).map_err(|e| e.to_string())
        }
        [cmd, salt, max_age] if cmd == "loads-session" => {
            let max_age: u64 = max_age.parse().map_err(|_| "MAX_AGE_SECS: a number")?;
            let mut token = String::new();
            std::io::stdin()
                .take(70_000)
                .read_to_string(&mut token)
                .map_err(|e| e.to_string())?;
            let session: Session = serializer(salt)?
                .max_age(Duration::from_secs(max_age))
                .loads(token.trim())
                .map_err(|e| e.to_string())?;
            serde_json::to_string(&session).map_err(|e| e.to_string())
        }
        _ => Err(
            "usage: msgpack | dumps-session SALT USER_ID ROLE | loads-session SALT MAX_AGE_SECS"
                .into(),
        ),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rust_helper: {e}");
            ExitCode::FAILURE
        }
    }
}
