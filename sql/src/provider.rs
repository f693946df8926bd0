//! Basalt tables as DataFusion tables. A scan becomes a pushed-down DAG (columns, the filters
//! Basalt can evaluate, the limit), sent to every region of the table's record range at one
//! start_ts, a few regions at a time; each region's chunk answer becomes Arrow record batches
//! as it arrives, so a large result streams instead of piling up.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use basalt_chunk::chunk_codec::decode_chunk;
use basalt_chunk::types::FieldType;
use basalt_client::{Cluster, CopRequest, RegionInfo};
use basalt_proto::tipb;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::catalog::Session;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::Statistics;
use datafusion::datasource::source_as_provider;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Expr, LogicalPlan, TableProviderFilterPushDown, TableScan};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::statistics::StatisticsArgs;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning,
    PlanProperties, ReplaceChildrenOptions, SendableRecordBatchStream,
};
use futures::{StreamExt, TryStreamExt};
use parking_lot::Mutex;
use prost::Message;

use crate::catalog::TableInfo;
use crate::convert::column_to_arrow;
use crate::dag::{scan_dag, CopOperator, PushedDag};
use crate::error::Error;
use crate::pushdown::{filter_to_tipb, ColumnResolver};

/// The coprocessor request type of a DAG.
const REQ_TYPE_DAG: i64 = 103;
/// Regions asked at the same time by one scan.
const REGION_CONCURRENCY: usize = 4;
/// Rows a region's first coprocessor call may scan; each later call of the region scans twice
/// as many, up to `MAX_PAGE_ROWS`. A region of any size is read in calls of bounded length
/// (an unpaged call over a large region ran past the client's timeout), and small reads stay
/// one call.
const FIRST_PAGE_ROWS: u64 = 4096;
/// The most rows one coprocessor call scans (see `FIRST_PAGE_ROWS`).
const MAX_PAGE_ROWS: u64 = 65536;

/// A Basalt table for DataFusion.
#[derive(Debug)]
pub struct BasaltTable {
    pub(crate) cluster: ClusterHandle,
    pub(crate) info: Arc<TableInfo>,
    schema: SchemaRef,
    pub(crate) row_count: u64,
}

/// `Cluster` with a `Debug` that DataFusion's traits need.
#[derive(Clone)]
pub struct ClusterHandle(pub Cluster);

impl fmt::Debug for ClusterHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cluster")
    }
}

/// The Arrow schema of a table.
pub fn arrow_schema(info: &TableInfo) -> SchemaRef {
    let fields: Vec<Field> = info
        .columns
        .iter()
        .map(|c| Field::new(c.name.to_ascii_lowercase(), c.ty.arrow_type(), !c.not_null))
        .collect();
    Arc::new(Schema::new(fields))
}

impl BasaltTable {
    /// The table `info` of `cluster`, with its estimated row count.
    pub fn new(cluster: Cluster, info: TableInfo, row_count: u64) -> Self {
        BasaltTable {
            cluster: ClusterHandle(cluster),
            schema: arrow_schema(&info),
            info: Arc::new(info),
            row_count,
        }
    }
}

/// Resolves names against all columns of a table (for deciding what can be pushed).
struct TableColumns<'a>(&'a TableInfo);

impl ColumnResolver for TableColumns<'_> {
    fn resolve(&self, name: &str) -> Option<(usize, DataType)> {
        let offset = self.0.column_offset(name).ok()?;
        Some((offset, self.0.columns[offset].ty.arrow_type()))
    }
}

/// Resolves names against the columns a scan reads.
pub(crate) struct ScanColumns<'a> {
    pub(crate) table: &'a TableInfo,
    pub(crate) offsets: &'a [Option<usize>],
}

impl ColumnResolver for ScanColumns<'_> {
    fn resolve(&self, name: &str) -> Option<(usize, DataType)> {
        let offset = self.table.column_offset(name).ok()?;
        let position = self.offsets.iter().position(|o| *o == Some(offset))?;
        Some((position, self.table.columns[offset].ty.arrow_type()))
    }
}

