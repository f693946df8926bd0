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
    /// Check locks once per batch over the keys it covered, failing the batch on a blocking
    /// lock, instead of handing each locked key's error to the visitor (see `MvccScanner`).
    /// Forward scans without `access_locks` only; others check per key whatever this says.
    pub check_locks_per_batch: bool,
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
    scan_each(snapshot, options, |key: &Key, value: Result<&[u8]>| {
        key.to_raw_into(&mut raw)?;
        entries.push(ScannedEntry {
            key: raw.clone(),
            value: value.map(<[u8]>::to_vec),
        });
        Ok::<(), crate::Error>(())
    })?;
    Ok(entries)
}

/// Scans `[lower, upper)` at `read_ts`, handing up to `options.limit` entries to `visit` (the
/// key, encoded, and the value or the lock error of that key) instead of collecting them: one
/// `MvccScanner` batch. Answers the number of entries visited.
pub fn scan_each<S, E, F>(
    snapshot: S,
    options: &ScanOptions,
    visit: F,
) -> std::result::Result<usize, E>
where
    S: Snapshot,
    E: From<crate::Error>,
    F: FnMut(&Key, Result<&[u8]>) -> std::result::Result<(), E>,
{
    MvccScanner::new(snapshot, options.clone())?.next_batch(options.limit, visit)
}

/// A range read at a timestamp that stays open between batches: its write cursor (and lock
/// cursor, when locks are checked per key) keep their place, so reading a range in batches
/// costs what reading it at once does. Opening new cursors per batch made each batch walk the
/// lock column family from the batch's start to the range's end, through the tombstones that
/// every committed transaction leaves there, which made a scan quadratic in its rows.
///
/// Locks are checked one of two ways (`ScanOptions::check_locks_per_batch`):
/// - per key: the lock cursor walks beside the write cursor and a blocking lock is handed to
///   the visitor as that key's error (what `KvScan` answers, key by key);
/// - per batch: only the write cursor is walked; after each batch the lock column family is
///   read over just the keys the batch covered, and the first blocking lock there fails the
///   batch. Each part of the range is walked in the lock column family once, whatever the
///   batch or page sizes. A visitor that fails the whole read on a blocking lock (the
///   coprocessor) sees the same outcome either way.
pub struct MvccScanner<S: Snapshot> {
    options: ScanOptions,
    writes: Cursor<S::Iter>,
    locks: LockCheck<S::Iter>,
    reader: MvccReader<S>,
    /// The encoded upper bound (empty: none).
    upper: Vec<u8>,
    /// Reused for every key: its encoded form and its visible value.
    encoded: Vec<u8>,
    value: Vec<u8>,
}

enum LockCheck<I: EngineIterator> {
    /// Locks do not matter (`ignore_locks`).
    Ignored,
    /// A lock cursor merged with the write cursor, key by key.
    PerKey(Cursor<I>),
    /// The lock column family is read over each batch's keys, from this encoded key on
    /// (`None`: checked to the range's end).
    PerBatch { from: Option<Vec<u8>> },
}

impl<S: Snapshot> MvccScanner<S> {
    /// Opens cursors over `[options.lower, options.upper)` at `options.read_ts`
    /// (`options.limit` is ignored: each `next_batch` says how many entries it wants).
    pub fn new(snapshot: S, options: ScanOptions) -> Result<Self> {
        let lower = Key::from_raw(&options.lower).into_encoded();
        let upper = if options.upper.is_empty() {
            Vec::new()
        } else {
            Key::from_raw(&options.upper).into_encoded()
        };
        let bounds = IterOptions::bounded(&lower, &upper).fill_cache(!options.not_fill_cache);
        let writes = Cursor::start(
            snapshot.iterator_cf(CF_WRITE, bounds.clone())?,
            options.reverse,
        )?;
        // Per-batch checks need a forward scan whose blocking locks only ever fail the read
        // (a committed transaction's lock read through changes which rows there are).
        let per_batch =
            options.check_locks_per_batch && !options.reverse && options.access_locks.is_empty();
        let locks = if options.ignore_locks {
            LockCheck::Ignored
        } else if per_batch {
            LockCheck::PerBatch { from: Some(lower) }
        } else {
            LockCheck::PerKey(Cursor::start(
                snapshot.iterator_cf(CF_LOCK, bounds)?,
                options.reverse,
            )?)
        };
        Ok(MvccScanner {
            options,
            writes,
            locks,
            reader: MvccReader::new(snapshot),
            upper,
            encoded: Vec::new(),
            value: Vec::new(),
        })
    }

