//! Exit codes, and the one-line error every failure ends in.

use std::process::ExitCode;

use itsclassified::{Error, KeyError, KeyErrorKind};

/// Success.
pub const OK: u8 = 0;
/// Any other error: standard input or output failed, a payload too large or too deeply nested
/// for a token, the random number generator failed.
pub const OTHER: u8 = 1;
/// Usage: a bad option or argument (clap's code), a bad duration or time, bad JSON input or a
/// JSON payload SPEC.md forbids (an ext value, a map key twice, an integer beyond 64 bits), no
/// token given.
pub const USAGE: u8 = 2;
/// The token is refused, for any reason but its time and its key (SPEC.md 6.2's `TooLong`,
/// `Malformed`, `UnsupportedVersion`, `Invalid` and `Payload`): malformed, too long, of a version
/// this release does not read, altered, forged, made for another salt, or an authentic payload
/// that is not one MessagePack value, or holds what no payload may (an ext value, a str that is
/// not UTF-8).
pub const INVALID: u8 = 3;
/// The token is authentic but expired, or issued further in the future than `--leeway` allows.
pub const EXPIRED: u8 = 4;
/// The token names a key id that none of the keys given has.
pub const UNKNOWN_KEY: u8 = 5;
/// The keys or the configuration: no keys, a variable not set, a file not readable, a key too
/// short or not base64, the same key twice.
pub const KEYS: u8 = 6;

/// What stands, in a message, for text that may hold a key (see `crate::redact`).
pub const WITHHELD: &str = "<withheld: it may hold a key>";

/// The exit code table, for `--help`.
pub const HELP: &str = "\
Exit status:
  0  success
  1  other error (reading input, writing output, payload too large or too deep for a token)
  2  usage error: bad option, duration, time or JSON, no token given, or a JSON payload
     SPEC.md forbids (an ext value, a map key twice, an integer beyond 64 bits)
  3  token invalid: malformed, too long, of a version this release does not read, altered,
     forged, made for another salt, or its authentic payload is not one MessagePack value
     or holds what no payload may (an ext value, a str that is not UTF-8)
  4  token expired, or issued further in the future than --leeway allows
  5  token made under a key id that none of the keys given has
  6  key problem: keys missing, unreadable, too short, not base64, or repeated";

/// A failure: the exit code and a message for standard error.
#[derive(Debug)]
pub struct Failure {
    /// The process exit code, one of the constants of this module.
    pub code: u8,
    /// What went wrong, without secrets or token text.
    pub message: String,
}

impl Failure {
    /// A failure with this code and message.
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }

    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::new(USAGE, message)
    }

    /// Any other error (exit 1).
    pub fn other(message: impl Into<String>) -> Failure {
        Failure::new(OTHER, message)
    }

    /// Writes `itsclassified: <message>` on one line to standard error and gives the exit code.
    /// Any key-like run left in the message (none should be: each message withholds what it
    /// quotes) is withheld here too.
    pub fn report(&self) -> ExitCode {
        let message = crate::redact::redact_key_like_runs(&self.message, WITHHELD);
        eprintln_safe(&format!("itsclassified: {}", one_line(&message)));
        ExitCode::from(self.code)
    }
}

/// The exit code for a library error. `Error` is `#[non_exhaustive]`: variants added later count
/// as invalid tokens if they are rejections, else as other errors.
pub fn code_for(error: &Error) -> u8 {
    match error {
        Error::Expired { .. } | Error::IssuedInFuture { .. } => EXPIRED,
        Error::UnknownKey => UNKNOWN_KEY,
        Error::TooLong { .. }
        | Error::Malformed
        | Error::UnsupportedVersion
        | Error::Invalid
        | Error::Payload => INVALID,
        Error::Key(e) => code_for_key(e),
        Error::MaxAgeNotSet => KEYS,
        Error::Serialize | Error::TooDeep { .. } | Error::Rng | Error::TimeOutOfRange => OTHER,
        other if other.is_rejection() => INVALID,
        _ => OTHER,
    }
}

/// The exit code for a key error: a key problem, but for a failing random number generator.
pub fn code_for_key(error: &KeyError) -> u8 {
    match error.kind() {
        KeyErrorKind::Rng => OTHER,
        _ => KEYS,
    }
}

/// Writes a line to standard error, ignoring a closed stream (there is nowhere left to say so).
pub fn eprintln_safe(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// The message with control characters (newlines included) escaped, so that it stays one line
/// and cannot drive the terminal, whatever a path or variable name holds.
pub fn one_line(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for c in message.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct() {
        let mut codes = [OK, OTHER, USAGE, INVALID, EXPIRED, UNKNOWN_KEY, KEYS];
        codes.sort_unstable();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5, 6]);
        for code in 0..=6u8 {
            assert!(
                HELP.contains(&format!("\n  {code}  ")),
                "code {code} is documented"
            );
        }
    }

    #[test]
    fn library_errors_map_to_their_codes() {
        assert_eq!(code_for(&Error::Invalid), INVALID);
        assert_eq!(code_for(&Error::Malformed), INVALID);
        assert_eq!(code_for(&Error::UnsupportedVersion), INVALID);
        assert_eq!(code_for(&Error::Payload), INVALID);
        assert_eq!(code_for(&Error::TooLong { len: 9, max: 8 }), INVALID);
        assert_eq!(code_for(&Error::UnknownKey), UNKNOWN_KEY);
        assert_eq!(
            code_for(&Error::IssuedInFuture { issued_at_unix: 9 }),
            EXPIRED
        );
        let short = itsclassified::SecretKey::from_bytes(&[1]).unwrap_err();
        assert_eq!(code_for(&Error::Key(short)), KEYS);
        let unset = itsclassified::SecretKey::from_env("ITSCLASSIFIED_CLI_TEST_UNSET").unwrap_err();
        assert_eq!(code_for(&Error::Key(unset)), KEYS);
        assert_eq!(code_for(&Error::MaxAgeNotSet), KEYS);
        assert_eq!(code_for(&Error::TooDeep { max: 128 }), OTHER);
        assert_eq!(code_for(&Error::Rng), OTHER);
        assert_eq!(code_for(&Error::Serialize), OTHER);
        assert_eq!(code_for(&Error::TimeOutOfRange), OTHER);
    }

    #[test]
    fn one_line_escapes_control_characters() {
        assert_eq!(one_line("a\nb\r\tc\u{1b}[31m"), "a\\nb\\r\\tc\\u{1b}[31m");
        assert_eq!(one_line("key file /tmp/k é"), "key file /tmp/k é");
    }
}
