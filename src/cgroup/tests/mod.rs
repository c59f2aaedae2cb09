//! Unit tests against fake cgroup trees in a temp dir (never the real /sys/fs/cgroup).

mod devbpf;
mod v1;
mod v2;

use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use super::mounts::{rebase, unescape, CgPath, Mounts};
use super::*;

pub(super) const V1_LINES: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
42 31 0:39 / /sys/fs/cgroup/net_cls,net_prio rw,relatime - cgroup cgroup rw,net_cls,net_prio
43 31 0:40 / /sys/fs/cgroup/hugetlb rw,relatime - cgroup cgroup rw,hugetlb
44 31 0:41 / /sys/fs/cgroup/rdma rw,relatime - cgroup cgroup rw,rdma
99 23 0:35 / /mnt/blkio\\040again rw,relatime - cgroup cgroup rw,blkio
";
pub(super) const UNIFIED_LINE: &str =
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
pub(super) const V2_MOUNTINFO: &str = "\
22 1 8:1 / / rw - ext4 /dev/sda1 rw
31 23 0:28 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
";
pub(super) const OWN: &str =
    "12:memory:/process_api/abc\n11:cpu,cpuacct:/\n1:name=systemd:/user.slice\n0::/user.slice/s\n";

/// A fake cgroup root in a temp dir, removed on drop.
pub(super) struct Fake(pub(super) PathBuf);

