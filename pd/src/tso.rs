//! The timestamp oracle: `physical_ms << 18 | logical`, strictly increasing, also across restarts.
//!
//! Before handing out a timestamp whose physical part reaches the persisted window end, the
//! oracle saves a new end `SAVE_AHEAD_MS` ahead. After a restart it starts at the saved end, so
//! every new timestamp is above every old one whatever the wall clock says.

use crate::error::Result;
use crate::meta::{MetaStore, TSO_WINDOW};

/// Bits of the logical part.
pub const LOGICAL_BITS: u32 = 18;
const MAX_LOGICAL: u64 = 1 << LOGICAL_BITS;
const SAVE_AHEAD_MS: u64 = 3000;

/// The 64-bit timestamp of a `(physical_ms, logical)` pair: `physical << 18 | logical`.
pub fn compose_ts(physical: u64, logical: u64) -> u64 {
    (physical << LOGICAL_BITS) | logical
}

/// Whether one request may ask for `count` timestamps (they must fit one physical tick).
pub fn valid_count(count: u32) -> bool {
    count > 0 && u64::from(count) < MAX_LOGICAL
}

/// Oracle state; callers serialize access.
pub struct Tso {
    physical: u64,
    logical: u64,
    window_end: u64,
}

fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(0)
}

impl Tso {
    /// Resumes above the window saved in `meta`.
    pub fn open(meta: &MetaStore) -> Result<Tso> {
        let saved = meta.get_u64(TSO_WINDOW)?.unwrap_or(0);
        Ok(Tso {
            physical: saved,
            logical: 0,
            window_end: saved,
        })
    }

    /// Reserves `count` timestamps and returns `(physical, logical)` of the highest. `count`
    /// must be below `2^18` (`valid_count`).
    pub fn allocate(&mut self, meta: &MetaStore, count: u32) -> Result<(u64, u64)> {
        let count = u64::from(count.max(1)).min(MAX_LOGICAL - 1);
        let now = wall_clock_ms();
        if now > self.physical {
            self.physical = now;
            self.logical = 0;
        }
        if self.logical + count >= MAX_LOGICAL {
            self.physical += 1;
            self.logical = 0;
        }
        if self.physical >= self.window_end {
            let end = self.physical + SAVE_AHEAD_MS;
            meta.put_u64(TSO_WINDOW, end)?;
            self.window_end = end;
        }
        self.logical += count;
        Ok((self.physical, self.logical))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logical_overflow_moves_to_the_next_tick_and_window_is_saved() {
        let dir = tempfile::tempdir().unwrap();
        let meta = MetaStore::open(dir.path()).unwrap();
        let mut tso = Tso::open(&meta).unwrap();
        let mut last = 0;
        for _ in 0..10 {
            let (physical, logical) = tso.allocate(&meta, 100_000).unwrap();
            assert!(logical < MAX_LOGICAL);
            let ts = compose_ts(physical, logical);
            assert!(ts > last);
            last = ts;
        }
        let saved = meta.get_u64(TSO_WINDOW).unwrap().unwrap();
        assert!(saved > last >> LOGICAL_BITS);
        let mut reopened = Tso::open(&meta).unwrap();
        let (physical, logical) = reopened.allocate(&meta, 1).unwrap();
        assert!(compose_ts(physical, logical) > last);
        assert!(!valid_count(0) && !valid_count(1 << 18) && valid_count(1));
    }
}
