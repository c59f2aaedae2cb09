//! Control-group management for containers (cgroup v1, v2 and the hybrid layout).
//!
//! `open`/`open_at` resolve `linux.cgroupsPath` against the mounted hierarchies and
//! return a [`Cgroup`]: [`v1::V1Cgroup`] for v1 and hybrid layouts (hybrid = v1
//! resources plus a placement-only directory in the unified hierarchy) and
//! [`v2::V2Cgroup`] for the pure unified layout. Writers for the two versions are
//! kept strictly apart; the shared file helpers live here.

pub mod convert;
pub mod devbpf;
mod mounts;
mod stats;
pub mod v1;
pub mod v2;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use mounts::{hierarchy_dir, rebase, CgPath, Mounts, OwnCgroups};

/// Where cgroup filesystems are mounted on a normal host.
pub const DEFAULT_ROOT: &str = "/sys/fs/cgroup";

pub type Result<T> = std::result::Result<T, CgroupError>;

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("write {value} to {}: {}", path.display(), errno_text(source))]
    Write {
        path: PathBuf,
        value: String,
        source: io::Error,
    },
    #[error("{op} {}: {}", path.display(), errno_text(source))]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("parse {}: unexpected content {value:?}", path.display())]
    Parse { path: PathBuf, value: String },
    #[error("invalid cgroup configuration: {0}")]
    Invalid(String),
    #[error("not supported: {0}")]
    Unsupported(String),
    #[error("no cgroup filesystem found in mountinfo")]
    NoCgroupFs,
    #[error("timed out waiting for {} to become {state}", path.display())]
    Timeout { path: PathBuf, state: &'static str },
    #[error("send signal {sig} to pid {pid}: {}", source.desc())]
    Signal { pid: i32, sig: i32, source: Errno },
}

/// "Invalid argument" rather than "Invalid argument (os error 22)".
fn errno_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => Errno::from_raw(n).desc().to_string(),
        None => e.to_string(),
    }
}

/// The mount layout of the cgroup filesystems.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    V1,
    V2,
    Hybrid,
}

impl Layout {
    /// Detect the layout of this process's mount namespace.
    pub fn detect() -> Result<Layout> {
        Mounts::parse(&read_file(Path::new("/proc/self/mountinfo"))?).layout()
    }
    /// Detect the layout from the text of a mountinfo file.
    pub fn from_mountinfo(mountinfo: &str) -> Result<Layout> {
        Mounts::parse(mountinfo).layout()
    }
}

/// The operations the runtime needs on a container's cgroup.
pub trait Cgroup: std::fmt::Debug + Send {
    /// `mkdir -p` the container cgroup in every hierarchy, remembering the dirs created.
    fn create(&mut self) -> Result<()>;
    /// Write every resource in `res` (also used by `update`).
    fn apply(&self, res: &LinuxResources) -> Result<()>;
    /// Move `pid` into the container cgroup in every hierarchy.
    fn add_task(&self, pid: i32) -> Result<()>;
    /// Move `pid` into the cgroup v2 directory only (see [`Cgroup::self_join_files`]).
    fn add_task_v2(&self, pid: i32) -> Result<()>;
    /// The v1 `tasks` files through which a single-threaded process joins the
    /// container's v1 hierarchies itself, by writing "0". The kernel moves a
    /// thread that moves itself without its global threadgroup lock, whose
    /// first taking waits for an RCU grace period: 10-15 ms for a `cgroup.procs`
    /// write after an idle moment here, against 0.05 ms. Empty on v2.
    fn self_join_files(&self) -> Vec<PathBuf> {
        Vec::new()
    }
    /// Freeze and return once the kernel reports the cgroup frozen.
    fn freeze(&self) -> Result<()>;
    /// Thaw and return once the kernel reports the cgroup thawed.
    fn thaw(&self) -> Result<()>;
    fn is_frozen(&self) -> Result<bool>;
    /// Every pid in the container cgroup and its descendants, sorted.
    fn pids(&self) -> Result<Vec<i32>>;
    /// Send `sig` to every process in the cgroup.
    fn kill_all(&self, sig: i32) -> Result<()>;
    /// Remove the directories this handle created (deepest first); kills nothing.
    fn destroy(&mut self) -> Result<()>;
    /// runc's `events --stats` "data" object.
    fn stats(&self) -> Result<serde_json::Value>;
    /// The unified-hierarchy directory (for `clone3(CLONE_INTO_CGROUP)`), if any.
    fn v2_dir(&self) -> Option<PathBuf>;
    /// Every directory of this container's cgroup.
    fn paths(&self) -> Vec<PathBuf>;
}

/// Open the container cgroup using this process's real mounts and cgroup membership.
pub fn open(cgroups_path: &str, id: &str) -> Result<Box<dyn Cgroup>> {
    let own = read_file(Path::new("/proc/self/cgroup"))?;
    let mountinfo = read_file(Path::new("/proc/self/mountinfo"))?;
    open_at(Path::new(DEFAULT_ROOT), &own, &mountinfo, cgroups_path, id)
}

