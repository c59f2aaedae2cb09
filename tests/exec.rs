//! `husk exec` into a running container, checked against its init and runc.

mod common;
use common::{alive, wait_gone, Env};
use serde_json::json;

/// Start a detached `sleep` container; return its init pid.
fn sleeper(e: &Env, id: &str) -> i64 {
    let mut c = e.config(&["sleep", "600"]);
    c["hostname"] = json!("exec-host");
    e.run_detached(c, id)
}

fn ns_links(pid: &str) -> Vec<String> {
    ["mnt", "uts", "ipc", "net", "pid", "cgroup"]
        .iter()
        .map(|n| {
            std::fs::read_link(format!("/proc/{pid}/ns/{n}"))
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[test]
fn exec_joins_every_namespace_and_the_cgroup() {
    let e = Env::new("exec-ns");
    let init = sleeper(&e, "x");
    let out = e.husk(&[
        "exec",
        "x",
        "sh",
        "-c",
        "for n in mnt uts ipc net pid cgroup; do readlink /proc/self/ns/$n; done; hostname",
    ]);
    let lines: Vec<String> = out.ok().lines().map(String::from).collect();
    assert_eq!(&lines[..6], &ns_links(&init.to_string())[..]);
    assert_ne!(
        lines[..6],
        ns_links("self")[..],
        "the container must not share our namespaces"
    );
    assert_eq!(lines[6], "exec-host");

    // A detached exec: its pid file names a process inside the container.
    let pidfile = e.dir.join("exec.pid");
    e.husk(&[
        "exec",
        "-d",
        "--pid-file",
        pidfile.to_str().unwrap(),
        "x",
        "sleep",
        "300",
    ])
    .ok();
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    assert!(alive(pid.parse().unwrap()));
    assert_eq!(ns_links(&pid), ns_links(&init.to_string()));
    let cg = |p: &str| std::fs::read_to_string(format!("/proc/{p}/cgroup")).unwrap();
    assert_eq!(cg(&pid), cg(&init.to_string()));
    assert!(cg(&pid).contains(&e.cgroup_parent), "{}", cg(&pid));
    // The container's view: both processes are there, init as pid 1.
    let ps = e.husk(&["exec", "x", "ps"]);
    assert!(ps.ok().contains("sleep 300"), "{}", ps.stdout);
    assert!(ps
        .stdout
        .lines()
        .any(|l| l.trim_start().starts_with("1 ") && l.contains("sleep 600")));
}

#[test]
fn exit_codes_env_cwd_user_and_caps() {
    let e = Env::new("exec-proc");
    sleeper(&e, "p");
    assert_eq!(e.husk(&["exec", "p", "sh", "-c", "exit 7"]).code, 7);
    let o = e.husk(&[
        "exec",
        "-e",
        "FOO=bar",
        "--cwd",
        "/tmp",
        "p",
        "sh",
        "-c",
        "echo $FOO; pwd",
    ]);
    assert_eq!(o.ok(), "bar\n/tmp\n");
    let o = e.husk(&["exec", "--user", "1000:1001", "-g", "5", "p", "id"]);
    assert!(o.ok().contains("uid=1000 gid=1001"), "{}", o.stdout);
    assert!(o.stdout.contains("groups=5"), "{}", o.stdout);
    // The default caps lack CAP_SYS_ADMIN (bit 21); --cap adds it.
    let eff = |args: &[&str]| {
        let o = e.husk(args);
        let line = o
            .ok()
            .lines()
            .find(|l| l.starts_with("CapEff"))
            .unwrap()
            .to_string();
        u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    assert_eq!(
        eff(&["exec", "p", "grep", "CapEff", "/proc/self/status"]) & (1 << 21),
        0
    );
    assert_ne!(
        eff(&[
            "exec",
            "--cap",
            "CAP_SYS_ADMIN",
            "p",
            "grep",
            "CapEff",
            "/proc/self/status"
        ]) & (1 << 21),
        0
    );
    let o = e.husk(&[
        "exec",
        "--no-new-privs",
        "p",
        "grep",
        "NoNewPrivs",
        "/proc/self/status",
    ]);
    assert!(o.ok().contains('1'));
}

#[test]
fn process_json_file() {
    let e = Env::new("exec-pj");
    sleeper(&e, "pj");
    let p = e.dir.join("process.json");
    let proc_json = json!({
        "args": ["sh", "-c", "echo $GREETING; id -u"],
        "env": ["GREETING=from-process-json", "PATH=/bin"],
        "cwd": "/",
        "user": {"uid": 42, "gid": 42}
    });
    std::fs::write(&p, proc_json.to_string()).unwrap();
    let o = e.husk(&["exec", "--process", p.to_str().unwrap(), "pj"]);
    assert_eq!(o.ok(), "from-process-json\n42\n");
}

#[test]
fn errors_like_runc() {
    let e = Env::new("exec-err");
    let init = sleeper(&e, "er");
    let o = e.husk(&["exec", "er", "no-such-command"]);
    assert_eq!(o.code, 255);
    assert!(
        o.stderr.contains("executable file not found in $PATH"),
        "{}",
        o.stderr
    );
    let o = e.husk(&["exec", "nosuch", "true"]);
    assert_eq!(o.code, 255);
    assert!(o.stderr.contains("does not exist"), "{}", o.stderr);
    e.husk(&["kill", "er", "KILL"]).ok();
    wait_gone(init);
    let o = e.husk(&["exec", "er", "true"]);
    assert_eq!(o.code, 255);
    assert!(o.stderr.contains("stopped"), "{}", o.stderr);
}

#[test]
fn differential_exit_codes_against_runc() {
    let e = Env::new("exec-runc");
    sleeper(&e, "h");
    // The same bundle under runc, with its own root and cgroup.
    let runc_root = e.dir.join("runc-root");
    let mut c = e.config(&["sleep", "600"]);
    c["linux"]["cgroupsPath"] = json!(format!("{}/runc-r", e.cgroup_parent));
    std::fs::write(e.bundle().join("config.json"), c.to_string()).unwrap();
    let runc = |args: &[&str]| {
        let o = std::process::Command::new("runc")
            .arg("--root")
            .arg(&runc_root)
            .args(args)
            .current_dir(e.bundle())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        o.code().unwrap()
    };
    assert_eq!(runc(&["run", "-d", "r"]), 0);
    for args in [
        vec!["sh", "-c", "exit 3"],
        vec!["no-such-command"],
        vec!["true"],
    ] {
        let mut h = vec!["exec", "h"];
        h.extend(&args);
        let mut r = vec!["exec", "r"];
        r.extend(&args);
        assert_eq!(e.husk(&h).code, runc(&r), "exec {args:?}");
    }
    assert_eq!(
        e.husk(&["exec", "nope", "true"]).code,
        runc(&["exec", "nope", "true"])
    );
    runc(&["delete", "--force", "r"]);
}

#[test]
fn exec_into_a_paused_container() {
    let e = Env::new("exec-paused");
    sleeper(&e, "pz");
    e.husk(&["pause", "pz"]).ok();
    let o = e.husk(&["exec", "pz", "true"]);
    assert_eq!(o.code, 255);
    assert!(o.stderr.contains("paused"), "{}", o.stderr);
    // --ignore-paused: the process is created (detached: it cannot run
    // until resume), and runs once the container is resumed.
    let pidfile = e.dir.join("p.pid");
    e.husk(&[
        "exec",
        "--ignore-paused",
        "-d",
        "--pid-file",
        pidfile.to_str().unwrap(),
        "pz",
        "sleep",
        "100",
    ])
    .ok();
    e.husk(&["resume", "pz"]).ok();
    let pid: i64 = std::fs::read_to_string(&pidfile).unwrap().parse().unwrap();
    assert!(alive(pid));
    assert_eq!(e.status("pz"), "running");
}

#[test]
fn exec_joins_user_and_time_namespaces() {
    let e = Env::new("exec-usertime");
    let mut c = e.config(&["sleep", "600"]);
    let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
    ns.push(json!({"type": "user"}));
    ns.push(json!({"type": "time"}));
    c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    c["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 86400}, "boottime": {"secs": 86400}});
    let init = e.run_detached(c, "ut").to_string();
    let link = |p: &str, n: &str| {
        std::fs::read_link(format!("/proc/{p}/ns/{n}"))
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };
    let o = e.husk(&["exec", "ut", "sh", "-c", "readlink /proc/self/ns/user; readlink /proc/self/ns/time; cat /proc/self/uid_map; id -u; cut -d. -f1 /proc/uptime"]);
    let lines: Vec<&str> = o.ok().lines().collect();
    assert_eq!(lines[0], link(&init, "user"));
    assert_eq!(lines[1], link(&init, "time"));
    assert_ne!(lines[0], link("self", "user"));
    assert_ne!(lines[1], link("self", "time"));
    assert_eq!(
        lines[2].split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
    assert_eq!(lines[3], "0");
    let host_up: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let inside: f64 = lines[4].trim().parse().unwrap();
    assert!(
        inside >= host_up + 86000.0,
        "uptime inside {inside}, host {host_up}"
    );
}

#[test]
fn exec_pid_file_names_the_process_every_time() {
    // Joining the pid namespace takes a middle process: its report of the
    // process's pid must reach husk before the process says it is ready,
    // or husk took the middle's pid (and failed on the late report).
    let e = Env::new("exec-race");
    sleeper(&e, "r");
    for i in 0..40 {
        let pidfile = e.dir.join(format!("r{i}.pid"));
        e.husk(&[
            "exec",
            "-d",
            "--pid-file",
            pidfile.to_str().unwrap(),
            "r",
            "sleep",
            "120",
        ])
        .ok();
        let pid: i64 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        assert!(alive(pid), "exec {i}: pid {pid} is gone");
        assert_eq!(cmdline, b"sleep\x00120\x00", "exec {i}: pid {pid}");
    }
}
