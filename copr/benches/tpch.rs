//! TPC-H Q1 and Q6 as TiDB pushes them down to one region, run by `DagRunner` over the
//! `lineitem` rows in TiDB's storage format, against a plain Rust loop over the same data held
//! in integer columns (the compute limit).
//!
//! ```text
//! cargo bench -p basalt-copr --bench tpch                     # scale factor 0.1, 5 runs
//! cargo bench -p basalt-copr --bench tpch -- --sf 0.01 --runs 3
//! cargo bench -p basalt-copr --bench tpch -- --sf 1 --skip-memory-source
//! ```
//!
//! The data comes from the `tpchgen` crate, which reproduces dbgen's rows. Each row is stored
//! as TiDB stores it: key `t{table}_r{_tidb_rowid}` (lineitem's primary key is not clustered),
//! value in row format v2 holding all sixteen columns, decimals with their column's
//! precision and scale. The DAGs use TiDB's types (DECIMAL(15,2), DATE, CHAR(1), BIGINT), its
//! function signatures and its constant encodings; the aggregates are the partial ones TiDB
//! pushes (AVG as count and sum).
//!
//! Each query runs through `DagRunner` twice: over `basalt_copr::source::MemorySource`, and
//! over a sorted slice searched by binary search. `MemorySource` filters its pairs from the
//! first one on every scan call, so a full scan costs rows² / batch; at SF 1 (6M rows) a run
//! through it takes minutes, which `--skip-memory-source` leaves out. The slice shows the
//! executors' own cost. SF 1 holds about 1 GiB of rows twice over (plus the plain columns).
//!
//! Every answer must agree exactly with the plain loop's (decimal sums compared digit for
//! digit); a disagreement is printed under the table rather than aborting the run.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use basalt_chunk::chunk_codec::decode_chunk;
use basalt_chunk::codec::datum::{to_row_v2, Datum};
use basalt_chunk::codec::number;
use basalt_chunk::codec::row_v2;
use basalt_chunk::codec::table::{self, Handle};
use basalt_chunk::column::Column;
use basalt_chunk::types::{flag, FieldType, FieldTypeTp};
use basalt_chunk::{DateTime, Decimal, TimeType};
use basalt_copr::source::{MemorySource, ScanSource};
use basalt_copr::DagRunner;
use basalt_proto::tipb::{self, EncodeType, ExecType, ExprType, ScalarFuncSig as Sig};
use tpchgen::generators::LineItemGenerator;

/// lineitem's table id.
const TABLE_ID: i64 = 110;
/// utf8mb4_bin under TiDB's new collation framework.
const UTF8MB4_BIN: i32 = -46;

// Column ids of lineitem, in table order.
const L_ORDERKEY: i64 = 1;
const L_QUANTITY: i64 = 5;
const L_EXTENDEDPRICE: i64 = 6;
const L_DISCOUNT: i64 = 7;
const L_TAX: i64 = 8;
const L_RETURNFLAG: i64 = 9;
const L_LINESTATUS: i64 = 10;
const L_SHIPDATE: i64 = 11;

struct Options {
    sf: f64,
    runs: usize,
    skip_memory_source: bool,
}

fn options() -> Option<Options> {
    let mut args = std::env::args().skip(1);
    let mut options = Options {
        sf: 0.1,
        runs: 5,
        skip_memory_source: false,
    };
    let mut benching = false;
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None => (arg.clone(), None),
        };
        let mut value = |what: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .unwrap_or_else(|| panic!("{what} needs a value"))
        };
        match name.as_str() {
            "--bench" => benching = true,
            "--skip-memory-source" => options.skip_memory_source = true,
            "--sf" => options.sf = value("--sf").parse().expect("--sf takes a number"),
            "--runs" => {
                options.runs = value("--runs").parse().expect("--runs takes a count");
                assert!(options.runs > 0, "--runs must be at least 1");
            }
            // Filters and flags cargo or a user may pass to harness-less benches.
            _ => {}
        }
    }
    // `cargo bench` passes --bench; a `cargo test --benches` run only checks it builds.
    benching.then_some(options)
}

// ----- Data -------------------------------------------------------------------------------

/// The columns the queries read, as plain integers: decimals in cents, dates in days since
/// 1970-01-01.
#[derive(Default)]
struct Lineitem {
    quantity: Vec<i64>,
    extendedprice: Vec<i64>,
    discount: Vec<i64>,
    tax: Vec<i64>,
    returnflag: Vec<u8>,
    linestatus: Vec<u8>,
    shipdate: Vec<i32>,
}

