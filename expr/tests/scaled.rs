//! Decimal arithmetic on scaled integers (`basalt_expr::scaled`) against the `Decimal` path:
//! wherever `eval_scaled` answers, every row must be the value and scale the ordinary
//! evaluation gives, and SUM / AVG folded from it must give the same partial results.

use basalt_chunk::codec::number;
use basalt_chunk::column::{Column, FixedColumn};
use basalt_chunk::types::{FieldType, FieldTypeTp};
use basalt_chunk::Decimal;
use basalt_expr::aggr::AggrFunction;
use basalt_expr::scaled::ScaledInputs;
use basalt_expr::{EvalContext, RpnExpression};
use basalt_proto::tipb::{self, ExprType, ScalarFuncSig as Sig};
use proptest::prelude::*;

fn decimal_type() -> FieldType {
    FieldType::new(FieldTypeTp::NewDecimal)
}

fn column_ref(offset: i64) -> tipb::Expr {
    let mut val = Vec::new();
    number::encode_i64(&mut val, offset);
    tipb::Expr {
        tp: Some(ExprType::ColumnRef as i32),
        val: Some(val),
        field_type: Some(decimal_type().to_tipb()),
        ..Default::default()
    }
}

fn decimal_const(value: Option<Decimal>) -> tipb::Expr {
    let (tp, val) = match value {
        Some(value) => {
            let mut val = Vec::new();
            value.encode_datum_payload(&mut val).expect("encodable");
            (ExprType::MysqlDecimal, val)
        }
        None => (ExprType::Null, Vec::new()),
    };
    tipb::Expr {
        tp: Some(tp as i32),
        val: Some(val),
        field_type: Some(decimal_type().to_tipb()),
        ..Default::default()
    }
}

fn call(sig: Sig, children: Vec<tipb::Expr>) -> tipb::Expr {
    tipb::Expr {
        tp: Some(ExprType::ScalarFunc as i32),
        sig: Some(sig as i32),
        field_type: Some(decimal_type().to_tipb()),
        children,
        ..Default::default()
    }
}

fn dec(v: i128, frac: u8) -> Decimal {
    Decimal::from_scaled_i128(v, frac).expect("a decimal")
}

fn decimals(values: &[Option<Decimal>]) -> Column {
    let mut column = FixedColumn::with_capacity(values.len());
    for value in values {
        column.push(*value);
    }
    Column::Decimal(column)
}

/// A decimal expression tree over three columns.
#[derive(Debug, Clone)]
enum Tree {
    Column(i64),
    Const(Option<(i64, u8)>),
    Plus(Box<Tree>, Box<Tree>),
    Minus(Box<Tree>, Box<Tree>),
    Multiply(Box<Tree>, Box<Tree>),
    Negate(Box<Tree>),
}

impl Tree {
    fn expr(&self) -> tipb::Expr {
        match self {
            Tree::Column(offset) => column_ref(*offset),
            Tree::Const(value) => decimal_const(value.map(|(v, frac)| dec(i128::from(v), frac))),
            Tree::Plus(a, b) => call(Sig::PlusDecimal, vec![a.expr(), b.expr()]),
            Tree::Minus(a, b) => call(Sig::MinusDecimal, vec![a.expr(), b.expr()]),
            Tree::Multiply(a, b) => call(Sig::MultiplyDecimal, vec![a.expr(), b.expr()]),
            Tree::Negate(a) => call(Sig::UnaryMinusDecimal, vec![a.expr()]),
        }
    }
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = prop_oneof![
        4 => (0i64..3).prop_map(Tree::Column),
        1 => proptest::option::weighted(0.9, (-1_000i64..1_000, 0u8..4)).prop_map(Tree::Const),
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Tree::Plus(a.into(), b.into())),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Tree::Minus(a.into(), b.into())),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Tree::Multiply(a.into(), b.into())),
            inner.prop_map(|a| Tree::Negate(a.into())),
        ]
    })
}

/// `value` as read back from a row of a DECIMAL(`precision`, its scale) column: with the
/// column's integer digits stored, leading zeros included, which the `Decimal` path sizes its
/// results by.
fn stored(value: Decimal, precision: u8) -> Decimal {
    let frac = value.frac();
    let mut bytes = Vec::new();
    value
        .encode_bin(precision, frac, &mut bytes)
        .expect("fits the column");
    Decimal::decode_bin(&bytes, precision, frac)
        .expect("decodes")
        .0
}

