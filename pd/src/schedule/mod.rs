//! PD's scheduling: store liveness, operators, the replica checker, the merge checker and the
//! leader and region balancers. Pure state, no I/O: `Scheduler` reads the stores and regions
//! `Cluster` holds and hands back the region heartbeat responses to send (`ScheduleCommand`);
//! the service delivers them on the heartbeat stream of the store leading the region.
//!
//! Two entry points drive it: `Scheduler::on_region_heartbeat` (progress of the region's
//! operator, or the replica checker when it has none) and `Scheduler::tick` (every
//! `schedule_interval`: finished, vanished and timed-out operators, a replica patrol over all
//! regions, then, up to `max_operators` running at once, a merge patrol (a merge runs two
//! operators, one on each region) and the balancers). `Cluster` tells it of splits
//! (`Scheduler::region_split`), which keep regions out of merges for `split_merge_interval`.
//! Time is a parameter (`now`) so tests run on a synthetic clock.

mod balance;
mod checker;
mod merge;
mod operator;
#[cfg(test)]
mod tests;

use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use basalt_proto::{metapb, pdpb};

use crate::error::Result;
use crate::region::{RegionInfo, RegionTree};

pub use operator::{Operator, OperatorKind, Progress, Step};

/// Scheduling settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleConfig {
    /// Voters every region should have (default 3).
    pub max_replicas: usize,
    /// A store silent for this long is down, and its peers are replaced; so are peers a leader
    /// reports down for this long (default 30 minutes).
    pub max_store_down_time: Duration,
    /// How often the balancers and the replica patrol run (default 1 second).
    pub schedule_interval: Duration,
    /// Most operators running at once before the balancers stop adding more (default 4). The
    /// replica checker is not limited: missing replicas are always worth fixing.
    pub max_operators: usize,
    /// An operator running longer is dropped (default 10 minutes).
    pub operator_timeout: Duration,
    /// Regions of at most this many bytes (approximate size) merge into a neighbour (default
    /// 20 MiB); 0 turns merging off.
    pub max_merge_region_size: u64,
    /// A region must also have at most this many keys to merge (default 200,000).
    pub max_merge_region_keys: u64,
    /// A merge must not make a region larger than this many bytes (default 96 MiB, TiKV's
    /// region split size).
    pub max_merged_region_size: u64,
    /// Regions that split, or came from a split, this recently are not merged; nor is anything
    /// this soon after PD starts (default 1 hour).
    pub split_merge_interval: Duration,
}

/// Bytes in a MiB.
const MIB: u64 = 1024 * 1024;

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            max_replicas: 3,
            max_store_down_time: Duration::from_secs(30 * 60),
            schedule_interval: Duration::from_secs(1),
            max_operators: 4,
            operator_timeout: Duration::from_secs(10 * 60),
            max_merge_region_size: 20 * MIB,
            max_merge_region_keys: 200_000,
            max_merged_region_size: 96 * MIB,
            split_merge_interval: Duration::from_secs(60 * 60),
        }
    }
}

/// A store's state for placement, in upstream PD's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreState {
    /// Serving and heartbeating.
    Up,
    /// Up, but silent for `max_store_down_time`.
    Down,
    /// Being removed: its peers move away, it gets no new ones.
    Offline,
    /// Removed for good.
    Tombstone,
}

impl StoreState {
    /// The state's name as upstream PD's HTTP API prints it (`state_name`).
    pub fn name(self) -> &'static str {
        match self {
            StoreState::Up => "Up",
            StoreState::Down => "Down",
            StoreState::Offline => "Offline",
            StoreState::Tombstone => "Tombstone",
        }
    }

    /// The placement state of `store` given the time since its last heartbeat.
    fn of(store: &metapb::Store, silent_for: Duration, max_store_down_time: Duration) -> Self {
        use metapb::{NodeState, StoreState as MetaState};
        if store.state == MetaState::Tombstone as i32
            || store.node_state == NodeState::Removed as i32
        {
            StoreState::Tombstone
        } else if store.state == MetaState::Offline as i32
            || store.node_state == NodeState::Removing as i32
        {
            StoreState::Offline
        } else if silent_for >= max_store_down_time {
            StoreState::Down
        } else {
            StoreState::Up
        }
    }
}

