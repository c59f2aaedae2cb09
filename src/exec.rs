//! `husk exec`: run another process inside a running container. The new
//! process joins every namespace of the container's init (with the extra
//! fork a pid or time namespace needs), its cgroups, and takes the
//! container's seccomp filter, capabilities and LSM label unless the
//! process JSON or flags say otherwise.

use crate::error::{Context, Error, Result};
use crate::plan;
use crate::spawn::{self, IdMaps, Parent};
use crate::state::{State, Status};
use crate::sync::Msg;
use oci_spec::runtime::Spec;
use serde_json::{json, Value};
use std::path::Path;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecArgs {
    /// path to an AF_UNIX socket which will receive the pty master
    pub console_socket: Option<String>,
    /// current working directory in the container
    pub cwd: Option<String>,
    /// set environment variables
    pub env: Vec<String>,
    /// allocate a pseudo-TTY
    pub tty: bool,
    /// UID (format: <uid>[:<gid>])
    pub user: Option<String>,
    /// additional gids
    pub additional_gids: Vec<u32>,
    /// path to the process.json
    pub process: Option<String>,
    /// detach from the container's process
    pub detach: bool,
    /// specify the file to write the process id to
    pub pid_file: Option<String>,
    /// set the asm process label for the process commonly used with selinux
    pub process_label: Option<String>,
    /// set the apparmor profile for the process
    pub apparmor: Option<String>,
    /// set the no new privileges value for the process
    pub no_new_privs: bool,
    /// add a capability to the bounding set for the process
    pub cap: Vec<String>,
    /// pass N additional file descriptors to the container
    pub preserve_fds: u32,
    /// run the process in an (existing) sub-cgroup(s)
    pub cgroup: Vec<String>,
    /// allow exec in a paused container
    pub ignore_paused: bool,
    pub id: String,
    /// the command and its arguments
    pub command: Vec<String>,
}

/// The process to run: `--process FILE` or the container's process with
/// the command line's args and flags over it.
pub fn process_json(base: &Value, a: &ExecArgs) -> Result<Value> {
    if let Some(f) = &a.process {
        let text = std::fs::read(f).map_err(|e| Error::Invalid(format!("--process {f}: {e}")))?;
        let v: Value = serde_json::from_slice(&text)
            .map_err(|e| Error::Invalid(format!("--process {f}: {e}")))?;
        return Ok(v);
    }
    if a.command.is_empty() {
        return Err(Error::Invalid(
            "exec: no command given (arguments or --process)".into(),
        ));
    }
    let mut p = base.clone();
    if !p.is_object() {
        p = json!({"cwd": "/", "user": {"uid": 0, "gid": 0}});
    }
    p["args"] = json!(a.command);
    p["terminal"] = json!(a.tty);
    if let Some(c) = &a.cwd {
        p["cwd"] = json!(c);
    }
    if !a.env.is_empty() {
        let mut env: Vec<Value> = p["env"].as_array().cloned().unwrap_or_default();
        for e in &a.env {
            let key = e.split('=').next().unwrap_or("");
            env.retain(|x| x.as_str().and_then(|s| s.split('=').next()) != Some(key));
            env.push(json!(e));
        }
        p["env"] = Value::Array(env);
    }
    if let Some(u) = &a.user {
        let (uid, gid) = u.split_once(':').unwrap_or((u.as_str(), "0"));
        let uid: u32 = uid
            .parse()
            .map_err(|_| Error::Invalid(format!("--user {u}: uid must be a number")))?;
        let gid: u32 = gid
            .parse()
            .map_err(|_| Error::Invalid(format!("--user {u}: gid must be a number")))?;
        p["user"]["uid"] = json!(uid);
        p["user"]["gid"] = json!(gid);
    }
    if !a.additional_gids.is_empty() {
        p["user"]["additionalGids"] = json!(a.additional_gids);
    }
    if a.no_new_privs {
        p["noNewPrivileges"] = json!(true);
    }
    if let Some(l) = &a.apparmor {
        p["apparmorProfile"] = json!(l);
    }
    if let Some(l) = &a.process_label {
        p["selinuxLabel"] = json!(l);
    }
    for c in &a.cap {
        for set in ["bounding", "effective", "permitted", "ambient"] {
            let list = p["capabilities"][set]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if !list.iter().any(|x| x == c) {
                let mut list = list;
                list.push(json!(c));
                p["capabilities"][set] = Value::Array(list);
            }
        }
    }
    Ok(p)
}

