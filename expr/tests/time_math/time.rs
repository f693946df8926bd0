//! DATE/TIME functions.

use super::*;

/// Cases with an expected int per date (`None`: NULL with a warning).
fn check_time_ints(sig: Sig, cases: &[(&str, Option<i64>)]) {
    let inputs: Vec<Option<&str>> = cases.iter().map(|c| Some(c.0)).chain([None]).collect();
    let mut expected: Vec<Option<i64>> = cases.iter().map(|c| c.1).collect();
    expected.push(None);
    let mut ctx = lenient();
    let got = eval_in(&mut ctx, sig, &int_type(), vec![time_arg(&inputs)]).unwrap();
    assert_eq!(ints(&got), expected, "{sig:?}");
    let nulls = cases.iter().filter(|c| c.1.is_none()).count();
    assert_eq!(ctx.warning_count(), nulls, "{sig:?}");
}

#[test]
fn weekday_dayofweek_dayofyear_weekofyear() {
    // TiKV impl_time.rs test_week_day.
    check_time_ints(
        Sig::WeekDay,
        &[
            ("2018-12-03", Some(0)),
            ("2018-12-04", Some(1)),
            ("2018-12-05", Some(2)),
            ("2018-12-06", Some(3)),
            ("2018-12-07", Some(4)),
            ("2018-12-08", Some(5)),
            ("2018-12-09", Some(6)),
            ("0000-00-00", None),
            ("2018-12-00", None),
            ("2018-00-03", None),
        ],
    );
    // TiKV test_day_of_week.
    check_time_ints(
        Sig::DayOfWeek,
        &[
            ("2018-11-11 00:00:00.000000", Some(1)),
            ("2018-11-12 00:00:00.000000", Some(2)),
            ("2018-11-13 00:00:00.000000", Some(3)),
            ("2018-11-14 00:00:00.000000", Some(4)),
            ("2018-11-15 00:00:00.000000", Some(5)),
            ("2018-11-16 00:00:00.000000", Some(6)),
            ("2018-11-17 00:00:00.000000", Some(7)),
            ("2018-11-18 00:00:00.000000", Some(1)),
            ("0000-00-00 00:00:00.000000", None),
            ("2018-11-00 00:00:00.000000", None),
            ("2018-00-11 00:00:00.000000", None),
        ],
    );
    // TiKV test_day_of_year.
    check_time_ints(
        Sig::DayOfYear,
        &[
            ("2018-11-11 00:00:00.000000", Some(315)),
            ("2018-11-12 00:00:00.000000", Some(316)),
            ("2018-11-30 00:00:00.000000", Some(334)),
            ("2018-12-31 00:00:00.000000", Some(365)),
            ("2016-12-31 00:00:00.000000", Some(366)),
            ("0000-00-00 00:00:00.000000", None),
            ("2018-11-00 00:00:00.000000", None),
            ("2018-00-11 00:00:00.000000", None),
        ],
    );
    // TiKV test_week_of_year.
    check_time_ints(
        Sig::WeekOfYear,
        &[
            ("2018-01-01", Some(1)),
            ("2018-02-28", Some(9)),
            ("2018-06-01", Some(22)),
            ("2018-07-31", Some(31)),
            ("2018-11-01", Some(44)),
            ("2018-12-30", Some(52)),
            ("2018-12-31", Some(1)),
            ("2017-01-01", Some(52)),
            ("2017-12-31", Some(52)),
            ("0000-00-00", None),
            ("2018-12-00", None),
            ("2018-00-03", None),
        ],
    );
    // TiKV test_week_without_mode.
    check_time_ints(
        Sig::WeekWithoutMode,
        &[
            ("2000-01-01", Some(0)),
            ("2008-02-20", Some(7)),
            ("2017-01-01", Some(1)),
            ("0000-00-00", None),
        ],
    );
    // TiKV test_year_week_without_mode.
    check_time_ints(
        Sig::YearWeekWithoutMode,
        &[
            ("1987-01-01", Some(198652)),
            ("2000-01-01", Some(199952)),
            ("0000-01-01", Some(1)),
            ("0000-00-00", None),
        ],
    );
}

