//! Where a serializer keeps its key ring: fixed for its lifetime, or, with the feature `reload`,
//! swappable at run time without blocking anyone (arc-swap: a `loads` in flight keeps the ring
//! it started with; the next one uses the new ring).
//!
//! Every clone of a serializer shares the cell, so a swap through one handle is seen by all
//! (the web layer and extractors hold clones).
//!
//! A cell also belongs to a family: the serializer it was made for and its siblings
//! ([`TimedSerializer::with_salt`](crate::TimedSerializer::with_salt)), one salt each, on one
//! key ring. The family keeps the ring's HKDF PRKs, from which a sibling's keys are derived for
//! its salt, and, with `reload`, a weak reference to the cell and the salt of each member, so
//! that a replacement of the keys through any member re-derives them for every member.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
#[cfg(feature = "reload")]
use std::sync::{Mutex, MutexGuard, PoisonError, Weak};

use crate::key::Prk;
use crate::seal::KeyRing;

/// The shared, possibly swappable, key ring of a serializer and its clones, and the family it
/// belongs to.
#[derive(Clone)]
pub(crate) struct RingCell {
    #[cfg(not(feature = "reload"))]
    ring: Arc<KeyRing>,
    #[cfg(feature = "reload")]
    ring: Arc<arc_swap::ArcSwap<KeyRing>>,
    family: Arc<Family>,
}

/// What a serializer and its siblings share: the PRKs of the key ring in force (primary
/// first) and, with `reload`, the members to re-derive when it is replaced.
///
/// Why the PRKs are kept: a sibling needs the keys derived for its own salt, and the secrets
/// are not kept (nor need be: the PRK of a secret is all that the derivations of SPEC.md read).
/// The cost is that a disclosure of the process's memory now yields the keys of every salt,
/// not only the subkeys of the salts in use. The PRKs are wiped on drop, when the last member
/// of the family is dropped or the keys are replaced.
pub(crate) struct Family {
    #[cfg(not(feature = "reload"))]
    prks: Vec<Prk>,
    #[cfg(feature = "reload")]
    state: Mutex<FamilyState>,
}

/// The family's mutable part, behind its lock: only `with_salt` and `replace_keys` take it,
/// never `dumps` or `loads`.
#[cfg(feature = "reload")]
struct FamilyState {
    prks: Vec<Prk>,
    /// One entry a cell made for a salt (clones share their cell and have none of their own).
    /// Dead entries are pruned whenever a member is added or the keys are replaced.
    members: Vec<Member>,
}

/// A member of a family, as the family sees it: its salt, and its cell if it is still alive.
/// The reference is weak, so that the family does not keep a dropped serializer's keys alive.
#[cfg(feature = "reload")]
struct Member {
    salt: Arc<[u8]>,
    ring: Weak<arc_swap::ArcSwap<KeyRing>>,
}

/// The ring as one operation sees it, start to end.
pub(crate) struct RingRef<'a> {
    #[cfg(not(feature = "reload"))]
    ring: &'a KeyRing,
    #[cfg(feature = "reload")]
    ring: arc_swap::Guard<Arc<KeyRing>>,
    #[cfg(feature = "reload")]
    _cell: std::marker::PhantomData<&'a ()>,
}

impl Deref for RingRef<'_> {
    type Target = KeyRing;

    fn deref(&self) -> &KeyRing {
        #[cfg(not(feature = "reload"))]
        return self.ring;
        #[cfg(feature = "reload")]
        return &self.ring;
    }
}

