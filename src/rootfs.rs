//! The child's root file system work, run from the plan: mounts resolved
//! inside the rootfs (openat2 RESOLVE_IN_ROOT, so no symlink leads out of
//! it, and mounted through the pinned fd so a swapped symlink cannot
//! redirect them), devices, /dev links, pivot_root, masked and read-only paths.

use crate::plan::{InRoot, MountKind, MountOp, Plan};
use crate::step::Step;
use crate::sys;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::ffi::CStr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

pub type CResult<T> = Result<T, (Step, usize, Errno)>;

/// Tag a child-side errno with the step (and config index) it failed in.
pub(crate) trait At<T> {
    fn at(self, step: Step, i: usize) -> CResult<T>;
}
impl<T> At<T> for Result<T, Errno> {
    fn at(self, step: Step, i: usize) -> CResult<T> {
        self.map_err(|e| (step, i, e))
    }
}

const NONE: Option<&CStr> = None;

/// "/proc/self/fd/N" in a stack buffer, without allocating.
pub struct FdPath([u8; 32]);

impl FdPath {
    pub fn new(fd: RawFd) -> FdPath {
        let mut b = [0u8; 32];
        let pre = b"/proc/self/fd/";
        b[..pre.len()].copy_from_slice(pre);
        let mut digits = [0u8; 12];
        let (mut n, mut k) = (fd as u32, 0);
        loop {
            digits[k] = b'0' + (n % 10) as u8;
            k += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for j in 0..k {
            b[pre.len() + j] = digits[k - 1 - j];
        }
        FdPath(b)
    }
    pub fn as_cstr(&self) -> &CStr {
        CStr::from_bytes_until_nul(&self.0).expect("NUL-terminated")
    }
}

fn ms(bits: libc::c_ulong) -> MsFlags {
    MsFlags::from_bits_retain(bits)
}

const RESOLVE: u64 = sys::RESOLVE_IN_ROOT | sys::RESOLVE_NO_MAGICLINKS;

/// Open (creating as needed) `p` inside the root `root` as an O_PATH fd.
pub fn open_in_root(root: RawFd, p: &InRoot, file: bool) -> Result<OwnedFd, Errno> {
    open_in_root_at(root, p, file, 0)
}

/// A dangling symlink `name` in `dir` (at `parent` in the container):
/// what it points to, as a path in the root, or None if it is no symlink.
fn symlink_target(dir: RawFd, parent: &std::path::Path, name: &CStr) -> Option<InRoot> {
    use std::os::unix::ffi::OsStrExt;
    let t = nix::fcntl::readlinkat(
        crate::init::borrow(dir),
        std::ffi::OsStr::from_bytes(name.to_bytes()),
    )
    .ok()?;
    // Relative to the link's directory, absolute to the container's root.
    Some(crate::plan::in_root(
        &std::path::Path::new("/").join(parent).join(t),
    ))
}

fn open_in_root_at(root: RawFd, p: &InRoot, file: bool, depth: u32) -> Result<OwnedFd, Errno> {
    let n = p.prefixes.len();
    let mut parent: Option<OwnedFd> = None;
    let mut start = 0;
    // Usually the path exists, or all but its last component: try that
    // before walking (and creating) it component by component.
    if n > 0 {
        let flags = libc::O_PATH | if file { 0 } else { libc::O_DIRECTORY };
        match sys::openat2(root, &p.prefixes[n - 1], flags, RESOLVE) {
            Err(Errno::ENOENT) => {}
            done => return done,
        }
        if n > 1 {
            let dir = libc::O_PATH | libc::O_DIRECTORY;
            if let Ok(fd) = sys::openat2(root, &p.prefixes[n - 2], dir, RESOLVE) {
                parent = Some(fd);
                start = n - 1;
            }
        }
    }
    for i in start..n {
        let last = i + 1 == n;
        let flags = libc::O_PATH | if last && file { 0 } else { libc::O_DIRECTORY };
        // The fast path above just found the last component missing.
        let opened = if i == start && last {
            Err(Errno::ENOENT)
        } else {
            sys::openat2(root, &p.prefixes[i], flags, RESOLVE)
        };
        let fd = match opened {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => {
                let dir = parent.as_ref().map_or(root, |f| f.as_raw_fd());
                // CVE-2021-30465: a symlink to a missing path is followed
                // inside the root: its target is made there, never outside.
                let up = std::path::Path::new(
                    <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(
                        i.checked_sub(1)
                            .map_or(&b""[..], |j| p.prefixes[j].to_bytes()),
                    ),
                );
                if let Some(t) = symlink_target(dir, up, &p.names[i]) {
                    if depth >= 40 {
                        return Err(Errno::ELOOP);
                    }
                    drop(open_in_root_at(root, &t, last && file, depth + 1)?);
                    parent = Some(sys::openat2(root, &p.prefixes[i], flags, RESOLVE)?);
                    continue;
                }
                if last && file {
                    let f = nix::fcntl::openat(
                        crate::init::borrow(dir),
                        p.names[i].as_ref(),
                        nix::fcntl::OFlag::O_CREAT
                            | nix::fcntl::OFlag::O_EXCL
                            | nix::fcntl::OFlag::O_WRONLY
                            | nix::fcntl::OFlag::O_NOFOLLOW
                            | nix::fcntl::OFlag::O_CLOEXEC,
                        nix::sys::stat::Mode::from_bits_truncate(0o644),
                    )?;
                    drop(f);
                } else {
                    match nix::sys::stat::mkdirat(
                        crate::init::borrow(dir),
                        p.names[i].as_ref(),
                        nix::sys::stat::Mode::from_bits_truncate(0o755),
                    ) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => return Err(e),
                    }
                }
                sys::openat2(root, &p.prefixes[i], flags, RESOLVE)?
            }
            Err(e) => return Err(e),
        };
        parent = Some(fd);
    }
    parent.ok_or(Errno::EINVAL)
}

