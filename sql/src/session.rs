//! A SQL session: parses a statement (MySQL dialect) and runs it. DDL and DML are handled
//! here against the catalog and transactions; queries are planned by DataFusion over Basalt
//! tables, whose scans push work down to the coprocessor.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use basalt_chunk::codec::datum::Datum;
use basalt_client::Cluster;
use datafusion::arrow::array::StringArray;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::{collect, execute_stream, ExecutionPlan};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{
    AssignmentTarget, FromTable, ObjectType, Statement, TableFactor, TableObject, TableWithJoins,
};
use futures::StreamExt;
use parking_lot::Mutex;

use crate::aggregate::PushDownAggregate;
use crate::catalog::{Catalog, IndexInfo, TableInfo};
use crate::ddl::{build_table, index_column_name, object_name};
use crate::dml::{default_datum, RowWriter};
use crate::error::{Error, Result};
use crate::explain::explain_table;
use crate::mutate;
use crate::provider::BasaltTable;
use crate::rows::index_entry;
use crate::topn::PushDownTopN;

/// What a statement produced.
#[derive(Debug)]
pub enum Output {
    /// A result set.
    Rows {
        /// Column names and types.
        schema: SchemaRef,
        /// The rows.
        batches: Vec<RecordBatch>,
    },
    /// Rows written or removed.
    Affected(u64),
    /// A statement without rows (DDL).
    Done,
}

/// The one table a single-table UPDATE or DELETE names.
fn single_table(table: &TableWithJoins) -> Result<String> {
    match &table.relation {
        TableFactor::Table { name, .. } if table.joins.is_empty() => Ok(object_name(name)),
        _ => Err(Error::Unsupported("UPDATE/DELETE of joined tables".into())),
    }
}

/// Parses `sql` into statements.
pub fn parse(sql: &str) -> Result<Vec<Statement>> {
    crate::dialect::parse(sql).map_err(|e| Error::Syntax(e.to_string()))
}

/// A connection to a Basalt cluster that runs SQL.
#[derive(Clone)]
pub struct Session {
    cluster: Cluster,
    catalog: Catalog,
    /// The context of the last statement, reused while the schema version is unchanged.
    cached: Arc<Mutex<Option<CachedContext>>>,
}

struct CachedContext {
    version: i64,
    loaded: Instant,
    ctx: SessionContext,
}

/// How long table row counts (estimates only) may be reused.
const ROW_COUNT_TTL: Duration = Duration::from_secs(1);

impl Session {
    /// Connects to the cluster whose PD is at `pd`.
    pub async fn connect(pd: &str) -> Result<Session> {
        Ok(Session::new(Cluster::connect(pd).await?))
    }

    /// A session over a connected cluster.
    pub fn new(cluster: Cluster) -> Session {
        Session {
            catalog: Catalog::new(cluster.clone()),
            cluster,
            cached: Arc::new(Mutex::new(None)),
        }
    }

    /// The cluster.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// A DataFusion context configured for MySQL, without tables.
    pub fn bare_context(&self) -> SessionContext {
        let config = SessionConfig::new()
            .with_target_partitions(2)
            .set_str("datafusion.sql_parser.dialect", "mysql")
            .set_bool("datafusion.sql_parser.parse_float_as_decimal", true)
            // MySQL sorts NULL as the smallest value: first ascending, last descending.
            .set_str("datafusion.sql_parser.default_null_ordering", "nulls_min");
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .with_optimizer_rule(Arc::new(PushDownAggregate))
            .with_optimizer_rule(Arc::new(PushDownTopN))
            .build();
        SessionContext::new_with_state(state)
    }

    /// A DataFusion context with every table registered.
    pub async fn context(&self) -> Result<SessionContext> {
        let version = self.catalog.version().await?;
        if let Some(cached) = self.cached.lock().as_ref() {
            if cached.version == version && cached.loaded.elapsed() < ROW_COUNT_TTL {
                return Ok(cached.ctx.clone());
            }
        }
        let ctx = self.bare_context();
        for table in self.catalog.tables().await? {
            let rows = self.catalog.row_count(table.id).await?;
            let name = table.name.clone();
            ctx.register_table(
                name.as_str(),
                Arc::new(BasaltTable::new(self.cluster.clone(), table, rows)),
            )?;
        }
        *self.cached.lock() = Some(CachedContext {
            version,
            loaded: Instant::now(),
            ctx: ctx.clone(),
        });
        Ok(ctx)
    }

    /// Runs every statement of `sql`, returning the output of each.
    pub async fn execute_all(&self, sql: &str) -> Result<Vec<Output>> {
        let mut outputs = Vec::new();
        for statement in parse(sql)? {
            outputs.push(self.run(statement).await?);
        }
        Ok(outputs)
    }

    /// Runs one parsed statement.
    pub async fn execute_statement(&self, statement: Statement) -> Result<Output> {
        self.run(statement).await
    }

    /// Runs one statement (the last output if `sql` holds several).
    pub async fn execute(&self, sql: &str) -> Result<Output> {
        let mut outputs = self.execute_all(sql).await?;
        outputs
            .pop()
            .ok_or_else(|| Error::Syntax("empty statement".into()))
    }

