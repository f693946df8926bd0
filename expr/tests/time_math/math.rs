//! Math functions.

use super::*;

#[test]
fn abs_with_overflow() {
    // TiKV impl_math.rs test_abs_int / test_abs_real / test_abs_decimal.
    let got = eval(
        Sig::AbsInt,
        &int_type(),
        vec![int_arg(&[Some(-3), Some(i64::MAX), None])],
    );
    assert_eq!(ints(&got), [Some(3), Some(i64::MAX), None]);
    let err = eval_in(
        &mut EvalContext::default(),
        Sig::AbsInt,
        &int_type(),
        vec![int_arg(&[Some(i64::MIN)])],
    )
    .unwrap_err();
    assert!(matches!(err, Error::Overflow { ty: "BIGINT", .. }), "{err}");
    let mut ctx = lenient();
    let got = eval_in(
        &mut ctx,
        Sig::AbsInt,
        &int_type(),
        vec![int_arg(&[Some(i64::MIN)])],
    )
    .unwrap();
    assert_eq!(ints(&got), [None]);
    assert_eq!(ctx.warnings()[0].code, 1690);
    let got = eval(
        Sig::AbsUInt,
        &int_type().with_flag(flag::UNSIGNED),
        vec![uint_arg(&[Some(u64::MAX as i64)])],
    );
    assert_eq!(ints(&got), [Some(u64::MAX as i64)]);
    let got = eval(
        Sig::AbsReal,
        &real_type(),
        vec![real_arg(&[Some(3.5), Some(-3.5), None])],
    );
    assert_eq!(reals(&got), [Some(3.5), Some(3.5), None]);
    let got = eval(
        Sig::AbsDecimal,
        &dec_type(1),
        vec![dec_arg(&[Some("1.1"), Some("-1.1"), None])],
    );
    assert_eq!(
        decimals(&got),
        [Some("1.1".into()), Some("1.1".into()), None]
    );
}

#[test]
fn ceil_and_floor() {
    // TiKV test_ceil_real / test_floor_real.
    let inputs = [3.5, 3.45, 3.1, -3.45, -0.1, f64::MAX, f64::MIN];
    let args = || real_arg(&inputs.map(Some));
    let got = eval(Sig::CeilReal, &real_type(), vec![args()]);
    let expected = [4.0, 4.0, 4.0, -3.0, -0.0, f64::MAX, f64::MIN].map(Some);
    assert_eq!(reals(&got), expected);
    let got = eval(Sig::FloorReal, &real_type(), vec![args()]);
    let expected = [3.0, 3.0, 3.0, -4.0, -1.0, f64::MAX, f64::MIN].map(Some);
    assert_eq!(reals(&got), expected);

    // TiKV test_ceil_dec_to_dec / test_floor_dec_to_dec / *_dec_to_int.
    let decs = [
        Some("9223372036854775808"),
        Some("123.456"),
        Some("-123.456"),
        Some("-0.5"),
        None,
    ];
    let got = eval(Sig::CeilDecToDec, &dec_type(0), vec![dec_arg(&decs)]);
    let mut expected = some(&["9223372036854775808", "124", "-123", "0"]);
    expected.push(None);
    assert_eq!(decimals(&got), expected);
    let got = eval(Sig::FloorDecToDec, &dec_type(0), vec![dec_arg(&decs)]);
    let mut expected = some(&["9223372036854775808", "123", "-124", "-1"]);
    expected.push(None);
    assert_eq!(decimals(&got), expected);
    let decs = [
        Some("123.456"),
        Some("1.23"),
        Some("-1.23"),
        Some("-9223372036854775808"),
    ];
    let got = eval(Sig::CeilDecToInt, &int_type(), vec![dec_arg(&decs)]);
    assert_eq!(ints(&got), [Some(124), Some(2), Some(-1), Some(i64::MIN)]);
    let got = eval(Sig::FloorDecToInt, &int_type(), vec![dec_arg(&decs)]);
    assert_eq!(ints(&got), [Some(123), Some(1), Some(-2), Some(i64::MIN)]);

    // Integers pass through; to DECIMAL they keep their signedness.
    let got = eval(
        Sig::CeilIntToInt,
        &int_type(),
        vec![int_arg(&[Some(i64::MIN), None])],
    );
    assert_eq!(ints(&got), [Some(i64::MIN), None]);
    let got = eval(
        Sig::FloorIntToDec,
        &dec_type(0),
        vec![uint_arg(&[Some(-1)])],
    );
    assert_eq!(decimals(&got), some(&["18446744073709551615"]));
    let got = eval(
        Sig::CeilIntToDec,
        &dec_type(0),
        vec![int_arg(&[Some(i64::MIN)])],
    );
    assert_eq!(decimals(&got), some(&["-9223372036854775808"]));
}

