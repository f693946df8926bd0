//! Tests of `time`: golden vectors from TiDB/TiKV tests and property tests.

use super::*;
use proptest::prelude::*;

const D: TimeType = TimeType::Date;
const DT: TimeType = TimeType::DateTime;
const TS: TimeType = TimeType::Timestamp;

fn dt(s: &str, fsp: i8) -> DateTime {
    DateTime::parse(s, DT, fsp).unwrap()
}

// Vectors from TiKV `codec/mysql/time/mod.rs` tests `test_parse_valid_datetime` and
// `test_parse_valid_timestamp` (the `round = true` rows and rows rounding cannot change;
// TiDB always rounds).
#[test]
fn parse_datetime_golden() {
    // TiDB `TestParseTimeFromFloatString` gives the `170105084059.575601` row; the last two
    // rows are the brief's rounding example (`ParseFrac` rounds half up).
    let cases = "\
2019-09-16 10:11:12|20190916101112|0
2019-09-16 10:11:12|190916101112|0
2019-09-16 10:11:01|19091610111|0
2019-09-16 10:11:00|1909161011|0
2019-09-16 10:01:00|190916101|0
1909-12-10 00:00:00|19091210|0
2020-02-29 10:00:00|20200229100000|0
2019-09-16 01:00:00|1909161|0
2019-09-16 00:00:00|190916|0
2019-09-01 00:00:00|19091|0
2019-09-16 10:11:12.111|190916101112.111|3
2019-09-16 10:11:12.111|20190916101112.111|3
2019-09-16 10:11:12.67|20190916101112.666|2
2019-09-16 10:11:13.0|20190916101112.999|1
2019-09-16 00:00:00|2019-09-16|0
2019-09-16 10:11:12|2019-09-16T10:11:12|0
2019-09-16 10:11:12.7|2019-09-16T10:11:12.66|1
2019-09-16 10:11:13.0|2019-09-16T10:11:12.99|1
2020-01-01 00:00:00.0|2019-12-31 23:59:59.99|1
2013-05-28 05:12:00|1305280512.000000000000|0
2013-05-28 05:12:00|1305280512|0
2020-01-01 00:00:00.0|    2019-12-31 23:59:59.99   |1
0000-00-00 00:00:00|00:00:00|0
2020-12-23 15:59:10|2020--12+-23 15:^59:-10|0
1970-01-01 12:13:09|1970-1-1 12:13:9|0
1970-01-01 09:08:09|1970-1-1 9:8:9|0
2017-01-05 08:40:59.575601|170105084059.575601|6
2017-01-05 08:40:59.57560|2017-01-05 08:40:59.575601|5
2017-01-05 08:41:00|2017-01-05 08:40:59.575601|0";
    let cases = cases.lines().map(|l| {
        let f: Vec<&str> = l.split('|').collect();
        (f[0], f[1], f[2].parse::<i8>().unwrap())
    });
    for (expected, input, fsp) in cases {
        assert_eq!(dt(input, fsp).to_string(), expected, "{input}");
        let year: u32 = expected[..4].parse().unwrap();
        if (1970..=2037).contains(&year) {
            let ts = DateTime::parse(input, TS, fsp).unwrap();
            assert_eq!(ts.to_string(), expected, "timestamp {input}");
        }
    }
    // Zone suffixes, from the same TiKV test (session zone UTC).
    for (expected, input) in [
        ("2020-12-23 15:59:23", "2020-12-23 15:59:23Z"),
        ("2020-12-23 07:59:23", "2020-12-23 15:59:23+0800"),
        ("2020-12-23 23:59:23", "2020-12-23 15:59:23-08"),
        ("2020-12-23 07:59:23", "2020-12-23 15:59:23+08:00"),
        ("2022-06-02 11:59:30", "2022-06-02 11:59:30.123Z"),
        ("2022-06-02 03:59:30", "2022-06-02 11:59:30.123+0800"),
        ("2022-06-02 19:59:30", "2022-06-02 11:59:30.123-08"),
        ("2022-06-02 03:29:30", "2022-06-02 11:59:30.123+08:30"),
    ] {
        let t = DateTime::parse_in_tz(input, DT, 0, &Tz::utc()).unwrap();
        assert_eq!(t.to_string(), expected, "{input}");
        assert!(DateTime::parse(input, DT, 0).is_err());
    }
}

