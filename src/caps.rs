//! `process.capabilities`: parsing (parent) and application (child).
//!
//! The core pre-processes the raw config JSON and hands
//! `process.capabilities` here as a `serde_json::Value`, because oci-spec
//! rejects capability names it does not know at parse time, whereas runc only
//! warns about them.  Rules (runc-compatible):
//! * a well-formed name the kernel does not know (`CAP_FOO`, or a capability
//!   numbered above `/proc/sys/kernel/cap_last_cap`) is skipped with a warning;
//! * a malformed one (empty, not `CAP_` + `[A-Z0-9_]+`, e.g. `cap_chown`) or
//!   a value of the wrong JSON type is an error naming the field.
//!
//! # Child side, between fork and exec (all async-signal-safe, no allocation)
//! runc's order, which the core should follow:
//! 1. [`apply_bounding`] — needs `CAP_SETPCAP`, so before changing uid;
//! 2. [`keep_caps_for_setuid`]`(true)`, then setgroups / setresgid /
//!    setresuid, then [`keep_caps_for_setuid`]`(false)`: without KEEPCAPS a
//!    switch from uid 0 to non-0 empties the permitted set (the effective set
//!    is emptied in any case, which is why step 3 comes after);
//! 3. [`apply_sets`] (capset: effective, permitted, inheritable);
//! 4. [`apply_ambient`] — a cap can only be ambient if it is permitted and
//!    inheritable, so after step 3;
//! 5. seccomp `load` last when `noNewPrivileges` (see `crate::seccomp`).

use std::fmt;

use libc::{c_int, c_ulong};
use nix::errno::Errno;
use serde_json::Value;

/// The five capability sets as bitmasks (bit N = capability number N).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapSets {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

/// Result of [`parse`]: the sets plus warnings for skipped names (the core
/// logs them, like runc's "ignoring unknown or unavailable capabilities").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub sets: CapSets,
    pub warnings: Vec<String>,
}

/// Parent-side errors.
#[derive(Debug, thiserror::Error)]
pub enum CapsError {
    /// Malformed input; the message starts with the field path.
    #[error("{path}: {msg}")]
    Invalid { path: String, msg: String },
    /// `/proc/sys/kernel/cap_last_cap` could not be read or parsed.
    #[error("reading /proc/sys/kernel/cap_last_cap: {0}")]
    LastCap(#[source] std::io::Error),
}

/// A failed child-side operation; `Copy`, built without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplyError {
    /// The operation, e.g. `"PR_CAPBSET_DROP"`.
    pub op: &'static str,
    /// The capability concerned, if any.
    pub cap: Option<u32>,
    pub errno: Errno,
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cap {
            Some(c) => write!(f, "{} (capability {c}): {}", self.op, self.errno),
            None => write!(f, "{}: {}", self.op, self.errno),
        }
    }
}

impl std::error::Error for ApplyError {}

const FIELD: &str = "process.capabilities";
const SETS: [&str; 5] = [
    "bounding",
    "effective",
    "permitted",
    "inheritable",
    "ambient",
];

