//! CAST functions, evaluated through compiled `tipb.Expr` trees over columns. Golden values
//! come from TiKV's `components/tidb_query_expr/src/impl_cast.rs` tests (named per case).

use basalt_chunk::codec::number;
use basalt_chunk::column::{BytesColumn, Column, FixedColumn, FixedValue};
use basalt_chunk::json::JsonType;
use basalt_chunk::time::Tz;
use basalt_chunk::types::{flag, FieldType, FieldTypeTp as Tp};
use basalt_chunk::{DateTime, Decimal, Duration, Json, TimeType};
use basalt_expr::context::flag as cf;
use basalt_expr::{Error, EvalContext, RpnExpression};
use basalt_proto::tipb::{self, ExprType, ScalarFuncSig as Sig};

const TRUNCATED: u32 = 1292;
const OVERFLOW: u32 = 1690;
const UNKNOWN: u32 = 1105;

fn ft(tp: Tp) -> FieldType {
    FieldType::new(tp)
}

fn sized(tp: Tp, flen: i32, decimal: i32) -> FieldType {
    let mut t = ft(tp);
    t.flen = flen;
    t.decimal = decimal;
    t
}

/// A utf8mb4 string type (a default `FieldType` has the binary collation).
fn text(tp: Tp) -> FieldType {
    let mut t = ft(tp);
    t.collate = -46;
    t.charset = "utf8mb4".into();
    t
}

fn unsigned() -> FieldType {
    ft(Tp::LongLong).with_flag(flag::UNSIGNED)
}

fn ctx(flags: u64) -> EvalContext {
    EvalContext::new(flags, 0, Tz::utc())
}

fn lenient() -> EvalContext {
    ctx(cf::OVERFLOW_AS_WARNING | cf::TRUNCATE_AS_WARNING)
}

fn codes(ctx: &EvalContext) -> Vec<u32> {
    let mut c: Vec<u32> = ctx.warnings().iter().map(|w| w.code).collect();
    c.sort_unstable();
    c
}

fn fixed<T: FixedValue>(values: &[Option<T>]) -> FixedColumn<T> {
    let mut column = FixedColumn::with_capacity(values.len());
    for v in values {
        column.push(*v);
    }
    column
}

fn ints(values: &[i64]) -> Column {
    Column::Int(fixed(&values.iter().map(|v| Some(*v)).collect::<Vec<_>>()))
}
fn reals(values: &[f64]) -> Column {
    Column::Real(fixed(&values.iter().map(|v| Some(*v)).collect::<Vec<_>>()))
}
fn decs(values: &[&str]) -> Column {
    let v: Vec<Option<Decimal>> = values.iter().map(|s| Some(s.parse().unwrap())).collect();
    Column::Decimal(fixed(&v))
}
fn bytes(wrap: fn(BytesColumn) -> Column, values: &[Option<Vec<u8>>]) -> Column {
    let mut c = BytesColumn::with_capacity(values.len());
    for v in values {
        c.push(v.as_deref());
    }
    wrap(c)
}
fn strs(values: &[&str]) -> Column {
    let v: Vec<Option<Vec<u8>>> = values.iter().map(|s| Some(s.as_bytes().to_vec())).collect();
    bytes(Column::Bytes, &v)
}
fn jsons(values: &[&str]) -> Column {
    let v: Vec<_> = values
        .iter()
        .map(|s| Some(Json::parse(s).unwrap().to_bytes()))
        .collect();
    bytes(Column::Json, &v)
}
fn times(values: &[&str], fsp: i8) -> Column {
    let parse = |s: &&str| Some(DateTime::parse(s, TimeType::DateTime, fsp).unwrap());
    Column::DateTime(fixed(&values.iter().map(parse).collect::<Vec<_>>()))
}

/// Evaluates `sig(col0)` returning `to` over every row of `input` (of type `from`).
fn eval(
    sig: Sig,
    from: &FieldType,
    to: &FieldType,
    input: Column,
    ctx: &mut EvalContext,
) -> basalt_expr::Result<Column> {
    let mut val = Vec::new();
    number::encode_i64(&mut val, 0);
    let arg = tipb::Expr {
        tp: Some(ExprType::ColumnRef as i32),
        val: Some(val),
        field_type: Some(from.to_tipb()),
        ..Default::default()
    };
    let expr = tipb::Expr {
        tp: Some(ExprType::ScalarFunc as i32),
        sig: Some(sig as i32),
        field_type: Some(to.to_tipb()),
        children: vec![arg],
        ..Default::default()
    };
    let rpn = RpnExpression::compile(&expr, std::slice::from_ref(from))?;
    let rows: Vec<usize> = (0..input.len()).collect();
    rpn.eval_to_column(ctx, &[Some(&input)], &rows)
}

