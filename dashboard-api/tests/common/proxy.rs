//! A TCP proxy in front of PostgreSQL that a test can cut: the database "goes away" for the
//! processes connected through it, while the test still reaches it directly.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::PgPool;
use tasklens_store::{PgStore, PgStoreOptions};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Clone)]
pub struct DbProxy {
    pub addr: SocketAddr,
    cut: Arc<AtomicBool>,
    /// Bumped on every cut: each open connection ends when it changes.
    generation: Arc<watch::Sender<u64>>,
}

impl DbProxy {
    /// A proxy to the database server of `pool`.
    pub async fn start(pool: &PgPool) -> DbProxy {
        let options = pool.connect_options();
        let upstream = format!("{}:{}", options.get_host(), options.get_port());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let (generation, _) = watch::channel(0u64);
        let proxy = DbProxy {
            addr: listener.local_addr().expect("addr"),
            cut: Arc::new(AtomicBool::new(false)),
            generation: Arc::new(generation),
        };
        let accept = proxy.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if accept.cut.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let mut cut = accept.generation.subscribe();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        proxy
    }

    /// Drops every connection through the proxy and refuses new ones.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }

    /// A store on the test's database whose connections go through this proxy.
    pub async fn store(&self, pool: &PgPool) -> PgStore {
        let options = pool.connect_options();
        let url = format!(
            "postgres://{}@{}/{}",
            options.get_username(),
            self.addr,
            options.get_database().expect("a database")
        );
        PgStore::connect(
            &url,
            &PgStoreOptions {
                max_connections: 4,
                acquire_timeout: Duration::from_secs(2),
            },
        )
        .await
        .expect("connect through the proxy")
    }
}
