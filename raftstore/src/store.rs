//! A store: the peers it hosts, the poller threads that drive them (the back half of the batch
//! system), the ticker, and the store thread that creates peers for regions it learns of from
//! raft messages.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use basalt_proto::metapb;
use basalt_proto::raft_serverpb::{PeerState, RaftMessage, RegionLocalState};
use basalt_storage::engine::{
    EngineIterator, IterOptions, KvEngine, Modify, Snapshot, CF_DEFAULT, CF_RAFT, CF_WRITE,
};
use basalt_storage::{Error, Result};
use crossbeam_channel::Receiver;
use parking_lot::{Mutex, RwLock};
use prost::Message as _;

use crate::keys;
use crate::log_store::{LogBatch, RaftLogStore};
use crate::msg::PeerMsg;
use crate::pd::{PdClient, RegionHeartbeat};
use crate::peer::Peer;
use crate::peer_storage::{
    apply_state_modify, initial_apply_state, initial_raft_state, read_record, region_state_modify,
    Engines,
};
use crate::router::{RaftRouter, StoreMsg};
use crate::snapshot::{data_range, DATA_CFS};
use crate::transport::Transport;
use crate::Config;

/// What the store knows about its regions, shared with the request path.
#[derive(Debug, Default)]
pub struct StoreMeta {
    /// This store.
    pub store_id: u64,
    /// Initialized regions hosted here, by id.
    pub regions: HashMap<u64, metapb::Region>,
    /// The same regions by end key, to find a key's region; the region with an empty end key
    /// (unbounded) is found by its start key alone.
    ranges: BTreeMap<Vec<u8>, u64>,
    /// The region whose end key is empty, if hosted.
    last: Option<u64>,
}

impl StoreMeta {
    fn set(&mut self, region: &metapb::Region) {
        self.remove(region.id);
        self.regions.insert(region.id, region.clone());
        if region.end_key.is_empty() {
            self.last = Some(region.id);
        } else {
            self.ranges.insert(region.end_key.clone(), region.id);
        }
    }

    fn remove(&mut self, region_id: u64) {
        let Some(old) = self.regions.remove(&region_id) else {
            return;
        };
        if old.end_key.is_empty() {
            if self.last == Some(region_id) {
                self.last = None;
            }
        } else if self.ranges.get(&old.end_key) == Some(&region_id) {
            self.ranges.remove(&old.end_key);
        }
    }

    /// The hosted region holding `key` (stored form).
    pub fn region_by_key(&self, key: &[u8]) -> Option<&metapb::Region> {
        let id = self
            .ranges
            .range::<[u8], _>((std::ops::Bound::Excluded(key), std::ops::Bound::Unbounded))
            .next()
            .map(|(_, id)| *id)
            .or(self.last)?;
        let region = self.regions.get(&id)?;
        (key >= region.start_key.as_slice()).then_some(region)
    }

    /// Whether `[start, end)` overlaps a hosted region other than `except`.
    pub fn overlaps(&self, start: &[u8], end: &[u8], except: u64) -> bool {
        self.regions.values().any(|region| {
            region.id != except
                && (end.is_empty() || region.start_key.as_slice() < end)
                && (region.end_key.is_empty() || start < region.end_key.as_slice())
        })
    }
}

type SharedFsm<K, L> = Arc<Mutex<PeerFsm<K, L>>>;

struct PeerFsm<K: KvEngine, L: RaftLogStore> {
    peer: Peer<K, L>,
    rx: Receiver<PeerMsg>,
}

/// Everything the pollers share.
pub struct StoreContext<K: KvEngine, L: RaftLogStore, T: Transport> {
    /// This store.
    pub store_id: u64,
    /// The engines.
    pub engines: Engines<K, L>,
    /// Outgoing raft messages.
    pub transport: T,
    /// The mailboxes.
    pub router: RaftRouter,
    /// Settings.
    pub config: Config,
    /// Hosted regions.
    pub meta: Arc<RwLock<StoreMeta>>,
    pd: Option<Arc<dyn PdClient>>,
    runtime: Option<tokio::runtime::Handle>,
    peers: RwLock<HashMap<u64, SharedFsm<K, L>>>,
    /// Serializes peer creation between the store thread (peers for messages) and pollers
    /// (peers for splits), so neither replaces a peer the other just created.
    creation: Mutex<()>,
}

