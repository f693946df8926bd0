//! Control flow (`IFNULL`, `IF`, `CASE WHEN`, `COALESCE`), `IN` lists and `LIKE`, for every
//! evaluation type.
//!
//! The control functions only pick, per row, which argument's value becomes the result; they are
//! written once over a [`Family`] (how to view an argument of one evaluation type and how to build
//! a result column of it) and instantiated per type.
//!
//! `IN` follows MySQL's NULL rules: a NULL probe gives NULL; a match gives 1; otherwise any NULL
//! in the list gives NULL, else 0. Constant list members are hashed once per call (strings by
//! their collation sort key); the others are compared row by row.
//!
//! `LIKE` matches `%` and `_` with an escape character, in one of three modes chosen from the
//! call's collation as TiKV chooses them: bytes (`binary`), characters compared by identity (the
//! `*_bin` collations, `latin1_bin`, and every collation of the old framework, whose ids are
//! non-negative), or characters compared by the collation's weights (the case-insensitive
//! collations). Malformed UTF-8 decodes as U+FFFD one byte at a time, as TiDB does. A constant
//! pattern is compiled once per call.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::hash::Hash;
use std::marker::PhantomData;

use basalt_chunk::codec::datum::Datum;
use basalt_chunk::collation::Collation;
use basalt_chunk::column::{BytesColumn, Column, FixedColumn, FixedValue};
use basalt_chunk::json::{JsonRef, JsonType};
use basalt_chunk::{DateTime, Decimal, Duration, Json};
use basalt_proto::tipb::ScalarFuncSig as Sig;

use super::{def, Arity, FnDef, FnMeta};
use crate::context::EvalContext;
use crate::error::Result;
use crate::value::{collect_int, BytesView, FixedView, JsonView, StackValue};

// ---------------------------------------------------------------------------------------------
// Argument views and result builders per evaluation type.

/// One evaluation type: how an argument is viewed and how a result column is built.
trait Family {
    /// The typed view of one argument.
    type View<'a>;
    /// One value read from a view.
    type Item<'v>: Copy;
    /// The result being built.
    type Out;

    fn view<'a>(arg: &'a StackValue<'_>) -> Result<Self::View<'a>>;
    fn get<'v>(view: &'v Self::View<'_>, i: usize) -> Option<Self::Item<'v>>;
    fn out(rows: usize) -> Self::Out;
    fn push(out: &mut Self::Out, value: Option<Self::Item<'_>>);
    fn finish(out: Self::Out) -> Column;
}

/// A fixed-width evaluation type.
trait FixedKind: FixedValue {
    fn view<'a>(arg: &'a StackValue<'_>) -> Result<FixedView<'a, Self>>;
    fn wrap(column: FixedColumn<Self>) -> Column;
}

macro_rules! fixed_kind {
    ($type:ty, $view:ident, $variant:ident) => {
        impl FixedKind for $type {
            fn view<'a>(arg: &'a StackValue<'_>) -> Result<FixedView<'a, Self>> {
                arg.$view()
            }
            fn wrap(column: FixedColumn<Self>) -> Column {
                Column::$variant(column)
            }
        }
    };
}

fixed_kind!(i64, int, Int);
fixed_kind!(f64, real, Real);
fixed_kind!(Decimal, decimal, Decimal);
fixed_kind!(DateTime, time, DateTime);
fixed_kind!(Duration, duration, Duration);

/// The family of a fixed-width type.
struct Fixed<T>(PhantomData<T>);

impl<T: FixedKind> Family for Fixed<T> {
    type View<'a> = FixedView<'a, T>;
    type Item<'v> = T;
    type Out = FixedColumn<T>;

    fn view<'a>(arg: &'a StackValue<'_>) -> Result<FixedView<'a, T>> {
        T::view(arg)
    }
    #[inline]
    fn get(view: &FixedView<'_, T>, i: usize) -> Option<T> {
        view.get(i)
    }
    fn out(rows: usize) -> FixedColumn<T> {
        FixedColumn::with_capacity(rows)
    }
    #[inline]
    fn push(out: &mut FixedColumn<T>, value: Option<T>) {
        out.push(value);
    }
    fn finish(out: FixedColumn<T>) -> Column {
        T::wrap(out)
    }
}

/// Strings (`Column::Bytes`).
struct Str;

impl Family for Str {
    type View<'a> = BytesView<'a>;
    type Item<'v> = &'v [u8];
    type Out = BytesColumn;

