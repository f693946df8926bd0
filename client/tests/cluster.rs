//! The client against a real `basalt-server` process: regions, transactions, lock resolution,
//! scans and the coprocessor.

mod common;

use std::time::{Duration, Instant};

use basalt_client::{CopRequest, Error};
use common::{must_commit, must_prewrite, ServerProcess};

fn key(prefix: &str, i: usize) -> Vec<u8> {
    format!("{prefix}{i:05}").into_bytes()
}

#[tokio::test(flavor = "multi_thread")]
async fn regions_timestamps_and_ids() {
    let server = ServerProcess::start();
    let cluster = server.must_connect().await;
    let regions = cluster.regions(b"", b"").await.unwrap();
    assert!(!regions.is_empty());
    // The server splits at the default keyspace's edges, in user keys.
    assert!(regions.len() >= 5, "{regions:?}");
    assert!(regions[0].region.start_key.is_empty());
    assert!(regions.last().unwrap().region.end_key.is_empty());
    for pair in regions.windows(2) {
        assert_eq!(pair[0].region.end_key, pair[1].region.start_key);
    }
    for region in &regions {
        assert!(!region.store_addr.is_empty(), "{region:?}");
    }
    assert!(regions
        .iter()
        .any(|region| region.region.start_key == b"x\0\0\0"));
    // A sub-range gets only the regions it overlaps.
    let inner = cluster.regions(b"x\0\0\0", b"x\0\0\0a").await.unwrap();
    assert_eq!(inner.len(), 1);
    assert_eq!(inner[0].region.start_key, b"x\0\0\0");

    let first = cluster.timestamp().await.unwrap();
    let second = cluster.timestamp().await.unwrap();
    assert!(second > first);
    assert!(first >> 18 > 0, "physical part is set");
    // Concurrent callers share the stream and still get distinct timestamps.
    let calls: Vec<_> = (0..64)
        .map(|_| {
            let cluster = cluster.clone();
            tokio::spawn(async move { cluster.timestamp().await.unwrap() })
        })
        .collect();
    let mut seen = Vec::new();
    for call in calls {
        seen.push(call.await.unwrap());
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 64);
    assert!(seen[0] > second);
    let a = cluster.alloc_id().await.unwrap();
    let b = cluster.alloc_id().await.unwrap();
    assert_ne!(a, b);
}

#[tokio::test(flavor = "multi_thread")]
async fn put_insert_delete_then_read_back() {
    let server = ServerProcess::start();
    let cluster = server.must_connect().await;

    let mut setup = cluster.begin().await.unwrap();
    setup.put(b"doomed".to_vec(), b"old".to_vec());
    setup.put(b"kept".to_vec(), b"v0".to_vec());
    let setup_ts = setup.commit().await.unwrap();

    let mut txn = cluster.begin().await.unwrap();
    assert!(txn.start_ts() > setup_ts);
    txn.put(b"kept".to_vec(), b"v1".to_vec());
    txn.insert(b"fresh".to_vec(), b"new".to_vec());
    txn.delete(b"doomed".to_vec());
    // The transaction reads its own writes.
    assert_eq!(txn.get(b"kept").await.unwrap(), Some(b"v1".to_vec()));
    assert_eq!(txn.get(b"doomed").await.unwrap(), None);
    assert_eq!(
        txn.scan(b"", b"", 10).await.unwrap(),
        vec![
            (b"fresh".to_vec(), b"new".to_vec()),
            (b"kept".to_vec(), b"v1".to_vec())
        ]
    );
    let commit_ts = txn.commit().await.unwrap();
    assert!(commit_ts > setup_ts);

    let snapshot = cluster.snapshot(cluster.timestamp().await.unwrap());
    assert_eq!(snapshot.get(b"kept").await.unwrap(), Some(b"v1".to_vec()));
    assert_eq!(snapshot.get(b"fresh").await.unwrap(), Some(b"new".to_vec()));
    assert_eq!(snapshot.get(b"doomed").await.unwrap(), None);
    assert_eq!(
        snapshot
            .batch_get(vec![
                b"kept".to_vec(),
                b"doomed".to_vec(),
                b"fresh".to_vec(),
                b"kept".to_vec()
            ])
            .await
            .unwrap(),
        vec![
            (b"fresh".to_vec(), b"new".to_vec()),
            (b"kept".to_vec(), b"v1".to_vec())
        ]
    );
    // The snapshot at the setup's commit sees the old state.
    let old = cluster.snapshot(setup_ts);
    assert_eq!(old.get(b"kept").await.unwrap(), Some(b"v0".to_vec()));
    assert_eq!(old.get(b"doomed").await.unwrap(), Some(b"old".to_vec()));
    assert_eq!(old.get(b"fresh").await.unwrap(), None);

    // An empty transaction commits at its start_ts; rollback writes nothing.
    let empty = cluster.begin().await.unwrap();
    let start_ts = empty.start_ts();
    assert_eq!(empty.commit().await.unwrap(), start_ts);
    let mut abandoned = cluster.begin().await.unwrap();
    abandoned.put(b"kept".to_vec(), b"never".to_vec());
    abandoned.rollback().await.unwrap();
    let snapshot = cluster.snapshot(cluster.timestamp().await.unwrap());
    assert_eq!(snapshot.get(b"kept").await.unwrap(), Some(b"v1".to_vec()));
}

