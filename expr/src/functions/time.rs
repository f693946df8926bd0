//! Scalar functions: time family (being written).

use basalt_proto::tipb::ScalarFuncSig as Sig;

use super::FnDef;

/// The time function implementing `sig`.
pub fn lookup(sig: Sig) -> Option<FnDef> {
    let _ = sig;
    None
}
