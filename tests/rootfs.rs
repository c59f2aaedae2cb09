//! The container's root file system as a user sees it from inside: masked
//! and read-only paths, root.readonly, mounts (bind, rbind, tmpfs, files,
//! propagation, recursive attributes), devices, sysctl, --no-pivot,
//! rootfsPropagation, and mount destinations that try to leave the rootfs.

mod common;
use common::{unique, Env, Out};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A private, writable copy of the busybox rootfs in the test's dir.
fn rootfs_copy(e: &Env) -> PathBuf {
    let d = e.dir.join("rootfs");
    let st = Command::new("cp")
        .arg("-a")
        .arg(common::rootfs())
        .arg(&d)
        .status()
        .unwrap();
    assert!(st.success(), "cp -a rootfs");
    d
}

/// `sh -c script` in a fresh container with `edit` applied to its config.
fn sh(e: &Env, id: &str, script: &str, edit: impl FnOnce(&mut Value)) -> Out {
    let mut c = e.config(&["sh", "-c", script]);
    edit(&mut c);
    e.run(c, id)
}

fn add_mount(c: &mut Value, m: Value) {
    c["mounts"].as_array_mut().unwrap().push(m);
}

/// A host mount made by the test, unmounted (lazily) when dropped.
struct HostMount(PathBuf);

impl HostMount {
    fn new(args: &[&str], target: &Path) -> HostMount {
        let st = Command::new("mount")
            .args(args)
            .arg(target)
            .status()
            .unwrap();
        assert!(st.success(), "mount {args:?} {}", target.display());
        HostMount(target.to_path_buf())
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// The mountinfo line (inside the container) whose mount point is `mp`.
fn mountinfo_line<'a>(mountinfo: &'a str, mp: &str) -> &'a str {
    mountinfo
        .lines()
        .rfind(|l| l.split(' ').nth(4) == Some(mp))
        .unwrap_or_else(|| panic!("no mount at {mp} in:\n{mountinfo}"))
}

/// Optional fields (shared:N, master:N, ...) of a mountinfo line.
fn optional_fields(line: &str) -> Vec<&str> {
    line.split(' ').skip(6).take_while(|f| *f != "-").collect()
}

#[test]
fn masked_paths_are_unreadable_and_empty() {
    let e = Env::new("masked");
    let o = sh(
        &e,
        "m1",
        "echo keys=$(cat /proc/keys | wc -c); \
         echo timer=$(cat /proc/timer_list | wc -c); \
         echo fw=$(ls -A /sys/firmware | wc -l); \
         touch /sys/firmware/x 2>&1 || echo touch-failed",
        |_| {},
    );
    let out = o.ok();
    assert!(out.contains("keys=0\n"), "{out}");
    assert!(out.contains("timer=0\n"), "{out}");
    assert!(out.contains("fw=0\n"), "{out}");
    assert!(out.contains("touch-failed"), "{out}");
    // Without maskedPaths the same files have content.
    let o = sh(
        &e,
        "m2",
        "echo timer=$(cat /proc/timer_list | wc -c); echo fw=$(ls -A /sys/firmware | wc -l)",
        |c| c["linux"]["maskedPaths"] = json!([]),
    );
    let out = o.ok();
    assert!(!out.contains("timer=0\n"), "{out}");
    assert!(!out.contains("fw=0\n"), "{out}");
}

#[test]
fn readonly_paths_are_read_only() {
    let e = Env::new("ropaths");
    let o = sh(
        &e,
        "r1",
        "echo x > /proc/sys/kernel/domainname; echo 1 > /proc/irq/default_smp_affinity; \
         cat /proc/sys/kernel/domainname >/dev/null && echo readable; \
         grep ' /proc/sys ' /proc/self/mountinfo",
        |_| {},
    );
    assert_eq!(
        o.stderr.matches("Read-only file system").count(),
        2,
        "{}",
        o.stderr
    );
    assert!(o.stdout.starts_with("readable\n"), "{}", o.stdout);
    let line = o.stdout.lines().nth(1).unwrap_or_default();
    assert!(
        line.split(' ').nth(5).unwrap_or("").starts_with("ro"),
        "{}",
        o.stdout
    );
}

