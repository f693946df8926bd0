//! IndexScan: reads index entries and decodes the asked columns: the indexed values from the
//! key's datums (or from the restored data in the value, where new collations keep only sort
//! keys in the key), and the row handle from the key (non-unique indexes) or from the value
//! (unique indexes); for clustered tables, the primary key columns from the common handle
//! (appended to the key, or in the value of unique indexes).

use basalt_chunk::codec::datum::{self, Datum};
use basalt_chunk::codec::index::split_index_value;
use basalt_chunk::codec::row_v2::{ColumnValue, RowSlice};
use basalt_chunk::codec::table;
use basalt_chunk::column::Column;
use basalt_chunk::types::FieldType;
use basalt_expr::EvalContext;
use basalt_proto::tipb;

use super::ranges::{Paging, RangeCursor};
use super::table_scan::EXTRA_HANDLE_ID;
use super::{Batch, BatchExecutor, BatchResult, ExecSummary};
use crate::error::{Error, Result};
use crate::source::ScanSource;

/// Scans index entries.
pub struct IndexScanExecutor<S: ScanSource> {
    source: S,
    ranges: RangeCursor,
    schema: Vec<FieldType>,
    column_ids: Vec<i64>,
    /// The columns decoded from the row handle.
    handle: HandleColumns,
}

impl<S: ScanSource> IndexScanExecutor<S> {
    /// A scan of `ranges` (index keys) as described by `scan`.
    pub fn new(
        source: S,
        scan: &tipb::IndexScan,
        ranges: Vec<(Vec<u8>, Vec<u8>)>,
        paging: Paging,
    ) -> Result<Self> {
        let mut schema = Vec::with_capacity(scan.columns.len());
        let mut column_ids = Vec::with_capacity(scan.columns.len());
        let mut int_handle = false;
        for (i, column) in scan.columns.iter().enumerate() {
            let is_handle = column.pk_handle() || column.column_id() == EXTRA_HANDLE_ID;
            if is_handle && i + 1 != scan.columns.len() {
                return Err(Error::InvalidDag(
                    "the handle must be the last index column".into(),
                ));
            }
            int_handle |= is_handle;
            schema.push(FieldType::from_column_info(column)?);
            column_ids.push(column.column_id());
        }
        let handle = match scan.primary_column_ids.len() {
            0 if int_handle => HandleColumns::Int,
            0 => HandleColumns::None,
            _ if int_handle => {
                return Err(Error::InvalidDag(
                    "an index scan has either an int handle or primary columns".into(),
                ))
            }
            // The common handle's columns close the column list, in primary key order.
            count if count <= scan.columns.len() => HandleColumns::Common(count),
            count => {
                return Err(Error::InvalidDag(format!(
                    "{count} primary columns but only {} columns",
                    scan.columns.len()
                )))
            }
        };
        Ok(IndexScanExecutor {
            source,
            ranges: RangeCursor::new(ranges, scan.desc(), paging),
            schema,
            column_ids,
            handle,
        })
    }

    fn decode_entry(&self, key: &[u8], value: &[u8], columns: &mut [Column]) -> Result<()> {
        let (_, _, mut datums) = table::decode_index_key(key)?;
        let parts = split_index_value(value)?;
        let restored = parts.restored.map(RowSlice::parse).transpose()?;
        let indexed = self.schema.len() - self.handle.len();
        // Takes the next datum of `from`, preferring the restored value of `column_id` (new
        // collations keep only sort keys in keys).
        let take = |from: &mut &[u8], index: usize| -> Result<Datum> {
            let field_type = &self.schema[index];
            let in_key = datum::typed(datum::decode_one(from)?, field_type)?;
            Ok(
                match restored
                    .as_ref()
                    .and_then(|row| row.search(self.column_ids[index]))
                {
                    Some(ColumnValue::Value(bytes)) => datum::from_row_v2(bytes, field_type)?,
                    Some(ColumnValue::Null) => Datum::Null,
                    None => in_key,
                },
            )
        };
        for (index, column) in columns.iter_mut().enumerate().take(indexed) {
            let value = take(&mut datums, index)?;
            column.push_datum(&value, &self.schema[index])?;
        }
        match self.handle {
            HandleColumns::None => {}
            HandleColumns::Int => {
                let handle = match parts.int_handle {
                    Some(handle) => handle,
                    None => match datum::decode_one(&mut datums)? {
                        Datum::Int(handle) => handle,
                        Datum::Uint(handle) => handle as i64,
                        other => {
                            return Err(Error::InvalidDag(format!(
                                "index entry without an int handle: {other:?}"
                            )))
                        }
                    },
                };
                columns[indexed].push_datum(&Datum::Int(handle), &self.schema[indexed])?;
            }
            HandleColumns::Common(count) => {
                // A unique index keeps the handle in its value; others append it to the key.
                let mut handle = parts.common_handle.unwrap_or(datums);
                let handle_columns = columns.iter_mut().enumerate().skip(indexed).take(count);
                for (index, column) in handle_columns {
                    let value = take(&mut handle, index)?;
                    column.push_datum(&value, &self.schema[index])?;
                }
            }
        }
        Ok(())
    }
}

/// Which trailing columns of an index scan come from the row handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HandleColumns {
    /// None.
    None,
    /// The last column is the int handle.
    Int,
    /// The last `n` columns are the clustered common handle's primary key columns.
    Common(usize),
}

impl HandleColumns {
    fn len(self) -> usize {
        match self {
            HandleColumns::None => 0,
            HandleColumns::Int => 1,
            HandleColumns::Common(count) => count,
        }
    }
}

impl<S: ScanSource> BatchExecutor for IndexScanExecutor<S> {
    fn schema(&self) -> &[FieldType] {
        &self.schema
    }

    fn next_batch(&mut self, _ctx: &mut EvalContext, scan_rows: usize) -> Result<BatchResult> {
        let pairs = self.ranges.read(&mut self.source, scan_rows.max(1))?;
        let drained = self.ranges.is_drained();
        let mut columns = self
            .schema
            .iter()
            .map(|ft| Ok(Column::new(ft, pairs.len())?))
            .collect::<Result<Vec<_>>>()?;
        for (key, value) in &pairs {
            self.decode_entry(key, value, &mut columns)?;
        }
        Ok(BatchResult {
            batch: Batch {
                logical_rows: (0..pairs.len()).collect(),
                deferred: None,
                columns,
            },
            drained,
        })
    }

    fn collect_summaries(&self, _out: &mut Vec<ExecSummary>) {}
}
