//! Unit tests of the Percolator actions on the in-memory engine, following the cases upstream
//! tests cover: conflicts, idempotence, rollback/commit races, TTL expiry, async commit, 1PC,
//! pessimistic locks and GC.

use std::sync::Arc;

use super::*;
use crate::concurrency::ConcurrencyManager;
use crate::engine::{KvEngine, MemoryEngine};
use crate::error::{Error, TxnError};
use crate::mvcc::{check_lock_conflict, Key, MvccReader, MvccTxn, ScanOptions};

struct Fixture {
    engine: MemoryEngine,
    manager: Arc<ConcurrencyManager>,
}

fn ts(physical: u64, logical: u64) -> u64 {
    (physical << 18) | logical
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            engine: MemoryEngine::new(),
            manager: ConcurrencyManager::new(1),
        }
    }

    fn run<T>(
        &self,
        action: impl FnOnce(
            &mut MvccReader<crate::engine::MemorySnapshot>,
            &mut MvccTxn,
        ) -> crate::Result<T>,
    ) -> crate::Result<T> {
        let mut reader = MvccReader::new(self.engine.snapshot());
        let mut txn = MvccTxn::new();
        let result = action(&mut reader, &mut txn)?;
        self.engine.write(&txn.into_modifies(), false)?;
        Ok(result)
    }

    fn prewrite(&self, request: PrewriteRequest) -> crate::Result<(u64, u64)> {
        let mut reader = MvccReader::new(self.engine.snapshot());
        let outcome = prewrite(&mut reader, &self.manager, &request)?;
        if let Some(err) = outcome.locked.into_iter().next() {
            return Err(err);
        }
        self.engine.write(&outcome.txn.into_modifies(), false)?;
        Ok((outcome.min_commit_ts, outcome.one_pc_commit_ts))
    }

    fn must_prewrite_put(&self, key: &[u8], value: &[u8], primary: &[u8], start_ts: u64) {
        self.prewrite(put_request(key, value, primary, start_ts))
            .expect("prewrite");
    }

    fn must_commit(&self, key: &[u8], start_ts: u64, commit_ts: u64) {
        self.run(|reader, txn| commit(txn, reader, &Key::from_raw(key), start_ts, commit_ts))
            .expect("commit");
    }

    fn get(&self, key: &[u8], read_ts: u64) -> crate::Result<Option<Vec<u8>>> {
        let mut reader = MvccReader::new(self.engine.snapshot());
        let key = Key::from_raw(key);
        if let Some(lock) = reader.load_lock(&key)? {
            check_lock_conflict(&key, &lock, read_ts, &[])?;
        }
        reader.get_value(&key, read_ts)
    }

    fn must_get(&self, key: &[u8], read_ts: u64) -> Option<Vec<u8>> {
        self.get(key, read_ts).expect("get")
    }

    fn lock(&self, key: &[u8]) -> Option<crate::mvcc::Lock> {
        MvccReader::new(self.engine.snapshot())
            .load_lock(&Key::from_raw(key))
            .unwrap()
    }
}

fn put_request(key: &[u8], value: &[u8], primary: &[u8], start_ts: u64) -> PrewriteRequest {
    PrewriteRequest {
        mutations: vec![Mutation {
            op: MutationOp::Put,
            key: key.to_vec(),
            value: value.to_vec(),
        }],
        primary: primary.to_vec(),
        start_ts,
        lock_ttl: 3000,
        ..Default::default()
    }
}

fn is_conflict(err: &Error, reason: i32) -> bool {
    matches!(err, Error::Txn(TxnError::WriteConflict { reason: r, .. }) if *r == reason)
}

#[test]
fn prewrite_commit_read_and_versions() {
    let f = Fixture::new();
    f.must_prewrite_put(b"k", b"v1", b"k", 10);
    // A reader above the lock is blocked; below it is not.
    assert!(matches!(
        f.get(b"k", 15),
        Err(Error::Txn(TxnError::KeyIsLocked(..)))
    ));
    assert_eq!(f.must_get(b"k", 5), None);
    f.must_commit(b"k", 10, 20);
    assert_eq!(f.must_get(b"k", 19), None);
    assert_eq!(f.must_get(b"k", 20).as_deref(), Some(&b"v1"[..]));
    // Long values go to the default column family.
    let long = vec![7u8; 1000];
    f.must_prewrite_put(b"k", &long, b"k", 30);
    f.must_commit(b"k", 30, 40);
    assert_eq!(f.must_get(b"k", 45), Some(long));
    assert_eq!(f.must_get(b"k", 35).as_deref(), Some(&b"v1"[..]));
}

