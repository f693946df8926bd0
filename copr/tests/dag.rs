//! DAGs as TiDB builds them, run over rows in TiDB's formats held in memory.

use basalt_chunk::chunk_codec::decode_chunk;
use basalt_chunk::codec::datum::{self, to_row_v2, Datum};
use basalt_chunk::codec::row_v2;
use basalt_chunk::codec::table::{self, Handle};
use basalt_chunk::column::Column;
use basalt_chunk::types::{FieldType, FieldTypeTp};
use basalt_copr::source::MemorySource;
use basalt_copr::{DagRunner, Error};
use basalt_proto::tipb::{self, EncodeType, ExecType, ExprType, ScalarFuncSig as Sig};

mod common;

use common::{aggregate, aggregation, column_info, column_ref, dag, real_const, table_scan};

const TABLE: i64 = 42;

/// Rows (id, price, name): id is the int handle.
fn source(rows: &[(i64, f64, Option<&str>)]) -> MemorySource {
    let mut pairs = Vec::new();
    for &(id, price, name) in rows {
        let price_bytes = to_row_v2(&Datum::Real(price)).unwrap().unwrap();
        let name_bytes = name.map(|n| n.as_bytes().to_vec());
        let row =
            row_v2::encode_row(&[(2, Some(&price_bytes)), (3, name_bytes.as_deref())]).unwrap();
        pairs.push((table::encode_row_key(TABLE, &Handle::Int(id)), row));
    }
    pairs.sort();
    MemorySource::new(pairs)
}

fn full_range() -> Vec<(Vec<u8>, Vec<u8>)> {
    vec![table::record_range(TABLE)]
}

fn scan_executor() -> tipb::Executor {
    table_scan(
        TABLE,
        vec![
            column_info(1, FieldTypeTp::LongLong, true),
            column_info(2, FieldTypeTp::Double, false),
            column_info(3, FieldTypeTp::VarString, false),
        ],
    )
}

fn price_above(value: f64) -> tipb::Executor {
    tipb::Executor {
        tp: Some(ExecType::TypeSelection as i32),
        selection: Some(Box::new(tipb::Selection {
            conditions: vec![tipb::Expr {
                tp: Some(ExprType::ScalarFunc as i32),
                sig: Some(Sig::GtReal as i32),
                field_type: Some(FieldType::new(FieldTypeTp::LongLong).to_tipb()),
                children: vec![column_ref(1, FieldTypeTp::Double), real_const(value)],
                ..Default::default()
            }],
            ..Default::default()
        })),
        ..Default::default()
    }
}

fn run(request: &tipb::DagRequest, source: MemorySource) -> Result<tipb::SelectResponse, Error> {
    DagRunner::build(request, full_range(), source, 0)?.run()
}

fn int_column(
    response: &tipb::SelectResponse,
    types: &[FieldType],
    index: usize,
) -> Vec<Option<i64>> {
    let mut values = Vec::new();
    for chunk in &response.chunks {
        let columns = decode_chunk(chunk.rows_data(), types).unwrap();
        let Column::Int(column) = &columns[index] else {
            panic!("int column expected")
        };
        values.extend((0..column.len()).map(|i| column.get(i)));
    }
    values
}

fn rows() -> Vec<(i64, f64, Option<&'static str>)> {
    (1..=100)
        .map(|i| {
            (
                i,
                (i % 10) as f64 * 1.5,
                if i % 7 == 0 { None } else { Some("x") },
            )
        })
        .collect()
}

#[test]
fn scan_selection_in_growing_batches_with_summaries() {
    let request = dag(vec![scan_executor(), price_above(10.0)], vec![0, 1]);
    let response = run(&request, source(&rows())).unwrap();
    let types = [
        FieldType::new(FieldTypeTp::LongLong),
        FieldType::new(FieldTypeTp::Double),
    ];
    let ids = int_column(&response, &types, 0);
    // price = (i % 10) * 1.5 > 10 holds for i % 10 in {7, 8, 9}.
    let expected: Vec<Option<i64>> = (1..=100).filter(|i| i % 10 >= 7).map(Some).collect();
    assert_eq!(ids, expected);
    // Batches of 32, 64, then the rest: three chunks for 100 rows.
    assert_eq!(response.chunks.len(), 3);
    let summaries = &response.execution_summaries;
    assert_eq!(summaries.len(), 2);
    assert_eq!(summaries[0].num_produced_rows(), 100);
    assert_eq!(summaries[1].num_produced_rows(), 30);
    assert!(summaries[1].time_processed_ns() >= summaries[0].time_processed_ns());
}

