//! UPDATE and DELETE. The table's rows are read in the statement's transaction (so a
//! concurrent change is a write conflict at commit, not a lost update), the WHERE clause and
//! the new values are evaluated by DataFusion over those rows, and the changed record keys and
//! index entries are written back in the same transaction. Rows are held in memory while the
//! statement runs, so these statements suit tables of up to millions of rows, not more.

use std::collections::HashSet;
use std::sync::Arc;

use basalt_chunk::codec::datum::Datum;
use basalt_chunk::codec::table::{self, Handle};
use basalt_chunk::column::Column;
use basalt_client::{Error as ClientError, Transaction};
use datafusion::arrow::array::{ArrayRef, AsArray, Int64Array};
use datafusion::arrow::compute::{cast_with_options, CastOptions};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::physical_plan::collect;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Expr as SqlExpr;

use crate::catalog::{PrimaryKey, TableInfo};
use crate::convert::{arrow_to_datum, column_to_arrow};
use crate::dml::key_name;
use crate::error::{Error, Result};
use crate::rows::{decode_row, encode_row, handle_of, index_entry, normalize, record_key};
use crate::session::Session;

/// The position column added to the rows DataFusion filters.
const ROW_COLUMN: &str = "__basalt_row";

/// Every row of `table` as the transaction sees it.
pub async fn read_rows(txn: &Transaction, table: &TableInfo) -> Result<Vec<(Handle, Vec<Datum>)>> {
    let (start, end) = table::record_range(table.id);
    let mut rows = Vec::new();
    let mut lower = start;
    loop {
        let page = txn.scan(&lower, &end, 1024).await?;
        let Some((last, _)) = page.last() else { break };
        lower = last.clone();
        lower.push(0);
        for (key, value) in &page {
            rows.push(decode_row(table, key, value)?);
        }
    }
    Ok(rows)
}

/// The rows as one record batch, plus their positions.
fn rows_batch(table: &TableInfo, rows: &[(Handle, Vec<Datum>)]) -> Result<RecordBatch> {
    let mut fields = Vec::with_capacity(table.columns.len() + 1);
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(table.columns.len() + 1);
    for (offset, column) in table.columns.iter().enumerate() {
        let ft = table.field_type(offset);
        let mut values = Column::new(&ft, rows.len())?;
        for (_, datums) in rows {
            values.push_datum(&datums[offset], &ft)?;
        }
        let data_type = column.ty.arrow_type();
        arrays.push(column_to_arrow(&values, &data_type)?);
        fields.push(Field::new(
            column.name.to_ascii_lowercase(),
            data_type,
            true,
        ));
    }
    fields.push(Field::new(ROW_COLUMN, DataType::Int64, false));
    arrays.push(Arc::new(Int64Array::from_iter_values(0..rows.len() as i64)));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(|e| Error::Plan(e.into()))
}

/// Runs `SELECT __basalt_row, <values> FROM <table> [WHERE <filter>]` over the rows.
async fn evaluate(
    session: &Session,
    table: &TableInfo,
    rows: &[(Handle, Vec<Datum>)],
    values: &[SqlExpr],
    filter: Option<&SqlExpr>,
) -> Result<Vec<RecordBatch>> {
    let ctx = session.bare_context();
    let batch = rows_batch(table, rows)?;
    let memory = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
    ctx.register_table(table.name.as_str(), Arc::new(memory))?;
    let mut sql = format!("SELECT {ROW_COLUMN}");
    for (i, value) in values.iter().enumerate() {
        sql.push_str(&format!(", {value} AS v{i}"));
    }
    sql.push_str(&format!(" FROM `{}`", table.name));
    if let Some(filter) = filter {
        sql.push_str(&format!(" WHERE {filter}"));
    }
    let mut statements = crate::session::parse(&sql)?;
    let mut statement = statements
        .pop()
        .ok_or_else(|| Error::Syntax("empty statement".into()))?;
    crate::dialect::rewrite(&mut statement);
    let state = ctx.state();
    let logical = state
        .statement_to_plan(DfStatement::Statement(Box::new(statement)))
        .await?;
    let physical = state.create_physical_plan(&logical).await?;
    Ok(collect(physical, ctx.task_ctx()).await?)
}

/// Keys to remove and write, applied so that a key both removed and rewritten is replaced.
#[derive(Default)]
struct Changes {
    deletes: HashSet<Vec<u8>>,
    writes: Vec<(Vec<u8>, Vec<u8>, bool)>,
}

impl Changes {
    fn delete_row(&mut self, table: &TableInfo, handle: &Handle, datums: &[Datum]) -> Result<()> {
        self.deletes.insert(record_key(table, handle));
        for index in &table.indexes {
            self.deletes
                .insert(index_entry(table, index, datums, handle)?.0);
        }
        Ok(())
    }