/// The columns a scan reads: the projected ones plus whatever the pushed filters use (at least
/// one, to count rows).
pub(crate) fn scan_offsets(
    info: &TableInfo,
    projected: &[usize],
    filters: &[Expr],
) -> DfResult<Vec<Option<usize>>> {
    let mut offsets: Vec<Option<usize>> = projected.iter().map(|&o| Some(o)).collect();
    for filter in filters {
        for column in filter.column_refs() {
            let offset = info.column_offset(&column.name)?;
            if !offsets.contains(&Some(offset)) {
                offsets.push(Some(offset));
            }
        }
    }
    if offsets.is_empty() {
        offsets.push(Some(0));
    }
    Ok(offsets)
}

/// The table offsets a scan outputs: the projection, or every column.
fn projected_columns(info: &TableInfo, projection: Option<&Vec<usize>>) -> Vec<usize> {
    match projection {
        Some(p) => p.clone(),
        None => (0..info.columns.len()).collect(),
    }
}

/// The filters as coprocessor conditions (with their text for EXPLAIN), or `None` if one of
/// them cannot be pushed.
fn pushed_conditions(
    info: &TableInfo,
    offsets: &[Option<usize>],
    filters: &[Expr],
) -> Option<Vec<(tipb::Expr, String)>> {
    let resolver = ScanColumns {
        table: info,
        offsets,
    };
    filters
        .iter()
        .map(|f| Some((filter_to_tipb(f, &resolver)?, f.to_string())))
        .collect()
}

/// The columns a scan's answer carries and their types: the projected ones, or with nothing
/// projected the first scanned column (which only counts rows).
pub(crate) fn scan_output(
    info: &TableInfo,
    projected: &[usize],
    offsets: &[Option<usize>],
) -> Vec<(DataType, FieldType)> {
    let decoded: Vec<usize> = if projected.is_empty() {
        offsets.iter().take(1).flatten().copied().collect()
    } else {
        projected.to_vec()
    };
    decoded
        .iter()
        .map(|&o| (info.columns[o].ty.arrow_type(), info.field_type(o)))
        .collect()
}

/// What a pushed-down rule needs from a Basalt table scan in a logical plan.
pub(crate) struct ScanParts {
    /// The table's offsets DataFusion reads, in its order.
    pub(crate) projected: Vec<usize>,
    /// The columns the DAG reads (projected ones first).
    pub(crate) offsets: Vec<Option<usize>>,
    /// The scan's filters as coprocessor conditions (with their text for EXPLAIN).
    pub(crate) conditions: Vec<(tipb::Expr, String)>,
}

/// Runs `f` on `input` when it is a Basalt table scan without a limit, with the scan's parts.
pub(crate) fn on_basalt_scan<T>(
    input: &LogicalPlan,
    f: impl FnOnce(&TableScan, &BasaltTable, ScanParts) -> Option<T>,
) -> Option<T> {
    let LogicalPlan::TableScan(scan) = input else {
        return None;
    };
    if scan.fetch.is_some() {
        return None;
    }
    let provider = source_as_provider(&scan.source).ok()?;
    let any: &dyn std::any::Any = provider.as_ref();
    let table = any.downcast_ref::<BasaltTable>()?;
    let info = &table.info;
    let projected = projected_columns(info, scan.projection.as_ref());
    let offsets = scan_offsets(info, &projected, &scan.filters).ok()?;
    let conditions = pushed_conditions(info, &offsets, &scan.filters)?;
    f(
        scan,
        table,
        ScanParts {
            projected,
            offsets,
            conditions,
        },
    )
}

