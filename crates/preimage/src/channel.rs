//! The four streams between a client and its host (PREIMAGE.md, "File descriptors"): the client sees them as fds
//! 3–6; a host that runs a client creates two pipe pairs and starts it with exactly those open.

use crate::{serve_hints, serve_preimages, Limits, PreimageError, PreimageKey};
use command_fds::{CommandFdExt, FdMapping};
use std::{
    fs::File,
    io::{PipeReader, PipeWriter},
    process::{Child, Command, ExitStatus},
};

/// The client's ends: fd 3 reads hint acks, fd 4 writes hints, fd 5 reads preimage replies, fd 6 writes keys.
#[derive(Debug)]
pub struct ClientFds {
    pub hint_acks: File,
    pub hints: File,
    pub replies: File,
    pub keys: File,
}

impl ClientFds {
    /// Opens fds 3–6 of this process (through `/proc/self/fd`, which re-opens the same pipes).
    pub fn open() -> Result<Self, PreimageError> {
        let open = |fd: u32, write: bool| {
            let path = format!("/proc/self/fd/{fd}");
            File::options().read(!write).write(write).open(&path).map_err(|e| PreimageError::Io {
                channel: if fd <= 4 { "hint" } else { "preimage" },
                source: std::io::Error::new(
                    e.kind(),
                    format!("fd {fd} ({path}): {e}; was this started by a host?"),
                ),
            })
        };
        Ok(Self {
            hint_acks: open(3, false)?,
            hints: open(4, true)?,
            replies: open(5, false)?,
            keys: open(6, true)?,
        })
    }
}

/// The host's ends of a running client's streams.
#[derive(Debug)]
pub struct HostChannels {
    /// Hints from the client (its fd 4).
    pub hints: PipeReader,
    /// Acks to the client (its fd 3).
    pub hint_acks: PipeWriter,
    /// Keys from the client (its fd 6).
    pub keys: PipeReader,
    /// Replies to the client (its fd 5).
    pub replies: PipeWriter,
}

fn pipe() -> Result<(PipeReader, PipeWriter), PreimageError> {
    std::io::pipe().map_err(|source| PreimageError::Io { channel: "pipe", source })
}

/// Starts `command` as a client with fds 3–6 wired to the returned host ends. The parent keeps no copy of the
/// client's ends, so the client's death shows up as end of stream on the host's reads.
pub fn spawn_client(mut command: Command) -> Result<(Child, HostChannels), PreimageError> {
    let (ack_read, ack_write) = pipe()?;
    let (hint_read, hint_write) = pipe()?;
    let (reply_read, reply_write) = pipe()?;
    let (key_read, key_write) = pipe()?;
    command
        .fd_mappings(vec![
            FdMapping { parent_fd: ack_read.into(), child_fd: 3 },
            FdMapping { parent_fd: hint_write.into(), child_fd: 4 },
            FdMapping { parent_fd: reply_read.into(), child_fd: 5 },
            FdMapping { parent_fd: key_write.into(), child_fd: 6 },
        ])
        .map_err(|e| PreimageError::Io { channel: "pipe", source: std::io::Error::other(e.to_string()) })?;
    let child = command.spawn().map_err(|source| PreimageError::Io { channel: "spawn", source });
    // Dropping the command closes the parent's copies of the client's ends.
    drop(command);
    let child = child?;
    Ok((child, HostChannels { hints: hint_read, hint_acks: ack_write, keys: key_read, replies: reply_write }))
}

/// What a host run served.
#[derive(Debug)]
pub struct HostRun {
    pub status: ExitStatus,
    pub preimages: u64,
    pub hints: u64,
    /// Why the host stopped serving before the client finished, if it did.
    pub error: Option<PreimageError>,
}

/// Runs `command` as a client and serves it: preimages from `fetch`, hints to `on_hint`, both streams at once
/// (hints on a second thread). Returns when the client has exited. When the host cannot serve a key it closes
/// the preimage stream, so the client fails with a missing preimage instead of waiting forever.
pub fn run_client(
    command: Command,
    limits: Limits,
    fetch: impl FnMut(PreimageKey) -> Result<Option<Vec<u8>>, PreimageError>,
    on_hint: impl FnMut(&str) + Send,
) -> Result<HostRun, PreimageError> {
    run_client_with_deadline(command, limits, None, fetch, on_hint)
}

/// [`run_client`], killing the client if it has not exited within `deadline` (a client that hangs without dying
/// would otherwise hold the host forever); the run then reports the timeout as its error.
pub fn run_client_with_deadline(
    command: Command,
    limits: Limits,
    deadline: Option<std::time::Duration>,
    fetch: impl FnMut(PreimageKey) -> Result<Option<Vec<u8>>, PreimageError>,
    on_hint: impl FnMut(&str) + Send,
) -> Result<HostRun, PreimageError> {
    let (child, channels) = spawn_client(command)?;
    let child = std::sync::Mutex::new(child);
    let timed_out = std::sync::atomic::AtomicBool::new(false);
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let HostChannels { hints, hint_acks, keys, replies } = channels;
    let (preimages, hints, status) = std::thread::scope(|scope| {
        if let Some(deadline) = deadline {
            let (child, timed_out) = (&child, &timed_out);
            scope.spawn(move || {
                if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(deadline) {
                    timed_out.store(true, std::sync::atomic::Ordering::Release);
                    if let Ok(mut child) = child.lock() {
                        let _ = child.kill();
                    }
                }
            });
        }
        let hint_thread = scope.spawn(move || serve_hints(hints, hint_acks, limits, on_hint));
        let preimages = serve_preimages(keys, replies, limits, fetch);
        // `serve_preimages` consumed (and so closed) the preimage streams; the hint thread ends when the client
        // closes its hint stream (at exit).
        let hints = hint_thread.join().unwrap_or_else(|_| {
            Err(PreimageError::Io { channel: "hint", source: std::io::Error::other("hint thread panicked") })
        });
        // Wait for the exit without holding the lock, so the watchdog can still kill a client that lingers. A
        // client that closed its streams is usually exiting: poll soon, then back off to 2 ms.
        let mut pause = std::time::Duration::from_micros(50);
        let status = loop {
            let polled = match child.lock() {
                Ok(mut child) => child.try_wait(),
                Err(_) => Err(std::io::Error::other("child lock poisoned")),
            };
            match polled {
                Ok(Some(status)) => break Ok(status),
                Ok(None) => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(std::time::Duration::from_millis(2));
                }
                Err(e) => break Err(e),
            }
        };
        let _ = stop.send(());
        (preimages, hints, status)
    });
    let status = status.map_err(|source| PreimageError::Io { channel: "wait", source })?;
    let (served, mut error) = match preimages {
        Ok(served) => (served, None),
        Err(e) => (0, Some(e)),
    };
    let hint_count = match hints {
        Ok(n) => n,
        Err(e) => {
            error.get_or_insert(e);
            0
        }
    };
    if timed_out.load(std::sync::atomic::Ordering::Acquire) {
        error = Some(PreimageError::Io {
            channel: "client",
            source: std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client did not finish in time and was killed",
            ),
        });
    }
    Ok(HostRun { status, preimages: served, hints: hint_count, error })
}
