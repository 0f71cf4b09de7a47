//! A log writer that takes lines off the request path and writes them in batches.
//!
//! A line is appended to a shared buffer under a short lock; the first line of a batch wakes
//! the writer thread, which waits [`GATHER`] for more before it writes them all with one
//! `write`. So a busy gateway costs one wake and one write per batch, not per line (a
//! per-line queue with a woken writer doubled the CPU per request at one connection).
//!
//! # Invariants
//! - No line is dropped or reordered. A buffer past [`MAX_BYTES`] is written out by the
//!   thread that filled it, before its line returns (backpressure, as a blocking writer).
//! - A line is written at most [`GATHER`] after it was logged, and every line before
//!   [`Batched`]'s guard is dropped (a normal exit) is written.
//! - A write error loses that batch; it never fails the caller.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long the writer gathers lines after the first of a batch.
pub(super) const GATHER: Duration = Duration::from_millis(5);
/// A buffer this large is written at once by whoever filled it.
pub(super) const MAX_BYTES: usize = 1 << 20;

struct Shared<W> {
    state: Mutex<State>,
    wake: Condvar,
    out: Mutex<W>,
}

#[derive(Default)]
struct State {
    pending: Vec<u8>,
    stopping: bool,
}

/// The `MakeWriter` handed to tracing-subscriber's fmt layer.
pub(super) struct Batched<W: Write + Send + 'static> {
    shared: Arc<Shared<W>>,
}

impl<W: Write + Send + 'static> Clone for Batched<W> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

/// Stops the writer thread and writes what is pending when dropped.
pub(super) struct Guard {
    stop: Box<dyn FnMut() + Send>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        (self.stop)();
    }
}

impl<W: Write + Send + 'static> Batched<W> {
    /// A batched writer to `out` with its writer thread named `name`.
    pub(super) fn new(name: &str, out: W) -> io::Result<(Self, Guard)> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            out: Mutex::new(out),
        });
        let worker = shared.clone();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || worker.run())?;
        let stopping = shared.clone();
        let mut thread: Option<JoinHandle<()>> = Some(thread);
        let stop = move || {
            lock(&stopping.state).stopping = true;
            stopping.wake.notify_one();
            if let Some(thread) = thread.take() {
                let _ = thread.join();
            }
        };
        Ok((Self { shared }, Guard { stop: Box::new(stop) }))
    }
}

impl<W: Write + Send> Shared<W> {
    fn append(&self, line: &[u8]) {
        let mut state = lock(&self.state);
        let first = state.pending.is_empty();
        state.pending.extend_from_slice(line);
        if state.pending.len() >= MAX_BYTES {
            let full = std::mem::take(&mut state.pending);
            // The output lock is taken before the state lock is let go, so that batches
            // reach the output in the order they were cut.
            let mut out = lock(&self.out);
            drop(state);
            self.write(&mut out, &full);
        } else if first {
            self.wake.notify_one();
        }
    }

    fn run(&self) {
        loop {
            let mut state = lock(&self.state);
            while state.pending.is_empty() && !state.stopping {
                state = self.wake.wait(state).unwrap_or_else(PoisonError::into_inner);
            }
            if !state.stopping {
                // Let the batch gather; a stop cuts the wait short.
                state = self
                    .wake
                    .wait_timeout_while(state, GATHER, |s| !s.stopping)
                    .map(|(s, _)| s)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
            let batch = std::mem::take(&mut state.pending);
            let stopping = state.stopping;
            let mut out = lock(&self.out);
            drop(state);
            self.write(&mut out, &batch);
            if stopping {
                return;
            }
        }
    }

    fn write(&self, out: &mut W, batch: &[u8]) {
        if batch.is_empty() {
            return;
        }
        // Nowhere is left to report a log that cannot be written; the caller goes on.
        let _ = out.write_all(batch).and_then(|()| out.flush());
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One event's writer: fmt formats the whole line, then writes it in one call.
pub(super) struct Line<'a, W: Write + Send> {
    shared: &'a Shared<W>,
}

impl<W: Write + Send> Write for Line<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.shared.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a, W: Write + Send + 'static> MakeWriter<'a> for Batched<W> {
    type Writer = Line<'a, W>;

    fn make_writer(&'a self) -> Self::Writer {
        Line { shared: &self.shared }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output that records what reached it and how many writes it took.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Recorder {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut seen = lock(&self.0);
            seen.0.extend_from_slice(buf);
            seen.1 += 1;
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn log(writer: &Batched<Recorder>, line: &str) {
        writer.make_writer().write_all(line.as_bytes()).expect("append");
    }

    #[test]
    fn lines_logged_together_are_written_in_one_batch_in_order() {
        let out = Recorder::default();
        let (writer, guard) = Batched::new("test-log", out.clone()).expect("writer");
        let lines: Vec<String> = (0..1000).map(|i| format!("line {i}\n")).collect();
        for line in &lines {
            log(&writer, line);
        }
        drop(guard);
        let (bytes, writes) = lock(&out.0).clone();
        assert_eq!(String::from_utf8(bytes).expect("utf-8"), lines.concat());
        assert!(
            writes < lines.len(),
            "one write per line: the lines were not batched"
        );
    }

    #[test]
    fn a_line_reaches_the_output_without_a_stop() {
        let out = Recorder::default();
        let (writer, _guard) = Batched::new("test-log", out.clone()).expect("writer");
        log(&writer, "alone\n");
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while lock(&out.0).0.is_empty() && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(lock(&out.0).0, b"alone\n");
    }

    #[test]
    fn a_full_buffer_is_written_by_the_logger_in_order_with_the_rest() {
        let out = Recorder::default();
        let (writer, guard) = Batched::new("test-log", out.clone()).expect("writer");
        let line = "x".repeat(1000) + "\n";
        let count = 3 * MAX_BYTES / line.len();
        for _ in 0..count {
            log(&writer, &line);
        }
        log(&writer, "last\n");
        drop(guard);
        let bytes = lock(&out.0).0.clone();
        assert_eq!(bytes.len(), count * line.len() + 5);
        assert!(bytes.ends_with(b"x\nlast\n"));
    }
}
