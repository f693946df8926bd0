//! The KV half of the benchmark: RocksDB in-process as the baseline, then Basalt through gRPC
//! (raw put/get/batch get, 1-key and 10-key Percolator commits, transactional point get), with
//! every response checked and per-operation latency percentiles. Most operations run twice:
//! one unary RPC per request, and through `BatchCommands` streams with the clients' requests
//! batched as TiDB's client-go batches them (`batch`).
//!
//! Each phase runs `ops` operations spread over `concurrency` workers (worker `w` takes
//! operations `w`, `w + concurrency`, ...). Operation `i` of a phase touches keys numbered from
//! `i`, so the read phases know what the write phases stored there. All keys start with
//! `bench/`, which sorts below every keyspace edge a single-node server splits at, raw and
//! memcomparable-encoded alike, so every phase addresses one region.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use basalt_proto::pdpb::pd_client::PdClient;
use basalt_proto::tikvpb::tikv_client::TikvClient;
use basalt_proto::{errorpb, kvrpcpb, pdpb, tikvpb};
use basalt_storage::engine::{KvEngine, Modify, RocksEngine, RocksOptions, Snapshot, CF_DEFAULT};
use basalt_storage::mvcc::Key;
use tonic::transport::{Channel, Endpoint};

mod batch;
mod grpc;
use grpc::*;

/// Row names of the RocksDB baseline.
const ROCKS_PUT: &str = "rocksdb put";
const ROCKS_GET: &str = "rocksdb get";
const ROCKS_BATCH_GET: &str = "rocksdb batch get";
/// Keys of a 10-key transaction.
const TXN_WIDE_KEYS: u64 = 10;
/// gRPC channels (connections) the unary clients share, fewer when there are fewer clients.
const MAX_CHANNELS: u64 = 4;
/// `BatchCommands` streams the batched clients share, one per channel as client-go keeps one
/// per connection (its `grpc-connection-count` is 4). Measured side by side on 2 cores (raw get,
/// 16 clients): 4 streams on the caller's multi-threaded runtime gave 122-184k ops/s; one
/// stream (16 commands per message) gave about 100k, on this runtime or on a current-thread one,
/// since client and server then take turns instead of overlapping.
const BATCH_STREAMS: usize = 4;
/// The most requests the client puts in one `BatchCommandsRequest` (client-go's
/// `max-batch-size`).
const MAX_BATCH: usize = 128;
/// Lock TTL of the benchmark's transactions, in milliseconds.
const LOCK_TTL_MS: u64 = 3000;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct KvOptions {
    /// Operations per phase.
    pub ops: u64,
    /// Concurrent workers (threads for RocksDB, tokio tasks for gRPC).
    pub concurrency: u64,
    /// Value size in bytes.
    pub value_size: usize,
    /// Sync the RocksDB WAL on every write of the baseline (the server has its own setting).
    pub sync_log: bool,
    /// Keys per batch get.
    pub batch: usize,
}

impl Default for KvOptions {
    fn default() -> Self {
        KvOptions {
            ops: 20_000,
            concurrency: 32,
            value_size: 100,
            sync_log: false,
            batch: 10,
        }
    }
}

/// The outcome of one phase.
#[derive(Debug, Clone, PartialEq)]
pub struct KvRow {
    /// The operation measured.
    pub name: String,
    /// Operations run.
    pub ops: u64,
    /// Operations that failed: transport, region or key errors, or a wrong value read back.
    pub errors: u64,
    /// Wall time of the phase.
    pub elapsed: Duration,
    /// Median latency of one operation, measured by the client.
    pub p50: Duration,
    /// 99th percentile latency of one operation.
    pub p99: Duration,
}

impl KvRow {
    /// Throughput over the phase's wall time.
    pub fn per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.ops as f64 / seconds
        } else {
            0.0
        }
    }
}

