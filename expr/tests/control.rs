//! Control flow (IFNULL, IF, CASE WHEN, COALESCE), IN and LIKE, built as TiDB sends them.
//! Golden cases come from TiKV's `components/tidb_query_expr/src/impl_control.rs`,
//! `impl_compare.rs` (COALESCE), `impl_compare_in.rs` (IN) and `impl_like.rs` tests.

use basalt_chunk::codec::number;
use basalt_chunk::column::{BytesColumn, Column, FixedColumn};
use basalt_chunk::types::{flag, FieldType, FieldTypeTp};
use basalt_chunk::{DateTime, Decimal, Duration, Json, TimeType};
use basalt_expr::{EvalContext, RpnExpression};
use basalt_proto::tipb::{self, ExprType, ScalarFuncSig as Sig};
use proptest::prelude::*;

const BINARY: i32 = -63;
const LEGACY_BINARY: i32 = 63;
const LEGACY_UTF8MB4_BIN: i32 = 46;
const UTF8MB4_BIN: i32 = -46;
const GENERAL_CI: i32 = -45;
const UNICODE_CI: i32 = -224;
const AI_CI_0900: i32 = -255;
const BIN_0900: i32 = -309;
const LATIN1_BIN: i32 = -47;

fn ft(tp: FieldTypeTp) -> FieldType {
    FieldType::new(tp)
}

fn str_ft(collate: i32) -> FieldType {
    let mut ft = ft(FieldTypeTp::VarString);
    ft.collate = collate;
    ft
}

fn int_ft(collate: i32) -> FieldType {
    let mut ft = ft(FieldTypeTp::LongLong);
    ft.collate = collate;
    ft
}

fn constant(tp: ExprType, val: Vec<u8>, field_type: &FieldType) -> tipb::Expr {
    tipb::Expr {
        tp: Some(tp as i32),
        val: Some(val),
        field_type: Some(field_type.to_tipb()),
        ..Default::default()
    }
}

fn int_const(value: i64) -> tipb::Expr {
    let mut val = Vec::new();
    number::encode_i64(&mut val, value);
    constant(ExprType::Int64, val, &ft(FieldTypeTp::LongLong))
}

fn uint_const(value: u64) -> tipb::Expr {
    let mut val = Vec::new();
    number::encode_u64(&mut val, value);
    let unsigned = ft(FieldTypeTp::LongLong).with_flag(flag::UNSIGNED);
    constant(ExprType::Uint64, val, &unsigned)
}

fn real_const(value: f64) -> tipb::Expr {
    let mut val = Vec::new();
    number::encode_f64(&mut val, value);
    constant(ExprType::Float64, val, &ft(FieldTypeTp::Double))
}

fn str_const(value: &[u8], collate: i32) -> tipb::Expr {
    constant(ExprType::String, value.to_vec(), &str_ft(collate))
}

fn null_const(tp: FieldTypeTp) -> tipb::Expr {
    constant(ExprType::Null, Vec::new(), &ft(tp))
}

fn dec_const(text: &str) -> tipb::Expr {
    let mut val = Vec::new();
    dec(text).encode_datum_payload(&mut val).unwrap();
    constant(ExprType::MysqlDecimal, val, &ft(FieldTypeTp::NewDecimal))
}

fn time_const(text: &str) -> tipb::Expr {
    let mut val = Vec::new();
    number::encode_u64(&mut val, time(text).to_packed_u64());
    constant(ExprType::MysqlTime, val, &ft(FieldTypeTp::DateTime))
}

fn dur_const(text: &str) -> tipb::Expr {
    let mut val = Vec::new();
    number::encode_i64(&mut val, dur(text).nanos());
    constant(ExprType::MysqlDuration, val, &ft(FieldTypeTp::Duration))
}

fn json_const(text: &str) -> tipb::Expr {
    constant(
        ExprType::MysqlJson,
        Json::parse(text).unwrap().to_bytes(),
        &ft(FieldTypeTp::Json),
    )
}

fn column_ref(offset: i64, field_type: &FieldType) -> tipb::Expr {
    let mut val = Vec::new();
    number::encode_i64(&mut val, offset);
    constant(ExprType::ColumnRef, val, field_type)
}

fn call(sig: Sig, result: FieldType, children: Vec<tipb::Expr>) -> tipb::Expr {
    tipb::Expr {
        tp: Some(ExprType::ScalarFunc as i32),
        sig: Some(sig as i32),
        field_type: Some(result.to_tipb()),
        children,
        ..Default::default()
    }
}

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn time(text: &str) -> DateTime {
    DateTime::parse(text, TimeType::DateTime, 0).unwrap()
}

fn dur(text: &str) -> Duration {
    Duration::parse(text, 0).unwrap()
}

fn fixed<T: basalt_chunk::column::FixedValue>(values: &[Option<T>]) -> FixedColumn<T> {
    let mut column = FixedColumn::with_capacity(values.len());
    for value in values {
        column.push(*value);
    }
    column
}

