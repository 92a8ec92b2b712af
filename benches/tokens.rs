//! Cost per token: the crate against the limit (a hand-built pipeline of the same format from
//! the same primitives, and the bare AEAD) and against its peers, each in the same run.
//!
//!     cargo bench                       # everything (about 10 minutes)
//!     cargo bench -- --quick            # a quick look (about 2 minutes)
//!     cargo bench -- 'seal/seed'        # one group
//!     cargo bench --features ring       # the crate on the `ring` backend; the limit too
//!     RUSTFLAGS='--cfg poly1305_backend="soft"' cargo bench   # portable Poly1305 backend
//!
//! "limit (hand-built v1)" and "aead only" use the backend of the build (`chacha20poly1305`'s
//! XChaCha20Poly1305 by default, HChaCha20 + ring with `--features ring`); the ring build also
//! shows both on chacha20poly1305, suffixed "(chacha20poly1305)".

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{KeyInit, Tag, XChaCha20Poly1305, XNonce};
use criterion::measurement::WallTime;
use criterion::{criterion_group, BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use itsclassified::{SecretKey, TimedSerializer};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Session {
    user_id: String,
    role: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Blob {
    user_id: String,
    role: String,
    items: Vec<Item>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Item {
    id: u32,
    name: String,
    enabled: bool,
}

/// A struct whose MessagePack form is about `bytes` long.
fn blob(bytes: usize) -> Blob {
    let mut blob = Blob {
        user_id: "123".into(),
        role: "admin".into(),
        items: Vec::new(),
    };
    let mut id = 0;
    while rmp_serde::to_vec_named(&blob).unwrap().len() < bytes {
        blob.items.push(Item {
            id,
            name: format!("item number {id:05}"),
            enabled: id % 2 == 0,
        });
        id += 1;
    }
    blob
}

const SECRET: [u8; 32] = [7; 32];
const SALT: &str = "bench";
const HOUR: Duration = Duration::from_secs(3600);

fn serializer() -> TimedSerializer {
    TimedSerializer::new(SecretKey::from_bytes(&SECRET).unwrap(), SALT)
        .max_age(HOUR)
        .max_token_len(TimedSerializer::MAX_TOKEN_LEN_LIMIT)
}

/// XChaCha20-Poly1305 by hand: one implementation a backend.
trait HandAead: Sized {
    fn from_key(key: [u8; 32]) -> Self;
    fn seal(&self, nonce: &[u8; 24], aad: &[u8], buf: &mut [u8]) -> [u8; 16];
    fn open(&self, nonce: &[u8; 24], aad: &[u8], buf: &mut [u8], tag: &[u8; 16]);
}

impl HandAead for XChaCha20Poly1305 {
    fn from_key(key: [u8; 32]) -> Self {
        XChaCha20Poly1305::new(&key.into())
    }

    fn seal(&self, nonce: &[u8; 24], aad: &[u8], buf: &mut [u8]) -> [u8; 16] {
        self.encrypt_inout_detached(&XNonce::from(*nonce), aad, buf.into())
            .unwrap()
            .into()
    }

    fn open(&self, nonce: &[u8; 24], aad: &[u8], buf: &mut [u8], tag: &[u8; 16]) {
        self.decrypt_inout_detached(&XNonce::from(*nonce), aad, buf.into(), &Tag::from(*tag))
            .unwrap()
    }
}

/// draft-irtf-cfrg-xchacha section 2.3 by hand: HChaCha20 (the `chacha20` crate), then ring's
/// IETF ChaCha20-Poly1305 under the derived key with nonce `00000000 || nonce[16..24]`.
#[cfg(feature = "ring")]
struct RingXChaCha([u8; 32]);

#[cfg(feature = "ring")]
impl RingXChaCha {
    /// Runs `f` with the per-token key and nonce; a closure, so that ring's key (a few hundred
    /// bytes) is built in place rather than returned, as the crate does.
    #[inline(always)]
    fn with_ietf<R>(
        &self,
        nonce: &[u8; 24],
        f: impl FnOnce(&ring::aead::LessSafeKey, ring::aead::Nonce) -> R,
    ) -> R {
        let head: &[u8; 16] = nonce[..16].try_into().unwrap();
        let key = chacha20::hchacha::<chacha20::R20>((&self.0).into(), head.into());
        let key = ring::aead::UnboundKey::new(&ring::aead::CHACHA20_POLY1305, &key).unwrap();
        let mut n = [0u8; 12];
        n[4..].copy_from_slice(&nonce[16..]);
        f(
            &ring::aead::LessSafeKey::new(key),
            ring::aead::Nonce::assume_unique_for_key(n),
        )
    }
}

#[cfg(feature = "ring")]
impl HandAead for RingXChaCha {
    fn from_key(key: [u8; 32]) -> Self {
        RingXChaCha(key)
    }

    fn seal(&self, nonce: &[u8; 24], aad: &[u8], buf: &mut [u8]) -> [u8; 16] {
        let tag = self.with_ietf(nonce, |key, nonce| {
            key.seal_in_place_separate_tag(nonce, ring::aead::Aad::from(aad), buf)
                .unwrap()
        });
        tag.as_ref().try_into().unwrap()
    }

    fn open(&self, nonce: &[u8; 24], aad: &[u8], buf: &mut [u8], tag: &[u8; 16]) {
        self.with_ietf(nonce, |key, nonce| {
            key.open_in_place_separate_tag(
                nonce,
                ring::aead::Aad::from(aad),
                ring::aead::Tag::from(*tag),
                buf,
                0..,
            )
            .unwrap();
        })
    }
}

/// The AEAD of the crate in this build, by hand.
#[cfg(not(feature = "ring"))]
type Backend = XChaCha20Poly1305;
#[cfg(feature = "ring")]
type Backend = RingXChaCha;

/// The limit: exactly the v1 format, built by hand from the same primitives, with no checks
/// beyond what the primitives do (no size limit, no framing check, no expiry, no wipe).
struct Limit<A> {
    aead: A,
    key_id: u32,
}

impl<A: HandAead> Limit<A> {
    fn new(s: &TimedSerializer) -> Limit<A> {
        // The subkey is derived the same way as the crate does (SPEC.md section 1).
        let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"itsclassified/v1"), &SECRET);
        let mut key = [0u8; 32];
        hk.expand_multi_info(&[b"itsclassified/v1 enc ", SALT.as_bytes()], &mut key)
            .unwrap();
        Limit {
            aead: A::from_key(key),
            key_id: s.primary_key_id().get(),
        }
    }

    fn seal<T: Serialize>(&self, value: &T) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut buf = Vec::with_capacity(37 + 128 + 16);
        buf.push(1);
        buf.extend_from_slice(&self.key_id.to_be_bytes());
        buf.extend_from_slice(&now.to_be_bytes());
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).unwrap();
        buf.extend_from_slice(&nonce);
        rmp_serde::encode::write_named(&mut buf, value).unwrap();
        let (prefix, body) = buf.split_at_mut(37);
        let tag = self.aead.seal(&nonce, &prefix[..13], body);
        buf.extend_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(&buf)
    }

    fn open<T: DeserializeOwned>(&self, token: &str) -> T {
        let mut raw = URL_SAFE_NO_PAD.decode(token).unwrap();
        let len = raw.len();
        let (prefix, body) = raw.split_at_mut(37);
        let (ciphertext, tag) = body.split_at_mut(len - 37 - 16);
        let tag: &[u8; 16] = (&*tag).try_into().unwrap();
        let nonce: &[u8; 24] = prefix[13..].try_into().unwrap();
        self.aead.open(nonce, &prefix[..13], ciphertext, tag);
        rmp_serde::from_slice(&raw[37..len - 16]).unwrap()
    }
}