#[test]
fn root_readonly_true_and_false() {
    let e = Env::new("rootro");
    let o = sh(&e, "ro1", "touch /x", |_| {});
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("Read-only file system"), "{}", o.stderr);

    let copy = rootfs_copy(&e);
    let o = sh(&e, "ro2", "echo hi > /x && cat /x", |c| {
        c["root"] = json!({"path": copy, "readonly": false});
    });
    assert_eq!(o.ok(), "hi\n");
    assert_eq!(std::fs::read_to_string(copy.join("x")).unwrap(), "hi\n");
}

#[test]
fn bind_mounts_rw_ro_and_file() {
    let e = Env::new("bind");
    let copy = rootfs_copy(&e);
    let host = e.dir.join("hostdir");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("in"), "from host\n").unwrap();
    let file = e.dir.join("hostfile");
    std::fs::write(&file, "single file\n").unwrap();
    let o = sh(
        &e,
        "b1",
        "cat /mnt/rw/in; echo out > /mnt/rw/out; cat /mnt/ro/in; \
         touch /mnt/ro/nope 2>&1 || echo ro-refused; cat /etc/hostfile",
        |c| {
            c["root"]["path"] = json!(copy);
            add_mount(
                c,
                json!({"destination": "/mnt/rw", "type": "bind", "source": host, "options": ["bind"]}),
            );
            add_mount(
                c,
                json!({"destination": "/mnt/ro", "type": "bind", "source": host, "options": ["bind", "ro"]}),
            );
            add_mount(
                c,
                json!({"destination": "/etc/hostfile", "type": "bind", "source": file, "options": ["bind", "ro"]}),
            );
        },
    );
    let out = o.ok();
    assert_eq!(out.matches("from host\n").count(), 2, "{out}");
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(out.contains("ro-refused"), "{out}");
    assert!(out.contains("single file\n"), "{out}");
    assert_eq!(std::fs::read_to_string(host.join("out")).unwrap(), "out\n");
    assert!(!host.join("nope").exists());
    // The mount point of the file bind is a file in the rootfs.
    assert!(copy.join("etc/hostfile").is_file());
}

#[test]
fn rbind_takes_submounts_and_rro_makes_them_read_only() {
    let e = Env::new("rbind");
    let copy = rootfs_copy(&e);
    let host = e.dir.join("tree");
    std::fs::create_dir_all(host.join("sub")).unwrap();
    let _sub = HostMount::new(&["-t", "tmpfs", "tmpfs"], &host.join("sub"));
    std::fs::write(host.join("sub/marker"), "in submount\n").unwrap();
    let mount = |opts: Value| {
        let copy = copy.clone();
        let host = host.clone();
        move |c: &mut Value| {
            c["root"]["path"] = json!(copy);
            add_mount(
                c,
                json!({"destination": "/mnt/t", "type": "bind", "source": host, "options": opts}),
            );
        }
    };
    // A plain bind does not take the submount along; rbind does.
    let o = sh(&e, "rb1", "cat /mnt/t/sub/marker", mount(json!(["bind"])));
    assert_ne!(o.code, 0, "{}", o.stdout);
    let o = sh(
        &e,
        "rb2",
        "cat /mnt/t/sub/marker && touch /mnt/t/sub/w && echo wrote",
        mount(json!(["rbind"])),
    );
    assert_eq!(o.ok(), "in submount\nwrote\n");
    // rro: the submount is read-only as well.
    let o = sh(
        &e,
        "rb3",
        "cat /mnt/t/sub/marker; touch /mnt/t/sub/x 2>&1; touch /mnt/t/y 2>&1; true",
        mount(json!(["rbind", "rro"])),
    );
    let out = o.ok();
    assert!(out.starts_with("in submount\n"), "{out}");
    assert_eq!(out.matches("Read-only file system").count(), 2, "{out}");
    assert!(!host.join("sub/x").exists() && !host.join("y").exists());
}

#[test]
fn tmpfs_with_size_and_mode() {
    let e = Env::new("tmpfs");
    let copy = rootfs_copy(&e);
    let o = sh(
        &e,
        "t1",
        "stat -c %a /mnt/tmp; grep ' /mnt/tmp ' /proc/self/mountinfo; df -k /mnt/tmp | tail -1",
        |c| {
            c["root"]["path"] = json!(copy);
            add_mount(
                c,
                json!({"destination": "/mnt/tmp", "type": "tmpfs", "source": "tmpfs",
                       "options": ["nosuid", "nodev", "size=1m", "mode=710"]}),
            );
        },
    );
    let out = o.ok();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("710"), "{out}");
    let mi = lines.next().unwrap_or_default();
    assert!(mi.contains(" - tmpfs "), "{mi}");
    assert!(mi.contains("size=1024k"), "{mi}");
    assert!(mi.contains("mode=710"), "{mi}");
    let mount_opts = mi.split(' ').nth(5).unwrap();
    assert!(
        mount_opts.contains("nosuid") && mount_opts.contains("nodev"),
        "{mi}"
    );
    let df = lines.next().unwrap_or_default();
    assert_eq!(df.split_whitespace().nth(1), Some("1024"), "{df}");
}

