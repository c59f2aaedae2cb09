//! `create` and `run`: validate, record, spawn, and (for run) start and wait.

use crate::cli::CreateArgs;
use crate::error::{Context, Error, Result};
use crate::plan::{self, Plan};
use crate::spawn::{self, IdMaps, Parent};
use crate::state::{self, Dir, State, Status};
use crate::{hooks, spec};
use oci_spec::runtime::Spec;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Run { detach: bool, keep: bool },
}

/// What `create` made so far, undone on failure.
struct Creating<'a> {
    dir: Option<Dir>,
    st: State,
    spec: &'a Spec,
    cgroup: Option<Box<dyn crate::cgroups::Cgroup>>,
    done: bool,
    /// The init joins its v1 cgroups itself (plan.cgroup_join).
    self_joined: bool,
}

impl Drop for Creating<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if let Some(cg) = self.cgroup.as_mut() {
            // The recorded list covers every directory we made; without
            // one (a failure before it was written) ask the cgroup itself.
            if self.st.cgroup_paths.is_empty() {
                crate::cgroups::kill_and_wait(cg.as_ref());
                let _ = cg.destroy();
            } else {
                crate::cgroups::remove(&self.st.cgroup_paths, || {
                    crate::cgroups::kill_and_wait(cg.as_ref())
                });
            }
        }
        if let Some(d) = self.dir.take() {
            let _ = d.remove();
        }
    }
}

impl Parent for Creating<'_> {
    fn placed(&mut self, pid: i32, born_in_v2: bool) -> Result<()> {
        self.repid(pid)?;
        if let Some(cg) = self.cgroup.as_mut() {
            // The init joins its v1 hierarchies itself when it can (the
            // `tasks` files in the plan); the rest is moved from here.
            let e = |e| Error::Msg(format!("linux.resources: {e}"));
            match (self.self_joined, born_in_v2) {
                (true, true) => {}
                (true, false) => cg.add_task_v2(pid).map_err(e)?,
                (false, _) => cg.add_task(pid).map_err(e)?,
            }
        }
        if let Some(adj) = self.spec.process().as_ref().and_then(|p| p.oom_score_adj()) {
            std::fs::write(format!("/proc/{pid}/oom_score_adj"), adj.to_string())
                .ctx("write process.oomScoreAdj")?;
        }
        Ok(())
    }

    fn repid(&mut self, pid: i32) -> Result<()> {
        self.st.pid = pid;
        self.st.pid_start = state::start_time(pid).unwrap_or(0);
        self.dir.as_ref().expect("dir").save(&self.st)
    }

    fn runtime_hooks(&mut self, pid: i32) -> Result<()> {
        let json = self.state_json(pid);
        let h = self.spec.hooks().as_ref();
        hooks::run("prestart", h.and_then(|h| h.prestart().as_ref()), &json)?;
        hooks::run(
            "createRuntime",
            h.and_then(|h| h.create_runtime().as_ref()),
            &json,
        )
    }

    fn child_hook_state(&self, pid: i32) -> Vec<u8> {
        self.state_json(pid)
    }
}

impl Creating<'_> {
    /// The v1 `tasks` files the init writes "0" into. Not with a user
    /// namespace made at clone: before Linux 5.16 the kernel checked the
    /// writer's credentials, not the opener's, and the init is no longer
    /// root in the initial namespace then.
    fn self_join_fds(&self, plan: &Plan) -> Result<Vec<OwnedFd>> {
        let Some(cg) = self.cgroup.as_ref() else {
            return Ok(Vec::new());
        };
        if plan.clone_flags & libc::CLONE_NEWUSER != 0 {
            return Ok(Vec::new());
        }
        cg.self_join_files()
            .iter()
            .map(|p| {
                nix::fcntl::open(
                    p,
                    nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
                    nix::sys::stat::Mode::empty(),
                )
                .map_err(|errno| Error::Sys {
                    what: format!("linux.cgroupsPath: open {}", p.display()),
                    errno,
                })
            })
            .collect()
    }

    /// Record, then make and configure the container's cgroup, before the
    /// init exists; returns its v2 directory to be born in, if there is one.
    fn make_cgroup(&mut self) -> Result<Option<OwnedFd>> {
        let Some(cg) = self.cgroup.as_mut() else {
            return Ok(None);
        };
        self.st.cgroup_paths = crate::cgroups::to_create(cg.as_ref());
        self.dir.as_ref().expect("dir").save(&self.st)?;
        let e = |e: crate::cgroup::CgroupError| Error::Msg(format!("linux.resources: {e}"));
        cg.create().map_err(e)?;
        if let Some(r) = crate::cgroups::effective_resources(self.spec) {
            cg.apply(&r).map_err(e)?;
        }
        Ok(cg.v2_dir().and_then(|d| {
            nix::fcntl::open(
                &d,
                nix::fcntl::OFlag::O_PATH
                    | nix::fcntl::OFlag::O_DIRECTORY
                    | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .ok()
        }))
    }

    fn state_json(&self, pid: i32) -> Vec<u8> {
        let mut o = self.st.oci(Status::Creating);
        o.pid = pid;
        serde_json::to_vec(&o).expect("state serializes")
    }
}