impl<K: KvEngine, L: RaftLogStore, T: Transport> StoreContext<K, L, T> {
    /// Records `region`'s new shape.
    pub fn update_region(&self, region: &metapb::Region) {
        self.meta.write().set(region);
    }

    /// Whether an initialized peer of `region_id` is hosted here.
    pub fn has_initialized(&self, region_id: u64) -> bool {
        self.meta.read().regions.contains_key(&region_id)
    }

    /// Whether a snapshot message may be applied by the peer of `region_id`: its region must
    /// not overlap another hosted region.
    pub fn snapshot_fits(&self, region_id: u64, message: &basalt_proto::eraftpb::Message) -> bool {
        let Some(snapshot) = &message.snapshot else {
            return false;
        };
        // Checked in full before raft sees it: raft takes a snapshot it was handed as installed.
        let region = match crate::snapshot::decode(region_id, &snapshot.data) {
            Ok(decoded) => decoded.region,
            Err(err) => {
                tracing::warn!(region_id, %err, "dropping a snapshot that does not decode");
                return false;
            }
        };
        let fits = region.id == region_id
            && !self
                .meta
                .read()
                .overlaps(&region.start_key, &region.end_key, region_id);
        if !fits {
            tracing::info!(region_id, "dropping a snapshot overlapping another region");
        }
        fits
    }

    /// Tells peer `to` that it is no longer part of `region`.
    pub fn send_tombstone(&self, region: &metapb::Region, from: &metapb::Peer, to: metapb::Peer) {
        self.transport.send(RaftMessage {
            region_id: region.id,
            from_peer: Some(*from),
            to_peer: Some(to),
            region_epoch: region.region_epoch,
            is_tombstone: true,
            message: Some(Default::default()),
            ..Default::default()
        });
    }

    /// Writes the raft and apply states of regions a split creates.
    pub fn write_initial_states(&self, regions: &[metapb::Region]) -> Result<()> {
        if regions.is_empty() {
            return Ok(());
        }
        let mut batch = LogBatch::synced();
        let mut modifies = Vec::new();
        for region in regions {
            let mut state = initial_raft_state();
            // A peer created earlier by a message may have voted: keep its term and vote.
            if let Some(existing) = self.engines.raft.raft_state(region.id)? {
                if let (Some(hard), Some(old)) = (state.hard_state.as_mut(), existing.hard_state) {
                    if old.term > hard.term {
                        hard.term = old.term;
                        hard.vote = old.vote;
                    }
                }
            }
            batch.put_raft_state(region.id, &state);
            modifies.push(apply_state_modify(region.id, &initial_apply_state()));
        }
        self.engines.raft.write(batch)?;
        self.engines.kv.write(&modifies, true)
    }

    /// Creates the peers of regions a split produced; they campaign at once if the split
    /// region's peer here led it.
    pub fn create_split_peers(&self, regions: Vec<metapb::Region>, campaign: bool) {
        let _creating = self.creation.lock();
        for region in regions {
            let Some(meta) = region
                .peers
                .iter()
                .find(|p| p.store_id == self.store_id)
                .copied()
            else {
                continue;
            };
            // An uninitialized peer created by a message gives way.
            self.peers.write().remove(&region.id);
            match self.add_peer(region.clone(), meta) {
                Ok(()) => {
                    self.update_region(&region);
                    if campaign {
                        let _ = self.router.send(region.id, PeerMsg::Campaign);
                    }
                }
                Err(err) => {
                    tracing::error!(region_id = region.id, %err, "creating a split peer failed")
                }
            }
        }
    }

