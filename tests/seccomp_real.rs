//! End-to-end: load compiled filters (and apply capabilities) in a forked
//! child (Command::pre_exec), exec the static probe, and check what the
//! kernel did.

use std::collections::HashMap;
use std::os::fd::RawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use husk::seccomp::{compile, compile_cached, load, parse, Program};

fn probe() -> &'static PathBuf {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE.get_or_init(|| {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("probe");
        let st = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/probe/build.sh"))
            .arg(&out)
            .status()
            .expect("running tests/probe/build.sh");
        assert!(st.success(), "building the probe failed");
        out
    })
}

/// Sets no_new_privs, so that loading works without CAP_SYS_ADMIN too.
fn set_nnp() -> std::io::Result<()> {
    // SAFETY: prctl with integer arguments only; async-signal-safe.
    let r = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Moves `fd` to `to` without O_CLOEXEC, so that it survives exec.
fn keep_fd_as(fd: RawFd, to: RawFd) -> std::io::Result<()> {
    // SAFETY: dup2/fcntl on integer fds; async-signal-safe.
    let r = unsafe {
        if fd == to {
            libc::fcntl(fd, libc::F_SETFD, 0)
        } else {
            libc::dup2(fd, to)
        }
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

const LISTENER_FD: RawFd = 100;

fn command(prog: Program, args: &str) -> Command {
    let mut cmd = Command::new(probe());
    cmd.args(args.split_whitespace()).stdin(Stdio::null());
    let hook = move || {
        set_nnp()?;
        if let Some(fd) = load(&prog)? {
            keep_fd_as(fd, LISTENER_FD)?;
        }
        Ok(())
    };
    // SAFETY: the hook only makes async-signal-safe calls (prctl, seccomp,
    // dup2/fcntl) and does not allocate; this file is the only one forking.
    unsafe { cmd.pre_exec(hook) };
    cmd
}

fn run(prog: &Program, args: &str) -> Output {
    command(prog.clone(), args)
        .output()
        .expect("spawning the probe")
}

/// The probe prints `ret=`/`errno=` pairs; returns the errnos in order, plus
/// the other keys.
fn errnos(out: &Output) -> (Vec<i32>, HashMap<String, String>) {
    let text = String::from_utf8_lossy(&out.stdout);
    let (mut errs, mut kv) = (Vec::new(), HashMap::new());
    for line in text.lines() {
        let (k, v) = line.split_once('=').unwrap_or((line, ""));
        if k == "errno" {
            errs.push(v.parse().unwrap());
        } else {
            kv.insert(k.to_string(), v.to_string());
        }
    }
    (errs, kv)
}

fn prog(json: &str) -> Program {
    compile(&parse(json).unwrap()).unwrap()
}

#[test]
fn errno_and_argument_rules() {
    let p = prog(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
        {"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":42},
        {"names":["personality"],"action":"SCMP_ACT_ERRNO","errnoRet":7,
         "args":[{"index":0,"value":4294967295,"op":"SCMP_CMP_NE"}]},
        {"names":["getpgid"],"action":"SCMP_ACT_ERRNO","errnoRet":11,
         "args":[{"index":0,"value":1000000,"op":"SCMP_CMP_GT"},{"index":0,"value":5,"op":"SCMP_CMP_LT"}]},
        {"names":["getpriority"],"action":"SCMP_ACT_ERRNO","errnoRet":12,
         "args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"},{"index":1,"value":4242,"op":"SCMP_CMP_EQ"}]},
        {"names":["getsid"],"action":"SCMP_ACT_ERRNO","errnoRet":14,
         "args":[{"index":0,"value":240,"valueTwo":48,"op":"SCMP_CMP_MASKED_EQ"}]},
        {"names":["getuid"],"action":"SCMP_ACT_ERRNO"},
        {"names":["gettid"],"action":"SCMP_ACT_LOG"}]}"#,
    );
    let out = run(
        &p,
        "syscall getppid -- syscall personality 0xffffffff -- syscall personality 8 \
         -- syscall getpgid 2000000 -- syscall getpgid 0 -- syscall getpgid 999999 \
         -- syscall getpriority 0 4242 -- syscall getpriority 0 0 -- syscall getpriority 1 4242 \
         -- syscall getsid 0x35 -- syscall getsid 0x45 -- syscall getuid -- syscall gettid \
         -- seccomp -- nnp",
    );
    assert!(out.status.success(), "{out:?}");
    let (e, kv) = errnos(&out);
    assert_eq!(e.len(), 13, "{out:?}");
    assert_eq!(e[0], 42, "getppid");
    assert_eq!((e[1], e[2]), (0, 7), "personality");
    assert_eq!(
        (e[3], e[4], e[5]),
        (11, 11, libc::ESRCH),
        "getpgid: one rule per same-index arg"
    );
    assert_eq!(e[6], 12, "getpriority(0, 4242): ANDed args");
    assert_ne!(e[7], 12, "getpriority(0, 0)");
    assert_ne!(e[8], 12, "getpriority(1, 4242)");
    assert_eq!(e[9], 14, "getsid(0x35): (0x35 & 0xf0) == 0x30");
    assert_ne!(e[10], 14, "getsid(0x45)");
    assert_eq!(e[11], libc::EPERM, "ERRNO without errnoRet is EPERM");
    assert_eq!(e[12], 0, "LOG allows");
    assert_eq!(kv["seccomp"], "2");
    assert_eq!(kv["nnp"], "1");
}