#[async_trait]
impl TableProvider for BasaltTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        let columns = TableColumns(&self.info);
        Ok(filters
            .iter()
            .map(|f| match filter_to_tipb(f, &columns) {
                Some(_) => TableProviderFilterPushDown::Exact,
                None => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    fn statistics(&self) -> Option<Statistics> {
        let mut stats = Statistics::new_unknown(&self.schema);
        stats.num_rows = Precision::Inexact(self.row_count as usize);
        Some(stats)
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let projected = projected_columns(&self.info, projection);
        let offsets = scan_offsets(&self.info, &projected, filters)?;
        let conditions = pushed_conditions(&self.info, &offsets, filters).ok_or_else(|| {
            DataFusionError::Internal("a filter was accepted but cannot be pushed".into())
        })?;
        // With nothing projected the first scanned column still comes back, to count rows.
        let output_offsets: Vec<u32> = (0..projected.len().max(1) as u32).collect();
        let dag = scan_dag(
            &self.info,
            &offsets,
            conditions,
            limit,
            output_offsets,
            self.row_count,
        );
        let output = scan_output(&self.info, &projected, &offsets);
        let schema = Arc::new(self.schema.project(&projected)?);
        Ok(Arc::new(BasaltScanExec::new(
            self.cluster.clone(),
            Arc::clone(&self.info),
            dag,
            output,
            schema,
        )))
    }
}

/// Execution counts of one pushed-down executor, summed over regions.
#[derive(Debug, Clone, Default)]
pub struct CopStats {
    /// Rows produced.
    pub rows: u64,
    /// Time spent, in nanoseconds (summed over regions).
    pub time_ns: u64,
    /// `next_batch` calls.
    pub loops: u64,
}

/// What a scan saw while running, for EXPLAIN ANALYZE.
#[derive(Debug, Default)]
pub struct ScanRuntime {
    /// Per pushed-down executor.
    pub operators: Vec<CopStats>,
    /// Coprocessor responses received (regions and pages).
    pub responses: u64,
}

/// Reads a table through the coprocessor.
pub struct BasaltScanExec {
    cluster: ClusterHandle,
    table: Arc<TableInfo>,
    dag: PushedDag,
    output: Vec<(DataType, FieldType)>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
    runtime: Arc<Mutex<ScanRuntime>>,
}

impl fmt::Debug for BasaltScanExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BasaltScanExec({})", self.table.name)
    }
}

impl BasaltScanExec {
    /// A scan running `dag`, whose answer has the `output` columns, as `schema`.
    pub(crate) fn new(
        cluster: ClusterHandle,
        table: Arc<TableInfo>,
        dag: PushedDag,
        output: Vec<(DataType, FieldType)>,
        schema: SchemaRef,
    ) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        BasaltScanExec {
            cluster,
            table,
            dag,
            output,
            schema,
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
            runtime: Arc::new(Mutex::new(ScanRuntime::default())),
        }
    }

    /// The pushed-down executors, for EXPLAIN.
    pub fn cop_operators(&self) -> &[CopOperator] {
        &self.dag.operators
    }

    /// The table read.
    pub fn table_name(&self) -> &str {
        &self.table.name
    }

    /// What the scan saw while running.
    pub fn runtime(&self) -> Arc<Mutex<ScanRuntime>> {
        Arc::clone(&self.runtime)
    }
}

impl DisplayAs for BasaltScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chain: Vec<String> = self
            .dag
            .operators
            .iter()
            .map(|op| format!("{}({})", op.name, op.detail))
            .collect();
        write!(f, "BasaltScanExec: cop[basalt] {}", chain.join(" -> "))
    }
}

/// Decodes one coprocessor answer into record batches and adds its summaries to `runtime`.
fn decode_response(
    data: &[u8],
    output: &[(DataType, FieldType)],
    schema: &SchemaRef,
    runtime: &Mutex<ScanRuntime>,
) -> Result<Vec<RecordBatch>, Error> {
    let response = tipb::SelectResponse::decode(data)
        .map_err(|e| Error::Catalog(format!("undecodable coprocessor answer: {e}")))?;
    if let Some(err) = response.error {
        return Err(Error::InvalidValue(format!(
            "coprocessor error {}: {}",
            err.code(),
            err.msg()
        )));
    }
    {
        let mut runtime = runtime.lock();
        runtime.responses += 1;
        if runtime.operators.len() < response.execution_summaries.len() {
            runtime
                .operators
                .resize(response.execution_summaries.len(), CopStats::default());
        }
        for (stats, summary) in runtime
            .operators
            .iter_mut()
            .zip(&response.execution_summaries)
        {
            stats.rows += summary.num_produced_rows();
            stats.time_ns += summary.time_processed_ns();
            stats.loops += summary.num_iterations();
        }
    }
    let types: Vec<FieldType> = output.iter().map(|(_, ft)| ft.clone()).collect();
    let mut batches = Vec::with_capacity(response.chunks.len());
    for chunk in &response.chunks {
        let data = chunk.rows_data();
        if data.is_empty() {
            continue;
        }
        let columns = decode_chunk(data, &types)?;
        let rows = columns.first().map_or(0, |c| c.len());
        // A row-count-only scan decodes one column to count rows and returns none.
        let arrays = columns
            .iter()
            .zip(output)
            .take(schema.fields().len())
            .map(|(column, (ty, _))| column_to_arrow(column, ty))
            .collect::<Result<Vec<_>, Error>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        batches.push(
            RecordBatch::try_new_with_options(Arc::clone(schema), arrays, &options)
                .map_err(DataFusionError::from)?,
        );
    }
    Ok(batches)
}