impl Lineitem {
    fn len(&self) -> usize {
        self.quantity.len()
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> i32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

/// Days from 1970-01-01 to `year-month-day` (years from 1970 on).
fn epoch_days(year: i32, month: u32, day: u32) -> i32 {
    let years: i32 = (1970..year)
        .map(|y| if is_leap(y) { 366 } else { 365 })
        .sum();
    let months: i32 = (1..month).map(|m| days_in_month(year, m)).sum();
    years + months + day as i32 - 1
}

/// A DECIMAL(15,2) row-v2 value as TiDB writes it: the column's precision and scale, then
/// the binary form.
fn decimal_15_2(cents: i64) -> Vec<u8> {
    let value = decimal_from_scaled(i128::from(cents), 2);
    let mut out = vec![15, 2];
    value.encode_bin(15, 2, &mut out).expect("DECIMAL(15,2)");
    out
}

/// `scaled / 10^scale` as text with exactly `scale` digits after the point.
fn fixed(scaled: i128, scale: u32) -> String {
    let unit = 10i128.pow(scale);
    let sign = if scaled < 0 { "-" } else { "" };
    let (int, frac) = (scaled.abs() / unit, scaled.abs() % unit);
    if scale == 0 {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac:0width$}", width = scale as usize)
    }
}

fn decimal_from_scaled(scaled: i128, scale: u32) -> Decimal {
    fixed(scaled, scale).parse().expect("decimal text")
}

fn date_value(year: u32, month: u32, day: u32) -> DateTime {
    DateTime::new(year, month, day, 0, 0, 0, 0, TimeType::Date, 0).expect("date")
}

/// Generates lineitem at `sf`: the plain columns and the rows as TiDB stores them.
fn generate(sf: f64) -> (Lineitem, MemorySource) {
    let mut plain = Lineitem::default();
    let mut pairs = Vec::new();
    let mut handle = 0i64;
    for row in LineItemGenerator::new(sf, 1, 1).iter() {
        handle += 1;
        let quantity = row.l_quantity * 100;
        let (price, discount, tax) = (row.l_extendedprice.0, row.l_discount.0, row.l_tax.0);
        let flag_byte = row.l_returnflag.as_bytes()[0];
        let status_byte = row.l_linestatus.as_bytes()[0];
        let date = |d: tpchgen::dates::TPCHDate| {
            let (y, m, day) = d.to_ymd();
            date_value(1900 + y as u32, m as u32, day as u32)
        };
        let shipdate = date(row.l_shipdate);
        plain.quantity.push(quantity);
        plain.extendedprice.push(price);
        plain.discount.push(discount);
        plain.tax.push(tax);
        plain.returnflag.push(flag_byte);
        plain.linestatus.push(status_byte);
        plain.shipdate.push(row.l_shipdate.to_unix_epoch());
        debug_assert_eq!(
            row.l_shipdate.to_unix_epoch(),
            epoch_days(shipdate.year() as i32, shipdate.month(), shipdate.day())
        );

        let int = |v: i64| to_row_v2(&Datum::Int(v)).expect("int").expect("not null");
        let time = |t: DateTime| to_row_v2(&Datum::Time(t)).expect("time").expect("not null");
        let text = |s: &str| s.as_bytes().to_vec();
        let values: [Vec<u8>; 16] = [
            int(row.l_orderkey),
            int(row.l_partkey),
            int(row.l_suppkey),
            int(i64::from(row.l_linenumber)),
            decimal_15_2(quantity),
            decimal_15_2(price),
            decimal_15_2(discount),
            decimal_15_2(tax),
            text(row.l_returnflag),
            text(row.l_linestatus),
            time(shipdate),
            time(date(row.l_commitdate)),
            time(date(row.l_receiptdate)),
            text(row.l_shipinstruct),
            text(row.l_shipmode),
            text(row.l_comment),
        ];
        let columns: Vec<(i64, Option<&[u8]>)> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (L_ORDERKEY + i as i64, Some(v.as_slice())))
            .collect();
        let value = row_v2::encode_row(&columns).expect("row v2");
        pairs.push((table::encode_row_key(TABLE_ID, &Handle::Int(handle)), value));
    }
    // Handles ascend, and so do their keys; sort anyway, as MemorySource requires.
    pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    (plain, MemorySource { pairs })
}