#[test]
fn week_and_yearweek_with_mode() {
    // TiKV test_week_with_mode.
    let cases: &[(&str, i64, i64)] = &[
        ("2008-02-20 00:00:00", 1, 8),
        ("2008-12-31 00:00:00", 1, 53),
        ("2000-01-01", 0, 0),
        ("2008-02-20", 0, 7),
        ("2017-01-01", 0, 1),
        ("2017-01-01", 1, 0),
        ("2017-01-01", 2, 1),
        ("2017-01-01", 3, 52),
        ("2017-01-01", 4, 1),
        ("2017-01-01", 5, 0),
        ("2017-01-01", 6, 1),
        ("2017-01-01", 7, 52),
        ("2017-12-31", 0, 53),
        ("2017-12-31", 1, 52),
        ("2017-12-31", 2, 53),
        ("2017-12-31", 3, 52),
        ("2017-12-31", 4, 53),
        ("2017-12-31", 5, 52),
        ("2017-12-31", 6, 1),
        ("2017-12-31", 7, 52),
        ("2017-12-31", 14, 1),
    ];
    let dates: Vec<Option<&str>> = cases.iter().map(|c| Some(c.0)).collect();
    let modes: Vec<Option<i64>> = cases.iter().map(|c| Some(c.1)).collect();
    let got = eval(
        Sig::WeekWithMode,
        &int_type(),
        vec![time_arg(&dates), int_arg(&modes)],
    );
    let expected: Vec<Option<i64>> = cases.iter().map(|c| Some(c.2)).collect();
    assert_eq!(ints(&got), expected);

    // TiKV test_year_week_with_mode.
    let cases: &[(&str, i64, i64)] = &[
        ("1987-01-01", 0, 198652),
        ("2000-01-01", 0, 199952),
        ("0000-01-01", 0, 1),
        ("0000-01-01", 1, 4294967295),
        ("0000-01-01", 2, 1),
        ("0000-01-01", 3, 4294967295),
        ("0000-01-01", 4, 1),
        ("0000-01-01", 5, 4294967295),
        ("0000-01-01", 6, 1),
        ("0000-01-01", 7, 4294967295),
        ("0000-01-01", 15, 4294967295),
    ];
    let dates: Vec<Option<&str>> = cases.iter().map(|c| Some(c.0)).collect();
    let modes: Vec<Option<i64>> = cases.iter().map(|c| Some(c.1)).collect();
    let got = eval(
        Sig::YearWeekWithMode,
        &int_type(),
        vec![time_arg(&dates), int_arg(&modes)],
    );
    let expected: Vec<Option<i64>> = cases.iter().map(|c| Some(c.2)).collect();
    assert_eq!(ints(&got), expected);
    // A NULL mode is NULL.
    let got = eval(
        Sig::WeekWithMode,
        &int_type(),
        vec![time_arg(&[Some("2017-12-31")]), int_arg(&[None])],
    );
    assert_eq!(ints(&got), [None]);
}

