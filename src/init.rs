//! The container's init, child side of the clone: one linear sequence from
//! namespaces to execve, driven by the plan. Failures are sent to the parent
//! as (step, index, errno) and the child exits; it never returns.

use crate::plan::{ChildHook, Plan};
use crate::rootfs::{self, At, CResult, FdPath};
use crate::step::Step;
use crate::sync::{Channel, Msg};
use crate::sys;
use nix::errno::Errno;
use std::ffi::CStr;
use std::os::fd::{AsRawFd, OwnedFd};

/// Entry point in the child. `state` is the state JSON for child-run hooks.
pub fn run(plan: &Plan, chan: &Channel, state: &mut Vec<u8>) -> ! {
    let (step, index, errno) = match setup(plan, chan, state) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let _ = chan.send(Msg::Error {
        step: step as u32,
        index: index as u32,
        errno: errno as i32,
    });
    sys::exit_now(1)
}

fn expect(chan: &Channel, want: Msg) -> CResult<()> {
    match chan.recv() {
        Ok(Some((m, _))) if m == want => Ok(()),
        Ok(_) => Err((Step::Channel, 0, Errno::EPIPE)),
        Err(e) => Err((Step::Channel, 0, e)),
    }
}

fn namespaces(plan: &Plan, chan: &Channel) -> CResult<()> {
    for (i, (fd, flag, _)) in plan.joins.iter().enumerate() {
        nix::sched::setns(fd, nix::sched::CloneFlags::from_bits_retain(*flag))
            .at(Step::Setns, i)?;
    }
    let mut flags = plan.unshare_flags;
    let new_user = flags & libc::CLONE_NEWUSER != 0;
    if new_user {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER).at(Step::Unshare, 0)?;
        // A non-root parent may only write the maps of a dumpable child;
        // this process is not in a joined pid namespace itself (only its
        // children will be), so no container process can see it meanwhile.
        sys::prctl(libc::PR_SET_DUMPABLE, 1).at(Step::Dumpable, 0)?;
        chan.send(Msg::MapRequest).at(Step::Channel, 0)?;
        expect(chan, Msg::MapsDone)?;
        sys::prctl(libc::PR_SET_DUMPABLE, 0).at(Step::Dumpable, 0)?;
        flags &= !libc::CLONE_NEWUSER;
    }
    if plan.time_offsets.is_some() || plan.unshare_flags != 0 {
        let time = if plan.need_fork
            && plan.joins.iter().all(|j| j.1 != libc::CLONE_NEWTIME)
            && plan.time_offsets.is_some()
        {
            libc::CLONE_NEWTIME
        } else {
            0
        };
        nix::sched::unshare(nix::sched::CloneFlags::from_bits_retain(flags | time))
            .at(Step::Unshare, 0)?;
    }
    if let Some(off) = plan.time_offsets.as_ref().filter(|o| !o.is_empty()) {
        let f = nix::fcntl::open(
            c"/proc/self/timens_offsets",
            nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .at(Step::TimeOffsets, 0)?;
        let r = nix::unistd::write(&f, off.as_bytes());
        drop(f);
        r.at(Step::TimeOffsets, 0)?;
    }
    // Only now: once our ids change we are no longer dumpable, and
    // /proc/self/timens_offsets would belong to the host's root.
    if plan.in_user_ns() {
        become_userns_root()?;
    }
    if plan.need_fork {
        let pid = sys::clone_fork(0).at(Step::Fork, 0)?;
        if pid > 0 {
            // The middle process: report the init's pid and leave.
            let _ = chan.send(Msg::InitPid(pid));
            sys::exit_now(0);
        }
    }
    Ok(())
}

/// In a new user namespace, become its root (the mapped host ids), as runc
/// does: until then our ids are unmapped there, and files made during setup
/// (in a tmpfs /dev, say) fail with EOVERFLOW.
fn become_userns_root() -> CResult<()> {
    sys::setresgid(0).at(Step::Setgid, 0)?;
    sys::setresuid(0).at(Step::Setuid, 0)
}

/// Borrow a raw fd for nix calls that take `AsFd`.
pub fn borrow(fd: std::os::fd::RawFd) -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: callers keep `fd` open for the duration of the borrow.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}

pub fn write_file(path: &CStr, data: &[u8]) -> Result<(), Errno> {
    let f = nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    let r = nix::unistd::write(&f, data);
    drop(f);
    r.map(drop)
}

