//! A server that is serving: its bound addresses, the stop signal its parts watch, and the task
//! that ends once they have all stopped.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::ops::Deref;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A listener that could not be had, naming what it was for and where.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen for {what} on {addr}: {source}")]
pub struct BindError {
    pub what: &'static str,
    pub addr: SocketAddr,
    #[source]
    pub source: io::Error,
}

impl From<BindError> for io::Error {
    /// Keeps the kind; the message carries the cause already, so it is not chained again.
    fn from(error: BindError) -> Self {
        io::Error::new(error.source.kind(), error.to_string())
    }
}

/// Binds `addr` (port 0 takes a free port) and returns the listener with the address it got.
pub async fn bind(
    what: &'static str,
    addr: SocketAddr,
) -> Result<(TcpListener, SocketAddr), BindError> {
    let failed = |source| BindError { what, addr, source };
    let listener = TcpListener::bind(addr).await.map_err(failed)?;
    let bound = listener.local_addr().map_err(failed)?;
    Ok((listener, bound))
}

/// Resolves once the stop signal turns true, or once its sender is gone (then nothing could
/// stop the server any more).
pub async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// A server that is serving. It reads as its bound addresses (`A`, a struct of the service's
/// own), so `running.addr` names the real port when port 0 was asked for.
#[derive(Debug)]
pub struct RunningServer<A> {
    addrs: A,
    stop: watch::Sender<bool>,
    task: JoinHandle<io::Result<()>>,
}

impl<A> RunningServer<A> {
    /// Spawns `serving`, whose parts stop gracefully once the receivers of `stop` see `true`.
    pub fn spawn<F>(addrs: A, stop: watch::Sender<bool>, serving: F) -> Self
    where
        F: Future<Output = io::Result<()>> + Send + 'static,
    {
        RunningServer {
            addrs,
            stop,
            task: tokio::spawn(serving),
        }
    }

    pub fn addrs(&self) -> &A {
        &self.addrs
    }

    /// Graceful shutdown: signals stop, then waits until the server has finished what it
    /// accepted and returned.
    pub async fn shutdown(self) -> io::Result<()> {
        let _ = self.stop.send(true);
        self.wait().await
    }

    /// Waits until the server stops (after a stop sent from elsewhere, or a failure).
    pub async fn wait(self) -> io::Result<()> {
        match self.task.await {
            Ok(result) => result,
            Err(join) => Err(io::Error::other(join)),
        }
    }

    /// A handle that stops the server when sent `true`.
    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }
}

impl<A> Deref for RunningServer<A> {
    type Target = A;

    fn deref(&self) -> &A {
        &self.addrs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Addrs {
        addr: SocketAddr,
    }

    async fn serving_until_stopped(stop: watch::Receiver<bool>) -> io::Result<()> {
        stopped(stop).await;
        Ok(())
    }

    #[tokio::test]
    async fn shutdown_and_stopper_end_the_server() {
        let local = SocketAddr::from(([127, 0, 0, 1], 0));
        let (_listener, addr) = bind("a test", local).await.expect("bind");
        assert_ne!(addr.port(), 0, "the real port");
        let (stop, stop_rx) = watch::channel(false);
        let running = RunningServer::spawn(Addrs { addr }, stop, serving_until_stopped(stop_rx));
        assert_eq!(running.addr, addr);
        running.shutdown().await.expect("stopped cleanly");

        let (stop, stop_rx) = watch::channel(false);
        let running = RunningServer::spawn(Addrs { addr }, stop, serving_until_stopped(stop_rx));
        let _ = running.stopper().send(true);
        running.wait().await.expect("stopped from elsewhere");
    }

    #[tokio::test]
    async fn a_taken_address_names_what_and_where() {
        let local = SocketAddr::from(([127, 0, 0, 1], 0));
        let (_held, taken) = bind("the first", local).await.expect("bind");
        let error = bind("OTLP/HTTP", taken).await.expect_err("taken");
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("cannot listen for OTLP/HTTP on {taken}: ")),
            "{message}"
        );
        let io = io::Error::from(error);
        assert_eq!(io.kind(), io::ErrorKind::AddrInUse);
        assert_eq!(io.to_string(), message);
    }
}