/// Make "/" private or slave, bind the rootfs on itself, and open it.
pub fn prepare(plan: &Plan) -> CResult<OwnedFd> {
    mount(NONE, c"/", NONE, ms(plan.root_propagation), NONE).at(Step::RootPropagation, 0)?;
    mount(
        Some(plan.rootfs.as_c_str()),
        plan.rootfs.as_c_str(),
        NONE,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        NONE,
    )
    .at(Step::BindRoot, 0)?;
    sys::openat2(
        libc::AT_FDCWD,
        &plan.rootfs,
        libc::O_PATH | libc::O_DIRECTORY,
        0,
    )
    .at(Step::OpenRoot, 0)
}

/// statvfs's ST_RELATIME (linux/statfs.h; the libc crate lacks it on musl).
const ST_RELATIME: libc::c_ulong = 0x1000;

/// Flags that a remount must keep (locked in a user namespace).
fn locked_flags(target: &CStr) -> libc::c_ulong {
    let Ok(st) = nix::sys::statvfs::statvfs(target) else {
        return 0;
    };
    let f = st.flags().bits() as libc::c_ulong;
    let mut out = 0;
    for (st_bit, ms_bit) in [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (ST_RELATIME, libc::MS_RELATIME),
        (libc::ST_RDONLY, libc::MS_RDONLY),
    ] {
        if f & st_bit as libc::c_ulong != 0 {
            out |= ms_bit;
        }
    }
    out
}

/// Remount, retrying with the mount's locked flags on EPERM.
fn remount(target: &CStr, flags: libc::c_ulong) -> Result<(), Errno> {
    match mount(NONE, target, NONE, ms(flags), NONE) {
        Err(Errno::EPERM) => {
            let keep = locked_flags(target) & !libc::MS_RDONLY;
            mount(NONE, target, NONE, ms(flags | keep), NONE)
        }
        r => r,
    }
}

/// Is `fd` on a procfs? (A destination that a symlink led into /proc.)
fn on_procfs(fd: &OwnedFd) -> bool {
    nix::sys::statfs::fstatfs(fd)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
}

