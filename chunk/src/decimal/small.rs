//! Fast paths of comparison, addition, subtraction and multiplication for decimals of at most
//! four words (36 digits), the common case of money and quantities. They work on the
//! magnitude as a `u128` instead of the 40-limb scratch integer and follow the general
//! path's word-count rules step for step, so they give the same value in the same words,
//! digit counts and scale. Where anything would not fit they answer `None` and the general
//! path decides, errors included.

use std::cmp::Ordering;

use super::{words_for, Decimal, DIGITS_PER_WORD, WORD_BUF_LEN};

/// Words a magnitude taken as a `u128` may span.
const MAX_WORDS: usize = 4;
const BASE: u128 = 1_000_000_000;
const BASE2: u128 = BASE * BASE;

/// `BASE^n` for `n <= 4`.
fn base_pow(n: usize) -> Option<u128> {
    match n {
        0 => Some(1),
        1 => Some(BASE),
        2 => Some(BASE2),
        3 => Some(BASE2 * BASE),
        4 => Some(BASE2 * BASE2),
        _ => None,
    }
}

/// A magnitude `m` counting units of `10^-(9 × frac_words)`.
#[derive(Clone, Copy)]
struct Mag {
    m: u128,
    frac_words: usize,
}

impl Mag {
    fn of(d: &Decimal) -> Option<Mag> {
        let int_words = words_for(usize::from(d.digits_int));
        let frac_words = words_for(usize::from(d.digits_frac));
        let n = int_words + frac_words;
        if n > MAX_WORDS {
            return None;
        }
        let mut m = 0u128;
        for &word in &d.words[..n] {
            m = m * BASE + u128::from(word);
        }
        Some(Mag { m, frac_words })
    }

    /// The magnitude over `to` fraction words (truncating when narrowing), if it fits.
    fn rescaled(self, to: usize) -> Option<u128> {
        if to >= self.frac_words {
            self.m.checked_mul(base_pow(to - self.frac_words)?)
        } else {
            Some(self.m / base_pow(self.frac_words - to)?)
        }
    }
}

/// Number of decimal digits of `v` (0 for zero).
fn digits(v: u128) -> usize {
    match u64::try_from(v) {
        Ok(v) => v.checked_ilog10().map_or(0, |n| n as usize + 1),
        Err(_) => v.ilog10() as usize + 1,
    }
}

/// The general path's `assemble` for a `u128` magnitude: `m` fills `int_words + frac_words`
/// words, most significant first.
fn assemble(
    negative: bool,
    m: u128,
    int_words: usize,
    frac_words: usize,
    digits_int: usize,
    digits_frac: usize,
    result_frac: usize,
) -> Option<Decimal> {
    let n = int_words + frac_words;
    if n > WORD_BUF_LEN || digits_int > 81 || digits_frac > 81 {
        return None;
    }
    // The magnitude must fit its words (the general path's `m.top() <= n`).
    if n < 5 && m >= base_pow(n)? {
        return None;
    }
    let mut d = Decimal::zero();
    let mut rest = m;
    let mut i = n;
    // 128-bit division only while the rest needs it.
    while i > 0 && rest > u128::from(u64::MAX) {
        i -= 1;
        d.words[i] = (rest % BASE) as u32;
        rest /= BASE;
    }
    let mut rest = rest as u64;
    while i > 0 {
        i -= 1;
        d.words[i] = (rest % BASE as u64) as u32;
        rest /= BASE as u64;
    }
    d.digits_int = digits_int as u8;
    d.digits_frac = digits_frac as u8;
    d.result_frac = result_frac.min(usize::from(u8::MAX)) as u8;
    d.negative = negative && m != 0;
    Some(d)
}

