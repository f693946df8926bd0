//! Arithmetic of [`Decimal`]: a small fixed-width big integer in base 10^9 and the four
//! operations, with the word-count rules (which decide result scale, truncation and overflow)
//! reproduced from TiDB's `MyDecimal`.

use std::cmp::Ordering;

use super::{words_for, Decimal, RoundMode, DIGITS_PER_WORD, WORD_BASE, WORD_BUF_LEN};
use crate::error::{Error, Result};

/// Number of base-10^9 limbs of the scratch integer: enough for a dividend widened by two
/// full buffers (27 limbs) and for 10^162.
const BIG_LEN: usize = 40;
const BASE64: u64 = WORD_BASE as u64;

/// Unsigned integer, little-endian limbs in base 10^9.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Big {
    pub(super) w: [u32; BIG_LEN],
}

impl Big {
    pub(super) const ZERO: Big = Big { w: [0; BIG_LEN] };

    pub(super) fn small(v: u32) -> Big {
        let mut b = Big::ZERO;
        b.w[0] = v;
        b
    }

    /// Count of limbs up to and including the highest non-zero one.
    pub(super) fn top(&self) -> usize {
        let mut n = BIG_LEN;
        while n > 0 && self.w[n - 1] == 0 {
            n -= 1;
        }
        n
    }

    pub(super) fn is_zero(&self) -> bool {
        self.w.iter().all(|&x| x == 0)
    }

    pub(super) fn cmp_mag(&self, o: &Big) -> Ordering {
        for i in (0..BIG_LEN).rev() {
            match self.w[i].cmp(&o.w[i]) {
                Ordering::Equal => {}
                other => return other,
            }
        }
        Ordering::Equal
    }

    pub(super) fn add(&self, o: &Big) -> Option<Big> {
        let mut r = Big::ZERO;
        let mut carry = 0u32;
        for i in 0..BIG_LEN {
            let s = self.w[i] + o.w[i] + carry;
            if s >= WORD_BASE {
                r.w[i] = s - WORD_BASE;
                carry = 1;
            } else {
                r.w[i] = s;
                carry = 0;
            }
        }
        (carry == 0).then_some(r)
    }

    /// `self - o`; the caller guarantees `self >= o`.
    pub(super) fn sub(&self, o: &Big) -> Big {
        let mut r = Big::ZERO;
        let mut borrow = 0i64;
        for i in 0..BIG_LEN {
            let mut d = self.w[i] as i64 - o.w[i] as i64 - borrow;
            if d < 0 {
                d += BASE64 as i64;
                borrow = 1;
            } else {
                borrow = 0;
            }
            r.w[i] = d as u32;
        }
        r
    }

    pub(super) fn mul_small(&self, m: u32) -> Option<Big> {
        let mut r = Big::ZERO;
        let mut carry = 0u64;
        for i in 0..BIG_LEN {
            let t = self.w[i] as u64 * m as u64 + carry;
            r.w[i] = (t % BASE64) as u32;
            carry = t / BASE64;
        }
        (carry == 0).then_some(r)
    }

    pub(super) fn mul(&self, o: &Big) -> Option<Big> {
        let (n, m) = (self.top(), o.top());
        let mut acc = [0u64; 2 * BIG_LEN];
        for i in 0..n {
            let mut carry = 0u64;
            for j in 0..m {
                let t = acc[i + j] + self.w[i] as u64 * o.w[j] as u64 + carry;
                acc[i + j] = t % BASE64;
                carry = t / BASE64;
            }
            let mut k = i + m;
            while carry > 0 {
                let t = acc[k] + carry;
                acc[k] = t % BASE64;
                carry = t / BASE64;
                k += 1;
            }
        }
        if acc[BIG_LEN..].iter().any(|&x| x != 0) {
            return None;
        }
        let mut r = Big::ZERO;
        for (dst, src) in r.w.iter_mut().zip(acc.iter()) {
            *dst = *src as u32;
        }
        Some(r)
    }

    /// `self * 10^(9n)`.
    pub(super) fn shl_words(&self, n: usize) -> Option<Big> {
        if n == 0 {
            return Some(*self);
        }
        if self.top() + n > BIG_LEN {
            return if self.is_zero() {
                Some(Big::ZERO)
            } else {
                None
            };
        }
        let mut r = Big::ZERO;
        r.w[n..].copy_from_slice(&self.w[..BIG_LEN - n]);
        Some(r)
    }

