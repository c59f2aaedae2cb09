//! Confinement of the container's process through the CLI: capabilities,
//! seccomp (including the notify listener and the compiled-filter cache),
//! no_new_privs, personality, scheduler, I/O priority, CPU affinity, memory
//! policy and LSM labels, each checked with the probe inside the container.

mod common;
use common::{kv, Env};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const CAP_CHOWN: u32 = 0;
const CAP_KILL: u32 = 5;
const CAP_NET_RAW: u32 = 13;

fn mask(caps: &[u32]) -> String {
    format!("{:016x}", caps.iter().fold(0u64, |m, c| m | 1 << c))
}

/// The `errno=` values the probe printed, in order.
fn errnos(s: &str) -> Vec<i32> {
    s.lines()
        .filter_map(|l| l.strip_prefix("errno="))
        .map(|v| v.parse().unwrap())
        .collect()
}

fn probe(args: &str) -> Vec<String> {
    std::iter::once("/bin/probe".to_string())
        .chain(args.split_whitespace().map(String::from))
        .collect()
}

fn config(e: &Env, args: &str) -> Value {
    let a = probe(args);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    e.config(&a)
}

/// `husk create` of `c` as `id`, expected to fail: returns its stderr and
/// checks that nothing is left behind (state dir, cgroups).
fn create_fails(e: &Env, c: Value, id: &str) -> String {
    e.write(c, id);
    let b = e.bundle();
    let o = e.husk(&["create", "--bundle", b.to_str().unwrap(), id]);
    assert_ne!(o.code, 0, "create must fail: {:?}", o.stdout);
    assert!(!e.root.join(id).exists(), "state dir left behind");
    assert!(e.husk(&["state", id]).code != 0);
    for p in e.cgroup_leftovers() {
        assert!(
            !p.join(id).exists(),
            "cgroup {} left behind",
            p.join(id).display()
        );
    }
    o.stderr
}

// ---------------------------------------------------------------- capabilities

fn caps_config(e: &Env, uid: u32) -> Value {
    let mut c = config(e, "caps -- ids");
    c["process"]["user"] = json!({"uid": uid, "gid": uid});
    c["process"]["capabilities"] = json!({
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
        "effective": ["CAP_KILL"],
        "permitted": ["CAP_KILL"],
        "inheritable": ["CAP_KILL"],
        "ambient": ["CAP_KILL"],
    });
    c
}

#[test]
fn capabilities_as_root() {
    let e = Env::new("caps-root");
    // noNewPrivileges (the default): execve as root gains nothing beyond
    // the configured permitted set, so effective/permitted are as configured.
    let o = e.run(caps_config(&e, 0), "c");
    let k = kv(o.ok());
    assert_eq!(k["uid"], "0");
    assert_eq!(k["bnd"], mask(&[CAP_CHOWN, CAP_KILL, CAP_NET_RAW]));
    assert_eq!(k["inh"], mask(&[CAP_KILL]));
    assert_eq!(k["amb"], mask(&[CAP_KILL]));
    assert_eq!(k["prm"], mask(&[CAP_KILL]));
    assert_eq!(k["eff"], mask(&[CAP_KILL]));

    // Without it, execve as uid 0 gives permitted = effective = bounding.
    let mut c = caps_config(&e, 0);
    c["process"]["noNewPrivileges"] = json!(false);
    let k = kv(e.run(c, "c2").ok());
    assert_eq!(k["bnd"], mask(&[CAP_CHOWN, CAP_KILL, CAP_NET_RAW]));
    assert_eq!(k["inh"], mask(&[CAP_KILL]));
    assert_eq!(k["amb"], mask(&[CAP_KILL]));
    assert_eq!(k["prm"], mask(&[CAP_CHOWN, CAP_KILL, CAP_NET_RAW]));
    assert_eq!(k["eff"], mask(&[CAP_CHOWN, CAP_KILL, CAP_NET_RAW]));
}

