//! SQLite reads run on the calling thread, for the one read on the scan path.
//!
//! sqlx runs each SQLite connection on a thread of its own: a query is handed to that thread
//! and every row handed back, two thread switches and a wake-up per row at least. On the scan
//! path that hand-off cost more than the query (measured: about 40 µs a scan beside a read of
//! about 10 µs), and it was the whole gap between a verify and a bare signature check. Here
//! each server thread keeps its own read-only connection to the file and runs the facts query
//! where the batch is, synchronously: the rows come from SQLite's page cache, and under WAL a
//! reader never waits for the writer, so the thread is held for about as long as the query
//! runs. A write still goes through sqlx's single writer; a read that fails here is retried
//! through sqlx by the caller.

use rusqlite::{Connection, OpenFlags};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Connections one thread keeps open (one per database file it read; tests run several
/// servers in one process).
const PER_THREAD: usize = 4;

/// A reader in WAL mode waits only while another connection recovers the WAL index: a moment.
/// Past this the read fails and is retried through sqlx, off this thread.
const BUSY_WAIT: Duration = Duration::from_millis(100);

/// Prepared statements one connection keeps: one facts statement per batch size.
const STATEMENTS: usize = 80;

thread_local! {
    static OPEN: RefCell<Vec<(PathBuf, Connection)>> = const { RefCell::new(Vec::new()) };
}

/// Runs `read` on this thread's read-only connection to the database file at `path`, opening
/// it on first use.
pub fn read<T>(
    path: &Path,
    read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    OPEN.with(|open| {
        let mut open = open.borrow_mut();
        let at = match open.iter().position(|(p, _)| p == path) {
            Some(at) => at,
            None => {
                if open.len() >= PER_THREAD {
                    open.remove(0);
                }
                open.push((path.to_owned(), connect(path)?));
                open.len() - 1
            }
        };
        let result = read(&open[at].1);
        if result.is_err() {
            // A connection that failed once (a file replaced under it, say) is opened afresh
            // next time.
            open.remove(at);
        }
        result
    })
}

fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let c = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    c.busy_timeout(BUSY_WAIT)?;
    // The same page cache as the pool's readers: the unique indexes over random keys.
    c.pragma_update(None, "cache_size", -65536)?;
    c.pragma_update(None, "temp_store", "memory")?;
    c.set_prepared_statement_cache_capacity(STATEMENTS);
    Ok(c)
}
