//! The coprocessor path as TiDB drives it: PD says which regions hold the table, one
//! `Coprocessor` request per region (the region's part of the table's key range), a few at a
//! time, at a timestamp from PD's TSO; the answers are the regions' partial results.

use basalt_chunk::codec::table;
use basalt_proto::tikvpb::tikv_client::TikvClient;
use basalt_proto::{coprocessor, kvrpcpb, metapb, pdpb, tipb};
use basalt_storage::mvcc::Key;
use futures::stream::{self, StreamExt, TryStreamExt};
use prost::Message as _;
use tonic::transport::Channel;

use crate::dag::Query;
use crate::lineitem::TABLE_ID;

/// TiDB's request type for DAGs.
const REQ_TYPE_DAG: i64 = 103;
/// Rows a request reads at most (`paging_size`); the client resumes after the range each page
/// covered. TiDB pages with at most 50,000 rows; these pages are larger so that a paged run
/// costs nearly what an unpaged one does, and small enough that one page's partial result
/// (a `GROUP BY l_orderkey` of one region at SF 3 is 216 MB unpaged) stays well under the
/// server's gRPC message limit.
const PAGE_ROWS: u64 = 1 << 21;

/// One region's part of the table.
#[derive(Debug, Clone)]
pub struct Task {
    context: kvrpcpb::Context,
    range: coprocessor::KeyRange,
}

/// Clients of one server and its PD.
#[derive(Clone)]
pub struct Client {
    kv: TikvClient<Channel>,
    /// Rows per page (`paging_size`; 0: no paging).
    page_rows: u64,
    pd: pdpb::pd_client::PdClient<Channel>,
    header: Option<pdpb::RequestHeader>,
}

fn failed(what: &str, err: impl std::fmt::Display) -> String {
    format!("{what}: {err}")
}

impl Client {
    /// Connects to the store at `kv` and the PD at `pd`.
    pub async fn connect(kv: &str, pd: &str) -> Result<Client, String> {
        let channel = Channel::from_shared(format!("http://{kv}"))
            .map_err(|e| failed("store address", e))?
            .connect()
            .await
            .map_err(|e| failed("connecting to the store", e))?;
        let kv = TikvClient::new(channel).max_decoding_message_size(usize::MAX);
        let mut pd = pdpb::pd_client::PdClient::connect(format!("http://{pd}"))
            .await
            .map_err(|e| failed("connecting to PD", e))?;
        let members = pd
            .get_members(pdpb::GetMembersRequest::default())
            .await
            .map_err(|e| failed("GetMembers", e))?
            .into_inner();
        let header = Some(pdpb::RequestHeader {
            cluster_id: members.header.map_or(0, |h| h.cluster_id),
            ..Default::default()
        });
        Ok(Client {
            kv,
            page_rows: PAGE_ROWS,
            pd,
            header,
        })
    }

    /// A timestamp from PD's TSO.
    pub async fn tso(&mut self) -> Result<u64, String> {
        let request = pdpb::TsoRequest {
            header: self.header.clone(),
            count: 1,
            ..Default::default()
        };
        let mut answers = self
            .pd
            .tso(stream::iter(vec![request]))
            .await
            .map_err(|e| failed("Tso", e))?
            .into_inner();
        let answer = answers
            .message()
            .await
            .map_err(|e| failed("Tso", e))?
            .ok_or("PD closed the TSO stream")?;
        let ts = answer.timestamp.ok_or("a TSO answer without a timestamp")?;
        Ok(((ts.physical as u64) << 18) + ts.logical as u64)
    }

    /// The regions holding the table, each with its part of the table's key range.
    pub async fn tasks(&mut self) -> Result<Vec<Task>, String> {
        let (start, end) = table::record_range(TABLE_ID);
        let answer = self
            .pd
            .scan_regions(pdpb::ScanRegionsRequest {
                header: self.header.clone(),
                start_key: Key::from_raw(&start).as_encoded().to_vec(),
                end_key: Key::from_raw(&end).as_encoded().to_vec(),
                limit: 100_000,
            })
            .await
            .map_err(|e| failed("ScanRegions", e))?
            .into_inner();
        let mut tasks = Vec::new();
        for (region, leader) in answer.region_metas.into_iter().zip(answer.leaders) {
            let lower = raw_bound(&region.start_key)?;
            let upper = raw_bound(&region.end_key)?;
            let from = lower.max(start.clone());
            let to = if upper.is_empty() {
                end.clone()
            } else {
                upper.min(end.clone())
            };
            if from >= to {
                continue;
            }
            tasks.push(Task {
                context: context(&region, leader),
                range: coprocessor::KeyRange {
                    start: from,
                    end: to,
                },
            });
        }
        if tasks.is_empty() {
            return Err("PD knows no region holding the table".into());
        }
        Ok(tasks)
    }

