//! The container's process: environment, cwd, user, umask, rlimits,
//! oomScoreAdj, noNewPrivileges, inherited descriptors and stdio.

mod common;
use common::{husk_bin, kv, Env, Out};
use serde_json::json;
use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn env_reaches_the_program() {
    let e = Env::new("env");
    let mut c = e.config(&["env"]);
    c["process"]["env"] = json!(["PATH=/bin", "FOO=bar baz", "EMPTY=", "MULTI=a=b=c"]);
    let o = e.run(c, "e1");
    let mut got: Vec<&str> = o.ok().lines().collect();
    got.sort();
    // Like runc, HOME comes from the user's /etc/passwd entry when unset.
    assert_eq!(
        got,
        [
            "EMPTY=",
            "FOO=bar baz",
            "HOME=/root",
            "MULTI=a=b=c",
            "PATH=/bin"
        ]
    );

    // A HOME in the config wins; a user without a passwd entry gets "/".
    let mut c = e.config(&["env"]);
    c["process"]["env"] = json!(["HOME=/mine"]);
    let o = e.run(c, "e2");
    assert_eq!(o.ok(), "HOME=/mine\n");
    let mut c = e.config(&["env"]);
    c["process"]["env"] = json!([]);
    c["process"]["user"] = json!({"uid": 4321, "gid": 4321});
    let o = e.run(c, "e3");
    assert_eq!(o.ok(), "HOME=/\n");
}

#[test]
fn cwd_is_entered_and_created_when_missing() {
    let e = Env::new("cwd");
    let mut c = e.config(&["pwd"]);
    c["process"]["cwd"] = json!("/tmp");
    assert_eq!(e.run(c, "c1").ok(), "/tmp\n");

    // A directory missing from the (read-only) rootfs is made, as by runc.
    let dir = format!("/made-{}/sub/dir", std::process::id());
    let mut c = e.config(&["sh", "-c", "pwd; ls -ld ."]);
    c["process"]["cwd"] = json!(dir);
    c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    let o = e.run(c, "c2");
    let out = o.ok();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some(dir.as_str()), "{out}");
    assert!(lines.next().unwrap().starts_with("drwxr-xr-x"), "{out}");
}

#[test]
fn user_groups_and_umask() {
    let e = Env::new("user");
    let mut c = e.config(&["sh", "-c", "id; probe ids -- umask; umask"]);
    c["process"]["user"] = json!({
        "uid": 1000, "gid": 1001, "additionalGids": [10, 20], "umask": 0o027
    });
    let o = e.run(c, "u1");
    let out = o.ok();
    assert_eq!(
        out.lines().next(),
        Some("uid=1000 gid=1001 groups=10,20"),
        "{out}"
    );
    let p = kv(out);
    for k in ["uid", "euid", "suid"] {
        assert_eq!(p[k], "1000", "{k}: {out}");
    }
    for k in ["gid", "egid", "sgid"] {
        assert_eq!(p[k], "1001", "{k}: {out}");
    }
    assert_eq!(p["groups"], "10,20");
    assert_eq!(p["umask"], "0027");
    assert_eq!(out.lines().last(), Some("0027"), "{out}");

    // The defaults: root with no extra groups and umask 0022.
    let o = e.run(e.config(&["probe", "ids", "--", "umask"]), "u2");
    let p = kv(o.ok());
    assert_eq!(p["uid"], "0");
    assert_eq!(p["gid"], "0");
    assert_eq!(p["groups"], "");
    assert_eq!(p["umask"], "0022");
}

#[test]
fn user_applies_to_a_created_then_started_container() {
    // The init opens exec.fifo at start as the configured user.
    let e = Env::new("userstart");
    let mut c = e.config(&["sleep", "60"]);
    c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    e.write(c, "s1");
    let b = e.bundle();
    e.husk(&["create", "--bundle", b.to_str().unwrap(), "s1"])
        .ok();
    e.husk(&["start", "s1"]).ok();
    assert_eq!(e.status("s1"), "running");
    let pid = e.state("s1")["pid"].as_i64().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(
        uid.split_whitespace().collect::<Vec<_>>(),
        ["Uid:", "1000", "1000", "1000", "1000"]
    );
}