/// `a` against `b`, when both magnitudes fit.
pub(super) fn cmp(a: &Decimal, b: &Decimal) -> Option<Ordering> {
    let (x, y) = (Mag::of(a)?, Mag::of(b)?);
    let to = x.frac_words.max(y.frac_words);
    let ord = x.rescaled(to)?.cmp(&y.rescaled(to)?);
    let (na, nb) = (a.is_negative(), b.is_negative());
    Some(match (na, nb) {
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (true, true) => ord.reverse(),
        (false, false) => ord,
    })
}

/// The general `add_mag`: `|a| + |b|` with sign `negative`.
pub(super) fn add_mag(
    a: &Decimal,
    b: &Decimal,
    negative: bool,
    result_frac: u8,
) -> Option<Decimal> {
    let (x, y) = (Mag::of(a)?, Mag::of(b)?);
    let (wi1, wi2) = (
        words_for(usize::from(a.digits_int)),
        words_for(usize::from(b.digits_int)),
    );
    let top = match wi1.cmp(&wi2) {
        Ordering::Greater => a.words[0],
        Ordering::Less => b.words[0],
        Ordering::Equal => a.words[0] + b.words[0],
    };
    let mut wi = wi1.max(wi2);
    if top >= super::WORD_BASE - 1 {
        wi += 1;
    }
    let wf = x.frac_words.max(y.frac_words);
    if wi + wf > WORD_BUF_LEN {
        return None;
    }
    let df = usize::from(a.digits_frac.max(b.digits_frac));
    let sum = x.rescaled(wf)?.checked_add(y.rescaled(wf)?)?;
    assemble(
        negative,
        sum,
        wi,
        wf,
        wi * DIGITS_PER_WORD,
        df,
        usize::from(result_frac),
    )
}

/// The general `sub_mag`: `|a| - |b|`, signed `negative` unless `|b| > |a|`.
pub(super) fn sub_mag(
    a: &Decimal,
    b: &Decimal,
    negative: bool,
    result_frac: u8,
) -> Option<Decimal> {
    let (x, y) = (Mag::of(a)?, Mag::of(b)?);
    let wf = x.frac_words.max(y.frac_words);
    let (p, q) = (x.rescaled(wf)?, y.rescaled(wf)?);
    let (big, neg) = match p.cmp(&q) {
        Ordering::Equal => return Some(super::arith::zero_with_frac(result_frac)),
        Ordering::Greater => (x, negative),
        Ordering::Less => (y, !negative),
    };
    let wi = words_for(digits(big.m / base_pow(big.frac_words)?));
    if wi + wf > WORD_BUF_LEN {
        return None;
    }
    let df = usize::from(a.digits_frac.max(b.digits_frac));
    let diff = p.abs_diff(q);
    assemble(
        neg,
        diff,
        wi,
        wf,
        wi * DIGITS_PER_WORD,
        df,
        usize::from(result_frac),
    )
}

/// The general `mul` while the product needs no fraction cut and fits a `u128`.
pub(super) fn mul(a: &Decimal, b: &Decimal) -> Option<Decimal> {
    let (x, y) = (Mag::of(a)?, Mag::of(b)?);
    let wi = words_for(usize::from(a.digits_int) + usize::from(b.digits_int));
    let mut wf = x.frac_words + y.frac_words;
    if wi + wf > WORD_BUF_LEN {
        return None;
    }
    let rf = (usize::from(a.result_frac) + usize::from(b.result_frac))
        .min(usize::from(Decimal::MAX_SCALE));
    let df = (usize::from(a.digits_frac) + usize::from(b.digits_frac)).min(31);
    let negative = a.negative != b.negative;
    let mut p = x.m.checked_mul(y.m)?;
    // The general path's overflow check (`p.top() > wi + wf`) is left to it.
    if wi + wf < 5 && p >= base_pow(wi + wf)? {
        return None;
    }
    if negative && p == 0 {
        return Some(super::arith::zero_with_frac(rf as u8));
    }
    if words_for(df) < wf {
        p /= base_pow(wf - words_for(df))?;
        wf = words_for(df);
    }
    // Leading zero words of the integer part go while more than 9 digits remain.
    let mut di = wi * DIGITS_PER_WORD;
    let mut iw = wi;
    while iw > 0 && di > DIGITS_PER_WORD && word_at(p, iw + wf - 1) == 0 {
        iw -= 1;
        di -= DIGITS_PER_WORD;
    }
    assemble(negative, p, iw, wf, di, df, rf)
}

