//! String functions evaluated through compiled `tipb.Expr` trees. Golden cases cite the TiKV
//! test (`components/tidb_query_expr/src/impl_string.rs`, `mod tests`) or TiDB function they
//! come from.

use basalt_chunk::codec::number;
use basalt_chunk::column::{BytesColumn, Column, FixedColumn};
use basalt_chunk::types::{FieldType, FieldTypeTp};
use basalt_expr::{Error, EvalContext, RpnExpression};
use basalt_proto::tipb::{self, ExprType, ScalarFuncSig as Sig};
use proptest::prelude::*;

const BIN: i32 = 63;
const UTF8_BIN: i32 = -46;
const GENERAL_CI: i32 = -45;

fn str_type(collate: i32) -> FieldType {
    let mut ft = FieldType::new(FieldTypeTp::VarString);
    ft.collate = collate;
    ft
}

fn int_type() -> FieldType {
    FieldType::new(FieldTypeTp::LongLong)
}

fn column_ref(offset: i64, field_type: &FieldType) -> tipb::Expr {
    let mut val = Vec::new();
    number::encode_i64(&mut val, offset);
    tipb::Expr {
        tp: Some(ExprType::ColumnRef as i32),
        val: Some(val),
        field_type: Some(field_type.to_tipb()),
        ..Default::default()
    }
}

fn str_const(value: &[u8]) -> tipb::Expr {
    tipb::Expr {
        tp: Some(ExprType::String as i32),
        val: Some(value.to_vec()),
        field_type: Some(str_type(UTF8_BIN).to_tipb()),
        ..Default::default()
    }
}

fn int_const(value: i64) -> tipb::Expr {
    let mut val = Vec::new();
    number::encode_i64(&mut val, value);
    tipb::Expr {
        tp: Some(ExprType::Int64 as i32),
        val: Some(val),
        field_type: Some(int_type().to_tipb()),
        ..Default::default()
    }
}