#[test]
fn year_month_day_quarter_to_days() {
    // TiKV test_year, test_month, test_day_of_month: the zero date reads as 0.
    check_time_ints(
        Sig::Year,
        &[
            ("0000-00-00 00:00:00", Some(0)),
            ("1-01-01 01:01:01", Some(1)),
            ("2018-01-01 01:01:01", Some(2018)),
            ("2029-01-01 01:01:01", Some(2029)),
        ],
    );
    check_time_ints(
        Sig::Month,
        &[
            ("0000-00-00 00:00:00", Some(0)),
            ("2018-01-01 01:01:01", Some(1)),
            ("2018-07-01 01:01:01", Some(7)),
            ("2018-12-01 01:01:01", Some(12)),
        ],
    );
    check_time_ints(
        Sig::DayOfMonth,
        &[
            ("0000-00-00 00:00:00.000000", Some(0)),
            ("2018-02-01 00:00:00.000000", Some(1)),
            ("2018-02-15 00:00:00.000000", Some(15)),
            ("2018-02-28 00:00:00.000000", Some(28)),
            ("2016-02-29 00:00:00.000000", Some(29)),
        ],
    );
    // Under NO_ZERO_DATE the zero date is NULL with a warning, and an error when a strict
    // INSERT evaluates it.
    let mut ctx = EvalContext::new(0, 1 << 24, Tz::utc());
    let got = eval_in(
        &mut ctx,
        Sig::Year,
        &int_type(),
        vec![time_arg(&[Some("0000-00-00"), Some("2018-00-00")])],
    )
    .unwrap();
    assert_eq!(ints(&got), [None, Some(2018)]);
    assert_eq!(ctx.warnings()[0].code, 1292);
    let mut strict_insert =
        EvalContext::new(ctx_flag::IN_INSERT_STMT, (1 << 24) | (1 << 22), Tz::utc());
    assert!(eval_in(
        &mut strict_insert,
        Sig::DayOfMonth,
        &int_type(),
        vec![time_arg(&[Some("0000-00-00")])],
    )
    .is_err());
    // TiKV test_quarter.
    check_time_ints(
        Sig::Quarter,
        &[
            ("2008-04-01", Some(2)),
            ("2008-01-01", Some(1)),
            ("2008-03-31", Some(1)),
            ("2008-06-30", Some(2)),
            ("2008-07-01", Some(3)),
            ("2008-09-30", Some(3)),
            ("2008-10-01", Some(4)),
            ("2008-12-31", Some(4)),
            ("2008-00-01", Some(0)),
        ],
    );
    // TiKV test_to_days.
    check_time_ints(
        Sig::ToDays,
        &[
            ("950501", Some(728779)),
            ("2007-10-07", Some(733321)),
            ("2008-10-07", Some(733687)),
            ("08-10-07", Some(733687)),
            ("0000-01-01", Some(1)),
            ("2007-10-07 00:00:59", Some(733321)),
            ("0000-00-00 00:00:00", None),
        ],
    );
    // TiKV test_to_seconds.
    check_time_ints(
        Sig::ToSeconds,
        &[
            ("950501", Some(62966505600)),
            ("2009-11-29", Some(63426672000)),
            ("2009-11-29 13:43:32", Some(63426721412)),
            ("09-11-29 13:43:32", Some(63426721412)),
            ("99-11-29 13:43:32", Some(63111102212)),
            ("0000-00-00 00:00:00", None),
        ],
    );
}