/// Every row as text (`None`: NULL).
fn texts(c: &Column) -> Vec<Option<String>> {
    fn all<T>(
        n: usize,
        f: impl Fn(usize) -> Option<T>,
        s: impl Fn(T) -> String,
    ) -> Vec<Option<String>> {
        (0..n).map(|i| f(i).map(&s)).collect()
    }
    let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match c {
        Column::Int(c) => all(c.len(), |i| c.get(i), |v| v.to_string()),
        Column::Real(c) => all(c.len(), |i| c.get(i), |v| v.to_string()),
        Column::Decimal(c) => all(c.len(), |i| c.get(i), |v| v.to_string()),
        Column::DateTime(c) => all(c.len(), |i| c.get(i), |v| v.to_string()),
        Column::Duration(c) => all(c.len(), |i| c.get(i), |v| v.to_string()),
        Column::Bytes(c) => all(c.len(), |i| c.get(i), lossy),
        Column::Json(c) => all(
            c.len(),
            |i| c.get(i),
            |b| Json::from_bytes(b).unwrap().to_string(),
        ),
        other => panic!("{other:?}"),
    }
}

/// Casts under `ctx`, as text.
fn run(
    sig: Sig,
    from: &FieldType,
    to: &FieldType,
    input: Column,
    c: &mut EvalContext,
) -> Vec<Option<String>> {
    texts(&eval(sig, from, to, input, c).unwrap())
}

/// Casts with no flags and no warnings expected, as text.
fn strict(sig: Sig, from: &FieldType, to: &FieldType, input: Column) -> Vec<Option<String>> {
    let mut c = ctx(0);
    let out = run(sig, from, to, input, &mut c);
    assert_eq!(c.warning_count(), 0, "{sig:?}");
    out
}

/// Expected texts; `"NULL"` is a NULL row.
fn exp(values: &[&str]) -> Vec<Option<String>> {
    values
        .iter()
        .map(|s| (*s != "NULL").then(|| s.to_string()))
        .collect()
}

#[test]
fn real_as_int_rounds_and_clamps() {
    // TiKV test_real_as_int: ties go to even, out of range clamps with an overflow.
    let (dbl, long) = (ft(Tp::Double), ft(Tp::LongLong));
    let input = reals(&[
        -10.4,
        -10.5,
        10.4,
        10.5,
        i64::MAX as f64,
        (1u64 << 63) as f64,
    ]);
    let max = i64::MAX.to_string();
    assert_eq!(
        strict(Sig::CastRealAsInt, &dbl, &long, input),
        exp(&["-10", "-10", "10", "10", &max, &max])
    );
    let mut c = lenient();
    let big = reals(&[
        (1u64 << 63) as f64 + (1u64 << 62) as f64,
        i64::MIN as f64 * 2.0,
    ]);
    let out = run(Sig::CastRealAsInt, &dbl, &long, big, &mut c);
    assert_eq!(out, exp(&[&max, &i64::MIN.to_string()]));
    assert_eq!(codes(&c), [OVERFLOW, OVERFLOW]);
    // Without OVERFLOW_AS_WARNING the overflow is an error.
    let err = eval(Sig::CastRealAsInt, &dbl, &long, reals(&[1e30]), &mut ctx(0));
    assert!(matches!(err, Err(Error::Overflow { .. })), "{err:?}");
}

#[test]
fn real_as_unsigned_int() {
    // TiKV test_real_as_uint ("no clip to zero" and "should clip to zero").
    let (dbl, u) = (ft(Tp::Double), unsigned());
    let input = reals(&[
        10.5,
        10.4,
        ((1u64 << 63) + (1u64 << 62)) as f64,
        u64::MAX as f64,
    ]);
    let expect = [11u64, 10, (1u64 << 63) + (1u64 << 62), u64::MAX].map(|v| Some(v as i64));
    let out = eval(Sig::CastRealAsInt, &dbl, &u, input, &mut ctx(0)).unwrap();
    assert_eq!(out.len(), 4);
    let Column::Int(out) = out else { panic!() };
    assert_eq!((0..4).map(|i| out.get(i)).collect::<Vec<_>>(), expect);
    let mut c = lenient();
    let out = run(
        Sig::CastRealAsInt,
        &dbl,
        &u,
        reals(&[u64::MAX as f64 * 2.0, -1.0]),
        &mut c,
    );
    assert_eq!(out, exp(&["-1", "-1"]));
    assert_eq!(codes(&c), [OVERFLOW, OVERFLOW]);
    let mut insert = ctx(cf::OVERFLOW_AS_WARNING | cf::IN_INSERT_STMT);
    let out = run(
        Sig::CastRealAsInt,
        &dbl,
        &u,
        reals(&[-1.0, i64::MIN as f64]),
        &mut insert,
    );
    assert_eq!(out, exp(&["0", "0"]));
}