fn bytes_col(values: &[Option<impl AsRef<[u8]>>]) -> BytesColumn {
    let mut column = BytesColumn::with_capacity(values.len());
    for value in values {
        column.push(value.as_ref().map(AsRef::as_ref));
    }
    column
}

fn strs(values: &[Option<&str>]) -> Column {
    Column::Bytes(bytes_col(values))
}

fn jsons(values: &[Option<&str>]) -> Column {
    let v: Vec<_> = values
        .iter()
        .map(|s| s.map(|s| Json::parse(s).unwrap().to_bytes()))
        .collect();
    Column::Json(bytes_col(&v))
}

fn eval_rows(
    expr: &tipb::Expr,
    schema: &[FieldType],
    columns: &[Column],
    rows: &[usize],
) -> basalt_expr::Result<Column> {
    let rpn = RpnExpression::compile(expr, schema)?;
    let refs: Vec<Option<&Column>> = columns.iter().map(Some).collect();
    rpn.eval_to_column(&mut EvalContext::default(), &refs, rows)
}

/// Evaluates an expression of constants only, over one row.
fn eval_const(expr: &tipb::Expr) -> Column {
    eval_rows(expr, &[], &[], &[0]).unwrap()
}

fn ints_of(column: &Column) -> Vec<Option<i64>> {
    let Column::Int(c) = column else {
        panic!("int result expected, got {column:?}")
    };
    (0..c.len()).map(|i| c.get(i)).collect()
}

fn int1(expr: &tipb::Expr) -> Option<i64> {
    ints_of(&eval_const(expr))[0]
}

#[test]
fn if_null_golden() {
    // TiKV impl_control.rs test_if_null, over columns and as constants.
    let cases = [
        (None, None, None),
        (None, Some(1), Some(1)),
        (Some(2), None, Some(2)),
        (Some(2), Some(1), Some(2)),
    ];
    let int = ft(FieldTypeTp::LongLong);
    let expr = call(
        Sig::IfNullInt,
        int.clone(),
        vec![column_ref(0, &int), column_ref(1, &int)],
    );
    let lhs: Vec<_> = cases.iter().map(|c| c.0).collect();
    let rhs: Vec<_> = cases.iter().map(|c| c.1).collect();
    let columns = [Column::Int(fixed(&lhs)), Column::Int(fixed(&rhs))];
    let result = eval_rows(&expr, &[int.clone(), int.clone()], &columns, &[0, 1, 2, 3]).unwrap();
    let expected: Vec<_> = cases.iter().map(|c| c.2).collect();
    assert_eq!(ints_of(&result), expected);
    // Logical rows in another order.
    let result = eval_rows(&expr, &[int.clone(), int.clone()], &columns, &[3, 1]).unwrap();
    assert_eq!(ints_of(&result), [Some(2), Some(1)]);
    for (lhs, rhs, expected) in cases {
        let arg = |v: Option<i64>| v.map_or_else(|| null_const(FieldTypeTp::LongLong), int_const);
        let expr = call(Sig::IfNullInt, int.clone(), vec![arg(lhs), arg(rhs)]);
        assert_eq!(int1(&expr), expected, "{lhs:?} {rhs:?}");
    }
}

#[test]
fn if_golden() {
    // TiKV impl_control.rs test_if.
    use std::f64::consts::{E, PI};
    let real = ft(FieldTypeTp::Double);
    for (cond, expected) in [(Some(0), PI), (Some(1), E), (None, PI), (Some(-3), E)] {
        let cond = cond.map_or_else(|| null_const(FieldTypeTp::LongLong), int_const);
        let expr = call(
            Sig::IfReal,
            real.clone(),
            vec![cond, real_const(E), real_const(PI)],
        );
        assert_eq!(render(&eval_const(&expr)), [Some(expected.to_string())]);
    }
}

#[test]
fn case_when_golden() {
    // TiKV impl_control.rs test_case_when (CaseWhenReal): even positions are int conditions,
    // odd ones (and a trailing ELSE) doubles; NaN stands for NULL.
    let nan = f64::NAN;
    let cases: [(&[f64], Option<f64>); 9] = [
        (&[1.0, 3.0, 1.0, 5.0], Some(3.0)),
        (&[0.0, 3.0, 1.0, 5.0], Some(5.0)),
        (&[nan, 2.0, 1.0, 6.0], Some(6.0)),
        (&[7.0], Some(7.0)),
        (&[0.0, nan], None),
        (&[1.0, nan], None),
        (&[1.0, 3.5], Some(3.5)),
        (&[2.0, 3.5], Some(3.5)),
        (&[0.0, nan, nan, nan, 5.5], Some(5.5)),
    ];
    for (args, expected) in cases {
        let children = args.iter().enumerate().map(|(k, &v)| {
            let is_cond = k % 2 == 0 && k + 1 < args.len();
            match (v.is_nan(), is_cond) {
                (true, true) => null_const(FieldTypeTp::LongLong),
                (true, false) => null_const(FieldTypeTp::Double),
                (false, true) => int_const(v as i64),
                (false, false) => real_const(v),
            }
        });
        let expr = call(
            Sig::CaseWhenReal,
            ft(FieldTypeTp::Double),
            children.collect(),
        );
        assert_eq!(
            render(&eval_const(&expr)),
            [expected.map(|v| v.to_string())]
        );
    }
    // TiKV impl_control.rs test_case_when_bytes.
    for (first, expected) in [(1, [1, 2, 3]), (0, [4, 5, 6])] {
        let (x, y) = (str_const(&[1, 2, 3], BINARY), str_const(&[4, 5, 6], BINARY));
        let children = vec![int_const(first), x, int_const(1), y];
        let expr = call(Sig::CaseWhenString, str_ft(BINARY), children);
        assert_eq!(
            render(&eval_const(&expr)),
            [Some(String::from_utf8(expected.to_vec()).unwrap())]
        );
    }
}