/// The container's config, turned into one that joins its namespaces.
fn exec_spec(st: &State, mut cfg: Value, process: Value) -> Result<Spec> {
    cfg["process"] = process;
    let types: Vec<String> = cfg["linux"]["namespaces"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["type"].as_str().map(String::from))
        .collect();
    let mut joins = Vec::new();
    for t in types {
        let file = match t.as_str() {
            "mount" => "mnt",
            "network" => "net",
            "cgroup" => "cgroup",
            other => other,
        };
        let path = format!("/proc/{}/ns/{file}", st.pid);
        // Skip namespaces the init shares with us (nothing to join).
        let same = std::fs::read_link(&path).ok()
            == std::fs::read_link(format!("/proc/self/ns/{file}")).ok();
        if !same {
            joins.push(json!({"type": t, "path": path}));
        }
    }
    cfg["linux"]["namespaces"] = Value::Array(joins);
    for k in [
        "uidMappings",
        "gidMappings",
        "sysctl",
        "maskedPaths",
        "readonlyPaths",
        "devices",
        "timeOffsets",
        "rootfsPropagation",
    ] {
        if let Some(o) = cfg["linux"].as_object_mut() {
            o.remove(k);
        }
    }
    if let Some(o) = cfg.as_object_mut() {
        for k in ["mounts", "hooks", "hostname", "domainname"] {
            o.remove(k);
        }
    }
    let text = serde_json::to_vec(&cfg).expect("serializes");
    crate::spec::parse(&text).map_err(Error::Invalid)
}

struct Joining;

impl Parent for Joining {
    /// The process joins the cgroup only once it is set up (below): in a
    /// paused container it would freeze before it could answer.
    fn placed(&mut self, _pid: i32, _born_in_v2: bool) -> Result<()> {
        Ok(())
    }
    fn repid(&mut self, _pid: i32) -> Result<()> {
        Ok(())
    }
    fn runtime_hooks(&mut self, _pid: i32) -> Result<()> {
        Ok(())
    }
    fn child_hook_state(&self, _pid: i32) -> Vec<u8> {
        Vec::new()
    }
}

pub fn exec(root: &Path, a: &ExecArgs) -> Result<i32> {
    let (st, status) = crate::container::load(root, &a.id)?;
    match status {
        Status::Running | Status::Created => {}
        Status::Paused if a.ignore_paused => {}
        Status::Paused => {
            return Err(Error::Invalid(
                "cannot exec in a paused container (use --ignore-paused to override)".into(),
            ))
        }
        s => {
            return Err(Error::Invalid(format!(
                "cannot exec in a {} container",
                s.as_str()
            )))
        }
    }
    let config = st.config_value()?;
    let process = process_json(&config["process"], a)?;
    let terminal = process["terminal"].as_bool().unwrap_or(false);
    let console = match (&a.console_socket, terminal) {
        (Some(p), true) => Some(
            std::os::unix::net::UnixStream::connect(p)
                .map_err(|e| Error::Invalid(format!("--console-socket {p}: {e}")))?,
        ),
        (None, true) if a.detach => {
            return Err(Error::Invalid(
                "cannot allocate tty if husk will detach without setting console socket".into(),
            ))
        }
        _ => None,
    };
    let spec = exec_spec(&st, config, process)?;
    let rootfs = Path::new(&st.rootfs);
    let mut plan = plan::build(plan::Inputs {
        spec: &spec,
        bundle: Path::new(&st.bundle),
        rootfs,
        no_pivot: false,
        no_new_keyring: true,
        preserve_fds: a.preserve_fds,
        fifo: None,
        cgroup_binds: Vec::new(),
        confine: crate::confine::build(&spec, &crate::seccomp::cache_dir(root))?,
    })?;
    // Joining a pid (or time) namespace takes an extra fork: plan::build
    // sees that from the joined namespaces, as for `create`.
    plan.exec = true;
    let mut parent = Joining;
    let signals = if a.detach {
        None
    } else {
        Some(crate::runwait::block_signals()?)
    };
    let mut sp = spawn::spawn(
        &plan,
        &IdMaps {
            uid: String::new(),
            gid: String::new(),
        },
        &mut parent,
    )?;
    if let (Some(pty), Some(sock)) = (&sp.pty, &console) {
        use std::os::fd::AsRawFd;
        if let Err(e) =
            crate::sys::send_with_fd(sock.as_raw_fd(), b"/dev/ptmx", Some(pty.as_raw_fd()))
        {
            spawn::kill_and_reap(sp.pid);
            return Err(Error::Sys {
                what: "send the pty to --console-socket".into(),
                errno: e,
            });
        }
    }
    if let Some(p) = &a.pid_file {
        if let Err(e) = crate::create::write_pid_file(p, sp.pid) {
            spawn::kill_and_reap(sp.pid);
            return Err(e);
        }
    }
    if let Some(cg) = crate::cgroups::reopen(&st) {
        if let Err(e) = cg.add_task(sp.pid) {
            spawn::kill_and_reap(sp.pid);
            return Err(Error::Msg(format!("join the container's cgroup: {e}")));
        }
    }
    sp.chan.send(Msg::Start).ctx("start the process")?;
    if status == Status::Paused && a.detach {
        // Frozen with the container: it runs (and execs) on resume.
        return Ok(0);
    }
    match sp.chan.recv() {
        Ok(None) => {}
        Ok(Some((Msg::Error { step, index, errno }, _))) => {
            spawn::kill_and_reap(sp.pid);
            return Err(spawn::child_error(&plan, step, index, errno));
        }
        other => {
            spawn::kill_and_reap(sp.pid);
            return Err(Error::Msg(format!(
                "exec: unexpected answer from the process: {other:?}"
            )));
        }
    }
    match signals {
        None => Ok(0),
        Some(sigs) => {
            let pty = if console.is_some() {
                None
            } else {
                sp.pty.take()
            };
            crate::runwait::wait(sp.pid, sigs, pty)
        }
    }
}
