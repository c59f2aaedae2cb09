//! The launch plan: everything the container's init will do, computed in the
//! parent before fork (paths as C strings, flags, argv/envp arrays), so that
//! the child only issues system calls from it.

use crate::error::{Error, Result};
use crate::mountopt;
use oci_spec::runtime::{LinuxDeviceType, LinuxNamespaceType, PosixRlimitType, Spec};
use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

/// A path inside the rootfs, split so the child can create it one
/// component at a time: `prefixes[i]` is the path of the first i+1
/// components, `names[i]` the last of them.
#[derive(Debug, Default, Clone)]
pub struct InRoot {
    pub prefixes: Vec<CString>,
    pub names: Vec<CString>,
    /// The absolute path in the container, for messages.
    pub display: String,
}

pub fn cstr(s: impl Into<Vec<u8>>) -> CString {
    CString::new(s).unwrap_or_else(|_| CString::new("<NUL in string>").expect("no NUL"))
}

/// Lexically clean `dest` as seen from the container's `/`.
pub fn in_root(dest: &Path) -> InRoot {
    let mut parts: Vec<String> = Vec::new();
    for c in dest.components() {
        match c {
            Component::Normal(n) => parts.push(n.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    let mut r = InRoot {
        display: format!("/{}", parts.join("/")),
        ..Default::default()
    };
    for i in 0..parts.len() {
        r.prefixes.push(cstr(parts[..=i].join("/")));
        r.names.push(cstr(parts[i].as_str()));
    }
    r
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    /// A filesystem mount (proc, tmpfs, ...), or a bind when flags say so.
    Mount,
    /// Remount an earlier mount point with `flags` (read-only cgroup tmpfs).
    Remount,
}

#[derive(Debug)]
pub struct MountOp {
    pub kind: MountKind,
    /// Index in config `mounts`, for messages.
    pub index: usize,
    pub source: CString,
    pub fstype: CString,
    pub data: CString,
    pub flags: libc::c_ulong,
    /// For binds with flags: the MS_REMOUNT|MS_BIND flags to apply after.
    pub bind_remount: Option<libc::c_ulong>,
    pub propagation: Vec<libc::c_ulong>,
    pub rec_set: u64,
    pub rec_clr: u64,
    pub dest: InRoot,
    /// Create the destination as a file (binds of files).
    pub dest_file: bool,
    /// `tmpcopyup` on a tmpfs: copy in what the mount hides.
    pub copy_up: bool,
}

#[derive(Debug)]
pub struct DeviceOp {
    pub path: InRoot,
    /// Full st_mode: type bits | permissions.
    pub mode: u32,
    pub dev: libc::dev_t,
    pub uid: u32,
    pub gid: u32,
    /// Host path to bind from when mknod is not possible (user namespace).
    pub host: CString,
}

/// An argv or envp: the strings and the NULL-terminated pointer array that
/// execve wants, both made in the parent so the child need not allocate.
#[derive(Debug)]
pub struct CArgs {
    pub strings: Vec<CString>,
    ptrs: Vec<*const libc::c_char>,
}

impl CArgs {
    pub fn new(strings: Vec<CString>) -> CArgs {
        // The pointers stay valid: a CString's bytes live on the heap and
        // do not move with the Vec or the struct.
        let ptrs = strings
            .iter()
            .map(|s| s.as_ptr())
            .chain([std::ptr::null()])
            .collect();
        CArgs { strings, ptrs }
    }

    pub fn ptrs(&self) -> &[*const libc::c_char] {
        &self.ptrs
    }
}

/// A hook run by the child (createContainer, startContainer).
#[derive(Debug)]
pub struct ChildHook {
    pub path: CString,
    pub argv: CArgs,
    pub envp: CArgs,
    pub timeout: Option<i64>,
}

pub struct Plan {
    // namespaces
    /// New namespaces made by clone() on the fast path.
    pub clone_flags: libc::c_int,
    /// Namespaces to join (user first), with their config index and flag.
    pub joins: Vec<(OwnedFd, libc::c_int, usize)>,
    /// New namespaces to unshare after the joins (general path).
    pub unshare_flags: libc::c_int,
    /// True when the child must set namespaces up itself (joins, time ns).
    pub general: bool,
    /// An extra fork so init is born in a joined/new pid or time namespace.
    pub need_fork: bool,
    pub new_user: bool,
    /// A new time namespace, with the offsets to write (maybe none).
    pub time_offsets: Option<CString>,
    pub new_mount: bool,
    /// A new cgroup namespace, unshared once the init is in its cgroup.
    pub new_cgroupns: bool,
    // root file system
    pub rootfs: CString,
    pub root_propagation: libc::c_ulong,
    pub root_propagation_after: Option<libc::c_ulong>,
    pub readonly_root: bool,
    pub no_pivot: bool,
    pub mounts: Vec<MountOp>,
    pub devices: Vec<DeviceOp>,
    pub default_dev: bool,
    pub masked: Vec<CString>,
    pub readonly: Vec<CString>,
    pub sysctl: Vec<(CString, Vec<u8>)>,
    pub hostname: Option<Vec<u8>>,
    pub domainname: Option<Vec<u8>>,
    // process
    pub terminal: bool,
    /// process.consoleSize: (rows, columns).
    pub console_size: Option<(u16, u16)>,
    pub rlimits: Vec<(u32, u64, u64)>,
    pub no_new_privs: bool,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<libc::gid_t>,
    pub umask: Option<u32>,
    pub cwd: CString,
    pub exe_candidates: Vec<CString>,
    pub argv: CArgs,
    pub envp: CArgs,
    pub preserve_fds: u32,
    /// Gate: an O_PATH fd of exec.fifo (create) or None (run: socket gate).
    pub fifo: Option<OwnedFd>,
    pub fifo_reopen: CString,
    pub create_container_hooks: Vec<ChildHook>,
    pub start_container_hooks: Vec<ChildHook>,
    pub keyring: bool,
    /// prestart/createRuntime hooks exist: the child stops for them.
    pub runtime_hooks: bool,
    /// The parent's own descriptors (the state lock): closed first thing in the child.
    pub parent_fds: Vec<std::os::fd::RawFd>,
    /// v1 `tasks` files, open for writing: the init writes "0" into each
    /// first thing, joining its cgroups itself (see `Cgroup::self_join_files`).
    pub cgroup_join: Vec<OwnedFd>,
    pub confine: crate::confine::Confinement,
    /// `husk exec`: join the container; no rootfs, hostname or sysctl work.
    pub exec: bool,
    /// The container's cgroup v2 directory: the init is born in it.
    pub cgroup_fd: Option<OwnedFd>,
}

impl Plan {
    /// Will the init be in a user namespace other than the host's, new or joined?
    pub fn in_user_ns(&self) -> bool {
        self.new_user || self.joins.iter().any(|j| j.1 == libc::CLONE_NEWUSER)
    }
}

fn ns_flag(t: LinuxNamespaceType) -> libc::c_int {
    t as libc::c_int
}

// The constants are u32 with glibc and c_int with musl.
#[allow(clippy::unnecessary_cast)]
fn rlimit_resource(t: PosixRlimitType) -> u32 {
    use PosixRlimitType::*;
    (match t {
        RlimitCpu => libc::RLIMIT_CPU,
        RlimitFsize => libc::RLIMIT_FSIZE,
        RlimitData => libc::RLIMIT_DATA,
        RlimitStack => libc::RLIMIT_STACK,
        RlimitCore => libc::RLIMIT_CORE,
        RlimitRss => libc::RLIMIT_RSS,
        RlimitNproc => libc::RLIMIT_NPROC,
        RlimitNofile => libc::RLIMIT_NOFILE,
        RlimitMemlock => libc::RLIMIT_MEMLOCK,
        RlimitAs => libc::RLIMIT_AS,
        RlimitLocks => libc::RLIMIT_LOCKS,
        RlimitSigpending => libc::RLIMIT_SIGPENDING,
        RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        RlimitNice => libc::RLIMIT_NICE,
        RlimitRtprio => libc::RLIMIT_RTPRIO,
        RlimitRttime => libc::RLIMIT_RTTIME,
    }) as u32
}

/// Where the container's cgroup directories are, for a `cgroup` mount:
/// (name under /sys/fs/cgroup, host directory to bind).
pub type CgroupBinds = Vec<(String, PathBuf)>;

pub struct Inputs<'a> {
    pub spec: &'a Spec,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    pub fifo: Option<OwnedFd>,
    pub cgroup_binds: CgroupBinds,
    pub confine: crate::confine::Confinement,
}

/// Build the plan. Errors name the config field.
pub fn build(inp: Inputs) -> Result<Plan> {
    let spec = inp.spec;
    let linux = spec.linux().clone().unwrap_or_default();
    let process = spec
        .process()
        .clone()
        .ok_or_else(|| Error::Invalid("process: must be set".into()))?;
    let bad = |m: String| Error::Invalid(m);

    // Namespaces: new ones as clone flags, joined ones as fds opened now.
    let mut new_flags = 0;
    let mut joins = Vec::new();
    let mut time_new = false;
    let mut pid_join = false;
    for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
        let f = ns_flag(ns.typ());
        match ns.path() {
            None => {
                if ns.typ() == LinuxNamespaceType::Time {
                    time_new = true;
                } else {
                    new_flags |= f;
                }
            }
            Some(p) => {
                let fd = std::fs::File::open(p).map_err(|e| {
                    bad(format!("linux.namespaces[{i}].path: {}: {e}", p.display()))
                })?;
                if matches!(ns.typ(), LinuxNamespaceType::Pid | LinuxNamespaceType::Time) {
                    pid_join = true;
                }
                joins.push((OwnedFd::from(fd), f, i));
            }
        }
    }
    // Join the user namespace first: it grants the rights for the others.
    joins.sort_by_key(|(_, f, _)| *f != libc::CLONE_NEWUSER);
    let general = !joins.is_empty() || time_new;
    let need_fork = general && (pid_join || time_new || new_flags & libc::CLONE_NEWPID != 0);
    let new_cgroupns = new_flags & libc::CLONE_NEWCGROUP != 0;
    new_flags &= !libc::CLONE_NEWCGROUP;
    let new_user = new_flags & libc::CLONE_NEWUSER != 0;
    let new_mount = new_flags & libc::CLONE_NEWNS != 0;
    let time_offsets = if time_new {
        let mut s = String::new();
        for (clock, off) in linux.time_offsets().iter().flatten() {
            if clock != "monotonic" && clock != "boottime" {
                return Err(bad(format!("linux.timeOffsets: unknown clock {clock:?}")));
            }
            s.push_str(&format!(
                "{clock} {} {}\n",
                off.secs().unwrap_or(0),
                off.nanosecs().unwrap_or(0)
            ));
        }
        Some(cstr(s))
    } else {
        None
    };

    // Root propagation: "/" is made rslave unless the config says otherwise.
    let (root_propagation, root_propagation_after) = match linux.rootfs_propagation().as_deref() {
        None | Some("") => (libc::MS_SLAVE | libc::MS_REC, None),
        Some(p) => {
            let f = mountopt::propagation(p)
                .ok_or_else(|| bad(format!("linux.rootfsPropagation: unknown value {p:?}")))?;
            // shared/unbindable are set on the new root after pivot.
            if f & (libc::MS_SHARED | libc::MS_UNBINDABLE) != 0 {
                (libc::MS_SLAVE | libc::MS_REC, Some(f))
            } else {
                (f, None)
            }
        }
    };

    // Mounts, in order.
    let mut mounts = Vec::new();
    let mut dev_is_bind = false;
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let opts = mountopt::parse(m.options().as_deref().unwrap_or(&[]))
            .map_err(|e| bad(format!("mounts[{i}].options: {e}")))?;
        let typ = m.typ().clone().unwrap_or_default();
        let is_bind = opts.is_bind() || typ == "bind";
        let dest = in_root(m.destination());
        if dest.display == "/" {
            return Err(bad(format!(
                "mounts[{i}].destination: cannot mount over the rootfs"
            )));
        }
        if typ == "cgroup" || typ == "cgroup2" {
            cgroup_mount(&mut mounts, i, &dest, &opts, &inp.cgroup_binds);
            continue;
        }
        let mut flags = opts.flags;
        let mut source = m.source().clone().unwrap_or_default();
        let mut dest_file = false;
        let mut bind_remount = None;
        if is_bind {
            flags |= libc::MS_BIND;
            if source.is_relative() {
                source = inp.bundle.join(source);
            }
            let meta = std::fs::metadata(&source)
                .map_err(|e| bad(format!("mounts[{i}].source: {}: {e}", source.display())))?;
            dest_file = !meta.is_dir();
            let extra = flags & !(libc::MS_BIND | libc::MS_REC | libc::MS_REMOUNT);
            if extra != 0 {
                bind_remount = Some(libc::MS_BIND | libc::MS_REMOUNT | extra);
            }
            flags &= libc::MS_BIND | libc::MS_REC;
            if dest.display == "/dev" {
                dev_is_bind = true;
            }
        }
        if typ == "proc" && dest.display != "/proc" {
            // A second procfs is fine; over /proc entries is checked below.
        }
        if dest.display.starts_with("/proc/") && !proc_mount_allowed(&dest.display) {
            return Err(bad(format!(
                "mounts[{i}].destination: {} is inside /proc; only a few /proc files may be mounted over",
                dest.display
            )));
        }
        let copy_up = opts.copy_up && typ == "tmpfs";
        mounts.push(MountOp {
            kind: MountKind::Mount,
            index: i,
            source: cstr(source.as_os_str().as_encoded_bytes()),
            fstype: cstr(if is_bind { String::new() } else { typ }),
            data: cstr(opts.data.as_str()),
            flags,
            bind_remount,
            propagation: opts.propagation.clone(),
            rec_set: opts.rec_set,
            rec_clr: opts.rec_clr,
            copy_up,
            dest,
            dest_file,
        });
    }

    // Devices: the defaults, then linux.devices.
    let mut devices = Vec::new();
    let default_dev = !dev_is_bind;
    if default_dev {
        for (name, minor, maj) in [
            ("null", 3, 1),
            ("zero", 5, 1),
            ("full", 7, 1),
            ("random", 8, 1),
            ("urandom", 9, 1),
            ("tty", 0, 5),
        ] {
            devices.push(DeviceOp {
                path: in_root(Path::new(&format!("/dev/{name}"))),
                mode: libc::S_IFCHR | 0o666,
                dev: libc::makedev(maj, minor),
                uid: 0,
                gid: 0,
                host: cstr(format!("/dev/{name}")),
            });
        }
    }
    for (i, d) in linux.devices().iter().flatten().enumerate() {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => libc::S_IFCHR,
            LinuxDeviceType::B => libc::S_IFBLK,
            LinuxDeviceType::P => libc::S_IFIFO,
            LinuxDeviceType::A => {
                return Err(bad(format!(
                    "linux.devices[{i}].type: must be c, b, u or p"
                )))
            }
        };
        let path = in_root(d.path());
        if !path.display.starts_with("/dev/") {
            return Err(bad(format!(
                "linux.devices[{i}].path: {} is not under /dev",
                d.path().display()
            )));
        }
        devices.retain(|x: &DeviceOp| x.path.display != path.display);
        devices.push(DeviceOp {
            mode: kind | (d.file_mode().unwrap_or(0o666) & 0o7777),
            dev: libc::makedev(d.major() as u32, d.minor() as u32),
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
            host: cstr(d.path().as_os_str().as_encoded_bytes()),
            path,
        });
    }

    let sysctl = linux
        .sysctl()
        .iter()
        .flatten()
        .map(|(k, v)| {
            (
                cstr(format!("/proc/sys/{}", k.replace('.', "/"))),
                v.clone().into_bytes(),
            )
        })
        .collect();

    // The process.
    let user = process.user();
    let args = process.args().clone().unwrap_or_default();
    let mut env = process.env().clone().unwrap_or_default();
    let mut preserve = inp.preserve_fds;
    if let Ok(n) = std::env::var("LISTEN_FDS") {
        if let Ok(n) = n.parse::<u32>() {
            preserve += n;
            env.push(format!("LISTEN_FDS={n}"));
            env.push("LISTEN_PID=1".into());
        }
    }
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", home_dir(inp.rootfs, user.uid())));
    }
    if process.terminal().unwrap_or(false) && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    let path_var = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    let exe_candidates = if args[0].contains('/') {
        vec![cstr(args[0].as_str())]
    } else {
        path_var
            .split(':')
            .filter(|d| !d.is_empty())
            .map(|d| cstr(format!("{}/{}", d.trim_end_matches('/'), args[0])))
            .collect()
    };
    let mut rlimits = Vec::new();
    for r in process.rlimits().iter().flatten() {
        rlimits.push((rlimit_resource(r.typ()), r.soft(), r.hard()));
    }
    let child_hooks = |list: &Option<Vec<oci_spec::runtime::Hook>>| -> Vec<ChildHook> {
        list.iter()
            .flatten()
            .map(|h| ChildHook {
                path: cstr(h.path().as_os_str().as_encoded_bytes()),
                argv: CArgs::new(
                    h.args()
                        .clone()
                        .unwrap_or_else(|| vec![h.path().to_string_lossy().into_owned()])
                        .into_iter()
                        .map(cstr)
                        .collect(),
                ),
                envp: CArgs::new(
                    h.env()
                        .clone()
                        .unwrap_or_default()
                        .into_iter()
                        .map(cstr)
                        .collect(),
                ),
                timeout: h.timeout(),
            })
            .collect()
    };
    let hooks = spec.hooks().clone().unwrap_or_default();
    let fifo_reopen = match &inp.fifo {
        Some(fd) => cstr(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(fd)
        )),
        None => cstr(""),
    };

    Ok(Plan {
        clone_flags: if general { 0 } else { new_flags },
        joins,
        unshare_flags: if general { new_flags } else { 0 },
        general,
        need_fork,
        new_user,
        time_offsets,
        new_mount,
        new_cgroupns,
        rootfs: cstr(inp.rootfs.as_os_str().as_encoded_bytes()),
        root_propagation,
        root_propagation_after,
        readonly_root: spec
            .root()
            .as_ref()
            .and_then(|r| r.readonly())
            .unwrap_or(false),
        no_pivot: inp.no_pivot,
        mounts,
        devices,
        default_dev,
        masked: linux
            .masked_paths()
            .iter()
            .flatten()
            .map(|p| cstr(p.as_str()))
            .collect(),
        readonly: linux
            .readonly_paths()
            .iter()
            .flatten()
            .map(|p| cstr(p.as_str()))
            .collect(),
        sysctl,
        hostname: spec
            .hostname()
            .clone()
            .filter(|h| !h.is_empty())
            .map(String::into_bytes),
        domainname: spec
            .domainname()
            .clone()
            .filter(|h| !h.is_empty())
            .map(String::into_bytes),
        terminal: process.terminal().unwrap_or(false),
        console_size: process.console_size().as_ref().map(|b| {
            (
                b.height().min(u16::MAX as u64) as u16,
                b.width().min(u16::MAX as u64) as u16,
            )
        }),
        rlimits,
        no_new_privs: process.no_new_privileges().unwrap_or(false),
        uid: user.uid(),
        gid: user.gid(),
        groups: user.additional_gids().clone().unwrap_or_default(),
        umask: user.umask(),
        cwd: cstr(process.cwd().as_os_str().as_encoded_bytes()),
        exe_candidates,
        argv: CArgs::new(args.into_iter().map(cstr).collect()),
        envp: CArgs::new(env.into_iter().map(cstr).collect()),
        preserve_fds: preserve,
        fifo: inp.fifo,
        fifo_reopen,
        create_container_hooks: child_hooks(hooks.create_container()),
        start_container_hooks: child_hooks(hooks.start_container()),
        keyring: !inp.no_new_keyring,
        parent_fds: Vec::new(),
        cgroup_join: Vec::new(),
        confine: inp.confine,
        exec: false,
        cgroup_fd: None,
        runtime_hooks: hooks.prestart().as_ref().is_some_and(|h| !h.is_empty())
            || hooks
                .create_runtime()
                .as_ref()
                .is_some_and(|h| !h.is_empty()),
    })
}

