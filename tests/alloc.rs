//! Heap allocations per `dumps` and per `loads`, counted by a global allocator (not timed).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use itsclassified::{SecretKey, TimedSerializer};
use serde::{Deserialize, Serialize};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
    static REALLOCS: Cell<usize> = const { Cell::new(0) };
    /// Bytes that no block may hold when it is freed, while set.
    static WATCHED: Cell<Option<&'static [u8]>> = const { Cell::new(None) };
    static FREED_HOLDING_WATCHED: Cell<usize> = const { Cell::new(0) };
}

/// Counts a block about to be freed (or moved by `realloc`) that still holds the watched
/// bytes: a copy left in freed memory, unwiped.
fn check_freed(ptr: *mut u8, size: usize) {
    if let Some(watched) = WATCHED.with(Cell::get) {
        // SAFETY: the block is still allocated, and `size` bytes long (its layout's).
        let block = unsafe { std::slice::from_raw_parts(ptr, size) };
        if block.windows(watched.len()).any(|w| w == watched) {
            FREED_HOLDING_WATCHED.with(|c| c.set(c.get() + 1));
        }
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        check_freed(ptr, layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
            REALLOCS.with(|c| c.set(c.get() + 1));
        }
        check_freed(ptr, layout.size());
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn count<R>(f: impl FnOnce() -> R) -> (R, usize) {
    COUNT.with(|c| c.set(0));
    REALLOCS.with(|c| c.set(0));
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    (r, COUNT.with(Cell::get))
}

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Session {
    user_id: String,
    role: String,
}

#[test]
fn allocations_per_token() {
    let s = TimedSerializer::new(SecretKey::from_bytes(&[1; 32]).unwrap(), "session")
        .max_age(Duration::from_secs(60));
    let session = Session {
        user_id: "123".into(),
        role: "admin".into(),
    };
    // Warm up anything lazily initialised (the OS random number generator's file, if any).
    let token = s.dumps(&session).unwrap();

    let (token2, dumps) = count(|| s.dumps(&session).unwrap());
    let (loaded, loads) = count(|| s.loads::<Session>(&token).unwrap());
    let (_, loads_unit) = count(|| s.loads::<serde::de::IgnoredAny>(&token).unwrap());
    assert_eq!(loaded, session);
    assert_eq!(token2.len(), token.len());
    println!(
        "allocations: dumps {dumps}, loads::<Session> {loads}, loads::<IgnoredAny> {loads_unit}"
    );
    // dumps: one working buffer and the output string.
    assert_eq!(dumps, 2, "dumps");
    // loads: one working buffer; the two Strings are the payload's own.
    assert_eq!(loads_unit, 1, "loads, payload aside");
    assert_eq!(loads, 3, "loads::<Session>");
}

#[test]
fn large_payloads_allocate_one_working_buffer_once_warm() {
    let s = TimedSerializer::new(SecretKey::from_bytes(&[1; 32]).unwrap(), "blob")
        .max_age(Duration::from_secs(60))
        .max_token_len(TimedSerializer::MAX_TOKEN_LEN_LIMIT);
    for size in [1024usize, 16 * 1024, 40 * 1024] {
        let blob = vec![7u8; size];
        let bytes = serde_bytes_like(&blob);
        // The first token of a size teaches the serializer how large a buffer to reserve.
        let (_, cold) = count(|| s.dumps(&bytes).unwrap());
        let (token, warm) = count(|| s.dumps(&bytes).unwrap());
        let (_, loads) = count(|| s.loads::<serde::de::IgnoredAny>(&token).unwrap());
        println!("{size} bytes: dumps cold {cold}, warm {warm}; loads {loads}");
        assert!(cold > warm, "{size}: the buffer grew on the first token");
        assert_eq!(warm, 2, "{size}: dumps, warm");
        assert_eq!(loads, 1, "{size}: loads, payload aside");
    }
}

/// A byte slice that serializes as MessagePack bin (not as an array of integers).
fn serde_bytes_like(bytes: &[u8]) -> Bin<'_> {
    Bin(bytes)
}

struct Bin<'a>(&'a [u8]);

impl Serialize for Bin<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

#[test]
fn a_key_ring_is_built_without_moving_subkeys_around() {
    // A vector of PRKs or derived keys that grows frees the old block, keys inside, unwiped:
    // each is sized once. Nine keys: a doubling vector would have reallocated from the fifth.
    let keys: Vec<SecretKey> = (1..=9u8)
        .map(|i| SecretKey::from_bytes(&[i; 32]).unwrap())
        .collect();
    let (ring, allocations) = count(|| TimedSerializer::with_keys(keys, "s").unwrap());
    assert_eq!(
        REALLOCS.with(Cell::get),
        0,
        "a reallocation while building the ring"
    );
    assert_eq!(ring.key_ids().len(), 9);
    // The PRKs' vector, the derived keys' vector, the ring's Arc and the family's; with
    // `reload`, the Arc of the swappable cell, the family's list of members and the member's
    // salt too (the family re-derives each member's keys for its salt on a reload).
    let expected = if cfg!(feature = "reload") { 7 } else { 4 };
    assert_eq!(allocations, expected);
}