fn id_maps(spec: &Spec) -> IdMaps {
    let fmt = |m: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>| {
        m.into_iter()
            .flatten()
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect::<String>()
    };
    let l = spec.linux().as_ref();
    IdMaps {
        uid: fmt(l.and_then(|l| l.uid_mappings().as_ref())),
        gid: fmt(l.and_then(|l| l.gid_mappings().as_ref())),
    }
}

/// The container's cgroup directories to bind for a `cgroup` mount.
fn cgroup_binds(cg: Option<&dyn crate::cgroups::Cgroup>) -> plan::CgroupBinds {
    let Some(cg) = cg else { return Vec::new() };
    let base = Path::new(crate::cgroups::ROOT);
    // On a pure v2 host the one hierarchy is mounted at the root itself.
    let v2_root = crate::cgroups::is_v2_root();
    cg.paths()
        .into_iter()
        .filter_map(|p| {
            if v2_root {
                return Some((String::new(), p));
            }
            let rel = p.strip_prefix(base).ok()?;
            let name = rel.components().next()?.as_os_str().to_string_lossy();
            Some((name.into_owned(), p))
        })
        .collect()
}

pub fn create(root: &Path, a: &CreateArgs, mode: Mode) -> Result<i32> {
    let bundle = std::fs::canonicalize(&a.bundle)
        .map_err(|e| Error::Invalid(format!("bundle {}: {e}", a.bundle)))?;
    let spec = spec::load(&bundle)?;
    spec::validate(&spec, true)?;
    let rootfs = spec::rootfs(&spec, &bundle)?;
    crate::util::validate_id(&a.id).map_err(Error::Invalid)?;
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    let console = match (&a.console_socket, terminal) {
        (Some(p), true) => Some(
            std::os::unix::net::UnixStream::connect(p)
                .map_err(|e| Error::Invalid(format!("--console-socket {p}: {e}")))?,
        ),
        (Some(_), false) => {
            return Err(Error::Invalid(
                "--console-socket given but process.terminal is false".into(),
            ))
        }
        (None, true) if !matches!(mode, Mode::Run { detach: false, .. }) => {
            return Err(Error::Invalid(
                "cannot allocate tty if husk will detach without setting console socket".into(),
            ))
        }
        _ => None,
    };

    let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    let listener = match seccomp.and_then(|s| s.listener_path().as_ref()) {
        Some(p) => Some(std::os::unix::net::UnixStream::connect(p).map_err(|e| {
            Error::Invalid(format!("linux.seccomp.listenerPath: {}: {e}", p.display()))
        })?),
        None => None,
    };
    let dir = Dir::create(root, &a.id)?;
    let cgroup = Some(crate::cgroups::for_spec(&spec, &a.id)?);
    let mut c = Creating {
        st: State {
            id: a.id.clone(),
            pid: 0,
            pid_start: 0,
            status: Status::Creating,
            bundle: bundle.to_string_lossy().into_owned(),
            rootfs: rootfs.to_string_lossy().into_owned(),
            created: crate::util::rfc3339_now(true),
            owner: String::new(),
            annotations: spec
                .annotations()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            cgroup_paths: Vec::new(),
            config: state::raw_json(&spec),
        },
        dir: Some(dir),
        spec: &spec,
        cgroup,
        done: false,
        self_joined: false,
    };
    let fifo = if mode == Mode::Create {
        Some(make_fifo(c.dir.as_ref().expect("dir"))?)
    } else {
        None
    };
    let mut plan = plan::build(plan::Inputs {
        spec: &spec,
        bundle: &bundle,
        rootfs: &rootfs,
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds,
        fifo,
        cgroup_binds: cgroup_binds(c.cgroup.as_deref()),
        confine: crate::confine::build(&spec, &crate::seccomp::cache_dir(root))?,
    })?;
    plan.parent_fds.push(c.dir.as_ref().expect("dir").lock_fd());
    plan.cgroup_fd = c.make_cgroup()?;
    plan.cgroup_join = c.self_join_fds(&plan)?;
    c.self_joined = !plan.cgroup_join.is_empty();
    if let Some(fd) = &plan.cgroup_fd {
        plan.parent_fds.push(std::os::fd::AsRawFd::as_raw_fd(fd));
    }
    let maps = id_maps(&spec);
    let sp = spawn::spawn(&plan, &maps, &mut c);
    plan.cgroup_join.clear();
    let mut sp = sp?;
    let fail = |e: Error, pid: i32| {
        spawn::kill_and_reap(pid);
        Err(e)
    };
    if let (Some(pty), Some(sock)) = (&sp.pty, &console) {
        if let Err(e) =
            crate::sys::send_with_fd(sock.as_raw_fd(), b"/dev/ptmx", Some(pty.as_raw_fd()))
        {
            return fail(
                Error::Sys {
                    what: "send the pty to --console-socket".into(),
                    errno: e,
                },
                sp.pid,
            );
        }
    }
    if let (Some(fd), Some(sock)) = (&sp.seccomp_fd, &listener) {
        let msg = serde_json::json!({
            "ociVersion": crate::OCI_VERSION,
            "fds": ["seccompFd"],
            "pid": sp.pid,
            "metadata": seccomp.and_then(|s| s.listener_metadata().clone()).unwrap_or_default(),
            "state": c.st.oci(Status::Creating),
        });
        let data = serde_json::to_vec(&msg).expect("serializes");
        if let Err(e) = crate::sys::send_with_fd(sock.as_raw_fd(), &data, Some(fd.as_raw_fd())) {
            return fail(
                Error::Sys {
                    what: "send the seccomp fd to linux.seccomp.listenerPath".into(),
                    errno: e,
                },
                sp.pid,
            );
        }
    }
    c.st.status = Status::Created;
    if let Err(e) = c.dir.as_ref().expect("dir").save(&c.st) {
        return fail(e, sp.pid);
    }
    if let Some(p) = &a.pid_file {
        if let Err(e) = write_pid_file(p, sp.pid) {
            return fail(e, sp.pid);
        }
    }
    match mode {
        Mode::Create => {
            c.done = true;
            Ok(0)
        }
        Mode::Run { detach, keep } => {
            let res = run_started(&plan, &mut sp, &c, detach);
            if detach {
                c.done = res.is_ok();
                return res;
            }
            // Foreground: the container has exited (or failed to start).
            c.done = keep;
            let code = res?;
            let dir = c.dir.as_ref().expect("dir");
            let mut st = c.st.clone();
            st.pid = sp.pid;
            poststop(&st, dir.path.as_path());
            Ok(code)
        }
    }
}