    fn view<'a>(arg: &'a StackValue<'_>) -> Result<BytesView<'a>> {
        arg.bytes()
    }
    #[inline]
    fn get<'v>(view: &'v BytesView<'_>, i: usize) -> Option<&'v [u8]> {
        view.get(i)
    }
    fn out(rows: usize) -> BytesColumn {
        BytesColumn::with_capacity(rows)
    }
    #[inline]
    fn push(out: &mut BytesColumn, value: Option<&[u8]>) {
        out.push(value);
    }
    fn finish(out: BytesColumn) -> Column {
        Column::Bytes(out)
    }
}

/// JSON documents (`Column::Json`), copied as element bytes.
struct JsonFamily;

impl Family for JsonFamily {
    type View<'a> = JsonView<'a>;
    type Item<'v> = &'v [u8];
    type Out = BytesColumn;

    fn view<'a>(arg: &'a StackValue<'_>) -> Result<JsonView<'a>> {
        arg.json()
    }
    #[inline]
    fn get<'v>(view: &'v JsonView<'_>, i: usize) -> Option<&'v [u8]> {
        view.get(i)
    }
    fn out(rows: usize) -> BytesColumn {
        BytesColumn::with_capacity(rows)
    }
    #[inline]
    fn push(out: &mut BytesColumn, value: Option<&[u8]>) {
        out.push(value);
    }
    fn finish(out: BytesColumn) -> Column {
        Column::Json(out)
    }
}

// ---------------------------------------------------------------------------------------------
// IFNULL, IF, CASE WHEN, COALESCE.

/// Whether a condition value is true: non-NULL and non-zero.
#[inline]
fn truthy(cond: Option<i64>) -> bool {
    cond.is_some_and(|c| c != 0)
}

/// `IFNULL(a, b)`: `a` unless it is NULL, then `b`.
fn if_null<F: Family>(
    _: &mut EvalContext,
    args: &[StackValue<'_>],
    rows: usize,
    _: &FnMeta,
) -> Result<Column> {
    let (a, b) = (F::view(&args[0])?, F::view(&args[1])?);
    let mut out = F::out(rows);
    for i in 0..rows {
        let value = F::get(&a, i).or_else(|| F::get(&b, i));
        F::push(&mut out, value);
    }
    Ok(F::finish(out))
}

/// `IF(cond, then, else)`: `then` when the condition is true, else `else` (also when NULL).
fn if_cond<F: Family>(
    _: &mut EvalContext,
    args: &[StackValue<'_>],
    rows: usize,
    _: &FnMeta,
) -> Result<Column> {
    let cond = args[0].int()?;
    let (then, otherwise) = (F::view(&args[1])?, F::view(&args[2])?);
    let mut out = F::out(rows);
    for i in 0..rows {
        let value = if truthy(cond.get(i)) {
            F::get(&then, i)
        } else {
            F::get(&otherwise, i)
        };
        F::push(&mut out, value);
    }
    Ok(F::finish(out))
}

/// `CASE WHEN c1 THEN v1 [WHEN c2 THEN v2 …] [ELSE e] END`: the value of the first true
/// condition, else `e`, else NULL.
fn case_when<F: Family>(
    _: &mut EvalContext,
    args: &[StackValue<'_>],
    rows: usize,
    _: &FnMeta,
) -> Result<Column> {
    let pairs = args.len() / 2;
    let mut conds = Vec::with_capacity(pairs);
    let mut values = Vec::with_capacity(pairs);
    for pair in args.chunks_exact(2) {
        conds.push(pair[0].int()?);
        values.push(F::view(&pair[1])?);
    }
    let otherwise = match args.len() % 2 {
        1 => Some(F::view(&args[args.len() - 1])?),
        _ => None,
    };
    let mut out = F::out(rows);
    for i in 0..rows {
        let value = match conds.iter().position(|cond| truthy(cond.get(i))) {
            Some(k) => F::get(&values[k], i),
            None => otherwise.as_ref().and_then(|e| F::get(e, i)),
        };
        F::push(&mut out, value);
    }
    Ok(F::finish(out))
}

/// `COALESCE(a, b, …)`: the first non-NULL argument, else NULL.
fn coalesce<F: Family>(
    _: &mut EvalContext,
    args: &[StackValue<'_>],
    rows: usize,
    _: &FnMeta,
) -> Result<Column> {
    let views = args.iter().map(F::view).collect::<Result<Vec<_>>>()?;
    let mut out = F::out(rows);
    for i in 0..rows {
        let value = views.iter().find_map(|view| F::get(view, i));
        F::push(&mut out, value);
    }
    Ok(F::finish(out))
}

// ---------------------------------------------------------------------------------------------
// IN.

/// The result of one row of `IN` when nothing matched.
#[inline]
fn no_match(saw_null: bool) -> Option<i64> {
    if saw_null {
        None
    } else {
        Some(0)
    }
}

/// `IN` over a fixed-width type whose values are compared through `key(argument index, value)`:
/// equal keys are equal values.
fn in_fixed<T: FixedKind, K: Hash + Eq>(
    args: &[StackValue<'_>],
    rows: usize,
    key: impl Fn(usize, T) -> K,
) -> Result<Column> {
    let probe = T::view(&args[0])?;
    let mut set = HashSet::new();
    let mut const_null = false;
    let mut columns = Vec::new();
    for (j, arg) in args.iter().enumerate().skip(1) {
        match T::view(arg)? {
            FixedView::Const(Some(v)) => {
                set.insert(key(j, v));
            }
            FixedView::Const(None) => const_null = true,
            view => columns.push((j, view)),
        }
    }
    collect_int(rows, |i| {
        let Some(p) = probe.get(i) else {
            return Ok(None);
        };
        let p = key(0, p);
        if set.contains(&p) {
            return Ok(Some(1));
        }
        let mut saw_null = const_null;
        for (j, column) in &columns {
            match column.get(i) {
                Some(v) if key(*j, v) == p => return Ok(Some(1)),
                Some(_) => {}
                None => saw_null = true,
            }
        }
        Ok(no_match(saw_null))
    })
}

/// `IN` over integers: each argument read as signed or unsigned by its own type (an unsigned
/// constant counts as unsigned), so `-1` never equals `18446744073709551615`.
fn in_int(
    _: &mut EvalContext,
    args: &[StackValue<'_>],
    rows: usize,
    meta: &FnMeta,
) -> Result<Column> {
    let unsigned: Vec<bool> = args
        .iter()
        .enumerate()
        .map(|(j, arg)| meta.arg_unsigned(j) || matches!(arg, StackValue::Const(Datum::Uint(_))))
        .collect();
    in_fixed(args, rows, |j, v: i64| {
        if unsigned[j] {
            i128::from(v as u64)
        } else {
            i128::from(v)
        }
    })
}

/// The bits a double hashes by: `-0.0` as `0.0`, every NaN alike.
#[inline]
fn real_key(v: f64) -> u64 {
    if v == 0.0 {
        0
    } else if v.is_nan() {
        f64::NAN.to_bits()
    } else {
        v.to_bits()
    }
}

fn in_real(
    _: &mut EvalContext,
    args: &[StackValue<'_>],
    rows: usize,
    _: &FnMeta,
) -> Result<Column> {
    in_fixed(args, rows, |_, v: f64| real_key(v))
}

/// `IN` over decimals, times or durations, whose equality and hashing are by value.
fn in_plain<T: FixedKind + Hash + Eq>(
    _: &mut EvalContext,
    args: &[StackValue<'_>],
    rows: usize,
    _: &FnMeta,
) -> Result<Column> {
    in_fixed(args, rows, |_, v: T| v)
}

/// `IN` over strings under the call's collation.
fn in_string(
    _: &mut EvalContext,
    args: &[StackValue<'_>],
    rows: usize,
    meta: &FnMeta,
) -> Result<Column> {
    let collation = meta.collation;
    let binary = collation.is_binary();
    let probe = args[0].bytes()?;
    let mut set: HashSet<Vec<u8>> = HashSet::new();
    let mut const_null = false;
    let mut columns = Vec::new();
    for arg in &args[1..] {
        match arg.bytes()? {
            BytesView::Const(Some(v)) => {
                set.insert(collation.sort_key_vec(v)?);
            }
            BytesView::Const(None) => const_null = true,
            view => columns.push(view),
        }
    }
    let mut key = Vec::new();
    collect_int(rows, |i| {
        let Some(p) = probe.get(i) else {
            return Ok(None);
        };
        if !set.is_empty() {
            let hit = if binary {
                set.contains(p)
            } else {
                key.clear();
                collation.sort_key(p, &mut key)?;
                set.contains(key.as_slice())
            };
            if hit {
                return Ok(Some(1));
            }
        }
        let mut saw_null = const_null;
        for column in &columns {
            match column.get(i) {
                Some(v) => {
                    if collation.compare(p, v)? == Ordering::Equal {
                        return Ok(Some(1));
                    }
                }
                None => saw_null = true,
            }
        }
        Ok(no_match(saw_null))
    })
}

/// `IN` over JSON documents, compared as MySQL compares JSON values.
fn in_json(
    _: &mut EvalContext,
    args: &[StackValue<'_>],
    rows: usize,
    _: &FnMeta,
) -> Result<Column> {
    let probe = &args[0].json()?;
    let mut constants = Vec::new();
    let mut const_null = false;
    let mut columns = Vec::new();
    for arg in &args[1..] {
        match arg {
            StackValue::Const(Datum::Null) => const_null = true,
            StackValue::Const(Datum::Json(json)) => constants.push(json.clone()),
            other => columns.push(other.json()?),
        }
    }
    collect_int(rows, |i| {
        let Some(p) = probe.get(i) else {
            return Ok(None);
        };
        let p = Json::from_bytes(p)?;
        for c in &constants {
            if json_cmp(p.as_ref(), c.as_ref())? == Some(Ordering::Equal) {
                return Ok(Some(1));
            }
        }
        let mut saw_null = const_null;
        for column in &columns {
            match column.get(i) {
                Some(v) => {
                    let v = Json::from_bytes(v)?;
                    if json_cmp(p.as_ref(), v.as_ref())? == Some(Ordering::Equal) {
                        return Ok(Some(1));
                    }
                }
                None => saw_null = true,
            }
        }
        Ok(no_match(saw_null))
    })
}

/// The rank of a JSON value's type in MySQL's cross-type JSON order (TiDB's precedences).
fn json_precedence(j: JsonRef<'_>) -> Result<i8> {
    Ok(match j.json_type()? {
        JsonType::Object => -9,
        JsonType::Array => -8,
        JsonType::Literal if j.is_null() => -12,
        JsonType::Literal => -7,
        JsonType::I64 | JsonType::U64 | JsonType::Double => -11,
        JsonType::String => -10,
        JsonType::Opaque => -3,
        JsonType::Date => -6,
        JsonType::Datetime | JsonType::Timestamp => -4,
        JsonType::Time => -5,
    })
}

/// A JSON number.
#[derive(Clone, Copy)]
enum JsonNumber {
    I(i64),
    U(u64),
    F(f64),
}

fn json_number(j: JsonRef<'_>) -> Result<JsonNumber> {
    if let Some(v) = j.as_i64()? {
        Ok(JsonNumber::I(v))
    } else if let Some(v) = j.as_u64()? {
        Ok(JsonNumber::U(v))
    } else {
        Ok(JsonNumber::F(j.as_f64()?.unwrap_or(0.0)))
    }
}

fn compare_i64_u64(x: i64, y: u64) -> Ordering {
    if x < 0 {
        Ordering::Less
    } else {
        (x as u64).cmp(&y)
    }
}

/// Doubles within `f64::EPSILON` of each other are equal, as in TiDB's JSON comparison.
fn compare_f64_epsilon(x: f64, y: f64) -> Option<Ordering> {
    if (x - y).abs() < f64::EPSILON {
        Some(Ordering::Equal)
    } else {
        x.partial_cmp(&y)
    }
}

/// Compares two JSON values as MySQL does; `None` where no order is defined.
fn json_cmp(a: JsonRef<'_>, b: JsonRef<'_>) -> Result<Option<Ordering>> {
    let (pa, pb) = (json_precedence(a)?, json_precedence(b)?);
    if pa != pb {
        return Ok(Some(pa.cmp(&pb)));
    }
    Ok(match a.json_type()? {
        JsonType::Literal => {
            if a.is_null() {
                Some(Ordering::Equal)
            } else {
                a.as_bool()?.partial_cmp(&b.as_bool()?)
            }
        }
        JsonType::I64 | JsonType::U64 | JsonType::Double => {
            let as_f64 = |n: JsonNumber| match n {
                JsonNumber::I(v) => v as f64,
                JsonNumber::U(v) => v as f64,
                JsonNumber::F(v) => v,
            };
            match (json_number(a)?, json_number(b)?) {
                (JsonNumber::I(x), JsonNumber::I(y)) => Some(x.cmp(&y)),
                (JsonNumber::U(x), JsonNumber::U(y)) => Some(x.cmp(&y)),
                (JsonNumber::I(x), JsonNumber::U(y)) => Some(compare_i64_u64(x, y)),
                (JsonNumber::U(x), JsonNumber::I(y)) => Some(compare_i64_u64(y, x).reverse()),
                (x, y) => compare_f64_epsilon(as_f64(x), as_f64(y)),
            }
        }
        JsonType::String => a.as_str_bytes()?.partial_cmp(&b.as_str_bytes()?),
        // Objects only have equality.
        JsonType::Object => a.value().partial_cmp(b.value()),
        JsonType::Array => {
            let (na, nb) = (a.array_len()?.unwrap_or(0), b.array_len()?.unwrap_or(0));
            for k in 0..na.min(nb) {
                let (Some(x), Some(y)) = (a.array_get(k)?, b.array_get(k)?) else {
                    return Ok(None);
                };
                match json_cmp(x, y)? {
                    Some(Ordering::Equal) => {}
                    other => return Ok(other),
                }
            }
            Some(na.cmp(&nb))
        }
        JsonType::Opaque => {
            let x = a.as_opaque()?.map(|(_, bytes)| bytes);
            let y = b.as_opaque()?.map(|(_, bytes)| bytes);
            x.partial_cmp(&y)
        }
        // The low four bits of the packed core time are the fsp/type tag, not the instant.
        JsonType::Date | JsonType::Datetime | JsonType::Timestamp => {
            let instant = |j: JsonRef<'_>| j.as_core_time().map(|t| t.map(|t| t >> 4));
            instant(a)?.partial_cmp(&instant(b)?)
        }
        JsonType::Time => {
            let nanos = |j: JsonRef<'_>| j.as_duration().map(|d| d.map(|(n, _)| n));
            nanos(a)?.partial_cmp(&nanos(b)?)
        }
    })
}

// ---------------------------------------------------------------------------------------------
// LIKE.

/// How LIKE reads and compares the strings.
#[derive(Debug, Clone, Copy)]
enum LikeMode {
    /// Byte by byte (`binary`).
    Bytes,
    /// UTF-8 characters, literal characters matching only themselves.
    Runes,
    /// UTF-8 characters, literal characters matching by the collation's weights.
    Weighted(Collation),
}

/// The mode TiKV picks for the call's collation: the old collation framework (a non-negative
/// id) always matches characters by identity.
fn like_mode(meta: &FnMeta) -> LikeMode {
    if meta.field_type.collate >= 0 {
        return LikeMode::Runes;
    }
    match meta.collation {
        Collation::Binary => LikeMode::Bytes,
        c if c.is_case_insensitive() => LikeMode::Weighted(c),
        _ => LikeMode::Runes,
    }
}

/// One element of a compiled pattern.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok<U> {
    /// A character that must match.
    Lit(U),
    /// `_`: any one character.
    One,
    /// `%`: any run of characters.
    Many,
}

/// How a mode splits strings into units.
trait Units {
    type U: Copy + PartialEq;
    /// The units of `s`, in `buf` if they need decoding.
    fn units<'b>(s: &'b [u8], buf: &'b mut Vec<Self::U>) -> &'b [Self::U];
    fn code(u: Self::U) -> u32;
}

/// Bytes are the units.
struct ByteUnits;

impl Units for ByteUnits {
    type U = u8;
    #[inline]
    fn units<'b>(s: &'b [u8], _: &'b mut Vec<u8>) -> &'b [u8] {
        s
    }
    #[inline]
    fn code(u: u8) -> u32 {
        u32::from(u)
    }
}

/// UTF-8 characters are the units; a malformed byte is one U+FFFD.
struct CharUnits;

impl Units for CharUnits {
    type U = char;
    fn units<'b>(s: &'b [u8], buf: &'b mut Vec<char>) -> &'b [char] {
        buf.clear();
        decode_lossy(s, buf);
        buf
    }
    #[inline]
    fn code(u: char) -> u32 {
        u32::from(u)
    }
}

/// Decodes UTF-8 like Go's `utf8.DecodeRune`: each malformed sequence start is one U+FFFD that
/// consumes one byte.
fn decode_lossy(s: &[u8], out: &mut Vec<char>) {
    if let Ok(text) = std::str::from_utf8(s) {
        out.extend(text.chars());
        return;
    }
    let mut rest = s;
    while let Some(&first) = rest.first() {
        let width = match first {
            0x00..=0x7f => 1,
            0xc2..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf4 => 4,
            _ => 0,
        };
        let decoded = rest
            .get(..width)
            .filter(|_| width > 0)
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .and_then(|text| text.chars().next());
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[width..];
            }
            None => {
                out.push(char::REPLACEMENT_CHARACTER);
                rest = &rest[1..];
            }
        }
    }
}

/// Compiles pattern units: the escape character makes the next unit literal (at the very end
/// it is a literal itself); `_` and `%` are wildcards; runs of `%` collapse.
fn compile<U: Copy>(pattern: &[U], code: impl Fn(U) -> u32, escape: u32, out: &mut Vec<Tok<U>>) {
    let mut units = pattern.iter().copied();
    while let Some(u) = units.next() {
        let c = code(u);
        let tok = if c == escape {
            Tok::Lit(units.next().unwrap_or(u))
        } else if c == u32::from('_') {
            Tok::One
        } else if c == u32::from('%') {
            if matches!(out.last(), Some(Tok::Many)) {
                continue;
            }
            Tok::Many
        } else {
            Tok::Lit(u)
        };
        out.push(tok);
    }
}

/// Whether `text` matches the compiled pattern; `eq(text unit, pattern unit)` compares literals.
/// Greedy with backtracking to the last `%` only, which is exact for these patterns.
fn glob<U: Copy>(pattern: &[Tok<U>], text: &[U], eq: impl Fn(U, U) -> bool) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where to resume after the last `%`: pattern index after it, text index it matched up to.
    let mut resume: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Tok::Many) => {
                p += 1;
                resume = Some((p, t));
                continue;
            }
            Some(Tok::One) => {
                p += 1;
                t += 1;
                continue;
            }
            Some(Tok::Lit(u)) if eq(text[t], *u) => {
                p += 1;
                t += 1;
                continue;
            }
            _ => {}
        }
        match resume {
            Some((rp, rt)) => {
                resume = Some((rp, rt + 1));
                p = rp;
                t = rt + 1;
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|tok| matches!(tok, Tok::Many))
}

fn like_with<D: Units>(
    target: BytesView<'_>,
    pattern: BytesView<'_>,
    escape: FixedView<'_, i64>,
    rows: usize,
    eq: impl Fn(D::U, D::U) -> bool,
) -> Result<Column> {
    let mut units: Vec<D::U> = Vec::new();
    // A constant pattern with a constant escape compiles once for the whole call.
    let compiled = match (&pattern, &escape) {
        (BytesView::Const(Some(p)), FixedView::Const(Some(e))) => {
            let mut toks = Vec::new();
            compile(D::units(p, &mut units), D::code, *e as u32, &mut toks);
            Some(toks)
        }
        _ => None,
    };
    let mut toks = Vec::new();
    let mut text_buf: Vec<D::U> = Vec::new();
    collect_int(rows, |i| {
        let (Some(t), Some(p), Some(e)) = (target.get(i), pattern.get(i), escape.get(i)) else {
            return Ok(None);
        };
        let pattern = match &compiled {
            Some(compiled) => compiled.as_slice(),
            None => {
                toks.clear();
                compile(D::units(p, &mut units), D::code, e as u32, &mut toks);
                toks.as_slice()
            }
        };
        let text = D::units(t, &mut text_buf);
        Ok(Some(i64::from(glob(pattern, text, &eq))))
    })
}

/// `target LIKE pattern ESCAPE escape` (the escape as a code point).
fn like(
    _: &mut EvalContext,
    args: &[StackValue<'_>],
    rows: usize,
    meta: &FnMeta,
) -> Result<Column> {
    let (target, pattern, escape) = (args[0].bytes()?, args[1].bytes()?, args[2].int()?);
    match like_mode(meta) {
        LikeMode::Bytes => like_with::<ByteUnits>(target, pattern, escape, rows, |a, b| a == b),
        LikeMode::Runes => like_with::<CharUnits>(target, pattern, escape, rows, |a, b| a == b),
        LikeMode::Weighted(collation) => {
            like_with::<CharUnits>(target, pattern, escape, rows, move |a, b| {
                a == b || collation.like_char_eq(a, b)
            })
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Registry.

/// Picks the instantiation of a generic control function for each evaluation type.
macro_rules! per_type {
    ($sig:expr, $name:expr, $arity:expr, $f:ident,
     $int:ident, $real:ident, $dec:ident, $str:ident, $time:ident, $dur:ident, $json:ident) => {
        match $sig {
            Sig::$int => return def!($name, $arity, $f::<Fixed<i64>>),
            Sig::$real => return def!($name, $arity, $f::<Fixed<f64>>),
            Sig::$dec => return def!($name, $arity, $f::<Fixed<Decimal>>),
            Sig::$str => return def!($name, $arity, $f::<Str>),
            Sig::$time => return def!($name, $arity, $f::<Fixed<DateTime>>),
            Sig::$dur => return def!($name, $arity, $f::<Fixed<Duration>>),
            Sig::$json => return def!($name, $arity, $f::<JsonFamily>),
            _ => {}
        }
    };
}

/// The control function implementing `sig`.
pub fn lookup(sig: Sig) -> Option<FnDef> {
    let name = sig.as_str_name();
    per_type! { sig, name, Arity::Exact(2), if_null,
    IfNullInt, IfNullReal, IfNullDecimal, IfNullString, IfNullTime, IfNullDuration, IfNullJson }
    per_type! { sig, name, Arity::Exact(3), if_cond,
    IfInt, IfReal, IfDecimal, IfString, IfTime, IfDuration, IfJson }
    per_type! { sig, name, Arity::AtLeast(1), case_when,
    CaseWhenInt, CaseWhenReal, CaseWhenDecimal, CaseWhenString, CaseWhenTime,
    CaseWhenDuration, CaseWhenJson }
    // COALESCE() with no arguments is NULL, as in TiKV.
    per_type! { sig, name, Arity::AtLeast(0), coalesce,
    CoalesceInt, CoalesceReal, CoalesceDecimal, CoalesceString, CoalesceTime,
    CoalesceDuration, CoalesceJson }
    let list = Arity::AtLeast(1);
    match sig {
        Sig::InInt => def!(name, list, in_int),
        Sig::InReal => def!(name, list, in_real),
        Sig::InDecimal => def!(name, list, in_plain::<Decimal>),
        Sig::InString => def!(name, list, in_string),
        Sig::InTime => def!(name, list, in_plain::<DateTime>),
        Sig::InDuration => def!(name, list, in_plain::<Duration>),
        Sig::InJson => def!(name, list, in_json),
        Sig::LikeSig => def!(name, Arity::Exact(3), like),
        _ => None,
    }
}
