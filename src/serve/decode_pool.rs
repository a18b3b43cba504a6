//! The server's decode workers and their bounded queue. Decoding is CPU work that must not run
//! on the async runtime's threads: each of `workers` OS threads takes one job at a time, on its
//! own rayon pool of `threads` threads (as the batch's workers do), while up to `queue` jobs
//! wait. A job offered when the queue is full is refused at once (the caller answers 503),
//! so memory stays bounded however many clients arrive. A panicking job fails alone.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{self, SyncSender, TrySendError};

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// Workers and their queue.
#[derive(Debug, Clone)]
pub struct DecodePool {
    tx: SyncSender<Job>,
}

/// The queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// A job that panicked, with the panic's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panicked(pub String);

impl DecodePool {
    /// Starts `workers` threads of `threads` threads each, with room for `queue` waiting jobs.
    pub fn start(workers: usize, threads: usize, queue: usize) -> anyhow::Result<DecodePool> {
        let (tx, rx) = mpsc::sync_channel::<Job>(queue);
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for worker in 0..workers.max(1) {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads.max(1))
                .thread_name(move |i| format!("decode-{worker}-{i}"))
                .build()?;
            let rx = std::sync::Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("decode-{worker}"))
                .spawn(move || {
                    loop {
                        let job = rx.lock().expect("decode queue").recv();
                        let Ok(job) = job else { break };
                        pool.install(job);
                    }
                })?;
        }
        Ok(DecodePool { tx })
    }

    /// Queues `work`; its result (or its panic) arrives on the receiver.
    pub fn submit<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<oneshot::Receiver<Result<T, Panicked>>, Busy> {
        let (done, receiver) = oneshot::channel();
        let job: Job = Box::new(move || {
            let result = std::panic::catch_unwind(AssertUnwindSafe(work)).map_err(|panic| {
                Panicked(
                    panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default(),
                )
            });
            // The client may have gone; nothing to tell then.
            let _ = done.send(result);
        });
        match self.tx.try_send(job) {
            Ok(()) => Ok(receiver),
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => Err(Busy),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    #[test]
    fn a_full_queue_refuses_and_a_panic_fails_alone() {
        let pool = DecodePool::start(1, 1, 1).unwrap();
        let gate = Arc::new(Barrier::new(2));
        let held = Arc::clone(&gate);
        // One job running (held at the barrier), one waiting: the third is refused.
        let running = pool.submit(move || {
            held.wait();
            1
        });
        let mut waiting = None;
        // The worker may not have taken the first job yet: retry until it has.
        for _ in 0..1000 {
            match pool.submit(|| 2) {
                Ok(r) => {
                    waiting = Some(r);
                    break;
                }
                Err(Busy) => std::thread::sleep(std::time::Duration::from_millis(1)),
            }
        }
        let waiting = waiting.expect("room for one waiting job");
        assert_eq!(pool.submit(|| 3).unwrap_err(), Busy);
        gate.wait();
        assert_eq!(running.unwrap().blocking_recv().unwrap(), Ok(1));
        assert_eq!(waiting.blocking_recv().unwrap(), Ok(2));
        let panicked = pool
            .submit(|| -> i32 { panic!("bad input {}", 7) })
            .unwrap();
        assert_eq!(
            panicked.blocking_recv().unwrap(),
            Err(Panicked("bad input 7".into()))
        );
        assert_eq!(pool.submit(|| 4).unwrap().blocking_recv().unwrap(), Ok(4));
    }
}