fn make_fifo(dir: &Dir) -> Result<OwnedFd> {
    let p = dir.fifo();
    nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .with_ctx(|| format!("mkfifo {}", p.display()))?;
    // 0622 whatever our umask: an init that is not the host's root (the
    // root of a user namespace) must be able to open it for writing.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o622))
        .with_ctx(|| format!("chmod {}", p.display()))?;
    let f = nix::fcntl::open(
        &p,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .with_ctx(|| format!("open {}", p.display()))?;
    Ok(f)
}

pub fn write_pid_file(path: &str, pid: i32) -> Result<()> {
    let p = PathBuf::from(path);
    let p = if p.is_absolute() {
        p
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    state::write_atomic(&p, pid.to_string().as_bytes())
}

/// `run`: release the init, run poststart hooks, then detach or wait.
fn run_started(plan: &Plan, sp: &mut spawn::Spawned, c: &Creating, detach: bool) -> Result<i32> {
    use crate::sync::Msg;
    let pid = sp.pid;
    let signals = if detach {
        None
    } else {
        Some(crate::runwait::block_signals()?)
    };
    sp.chan.send(Msg::Start).ctx("start the container")?;
    // Until exec, the init reports failures; EOF means the program runs.
    match sp.chan.recv() {
        Ok(None) => {}
        Ok(Some((Msg::Error { step, index, errno }, _))) => {
            spawn::kill_and_reap(pid);
            return Err(spawn::child_error(plan, step, index, errno));
        }
        Ok(Some((m, _))) => {
            spawn::kill_and_reap(pid);
            return Err(Error::Msg(format!(
                "unexpected message from the container's init: {m:?}"
            )));
        }
        Err(e) => {
            spawn::kill_and_reap(pid);
            return Err(Error::Sys {
                what: "wait for the container to start".into(),
                errno: e,
            });
        }
    }
    let json = serde_json::to_vec(&c.st.oci(Status::Running)).expect("state serializes");
    let h = c.spec.hooks().as_ref();
    if let Err(e) = hooks::run("poststart", h.and_then(|h| h.poststart().as_ref()), &json) {
        spawn::kill_and_reap(pid);
        return Err(e);
    }
    match signals {
        None => Ok(0),
        Some(sigs) => {
            c.dir.as_ref().expect("dir").unlock();
            let code = crate::runwait::wait(pid, sigs, sp.pty.take());
            c.dir.as_ref().expect("dir").relock()?;
            code
        }
    }
}

/// Run poststop hooks (failures are warnings, as the spec says).
pub fn poststop(st: &State, _dir: &Path) {
    let Ok(spec) = crate::spec::from_state(&st.config) else {
        return;
    };
    let json = serde_json::to_vec(&st.oci(Status::Stopped)).expect("state serializes");
    hooks::run_warn(
        "poststop",
        spec.hooks().as_ref().and_then(|h| h.poststop().as_ref()),
        &json,
    );
}