/// The same pairs behind an `Arc`, found by binary search: a scan costs the pairs it returns
/// (cloned, as a snapshot scan returns them), not the pairs before them. `MemorySource` filters
/// from the first pair on every call, so a full scan through it grows with the square of the
/// rows; this source shows the executors' own cost.
#[derive(Clone)]
struct SortedSource {
    pairs: Arc<Vec<(Vec<u8>, Vec<u8>)>>,
}

impl ScanSource for SortedSource {
    fn scan(
        &mut self,
        lower: &[u8],
        upper: &[u8],
        desc: bool,
        limit: usize,
    ) -> basalt_copr::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let from = self
            .pairs
            .partition_point(|(key, _)| key.as_slice() < lower);
        let to = if upper.is_empty() {
            self.pairs.len()
        } else {
            self.pairs
                .partition_point(|(key, _)| key.as_slice() < upper)
        };
        let inside = &self.pairs[from..to.max(from)];
        Ok(if desc {
            inside.iter().rev().take(limit).cloned().collect()
        } else {
            inside.iter().take(limit).cloned().collect()
        })
    }
}

// ----- DAGs -------------------------------------------------------------------------------

fn decimal_type(flen: i32, decimal: i32) -> FieldType {
    let mut ft = FieldType::new(FieldTypeTp::NewDecimal).with_decimal(decimal);
    ft.flen = flen;
    ft
}

/// A NOT NULL DECIMAL(15,2) column.
fn money_type() -> FieldType {
    decimal_type(15, 2).with_flag(flag::NOT_NULL)
}

fn date_type() -> FieldType {
    let mut ft = FieldType::new(FieldTypeTp::Date)
        .with_flag(flag::NOT_NULL | flag::BINARY)
        .with_decimal(0);
    ft.flen = 10;
    ft
}

fn char1_type() -> FieldType {
    let mut ft = FieldType::new(FieldTypeTp::String).with_flag(flag::NOT_NULL);
    ft.flen = 1;
    ft.collate = UTF8MB4_BIN;
    ft.charset = "utf8mb4".into();
    ft
}

fn bool_type() -> FieldType {
    let mut ft = FieldType::new(FieldTypeTp::LongLong).with_flag(flag::IS_BOOLEAN);
    ft.flen = 1;
    ft.decimal = 0;
    ft
}

fn bigint_type() -> FieldType {
    let mut ft = FieldType::new(FieldTypeTp::LongLong).with_flag(flag::NOT_NULL);
    ft.flen = 21;
    ft.decimal = 0;
    ft
}

fn column_info(id: i64, ft: &FieldType) -> tipb::ColumnInfo {
    tipb::ColumnInfo {
        column_id: Some(id),
        tp: Some(ft.tp as i32),
        collation: Some(ft.collate),
        column_len: Some(ft.flen),
        decimal: Some(ft.decimal),
        flag: Some(ft.flag as i32),
        pk_handle: Some(false),
        ..Default::default()
    }
}

fn table_scan(columns: &[(i64, FieldType)]) -> tipb::Executor {
    tipb::Executor {
        tp: Some(ExecType::TypeTableScan as i32),
        tbl_scan: Some(tipb::TableScan {
            table_id: Some(TABLE_ID),
            columns: columns
                .iter()
                .map(|(id, ft)| column_info(*id, ft))
                .collect(),
            desc: Some(false),
            ..Default::default()
        }),
        executor_id: Some("TableFullScan_1".into()),
        ..Default::default()
    }
}

fn column_ref(offset: i64, ft: &FieldType) -> tipb::Expr {
    let mut val = Vec::new();
    number::encode_i64(&mut val, offset);
    tipb::Expr {
        tp: Some(ExprType::ColumnRef as i32),
        val: Some(val),
        field_type: Some(ft.to_tipb()),
        ..Default::default()
    }
}

/// A DECIMAL constant: the datum payload of its value (precision and scale of the value).
fn decimal_const(text: &str) -> tipb::Expr {
    let value: Decimal = text.parse().expect("decimal constant");
    let (precision, frac) = value.precision_and_frac();
    let mut val = Vec::new();
    value
        .encode_datum_payload(&mut val)
        .expect("decimal payload");
    tipb::Expr {
        tp: Some(ExprType::MysqlDecimal as i32),
        val: Some(val),
        field_type: Some(decimal_type(i32::from(precision), i32::from(frac)).to_tipb()),
        ..Default::default()
    }
}

