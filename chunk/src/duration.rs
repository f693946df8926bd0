//! MySQL TIME values: a signed span of at most `838:59:59`, kept as nanoseconds plus the
//! column's fractional-second precision (`fsp`). Datums and chunk columns carry the `i64`
//! nanosecond count ([`Duration::nanos`]).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use crate::error::{Error, Result};
use crate::time::{DateTime, TimeType};

const NANOS_PER_SEC: i64 = 1_000_000_000;
const MAX_HOURS: u32 = 838;
const POW10: [i64; 10] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];

/// A MySQL TIME value. Equality, ordering and hashing use the nanosecond count only.
#[derive(Clone, Copy, Debug, Default)]
pub struct Duration {
    nanos: i64,
    fsp: i8,
}

fn check_fsp(fsp: i8) -> Result<i8> {
    match fsp {
        -1 => Ok(0),
        0..=6 => Ok(fsp),
        _ => Err(Error::overflow("fsp", fsp)),
    }
}

/// Rounds half away from zero to `fsp` fractional digits, then range-checks.
fn round_nanos(nanos: i64, fsp: i8) -> Result<i64> {
    let overflow = || Error::overflow("time", format!("{nanos}ns"));
    if nanos.unsigned_abs() > (Duration::MAX_NANOS + NANOS_PER_SEC) as u64 {
        return Err(overflow());
    }
    let step = POW10[9 - fsp as usize];
    let rem = nanos % step;
    let rounded = if rem.abs() * 2 < step {
        nanos - rem
    } else {
        nanos - rem + step * nanos.signum()
    };
    if rounded.abs() > Duration::MAX_NANOS {
        return Err(overflow());
    }
    Ok(rounded)
}

impl Duration {
    /// `838:59:59` in nanoseconds, TiDB's `MaxTime` (no fraction above it is allowed; the
    /// smallest value is the negation).
    pub const MAX_NANOS: i64 = (838 * 3600 + 59 * 60 + 59) * NANOS_PER_SEC;

    /// A TIME of `nanos` nanoseconds, rounded to `fsp` digits (-1 means 0) like TiKV's
    /// `Duration::from_nanos`; out of range is `Error::Overflow`.
    pub fn from_nanos(nanos: i64, fsp: i8) -> Result<Self> {
        let fsp = check_fsp(fsp)?;
        Ok(Duration {
            nanos: round_nanos(nanos, fsp)?,
            fsp,
        })
    }

