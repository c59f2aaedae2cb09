//! The cgroup v2 implementation for real, on this host's unified hierarchy
//! (/sys/fs/cgroup/unified, which has the hugetlb controller): placement,
//! hugetlb limits, freeze/thaw, listing, cgroup.kill, stats and removal.
//! The module is pointed at that mount as if it were a pure v2 host.

use husk::cgroup::{self, Cgroup};
use oci_spec::runtime::LinuxResources;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

const UNIFIED: &str = "/sys/fs/cgroup/unified";

struct Guard {
    cg: Box<dyn Cgroup>,
    child: Option<Child>,
    top: PathBuf,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = self.cg.thaw();
        let _ = self.cg.destroy();
        let _ = std::fs::remove_dir(self.top.join("c"));
        let _ = std::fs::remove_dir(&self.top);
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

fn pid_in(cg: &dyn Cgroup, pid: i32) -> bool {
    cg.pids().unwrap().contains(&pid)
}

#[test]
fn v2_on_the_unified_hierarchy() {
    assert!(nix::unistd::geteuid().is_root(), "needs root");
    let controllers = read(&Path::new(UNIFIED).join("cgroup.controllers"));
    assert!(
        controllers.contains("hugetlb"),
        "this host's unified hierarchy should offer hugetlb: {controllers:?}"
    );
    let name = format!("husk-v2-test-{}", std::process::id());
    let mountinfo = "1 0 0:99 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n";
    let cg = cgroup::open_at(
        Path::new(UNIFIED),
        "0::/\n",
        mountinfo,
        &format!("/{name}/c"),
        "c",
    )
    .unwrap();
    let top = Path::new(UNIFIED).join(&name);
    let mut g = Guard {
        cg,
        child: None,
        top: top.clone(),
    };
    let dir = top.join("c");
    assert_eq!(g.cg.paths(), vec![dir.clone()]);
    assert_eq!(g.cg.v2_dir(), Some(dir.clone()));

    g.cg.create().unwrap();
    assert!(dir.is_dir());
    // hugetlb is delegated down to our cgroup and its limit is written.
    let res: LinuxResources = serde_json::from_value(serde_json::json!({
        "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]
    }))
    .unwrap();
    g.cg.apply(&res).unwrap();
    assert_eq!(read(&dir.join("hugetlb.2MB.max")), "4194304");

    // Placement, listing, freeze and thaw of a real process.
    let child = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = child.id() as i32;
    g.child = Some(child);
    g.cg.add_task(pid).unwrap();
    assert!(pid_in(g.cg.as_ref(), pid));
    assert!(read(&Path::new(&format!("/proc/{pid}/cgroup"))).contains(&format!("0::/{name}/c")));
    g.cg.freeze().unwrap();
    assert!(g.cg.is_frozen().unwrap());
    assert!(read(&dir.join("cgroup.events")).contains("frozen 1"));
    let st = read(Path::new(&format!("/proc/{pid}/stat")));
    assert!(
        st.rsplit(')').next().unwrap().trim_start().starts_with('S'),
        "{st}"
    );
    g.cg.thaw().unwrap();
    assert!(!g.cg.is_frozen().unwrap());
    assert!(read(&dir.join("cgroup.events")).contains("frozen 0"));

    // Stats come from the v2 files.
    let stats = g.cg.stats().unwrap();
    assert!(stats.is_object(), "{stats}");

    // cgroup.kill ends everything in it.
    g.cg.kill_all(libc::SIGKILL).unwrap();
    let status = g.child.take().unwrap().wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    assert!(g.cg.pids().unwrap().is_empty());

    // Removal takes every directory we made.
    g.cg.destroy().unwrap();
    assert!(!dir.exists());
    assert!(!top.exists(), "{} left behind", top.display());
}
