//! MySQL on DataFusion: rewrites of the parsed statement so that DataFusion plans what MySQL
//! users write and computes what MySQL would.
//!
//! - `CAST(x AS SIGNED [INTEGER])` / `UNSIGNED` become `BIGINT` / `BIGINT UNSIGNED`;
//! - `a DIV b` is integer division truncated toward zero, NULL when `b` is 0;
//! - `a / b` and `a % b` are NULL when `b` is 0 (MySQL warns; DataFusion would fail);
//! - `NULLIF(a, b)` keeps the type of `a`;
//! - result columns are named by their SQL text and kept distinct, as DataFusion requires.
//!
//! Not rewritten (known differences): `/` of two integers stays integer division (MySQL gives
//! a DECIMAL with four more digits).

use std::collections::HashMap;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, DataType, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, Query,
    SelectItem, SetExpr, Statement, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::{Dialect, MySqlDialect, Precedence};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};

/// sqlparser's MySQL dialect, except that the right operand of `DIV` binds like that of `*`
/// (sqlparser 0.62 lets it swallow the rest of the expression: `20 DIV 96 + 90` would be
/// `20 DIV (96 + 90)`).
#[derive(Debug, Default)]
pub struct BasaltDialect(MySqlDialect);

macro_rules! delegate {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        $(fn $name(&self, $($arg: $ty),*) -> $ret { self.0.$name($($arg),*) })*
    };
}

impl Dialect for BasaltDialect {
    // `dialect_of!(parser is MySqlDialect)` checks in the parser must see MySQL.
    fn dialect(&self) -> std::any::TypeId {
        std::any::TypeId::of::<MySqlDialect>()
    }

    fn parse_infix(
        &self,
        parser: &mut Parser,
        expr: &Expr,
        _precedence: u8,
    ) -> Option<Result<Expr, ParserError>> {
        if !parser.parse_keyword(Keyword::DIV) {
            return None;
        }
        let right = parser.parse_subexpr(self.prec_value(Precedence::MulDivModOp));
        Some(right.map(|right| Expr::BinaryOp {
            left: Box::new(expr.clone()),
            op: BinaryOperator::MyIntegerDivide,
            right: Box::new(right),
        }))
    }

    fn parse_statement(&self, parser: &mut Parser) -> Option<Result<Statement, ParserError>> {
        self.0.parse_statement(parser)
    }

    fn is_table_factor_alias(&self, explicit: bool, kw: &Keyword, parser: &mut Parser) -> bool {
        self.0.is_table_factor_alias(explicit, kw, parser)
    }

    delegate! {
        is_identifier_start(ch: char) -> bool;
        is_identifier_part(ch: char) -> bool;
        is_delimited_identifier_start(ch: char) -> bool;
        identifier_quote_style(identifier: &str) -> Option<char>;
        supports_string_literal_backslash_escape() -> bool;
        supports_string_literal_concatenation() -> bool;
        ignores_wildcard_escapes() -> bool;
        supports_numeric_prefix() -> bool;
        supports_bitwise_shift_operators() -> bool;
        supports_multiline_comment_hints() -> bool;
        require_interval_qualifier() -> bool;
        supports_limit_comma() -> bool;
        supports_create_table_select() -> bool;
        supports_insert_set() -> bool;
        supports_user_host_grantee() -> bool;
        supports_table_hints() -> bool;
        requires_single_line_comment_whitespace() -> bool;
        supports_match_against() -> bool;
        supports_select_modifiers() -> bool;
        supports_set_names() -> bool;
        supports_comma_separated_set_assignments() -> bool;
        supports_update_order_by() -> bool;
        supports_data_type_signed_suffix() -> bool;
        supports_cross_join_constraint() -> bool;
        supports_double_ampersand_operator() -> bool;
        supports_binary_kw_as_cast() -> bool;
        supports_comment_optimizer_hint() -> bool;
        supports_constraint_keyword_without_name() -> bool;
        supports_key_column_option() -> bool;
    }
}

/// Parses `sql` into statements with [`BasaltDialect`].
pub fn parse(sql: &str) -> Result<Vec<Statement>, ParserError> {
    Parser::parse_sql(&BasaltDialect::default(), sql)
}

/// Applies the rewrites to a statement.
pub fn rewrite(statement: &mut Statement) {
    let _ = statement.visit(&mut MySqlCompat);
}

struct MySqlCompat;

fn parse_expr(text: &str) -> Option<Expr> {
    Parser::new(&BasaltDialect::default())
        .try_with_sql(text)
        .ok()?
        .parse_expr()
        .ok()
}

