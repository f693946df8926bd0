//! Snapshot reads and optimistic transactions with Percolator two-phase commit.
//!
//! A `Snapshot` reads at one timestamp, resolving the locks it meets. A `Transaction` buffers
//! its writes in memory (reads see them first) and writes nothing until `commit`: prewrite
//! every key (the first in key order is the primary), take a commit_ts, commit the primary
//! (the commit point), then the secondaries.

use std::collections::BTreeMap;
use std::ops::Bound;

use basalt_proto::kvrpcpb;

use crate::error::{key_error, Error, Result};
use crate::lock_resolver::LockWait;
use crate::rpc::RegionRetry;
use crate::Cluster;

/// Pairs one scan request asks a region for.
const SCAN_BATCH: usize = 1024;
/// Lock TTL of a small transaction, in milliseconds (client-go's default).
const DEFAULT_LOCK_TTL_MS: u64 = 3_000;
/// Upper bound of the lock TTL.
const MAX_LOCK_TTL_MS: u64 = 120_000;
/// Times a primary commit is retried with a fresh commit_ts when a reader pushed the lock's
/// min_commit_ts past it.
const MAX_COMMIT_TS_RETRIES: usize = 3;

/// Reads at a fixed timestamp, resolving the locks of other transactions it meets.
#[derive(Clone, Debug)]
pub struct Snapshot {
    cluster: Cluster,
    ts: u64,
}

// These two take `&Vec<u8>` because they serve as `Fn(&T)` with `T = Vec<u8>`.
#[allow(clippy::ptr_arg)]
fn key_size(key: &Vec<u8>) -> usize {
    key.len()
}

#[allow(clippy::ptr_arg)]
fn as_key(key: &Vec<u8>) -> &[u8] {
    key
}

impl Snapshot {
    pub(crate) fn new(cluster: Cluster, ts: u64) -> Self {
        Snapshot { cluster, ts }
    }

    /// The read timestamp.
    pub fn ts(&self) -> u64 {
        self.ts
    }

    /// The value of `key`, if any.
    pub async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut wait = LockWait::for_read(self.ts);
        loop {
            let request = kvrpcpb::GetRequest {
                key: key.to_vec(),
                version: self.ts,
                ..Default::default()
            };
            let response = self
                .cluster
                .request_for_key(key, request, wait.resolved())
                .await?;
            match response.error {
                Some(kvrpcpb::KeyError {
                    locked: Some(lock), ..
                }) => wait.resolve(&self.cluster, vec![lock]).await?,
                Some(error) => return Err(key_error(error)),
                None if response.not_found => return Ok(None),
                None => return Ok(Some(response.value)),
            }
        }
    }

    /// The pairs of `keys` that exist, in key order.
    pub async fn batch_get(&self, mut keys: Vec<Vec<u8>>) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        keys.sort();
        keys.dedup();
        let mut found = Vec::new();
        let mut wait = LockWait::for_read(self.ts);
        while !keys.is_empty() {
            let resolved = wait.resolved().to_vec();
            let answers = self
                .cluster
                .per_region(keys, as_key, key_size, |region, batch| {
                    let request = kvrpcpb::BatchGetRequest {
                        keys: batch.clone(),
                        version: self.ts,
                        ..Default::default()
                    };
                    let resolved = &resolved;
                    async move {
                        let answer = self
                            .cluster
                            .send_to_region(&region, request, resolved)
                            .await?;
                        Ok(answer.map(|response| (batch, response)))
                    }
                })
                .await?;
            keys = Vec::new();
            let mut locks = Vec::new();
            for (batch, response) in answers {
                if let Some(error) = response.error {
                    match error.locked {
                        // The whole batch was refused: read all of it again.
                        Some(lock) => {
                            locks.push(lock);
                            keys.extend(batch);
                            continue;
                        }
                        None => return Err(key_error(error)),
                    }
                }
                for pair in response.pairs {
                    match pair.error {
                        None => found.push((pair.key, pair.value)),
                        Some(kvrpcpb::KeyError {
                            locked: Some(lock), ..
                        }) => {
                            keys.push(pair.key);
                            locks.push(lock);
                        }
                        Some(error) => return Err(key_error(error)),
                    }
                }
            }
            if !locks.is_empty() {
                keys.sort();
                keys.dedup();
                wait.resolve(&self.cluster, locks).await?;
            }
        }
        found.sort();
        Ok(found)
    }

    /// Up to `limit` pairs of `[start, end)` (empty end: unbounded), in key order.
    pub async fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        if limit == 0 || (!end.is_empty() && start >= end) {
            return Ok(out);
        }
        let mut cursor = start.to_vec();
        let mut wait = LockWait::for_read(self.ts);
        let mut retry = RegionRetry::new();
        loop {
            let region = self.cluster.inner.cache.locate(&cursor).await?;
            let region_end = region.region.end_key.clone();
            let request_end =
                if !end.is_empty() && (region_end.is_empty() || end <= region_end.as_slice()) {
                    end.to_vec()
                } else {
                    region_end.clone()
                };
            let batch = (limit - out.len()).min(SCAN_BATCH);
            let request = kvrpcpb::ScanRequest {
                start_key: cursor.clone(),
                end_key: request_end.clone(),
                limit: batch as u32,
                version: self.ts,
                ..Default::default()
            };
            let response = match self
                .cluster
                .send_to_region(&region, request, wait.resolved())
                .await?
            {
                Ok(response) => response,
                Err(error) => {
                    retry.on_error(&error).await?;
                    continue;
                }
            };
            if let Some(error) = response.error {
                match error.locked {
                    Some(lock) => {
                        wait.resolve(&self.cluster, vec![lock]).await?;
                        continue;
                    }
                    None => return Err(key_error(error)),
                }
            }
            let mut locks = Vec::new();
            for pair in &response.pairs {
                match &pair.error {
                    None => {}
                    Some(kvrpcpb::KeyError {
                        locked: Some(lock), ..
                    }) => locks.push(lock.clone()),
                    Some(error) => return Err(key_error(error.clone())),
                }
            }
            if !locks.is_empty() {
                wait.resolve(&self.cluster, locks).await?;
                continue;
            }
            let got = response.pairs.len();
            let mut last = None;
            for pair in response.pairs {
                last = Some(pair.key.clone());
                out.push((pair.key, pair.value));
            }
            if out.len() >= limit {
                return Ok(out);
            }
            match last {
                // The region may hold more: continue just after the last key.
                Some(mut key) if got >= batch => {
                    key.push(0);
                    cursor = key;
                }
                _ => {
                    if request_end.is_empty() || request_end.as_slice() == end {
                        return Ok(out);
                    }
                    cursor = region_end;
                }
            }
        }
    }
}