/// The state for startContainer hooks says "created" (as runc's does), not
/// the "creating" of createContainer: patched in place, without allocating.
fn mark_created(state: &mut Vec<u8>) {
    let key = b"\"status\":\"creating\"";
    if let Some(pos) = state.windows(key.len()).position(|w| w == key) {
        // "creating" -> "created": drop the 'i', turn "ng" into "ed".
        let at = pos + key.len() - 4;
        state.remove(at);
        state[at] = b'e';
        state[at + 1] = b'd';
    }
}

fn sysctl(plan: &Plan) -> CResult<()> {
    for (i, (path, value)) in plan.sysctl.iter().enumerate() {
        write_file(path, value).at(Step::Sysctl, i)?;
    }
    Ok(())
}

/// Run a hook from inside the container's namespaces, state JSON on stdin.
fn run_hook(h: &ChildHook, state: &[u8]) -> Result<(), Errno> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let pid = sys::clone_fork(0)?;
    if pid == 0 {
        let _ = crate::sys::dup2(r.as_raw_fd(), 0);
        sys::execve(&h.path, h.argv.ptrs(), h.envp.ptrs());
        sys::exit_now(127);
    }
    drop(r);
    let _ = nix::unistd::write(&w, state);
    drop(w);
    wait_timeout(pid, h.timeout)
}

