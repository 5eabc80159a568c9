//! The sending MTA's side: socketmap keys as Postfix sends them, and cache entries as a shared
//! store (Redis, PostgreSQL) returns them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsec_core::mta_sts::sender::{self, Entry, Rules};
use mailsec_core::socketmap::policy::policy_domain;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = policy_domain(&String::from_utf8_lossy(data)) {
        assert_eq!(policy_domain(d.as_str()).map(|x| x.to_string()).ok(), Some(d.to_string()));
    }
    if let Ok(entry) = serde_json::from_slice::<Entry>(data) {
        // Whatever a store holds, planning a lookup with it never panics, at any time.
        for now in [0, entry.checked_at, entry.retry_at, u64::MAX] {
            let _ = sender::plan(Some(&entry), now, &Rules::default());
        }
    }
});