/// A step to deliver: the heartbeat response for the leader of a region on store `store_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleCommand {
    /// The store whose heartbeat stream carries it (the region leader's).
    pub store_id: u64,
    /// The response, with `region_id`, `region_epoch`, `target_peer` and one instruction set.
    pub response: pdpb::RegionHeartbeatResponse,
}

/// Leader and region-peer counts of one store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreLoad {
    /// Regions it leads.
    pub leaders: i64,
    /// Region peers it holds (voters and learners).
    pub regions: i64,
}

/// A store with its placement state and load, as the HTTP API shows it.
#[derive(Debug, Clone)]
pub struct StoreStatus {
    /// The store.
    pub store: metapb::Store,
    /// Up, Down, Offline or Tombstone.
    pub state: StoreState,
    /// Regions it leads and region peers it holds.
    pub load: StoreLoad,
    /// Time since its last heartbeat (or since PD started, if none since).
    pub silent_for: Duration,
}

/// Changes in store loads that running operators will still make.
#[derive(Debug, Default)]
pub(crate) struct Influence(HashMap<u64, StoreLoad>);

impl Influence {
    fn add(&mut self, store_id: u64, leaders: i64, regions: i64) {
        let load = self.0.entry(store_id).or_default();
        load.leaders += leaders;
        load.regions += regions;
    }

    fn of(operators: impl IntoIterator<Item = impl std::borrow::Borrow<Operator>>) -> Influence {
        let mut influence = Influence::default();
        for operator in operators {
            operator.borrow().influence(&mut influence);
        }
        influence
    }

    /// Adds the influence to `loads` (of stores it knows).
    fn apply_to(&self, loads: &mut BTreeMap<u64, StoreLoad>) {
        for (store_id, load) in loads.iter_mut() {
            if let Some(delta) = self.0.get(store_id) {
                load.leaders += delta.leaders;
                load.regions += delta.regions;
            }
        }
    }
}

/// Counts leaders and peers per store over `regions`.
pub fn store_loads(regions: &RegionTree) -> HashMap<u64, StoreLoad> {
    let mut loads: HashMap<u64, StoreLoad> = HashMap::new();
    for info in regions.iter() {
        for peer in &info.region.peers {
            loads.entry(peer.store_id).or_default().regions += 1;
        }
        if let Some(leader) = &info.leader {
            loads.entry(leader.store_id).or_default().leaders += 1;
        }
    }
    loads
}

/// Allocates one new id (a peer id).
pub type AllocId<'a> = dyn FnMut() -> Result<u64> + 'a;

/// What the checkers and the balancers see during one pass: store states, store loads
/// including what running operators will change (counted on first use, once per pass),
/// regions, when they last split, running operators and the ones planned so far in the pass.
pub(crate) struct Placement<'a> {
    config: &'a ScheduleConfig,
    states: BTreeMap<u64, StoreState>,
    regions: &'a RegionTree,
    splits: &'a HashMap<u64, Instant>,
    operators: &'a BTreeMap<u64, Operator>,
    planned: Vec<Operator>,
    planned_regions: HashSet<u64>,
    loads: OnceCell<BTreeMap<u64, StoreLoad>>,
}

impl<'a> Placement<'a> {
    /// The state of a store; unknown stores count as down.
    fn state(&self, store_id: u64) -> StoreState {
        self.states
            .get(&store_id)
            .copied()
            .unwrap_or(StoreState::Down)
    }

    /// Whether the region has an operator, running or planned in this pass.
    fn has_operator(&self, region_id: u64) -> bool {
        self.operators.contains_key(&region_id) || self.planned_regions.contains(&region_id)
    }

    /// The kind of the region's operator, running or planned in this pass.
    fn operator_kind(&self, region_id: u64) -> Option<OperatorKind> {
        match self.operators.get(&region_id) {
            Some(operator) => Some(operator.kind()),
            None => self
                .planned
                .iter()
                .find(|operator| operator.region_id() == region_id)
                .map(Operator::kind),
        }
    }

    /// How many more operators may start before `max_operators` run at once.
    fn room(&self) -> usize {
        let running = self.operators.len() + self.planned.len();
        self.config.max_operators.saturating_sub(running)
    }