#[test]
fn top_n_and_limit() {
    let top_n = tipb::Executor {
        tp: Some(ExecType::TypeTopN as i32),
        top_n: Some(Box::new(tipb::TopN {
            order_by: vec![
                tipb::ByItem {
                    expr: Some(column_ref(1, FieldTypeTp::Double)),
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
        })),
        ..Default::default()
    };
    let response = run(&dag(vec![scan_executor(), top_n], vec![0]), source(&rows())).unwrap();
    let types = [FieldType::new(FieldTypeTp::LongLong)];
    // Highest price 13.5 at i % 10 == 9: ids 9, 19, 29 first by id.
    assert_eq!(
        int_column(&response, &types, 0),
        [Some(9), Some(19), Some(29)]
    );

    let limit = tipb::Executor {
        tp: Some(ExecType::TypeLimit as i32),
        limit: Some(Box::new(tipb::Limit {
            limit: Some(5),
            ..Default::default()
        })),
        ..Default::default()
    };
    let response = run(
        &dag(vec![scan_executor(), price_above(10.0), limit], vec![0]),
        source(&rows()),
    )
    .unwrap();
    assert_eq!(
        int_column(&response, &types, 0),
        [Some(7), Some(8), Some(9), Some(17), Some(18)]
    );
}

#[test]
fn descending_scans_and_the_root_executor_tree() {
    let mut scan = scan_executor();
    if let Some(s) = scan.tbl_scan.as_mut() {
        s.desc = Some(true);
    }
    let request = tipb::DagRequest {
        root_executor: Some(tipb::Executor {
            tp: Some(ExecType::TypeLimit as i32),
            limit: Some(Box::new(tipb::Limit {
                limit: Some(2),
                child: Some(Box::new(scan)),
                ..Default::default()
            })),
            ..Default::default()
        }),
        output_offsets: vec![0],
        encode_type: Some(EncodeType::TypeChunk as i32),
        ..Default::default()
    };
    let response = run(&request, source(&rows())).unwrap();
    let types = [FieldType::new(FieldTypeTp::LongLong)];
    assert_eq!(int_column(&response, &types, 0), [Some(100), Some(99)]);
}

#[test]
fn default_encoding_and_column_defaults() {
    // A fourth column added after the rows were written, with a default of 7.
    let mut scan = scan_executor();
    let mut default = Vec::new();
    datum::encode_value(&mut default, &Datum::Int(7)).unwrap();
    if let Some(s) = scan.tbl_scan.as_mut() {
        s.columns.push(tipb::ColumnInfo {
            default_val: Some(default),
            ..column_info(4, FieldTypeTp::LongLong, false)
        });
    }
    let mut request = dag(vec![scan], vec![0, 2, 3]);
    request.encode_type = Some(EncodeType::TypeDefault as i32);
    let response = run(&request, source(&rows()[..2])).unwrap();
    assert_eq!(response.encode_type(), EncodeType::TypeDefault);
    let mut all = Vec::new();
    for chunk in &response.chunks {
        all.extend(datum::decode_all(chunk.rows_data()).unwrap());
    }
    assert_eq!(
        all,
        [
            Datum::Int(1),
            Datum::Bytes(b"x".to_vec()),
            Datum::Int(7),
            Datum::Int(2),
            Datum::Bytes(b"x".to_vec()),
            Datum::Int(7),
        ]
    );
}

#[test]
fn malformed_dags_are_refused() {
    // No executors.
    assert!(matches!(
        run(&dag(vec![], vec![]), source(&[])),
        Err(Error::InvalidDag(_))
    ));
    // A selection first.
    assert!(run(&dag(vec![price_above(1.0)], vec![]), source(&[])).is_err());
    // Output offset out of range.
    assert!(matches!(
        run(&dag(vec![scan_executor()], vec![9]), source(&[])),
        Err(Error::InvalidDag(_))
    ));
    // A condition over a column the scan does not produce.
    let bad = tipb::Executor {
        tp: Some(ExecType::TypeSelection as i32),
        selection: Some(Box::new(tipb::Selection {
            conditions: vec![column_ref(7, FieldTypeTp::LongLong)],
            ..Default::default()
        })),
        ..Default::default()
    };
    assert!(run(&dag(vec![scan_executor(), bad], vec![]), source(&[])).is_err());
    // An executor without its description.
    let empty = tipb::Executor {
        tp: Some(ExecType::TypeLimit as i32),
        ..Default::default()
    };
    assert!(run(&dag(vec![scan_executor(), empty], vec![]), source(&[])).is_err());
    // Corrupted row bytes: an error, not a panic.
    let mut broken = source(&rows()[..3]);
    broken.pairs[1].1 = vec![128, 0, 9, 0];
    assert!(run(&dag(vec![scan_executor()], vec![0, 1]), broken).is_err());
}

#[test]
fn simple_and_hash_aggregation_partial_results() {
    // COUNT(name), SUM(id), AVG(price), MIN(price), MAX(id) over all rows, then grouped by
    // price (ten distinct values).
    let aggs = || {
        vec![
            aggregate(
                ExprType::Count,
                column_ref(2, FieldTypeTp::VarString),
                FieldTypeTp::LongLong,
            ),
            aggregate(
                ExprType::Sum,
                column_ref(0, FieldTypeTp::LongLong),
                FieldTypeTp::NewDecimal,
            ),
            aggregate(
                ExprType::Avg,
                column_ref(1, FieldTypeTp::Double),
                FieldTypeTp::Double,
            ),
            aggregate(
                ExprType::Min,
                column_ref(1, FieldTypeTp::Double),
                FieldTypeTp::Double,
            ),
            aggregate(
                ExprType::Max,
                column_ref(0, FieldTypeTp::LongLong),
                FieldTypeTp::LongLong,
            ),
        ]
    };
    let types = [
        FieldType::new(FieldTypeTp::LongLong),
        FieldType::new(FieldTypeTp::NewDecimal),
        FieldType::new(FieldTypeTp::LongLong),
        FieldType::new(FieldTypeTp::Double),
        FieldType::new(FieldTypeTp::Double),
        FieldType::new(FieldTypeTp::LongLong),
        FieldType::new(FieldTypeTp::Double),
    ];
    let simple = dag(
        vec![scan_executor(), aggregation(vec![], aggs())],
        vec![0, 1, 2, 3, 4, 5],
    );
    let response = run(&simple, source(&rows())).unwrap();
    let columns = decode_chunk(response.chunks[0].rows_data(), &types[..6]).unwrap();
    let int = |c: &Column| match c {
        Column::Int(c) => c.get(0),
        other => panic!("{other:?}"),
    };
    let real = |c: &Column| match c {
        Column::Real(c) => c.get(0),
        other => panic!("{other:?}"),
    };
    // 100 rows, names NULL for multiples of 7 (14 of them).
    assert_eq!(int(&columns[0]), Some(86));
    let Column::Decimal(sum) = &columns[1] else {
        panic!("decimal sum")
    };
    assert_eq!(sum.get(0).map(|d| d.to_string()), Some("5050".into()));
    assert_eq!(int(&columns[2]), Some(100));
    assert_eq!(real(&columns[3]), Some(675.0)); // sum of (i % 10) * 1.5 over 1..=100
    assert_eq!(real(&columns[4]), Some(0.0));
    assert_eq!(int(&columns[5]), Some(100));

    // Simple aggregation over no rows still answers one row: COUNT 0, SUM NULL.
    let response = run(&simple, source(&[])).unwrap();
    let columns = decode_chunk(response.chunks[0].rows_data(), &types[..6]).unwrap();
    assert_eq!(int(&columns[0]), Some(0));
    assert!(columns[1].validity().null_count() == 1);

    // Grouped by price: ten groups of ten, in first-seen order (ids 1..=10 introduce them).
    let grouped = dag(
        vec![
            scan_executor(),
            aggregation(vec![column_ref(1, FieldTypeTp::Double)], aggs()),
        ],
        vec![0, 6],
    );
    let response = run(&grouped, source(&rows())).unwrap();
    let out_types = [
        FieldType::new(FieldTypeTp::LongLong),
        FieldType::new(FieldTypeTp::Double),
    ];
    let columns = decode_chunk(response.chunks[0].rows_data(), &out_types).unwrap();
    let (Column::Int(counts), Column::Real(prices)) = (&columns[0], &columns[1]) else {
        panic!("types")
    };
    assert_eq!(prices.len(), 10);
    assert_eq!(prices.get(0), Some(1.5));
    assert_eq!(prices.get(9), Some(0.0));
    // price 1.5 (i % 10 == 1): ids 1, 11, …, 91; none of them is a multiple of 7 except 21, 91.
    assert_eq!(counts.get(0), Some(8));
}

#[test]
fn group_by_strings_follows_the_collation() {
    let mut ci_column = column_info(3, FieldTypeTp::VarString, false);
    ci_column.collation = Some(-45);
    let mut scan = scan_executor();
    if let Some(s) = scan.tbl_scan.as_mut() {
        s.columns[2] = ci_column;
    }
    let mut key = column_ref(2, FieldTypeTp::VarString);
    if let Some(ft) = key.field_type.as_mut() {
        ft.collate = Some(-45);
    }
    let count = aggregate(
        ExprType::Count,
        column_ref(0, FieldTypeTp::LongLong),
        FieldTypeTp::LongLong,
    );
    let request = dag(vec![scan, aggregation(vec![key], vec![count])], vec![0]);
    let mixed = [
        (1, 0.0, Some("abc")),
        (2, 0.0, Some("ABC ")),
        (3, 0.0, Some("abd")),
    ];
    let response = run(&request, source(&mixed)).unwrap();
    let types = [FieldType::new(FieldTypeTp::LongLong)];
    assert_eq!(int_column(&response, &types, 0), [Some(2), Some(1)]);
}

#[test]
fn index_scans_recover_handles_and_restored_values() {
    use basalt_chunk::codec::datum::encode_key;
    // A non-unique index on (qty) of table 42, index id 2: handle in the key, value "0".
    let mut pairs = Vec::new();
    for (id, qty) in [(1i64, 30i64), (2, 10), (3, 20), (4, 10)] {
        let mut datums = Vec::new();
        encode_key(&mut datums, &Datum::Int(qty)).unwrap();
        encode_key(&mut datums, &Datum::Int(id)).unwrap();
        pairs.push((table::encode_index_key(TABLE, 2, &datums), b"0".to_vec()));
    }
    // A unique index on (name) with a ci collation, index id 3: the key holds the sort key,
    // the value the handle and the restored original.
    let restored = row_v2::encode_row(&[(3, Some(b"Ab"))]).unwrap();
    let mut unique_value = vec![8];
    unique_value.extend_from_slice(&restored);
    unique_value.extend_from_slice(&9i64.to_be_bytes());
    let mut datums = Vec::new();
    encode_key(&mut datums, &Datum::Bytes(b"AB".to_vec())).unwrap();
    pairs.push((table::encode_index_key(TABLE, 3, &datums), unique_value));
    pairs.sort();
    let source = MemorySource::new(pairs);

    let index_scan = |index_id: i64, columns: Vec<tipb::ColumnInfo>, desc: bool| tipb::Executor {
        tp: Some(ExecType::TypeIndexScan as i32),
        idx_scan: Some(tipb::IndexScan {
            table_id: Some(TABLE),
            index_id: Some(index_id),
            columns,
            desc: Some(desc),
            ..Default::default()
        }),
        ..Default::default()
    };
    let range = |index_id: i64| {
        let start = table::index_prefix(TABLE, index_id);
        let mut end = start.clone();
        end.push(0xFF);
        vec![(start, end)]
    };
    let columns = vec![
        column_info(2, FieldTypeTp::LongLong, false),
        column_info(1, FieldTypeTp::LongLong, true),
    ];
    let request = dag(vec![index_scan(2, columns.clone(), false)], vec![0, 1]);
    let response = DagRunner::build(&request, range(2), source.clone(), 0)
        .unwrap()
        .run()
        .unwrap();
    let types = [
        FieldType::new(FieldTypeTp::LongLong),
        FieldType::new(FieldTypeTp::LongLong),
    ];
    assert_eq!(
        int_column(&response, &types, 0),
        [Some(10), Some(10), Some(20), Some(30)]
    );
    assert_eq!(
        int_column(&response, &types, 1),
        [Some(2), Some(4), Some(3), Some(1)]
    );
    let request = dag(vec![index_scan(2, columns, true)], vec![1]);
    let response = DagRunner::build(&request, range(2), source.clone(), 0)
        .unwrap()
        .run()
        .unwrap();
    assert_eq!(
        int_column(&response, &types[..1], 0),
        [Some(1), Some(3), Some(4), Some(2)]
    );

    let mut name = column_info(3, FieldTypeTp::VarString, false);
    name.collation = Some(-45);
    let request = dag(
        vec![index_scan(
            3,
            vec![name, column_info(1, FieldTypeTp::LongLong, true)],
            false,
        )],
        vec![0, 1],
    );
    let response = DagRunner::build(&request, range(3), source, 0)
        .unwrap()
        .run()
        .unwrap();
    let mut text = FieldType::new(FieldTypeTp::VarString);
    text.collate = -45;
    let columns = decode_chunk(
        response.chunks[0].rows_data(),
        &[text, FieldType::new(FieldTypeTp::LongLong)],
    )
    .unwrap();
    let (Column::Bytes(names), Column::Int(handles)) = (&columns[0], &columns[1]) else {
        panic!("types")
    };
    assert_eq!((names.get(0), handles.get(0)), (Some(&b"Ab"[..]), Some(9)));
}

#[test]
fn index_scans_of_clustered_tables_decode_the_common_handle() {
    use basalt_chunk::codec::datum::encode_key;
    // A table clustered on (name, id); index 4 on (qty) is non-unique (the common handle follows
    // the indexed datums in the key), index 5 on (qty) is unique (the handle is in the value,
    // version 1 layout: tail length, 125, 1, then 127, u16 length, handle).
    let rows = [("b", 2i64, 30i64), ("a", 1, 10), ("c", 3, 20)];
    let mut pairs = Vec::new();
    for (name, id, qty) in rows {
        let mut handle = Vec::new();
        encode_key(&mut handle, &Datum::Bytes(name.as_bytes().to_vec())).unwrap();
        encode_key(&mut handle, &Datum::Int(id)).unwrap();
        let mut indexed = Vec::new();
        encode_key(&mut indexed, &Datum::Int(qty)).unwrap();
        let mut key = indexed.clone();
        key.extend_from_slice(&handle);
        pairs.push((table::encode_index_key(TABLE, 4, &key), b"0".to_vec()));
        let mut value = vec![0, 125, 1, 127];
        value.extend_from_slice(&(handle.len() as u16).to_be_bytes());
        value.extend_from_slice(&handle);
        pairs.push((table::encode_index_key(TABLE, 5, &indexed), value));
    }
    pairs.sort();
    let source = MemorySource::new(pairs);
    let types = [
        FieldType::new(FieldTypeTp::LongLong),
        FieldType::new(FieldTypeTp::VarString),
        FieldType::new(FieldTypeTp::LongLong),
    ];
    for index_id in [4, 5] {
        let request = dag(
            vec![tipb::Executor {
                tp: Some(ExecType::TypeIndexScan as i32),
                idx_scan: Some(tipb::IndexScan {
                    table_id: Some(TABLE),
                    index_id: Some(index_id),
                    columns: vec![
                        column_info(3, FieldTypeTp::LongLong, false),
                        column_info(1, FieldTypeTp::VarString, false),
                        column_info(2, FieldTypeTp::LongLong, false),
                    ],
                    primary_column_ids: vec![1, 2],
                    ..Default::default()
                }),
                ..Default::default()
            }],
            vec![0, 1, 2],
        );
        let start = table::index_prefix(TABLE, index_id);
        let mut end = start.clone();
        end.push(0xFF);
        let response = DagRunner::build(&request, vec![(start, end)], source.clone(), 0)
            .unwrap()
            .run()
            .unwrap();
        let columns = decode_chunk(response.chunks[0].rows_data(), &types).unwrap();
        let (Column::Int(qty), Column::Bytes(name), Column::Int(id)) =
            (&columns[0], &columns[1], &columns[2])
        else {
            panic!("types")
        };
        let got: Vec<_> = (0..qty.len())
            .map(|i| (qty.get(i), name.get(i).map(<[u8]>::to_vec), id.get(i)))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some(10), Some(b"a".to_vec()), Some(1)),
                (Some(20), Some(b"c".to_vec()), Some(3)),
                (Some(30), Some(b"b".to_vec()), Some(2)),
            ],
            "index {index_id}"
        );
    }
    // More primary columns than columns is refused, not a panic.
    let request = dag(
        vec![tipb::Executor {
            tp: Some(ExecType::TypeIndexScan as i32),
            idx_scan: Some(tipb::IndexScan {
                table_id: Some(TABLE),
                index_id: Some(4),
                columns: vec![column_info(3, FieldTypeTp::LongLong, false)],
                primary_column_ids: vec![1, 2],
                ..Default::default()
            }),
            ..Default::default()
        }],
        vec![0],
    );
    assert!(DagRunner::build(&request, full_range(), source, 0).is_err());
}

