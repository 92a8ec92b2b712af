//! `inspect`: the token's header read without a key, then, with `--salt`, whether the keys
//! open it. Two reports, so that an unverified field can never be printed as a verified one.

use std::time::SystemTime;

use itsclassified::{untrusted_header, Error, TimedSerializer};

use crate::duration::format_secs;
use crate::fail::{self, code_for, Failure};
use crate::time::{display, unix_secs};
use crate::{input, print, serializer, token_failure, with_expiry, InspectArgs};

/// Runs `inspect`: prints both reports, and fails with the token's exit code if the token was
/// verified and refused.
pub fn run(args: InspectArgs) -> Result<(), Failure> {
    let token = input::token(args.token.clone())?;
    let now = args.now.unwrap_or_else(SystemTime::now);
    let mut report = header_report(&token, now)?;
    let verdict = verification_report(&args, &token, now, &mut report);
    print(&report)?;
    verdict
}

/// The UNVERIFIED header: version, key id, issued-at and the age it implies.
fn header_report(token: &str, now: SystemTime) -> Result<String, Failure> {
    let header = untrusted_header(token).map_err(|e| {
        let failure = Failure::new(code_for(&e), e.to_string());
        match e {
            Error::UnsupportedVersion => Failure::new(
                failure.code,
                format!("{} (this release reads version 1)", failure.message),
            ),
            _ => failure,
        }
    })?;
    let now_unix = unix_secs(now);
    let issued_at = header.untrusted_issued_at_unix();
    let age = match now_unix.checked_sub(issued_at) {
        Some(age) => format_secs(age),
        None => format!("in the future by {}", format_secs(issued_at - now_unix)),
    };
    Ok(format!(
        "UNVERIFIED header (read without a key: anyone can write these fields)\n\
         version:    {}\n\
         key id:     {}\n\
         issued at:  {}\n\
         age:        {age}",
        header.untrusted_version(),
        header.untrusted_key_id(),
        display(issued_at),
    ))
}

/// Appends the `verified:` lines to the report: how to verify when `--salt` is absent, else
/// which key opened the token or why it was refused (then also the failure to exit with).
fn verification_report(
    args: &InspectArgs,
    token: &str,
    now: SystemTime,
    report: &mut String,
) -> Result<(), Failure> {
    let Some(salt) = &args.salt else {
        let hint = if args.keys.given() {
            format!(
                "not checked: pass --salt SALT to verify with the keys from {}",
                args.keys.origin()
            )
        } else {
            format!(
                "not checked: to verify, set {} (or pass --keys-file PATH) and pass --salt SALT",
                args.keys.origin()
            )
        };
        report.push_str(&format!("\nverified:   {hint}"));
        return Ok(());
    };
    let s = match serializer(&args.keys, salt, args.max_token_len) {
        Ok(s) => with_expiry(s.leeway(args.leeway), args.max_age),
        Err(failure) => {
            report.push_str("\nverified:   not checked: the keys could not be loaded");
            return Err(failure);
        }
    };
    match s.loads_with_meta_at::<serde::de::IgnoredAny>(token, now) {
        Ok(loaded) => {
            let meta = loaded.meta;
            let key = if meta.is_primary() {
                format!("the primary key {}", meta.key_id)
            } else {
                format!(
                    "fallback key {} ({}), not the primary key {}: `itsclassified reissue` re-seals it under the primary key",
                    meta.key_index,
                    meta.key_id,
                    s.primary_key_id()
                )
            };
            report.push_str(&format!(
                "\nverified:   yes, authentic for this salt, opened by {key}\n\
                 expiry:     {}",
                expiry_line(&s)
            ));
            Ok(())
        }
        Err(e) => {
            let failure = token_failure(&e, &s, token, now, args.leeway);
            report.push_str(&format!(
                "\nverified:   NO: {}",
                fail::one_line(&failure.message)
            ));
            Err(failure)
        }
    }
}

/// What the check of a verified token's age established.
fn expiry_line(s: &TimedSerializer) -> String {
    match s.configured_expiry().max_age() {
        Some(max_age) => format!("not expired (max age {})", format_secs(max_age.as_secs())),
        None => "age not checked (pass --max-age to check it)".to_string(),
    }
}