#[tokio::test(flavor = "multi_thread")]
async fn insert_of_an_existing_key_fails_and_writes_nothing() {
    let server = ServerProcess::start();
    let cluster = server.must_connect().await;
    let mut setup = cluster.begin().await.unwrap();
    setup.put(b"user/2".to_vec(), b"taken".to_vec());
    setup.commit().await.unwrap();

    // user/1 (the primary) and user/3 are fine; user/2 exists. Keys in two regions too.
    let mut txn = cluster.begin().await.unwrap();
    txn.put(b"user/1".to_vec(), b"a".to_vec());
    txn.insert(b"user/2".to_vec(), b"b".to_vec());
    txn.put(b"user/3".to_vec(), b"c".to_vec());
    txn.put(b"x\0\0\0user/4".to_vec(), b"d".to_vec());
    match txn.commit().await {
        Err(Error::AlreadyExists(key)) => assert_eq!(key, b"user/2"),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }

    // Nothing of it is visible, and nothing is left locked: reads answer at once.
    let started = Instant::now();
    let snapshot = cluster.snapshot(cluster.timestamp().await.unwrap());
    assert_eq!(snapshot.get(b"user/1").await.unwrap(), None);
    assert_eq!(
        snapshot.get(b"user/2").await.unwrap(),
        Some(b"taken".to_vec())
    );
    assert_eq!(snapshot.get(b"user/3").await.unwrap(), None);
    assert_eq!(snapshot.get(b"x\0\0\0user/4").await.unwrap(), None);
    assert_eq!(snapshot.scan(b"", b"", 100).await.unwrap().len(), 1);
    assert!(started.elapsed() < Duration::from_secs(2));

    // The keys are free for the next transaction.
    let mut retry = cluster.begin().await.unwrap();
    retry.put(b"user/1".to_vec(), b"a".to_vec());
    retry.insert(b"user/3".to_vec(), b"c".to_vec());
    retry.commit().await.unwrap();
    let snapshot = cluster.snapshot(cluster.timestamp().await.unwrap());
    assert_eq!(snapshot.get(b"user/3").await.unwrap(), Some(b"c".to_vec()));
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_writers_conflict() {
    let server = ServerProcess::start();
    let cluster = server.must_connect().await;
    let mut first = cluster.begin().await.unwrap();
    let mut second = cluster.begin().await.unwrap();
    second.put(b"counter".to_vec(), b"2".to_vec());
    second.commit().await.unwrap();
    first.put(b"counter".to_vec(), b"1".to_vec());
    first.put(b"other".to_vec(), b"1".to_vec());
    match first.commit().await {
        Err(Error::WriteConflict { key, conflict_ts }) => {
            assert_eq!(key, b"counter");
            assert!(conflict_ts > 0);
        }
        other => panic!("expected WriteConflict, got {other:?}"),
    }
    let snapshot = cluster.snapshot(cluster.timestamp().await.unwrap());
    assert_eq!(snapshot.get(b"counter").await.unwrap(), Some(b"2".to_vec()));
    assert_eq!(snapshot.get(b"other").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_increments_retried_on_conflict_all_land() {
    let server = ServerProcess::start();
    let cluster = server.must_connect().await;
    let workers: Vec<_> = (0..6)
        .map(|worker| {
            let cluster = cluster.clone();
            tokio::spawn(async move {
                for _ in 0..5 {
                    loop {
                        let mut txn = cluster.begin().await.unwrap();
                        let current = match txn.get(b"counter").await.unwrap() {
                            Some(bytes) => String::from_utf8(bytes).unwrap().parse().unwrap(),
                            None => 0u64,
                        };
                        txn.put(b"counter".to_vec(), (current + 1).to_string().into_bytes());
                        txn.put(format!("log/{worker}").into_bytes(), b"x".to_vec());
                        match txn.commit().await {
                            Ok(_) => break,
                            Err(Error::WriteConflict { .. }) => continue,
                            Err(err) => panic!("unexpected error: {err}"),
                        }
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let snapshot = cluster.snapshot(cluster.timestamp().await.unwrap());
    assert_eq!(
        snapshot.get(b"counter").await.unwrap(),
        Some(b"30".to_vec())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn readers_roll_back_an_abandoned_prewrite() {
    let server = ServerProcess::start();
    let cluster = server.must_connect().await;
    let mut setup = cluster.begin().await.unwrap();
    setup.put(b"acct/b".to_vec(), b"before".to_vec());
    setup.commit().await.unwrap();

    // A writer prewrites with a 300 ms TTL and disappears.
    let start_ts = cluster.timestamp().await.unwrap();
    must_prewrite(
        &cluster,
        &[(b"acct/a", b"lost"), (b"acct/b", b"lost")],
        b"acct/a",
        start_ts,
        300,
    )
    .await;
    let reader = cluster.snapshot(cluster.timestamp().await.unwrap());
    let started = Instant::now();
    assert_eq!(
        reader.get(b"acct/b").await.unwrap(),
        Some(b"before".to_vec())
    );
    assert_eq!(reader.get(b"acct/a").await.unwrap(), None);
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(5), "waited {waited:?}");

    // The writer's transaction is rolled back for good: a new writer goes through.
    let mut next = cluster.begin().await.unwrap();
    next.put(b"acct/a".to_vec(), b"after".to_vec());
    next.commit().await.unwrap();
    let snapshot = cluster.snapshot(cluster.timestamp().await.unwrap());
    assert_eq!(
        snapshot.get(b"acct/a").await.unwrap(),
        Some(b"after".to_vec())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn readers_commit_the_secondaries_of_a_committed_primary() {
    let server = ServerProcess::start();
    let cluster = server.must_connect().await;
    let start_ts = cluster.timestamp().await.unwrap();
    must_prewrite(
        &cluster,
        &[
            (b"pair/1", b"one"),
            (b"pair/2", b"two"),
            (b"pair/3", b"three"),
        ],
        b"pair/1",
        start_ts,
        60_000,
    )
    .await;
    let commit_ts = cluster.timestamp().await.unwrap();
    must_commit(&cluster, &[b"pair/1"], start_ts, commit_ts).await;

    // A reader before the commit sees nothing (the lock's transaction committed after it).
    let before = cluster.snapshot(commit_ts - 1);
    assert_eq!(before.get(b"pair/2").await.unwrap(), None);

    // A later reader resolves the secondaries' locks as committed, well before the TTL.
    let started = Instant::now();
    let after = cluster.snapshot(cluster.timestamp().await.unwrap());
    assert_eq!(after.get(b"pair/2").await.unwrap(), Some(b"two".to_vec()));
    assert_eq!(
        after.scan(b"pair/", b"pair0", 10).await.unwrap(),
        vec![
            (b"pair/1".to_vec(), b"one".to_vec()),
            (b"pair/2".to_vec(), b"two".to_vec()),
            (b"pair/3".to_vec(), b"three".to_vec()),
        ]
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread")]
async fn scans_page_across_regions_and_stop_at_the_limit() {
    let server = ServerProcess::start();
    let cluster = server.must_connect().await;
    // Keys on both sides of every region boundary (`r\0\0\0`, `r\0\0\x01`, `x\0\0\0`, ...).
    let prefixes = ["a/", "r\0\0\0/", "s/", "x\0\0\0/", "y/"];
    let mut expected = Vec::new();
    let mut txn = cluster.begin().await.unwrap();
    for prefix in prefixes {
        for i in 0..700 {
            let k = key(prefix, i);
            txn.put(k.clone(), k.clone());
            expected.push((k.clone(), k));
        }
    }
    expected.sort();
    txn.commit().await.unwrap();

    let snapshot = cluster.snapshot(cluster.timestamp().await.unwrap());
    let all = snapshot.scan(b"", b"", usize::MAX).await.unwrap();
    assert_eq!(all.len(), expected.len());
    assert_eq!(all, expected);
    let limited = snapshot.scan(b"", b"", 2500).await.unwrap();
    assert_eq!(limited, expected[..2500]);
    // A range across one boundary, starting and ending inside regions.
    let start = key("r\0\0\0/", 650);
    let end = key("s/", 10);
    let range = snapshot.scan(&start, &end, 1000).await.unwrap();
    assert_eq!(range.len(), 60);
    assert_eq!(range[0].0, start);
    assert_eq!(range.last().unwrap().0, key("s/", 9));
    assert!(snapshot.scan(&end, &start, 10).await.unwrap().is_empty());

    // A transaction's scan merges its buffered writes: 3 deletes, 2 new keys.
    let mut txn = cluster.begin().await.unwrap();
    for i in [0, 1, 3] {
        txn.delete(key("a/", i));
    }
    txn.put(b"a/00000x".to_vec(), b"new".to_vec());
    txn.put(b"a/zzz".to_vec(), b"past the limit".to_vec());
    let merged = txn.scan(b"a/", b"a0", 4).await.unwrap();
    let keys: Vec<Vec<u8>> = merged.into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        vec![
            b"a/00000x".to_vec(),
            key("a/", 2),
            key("a/", 4),
            key("a/", 5)
        ]
    );
    let whole = txn.scan(b"a/", b"a0", usize::MAX).await.unwrap();
    assert_eq!(whole.len(), 700 - 3 + 2);
    assert_eq!(whole.last().unwrap().0, b"a/zzz");
}

mod coprocessor {
    use super::*;
    use basalt_chunk::chunk_codec::decode_chunk;
    use basalt_chunk::codec::datum::{to_row_v2, Datum};
    use basalt_chunk::codec::row_v2;
    use basalt_chunk::codec::table::{self, Handle};
    use basalt_chunk::column::Column;
    use basalt_chunk::types::{FieldType, FieldTypeTp};
    use basalt_client::{CopResponse, Result};
    use basalt_proto::tipb::{self, EncodeType, ExecType};
    use prost::Message;

    const TABLE: i64 = 77;
    const DAG: i64 = 103;

    /// scan (id, qty) of `TABLE`, output id.
    fn table_scan() -> Vec<u8> {
        let column = |id: i64, pk: bool| tipb::ColumnInfo {
            column_id: Some(id),
            tp: Some(FieldTypeTp::LongLong as i32),
            pk_handle: Some(pk),
            ..Default::default()
        };
        tipb::DagRequest {
            executors: vec![tipb::Executor {
                tp: Some(ExecType::TypeTableScan as i32),
                tbl_scan: Some(tipb::TableScan {
                    table_id: Some(TABLE),
                    columns: vec![column(1, true), column(2, false)],
                    ..Default::default()
                }),
                ..Default::default()
            }],
            output_offsets: vec![0],
            encode_type: Some(EncodeType::TypeChunk as i32),
            ..Default::default()
        }
        .encode_to_vec()
    }

    fn request(data: Vec<u8>, start_ts: u64, ranges: Vec<(Vec<u8>, Vec<u8>)>) -> CopRequest {
        CopRequest {
            tp: DAG,
            data,
            start_ts,
            ranges,
            paging_size: 0,
            max_paging_size: 0,
            concurrency: 2,
        }
    }

    /// The ids in a response.
    fn ids(response: &CopResponse) -> Vec<i64> {
        let select = tipb::SelectResponse::decode(response.data.as_slice()).expect("select");
        assert!(select.error.is_none(), "{:?}", select.error);
        let types = [FieldType::new(FieldTypeTp::LongLong)];
        let mut out = Vec::new();
        for chunk in &select.chunks {
            let columns = decode_chunk(chunk.rows_data(), &types).expect("chunk");
            let Column::Int(column) = &columns[0] else {
                panic!("an int column")
            };
            out.extend((0..column.len()).filter_map(|i| column.get(i)));
        }
        out
    }

    async fn within<T>(future: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        tokio::time::timeout(Duration::from_secs(30), future)
            .await
            .expect("the coprocessor call must not hang")
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn garbage_payloads_are_coprocessor_errors() {
        let server = ServerProcess::start();
        let cluster = server.must_connect().await;
        let ts = cluster.timestamp().await.unwrap();
        let garbage = request(vec![0xFF, 0xFF, 0xFF], ts, vec![(Vec::new(), Vec::new())]);
        match within(cluster.coprocessor(garbage)).await {
            Err(Error::Coprocessor(message)) => assert!(!message.is_empty()),
            other => panic!("expected a coprocessor error, got {other:?}"),
        }
        let mut unsupported = request(table_scan(), ts, vec![(Vec::new(), Vec::new())]);
        unsupported.tp = 9999;
        assert!(matches!(
            within(cluster.coprocessor(unsupported)).await,
            Err(Error::Coprocessor(_))
        ));
        // No ranges: nothing to ask.
        assert!(cluster
            .coprocessor(request(table_scan(), ts, Vec::new()))
            .await
            .unwrap()
            .is_empty());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_dag_is_answered_once_per_region() {
        let server = ServerProcess::start();
        let cluster = server.must_connect().await;
        let regions = cluster.regions(b"", b"").await.unwrap();
        let ts = cluster.timestamp().await.unwrap();
        let everything = request(table_scan(), ts, vec![(Vec::new(), Vec::new())]);
        let responses = within(cluster.coprocessor(everything)).await.unwrap();
        let answered: Vec<u64> = responses.iter().map(|r| r.region_id).collect();
        let expected: Vec<u64> = regions.iter().map(|r| r.region.id).collect();
        assert_eq!(answered, expected);
        for response in &responses {
            assert!(ids(response).is_empty());
        }
        // Two ranges in one region make one request; one range over two regions makes two.
        let one = request(
            table_scan(),
            ts,
            vec![
                (b"t1".to_vec(), b"t2".to_vec()),
                (b"t3".to_vec(), b"t4".to_vec()),
            ],
        );
        assert_eq!(within(cluster.coprocessor(one)).await.unwrap().len(), 1);
        let two = request(
            table_scan(),
            ts,
            vec![(b"t".to_vec(), b"x\0\0\0a".to_vec())],
        );
        assert_eq!(within(cluster.coprocessor(two)).await.unwrap().len(), 2);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn pages_are_followed_and_locks_resolved() {
        let server = ServerProcess::start();
        let cluster = server.must_connect().await;
        let mut txn = cluster.begin().await.unwrap();
        for id in 1..=100i64 {
            let qty = to_row_v2(&Datum::Int(id % 7)).unwrap().unwrap();
            let row = row_v2::encode_row(&[(2, Some(&qty))]).unwrap();
            txn.put(table::encode_row_key(TABLE, &Handle::Int(id)), row);
        }
        txn.commit().await.unwrap();
        // An abandoned transaction's row with a short TTL: the scan must resolve it.
        let lock_ts = cluster.timestamp().await.unwrap();
        let locked = table::encode_row_key(TABLE, &Handle::Int(500));
        let qty = to_row_v2(&Datum::Int(1)).unwrap().unwrap();
        let row = row_v2::encode_row(&[(2, Some(&qty))]).unwrap();
        must_prewrite(&cluster, &[(&locked, &row)], &locked, lock_ts, 200).await;

        let ts = cluster.timestamp().await.unwrap();
        let expected: Vec<i64> = (1..=100).collect();
        let whole = request(table_scan(), ts, vec![table::record_range(TABLE)]);
        let responses = within(cluster.coprocessor(whole.clone())).await.unwrap();
        assert_eq!(responses.len(), 1);
        assert_eq!(ids(&responses[0]), expected);

        let paged = CopRequest {
            paging_size: 30,
            ..whole.clone()
        };
        let pages = within(cluster.coprocessor(paged)).await.unwrap();
        assert!(pages.len() >= 4, "{} pages", pages.len());
        let region_id = responses[0].region_id;
        assert!(pages.iter().all(|page| page.region_id == region_id));
        assert_eq!(ids(&pages[0]).len(), 30);
        let all: Vec<i64> = pages.iter().flat_map(ids).collect();
        assert_eq!(all, expected);

        // Growing pages: 20 rows, then 40, then the 40 left (capped at 50).
        let growing = CopRequest {
            paging_size: 20,
            max_paging_size: 50,
            ..whole
        };
        let pages = within(cluster.coprocessor(growing)).await.unwrap();
        let sizes: Vec<usize> = pages.iter().map(|page| ids(page).len()).collect();
        assert_eq!(sizes, vec![20, 40, 40]);
        let all: Vec<i64> = pages.iter().flat_map(ids).collect();
        assert_eq!(all, expected);
    }
}
