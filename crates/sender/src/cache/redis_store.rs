//! [`Redis`]: one hash per domain, newer-wins by a server-side script, keys that expire.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use mailsec_core::mta_sts::sender::Entry;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{CacheError, PolicyCache, SHARED_TIMEOUT, bounded, decode, encode, one_line, redact};

/// The key prefix unless configured: the entry of `example.com` is `mailsec:sts:example.com`.
pub const DEFAULT_PREFIX: &str = "mailsec:sts:";

/// How long a key outlives the expiry of its policy unless configured: three days.
const DEFAULT_TTL_GRACE: Duration = Duration::from_secs(3 * 86_400);

/// Keys per `SCAN` step.
const SCAN_COUNT: usize = 500;

/// Reads one key: `{type}` for a key that is no hash (or none), `{'hash', entry}` otherwise.
const GET: &str = r"
local t = redis.call('TYPE', KEYS[1]).ok
if t ~= 'hash' then return {t} end
return {t, redis.call('HGET', KEYS[1], 'entry')}
";

/// Newer or equal wins. KEYS[1]; ARGV: checked_at, entry JSON, TTL in seconds. A stored value
/// that is no hash, or whose `at` is no number, counts as absent. 1 when written.
const PUT: &str = r"
local t = redis.call('TYPE', KEYS[1]).ok
if t == 'hash' then
  local old = tonumber(redis.call('HGET', KEYS[1], 'at'))
  if old ~= nil and old > tonumber(ARGV[1]) then return 0 end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'at', ARGV[1], 'entry', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
";

/// Replaces an unreadable entry if it is still the one read. KEYS[1]; ARGV: the entry as read
/// (empty when missing), checked_at, entry JSON, TTL.
const REPLACE: &str = r"
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return 0 end
local cur = redis.call('HGET', KEYS[1], 'entry')
if cur == false then cur = '' end
if cur ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'at', ARGV[2], 'entry', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
";

/// How [`Redis`] stores entries.
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub struct RedisOptions {
    /// Prepended to the domain to make its key ([`DEFAULT_PREFIX`]); MTAs sharing a cache use
    /// the same prefix, and different prefixes keep caches apart on one server.
    pub prefix: String,
    /// How long a key outlives the expiry of its policy (three days unless set).
    pub ttl_grace: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            prefix: DEFAULT_PREFIX.to_owned(),
            ttl_grace: DEFAULT_TTL_GRACE,
        }
    }
}

/// Redis, shared by several MTAs. The entry of a domain is a hash under `<prefix><domain>`
/// with two fields: `entry`, the entry's JSON, and `at`, its `checked_at`, which a script
/// compares and writes in one step (newer wins, atomically: Redis runs scripts one at a time).
///
/// Every write sets the key to expire [`RedisOptions::ttl_grace`] after its policy does (or
/// after the write, whichever is later), so the entries of domains nobody sends to any more do
/// not stay for ever (postfix-mta-sts-resolver's issue #109); an entry in use is rewritten at
/// each fetch, well before.
///
/// The connection is a [`ConnectionManager`]: made when first needed, made again after the
/// server went away; every call is bounded by [`SHARED_TIMEOUT`].
pub struct Redis {
    conn: ConnectionManager,
    shown: String,
    options: RedisOptions,
    get: redis::Script,
    put: redis::Script,
    replace: redis::Script,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("url", &self.shown)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Redis {
    /// A cache on the server at `url` (`redis://[user][:password@]host[:port][/db]`, or
    /// `rediss://` for TLS, checked against the system's roots). Does not wait for the server:
    /// the connection is made at the first call, and a bad URL is the only error here.
    pub async fn connect(url: &str, options: RedisOptions) -> Result<Self, CacheError> {
        let shown = redact(url);
        let err = |e: &redis::RedisError| CacheError::Redis {
            url: shown.clone(),
            what: "open".to_owned(),
            reason: one_line(e),
        };
        let client = redis::Client::open(url).map_err(|e| err(&e))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(SHARED_TIMEOUT))
            .set_response_timeout(Some(SHARED_TIMEOUT))
            .set_number_of_retries(1);
        let conn = client
            .get_connection_manager_lazy(config)
            .map_err(|e| err(&e))?;
        Ok(Self {
            conn,
            shown,
            options,
            get: redis::Script::new(GET),
            put: redis::Script::new(PUT),
            replace: redis::Script::new(REPLACE),
        })
    }

    /// The key of `domain`.
    pub fn key(&self, domain: &str) -> String {
        format!("{}{domain}", self.options.prefix)
    }

    /// The options in use.
    pub fn options(&self) -> &RedisOptions {
        &self.options
    }