#[test]
fn string_as_int_follows_tikv() {
    // TiKV test_cast_string_as_int, with overflow and truncation as warnings.
    let (signed, u, vc) = (ft(Tp::LongLong), unsigned(), text(Tp::VarString));
    let min = i64::MIN;
    let cases: [(&str, i64, &[u32], bool); 12] = [
        (" 9223372036854775807  ", i64::MAX, &[], false),
        ("9223372036854775808", min, &[UNKNOWN], false),
        ("9223372036854775808", min, &[], true),
        ("9223372036854775807abc", i64::MAX, &[TRUNCATED], false),
        ("9223372036854775808abc", min, &[UNKNOWN, TRUNCATED], false),
        ("9223372036854775808abc", min, &[TRUNCATED], true),
        ("-10", -10, &[], false),
        ("-9223372036854775808", min, &[], false),
        ("-9223372036854775809", min, &[TRUNCATED], false),
        ("-10", -10, &[UNKNOWN], true),
        ("-9223372036854775809", min, &[TRUNCATED], true),
        ("0.5", 0, &[TRUNCATED], false),
    ];
    for (input, expect, warnings, is_unsigned) in cases {
        let to = if is_unsigned { &u } else { &signed };
        let mut c = lenient();
        let out = run(Sig::CastStringAsInt, &vc, to, strs(&[input]), &mut c);
        assert_eq!(out, exp(&[&expect.to_string()]), "{input}");
        assert_eq!(codes(&c), warnings, "{input}");
    }
    // Strict: trailing garbage is an error; IGNORE_TRUNCATE keeps quiet.
    let err = eval(
        Sig::CastStringAsInt,
        &vc,
        &signed,
        strs(&["12abc"]),
        &mut ctx(0),
    );
    assert!(
        matches!(err, Err(Error::Chunk(basalt_chunk::Error::Parse { .. }))),
        "{err:?}"
    );
    let mut quiet = ctx(cf::IGNORE_TRUNCATE);
    let out = run(
        Sig::CastStringAsInt,
        &vc,
        &signed,
        strs(&["12abc"]),
        &mut quiet,
    );
    assert_eq!((out, quiet.warning_count()), (exp(&["12"]), 0));
}

#[test]
fn string_as_real_with_flen_and_decimal() {
    // TiKV test_cast_string_as_real: (input, expect, flen, decimal, warnings).
    let nines = "9".repeat(400);
    let cases: [(&str, f64, i32, i32, &[u32]); 9] = [
        ("99999999", 99999999.0, -1, -1, &[]),
        ("1234abc", 1234.0, -1, -1, &[TRUNCATED]),
        ("-1234abc", -1234.0, -1, -1, &[TRUNCATED]),
        (&nines, f64::MAX, -1, -1, &[TRUNCATED]),
        ("99999999", 99999999.0, 8, 0, &[]),
        ("99999999", 9999999.0, 7, 0, &[OVERFLOW]),
        ("99999999", 999999.99, 8, 2, &[OVERFLOW]),
        ("1234abc", 0.9, 1, 1, &[TRUNCATED, OVERFLOW]),
        ("", 0.0, 1, 0, &[]),
    ];
    for (input, expect, flen, decimal, warnings) in cases {
        let mut c = lenient();
        let to = sized(Tp::Double, flen, decimal);
        let out = eval(
            Sig::CastStringAsReal,
            &text(Tp::VarString),
            &to,
            strs(&[input]),
            &mut c,
        );
        let Column::Real(out) = out.unwrap() else {
            panic!()
        };
        let got = out.get(0).unwrap();
        assert!((got - expect).abs() < f64::EPSILON, "{input}: {got}");
        assert_eq!(codes(&c), warnings, "{input}");
    }
}