#[test]
fn coalesce_golden() {
    // TiKV impl_compare.rs test_coalesce.
    let cases: Vec<(Vec<Option<i64>>, Option<i64>)> = vec![
        (vec![], None),
        (vec![None], None),
        (vec![None, None], None),
        (vec![None, None, None], None),
        (vec![None, Some(0), None], Some(0)),
        (vec![Some(-7), Some(0), None], Some(-7)),
    ];
    for (args, expected) in cases {
        let children = args
            .iter()
            .map(|v| v.map_or_else(|| null_const(FieldTypeTp::LongLong), int_const))
            .collect();
        let expr = call(Sig::CoalesceInt, ft(FieldTypeTp::LongLong), children);
        assert_eq!(int1(&expr), expected);
    }
}

/// Each row of a result column as text (NULL: None).
fn render(column: &Column) -> Vec<Option<String>> {
    fn each<T>(
        n: usize,
        get: impl Fn(usize) -> Option<T>,
        f: impl Fn(T) -> String,
    ) -> Vec<Option<String>> {
        (0..n).map(|i| get(i).map(&f)).collect()
    }
    match column {
        Column::Int(c) => each(c.len(), |i| c.get(i), |v| v.to_string()),
        Column::Real(c) => each(c.len(), |i| c.get(i), |v| v.to_string()),
        Column::Decimal(c) => each(c.len(), |i| c.get(i), |v| v.to_string()),
        Column::DateTime(c) => each(c.len(), |i| c.get(i), |v| v.to_string()),
        Column::Duration(c) => each(c.len(), |i| c.get(i), |v| v.to_string()),
        Column::Bytes(c) => each(c.len(), |i| c.get(i), |v| String::from_utf8_lossy(v).into()),
        Column::Json(c) => each(
            c.len(),
            |i| c.get(i),
            |v| Json::from_bytes(v).unwrap().to_string(),
        ),
        Column::Named(_) => panic!("unexpected column {column:?}"),
    }
}

#[test]
fn control_functions_over_every_type() {
    // cond = [1, 0, NULL, 5]; a and b hold [a0, NULL, a2, NULL] and [b0, b1, NULL, b3].
    // IFNULL(a, b) and COALESCE(a, b) give [a0, b1, a2, b3]; IF(cond, a, b) and
    // CASE WHEN cond THEN a ELSE b END give [a0, b1, NULL, NULL].
    let cond_t = ft(FieldTypeTp::LongLong);
    let cond = Column::Int(fixed(&[Some(1), Some(0), None, Some(5)]));
    let check = |t: FieldType, kind: &str, a: Column, b: Column| {
        let schema = [cond_t.clone(), t.clone(), t.clone()];
        let (ra, rb) = (render(&a), render(&b));
        let fill = vec![ra[0].clone(), rb[1].clone(), ra[2].clone(), rb[3].clone()];
        let pick = vec![ra[0].clone(), rb[1].clone(), None, None];
        let columns = [cond.clone(), a, b];
        let c = || column_ref(0, &cond_t);
        let (x, y) = (|| column_ref(1, &t), || column_ref(2, &t));
        let exprs = [
            ("IfNull", vec![x(), y()], &fill),
            ("If", vec![c(), x(), y()], &pick),
            ("CaseWhen", vec![c(), x(), y()], &pick),
            ("Coalesce", vec![x(), y()], &fill),
        ];
        for (name, children, expected) in exprs {
            let sig = Sig::from_str_name(&format!("{name}{kind}")).unwrap();
            let expr = call(sig, t.clone(), children);
            let result = eval_rows(&expr, &schema, &columns, &[0, 1, 2, 3]).unwrap();
            let variant = std::mem::discriminant(&result);
            assert_eq!(variant, std::mem::discriminant(&columns[1]), "{sig:?}");
            assert_eq!(&render(&result), expected, "{sig:?}");
        }
    };
    let (a, b) = (
        [Some("a"), None, Some("c"), None],
        [Some("w"), Some("x"), None, Some("z")],
    );
    check(str_ft(UTF8MB4_BIN), "String", strs(&a), strs(&b));
    let a = [Some("[1]"), None, Some("{\"k\": 2}"), None];
    let b = [Some("true"), Some("\"x\""), None, Some("null")];
    check(ft(FieldTypeTp::Json), "Json", jsons(&a), jsons(&b));
    let (a, b) = (
        [Some(1), None, Some(3), None],
        [Some(7), Some(8), None, Some(9)],
    );
    check(
        ft(FieldTypeTp::LongLong),
        "Int",
        Column::Int(fixed(&a)),
        Column::Int(fixed(&b)),
    );
    let (a, b) = (
        [Some(1.5), None, Some(-3.0), None],
        [Some(7.0), Some(8.0), None, Some(0.1)],
    );
    check(
        ft(FieldTypeTp::Double),
        "Real",
        Column::Real(fixed(&a)),
        Column::Real(fixed(&b)),
    );
    let v = |s| Some(dec(s));
    let (a, b) = (
        [v("1.5"), None, v("-3"), None],
        [v("7"), v("0.01"), None, v("9.9")],
    );
    let (a, b) = (Column::Decimal(fixed(&a)), Column::Decimal(fixed(&b)));
    check(ft(FieldTypeTp::NewDecimal), "Decimal", a, b);
    let v = |s| Some(time(s));
    let a = [
        v("2020-01-02 03:04:05"),
        None,
        v("1999-12-31 23:59:59"),
        None,
    ];
    let b = [
        v("2001-01-01 00:00:00"),
        v("2002-02-02 02:02:02"),
        None,
        v("2003-03-03 03:03:03"),
    ];
    let (a, b) = (Column::DateTime(fixed(&a)), Column::DateTime(fixed(&b)));
    check(ft(FieldTypeTp::DateTime), "Time", a, b);
    let v = |s| Some(dur(s));
    let (a, b) = (
        [v("01:02:03"), None, v("-838:59:59"), None],
        [v("0:0:1"), v("12:00:00"), None, v("-0:0:1")],
    );
    let (a, b) = (Column::Duration(fixed(&a)), Column::Duration(fixed(&b)));
    check(ft(FieldTypeTp::Duration), "Duration", a, b);
}

