//! Writes: rows from Arrow record batches (the result of `VALUES` or a `SELECT`) become TiDB
//! rows and index entries in Percolator transactions. A key that must be new (a primary key, a
//! unique index entry) is written with the `Insert` operation, so a duplicate fails the whole
//! transaction and nothing of it is written.

use std::collections::HashSet;

use basalt_chunk::codec::datum::Datum;
use basalt_chunk::codec::table;
use basalt_client::{Cluster, Error as ClientError, Transaction};
use datafusion::arrow::array::{Array, ArrayRef};
use datafusion::arrow::compute::{cast_with_options, CastOptions};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::DataFusionError;

use crate::catalog::{Catalog, PrimaryKey, TableInfo};
use crate::convert::arrow_to_datum;
use crate::error::{Error, Result};
use crate::rows::{encode_row, handle_of, normalize};

/// Writes batches into one table.
pub struct RowWriter<'a> {
    cluster: &'a Cluster,
    catalog: &'a Catalog,
    table: &'a TableInfo,
    /// Table column offset of each batch column.
    targets: Vec<usize>,
    /// Values of columns the batches do not give.
    defaults: Vec<Datum>,
    txn: Option<Transaction>,
    /// Keys the open transaction must create, to catch duplicates within it.
    new_keys: HashSet<Vec<u8>>,
    /// Commit after this many rows (loads); `None`: one transaction for everything.
    rows_per_txn: Option<usize>,
    pending: usize,
    written: u64,
    max_auto_value: i64,
}

impl<'a> RowWriter<'a> {
    /// A writer of `targets` columns; `defaults` holds a value for every table column.
    pub fn new(
        cluster: &'a Cluster,
        catalog: &'a Catalog,
        table: &'a TableInfo,
        targets: Vec<usize>,
        defaults: Vec<Datum>,
        rows_per_txn: Option<usize>,
    ) -> Self {
        RowWriter {
            cluster,
            catalog,
            table,
            targets,
            defaults,
            txn: None,
            new_keys: HashSet::new(),
            rows_per_txn,
            pending: 0,
            written: 0,
            max_auto_value: 0,
        }
    }

    fn auto_column(&self) -> Option<usize> {
        self.table.columns.iter().position(|c| c.auto_increment)
    }

    /// Buffers (and, past `rows_per_txn`, commits) the rows of `batch`.
    pub async fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_columns() != self.targets.len() {
            return Err(Error::InvalidValue(format!(
                "Column count doesn't match value count: {} columns, {} values",
                self.targets.len(),
                batch.num_columns()
            )));
        }
        let options = CastOptions {
            safe: false,
            ..Default::default()
        };
        let arrays: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .zip(&self.targets)
            .map(|(array, &offset)| {
                let target = self.table.columns[offset].ty.arrow_type();
                cast_with_options(array, &target, &options).map_err(|e| {
                    Error::InvalidValue(format!(
                        "value for column '{}': {e}",
                        self.table.columns[offset].name
                    ))
                })
            })
            .collect::<Result<_>>()?;
        let rows = batch.num_rows();
        let needs_ids = self.table.primary == PrimaryKey::Hidden || self.auto_column().is_some();
        let mut next_id = if needs_ids && rows > 0 {
            self.catalog
                .alloc_handles(self.table.id, rows as u64)
                .await?
        } else {
            0
        };
        if self.txn.is_none() {
            self.txn = Some(self.cluster.begin().await?);
        }
        for row in 0..rows {
            let mut datums = self.defaults.clone();
            for (array, &offset) in arrays.iter().zip(&self.targets) {
                datums[offset] =
                    arrow_to_datum(array.as_ref(), row, &self.table.columns[offset].ty)?;
            }
            let mut row_id = None;
            if needs_ids {
                row_id = Some(next_id);
                next_id += 1;
            }
            if let Some(auto) = self.auto_column() {
                match datums[auto] {
                    Datum::Null => datums[auto] = Datum::Int(row_id.unwrap_or_default()),
                    Datum::Int(v) => self.max_auto_value = self.max_auto_value.max(v),
                    Datum::Uint(v) => self.max_auto_value = self.max_auto_value.max(v as i64),
                    _ => {}
                }
            }
            for (offset, datum) in datums.iter_mut().enumerate() {
                *datum = normalize(self.table, offset, std::mem::replace(datum, Datum::Null))?;
            }
            let handle = handle_of(self.table, &datums, row_id)?;
            let encoded = encode_row(self.table, &datums, &handle)?;
            let txn = self.txn.as_mut().expect("a transaction was begun above");
            if !self.new_keys.insert(encoded.key.clone()) {
                return Err(Error::DuplicateKey(key_name(self.table, &encoded.key)));
            }
            txn.insert(encoded.key, encoded.value);
            for (key, value, unique) in encoded.indexes {
                if unique {
                    if !self.new_keys.insert(key.clone()) {
                        return Err(Error::DuplicateKey(key_name(self.table, &key)));
                    }
                    txn.insert(key, value);
                } else {
                    txn.put(key, value);
                }
            }
            self.pending += 1;
        }
        if self.rows_per_txn.is_some_and(|limit| self.pending >= limit) {
            self.commit_pending().await?;
        }
        Ok(())
    }

    async fn commit_pending(&mut self) -> Result<()> {
        self.new_keys.clear();
        if let Some(txn) = self.txn.take() {
            match txn.commit().await {
                Ok(_) => {}
                Err(ClientError::AlreadyExists(key)) => {
                    return Err(Error::DuplicateKey(key_name(self.table, &key)))
                }
                Err(other) => return Err(other.into()),
            }
            self.written += self.pending as u64;
            self.pending = 0;
        }
        Ok(())
    }

    /// Commits what is buffered and returns the rows written.
    pub async fn finish(mut self) -> Result<u64> {
        self.commit_pending().await?;
        if self.max_auto_value > 0 {
            self.catalog
                .rebase_handles(self.table.id, self.max_auto_value)
                .await?;
        }
        self.catalog
            .add_rows(self.table.id, self.written as i64)
            .await?;
        Ok(self.written)
    }
}

/// The MySQL name of the key a duplicate was found on: `PRIMARY` or the index name.
pub fn key_name(table: &TableInfo, key: &[u8]) -> String {
    let index = table::decode_index_key(key)
        .ok()
        .and_then(|(_, index_id, _)| table.indexes.iter().find(|i| i.id == index_id));
    match index {
        Some(index) => format!("{}.{}", table.name, index.name),
        None => format!("{}.PRIMARY", table.name),
    }
}

/// The datum of a DEFAULT literal evaluated by DataFusion into `array` row 0.
pub fn default_datum(array: &dyn Array, ty: &crate::types::SqlType) -> Result<Datum> {
    let target = ty.arrow_type();
    let options = CastOptions {
        safe: false,
        ..Default::default()
    };
    let cast = cast_with_options(array, &target, &options)
        .map_err(|e| Error::Plan(DataFusionError::from(e)))?;
    arrow_to_datum(cast.as_ref(), 0, ty)
}
