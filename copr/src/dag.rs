//! Running a `tipb.DAGRequest`: building the executor pipeline from the leaf-first `executors`
//! list (or the `root_executor` tree), pulling batches that grow from 32 to 8192 rows, and
//! encoding the output columns as TiDB chunks (or datum rows) into a `SelectResponse` with
//! warnings and, when asked, per-executor execution summaries.

use std::time::Instant;

use basalt_chunk::chunk_codec::encode_column;
use basalt_chunk::codec::datum;
use basalt_chunk::time::Tz;
use basalt_chunk::types::FieldType;
use basalt_expr::aggr::AggrFunction;
use basalt_expr::{EvalContext, RpnExpression};
use basalt_proto::tipb::{self, EncodeType, ExecType};

use crate::error::{Error, Result};
use crate::executors::PageProgress;
use crate::executors::{
    datum_at, AggregationExecutor, BatchExecutor, ExecSummary, IndexScanExecutor, LimitExecutor,
    OrderBy, ProjectionExecutor, SelectionExecutor, Summarized, TableScanExecutor, TopNExecutor,
};
use crate::source::ScanSource;

/// The key range a page covered, `[start, end)`.
pub type CoveredRange = (Vec<u8>, Vec<u8>);

/// First batch size.
pub const INITIAL_BATCH_ROWS: usize = 32;
/// Largest batch size.
pub const MAX_BATCH_ROWS: usize = 8192;
/// The most executors a DAG may chain.
pub const MAX_EXECUTORS: usize = 64;

/// A built DAG, ready to run.
pub struct DagRunner {
    root: Box<dyn BatchExecutor>,
    output_offsets: Vec<usize>,
    output_types: Vec<FieldType>,
    encode_type: EncodeType,
    collect_summaries: bool,
    ctx: EvalContext,
    deadline: Option<(Instant, u64)>,
    page: PageProgress,
}

/// The executors of a DAG, leaf first, from either form.
fn leaf_first(dag: &tipb::DagRequest) -> Result<Vec<tipb::Executor>> {
    if !dag.executors.is_empty() {
        return Ok(dag.executors.clone());
    }
    let mut list = Vec::new();
    let mut next = dag.root_executor.clone();
    while let Some(mut executor) = next {
        if list.len() >= MAX_EXECUTORS {
            return Err(Error::InvalidDag(format!(
                "more than {MAX_EXECUTORS} executors"
            )));
        }
        next = match executor.tp() {
            ExecType::TypeSelection => executor.selection.as_mut().and_then(|e| e.child.take()),
            ExecType::TypeProjection => executor.projection.as_mut().and_then(|e| e.child.take()),
            ExecType::TypeLimit => executor.limit.as_mut().and_then(|e| e.child.take()),
            ExecType::TypeTopN => executor.top_n.as_mut().and_then(|e| e.child.take()),
            ExecType::TypeAggregation | ExecType::TypeStreamAgg => {
                executor.aggregation.as_mut().and_then(|e| e.child.take())
            }
            _ => None,
        }
        .map(|child| *child);
        list.push(executor);
    }
    list.reverse();
    Ok(list)
}

fn compile_all(exprs: &[tipb::Expr], schema: &[FieldType]) -> Result<Vec<RpnExpression>> {
    exprs
        .iter()
        .map(|expr| Ok(RpnExpression::compile(expr, schema)?))
        .collect()
}

fn missing(what: &str) -> Error {
    Error::InvalidDag(format!("executor without its {what} description"))
}