#[test]
fn paging_stops_after_the_page_and_says_where() {
    let request = dag(vec![scan_executor()], vec![0]);
    let types = [FieldType::new(FieldTypeTp::LongLong)];
    let (start, end) = table::record_range(TABLE);
    let mut lower = start.clone();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let runner = DagRunner::build_paged(
            &request,
            vec![(lower.clone(), end.clone())],
            source(&rows()),
            0,
            30,
        )
        .unwrap();
        let (response, covered) = runner.run_paged().unwrap();
        seen.extend(int_column(&response, &types, 0));
        pages += 1;
        match covered {
            Some((from, to)) => {
                assert_eq!(from, lower);
                lower = to;
            }
            None => break,
        }
    }
    // 100 rows in pages of 30: four pages, every row once, in order.
    assert_eq!(pages, 4);
    assert_eq!(seen, (1..=100).map(Some).collect::<Vec<_>>());
}

#[test]
fn clustered_common_handle_tables() {
    use basalt_chunk::codec::datum::encode_key;
    // PRIMARY KEY (code VARCHAR, seq BIGINT) clustered; `qty` in the row value. Row 2 keeps its
    // `code` in the value as well (as TiDB does when the key cannot restore it).
    let mut pairs = Vec::new();
    for (code, seq, qty, code_in_value) in [("a", 1i64, 10i64, false), ("b", 2, 20, true)] {
        let mut handle = Vec::new();
        encode_key(&mut handle, &Datum::Bytes(code.as_bytes().to_vec())).unwrap();
        encode_key(&mut handle, &Datum::Int(seq)).unwrap();
        let key = table::encode_row_key(TABLE, &Handle::Common(handle));
        let qty_bytes = to_row_v2(&Datum::Int(qty)).unwrap().unwrap();
        let upper = code.to_uppercase();
        let mut columns: Vec<(i64, Option<&[u8]>)> = vec![(3, Some(&qty_bytes))];
        if code_in_value {
            columns.push((1, Some(upper.as_bytes())));
        }
        pairs.push((key, row_v2::encode_row(&columns).unwrap()));
    }
    pairs.sort();
    let scan = tipb::Executor {
        tp: Some(ExecType::TypeTableScan as i32),
        tbl_scan: Some(tipb::TableScan {
            table_id: Some(TABLE),
            columns: vec![
                column_info(1, FieldTypeTp::VarString, false),
                column_info(2, FieldTypeTp::LongLong, false),
                column_info(3, FieldTypeTp::LongLong, false),
            ],
            primary_column_ids: vec![1, 2],
            ..Default::default()
        }),
        ..Default::default()
    };
    let request = dag(vec![scan], vec![0, 1, 2]);
    let response = run(&request, MemorySource::new(pairs)).unwrap();
    let types = [
        FieldType::new(FieldTypeTp::VarString),
        FieldType::new(FieldTypeTp::LongLong),
        FieldType::new(FieldTypeTp::LongLong),
    ];
    let columns = decode_chunk(response.chunks[0].rows_data(), &types).unwrap();
    let (Column::Bytes(codes), Column::Int(seqs), Column::Int(qtys)) =
        (&columns[0], &columns[1], &columns[2])
    else {
        panic!("types")
    };
    assert_eq!(
        (codes.get(0), seqs.get(0), qtys.get(0)),
        (Some(&b"a"[..]), Some(1), Some(10))
    );
    // The value's copy wins over the key's.
    assert_eq!(
        (codes.get(1), seqs.get(1), qtys.get(1)),
        (Some(&b"B"[..]), Some(2), Some(20))
    );
}

