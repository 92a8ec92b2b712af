//! The session's cookies on the wire (SPEC.md section 10.3): reading the request's `Cookie`
//! headers into candidate tokens, and writing the `Set-Cookie` lines of a token, split into
//! chunks where one cookie cannot hold it.
//!
//! ```text
//! one cookie:   NAME=<token>; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=86400
//! n chunks:     NAME.0=<token[..k0]>; <same attributes>
//!               NAME.1=<token[k0..k1]>; <same attributes>      each line <= 4096 bytes
//! removal:      NAME=; <same attributes>; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT
//! ```

use std::borrow::Cow;

use super::policy::{SessionPolicy, MAX_COOKIE_LEN};

/// How many candidates that pass the cheap checks (SPEC.md section 6.1, steps 1 to 4) may reach
/// the AEAD in one request. Browsers send one cookie per matching path and domain, most specific
/// path first; a few are legitimate. Junk refused by the cheap checks is not counted, so a
/// sibling site tossing cookies cannot push the real one out with junk; four forged tokens under
/// the service's key id before it still can, which the `__Host-` prefix prevents.
pub(crate) const MAX_AUTHENTICATED_CANDIDATES: usize = 4;

/// Chunk indices at or above this are not read as chunks (nor expired): other cookies.
pub(crate) const MAX_CHUNK_INDEX: usize = 64;

/// The `Expires` of a removal: any date in the past makes browsers delete the cookie.
const EXPIRED: &str = "; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT";

/// The request's session cookies: the singles and the chunks, with what was seen (for
/// expiring stale ones on a write). Memory and work are linear in the size of the request's
/// `Cookie` headers, which the server bounds; nothing is decrypted here. Its `Debug` shows
/// counts, never a cookie's value (a credential).
#[derive(Default)]
pub struct RequestCookies {
    /// `NAME` values, in header order: every one, so that junk never pushes the real one out.
    singles: Vec<String>,
    /// `NAME.k` values for `k < max_chunks`, grown as chunks come (most requests have none).
    chunks: Vec<Option<String>>,
    max_chunks: usize,
    /// A chunk was repeated, or at an index `>= max_chunks`.
    chunks_malformed: bool,
    /// Bytes in `chunks` so far (bounded by the token maximum).
    chunk_bytes: usize,
    /// A `NAME` cookie was in the request (whatever its value).
    seen_single: bool,
    /// Bit k: a `NAME.k` cookie was in the request.
    seen_chunks: u64,
}

impl std::fmt::Debug for RequestCookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestCookies")
            .field("singles", &self.singles.len())
            .field("chunks", &self.chunks.iter().flatten().count())
            .field("chunks_malformed", &self.chunks_malformed)
            .finish_non_exhaustive()
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// `NAME.<index>`: the index (`0` or decimal without a leading zero, below
/// [`MAX_CHUNK_INDEX`]) or `None`.
fn chunk_index(pair_name: &[u8], name: &[u8]) -> Option<usize> {
    let digits = pair_name.strip_prefix(name)?.strip_prefix(b".")?;
    if digits.is_empty() || digits.len() > 2 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // A leading zero only in `0` itself (the length is 1 or 2 here).
    if digits[0] == b'0' && digits != b"0" {
        return None;
    }
    let index = digits
        .iter()
        .fold(0usize, |n, d| n * 10 + usize::from(d - b'0'));
    (index < MAX_CHUNK_INDEX).then_some(index)
}

