//! podman, containerd (ctr) and Docker driving husk as their OCI runtime.
//!
//! Each suite starts its manager itself with every piece of state under a
//! folder of its own (`/tmp/husk-mgr-PID-MANAGER-RUNTIME`, short for the
//! daemons' socket paths), imports a busybox image made by
//! tests/make-rootfs.sh, and runs: a container that prints and exits with a
//! given code, a tty container, a detached container that is exec'd into,
//! paused, resumed, stopped and removed, a memory limit (OOM kill) and a
//! pids limit. Afterwards no container state may be left in the runtime's
//! root, no cgroup under the suite's cgroup parent and no mount under its
//! folder. Daemons are stopped by pid, also when a check fails.
//!
//! Each suite runs with husk and then with runc (they must pass with runc
//! too, which shows the checks are right); `HUSK_MANAGER_RUNTIME=husk` (or
//! `runc`, `crun`, a path, or a comma-separated list) picks others.
//! `HUSK_MANAGER_TRACE=FILE` puts a wrapper in front of the runtime that
//! appends each call's argv to FILE.

use serde_json::{json, Value};
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const IMAGE: &str = "localhost/husk-bb:latest";
const TIMEOUT: Duration = Duration::from_secs(180);
/// A container that exits 42 on SIGTERM once it has said it is ready.
const DETACHED: &str = "trap 'exit 42' TERM; touch /tmp/ready; while :; do sleep 1 & wait $!; done";
/// 64 MiB held by the shell: more than the 16 MiB limit.
// The pause before the allocation: containerd's runc shim (and so Docker)
// registers its OOM watcher only after `start` returns; a container killed
// before that is reported with OOMKilled=false, with husk and runc alike.
const HOG: &str = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; sleep 0.3; x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived";
const FORKS: &str = "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; i=0; while [ $i -lt 20 ]; do sleep 10 & i=$((i+1)); done; echo forked-all";

/// Exec'd into DETACHED: prints pid 1's command line, pauses (ctr can lose
/// the output of a process that exits at once, see containerd_suite), exits 4.
const EXEC_PID1: &str = "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo exec-ok; sleep 0.2; exit 4";
const EXEC_TTY: &str = "tty; echo exec-tty-ok";

fn check_exec_pid1(o: &Out) {
    assert_eq!(o.code, 4, "{}", o.stderr);
    assert!(
        o.stdout.starts_with("sh -c trap") && o.stdout.ends_with("exec-ok\n"),
        "{:?}",
        o.stdout
    );
}

fn check_exec_tty(o: &Out) {
    assert!(
        o.code == 0 && o.stdout.contains("/dev/pts/") && o.stdout.contains("exec-tty-ok"),
        "{:?} {}",
        o.stdout,
        o.stderr
    );
}

/// The runtime under test: its path and the root it uses when a manager
/// passes none (podman as root does not).
#[derive(Clone)]
struct Runtime {
    name: String,
    path: PathBuf,
    default_root: PathBuf,
}

fn runtimes() -> Vec<Runtime> {
    // Both by default: the suites are quick, and runc passing them shows
    // that a failure with husk is husk's.
    let spec = std::env::var("HUSK_MANAGER_RUNTIME").unwrap_or_else(|_| "husk,runc".into());
    spec.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let path = match s {
                "husk" => match std::env::var_os("HUSK_BIN") {
                    Some(p) if !p.is_empty() => std::fs::canonicalize(&p).expect("HUSK_BIN"),
                    _ => PathBuf::from(env!("CARGO_BIN_EXE_husk")),
                },
                "runc" | "crun" => which(s).unwrap_or_else(|| panic!("{s} is not installed")),
                p => PathBuf::from(p),
            };
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let default_root = PathBuf::from(format!("/run/{name}"));
            Runtime {
                name,
                path,
                default_root,
            }
        })
        .collect()
}

fn which(prog: &str) -> Option<PathBuf> {
    std::env::var("PATH")
        .ok()?
        .split(':')
        .map(|d| Path::new(d).join(prog))
        .find(|p| p.is_file())
}

/// The packaged Docker client (another one may come first in PATH).
fn docker_client() -> PathBuf {
    let p = PathBuf::from("/usr/bin/docker");
    if p.is_file() {
        p
    } else {
        which("docker").expect("docker is not installed")
    }
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn ok(&self, what: &str) -> &str {
        assert_eq!(
            self.code, 0,
            "{what} failed: stdout={:?} stderr={:?}",
            self.stdout, self.stderr
        );
        &self.stdout
    }
}

