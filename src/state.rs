//! The state store: one directory per container under `--root`, holding
//! `state.json` (written atomically: tmp + rename) and, until `start`, the
//! `exec.fifo` gate. A flock on the directory serialises commands on one id.

use crate::error::{Context, Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state.json";
pub const FIFO: &str = "exec.fifo";

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// What husk remembers about a container between commands.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct State {
    pub id: String,
    /// Host pid of the container's init (0 before it exists).
    pub pid: i32,
    /// Its start time (field 22 of /proc/PID/stat), to tell a reused pid.
    pub pid_start: u64,
    /// `creating` until `create` finished; later statuses are derived live.
    pub status: Status,
    pub bundle: String,
    pub rootfs: String,
    pub created: String,
    pub owner: String,
    pub annotations: BTreeMap<String, String>,
    /// Every cgroup directory that husk made for this container.
    #[serde(default)]
    pub cgroup_paths: Vec<PathBuf>,
    /// The config the container was created from (hooks, cgroups, ...), as
    /// JSON text: made once at create and copied into every save, parsed
    /// only by the commands that need it (`state`, `list`, `kill` do not).
    pub config: Box<RawValue>,
}

/// The state JSON as runc prints it for `state` (and gives hooks on stdin).
#[derive(Serialize, Debug)]
pub struct OciState<'a> {
    #[serde(rename = "ociVersion")]
    pub oci_version: &'a str,
    pub id: &'a str,
    pub pid: i32,
    pub status: &'a str,
    pub bundle: &'a str,
    pub rootfs: &'a str,
    pub created: &'a str,
    pub owner: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: &'a BTreeMap<String, String>,
}

/// `value` as stored JSON text.
pub fn raw_json<T: Serialize + ?Sized>(value: &T) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).expect("serializes")
}

impl State {
    /// The stored config as a JSON tree.
    pub fn config_value(&self) -> Result<serde_json::Value> {
        serde_json::from_str(self.config.get())
            .map_err(|e| Error::Msg(format!("state of {}: config: {e}", self.id)))
    }

    pub fn oci<'a>(&'a self, status: Status) -> OciState<'a> {
        OciState {
            oci_version: crate::OCI_VERSION,
            id: &self.id,
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            status: status.as_str(),
            bundle: &self.bundle,
            rootfs: &self.rootfs,
            created: &self.created,
            owner: &self.owner,
            annotations: &self.annotations,
        }
    }
}

/// A container's directory, locked for the lifetime of this value.
#[derive(Debug)]
pub struct Dir {
    pub path: PathBuf,
    lock: File,
}

/// The start time of a live, non-zombie process, or None.
pub fn start_time(pid: i32) -> Option<u64> {
    if pid <= 0 {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

impl Dir {
    /// Make a new container directory; fails if the id is taken.
    pub fn create(root: &Path, id: &str) -> Result<Dir> {
        crate::util::validate_id(id).map_err(Error::Invalid)?;
        std::fs::create_dir_all(root)
            .with_ctx(|| format!("create state root {}", root.display()))?;
        let path = root.join(id);
        match std::fs::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::Invalid(format!("container with id exists: {id}")))
            }
            Err(e) => return Err(e).with_ctx(|| format!("create {}", path.display())),
        }
        let d = Dir::lock_path(path)?;
        Ok(d)
    }

    /// Open and lock an existing container's directory.
    pub fn open(root: &Path, id: &str) -> Result<Dir> {
        Dir::open_opt(root, id)?.ok_or_else(|| not_found(id))
    }

    /// Like [`Dir::open`], with `None` when there is no such container.
    pub fn open_opt(root: &Path, id: &str) -> Result<Option<Dir>> {
        let path = container_dir(root, id)?;
        let lock = match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(&path)
        {
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
                return Ok(None)
            }
            r => r.with_ctx(|| format!("open {}", path.display()))?,
        };
        Dir::lock(path, lock).map(Some)
    }

    fn lock_path(path: PathBuf) -> Result<Dir> {
        let lock = File::open(&path).with_ctx(|| format!("open {}", path.display()))?;
        Dir::lock(path, lock)
    }

    fn lock(path: PathBuf, lock: File) -> Result<Dir> {
        crate::sys::flock(lock.as_raw_fd(), libc::LOCK_EX)
            .with_ctx(|| format!("lock {}", path.display()))?;
        Ok(Dir { path, lock })
    }

    /// The descriptor holding the lock (the child must not inherit it).
    pub fn lock_fd(&self) -> std::os::fd::RawFd {
        self.lock.as_raw_fd()
    }

    /// Let other commands at this container while we wait (foreground run).
    pub fn unlock(&self) {
        let _ = crate::sys::flock(self.lock.as_raw_fd(), libc::LOCK_UN);
    }

    pub fn relock(&self) -> Result<()> {
        crate::sys::flock(self.lock.as_raw_fd(), libc::LOCK_EX)
            .with_ctx(|| format!("lock {}", self.path.display()))
    }

    pub fn fifo(&self) -> PathBuf {
        self.path.join(FIFO)
    }

    /// Write state.json atomically.
    pub fn save(&self, st: &State) -> Result<()> {
        write_atomic(
            &self.path.join(STATE_FILE),
            &serde_json::to_vec(st).expect("state serializes"),
        )
    }

    pub fn load(&self) -> Result<State> {
        load(&self.path)
    }

    /// Remove the directory and everything in it.
    pub fn remove(self) -> Result<()> {
        let r = match std::fs::remove_dir_all(&self.path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            r => r.with_ctx(|| format!("remove {}", self.path.display())),
        };
        drop(self.lock);
        r
    }
}