#[test]
fn decimal_targets_round_and_overflow() {
    let (d, dec52) = (ft(Tp::NewDecimal), sized(Tp::NewDecimal, 5, 2));
    // DECIMAL(5,2): rounding half up with a truncation, overflow clamps to 999.99.
    let mut c = lenient();
    let input = decs(&["1.005", "-123.454", "12345.6", "-99999", "1.50"]);
    let out = run(Sig::CastDecimalAsDecimal, &d, &dec52, input, &mut c);
    assert_eq!(out, exp(&["1.01", "-123.45", "999.99", "-999.99", "1.50"]));
    assert_eq!(codes(&c), [TRUNCATED, TRUNCATED, OVERFLOW, OVERFLOW]);
    // In an INSERT the rounding is only a warning even without TRUNCATE_AS_WARNING.
    let mut insert = ctx(cf::IN_INSERT_STMT);
    let out = run(
        Sig::CastDecimalAsDecimal,
        &d,
        &dec52,
        decs(&["1.005"]),
        &mut insert,
    );
    assert_eq!((out, insert.warning_count()), (exp(&["1.01"]), 1));
    assert!(eval(
        Sig::CastDecimalAsDecimal,
        &d,
        &dec52,
        decs(&["1.005"]),
        &mut ctx(0)
    )
    .is_err());
    // Strict overflow is an error (`select cast(111 as decimal(1))`, TiKV produce_dec).
    let dec1 = sized(Tp::NewDecimal, 1, 0);
    let err = eval(
        Sig::CastIntAsDecimal,
        &ft(Tp::LongLong),
        &dec1,
        ints(&[111]),
        &mut ctx(0),
    );
    assert!(matches!(err, Err(Error::Overflow { .. })));
    // Unsigned ints (TiKV test_unsigned_int_as_signed_or_unsigned_decimal), reals, strings.
    let out = strict(Sig::CastIntAsDecimal, &unsigned(), &d, ints(&[-1]));
    assert_eq!(out, exp(&["18446744073709551615"]));
    let mut c = lenient();
    let to = sized(Tp::NewDecimal, 10, 3);
    let out = run(
        Sig::CastRealAsDecimal,
        &ft(Tp::Double),
        &to,
        reals(&[0.1, -1234.5678]),
        &mut c,
    );
    assert_eq!(out, exp(&["0.100", "-1234.568"]));
    assert_eq!(codes(&c), [TRUNCATED]);
    // TiKV test_string_as_signed_decimal, plus garbage and no digits (truncations).
    let mut c = lenient();
    let input = strs(&["-9223372036854775808.001", "12.5abc", "abc"]);
    let out = run(
        Sig::CastStringAsDecimal,
        &text(Tp::VarString),
        &sized(Tp::NewDecimal, 30, 3),
        input,
        &mut c,
    );
    assert_eq!(out, exp(&["-9223372036854775808.001", "12.500", "0.000"]));
    assert_eq!(codes(&c), [TRUNCATED, TRUNCATED]);
    // An UNSIGNED target turns negatives into 0 (TiKV test_decimal_as_unsigned_decimal).
    let out = strict(
        Sig::CastDecimalAsDecimal,
        &d,
        &d.clone().with_flag(flag::UNSIGNED),
        decs(&["-10"]),
    );
    assert_eq!(out, exp(&["0"]));
}

#[test]
fn decimal_and_int_conversions() {
    let (long, d, dbl) = (ft(Tp::LongLong), ft(Tp::NewDecimal), ft(Tp::Double));
    let mut c = lenient();
    let input = decs(&["2.5", "-2.5", "99999999999999999999"]);
    let out = run(Sig::CastDecimalAsInt, &d, &long, input, &mut c);
    assert_eq!(out, exp(&["3", "-3", &i64::MAX.to_string()]));
    assert_eq!(codes(&c), [OVERFLOW]);
    let out = run(
        Sig::CastDecimalAsInt,
        &d,
        &unsigned(),
        decs(&["-1", "1.5"]),
        &mut c,
    );
    assert_eq!(out, exp(&["0", "2"]));
    assert_eq!(
        strict(Sig::CastDecimalAsReal, &d, &dbl, decs(&["-1.25"])),
        exp(&["-1.25"])
    );
    // TiKV test_unsigned_int_as_signed_or_unsigned_real.
    let out = strict(Sig::CastIntAsReal, &unsigned(), &dbl, ints(&[-1]));
    assert_eq!(out, exp(&["18446744073709552000"]));
    assert_eq!(
        strict(Sig::CastIntAsReal, &long, &dbl, ints(&[-7])),
        exp(&["-7"])
    );
    assert_eq!(
        strict(Sig::CastIntAsInt, &long, &long, ints(&[7])),
        exp(&["7"])
    );
    assert_eq!(
        strict(Sig::CastRealAsReal, &dbl, &dbl, reals(&[0.5])),
        exp(&["0.5"])
    );
}