    /// The signed nanosecond count.
    pub fn nanos(&self) -> i64 {
        self.nanos
    }
    /// The fractional-second precision.
    pub fn fsp(&self) -> i8 {
        self.fsp
    }
    /// Whether the value is below zero.
    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }
    fn abs_secs(&self) -> u64 {
        self.nanos.unsigned_abs() / NANOS_PER_SEC as u64
    }
    /// Whole hours of the absolute value (0..=838).
    pub fn hours(&self) -> u32 {
        (self.abs_secs() / 3600) as u32
    }
    /// Minutes past the hour of the absolute value.
    pub fn minutes(&self) -> u32 {
        (self.abs_secs() / 60 % 60) as u32
    }
    /// Seconds past the minute of the absolute value.
    pub fn secs(&self) -> u32 {
        (self.abs_secs() % 60) as u32
    }
    /// Microseconds past the second of the absolute value.
    pub fn micros(&self) -> u32 {
        (self.nanos.unsigned_abs() % NANOS_PER_SEC as u64 / 1000) as u32
    }

    /// Parses MySQL TIME text like TiKV's `Duration::parse`: `[-][D ]HH[:MM[:SS]][.frac]`
    /// (spaces allowed around `:`), `HHMMSS[.frac]`, `MMSS`, `SS`. The fraction is rounded
    /// half away from zero to `fsp` digits. Trailing garbage is ignored while the text after the
    /// sign is shorter than 12 bytes (MySQL's truncation warning, which is not reported here).
    /// Text shaped like a datetime (`2010-02-12 12:23:34`, 12 or 14 leading digits) yields its
    /// time of day.
    pub fn parse(s: &str, fsp: i8) -> Result<Self> {
        let fsp = check_fsp(fsp)?;
        let bad = || Error::parse("time", s);
        let text = s.trim();
        let (neg, rest) = match text.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, text),
        };
        let rest = rest.trim_start_matches([' ', '\t']);
        let as_datetime = can_be_datetime(rest.as_bytes());
        let from_datetime = || {
            let t = DateTime::parse(rest, TimeType::DateTime, fsp).map_err(|_| bad())?;
            let secs = i64::from(t.hour() * 3600 + t.minute() * 60 + t.second());
            Duration::from_nanos(secs * NANOS_PER_SEC + i64::from(t.micro()) * 1000, fsp)
        };
        match parse_time_text(rest.as_bytes(), fsp) {
            None if as_datetime => from_datetime(),
            None => Err(bad()),
            Some((_, true)) if as_datetime => from_datetime(),
            Some((fields, _)) => {
                let [h, m, sec, frac] = fields;
                if m > 59 || sec > 59 {
                    return Err(bad());
                }
                if h > MAX_HOURS {
                    return Err(Error::overflow("time", s));
                }
                let abs = ((i64::from(h) * 60 + i64::from(m)) * 60 + i64::from(sec))
                    * NANOS_PER_SEC
                    + i64::from(frac);
                let nanos = round_nanos(if neg { -abs } else { abs }, fsp)
                    .map_err(|_| Error::overflow("time", s))?;
                Ok(Duration { nanos, fsp })
            }
        }
    }

    /// Rounds to `fsp` digits (half away from zero); a larger `fsp` only widens the precision.
    pub fn round_frac(&self, fsp: i8) -> Result<Self> {
        let fsp = check_fsp(fsp)?;
        if fsp >= self.fsp {
            return Ok(Duration { fsp, ..*self });
        }
        Ok(Duration {
            nanos: round_nanos(self.nanos, fsp)?,
            fsp,
        })
    }

    /// `self + rhs` with the larger fsp; out of range is `Error::Overflow`.
    pub fn checked_add(&self, rhs: &Self) -> Result<Self> {
        self.combine(self.nanos.checked_add(rhs.nanos), rhs)
    }

    /// `self - rhs` with the larger fsp; out of range is `Error::Overflow`.
    pub fn checked_sub(&self, rhs: &Self) -> Result<Self> {
        self.combine(self.nanos.checked_sub(rhs.nanos), rhs)
    }

    fn combine(&self, nanos: Option<i64>, rhs: &Self) -> Result<Self> {
        match nanos {
            Some(n) if n.abs() <= Self::MAX_NANOS => Ok(Duration {
                nanos: n,
                fsp: self.fsp.max(rhs.fsp),
            }),
            _ => Err(Error::overflow("time", format!("{self} and {rhs}"))),
        }
    }
}

fn digits(s: &[u8]) -> usize {
    s.iter().take_while(|b| b.is_ascii_digit()).count()
}

fn blanks(s: &[u8]) -> usize {
    s.iter().take_while(|b| **b == b' ' || **b == b'\t').count()
}

/// A run of digits as a `u32`, and the rest.
fn number(s: &[u8]) -> Option<(u32, &[u8])> {
    let n = digits(s);
    if n == 0 {
        return None;
    }
    let v = s[..n].iter().try_fold(0u32, |acc, b| {
        acc.checked_mul(10)?.checked_add(u32::from(b - b'0'))
    })?;
    Some((v, &s[n..]))
}

/// `HH[:MM[:SS]]`; with `need_colon` at least one `:` must follow the hours.
fn delimited(s: &[u8], need_colon: bool) -> Option<([u32; 3], &[u8])> {
    let (h, mut rest) = number(s)?;
    let mut out = [h, 0, 0];
    for (i, slot) in out.iter_mut().enumerate().skip(1) {
        let after = &rest[blanks(rest)..];
        match after.strip_prefix(b":") {
            Some(after) => {
                let (v, r) = number(&after[blanks(after)..])?;
                *slot = v;
                rest = r;
            }
            None if i == 1 && need_colon => return None,
            None => break,
        }
    }
    Some((out, rest))
}

/// Parses the syntax of a TIME: `([hours, minutes, seconds, frac nanos], truncated)`.
fn parse_time_text(s: &[u8], fsp: i8) -> Option<([u32; 4], bool)> {
    let with_day = number(s).and_then(|(day, r)| {
        let n = blanks(r);
        if n == 0 {
            return None;
        }
        let ([h, m, sec], r) = delimited(&r[n..], false)?;
        Some(([day.checked_mul(24)?.checked_add(h)?, m, sec], r))
    });
    let (hms, rest) = with_day.or_else(|| delimited(s, true)).or_else(|| {
        let (v, r) = number(s)?;
        Some(([v / 10000, v / 100 % 100, v % 100], r))
    })?;
    let mut rest = &rest[blanks(rest)..];
    let mut frac = 0u32;
    if let Some(after) = rest.strip_prefix(b".") {
        let n = digits(after);
        let take = n.min(fsp as usize + 1);
        let (v, _) = number(&after[..take])?;
        frac = v * POW10[9 - take] as u32;
        rest = &after[n..];
    }
    if !rest.is_empty() && s.len() >= 12 {
        return None;
    }
    Some(([hms[0], hms[1], hms[2], frac], !rest.is_empty()))
}

