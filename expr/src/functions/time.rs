//! Scalar functions: the time family. Field extraction from DATE/DATETIME/TIMESTAMP (YEAR,
//! MONTH, DAYOFMONTH, DAYOFWEEK, DAYOFYEAR, WEEKDAY, WEEK, WEEKOFYEAR, YEARWEEK, QUARTER,
//! TO_DAYS, TO_SECONDS, MONTHNAME, DAYNAME) and from TIME (HOUR, MINUTE, SECOND, MICROSECOND,
//! TIME_TO_SEC), EXTRACT from datetimes, DATE_FORMAT, LAST_DAY and DATEDIFF.
//!
//! Zero dates follow TiKV: a function that needs a real day (`2018-00-03`, `2018-12-00`,
//! `0000-00-00`) gives NULL with an "incorrect datetime value" warning (error 1292), or an
//! error in a strict-mode INSERT/UPDATE/DELETE; YEAR/MONTH/DAYOFMONTH read the fields as they
//! are and give 0 for `0000-00-00` unless the NO_ZERO_DATE mode asks for NULL.
//!
//! Day numbers and weeks use MySQL's proleptic calendar (`calc_daynr`, `calc_week`), in which
//! year 0 is not a leap year. DATE_FORMAT supports every MySQL specifier; an unknown one
//! (`%z`) prints the letter itself, as in MySQL.

use std::io::Write;

use basalt_chunk::column::{BytesColumn, Column, FixedColumn};
use basalt_chunk::{DateTime, Duration, TimeType};
use basalt_proto::tipb::ScalarFuncSig as Sig;

use super::{def, Arity, FnDef, FnMeta};
use crate::context::{flag, EvalContext};
use crate::error::{Error, Result};
use crate::value::{collect_int, StackValue};

/// The argument slice every body receives.
type Args<'a, 'b> = &'a [StackValue<'b>];

/// MySQL SQL mode bits this family reads.
mod mode {
    pub const STRICT_TRANS_TABLES: u64 = 1 << 21;
    pub const STRICT_ALL_TABLES: u64 = 1 << 22;
    pub const NO_ZERO_DATE: u64 = 1 << 24;
}

const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
/// Monday first, as `DateTime::weekday`.
const DAY_NAMES: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// An invalid (zero-part) date where a real one is needed: a warning, or an error when a
/// strict-mode statement writes data (TiKV's `handle_invalid_time_error`).
fn invalid_time(ctx: &mut EvalContext, t: &DateTime) -> Result<()> {
    let error = Error::Chunk(basalt_chunk::Error::parse("datetime", t.to_string()));
    let strict = ctx.sql_mode & (mode::STRICT_TRANS_TABLES | mode::STRICT_ALL_TABLES) != 0;
    let writes = ctx.flags & (flag::IN_INSERT_STMT | flag::IN_UPDATE_OR_DELETE_STMT) != 0;
    if strict && writes {
        return Err(error);
    }
    ctx.warn(&error);
    Ok(())
}

