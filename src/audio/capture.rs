//! Live audio on its own thread: a microphone (cargo feature `mic`) or a file played at real
//! time pace (or as fast as the consumer takes it), delivered as 16 kHz mono through a bounded
//! queue. Capture never waits for inference: the thread only reads, resamples and appends;
//! when the consumer falls more than [`CaptureConfig::max_queue_s`] behind, the oldest audio is
//! dropped and counted, so memory stays bounded whatever the model's speed.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::SAMPLE_RATE;
use super::stream::AudioStream;

/// Where live audio comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveSource {
    /// An input device (`None`: the default one), through cpal.
    Microphone(Option<String>),
    /// A file through the same pipeline: at real-time pace when `realtime`, else as fast as
    /// the consumer takes it (the queue then waits for the consumer instead of dropping).
    File {
        /// The audio file.
        path: PathBuf,
        /// Play at real-time pace.
        realtime: bool,
    },
}

/// Capture settings.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureConfig {
    /// Most audio (seconds) waiting for the consumer before the oldest is dropped.
    pub max_queue_s: f64,
    /// Stop after this much audio (seconds); `None`: until the source ends or `stop`.
    pub max_duration_s: Option<f64>,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            max_queue_s: 60.0,
            max_duration_s: None,
        }
    }
}

/// Audio taken from the queue, and the state of the source.
#[derive(Debug, Default)]
pub struct Taken {
    /// 16 kHz mono samples, oldest first.
    pub samples: Vec<f32>,
    /// The source has ended (end of file, duration reached, stop requested, or an error);
    /// nothing more will come after `samples`.
    pub ended: bool,
    /// Why capture failed, when it did (device unplugged, unreadable file).
    pub error: Option<String>,
}

/// A running capture thread.
#[derive(Debug)]
pub struct Capture {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// Human-readable description of the source (device id, or file path).
    pub description: String,
    /// When capture began: audio time 0 (a file is paced from here).
    pub started: Instant,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<f32>,
    ended: bool,
    error: Option<String>,
    stop: bool,
    /// Samples captured (including dropped ones).
    captured: u64,
    /// Samples dropped because the consumer fell behind.
    dropped: u64,
}

