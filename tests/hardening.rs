//! A hardened launch: no descriptor leaks into the container, and the known
//! runc escapes (CVE-2024-21626, CVE-2021-30465, CVE-2019-16884/19921,
//! CVE-2019-5736) do not work against husk.

mod common;
use common::{husk_bin, rootfs, unique, Env, Out};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Run `husk ARGS` from `sh -c 'SETUP; exec husk ARGS'`, so that the
/// caller's descriptors opened by SETUP are inherited by husk.
fn husk_via_sh(e: &Env, husk: &Path, setup: &str, args: &[&str]) -> Out {
    husk_via_sh_to(e, husk, setup, args, &unique("sh"))
}

/// Like [`husk_via_sh`], with stdout in `DIR/NAME.out` (kept afterwards).
fn husk_via_sh_to(e: &Env, husk: &Path, setup: &str, args: &[&str], n: &str) -> Out {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!("{setup}; exec \"$0\" \"$@\""))
        .arg(husk)
        .arg("--root")
        .arg(&e.root)
        .args(args)
        .current_dir(e.bundle());
    e.output(&mut c, Some(n))
}

/// The fd numbers `probe fds` listed, with their targets.
fn fds(out: &str) -> Vec<(u32, String)> {
    let mut v: Vec<(u32, String)> = out
        .lines()
        .filter_map(|l| l.strip_prefix("fd."))
        .filter_map(|l| l.split_once('='))
        .map(|(n, t)| (n.parse().unwrap(), t.to_string()))
        .collect();
    v.sort();
    v
}

fn numbers(v: &[(u32, String)]) -> Vec<u32> {
    v.iter().map(|x| x.0).collect()
}

// --------------------------------------------------------- descriptor leaks

