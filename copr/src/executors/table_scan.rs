//! TableScan: reads rows of a table's key ranges and decodes the asked columns: the int handle
//! from the key (`pk_handle` columns, or column id -1 for `_tidb_rowid`), the rest from row v2
//! or old-format values, with each column's default for rows written before it existed.

use std::collections::VecDeque;

use basalt_chunk::codec::datum::{self, Datum};
use basalt_chunk::codec::table::{self, Handle};
use basalt_chunk::column::{Column, FixedColumn};
use basalt_chunk::lazy::{decode_columns, ColumnSchema, RawRows};
use basalt_chunk::types::FieldType;
use basalt_expr::EvalContext;
use basalt_proto::tipb;

use super::{Batch, BatchExecutor, BatchResult, ExecSummary};
use crate::error::{Error, Result};
use crate::source::ScanSource;

/// Column id TiDB uses for the hidden `_tidb_rowid` handle.
pub const EXTRA_HANDLE_ID: i64 = -1;

enum Output {
    Handle,
    Stored(usize),
}

/// Scans table rows.
pub struct TableScanExecutor<S: ScanSource> {
    source: S,
    ranges: VecDeque<(Vec<u8>, Vec<u8>)>,
    desc: bool,
    schema: Vec<FieldType>,
    outputs: Vec<Output>,
    stored: Vec<ColumnSchema>,
    scanned_keys: u64,
}

impl<S: ScanSource> TableScanExecutor<S> {
    /// A scan of `ranges` (user keys) as described by `scan`.
    pub fn new(source: S, scan: &tipb::TableScan, ranges: Vec<(Vec<u8>, Vec<u8>)>) -> Result<Self> {
        if !scan.primary_column_ids.is_empty() {
            return Err(Error::Unsupported(
                "table scans of clustered common-handle tables".into(),
            ));
        }
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
        let mut ranges: VecDeque<_> = ranges.into();
        if scan.desc() {
            ranges = ranges.into_iter().rev().collect();
        }
        Ok(TableScanExecutor {
            source,
            ranges,
            desc: scan.desc(),
            schema,
            outputs,
            stored,
            scanned_keys: 0,
        })
    }

    /// Keys read so far.
    pub fn scanned_keys(&self) -> u64 {
        self.scanned_keys
    }

    fn read(&mut self, limit: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut pairs = Vec::new();
        while pairs.len() < limit {
            let Some((lower, upper)) = self.ranges.front_mut() else {
                break;
            };
            let want = limit - pairs.len();
            let got = self.source.scan(lower, upper, self.desc, want)?;
            let exhausted = got.len() < want;
            if let Some((last, _)) = got.last() {
                // Resume after the last key: just above it going up, at it (exclusive) going down.
                if self.desc {
                    *upper = last.clone();
                } else {
                    let mut next = last.clone();
                    next.push(0);
                    *lower = next;
                }
            }
            pairs.extend(got);
            if exhausted {
                self.ranges.pop_front();
            }
        }
        self.scanned_keys += pairs.len() as u64;
        Ok(pairs)
    }
}

impl<S: ScanSource> BatchExecutor for TableScanExecutor<S> {
    fn schema(&self) -> &[FieldType] {
        &self.schema
    }

    fn next_batch(&mut self, _ctx: &mut EvalContext, scan_rows: usize) -> Result<BatchResult> {
        let pairs = self.read(scan_rows.max(1))?;
        let drained = self.ranges.is_empty();
        let mut handles = FixedColumn::with_capacity(pairs.len());
        let mut rows = RawRows::default();
        for (key, value) in &pairs {
            if self.outputs.iter().any(|o| matches!(o, Output::Handle)) {
                match table::decode_row_key(key, false)? {
                    (_, Handle::Int(handle)) => handles.push(Some(handle)),
                    (_, Handle::Common(_)) => {
                        return Err(Error::Unsupported("common handles".into()))
                    }
                }
            }
            rows.push(value);
        }
        let mut stored = decode_columns(&rows, &self.stored)?
            .into_iter()
            .map(Some)
            .collect::<Vec<_>>();
        let mut handle_column = Some(Column::Int(handles));
        let mut columns = Vec::with_capacity(self.outputs.len());
        for output in &self.outputs {
            let column = match output {
                // One handle column is enough; a second asks for the same values.
                Output::Handle => match handle_column.take() {
                    Some(column) => column,
                    None => columns
                        .iter()
                        .zip(&self.outputs)
                        .find(|(_, o)| matches!(o, Output::Handle))
                        .map(|(c, _): (&Column, _)| c.clone())
                        .ok_or_else(|| Error::InvalidDag("handle column".into()))?,
                },
                Output::Stored(index) => stored[*index]
                    .take()
                    .ok_or_else(|| Error::InvalidDag("column decoded twice".into()))?,
            };
            columns.push(column);
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
