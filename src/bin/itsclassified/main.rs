//! `itsclassified`: mint keys, issue, load, inspect and re-seal tokens from the command line.
//!
//! Built with the `cli` feature: `cargo install --path . --features cli`. Keys come from the
//! environment (`ITSCLASSIFIED_KEYS`, or `--keys-env NAME`) or from a file (`--keys-file PATH`),
//! never from the command line. See `itsclassified --help` and the README's "Command line"
//! section.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod duration;
mod fail;
mod input;
mod inspect;
mod json;
mod keys;
// The library's rule for text that may hold a key, compiled into this binary from the same
// source file, so that the tool withholds exactly what the library's errors withhold.
#[path = "../../redact.rs"]
mod redact;
mod time;

use std::io::Write as _;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Args, Parser, Subcommand};
use itsclassified::{untrusted_header, Error, SecretKey, TimedSerializer, TokenMeta};
use serde::Deserialize as _;
use zeroize::Zeroizing;

use crate::duration::{format_secs, parse_duration};
use crate::fail::{code_for, Failure};
use crate::json::Json;
use crate::keys::KeyArgs;
use crate::time::{display, parse_time, rfc3339, unix_secs};

/// The deepest nesting a payload may have (SPEC.md 3.3): a value inside at most 128 arrays or
/// maps.
const PAYLOAD_MAX_DEPTH: usize = 128;

const KEYS_HELP: &str = "\
Keys: from the environment variable ITSCLASSIFIED_KEYS (base64, comma-separated, primary
first), another variable with --keys-env NAME, or a file with --keys-file PATH (one key a line,
'#' comments). Never from the command line, where ps and shell history would show them.";

const TIME_HELP: &str = "\
Durations: a whole number and a unit: 90s, 15m, 12h, 7d. Times: RFC 3339 with an offset
(2024-05-01T12:00:00Z, up to the year 9999) or Unix seconds (1714564800, any u64 the platform's
clock holds).";

fn top_help() -> String {
    format!(
        "{KEYS_HELP}\n\n{TIME_HELP}\n\n{}\n\n{}",
        fail::HELP,
        json::HELP
    )
}

fn command_help(extra: &str) -> String {
    if extra.is_empty() {
        format!("{KEYS_HELP}\n\n{}", fail::HELP)
    } else {
        format!("{extra}\n\n{KEYS_HELP}\n\n{}", fail::HELP)
    }
}

/// The command line.
#[derive(Parser, Debug)]
#[command(
    name = "itsclassified",
    version,
    about = "Mint keys, issue, load, inspect and re-seal itsclassified tokens",
    after_help = top_help(),
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
enum Command {
    /// Print new random secret keys, base64url, one a line (and nothing else)
    #[command(after_help = format!(
        "Example: export ITSCLASSIFIED_KEYS=$(itsclassified keygen)\n\n{}",
        fail::HELP
    ))]
    Keygen(KeygenArgs),

    /// Make a token from a JSON payload (standard input, or --json)
    #[command(after_help = command_help(json::HELP))]
    Dumps(DumpsArgs),

    /// Check a token and print its payload as JSON
    #[command(after_help = command_help(json::HELP))]
    Loads(LoadsArgs),

    /// Show a token's header without a key (UNVERIFIED); with --salt, also verify it
    #[command(after_help = command_help(""))]
    Inspect(InspectArgs),

    /// Re-seal a token under the primary key, same payload and issued-at (key rotation)
    #[command(after_help = command_help(""))]
    Reissue(ReissueArgs),
}

/// `keygen`.
#[derive(Args, Debug)]
struct KeygenArgs {
    /// How many keys to print
    #[arg(
        short = 'n',
        long,
        value_name = "N",
        default_value_t = 1,
        value_parser = clap::value_parser!(u16).range(1..=1000),
    )]
    count: u16,
}

/// `dumps`.
#[derive(Args, Debug)]
struct DumpsArgs {
    /// The purpose of the token, as the service names it ("session", "password-reset", ...)
    #[arg(long)]
    salt: String,

    /// The payload as JSON text, instead of reading it from standard input
    #[arg(long, value_name = "TEXT")]
    json: Option<String>,

    /// The issued-at to write into the token (RFC 3339 or Unix seconds) [default: now]
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    issued_at: Option<SystemTime>,

    /// Refuse to make a token longer than this many bytes (0 refuses every payload; values
    /// above 65536 act as 65536)
    #[arg(long, value_name = "BYTES", default_value_t = TimedSerializer::DEFAULT_MAX_TOKEN_LEN, value_parser = parse_max_token_len)]
    max_token_len: usize,

    #[command(flatten)]
    keys: KeyArgs,
}

