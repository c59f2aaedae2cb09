//! The verbs on an existing container: start, state, list, kill, delete.

use crate::error::{Context, Error, Result};
use crate::state::{self, Dir, State, Status};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

fn frozen(st: &State) -> bool {
    crate::cgroups::reopen(st).is_some_and(|cg| cg.is_frozen().unwrap_or(false))
}

/// Load a container and its live status, without locking it.
pub fn load(root: &Path, id: &str) -> Result<(State, Status)> {
    let dir = state::container_dir(root, id)?;
    let st = state::load(&dir)?;
    let status = state::status(&dir, &st, || frozen(&st));
    Ok((st, status))
}

/// Open and lock a container, with its live status.
pub fn open(root: &Path, id: &str) -> Result<(Dir, State, Status)> {
    let dir = Dir::open(root, id)?;
    let st = dir.load()?;
    let status = state::status(&dir.path, &st, || frozen(&st));
    Ok((dir, st, status))
}

pub fn state(root: &Path, id: &str) -> Result<()> {
    let (st, status) = load(root, id)?;
    let out = serde_json::to_string_pretty(&st.oci(status)).expect("state serializes");
    println!("{out}");
    Ok(())
}

pub fn start(root: &Path, id: &str) -> Result<()> {
    let (dir, st, status) = open(root, id)?;
    match status {
        Status::Created => {}
        Status::Stopped => {
            return Err(Error::Invalid(
                "cannot start a container that has stopped".into(),
            ))
        }
        s => {
            return Err(Error::Invalid(format!(
                "cannot start an already {} container",
                s.as_str()
            )))
        }
    }
    let fifo_path = dir.fifo();
    let pidfd = crate::sys::pidfd_open(st.pid).ctx("pidfd_open")?;
    let fifo = nix::fcntl::open(
        &fifo_path,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .with_ctx(|| format!("open {}", fifo_path.display()))?;
    // Either the init writes its byte (it is released) or it dies.
    loop {
        let mut fds = [
            PollFd::new(fifo.as_fd(), PollFlags::POLLIN),
            PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => r.ctx("poll")?,
        };
        let fifo_ready = fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLIN));
        let died = fds[1].revents().is_some_and(|r| !r.is_empty());
        if fifo_ready {
            let mut b = [0u8; 1];
            if matches!(nix::unistd::read(&fifo, &mut b), Ok(1)) {
                break;
            }
        }
        if died {
            let _ = std::fs::remove_file(&fifo_path);
            return Err(Error::Msg(
                "cannot start a container that has stopped: its init exited".into(),
            ));
        }
    }
    let _ = std::fs::remove_file(&fifo_path);
    let spec: oci_spec::runtime::Spec = crate::spec::from_state(&st.config).map_err(Error::Msg)?;
    let poststart = spec.hooks().as_ref().and_then(|h| h.poststart().as_ref());
    if poststart.is_some_and(|h| !h.is_empty()) {
        // poststart runs after the program started: the init holds the fifo
        // open until its execve, so EOF on it is that moment.
        wait_eof(&fifo);
    }
    let json = serde_json::to_vec(&st.oci(Status::Running)).expect("state serializes");
    if let Err(e) = crate::hooks::run(
        "poststart",
        spec.hooks().as_ref().and_then(|h| h.poststart().as_ref()),
        &json,
    ) {
        let _ = crate::sys::pidfd_send_signal(pidfd.as_raw_fd(), libc::SIGKILL);
        return Err(e);
    }
    Ok(())
}

/// Read until EOF (all writers closed), waiting in poll(2).
fn wait_eof(fd: &std::os::fd::OwnedFd) {
    let mut buf = [0u8; 64];
    loop {
        match nix::unistd::read(fd, &mut buf) {
            Ok(0) => return,
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(nix::errno::Errno::EAGAIN) => {
                let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
                let _ = poll(&mut fds, PollTimeout::NONE);
            }
            Err(_) => return,
        }
    }
}

/// runc's `list` table: tabwriter(minwidth 12, padding 3).
fn table(rows: &[[String; 6]]) -> String {
    let mut w = [0usize; 6];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.len() + 3).max(12);
        }
    }
    let mut out = String::new();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i == 5 {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<width$}", width = w[i]));
            }
        }
        out.push('\n');
    }
    out
}

fn owner_name(uid: u32) -> String {
    nix::unistd::User::from_uid(uid.into())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| format!("#{uid}"))
}