/// The home directory of `uid` in the rootfs's /etc/passwd (resolved inside
/// the rootfs), or "/" as runc says when there is none.
fn home_dir(rootfs: &Path, uid: u32) -> String {
    use std::io::Read;
    let find = || -> Option<String> {
        let root = std::fs::File::open(rootfs).ok()?;
        let fd = crate::sys::openat2(
            std::os::fd::AsRawFd::as_raw_fd(&root),
            c"etc/passwd",
            libc::O_RDONLY | libc::O_CLOEXEC,
            crate::sys::RESOLVE_IN_ROOT | crate::sys::RESOLVE_NO_MAGICLINKS,
        )
        .ok()?;
        let mut text = String::new();
        std::fs::File::from(fd)
            .take(1 << 20)
            .read_to_string(&mut text)
            .ok()?;
        text.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 6 && f[2].parse() == Ok(uid) && !f[5].is_empty()).then(|| f[5].to_string())
        })
    };
    find().unwrap_or_else(|| "/".into())
}

/// May a mount whose (lexical) destination is `dest` land on procfs? Only
/// /proc itself and the files of [`proc_mount_allowed`]; checked again in
/// the child on the resolved destination, which a symlink may have moved.
pub fn proc_dest_ok(dest: &str) -> bool {
    dest == "/proc" || proc_mount_allowed(dest)
}

