//! The in-process revocation store.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use super::{
    subject_hash, unix_secs, RevocationStatus, RevocationStore, StoreError, StoreFuture, TokenId,
};
use crate::session::SessionId;

/// Subjects up to this many bytes are kept as they are; longer ones as their SHA-256, so that
/// no entry is larger than this (and the common check, a short user id, hashes nothing).
const MAX_RAW_SUBJECT: usize = 64;

/// The key a subject is kept under: a tag byte (0: the subject itself, 1: its SHA-256) and the
/// bytes, in a stack buffer so that a check allocates nothing.
struct SubjectKey {
    buf: [u8; 1 + MAX_RAW_SUBJECT],
    len: usize,
}

impl SubjectKey {
    fn new(subject: &str) -> SubjectKey {
        let mut buf = [0u8; 1 + MAX_RAW_SUBJECT];
        let bytes = subject.as_bytes();
        let len = if bytes.len() <= MAX_RAW_SUBJECT {
            buf[1..=bytes.len()].copy_from_slice(bytes);
            1 + bytes.len()
        } else {
            buf[0] = 1;
            buf[1..33].copy_from_slice(&subject_hash(subject));
            33
        };
        SubjectKey { buf, len }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// A [`RevocationStore`] in the memory of one process: for a service that runs as one
/// instance, and for tests. Several instances need a shared store such as
/// [`RedisStore`] (feature `redis`), or a revocation on one is ignored by the
/// others.
///
/// Every method answers at once (a mutex, a hash map lookup): no async runtime is needed and
/// no call waits on anything but the lock.
///
/// **Bounded.** Each entry (a revoked token id, or a subject's cutoff) is dropped once it no
/// longer matters, and the store holds at most [`capacity`](MemoryStore::with_capacity) live
/// entries (by default [`DEFAULT_CAPACITY`](MemoryStore::DEFAULT_CAPACITY); an entry is a
/// token id or a subject of at most 64 bytes, longer ones kept as their SHA-256, plus a time:
/// 40 to 150 bytes with the map's overhead). When it is full, expired entries are swept out;
/// if it is still full, the new revocation fails with [`StoreError::Full`] and nothing already
/// recorded is evicted: evicting would silently bring a revoked token back to life, whereas a
/// failed logout is visible to the service (and the token still expires on its own). Checks
/// never fail.
///
/// **One subject cannot fill it.** A revocation that names its subject
/// ([`revoke_token_of`](RevocationStore::revoke_token_of), `revoke_session_of`, `revoke_of`:
/// what the web layer calls) counts against that subject's own bound,
/// [`DEFAULT_PER_SUBJECT`](MemoryStore::DEFAULT_PER_SUBJECT) live entries unless set with
/// [`per_subject`](MemoryStore::per_subject). Past it, the store records a cutoff for the
/// subject instead of one more entry (one entry, however often the subject revokes): every
/// token and session of that subject issued up to the revoked one is refused, so a user who
/// logs in and out in a loop ends up logged out everywhere, and everyone else's logouts still
/// find room. A revocation that names no subject (`revoke`, `revoke_token`) counts only
/// against the whole store's capacity.
///
/// **Forgets everything on restart.** The entries live in this process's memory: after a
/// restart or a deploy, every token revoked before it loads again until it expires on its own,
/// and every "log out everywhere" is undone. A service whose tokens outlive a deploy (most)
/// wants `RedisStore` (feature `redis`) even with one instance.
///
/// ```
/// use itsclassified::revocation::{MemoryStore, RevocationStatus, RevocationStore};
/// use itsclassified::{SecretKey, TimedSerializer};
/// use std::sync::Arc;
/// use std::time::{Duration, SystemTime};
///
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output { tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f) }
/// # block_on(async {
/// let store: Arc<dyn RevocationStore> = Arc::new(MemoryStore::with_capacity(10_000));
/// let s = TimedSerializer::new(SecretKey::generate(), "s").max_age(Duration::from_secs(60));
/// let t0 = SystemTime::now();
/// let before = s.loads_with_meta_at::<u8>(&s.dumps_at(&1u8, t0)?, t0)?.meta;
/// let after = s.loads_with_meta_at::<u8>(&s.dumps_at(&1u8, t0 + Duration::from_secs(1))?, t0)?.meta;
///
/// // "Log out everywhere" at t0: alice's tokens issued up to t0 (included) are refused.
/// store.revoke_subject("alice", t0, s.revocation_retention().unwrap()).await?;
/// assert_eq!(store.check(&before, Some("alice")).await?, RevocationStatus::SubjectCutoff);
/// assert_eq!(store.check(&after, Some("alice")).await?, RevocationStatus::Active);
/// assert_eq!(store.check(&before, Some("bob")).await?, RevocationStatus::Active);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[cfg_attr(feature = "redis", doc = "\n[`RedisStore`]: super::RedisStore")]
#[cfg_attr(
    not(feature = "redis"),
    doc = "\n[`RedisStore`]: https://docs.rs/itsclassified/latest/itsclassified/revocation/struct.RedisStore.html"
)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    capacity: usize,
    per_subject: usize,
    clock: Option<Arc<dyn Fn() -> SystemTime + Send + Sync>>,
}