/// Whether text may be read as a datetime: 12 or 14 leading digits, or
/// `digits sep digits sep digits` followed by `T` or a space.
fn can_be_datetime(s: &[u8]) -> bool {
    let n = digits(s);
    if n == 12 || n == 14 {
        return true;
    }
    let mut rest = &s[n..];
    for _ in 0..2 {
        if n == 0 || !rest.first().is_some_and(u8::is_ascii_punctuation) {
            return false;
        }
        let m = digits(&rest[1..]);
        if m == 0 {
            return false;
        }
        rest = &rest[1 + m..];
    }
    n > 0 && matches!(rest.first(), Some(b'T' | b' '))
}

impl PartialEq for Duration {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}
impl Eq for Duration {}
impl PartialOrd for Duration {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Duration {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}
impl Hash for Duration {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.nanos.hash(state)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_negative() {
            f.write_str("-")?;
        }
        write!(
            f,
            "{:02}:{:02}:{:02}",
            self.hours(),
            self.minutes(),
            self.secs()
        )?;
        if self.fsp > 0 {
            let fsp = self.fsp as usize;
            let sub = self.nanos.unsigned_abs() % NANOS_PER_SEC as u64;
            write!(f, ".{:0w$}", sub / POW10[9 - fsp] as u64, w = fsp)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str, fsp: i8) -> Duration {
        Duration::parse(s, fsp).unwrap()
    }