impl Capture {
    /// Starts capturing from `source`. A device or file that cannot be opened is an error here,
    /// before anything runs.
    pub fn start(source: &LiveSource, config: &CaptureConfig) -> Result<Capture, String> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let max_queue = (config.max_queue_s.max(1.0) * f64::from(SAMPLE_RATE)) as usize;
        let limit = config
            .max_duration_s
            .map(|s| (s.max(0.0) * f64::from(SAMPLE_RATE)) as u64);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<String, String>>();
        let thread_shared = shared.clone();
        let source = source.clone();
        let started = Instant::now();
        let thread = std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || {
                let sink = Sink {
                    shared: thread_shared,
                    max_queue,
                    limit,
                };
                let outcome = match source {
                    LiveSource::File { path, realtime } => {
                        play_file(&path, realtime, started, &sink, &ready_tx)
                    }
                    LiveSource::Microphone(device) => {
                        record_microphone(device.as_deref(), &sink, &ready_tx)
                    }
                };
                sink.end(outcome.err());
            })
            .map_err(|e| format!("cannot start the capture thread: {e}"))?;
        match ready_rx.recv() {
            Ok(Ok(description)) => Ok(Capture {
                shared,
                thread: Some(thread),
                description,
                started,
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err("the capture thread stopped before it started".into())
            }
        }
    }

    /// Waits until at least `min` samples are queued (or the source has ended, or `timeout`
    /// passed) and takes up to `max` of them.
    pub fn take(&self, min: usize, max: usize, timeout: Duration) -> Taken {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        while state.queue.len() < min && !state.ended {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let n = state.queue.len().min(max);
        let samples: Vec<f32> = state.queue.drain(..n).collect();
        let ended = state.ended && state.queue.is_empty();
        let error = if ended { state.error.clone() } else { None };
        drop(state);
        // A paced-by-the-consumer file waits for room.
        self.shared.changed.notify_all();
        Taken {
            samples,
            ended,
            error,
        }
    }

    /// Asks the source to stop; what was captured stays queued for [`take`](Self::take).
    pub fn stop(&self) {
        let mut state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        state.stop = true;
        drop(state);
        self.shared.changed.notify_all();
    }

    /// Seconds of audio captured so far (including dropped audio).
    pub fn captured_s(&self) -> f64 {
        let state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        state.captured as f64 / f64::from(SAMPLE_RATE)
    }

    /// Seconds of audio dropped because the consumer fell behind.
    pub fn dropped_s(&self) -> f64 {
        let state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        state.dropped as f64 / f64::from(SAMPLE_RATE)
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The capture thread's side of the queue.
struct Sink {
    shared: Arc<Shared>,
    max_queue: usize,
    limit: Option<u64>,
}

/// Whether the capture loop goes on after a push.
#[derive(Debug, PartialEq)]
enum Flow {
    Continue,
    Done,
}

impl Sink {
    /// Appends samples. When `wait` (a file at the consumer's pace), waits for room instead of
    /// dropping the oldest audio.
    fn push(&self, samples: &[f32], wait: bool) -> Flow {
        let mut state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        if wait {
            while !state.stop && state.queue.len() + samples.len() > self.max_queue {
                state = self
                    .shared
                    .changed
                    .wait(state)
                    .unwrap_or_else(|e| e.into_inner());
            }
        }
        if state.stop {
            return Flow::Done;
        }
        let samples = match self.limit {
            Some(limit) => {
                let room = limit.saturating_sub(state.captured) as usize;
                &samples[..samples.len().min(room)]
            }
            None => samples,
        };
        state.queue.extend(samples.iter().copied());
        state.captured += samples.len() as u64;
        let excess = state.queue.len().saturating_sub(self.max_queue);
        if excess > 0 {
            state.queue.drain(..excess);
            state.dropped += excess as u64;
        }
        let done = self.limit.is_some_and(|l| state.captured >= l);
        drop(state);
        self.shared.changed.notify_all();
        if done { Flow::Done } else { Flow::Continue }
    }

    fn stopped(&self) -> bool {
        self.shared
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .stop
    }

    fn end(&self, error: Option<String>) {
        let mut state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        state.ended = true;
        state.error = error;
        drop(state);
        self.shared.changed.notify_all();
    }
}

/// Plays a file into the queue in 100 ms chunks, each handed over once its last sample's time
/// has come (real time), or as soon as there is room (not real time).
fn play_file(
    path: &std::path::Path,
    realtime: bool,
    started: Instant,
    sink: &Sink,
    ready: &std::sync::mpsc::Sender<Result<String, String>>,
) -> Result<(), String> {
    let mut stream = match AudioStream::open(path) {
        Ok(s) => s.with_chunk_samples(SAMPLE_RATE as usize / 10),
        Err(e) => {
            let _ = ready.send(Err(e.to_string()));
            return Ok(());
        }
    };
    let _ = ready.send(Ok(path.display().to_string()));
    let mut fed = 0usize;
    while !sink.stopped() {
        let chunk = match stream.next_chunk() {
            Ok(Some(c)) => c,
            Ok(None) => return Ok(()),
            Err(e) => return Err(e.to_string()),
        };
        fed += chunk.len();
        if realtime {
            let due = Duration::from_secs_f64(fed as f64 / f64::from(SAMPLE_RATE));
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        if sink.push(&chunk, !realtime) == Flow::Done {
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(feature = "mic")]
fn record_microphone(
    device: Option<&str>,
    sink: &Sink,
    ready: &std::sync::mpsc::Sender<Result<String, String>>,
) -> Result<(), String> {
    // cpal's stream is not Send: it is opened and dropped on this thread.
    let mut mic = match super::mic::Microphone::open(device) {
        Ok(m) => m,
        Err(e) => {
            let _ = ready.send(Err(e.to_string()));
            return Ok(());
        }
    };
    let _ = ready.send(Ok(format!(
        "{} ({} Hz, {} channels)",
        mic.device, mic.source_rate, mic.channels
    )));
    while !sink.stopped() {
        match mic.next_chunk(Duration::from_millis(100)) {
            Ok(Some(chunk)) => {
                if sink.push(&chunk, false) == Flow::Done {
                    break;
                }
            }
            Ok(None) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    let dropped = mic.dropped_frames();
    if dropped > 0 {
        tracing::warn!(
            "{}: {dropped} device frames dropped in the audio callback",
            mic.device
        );
    }
    Ok(())
}

#[cfg(not(feature = "mic"))]
fn record_microphone(
    _device: Option<&str>,
    _sink: &Sink,
    ready: &std::sync::mpsc::Sender<Result<String, String>>,
) -> Result<(), String> {
    let _ = ready.send(Err(
        "this build has no microphone support (cargo feature `mic`); use --input FILE".into(),
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(max_queue: usize, limit: Option<u64>) -> (Sink, Arc<Shared>) {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        (
            Sink {
                shared: shared.clone(),
                max_queue,
                limit,
            },
            shared,
        )
    }

    #[test]
    fn a_full_queue_drops_the_oldest_audio_and_counts_it() {
        let (s, shared) = sink(4, None);
        assert_eq!(s.push(&[1.0, 2.0, 3.0], false), Flow::Continue);
        assert_eq!(s.push(&[4.0, 5.0, 6.0], false), Flow::Continue);
        let state = shared.state.lock().unwrap();
        assert_eq!(state.queue, [3.0, 4.0, 5.0, 6.0]);
        assert_eq!((state.captured, state.dropped), (6, 2));
    }

    #[test]
    fn audio_before_a_failure_is_delivered_then_the_error() {
        let (s, shared) = sink(100, None);
        let capture = Capture {
            shared,
            thread: None,
            description: "test".into(),
            started: Instant::now(),
        };
        s.push(&[0.5; 10], false);
        s.end(Some("device unplugged".into()));
        let first = capture.take(4, 4, Duration::ZERO);
        assert_eq!((first.samples.len(), first.ended), (4, false));
        let rest = capture.take(1, usize::MAX, Duration::from_secs(5));
        assert_eq!(rest.samples.len(), 6);
        assert!(rest.ended);
        assert_eq!(rest.error.as_deref(), Some("device unplugged"));
    }

    #[test]
    fn the_duration_limit_cuts_the_last_push() {
        let (s, shared) = sink(100, Some(5));
        assert_eq!(s.push(&[1.0; 3], false), Flow::Continue);
        assert_eq!(s.push(&[2.0; 3], false), Flow::Done);
        assert_eq!(shared.state.lock().unwrap().queue.len(), 5);
    }
}
