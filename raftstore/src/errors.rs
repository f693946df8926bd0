//! The region errors a store answers with, built the way clients (client-go, tikv-client)
//! expect them.

use basalt_proto::{errorpb, metapb};
use basalt_storage::kv::region_error;
use basalt_storage::Error;

/// The request reached a peer that is not the leader; `leader` is the best guess of who is.
pub fn not_leader(region_id: u64, leader: Option<metapb::Peer>) -> Error {
    region_error(format!("peer is not leader for region {region_id}"), |e| {
        e.not_leader = Some(errorpb::NotLeader { region_id, leader })
    })
}

/// The store has no peer of the region.
pub fn region_not_found(region_id: u64) -> Error {
    region_error(format!("region {region_id} is not found"), |e| {
        e.region_not_found = Some(errorpb::RegionNotFound { region_id })
    })
}

/// The request's epoch is stale; `current` are the regions it should use instead.
pub fn epoch_not_match(message: String, current: Vec<metapb::Region>) -> Error {
    region_error(message, |e| {
        e.epoch_not_match = Some(errorpb::EpochNotMatch {
            current_regions: current,
        })
    })
}

/// The command was proposed but replaced by another leader's log, or dropped.
pub fn stale_command(region_id: u64) -> Error {
    region_error(format!("stale command for region {region_id}"), |e| {
        e.stale_command = Some(errorpb::StaleCommand {})
    })
}

/// The store's queues are full.
pub fn server_is_busy(reason: &str) -> Error {
    region_error(format!("server is busy: {reason}"), |e| {
        e.server_is_busy = Some(errorpb::ServerIsBusy {
            reason: reason.to_string(),
            ..Default::default()
        })
    })
}

/// A key outside the region.
pub fn key_not_in_region(key: &[u8], region: &metapb::Region) -> Error {
    region_error(format!("key {key:?} is not in region {}", region.id), |e| {
        e.key_not_in_region = Some(errorpb::KeyNotInRegion {
            key: key.to_vec(),
            region_id: region.id,
            start_key: region.start_key.clone(),
            end_key: region.end_key.clone(),
        })
    })
}

/// A command too large for one raft entry.
pub fn entry_too_large(region_id: u64, size: u64) -> Error {
    region_error(format!("raft entry of {size} bytes is too large"), |e| {
        e.raft_entry_too_large = Some(errorpb::RaftEntryTooLarge {
            region_id,
            entry_size: size,
        })
    })
}

/// A ReadIndex round did not finish in time (no leader, or a partition).
pub fn read_index_not_ready(region_id: u64, reason: &str) -> Error {
    region_error(format!("read index not ready: {reason}"), |e| {
        e.read_index_not_ready = Some(errorpb::ReadIndexNotReady {
            reason: reason.to_string(),
            region_id,
        })
    })
}

/// The region is being merged into its neighbour: it takes no more reads or writes (clients
/// back off and find the merged region at PD).
pub fn proposal_in_merging_mode(region_id: u64) -> Error {
    region_error(format!("region {region_id} is merging"), |e| {
        e.proposal_in_merging_mode = Some(errorpb::ProposalInMergingMode { region_id })
    })
}