/// A buffered write.
#[derive(Clone, Debug)]
enum Buffered {
    Put(Vec<u8>),
    /// A put that must not find the key present.
    Insert(Vec<u8>),
    Delete,
}

impl Buffered {
    fn value(&self) -> Option<&Vec<u8>> {
        match self {
            Buffered::Put(value) | Buffered::Insert(value) => Some(value),
            Buffered::Delete => None,
        }
    }

    fn mutation(self, key: Vec<u8>) -> kvrpcpb::Mutation {
        let (op, value) = match self {
            Buffered::Put(value) => (kvrpcpb::Op::Put, value),
            Buffered::Insert(value) => (kvrpcpb::Op::Insert, value),
            Buffered::Delete => (kvrpcpb::Op::Del, Vec::new()),
        };
        kvrpcpb::Mutation {
            op: op as i32,
            key,
            value,
            ..Default::default()
        }
    }
}

/// An optimistic transaction: writes are buffered until `commit`, and reads see them first,
/// then the snapshot at `start_ts`.
#[derive(Debug)]
pub struct Transaction {
    snapshot: Snapshot,
    buffer: BTreeMap<Vec<u8>, Buffered>,
}

impl Transaction {
    pub(crate) fn new(cluster: Cluster, start_ts: u64) -> Self {
        Transaction {
            snapshot: Snapshot::new(cluster, start_ts),
            buffer: BTreeMap::new(),
        }
    }

    /// The transaction's start_ts (its snapshot's timestamp).
    pub fn start_ts(&self) -> u64 {
        self.snapshot.ts
    }

