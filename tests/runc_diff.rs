//! husk side by side with runc on the same config: what managers parse
//! (state and list JSON, the list table, spec) and exit codes and errors.

mod common;
use common::{Env, Out};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// runc with its own --root and bundle (named like husk's, same length),
/// force-deleting its containers when dropped (before the Env goes).
struct Runc {
    root: PathBuf,
    bundle: PathBuf,
    cgroup_parent: String,
}

impl Runc {
    fn new(e: &Env) -> Runc {
        let bundle = e.dir.join("bundlr");
        std::fs::create_dir_all(&bundle).unwrap();
        Runc {
            root: e.dir.join("runc-state"),
            bundle,
            cgroup_parent: e.cgroup_parent.clone(),
        }
    }

    /// Write `config` for runc's container `id` (its own cgroup).
    fn write(&self, mut config: Value, id: &str) {
        config["linux"]["cgroupsPath"] = json!(format!("{}/runc-{id}", self.cgroup_parent));
        std::fs::write(
            self.bundle.join("config.json"),
            serde_json::to_vec_pretty(&config).unwrap(),
        )
        .unwrap();
    }

    /// Run runc to completion; output through files, not pipes (the
    /// container's init inherits them), as the harness does for husk.
    fn run(&self, args: &[&str]) -> Out {
        let n = common::unique("runc-out");
        let dir = self.bundle.parent().unwrap();
        let (o, e) = (dir.join(format!("{n}.out")), dir.join(format!("{n}.err")));
        let status = Command::new("runc")
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .current_dir(&self.bundle)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&o).unwrap())
            .stderr(std::fs::File::create(&e).unwrap())
            .status()
            .unwrap();
        let out = Out {
            code: status.code().unwrap_or(-1),
            stdout: std::fs::read_to_string(&o).unwrap(),
            stderr: std::fs::read_to_string(&e).unwrap(),
        };
        let _ = std::fs::remove_file(o);
        let _ = std::fs::remove_file(e);
        out
    }

    fn create(&self, id: &str) -> Out {
        let b = self.bundle.to_str().unwrap().to_string();
        self.run(&["create", "--bundle", &b, id])
    }
}

impl Drop for Runc {
    fn drop(&mut self) {
        for e in std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
        {
            let id = e.file_name().to_string_lossy().into_owned();
            let _ = self.run(&["delete", "--force", &id]);
        }
    }
}

fn husk_create(e: &Env, id: &str) -> Out {
    let b = e.bundle();
    e.husk(&["create", "--bundle", b.to_str().unwrap(), id])
}

/// Keys and JSON types of an object, one "key:type" each.
fn shape(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .iter()
        .map(|(k, v)| {
            let t = match v {
                Value::Null => "null",
                Value::Bool(_) => "bool",
                Value::Number(_) => "number",
                Value::String(_) => "string",
                Value::Array(_) => "array",
                Value::Object(_) => "object",
            };
            format!("{k}:{t}")
        })
        .collect()
}

/// Every key path of a JSON document (array items merged).
fn key_paths(v: &Value, at: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{at}.{k}");
                out.insert(p.clone());
                key_paths(x, &p, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                key_paths(x, &format!("{at}[]"), out);
            }
        }
        _ => {}
    }
}

/// RFC 3339 in UTC with a fraction of 1 to 9 digits (or none), as Go's
/// time.RFC3339Nano writes it: no trailing zeros.
fn rfc3339_nano(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    if b.len() < 20 || !s.ends_with('Z') {
        return false;
    }
    if b.len() == 20 {
        // A whole second: Go leaves the fraction out.
        return rfc3339_nano(&format!("{}.1Z", &s[..19]));
    }
    let head_ok = digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.';
    let frac = &s[20..s.len() - 1];
    head_ok
        && (1..=9).contains(&frac.len())
        && frac.bytes().all(|c| c.is_ascii_digit())
        && !frac.ends_with('0')
}