/// RocksDB itself in-process (`RocksEngine` with `RocksOptions::default()` in `dir`, created if
/// missing; WAL synced per `opts.sync_log`), `concurrency` threads: put (one write per put), get
/// (point get on a snapshot), batch get (`batch` keys per call).
pub fn rocksdb_baseline(dir: &Path, opts: &KvOptions) -> Result<Vec<KvRow>, String> {
    let rocks = RocksEngine::open(dir, &RocksOptions::default())
        .map_err(|err| format!("opening RocksDB at {}: {err}", dir.display()))?;
    let put = thread_phase(
        ROCKS_PUT,
        opts,
        || (),
        |(), i| {
            let modify = Modify::Put(CF_DEFAULT, raw_key(i), value(i, opts.value_size));
            rocks
                .write(&[modify], opts.sync_log)
                .map_err(|err| format!("RocksDB write: {err}"))
        },
    );
    let get = thread_phase(
        ROCKS_GET,
        opts,
        || rocks.snapshot(),
        |snapshot, i| rocks_read(snapshot, &[i], opts),
    );
    let batch_get = thread_phase(
        ROCKS_BATCH_GET,
        opts,
        || rocks.snapshot(),
        |snapshot, i| rocks_read(snapshot, &batch_numbers(i, opts), opts),
    );
    Ok(vec![put, get, batch_get])
}

fn rocks_read(snapshot: &impl Snapshot, numbers: &[u64], opts: &KvOptions) -> Result<(), String> {
    numbers.iter().try_for_each(|&n| {
        let key = raw_key(n);
        let read = snapshot
            .get_cf(CF_DEFAULT, &key)
            .map_err(|err| format!("RocksDB get: {err}"))?;
        check_read(&key, read.as_deref(), &value(n, opts.value_size))
    })
}

/// Runs `op` for every operation of a phase on `concurrency` threads, each with its own `setup`.
fn thread_phase<S>(
    name: &str,
    opts: &KvOptions,
    setup: impl Fn() -> S + Sync,
    op: impl Fn(&mut S, u64) -> Result<(), String> + Sync,
) -> KvRow {
    let start = Instant::now();
    let tally = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..workers(opts))
            .map(|worker| {
                let (setup, op) = (&setup, &op);
                scope.spawn(move || {
                    let mut state = setup();
                    let mut tally = Tally::default();
                    for i in worker_ops(worker, opts) {
                        let started = Instant::now();
                        let outcome = op(&mut state, i);
                        tally.record(started.elapsed(), outcome);
                    }
                    tally
                })
            })
            .collect();
        let mut total = Tally::default();
        for (worker, thread) in (0..).zip(threads) {
            let joined = thread
                .join()
                .map_err(|_| "worker thread panicked".to_string());
            total.merge_joined(joined, worker_ops(worker, opts).count() as u64);
        }
        total
    });
    tally.into_row(name, start.elapsed())
}

/// Through gRPC to a running single-node basalt-server at `kv_addr` whose PD is `pd_addr`,
/// `concurrency` concurrent clients (tokio tasks sharing a few channels): raw put, raw get, raw
/// batch get (`batch` keys), txn commit of 1 key (prewrite + commit), txn commit of 10 keys
/// (one prewrite with 10 mutations, one commit with 10 keys), and txn point get at a fresh ts;
/// each as unary RPCs, and all but the 10-key commit again through `BatchCommands`.
///
/// Timestamps come from one PD TSO answer and then a local counter, so the measurement is of
/// the store, not of PD round trips; each transaction takes its `commit_ts` after its prewrite
/// answered, above its `start_ts`.
///
/// With `only` not empty, only the phases whose name contains it run (`repeat` times each),
/// and the writes, whose keys the reads check.
pub async fn grpc(
    kv_addr: &str,
    pd_addr: &str,
    opts: &KvOptions,
    only: &str,
    repeat: usize,
) -> Result<Vec<KvRow>, String> {
    let mut pd = Pd::connect(pd_addr).await?;
    let bench = GrpcBench::connect(kv_addr, &mut pd, opts).await?;
    let mut rows = Vec::new();
    for phase in Phase::ALL {
        let selected = phase.name().contains(only);
        if !selected && !phase.operation.is_write() {
            continue;
        }
        let context = pd.context_for(phase, opts).await?;
        let times = if selected && !only.is_empty() {
            repeat
        } else {
            1
        };
        for _ in 0..times.max(1) {
            rows.push(bench.run_phase(phase, context.clone()).await);
        }
    }
    Ok(rows)
}