#[test]
fn to_string_formats_and_fits_the_length() {
    let (long, vc) = (ft(Tp::LongLong), text(Tp::VarString));
    let out = strict(Sig::CastIntAsString, &long, &vc, ints(&[i64::MIN]));
    assert_eq!(out, exp(&[&i64::MIN.to_string()]));
    // TiKV test_uint_as_string / test_year_as_string.
    let out = strict(Sig::CastIntAsString, &unsigned(), &vc, ints(&[-1]));
    assert_eq!(out, exp(&["18446744073709551615"]));
    let out = strict(Sig::CastIntAsString, &ft(Tp::Year), &vc, ints(&[0, 2000]));
    assert_eq!(out, exp(&["0000", "2000"]));
    // Reals as TiDB prints them (TiKV test_double_real_as_string / test_float_real_as_string).
    let input = reals(&[1.0, 1.1113, 0.1, 1e20, -2.5e-7]);
    let out = strict(Sig::CastRealAsString, &ft(Tp::Double), &vc, input);
    assert_eq!(
        out,
        exp(&["1", "1.1113", "0.1", "100000000000000000000", "-0.00000025"])
    );
    let out = strict(
        Sig::CastRealAsString,
        &ft(Tp::Float),
        &vc,
        reals(&[f64::from(0.1f32)]),
    );
    assert_eq!(out, exp(&["0.1"]));
    // Decimals keep their scale (TiKV test_decimal_as_string).
    let out = strict(
        Sig::CastDecimalAsString,
        &ft(Tp::NewDecimal),
        &vc,
        decs(&["1.50", "-0.001"]),
    );
    assert_eq!(out, exp(&["1.50", "-0.001"]));
    // VARCHAR(3) of utf8mb4 counts characters; a longer value is cut with a truncation.
    let mut short = text(Tp::VarString);
    short.flen = 3;
    let mut c = lenient();
    let out = run(
        Sig::CastStringAsString,
        &vc,
        &short,
        strs(&["héllo", "hé"]),
        &mut c,
    );
    assert_eq!(out, exp(&["hél", "hé"]));
    assert_eq!(codes(&c), [TRUNCATED]);
    assert!(eval(
        Sig::CastStringAsString,
        &vc,
        &short,
        strs(&["abcd"]),
        &mut ctx(0)
    )
    .is_err());
    // BINARY(5) pads with zero bytes; BIT(16) as CHAR(2) is its big-endian bytes.
    let out = strict(
        Sig::CastIntAsString,
        &long,
        &sized(Tp::String, 5, -1),
        ints(&[12]),
    );
    assert_eq!(out, exp(&["12\0\0\0"]));
    let out = strict(
        Sig::CastIntAsString,
        &ft(Tp::Bit),
        &sized(Tp::String, 2, -1),
        ints(&[0x4142]),
    );
    assert_eq!(out, exp(&["AB"]));
}