// TiKV `test_parse_valid_date` (plus a 1-digit-month DATE) and its failing rows.
#[test]
fn parse_date_golden_and_failures() {
    for (expected, input) in [
        ("2019-09-16", "20190916101112"),
        ("2019-09-16", "19091610111"),
        ("1909-12-10", "19091210"),
        ("2019-09-01", "19091"),
        ("2019-09-16", "20190916101112.999"),
        ("2019-09-16", "19-09-16 10:11:12"),
        ("2019-12-31", "2019*12&31T23(59)59.499999"),
        // TiKV keeps 2019-12-31 here (it parses DATE without rounding); TiDB rounds the
        // fraction at fsp 0 and carries into the next day before dropping the time.
        ("2020-01-01", "2019.12.31 \t  23.59-59.999"),
        ("2013-05-28", "1305280512.000000000000"),
        ("0000-00-00", "00:00:00"),
        ("2019-02-01", "2019-2-1"),
    ] {
        let d = DateTime::parse(input, D, 6).unwrap();
        assert_eq!(
            (d.to_string().as_str(), d.fsp(), d.hour()),
            (expected, 0, 0),
            "{input}"
        );
    }
    let bad = "11-12-13 T 12:34:56|11:12:13 T12:34:56|11:12:13T25:34:56.12|2011-12-13t12:34:56.12|11:12:13T23:61:56.12|11:12:13T23:59:89.12|11121311121.1|1201012736|1201012736.0|111213111.1|11121311.1|1112131.1|111213.1|11121.1|1112|abc|2019-02-30|2019-13-01|2019-04-31|10000-01-01|2019-12-31 23:59:59+15:00|2019-12-31 23:59:59-00:00|2019-01-01 00:00:00.123:4|2019-12-31 24:00:00|99999999999999999999|2019-01-01 é";
    for bad in bad.split('|').chain(["", "   "]) {
        assert!(DateTime::parse(bad, DT, 2).is_err(), "{bad:?}");
    }
    // Rounding into an impossible day fails instead of inventing a date.
    assert!(DateTime::parse("2012-01-00 23:59:59.9", DT, 0).is_err());
    assert!(DateTime::parse("2019-01-01", DT, 7).is_err());
    assert_eq!(dt("2019-00-10", 0).to_string(), "2019-00-10 00:00:00");
    assert!(DateTime::parse("2019-00-10", TS, 0).is_err());
    assert!(DateTime::parse("1900-01-01", TS, 0).is_err());
}

#[test]
fn new_validates() {
    assert!(DateTime::new(2019, 2, 30, 0, 0, 0, 0, DT, 0).is_err());
    assert!(DateTime::new(2020, 2, 29, 23, 59, 59, 999_999, DT, 6).is_ok());
    assert!(DateTime::new(2019, 1, 1, 24, 0, 0, 0, DT, 0).is_err());
    assert!(DateTime::new(2019, 1, 1, 0, 0, 0, 1_000_000, DT, 6).is_err());
    assert!(DateTime::new(2019, 1, 1, 0, 0, 0, 0, DT, 9).is_err());
    let d = DateTime::new(2019, 1, 2, 3, 4, 5, 6, D, 6).unwrap();
    assert_eq!(
        (d.to_string(), d.fsp(), d.micro()),
        ("2019-01-02".into(), 0, 0)
    );
    let z = DateTime::new(0, 0, 0, 0, 0, 0, 0, TS, -1).unwrap();
    assert!(z.is_zero());
    assert_eq!(DateTime::zero(DT, 3).to_string(), "0000-00-00 00:00:00.000");
    assert_eq!(DateTime::zero(D, 3).to_string(), "0000-00-00");
}

