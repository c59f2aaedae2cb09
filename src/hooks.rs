//! OCI hooks run by the runtime (prestart, createRuntime, poststart,
//! poststop): the state JSON on stdin, `timeout` honoured.

use crate::error::{Error, Result};
use oci_spec::runtime::Hook;
use std::io::Write;
use std::process::{Command, Stdio};

/// Run every hook of `list` (named `name` in messages) in order.
pub fn run(name: &str, list: Option<&Vec<Hook>>, state: &[u8]) -> Result<()> {
    for (i, h) in list.into_iter().flatten().enumerate() {
        run_one(h, state)
            .map_err(|e| Error::Msg(format!("hooks.{name}[{i}] {}: {e}", h.path().display())))?;
    }
    Ok(())
}

/// Run every hook of `list`, only warning about failures: for poststop,
/// whose failures must not stop the remaining hooks or the lifecycle.
pub fn run_warn(name: &str, list: Option<&Vec<Hook>>, state: &[u8]) {
    for (i, h) in list.into_iter().flatten().enumerate() {
        if let Err(e) = run_one(h, state) {
            crate::log::warn(&format!("hooks.{name}[{i}] {}: {e}", h.path().display()));
        }
    }
}

fn run_one(h: &Hook, state: &[u8]) -> std::result::Result<(), String> {
    let args = h.args().clone().unwrap_or_default();
    let mut cmd = Command::new(h.path());
    if let Some(a0) = args.first() {
        std::os::unix::process::CommandExt::arg0(&mut cmd, a0);
    }
    cmd.args(args.iter().skip(1))
        .env_clear()
        .envs(h.env().iter().flatten().filter_map(|e| e.split_once('=')))
        .stdin(Stdio::piped())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine.
        let _ = stdin.write_all(state);
    }
    let pid = child.id() as i32;
    let status = match h.timeout() {
        Some(t) => match crate::init::wait_timeout(pid, Some(t)) {
            Ok(()) => return Ok(()),
            Err(nix::errno::Errno::ETIMEDOUT) => return Err(format!("timed out after {t}s")),
            Err(_) => return Err("failed".into()),
        },
        None => child.wait().map_err(|e| e.to_string())?,
    };
    if status.success() {
        Ok(())
    } else {
        Err(format!("{status}"))
    }
}
