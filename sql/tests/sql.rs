//! The SQL front against a real `basalt-server` process: DDL, writes in TiDB's format through
//! transactions, queries with filters and aggregates pushed down, EXPLAIN [ANALYZE], errors.

#[path = "../../client/tests/common/mod.rs"]
mod common;

use basalt_sql::format::{cells, render, Format};
use basalt_sql::{Error, Output, Session};
use common::ServerProcess;

/// Runs a test on a runtime whose threads have room for DataFusion's planner (deep recursion
/// in debug builds overflows the 2 MiB default of test threads).
fn run(test: impl std::future::Future<Output = ()> + Send + 'static) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(16 << 20)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        tokio::spawn(test).await.expect("test task");
    });
}

async fn session(server: &ServerProcess) -> Session {
    Session::connect(&server.pd).await.expect("connect")
}

/// The rows of a query as text (NULL as "NULL").
async fn rows(session: &Session, sql: &str) -> Vec<Vec<String>> {
    match session
        .execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    {
        Output::Rows { batches, .. } => cells(&batches)
            .unwrap()
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .map(|c| c.unwrap_or_else(|| "NULL".into()))
                    .collect()
            })
            .collect(),
        _ => panic!("{sql} returned no rows"),
    }
}

fn row(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

#[test]
fn tables_rows_and_pushed_down_queries() {
    run(tables_rows_and_pushed_down_queries_async());
}

async fn tables_rows_and_pushed_down_queries_async() {
    let server = ServerProcess::start();
    let s = session(&server).await;
    s.execute(
        "CREATE TABLE item (id BIGINT PRIMARY KEY, name VARCHAR(20) NOT NULL, \
         price DECIMAL(10,2), added DATE, qty INT, UNIQUE KEY uniq_name (name))",
    )
    .await
    .unwrap();
    let out = s
        .execute(
            "INSERT INTO item VALUES (1, 'bolt', 0.25, '2024-01-05', 100), \
             (2, 'nut', 0.10, '2024-02-01', 250), (3, 'gear', 12.50, NULL, NULL), \
             (4, 'spring', NULL, '2024-03-10', 40)",
        )
        .await
        .unwrap();
    assert!(matches!(out, Output::Affected(4)));
    assert_eq!(
        rows(
            &s,
            "SELECT id, name, price, added, qty FROM item ORDER BY id"
        )
        .await,
        vec![
            row(&["1", "bolt", "0.25", "2024-01-05", "100"]),
            row(&["2", "nut", "0.10", "2024-02-01", "250"]),
            row(&["3", "gear", "12.50", "NULL", "NULL"]),
            row(&["4", "spring", "NULL", "2024-03-10", "40"]),
        ]
    );
    // Filters Basalt evaluates: comparisons of every type, IS NULL, LIKE, IN, BETWEEN.
    let cases = [
        ("price > 0.2", vec!["1", "3"]),
        ("added >= DATE '2024-02-01'", vec!["2", "4"]),
        ("price IS NULL OR qty IS NULL", vec!["3", "4"]),
        ("name LIKE '%r%'", vec!["3", "4"]),
        ("name IN ('nut', 'gear') AND NOT (id = 3)", vec!["2"]),
        ("qty BETWEEN 40 AND 100", vec!["1", "4"]),
    ];
    for (filter, expected) in cases {
        let sql = format!("SELECT id FROM item WHERE {filter} ORDER BY id");
        let got: Vec<String> = rows(&s, &sql)
            .await
            .into_iter()
            .map(|r| r[0].clone())
            .collect();
        assert_eq!(got, expected, "{filter}");
        let plan = render_rows(&s, &format!("EXPLAIN {sql}")).await;
        assert!(
            plan.contains("Selection") && plan.contains("cop[basalt]"),
            "{filter}: {plan}"
        );
    }
    // Aggregates are computed by Basalt per region and merged at the root.
    let sql = "SELECT qty > 50 AS big, COUNT(*), SUM(price), AVG(price), MIN(name), MAX(added) \
               FROM item GROUP BY qty > 50 ORDER BY big";
    let grouped = "SELECT name, COUNT(*), SUM(price), AVG(qty), MIN(added) FROM item \
                   WHERE id < 4 GROUP BY name ORDER BY name";
    assert_eq!(
        rows(&s, grouped).await,
        vec![
            row(&["bolt", "1", "0.25", "100.0", "2024-01-05"]),
            row(&["gear", "1", "12.50", "NULL", "NULL"]),
            row(&["nut", "1", "0.10", "250.0", "2024-02-01"]),
        ]
    );
    let plan = render_rows(&s, &format!("EXPLAIN {grouped}")).await;
    assert!(plan.contains("HashAgg"), "{plan}");
    assert_eq!(
        rows(
            &s,
            "SELECT COUNT(*), SUM(price), AVG(price), COUNT(price) FROM item"
        )
        .await,
        vec![row(&["4", "12.85", "4.283333", "3"])]
    );
    // An expression group key Basalt does not evaluate keeps the aggregation at the root.
    assert_eq!(rows(&s, sql).await.len(), 3);
    // ORDER BY ... LIMIT runs as a TopN in the coprocessor; NULL sorts first ascending and
    // last descending, as in MySQL.
    let first = |sql: &'static str| {
        let s = s.clone();
        async move {
            rows(&s, sql)
                .await
                .into_iter()
                .map(|r| r[0].clone())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        first("SELECT id FROM item ORDER BY price LIMIT 2").await,
        ["4", "2"]
    );
    assert_eq!(
        first("SELECT id FROM item ORDER BY price DESC LIMIT 2").await,
        ["3", "1"]
    );
    let plan = render_rows(
        &s,
        "EXPLAIN SELECT id FROM item ORDER BY price DESC LIMIT 2",
    )
    .await;
    assert!(
        plan.contains("TopN") && plan.contains("cop[basalt]"),
        "{plan}"
    );
    // EXPLAIN ANALYZE shows what the coprocessor really did.
    let analyzed = render_rows(
        &s,
        "EXPLAIN ANALYZE SELECT name FROM item WHERE price > 0.2",
    )
    .await;
    let scan_row: Vec<&str> = analyzed
        .lines()
        .map(|l| l.split('|').map(str::trim).collect::<Vec<_>>())
        .find(|cols| cols.len() > 4 && cols[1].ends_with("TableScan") && cols[4] == "cop[basalt]")
        .unwrap_or_else(|| panic!("{analyzed}"));
    assert_eq!(scan_row[3], "4", "{analyzed}");
    // CSV output: header, NULL bare, dates and decimals as declared.
    let Output::Rows { schema, batches } = s
        .execute("SELECT id, price, added FROM item WHERE id >= 3 ORDER BY id")
        .await
        .unwrap()
    else {
        panic!("rows")
    };
    assert_eq!(
        render(&schema, &batches, Format::Csv).unwrap(),
        "id,price,added\r\n3,12.50,NULL\r\n4,NULL,2024-03-10\r\n"
    );
}

async fn render_rows(session: &Session, sql: &str) -> String {
    match session
        .execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    {
        Output::Rows { schema, batches } => render(&schema, &batches, Format::Table).unwrap(),
        _ => panic!("{sql} returned no rows"),
    }
}

#[test]
fn bad_statements_fail_cleanly_and_write_nothing() {
    run(bad_statements_async());
}

async fn bad_statements_async() {
    let server = ServerProcess::start();
    let s = session(&server).await;
    s.execute("CREATE TABLE t (id INT PRIMARY KEY, code CHAR(3) NOT NULL, UNIQUE (code))")
        .await
        .unwrap();
    s.execute("INSERT INTO t VALUES (1, 'abc')").await.unwrap();
    // A duplicate primary key or unique key fails the statement and writes none of its rows.
    let err = s
        .execute("INSERT INTO t VALUES (2, 'xyz'), (1, 'def')")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::DuplicateKey(ref k) if k == "t.PRIMARY"),
        "{err}"
    );
    let err = s
        .execute("INSERT INTO t VALUES (3, 'abc')")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::DuplicateKey(ref k) if k.ends_with("code")),
        "{err}"
    );
    assert_eq!(
        rows(&s, "SELECT id FROM t ORDER BY id").await,
        vec![row(&["1"])]
    );
    // Constraint and type violations.
    for bad in [
        "INSERT INTO t VALUES (4, NULL)",
        "INSERT INTO t VALUES (4, 'toolong')",
        "INSERT INTO t (id) VALUES (4)",
        "INSERT INTO t VALUES (99999999999, 'big')",
        "INSERT INTO t VALUES (4)",
    ] {
        assert!(s.execute(bad).await.is_err(), "{bad}");
    }
    assert!(matches!(
        s.execute("SELEC 1").await.unwrap_err(),
        Error::Syntax(_)
    ));
    assert!(s.execute("SELECT nope FROM t").await.is_err());
    assert!(s.execute("SELECT * FROM missing").await.is_err());
    assert!(matches!(
        s.execute("CREATE TABLE t (x INT)").await.unwrap_err(),
        Error::TableExists(_)
    ));
    assert!(matches!(
        s.execute("CREATE TABLE u (x GEOMETRY)").await.unwrap_err(),
        Error::Unsupported(_)
    ));
    assert_eq!(rows(&s, "SELECT COUNT(*) FROM t").await, vec![row(&["1"])]);
    // DROP removes the definition and the rows; the name can be reused.
    s.execute("DROP TABLE t").await.unwrap();
    assert!(s.execute("SELECT * FROM t").await.is_err());
    s.execute("CREATE TABLE t (id INT)").await.unwrap();
    assert_eq!(rows(&s, "SELECT COUNT(*) FROM t").await, vec![row(&["0"])]);
}

