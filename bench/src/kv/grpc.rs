//! The gRPC side of the KV benchmark: PD lookups, the timestamp clock, and the clients that
//! run each phase against a server, unary or through `BatchCommands`.

use basalt_proto::tikvpb::batch_commands_request::request::Cmd as RequestCmd;
use basalt_proto::tikvpb::batch_commands_response::response::Cmd as ResponseCmd;

use super::batch::BatchClient;
use super::*;

/// The embedded PD of the server, with the cluster id filled into request headers.
pub(super) struct Pd {
    client: PdClient<Channel>,
    header: Option<pdpb::RequestHeader>,
}

impl Pd {
    pub(super) async fn connect(addr: &str) -> Result<Pd, String> {
        let mut client = PdClient::new(connect(addr).await?);
        let members = client
            .get_members(pdpb::GetMembersRequest::default())
            .await
            .map_err(transport("PD GetMembers"))?
            .into_inner();
        check_pd("GetMembers", members.header.as_ref())?;
        let cluster_id = members.header.map_or(0, |header| header.cluster_id);
        let header = Some(pdpb::RequestHeader {
            cluster_id,
            ..Default::default()
        });
        Ok(Pd { client, header })
    }

    /// One timestamp from PD's TSO.
    pub(super) async fn tso(&mut self) -> Result<u64, String> {
        let request = pdpb::TsoRequest {
            header: self.header.clone(),
            count: 1,
            ..Default::default()
        };
        let response = self
            .client
            .tso(futures::stream::iter([request]))
            .await
            .map_err(transport("PD Tso"))?
            .into_inner()
            .message()
            .await
            .map_err(transport("PD Tso"))?
            .ok_or("PD Tso: stream closed without an answer")?;
        check_pd("Tso", response.header.as_ref())?;
        let timestamp = response.timestamp.ok_or("PD Tso: no timestamp")?;
        Ok(((timestamp.physical as u64) << 18) | timestamp.logical as u64)
    }

    /// The request context for every key of `phase`: the region holding its lowest key, which
    /// must also hold its highest.
    pub(super) async fn context_for(
        &mut self,
        phase: Phase,
        opts: &KvOptions,
    ) -> Result<kvrpcpb::Context, String> {
        let (first, last) = phase.region_key_bounds(opts);
        let response = self
            .client
            .get_region(pdpb::GetRegionRequest {
                header: self.header.clone(),
                region_key: first.clone(),
                ..Default::default()
            })
            .await
            .map_err(transport("PD GetRegion"))?
            .into_inner();
        check_pd("GetRegion", response.header.as_ref())?;
        let region = response
            .region
            .ok_or_else(|| format!("PD knows no region for {}", show(&first)))?;
        let peer = response
            .leader
            .ok_or_else(|| format!("PD knows no leader of region {}", region.id))?;
        if !region.end_key.is_empty() && last >= region.end_key {
            return Err(format!(
                "{}: keys {} ..= {} span more than region {} (which ends at {})",
                phase.name(),
                show(&first),
                show(&last),
                region.id,
                show(&region.end_key)
            ));
        }
        Ok(kvrpcpb::Context {
            region_id: region.id,
            region_epoch: region.region_epoch,
            peer: Some(peer),
            ..Default::default()
        })
    }
}

pub(super) fn check_pd(method: &str, header: Option<&pdpb::ResponseHeader>) -> Result<(), String> {
    match header.and_then(|header| header.error.as_ref()) {
        Some(error) if error.r#type != pdpb::ErrorType::Ok as i32 => Err(format!(
            "PD {method}: {} (type {})",
            error.message, error.r#type
        )),
        _ => Ok(()),
    }
}