    fn add_peer(&self, region: metapb::Region, meta: metapb::Peer) -> Result<()> {
        let region_id = region.id;
        let peer = Peer::open(self.engines.clone(), region, meta, &self.config)?;
        let rx = self.router.register(region_id);
        self.peers
            .write()
            .insert(region_id, Arc::new(Mutex::new(PeerFsm { peer, rx })));
        Ok(())
    }

    /// Measures the leader `peer`'s region off the poller thread when it is due (its size was
    /// never measured, ≥ 1/8 of the split size was written since the last check, or it was
    /// written to and `size_check_ticks` passed); past the split size, finds a middle key and
    /// asks PD for ids. The answer comes back as `PeerMsg::Split`.
    pub fn maybe_check_size(&self, peer: &mut Peer<K, L>) {
        let (Some(pd), Some(runtime)) = (self.pd.clone(), self.runtime.clone()) else {
            return;
        };
        let written = peer.written_since_check;
        let due = peer.approximate.is_none()
            || written >= self.config.region_split_size / 8
            || (written > 0 && peer.ticks - peer.size_checked_at >= self.config.size_check_ticks);
        if peer.splitting || !due || peer.is_merging() {
            return;
        }
        peer.written_since_check = 0;
        peer.size_checked_at = peer.ticks;
        peer.splitting = true;
        let region = peer.region().clone();
        let kv = self.engines.kv.clone();
        let router = self.router.clone();
        let split_size = self.config.region_split_size;
        let split_keys = self.config.region_split_keys;
        runtime.spawn(async move {
            let region_id = region.id;
            let epoch = region.region_epoch.unwrap_or_default();
            let checked = tokio::task::spawn_blocking(move || {
                check_region(&kv.snapshot(), &region, split_size, split_keys)
                    .map(|size| (size, region))
            })
            .await;
            let (approximate, splits) = match checked {
                Ok(Ok((size, region))) => {
                    let splits = match size.split_key {
                        Some(key) => match pd.ask_batch_split(region, 1).await {
                            Ok(ids) => ids
                                .into_iter()
                                .take(1)
                                .map(|(id, peers)| (key.clone(), id, peers))
                                .collect(),
                            Err(err) => {
                                tracing::warn!(region_id, %err, "PD refused split ids");
                                Vec::new()
                            }
                        },
                        None => Vec::new(),
                    };
                    (Some((size.bytes, size.keys)), splits)
                }
                Ok(Err(err)) => {
                    tracing::warn!(region_id, %err, "size check failed");
                    (None, Vec::new())
                }
                Err(err) => {
                    tracing::warn!(region_id, %err, "size check task failed");
                    (None, Vec::new())
                }
            };
            let _ = router.send(
                region_id,
                PeerMsg::Split {
                    region_epoch: epoch,
                    splits,
                    approximate,
                },
            );
        });
    }

    /// Records a merge: `target` now covers the range of `source_id`, which is gone.
    pub fn merge_regions(&self, target: &metapb::Region, source_id: u64) {
        let mut meta = self.meta.write();
        meta.remove(source_id);
        meta.set(target);
    }

    /// Tells the local peer of `source_id` that it was merged into `target_id`; a source with
    /// no running peer here only leaves its raft log behind, which is cleaned now.
    pub fn retire_merged_source(&self, source_id: u64, target_id: u64) {
        if self
            .router
            .send(source_id, PeerMsg::MergedInto(target_id))
            .is_ok()
        {
            return;
        }
        let mut batch = LogBatch::default();
        batch.clean(source_id);
        if let Err(err) = self.engines.raft.write(batch) {
            tracing::warn!(region_id = source_id, %err, "cleaning a merged region's log failed");
        }
    }

    /// Reports a split's regions to PD.
    pub fn report_split(&self, regions: Vec<metapb::Region>) {
        if let (Some(pd), Some(runtime)) = (self.pd.clone(), self.runtime.as_ref()) {
            runtime.spawn(async move {
                if let Err(err) = pd.report_batch_split(regions).await {
                    tracing::warn!(%err, "reporting a split to PD failed");
                }
            });
        }
    }