/// Hashes a [`TokenId`] to its first eight bytes. Token ids are random (the OS-random nonce of
/// a token that authenticated), so nobody can choose ids that collide, and SipHash's
/// protection against chosen keys would only cost time. Subjects, which an application may
/// take from user input, keep the standard hasher.
#[derive(Default)]
struct TokenIdHasher(u64);

impl Hasher for TokenIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // `TokenId` hashes as its 16 bytes in one write; anything else is folded in.
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
            if bytes.len() == TokenId::LEN {
                break;
            }
        }
    }
}

#[derive(Default)]
struct Inner {
    /// Token id -> last second (unix) the entry matters.
    tokens: HashMap<TokenId, u64, BuildHasherDefault<TokenIdHasher>>,
    /// Session id -> last second (unix) the entry matters. Random as token ids are.
    sessions: HashMap<SessionId, u64, BuildHasherDefault<TokenIdHasher>>,
    /// Subject key ([`SubjectKey`]) -> (cutoff second, last second the entry matters).
    subjects: HashMap<Box<[u8]>, (u64, u64)>,
    /// Per subject, the `until` of each token and session entry recorded under its name: a
    /// min-heap, so that the entries that ended are dropped from the front as the subject
    /// revokes more, and its length is the subject's live entries.
    load: HashMap<Box<[u8]>, BinaryHeap<Reverse<u64>>>,
}

impl Inner {
    fn len(&self) -> usize {
        self.tokens.len() + self.sessions.len() + self.subjects.len()
    }

    fn sweep(&mut self, now: u64) {
        self.tokens.retain(|_, until| *until >= now);
        self.sessions.retain(|_, until| *until >= now);
        self.subjects.retain(|_, (_, until)| *until >= now);
        self.load.retain(|_, untils| {
            drop_ended(untils, now);
            !untils.is_empty()
        });
    }

    /// Records a cutoff for `key` at `cutoff` (a later one wins), kept until `until`.
    fn record_cutoff(
        &mut self,
        key: &SubjectKey,
        cutoff: u64,
        until: u64,
        capacity: usize,
        now: u64,
    ) -> Result<(), StoreError> {
        if !self.subjects.contains_key(key.as_bytes()) {
            self.make_room(capacity, now)?;
        }
        let entry = self
            .subjects
            .entry(key.as_bytes().into())
            .or_insert((cutoff, until));
        *entry = (entry.0.max(cutoff), entry.1.max(until));
        Ok(())
    }

    /// Room for one more entry, sweeping expired ones first if the store is full.
    fn make_room(&mut self, capacity: usize, now: u64) -> Result<(), StoreError> {
        if self.len() >= capacity {
            self.sweep(now);
        }
        if self.len() >= capacity {
            return Err(StoreError::Full);
        }
        Ok(())
    }
}

/// Drops the entries that ended before `now` from the front of a subject's heap.
fn drop_ended(untils: &mut BinaryHeap<Reverse<u64>>, now: u64) {
    while untils.peek().is_some_and(|Reverse(until)| *until < now) {
        untils.pop();
    }
}

impl MemoryStore {
    /// The capacity of [`MemoryStore::new`]: a million live entries (a revoked token id takes
    /// about 40 bytes with the map's overhead, a subject up to about 150: 150 MB at the very most).
    pub const DEFAULT_CAPACITY: usize = 1_000_000;

    /// The default bound of one subject's live token and session entries: a thousand logouts
    /// within one token lifetime, far beyond any honest user, and a thousandth of the default
    /// capacity.
    pub const DEFAULT_PER_SUBJECT: usize = 1_000;