#[test]
fn insert_select_and_large_results() {
    run(insert_select_async());
}

async fn insert_select_async() {
    let server = ServerProcess::start();
    let s = session(&server).await;
    s.execute("CREATE TABLE src (v BIGINT, w DOUBLE)")
        .await
        .unwrap();
    s.execute("INSERT INTO src SELECT value, value * 0.5 FROM generate_series(1, 5000)")
        .await
        .unwrap();
    s.execute("CREATE TABLE dst (v BIGINT PRIMARY KEY, w DOUBLE)")
        .await
        .unwrap();
    let out = s
        .execute("INSERT INTO dst SELECT v, w FROM src WHERE v % 2 = 0")
        .await
        .unwrap();
    assert!(matches!(out, Output::Affected(2500)));
    assert_eq!(
        rows(&s, "SELECT COUNT(*), SUM(v), MAX(w) FROM dst").await,
        vec![row(&["2500", "6252500", "2500.0"])]
    );
    // A streamed scan returns every row.
    let mut stream = s.query_stream("SELECT v FROM src").await.unwrap();
    let mut total = 0;
    while let Some(batch) = futures::StreamExt::next(&mut stream).await {
        total += batch.unwrap().num_rows();
    }
    assert_eq!(total, 5000);
}

#[test]
fn update_and_delete_keep_rows_and_indexes_consistent() {
    run(update_and_delete_async());
}