#[test]
fn no_descriptor_leaks_into_the_container() {
    let e = Env::new("fds");
    let b = e.bundle();
    let b = b.to_str().unwrap();
    let log = e.dir.join("husk.log");
    let log = log.to_str().unwrap();
    e.write(e.config(&["/bin/probe", "fds"]), "c");

    // run: only stdio, whatever the caller had open.
    let o = husk_via_sh(
        &e,
        Path::new(husk_bin()),
        "exec 5</etc/hostname 7</etc/passwd",
        &["--log", log, "run", "--bundle", b, "c"],
    );
    assert_eq!(numbers(&fds(o.ok())), [0, 1, 2], "{}", o.stdout);

    // --preserve-fds 1: fd 3 too (the caller's), still not 5 and 7.
    let o = husk_via_sh(
        &e,
        Path::new(husk_bin()),
        "exec 3</etc/hostname 5</etc/passwd 7</etc/passwd",
        &["run", "--preserve-fds", "1", "--bundle", b, "c"],
    );
    let f = fds(o.ok());
    assert_eq!(numbers(&f), [0, 1, 2, 3], "{}", o.stdout);
    assert_eq!(f[3].1, "/etc/hostname");

    // --preserve-fds 2 when the caller has no fd 4: none of husk's own
    // descriptors may take its place.
    let o = husk_via_sh(
        &e,
        Path::new(husk_bin()),
        "exec 3</etc/hostname",
        &[
            "--log",
            log,
            "run",
            "--preserve-fds",
            "2",
            "--bundle",
            b,
            "c",
        ],
    );
    assert_eq!(numbers(&fds(o.ok())), [0, 1, 2, 3], "{}", o.stdout);

    // create + start: the same (exec.fifo, the state dir, the socket).
    let o = husk_via_sh_to(
        &e,
        Path::new(husk_bin()),
        "exec 5</etc/hostname 7</etc/passwd",
        &["--log", log, "create", "--bundle", b, "c2"],
        "c2",
    );
    o.ok();
    // The container's stdout is create's: read it after start.
    e.husk(&["start", "c2"]).ok();
    let t = std::time::Instant::now();
    while e.status("c2") != "stopped" {
        assert!(t.elapsed().as_secs() < 20);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(e.dir.join("c2.out")).unwrap();
    assert_eq!(numbers(&fds(&text)), [0, 1, 2], "{text}");
}

// ------------------------------------------------------------ CVE-2024-21626

#[test]
fn cwd_through_proc_self_fd_stays_inside() {
    let e = Env::new("cwd-fd");
    let host = e.dir.join("hostdir");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("HOST_MARKER"), "host").unwrap();
    let setup = format!("exec 5<{h} 6<{h} 8</ 9<{h}", h = host.to_str().unwrap());
    let b = e.bundle();
    let b = b.to_str().unwrap();
    for n in 3..=10 {
        let mut c = e.config(&["sh", "-c", "pwd; ls -a; ls -a .."]);
        c["process"]["cwd"] = json!(format!("/proc/self/fd/{n}"));
        e.write(c, "c");
        for create in [false, true] {
            let o = if create {
                let name = unique("cwd");
                let mut o = husk_via_sh_to(
                    &e,
                    Path::new(husk_bin()),
                    &setup,
                    &["create", "--bundle", b, "c"],
                    &name,
                );
                if o.code == 0 {
                    e.husk(&["start", "c"]).ok();
                    let t = std::time::Instant::now();
                    while e.status("c") != "stopped" {
                        assert!(t.elapsed().as_secs() < 20);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                    e.husk(&["delete", "c"]).ok();
                    o.stdout = std::fs::read_to_string(e.dir.join(format!("{name}.out"))).unwrap();
                }
                o
            } else {
                husk_via_sh(
                    &e,
                    Path::new(husk_bin()),
                    &setup,
                    &["run", "--bundle", b, "c"],
                )
            };
            // The caller's host directories: the container must not start.
            if [5, 6, 9].contains(&n) {
                assert_ne!(o.code, 0, "fd {n}: started in a host directory");
            }
            let all = format!("{}{}", o.stdout, o.stderr);
            assert!(
                !all.contains("HOST_MARKER"),
                "fd {n}: host dir visible: {all}"
            );
            assert!(!all.contains("bundle"), "fd {n}: test dir visible: {all}");
            if o.code != 0 {
                assert!(o.stderr.contains("process.cwd"), "fd {n}: {}", o.stderr);
            } else {
                assert!(o.stdout.starts_with('/'), "fd {n}: {}", o.stdout);
            }
            assert!(!e.root.join("c").exists(), "fd {n}: state left behind");
        }
    }
}

// ------------------------------------------------------------ CVE-2021-30465

/// A private writable copy of the test rootfs.
fn copy_rootfs(e: &Env) -> PathBuf {
    let r = e.dir.join("rootfs");
    let st = Command::new("cp")
        .arg("-a")
        .arg(rootfs())
        .arg(&r)
        .status()
        .unwrap();
    assert!(st.success());
    r
}

#[test]
fn symlinked_mount_destination_resolves_inside_the_rootfs() {
    let e = Env::new("symlink-dest");
    let r = copy_rootfs(&e);
    let name = unique("husk-hostdir");
    let host_dir = PathBuf::from("/tmp").join(&name);
    struct Rm(PathBuf);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _rm = Rm(host_dir.clone());
    std::os::unix::fs::symlink(&host_dir, r.join("evil")).unwrap();
    std::os::unix::fs::symlink(
        format!("../../../../../../../tmp/{name}-rel"),
        r.join("evil2"),
    )
    .unwrap();
    let src = e.dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let mut c = e.config(&[
        "sh",
        "-c",
        "echo in > /evil/x && echo in2 > /evil2/y && ls /evil /evil2 /tmp",
    ]);
    c["root"] = json!({"path": r, "readonly": false});
    c["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/evil", "type": "tmpfs", "source": "tmpfs"}));
    c["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/evil2", "type": "bind", "source": src, "options": ["rbind"]}),
    );
    let o = e.run(c, "c");
    let out = o.ok();
    assert!(out.contains(&name), "{out}");
    assert!(
        !host_dir.exists(),
        "the mount point was created on the host"
    );
    assert!(!PathBuf::from(format!("/tmp/{name}-rel")).exists());
    // The mount points were made inside the rootfs, the bind is the source.
    assert!(r.join("tmp").join(&name).is_dir());
    assert!(r.join("tmp").join(format!("{name}-rel")).is_dir());
    assert_eq!(std::fs::read_to_string(src.join("y")).unwrap(), "in2\n");
}

// ------------------------------------------------------- CVE-2019-16884/19921

