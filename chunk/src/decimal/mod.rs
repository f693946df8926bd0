//! MySQL/TiDB `DECIMAL` ("MyDecimal"): a fixed-size value of up to 81 decimal digits held in
//! nine base-10^9 words, with TiDB's arithmetic, rounding, string, binary (memcomparable) and
//! chunk encodings.
//!
//! The in-memory state mirrors TiDB's `MyDecimal` field for field (`digits_int`,
//! `digits_frac`, `result_frac`, `negative`, `words`) so that the 40-byte chunk form round-trips
//! and so that the scale rules of chained operations (which depend on the stored, word-rounded
//! fraction) agree with TiDB.
//!
//! Where TiDB returns a value together with `ErrTruncated`, this module returns `Ok(value)`
//! (the truncated value TiDB would produce); where TiDB returns `ErrOverflow` it returns
//! `Error::Overflow`. The exceptions are listed on each function.

mod arith;
mod codec;
mod scaled;
mod small;

pub use scaled::ScaledDecimals;

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use crate::error::{Error, Result};
use arith::Big;

/// Decimal digits held by one word.
const DIGITS_PER_WORD: usize = 9;
/// Radix of one word.
const WORD_BASE: u32 = 1_000_000_000;
/// Words in a decimal.
const WORD_BUF_LEN: usize = 9;
/// Digits a decimal can hold (9 words of 9 digits).
const MAX_DIGITS: usize = 81;

/// Words needed for `digits` digits.
fn words_for(digits: usize) -> usize {
    digits.div_ceil(DIGITS_PER_WORD)
}

/// Rounding modes of [`Decimal::round`].
///
/// TiDB's ordinary rounding (`ROUND()`, casts, display) is [`RoundMode::HalfUp`]. Note that
/// TiKV's `RoundMode::HalfEven` is, despite its name, TiDB's half-up rounding: code ported
/// from TiKV should use `HalfUp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoundMode {
    /// Round half to even (banker's rounding): 2.5 -> 2, 3.5 -> 4.
    HalfEven,
    /// Round half away from zero (TiDB `ModeHalfUp`): 2.5 -> 3, -2.5 -> -3.
    HalfUp,
    /// Drop the extra digits (TiDB `ModeTruncate`).
    Truncate,
    /// Round the magnitude up when any dropped digit is non-zero (TiDB `ModeCeiling`, which
    /// moves away from zero: -15.1 -> -16). TiDB inspects only the first dropped digit when
    /// the scale is not a multiple of 9; this implementation inspects all of them.
    Ceiling,
}

/// A MySQL/TiDB `DECIMAL` value (TiDB `MyDecimal`).
#[derive(Clone, Copy, Debug)]
pub struct Decimal {
    /// Integer digits represented (may include leading zeros, as in TiDB).
    digits_int: u8,
    /// Fraction digits stored.
    digits_frac: u8,
    /// Fraction digits shown (the SQL scale of the value).
    result_frac: u8,
    /// Sign; never set on zero values produced here.
    negative: bool,
    /// Integer words (most significant first) followed by fraction words; unused words are 0.
    words: [u32; WORD_BUF_LEN],
}

impl Default for Decimal {
    fn default() -> Self {
        Decimal::zero()
    }
}

impl Decimal {
    /// Largest precision of a SQL `DECIMAL` column.
    pub const MAX_PRECISION: u8 = 65;
    /// Largest scale of a SQL `DECIMAL` column.
    pub const MAX_SCALE: u8 = 30;
    /// Default `div_precision_increment`: extra fraction digits of a quotient.
    pub const DIV_FRAC_INCR: u8 = 4;

    /// The value 0 (no digits, scale 0).
    pub fn zero() -> Self {
        Decimal {
            digits_int: 0,
            digits_frac: 0,
            result_frac: 0,
            negative: false,
            words: [0; WORD_BUF_LEN],
        }
    }

    /// From a signed integer (TiDB `FromInt`).
    pub fn from_i64(v: i64) -> Self {
        let mut d = Decimal::from_u64(v.unsigned_abs());
        d.negative = v < 0;
        d
    }

