//! Smoke test of husk::cgroup against the real /sys/fs/cgroup (needs root).
//! Everything lives under /husk-test-cg-<pid>/ in each hierarchy and is removed
//! again by a Drop guard, even when an assertion fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Mutex;

mod common;
use common::read;
use husk::cgroup::{self, Cgroup, Layout};
use oci_spec::runtime::LinuxResources;

/// Both tests create and remove the same /husk-test-cg-<pid> parent: run them one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

struct Guard {
    cg: Box<dyn Cgroup>,
    child: Option<Child>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = self.cg.thaw();
        if let Err(e) = self.cg.destroy() {
            eprintln!("cleanup: {e}");
        }
    }
}

/// None (test skipped) unless we are root on a host with a cgroup filesystem.
fn setup(name: &str) -> Option<(Guard, Vec<PathBuf>)> {
    // Not a skip: these tests must run as root on a host with cgroups.
    assert!(
        nix::unistd::geteuid().is_root(),
        "the cgroup tests need root"
    );
    assert!(Layout::detect().is_ok(), "no cgroup filesystem is mounted");
    let path = format!("/husk-test-cg-{}/{name}", std::process::id());
    let cg = cgroup::open(&path, name).expect("open");
    let mut dirs = cg.paths();
    dirs.extend(cg.paths().iter().map(|p| p.parent().unwrap().to_path_buf()));
    for d in &dirs {
        assert!(!d.exists(), "{} exists before the test", d.display());
    }
    Some((Guard { cg, child: None }, dirs))
}

fn assert_gone(dirs: &[PathBuf]) {
    for d in dirs {
        assert!(!d.exists(), "{} left behind", d.display());
    }
}

/// The directory of `controller` (a v1 hierarchy) among the container's paths.
fn v1_dir(g: &Guard, controller: &str) -> PathBuf {
    let root = Path::new("/sys/fs/cgroup");
    g.cg.paths()
        .into_iter()
        .find(|p| {
            p.strip_prefix(root).is_ok_and(|r| {
                r.iter()
                    .next()
                    .is_some_and(|c| c.to_str().unwrap().split(',').any(|c| c == controller))
            })
        })
        .unwrap_or_else(|| panic!("no {controller} hierarchy"))
}

#[test]
fn real_cgroup_lifecycle() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some((mut g, dirs)) = setup("life") else {
        return;
    };
    let layout = Layout::detect().unwrap();
    g.cg.create().expect("create");
    let res: LinuxResources = serde_json::from_str(
        r#"{"memory": {"limit": 8388608}, "pids": {"limit": 10}, "cpu": {"shares": 512},
            "devices": [{"allow": false, "access": "rwm"},
                        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]}"#,
    )
    .unwrap();
    g.cg.apply(&res).expect("apply");

    let child = Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("spawn sleep");
    let pid = child.id() as i32;
    g.child = Some(child);
    g.cg.add_task(pid).expect("add_task");

    if layout == Layout::V2 {
        let d = g.cg.v2_dir().unwrap();
        assert_eq!(read(&d.join("memory.max")), "8388608");
        assert_eq!(read(&d.join("pids.max")), "10");
        assert_eq!(read(&d.join("cpu.weight")), "20");
    } else {
        assert_eq!(
            read(&v1_dir(&g, "memory").join("memory.limit_in_bytes")),
            "8388608"
        );
        assert_eq!(read(&v1_dir(&g, "pids").join("pids.max")), "10");
        assert_eq!(read(&v1_dir(&g, "cpu").join("cpu.shares")), "512");
        assert_eq!(
            read(&v1_dir(&g, "devices").join("devices.list")),
            "c 1:3 rwm"
        );
        // An update raising memory+swap (memsw must be raised before the limit).
        let memsw = v1_dir(&g, "memory").join("memory.memsw.limit_in_bytes");
        if memsw.exists() {
            let up: LinuxResources =
                serde_json::from_str(r#"{"memory": {"limit": 16777216, "swap": 33554432}}"#)
                    .unwrap();
            g.cg.apply(&up).expect("update memory");
            assert_eq!(read(&memsw), "33554432");
            let down: LinuxResources =
                serde_json::from_str(r#"{"memory": {"limit": 8388608, "swap": 8388608}}"#).unwrap();
            g.cg.apply(&down).expect("lower memory");
            assert_eq!(read(&memsw), "8388608");
            assert_eq!(
                read(&v1_dir(&g, "memory").join("memory.limit_in_bytes")),
                "8388608"
            );
        }
        assert!(read(&v1_dir(&g, "memory").join("cgroup.procs"))
            .lines()
            .any(|l| l == pid.to_string()));
    }
    if let Some(u) = g.cg.v2_dir() {
        assert!(read(&u.join("cgroup.procs"))
            .lines()
            .any(|l| l == pid.to_string()));
    }

    g.cg.freeze().expect("freeze");
    assert!(g.cg.is_frozen().unwrap());
    if layout != Layout::V2 {
        assert_eq!(read(&v1_dir(&g, "freezer").join("freezer.state")), "FROZEN");
    }
    g.cg.thaw().expect("thaw");
    assert!(!g.cg.is_frozen().unwrap());
    if layout != Layout::V2 {
        assert_eq!(read(&v1_dir(&g, "freezer").join("freezer.state")), "THAWED");
    }

    assert_eq!(g.cg.pids().unwrap(), vec![pid]);
    let stats = g.cg.stats().expect("stats");
    assert_eq!(stats["pids"]["current"], 1, "{stats}");
    assert_eq!(stats["memory"]["usage"]["limit"], 8388608, "{stats}");

    g.cg.kill_all(libc::SIGKILL).expect("kill_all");
    let status = g.child.take().unwrap().wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert!(g.cg.pids().unwrap().is_empty());

    g.cg.destroy().expect("destroy");
    assert_gone(&dirs);
}

#[test]
fn real_cgroup_invalid_value_is_reported_and_cleaned_up() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some((mut g, dirs)) = setup("bad") else {
        return;
    };
    g.cg.create().expect("create");
    let res: LinuxResources = serde_json::from_str(r#"{"cpu": {"cpus": "9999"}}"#).unwrap();
    let err =
        g.cg.apply(&res)
            .expect_err("cpuset.cpus 9999 must be rejected")
            .to_string();
    eprintln!("expected error: {err}");
    assert!(err.starts_with("write 9999 to /sys/fs/cgroup/"), "{err}");
    assert!(err.contains("/cpuset.cpus: "), "{err}");
    g.cg.destroy().expect("destroy");
    assert_gone(&dirs);
}
