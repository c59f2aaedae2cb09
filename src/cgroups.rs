//! Where the lifecycle meets the cgroup module: which cgroup a spec asks
//! for, what must be recorded to undo it, and the teardown on delete.

pub use crate::cgroup::Cgroup;
use crate::error::{Error, Result};
use crate::state::State;
use oci_spec::runtime::Spec;
use std::os::fd::AsFd;
use std::path::PathBuf;

pub const ROOT: &str = crate::cgroup::DEFAULT_ROOT;

/// True when /sys/fs/cgroup itself is the unified hierarchy.
pub fn is_v2_root() -> bool {
    nix::sys::statfs::statfs(ROOT)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
}

/// `linux.cgroupsPath` of a stored config, read without building the tree.
fn cgroups_path(config: &serde_json::value::RawValue) -> String {
    #[derive(serde::Deserialize)]
    struct Config {
        linux: Option<Linux>,
    }
    #[derive(serde::Deserialize)]
    struct Linux {
        #[serde(rename = "cgroupsPath")]
        cgroups_path: Option<String>,
    }
    serde_json::from_str::<Config>(config.get())
        .ok()
        .and_then(|c| c.linux?.cgroups_path)
        .unwrap_or_default()
}

fn err(field: &str, e: crate::cgroup::CgroupError) -> Error {
    Error::Msg(format!("{field}: {e}"))
}

/// The container's cgroup, not yet created.
pub fn for_spec(spec: &Spec, id: &str) -> Result<Box<dyn Cgroup>> {
    let path = spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    crate::cgroup::open(&path, id).map_err(|e| err("linux.cgroupsPath", e))
}

/// The cgroup of an existing container.
pub fn reopen(st: &State) -> Option<Box<dyn Cgroup>> {
    crate::cgroup::open(&cgroups_path(&st.config), &st.id).ok()
}

/// Every directory that creating `cg` will make: its leaves and the
/// ancestors that do not exist yet. Recorded before creating them, so that
/// a killed `create` still leaves a state that `delete --force` can undo.
pub fn to_create(cg: &dyn Cgroup) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for leaf in cg.paths() {
        let mut p = leaf.as_path();
        while !p.exists() && p.starts_with(ROOT) {
            out.push(p.to_path_buf());
            match p.parent() {
                Some(parent) => p = parent,
                None => break,
            }
        }
    }
    out
}

/// Kill what is left in the container's cgroup and wait until it is gone.
pub fn kill_and_wait(cg: &dyn Cgroup) {
    let Ok(pids) = cg.pids() else { return };
    if pids.is_empty() {
        return;
    }
    let fds: Vec<_> = pids
        .iter()
        .filter_map(|&p| crate::sys::pidfd_open(p).ok())
        .collect();
    let _ = cg.kill_all(libc::SIGKILL);
    for fd in &fds {
        let mut pfd = [nix::poll::PollFd::new(
            fd.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        while let Err(nix::errno::Errno::EINTR) =
            nix::poll::poll(&mut pfd, nix::poll::PollTimeout::NONE)
        {}
    }
}

/// Remove a container's recorded cgroup directories. Once its init is gone
/// they are usually empty: then it is one rmdir each, with no reading of
/// cgroup.procs. A busy one (tasks left, say a container that shares the
/// host's pid namespace) makes `kill` run (kill and wait for everything
/// left), then the removal is done again.
pub fn remove(paths: &[PathBuf], kill: impl FnOnce()) {
    let mut dirs: Vec<&PathBuf> = paths.iter().collect();
    crate::cgroup::deepest_first(&mut dirs);
    let busy = dirs.into_iter().any(|d| match std::fs::remove_dir(d) {
        Err(e) => e.raw_os_error() == Some(libc::EBUSY),
        Ok(()) => false,
    });
    if busy {
        kill();
        destroy_paths(paths);
    }
}

/// Remove the recorded cgroup directories (deepest first), retrying while
/// the kernel still counts exiting tasks (the cgroup module's own removal).
pub fn destroy_paths(paths: &[PathBuf]) {
    let _ = crate::cgroup::remove_created(&mut paths.to_vec(), &[]);
}

/// linux.resources with the device rules runc adds: after the config's own
/// rules, allow the default devices (and mknod of any), then every device
/// of linux.devices.
pub fn effective_resources(spec: &Spec) -> Option<oci_spec::runtime::LinuxResources> {
    use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
    let linux = spec.linux().as_ref()?;
    let mut res = linux.resources().clone().unwrap_or_default();
    let rule = |t: LinuxDeviceType, major: Option<i64>, minor: Option<i64>, access: &str| {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(true);
        r.set_typ(Some(t));
        r.set_major(major);
        r.set_minor(minor);
        r.set_access(Some(access.to_string()));
        r
    };
    let mut devs = res.devices().clone().unwrap_or_default();
    let c = LinuxDeviceType::C;
    devs.extend([
        rule(c, None, None, "m"),
        rule(LinuxDeviceType::B, None, None, "m"),
        rule(c, Some(1), Some(3), "rwm"),
        rule(c, Some(1), Some(5), "rwm"),
        rule(c, Some(1), Some(7), "rwm"),
        rule(c, Some(1), Some(8), "rwm"),
        rule(c, Some(1), Some(9), "rwm"),
        rule(c, Some(5), Some(0), "rwm"),
        rule(c, Some(5), Some(1), "rwm"),
        rule(c, Some(5), Some(2), "rwm"),
        rule(c, Some(136), None, "rwm"),
    ]);
    for d in linux.devices().iter().flatten() {
        let t = match d.typ() {
            LinuxDeviceType::U => c,
            t => t,
        };
        devs.push(rule(t, Some(d.major()), Some(d.minor()), "rwm"));
    }
    res.set_devices(Some(devs));
    Some(res)
}
