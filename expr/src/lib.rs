//! Expression compilation and evaluation for the coprocessor: `tipb.Expr` trees compiled once
//! to RPN (`rpn`), evaluated a batch at a time over columns (`value` gives functions typed views
//! of their arguments), the scalar functions (`functions`) and aggregate functions with partial
//! results (`aggr`); decimal arithmetic feeding SUM and AVG can run on scaled integers
//! (`scaled`).
//!
//! Read `rpn::RpnExpression` first.
#![deny(missing_docs)]

pub mod aggr;
pub mod context;
mod error;
pub mod functions;
pub mod rpn;
pub mod scaled;
pub mod value;

pub use context::{EvalContext, Warning};
pub use error::{Error, Result};
pub use rpn::RpnExpression;
