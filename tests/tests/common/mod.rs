//! What several of these tests share: running a `tasklens` command in this process and reading
//! what it prints while it runs.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// What a command prints, readable while it runs.
#[derive(Clone, Default)]
pub struct Printed(Arc<Mutex<Vec<u8>>>);

impl Write for Printed {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Printed {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("printed")).into_owned()
    }
}

/// Starts `tasklens <args>` on this runtime; the task ends only if the command does, with its
/// error (or "stopped").
pub fn spawn_tasklens(args: Vec<String>) -> (Printed, tokio::task::JoinHandle<String>) {
    let printed = Printed::default();
    let mut out = printed.clone();
    let command = tokio::spawn(async move {
        let argv = std::iter::once("tasklens".to_owned()).chain(args);
        tasklens::run(argv, &mut out)
            .await
            .map_or_else(|err| format!("{err:#}"), |()| "stopped".to_owned())
    });
    (printed, command)
}