#[test]
fn mount_propagation_options() {
    let e = Env::new("prop");
    let copy = rootfs_copy(&e);
    // A shared mount on the host, so that a slave of it has a master.
    let host = e.dir.join("shared");
    std::fs::create_dir(&host).unwrap();
    let _m = HostMount::new(&["-t", "tmpfs", "tmpfs"], &host);
    let st = Command::new("mount")
        .arg("--make-shared")
        .arg(&host)
        .status()
        .unwrap();
    assert!(st.success());
    let o = sh(&e, "p1", "cat /proc/self/mountinfo", |c| {
        c["root"]["path"] = json!(copy);
        for (d, p) in [
            ("/mnt/slave", "rslave"),
            ("/mnt/private", "rprivate"),
            ("/mnt/shared", "rshared"),
        ] {
            add_mount(
                c,
                json!({"destination": d, "type": "bind", "source": host, "options": ["rbind", p]}),
            );
        }
    });
    let mi = o.ok();
    let f = optional_fields(mountinfo_line(mi, "/mnt/slave"));
    assert!(f.len() == 1 && f[0].starts_with("master:"), "{f:?}\n{mi}");
    assert!(
        optional_fields(mountinfo_line(mi, "/mnt/private")).is_empty(),
        "{mi}"
    );
    let f = optional_fields(mountinfo_line(mi, "/mnt/shared"));
    assert!(f.iter().any(|x| x.starts_with("shared:")), "{f:?}\n{mi}");
}

#[test]
fn rootfs_propagation_private_and_shared() {
    let e = Env::new("rootprop");
    for (id, p, want) in [("rp1", "private", ""), ("rp2", "shared", "shared:")] {
        let o = sh(&e, id, "cat /proc/self/mountinfo", |c| {
            c["linux"]["rootfsPropagation"] = json!(p);
        });
        let mi = o.ok();
        let f = optional_fields(mountinfo_line(mi, "/"));
        if want.is_empty() {
            assert!(f.is_empty(), "{p}: {f:?}\n{mi}");
        } else {
            assert!(f.iter().any(|x| x.starts_with(want)), "{p}: {f:?}\n{mi}");
        }
    }
}

#[test]
fn default_devices_and_links() {
    let e = Env::new("devs");
    let o = sh(
        &e,
        "d1",
        "for d in null zero full random urandom tty; do echo $d $(stat -c '%t:%T %a %F' /dev/$d); done; \
         for l in fd stdin stdout stderr ptmx; do echo $l $(readlink /dev/$l); done; \
         head -c 3 /dev/zero | wc -c; ls /dev/fd/ >/dev/null && echo fd-ok",
        |_| {},
    );
    let out = o.ok();
    for want in [
        "null 1:3 666 character special file",
        "zero 1:5 666 character special file",
        "full 1:7 666 character special file",
        "random 1:8 666 character special file",
        "urandom 1:9 666 character special file",
        "tty 5:0 666 character special file",
        "fd /proc/self/fd",
        "stdin /proc/self/fd/0",
        "stdout /proc/self/fd/1",
        "stderr /proc/self/fd/2",
        "ptmx pts/ptmx",
        "3",
        "fd-ok",
    ] {
        assert!(
            out.lines().any(|l| l == want),
            "missing {want:?} in:\n{out}"
        );
    }
}

#[test]
fn linux_devices_entry_has_mode_owner_and_works() {
    let e = Env::new("ldev");
    let o = sh(
        &e,
        "ld1",
        "stat -c '%t:%T %a %u %g %F' /dev/husk-test; head -c 5 /dev/husk-test | wc -c",
        |c| {
            c["process"]["user"] = json!({"uid": 1, "gid": 1});
            c["linux"]["devices"] = json!([{
                "path": "/dev/husk-test", "type": "c", "major": 1, "minor": 5,
                "fileMode": 0o600, "uid": 1, "gid": 1
            }]);
            c["linux"]["resources"]["devices"]
                .as_array_mut()
                .unwrap()
                .push(json!({"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"}));
        },
    );
    assert_eq!(o.ok(), "1:5 600 1 1 character special file\n5\n");
}

