//! [`Memory`]: entries in a map, lost on restart.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use mailsec_core::mta_sts::sender::Entry;

use super::{CacheError, PolicyCache};

/// Entries in a `HashMap` under a lock, lost on restart (`memory:`, and the front layer of
/// [`super::Layered`]).
///
/// Unbounded: it holds one entry per policy domain ever looked up by this process. A sending
/// MTA looks up the domains it delivers to, a set that grows slowly and whose entries are a few
/// hundred bytes each (the policy body is at most 64 KiB, RFC 8461 §3.2, and usually far
/// less), so a bound would buy little and evicting a live enforce policy would cost a downgrade
/// window (RFC 8461 §10.2).
#[derive(Debug, Default)]
pub struct Memory {
    map: Mutex<HashMap<String, Entry>>,
}

impl Memory {
    /// The map; a panic of another thread while holding the lock leaves complete entries (each
    /// change is one insert or remove), so the map is used as it is.
    fn map(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl PolicyCache for Memory {
    async fn get(&self, domain: &str) -> Result<Option<Entry>, CacheError> {
        Ok(self.map().get(domain).cloned())
    }

    async fn put(&self, domain: &str, entry: &Entry) -> Result<(), CacheError> {
        let mut map = self.map();
        match map.get_mut(domain) {
            Some(old) if old.checked_at > entry.checked_at => {}
            Some(old) => old.clone_from(entry),
            None => {
                map.insert(domain.to_owned(), entry.clone());
            }
        }
        Ok(())
    }

    async fn remove(&self, domain: &str) -> Result<bool, CacheError> {
        Ok(self.map().remove(domain).is_some())
    }

    async fn list(&self) -> Result<Vec<(String, Entry)>, CacheError> {
        let mut all: Vec<(String, Entry)> = self
            .map()
            .iter()
            .map(|(d, e)| (d.clone(), e.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(all)
    }

    async fn purge(&self) -> Result<u64, CacheError> {
        let mut map = self.map();
        let n = map.len() as u64;
        map.clear();
        Ok(n)
    }

    async fn len(&self) -> Result<u64, CacheError> {
        Ok(self.map().len() as u64)
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Ok(())
    }

    fn describe(&self) -> String {
        "memory:".to_owned()
    }
}
