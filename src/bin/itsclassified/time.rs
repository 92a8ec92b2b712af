//! Points in time on the command line: RFC 3339 or Unix seconds, in; RFC 3339 in UTC, out.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jiff::Timestamp;

/// The last time this program reads or prints as a date, 9999-12-30T22:00:00Z (jiff's
/// `Timestamp::MAX`, whole seconds), in Unix seconds. Dates given on the command line must lie
/// between the Unix epoch and this; later times are given as Unix seconds.
pub const MAX_UNIX: u64 = 253_402_207_200;

const EXPECTED: &str =
    "expected an RFC 3339 time with an offset, like 2024-05-01T12:00:00Z or 2024-05-01T14:00:00+02:00, or Unix seconds, like 1714564800";

/// Parses `--now` and `--issued-at`: Unix seconds (digits only), any that a u64 holds (SPEC.md:
/// times are u64 seconds) and the platform's time type too (on Unix, up to 2^63 - 1), or an
/// RFC 3339 timestamp with a `Z` or numeric offset, from 1970-01-01T00:00:00Z to
/// 9999-12-30T22:00:00Z (what a date can show). Fractions of a second are kept here and
/// dropped by the token format.
pub fn parse_time(text: &str) -> Result<SystemTime, String> {
    let out_of_range = || {
        "time is out of range: it must lie between 1970-01-01T00:00:00Z and 9999-12-30T22:00:00Z \
         (give Unix seconds for later times)"
            .to_string()
    };
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = text.parse().map_err(|_| {
            format!(
                "time is out of range: Unix seconds are at most {} (u64)",
                u64::MAX
            )
        })?;
        return UNIX_EPOCH
            .checked_add(Duration::from_secs(secs))
            .ok_or_else(|| {
                "time is out of range: later than this platform's clock can represent".to_string()
            });
    }
    let ts: Timestamp = text.parse().map_err(|e| format!("{e}; {EXPECTED}"))?;
    if ts < Timestamp::UNIX_EPOCH {
        return Err(out_of_range());
    }
    SystemTime::try_from(ts).map_err(|_| out_of_range())
}

/// Whole seconds since the Unix epoch (times before it count as 0; none reach this program).
pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Unix seconds as RFC 3339 in UTC (`2024-05-01T12:00:00Z`), or `None` after [`MAX_UNIX`].
pub fn rfc3339(unix: u64) -> Option<String> {
    if unix > MAX_UNIX {
        return None;
    }
    let secs = i64::try_from(unix).ok()?;
    Timestamp::from_second(secs).ok().map(|ts| ts.to_string())
}

/// Like [`rfc3339`], falling back to the Unix seconds for times no date can show.
pub fn display(unix: u64) -> String {
    rfc3339(unix)
        .unwrap_or_else(|| format!("Unix time {unix} (too far in the future to show as a date)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn max_is_jiffs_max() {
        assert_eq!(
            Ok(MAX_UNIX),
            u64::try_from(Timestamp::MAX.as_second()),
            "MAX_UNIX must be the last whole second jiff can print"
        );
    }

    #[test]
    fn parses_unix_seconds_of_any_u64_the_platform_holds() {
        assert_eq!(parse_time("0"), Ok(UNIX_EPOCH));
        assert_eq!(parse_time("1714564800"), Ok(at(1_714_564_800)));
        assert_eq!(parse_time(&MAX_UNIX.to_string()), Ok(at(MAX_UNIX)));
        // Past the year 9999, which no date shows.
        assert_eq!(parse_time("253402207201"), Ok(at(MAX_UNIX + 1)));
        assert_eq!(parse_time("99999999999999"), Ok(at(99_999_999_999_999)));
        #[cfg(unix)]
        assert_eq!(
            parse_time(&i64::MAX.to_string()),
            Ok(at(i64::MAX.unsigned_abs()))
        );
    }

    #[test]
    fn parses_rfc3339_with_offsets() {
        assert_eq!(parse_time("2024-05-01T12:00:00Z"), Ok(at(1_714_564_800)));
        assert_eq!(
            parse_time("2024-05-01T14:00:00+02:00"),
            Ok(at(1_714_564_800))
        );
        assert_eq!(
            parse_time("2024-05-01T07:30:00-04:30"),
            Ok(at(1_714_564_800))
        );
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Ok(UNIX_EPOCH));
        assert_eq!(parse_time("9999-12-30T22:00:00Z"), Ok(at(MAX_UNIX)));
        let frac = parse_time("2024-05-01T12:00:00.75Z").unwrap();
        assert_eq!(unix_secs(frac), 1_714_564_800);
    }

    #[test]
    fn refuses_out_of_range() {
        let mut cases = vec![
            "9999-12-30T22:00:01Z",
            "9999-12-31T23:59:59Z",
            "18446744073709551616",
            "99999999999999999999999",
            "1969-12-31T23:59:59Z",
            "1970-01-01T00:00:00.5+00:01",
        ];
        if UNIX_EPOCH
            .checked_add(Duration::from_secs(u64::MAX))
            .is_none()
        {
            cases.push("18446744073709551615");
        }
        for text in cases {
            let err = parse_time(text).expect_err(text);
            assert!(
                err.contains("out of range") || err.contains("not in the required range"),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn refuses_garbage_and_missing_offsets() {
        for text in [
            "",
            " ",
            "now",
            "-1",
            "+5",
            "1.5",
            " 1714564800",
            "2024-05-01",
            "2024-05-01T12:00:00",
            "2024-13-01T12:00:00Z",
            "2024-05-01T25:00:00Z",
            "2024-05-01T12:00:00Z trailing",
        ] {
            let err = parse_time(text).expect_err(text);
            assert!(err.contains("expected an RFC 3339 time"), "{text:?}: {err}");
        }
    }

    #[test]
    fn prints_utc_and_falls_back_past_9999() {
        assert_eq!(rfc3339(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(
            rfc3339(1_714_564_800).as_deref(),
            Some("2024-05-01T12:00:00Z")
        );
        assert_eq!(rfc3339(MAX_UNIX).as_deref(), Some("9999-12-30T22:00:00Z"));
        assert_eq!(rfc3339(MAX_UNIX + 1), None);
        assert_eq!(rfc3339(u64::MAX), None);
        assert_eq!(
            display(u64::MAX),
            "Unix time 18446744073709551615 (too far in the future to show as a date)"
        );
    }

    #[test]
    fn printed_times_parse_back() {
        for secs in [0, 1, 951_782_400, 1_714_564_800, MAX_UNIX] {
            let text = rfc3339(secs).unwrap();
            assert_eq!(unix_secs(parse_time(&text).unwrap()), secs, "{text}");
        }
    }
}