#[test]
fn round_and_truncate() {
    // TiKV test_round_real: doubles round half to even.
    let got = eval(
        Sig::RoundReal,
        &real_type(),
        vec![real_arg(&[
            Some(-3.12),
            Some(-3.5),
            Some(-4.5),
            Some(2.5),
            Some(f64::MAX),
            None,
        ])],
    );
    assert_eq!(
        reals(&got),
        [
            Some(-3.0),
            Some(-4.0),
            Some(-4.0),
            Some(2.0),
            Some(f64::MAX),
            None
        ]
    );
    // TiKV test_round_dec: decimals round half away from zero.
    let got = eval(
        Sig::RoundDec,
        &dec_type(0),
        vec![dec_arg(&[
            Some("123.1"),
            Some("-1111.5"),
            Some("2.5"),
            None,
        ])],
    );
    assert_eq!(
        decimals(&got),
        [
            Some("123".into()),
            Some("-1112".into()),
            Some("3".into()),
            None
        ]
    );
    let got = eval(Sig::RoundInt, &int_type(), vec![int_arg(&[Some(i64::MIN)])]);
    assert_eq!(ints(&got), [Some(i64::MIN)]);

    // TiKV test_round_frac (int cases), plus MySQL's ROUND(25, -1) = 30 and overflow.
    let got = eval(
        Sig::RoundWithFracInt,
        &int_type(),
        vec![
            int_arg(&[
                Some(23),
                Some(23),
                Some(-27),
                Some(-27),
                Some(25),
                None,
                Some(-27),
                Some(i64::MAX),
            ]),
            int_arg(&[
                Some(2),
                Some(-1),
                Some(-1),
                Some(-2),
                Some(-1),
                Some(-27),
                None,
                Some(-1),
            ]),
        ],
    );
    assert_eq!(
        ints(&got),
        [
            Some(23),
            Some(20),
            Some(-30),
            Some(0),
            Some(30),
            None,
            None,
            None
        ]
    );
    // TiKV test_round_frac (decimal cases).
    let got = eval(
        Sig::RoundWithFracDec,
        &dec_type(-1),
        vec![
            dec_arg(&[
                Some("150.000"),
                Some("150.257"),
                Some("153.257"),
                Some("153.257"),
                None,
            ]),
            int_arg(&[Some(2), Some(1), Some(-1), None, Some(-27)]),
        ],
    );
    assert_eq!(
        decimals(&got),
        [
            Some("150.00".into()),
            Some("150.3".into()),
            Some("150".into()),
            None,
            None
        ]
    );
    // TiKV test_round_frac (real cases).
    let got = eval(
        Sig::RoundWithFracReal,
        &real_type(),
        vec![
            real_arg(&[
                Some(-1.298),
                Some(-1.298),
                Some(23.298),
                Some(23.298),
                Some(0.95),
                Some(1.05),
                Some(1.05),
                Some(1.0),
            ]),
            int_arg(&[
                Some(1),
                Some(0),
                Some(2),
                Some(-1),
                Some(1),
                Some(1),
                Some(1_000_000),
                Some(-1_000_000),
            ]),
        ],
    );
    assert_eq!(
        reals(&got),
        [
            Some(-1.3),
            Some(-1.0),
            Some(23.3),
            Some(20.0),
            Some(1.0),
            Some(1.0),
            Some(1.05),
            Some(0.0)
        ]
    );

    // TiKV test_truncate_int / test_truncate_uint.
    let got = eval(
        Sig::TruncateInt,
        &int_type(),
        vec![
            int_arg(&[
                Some(1028),
                Some(1028),
                Some(1028),
                Some(1028),
                Some(1028),
                Some(-1028),
            ]),
            int_arg(&[
                Some(0),
                Some(5),
                Some(-2),
                Some(309),
                Some(i64::MIN),
                Some(-2),
            ]),
        ],
    );
    assert_eq!(
        ints(&got),
        [
            Some(1028),
            Some(1028),
            Some(1000),
            Some(1028),
            Some(0),
            Some(-1000)
        ]
    );
    let got = eval(
        Sig::TruncateInt,
        &int_type(),
        vec![int_arg(&[Some(1028)]), uint_arg(&[Some(u64::MAX as i64)])],
    );
    assert_eq!(ints(&got), [Some(1028)]);
    let max = u64::MAX as i64;
    let got = eval(
        Sig::TruncateUint,
        &int_type().with_flag(flag::UNSIGNED),
        vec![
            uint_arg(&[Some(max), Some(max), Some(max)]),
            int_arg(&[Some(-2), Some(-20), Some(2)]),
        ],
    );
    assert_eq!(
        ints(&got),
        [Some(18446744073709551600u64 as i64), Some(0), Some(max)]
    );

    // TiKV test_truncate_real.
    let got = eval(
        Sig::TruncateReal,
        &real_type(),
        vec![
            real_arg(&[
                Some(-1.23),
                Some(1.58),
                Some(1.298),
                Some(123.2),
                Some(123.2),
                Some(123.2),
                Some(123.2),
                Some(123.2),
                Some(f64::MAX),
            ]),
            int_arg(&[
                Some(0),
                Some(0),
                Some(1),
                Some(-1),
                Some(100),
                Some(-100),
                Some(i64::MAX),
                Some(i64::MIN),
                Some(2),
            ]),
        ],
    );
    assert_eq!(
        reals(&got),
        [
            Some(-1.0),
            Some(1.0),
            Some(1.2),
            Some(120.0),
            Some(123.2),
            Some(0.0),
            Some(123.2),
            Some(0.0),
            Some(f64::MAX)
        ]
    );
    // TiKV test_truncate_decimal; the scale is capped by the result type's (here 30).
    let got = eval(
        Sig::TruncateDecimal,
        &dec_type(30),
        vec![
            dec_arg(&[
                Some("-1.23"),
                Some("-1.23"),
                Some("-11.23"),
                Some("1.58"),
                Some("23.298"),
                Some("23.298"),
                Some("23.298"),
            ]),
            int_arg(&[
                Some(0),
                Some(1),
                Some(-1),
                Some(1),
                Some(-1),
                Some(-100),
                Some(200),
            ]),
        ],
    );
    let mut expected = some(&["-1", "-1.2", "-10", "1.5", "20", "0"]);
    expected.push(Some(format!("23.298{}", "0".repeat(27))));
    assert_eq!(decimals(&got), expected);
    let got = eval(
        Sig::TruncateDecimal,
        &dec_type(3),
        vec![
            dec_arg(&[Some("23.298")]),
            uint_arg(&[Some(u64::MAX as i64)]),
        ],
    );
    assert_eq!(decimals(&got), some(&["23.298"]));
}