#[test]
fn control_functions_refuse_wrong_types_and_counts() {
    let int = ft(FieldTypeTp::LongLong);
    // A string where the condition must be an int.
    let expr = call(
        Sig::IfInt,
        int.clone(),
        vec![str_const(b"x", BINARY), int_const(1), int_const(2)],
    );
    assert!(eval_rows(&expr, &[], &[], &[0]).is_err());
    let expr = call(Sig::IfNullInt, int.clone(), vec![int_const(1)]);
    assert!(RpnExpression::compile(&expr, &[]).is_err());
    let expr = call(Sig::LikeSig, int, vec![str_const(b"x", BINARY)]);
    assert!(RpnExpression::compile(&expr, &[]).is_err());
}

fn in_expr(sig: Sig, collate: i32, children: Vec<tipb::Expr>) -> tipb::Expr {
    call(sig, int_ft(collate), children)
}

/// `IN` over constants: `sig` with `make` building each non-NULL member, `null` typing NULLs.
fn in_consts<T: Copy>(
    sig: Sig,
    null: FieldTypeTp,
    make: impl Fn(T) -> tipb::Expr,
    args: &[Option<T>],
) -> Option<i64> {
    let children = args
        .iter()
        .map(|v| v.map_or_else(|| null_const(null), &make))
        .collect();
    int1(&call(sig, int_ft(BINARY), children))
}

#[test]
fn in_constant_golden() {
    // TiKV impl_compare_in.rs test_in_constant: the first value is the probe.
    let cases: [(&[Option<i64>], Option<i64>); 6] = [
        (&[Some(1)], Some(0)),
        (&[Some(1), Some(2)], Some(0)),
        (&[Some(1), Some(2), Some(1)], Some(1)),
        (&[Some(1), Some(2), None], None),
        (&[Some(1), Some(2), None, Some(1)], Some(1)),
        (&[None, Some(2), Some(1)], None),
    ];
    use FieldTypeTp as T;
    for (args, expected) in cases {
        assert_eq!(
            in_consts(Sig::InInt, T::LongLong, int_const, args),
            expected
        );
        let real = |v| real_const(v as f64);
        assert_eq!(in_consts(Sig::InReal, T::Double, real, args), expected);
        let decimal = |v: i64| dec_const(&v.to_string());
        assert_eq!(
            in_consts(Sig::InDecimal, T::NewDecimal, decimal, args),
            expected
        );
        let duration = |v| dur_const(&format!("00:00:{v:02}"));
        assert_eq!(
            in_consts(Sig::InDuration, T::Duration, duration, args),
            expected
        );
        let datetime = |v| time_const(&format!("2020-01-{v:02} 00:00:00"));
        assert_eq!(
            in_consts(Sig::InTime, T::DateTime, datetime, args),
            expected
        );
        let json = |v: i64| json_const(&v.to_string());
        assert_eq!(in_consts(Sig::InJson, T::Json, json, args), expected);
    }
}