fn null_const() -> tipb::Expr {
    tipb::Expr {
        tp: Some(ExprType::Null as i32),
        ..Default::default()
    }
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

/// An argument column: its type and values.
enum Arg {
    Str(i32, Vec<Option<Vec<u8>>>),
    Int(Vec<Option<i64>>),
}

impl Arg {
    fn strs(values: impl IntoIterator<Item = Option<impl AsRef<[u8]>>>) -> Arg {
        Arg::Str(
            UTF8_BIN,
            values
                .into_iter()
                .map(|v| v.map(|v| v.as_ref().to_vec()))
                .collect(),
        )
    }

    fn collated(self, collate: i32) -> Arg {
        match self {
            Arg::Str(_, values) => Arg::Str(collate, values),
            other => other,
        }
    }

    fn field_type(&self) -> FieldType {
        match self {
            Arg::Str(collate, _) => str_type(*collate),
            Arg::Int(_) => int_type(),
        }
    }

    fn column(&self) -> Column {
        match self {
            Arg::Str(_, values) => {
                let mut column = BytesColumn::with_capacity(values.len());
                for value in values {
                    column.push(value.as_deref());
                }
                Column::Bytes(column)
            }
            Arg::Int(values) => {
                let mut column = FixedColumn::with_capacity(values.len());
                for value in values {
                    column.push(*value);
                }
                Column::Int(column)
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            Arg::Str(_, values) => values.len(),
            Arg::Int(values) => values.len(),
        }
    }
}

/// Evaluates `sig(col0, col1, …)` over every row of the argument columns, in reverse row order
/// (so that the logical-row mapping is exercised).
fn eval_with(
    ctx: &mut EvalContext,
    sig: Sig,
    result: FieldType,
    args: &[Arg],
) -> basalt_expr::Result<Column> {
    let schema: Vec<FieldType> = args.iter().map(Arg::field_type).collect();
    let columns: Vec<Column> = args.iter().map(Arg::column).collect();
    let children = (0..args.len())
        .map(|i| column_ref(i as i64, &schema[i]))
        .collect();
    let expr = call(sig, result, children);
    let rpn = RpnExpression::compile(&expr, &schema)?;
    let refs: Vec<Option<&Column>> = columns.iter().map(Some).collect();
    let rows: Vec<usize> = (0..args[0].len()).rev().collect();
    let mut column = rpn.eval_to_column(ctx, &refs, &rows)?;
    // Back to input order.
    let n = rows.len();
    column = basalt_expr::rpn::gather(&column, &(0..n).rev().collect::<Vec<_>>());
    Ok(column)
}

fn eval(sig: Sig, result: FieldType, args: &[Arg]) -> basalt_expr::Result<Column> {
    eval_with(&mut EvalContext::default(), sig, result, args)
}

fn bytes_results(column: &Column) -> Vec<Option<Vec<u8>>> {
    let Column::Bytes(column) = column else {
        panic!("string result expected, got {column:?}")
    };
    (0..column.len())
        .map(|i| column.get(i).map(<[u8]>::to_vec))
        .collect()
}

fn int_results(column: &Column) -> Vec<Option<i64>> {
    let Column::Int(column) = column else {
        panic!("int result expected, got {column:?}")
    };
    (0..column.len()).map(|i| column.get(i)).collect()
}

fn opt(value: Option<&str>) -> Option<Vec<u8>> {
    value.map(|v| v.as_bytes().to_vec())
}

/// Checks a string function of string arguments (each case: the arguments, then the result).
fn check_strs(sig: Sig, collate: i32, cases: &[(&[Option<&str>], Option<&str>)]) {
    let arity = cases[0].0.len();
    let args: Vec<Arg> = (0..arity)
        .map(|a| Arg::strs(cases.iter().map(|c| c.0[a])).collated(collate))
        .collect();
    let got = bytes_results(&eval(sig, str_type(collate), &args).unwrap());
    for (case, got) in cases.iter().zip(got) {
        assert_eq!(got, opt(case.1), "{sig:?}{:?}", case.0);
    }
}

/// Checks an int function of string arguments.
fn check_str_to_int(sig: Sig, collate: i32, cases: &[(&[Option<&str>], Option<i64>)]) {
    let arity = cases[0].0.len();
    let args: Vec<Arg> = (0..arity)
        .map(|a| Arg::strs(cases.iter().map(|c| c.0[a])).collated(collate))
        .collect();
    let mut result = int_type();
    result.collate = collate;
    let got = int_results(&eval(sig, result, &args).unwrap());
    for (case, got) in cases.iter().zip(got) {
        assert_eq!(got, case.1, "{sig:?}{:?}", case.0);
    }
}

/// A case of a function of string arguments followed by int arguments: those arguments and the
/// result.
type Mixed<'a, T> = (&'a [Option<&'a str>], &'a [Option<i64>], T);

/// Checks a function of string arguments followed by int arguments.
fn check_mixed<T: PartialEq + std::fmt::Debug>(
    sig: Sig,
    collate: i32,
    cases: &[Mixed<'_, T>],
    result: FieldType,
    read: fn(&Column) -> Vec<T>,
) {
    let (strs, ints) = (cases[0].0.len(), cases[0].1.len());
    let mut args: Vec<Arg> = (0..strs)
        .map(|a| Arg::strs(cases.iter().map(|c| c.0[a])).collated(collate))
        .collect();
    args.extend((0..ints).map(|a| Arg::Int(cases.iter().map(|c| c.1[a]).collect())));
    let got = read(&eval(sig, result, &args).unwrap());
    for (case, got) in cases.iter().zip(got) {
        assert_eq!(got, case.2, "{sig:?}{:?}{:?}", case.0, case.1);
    }
}

fn check_str_int(sig: Sig, cases: &[Mixed<'_, Option<&str>>]) {
    let cases: Vec<_> = cases.iter().map(|(s, i, r)| (*s, *i, opt(*r))).collect();
    check_mixed(sig, UTF8_BIN, &cases, str_type(UTF8_BIN), bytes_results);
}

const N: Option<&str> = None;

#[test]
fn lengths() {
    // TiKV test_length, test_bit_length, test_char_length_utf8.
    let words = [
        None,
        Some(""),
        Some("你好"),
        Some("TiKV"),
        Some("あなたのことが好きです"),
        Some("분산 데이터베이스"),
        Some("россия в мире\u{a0}\u{a0}кубок"),
        Some("قاعدة البيانات"),
    ];
    let bytes = [
        None,
        Some(0),
        Some(6),
        Some(4),
        Some(33),
        Some(25),
        Some(38),
        Some(27),
    ];
    let chars = [
        None,
        Some(0),
        Some(2),
        Some(4),
        Some(11),
        Some(9),
        Some(20),
        Some(14),
    ];
    let cases = |expected: &[Option<i64>]| -> Vec<(&[Option<&str>], Option<i64>)> {
        words
            .iter()
            .zip(expected)
            .map(|(w, e)| (std::slice::from_ref(w), *e))
            .collect()
    };
    check_str_to_int(Sig::Length, UTF8_BIN, &cases(&bytes));
    check_str_to_int(Sig::CharLength, BIN, &cases(&bytes));
    let bits: Vec<Option<i64>> = bytes.iter().map(|b| b.map(|b| b * 8)).collect();
    check_str_to_int(Sig::BitLength, UTF8_BIN, &cases(&bits));
    check_str_to_int(Sig::CharLengthUtf8, UTF8_BIN, &cases(&chars));
    // TiKV test_char_length: the binary variant counts bytes of anything, valid or not;
    // test_char_length_utf8: invalid UTF-8 is an error.
    let invalid = Arg::Str(BIN, vec![Some(b"Hello\xF0\x90\x80World".to_vec())]);
    let got = eval(Sig::CharLength, int_type(), std::slice::from_ref(&invalid)).unwrap();
    assert_eq!(int_results(&got), [Some(13)]);
    for bad in [
        &[0xc0u8][..],
        &[0xe2, 0x28, 0xa1],
        &[0xf0, 0x28, 0x8c, 0x28],
    ] {
        let arg = Arg::Str(UTF8_BIN, vec![Some(bad.to_vec())]);
        let err = eval(Sig::CharLengthUtf8, int_type(), &[arg]).unwrap_err();
        assert!(matches!(err, Error::Chunk(_)), "{err}");
    }
}

#[test]
fn ascii_and_strcmp() {
    // TiKV test_ascii.
    check_str_to_int(
        Sig::Ascii,
        UTF8_BIN,
        &[
            (&[None], None),
            (&[Some("1010")], Some(49)),
            (&[Some("")], Some(0)),
            (&[Some("Grüße")], Some(71)),
            (&[Some("数据库")], Some(230)),
            (&[Some("Αθήνα")], Some(206)),
        ],
    );
    // TiKV test_strcmp.
    check_str_to_int(
        Sig::Strcmp,
        UTF8_BIN,
        &[
            (&[Some("123"), Some("123")], Some(0)),
            (&[Some("123"), Some("1")], Some(1)),
            (&[Some("1"), Some("123")], Some(-1)),
            (&[Some("123"), Some("45")], Some(-1)),
            (&[Some("你好"), Some("hello")], Some(1)),
            (&[Some(""), Some("123")], Some(-1)),
            (&[Some(""), Some("")], Some(0)),
            (&[None, Some("123")], None),
            (&[Some(""), None], None),
        ],
    );
    check_str_to_int(
        Sig::Strcmp,
        GENERAL_CI,
        &[(&[Some("ABC"), Some("abc")], Some(0))],
    );
}

#[test]
fn concat_and_concat_ws() {
    // TiKV test_concat.
    check_strs(
        Sig::Concat,
        UTF8_BIN,
        &[
            (&[Some("abc"), Some("defg"), Some("")], Some("abcdefg")),
            (
                &[Some("忠犬ハチ公"), Some("CAFÉ"), Some("数据库")],
                Some("忠犬ハチ公CAFÉ数据库"),
            ),
            (&[Some("abc"), None, Some("defg")], None),
            (&[None, None, None], None),
        ],
    );
    // TiKV test_concat_ws: a NULL separator gives NULL; NULL strings are skipped, empty ones
    // are not.
    check_strs(
        Sig::ConcatWs,
        UTF8_BIN,
        &[
            (
                &[Some(","), Some("abc"), Some("defg"), N, N],
                Some("abc,defg"),
            ),
            (
                &[Some(","), Some("abc"), None, Some("defg"), N],
                Some("abc,defg"),
            ),
            (&[Some(","), None, Some("abc"), N, N], Some("abc")),
            (&[Some(","), Some(""), Some("abc"), N, N], Some(",abc")),
            (&[Some(","), Some("abc"), None, N, N], Some("abc")),
            (
                &[
                    Some("忠犬ハチ公"),
                    Some("CAFÉ"),
                    Some("数据库"),
                    Some("قاعدة البيانات"),
                    N,
                ],
                Some("CAFÉ忠犬ハチ公数据库忠犬ハチ公قاعدة البيانات"),
            ),
            (&[None, Some("abc"), Some("d"), N, N], None),
            (&[Some(","), N, N, N, N], Some("")),
        ],
    );
    // A single CONCAT argument, and constants.
    check_strs(Sig::Concat, UTF8_BIN, &[(&[Some("x")], Some("x"))]);
    let expr = call(
        Sig::ConcatWs,
        str_type(UTF8_BIN),
        vec![
            str_const(b"-"),
            str_const(b"a"),
            null_const(),
            str_const(b"b"),
        ],
    );
    let rpn = RpnExpression::compile(&expr, &[]).unwrap();
    let got = rpn
        .eval_to_column(&mut EvalContext::default(), &[], &[0, 0])
        .unwrap();
    assert_eq!(
        bytes_results(&got),
        [Some(b"a-b".to_vec()), Some(b"a-b".to_vec())]
    );
}

#[test]
fn substrings() {
    // TiKV test_substring_2_args (bytes) and test_substring_2_args_utf8 (characters).
    let two_bytes: &[Mixed<'_, Option<&str>>] = &[
        (&[Some("中文a测试bb")], &[Some(1)], Some("中文a测试bb")),
        (&[Some("中文a测试")], &[Some(-3)], Some("试")),
        (&[Some("Quadratically")], &[Some(5)], Some("ratically")),
        (&[Some("Sakila")], &[Some(-3)], Some("ila")),
        (&[Some("Sakila")], &[Some(0)], Some("")),
        (&[Some("Sakila")], &[Some(100)], Some("")),
        (&[Some("Sakila")], &[Some(-100)], Some("")),
        (&[Some("Sakila")], &[Some(i64::MAX)], Some("")),
        (&[Some("Sakila")], &[Some(i64::MIN)], Some("")),
        (&[Some("")], &[Some(-1)], Some("")),
        (&[None], &[Some(1)], None),
        (&[Some("Sakila")], &[None], None),
    ];
    check_str_int(Sig::Substring2Args, two_bytes);
    let mut two_chars = two_bytes.to_vec();
    two_chars[1].2 = Some("a测试");
    check_str_int(Sig::Substring2ArgsUtf8, &two_chars);

    // TiKV test_substring_3_args.
    check_str_int(
        Sig::Substring3Args,
        &[
            (
                &[Some("Quadratically")],
                &[Some(5), Some(6)],
                Some("ratica"),
            ),
            (&[Some("Sakila")], &[Some(-5), Some(3)], Some("aki")),
            (&[Some("Sakila")], &[Some(2), Some(0)], Some("")),
            (&[Some("Sakila")], &[Some(2), Some(-1)], Some("")),
            (&[Some("Sakila")], &[Some(2), Some(100)], Some("akila")),
            (&[Some("Sakila")], &[Some(100), Some(5)], Some("")),
            (&[Some("Sakila")], &[Some(-100), Some(5)], Some("")),
            (&[Some("中文a测a试")], &[Some(4), Some(3)], Some("文")),
            (&[Some("中文a测a试")], &[Some(4), Some(4)], Some("文a")),
            (&[Some("中文a测a试")], &[Some(-3), Some(3)], Some("试")),
            (&[Some("av^8/5")], &[Some(-2), Some(2)], Some("/5")),
            // MySQL: a length past i64::MAX - pos still means "to the end".
            (&[Some("Sakila")], &[Some(2), Some(i64::MAX)], Some("akila")),
            (&[Some("Sakila")], &[Some(2), None], None),
        ],
    );
    // TiKV test_substring_3_args_utf8.
    check_str_int(
        Sig::Substring3ArgsUtf8,
        &[
            (
                &[Some("Quadratically")],
                &[Some(5), Some(6)],
                Some("ratica"),
            ),
            (&[Some("Sakila")], &[Some(-5), Some(3)], Some("aki")),
            (&[Some("Sakila")], &[Some(2), Some(-1)], Some("")),
            (&[Some("中文a测a试")], &[Some(4), Some(3)], Some("测a试")),
            (&[Some("中文a测a试")], &[Some(4), Some(100)], Some("测a试")),
            (
                &[Some("中文a测a试")],
                &[Some(100), Some(i64::MAX)],
                Some(""),
            ),
            (&[Some("中文a测a试")], &[Some(i64::MIN), Some(1)], Some("")),
            (&[Some("中文a测a试")], &[Some(i64::MAX), Some(1)], Some("")),
            (&[Some("中文a测a试")], &[Some(-3), Some(3)], Some("测a试")),
            (&[Some("中文a测a试")], &[Some(-3), Some(1)], Some("测")),
            (&[Some("中文a测a试")], &[Some(0), Some(3)], Some("")),
            (&[Some("中文a测a试")], &[Some(1), Some(0)], Some("")),
            (&[Some("")], &[Some(1), Some(1)], Some("")),
        ],
    );
}

#[test]
fn left_and_right() {
    // TiKV test_left_utf8 and test_right_utf8.
    let cases = |right: bool| -> Vec<Mixed<'static, Option<&'static str>>> {
        vec![
            (&[Some("hello")], &[Some(0)], Some("")),
            (
                &[Some("hello")],
                &[Some(1)],
                Some(if right { "o" } else { "h" }),
            ),
            (
                &[Some("数据库")],
                &[Some(2)],
                Some(if right { "据库" } else { "数据" }),
            ),
            (
                &[Some("忠犬ハチ公")],
                &[Some(3)],
                Some(if right { "ハチ公" } else { "忠犬ハ" }),
            ),
            (&[Some("数据库")], &[Some(100)], Some("数据库")),
            (&[Some("数据库")], &[Some(-1)], Some("")),
            (&[Some("数据库")], &[Some(i64::MAX)], Some("数据库")),
            (&[None], &[Some(-1)], None),
            (&[Some("hello")], &[None], None),
        ]
    };
    check_str_int(Sig::LeftUtf8, &cases(false));
    check_str_int(Sig::RightUtf8, &cases(true));
    // TiKV test_left / test_right: bytes, so a character can be cut.
    let arg = |n| [Arg::strs([Some("数据库")]), Arg::Int(vec![Some(n)])];
    let got = bytes_results(&eval(Sig::Left, str_type(BIN), &arg(2)).unwrap());
    assert_eq!(got, [Some(vec![230u8, 149])]);
    let got = bytes_results(&eval(Sig::Right, str_type(BIN), &arg(2)).unwrap());
    assert_eq!(got, [Some(vec![186u8, 147])]);
    let got = bytes_results(&eval(Sig::Right, str_type(BIN), &arg(100)).unwrap());
    assert_eq!(got, [opt(Some("数据库"))]);
}

#[test]
fn case_mapping() {
    // TiKV test_upper_utf8 / test_lower_utf8: simple case mapping (ß stays, İ lowers to i).
    check_strs(
        Sig::UpperUtf8,
        UTF8_BIN,
        &[
            (&[Some("hello")], Some("HELLO")),
            (&[Some("café")], Some("CAFÉ")),
            (
                &[Some("ночь на окраине москвы")],
                Some("НОЧЬ НА ОКРАИНЕ МОСКВЫ"),
            ),
            (&[Some("قاعدة البيانات")], Some("قاعدة البيانات")),
            (&[Some("ßßåı")], Some("ßßÅI")),
            (&[Some("ᾳ ﬀ")], Some("ᾼ ﬀ")),
            (&[None], None),
        ],
    );
    check_strs(
        Sig::LowerUtf8,
        UTF8_BIN,
        &[
            (&[Some("HELLO")], Some("hello")),
            (&[Some("CAFÉ")], Some("café")),
            (
                &[Some("НОЧЬ НА ОКРАИНЕ МОСКВЫ")],
                Some("ночь на окраине москвы"),
            ),
            (&[Some("İİIIÅI")], Some("iiiiåi")),
            (&[None], None),
        ],
    );
    // TiKV test_upper / test_lower: binary strings are unchanged.
    for sig in [Sig::Upper, Sig::Lower] {
        check_strs(
            sig,
            BIN,
            &[
                (&[Some("café")], Some("café")),
                (&[Some("CAFÉ")], Some("CAFÉ")),
                (&[None], None),
            ],
        );
    }
}

#[test]
fn trims() {
    // TiKV test_trim_1_arg, test_ltrim, test_rtrim: only spaces.
    check_strs(
        Sig::Trim1Arg,
        UTF8_BIN,
        &[
            (&[Some("   b   ar   ")], Some("b   ar")),
            (&[Some("    ")], Some("")),
            (&[Some("  \tbar\t   ")], Some("\tbar\t")),
            (&[Some("  你  好  ")], Some("你  好")),
            (&[None], None),
        ],
    );
    check_strs(
        Sig::LTrim,
        UTF8_BIN,
        &[
            (&[Some("   bar   ")], Some("bar   ")),
            (&[Some("\t  bar")], Some("\t  bar")),
        ],
    );
    check_strs(
        Sig::RTrim,
        UTF8_BIN,
        &[
            (&[Some("   bar   ")], Some("   bar")),
            (&[Some(" bar   \t")], Some(" bar   \t")),
        ],
    );
    // TiKV test_trim_2_args: leading occurrences first, then trailing ones of the rest.
    check_strs(
        Sig::Trim2Args,
        UTF8_BIN,
        &[
            (&[Some("xxx"), Some("x")], Some("")),
            (&[Some("xxxbarxxx"), Some("xx")], Some("xbarx")),
            (&[Some("xyxybarxyxyx"), Some("xy")], Some("barxyxyx")),
            (&[Some("xyxyx"), Some("xy")], Some("x")),
            (&[Some("   bar   "), Some("")], Some("   bar   ")),
            (&[Some("张三和张三"), Some("张三")], Some("和")),
            // MySQL's order (TiDB's trimLeft then trimRight): 'aaa' loses one 'aa'.
            (&[Some("aaa"), Some("aa")], Some("a")),
            (&[Some("x"), None], None),
            (&[None, Some("x")], None),
        ],
    );
    // TiKV test_trim_3_args; direction per TiDB's ast.TrimDirectionType (0 = default BOTH).
    let cases: Vec<Mixed<'_, Option<&str>>> = vec![
        (&[Some("xxxbarxxx"), Some("x")], &[Some(2)], Some("barxxx")),
        (&[Some("barxxyz"), Some("xyz")], &[Some(3)], Some("barx")),
        (&[Some("xxxbarxxx"), Some("x")], &[Some(1)], Some("bar")),
        (&[Some("xxxbarxxx"), Some("x")], &[Some(0)], Some("bar")),
        (&[None, Some("x")], &[Some(2)], None),
        (&[Some("bar"), None], &[Some(2)], None),
        (&[Some("bar"), Some("b")], &[None], None),
    ];
    check_str_int(Sig::Trim3Args, &cases);
    // Bytes that are not UTF-8 are trimmed as bytes (TiKV's invalid_utf8_cases).
    let args = [
        Arg::Str(BIN, vec![Some(b"xy\xF0 Hello \x80 ".to_vec())]),
        Arg::Str(BIN, vec![Some(b"xy".to_vec())]),
    ];
    let got = bytes_results(&eval(Sig::Trim2Args, str_type(BIN), &args).unwrap());
    assert_eq!(got, [Some(b"\xF0 Hello \x80 ".to_vec())]);
}

#[test]
fn replace_reverse_repeat_space() {
    // TiKV test_replace.
    check_strs(
        Sig::Replace,
        UTF8_BIN,
        &[
            (&[None, Some("a"), Some("b")], None),
            (&[Some("a"), Some("b"), None], None),
            (
                &[Some("www.mysql.com"), Some("mysql"), Some("pingcap")],
                Some("www.pingcap.com"),
            ),
            (
                &[Some("www.mysql.com"), Some("w"), Some("1")],
                Some("111.mysql.com"),
            ),
            (&[Some("1234"), Some("2"), Some("55")], Some("15534")),
            (&[Some(""), Some("a"), Some("b")], Some("")),
            (&[Some("abc"), Some(""), Some("d")], Some("abc")),
            (&[Some("aaa"), Some("a"), Some("")], Some("")),
            (&[Some("aaa"), Some("A"), Some("")], Some("aaa")),
            (
                &[Some("心心相印"), Some("心"), Some("❤️")],
                Some("❤️❤️相印"),
            ),
        ],
    );
    // TiKV test_reverse_utf8 and test_reverse.
    check_strs(
        Sig::ReverseUtf8,
        UTF8_BIN,
        &[
            (&[Some("忠犬ハチ公")], Some("公チハ犬忠")),
            (&[Some("Bayern München")], Some("nehcnüM nreyaB")),
            (&[Some("")], Some("")),
            (&[None], None),
        ],
    );
    let arg = [Arg::Str(BIN, vec![opt(Some("中国")), None])];
    let got = bytes_results(&eval(Sig::Reverse, str_type(BIN), &arg).unwrap());
    assert_eq!(
        got,
        [Some(vec![0o275, 0o233, 0o345, 0o255, 0o270, 0o344]), None]
    );
    // TiKV test_repeat.
    check_str_int(
        Sig::Repeat,
        &[
            (&[Some("hello, world!")], &[Some(-1)], Some("")),
            (&[Some("hello, world!")], &[Some(0)], Some("")),
            (
                &[Some("你好世界")],
                &[Some(3)],
                Some("你好世界你好世界你好世界"),
            ),
            (&[Some("")], &[Some(i64::MAX)], Some("")),
            (&[None], &[Some(1)], None),
            (&[Some("a")], &[None], None),
        ],
    );
    // TiKV test_space (and TiDB's builtinSpaceSig for the packet limit).
    let counts = vec![None, Some(0), Some(3), Some(-1), Some((16 << 20) + 1)];
    let got = bytes_results(&eval(Sig::Space, str_type(UTF8_BIN), &[Arg::Int(counts)]).unwrap());
    assert_eq!(
        got,
        [
            None,
            Some(vec![]),
            Some(b"   ".to_vec()),
            Some(vec![]),
            None
        ]
    );
}

#[test]
fn results_beyond_max_allowed_packet_are_null_with_a_warning() {
    // TiDB: handleAllowedPacketOverflowed (REPEAT, SPACE, CONCAT).
    let mut ctx = EvalContext::default();
    // 2 × 2^25 bytes is exactly the limit; one more repetition is beyond it.
    let counts = vec![Some((1 << 25) + 1), Some(1 << 25), Some(2)];
    let args = [Arg::strs([Some("ab"); 3]), Arg::Int(counts)];
    let got = eval_with(&mut ctx, Sig::Repeat, str_type(UTF8_BIN), &args).unwrap();
    let lengths: Vec<Option<usize>> = bytes_results(&got)
        .iter()
        .map(|v| v.as_ref().map(Vec::len))
        .collect();
    assert_eq!(lengths, [None, Some(64 << 20), Some(4)]);
    assert_eq!(ctx.warning_count(), 1);
    let got = eval_with(
        &mut ctx,
        Sig::Space,
        str_type(UTF8_BIN),
        &[Arg::Int(vec![Some(i64::MAX)])],
    );
    assert_eq!(bytes_results(&got.unwrap()), [None]);
    assert_eq!(ctx.warning_count(), 2);
    let big = "x".repeat(40 << 20);
    let args = [Arg::strs([Some(&big)]), Arg::strs([Some(&big)])];
    let got = eval_with(&mut ctx, Sig::Concat, str_type(UTF8_BIN), &args).unwrap();
    assert!(bytes_results(&got)[0].is_none());
    assert_eq!(ctx.warning_count(), 3);
}

#[test]
fn locate_and_instr() {
    // TiKV test_locate_2_args (bytes; LOCATE(substr, str)).
    check_str_to_int(
        Sig::Locate2Args,
        BIN,
        &[
            (&[None, Some("abc")], None),
            (&[Some(""), Some("foobArbar")], Some(1)),
            (&[Some(""), Some("")], Some(1)),
            (&[Some("xxx"), Some("")], Some(0)),
            (&[Some("BaR"), Some("foobArbar")], Some(0)),
            (&[Some("bar"), Some("foobArbar")], Some(7)),
            (&[Some("好世"), Some("你好世界")], Some(4)),
        ],
    );
    // TiKV test_locate_2_args_utf8.
    let utf8_cases: &[(&[Option<&str>], Option<i64>)] = &[
        (&[Some("bar"), Some("foobarbar")], Some(4)),
        (&[Some("xbar"), Some("foobar")], Some(0)),
        (&[Some(""), Some("foobar")], Some(1)),
        (&[Some("foobar"), Some("")], Some(0)),
        (&[Some(""), Some("")], Some(1)),
        (&[Some("好世"), Some("你好世界")], Some(2)),
        (&[Some("界面"), Some("你好世界")], Some(0)),
        (&[Some("b"), Some("中a英b文")], Some(4)),
        (&[Some("BaR"), Some("foobArbar")], Some(0)),
        (&[None, Some("foobar")], None),
        (&[Some("foobar"), None], None),
    ];
    check_str_to_int(Sig::Locate2ArgsUtf8, UTF8_BIN, utf8_cases);
    check_str_to_int(
        Sig::Locate2ArgsUtf8,
        GENERAL_CI,
        &[(&[Some("BaR"), Some("foobArbar")], Some(4))],
    );
    // TiKV test_locate_3_args (bytes).
    let pos_cases: Vec<Mixed<'_, Option<i64>>> = vec![
        (&[None, Some("")], &[Some(1)], None),
        (&[Some(""), Some("foobArbar")], &[Some(0)], Some(0)),
        (&[Some(""), Some("foobArbar")], &[Some(10)], Some(10)),
        (&[Some(""), Some("foobArbar")], &[Some(11)], Some(0)),
        (&[Some("BaR"), Some("foobArbar")], &[Some(3)], Some(0)),
        (&[Some("bar"), Some("foobArbar")], &[Some(1)], Some(7)),
        (&[Some("好世"), Some("你好世界")], &[Some(1)], Some(4)),
        (&[Some("a"), Some("a")], &[None], None),
    ];
    check_mixed(Sig::Locate3Args, BIN, &pos_cases, int_type(), int_results);
    // TiKV test_locate_3_args_utf8.
    let pos_cases: Vec<Mixed<'_, Option<i64>>> = vec![
        (&[Some("bar"), Some("foobarbar")], &[Some(5)], Some(7)),
        (&[Some(""), Some("foobar")], &[Some(2)], Some(2)),
        (&[Some(""), Some("")], &[Some(2)], Some(0)),
        (&[Some("A"), Some("大A写的A")], &[Some(0)], Some(0)),
        (&[Some("A"), Some("大A写的A")], &[Some(-1)], Some(0)),
        (&[Some("A"), Some("大A写的A")], &[Some(2)], Some(2)),
        (&[Some("A"), Some("大A写的A")], &[Some(3)], Some(5)),
        (&[Some("bAr"), Some("foobarBaR")], &[Some(5)], Some(0)),
        (&[Some(""), Some("aa")], &[Some(3)], Some(3)),
        (&[Some(""), Some("aa")], &[Some(4)], Some(0)),
        (&[None, Some("bar")], &[Some(0)], None),
    ];
    check_mixed(
        Sig::Locate3ArgsUtf8,
        UTF8_BIN,
        &pos_cases,
        int_type(),
        int_results,
    );
    let mut ci = int_type();
    ci.collate = GENERAL_CI;
    let case: Vec<Mixed<'_, Option<i64>>> =
        vec![(&[Some("bAr"), Some("foobarBaR")], &[Some(5)], Some(7))];
    check_mixed(Sig::Locate3ArgsUtf8, GENERAL_CI, &case, ci, int_results);
    // Invalid UTF-8 is an error (TiKV's "invalid cases").
    let args = [
        Arg::strs([Some("bar")]),
        Arg::Str(UTF8_BIN, vec![Some(vec![0x00, 0x9f, 0x92, 0x96])]),
    ];
    assert!(eval(Sig::Locate2ArgsUtf8, int_type(), &args).is_err());

    // TiKV test_instr (INSTR(str, substr), bytes, case-sensitive).
    check_str_to_int(
        Sig::Instr,
        BIN,
        &[
            (&[Some("abcdefg"), Some("a")], Some(1)),
            (&[Some("abcdefg"), Some("F")], Some(0)),
            (&[Some("abcdefg"), Some("cd")], Some(3)),
            (&[Some(""), Some("")], Some(1)),
            (&[Some(""), Some(" ")], Some(0)),
            (&[Some("a多字节"), Some("字节")], Some(5)),
            (&[Some("你好世界"), Some("好世")], Some(4)),
            (&[None, Some("bar")], None),
            (&[Some("foobar"), None], None),
        ],
    );
    // TiKV test_instr_utf8 (case-insensitive cases under a _ci collation, as TiDB decides).
    let instr_cases: &[(&[Option<&str>], Option<i64>)] = &[
        (&[Some("abcdefg"), Some("F")], Some(6)),
        (&[Some("abcdefg"), Some("eFg")], Some(5)),
        (&[Some("abcdefg"), Some("def")], Some(4)),
        (&[Some(" "), Some(" ")], Some(1)),
        (&[Some("a多字节"), Some("字节")], Some(3)),
        (&[Some("foobarbar"), Some("xbar")], Some(0)),
        (&[Some("你好世界"), Some("好世")], Some(2)),
        (&[None, Some("")], None),
    ];
    check_str_to_int(Sig::InstrUtf8, GENERAL_CI, instr_cases);
    check_str_to_int(
        Sig::InstrUtf8,
        UTF8_BIN,
        &[(&[Some("abcdefg"), Some("F")], Some(0))],
    );
}

#[test]
fn arity_is_checked() {
    let bad = call(Sig::ConcatWs, str_type(UTF8_BIN), vec![str_const(b",")]);
    assert!(matches!(
        RpnExpression::compile(&bad, &[]),
        Err(Error::InvalidExpr(_))
    ));
    let ok = call(Sig::Space, str_type(UTF8_BIN), vec![int_const(2)]);
    assert!(RpnExpression::compile(&ok, &[]).is_ok());
}

proptest! {
    #[test]
    fn char_length_counts_chars(s in ".{0,40}") {
        let arg = [Arg::strs([Some(&s)])];
        let got = int_results(&eval(Sig::CharLengthUtf8, int_type(), &arg).unwrap());
        prop_assert_eq!(got, vec![Some(s.chars().count() as i64)]);
    }

    #[test]
    fn substring_pieces_round_trip(s in ".{0,30}", cut in 0i64..40) {
        // SUBSTRING(s, 1, cut) || SUBSTRING(s, cut + 1) = s, in characters and in bytes, and
        // the LENGTHs add up.
        let n = s.chars().count() as i64;
        for (three, two, len) in [
            (Sig::Substring3ArgsUtf8, Sig::Substring2ArgsUtf8, Sig::CharLengthUtf8),
            (Sig::Substring3Args, Sig::Substring2Args, Sig::Length),
        ] {
            let head = bytes_results(&eval(three, str_type(UTF8_BIN), &[
                Arg::Str(BIN, vec![Some(s.as_bytes().to_vec())]),
                Arg::Int(vec![Some(1)]),
                Arg::Int(vec![Some(cut)]),
            ]).unwrap())[0].clone().unwrap();
            let tail = bytes_results(&eval(two, str_type(UTF8_BIN), &[
                Arg::Str(BIN, vec![Some(s.as_bytes().to_vec())]),
                Arg::Int(vec![Some(cut + 1)]),
            ]).unwrap())[0].clone().unwrap();
            let mut joined = head.clone();
            joined.extend_from_slice(&tail);
            prop_assert_eq!(&joined, s.as_bytes());
            let lengths = int_results(&eval(len, int_type(), &[
                Arg::Str(UTF8_BIN, vec![Some(head), Some(tail), Some(s.as_bytes().to_vec())]),
            ]).unwrap());
            let (h, t, whole) = (lengths[0].unwrap(), lengths[1].unwrap(), lengths[2].unwrap());
            prop_assert_eq!(h + t, whole);
            if three == Sig::Substring3ArgsUtf8 {
                prop_assert_eq!(h, cut.min(n));
            }
        }
        // A negative position counts from the end: SUBSTRING(s, -k) has k characters.
        let k = cut.min(n).max(1);
        let tail = bytes_results(&eval(Sig::Substring2ArgsUtf8, str_type(UTF8_BIN), &[
            Arg::strs([Some(&s)]),
            Arg::Int(vec![Some(-k)]),
        ]).unwrap())[0].clone().unwrap();
        let expected: String = if k <= n { s.chars().skip((n - k) as usize).collect() } else { String::new() };
        prop_assert_eq!(tail, expected.into_bytes());
    }

    #[test]
    fn upper_lower_keep_char_count(s in "\\PC{0,20}") {
        for sig in [Sig::UpperUtf8, Sig::LowerUtf8] {
            let got = bytes_results(&eval(sig, str_type(UTF8_BIN), &[Arg::strs([Some(&s)])]).unwrap());
            let out = String::from_utf8(got[0].clone().unwrap()).unwrap();
            prop_assert_eq!(out.chars().count(), s.chars().count());
        }
    }
}