#[test]
fn exponents_and_logarithms() {
    // TiKV test_pow.
    let got = eval(
        Sig::Pow,
        &real_type(),
        vec![
            real_arg(&[Some(1.0), Some(3.0), Some(2.0), Some(4.0), None]),
            real_arg(&[Some(3.0), Some(0.0), Some(4.0), None, Some(4.0)]),
        ],
    );
    assert_eq!(reals(&got), [Some(1.0), Some(1.0), Some(16.0), None, None]);
    for (x, y) in [(0.0, -9_999_999.0), (10.0, 400.0), (-8.0, 0.5)] {
        let err = eval_in(
            &mut EvalContext::default(),
            Sig::Pow,
            &real_type(),
            vec![real_arg(&[Some(x)]), real_arg(&[Some(y)])],
        )
        .unwrap_err();
        assert!(matches!(err, Error::Overflow { ty: "DOUBLE", .. }), "{err}");
    }
    // TiKV test_exp.
    let got = eval(
        Sig::Exp,
        &real_type(),
        vec![real_arg(&[
            Some(1.0),
            Some(1.23),
            Some(-1.23),
            Some(0.0),
            None,
        ])],
    );
    assert_eq!(
        reals(&got),
        [
            Some(std::f64::consts::E),
            Some(3.4212295362896734),
            Some(0.2922925776808594),
            Some(1.0),
            None
        ]
    );
    assert!(eval_in(
        &mut EvalContext::default(),
        Sig::Exp,
        &real_type(),
        vec![real_arg(&[Some(100000.0)])]
    )
    .is_err());
    // TiKV test_sqrt.
    let got = eval(
        Sig::Sqrt,
        &real_type(),
        vec![real_arg(&[Some(64.0), Some(2.0), Some(-16.0), None])],
    );
    assert_eq!(
        reals(&got),
        [Some(8.0), Some(std::f64::consts::SQRT_2), None, None]
    );

    // TiKV test_log_1_arg / test_log2 / test_log10 / test_log_2_arg; MySQL warns on the NULLs.
    let mut ctx = lenient();
    let got = eval_in(
        &mut ctx,
        Sig::Log1Arg,
        &real_type(),
        vec![real_arg(&[
            Some(std::f64::consts::E),
            Some(100.0),
            Some(-1.0),
            Some(0.0),
            None,
        ])],
    )
    .unwrap();
    assert_eq!(
        reals(&got),
        [Some(1.0), Some(4.605170185988092), None, None, None]
    );
    assert_eq!(ctx.warning_count(), 2);
    let got = eval(
        Sig::Log2,
        &real_type(),
        vec![real_arg(&[Some(16.0), Some(5.0), Some(-1.234), Some(0.0)])],
    );
    assert_eq!(
        reals(&got),
        [Some(4.0), Some(2.321928094887362), None, None]
    );
    let got = eval(
        Sig::Log10,
        &real_type(),
        vec![real_arg(&[
            Some(100.0),
            Some(101.0),
            Some(-1.234),
            Some(0.0),
        ])],
    );
    assert_eq!(
        reals(&got),
        [Some(2.0), Some(2.0043213737826426), None, None]
    );
    let got = eval(
        Sig::Log2Args,
        &real_type(),
        vec![
            real_arg(&[
                Some(10.0),
                Some(2.0),
                Some(0.5),
                Some(-0.23323),
                Some(0.0),
                Some(1.0),
                Some(1123.0),
                None,
            ]),
            real_arg(&[
                Some(100.0),
                Some(1.0),
                Some(0.25),
                Some(2.0),
                Some(123.0),
                Some(123.0),
                Some(0.0),
                Some(2.0),
            ]),
        ],
    );
    assert_eq!(
        reals(&got),
        [
            Some(2.0),
            Some(0.0),
            Some(2.0),
            None,
            None,
            None,
            None,
            None
        ]
    );
}