/// A DATE constant: the comparable u64 of its packed form.
fn date_const(year: u32, month: u32, day: u32) -> tipb::Expr {
    let mut val = Vec::new();
    number::encode_u64(&mut val, date_value(year, month, day).to_packed_u64());
    let mut ft = date_type();
    ft.flag = flag::BINARY;
    tipb::Expr {
        tp: Some(ExprType::MysqlTime as i32),
        val: Some(val),
        field_type: Some(ft.to_tipb()),
        ..Default::default()
    }
}

fn int_const(value: i64) -> tipb::Expr {
    let mut val = Vec::new();
    number::encode_i64(&mut val, value);
    let mut ft = FieldType::new(FieldTypeTp::LongLong).with_flag(flag::NOT_NULL);
    ft.flen = 1;
    ft.decimal = 0;
    tipb::Expr {
        tp: Some(ExprType::Int64 as i32),
        val: Some(val),
        field_type: Some(ft.to_tipb()),
        ..Default::default()
    }
}

fn call(sig: Sig, ft: &FieldType, children: Vec<tipb::Expr>) -> tipb::Expr {
    tipb::Expr {
        tp: Some(ExprType::ScalarFunc as i32),
        sig: Some(sig as i32),
        field_type: Some(ft.to_tipb()),
        children,
        ..Default::default()
    }
}

/// The result type TiDB gives `a + b` / `a - b` of two decimals.
fn plus_type(a: &FieldType, b: &FieldType) -> FieldType {
    let frac = a.decimal.max(b.decimal);
    let int = (a.flen - a.decimal).max(b.flen - b.decimal);
    decimal_type((int + frac + 1).min(65), frac)
}

/// The result type TiDB gives `a * b` of two decimals.
fn multiply_type(a: &FieldType, b: &FieldType) -> FieldType {
    decimal_type((a.flen + b.flen).min(65), (a.decimal + b.decimal).min(30))
}

fn expr_type(expr: &tipb::Expr) -> FieldType {
    FieldType::from_tipb(expr.field_type.as_ref().expect("typed")).expect("field type")
}

fn arith(sig: Sig, a: tipb::Expr, b: tipb::Expr) -> tipb::Expr {
    let (ta, tb) = (expr_type(&a), expr_type(&b));
    let ft = match sig {
        Sig::MultiplyDecimal => multiply_type(&ta, &tb),
        _ => plus_type(&ta, &tb),
    };
    call(sig, &ft, vec![a, b])
}

fn compare(sig: Sig, a: tipb::Expr, b: tipb::Expr) -> tipb::Expr {
    call(sig, &bool_type(), vec![a, b])
}

fn selection(conditions: Vec<tipb::Expr>) -> tipb::Executor {
    tipb::Executor {
        tp: Some(ExecType::TypeSelection as i32),
        selection: Some(Box::new(tipb::Selection {
            conditions,
            ..Default::default()
        })),
        executor_id: Some("Selection_2".into()),
        ..Default::default()
    }
}

/// The partial aggregate `tp(arg)`; SUM over a DECIMAL(p,s) is DECIMAL(p+22,s), AVG's final
/// type has four more digits (its partial result is count and sum).
fn aggregate(tp: ExprType, arg: tipb::Expr) -> tipb::Expr {
    let arg_ft = expr_type(&arg);
    let ft = match tp {
        ExprType::Count => bigint_type(),
        ExprType::Sum => decimal_type((arg_ft.flen + 22).min(65), arg_ft.decimal),
        _ => decimal_type(65, (arg_ft.decimal + 4).min(30)),
    };
    tipb::Expr {
        tp: Some(tp as i32),
        children: vec![arg],
        field_type: Some(ft.to_tipb()),
        ..Default::default()
    }
}

fn aggregation(group_by: Vec<tipb::Expr>, agg_func: Vec<tipb::Expr>) -> tipb::Executor {
    // TiDB streams an aggregation without group-by and hashes the others.
    let (tp, id) = if group_by.is_empty() {
        (ExecType::TypeStreamAgg, "StreamAgg_3")
    } else {
        (ExecType::TypeAggregation, "HashAgg_3")
    };
    tipb::Executor {
        tp: Some(tp as i32),
        aggregation: Some(Box::new(tipb::Aggregation {
            group_by,
            agg_func,
            ..Default::default()
        })),
        executor_id: Some(id.into()),
        ..Default::default()
    }
}