    /// `self / 10^(9n)`, truncating.
    pub(super) fn shr_words(&self, n: usize) -> Big {
        let mut r = Big::ZERO;
        if n < BIG_LEN {
            r.w[..BIG_LEN - n].copy_from_slice(&self.w[n..]);
        }
        r
    }

    pub(super) fn pow10(n: usize) -> Option<Big> {
        let (words, rest) = (n / DIGITS_PER_WORD, n % DIGITS_PER_WORD);
        Big::small(10u32.pow(rest as u32)).shl_words(words)
    }

    /// Number of decimal digits (0 for zero).
    pub(super) fn digits(&self) -> usize {
        let n = self.top();
        if n == 0 {
            return 0;
        }
        let mut top = self.w[n - 1];
        let mut d = 0;
        while top > 0 {
            top /= 10;
            d += 1;
        }
        (n - 1) * DIGITS_PER_WORD + d
    }

    /// Quotient and remainder; `d` must not be zero.
    pub(super) fn div_rem(&self, d: &Big) -> (Big, Big) {
        let n = d.top();
        let mut q = Big::ZERO;
        if n == 0 {
            return (q, *self);
        }
        if n == 1 {
            let dv = d.w[0] as u64;
            let mut rem = 0u64;
            for i in (0..BIG_LEN).rev() {
                let cur = rem * BASE64 + self.w[i] as u64;
                q.w[i] = (cur / dv) as u32;
                rem = cur % dv;
            }
            return (q, Big::small(rem as u32));
        }
        let mut r = *self;
        let rt = r.top();
        if rt < n {
            return (q, r);
        }
        let b = BASE64 as u128;
        let dtop = d.w[n - 1] as u128 * b + d.w[n - 2] as u128;
        for j in (0..=rt - n).rev() {
            let hi = if j + n < BIG_LEN { r.w[j + n] } else { 0 };
            let top3 = (hi as u128 * b + r.w[j + n - 1] as u128) * b + r.w[j + n - 2] as u128;
            let mut qhat = (top3 / dtop).min(b - 1) as u32;
            while qhat > 0 {
                match d.mul_small(qhat).and_then(|t| t.shl_words(j)) {
                    Some(t) if t.cmp_mag(&r) != Ordering::Greater => {
                        r = r.sub(&t);
                        break;
                    }
                    _ => qhat -= 1,
                }
            }
            q.w[j] = qhat;
        }
        (q, r)
    }
}

fn overflow(op: &'static str, a: &Decimal, b: &Decimal) -> Error {
    Error::overflow("DECIMAL", format!("{a} {op} {b}"))
}

/// Builds a decimal whose magnitude `m` is scaled by `frac_words` words of fraction and
/// occupies `int_words + frac_words` words of the buffer.
pub(super) fn assemble(
    negative: bool,
    m: &Big,
    int_words: usize,
    frac_words: usize,
    digits_int: usize,
    digits_frac: usize,
    result_frac: usize,
) -> Option<Decimal> {
    let n = int_words + frac_words;
    if n > WORD_BUF_LEN || m.top() > n || digits_int > 81 || digits_frac > 81 {
        return None;
    }
    let mut d = Decimal::zero();
    for i in 0..n {
        d.words[i] = m.w[n - 1 - i];
    }
    d.digits_int = digits_int as u8;
    d.digits_frac = digits_frac as u8;
    d.result_frac = result_frac.min(u8::MAX as usize) as u8;
    d.negative = negative && !m.is_zero();
    Some(d)
}

/// Digits of the integer part of `m` scaled by `frac_words` fraction words.
pub(super) fn int_digits(m: &Big, frac_words: usize) -> usize {
    m.shr_words(frac_words).digits()
}

/// A zero that prints with `frac` fraction digits (TiDB `zeroMyDecimalWithFrac`).
pub(super) fn zero_with_frac(frac: u8) -> Decimal {
    let mut d = Decimal::zero();
    d.digits_frac = frac;
    d.result_frac = frac;
    d
}