impl Fake {
    pub(super) fn new(name: &str) -> Fake {
        let root = std::env::temp_dir().join(format!("husk-cgtest-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        Fake(root)
    }
    pub(super) fn p(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
    pub(super) fn put(&self, rel: &str, content: &str) {
        let p = self.p(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }
    pub(super) fn get(&self, rel: &str) -> String {
        fs::read_to_string(self.p(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }
    /// Create empty files `names` in `dir` (what the kernel would do on mkdir).
    pub(super) fn files(&self, dir: &str, names: &[&str]) {
        for n in names {
            self.put(&format!("{dir}/{n}"), "");
        }
    }
}

/// Before destroy(): drop the regular files a test put in the cgroup dirs (on a real
/// cgroupfs the interface files vanish with rmdir; in the fake they block it).
pub(super) fn unfake(cg: &dyn Cgroup) {
    fn walk(d: &Path) {
        for e in fs::read_dir(d).into_iter().flatten().flatten() {
            if e.file_type().unwrap().is_dir() {
                walk(&e.path());
            } else {
                fs::remove_file(e.path()).unwrap();
            }
        }
    }
    for p in cg.paths() {
        walk(&p);
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub(super) fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

/// open_at on the fake root, after creating the mount-point dirs (as real mounts exist).
pub(super) fn open_fake(f: &Fake, mountinfo: &str, path: &str) -> Box<dyn Cgroup> {
    let m = Mounts::parse(mountinfo);
    for mp in m.v1.iter().chain(m.v2.iter()) {
        fs::create_dir_all(rebase(&f.0, &mp.mount_point)).unwrap();
    }
    open_at(&f.0, OWN, mountinfo, path, "id1").unwrap()
}

pub(super) fn hybrid(f: &Fake, path: &str) -> Box<dyn Cgroup> {
    open_fake(f, &format!("{V1_LINES}{UNIFIED_LINE}"), path)
}

pub(super) const FULL: &str = r#"{
  "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}],
  "memory": {"limit": 8388608, "reservation": 4194304, "swap": 16777216, "kernel": 1, "swappiness": 10,
             "disableOOMKiller": true, "useHierarchy": true},
  "cpu": {"shares": 512, "quota": 50000, "period": 100000, "burst": 1000, "realtimeRuntime": 950,
          "realtimePeriod": 1000, "cpus": "0-1", "mems": "0", "idle": 0},
  "pids": {"limit": 0},
  "blockIO": {"weight": 500, "leafWeight": 300,
              "weightDevice": [{"major": 8, "minor": 0, "weight": 600, "leafWeight": 200}],
              "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
              "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 2097152}],
              "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}],
              "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 0}]},
  "hugepageLimits": [{"pageSize": "2MB", "limit": 209715200}],
  "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5}]},
  "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}}
}"#;

#[test]
fn layout_detection() {
    assert_eq!(Layout::from_mountinfo(V1_LINES).unwrap(), Layout::V1);
    assert_eq!(
        Layout::from_mountinfo(&format!("{V1_LINES}{UNIFIED_LINE}")).unwrap(),
        Layout::Hybrid
    );
    assert_eq!(Layout::from_mountinfo(V2_MOUNTINFO).unwrap(), Layout::V2);
    // A named-only v1 hierarchy next to cgroup2 is still the unified layout.
    let named = "40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n";
    assert_eq!(
        Layout::from_mountinfo(&format!("{named}{V2_MOUNTINFO}")).unwrap(),
        Layout::V2
    );
    assert!(matches!(
        Layout::from_mountinfo("22 1 8:1 / / rw - ext4 x rw\n"),
        Err(CgroupError::NoCgroupFs)
    ));
}

#[test]
fn mountinfo_parsing() {
    let m = Mounts::parse(V1_LINES);
    let names: Vec<String> = m.v1.iter().map(|m| m.controllers.join(",")).collect();
    assert_eq!(
        names,
        [
            "cpu,cpuacct",
            "cpuset",
            "memory",
            "devices",
            "freezer",
            "blkio",
            "pids",
            "name=systemd",
            "net_cls,net_prio",
            "hugetlb",
            "rdma"
        ]
    );
    assert!(m.v2.is_none());
    assert_eq!(unescape("/mnt/a\\040b"), "/mnt/a b");
    assert_eq!(unescape("/x\\\\y"), "/x\\\\y");
}

#[test]
fn cgroup_paths() {
    assert!(CgPath::new("/a/../b", "x").is_err());
    assert!(CgPath::new("system.slice:husk:x", "x").is_err());
    assert!(CgPath::new("/", "x").is_err());
    assert_eq!(
        CgPath::new("", "id").unwrap(),
        CgPath {
            absolute: false,
            parts: vec!["id".into()]
        }
    );
    assert_eq!(
        CgPath::new("/a//./b/", "id").unwrap(),
        CgPath {
            absolute: true,
            parts: vec!["a".into(), "b".into()]
        }
    );
    let f = Fake::new("paths");
    let cg = hybrid(&f, "/a/b");
    assert!(cg.paths().contains(&f.p("cpu,cpuacct/a/b")));
    assert!(cg.paths().contains(&f.p("systemd/a/b")));
    assert_eq!(cg.v2_dir().unwrap(), f.p("unified/a/b"));
    assert_eq!(cg.paths().len(), 12); // 11 v1 hierarchies (blkio deduped) + unified
                                      // Relative paths go below our own cgroup in each hierarchy.
    let cg = hybrid(&f, "rel");
    assert!(cg.paths().contains(&f.p("memory/process_api/abc/rel")));
    assert!(cg.paths().contains(&f.p("systemd/user.slice/rel")));
    assert!(cg.paths().contains(&f.p("cpuset/rel")));
    assert_eq!(cg.v2_dir().unwrap(), f.p("unified/user.slice/s/rel"));
    // A mount of a sub-tree (mount root /user.slice) re-roots the path.
    let mi = "31 23 0:28 /user.slice /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
    let cg = open_at(&f.0, OWN, mi, "", "c").unwrap();
    assert_eq!(cg.v2_dir().unwrap(), f.p("s/c"));
    assert!(open_at(&f.0, OWN, mi, "/elsewhere/c", "c").is_err());
}

#[test]
fn create_and_destroy_only_remove_our_dirs() {
    let f = Fake::new("create");
    fs::create_dir_all(f.p("memory/pre")).unwrap();
    fs::create_dir_all(f.p("unified")).unwrap();
    let mut cg = hybrid(&f, "/pre/c1");
    cg.create().unwrap();
    for p in cg.paths() {
        assert!(p.is_dir(), "{}", p.display());
    }
    fs::create_dir(f.p("memory/pre/c1/nested")).unwrap(); // made by the container itself
    unfake(&*cg);
    cg.destroy().unwrap();
    assert!(f.p("memory/pre").is_dir(), "pre-existing parent must stay");
    assert!(!f.p("memory/pre/c1").exists());
    assert!(!f.p("cpuset/pre").exists(), "parent we created is removed");
    assert!(!f.p("unified/pre").exists());
    cg.destroy().unwrap(); // idempotent
}

#[test]
fn destroy_leaves_preexisting_leaf() {
    let f = Fake::new("preleaf");
    fs::create_dir_all(f.p("pre/sub")).unwrap();
    let mut cg = open_fake(&f, V2_MOUNTINFO, "/pre");
    cg.create().unwrap();
    cg.destroy().unwrap();
    assert!(
        f.p("pre/sub").is_dir(),
        "a leaf we did not create keeps its children"
    );
}

#[test]
fn cpuset_init_copies_parent() {
    let f = Fake::new("cpuset");
    f.put("cpuset/cpuset.cpus", "0-3\n");
    f.put("cpuset/cpuset.mems", "0\n");
    f.files("cpuset/c", &["cpuset.cpus", "cpuset.mems"]);
    super::v1::V1Cgroup::init_cpuset(&f.p("cpuset/c")).unwrap();
    assert_eq!(f.get("cpuset/c/cpuset.cpus"), "0-3");
    assert_eq!(f.get("cpuset/c/cpuset.mems"), "0");
}

#[test]
fn error_display_strips_os_error_number() {
    let e = CgroupError::Write {
        path: Path::new("/sys/fs/cgroup/cpuset/x/cpuset.cpus").into(),
        value: "99999".into(),
        source: std::io::Error::from_raw_os_error(libc::EINVAL),
    };
    assert_eq!(
        e.to_string(),
        "write 99999 to /sys/fs/cgroup/cpuset/x/cpuset.cpus: Invalid argument"
    );
}

#[test]
fn hybrid_unified_goes_to_unified_dir() {
    let f = Fake::new("hyuni");
    let mut cg = hybrid(&f, "/c");
    cg.create().unwrap();
    f.files("unified/c", &["cgroup.max.depth"]);
    cg.apply(&res(r#"{"unified": {"cgroup.max.depth": "3"}}"#))
        .unwrap();
    assert_eq!(f.get("unified/c/cgroup.max.depth"), "3");
    let err = cg
        .apply(&res(r#"{"unified": {"memory.high": "1"}}"#))
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"memory.high\""), "{err}");
    unfake(&*cg);
    cg.destroy().unwrap();
}

#[test]
fn a_mount_over_a_cgroup_mount_point_hides_it() {
    let mi = "\
30 25 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
31 25 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
90 31 0:60 / /sys/fs/cgroup/unified rw - tmpfs none rw
";
    let m = Mounts::parse(mi);
    assert!(m.v2.is_none());
    assert_eq!(m.v1.len(), 1);
}
