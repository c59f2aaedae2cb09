//! A foreground `run`: forward signals to the container's init, relay its
//! pty to our stdio when there is one, and return its exit code (128+N for
//! a signal). Everything waits in poll(2): no sleeping, no polling loops.

use crate::error::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// Block the signals we forward, and get them from a signalfd instead.
pub fn block_signals() -> Result<SignalFd> {
    let mut set = SigSet::empty();
    for s in Signal::iterator() {
        if !matches!(
            s,
            Signal::SIGKILL
                | Signal::SIGSTOP
                | Signal::SIGSEGV
                | Signal::SIGBUS
                | Signal::SIGILL
                | Signal::SIGFPE
        ) {
            set.add(s);
        }
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None).ctx("block signals")?;
    SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).ctx("signalfd")
}

pub fn exit_code(ws: WaitStatus) -> Option<i32> {
    match ws {
        WaitStatus::Exited(_, c) => Some(c),
        WaitStatus::Signaled(_, s, _) => Some(128 + s as i32),
        _ => None,
    }
}

fn copy(from: i32, to: i32) -> bool {
    let mut buf = [0u8; 8192];
    match nix::unistd::read(crate::init::borrow(from), &mut buf) {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            let mut off = 0;
            while off < n {
                match nix::unistd::write(crate::init::borrow(to), &buf[off..n]) {
                    Ok(w) => off += w,
                    Err(nix::errno::Errno::EINTR) => {}
                    Err(_) => return false,
                }
            }
            true
        }
    }
}

/// Wait for the init `pid` to exit, forwarding signals; relay `pty`.
pub fn wait(pid: i32, sigs: SignalFd, pty: Option<OwnedFd>) -> Result<i32> {
    let pidfd = crate::sys::pidfd_open(pid).ctx("pidfd_open")?;
    let mut stdin_open = pty.is_some();
    if let Some(p) = &pty {
        if let Ok(ws) = nix::pty::Winsize::default_from_stdin() {
            let _ = ws.apply(p.as_raw_fd());
        }
    }
    loop {
        let mut fds = vec![
            PollFd::new(sigs.as_fd(), PollFlags::POLLIN),
            PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
        ];
        let stdin = std::io::stdin();
        if let Some(p) = &pty {
            fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
            if stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => r.ctx("poll")?,
        };
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        if ready[0] {
            while let Ok(Some(si)) = sigs.read_signal() {
                let sig = si.ssi_signo as i32;
                if sig == libc::SIGCHLD {
                    continue;
                }
                if sig == libc::SIGWINCH {
                    if let (Some(p), Ok(ws)) = (&pty, nix::pty::Winsize::default_from_stdin()) {
                        let _ = ws.apply(p.as_raw_fd());
                    }
                    continue;
                }
                let _ = crate::sys::pidfd_send_signal(pidfd.as_raw_fd(), sig);
            }
        }
        if let Some(p) = &pty {
            if ready.get(2) == Some(&true) && !copy(p.as_raw_fd(), 1) && !ready[1] {
                // The pty closed: the process is going away; wait for it.
            }
            if ready.get(3) == Some(&true) && !copy(0, p.as_raw_fd()) {
                stdin_open = false;
            }
        }
        if ready[1] {
            if let Some(p) = &pty {
                // Drain what the program wrote before it exited.
                let _ = nix::fcntl::fcntl(
                    p,
                    nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
                );
                while copy(p.as_raw_fd(), 1) {}
            }
            let ws = waitpid(Pid::from_raw(pid), None).ctx("wait for the container")?;
            if let Some(c) = exit_code(ws) {
                return Ok(c);
            }
        }
    }
}

trait WinsizeExt: Sized {
    fn default_from_stdin() -> std::result::Result<Self, nix::errno::Errno>;
    fn apply(&self, fd: i32) -> std::result::Result<(), nix::errno::Errno>;
}

impl WinsizeExt for nix::pty::Winsize {
    fn default_from_stdin() -> std::result::Result<Self, nix::errno::Errno> {
        crate::sys::get_winsize(0)
    }
    fn apply(&self, fd: i32) -> std::result::Result<(), nix::errno::Errno> {
        crate::sys::set_winsize(fd, self)
    }
}
