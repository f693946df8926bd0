//! An in-process cluster of raft stores for tests: each store has its own RocksDB in a
//! temporary directory, and a network that can drop, delay, duplicate and partition messages
//! between chosen stores, the way TiKV's `test_raftstore` does. Requests go through the real
//! `Storage` over `RaftKv`, as the server's would.
#![allow(dead_code)]

use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use basalt_proto::raft_serverpb::RaftMessage;
use basalt_proto::{eraftpb, metapb};
use basalt_raftstore::pd::{BoxFuture, PdClient, RegionHeartbeat};
use basalt_raftstore::{
    bootstrap_region, Config, Engines, KvRaftLog, RaftKv, RaftRouter, RaftStore, Transport,
};
use basalt_storage::engine::{KvEngine, RocksEngine, RocksOptions, CF_DEFAULT};
use basalt_storage::kv::data_key;
use basalt_storage::{ConcurrencyManager, Error, RequestContext, Storage};
use parking_lot::{Mutex, RwLock};

/// A rule applied to every message between stores.
#[derive(Debug, Clone)]
pub enum Filter {
    /// No message crosses between the two groups.
    Partition(Vec<u64>, Vec<u64>),
    /// Every message is delivered twice.
    Duplicate,
    /// Every message is delayed by a random time up to this, so messages arrive out of order.
    Delay(Duration),
    /// Messages of this type are dropped.
    DropType(eraftpb::MessageType),
    /// Every nth message is dropped.
    DropEvery(u64),
    /// Messages of one region to one store are dropped.
    DropRegion {
        /// The region.
        region_id: u64,
        /// The store that does not hear from it.
        to_store: u64,
    },
}

struct Delayed {
    at: Instant,
    seq: u64,
    to: u64,
    msg: RaftMessage,
}

impl PartialEq for Delayed {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Delayed {}
impl PartialOrd for Delayed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Delayed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // A min-heap on time.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// The stores' network.
#[derive(Clone)]
pub struct Network {
    routers: Arc<RwLock<HashMap<u64, RaftRouter>>>,
    filters: Arc<RwLock<Vec<Filter>>>,
    delayed: Arc<Mutex<BinaryHeap<Delayed>>>,
    counter: Arc<AtomicU64>,
    /// Messages delivered, by type, for assertions.
    pub delivered: Arc<Mutex<HashMap<i32, u64>>>,
}

impl Network {
    fn new() -> Network {
        let net = Network {
            routers: Default::default(),
            filters: Default::default(),
            delayed: Default::default(),
            counter: Default::default(),
            delivered: Default::default(),
        };
        let pump = net.clone();
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(2));
            let now = Instant::now();
            let mut due = Vec::new();
            {
                let mut heap = pump.delayed.lock();
                while heap.peek().is_some_and(|first| first.at <= now) {
                    if let Some(item) = heap.pop() {
                        due.push(item);
                    }
                }
            }
            for item in due {
                pump.hand_over(item.to, item.msg);
            }
            if Arc::strong_count(&pump.routers) == 1 {
                return;
            }
        });
        net
    }

    fn random(&self) -> u64 {
        // xorshift over a counter: enough spread for delays and drops.
        let mut x = self
            .counter
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^ (x >> 33)
    }

    fn hand_over(&self, to: u64, msg: RaftMessage) {
        let router = self.routers.read().get(&to).cloned();
        if let Some(router) = router {
            let kind = msg.message.as_ref().map_or(-1, |m| m.msg_type);
            *self.delivered.lock().entry(kind).or_default() += 1;
            let _ = router.send_raft_message(msg);
        }
    }

    fn deliver(&self, from: u64, msg: RaftMessage) {
        let to = msg.to_peer.map_or(0, |peer| peer.store_id);
        let kind = msg.message.as_ref().map_or(-1, |m| m.msg_type);
        let mut copies = 1;
        let mut delay = Duration::ZERO;
        for filter in self.filters.read().iter() {
            match filter {
                Filter::Partition(a, b) => {
                    let crosses = (a.contains(&from) && b.contains(&to))
                        || (b.contains(&from) && a.contains(&to));
                    if crosses {
                        return;
                    }
                }
                Filter::Duplicate => copies = 2,
                Filter::Delay(max) => {
                    let millis = max.as_millis().max(1) as u64;
                    delay = Duration::from_millis(self.random() % millis);
                }
                Filter::DropType(kind_to_drop) => {
                    if kind == *kind_to_drop as i32 {
                        return;
                    }
                }
                Filter::DropEvery(n) => {
                    if self.random() % n.max(&1) == 0 {
                        return;
                    }
                }
                Filter::DropRegion {
                    region_id,
                    to_store,
                } => {
                    if msg.region_id == *region_id && to == *to_store {
                        return;
                    }
                }
            }
        }
        for _ in 0..copies {
            if delay.is_zero() {
                self.hand_over(to, msg.clone());
            } else {
                let seq = self.counter.fetch_add(1, Ordering::Relaxed);
                self.delayed.lock().push(Delayed {
                    at: Instant::now() + delay,
                    seq,
                    to,
                    msg: msg.clone(),
                });
            }
        }
    }
}