#[test]
fn strings_and_numbers_as_time() {
    // TiKV test_cast_string_as_time.
    let cases = [
        ("2019-09-16 10:11:12", "20190916101112", 0),
        ("2019-09-16 10:11:12", "190916101112", 0),
        ("1909-12-10 00:00:00", "19091210", 0),
        ("2019-09-16 10:11:12.111", "20190916101112.111", 3),
        ("2019-09-16 10:11:12.67", "20190916101112.666", 2),
        ("2019-09-16 10:11:13.0", "20190916101112.999", 1),
        ("2019-09-16 10:11:12", "2019-09-16T10:11:12", 0),
        ("2020-01-01 00:00:00.0", "2019-12-31 23:59:59.99", 1),
    ];
    let vc = text(Tp::VarString);
    for (expect, input, fsp) in cases {
        let to = ft(Tp::DateTime).with_decimal(fsp);
        assert_eq!(
            strict(Sig::CastStringAsTime, &vc, &to, strs(&[input])),
            exp(&[expect]),
            "{input}"
        );
    }
    let mut c = lenient();
    let out = run(
        Sig::CastStringAsTime,
        &vc,
        &ft(Tp::Date),
        strs(&["2019-02-30", "2019-09-16 10:11:12"]),
        &mut c,
    );
    assert_eq!(out, exp(&["NULL", "2019-09-16"]));
    assert_eq!(codes(&c), [TRUNCATED]);
    assert!(eval(
        Sig::CastStringAsTime,
        &vc,
        &ft(Tp::Date),
        strs(&["x"]),
        &mut ctx(0)
    )
    .is_err());
    // TiKV test_cast_int_as_time.
    let pass = [
        ("0000-00-00 00:00:00", 0),
        ("2000-01-01 00:00:00", 101),
        ("2045-00-00 00:00:00", 450_000),
        ("1999-12-31 00:00:00", 991_231),
        ("1000-01-00 00:00:00", 10_000_100),
        ("2069-12-31 23:59:59", 691_231_235_959),
        ("0100-00-00 00:00:00", 1_000_000_000_000),
        ("1999-01-01 00:00:00", 19_990_101_000_000),
    ];
    let (long, dt) = (ft(Tp::LongLong), ft(Tp::DateTime));
    for (expect, input) in pass {
        assert_eq!(
            strict(Sig::CastIntAsTime, &long, &dt, ints(&[input])),
            exp(&[expect]),
            "{input}"
        );
    }
    let fail = [
        -11111,
        1,
        100,
        700_100,
        100_000_000,
        100_000_101_000_000,
        73,
    ];
    let mut c = lenient();
    let out = run(
        Sig::CastIntAsTime,
        &long,
        &ft(Tp::Date),
        ints(&fail),
        &mut c,
    );
    assert!(out.iter().all(Option::is_none));
    assert_eq!(c.warning_count(), fail.len());
    // Reals and decimals with a fraction.
    let input = reals(&[20121231235959.25, 0.0]);
    let out = strict(
        Sig::CastRealAsTime,
        &ft(Tp::Double),
        &dt.clone().with_decimal(1),
        input,
    );
    assert_eq!(
        out,
        exp(&["2012-12-31 23:59:59.3", "0000-00-00 00:00:00.0"])
    );
    let out = strict(
        Sig::CastDecimalAsTime,
        &ft(Tp::NewDecimal),
        &ft(Tp::Date),
        decs(&["20121231.5"]),
    );
    assert_eq!(out, exp(&["2012-12-31"]));
}

#[test]
fn time_sources() {
    // TiKV test_time_as_int_and_uint: the fraction rounds first.
    let dt = ft(Tp::DateTime).with_decimal(4);
    let input = || times(&["2000-01-01 12:13:14", "2000-01-01 12:13:14.6666"], 4);
    let out = strict(Sig::CastTimeAsInt, &dt, &ft(Tp::LongLong), input());
    assert_eq!(out, exp(&["20000101121314", "20000101121315"]));
    let out = strict(Sig::CastTimeAsString, &dt, &text(Tp::VarString), input());
    assert_eq!(
        out,
        exp(&["2000-01-01 12:13:14.0000", "2000-01-01 12:13:14.6666"])
    );
    let out = strict(Sig::CastTimeAsReal, &dt, &ft(Tp::Double), input());
    // The double nearest to 20000101121314.6666 prints as ...14.668.
    assert_eq!(out, exp(&["20000101121314", "20000101121314.668"]));
    // Rounding the fraction away is a truncation (a warning here).
    let to = sized(Tp::NewDecimal, 20, 2);
    let out = run(Sig::CastTimeAsDecimal, &dt, &to, input(), &mut lenient());
    assert_eq!(out, exp(&["20000101121314.00", "20000101121314.67"]));
    let out = strict(Sig::CastTimeAsTime, &dt, &ft(Tp::Date), input());
    assert_eq!(out, exp(&["2000-01-01", "2000-01-01"]));
    let out = strict(
        Sig::CastTimeAsTime,
        &dt,
        &ft(Tp::DateTime).with_decimal(1),
        input(),
    );
    assert_eq!(
        out,
        exp(&["2000-01-01 12:13:14.0", "2000-01-01 12:13:14.7"])
    );
    let out = strict(Sig::CastTimeAsDuration, &dt, &ft(Tp::Duration), input());
    assert_eq!(out, exp(&["12:13:14", "12:13:15"]));
    let out = strict(Sig::CastTimeAsJson, &dt, &ft(Tp::Json), input());
    assert_eq!(
        out,
        exp(&[
            "\"2000-01-01 12:13:14.000000\"",
            "\"2000-01-01 12:13:14.666600\""
        ])
    );
}