    /// Splits the table into `parts` regions of about equal row counts (rows have handles
    /// 1..=rows), with the `SplitRegion` RPC TiDB's `SPLIT TABLE` uses.
    pub async fn split_table(&mut self, parts: usize, rows: u64) -> Result<(), String> {
        let keys: Vec<Vec<u8>> = (1..parts as u64)
            .map(|i| {
                let handle = (rows * i / parts as u64) as i64 + 1;
                table::encode_row_key(TABLE_ID, &table::Handle::Int(handle))
            })
            .collect();
        let task = self
            .tasks()
            .await?
            .into_iter()
            .next()
            .ok_or("no region to split")?;
        let answer = self
            .kv
            .split_region(kvrpcpb::SplitRegionRequest {
                context: Some(task.context),
                split_keys: keys,
                ..Default::default()
            })
            .await
            .map_err(|e| failed("SplitRegion", e))?
            .into_inner();
        if let Some(err) = answer.region_error {
            return Err(format!("SplitRegion: {}", err.message));
        }
        Ok(())
    }

    /// Runs `query` over `tasks`, `concurrency` regions at a time, at `start_ts`; answers the
    /// responses: each region's pages in order, regions in order.
    pub async fn run(
        &self,
        query: &Query,
        tasks: &[Task],
        start_ts: u64,
        concurrency: usize,
    ) -> Result<Vec<tipb::SelectResponse>, String> {
        let data = query.dag.encode_to_vec();
        let pages: Vec<Vec<tipb::SelectResponse>> = stream::iter(tasks.iter().cloned())
            .map(|task| self.clone().run_paged(task, data.clone(), start_ts))
            .buffered(concurrency.max(1))
            .try_collect()
            .await?;
        Ok(pages.into_iter().flatten().collect())
    }

    /// One region's pages: each request reads at most `PAGE_ROWS` rows, and the next one
    /// starts where the covered range ended, until a response says the range is done.
    async fn run_paged(
        mut self,
        task: Task,
        data: Vec<u8>,
        start_ts: u64,
    ) -> Result<Vec<tipb::SelectResponse>, String> {
        let mut answers = Vec::new();
        let mut range = task.range;
        loop {
            let request = coprocessor::Request {
                context: Some(task.context.clone()),
                tp: REQ_TYPE_DAG,
                data: data.clone(),
                start_ts,
                ranges: vec![range.clone()],
                paging_size: self.page_rows,
                ..Default::default()
            };
            let response = self
                .kv
                .coprocessor(request)
                .await
                .map_err(|e| failed("Coprocessor", e))?
                .into_inner();
            let covered = response.range.clone();
            answers.push(answer_of(response)?);
            let Some(covered) = covered else {
                return Ok(answers);
            };
            if !range.end.is_empty() && covered.end >= range.end {
                return Ok(answers);
            }
            if covered.end <= range.start {
                return Err(format!(
                    "a page covered {:?}..{:?}, which does not move through {:?}..{:?}",
                    covered.start, covered.end, range.start, range.end
                ));
            }
            range.start = covered.end;
        }
    }
}

fn answer_of(response: coprocessor::Response) -> Result<tipb::SelectResponse, String> {
    if let Some(err) = response.region_error {
        return Err(format!("region error: {}", err.message));
    }
    if !response.other_error.is_empty() {
        return Err(format!("coprocessor error: {}", response.other_error));
    }
    if response.locked.is_some() {
        return Err("the table is locked".into());
    }
    let answer = tipb::SelectResponse::decode(response.data.as_slice())
        .map_err(|e| failed("a SelectResponse", e))?;
    if let Some(err) = answer.error {
        return Err(format!("DAG error: {}", err.msg()));
    }
    Ok(answer)
}

/// A region boundary (memcomparable-encoded) as a raw key; empty stays empty.
fn raw_bound(encoded: &[u8]) -> Result<Vec<u8>, String> {
    if encoded.is_empty() {
        return Ok(Vec::new());
    }
    Key::from_encoded(encoded.to_vec())
        .to_raw()
        .map_err(|e| failed("a region boundary", e))
}

fn context(region: &metapb::Region, leader: metapb::Peer) -> kvrpcpb::Context {
    kvrpcpb::Context {
        region_id: region.id,
        region_epoch: region.region_epoch,
        peer: Some(leader),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::merge;
    use crate::testing::TestServer;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn paged_answers_are_the_unpaged_ones() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let data_dir = dir.path().join("store");
        let loaded = crate::load::load(&data_dir, 0.002, crate::now_ts(), false).expect("load");
        let rows = loaded.data.len() as u64;
        let server = TestServer::start_in(data_dir).await;
        let mut client = Client::connect(&server.kv(), &server.pd()).await.unwrap();
        client.split_table(3, rows).await.unwrap();
        let tasks = client.tasks().await.unwrap();
        assert_eq!(tasks.len(), 3);
        let ts = client.tso().await.unwrap();
        let mut paged = client.clone();
        paged.page_rows = 1000;
        let mut unpaged = client.clone();
        unpaged.page_rows = 0;
        for query in crate::dag::queries() {
            let whole = unpaged.run(&query, &tasks, ts, 2).await.unwrap();
            let pages = paged.run(&query, &tasks, ts, 2).await.unwrap();
            assert_eq!(whole.len(), 3, "{}", query.name);
            // About 12,000 rows in pages of 1,000 over three regions.
            assert!(pages.len() >= 12, "{}: {} pages", query.name, pages.len());
            assert_eq!(
                merge(query.kind, &pages, &query.output).unwrap(),
                merge(query.kind, &whole, &query.output).unwrap(),
                "{}",
                query.name
            );
        }
        server.shut_down().await;
    }
}