#[test]
fn capabilities_kept_across_uid_change_by_ambient() {
    let e = Env::new("caps-1000");
    let o = e.run(caps_config(&e, 1000), "c");
    let k = kv(o.ok());
    assert_eq!((k["uid"].as_str(), k["euid"].as_str()), ("1000", "1000"));
    assert_eq!(k["bnd"], mask(&[CAP_CHOWN, CAP_KILL, CAP_NET_RAW]));
    assert_eq!(k["inh"], mask(&[CAP_KILL]));
    assert_eq!(k["amb"], mask(&[CAP_KILL]));
    assert_eq!(k["prm"], mask(&[CAP_KILL]));
    assert_eq!(k["eff"], mask(&[CAP_KILL]));

    // Without ambient, a non-root process keeps nothing across execve.
    let mut c = caps_config(&e, 1000);
    c["process"]["capabilities"]
        .as_object_mut()
        .unwrap()
        .remove("ambient");
    let k = kv(e.run(c, "c2").ok());
    assert_eq!(k["amb"], mask(&[]));
    assert_eq!(k["prm"], mask(&[]));
    assert_eq!(k["eff"], mask(&[]));
    assert_eq!(k["inh"], mask(&[CAP_KILL]));
}

#[test]
fn unknown_capability_is_warned_about_and_skipped() {
    let e = Env::new("caps-unknown");
    let mut c = caps_config(&e, 0);
    c["process"]["capabilities"]["bounding"] = json!(["CAP_KILL", "CAP_NOT_REAL", "CAP_CHOWN"]);
    let o = e.run(c.clone(), "c");
    let k = kv(o.ok());
    assert_eq!(k["bnd"], mask(&[CAP_CHOWN, CAP_KILL]));
    assert!(
        o.stderr.contains("CAP_NOT_REAL") && o.stderr.contains("warning"),
        "{}",
        o.stderr
    );

    // With --log, the warning goes to the log file.
    let log = e.dir.join("husk.log");
    e.write(c, "c2");
    let b = e.bundle();
    let o = e.husk(&[
        "--log",
        log.to_str().unwrap(),
        "run",
        "--bundle",
        b.to_str().unwrap(),
        "c2",
    ]);
    assert_eq!(kv(o.ok())["bnd"], mask(&[CAP_CHOWN, CAP_KILL]));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("CAP_NOT_REAL") && text.contains("process.capabilities.bounding[1]"),
        "{text}"
    );
}

#[test]
fn malformed_capability_fails_create() {
    let e = Env::new("caps-bad");
    for set in [
        "bounding",
        "effective",
        "permitted",
        "inheritable",
        "ambient",
    ] {
        let mut c = caps_config(&e, 0);
        c["process"]["capabilities"][set] = json!(["CAP_KILL", "kill"]);
        let err = create_fails(&e, c, "c");
        assert!(
            err.contains(&format!("process.capabilities.{set}[1]")),
            "{set}: {err}"
        );
    }
}

// -------------------------------------------------------------------- seccomp

fn with_seccomp(mut c: Value, s: Value) -> Value {
    c["linux"]["seccomp"] = s;
    c
}

/// The allow-list fixture (defaultAction SCMP_ACT_ERRNO, three x86 arches).
fn large_profile() -> Value {
    serde_json::from_str(include_str!("fixtures/seccomp-large.json")).unwrap()
}

#[test]
fn allow_list_profile_runs_busybox() {
    let e = Env::new("sc-allow");
    let c = with_seccomp(
        e.config(&[
            "sh",
            "-c",
            "echo hello; ls /bin/probe; cat /etc/passwd | wc -l",
        ]),
        large_profile(),
    );
    assert_eq!(e.run(c, "c").ok(), "hello\n/bin/probe\n2\n");

    // The profile is really in force: mount is refused, clone3 says ENOSYS,
    // socket(AF_VSOCK) is refused, personality only with allowed values.
    let c = with_seccomp(
        config(
            &e,
            "syscall getppid -- syscall mount 0 0 0 -- syscall clone3 0 0 \
             -- syscall personality 0xffffffff -- syscall personality 4 \
             -- syscall socket 40 1 0 -- syscall socket 1 1 0 -- seccomp",
        ),
        large_profile(),
    );
    let o = e.run(c, "c2");
    assert_eq!(
        errnos(o.ok()),
        [0, libc::EPERM, libc::ENOSYS, 0, libc::EPERM, libc::EPERM, 0],
        "{}",
        o.stdout
    );
    assert_eq!(kv(&o.stdout)["seccomp"], "2");
}

