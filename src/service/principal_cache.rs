//! Who holds a bearer token, remembered for a moment.
//!
//! Every staff request would otherwise ask the database twice (the token, then the shelters
//! the user is bound to) before doing its own work; at a busy shelter door that is most of the
//! cost of a scan. An entry lives `ttl` (default 2 s, `auth_cache_ms`, 0 turns this off). A
//! sign-out, a disabled user or a changed binding clears this process's cache at once; another
//! server process sharing the database may honour a revoked token for at most `ttl`.

use super::Principal;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// More entries than this and the cache starts over, so a flood of distinct tokens cannot
/// grow it without bound.
const MAX_ENTRIES: usize = 50_000;

/// Token hash → its holder and when the database said so.
type Entries = HashMap<[u8; 32], (Principal, Instant)>;

#[derive(Clone, Debug, Default)]
pub struct PrincipalCache {
    ttl: Duration,
    entries: Arc<RwLock<Entries>>,
}

impl PrincipalCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Default::default(),
        }
    }

    pub fn get(&self, hash: &[u8; 32]) -> Option<Principal> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.read().ok()?;
        let (principal, at) = entries.get(hash)?;
        (at.elapsed() < self.ttl).then(|| principal.clone())
    }

    pub fn put(&self, hash: [u8; 32], principal: &Principal) {
        if self.ttl.is_zero() {
            return;
        }
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(hash, (principal.clone(), Instant::now()));
        }
    }

    /// Forgets everyone: called whenever a token or a user's rights change.
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ResidentId;

    fn someone() -> Principal {
        Principal::Resident {
            id: ResidentId(uuid::Uuid::new_v4()),
            internal: 7,
        }
    }

    #[test]
    fn an_entry_is_served_until_its_time_is_up_or_the_cache_is_cleared() {
        let cache = PrincipalCache::new(Duration::from_millis(200));
        cache.put([1; 32], &someone());
        assert!(cache.get(&[1; 32]).is_some());
        assert!(cache.get(&[2; 32]).is_none());
        cache.clear();
        assert!(cache.get(&[1; 32]).is_none());
        cache.put([1; 32], &someone());
        std::thread::sleep(Duration::from_millis(250));
        assert!(
            cache.get(&[1; 32]).is_none(),
            "an expired entry is not served"
        );
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let cache = PrincipalCache::new(Duration::ZERO);
        cache.put([1; 32], &someone());
        assert!(cache.get(&[1; 32]).is_none());
    }
}