#[test]
fn hour_minute_second_microsecond_of_durations() {
    // TiKV impl_time.rs test_hour_min_sec_micro_sec.
    let cases: &[(&str, i8, i64, i64, i64, i64)] = &[
        ("0 00:00:00.0", 0, 0, 0, 0, 0),
        ("31 11:30:45", 0, 31 * 24 + 11, 30, 45, 0),
        ("11:30:45.123345", 3, 11, 30, 45, 123000),
        ("11:30:45.123345", 5, 11, 30, 45, 123350),
        ("11:30:45.123345", 6, 11, 30, 45, 123345),
        ("11:30:45.1233456", 6, 11, 30, 45, 123346),
        ("11:30:45.000010", 6, 11, 30, 45, 10),
        ("11:30:45.00010", 5, 11, 30, 45, 100),
        ("-11:30:45.9233456", 0, 11, 30, 46, 0),
        ("-11:30:45.9233456", 1, 11, 30, 45, 900000),
        ("272:59:59.94", 2, 272, 59, 59, 940000),
        ("272:59:59.99", 1, 273, 0, 0, 0),
        ("272:59:59.99", 0, 273, 0, 0, 0),
    ];
    let inputs: Vec<Option<(&str, i8)>> = cases
        .iter()
        .map(|c| Some((c.0, c.1)))
        .chain([None])
        .collect();
    type Case<'a> = (&'a str, i8, i64, i64, i64, i64);
    type Pick = fn(&Case) -> i64;
    let columns: [(Sig, Pick); 4] = [
        (Sig::Hour, |c| c.2),
        (Sig::Minute, |c| c.3),
        (Sig::Second, |c| c.4),
        (Sig::MicroSecond, |c| c.5),
    ];
    for (sig, pick) in columns {
        let got = eval(sig, &int_type(), vec![duration_arg(&inputs)]);
        let mut expected: Vec<Option<i64>> = cases.iter().map(|c| Some(pick(c))).collect();
        expected.push(None);
        assert_eq!(ints(&got), expected, "{sig:?}");
    }
    // TiKV test_time_to_sec.
    let got = eval(
        Sig::TimeToSec,
        &int_type(),
        vec![duration_arg(&[
            Some(("31 11:30:45", 0)),
            Some(("11:30:45.123345", 3)),
            Some(("-11:30:45.1233456", 0)),
            Some(("272:59:59.14", 0)),
            None,
        ])],
    );
    assert_eq!(
        ints(&got),
        [Some(2719845), Some(41445), Some(-41445), Some(982799), None]
    );
}

#[test]
fn date_format_specifiers() {
    // TiKV impl_time.rs test_date_format.
    let cases = [
        (
            "2010-01-07 23:12:34.12345",
            "%b %M %m %c %D %d %e %j %k %h %i %p %r %T %s %f %U %u %V %v %a %W %w %X %x %Y %y %%",
            "Jan January 01 1 7th 07 7 007 23 11 12 PM 11:12:34 PM 23:12:34 34 123450 01 01 01 01 \
             Thu Thursday 4 2010 2010 2010 10 %",
        ),
        (
            "2012-12-21 23:12:34.123456",
            "%b %M %m %c %D %d %e %j %k %h %i %p %r %T %s %f %U %u %V %v %a %W %w %X %x %Y %y %%",
            "Dec December 12 12 21st 21 21 356 23 11 12 PM 11:12:34 PM 23:12:34 34 123456 51 51 \
             51 51 Fri Friday 5 2012 2012 2012 12 %",
        ),
        (
            "0000-01-01 00:00:00.123456",
            "%b %M %m %c %D %d %e %j %k %h %i %p %r %T %s %f %v %x %Y %y %%",
            "Jan January 01 1 1st 01 1 001 0 12 00 AM 12:00:00 AM 00:00:00 00 123456 52 \
             4294967295 0000 00 %",
        ),
        (
            "2016-09-3 00:59:59.123456",
            "abc%b %M %m %c %D %d %e %j %k %h %i %p %r %T %s %f %U %u %V %v %a %W %w %X %x %Y \
             %y!123 %%xyz %z",
            "abcSep September 09 9 3rd 03 3 247 0 12 59 AM 12:59:59 AM 00:59:59 59 123456 35 35 \
             35 35 Sat Saturday 6 2016 2016 2016 16!123 %xyz z",
        ),
        (
            "2012-10-01 00:00:00",
            "%b %M %m %c %D %d %e %j %k %H %i %p %r %T %s %f %v %x %Y %y %%",
            "Oct October 10 10 1st 01 1 275 0 00 00 AM 12:00:00 AM 00:00:00 00 000000 40 2012 \
             2012 12 %",
        ),
        // MySQL manual examples; a trailing lone `%` prints nothing.
        ("2009-10-04 22:23:00", "%W %M %Y", "Sunday October 2009"),
        ("2007-10-04 22:23:00", "%H:%i:%s", "22:23:00"),
        (
            "1900-10-04 22:23:00",
            "%D %y %a %d %m %b %j",
            "4th 00 Thu 04 10 Oct 277",
        ),
        (
            "1997-10-04 22:23:00",
            "%H %k %I %r %T %S %w",
            "22 22 10 10:23:00 PM 22:23:00 00 6",
        ),
        ("1999-01-01", "%X %V", "1998 52"),
        ("2006-06-01", "%d %l %%", "01 12 %"),
        ("2006-06-01", "ends with %", "ends with "),
    ];
    let dates: Vec<Option<&str>> = cases.iter().map(|c| Some(c.0)).collect();
    let layouts: Vec<Option<&str>> = cases.iter().map(|c| Some(c.1)).collect();
    let got = eval(
        Sig::DateFormatSig,
        &ft(FieldTypeTp::VarString),
        vec![time_arg(&dates), bytes_arg(&layouts)],
    );
    let expected: Vec<Option<String>> = cases.iter().map(|c| Some(c.2.to_string())).collect();
    assert_eq!(strings(&got), expected);

    // NULL in either argument is NULL; a zero month or day is NULL with a warning.
    let mut ctx = lenient();
    let got = eval_in(
        &mut ctx,
        Sig::DateFormatSig,
        &ft(FieldTypeTp::VarString),
        vec![
            time_arg(&[
                Some("2010-01-07"),
                None,
                Some("0000-00-00"),
                Some("2010-00-07"),
            ]),
            bytes_arg(&[None, Some("%Y"), Some("%Y"), Some("%Y")]),
        ],
    )
    .unwrap();
    assert_eq!(strings(&got), [None, None, None, None]);
    assert_eq!(ctx.warning_count(), 2);
    // Strict UPDATE: the invalid date is an error.
    let mut strict_update =
        EvalContext::new(ctx_flag::IN_UPDATE_OR_DELETE_STMT, 1 << 21, Tz::utc());
    assert!(eval_in(
        &mut strict_update,
        Sig::DateFormatSig,
        &ft(FieldTypeTp::VarString),
        vec![time_arg(&[Some("0000-00-00")]), bytes_arg(&[Some("%Y")])],
    )
    .is_err());
}

