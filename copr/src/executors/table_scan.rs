//! TableScan: reads rows of a table's key ranges and decodes the asked columns: the int handle
//! from the key (`pk_handle` columns, or column id -1 for `_tidb_rowid`), the rest from row v2
//! or old-format values, with each column's default for rows written before it existed.
//! Clustered tables with a common handle (`primary_column_ids`) take their primary-key columns
//! from the key's datums where the row value does not hold them.

use basalt_chunk::codec::datum::{self, Datum};
use basalt_chunk::codec::row_v2::{self, ColumnValue, RowSlice};
use basalt_chunk::codec::table::{self, Handle};
use basalt_chunk::column::{Column, FixedColumn};
use basalt_chunk::lazy::{decode_columns, ColumnSchema, RawRows};
use basalt_chunk::types::FieldType;
use basalt_expr::EvalContext;
use basalt_proto::tipb;

use super::ranges::{Paging, RangeCursor};
use super::{Batch, BatchExecutor, BatchResult, Deferred, ExecSummary};
use crate::error::{Error, Result};
use crate::source::ScanSource;

/// The most a batch's row buffer is sized for up front.
const MAX_RESERVE_BYTES: usize = 8 << 20;

/// Column id TiDB uses for the hidden `_tidb_rowid` handle.
pub const EXTRA_HANDLE_ID: i64 = -1;

enum Output {
    Handle,
    Stored(usize),
}

/// Scans table rows.
pub struct TableScanExecutor<S: ScanSource> {
    source: S,
    ranges: RangeCursor,
    schema: Vec<FieldType>,
    outputs: Vec<Output>,
    stored: Vec<ColumnSchema>,
    /// For clustered tables with a common handle: the primary key's column ids, in key order.
    primary_column_ids: Vec<i64>,
    /// Leave stored columns undecoded in `Batch::deferred` (the parent is a Selection, which
    /// decodes what each condition reads for the rows still in play).
    defer: bool,
    /// Bytes per row of the last batch, to size the next one's buffer.
    row_bytes: usize,
}

impl<S: ScanSource> TableScanExecutor<S> {
    /// A scan of `ranges` (user keys) as described by `scan`.
    pub fn new(
        source: S,
        scan: &tipb::TableScan,
        ranges: Vec<(Vec<u8>, Vec<u8>)>,
        paging: Paging,
    ) -> Result<Self> {
        let mut schema = Vec::with_capacity(scan.columns.len());
        let mut outputs = Vec::with_capacity(scan.columns.len());
        let mut stored = Vec::new();
        for column in &scan.columns {
            let field_type = FieldType::from_column_info(column)?;
            if column.pk_handle() || column.column_id() == EXTRA_HANDLE_ID {
                outputs.push(Output::Handle);
            } else {
                let default = match column.default_val.as_deref() {
                    Some(bytes) if !bytes.is_empty() => {
                        let mut input = bytes;
                        datum::typed(datum::decode_one(&mut input)?, &field_type)?
                    }
                    _ => Datum::Null,
                };
                outputs.push(Output::Stored(stored.len()));
                stored.push(ColumnSchema {
                    column_id: column.column_id(),
                    field_type: field_type.clone(),
                    default,
                });
            }
            schema.push(field_type);
        }
        Ok(TableScanExecutor {
            source,
            ranges: RangeCursor::new(ranges, scan.desc(), paging),
            schema,
            outputs,
            stored,
            primary_column_ids: scan.primary_column_ids.clone(),
            defer: false,
            row_bytes: 0,
        })
    }

    /// Hands batches over with their stored columns undecoded (see `Batch::deferred`); only
    /// for a parent that decodes them before anything else reads the batch.
    pub fn deferring(mut self) -> Self {
        self.defer = true;
        self
    }
}