    /// An empty store with the [default capacity](MemoryStore::DEFAULT_CAPACITY).
    ///
    /// ```
    /// let store = itsclassified::revocation::MemoryStore::new();
    /// assert_eq!(store.len(), 0);
    /// ```
    pub fn new() -> MemoryStore {
        MemoryStore::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// An empty store that holds at most `capacity` live entries (at least one).
    ///
    /// ```
    /// let store = itsclassified::revocation::MemoryStore::with_capacity(50_000);
    /// ```
    pub fn with_capacity(capacity: usize) -> MemoryStore {
        MemoryStore {
            inner: Mutex::new(Inner::default()),
            capacity: capacity.max(1),
            per_subject: Self::DEFAULT_PER_SUBJECT,
            clock: None,
        }
    }

    /// Sets how many live token and session entries one subject may have (at least one)
    /// before its further revocations become a cutoff for the subject (see the type's docs).
    ///
    /// ```
    /// let store = itsclassified::revocation::MemoryStore::new().per_subject(100);
    /// ```
    #[must_use]
    pub fn per_subject(mut self, limit: usize) -> Self {
        self.per_subject = limit.max(1);
        self
    }

    /// Replaces the system clock by `now`, for tests of expiry.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// let store = itsclassified::revocation::MemoryStore::new()
    ///     .with_clock(|| SystemTime::now() + Duration::from_secs(3600));
    /// ```
    #[must_use]
    pub fn with_clock(mut self, now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(now));
        self
    }

    /// How many entries the store holds, expired ones not swept yet included.
    ///
    /// ```
    /// assert!(itsclassified::revocation::MemoryStore::new().is_empty());
    /// ```
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when the store holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn now(&self) -> u64 {
        unix_secs(match &self.clock {
            Some(now) => now(),
            None => SystemTime::now(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing under the lock can panic halfway through an update.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn revoke_token_now(
        &self,
        id: TokenId,
        until: SystemTime,
        owner: Option<(SystemTime, &str)>,
    ) -> Result<bool, StoreError> {
        self.revoke_id_now(id, until, owner, |inner| &mut inner.tokens)
    }

    fn revoke_session_now(
        &self,
        id: SessionId,
        until: SystemTime,
        owner: Option<(SystemTime, &str)>,
    ) -> Result<bool, StoreError> {
        self.revoke_id_now(id, until, owner, |inner| &mut inner.sessions)
    }

    /// Records `id` in the map `map` picks until `until`; `true` unless it was there already.
    /// `owner` is the revoked token's issued-at and subject, when the caller names them: the
    /// per-subject bound.
    fn revoke_id_now<K: std::hash::Hash + Eq>(
        &self,
        id: K,
        until: SystemTime,
        owner: Option<(SystemTime, &str)>,
        map: impl Fn(&mut Inner) -> &mut HashMap<K, u64, BuildHasherDefault<TokenIdHasher>>,
    ) -> Result<bool, StoreError> {
        let (now, until) = (self.now(), unix_secs(until));
        if until < now {
            return Ok(true);
        }
        let mut inner = self.lock();
        if let Some(old) = map(&mut inner).get_mut(&id) {
            if *old >= now {
                *old = (*old).max(until);
                return Ok(false);
            }
        }
        if let Some((issued_at, subject)) = owner {
            let key = SubjectKey::new(subject);
            let live = inner.load.get_mut(key.as_bytes()).map_or(0, |untils| {
                drop_ended(untils, now);
                untils.len()
            });
            if live >= self.per_subject {
                // The subject's bound: one cutoff covering this token (and every earlier one
                // of the subject) instead of one more entry.
                inner.record_cutoff(&key, unix_secs(issued_at), until, self.capacity, now)?;
                return Ok(true);
            }
            inner.make_room(self.capacity, now)?;
            inner
                .load
                .entry(key.as_bytes().into())
                .or_default()
                .push(Reverse(until));
        } else {
            inner.make_room(self.capacity, now)?;
        }
        map(&mut inner).insert(id, until);
        Ok(true)
    }

    fn session_status_now(
        &self,
        id: SessionId,
        issued_at: SystemTime,
        subject: Option<&str>,
    ) -> RevocationStatus {
        let now = self.now();
        let revoked = self
            .lock()
            .sessions
            .get(&id)
            .is_some_and(|&until| until >= now);
        if revoked {
            RevocationStatus::Revoked
        } else if self.cutoff_refuses(now, issued_at, subject) {
            RevocationStatus::SubjectCutoff
        } else {
            RevocationStatus::Active
        }
    }

    /// The subject's cutoff in force at `now`.
    fn cutoff_now(&self, now: u64, subject: &str) -> Option<u64> {
        let key = SubjectKey::new(subject);
        let inner = self.lock();
        match inner.subjects.get(key.as_bytes()) {
            Some(&(cutoff, until)) if until >= now => Some(cutoff),
            _ => None,
        }
    }

    fn cutoff_refuses(&self, now: u64, issued_at: SystemTime, subject: Option<&str>) -> bool {
        subject
            .and_then(|s| self.cutoff_now(now, s))
            .is_some_and(|cutoff| unix_secs(issued_at) <= cutoff)
    }

    fn revoke_subject_now(
        &self,
        subject: &str,
        cutoff: SystemTime,
        retain: Duration,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let cutoff = unix_secs(cutoff);
        let until = cutoff.saturating_add(retain.as_secs());
        if until < now {
            return Ok(());
        }
        let key = SubjectKey::new(subject);
        self.lock()
            .record_cutoff(&key, cutoff, until, self.capacity, now)
    }

    fn status_now(
        &self,
        id: TokenId,
        issued_at: SystemTime,
        subject: Option<&str>,
    ) -> RevocationStatus {
        let now = self.now();
        let revoked = self
            .lock()
            .tokens
            .get(&id)
            .is_some_and(|&until| until >= now);
        if revoked {
            RevocationStatus::Revoked
        } else if self.cutoff_refuses(now, issued_at, subject) {
            RevocationStatus::SubjectCutoff
        } else {
            RevocationStatus::Active
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl RevocationStore for MemoryStore {
    fn revoke_token(&self, id: TokenId, until: SystemTime) -> StoreFuture<'_, bool> {
        Box::pin(std::future::ready(self.revoke_token_now(id, until, None)))
    }

    fn revoke_token_of<'a>(
        &'a self,
        id: TokenId,
        until: SystemTime,
        issued_at: SystemTime,
        subject: Option<&'a str>,
    ) -> StoreFuture<'a, bool> {
        let owner = subject.map(|subject| (issued_at, subject));
        Box::pin(std::future::ready(self.revoke_token_now(id, until, owner)))
    }

    fn revoke_session_of<'a>(
        &'a self,
        id: SessionId,
        until: SystemTime,
        issued_at: SystemTime,
        subject: Option<&'a str>,
    ) -> StoreFuture<'a, bool> {
        let owner = subject.map(|subject| (issued_at, subject));
        Box::pin(std::future::ready(
            self.revoke_session_now(id, until, owner),
        ))
    }

    fn revoke_subject<'a>(
        &'a self,
        subject: &'a str,
        cutoff: SystemTime,
        retain: Duration,
    ) -> StoreFuture<'a, ()> {
        Box::pin(std::future::ready(
            self.revoke_subject_now(subject, cutoff, retain),
        ))
    }