struct Peers {
    branca: branca::Branca,
    paseto: pasetors::keys::SymmetricKey<pasetors::version4::V4>,
    fernet: fernet::Fernet,
    cookie: cookie::Key,
}

impl Peers {
    fn new() -> Peers {
        Peers {
            branca: branca::Branca::new(&SECRET).unwrap(),
            paseto: pasetors::keys::SymmetricKey::from(&SECRET).unwrap(),
            fernet: fernet::Fernet::new(&fernet::Fernet::generate_key()).unwrap(),
            cookie: cookie::Key::generate(),
        }
    }
}

fn paseto_claims<T: Serialize>(value: &T) -> pasetors::claims::Claims {
    let mut claims = pasetors::claims::Claims::new().unwrap();
    claims
        .add_additional("data", serde_json::to_value(value).unwrap())
        .unwrap();
    claims
}

/// The limit on one backend, and its AEAD alone, in a `seal/...` group.
fn bench_limit_seal<A: HandAead, T: Serialize>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    suffix: &str,
    limit: &Limit<A>,
    value: &T,
) {
    g.bench_function(format!("limit (hand-built v1){suffix}"), |b| {
        b.iter(|| limit.seal(black_box(value)))
    });
    let plaintext = rmp_serde::to_vec_named(value).unwrap();
    g.bench_function(format!("aead only{suffix}"), |b| {
        let mut buf = plaintext.clone();
        b.iter(|| {
            buf.copy_from_slice(&plaintext);
            limit.aead.seal(&[1; 24], &[1; 13], &mut buf)
        })
    });
}