impl RequestCookies {
    /// Reads the session's cookies from the values of the request's `Cookie` headers, in
    /// order (SPEC.md section 10.3, "Reader").
    ///
    /// Parsed pair by pair on the bytes, as RFC 6265 section 5.4 has user agents write them
    /// (`name=value` pairs separated by `;`, spaces and tabs around names and values): a pair
    /// whose value is empty or not visible ASCII (a sibling application's UTF-8 cookie, say) is
    /// skipped on its own, never the whole header.
    pub fn parse<'a>(
        policy: &SessionPolicy,
        headers: impl IntoIterator<Item = &'a [u8]>,
    ) -> RequestCookies {
        let name = policy.name.as_bytes();
        let mut found = RequestCookies {
            max_chunks: policy.max_chunks,
            ..RequestCookies::default()
        };
        let max_len = policy.serializer.configured_max_token_len();
        for header in headers {
            for pair in header.split(|&b| b == b';') {
                let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                    continue;
                };
                let (pair_name, value) = (trim(&pair[..eq]), trim(&pair[eq + 1..]));
                let index = match pair_name {
                    n if n == name => None,
                    n => match chunk_index(n, name) {
                        Some(index) => Some(index),
                        None => continue,
                    },
                };
                match index {
                    None => found.seen_single = true,
                    Some(k) => found.seen_chunks |= 1 << k,
                }
                if value.is_empty() || !value.iter().all(u8::is_ascii_graphic) {
                    continue;
                }
                // Visible ASCII, so valid UTF-8.
                let Ok(value) = std::str::from_utf8(value) else {
                    continue;
                };
                match index {
                    None => found.singles.push(value.to_owned()),
                    Some(k) => found.add_chunk(k, value, max_len),
                }
            }
        }
        found
    }

    fn add_chunk(&mut self, index: usize, value: &str, max_len: usize) {
        if index < self.max_chunks && self.chunks.len() <= index {
            self.chunks.resize(index + 1, None);
        }
        let Some(slot) = self.chunks.get_mut(index).filter(|slot| slot.is_none()) else {
            // Repeated, or beyond max_chunks.
            self.chunks_malformed = true;
            return;
        };
        self.chunk_bytes = self.chunk_bytes.saturating_add(value.len());
        if self.chunk_bytes > max_len {
            // Longer than any token may be: refused as a whole, nothing more is kept.
            self.chunks_malformed = true;
            return;
        }
        *slot = Some(value.to_owned());
    }

    /// The token the chunks make if they are a well-formed set (indices exactly `0..n`, each
    /// once, `2 <= n <= max_chunks`); `None` if the request carried no chunk cookie;
    /// `Some(Err(()))` for a set that is refused (only a log line tells the two apart).
    fn joined(&self) -> Option<Result<String, ()>> {
        if self.seen_chunks == 0 {
            return None;
        }
        let n = self.chunks.iter().take_while(|c| c.is_some()).count();
        let rest_empty = self.chunks[n..].iter().all(Option::is_none);
        if self.chunks_malformed || n < 2 || !rest_empty {
            return Some(Err(()));
        }
        Some(Ok(self.chunks[..n]
            .iter()
            .flatten()
            .map(String::as_str)
            .collect()))
    }

    /// The candidates, in order: the singles in header order, then the joined chunk set if it
    /// is well-formed. Nothing is checked here: opening runs the cheap checks (SPEC.md section
    /// 6.1, steps 1 to 4) first, and the reader counts only candidates that get past them
    /// against the AEAD budget of [`MAX_AUTHENTICATED_CANDIDATES`].
    pub(crate) fn candidates(&self) -> Vec<Cow<'_, str>> {
        let joined = match self.joined() {
            Some(Ok(token)) => Some(Cow::Owned(token)),
            Some(Err(())) => {
                debug("session cookie chunks refused: a chunk missing, repeated or extra");
                None
            }
            None => None,
        };
        let singles = self.singles.iter().map(|s| Cow::Borrowed(s.as_str()));
        singles.chain(joined).collect()
    }

    /// [`candidates`](RequestCookies::candidates), owned.
    #[cfg(test)]
    pub(crate) fn raw_candidates(&self) -> Vec<String> {
        self.candidates().into_iter().map(Cow::into_owned).collect()
    }

    /// Which cookies the request carried: `NAME`, and `NAME.k` for each bit k.
    pub(crate) fn seen(&self) -> (bool, u64) {
        (self.seen_single, self.seen_chunks)
    }
}

fn debug(_message: &'static str) {
    #[cfg(feature = "axum")]
    tracing::debug!("{_message}");
}

/// Why a session's cookie lines could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooManyChunks;

