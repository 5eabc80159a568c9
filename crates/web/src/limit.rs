//! The per-client rate limit: a token bucket per client, a client being an IPv4 address or an
//! IPv6 /64 (one subscriber's prefix: rotating addresses inside it buys nothing).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

/// Token buckets, one per client: `per_minute` tokens at most, refilled evenly over a minute.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    per_minute: u32,
    max_clients: usize,
    buckets: HashMap<IpAddr, Bucket>,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// `per_minute` checks a minute per client (at least 1), bursts of as many; at most
    /// `max_clients` clients remembered at once.
    pub(crate) fn new(per_minute: u32, max_clients: usize) -> Self {
        Self {
            per_minute: per_minute.max(1),
            max_clients: max_clients.max(1),
            buckets: HashMap::new(),
        }
    }

    /// Takes a token for `client` at `now`, or says how long until one is there.
    pub(crate) fn take(&mut self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let key = client_key(client);
        let capacity = f64::from(self.per_minute);
        if !self.buckets.contains_key(&key) && self.buckets.len() >= self.max_clients {
            // Forget the clients whose buckets have refilled: they are as good as new.
            let per_minute = self.per_minute;
            self.buckets
                .retain(|_, b| b.refilled(now, per_minute) < capacity);
            if self.buckets.len() >= self.max_clients {
                return Err(self.per_token());
            }
        }
        let bucket = self.buckets.entry(key).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let tokens = bucket.refilled(now, self.per_minute);
        if tokens >= 1.0 {
            *bucket = Bucket {
                tokens: tokens - 1.0,
                at: now,
            };
            return Ok(());
        }
        *bucket = Bucket { tokens, at: now };
        let wait = (1.0 - tokens) * 60.0 / capacity;
        Err(Duration::from_secs_f64(wait))
    }

    fn per_token(&self) -> Duration {
        Duration::from_secs_f64(60.0 / f64::from(self.per_minute))
    }
}

impl Bucket {
    fn refilled(&self, now: Instant, per_minute: u32) -> f64 {
        let capacity = f64::from(per_minute);
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        (self.tokens + elapsed * capacity / 60.0).min(capacity)
    }
}

/// The client an address belongs to: IPv4 addresses (also IPv4-mapped IPv6) as they are, IPv6
/// addresses by their /64.
pub(crate) fn client_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & (!0u128 << 64)).into()),
        },
    }
}

/// Whole seconds to wait, rounded up, at least 1: the `Retry-After` value.
pub(crate) fn retry_after(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0 || wait.is_zero())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_client_gets_its_burst_then_waits_for_the_refill() {
        let start = Instant::now();
        let mut limit = RateLimiter::new(10, 100);
        for _ in 0..10 {
            assert_eq!(limit.take(ip("192.0.2.1"), start), Ok(()));
        }
        let wait = limit.take(ip("192.0.2.1"), start).unwrap_err();
        assert_eq!(retry_after(wait), 6);
        // Another client is not affected.
        assert_eq!(limit.take(ip("192.0.2.2"), start), Ok(()));
        // One token comes back every 6 s.
        let later = start + Duration::from_secs(3);
        assert_eq!(
            retry_after(limit.take(ip("192.0.2.1"), later).unwrap_err()),
            3
        );
        let later = start + Duration::from_secs(6);
        assert_eq!(limit.take(ip("192.0.2.1"), later), Ok(()));
        assert!(limit.take(ip("192.0.2.1"), later).is_err());
        // After a minute the whole burst is back, and no more.
        let later = start + Duration::from_secs(600);
        for _ in 0..10 {
            assert_eq!(limit.take(ip("192.0.2.1"), later), Ok(()));
        }
        assert!(limit.take(ip("192.0.2.1"), later).is_err());
    }

    #[test]
    fn ipv6_clients_are_their_slash_64() {
        let start = Instant::now();
        let mut limit = RateLimiter::new(2, 100);
        assert_eq!(limit.take(ip("2001:db8:1:2::1"), start), Ok(()));
        assert_eq!(limit.take(ip("2001:db8:1:2:ffff::7"), start), Ok(()));
        assert!(limit.take(ip("2001:db8:1:2:abcd::1"), start).is_err());
        assert_eq!(limit.take(ip("2001:db8:1:3::1"), start), Ok(()));
        assert_eq!(client_key(ip("::ffff:192.0.2.9")), ip("192.0.2.9"));
        assert_eq!(client_key(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
    }

    #[test]
    fn the_table_of_clients_is_bounded() {
        let start = Instant::now();
        let mut limit = RateLimiter::new(1, 2);
        assert_eq!(limit.take(ip("192.0.2.1"), start), Ok(()));
        assert_eq!(limit.take(ip("192.0.2.2"), start), Ok(()));
        // Both are still waiting for their refill: a third client must wait too.
        assert!(limit.take(ip("192.0.2.3"), start).is_err());
        // Once refilled, the old buckets are forgotten.
        let later = start + Duration::from_secs(60);
        assert_eq!(limit.take(ip("192.0.2.3"), later), Ok(()));
        assert!(limit.buckets.len() <= 2);
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after(Duration::from_millis(100)), 1);
        assert_eq!(retry_after(Duration::from_secs(6)), 6);
        assert_eq!(retry_after(Duration::from_millis(6001)), 7);
        assert_eq!(retry_after(Duration::ZERO), 1);
    }
}