#[test]
fn a_selection_over_a_scan_decodes_each_column_for_the_rows_still_in_play() {
    // Two conditions on different stored columns (the name's, then the price's), a NULL name
    // in the mix, and every column output: values of kept rows must be whole, whichever
    // condition first needed their column. The scan defers decoding to the Selection.
    let name_ne_x = tipb::Expr {
        tp: Some(ExprType::ScalarFunc as i32),
        sig: Some(Sig::NeString as i32),
        field_type: Some(FieldType::new(FieldTypeTp::LongLong).to_tipb()),
        children: vec![
            column_ref(2, FieldTypeTp::VarString),
            tipb::Expr {
                tp: Some(ExprType::String as i32),
                val: Some(b"x".to_vec()),
                field_type: Some(FieldType::new(FieldTypeTp::VarString).to_tipb()),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let rows: Vec<(i64, f64, Option<&str>)> = (1..=2000)
        .map(|i: i64| {
            let name = match i % 4 {
                0 => None,
                1 => Some("x"),
                2 => Some("yy"),
                _ => Some("zzz"),
            };
            (i, (i % 7) as f64, name)
        })
        .collect();
    // With the name condition, and without it (the name is then decoded after both ran,
    // for the kept rows only).
    for with_name in [true, false] {
        let mut selection = price_above(3.0);
        if let (true, Some(s)) = (with_name, selection.selection.as_mut()) {
            s.conditions.insert(0, name_ne_x.clone());
        }
        let response = run(
            &dag(vec![scan_executor(), selection], vec![0, 1, 2]),
            source(&rows),
        )
        .unwrap();
        let types = [
            FieldType::new(FieldTypeTp::LongLong),
            FieldType::new(FieldTypeTp::Double),
            FieldType::new(FieldTypeTp::VarString),
        ];
        let mut got = Vec::new();
        for chunk in &response.chunks {
            let columns = decode_chunk(chunk.rows_data(), &types).unwrap();
            let (Column::Int(ids), Column::Real(prices), Column::Bytes(names)) =
                (&columns[0], &columns[1], &columns[2])
            else {
                panic!("int, real and bytes columns expected")
            };
            for i in 0..ids.len() {
                got.push((
                    ids.get(i).unwrap(),
                    prices.get(i).unwrap(),
                    names.get(i).map(|n| String::from_utf8(n.to_vec()).unwrap()),
                ));
            }
        }
        // NULL != 'x' is NULL, so NULL names drop out with the 'x's.
        let expected: Vec<(i64, f64, Option<String>)> = rows
            .iter()
            .filter(|(_, price, name)| {
                *price > 3.0 && (!with_name || name.is_some_and(|n| n != "x"))
            })
            .map(|(id, price, name)| (*id, *price, name.map(str::to_string)))
            .collect();
        assert!(expected.len() > 300, "{} rows kept", expected.len());
        assert_eq!(got, expected, "with the name condition: {with_name}");
    }
}

#[test]
fn top_n_over_many_rows_with_ties_and_nulls_matches_a_full_sort() {
    // ORDER BY name DESC, price LIMIT n over 5000 rows in a shuffled order with few distinct
    // values (ties across compactions) and NULL names (they sort last when descending).
    let many: Vec<(i64, f64, Option<&str>)> = (1..=5000)
        .map(|i: i64| {
            let mixed = (i * 7919) % 5003;
            let name = ["a", "b", "c"][(mixed % 3) as usize];
            (i, (mixed % 11) as f64, (mixed % 13 != 0).then_some(name))
        })
        .collect();
    for limit in [1u64, 7, 600, 2500] {
        let top_n = tipb::Executor {
            tp: Some(ExecType::TypeTopN as i32),
            top_n: Some(Box::new(tipb::TopN {
                order_by: vec![
                    tipb::ByItem {
                        expr: Some(column_ref(2, FieldTypeTp::VarString)),
                        desc: Some(true),
                        ..Default::default()
                    },
                    tipb::ByItem {
                        expr: Some(column_ref(1, FieldTypeTp::Double)),
                        desc: Some(false),
                        ..Default::default()
                    },
                ],
                limit: Some(limit),
                ..Default::default()
            })),
            ..Default::default()
        };
        let response = run(&dag(vec![scan_executor(), top_n], vec![0]), source(&many)).unwrap();
        let types = [FieldType::new(FieldTypeTp::LongLong)];
        let got: Vec<i64> = int_column(&response, &types, 0)
            .into_iter()
            .flatten()
            .collect();
        // Stable: among equal keys the earlier row (lower id, the scan order) first.
        let mut expected = many.clone();
        expected.sort_by(|a, b| b.2.cmp(&a.2).then(a.1.total_cmp(&b.1)).then(a.0.cmp(&b.0)));
        let expected: Vec<i64> = expected
            .iter()
            .take(limit as usize)
            .map(|row| row.0)
            .collect();
        assert_eq!(got, expected, "limit {limit}");
    }
}

#[test]
fn partitioned_top_n_keeps_the_first_rows_of_each_partition() {
    // PARTITION BY price ORDER BY id DESC LIMIT 2: per price, the two highest ids.
    let top_n = tipb::Executor {
        tp: Some(ExecType::TypeTopN as i32),
        top_n: Some(Box::new(tipb::TopN {
            order_by: vec![tipb::ByItem {
                expr: Some(column_ref(0, FieldTypeTp::LongLong)),
                desc: Some(true),
                ..Default::default()
            }],
            partition_by: vec![tipb::ByItem {
                expr: Some(column_ref(1, FieldTypeTp::Double)),
                ..Default::default()
            }],
            limit: Some(2),
            ..Default::default()
        })),
        ..Default::default()
    };
    // 3000 rows so the buffer is compacted along the way.
    let many: Vec<(i64, f64, Option<&str>)> = (1..=3000)
        .map(|i| (i, (i % 10) as f64 * 1.5, Some("x")))
        .collect();
    let response = run(&dag(vec![scan_executor(), top_n], vec![0]), source(&many)).unwrap();
    let types = [FieldType::new(FieldTypeTp::LongLong)];
    let mut ids: Vec<i64> = int_column(&response, &types, 0)
        .into_iter()
        .flatten()
        .collect();
    ids.sort_unstable();
    let mut expected: Vec<i64> = (2981..=3000).collect();
    expected.sort_unstable();
    assert_eq!(ids, expected);
}

#[test]
fn variance_partial_results() {
    // Values 1 and 2: count 2, sum 3, VAR_POP 0.25 and VAR_SAMP 0.5 (TiKV impl_variance.rs
    // test_variance_enum uses the same values for VAR_POP). Standard deviations send the same
    // partial result; the square root is the final aggregation's.
    let two = [(1i64, 0.0, Some("x")), (2, 0.0, Some("x"))];
    let types = [
        FieldType::new(FieldTypeTp::LongLong).with_flag(basalt_chunk::types::flag::UNSIGNED),
        FieldType::new(FieldTypeTp::NewDecimal),
        FieldType::new(FieldTypeTp::NewDecimal),
    ];
    for (tp, expected) in [
        (ExprType::VarPop, "0.25"),
        (ExprType::VarSamp, "0.5"),
        (ExprType::StddevPop, "0.25"),
        (ExprType::StddevSamp, "0.5"),
    ] {
        let agg = aggregate(
            tp,
            column_ref(0, FieldTypeTp::LongLong),
            FieldTypeTp::NewDecimal,
        );
        let request = dag(
            vec![scan_executor(), aggregation(vec![], vec![agg])],
            vec![0, 1, 2],
        );
        let response = run(&request, source(&two)).unwrap();
        let columns = decode_chunk(response.chunks[0].rows_data(), &types).unwrap();
        let (Column::Int(count), Column::Decimal(sum), Column::Decimal(variance)) =
            (&columns[0], &columns[1], &columns[2])
        else {
            panic!("types")
        };
        assert_eq!(count.get(0), Some(2));
        assert_eq!(sum.get(0).map(|d| d.to_string()), Some("3".into()));
        let got = variance.get(0).unwrap();
        assert_eq!(
            got,
            expected.parse::<basalt_chunk::Decimal>().unwrap(),
            "{tp:?}: {got}"
        );
    }
    // Over no rows: count 0, sum and variance NULL.
    let agg = aggregate(
        ExprType::VarPop,
        column_ref(0, FieldTypeTp::LongLong),
        FieldTypeTp::NewDecimal,
    );
    let request = dag(
        vec![scan_executor(), aggregation(vec![], vec![agg])],
        vec![0, 1, 2],
    );
    let response = run(&request, source(&[])).unwrap();
    let columns = decode_chunk(response.chunks[0].rows_data(), &types).unwrap();
    assert_eq!(columns[2].validity().null_count(), 1);
}