    /// Applies the changes to `txn`; a key that must be new and is written twice is a
    /// duplicate.
    fn apply(mut self, table: &TableInfo, txn: &mut Transaction) -> Result<()> {
        let mut created = HashSet::new();
        for (key, value, must_be_new) in self.writes {
            if must_be_new && !created.insert(key.clone()) {
                return Err(Error::DuplicateKey(key_name(table, &key)));
            }
            if self.deletes.remove(&key) || !must_be_new {
                txn.put(key, value);
            } else {
                txn.insert(key, value);
            }
        }
        for key in self.deletes {
            txn.delete(key);
        }
        Ok(())
    }
}

async fn commit(txn: Transaction, table: &TableInfo) -> Result<()> {
    match txn.commit().await {
        Ok(_) => Ok(()),
        Err(ClientError::AlreadyExists(key)) => Err(Error::DuplicateKey(key_name(table, &key))),
        Err(other) => Err(other.into()),
    }
}

/// (row position, row within its batch, batch index) of every row the query returned.
fn matched_rows(batches: &[RecordBatch]) -> Vec<(usize, usize, usize)> {
    let mut matched = Vec::new();
    for (index, batch) in batches.iter().enumerate() {
        let positions = batch.column(0).as_primitive::<Int64Type>();
        for row in 0..batch.num_rows() {
            matched.push((positions.value(row) as usize, row, index));
        }
    }
    matched
}

/// DELETE FROM `table` [WHERE `filter`]; returns the rows deleted.
pub async fn delete(session: &Session, table: &TableInfo, filter: Option<&SqlExpr>) -> Result<u64> {
    let mut txn = session.cluster().begin().await?;
    let rows = read_rows(&txn, table).await?;
    let batches = evaluate(session, table, &rows, &[], filter).await?;
    let mut changes = Changes::default();
    let matched = matched_rows(&batches);
    for (position, _, _) in &matched {
        let (handle, datums) = &rows[*position];
        changes.delete_row(table, handle, datums)?;
    }
    changes.apply(table, &mut txn)?;
    commit(txn, table).await?;
    session
        .catalog()
        .add_rows(table.id, -(matched.len() as i64))
        .await?;
    Ok(matched.len() as u64)
}

/// UPDATE `table` SET `assignments` [WHERE `filter`]; returns the rows changed.
pub async fn update(
    session: &Session,
    table: &TableInfo,
    assignments: &[(usize, SqlExpr)],
    filter: Option<&SqlExpr>,
) -> Result<u64> {
    let mut txn = session.cluster().begin().await?;
    let rows = read_rows(&txn, table).await?;
    let values: Vec<SqlExpr> = assignments.iter().map(|(_, v)| v.clone()).collect();
    let batches = evaluate(session, table, &rows, &values, filter).await?;
    let options = CastOptions {
        safe: false,
        ..Default::default()
    };
    // The new values cast to their columns' types, per batch.
    let mut cast: Vec<Vec<ArrayRef>> = Vec::with_capacity(batches.len());
    for batch in &batches {
        let arrays = assignments
            .iter()
            .enumerate()
            .map(|(i, (offset, _))| {
                let column = &table.columns[*offset];
                cast_with_options(batch.column(i + 1), &column.ty.arrow_type(), &options).map_err(
                    |e| Error::InvalidValue(format!("value for column '{}': {e}", column.name)),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        cast.push(arrays);
    }
    let mut changes = Changes::default();
    let mut changed = 0u64;
    for (position, row, batch) in matched_rows(&batches) {
        let (handle, old) = &rows[position];
        let mut new = old.clone();
        let arrays = &cast[batch];
        for ((offset, _), array) in assignments.iter().zip(arrays) {
            let value = arrow_to_datum(array.as_ref(), row, &table.columns[*offset].ty)?;
            new[*offset] = normalize(table, *offset, value)?;
        }
        if &new == old {
            continue;
        }
        changed += 1;
        let row_id = match (&table.primary, handle) {
            (PrimaryKey::Hidden, Handle::Int(id)) => Some(*id),
            _ => None,
        };
        let new_handle = handle_of(table, &new, row_id)?;
        changes.delete_row(table, handle, old)?;
        let encoded = encode_row(table, &new, &new_handle)?;
        let moved = &new_handle != handle;
        changes.writes.push((encoded.key, encoded.value, moved));
        changes.writes.extend(encoded.indexes);
    }
    changes.apply(table, &mut txn)?;
    commit(txn, table).await?;
    Ok(changed)
}