    /// Sends the leader `peer`'s region heartbeat to PD.
    pub fn heartbeat_pd(&self, peer: &Peer<K, L>) {
        let (Some(pd), Some(runtime)) = (self.pd.clone(), self.runtime.as_ref()) else {
            return;
        };
        // Until the region is measured, PD hears the split size: it must not take an unmeasured
        // region for an empty one and merge it.
        let (approximate_size, approximate_keys) = peer
            .approximate
            .unwrap_or((self.config.region_split_size, self.config.region_split_keys));
        let heartbeat = RegionHeartbeat {
            region: peer.region().clone(),
            leader: peer.meta,
            term: peer.raft.raft.term,
            down_peers: peer.down_peers(self.config.down_peer_after),
            pending_peers: peer.pending_peers(),
            approximate_size,
            approximate_keys,
        };
        runtime.spawn(async move {
            if let Err(err) = pd.region_heartbeat(heartbeat).await {
                tracing::debug!(%err, "region heartbeat failed");
            }
        });
    }

    fn destroy(&self, peer: &mut Peer<K, L>) {
        let region = peer.region().clone();
        let region_id = region.id;
        peer.fail_all(|| crate::errors::region_not_found(region_id));
        let mut modifies = vec![Modify::Delete(CF_RAFT, keys::apply_state_key(region_id))];
        if !peer.merged {
            // A merged region's tombstone (with its merge state) was written by the target,
            // which owns the data now.
            modifies.push(region_state_modify(&region, PeerState::Tombstone));
        }
        if peer.raft.store().is_initialized() && !peer.merged {
            let (start, end) = data_range(&region);
            for cf in DATA_CFS {
                modifies.push(Modify::DeleteRange(cf, start.clone(), end.clone()));
            }
        }
        if let Err(err) = self.engines.kv.write(&modifies, true) {
            tracing::error!(region_id, %err, "destroying a peer failed");
            return;
        }
        let mut batch = LogBatch::default();
        batch.clean(region_id);
        if let Err(err) = self.engines.raft.write(batch) {
            tracing::error!(region_id, %err, "cleaning a destroyed peer's log failed");
        }
        self.router.unregister(region_id);
        self.meta.write().remove(region_id);
        self.peers.write().remove(&region_id);
        tracing::info!(region_id, peer_id = peer.meta.id, "peer destroyed");
    }

    /// Creates an uninitialized peer for a raft message about a region unknown here, when
    /// the message may start a peer (the leader's first heartbeat, a vote, a snapshot).
    fn maybe_create_peer(&self, msg: &RaftMessage) -> Result<bool> {
        let (Some(to), Some(message)) = (msg.to_peer, msg.message.as_ref()) else {
            return Ok(false);
        };
        if to.store_id != self.store_id || msg.is_tombstone {
            return Ok(false);
        }
        use basalt_proto::eraftpb::MessageType;
        let starts = [
            MessageType::MsgRequestVote,
            MessageType::MsgRequestPreVote,
            MessageType::MsgHeartbeat,
            MessageType::MsgAppend,
            MessageType::MsgSnapshot,
        ];
        if !starts.iter().any(|kind| *kind as i32 == message.msg_type) {
            return Ok(false);
        }
        let state: Option<RegionLocalState> = read_record(
            &self.engines.kv,
            &keys::region_state_key(msg.region_id),
            "region state",
        )?;
        if let Some(state) = state {
            let old_epoch = state
                .region
                .and_then(|region| region.region_epoch)
                .unwrap_or_default();
            let new_epoch = msg.region_epoch.unwrap_or_default();
            if state.state == PeerState::Tombstone as i32
                && new_epoch.conf_ver <= old_epoch.conf_ver
            {
                return Ok(false);
            }
        }
        if self
            .meta
            .read()
            .overlaps(&msg.start_key, &msg.end_key, msg.region_id)
            && !(msg.start_key.is_empty() && msg.end_key.is_empty())
        {
            return Ok(false);
        }
        let _creating = self.creation.lock();
        if self.peers.read().contains_key(&msg.region_id) {
            // Created meanwhile (by a split).
            return Ok(true);
        }
        let region = metapb::Region {
            id: msg.region_id,
            ..Default::default()
        };
        self.add_peer(region, to)?;
        tracing::info!(
            region_id = msg.region_id,
            peer_id = to.id,
            "created a peer for a new region"
        );
        Ok(true)
    }
}

