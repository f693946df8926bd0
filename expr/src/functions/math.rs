//! Scalar functions: math family (being written).

use basalt_proto::tipb::ScalarFuncSig as Sig;

use super::FnDef;

/// The math function implementing `sig`.
pub fn lookup(sig: Sig) -> Option<FnDef> {
    let _ = sig;
    None
}