/// The limit on one backend, and its AEAD alone, in an `open/...` group.
fn bench_limit_open<A: HandAead, T>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    suffix: &str,
    limit: &Limit<A>,
    value: &T,
) where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let hand = limit.seal(value);
    assert_eq!(&limit.open::<T>(&hand), value);
    g.bench_function(format!("limit (hand-built v1){suffix}"), |b| {
        b.iter(|| limit.open::<T>(black_box(&hand)))
    });
    let plaintext = rmp_serde::to_vec_named(value).unwrap();
    let mut ciphertext = plaintext.clone();
    let tag = limit.aead.seal(&[1; 24], &[1; 13], &mut ciphertext);
    g.bench_function(format!("aead only{suffix}"), |b| {
        let mut buf = ciphertext.clone();
        b.iter(|| {
            buf.copy_from_slice(&ciphertext);
            limit.aead.open(&[1; 24], &[1; 13], &mut buf, &tag)
        })
    });
}

fn bench_payload<T>(c: &mut Criterion, name: &str, value: &T)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let s = serializer();
    let limit = Limit::<Backend>::new(&s);
    let mut peers = Peers::new();
    let msgpack_len = rmp_serde::to_vec_named(value).unwrap().len() as u64;
    let json = serde_json::to_vec(value).unwrap();

    // Make every token once, and check that each opens to the same value.
    let ours = s.dumps(value).unwrap();
    assert_eq!(&s.loads::<T>(&ours).unwrap(), value);
    let branca_token = peers.branca.encode(&json).unwrap();
    let paseto_raw =
        pasetors::version4::LocalToken::encrypt(&peers.paseto, &json, None, None).unwrap();
    let paseto_claims_token =
        pasetors::local::encrypt(&peers.paseto, &paseto_claims(value), None, None).unwrap();
    let fernet_token = peers.fernet.encrypt(&json);
    let mut jar = cookie::CookieJar::new();
    jar.private_mut(&peers.cookie).add(cookie::Cookie::new(
        "session",
        String::from_utf8(json.clone()).unwrap(),
    ));
    let cookie_value = jar.get("session").unwrap().value().to_string();

    let mut seal = c.benchmark_group(format!("seal/{name}"));
    seal.throughput(Throughput::Bytes(msgpack_len));
    seal.bench_function("itsclassified", |b| {
        b.iter(|| s.dumps(black_box(value)).unwrap())
    });
    bench_limit_seal(&mut seal, "", &limit, value);
    #[cfg(feature = "ring")]
    bench_limit_seal(
        &mut seal,
        " (chacha20poly1305)",
        &Limit::<XChaCha20Poly1305>::new(&s),
        value,
    );
    seal.bench_function("branca (json)", |b| {
        b.iter(|| {
            peers
                .branca
                .encode(&serde_json::to_vec(black_box(value)).unwrap())
                .unwrap()
        })
    });
    seal.bench_function("pasetors v4.local raw (json)", |b| {
        b.iter(|| {
            let json = serde_json::to_vec(black_box(value)).unwrap();
            pasetors::version4::LocalToken::encrypt(&peers.paseto, &json, None, None).unwrap()
        })
    });
    seal.bench_function("pasetors v4.local claims", |b| {
        b.iter(|| {
            pasetors::local::encrypt(&peers.paseto, &paseto_claims(black_box(value)), None, None)
                .unwrap()
        })
    });
    seal.bench_function("fernet (json)", |b| {
        b.iter(|| {
            peers
                .fernet
                .encrypt(&serde_json::to_vec(black_box(value)).unwrap())
        })
    });
    seal.bench_function("cookie private jar (json)", |b| {
        b.iter(|| {
            let mut jar = cookie::CookieJar::new();
            jar.private_mut(&peers.cookie).add(cookie::Cookie::new(
                "session",
                serde_json::to_string(black_box(value)).unwrap(),
            ));
            jar
        })
    });
    seal.finish();

    let mut open = c.benchmark_group(format!("open/{name}"));
    open.throughput(Throughput::Bytes(msgpack_len));
    open.bench_function("itsclassified", |b| {
        b.iter(|| s.loads::<T>(black_box(&ours)).unwrap())
    });
    bench_limit_open(&mut open, "", &limit, value);
    #[cfg(feature = "ring")]
    bench_limit_open(
        &mut open,
        " (chacha20poly1305)",
        &Limit::<XChaCha20Poly1305>::new(&s),
        value,
    );
    open.bench_function("branca (json)", |b| {
        b.iter(|| {
            let json = peers.branca.decode(black_box(&branca_token), 3600).unwrap();
            serde_json::from_slice::<T>(&json).unwrap()
        })
    });
    open.bench_function("pasetors v4.local raw (json)", |b| {
        b.iter(|| {
            let untrusted = pasetors::token::UntrustedToken::<
                pasetors::Local,
                pasetors::version4::V4,
            >::try_from(black_box(paseto_raw.as_str()))
            .unwrap();
            let trusted =
                pasetors::version4::LocalToken::decrypt(&peers.paseto, &untrusted, None, None)
                    .unwrap();
            serde_json::from_str::<T>(trusted.payload()).unwrap()
        })
    });
    let rules = pasetors::claims::ClaimsValidationRules::new();
    open.bench_function("pasetors v4.local claims", |b| {
        b.iter(|| {
            let untrusted = pasetors::token::UntrustedToken::<
                pasetors::Local,
                pasetors::version4::V4,
            >::try_from(black_box(paseto_claims_token.as_str()))
            .unwrap();
            let trusted =
                pasetors::local::decrypt(&peers.paseto, &untrusted, &rules, None, None).unwrap();
            let data = trusted.payload_claims().unwrap().get_claim("data").unwrap();
            serde_json::from_value::<T>(data.clone()).unwrap()
        })
    });
    open.bench_function("fernet (json)", |b| {
        b.iter(|| {
            let json = peers
                .fernet
                .decrypt_with_ttl(black_box(&fernet_token), 3600)
                .unwrap();
            serde_json::from_slice::<T>(&json).unwrap()
        })
    });
    open.bench_function("cookie private jar (json)", |b| {
        b.iter(|| {
            let mut jar = cookie::CookieJar::new();
            jar.add_original(cookie::Cookie::new(
                "session",
                black_box(cookie_value.clone()),
            ));
            let plain = jar.private(&peers.cookie).get("session").unwrap();
            serde_json::from_str::<T>(plain.value()).unwrap()
        })
    });
    open.finish();
}

