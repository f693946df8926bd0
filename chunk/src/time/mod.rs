//! MySQL DATE / DATETIME / TIMESTAMP values as TiDB represents them.
//!
//! A [`DateTime`] keeps the broken-down fields (year .. microsecond) plus the column's
//! fractional-second precision (`fsp`) and its [`TimeType`]. Two binary forms are supported:
//!
//! * the *packed* `u64` of TiDB's datum / row codecs (`ToPackedUint` / `FromPackedUint`):
//!   `ymd = ((year * 13 + month) << 5) | day`, `hms = hour << 12 | minute << 6 | second`,
//!   `packed = ((ymd << 17) | hms) << 24 | micro`;
//! * the *chunk* `u64`, i.e. TiDB's in-memory `CoreTime` word written little-endian into chunk
//!   columns: year in bits 63..50, month 49..46, day 45..41, hour 40..36, minute 35..30,
//!   second 29..24, microsecond 23..4 and a 4-bit tag in bits 3..0. The tag is `0b1110` for
//!   DATE, otherwise `fsp << 1` with the low bit set for TIMESTAMP.
//!
//! TIMESTAMP values are stored in UTC; [`DateTime::convert_tz`] moves them between UTC and the
//! session zone. The conversion follows TiDB's `ConvertTimeZone`: a zero value stays zero, a
//! local time falling into a DST gap is an error, and a local time that occurs twice (DST
//! overlap) is read as its first occurrence (the earlier instant).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use chrono::{
    Datelike, Days, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike,
};

use crate::error::{Error, Result};

const MAX_YEAR: u32 = 9999;
const MAX_MICRO: u32 = 999_999;
const TAG_DATE: u64 = 0b1110;
const POW10: [u32; 8] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000];
/// Unix seconds of the last valid TIMESTAMP second, `2038-01-19 03:14:07` UTC.
const MAX_TIMESTAMP_SECS: i64 = (1 << 31) - 1;

/// Which of DATE, DATETIME, TIMESTAMP a value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum TimeType {
    /// DATE: no time of day, fsp always 0.
    Date,
    /// DATETIME.
    #[default]
    DateTime,
    /// TIMESTAMP (stored in UTC, shown in the session zone).
    Timestamp,
}

/// A time zone as a coprocessor request carries it.
#[derive(Clone, Debug, PartialEq)]
pub enum Tz {
    /// A fixed offset, in seconds east of UTC.
    Offset(i32),
    /// A zone of the IANA database.
    Named(chrono_tz::Tz),
}

impl Tz {
    /// UTC.
    pub fn utc() -> Self {
        Tz::Named(chrono_tz::UTC)
    }

    /// The zone of a tipb `DAGRequest`, interpreted like TiKV's `EvalConfig::from_request`: a
    /// non-empty `time_zone_name` wins (an IANA name, matched exactly; `System`/`Local` in any
    /// case means this machine's zone), otherwise `time_zone_offset` seconds east of UTC.
    ///
    /// The machine zone is taken from `$TZ`, the `/etc/localtime` link or `/etc/timezone`;
    /// when none names an IANA zone, the current local offset is used as a fixed offset.
    pub fn from_dag(name: &str, offset_secs: i64) -> Result<Self> {
        if name.is_empty() {
            return match i32::try_from(offset_secs) {
                Ok(secs) if FixedOffset::east_opt(secs).is_some() => Ok(Tz::Offset(secs)),
                _ => Err(Error::overflow("time zone offset", offset_secs)),
            };
        }
        if name.eq_ignore_ascii_case("system") || name.eq_ignore_ascii_case("local") {
            return Ok(system_zone());
        }
        chrono_tz::Tz::from_str(name)
            .map(Tz::Named)
            .map_err(|_| Error::parse("time zone", name))
    }
}

fn system_zone() -> Tz {
    let from_name = |s: &str| chrono_tz::Tz::from_str(s.trim().trim_start_matches(':')).ok();
    if let Some(tz) = std::env::var("TZ").ok().as_deref().and_then(from_name) {
        return Tz::Named(tz);
    }
    if let Ok(target) = std::fs::read_link("/etc/localtime") {
        let target = target.to_string_lossy().into_owned();
        if let Some(tz) = target.split("zoneinfo/").nth(1).and_then(from_name) {
            return Tz::Named(tz);
        }
    }
    if let Some(tz) = std::fs::read_to_string("/etc/timezone")
        .ok()
        .as_deref()
        .and_then(from_name)
    {
        return Tz::Named(tz);
    }
    Tz::Offset(chrono::Local::now().offset().local_minus_utc())
}

