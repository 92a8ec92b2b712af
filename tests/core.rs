//! Behaviour of the public API: round trips, tampering, time, rotation, limits, keys.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use itsclassified::{untrusted_header, Error, KeyErrorKind, KeyOrigin, SecretKey, TimedSerializer};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Session {
    user_id: String,
    role: String,
}

fn seed() -> Session {
    Session {
        user_id: "123".into(),
        role: "admin".into(),
    }
}

fn key(byte: u8) -> SecretKey {
    SecretKey::from_bytes(&[byte; 32]).unwrap()
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

const T0: u64 = 1_700_000_000;
const HOUR: Duration = Duration::from_secs(3600);

fn hour_serializer() -> TimedSerializer {
    TimedSerializer::new(key(1), "session").max_age(HOUR)
}

#[test]
fn round_trip_and_seed_length() {
    let s = hour_serializer();
    let token = s.dumps(&seed()).unwrap();
    assert_eq!(token.len(), 103);
    assert!(token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_eq!(s.loads::<Session>(&token).unwrap(), seed());
}

#[test]
fn tokens_differ_every_time_and_hide_the_payload() {
    let s = hour_serializer();
    let a = s.dumps(&seed()).unwrap();
    let b = s.dumps(&seed()).unwrap();
    assert_ne!(a, b, "a fresh nonce per token");
    let raw = URL_SAFE_NO_PAD.decode(&a).unwrap();
    assert!(
        !raw.windows(5).any(|w| w == b"admin"),
        "payload is encrypted"
    );
}

#[test]
fn every_bit_flip_is_rejected() {
    let s = hour_serializer();
    let token = s.dumps_at(&seed(), at(T0)).unwrap();
    let raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
    let mut rejected = 0;
    for i in 0..raw.len() {
        for bit in 0..8 {
            let mut bad = raw.clone();
            bad[i] ^= 1 << bit;
            let err = s
                .loads_at::<Session>(&URL_SAFE_NO_PAD.encode(&bad), at(T0))
                .unwrap_err();
            assert!(err.is_rejection(), "byte {i} bit {bit}: {err:?}");
            rejected += 1;
        }
    }
    assert_eq!(rejected, raw.len() * 8);
}

#[test]
fn every_character_substitution_is_rejected() {
    let s = hour_serializer();
    let token = s.dumps_at(&seed(), at(T0)).unwrap();
    let alphabet: Vec<char> =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/= .~\u{e9}"
            .chars()
            .collect();
    let original: Vec<char> = token.chars().collect();
    let mut tried = 0;
    for i in 0..original.len() {
        for &c in &alphabet {
            if c == original[i] {
                continue;
            }
            let mut bad = original.clone();
            bad[i] = c;
            let bad: String = bad.into_iter().collect();
            assert!(
                s.loads_at::<Session>(&bad, at(T0)).is_err(),
                "position {i} -> {c:?} was accepted"
            );
            tried += 1;
        }
    }
    assert!(tried > 100 * 64);
}

#[test]
fn truncations_and_extensions_are_rejected() {
    let s = hour_serializer();
    let token = s.dumps_at(&seed(), at(T0)).unwrap();
    for len in 0..token.len() {
        assert!(
            s.loads_at::<Session>(&token[..len], at(T0)).is_err(),
            "{len}"
        );
    }
    for suffix in [
        "A",
        "AA",
        "AAA",
        "AAAA",
        "=",
        "==",
        " ",
        "\n",
        ".",
        "AAAAAAAAAAAAAAAA",
    ] {
        let longer = format!("{token}{suffix}");
        assert!(
            s.loads_at::<Session>(&longer, at(T0)).is_err(),
            "{suffix:?}"
        );
    }
    let raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
    for extra in 1..=32 {
        let mut longer = raw.clone();
        longer.extend(std::iter::repeat_n(0u8, extra));
        let err = s
            .loads_at::<Session>(&URL_SAFE_NO_PAD.encode(&longer), at(T0))
            .unwrap_err();
        assert!(matches!(err, Error::Invalid), "{extra}: {err:?}");
    }
}

#[test]
fn expiry_boundaries() {
    let s = hour_serializer();
    let token = s.dumps_at(&seed(), at(T0)).unwrap();
    assert!(s.loads_at::<Session>(&token, at(T0)).is_ok());
    assert!(
        s.loads_at::<Session>(&token, at(T0 + 3600)).is_ok(),
        "age == max_age is valid"
    );
    let almost = at(T0 + 3600) + Duration::from_millis(999);
    assert!(
        s.loads_at::<Session>(&token, almost).is_ok(),
        "ages are whole seconds"
    );
    match s.loads_at::<Session>(&token, at(T0 + 3601)) {
        Err(Error::Expired {
            issued_at,
            age,
            max_age,
        }) => {
            assert_eq!(issued_at, at(T0));
            assert_eq!(age, Duration::from_secs(3601));
            assert_eq!(max_age, HOUR);
        }
        other => panic!("{other:?}"),
    }
    let far = s.loads_at::<Session>(&token, UNIX_EPOCH + Duration::from_secs(u64::MAX / 2));
    assert!(matches!(far, Err(Error::Expired { .. })));
}

#[test]
fn a_revocation_is_kept_as_long_as_any_instance_can_still_load_the_token() {
    // One hour, and the default leeway of a minute for clocks that disagree.
    let s = hour_serializer();
    assert_eq!(s.configured_expiry().max_age(), Some(HOUR));
    let retention = s.revocation_retention().unwrap();
    assert_eq!(retention, HOUR + Duration::from_secs(60));
    // An instance whose clock is the whole leeway behind still takes fresh tokens ...
    let lag = retention - HOUR;
    let behind = |real: SystemTime| real - lag;
    let token = s.dumps_at(&seed(), at(T0)).unwrap();
    assert!(s.loads_at::<Session>(&token, behind(at(T0))).is_ok());
    // ... and loads this one until `retention` after it was issued, not a second longer.
    assert!(s
        .loads_at::<Session>(&token, behind(at(T0) + retention))
        .is_ok());
    assert!(matches!(
        s.loads_at::<Session>(&token, behind(at(T0 + 1) + retention)),
        Err(Error::Expired { .. })
    ));
    // Without expiry there is no bounded time to remember a revocation for.
    let forever = TimedSerializer::new(key(1), "s").no_expiry();
    assert_eq!(forever.configured_expiry().max_age(), None);
    assert_eq!(forever.revocation_retention(), None);
    let not_set = TimedSerializer::new(key(1), "s");
    assert_eq!(not_set.configured_expiry().max_age(), None);
    assert_eq!(not_set.revocation_retention(), None);
}

#[cfg(target_os = "linux")]
#[test]
fn a_key_file_from_a_pipe_is_read_up_to_the_same_limit_as_a_file() {
    // `--keys-file <(vault read ...)`: a pipe has no length to size the buffer by; it is read
    // up to the 64 KiB a file may have, and refused past it.
    use std::io::Write as _;
    use std::os::fd::AsRawFd as _;
    let key = key(1);
    let key_file = |len: usize| {
        let mut text = format!("{}\n", key.to_base64().as_str());
        text.push_str(&"#".repeat(len - text.len()));
        text
    };
    let through_a_pipe = |text: String| {
        let (reader, mut writer) = std::io::pipe().unwrap();
        let feeder = std::thread::spawn(move || {
            // Fails with a broken pipe once the reader stops early: expected, not checked.
            let _ = writer.write_all(text.as_bytes());
        });
        let result = SecretKey::list_from_file(format!("/dev/fd/{}", reader.as_raw_fd()));
        drop(reader);
        feeder.join().unwrap();
        result
    };
    let keys = through_a_pipe(key_file(64 * 1024)).unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].key_id(), key.key_id());
    let err = through_a_pipe(key_file(64 * 1024 + 1)).unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::FileTooLarge { max: 64 * 1024 });
}

