//! The benchmark's queries as TiDB pushes them down: `tipb.DAGRequest`s with TiDB's types
//! (DECIMAL(15,2), DATE, CHAR(1), BIGINT), its function signatures and constant encodings, the
//! partial aggregates it asks of each region (AVG as count and sum), and the SQL DuckDB runs
//! for the same answer.

use basalt_chunk::codec::number;
use basalt_chunk::types::{flag, FieldType, FieldTypeTp};
use basalt_chunk::Decimal;
use basalt_proto::tipb::{self, EncodeType, ExecType, ExprType, ScalarFuncSig as Sig};

use crate::lineitem::{
    date_value, L_DISCOUNT, L_EXTENDEDPRICE, L_LINESTATUS, L_ORDERKEY, L_QUANTITY, L_RETURNFLAG,
    L_SHIPDATE, L_TAX, TABLE_ID,
};

const UTF8MB4_BIN: i32 = -46;

/// Rows the top-N query keeps.
pub const TOP_N: u64 = 10;

/// Which query (answers are merged and checked per kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Q1,
    Q6,
    CountFiltered,
    GroupByOrder,
    TopN,
}

/// A query: its pushed-down DAG, the types of the DAG's output columns, and DuckDB's SQL.
pub struct Query {
    pub kind: Kind,
    pub name: &'static str,
    pub dag: tipb::DagRequest,
    pub output: Vec<FieldType>,
    pub sql: &'static str,
}

fn decimal_type(flen: i32, decimal: i32) -> FieldType {
    let mut ft = FieldType::new(FieldTypeTp::NewDecimal).with_decimal(decimal);
    ft.flen = flen;
    ft
}