    /// Whether the region split, or came from a split, less than `split_merge_interval` ago.
    fn split_recently(&self, region_id: u64, now: Instant) -> bool {
        self.splits
            .get(&region_id)
            .is_some_and(|at| now.saturating_duration_since(*at) < self.config.split_merge_interval)
    }

    /// Records an operator made in this pass, so later decisions see its influence.
    fn plan(&mut self, operator: Operator) {
        if let Some(loads) = self.loads.get_mut() {
            Influence::of([&operator]).apply_to(loads);
        }
        self.planned_regions.insert(operator.region_id());
        self.planned.push(operator);
    }

    /// Loads of every non-tombstone store, with the influence of running and planned
    /// operators.
    fn loads(&self) -> &BTreeMap<u64, StoreLoad> {
        self.loads.get_or_init(|| {
            let counted = store_loads(self.regions);
            let mut loads: BTreeMap<u64, StoreLoad> = self
                .states
                .iter()
                .filter(|(_, state)| **state != StoreState::Tombstone)
                .map(|(id, _)| (*id, counted.get(id).copied().unwrap_or_default()))
                .collect();
            Influence::of(self.operators.values()).apply_to(&mut loads);
            Influence::of(&self.planned).apply_to(&mut loads);
            loads
        })
    }

    fn load(&self, store_id: u64) -> StoreLoad {
        self.loads().get(&store_id).copied().unwrap_or_default()
    }

    /// How many stores are Up (no loads counted).
    fn up_store_count(&self) -> usize {
        self.states
            .values()
            .filter(|state| **state == StoreState::Up)
            .count()
    }

    /// Up stores, with their loads, in store id order.
    fn up_stores(&self) -> Vec<(u64, StoreLoad)> {
        self.loads()
            .iter()
            .filter(|(id, _)| self.state(**id) == StoreState::Up)
            .map(|(id, load)| (*id, *load))
            .collect()
    }

    /// The Up store holding no peer of `region` with the fewest region peers (lowest id on a
    /// tie): where a new peer goes.
    fn target_store(&self, region: &metapb::Region) -> Option<u64> {
        let candidates: Vec<u64> = self
            .states
            .iter()
            .filter(|(id, state)| {
                **state == StoreState::Up && !region.peers.iter().any(|p| p.store_id == **id)
            })
            .map(|(id, _)| *id)
            .collect();
        // Counting loads walks every region: not when there is no choice to make.
        match candidates.as_slice() {
            [] => None,
            [only] => Some(*only),
            _ => candidates
                .into_iter()
                .min_by_key(|id| (self.load(*id).regions, *id)),
        }
    }
}

/// Operators, store liveness and the finished operators' outcomes. Lives inside `Cluster`.
pub struct Scheduler {
    cluster_id: u64,
    config: ScheduleConfig,
    started: Instant,
    last_seen: HashMap<u64, Instant>,
    operators: BTreeMap<u64, Operator>,
    finished: HashMap<u64, (Operator, pdpb::OperatorStatus)>,
    splits: HashMap<u64, Instant>,
}