#[test]
fn zero_max_age_accepts_only_the_same_second() {
    let s = TimedSerializer::new(key(1), "s").max_age(Duration::ZERO);
    let token = s.dumps_at(&1u8, at(T0)).unwrap();
    assert_eq!(s.loads_at::<u8>(&token, at(T0)).unwrap(), 1);
    assert!(matches!(
        s.loads_at::<u8>(&token, at(T0 + 1)),
        Err(Error::Expired { .. })
    ));
}

#[test]
fn leeway_for_future_tokens() {
    let s = hour_serializer();
    let token = s.dumps_at(&seed(), at(T0 + 60)).unwrap();
    let loaded = s.loads_with_meta_at::<Session>(&token, at(T0)).unwrap();
    assert_eq!(loaded.meta.age, Duration::ZERO);
    assert_eq!(loaded.meta.issued_at, at(T0 + 60));
    let token = s.dumps_at(&seed(), at(T0 + 61)).unwrap();
    assert!(matches!(
        s.loads_at::<Session>(&token, at(T0)),
        Err(Error::IssuedInFuture { issued_at_unix }) if issued_at_unix == T0 + 61
    ));
    let strict = s.clone().leeway(Duration::ZERO);
    let token = s.dumps_at(&seed(), at(T0 + 1)).unwrap();
    assert!(matches!(
        strict.loads_at::<Session>(&token, at(T0)),
        Err(Error::IssuedInFuture { .. })
    ));
    let token = s.dumps_at(&seed(), at(u64::MAX / 4)).unwrap();
    assert!(matches!(
        s.loads_at::<Session>(&token, at(T0)),
        Err(Error::IssuedInFuture { .. })
    ));
}