    /// From an unsigned integer (TiDB `FromUint`: whole words, scale 0).
    pub fn from_u64(v: u64) -> Self {
        let base = WORD_BASE as u64;
        let n = if v >= base * base {
            3
        } else if v >= base {
            2
        } else {
            1
        };
        let mut d = Decimal::zero();
        let mut x = v;
        for i in (0..n).rev() {
            d.words[i] = (x % base) as u32;
            x /= base;
        }
        d.digits_int = (n * DIGITS_PER_WORD) as u8;
        d
    }

    /// From a float, via its shortest round-trip decimal representation in Go's `%g` style
    /// (as TiDB `FromFloat64`). NaN and infinities are `Error::Parse`.
    pub fn from_f64(v: f64) -> Result<Self> {
        if !v.is_finite() {
            return Err(Error::parse("DECIMAL", v.to_string()));
        }
        // Shortest digits and exponent, e.g. "1.2345e6".
        let sci = format!("{v:e}");
        let (mant, exp) = sci
            .split_once('e')
            .ok_or_else(|| Error::parse("DECIMAL", sci.clone()))?;
        let exp: i32 = exp
            .parse()
            .map_err(|_| Error::parse("DECIMAL", sci.clone()))?;
        let (neg, mant) = match mant.strip_prefix('-') {
            Some(m) => (true, m),
            None => (false, mant),
        };
        let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
        let mut s = String::with_capacity(32);
        if neg {
            s.push('-');
        }
        if !(-4..6).contains(&exp) {
            s.push_str(mant);
            s.push('e');
            s.push_str(&exp.to_string());
        } else {
            let dp = exp + 1;
            let nd = digits.len() as i32;
            if dp <= 0 {
                s.push_str("0.");
                s.extend(std::iter::repeat_n('0', (-dp) as usize));
                s.push_str(&digits);
            } else if dp >= nd {
                s.push_str(&digits);
                s.extend(std::iter::repeat_n('0', (dp - nd) as usize));
            } else {
                s.push_str(&digits[..dp as usize]);
                s.push('.');
                s.push_str(&digits[dp as usize..]);
            }
        }
        Ok(Decimal::parse_bytes(s.as_bytes())?.0)
    }

    /// Integer part after rounding half up to scale 0, as a magnitude.
    fn rounded_int_magnitude(&self) -> Result<(u128, bool)> {
        let r = self.round(0, RoundMode::HalfUp)?;
        let m = r.mag().shr_words(r.frac_words_count());
        if m.top() > 5 {
            return Err(Error::overflow("BIGINT", self));
        }
        let mut v: u128 = 0;
        for i in (0..5).rev() {
            v = v * WORD_BASE as u128 + m.w[i] as u128;
        }
        Ok((v, r.negative))
    }

    fn frac_words_count(&self) -> usize {
        words_for(self.digits_frac as usize)
    }

    /// To `i64`, rounding half up (TiDB's decimal-to-int conversion); out of range is
    /// `Error::Overflow`.
    pub fn as_i64(&self) -> Result<i64> {
        let (v, neg) = self.rounded_int_magnitude()?;
        if neg {
            if v <= 1u128 << 63 {
                return Ok((v as i128).wrapping_neg() as i64);
            }
        } else if v <= i64::MAX as u128 {
            return Ok(v as i64);
        }
        Err(Error::overflow("BIGINT", self))
    }

    /// To `u64`, rounding half up; negative values (that do not round to 0) and values above
    /// `u64::MAX` are `Error::Overflow`.
    pub fn as_u64(&self) -> Result<u64> {
        let (v, neg) = self.rounded_int_magnitude()?;
        if neg || v > u64::MAX as u128 {
            return Err(Error::overflow("BIGINT UNSIGNED", self));
        }
        Ok(v as u64)
    }

    /// To `f64`: the nearest double to the displayed value (TiDB `ToFloat64`).
    pub fn as_f64(&self) -> f64 {
        self.to_string().parse().unwrap_or(0.0)
    }

    /// Fraction digits of the value as a SQL scale (TiDB `resultFrac`); `Display` prints this
    /// many.
    pub fn frac(&self) -> u8 {
        self.result_frac
    }