    /// The value of `key`: the buffered write, else the snapshot's.
    pub async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.buffer.get(key) {
            Some(buffered) => Ok(buffered.value().cloned()),
            None => self.snapshot.get(key).await,
        }
    }

    /// Up to `limit` pairs of `[start, end)` (empty end: unbounded), in key order, the
    /// snapshot's merged with the buffered writes.
    pub async fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        if limit == 0 || (!end.is_empty() && start >= end) {
            return Ok(Vec::new());
        }
        let upper = if end.is_empty() {
            Bound::Unbounded
        } else {
            Bound::Excluded(end)
        };
        let buffered = || {
            self.buffer
                .range::<[u8], _>((Bound::Included(start), upper))
        };
        // Buffered deletes may hide snapshot pairs: ask for that many more.
        let deletes = buffered()
            .filter(|(_, write)| matches!(write, Buffered::Delete))
            .count();
        let want = limit.saturating_add(deletes);
        let stored = self.snapshot.scan(start, end, want).await?;
        // If the snapshot stopped at `want`, pairs past its last key are unknown.
        let horizon = (stored.len() >= want)
            .then(|| stored.last().map(|(key, _)| key.clone()))
            .flatten();
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = stored.into_iter().collect();
        for (key, write) in buffered() {
            if horizon.as_ref().is_some_and(|last| key > last) {
                break;
            }
            match write.value() {
                Some(value) => merged.insert(key.clone(), value.clone()),
                None => merged.remove(key),
            };
        }
        Ok(merged.into_iter().take(limit).collect())
    }

    /// Buffers a write of `value` to `key`.
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        let write = match self.buffer.get(&key) {
            // Still an insert: the key must not exist before this transaction.
            Some(Buffered::Insert(_)) => Buffered::Insert(value),
            _ => Buffered::Put(value),
        };
        self.buffer.insert(key, write);
    }

    /// Buffers a write of `value` to `key` that fails the commit with
    /// `Error::AlreadyExists(key)` if the key exists (prewrite `Op::Insert`).
    pub fn insert(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.buffer.insert(key, Buffered::Insert(value));
    }

    /// Buffers a delete of `key`.
    pub fn delete(&mut self, key: Vec<u8>) {
        self.buffer.insert(key, Buffered::Delete);
    }

    /// Drops the buffered writes; nothing was written yet.
    pub async fn rollback(self) -> Result<()> {
        tracing::debug!(start_ts = self.start_ts(), "transaction rolled back");
        Ok(())
    }

    /// Commits with two-phase commit and returns the commit_ts (the start_ts when nothing was
    /// written). A failed prewrite rolls back every key, so nothing is half-written.
    #[tracing::instrument(skip_all, fields(start_ts = self.snapshot.ts, keys = self.buffer.len()))]
    pub async fn commit(self) -> Result<u64> {
        let start_ts = self.snapshot.ts;
        let cluster = self.snapshot.cluster.clone();
        let mutations: Vec<kvrpcpb::Mutation> = self
            .buffer
            .into_iter()
            .map(|(key, write)| write.mutation(key))
            .collect();
        let Some(primary) = mutations.first().map(|m| m.key.clone()) else {
            return Ok(start_ts);
        };
        let keys: Vec<Vec<u8>> = mutations.iter().map(|m| m.key.clone()).collect();
        let committer = Committer {
            cluster,
            start_ts,
            primary,
            lock_ttl: lock_ttl(&mutations),
            txn_size: mutations.len() as u64,
        };
        if let Err(err) = committer.prewrite(mutations).await {
            tracing::debug!(%err, "prewrite failed; rolling back");
            committer.rollback(keys).await;
            return Err(err);
        }
        let commit_ts = match committer.commit_primary().await {
            Ok(commit_ts) => commit_ts,
            // The primary may or may not have been committed: leave the locks to readers.
            Err(err @ (Error::Grpc(_) | Error::Transport(_))) => return Err(err),
            // The primary was refused, so the transaction can never commit: clean up.
            Err(err) => {
                tracing::debug!(%err, "committing the primary failed; rolling back");
                committer.rollback(keys).await;
                return Err(err);
            }
        };
        committer.commit_secondaries(keys, commit_ts).await;
        tracing::debug!(commit_ts, "transaction committed");
        Ok(commit_ts)
    }
}

/// The lock TTL for a transaction writing `mutations`: client-go's rule, 6 s per square root
/// of MiB, at least the default and at most two minutes.
fn lock_ttl(mutations: &[kvrpcpb::Mutation]) -> u64 {
    let bytes: usize = mutations.iter().map(|m| m.key.len() + m.value.len()).sum();
    let mib = bytes as f64 / (1024.0 * 1024.0);
    let ttl = (6_000.0 * mib.sqrt()) as u64;
    ttl.clamp(DEFAULT_LOCK_TTL_MS, MAX_LOCK_TTL_MS)
}

fn mutation_key(mutation: &kvrpcpb::Mutation) -> &[u8] {
    &mutation.key
}

fn mutation_size(mutation: &kvrpcpb::Mutation) -> usize {
    mutation.key.len() + mutation.value.len()
}

/// The two phases of one transaction's commit.
struct Committer {
    cluster: Cluster,
    start_ts: u64,
    primary: Vec<u8>,
    lock_ttl: u64,
    txn_size: u64,
}

