//! pwprotect's evaluator on any password, any list and identity (split from the input).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pwprotect_core::{Identity, Policy, Profile, evaluate};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\u{1}');
    let password = parts.next().unwrap_or("");
    let terms: Vec<&str> = parts.next().unwrap_or("").split('\n').collect();
    let account = parts.next();
    for profile in [Profile::Compatible, Profile::Extended] {
        let Ok(mut policy) = Policy::new(terms.iter().copied(), [], profile) else {
            return;
        };
        policy.strict = data.first().is_some_and(|b| b & 1 == 1);
        let v = evaluate(&policy, password, &Identity { account, ..Identity::default() });
        assert_eq!(v.accepted, v.reason.is_none());
    }
});
