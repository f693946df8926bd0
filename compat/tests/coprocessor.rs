//! The coprocessor end to end: rows written in TiDB's row format by real transactions through
//! `tikv-client`, DAGs pushed over gRPC to a `basalt-server` process, chunk answers decoded.

mod common;

use basalt_chunk::chunk_codec::decode_chunk;
use basalt_chunk::codec::datum::{to_row_v2, Datum};
use basalt_chunk::codec::number;
use basalt_chunk::codec::row_v2;
use basalt_chunk::codec::table::{self, Handle};
use basalt_chunk::column::Column;
use basalt_chunk::types::{FieldType, FieldTypeTp};
use basalt_proto::tipb::{self, EncodeType, ExecType, ExprType, ScalarFuncSig as Sig};
use basalt_proto::{coprocessor, kvrpcpb};
use common::{kv_client, memcomparable, region_context, txn_client, ServerProcess};
use prost::Message;
use tikv_client::{CheckLevel, TimestampExt, TransactionOptions};

const TABLE: i64 = 77;

fn column_info(id: i64, tp: FieldTypeTp, pk: bool) -> tipb::ColumnInfo {
    tipb::ColumnInfo {
        column_id: Some(id),
        tp: Some(tp as i32),
        pk_handle: Some(pk),
        ..Default::default()
    }
}

fn column_ref(offset: i64, tp: FieldTypeTp) -> tipb::Expr {
    let mut val = Vec::new();
    number::encode_i64(&mut val, offset);
    tipb::Expr {
        tp: Some(ExprType::ColumnRef as i32),
        val: Some(val),
        field_type: Some(FieldType::new(tp).to_tipb()),
        ..Default::default()
    }
}

fn int_const(value: i64) -> tipb::Expr {
    let mut val = Vec::new();
    number::encode_i64(&mut val, value);
    tipb::Expr {
        tp: Some(ExprType::Int64 as i32),
        val: Some(val),
        field_type: Some(FieldType::new(FieldTypeTp::LongLong).to_tipb()),
        ..Default::default()
    }
}

/// scan (id, qty) → selection qty >= `min_qty` → limit `limit`, output id.
fn dag(min_qty: i64, limit: u64) -> tipb::DagRequest {
    let scan = tipb::Executor {
        tp: Some(ExecType::TypeTableScan as i32),
        tbl_scan: Some(tipb::TableScan {
            table_id: Some(TABLE),
            columns: vec![
                column_info(1, FieldTypeTp::LongLong, true),
                column_info(2, FieldTypeTp::LongLong, false),
            ],
            ..Default::default()
        }),
        ..Default::default()
    };
    let selection = tipb::Executor {
        tp: Some(ExecType::TypeSelection as i32),
        selection: Some(Box::new(tipb::Selection {
            conditions: vec![tipb::Expr {
                tp: Some(ExprType::ScalarFunc as i32),
                sig: Some(Sig::GeInt as i32),
                field_type: Some(FieldType::new(FieldTypeTp::LongLong).to_tipb()),
                children: vec![column_ref(1, FieldTypeTp::LongLong), int_const(min_qty)],
                ..Default::default()
            }],
            ..Default::default()
        })),
        ..Default::default()
    };
    let limit = tipb::Executor {
        tp: Some(ExecType::TypeLimit as i32),
        limit: Some(Box::new(tipb::Limit {
            limit: Some(limit),
            ..Default::default()
        })),
        ..Default::default()
    };
    tipb::DagRequest {
        executors: vec![scan, selection, limit],
        output_offsets: vec![0],
        encode_type: Some(EncodeType::TypeChunk as i32),
        collect_execution_summaries: Some(true),
        ..Default::default()
    }
}

async fn push(
    server: &ServerProcess,
    request: &tipb::DagRequest,
    start_ts: u64,
) -> coprocessor::Response {
    let (start, end) = table::record_range(TABLE);
    let context = region_context(server, &memcomparable(&start)).await;
    let mut kv = kv_client(server).await;
    kv.coprocessor(coprocessor::Request {
        context: Some(context),
        tp: 103,
        data: request.encode_to_vec(),
        start_ts,
        ranges: vec![coprocessor::KeyRange { start, end }],
        ..Default::default()
    })
    .await
    .expect("coprocessor rpc")
    .into_inner()
}