/// Reads the highest capability number the running kernel knows.  Parent
/// side; pass the result to [`parse`], [`apply_bounding`], [`apply_ambient`].
pub fn read_last_cap() -> Result<u32, CapsError> {
    let s = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").map_err(CapsError::LastCap)?;
    s.trim()
        .parse()
        .map_err(|e| CapsError::LastCap(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
}

/// Parses `process.capabilities` (an object, or null/absent = all sets empty).
/// Unknown keys in the object are ignored.
pub fn parse(v: &Value, last_cap: u32) -> Result<Parsed, CapsError> {
    let mut out = Parsed::default();
    let obj = match v {
        Value::Null => return Ok(out),
        Value::Object(o) => o,
        _ => return Err(invalid(FIELD.into(), "must be an object")),
    };
    for set in SETS {
        let path = format!("{FIELD}.{set}");
        let mask = match obj.get(set) {
            None | Some(Value::Null) => 0,
            Some(Value::Array(names)) => parse_list(&path, names, last_cap, &mut out.warnings)?,
            Some(_) => return Err(invalid(path, "must be an array of strings")),
        };
        let s = &mut out.sets;
        *match set {
            "bounding" => &mut s.bounding,
            "effective" => &mut s.effective,
            "permitted" => &mut s.permitted,
            "inheritable" => &mut s.inheritable,
            _ => &mut s.ambient,
        } = mask;
    }
    Ok(out)
}

fn invalid(path: String, msg: impl Into<String>) -> CapsError {
    CapsError::Invalid {
        path,
        msg: msg.into(),
    }
}

fn parse_list(
    path: &str,
    names: &[Value],
    last_cap: u32,
    warnings: &mut Vec<String>,
) -> Result<u64, CapsError> {
    let mut mask = 0u64;
    for (i, v) in names.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let Value::String(name) = v else {
            return Err(invalid(p, "must be a string"));
        };
        let rest = name.strip_prefix("CAP_").unwrap_or("");
        let well_formed = !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if !well_formed {
            return Err(invalid(p, format!("malformed capability name {name:?}")));
        }
        match name
            .parse::<caps::Capability>()
            .map(|c| u32::from(c.index()))
        {
            Ok(n) if n <= last_cap && n < 64 => mask |= 1 << n,
            _ => warnings.push(format!(
                "{p}: ignoring unknown or unavailable capability {name}"
            )),
        }
    }
    Ok(mask)
}

use crate::sys::prctl2 as prctl;

fn fail(op: &'static str, cap: Option<u32>) -> impl FnOnce(Errno) -> ApplyError {
    move |errno| ApplyError { op, cap, errno }
}

/// Drops from the bounding set every capability `0..=last_cap` not in `mask`.
/// Child side, async-signal-safe. One prctl per capability; only when a drop
/// is refused (no `CAP_SETPCAP`) is the capability read: one already absent
/// is fine.
pub fn apply_bounding(mask: u64, last_cap: u32) -> Result<(), ApplyError> {
    for cap in 0..=last_cap.min(63) {
        if mask & (1 << cap) != 0 {
            continue;
        }
        let c = cap as c_ulong;
        match prctl(libc::PR_CAPBSET_DROP, c, 0) {
            Ok(_) | Err(Errno::EINVAL) => {} // dropped, or unknown to the kernel
            Err(Errno::EPERM) if prctl(libc::PR_CAPBSET_READ, c, 0) == Ok(0) => {}
            Err(e) => return Err(fail("PR_CAPBSET_DROP", Some(cap))(e)),
        }
    }
    Ok(())
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Sets the effective, permitted and inheritable sets of the calling thread
/// with the raw `capset(2)` syscall (version 3: two 32-bit halves).  Child
/// side, async-signal-safe.
pub fn apply_sets(effective: u64, permitted: u64, inheritable: u64) -> Result<(), ApplyError> {
    let half = |i: u32| CapData {
        effective: (effective >> (32 * i)) as u32,
        permitted: (permitted >> (32 * i)) as u32,
        inheritable: (inheritable >> (32 * i)) as u32,
    };
    let mut hdr = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [half(0), half(1)];
    // SAFETY: `hdr` and `data` are valid for the call and laid out as the
    // kernel's v3 `__user_cap_header_struct` / `__user_cap_data_struct[2]`.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut CapHeader, data.as_ptr()) };
    if r < 0 {
        return Err(fail("capset", None)(Errno::last()));
    }
    Ok(())
}

/// Clears the ambient set, then raises every capability in `mask` (up to
/// `last_cap`).  One that is not both permitted and inheritable is skipped,
/// as runc does (it only warns).  Child side,
/// async-signal-safe.  With an empty mask on a kernel without ambient
/// capabilities (< 4.3) this is a no-op.
pub fn apply_ambient(mask: u64, last_cap: u32) -> Result<(), ApplyError> {
    let (amb, clear, raise) = (
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as c_ulong,
        libc::PR_CAP_AMBIENT_RAISE as c_ulong,
    );
    match prctl(amb, clear, 0) {
        Err(Errno::EINVAL) if mask == 0 => return Ok(()),
        r => r.map_err(fail("PR_CAP_AMBIENT_CLEAR_ALL", None))?,
    };
    for cap in 0..=last_cap.min(63) {
        if mask & (1 << cap) != 0 {
            match prctl(amb, raise, cap as c_ulong) {
                Ok(_) | Err(Errno::EPERM) => {}
                Err(e) => return Err(fail("PR_CAP_AMBIENT_RAISE", Some(cap))(e)),
            }
        }
    }
    Ok(())
}

/// `prctl(PR_SET_KEEPCAPS, on)`: with `true`, the permitted set survives the
/// switch from uid 0 to a non-zero uid (setresuid).  Set it just before the
/// uid change and clear it right after; the effective set is emptied by the
/// uid change regardless, so call [`apply_sets`] afterwards.  The flag is
/// reset by execve anyway.  Child side, async-signal-safe.
pub fn keep_caps_for_setuid(on: bool) -> Result<(), ApplyError> {
    prctl(libc::PR_SET_KEEPCAPS, on as c_ulong, 0)
        .map(drop)
        .map_err(fail("PR_SET_KEEPCAPS", None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LAST: u32 = 40;

    #[test]
    fn parses_all_sets() {
        let v = json!({
            "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_CHECKPOINT_RESTORE"],
            "effective": ["CAP_KILL"],
            "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "inheritable": [],
            "ambient": ["CAP_NET_BIND_SERVICE"],
            "somethingElse": 3
        });
        let p = parse(&v, LAST).unwrap();
        assert!(p.warnings.is_empty());
        assert_eq!(p.sets.bounding, 1 | 1 << 5 | 1 << 40);
        assert_eq!(p.sets.effective, 1 << 5);
        assert_eq!(p.sets.permitted, 1 << 5 | 1 << 10);
        assert_eq!(p.sets.inheritable, 0);
        assert_eq!(p.sets.ambient, 1 << 10);
    }

    #[test]
    fn null_and_missing() {
        assert_eq!(parse(&Value::Null, LAST).unwrap(), Parsed::default());
        let p = parse(
            &json!({"bounding": null, "effective": ["CAP_SYS_ADMIN"]}),
            LAST,
        )
        .unwrap();
        assert_eq!(
            p.sets,
            CapSets {
                effective: 1 << 21,
                ..Default::default()
            }
        );
    }

    #[test]
    fn unknown_names_warn_and_skip() {
        let v = json!({"bounding": ["CAP_FOO", "CAP_CHOWN", "CAP_CHECKPOINT_RESTORE"]});
        // A kernel whose last cap is 39 does not have CAP_CHECKPOINT_RESTORE (40).
        let p = parse(&v, 39).unwrap();
        assert_eq!(p.sets.bounding, 1);
        assert_eq!(p.warnings.len(), 2);
        assert!(p.warnings[0].starts_with("process.capabilities.bounding[0]: ignoring"));
        assert!(p.warnings[0].contains("CAP_FOO"));
        assert!(p.warnings[1].contains("CAP_CHECKPOINT_RESTORE"));
    }

    #[test]
    fn malformed_names_are_errors() {
        for (bad, idx) in [
            ("cap_chown", 1),
            ("", 1),
            ("CHOWN", 1),
            ("CAP_", 1),
            ("CAP_chown", 1),
        ] {
            let v = json!({"permitted": ["CAP_KILL", bad]});
            let e = parse(&v, LAST).unwrap_err().to_string();
            let want = format!("process.capabilities.permitted[{idx}]: malformed capability name");
            assert!(e.starts_with(&want), "{bad:?}: {e}");
        }
    }

    #[test]
    fn wrong_types_are_errors() {
        let e = parse(&json!({"ambient": "CAP_KILL"}), LAST)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "process.capabilities.ambient: must be an array of strings"
        );
        let e = parse(&json!({"effective": [5]}), LAST)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "process.capabilities.effective[0]: must be a string");
        let e = parse(&json!(["CAP_KILL"]), LAST).unwrap_err().to_string();
        assert_eq!(e, "process.capabilities: must be an object");
    }

    #[test]
    fn last_cap_is_readable() {
        let n = read_last_cap().unwrap();
        assert!((30..64).contains(&n), "{n}");
    }

    #[test]
    fn apply_error_display() {
        let e = ApplyError {
            op: "PR_CAPBSET_DROP",
            cap: Some(21),
            errno: Errno::EPERM,
        };
        assert_eq!(
            e.to_string(),
            "PR_CAPBSET_DROP (capability 21): EPERM: Operation not permitted"
        );
    }
}