/// Like [`open`] but with every kernel input passed in. Mount points under
/// `/sys/fs/cgroup` in `mountinfo` are re-rooted at `root`, so tests can use a fake tree.
pub fn open_at(
    root: &Path,
    proc_self_cgroup: &str,
    mountinfo: &str,
    cgroups_path: &str,
    id: &str,
) -> Result<Box<dyn Cgroup>> {
    let mounts = Mounts::parse(mountinfo);
    let layout = mounts.layout()?;
    let own = OwnCgroups::parse(proc_self_cgroup);
    let target = CgPath::new(cgroups_path, id)?;
    let unified = match &mounts.v2 {
        Some(m) => {
            let own_path = own.v2.as_deref().unwrap_or("/");
            let dir = hierarchy_dir(root, m, &target, own_path)?;
            Some(v2::V2Cgroup::new(rebase(root, &m.mount_point), dir))
        }
        None => None,
    };
    if layout == Layout::V2 {
        return Ok(Box::new(unified.expect("v2 layout has a cgroup2 mount")));
    }
    let mut hierarchies = Vec::new();
    for m in &mounts.v1 {
        let own_path = m
            .controllers
            .iter()
            .find_map(|c| own.get(c))
            .map_or("/", |s| s.as_str());
        let dir = hierarchy_dir(root, m, &target, own_path)?;
        hierarchies.push(v1::Hierarchy {
            controllers: m.controllers.clone(),
            mount: rebase(root, &m.mount_point),
            dir,
        });
    }
    Ok(Box::new(v1::V1Cgroup::new(hierarchies, unified)))
}

// ---- file helpers shared by v1 and v2 ----

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> CgroupError + 'a {
    move |source| CgroupError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Write `value` to an existing cgroup file (never creates it).
pub(crate) fn write_file(path: &Path, value: &str) -> Result<()> {
    let err = |source| CgroupError::Write {
        path: path.to_path_buf(),
        value: value.to_string(),
        source,
    };
    let mut f = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(err)?;
    f.write_all(value.as_bytes()).map_err(err)
}

pub(crate) fn read_file(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(io_err("read", path))
}

/// Read a file, `None` if it does not exist.
pub(crate) fn read_opt(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("read", path)(e)),
    }
}

/// Parse a single number; "max" (and v1's huge "unlimited") reads as u64::MAX.
pub(crate) fn parse_u64(path: &Path, s: &str) -> Result<u64> {
    let t = s.trim();
    if t == "max" {
        return Ok(u64::MAX);
    }
    t.parse().map_err(|_| CgroupError::Parse {
        path: path.to_path_buf(),
        value: t.to_string(),
    })
}

/// Create `dir` and any missing ancestors below `mount`, appending each created
/// dir to `created` as soon as it exists; `on_new` runs on each newly made dir.
pub(crate) fn mkdir_tracked(
    mount: &Path,
    dir: &Path,
    created: &mut Vec<PathBuf>,
    mut on_new: impl FnMut(&Path) -> Result<()>,
) -> Result<()> {
    let rel = dir.strip_prefix(mount).map_err(|_| {
        CgroupError::Invalid(format!(
            "{} is not under {}",
            dir.display(),
            mount.display()
        ))
    })?;
    let mut cur = mount.to_path_buf();
    for c in rel.components() {
        cur.push(c);
        match fs::create_dir(&cur) {
            Ok(()) => {
                created.push(cur.clone());
                on_new(&cur)?;
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_err("mkdir", &cur)(e)),
        }
    }
    Ok(())
}

/// rmdir, retrying EBUSY briefly; a missing dir counts as removed.
fn rmdir_retry(dir: &Path) -> Result<()> {
    let mut delay = Duration::from_millis(5);
    for attempt in 0.. {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt < 8 => {
                std::thread::sleep(delay);
                delay *= 2;
            }
            Err(e) => return Err(io_err("rmdir", dir)(e)),
        }
    }
    unreachable!()
}

/// Sort directories so that a child comes before its parent.
pub(crate) fn deepest_first<P: AsRef<Path>>(dirs: &mut [P]) {
    dirs.sort_by_key(|p| std::cmp::Reverse(p.as_ref().components().count()));
}

/// Remove sub-cgroups inside `dir` (made by the container itself), deepest first.
fn remove_children(dir: &Path) -> Result<()> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    for e in entries.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            remove_children(&e.path())?;
            rmdir_retry(&e.path())?;
        }
    }
    Ok(())
}

/// Remove every dir in `created` deepest first; the container's own dirs (`leaves`)
/// lose their sub-cgroups too. Dirs that could not be removed stay in `created`.
pub(crate) fn remove_created(created: &mut Vec<PathBuf>, leaves: &[PathBuf]) -> Result<()> {
    deepest_first(created);
    let mut first_err = None;
    let mut left = Vec::new();
    for dir in created.drain(..) {
        let res = if leaves.contains(&dir) {
            remove_children(&dir)
        } else {
            Ok(())
        };
        if let Err(e) = res.and_then(|_| rmdir_retry(&dir)) {
            first_err.get_or_insert(e);
            left.push(dir);
        }
    }
    *created = left;
    first_err.map_or(Ok(()), Err)
}

/// The pids in `dir`/cgroup.procs and every sub-cgroup.
pub(crate) fn procs_recursive(dir: &Path, out: &mut Vec<i32>) -> Result<()> {
    let path = dir.join("cgroup.procs");
    let Some(text) = read_opt(&path)? else {
        return Ok(());
    };
    for l in text.lines().filter(|l| !l.trim().is_empty()) {
        out.push(l.trim().parse().map_err(|_| CgroupError::Parse {
            path: path.clone(),
            value: l.into(),
        })?);
    }
    for e in fs::read_dir(dir).map_err(io_err("readdir", dir))?.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            procs_recursive(&e.path(), out)?;
        }
    }
    Ok(())
}

/// Send `sig` to each pid, ignoring processes that already exited.
pub(crate) fn signal_pids(pids: &[i32], sig: i32) -> Result<()> {
    let signal = Signal::try_from(sig)
        .map_err(|_| CgroupError::Invalid(format!("invalid signal number {sig}")))?;
    for &pid in pids {
        match kill(Pid::from_raw(pid), signal) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(source) => return Err(CgroupError::Signal { pid, sig, source }),
        }
    }
    Ok(())
}

/// Warnings go through the logger (`--log`, `--log-format json`).
pub(crate) use crate::log::warn;

#[cfg(test)]
mod tests;