#[test]
fn in_compares_values_not_representations() {
    // 1.0 = 1.00 as decimals; -0.0 = 0.0 as doubles; JSON 1 = 1.0 and arrays elementwise.
    let decimals = [Some("1.0"), Some("2"), Some("1.00")];
    assert_eq!(
        in_consts(
            Sig::InDecimal,
            FieldTypeTp::NewDecimal,
            dec_const,
            &decimals
        ),
        Some(1)
    );
    let reals = [Some(-0.0), Some(0.0)];
    assert_eq!(
        in_consts(Sig::InReal, FieldTypeTp::Double, real_const, &reals),
        Some(1)
    );
    for (args, expected) in [
        (&[Some("[1, \"a\"]"), Some("[1.0, \"a\"]")][..], Some(1)),
        (
            &[Some("1"), Some("\"1\""), Some("true"), Some("null")],
            Some(0),
        ),
        (&[Some("{\"a\": 1}"), Some("{\"a\": 1}")], Some(1)),
        (&[Some("18446744073709551615"), Some("-1")], Some(0)),
        (
            &[
                Some("18446744073709551615"),
                None,
                Some("18446744073709551615.0"),
            ],
            Some(1),
        ),
        (&[Some("\"2\""), Some("[\"2\"]"), None], None),
    ] {
        assert_eq!(
            in_consts(Sig::InJson, FieldTypeTp::Json, json_const, args),
            expected,
            "{args:?}"
        );
    }
}

#[test]
fn in_string_golden() {
    // TiKV impl_compare_in.rs test_in_string; members split at '|', '~' is NULL.
    let cases = [
        ("times naive|young|simple|~", BINARY, None),
        ("times naive|young|simple|times naive", BINARY, Some(1)),
        (
            "pINGcap|PINGCAP|PingCAP|pingcap|pingCap",
            UTF8MB4_BIN,
            Some(0),
        ),
        (
            "pINGcap|PINGCAP|PingCAP|pingcap|pingCap",
            GENERAL_CI,
            Some(1),
        ),
        ("breeswish|breezewish", GENERAL_CI, Some(0)),
        ("codeworm96|CODEWORM96|CoDeWorm99", GENERAL_CI, Some(1)),
        (
            "扩散性百万甜🍞|扩散性百万辣🍞|扩散性百万咸🍞",
            GENERAL_CI,
            Some(0),
        ),
        ("🐰|🐇|🐻|🐰", GENERAL_CI, Some(1)),
        ("🐰|🐇|🐻|🐰", UNICODE_CI, Some(1)),
        // PAD SPACE collations ignore trailing spaces; NO PAD ones do not.
        ("a  |b|a", UTF8MB4_BIN, Some(1)),
        ("a  |b|a", BIN_0900, Some(0)),
        ("Straße|strasse", UNICODE_CI, Some(1)),
        ("Straße|strasse", GENERAL_CI, Some(0)),
    ];
    for (args, collate, expected) in cases {
        let args: Vec<_> = args
            .split('|')
            .map(|a| (a != "~").then_some(a.as_bytes()))
            .collect();
        let make = |v: &[u8]| str_const(v, collate);
        let children = args
            .iter()
            .map(|v| v.map_or_else(|| null_const(FieldTypeTp::VarString), make))
            .collect();
        assert_eq!(
            int1(&call(Sig::InString, int_ft(collate), children)),
            expected,
            "{args:?}"
        );
    }
}

#[test]
fn in_string_with_columns_and_collation() {
    // col0 IN ('ABC', col1, NULL-free) under general_ci and binary.
    let schema = [str_ft(GENERAL_CI), str_ft(GENERAL_CI)];
    let columns = [
        strs(&[Some("abc"), Some("Xy"), None, Some("q"), Some("q")]),
        strs(&[Some("zzz"), Some("xY"), Some("a"), None, Some("r")]),
    ];
    for (collate, expected) in [
        (GENERAL_CI, [Some(1), Some(1), None, None, Some(0)]),
        (BINARY, [Some(0), Some(0), None, None, Some(0)]),
    ] {
        let expr = in_expr(
            Sig::InString,
            collate,
            vec![
                column_ref(0, &schema[0]),
                str_const(b"ABC", collate),
                column_ref(1, &schema[1]),
            ],
        );
        let result = eval_rows(&expr, &schema, &columns, &[0, 1, 2, 3, 4]).unwrap();
        assert_eq!(ints_of(&result), expected, "collation {collate}");
    }
}

#[test]
fn in_complex_golden() {
    // TiKV impl_compare_in.rs test_in_complex: 11 IN (22, 6 + col0, col1) over rows 1, 0, 2.
    let int = ft(FieldTypeTp::LongLong);
    let expr = in_expr(
        Sig::InInt,
        BINARY,
        vec![
            int_const(11),
            int_const(22),
            call(
                Sig::PlusInt,
                int.clone(),
                vec![int_const(6), column_ref(0, &int)],
            ),
            column_ref(1, &int),
        ],
    );
    let columns = [
        Column::Int(fixed(&[Some(5), Some(1), Some(1)])),
        Column::Int(fixed(&[Some(8), Some(11), Some(1)])),
    ];
    let result = eval_rows(&expr, &[int.clone(), int], &columns, &[1, 0, 2]).unwrap();
    assert_eq!(ints_of(&result), [Some(1), Some(1), Some(0)]);
}

