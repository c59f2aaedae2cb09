//! The OCI lifecycle through the CLI, as a user types it.

mod common;
use common::{alive, wait_catches, wait_gone, Env};
use serde_json::json;

#[test]
fn hello_world_from_the_talk() {
    let e = Env::new("hello");
    let c = e.config(&["sh", "-c", "echo Hallo Augsburg"]);
    let o = e.run(c, "hello");
    assert_eq!(o.ok(), "Hallo Augsburg\n");
    // A foreground run without --keep leaves nothing behind.
    assert!(!e.root.join("hello").exists());
    assert!(e
        .cgroup_leftovers()
        .iter()
        .all(|p| std::fs::read_dir(p).map(|d| d.count() == 0).unwrap_or(true)));
}

#[test]
fn create_start_state_list_delete() {
    let e = Env::new("cycle");
    e.write(e.config(&["sleep", "60"]), "c1");
    let b = e.bundle();
    let pidfile = e.dir.join("pid");
    e.husk(&[
        "create",
        "--bundle",
        b.to_str().unwrap(),
        "--pid-file",
        pidfile.to_str().unwrap(),
        "c1",
    ])
    .ok();
    let st = e.state("c1");
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], "c1");
    assert_eq!(st["bundle"], json!(b.canonicalize().unwrap()));
    assert_eq!(st["ociVersion"], "1.3.0");
    let pid = st["pid"].as_i64().unwrap();
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap(), pid.to_string());
    assert!(alive(pid));
    // Before start the user program has not run: the init is still husk.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "husk");

    let list = e.husk(&["list"]);
    let lines: Vec<&str> = list.ok().lines().collect();
    assert!(lines[0].starts_with("ID "), "{list:?}", list = lines);
    assert!(lines[1].starts_with("c1 ") && lines[1].contains("created"));
    let q = e.husk(&["list", "-q"]);
    assert_eq!(q.ok(), "c1\n");

    e.husk(&["start", "c1"]).ok();
    assert_eq!(e.status("c1"), "running");
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "sleep");
    // A second start is refused.
    let again = e.husk(&["start", "c1"]);
    assert_ne!(again.code, 0);

    let del = e.husk(&["delete", "c1"]);
    assert_ne!(del.code, 0, "delete of a running container must fail");
    assert!(del.stderr.contains("not stopped"), "{}", del.stderr);

    e.husk(&["kill", "c1", "KILL"]).ok();
    // kill returns once the signal is sent; wait for the process to go.
    let pidfd_wait = std::time::Instant::now();
    while alive(pid) && pidfd_wait.elapsed().as_secs() < 10 {
        std::thread::yield_now();
    }
    assert_eq!(e.status("c1"), "stopped");
    e.husk(&["delete", "c1"]).ok();
    assert!(!e.root.join("c1").exists());
    assert!(e.husk(&["state", "c1"]).code != 0);
    assert!(!e.cgroup_dir("memory", "c1").exists());
}