/// A column of `rows` decimals of one scale (or, when `mixed`, of two), some NULL, with
/// magnitudes up to `10^digits`, stored at a precision from 20 to 65 or as computed.
fn column(rows: usize) -> impl Strategy<Value = Column> {
    let precision = proptest::option::of(20u8..=65);
    (0u8..5, 1u32..16, any::<bool>(), precision).prop_flat_map(
        move |(frac, digits, mixed, precision)| {
            let limit = 10i64.pow(digits);
            proptest::collection::vec(
                proptest::option::weighted(0.9, (-limit..limit, any::<bool>())),
                rows,
            )
            .prop_map(move |values| {
                let values: Vec<Option<Decimal>> = values
                    .into_iter()
                    .map(|value| {
                        value.map(|(v, other)| {
                            let own = if mixed && other { frac + 1 } else { frac };
                            let value = dec(i128::from(v), own);
                            match precision {
                                Some(precision) => stored(value, precision),
                                None => value,
                            }
                        })
                    })
                    .collect();
                decimals(&values)
            })
        },
    )
}

fn batch() -> impl Strategy<Value = (Vec<Column>, Vec<usize>)> {
    (1usize..40).prop_flat_map(|rows| {
        (
            proptest::collection::vec(column(rows), 3),
            proptest::collection::vec(0..rows, 0..2 * rows),
        )
    })
}

fn decimal_rows(column: &Column) -> Vec<Option<Decimal>> {
    let Column::Decimal(column) = column else {
        panic!("a decimal result expected, got {column:?}")
    };
    (0..column.len()).map(|i| column.get(i)).collect()
}