#[test]
fn in_int_signedness_golden() {
    // TiKV impl_compare_in.rs test_unsigned_signed_int; the column holds -1 (bits) each time.
    let signed = ft(FieldTypeTp::Long);
    let unsigned = ft(FieldTypeTp::LongLong).with_flag(flag::UNSIGNED);
    let column = [Column::Int(fixed(&[Some(-1)]))];
    let run = |col_t: &FieldType, children: Vec<tipb::Expr>| {
        let expr = in_expr(Sig::InInt, BINARY, children);
        ints_of(&eval_rows(&expr, std::slice::from_ref(col_t), &column, &[0]).unwrap())[0]
    };
    let (s, u) = (|| column_ref(0, &signed), || column_ref(0, &unsigned));
    let max = || uint_const(u64::MAX);
    // -1 (signed column) IN (max u64, 1) → 0.
    assert_eq!(run(&signed, vec![s(), max(), int_const(1)]), Some(0));
    // max u64 (unsigned column) IN (-1, 1) → 0.
    assert_eq!(
        run(&unsigned, vec![u(), int_const(-1), int_const(1)]),
        Some(0)
    );
    // -1 IN (max u64 column, 1) → 0.
    assert_eq!(
        run(&unsigned, vec![int_const(-1), u(), int_const(1)]),
        Some(0)
    );
    // -1 IN (max u64 column, -1) → 1.
    assert_eq!(
        run(&unsigned, vec![int_const(-1), u(), int_const(-1)]),
        Some(1)
    );
    // max u64 IN (max u64 column, -1) → 1.
    assert_eq!(run(&unsigned, vec![max(), u(), int_const(-1)]), Some(1));
    // 1 (signed) IN (1 unsigned) → 1.
    assert_eq!(run(&signed, vec![int_const(1), uint_const(1)]), Some(1));
}

fn like_expr(target: &[u8], pattern: &[u8], escape: char, collate: i32) -> tipb::Expr {
    call(
        Sig::LikeSig,
        int_ft(collate),
        vec![
            str_const(target, collate),
            str_const(pattern, collate),
            int_const(i64::from(u32::from(escape))),
        ],
    )
}

fn like(target: &[u8], pattern: &[u8], escape: char, collate: i32) -> Option<i64> {
    int1(&like_expr(target, pattern, escape, collate))
}