    /// Hands up to `limit` more entries to `visit`, in key order (reversed when
    /// `options.reverse`); fewer than `limit` means the range is done. An error from `visit`
    /// stops the batch and is returned. The key and value are borrowed from the cursor or from
    /// buffers reused across keys, so a batch allocates nothing per row, and a visitor that
    /// does not need the user key never decodes it.
    pub fn next_batch<E, F>(&mut self, limit: usize, mut visit: F) -> std::result::Result<usize, E>
    where
        E: From<crate::Error>,
        F: FnMut(&Key, Result<&[u8]>) -> std::result::Result<(), E>,
    {
        match self.locks {
            LockCheck::PerKey(_) => self.merged_batch(limit, &mut visit),
            LockCheck::Ignored | LockCheck::PerBatch { .. } => {
                let visited = self.writes_batch(limit, &mut visit)?;
                self.check_batch_locks()?;
                Ok(visited)
            }
        }
    }

    /// A batch from the write cursor alone (locks ignored or checked after the batch).
    fn writes_batch<E, F>(&mut self, limit: usize, visit: &mut F) -> std::result::Result<usize, E>
    where
        E: From<crate::Error>,
        F: FnMut(&Key, Result<&[u8]>) -> std::result::Result<(), E>,
    {
        let mut visited = 0;
        while visited < limit && self.writes.valid {
            self.encoded.clear();
            self.encoded
                .extend_from_slice(Key::split_on_ts(self.writes.iter.key())?.0);
            let key = Key::from_encoded(std::mem::take(&mut self.encoded));
            if self.options.reverse {
                skip_versions(&mut self.writes, &key)?;
                if visible_by_seek(&mut self.reader, &key, &self.options, &mut self.value)? {
                    visited += 1;
                    visit(&key, Ok(&self.value))?;
                }
            } else {
                visible_forward(
                    &mut self.writes,
                    &key,
                    &self.options,
                    &self.reader,
                    &mut |found| {
                        visited += 1;
                        visit(&key, Ok(found))
                    },
                )?;
            }
            self.encoded = key.into_encoded();
        }
        Ok(visited)
    }

    /// With per-batch lock checks: reads the lock column family over the keys the last batch
    /// covered (from where the previous check ended up to the key the write cursor now sits
    /// on, or to the range's end), failing on the first lock that blocks the reader.
    fn check_batch_locks(&mut self) -> Result<()> {
        let LockCheck::PerBatch { from: Some(from) } = &mut self.locks else {
            return Ok(());
        };
        let to = if self.writes.valid {
            Key::split_on_ts(self.writes.iter.key())?.0.to_vec()
        } else {
            self.upper.clone()
        };
        if self.writes.valid && to.as_slice() <= from.as_slice() {
            return Ok(());
        }
        let bounds = IterOptions::bounded(from, &to).fill_cache(!self.options.not_fill_cache);
        let mut locks = self.reader.snapshot().iterator_cf(CF_LOCK, bounds)?;
        let mut valid = locks.seek_to_first()?;
        while valid {
            let lock = Lock::parse(locks.value())?;
            let key = Key::from_encoded(locks.key().to_vec());
            check_lock_conflict(
                &key,
                &lock,
                self.options.read_ts,
                &self.options.bypass_locks,
            )?;
            valid = locks.next()?;
        }
        self.locks = LockCheck::PerBatch {
            from: self.writes.valid.then_some(to),
        };
        Ok(())
    }