/// Re-scales a magnitude from `from` to `to` fraction words (truncating when narrowing).
fn rescale(m: &Big, from: usize, to: usize) -> Big {
    if to >= from {
        m.shl_words(to - from).unwrap_or(Big::ZERO)
    } else {
        m.shr_words(from - to)
    }
}

impl Decimal {
    fn int_words(&self) -> usize {
        words_for(self.digits_int as usize)
    }
    fn frac_words(&self) -> usize {
        words_for(self.digits_frac as usize)
    }

    /// The magnitude as an integer scaled by `frac_words()` words of fraction.
    pub(super) fn mag(&self) -> Big {
        let n = (self.int_words() + self.frac_words()).min(WORD_BUF_LEN);
        let mut b = Big::ZERO;
        for i in 0..n {
            b.w[n - 1 - i] = self.words[i];
        }
        b
    }

    /// Adds magnitudes; the sign of the result is `negative`.
    fn add_mag(&self, rhs: &Self, negative: bool, result_frac: u8) -> Result<Self> {
        match super::small::add_mag(self, rhs, negative, result_frac) {
            Some(sum) => Ok(sum),
            None => self.add_mag_general(rhs, negative, result_frac),
        }
    }

    pub(super) fn add_mag_general(
        &self,
        rhs: &Self,
        negative: bool,
        result_frac: u8,
    ) -> Result<Self> {
        let (wi1, wf1, wi2, wf2) = (
            self.int_words(),
            self.frac_words(),
            rhs.int_words(),
            rhs.frac_words(),
        );
        // A possible carry out of the top word widens the result (TiDB checks only the top words).
        let top = match wi1.cmp(&wi2) {
            Ordering::Greater => self.words[0],
            Ordering::Less => rhs.words[0],
            Ordering::Equal => self.words[0] + rhs.words[0],
        };
        let mut wi = wi1.max(wi2);
        if top >= WORD_BASE - 1 {
            wi += 1;
        }
        if wi > WORD_BUF_LEN {
            return Err(overflow("+", self, rhs));
        }
        let mut wf = wf1.max(wf2);
        let mut df = self.digits_frac.max(rhs.digits_frac) as usize;
        if wi + wf > WORD_BUF_LEN {
            wf = WORD_BUF_LEN - wi;
            df = df.min(wf * DIGITS_PER_WORD);
        }
        let a = rescale(&self.mag(), wf1, wf);
        let b = rescale(&rhs.mag(), wf2, wf);
        let sum = a.add(&b).ok_or_else(|| overflow("+", self, rhs))?;
        assemble(
            negative,
            &sum,
            wi,
            wf,
            wi * DIGITS_PER_WORD,
            df,
            result_frac as usize,
        )
        .ok_or_else(|| overflow("+", self, rhs))
    }

    /// Subtracts magnitudes; the result carries the sign of `self` unless `|rhs| > |self|`.
    fn sub_mag(&self, rhs: &Self, negative: bool, result_frac: u8) -> Result<Self> {
        match super::small::sub_mag(self, rhs, negative, result_frac) {
            Some(difference) => Ok(difference),
            None => self.sub_mag_general(rhs, negative, result_frac),
        }
    }

    pub(super) fn sub_mag_general(
        &self,
        rhs: &Self,
        negative: bool,
        result_frac: u8,
    ) -> Result<Self> {
        let (wf1, wf2) = (self.frac_words(), rhs.frac_words());
        let (m1, m2) = (self.mag(), rhs.mag());
        let wf_all = wf1.max(wf2);
        let (a, b) = (rescale(&m1, wf1, wf_all), rescale(&m2, wf2, wf_all));
        let (big, small, big_fw, small_fw, neg) = match a.cmp_mag(&b) {
            Ordering::Equal => return Ok(zero_with_frac(result_frac)),
            Ordering::Greater => (m1, m2, wf1, wf2, negative),
            Ordering::Less => (m2, m1, wf2, wf1, !negative),
        };
        // Integer words of the larger operand, leading zero words skipped.
        let wi = words_for(int_digits(&big, big_fw));
        let mut wf = wf_all;
        let mut df = self.digits_frac.max(rhs.digits_frac) as usize;
        if wi + wf > WORD_BUF_LEN {
            wf = WORD_BUF_LEN - wi;
            df = df.min(wf * DIGITS_PER_WORD);
        }
        let diff = rescale(&big, big_fw, wf).sub(&rescale(&small, small_fw, wf));
        assemble(
            neg,
            &diff,
            wi,
            wf,
            wi * DIGITS_PER_WORD,
            df,
            result_frac as usize,
        )
        .ok_or_else(|| overflow("-", self, rhs))
    }