/// A MySQL DATE, DATETIME or TIMESTAMP value.
///
/// Equality, ordering and hashing look at the instant only (year .. microsecond), not at the
/// precision or the type, like TiDB's `Compare`.
#[derive(Clone, Copy, Debug, Default)]
pub struct DateTime {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    micro: u32,
    fsp: i8,
    tp: TimeType,
}

fn check_fsp(fsp: i8) -> Result<i8> {
    match fsp {
        -1 => Ok(0),
        0..=DateTime::MAX_FSP => Ok(fsp),
        _ => Err(Error::overflow("fsp", fsp)),
    }
}

fn is_leap_year(year: u32) -> bool {
    i32::try_from(year).is_ok_and(|y| NaiveDate::from_ymd_opt(y, 2, 29).is_some())
}

/// Days in `month` (1..=12); 31 for the zero month, as MySQL checks it.
fn last_day(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 31,
    }
}

/// `[year, month, day, hour, minute, second, micro]`.
type Parts = [u32; 7];

fn parts_text(p: &Parts) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
        p[0], p[1], p[2], p[3], p[4], p[5], p[6]
    )
}

/// Field ranges every stored value satisfies (zero parts and days past the month's end, as
/// `ALLOW_INVALID_DATES` can store them, are let through).
fn check_ranges(p: &Parts, what: &'static str) -> Result<()> {
    let limits = [MAX_YEAR, 12, 31, 23, 59, 59, MAX_MICRO];
    if p.iter().zip(limits).any(|(v, max)| *v > max) {
        return Err(Error::corrupted(
            what,
            format!("field out of range: {}", parts_text(p)),
        ));
    }
    Ok(())
}

/// Adds one second (the carry of rounding) to `p`. Like TiDB/TiKV, a carry into a zero day,
/// month or year, or out of a day past the month's end, is invalid.
fn carry_second(p: &mut Parts) -> Option<()> {
    p[5] += 1;
    if p[5] < 60 {
        return Some(());
    }
    p[5] = 0;
    p[4] += 1;
    if p[4] < 60 {
        return Some(());
    }
    p[4] = 0;
    p[3] += 1;
    if p[3] < 24 {
        return Some(());
    }
    p[3] = 0;
    if p[2] == 0 || p[2] > last_day(p[0], p[1]) {
        return None;
    }
    p[2] += 1;
    if p[2] <= last_day(p[0], p[1]) {
        return Some(());
    }
    p[2] = 1;
    if p[1] == 0 {
        return None;
    }
    p[1] += 1;
    if p[1] <= 12 {
        return Some(());
    }
    p[1] = 1;
    if p[0] == 0 || p[0] >= MAX_YEAR {
        return None;
    }
    p[0] += 1;
    Some(())
}

/// Rounds a microsecond count half-up to `fsp` digits; `true` when it carries into a second.
fn round_micro(micro: u32, fsp: i8) -> (bool, u32) {
    let step = POW10[6 - fsp as usize];
    let rounded = (micro + step / 2) / step * step;
    if rounded > MAX_MICRO {
        (true, 0)
    } else {
        (false, rounded)
    }
}

impl DateTime {
    /// The largest fractional-second precision.
    pub const MAX_FSP: i8 = 6;

    fn parts(&self) -> Parts {
        [
            u32::from(self.year),
            u32::from(self.month),
            u32::from(self.day),
            u32::from(self.hour),
            u32::from(self.minute),
            u32::from(self.second),
            self.micro,
        ]
    }

    /// Builds a value from already range-checked parts; DATE drops the time of day.
    fn from_parts(p: &Parts, tp: TimeType, fsp: i8) -> Self {
        let date = tp == TimeType::Date;
        let time = |v: u32| if date { 0 } else { v as u8 };
        DateTime {
            year: p[0] as u16,
            month: p[1] as u8,
            day: p[2] as u8,
            hour: time(p[3]),
            minute: time(p[4]),
            second: time(p[5]),
            micro: if date { 0 } else { p[6] },
            fsp: if date { 0 } else { fsp },
            tp,
        }
    }