    /// A batch walking the write and lock cursors side by side, key by key.
    fn merged_batch<E, F>(&mut self, limit: usize, visit: &mut F) -> std::result::Result<usize, E>
    where
        E: From<crate::Error>,
        F: FnMut(&Key, Result<&[u8]>) -> std::result::Result<(), E>,
    {
        let MvccScanner {
            options,
            writes,
            locks,
            reader,
            encoded,
            value,
            ..
        } = self;
        let LockCheck::PerKey(locks) = locks else {
            return Ok(0);
        };
        let mut visited = 0;
        while visited < limit && (writes.valid || locks.valid) {
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
            let key = Key::from_encoded(std::mem::take(encoded));
            let blocking = match lock.as_ref() {
                Some(lock) => {
                    check_lock_conflict(&key, lock, options.read_ts, &options.bypass_locks).err()
                }
                None => None,
            };
            // Forward, the write cursor sits on the key's newest version: the visible one is
            // found by stepping through the versions, with no seek per key. With no lock in
            // the way it goes to `visit` straight from the cursor.
            if !options.reverse && order != Ordering::Greater && blocking.is_none() {
                visible_forward(writes, &key, options, reader, &mut |found| {
                    visited += 1;
                    visit(&key, Ok(found))
                })?;
                *encoded = key.into_encoded();
                continue;
            }
            let mut stepped = None;
            if order != Ordering::Greater {
                if options.reverse {
                    skip_versions(writes, &key)?;
                } else {
                    stepped = Some(visible_forward(
                        writes,
                        &key,
                        options,
                        reader,
                        &mut |found| {
                            value.clear();
                            value.extend_from_slice(found);
                            Ok::<(), E>(())
                        },
                    )?);
                }
            }
            let mut outcome = None;
            if let (Some(err), Some(lock)) = (blocking, lock.as_ref()) {
                outcome = Some(if options.access_locks.contains(&lock.ts) {
                    match reader.load_from_lock(&key, lock, options.key_only)? {
                        Some(from_lock) => {
                            *value = from_lock;
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
                        None => visible_by_seek(reader, &key, options, value)?,
                    };
                    found.then_some(Ok(()))
                }
            };
            if let Some(outcome) = outcome {
                visited += 1;
                match outcome {
                    Ok(()) => visit(&key, Ok(value))?,
                    Err(err) => visit(&key, Err(err))?,
                }
            }
            *encoded = key.into_encoded();
        }
        Ok(visited)
    }
}

/// Reads `key`'s value visible at the read timestamp with a seek of its own (going backward,
/// the write cursor reaches a key at its oldest version) into `value` (left empty when
/// key-only); answers whether one is visible.
fn visible_by_seek<S: Snapshot>(
    reader: &mut MvccReader<S>,
    key: &Key,
    options: &ScanOptions,
    value: &mut Vec<u8>,
) -> Result<bool> {
    if options.key_only {
        value.clear();
        return Ok(reader
            .get_write(key, options.read_ts)?
            .is_some_and(|(_, write)| write.write_type == WriteType::Put));
    }
    Ok(match reader.get_value(key, options.read_ts)? {
        Some(found) => {
            *value = found;
            true
        }
        None => false,
    })
}

/// Walks the write cursor (forward, on `key`'s newest version) past every version of `key`,
/// handing the value visible at the read timestamp (the newest put or delete committed at or
/// before it, lock and rollback records skipped) to `found`, borrowed from the cursor. Answers
/// whether a value is visible.
fn visible_forward<I, S, E, F>(
    cursor: &mut Cursor<I>,
    key: &Key,
    options: &ScanOptions,
    reader: &MvccReader<S>,
    found: &mut F,
) -> std::result::Result<bool, E>
where
    I: EngineIterator,
    S: Snapshot,
    E: From<crate::Error>,
    F: FnMut(&[u8]) -> std::result::Result<(), E>,
{
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
