//! Expression compilation and evaluation for the coprocessor: `tipb.Expr` trees compiled once
//! to RPN, vectorized scalar functions over columns with null bitmaps, and aggregate functions
//! with partial states. Filled by the coprocessor issue; empty for now.
