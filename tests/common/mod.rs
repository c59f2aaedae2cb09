//! Test harness: a busybox rootfs built once from the busybox-static
//! package (plus the static probe), bundles made with `husk spec`, and a
//! per-test `--root` and cgroup parent that are removed even on failure.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The husk binary under test: `$HUSK_BIN` when set (say, the static release
/// build: `HUSK_BIN=target/x86_64-unknown-linux-musl/release/husk cargo test`),
/// else the one cargo built for the tests.
pub fn husk_bin() -> &'static str {
    static BIN: OnceLock<String> = OnceLock::new();
    BIN.get_or_init(|| match std::env::var("HUSK_BIN") {
        Ok(p) if !p.is_empty() => std::fs::canonicalize(&p)
            .unwrap_or_else(|e| panic!("HUSK_BIN={p}: {e}"))
            .to_string_lossy()
            .into_owned(),
        _ => env!("CARGO_BIN_EXE_husk").to_string(),
    })
}

/// The shared read-only rootfs: /bin/busybox with its applets, /bin/probe.
pub fn rootfs() -> &'static Path {
    static ROOTFS: OnceLock<PathBuf> = OnceLock::new();
    ROOTFS.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let dir = base.join(format!("rootfs-{}", std::process::id()));
        let st = Command::new("sh")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/make-rootfs.sh"))
            .arg(&dir)
            .status()
            .expect("run tests/make-rootfs.sh");
        assert!(st.success(), "building the busybox rootfs failed");
        dir
    })
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A unique name for this test process and call.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// One test's world: a state root, a bundle dir, a cgroup parent. Dropping
/// it force-deletes every container and removes all of them.
pub struct Env {
    pub root: PathBuf,
    pub dir: PathBuf,
    pub cgroup_parent: String,
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn from(o: Output) -> Out {
        use std::os::unix::process::ExitStatusExt;
        Out {
            code: o
                .status
                .code()
                .unwrap_or_else(|| 128 + o.status.signal().unwrap_or(0)),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
    /// Assert success and return stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "command failed: stdout={:?} stderr={:?}",
            self.stdout, self.stderr
        );
        &self.stdout
    }
}

impl Env {
    pub fn new(name: &str) -> Env {
        let n = unique(name);
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(&n);
        std::fs::create_dir_all(dir.join("bundle")).unwrap();
        Env {
            root: dir.join("state"),
            dir,
            cgroup_parent: format!("/husk-test-{n}"),
        }
    }

    pub fn bundle(&self) -> PathBuf {
        self.dir.join("bundle")
    }

    /// The default `husk spec` config, made non-interactive: terminal off,
    /// the shared rootfs, `args`, and a cgroup under this test's parent.
    pub fn config(&self, args: &[&str]) -> Value {
        let b = self.bundle();
        let _ = std::fs::remove_file(b.join("config.json"));
        self.husk(&["spec", "--bundle", b.to_str().unwrap()]).ok();
        let mut c: Value =
            serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
        c["process"]["terminal"] = json!(false);
        c["process"]["args"] = json!(args);
        c["root"]["path"] = json!(rootfs());
        c
    }

    /// Write `config` for container `id` (its cgroup is under our parent).
    pub fn write(&self, mut config: Value, id: &str) {
        if config["linux"]["cgroupsPath"].is_null() {
            config["linux"]["cgroupsPath"] = json!(format!("{}/{id}", self.cgroup_parent));
        }
        std::fs::write(
            self.bundle().join("config.json"),
            serde_json::to_vec_pretty(&config).unwrap(),
        )
        .unwrap();
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(husk_bin());
        c.arg("--root")
            .arg(&self.root)
            .args(args)
            .current_dir(self.bundle())
            .stdin(Stdio::null());
        c
    }

    /// Run husk to completion. Its stdout and stderr go to files, not
    /// pipes: a container's init inherits them and may outlive the command.
    pub fn husk(&self, args: &[&str]) -> Out {
        self.output(&mut self.cmd(args), None)
    }