/// A daemon of the suite, stopped by its pid when dropped.
struct Daemon {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn stop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        let pid = self.child.id() as i32;
        // SAFETY: pid is our own child, not yet reaped.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One suite's world: its folder, cgroup parent, runtime, daemon, and what
/// it checked. Dropping it force-removes containers, stops the daemon,
/// unmounts and removes everything left.
struct World {
    manager: &'static str,
    dir: PathBuf,
    cgroup_parent: String,
    rt: Runtime,
    real_rt: Runtime,
    /// Stopped in reverse order.
    daemons: Vec<Daemon>,
    /// Shell commands that force-remove this suite's containers.
    cleanup: Vec<String>,
    checked: Vec<String>,
    seq: u32,
}

impl World {
    fn new(manager: &'static str, rt: &Runtime) -> World {
        let n = format!("{}-{manager}-{}", std::process::id(), rt.name);
        let dir = std::env::temp_dir().join(format!("husk-mgr-{n}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("out")).unwrap();
        let mut w = World {
            manager,
            cgroup_parent: format!("/husk-mgr-{n}"),
            rt: rt.clone(),
            real_rt: rt.clone(),
            daemons: Vec::new(),
            cleanup: Vec::new(),
            checked: Vec::new(),
            seq: 0,
            dir,
        };
        if let Ok(trace) = std::env::var("HUSK_MANAGER_TRACE") {
            // Same file name, so managers treat it as the runtime itself.
            let wrapper = w.dir.join("trace").join(&rt.name);
            std::fs::create_dir_all(wrapper.parent().unwrap()).unwrap();
            std::fs::write(
                &wrapper,
                format!(
                    "#!/bin/sh\necho \"{manager} $$: $*\" >> {trace}\nexec {} \"$@\"\n",
                    rt.path.display()
                ),
            )
            .unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
            w.rt.path = wrapper;
        }
        w
    }

    fn check(&mut self, what: impl Into<String>) {
        self.checked.push(what.into());
    }

    /// A busybox rootfs (no probe) and its tar, in this suite's folder.
    fn rootfs(&self) -> (PathBuf, PathBuf) {
        let root = self.dir.join("rootfs");
        let st = Command::new("sh")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/make-rootfs.sh"))
            .arg(&root)
            .env("NO_PROBE", "1")
            .status()
            .expect("run tests/make-rootfs.sh");
        assert!(st.success(), "building the busybox rootfs failed");
        let tar = self.dir.join("rootfs.tar");
        let st = Command::new("tar")
            .arg("-C")
            .arg(&root)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .unwrap();
        assert!(st.success(), "tar of the rootfs failed");
        (root, tar)
    }

    /// Run to completion (with a time limit); output through files, as a
    /// daemonized child may keep pipes open.
    fn run(&mut self, cmd: &mut Command) -> Out {
        self.seq += 1;
        let (o, e) = (
            self.dir.join("out").join(format!("{}.out", self.seq)),
            self.dir.join("out").join(format!("{}.err", self.seq)),
        );
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&o).unwrap())
            .stderr(std::fs::File::create(&e).unwrap())
            .spawn()
            .unwrap_or_else(|err| panic!("{cmd:?}: {err}"));
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{cmd:?} did not finish in {TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Out {
            code: status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
            stdout: std::fs::read_to_string(&o).unwrap_or_default(),
            stderr: std::fs::read_to_string(&e).unwrap_or_default(),
        }
    }

    fn start_daemon(&mut self, name: &'static str, cmd: &mut Command) {
        let log = self.dir.join(format!("{name}.log"));
        let f = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        self.daemons.push(Daemon { name, child, log });
    }

    /// Poll `probe` until it succeeds: the daemon answers on its socket.
    fn wait_ready(&mut self, mut probe: impl FnMut() -> Command) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if self.run(&mut probe()).code == 0 {
                return;
            }
            let d = self.daemons.last_mut().unwrap();
            if let Ok(Some(st)) = d.child.try_wait() {
                panic!(
                    "{} exited ({st}) before it was ready:\n{}",
                    d.name,
                    tail(&d.log)
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} not ready in 120 s:\n{}",
                d.name,
                tail(&d.log)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Poll until `f` holds (a state the manager reaches asynchronously).
    fn wait_for(&mut self, what: &str, mut f: impl FnMut(&mut World) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !f(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Container cgroups left under the parent in any hierarchy (podman's
    /// own `conmon` group is not a container's).
    fn cgroup_leftovers(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
            let p = h.path().join(self.cgroup_parent.trim_start_matches('/'));
            for e in std::fs::read_dir(&p).into_iter().flatten().flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) && e.file_name() != "conmon" {
                    out.push(e.path());
                }
            }
        }
        out
    }

    /// Cgroups under the parent that the v1 freezer holds frozen (None
    /// without a v1 freezer).
    fn frozen(&self) -> Option<usize> {
        let p =
            Path::new("/sys/fs/cgroup/freezer").join(self.cgroup_parent.trim_start_matches('/'));
        if !Path::new("/sys/fs/cgroup/freezer/freezer.state").exists()
            && !Path::new("/sys/fs/cgroup/freezer/tasks").exists()
        {
            return None;
        }
        Some(
            std::fs::read_dir(p)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| {
                    std::fs::read_to_string(e.path().join("freezer.state"))
                        .is_ok_and(|s| s.trim() == "FROZEN")
                })
                .count(),
        )
    }

    fn mounts_left(&self) -> Vec<String> {
        let d = self.dir.to_string_lossy().into_owned();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| m.starts_with(&d))
            .map(String::from)
            .collect()
    }