/// Files in /proc that may be mounted over (as runc allows: lxcfs and the like).
fn proc_mount_allowed(dest: &str) -> bool {
    matches!(
        dest,
        "/proc/cpuinfo"
            | "/proc/diskstats"
            | "/proc/meminfo"
            | "/proc/stat"
            | "/proc/swaps"
            | "/proc/uptime"
            | "/proc/loadavg"
            | "/proc/slabinfo"
            | "/proc/net/dev"
            | "/proc/sys/kernel/ns_last_pid"
    )
}

/// A `cgroup` mount: a tmpfs with one bind per hierarchy of the container's
/// cgroup (or one bind of its cgroup2 directory), then read-only if asked.
fn cgroup_mount(
    out: &mut Vec<MountOp>,
    index: usize,
    dest: &InRoot,
    opts: &mountopt::Parsed,
    binds: &CgroupBinds,
) {
    let ro = opts.flags & libc::MS_RDONLY;
    let base = opts.flags & (libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC);
    let op = |kind, source: &Path, fstype: &str, data: &str, flags, dest: InRoot| MountOp {
        kind,
        index,
        source: cstr(source.as_os_str().as_encoded_bytes()),
        fstype: cstr(fstype),
        data: cstr(data),
        flags,
        bind_remount: None,
        propagation: vec![],
        rec_set: 0,
        rec_clr: 0,
        dest,
        dest_file: false,
        copy_up: false,
    };
    if let [(name, dir)] = binds.as_slice() {
        if name.is_empty() {
            // Pure cgroup v2: bind the container's own directory.
            let mut m = op(
                MountKind::Mount,
                dir,
                "",
                "",
                libc::MS_BIND | libc::MS_REC,
                dest.clone(),
            );
            m.bind_remount = Some(libc::MS_BIND | libc::MS_REMOUNT | base | ro);
            out.push(m);
            return;
        }
    }
    out.push(op(
        MountKind::Mount,
        Path::new("tmpfs"),
        "tmpfs",
        "mode=755",
        base,
        dest.clone(),
    ));
    for (name, dir) in binds {
        let sub = in_root(&Path::new(&dest.display).join(name));
        let mut m = op(
            MountKind::Mount,
            dir,
            "",
            "",
            libc::MS_BIND | libc::MS_REC,
            sub,
        );
        m.bind_remount = Some(libc::MS_BIND | libc::MS_REMOUNT | base | ro);
        out.push(m);
    }
    if ro != 0 {
        out.push(op(
            MountKind::Remount,
            Path::new(""),
            "",
            "",
            libc::MS_REMOUNT | base | ro,
            dest.clone(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_root_cleans_lexically() {
        let r = in_root(Path::new("/a/./b/../c"));
        assert_eq!(r.display, "/a/c");
        assert_eq!(r.prefixes, vec![cstr("a"), cstr("a/c")]);
        assert_eq!(r.names, vec![cstr("a"), cstr("c")]);
        assert_eq!(in_root(Path::new("/../../etc")).display, "/etc");
    }

    #[test]
    fn proc_allowlist() {
        assert!(proc_mount_allowed("/proc/meminfo"));
        assert!(!proc_mount_allowed("/proc/self/attr"));
    }
}