/// What a size check of a region found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionSize {
    /// Bytes of keys and values in the write and default column families.
    pub bytes: u64,
    /// Keys: the write column family's for transactional data, else the default one's.
    pub keys: u64,
    /// The middle key (stored form) once the region holds more than the split size or keys.
    pub split_key: Option<Vec<u8>>,
}

/// One column family's bytes and keys in a range, with the running size at each key when
/// `marks` is asked for (to find a middle key).
struct CfScan {
    bytes: u64,
    keys: u64,
    marks: Vec<(u64, Vec<u8>)>,
}

fn scan_cf<S: Snapshot>(
    snapshot: &S,
    cf: &'static str,
    (start, end): (&[u8], &[u8]),
    marks: bool,
) -> Result<CfScan> {
    let mut out = CfScan {
        bytes: 0,
        keys: 0,
        marks: Vec::new(),
    };
    let mut iter = snapshot.iterator_cf(cf, IterOptions::bounded(start, end))?;
    let mut valid = iter.seek_to_first()?;
    while valid {
        out.bytes += (iter.key().len() + iter.value().len()) as u64;
        out.keys += 1;
        if marks {
            out.marks
                .push((out.bytes, iter.key().get(1..).unwrap_or_default().to_vec()));
        }
        valid = iter.next()?;
    }
    Ok(out)
}

/// Measures `region`'s data and, once it holds more than `split_size` bytes or `split_keys`
/// keys, finds its middle key. Transactional data splits between user keys (the write column
/// family's keys without their timestamp); raw data between keys.
pub fn check_region<S: Snapshot>(
    snapshot: &S,
    region: &metapb::Region,
    split_size: u64,
    split_keys: u64,
) -> Result<RegionSize> {
    let (start, end) = data_range(region);
    let write = scan_cf(snapshot, CF_WRITE, (&start, &end), true)?;
    let default = scan_cf(snapshot, CF_DEFAULT, (&start, &end), write.keys == 0)?;
    let (basis, transactional) = if write.keys > 0 {
        (&write, true)
    } else {
        (&default, false)
    };
    let mut split_key = None;
    if !basis.marks.is_empty() && (basis.bytes >= split_size || basis.keys >= split_keys) {
        let half = basis.bytes / 2;
        let at = basis
            .marks
            .partition_point(|(running, _)| *running < half)
            .min(basis.marks.len() - 1);
        let mut key = basis.marks[at].1.clone();
        if transactional && key.len() > 8 {
            key.truncate(key.len() - 8);
        }
        split_key = Some(key).filter(|key| {
            key.as_slice() > region.start_key.as_slice()
                && (region.end_key.is_empty() || key.as_slice() < region.end_key.as_slice())
        });
    }
    Ok(RegionSize {
        bytes: write.bytes + default.bytes,
        keys: basis.keys,
        split_key,
    })
}

/// Writes the states of `region`, the first region of a new cluster, hosted here.
pub fn bootstrap_region<K: KvEngine, L: RaftLogStore>(
    engines: &Engines<K, L>,
    region: &metapb::Region,
) -> Result<()> {
    let mut batch = LogBatch::synced();
    batch.put_raft_state(region.id, &initial_raft_state());
    engines.raft.write(batch)?;
    engines.kv.write(
        &[
            apply_state_modify(region.id, &initial_apply_state()),
            region_state_modify(region, PeerState::Normal),
        ],
        true,
    )
}