#[test]
fn a_key_file_is_read_without_growing_a_buffer() {
    // A growing buffer frees its smaller copies, key text inside, unwiped: the file is read
    // into one buffer sized from its length. Three keys (a vector of four holds them) and 2 KiB
    // of comments.
    let dir = std::env::temp_dir().join(format!("itsclassified-alloc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("keys");
    let mut text = String::new();
    for i in 1..=3u8 {
        text.push_str(&format!("# key {i}: {}\n", "x".repeat(700)));
        text.push_str(&SecretKey::from_bytes(&[i; 32]).unwrap().to_base64());
        text.push('\n');
    }
    std::fs::write(&path, &text).unwrap();
    let (keys, _) = count(|| SecretKey::list_from_file(&path).unwrap());
    assert_eq!(
        REALLOCS.with(Cell::get),
        0,
        "a reallocation while reading the key file"
    );
    assert_eq!(keys.len(), 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn loaded_sequences_and_maps_are_allocated_once_at_their_length() {
    // MessagePack states every array's and map's length up front; serde sizes the collection
    // from it (the size hint), so a loaded collection never grows, and nothing is copied.
    let s = TimedSerializer::new(SecretKey::from_bytes(&[1; 32]).unwrap(), "collections")
        .max_age(Duration::from_secs(60));
    let list: Vec<u16> = (0..100).collect();
    let map: std::collections::HashMap<u16, u16> = (0..50).map(|i| (i, i)).collect();
    let (list_token, map_token) = (s.dumps(&list).unwrap(), s.dumps(&map).unwrap());

    let (loaded, allocations) = count(|| s.loads::<Vec<u16>>(&list_token).unwrap());
    assert_eq!(loaded, list);
    assert_eq!(REALLOCS.with(Cell::get), 0, "the list grew");
    // The working buffer and the list's.
    assert_eq!(allocations, 2, "loads::<Vec<u16>>");

    let (loaded, allocations) = count(|| {
        s.loads::<std::collections::HashMap<u16, u16>>(&map_token)
            .unwrap()
    });
    assert_eq!(loaded, map);
    // The working buffer and the map's table (a growing table allocates a new one).
    assert_eq!(allocations, 2, "loads::<HashMap<u16, u16>>");
}

/// How many blocks freed while `f` runs still hold `watched`.
fn freed_holding<R>(watched: &'static [u8], f: impl FnOnce() -> R) -> (R, usize) {
    FREED_HOLDING_WATCHED.with(|c| c.set(0));
    WATCHED.with(|c| c.set(Some(watched)));
    let r = f();
    WATCHED.with(|c| c.set(None));
    (r, FREED_HOLDING_WATCHED.with(Cell::get))
}

#[test]
fn no_freed_block_holds_the_plaintext() {
    const MARKER: &str = "a payload nobody may read from freed memory";
    // A new serializer's first buffer has room for 128 bytes of plaintext: the second field
    // overflows it, a little or by far, with the first field already in it.
    for rest in [150, 400] {
        let payload = (MARKER, "-".repeat(rest));
        let s = TimedSerializer::new(SecretKey::from_bytes(&[1; 32]).unwrap(), "wipe")
            .max_age(Duration::from_secs(60));
        let (token, freed) = freed_holding(MARKER.as_bytes(), || s.dumps(&payload).unwrap());
        assert_eq!(
            freed, 0,
            "{rest}: the first dumps freed a copy of the plaintext"
        );
        // From then on the buffer is sized up front.
        let (token2, freed) = freed_holding(MARKER.as_bytes(), || s.dumps(&payload).unwrap());
        assert_eq!(freed, 0, "{rest}: dumps freed a copy of the plaintext");
        assert_ne!(token2, token);
        // loads decrypts in place, and wipes the plaintext before the buffer is freed.
        let (_, freed) = freed_holding(MARKER.as_bytes(), || {
            s.loads::<serde::de::IgnoredAny>(&token).unwrap()
        });
        assert_eq!(freed, 0, "{rest}: loads freed a copy of the plaintext");
        // The watch sees a copy when there is one: the payload loaded as Strings, then dropped.
        let (_, freed) = freed_holding(MARKER.as_bytes(), || {
            drop(s.loads::<(String, String)>(&token).unwrap())
        });
        assert_eq!(freed, 1, "{rest}: the loaded Strings, freed by the test");
    }
}