fn ids(response: &coprocessor::Response) -> Vec<i64> {
    assert!(response.other_error.is_empty(), "{}", response.other_error);
    assert!(
        response.region_error.is_none() && response.locked.is_none(),
        "{response:?}"
    );
    let select = tipb::SelectResponse::decode(response.data.as_slice()).expect("select response");
    assert!(select.error.is_none(), "{:?}", select.error);
    let types = [FieldType::new(FieldTypeTp::LongLong)];
    let mut out = Vec::new();
    for chunk in &select.chunks {
        let columns = decode_chunk(chunk.rows_data(), &types).expect("chunk");
        let Column::Int(column) = &columns[0] else {
            panic!("int column")
        };
        out.extend((0..column.len()).filter_map(|i| column.get(i)));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn dag_over_rows_written_by_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path());
    let client = txn_client(&server).await;
    let mut txn = client
        .begin_with_options(TransactionOptions::new_optimistic().drop_check(CheckLevel::Warn))
        .await
        .unwrap();
    for id in 1..=200i64 {
        let qty = to_row_v2(&Datum::Int(id % 50)).unwrap().unwrap();
        let row = row_v2::encode_row(&[(2, Some(&qty))]).unwrap();
        txn.put(table::encode_row_key(TABLE, &Handle::Int(id)), row)
            .await
            .unwrap();
    }
    txn.commit().await.unwrap();
    let ts = client.current_timestamp().await.unwrap().version();

    // tikv-client commits the secondary keys in the background after `commit` returns: until
    // it has, a reader meets their locks (a real reader would resolve them). Wait for that.
    let mut settled = push(&server, &dag(45, 12), ts).await;
    for _ in 0..100 {
        if settled.locked.is_none() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        settled = push(&server, &dag(45, 12), ts).await;
    }
    // qty >= 45 holds for id % 50 in 45..50: ids 45..=49, 95..=99, ...
    let expected: Vec<i64> = (1..=200).filter(|id| id % 50 >= 45).take(12).collect();
    assert_eq!(ids(&settled), expected);
    // A snapshot before the write sees nothing.
    assert!(ids(&push(&server, &dag(0, 1000), 1).await).is_empty());

    // A transaction's lock on a row blocks a later reader: the answer carries the lock.
    let mut kv = kv_client(&server).await;
    let key = table::encode_row_key(TABLE, &Handle::Int(500));
    let start_ts = client.current_timestamp().await.unwrap().version();
    let prewrite = kv
        .kv_prewrite(kvrpcpb::PrewriteRequest {
            context: Some(region_context(&server, &memcomparable(&key)).await),
            mutations: vec![kvrpcpb::Mutation {
                op: kvrpcpb::Op::Put as i32,
                key: key.clone(),
                value: vec![128, 0, 0, 0, 0, 0],
                ..Default::default()
            }],
            primary_lock: key.clone(),
            start_version: start_ts,
            lock_ttl: 60_000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(prewrite.errors.is_empty(), "{prewrite:?}");
    let later = client.current_timestamp().await.unwrap().version();
    let response = push(&server, &dag(0, 1000), later).await;
    let locked = response.locked.expect("the lock must be reported");
    assert_eq!(locked.lock_version, start_ts);
    assert_eq!(locked.key, key);

    // Garbage instead of a DAG: other_error, and the server keeps serving.
    let (start, end) = table::record_range(TABLE);
    let mut kv = kv_client(&server).await;
    let bad = kv
        .coprocessor(coprocessor::Request {
            context: Some(region_context(&server, &memcomparable(&start)).await),
            tp: 103,
            data: vec![0xFF, 0xFF, 0xFF],
            start_ts: ts,
            ranges: vec![coprocessor::KeyRange { start, end }],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(bad.other_error.contains("malformed"), "{bad:?}");
    assert_eq!(ids(&push(&server, &dag(45, 2), ts).await), [45, 46]);
}

fn executor_with(tp: ExecType, fill: impl FnOnce(&mut tipb::Executor)) -> tipb::Executor {
    let mut executor = tipb::Executor {
        tp: Some(tp as i32),
        ..Default::default()
    };
    fill(&mut executor);
    executor
}

fn decode_ints(response: &coprocessor::Response, types: &[FieldType]) -> Vec<Vec<Option<i64>>> {
    assert!(response.other_error.is_empty(), "{}", response.other_error);
    let select = tipb::SelectResponse::decode(response.data.as_slice()).expect("select response");
    assert!(select.error.is_none(), "{:?}", select.error);
    let mut out = vec![Vec::new(); types.len()];
    for chunk in &select.chunks {
        let columns = decode_chunk(chunk.rows_data(), types).expect("chunk");
        for (values, column) in out.iter_mut().zip(&columns) {
            match column {
                Column::Int(c) => values.extend((0..c.len()).map(|i| c.get(i))),
                Column::Decimal(c) => {
                    values.extend((0..c.len()).map(|i| c.get(i).and_then(|d| d.as_i64().ok())))
                }
                other => panic!("unexpected column {other:?}"),
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn aggregation_top_n_and_index_scans_over_grpc() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path());
    let client = txn_client(&server).await;
    let mut txn = client
        .begin_with_options(TransactionOptions::new_optimistic().drop_check(CheckLevel::Warn))
        .await
        .unwrap();
    for id in 1..=60i64 {
        let qty = to_row_v2(&Datum::Int(id % 7)).unwrap().unwrap();
        txn.put(
            table::encode_row_key(TABLE, &Handle::Int(id)),
            row_v2::encode_row(&[(2, Some(&qty))]).unwrap(),
        )
        .await
        .unwrap();
        // A non-unique index (id 1) on qty: datums qty, handle; value "0".
        let mut datums = Vec::new();
        basalt_chunk::codec::datum::encode_key(&mut datums, &Datum::Int(id % 7)).unwrap();
        basalt_chunk::codec::datum::encode_key(&mut datums, &Datum::Int(id)).unwrap();
        txn.put(table::encode_index_key(TABLE, 1, &datums), b"0".to_vec())
            .await
            .unwrap();
    }
    txn.commit().await.unwrap();
    let ts = client.current_timestamp().await.unwrap().version();
    let mut base = dag(0, 1000);
    let scan = base.executors.remove(0);

    // scan → selection (qty >= 5) → aggregation: COUNT(id), SUM(qty) grouped by qty.
    let mut selection = dag(5, 0).executors.remove(1);
    if let Some(s) = selection.selection.as_mut() {
        s.child = None;
    }
    let aggregate = |tp: ExprType, arg: tipb::Expr, result: FieldTypeTp| tipb::Expr {
        tp: Some(tp as i32),
        children: vec![arg],
        field_type: Some(FieldType::new(result).to_tipb()),
        ..Default::default()
    };
    let agg = executor_with(ExecType::TypeAggregation, |e| {
        e.aggregation = Some(Box::new(tipb::Aggregation {
            group_by: vec![column_ref(1, FieldTypeTp::LongLong)],
            agg_func: vec![
                aggregate(
                    ExprType::Count,
                    column_ref(0, FieldTypeTp::LongLong),
                    FieldTypeTp::LongLong,
                ),
                aggregate(
                    ExprType::Sum,
                    column_ref(1, FieldTypeTp::LongLong),
                    FieldTypeTp::NewDecimal,
                ),
            ],
            ..Default::default()
        }))
    });
    let request = tipb::DagRequest {
        executors: vec![scan.clone(), selection, agg],
        output_offsets: vec![0, 1, 2],
        encode_type: Some(EncodeType::TypeChunk as i32),
        ..Default::default()
    };
    let types = [
        FieldType::new(FieldTypeTp::LongLong),
        FieldType::new(FieldTypeTp::NewDecimal),
        FieldType::new(FieldTypeTp::LongLong),
    ];
    let out = decode_ints(&push(&server, &request, ts).await, &types);
    // qty 5: ids 5, 12, …, 54 (8 rows); qty 6: ids 6, …, 55 (8 rows); groups in scan order.
    assert_eq!(out[2], [Some(5), Some(6)]);
    assert_eq!(out[0], [Some(8), Some(8)]);
    assert_eq!(out[1], [Some(40), Some(48)]);

    // scan → top-N by qty desc, id asc, limit 3.
    let top_n = executor_with(ExecType::TypeTopN, |e| {
        e.top_n = Some(Box::new(tipb::TopN {
            order_by: vec![
                tipb::ByItem {
                    expr: Some(column_ref(1, FieldTypeTp::LongLong)),
                    desc: Some(true),
                    ..Default::default()
                },
                tipb::ByItem {
                    expr: Some(column_ref(0, FieldTypeTp::LongLong)),
                    desc: Some(false),
                    ..Default::default()
                },
            ],
            limit: Some(3),
            ..Default::default()
        }))
    });
    let request = tipb::DagRequest {
        executors: vec![scan, top_n],
        output_offsets: vec![0],
        encode_type: Some(EncodeType::TypeChunk as i32),
        ..Default::default()
    };
    let out = decode_ints(&push(&server, &request, ts).await, &types[..1]);
    assert_eq!(out[0], [Some(6), Some(13), Some(20)]);

    // index scan → limit over the index range.
    let index_scan = executor_with(ExecType::TypeIndexScan, |e| {
        e.idx_scan = Some(tipb::IndexScan {
            table_id: Some(TABLE),
            index_id: Some(1),
            columns: vec![
                column_info(2, FieldTypeTp::LongLong, false),
                column_info(1, FieldTypeTp::LongLong, true),
            ],
            ..Default::default()
        })
    });
    let limit = executor_with(ExecType::TypeLimit, |e| {
        e.limit = Some(Box::new(tipb::Limit {
            limit: Some(4),
            ..Default::default()
        }))
    });
    let request = tipb::DagRequest {
        executors: vec![index_scan, limit],
        output_offsets: vec![0, 1],
        encode_type: Some(EncodeType::TypeChunk as i32),
        ..Default::default()
    };
    let start = table::index_prefix(TABLE, 1);
    let mut end = start.clone();
    end.push(0xFF);
    let context = region_context(&server, &memcomparable(&start)).await;
    let mut kv = kv_client(&server).await;
    let response = kv
        .coprocessor(coprocessor::Request {
            context: Some(context),
            tp: 103,
            data: request.encode_to_vec(),
            start_ts: ts,
            ranges: vec![coprocessor::KeyRange { start, end }],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let out = decode_ints(
        &response,
        &[
            FieldType::new(FieldTypeTp::LongLong),
            FieldType::new(FieldTypeTp::LongLong),
        ],
    );
    // qty 0 first: ids 7, 14, 21, 28.
    assert_eq!(out[0], [Some(0); 4]);
    assert_eq!(out[1], [Some(7), Some(14), Some(21), Some(28)]);
}