#[test]
fn rlimits() {
    let e = Env::new("rlimit");
    let mut c = e.config(&["sh", "-c", "ulimit -n; ulimit -Hn; probe rlimits"]);
    c["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 1000, "hard": 2000},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 4096},
        {"type": "RLIMIT_NPROC", "soft": 500, "hard": 600}
    ]);
    let o = e.run(c, "r1");
    let out = o.ok();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("1000"), "{out}");
    assert_eq!(lines.next(), Some("2000"), "{out}");
    let p = kv(out);
    assert_eq!(p["nofile.soft"], "1000");
    assert_eq!(p["nofile.hard"], "2000");
    assert_eq!(p["core.soft"], "0");
    assert_eq!(p["core.hard"], "4096");
    assert_eq!(p["nproc.soft"], "500");
    assert_eq!(p["nproc.hard"], "600");

    // soft above hard is refused with a message naming the field.
    let mut c = e.config(&["true"]);
    c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 3000, "hard": 2000}]);
    let o = e.run(c, "r2");
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("rlimits"), "{}", o.stderr);
    assert!(!e.root.join("r2").exists());
}

#[test]
fn oom_score_adj() {
    let e = Env::new("oom");
    let mut c = e.config(&["cat", "/proc/self/oom_score_adj"]);
    c["process"]["oomScoreAdj"] = json!(123);
    assert_eq!(e.run(c, "o1").ok(), "123\n");
    // (Raising only: lowering needs CAP_SYS_RESOURCE, which a test host may
    // withhold even from root.)
    let mut c = e.config(&["cat", "/proc/self/oom_score_adj"]);
    c["process"]["oomScoreAdj"] = json!(1000);
    assert_eq!(e.run(c, "o2").ok(), "1000\n");
    // Unset: inherited from husk (the test's own value).
    let mine = std::fs::read_to_string("/proc/self/oom_score_adj").unwrap();
    let o = e.run(e.config(&["cat", "/proc/self/oom_score_adj"]), "o3");
    assert_eq!(o.ok(), mine);
}

#[test]
fn no_new_privileges() {
    let e = Env::new("nnp");
    let grep = ["grep", "NoNewPrivs", "/proc/self/status"];
    let mut c = e.config(&grep);
    c["process"]["noNewPrivileges"] = json!(true);
    assert_eq!(e.run(c, "n1").ok().split_whitespace().nth(1), Some("1"));
    let mut c = e.config(&grep);
    c["process"]["noNewPrivileges"] = json!(false);
    assert_eq!(e.run(c, "n2").ok().split_whitespace().nth(1), Some("0"));
}

/// Run `husk --root R run --bundle B [extra] id` from a shell that first
/// runs `prelude` (which opens descriptors for husk to inherit).
fn run_via_sh(e: &Env, prelude: &str, extra: &[&str], id: &str) -> Out {
    let b = e.bundle();
    let mut husk = vec![
        husk_bin(),
        "--root",
        e.root.to_str().unwrap(),
        "run",
        "--bundle",
        b.to_str().unwrap(),
    ];
    husk.extend_from_slice(extra);
    husk.push(id);
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!("{prelude}; exec \"$@\""))
        .arg("sh")
        .args(&husk)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Out::from(o)
}

fn fds(out: &str) -> Vec<String> {
    let mut v: Vec<String> = kv(out)
        .keys()
        .filter_map(|k| k.strip_prefix("fd.").map(String::from))
        .collect();
    v.sort();
    v
}

#[test]
fn preserve_fds_passes_descriptors_and_nothing_else_leaks() {
    let e = Env::new("fds");
    let file = e.dir.join("passed.txt");
    std::fs::write(&file, "through fd 3\n").unwrap();
    let prelude = format!("exec 3<'{}' 4<'{}'", file.display(), file.display());

    e.write(e.config(&["sh", "-c", "cat <&3; probe fds"]), "p1");
    let o = run_via_sh(&e, &prelude, &["--preserve-fds", "1"], "p1");
    let out = o.ok();
    assert!(out.starts_with("through fd 3\n"), "{out}");
    assert_eq!(fds(out), ["0", "1", "2", "3"], "{out}");
    assert!(kv(out)["fd.3"].ends_with("passed.txt"), "{out}");

    // Without --preserve-fds, husk's own extra descriptors stay outside.
    e.write(e.config(&["probe", "fds"]), "p2");
    let o = run_via_sh(&e, &prelude, &[], "p2");
    assert_eq!(fds(o.ok()), ["0", "1", "2"], "{}", o.stdout);

    // The same through `ls`, as a user would look.
    e.write(e.config(&["ls", "/proc/self/fd"]), "p3");
    let o = run_via_sh(&e, &prelude, &[], "p3");
    let listed: Vec<&str> = o.ok().split_whitespace().collect();
    // 0 1 2 and the directory ls is reading.
    assert_eq!(listed.len(), 4, "{listed:?}");
    assert_eq!(&listed[..3], ["0", "1", "2"]);
}