#[test]
fn allow_list_profile_loaded_before_the_uid_change() {
    // Without noNewPrivileges and without CAP_SYS_ADMIN, the filter is
    // loaded while husk still has the privilege: everything the init does
    // afterwards must pass it.
    let e = Env::new("sc-early");
    let mut c = with_seccomp(
        config(&e, "ids -- nnp -- seccomp -- syscall mount 0 0 0"),
        large_profile(),
    );
    c["process"]["noNewPrivileges"] = json!(false);
    c["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [5]});
    let o = e.run(c, "c");
    let k = kv(o.ok());
    assert_eq!((k["uid"].as_str(), k["groups"].as_str()), ("1000", "5"));
    assert_eq!(k["nnp"], "0");
    assert_eq!(k["seccomp"], "2");
    assert_eq!(errnos(&o.stdout), [libc::EPERM]);
}

#[test]
fn errno_and_argument_rules() {
    let e = Env::new("sc-rules");
    let s = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 0xffffffffu64, "op": "SCMP_CMP_EQ"}]},
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 7,
         "args": [{"index": 0, "value": 0xffffffffu64, "op": "SCMP_CMP_NE"}]},
        {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 11,
         "args": [{"index": 0, "value": 1000000, "op": "SCMP_CMP_GT"},
                  {"index": 0, "value": 5, "op": "SCMP_CMP_LT"}]},
        {"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": 12,
         "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                  {"index": 1, "value": 4242, "op": "SCMP_CMP_EQ"}]},
        {"names": ["getsid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 14,
         "args": [{"index": 0, "value": 240, "valueTwo": 48, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["getuid"], "action": "SCMP_ACT_ERRNO"},
        {"names": ["gettid"], "action": "SCMP_ACT_LOG"}]});
    let c = with_seccomp(
        config(
            &e,
            "syscall getppid -- syscall personality 0xffffffff -- syscall personality 8 \
             -- syscall getpgid 2000000 -- syscall getpgid 0 -- syscall getpgid 999999 \
             -- syscall getpriority 0 4242 -- syscall getpriority 0 0 -- syscall getpriority 1 4242 \
             -- syscall getsid 0x35 -- syscall getsid 0x45 -- syscall getuid -- syscall gettid \
             -- seccomp -- nnp",
        ),
        s,
    );
    let o = e.run(c, "c");
    let err = errnos(o.ok());
    assert_eq!(err.len(), 13, "{}", o.stdout);
    assert_eq!(err[0], 42, "getppid: errnoRet");
    assert_eq!((err[1], err[2]), (0, 7), "personality by arg0");
    assert_eq!(
        (err[3], err[4], err[5]),
        (11, 11, libc::ESRCH),
        "getpgid: one rule per same-index arg"
    );
    assert_eq!(err[6], 12, "getpriority(0, 4242): ANDed args");
    assert_ne!(err[7], 12, "getpriority(0, 0)");
    assert_ne!(err[8], 12, "getpriority(1, 4242)");
    assert_eq!(err[9], 14, "getsid(0x35): (0x35 & 0xf0) == 0x30, MASKED_EQ");
    assert_ne!(err[10], 14, "getsid(0x45)");
    assert_eq!(err[11], libc::EPERM, "ERRNO without errnoRet is EPERM");
    assert_eq!(err[12], 0, "LOG allows");
    let k = kv(&o.stdout);
    assert_eq!((k["seccomp"].as_str(), k["nnp"].as_str()), ("2", "1"));
}

#[test]
fn kill_actions_raise_sigsys() {
    let e = Env::new("sc-kill");
    for action in ["SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP"] {
        let s = json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getppid"], "action": action}]});
        let o = e.run(
            with_seccomp(config(&e, "syscall getpid -- syscall getppid"), s),
            "c",
        );
        assert_eq!(o.code, 128 + libc::SIGSYS, "{action}: {:?}", o.stderr);
        // The first call ran, the second never returned.
        assert_eq!(errnos(&o.stdout), [0], "{action}");
    }
}