    // TiKV `codec/mysql/duration.rs` `test_parse_duration` (rows that do not depend on the
    // overflow-as-warning flag).
    #[test]
    fn parse_golden() {
        let cases: &[(&str, i8, Option<&str>)] = &[
            ("10:11:12", 0, Some("10:11:12")),
            ("101112", 0, Some("10:11:12")),
            ("10:11", 0, Some("10:11:00")),
            ("101112.123456", 0, Some("10:11:12")),
            ("1112", 0, Some("00:11:12")),
            ("12", 0, Some("00:00:12")),
            ("1 12", 0, Some("36:00:00")),
            ("1 10:11:12", 0, Some("34:11:12")),
            ("1 10:11:12.123456", 0, Some("34:11:12")),
            ("1 10:11:12.123456", 4, Some("34:11:12.1235")),
            ("1 10:11:12.12", 4, Some("34:11:12.1200")),
            ("1 10:11:12.1234565", 6, Some("34:11:12.123457")),
            ("1 10:11:12.9999995", 6, Some("34:11:13.000000")),
            ("1 10:11:12.123456", 7, None),
            ("10:11:12.123456", 0, Some("10:11:12")),
            ("1 10:11", 0, Some("34:11:00")),
            ("1 10", 0, Some("34:00:00")),
            ("24 10", 0, Some("586:00:00")),
            ("-24 10", 0, Some("-586:00:00")),
            ("0 10", 0, Some("10:00:00")),
            ("-10:10:10", 0, Some("-10:10:10")),
            ("-838:59:59", 0, Some("-838:59:59")),
            ("838:59:59", 0, Some("838:59:59")),
            ("839:00:00", 0, None),
            ("-839:00:00", 0, None),
            ("23:60:59", 0, None),
            ("54:59:59", 0, Some("54:59:59")),
            ("2011-11-11 00:00:01", 0, Some("00:00:01")),
            ("20111111000001", 0, Some("00:00:01")),
            ("201112110102", 0, Some("11:01:02")),
            ("2011-11-11", 0, Some("00:20:11")),
            ("2012-08-x", 0, Some("00:20:12")),
            ("--23", 0, None),
            ("232 10", 0, None),
            ("-232 10", 0, None),
            ("00:00:00.1", 0, Some("00:00:00")),
            ("00:00:00.1", 1, Some("00:00:00.1")),
            ("00:00:00.777777", 2, Some("00:00:00.78")),
            ("00:00:00.777777", 6, Some("00:00:00.777777")),
            ("00:00:00.001", 3, Some("00:00:00.001")),
            ("0x", 6, Some("00:00:00.000000")),
            ("1x", 6, Some("00:00:01.000000")),
            ("0000-00-00", 6, Some("00:00:00.000000")),
            ("0000-00-00", 0, Some("00:00:00")),
            ("1234abc", 0, Some("00:12:34")),
            ("1234xxxxxxx", 0, Some("00:12:34")),
            ("1234xxxxxxxx", 0, None),
            ("-1234xxxxxxx", 0, Some("-00:12:34")),
            ("-1234xxxxxxxx", 0, None),
            ("1-----", 0, Some("00:00:01")),
            ("20100000-02-12", 0, None),
            ("20100-02-12", 0, Some("02:01:00")),
            ("99999-99-99", 0, None),
            ("99990000", 0, None),
            ("00-00-00", 0, Some("00:00:00")),
            ("- 1 ", 0, Some("-00:00:01")),
            ("1:2:3", 0, Some("01:02:03")),
            ("1 1:2:3", 0, Some("25:02:03")),
            ("-1 1:2:3.123", 3, Some("-25:02:03.123")),
            ("-.123", 3, None),
            ("12345", 0, Some("01:23:45")),
            ("-123", 0, Some("-00:01:23")),
            ("-23", 0, Some("-00:00:23")),
            ("- 1 1", 0, Some("-25:00:00")),
            ("-1 1", 0, Some("-25:00:00")),
            (" - 1:2:3 .123 ", 3, Some("-01:02:03.123")),
            (" - 1 :2 :3 .123 ", 3, Some("-01:02:03.123")),
            (" - 1 : 2 :3 .123 ", 3, Some("-01:02:03.123")),
            (" - 1 : 2 :  3 .123 ", 3, Some("-01:02:03.123")),
            (" - 1 .123 ", 3, Some("-00:00:01.123")),
            ("-", 0, None),
            ("a", 0, None),
            ("- .1", 0, None),
            ("", 0, None),
            ("", 7, None),
            ("1.1", 1, Some("00:00:01.1")),
            ("-1.1", 1, Some("-00:00:01.1")),
            ("- 1.1", 1, Some("-00:00:01.1")),
            ("- 1 .1", 1, Some("-00:00:01.1")),
            ("18446744073709551615:59:59", 0, None),
            ("4294967295 0:59:59", 0, None),
            ("4294967295 232:59:59", 0, None),
            ("-4294967295 232:59:59", 0, None),
            ("1::2:3", 0, Some("00:00:01")),
            ("1.23 3", 0, Some("00:00:01")),
            ("1:62:3", 0, None),
            ("1:02:63", 0, None),
            ("-231342080", 0, None),
            ("2010-02-12", 0, Some("00:20:10")),
            ("2010-02-12t12:23:34", 0, None),
            ("2010-02-12T12:23:34", 0, Some("12:23:34")),
            ("2010-02-12 12:23:34", 0, Some("12:23:34")),
            ("2010-02-12 12:23:34.12345", 6, Some("12:23:34.123450")),
            ("10-02-12 12:23:34.12345", 6, Some("12:23:34.123450")),
        ];
        for (input, fsp, expected) in cases {
            let got = Duration::parse(input, *fsp).ok().map(|d| d.to_string());
            assert_eq!(got.as_deref(), *expected, "{input:?} fsp {fsp}");
        }
    }

    // TiKV `test_hours`, `test_minutes`, `test_secs`, `test_subsec_micros`.
    #[test]
    fn parts() {
        for (s, fsp, h, m, sec, us) in [
            ("31 11:30:45", 0, 31 * 24 + 11, 30, 45, 0),
            ("-11:30:45.9233456", 0, 11, 30, 46, 0),
            ("-11:30:45.9233456", 1, 11, 30, 45, 900_000),
            ("272:59:59", 0, 272, 59, 59, 0),
            ("31 11:30:45.123", 6, 755, 30, 45, 123_000),
            ("11:30:45.123345", 3, 11, 30, 45, 123_000),
            ("11:30:45.123345", 5, 11, 30, 45, 123_350),
            ("11:30:45.1233456", 6, 11, 30, 45, 123_346),
            ("11:30:45.000010", 6, 11, 30, 45, 10),
            ("11:30:45.00010", 5, 11, 30, 45, 100),
        ] {
            let d = p(s, fsp);
            assert_eq!(
                (d.hours(), d.minutes(), d.secs(), d.micros()),
                (h, m, sec, us),
                "{s}"
            );
        }
        assert!(p("-00:00:01", 0).is_negative());
        assert_eq!(p("-00:00:01.5", 1).nanos(), -1_500_000_000);
    }