    /// Validates like MySQL's default mode and builds a value: year <= 9999, month <= 12,
    /// day within its month, hour <= 23, minute/second <= 59, micro <= 999999. Zero parts are
    /// allowed (`0000-00-00`, `2019-00-10`) except in a non-zero TIMESTAMP, which must be a real
    /// date in years 1969..=2038 (the exact range depends on the zone; see
    /// [`DateTime::parse_in_tz`]). DATE values drop the time of day. `fsp` -1 means 0.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        year: u32,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
        micro: u32,
        tp: TimeType,
        fsp: i8,
    ) -> Result<Self> {
        Self::checked(&[year, month, day, hour, minute, second, micro], tp, fsp)
    }

    fn checked(p: &Parts, tp: TimeType, fsp: i8) -> Result<Self> {
        let fsp = check_fsp(fsp)?;
        let invalid = || Error::parse("datetime", parts_text(p));
        check_ranges(p, "datetime").map_err(|_| invalid())?;
        if p[1] != 0 && p[2] > last_day(p[0], p[1]) {
            return Err(invalid());
        }
        let t = Self::from_parts(p, tp, fsp);
        if tp == TimeType::Timestamp
            && !t.is_zero()
            && (p[1] == 0 || p[2] == 0 || !(1969..=2038).contains(&p[0]))
        {
            return Err(Error::overflow("timestamp", parts_text(p)));
        }
        Ok(t)
    }

    /// The zero value `0000-00-00 00:00:00` of a type.
    pub fn zero(tp: TimeType, fsp: i8) -> Self {
        let fsp = if tp == TimeType::Date {
            0
        } else {
            fsp.clamp(0, Self::MAX_FSP)
        };
        DateTime {
            tp,
            fsp,
            ..DateTime::default()
        }
    }

    /// Parses MySQL date/time text: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS[.frac]` (any run of
    /// punctuation as separator, whitespace or `T` between date and time), `YYYYMMDD`,
    /// `YYYYMMDDHHMMSS[.frac]`, the 2-digit-year variants (`00..69` -> 20xx, `70..99` -> 19xx).
    /// The fraction is rounded half-up to `fsp` digits, carrying into the seconds as TiDB's
    /// `ParseFrac` does. Text with a zone suffix (`Z`, `+08:00`) needs [`DateTime::parse_in_tz`].
    pub fn parse(s: &str, tp: TimeType, fsp: i8) -> Result<Self> {
        let (t, offset) = parse_text(s, tp, fsp)?;
        if offset.is_some() {
            return Err(Error::Unsupported(format!(
                "time zone suffix in {s:?} needs parse_in_tz"
            )));
        }
        Ok(t)
    }

    /// Like [`DateTime::parse`] for a session in zone `tz`: a zone suffix is converted into
    /// `tz` (as TiDB does), and a TIMESTAMP is checked to lie within
    /// `1970-01-01 00:00:00` ..= `2038-01-19 03:14:07.999999` UTC and not in a DST gap.
    pub fn parse_in_tz(s: &str, tp: TimeType, fsp: i8, tz: &Tz) -> Result<Self> {
        let (mut t, offset) = parse_text(s, tp, fsp)?;
        if let Some(secs) = offset {
            let fields = t.convert_tz(&Tz::Offset(secs), tz)?;
            t = Self::checked(&fields.parts(), tp, t.fsp)?;
        }
        if tp == TimeType::Timestamp && !t.is_zero() {
            let utc = t.convert_tz(tz, &Tz::utc())?;
            let secs = utc.to_naive()?.and_utc().timestamp();
            if !(0..=MAX_TIMESTAMP_SECS).contains(&secs) {
                return Err(Error::overflow("timestamp", s));
            }
        }
        Ok(t)
    }

    /// The year (0..=9999).
    pub fn year(&self) -> u32 {
        u32::from(self.year)
    }
    /// The month (0..=12).
    pub fn month(&self) -> u32 {
        u32::from(self.month)
    }
    /// The day of the month (0..=31).
    pub fn day(&self) -> u32 {
        u32::from(self.day)
    }
    /// The hour (0..=23).
    pub fn hour(&self) -> u32 {
        u32::from(self.hour)
    }
    /// The minute (0..=59).
    pub fn minute(&self) -> u32 {
        u32::from(self.minute)
    }
    /// The second (0..=59).
    pub fn second(&self) -> u32 {
        u32::from(self.second)
    }
    /// The microsecond (0..=999999).
    pub fn micro(&self) -> u32 {
        self.micro
    }
    /// The fractional-second precision (0 for DATE).
    pub fn fsp(&self) -> i8 {
        self.fsp
    }
    /// DATE, DATETIME or TIMESTAMP.
    pub fn time_type(&self) -> TimeType {
        self.tp
    }
    /// Whether this is `0000-00-00 00:00:00`.
    pub fn is_zero(&self) -> bool {
        self.parts() == [0; 7]
    }

    /// Rounds the fraction half-up to `fsp` digits (a larger `fsp` only widens the precision).
    /// DATE and zero values are returned unchanged. When the carry lands on an invalid date
    /// (`2012-04-31 23:59:59.9`), the result is the zero value, as in TiKV.
    pub fn round_frac(&self, fsp: i8) -> Result<Self> {
        let fsp = check_fsp(fsp)?;
        if self.tp == TimeType::Date || self.is_zero() {
            return Ok(*self);
        }
        if fsp > self.fsp {
            return Ok(DateTime { fsp, ..*self });
        }
        let mut p = self.parts();
        let (carry, micro) = round_micro(p[6], fsp);
        p[6] = micro;
        if carry && carry_second(&mut p).is_none() {
            return Ok(Self::zero(self.tp, fsp));
        }
        Ok(Self::from_parts(&p, self.tp, fsp))
    }

    /// The packed form of TiDB's datum and row codecs (`Time.ToPackedUint`). No zone
    /// conversion happens here: convert a TIMESTAMP to UTC first.
    pub fn to_packed_u64(&self) -> u64 {
        let ymd = ((u64::from(self.year) * 13 + u64::from(self.month)) << 5) | u64::from(self.day);
        let hms =
            (u64::from(self.hour) << 12) | (u64::from(self.minute) << 6) | u64::from(self.second);
        (((ymd << 17) | hms) << 24) | u64::from(self.micro)
    }

    /// Decodes [`DateTime::to_packed_u64`] for a column of type `tp` and precision `fsp`.
    /// Every field is range-checked; a DATE must have no time of day.
    pub fn from_packed_u64(packed: u64, tp: TimeType, fsp: i8) -> Result<Self> {
        const WHAT: &str = "packed datetime";
        let fsp = check_fsp(fsp)?;
        let ymdhms = packed >> 24;
        let ymd = ymdhms >> 17;
        let ym = ymd >> 5;
        let hms = ymdhms & ((1 << 17) - 1);
        let year = ym / 13;
        if year > u64::from(MAX_YEAR) {
            return Err(Error::corrupted(
                WHAT,
                format!("year {year} in {packed:#x}"),
            ));
        }
        let p: Parts = [
            year as u32,
            (ym % 13) as u32,
            (ymd & 0x1f) as u32,
            (hms >> 12) as u32,
            ((hms >> 6) & 0x3f) as u32,
            (hms & 0x3f) as u32,
            (packed & 0xff_ffff) as u32,
        ];
        check_ranges(&p, WHAT)?;
        if tp == TimeType::Date && p[3..] != [0; 4] {
            return Err(Error::corrupted(
                WHAT,
                format!("DATE with a time of day: {packed:#x}"),
            ));
        }
        Ok(Self::from_parts(&p, tp, fsp))
    }

    /// The 8-byte word TiDB keeps in chunk columns (its in-memory `CoreTime` incl. the
    /// fsp/type tag); write it little-endian.
    pub fn to_chunk_u64(&self) -> u64 {
        let tag = match self.tp {
            TimeType::Date => TAG_DATE,
            TimeType::DateTime => (self.fsp as u64) << 1,
            TimeType::Timestamp => ((self.fsp as u64) << 1) | 1,
        };
        (u64::from(self.year) << 50)
            | (u64::from(self.month) << 46)
            | (u64::from(self.day) << 41)
            | (u64::from(self.hour) << 36)
            | (u64::from(self.minute) << 30)
            | (u64::from(self.second) << 24)
            | (u64::from(self.micro) << 4)
            | tag
    }

    /// Decodes [`DateTime::to_chunk_u64`], range-checking every field and the tag.
    pub fn from_chunk_u64(v: u64) -> Result<Self> {
        const WHAT: &str = "chunk datetime";
        let tag = v & 0xf;
        let (tp, fsp) = match tag {
            TAG_DATE => (TimeType::Date, 0),
            0b1111 => {
                return Err(Error::corrupted(
                    WHAT,
                    format!("bad fsp/type tag in {v:#x}"),
                ))
            }
            _ if tag & 1 == 1 => (TimeType::Timestamp, (tag >> 1) as i8),
            _ => (TimeType::DateTime, (tag >> 1) as i8),
        };
        let field = |shift: u32, bits: u32| ((v >> shift) & ((1 << bits) - 1)) as u32;
        let p: Parts = [
            field(50, 14),
            field(46, 4),
            field(41, 5),
            field(36, 5),
            field(30, 6),
            field(24, 6),
            field(4, 20),
        ];
        check_ranges(&p, WHAT)?;
        if tp == TimeType::Date && p[3..] != [0; 4] {
            return Err(Error::corrupted(
                WHAT,
                format!("DATE with a time of day: {v:#x}"),
            ));
        }
        Ok(Self::from_parts(&p, tp, fsp))
    }

    fn to_naive(self) -> Result<NaiveDateTime> {
        NaiveDate::from_ymd_opt(i32::from(self.year), self.month(), self.day())
            .and_then(|d| {
                NaiveTime::from_hms_micro_opt(self.hour(), self.minute(), self.second(), self.micro)
                    .map(|t| d.and_time(t))
            })
            .ok_or_else(|| Error::parse("datetime", self.to_string()))
    }

    /// Reads the fields as a local time in `from` and expresses that instant in `to` (for
    /// TIMESTAMP: UTC <-> session zone), keeping type and fsp. Zero stays zero; a local time in
    /// a DST gap or an invalid date is an error; a repeated local time (DST overlap) is taken
    /// as its first occurrence, like TiDB's `goTimeDSTBeforeTransition`.
    pub fn convert_tz(&self, from: &Tz, to: &Tz) -> Result<Self> {
        if self.is_zero() {
            return Ok(*self);
        }
        let naive = self.to_naive()?;
        let gap = || Error::parse("datetime", format!("{self} does not exist in {from:?}"));
        let utc = match from {
            Tz::Offset(secs) => {
                let off = FixedOffset::east_opt(*secs)
                    .ok_or_else(|| Error::overflow("time zone offset", secs))?;
                off.from_local_datetime(&naive)
                    .earliest()
                    .ok_or_else(gap)?
                    .naive_utc()
            }
            Tz::Named(tz) => tz
                .from_local_datetime(&naive)
                .earliest()
                .ok_or_else(gap)?
                .naive_utc(),
        };
        let local = match to {
            Tz::Offset(secs) => {
                let off = FixedOffset::east_opt(*secs)
                    .ok_or_else(|| Error::overflow("time zone offset", secs))?;
                off.from_utc_datetime(&utc).naive_local()
            }
            Tz::Named(tz) => tz.from_utc_datetime(&utc).naive_local(),
        };
        let year = u32::try_from(local.year()).ok().filter(|y| *y <= MAX_YEAR);
        let year = year.ok_or_else(|| Error::overflow("datetime", local))?;
        let p: Parts = [
            year,
            local.month(),
            local.day(),
            local.hour(),
            local.minute(),
            local.second(),
            local.nanosecond() / 1000,
        ];
        Ok(Self::from_parts(&p, self.tp, self.fsp))
    }

    /// The day of the week, 0 = Monday .. 6 = Sunday (MySQL `WEEKDAY`). Zero month/day count
    /// backwards from the first of the month (`2019-04-31` is a Wednesday), like TiKV.
    pub fn weekday(&self) -> u32 {
        let first = if self.month == 0 {
            NaiveDate::from_ymd_opt(i32::from(self.year) - 1, 12, 1)
        } else {
            NaiveDate::from_ymd_opt(i32::from(self.year), self.month(), 1)
        };
        let date = first.and_then(|d| match self.day {
            0 => d.pred_opt(),
            n => d.checked_add_days(Days::new(u64::from(n) - 1)),
        });
        date.map_or(0, |d| d.weekday().num_days_from_monday())
    }

    /// The day of the year, 1..=366; 0 when month or day is zero (TiDB's `YearDay`).
    pub fn day_of_year(&self) -> u32 {
        if self.month == 0 || self.day == 0 {
            return 0;
        }
        (1..self.month())
            .map(|m| last_day(self.year(), m))
            .sum::<u32>()
            + self.day()
    }
}