impl Scheduler {
    /// A scheduler started at `now`: every store counts as just seen.
    pub fn new(cluster_id: u64, config: ScheduleConfig, now: Instant) -> Scheduler {
        Scheduler {
            cluster_id,
            config,
            started: now,
            last_seen: HashMap::new(),
            operators: BTreeMap::new(),
            finished: HashMap::new(),
            splits: HashMap::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &ScheduleConfig {
        &self.config
    }

    /// Records a sign of life from a store (a store heartbeat, or its registration).
    pub fn store_seen(&mut self, store_id: u64, now: Instant) {
        self.last_seen.insert(store_id, now);
    }

    /// When the store was last seen (the scheduler's start if never).
    pub fn last_seen(&self, store_id: u64) -> Instant {
        self.last_seen
            .get(&store_id)
            .copied()
            .unwrap_or(self.started)
    }

    /// Records that a region split, or was made by a split, at `now`: the merge checker leaves
    /// it alone for `split_merge_interval`.
    pub fn region_split(&mut self, region_id: u64, now: Instant) {
        self.splits.insert(region_id, now);
    }

    /// The placement state of `store` at `now`.
    pub fn store_state(&self, store: &metapb::Store, now: Instant) -> StoreState {
        let silent_for = now.saturating_duration_since(self.last_seen(store.id));
        StoreState::of(store, silent_for, self.config.max_store_down_time)
    }

    /// The running operator of a region.
    pub fn operator(&self, region_id: u64) -> Option<&Operator> {
        self.operators.get(&region_id)
    }

    /// Running operators, by region id.
    pub fn operators(&self) -> impl Iterator<Item = &Operator> + '_ {
        self.operators.values()
    }

    /// The last operator of a region that stopped, and how it ended.
    pub fn finished(&self, region_id: u64) -> Option<&(Operator, pdpb::OperatorStatus)> {
        self.finished.get(&region_id)
    }

    /// Starts `operator` unless its region already has one; returns whether it was added.
    pub fn add_operator(&mut self, operator: Operator) -> bool {
        if self.operators.contains_key(&operator.region_id()) {
            return false;
        }
        tracing::info!(region_id = operator.region_id(), %operator, "operator added");
        self.operators.insert(operator.region_id(), operator);
        true
    }

    /// Stops the region's operator, and with it the other half of a merge it is part of (with
    /// the same status).
    fn stop(&mut self, region_id: u64, status: pdpb::OperatorStatus, why: &str) {
        let Some(operator) = self.operators.remove(&region_id) else {
            return;
        };
        if status == pdpb::OperatorStatus::Success {
            tracing::info!(region_id, %operator, "operator finished");
        } else {
            tracing::warn!(region_id, %operator, status = ?status, why, "operator stopped");
        }
        self.finished.insert(region_id, (operator, status));
        let partners: Vec<u64> = self
            .operators
            .values()
            .filter(|other| other.merge_partner() == Some(region_id))
            .map(Operator::region_id)
            .collect();
        for partner in partners {
            let why = format!("the other half of the merge, on region {region_id}, stopped");
            self.stop(partner, status, &why);
        }
    }

    /// Stops the operator of a region gone from `regions`: a merge source's is done when the
    /// target now covers it, anything else was cancelled.
    fn settle_vanished(&mut self, region_id: u64, regions: &RegionTree) {
        let merged = self
            .operators
            .get(&region_id)
            .is_some_and(|operator| operator.merged_away(regions));
        if merged {
            self.stop(region_id, pdpb::OperatorStatus::Success, "merged");
        } else {
            self.stop(region_id, pdpb::OperatorStatus::Cancel, "region vanished");
        }
    }

    fn placement<'a>(
        &'a self,
        stores: &BTreeMap<u64, metapb::Store>,
        regions: &'a RegionTree,
        now: Instant,
    ) -> Placement<'a> {
        Placement {
            config: &self.config,
            states: stores
                .values()
                .map(|store| (store.id, self.store_state(store, now)))
                .collect(),
            regions,
            splits: &self.splits,
            operators: &self.operators,
            planned: Vec::new(),
            planned_regions: HashSet::new(),
            loads: OnceCell::new(),
        }
    }

    /// Checks the region's operator against the region as `info` reports it: stops it when it
    /// finished, timed out or no longer applies. Returns whether one still runs.
    fn progress(&mut self, info: &RegionInfo, now: Instant) -> bool {
        let region_id = info.region.id;
        let timeout = self.config.operator_timeout;
        let Some(operator) = self.operators.get_mut(&region_id) else {
            return false;
        };
        match operator.check(info, now, timeout) {
            Progress::Running => true,
            Progress::Finished => {
                self.stop(region_id, pdpb::OperatorStatus::Success, "done");
                false
            }
            Progress::TimedOut => {
                self.stop(region_id, pdpb::OperatorStatus::Timeout, "timed out");
                false
            }
            Progress::Cancelled(why) => {
                self.stop(region_id, pdpb::OperatorStatus::Cancel, &why);
                false
            }
        }
    }

    /// The response carrying the region's current step for its leader.
    fn command(&self, info: &RegionInfo) -> Option<ScheduleCommand> {
        let leader = info.leader.as_ref()?;
        let response =
            self.operators
                .get(&info.region.id)?
                .command(self.cluster_id, &info.region, leader)?;
        Some(ScheduleCommand {
            store_id: leader.store_id,
            response,
        })
    }

    /// Handles a region heartbeat already recorded in `regions`: advances the region's
    /// operator, or lets the replica checker make one, and returns the response to send back
    /// (`None`: nothing to do).
    pub fn on_region_heartbeat(
        &mut self,
        stores: &BTreeMap<u64, metapb::Store>,
        regions: &RegionTree,
        info: &RegionInfo,
        alloc_id: &mut AllocId<'_>,
        now: Instant,
    ) -> Result<Option<pdpb::RegionHeartbeatResponse>> {
        if !self.progress(info, now) {
            let placement = self.placement(stores, regions, now);
            let made = checker::check_replicas(&placement, info, alloc_id, now)?;
            let Some(operator) = made else {
                return Ok(None);
            };
            self.add_operator(operator);
            // A step may already be done (a learner the region already has).
            if !self.progress(info, now) {
                return Ok(None);
            }
        }
        Ok(self.command(info).map(|command| command.response))
    }

    /// The periodic pass: settles operators of vanished regions and stops timed-out ones, runs
    /// the replica checker over regions without operators, then the merge checker and the
    /// balancers up to `max_operators`. Returns the first steps of the operators it made.
    pub fn tick(
        &mut self,
        stores: &BTreeMap<u64, metapb::Store>,
        regions: &RegionTree,
        alloc_id: &mut AllocId<'_>,
        now: Instant,
    ) -> Result<Vec<ScheduleCommand>> {
        // What ended in earlier passes and whose region is gone has been seen long enough.
        self.finished
            .retain(|region_id, _| regions.get(*region_id).is_some());
        let interval = self.config.split_merge_interval;
        self.splits.retain(|region_id, at| {
            regions.get(*region_id).is_some() && now.saturating_duration_since(*at) < interval
        });
        let running: Vec<u64> = self.operators.keys().copied().collect();
        for region_id in running {
            match regions.get(region_id) {
                Some(info) => {
                    self.progress(info, now);
                }
                None => self.settle_vanished(region_id, regions),
            }
        }
        let mut placement = self.placement(stores, regions, now);
        patrol(&mut placement, 0, |placement, info| {
            checker::check_replicas(placement, info, alloc_id, now)
        })?;
        if merge::enabled(&self.config, self.started, now) {
            // A merge runs two operators, one on each region.
            patrol(&mut placement, 2, |placement, info| {
                let made = merge::check_merge(placement, info, alloc_id, now)?;
                Ok(made.into_iter().flatten())
            })?;
        }
        run_balancers(&mut placement, alloc_id, now)?;
        let made = placement.planned;
        for operator in &made {
            self.add_operator(operator.clone());
        }
        let mut commands = Vec::new();
        for operator in made {
            if let Some(command) = regions
                .get(operator.region_id())
                .and_then(|info| self.command(info))
            {
                commands.push(command);
            }
        }
        Ok(commands)
    }
}

/// Runs `check` over every region without an operator and plans what it makes, as long as
/// `room_needed` more operators fit under `max_operators` (0: always).
fn patrol<Made: IntoIterator<Item = Operator>>(
    placement: &mut Placement<'_>,
    room_needed: usize,
    mut check: impl FnMut(&Placement<'_>, &RegionInfo) -> Result<Made>,
) -> Result<()> {
    let regions = placement.regions;
    for info in regions.iter() {
        if placement.room() < room_needed {
            break;
        }
        if placement.has_operator(info.region.id) {
            continue;
        }
        for operator in check(placement, info)? {
            placement.plan(operator);
        }
    }
    Ok(())
}

/// Runs the leader balancer, else the region balancer, until they find nothing or
/// `max_operators` run.
fn run_balancers(
    placement: &mut Placement<'_>,
    alloc_id: &mut AllocId<'_>,
    now: Instant,
) -> Result<()> {
    while placement.room() > 0 {
        let operator = match balance::balance_leader(placement, now) {
            Some(operator) => Some(operator),
            None => balance::balance_region(placement, alloc_id, now)?,
        };
        let Some(operator) = operator else {
            break;
        };
        placement.plan(operator);
    }
    Ok(())
}