    // TiKV `test_round_frac`.
    #[test]
    fn round_frac_golden() {
        for (input, fsp, expected) in [
            ("11:30:45.123456", 4, "11:30:45.1235"),
            ("11:30:45.123456", 6, "11:30:45.123456"),
            ("11:30:45.123456", 0, "11:30:45"),
            ("11:59:59.999999", 3, "12:00:00.000"),
            ("1 11:30:45.123456", 1, "35:30:45.1"),
            ("1 11:30:45.999999", 4, "35:30:46.0000"),
            ("-1 11:30:45.999999", 0, "-35:30:46"),
            ("-1 11:59:59.9999", 2, "-36:00:00.00"),
        ] {
            assert_eq!(
                p(input, 6).round_frac(fsp).unwrap().to_string(),
                expected,
                "{input}"
            );
        }
        assert_eq!(
            p("1:00:00", 0).round_frac(3).unwrap().to_string(),
            "01:00:00.000"
        );
        assert!(p("1:00:00", 0).round_frac(7).is_err());
    }

    #[test]
    fn range() {
        let max = Duration::from_nanos(Duration::MAX_NANOS, 6).unwrap();
        assert_eq!(max.to_string(), "838:59:59.000000");
        assert_eq!(
            Duration::from_nanos(-Duration::MAX_NANOS, 0)
                .unwrap()
                .to_string(),
            "-838:59:59"
        );
        for bad in [
            Duration::MAX_NANOS + 1000,
            -Duration::MAX_NANOS - 1000,
            i64::MAX,
            i64::MIN,
        ] {
            assert!(matches!(
                Duration::from_nanos(bad, 6),
                Err(Error::Overflow { .. })
            ));
        }
        assert!(matches!(
            Duration::parse("838:59:59.999999", 6),
            Err(Error::Overflow { .. })
        ));
        assert!(matches!(
            Duration::parse("839:00:00", 0),
            Err(Error::Overflow { .. })
        ));
        // TiDB rounds first, then checks `MaxTime`.
        assert_eq!(p("838:59:59.4", 0).to_string(), "838:59:59");
        // from_nanos rounds to fsp (TiKV `Duration::from_nanos`).
        assert_eq!(
            Duration::from_nanos(1_500_000_000, 0).unwrap().to_string(),
            "00:00:02"
        );
        assert_eq!(Duration::from_nanos(-1, 6).unwrap().nanos(), 0);
        assert!(Duration::from_nanos(0, 7).is_err());
    }

    // TiKV `test_checked_add_and_sub_duration`.
    #[test]
    fn add_sub() {
        for (lhs, rhs, sum) in [
            ("11:30:45.123456", "00:00:14.876545", "11:31:00.000001"),
            ("11:30:45.123456", "00:30:00", "12:00:45.123456"),
            ("11:30:45.123456", "12:30:00", "1 00:00:45.123456"),
            ("11:30:45.123456", "1 12:30:00", "2 00:00:45.123456"),
        ] {
            let (l, r, s) = (p(lhs, 6), p(rhs, 6), p(sum, 6));
            assert_eq!(l.checked_add(&r).unwrap(), s);
            assert_eq!(s.checked_sub(&r).unwrap(), l);
        }
        let max = Duration::from_nanos(Duration::MAX_NANOS, 6).unwrap();
        assert!(p("00:00:01", 6).checked_add(&max).is_err());
        assert!(p("-00:00:01", 6).checked_sub(&max).is_err());
        assert_eq!(
            p("1:00:00", 0)
                .checked_add(&p("0:00:00.5", 3))
                .unwrap()
                .fsp(),
            3
        );
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(n in -Duration::MAX_NANOS..=Duration::MAX_NANOS, fsp in 0i8..=6) {
            let d = Duration::from_nanos(n, fsp).unwrap();
            let back = Duration::parse(&d.to_string(), fsp).unwrap();
            prop_assert_eq!(back, d);
            prop_assert_eq!(back.fsp(), fsp);
        }

        #[test]
        fn from_nanos_never_panics(n in any::<i64>(), fsp in -3i8..9) {
            if let Ok(d) = Duration::from_nanos(n, fsp) {
                prop_assert!(d.nanos().abs() <= Duration::MAX_NANOS);
                let _ = (d.to_string(), d.round_frac(0), d.checked_add(&d), d.checked_sub(&d));
            }
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,30}", s2 in "[-0-9 .:T]{0,24}", fsp in -2i8..8) {
            for text in [&s, &s2] {
                if let Ok(d) = Duration::parse(text, fsp) {
                    prop_assert!(d.nanos().abs() <= Duration::MAX_NANOS);
                }
            }
        }
    }
}