#[test]
fn several_architectures() {
    let e = Env::new("sc-arch");
    let s = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42}]});
    // getppid natively and through the x32 ABI (nr | __X32_SYSCALL_BIT).
    let o = e.run(
        with_seccomp(config(&e, "syscall getppid -- sysno 0x4000006e"), s.clone()),
        "c",
    );
    assert_eq!(errnos(o.ok()), [42, 42], "{}", o.stdout);
}

/// Receive one message and the fds it carries from a unix stream.
fn recv_with_fds(sock: &std::os::unix::net::UnixStream) -> (Vec<u8>, Vec<std::os::fd::OwnedFd>) {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::{AsRawFd, FromRawFd};
    let mut buf = vec![0u8; 1 << 20];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 4]);
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .expect("recvmsg");
    let mut fds = Vec::new();
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(v) = c {
            // SAFETY: the fds were just received and are owned by no one else.
            fds.extend(
                v.into_iter()
                    .map(|fd| unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }),
            );
        }
    }
    let n = msg.bytes;
    buf.truncate(n);
    (buf, fds)
}

fn wait_stopped(e: &Env, id: &str) {
    let t = std::time::Instant::now();
    while e.status(id) != "stopped" {
        assert!(t.elapsed().as_secs() < 20, "{id} did not stop");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn notify_listener_receives_fd_and_state() {
    let e = Env::new("sc-notify");
    let sock_path = e.dir.join("listener.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock_path).unwrap();
    let s = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock_path,
        "listenerMetadata": "hello-agent",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]});
    let c = with_seccomp(config(&e, "syscall getppid -- syscall getpid"), s);
    e.write(c, "n1");
    let b = e.bundle();
    let out = e.dir.join("n1.out");
    let st = e
        .cmd(&["run", "-d", "--bundle", b.to_str().unwrap(), "n1"])
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(e.dir.join("n1.err")).unwrap())
        .status()
        .unwrap();
    assert!(
        st.success(),
        "{}",
        std::fs::read_to_string(e.dir.join("n1.err")).unwrap()
    );
    let (conn, _) = listener.accept().unwrap();
    let (data, fds) = recv_with_fds(&conn);
    assert_eq!(fds.len(), 1, "one fd with SCM_RIGHTS");
    let msg: Value = serde_json::from_slice(&data).expect("JSON");
    let state = e.state("n1");
    assert_eq!(msg["ociVersion"], "1.3.0");
    assert_eq!(msg["fds"], json!(["seccompFd"]));
    assert_eq!(msg["pid"], state["pid"]);
    assert_eq!(msg["metadata"], "hello-agent");
    assert_eq!(msg["state"]["id"], "n1");
    assert_eq!(msg["state"]["pid"], state["pid"]);
    assert_eq!(msg["state"]["bundle"], state["bundle"]);

    // Answer the container's getppid with errno 55.
    use std::os::fd::AsRawFd;
    let fd = fds[0].as_raw_fd();
    let req = libseccomp::ScmpNotifReq::receive(fd).expect("SECCOMP_IOCTL_NOTIF_RECV");
    assert_eq!(req.pid as i64, state["pid"].as_i64().unwrap());
    assert_eq!(
        req.data.syscall,
        libseccomp::ScmpSyscall::from_name("getppid").unwrap()
    );
    libseccomp::ScmpNotifResp::new_error(req.id, -55, libseccomp::ScmpNotifRespFlags::empty())
        .respond(fd)
        .expect("SECCOMP_IOCTL_NOTIF_SEND");
    wait_stopped(&e, "n1");
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(errnos(&text), [55, 0], "{text}");
}