#[test]
fn durations() {
    let dur = |fsp| ft(Tp::Duration).with_decimal(fsp);
    // TiKV test_int_as_duration: HHMMSS numbers; bad minutes/seconds truncate, too large
    // overflows, a full datetime number keeps its time of day.
    let mut c = lenient();
    let input = ints(&[101112, -101112, 1060, 8385960, 20001010101112]);
    let out = run(
        Sig::CastIntAsDuration,
        &ft(Tp::LongLong),
        &dur(0),
        input,
        &mut c,
    );
    assert_eq!(
        out,
        exp(&["10:11:12", "-10:11:12", "NULL", "NULL", "10:11:12"])
    );
    assert_eq!(codes(&c), [TRUNCATED, OVERFLOW]);
    let input = strs(&["10:11:12.345", "1 01:00:00", "abc"]);
    let out = run(
        Sig::CastStringAsDuration,
        &text(Tp::VarString),
        &dur(2),
        input,
        &mut lenient(),
    );
    assert_eq!(out, exp(&["10:11:12.35", "25:00:00.00", "NULL"]));
    let out = strict(
        Sig::CastRealAsDuration,
        &ft(Tp::Double),
        &dur(1),
        reals(&[123.45]),
    );
    assert_eq!(out, exp(&["00:01:23.5"]));
    let out = strict(
        Sig::CastDecimalAsDuration,
        &ft(Tp::NewDecimal),
        &dur(0),
        decs(&["-101112"]),
    );
    assert_eq!(out, exp(&["-10:11:12"]));
    let d = Duration::parse("-12:34:56.789", 3).unwrap();
    let input = || Column::Duration(fixed(&[Some(d)]));
    let cases: [(Sig, FieldType, &str); 6] = [
        (Sig::CastDurationAsInt, ft(Tp::LongLong), "-123457"),
        (Sig::CastDurationAsReal, ft(Tp::Double), "-123456.789"),
        (
            Sig::CastDurationAsDecimal,
            ft(Tp::NewDecimal),
            "-123456.789",
        ),
        (
            Sig::CastDurationAsString,
            text(Tp::VarString),
            "-12:34:56.789",
        ),
        (Sig::CastDurationAsDuration, dur(1), "-12:34:56.8"),
        (
            Sig::CastDurationAsJson,
            ft(Tp::Json),
            "\"-12:34:56.789000\"",
        ),
    ];
    for (sig, to, expect) in cases {
        assert_eq!(
            strict(sig, &dur(3), &to, input()),
            exp(&[expect]),
            "{sig:?}"
        );
    }
}

#[test]
fn json_targets() {
    let (json, long, vc) = (ft(Tp::Json), ft(Tp::LongLong), text(Tp::VarString));
    // TiKV test_int_as_json / test_uint_as_json / test_bool_as_json.
    assert_eq!(
        strict(Sig::CastIntAsJson, &long, &json, ints(&[-3])),
        exp(&["-3"])
    );
    let out = strict(Sig::CastIntAsJson, &unsigned(), &json, ints(&[-1]));
    assert_eq!(out, exp(&["18446744073709551615"]));
    let boolean = long.clone().with_flag(flag::IS_BOOLEAN);
    assert_eq!(
        strict(Sig::CastIntAsJson, &boolean, &json, ints(&[2, 0])),
        exp(&["true", "false"])
    );
    // TiKV test_real_as_json / test_decimal_as_json: doubles.
    let out = strict(
        Sig::CastRealAsJson,
        &ft(Tp::Double),
        &json,
        reals(&[1.5, 2.0]),
    );
    assert_eq!(out, exp(&["1.5", "2.0"]));
    let out = strict(
        Sig::CastDecimalAsJson,
        &ft(Tp::NewDecimal),
        &json,
        decs(&["1.25"]),
    );
    assert_eq!(out, exp(&["1.25"]));
    // TiKV test_string_as_json: a JSON string, parsed under PARSE_TO_JSON, opaque if binary.
    assert_eq!(
        strict(Sig::CastStringAsJson, &vc, &json, strs(&["[1, 2]"])),
        exp(&["\"[1, 2]\""])
    );
    let parse = json.clone().with_flag(flag::PARSE_TO_JSON);
    let out = strict(
        Sig::CastStringAsJson,
        &vc,
        &parse,
        strs(&["{\"a\": [1, 2.5]}"]),
    );
    assert_eq!(out, exp(&["{\"a\": [1, 2.5]}"]));
    assert!(eval(
        Sig::CastStringAsJson,
        &vc,
        &parse,
        strs(&["{bad"]),
        &mut ctx(0)
    )
    .is_err());
    let out = strict(
        Sig::CastStringAsJson,
        &sized(Tp::String, 4, -1),
        &json,
        strs(&["ab"]),
    );
    assert_eq!(out, exp(&["\"base64:type254:YWIAAA==\""]));
}