/// Wait for `pid`, killing it after `timeout` seconds; non-zero exit fails.
pub fn wait_timeout(pid: libc::pid_t, timeout: Option<i64>) -> Result<(), Errno> {
    use nix::sys::wait::{waitpid, WaitStatus};
    if let Some(t) = timeout {
        let pidfd = sys::pidfd_open(pid)?;
        let mut fds = [nix::poll::PollFd::new(
            pidfd.as_fd_borrow(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = (t.saturating_mul(1000)).min(i32::MAX as i64) as i32;
        let n = nix::poll::poll(
            &mut fds,
            nix::poll::PollTimeout::try_from(ms).unwrap_or(nix::poll::PollTimeout::MAX),
        )?;
        if n == 0 {
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
            let _ = waitpid(nix::unistd::Pid::from_raw(pid), None);
            return Err(Errno::ETIMEDOUT);
        }
    }
    match waitpid(nix::unistd::Pid::from_raw(pid), None)? {
        WaitStatus::Exited(_, 0) => Ok(()),
        _ => Err(Errno::ECANCELED),
    }
}

trait AsFdBorrow {
    fn as_fd_borrow(&self) -> std::os::fd::BorrowedFd<'_>;
}
impl AsFdBorrow for OwnedFd {
    fn as_fd_borrow(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(self)
    }
}

/// Bind the pty's slave on /dev/console, as runc does.
fn console(slave: libc::c_int) -> Result<(), Errno> {
    use nix::fcntl::OFlag;
    match nix::fcntl::open(
        c"/dev/console",
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
    ) {
        Ok(f) => drop(f),
        Err(Errno::EEXIST) => {}
        Err(e) => return Err(e),
    }
    let src = FdPath::new(slave);
    nix::mount::mount(
        Some(src.as_cstr()),
        c"/dev/console",
        None::<&CStr>,
        nix::mount::MsFlags::MS_BIND,
        None::<&CStr>,
    )
}

fn terminal(plan: &Plan, chan: &Channel) -> CResult<()> {
    use nix::fcntl::OFlag;
    let master = nix::fcntl::open(
        c"/dev/ptmx",
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .at(Step::Pty, 0)?;
    let mut unlock: libc::c_int = 0;
    sys::ioctl_ptr_int(
        master.as_raw_fd(),
        libc::TIOCSPTLCK as libc::c_ulong,
        &mut unlock,
    )
    .at(Step::Pty, 0)?;
    let slave = sys::ioctl_int(
        master.as_raw_fd(),
        libc::TIOCGPTPEER as libc::c_ulong,
        (libc::O_RDWR | libc::O_NOCTTY) as libc::c_ulong,
    )
    .at(Step::Pty, 0)?;
    if plan.new_mount {
        console(slave).at(Step::Pty, 0)?;
    }
    if let Some((rows, cols)) = plan.console_size {
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        sys::set_winsize(slave, &ws).at(Step::Pty, 0)?;
    }
    sys::ioctl_int(slave, libc::TIOCSCTTY as libc::c_ulong, 0).at(Step::Pty, 0)?;
    for fd in 0..3 {
        sys::dup2(slave, fd).at(Step::Pty, 0)?;
    }
    let _ = nix::unistd::close(slave);
    chan.send_fd(Msg::Pty, master.as_raw_fd())
        .at(Step::Pty, 0)?;
    drop(master);
    Ok(())
}

/// Load the seccomp filter; a listener fd goes to the parent.
fn load_seccomp(plan: &Plan, chan: &Channel) -> CResult<()> {
    if let Some(p) = &plan.confine.seccomp {
        let listener = crate::seccomp::load(p).at(Step::Seccomp, 0)?;
        if let Some(fd) = listener {
            chan.send_fd(Msg::SeccompFd, fd)
                .at(Step::SeccompListener, 0)?;
            let _ = nix::unistd::close(fd);
        }
    }
    Ok(())
}

fn caps_err(e: crate::caps::ApplyError) -> (Step, usize, Errno) {
    (Step::Caps, e.cap.unwrap_or(0) as usize, e.errno)
}

fn identity(plan: &Plan) -> CResult<()> {
    let caps = plan.confine.caps;
    if let Some(c) = caps {
        crate::caps::apply_bounding(c.bounding, plan.confine.last_cap).map_err(caps_err)?;
    }
    match sys::setgroups(&plan.groups) {
        // Denied in a user namespace with setgroups "deny": fine without groups.
        Err(Errno::EPERM) if plan.new_user && plan.groups.is_empty() => {}
        r => r.at(Step::Groups, 0)?,
    }
    sys::prctl(libc::PR_SET_KEEPCAPS, 1).at(Step::Setuid, 0)?;
    sys::setresgid(plan.gid).at(Step::Setgid, 0)?;
    sys::setresuid(plan.uid).at(Step::Setuid, 0)?;
    sys::prctl(libc::PR_SET_KEEPCAPS, 0).at(Step::Setuid, 0)?;
    if let Some(c) = caps {
        crate::caps::apply_sets(c.effective, c.permitted, c.inheritable).map_err(caps_err)?;
        crate::caps::apply_ambient(c.ambient, plan.confine.last_cap).map_err(caps_err)?;
    }
    Ok(())
}

fn find_exe(plan: &Plan) -> CResult<&CStr> {
    for c in &plan.exe_candidates {
        if let Ok(st) = nix::sys::stat::stat(c.as_c_str()) {
            if st.st_mode & libc::S_IFMT == libc::S_IFREG && st.st_mode & 0o111 != 0 {
                return Ok(c.as_c_str());
            }
        }
    }
    Err((Step::ExeNotFound, 0, Errno::ENOENT))
}

/// Stop while the parent runs prestart and createRuntime hooks.
fn runtime_hooks(plan: &Plan, chan: &Channel) -> CResult<()> {
    if plan.runtime_hooks {
        chan.send(Msg::Hooks(0)).at(Step::Channel, 0)?;
        expect(chan, Msg::HooksDone)?;
    }
    Ok(())
}

fn setup(plan: &Plan, chan: &Channel, state: &mut Vec<u8>) -> CResult<std::convert::Infallible> {
    // Join the v1 cgroups before anything else (and before any fork): a
    // thread that moves itself is moved without the kernel's global lock.
    for (i, fd) in plan.cgroup_join.iter().enumerate() {
        nix::unistd::write(fd, b"0").at(Step::CgroupJoin, i)?;
        let _ = nix::unistd::close(fd.as_raw_fd());
    }
    for &fd in &plan.parent_fds {
        let _ = nix::unistd::close(fd);
    }
    // Signals blocked by a foreground `run` must not stay blocked in here.
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    );
    // Wait until the parent has set id maps and cgroups.
    expect(chan, Msg::Proceed)?;
    // CVE-2019-5736: until execve this process runs husk's image. Once it
    // is inside a pid namespace that container processes share (joined,
    // or `husk exec`), non-dumpable keeps them out of its /proc/PID/exe,
    // mem, fd and environ unless they hold CAP_SYS_PTRACE over the host
    // user namespace. execve makes the container's program dumpable again.
    sys::prctl(libc::PR_SET_DUMPABLE, 0).at(Step::Dumpable, 0)?;
    if plan.new_user && !plan.general {
        become_userns_root()?;
    }
    if !plan.create_container_hooks.is_empty() || !plan.start_container_hooks.is_empty() {
        let cap = state.capacity();
        state.resize(cap, 0);
        let n = nix::sys::socket::recv(chan.fd(), state, nix::sys::socket::MsgFlags::empty())
            .at(Step::Channel, 0)?;
        state.truncate(n);
    }
    if plan.general {
        namespaces(plan, chan)?;
    }
    if plan.new_cgroupns {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP).at(Step::Unshare, 0)?;
    }
    if !plan.exec || plan.terminal {
        nix::unistd::setsid().at(Step::Setsid, 0)?;
    }
    if plan.keyring && !plan.exec {
        match sys::join_session_keyring() {
            Ok(()) | Err(Errno::ENOSYS) | Err(Errno::EACCES) | Err(Errno::EPERM) => {}
            Err(e) => return Err((Step::Keyring, 0, e)),
        }
    }
    sys::umask(0);

    if plan.exec {
        // setns(CLONE_NEWNS) already put root and cwd at the container's root.
    } else if plan.new_mount {
        let root = rootfs::prepare(plan)?;
        rootfs::mounts(plan, root.as_raw_fd())?;
        rootfs::devices(plan, root.as_raw_fd())?;
        if plan.default_dev {
            rootfs::dev_links(root.as_raw_fd())?;
        }
        if plan.cwd.to_bytes() != b"/" {
            let cwd = crate::plan::in_root(std::path::Path::new(
                <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(plan.cwd.to_bytes()),
            ));
            let _ = rootfs::open_in_root(root.as_raw_fd(), &cwd, false);
        }
        runtime_hooks(plan, chan)?;
        for (i, h) in plan.create_container_hooks.iter().enumerate() {
            run_hook(h, state).at(Step::CreateContainerHook, i)?;
        }
        rootfs::pivot(plan, &root)?;
        drop(root);
        // Before readonlyPaths makes /proc/sys read-only, as runc does.
        sysctl(plan)?;
        rootfs::finish(plan)?;
    } else {
        runtime_hooks(plan, chan)?;
        nix::unistd::chroot(plan.rootfs.as_c_str()).at(Step::Pivot, 0)?;
        nix::unistd::chdir(c"/").at(Step::Pivot, 0)?;
        sysctl(plan)?;
    }
    if let Some(h) = &plan.hostname {
        nix::unistd::sethostname(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(h))
            .at(Step::Hostname, 0)?;
    }
    if let Some(d) = &plan.domainname {
        sys::setdomainname(d).at(Step::Domainname, 0)?;
    }
    if plan.terminal {
        terminal(plan, chan)?;
    }
    for (i, &(res, soft, hard)) in plan.rlimits.iter().enumerate() {
        sys::setrlimit(res, soft, hard).at(Step::Rlimit, i)?;
    }
    let exe = find_exe(plan)?;
    crate::confine::apply_privileged(&plan.confine).map_err(|(s, e)| (s, 0, e))?;
    if plan.no_new_privs {
        sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1).at(Step::NoNewPrivs, 0)?;
    }
    // Without no_new_privs, loading needs CAP_SYS_ADMIN: before dropping it.
    let seccomp_now =
        plan.confine.seccomp_early || plan.confine.seccomp.as_ref().is_some_and(|p| p.notify);
    if plan.confine.seccomp_early {
        load_seccomp(plan, chan)?;
    }
    identity(plan)?;
    nix::unistd::chdir(plan.cwd.as_c_str()).at(Step::Cwd, 0)?;
    if !sys::cwd_is_reachable() {
        return Err((Step::CwdEscape, 0, Errno::EPERM));
    }
    sys::umask(plan.umask.unwrap_or(0o022));
    // A notify listener must reach the parent, which `create` leaves at Ready.
    if !plan.confine.seccomp_early && seccomp_now {
        load_seccomp(plan, chan)?;
    }
    chan.send(Msg::Ready).at(Step::Channel, 0)?;

    let mut gate = None;
    // The gate: `start` (exec.fifo) or the parent of `run` (a message).
    match &plan.fifo {
        Some(fifo) => {
            let p = FdPath::new(fifo.as_raw_fd());
            let w = nix::fcntl::open(
                p.as_cstr(),
                nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .at(Step::Gate, 0)?;
            nix::unistd::write(&w, b"0").at(Step::Gate, 0)?;
            // Kept open (close-on-exec): `start` sees EOF once we exec.
            gate = Some(w);
        }
        None => expect(chan, Msg::Start)?,
    }
    if !plan.start_container_hooks.is_empty() {
        mark_created(state);
    }
    for (i, h) in plan.start_container_hooks.iter().enumerate() {
        run_hook(h, state).at(Step::StartContainerHook, i)?;
    }
    sys::cloexec_from(3 + plan.preserve_fds).at(Step::Cloexec, 0)?;
    if let Some(set) = &plan.confine.affinity_final {
        sys::sched_setaffinity(set).at(Step::CpuAffinity, 0)?;
    }
    // Otherwise as late as possible: only execve remains to be allowed.
    if !seccomp_now {
        load_seccomp(plan, chan)?;
    }
    let e = sys::execve(exe, plan.argv.ptrs(), plan.envp.ptrs());
    drop(gate);
    Err((Step::Exec, 0, e))
}
