//! Which text may hold a secret key, so that no error message, warning or usage error echoes it.
//!
//! Shared, as one source file, by the library (key origins in `KeyError`) and the command-line
//! tool (its messages and clap's usage errors), so that both withhold the same text.
//!
//! The rule looks for a key anywhere in the text, not only for text that is exactly a key: a key
//! pasted where a variable name or a path belongs comes in many shapes (`KEY`, `KEY1,KEY2`,
//! `NAME=KEY`, `KEY,`, `'KEY'`, `./KEY`), and every one of them holds the key as a run of
//! base64 characters. A secret is at least 32 bytes, 43 characters of base64; random base64
//! that long mixes upper- and lower-case letters (43 characters without a lower-case letter are
//! a one-in-five-billion chance, and without an upper-case one likewise), while the names and
//! paths people write mostly do not, or break into shorter runs at `.`, `-`, `_` or `/`. A secret
//! in hex (43 or more hex digits, mixing digits and letters) is withheld too. A long mixed-case
//! path is withheld as well: losing it from a message costs less than echoing a key.

/// The length of the base64 text of the shortest secret (32 bytes, unpadded).
const MIN_KEY_CHARS: usize = 43;

/// True when `text` holds a run of at least 43 characters of one base64 alphabet (standard
/// `A-Za-z0-9+/` or URL-safe `A-Za-z0-9-_`) that looks random (see [`key_like`]): text that
/// may hold a secret key and must not be shown.
pub(crate) fn holds_key_like_run(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.split(|&b| !standard(b)).any(key_like) || bytes.split(|&b| !url_safe(b)).any(key_like)
}