#[test]
fn month_and_day_names() {
    // TiKV test_month_name / test_day_name: zero parts are NULL (with a warning).
    let dates = [
        Some("2018-01-01 00:00:00.000000"),
        Some("2018-02-01 00:00:00.000000"),
        Some("2018-12-01 00:00:00.000000"),
        Some("2018-11-11 00:00:00.000000"),
        Some("0000-00-00 00:00:00.000000"),
        None,
    ];
    let got = eval(
        Sig::MonthName,
        &ft(FieldTypeTp::VarString),
        vec![time_arg(&dates)],
    );
    let mut expected = some(&["January", "February", "December", "November"]);
    expected.extend([None, None]);
    assert_eq!(strings(&got), expected);
    let got = eval(
        Sig::DayName,
        &ft(FieldTypeTp::VarString),
        vec![time_arg(&dates)],
    );
    let mut expected = some(&["Monday", "Thursday", "Saturday", "Sunday"]);
    expected.extend([None, None]);
    assert_eq!(strings(&got), expected);
}

#[test]
fn last_day_and_date_diff() {
    // TiKV impl_time.rs test_last_day.
    let mut ctx = lenient();
    let got = eval_in(
        &mut ctx,
        Sig::LastDay,
        &ft(FieldTypeTp::Date),
        vec![time_arg(&[
            Some("2011-11-11"),
            Some("2008-02-10"),
            Some("2000-02-11"),
            Some("2100-02-11"),
            Some("2011-11-11 10:10:10"),
            Some("2011-01-00 10:00:00"),
            Some("2011-12-00"),
            Some("2011-00-01 10:10:10"),
            Some("0000-00-00"),
            None,
        ])],
    )
    .unwrap();
    let mut expected = some(&[
        "2011-11-30",
        "2008-02-29",
        "2000-02-29",
        "2100-02-28",
        "2011-11-30",
        "2011-01-31",
        "2011-12-31",
    ]);
    expected.extend([None, None, None]);
    assert_eq!(times(&got), expected);
    assert_eq!(ctx.warning_count(), 2);

    // TiKV impl_time.rs test_date_diff: only the dates count, not the times.
    let cases = [
        (
            "0000-01-01 00:00:00.000000",
            "0000-01-01 00:00:00.000000",
            Some(0),
        ),
        (
            "2018-02-01 00:00:00.000000",
            "2018-02-01 00:00:00.000000",
            Some(0),
        ),
        (
            "2018-02-02 00:00:00.000000",
            "2018-02-01 00:00:00.000000",
            Some(1),
        ),
        (
            "2018-02-01 00:00:00.000000",
            "2018-02-02 00:00:00.000000",
            Some(-1),
        ),
        (
            "2018-02-02 00:00:00.000000",
            "2018-02-01 23:59:59.999999",
            Some(1),
        ),
        (
            "2018-02-01 23:59:59.999999",
            "2018-02-02 00:00:00.000000",
            Some(-1),
        ),
        // MySQL manual: DATEDIFF('2007-12-31 23:59:59','2007-12-30') = 1,
        // DATEDIFF('2010-11-30 23:59:59','2010-12-31') = -31.
        ("2007-12-31 23:59:59", "2007-12-30", Some(1)),
        ("2010-11-30 23:59:59", "2010-12-31", Some(-31)),
        ("2018-00-01", "2018-01-01", None),
    ];
    let a: Vec<Option<&str>> = cases.iter().map(|c| Some(c.0)).chain([None]).collect();
    let b: Vec<Option<&str>> = cases
        .iter()
        .map(|c| Some(c.1))
        .chain([Some("2018-01-01")])
        .collect();
    let got = eval(Sig::DateDiff, &int_type(), vec![time_arg(&a), time_arg(&b)]);
    let mut expected: Vec<Option<i64>> = cases.iter().map(|c| c.2).collect();
    expected.push(None);
    assert_eq!(ints(&got), expected);
}

