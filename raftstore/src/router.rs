//! Mailboxes of the peers and the queue of peers with mail: the front half of the batch
//! system. Sending to a peer pushes into its bounded mailbox and, if the peer was idle,
//! schedules it once for a poller thread; pollers mark it idle again when they are done, so a
//! peer is driven by at most one thread at a time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use basalt_proto::raft_cmdpb::RaftCmdRequest;
use basalt_proto::raft_serverpb::RaftMessage;
use basalt_storage::Result;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use parking_lot::RwLock;

use crate::errors;
use crate::msg::{Callback, PeerMsg, ReadRequest};
use crate::transport::DeliveryReport;

/// A message for the store itself.
pub enum StoreMsg {
    /// A raft message for a region this store has no peer of (yet).
    RaftMessage(Box<RaftMessage>),
}

#[derive(Clone)]
pub(crate) struct Mailbox {
    tx: Sender<PeerMsg>,
    pub(crate) notified: Arc<AtomicBool>,
}

struct Inner {
    mailboxes: RwLock<HashMap<u64, Mailbox>>,
    schedule: Sender<u64>,
    store: Sender<StoreMsg>,
    capacity: usize,
}

/// Routes messages to the peers of one store.
#[derive(Clone)]
pub struct RaftRouter {
    inner: Arc<Inner>,
}

impl RaftRouter {
    pub(crate) fn new(
        capacity: usize,
        schedule: Sender<u64>,
        store: Sender<StoreMsg>,
    ) -> RaftRouter {
        RaftRouter {
            inner: Arc::new(Inner {
                mailboxes: RwLock::new(HashMap::new()),
                schedule,
                store,
                capacity,
            }),
        }
    }

    /// Creates the mailbox of `region_id`, replacing any previous one.
    pub(crate) fn register(&self, region_id: u64) -> Receiver<PeerMsg> {
        let (tx, rx) = crossbeam_channel::bounded(self.inner.capacity);
        let mailbox = Mailbox {
            tx,
            notified: Arc::new(AtomicBool::new(false)),
        };
        self.inner.mailboxes.write().insert(region_id, mailbox);
        rx
    }

    /// Drops the mailbox of `region_id`: later sends answer `RegionNotFound`.
    pub(crate) fn unregister(&self, region_id: u64) {
        self.inner.mailboxes.write().remove(&region_id);
    }

    pub(crate) fn mailbox(&self, region_id: u64) -> Option<Mailbox> {
        self.inner.mailboxes.read().get(&region_id).cloned()
    }

    /// Schedules `region_id` for a poller if it is idle.
    pub(crate) fn notify(&self, region_id: u64, notified: &AtomicBool) {
        if !notified.swap(true, Ordering::AcqRel) {
            let _ = self.inner.schedule.send(region_id);
        }
    }

    /// Sends `msg` to the peer of `region_id`.
    pub fn send(&self, region_id: u64, msg: PeerMsg) -> Result<()> {
        let Some(mailbox) = self.mailbox(region_id) else {
            return Err(errors::region_not_found(region_id));
        };
        match mailbox.tx.try_send(msg) {
            Ok(()) => {
                self.notify(region_id, &mailbox.notified);
                Ok(())
            }
            Err(TrySendError::Full(_)) => {
                Err(errors::server_is_busy("the region's mailbox is full"))
            }
            Err(TrySendError::Disconnected(_)) => Err(errors::region_not_found(region_id)),
        }
    }

    /// Hands a raft message received from another store to its peer, or to the store when
    /// no peer of the region exists here yet.
    pub fn send_raft_message(&self, msg: RaftMessage) -> Result<()> {
        let region_id = msg.region_id;
        if self.mailbox(region_id).is_some() {
            return self.send(region_id, PeerMsg::Raft(Box::new(msg)));
        }
        self.inner
            .store
            .send(StoreMsg::RaftMessage(Box::new(msg)))
            .map_err(|_| errors::server_is_busy("the store is shutting down"))
    }

    /// Proposes `cmd` to its region; `cb` gets the outcome once applied.
    pub fn send_command(&self, cmd: RaftCmdRequest, cb: Callback) -> Result<()> {
        let region_id = cmd.header.as_ref().map_or(0, |header| header.region_id);
        self.send(
            region_id,
            PeerMsg::Command {
                cmd: Box::new(cmd),
                cb,
            },
        )
    }

    /// Asks the peer of `region_id` to confirm a read; `cb` runs when reading is safe.
    pub fn read(&self, region_id: u64, req: ReadRequest, cb: Callback) -> Result<()> {
        self.send(region_id, PeerMsg::Read { req, cb })
    }

    /// The regions that have a mailbox.
    pub(crate) fn region_ids(&self) -> Vec<u64> {
        self.inner.mailboxes.read().keys().copied().collect()
    }

    /// Sends a tick to every peer (dropped for a peer whose mailbox is full).
    pub(crate) fn tick_all(&self) {
        for region_id in self.region_ids() {
            let _ = self.send(region_id, PeerMsg::Tick);
        }
    }
}

impl DeliveryReport for RaftRouter {
    fn report_unreachable(&self, region_id: u64, to_peer_id: u64) {
        let _ = self.send(region_id, PeerMsg::Unreachable(to_peer_id));
    }

    fn report_snapshot(&self, region_id: u64, to_peer_id: u64, ok: bool) {
        let _ = self.send(region_id, PeerMsg::SnapshotStatus { to_peer_id, ok });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use basalt_proto::errorpb;

    fn region_error(result: Result<()>) -> errorpb::Error {
        match result {
            Err(basalt_storage::Error::Region(err)) => *err,
            other => panic!("expected a region error, got {other:?}"),
        }
    }

    #[test]
    fn full_mailboxes_are_busy_and_unknown_regions_are_not_found() {
        let (schedule, scheduled) = crossbeam_channel::unbounded();
        let (store, store_rx) = crossbeam_channel::unbounded();
        let router = RaftRouter::new(2, schedule, store);
        assert!(region_error(router.send(7, PeerMsg::Tick))
            .region_not_found
            .is_some());
        let mailbox = router.register(7);
        router.send(7, PeerMsg::Tick).unwrap();
        router.send(7, PeerMsg::Tick).unwrap();
        let busy = region_error(router.send(7, PeerMsg::Tick));
        assert!(busy.server_is_busy.is_some(), "{busy:?}");
        // The region was scheduled once, however many messages it got.
        assert_eq!(scheduled.try_iter().collect::<Vec<_>>(), [7]);
        assert_eq!(mailbox.try_iter().count(), 2);
        // A region without a mailbox goes to the store, which may create its peer.
        router
            .send_raft_message(RaftMessage {
                region_id: 9,
                ..Default::default()
            })
            .unwrap();
        assert!(
            matches!(store_rx.try_recv(), Ok(StoreMsg::RaftMessage(msg)) if msg.region_id == 9)
        );
        router.unregister(7);
        assert!(region_error(router.send(7, PeerMsg::Tick))
            .region_not_found
            .is_some());
    }
}