fn do_mount(root: RawFd, m: &MountOp, i: usize) -> CResult<()> {
    let dest = open_in_root(root, &m.dest, m.dest_file).at(Step::MountDest, i)?;
    // CVE-2019-19921: the plan checked the destination as written; a
    // symlink in the rootfs may still lead into /proc.
    if m.kind == MountKind::Mount && !crate::plan::proc_dest_ok(&m.dest.display) && on_procfs(&dest)
    {
        return Err((Step::MountInProc, i, Errno::EPERM));
    }
    let target = FdPath::new(dest.as_raw_fd());
    if m.kind == MountKind::Remount {
        return remount(target.as_cstr(), m.flags | libc::MS_BIND).at(Step::MountRemount, i);
    }
    let data = (!m.data.is_empty()).then_some(m.data.as_c_str());
    let fstype = (!m.fstype.is_empty()).then_some(m.fstype.as_c_str());
    // tmpcopyup: the directory the tmpfs is about to hide, to copy from;
    // the tmpfs is made read-only (if asked) only once it is filled.
    let under = match m.copy_up {
        true => Some(
            nix::fcntl::openat(
                crate::init::borrow(dest.as_raw_fd()),
                c".",
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .at(Step::MountDest, i)?,
        ),
        false => None,
    };
    let flags = match under {
        Some(_) => m.flags & !libc::MS_RDONLY,
        None => m.flags,
    };
    mount(
        Some(m.source.as_c_str()),
        target.as_cstr(),
        fstype,
        ms(flags),
        data,
    )
    .at(Step::Mount, i)?;
    drop(dest);
    if let Some(under) = under {
        let dest = open_in_root(root, &m.dest, false).at(Step::MountDest, i)?;
        let (from, to) = (
            FdPath::new(under.as_raw_fd()),
            FdPath::new(dest.as_raw_fd()),
        );
        copy_up(&path_of(&from), &path_of(&to))
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
            .at(Step::Mount, i)?;
        if flags != m.flags {
            remount(to.as_cstr(), m.flags | libc::MS_REMOUNT).at(Step::MountRemount, i)?;
        }
    }
    if m.bind_remount.is_none() && m.propagation.is_empty() && m.rec_set | m.rec_clr == 0 {
        return Ok(());
    }
    // Reopen: the old fd points below the new mount.
    let dest = open_in_root(root, &m.dest, m.dest_file).at(Step::MountDest, i)?;
    let target = FdPath::new(dest.as_raw_fd());
    if let Some(f) = m.bind_remount {
        remount(target.as_cstr(), f).at(Step::MountRemount, i)?;
    }
    for &p in &m.propagation {
        mount(NONE, target.as_cstr(), NONE, ms(p), NONE).at(Step::MountPropagation, i)?;
    }
    if m.rec_set | m.rec_clr != 0 {
        sys::mount_setattr_recursive(target.as_cstr(), m.rec_set, m.rec_clr, 0)
            .at(Step::MountSetattr, i)?;
    }
    Ok(())
}

fn path_of(p: &FdPath) -> std::path::PathBuf {
    std::path::PathBuf::from(
        <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(p.as_cstr().to_bytes()),
    )
}

/// `tmpcopyup`, as runc: copy the tree `from` (what a new tmpfs hides) into
/// `to` (the tmpfs), keeping file types, modes and owners.
fn copy_up(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let md = std::fs::symlink_metadata(&src)?;
        let ft = md.file_type();
        if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else if ft.is_dir() {
            std::fs::create_dir(&dst)?;
            copy_up(&src, &dst)?;
        } else if ft.is_file() {
            std::fs::copy(&src, &dst)?;
        } else if ft.is_socket() {
            continue;
        } else {
            nix::sys::stat::mknod(
                &dst,
                nix::sys::stat::SFlag::from_bits_truncate(md.mode() & libc::S_IFMT),
                nix::sys::stat::Mode::from_bits_truncate(md.mode() & 0o7777),
                md.rdev(),
            )?;
        }
        std::os::unix::fs::lchown(&dst, Some(md.uid()), Some(md.gid()))?;
        if !ft.is_symlink() {
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(md.mode() & 0o7777))?;
        }
    }
    Ok(())
}

pub fn mounts(plan: &Plan, root: RawFd) -> CResult<()> {
    for (i, m) in plan.mounts.iter().enumerate() {
        do_mount(root, m, i)?;
    }
    Ok(())
}