fn line(
    name: &str,
    index: Option<usize>,
    value: &str,
    policy: &SessionPolicy,
    tail: &str,
) -> String {
    let mut l = String::with_capacity(name.len() + value.len() + policy.attributes.len() + 48);
    l.push_str(name);
    if let Some(i) = index {
        l.push('.');
        l.push_str(&i.to_string());
    }
    l.push('=');
    l.push_str(value);
    l.push_str(&policy.attributes);
    l.push_str(tail);
    // Last, after `Max-Age` (and a removal's `Expires`): the crate's order of SPEC.md section
    // 10.4, which the chunk vectors of tests/vectors/sessions.json pin byte for byte.
    if policy.partitioned {
        l.push_str("; Partitioned");
    }
    l
}

/// The `Set-Cookie` lines that store `token` for `max_age` seconds: one cookie when its line
/// fits in [`MAX_COOKIE_LEN`] bytes, else chunks, each as long as its line allows (greedy), and
/// removals of the stale cookies of the other shape that the request carried.
pub(crate) fn issue_lines(
    policy: &SessionPolicy,
    token: &str,
    max_age: u64,
    seen: (bool, u64),
) -> Result<Vec<String>, TooManyChunks> {
    let tail = format!("; Max-Age={max_age}");
    let name = policy.name.as_str();
    let single = line(name, None, token, policy, &tail);
    let mut lines = Vec::new();
    let written = if single.len() <= MAX_COOKIE_LEN {
        lines.push(single);
        0
    } else {
        let mut rest = token;
        let mut index = 0;
        while !rest.is_empty() {
            if index == policy.max_chunks {
                return Err(TooManyChunks);
            }
            let overhead = line(name, Some(index), "", policy, &tail).len();
            let room = MAX_COOKIE_LEN.saturating_sub(overhead);
            if room == 0 {
                return Err(TooManyChunks);
            }
            // The token is ASCII: any byte index is a character boundary.
            let (chunk, tail_of_token) = rest.split_at(room.min(rest.len()));
            lines.push(line(name, Some(index), chunk, policy, &tail));
            rest = tail_of_token;
            index += 1;
        }
        index
    };
    let (seen_single, seen_chunks) = seen;
    if written > 0 && seen_single {
        lines.push(line(name, None, "", policy, EXPIRED));
    }
    // One cookie written: every chunk is stale; n chunks: those from n on.
    for k in written..MAX_CHUNK_INDEX {
        if seen_chunks & (1 << k) != 0 {
            lines.push(line(name, Some(k), "", policy, EXPIRED));
        }
    }
    Ok(lines)
}