#[test]
fn times_out_of_range() {
    let s = hour_serializer();
    let before_epoch = UNIX_EPOCH - Duration::from_secs(1);
    assert!(matches!(
        s.dumps_at(&seed(), before_epoch),
        Err(Error::TimeOutOfRange)
    ));
    let token = s.dumps_at(&seed(), at(0)).unwrap();
    assert!(matches!(
        s.loads_at::<Session>(&token, before_epoch),
        Err(Error::TimeOutOfRange)
    ));
}

#[test]
fn max_age_must_be_chosen() {
    let s = TimedSerializer::new(key(1), "session");
    let token = s.dumps(&seed()).unwrap();
    let err = s.loads::<Session>(&token).unwrap_err();
    assert!(matches!(err, Error::MaxAgeNotSet));
    assert!(!err.is_rejection());
    assert!(err.to_string().contains("max_age"));
    assert!(matches!(s.reissue(&token), Err(Error::MaxAgeNotSet)));
    let forever = s.no_expiry();
    assert_eq!(
        forever
            .loads_at::<Session>(&token, at(u64::MAX / 2))
            .unwrap(),
        seed()
    );
}

#[test]
fn salts_are_separated() {
    let session = TimedSerializer::new(key(1), "session").max_age(HOUR);
    let reset = TimedSerializer::new(key(1), "password-reset").max_age(HOUR);
    assert_eq!(session.primary_key_id(), reset.primary_key_id());
    let token = session.dumps(&seed()).unwrap();
    assert!(matches!(
        reset.loads::<Session>(&token),
        Err(Error::Invalid)
    ));
    assert!(TimedSerializer::new(key(1), "")
        .max_age(HOUR)
        .loads::<Session>(&token)
        .is_err());
}

#[test]
fn rotation() {
    let old = TimedSerializer::new(key(1), "session").max_age(HOUR);
    let old_token = old.dumps_at(&seed(), at(T0)).unwrap();

    let ring = TimedSerializer::with_keys([key(2), key(1)], "session")
        .unwrap()
        .max_age(HOUR);
    assert_eq!(ring.key_ids(), vec![key(2).key_id(), key(1).key_id()]);

    // The old key is still accepted ...
    let loaded = ring
        .loads_with_meta_at::<Session>(&old_token, at(T0 + 10))
        .unwrap();
    assert_eq!(loaded.payload, seed());
    assert_eq!(loaded.meta.key_index, 1);
    assert!(!loaded.meta.is_primary());
    assert_eq!(loaded.meta.key_id, key(1).key_id());

    // ... the primary issues ...
    let new_token = ring.dumps_at(&seed(), at(T0 + 10)).unwrap();
    assert_eq!(
        untrusted_header(&new_token).unwrap().untrusted_key_id(),
        key(2).key_id()
    );
    assert!(matches!(
        old.loads::<Session>(&new_token),
        Err(Error::UnknownKey)
    ));

    // ... reissue moves old tokens to the primary, keeping issued-at and payload ...
    let moved = ring.reissue_at(&old_token, at(T0 + 10)).unwrap();
    let loaded = ring
        .loads_with_meta_at::<Session>(&moved, at(T0 + 10))
        .unwrap();
    assert!(loaded.meta.is_primary());
    assert_eq!(loaded.meta.issued_at, at(T0));
    assert_eq!(loaded.payload, seed());
    assert!(matches!(
        ring.reissue_at(&old_token, at(T0 + 3601)),
        Err(Error::Expired { .. })
    ));

    // ... and once the old key is removed, its tokens are refused.
    let new_only = TimedSerializer::new(key(2), "session").max_age(HOUR);
    assert!(matches!(
        new_only.loads_at::<Session>(&old_token, at(T0 + 10)),
        Err(Error::UnknownKey)
    ));
    assert_eq!(
        new_only.loads_at::<Session>(&moved, at(T0 + 10)).unwrap(),
        seed()
    );
}

#[test]
fn key_ring_errors() {
    let err = TimedSerializer::with_keys(Vec::new(), "s").unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::Empty);
    assert_eq!(err.origin(), None);
    let err = TimedSerializer::with_keys([key(1), key(2), key(1)], "s").unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::Duplicate);
    // One fault, one shape: an empty list from the environment is the same kind.
    std::env::set_var("ITSCLASSIFIED_TEST_RING_EMPTY", ",");
    let err = SecretKey::list_from_env("ITSCLASSIFIED_TEST_RING_EMPTY").unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::Empty);
    // And `?` turns a key error into the token error type.
    let as_error: Error = err.into();
    assert!(matches!(&as_error, Error::Key(e) if e.kind() == KeyErrorKind::Empty));
    assert!(!as_error.is_rejection());
}

