//! Bounded reading of tokens and JSON from arguments and standard input.

use std::io::{IsTerminal as _, Read as _};

use itsclassified::TimedSerializer;

use crate::fail::{eprintln_safe, Failure, INVALID, USAGE};

/// The most JSON read from standard input: 1 MiB.
pub const JSON_LIMIT: usize = 1024 * 1024;

/// The most read from standard input for a token: the longest token any serializer accepts,
/// with room for whitespace around it.
pub const TOKEN_LIMIT: usize = TimedSerializer::MAX_TOKEN_LEN_LIMIT + 1024;

/// Reads at most `limit` bytes of standard input; `None` if there is more.
fn read_stdin(limit: usize, what: &str) -> Result<Option<Vec<u8>>, Failure> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln_safe(&format!(
            "itsclassified: reading {what} from standard input (end it with Ctrl-D)"
        ));
    }
    let mut buf = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    stdin
        .lock()
        .take(cap)
        .read_to_end(&mut buf)
        .map_err(|e| Failure::other(format!("cannot read standard input: {e}")))?;
    Ok((buf.len() <= limit).then_some(buf))
}

/// The token from the argument, or from standard input when there is none or it is `-`, with
/// surrounding whitespace (a trailing newline) removed. Never quotes the token in an error.
pub fn token(arg: Option<String>) -> Result<String, Failure> {
    let text = match arg {
        Some(arg) if arg != "-" => arg,
        _ => {
            let bytes = read_stdin(TOKEN_LIMIT, "the token")?.ok_or_else(|| {
                Failure::new(
                    INVALID,
                    format!(
                        "token on standard input is longer than the longest token accepted ({} bytes)",
                        TimedSerializer::MAX_TOKEN_LEN_LIMIT
                    ),
                )
            })?;
            String::from_utf8(bytes)
                .map_err(|_| Failure::new(INVALID, "token is malformed (not UTF-8 text)"))?
        }
    };
    let token = text.trim_matches(|c: char| c.is_ascii_whitespace());
    if token.is_empty() {
        return Err(Failure::new(
            USAGE,
            "no token given: pass it as an argument or on standard input",
        ));
    }
    Ok(token.to_string())
}

/// The JSON text from `--json`, or from standard input (at most [`JSON_LIMIT`] bytes).
pub fn json_text(arg: Option<String>) -> Result<String, Failure> {
    let text = match arg {
        Some(arg) => arg,
        None => {
            let bytes = read_stdin(JSON_LIMIT, "the JSON payload")?.ok_or_else(|| {
                Failure::usage(format!(
                    "JSON on standard input is larger than {JSON_LIMIT} bytes"
                ))
            })?;
            String::from_utf8(bytes)
                .map_err(|_| Failure::usage("JSON on standard input is not UTF-8 text"))?
        }
    };
    if text.trim().is_empty() {
        return Err(Failure::usage(
            "no JSON given: pass it on standard input or with --json TEXT",
        ));
    }
    Ok(text)
}
