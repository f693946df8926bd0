//! What the server's loopback tests share: a single-node server started in-process on free
//! loopback ports.

use std::net::SocketAddr;
use std::time::Duration;

use basalt_server::{BoundAddrs, Config};

/// A server on free loopback ports; it stops when dropped.
pub struct TestServer {
    pub addrs: BoundAddrs,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts a server (no WAL sync) in a temporary directory and waits until it is ready.
pub async fn start_server() -> TestServer {
    let dir = tempfile::tempdir().expect("temp dir");
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        addr: loopback,
        pd_addr: loopback,
        status_addr: loopback,
        sync_log: false,
        ..Config::default()
    };
    let (ready, addrs) = tokio::sync::oneshot::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let result = basalt_server::run(
            config,
            move |addrs| {
                let _ = ready.send(addrs);
            },
            async move {
                let _ = stopped.await;
            },
        )
        .await;
        if let Err(err) = result {
            eprintln!("server stopped: {err}");
        }
    });
    let addrs = tokio::time::timeout(Duration::from_secs(60), addrs)
        .await
        .expect("the server becomes ready in time")
        .expect("the server becomes ready");
    TestServer {
        addrs,
        stop: Some(stop),
        _dir: dir,
    }
}
