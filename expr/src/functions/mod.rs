//! The scalar functions: a registry from `ScalarFuncSig` to implementations. Each
//! implementation receives its arguments as stack values, picks typed views once, and loops over
//! the rows.

mod arith;
mod cast;
mod compare;
mod control;
mod logic;
mod math;
mod string;
mod time;

use basalt_chunk::collation::Collation;
use basalt_chunk::column::Column;
use basalt_chunk::types::FieldType;
use basalt_proto::tipb::ScalarFuncSig;

use crate::context::EvalContext;
use crate::error::Result;
use crate::value::StackValue;

/// The function body: context, arguments, number of rows, call metadata → result column.
pub type EvalFn = fn(&mut EvalContext, &[StackValue<'_>], usize, &FnMeta) -> Result<Column>;

/// How many arguments a function takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// Exactly this many.
    Exact(usize),
    /// At least this many.
    AtLeast(usize),
}

impl Arity {
    /// Whether `count` arguments fit.
    pub fn accepts(&self, count: usize) -> bool {
        match self {
            Arity::Exact(n) => count == *n,
            Arity::AtLeast(n) => count >= *n,
        }
    }
}

/// A function implementation.
#[derive(Debug, Clone, Copy)]
pub struct FnDef {
    /// The signature's name, for errors and EXPLAIN.
    pub name: &'static str,
    /// Accepted argument counts.
    pub arity: Arity,
    /// The body.
    pub eval: EvalFn,
}

/// Everything a call knows besides its argument values.
#[derive(Debug, Clone)]
pub struct FnMeta {
    /// The signature.
    pub sig: ScalarFuncSig,
    /// The result type.
    pub field_type: FieldType,
    /// The arguments' types.
    pub arg_types: Vec<FieldType>,
    /// The collation strings are compared with (from the call's field type, as TiKV does).
    pub collation: Collation,
}

impl FnMeta {
    /// Metadata of a call of `sig` returning `field_type` over arguments of `arg_types`.
    pub fn new(
        sig: ScalarFuncSig,
        field_type: FieldType,
        arg_types: Vec<FieldType>,
    ) -> Result<Self> {
        let collation = Collation::from_i32(field_type.collate).unwrap_or(Collation::Binary);
        Ok(FnMeta {
            sig,
            field_type,
            arg_types,
            collation,
        })
    }

    /// Whether argument `i` is UNSIGNED.
    pub fn arg_unsigned(&self, i: usize) -> bool {
        self.arg_types.get(i).is_some_and(FieldType::is_unsigned)
    }
}

/// The implementation of `sig`, if this build has one.
pub fn lookup(sig: ScalarFuncSig) -> Option<FnDef> {
    compare::lookup(sig)
        .or_else(|| arith::lookup(sig))
        .or_else(|| logic::lookup(sig))
        .or_else(|| control::lookup(sig))
        .or_else(|| string::lookup(sig))
        .or_else(|| cast::lookup(sig))
        .or_else(|| time::lookup(sig))
        .or_else(|| math::lookup(sig))
}

/// Every implemented signature, for coverage reports.
pub fn implemented() -> Vec<ScalarFuncSig> {
    (0..=i32::from(u16::MAX))
        .filter_map(|code| ScalarFuncSig::try_from(code).ok())
        .filter(|sig| lookup(*sig).is_some())
        .collect()
}

/// Defines a `FnDef` value.
macro_rules! def {
    ($name:expr, $arity:expr, $eval:expr) => {
        Some(crate::functions::FnDef {
            name: $name,
            arity: $arity,
            eval: $eval,
        })
    };
}
pub(crate) use def;