/// A NOT NULL DECIMAL(15,2) column.
pub fn money_type() -> FieldType {
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

/// A NOT NULL BIGINT.
pub fn bigint_type() -> FieldType {
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
    let value: Decimal = text.parse().expect("a decimal constant");
    let (precision, frac) = value.precision_and_frac();
    let mut val = Vec::new();
    value
        .encode_datum_payload(&mut val)
        .expect("a decimal constant encodes");
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
    FieldType::from_tipb(
        expr.field_type
            .as_ref()
            .expect("every built expression is typed"),
    )
    .expect("a field type this module built")
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

fn top_n(by: tipb::Expr, desc: bool, limit: u64) -> tipb::Executor {
    tipb::Executor {
        tp: Some(ExecType::TypeTopN as i32),
        top_n: Some(Box::new(tipb::TopN {
            order_by: vec![tipb::ByItem {
                expr: Some(by),
                desc: Some(desc),
                ..Default::default()
            }],
            limit: Some(limit),
            ..Default::default()
        })),
        executor_id: Some("TopN_2".into()),
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

/// Every query of the benchmark.
pub fn queries() -> Vec<Query> {
    vec![
        q1(),
        q6(),
        count_filtered(),
        group_by_order(),
        top_n_price(),
    ]
}

/// Q6: `SUM(l_extendedprice * l_discount)` over one year of shipments with discounts
/// 0.05-0.07 and quantities under 24. TiDB folds the constants and splits the condition into
/// its conjuncts (BETWEEN into `>=` and `<=`).
fn q6() -> Query {
    let money = money_type();
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
    let output = vec![expr_type(&revenue)];
    let dag = dag_request(
        vec![
            scan,
            selection(conditions),
            aggregation(vec![], vec![revenue]),
        ],
        1,
    );
    Query {
        kind: Kind::Q6,
        name: "Q6",
        dag,
        output,
        sql: "SELECT SUM(l_extendedprice * l_discount) FROM lineitem \
              WHERE l_shipdate >= DATE '1994-01-01' AND l_shipdate < DATE '1995-01-01' \
              AND l_discount BETWEEN 0.05 AND 0.07 AND l_quantity < 24",
    }
}

/// Q1: per (returnflag, linestatus) the sums, averages and count of the shipments up to
/// 1998-09-02. The partial result: the eight aggregates (each AVG as count then sum), then the
/// group-by columns.
fn q1() -> Query {
    let money = money_type();
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
    let condition = compare(
        Sig::LeTime,
        column_ref(6, &date_type()),
        date_const(1998, 9, 2),
    );
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
    let mut output = Vec::new();
    for agg in &aggs {
        if agg.tp == Some(ExprType::Avg as i32) {
            output.push(bigint_type());
        }
        output.push(expr_type(agg));
    }
    output.push(char1_type());
    output.push(char1_type());
    let group_by = vec![column_ref(4, &char1_type()), column_ref(5, &char1_type())];
    let outputs = output.len();
    let dag = dag_request(
        vec![
            scan,
            selection(vec![condition]),
            aggregation(group_by, aggs),
        ],
        outputs,
    );
    Query {
        kind: Kind::Q1,
        name: "Q1",
        dag,
        output,
        sql: "SELECT l_returnflag, l_linestatus, SUM(l_quantity), SUM(l_extendedprice), \
              SUM(l_extendedprice * (1 - l_discount)), \
              SUM(l_extendedprice * (1 - l_discount) * (1 + l_tax)), AVG(l_quantity), \
              AVG(l_extendedprice), AVG(l_discount), COUNT(*) FROM lineitem \
              WHERE l_shipdate <= DATE '1998-09-02' GROUP BY l_returnflag, l_linestatus",
    }
}

/// `SELECT COUNT(*) FROM lineitem WHERE l_quantity < 2`: about 2% of the rows pass.
fn count_filtered() -> Query {
    let money = money_type();
    let scan = table_scan(&[(L_QUANTITY, money.clone())]);
    let condition = compare(Sig::LtDecimal, column_ref(0, &money), decimal_const("2"));
    let count = aggregate(ExprType::Count, int_const(1));
    let dag = dag_request(
        vec![
            scan,
            selection(vec![condition]),
            aggregation(vec![], vec![count]),
        ],
        1,
    );
    Query {
        kind: Kind::CountFiltered,
        name: "count(*) where l_quantity < 2",
        dag,
        output: vec![bigint_type()],
        sql: "SELECT COUNT(*) FROM lineitem WHERE l_quantity < 2",
    }
}

/// `SELECT l_orderkey, SUM(l_quantity) FROM lineitem GROUP BY l_orderkey`: a quarter as many
/// groups as rows. The partial result: the sum, then the group key.
fn group_by_order() -> Query {
    let money = money_type();
    let scan = table_scan(&[(L_ORDERKEY, bigint_type()), (L_QUANTITY, money.clone())]);
    let sum = aggregate(ExprType::Sum, column_ref(1, &money));
    let output = vec![expr_type(&sum), bigint_type()];
    let dag = dag_request(
        vec![
            scan,
            aggregation(vec![column_ref(0, &bigint_type())], vec![sum]),
        ],
        2,
    );
    Query {
        kind: Kind::GroupByOrder,
        name: "sum(l_quantity) group by l_orderkey",
        dag,
        output,
        sql: "SELECT l_orderkey, SUM(l_quantity) FROM lineitem GROUP BY l_orderkey",
    }
}

/// `SELECT l_orderkey, l_extendedprice FROM lineitem ORDER BY l_extendedprice DESC LIMIT 10`.
fn top_n_price() -> Query {
    let money = money_type();
    let scan = table_scan(&[
        (L_ORDERKEY, bigint_type()),
        (L_EXTENDEDPRICE, money.clone()),
    ]);
    let dag = dag_request(vec![scan, top_n(column_ref(1, &money), true, TOP_N)], 2);
    Query {
        kind: Kind::TopN,
        name: "top 10 by l_extendedprice",
        dag,
        output: vec![bigint_type(), money],
        sql: "SELECT l_orderkey, l_extendedprice FROM lineitem \
              ORDER BY l_extendedprice DESC LIMIT 10",
    }
}