#[test]
fn mounts_over_proc_are_refused() {
    let e = Env::new("proc-mounts");
    let b = e.bundle();
    let b = b.to_str().unwrap();
    for dest in [
        "/proc/self/attr",
        "/proc/sys/kernel",
        "/proc/1/attr/exec",
        "/proc/../proc/sys",
    ] {
        let mut c = e.config(&["true"]);
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.push(json!({"destination": dest, "type": "tmpfs", "source": "tmpfs"}));
        let i = mounts.len() - 1;
        e.write(c, "c");
        let o = e.husk(&["create", "--bundle", b, "c"]);
        assert_ne!(o.code, 0, "{dest}");
        assert!(
            o.stderr.contains(&format!("mounts[{i}]")),
            "{dest}: {}",
            o.stderr
        );
        assert!(!e.root.join("c").exists());
    }
    // The same through a symlink in the rootfs that leads into /proc.
    let r = copy_rootfs(&e);
    std::os::unix::fs::symlink("/proc", r.join("myproc")).unwrap();
    std::os::unix::fs::symlink("proc/self", r.join("myself")).unwrap();
    for dest in ["/myproc/sys/kernel", "/myself/attr"] {
        let mut c = e.config(&["true"]);
        c["root"] = json!({"path": r, "readonly": false});
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.push(json!({"destination": dest, "type": "tmpfs", "source": "tmpfs"}));
        let i = mounts.len() - 1;
        e.write(c, "c");
        let o = e.husk(&["create", "--bundle", b, "c"]);
        assert_ne!(o.code, 0, "{dest} was mounted over");
        assert!(
            o.stderr.contains(&format!("mounts[{i}]")),
            "{dest}: {}",
            o.stderr
        );
        assert!(!e.root.join("c").exists());
    }
    // The few files runc allows (lxcfs-style) still work.
    let fake = e.dir.join("meminfo");
    std::fs::write(&fake, "MemTotal: 42 kB\n").unwrap();
    let mut c = e.config(&["cat", "/proc/meminfo"]);
    c["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/proc/meminfo", "type": "bind", "source": fake, "options": ["bind", "ro"]}),
    );
    assert_eq!(e.run(c, "c").ok(), "MemTotal: 42 kB\n");
}

#[test]
fn masked_paths_stay_masked() {
    let e = Env::new("masked");
    let script = "wc -c < /proc/timer_list; wc -c < /proc/keys; \
                  umount /proc/timer_list 2>/dev/null && echo unmounted; \
                  umount -l /proc/keys 2>/dev/null && echo unmounted; \
                  wc -c < /proc/timer_list; wc -c < /proc/keys";
    let o = e.run(e.config(&["sh", "-c", script]), "c");
    assert_eq!(o.ok(), "0\n0\n0\n0\n", "{}", o.stderr);
    // Negative control: unmasked, the same files have content here.
    let mut c = e.config(&["sh", "-c", "wc -c < /proc/timer_list"]);
    c["linux"]["maskedPaths"] = json!([]);
    let o = e.run(c, "c");
    assert_ne!(o.ok(), "0\n");
}

// ------------------------------------------------------------- CVE-2019-5736

/// Container A's program: watch every process of the pid namespace and,
/// for any named husk, try to write its /proc/PID/exe directly, to hold it
/// open for reading (and write through that later, when husk has gone and
/// the binary is no longer busy). Every success is logged.
const ATTACK: &str = r#"
log=/tmp/log
echo start >> $log
held=
last=
while :; do
  [ -e /tmp/done ] && last=1
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [ "$p" = "$$" ] && continue
    c=
    read c < $d/comm 2>/dev/null
    [ "$c" = husk ] || continue
    echo "saw $p" >> $log
    if (echo x >> $d/exe) 2>/dev/null; then echo "WROTE $p/exe" >> $log; fi
    # (the process may have exec'd its program meanwhile: only husk counts)
    if command exec 8< $d/exe 2>/dev/null; then
      case $(readlink /proc/$$/fd/8) in
        */husk) echo "OPENED $p/exe" >> $log; held=1; exec 9<&8;;
      esac
      exec 8<&-
    fi
  done
  if [ -n "$held" ]; then
    (echo x >> /proc/$$/fd/9) 2>/dev/null && echo "WROTE through fd" >> $log
  fi
  [ -n "$last" ] && break
done
echo end >> $log
"#;

