//! Parent side of the launch: clone the init straight into its new
//! namespaces, then drive the protocol of `sync` until the init is Ready.
//! On any failure the init is killed and reaped before returning.

use crate::error::{Context, Error, Result};
use crate::plan::Plan;
use crate::step::{describe, Step};
use crate::sync::{Channel, Msg};
use crate::sys;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::OwnedFd;

/// What the parent does at the protocol's stops.
pub trait Parent {
    /// The init exists (pid known, not yet running): record it, place it
    /// in its cgroups, set id maps' companions like oom_score_adj.
    /// `born_in_v2`: clone3 made it in its cgroup v2 directory already.
    fn placed(&mut self, pid: i32, born_in_v2: bool) -> Result<()>;
    /// The init's pid changed (the extra fork for pid/time namespaces).
    fn repid(&mut self, pid: i32) -> Result<()>;
    /// Run prestart and createRuntime hooks.
    fn runtime_hooks(&mut self, pid: i32) -> Result<()>;
    /// The state JSON for hooks run by the child, if it has any.
    fn child_hook_state(&self, pid: i32) -> Vec<u8>;
}

pub struct Spawned {
    pub pid: i32,
    pub chan: Channel,
    pub pty: Option<OwnedFd>,
    /// The seccomp notify listener, for linux.seccomp.listenerPath.
    pub seccomp_fd: Option<OwnedFd>,
}

pub struct IdMaps {
    pub uid: String,
    pub gid: String,
}

fn write_maps(pid: i32, maps: &IdMaps) -> Result<()> {
    let w = |f: &str, s: &str| {
        let p = format!("/proc/{pid}/{f}");
        std::fs::write(&p, s).with_ctx(|| format!("write {p}"))
    };
    if !nix::unistd::geteuid().is_root() {
        w("setgroups", "deny")?;
    }
    if !maps.uid.is_empty() {
        w("uid_map", &maps.uid)?;
    }
    if !maps.gid.is_empty() {
        w("gid_map", &maps.gid)?;
    }
    Ok(())
}

/// Kill and reap a half-made init.
pub fn kill_and_reap(pid: i32) {
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    let _ = waitpid(Pid::from_raw(pid), None);
}

pub fn spawn(plan: &Plan, maps: &IdMaps, parent: &mut dyn Parent) -> Result<Spawned> {
    let (pchan, cchan) = Channel::pair().ctx("socketpair")?;
    if plan.need_fork {
        // The init is a grandchild: let it be reparented to us, not to pid 1.
        sys::prctl(libc::PR_SET_CHILD_SUBREAPER, 1).ctx("become a subreaper")?;
    }
    let child_hooks =
        !plan.create_container_hooks.is_empty() || !plan.start_container_hooks.is_empty();
    let mut state_buf = Vec::with_capacity(if child_hooks { 1 << 16 } else { 0 });
    let mut born_in_v2 = plan.cgroup_fd.is_some();
    let pid = match &plan.cgroup_fd {
        Some(fd) => {
            match sys::clone3_into_cgroup(plan.clone_flags, std::os::fd::AsRawFd::as_raw_fd(fd)) {
                // An older kernel: a plain clone; placement then writes cgroup.procs.
                Err(
                    nix::errno::Errno::ENOSYS
                    | nix::errno::Errno::E2BIG
                    | nix::errno::Errno::EINVAL,
                ) => {
                    born_in_v2 = false;
                    sys::clone_fork(plan.clone_flags)
                }
                r => r,
            }
        }
        None => sys::clone_fork(plan.clone_flags),
    }
    .ctx("clone the container's init")?;
    if pid == 0 {
        drop(pchan);
        crate::init::run(plan, &cchan, &mut state_buf);
    }
    drop(cchan);
    let mut sp = Spawned {
        pid,
        chan: pchan,
        pty: None,
        seccomp_fd: None,
    };
    let mut middle = None;
    match drive(
        plan,
        maps,
        parent,
        &mut sp,
        &mut middle,
        child_hooks,
        born_in_v2,
    ) {
        Ok(()) => Ok(sp),
        Err(e) => {
            kill_and_reap(sp.pid);
            if let Some(m) = middle {
                if m != sp.pid {
                    kill_and_reap(m);
                }
            }
            Err(e)
        }
    }
}

