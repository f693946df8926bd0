//! Builders of DAG requests as TiDB sends them, shared by the coprocessor's tests.
#![allow(dead_code)]

use basalt_chunk::codec::number;
use basalt_chunk::types::{FieldType, FieldTypeTp};
use basalt_proto::tipb::{self, EncodeType, ExecType, ExprType};

pub fn column_info(id: i64, tp: FieldTypeTp, pk: bool) -> tipb::ColumnInfo {
    tipb::ColumnInfo {
        column_id: Some(id),
        tp: Some(tp as i32),
        pk_handle: Some(pk),
        flag: Some(if pk { 3 } else { 0 }),
        ..Default::default()
    }
}

/// A table scan of `table_id` reading `columns`, ascending.
pub fn table_scan(table_id: i64, columns: Vec<tipb::ColumnInfo>) -> tipb::Executor {
    tipb::Executor {
        tp: Some(ExecType::TypeTableScan as i32),
        tbl_scan: Some(tipb::TableScan {
            table_id: Some(table_id),
            columns,
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn column_ref(offset: i64, tp: FieldTypeTp) -> tipb::Expr {
    let mut val = Vec::new();
    number::encode_i64(&mut val, offset);
    tipb::Expr {
        tp: Some(ExprType::ColumnRef as i32),
        val: Some(val),
        field_type: Some(FieldType::new(tp).to_tipb()),
        ..Default::default()
    }
}

pub fn real_const(value: f64) -> tipb::Expr {
    let mut val = Vec::new();
    number::encode_f64(&mut val, value);
    tipb::Expr {
        tp: Some(ExprType::Float64 as i32),
        val: Some(val),
        field_type: Some(FieldType::new(FieldTypeTp::Double).to_tipb()),
        ..Default::default()
    }
}

pub fn dag(executors: Vec<tipb::Executor>, output_offsets: Vec<u32>) -> tipb::DagRequest {
    tipb::DagRequest {
        executors,
        output_offsets,
        encode_type: Some(EncodeType::TypeChunk as i32),
        collect_execution_summaries: Some(true),
        ..Default::default()
    }
}

pub fn aggregate(tp: ExprType, arg: tipb::Expr, result: FieldTypeTp) -> tipb::Expr {
    tipb::Expr {
        tp: Some(tp as i32),
        children: vec![arg],
        field_type: Some(FieldType::new(result).to_tipb()),
        ..Default::default()
    }
}

pub fn aggregation(group_by: Vec<tipb::Expr>, agg_func: Vec<tipb::Expr>) -> tipb::Executor {
    tipb::Executor {
        tp: Some(ExecType::TypeAggregation as i32),
        aggregation: Some(Box::new(tipb::Aggregation {
            group_by,
            agg_func,
            ..Default::default()
        })),
        ..Default::default()
    }
}