// TiKV `test_round_frac`, plus TiDB's `2017-01-05 08:40:59.575601` example.
#[test]
fn round_frac_golden() {
    let cases = "\
121231113045.123345|6|2012-12-31 11:30:45.123345
121231113045.999999|6|2012-12-31 11:30:45.999999
121231113045.999999|5|2012-12-31 11:30:46.00000
2012-12-31 11:30:45.123456|4|2012-12-31 11:30:45.1235
2012-12-31 11:30:45.123456|0|2012-12-31 11:30:45
2012-12-31 11:30:45.9|0|2012-12-31 11:30:46
2012-12-31 11:30:45.123456|1|2012-12-31 11:30:45.1
2012-12-31 11:30:45.999999|4|2012-12-31 11:30:46.0000
2012-12-31 23:59:59.999999|0|2013-01-01 00:00:00
2012-12-31 23:59:59.999999|3|2013-01-01 00:00:00.000
2012-00-00 11:30:45.999999|3|2012-00-00 11:30:46.000
2012-01-00 23:59:59.999999|3|0000-00-00 00:00:00.000
2017-01-05 08:40:59.575601|5|2017-01-05 08:40:59.57560";
    for row in cases.lines() {
        let f: Vec<&str> = row.split('|').collect();
        let t = dt(f[0], 6).round_frac(f[1].parse().unwrap()).unwrap();
        assert_eq!(t.to_string(), f[2], "{row}");
    }
    let invalid = DateTime::from_packed_u64(
        dt("2012-04-30 23:59:59.999999", 6).to_packed_u64() + (1 << 41),
        DT,
        6,
    )
    .unwrap();
    assert_eq!(invalid.to_string(), "2012-04-31 23:59:59.999999");
    assert_eq!(
        invalid.round_frac(3).unwrap().to_string(),
        "0000-00-00 00:00:00.000"
    );
    assert_eq!(
        dt("2012-12-31 11:30:45.1", 1)
            .round_frac(3)
            .unwrap()
            .to_string(),
        "2012-12-31 11:30:45.100"
    );
}

#[test]
fn packed_golden() {
    // TiDB types test `TestToPackedUint` / `TestFromPackedUint`.
    let t = DateTime::new(2004, 1, 1, 1, 11, 1, 0, DT, 0).unwrap();
    assert_eq!(t.to_packed_u64(), 1_833_319_171_631_349_760);
    assert_eq!(
        DateTime::from_packed_u64(1_833_319_171_631_349_760, DT, 0).unwrap(),
        t
    );
    assert_eq!(DateTime::zero(DT, 0).to_packed_u64(), 0);
    assert!(DateTime::from_packed_u64(0, D, 0).unwrap().is_zero());
    // hour 31 and a DATE carrying a time of day are rejected.
    assert!(DateTime::from_packed_u64(t.to_packed_u64() | (31 << 36), DT, 0).is_err());
    assert!(DateTime::from_packed_u64(t.to_packed_u64(), D, 0).is_err());
    assert!(DateTime::from_packed_u64(u64::MAX, DT, 0).is_err());
}

// Chunk words computed from the CoreTime layout of TiDB `pkg/types/time.go` (bit offsets,
// `fspTtForDate = 0b1110`, `fsp << 1 | 1` for TIMESTAMP), same as TiKV's `Time` bitfield.
#[test]
fn chunk_golden() {
    let cases = [
        ("2004-01-01 01:11:01", DT, 0, 0x1f50_4212_c100_0000u64),
        ("2019-09-16 10:11:12.123456", TS, 6, 0x1f8e_60a2_cc1e_240d),
        ("2019-12-31", D, 0, 0x1f8f_3e00_0000_000e),
        ("2012-12-31 11:30:45.123", DT, 3, 0x1f73_3eb7_ad1e_0786),
    ];
    for (s, tp, fsp, word) in cases {
        let t = DateTime::parse(s, tp, fsp).unwrap();
        assert_eq!(t.to_chunk_u64(), word, "{s}");
        let back = DateTime::from_chunk_u64(word).unwrap();
        assert_eq!(
            (back, back.time_type(), back.fsp(), back.to_string()),
            (t, tp, fsp, s.to_string())
        );
    }
    assert_eq!(DateTime::zero(D, 0).to_chunk_u64(), 0b1110);
    assert!(DateTime::from_chunk_u64(0b1111).is_err());
    assert!(DateTime::from_chunk_u64(0x1f50_4212_c100_000e).is_err());
}