impl<S: ScanSource> TableScanExecutor<S> {
    /// Rows of a clustered table with a common handle: primary-key columns come from the row
    /// value when it holds them (TiDB stores them there when the key alone cannot restore
    /// them, e.g. under a case-insensitive collation) and otherwise from the key's datums.
    fn decode_clustered(&self, pairs: &[(Vec<u8>, Vec<u8>)]) -> Result<Vec<Column>> {
        let mut columns = self
            .schema
            .iter()
            .map(|ft| Ok(Column::new(ft, pairs.len())?))
            .collect::<Result<Vec<_>>>()?;
        for (key, value) in pairs {
            let (_, handle) = table::decode_row_key(key, true)?;
            let Handle::Common(handle) = handle else {
                return Err(Error::InvalidDag(
                    "clustered row key without a common handle".into(),
                ));
            };
            let key_datums = datum::decode_all(&handle)?;
            if !row_v2::is_row_v2(value) {
                return Err(Error::Unsupported(
                    "old-format rows in a clustered table".into(),
                ));
            }
            let row = RowSlice::parse(value)?;
            for (output, column) in self.outputs.iter().zip(columns.iter_mut()) {
                let Output::Stored(index) = output else {
                    return Err(Error::InvalidDag(
                        "a clustered table has no int handle column".into(),
                    ));
                };
                let schema = &self.stored[*index];
                let datum = match row.search(schema.column_id) {
                    Some(ColumnValue::Value(bytes)) => {
                        datum::from_row_v2(bytes, &schema.field_type)?
                    }
                    Some(ColumnValue::Null) => Datum::Null,
                    None => match self
                        .primary_column_ids
                        .iter()
                        .position(|id| *id == schema.column_id)
                    {
                        Some(at) => {
                            let raw = key_datums.get(at).cloned().ok_or_else(|| {
                                Error::InvalidDag(format!(
                                    "common handle lacks primary key column {at}"
                                ))
                            })?;
                            datum::typed(raw, &schema.field_type)?
                        }
                        None => schema.default.clone(),
                    },
                };
                column.push_datum(&datum, &schema.field_type)?;
            }
        }
        Ok(columns)
    }
}

impl<S: ScanSource> BatchExecutor for TableScanExecutor<S> {
    fn schema(&self) -> &[FieldType] {
        &self.schema
    }

    fn next_batch(&mut self, _ctx: &mut EvalContext, scan_rows: usize) -> Result<BatchResult> {
        if !self.primary_column_ids.is_empty() {
            let pairs = self.ranges.read(&mut self.source, scan_rows.max(1))?;
            let columns = self.decode_clustered(&pairs)?;
            return Ok(BatchResult {
                batch: Batch {
                    logical_rows: (0..pairs.len()).collect(),
                    columns,
                    deferred: None,
                },
                drained: self.ranges.is_drained(),
            });
        }
        // Rows go from the scan straight into one buffer, their handles decoded on the way.
        let wants_handle = self.outputs.iter().any(|o| matches!(o, Output::Handle));
        let mut handles = FixedColumn::with_capacity(if wants_handle { scan_rows } else { 0 });
        let want = scan_rows.max(1);
        // Sized from the last batch, within reason: rows of huge values grow as they come.
        let reserve = want.saturating_mul(self.row_bytes).min(MAX_RESERVE_BYTES);
        let mut rows = RawRows::with_capacity(want, reserve);
        let mut user_key = Vec::new();
        let count = self
            .ranges
            .read_each(&mut self.source, want, |key, value| {
                if wants_handle {
                    match table::decode_row_key(key.user_key(&mut user_key)?, false)? {
                        (_, Handle::Int(handle)) => handles.push(Some(handle)),
                        (_, Handle::Common(_)) => {
                            return Err(Error::Unsupported("common handles".into()))
                        }
                    }
                }
                rows.push(value);
                Ok(())
            })?;
        let drained = self.ranges.is_drained();
        if let Some(per_row) = rows.bytes().checked_div(count) {
            // A little over the last batch's average, so a similar batch needs no regrowth.
            self.row_bytes = per_row + 8;
        }
        if self.defer {
            let mut columns = Vec::with_capacity(self.outputs.len());
            let mut deferred = Vec::new();
            for (index, (output, field_type)) in self.outputs.iter().zip(&self.schema).enumerate() {
                columns.push(match output {
                    Output::Handle => Column::Int(handles.clone()),
                    Output::Stored(at) => {
                        deferred.push((index, self.stored[*at].clone()));
                        Column::new(field_type, 0)?
                    }
                });
            }
            return Ok(BatchResult {
                batch: Batch {
                    columns,
                    logical_rows: (0..count).collect(),
                    deferred: (!deferred.is_empty()).then(|| {
                        Box::new(Deferred {
                            rows,
                            columns: deferred,
                        })
                    }),
                },
                drained,
            });
        }
        let mut stored = decode_columns(&rows, &self.stored)?
            .into_iter()
            .map(Some)
            .collect::<Vec<_>>();
        let mut columns = Vec::with_capacity(self.outputs.len());
        for output in &self.outputs {
            columns.push(match output {
                Output::Handle => Column::Int(handles.clone()),
                Output::Stored(index) => stored[*index]
                    .take()
                    .ok_or_else(|| Error::InvalidDag("column decoded twice".into()))?,
            });
        }
        Ok(BatchResult {
            batch: Batch {
                logical_rows: (0..count).collect(),
                columns,
                deferred: None,
            },
            drained,
        })
    }

    fn collect_summaries(&self, _out: &mut Vec<ExecSummary>) {}
}