    fn add_signed(&self, rhs: &Self, rhs_negative: bool) -> Result<Self> {
        let rf = self.result_frac.max(rhs.result_frac);
        if self.negative == rhs_negative {
            self.add_mag(rhs, self.negative, rf)
        } else {
            self.sub_mag(rhs, self.negative, rf)
        }
    }

    /// `self + rhs` (TiDB `DecimalAdd`). The result keeps `max` of the operands' fraction
    /// digits; when more than 81 digits would be needed the fraction is truncated to fit, and
    /// when the integer part needs more than 9 words the result is `Error::Overflow`.
    pub fn add(&self, rhs: &Self) -> Result<Self> {
        self.add_signed(rhs, rhs.negative)
    }

    /// `self - rhs` (TiDB `DecimalSub`); same scale/overflow rules as [`Decimal::add`].
    pub fn sub(&self, rhs: &Self) -> Result<Self> {
        self.add_signed(rhs, !rhs.negative && !rhs.is_zero())
    }

    /// `self * rhs` (TiDB `DecimalMul`). Fraction digits add up (stored digits capped at 31,
    /// display scale capped at 30); if the product needs more than 9 words the operands'
    /// fractions are cut as TiDB does (truncation, no error); an integer part beyond 81 digits
    /// is `Error::Overflow`.
    pub fn mul(&self, rhs: &Self) -> Result<Self> {
        match super::small::mul(self, rhs) {
            Some(product) => Ok(product),
            None => self.mul_general(rhs),
        }
    }

    pub(super) fn mul_general(&self, rhs: &Self) -> Result<Self> {
        let mut wf1 = self.frac_words() as isize;
        let mut wf2 = rhs.frac_words() as isize;
        let wi = words_for(self.digits_int as usize + rhs.digits_int as usize);
        let mut wf = (wf1 + wf2) as usize;
        let rf =
            (self.result_frac as usize + rhs.result_frac as usize).min(Decimal::MAX_SCALE as usize);
        let mut df = (self.digits_frac as usize + rhs.digits_frac as usize).min(31);
        let negative = self.negative != rhs.negative;
        if wi > WORD_BUF_LEN {
            return Err(overflow("*", self, rhs));
        }
        let (m1, m2) = (self.mag(), rhs.mag());
        if wi + wf > WORD_BUF_LEN {
            let target = WORD_BUF_LEN - wi;
            df = df.min(target * DIGITS_PER_WORD);
            let mut excess = (wf - target) as isize;
            // Whole zero words at the end of either fraction go first.
            while excess > 0 && wf1 > 0 && m1.w.get(self.frac_words() - wf1 as usize) == Some(&0) {
                wf1 -= 1;
                excess -= 1;
            }
            while excess > 0 && wf2 > 0 && m2.w.get(rhs.frac_words() - wf2 as usize) == Some(&0) {
                wf2 -= 1;
                excess -= 1;
            }
            if excess > 0 {
                let half = excess / 2;
                if wf1 <= wf2 {
                    wf1 -= half;
                    wf2 -= excess - half;
                } else {
                    wf2 -= half;
                    wf1 -= excess - half;
                }
                // TiDB would index outside the fraction here; keep both cuts inside it.
                if wf1 < 0 {
                    wf2 += wf1;
                    wf1 = 0;
                }
                if wf2 < 0 {
                    wf1 += wf2;
                    wf2 = 0;
                }
            }
            wf = target;
        }
        let a = rescale(&m1, self.frac_words(), wf1.max(0) as usize);
        let b = rescale(&m2, rhs.frac_words(), wf2.max(0) as usize);
        let p = a.mul(&b).ok_or_else(|| overflow("*", self, rhs))?;
        if p.top() > wi + wf {
            return Err(overflow("*", self, rhs));
        }
        if negative && p.is_zero() {
            return Ok(zero_with_frac(rf as u8));
        }
        // With the stored fraction capped at 31 digits, TiDB leaves the product's extra words
        // in the buffer where nothing but `IsZero` sees them; drop them instead.
        let (p, wf) = if words_for(df) < wf {
            (rescale(&p, wf, words_for(df)), words_for(df))
        } else {
            (p, wf)
        };
        // Leading zero words of the integer part are dropped while more than 9 digits remain.
        let mut di = wi * DIGITS_PER_WORD;
        let mut iw = wi;
        while iw > 0 && di > DIGITS_PER_WORD && p.w[iw + wf - 1] == 0 {
            iw -= 1;
            di -= DIGITS_PER_WORD;
        }
        assemble(negative, &p, iw, wf, di, df, rf).ok_or_else(|| overflow("*", self, rhs))
    }

