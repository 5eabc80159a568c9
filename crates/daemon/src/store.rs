//! What the resolver needs of a cache: read and write one domain's [`Entry`], never failing.
//! A shared backend that goes away is the cache layer's business (it answers from memory and
//! catches up later), not the resolver's.

use async_trait::async_trait;
use mailsec_core::mta_sts::sender::{Entry, Rules, UnixSeconds};
use mailsec_sender::cache::{Layered, Memory, PolicyCache};

/// One entry per policy domain (normal form: lower case, A-labels, no trailing dot).
#[async_trait]
pub trait EntryStore: Send + Sync + 'static {
    /// The entry of `domain`, if any.
    async fn get(&self, domain: &str) -> Option<Entry>;
    /// Stores the entry of `domain`.
    async fn put(&self, domain: &str, entry: &Entry);
    /// Forgets from memory what no longer answers anything at `now`
    /// ([`mailsec_core::mta_sts::sender::is_stale`]); how many entries went.
    fn sweep(&self, now: UnixSeconds, rules: &Rules) -> usize;
}

/// Entries in memory only, lost on restart (`--cache memory:`).
#[async_trait]
impl EntryStore for Memory {
    async fn get(&self, domain: &str) -> Option<Entry> {
        PolicyCache::get(self, domain).await.ok().flatten()
    }

    async fn put(&self, domain: &str, entry: &Entry) {
        let _ = PolicyCache::put(self, domain, entry).await;
    }

    fn sweep(&self, now: UnixSeconds, rules: &Rules) -> usize {
        Self::sweep(self, now, rules)
    }
}

/// The daemon's cache over a persistent or shared backend: `get` and `put` of a
/// [`Layered`] fail only if memory does, which it does not (a backend's failure is answered
/// from memory and caught up later, see [`Layered`]). A sweep forgets from the memory layer
/// only: the backend keeps every entry, and a swept domain asked again is read back from it.
#[async_trait]
impl EntryStore for Layered {
    async fn get(&self, domain: &str) -> Option<Entry> {
        PolicyCache::get(self, domain).await.ok().flatten()
    }

    async fn put(&self, domain: &str, entry: &Entry) {
        let _ = PolicyCache::put(self, domain, entry).await;
    }

    fn sweep(&self, now: UnixSeconds, rules: &Rules) -> usize {
        self.memory().sweep(now, rules)
    }
}
