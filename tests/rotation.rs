//! Key rotation across a fleet, and key reload at run time (feature `reload`).
//!
//! Two serializers stand for two instances of a service that are updated one after the other
//! (a rolling deploy): at every moment of every phase, a token made by either loads on both.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use itsclassified::{Error, KeyErrorKind, SecretKey, TimedSerializer};

const MAX_AGE: Duration = Duration::from_secs(3600);

fn key(n: u8) -> SecretKey {
    SecretKey::from_bytes(&[n; 32]).unwrap()
}

fn instance(keys: &[u8]) -> TimedSerializer {
    TimedSerializer::with_keys(keys.iter().map(|&n| key(n)), "session")
        .unwrap()
        .max_age(MAX_AGE)
}

/// Tokens of each instance load on the other.
fn assert_interoperate(a: &TimedSerializer, b: &TimedSerializer, phase: &str) {
    let now = SystemTime::now();
    for (from, to, direction) in [(a, b, "a -> b"), (b, a, "b -> a")] {
        let token = from.dumps_at(&phase, now).unwrap();
        let loaded = to.loads_at::<String>(&token, now);
        assert_eq!(loaded.ok().as_deref(), Some(phase), "{phase}: {direction}");
    }
}

#[test]
fn the_three_phases_of_a_rotation_keep_a_rolling_deploy_working() {
    const OLD: u8 = 1;
    const NEW: u8 = 2;
    let (a, b) = (instance(&[OLD]), instance(&[OLD]));
    let before = a.dumps("made before the rotation").unwrap();
    assert_interoperate(&a, &b, "start");

    // Phase 1: the new key as a fallback, one instance after the other.
    a.replace_keys([key(OLD), key(NEW)]).unwrap();
    assert_interoperate(&a, &b, "phase 1, a updated");
    b.replace_keys([key(OLD), key(NEW)]).unwrap();
    assert_interoperate(&a, &b, "phase 1, both updated");

    // Phase 2: the new key primary, one instance after the other. Had phase 1 been skipped,
    // b would refuse a's new tokens here with UnknownKey.
    a.replace_keys([key(NEW), key(OLD)]).unwrap();
    assert_eq!(a.primary_key_id(), key(NEW).key_id());
    assert_interoperate(&a, &b, "phase 2, a updated");
    b.replace_keys([key(NEW), key(OLD)]).unwrap();
    assert_interoperate(&a, &b, "phase 2, both updated");
    // Old tokens still load, under the fallback key, until they expire.
    let loaded = b.loads_with_meta::<String>(&before).unwrap();
    assert!(!loaded.meta.is_primary());

    // Phase 3, after max_age + leeway: the old key goes, one instance after the other.
    a.replace_keys([key(NEW)]).unwrap();
    assert_interoperate(&a, &b, "phase 3, a updated");
    b.replace_keys([key(NEW)]).unwrap();
    assert_interoperate(&a, &b, "phase 3, both updated");
    assert!(matches!(b.loads::<String>(&before), Err(Error::UnknownKey)));
}

#[test]
fn prepending_the_new_key_everywhere_at_once_breaks_a_rolling_deploy() {
    // The recipe the README used to give: what phase 1 exists for.
    let (a, b) = (instance(&[1]), instance(&[1]));
    a.replace_keys([key(2), key(1)]).unwrap();
    let token = a.dumps("x").unwrap();
    assert!(matches!(b.loads::<String>(&token), Err(Error::UnknownKey)));
}

#[test]
fn a_failed_replacement_keeps_the_ring_in_force() {
    let s = instance(&[1]);
    let token = s.dumps("x").unwrap();
    let err = s.replace_keys([key(2), key(2)]).unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::Duplicate);
    let err = s.replace_keys(Vec::new()).unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::Empty);
    assert_eq!(s.loads::<String>(&token).unwrap(), "x");
    assert_eq!(s.key_ids(), [key(1).key_id()]);
}

#[test]
fn clones_share_the_ring_but_not_the_salt_of_another_serializer() {
    let s = instance(&[1]);
    let clone = s.clone().max_age(Duration::from_secs(5));
    s.replace_keys([key(3)]).unwrap();
    assert_eq!(clone.primary_key_id(), key(3).key_id());
    // The new ring is derived for the serializer's own salt.
    let token = clone.dumps("x").unwrap();
    let other_salt = TimedSerializer::new(key(3), "other").max_age(MAX_AGE);
    assert!(matches!(
        other_salt.loads::<String>(&token),
        Err(Error::Invalid)
    ));
    assert_eq!(s.loads::<String>(&token).unwrap(), "x");
}

