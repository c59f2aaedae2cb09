//! The thin syscall wrappers that need `unsafe`. Each does one call and says
//! why it is sound. Everything else in husk is safe code.

use nix::errno::Errno;
use std::ffi::CStr;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

fn check(ret: libc::c_long) -> Result<libc::c_long, Errno> {
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

/// fork(2) with namespace flags: returns 0 in the child, the pid in the parent.
pub fn clone_fork(flags: libc::c_int) -> Result<libc::pid_t, Errno> {
    // SAFETY: raw clone with no new stack behaves like fork(); husk is
    // single-threaded when it calls this, so no lock is held by another thread.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    check(ret).map(|p| p as libc::pid_t)
}

/// pivot_root(2), which libc does not wrap.
pub fn pivot_root(new_root: &CStr, put_old: &CStr) -> Result<(), Errno> {
    // SAFETY: both arguments are valid NUL-terminated strings.
    let ret = unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) };
    check(ret).map(drop)
}

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_IN_ROOT: u64 = 0x10;

/// openat2(2): open `path` below `dirfd` with `resolve` restrictions.
pub fn openat2(
    dirfd: RawFd,
    path: &CStr,
    flags: libc::c_int,
    resolve: u64,
) -> Result<OwnedFd, Errno> {
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve,
    };
    // With RESOLVE_IN_ROOT the kernel answers EAGAIN when a rename or mount
    // anywhere on the system raced with a ".." in the path; openat2(2) says
    // to try again. A bounded number of times: a path that never resolves
    // cleanly (a rename loop from inside the container) is an error.
    let mut tries = 0;
    loop {
        // SAFETY: `how` lives across the call and its size is passed; `path`
        // is NUL-terminated. The returned fd is new and owned by nobody else.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dirfd,
                path.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        match check(ret) {
            Err(Errno::EAGAIN) | Err(Errno::EINTR) if tries < 1000 => tries += 1,
            // SAFETY: a non-negative return is a fresh fd.
            r => return r.map(|fd| unsafe { OwnedFd::from_raw_fd(fd as RawFd) }),
        }
    }
}

/// execve(2) with pointer arrays prepared before fork. Returns only on error.
pub fn execve(path: &CStr, argv: &[*const libc::c_char], envp: &[*const libc::c_char]) -> Errno {
    debug_assert!(argv.last().is_some_and(|p| p.is_null()));
    debug_assert!(envp.last().is_some_and(|p| p.is_null()));
    // SAFETY: argv and envp are NULL-terminated arrays of pointers into
    // CStrings that the caller keeps alive.
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    Errno::last()
}

/// _exit(2): leave the child without running Rust or libc exit handlers.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit is async-signal-safe and never returns.
    unsafe { libc::_exit(code) }
}

/// prctl(2) with one integer argument.
pub fn prctl(option: libc::c_int, arg2: libc::c_ulong) -> Result<libc::c_int, Errno> {
    prctl2(option, arg2, 0)
}

/// prctl(2) with two integer arguments (PR_CAP_AMBIENT's op and capability).
pub fn prctl2(
    option: libc::c_int,
    arg2: libc::c_ulong,
    arg3: libc::c_ulong,
) -> Result<libc::c_int, Errno> {
    // SAFETY: the options husk uses take integers, no pointers.
    let ret = unsafe { libc::prctl(option, arg2, arg3, 0 as libc::c_ulong, 0 as libc::c_ulong) };
    check(ret as libc::c_long).map(|r| r as libc::c_int)
}

/// close_range(2) with CLOSE_RANGE_CLOEXEC: mark fds >= `first` close-on-exec.
pub fn cloexec_from(first: u32) -> Result<(), Errno> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: integer arguments only; marks fds, closes none.
    let ret = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    check(ret).map(drop)
}

/// pidfd_open(2).
pub fn pidfd_open(pid: libc::pid_t) -> Result<OwnedFd, Errno> {
    // SAFETY: integer arguments; a non-negative return is a fresh fd.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    check(ret).map(|fd| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// pidfd_send_signal(2).
pub fn pidfd_send_signal(pidfd: RawFd, sig: i32) -> Result<(), Errno> {
    // SAFETY: integer arguments and a NULL siginfo.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_send_signal, pidfd, sig, 0usize, 0) };
    check(ret).map(drop)
}

/// setdomainname(2).
pub fn setdomainname(name: &[u8]) -> Result<(), Errno> {
    // SAFETY: pointer and length describe `name`.
    let ret = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    check(ret as libc::c_long).map(drop)
}

/// The raw getcwd syscall (not glibc's), which fails or returns a path not
/// starting with '/' when the cwd is outside the process root.
pub fn cwd_is_reachable() -> bool {
    let mut buf = [0u8; 4096];
    // SAFETY: the buffer and its length are valid.
    let ret = unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) };
    ret > 0 && buf[0] == b'/'
}

