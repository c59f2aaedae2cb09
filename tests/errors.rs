//! Bad configs and interrupted creates: `create` fails with a message that
//! names the JSON path or file, writes it as runc does to a `--log-format
//! json` file, and leaves nothing behind (no state dir, cgroup or process);
//! a `create` killed half-way is cleaned up by `delete --force`.

mod common;
use common::{alive, Env, Out};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Stdio};

fn create(e: &Env, id: &str) -> Out {
    let b = e.bundle();
    e.husk(&["create", "--bundle", b.to_str().unwrap(), id])
}

/// Pids of live processes in any cgroup under the test's cgroup parent.
fn procs_in_test_cgroups(e: &Env) -> Vec<String> {
    let mut out = Vec::new();
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = p.file_name().to_string_lossy().into_owned();
        let Ok(pid) = name.parse::<i64>() else {
            continue;
        };
        let cg = std::fs::read_to_string(p.path().join("cgroup")).unwrap_or_default();
        if cg.contains(&format!("{}/", e.cgroup_parent)) && alive(pid) {
            out.push(format!("{pid}: {cg}"));
        }
    }
    out
}

/// Nothing of container `id` is left: no state dir, no cgroup, no process.
fn assert_nothing_left(e: &Env, id: &str) {
    assert!(!e.root.join(id).exists(), "state dir of {id} left");
    assert_ne!(e.husk(&["state", id]).code, 0);
    for p in e.cgroup_leftovers() {
        let children: Vec<_> = std::fs::read_dir(&p)
            .map(|d| d.flatten().filter(|x| x.path().is_dir()).collect())
            .unwrap_or_default();
        assert!(children.is_empty(), "cgroup of {id} left: {children:?}");
    }
    assert_eq!(procs_in_test_cgroups(e), Vec::<String>::new());
}

/// `create` of `config` fails, saying each of `want`, and leaves nothing.
fn fails(e: &Env, id: &str, config: Value, want: &[&str]) {
    e.write(config, id);
    let o = create(e, id);
    assert_eq!(o.code, 1, "{id}: {o:?}", o = (&o.stdout, &o.stderr));
    // The text log line quotes msg as a Go %q string does.
    let text = o.stderr.replace("\\\"", "\"");
    for w in want {
        assert!(text.contains(w), "{id}: want {w:?} in {}", o.stderr);
    }
    assert_nothing_left(e, id);
}

fn mounts_len(c: &Value) -> usize {
    c["mounts"].as_array().unwrap().len()
}

#[test]
fn invalid_json_names_the_file() {
    let e = Env::new("badjson");
    let cfg = e.bundle().join("config.json");
    std::fs::write(&cfg, "{\"ociVersion\": \"1.3.0\", bad").unwrap();
    let o = create(&e, "j1");
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains(cfg.to_str().unwrap()), "{}", o.stderr);
    assert!(o.stderr.contains("invalid JSON"), "{}", o.stderr);
    assert_nothing_left(&e, "j1");
}

#[test]
fn unknown_namespace_type() {
    let e = Env::new("badns");
    let mut c = e.config(&["true"]);
    c["linux"]["namespaces"][0]["type"] = json!("bogus");
    fails(&e, "n1", c, &["linux.namespaces[0].type", "bogus"]);
}

#[test]
fn empty_args() {
    let e = Env::new("noargs");
    let mut c = e.config(&["true"]);
    c["process"]["args"] = json!([]);
    fails(&e, "a1", c, &["process.args"]);
}

#[test]
fn relative_mount_destination() {
    let e = Env::new("reldest");
    let mut c = e.config(&["true"]);
    c["mounts"][0]["destination"] = json!("proc");
    fails(&e, "m1", c, &["mounts[0].destination", "absolute"]);
}

#[test]
fn missing_root_path() {
    let e = Env::new("noroot");
    let mut c = e.config(&["true"]);
    let missing = e.dir.join("no-such-rootfs");
    c["root"]["path"] = json!(missing);
    fails(&e, "r1", c, &["root.path", missing.to_str().unwrap()]);
}

#[test]
fn missing_mount_source() {
    let e = Env::new("nosource");
    let mut c = e.config(&["true"]);
    let n = mounts_len(&c);
    let missing = e.dir.join("no-such-dir");
    c["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/tmp", "type": "bind", "source": missing, "options": ["bind"]
    }));
    fails(
        &e,
        "s1",
        c,
        &[&format!("mounts[{n}].source"), missing.to_str().unwrap()],
    );
}