#[test]
fn kill_process_and_trap_raise_sigsys() {
    for action in ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP", "SCMP_ACT_KILL"] {
        let p = prog(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["getppid"],"action":"{action}"}}]}}"#
        ));
        let out = run(&p, "syscall getpid -- syscall getppid");
        assert_eq!(out.status.signal(), Some(libc::SIGSYS), "{action}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("ret="),
            "{action}"
        );
    }
}

#[test]
fn large_profile_from_cache() {
    let json = include_str!("fixtures/seccomp-large.json");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("seccomp-cache-e2e");
    let s = parse(json).unwrap();
    let p = compile_cached(&s, &dir).unwrap();
    assert_eq!(p, compile_cached(&s, &dir).unwrap());
    let out = run(
        &p,
        "syscall getppid -- syscall mount 0 0 0 -- syscall clone3 0 0 \
         -- syscall personality 0xffffffff -- syscall personality 4 -- syscall socket 40 1 0 \
         -- syscall socket 1 1 0 -- ids",
    );
    assert!(out.status.success(), "{out:?}");
    let (e, kv) = errnos(&out);
    assert_eq!(e, [0, 1, libc::ENOSYS, 0, 1, 1, 0], "{out:?}");
    assert_eq!(kv["uid"], nix::unistd::getuid().to_string());
}

#[test]
fn notify_listener_gets_the_call() {
    if libseccomp::get_api() < 6 {
        eprintln!("skipped: libseccomp API level < 6");
        return;
    }
    let p = prog(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "syscalls":[{"names":["getppid"],"action":"SCMP_ACT_NOTIFY"}]}"#,
    );
    assert!(p.notify);
    let child = command(p, "syscall getppid")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // spawn() returns after a successful exec, so fd 100 exists in the probe.
    let pidfd = syscall_fd(libc::SYS_pidfd_open, child.id() as libc::c_long, 0);
    let listener = syscall_fd(
        libc::SYS_pidfd_getfd,
        pidfd as libc::c_long,
        LISTENER_FD as _,
    );
    let req = libseccomp::ScmpNotifReq::receive(listener).unwrap();
    assert_eq!(req.pid, child.id());
    assert_eq!(
        req.data.syscall,
        libseccomp::ScmpSyscall::from_name("getppid").unwrap()
    );
    let flags = libseccomp::ScmpNotifRespFlags::empty();
    libseccomp::ScmpNotifResp::new_error(req.id, -55, flags)
        .respond(listener)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(errnos(&out).0, [55]);
}

/// A syscall returning an fd (pidfd_open / pidfd_getfd); leaked on purpose.
fn syscall_fd(nr: libc::c_long, a: libc::c_long, b: libc::c_long) -> RawFd {
    // SAFETY: pidfd_open(pid, 0) and pidfd_getfd(pidfd, fd, 0) take integers only.
    let r = unsafe { libc::syscall(nr, a, b, 0) };
    assert!(r >= 0, "syscall {nr}: {}", std::io::Error::last_os_error());
    r as RawFd
}

/// Child side of the capability sequence the core will run, as uid 65534.
fn drop_to_nobody(bounding: u64, inh: u64, amb: u64, last: u32) -> std::io::Result<()> {
    use husk::caps::{apply_ambient, apply_bounding, apply_sets, keep_caps_for_setuid};
    let io = |e: husk::caps::ApplyError| std::io::Error::from_raw_os_error(e.errno as i32);
    apply_bounding(bounding, last).map_err(io)?;
    keep_caps_for_setuid(true).map_err(io)?;
    // SAFETY: integer-only credential syscalls; async-signal-safe.
    let ok = unsafe {
        libc::setgroups(0, std::ptr::null()) == 0
            && libc::setresgid(65534, 65534, 65534) == 0
            && libc::setresuid(65534, 65534, 65534) == 0
    };
    if !ok {
        return Err(std::io::Error::last_os_error());
    }
    keep_caps_for_setuid(false).map_err(io)?;
    apply_sets(amb, inh | amb, inh).map_err(io)?;
    apply_ambient(amb, last).map_err(io)
}

#[test]
fn capabilities_applied_in_child() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let last = husk::caps::read_last_cap().unwrap();
    let v = serde_json::json!({
        "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN", "CAP_FOO"],
        "inheritable": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "ambient": ["CAP_NET_BIND_SERVICE"],
    });
    let c = husk::caps::parse(&v, last).unwrap();
    assert_eq!(c.warnings.len(), 1);
    let s = c.sets;
    let mut cmd = Command::new(probe());
    cmd.args(["caps", "--", "ids"]);
    let hook = move || drop_to_nobody(s.bounding, s.inheritable, s.ambient, last);
    // SAFETY: the hook only makes async-signal-safe syscalls, no allocation.
    unsafe { cmd.pre_exec(hook) };
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let (_, kv) = errnos(&out);
    assert_eq!(kv["uid"], "65534");
    assert_eq!(kv["bnd"], format!("{:016x}", 1u64 << 5 | 1 << 10 | 1));
    assert_eq!(kv["inh"], format!("{:016x}", 1u64 << 5 | 1 << 10));
    // Non-root exec: permitted = effective = ambient.
    for k in ["amb", "prm", "eff"] {
        assert_eq!(kv[k], format!("{:016x}", 1u64 << 10), "{k}");
    }
}