fn sha(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

/// Runs container B in A's pid (and, with `userns`, user) namespace while
/// A attacks, then checks that A got nowhere.
fn exe_attack(userns: bool) {
    let e = Env::new(if userns { "exe-userns" } else { "exe" });
    // The runtime under attack is a copy, writable by anyone: only husk's
    // own protection stands between the container and the binary.
    let bin = e.dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let husk = bin.join("husk");
    std::fs::copy(husk_bin(), &husk).unwrap();
    std::fs::set_permissions(&husk, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let before = sha(&husk);
    let out = e.dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::set_permissions(&out, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let husk_cmd = |args: &[&str]| -> Out {
        let mut c = Command::new(&husk);
        c.arg("--root")
            .arg(&e.root)
            .args(args)
            .current_dir(e.bundle());
        e.output(&mut c, None)
    };
    let b = e.bundle();
    let b = b.to_str().unwrap().to_string();

    // A: the attacker, with every capability (CAP_SYS_PTRACE included)
    // in its own user namespace, or the default ones without one.
    let mut a: Value = e.config(&["sh", "-c", ATTACK]);
    a["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/tmp", "type": "bind", "source": out, "options": ["rbind"]}));
    if userns {
        let caps = json!(husk::features_caps());
        a["process"]["capabilities"] = json!({"bounding": caps, "effective": caps,
            "permitted": caps, "inheritable": caps, "ambient": caps});
        a["process"]["noNewPrivileges"] = json!(false);
        a["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        a["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        a["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        // sysfs and cgroup mounts need more than a nested user namespace has.
        a["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["type"] != "sysfs" && m["type"] != "cgroup");
    }
    e.write(a, "a");
    husk_cmd(&["run", "-d", "--bundle", &b, "a"]).ok();
    let log = out.join("log");
    let wait_for = |what: &str| {
        let t = std::time::Instant::now();
        loop {
            let s = std::fs::read_to_string(&log).unwrap_or_default();
            if s.lines().any(|l| l == what) {
                return s;
            }
            assert!(t.elapsed().as_secs() < 30, "A never logged {what:?}: {s}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    wait_for("start");
    let apid = e.state("a")["pid"].as_i64().unwrap();

    // B: joins A's pid namespace; its createRuntime hook holds the husk
    // child inside that namespace for a second.
    let mut bc = e.config(&["true"]);
    let mut ns = vec![json!({"type": "pid", "path": format!("/proc/{apid}/ns/pid")})];
    if userns {
        ns.push(json!({"type": "user", "path": format!("/proc/{apid}/ns/user")}));
        bc["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["type"] != "sysfs" && m["type"] != "cgroup");
    }
    for t in ["network", "ipc", "uts", "mount"] {
        ns.push(json!({"type": t}));
    }
    bc["linux"]["namespaces"] = json!(ns);
    bc["hooks"] = json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "1"]}]});
    e.write(bc, "b");
    let o = husk_cmd(&["run", "--bundle", &b, "b"]);
    std::fs::write(out.join("done"), "").unwrap();
    let s = wait_for("end");
    o.ok();
    // The window was there (A saw a husk process), and A got nowhere.
    assert!(s.lines().any(|l| l.starts_with("saw ")), "{s}");
    assert!(!s.contains("OPENED") && !s.contains("WROTE"), "{s}");
    assert!(sha(&husk) == before, "the husk binary was modified");
}

/// husk's init is non-dumpable until execve; the container's program is
/// dumpable as usual (debuggers and core dumps work in the container).
#[test]
fn container_program_is_dumpable() {
    let e = Env::new("dumpable");
    for uid in [0, 1000] {
        let mut c = e.config(&["/bin/probe", "dumpable"]);
        c["process"]["user"] = json!({"uid": uid, "gid": uid});
        assert_eq!(e.run(c, "c").ok(), "dumpable=1\n", "uid {uid}");
    }
}

/// A has the same capabilities as B's init once that has applied them: the
/// uid and capability checks of /proc/PID/exe pass, only husk making its
/// init non-dumpable keeps A out (without it, A opens the binary and
/// writes it once husk has exited).
#[test]
fn husk_binary_safe_from_a_pid_namespace_neighbour() {
    exe_attack(false);
}

/// A holds every capability, CAP_SYS_PTRACE included, in its own user
/// namespace, which B joins too: still no access to husk's image. (A
/// container with CAP_SYS_PTRACE in the host user namespace could ptrace
/// any process it sees; sharing its pid namespace is not safe with any
/// runtime.)
#[test]
fn husk_binary_safe_from_a_user_and_pid_namespace_neighbour_with_cap_sys_ptrace() {
    exe_attack(true);
}