async fn update_and_delete_async() {
    let server = ServerProcess::start();
    let s = session(&server).await;
    s.execute(
        "CREATE TABLE acct (id INT PRIMARY KEY, owner VARCHAR(10) NOT NULL, balance DECIMAL(8,2), \
         UNIQUE KEY uowner (owner), KEY kbal (balance))",
    )
    .await
    .unwrap();
    s.execute("INSERT INTO acct VALUES (1,'ann',10.00),(2,'bob',20.00),(3,'cid',NULL)")
        .await
        .unwrap();
    let out = s
        .execute("UPDATE acct SET balance = balance + 5 WHERE balance IS NOT NULL")
        .await
        .unwrap();
    assert!(matches!(out, Output::Affected(2)), "{out:?}");
    // Moving a row to a new primary key rewrites its record and index entries.
    s.execute("UPDATE acct SET id = 30, owner = 'cyd' WHERE id = 3")
        .await
        .unwrap();
    assert_eq!(
        rows(&s, "SELECT id, owner, balance FROM acct ORDER BY id").await,
        vec![
            row(&["1", "ann", "15.00"]),
            row(&["2", "bob", "25.00"]),
            row(&["30", "cyd", "NULL"]),
        ]
    );
    // Constraint violations fail the whole statement.
    assert!(matches!(
        s.execute("UPDATE acct SET owner = 'ann' WHERE id = 2")
            .await
            .unwrap_err(),
        Error::DuplicateKey(_)
    ));
    assert!(matches!(
        s.execute("UPDATE acct SET id = 1 WHERE id = 30")
            .await
            .unwrap_err(),
        Error::DuplicateKey(_)
    ));
    assert!(s.execute("UPDATE acct SET owner = NULL").await.is_err());
    // The freed unique value can be taken again once its row is gone.
    let out = s
        .execute("DELETE FROM acct WHERE balance > 20")
        .await
        .unwrap();
    assert!(matches!(out, Output::Affected(1)), "{out:?}");
    s.execute("INSERT INTO acct VALUES (4, 'bob', 1.00)")
        .await
        .unwrap();
    assert_eq!(
        rows(&s, "SELECT id, owner FROM acct ORDER BY id").await,
        vec![row(&["1", "ann"]), row(&["4", "bob"]), row(&["30", "cyd"])]
    );
    // The old index entries are gone: CREATE UNIQUE INDEX over the rows finds no duplicate.
    s.execute("CREATE UNIQUE INDEX uid2 ON acct (owner, id)")
        .await
        .unwrap();
    let out = s.execute("DELETE FROM acct").await.unwrap();
    assert!(matches!(out, Output::Affected(3)), "{out:?}");
    assert_eq!(
        rows(&s, "SELECT COUNT(*) FROM acct").await,
        vec![row(&["0"])]
    );
    // No entry is left under the table's prefix once every row is deleted.
    let cluster = s.cluster();
    let table = s.catalog().table("acct").await.unwrap();
    let start = basalt_chunk::codec::table::table_prefix(table.id);
    let mut end = start.clone();
    end.push(0xFF);
    let ts = cluster.timestamp().await.unwrap();
    let left = cluster.snapshot(ts).scan(&start, &end, 100).await.unwrap();
    assert!(left.is_empty(), "{} keys left", left.len());
}