impl DagRunner {
    /// Builds the pipeline of `dag` reading `ranges` (user keys) from `source`;
    /// `max_execution_ms` (0: none) bounds the run.
    pub fn build<S: ScanSource + 'static>(
        dag: &tipb::DagRequest,
        ranges: Vec<(Vec<u8>, Vec<u8>)>,
        source: S,
        max_execution_ms: u64,
    ) -> Result<DagRunner> {
        Self::build_paged(dag, ranges, source, max_execution_ms, 0)
    }

    /// Like `build`, reading at most `paging_size` rows (0: all) from the scan; `run_paged`
    /// then tells where the page ended.
    pub fn build_paged<S: ScanSource + 'static>(
        dag: &tipb::DagRequest,
        ranges: Vec<(Vec<u8>, Vec<u8>)>,
        source: S,
        max_execution_ms: u64,
        paging_size: u64,
    ) -> Result<DagRunner> {
        let page = PageProgress::default();
        let paging = (paging_size > 0).then(|| (paging_size, page.clone()));
        let executors = leaf_first(dag)?;
        if executors.len() > MAX_EXECUTORS {
            return Err(Error::InvalidDag(format!(
                "more than {MAX_EXECUTORS} executors"
            )));
        }
        let (first, rest) = executors
            .split_first()
            .ok_or_else(|| Error::InvalidDag("no executors".into()))?;
        let mut root: Box<dyn BatchExecutor> = match first.tp() {
            ExecType::TypeTableScan => {
                let scan = first
                    .tbl_scan
                    .as_ref()
                    .ok_or_else(|| missing("table scan"))?;
                let scan = TableScanExecutor::new(source, scan, ranges, paging)?;
                // A Selection right above decodes only what its conditions read, for the rows
                // still in play, and the rest for the rows it keeps; an aggregation decodes
                // only what it reads, its decimal sums straight into scaled integers.
                let scan = match rest.first().map(|e| e.tp()) {
                    Some(
                        ExecType::TypeSelection
                        | ExecType::TypeAggregation
                        | ExecType::TypeStreamAgg,
                    ) => scan.deferring(),
                    _ => scan,
                };
                Box::new(Summarized::new(scan))
            }
            ExecType::TypeIndexScan => {
                let scan = first
                    .idx_scan
                    .as_ref()
                    .ok_or_else(|| missing("index scan"))?;
                Box::new(Summarized::new(IndexScanExecutor::new(
                    source, scan, ranges, paging,
                )?))
            }
            other => {
                return Err(Error::InvalidDag(format!(
                    "the first executor must be a scan, not {}",
                    other.as_str_name()
                )))
            }
        };
        for (at, executor) in rest.iter().enumerate() {
            let schema = root.schema().to_vec();
            let parent = rest.get(at + 1).map(|e| e.tp());
            root = match executor.tp() {
                ExecType::TypeSelection => {
                    let selection = executor
                        .selection
                        .as_ref()
                        .ok_or_else(|| missing("selection"))?;
                    let conditions = compile_all(&selection.conditions, &schema)?;
                    let selection = SelectionExecutor::new(root, conditions);
                    let selection = match parent {
                        Some(ExecType::TypeAggregation | ExecType::TypeStreamAgg) => {
                            selection.passing_deferred()
                        }
                        _ => selection,
                    };
                    Box::new(Summarized::new(selection))
                }
                ExecType::TypeProjection => {
                    let projection = executor
                        .projection
                        .as_ref()
                        .ok_or_else(|| missing("projection"))?;
                    let exprs = compile_all(&projection.exprs, &schema)?;
                    Box::new(Summarized::new(ProjectionExecutor::new(root, exprs)))
                }
                ExecType::TypeLimit => {
                    let limit = executor.limit.as_ref().ok_or_else(|| missing("limit"))?;
                    let count = usize::try_from(limit.limit()).unwrap_or(usize::MAX);
                    Box::new(Summarized::new(LimitExecutor::new(root, count)))
                }
                ExecType::TypeTopN => {
                    let top_n = executor.top_n.as_ref().ok_or_else(|| missing("top-N"))?;
                    let order_by = top_n
                        .order_by
                        .iter()
                        .map(|item| {
                            let expr = item
                                .expr
                                .as_ref()
                                .ok_or_else(|| missing("order-by expression"))?;
                            Ok(OrderBy {
                                expr: RpnExpression::compile(expr, &schema)?,
                                desc: item.desc(),
                            })
                        })
                        .collect::<Result<Vec<_>>>()?;
                    let limit = usize::try_from(top_n.limit()).unwrap_or(usize::MAX);
                    let partition_by = top_n
                        .partition_by
                        .iter()
                        .map(|item| {
                            let expr = item
                                .expr
                                .as_ref()
                                .ok_or_else(|| missing("partition-by expression"))?;
                            Ok(RpnExpression::compile(expr, &schema)?)
                        })
                        .collect::<Result<Vec<_>>>()?;
                    Box::new(Summarized::new(
                        TopNExecutor::new(root, order_by, limit)?.with_partitions(partition_by),
                    ))
                }
                ExecType::TypeAggregation | ExecType::TypeStreamAgg => {
                    let aggregation = executor
                        .aggregation
                        .as_ref()
                        .ok_or_else(|| missing("aggregation"))?;
                    let group_by = compile_all(&aggregation.group_by, &schema)?;
                    let aggrs = aggregation
                        .agg_func
                        .iter()
                        .map(|expr| Ok(AggrFunction::compile(expr, &schema)?))
                        .collect::<Result<Vec<_>>>()?;
                    Box::new(Summarized::new(AggregationExecutor::new(
                        root, group_by, aggrs,
                    )?))
                }
                other => {
                    return Err(Error::Unsupported(format!(
                        "executor {} is not implemented yet",
                        other.as_str_name()
                    )))
                }
            };
        }
        let schema = root.schema().to_vec();
        let output_offsets = if dag.output_offsets.is_empty() {
            (0..schema.len()).collect()
        } else {
            dag.output_offsets
                .iter()
                .map(|&o| o as usize)
                .collect::<Vec<_>>()
        };
        let output_types = output_offsets
            .iter()
            .map(|&offset| {
                schema.get(offset).cloned().ok_or_else(|| {
                    Error::InvalidDag(format!(
                        "output offset {offset} outside a {}-column result",
                        schema.len()
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let tz = Tz::from_dag(dag.time_zone_name(), dag.time_zone_offset())?;
        let mut ctx = EvalContext::new(dag.flags(), dag.sql_mode(), tz);
        if let Some(max) = dag.max_warning_count {
            ctx.max_warnings = usize::try_from(max).unwrap_or(usize::MAX).min(4096);
        }
        Ok(DagRunner {
            root,
            output_offsets,
            output_types,
            encode_type: dag.encode_type(),
            collect_summaries: dag.collect_execution_summaries(),
            ctx,
            deadline: (max_execution_ms > 0).then(|| (Instant::now(), max_execution_ms)),
            page,
        })
    }

    /// Runs to the end and returns the response.
    pub fn run(self) -> Result<tipb::SelectResponse> {
        Ok(self.run_paged()?.0)
    }

    /// Runs to the end of the page; also returns the key range the page covered when the scan
    /// stopped early (None when everything was read).
    pub fn run_paged(mut self) -> Result<(tipb::SelectResponse, Option<CoveredRange>)> {
        let mut response = tipb::SelectResponse {
            encode_type: Some(self.encode_type as i32),
            ..Default::default()
        };
        let mut batch_rows = INITIAL_BATCH_ROWS;
        loop {
            if let Some((start, budget)) = self.deadline {
                if start.elapsed().as_millis() as u64 > budget {
                    return Err(Error::DeadlineExceeded(budget));
                }
            }
            let result = self.root.next_batch(&mut self.ctx, batch_rows)?;
            batch_rows = (batch_rows * 2).min(MAX_BATCH_ROWS);
            if !result.batch.logical_rows.is_empty() {
                let mut rows_data = Vec::new();
                let batch = &result.batch;
                match self.encode_type {
                    EncodeType::TypeChunk => {
                        for (&offset, field_type) in
                            self.output_offsets.iter().zip(&self.output_types)
                        {
                            encode_column(
                                &batch.columns[offset],
                                field_type,
                                &batch.logical_rows,
                                &mut rows_data,
                            )?;
                        }
                    }
                    _ => {
                        for &row in &batch.logical_rows {
                            for (&offset, field_type) in
                                self.output_offsets.iter().zip(&self.output_types)
                            {
                                let value = datum_at(&batch.columns[offset], field_type, row)?;
                                datum::encode_value(&mut rows_data, &value)?;
                            }
                        }
                    }
                }
                response.chunks.push(tipb::Chunk {
                    rows_data: Some(rows_data),
                    rows_meta: Vec::new(),
                });
            }
            if result.drained {
                break;
            }
        }
        if self.encode_type != EncodeType::TypeChunk {
            response.encode_type = Some(EncodeType::TypeDefault as i32);
        }
        let (warnings, count) = self.ctx.take_warnings();
        response.warnings = warnings
            .into_iter()
            .map(|w| tipb::Error {
                code: Some(w.code as i32),
                msg: Some(w.message),
            })
            .collect();
        response.warning_count = Some(count as i64);
        if self.collect_summaries {
            let mut summaries: Vec<ExecSummary> = Vec::new();
            self.root.collect_summaries(&mut summaries);
            response.execution_summaries = summaries
                .into_iter()
                .map(|s| tipb::ExecutorExecutionSummary {
                    time_processed_ns: Some(s.time_processed_ns),
                    num_produced_rows: Some(s.num_produced_rows),
                    num_iterations: Some(s.num_iterations),
                    ..Default::default()
                })
                .collect();
        }
        let covered = self.page.lock().ok().and_then(|mut slot| slot.take());
        Ok((response, covered))
    }
}