/// The directory of container `id` under `root`: the id is checked, the
/// directory is not looked at (opening it tells whether it exists).
pub fn container_dir(root: &Path, id: &str) -> Result<PathBuf> {
    crate::util::validate_id(id).map_err(Error::Invalid)?;
    Ok(root.join(id))
}

/// "container does not exist: ID", as runc says it.
pub fn not_found(id: &str) -> Error {
    Error::Invalid(format!("container does not exist: {id}"))
}

/// Read the state of the container directory `dir` without locking (the
/// atomic rename means a reader never sees a half-written file).
pub fn load(dir: &Path) -> Result<State> {
    let f = dir.join(STATE_FILE);
    let data = std::fs::read(&f).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            not_found(&dir.file_name().unwrap_or_default().to_string_lossy())
        } else {
            Error::Io {
                what: format!("read {}", f.display()),
                err: e,
            }
        }
    })?;
    serde_json::from_slice(&data).map_err(|e| Error::Msg(format!("{}: {e}", f.display())))
}

/// The live status of a container from its stored state.
pub fn status(dir: &Path, st: &State, frozen: impl FnOnce() -> bool) -> Status {
    let alive = start_time(st.pid).is_some_and(|t| t == st.pid_start);
    if !alive {
        return Status::Stopped;
    }
    if st.status == Status::Creating {
        return Status::Creating;
    }
    if dir.join(FIFO).exists() {
        return Status::Created;
    }
    if frozen() {
        return Status::Paused;
    }
    Status::Running
}

/// Write `data` to `path` through a temporary file and rename.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).with_ctx(|| format!("create {}", tmp.display()))?;
    f.write_all(data)
        .with_ctx(|| format!("write {}", tmp.display()))?;
    drop(f);
    std::fs::rename(&tmp, path)
        .with_ctx(|| format!("rename {} to {}", tmp.display(), path.display()))
}

/// Ids of all containers under `root`, sorted.
pub fn list_ids(root: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|id| crate::util::validate_id(id).is_ok())
        .collect();
    ids.sort();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_of_self_and_of_nothing() {
        assert!(start_time(std::process::id() as i32).is_some());
        assert!(start_time(0).is_none());
        assert!(start_time(i32::MAX).is_none());
    }

    #[test]
    fn dir_lifecycle_and_duplicate_id() {
        let root = std::env::temp_dir().join(format!("husk-state-test-{}", std::process::id()));
        let d = Dir::create(&root, "abc").unwrap();
        assert!(Dir::create(&root, "abc")
            .unwrap_err()
            .to_string()
            .contains("exists"));
        assert!(Dir::create(&root, "../x").is_err());
        let st = State {
            id: "abc".into(),
            pid: 1,
            pid_start: 0,
            status: Status::Created,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "now".into(),
            owner: String::new(),
            annotations: BTreeMap::new(),
            cgroup_paths: vec![],
            config: raw_json(&serde_json::json!({"linux": {"cgroupsPath": "/x"}})),
        };
        d.save(&st).unwrap();
        let back = d.load().unwrap();
        assert_eq!(back.bundle, "/b");
        assert_eq!(back.config_value().unwrap()["linux"]["cgroupsPath"], "/x");
        assert_eq!(list_ids(&root), vec!["abc".to_string()]);
        d.remove().unwrap();
        assert!(list_ids(&root).is_empty());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
