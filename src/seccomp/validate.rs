//! Pure checks on a parsed `linux.seccomp` object (no libseccomp, no kernel).
//!
//! Unknown enum strings (actions, operators, architectures, flags) never reach
//! this code: oci-spec rejects them while deserializing.  Use [`super::parse`]
//! (or run the whole config through [`crate::jsonpath::from_slice`], see
//! [`super::SeccompError::from_path_error`]) so that such errors also name the
//! JSON field.

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction as Act};

use super::SeccompError;

/// Prefix of every field path in error messages.
pub(crate) const ROOT: &str = "linux.seccomp";

/// The kernel clamps SECCOMP_RET_ERRNO data to MAX_ERRNO.
const MAX_ERRNO: u32 = 4095;
/// SECCOMP_RET_DATA is 16 bits wide (the SCMP_ACT_TRACE message).
const MAX_TRACE_MSG: u32 = 0xffff;
/// Linux system calls take at most 6 arguments.
pub(crate) const MAX_ARGS: usize = 6;

fn invalid(path: String, msg: impl Into<String>) -> SeccompError {
    SeccompError::Invalid {
        path,
        msg: msg.into(),
    }
}

/// Checks the value carried by an action (`errnoRet` / `defaultErrnoRet`).
fn check_ret(path: String, action: Act, ret: Option<u32>) -> Result<(), SeccompError> {
    let Some(v) = ret else { return Ok(()) };
    match action {
        Act::ScmpActErrno if v > MAX_ERRNO => Err(invalid(
            path,
            format!("{v} is out of range (max {MAX_ERRNO})"),
        )),
        Act::ScmpActTrace if v > MAX_TRACE_MSG => Err(invalid(
            path,
            format!("{v} is out of range (max {MAX_TRACE_MSG})"),
        )),
        Act::ScmpActErrno | Act::ScmpActTrace => Ok(()),
        _ => Err(invalid(
            path,
            "only valid with SCMP_ACT_ERRNO/SCMP_ACT_TRACE",
        )),
    }
}

/// Validates a profile without touching libseccomp or the kernel.
///
/// Checks: NOTIFY is not the default action and is not used for `write`
/// (as runc: the child reports the listener fd with write(2)); `errnoRet` /
/// `defaultErrnoRet` only with ERRNO/TRACE and in range; syscall names are
/// non-empty; argument indexes are below 6.  A stray `valueTwo` on an operator
/// other than SCMP_CMP_MASKED_EQ is ignored, as runc does.
pub fn validate(s: &LinuxSeccomp) -> Result<(), SeccompError> {
    let def = s.default_action();
    if def == Act::ScmpActNotify {
        return Err(invalid(
            format!("{ROOT}.defaultAction"),
            "SCMP_ACT_NOTIFY cannot be used as default action",
        ));
    }
    check_ret(
        format!("{ROOT}.defaultErrnoRet"),
        def,
        s.default_errno_ret(),
    )?;
    for (i, call) in s.syscalls().iter().flatten().enumerate() {
        let path = format!("{ROOT}.syscalls[{i}]");
        check_ret(format!("{path}.errnoRet"), call.action(), call.errno_ret())?;
        if call.names().is_empty() {
            return Err(invalid(format!("{path}.names"), "must not be empty"));
        }
        for (j, name) in call.names().iter().enumerate() {
            check_name(format!("{path}.names[{j}]"), name)?;
            if call.action() == Act::ScmpActNotify && name == "write" {
                return Err(invalid(
                    format!("{path}.names[{j}]"),
                    "SCMP_ACT_NOTIFY cannot be used for the write syscall",
                ));
            }
        }
        for (k, arg) in call.args().iter().flatten().enumerate() {
            if arg.index() >= MAX_ARGS {
                return Err(invalid(
                    format!("{path}.args[{k}].index"),
                    format!("{} is out of range (max {})", arg.index(), MAX_ARGS - 1),
                ));
            }
        }
    }
    Ok(())
}

/// A syscall name must be non-empty (runc: "empty string is not a valid
/// syscall") and free of NUL bytes.  Anything else unknown to libseccomp is
/// *not* an error: it is skipped at compile time, as runc does.
fn check_name(path: String, name: &str) -> Result<(), SeccompError> {
    if name.is_empty() {
        return Err(invalid(path, "empty syscall name"));
    }
    if name.contains('\0') {
        return Err(invalid(path, format!("malformed syscall name {name:?}")));
    }
    Ok(())
}
