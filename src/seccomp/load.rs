//! Child-side loading of a compiled [`Program`]: async-signal-safe.

use std::os::fd::RawFd;

use libc::c_ulong;
use nix::errno::Errno;

use super::Program;

/// The flags handed to seccomp(2) for `p`: the profile's flags, plus
/// `NEW_LISTENER` when the filter notifies (and `TSYNC_ESRCH` if `TSYNC` is
/// also set, since the kernel refuses TSYNC + NEW_LISTENER without it).
pub(crate) fn kernel_flags(p: &Program) -> c_ulong {
    let mut f = p.flags as c_ulong;
    if p.notify {
        f |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
        if f & libc::SECCOMP_FILTER_FLAG_TSYNC != 0 {
            f |= libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
        }
    }
    f
}

/// Raw `seccomp(SECCOMP_SET_MODE_FILTER, flags, prog)`.
///
/// # Safety
/// `prog` must be null or point to a valid `sock_fprog` whose `filter` points
/// to `len` instructions.
unsafe fn seccomp_set_filter(flags: c_ulong, prog: *const libc::sock_fprog) -> libc::c_long {
    // SAFETY: the caller guarantees `prog` is null or valid; the kernel
    // only reads through it.
    unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            prog,
        )
    }
}

/// Installs the filter on the calling thread.  **Child side, between fork and
/// exec**: async-signal-safe, no allocation, no locks, one syscall.
///
/// The caller needs `no_new_privs == 1` or `CAP_SYS_ADMIN` (else `EACCES`).
/// Returns the listener fd (with `O_CLOEXEC` set by the kernel) when
/// `p.notify`, else `None`.  The program length must fit in a u16 (always true
/// for a [`Program`] from `compile*`, which caps it at [`super::MAX_INSNS`]).
pub fn load(p: &Program) -> Result<Option<RawFd>, nix::Error> {
    if p.bpf.is_empty() || p.bpf.len() > super::MAX_INSNS {
        return Err(Errno::EINVAL);
    }
    let prog = libc::sock_fprog {
        len: p.bpf.len() as u16,
        filter: p.bpf.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points to `p.bpf`, which outlives the call, and `len`
    // matches its length.
    let ret = unsafe { seccomp_set_filter(kernel_flags(p), &prog) };
    if ret < 0 {
        return Err(Errno::last());
    }
    Ok(p.notify.then_some(ret as RawFd))
}

/// Whether the kernel accepts `flags` for SECCOMP_SET_MODE_FILTER.  Parent
/// side.  Uses a null program: the kernel validates the flags first (EINVAL)
/// and only then copies the program (EFAULT), so nothing is ever installed.
pub(crate) fn kernel_accepts(flags: c_ulong) -> Result<bool, Errno> {
    // SAFETY: a null program is explicitly allowed by seccomp_set_filter's
    // contract; the kernel fails with EFAULT before installing anything.
    let ret = unsafe { seccomp_set_filter(flags, std::ptr::null()) };
    match (ret, Errno::last()) {
        (r, Errno::EFAULT) if r < 0 => Ok(true),
        (r, Errno::EINVAL) if r < 0 => Ok(false),
        (r, e) if r < 0 => Err(e),
        _ => Err(Errno::EIO), // cannot happen: a null program was accepted
    }
}