impl RingCell {
    /// The cell of a new family, with the keys of `prks` derived for `salt`.
    ///
    /// (One function for both builds, as the ones below: a mutant of a function that a build
    /// leaves out would survive the mutation test of that build.)
    pub(crate) fn new(prks: Vec<Prk>, salt: &[u8]) -> RingCell {
        #[cfg(not(feature = "reload"))]
        return RingCell {
            ring: Arc::new(KeyRing::derive(&prks, salt)),
            family: Arc::new(Family { prks }),
        };
        #[cfg(feature = "reload")]
        {
            let ring = Arc::new(arc_swap::ArcSwap::from_pointee(KeyRing::derive(
                &prks, salt,
            )));
            let members = vec![Member::of(&ring, salt)];
            let state = FamilyState { prks, members };
            RingCell {
                ring,
                family: Arc::new(Family {
                    state: Mutex::new(state),
                }),
            }
        }
    }

    /// A new cell in this cell's family, with the family's keys derived for `salt`. With
    /// `reload`, under the family's lock, so that a replacement running at the same time either
    /// comes before (and the sibling is derived from the new keys) or after (and replaces the
    /// sibling's keys too).
    pub(crate) fn sibling(&self, salt: &[u8]) -> RingCell {
        #[cfg(not(feature = "reload"))]
        return RingCell {
            ring: Arc::new(KeyRing::derive(&self.family.prks, salt)),
            family: Arc::clone(&self.family),
        };
        #[cfg(feature = "reload")]
        {
            let mut state = self.family.lock();
            let ring = Arc::new(arc_swap::ArcSwap::from_pointee(KeyRing::derive(
                &state.prks,
                salt,
            )));
            state.members.retain(Member::is_alive);
            state.members.push(Member::of(&ring, salt));
            RingCell {
                ring,
                family: Arc::clone(&self.family),
            }
        }
    }

    /// The ring now: one atomic load with `reload`, a plain reference without.
    pub(crate) fn load(&self) -> RingRef<'_> {
        RingRef {
            #[cfg(not(feature = "reload"))]
            ring: &self.ring,
            #[cfg(feature = "reload")]
            ring: self.ring.load(),
            #[cfg(feature = "reload")]
            _cell: std::marker::PhantomData,
        }
    }

    /// Replaces the keys of every member of the family, each derived for its own salt: for each
    /// member atomically, for every holder of its cell. The PRKs were checked when extracted,
    /// so nothing fails past this point. Dead members are pruned on the way.
    #[cfg(feature = "reload")]
    pub(crate) fn replace(&self, prks: Vec<Prk>) {
        let mut state = self.family.lock();
        state.members.retain(|member| match member.ring.upgrade() {
            Some(ring) => {
                ring.store(Arc::new(KeyRing::derive(&prks, &member.salt)));
                true
            }
            None => false,
        });
        // The old PRKs are wiped as they are dropped.
        state.prks = prks;
    }

    /// How many members the family holds entries for, dead ones not yet pruned included.
    #[cfg(all(test, feature = "reload"))]
    pub(crate) fn family_entries(&self) -> usize {
        self.family.lock().members.len()
    }
}

#[cfg(feature = "reload")]
impl Family {
    /// The family's state. A panic while it was held (none is expected: deriving does not fail)
    /// leaves every member with a whole ring, old or new, so the state is used as it is.
    fn lock(&self) -> MutexGuard<'_, FamilyState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(feature = "reload")]
impl Member {
    fn of(ring: &Arc<arc_swap::ArcSwap<KeyRing>>, salt: &[u8]) -> Member {
        Member {
            salt: Arc::from(salt),
            ring: Arc::downgrade(ring),
        }
    }

    fn is_alive(&self) -> bool {
        self.ring.strong_count() > 0
    }
}

impl fmt::Debug for Family {
    /// The key ids of the family's keys (the PRKs redacted) and, with `reload`, how many
    /// members it has entries for.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        #[cfg(not(feature = "reload"))]
        return f.debug_struct("Family").field("prks", &self.prks).finish();
        #[cfg(feature = "reload")]
        {
            let state = self.lock();
            f.debug_struct("Family")
                .field("prks", &state.prks)
                .field("members", &state.members.len())
                .finish()
        }
    }
}