/// Whether the month or the day is zero.
fn invalid_zero(t: &DateTime) -> bool {
    t.month() == 0 || t.day() == 0
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since `0000-00-00` (MySQL `calc_daynr`): 1 is `0000-01-01`; year 0 has 365 days.
fn day_number(year: u32, month: u32, day: u32) -> i64 {
    if year == 0 && month == 0 {
        return 0;
    }
    let (y, m, d) = (i64::from(year), i64::from(month), i64::from(day));
    let mut days = 365 * y + 31 * (m - 1) + d;
    // Leap days are counted up to the previous year for January and February.
    let leap_year = if m <= 2 {
        y - 1
    } else {
        days -= (m * 4 + 23) / 10;
        y
    };
    days + leap_year / 4 - ((leap_year / 100 + 1) * 3) / 4
}

/// Days in `year` in MySQL's calendar (year 0 has 365).
fn days_in_year(year: i64) -> i64 {
    if year & 3 == 0 && (year % 100 != 0 || (year % 400 == 0 && year != 0)) {
        366
    } else {
        365
    }
}

/// The weekday of a day number: 0 = Monday (or Sunday when `sunday_first`).
fn weekday_of(day_number: i64, sunday_first: bool) -> i64 {
    (day_number + 5 + i64::from(sunday_first)).rem_euclid(7)
}

/// MySQL's week computation for a `WEEK()` mode: `(year, week)`.
fn year_and_week(t: &DateTime, week_mode: u32) -> (i64, i64) {
    let mut m = week_mode & 7;
    // Modes whose first day is Sunday flip the "first week contains the first weekday" bit.
    if m & 1 == 0 {
        m ^= 4;
    }
    let monday_first = m & 1 != 0;
    let mut whole_year = m & 2 != 0;
    let first_weekday = m & 4 != 0;

    let mut year = i64::from(t.year());
    let day = day_number(t.year(), t.month(), t.day());
    let mut first = day_number(t.year(), 1, 1);
    let mut weekday = weekday_of(first, !monday_first);
    let starts_late = |weekday: i64| {
        if first_weekday {
            weekday != 0
        } else {
            weekday >= 4
        }
    };
    if t.month() == 1 && i64::from(t.day()) <= 7 - weekday {
        if !whole_year && starts_late(weekday) {
            return (year, 0);
        }
        // The day belongs to the last week of the previous year.
        whole_year = true;
        year -= 1;
        let len = days_in_year(year);
        first -= len;
        weekday = (weekday + 53 * 7 - len).rem_euclid(7);
    }
    let days = if starts_late(weekday) {
        day - (first + 7 - weekday)
    } else {
        day - (first - weekday)
    };
    if whole_year && days >= 52 * 7 {
        let next_weekday = (weekday + days_in_year(year)).rem_euclid(7);
        if !starts_late(next_weekday) {
            return (year + 1, 1);
        }
    }
    (year, days / 7 + 1)
}

/// `WEEK(t, mode)` of a valid date.
fn week(t: &DateTime, week_mode: u32) -> i64 {
    year_and_week(t, week_mode).1
}

/// `YEARWEEK(t, mode)`: the year-aware week, as `year * 100 + week`; a negative year (a date in
/// the first days of year 0) gives `u32::MAX`, as TiKV.
fn year_week(t: &DateTime, week_mode: u32) -> i64 {
    let (year, week) = year_and_week(t, week_mode | 2);
    let value = year * 100 + week;
    if value < 0 {
        i64::from(u32::MAX)
    } else {
        value
    }
}

/// Applies `f` to every non-NULL row of a time argument.
fn map_time(
    ctx: &mut EvalContext,
    args: Args<'_, '_>,
    rows: usize,
    mut f: impl FnMut(&mut EvalContext, &DateTime) -> Result<Option<i64>>,
) -> Result<Column> {
    let a = args[0].time()?;
    collect_int(rows, |i| match a.get(i) {
        Some(t) => f(ctx, &t),
        None => Ok(None),
    })
}

/// Like `map_time` for functions that need a real date: zero month or day is `invalid_time`.
fn map_valid_time(
    ctx: &mut EvalContext,
    args: Args<'_, '_>,
    rows: usize,
    f: impl Fn(&DateTime) -> i64,
) -> Result<Column> {
    map_time(ctx, args, rows, |ctx, t| {
        if invalid_zero(t) {
            invalid_time(ctx, t)?;
            return Ok(None);
        }
        Ok(Some(f(t)))
    })
}

/// YEAR / MONTH / DAYOFMONTH: the field; `0000-00-00` is 0, or NULL under NO_ZERO_DATE.
fn field_of_zero_aware(
    ctx: &mut EvalContext,
    args: Args<'_, '_>,
    rows: usize,
    f: fn(&DateTime) -> u32,
) -> Result<Column> {
    map_time(ctx, args, rows, |ctx, t| {
        if t.is_zero() {
            if ctx.sql_mode & mode::NO_ZERO_DATE != 0 {
                invalid_time(ctx, t)?;
                return Ok(None);
            }
            return Ok(Some(0));
        }
        Ok(Some(i64::from(f(t))))
    })
}

fn map_duration(args: Args<'_, '_>, rows: usize, f: fn(&Duration) -> i64) -> Result<Column> {
    let a = args[0].duration()?;
    collect_int(rows, |i| Ok(a.get(i).map(|d| f(&d))))
}

/// Builds a string column from `f(i, buffer)`, which fills the cleared buffer and says whether
/// the row is non-NULL.
fn collect_bytes(
    rows: usize,
    mut f: impl FnMut(usize, &mut Vec<u8>) -> Result<bool>,
) -> Result<Column> {
    let mut column = BytesColumn::with_capacity(rows);
    let mut buffer = Vec::new();
    for i in 0..rows {
        buffer.clear();
        if f(i, &mut buffer)? {
            column.push(Some(&buffer));
        } else {
            column.push(None);
        }
    }
    Ok(Column::Bytes(column))
}

/// Writes `value` zero-padded to `width` digits.
fn push_num(out: &mut Vec<u8>, value: i64, width: usize) {
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{value:0width$}");
}

/// The 12-hour clock hour (12 for 0 and 12).
fn hour12(hour: u32) -> u32 {
    match hour % 12 {
        0 => 12,
        h => h,
    }
}

/// Appends the expansion of the `%spec` specifier for `t` (a date with non-zero month and day).
fn format_spec(t: &DateTime, spec: u8, out: &mut Vec<u8>) {
    let weekday = t.weekday() as usize;
    match spec {
        b'b' => out.extend_from_slice(&MONTH_NAMES[t.month() as usize - 1].as_bytes()[..3]),
        b'M' => out.extend_from_slice(MONTH_NAMES[t.month() as usize - 1].as_bytes()),
        b'm' => push_num(out, t.month().into(), 2),
        b'c' => push_num(out, t.month().into(), 0),
        b'D' => {
            push_num(out, t.day().into(), 0);
            let suffix = match t.day() {
                1 | 21 | 31 => "st",
                2 | 22 => "nd",
                3 | 23 => "rd",
                _ => "th",
            };
            out.extend_from_slice(suffix.as_bytes());
        }
        b'd' => push_num(out, t.day().into(), 2),
        b'e' => push_num(out, t.day().into(), 0),
        b'j' => push_num(out, t.day_of_year().into(), 3),
        b'H' => push_num(out, t.hour().into(), 2),
        b'k' => push_num(out, t.hour().into(), 0),
        b'h' | b'I' => push_num(out, hour12(t.hour()).into(), 2),
        b'l' => push_num(out, hour12(t.hour()).into(), 0),
        b'i' => push_num(out, t.minute().into(), 2),
        b'p' => out.extend_from_slice(if t.hour() < 12 { b"AM" } else { b"PM" }),
        b'r' => {
            push_num(out, hour12(t.hour()).into(), 2);
            out.push(b':');
            push_num(out, t.minute().into(), 2);
            out.push(b':');
            push_num(out, t.second().into(), 2);
            out.extend_from_slice(if t.hour() < 12 { b" AM" } else { b" PM" });
        }
        b'T' => {
            push_num(out, t.hour().into(), 2);
            out.push(b':');
            push_num(out, t.minute().into(), 2);
            out.push(b':');
            push_num(out, t.second().into(), 2);
        }
        b'S' | b's' => push_num(out, t.second().into(), 2),
        b'f' => push_num(out, t.micro().into(), 6),
        b'U' => push_num(out, week(t, 0), 2),
        b'u' => push_num(out, week(t, 1), 2),
        b'V' => push_num(out, week(t, 2), 2),
        b'v' => push_num(out, year_and_week(t, 3).1, 2),
        b'X' | b'x' => {
            let (year, _) = year_and_week(t, if spec == b'X' { 2 } else { 3 });
            if year < 0 {
                push_num(out, u32::MAX.into(), 0);
            } else {
                push_num(out, year, 4);
            }
        }
        b'a' => out.extend_from_slice(&DAY_NAMES[weekday].as_bytes()[..3]),
        b'W' => out.extend_from_slice(DAY_NAMES[weekday].as_bytes()),
        b'w' => push_num(out, ((weekday + 1) % 7) as i64, 0),
        b'Y' => push_num(out, t.year().into(), 4),
        b'y' => push_num(out, (t.year() % 100).into(), 2),
        other => out.push(other),
    }
}

fn date_format(
    ctx: &mut EvalContext,
    args: Args<'_, '_>,
    rows: usize,
    _: &FnMeta,
) -> Result<Column> {
    let (a, layout) = (args[0].time()?, args[1].bytes()?);
    collect_bytes(rows, |i, out| {
        let (Some(t), Some(layout)) = (a.get(i), layout.get(i)) else {
            return Ok(false);
        };
        if invalid_zero(&t) {
            invalid_time(ctx, &t)?;
            return Ok(false);
        }
        let mut specifier = false;
        for &b in layout {
            if specifier {
                format_spec(&t, b, out);
                specifier = false;
            } else if b == b'%' {
                specifier = true;
            } else {
                out.push(b);
            }
        }
        Ok(true)
    })
}

/// MONTHNAME / DAYNAME.
fn name_of(
    ctx: &mut EvalContext,
    args: Args<'_, '_>,
    rows: usize,
    name: fn(&DateTime) -> &'static str,
) -> Result<Column> {
    let a = args[0].time()?;
    collect_bytes(rows, |i, out| {
        let Some(t) = a.get(i) else { return Ok(false) };
        if invalid_zero(&t) {
            invalid_time(ctx, &t)?;
            return Ok(false);
        }
        out.extend_from_slice(name(&t).as_bytes());
        Ok(true)
    })
}

fn last_day(ctx: &mut EvalContext, args: Args<'_, '_>, rows: usize, _: &FnMeta) -> Result<Column> {
    let a = args[0].time()?;
    let mut column = FixedColumn::with_capacity(rows);
    for i in 0..rows {
        let value = match a.get(i) {
            // A zero day still names its month (`2011-01-00` gives `2011-01-31`).
            Some(t) if t.month() != 0 => {
                let last = days_in_month(t.year().into(), t.month());
                Some(DateTime::new(
                    t.year(),
                    t.month(),
                    last,
                    0,
                    0,
                    0,
                    0,
                    TimeType::Date,
                    0,
                )?)
            }
            Some(t) => {
                invalid_time(ctx, &t)?;
                None
            }
            None => None,
        };
        column.push(value);
    }
    Ok(Column::DateTime(column))
}

fn date_diff(ctx: &mut EvalContext, args: Args<'_, '_>, rows: usize, _: &FnMeta) -> Result<Column> {
    let (a, b) = (args[0].time()?, args[1].time()?);
    collect_int(rows, |i| {
        let (Some(x), Some(y)) = (a.get(i), b.get(i)) else {
            return Ok(None);
        };
        for t in [&x, &y] {
            if invalid_zero(t) {
                invalid_time(ctx, t)?;
                return Ok(None);
            }
        }
        Ok(Some(
            day_number(x.year(), x.month(), x.day()) - day_number(y.year(), y.month(), y.day()),
        ))
    })
}

/// EXTRACT(unit FROM datetime): one field, or several packed as decimal digits
/// (`DAY_MINUTE` of `2024-03-05 10:07` is 51007). An unknown unit is an error.
fn extract_datetime(
    _: &mut EvalContext,
    args: Args<'_, '_>,
    rows: usize,
    _: &FnMeta,
) -> Result<Column> {
    let (units, a) = (args[0].bytes()?, args[1].time()?);
    collect_int(rows, |i| {
        let (Some(unit), Some(t)) = (units.get(i), a.get(i)) else {
            return Ok(None);
        };
        extract_field(unit, &t).map(Some)
    })
}

fn extract_field(unit: &[u8], t: &DateTime) -> Result<i64> {
    let [year, month, day, hour, minute, second, micro] = [
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.micro(),
    ]
    .map(i64::from);
    let hms = (hour * 100 + minute) * 100 + second;
    Ok(match unit.to_ascii_uppercase().as_slice() {
        b"MICROSECOND" => micro,
        b"SECOND" => second,
        b"MINUTE" => minute,
        b"HOUR" => hour,
        b"DAY" => day,
        b"WEEK" => year_and_week(t, 0).1,
        b"MONTH" => month,
        b"QUARTER" => (month + 2) / 3,
        b"YEAR" => year,
        b"SECOND_MICROSECOND" => second * 1_000_000 + micro,
        b"MINUTE_MICROSECOND" => (minute * 100 + second) * 1_000_000 + micro,
        b"MINUTE_SECOND" => minute * 100 + second,
        b"HOUR_MICROSECOND" => hms * 1_000_000 + micro,
        b"HOUR_SECOND" => hms,
        b"HOUR_MINUTE" => hour * 100 + minute,
        b"DAY_MICROSECOND" => (day * 1_000_000 + hms) * 1_000_000 + micro,
        b"DAY_SECOND" => day * 1_000_000 + hms,
        b"DAY_MINUTE" => (day * 100 + hour) * 100 + minute,
        b"DAY_HOUR" => day * 100 + hour,
        b"YEAR_MONTH" => year * 100 + month,
        _ => {
            return Err(Error::InvalidExpr(format!(
                "invalid time unit {:?} for EXTRACT",
                String::from_utf8_lossy(unit)
            )))
        }
    })
}

/// WEEK(t, mode) and YEARWEEK(t, mode): `f(t, mode)` for valid dates.
fn with_mode(
    ctx: &mut EvalContext,
    args: Args<'_, '_>,
    rows: usize,
    f: fn(&DateTime, u32) -> i64,
) -> Result<Column> {
    let (a, m) = (args[0].time()?, args[1].int()?);
    collect_int(rows, |i| {
        let (Some(t), Some(m)) = (a.get(i), m.get(i)) else {
            return Ok(None);
        };
        if invalid_zero(&t) {
            invalid_time(ctx, &t)?;
            return Ok(None);
        }
        // Only the three low bits of the mode matter.
        Ok(Some(f(&t, (m & 7) as u32)))
    })
}

fn to_days(t: &DateTime) -> i64 {
    day_number(t.year(), t.month(), t.day())
}

fn to_seconds(t: &DateTime) -> i64 {
    to_days(t) * 86_400
        + i64::from(t.hour()) * 3600
        + i64::from(t.minute()) * 60
        + i64::from(t.second())
}

/// A body over one argument: the context, the arguments and the row count.
macro_rules! body {
    (|$ctx:ident, $args:ident, $rows:ident| $e:expr) => {
        |$ctx: &mut EvalContext, $args: Args<'_, '_>, $rows: usize, _: &FnMeta| $e
    };
}

/// The time function implementing `sig`.
pub fn lookup(sig: Sig) -> Option<FnDef> {
    let name = sig.as_str_name();
    let one = Arity::Exact(1);
    let two = Arity::Exact(2);
    match sig {
        Sig::Year => def!(
            name,
            one,
            body!(|c, a, r| field_of_zero_aware(c, a, r, DateTime::year))
        ),
        Sig::Month => def!(
            name,
            one,
            body!(|c, a, r| field_of_zero_aware(c, a, r, DateTime::month))
        ),
        Sig::DayOfMonth => def!(
            name,
            one,
            body!(|c, a, r| field_of_zero_aware(c, a, r, DateTime::day))
        ),
        Sig::DayOfWeek => def!(
            name,
            one,
            body!(|c, a, r| map_valid_time(c, a, r, |t| (i64::from(t.weekday()) + 1) % 7 + 1))
        ),
        Sig::WeekDay => def!(
            name,
            one,
            body!(|c, a, r| map_valid_time(c, a, r, |t| i64::from(t.weekday())))
        ),
        Sig::DayOfYear => def!(
            name,
            one,
            body!(|c, a, r| map_valid_time(c, a, r, |t| i64::from(t.day_of_year())))
        ),
        Sig::WeekOfYear => def!(
            name,
            one,
            body!(|c, a, r| map_valid_time(c, a, r, |t| week(t, 3)))
        ),
        Sig::WeekWithoutMode => def!(
            name,
            one,
            body!(|c, a, r| map_valid_time(c, a, r, |t| week(t, 0)))
        ),
        Sig::WeekWithMode => def!(name, two, body!(|c, a, r| with_mode(c, a, r, week))),
        Sig::YearWeekWithoutMode => def!(
            name,
            one,
            body!(|c, a, r| map_valid_time(c, a, r, |t| year_week(t, 0)))
        ),
        Sig::YearWeekWithMode => def!(name, two, body!(|c, a, r| with_mode(c, a, r, year_week))),
        Sig::Quarter => def!(
            name,
            one,
            body!(|c, a, r| map_time(c, a, r, |_, t| Ok(Some(i64::from(t.month().div_ceil(3))))))
        ),
        Sig::ToDays => def!(name, one, body!(|c, a, r| map_valid_time(c, a, r, to_days))),
        Sig::ToSeconds => def!(
            name,
            one,
            body!(|c, a, r| map_valid_time(c, a, r, to_seconds))
        ),
        Sig::MonthName => def!(
            name,
            one,
            body!(|c, a, r| name_of(c, a, r, |t| MONTH_NAMES[t.month() as usize - 1]))
        ),
        Sig::DayName => def!(
            name,
            one,
            body!(|c, a, r| name_of(c, a, r, |t| DAY_NAMES[t.weekday() as usize]))
        ),
        Sig::Hour => def!(
            name,
            one,
            body!(|_c, a, r| map_duration(a, r, |d| i64::from(d.hours())))
        ),
        Sig::Minute => def!(
            name,
            one,
            body!(|_c, a, r| map_duration(a, r, |d| i64::from(d.minutes())))
        ),
        Sig::Second => def!(
            name,
            one,
            body!(|_c, a, r| map_duration(a, r, |d| i64::from(d.secs())))
        ),
        Sig::MicroSecond => def!(
            name,
            one,
            body!(|_c, a, r| map_duration(a, r, |d| i64::from(d.micros())))
        ),
        Sig::TimeToSec => def!(
            name,
            one,
            body!(|_c, a, r| map_duration(a, r, |d| d.nanos() / 1_000_000_000))
        ),
        Sig::DateFormatSig => def!(name, two, date_format),
        Sig::LastDay => def!(name, one, last_day),
        Sig::DateDiff => def!(name, two, date_diff),
        Sig::ExtractDatetime => def!(name, two, extract_datetime),
        _ => None,
    }
}