#[test]
fn unknown_filesystem_type_fails_in_the_child() {
    let e = Env::new("nosuchfs");
    let mut c = e.config(&["true"]);
    let n = mounts_len(&c);
    c["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/tmp", "type": "nosuchfs", "source": "none"
    }));
    fails(&e, "f1", c, &[&format!("mounts[{n}]"), "nosuchfs", "/tmp"]);
}

#[test]
fn missing_executable() {
    let e = Env::new("noexe");
    let c = e.config(&["nope"]);
    fails(
        &e,
        "x1",
        c,
        &["exec: \"nope\": executable file not found in $PATH"],
    );
    // The same from `run`.
    let o = e.run(e.config(&["/bin/nope"]), "x2");
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("/bin/nope"), "{}", o.stderr);
    assert_nothing_left(&e, "x2");
}

/// Run `runtime` with a JSON log file; return the file's lines as JSON.
fn json_log(runtime: &str, root: &Path, bundle: &Path, log: &Path, id: &str) -> Vec<Value> {
    let o = Command::new(runtime)
        .arg("--root")
        .arg(root)
        .arg("--log")
        .arg(log)
        .args(["--log-format", "json", "create", "--bundle"])
        .arg(bundle)
        .arg(id)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{runtime}: {o:?}");
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{runtime}: {l:?}: {e}")))
        .collect()
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[test]
fn json_log_line_like_runc() {
    let e = Env::new("jsonlog");
    let mut c = e.config(&["true"]);
    c["linux"]["namespaces"][0]["type"] = json!("bogus");
    e.write(c, "l1");
    let husk = json_log(
        common::husk_bin(),
        &e.root,
        &e.bundle(),
        &e.dir.join("husk.log"),
        "l1",
    );
    let runc = json_log(
        "runc",
        &e.dir.join("runc-state"),
        &e.bundle(),
        &e.dir.join("runc.log"),
        "l1",
    );
    // containerd reads the last line.
    let (h, r) = (husk.last().unwrap(), runc.last().unwrap());
    assert_eq!(keys(h), keys(r), "husk {h} runc {r}");
    assert_eq!(keys(h), ["level", "msg", "time"]);
    assert_eq!(h["level"], "error");
    assert_eq!(h["level"], r["level"]);
    assert!(
        h["msg"]
            .as_str()
            .unwrap()
            .contains("linux.namespaces[0].type"),
        "{h}"
    );
    let t = h["time"].as_str().unwrap();
    assert!(
        t.len() == 20 && t.ends_with('Z') && t.as_bytes()[10] == b'T',
        "{t}"
    );
    assert_nothing_left(&e, "l1");
}

#[test]
fn create_killed_half_way_is_removed_by_delete_force() {
    let e = Env::new("killed");
    let marks = e.dir.join("marks");
    std::fs::create_dir(&marks).unwrap();
    let m = marks.to_str().unwrap();
    let mut c = e.config(&["sleep", "60"]);
    // The hook saves the state (the init's pid) and its own pid, then waits.
    // A container that never finished create was never started: no poststop.
    c["hooks"] = json!({"createRuntime": [{
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("cat > {m}/state.json; echo $$ > {m}/hook.pid; exec sleep 30")],
        "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
    }], "poststop": [{
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("touch {m}/poststop")],
    }]});
    e.write(c, "k1");
    let b = e.bundle();
    let mut child = e
        .cmd(&["create", "--bundle", b.to_str().unwrap(), "k1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    struct KillHook(std::path::PathBuf);
    impl Drop for KillHook {
        fn drop(&mut self) {
            if let Ok(pid) = std::fs::read_to_string(&self.0) {
                let _ = Command::new("kill").args(["-9", pid.trim()]).status();
            }
        }
    }
    let _hook = KillHook(marks.join("hook.pid"));
    let t = std::time::Instant::now();
    while !marks.join("hook.pid").exists() {
        assert!(t.elapsed().as_secs() < 20, "the hook never ran");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let st: Value =
        serde_json::from_str(&std::fs::read_to_string(marks.join("state.json")).unwrap()).unwrap();
    let init = st["pid"].as_i64().unwrap();
    assert!(init > 0);
    // Something is left, and husk knows about it.
    assert!(e.root.join("k1").exists());
    let l = e.husk(&["list"]);
    assert!(l.ok().contains("k1"), "{}", l.stdout);

    let o = e.husk(&["delete", "--force", "k1"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!alive(init), "the half-made init {init} is alive");
    assert!(!marks.join("poststop").exists(), "poststop ran");
    assert_nothing_left(&e, "k1");
}