/// A Markdown table: operation, ops/s, p50 µs, p99 µs, errors, and the throughput ratio to the
/// RocksDB row each Basalt row compares with (gets and batch gets with RocksDB's, puts and
/// transaction commits with RocksDB put, the transactional point get with RocksDB get).
pub fn markdown(rocks: &[KvRow], grpc: &[KvRow], opts: &KvOptions) -> String {
    let mut out = format!(
        "{} operations per phase, {} concurrent clients, {}-byte values, {} keys per batch get, \
         RocksDB WAL sync {}.\n\n\
         | operation | ops/s | p50 µs | p99 µs | errors | vs RocksDB |\n\
         |---|---:|---:|---:|---:|---:|\n",
        opts.ops,
        opts.concurrency,
        opts.value_size,
        opts.batch,
        if opts.sync_log { "on" } else { "off" },
    );
    for row in rocks {
        out.push_str(&table_line(row, "baseline".into()));
    }
    for row in grpc {
        let baseline = Phase::ALL
            .iter()
            .find(|phase| phase.name() == row.name)
            .and_then(|phase| rocks.iter().find(|rocks| rocks.name == phase.baseline()));
        let ratio = match baseline {
            Some(base) if base.per_second() > 0.0 => {
                format!("{:.3}× {}", row.per_second() / base.per_second(), base.name)
            }
            _ => "n/a".into(),
        };
        out.push_str(&table_line(row, ratio));
    }
    out
}

fn table_line(row: &KvRow, ratio: String) -> String {
    let micros = |latency: Duration| latency.as_secs_f64() * 1e6;
    format!(
        "| {} | {:.0} | {:.1} | {:.1} | {} | {ratio} |\n",
        row.name,
        row.per_second(),
        micros(row.p50),
        micros(row.p99),
        row.errors
    )
}

/// What a gRPC phase does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    /// A `BatchCommands` `Empty` probe: no storage work, so its rate is what the transport
    /// (client, gRPC, TCP, the server's stream) allows a point read at most.
    Empty,
    RawPut,
    RawGet,
    RawBatchGet,
    TxnCommit,
    TxnCommitWide,
    TxnGet,
}

/// How a gRPC phase's requests travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// One unary RPC per request.
    Unary,
    /// The clients' requests batched into `BatchCommands` streams, as client-go sends them.
    BatchCommands,
}

/// A gRPC phase: an operation through one way of sending it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Phase {
    operation: Operation,
    via: Via,
}

impl Phase {
    /// The phases in the order they run: reads after the writes they check.
    const ALL: [Phase; 12] = [
        Phase::unary(Operation::RawPut),
        Phase::batched(Operation::RawPut),
        // Right before the gets, so it runs on streams as warm as theirs.
        Phase::batched(Operation::Empty),
        Phase::unary(Operation::RawGet),
        Phase::batched(Operation::RawGet),
        Phase::unary(Operation::RawBatchGet),
        Phase::batched(Operation::RawBatchGet),
        Phase::unary(Operation::TxnCommit),
        Phase::batched(Operation::TxnCommit),
        Phase::unary(Operation::TxnCommitWide),
        Phase::unary(Operation::TxnGet),
        Phase::batched(Operation::TxnGet),
    ];

    const fn unary(operation: Operation) -> Phase {
        Phase {
            operation,
            via: Via::Unary,
        }
    }

    const fn batched(operation: Operation) -> Phase {
        Phase {
            operation,
            via: Via::BatchCommands,
        }
    }

