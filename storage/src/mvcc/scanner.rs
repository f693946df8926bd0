//! Range reads at a timestamp: walks the write and lock column families side by side, yielding
//! each visible key once, and reports locks that block the reader per key.

use std::cmp::Ordering;

use super::{check_lock_conflict, Key, Lock, MvccReader, Write, WriteRef, WriteType};
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
    /// Keep the blocks read out of the block cache (the context's `not_fill_cache`).
    pub not_fill_cache: bool,
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
    let mut entries = Vec::new();
    let mut raw = Vec::new();
    scan_each(snapshot, options, &mut |key, value| {
        key.to_raw_into(&mut raw)?;
        entries.push(ScannedEntry {
            key: raw.clone(),
            value: value.map(<[u8]>::to_vec),
        });
        Ok(())
    })?;
    Ok(entries)
}

/// What `scan_each` hands each entry to: the encoded key, and its value or lock error.
pub type ScanVisit<'a> = &'a mut dyn FnMut(&Key, Result<&[u8]>) -> Result<()>;

/// Scans `[lower, upper)` at `read_ts`, handing each entry to `visit` (the key, encoded, and
/// the value or the lock error of that key) instead of collecting them: the key and value are
/// borrowed from the cursor or from buffers reused across keys, so a scan allocates nothing
/// per row, and a visitor that does not need the user key never decodes it. An error from
/// `visit` stops the scan and is returned. Answers the number of entries visited.
pub fn scan_each<S: Snapshot>(
    snapshot: S,
    options: &ScanOptions,
    visit: ScanVisit<'_>,
) -> Result<usize> {
    let lower = Key::from_raw(&options.lower);
    let upper = (!options.upper.is_empty()).then(|| Key::from_raw(&options.upper));
    let upper_bytes = upper
        .as_ref()
        .map(|key| key.as_encoded())
        .unwrap_or_default();
    let bounds =
        IterOptions::bounded(lower.as_encoded(), upper_bytes).fill_cache(!options.not_fill_cache);
    let mut writes = Cursor::start(
        snapshot.iterator_cf(CF_WRITE, bounds.clone())?,
        options.reverse,
    )?;
    let mut locks = Cursor::start(snapshot.iterator_cf(CF_LOCK, bounds)?, options.reverse)?;
    let mut reader = MvccReader::new(snapshot);
    // Buffers reused for every key: its encoded form and its visible value.
    let mut encoded = Vec::new();
    let mut value = Vec::new();
    let mut visited = 0;
    while visited < options.limit && (writes.valid || locks.valid) {
        let write_key = if writes.valid {
            Some(Key::split_on_ts(writes.iter.key())?.0)
        } else {
            None
        };
        let lock_key = locks.valid.then(|| locks.iter.key());
        let order = match (write_key, lock_key) {
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
        encoded.clear();
        encoded.extend_from_slice(match order {
            Ordering::Less | Ordering::Equal => write_key.unwrap_or_default(),
            Ordering::Greater => lock_key.unwrap_or_default(),
        });
        let lock = if order == Ordering::Less {
            None
        } else {
            let lock = Lock::parse(locks.iter.value())?;
            locks.step()?;
            Some(lock)
        };
        let key = Key::from_encoded(std::mem::take(&mut encoded));
        let blocking = match lock.as_ref().filter(|_| !options.ignore_locks) {
            Some(lock) => {
                check_lock_conflict(&key, lock, options.read_ts, &options.bypass_locks).err()
            }
            None => None,
        };
        // Forward, the write cursor sits on the key's newest version: the visible one is found
        // by stepping through the versions, with no seek per key. With no lock in the way it
        // goes to `visit` straight from the cursor.
        if !options.reverse && order != Ordering::Greater && blocking.is_none() {
            visible_forward(&mut writes, &key, options, &reader, &mut |found| {
                visited += 1;
                visit(&key, Ok(found))
            })?;
            encoded = key.into_encoded();
            continue;
        }
        let mut stepped = None;
        if order != Ordering::Greater {
            if options.reverse {
                skip_versions(&mut writes, &key)?;
            } else {
                stepped = Some(visible_forward(
                    &mut writes,
                    &key,
                    options,
                    &reader,
                    &mut |found| {
                        value.clear();
                        value.extend_from_slice(found);
                        Ok(())
                    },
                )?);
            }
        }
        let mut outcome = None;
        if let (Some(err), Some(lock)) = (blocking, lock.as_ref()) {
            outcome = Some(if options.access_locks.contains(&lock.ts) {
                match reader.load_from_lock(&key, lock, options.key_only)? {
                    Some(from_lock) => {
                        value = from_lock;
                        Some(Ok(()))
                    }
                    None => None,
                }
            } else {
                Some(Err(err))
            });
        }
        let outcome = match outcome {
            // A blocking lock decided the key: its error, its value, or nothing.
            Some(decided) => decided,
            // A lock without committed versions in range: nothing visible unless a write
            // exists, which the write cursor would have shown first.
            None if order == Ordering::Greater => None,
            None => {
                let found = match stepped {
                    Some(found) => found,
                    None if options.key_only => {
                        value.clear();
                        reader
                            .get_write(&key, options.read_ts)?
                            .is_some_and(|(_, write)| write.write_type == WriteType::Put)
                    }
                    None => match reader.get_value(&key, options.read_ts)? {
                        Some(found) => {
                            value = found;
                            true
                        }
                        None => false,
                    },
                };
                found.then_some(Ok(()))
            }
        };
        if let Some(outcome) = outcome {
            visited += 1;
            match outcome {
                Ok(()) => visit(&key, Ok(&value))?,
                Err(err) => visit(&key, Err(err))?,
            }
        }
        encoded = key.into_encoded();
    }
    Ok(visited)
}

/// Walks the write cursor (forward, on `key`'s newest version) past every version of `key`,
/// handing the value visible at the read timestamp (the newest put or delete committed at or
/// before it, lock and rollback records skipped) to `found`, borrowed from the cursor. Answers
/// whether a value is visible.
fn visible_forward<I: EngineIterator, S: Snapshot>(
    cursor: &mut Cursor<I>,
    key: &Key,
    options: &ScanOptions,
    reader: &MvccReader<S>,
    found: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<bool> {
    let mut visible: Option<bool> = None;
    while cursor.valid {
        let (version, commit_ts) = Key::split_on_ts(cursor.iter.key())?;
        if version != key.as_encoded() {
            break;
        }
        if visible.is_none() && commit_ts <= options.read_ts {
            let write = WriteRef::parse(cursor.iter.value())?;
            match write.write_type {
                WriteType::Put => {
                    match (options.key_only, write.short_value) {
                        (true, _) => found(&[])?,
                        (false, Some(short)) => found(short)?,
                        (false, None) => found(&reader.load_data(
                            key,
                            &Write::new(write.write_type, write.start_ts, None),
                        )?)?,
                    }
                    visible = Some(true);
                }
                WriteType::Delete => visible = Some(false),
                WriteType::Lock | WriteType::Rollback => {}
            }
        }
        cursor.step()?;
    }
    Ok(visible.unwrap_or(false))
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