impl PartialEq for DateTime {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}
impl Eq for DateTime {}
impl PartialOrd for DateTime {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for DateTime {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts().cmp(&other.parts())
    }
}
impl Hash for DateTime {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parts().hash(state)
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)?;
        if self.tp == TimeType::Date {
            return Ok(());
        }
        write!(f, " {:02}:{:02}:{:02}", self.hour, self.minute, self.second)?;
        if self.fsp > 0 {
            let fsp = self.fsp as usize;
            write!(f, ".{:0w$}", self.micro / POW10[6 - fsp], w = fsp)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Text parsing.

fn digits_u32(s: &[u8]) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u32, |acc, b| {
        b.is_ascii_digit().then_some(())?;
        acc.checked_mul(10)?.checked_add(u32::from(b - b'0'))
    })
}

fn adjust_year(y: u32) -> u32 {
    match y {
        0..=69 => y + 2000,
        70..=99 => y + 1900,
        _ => y,
    }
}

/// Digit runs and the separators between them.
type Split<'a> = (Vec<&'a [u8]>, Vec<&'a [u8]>);

/// Splits into digit runs and the separators between them (runs of punctuation; whitespace
/// or `T` only after the date; `Z` only after the time).
fn split(input: &[u8]) -> Option<Split<'_>> {
    let (mut comps, mut seps) = (Vec::new(), Vec::new());
    let mut rest = input;
    while !rest.is_empty() {
        let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 || comps.len() >= 9 {
            return None;
        }
        comps.push(&rest[..n]);
        rest = &rest[n..];
        let Some(&c) = rest.first() else { break };
        let m = if c.is_ascii_whitespace() {
            (comps.len() == 3).then_some(())?;
            rest.iter().take_while(|b| b.is_ascii_whitespace()).count()
        } else if c == b'T' {
            (comps.len() == 3).then_some(())?;
            1
        } else if c == b'Z' {
            (comps.len() == 6 || comps.len() == 7).then_some(())?;
            1
        } else if c.is_ascii_punctuation() {
            rest.iter().take_while(|b| b.is_ascii_punctuation()).count()
        } else {
            return None;
        };
        seps.push(&rest[..m]);
        rest = &rest[m..];
    }
    Some((comps, seps))
}