#[test]
fn bad_seccomp_input_fails_create() {
    let e = Env::new("sc-bad");
    let rule = |r: Value| json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [r]});
    let cases: Vec<(Value, &str)> = vec![
        (
            rule(json!({"names": ["getppid"], "action": "SCMP_ACT_EXPLODE"})),
            "linux.seccomp.syscalls[0].action",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_NOPE"}),
            "linux.seccomp.defaultAction",
        ),
        (
            rule(json!({"names": ["getppid"], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ROUGHLY"}]})),
            "linux.seccomp.syscalls[0].args[0].op",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]}),
            "linux.seccomp.architectures[0]",
        ),
        (
            rule(json!({"names": ["getppid"], "action": "SCMP_ACT_ALLOW", "errnoRet": 5})),
            "linux.seccomp.syscalls[0].errnoRet",
        ),
        (
            rule(json!({"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}))
                .as_object()
                .cloned()
                .map(|mut o| {
                    o.insert("listenerPath".into(), json!(e.dir.join("nobody-here.sock")));
                    Value::Object(o)
                })
                .unwrap(),
            "linux.seccomp.listenerPath",
        ),
    ];
    for (s, field) in cases {
        let err = create_fails(&e, with_seccomp(config(&e, "exit 0"), s), "c");
        assert!(err.contains(field), "want {field} in: {err}");
    }
    // A socket file that nobody listens on any more.
    let stale = e.dir.join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let s = json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": stale,
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]});
    let err = create_fails(&e, with_seccomp(config(&e, "exit 0"), s), "c");
    assert!(err.contains("linux.seccomp.listenerPath"), "{err}");
}

fn cache_files(root: &Path) -> Vec<(PathBuf, std::time::SystemTime)> {
    let mut v: Vec<_> = std::fs::read_dir(root.join(".seccomp-cache"))
        .map(|d| {
            d.flatten()
                .filter(|f| f.path().extension().is_some_and(|x| x == "bpf"))
                .map(|f| (f.path(), f.metadata().unwrap().modified().unwrap()))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn compiled_profile_is_cached() {
    let e = Env::new("sc-cache");
    let c = with_seccomp(config(&e, "syscall mount 0 0 0"), large_profile());
    let o = e.run(c.clone(), "c1");
    assert_eq!(errnos(o.ok()), [libc::EPERM]);
    let first = cache_files(&e.root);
    assert_eq!(first.len(), 1, "one compiled filter in the cache");

    // A second container with the same profile reads it, not rewrites it.
    let o = e.run(c.clone(), "c2");
    assert_eq!(errnos(o.ok()), [libc::EPERM]);
    assert_eq!(cache_files(&e.root), first, "the cache entry was rewritten");

    // Negative control: without the entry, the next start compiles and
    // writes it again (so an unchanged file above means no compilation).
    std::fs::remove_file(&first[0].0).unwrap();
    let o = e.run(c, "c3");
    assert_eq!(errnos(o.ok()), [libc::EPERM]);
    let again = cache_files(&e.root);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].0, first[0].0, "same key, same file name");

    // A corrupted entry is not trusted: it is a miss and is replaced.
    std::fs::write(&first[0].0, b"HUSKBPF1 garbage").unwrap();
    let c = with_seccomp(config(&e, "syscall mount 0 0 0"), large_profile());
    let o = e.run(c, "c4");
    assert_eq!(errnos(o.ok()), [libc::EPERM]);
    assert_ne!(std::fs::read(&first[0].0).unwrap(), b"HUSKBPF1 garbage");
}

// ------------------------------------------------------ the rest of process

#[test]
fn no_new_privileges_on_and_off() {
    let e = Env::new("nnp");
    for (on, want) in [(true, "1"), (false, "0")] {
        let mut c = config(&e, "nnp");
        c["process"]["noNewPrivileges"] = json!(on);
        assert_eq!(kv(e.run(c, "c").ok())["nnp"], want, "noNewPrivileges {on}");
    }
}

#[test]
fn personality_linux32() {
    let e = Env::new("pers");
    let mut c = e.config(&["sh", "-c", "probe personality; uname -m"]);
    c["linux"]["personality"] = json!({"domain": "LINUX32"});
    let o = e.run(c, "c");
    let text = o.ok();
    assert!(text.starts_with("personality=0x8\n"), "{text}");
    let m = text.lines().nth(1).unwrap();
    assert!(matches!(m, "i686" | "i386" | "armv8l" | "armv7l"), "{m}");

    let mut c = config(&e, "personality");
    c["linux"]["personality"] = json!({"domain": "LINUX"});
    assert_eq!(e.run(c, "c").ok(), "personality=0x0\n");
}

#[test]
fn scheduler_policy_and_nice() {
    let e = Env::new("sched");
    for (policy, nice) in [("SCHED_BATCH", 5), ("SCHED_IDLE", 0)] {
        let mut c = config(&e, "sched");
        c["process"]["scheduler"] = json!({"policy": policy, "nice": nice});
        let k = kv(e.run(c, "c").ok());
        assert_eq!(k["policy"], policy);
        assert_eq!(k["nice"], nice.to_string(), "{policy}");
    }
}

#[test]
fn io_priority() {
    let e = Env::new("ioprio");
    let mut c = config(&e, "ioprio");
    c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 3});
    let k = kv(e.run(c, "c").ok());
    assert_eq!(
        (k["ioprio.class"].as_str(), k["ioprio.level"].as_str()),
        ("2", "3")
    );
}