#[test]
fn sign_pi_angles_and_trigonometry() {
    // TiKV test_sign.
    let got = eval(
        Sig::Sign,
        &int_type(),
        vec![real_arg(&[None, Some(42.0), Some(0.0), Some(-47.0)])],
    );
    assert_eq!(ints(&got), [None, Some(1), Some(0), Some(-1)]);
    // PI() takes no argument and fills every row.
    let expr = call(Sig::Pi, &real_type(), vec![]);
    let rpn = RpnExpression::compile(&expr, &[]).unwrap();
    let got = rpn.eval_to_column(&mut lenient(), &[], &[0, 1]).unwrap();
    assert_eq!(reals(&got), [Some(std::f64::consts::PI); 2]);
    // TiKV test_radians / test_degrees.
    let got = eval(
        Sig::Radians,
        &real_type(),
        vec![real_arg(&[Some(0.0), Some(180.0), Some(-360.0)])],
    );
    let pi = std::f64::consts::PI;
    assert_eq!(reals(&got), [Some(0.0), Some(pi), Some(-2.0 * pi)]);
    let got = eval(
        Sig::Degrees,
        &real_type(),
        vec![real_arg(&[Some(0.0), Some(1.0), Some(pi), Some(-pi / 2.0)])],
    );
    assert_eq!(
        reals(&got),
        [Some(0.0), Some(57.29577951308232), Some(180.0), Some(-90.0)]
    );
    assert!(eval_in(
        &mut EvalContext::default(),
        Sig::Degrees,
        &real_type(),
        vec![real_arg(&[Some(1.0E307)])]
    )
    .is_err());
    // TiKV test_sin / test_cos / test_tan / test_cot / test_asin / test_acos / test_atan_*.
    let close = |sig: Sig, inputs: &[f64], expected: &[Option<f64>]| {
        let got = reals(&eval(
            sig,
            &real_type(),
            vec![real_arg(
                &inputs.iter().map(|x| Some(*x)).collect::<Vec<_>>(),
            )],
        ));
        for (g, e) in got.iter().zip(expected) {
            match (g, e) {
                (Some(g), Some(e)) => assert!((g - e).abs() < 1e-15, "{sig:?}: {g} vs {e}"),
                _ => assert_eq!(g, e, "{sig:?}"),
            }
        }
    };
    close(
        Sig::Sin,
        &[0.0, pi / 2.0, pi],
        &[Some(0.0), Some(1.0), Some(0.0)],
    );
    close(
        Sig::Cos,
        &[0.0, pi / 2.0, pi],
        &[Some(1.0), Some(0.0), Some(-1.0)],
    );
    close(
        Sig::Tan,
        &[0.0, pi / 4.0, -pi / 4.0],
        &[Some(0.0), Some(1.0), Some(-1.0)],
    );
    close(
        Sig::Cot,
        &[-1.0, 1.0],
        &[Some(-0.6420926159343308), Some(0.6420926159343308)],
    );
    close(
        Sig::Asin,
        &[0.0, 1.0, -1.0, 2.0, -2.0],
        &[Some(0.0), Some(pi / 2.0), Some(-pi / 2.0), None, None],
    );
    close(
        Sig::Acos,
        &[0.0, 1.0, -1.0, 2.0],
        &[Some(pi / 2.0), Some(0.0), Some(pi), None],
    );
    close(
        Sig::Atan1Arg,
        &[1.0, -1.0, f64::MAX, 0.0],
        &[Some(pi / 4.0), Some(-pi / 4.0), Some(pi / 2.0), Some(0.0)],
    );
    let got = eval(
        Sig::Atan2Args,
        &real_type(),
        vec![
            real_arg(&[Some(0.0), Some(0.0), Some(1.0), Some(1.0)]),
            real_arg(&[Some(0.0), Some(-1.0), Some(-1.0), Some(0.0)]),
        ],
    );
    assert_eq!(
        reals(&got),
        [Some(0.0), Some(pi), Some(3.0 * pi / 4.0), Some(pi / 2.0)]
    );
    // COT(0) is out of range.
    let mut ctx = lenient();
    let got = eval_in(
        &mut ctx,
        Sig::Cot,
        &real_type(),
        vec![real_arg(&[Some(0.0)])],
    )
    .unwrap();
    assert_eq!(reals(&got), [None]);
    assert_eq!(ctx.warnings()[0].code, 1690);
}

#[test]
fn crc32_and_registry() {
    // TiKV test_crc32.
    let got = eval(
        Sig::Crc32,
        &int_type().with_flag(flag::UNSIGNED),
        vec![bytes_arg(&[
            Some(""),
            Some("-1"),
            Some("mysql"),
            Some("MySQL"),
            Some("hello"),
            Some("❤️"),
            None,
        ])],
    );
    assert_eq!(
        ints(&got),
        [
            Some(0),
            Some(808273962),
            Some(2501908538),
            Some(3259397556),
            Some(907060870),
            Some(4067711813),
            None
        ]
    );
    let implemented = functions::implemented();
    for sig in [Sig::Rand, Sig::RandWithSeedFirstGen] {
        assert!(
            !implemented.contains(&sig),
            "{sig:?} must not be pushed down"
        );
    }
    for sig in [
        Sig::AbsInt,
        Sig::Pow,
        Sig::DateFormatSig,
        Sig::Hour,
        Sig::LastDay,
        Sig::DateDiff,
    ] {
        assert!(implemented.contains(&sig), "{sig:?}");
    }
}
