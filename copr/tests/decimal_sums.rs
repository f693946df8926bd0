//! SUM and AVG of decimals and decimal arithmetic, which run on scaled integers read straight
//! from the row bytes when the scan hands its rows over undecoded: the partial results must be
//! the exact `Decimal` sums, whatever the rows hold (NULLs, a column missing from old rows and
//! taking its default, values of another scale, old-format rows).

mod common;

use basalt_chunk::chunk_codec::decode_chunk;
use basalt_chunk::codec::datum::{self, encode_row_default, to_row_v2, Datum};
use basalt_chunk::codec::row_v2;
use basalt_chunk::codec::table::{self, Handle};
use basalt_chunk::column::Column;
use basalt_chunk::types::{FieldType, FieldTypeTp};
use basalt_chunk::Decimal;
use basalt_copr::source::MemorySource;
use basalt_copr::DagRunner;
use basalt_proto::tipb::{self, ExecType, ExprType, ScalarFuncSig as Sig};
use common::{aggregate, aggregation, column_info, column_ref, dag, table_scan};

const TABLE: i64 = 7;
/// The discount's default, for rows written before the column existed.
const DISCOUNT_DEFAULT: &str = "0.10";

fn dec(text: &str) -> Decimal {
    text.parse().expect("a decimal")
}

/// How a row is stored.
#[derive(Clone, Copy, PartialEq)]
enum Stored {
    V2,
    /// Written before the discount column was added.
    V2WithoutDiscount,
    /// The old (datum pairs) format.
    Old,
}

struct Row {
    id: i64,
    price: Option<Decimal>,
    discount: Option<Decimal>,
    flag: &'static str,
    stored: Stored,
}

impl Row {
    /// The discount as the scan reads it.
    fn discount(&self) -> Option<Decimal> {
        match self.stored {
            Stored::V2WithoutDiscount => Some(dec(DISCOUNT_DEFAULT)),
            _ => self.discount,
        }
    }
}

fn rows(count: i64, odd_scale_at: Option<i64>) -> Vec<Row> {
    (1..=count)
        .map(|id| {
            let price = match id % 13 {
                0 => None,
                _ if Some(id) == odd_scale_at => Some(dec("1.125")),
                n => Some(dec(&format!("{}.{:02}", 1000 * n + id, id % 100))),
            };
            let discount = (id % 17 != 0).then(|| dec(&format!("0.{:02}", id % 11)));
            let stored = match id % 97 {
                5 => Stored::V2WithoutDiscount,
                9 => Stored::Old,
                _ => Stored::V2,
            };
            Row {
                id,
                price,
                discount,
                flag: ["A", "N", "R"][(id % 3) as usize],
                stored,
            }
        })
        .collect()
}

fn source(rows: &[Row]) -> MemorySource {
    let mut pairs = Vec::new();
    for row in rows {
        let value = |d: Option<Decimal>| d.map_or(Datum::Null, Datum::Decimal);
        let bytes = match row.stored {
            Stored::Old => {
                let mut bytes = Vec::new();
                encode_row_default(
                    &mut bytes,
                    &[
                        Datum::Int(2),
                        value(row.price),
                        Datum::Int(3),
                        value(row.discount),
                        Datum::Int(4),
                        Datum::Bytes(row.flag.as_bytes().to_vec()),
                    ],
                )
                .unwrap();
                bytes
            }
            stored => {
                let price = to_row_v2(&value(row.price)).unwrap();
                let discount = to_row_v2(&value(row.discount)).unwrap();
                let mut columns = vec![(2, price.as_deref())];
                if stored == Stored::V2 {
                    columns.push((3, discount.as_deref()));
                }
                columns.push((4, Some(row.flag.as_bytes())));
                row_v2::encode_row(&columns).unwrap()
            }
        };
        pairs.push((table::encode_row_key(TABLE, &Handle::Int(row.id)), bytes));
    }
    pairs.sort();
    MemorySource::new(pairs)
}

fn scan() -> tipb::Executor {
    let mut default = Vec::new();
    datum::encode_value(&mut default, &Datum::Decimal(dec(DISCOUNT_DEFAULT))).unwrap();
    table_scan(
        TABLE,
        vec![
            column_info(1, FieldTypeTp::LongLong, true),
            column_info(2, FieldTypeTp::NewDecimal, false),
            tipb::ColumnInfo {
                default_val: Some(default),
                ..column_info(3, FieldTypeTp::NewDecimal, false)
            },
            column_info(4, FieldTypeTp::VarString, false),
        ],
    )
}

fn decimal_type() -> FieldType {
    FieldType::new(FieldTypeTp::NewDecimal)
}

fn call(sig: Sig, result: FieldTypeTp, children: Vec<tipb::Expr>) -> tipb::Expr {
    tipb::Expr {
        tp: Some(ExprType::ScalarFunc as i32),
        sig: Some(sig as i32),
        field_type: Some(FieldType::new(result).to_tipb()),
        children,
        ..Default::default()
    }
}