#[test]
fn a_ring_of_many_keys_opens_tokens_of_each() {
    // Nine keys: more than a vector that grows by doubling from 4 holds, see KeyRing::new.
    let ring = TimedSerializer::with_keys((1..=9).map(key), "s")
        .unwrap()
        .max_age(HOUR);
    assert_eq!(ring.key_ids().len(), 9);
    for n in 1..=9 {
        let token = TimedSerializer::new(key(n), "s")
            .dumps_at(&n, at(T0))
            .unwrap();
        let loaded = ring.loads_with_meta_at::<u8>(&token, at(T0)).unwrap();
        assert_eq!(loaded.payload, n);
        assert_eq!(loaded.meta.key_index, usize::from(n - 1));
    }
}

#[test]
fn size_limits() {
    let s = hour_serializer();
    let err = s.loads::<Session>(&"A".repeat(8193)).unwrap_err();
    assert!(matches!(
        err,
        Error::TooLong {
            len: 8193,
            max: 8192
        }
    ));

    // dumps refuses what loads would refuse.
    let big = "x".repeat(10_000);
    assert!(matches!(
        s.dumps(&big),
        Err(Error::TooLong { max: 8192, .. })
    ));
    let huge = vec![0u64; 10_000_000];
    assert!(matches!(s.dumps(&huge), Err(Error::TooLong { .. })));

    // The limit is on the token string, exactly.
    let small = s.clone().max_token_len(103);
    let token = small.dumps(&seed()).unwrap();
    assert_eq!(small.loads::<Session>(&token).unwrap(), seed());
    let smaller = s.clone().max_token_len(102);
    assert!(matches!(
        smaller.dumps(&seed()),
        Err(Error::TooLong { len: 103, max: 102 })
    ));
    assert!(matches!(
        smaller.loads::<Session>(&token),
        Err(Error::TooLong { len: 103, max: 102 })
    ));

    // Raised limits are capped at 64 KiB.
    let capped = s.max_token_len(usize::MAX);
    assert!(capped.dumps(&"x".repeat(40_000)).is_ok());
    let err = capped.dumps(&"x".repeat(50_000)).unwrap_err();
    assert!(matches!(err, Error::TooLong { max: 65536, .. }), "{err:?}");
    assert!(matches!(
        capped.loads::<String>(&"A".repeat(65537)),
        Err(Error::TooLong { .. })
    ));
}

#[test]
fn payload_type_mismatch() {
    let s = hour_serializer();
    let token = s.dumps(&vec![1, 2, 3]).unwrap();
    assert!(matches!(s.loads::<Session>(&token), Err(Error::Payload)));
    assert!(matches!(s.loads::<String>(&token), Err(Error::Payload)));
    assert_eq!(s.loads::<Vec<u8>>(&token).unwrap(), [1, 2, 3]);
}

#[test]
fn new_fields_with_defaults_load_old_tokens() {
    #[derive(Deserialize, Debug, PartialEq)]
    struct SessionV2 {
        user_id: String,
        role: String,
        #[serde(default)]
        theme: Option<String>,
    }
    let s = hour_serializer();
    let token = s.dumps(&seed()).unwrap();
    let v2: SessionV2 = s.loads(&token).unwrap();
    assert_eq!(v2.user_id, "123");
    assert_eq!(v2.theme, None);
}

#[test]
fn error_messages_are_fixed_text() {
    let s = hour_serializer();
    let token = s.dumps_at(&seed(), at(T0)).unwrap();
    let mut tampered = token.clone().into_bytes();
    tampered[60] = if tampered[60] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let errors = [
        s.loads_at::<Session>("secret-looking-input!!", at(T0))
            .unwrap_err(),
        s.loads_at::<Session>(&tampered, at(T0)).unwrap_err(),
        s.loads_at::<Session>(&token, at(T0 + 7200)).unwrap_err(),
        s.loads_at::<String>(&token, at(T0)).unwrap_err(),
        s.loads_at::<Session>(&"A".repeat(9000), at(T0))
            .unwrap_err(),
    ];
    for e in errors {
        let text = format!("{e} {e:?}");
        for needle in [
            "secret-looking",
            "admin",
            "123",
            &token[..20],
            &tampered[40..60],
        ] {
            assert!(!text.contains(needle), "{text} contains {needle}");
        }
    }
}

