//! The added cost of a revocation check, against `loads` of the seed token in the same run:
//! `loads` alone, `loads` + a check in the in-memory store (target: under 10% more), and
//! `loads` + a check in Redis on loopback (one round trip).
//!
//!     cargo bench --features redis --bench revocation
//!
//! After criterion's groups it prints the same comparison measured interleaved (the median of
//! 31 per-round ratios), which a shared machine's drifting load does not skew.
//!
//! The Redis part needs the feature `redis` (without it, only the in-memory store is measured);
//! it starts its own `redis-server` on a free loopback port (no persistence, the same helper as
//! tests/revocation.rs) and is skipped, with a printed reason, when `redis-server` is not
//! installed (`scripts/install_redis.sh`); under `CI=true` a missing one is a failure.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
#[cfg(feature = "redis")]
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime};

use criterion::{criterion_group, Criterion};
#[cfg(feature = "redis")]
use itsclassified::revocation::RedisStore;
use itsclassified::revocation::{MemoryStore, RevocationStatus, RevocationStore};
use itsclassified::{SecretKey, TimedSerializer};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Session {
    user_id: String,
    role: String,
}

fn serializer() -> TimedSerializer {
    TimedSerializer::new(SecretKey::from_bytes(&[7; 32]).unwrap(), "bench")
        .max_age(Duration::from_secs(3600))
}

/// The output of a future that is ready when first polled (the in-memory store's are), without
/// an async runtime: what the check costs, not what a runtime adds.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the in-memory store's future was not ready"),
    }
}

/// A store with the revocations of a busy service: 10 000 revoked tokens, 1 000 cutoffs.
fn filled(store: &dyn RevocationStore, s: &TimedSerializer) {
    let until = SystemTime::now() + Duration::from_secs(3600);
    for i in 0..10_000u32 {
        let token = s.dumps(&i).unwrap();
        let meta = s.loads_with_meta::<u32>(&token).unwrap().meta;
        assert!(ready(store.revoke_token(meta.token_id, until)).unwrap());
    }
    for i in 0..1_000u32 {
        let subject = format!("user-{i}");
        ready(store.revoke_subject(&subject, SystemTime::now(), Duration::from_secs(3600)))
            .unwrap();
    }
}

#[cfg(feature = "redis")]
#[path = "../tests/redis_server/mod.rs"]
mod redis_server;

fn revocation(c: &mut Criterion) {
    let s = serializer();
    let seed = Session {
        user_id: "123".into(),
        role: "admin".into(),
    };
    let token = s.dumps(&seed).unwrap();
    let memory = MemoryStore::new();
    filled(&memory, &s);

    let mut g = c.benchmark_group("revocation/seed");
    g.bench_function("loads", |b| {
        b.iter(|| {
            let loaded = s.loads_with_meta::<Session>(black_box(&token)).unwrap();
            black_box(loaded)
        })
    });
    g.bench_function("loads+memory", |b| {
        b.iter(|| {
            let loaded = s.loads_with_meta::<Session>(black_box(&token)).unwrap();
            let status = ready(memory.check(&loaded.meta, Some(&loaded.payload.user_id)));
            assert_eq!(status.unwrap(), RevocationStatus::Active);
            black_box(loaded)
        })
    });
    // The check alone, for the absolute figure.
    let loaded = s.loads_with_meta::<Session>(&token).unwrap();
    g.bench_function("check-memory", |b| {
        b.iter(|| {
            let status =
                ready(memory.check(black_box(&loaded.meta), Some(&loaded.payload.user_id)));
            assert_eq!(status.unwrap(), RevocationStatus::Active);
        })
    });

    #[cfg(feature = "redis")]
    if let Some(server) = redis_server::RedisServer::start("revocation/seed/loads+redis") {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let redis: Arc<dyn RevocationStore> = Arc::new(
            runtime
                .block_on(RedisStore::connect(&server.url(), "bench:revoked:"))
                .unwrap(),
        );
        g.bench_function("loads+redis", |b| {
            b.iter(|| {
                let loaded = s.loads_with_meta::<Session>(black_box(&token)).unwrap();
                let status =
                    runtime.block_on(redis.check(&loaded.meta, Some(&loaded.payload.user_id)));
                assert_eq!(status.unwrap(), RevocationStatus::Active);
                black_box(loaded)
            })
        });
    }
    g.finish();
}

/// The same comparison interleaved, robust against the load of a shared machine drifting
/// between criterion's groups: 31 rounds, each timing 20 000 `loads` and 20 000 `loads` +
/// memory check back to back (in alternating order); the median of the per-round ratios.
fn interleaved() {
    let s = serializer();
    let token = s
        .dumps(&Session {
            user_id: "123".into(),
            role: "admin".into(),
        })
        .unwrap();
    let memory = MemoryStore::new();
    filled(&memory, &s);
    const N: u32 = 20_000;
    let plain = || {
        let started = Instant::now();
        for _ in 0..N {
            black_box(s.loads_with_meta::<Session>(black_box(&token)).unwrap());
        }
        started.elapsed()
    };
    let checked = || {
        let started = Instant::now();
        for _ in 0..N {
            let loaded = s.loads_with_meta::<Session>(black_box(&token)).unwrap();
            let status = ready(memory.check(&loaded.meta, Some(&loaded.payload.user_id)));
            assert_eq!(status.unwrap(), RevocationStatus::Active);
            black_box(loaded);
        }
        started.elapsed()
    };
    let mut ratios = Vec::new();
    let (mut plains, mut checks) = (Vec::new(), Vec::new());
    for round in 0..31 {
        let (p, c) = if round % 2 == 0 {
            let p = plain();
            (p, checked())
        } else {
            let c = checked();
            (plain(), c)
        };
        ratios.push(c.as_secs_f64() / p.as_secs_f64());
        plains.push(p.as_secs_f64() * 1e9 / f64::from(N));
        checks.push(c.as_secs_f64() * 1e9 / f64::from(N));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "interleaved (31 rounds of {N}): loads {:.0} ns, loads+memory {:.0} ns, median ratio {:.3} (+{:.1}%)",
        median(&mut plains),
        median(&mut checks),
        median(&mut ratios),
        (median(&mut ratios) - 1.0) * 100.0
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = revocation
}

fn main() {
    benches();
    // Only under `cargo bench` (which passes --bench), not in `cargo test --benches`.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    interleaved();
    Criterion::default().configure_from_args().final_summary();
}
