//! Group commit: one writer thread takes every write waiting for it, applies them in one
//! transaction, commits once, then answers each caller. Under concurrency many callers share
//! one fsync, so SQLite with `synchronous=FULL` stays both durable and fast, and the callers
//! are answered only after their rows are on disk.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::AnyConnection;
use crate::db::{ConnectionRole, Db, write_transaction};
use crate::error::StoreError;

/// A kind of write that can be applied many at a time inside one transaction.
pub trait Batch: Send + Sized + 'static {
    type Output: Send + 'static;

    /// Applies every item, in order, returning one output per item.
    fn write(conn: &mut AnyConnection, items: &[Self]) -> Result<Vec<Self::Output>, StoreError>;
}

/// Called on the writer thread after each commit, with the outputs just made durable.
pub type CommitHook<O> = Arc<dyn Fn(&[O]) + Send + Sync>;

type Reply<T> = oneshot::Sender<Result<<T as Batch>::Output, StoreError>>;

/// The handle callers clone; the writer thread stops when the last handle is dropped,
/// after committing what was already queued.
pub struct GroupCommit<T: Batch> {
    queue: mpsc::Sender<(T, Reply<T>)>,
}

impl<T: Batch> Clone for GroupCommit<T> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
        }
    }
}

impl<T: Batch> GroupCommit<T> {
    /// Starts the writer thread. `max_batch` bounds one transaction's size.
    pub fn start(
        db: Db,
        name: &'static str,
        max_batch: usize,
        on_commit: Option<CommitHook<T::Output>>,
    ) -> Result<Self, StoreError> {
        // Room for a burst of waiting callers; past it `write` waits, which is the back-pressure.
        let (queue, rx) = mpsc::channel(max_batch.max(1) * 16);
        // On SQLite the writer does not checkpoint; the database's checkpoint thread does,
        // for as long as any writer holds a share in it.
        let checkpoints = db.checkpoint_share()?;
        let writer = Writer {
            _checkpoints: checkpoints,
            db,
            rx,
            max_batch: max_batch.max(1),
            on_commit,
            name,
            conn: None,
        };
        std::thread::Builder::new()
            .name(format!("writer-{name}"))
            .spawn(move || writer.run())
            .map_err(|e| {
                StoreError::Internal(format!("cannot start the {name} writer thread: {e}"))
            })?;
        Ok(Self { queue })
    }

    /// Queues `item` and waits until it is committed (or failed).
    pub async fn write(&self, item: T) -> Result<T::Output, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((item, reply))
            .await
            .map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the writer stopped before committing".into()))?
    }
}

struct Writer<T: Batch> {
    db: Db,
    rx: mpsc::Receiver<(T, Reply<T>)>,
    max_batch: usize,
    on_commit: Option<CommitHook<T::Output>>,
    name: &'static str,
    /// Keeps the SQLite checkpoint thread running while this writer lives.
    _checkpoints: Option<Arc<()>>,
    /// Its own connection, kept between batches and dropped after any error. Outside the
    /// pool because on SQLite it does not checkpoint (see `Db::checkpoint_share`).
    conn: Option<AnyConnection>,
}

impl<T: Batch> Writer<T> {
    fn run(mut self) {
        while let Some(first) = self.rx.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < self.max_batch {
                match self.rx.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            let (items, replies) = batch.into_iter().unzip();
            self.commit_and_answer(items, replies);
        }
    }

    fn commit_and_answer(&mut self, items: Vec<T>, replies: Vec<Reply<T>>) {
        match self.commit(&items) {
            Ok(outputs) => self.answer(outputs, replies),
            // One bad item must not fail its neighbours: retry them one transaction each.
            Err(e) if items.len() > 1 => {
                tracing::debug!(writer = self.name, error = %e, "a batch failed; committing its items one by one");
                for (item, reply) in items.into_iter().zip(replies) {
                    self.commit_and_answer(vec![item], vec![reply]);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "group commit failed");
                let message = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(StoreError::Unavailable(message.clone())));
                }
            }
        }
    }

    fn answer(&self, outputs: Vec<T::Output>, replies: Vec<Reply<T>>) {
        if let Some(hook) = &self.on_commit {
            hook(&outputs);
        }
        for (output, reply) in outputs.into_iter().zip(replies) {
            // A caller that went away (client disconnected) still had its write committed.
            let _ = reply.send(Ok(output));
        }
    }

    fn commit(&mut self, items: &[T]) -> Result<Vec<T::Output>, StoreError> {
        let started = std::time::Instant::now();
        let mut conn = match self.conn.take() {
            Some(conn) => conn,
            None => self.db.dedicated_connection(ConnectionRole::Writer)?,
        };
        let outputs = self
            .db
            .with_write_lock(|| write_transaction(&mut conn, |c| T::write(c, items)))?;
        if outputs.len() != items.len() {
            return Err(StoreError::Internal(
                "a batch writer returned the wrong number of outputs".into(),
            ));
        }
        self.conn = Some(conn);
        metrics::histogram!("switchboard_group_commit_batch_size", "writer" => self.name)
            .record(items.len() as f64);
        metrics::histogram!("switchboard_group_commit_seconds", "writer" => self.name)
            .record(started.elapsed().as_secs_f64());
        Ok(outputs)
    }
}