fn payloads(c: &mut Criterion) {
    let seed = Session {
        user_id: "123".into(),
        role: "admin".into(),
    };
    bench_payload(c, "seed", &seed);
    bench_payload(c, "1KiB", &blob(1024));
    bench_payload(c, "16KiB", &blob(16 * 1024));
}

fn rejects(c: &mut Criterion) {
    let s = serializer();
    let seed = Session {
        user_id: "123".into(),
        role: "admin".into(),
    };
    let good = s.dumps(&seed).unwrap();
    let mut raw = URL_SAFE_NO_PAD.decode(&good).unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 1;
    let tampered = URL_SAFE_NO_PAD.encode(&raw);
    let expired = s.dumps_at(&seed, SystemTime::now() - 2 * HOUR).unwrap();
    let unknown = TimedSerializer::new(SecretKey::from_bytes(&[8; 32]).unwrap(), SALT)
        .dumps(&seed)
        .unwrap();
    let oversized = "A".repeat(TimedSerializer::MAX_TOKEN_LEN_LIMIT + 1);
    let mut malformed = good.clone();
    malformed.push('=');

    let mut g = c.benchmark_group("reject");
    for (name, token) in [
        ("success (for scale)", &good),
        ("tampered tag", &tampered),
        ("expired", &expired),
        ("unknown key", &unknown),
        ("oversized", &oversized),
        ("malformed", &malformed),
    ] {
        g.bench_function(name, |b| b.iter(|| s.loads::<Session>(black_box(token))));
    }
    g.finish();
}