#[test]
fn like_golden() {
    // TiKV impl_like.rs test_like.
    let cases: &[(&str, &str, char, i32, i64)] = &[
        ("hello", "%HELLO%", '\\', BINARY, 0),
        ("Hello, World", "Hello, World", '\\', BINARY, 1),
        ("Hello, World", "Hello, %", '\\', BINARY, 1),
        ("Hello, World", "%, World", '\\', BINARY, 1),
        ("test", "te%st", '\\', BINARY, 1),
        ("test", "te%%st", '\\', BINARY, 1),
        ("test", "test%", '\\', BINARY, 1),
        ("test", "%test%", '\\', BINARY, 1),
        ("test", "%%test%", '\\', BINARY, 1),
        ("test", "%test%%", '\\', BINARY, 1),
        ("testAAA", "%test%", '\\', BINARY, 1),
        ("testBBB", "%test%%", '\\', BINARY, 1),
        ("test", "t%e%s%t", '\\', BINARY, 1),
        ("test", "_%_%_%_", '\\', BINARY, 1),
        ("test", "_%_%st", '\\', BINARY, 1),
        ("C:", r"%\", '\\', BINARY, 0),
        (r"C:\", r"%\", '\\', BINARY, 1),
        (r"C:\Programs", r"%\", '\\', BINARY, 0),
        (r"C:\Programs\", r"%\", '\\', BINARY, 1),
        ("C:", r"%\\", '\\', BINARY, 0),
        (r"C:\", r"%\\", '\\', BINARY, 1),
        (r"C:\\", r"C:\\", '\\', BINARY, 0),
        (r"C:\Programs", r"%\\", '\\', BINARY, 0),
        (r"C:\Programs\", r"%\\", '\\', BINARY, 1),
        (r"C:\Programs\", "%Prog%", '\\', BINARY, 1),
        (r"C:\Programs\", "%Pr_g%", '\\', BINARY, 1),
        (r"C:\Programs\", r"%%\", '%', BINARY, 0),
        (r"C:\Programs%", "%%%", '%', BINARY, 0),
        (r"C:\Programs%", "%%%%", '%', BINARY, 0),
        ("hello", r"\%", '\\', BINARY, 0),
        ("%", r"\%", '\\', BINARY, 1),
        ("3hello", "%%hello", '%', BINARY, 0),
        ("3hello", "3%hello", '3', BINARY, 0),
        ("3hello", "__hello", '_', BINARY, 0),
        ("3hello", "%_hello", '%', BINARY, 0),
        (
            "aaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "a%a%a%a%a%a%a%a%b",
            '\\',
            BINARY,
            0,
        ),
        ("IpHONE", "iPhone", '\\', UTF8MB4_BIN, 0),
        ("IpHONE xs mAX", "iPhone XS Max", '\\', GENERAL_CI, 1),
        ("baab", "b_%b", '\\', UTF8MB4_BIN, 1),
        ("baab", "b%_b", '\\', UTF8MB4_BIN, 1),
        ("bab", "b_%b", '\\', UTF8MB4_BIN, 1),
        ("bab", "b%_b", '\\', UTF8MB4_BIN, 1),
        ("bb", "b_%b", '\\', UTF8MB4_BIN, 0),
        ("bb", "b%_b", '\\', UTF8MB4_BIN, 0),
        ("baabccc", "b_%b%", '\\', UTF8MB4_BIN, 1),
        ("ßssß", "_sSß", '\\', GENERAL_CI, 1),
        ("ßssß", "_ßß", '\\', GENERAL_CI, 0),
        ("Ⱕ", "ⱕ", '\\', AI_CI_0900, 1),
        ("😀", "😁", '\\', UNICODE_CI, 0),
        ("😀", "😀", '\\', UNICODE_CI, 1),
        ("😀", "\u{FFFD}", '\\', UNICODE_CI, 0),
        ("x😀y", "%😀%", '\\', UNICODE_CI, 1),
        ("x😀y", "%😁%", '\\', UNICODE_CI, 0),
        ("\u{321D}", "\u{321D}", '\\', UNICODE_CI, 1),
        ("\u{321D}", "\u{321E}", '\\', UNICODE_CI, 0),
        ("a\u{3000}a", "a a", '\\', UNICODE_CI, 1),
        ("abcabcabcd", "%abcd%", '\\', UNICODE_CI, 1),
    ];
    for &(target, pattern, escape, collate, expected) in cases {
        assert_eq!(
            like(target.as_bytes(), pattern.as_bytes(), escape, collate),
            Some(expected),
            "{target:?} LIKE {pattern:?} ESCAPE {escape:?} ({collate})"
        );
    }
}

#[test]
fn like_modes_golden() {
    // TiKV impl_like.rs test_like_pattern_modes, test_like_wide_character and
    // test_like_invalid_utf8 (cases where both arguments share the call's charset).
    for collate in [LEGACY_BINARY, BINARY, UTF8MB4_BIN, GENERAL_CI] {
        assert_eq!(like(b"", b"%", '%', collate), Some(0));
        assert_eq!(like(b"%", b"%", '%', collate), Some(1));
        assert_eq!(like(b"a", b"_", '_', collate), Some(0));
        assert_eq!(like(b"_", b"_", '_', collate), Some(1));
    }
    let fffd = "\u{FFFD}";
    type Case<'a> = (&'a [u8], &'a [u8], char, i32, i64);
    let cases: &[Case<'_>] = &[
        // The old framework matches characters by identity, whatever the collation.
        (&[0xE4], &[0xAA], '\\', LEGACY_BINARY, 1),
        (&[0xE4], fffd.as_bytes(), '\\', LEGACY_UTF8MB4_BIN, 1),
        (&[0xAA], &[b'\\', 0xE4], '\\', LEGACY_BINARY, 1),
        ("中".as_bytes(), b"_", '\\', LEGACY_BINARY, 1),
        (
            "测试A".as_bytes(),
            "测_a".as_bytes(),
            '\\',
            LEGACY_BINARY,
            0,
        ),
        ("夏威夷吉他".as_bytes(), b"_____", '\\', LEGACY_BINARY, 1),
        (
            "🕺_".as_bytes(),
            "🕺🕺🕺_".as_bytes(),
            '🕺',
            LEGACY_BINARY,
            1,
        ),
        // The new binary collation works on bytes.
        (&[0xE4], &[0xAA], '\\', BINARY, 0),
        ("中".as_bytes(), b"_", '\\', BINARY, 0),
        ("中X".as_bytes(), b"%__X", '\\', BINARY, 1),
        ("中X".as_bytes(), b"____X", '\\', BINARY, 0),
        ("夏威夷吉他".as_bytes(), b"_____", '\\', BINARY, 0),
        ("🕺_".as_bytes(), "🕺🕺🕺_".as_bytes(), '🕺', BINARY, 0),
        ("测试".as_bytes(), "测%".as_bytes(), '\\', BINARY, 1),
        // Other new collations decode characters.
        (&[0xE4], &[0xAA], '\\', UTF8MB4_BIN, 1),
        ("中".as_bytes(), b"_", '\\', UTF8MB4_BIN, 1),
        ("中X".as_bytes(), b"%__X", '\\', UTF8MB4_BIN, 0),
        (&[0xC3, 0xA9], b"_", '\\', LATIN1_BIN, 1),
        (&[0xE4], &[0xAA], '\\', LATIN1_BIN, 1),
        ("中X".as_bytes(), b"%__X", '\\', LATIN1_BIN, 0),
        ("中X".as_bytes(), b"%__X", '\\', GENERAL_CI, 0),
        ("🐶🍐🍳➕🥜🎗🐜".as_bytes(), b"_______", '\\', UTF8MB4_BIN, 1),
        ("🕺_".as_bytes(), "🕺🕺🕺_".as_bytes(), '🕺', GENERAL_CI, 1),
        // Malformed UTF-8 decodes as U+FFFD, one byte at a time.
        (&[0xE4], &[0xE4], '\\', UTF8MB4_BIN, 1),
        (
            &[2, 0xAA, 0xAA, 0xAA, 0xAA],
            &[2, 0xAA, 0xAA, 0xAA, 0xAA],
            '\\',
            UTF8MB4_BIN,
            1,
        ),
        (&[0xE4, 0xB8], b"_", '\\', UTF8MB4_BIN, 0),
        (&[0xE4, 0xB8], b"__", '\\', UTF8MB4_BIN, 1),
    ];
    for &(target, pattern, escape, collate, expected) in cases {
        let got = like(target, pattern, escape, collate);
        assert_eq!(got, Some(expected), "{target:?} {pattern:?} {collate}");
    }
    for collate in [UTF8MB4_BIN, GENERAL_CI, UNICODE_CI, AI_CI_0900, BIN_0900] {
        assert_eq!(like(&[0xE4], &[0xAA], '\\', collate), Some(1), "{collate}");
        assert_eq!(
            like(&[0xE4], fffd.as_bytes(), '\\', collate),
            Some(1),
            "{collate}"
        );
        assert_eq!(
            like(fffd.as_bytes(), &[0xE4], '\\', collate),
            Some(1),
            "{collate}"
        );
        assert_eq!(like(&[0xE4], b"a", '\\', collate), Some(0), "{collate}");
        assert_eq!(
            like(&[0xAA], &[b'\\', 0xE4], '\\', collate),
            Some(1),
            "{collate}"
        );
    }
}

#[test]
fn like_over_columns_with_nulls() {
    // Patterns from a column (compiled per row) and from a constant (compiled once).
    let t = str_ft(GENERAL_CI);
    let int = ft(FieldTypeTp::LongLong);
    let schema = [t.clone(), t.clone(), int.clone()];
    let targets = [
        Some("Apple"),
        None,
        Some("banana"),
        Some("a%b"),
        Some("cherry"),
    ];
    let patterns = [Some("a%"), Some("x"), None, Some("a|%b"), Some("%R_")];
    let escapes = [Some(92), Some(92), Some(92), Some(i64::from(b'|')), None];
    let columns = [
        strs(&targets),
        strs(&patterns),
        Column::Int(fixed(&escapes)),
    ];
    let run = |pattern: tipb::Expr, escape: tipb::Expr, rows: &[usize]| {
        let expr = call(
            Sig::LikeSig,
            int_ft(GENERAL_CI),
            vec![column_ref(0, &t), pattern, escape],
        );
        ints_of(&eval_rows(&expr, &schema, &columns, rows).unwrap())
    };
    let all = [0, 1, 2, 3, 4];
    let got = run(column_ref(1, &t), column_ref(2, &int), &all);
    assert_eq!(got, [Some(1), None, None, Some(1), None]);
    let got = run(
        str_const(b"%A%", GENERAL_CI),
        int_const(92),
        &[4, 3, 2, 1, 0],
    );
    assert_eq!(got, [Some(0), Some(1), Some(1), None, Some(1)]);
    let got = run(null_const(FieldTypeTp::VarString), int_const(92), &[0, 1]);
    assert_eq!(got, [None, None]);
    // A constant pattern with an escape from a column compiles per row.
    let got = run(str_const(b"a|%b", GENERAL_CI), column_ref(2, &int), &all);
    assert_eq!(got, [Some(0), None, Some(0), Some(1), None]);
}

fn eq_string(a: &[u8], b: &[u8], collate: i32) -> Option<i64> {
    int1(&call(
        Sig::EqString,
        int_ft(collate),
        vec![str_const(a, collate), str_const(b, collate)],
    ))
}

proptest! {
    /// A pattern without wildcards matches exactly the strings equal to it under the collation
    /// (trailing spaces aside: LIKE never pads).
    #[test]
    fn like_without_wildcards_is_collation_equality(
        a in "[aAbBzZ1éÉ ]{0,6}",
        b in "[aAbBzZ1éÉ ]{0,6}",
        pick in 0usize..6,
    ) {
        let collate = [BINARY, UTF8MB4_BIN, GENERAL_CI, UNICODE_CI, AI_CI_0900, BIN_0900][pick];
        let pads = matches!(collate, UTF8MB4_BIN | GENERAL_CI | UNICODE_CI);
        let (a, b) = if pads { (a.trim_end(), b.trim_end()) } else { (a.as_str(), b.as_str()) };
        let matched = like(a.as_bytes(), b.as_bytes(), '\\', collate);
        prop_assert_eq!(matched, eq_string(a.as_bytes(), b.as_bytes(), collate));
        // Equal strings always match themselves.
        prop_assert_eq!(like(a.as_bytes(), a.as_bytes(), '\\', collate), Some(1));
    }
}