#[test]
fn time_zones() {
    let sh = Tz::from_dag("Asia/Shanghai", 0).unwrap();
    let ny = Tz::from_dag("America/New_York", 0).unwrap();
    let utc = Tz::utc();
    let ts = |s: &str| DateTime::parse(s, TS, 0).unwrap();
    let conv = |s: &str, from: &Tz, to: &Tz| ts(s).convert_tz(from, to).map(|t| t.to_string());
    let fixed8 = Tz::Offset(8 * 3600);
    for (input, from, to, expected) in [
        (
            "2019-09-16 10:11:12",
            &sh,
            &utc,
            Some("2019-09-16 02:11:12"),
        ),
        (
            "2019-09-16 02:11:12",
            &utc,
            &sh,
            Some("2019-09-16 10:11:12"),
        ),
        (
            "2019-09-16 10:11:12",
            &fixed8,
            &utc,
            Some("2019-09-16 02:11:12"),
        ),
        // DST gap: TiKV `test_allow_invalid_timestamp` rejects 2019-03-10 02:00:00 New York.
        ("2019-03-10 02:00:00", &ny, &utc, None),
        ("2019-03-10 02:30:00", &ny, &utc, None),
        (
            "2019-03-10 03:00:00",
            &ny,
            &utc,
            Some("2019-03-10 07:00:00"),
        ),
        // DST overlap: 01:30 happens twice; the first occurrence (EDT, UTC-4) is taken.
        (
            "2019-11-03 01:30:00",
            &ny,
            &utc,
            Some("2019-11-03 05:30:00"),
        ),
        (
            "2019-11-03 06:30:00",
            &utc,
            &ny,
            Some("2019-11-03 01:30:00"),
        ),
        (
            "2019-11-03 05:59:59",
            &utc,
            &ny,
            Some("2019-11-03 01:59:59"),
        ),
    ] {
        assert_eq!(conv(input, from, to).ok().as_deref(), expected, "{input}");
    }
    assert!(ts("0000-00-00").convert_tz(&sh, &utc).unwrap().is_zero());
    let late = DateTime::new(9999, 12, 31, 23, 0, 0, 0, DT, 0).unwrap();
    assert!(late.convert_tz(&utc, &sh).is_err());
    // parse_in_tz range check (TIMESTAMP is 1970 .. 2038-01-19 03:14:07 UTC).
    assert!(DateTime::parse_in_tz("2038-01-19 03:14:07", TS, 0, &utc).is_ok());
    assert!(DateTime::parse_in_tz("2038-01-19 03:14:08", TS, 0, &utc).is_err());
    assert!(DateTime::parse_in_tz("1970-01-01 07:59:59", TS, 0, &sh).is_err());
    assert!(DateTime::parse_in_tz("2019-03-10 02:30:00", TS, 0, &ny).is_err());
    // from_dag: name wins, else offset; unknown names and huge offsets fail.
    assert_eq!(Tz::from_dag("", -3600).unwrap(), Tz::Offset(-3600));
    assert_eq!(Tz::from_dag("UTC", 3600).unwrap(), Tz::utc());
    assert!(Tz::from_dag("Mars/Olympus", 0).is_err());
    assert!(Tz::from_dag("", 86_400).is_err());
    assert!(Tz::from_dag("System", 0).is_ok());
}

