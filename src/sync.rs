//! The parent/child protocol: one SOCK_SEQPACKET socketpair, fixed-size typed
//! messages (so the child never allocates to talk), fds via SCM_RIGHTS.
//!
//! | step                     | child -> parent       | parent -> child |
//! |--------------------------|-----------------------|-----------------|
//! | clone                    |                       | `Proceed` once id maps and cgroups are set |
//! | middle child (pid/time join) | `InitPid(pid)`    |                 |
//! | new user ns (general path)   | `MapRequest`      | `MapsDone`      |
//! | createRuntime hooks      | `Hooks(kind)`         | `HooksDone`     |
//! | terminal                 | `Pty` + master fd     |                 |
//! | setup finished           | `Ready`               |                 |
//! | start (run)              |                       | `Start`         |
//! | any failure              | `Error{step,index,errno}` then exit |  |
//! | execve                   | EOF (close-on-exec)   |                 |

use crate::sys;
use nix::errno::Errno;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Msg {
    Proceed,
    InitPid(i32),
    MapRequest,
    MapsDone,
    Hooks(u32),
    HooksDone,
    Pty,
    SeccompFd,
    Ready,
    Start,
    /// `step` is a `Step`, `index` the entry in that step's list.
    Error {
        step: u32,
        index: u32,
        errno: i32,
    },
}

impl Msg {
    fn encode(self) -> [u8; 16] {
        let (tag, a, b, c) = match self {
            Msg::Proceed => (1, 0, 0, 0),
            Msg::InitPid(p) => (2, p as u32, 0, 0),
            Msg::MapRequest => (3, 0, 0, 0),
            Msg::MapsDone => (4, 0, 0, 0),
            Msg::Hooks(k) => (5, k, 0, 0),
            Msg::HooksDone => (6, 0, 0, 0),
            Msg::Pty => (7, 0, 0, 0),
            Msg::SeccompFd => (11, 0, 0, 0),
            Msg::Ready => (8, 0, 0, 0),
            Msg::Start => (9, 0, 0, 0),
            Msg::Error { step, index, errno } => (10, step, index, errno),
        };
        let mut out = [0u8; 16];
        out[0..4].copy_from_slice(&(tag as u32).to_ne_bytes());
        out[4..8].copy_from_slice(&a.to_ne_bytes());
        out[8..12].copy_from_slice(&b.to_ne_bytes());
        out[12..16].copy_from_slice(&c.to_ne_bytes());
        out
    }

    fn decode(b: &[u8]) -> Option<Msg> {
        if b.len() != 16 {
            return None;
        }
        let w = |i: usize| u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Some(match w(0) {
            1 => Msg::Proceed,
            2 => Msg::InitPid(w(4) as i32),
            3 => Msg::MapRequest,
            4 => Msg::MapsDone,
            5 => Msg::Hooks(w(4)),
            6 => Msg::HooksDone,
            7 => Msg::Pty,
            11 => Msg::SeccompFd,
            8 => Msg::Ready,
            9 => Msg::Start,
            10 => Msg::Error {
                step: w(4),
                index: w(8),
                errno: w(12) as i32,
            },
            _ => return None,
        })
    }
}

/// One end of the channel.
pub struct Channel(pub OwnedFd);

impl Channel {
    pub fn pair() -> nix::Result<(Channel, Channel)> {
        use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        Ok((Channel(a), Channel(b)))
    }

    pub fn fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    pub fn send(&self, m: Msg) -> Result<(), Errno> {
        sys::send_with_fd(self.fd(), &m.encode(), None)
    }

    pub fn send_fd(&self, m: Msg, fd: RawFd) -> Result<(), Errno> {
        sys::send_with_fd(self.fd(), &m.encode(), Some(fd))
    }

    /// Next message; `Ok(None)` at EOF (the peer exec'd or died).
    pub fn recv(&self) -> Result<Option<(Msg, Option<OwnedFd>)>, Errno> {
        let mut buf = [0u8; 16];
        let (n, fd) = sys::recv_with_fd(self.fd(), &mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        Msg::decode(&buf[..n])
            .map(|m| Some((m, fd)))
            .ok_or(Errno::EPROTO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let all = [
            Msg::Proceed,
            Msg::InitPid(4242),
            Msg::MapRequest,
            Msg::MapsDone,
            Msg::Hooks(3),
            Msg::HooksDone,
            Msg::Pty,
            Msg::SeccompFd,
            Msg::Ready,
            Msg::Start,
            Msg::Error {
                step: 7,
                index: 2,
                errno: 13,
            },
        ];
        for m in all {
            assert_eq!(Msg::decode(&m.encode()), Some(m));
        }
        assert_eq!(Msg::decode(&[0; 16]), None);
        assert_eq!(Msg::decode(&[1; 3]), None);
    }

    #[test]
    fn over_a_socketpair_with_fd() {
        let (a, b) = Channel::pair().unwrap();
        let f = std::fs::File::open("/dev/null").unwrap();
        a.send_fd(Msg::Pty, f.as_raw_fd()).unwrap();
        let (m, fd) = b.recv().unwrap().unwrap();
        assert_eq!(m, Msg::Pty);
        assert!(fd.is_some());
        drop(a);
        assert!(b.recv().unwrap().is_none());
    }
}