fn keys(c: &mut Criterion) {
    let secrets: Vec<Vec<u8>> = (0..16u8).map(|i| vec![i; 32]).collect();
    let ring = |n: usize| {
        TimedSerializer::with_keys(
            secrets[..n]
                .iter()
                .map(|s| SecretKey::from_bytes(s).unwrap()),
            SALT,
        )
        .unwrap()
        .max_age(HOUR)
    };
    let mut g = c.benchmark_group("construct");
    for n in [1, 4, 16] {
        g.bench_with_input(BenchmarkId::new("keys", n), &n, |b, &n| b.iter(|| ring(n)));
    }
    g.finish();

    // Tokens under the last key of the ring: the key lookup's worst case.
    let seed = Session {
        user_id: "123".into(),
        role: "admin".into(),
    };
    let mut g = c.benchmark_group("ring");
    for n in [1usize, 4, 16] {
        let s = ring(n);
        let last = TimedSerializer::new(SecretKey::from_bytes(&secrets[n - 1]).unwrap(), SALT);
        let token = last.dumps(&seed).unwrap();
        g.bench_with_input(BenchmarkId::new("loads", n), &token, |b, token| {
            b.iter(|| s.loads::<Session>(black_box(token)).unwrap())
        });
    }
    g.finish();
}

fn threads(c: &mut Criterion) {
    let s = serializer();
    let seed = Session {
        user_id: "123".into(),
        role: "admin".into(),
    };
    let mut g = c.benchmark_group("threads/dumps+loads");
    g.throughput(Throughput::Elements(1));
    for n in [1u64, 2] {
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                std::thread::scope(|scope| {
                    for _ in 0..n {
                        scope.spawn(|| {
                            for _ in 0..iters.div_ceil(n) {
                                let token = s.dumps(black_box(&seed)).unwrap();
                                black_box(s.loads::<Session>(&token).unwrap());
                            }
                        });
                    }
                });
                start.elapsed()
            })
        });
    }
    g.finish();
}

/// Where the time of a seed token goes: each step of the pipeline alone.
fn parts(c: &mut Criterion) {
    let seed = Session {
        user_id: "123".into(),
        role: "admin".into(),
    };
    let s = serializer();
    let limit = Limit::<Backend>::new(&s);
    let token = s.dumps(&seed).unwrap();
    let raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
    let msgpack = rmp_serde::to_vec_named(&seed).unwrap();
    let mut g = c.benchmark_group("parts/seed");
    g.bench_function("nonce (getrandom, 24 bytes)", |b| {
        b.iter(|| {
            let mut nonce = [0u8; 24];
            getrandom::fill(&mut nonce).unwrap();
            nonce
        })
    });
    g.bench_function("clock (SystemTime::now)", |b| b.iter(SystemTime::now));
    g.bench_function("msgpack encode", |b| {
        b.iter(|| rmp_serde::to_vec_named(black_box(&seed)).unwrap())
    });
    g.bench_function("msgpack decode", |b| {
        b.iter(|| rmp_serde::from_slice::<Session>(black_box(&msgpack)).unwrap())
    });
    g.bench_function("base64 encode", |b| {
        b.iter(|| URL_SAFE_NO_PAD.encode(black_box(&raw)))
    });
    g.bench_function("base64 decode", |b| {
        b.iter(|| URL_SAFE_NO_PAD.decode(black_box(&token)).unwrap())
    });
    g.bench_function("aead seal (24-byte plaintext)", |b| {
        let mut buf = msgpack.clone();
        b.iter(|| {
            buf.copy_from_slice(&msgpack);
            limit.aead.seal(&[1; 24], &[1; 13], &mut buf)
        })
    });
    g.finish();
}