/// Limb `i` (0 = least significant) of `m` in base 10^9.
fn word_at(m: u128, i: usize) -> u32 {
    match base_pow(i) {
        Some(unit) => ((m / unit) % BASE) as u32,
        // A u128 is below 10^39: limb 4 is its last.
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Decimals as columns hold them: decoded from their binary form at some precision and
    /// scale (leading zero words stripped), or parsed (leading zeros kept), or computed.
    fn decimal() -> impl Strategy<Value = Decimal> {
        (
            any::<i64>(),
            0u32..12,
            0u8..30,
            0u8..12,
            any::<bool>(),
            0u8..3,
        )
            .prop_map(|(v, shift, extra_int, frac, negative, form)| {
                let frac = frac.min(30);
                let magnitude = (v.unsigned_abs() >> shift) as u128;
                let unit = 10u128.pow(u32::from(frac));
                let text = format!(
                    "{}{}.{:0width$}",
                    if negative { "-" } else { "" },
                    magnitude / unit,
                    magnitude % unit,
                    width = usize::from(frac)
                );
                let text = if frac == 0 {
                    text.trim_end_matches('.').to_string()
                } else {
                    text
                };
                let parsed: Decimal = text.parse().expect("a decimal");
                match form {
                    0 => parsed,
                    1 => {
                        let int_digits = digits(magnitude / unit) as u8;
                        let precision = (int_digits + extra_int + frac).clamp(1, 65);
                        let mut out = Vec::new();
                        match parsed.encode_bin(precision, frac, &mut out) {
                            Ok(()) => Decimal::decode_bin(&out, precision, frac)
                                .map(|(d, _)| d)
                                .unwrap_or(parsed),
                            Err(_) => parsed,
                        }
                    }
                    _ => parsed.sub(&"1".parse().expect("one")).unwrap_or(parsed),
                }
            })
    }

    fn same(fast: Option<Decimal>, general: Result<Decimal, crate::error::Error>) {
        if let Some(fast) = fast {
            let general = general.expect("the general path succeeds where the fast one does");
            assert_eq!(
                fast.to_chunk_bytes(),
                general.to_chunk_bytes(),
                "{fast} vs {general}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn fast_paths_match_the_general_ones(a in decimal(), b in decimal()) {
            for (x, y) in [(a, b), (b, a), (a, a)] {
                if let Some(ord) = cmp(&x, &y) {
                    prop_assert_eq!(ord, x.cmp_general(&y));
                }
                let rf = x.result_frac.max(y.result_frac);
                same(add_mag(&x, &y, x.negative, rf), x.add_mag_general(&y, x.negative, rf));
                same(sub_mag(&x, &y, x.negative, rf), x.sub_mag_general(&y, x.negative, rf));
                same(mul(&x, &y), x.mul_general(&y));
            }
        }
    }

    #[test]
    fn money_takes_the_fast_paths() {
        let price: Decimal = "12345.67".parse().expect("price");
        let discount: Decimal = "0.05".parse().expect("discount");
        let one: Decimal = "1".parse().expect("one");
        assert!(mul(&price, &discount).is_some());
        assert!(sub_mag(&one, &discount, false, 2).is_some());
        assert!(add_mag(&price, &price, false, 2).is_some());
        assert_eq!(cmp(&price, &discount), Some(Ordering::Greater));
        let charge = price
            .mul(&one.sub(&discount).expect("1 - d"))
            .expect("product");
        assert_eq!(charge.to_string(), "11728.3865");
    }
}