    /// Significant integer digits (leading zeros removed).
    fn significant_int_digits(&self) -> usize {
        let iw = words_for(self.digits_int as usize);
        let mut n = Big::ZERO;
        for i in 0..iw.min(WORD_BUF_LEN) {
            n.w[iw - 1 - i] = self.words[i];
        }
        n.digits().min(self.digits_int as usize)
    }

    /// `(precision, frac)` as TiDB `PrecisionAndFrac`: significant integer digits plus stored
    /// fraction digits (at least 1), and the stored fraction digits.
    pub fn precision_and_frac(&self) -> (u8, u8) {
        let frac = self.digits_frac as usize;
        let prec = (self.significant_int_digits() + frac).max(1);
        (prec as u8, frac as u8)
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// Whether the value is below zero.
    pub fn is_negative(&self) -> bool {
        self.negative && !self.is_zero()
    }

    /// The value with its sign flipped (zero stays non-negative).
    pub fn neg(&self) -> Self {
        let mut d = *self;
        d.negative = !self.negative && !self.is_zero();
        d
    }

    /// Digit `i` (0 = first stored integer digit) of the stored digit sequence: `digits_int`
    /// integer digits followed by `digits_frac` fraction digits.
    fn digit_at(&self, pos: usize) -> u8 {
        let di = self.digits_int as usize;
        let iw = words_for(di);
        let (word, place) = if pos < di {
            let r = di - 1 - pos;
            (iw.checked_sub(1 + r / DIGITS_PER_WORD), r % DIGITS_PER_WORD)
        } else {
            let k = pos - di;
            (
                Some(iw + k / DIGITS_PER_WORD),
                DIGITS_PER_WORD - 1 - k % DIGITS_PER_WORD,
            )
        };
        match word.and_then(|w| self.words.get(w)) {
            Some(&w) => ((w / 10u32.pow(place as u32)) % 10) as u8,
            None => 0,
        }
    }

    /// Builds a decimal from ASCII digit runs (TiDB `FromString` without exponent): more than
    /// 81 integer digits is `Error::Overflow`; fraction digits beyond the buffer are dropped.
    fn from_digit_runs(negative: bool, int: &[u8], frac: &[u8]) -> Result<Self> {
        let wi = words_for(int.len());
        if wi > WORD_BUF_LEN {
            return Err(Error::overflow(
                "DECIMAL",
                format!("{} integer digits", int.len()),
            ));
        }
        let mut frac = frac;
        let wf = words_for(frac.len());
        if wi + wf > WORD_BUF_LEN {
            let keep = (WORD_BUF_LEN - wi) * DIGITS_PER_WORD;
            frac = frac.get(..keep).unwrap_or(frac);
        }
        let mut d = Decimal::zero();
        let (mut word, mut place, mut idx) = (0u32, 1u32, wi);
        for &c in int.iter().rev() {
            word += (c - b'0') as u32 * place;
            place *= 10;
            if place == WORD_BASE {
                idx -= 1;
                d.words[idx] = word;
                word = 0;
                place = 1;
            }
        }
        if place != 1 && idx > 0 {
            d.words[idx - 1] = word;
        }
        let (mut word, mut n, mut idx) = (0u32, 0usize, wi);
        for &c in frac {
            word = word * 10 + (c - b'0') as u32;
            n += 1;
            if n == DIGITS_PER_WORD {
                d.words[idx] = word;
                idx += 1;
                word = 0;
                n = 0;
            }
        }
        if n > 0 {
            d.words[idx] = word * 10u32.pow((DIGITS_PER_WORD - n) as u32);
        }
        d.digits_int = int.len() as u8;
        d.digits_frac = frac.len() as u8;
        d.result_frac = d.digits_frac;
        d.negative = negative && !d.is_zero();
        Ok(d)
    }

    /// Multiplies by 10^shift (TiDB `Shift`): the result keeps only significant digits; a
    /// fraction that no longer fits is rounded half up; an integer part beyond 81 digits is
    /// `Error::Overflow`.
    fn shift(&self, shift: i64) -> Result<Self> {
        if shift == 0 {
            return Ok(*self);
        }
        let total = self.digits_int as usize + self.digits_frac as usize;
        let begin = (0..total).find(|&p| self.digit_at(p) != 0);
        let Some(begin) = begin else {
            return Ok(Decimal::zero());
        };
        let end = (0..total)
            .rev()
            .find(|&p| self.digit_at(p) != 0)
            .map_or(begin, |p| p + 1);
        let (begin, end) = (begin as i64, end as i64);
        let point = self.digits_int as i64 + shift;
        let n_int = (point - begin).max(0);
        let mut n_frac = (end - point).max(0);
        let wi = words_for(n_int as usize);
        if wi > WORD_BUF_LEN {
            return Err(Error::overflow("DECIMAL", format!("{self}e{shift}")));
        }
        let mut round_up = false;
        if wi + words_for(n_frac as usize) > WORD_BUF_LEN {
            let keep = ((WORD_BUF_LEN - wi) * DIGITS_PER_WORD) as i64;
            let cut = point + keep;
            round_up = cut >= 0 && cut < total as i64 && self.digit_at(cut as usize) >= 5;
            n_frac = keep;
        }
        let at = |p: i64| -> u8 {
            if p < 0 || p >= end {
                b'0'
            } else {
                b'0' + self.digit_at(p as usize)
            }
        };
        let mut buf = [b'0'; MAX_DIGITS + 1];
        let len = (n_int + n_frac) as usize;
        for (i, slot) in buf.iter_mut().enumerate().take(len + 1).skip(1) {
            *slot = at(point - n_int + i as i64 - 1);
        }
        // buf[0] is a spare leading digit for a carry out of rounding.
        let mut int_len = n_int as usize;
        if round_up {
            let mut i = len;
            loop {
                if buf[i] == b'9' {
                    buf[i] = b'0';
                    i -= 1;
                } else {
                    buf[i] += 1;
                    break;
                }
                if i == 0 {
                    buf[0] = b'1';
                    break;
                }
            }
        }
        let start = if buf[0] != b'0' {
            int_len += 1;
            0
        } else {
            1
        };
        let digits = &buf[start..=len];
        let (int, frac) = digits.split_at(int_len);
        let d = Decimal::from_digit_runs(self.negative, int, frac)?;
        if d.is_zero() {
            return Ok(Decimal::zero());
        }
        Ok(d)
    }

    /// Parses MySQL decimal syntax. Returns the value and whether trailing garbage (anything
    /// but whitespace after the number, or a malformed exponent) was ignored, as TiDB does
    /// with a "truncated" warning. Text with no digits is `Error::Parse`; more than 81
    /// integer digits, or an exponent pushing the value past that, is `Error::Overflow`;
    /// fraction digits beyond 81 total digits are dropped (no rounding, as TiDB).
    pub fn from_bytes_lossy(s: &[u8]) -> Result<(Self, bool)> {
        Decimal::parse_bytes(s)
    }

    fn parse_bytes(input: &[u8]) -> Result<(Self, bool)> {
        let is_space = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
        let bad = || Error::parse("DECIMAL", String::from_utf8_lossy(input).into_owned());
        let start = input
            .iter()
            .position(|&c| !is_space(c))
            .unwrap_or(input.len());
        let mut s = &input[start..];
        let mut negative = false;
        match s.first() {
            Some(b'-') => {
                negative = true;
                s = &s[1..];
            }
            Some(b'+') => s = &s[1..],
            _ => {}
        }
        let int_len = s.iter().take_while(|c| c.is_ascii_digit()).count();
        let (int, rest) = s.split_at(int_len);
        let (frac, rest) = match rest.split_first() {
            Some((b'.', after)) => {
                let n = after.iter().take_while(|c| c.is_ascii_digit()).count();
                after.split_at(n)
            }
            _ => (&rest[..0], rest),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(bad());
        }
        let mut d = Decimal::from_digit_runs(negative, int, frac)?;
        let mut garbage = false;
        match rest.split_first() {
            Some((b'e' | b'E', exp)) => {
                let (exp, exp_garbage) = parse_exponent(exp)
                    .ok_or_else(|| Error::overflow("DECIMAL", String::from_utf8_lossy(input)))?;
                garbage = exp_garbage;
                if exp > (i32::MAX / 2) as i64 {
                    return Err(Error::overflow("DECIMAL", String::from_utf8_lossy(input)));
                }
                if exp < (i32::MIN / 2) as i64 {
                    return Ok((Decimal::zero(), garbage));
                }
                d = d.shift(exp)?;
            }
            Some(_) => garbage = rest.iter().any(|&c| !is_space(c)),
            None => {}
        }
        d.result_frac = d.digits_frac;
        Ok((d, garbage))
    }

    /// TiDB `ToString`: all stored fraction digits, no rounding.
    pub fn to_unrounded_string(&self) -> String {
        let mut s = String::with_capacity(MAX_DIGITS + 3);
        if self.is_negative() {
            s.push('-');
        }
        let di = self.digits_int as usize;
        let sig = self.significant_int_digits();
        if sig == 0 {
            s.push('0');
        } else {
            for p in di - sig..di {
                s.push((b'0' + self.digit_at(p)) as char);
            }
        }
        if self.digits_frac > 0 {
            s.push('.');
            for p in di..di + self.digits_frac as usize {
                s.push((b'0' + self.digit_at(p)) as char);
            }
        }
        s
    }

    /// Magnitude scaled by its fraction words, with trailing zero fraction words removed.
    fn canonical(&self) -> (Big, usize) {
        let mut m = self.mag();
        let mut fw = self.frac_words_count();
        while fw > 0 && m.w[0] == 0 {
            m = m.shr_words(1);
            fw -= 1;
        }
        (m, fw)
    }
}

/// Parses an exponent as TiDB's `strToInt` on the text after `e`: surrounding whitespace is
/// allowed, then an optional sign and digits. Returns `(value, ignored_garbage)`, `None` when
/// the digits overflow `i64`.
fn parse_exponent(s: &[u8]) -> Option<(i64, bool)> {
    let t = s.trim_ascii();
    let (neg, body) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let n = body.iter().take_while(|c| c.is_ascii_digit()).count();
    let mut v: i64 = 0;
    for &c in &body[..n] {
        v = v.checked_mul(10)?.checked_add((c - b'0') as i64)?;
    }
    Some((if neg { -v } else { v }, n == 0 || n != body.len()))
}

impl FromStr for Decimal {
    type Err = Error;