    /// Position of the first significant digit counted from the end of the word-rounded
    /// fraction (TiDB's `prec` after stripping leading zeros), and the top non-zero word.
    fn prec_and_top_word(&self) -> (isize, u32) {
        let m = self.mag();
        let top = self.words.iter().copied().find(|&w| w != 0).unwrap_or(0);
        (m.digits() as isize, top)
    }

    /// `self / rhs` (TiDB `DecimalDiv`): `Error::DivisionByZero` for a zero divisor. The
    /// quotient is truncated to whole words of fraction (at least `frac(lhs)+frac(rhs)+frac_incr`
    /// digits, rounded up to a multiple of 9); `frac()` of the result is
    /// `min(lhs.frac() + frac_incr, 30)` and [`std::fmt::Display`] rounds to it.
    pub fn div(&self, rhs: &Self, frac_incr: u8) -> Result<Self> {
        let rf =
            (self.result_frac as usize + frac_incr as usize).min(Decimal::MAX_SCALE as usize) as u8;
        if rhs.is_zero() {
            return Err(Error::DivisionByZero);
        }
        if self.is_zero() {
            return Ok(zero_with_frac(rf));
        }
        let (wf1, wf2) = (self.frac_words(), rhs.frac_words());
        let (frac1, frac2) = (
            (wf1 * DIGITS_PER_WORD) as isize,
            (wf2 * DIGITS_PER_WORD) as isize,
        );
        let (prec1, top1) = self.prec_and_top_word();
        let (prec2, top2) = rhs.prec_and_top_word();
        let incr = (frac_incr as isize
            - (frac1 - self.digits_frac as isize)
            - (frac2 - rhs.digits_frac as isize))
            .max(0);
        let mut int_to = (prec1 - frac1) - (prec2 - frac2);
        if top1 >= top2 {
            int_to += 1;
        }
        let wi = if int_to < 0 {
            0
        } else {
            words_for(int_to as usize)
        };
        let mut wf = words_for((frac1 + frac2 + incr) as usize);
        if wi > WORD_BUF_LEN {
            return Err(overflow("/", self, rhs));
        }
        if wi + wf > WORD_BUF_LEN {
            wf = WORD_BUF_LEN - wi;
        }
        let num = self
            .mag()
            .shl_words(wf + wf2)
            .ok_or_else(|| overflow("/", self, rhs))?;
        let den = rhs
            .mag()
            .shl_words(wf1)
            .ok_or_else(|| overflow("/", self, rhs))?;
        let (q, _) = num.div_rem(&den);
        if q.top() > wi + wf {
            return Err(overflow("/", self, rhs));
        }
        let di = int_digits(&q, wf);
        assemble(
            self.negative != rhs.negative,
            &q,
            words_for(di),
            wf,
            di,
            wf * DIGITS_PER_WORD,
            rf as usize,
        )
        .ok_or_else(|| overflow("/", self, rhs))
    }