#[test]
fn list_json() {
    let e = Env::new("listjson");
    e.write(e.config(&["sleep", "60"]), "j1");
    let b = e.bundle();
    e.husk(&["create", "--bundle", b.to_str().unwrap(), "j1"])
        .ok();
    let o = e.husk(&["list", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(o.ok()).unwrap();
    assert_eq!(v[0]["id"], "j1");
    assert_eq!(v[0]["status"], "created");
    assert_eq!(v[0]["owner"], "root");
    e.husk(&["delete", "j1"]).ok();
    assert_eq!(e.husk(&["list", "--format", "json"]).ok().trim(), "[]");
}

#[test]
fn exit_codes_and_signals() {
    let e = Env::new("exit");
    assert_eq!(e.run(e.config(&["sh", "-c", "exit 42"]), "x1").code, 42);
    assert_eq!(e.run(e.config(&["true"]), "x3").code, 0);
}

/// Wait (bounded) until `husk state id` says `status`.
fn wait_status(e: &Env, id: &str, status: &str) {
    let t = std::time::Instant::now();
    while t.elapsed().as_secs() < 20 {
        let o = e.husk(&["state", id]);
        if o.code == 0 && o.stdout.contains(&format!("\"status\": \"{status}\"")) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("{id} never became {status}");
}

#[test]
fn foreground_run_forwards_signals_and_reports_128_plus_n() {
    let e = Env::new("fwd");
    // SIGTERM to husk reaches the container's init, whose trap exits 3.
    e.write(
        e.config(&[
            "sh",
            "-c",
            "trap 'exit 3' TERM; while :; do sleep 0.1; done",
        ]),
        "f1",
    );
    let b = e.bundle();
    let mut child = e
        .cmd(&["run", "--bundle", b.to_str().unwrap(), "f1"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_status(&e, "f1", "running");
    wait_catches(e.state("f1")["pid"].as_i64().unwrap(), &[libc::SIGTERM]);
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(3));

    // A container killed by SIGKILL: `run` exits 128+9.
    e.write(e.config(&["sleep", "60"]), "f2");
    let mut child = e
        .cmd(&["run", "--bundle", b.to_str().unwrap(), "f2"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_status(&e, "f2", "running");
    e.husk(&["kill", "f2", "KILL"]).ok();
    assert_eq!(child.wait().unwrap().code(), Some(128 + 9));
    assert!(!e.root.join("f2").exists());
}

#[test]
fn start_of_a_dead_init_fails_clearly() {
    let e = Env::new("deadinit");
    e.write(e.config(&["true"]), "d1");
    let b = e.bundle();
    e.husk(&["create", "--bundle", b.to_str().unwrap(), "d1"])
        .ok();
    let pid = e.state("d1")["pid"].as_i64().unwrap();
    unsafe_kill(pid);
    let o = e.husk(&["start", "d1"]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("stopped"), "{}", o.stderr);
    e.husk(&["delete", "d1"]).ok();
}

fn unsafe_kill(pid: i64) {
    let st = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    wait_gone(pid);
}

#[test]
fn run_detached_with_pid_file() {
    let e = Env::new("detach");
    e.write(e.config(&["sleep", "60"]), "dd");
    let b = e.bundle();
    let pidfile = e.dir.join("dd.pid");
    e.husk(&[
        "run",
        "-d",
        "--bundle",
        b.to_str().unwrap(),
        "--pid-file",
        pidfile.to_str().unwrap(),
        "dd",
    ])
    .ok();
    let pid: i64 = std::fs::read_to_string(&pidfile).unwrap().parse().unwrap();
    assert_eq!(e.status("dd"), "running");
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "sleep");
    e.husk(&["delete", "--force", "dd"]).ok();
    assert!(!alive(pid));
    assert!(!e.root.join("dd").exists());
    assert!(!e.cgroup_dir("pids", "dd").exists());
}

#[test]
fn kill_by_name_number_and_default() {
    let e = Env::new("kill");
    for (i, sig) in [Some("SIGUSR1"), Some("10"), Some("usr1"), None]
        .iter()
        .enumerate()
    {
        let id = format!("k{i}");
        // The shell reports the signal it got through its exit code.
        let pid = e.run_detached(
            e.config(&[
                "sh",
                "-c",
                "trap 'exit 7' USR1; trap 'exit 9' TERM; while :; do sleep 1; done",
            ]),
            &id,
        );
        wait_catches(pid, &[libc::SIGUSR1, libc::SIGTERM]);
        let mut args = vec!["kill", id.as_str()];
        if let Some(s) = sig {
            args.push(s);
        }
        e.husk(&args).ok();
        wait_gone(pid);
        assert_eq!(e.status(&id), "stopped");
        e.husk(&["delete", &id]).ok();
    }
    assert_ne!(e.husk(&["kill", "nope", "KILL"]).code, 0);
}

#[test]
fn ids_are_validated() {
    let e = Env::new("ids");
    e.write(e.config(&["true"]), "ok");
    let b = e.bundle();
    for bad in ["../evil", "a/b", ".."] {
        let o = e.husk(&["create", "--bundle", b.to_str().unwrap(), bad]);
        assert_ne!(o.code, 0, "{bad} accepted");
        assert!(o.stderr.contains("invalid container id"), "{}", o.stderr);
    }
    assert!(!e.dir.join("evil").exists());
    let o = e.husk(&["state", "../x"]);
    assert_ne!(o.code, 0);
}

#[test]
fn duplicate_id_is_refused_and_keeps_the_first() {
    let e = Env::new("dup");
    e.write(e.config(&["sleep", "60"]), "same");
    let b = e.bundle();
    e.husk(&["create", "--bundle", b.to_str().unwrap(), "same"])
        .ok();
    let o = e.husk(&["create", "--bundle", b.to_str().unwrap(), "same"]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("exists"), "{}", o.stderr);
    assert_eq!(e.status("same"), "created");
}

#[test]
fn run_keep_leaves_a_stopped_container() {
    let e = Env::new("keep");
    e.write(e.config(&["true"]), "kept");
    let b = e.bundle();
    e.husk(&["run", "--keep", "--bundle", b.to_str().unwrap(), "kept"])
        .ok();
    assert_eq!(e.status("kept"), "stopped");
    e.husk(&["delete", "kept"]).ok();
}

#[test]
fn version_and_features() {
    let e = Env::new("ver");
    let v = e.husk(&["--version"]);
    assert!(v.ok().contains("spec: 1.3.0"));
    let f: serde_json::Value = serde_json::from_str(e.husk(&["features"]).ok()).unwrap();
    assert_eq!(f["ociVersionMax"], "1.3.0");
    assert!(f["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .contains(&json!("time")));
    assert_eq!(f["linux"]["seccomp"]["enabled"], true);
    assert!(f["linux"]["seccomp"]["actions"]
        .as_array()
        .unwrap()
        .contains(&json!("SCMP_ACT_NOTIFY")));
    assert!(f["hooks"]
        .as_array()
        .unwrap()
        .contains(&json!("createContainer")));
}