#[test]
fn no_request_sees_a_half_swapped_ring() {
    // Four threads load and make tokens while the main thread swaps the ring back and forth
    // between [1, 2] and [3, 1, 2]. Keys 1 and 2 are in both, so their tokens must always
    // load, and the position reported must be the key's position in one complete ring: key 1
    // at 0 or 1, key 2 at 1 or 2, and never key 1 at 2 or key 2 at 0, which only a ring made
    // of pieces of both could give.
    let s = instance(&[1, 2]);
    let ids = [key(1).key_id(), key(2).key_id(), key(3).key_id()];
    let tokens = Arc::new([
        TimedSerializer::new(key(1), "session").dumps("k1").unwrap(),
        TimedSerializer::new(key(2), "session").dumps("k2").unwrap(),
    ]);
    let stop = Arc::new(AtomicBool::new(false));
    let loads = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let (s, tokens, stop, loads) = (s.clone(), tokens.clone(), stop.clone(), loads.clone());
            std::thread::spawn(move || {
                let mut i = t;
                // Bounded: stops when told, or after 200,000 rounds.
                while !stop.load(Ordering::Relaxed) && i < 200_000 {
                    let meta = s.loads_with_meta::<String>(&tokens[i % 2]).unwrap().meta;
                    let allowed: &[usize] = if meta.key_id == ids[0] {
                        &[0, 1]
                    } else {
                        &[1, 2]
                    };
                    assert!(allowed.contains(&meta.key_index), "{meta:?}");
                    // New tokens are made under the primary of one complete ring: 1 or 3.
                    let made = s.dumps("fresh").unwrap();
                    let primary = itsclassified::untrusted_header(&made)
                        .unwrap()
                        .untrusted_key_id();
                    assert!(primary == ids[0] || primary == ids[2], "{primary}");
                    loads.fetch_add(1, Ordering::Relaxed);
                    i += 4;
                }
            })
        })
        .collect();
    for n in 0..2_000 {
        if n % 2 == 0 {
            s.replace_keys([key(3), key(1), key(2)]).unwrap();
        } else {
            s.replace_keys([key(1), key(2)]).unwrap();
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("a worker saw an inconsistent ring");
    }
    assert!(loads.load(Ordering::Relaxed) > 0);
}

// Families: a serializer and its siblings (with_salt) share the key ring and its reloads.

#[test]
fn replacing_the_keys_of_a_sibling_replaces_the_parent_s_and_the_other_way_round() {
    let parent = instance(&[1]);
    let sibling = parent.with_salt("api-token").max_age(MAX_AGE);
    let clone = sibling.clone();

    sibling.replace_keys([key(2), key(1)]).unwrap();
    assert_eq!(parent.key_ids(), [key(2).key_id(), key(1).key_id()]);
    assert_interoperate(
        &parent,
        &instance(&[2, 1]),
        "parent after the sibling's reload",
    );

    parent.replace_keys([key(3)]).unwrap();
    assert_eq!(clone.key_ids(), [key(3).key_id()]);
    // Each is derived for its own salt: a serializer built for it reads its tokens.
    let built = TimedSerializer::new(key(3), "api-token").max_age(MAX_AGE);
    assert_interoperate(&sibling, &built, "sibling after the parent's reload");
    assert_interoperate(&clone, &built, "a clone of the sibling");
}

#[test]
fn a_sibling_of_a_sibling_is_in_the_family_too() {
    let parent = instance(&[1]);
    let grandchild = parent.with_salt("a").with_salt("b").max_age(MAX_AGE);
    grandchild.replace_keys([key(2)]).unwrap();
    assert_eq!(parent.primary_key_id(), key(2).key_id());
    parent.replace_keys([key(3)]).unwrap();
    assert_eq!(grandchild.primary_key_id(), key(3).key_id());
}

#[test]
fn a_sibling_made_after_a_replacement_has_the_new_keys() {
    let parent = instance(&[1]);
    parent.replace_keys([key(2), key(1)]).unwrap();
    let sibling = parent.with_salt("session-2").max_age(MAX_AGE);
    assert_eq!(sibling.key_ids(), [key(2).key_id(), key(1).key_id()]);
    let built = TimedSerializer::with_keys([key(2), key(1)], "session-2")
        .unwrap()
        .max_age(MAX_AGE);
    assert_interoperate(&sibling, &built, "made after the reload");
}

#[test]
fn a_failed_replacement_changes_no_member_of_the_family() {
    let parent = instance(&[1, 2]);
    let sibling = parent.with_salt("api-token").max_age(MAX_AGE);
    let tokens = [parent.dumps("p").unwrap(), sibling.dumps("s").unwrap()];
    let err = sibling.replace_keys([key(3), key(4), key(3)]).unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::Duplicate);
    let err = parent.replace_keys(Vec::new()).unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::Empty);
    for s in [&parent, &sibling] {
        assert_eq!(s.key_ids(), [key(1).key_id(), key(2).key_id()]);
    }
    assert_eq!(parent.loads::<String>(&tokens[0]).unwrap(), "p");
    assert_eq!(sibling.loads::<String>(&tokens[1]).unwrap(), "s");
    // And a sibling made now still has the keys in force.
    assert_eq!(
        parent.with_salt("x").key_ids(),
        [key(1).key_id(), key(2).key_id()]
    );
}

#[test]
fn a_family_reloads_with_dropped_siblings_and_siblings_made_meanwhile() {
    let parent = instance(&[1]);
    for n in 0..1_000u32 {
        // Made and dropped: the family neither keeps them nor trips over them.
        let sibling = parent.with_salt(n.to_be_bytes());
        assert_eq!(sibling.primary_key_id(), parent.primary_key_id());
    }
    let kept = parent.with_salt("kept").max_age(MAX_AGE);
    parent.replace_keys([key(2)]).unwrap();
    assert_eq!(kept.primary_key_id(), key(2).key_id());
}

#[test]
fn siblings_made_while_the_keys_are_replaced_end_with_the_last_ring() {
    let parent = instance(&[1]);
    let stop = Arc::new(AtomicBool::new(false));
    let maker = {
        let (parent, stop) = (parent.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut made = Vec::new();
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) && n < 1_000 {
                made.push(parent.with_salt(n.to_be_bytes()));
                n += 1;
            }
            made
        })
    };
    for n in 0..100 {
        parent
            .replace_keys([key(if n % 2 == 0 { 2 } else { 3 })])
            .unwrap();
    }
    parent.replace_keys([key(4)]).unwrap();
    stop.store(true, Ordering::Relaxed);
    let made = maker.join().unwrap();
    // Every sibling, made before, during or after any replacement, has the last keys.
    for s in &made {
        assert_eq!(s.primary_key_id(), key(4).key_id());
    }
}