pub fn list(root: &Path, format: &str, quiet: bool) -> Result<()> {
    if format != "table" && format != "json" {
        return Err(Error::Invalid(format!("invalid format option: {format}")));
    }
    let mut items = Vec::new();
    for id in state::list_ids(root) {
        let Ok((st, status)) = load(root, &id) else {
            continue;
        };
        let uid = std::fs::metadata(root.join(&id))
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
            .unwrap_or(0);
        items.push((st, status, owner_name(uid)));
    }
    if quiet {
        for (st, _, _) in &items {
            println!("{}", st.id);
        }
        return Ok(());
    }
    if format == "json" {
        let v: Vec<serde_json::Value> = items
            .iter()
            .map(|(st, status, owner)| {
                let mut o = serde_json::to_value(st.oci(*status)).expect("serializes");
                o["owner"] = owner.clone().into();
                o
            })
            .collect();
        println!("{}", serde_json::to_string(&v).expect("serializes"));
        return Ok(());
    }
    let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from)];
    for (st, status, owner) in &items {
        let pid = if *status == Status::Stopped {
            0
        } else {
            st.pid
        };
        rows.push([
            st.id.clone(),
            pid.to_string(),
            status.as_str().into(),
            st.bundle.clone(),
            st.created.clone(),
            owner.clone(),
        ]);
    }
    print!("{}", table(&rows));
    Ok(())
}

/// A signal by number, or by name with or without "SIG".
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
        return Err(Error::Invalid(format!("invalid signal: {s}")));
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<nix::sys::signal::Signal>()
        .map(|sig| sig as i32)
        .map_err(|_| Error::Invalid(format!("unknown signal {s:?}")))
}

pub fn kill(root: &Path, id: &str, signal: Option<&str>, all: bool) -> Result<()> {
    let sig = parse_signal(signal.unwrap_or("SIGTERM"))?;
    let (_dir, st, status) = open(root, id)?;
    if status == Status::Stopped && !all {
        return Err(Error::Invalid("container not running".into()));
    }
    if all {
        if let Some(cg) = crate::cgroups::reopen(&st) {
            return cg.kill_all(sig).map_err(|e| Error::Msg(e.to_string()));
        }
    }
    send(&st, sig)
}

/// Signal the init through a pidfd, after checking the pid was not reused.
fn send(st: &State, sig: i32) -> Result<()> {
    let pidfd = match crate::sys::pidfd_open(st.pid) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ESRCH) => {
            return Err(Error::Invalid("container not running".into()))
        }
        Err(e) => {
            return Err(Error::Sys {
                what: "pidfd_open".into(),
                errno: e,
            })
        }
    };
    if state::start_time(st.pid) != Some(st.pid_start) {
        return Err(Error::Invalid("container not running".into()));
    }
    crate::sys::pidfd_send_signal(pidfd.as_raw_fd(), sig).ctx("send signal")
}

/// Wait until the process behind the state is gone.
fn wait_gone(st: &State) {
    let Ok(pidfd) = crate::sys::pidfd_open(st.pid) else {
        return;
    };
    if state::start_time(st.pid) != Some(st.pid_start) {
        return;
    }
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    while let Err(nix::errno::Errno::EINTR) = poll(&mut fds, PollTimeout::NONE) {}
    // Reap it if it is our child (a foreground run with --keep).
    let _ = nix::sys::wait::waitpid(
        nix::unistd::Pid::from_raw(st.pid),
        Some(nix::sys::wait::WaitPidFlag::WNOHANG),
    );
}

/// A frozen (paused) init never dies of SIGKILL: kill the whole cgroup,
/// which thaws it after signalling.
fn kill_frozen(st: &State) {
    if let Some(cg) = crate::cgroups::reopen(st) {
        if cg.is_frozen().unwrap_or(false) {
            let _ = cg.kill_all(libc::SIGKILL);
        }
    }
}

pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    let dir = match Dir::open_opt(root, id)? {
        Some(dir) => dir,
        None if force => return Ok(()),
        None => return Err(state::not_found(id)),
    };
    let st = match dir.load() {
        Ok(st) => st,
        // A create killed before it wrote anything: nothing runs, remove it.
        Err(_) if force => return dir.remove(),
        Err(e) => return Err(e),
    };
    let status = state::status(&dir.path, &st, || frozen(&st));
    match status {
        Status::Stopped => {}
        Status::Created | Status::Creating => {
            kill_frozen(&st);
            let _ = send(&st, libc::SIGKILL);
            wait_gone(&st);
        }
        s if force => {
            let _ = s;
            kill_frozen(&st);
            let _ = send(&st, libc::SIGKILL);
            wait_gone(&st);
        }
        s => {
            return Err(Error::Invalid(format!(
                "cannot delete container {id} that is not stopped: {}",
                s.as_str()
            )))
        }
    }
    crate::cgroups::remove(&st.cgroup_paths, || {
        if let Some(cg) = crate::cgroups::reopen(&st) {
            crate::cgroups::kill_and_wait(cg.as_ref());
        }
    });
    // A create that never finished (even if its init is gone now) never
    // started anything: no poststop.
    if st.status != Status::Creating {
        crate::create::poststop(&st, &dir.path);
    }
    dir.remove()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("sigusr1").unwrap(), 10);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("0").is_err());
    }

    #[test]
    fn table_like_tabwriter() {
        let rows = vec![
            ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from),
            [
                "hello",
                "0",
                "stopped",
                "/a/very/long/bundle/path",
                "2025",
                "root",
            ]
            .map(String::from),
        ];
        let t = table(&rows);
        let first = t.lines().next().unwrap();
        assert!(
            first.starts_with(
                "ID          PID         STATUS      BUNDLE                     CREATED     OWNER"
            ),
            "{t}"
        );
    }
}