#[test]
fn extract_from_datetime_every_unit() {
    // Composite units pack their fields as decimal digits, as MySQL's EXTRACT does.
    let cases = [
        ("microsecond", 123_456),
        ("SECOND", 9),
        ("MINUTE", 7),
        ("HOUR", 10),
        ("DAY", 5),
        ("WEEK", 9),
        ("MONTH", 3),
        ("QUARTER", 1),
        ("YEAR", 2024),
        ("SECOND_MICROSECOND", 9_123_456),
        ("MINUTE_MICROSECOND", 709_123_456),
        ("MINUTE_SECOND", 709),
        ("HOUR_MICROSECOND", 100_709_123_456),
        ("HOUR_SECOND", 100_709),
        ("HOUR_MINUTE", 1007),
        ("DAY_MICROSECOND", 5_100_709_123_456),
        ("DAY_SECOND", 5_100_709),
        ("DAY_MINUTE", 51007),
        ("DAY_HOUR", 510),
        ("YEAR_MONTH", 202_403),
    ];
    let units: Vec<Option<&str>> = cases.iter().map(|c| Some(c.0)).chain([None]).collect();
    let times = vec![Some("2024-03-05 10:07:09.123456"); units.len()];
    let got = eval(
        Sig::ExtractDatetime,
        &int_type(),
        vec![bytes_arg(&units), time_arg(&times)],
    );
    let mut expected: Vec<Option<i64>> = cases.iter().map(|c| Some(c.1)).collect();
    expected.push(None);
    assert_eq!(ints(&got), expected);
    let bad = eval_in(
        &mut lenient(),
        Sig::ExtractDatetime,
        &int_type(),
        vec![
            bytes_arg(&[Some("FORTNIGHT")]),
            time_arg(&[Some("2024-03-05")]),
        ],
    );
    assert!(bad.is_err());
}
