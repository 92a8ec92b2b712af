//! Durations on the command line: `90s`, `15m`, `12h`, `7d`.

use std::time::Duration;

const SECS_PER_UNIT: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

const EXPECTED: &str =
    "expected a whole number and a unit (s, m, h or d), like 90s, 15m, 12h or 7d";

/// Parses one whole number followed by one unit: `s` seconds, `m` minutes, `h` hours, `d` days
/// (24 hours). Nothing else is accepted: no sign, no space, no fraction, no bare number, no
/// number too large for a `u64` count of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let Some(unit) = text.chars().last() else {
        return Err(format!("empty duration: {EXPECTED}"));
    };
    let Some(&(_, unit_secs)) = SECS_PER_UNIT.iter().find(|(u, _)| *u == unit) else {
        return Err(EXPECTED.to_string());
    };
    let digits = &text[..text.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EXPECTED.to_string());
    }
    // Only digits are left, so the one way to fail is overflow.
    let count: u64 = digits
        .parse()
        .map_err(|_| "duration is too large".to_string())?;
    let secs = count
        .checked_mul(unit_secs)
        .ok_or_else(|| "duration is too large".to_string())?;
    Ok(Duration::from_secs(secs))
}

/// Whole seconds as days, hours, minutes and seconds, largest first, leaving out zero parts:
/// `1d 2h`, `1m 30s`, `0s`.
pub fn format_secs(secs: u64) -> String {
    let mut left = secs;
    let mut parts = Vec::new();
    for (unit, unit_secs) in SECS_PER_UNIT {
        let count = left / unit_secs;
        left %= unit_secs;
        if count > 0 {
            parts.push(format!("{count}{unit}"));
        }
    }
    if parts.is_empty() {
        "0s".to_string()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_each_unit() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(15 * 60)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("007m"), Ok(Duration::from_secs(420)));
    }

    #[test]
    fn accepts_the_largest_values() {
        let max = u64::MAX;
        assert_eq!(
            parse_duration(&format!("{max}s")),
            Ok(Duration::from_secs(max))
        );
        let days = max / 86_400;
        assert_eq!(
            parse_duration(&format!("{days}d")),
            Ok(Duration::from_secs(days * 86_400))
        );
    }

    #[test]
    fn rejects_overflow() {
        for text in [
            "18446744073709551616s".to_string(),
            format!("{}d", u64::MAX / 86_400 + 1),
            format!("{}m", u64::MAX),
            "99999999999999999999999999999h".to_string(),
        ] {
            assert_eq!(
                parse_duration(&text),
                Err("duration is too large".to_string()),
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_garbage() {
        for text in [
            "", " ", "s", "d", "10", "-5s", "+5s", "5 s", " 5s", "5s ", "1.5h", "5S", "5sec",
            "1h30m", "5w", "5ms", "٣s", "5ｓ", "0x10s", "1_000s", "é", "5\u{0}",
        ] {
            let err = parse_duration(text).expect_err(text);
            assert!(err.contains("expected a whole number"), "{text:?}: {err}");
        }
    }

    #[test]
    fn formats_largest_unit_first() {
        assert_eq!(format_secs(0), "0s");
        assert_eq!(format_secs(59), "59s");
        assert_eq!(format_secs(90), "1m 30s");
        assert_eq!(format_secs(3600), "1h");
        assert_eq!(format_secs(86_400 + 7_200 + 3), "1d 2h 3s");
        assert_eq!(format_secs(u64::MAX), "213503982334601d 7h 15s");
    }

    #[test]
    fn formatted_single_units_parse_back() {
        for secs in [
            0,
            1,
            59,
            60,
            3600,
            86_400,
            172_800,
            u64::MAX / 86_400 * 86_400,
        ] {
            let text = format_secs(secs);
            if !text.contains(' ') {
                assert_eq!(parse_duration(&text), Ok(Duration::from_secs(secs)));
            }
        }
    }
}