#[test]
fn prewrite_is_idempotent_and_conflicts_with_other_locks() {
    let f = Fixture::new();
    f.must_prewrite_put(b"k", b"v", b"k", 10);
    f.must_prewrite_put(b"k", b"v", b"k", 10);
    let err = f.prewrite(put_request(b"k", b"w", b"k", 11)).unwrap_err();
    assert!(matches!(err, Error::Txn(TxnError::KeyIsLocked(..))));
}

#[test]
fn write_conflict_when_newer_commit_exists() {
    let f = Fixture::new();
    f.must_prewrite_put(b"k", b"v", b"k", 10);
    f.must_commit(b"k", 10, 20);
    let err = f.prewrite(put_request(b"k", b"w", b"k", 15)).unwrap_err();
    assert!(is_conflict(&err, conflict_reason::OPTIMISTIC), "{err:?}");
    // Starting after the commit is fine.
    f.must_prewrite_put(b"k", b"w", b"k", 25);
}

#[test]
fn insert_checks_existence() {
    let f = Fixture::new();
    f.must_prewrite_put(b"k", b"v", b"k", 10);
    f.must_commit(b"k", 10, 20);
    let mut request = put_request(b"k", b"w", b"k", 30);
    request.mutations[0].op = MutationOp::Insert;
    assert!(matches!(
        f.prewrite(request).unwrap_err(),
        Error::Txn(TxnError::AlreadyExist { .. })
    ));
}

#[test]
fn rollback_then_prewrite_and_commit_fail() {
    let f = Fixture::new();
    f.must_prewrite_put(b"k", b"v", b"k", 10);
    f.run(|reader, txn| rollback_key(txn, reader, &Key::from_raw(b"k"), 10))
        .unwrap();
    assert!(f.lock(b"k").is_none());
    // Committing a rolled-back transaction fails.
    let err = f
        .run(|reader, txn| commit(txn, reader, &Key::from_raw(b"k"), 10, 20))
        .unwrap_err();
    assert!(matches!(err, Error::Txn(TxnError::TxnLockNotFound { .. })));
    // A late prewrite of the same transaction sees its own rollback.
    let err = f.prewrite(put_request(b"k", b"v", b"k", 10)).unwrap_err();
    assert!(
        is_conflict(&err, conflict_reason::SELF_ROLLED_BACK),
        "{err:?}"
    );
    // Rolling back again is fine; rolling back a key never touched leaves a marker.
    f.run(|reader, txn| rollback_key(txn, reader, &Key::from_raw(b"k"), 10))
        .unwrap();
    f.run(|reader, txn| rollback_key(txn, reader, &Key::from_raw(b"x"), 50))
        .unwrap();
    let err = f.prewrite(put_request(b"x", b"v", b"x", 50)).unwrap_err();
    assert!(is_conflict(&err, conflict_reason::SELF_ROLLED_BACK));
}

#[test]
fn commit_is_idempotent_and_rollback_of_committed_fails() {
    let f = Fixture::new();
    f.must_prewrite_put(b"k", b"v", b"k", 10);
    f.must_commit(b"k", 10, 20);
    f.must_commit(b"k", 10, 20);
    let err = f
        .run(|reader, txn| rollback_key(txn, reader, &Key::from_raw(b"k"), 10))
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Txn(TxnError::Committed { commit_ts: 20, .. })
    ));
    let err = f
        .run(|reader, txn| commit(txn, reader, &Key::from_raw(b"k"), 30, 25))
        .unwrap_err();
    assert!(matches!(err, Error::Txn(TxnError::InvalidTxnTso { .. })));
}