#[test]
fn weak_and_malformed_keys() {
    let err = SecretKey::from_bytes(&[9u8; 31]).unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::TooShort { min: 32, got: 31 });
    assert_eq!(
        err.to_string(),
        "secret key is too short: need at least 32 bytes, got 31"
    );
    assert_eq!(
        SecretKey::from_bytes(&[]).unwrap_err().kind(),
        KeyErrorKind::TooShort { min: 32, got: 0 }
    );
    assert_eq!(
        SecretKey::from_base64("c2hvcnQ").unwrap_err().kind(),
        KeyErrorKind::TooShort { min: 32, got: 5 }
    );
    for bad in ["", "not base64 at all!", "AAAA*AAA", "A"] {
        let err = SecretKey::from_base64(bad).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                KeyErrorKind::NotBase64 | KeyErrorKind::TooShort { .. }
            ),
            "{bad:?}: {err:?}"
        );
        assert!(bad.len() < 4 || !err.to_string().contains(bad));
    }
    // Both alphabets, padded or not, surrounding whitespace ignored.
    let bytes: Vec<u8> = (0..32).map(|i| i * 8 + 3).collect();
    let id = SecretKey::from_bytes(&bytes).unwrap().key_id();
    let std = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let url = URL_SAFE_NO_PAD.encode(&bytes);
    for text in [
        std.clone(),
        std.trim_end_matches('=').to_string(),
        url.clone(),
        format!(" {url}\n"),
    ] {
        assert_eq!(
            SecretKey::from_base64(&text).unwrap().key_id(),
            id,
            "{text}"
        );
    }
    let key = SecretKey::from_bytes(&bytes).unwrap();
    assert_eq!(*key.to_base64(), url);
}

#[test]
fn generated_keys_are_distinct() {
    let ids: std::collections::HashSet<_> =
        (0..64).map(|_| SecretKey::generate().key_id()).collect();
    assert_eq!(ids.len(), 64);
}

#[test]
fn debug_output_never_shows_secrets() {
    let bytes: Vec<u8> = (100..132).collect();
    let key = SecretKey::from_bytes(&bytes).unwrap();
    let b64 = key.to_base64().to_string();
    let debug = format!("{key:?} {key:#?}");
    assert!(debug.contains("redacted"));
    assert!(debug.contains(&key.key_id().to_string()));
    let id = key.key_id();
    let s = TimedSerializer::with_keys([key, SecretKey::generate()], "session")
        .unwrap()
        .max_age(Duration::from_secs(90));
    // What the serializer's Debug does show: the key ids and the configuration.
    let shown = format!("{s:?}");
    assert!(
        shown.starts_with(&format!("TimedSerializer {{ key_ids: [KeyId({id}), KeyId(")),
        "{shown}"
    );
    assert!(shown.contains("expiry: After(90s)"), "{shown}");
    let debug = format!("{debug} {s:?} {s:#?}");
    let decimal = format!("{:?}", &bytes[..4])
        .trim_end_matches(']')
        .to_string();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    for needle in [&b64[..12], &decimal, &hex[..16], "100, 101, 102"] {
        assert!(!debug.contains(needle), "Debug leaks {needle}: {debug}");
    }
}

#[test]
fn keys_from_the_environment() {
    let a = SecretKey::from_bytes(&[3; 32]).unwrap();
    let b = SecretKey::from_bytes(&[4; 40]).unwrap();
    let value = format!("{}, {} ,", a.to_base64().as_str(), b.to_base64().as_str());
    // SAFETY-free: std::env::set_var is safe on edition 2021; names are unique to this test.
    std::env::set_var("ITSCLASSIFIED_TEST_KEYS", &value);
    let keys = SecretKey::list_from_env("ITSCLASSIFIED_TEST_KEYS").unwrap();
    assert_eq!(
        keys.iter().map(SecretKey::key_id).collect::<Vec<_>>(),
        vec![a.key_id(), b.key_id()]
    );
    std::env::set_var("ITSCLASSIFIED_TEST_ONE", a.to_base64().as_str());
    assert_eq!(
        SecretKey::from_env("ITSCLASSIFIED_TEST_ONE")
            .unwrap()
            .key_id(),
        a.key_id()
    );

    let err = SecretKey::list_from_env("ITSCLASSIFIED_TEST_UNSET").unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::Missing);
    assert!(
        matches!(err.origin(), Some(KeyOrigin::Env { var, entry: None }) if var == "ITSCLASSIFIED_TEST_UNSET")
    );

    let short = URL_SAFE_NO_PAD.encode([5u8; 16]);
    std::env::set_var(
        "ITSCLASSIFIED_TEST_BAD",
        format!("{},{short}", a.to_base64().as_str()),
    );
    let err = SecretKey::list_from_env("ITSCLASSIFIED_TEST_BAD").unwrap_err();
    let text = err.to_string();
    assert_eq!(
        text,
        "environment variable ITSCLASSIFIED_TEST_BAD, key 2: secret key is too short: need at least 32 bytes, got 16"
    );
    assert!(!text.contains(&short));
    assert!(
        matches!(err.origin(), Some(KeyOrigin::Env { entry: Some(2), .. })),
        "{err:?}"
    );

    std::env::set_var("ITSCLASSIFIED_TEST_EMPTY", " , ");
    let err = SecretKey::list_from_env("ITSCLASSIFIED_TEST_EMPTY").unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::Empty);
    assert_eq!(
        err.to_string(),
        "environment variable ITSCLASSIFIED_TEST_EMPTY: no secret key was given"
    );
}

