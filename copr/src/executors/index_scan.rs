//! IndexScan: reads index entries and decodes the asked columns: the indexed values from the
//! key's datums (or from the restored data in the value, where new collations keep only sort
//! keys in the key), and the row handle from the key (non-unique indexes) or from the value
//! (unique indexes).

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
    /// Whether the last column is the handle.
    with_handle: bool,
}

impl<S: ScanSource> IndexScanExecutor<S> {
    /// A scan of `ranges` (index keys) as described by `scan`.
    pub fn new(
        source: S,
        scan: &tipb::IndexScan,
        ranges: Vec<(Vec<u8>, Vec<u8>)>,
        paging: Paging,
    ) -> Result<Self> {
        if !scan.primary_column_ids.is_empty() {
            return Err(Error::Unsupported(
                "index scans of clustered common-handle tables".into(),
            ));
        }
        let mut schema = Vec::with_capacity(scan.columns.len());
        let mut column_ids = Vec::with_capacity(scan.columns.len());
        let mut with_handle = false;
        for (i, column) in scan.columns.iter().enumerate() {
            let is_handle = column.pk_handle() || column.column_id() == EXTRA_HANDLE_ID;
            if is_handle && i + 1 != scan.columns.len() {
                return Err(Error::InvalidDag(
                    "the handle must be the last index column".into(),
                ));
            }
            with_handle |= is_handle;
            schema.push(FieldType::from_column_info(column)?);
            column_ids.push(column.column_id());
        }
        Ok(IndexScanExecutor {
            source,
            ranges: RangeCursor::new(ranges, scan.desc(), paging),
            schema,
            column_ids,
            with_handle,
        })
    }

    fn decode_entry(&self, key: &[u8], value: &[u8], columns: &mut [Column]) -> Result<()> {
        let (_, _, mut datums) = table::decode_index_key(key)?;
        let parts = split_index_value(value)?;
        let restored = parts.restored.map(RowSlice::parse).transpose()?;
        let indexed = self.schema.len() - usize::from(self.with_handle);
        let indexed_columns = self
            .schema
            .iter()
            .zip(&self.column_ids)
            .zip(columns.iter_mut());
        for ((field_type, column_id), column) in indexed_columns.take(indexed) {
            let in_key = datum::typed(datum::decode_one(&mut datums)?, field_type)?;
            let value = match restored.as_ref().and_then(|row| row.search(*column_id)) {
                Some(ColumnValue::Value(bytes)) => datum::from_row_v2(bytes, field_type)?,
                Some(ColumnValue::Null) => Datum::Null,
                None => in_key,
            };
            column.push_datum(&value, field_type)?;
        }
        if self.with_handle {
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
        Ok(())
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
                columns,
            },
            drained,
        })
    }

    fn collect_summaries(&self, _out: &mut Vec<ExecSummary>) {}
}