impl fmt::Debug for RingCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingCell")
            .field("ring", &*self.load())
            .field("family", &self.family)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::SecretKey;

    fn prks(bytes: &[u8]) -> Vec<Prk> {
        Prk::extract_all(
            bytes
                .iter()
                .map(|&b| SecretKey::from_bytes(&[b; 32]).unwrap()),
        )
        .unwrap()
    }

    fn ids(cell: &RingCell) -> Vec<crate::KeyId> {
        cell.load().ids().collect()
    }

    #[test]
    fn a_sibling_has_the_family_keys() {
        let cell = RingCell::new(prks(&[1, 2]), b"a");
        let sibling = cell.sibling(b"b");
        assert_eq!(ids(&sibling), ids(&cell));
        assert_eq!(
            ids(&cell),
            prks(&[1, 2]).iter().map(Prk::key_id).collect::<Vec<_>>()
        );
    }

    #[test]
    fn debug_shows_key_ids_and_redacts_the_prks() {
        let secret = [7u8; 32];
        let cell = RingCell::new(prks(&[7]), b"salt");
        let shown = format!("{cell:?}");
        let id = SecretKey::from_bytes(&secret).unwrap().key_id();
        assert!(shown.contains(&format!("KeyId({id})")), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
        // Neither the secret nor its PRK, in any form Debug could print bytes in.
        let prk =
            hkdf::Hkdf::<sha2::Sha256>::extract(Some(crate::key::HKDF_EXTRACT_SALT), &secret).0;
        for bytes in [&secret[..], &prk[..]] {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            assert!(!shown.contains(&hex), "{shown}");
            assert!(!shown.contains(&format!("{bytes:?}")), "{shown}");
            let head = format!("{}, {}, {}", bytes[0], bytes[1], bytes[2]);
            assert!(!shown.contains(&head), "{shown}");
        }
    }

    #[cfg(feature = "reload")]
    #[test]
    fn a_replacement_through_any_member_reaches_every_member() {
        let parent = RingCell::new(prks(&[1]), b"a");
        let sibling = parent.sibling(b"b");
        let clone = sibling.clone();
        sibling.replace(prks(&[2, 1]));
        assert_eq!(ids(&parent), ids(&RingCell::new(prks(&[2, 1]), b"a")));
        parent.replace(prks(&[3]));
        assert_eq!(ids(&clone), ids(&RingCell::new(prks(&[3]), b"b")));
        // A sibling made after a replacement has the new keys.
        assert_eq!(ids(&clone.sibling(b"c")), ids(&clone));
    }

    #[cfg(feature = "reload")]
    #[test]
    fn dead_members_are_pruned_when_a_member_is_added_or_the_keys_replaced() {
        let parent = RingCell::new(prks(&[1]), b"a");
        assert_eq!(parent.family_entries(), 1);
        // A clone is no new member.
        let clone = parent.clone();
        assert_eq!(clone.family_entries(), 1);
        for _ in 0..100 {
            drop(parent.sibling(b"b"));
        }
        // The last one dropped is pruned by the next addition or replacement.
        assert_eq!(parent.family_entries(), 2);
        let kept = parent.sibling(b"c");
        assert_eq!(parent.family_entries(), 2);
        drop(kept);
        parent.replace(prks(&[2]));
        assert_eq!(parent.family_entries(), 1);
        assert!(parent.family.lock().members.iter().all(Member::is_alive));
    }

    #[cfg(feature = "reload")]
    #[test]
    fn the_family_does_not_keep_a_dropped_member_s_ring_alive() {
        let parent = RingCell::new(prks(&[1]), b"a");
        let sibling = parent.sibling(b"b");
        let weak = Arc::downgrade(&sibling.ring.load_full());
        drop(sibling);
        assert!(weak.upgrade().is_none());
        // Nor does the member keep the family's PRKs alive past the last member.
        let family = Arc::downgrade(&parent.family);
        drop(parent);
        assert!(family.upgrade().is_none());
    }
}
