//! Range reads at a timestamp: walks the write and lock column families side by side, yielding
//! each visible key once, and reports locks that block the reader per key.

use std::cmp::Ordering;

use super::{check_lock_conflict, Key, Lock, MvccReader, Write, WriteType};
use crate::engine::{EngineIterator, IterOptions, Snapshot, CF_LOCK, CF_WRITE};
use crate::error::Result;

/// What to scan.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Inclusive lower bound (user key).
    pub lower: Vec<u8>,
    /// Exclusive upper bound (user key); empty means unbounded.
    pub upper: Vec<u8>,
    /// Maximum number of entries to return (values and lock errors); 0 means none.
    pub limit: usize,
    /// The read timestamp.
    pub read_ts: u64,
    /// Return keys without values.
    pub key_only: bool,
    /// Walk from `upper` down to `lower`.
    pub reverse: bool,
    /// Transactions whose locks the reader may ignore (the context's `resolved_locks`).
    pub bypass_locks: Vec<u64>,
    /// Ignore every lock (read-committed isolation).
    pub ignore_locks: bool,
    /// Transactions known to be committed (the context's `committed_locks`): a blocking lock of
    /// one of them is read through, its value taken from the lock as if committed.
    pub access_locks: Vec<u64>,
}

/// One key of a scan: its value, or the lock that stopped the reader.
#[derive(Debug)]
pub struct ScannedEntry {
    /// The user key.
    pub key: Vec<u8>,
    /// The value (empty when key-only), or the error for this key.
    pub value: Result<Vec<u8>>,
}

struct Cursor<I: EngineIterator> {
    iter: I,
    valid: bool,
    reverse: bool,
}

impl<I: EngineIterator> Cursor<I> {
    fn start(mut iter: I, reverse: bool) -> Result<Self> {
        let valid = if reverse {
            iter.seek_to_last()?
        } else {
            iter.seek_to_first()?
        };
        Ok(Cursor {
            iter,
            valid,
            reverse,
        })
    }

    fn step(&mut self) -> Result<()> {
        self.valid = if self.reverse {
            self.iter.prev()?
        } else {
            self.iter.next()?
        };
        Ok(())
    }
}

/// Scans `[lower, upper)` at `read_ts`.
pub fn scan<S: Snapshot>(snapshot: S, options: &ScanOptions) -> Result<Vec<ScannedEntry>> {
    let lower = Key::from_raw(&options.lower);
    let upper = (!options.upper.is_empty()).then(|| Key::from_raw(&options.upper));
    let upper_bytes = upper
        .as_ref()
        .map(|key| key.as_encoded())
        .unwrap_or_default();
    let bounds = IterOptions::bounded(lower.as_encoded(), upper_bytes);
    let mut writes = Cursor::start(
        snapshot.iterator_cf(CF_WRITE, bounds.clone())?,
        options.reverse,
    )?;
    let mut locks = Cursor::start(snapshot.iterator_cf(CF_LOCK, bounds)?, options.reverse)?;
    let mut reader = MvccReader::new(snapshot);
    let mut entries = Vec::new();
    while entries.len() < options.limit && (writes.valid || locks.valid) {
        let write_key = if writes.valid {
            Some(Key::split_on_ts(writes.iter.key())?.0.to_vec())
        } else {
            None
        };
        let lock_key = locks.valid.then(|| locks.iter.key().to_vec());
        let order = match (&write_key, &lock_key) {
            (Some(write), Some(lock)) => {
                let order = write.cmp(lock);
                if options.reverse {
                    order.reverse()
                } else {
                    order
                }
            }
            (Some(_), None) => Ordering::Less,
            (None, _) => Ordering::Greater,
        };
        let (current, lock) = match order {
            Ordering::Less => (write_key.unwrap_or_default(), None),
            Ordering::Greater => {
                let lock = Lock::parse(locks.iter.value())?;
                locks.step()?;
                (lock_key.unwrap_or_default(), Some(lock))
            }
            Ordering::Equal => {
                let lock = Lock::parse(locks.iter.value())?;
                locks.step()?;
                (write_key.unwrap_or_default(), Some(lock))
            }
        };
        let key = Key::from_encoded(current);
        // Forward, the write cursor sits on the key's newest version: the visible one is found
        // by stepping through the versions, with no seek per key.
        let mut stepped = None;
        if order != Ordering::Greater {
            if options.reverse {
                skip_versions(&mut writes, &key)?;
            } else {
                stepped = Some(visible_forward(&mut writes, &key, options, &reader)?);
            }
        }
        if let Some(lock) = lock.as_ref().filter(|_| !options.ignore_locks) {
            if let Err(err) =
                check_lock_conflict(&key, lock, options.read_ts, &options.bypass_locks)
            {
                if options.access_locks.contains(&lock.ts) {
                    if let Some(value) = reader.load_from_lock(&key, lock, options.key_only)? {
                        entries.push(ScannedEntry {
                            key: key.to_raw()?,
                            value: Ok(value),
                        });
                    }
                } else {
                    entries.push(ScannedEntry {
                        key: key.to_raw()?,
                        value: Err(err),
                    });
                }
                continue;
            }
        }
        if order == Ordering::Greater {
            // A lock without committed versions in range: nothing visible unless a write exists,
            // which the write cursor would have shown first.
            continue;
        }
        let visible = if let Some(visible) = stepped {
            visible
        } else if options.key_only {
            reader
                .get_write(&key, options.read_ts)?
                .filter(|(_, write)| write.write_type == super::WriteType::Put)
                .map(|_| Vec::new())
        } else {
            reader.get_value(&key, options.read_ts)?
        };
        if let Some(value) = visible {
            entries.push(ScannedEntry {
                key: key.to_raw()?,
                value: Ok(value),
            });
        }
    }
    Ok(entries)
}

/// Walks the write cursor (forward, on `key`'s newest version) past every version of `key`,
/// answering the value visible at the read timestamp: the newest put or delete committed at or
/// before it, lock and rollback records skipped.
fn visible_forward<I: EngineIterator, S: Snapshot>(
    cursor: &mut Cursor<I>,
    key: &Key,
    options: &ScanOptions,
    reader: &MvccReader<S>,
) -> Result<Option<Vec<u8>>> {
    let mut visible: Option<Option<Vec<u8>>> = None;
    while cursor.valid {
        let (found, commit_ts) = Key::split_on_ts(cursor.iter.key())?;
        if found != key.as_encoded() {
            break;
        }
        if visible.is_none() && commit_ts <= options.read_ts {
            let mut write = Write::parse(cursor.iter.value())?;
            match write.write_type {
                WriteType::Put if options.key_only => visible = Some(Some(Vec::new())),
                WriteType::Put => {
                    let value = match write.short_value.take() {
                        Some(value) => value,
                        None => reader.load_data(key, &write)?,
                    };
                    visible = Some(Some(value));
                }
                WriteType::Delete => visible = Some(None),
                WriteType::Lock | WriteType::Rollback => {}
            }
        }
        cursor.step()?;
    }
    Ok(visible.flatten())
}

/// Moves the write cursor past every version of `key`.
fn skip_versions<I: EngineIterator>(cursor: &mut Cursor<I>, key: &Key) -> Result<()> {
    while cursor.valid {
        let (found, _) = Key::split_on_ts(cursor.iter.key())?;
        if found != key.as_encoded() {
            return Ok(());
        }
        cursor.step()?;
    }
    Ok(())
}
