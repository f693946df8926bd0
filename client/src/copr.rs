//! Coprocessor requests fanned out over regions: the ranges are split at region boundaries,
//! one request per region runs with bounded concurrency, region errors re-split the affected
//! ranges, locks are resolved, and paged requests are followed to the end of their region.

use std::collections::VecDeque;

use basalt_proto::{coprocessor, tipb};
use futures::{StreamExt, TryStreamExt};
use prost::Message;

use crate::error::{Error, Result};
use crate::lock_resolver::LockWait;
use crate::region_cache::RegionInfo;
use crate::rpc::RegionRetry;
use crate::Cluster;

/// A coprocessor request over any number of regions.
#[derive(Clone, Debug)]
pub struct CopRequest {
    /// The request type: 103 = DAG, 104 = Analyze, 105 = Checksum.
    pub tp: i64,
    /// The tipb payload (an encoded `DagRequest` for DAGs).
    pub data: Vec<u8>,
    /// The read timestamp.
    pub start_ts: u64,
    /// Key ranges `[start, end)` (empty end: unbounded), user keys.
    pub ranges: Vec<(Vec<u8>, Vec<u8>)>,
    /// Rows of a region's first page (0: no paging, one response per region).
    pub paging_size: u64,
    /// With paging, each later page of a region asks twice the rows of the one before, up to
    /// this many (as TiDB grows its pages), so small reads stay cheap and large ones make few
    /// calls, none of them long. At or below `paging_size`: every page asks `paging_size`.
    pub max_paging_size: u64,
    /// Region requests in flight at once (0 counts as 1).
    pub concurrency: usize,
}

/// One region's answer (one page of it, with paging).
#[derive(Clone, Debug)]
pub struct CopResponse {
    /// The region that answered.
    pub region_id: u64,
    /// The `SelectResponse` bytes.
    pub data: Vec<u8>,
}

/// The ranges to send to one region.
#[derive(Clone, Debug)]
struct CopTask {
    region: RegionInfo,
    ranges: Vec<(Vec<u8>, Vec<u8>)>,
}

/// `range` clipped to `region`, if they overlap.
fn clip(range: &(Vec<u8>, Vec<u8>), region: &RegionInfo) -> Option<(Vec<u8>, Vec<u8>)> {
    let (start, end) = range;
    let region_start = &region.region.start_key;
    let region_end = &region.region.end_key;
    let start = start.max(region_start).clone();
    let end = if end.is_empty() {
        region_end.clone()
    } else if region_end.is_empty() {
        end.clone()
    } else {
        end.min(region_end).clone()
    };
    (end.is_empty() || start < end).then_some((start, end))
}

/// Whether the DAG's scan reads backwards (a TableScan or IndexScan with `desc`), which decides
/// on which side of a page's `range` the rest lies. Payloads that do not decode read forwards.
fn scan_is_descending(tp: i64, data: &[u8]) -> bool {
    const REQ_TYPE_DAG: i64 = 103;
    if tp != REQ_TYPE_DAG {
        return false;
    }
    let Ok(dag) = tipb::DagRequest::decode(data) else {
        return false;
    };
    let executor_desc = |executor: &tipb::Executor| {
        executor
            .tbl_scan
            .as_ref()
            .map(|scan| scan.desc())
            .or_else(|| executor.idx_scan.as_ref().map(|scan| scan.desc()))
    };
    if let Some(first) = dag.executors.first() {
        return executor_desc(first).unwrap_or(false);
    }
    // The tree form: follow the single-child chain down to the scan.
    let mut node = dag.root_executor.as_ref();
    while let Some(executor) = node {
        if let Some(desc) = executor_desc(executor) {
            return desc;
        }
        node = executor
            .selection
            .as_ref()
            .and_then(|e| e.child.as_deref())
            .or_else(|| {
                executor
                    .aggregation
                    .as_ref()
                    .and_then(|e| e.child.as_deref())
            })
            .or_else(|| executor.top_n.as_ref().and_then(|e| e.child.as_deref()))
            .or_else(|| executor.limit.as_ref().and_then(|e| e.child.as_deref()))
            .or_else(|| {
                executor
                    .projection
                    .as_ref()
                    .and_then(|e| e.child.as_deref())
            });
    }
    false
}

/// What of `ranges` is left after a page covering `covered`: the keys from its end on when
/// scanning forwards, the keys before its start when scanning backwards.
fn remaining(
    ranges: &[(Vec<u8>, Vec<u8>)],
    covered: &coprocessor::KeyRange,
    desc: bool,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    for (start, end) in ranges {
        if desc {
            let cut = &covered.start;
            if start >= cut {
                continue;
            }
            let end = if end.is_empty() || end > cut {
                cut
            } else {
                end
            };
            out.push((start.clone(), end.clone()));
        } else {
            let cut = &covered.end;
            if cut.is_empty() || (!end.is_empty() && end <= cut) {
                continue;
            }
            out.push((start.max(cut).clone(), end.clone()));
        }
    }
    out
}

impl Cluster {
    /// One task per region overlapping `ranges` (sorted, disjoint), in key order.
    async fn split_into_tasks(&self, ranges: &[(Vec<u8>, Vec<u8>)]) -> Result<Vec<CopTask>> {
        let mut tasks: Vec<CopTask> = Vec::new();
        for range in ranges {
            for region in self.inner.cache.regions(&range.0, &range.1).await? {
                let Some(clipped) = clip(range, &region) else {
                    continue;
                };
                match tasks.last_mut() {
                    Some(task) if task.region.id() == region.id() => task.ranges.push(clipped),
                    _ => tasks.push(CopTask {
                        region,
                        ranges: vec![clipped],
                    }),
                }
            }
        }
        Ok(tasks)
    }

