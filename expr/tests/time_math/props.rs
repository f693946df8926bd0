//! Properties over generated values.

use proptest::prelude::*;

use super::*;

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn valid_date() -> impl Strategy<Value = (u32, u32, u32)> {
    (1u32..=9998, 1u32..=12, 1u32..=31).prop_map(|(y, m, d)| (y, m, d.min(days_in_month(y, m))))
}

fn date_of((y, m, d): (u32, u32, u32)) -> DateTime {
    DateTime::new(y, m, d, 0, 0, 0, 0, TimeType::Date, 0).unwrap()
}

fn next_day((y, m, d): (u32, u32, u32)) -> (u32, u32, u32) {
    if d < days_in_month(y, m) {
        (y, m, d + 1)
    } else if m < 12 {
        (y, m + 1, 1)
    } else {
        (y + 1, 1, 1)
    }
}

fn time_column(values: &[DateTime]) -> Arg {
    let values: Vec<Option<DateTime>> = values.iter().map(|v| Some(*v)).collect();
    Arg(ft(FieldTypeTp::Date), Column::DateTime(fixed(&values)))
}

proptest! {
    #[test]
    fn floor_and_ceil_bracket_the_value(x in -1.0e15f64..1.0e15) {
        let f = reals(&eval(Sig::FloorReal, &real_type(), vec![real_arg(&[Some(x)])]))[0].unwrap();
        let c = reals(&eval(Sig::CeilReal, &real_type(), vec![real_arg(&[Some(x)])]))[0].unwrap();
        prop_assert!(f <= x && x < f + 1.0, "floor({x}) = {f}");
        prop_assert!(c - 1.0 < x && x <= c, "ceil({x}) = {c}");
        prop_assert_eq!(f.fract(), 0.0);
    }

    #[test]
    fn decimal_floor_and_ceil_bracket_the_value(units in -10i64.pow(15)..10i64.pow(15), scale in 0u32..6) {
        let text = format!("{}", units as f64 / 10f64.powi(scale as i32));
        let x = dec(&text);
        let f = decimals(&eval(Sig::FloorDecToDec, &dec_type(0), vec![dec_arg(&[Some(&text)])]))[0].clone().unwrap();
        let c = decimals(&eval(Sig::CeilDecToDec, &dec_type(0), vec![dec_arg(&[Some(&text)])]))[0].clone().unwrap();
        let (f, c) = (dec(&f), dec(&c));
        let one = Decimal::from_i64(1);
        prop_assert!(f <= x && x < f.add(&one).unwrap(), "floor({}) = {}", x, f);
        prop_assert!(c.sub(&one).unwrap() < x && x <= c, "ceil({}) = {}", x, c);
    }

    #[test]
    fn integer_round_and_truncate_match_a_reference(x in any::<i64>(), d in -20i64..3) {
        let got = ints(&eval(Sig::RoundWithFracInt, &int_type(), vec![int_arg(&[Some(x)]), int_arg(&[Some(d)])]))[0];
        let trunc = ints(&eval(Sig::TruncateInt, &int_type(), vec![int_arg(&[Some(x)]), int_arg(&[Some(d)])]))[0];
        if d >= 0 {
            prop_assert_eq!(got, Some(x));
            prop_assert_eq!(trunc, Some(x));
        } else {
            let unit = 10i128.pow((-d) as u32);
            let t = i128::from(x) / unit * unit;
            prop_assert_eq!(trunc.map(i128::from), Some(t));
            // Half away from zero: the nearer multiple, ties away from zero.
            let away = t + unit * i128::from(x.signum());
            let expected = if (i128::from(x) - t).abs() * 2 >= unit { away } else { t };
            if (i128::from(i64::MIN)..=i128::from(i64::MAX)).contains(&expected) {
                prop_assert_eq!(got.map(i128::from), Some(expected));
            } else {
                prop_assert_eq!(got, None);
            }
        }
    }

    #[test]
    fn consecutive_days_differ_by_one(date in valid_date()) {
        prop_assume!(date.0 < 9999);
        let (a, b) = (date_of(date), date_of(next_day(date)));
        let diff = ints(&eval(Sig::DateDiff, &int_type(), vec![time_column(&[b]), time_column(&[a])]))[0];
        prop_assert_eq!(diff, Some(1));
        // TO_DAYS and WEEKDAY agree: MySQL's weekday is (daynr + 5) mod 7.
        let days = ints(&eval(Sig::ToDays, &int_type(), vec![time_column(&[a])]))[0].unwrap();
        let weekday = ints(&eval(Sig::WeekDay, &int_type(), vec![time_column(&[a])]))[0].unwrap();
        prop_assert_eq!((days + 5) % 7, weekday);
        // The week of the year stays within 0..=53 in every mode.
        for mode in 0..8 {
            let w = ints(&eval(Sig::WeekWithMode, &int_type(), vec![time_column(&[a]), int_arg(&[Some(mode)])]))[0].unwrap();
            prop_assert!((0..=53).contains(&w), "week({:?}, {}) = {}", date, mode, w);
        }
    }
}