/// Every region state recorded in `kv` that is not a tombstone.
pub fn load_regions<K: KvEngine>(kv: &K) -> Result<Vec<metapb::Region>> {
    let (start, end) = keys::region_state_range();
    let snapshot = kv.snapshot();
    let mut iter = snapshot.iterator_cf(CF_RAFT, IterOptions::bounded(&start, &end))?;
    let mut out = Vec::new();
    let mut valid = iter.seek_to_first()?;
    while valid {
        if keys::region_id_of_state_key(iter.key()).is_some() {
            let state = RegionLocalState::decode(iter.value())
                .map_err(|err| Error::Corrupted(format!("region state: {err}")))?;
            if state.state != PeerState::Tombstone as i32 {
                if let Some(region) = state.region {
                    out.push(region);
                }
            }
        }
        valid = iter.next()?;
    }
    Ok(out)
}

/// A running store; dropping it does not stop it, `shutdown` does.
pub struct RaftStore {
    router: RaftRouter,
    meta: Arc<RwLock<StoreMeta>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl RaftStore {
    /// Starts store `store_id` on `engines`: loads its peers, starts the pollers, the ticker
    /// and the store thread. `pd` and `runtime` drive splits and heartbeats (optional).
    pub fn start<K: KvEngine, L: RaftLogStore, T: Transport>(
        store_id: u64,
        engines: Engines<K, L>,
        transport: T,
        config: Config,
        pd: Option<Arc<dyn PdClient>>,
        runtime: Option<tokio::runtime::Handle>,
    ) -> Result<RaftStore> {
        let (schedule_tx, schedule_rx) = crossbeam_channel::unbounded();
        let (store_tx, store_rx) = crossbeam_channel::unbounded();
        let router = RaftRouter::new(config.mailbox_capacity, schedule_tx, store_tx);
        let meta = Arc::new(RwLock::new(StoreMeta {
            store_id,
            ..Default::default()
        }));
        let ctx = Arc::new(StoreContext {
            store_id,
            engines: engines.clone(),
            transport,
            router: router.clone(),
            config: config.clone(),
            meta: meta.clone(),
            pd,
            runtime,
            peers: RwLock::new(HashMap::new()),
            creation: Mutex::new(()),
        });
        for region in load_regions(&engines.kv)? {
            let Some(peer) = region
                .peers
                .iter()
                .find(|p| p.store_id == store_id)
                .copied()
            else {
                continue;
            };
            ctx.add_peer(region.clone(), peer)?;
            ctx.update_region(&region);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for i in 0..config.poll_threads.max(1) {
            let ctx = ctx.clone();
            let rx = schedule_rx.clone();
            let stop = stop.clone();
            threads.push(spawn(format!("raft-poll-{i}"), move || {
                poll_loop(&ctx, &rx, &stop)
            })?);
        }
        {
            let router = router.clone();
            let stop = stop.clone();
            let interval = config.tick_interval;
            threads.push(spawn("raft-tick".into(), move || {
                while !stop.load(Ordering::Acquire) {
                    std::thread::sleep(interval);
                    router.tick_all();
                }
            })?);
        }
        {
            let ctx = ctx.clone();
            let stop = stop.clone();
            threads.push(spawn("raft-store".into(), move || {
                while !stop.load(Ordering::Acquire) {
                    let Ok(msg) = store_rx.recv_timeout(Duration::from_millis(100)) else {
                        continue;
                    };
                    let StoreMsg::RaftMessage(msg) = msg;
                    let region_id = msg.region_id;
                    if ctx.router.mailbox(region_id).is_none() {
                        match ctx.maybe_create_peer(&msg) {
                            Ok(true) => {}
                            Ok(false) => continue,
                            Err(err) => {
                                tracing::warn!(region_id, %err, "creating a peer failed");
                                continue;
                            }
                        }
                    }
                    let _ = ctx.router.send(region_id, PeerMsg::Raft(msg));
                }
            })?);
        }
        Ok(RaftStore {
            router,
            meta,
            stop,
            threads,
        })
    }

    /// The router of this store's peers.
    pub fn router(&self) -> &RaftRouter {
        &self.router
    }

    /// The regions hosted here.
    pub fn meta(&self) -> &Arc<RwLock<StoreMeta>> {
        &self.meta
    }

    /// Stops the threads and waits for them.
    pub fn shutdown(mut self) {
        self.stop.store(true, Ordering::Release);
        // Wake the pollers: a schedule of region 0 is ignored.
        for _ in 0..self.threads.len() {
            self.router.notify(0, &AtomicBool::new(false));
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn spawn(name: String, body: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name)
        .spawn(body)
        .map_err(|err| Error::Engine(format!("starting a raft thread: {err}")))
}

/// Messages a poller drains from one mailbox per round.
const MESSAGES_PER_ROUND: usize = 256;
/// Regions a poller takes per round.
const REGIONS_PER_ROUND: usize = 64;

fn poll_loop<K: KvEngine, L: RaftLogStore, T: Transport>(
    ctx: &StoreContext<K, L, T>,
    schedule: &Receiver<u64>,
    stop: &AtomicBool,
) {
    while let Ok(first) = schedule.recv() {
        if stop.load(Ordering::Acquire) {
            return;
        }
        let mut ids = vec![first];
        while ids.len() < REGIONS_PER_ROUND {
            match schedule.try_recv() {
                Ok(id) => ids.push(id),
                Err(_) => break,
            }
        }
        let fsms: Vec<(u64, SharedFsm<K, L>)> = {
            let peers = ctx.peers.read();
            ids.iter()
                .filter_map(|id| peers.get(id).map(|fsm| (*id, fsm.clone())))
                .collect()
        };
        let mut guards: Vec<_> = fsms.iter().map(|(id, fsm)| (*id, fsm.lock())).collect();
        for (_, fsm) in guards.iter_mut() {
            let fsm = &mut **fsm;
            for msg in fsm.rx.try_iter().take(MESSAGES_PER_ROUND) {
                fsm.peer.on_msg(ctx, msg);
            }
        }
        // Ready rounds: one log write for all peers per round.
        for _ in 0..4 {
            let mut batch = LogBatch::default();
            let mut staged = Vec::new();
            for (i, (_, fsm)) in guards.iter_mut().enumerate() {
                if let Some(ready) = fsm.peer.collect_ready(ctx, &mut batch) {
                    staged.push((i, ready));
                }
            }
            if staged.is_empty() {
                break;
            }
            if let Err(err) = ctx.engines.raft.write(batch) {
                // Nothing staged may be acknowledged; raft will resend.
                tracing::error!(%err, "writing raft logs failed");
                break;
            }
            for (i, ready) in staged {
                guards[i].1.peer.finish_ready(ctx, ready);
            }
        }
        for (id, fsm) in guards.iter_mut() {
            if fsm.peer.pending_destroy {
                ctx.destroy(&mut fsm.peer);
                continue;
            }
            if let Some(mailbox) = ctx.router.mailbox(*id) {
                mailbox.notified.store(false, Ordering::Release);
                if !fsm.rx.is_empty() || fsm.peer.raft.has_ready() {
                    ctx.router.notify(*id, &mailbox.notified);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(id: u64, start: &[u8], end: &[u8]) -> metapb::Region {
        metapb::Region {
            id,
            start_key: start.to_vec(),
            end_key: end.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn regions_are_found_by_key_through_splits_including_long_0xff_keys() {
        let mut meta = StoreMeta::default();
        meta.set(&region(1, b"", b""));
        assert_eq!(meta.region_by_key(&[0xff; 80]).map(|r| r.id), Some(1));
        // A split: region 1 keeps the left part, region 2 takes the rest.
        meta.set(&region(1, b"", b"m"));
        meta.set(&region(2, b"m", b""));
        assert_eq!(meta.region_by_key(b"a").map(|r| r.id), Some(1));
        assert_eq!(meta.region_by_key(b"m").map(|r| r.id), Some(2));
        assert_eq!(meta.region_by_key(&[0xff; 80]).map(|r| r.id), Some(2));
        assert!(meta.overlaps(b"l", b"n", 0) && !meta.overlaps(b"a", b"b", 1));
        meta.remove(2);
        assert_eq!(meta.region_by_key(b"z"), None);
        assert_eq!(meta.region_by_key(b"a").map(|r| r.id), Some(1));
    }
}