/// One store's end of the network.
#[derive(Clone)]
pub struct StoreTransport {
    from: u64,
    net: Network,
}

impl Transport for StoreTransport {
    fn send(&self, msg: RaftMessage) {
        self.net.deliver(self.from, msg);
    }
}

/// PD for the tests: ids from a counter, reports recorded.
#[derive(Default)]
pub struct TestPd {
    next_id: AtomicU64,
    /// Regions reported by splits.
    pub reported: Mutex<Vec<metapb::Region>>,
    /// The last heartbeat per region.
    pub heartbeats: Mutex<HashMap<u64, RegionHeartbeat>>,
}

impl PdClient for TestPd {
    fn ask_batch_split(
        &self,
        region: metapb::Region,
        count: usize,
    ) -> BoxFuture<basalt_storage::Result<basalt_raftstore::pd::SplitIds>> {
        let ids = (0..count)
            .map(|_| {
                let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1000;
                let peers = region
                    .peers
                    .iter()
                    .map(|_| self.next_id.fetch_add(1, Ordering::Relaxed) + 1000)
                    .collect();
                (id, peers)
            })
            .collect();
        Box::pin(async move { Ok(ids) })
    }

    fn report_batch_split(
        &self,
        regions: Vec<metapb::Region>,
    ) -> BoxFuture<basalt_storage::Result<()>> {
        self.reported.lock().extend(regions);
        Box::pin(async { Ok(()) })
    }

    fn region_heartbeat(
        &self,
        heartbeat: RegionHeartbeat,
    ) -> BoxFuture<basalt_storage::Result<()>> {
        self.heartbeats
            .lock()
            .insert(heartbeat.region.id, heartbeat);
        Box::pin(async { Ok(()) })
    }
}

/// A running store.
pub struct Node {
    store: RaftStore,
    /// Its KV engine.
    pub kv: RocksEngine,
    /// Requests go through this.
    pub storage: Storage<RaftKv<RocksEngine>>,
}

/// The cluster.
pub struct Cluster {
    dirs: HashMap<u64, tempfile::TempDir>,
    /// Running stores.
    pub nodes: HashMap<u64, Node>,
    /// The network.
    pub net: Network,
    /// PD.
    pub pd: Arc<TestPd>,
    /// Store settings.
    pub config: Config,
    /// Runs requests and PD tasks.
    pub runtime: tokio::runtime::Runtime,
}

/// Fast settings for tests: 20 ms ticks.
pub fn test_config() -> Config {
    Config {
        tick_interval: Duration::from_millis(20),
        election_ticks: 10,
        heartbeat_ticks: 2,
        read_timeout: Duration::from_secs(2),
        log_gc_ticks: 10,
        split_check_ticks: 10,
        // A region written to is measured again after 1 s (the default, 600 ticks, would be
        // 12 s here: longer than tests wait for PD to hear a new size).
        size_check_ticks: 50,
        pd_heartbeat_ticks: 10,
        ..Config::default()
    }
}