#[test]
fn overlapped_rollback_is_folded_into_the_commit_record() {
    let f = Fixture::new();
    f.must_prewrite_put(b"k", b"v", b"k", 10);
    f.must_commit(b"k", 10, 20);
    // Transaction 20 rolls back on k: its rollback coincides with the commit at 20.
    f.run(|reader, txn| rollback_key(txn, reader, &Key::from_raw(b"k"), 20))
        .unwrap();
    assert_eq!(f.must_get(b"k", 25).as_deref(), Some(&b"v"[..]));
    let err = f.prewrite(put_request(b"k", b"w", b"k", 20)).unwrap_err();
    assert!(
        is_conflict(&err, conflict_reason::SELF_ROLLED_BACK),
        "{err:?}"
    );
}

#[test]
fn cleanup_respects_ttl() {
    let f = Fixture::new();
    let start = ts(1000, 0);
    f.must_prewrite_put(b"k", b"v", b"k", start);
    let err = f
        .run(|reader, txn| cleanup(txn, reader, &Key::from_raw(b"k"), start, ts(2000, 0)))
        .unwrap_err();
    assert!(matches!(err, Error::Txn(TxnError::KeyIsLocked(..))));
    f.run(|reader, txn| cleanup(txn, reader, &Key::from_raw(b"k"), start, ts(5000, 0)))
        .unwrap();
    assert!(f.lock(b"k").is_none());
}