/// The lines that delete the session: `NAME` always, and every chunk the request carried.
pub(crate) fn removal_lines(policy: &SessionPolicy, seen: (bool, u64)) -> Vec<String> {
    let name = policy.name.as_str();
    let mut lines = vec![line(name, None, "", policy, EXPIRED)];
    for k in 0..MAX_CHUNK_INDEX {
        if seen.1 & (1 << k) != 0 {
            lines.push(line(name, Some(k), "", policy, EXPIRED));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SecretKey, TimedSerializer};
    use std::time::Duration;

    fn serializer(key: u8) -> TimedSerializer {
        TimedSerializer::new(SecretKey::from_bytes(&[key; 32]).unwrap(), "s")
            .max_age(Duration::from_secs(60))
    }

    fn policy(max_chunks: usize) -> SessionPolicy {
        SessionPolicy::builder(serializer(1))
            .cookie_name("sid")
            .max_chunks(max_chunks)
            .build()
            .unwrap()
    }

    fn parse(policy: &SessionPolicy, headers: &[&[u8]]) -> RequestCookies {
        RequestCookies::parse(policy, headers.iter().copied())
    }

    #[test]
    fn request_cookies_are_parsed_pair_by_pair() {
        let p = policy(1);
        let (a, b) = (
            serializer(1).dumps(&1u8).unwrap(),
            serializer(1).dumps(&2u8).unwrap(),
        );
        let h1 = format!("x=1; sid={a}; lang=fran\u{e7}ais");
        let h2 = format!(";;sid=\t{b} ; Sid=junk; sid=; sid =zz");
        let found = parse(&p, &[h1.as_bytes(), b"sid=\xff", h2.as_bytes()]);
        assert_eq!(found.raw_candidates(), [a, b, "zz".to_owned()]);
        assert_eq!(found.seen(), (true, 0));
    }

    #[test]
    fn debug_shows_no_cookie_value() {
        let p = policy(3);
        let token = serializer(1).dumps(&1u8).unwrap();
        let header = format!("sid={token}; sid.0={token}; sid.1={token}");
        let debug = format!("{:?}", parse(&p, &[header.as_bytes()]));
        assert!(!debug.contains(&token[..20]), "{debug}");
        assert!(
            debug.contains("singles: 1") && debug.contains("chunks: 2"),
            "{debug}"
        );
    }

    #[test]
    fn chunks_join_by_index_whatever_their_order() {
        let p = policy(3);
        let token = serializer(1).dumps(&"x".repeat(100)).unwrap();
        let (a, b) = token.split_at(50);
        let header = format!("sid.1={b}; other=1; sid.0={a}");
        let found = parse(&p, &[header.as_bytes()]);
        assert_eq!(found.raw_candidates(), std::slice::from_ref(&token));
        assert_eq!(found.seen(), (false, 0b11));
        // Singles first, then the joined chunks.
        let single = serializer(1).dumps(&1u8).unwrap();
        let header = format!("sid.1={b}; sid={single}; sid.0={a}");
        assert_eq!(
            parse(&p, &[header.as_bytes()]).raw_candidates(),
            [single, token]
        );
    }

    #[test]
    fn a_chunk_set_missing_repeating_or_exceeding_a_chunk_is_refused() {
        let p = policy(3);
        let token = serializer(1).dumps(&"x".repeat(100)).unwrap();
        let (a, b) = token.split_at(50);
        for header in [
            format!("sid.1={b}"),                        // missing 0
            format!("sid.0={a}"),                        // one chunk is no chunk set
            format!("sid.0={a}; sid.2={b}"),             // missing 1
            format!("sid.0={a}; sid.1={b}; sid.1={b}"),  // repeated
            format!("sid.0={a}; sid.1={b}; sid.3=AAAA"), // beyond max_chunks
            format!("sid.0={a}; sid.1="),                // empty
        ] {
            let found = parse(&p, &[header.as_bytes()]);
            assert!(found.raw_candidates().is_empty(), "{header}");
            assert_ne!(found.seen().1, 0, "{header}: seen, so expired on a write");
        }
        // A well-formed set of chunks that are not base64url is joined; opening refuses it
        // (Malformed, before any key is used).
        let found = parse(&p, &[format!("sid.0={a}; sid.1={b}!").as_bytes()]);
        assert_eq!(found.raw_candidates(), [format!("{a}{b}!")]);
        // Not chunk names: leading zero, an index of 64 or more, letters.
        for header in [
            "sid.01=AAAA",
            "sid.64=AAAA",
            "sid.x=AAAA",
            "sid.=AAAA",
            "sid.100=A",
        ] {
            assert_eq!(
                parse(&p, &[header.as_bytes()]).seen(),
                (false, 0),
                "{header}"
            );
        }
    }

    #[test]
    fn a_lone_first_chunk_is_refused_even_when_it_holds_a_whole_token() {
        let p = policy(3);
        let token = serializer(1).dumps(&1u8).unwrap();
        let found = parse(&p, &[format!("sid.0={token}").as_bytes()]);
        assert!(found.raw_candidates().is_empty());
    }

    #[test]
    fn two_digit_chunk_names_below_64_are_seen_so_that_a_write_expires_them() {
        let p = policy(3);
        let found = parse(&p, &[b"sid.10=AAAA; sid.63=AAAA; sid.7=AAAA"]);
        assert_eq!(found.seen(), (false, 1 << 10 | 1 << 63 | 1 << 7));
        let lines = issue_lines(&p, "abc", 60, found.seen()).unwrap();
        let names: Vec<&str> = lines.iter().map(|l| &l[..l.find('=').unwrap()]).collect();
        assert_eq!(names, ["sid", "sid.7", "sid.10", "sid.63"]);
    }

    #[test]
    fn chunk_names_with_anything_but_decimal_digits_are_other_cookies() {
        let p = policy(3);
        for header in ["sid.a=AAAA", "sid.1a=AAAA", "sid.-1=AAAA", "sid. 1=AAAA"] {
            assert_eq!(
                parse(&p, &[header.as_bytes()]).seen(),
                (false, 0),
                "{header}"
            );
        }
    }

    #[test]
    fn chunks_may_hold_as_many_bytes_as_the_longest_token_and_no_more() {
        // Two chunks: tokens of up to 8192 bytes.
        let p = policy(2);
        assert_eq!(
            p.serializer().configured_max_token_len(),
            2 * MAX_COOKIE_LEN
        );
        let half = "A".repeat(MAX_COOKIE_LEN);
        let full = format!("sid.0={half}; sid.1={half}");
        let found = parse(&p, &[full.as_bytes()]);
        assert_eq!(found.raw_candidates(), [format!("{half}{half}")]);
        let over = format!("sid.0={half}; sid.1={half}A");
        let found = parse(&p, &[over.as_bytes()]);
        assert!(found.raw_candidates().is_empty());
        assert_eq!(found.seen(), (false, 0b11), "seen, so expired on a write");
    }

    #[test]
    fn a_token_that_fits_one_cookie_is_one_cookie() {
        let p = policy(3);
        let lines = issue_lines(&p, "abc", 60, (false, 0)).unwrap();
        assert_eq!(
            lines,
            ["sid=abc; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=60"]
        );
    }

    #[test]
    fn a_long_token_is_split_greedily_into_lines_of_at_most_4096_bytes() {
        let p = policy(3);
        let overhead = "sid=; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=60".len();
        let fits = "A".repeat(MAX_COOKIE_LEN - overhead);
        assert_eq!(issue_lines(&p, &fits, 60, (false, 0)).unwrap().len(), 1);
        let over = format!("{fits}B");
        let lines = issue_lines(&p, &over, 60, (false, 0)).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), MAX_COOKIE_LEN);
        assert!(lines[0].starts_with("sid.0=AAA"));
        assert!(lines[1].starts_with("sid.1=AAB;"), "{}", &lines[1][..20]);
        let joined: String = lines.iter().map(|l| &l[6..l.find(';').unwrap()]).collect();
        assert_eq!(joined, over);
        let too_long = "A".repeat(3 * MAX_COOKIE_LEN);
        assert_eq!(
            issue_lines(&p, &too_long, 60, (false, 0)),
            Err(TooManyChunks)
        );
        assert_eq!(
            issue_lines(&policy(1), &over, 60, (false, 0)),
            Err(TooManyChunks)
        );
    }

    #[test]
    fn a_write_expires_the_stale_cookies_of_the_other_shape() {
        let p = policy(3);
        let expired = |l: &String| l.ends_with(EXPIRED);
        // One cookie written, the request had three chunks: all three expire.
        let lines = issue_lines(&p, "abc", 60, (true, 0b111)).unwrap();
        assert_eq!(lines.len(), 4);
        assert!(lines[1..].iter().all(expired));
        assert!(lines[3].starts_with("sid.2=;"));
        // Two chunks written, the request had the single and three chunks.
        let long = "A".repeat(MAX_COOKIE_LEN + 10);
        let lines = issue_lines(&p, &long, 60, (true, 0b111)).unwrap();
        let names: Vec<&str> = lines.iter().map(|l| &l[..l.find('=').unwrap()]).collect();
        assert_eq!(names, ["sid.0", "sid.1", "sid", "sid.2"]);
        assert!(lines[2..].iter().all(expired));
        // Removal: the single always, and every chunk seen.
        let removal = removal_lines(&p, (false, 0b101));
        let names: Vec<&str> = removal.iter().map(|l| &l[..l.find('=').unwrap()]).collect();
        assert_eq!(names, ["sid", "sid.0", "sid.2"]);
        assert_eq!(
            removal[0],
            "sid=; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
        );
    }

    #[test]
    fn partitioned_and_domain_are_on_every_line() {
        let p = SessionPolicy::builder(serializer(1))
            .domain("example.com")
            .partitioned()
            .build()
            .unwrap();
        assert_eq!(
            issue_lines(&p, "t", 5, (false, 0)).unwrap(),
            ["session=t; HttpOnly; SameSite=Lax; Secure; Path=/; Domain=example.com; Max-Age=5; Partitioned"]
        );
        assert_eq!(
            removal_lines(&p, (false, 0)),
            ["session=; HttpOnly; SameSite=Lax; Secure; Path=/; Domain=example.com; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Partitioned"]
        );
    }
}