#[test]
fn a_key_passed_where_its_name_belongs_is_not_echoed() {
    // A secret pasted in place of a variable's name or a file's path: the error must not carry
    // it into a log, in its message or its Debug form.
    let secret = SecretKey::from_bytes(&[42; 32]).unwrap().to_base64();
    let padded = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    for text in [secret.as_str(), padded.as_str()] {
        let errors = [
            SecretKey::from_env(text).unwrap_err(),
            SecretKey::list_from_env(text).unwrap_err(),
            SecretKey::from_file(text).unwrap_err(),
            SecretKey::list_from_file(text).unwrap_err(),
        ];
        for err in errors {
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains(text), "{shown}");
            assert!(shown.contains(KeyOrigin::WITHHELD), "{shown}");
        }
    }
    // An ordinary name is shown, so that the operator knows which one to fix.
    let err = SecretKey::from_env("ITSCLASSIFIED_TEST_NOT_A_KEY_BUT_A_LONG_NAME_OF_FORTY_FOUR")
        .unwrap_err();
    assert!(err
        .to_string()
        .contains("ITSCLASSIFIED_TEST_NOT_A_KEY_BUT_A_LONG_NAME_OF_FORTY_FOUR"));
}

#[test]
fn keys_from_a_file() {
    let dir = std::env::temp_dir().join(format!("itsclassified-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let a = SecretKey::from_bytes(&[6; 32]).unwrap();
    let b = SecretKey::from_bytes(&[7; 32]).unwrap();
    let path = dir.join("keys");
    std::fs::write(
        &path,
        format!(
            "# primary\n{}\n\n  {}  \n",
            a.to_base64().as_str(),
            b.to_base64().as_str()
        ),
    )
    .unwrap();
    let keys = SecretKey::list_from_file(&path).unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].key_id(), a.key_id());
    let err = SecretKey::from_file(&path).unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::Multiple);
    assert!(matches!(err.origin(), Some(KeyOrigin::File { path: p, line: None }) if *p == path));

    let bad = dir.join("bad");
    std::fs::write(
        &bad,
        format!("{}\n# old\nnot*base64\n", a.to_base64().as_str()),
    )
    .unwrap();
    let text = SecretKey::list_from_file(&bad).unwrap_err().to_string();
    assert!(
        text.contains(&format!("key file {}, line 3", bad.display())),
        "{text}"
    );
    assert!(text.contains("not valid base64"), "{text}");
    assert!(!text.contains("not*base64"), "{text}");

    let big = dir.join("big");
    std::fs::write(&big, "#".repeat(64 * 1024 + 1)).unwrap();
    let err = SecretKey::list_from_file(&big).unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::FileTooLarge { max: 64 * 1024 });
    assert!(matches!(err.origin(), Some(KeyOrigin::File { path, .. }) if *path == big));
    assert!(err.to_string().contains("larger than 64 KiB"), "{err}");
    // Exactly at the limit is still read (and holds no key).
    let limit = dir.join("limit");
    std::fs::write(&limit, "#".repeat(64 * 1024)).unwrap();
    assert_eq!(
        SecretKey::list_from_file(&limit).unwrap_err().kind(),
        KeyErrorKind::Empty
    );
    #[cfg(unix)]
    {
        // A device with no length to go by is read up to the limit, then refused.
        assert_eq!(
            SecretKey::list_from_file("/dev/zero").unwrap_err().kind(),
            KeyErrorKind::FileTooLarge { max: 64 * 1024 }
        );
    }

    let binary = dir.join("binary");
    std::fs::write(&binary, [0xff, 0xfe, b'\n']).unwrap();
    assert_eq!(
        SecretKey::list_from_file(&binary).unwrap_err().kind(),
        KeyErrorKind::Unreadable
    );

    let missing = dir.join("missing");
    let err = SecretKey::from_file(&missing).unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::Unreadable);
    assert!(matches!(err.origin(), Some(KeyOrigin::File { path, .. }) if *path == missing));
    assert!(err.to_string().contains("missing"));
    let io = std::error::Error::source(&err).and_then(|e| e.downcast_ref::<std::io::Error>());
    assert_eq!(
        io.map(std::io::Error::kind),
        Some(std::io::ErrorKind::NotFound)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn untrusted_header_reads_without_a_key() {
    let s = hour_serializer();
    let token = s.dumps_at(&seed(), at(T0)).unwrap();
    let h = untrusted_header(&token).unwrap();
    assert_eq!(h.untrusted_version(), 1);
    assert_eq!(h.untrusted_key_id(), s.primary_key_id());
    assert_eq!(h.untrusted_issued_at_unix(), T0);
    assert_eq!(h.untrusted_issued_at(), Some(at(T0)));
    assert!(matches!(untrusted_header("AAAA"), Err(Error::Malformed)));
    assert!(matches!(
        untrusted_header(&"A".repeat(70_000)),
        Err(Error::TooLong { .. })
    ));
}

#[test]
fn shared_across_eight_threads() {
    let s = hour_serializer();
    std::thread::scope(|scope| {
        for t in 0..8u32 {
            let s = s.clone();
            scope.spawn(move || {
                for i in 0..200u32 {
                    let value = (t, i, format!("thread {t} item {i}"));
                    let token = s.dumps(&value).unwrap();
                    assert_eq!(s.loads::<(u32, u32, String)>(&token).unwrap(), value);
                }
            });
        }
    });
}

#[test]
fn send_and_sync() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<TimedSerializer>();
    assert_send_sync::<SecretKey>();
    assert_send_sync::<Error>();
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
enum Role {
    Admin,
    Viewer { since: u64 },
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Rich {
    name: String,
    n: i64,
    f: Option<f64>,
    tags: Vec<String>,
    map: BTreeMap<String, u32>,
    role: Role,
    bytes: Vec<u8>,
}

fn rich() -> impl Strategy<Value = Rich> {
    (
        ".*",
        any::<i64>(),
        proptest::option::of(-1e300f64..1e300),
        proptest::collection::vec(".{0,8}", 0..8),
        proptest::collection::btree_map(".{0,8}", any::<u32>(), 0..8),
        prop_oneof![
            Just(Role::Admin),
            any::<u64>().prop_map(|since| Role::Viewer { since })
        ],
        proptest::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(name, n, f, tags, map, role, bytes)| Rich {
            name,
            n,
            f,
            tags,
            map,
            role,
            bytes,
        })
}

proptest! {
    #[test]
    fn arbitrary_payloads_round_trip(value in rich(), iat in 0u64..=u64::from(u32::MAX) * 4) {
        let s = TimedSerializer::new(key(1), "prop").no_expiry();
        let token = s.dumps_at(&value, at(iat)).unwrap();
        let loaded = s.loads_with_meta_at::<Rich>(&token, at(iat)).unwrap();
        prop_assert_eq!(loaded.payload, value);
        prop_assert_eq!(loaded.meta.issued_at, at(iat));
    }

    #[test]
    fn arbitrary_strings_never_load(input in ".{0,200}") {
        let s = hour_serializer();
        prop_assert!(s.loads::<serde_json::Value>(&input).is_err());
    }

    #[test]
    fn arbitrary_raw_tokens_never_load(raw in proptest::collection::vec(any::<u8>(), 0..200)) {
        let s = hour_serializer();
        let err = s.loads::<serde_json::Value>(&URL_SAFE_NO_PAD.encode(&raw)).unwrap_err();
        prop_assert!(err.is_rejection());
    }
}

/// `depth` arrays around `inner`.
fn nested(depth: usize, inner: serde_json::Value) -> serde_json::Value {
    (0..depth).fold(inner, |v, _| serde_json::Value::Array(vec![v]))
}

#[test]
fn dumps_refuses_a_value_too_deep_to_load() {
    let s = hour_serializer();
    // A value may sit inside at most 128 containers (SPEC.md): 128 arrays around 1 load ...
    let deepest = nested(128, serde_json::json!(1));
    let token = s.dumps_at(&deepest, at(T0)).unwrap();
    assert_eq!(
        s.loads_at::<serde_json::Value>(&token, at(T0)).unwrap(),
        deepest
    );
    // ... and so do 129 arrays whose innermost is empty: the empty array holds no value.
    let empty_inside = nested(128, serde_json::json!([]));
    let token = s.dumps_at(&empty_inside, at(T0)).unwrap();
    assert_eq!(
        s.loads_at::<serde_json::Value>(&token, at(T0)).unwrap(),
        empty_inside
    );
    // One more level around 1 could never load, so it is refused when it is made.
    let err = s
        .dumps_at(&nested(129, serde_json::json!(1)), at(T0))
        .unwrap_err();
    assert!(matches!(err, Error::TooDeep { max: 128 }), "{err:?}");
    assert!(!err.is_rejection());
    // Maps count as containers too.
    let maps = (0..129).fold(serde_json::json!(1), |v, _| serde_json::json!({ "k": v }));
    assert!(matches!(
        s.dumps_at(&maps, at(T0)),
        Err(Error::TooDeep { .. })
    ));
}

#[test]
fn a_cloned_key_is_the_same_key_and_as_redacted() {
    let key = SecretKey::generate();
    let copy = key.clone();
    assert_eq!(copy.key_id(), key.key_id());
    assert_eq!(format!("{copy:?}"), format!("{key:?}"));
    assert!(format!("{copy:?}").contains("<redacted>"));
    // One ring read once, two purposes.
    let tokens = TimedSerializer::new(key, "a").no_expiry();
    let again = TimedSerializer::new(copy, "a").no_expiry();
    assert_eq!(again.loads::<u8>(&tokens.dumps(&7u8).unwrap()).unwrap(), 7);
}

// Siblings: one key ring, several purposes (TimedSerializer::with_salt).

#[test]
fn a_sibling_makes_and_reads_the_tokens_of_a_serializer_built_for_its_salt() {
    let api = TimedSerializer::with_keys([key(1), key(2)], "api-token")
        .unwrap()
        .max_age(HOUR);
    let sibling = api.with_salt("session").max_age(HOUR);
    let built = TimedSerializer::with_keys([key(1), key(2)], "session")
        .unwrap()
        .max_age(HOUR);
    assert_eq!(sibling.key_ids(), built.key_ids());
    assert_eq!(sibling.primary_key_id(), key(1).key_id());
    for (from, to, direction) in [
        (&sibling, &built, "sibling -> built"),
        (&built, &sibling, "built -> sibling"),
    ] {
        let token = from.dumps_at(&seed(), at(T0)).unwrap();
        let loaded = to.loads_with_meta_at::<Session>(&token, at(T0)).unwrap();
        assert_eq!(loaded.payload, seed(), "{direction}");
        assert!(loaded.meta.is_primary(), "{direction}");
    }
    // A token made under a fallback key loads in the sibling too.
    let old = TimedSerializer::new(key(2), "session")
        .dumps_at(&seed(), at(T0))
        .unwrap();
    let loaded = sibling.loads_with_meta_at::<Session>(&old, at(T0)).unwrap();
    assert_eq!(loaded.meta.key_index, 1);
}

#[test]
fn siblings_of_different_salts_cannot_read_each_other() {
    let parent = TimedSerializer::new(key(1), "api-token").max_age(HOUR);
    let sessions = parent.with_salt("session").max_age(HOUR);
    let resets = sessions.with_salt("password-reset").max_age(HOUR);
    let members = [&parent, &sessions, &resets];
    for (i, from) in members.iter().enumerate() {
        let token = from.dumps_at(&seed(), at(T0)).unwrap();
        for (j, to) in members.iter().enumerate() {
            let loaded = to.loads_at::<Session>(&token, at(T0));
            if i == j {
                assert_eq!(loaded.unwrap(), seed());
            } else {
                assert!(
                    matches!(loaded, Err(Error::Invalid)),
                    "{i} -> {j}: {loaded:?}"
                );
            }
        }
    }
}

#[test]
fn a_sibling_of_the_same_salt_is_the_same_purpose() {
    let s = hour_serializer();
    let twin = s.with_salt("session").max_age(HOUR);
    let token = s.dumps_at(&seed(), at(T0)).unwrap();
    assert_eq!(twin.loads_at::<Session>(&token, at(T0)).unwrap(), seed());
}

#[test]
fn a_sibling_starts_with_the_default_policy_not_its_parent_s() {
    let parent = TimedSerializer::new(key(1), "api-token")
        .max_age(HOUR)
        .leeway(Duration::from_secs(5))
        .max_token_len(300);
    let sibling = parent.with_salt("session");
    assert_eq!(sibling.configured_expiry(), itsclassified::Expiry::NotSet);
    assert_eq!(sibling.configured_leeway(), TimedSerializer::DEFAULT_LEEWAY);
    assert_eq!(
        sibling.configured_max_token_len(),
        TimedSerializer::DEFAULT_MAX_TOKEN_LEN
    );
    // Forgetting to choose its expiry is the error it is on a new serializer.
    let token = sibling.dumps(&seed()).unwrap();
    assert!(matches!(
        sibling.loads::<Session>(&token),
        Err(Error::MaxAgeNotSet)
    ));
    // And the parent keeps its own.
    assert_eq!(parent.configured_max_token_len(), 300);
}

#[test]
fn a_serializer_s_debug_shows_key_ids_and_no_key_material() {
    let s = TimedSerializer::with_keys([key(1), key(2)], "s").unwrap();
    let sibling = s.with_salt("other");
    for shown in [format!("{s:?}"), format!("{sibling:?}")] {
        assert!(
            shown.contains(&format!("KeyId({})", key(1).key_id())),
            "{shown}"
        );
        assert!(!shown.contains("1, 1, 1"), "{shown}");
        assert!(!shown.contains(&"01".repeat(32)), "{shown}");
    }
}
