//! Scalar functions: string family (being written).

use basalt_proto::tipb::ScalarFuncSig as Sig;

use super::FnDef;

/// The string function implementing `sig`.
pub fn lookup(sig: Sig) -> Option<FnDef> {
    let _ = sig;
    None
}