/// Removes a zone suffix from `comps`; returns its offset in seconds east of UTC.
fn take_zone(comps: &mut Vec<&[u8]>, seps: &[&[u8]]) -> Option<Option<i32>> {
    let is_sign = |s: &[u8]| s == b"+" || s == b"-";
    let (sign, mut hour, mut minute): (&[u8], &[u8], &[u8]) = match (comps.len(), seps.len()) {
        (9, 8) if is_sign(seps[6]) && seps[7] == b":" => {
            let m = comps.pop()?;
            (seps[6], comps.pop()?, m)
        }
        (9, _) => return None,
        (8, 7) if seps[5] == b"." && is_sign(seps[6]) => (seps[6], comps.pop()?, b""),
        (8, 7) if is_sign(seps[5]) && seps[6] == b":" => {
            let m = comps.pop()?;
            (seps[5], comps.pop()?, m)
        }
        (8, _) => return None,
        (7, 7) if seps[6] == b"Z" => (b"", b"", b""),
        (7, 7) => return None,
        (7, 6) if is_sign(seps[5]) => (seps[5], comps.pop()?, b""),
        (6, 6) if seps[5] == b"Z" => (b"", b"", b""),
        _ => return Some(None),
    };
    if hour.len() == 4 {
        (hour, minute) = hour.split_at(2);
    }
    let two_or_none = |s: &[u8]| s.is_empty() || s.len() == 2;
    (two_or_none(hour) && two_or_none(minute)).then_some(())?;
    let h = if hour.is_empty() {
        0
    } else {
        digits_u32(hour)? as i32
    };
    let m = if minute.is_empty() {
        0
    } else {
        digits_u32(minute)? as i32
    };
    if h > 14 || m > 59 || (h == 14 && m != 0) || (sign == b"-" && h == 0 && m == 0) {
        return None;
    }
    let secs = (h * 60 + m) * 60;
    Some(Some(if sign == b"-" { -secs } else { secs }))
}