/// Device nodes (mknod, or a bind of the host's node in a user namespace).
pub fn devices(plan: &Plan, root: RawFd) -> CResult<()> {
    for (i, d) in plan.devices.iter().enumerate() {
        let n = d.path.prefixes.len();
        if plan.in_user_ns() {
            let f = open_in_root(root, &d.path, true).at(Step::Device, i)?;
            let target = FdPath::new(f.as_raw_fd());
            mount(
                Some(d.host.as_c_str()),
                target.as_cstr(),
                NONE,
                MsFlags::MS_BIND,
                NONE,
            )
            .at(Step::Device, i)?;
            continue;
        }
        let parent_path = InRoot {
            prefixes: d.path.prefixes[..n - 1].to_vec(),
            names: d.path.names[..n - 1].to_vec(),
            display: String::new(),
        };
        let dir = open_in_root(root, &parent_path, false).at(Step::Device, i)?;
        // O_PATH dirs cannot be used with mknodat: reopen it as a directory.
        let dirp = FdPath::new(dir.as_raw_fd());
        let dir = sys::openat2(
            libc::AT_FDCWD,
            dirp.as_cstr(),
            libc::O_RDONLY | libc::O_DIRECTORY,
            0,
        )
        .at(Step::Device, i)?;
        let name = &d.path.names[n - 1];
        let _ = nix::unistd::unlinkat(
            &dir,
            name.as_c_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        );
        sys::mknodat(dir.as_raw_fd(), name, d.mode, d.dev).at(Step::Device, i)?;
        nix::unistd::fchownat(
            &dir,
            name.as_c_str(),
            Some(d.uid.into()),
            Some(d.gid.into()),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .at(Step::Device, i)?;
    }
    Ok(())
}

/// /dev/fd, /dev/std{in,out,err}, /dev/ptmx and /dev/core links.
pub fn dev_links(root: RawFd) -> CResult<()> {
    let dev = crate::plan::InRoot {
        prefixes: vec![c"dev".into()],
        names: vec![c"dev".into()],
        display: String::new(),
    };
    let d = open_in_root(root, &dev, false).at(Step::DevLink, 0)?;
    let dp = FdPath::new(d.as_raw_fd());
    let d = sys::openat2(
        libc::AT_FDCWD,
        dp.as_cstr(),
        libc::O_RDONLY | libc::O_DIRECTORY,
        0,
    )
    .at(Step::DevLink, 0)?;
    let links: [(&CStr, &CStr); 5] = [
        (c"/proc/self/fd", c"fd"),
        (c"/proc/self/fd/0", c"stdin"),
        (c"/proc/self/fd/1", c"stdout"),
        (c"/proc/self/fd/2", c"stderr"),
        (c"pts/ptmx", c"ptmx"),
    ];
    for (target, name) in links {
        let _ = nix::unistd::unlinkat(&d, name, nix::unistd::UnlinkatFlags::NoRemoveDir);
        match nix::unistd::symlinkat(target, &d, name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err((Step::DevLink, 0, e)),
        }
    }
    if std::path::Path::new("/proc/kcore").exists() {
        let _ = nix::unistd::symlinkat(c"/proc/kcore", &d, c"core");
    }
    Ok(())
}

/// pivot_root into the rootfs and detach the old root; or MS_MOVE + chroot.
pub fn pivot(plan: &Plan, root: &OwnedFd) -> CResult<()> {
    nix::unistd::fchdir(root).at(Step::Pivot, 0)?;
    if plan.no_pivot {
        mount(Some(c"."), c"/", NONE, MsFlags::MS_MOVE, NONE).at(Step::Pivot, 0)?;
        nix::unistd::chroot(c".").at(Step::Pivot, 0)?;
    } else {
        let old = sys::openat2(libc::AT_FDCWD, c"/", libc::O_PATH | libc::O_DIRECTORY, 0)
            .at(Step::Pivot, 0)?;
        sys::pivot_root(c".", c".").at(Step::Pivot, 0)?;
        // The old root is stacked on the new one. Make it (and only it: "."
        // of the new root would be the whole container tree, turning rshared
        // mounts into slaves) rslave so its unmount does not propagate.
        nix::unistd::fchdir(&old).at(Step::Pivot, 0)?;
        drop(old);
        mount(NONE, c".", NONE, MsFlags::MS_SLAVE | MsFlags::MS_REC, NONE).at(Step::Pivot, 0)?;
        umount2(c".", MntFlags::MNT_DETACH).at(Step::Pivot, 0)?;
    }
    nix::unistd::chdir(c"/").at(Step::Pivot, 0)?;
    if let Some(p) = plan.root_propagation_after {
        mount(NONE, c"/", NONE, ms(p), NONE).at(Step::RootPropagationAfter, 0)?;
    }
    Ok(())
}

/// After pivot: masked paths, read-only paths, a read-only root.
pub fn finish(plan: &Plan) -> CResult<()> {
    for (i, p) in plan.readonly.iter().enumerate() {
        match mount(
            Some(p.as_c_str()),
            p.as_c_str(),
            NONE,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            NONE,
        ) {
            Err(Errno::ENOENT) => continue,
            r => r.at(Step::Readonly, i)?,
        }
        remount(
            p,
            libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_REC,
        )
        .at(Step::Readonly, i)?;
    }
    for (i, p) in plan.masked.iter().enumerate() {
        let st = match nix::sys::stat::stat(p.as_c_str()) {
            Ok(st) => st,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err((Step::Masked, i, e)),
        };
        let r = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            mount(
                Some(c"tmpfs"),
                p.as_c_str(),
                Some(c"tmpfs"),
                MsFlags::MS_RDONLY,
                NONE,
            )
        } else {
            mount(
                Some(c"/dev/null"),
                p.as_c_str(),
                NONE,
                MsFlags::MS_BIND,
                NONE,
            )
        };
        r.at(Step::Masked, i)?;
    }
    if plan.readonly_root {
        remount(c"/", libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY)
            .at(Step::RootReadonly, 0)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_paths() {
        assert_eq!(FdPath::new(0).as_cstr(), c"/proc/self/fd/0");
        assert_eq!(FdPath::new(1234).as_cstr(), c"/proc/self/fd/1234");
    }
}
