//! The seam between the transaction layer and replication. `Engine` takes a request context
//! (region, epoch, peer) and gives snapshots and applies writes. `LocalEngine` implements it on
//! a local `KvEngine` for a single-node store; the Raft store will implement it by proposing
//! writes to the region's Raft group. Data keys live behind the `z` prefix so the same column
//! families can hold the store's own metadata.

use std::future::Future;
use std::sync::Arc;

use basalt_proto::{errorpb, metapb};
use parking_lot::RwLock;

use crate::engine::{EngineIterator, IterOptions, KvEngine, Modify, Snapshot};
use crate::error::{Error, Result};

/// Prefix of user data keys in the engine.
pub const DATA_PREFIX: u8 = b'z';
const DATA_PREFIX_END: u8 = DATA_PREFIX + 1;

/// What the transaction layer knows about a request's routing.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// The region the client addressed.
    pub region_id: u64,
    /// The epoch the client believes the region has.
    pub region_epoch: Option<metapb::RegionEpoch>,
    /// The peer the client addressed.
    pub peer: Option<metapb::Peer>,
    /// Transactions whose locks a reader may ignore.
    pub resolved_locks: Vec<u64>,
    /// Read committed: ignore locks entirely.
    pub read_committed: bool,
}

/// Snapshots and writes for requests addressed to regions.
pub trait Engine: Clone + Send + Sync + 'static {
    /// The snapshot type.
    type Snap: Snapshot + Clone;
    /// A snapshot for reading the request's region, after checking that the region is served.
    fn async_snapshot(
        &self,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<Self::Snap>> + Send;
    /// Applies `modifies` (data keys, without prefix) atomically for the request's region.
    fn async_write(
        &self,
        ctx: &RequestContext,
        modifies: Vec<Modify>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Checks that every key (user key; for transactional requests the caller passes raw keys and
    /// `encoded` says to compare memcomparable forms) is inside the request's region.
    fn check_keys_in_region(
        &self,
        ctx: &RequestContext,
        keys: &[&[u8]],
        encoded: bool,
    ) -> Result<()>;
}

/// The one region a single-node store serves, and the store it lives on.
#[derive(Debug, Clone)]
pub struct LocalRegion {
    /// The region.
    pub region: metapb::Region,
    /// The store id.
    pub store_id: u64,
}

/// `Engine` on a local engine, serving the regions given to it.
#[derive(Clone)]
pub struct LocalEngine<K: KvEngine> {
    kv: K,
    region: Arc<RwLock<LocalRegion>>,
    sync_log: bool,
}

impl<K: KvEngine> LocalEngine<K> {
    /// Serves `region` from `kv`; `sync_log` makes every write durable before it is acknowledged.
    pub fn new(kv: K, region: LocalRegion, sync_log: bool) -> Self {
        LocalEngine {
            kv,
            region: Arc::new(RwLock::new(region)),
            sync_log,
        }
    }

    /// The underlying engine.
    pub fn kv(&self) -> &K {
        &self.kv
    }

    /// The served region.
    pub fn region(&self) -> metapb::Region {
        self.region.read().region.clone()
    }

    fn check_context(&self, ctx: &RequestContext) -> Result<()> {
        let local = self.region.read();
        let region = &local.region;
        if ctx.region_id != region.id {
            return Err(region_error(
                format!(
                    "region {} not found on store {}",
                    ctx.region_id, local.store_id
                ),
                |error| {
                    error.region_not_found = Some(errorpb::RegionNotFound {
                        region_id: ctx.region_id,
                    })
                },
            ));
        }
        if let Some(peer) = &ctx.peer {
            if peer.store_id != 0 && peer.store_id != local.store_id {
                return Err(region_error(
                    format!("store {} is not store {}", peer.store_id, local.store_id),
                    |error| {
                        error.store_not_match = Some(errorpb::StoreNotMatch {
                            request_store_id: peer.store_id,
                            actual_store_id: local.store_id,
                        })
                    },
                ));
            }
        }
        if let (Some(asked), Some(current)) = (&ctx.region_epoch, &region.region_epoch) {
            if asked.version != current.version || asked.conf_ver != current.conf_ver {
                return Err(region_error(
                    format!(
                        "epoch not match: request {}/{}, region {}/{}",
                        asked.conf_ver, asked.version, current.conf_ver, current.version
                    ),
                    |error| {
                        error.epoch_not_match = Some(errorpb::EpochNotMatch {
                            current_regions: vec![region.clone()],
                        })
                    },
                ));
            }
        }
        Ok(())
    }
}

/// Builds a region error with `message` and one detail set by `fill`.
pub fn region_error(message: String, fill: impl FnOnce(&mut errorpb::Error)) -> Error {
    let mut error = errorpb::Error {
        message,
        ..Default::default()
    };
    fill(&mut error);
    Error::Region(Box::new(error))
}

fn key_in_range(key: &[u8], start: &[u8], end: &[u8]) -> bool {
    key >= start && (end.is_empty() || key < end)
}

impl<K: KvEngine> Engine for LocalEngine<K> {
    type Snap = DataSnapshot<K::Snap>;

    fn async_snapshot(
        &self,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<Self::Snap>> + Send {
        let result = self.check_context(ctx).map(|()| DataSnapshot {
            inner: Arc::new(self.kv.snapshot()),
        });
        async move { result }
    }

    fn async_write(
        &self,
        ctx: &RequestContext,
        modifies: Vec<Modify>,
    ) -> impl Future<Output = Result<()>> + Send {
        let checked = self.check_context(ctx);
        let kv = self.kv.clone();
        let sync = self.sync_log;
        async move {
            checked?;
            let prefixed: Vec<Modify> = modifies.into_iter().map(prefix_modify).collect();
            tokio::task::spawn_blocking(move || kv.write(&prefixed, sync))
                .await
                .map_err(|err| Error::Engine(format!("write task failed: {err}")))?
        }
    }

    fn check_keys_in_region(
        &self,
        ctx: &RequestContext,
        keys: &[&[u8]],
        encoded: bool,
    ) -> Result<()> {
        let local = self.region.read();
        let region = &local.region;
        for key in keys {
            let key_form = if encoded {
                crate::mvcc::Key::from_raw(key).as_encoded().to_vec()
            } else {
                key.to_vec()
            };
            if !key_in_range(&key_form, &region.start_key, &region.end_key) {
                return Err(region_error(
                    format!("key {key:?} is not in region {}", region.id),
                    |error| {
                        error.key_not_in_region = Some(errorpb::KeyNotInRegion {
                            key: key.to_vec(),
                            region_id: region.id,
                            start_key: region.start_key.clone(),
                            end_key: region.end_key.clone(),
                        })
                    },
                ));
            }
        }
        let _ = ctx;
        Ok(())
    }
}

/// Adds the data prefix to a key.
pub fn data_key(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 1);
    out.push(DATA_PREFIX);
    out.extend_from_slice(key);
    out
}

fn prefix_modify(modify: Modify) -> Modify {
    match modify {
        Modify::Put(cf, key, value) => Modify::Put(cf, data_key(&key), value),
        Modify::Delete(cf, key) => Modify::Delete(cf, data_key(&key)),
        Modify::DeleteRange(cf, start, end) => Modify::DeleteRange(
            cf,
            data_key(&start),
            if end.is_empty() {
                vec![DATA_PREFIX_END]
            } else {
                data_key(&end)
            },
        ),
    }
}

/// A snapshot of the data keys only, with the prefix hidden.
pub struct DataSnapshot<S: Snapshot> {
    inner: Arc<S>,
}

impl<S: Snapshot> Clone for DataSnapshot<S> {
    fn clone(&self) -> Self {
        DataSnapshot {
            inner: self.inner.clone(),
        }
    }
}

impl<S: Snapshot> Snapshot for DataSnapshot<S> {
    type Iter = DataIterator<S::Iter>;

    fn get_cf(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.inner.get_cf(cf, &data_key(key))
    }

    fn iterator_cf(&self, cf: &str, options: IterOptions) -> Result<Self::Iter> {
        let lower = options
            .lower_bound
            .as_deref()
            .map(data_key)
            .unwrap_or_else(|| vec![DATA_PREFIX]);
        let upper = options
            .upper_bound
            .as_deref()
            .map(data_key)
            .unwrap_or_else(|| vec![DATA_PREFIX_END]);
        let inner = self.inner.iterator_cf(
            cf,
            IterOptions {
                lower_bound: Some(lower),
                upper_bound: Some(upper),
                fill_cache: options.fill_cache,
            },
        )?;
        Ok(DataIterator { inner })
    }
}

/// An iterator that adds the data prefix to seeks and strips it from keys.
pub struct DataIterator<I: EngineIterator> {
    inner: I,
}

impl<I: EngineIterator> EngineIterator for DataIterator<I> {
    fn seek(&mut self, key: &[u8]) -> Result<bool> {
        self.inner.seek(&data_key(key))
    }

    fn seek_for_prev(&mut self, key: &[u8]) -> Result<bool> {
        self.inner.seek_for_prev(&data_key(key))
    }

    fn seek_to_first(&mut self) -> Result<bool> {
        self.inner.seek_to_first()
    }

    fn seek_to_last(&mut self) -> Result<bool> {
        self.inner.seek_to_last()
    }

    fn next(&mut self) -> Result<bool> {
        self.inner.next()
    }

    fn prev(&mut self) -> Result<bool> {
        self.inner.prev()
    }

    fn valid(&self) -> Result<bool> {
        self.inner.valid()
    }

    fn key(&self) -> &[u8] {
        self.inner.key().get(1..).unwrap_or_default()
    }

    fn value(&self) -> &[u8] {
        self.inner.value()
    }
}