/// Parses a fraction rounded half-up to `fsp` digits: `(carry, micro)`.
fn parse_frac(s: &[u8], fsp: i8) -> Option<(bool, u32)> {
    let fsp = fsp as usize;
    if s.len() <= fsp {
        return Some((false, digits_u32(s)? * POW10[6 - s.len()]));
    }
    s.iter().all(u8::is_ascii_digit).then_some(())?;
    let head = digits_u32(&s[..=fsp])?;
    let rounded = (head + 5) / 10;
    if rounded >= POW10[fsp] {
        Some((true, 0))
    } else {
        Some((false, rounded * POW10[6 - fsp]))
    }
}

/// `YYYYMMDD[HHMMSS]` / `YYMMDD[HH[MM[SS]]]` without separators.
fn parse_whole(s: &[u8]) -> Option<Parts> {
    let year_digits = match s.len() {
        8 | 14 => 4,
        5..=7 | 9..=12 => 2,
        _ => return None,
    };
    let mut p = [0u32; 7];
    p[0] = digits_u32(&s[..year_digits])?;
    if year_digits == 2 {
        p[0] = adjust_year(p[0]);
    }
    for (i, chunk) in s[year_digits..].chunks(2).enumerate() {
        p[i + 1] = digits_u32(chunk)?;
    }
    Some(p)
}