    fn err(&self, what: impl Into<String>) -> impl FnOnce(String) -> CacheError + '_ {
        let what = what.into();
        move |reason| CacheError::Redis {
            url: self.shown.clone(),
            what,
            reason,
        }
    }

    /// Seconds the key of `entry` should live from now: until `ttl_grace` after its policy
    /// expires (or after `checked_at` when it has none), and at least `ttl_grace`.
    fn ttl(&self, entry: &Entry) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let grace = self.options.ttl_grace.as_secs().max(1);
        let until = entry
            .policy
            .as_ref()
            .map_or(0, |p| p.expires_at())
            .max(entry.checked_at)
            .saturating_add(grace);
        until.saturating_sub(now).max(grace)
    }

    /// The stored value of `domain`: `Ok(None)` when absent, `Err(what)` describing a value
    /// that is not an entry hash, else the `entry` field (empty when missing).
    async fn raw(&self, domain: &str) -> Result<Option<Result<Vec<u8>, String>>, CacheError> {
        let mut c = self.conn.clone();
        let mut inv = self.get.prepare_invoke();
        inv.key(self.key(domain));
        let reply: Vec<Option<Vec<u8>>> =
            bounded(inv.invoke_async(&mut c), self.err(format!("get {domain}"))).await?;
        let mut reply = reply.into_iter();
        let kind = reply.next().flatten().unwrap_or_default();
        Ok(match kind.as_slice() {
            b"none" => None,
            b"hash" => Some(Ok(reply.next().flatten().unwrap_or_default())),
            other => Some(Err(format!(
                "a Redis {} where a hash was expected",
                String::from_utf8_lossy(other)
            ))),
        })
    }

    /// Every key under the prefix, as domains (keys that are not UTF-8 are skipped).
    async fn domains(&self, what: &str) -> Result<Vec<String>, CacheError> {
        let mut c = self.conn.clone();
        let pattern = format!("{}*", glob_escape(&self.options.prefix));
        let mut cursor: u64 = 0;
        let mut out = Vec::new();
        loop {
            let (next, keys): (u64, Vec<Vec<u8>>) = bounded(
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(SCAN_COUNT)
                    .query_async(&mut c),
                self.err(what),
            )
            .await?;
            for k in keys {
                match String::from_utf8(k) {
                    Ok(k) => {
                        if let Some(d) = k.strip_prefix(&self.options.prefix) {
                            out.push(d.to_owned());
                        }
                    }
                    Err(_) => {
                        tracing::warn!(cache = self.shown, "cache key that is not UTF-8 skipped")
                    }
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        // SCAN may return a key more than once.
        out.sort();
        out.dedup();
        Ok(out)
    }
}

/// `s` with Redis glob metacharacters escaped, for `SCAN MATCH`.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[async_trait]
impl PolicyCache for Redis {
    async fn get(&self, domain: &str) -> Result<Option<Entry>, CacheError> {
        Ok(match self.raw(domain).await? {
            None => None,
            Some(Ok(json)) => decode(&self.shown, domain, &json),
            Some(Err(what)) => {
                tracing::warn!(
                    cache = self.shown,
                    domain,
                    stored = what,
                    "unreadable cache entry skipped (treated as absent)"
                );
                None
            }
        })
    }

    async fn put(&self, domain: &str, entry: &Entry) -> Result<(), CacheError> {
        let (key, json, ttl) = (self.key(domain), encode(entry), self.ttl(entry));
        let mut c = self.conn.clone();
        let mut inv = self.put.prepare_invoke();
        inv.key(&key).arg(entry.checked_at).arg(&json).arg(ttl);
        let written: i64 =
            bounded(inv.invoke_async(&mut c), self.err(format!("put {domain}"))).await?;
        if written == 1 {
            return Ok(());
        }
        // Refused: a later entry is stored, unless it is unreadable (then it counts as absent).
        if let Some(Ok(old)) = self.raw(domain).await?
            && serde_json::from_slice::<Entry>(&old).is_err()
        {
            tracing::warn!(
                cache = self.shown,
                domain,
                "unreadable cache entry replaced"
            );
            let mut inv = self.replace.prepare_invoke();
            inv.key(&key)
                .arg(old)
                .arg(entry.checked_at)
                .arg(&json)
                .arg(ttl);
            let _: i64 =
                bounded(inv.invoke_async(&mut c), self.err(format!("put {domain}"))).await?;
        }
        Ok(())
    }

    async fn remove(&self, domain: &str) -> Result<bool, CacheError> {
        let mut c = self.conn.clone();
        let n: u64 = bounded(
            redis::cmd("DEL").arg(self.key(domain)).query_async(&mut c),
            self.err(format!("remove {domain}")),
        )
        .await?;
        Ok(n > 0)
    }

    async fn list(&self) -> Result<Vec<(String, Entry)>, CacheError> {
        let mut out = Vec::new();
        for d in self.domains("list").await? {
            if let Some(e) = self.get(&d).await? {
                out.push((d, e));
            }
        }
        Ok(out)
    }

    async fn purge(&self) -> Result<u64, CacheError> {
        let domains = self.domains("purge").await?;
        let mut c = self.conn.clone();
        let mut n = 0;
        for chunk in domains.chunks(SCAN_COUNT) {
            let keys: Vec<String> = chunk.iter().map(|d| self.key(d)).collect();
            let deleted: u64 = bounded(
                redis::cmd("DEL").arg(&keys).query_async(&mut c),
                self.err("purge"),
            )
            .await?;
            n += deleted;
        }
        Ok(n)
    }

    async fn len(&self) -> Result<u64, CacheError> {
        Ok(self.domains("count").await?.len() as u64)
    }

    async fn ping(&self) -> Result<(), CacheError> {
        let mut c = self.conn.clone();
        let _: String = bounded(redis::cmd("PING").query_async(&mut c), self.err("ping")).await?;
        Ok(())
    }

    fn describe(&self) -> String {
        if self.options.prefix == DEFAULT_PREFIX {
            self.shown.clone()
        } else {
            format!("{} (prefix {})", self.shown, self.options.prefix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_metacharacters_are_escaped() {
        assert_eq!(glob_escape("mailsec:sts:"), "mailsec:sts:");
        assert_eq!(glob_escape(r"a*b?[c]\"), r"a\*b\?\[c\]\\");
    }
}