    fn name(self) -> String {
        let what = match self.operation {
            Operation::Empty => "basalt empty command, the transport alone",
            Operation::RawPut => "basalt raw put",
            Operation::RawGet => "basalt raw get",
            Operation::RawBatchGet => "basalt raw batch get",
            Operation::TxnCommit => "basalt txn commit, 1 key",
            Operation::TxnCommitWide => "basalt txn commit, 10 keys",
            Operation::TxnGet => "basalt txn point get",
        };
        let via = match self.via {
            Via::Unary => "gRPC",
            Via::BatchCommands => "gRPC BatchCommands",
        };
        let two_phase = if self.operation.is_commit() {
            ", 2PC"
        } else {
            ""
        };
        format!("{what} ({via}{two_phase})")
    }

    /// The RocksDB row this phase is compared with.
    fn baseline(self) -> &'static str {
        match self.operation {
            Operation::Empty | Operation::RawGet | Operation::TxnGet => ROCKS_GET,
            Operation::RawBatchGet => ROCKS_BATCH_GET,
            Operation::RawPut | Operation::TxnCommit | Operation::TxnCommitWide => ROCKS_PUT,
        }
    }

    /// The user key numbered `n` in this phase's key space (shared by both ways of sending).
    fn key(self, n: u64) -> Vec<u8> {
        match self.operation {
            Operation::Empty | Operation::RawPut | Operation::RawGet | Operation::RawBatchGet => {
                raw_key(n)
            }
            Operation::TxnCommit | Operation::TxnGet => format!("bench/txn/{n:012}").into_bytes(),
            Operation::TxnCommitWide => format!("bench/txn10/{n:012}").into_bytes(),
        }
    }

    /// The numbers of the keys operation `i` touches.
    fn numbers(self, i: u64, opts: &KvOptions) -> Vec<u64> {
        match self.operation {
            Operation::RawBatchGet => batch_numbers(i, opts),
            Operation::TxnCommitWide => (i * TXN_WIDE_KEYS..(i + 1) * TXN_WIDE_KEYS).collect(),
            Operation::Empty
            | Operation::RawPut
            | Operation::RawGet
            | Operation::TxnCommit
            | Operation::TxnGet => vec![i],
        }
    }

    /// The lowest and highest key of the phase, in the form regions are bounded by: raw keys
    /// as they are (API V1), transactional keys memcomparable-encoded.
    fn region_key_bounds(self, opts: &KvOptions) -> (Vec<u8>, Vec<u8>) {
        let per_op = if self.operation == Operation::TxnCommitWide {
            TXN_WIDE_KEYS
        } else {
            1
        };
        let last = (opts.ops * per_op).saturating_sub(1);
        (self.region_key(0), self.region_key(last))
    }

    fn region_key(self, n: u64) -> Vec<u8> {
        let key = self.key(n);
        if self.operation.is_txn() {
            Key::from_raw(&key).as_encoded().to_vec()
        } else {
            key
        }
    }
}

impl Operation {
    /// Whether the operation writes (the keys later phases read).
    fn is_write(self) -> bool {
        matches!(
            self,
            Operation::RawPut | Operation::TxnCommit | Operation::TxnCommitWide
        )
    }

    fn is_txn(self) -> bool {
        self.is_commit() || self == Operation::TxnGet
    }

    fn is_commit(self) -> bool {
        matches!(self, Operation::TxnCommit | Operation::TxnCommitWide)
    }
}

fn raw_key(n: u64) -> Vec<u8> {
    format!("bench/raw/{n:012}").into_bytes()
}

/// The value stored under key number `n`: its little-endian bytes repeated, so a value read
/// from the wrong key is noticed.
fn value(n: u64, size: usize) -> Vec<u8> {
    n.to_le_bytes().into_iter().cycle().take(size).collect()
}

/// The key numbers of batch get `i`: `batch` consecutive keys, wrapping within the `ops` keys
/// the put phase wrote.
fn batch_numbers(i: u64, opts: &KvOptions) -> Vec<u64> {
    let batch = opts.batch.max(1) as u64;
    (0..batch)
        .map(|j| (i * batch + j) % opts.ops.max(1))
        .collect()
}

fn workers(opts: &KvOptions) -> u64 {
    opts.concurrency.max(1)
}