fn dag_request(executors: Vec<tipb::Executor>, outputs: usize) -> tipb::DagRequest {
    tipb::DagRequest {
        executors,
        output_offsets: (0..outputs as u32).collect(),
        encode_type: Some(EncodeType::TypeChunk as i32),
        time_zone_name: Some("UTC".into()),
        time_zone_offset: Some(0),
        collect_execution_summaries: Some(true),
        ..Default::default()
    }
}

/// Q6:
/// `SELECT SUM(l_extendedprice * l_discount) FROM lineitem WHERE l_shipdate >= '1994-01-01'
/// AND l_shipdate < '1994-01-01' + INTERVAL 1 YEAR AND l_discount BETWEEN 0.06 - 0.01 AND
/// 0.06 + 0.01 AND l_quantity < 24`. TiDB folds the constants and splits the condition into
/// its conjuncts (BETWEEN into `>=` and `<=`).
fn q6_dag() -> (tipb::DagRequest, Vec<FieldType>) {
    let money = money_type();
    // Scan output: l_quantity, l_extendedprice, l_discount, l_shipdate.
    let scan = table_scan(&[
        (L_QUANTITY, money.clone()),
        (L_EXTENDEDPRICE, money.clone()),
        (L_DISCOUNT, money.clone()),
        (L_SHIPDATE, date_type()),
    ]);
    let (quantity, price, discount, shipdate) = (
        || column_ref(0, &money),
        || column_ref(1, &money),
        || column_ref(2, &money),
        || column_ref(3, &date_type()),
    );
    let conditions = vec![
        compare(Sig::GeTime, shipdate(), date_const(1994, 1, 1)),
        compare(Sig::LtTime, shipdate(), date_const(1995, 1, 1)),
        compare(Sig::GeDecimal, discount(), decimal_const("0.05")),
        compare(Sig::LeDecimal, discount(), decimal_const("0.07")),
        compare(Sig::LtDecimal, quantity(), decimal_const("24")),
    ];
    let revenue = aggregate(
        ExprType::Sum,
        arith(Sig::MultiplyDecimal, price(), discount()),
    );
    let result_types = vec![expr_type(&revenue)];
    let dag = dag_request(
        vec![
            scan,
            selection(conditions),
            aggregation(vec![], vec![revenue]),
        ],
        1,
    );
    (dag, result_types)
}

/// Q1:
/// `SELECT l_returnflag, l_linestatus, SUM(l_quantity), SUM(l_extendedprice),
/// SUM(l_extendedprice * (1 - l_discount)), SUM(l_extendedprice * (1 - l_discount) * (1 +
/// l_tax)), AVG(l_quantity), AVG(l_extendedprice), AVG(l_discount), COUNT(*) FROM lineitem
/// WHERE l_shipdate <= DATE '1998-12-01' - INTERVAL 90 DAY GROUP BY l_returnflag,
/// l_linestatus`. The partial result: the eight aggregates (each AVG as count then sum), then
/// the group-by columns.
fn q1_dag() -> (tipb::DagRequest, Vec<FieldType>) {
    let money = money_type();
    // Scan output: l_quantity, l_extendedprice, l_discount, l_tax, l_returnflag,
    // l_linestatus, l_shipdate.
    let scan = table_scan(&[
        (L_QUANTITY, money.clone()),
        (L_EXTENDEDPRICE, money.clone()),
        (L_DISCOUNT, money.clone()),
        (L_TAX, money.clone()),
        (L_RETURNFLAG, char1_type()),
        (L_LINESTATUS, char1_type()),
        (L_SHIPDATE, date_type()),
    ]);
    let quantity = || column_ref(0, &money);
    let price = || column_ref(1, &money);
    let discount = || column_ref(2, &money);
    let tax = || column_ref(3, &money);
    let shipdate = column_ref(6, &date_type());
    let condition = compare(Sig::LeTime, shipdate, date_const(1998, 9, 2));
    let disc_price = || {
        arith(
            Sig::MultiplyDecimal,
            price(),
            arith(Sig::MinusDecimal, decimal_const("1"), discount()),
        )
    };
    let charge = arith(
        Sig::MultiplyDecimal,
        disc_price(),
        arith(Sig::PlusDecimal, decimal_const("1"), tax()),
    );
    let aggs = vec![
        aggregate(ExprType::Sum, quantity()),
        aggregate(ExprType::Sum, price()),
        aggregate(ExprType::Sum, disc_price()),
        aggregate(ExprType::Sum, charge),
        aggregate(ExprType::Avg, quantity()),
        aggregate(ExprType::Avg, price()),
        aggregate(ExprType::Avg, discount()),
        aggregate(ExprType::Count, int_const(1)),
    ];
    let mut result_types = Vec::new();
    for agg in &aggs {
        let ft = expr_type(agg);
        if agg.tp == Some(ExprType::Avg as i32) {
            result_types.push(bigint_type());
        }
        result_types.push(ft);
    }
    result_types.push(char1_type());
    result_types.push(char1_type());
    let group_by = vec![column_ref(4, &char1_type()), column_ref(5, &char1_type())];
    let outputs = result_types.len();
    let dag = dag_request(
        vec![
            scan,
            selection(vec![condition]),
            aggregation(group_by, aggs),
        ],
        outputs,
    );
    (dag, result_types)
}