    fn status<'a>(
        &'a self,
        id: TokenId,
        issued_at: SystemTime,
        subject: Option<&'a str>,
    ) -> StoreFuture<'a, RevocationStatus> {
        Box::pin(std::future::ready(Ok(
            self.status_now(id, issued_at, subject)
        )))
    }

    fn revoke_session(&self, id: SessionId, until: SystemTime) -> StoreFuture<'_, bool> {
        Box::pin(std::future::ready(self.revoke_session_now(id, until, None)))
    }

    fn session_status<'a>(
        &'a self,
        id: SessionId,
        issued_at: SystemTime,
        subject: Option<&'a str>,
    ) -> StoreFuture<'a, RevocationStatus> {
        Box::pin(std::future::ready(Ok(
            self.session_status_now(id, issued_at, subject)
        )))
    }

    fn subject_cutoff<'a>(&'a self, subject: &'a str) -> StoreFuture<'a, Option<SystemTime>> {
        let cutoff = self
            .cutoff_now(self.now(), subject)
            .map(|c| SystemTime::UNIX_EPOCH + Duration::from_secs(c));
        Box::pin(std::future::ready(Ok(cutoff)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    const T0: u64 = 1_700_000_000;

    /// A store whose clock reads the returned counter (unix seconds).
    fn store(capacity: usize) -> (MemoryStore, Arc<AtomicU64>) {
        let now = Arc::new(AtomicU64::new(T0));
        let clock = Arc::clone(&now);
        let store = MemoryStore::with_capacity(capacity)
            .with_clock(move || at(clock.load(Ordering::SeqCst)));
        (store, now)
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn id(n: u8) -> TokenId {
        TokenId::from_bytes([n; 16])
    }

    use RevocationStatus::{Active, Revoked, SubjectCutoff};

    #[test]
    fn a_revoked_token_stays_revoked_until_it_would_have_expired_then_its_entry_goes() {
        let (s, now) = store(10);
        assert!(s.revoke_token_now(id(1), at(T0 + 100), None).unwrap());
        assert!(
            !s.revoke_token_now(id(1), at(T0 + 100), None).unwrap(),
            "revoked already"
        );
        assert_eq!(s.status_now(id(1), at(T0), None), Revoked);
        assert_eq!(s.status_now(id(2), at(T0), None), Active);
        now.store(T0 + 100, Ordering::SeqCst);
        assert_eq!(
            s.status_now(id(1), at(T0), None),
            Revoked,
            "last second included"
        );
        now.store(T0 + 101, Ordering::SeqCst);
        assert_eq!(s.status_now(id(1), at(T0), None), Active);
        assert_eq!(s.len(), 1, "swept only when room is needed");
        // An expired entry counts as absent: revoking anew is a first revocation.
        assert!(s.revoke_token_now(id(1), at(T0 + 200), None).unwrap());
        assert_eq!(s.status_now(id(1), at(T0), None), Revoked);
        // A revocation that no longer matters records nothing.
        assert!(s.revoke_token_now(id(3), at(T0 + 50), None).unwrap());
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn the_cutoff_second_itself_is_refused_the_next_one_is_not() {
        let (s, now) = store(10);
        s.revoke_subject_now("alice", at(T0), Duration::from_secs(60))
            .unwrap();
        let status = |issued: u64, subject| s.status_now(id(9), at(issued), subject);
        assert_eq!(status(T0 - 1, Some("alice")), SubjectCutoff);
        assert_eq!(
            status(T0, Some("alice")),
            SubjectCutoff,
            "same second as the cutoff"
        );
        assert_eq!(status(T0 + 1, Some("alice")), Active);
        assert_eq!(
            status(T0 - 1, Some("bob")),
            Active,
            "other subjects untouched"
        );
        assert_eq!(status(T0 - 1, None), Active);
        // Sub-second parts of the cutoff do not matter: whole seconds.
        s.revoke_subject_now(
            "bob",
            at(T0) + Duration::from_millis(999),
            Duration::from_secs(60),
        )
        .unwrap();
        assert_eq!(status(T0, Some("bob")), SubjectCutoff);
        assert_eq!(status(T0 + 1, Some("bob")), Active);
        // An earlier cutoff does not undo a later one.
        s.revoke_subject_now("alice", at(T0 - 30), Duration::from_secs(60))
            .unwrap();
        assert_eq!(status(T0, Some("alice")), SubjectCutoff);
        // After cutoff + retain the entry no longer matters.
        now.store(T0 + 60, Ordering::SeqCst);
        assert_eq!(status(T0, Some("alice")), SubjectCutoff);
        now.store(T0 + 61, Ordering::SeqCst);
        assert_eq!(status(T0, Some("alice")), Active);
    }

    #[test]
    fn a_token_revoked_by_its_id_reads_revoked_even_under_its_subjects_cutoff() {
        let (s, _) = store(10);
        s.revoke_subject_now("alice", at(T0), Duration::from_secs(60))
            .unwrap();
        assert!(s.revoke_token_now(id(1), at(T0 + 60), None).unwrap());
        assert!(s.revoke_session_now(session(1), at(T0 + 60), None).unwrap());
        // The id wins: the log says "logout", not "log out everywhere".
        assert_eq!(s.status_now(id(1), at(T0), Some("alice")), Revoked);
        assert_eq!(s.status_now(id(2), at(T0), Some("alice")), SubjectCutoff);
        assert_eq!(
            s.session_status_now(session(1), at(T0), Some("alice")),
            Revoked
        );
        assert_eq!(
            s.session_status_now(session(2), at(T0), Some("alice")),
            SubjectCutoff
        );
        assert_eq!(
            s.session_status_now(session(2), at(T0 + 1), Some("alice")),
            Active
        );
    }

    #[test]
    fn long_subjects_are_kept_hashed_and_apart_from_short_ones() {
        let (s, _) = store(10);
        let long = "x".repeat(1000);
        let longer = "x".repeat(1001);
        s.revoke_subject_now(&long, at(T0), Duration::from_secs(60))
            .unwrap();
        assert_eq!(s.status_now(id(1), at(T0), Some(&long)), SubjectCutoff);
        assert_eq!(s.status_now(id(1), at(T0), Some(&longer)), Active);
        assert_eq!(s.status_now(id(1), at(T0), Some(&long[..64])), Active);
        let exact = "y".repeat(MAX_RAW_SUBJECT);
        s.revoke_subject_now(&exact, at(T0), Duration::from_secs(60))
            .unwrap();
        assert_eq!(s.status_now(id(1), at(T0), Some(&exact)), SubjectCutoff);
        assert!(s
            .lock()
            .subjects
            .keys()
            .all(|k| k.len() <= 1 + MAX_RAW_SUBJECT));
    }

    #[test]
    fn a_full_store_refuses_new_revocations_and_evicts_nothing_live() {
        let (s, now) = store(3);
        s.revoke_token_now(id(1), at(T0 + 10), None).unwrap();
        s.revoke_token_now(id(2), at(T0 + 20), None).unwrap();
        s.revoke_subject_now("alice", at(T0), Duration::from_secs(30))
            .unwrap();
        assert!(matches!(
            s.revoke_token_now(id(3), at(T0 + 10), None),
            Err(StoreError::Full)
        ));
        assert!(matches!(
            s.revoke_subject_now("bob", at(T0), Duration::from_secs(30)),
            Err(StoreError::Full)
        ));
        // Updating an entry already there needs no room.
        s.revoke_token_now(id(1), at(T0 + 15), None).unwrap();
        s.revoke_subject_now("alice", at(T0 + 1), Duration::from_secs(30))
            .unwrap();
        for n in [1, 2] {
            assert_eq!(s.status_now(id(n), at(T0), None), Revoked);
        }
        assert_eq!(s.len(), 3);
        // Once an entry expires, the sweep makes room for the next one.
        now.store(T0 + 16, Ordering::SeqCst);
        s.revoke_token_now(id(3), at(T0 + 40), None).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s.status_now(id(1), at(T0), None), Active);
        assert_eq!(s.status_now(id(2), at(T0), None), Revoked);
        assert_eq!(s.status_now(id(3), at(T0), None), Revoked);
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_revocations() {
        let (s, now) = store(1000);
        let mut full = 0;
        for i in 0..10_000u32 {
            let mut bytes = [0u8; 16];
            bytes[..4].copy_from_slice(&i.to_le_bytes());
            // Each entry matters for 5 s; the clock moves a second every 100 revocations.
            now.store(T0 + u64::from(i / 100), Ordering::SeqCst);
            let until = at(T0 + u64::from(i / 100) + 5);
            match s.revoke_token_now(TokenId::from_bytes(bytes), until, None) {
                Ok(_) => {}
                Err(StoreError::Full) => full += 1,
                Err(e) => panic!("{e}"),
            }
            assert!(s.len() <= 1000);
        }
        // 600 live entries at most at any time (6 seconds of 100): never full.
        assert_eq!(full, 0);
    }

    fn session(n: u32) -> SessionId {
        let mut bytes = [0u8; 16];
        bytes[..4].copy_from_slice(&n.to_le_bytes());
        SessionId::from_bytes(bytes)
    }

    fn token(n: u32) -> TokenId {
        let mut bytes = [0xffu8; 16];
        bytes[..4].copy_from_slice(&n.to_le_bytes());
        TokenId::from_bytes(bytes)
    }

    #[test]
    fn one_subject_logging_in_and_out_in_a_loop_cannot_fill_the_store() {
        let (s, now) = store(100);
        let s = s.per_subject(10);
        // Mallory logs in and out 10,000 times within one token lifetime (a day): a session and
        // a bearer token revoked each time, each issued a second after the last.
        for n in 0..10_000u32 {
            let issued = T0 + u64::from(n);
            now.store(issued, Ordering::SeqCst);
            let owner = Some((at(issued), "mallory"));
            assert!(s
                .revoke_session_now(session(n), at(issued + 86_400), owner)
                .unwrap());
            assert!(s
                .revoke_token_now(token(n), at(issued + 86_400), owner)
                .unwrap());
        }
        // Ten entries and one cutoff, not 20,000: everyone else's logout still finds room.
        assert_eq!(s.len(), 11);
        let later = T0 + 10_000;
        assert!(s
            .revoke_token_now(id(1), at(later + 900), Some((at(later), "alice")))
            .unwrap());
        assert_eq!(s.status_now(id(1), at(later), Some("alice")), Revoked);
        // Every one of Mallory's revoked tokens and sessions is still refused...
        for n in [0, 9, 10, 5_000, 9_999] {
            let issued = at(T0 + u64::from(n));
            // The first by their ids, the later ones by the cutoff that replaced them.
            let expected = if n < 5 { Revoked } else { SubjectCutoff };
            assert_eq!(
                s.status_now(token(n), issued, Some("mallory")),
                expected,
                "{n}"
            );
            assert_eq!(
                s.session_status_now(session(n), issued, Some("mallory")),
                expected,
                "{n}"
            );
        }
        // ...and the cost falls on Mallory alone: a token issued after the last revoked one
        // loads, and another subject's tokens are untouched.
        assert_eq!(
            s.status_now(token(20_000), at(later), Some("mallory")),
            Active
        );
        assert_eq!(s.status_now(token(20_001), at(T0), Some("bob")), Active);
    }

    #[test]
    fn past_its_bound_a_subject_revocation_becomes_a_cutoff_covering_the_revoked_token() {
        let (s, _now) = store(1000);
        let s = s.per_subject(2);
        let owner = |secs| Some((at(secs), "mallory"));
        for n in 0..2 {
            s.revoke_token_now(token(n), at(T0 + 900), owner(T0))
                .unwrap();
        }
        assert_eq!(s.cutoff_now(T0, "mallory"), None);
        // The third: a cutoff at its issued-at, kept until it would have expired.
        assert!(s
            .revoke_token_now(token(2), at(T0 + 905), owner(T0 + 5))
            .unwrap());
        assert_eq!(s.cutoff_now(T0, "mallory"), Some(T0 + 5));
        assert_eq!(s.cutoff_now(T0 + 905, "mallory"), Some(T0 + 5));
        assert_eq!(s.cutoff_now(T0 + 906, "mallory"), None);
        assert_eq!(
            s.status_now(token(2), at(T0 + 5), Some("mallory")),
            SubjectCutoff
        );
        assert_eq!(s.status_now(token(3), at(T0 + 6), Some("mallory")), Active);
        // A later one moves the cutoff forward, never back.
        s.revoke_token_now(token(4), at(T0 + 950), owner(T0 + 50))
            .unwrap();
        s.revoke_token_now(token(5), at(T0 + 950), owner(T0 + 1))
            .unwrap();
        assert_eq!(s.cutoff_now(T0, "mallory"), Some(T0 + 50));
        // Revoking the same token again is not a new entry, and says so.
        assert!(!s
            .revoke_token_now(token(0), at(T0 + 900), owner(T0))
            .unwrap());
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn a_subjects_entries_that_ended_no_longer_count_against_its_bound() {
        let (s, now) = store(1000);
        let s = s.per_subject(2);
        let owner = |secs| Some((at(secs), "carol"));
        s.revoke_token_now(token(0), at(T0 + 10), owner(T0))
            .unwrap();
        s.revoke_session_now(session(0), at(T0 + 10), owner(T0))
            .unwrap();
        // Both ended: the next two are entries again, not a cutoff.
        now.store(T0 + 11, Ordering::SeqCst);
        s.revoke_token_now(token(1), at(T0 + 30), owner(T0 + 11))
            .unwrap();
        s.revoke_session_now(session(1), at(T0 + 30), owner(T0 + 11))
            .unwrap();
        assert_eq!(s.cutoff_now(T0 + 11, "carol"), None);
        // Tokens and sessions share the one bound.
        s.revoke_token_now(token(2), at(T0 + 30), owner(T0 + 11))
            .unwrap();
        assert_eq!(s.cutoff_now(T0 + 11, "carol"), Some(T0 + 11));
    }

    #[test]
    fn revocations_that_name_no_subject_count_only_against_the_capacity() {
        let (s, _now) = store(1000);
        let s = s.per_subject(1);
        for n in 0..50 {
            s.revoke_token_now(token(n), at(T0 + 900), None).unwrap();
        }
        assert_eq!(s.len(), 50);
        assert!(s.lock().subjects.is_empty());
    }

    #[test]
    fn token_ids_spread_over_hash_values() {
        use std::hash::BuildHasher;
        // The map's hasher takes the id's own random bytes: distinct ids, distinct hashes (a
        // constant hash would keep every answer right and make each lookup a scan).
        let build = BuildHasherDefault::<TokenIdHasher>::default();
        let hashes: std::collections::HashSet<u64> = (0..200u32)
            .map(|n| build.hash_one(token(n)))
            .chain((0..200u32).map(|n| build.hash_one(session(n))))
            .collect();
        assert_eq!(hashes.len(), 400);
        assert!(hashes.iter().all(|&h| h != 0 && h != 1));
    }

    #[test]
    fn a_sweep_keeps_live_session_revocations_and_each_subjects_count() {
        let (s, now) = store(4);
        let s = s.per_subject(2);
        let owner = Some((at(T0), "mallory"));
        s.revoke_session_now(session(1), at(T0 + 5), None).unwrap();
        s.revoke_session_now(session(2), at(T0 + 50), owner)
            .unwrap();
        s.revoke_token_now(token(3), at(T0 + 50), owner).unwrap();
        s.revoke_token_now(token(4), at(T0 + 5), None).unwrap();
        // Full; at T0 + 6 the next revocation sweeps the two that ended.
        now.store(T0 + 6, Ordering::SeqCst);
        s.revoke_token_now(token(5), at(T0 + 50), None).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s.session_status_now(session(2), at(T0), None), Revoked);
        assert_eq!(s.session_status_now(session(1), at(T0), None), Active);
        // Mallory's two live entries still count after the sweep: her third is a cutoff.
        s.revoke_token_now(token(6), at(T0 + 50), Some((at(T0 + 6), "mallory")))
            .unwrap();
        assert_eq!(s.cutoff_now(T0 + 6, "mallory"), Some(T0 + 6));
    }

    #[test]
    fn an_entry_still_counts_against_its_subject_in_its_last_second() {
        let (s, now) = store(100);
        let s = s.per_subject(1);
        s.revoke_token_now(token(1), at(T0 + 10), Some((at(T0), "carol")))
            .unwrap();
        now.store(T0 + 10, Ordering::SeqCst);
        s.revoke_token_now(token(2), at(T0 + 20), Some((at(T0 + 10), "carol")))
            .unwrap();
        assert_eq!(s.cutoff_now(T0 + 10, "carol"), Some(T0 + 10));
    }

    #[test]
    fn a_revocation_that_ends_this_second_is_recorded_and_refuses_for_that_second() {
        let (s, now) = store(100);
        now.store(T0 + 10, Ordering::SeqCst);
        assert!(s.revoke_token_now(token(1), at(T0 + 10), None).unwrap());
        assert_eq!(s.status_now(token(1), at(T0), None), Revoked);
        assert!(s.revoke_session_now(session(1), at(T0 + 10), None).unwrap());
        assert_eq!(s.session_status_now(session(1), at(T0), None), Revoked);
        s.revoke_subject_now("dave", at(T0 + 4), Duration::from_secs(6))
            .unwrap();
        assert_eq!(s.cutoff_now(T0 + 10, "dave"), Some(T0 + 4));
        // One second later all three are over (and an ended one is not recorded at all).
        now.store(T0 + 11, Ordering::SeqCst);
        assert_eq!(s.status_now(token(1), at(T0), None), Active);
        assert_eq!(s.session_status_now(session(1), at(T0), None), Active);
        assert_eq!(s.cutoff_now(T0 + 11, "dave"), None);
        s.revoke_subject_now("erin", at(T0 + 4), Duration::from_secs(6))
            .unwrap();
        assert_eq!(s.cutoff_now(T0 + 11, "erin"), None);
        assert!(!s
            .lock()
            .subjects
            .contains_key(SubjectKey::new("erin").as_bytes()));
    }

    #[test]
    fn is_empty_and_debug_tell_the_entries_never_their_contents() {
        let (s, _now) = store(7);
        assert!(s.is_empty());
        s.revoke_subject_now("frank@example.com", at(T0), Duration::from_secs(60))
            .unwrap();
        assert!(!s.is_empty());
        let shown = format!("{s:?}");
        assert!(shown.starts_with("MemoryStore"), "{shown}");
        assert!(
            shown.contains("len: 1") && shown.contains("capacity: 7"),
            "{shown}"
        );
        assert!(!shown.contains("frank"), "{shown}");
    }

    #[test]
    fn the_store_gives_a_subjects_cutoff_as_the_moment_it_was_set_to() {
        use std::task::{Context, Poll, Waker};
        let (s, _now) = store(10);
        s.revoke_subject_now("grace", at(T0 + 7), Duration::from_secs(60))
            .unwrap();
        // The store answers at once: its future is ready on the first poll.
        let mut cx = Context::from_waker(Waker::noop());
        let mut answer = s.subject_cutoff("grace");
        match answer.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(cutoff)) => assert_eq!(cutoff, Some(at(T0 + 7))),
            other => panic!("{:?}", other.map(|r| r.map_err(|e| e.to_string()))),
        }
        let mut none = s.subject_cutoff("heidi");
        assert!(matches!(none.as_mut().poll(&mut cx), Poll::Ready(Ok(None))));
    }
}