impl Committer {
    /// Prewrites every mutation, resolving (or waiting for) the locks of other transactions.
    async fn prewrite(&self, mut mutations: Vec<kvrpcpb::Mutation>) -> Result<()> {
        let mut wait = LockWait::for_write();
        loop {
            let answers = self
                .cluster
                .per_region(mutations, mutation_key, mutation_size, |region, batch| {
                    let request = kvrpcpb::PrewriteRequest {
                        mutations: batch.clone(),
                        primary_lock: self.primary.clone(),
                        start_version: self.start_ts,
                        lock_ttl: self.lock_ttl,
                        txn_size: self.txn_size,
                        ..Default::default()
                    };
                    async move {
                        let answer = self.cluster.send_to_region(&region, request, &[]).await?;
                        Ok(answer.map(|response| (batch, response)))
                    }
                })
                .await?;
            mutations = Vec::new();
            let mut locks = Vec::new();
            for (batch, response) in answers {
                if response.errors.is_empty() {
                    continue;
                }
                for error in response.errors {
                    match error.locked {
                        Some(lock) => locks.push(lock),
                        None => return Err(key_error(error)),
                    }
                }
                // A batch with a locked key wrote nothing: send all of it again.
                mutations.extend(batch);
            }
            if mutations.is_empty() {
                return Ok(());
            }
            mutations.sort_by(|a, b| a.key.cmp(&b.key));
            wait.resolve(&self.cluster, locks).await?;
        }
    }

    /// Commits the primary key: the transaction's commit point. Returns the commit_ts.
    async fn commit_primary(&self) -> Result<u64> {
        for _ in 0..MAX_COMMIT_TS_RETRIES {
            let commit_ts = self.cluster.timestamp().await?;
            let request = kvrpcpb::CommitRequest {
                start_version: self.start_ts,
                keys: vec![self.primary.clone()],
                commit_version: commit_ts,
                ..Default::default()
            };
            let response = self
                .cluster
                .request_for_key(&self.primary, request, &[])
                .await?;
            match response.error {
                None => return Ok(commit_ts),
                // A reader pushed the lock's min_commit_ts past our commit_ts: take a newer one.
                Some(error) if error.commit_ts_expired.is_some() => {
                    tracing::debug!(commit_ts, "commit_ts expired; retrying with a newer one");
                }
                Some(error) => return Err(key_error(error)),
            }
        }
        Err(Error::Other(format!(
            "commit_ts kept expiring for the transaction started at {}",
            self.start_ts
        )))
    }

    /// Commits the secondary keys. The transaction is committed already, so failures are only
    /// logged: readers resolve what is left.
    async fn commit_secondaries(&self, mut keys: Vec<Vec<u8>>, commit_ts: u64) {
        keys.retain(|key| *key != self.primary);
        if keys.is_empty() {
            return;
        }
        let result = self
            .cluster
            .per_region(keys, as_key, key_size, |region, batch| {
                let request = kvrpcpb::CommitRequest {
                    start_version: self.start_ts,
                    keys: batch,
                    commit_version: commit_ts,
                    ..Default::default()
                };
                async move {
                    let answer = self.cluster.send_to_region(&region, request, &[]).await?;
                    Ok(answer.map(|response| response.error))
                }
            })
            .await;
        match result {
            Ok(errors) => {
                for error in errors.into_iter().flatten() {
                    tracing::warn!(commit_ts, err = %key_error(error), "committing secondaries failed");
                }
            }
            Err(err) => tracing::warn!(commit_ts, %err, "committing secondaries failed"),
        }
    }

    /// Rolls back `keys` after a failed prewrite (best effort: what stays locked is rolled
    /// back by readers once its TTL expires).
    async fn rollback(&self, keys: Vec<Vec<u8>>) {
        let result = self
            .cluster
            .per_region(keys, as_key, key_size, |region, batch| {
                let request = kvrpcpb::BatchRollbackRequest {
                    start_version: self.start_ts,
                    keys: batch,
                    ..Default::default()
                };
                async move {
                    let answer = self.cluster.send_to_region(&region, request, &[]).await?;
                    Ok(answer.map(|response| response.error))
                }
            })
            .await;
        match result {
            Ok(errors) => {
                for error in errors.into_iter().flatten() {
                    tracing::warn!(err = %key_error(error), "rolling back failed");
                }
            }
            Err(err) => tracing::warn!(%err, "rolling back failed"),
        }
    }
}
