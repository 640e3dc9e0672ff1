//! What the tests of several crates share. Test code: it panics on setup failures.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use sqlx::PgPool;
use tasklens_store::{PgStore, PgStoreOptions};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A TCP proxy in front of PostgreSQL: `cut` drops every connection and refuses new ones (the
/// database "goes away" for the processes connected through it, while the test still reaches
/// it directly), `stall` accepts but forwards nothing, `restore` brings it back.
#[derive(Debug, Clone)]
pub struct DbProxy {
    pub addr: SocketAddr,
    mode: Arc<AtomicU8>,
    /// Bumped on every change of mode: each open connection ends when it changes.
    generation: Arc<watch::Sender<u64>>,
}

const OPEN: u8 = 0;
const CUT: u8 = 1;
const STALL: u8 = 2;

impl DbProxy {
    /// A proxy on a free local port to `upstream`.
    pub async fn start(upstream: SocketAddr) -> DbProxy {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        let (generation, _) = watch::channel(0u64);
        let proxy = DbProxy {
            addr,
            mode: Arc::new(AtomicU8::new(OPEN)),
            generation: Arc::new(generation),
        };
        let accept = proxy.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mode = accept.mode.load(Ordering::SeqCst);
                if mode == CUT {
                    drop(client);
                    continue;
                }
                let mut changed = accept.generation.subscribe();
                tokio::spawn(async move {
                    if mode == STALL {
                        let _ = changed.changed().await;
                        return;
                    }
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = changed.changed() => {}
                    }
                });
            }
        });
        proxy
    }

    /// A proxy to the database server of `pool`.
    pub async fn to_server_of(pool: &PgPool) -> DbProxy {
        let options = pool.connect_options();
        let upstream = tokio::net::lookup_host((options.get_host(), options.get_port()))
            .await
            .ok()
            .and_then(|mut addrs| addrs.next())
            .expect("the database server's address");
        DbProxy::start(upstream).await
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Drops every connection through the proxy and refuses new ones.
    pub fn cut(&self) {
        self.set(CUT);
    }

    /// Accepts connections but forwards nothing: a database that hangs.
    pub fn stall(&self) {
        self.set(STALL);
    }

    /// Back to normal; stalled connections are dropped so clients reconnect.
    pub fn restore(&self) {
        self.set(OPEN);
    }

    /// The URL of `pool`'s database, reached through this proxy.
    pub fn database_url(&self, pool: &PgPool) -> String {
        let options = pool.connect_options();
        format!(
            "postgres://{}@{}/{}",
            options.get_username(),
            self.addr,
            options.get_database().expect("a database")
        )
    }

    /// A store on `pool`'s database whose connections go through this proxy.
    pub async fn store(&self, pool: &PgPool) -> PgStore {
        PgStore::connect(
            &self.database_url(pool),
            &PgStoreOptions {
                max_connections: 4,
                acquire_timeout: Duration::from_secs(2),
            },
        )
        .await
        .expect("connect through the proxy")
    }
}