// ----- Answers ----------------------------------------------------------------------------

/// One value of an answer, compared exactly.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Value {
    Int(i64),
    /// A decimal as its text, with every digit of its scale.
    Decimal(String),
    Text(String),
    Null,
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Decimal(v) | Value::Text(v) => write!(f, "{v}"),
            Value::Null => write!(f, "NULL"),
        }
    }
}

/// An answer: rows sorted by their values.
type Answer = Vec<Vec<Value>>;

fn decode_answer(response: &tipb::SelectResponse, types: &[FieldType]) -> Answer {
    let mut rows = Vec::new();
    for chunk in &response.chunks {
        let columns = decode_chunk(chunk.rows_data(), types).expect("decodable chunk");
        let count = columns.first().map_or(0, column_len);
        for row in 0..count {
            rows.push(
                columns
                    .iter()
                    .map(|column| match column {
                        Column::Int(c) => c.get(row).map_or(Value::Null, Value::Int),
                        Column::Decimal(c) => c
                            .get(row)
                            .map_or(Value::Null, |d| Value::Decimal(d.to_string())),
                        Column::Bytes(c) => c.get(row).map_or(Value::Null, |b| {
                            Value::Text(String::from_utf8_lossy(b).into_owned())
                        }),
                        other => panic!("unexpected column {other:?}"),
                    })
                    .collect(),
            );
        }
    }
    rows.sort();
    rows
}

fn column_len(column: &Column) -> usize {
    match column {
        Column::Int(c) => c.len(),
        Column::Decimal(c) => c.len(),
        Column::Bytes(c) => c.len(),
        _ => 0,
    }
}

fn run_dag<S: ScanSource + 'static>(
    dag: &tipb::DagRequest,
    types: &[FieldType],
    source: S,
) -> Answer {
    let runner = DagRunner::build(dag, vec![table::record_range(TABLE_ID)], source, 0)
        .expect("the DAG builds");
    let response = runner.run().expect("the DAG runs");
    if let Some(warning) = response.warnings.first() {
        eprintln!(
            "warning from the engine: {} ({} in all)",
            warning.msg(),
            response.warning_count()
        );
    }
    decode_answer(&response, types)
}

// ----- The plain loops --------------------------------------------------------------------

/// Q6 over the plain columns: revenue in units of 10^-4.
fn q6_plain(data: &Lineitem) -> i128 {
    let (from, to) = (epoch_days(1994, 1, 1), epoch_days(1995, 1, 1));
    let mut revenue = 0i128;
    let rows = data
        .shipdate
        .iter()
        .zip(&data.discount)
        .zip(&data.quantity)
        .zip(&data.extendedprice);
    for (((&shipdate, &discount), &quantity), &price) in rows {
        if shipdate >= from && shipdate < to && (5..=7).contains(&discount) && quantity < 2400 {
            revenue += i128::from(price * discount);
        }
    }
    revenue
}

fn q6_answer(revenue: i128) -> Answer {
    vec![vec![Value::Decimal(fixed(revenue, 4))]]
}

