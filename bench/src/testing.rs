//! A single-node server in-process, for the bench's tests: real gRPC on localhost, on the
//! test's own runtime.

use std::path::PathBuf;
use std::time::Duration;

/// A running server; `shut_down` stops it and waits.
pub(crate) struct TestServer {
    addrs: basalt_server::BoundAddrs,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<basalt_server::Result<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl TestServer {
    /// A server over an empty store of its own.
    pub(crate) async fn start() -> TestServer {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut server = TestServer::start_in(dir.path().join("basalt")).await;
        server._dir = Some(dir);
        server
    }

    /// A server over the store in `data_dir` (made if missing).
    pub(crate) async fn start_in(data_dir: PathBuf) -> TestServer {
        let local = "127.0.0.1:0".parse().expect("an address");
        let config = basalt_server::Config {
            data_dir,
            addr: local,
            pd_addr: local,
            status_addr: local,
            sync_log: false,
            ..basalt_server::Config::default()
        };
        let (ready, addrs) = tokio::sync::oneshot::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(basalt_server::run(
            config,
            move |addrs| {
                let _ = ready.send(addrs);
            },
            async move {
                let _ = stopped.await;
            },
        ));
        let addrs = tokio::time::timeout(Duration::from_secs(60), addrs)
            .await
            .expect("the server is ready within a minute")
            .expect("the server started");
        TestServer {
            addrs,
            stop,
            task,
            _dir: None,
        }
    }

    /// The KV service's address.
    pub(crate) fn kv(&self) -> String {
        self.addrs.kv.to_string()
    }

    /// The PD service's address.
    pub(crate) fn pd(&self) -> String {
        self.addrs.pd.to_string()
    }

    /// Stops the server and waits for it.
    pub(crate) async fn shut_down(self) {
        let _ = self.stop.send(());
        self.task
            .await
            .expect("the server task")
            .expect("a clean shutdown");
    }
}
