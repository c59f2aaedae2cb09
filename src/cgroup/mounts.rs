//! Finding the container's directories: mountinfo and /proc/self/cgroup parsing
//! and resolution of linux.cgroupsPath (absolute, or relative to our own cgroup).

use std::path::{Path, PathBuf};

use super::{CgroupError, Layout, Result, DEFAULT_ROOT};

/// A cleaned cgroup path: absolute (from the hierarchy root) or relative to our own cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CgPath {
    pub(crate) absolute: bool,
    pub(crate) parts: Vec<String>,
}

impl CgPath {
    pub(crate) fn new(cgroups_path: &str, id: &str) -> Result<CgPath> {
        let p = if cgroups_path.is_empty() {
            id
        } else {
            cgroups_path
        };
        if !p.starts_with('/') && p.contains(':') {
            return Err(CgroupError::Invalid(format!(
                "cgroupsPath {p:?} looks like a systemd slice:prefix:name; the systemd driver is not supported"
            )));
        }
        let mut parts = Vec::new();
        for c in p.split('/').filter(|c| !c.is_empty() && *c != ".") {
            if c == ".." {
                return Err(CgroupError::Invalid(format!(
                    "cgroupsPath {p:?} contains \"..\""
                )));
            }
            parts.push(c.to_string());
        }
        if parts.is_empty() {
            return Err(CgroupError::Invalid(format!(
                "cgroupsPath {p:?} names the hierarchy root"
            )));
        }
        Ok(CgPath {
            absolute: p.starts_with('/'),
            parts,
        })
    }
}

/// The container's directory in one hierarchy mounted (with mount-root `m.root`) at `m.mount_point`.
pub(crate) fn hierarchy_dir(root: &Path, m: &Mount, target: &CgPath, own: &str) -> Result<PathBuf> {
    let mut full: Vec<&str> = Vec::new();
    if !target.absolute {
        full.extend(own.split('/').filter(|c| !c.is_empty()));
    }
    full.extend(target.parts.iter().map(|s| s.as_str()));
    let mount_root: Vec<&str> = m.root.split('/').filter(|c| !c.is_empty()).collect();
    if !full.starts_with(&mount_root) {
        return Err(CgroupError::Invalid(format!(
            "cgroup /{} is outside the hierarchy mounted at {} (root {})",
            full.join("/"),
            m.mount_point.display(),
            m.root
        )));
    }
    let mut dir = rebase(root, &m.mount_point);
    dir.extend(&full[mount_root.len()..]);
    Ok(dir)
}

/// Re-root a mount point under `/sys/fs/cgroup` at `root`.
pub(crate) fn rebase(root: &Path, mount_point: &Path) -> PathBuf {
    match mount_point.strip_prefix(DEFAULT_ROOT) {
        Ok(rest) if root != Path::new(DEFAULT_ROOT) => root.join(rest),
        _ => mount_point.to_path_buf(),
    }
}

/// One cgroup mount from mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mount {
    pub(crate) mount_point: PathBuf,
    /// The path inside the hierarchy that is mounted (usually "/").
    pub(crate) root: String,
    /// v1 controllers (incl. "name=..." for named hierarchies); empty for cgroup2.
    pub(crate) controllers: Vec<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Mounts {
    pub(crate) v1: Vec<Mount>,
    pub(crate) v2: Option<Mount>,
}

const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "blkio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
    "debug",
];

impl Mounts {
    pub(crate) fn parse(mountinfo: &str) -> Mounts {
        let mut out = Mounts::default();
        let mut seen_devs: Vec<&str> = Vec::new();
        for line in mountinfo.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let mut l = left.split(' ').skip(2);
            let (Some(dev), Some(root), Some(point)) = (l.next(), l.next(), l.next()) else {
                continue;
            };
            let mut r = right.split(' ');
            let (Some(fstype), Some(_source), Some(opts)) = (r.next(), r.next(), r.next()) else {
                continue;
            };
            // A later mount on (or above) a mount point hides what was there,
            // e.g. a tmpfs over /sys/fs/cgroup/unified in a private namespace.
            // Most lines are neither cgroup mounts nor above one: no allocation.
            let cgroup = fstype == "cgroup" || fstype == "cgroup2";
            let hides = |m: &Mount| under(m.mount_point.as_os_str().as_encoded_bytes(), point);
            if !cgroup && !out.v2.as_ref().is_some_and(hides) && !out.v1.iter().any(hides) {
                continue;
            }
            let mount_point = PathBuf::from(unescape(point));
            let hides = |m: &Mount| m.mount_point.starts_with(&mount_point);
            if out.v2.as_ref().is_some_and(hides) {
                out.v2 = None;
            }
            out.v1.retain(|m| !hides(m));
            match fstype {
                "cgroup2" => {
                    out.v2 = Some(Mount {
                        mount_point,
                        root: unescape(root),
                        controllers: vec![],
                    })
                }
                "cgroup" if !seen_devs.contains(&dev) => {
                    seen_devs.push(dev);
                    let controllers: Vec<String> = opts
                        .split(',')
                        .filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name="))
                        .map(String::from)
                        .collect();
                    if !controllers.is_empty() {
                        out.v1.push(Mount {
                            mount_point,
                            root: unescape(root),
                            controllers,
                        });
                    }
                }
                _ => {}
            }
        }
        out
    }

    pub(crate) fn layout(&self) -> Result<Layout> {
        let real_v1 = self
            .v1
            .iter()
            .any(|m| m.controllers.iter().any(|c| !c.starts_with("name=")));
        match (real_v1, &self.v2) {
            (true, Some(_)) => Ok(Layout::Hybrid),
            (true, None) => Ok(Layout::V1),
            (false, Some(_)) => Ok(Layout::V2),
            (false, None) => Err(CgroupError::NoCgroupFs),
        }
    }
}

/// Whether the mount point `path` is `point` (mountinfo-escaped) or below it:
/// a cheap, conservative test (an escaped point matches nothing but itself).
fn under(path: &[u8], point: &str) -> bool {
    let p = point.as_bytes();
    p == b"/"
        || path.starts_with(p) && (path.len() == p.len() || path[p.len()] == b'/')
        || point.contains('\\')
}

/// Undo mountinfo's octal escapes (`\040` for a space, ...).
pub(crate) fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match oct {
            Some(d) => {
                out.push(d.iter().fold(0u8, |a, c| a.wrapping_mul(8) + (c - b'0')));
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// This process's cgroup paths from /proc/self/cgroup.
#[derive(Debug, Default)]
pub(crate) struct OwnCgroups {
    /// (controller, path): a handful, searched in order.
    pub(crate) v1: Vec<(String, String)>,
    pub(crate) v2: Option<String>,
}

impl OwnCgroups {
    pub(crate) fn get(&self, controller: &str) -> Option<&String> {
        self.v1
            .iter()
            .find(|(c, _)| c == controller)
            .map(|(_, p)| p)
    }

    pub(crate) fn parse(text: &str) -> OwnCgroups {
        let mut out = OwnCgroups::default();
        for line in text.lines() {
            let mut f = line.splitn(3, ':');
            let (Some(id), Some(ctrls), Some(path)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            if id == "0" && ctrls.is_empty() {
                out.v2 = Some(path.to_string());
            } else {
                for c in ctrls.split(',').filter(|c| !c.is_empty()) {
                    out.v1.push((c.to_string(), path.to_string()));
                }
            }
        }
        out
    }
}