fn parse_text(s: &str, tp: TimeType, fsp: i8) -> Result<(DateTime, Option<i32>)> {
    let fsp = check_fsp(fsp)?;
    let bad = || Error::parse("datetime", s);
    let trimmed = s.trim();
    if trimmed.is_empty() {
        return Err(bad());
    }
    let (mut comps, seps) = split(trimmed.as_bytes()).ok_or_else(bad)?;
    let offset = take_zone(&mut comps, &seps).ok_or_else(bad)?;
    let n = comps.len();
    if (n == 7 || n == 2) && seps.get(n - 2).is_none_or(|sep| *sep != b".") {
        return Err(bad());
    }
    // Like TiDB, a DATE is parsed (and its fraction rounded) with fsp 0.
    let frac_fsp = if tp == TimeType::Date { 0 } else { fsp };
    let (mut p, frac) = match n {
        1 | 2 => {
            let p = parse_whole(comps[0]).ok_or_else(bad)?;
            if n == 2 && ![10, 12, 14].contains(&comps[0].len()) {
                return Err(bad());
            }
            (p, comps.get(1))
        }
        3..=7 => {
            let mut p = [0u32; 7];
            for (slot, c) in p.iter_mut().zip(comps.iter().take(6)) {
                *slot = digits_u32(c).ok_or_else(bad)?;
            }
            (p, comps.get(6))
        }
        _ => return Err(bad()),
    };
    let (carry, micro) = match frac {
        Some(f) => parse_frac(f, frac_fsp).ok_or_else(bad)?,
        None => (false, 0),
    };
    p[6] = micro;
    if n >= 3 && comps[0].len() == 2 && p != [0; 7] {
        p[0] = adjust_year(p[0]);
    }
    if carry {
        check_ranges(&p, "datetime").map_err(|_| bad())?;
        carry_second(&mut p).ok_or_else(bad)?;
    }
    let t = DateTime::checked(&p, tp, fsp).map_err(|e| match e {
        Error::Overflow { .. } => e,
        _ => bad(),
    })?;
    Ok((t, offset))
}

#[cfg(test)]
mod tests;
