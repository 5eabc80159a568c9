//! What the resolver needs of a cache: read and write one domain's [`Entry`], never failing.
//! A shared backend that goes away is the cache layer's business (it answers from memory and
//! catches up later), not the resolver's.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use mailsec_core::mta_sts::sender::Entry;
use mailsec_sender::cache::{Layered, PolicyCache};

/// One entry per policy domain (normal form: lower case, A-labels, no trailing dot).
#[async_trait]
pub trait EntryStore: Send + Sync + 'static {
    /// The entry of `domain`, if any.
    async fn get(&self, domain: &str) -> Option<Entry>;
    /// Stores the entry of `domain`.
    async fn put(&self, domain: &str, entry: &Entry);
}

/// Entries in memory only, lost on restart (`--cache memory:`).
#[derive(Debug, Default)]
pub struct MemoryStore(Mutex<HashMap<String, Entry>>);

impl MemoryStore {
    /// How many domains are held.
    pub fn len(&self) -> usize {
        self.0.lock().map_or(0, |m| m.len())
    }

    /// True when none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl EntryStore for MemoryStore {
    async fn get(&self, domain: &str) -> Option<Entry> {
        self.0.lock().ok()?.get(domain).cloned()
    }

    async fn put(&self, domain: &str, entry: &Entry) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(domain.to_owned(), entry.clone());
        }
    }
}

/// The daemon's cache over a persistent or shared backend: `get` and `put` of a
/// [`Layered`] fail only if memory does, which it does not (a backend's failure is answered
/// from memory and caught up later, see [`Layered`]).
#[async_trait]
impl EntryStore for Layered {
    async fn get(&self, domain: &str) -> Option<Entry> {
        PolicyCache::get(self, domain).await.ok().flatten()
    }

    async fn put(&self, domain: &str, entry: &Entry) {
        let _ = PolicyCache::put(self, domain, entry).await;
    }
}