/// The operations worker `worker` runs.
fn worker_ops(worker: u64, opts: &KvOptions) -> impl Iterator<Item = u64> {
    (worker..opts.ops).step_by(workers(opts) as usize)
}

/// A read of `key` must have found `expected`.
fn check_read(key: &[u8], read: Option<&[u8]>, expected: &[u8]) -> Result<(), String> {
    match read {
        None => Err(format!("{}: not found", show(key))),
        Some(read) if read != expected => Err(format!(
            "{}: read {} bytes that differ from the {} written",
            show(key),
            read.len(),
            expected.len()
        )),
        Some(_) => Ok(()),
    }
}

/// A raw batch get must have returned each wanted `(key, value)`, without key errors.
fn check_pairs(wanted: &[(Vec<u8>, Vec<u8>)], pairs: &[kvrpcpb::KvPair]) -> Result<(), String> {
    let mut found = HashMap::new();
    for pair in pairs {
        check_key_error(pair.error.as_ref())?;
        found.insert(pair.key.as_slice(), pair.value.as_slice());
    }
    wanted
        .iter()
        .try_for_each(|(key, value)| check_read(key, found.get(key.as_slice()).copied(), value))
}

fn check_region(error: Option<&errorpb::Error>) -> Result<(), String> {
    match error {
        None => Ok(()),
        Some(error) if error.message.is_empty() => Err(format!("region error: {error:?}")),
        Some(error) => Err(format!("region error: {}", error.message)),
    }
}

fn check_key_error(error: Option<&kvrpcpb::KeyError>) -> Result<(), String> {
    error.map_or(Ok(()), |error| Err(format!("key error: {error:?}")))
}

fn check_message(error: &str) -> Result<(), String> {
    if error.is_empty() {
        Ok(())
    } else {
        Err(format!("error: {error}"))
    }
}

fn transport(method: &str) -> impl FnOnce(tonic::Status) -> String + '_ {
    move |status| format!("{method}: {status}")
}

fn show(key: &[u8]) -> String {
    String::from_utf8_lossy(key).escape_debug().to_string()
}

