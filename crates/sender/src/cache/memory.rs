//! [`Memory`]: entries in a map, lost on restart.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use compact_str::CompactString;
use mailsec_core::mta_sts::sender::{self, Entry, Rules, UnixSeconds};

use super::{CacheError, PolicyCache};

/// Entries in a `HashMap` under a lock, lost on restart (`memory:`, and the front layer of
/// [`super::Layered`]).
///
/// No size bound: evicting a live enforce policy would open a downgrade window (RFC 8461
/// §10.2). It holds one entry per policy domain looked up, about 300 bytes each with the policy
/// (a sending MTA's destinations, a set that grows slowly), and [`Memory::sweep`] drops those
/// that no longer answer anything, so names asked once do not stay.
///
/// Each entry sits in its own allocation behind the key: the table's slots are then 32 bytes
/// instead of 112, which with 100,000 domains is 4 MiB of table instead of 15 MiB, and 6 MiB
/// instead of 22 MiB while the table grows (the old and the new one both live for a moment,
/// and malloc keeps the old one's pages). Keys of up to 24 bytes, most domains, are kept in
/// the slot itself.
#[derive(Debug, Default)]
pub struct Memory {
    map: Mutex<HashMap<CompactString, Box<Entry>>>,
}

impl Memory {
    /// The map; a panic of another thread while holding the lock leaves complete entries (each
    /// change is one insert or remove), so the map is used as it is.
    fn map(&self) -> MutexGuard<'_, HashMap<CompactString, Box<Entry>>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets the entries that no longer answer anything at `now` ([`sender::is_stale`]) and
    /// returns how many went. Unbounded as the map is, this is what keeps it to the domains
    /// in use: a name asked once goes after its negative TTL.
    pub fn sweep(&self, now: UnixSeconds, rules: &Rules) -> usize {
        let mut map = self.map();
        let before = map.len();
        map.retain(|_, e| !sender::is_stale(e, now, rules));
        // Give back the table's room once most of it is empty.
        if map.capacity() > 4 * map.len().max(1024) {
            map.shrink_to_fit();
        }
        before - map.len()
    }

    /// How many domains are held.
    pub fn count(&self) -> usize {
        self.map().len()
    }
}

#[async_trait]
impl PolicyCache for Memory {
    async fn get(&self, domain: &str) -> Result<Option<Entry>, CacheError> {
        Ok(self.map().get(domain).map(|e| Entry::clone(e)))
    }

    async fn put(&self, domain: &str, entry: &Entry) -> Result<(), CacheError> {
        let mut map = self.map();
        match map.get_mut(domain) {
            Some(old) if old.checked_at > entry.checked_at => {}
            Some(old) => Entry::clone_from(old, entry),
            None => {
                map.insert(domain.into(), Box::new(entry.clone()));
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
            .map(|(d, e)| (d.to_string(), Entry::clone(e)))
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