#[test]
fn rfc3339_nano_checker() {
    assert!(rfc3339_nano("2026-12-04T17:15:38.077507928Z"));
    assert!(rfc3339_nano("2026-12-04T17:15:38.07750792Z"));
    assert!(!rfc3339_nano("2026-12-04T17:15:38.077507920Z"));
    assert!(rfc3339_nano("2026-12-04T17:15:38Z"));
    assert!(!rfc3339_nano("2026-12-04T17:15:38.Z"));
    assert!(!rfc3339_nano("2026-12-04 17:15:38.1Z"));
}

#[test]
fn state_json_like_runc() {
    let e = Env::new("diffstate");
    let r = Runc::new(&e);
    let c = e.config(&["sleep", "60"]);
    e.write(c.clone(), "s1");
    r.write(c, "s1");
    husk_create(&e, "s1").ok();
    r.create("s1").ok();
    let h: Value = serde_json::from_str(e.husk(&["state", "s1"]).ok()).unwrap();
    let rs: Value = serde_json::from_str(r.run(&["state", "s1"]).ok()).unwrap();
    assert_eq!(shape(&h), shape(&rs), "husk {h}\nrunc {rs}");
    for v in [&h, &rs] {
        assert_eq!(v["status"], "created", "{v}");
        assert!(v["pid"].as_i64().unwrap() > 0, "{v}");
        assert_eq!(v["owner"], "", "{v}");
        assert_eq!(v["rootfs"], json!(common::rootfs()), "{v}");
        assert!(rfc3339_nano(v["created"].as_str().unwrap()), "{v}");
    }
    assert_eq!(h["bundle"], json!(e.bundle().canonicalize().unwrap()));
    assert_eq!(rs["bundle"], json!(r.bundle.canonicalize().unwrap()));

    // Running, then stopped: the same statuses, pid 0 once stopped in both.
    e.husk(&["start", "s1"]).ok();
    r.run(&["start", "s1"]).ok();
    let h: Value = serde_json::from_str(e.husk(&["state", "s1"]).ok()).unwrap();
    let rs: Value = serde_json::from_str(r.run(&["state", "s1"]).ok()).unwrap();
    assert_eq!(h["status"], "running");
    assert_eq!(rs["status"], "running");
    assert_eq!(shape(&h), shape(&rs));
}

#[test]
fn list_like_runc() {
    let e = Env::new("difflist");
    let r = Runc::new(&e);
    let c = e.config(&["sleep", "60"]);
    e.write(c.clone(), "l1");
    r.write(c, "l1");
    husk_create(&e, "l1").ok();
    r.create("l1").ok();
    let h: Value = serde_json::from_str(e.husk(&["list", "--format", "json"]).ok()).unwrap();
    let rl: Value = serde_json::from_str(r.run(&["list", "--format", "json"]).ok()).unwrap();
    assert_eq!(h.as_array().unwrap().len(), 1);
    assert_eq!(shape(&h[0]), shape(&rl[0]), "husk {h}\nrunc {rl}");
    assert_eq!(h[0]["owner"], rl[0]["owner"]);
    assert_eq!(h[0]["status"], rl[0]["status"]);

    let ht = e.husk(&["list"]);
    let rt = r.run(&["list"]);
    let (hh, rh) = (
        ht.ok().lines().next().unwrap().to_string(),
        rt.ok().lines().next().unwrap().to_string(),
    );
    // Same columns at the same places (CREATED's width follows the
    // values, so compare up to its start).
    let upto = |s: &str| s[..s.find("CREATED").unwrap()].to_string();
    assert_eq!(upto(&hh), upto(&rh), "\nhusk {hh:?}\nrunc {rh:?}");
    assert_eq!(
        hh.split_whitespace().collect::<Vec<_>>(),
        rh.split_whitespace().collect::<Vec<_>>()
    );
    let row = ht.stdout.lines().nth(1).unwrap().to_string();
    let fields: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(fields[0], "l1");
    assert_eq!(fields[2], "created");
    assert!(rfc3339_nano(fields[4]), "{row}");
    assert_eq!(fields[5], "root");
    // -q: ids only, in both.
    assert_eq!(e.husk(&["list", "-q"]).ok(), r.run(&["list", "-q"]).ok());
}