/// Each row of an aggregate's result column as text: values and scales. (The chunk bytes of a
/// SUM may differ in leading zero digits: a sum kept scaled is rebuilt with none.)
fn cells(column: &Column) -> Vec<Option<String>> {
    match column {
        Column::Int(c) => (0..c.len())
            .map(|i| c.get(i).map(|v| v.to_string()))
            .collect(),
        Column::Decimal(c) => (0..c.len())
            .map(|i| c.get(i).map(|v| v.to_string()))
            .collect(),
        other => panic!("an integer or decimal result expected, got {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn scaled_rows_are_the_decimal_rows((columns, rows) in batch(), tree in tree()) {
        let expr = RpnExpression::compile(&tree.expr(), &[decimal_type(), decimal_type(), decimal_type()])
            .expect("compiles");
        let refs: Vec<Option<&Column>> = columns.iter().map(Some).collect();
        let mut ctx = EvalContext::default();
        let ordinary = expr.eval_to_column(&mut ctx, &refs, &rows);
        let scaled = expr.eval_scaled(&mut ScaledInputs::new(), &refs, &rows);
        if let Some(scaled) = scaled {
            // The ordinary path must succeed wherever the scaled one does.
            let ordinary = decimal_rows(&ordinary.expect("the Decimal path evaluates"));
            prop_assert_eq!(scaled.len(), ordinary.len());
            for (i, expected) in ordinary.iter().enumerate() {
                // The same value and scale (`Display` shows the scale's digits).
                let got = scaled
                    .get(i)
                    .map(|(v, frac)| Decimal::from_scaled_i128(v, frac).expect("a decimal"));
                prop_assert_eq!(
                    got.map(|d| d.to_string()),
                    expected.map(|d| d.to_string()),
                    "row {}", i
                );
            }
            prop_assert!(ctx.warnings().is_empty());
        }
    }

    #[test]
    fn sums_folded_from_scaled_values_are_the_decimal_sums(
        (columns, rows) in batch(),
        tree in tree(),
        avg in any::<bool>(),
    ) {
        let schema = [decimal_type(), decimal_type(), decimal_type()];
        let aggregate = tipb::Expr {
            tp: Some(if avg { ExprType::Avg } else { ExprType::Sum } as i32),
            children: vec![tree.expr()],
            field_type: Some(decimal_type().to_tipb()),
            ..Default::default()
        };
        let aggr = AggrFunction::compile(&aggregate, &schema).expect("compiles");
        let refs: Vec<Option<&Column>> = columns.iter().map(Some).collect();
        let mut ctx = EvalContext::default();
        let Some(scaled) = aggr.arg.eval_scaled(&mut ScaledInputs::new(), &refs, &rows) else {
            return Ok(());
        };
        let values = aggr.arg.eval_to_column(&mut ctx, &refs, &rows).expect("evaluates");
        let (mut by_decimal, mut by_scaled) = (aggr.new_state(), aggr.new_state());
        // Twice over, so the second pass adds to a running sum.
        for _ in 0..2 {
            for i in 0..rows.len() {
                aggr.update(&mut ctx, &mut by_decimal, &values, i).expect("updates");
                aggr.update_scaled(&mut ctx, &mut by_scaled, scaled.get(i)).expect("updates");
            }
        }
        let results = |state| {
            let mut columns: Vec<Column> = aggr
                .result_types
                .iter()
                .map(|ft| Column::new(ft, 1).expect("a column"))
                .collect();
            aggr.push_result(&state, &mut columns).expect("a result");
            columns.iter().map(cells).collect::<Vec<_>>()
        };
        prop_assert_eq!(results(by_scaled), results(by_decimal));
    }
}

fn q1_charge() -> tipb::Expr {
    // l_extendedprice * (1 - l_discount) * (1 + l_tax), as TiDB pushes TPC-H Q1's sum_charge.
    let one = || decimal_const(Some(dec(1, 0)));
    call(
        Sig::MultiplyDecimal,
        vec![
            call(
                Sig::MultiplyDecimal,
                vec![
                    column_ref(0),
                    call(Sig::MinusDecimal, vec![one(), column_ref(1)]),
                ],
            ),
            call(Sig::PlusDecimal, vec![one(), column_ref(2)]),
        ],
    )
}

#[test]
fn money_arithmetic_runs_scaled() {
    let price = decimals(&[Some(dec(9_012_345, 2)), None, Some(dec(100, 2))]);
    let discount = decimals(&[Some(dec(5, 2)), Some(dec(10, 2)), Some(dec(0, 2))]);
    let tax = decimals(&[Some(dec(8, 2)), Some(dec(1, 2)), Some(dec(2, 2))]);
    let schema = [decimal_type(), decimal_type(), decimal_type()];
    let expr = RpnExpression::compile(&q1_charge(), &schema).expect("compiles");
    let refs = [Some(&price), Some(&discount), Some(&tax)];
    let scaled = expr
        .eval_scaled(&mut ScaledInputs::new(), &refs, &[0, 1, 2])
        .expect("money arithmetic fits");
    // 90123.45 * 0.95 * 1.08 = 92466.659700; the scale is 2 + 2 + 2.
    assert_eq!(scaled.get(0), Some((92_466_659_700, 6)));
    assert_eq!(scaled.get(1), None);
    assert_eq!(scaled.get(2), Some((1_020_000, 6)));
}

#[test]
fn what_does_not_fit_falls_back() {
    let schema = [decimal_type(), decimal_type(), decimal_type()];
    let one_scale = decimals(&[Some(dec(1, 2)), Some(dec(2, 2))]);
    let mixed = decimals(&[Some(dec(1, 2)), Some(dec(2, 3))]);
    let wide = decimals(&[Some(dec(1, 16)), Some(dec(2, 16))]);
    let eval = |tree: &Tree, columns: [&Column; 3]| {
        let expr = RpnExpression::compile(&tree.expr(), &schema).expect("compiles");
        let refs = columns.map(Some);
        expr.eval_scaled(&mut ScaledInputs::new(), &refs, &[0, 1])
    };
    let product = Tree::Multiply(Tree::Column(0).into(), Tree::Column(1).into());
    assert!(eval(&product, [&one_scale, &one_scale, &one_scale]).is_some());
    // Two scales in one column.
    assert!(eval(&product, [&one_scale, &mixed, &one_scale]).is_none());
    // A product scale of 32 is past Decimal::MAX_SCALE (the Decimal path would round it).
    assert!(eval(&product, [&wide, &wide, &one_scale]).is_none());
    // A product past an i128.
    let huge = decimals(&[Some(dec(10i128.pow(25), 0)), Some(dec(1, 0))]);
    assert!(eval(&product, [&huge, &huge, &one_scale]).is_none());
    // Another function.
    let divide = call(Sig::DivideDecimal, vec![column_ref(0), column_ref(1)]);
    let expr = RpnExpression::compile(&divide, &schema).expect("compiles");
    let refs = [Some(&one_scale), Some(&one_scale), Some(&one_scale)];
    assert!(expr
        .eval_scaled(&mut ScaledInputs::new(), &refs, &[0, 1])
        .is_none());
}