fn standard(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

fn url_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// A run of one alphabet that may be a key: at least 43 characters, and either upper- and
/// lower-case letters mixed (base64 of random bytes) or 43 hex digits in a row with both
/// digits and letters among them (a hex secret, as `openssl rand -hex 32` prints, which
/// `SecretKey::from_base64` would take as base64 of 48 bytes).
fn key_like(run: &[u8]) -> bool {
    if run.len() < MIN_KEY_CHARS {
        return false;
    }
    let mixed_case =
        run.iter().any(u8::is_ascii_lowercase) && run.iter().any(u8::is_ascii_uppercase);
    mixed_case
        || run.split(|b| !b.is_ascii_hexdigit()).any(|hex| {
            hex.len() >= MIN_KEY_CHARS
                && hex.iter().any(u8::is_ascii_digit)
                && hex.iter().any(u8::is_ascii_alphabetic)
        })
}

/// True for a name a shell can set: an ASCII letter or `_`, then letters, digits and `_`.
/// Anything else given as a variable's name (a `,`, a `=`, a space, a quote) is not a name a
/// user meant, and may be a key or a list of keys.
pub(crate) fn is_plausible_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// True when an environment variable's name must not be shown: it is no plausible name, or it
/// holds a key-like run.
pub(crate) fn withhold_env_name(name: &str) -> bool {
    !is_plausible_env_name(name) || holds_key_like_run(name)
}

/// True when a file's path must not be shown: it holds a key-like run.
pub(crate) fn withhold_path(path: &std::path::Path) -> bool {
    holds_key_like_run(&path.to_string_lossy())
}

/// `text` with every key-like run replaced by `replacement`: the last line of defence for
/// messages that quote what the user typed (clap's usage errors).
// Used by the command-line tool only (this file is part of both crates).
#[allow(dead_code)]
pub(crate) fn redact_key_like_runs(text: &str, replacement: &str) -> String {
    // Each alphabet in turn: a run of one may hold a run of the other (a URL-safe key inside a
    // path is split by no `/`), and replacing cannot create a new run (the replacement holds a
    // space, which neither alphabet has).
    let once = redact_runs(text, standard, replacement);
    redact_runs(&once, url_safe, replacement)
}

#[allow(dead_code)]
fn redact_runs(text: &str, in_alphabet: fn(u8) -> bool, replacement: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if key_like(run.as_bytes()) {
            out.push_str(replacement);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii() && in_alphabet(c as u8) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use base64::Engine as _;

    /// Bytes whose base64 mixes upper and lower case and uses `+`, `/`, `-` and `_`.
    fn secret(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(97) ^ 0x5c)
            .chain([0xfb, 0xff, 0xbf])
            .collect()
    }

    /// Every shape a key (or keys) pasted in place of a name or a path has been seen in.
    fn shapes(key: &str, other: &str) -> Vec<String> {
        vec![
            key.to_string(),
            format!("{key},{other}"),
            format!("{key}, {other}"),
            format!("ITSCLASSIFIED_KEYS={key}"),
            format!("export ITSCLASSIFIED_KEYS={key}"),
            format!("{key},"),
            format!(",{key}"),
            format!("'{key}'"),
            format!("\"{key}\""),
            format!(" {key}\n"),
            format!("./{key}"),
            format!("/tmp/{key}"),
            format!("{key}/"),
            format!("{key}=="),
        ]
    }

    #[test]
    fn every_shape_of_a_pasted_key_is_withheld() {
        let url = URL_SAFE_NO_PAD.encode(secret(32));
        let std = STANDARD.encode(secret(32));
        assert!(url.contains('-') || url.contains('_'), "{url}");
        assert!(std.contains('+') || std.contains('/'), "{std}");
        let long = URL_SAFE_NO_PAD.encode(secret(64));
        let hex: String = secret(32).iter().map(|b| format!("{b:02x}")).collect();
        let hex_upper = hex.to_ascii_uppercase();
        for (key, other) in [
            (&url, &std),
            (&std, &url),
            (&long, &url),
            (&hex, &hex_upper),
            (&hex_upper, &url),
        ] {
            for text in shapes(key, other) {
                assert!(holds_key_like_run(&text), "{text:?}");
                assert!(withhold_env_name(&text), "{text:?}");
                assert!(withhold_path(std::path::Path::new(&text)), "{text:?}");
                let redacted = redact_key_like_runs(&text, " <withheld> ");
                assert!(!redacted.contains(key.as_str()), "{redacted:?}");
                assert!(!redacted.contains(other.as_str()), "{redacted:?}");
            }
        }
    }

    #[test]
    fn names_and_paths_people_write_are_shown() {
        for name in [
            "ITSCLASSIFIED_KEYS",
            "MyKeys",
            "_private",
            "ITSCLASSIFIED_KEYS_OF_THE_PRODUCTION_SERVICE_ABC",
            "itsclassified_keys_of_the_production_service_abc",
        ] {
            assert!(!withhold_env_name(name), "{name}");
        }
        for path in [
            "/run/secrets/itsclassified-keys",
            "/etc/ItsClassified/Production/Service-Keys.txt",
            "./keys.txt",
            "C:\\Users\\Alice\\AppData\\Roaming\\ItsClassified\\keys.txt",
            "/home/alice/projects/itsclassified/config/production/keys.txt",
            // A git commit id (40 hex digits) is shorter than any key.
            "/srv/deploy/0123456789abcdef0123456789abcdef01234567/keys",
        ] {
            assert!(!withhold_path(std::path::Path::new(path)), "{path}");
        }
        // A short base64 run of mixed case is no key.
        let short = URL_SAFE_NO_PAD.encode(&secret(31)[..31]);
        assert!(!holds_key_like_run(&short[..42]));
    }

    #[test]
    fn names_that_no_shell_sets_are_withheld() {
        for name in [
            "", "1ABC", "MY-KEYS", "MY KEYS", "A=B", "A,B", "ключ", "A\n",
        ] {
            assert!(withhold_env_name(name), "{name:?}");
        }
    }

    #[test]
    fn redaction_keeps_the_rest_of_the_text() {
        let key = URL_SAFE_NO_PAD.encode(secret(32));
        let text = format!("error: unexpected argument 'NAME={key}' found\n");
        assert_eq!(
            redact_key_like_runs(&text, " <withheld> "),
            "error: unexpected argument 'NAME= <withheld> ' found\n"
        );
        let plain = "error: invalid value 'x' for '--max-age <DURATION>'";
        assert_eq!(redact_key_like_runs(plain, "<w>"), plain);
    }
}