impl Cluster {
    /// `count` stores (ids 1..=count); region 1 covers every key with a voter on each of the
    /// first `voters` stores (peer id = store id).
    pub fn new(count: u64, voters: u64, config: Config) -> Cluster {
        if let Ok(filter) = std::env::var("RUST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let mut cluster = Cluster {
            dirs: HashMap::new(),
            nodes: HashMap::new(),
            net: Network::new(),
            pd: Arc::new(TestPd::default()),
            config,
            runtime,
        };
        let region = metapb::Region {
            id: 1,
            region_epoch: Some(metapb::RegionEpoch {
                conf_ver: 1,
                version: 1,
            }),
            peers: (1..=voters)
                .map(|id| metapb::Peer {
                    id,
                    store_id: id,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        for store_id in 1..=count {
            let dir = tempfile::tempdir().expect("tempdir");
            if store_id <= voters {
                let kv = open(dir.path());
                let engines = Engines {
                    kv: kv.clone(),
                    raft: KvRaftLog::new(kv),
                };
                bootstrap_region(&engines, &region).expect("bootstrap");
            }
            cluster.dirs.insert(store_id, dir);
            cluster.start(store_id);
        }
        cluster
    }

    /// Starts (or restarts) store `store_id` on its directory.
    pub fn start(&mut self, store_id: u64) {
        let kv = open(self.dirs[&store_id].path());
        let engines = Engines {
            kv: kv.clone(),
            raft: KvRaftLog::new(kv.clone()),
        };
        let transport = StoreTransport {
            from: store_id,
            net: self.net.clone(),
        };
        let pd: Arc<dyn PdClient> = self.pd.clone();
        let store = RaftStore::start(
            store_id,
            engines,
            transport,
            self.config.clone(),
            Some(pd),
            Some(self.runtime.handle().clone()),
        )
        .expect("start store");
        let raftkv = RaftKv::new(store.router().clone(), kv.clone(), store.meta().clone());
        let storage = Storage::new(raftkv, ConcurrencyManager::new(1));
        self.net
            .routers
            .write()
            .insert(store_id, store.router().clone());
        self.nodes.insert(store_id, Node { store, kv, storage });
    }

    /// Stops store `store_id` (its data stays).
    pub fn stop(&mut self, store_id: u64) {
        self.net.routers.write().remove(&store_id);
        if let Some(node) = self.nodes.remove(&store_id) {
            node.store.shutdown();
        }
    }

    /// Adds a network rule.
    pub fn add_filter(&self, filter: Filter) {
        self.net.filters.write().push(filter);
    }

    /// Removes every network rule.
    pub fn clear_filters(&self) {
        self.net.filters.write().clear();
    }

    /// The region holding `key` as the store with the newest view of it knows it.
    pub fn region_of(&self, key: &[u8]) -> Option<metapb::Region> {
        self.nodes
            .values()
            .filter_map(|node| node.store.meta().read().region_by_key(key).cloned())
            .max_by_key(|region| {
                let epoch = region.region_epoch.unwrap_or_default();
                (epoch.version, epoch.conf_ver)
            })
    }

    /// Every region some store hosts, newest view of each.
    pub fn regions(&self) -> Vec<metapb::Region> {
        let mut by_id: HashMap<u64, metapb::Region> = HashMap::new();
        for node in self.nodes.values() {
            for region in node.store.meta().read().regions.values() {
                let newer = by_id.get(&region.id).is_none_or(|known| {
                    let (a, b) = (
                        known.region_epoch.unwrap_or_default(),
                        region.region_epoch.unwrap_or_default(),
                    );
                    (b.version, b.conf_ver) > (a.version, a.conf_ver)
                });
                if newer {
                    by_id.insert(region.id, region.clone());
                }
            }
        }
        let mut regions: Vec<_> = by_id.into_values().collect();
        regions.sort_by(|a, b| a.start_key.cmp(&b.start_key));
        regions
    }

    /// The request context for `region` on `store_id`.
    pub fn ctx(&self, region: &metapb::Region, store_id: u64) -> RequestContext {
        RequestContext {
            region_id: region.id,
            region_epoch: region.region_epoch,
            peer: region
                .peers
                .iter()
                .find(|p| p.store_id == store_id)
                .copied(),
            ..Default::default()
        }
    }

    /// The store whose peer leads `region_id`, found by asking each store.
    pub fn leader_of(&self, key: &[u8]) -> Option<u64> {
        let region = self.region_of(key)?;
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for store_id in ids {
            let ctx = self.ctx(&region, store_id);
            let node = &self.nodes[&store_id];
            let result = self
                .runtime
                .block_on(node.storage.raw_get(&ctx, "", key.to_vec()));
            if result.is_ok() {
                return Some(store_id);
            }
        }
        None
    }

    /// Puts through whichever store leads the key's region, retrying for `within`.
    pub fn put(&self, key: &[u8], value: &[u8], within: Duration) -> Result<u64, String> {
        let deadline = Instant::now() + within;
        let mut last = String::new();
        while Instant::now() < deadline {
            let Some(region) = self.region_of(key) else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            let mut ids: Vec<u64> = self.nodes.keys().copied().collect();
            ids.sort_unstable();
            for store_id in ids {
                let ctx = self.ctx(&region, store_id);
                let storage = &self.nodes[&store_id].storage;
                let result = self.runtime.block_on(async {
                    tokio::time::timeout(
                        Duration::from_secs(3),
                        storage.raw_put(&ctx, "", vec![(key.to_vec(), value.to_vec())], &[]),
                    )
                    .await
                });
                match result {
                    Ok(Ok(())) => return Ok(store_id),
                    Ok(Err(err)) => last = err.to_string(),
                    Err(_) => last = "timed out".into(),
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(last)
    }

    /// Reads through `store_id` (its leader or, with `replica_read`, any peer).
    pub fn get(
        &self,
        store_id: u64,
        key: &[u8],
        replica_read: bool,
    ) -> Result<Option<Vec<u8>>, Error> {
        let region = self
            .region_of(key)
            .ok_or_else(|| Error::Engine("no region".into()))?;
        let mut ctx = self.ctx(&region, store_id);
        ctx.replica_read = replica_read;
        let node = self
            .nodes
            .get(&store_id)
            .ok_or_else(|| Error::Engine("store is down".into()))?;
        self.runtime
            .block_on(node.storage.raw_get(&ctx, "", key.to_vec()))
    }

    /// What store `store_id`'s engine holds for raw key `key`, read directly (no raft).
    pub fn local(&self, store_id: u64, key: &[u8]) -> Option<Vec<u8>> {
        self.nodes[&store_id]
            .kv
            .get_cf(CF_DEFAULT, &data_key(key))
            .ok()
            .flatten()
    }

    /// Waits until store `store_id` holds `value` (or nothing) for `key`.
    pub fn wait_local(
        &self,
        store_id: u64,
        key: &[u8],
        value: Option<&[u8]>,
        within: Duration,
    ) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.local(store_id, key).as_deref() == value {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Proposes an admin command to the leader of `key`'s region and waits for it to apply.
    pub fn admin(
        &self,
        key: &[u8],
        fill: impl Fn(&mut basalt_proto::raft_cmdpb::AdminRequest),
        kind: basalt_proto::raft_cmdpb::AdminCmdType,
        within: Duration,
    ) -> Result<metapb::Region, String> {
        let deadline = Instant::now() + within;
        let mut last = String::new();
        while Instant::now() < deadline {
            let (Some(region), Some(leader)) = (self.region_of(key), self.leader_of(key)) else {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            };
            let mut admin = basalt_proto::raft_cmdpb::AdminRequest {
                cmd_type: kind as i32,
                ..Default::default()
            };
            fill(&mut admin);
            let cmd = basalt_proto::raft_cmdpb::RaftCmdRequest {
                header: Some(basalt_proto::raft_cmdpb::RaftRequestHeader {
                    region_id: region.id,
                    region_epoch: region.region_epoch,
                    ..Default::default()
                }),
                admin_request: Some(admin),
                ..Default::default()
            };
            let (tx, rx) = std::sync::mpsc::channel();
            let sent = self.nodes[&leader].store.router().send_command(
                cmd,
                Box::new(move |outcome| {
                    let _ = tx.send(
                        outcome
                            .map(|outcome| outcome.region)
                            .map_err(|err| err.to_string()),
                    );
                }),
            );
            if let Err(err) = sent {
                last = err.to_string();
                continue;
            }
            match rx.recv_timeout(Duration::from_secs(5)) {
                Ok(Ok(region)) => return Ok(region),
                Ok(Err(err)) => last = err,
                Err(_) => last = "timed out".into(),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(last)
    }

    /// Asks the peer of `region_id` on `from_store` to hand leadership to the one on
    /// `to_store`, and waits until the store leading `key`'s region is `to_store`.
    pub fn transfer_leader(&self, key: &[u8], to_store: u64, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let (Some(region), Some(leader)) = (self.region_of(key), self.leader_of(key)) else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            if leader == to_store {
                return true;
            }
            if let Some(to) = region.peers.iter().find(|p| p.store_id == to_store) {
                let _ = self.nodes[&leader].store.router().send(
                    region.id,
                    basalt_raftstore::msg::PeerMsg::TransferLeader(*to),
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Splits `key`'s region at `key` into a new region `new_region_id` whose peer on store
    /// `s` has id `new_region_id + s`.
    pub fn split(&self, key: &[u8], new_region_id: u64, within: Duration) -> Result<(), String> {
        let region = self.region_of(key).ok_or("no region")?;
        let peer_ids: Vec<u64> = region
            .peers
            .iter()
            .map(|peer| new_region_id + peer.store_id)
            .collect();
        self.admin(
            key,
            |admin| {
                admin.splits = Some(basalt_proto::raft_cmdpb::BatchSplitRequest {
                    requests: vec![basalt_proto::raft_cmdpb::SplitRequest {
                        split_key: key.to_vec(),
                        new_region_id,
                        new_peer_ids: peer_ids.clone(),
                        ..Default::default()
                    }],
                    ..Default::default()
                })
            },
            basalt_proto::raft_cmdpb::AdminCmdType::BatchSplit,
            within,
        )
        .map(|_| ())
    }

    /// The region state store `store_id` recorded for `region_id`.
    pub fn region_state(
        &self,
        store_id: u64,
        region_id: u64,
    ) -> Option<basalt_proto::raft_serverpb::RegionLocalState> {
        use prost::Message as _;
        let bytes = self.nodes[&store_id]
            .kv
            .get_cf(
                basalt_storage::engine::CF_RAFT,
                &basalt_raftstore::keys::region_state_key(region_id),
            )
            .ok()
            .flatten()?;
        basalt_proto::raft_serverpb::RegionLocalState::decode(bytes.as_slice()).ok()
    }

    /// Which stores host a peer of `region_id`.
    pub fn stores_of(&self, region_id: u64) -> HashSet<u64> {
        self.nodes
            .iter()
            .filter(|(_, node)| node.store.meta().read().regions.contains_key(&region_id))
            .map(|(id, _)| *id)
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for id in ids {
            self.stop(id);
        }
    }
}

fn open(path: &std::path::Path) -> RocksEngine {
    RocksEngine::open(
        path,
        &RocksOptions {
            block_cache_bytes: 8 << 20,
            ..Default::default()
        },
    )
    .expect("open rocksdb")
}