#[test]
fn check_txn_status_cases() {
    let f = Fixture::new();
    let start = ts(1000, 0);
    f.must_prewrite_put(b"p", b"v", b"p", start);
    let options = |current: u64, caller: u64| CheckTxnStatusOptions {
        lock_ts: start,
        caller_start_ts: caller,
        current_ts: current,
        rollback_if_not_exist: true,
        ..Default::default()
    };
    // Alive: min_commit_ts is pushed above the caller.
    let status = f
        .run(|reader, txn| check_txn_status(txn, reader, b"p", &options(ts(1500, 0), ts(1400, 0))))
        .unwrap();
    match status {
        TxnStatus::Uncommitted {
            lock,
            min_commit_ts_pushed,
        } => {
            assert!(min_commit_ts_pushed);
            assert_eq!(lock.min_commit_ts, ts(1400, 0) + 1);
        }
        other => panic!("unexpected {other:?}"),
    }
    // A commit below the pushed min_commit_ts now fails.
    let err = f
        .run(|reader, txn| commit(txn, reader, &Key::from_raw(b"p"), start, ts(1300, 0)))
        .unwrap_err();
    assert!(matches!(err, Error::Txn(TxnError::CommitTsExpired { .. })));
    // Expired: rolled back.
    let status = f
        .run(|reader, txn| check_txn_status(txn, reader, b"p", &options(ts(9000, 0), 0)))
        .unwrap();
    assert_eq!(status, TxnStatus::TtlExpireRollback);
    let status = f
        .run(|reader, txn| check_txn_status(txn, reader, b"p", &options(ts(9000, 0), 0)))
        .unwrap();
    assert_eq!(status, TxnStatus::RolledBack);
    // Committed.
    f.must_prewrite_put(b"q", b"v", b"q", ts(2000, 0));
    f.must_commit(b"q", ts(2000, 0), ts(2001, 0));
    let status = f
        .run(|reader, txn| {
            check_txn_status(
                txn,
                reader,
                b"q",
                &CheckTxnStatusOptions {
                    lock_ts: ts(2000, 0),
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(status, TxnStatus::Committed(ts(2001, 0)));
    // Missing, without rollback_if_not_exist: TxnNotFound; with it: a rollback record.
    let err = f
        .run(|reader, txn| {
            check_txn_status(
                txn,
                reader,
                b"z",
                &CheckTxnStatusOptions {
                    lock_ts: 7,
                    ..Default::default()
                },
            )
        })
        .unwrap_err();
    assert!(matches!(err, Error::Txn(TxnError::TxnNotFound { .. })));
    let status = f
        .run(|reader, txn| {
            check_txn_status(
                txn,
                reader,
                b"z",
                &CheckTxnStatusOptions {
                    lock_ts: 7,
                    rollback_if_not_exist: true,
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(status, TxnStatus::LockNotExistRollback);
    assert!(f.prewrite(put_request(b"z", b"v", b"z", 7)).is_err());
}

#[test]
fn heart_beat_extends_ttl() {
    let f = Fixture::new();
    f.must_prewrite_put(b"p", b"v", b"p", 10);
    let ttl = f
        .run(|reader, txn| txn_heart_beat(txn, reader, b"p", 10, 10_000))
        .unwrap();
    assert_eq!(ttl, 10_000);
    let ttl = f
        .run(|reader, txn| txn_heart_beat(txn, reader, b"p", 10, 5))
        .unwrap();
    assert_eq!(ttl, 10_000);
    assert!(f
        .run(|reader, txn| txn_heart_beat(txn, reader, b"p", 11, 5))
        .is_err());
}

#[test]
fn async_commit_sets_min_commit_ts_and_secondaries_resolve() {
    let f = Fixture::new();
    f.manager.update_max_ts(100);
    let mut request = PrewriteRequest {
        mutations: vec![
            Mutation {
                op: MutationOp::Put,
                key: b"p".to_vec(),
                value: b"1".to_vec(),
            },
            Mutation {
                op: MutationOp::Put,
                key: b"s".to_vec(),
                value: b"2".to_vec(),
            },
        ],
        primary: b"p".to_vec(),
        start_ts: 50,
        lock_ttl: 3000,
        secondaries: Some(vec![b"s".to_vec()]),
        ..Default::default()
    };
    let (min_commit_ts, one_pc) = f.prewrite(request.clone()).unwrap();
    assert_eq!((min_commit_ts, one_pc), (101, 0));
    let primary = f.lock(b"p").unwrap();
    assert!(primary.use_async_commit);
    assert_eq!(primary.secondaries, vec![b"s".to_vec()]);
    assert_eq!(primary.min_commit_ts, 101);
    let status = f
        .run(|reader, txn| check_secondary_locks(txn, reader, &[b"s".to_vec()], 50))
        .unwrap();
    assert!(matches!(status, SecondaryLocksStatus::Locked(ref locks) if locks.len() == 1));
    f.must_commit(b"s", 50, 101);
    let status = f
        .run(|reader, txn| check_secondary_locks(txn, reader, &[b"s".to_vec()], 50))
        .unwrap();
    assert_eq!(status, SecondaryLocksStatus::Committed(101));
    // A max_commit_ts below max_ts makes a new transaction fall back to 2PC.
    request.start_ts = 200;
    request.max_commit_ts = 150;
    request.mutations.truncate(1);
    request.mutations[0].key = b"q".to_vec();
    request.primary = b"q".to_vec();
    f.manager.update_max_ts(300);
    let (min_commit_ts, _) = f.prewrite(request).unwrap();
    assert_eq!(min_commit_ts, 0);
    assert!(!f.lock(b"q").unwrap().use_async_commit);
}

#[test]
fn one_pc_writes_commit_records_directly() {
    let f = Fixture::new();
    f.manager.update_max_ts(70);
    let mut request = put_request(b"k", b"v", b"k", 60);
    request.try_one_pc = true;
    let (_, commit_ts) = f.prewrite(request).unwrap();
    assert_eq!(commit_ts, 71);
    assert!(f.lock(b"k").is_none());
    assert_eq!(f.must_get(b"k", 71).as_deref(), Some(&b"v"[..]));
    assert_eq!(f.must_get(b"k", 70), None);
}

#[test]
fn pessimistic_lock_then_prewrite_and_conflicts() {
    let f = Fixture::new();
    f.must_prewrite_put(b"k", b"old", b"k", 5);
    f.must_commit(b"k", 5, 8);
    let options = |start_ts, for_update_ts| PessimisticLockOptions {
        primary: b"k".to_vec(),
        start_ts,
        lock_ttl: 3000,
        for_update_ts,
        return_values: true,
        ..Default::default()
    };
    let (value, exists) = f
        .run(|reader, txn| acquire_pessimistic_lock(txn, reader, b"k", &options(10, 10)))
        .unwrap();
    assert_eq!((value.as_deref(), exists), (Some(&b"old"[..]), true));
    assert!(f.lock(b"k").unwrap().is_pessimistic());
    // Another pessimistic transaction is blocked by the lock.
    let err = f
        .run(|reader, txn| acquire_pessimistic_lock(txn, reader, b"k", &options(12, 12)))
        .unwrap_err();
    assert!(matches!(err, Error::Txn(TxnError::KeyIsLocked(..))));
    // Pessimistic locks do not block readers.
    assert_eq!(f.must_get(b"k", 20).as_deref(), Some(&b"old"[..]));
    // Prewrite converts it.
    let mut request = put_request(b"k", b"new", b"k", 10);
    request.for_update_ts = 10;
    request.pessimistic_actions = vec![PessimisticAction::DoPessimisticCheck];
    f.prewrite(request.clone()).unwrap();
    assert!(!f.lock(b"k").unwrap().is_pessimistic());
    f.must_commit(b"k", 10, 15);
    // Lock with a for_update_ts below a newer commit: write conflict.
    let err = f
        .run(|reader, txn| acquire_pessimistic_lock(txn, reader, b"k", &options(11, 11)))
        .unwrap_err();
    assert!(
        is_conflict(&err, conflict_reason::PESSIMISTIC_RETRY),
        "{err:?}"
    );
    // A pessimistic prewrite without its lock fails.
    request.start_ts = 30;
    request.for_update_ts = 30;
    let err = f.prewrite(request).unwrap_err();
    assert!(matches!(
        err,
        Error::Txn(TxnError::PessimisticLockNotFound { .. })
    ));
    // Pessimistic rollback removes only pessimistic locks.
    f.run(|reader, txn| acquire_pessimistic_lock(txn, reader, b"k", &options(40, 40)))
        .unwrap();
    f.run(|reader, txn| pessimistic_rollback(txn, reader, &Key::from_raw(b"k"), 40, 40))
        .unwrap();
    assert!(f.lock(b"k").is_none());
}

#[test]
fn resolve_lock_commits_or_rolls_back() {
    let f = Fixture::new();
    f.must_prewrite_put(b"a", b"1", b"a", 10);
    f.must_prewrite_put(b"b", b"2", b"a", 10);
    f.run(|reader, txn| resolve_lock_key(txn, reader, &Key::from_raw(b"a"), 10, 20))
        .unwrap();
    f.run(|reader, txn| resolve_lock_key(txn, reader, &Key::from_raw(b"b"), 10, 0))
        .unwrap();
    assert_eq!(f.must_get(b"a", 25).as_deref(), Some(&b"1"[..]));
    assert_eq!(f.must_get(b"b", 25), None);
    assert!(f.lock(b"a").is_none() && f.lock(b"b").is_none());
}

#[test]
fn scan_sees_visible_versions_and_reports_locks() {
    let f = Fixture::new();
    for (index, key) in [b"a", b"b", b"c", b"d"].iter().enumerate() {
        let start = 10 + index as u64 * 2;
        f.must_prewrite_put(*key, key.as_slice(), *key, start);
        f.must_commit(*key, start, start + 1);
    }
    // Delete c at 30, lock d at 40.
    let mut request = put_request(b"c", b"", b"c", 30);
    request.mutations[0].op = MutationOp::Delete;
    f.prewrite(request).unwrap();
    f.must_commit(b"c", 30, 31);
    f.must_prewrite_put(b"d", b"new", b"d", 40);
    f.must_prewrite_put(b"e", b"new", b"e", 41);
    let scan = |reverse: bool, read_ts: u64| {
        let options = ScanOptions {
            lower: b"a".to_vec(),
            upper: b"z".to_vec(),
            limit: 100,
            read_ts,
            reverse,
            ..Default::default()
        };
        crate::mvcc::scan(f.engine.snapshot(), &options)
            .unwrap()
            .into_iter()
            .map(|entry| (entry.key, entry.value.is_ok()))
            .collect::<Vec<_>>()
    };
    let forward = scan(false, 35);
    assert_eq!(
        forward,
        vec![
            (b"a".to_vec(), true),
            (b"b".to_vec(), true),
            (b"d".to_vec(), true)
        ]
    );
    let forward = scan(false, 50);
    assert_eq!(
        forward,
        vec![
            (b"a".to_vec(), true),
            (b"b".to_vec(), true),
            (b"d".to_vec(), false),
            (b"e".to_vec(), false)
        ]
    );
    let backward = scan(true, 35);
    assert_eq!(
        backward,
        vec![
            (b"d".to_vec(), true),
            (b"b".to_vec(), true),
            (b"a".to_vec(), true)
        ]
    );
}

/// Reads `[a, z)` at `read_ts` in batches of `batch` through one `MvccScanner` checking locks
/// per batch: the visible keys, or the first error.
fn scan_in_batches(
    f: &Fixture,
    read_ts: u64,
    batch: usize,
    bypass_locks: Vec<u64>,
) -> crate::Result<Vec<Vec<u8>>> {
    let options = ScanOptions {
        lower: b"a".to_vec(),
        upper: b"z".to_vec(),
        read_ts,
        bypass_locks,
        check_locks_per_batch: true,
        ..Default::default()
    };
    let mut scanner = crate::mvcc::MvccScanner::new(f.engine.snapshot(), options)?;
    let mut keys = Vec::new();
    loop {
        let got = scanner.next_batch(batch, |key: &Key, value: crate::Result<&[u8]>| {
            value?;
            keys.push(key.to_raw()?);
            Ok::<(), Error>(())
        })?;
        if got < batch {
            // A finished scan stays finished.
            let more = scanner.next_batch(batch, |_: &Key, _| Ok::<(), Error>(()))?;
            assert_eq!(more, 0);
            return Ok(keys);
        }
    }
}

#[test]
fn batches_checking_locks_per_batch_fail_on_any_blocking_lock_they_cover() {
    let f = Fixture::new();
    for (index, key) in [b"a", b"b", b"c", b"d", b"f"].iter().enumerate() {
        let start = 10 + index as u64 * 2;
        f.must_prewrite_put(*key, key.as_slice(), *key, start);
        f.must_commit(*key, start, start + 1);
    }
    // A lock on "c" (which has a committed version) at 40, and one on "e" (which has none,
    // an insert in progress) at 45.
    f.must_prewrite_put(b"c", b"new", b"c", 40);
    f.must_prewrite_put(b"e", b"new", b"e", 45);
    let all: Vec<Vec<u8>> = [b"a", b"b", b"c", b"d", b"f"]
        .iter()
        .map(|key| key.to_vec())
        .collect();
    for batch in [1, 2, 3, 4, 5, 100] {
        // Below both locks nothing blocks, whatever the batch boundaries.
        assert_eq!(scan_in_batches(&f, 35, batch, Vec::new()).unwrap(), all);
        // Above "c"'s lock the read fails however the batches fall around "c".
        let err = scan_in_batches(&f, 42, batch, Vec::new()).unwrap_err();
        assert!(
            matches!(&err, Error::Txn(TxnError::KeyIsLocked(lock, key)) if lock.ts == 40 && key.as_slice() == b"c"),
            "batch {batch}: {err:?}"
        );
        // Above both, with "c"'s transaction resolved, the lock on "e" (no write under it)
        // still fails the read, found after "d" or at the range's end.
        let err = scan_in_batches(&f, 50, batch, vec![40]).unwrap_err();
        assert!(
            matches!(&err, Error::Txn(TxnError::KeyIsLocked(lock, key)) if lock.ts == 45 && key.as_slice() == b"e"),
            "batch {batch}: {err:?}"
        );
        // With both resolved the read sees the committed versions.
        assert_eq!(scan_in_batches(&f, 50, batch, vec![40, 45]).unwrap(), all);
    }
}

#[test]
fn scan_reads_through_locks_of_committed_transactions() {
    let f = Fixture::new();
    f.must_prewrite_put(b"a", b"old", b"a", 10);
    f.must_commit(b"a", 10, 11);
    f.must_prewrite_put(b"b", b"old", b"b", 10);
    f.must_commit(b"b", 10, 11);
    // Transaction 40 puts a (short value) and a long value on c, and deletes b; 41 puts d.
    let long = vec![7u8; 600];
    let mut request = put_request(b"a", b"new", b"a", 40);
    request.mutations.push(Mutation {
        op: MutationOp::Put,
        key: b"c".to_vec(),
        value: long.clone(),
    });
    request.mutations.push(Mutation {
        op: MutationOp::Delete,
        key: b"b".to_vec(),
        value: Vec::new(),
    });
    f.prewrite(request).unwrap();
    f.must_prewrite_put(b"d", b"other", b"d", 41);
    let scan = |access_locks: Vec<u64>, reverse: bool| {
        let options = ScanOptions {
            lower: b"a".to_vec(),
            upper: b"z".to_vec(),
            limit: 100,
            read_ts: 50,
            reverse,
            access_locks,
            ..Default::default()
        };
        crate::mvcc::scan(f.engine.snapshot(), &options)
            .unwrap()
            .into_iter()
            .map(|entry| (entry.key, entry.value.ok()))
            .collect::<Vec<_>>()
    };
    // Without the hint every lock blocks.
    let blocked = scan(Vec::new(), false);
    assert_eq!(blocked.len(), 4);
    assert!(blocked.iter().all(|(_, value)| value.is_none()));
    // With transaction 40 known committed, its writes are visible; 41 still blocks.
    let through = scan(vec![40], false);
    assert_eq!(
        through,
        vec![
            (b"a".to_vec(), Some(b"new".to_vec())),
            (b"c".to_vec(), Some(long.clone())),
            (b"d".to_vec(), None),
        ]
    );
    let mut backward = scan(vec![40], true);
    backward.reverse();
    assert_eq!(backward, through);
    // A reader below the lock's ts is not blocked and sees the old versions.
    let options = ScanOptions {
        lower: b"a".to_vec(),
        upper: b"z".to_vec(),
        limit: 100,
        read_ts: 20,
        access_locks: vec![40],
        ..Default::default()
    };
    let old: Vec<_> = crate::mvcc::scan(f.engine.snapshot(), &options)
        .unwrap()
        .into_iter()
        .map(|entry| (entry.key, entry.value.ok()))
        .collect();
    assert_eq!(
        old,
        vec![
            (b"a".to_vec(), Some(b"old".to_vec())),
            (b"b".to_vec(), Some(b"old".to_vec()))
        ]
    );
}

#[test]
fn gc_keeps_what_readers_at_safe_point_see() {
    let f = Fixture::new();
    f.must_prewrite_put(b"k", b"v1", b"k", 10);
    f.must_commit(b"k", 10, 11);
    f.must_prewrite_put(b"k", &vec![1u8; 500], b"k", 20);
    f.must_commit(b"k", 20, 21);
    f.must_prewrite_put(b"k", b"v3", b"k", 30);
    f.must_commit(b"k", 30, 31);
    f.run(|reader, txn| rollback_key(txn, reader, &Key::from_raw(b"k"), 32))
        .unwrap();
    let mut request = put_request(b"gone", b"", b"gone", 40);
    f.prewrite(request.clone()).unwrap();
    f.must_commit(b"gone", 40, 41);
    request.mutations[0].op = MutationOp::Delete;
    request.start_ts = 42;
    f.prewrite(request).unwrap();
    f.must_commit(b"gone", 42, 43);
    let stats = gc_range(&f.engine.snapshot(), b"", b"", 50, |batch| {
        f.engine.write(&batch, false)
    })
    .unwrap();
    assert_eq!(stats.keys, 2);
    // k: the rollback at 32 and the puts at 21 (long value) and 11 go; gone: both records go.
    assert_eq!(stats.deleted_writes, 5);
    assert_eq!(stats.deleted_values, 1);
    assert_eq!(f.must_get(b"k", 50).as_deref(), Some(&b"v3"[..]));
    assert_eq!(f.must_get(b"k", u64::MAX - 1).as_deref(), Some(&b"v3"[..]));
    assert_eq!(f.must_get(b"gone", 50), None);
    // Nothing is left under the old versions: a reader below the safe point sees nothing.
    assert_eq!(f.must_get(b"k", 25), None);
    // A second pass finds nothing more to do.
    let again = gc_range(&f.engine.snapshot(), b"", b"", 50, |batch| {
        f.engine.write(&batch, false)
    })
    .unwrap();
    assert_eq!((again.deleted_writes, again.deleted_values), (0, 0));
}
