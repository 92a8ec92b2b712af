//! Where a serializer keeps its key ring: fixed for its lifetime, or, with the feature `reload`,
//! swappable at run time without blocking anyone (arc-swap: a `loads` in flight keeps the ring
//! it started with; the next one sees the new ring).
//!
//! Every clone of a serializer shares the cell, so a swap through one handle is seen by all
//! (the web layer and extractors hold clones).

use std::ops::Deref;
use std::sync::Arc;

use crate::seal::KeyRing;

/// The shared, possibly swappable, key ring of a serializer and its clones.
#[derive(Clone)]
pub(crate) struct RingCell {
    #[cfg(not(feature = "reload"))]
    ring: Arc<KeyRing>,
    #[cfg(feature = "reload")]
    ring: Arc<arc_swap::ArcSwap<KeyRing>>,
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
    pub(crate) fn new(ring: KeyRing) -> RingCell {
        RingCell {
            #[cfg(not(feature = "reload"))]
            ring: Arc::new(ring),
            #[cfg(feature = "reload")]
            ring: Arc::new(arc_swap::ArcSwap::from_pointee(ring)),
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

    /// Replaces the ring for every holder of the cell, atomically.
    #[cfg(feature = "reload")]
    pub(crate) fn store(&self, ring: KeyRing) {
        self.ring.store(Arc::new(ring));
    }
}