#[test]
fn weekday_and_day_of_year() {
    // TiKV `test_weekday` (0 = Monday): Sat, Wed, Sat, Fri.
    let raw = |y: u64, m: u64, d: u64| {
        DateTime::from_packed_u64(((y * 13 + m) << 5 | d) << 41, D, 0).unwrap()
    };
    assert_eq!(raw(2019, 10, 12).weekday(), 5);
    assert_eq!(raw(2019, 4, 31).weekday(), 2);
    assert_eq!(raw(0, 1, 1).weekday(), 5);
    assert_eq!(raw(0, 1, 0).weekday(), 4);
    // TiDB `TestFromDate`: 2004-01-01 is a Thursday and day 1 of its year.
    assert_eq!(raw(2004, 1, 1).weekday(), 3);
    assert_eq!(raw(2004, 1, 1).day_of_year(), 1);
    assert_eq!(raw(2004, 0, 1).day_of_year(), 0);
    assert_eq!(raw(2004, 12, 31).day_of_year(), 366);
}

#[test]
fn ordering_ignores_fsp_and_type() {
    // TiKV `test_compare`.
    assert_eq!(
        dt("2019-03-17 12:13:14.11", 6),
        dt("2019-03-17 12:13:14.11", 2)
    );
    assert!(dt("2019-4-1 1:2:3", 6) > dt("2019-3-31 23:59:59", 6));
    assert!(dt("2019-09-16 1:2:3", 6) < dt("2019-10-01 1:2:1", 6));
    assert_eq!(
        DateTime::parse("2019-01-01", D, 0).unwrap(),
        dt("2019-01-01", 0)
    );
}

fn valid() -> impl Strategy<Value = DateTime> {
    (
        0u32..=9999,
        1u32..=12,
        1u32..=31,
        0u32..24,
        0u32..60,
        0u32..60,
        0u32..1_000_000,
        0i8..=6,
        0u8..3,
    )
        .prop_map(|(y, mo, d, h, mi, s, us, fsp, tp)| {
            let tp = [D, DT, TS][tp as usize];
            let tp = if tp == TS && !(1970..=2037).contains(&y) {
                DT
            } else {
                tp
            };
            DateTime::new(y, mo, d.min(last_day(y, mo)), h, mi, s, us, tp, fsp).unwrap()
        })
}

proptest! {
    #[test]
    fn packed_round_trip(t in valid()) {
        let back = DateTime::from_packed_u64(t.to_packed_u64(), t.time_type(), t.fsp()).unwrap();
        prop_assert_eq!(back, t);
    }

    #[test]
    fn chunk_round_trip(t in valid()) {
        let back = DateTime::from_chunk_u64(t.to_chunk_u64()).unwrap();
        prop_assert_eq!((back, back.fsp(), back.time_type()), (t, t.fsp(), t.time_type()));
    }

    #[test]
    fn packed_order_is_time_order(a in valid(), b in valid()) {
        prop_assert_eq!(a.to_packed_u64().cmp(&b.to_packed_u64()), a.cmp(&b));
    }

    #[test]
    fn display_parse_round_trip(t in valid()) {
        let back = DateTime::parse(&t.to_string(), t.time_type(), t.fsp()).unwrap();
        prop_assert_eq!(back.to_string(), t.to_string());
    }

    #[test]
    fn decoders_never_panic(v in any::<u64>(), fsp in -2i8..9, tp in 0u8..3) {
        let tp = [D, DT, TS][tp as usize];
        if let Ok(t) = DateTime::from_chunk_u64(v) { prop_assert_eq!(t.to_chunk_u64(), v); }
        if let Ok(t) = DateTime::from_packed_u64(v, tp, fsp) {
            prop_assert_eq!(t.to_packed_u64(), v);
            let _ = (t.to_string(), t.weekday(), t.day_of_year(), t.round_frac(0));
            let _ = t.convert_tz(&Tz::utc(), &Tz::Offset(-50_000));
        }
    }

    #[test]
    fn parse_never_panics(s in "\\PC{0,40}", s2 in "[0-9 .:T+Z-]{0,30}", fsp in -2i8..9) {
        let _ = DateTime::parse(&s, DT, fsp);
        let _ = DateTime::parse_in_tz(&s2, TS, fsp, &Tz::utc());
        let _ = DateTime::parse(&s2, D, fsp);
    }
}