    /// Strict parse: as [`Decimal::from_bytes_lossy`], but ignored trailing garbage is
    /// `Error::Parse`.
    fn from_str(s: &str) -> Result<Self> {
        match Decimal::parse_bytes(s.as_bytes())? {
            (d, false) => Ok(d),
            (_, true) => Err(Error::parse("DECIMAL", s)),
        }
    }
}

impl fmt::Display for Decimal {
    /// TiDB `String`: rounded half up to exactly `frac()` fraction digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = self
            .round(self.result_frac.min(i8::MAX as u8) as i8, RoundMode::HalfUp)
            .unwrap_or(*self);
        f.write_str(&shown.to_unrounded_string())
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        small::cmp(self, other).unwrap_or_else(|| self.cmp_general(other))
    }
}

impl Decimal {
    fn cmp_general(&self, other: &Self) -> Ordering {
        let (na, nb) = (self.is_negative(), other.is_negative());
        if na != nb {
            return if na {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let (ma, fa) = self.canonical();
        let (mb, fb) = other.canonical();
        let s = fa.max(fb);
        let a = ma.shl_words(s - fa).unwrap_or(ma);
        let b = mb.shl_words(s - fb).unwrap_or(mb);
        let ord = a.cmp_mag(&b);
        if na {
            ord.reverse()
        } else {
            ord
        }
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Decimal {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Decimal {}

impl Hash for Decimal {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let (m, fw) = self.canonical();
        self.is_negative().hash(state);
        fw.hash(state);
        m.w[..m.top()].hash(state);
    }
}

#[cfg(test)]
mod tests;