/// The checks of `loads` and `reissue`.
#[derive(Args, Debug)]
struct CheckArgs {
    /// The purpose of the token, as the service names it ("session", "password-reset", ...)
    #[arg(long)]
    salt: String,

    /// Refuse tokens older than this (90s, 15m, 12h, 7d): the service's max_age
    #[arg(
        long,
        value_name = "DURATION",
        value_parser = parse_duration,
        required_unless_present = "no_expiry"
    )]
    max_age: Option<Duration>,

    /// Do not check the age, for tokens of a service configured with no_expiry
    #[arg(long, conflicts_with = "max_age")]
    no_expiry: bool,

    /// Accept tokens issued up to this far in the future, for clock skew
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "60s")]
    leeway: Duration,

    /// Check as if the time were this (RFC 3339 or Unix seconds) [default: now]
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    now: Option<SystemTime>,

    /// Refuse tokens longer than this many bytes (0 refuses every token; values above 65536
    /// act as 65536)
    #[arg(long, value_name = "BYTES", default_value_t = TimedSerializer::DEFAULT_MAX_TOKEN_LEN, value_parser = parse_max_token_len)]
    max_token_len: usize,

    #[command(flatten)]
    keys: KeyArgs,
}

/// `loads`.
#[derive(Args, Debug)]
struct LoadsArgs {
    /// The token; read from standard input when absent or "-" (which keeps it out of ps)
    token: Option<String>,

    /// Print {"payload": ..., "meta": {...}} with the verified issued-at, age and key
    #[arg(long)]
    meta: bool,

    #[command(flatten)]
    check: CheckArgs,
}

/// `reissue`.
#[derive(Args, Debug)]
struct ReissueArgs {
    /// The token; read from standard input when absent or "-" (which keeps it out of ps)
    token: Option<String>,

    #[command(flatten)]
    check: CheckArgs,
}

/// `inspect`.
#[derive(Args, Debug)]
struct InspectArgs {
    /// The token; read from standard input when absent or "-" (which keeps it out of ps)
    token: Option<String>,

    /// Also verify the token with the keys, for this purpose (salt)
    #[arg(long)]
    salt: Option<String>,

    /// When verifying, refuse tokens older than this (90s, 15m, 12h, 7d) [default: age not checked]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "salt")]
    max_age: Option<Duration>,

    /// When verifying, accept tokens issued up to this far in the future
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "60s")]
    leeway: Duration,

    /// Compute the age, and verify, as if the time were this (RFC 3339 or Unix seconds) [default: now]
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    now: Option<SystemTime>,

    /// When verifying, refuse tokens longer than this many bytes (values above 65536 act as
    /// 65536)
    #[arg(long, value_name = "BYTES", default_value_t = TimedSerializer::DEFAULT_MAX_TOKEN_LEN, value_parser = parse_max_token_len)]
    max_token_len: usize,

    #[command(flatten)]
    keys: KeyArgs,
}

/// `--max-token-len`: a whole number of bytes, as SPEC.md 4.2 has it: 0 is allowed (every
/// token is then too long), and a value above 65536, however large, acts as 65536 (the library
/// lowers it).
fn parse_max_token_len(text: &str) -> Result<usize, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "expected a whole number of bytes (values above {} act as {0})",
            TimedSerializer::MAX_TOKEN_LEN_LIMIT
        ));
    }
    // Only digits are left, so the one way to fail is a number too large, which clamps too.
    Ok(text.parse::<usize>().unwrap_or(usize::MAX))
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    match run(cli.command) {
        Ok(()) => ExitCode::from(fail::OK),
        Err(failure) => failure.report(),
    }
}

/// Reports clap's error as clap does (help and version on standard output, exit 0; usage errors
/// on standard error, exit 2), except that clap's text quotes what was typed, and a key pasted
/// as an argument (`keygen KEY`, `--keys=KEY`, `dumps NAME=KEY`) must not be echoed: every
/// key-like run in it is withheld.
fn usage_error(e: &clap::Error) -> ExitCode {
    let text = redact::redact_key_like_runs(&e.to_string(), fail::WITHHELD);
    let written = if e.use_stderr() {
        std::io::stderr().lock().write_all(text.as_bytes())
    } else {
        std::io::stdout().lock().write_all(text.as_bytes())
    };
    // Nowhere left to say that the terminal went away.
    let _ = written;
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(fail::USAGE))
}

fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Keygen(args) => keygen(&args),
        Command::Dumps(args) => dumps(args),
        Command::Loads(args) => loads(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Reissue(args) => reissue(args),
    }
}

/// Writes `text` and a newline to standard output.
fn print(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| Failure::other(format!("cannot write to standard output: {e}")))
}

