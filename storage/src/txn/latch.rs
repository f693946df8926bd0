//! Latches: commands that touch the same keys run one at a time. Keys hash to slots; a command
//! takes its slots in ascending order (so two commands cannot deadlock) and holds them until its
//! changes are applied.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use tokio::sync::{Mutex, OwnedMutexGuard};

/// A fixed table of async mutexes.
#[derive(Clone)]
pub struct Latches {
    slots: Arc<Vec<Arc<Mutex<()>>>>,
}

/// Held slots; dropping releases them.
pub struct LatchGuard {
    _guards: Vec<OwnedMutexGuard<()>>,
}

impl Latches {
    /// A table of `size` slots (rounded up to a power of two).
    pub fn new(size: usize) -> Self {
        let size = size.max(1).next_power_of_two();
        Latches {
            slots: Arc::new((0..size).map(|_| Arc::new(Mutex::new(()))).collect()),
        }
    }

    fn slot_of(&self, key: &[u8]) -> usize {
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        (hasher.finish() as usize) & (self.slots.len() - 1)
    }

    /// Waits for the slots of `keys` and returns a guard holding them.
    pub async fn acquire<K: AsRef<[u8]>>(&self, keys: &[K]) -> LatchGuard {
        let mut slots: Vec<usize> = keys.iter().map(|key| self.slot_of(key.as_ref())).collect();
        slots.sort_unstable();
        slots.dedup();
        let mut guards = Vec::with_capacity(slots.len());
        for slot in slots {
            guards.push(self.slots[slot].clone().lock_owned().await);
        }
        LatchGuard { _guards: guards }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn same_keys_serialize_other_keys_do_not() {
        let latches = Latches::new(64);
        let held = latches.acquire(&[b"a".to_vec(), b"b".to_vec()]).await;
        let contender = {
            let latches = latches.clone();
            tokio::spawn(async move {
                let _guard = latches.acquire(&[b"b".to_vec()]).await;
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!contender.is_finished());
        drop(held);
        tokio::time::timeout(Duration::from_secs(1), contender)
            .await
            .expect("latch released")
            .expect("task ok");
    }
}