/// `flag != 'N'`: a condition on a column the sums do not read.
fn flag_is_not_n() -> tipb::Executor {
    let n = tipb::Expr {
        tp: Some(ExprType::String as i32),
        val: Some(b"N".to_vec()),
        field_type: Some(FieldType::new(FieldTypeTp::VarString).to_tipb()),
        ..Default::default()
    };
    tipb::Executor {
        tp: Some(ExecType::TypeSelection as i32),
        selection: Some(Box::new(tipb::Selection {
            conditions: vec![call(
                Sig::NeString,
                FieldTypeTp::LongLong,
                vec![column_ref(3, FieldTypeTp::VarString), n],
            )],
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// SUM(price), SUM(price * (1 - discount)), AVG(discount), COUNT(price) GROUP BY flag.
fn sums() -> tipb::Executor {
    let mut one = Vec::new();
    dec("1").encode_datum_payload(&mut one).unwrap();
    let one = tipb::Expr {
        tp: Some(ExprType::MysqlDecimal as i32),
        val: Some(one),
        field_type: Some(decimal_type().to_tipb()),
        ..Default::default()
    };
    let price = || column_ref(1, FieldTypeTp::NewDecimal);
    let discount = || column_ref(2, FieldTypeTp::NewDecimal);
    let net = call(
        Sig::MultiplyDecimal,
        FieldTypeTp::NewDecimal,
        vec![
            price(),
            call(
                Sig::MinusDecimal,
                FieldTypeTp::NewDecimal,
                vec![one, discount()],
            ),
        ],
    );
    aggregation(
        vec![column_ref(3, FieldTypeTp::VarString)],
        vec![
            aggregate(ExprType::Sum, price(), FieldTypeTp::NewDecimal),
            aggregate(ExprType::Sum, net, FieldTypeTp::NewDecimal),
            aggregate(ExprType::Avg, discount(), FieldTypeTp::NewDecimal),
            aggregate(ExprType::Count, price(), FieldTypeTp::LongLong),
        ],
    )
}

/// Per flag: sum of prices, sum of net prices, count and sum of discounts, count of prices,
/// as text (value and scale).
type Sums = Vec<(
    String,
    Option<String>,
    Option<String>,
    i64,
    Option<String>,
    i64,
)>;

fn add(sum: &mut Option<Decimal>, value: Option<Decimal>) {
    if let Some(value) = value {
        *sum = Some(match sum {
            Some(total) => total.add(&value).unwrap(),
            None => value,
        });
    }
}

fn expected(rows: &[Row], with_selection: bool) -> Sums {
    let mut out = Sums::new();
    for flag in ["A", "N", "R"] {
        if with_selection && flag == "N" {
            continue;
        }
        let (mut price, mut net, mut discount) = (None, None, None);
        let (mut discounts, mut prices) = (0, 0);
        for row in rows.iter().filter(|row| row.flag == flag) {
            add(&mut price, row.price);
            if let (Some(p), Some(d)) = (row.price, row.discount()) {
                add(&mut net, Some(p.mul(&dec("1").sub(&d).unwrap()).unwrap()));
            }
            add(&mut discount, row.discount());
            discounts += i64::from(row.discount().is_some());
            prices += i64::from(row.price.is_some());
        }
        let text = |d: Option<Decimal>| d.map(|d| d.to_string());
        out.push((
            flag.to_string(),
            text(price),
            text(net),
            discounts,
            text(discount),
            prices,
        ));
    }
    out
}

fn run(rows: &[Row], with_selection: bool) -> Sums {
    let mut executors = vec![scan()];
    if with_selection {
        executors.push(flag_is_not_n());
    }
    executors.push(sums());
    let request = dag(executors, vec![0, 1, 2, 3, 4, 5]);
    let response = DagRunner::build(&request, vec![table::record_range(TABLE)], source(rows), 0)
        .unwrap()
        .run()
        .unwrap();
    let types = [
        decimal_type(),
        decimal_type(),
        FieldType::new(FieldTypeTp::LongLong),
        decimal_type(),
        FieldType::new(FieldTypeTp::LongLong),
        FieldType::new(FieldTypeTp::VarString),
    ];
    let mut out = Sums::new();
    for chunk in &response.chunks {
        let columns = decode_chunk(chunk.rows_data(), &types).unwrap();
        let [Column::Decimal(price), Column::Decimal(net), Column::Int(discounts), Column::Decimal(discount), Column::Int(prices), Column::Bytes(flag)] =
            columns.as_slice()
        else {
            panic!("unexpected result columns {columns:?}")
        };
        for i in 0..flag.len() {
            let text = |d: Option<Decimal>| d.map(|d| d.to_string());
            out.push((
                String::from_utf8(flag.get(i).unwrap().to_vec()).unwrap(),
                text(price.get(i)),
                text(net.get(i)),
                discounts.get(i).unwrap(),
                text(discount.get(i)),
                prices.get(i).unwrap(),
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn sums_are_exact_over_every_kind_of_stored_row() {
    // 3000 rows: NULLs, rows without the discount (its default), old-format rows, and in the
    // second run one price of scale 3 among scale-2 prices.
    for odd_scale_at in [None, Some(1234)] {
        let rows = rows(3000, odd_scale_at);
        for with_selection in [true, false] {
            let got = run(&rows, with_selection);
            let expected = expected(&rows, with_selection);
            assert_eq!(got.len(), if with_selection { 2 } else { 3 });
            assert_eq!(
                got, expected,
                "selection: {with_selection}, odd scale at {odd_scale_at:?}"
            );
        }
    }
}
