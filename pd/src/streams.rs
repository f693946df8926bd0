//! The open region heartbeat streams, one per store, so that PD can push an operator's step to
//! the store leading the region without waiting for its next heartbeat. A stream is bound to a
//! store by the heartbeats it carries (the leader's store id), as upstream PD does; a newer
//! stream from the same store replaces the older one.

use std::collections::HashMap;
use std::sync::Arc;

use basalt_proto::pdpb;
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tonic::Status;

use crate::schedule::ScheduleCommand;

/// What a region heartbeat stream carries back to the store.
pub type Reply = Result<pdpb::RegionHeartbeatResponse, Status>;

#[derive(Default)]
struct Bound {
    next_stream_id: u64,
    by_store: HashMap<u64, (u64, mpsc::Sender<Reply>)>,
}

/// The heartbeat streams of all stores; cheap to clone (shared).
#[derive(Clone, Default)]
pub struct HeartbeatStreams {
    bound: Arc<Mutex<Bound>>,
}

impl HeartbeatStreams {
    /// A fresh id for a newly opened stream.
    pub fn open(&self) -> u64 {
        let mut bound = self.bound.lock();
        bound.next_stream_id += 1;
        bound.next_stream_id
    }

    /// Routes `store_id`'s commands to stream `stream_id` (whose replies go to `sender`).
    pub fn bind(&self, store_id: u64, stream_id: u64, sender: &mpsc::Sender<Reply>) {
        let mut bound = self.bound.lock();
        if bound.by_store.get(&store_id).map(|(id, _)| *id) != Some(stream_id) {
            tracing::debug!(store_id, stream_id, "region heartbeat stream bound");
            bound.by_store.insert(store_id, (stream_id, sender.clone()));
        }
    }

    /// Forgets stream `stream_id` (it ended).
    pub fn close(&self, stream_id: u64) {
        self.bound
            .lock()
            .by_store
            .retain(|_, (id, _)| *id != stream_id);
    }

    /// Sends `command` on its store's stream without waiting; returns whether it was queued.
    /// A command that is not queued is repeated on the region's next heartbeat anyway.
    pub fn push(&self, command: ScheduleCommand) -> bool {
        let sender = self
            .bound
            .lock()
            .by_store
            .get(&command.store_id)
            .map(|(_, sender)| sender.clone());
        let Some(sender) = sender else {
            tracing::debug!(
                store_id = command.store_id,
                "no heartbeat stream from the store yet"
            );
            return false;
        };
        sender.try_send(Ok(command.response)).is_ok()
    }
}