impl ExecutionPlan for BasaltScanExec {
    fn name(&self) -> &str {
        "BasaltScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    #[allow(deprecated)]
    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn statistics_from_inputs(
        &self,
        _input_stats: &[Arc<Statistics>],
        _args: &StatisticsArgs,
    ) -> DfResult<Arc<Statistics>> {
        let mut stats = Statistics::new_unknown(&self.schema);
        if let Some(last) = self.dag.operators.last() {
            stats.num_rows = Precision::Inexact(last.estimated_rows as usize);
        }
        Ok(Arc::new(stats))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let cluster = self.cluster.0.clone();
        let dag = self.dag.clone();
        let output = Arc::new(self.output.clone());
        let schema = Arc::clone(&self.schema);
        let runtime = Arc::clone(&self.runtime);
        let output_rows = MetricBuilder::new(&self.metrics).output_rows(partition);
        let elapsed = MetricBuilder::new(&self.metrics).elapsed_compute(partition);
        let batch_schema = Arc::clone(&schema);
        let setup = async move {
            let start_ts = cluster.timestamp().await.map_err(Error::from)?;
            let mut regions: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            for (start, end) in &dag.ranges {
                for region in cluster.regions(start, end).await.map_err(Error::from)? {
                    regions.push(clip(start, end, &region));
                }
            }
            let data = Arc::new(dag.request.encode_to_vec());
            let fetches = futures::stream::iter(regions).map(move |range| {
                let cluster = cluster.clone();
                let data = Arc::clone(&data);
                let output = Arc::clone(&output);
                let schema = Arc::clone(&batch_schema);
                let runtime = Arc::clone(&runtime);
                let output_rows = output_rows.clone();
                let elapsed = elapsed.clone();
                async move {
                    let request = CopRequest {
                        tp: REQ_TYPE_DAG,
                        data: data.to_vec(),
                        start_ts,
                        ranges: vec![range],
                        paging_size: FIRST_PAGE_ROWS,
                        max_paging_size: MAX_PAGE_ROWS,
                        concurrency: 1,
                    };
                    let responses = cluster.coprocessor(request).await.map_err(Error::from)?;
                    let timer = elapsed.timer();
                    let mut batches = Vec::new();
                    for response in responses {
                        batches.extend(decode_response(
                            &response.data,
                            &output,
                            &schema,
                            &runtime,
                        )?);
                    }
                    timer.done();
                    for batch in &batches {
                        output_rows.add(batch.num_rows());
                    }
                    Ok::<_, Error>(futures::stream::iter(
                        batches.into_iter().map(Ok::<RecordBatch, Error>),
                    ))
                }
            });
            Ok::<_, Error>(fetches.buffered(REGION_CONCURRENCY).try_flatten())
        };
        let stream = futures::stream::once(setup)
            .try_flatten()
            .map_err(DataFusionError::from);
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

/// `[start, end)` clipped to a region.
fn clip(start: &[u8], end: &[u8], region: &RegionInfo) -> (Vec<u8>, Vec<u8>) {
    let r_start = region.region.start_key.as_slice();
    let r_end = region.region.end_key.as_slice();
    let lower = if start < r_start { r_start } else { start };
    let upper = match (end.is_empty(), r_end.is_empty()) {
        (true, _) => r_end,
        (false, true) => end,
        (false, false) => {
            if end < r_end {
                end
            } else {
                r_end
            }
        }
    };
    (lower.to_vec(), upper.to_vec())
}