    /// `self % rhs` (TiDB `DecimalMod`): sign of the dividend, `max` of both fractions;
    /// `Error::DivisionByZero` for a zero divisor.
    pub fn rem(&self, rhs: &Self) -> Result<Self> {
        let rf = self.result_frac.max(rhs.result_frac);
        if rhs.is_zero() {
            return Err(Error::DivisionByZero);
        }
        if self.is_zero() {
            return Ok(zero_with_frac(rf));
        }
        let (wf1, wf2) = (self.frac_words(), rhs.frac_words());
        let s = wf1.max(wf2);
        let a = rescale(&self.mag(), wf1, s);
        let b = rescale(&rhs.mag(), wf2, s);
        let (_, r) = a.div_rem(&b);
        let mut df = self.digits_frac.max(rhs.digits_frac) as usize;
        let di = int_digits(&r, s);
        let iw = words_for(di);
        let mut wf = words_for(df);
        let mut r = r;
        if iw + wf > WORD_BUF_LEN {
            let keep = WORD_BUF_LEN.saturating_sub(iw);
            r = rescale(&r, wf, keep);
            wf = keep;
            df = wf * DIGITS_PER_WORD;
        }
        let mut out = assemble(self.negative, &r, iw, wf, di, df, rf as usize)
            .ok_or_else(|| overflow("%", self, rhs))?;
        if r.is_zero() && df == 0 {
            out = Decimal::zero();
            out.result_frac = rf;
        }
        Ok(out)
    }

    /// Rounds to `frac` fraction digits (negative: to the left of the point) with `mode`, as
    /// TiDB `Round`: the result prints exactly `max(frac, 0)` fraction digits; a scale that
    /// cannot fit next to the integer part is reduced to what fits.
    pub fn round(&self, frac: i8, mode: RoundMode) -> Result<Self> {
        let mut frac = frac as isize;
        let wi = self.int_words();
        let wf = self.frac_words();
        let mut wf_to = if frac > 0 {
            words_for(frac as usize) as isize
        } else {
            (frac + 1) / DIGITS_PER_WORD as isize
        };
        if wi as isize + wf_to > WORD_BUF_LEN as isize {
            wf_to = (WORD_BUF_LEN - wi) as isize;
            frac = wf_to * DIGITS_PER_WORD as isize;
        }
        if self.digits_int as isize + frac < 0 {
            return Ok(Decimal::zero());
        }
        if frac >= self.digits_frac as isize {
            let mut out = *self;
            out.digits_frac = frac as u8;
            out.result_frac = frac as u8;
            return Ok(out);
        }
        let m = self.mag();
        let drop = (wf * DIGITS_PER_WORD) as isize - frac;
        let unit = Big::pow10(drop as usize).ok_or_else(|| Error::overflow("DECIMAL", self))?;
        let (mut q, r) = m.div_rem(&unit);
        let inc = if r.is_zero() {
            false
        } else {
            match mode {
                RoundMode::Truncate => false,
                RoundMode::Ceiling => true,
                RoundMode::HalfUp | RoundMode::HalfEven => {
                    let half = Big::pow10(drop as usize - 1)
                        .and_then(|h| h.mul_small(5))
                        .unwrap_or(Big::ZERO);
                    match r.cmp_mag(&half) {
                        Ordering::Greater => true,
                        Ordering::Less => false,
                        Ordering::Equal => mode == RoundMode::HalfUp || q.w[0] % 2 == 1,
                    }
                }
            }
        };
        if inc {
            q = q
                .add(&Big::small(1))
                .ok_or_else(|| Error::overflow("DECIMAL", self))?;
        }
        let out_frac = frac.max(0) as usize;
        let mut out_fw = words_for(out_frac);
        let mut value = if frac >= 0 {
            q.mul(&Big::pow10(out_fw * DIGITS_PER_WORD - out_frac).unwrap_or(Big::ZERO))
        } else {
            q.mul(&Big::pow10((-frac) as usize).unwrap_or(Big::ZERO))
        }
        .ok_or_else(|| Error::overflow("DECIMAL", self))?;
        if value.is_zero() {
            let mut z = zero_with_frac(out_frac as u8);
            z.digits_int = 1;
            return Ok(z);
        }
        let sig = int_digits(&value, out_fw);
        let di = (self.digits_int as usize).max(sig);
        let iw = words_for(di);
        if iw > WORD_BUF_LEN {
            return Err(Error::overflow("DECIMAL", self));
        }
        let mut out_frac = out_frac;
        if iw + out_fw > WORD_BUF_LEN {
            let keep = WORD_BUF_LEN - iw;
            value = rescale(&value, out_fw, keep);
            out_fw = keep;
            out_frac = keep * DIGITS_PER_WORD;
        }
        assemble(self.negative, &value, iw, out_fw, di, out_frac, out_frac)
            .ok_or_else(|| Error::overflow("DECIMAL", self))
    }
}