#[test]
fn sysctl_in_a_new_net_namespace() {
    let e = Env::new("sysctl");
    let o = sh(&e, "s1", "cat /proc/sys/net/ipv4/ip_forward", |c| {
        c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    });
    assert_eq!(o.ok(), "1\n");
    // Without it, a new net namespace has the host's (untouched) value.
    let host = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let o = sh(&e, "s2", "cat /proc/sys/net/ipv4/ip_forward", |_| {});
    assert_eq!(o.ok(), host);
}

#[test]
fn no_pivot_runs_in_the_rootfs() {
    let e = Env::new("nopivot");
    let c = e.config(&[
        "sh",
        "-c",
        "ls /bin/busybox && test ! -e /work && test ! -e /usr && echo in-rootfs",
    ]);
    e.write(c, "np1");
    let b = e.bundle();
    let o = e.husk(&["run", "--no-pivot", "--bundle", b.to_str().unwrap(), "np1"]);
    assert_eq!(o.ok(), "/bin/busybox\nin-rootfs\n");
}

#[test]
fn symlinked_mount_destination_stays_in_the_rootfs() {
    let e = Env::new("symlink");
    let copy = rootfs_copy(&e);
    let name = unique("husk-evil");
    let hostdir = PathBuf::from("/tmp").join(&name);
    std::fs::create_dir(&hostdir).unwrap();
    struct Rm(PathBuf);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _rm = Rm(hostdir.clone());
    std::fs::write(hostdir.join("marker"), "host\n").unwrap();
    std::os::unix::fs::symlink(&hostdir, copy.join("etc/evil")).unwrap();
    let dotdot = format!("/../../../../../tmp/{name}-dots");
    let o = sh(
        &e,
        "sy1",
        &format!(
            "touch /etc/evil/pwned && ls -A /etc/evil && touch /tmp/{name}-dots/pwned2 && echo ok"
        ),
        |c| {
            c["root"]["path"] = json!(copy);
            add_mount(
                c,
                json!({"destination": "/etc/evil", "type": "tmpfs", "source": "tmpfs"}),
            );
            add_mount(
                c,
                json!({"destination": dotdot, "type": "tmpfs", "source": "tmpfs"}),
            );
        },
    );
    // The tmpfs is at the link's target inside the rootfs: empty, writable.
    assert_eq!(o.ok(), "pwned\nok\n");
    let host: Vec<_> = std::fs::read_dir(&hostdir)
        .unwrap()
        .map(|d| d.unwrap().file_name())
        .collect();
    assert_eq!(host, vec![std::ffi::OsString::from("marker")]);
    assert!(copy.join("tmp").join(&name).is_dir());
    assert!(copy.join("tmp").join(format!("{name}-dots")).is_dir());
    assert!(!PathBuf::from(format!("/tmp/{name}-dots")).exists());
}

#[test]
fn mount_inside_proc_outside_the_allow_list_is_refused() {
    let e = Env::new("procmnt");
    let o = sh(&e, "pm1", "true", |c| {
        add_mount(
            c,
            json!({"destination": "/proc/self/attr", "type": "tmpfs", "source": "tmpfs"}),
        );
    });
    assert_ne!(o.code, 0);
    let n = c_mounts_len(&e) - 1;
    assert!(o.stderr.contains(&format!("mounts[{n}]")), "{}", o.stderr);
    assert!(!e.root.join("pm1").exists());
    // An allowed one (as lxcfs does) works.
    let file = e.dir.join("fake-uptime");
    std::fs::write(&file, "1.00 2.00\n").unwrap();
    let o = sh(&e, "pm2", "cat /proc/uptime", |c| {
        add_mount(
            c,
            json!({"destination": "/proc/uptime", "type": "bind", "source": file, "options": ["bind", "ro"]}),
        );
    });
    assert_eq!(o.ok(), "1.00 2.00\n");
}

/// The number of mounts in the config last written for this Env.
fn c_mounts_len(e: &Env) -> usize {
    let c: Value =
        serde_json::from_slice(&std::fs::read(e.bundle().join("config.json")).unwrap()).unwrap();
    c["mounts"].as_array().unwrap().len()
}