pub(super) async fn connect(addr: &str) -> Result<Channel, String> {
    let url = if addr.contains("://") {
        addr.to_string()
    } else {
        format!("http://{addr}")
    };
    Endpoint::from_shared(url)
        .map_err(|err| format!("address {addr}: {err}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .connect()
        .await
        .map_err(|err| format!("connecting to {addr}: {err}"))
}

/// Transaction timestamps: a PD TSO answer, then a local counter above it.
pub(super) struct Clock(AtomicU64);

impl Clock {
    pub(super) fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
}

/// What the gRPC phases share: the KV channels, a `BatchCommands` stream on each, and the
/// transaction clock.
pub(super) struct GrpcBench {
    channels: Vec<Channel>,
    streams: Vec<BatchClient>,
    clock: Arc<Clock>,
    opts: KvOptions,
}

impl GrpcBench {
    pub(super) async fn connect(
        kv_addr: &str,
        pd: &mut Pd,
        opts: &KvOptions,
    ) -> Result<GrpcBench, String> {
        let mut channels = Vec::new();
        for _ in 0..workers(opts).min(MAX_CHANNELS) {
            channels.push(connect(kv_addr).await?);
        }
        let mut streams = Vec::new();
        for channel in channels.iter().take(BATCH_STREAMS) {
            streams.push(BatchClient::open(channel.clone(), MAX_BATCH).await?);
        }
        let clock = Arc::new(Clock(AtomicU64::new(pd.tso().await?)));
        Ok(GrpcBench {
            channels,
            streams,
            clock,
            opts: *opts,
        })
    }

    /// Runs every operation of `phase` with `context` on `concurrency` tasks.
    pub(super) async fn run_phase(&self, phase: Phase, context: kvrpcpb::Context) -> KvRow {
        let counts_before = self.message_counts();
        let start = Instant::now();
        let tasks: Vec<_> = (0..workers(&self.opts))
            .map(|worker| {
                let kv = match phase.via {
                    Via::Unary => Kv::Unary(TikvClient::new(
                        self.channels[worker as usize % self.channels.len()].clone(),
                    )),
                    Via::BatchCommands => {
                        Kv::Batch(self.streams[worker as usize % self.streams.len()].clone())
                    }
                };
                let mut client = Client {
                    kv,
                    context: context.clone(),
                    clock: self.clock.clone(),
                    opts: self.opts,
                };
                tokio::spawn(async move {
                    let mut tally = Tally::default();
                    for i in worker_ops(worker, &client.opts) {
                        let started = Instant::now();
                        let outcome = client.run(phase, i).await;
                        tally.record(started.elapsed(), outcome);
                    }
                    tally
                })
            })
            .collect();
        let mut total = Tally::default();
        for (worker, task) in (0..).zip(tasks) {
            let joined = task.await.map_err(|err| format!("worker task: {err}"));
            total.merge_joined(joined, worker_ops(worker, &self.opts).count() as u64);
        }
        let elapsed = start.elapsed();
        if phase.via == Via::BatchCommands {
            let (requests, commands, responses) = self.message_counts();
            let (requests, commands, responses) = (
                requests - counts_before.0,
                commands - counts_before.1,
                responses - counts_before.2,
            );
            eprintln!(
                "{}: {commands} commands in {requests} request messages ({:.1} each) and \
                 {responses} response messages ({:.1} each) over {} streams",
                phase.name(),
                commands as f64 / requests.max(1) as f64,
                commands as f64 / responses.max(1) as f64,
                self.streams.len(),
            );
        }
        total.into_row(&phase.name(), elapsed)
    }

    /// `(request messages, commands, response messages)` over every stream so far.
    fn message_counts(&self) -> (u64, u64, u64) {
        self.streams.iter().fold((0, 0, 0), |sum, stream| {
            let (requests, commands, responses) = stream.counts().get();
            (sum.0 + requests, sum.1 + commands, sum.2 + responses)
        })
    }
}

/// Sends `request` (a `$variant` command) through the client's unary `$method` or its
/// `BatchCommands` stream and evaluates to the answer, returning early with the transport or
/// region error.
macro_rules! call {
    ($client:expr, $method:ident, $variant:ident, $request:expr) => {{
        let response = match &mut $client.kv {
            Kv::Unary(kv) => kv
                .$method($request)
                .await
                .map_err(transport(stringify!($method)))?
                .into_inner(),
            Kv::Batch(stream) => {
                let take = |cmd: ResponseCmd| match cmd {
                    ResponseCmd::$variant(response) => Some(*response),
                    _ => None,
                };
                let cmd = RequestCmd::$variant(Box::new($request));
                stream.call(cmd, take).await?
            }
        };
        check_region(response.region_error.as_ref())?;
        response
    }};
}

/// How a client sends its requests.
enum Kv {
    Unary(TikvClient<Channel>),
    Batch(BatchClient),
}

/// One benchmark client: runs operations and checks their answers.
pub(super) struct Client {
    kv: Kv,
    context: kvrpcpb::Context,
    clock: Arc<Clock>,
    opts: KvOptions,
}

impl Client {
    pub(super) async fn run(&mut self, phase: Phase, i: u64) -> Result<(), String> {
        // The keys and values operation `i` touches (an empty command touches none).
        let opts = self.opts;
        let entries = || -> Vec<(Vec<u8>, Vec<u8>)> {
            phase
                .numbers(i, &opts)
                .into_iter()
                .map(|n| (phase.key(n), value(n, opts.value_size)))
                .collect()
        };
        match phase.operation {
            Operation::Empty => self.empty(i).await,
            Operation::RawPut => self.raw_put(&entries()[0]).await,
            Operation::RawGet => self.raw_get(&entries()[0]).await,
            Operation::RawBatchGet => self.raw_batch_get(&entries()).await,
            Operation::TxnCommit | Operation::TxnCommitWide => self.txn_commit(entries()).await,
            Operation::TxnGet => self.txn_get(&entries()[0]).await,
        }
    }

    /// An `Empty` command through the `BatchCommands` stream; its answer must echo `test_id`.
    async fn empty(&mut self, test_id: u64) -> Result<(), String> {
        let Kv::Batch(stream) = &mut self.kv else {
            return Err("an empty command travels only through BatchCommands".into());
        };
        let request = tikvpb::BatchCommandsEmptyRequest {
            test_id,
            delay_time: 0,
        };
        let take = |cmd: ResponseCmd| match cmd {
            ResponseCmd::Empty(response) => Some(response.test_id),
            _ => None,
        };
        let echoed = stream
            .call(RequestCmd::Empty(Box::new(request)), take)
            .await?;
        if echoed == test_id {
            Ok(())
        } else {
            Err(format!("empty command {test_id} answered as {echoed}"))
        }
    }

    pub(super) fn context(&self) -> Option<kvrpcpb::Context> {
        Some(self.context.clone())
    }

    pub(super) async fn raw_put(
        &mut self,
        (key, value): &(Vec<u8>, Vec<u8>),
    ) -> Result<(), String> {
        let request = kvrpcpb::RawPutRequest {
            context: self.context(),
            key: key.clone(),
            value: value.clone(),
            ..Default::default()
        };
        let response = call!(self, raw_put, RawPut, request);
        check_message(&response.error)
    }

    pub(super) async fn raw_get(
        &mut self,
        (key, value): &(Vec<u8>, Vec<u8>),
    ) -> Result<(), String> {
        let request = kvrpcpb::RawGetRequest {
            context: self.context(),
            key: key.clone(),
            ..Default::default()
        };
        let response = call!(self, raw_get, RawGet, request);
        check_message(&response.error)?;
        let read = (!response.not_found).then_some(response.value.as_slice());
        check_read(key, read, value)
    }

    pub(super) async fn raw_batch_get(
        &mut self,
        entries: &[(Vec<u8>, Vec<u8>)],
    ) -> Result<(), String> {
        let request = kvrpcpb::RawBatchGetRequest {
            context: self.context(),
            keys: entries.iter().map(|(key, _)| key.clone()).collect(),
            ..Default::default()
        };
        let response = call!(self, raw_batch_get, RawBatchGet, request);
        check_pairs(entries, &response.pairs)
    }

    /// Percolator two-phase commit of `entries`, the first key primary.
    pub(super) async fn txn_commit(
        &mut self,
        entries: Vec<(Vec<u8>, Vec<u8>)>,
    ) -> Result<(), String> {
        let keys: Vec<Vec<u8>> = entries.iter().map(|(key, _)| key.clone()).collect();
        let start_ts = self.clock.next();
        let prewrite = kvrpcpb::PrewriteRequest {
            context: self.context(),
            primary_lock: keys[0].clone(),
            txn_size: keys.len() as u64,
            mutations: entries
                .into_iter()
                .map(|(key, value)| kvrpcpb::Mutation {
                    op: kvrpcpb::Op::Put as i32,
                    key,
                    value,
                    ..Default::default()
                })
                .collect(),
            start_version: start_ts,
            lock_ttl: LOCK_TTL_MS,
            ..Default::default()
        };
        let response = call!(self, kv_prewrite, Prewrite, prewrite);
        response
            .errors
            .iter()
            .try_for_each(|error| check_key_error(Some(error)))?;
        let commit = kvrpcpb::CommitRequest {
            context: self.context(),
            start_version: start_ts,
            keys,
            commit_version: self.clock.next(),
            ..Default::default()
        };
        let response = call!(self, kv_commit, Commit, commit);
        check_key_error(response.error.as_ref())
    }

    pub(super) async fn txn_get(
        &mut self,
        (key, value): &(Vec<u8>, Vec<u8>),
    ) -> Result<(), String> {
        let request = kvrpcpb::GetRequest {
            context: self.context(),
            key: key.clone(),
            version: self.clock.next(),
            ..Default::default()
        };
        let response = call!(self, kv_get, Get, request);
        check_key_error(response.error.as_ref())?;
        let read = (!response.not_found).then_some(response.value.as_slice());
        check_read(key, read, value)
    }
}