    /// Entries (container state) in a runtime root, dot-files aside.
    fn state_in(root: &Path) -> Vec<String> {
        std::fs::read_dir(root)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect()
    }

    /// The checks after all containers are gone: runtime state, cgroups
    /// (daemon still up), then mounts (daemon stopped). Prints the report.
    fn finish(&mut self, runtime_roots: &[PathBuf], ids: &[String]) {
        // The manager has shown no container left: nothing to force.
        self.cleanup.clear();
        for root in runtime_roots {
            let left: Vec<String> = World::state_in(root)
                .into_iter()
                .filter(|n| ids.is_empty() || ids.contains(n))
                .collect();
            assert!(
                left.is_empty(),
                "container state left in {root:?}: {left:?}"
            );
            self.check(format!("no container state left in {}", root.display()));
        }
        let cg = self.cgroup_leftovers();
        assert!(cg.is_empty(), "cgroups left: {cg:?}");
        self.check(format!("no cgroup left under {}", self.cgroup_parent));
        while let Some(mut d) = self.daemons.pop() {
            d.stop();
            let st = d.child.wait().unwrap();
            self.check(format!("{} stopped by its pid ({st})", d.name));
        }
        let m = self.mounts_left();
        assert!(m.is_empty(), "mounts left: {m:?}");
        self.check(format!("no mount left under {}", self.dir.display()));
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "\n{} with {} ({}): all checks passed:",
            self.manager,
            self.real_rt.name,
            self.real_rt.path.display()
        );
        for c in &self.checked {
            let _ = writeln!(err, "  ok: {c}");
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let failing = std::thread::panicking();
        for c in std::mem::take(&mut self.cleanup) {
            let _ = self.run(Command::new("sh").arg("-c").arg(c));
        }
        while let Some(mut d) = self.daemons.pop() {
            if failing {
                eprintln!("--- {} log (tail) ---\n{}", d.name, tail(&d.log));
            }
            d.stop();
        }
        let mut m = self.mounts_left();
        m.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in m {
            let _ = nix::mount::umount2(p.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
        for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
            let p = h.path().join(self.cgroup_parent.trim_start_matches('/'));
            for e in std::fs::read_dir(&p).into_iter().flatten().flatten() {
                let _ = std::fs::remove_dir(e.path());
            }
            let _ = std::fs::remove_dir(&p);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn tail(p: &Path) -> String {
    let s = std::fs::read_to_string(p).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// `cmd` as one line for `sh -c`: its environment and quoted arguments.
fn shell_line(cmd: &Command) -> String {
    let q = |a: &std::ffi::OsStr| format!("'{}'", a.to_string_lossy().replace('\'', "'\\''"));
    let mut line = String::new();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            line += &format!("{}={} ", k.to_string_lossy(), q(v));
        }
    }
    line += &q(cmd.get_program());
    for a in cmd.get_args() {
        line += " ";
        line += &q(a);
    }
    line
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

// ---------------------------------------------------------------- podman

#[test]
fn podman() {
    for rt in runtimes() {
        podman_suite(&rt);
    }
}

fn podman_suite(rt: &Runtime) {
    let mut w = World::new("podman", rt);
    let (_, tar) = w.rootfs();
    let d = w.dir.clone();
    // podman hands --log-format json only to runtimes it names here.
    let conf = d.join("containers.conf");
    std::fs::write(
        &conf,
        format!(
            "[engine]\nruntime_supports_json = [\"{0}\"]\n\n[engine.runtimes]\n{0} = [\"{1}\"]\n",
            w.rt.name,
            w.rt.path.display()
        ),
    )
    .unwrap();
    let rtpath = w.rt.path.clone();
    let podman = move |args: &[&str]| {
        let mut c = Command::new("podman");
        // conmon drops a file named `oom` in its working directory.
        c.current_dir(&d)
            .env("CONTAINERS_CONF", &conf)
            .args(["--root", s(&d.join("root"))])
            .args(["--runroot", s(&d.join("runroot"))])
            .args(["--tmpdir", s(&d.join("tmp"))])
            .args(["--network-config-dir", s(&d.join("net"))])
            .args(["--runtime", s(&rtpath)])
            .args(["--cgroup-manager", "cgroupfs", "--events-backend", "file"])
            .args(args);
        c
    };
    w.cleanup = vec![shell_line(&podman(&["rm", "-a", "-f", "-t", "0"]))];
    // The hard nofile limit here is below podman's default.
    let ulimits = [
        "--ulimit",
        "nofile=20000:20000",
        "--ulimit",
        "nproc=32768:32768",
    ];
    let oom = cli_checks(&mut w, &podman, &tar, &ulimits);
    w.check(format!(
        "--memory 16m: OOMKilled={oom} (podman 4.3's conmon does not see OOM kills on cgroup v1, with runc neither)"
    ));

    // podman passes no --root as root: the runtime uses its default root,
    // shared with others, so look for the ids of this suite's containers.
    let o = w.run(&mut podman(&[
        "events",
        "--stream=false",
        "--filter",
        "type=container",
        "--format",
        "{{.ID}}",
    ]));
    let mut ids: Vec<String> = o
        .ok("podman events")
        .split_whitespace()
        .map(String::from)
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6, "containers in podman's events: {ids:?}");
    let roots = [w.real_rt.default_root.clone()];
    w.finish(&roots, &ids);
}

/// What podman and Docker share: their CLIs agree on these commands.
/// Returns `.State.OOMKilled` of the OOM-killed container.
fn cli_checks(
    w: &mut World,
    cli: &dyn Fn(&[&str]) -> Command,
    tar: &Path,
    extra_run_opts: &[&str],
) -> String {
    let parent = w.cgroup_parent.clone();
    let mut run_opts = vec!["--network", "none", "--cgroup-parent", &parent];
    run_opts.extend_from_slice(extra_run_opts);
    let run = |w: &mut World, args: &[&str]| {
        let mut a = vec!["run"];
        a.extend_from_slice(&run_opts);
        a.extend_from_slice(args);
        w.run(&mut cli(&a))
    };
    let p = |w: &mut World, args: &[&str]| w.run(&mut cli(args));

    p(w, &["import", s(tar), IMAGE]).ok("import");
    w.check("import of the busybox rootfs tar");

    // Prints and exits with a given code; stdout and stderr apart.
    let o = run(
        w,
        &[
            "--rm",
            IMAGE,
            "sh",
            "-c",
            "echo out-1; echo err-1 >&2; exit 7",
        ],
    );
    assert_eq!((o.code, o.stdout.as_str()), (7, "out-1\n"), "{}", o.stderr);
    assert!(o.stderr.contains("err-1"), "{}", o.stderr);
    w.check("run --rm: stdout, stderr and exit code 7");

    // The process and container options that become config.json fields.
    let o = run(
        w,
        &[
            "--rm", "--read-only", "--user", "65534:65534", "-w", "/tmp", "-e", "A=b",
            "--hostname", "hh", "--cap-drop", "ALL", IMAGE, "sh", "-c",
            "id -u; id -g; pwd; echo $A; hostname; grep CapEff /proc/self/status; touch /x 2>/dev/null || echo ro",
        ],
    );
    assert_eq!(
        o.ok("run with options"),
        "65534\n65534\n/tmp\nb\nhh\nCapEff:\t0000000000000000\nro\n"
    );
    w.check("run --read-only --user -w -e --hostname --cap-drop ALL: all applied");

    // A tty.
    let o = run(
        w,
        &["--rm", "-t", IMAGE, "sh", "-c", "tty; echo tty-ok; exit 3"],
    );
    assert_eq!(o.code, 3, "{} {}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains("/dev/pts/") && o.stdout.contains("tty-ok\r\n"),
        "{:?}",
        o.stdout
    );
    w.check("run -t: a pty (/dev/pts/N, CRLF) and exit code 3");

    // Detached: exec, pause, resume, stop, remove.
    run(w, &["-d", "--name", "det", IMAGE, "sh", "-c", DETACHED]).ok("run -d");
    w.wait_for("the detached container to be ready", |w| {
        p(w, &["exec", "det", "test", "-e", "/tmp/ready"]).code == 0
    });
    let o = p(w, &["exec", "det", "sh", "-c", EXEC_PID1]);
    check_exec_pid1(&o);
    w.check("exec: sees the container's pid 1, output and exit code 4");
    let o = p(w, &["exec", "-t", "det", "sh", "-c", EXEC_TTY]);
    check_exec_tty(&o);
    w.check("exec -t: a pty");
    let o = p(
        w,
        &[
            "exec",
            "-u",
            "65534",
            "-w",
            "/tmp",
            "-e",
            "X=y",
            "det",
            "sh",
            "-c",
            "id -u; pwd; echo $X",
        ],
    );
    assert_eq!(o.ok("exec -u -w -e"), "65534\n/tmp\ny\n");
    w.check("exec -u -w -e: user, cwd and environment");
    let status = |w: &mut World| {
        p(
            w,
            &[
                "inspect",
                "-f",
                "{{.State.Status}} {{.State.ExitCode}}",
                "det",
            ],
        )
        .ok("inspect")
        .trim()
        .to_string()
    };
    p(w, &["pause", "det"]).ok("pause");
    assert_eq!(status(w), "paused 0");
    if let Some(n) = w.frozen() {
        assert_eq!(n, 1, "one frozen cgroup");
    }
    w.check("pause: paused, its freezer cgroup FROZEN");
    p(w, &["unpause", "det"]).ok("unpause");
    assert_eq!(status(w), "running 0");
    if let Some(n) = w.frozen() {
        assert_eq!(n, 0, "no frozen cgroup");
    }
    let o = p(w, &["exec", "det", "echo", "after-resume"]);
    assert_eq!(o.ok("exec after unpause"), "after-resume\n");
    w.check("unpause: running and exec works again");
    p(w, &["stop", "-t", "30", "det"]).ok("stop");
    assert_eq!(status(w), "exited 42");
    w.check("stop: SIGTERM reached the container, exit code 42");
    p(w, &["rm", "det"]).ok("rm");
    w.check("rm of the stopped container");

    // Memory limit: the OOM killer ends the shell.
    let o = run(
        w,
        &[
            "--name",
            "oom",
            "--memory",
            "16m",
            "--memory-swap",
            "16m",
            IMAGE,
            "sh",
            "-c",
            HOG,
        ],
    );
    assert_eq!(o.code, 137, "{:?} {:?}", o.stdout, o.stderr);
    assert_eq!(o.stdout, "16777216\n", "{}", o.stderr);
    let oom = p(w, &["inspect", "-f", "{{.State.OOMKilled}}", "oom"]);
    let oom = oom.ok("inspect").trim().to_string();
    p(w, &["rm", "oom"]).ok("rm");
    w.check("--memory 16m: limit set, OOM kill, exit code 137");

    // pids limit: fork fails.
    let o = run(w, &["--rm", "--pids-limit", "8", IMAGE, "sh", "-c", FORKS]);
    assert!(
        o.stdout.starts_with("8\n") && !o.stdout.contains("forked-all"),
        "{:?}",
        o.stdout
    );
    assert!(o.stderr.contains("can't fork"), "{:?}", o.stderr);
    w.check("--pids-limit 8: pids.max 8, fork fails");

    let o = p(w, &["ps", "-aq"]);
    assert_eq!(o.ok("ps"), "", "containers left");
    w.check("ps -a: no container left");
    oom
}

// ------------------------------------------------------------ containerd

fn sha256(p: &Path) -> String {
    let o = Command::new("sha256sum").arg(p).output().unwrap();
    assert!(o.status.success());
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// An OCI image archive of the rootfs tar (one uncompressed layer), named
/// IMAGE, as `ctr image import` takes it.
fn oci_archive(dir: &Path, layer: &Path) -> PathBuf {
    let oci = dir.join("oci");
    let blobs = oci.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let blob = |data: &[u8]| -> (String, usize) {
        let tmp = oci.join("blob.tmp");
        std::fs::write(&tmp, data).unwrap();
        let d = sha256(&tmp);
        std::fs::rename(&tmp, blobs.join(&d)).unwrap();
        (format!("sha256:{d}"), data.len())
    };
    let (layer_digest, layer_size) = blob(&std::fs::read(layer).unwrap());
    let config = json!({
        "architecture": std::env::consts::ARCH.replace("x86_64", "amd64").replace("aarch64", "arm64"),
        "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    });
    let (config_digest, config_size) = blob(&serde_json::to_vec(&config).unwrap());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer_size}],
    });
    let (m_digest, m_size) = blob(&serde_json::to_vec(&manifest).unwrap());
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": m_digest, "size": m_size,
            "annotations": {"io.containerd.image.name": IMAGE, "org.opencontainers.image.ref.name": "latest"},
        }],
    });
    std::fs::write(oci.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(oci.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let archive = dir.join("image.oci.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&oci)
        .arg("-cf")
        .arg(&archive)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    archive
}

#[test]
fn containerd() {
    for rt in runtimes() {
        containerd_suite(&rt);
    }
}

fn containerd_suite(rt: &Runtime) {
    const NS: &str = "husk-mgr";
    let mut w = World::new("containerd", rt);
    let (rootfs, tar) = w.rootfs();
    let archive = oci_archive(&w.dir, &tar);
    let d = w.dir.clone();
    let sock = d.join("c.sock");
    let config = d.join("containerd.toml");
    std::fs::write(
        &config,
        format!(
            r#"version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{sock}"
[ttrpc]
  address = "{sock}.ttrpc"
[debug]
  address = "{d}/debug.sock"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
"#,
            root = d.join("root").display(),
            state = d.join("state").display(),
            sock = sock.display(),
            d = d.display(),
        ),
    )
    .unwrap();
    w.start_daemon(
        "containerd",
        Command::new("containerd")
            .arg("--config")
            .arg(&config)
            .arg("--root")
            .arg(d.join("root"))
            .arg("--state")
            .arg(d.join("state"))
            .arg("--address")
            .arg(&sock),
    );
    let ctr = {
        let sock = sock.clone();
        move |args: &[&str]| {
            let mut c = Command::new("ctr");
            c.arg("--address")
                .arg(&sock)
                .args(["--namespace", NS])
                .args(args);
            c
        }
    };
    w.wait_ready(|| ctr(&["version"]));
    w.check("containerd answers on its socket");
    let runtime_root = d.join("runtime-root");
    let (rtpath, parent) = (w.rt.path.clone(), w.cgroup_parent.clone());
    // `ctr run` with the runc v2 shim, husk as its runc binary, a root
    // under our folder and a cgroup under our parent.
    let run = |w: &mut World, opts: &[&str], id: &str, args: &[&str]| -> Command {
        let cg = format!("{parent}/{id}");
        let mut a = vec![
            "run",
            "--runc-binary",
            s(&rtpath),
            "--runc-root",
            s(&runtime_root),
            "--cgroup",
            &cg,
        ];
        a.extend_from_slice(opts);
        if !opts.contains(&"--config") {
            a.push(IMAGE);
        }
        a.push(id);
        a.extend_from_slice(args);
        w.cleanup.push(format!(
            "{}; {}; {}",
            shell_line(&ctr(&["task", "kill", "-s", "KILL", id])),
            shell_line(&ctr(&["task", "rm", "-f", id])),
            shell_line(&ctr(&["container", "rm", id]))
        ));
        ctr(&a)
    };

    w.run(&mut ctr(&["image", "import", s(&archive)]))
        .ok("ctr image import");
    w.check("ctr image import of a hand-made OCI archive of the busybox rootfs");

    let mut c = run(
        &mut w,
        &["--rm"],
        "plain",
        &["sh", "-c", "echo out-1; echo err-1 >&2; sleep 0.2; exit 7"],
    );
    let o = w.run(&mut c);
    assert_eq!((o.code, o.stdout.as_str()), (7, "out-1\n"), "{}", o.stderr);
    assert!(o.stderr.contains("err-1"), "{}", o.stderr);
    w.check("ctr run --rm: stdout, stderr and exit code 7");

    // ctr -t wants a terminal of its own: script(1) gives it one.
    let c = run(
        &mut w,
        &["--rm", "-t"],
        "tty",
        &["sh", "-c", "tty; echo tty-ok; exit 3"],
    );
    let o = w.run(Command::new("script").args(["-qec", &shell_line(&c), "/dev/null"]));
    assert_eq!(o.code, 3, "{:?} {}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains("/dev/pts/") && o.stdout.contains("tty-ok\r"),
        "{:?}",
        o.stdout
    );
    w.check("ctr run -t (under script(1)): a pty (/dev/pts/N, CR) and exit code 3");

    // Commands whose output is checked sleep a little before they exit:
    // ctr 1.6 can lose the output of a process that exits right after
    // printing (a race in containerd's copying of the stdio FIFOs; the same
    // is reported in concourse/concourse#6775), whatever the runtime.
    let mut c = run(&mut w, &["-d", "--null-io"], "det", &["sh", "-c", DETACHED]);
    w.run(&mut c).ok("ctr run -d");
    let mut n = 0;
    let mut exec = |w: &mut World, tty: bool, args: &[&str]| {
        n += 1;
        let id = format!("e{n}");
        let mut a = vec!["task", "exec", "--exec-id", &id];
        if tty {
            a.push("-t");
        }
        a.push("det");
        a.extend_from_slice(args);
        let c = ctr(&a);
        if tty {
            w.run(Command::new("script").args(["-qec", &shell_line(&c), "/dev/null"]))
        } else {
            let mut c = c;
            w.run(&mut c)
        }
    };
    w.wait_for("the detached container to be ready", |w| {
        exec(w, false, &["test", "-e", "/tmp/ready"]).code == 0
    });
    let o = exec(&mut w, false, &["sh", "-c", EXEC_PID1]);
    check_exec_pid1(&o);
    w.check("task exec: sees the container's pid 1, output and exit code 4");
    let o = exec(&mut w, true, &["sh", "-c", EXEC_TTY]);
    check_exec_tty(&o);
    w.check("task exec -t: a pty");
    let status = |w: &mut World| -> String {
        let o = w.run(&mut ctr(&["task", "ls"]));
        o.ok("ctr task ls")
            .lines()
            .find(|l| l.starts_with("det "))
            .and_then(|l| l.split_whitespace().nth(2))
            .unwrap_or("")
            .to_string()
    };
    w.run(&mut ctr(&["task", "pause", "det"]))
        .ok("ctr task pause");
    assert_eq!(status(&mut w), "PAUSED");
    if let Some(n) = w.frozen() {
        assert_eq!(n, 1, "one frozen cgroup");
    }
    w.check("task pause: PAUSED, its freezer cgroup FROZEN");
    w.run(&mut ctr(&["task", "resume", "det"]))
        .ok("ctr task resume");
    assert_eq!(status(&mut w), "RUNNING");
    if let Some(n) = w.frozen() {
        assert_eq!(n, 0, "no frozen cgroup");
    }
    let o = exec(&mut w, false, &["sh", "-c", "echo after-resume; sleep 0.2"]);
    assert_eq!(o.ok("exec after resume"), "after-resume\n");
    w.check("task resume: RUNNING and exec works again");
    w.run(&mut ctr(&["task", "kill", "det"]))
        .ok("ctr task kill");
    w.wait_for("the task to stop", |w| status(w) == "STOPPED");
    let o = w.run(&mut ctr(&["task", "rm", "det"]));
    o.ok("ctr task rm");
    assert!(o.stderr.contains("exit code 42"), "{:?}", o.stderr);
    w.check("task kill: SIGTERM reached the container, exit code 42");
    w.run(&mut ctr(&["container", "rm", "det"]))
        .ok("ctr container rm");
    w.check("task rm, container rm");

    // Memory limit: an OOM kill, and the shim's OOM event.
    w.start_daemon("ctr events", &mut ctr(&["events"]));
    let events = w.daemons.last().unwrap().log.clone();
    let mut c = run(
        &mut w,
        &["--rm", "--memory-limit", "16777216"],
        "oom",
        &["sh", "-c", HOG],
    );
    let o = w.run(&mut c);
    assert_eq!(o.code, 137, "{:?} {:?}", o.stdout, o.stderr);
    assert!(!o.stdout.contains("survived"));
    w.wait_for("the /tasks/oom event", |_| {
        std::fs::read_to_string(&events).is_ok_and(|e| e.contains("/tasks/oom"))
    });
    w.check("--memory-limit 16 MiB: OOM kill, exit code 137, a /tasks/oom event");

    // pids limit: ctr has no flag for it, so a whole spec (--config) with
    // the unpacked rootfs as its root.
    let o = w.run(&mut ctr(&["oci", "spec"]));
    let mut spec: Value = serde_json::from_str(o.ok("ctr oci spec")).unwrap();
    spec["process"]["args"] = json!(["/bin/sh", "-c", FORKS]);
    spec["process"]["env"] = json!(["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]);
    spec["root"] = json!({"path": rootfs, "readonly": true});
    spec["linux"]["resources"]["pids"] = json!({"limit": 8});
    spec["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
        "options": ["ro", "nosuid", "noexec", "nodev"]}));
    let spec_file = d.join("pids.json");
    std::fs::write(&spec_file, serde_json::to_vec(&spec).unwrap()).unwrap();
    let mut c = run(&mut w, &["--rm", "--config", s(&spec_file)], "pids", &[]);
    let o = w.run(&mut c);
    assert!(
        o.stdout.starts_with("8\n") && !o.stdout.contains("forked-all"),
        "{:?} {:?}",
        o.stdout,
        o.stderr
    );
    assert!(o.stderr.contains("can't fork"), "{:?}", o.stderr);
    w.check("pids limit 8 (--config spec): pids.max 8, fork fails");

    let o = w.run(&mut ctr(&["task", "ls", "-q"]));
    assert_eq!(o.ok("ctr task ls"), "", "tasks left");
    let o = w.run(&mut ctr(&["container", "ls", "-q"]));
    assert_eq!(o.ok("ctr container ls"), "", "containers left");
    w.check("ctr task ls, container ls: nothing left");
    let roots = [runtime_root.join(NS)];
    w.finish(&roots, &[]);
}

// ---------------------------------------------------------------- Docker

#[test]
fn docker() {
    for rt in runtimes() {
        docker_suite(&rt);
    }
}

fn docker_suite(rt: &Runtime) {
    let mut w = World::new("docker", rt);
    let (_, tar) = w.rootfs();
    let d = w.dir.clone();
    let sock = format!("unix://{}", d.join("d.sock").display());
    // An empty config file: /etc/docker/daemon.json is not ours.
    std::fs::write(d.join("daemon.json"), "{}").unwrap();
    // "runc" is a name Docker keeps for itself.
    let name = if w.rt.name == "runc" {
        "runc-test".to_string()
    } else {
        w.rt.name.clone()
    };
    let name = name.as_str();
    let runtime = format!("{name}={}", w.rt.path.display());
    w.start_daemon(
        "dockerd",
        Command::new("dockerd")
            .arg("--config-file")
            .arg(d.join("daemon.json"))
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("dockerd.pid"))
            .args(["--host", &sock])
            .args(["--bridge=none", "--iptables=false", "--ip6tables=false"])
            .args(["--ip-forward=false", "--ip-masq=false"])
            .args(["--add-runtime", &runtime, "--default-runtime", name])
            .args(["--exec-opt", "native.cgroupdriver=cgroupfs"]),
    );
    let client = docker_client();
    let config = d.join("client");
    let docker = move |args: &[&str]| {
        let mut c = Command::new(&client);
        c.env("DOCKER_CONFIG", &config)
            .args(["-H", &sock])
            .args(args);
        c
    };
    w.wait_ready(|| docker(&["version"]));
    w.check("dockerd answers on its socket");
    w.cleanup = vec![format!(
        "ids=$({ps}); [ -z \"$ids\" ] || {rm} $ids",
        ps = shell_line(&docker(&["ps", "-aq"])),
        rm = shell_line(&docker(&["rm", "-f"]))
    )];
    let o = w.run(&mut docker(&["info", "-f", "{{.DefaultRuntime}}"]));
    assert_eq!(o.ok("docker info").trim(), name);

    let oom = cli_checks(&mut w, &docker, &tar, &[]);
    assert_eq!(oom, "true", "docker inspect: OOMKilled");
    w.check("--memory 16m: OOMKilled=true");

    // docker update: the runtime's `update --resources -`.
    let parent = w.cgroup_parent.clone();
    w.run(&mut docker(&[
        "run",
        "-d",
        "--name",
        "upd",
        "--network",
        "none",
        "--cgroup-parent",
        &parent,
        IMAGE,
        "sleep",
        "600",
    ]))
    .ok("docker run -d");
    w.run(&mut docker(&[
        "update",
        "--memory",
        "32m",
        "--memory-swap",
        "64m",
        "--pids-limit",
        "20",
        "--cpu-shares",
        "512",
        "upd",
    ]))
    .ok("docker update");
    let o = w.run(&mut docker(&[
        "exec", "upd", "sh", "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.shares",
    ]));
    assert_eq!(o.ok("read the limits"), "33554432\n20\n512\n");
    w.run(&mut docker(&["rm", "-f", "upd"])).ok("docker rm -f");
    w.check("docker update --memory --pids-limit --cpu-shares: applied; rm -f");

    // Docker gives the runtime a root under its exec-root.
    let roots: Vec<PathBuf> = std::fs::read_dir(d.join("exec"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("runtime-"))
        .map(|e| e.path().join("moby"))
        .collect();
    assert!(!roots.is_empty(), "no runtime root under the exec-root");
    w.finish(&roots, &[]);
}