#[test]
fn spec_has_runcs_keys() {
    let e = Env::new("diffspec");
    let r = Runc::new(&e);
    let hb = e.dir.join("spec-husk");
    std::fs::create_dir(&hb).unwrap();
    e.husk(&["spec", "--bundle", hb.to_str().unwrap()]).ok();
    r.run(&["spec"]).ok();
    let h: Value = serde_json::from_slice(&std::fs::read(hb.join("config.json")).unwrap()).unwrap();
    let rs: Value =
        serde_json::from_slice(&std::fs::read(r.bundle.join("config.json")).unwrap()).unwrap();
    let (mut hk, mut rk) = (BTreeSet::new(), BTreeSet::new());
    key_paths(&h, "", &mut hk);
    key_paths(&rs, "", &mut rk);
    assert_eq!(hk, rk);
    assert_eq!(h["process"], rs["process"]);
    assert_eq!(h["root"], rs["root"]);
    assert_eq!(h["mounts"], rs["mounts"]);
    // Both refuse to overwrite an existing config.json.
    let again = e.husk(&["spec", "--bundle", hb.to_str().unwrap()]);
    let ragain = r.run(&["spec"]);
    assert_eq!(again.code, ragain.code, "{}", again.stderr);
    assert!(again.stderr.contains("exists"), "{}", again.stderr);
}

#[test]
fn run_exit_codes_like_runc() {
    let e = Env::new("diffrun");
    let r = Runc::new(&e);
    for (id, args, want) in [
        ("x1", &["sh", "-c", "exit 3"][..], 3),
        ("x2", &["true"][..], 0),
        ("x3", &["nope"][..], 1),
    ] {
        let c = e.config(args);
        r.write(c.clone(), id);
        let h = e.run(c, id);
        let b = r.bundle.to_str().unwrap().to_string();
        let rr = r.run(&["run", "--bundle", &b, id]);
        assert_eq!(h.code, want, "husk {id}: {}", h.stderr);
        assert_eq!(rr.code, want, "runc {id}: {}", rr.stderr);
        if id == "x3" {
            let m = "exec: \\\"nope\\\": executable file not found in $PATH";
            assert!(h.stderr.contains(m), "{}", h.stderr);
            assert!(rr.stderr.contains(m), "{}", rr.stderr);
        }
        assert!(!e.root.join(id).exists());
    }
}

#[test]
fn missing_container_like_runc() {
    let e = Env::new("diffmissing");
    let r = Runc::new(&e);
    std::fs::create_dir_all(&r.root).unwrap();
    for cmd in [
        &["state", "nosuch"][..],
        &["delete", "nosuch"],
        &["kill", "nosuch"],
        &["kill", "nosuch", "KILL"],
        &["start", "nosuch"],
        &["delete", "--force", "nosuch"],
    ] {
        let h = e.husk(cmd);
        let rr = r.run(cmd);
        assert_eq!(
            h.code, rr.code,
            "{cmd:?}: husk {} runc {}",
            h.stderr, rr.stderr
        );
        if rr.code != 0 {
            assert!(
                h.stderr.contains("container does not exist"),
                "{cmd:?}: {}",
                h.stderr
            );
            assert!(rr.stderr.contains("container does not exist"));
        }
    }
}

#[test]
fn delete_running_without_force_like_runc() {
    let e = Env::new("diffdelete");
    let r = Runc::new(&e);
    let c = e.config(&["sleep", "60"]);
    e.write(c.clone(), "d1");
    r.write(c, "d1");
    let b = e.bundle();
    e.husk(&["run", "-d", "--bundle", b.to_str().unwrap(), "d1"])
        .ok();
    let rb = r.bundle.to_str().unwrap().to_string();
    r.run(&["run", "-d", "--bundle", &rb, "d1"]).ok();
    let h = e.husk(&["delete", "d1"]);
    let rr = r.run(&["delete", "d1"]);
    assert_eq!(h.code, rr.code);
    assert_eq!(h.code, 1);
    let m = "cannot delete container d1 that is not stopped: running";
    assert!(h.stderr.contains(m), "{}", h.stderr);
    assert!(rr.stderr.contains(m), "{}", rr.stderr);
    assert_eq!(e.status("d1"), "running");
    e.husk(&["delete", "--force", "d1"]).ok();
    r.run(&["delete", "--force", "d1"]).ok();
    assert!(!e.root.join("d1").exists());

    // kill of a stopped container fails in both, plain delete works.
    let c = e.config(&["true"]);
    e.write(c.clone(), "d2");
    r.write(c, "d2");
    e.husk(&["run", "--keep", "--bundle", b.to_str().unwrap(), "d2"])
        .ok();
    r.run(&["run", "--keep", "--bundle", &rb, "d2"]).ok();
    let h = e.husk(&["kill", "d2", "KILL"]);
    let rr = r.run(&["kill", "d2", "KILL"]);
    assert_eq!((h.code, rr.code), (1, 1), "{} {}", h.stderr, rr.stderr);
    assert!(h.stderr.contains("container not running"), "{}", h.stderr);
    assert!(rr.stderr.contains("container not running"), "{}", rr.stderr);
    assert_eq!(
        e.husk(&["delete", "d2"]).code,
        r.run(&["delete", "d2"]).code
    );
    assert!(!e.root.join("d2").exists());
}