    /// Run `cmd` to completion with stdout and stderr in files of this
    /// test's directory: `DIR/NAME.out` and `.err`, kept when `keep` names
    /// them, removed otherwise.
    pub fn output(&self, cmd: &mut Command, keep: Option<&str>) -> Out {
        let n = keep.map_or_else(|| unique("out"), String::from);
        let (o, e) = (
            self.dir.join(format!("{n}.out")),
            self.dir.join(format!("{n}.err")),
        );
        let status = cmd
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&o).unwrap())
            .stderr(std::fs::File::create(&e).unwrap())
            .status()
            .expect("run the command");
        let out = Out::from(Output {
            status,
            stdout: std::fs::read(&o).unwrap(),
            stderr: std::fs::read(&e).unwrap(),
        });
        if keep.is_none() {
            let _ = std::fs::remove_file(o);
            let _ = std::fs::remove_file(e);
        }
        out
    }

    /// `husk run -d` of `config` as container `id`; its init's pid.
    pub fn run_detached(&self, config: Value, id: &str) -> i64 {
        self.write(config, id);
        let b = self.bundle();
        self.husk(&["run", "-d", "--bundle", b.to_str().unwrap(), id])
            .ok();
        self.state(id)["pid"].as_i64().unwrap()
    }

    /// `husk run --bundle B id` in the foreground.
    pub fn run(&self, config: Value, id: &str) -> Out {
        self.write(config, id);
        let b = self.bundle();
        self.husk(&["run", "--bundle", b.to_str().unwrap(), id])
    }

    pub fn state(&self, id: &str) -> Value {
        let o = self.husk(&["state", id]);
        serde_json::from_str(o.ok()).expect("state is JSON")
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap().to_string()
    }

    /// The cgroup v1 directory of container `id` for `controller`.
    pub fn cgroup_dir(&self, controller: &str, id: &str) -> PathBuf {
        PathBuf::from(format!(
            "/sys/fs/cgroup/{controller}{}/{id}",
            self.cgroup_parent
        ))
    }

    /// Every cgroup directory under this test's parent, in any hierarchy.
    pub fn cgroup_leftovers(&self) -> Vec<PathBuf> {
        std::fs::read_dir("/sys/fs/cgroup")
            .unwrap()
            .flatten()
            .map(|h| h.path().join(self.cgroup_parent.trim_start_matches('/')))
            .filter(|p| p.exists())
            .collect()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Ok(entries) = std::fs::read_dir(&self.root) {
            for e in entries.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                let _ = self.cmd(&["delete", "--force", &id]).output();
            }
        }
        for p in self.cgroup_leftovers() {
            let mut dirs: Vec<PathBuf> = walk(&p);
            dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
            for d in dirs {
                let _ = std::fs::remove_dir(d);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn walk(p: &Path) -> Vec<PathBuf> {
    let mut out = vec![p.to_path_buf()];
    for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(walk(&e.path()));
        }
    }
    out
}

/// Wait until `pid` is gone (or a zombie); a failure, not a hang, after 60 s.
pub fn wait_gone(pid: i64) {
    let t = std::time::Instant::now();
    while alive(pid) {
        assert!(
            t.elapsed().as_secs() < 60,
            "pid {pid} still alive after 60 s"
        );
        std::thread::yield_now();
    }
}

/// Wait until `pid` has a handler for each signal in `sigs` (SigCgt in
/// /proc/PID/status). A container's init ignores a signal it does not
/// catch, so a test that signals a shell must wait for its `trap`s.
pub fn wait_catches(pid: i64, sigs: &[i32]) {
    let t = std::time::Instant::now();
    loop {
        let caught = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("SigCgt:"))
                    .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
            })
            .unwrap_or(0);
        if sigs.iter().all(|&s| caught & (1u64 << (s - 1)) != 0) {
            return;
        }
        assert!(
            t.elapsed().as_secs() < 60,
            "pid {pid} never caught {sigs:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// `key=value` lines (of the probe, or of a shell); the last of a
/// repeated key wins.
pub fn kv(out: &str) -> std::collections::HashMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A file's content, trimmed; a failure names the file.
pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

/// Is `pid` alive (and not a zombie)?
pub fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let st = s.rsplit(')').next().unwrap_or("").trim_start();
            !st.starts_with('Z') && !st.starts_with('X')
        })
        .unwrap_or(false)
}
