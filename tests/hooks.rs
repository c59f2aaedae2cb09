//! OCI hooks as a user sees them: each kind runs at its point with the
//! state JSON on stdin, in order across create/start/delete; failing and
//! timed-out hooks fail the command (or only warn, for poststop) and leave
//! nothing behind.

mod common;
use common::{alive, Env, Out};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const HOOK_ENV: &str = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";

/// A hook running `script` with /bin/sh (of the host, or of the container
/// for startContainer).
fn hook(script: &str) -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", script], "env": [HOOK_ENV]})
}

/// A hook that saves its stdin to DIR/NAME.json and appends NAME to DIR/order.
fn recorder(dir: &str, name: &str) -> Value {
    hook(&format!(
        "cat > {dir}/{name}.json; echo {name} >> {dir}/order"
    ))
}

fn hooks_dir(e: &Env) -> PathBuf {
    let d = e.dir.join("hooks");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn create(e: &Env, id: &str) -> Out {
    let b = e.bundle();
    e.husk(&["create", "--bundle", b.to_str().unwrap(), id])
}

fn read_json(p: &Path) -> Value {
    let s = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("{}: {e}: {s:?}", p.display()))
}

fn order(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("order"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

/// Bounded wait until `pid` is gone.
fn wait_gone(pid: i64) -> bool {
    let t = std::time::Instant::now();
    while alive(pid) && t.elapsed().as_secs() < 20 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    !alive(pid)
}

fn wait_status(e: &Env, id: &str, want: &str) {
    let t = std::time::Instant::now();
    while t.elapsed().as_secs() < 20 {
        if e.status(id) == want {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{id} never became {want}");
}

/// No container cgroup is left under the test's cgroup parent.
fn assert_no_cgroups(e: &Env) {
    for p in e.cgroup_leftovers() {
        let children: Vec<_> = std::fs::read_dir(&p)
            .map(|d| d.flatten().filter(|x| x.path().is_dir()).collect())
            .unwrap_or_default();
        assert!(children.is_empty(), "cgroup left: {children:?}");
    }
}

#[test]
fn every_hook_runs_at_its_point_with_the_state() {
    let e = Env::new("hookall");
    let h = hooks_dir(&e);
    let hs = h.to_str().unwrap();
    // The program and startContainer see the host dir at /tmp.
    let mut c = e.config(&["sh", "-c", "echo program >> /tmp/order"]);
    c["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/tmp", "type": "bind", "source": h, "options": ["rbind"]
    }));
    c["hooks"] = json!({
        "prestart": [recorder(hs, "prestart")],
        "createRuntime": [recorder(hs, "createRuntime")],
        "createContainer": [recorder(hs, "createContainer")],
        "startContainer": [recorder("/tmp", "startContainer")],
        "poststart": [recorder(hs, "poststart")],
        "poststop": [recorder(hs, "poststop")],
    });
    e.write(c, "h1");
    create(&e, "h1").ok();
    assert_eq!(
        order(&h),
        ["prestart", "createRuntime", "createContainer"],
        "after create"
    );
    let st = e.state("h1");
    let pid = st["pid"].as_i64().unwrap();
    let bundle = e.bundle().canonicalize().unwrap();
    for name in ["prestart", "createRuntime", "createContainer"] {
        let s = read_json(&h.join(format!("{name}.json")));
        assert_eq!(s["id"], "h1", "{name}: {s}");
        assert_eq!(s["status"], "creating", "{name}: {s}");
        assert_eq!(s["ociVersion"], st["ociVersion"], "{name}: {s}");
        assert_eq!(s["bundle"], json!(bundle), "{name}: {s}");
        assert!(s["pid"].as_i64().unwrap() > 0, "{name}: {s}");
    }
    // The runtime's own hooks know the init's host pid.
    for name in ["prestart", "createRuntime"] {
        let s = read_json(&h.join(format!("{name}.json")));
        assert_eq!(s["pid"].as_i64(), Some(pid), "{name}: {s}");
    }

    e.husk(&["start", "h1"]).ok();
    wait_status(&e, "h1", "stopped");
    let o = order(&h);
    assert_eq!(o.len(), 6, "{o:?}");
    assert_eq!(o[..3], ["prestart", "createRuntime", "createContainer"]);
    // startContainer runs in the container before the program.
    let sc = o
        .iter()
        .position(|x| x == "startContainer")
        .expect("startContainer ran");
    let prog = o.iter().position(|x| x == "program").expect("program ran");
    assert!(sc < prog, "{o:?}");
    assert!(o.contains(&"poststart".to_string()), "{o:?}");
    let s = read_json(&h.join("startContainer.json"));
    assert_eq!(s["id"], "h1");
    assert_eq!(s["status"], "created", "{s}");
    let s = read_json(&h.join("poststart.json"));
    assert_eq!(s["status"], "running", "{s}");
    assert_eq!(s["pid"].as_i64(), Some(pid), "{s}");
    assert!(!h.join("poststop.json").exists());

    e.husk(&["delete", "h1"]).ok();
    let o = order(&h);
    assert_eq!(o.last().map(String::as_str), Some("poststop"), "{o:?}");
    assert_eq!(o.len(), 7, "{o:?}");
    let s = read_json(&h.join("poststop.json"));
    assert_eq!(s["id"], "h1");
    assert_eq!(s["status"], "stopped", "{s}");
    assert!(!e.root.join("h1").exists());
}

#[test]
fn run_runs_the_hooks_too() {
    let e = Env::new("hookrun");
    let h = hooks_dir(&e);
    let hs = h.to_str().unwrap();
    let mut c = e.config(&["true"]);
    c["hooks"] = json!({
        "prestart": [recorder(hs, "prestart")],
        "createRuntime": [recorder(hs, "createRuntime")],
        "createContainer": [recorder(hs, "createContainer")],
        "poststart": [recorder(hs, "poststart")],
        "poststop": [recorder(hs, "poststop")],
    });
    e.run(c, "r1").ok();
    let o = order(&h);
    assert_eq!(
        o[..3],
        ["prestart", "createRuntime", "createContainer"],
        "{o:?}"
    );
    assert_eq!(o.last().map(String::as_str), Some("poststop"), "{o:?}");
    assert!(o.contains(&"poststart".to_string()), "{o:?}");
    assert!(!e.root.join("r1").exists());
}

/// A create whose `kind` hook fails leaves no state, cgroup or process.
fn failing_runtime_hook(kind: &str, script: &str, expect: &str) {
    let e = Env::new(&format!("hookfail-{kind}"));
    let h = hooks_dir(&e);
    let hs = h.to_str().unwrap();
    let mut c = e.config(&["sleep", "60"]);
    c["hooks"] = json!({
        kind: [recorder(hs, "first"), hook(&format!("cat > {hs}/state.json; {script}"))],
        "poststart": [recorder(hs, "poststart")],
    });
    e.write(c, "f1");
    let o = create(&e, "f1");
    assert_ne!(o.code, 0, "{kind}: create succeeded");
    assert!(
        o.stderr.contains(&format!("hooks.{kind}[1]")),
        "{kind}: {}",
        o.stderr
    );
    assert!(o.stderr.contains(expect), "{kind}: {}", o.stderr);
    assert_eq!(order(&h), ["first"]);
    assert!(!e.root.join("f1").exists(), "{kind}: state dir left");
    assert_ne!(e.husk(&["state", "f1"]).code, 0);
    let pid = read_json(&h.join("state.json"))["pid"].as_i64().unwrap();
    assert!(pid > 0);
    assert!(wait_gone(pid), "{kind}: init {pid} still alive");
    assert_no_cgroups(&e);
}

#[test]
fn failing_prestart_hook_fails_create() {
    failing_runtime_hook("prestart", "exit 3", "exit status: 3");
}

#[test]
fn failing_create_runtime_hook_fails_create() {
    failing_runtime_hook("createRuntime", "exit 4", "exit status: 4");
}

#[test]
fn hook_timeout_fails_create() {
    let e = Env::new("hooktimeout");
    let mut c = e.config(&["sleep", "60"]);
    let mut hk = hook("exec sleep 10");
    hk["timeout"] = json!(1);
    c["hooks"] = json!({ "createRuntime": [hk] });
    e.write(c, "t1");
    let o = create(&e, "t1");
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("hooks.createRuntime[0]"), "{}", o.stderr);
    assert!(o.stderr.contains("timed out"), "{}", o.stderr);
    assert!(!e.root.join("t1").exists());
    assert_no_cgroups(&e);
}

#[test]
fn failing_create_container_hook_fails_create() {
    let e = Env::new("hookcc");
    let mut c = e.config(&["sleep", "60"]);
    c["hooks"] = json!({ "createContainer": [hook("exit 5")] });
    e.write(c, "cc1");
    let o = create(&e, "cc1");
    assert_ne!(o.code, 0);
    assert!(
        o.stderr.contains("hooks.createContainer[0]"),
        "{}",
        o.stderr
    );
    assert!(!e.root.join("cc1").exists());
    assert_no_cgroups(&e);
}

#[test]
fn failing_poststart_hook_fails_start_and_kills_the_container() {
    let e = Env::new("hookpoststart");
    let mut c = e.config(&["sleep", "60"]);
    c["hooks"] = json!({ "poststart": [hook("exit 6")] });
    e.write(c, "ps1");
    create(&e, "ps1").ok();
    let pid = e.state("ps1")["pid"].as_i64().unwrap();
    let o = e.husk(&["start", "ps1"]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("hooks.poststart[0]"), "{}", o.stderr);
    assert!(wait_gone(pid), "the container still runs");
    assert_eq!(e.status("ps1"), "stopped");
    e.husk(&["delete", "ps1"]).ok();
    assert_no_cgroups(&e);
}

#[test]
fn failing_poststop_hook_only_warns() {
    let e = Env::new("hookpoststop");
    let h = hooks_dir(&e);
    let hs = h.to_str().unwrap();
    let mut c = e.config(&["true"]);
    c["hooks"] = json!({ "poststop": [hook("exit 7"), recorder(hs, "second")] });
    e.write(c, "pp1");
    create(&e, "pp1").ok();
    e.husk(&["start", "pp1"]).ok();
    wait_status(&e, "pp1", "stopped");
    let o = e.husk(&["delete", "pp1"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("hooks.poststop[0]"), "{}", o.stderr);
    assert!(o.stderr.contains("level=warning"), "{}", o.stderr);
    // The hooks after the failing one still run.
    assert_eq!(order(&h), ["second"]);
    assert!(!e.root.join("pp1").exists());
    assert_no_cgroups(&e);
}

#[test]
fn poststart_runs_after_the_program_started() {
    let e = Env::new("hooks-poststart-after");
    let d = hooks_dir(&e);
    let dir = d.to_str().unwrap();
    let mut c = e.config(&["sleep", "60"]);
    // The hook reads the init's pid from its stdin and records what that
    // process runs: the program itself, not husk's init still setting up.
    // A slow startContainer hook widens the window between `start` and exec.
    c["hooks"] = json!({
        "startContainer": [hook("sleep 0.5")],
        "poststart": [hook(&format!(
            "pid=$(sed 's/.*\"pid\":\\([0-9]*\\).*/\\1/'); cat /proc/$pid/comm > {dir}/comm"
        ))]
    });
    e.write(c, "ps1");
    create(&e, "ps1").ok();
    e.husk(&["start", "ps1"]).ok();
    assert_eq!(
        std::fs::read_to_string(d.join("comm")).unwrap().trim(),
        "sleep"
    );
}