fn drive(
    plan: &Plan,
    maps: &IdMaps,
    parent: &mut dyn Parent,
    sp: &mut Spawned,
    middle: &mut Option<i32>,
    child_hooks: bool,
    born_in_v2: bool,
) -> Result<()> {
    if plan.new_user && !plan.general {
        write_maps(sp.pid, maps)?;
    }
    parent.placed(sp.pid, born_in_v2)?;
    sp.chan
        .send(Msg::Proceed)
        .ctx("start the container's init")?;
    if child_hooks {
        let st = parent.child_hook_state(sp.pid);
        nix::sys::socket::send(sp.chan.fd(), &st, nix::sys::socket::MsgFlags::empty())
            .ctx("send the state to the container's init")?;
    }
    // With the extra fork, the middle's InitPid and the init's own messages
    // come from two processes and may arrive in either order: hooks wait
    // for the init's pid, and setup is done only with both Ready and it.
    let mut pid_known = !plan.need_fork;
    let mut hooks_pending = false;
    let mut ready = false;
    loop {
        let msg = sp.chan.recv().ctx("read from the container's init")?;
        match msg {
            Some((Msg::InitPid(p), _)) => {
                // Reap the middle process; the init is its child.
                let _ = waitpid(Pid::from_raw(sp.pid), None);
                *middle = Some(sp.pid);
                sp.pid = p;
                pid_known = true;
                parent.repid(p)?;
            }
            Some((Msg::MapRequest, _)) => {
                write_maps(sp.pid, maps)?;
                sp.chan
                    .send(Msg::MapsDone)
                    .ctx("signal the container's init")?;
            }
            Some((Msg::Hooks(_), _)) => hooks_pending = true,
            Some((Msg::Pty, fd)) => sp.pty = fd,
            Some((Msg::SeccompFd, fd)) => sp.seccomp_fd = fd,
            Some((Msg::Ready, _)) => ready = true,
            Some((Msg::Error { step, index, errno }, _)) => {
                return Err(child_error(plan, step, index, errno))
            }
            Some((m, _)) => {
                return Err(Error::Msg(format!(
                    "unexpected message from the container's init: {m:?}"
                )))
            }
            None => return Err(exited(sp.pid, "during setup")),
        }
        if hooks_pending && pid_known {
            hooks_pending = false;
            parent.runtime_hooks(sp.pid)?;
            sp.chan
                .send(Msg::HooksDone)
                .ctx("signal the container's init")?;
        }
        if ready && pid_known {
            return Ok(());
        }
    }
}

/// Phrase a failure the child reported.
pub fn child_error(plan: &Plan, step: u32, index: u32, errno: i32) -> Error {
    match Step::from_u32(step) {
        Some(Step::ExeNotFound) => Error::Msg(describe(plan, Step::ExeNotFound, 0)),
        Some(Step::CwdEscape) => Error::Msg(describe(plan, Step::CwdEscape, 0)),
        Some(s) => Error::Sys {
            what: describe(plan, s, index as usize),
            errno: nix::errno::Errno::from_raw(errno),
        },
        None => Error::Msg(format!("container init failed at step {step}")),
    }
}

/// The init died without a word: say how.
pub fn exited(pid: i32, when: &str) -> Error {
    // EOF on the channel during setup means the init is gone (it cannot
    // close its end otherwise before execve): wait for its status.
    match waitpid(Pid::from_raw(pid), None) {
        Ok(WaitStatus::Exited(_, c)) => {
            Error::Msg(format!("container init exited {when} with status {c}"))
        }
        Ok(WaitStatus::Signaled(_, nix::sys::signal::Signal::SIGKILL, _)) => Error::Msg(format!(
            "container init was killed {when} by SIGKILL (out of memory? see linux.resources.memory.limit)"
        )),
        Ok(WaitStatus::Signaled(_, s, _)) => {
            Error::Msg(format!("container init was killed {when} by {s}"))
        }
        _ => Error::Msg(format!("container init exited {when}")),
    }
}