#[derive(Default, Clone, Copy)]
struct Q1Group {
    /// Cents.
    quantity: i64,
    /// Cents.
    price: i64,
    /// Units of 10^-4.
    disc_price: i128,
    /// Units of 10^-6.
    charge: i128,
    /// Cents.
    discount: i64,
    count: i64,
}

/// Q1 over the plain columns: per (returnflag, linestatus), the sums.
fn q1_plain(data: &Lineitem) -> Vec<((u8, u8), Q1Group)> {
    let until = epoch_days(1998, 9, 2);
    // Group slot by the two flag bytes; groups in first-seen order.
    let mut slot_of = vec![u8::MAX; 1 << 16];
    let mut groups: Vec<((u8, u8), Q1Group)> = Vec::with_capacity(8);
    for i in 0..data.len() {
        if data.shipdate[i] > until {
            continue;
        }
        let key = (data.returnflag[i], data.linestatus[i]);
        let at = usize::from(key.0) << 8 | usize::from(key.1);
        let mut slot = slot_of[at];
        if slot == u8::MAX {
            slot = groups.len() as u8;
            slot_of[at] = slot;
            groups.push((key, Q1Group::default()));
        }
        let group = &mut groups[usize::from(slot)].1;
        let (price, discount, tax) = (data.extendedprice[i], data.discount[i], data.tax[i]);
        let disc_price = price * (100 - discount);
        group.quantity += data.quantity[i];
        group.price += price;
        group.disc_price += i128::from(disc_price);
        group.charge += i128::from(disc_price) * i128::from(100 + tax);
        group.discount += discount;
        group.count += 1;
    }
    groups
}

fn q1_answer(groups: &[((u8, u8), Q1Group)]) -> Answer {
    let mut rows: Answer = groups
        .iter()
        .map(|&((flag, status), g)| {
            let cents = |v: i64| Value::Decimal(fixed(i128::from(v), 2));
            vec![
                cents(g.quantity),
                cents(g.price),
                Value::Decimal(fixed(g.disc_price, 4)),
                Value::Decimal(fixed(g.charge, 6)),
                Value::Int(g.count),
                cents(g.quantity),
                Value::Int(g.count),
                cents(g.price),
                Value::Int(g.count),
                cents(g.discount),
                Value::Int(g.count),
                Value::Text((flag as char).to_string()),
                Value::Text((status as char).to_string()),
            ]
        })
        .collect();
    rows.sort();
    rows
}

// ----- Measuring --------------------------------------------------------------------------

struct Timings {
    samples: Vec<Duration>,
}

impl Timings {
    fn rates(&self, rows: usize) -> (f64, f64, f64) {
        let mut rates: Vec<f64> = self
            .samples
            .iter()
            .map(|d| rows as f64 / d.as_secs_f64())
            .collect();
        rates.sort_by(f64::total_cmp);
        let median = if rates.len() % 2 == 1 {
            rates[rates.len() / 2]
        } else {
            (rates[rates.len() / 2 - 1] + rates[rates.len() / 2]) / 2.0
        };
        (median, rates[0], rates[rates.len() - 1])
    }
}

/// Runs `f` `runs` times (after `prepare`, untimed) and keeps the last answer.
fn measure<P, T, A>(runs: usize, mut prepare: impl FnMut() -> P, mut f: T) -> (Timings, A)
where
    T: FnMut(P) -> A,
{
    let mut samples = Vec::with_capacity(runs);
    let mut answer = None;
    for _ in 0..runs {
        let input = prepare();
        let start = Instant::now();
        let result = black_box(f(black_box(input)));
        samples.push(start.elapsed());
        answer = Some(result);
    }
    (Timings { samples }, answer.expect("at least one run"))
}

fn mrows(rate: f64) -> String {
    format!("{:.2}", rate / 1e6)
}

struct Outcome {
    query: &'static str,
    /// Through `MemorySource`, unless skipped.
    memory: Option<(Timings, Result<(), String>)>,
    sorted: (Timings, Result<(), String>),
    plain: Timings,
}