fn keygen(args: &KeygenArgs) -> Result<(), Failure> {
    // Sized up front: a String that grows leaves its old buffers, with keys in them, unwiped.
    let line_len = SecretKey::GENERATED_LEN.div_ceil(3) * 4 + 1;
    let mut text = Zeroizing::new(String::with_capacity(usize::from(args.count) * line_len));
    for i in 0..args.count {
        let key = SecretKey::try_generate()
            .map_err(|e| Failure::new(fail::code_for_key(&e), e.to_string()))?;
        if i > 0 {
            text.push('\n');
        }
        text.push_str(&key.to_base64());
    }
    print(&text)
}

/// The serializer for the keys and salt given.
fn serializer(
    keys: &KeyArgs,
    salt: &str,
    max_token_len: usize,
) -> Result<TimedSerializer, Failure> {
    let list = keys.load()?;
    TimedSerializer::with_keys(list, salt)
        .map(|s| s.max_token_len(max_token_len))
        .map_err(|e| keys.failure(&e))
}

fn dumps(args: DumpsArgs) -> Result<(), Failure> {
    let text = input::json_text(args.json)?;
    let too_deep = Error::TooDeep {
        max: PAYLOAD_MAX_DEPTH,
    };
    let text = json::check_integers(&text).map_err(|e| match e {
        json::ScanError::BigInteger(e) => Failure::usage(format!("payload JSON: {e}")),
        json::ScanError::TooDeep => Failure::new(code_for(&too_deep), too_deep.to_string()),
    })?;
    // serde_json stops at 128 levels, short of the deepest payloads (SPEC.md 3.3); the scan
    // above has bounded the nesting instead.
    let mut de = serde_json::Deserializer::from_str(&text);
    de.disable_recursion_limit();
    let value = json::Json::deserialize(&mut de)
        .and_then(|value| de.end().map(|()| value))
        .map_err(|e| Failure::usage(format!("payload is not valid JSON: {e}")))?;
    let payload =
        json::from_json(value).map_err(|e| Failure::usage(format!("payload JSON: {e}")))?;
    let s = serializer(&args.keys, &args.salt, args.max_token_len)?;
    let issued_at = args.issued_at.unwrap_or_else(SystemTime::now);
    let token = s.dumps_at(&payload, issued_at).map_err(|e| match e {
        Error::TooLong { max, .. } => Failure::other(format!(
            "payload is too large: its token would be longer than {max} bytes (--max-token-len)"
        )),
        e => Failure::new(code_for(&e), e.to_string()),
    })?;
    print(&token)
}

/// The serializer with the expiry policy of the options: `--max-age`, or none (the commands
/// that check tokens require either `--max-age` or `--no-expiry`; `inspect` checks the age
/// only when asked).
fn with_expiry(s: TimedSerializer, max_age: Option<Duration>) -> TimedSerializer {
    match max_age {
        Some(max_age) => s.max_age(max_age),
        None => s.no_expiry(),
    }
}

impl CheckArgs {
    /// The serializer with the expiry policy of these options.
    fn serializer(&self) -> Result<TimedSerializer, Failure> {
        let s = serializer(&self.keys, &self.salt, self.max_token_len)?.leeway(self.leeway);
        Ok(with_expiry(s, self.max_age))
    }
}

fn loads(args: LoadsArgs) -> Result<(), Failure> {
    let token = input::token(args.token)?;
    let check = &args.check;
    let s = check.serializer()?;
    let now = check.now.unwrap_or_else(SystemTime::now);
    let loaded = s
        .loads_with_meta_at::<rmpv::Value>(&token, now)
        .map_err(|e| token_failure(&e, &s, &token, now, check.leeway))?;
    // A second pass over the same authentic plaintext, to refuse what SPEC.md 3.4 says a
    // decoder must not deliver (rmpv shows a str that is not UTF-8 as bin): see Deliverable.
    let undeliverable = || {
        Failure::new(
            fail::INVALID,
            format!("{}: {}", Error::Payload, json::UNDELIVERABLE),
        )
    };
    s.loads_at::<json::Deliverable>(&token, now)
        .map_err(|_| undeliverable())?;
    let payload = json::to_json(loaded.payload).map_err(|_| undeliverable())?;
    let out = if args.meta {
        Json::Object(vec![
            ("payload".into(), payload),
            ("meta".into(), meta_json(&loaded.meta)),
        ])
    } else {
        payload
    };
    let text = serde_json::to_string_pretty(&out)
        .map_err(|e| Failure::other(format!("cannot print the payload: {e}")))?;
    print(&text)
}