/// ioctl(2) with an integer argument (TIOCSCTTY, TIOCGPTPEER, TIOCSPTLCK).
pub fn ioctl_int(fd: RawFd, req: libc::c_ulong, arg: libc::c_ulong) -> Result<libc::c_int, Errno> {
    // SAFETY: the requests used take an integer argument.
    let ret = unsafe { libc::ioctl(fd, req as _, arg) };
    check(ret as libc::c_long).map(|r| r as libc::c_int)
}

/// ioctl(2) with a pointer to an int (TIOCSPTLCK takes `int *`).
pub fn ioctl_ptr_int(fd: RawFd, req: libc::c_ulong, val: &mut libc::c_int) -> Result<(), Errno> {
    // SAFETY: `val` is a valid int for the duration of the call.
    let ret = unsafe { libc::ioctl(fd, req as _, val as *mut libc::c_int) };
    check(ret as libc::c_long).map(drop)
}

/// mknod(2) for devices.
pub fn mknodat(
    dirfd: RawFd,
    path: &CStr,
    mode: libc::mode_t,
    dev: libc::dev_t,
) -> Result<(), Errno> {
    // SAFETY: `path` is NUL-terminated.
    let ret = unsafe { libc::mknodat(dirfd, path.as_ptr(), mode, dev) };
    check(ret as libc::c_long).map(drop)
}

/// setrlimit(2) for one resource.
pub fn setrlimit(resource: u32, soft: u64, hard: u64) -> Result<(), Errno> {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `lim` is a valid rlimit.
    let ret = unsafe { libc::setrlimit(resource as _, &lim) };
    check(ret as libc::c_long).map(drop)
}

/// setgroups(2) with a prepared list.
pub fn setgroups(gids: &[libc::gid_t]) -> Result<(), Errno> {
    // SAFETY: pointer and length describe `gids`.
    let ret = unsafe { libc::syscall(libc::SYS_setgroups, gids.len(), gids.as_ptr()) };
    check(ret).map(drop)
}

/// setresuid/setresgid by raw syscall: glibc's wrappers broadcast to all
/// threads with signals, which is not what a freshly forked child needs.
pub fn setresgid(gid: libc::gid_t) -> Result<(), Errno> {
    // SAFETY: integer arguments.
    check(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) }).map(drop)
}

pub fn setresuid(uid: libc::uid_t) -> Result<(), Errno> {
    // SAFETY: integer arguments.
    check(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) }).map(drop)
}

/// umask(2).
pub fn umask(mask: u32) {
    // SAFETY: integer argument, cannot fail.
    unsafe { libc::umask(mask as libc::mode_t) };
}

/// mount_setattr(2) with AT_RECURSIVE for the recursive mount options.
pub fn mount_setattr_recursive(
    path: &CStr,
    set: u64,
    clr: u64,
    propagation: u64,
) -> Result<(), Errno> {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clr,
        propagation,
        userns_fd: 0,
    };
    // SAFETY: `attr` lives across the call and its size is passed.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::AT_RECURSIVE as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    check(ret).map(drop)
}

/// signal(2) back to the default action, for signals husk had handled.
pub fn default_signals() {
    for sig in 1..32 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: SIG_DFL is always a valid disposition.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
}

/// sendmsg(2) of `data` with an optional fd attached (SCM_RIGHTS).
pub fn send_with_fd(sock: RawFd, data: &[u8], fd: Option<RawFd>) -> Result<(), Errno> {
    // A control buffer big enough for one fd, aligned for cmsghdr.
    #[repr(C, align(8))]
    struct Cbuf([u8; 24]);
    let mut cbuf = Cbuf([0; 24]);
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut _,
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain data; zeroed is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if let Some(fd) = fd {
        msg.msg_control = cbuf.0.as_mut_ptr().cast();
        // SAFETY: CMSG_SPACE only computes a size.
        msg.msg_controllen = unsafe { libc::CMSG_SPACE(4) } as _;
        // SAFETY: the control buffer holds one cmsghdr and one int
        // (CMSG_SPACE(4) <= 24), and msg points at it.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(4) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<RawFd>(), fd);
        }
    }
    loop {
        // SAFETY: msg and everything it points to live across the call.
        let ret = unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) };
        if ret >= 0 {
            return Ok(());
        }
        let e = Errno::last();
        if e != Errno::EINTR {
            return Err(e);
        }
    }
}

/// recvmsg(2) into `buf`; returns the length (0 at EOF) and a received fd.
pub fn recv_with_fd(sock: RawFd, buf: &mut [u8]) -> Result<(usize, Option<OwnedFd>), Errno> {
    #[repr(C, align(8))]
    struct Cbuf([u8; 24]);
    let mut cbuf = Cbuf([0; 24]);
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data; zeroed is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.0.as_mut_ptr().cast();
    msg.msg_controllen = cbuf.0.len() as _;
    let n = loop {
        // SAFETY: msg and the buffers it points to live across the call.
        let ret = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if ret >= 0 {
            break ret as usize;
        }
        let e = Errno::last();
        if e != Errno::EINTR {
            return Err(e);
        }
    };
    let mut fd = None;
    // SAFETY: the kernel filled msg_control; CMSG_FIRSTHDR checks its length.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        if !c.is_null() && (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS
        {
            let raw = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<RawFd>());
            fd = Some(OwnedFd::from_raw_fd(raw));
        }
    }
    Ok((n, fd))
}

/// keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL): a new anonymous session keyring.
pub fn join_session_keyring() -> Result<(), Errno> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_int = 1;
    // SAFETY: a NULL name asks for an anonymous keyring.
    let ret = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, 0usize) };
    check(ret).map(drop)
}

/// TIOCGWINSZ.
pub fn get_winsize(fd: RawFd) -> Result<libc::winsize, Errno> {
    // SAFETY: winsize is plain data; the kernel fills it.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: `ws` is a valid winsize for the call.
    let ret = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws as *mut libc::winsize) };
    check(ret as libc::c_long).map(|_| ws)
}

/// TIOCSWINSZ.
pub fn set_winsize(fd: RawFd, ws: &libc::winsize) -> Result<(), Errno> {
    // SAFETY: `ws` is a valid winsize for the call.
    let ret = unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, ws as *const libc::winsize) };
    check(ret as libc::c_long).map(drop)
}

/// dup2(2) on raw descriptors (stdio set-up in the child).
pub fn dup2(old: RawFd, new: RawFd) -> Result<(), Errno> {
    // SAFETY: integer arguments; replaces `new`, which the caller means to.
    let ret = unsafe { libc::dup2(old, new) };
    check(ret as libc::c_long).map(drop)
}

/// flock(2) on a descriptor the caller keeps open.
pub fn flock(fd: RawFd, op: libc::c_int) -> Result<(), Errno> {
    loop {
        // SAFETY: integer arguments.
        let ret = unsafe { libc::flock(fd, op) };
        match check(ret as libc::c_long) {
            Err(Errno::EINTR) => continue,
            r => return r.map(drop),
        }
    }
}

/// struct sched_attr (linux/sched/types.h).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct SchedAttr {
    pub size: u32,
    pub sched_policy: u32,
    pub sched_flags: u64,
    pub sched_nice: i32,
    pub sched_priority: u32,
    pub sched_runtime: u64,
    pub sched_deadline: u64,
    pub sched_period: u64,
}

/// sched_setattr(2) for the calling thread.
pub fn sched_setattr(a: &SchedAttr) -> Result<(), Errno> {
    // SAFETY: `a` is a valid sched_attr with its size set.
    check(unsafe { libc::syscall(libc::SYS_sched_setattr, 0, a as *const SchedAttr, 0) }).map(drop)
}

/// personality(2).
pub fn personality(p: libc::c_ulong) -> Result<(), Errno> {
    // SAFETY: integer argument.
    check(unsafe { libc::personality(p) } as libc::c_long).map(drop)
}

/// ioprio_set(IOPRIO_WHO_PROCESS, 0, prio).
pub fn ioprio_set(prio: i32) -> Result<(), Errno> {
    // SAFETY: integer arguments.
    check(unsafe { libc::syscall(libc::SYS_ioprio_set, 1, 0, prio) }).map(drop)
}

/// sched_setaffinity(2) for the calling thread.
pub fn sched_setaffinity(set: &libc::cpu_set_t) -> Result<(), Errno> {
    // SAFETY: `set` is a valid cpu_set_t of the size passed.
    check(
        unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) }
            as libc::c_long,
    )
    .map(drop)
}

/// set_mempolicy(2).
pub fn set_mempolicy(mode: i32, nodes: &[libc::c_ulong]) -> Result<(), Errno> {
    let maxnode = if mode & 0xff == 0 || mode & 0xff == 4 {
        0
    } else {
        nodes.len() * 64
    };
    let ptr = if maxnode == 0 {
        std::ptr::null()
    } else {
        nodes.as_ptr()
    };
    // SAFETY: `nodes` holds maxnode bits (or is NULL with 0).
    check(unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) }).map(drop)
}

/// clone3(2) like fork, born into the cgroup v2 directory `cgroup_fd`
/// (CLONE_INTO_CGROUP): no later migration, no window outside its cgroup.
pub fn clone3_into_cgroup(flags: libc::c_int, cgroup_fd: RawFd) -> Result<libc::pid_t, Errno> {
    #[repr(C)]
    struct CloneArgs {
        flags: u64,
        pidfd: u64,
        child_tid: u64,
        parent_tid: u64,
        exit_signal: u64,
        stack: u64,
        stack_size: u64,
        tls: u64,
        set_tid: u64,
        set_tid_size: u64,
        cgroup: u64,
    }
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    let args = CloneArgs {
        flags: flags as u32 as u64 | CLONE_INTO_CGROUP,
        pidfd: 0,
        child_tid: 0,
        parent_tid: 0,
        exit_signal: libc::SIGCHLD as u64,
        stack: 0,
        stack_size: 0,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup: cgroup_fd as u64,
    };
    // SAFETY: like fork (no new stack); `args` lives across the call and
    // its size is passed; husk is single-threaded here.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    check(ret).map(|p| p as libc::pid_t)
}