#[test]
fn json_sources() {
    let (json, vc) = (ft(Tp::Json), text(Tp::VarString));
    let input = || jsons(&["3", "4.5", "true", "\"12abc\"", "[1]"]);
    // TiKV test_json_as_int / test_json_as_real: doubles round (ties to even), strings parse
    // with a truncation, arrays are a truncation giving 0.
    let mut c = lenient();
    let out = run(
        Sig::CastJsonAsInt,
        &json,
        &ft(Tp::LongLong),
        input(),
        &mut c,
    );
    assert_eq!(out, exp(&["3", "4", "1", "12", "0"]));
    assert_eq!(codes(&c), [TRUNCATED, TRUNCATED]);
    let out = run(
        Sig::CastJsonAsReal,
        &json,
        &ft(Tp::Double),
        input(),
        &mut lenient(),
    );
    assert_eq!(out, exp(&["3", "4.5", "1", "12", "0"]));
    let input = jsons(&["4.56", "\"7.25\""]);
    let out = run(
        Sig::CastJsonAsDecimal,
        &json,
        &sized(Tp::NewDecimal, 10, 1),
        input,
        &mut lenient(),
    );
    assert_eq!(out, exp(&["4.6", "7.3"]));
    // TiKV test_json_as_string: the JSON text.
    let out = strict(
        Sig::CastJsonAsString,
        &json,
        &vc,
        jsons(&["{}", "[]", "{\"a\":\"b\"}", "\"s\""]),
    );
    assert_eq!(out, exp(&["{}", "[]", "{\"a\": \"b\"}", "\"s\""]));
    assert_eq!(
        strict(Sig::CastJsonAsJson, &json, &json, jsons(&["[1,\"x\"]"])),
        exp(&["[1, \"x\"]"])
    );
    // JSON times and strings as TIME/DATETIME (TiKV test_json_as_time / test_json_as_duration).
    let t = DateTime::parse("2019-09-16 10:11:12.5", TimeType::DateTime, 1).unwrap();
    let core = Json::from_core_time(JsonType::Datetime, t.to_chunk_u64() & !0xf).unwrap();
    let timed = || bytes(Column::Json, &[Some(core.to_bytes())]);
    let out = strict(
        Sig::CastJsonAsTime,
        &json,
        &ft(Tp::DateTime).with_decimal(1),
        timed(),
    );
    assert_eq!(out, exp(&["2019-09-16 10:11:12.5"]));
    let out = strict(Sig::CastJsonAsDuration, &json, &ft(Tp::Duration), timed());
    assert_eq!(out, exp(&["10:11:13"]));
    let out = strict(
        Sig::CastJsonAsTime,
        &json,
        &ft(Tp::DateTime),
        jsons(&["\"2019-09-16 10:11:12\""]),
    );
    assert_eq!(out, exp(&["2019-09-16 10:11:12"]));
    let out = strict(
        Sig::CastJsonAsDuration,
        &json,
        &ft(Tp::Duration),
        jsons(&["\"10:11:12\""]),
    );
    assert_eq!(out, exp(&["10:11:12"]));
}

#[test]
fn null_in_null_out() {
    let (long, vc, json) = (ft(Tp::LongLong), text(Tp::VarString), ft(Tp::Json));
    let (dt, dur, d) = (ft(Tp::DateTime), ft(Tp::Duration), ft(Tp::NewDecimal));
    let dbl = ft(Tp::Double);
    let null_str = || bytes(Column::Bytes, &[None]);
    let cases: Vec<(Sig, &FieldType, &FieldType, Column)> = vec![
        (
            Sig::CastIntAsString,
            &long,
            &vc,
            Column::Int(fixed(&[None])),
        ),
        (
            Sig::CastRealAsDecimal,
            &dbl,
            &d,
            Column::Real(fixed(&[None])),
        ),
        (
            Sig::CastDecimalAsInt,
            &d,
            &long,
            Column::Decimal(fixed(&[None])),
        ),
        (Sig::CastStringAsTime, &vc, &dt, null_str()),
        (Sig::CastStringAsDuration, &vc, &dur, null_str()),
        (Sig::CastStringAsJson, &vc, &json, null_str()),
        (
            Sig::CastJsonAsString,
            &json,
            &vc,
            bytes(Column::Json, &[None]),
        ),
        (
            Sig::CastTimeAsInt,
            &dt,
            &long,
            Column::DateTime(fixed(&[None])),
        ),
        (
            Sig::CastDurationAsDecimal,
            &dur,
            &d,
            Column::Duration(fixed(&[None])),
        ),
    ];
    for (sig, from, to, input) in cases {
        assert_eq!(strict(sig, from, to, input), exp(&["NULL"]), "{sig:?}");
    }
}