    /// Plans a query into a physical plan.
    pub async fn plan_query(
        &self,
        mut statement: Statement,
    ) -> Result<(SessionContext, Arc<dyn ExecutionPlan>)> {
        crate::dialect::rewrite(&mut statement);
        let ctx = self.context().await?;
        let state = ctx.state();
        let logical = state
            .statement_to_plan(DfStatement::Statement(Box::new(statement)))
            .await?;
        let physical = state.create_physical_plan(&logical).await?;
        Ok((ctx, physical))
    }

    /// Runs a query as a stream of batches (for results too large to hold).
    pub async fn query_stream(&self, sql: &str) -> Result<SendableRecordBatchStream> {
        let mut statements = parse(sql)?;
        let statement = statements
            .pop()
            .ok_or_else(|| Error::Syntax("empty statement".into()))?;
        let (ctx, plan) = self.plan_query(statement).await?;
        Ok(execute_stream(plan, ctx.task_ctx())?)
    }

    async fn run(&self, statement: Statement) -> Result<Output> {
        match statement {
            Statement::Query(_) => {
                let (ctx, plan) = self.plan_query(statement).await?;
                let schema = plan.schema();
                let batches = collect(plan, ctx.task_ctx()).await?;
                Ok(Output::Rows { schema, batches })
            }
            Statement::Explain {
                analyze, statement, ..
            } => {
                let (ctx, plan) = self.plan_query(*statement).await?;
                if analyze {
                    collect(Arc::clone(&plan), ctx.task_ctx()).await?;
                }
                let (schema, batch) = explain_table(&plan, analyze)?;
                Ok(Output::Rows {
                    schema,
                    batches: vec![batch],
                })
            }
            Statement::CreateTable(create) => {
                let if_not_exists = create.if_not_exists;
                let table = build_table(&self.catalog, &create).await?;
                match self.catalog.create(&table).await {
                    Err(Error::TableExists(_)) if if_not_exists => Ok(Output::Done),
                    Err(err) => Err(err),
                    Ok(()) => Ok(Output::Done),
                }
            }
            Statement::Drop {
                object_type: ObjectType::Table,
                if_exists,
                names,
                ..
            } => {
                for name in &names {
                    match self.catalog.table(&object_name(name)).await {
                        Ok(table) => self.drop_table(&table).await?,
                        Err(Error::UnknownTable(_)) if if_exists => {}
                        Err(err) => return Err(err),
                    }
                }
                Ok(Output::Done)
            }
            Statement::Insert(insert) => {
                let TableObject::TableName(name) = &insert.table else {
                    return Err(Error::Unsupported("INSERT into a table function".into()));
                };
                let source = insert
                    .source
                    .ok_or_else(|| Error::Unsupported("INSERT ... SET".into()))?;
                let table = self.catalog.table(&object_name(name)).await?;
                let targets = if insert.columns.is_empty() {
                    (0..table.columns.len()).collect()
                } else {
                    insert
                        .columns
                        .iter()
                        .map(|c| table.column_offset(&object_name(c)))
                        .collect::<Result<Vec<_>>>()?
                };
                let rows = self
                    .insert(&table, targets, Statement::Query(source), None)
                    .await?;
                Ok(Output::Affected(rows))
            }
            Statement::CreateIndex(create) => {
                let table = self.catalog.table(&object_name(&create.table_name)).await?;
                let name = create
                    .name
                    .as_ref()
                    .map(object_name)
                    .unwrap_or_else(|| format!("idx_{}", table.indexes.len() + 1));
                if table
                    .indexes
                    .iter()
                    .any(|i| i.name.eq_ignore_ascii_case(&name))
                {
                    if create.if_not_exists {
                        return Ok(Output::Done);
                    }
                    return Err(Error::InvalidValue(format!("Duplicate key name '{name}'")));
                }
                let mut columns = Vec::with_capacity(create.columns.len());
                for column in &create.columns {
                    columns.push(table.column_offset(&index_column_name(column)?)?);
                }
                self.create_index(table, name, columns, create.unique)
                    .await?;
                Ok(Output::Done)
            }
            Statement::Delete(delete) => {
                let tables = match &delete.from {
                    FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
                };
                let [only] = tables.as_slice() else {
                    return Err(Error::Unsupported("DELETE from several tables".into()));
                };
                if delete.limit.is_some() || !delete.order_by.is_empty() || delete.using.is_some() {
                    return Err(Error::Unsupported(
                        "DELETE with ORDER BY, LIMIT or USING".into(),
                    ));
                }
                let table = self.catalog.table(&single_table(only)?).await?;
                let rows = mutate::delete(self, &table, delete.selection.as_ref()).await?;
                Ok(Output::Affected(rows))
            }
            Statement::Update(update) => {
                if update.from.is_some() {
                    return Err(Error::Unsupported("UPDATE ... FROM".into()));
                }
                let table = self.catalog.table(&single_table(&update.table)?).await?;
                let mut assignments = Vec::with_capacity(update.assignments.len());
                for assignment in &update.assignments {
                    let AssignmentTarget::ColumnName(name) = &assignment.target else {
                        return Err(Error::Unsupported("UPDATE of a column tuple".into()));
                    };
                    let offset = table.column_offset(&object_name(name))?;
                    assignments.push((offset, assignment.value.clone()));
                }
                let rows =
                    mutate::update(self, &table, &assignments, update.selection.as_ref()).await?;
                Ok(Output::Affected(rows))
            }
            Statement::ShowTables { .. } => {
                let names: Vec<String> = self
                    .catalog
                    .tables()
                    .await?
                    .into_iter()
                    .map(|t| t.name)
                    .collect();
                let schema: SchemaRef = Arc::new(Schema::new(vec![Field::new(
                    "Tables",
                    DataType::Utf8,
                    false,
                )]));
                let batch = RecordBatch::try_new(
                    Arc::clone(&schema),
                    vec![Arc::new(StringArray::from(names))],
                )
                .map_err(datafusion::error::DataFusionError::from)?;
                Ok(Output::Rows {
                    schema,
                    batches: vec![batch],
                })
            }
            other => Err(Error::Unsupported(format!(
                "statement {}",
                other
                    .to_string()
                    .split_whitespace()
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" ")
            ))),
        }
    }

    /// The values of columns an INSERT leaves out: their DEFAULT, else NULL.
    async fn defaults(&self, ctx: &SessionContext, table: &TableInfo) -> Result<Vec<Datum>> {
        let mut defaults = Vec::with_capacity(table.columns.len());
        for column in &table.columns {
            let value = match &column.default {
                None => Datum::Null,
                Some(text) => {
                    let batches = ctx.sql(&format!("SELECT {text}")).await?.collect().await?;
                    let array = batches
                        .first()
                        .map(|b| Arc::clone(b.column(0)))
                        .ok_or_else(|| Error::InvalidValue(format!("default {text}")))?;
                    default_datum(array.as_ref(), &column.ty)?
                }
            };
            defaults.push(value);
        }
        Ok(defaults)
    }

    /// Inserts the rows of `source` (a query) into `targets` columns of `table`.
    pub async fn insert(
        &self,
        table: &TableInfo,
        targets: Vec<usize>,
        source: Statement,
        rows_per_txn: Option<usize>,
    ) -> Result<u64> {
        let (ctx, plan) = self.plan_query(source).await?;
        let defaults = self.defaults(&ctx, table).await?;
        for (offset, column) in table.columns.iter().enumerate() {
            if !targets.contains(&offset)
                && column.not_null
                && defaults[offset] == Datum::Null
                && !column.auto_increment
            {
                return Err(Error::InvalidValue(format!(
                    "Field '{}' doesn't have a default value",
                    column.name
                )));
            }
        }
        let mut writer = RowWriter::new(
            &self.cluster,
            &self.catalog,
            table,
            targets,
            defaults,
            rows_per_txn,
        );
        let mut stream = execute_stream(plan, ctx.task_ctx())?;
        while let Some(batch) = stream.next().await {
            writer.write(&batch?).await?;
        }
        writer.finish().await
    }

    /// Adds an index: writes the entries of every existing row (unique ones must be new, so a
    /// duplicate fails the statement before the definition changes), then the definition.
    /// Rows written by other sessions while it runs are not indexed.
    async fn create_index(
        &self,
        mut table: TableInfo,
        name: String,
        columns: Vec<usize>,
        unique: bool,
    ) -> Result<()> {
        let id = table.indexes.iter().map(|i| i.id).max().unwrap_or(0) + 1;
        let index = IndexInfo {
            id,
            name,
            columns,
            unique,
        };
        let mut txn = self.cluster.begin().await?;
        let mut new_keys = HashSet::new();
        for (handle, datums) in mutate::read_rows(&txn, &table).await? {
            let (key, value, must_be_new) = index_entry(&table, &index, &datums, &handle)?;
            if must_be_new {
                if !new_keys.insert(key.clone()) {
                    return Err(Error::DuplicateKey(format!(
                        "{}.{}",
                        table.name, index.name
                    )));
                }
                txn.insert(key, value);
            } else {
                txn.put(key, value);
            }
        }
        match txn.commit().await {
            Ok(_) => {}
            Err(basalt_client::Error::AlreadyExists(_)) => {
                return Err(Error::DuplicateKey(format!(
                    "{}.{}",
                    table.name, index.name
                )))
            }
            Err(other) => return Err(other.into()),
        }
        table.indexes.push(index);
        self.catalog.update(&table).await
    }

    /// Removes a table's rows, index entries and definition.
    async fn drop_table(&self, table: &TableInfo) -> Result<()> {
        self.catalog.drop(table).await?;
        let start = basalt_chunk::codec::table::table_prefix(table.id);
        let mut end = start.clone();
        end.push(0xFF);
        loop {
            let ts = self.cluster.timestamp().await?;
            let keys = self.cluster.snapshot(ts).scan(&start, &end, 4096).await?;
            if keys.is_empty() {
                return Ok(());
            }
            let mut txn = self.cluster.begin().await?;
            for (key, _) in keys {
                txn.delete(key);
            }
            txn.commit().await?;
        }
    }
}