/// An interleaved harness for the seed token, a check on criterion on a shared machine: the
/// crate, the limit, fernet and branca take turns in batches of `BATCH` calls, in rotating
/// order, so that a change in the machine's load hits all of them alike; each round gives one
/// ratio per competitor to the crate, and the medians over `ROUNDS` rounds are printed.
///
///     ITSCLASSIFIED_INTERLEAVED=1 cargo bench --features ring --bench tokens
fn interleaved() {
    const ROUNDS: usize = 1500;
    const BATCH: u32 = 100;
    let seed = Session {
        user_id: "123".into(),
        role: "admin".into(),
    };
    let s = serializer();
    let limit = Limit::<Backend>::new(&s);
    let peers = Peers::new();
    let json = serde_json::to_vec(&seed).unwrap();
    let ours = s.dumps(&seed).unwrap();
    let hand = limit.seal(&seed);
    let fernet_token = peers.fernet.encrypt(&json);
    let branca_token = peers.branca.clone().encode(&json).unwrap();
    // `Branca::encode` takes `&mut self`.
    let branca = std::cell::RefCell::new(peers.branca.clone());

    type Case<'a> = (&'static str, Box<dyn Fn() + 'a>);
    let dumps: Vec<Case> = vec![
        (
            "itsclassified",
            Box::new(|| drop(black_box(s.dumps(black_box(&seed)).unwrap()))),
        ),
        (
            "limit (hand-built v1)",
            Box::new(|| drop(black_box(limit.seal(black_box(&seed))))),
        ),
        (
            "fernet (json)",
            Box::new(|| {
                drop(black_box(
                    peers
                        .fernet
                        .encrypt(&serde_json::to_vec(black_box(&seed)).unwrap()),
                ))
            }),
        ),
        (
            "branca (json)",
            Box::new(|| {
                drop(black_box(
                    branca
                        .borrow_mut()
                        .encode(&serde_json::to_vec(black_box(&seed)).unwrap())
                        .unwrap(),
                ))
            }),
        ),
    ];
    let loads: Vec<Case> = vec![
        (
            "itsclassified",
            Box::new(|| drop(black_box(s.loads::<Session>(black_box(&ours)).unwrap()))),
        ),
        (
            "limit (hand-built v1)",
            Box::new(|| drop(black_box(limit.open::<Session>(black_box(&hand))))),
        ),
        (
            "fernet (json)",
            Box::new(|| {
                let json = peers
                    .fernet
                    .decrypt_with_ttl(black_box(&fernet_token), 3600)
                    .unwrap();
                drop(black_box(serde_json::from_slice::<Session>(&json).unwrap()))
            }),
        ),
        (
            "branca (json)",
            Box::new(|| {
                let json = peers.branca.decode(black_box(&branca_token), 3600).unwrap();
                drop(black_box(serde_json::from_slice::<Session>(&json).unwrap()))
            }),
        ),
    ];
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    for (name, cases) in [("dumps seed", &dumps), ("loads seed", &loads)] {
        let n = cases.len();
        let mut ns: Vec<Vec<f64>> = vec![Vec::with_capacity(ROUNDS); n];
        let mut ratio: Vec<Vec<f64>> = vec![Vec::with_capacity(ROUNDS); n];
        for round in 0..ROUNDS {
            let mut this = vec![0f64; n];
            for k in 0..n {
                let i = (round + k) % n;
                let start = Instant::now();
                for _ in 0..BATCH {
                    (cases[i].1)();
                }
                this[i] = start.elapsed().as_nanos() as f64 / f64::from(BATCH);
            }
            for i in 0..n {
                ns[i].push(this[i]);
                ratio[i].push(this[i] / this[0]);
            }
        }
        println!("{name}: median over {ROUNDS} interleaved rounds of {BATCH} calls");
        for i in 0..n {
            println!(
                "  {:<24} {:>8.0} ns   time / itsclassified: {:.3}",
                cases[i].0,
                median(&mut ns[i]),
                median(&mut ratio[i])
            );
        }
    }
}

criterion_group!(benches, payloads, parts, rejects, keys, threads);

fn main() {
    if std::env::var_os("ITSCLASSIFIED_INTERLEAVED").is_some() {
        interleaved();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
