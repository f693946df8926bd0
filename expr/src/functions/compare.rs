//! Comparisons (`<`, `<=`, `>`, `>=`, `=`, `!=`, `<=>`) of every evaluation type; strings under
//! the call's collation; integers honouring each side's signedness.

use std::cmp::Ordering;

use basalt_chunk::column::{Column, FixedValue};
use basalt_proto::tipb::ScalarFuncSig as Sig;

use super::{def, Arity, FnDef, FnMeta};
use crate::context::EvalContext;
use crate::error::Result;
use crate::value::{collect_int, map2_dense, FixedView, StackValue};

#[derive(Debug, Clone, Copy)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    NullEq,
}

impl Op {
    #[inline]
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Op::Lt => ordering == Ordering::Less,
            Op::Le => ordering != Ordering::Greater,
            Op::Gt => ordering == Ordering::Greater,
            Op::Ge => ordering != Ordering::Less,
            Op::Eq | Op::NullEq => ordering == Ordering::Equal,
            Op::Ne => ordering != Ordering::Equal,
        }
    }

    /// The result for one row given the two sides (`None` = NULL) and a comparison.
    #[inline]
    fn apply<T>(
        self,
        a: Option<T>,
        b: Option<T>,
        cmp: impl Fn(T, T) -> Result<Ordering>,
    ) -> Result<Option<i64>> {
        match (a, b) {
            (Some(a), Some(b)) => Ok(Some(i64::from(self.holds(cmp(a, b)?)))),
            // `<=>` is never NULL: equal when both are NULL.
            (None, None) if matches!(self, Op::NullEq) => Ok(Some(1)),
            _ if matches!(self, Op::NullEq) => Ok(Some(0)),
            _ => Ok(None),
        }
    }
}

/// Compares two integers, each read as signed or unsigned.
#[inline]
pub fn compare_ints(a: i64, a_unsigned: bool, b: i64, b_unsigned: bool) -> Ordering {
    match (a_unsigned, b_unsigned) {
        (false, false) => a.cmp(&b),
        (true, true) => (a as u64).cmp(&(b as u64)),
        (true, false) => {
            if b < 0 {
                Ordering::Greater
            } else {
                (a as u64).cmp(&(b as u64))
            }
        }
        (false, true) => {
            if a < 0 {
                Ordering::Less
            } else {
                (a as u64).cmp(&(b as u64))
            }
        }
    }
}

fn fixed<T: FixedValue>(
    op: Op,
    a: FixedView<'_, T>,
    b: FixedView<'_, T>,
    rows: usize,
    cmp: impl Fn(T, T) -> Ordering,
) -> Result<Column> {
    // `<=>` is never NULL, so it cannot take the validity-AND fast path.
    if !matches!(op, Op::NullEq) {
        if let Some(column) = map2_dense(&a, &b, rows, |x, y| i64::from(op.holds(cmp(x, y)))) {
            return Ok(Column::Int(column?));
        }
    }
    collect_int(rows, |i| op.apply(a.get(i), b.get(i), |x, y| Ok(cmp(x, y))))
}

fn compare(
    op: Op,
    args: &[StackValue<'_>],
    rows: usize,
    meta: &FnMeta,
    kind: Kind,
) -> Result<Column> {
    let (a, b) = (&args[0], &args[1]);
    match kind {
        Kind::Int => {
            let (au, bu) = (meta.arg_unsigned(0), meta.arg_unsigned(1));
            fixed(op, a.int()?, b.int()?, rows, |x, y| {
                compare_ints(x, au, y, bu)
            })
        }
        Kind::Real => fixed(op, a.real()?, b.real()?, rows, |x: f64, y: f64| {
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }),
        Kind::Decimal => fixed(op, a.decimal()?, b.decimal()?, rows, |x, y| x.cmp(&y)),
        Kind::Time => fixed(op, a.time()?, b.time()?, rows, |x, y| x.cmp(&y)),
        Kind::Duration => fixed(op, a.duration()?, b.duration()?, rows, |x, y| x.cmp(&y)),
        Kind::String => {
            let (a, b) = (a.bytes()?, b.bytes()?);
            let collation = meta.collation;
            if collation.is_binary() {
                collect_int(rows, |i| op.apply(a.get(i), b.get(i), |x, y| Ok(x.cmp(y))))
            } else {
                collect_int(rows, |i| {
                    op.apply(a.get(i), b.get(i), |x, y| Ok(collation.compare(x, y)?))
                })
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Int,
    Real,
    Decimal,
    String,
    Time,
    Duration,
}

macro_rules! comparisons {
    ($sig:expr, $( $variant:ident => ($op:ident, $kind:ident) ),* $(,)?) => {
        match $sig {
            $( Sig::$variant => def!(
                Sig::$variant.as_str_name(),
                Arity::Exact(2),
                |_ctx: &mut EvalContext, args: &[StackValue<'_>], rows: usize, meta: &FnMeta| {
                    compare(Op::$op, args, rows, meta, Kind::$kind)
                }
            ), )*
            _ => None,
        }
    };
}

/// The comparison implementing `sig`.
pub fn lookup(sig: Sig) -> Option<FnDef> {
    comparisons!(sig,
        LtInt => (Lt, Int), LeInt => (Le, Int), GtInt => (Gt, Int), GeInt => (Ge, Int),
        EqInt => (Eq, Int), NeInt => (Ne, Int), NullEqInt => (NullEq, Int),
        LtReal => (Lt, Real), LeReal => (Le, Real), GtReal => (Gt, Real), GeReal => (Ge, Real),
        EqReal => (Eq, Real), NeReal => (Ne, Real), NullEqReal => (NullEq, Real),
        LtDecimal => (Lt, Decimal), LeDecimal => (Le, Decimal), GtDecimal => (Gt, Decimal),
        GeDecimal => (Ge, Decimal), EqDecimal => (Eq, Decimal), NeDecimal => (Ne, Decimal),
        NullEqDecimal => (NullEq, Decimal),
        LtString => (Lt, String), LeString => (Le, String), GtString => (Gt, String),
        GeString => (Ge, String), EqString => (Eq, String), NeString => (Ne, String),
        NullEqString => (NullEq, String),
        LtTime => (Lt, Time), LeTime => (Le, Time), GtTime => (Gt, Time), GeTime => (Ge, Time),
        EqTime => (Eq, Time), NeTime => (Ne, Time), NullEqTime => (NullEq, Time),
        LtDuration => (Lt, Duration), LeDuration => (Le, Duration), GtDuration => (Gt, Duration),
        GeDuration => (Ge, Duration), EqDuration => (Eq, Duration), NeDuration => (Ne, Duration),
        NullEqDuration => (NullEq, Duration),
    )
}