/// The verified metadata of SPEC.md 6.4, with times both as RFC 3339 (null past the year 9999)
/// and as Unix seconds. `expires_at` is null without a max age (`--no-expiry`), and when
/// `issued_at + max_age + leeway` is past what a time can hold here (SPEC.md: 2^63 - 1).
fn meta_json(meta: &TokenMeta) -> Json {
    let issued_at = unix_secs(meta.issued_at);
    let expires_at = meta.expires_at.map(unix_secs);
    let key_index = u64::try_from(meta.key_index).unwrap_or(u64::MAX);
    Json::Object(vec![
        (
            "issued_at".into(),
            rfc3339(issued_at).map_or(Json::Null, Json::Str),
        ),
        ("issued_at_unix".into(), Json::U64(issued_at)),
        ("age_seconds".into(), Json::U64(meta.age.as_secs())),
        ("key_id".into(), Json::Str(meta.key_id.to_string())),
        ("key_index".into(), Json::U64(key_index)),
        ("primary".into(), Json::Bool(meta.is_primary())),
        ("token_id".into(), Json::Str(meta.token_id.to_string())),
        (
            "expires_at".into(),
            expires_at.and_then(rfc3339).map_or(Json::Null, Json::Str),
        ),
        (
            "expires_at_unix".into(),
            expires_at.map_or(Json::Null, Json::U64),
        ),
    ])
}

fn reissue(args: ReissueArgs) -> Result<(), Failure> {
    let token = input::token(args.token)?;
    let check = &args.check;
    let s = check.serializer()?;
    let now = check.now.unwrap_or_else(SystemTime::now);
    let fresh = s
        .reissue_at(&token, now)
        .map_err(|e| token_failure(&e, &s, &token, now, check.leeway))?;
    print(&fresh)
}

/// A failure for a token the serializer refused, with what an operator needs to act on it.
/// Never quotes the token.
fn token_failure(
    error: &Error,
    s: &TimedSerializer,
    token: &str,
    now: SystemTime,
    leeway: Duration,
) -> Failure {
    let message = match error {
        Error::Expired {
            issued_at,
            age,
            max_age,
        } => format!(
            "{error}: issued at {}, {} old, max age {}",
            display(unix_secs(*issued_at)),
            format_secs(age.as_secs()),
            format_secs(max_age.as_secs())
        ),
        Error::IssuedInFuture { issued_at_unix } => format!(
            "{error}: issued at {}, {} ahead of now, more than the leeway of {}",
            display(*issued_at_unix),
            format_secs(issued_at_unix.saturating_sub(unix_secs(now))),
            format_secs(leeway.as_secs())
        ),
        Error::UnknownKey => {
            let claimed = untrusted_header(token)
                .map(|h| h.untrusted_key_id().to_string())
                .unwrap_or_else(|_| "unreadable".to_string());
            let ring: Vec<String> = s
                .key_ids()
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    if i == 0 {
                        format!("{id} (primary)")
                    } else {
                        id.to_string()
                    }
                })
                .collect();
            format!(
                "{error}: the token names key id {claimed}, the keys given have {}",
                ring.join(", ")
            )
        }
        Error::Invalid => format!("{error}: altered, forged, or made for another salt than --salt"),
        Error::TooLong { len, max } => {
            format!("{error} ({len} > {max} bytes, see --max-token-len)")
        }
        Error::Payload => {
            format!("{error}: the authentic payload is not exactly one MessagePack value")
        }
        _ => error.to_string(),
    };
    Failure::new(code_for(error), message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn default_leeway_is_the_library_default() {
        let cli =
            Cli::try_parse_from(["itsclassified", "loads", "--salt", "s", "--no-expiry"]).unwrap();
        let Command::Loads(args) = cli.command else {
            panic!("parsed as another command");
        };
        assert_eq!(args.check.leeway, TimedSerializer::DEFAULT_LEEWAY);
        assert_eq!(
            args.check.max_token_len,
            TimedSerializer::DEFAULT_MAX_TOKEN_LEN
        );
    }

    #[test]
    fn max_token_len_takes_any_whole_number() {
        assert_eq!(parse_max_token_len("0"), Ok(0));
        assert_eq!(parse_max_token_len("1"), Ok(1));
        assert_eq!(parse_max_token_len("65536"), Ok(65536));
        assert_eq!(parse_max_token_len("65537"), Ok(65537));
        assert_eq!(
            parse_max_token_len("99999999999999999999999999"),
            Ok(usize::MAX)
        );
        for bad in ["", "-1", "+1", "1.5", " 1", "1k", "0x10"] {
            assert!(parse_max_token_len(bad).is_err(), "{bad}");
        }
    }
}