#[test]
fn exec_cpu_affinity_initial_then_final() {
    let e = Env::new("affinity");
    let cpus = std::fs::read_to_string("/sys/fs/cgroup/cpuset/cpuset.cpus")
        .or_else(|_| std::fs::read_to_string("/sys/devices/system/cpu/online"))
        .unwrap();
    if cpus.trim() == "0" {
        eprintln!("skipped: needs two CPUs");
        return;
    }
    // A startContainer hook runs in the container after the initial
    // affinity is set; the process itself runs with the final one.
    let mut c = config(&e, "affinity");
    c["process"]["execCPUAffinity"] = json!({"initial": "1", "final": "0"});
    c["hooks"] = json!({"startContainer": [{"path": "/bin/probe", "args": ["probe", "affinity"]}]});
    let o = e.run(c, "c");
    let cpus: Vec<&str> = o
        .ok()
        .lines()
        .filter_map(|l| l.strip_prefix("cpus="))
        .collect();
    assert_eq!(cpus, ["1", "0"], "{}", o.stdout);
}

#[test]
fn bad_affinity_and_memory_policy_name_their_fields() {
    let e = Env::new("affinity-bad");
    let mut c = config(&e, "affinity");
    c["process"]["execCPUAffinity"] = json!({"initial": "1000"});
    let err = create_fails(&e, c, "c");
    assert!(err.contains("process.execCPUAffinity"), "{err}");
    let mut c = config(&e, "affinity");
    c["process"]["execCPUAffinity"] = json!({"final": "1000"});
    e.write(c, "c");
    let o = e.husk(&["run", "--bundle", e.bundle().to_str().unwrap(), "c"]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("process.execCPUAffinity"), "{}", o.stderr);
    assert!(!e.root.join("c").exists());

    let mut c = config(&e, "mempolicy");
    c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "1000"});
    let err = create_fails(&e, c, "c");
    assert!(err.contains("linux.memoryPolicy"), "{err}");
}

#[test]
fn memory_policy_bind() {
    let e = Env::new("mempolicy");
    let mut c = config(&e, "mempolicy");
    c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0"});
    let k = kv(e.run(c, "c").ok());
    assert_eq!(
        (k["mode"].as_str(), k["nodes"].as_str()),
        ("MPOL_BIND", "0")
    );

    let mut c = config(&e, "mempolicy");
    c["linux"]["memoryPolicy"] =
        json!({"mode": "MPOL_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]});
    let k = kv(e.run(c, "c").ok());
    assert_eq!(k["mode"], "MPOL_INTERLEAVE");
    assert_eq!(k["flags"], "0x8000");
    assert_eq!(k["nodes"], "0");
}

#[test]
fn lsm_labels_without_the_lsm_fail_create() {
    let e = Env::new("lsm");
    let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y");
    let selinux = Path::new("/sys/fs/selinux/enforce").exists();
    if !apparmor {
        let mut c = config(&e, "exit 0");
        c["process"]["apparmorProfile"] = json!("docker-default");
        let err = create_fails(&e, c, "c");
        assert!(
            err.contains("process.apparmorProfile") && err.contains("AppArmor"),
            "{err}"
        );
    }
    if !selinux {
        let mut c = config(&e, "exit 0");
        c["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0");
        let err = create_fails(&e, c, "c");
        assert!(
            err.contains("process.selinuxLabel") && err.contains("SELinux"),
            "{err}"
        );
    }
}