impl VisitorMut for MySqlCompat {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match expr {
            Expr::Cast { data_type, .. } => {
                let replacement = match data_type {
                    DataType::Signed | DataType::SignedInteger => Some(DataType::BigInt(None)),
                    DataType::Unsigned | DataType::UnsignedInteger => {
                        Some(DataType::BigIntUnsigned(None))
                    }
                    _ => None,
                };
                if let Some(replacement) = replacement {
                    *data_type = replacement;
                }
            }
            // MySQL's NULLIF has the type of its first argument; DataFusion's would be the
            // common type of both (NULLIF(1, 2.5) would print 1.0).
            Expr::Function(function)
                if function.name.to_string().eq_ignore_ascii_case("nullif") =>
            {
                if let FunctionArguments::List(list) = &function.args {
                    if let [FunctionArg::Unnamed(FunctionArgExpr::Expr(a)), FunctionArg::Unnamed(FunctionArgExpr::Expr(b))] =
                        list.args.as_slice()
                    {
                        let text = format!("CASE WHEN ({a}) = ({b}) THEN NULL ELSE ({a}) END");
                        if let Some(rewritten) = parse_expr(&text) {
                            *expr = Expr::Nested(Box::new(rewritten));
                        }
                    }
                }
            }
            Expr::BinaryOp { left, op, right } => {
                let text = match op {
                    BinaryOperator::MyIntegerDivide => Some(format!(
                        "CAST(TRUNC(({left}) / NULLIF(({right}), 0)) AS BIGINT)"
                    )),
                    BinaryOperator::Divide => Some(format!("({left}) / NULLIF(({right}), 0)")),
                    BinaryOperator::Modulo => Some(format!("({left}) % NULLIF(({right}), 0)")),
                    _ => None,
                };
                if let Some(rewritten) = text.as_deref().and_then(parse_expr) {
                    *expr = Expr::Nested(Box::new(rewritten));
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        name_columns(query);
        ControlFlow::Continue(())
    }
}

/// Names result columns as MySQL does, by the expression's text (`a + 1`, `COUNT(*)`), and
/// keeps the names distinct: a repeated name gets `_2`, `_3`, ….
fn name_columns(query: &mut Query) {
    let SetExpr::Select(select) = query.body.as_mut() else {
        return;
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    for item in &mut select.projection {
        let (name, expr) = match item {
            SelectItem::UnnamedExpr(expr) => (expr.to_string(), expr.clone()),
            SelectItem::ExprWithAlias { alias, expr } => (alias.value.clone(), expr.clone()),
            _ => continue,
        };
        let count = seen.entry(name.to_ascii_lowercase()).or_insert(0);
        *count += 1;
        let plain = matches!(expr, Expr::Identifier(_) | Expr::CompoundIdentifier(_));
        if *count > 1 {
            *item = SelectItem::ExprWithAlias {
                expr,
                alias: Ident::with_quote('`', format!("{name}_{count}")),
            };
        } else if !plain && matches!(item, SelectItem::UnnamedExpr(_)) {
            *item = SelectItem::ExprWithAlias {
                expr,
                alias: Ident::with_quote('`', name),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        let mut statements = parse(sql).unwrap();
        rewrite(&mut statements[0]);
        statements[0].to_string()
    }

    #[test]
    fn mysql_operators_and_casts() {
        let sql = rewritten("SELECT 7 DIV 2, CAST(x AS SIGNED), 1 / 0, 5 % 0 FROM t");
        // Columns keep the names of what the user wrote.
        assert!(sql.contains("AS `7 DIV 2`"), "{sql}");
        assert!(
            sql.contains("CAST(TRUNC((7) / NULLIF((2), 0)) AS BIGINT)"),
            "{sql}"
        );
        assert!(sql.contains("CAST(x AS BIGINT)"), "{sql}");
        assert!(sql.contains("(1) / NULLIF((0), 0)"), "{sql}");
        assert!(sql.contains("(5) % NULLIF((0), 0)"), "{sql}");
    }

    #[test]
    fn div_binds_like_multiplication() {
        let sql = rewritten("SELECT 20 DIV - - 96 + 90, 47 DIV 1 * 74 - 6, 7 DIV 2 DIV 2");
        assert!(
            sql.contains("(CAST(TRUNC((20) / NULLIF((--96), 0)) AS BIGINT)) + 90"),
            "{sql}"
        );
        assert!(
            sql.contains("(CAST(TRUNC((47) / NULLIF((1), 0)) AS BIGINT)) * 74 - 6"),
            "{sql}"
        );
        assert!(
            sql.contains("TRUNC(((CAST(TRUNC((7) / NULLIF((2), 0)) AS BIGINT))) / NULLIF((2), 0))"),
            "{sql}"
        );
    }

    #[test]
    fn repeated_names_become_distinct() {
        let sql = rewritten("SELECT 1 AS c, 2 AS c, a + 1, a + 1, b FROM t");
        assert!(sql.contains("2 AS `c_2`"), "{sql}");
        assert!(sql.contains("a + 1 AS `a + 1_2`"), "{sql}");
        assert!(sql.ends_with("b FROM t"), "{sql}");
    }
}