#[test]
fn listen_fds_passes_descriptors_and_sets_the_env() {
    let e = Env::new("listen");
    let file = e.dir.join("socket-ish.txt");
    std::fs::write(&file, "activated\n").unwrap();
    e.write(
        e.config(&["sh", "-c", "cat <&3; env | grep ^LISTEN_ | sort; probe fds"]),
        "l1",
    );
    let prelude = format!("exec 3<'{}'; export LISTEN_FDS=1", file.display());
    let o = run_via_sh(&e, &prelude, &[], "l1");
    let out = o.ok();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("activated"), "{out}");
    assert_eq!(lines.next(), Some("LISTEN_FDS=1"), "{out}");
    assert_eq!(lines.next(), Some("LISTEN_PID=1"), "{out}");
    assert_eq!(fds(out), ["0", "1", "2", "3"], "{out}");
}

#[test]
fn stdio_are_the_callers_pipes() {
    let e = Env::new("pipes");
    e.write(
        e.config(&[
            "sh",
            "-c",
            // (busybox runs readlink inside the shell: a plain redirect
            // would show the redirected fd, so ask from a subshell.)
            "a=$(readlink /proc/$$/fd/0); b=$(readlink /proc/$$/fd/1); echo $a $b >&2; cat",
        ]),
        "io",
    );
    let b = e.bundle();
    let mut child = e
        .cmd(&["run", "--bundle", b.to_str().unwrap(), "io"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let link = |fd: i32| {
        std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };
    use std::os::fd::AsRawFd;
    let stdin_pipe = link(child.stdin.as_ref().unwrap().as_raw_fd());
    let stdout_pipe = link(child.stdout.as_ref().unwrap().as_raw_fd());
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"line one\nline two\n").unwrap();
    drop(stdin);
    let o = Out::from(child.wait_with_output().unwrap());
    let (out, err) = (o.stdout, o.stderr);
    assert!(o.code == 0, "{err}");
    assert_eq!(out, "line one\nline two\n");
    // The container's fds 0 and 1 are the very pipes we hold.
    assert_eq!(err, format!("{stdin_pipe} {stdout_pipe}\n"));
}

#[test]
fn preserve_fds_survive_from_create_to_start() {
    // The init keeps the descriptor from `create` until `start` execs.
    let e = Env::new("fdstart");
    let file = e.dir.join("kept.txt");
    std::fs::write(&file, "kept until start\n").unwrap();
    let out = e.dir.join("out.txt");
    e.write(e.config(&["sh", "-c", "cat <&3 >&4; probe fds >&4"]), "k1");
    let b = e.bundle();
    // husk's own stdio go to a file: the waiting init inherits them.
    let err = e.dir.join("create.err");
    let st = Command::new("sh")
        .arg("-c")
        .arg("exec 3<\"$1\" 4>\"$2\"; shift 2; exec \"$@\"")
        .arg("sh")
        .arg(&file)
        .arg(&out)
        .args([husk_bin(), "--root", e.root.to_str().unwrap(), "create"])
        .args(["--bundle", b.to_str().unwrap(), "--preserve-fds", "2", "k1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap())
        .status()
        .unwrap();
    assert!(st.success(), "{}", std::fs::read_to_string(&err).unwrap());
    e.husk(&["start", "k1"]).ok();
    let pid = e.state("k1")["pid"].as_i64().unwrap();
    for _ in 0..2000 {
        if !common::alive(pid) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(!common::alive(pid), "the container never exited");
    let got = std::fs::read_to_string(&out).unwrap();
    assert!(got.starts_with("kept until start\n"), "{got}");
    assert_eq!(fds(&got), ["0", "1", "2", "3", "4"], "{got}");
}