    pub(crate) async fn run_coprocessor(&self, request: CopRequest) -> Result<Vec<CopResponse>> {
        let mut ranges: Vec<(Vec<u8>, Vec<u8>)> = request
            .ranges
            .iter()
            .filter(|(start, end)| end.is_empty() || start < end)
            .cloned()
            .collect();
        ranges.sort();
        let tasks = self.split_into_tasks(&ranges).await?;
        let desc = scan_is_descending(request.tp, &request.data);
        tracing::debug!(
            start_ts = request.start_ts,
            regions = tasks.len(),
            "coprocessor request"
        );
        let pages: Vec<Vec<CopResponse>> = futures::stream::iter(
            tasks
                .into_iter()
                .map(|task| self.run_task(&request, task, desc)),
        )
        .buffered(request.concurrency.max(1))
        .try_collect()
        .await?;
        Ok(pages.into_iter().flatten().collect())
    }

    /// Runs one region's task: every page, and the tasks a region error re-split it into.
    async fn run_task(
        &self,
        request: &CopRequest,
        task: CopTask,
        desc: bool,
    ) -> Result<Vec<CopResponse>> {
        let mut out = Vec::new();
        let mut pending = VecDeque::from([task]);
        let mut retry = RegionRetry::new();
        let mut wait = LockWait::for_read(request.start_ts);
        let mut paging_size = request.paging_size;
        while let Some(task) = pending.pop_front() {
            let message = coprocessor::Request {
                tp: request.tp,
                data: request.data.clone(),
                start_ts: request.start_ts,
                ranges: task
                    .ranges
                    .iter()
                    .map(|(start, end)| coprocessor::KeyRange {
                        start: start.clone(),
                        end: end.clone(),
                    })
                    .collect(),
                paging_size,
                ..Default::default()
            };
            let response = match self
                .send_to_region(&task.region, message, wait.resolved())
                .await?
            {
                Ok(response) => response,
                Err(error) => {
                    retry.on_error(&error).await?;
                    let resplit = self.split_into_tasks(&task.ranges).await?;
                    for task in resplit.into_iter().rev() {
                        pending.push_front(task);
                    }
                    continue;
                }
            };
            if let Some(lock) = response.locked {
                wait.resolve(self, vec![lock]).await?;
                pending.push_front(task);
                continue;
            }
            if !response.other_error.is_empty() {
                return Err(Error::Coprocessor(response.other_error));
            }
            out.push(CopResponse {
                region_id: task.region.id(),
                data: response.data,
            });
            if paging_size == 0 {
                continue;
            }
            paging_size = request
                .max_paging_size
                .min(paging_size.saturating_mul(2))
                .max(paging_size);
            if let Some(covered) = response.range {
                let rest = remaining(&task.ranges, &covered, desc);
                if rest == task.ranges {
                    return Err(Error::Coprocessor(format!(
                        "paging made no progress in region {}",
                        task.region.id()
                    )));
                }
                if !rest.is_empty() {
                    pending.push_front(CopTask {
                        region: task.region,
                        ranges: rest,
                    });
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use basalt_proto::metapb;

    fn region(start: &[u8], end: &[u8]) -> RegionInfo {
        RegionInfo {
            region: metapb::Region {
                id: 1,
                start_key: start.to_vec(),
                end_key: end.to_vec(),
                ..Default::default()
            },
            leader: metapb::Peer::default(),
            store_addr: String::new(),
        }
    }

    fn range(start: &[u8], end: &[u8]) -> (Vec<u8>, Vec<u8>) {
        (start.to_vec(), end.to_vec())
    }

    #[test]
    fn ranges_are_clipped_to_regions() {
        let middle = region(b"b", b"d");
        assert_eq!(clip(&range(b"a", b"z"), &middle), Some(range(b"b", b"d")));
        assert_eq!(clip(&range(b"a", b""), &middle), Some(range(b"b", b"d")));
        assert_eq!(clip(&range(b"c", b"c1"), &middle), Some(range(b"c", b"c1")));
        assert_eq!(clip(&range(b"d", b"e"), &middle), None);
        let last = region(b"b", b"");
        assert_eq!(clip(&range(b"a", b""), &last), Some(range(b"b", b"")));
        assert_eq!(clip(&range(b"c", b"e"), &last), Some(range(b"c", b"e")));
    }

    #[test]
    fn pages_resume_after_the_covered_range() {
        let ranges = vec![range(b"a", b"c"), range(b"e", b"g")];
        let covered = |start: &[u8], end: &[u8]| coprocessor::KeyRange {
            start: start.to_vec(),
            end: end.to_vec(),
        };
        assert_eq!(
            remaining(&ranges, &covered(b"a", b"b"), false),
            vec![range(b"b", b"c"), range(b"e", b"g")]
        );
        assert_eq!(
            remaining(&ranges, &covered(b"a", b"f"), false),
            vec![range(b"f", b"g")]
        );
        assert_eq!(
            remaining(&ranges, &covered(b"f", b"g"), true),
            vec![range(b"a", b"c"), range(b"e", b"f")]
        );
        assert_eq!(
            remaining(&ranges, &covered(b"b", b"g"), true),
            vec![range(b"a", b"b")]
        );
    }

    #[test]
    fn descending_scans_are_recognised() {
        let dag = |desc: bool| tipb::DagRequest {
            executors: vec![tipb::Executor {
                tbl_scan: Some(tipb::TableScan {
                    desc: Some(desc),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(scan_is_descending(103, &dag(true).encode_to_vec()));
        assert!(!scan_is_descending(103, &dag(false).encode_to_vec()));
        assert!(!scan_is_descending(103, &[0xFF, 0xFF]));
    }
}
