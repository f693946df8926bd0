//! Three-valued logic (AND, OR, XOR, NOT), IS NULL and IS TRUE / IS FALSE for every type.

use basalt_chunk::column::Column;
use basalt_proto::tipb::ScalarFuncSig as Sig;

use super::{def, Arity, FnDef, FnMeta};
use crate::context::EvalContext;
use crate::error::Result;
use crate::value::{collect_int, StackValue};

type Eval = fn(&mut EvalContext, &[StackValue<'_>], usize, &FnMeta) -> Result<Column>;

fn and(_: &mut EvalContext, args: &[StackValue<'_>], rows: usize, _: &FnMeta) -> Result<Column> {
    let (a, b) = (args[0].int()?, args[1].int()?);
    collect_int(rows, |i| {
        Ok(match (a.get(i), b.get(i)) {
            (Some(0), _) | (_, Some(0)) => Some(0),
            (Some(_), Some(_)) => Some(1),
            _ => None,
        })
    })
}

fn or(_: &mut EvalContext, args: &[StackValue<'_>], rows: usize, _: &FnMeta) -> Result<Column> {
    let (a, b) = (args[0].int()?, args[1].int()?);
    collect_int(rows, |i| {
        Ok(match (a.get(i), b.get(i)) {
            (Some(x), _) if x != 0 => Some(1),
            (_, Some(y)) if y != 0 => Some(1),
            (Some(_), Some(_)) => Some(0),
            _ => None,
        })
    })
}

fn xor(_: &mut EvalContext, args: &[StackValue<'_>], rows: usize, _: &FnMeta) -> Result<Column> {
    let (a, b) = (args[0].int()?, args[1].int()?);
    collect_int(rows, |i| {
        Ok(match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) => Some(i64::from((x != 0) ^ (y != 0))),
            _ => None,
        })
    })
}

/// A truth test over any fixed or string type: `truth(value)` says whether a non-NULL value is
/// true; `null` is the result for NULL (None keeps NULL).
macro_rules! truth_fn {
    ($view:ident, $truth:expr, $null:expr, $negate:expr) => {
        |_ctx: &mut EvalContext, args: &[StackValue<'_>], rows: usize, _meta: &FnMeta| {
            let a = args[0].$view()?;
            collect_int(rows, |i| {
                Ok(match a.get(i) {
                    Some(v) => Some(i64::from($truth(v) != $negate)),
                    None => $null,
                })
            })
        }
    };
}

fn is_null(view: &'static str) -> Eval {
    match view {
        "int" => truth_fn!(int, |_| false, Some(1), false),
        "real" => truth_fn!(real, |_| false, Some(1), false),
        "decimal" => truth_fn!(decimal, |_| false, Some(1), false),
        "time" => truth_fn!(time, |_| false, Some(1), false),
        "duration" => truth_fn!(duration, |_| false, Some(1), false),
        _ => truth_fn!(bytes, |_| false, Some(1), false),
    }
}

/// The logic function implementing `sig`.
pub fn lookup(sig: Sig) -> Option<FnDef> {
    let name = sig.as_str_name();
    let one = Arity::Exact(1);
    match sig {
        Sig::LogicalAnd => def!(name, Arity::Exact(2), and),
        Sig::LogicalOr => def!(name, Arity::Exact(2), or),
        Sig::LogicalXor => def!(name, Arity::Exact(2), xor),
        // NOT x: 1 when x is zero; NULL stays NULL.
        Sig::UnaryNotInt => def!(name, one, truth_fn!(int, |v: i64| v != 0, None, true)),
        Sig::UnaryNotReal => def!(name, one, truth_fn!(real, |v: f64| v != 0.0, None, true)),
        Sig::UnaryNotDecimal => def!(
            name,
            one,
            truth_fn!(decimal, |v: basalt_chunk::Decimal| !v.is_zero(), None, true)
        ),
        Sig::IntIsNull => def!(name, one, is_null("int")),
        Sig::RealIsNull => def!(name, one, is_null("real")),
        Sig::DecimalIsNull => def!(name, one, is_null("decimal")),
        Sig::TimeIsNull => def!(name, one, is_null("time")),
        Sig::DurationIsNull => def!(name, one, is_null("duration")),
        Sig::StringIsNull => def!(name, one, is_null("bytes")),
        Sig::IntIsTrue => def!(name, one, truth_fn!(int, |v: i64| v != 0, Some(0), false)),
        Sig::IntIsTrueWithNull => def!(name, one, truth_fn!(int, |v: i64| v != 0, None, false)),
        Sig::RealIsTrue => def!(
            name,
            one,
            truth_fn!(real, |v: f64| v != 0.0, Some(0), false)
        ),
        Sig::RealIsTrueWithNull => def!(name, one, truth_fn!(real, |v: f64| v != 0.0, None, false)),
        Sig::DecimalIsTrue => def!(
            name,
            one,
            truth_fn!(
                decimal,
                |v: basalt_chunk::Decimal| !v.is_zero(),
                Some(0),
                false
            )
        ),
        Sig::DecimalIsTrueWithNull => def!(
            name,
            one,
            truth_fn!(
                decimal,
                |v: basalt_chunk::Decimal| !v.is_zero(),
                None,
                false
            )
        ),
        Sig::IntIsFalse => def!(name, one, truth_fn!(int, |v: i64| v != 0, Some(0), true)),
        Sig::IntIsFalseWithNull => def!(name, one, truth_fn!(int, |v: i64| v != 0, None, true)),
        Sig::RealIsFalse => def!(name, one, truth_fn!(real, |v: f64| v != 0.0, Some(0), true)),
        Sig::RealIsFalseWithNull => def!(name, one, truth_fn!(real, |v: f64| v != 0.0, None, true)),
        Sig::DecimalIsFalse => def!(
            name,
            one,
            truth_fn!(
                decimal,
                |v: basalt_chunk::Decimal| !v.is_zero(),
                Some(0),
                true
            )
        ),
        Sig::DecimalIsFalseWithNull => def!(
            name,
            one,
            truth_fn!(decimal, |v: basalt_chunk::Decimal| !v.is_zero(), None, true)
        ),
        _ => None,
    }
}