/// The nearest-rank `percent` percentile of `sorted` (ascending); zero when empty.
fn percentile(sorted: &[Duration], percent: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (percent / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Latencies and errors of one worker, or of a whole phase once merged.
#[derive(Default)]
struct Tally {
    ops: u64,
    errors: u64,
    /// The earliest error seen and when.
    first_error: Option<(Instant, String)>,
    latencies: Vec<Duration>,
}

impl Tally {
    fn record(&mut self, latency: Duration, outcome: Result<(), String>) {
        self.ops += 1;
        self.latencies.push(latency);
        if let Err(error) = outcome {
            self.errors += 1;
            self.first_error.get_or_insert((Instant::now(), error));
        }
    }

    /// Adds a worker's tally, or counts all its `worker_ops` as failed when it did not finish.
    fn merge_joined(&mut self, joined: Result<Tally, String>, worker_ops: u64) {
        let other = joined.unwrap_or_else(|error| Tally {
            ops: worker_ops,
            errors: worker_ops,
            first_error: Some((Instant::now(), error)),
            latencies: Vec::new(),
        });
        self.ops += other.ops;
        self.errors += other.errors;
        self.latencies.extend(other.latencies);
        let earlier = match (&self.first_error, &other.first_error) {
            (Some((mine, _)), Some((theirs, _))) => theirs < mine,
            (None, Some(_)) => true,
            _ => false,
        };
        if earlier {
            self.first_error = other.first_error;
        }
    }

    /// The phase's row; prints the phase's first error, if any, to stderr.
    fn into_row(mut self, name: &str, elapsed: Duration) -> KvRow {
        if let Some((_, error)) = &self.first_error {
            eprintln!(
                "{name}: {} of {} operations failed; first error: {error}",
                self.errors, self.ops
            );
        }
        self.latencies.sort_unstable();
        KvRow {
            name: name.to_string(),
            ops: self.ops,
            errors: self.errors,
            elapsed,
            p50: percentile(&self.latencies, 50.0),
            p99: percentile(&self.latencies, 99.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestServer;

    fn millis(values: impl IntoIterator<Item = u64>) -> Vec<Duration> {
        values.into_iter().map(Duration::from_millis).collect()
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let hundred = millis(1..=100);
        assert_eq!(percentile(&hundred, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&hundred, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&hundred, 100.0), Duration::from_millis(100));
        let ten = millis(1..=10);
        assert_eq!(percentile(&ten, 99.0), Duration::from_millis(10));
        assert_eq!(percentile(&ten, 50.0), Duration::from_millis(5));
        assert_eq!(percentile(&millis([7]), 50.0), Duration::from_millis(7));
        assert_eq!(percentile(&[], 99.0), Duration::ZERO);
    }

    #[test]
    fn wrong_or_missing_reads_are_errors() {
        let key = raw_key(3);
        assert!(check_read(&key, Some(&value(3, 16)), &value(3, 16)).is_ok());
        assert!(check_read(&key, Some(&value(4, 16)), &value(3, 16)).is_err());
        assert!(check_read(&key, None, &value(3, 16)).is_err());
        let wanted = vec![(raw_key(1), value(1, 8)), (raw_key(2), value(2, 8))];
        let pair = |n: u64| kvrpcpb::KvPair {
            key: raw_key(n),
            value: value(n, 8),
            ..Default::default()
        };
        assert!(check_pairs(&wanted, &[pair(2), pair(1)]).is_ok());
        assert!(check_pairs(&wanted, &[pair(1)]).is_err());
        let mut locked = pair(2);
        locked.error = Some(kvrpcpb::KeyError::default());
        assert!(check_pairs(&wanted, &[pair(1), locked]).is_err());
    }

    #[test]
    fn workers_split_the_operations() {
        let opts = KvOptions {
            ops: 10,
            concurrency: 3,
            ..KvOptions::default()
        };
        let mut all: Vec<u64> = (0..3).flat_map(|w| worker_ops(w, &opts)).collect();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(batch_numbers(0, &opts), (0..10).collect::<Vec<_>>());
        assert_eq!(batch_numbers(1, &opts), (0..10).collect::<Vec<_>>());
    }

    fn row(name: &str, ops: u64, millis: u64) -> KvRow {
        KvRow {
            name: name.into(),
            ops,
            errors: 0,
            elapsed: Duration::from_millis(millis),
            p50: Duration::from_micros(12),
            p99: Duration::from_micros(345),
        }
    }

    #[test]
    fn markdown_has_rows_and_ratios() {
        let rocks = [
            row(ROCKS_PUT, 1000, 100),
            row(ROCKS_GET, 1000, 10),
            row(ROCKS_BATCH_GET, 1000, 50),
        ];
        let grpc = [
            row(&Phase::unary(Operation::RawPut).name(), 1000, 1000),
            row(&Phase::unary(Operation::RawGet).name(), 1000, 400),
            row(&Phase::batched(Operation::RawGet).name(), 1000, 100),
            row(&Phase::unary(Operation::RawBatchGet).name(), 1000, 500),
            row(&Phase::unary(Operation::TxnCommitWide).name(), 1000, 2000),
            row(&Phase::unary(Operation::TxnGet).name(), 1000, 1000),
            row(&Phase::batched(Operation::TxnGet).name(), 1000, 200),
            row("something else", 10, 1000),
        ];
        let table = markdown(&rocks, &grpc, &KvOptions::default());
        assert!(table.contains("| operation | ops/s | p50 µs | p99 µs | errors | vs RocksDB |"));
        assert!(table.contains("| rocksdb put | 10000 | 12.0 | 345.0 | 0 | baseline |"));
        assert!(table
            .contains("| basalt raw put (gRPC) | 1000 | 12.0 | 345.0 | 0 | 0.100× rocksdb put |"));
        assert!(table
            .contains("| basalt raw get (gRPC) | 2500 | 12.0 | 345.0 | 0 | 0.025× rocksdb get |"));
        assert!(table.contains(
            "| basalt raw get (gRPC BatchCommands) | 10000 | 12.0 | 345.0 | 0 | 0.100× rocksdb get |"
        ));
        assert!(table.contains("| 2000 | 12.0 | 345.0 | 0 | 0.100× rocksdb batch get |"));
        assert!(
            table.contains("10 keys (gRPC, 2PC) | 500 | 12.0 | 345.0 | 0 | 0.050× rocksdb put |")
        );
        assert!(table.contains(
            "| basalt txn point get (gRPC) | 1000 | 12.0 | 345.0 | 0 | 0.010× rocksdb get |"
        ));
        assert!(table.contains(
            "| basalt txn point get (gRPC BatchCommands) | 5000 | 12.0 | 345.0 | 0 | 0.050× rocksdb get |"
        ));
        assert!(table.contains("| something else | 10 | 12.0 | 345.0 | 0 | n/a |"));
    }

    fn small() -> KvOptions {
        KvOptions {
            ops: 200,
            concurrency: 4,
            value_size: 64,
            sync_log: false,
            batch: 10,
        }
    }

    fn assert_clean(rows: &[KvRow], count: usize) {
        assert_eq!(rows.len(), count, "{rows:?}");
        for row in rows {
            assert_eq!(row.errors, 0, "{row:?}");
            assert_eq!(row.ops, 200, "{row:?}");
            assert!(row.p50 > Duration::ZERO && row.p99 >= row.p50, "{row:?}");
        }
    }

    #[test]
    fn rocksdb_baseline_reads_back_what_it_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let rows = rocksdb_baseline(&dir.path().join("rocksdb"), &small()).unwrap();
        assert_clean(&rows, 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn grpc_phases_run_clean_against_a_server() {
        let server = TestServer::start().await;
        let rows = grpc(&server.kv(), &server.pd(), &small(), "", 1)
            .await
            .unwrap();
        assert_clean(&rows, Phase::ALL.len());
        // One read selected: it runs twice, after the writes (whose keys it checks).
        let only = Phase::batched(Operation::TxnGet).name();
        let rows = grpc(&server.kv(), &server.pd(), &small(), &only, 2)
            .await
            .unwrap();
        let names: Vec<&str> = rows.iter().map(|row| row.name.as_str()).collect();
        let writes = Phase::ALL.iter().filter(|phase| phase.operation.is_write());
        let mut expected: Vec<String> = writes.map(|phase| phase.name()).collect();
        expected.extend([only.clone(), only]);
        assert_eq!(names, expected);
        assert_clean(&rows, expected.len());
        server.shut_down().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wrong_region_and_missing_values_are_errors() {
        let server = TestServer::start().await;
        let opts = small();
        let mut pd = Pd::connect(&server.pd()).await.unwrap();
        let bench = GrpcBench::connect(&server.kv(), &mut pd, &opts)
            .await
            .unwrap();
        let mut bogus = pd
            .context_for(Phase::unary(Operation::RawPut), &opts)
            .await
            .unwrap();
        bogus.region_id += 1_000_000;
        for phase in [
            Phase::unary(Operation::RawPut),
            Phase::batched(Operation::RawPut),
        ] {
            let put = bench.run_phase(phase, bogus.clone()).await;
            assert_eq!((put.ops, put.errors), (200, 200), "{phase:?}");
        }
        // The puts failed, so nothing is there to read.
        let reads = [Operation::RawGet, Operation::RawBatchGet, Operation::TxnGet];
        for phase in reads
            .into_iter()
            .flat_map(|operation| [Phase::unary(operation), Phase::batched(operation)])
        {
            let context = pd.context_for(phase, &opts).await.unwrap();
            let read = bench.run_phase(phase, context).await;
            assert_eq!((read.ops, read.errors), (200, 200), "{phase:?}");
        }
        // Its BatchCommands streams stay open, and the server's graceful shutdown waits for them.
        drop(bench);
        server.shut_down().await;
    }
}
