//! The cgroup v2 implementation for real, on this host's unified hierarchy
//! (/sys/fs/cgroup/unified, which has the hugetlb controller): placement,
//! hugetlb limits, freeze/thaw, listing, cgroup.kill, stats and removal.
//! The module is pointed at that mount as if it were a pure v2 host; the
//! device-rule test also runs husk itself in a mount namespace whose only
//! cgroup mount is that hierarchy.

mod common;
use common::read;

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

/// Cgroup `/NAME/c` on the host's cgroup2 mount (seen as a pure v2 host),
/// not created yet; the guard removes it. Also the `/NAME` and `/NAME/c`
/// directories.
fn guard(name: &str) -> (Guard, PathBuf, PathBuf) {
    let mountinfo = "1 0 0:99 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n";
    let cg = cgroup::open_at(
        Path::new(UNIFIED),
        "0::/\n",
        mountinfo,
        &format!("/{name}/c"),
        "c",
    )
    .unwrap();
    let top = Path::new(UNIFIED).join(name);
    let dir = top.join("c");
    let g = Guard {
        cg,
        child: None,
        top: top.clone(),
    };
    (g, top, dir)
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
    let (mut g, top, dir) = guard(&name);
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
    assert!(read(Path::new(&format!("/proc/{pid}/cgroup"))).contains(&format!("0::/{name}/c")));
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

/// linux.resources.devices on cgroup v2: the rules become an eBPF device
/// program attached to the directory, a second apply replaces it, and a
/// process inside can use only what the rules allow.
#[test]
fn v2_device_rules_as_ebpf() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::Stdio;

    assert!(nix::unistd::geteuid().is_root(), "needs root");
    let name = format!("husk-v2-dev-test-{}", std::process::id());
    let (mut g, top, dir) = guard(&name);
    g.cg.create().unwrap();
    assert!(cgroup::devbpf::attached_programs(&dir).unwrap().is_empty());

    let devices = |extra: serde_json::Value| -> LinuxResources {
        let mut d = serde_json::json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "r"}
        ]);
        if !extra.is_null() {
            d.as_array_mut().unwrap().push(extra);
        }
        serde_json::from_value(serde_json::json!({ "devices": d })).unwrap()
    };
    // First another rule set (with a partial-access deny rule), then the real
    // one: the second apply (an update) replaces the first program.
    g.cg.apply(&devices(
        serde_json::json!({"allow": false, "type": "c", "major": 1, "minor": 7, "access": "w"}),
    ))
    .unwrap();
    let first = cgroup::devbpf::attached_programs(&dir).unwrap();
    assert_eq!(first.len(), 1, "{first:?}");
    g.cg.apply(&devices(serde_json::Value::Null)).unwrap();
    let second = cgroup::devbpf::attached_programs(&dir).unwrap();
    assert_eq!(second.len(), 1, "{second:?}");
    assert_ne!(first, second);
    // Resources without device rules leave the filter alone.
    g.cg.apply(&LinuxResources::default()).unwrap();
    assert_eq!(cgroup::devbpf::attached_programs(&dir).unwrap(), second);

    let mut child = Command::new("sh")
        .arg("-c")
        .arg(
            "echo ready; read x; \
             head -c1 /dev/zero >/dev/null && echo zero-ok; \
             head -c1 /dev/urandom >/dev/null && echo urandom-ok; \
             echo x > /dev/zero && echo zero-write-ok; \
             echo done",
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut stderr = child.stderr.take().unwrap();
    g.child = Some(child);
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    g.cg.add_task(pid).unwrap();
    assert!(pid_in(g.cg.as_ref(), pid));
    stdin.write_all(b"go\n").unwrap();
    drop(stdin);
    let mut out = String::new();
    stdout.read_to_string(&mut out).unwrap();
    let mut err = String::new();
    stderr.read_to_string(&mut err).unwrap();
    let status = g.child.take().unwrap().wait().unwrap();
    assert!(status.success(), "{status:?} {out:?} {err:?}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, ["zero-ok", "done"], "stderr: {err}");
    assert!(err.contains("Operation not permitted"), "{err}");

    g.cg.destroy().unwrap();
    assert!(!top.exists(), "{} left behind", top.display());
}

/// The same through husk: in a private mount namespace whose /sys/fs/cgroup
/// is only the cgroup2 hierarchy (a pure v2 host), a container's device
/// rules are enforced by the eBPF program.
#[test]
fn husk_run_on_a_pure_v2_host_enforces_device_rules() {
    let e = common::Env::new("v2dev");
    let mut c = e.config(&[
        "sh",
        "-c",
        "mknod /dev/loop9 b 7 0 && echo mknod-ok; \\
         (exec 3</dev/loop9) && echo loop-read-ok; \\
         mknod /dev/tun1 c 10 200 && (exec 3</dev/tun1) && echo tun-read-ok; \\
         (exec 3>/dev/tun1) && echo tun-write-ok; \\
         head -c1 /dev/zero >/dev/null && echo zero-ok; echo done",
    ]);
    for set in ["bounding", "effective", "permitted"] {
        c["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push("CAP_MKNOD".into());
    }
    c["linux"]["resources"]["devices"] = serde_json::json!([
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 10, "minor": 200, "access": "r"}
    ]);
    e.write(c, "d1");
    let script = "umount -R /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && \
                  test $(grep -c ' /sys/fs/cgroup' /proc/self/mountinfo) = 1 && \
                  exec \"$0\" --root \"$1\" run --bundle \"$2\" d1";
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script])
        .arg(common::husk_bin())
        .arg(&e.root)
        .arg(e.bundle())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout} {stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    // mknod of any device is among the default rules; opening a loop device
    // is not, and 10:200 may be opened for reading only.
    assert_eq!(
        lines,
        ["mknod-ok", "tun-read-ok", "zero-ok", "done"],
        "stderr: {stderr}"
    );
    assert!(stderr.contains("Operation not permitted"), "{stderr}");
    assert!(
        e.cgroup_leftovers().is_empty(),
        "{:?}",
        e.cgroup_leftovers()
    );
}