#[test]
fn usage_errors_like_runc() {
    let e = Env::new("diffusage");
    let r = Runc::new(&e);
    std::fs::create_dir_all(&r.root).unwrap();
    // (arguments, exit code, the message after "husk: " or "runc: ")
    for (cmd, code, m) in [
        (
            &["state"][..],
            1,
            r#""state" requires exactly 1 argument(s)"#,
        ),
        (&["--foo", "list"], 1, "flag provided but not defined: -foo"),
        (
            &["delete", "--bogus", "x"],
            1,
            "flag provided but not defined: -bogus",
        ),
        (
            &["kill", "a", "b", "c"],
            1,
            r#""kill" requires a maximum of 2 argument(s)"#,
        ),
        (
            &["kill"],
            1,
            r#""kill" requires a minimum of 1 argument(s)"#,
        ),
        (
            &["delete", "--force"],
            1,
            r#""delete" requires exactly 1 argument(s)"#,
        ),
        (
            &["list", "extra"],
            1,
            r#""list" requires exactly 0 argument(s)"#,
        ),
        (&["list", "--format"], 1, "flag needs an argument: -format"),
        (&["nosuchcmd"], 3, "No help topic for 'nosuchcmd'"),
    ] {
        let h = e.husk(cmd);
        let rr = r.run(cmd);
        assert_eq!(
            (h.code, rr.code),
            (code, code),
            "{cmd:?}: husk {} runc {}",
            h.stderr,
            rr.stderr
        );
        // One log line, with the message (quotes escaped in it).
        let m = m.replace('"', "\\\"");
        assert_eq!(h.stderr.lines().count(), 1, "{cmd:?}: {}", h.stderr);
        assert!(h.stderr.contains("level=error"), "{cmd:?}: {}", h.stderr);
        assert!(h.stderr.contains(&m), "{cmd:?}: {}", h.stderr);
        assert!(rr.stderr.contains(&m), "{cmd:?}: {}", rr.stderr);
        assert_eq!(h.stdout, "");
    }

    // Through --log and --log-format json, as managers read it.
    let (hl, rl) = (e.dir.join("husk.log"), e.dir.join("runc.log"));
    let args = |log: &std::path::Path| {
        let l = log.to_str().unwrap().to_string();
        [
            "--log".to_string(),
            l,
            "--log-format".into(),
            "json".into(),
            "state".into(),
        ]
    };
    let (ha, ra) = (args(&hl), args(&rl));
    let h = e.husk(&ha.iter().map(String::as_str).collect::<Vec<_>>());
    let rr = r.run(&ra.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!((h.code, rr.code), (1, 1));
    let last = |p: &std::path::Path| -> Value {
        let text = std::fs::read_to_string(p).unwrap();
        serde_json::from_str(text.lines().last().unwrap()).unwrap()
    };
    let (hv, rv) = (last(&hl), last(&rl));
    assert_eq!(hv["level"], "error");
    assert_eq!(rv["level"], "error");
    assert_eq!(hv["msg"], r#"husk: "state" requires exactly 1 argument(s)"#);
    assert_eq!(rv["msg"], r#"runc: "state" requires exactly 1 argument(s)"#);
}