fn check(dag: &Answer, plain: &Answer) -> Result<(), String> {
    if dag == plain {
        return Ok(());
    }
    let show = |answer: &Answer| {
        answer
            .iter()
            .map(|row| {
                row.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    Err(format!(
        "expected (plain loop) [{}], got (DagRunner) [{}]",
        show(plain),
        show(dag)
    ))
}

struct Query {
    name: &'static str,
    dag: tipb::DagRequest,
    types: Vec<FieldType>,
    plain: fn(&Lineitem) -> Answer,
}

fn range_text(timings: &Timings, rows: usize) -> (f64, String) {
    let (median, min, max) = timings.rates(rows);
    (
        median,
        format!("{} [{}–{}]", mrows(median), mrows(min), mrows(max)),
    )
}

fn main() {
    let Some(options) = options() else {
        println!("tpch: run it with `cargo bench -p basalt-copr --bench tpch [-- --sf 0.1]`");
        return;
    };
    let start = Instant::now();
    let (plain, memory) = generate(options.sf);
    let rows = plain.len();
    let bytes: usize = memory.pairs.iter().map(|(k, v)| k.len() + v.len()).sum();
    eprintln!(
        "generated lineitem at SF {}: {rows} rows, {:.1} MiB of keys and row-v2 values, in {:.1?}",
        options.sf,
        bytes as f64 / (1 << 20) as f64,
        start.elapsed()
    );
    let sorted = SortedSource {
        pairs: Arc::new(memory.pairs.clone()),
    };

    let (q6, q6_types) = q6_dag();
    let (q1, q1_types) = q1_dag();
    let queries = [
        Query {
            name: "Q6",
            dag: q6,
            types: q6_types,
            plain: |data| q6_answer(q6_plain(data)),
        },
        Query {
            name: "Q1",
            dag: q1,
            types: q1_types,
            plain: |data| q1_answer(&q1_plain(data)),
        },
    ];

    let mut outcomes = Vec::new();
    let mut answers = Vec::new();
    for query in &queries {
        let started = Instant::now();
        let (plain_timings, expected) = measure(options.runs, || &plain, query.plain);
        let memory_outcome = (!options.skip_memory_source).then(|| {
            let (timings, answer) = measure(
                options.runs,
                || memory.clone(),
                |source| run_dag(&query.dag, &query.types, source),
            );
            (timings, check(&answer, &expected))
        });
        let (timings, answer) = measure(
            options.runs,
            || sorted.clone(),
            |source| run_dag(&query.dag, &query.types, source),
        );
        let sorted_outcome = (timings, check(&answer, &expected));
        eprintln!("{} measured in {:.1?}", query.name, started.elapsed());
        answers.push((query.name, answer));
        outcomes.push(Outcome {
            query: query.name,
            memory: memory_outcome,
            sorted: sorted_outcome,
            plain: plain_timings,
        });
    }

    println!();
    println!(
        "TPC-H SF {} lineitem ({rows} rows) in one region; median of {} runs [min–max], in \
         millions of lineitem rows per second",
        options.sf, options.runs
    );
    println!();
    println!(
        "| query | DagRunner over MemorySource | DagRunner over a sorted slice | plain loop \
         | plain / DAG (MemorySource) | plain / DAG (sorted slice) | same answer |"
    );
    println!("|---|---|---|---|---|---|---|");
    for outcome in &outcomes {
        let (plain_median, plain_text) = range_text(&outcome.plain, rows);
        let (sorted_median, sorted_text) = range_text(&outcome.sorted.0, rows);
        let (memory_text, memory_ratio) = match &outcome.memory {
            Some((timings, _)) => {
                let (median, text) = range_text(timings, rows);
                (text, format!("{:.0}×", plain_median / median))
            }
            None => ("skipped".to_string(), "–".to_string()),
        };
        let agree = outcome.sorted.1.is_ok()
            && outcome
                .memory
                .as_ref()
                .is_none_or(|(_, agree)| agree.is_ok());
        println!(
            "| {} | {memory_text} | {sorted_text} | {plain_text} | {memory_ratio} | {:.0}× | {} |",
            outcome.query,
            plain_median / sorted_median,
            if agree { "yes" } else { "NO" },
        );
    }
    println!();
    for (query, answer) in &answers {
        for row in answer {
            let text: Vec<String> = row.iter().map(ToString::to_string).collect();
            println!("{query}: {}", text.join(" | "));
        }
    }
    for outcome in &outcomes {
        let mismatches = outcome
            .memory
            .iter()
            .map(|(_, agree)| ("MemorySource", agree))
            .chain([("sorted slice", &outcome.sorted.1)]);
        for (source, agree) in mismatches {
            if let Err(mismatch) = agree {
                println!();
                println!("MISMATCH in {} over {source}: {mismatch}", outcome.query);
            }
        }
    }
}
