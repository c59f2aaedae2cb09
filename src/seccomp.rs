//! Seccomp for husk: validate and compile `linux.seccomp` in the parent,
//! load the resulting classic-BPF program in the child.
//!
//! Split of work:
//! * **parent, before fork** — [`parse`] (optional), [`validate`], [`compile`]
//!   or [`compile_cached`]: libseccomp builds the filter and exports it as raw
//!   BPF into a [`Program`].  Kernel support for the requested filter flags is
//!   probed here, so an unsupported flag fails `husk create` early.
//! * **child, between fork and exec** — [`load`]: a single raw `seccomp(2)`
//!   call, async-signal-safe (no allocation, no locks, no libseccomp).
//!
//! # Semantics (runc-compatible)
//! * `SCMP_ACT_KILL` = `SCMP_ACT_KILL_THREAD`; ERRNO and TRACE take `errnoRet`
//!   / `defaultErrnoRet`, default `EPERM`.
//! * Every entry of `architectures` is added to the filter (the native one is
//!   always present).  An architecture this libseccomp build does not know
//!   (2.5.4 lacks loongarch64, m68k, sh, sheb) is an error naming the field.
//! * Syscall names are resolved for the native architecture (as runc does,
//!   libseccomp translates them to the other architectures); a name libseccomp
//!   does not know is skipped silently.
//! * A rule whose action equals the default action is skipped.
//! * Arguments: all conditions of a rule are ANDed, unless two of them test the
//!   same argument index; then each condition becomes its own rule (runc).
//!   `SCMP_CMP_MASKED_EQ` means `(arg & value) == valueTwo`.
//! * Flags: `SECCOMP_FILTER_FLAG_TSYNC`, `_LOG`, `_SPEC_ALLOW` are passed to
//!   the kernel; `_WAIT_KILLABLE_RECV` too when the filter has a NOTIFY rule
//!   (the kernel rejects it without a listener, so it is dropped otherwise).
//!   A flag the running kernel does not support is an error
//!   ([`SeccompError::UnsupportedFlag`]), like runc.
//! * `SCMP_ACT_NOTIFY`: not as default action, not for `write` (runc rules);
//!   [`load`] then returns the listener fd.
//!
//! Not done (yet): runc's "ENOSYS patch" that makes syscalls newer than the
//! profile return ENOSYS instead of the default action.
//!
//! # Ordering in the child (for the core)
//! Loading a filter needs `no_new_privs == 1` **or** `CAP_SYS_ADMIN` in the
//! current user namespace.  runc's order, which husk should follow:
//! 1. if `process.noNewPrivileges`: `prctl(PR_SET_NO_NEW_PRIVS, 1)` early;
//! 2. if seccomp is set and NNP is **not** requested: `load` now, while still
//!    privileged (the profile must then allow everything the runtime does
//!    afterwards: prctl, capset, setgroups/setresgid/setresuid, close, execve);
//! 3. capabilities: bounding set, `PR_SET_KEEPCAPS`, setgroups/setgid/setuid,
//!    clear keepcaps, capset (eff/perm/inh), ambient (see `crate::caps`);
//! 4. if seccomp is set and NNP **is** requested: `load` now, as the very
//!    last thing before `execve` (which the profile must allow).

mod cache;
mod load;
mod validate;

#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use libseccomp::ScmpSyscall;
use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as Act, LinuxSeccompArg, LinuxSeccompFilterFlag as Flag,
    LinuxSeccompOperator as Op,
};

pub use cache::compile_cached;

/// The compiled-filter cache beside the state directories under `--root`;
/// [`compile_cached`] makes it (0700) when a profile first needs it.
pub fn cache_dir(root: &std::path::Path) -> std::path::PathBuf {
    root.join(".seccomp-cache")
}
pub use load::load;
pub use validate::validate;
use validate::{MAX_ARGS, ROOT};

/// Kernel limit on the length of a classic BPF program (BPF_MAXINSNS).
pub const MAX_INSNS: usize = 4096;

/// A compiled filter, ready for [`load`].
#[derive(Clone)]
pub struct Program {
    /// The classic BPF instructions, in native byte order.
    pub bpf: Vec<libc::sock_filter>,
    /// `SECCOMP_FILTER_FLAG_*` bits requested by the profile.  [`load`] adds
    /// `NEW_LISTENER` (and `TSYNC_ESRCH` with `TSYNC`) itself when `notify`.
    pub flags: u32,
    /// The filter has at least one `SCMP_ACT_NOTIFY` rule: [`load`] asks the
    /// kernel for a listener fd.
    pub notify: bool,
}

impl PartialEq for Program {
    fn eq(&self, o: &Self) -> bool {
        self.flags == o.flags
            && self.notify == o.notify
            && insn_bytes(&self.bpf) == insn_bytes(&o.bpf)
    }
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("insns", &self.bpf.len())
            .field("flags", &format_args!("{:#x}", self.flags))
            .field("notify", &self.notify)
            .finish()
    }
}

/// Errors.  The `Display` text starts with the JSON field path where one
/// applies, e.g. `linux.seccomp.syscalls[2].errnoRet: only valid with
/// SCMP_ACT_ERRNO/SCMP_ACT_TRACE`.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// The JSON could not be deserialized (bad type, unknown enum string...).
    #[error("{path}: {msg}")]
    Parse { path: String, msg: String },
    /// The profile is well-typed but invalid.
    #[error("{path}: {msg}")]
    Invalid { path: String, msg: String },
    /// libseccomp refused something (unknown arch, conflicting rules...).
    #[error("{path}: {msg}: {source}")]
    Libseccomp {
        path: String,
        msg: String,
        #[source]
        source: libseccomp::error::SeccompError,
    },
    /// The running kernel does not support a requested filter flag.
    #[error("{path}: {flag} is not supported by the running kernel")]
    UnsupportedFlag { path: String, flag: String },
    /// The exported program is longer than the kernel accepts.
    #[error("{ROOT}: filter too large ({0} BPF instructions, max {MAX_INSNS})")]
    TooLarge(usize),
    /// Exporting BPF, probing the kernel, or using the cache failed.
    #[error("seccomp: {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl SeccompError {
    /// Turns a [`crate::jsonpath::PathError`] into a [`SeccompError::Parse`],
    /// prefixing its path with `prefix` (`"linux.seccomp"` for a bare profile,
    /// `""` when the core deserializes the whole config.json itself).
    pub fn from_path_error(prefix: &str, e: crate::jsonpath::PathError) -> Self {
        let inner = e.path.clone();
        let path = match (prefix.is_empty(), inner.as_str()) {
            (true, p) => p.to_string(),
            (false, ".") => prefix.to_string(),
            (false, p) => format!("{prefix}.{p}"),
        };
        let what = match path.rsplit('.').next().unwrap_or("") {
            "op" => "unknown operator: ",
            "action" | "defaultAction" => "unknown action: ",
            f if f.starts_with("architectures[") => "unknown architecture: ",
            f if f.starts_with("flags[") => "unknown flag: ",
            _ => "",
        };
        let msg = e.reason();
        let msg = if msg.starts_with("unknown variant") {
            format!("{what}{msg}")
        } else {
            msg
        };
        SeccompError::Parse { path, msg }
    }
}

/// Parses a bare `linux.seccomp` JSON object; errors name the field, e.g.
/// `linux.seccomp.syscalls[3].args[0].op: unknown operator: unknown variant
/// `SCMP_CMP_FOO`, expected one of ...`.
pub fn parse(json: &str) -> Result<LinuxSeccomp, SeccompError> {
    crate::jsonpath::from_slice(json.as_bytes()).map_err(|e| SeccompError::from_path_error(ROOT, e))
}

thread_local! {
    static COMPILES: Cell<u64> = const { Cell::new(0) };
}

/// How many times [`compile`] ran libseccomp on the calling thread (for tests
/// of the cache).
#[doc(hidden)]
pub fn compiles_on_this_thread() -> u64 {
    COMPILES.with(|c| c.get())
}

/// Validates, then builds the filter with libseccomp and exports it as BPF.
/// Runs in the parent.  Also checks that the kernel supports the flags.
pub fn compile(s: &LinuxSeccomp) -> Result<Program, SeccompError> {
    validate(s)?;
    COMPILES.with(|c| c.set(c.get() + 1));
    let (ctx, notify) = build_filter(s)?;
    let bytes = export(&ctx)?;
    let bpf = bytes_to_insns(&bytes).ok_or_else(|| SeccompError::Io {
        what: "exported BPF".into(),
        source: std::io::Error::other("length is not a multiple of 8"),
    })?;
    if bpf.len() > MAX_INSNS {
        return Err(SeccompError::TooLarge(bpf.len()));
    }
    let p = Program {
        bpf,
        flags: profile_flags(s, notify),
        notify,
    };
    check_kernel_support(s, &p)?;
    Ok(p)
}

fn lib_err(
    path: String,
    msg: &str,
) -> impl FnOnce(libseccomp::error::SeccompError) -> SeccompError + '_ {
    move |source| SeccompError::Libseccomp {
        path,
        msg: msg.to_string(),
        source,
    }
}

fn scmp_action(a: Act, ret: Option<u32>) -> ScmpAction {
    let ret = ret.unwrap_or(libc::EPERM as u32);
    match a {
        Act::ScmpActKill | Act::ScmpActKillThread => ScmpAction::KillThread,
        Act::ScmpActKillProcess => ScmpAction::KillProcess,
        Act::ScmpActTrap => ScmpAction::Trap,
        Act::ScmpActErrno => ScmpAction::Errno(ret as i32),
        Act::ScmpActTrace => ScmpAction::Trace(ret as u16),
        Act::ScmpActLog => ScmpAction::Log,
        Act::ScmpActNotify => ScmpAction::Notify,
        Act::ScmpActAllow => ScmpAction::Allow,
    }
}

fn scmp_arch(a: Arch) -> ScmpArch {
    match a {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

fn condition(a: &LinuxSeccompArg) -> ScmpArgCompare {
    let (op, datum) = match a.op() {
        Op::ScmpCmpNe => (ScmpCompareOp::NotEqual, a.value()),
        Op::ScmpCmpLt => (ScmpCompareOp::Less, a.value()),
        Op::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, a.value()),
        Op::ScmpCmpEq => (ScmpCompareOp::Equal, a.value()),
        Op::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, a.value()),
        Op::ScmpCmpGt => (ScmpCompareOp::Greater, a.value()),
        Op::ScmpCmpMaskedEq => (
            ScmpCompareOp::MaskedEqual(a.value()),
            a.value_two().unwrap_or(0),
        ),
    };
    // validate() guarantees index < 6.
    ScmpArgCompare::new(a.index() as u32, op, datum)
}

/// Builds the libseccomp filter; returns it and whether a NOTIFY rule was added.
fn build_filter(s: &LinuxSeccomp) -> Result<(ScmpFilterContext, bool), SeccompError> {
    let def = scmp_action(s.default_action(), s.default_errno_ret());
    let mut ctx = ScmpFilterContext::new(def)
        .map_err(lib_err(format!("{ROOT}.defaultAction"), "creating filter"))?;
    for (i, a) in s.architectures().iter().flatten().enumerate() {
        let path = format!("{ROOT}.architectures[{i}]");
        let arch = scmp_arch(*a);
        let present = ctx.is_arch_present(arch).unwrap_or(false);
        if !present {
            ctx.add_arch(arch)
                .map_err(lib_err(path, "architecture not supported by libseccomp"))?;
        }
    }
    let calls = s.syscalls().as_deref().unwrap_or(&[]);
    if calls.len() > 32 {
        // Binary-tree dispatch (as runc); older libseccomp lacks it: not fatal.
        let _ = ctx.set_ctl_optimize(2);
    }
    let mut notify = false;
    for (i, call) in calls.iter().enumerate() {
        let act = scmp_action(call.action(), call.errno_ret());
        if act == def {
            continue;
        }
        if act == ScmpAction::Notify && libseccomp::get_api() < 6 {
            return Err(SeccompError::Invalid {
                path: format!("{ROOT}.syscalls[{i}].action"),
                msg:
                    "SCMP_ACT_NOTIFY needs libseccomp API level 6 (libseccomp >= 2.5, Linux >= 5.7)"
                        .into(),
            });
        }
        let conds: Vec<ScmpArgCompare> = call.args().iter().flatten().map(condition).collect();
        let mut per_index = [0u8; MAX_ARGS];
        for a in call.args().iter().flatten() {
            per_index[a.index()] += 1;
        }
        let split = per_index.iter().any(|&n| n > 1);
        for (j, name) in call.names().iter().enumerate() {
            let Ok(nr) = ScmpSyscall::from_name(name) else {
                continue; // unknown to libseccomp: skipped, as runc does
            };
            let path = format!("{ROOT}.syscalls[{i}].names[{j}]");
            let msg = "adding rule";
            if split {
                for c in &conds {
                    ctx.add_rule_conditional(act, nr, std::slice::from_ref(c))
                        .map_err(lib_err(path.clone(), msg))?;
                }
            } else {
                ctx.add_rule_conditional(act, nr, &conds)
                    .map_err(lib_err(path, msg))?;
            }
            notify |= act == ScmpAction::Notify;
        }
    }
    Ok((ctx, notify))
}

/// seccomp_export_bpf() into a memfd, then read it back.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<u8>, SeccompError> {
    use nix::sys::memfd::{memfd_create, MFdFlags};
    let io = |what: &str| {
        let what = what.to_string();
        move |source| SeccompError::Io { what, source }
    };
    let fd =
        memfd_create(c"husk-seccomp-bpf", MFdFlags::MFD_CLOEXEC).map_err(|e| SeccompError::Io {
            what: "memfd_create".into(),
            source: e.into(),
        })?;
    ctx.export_bpf(&fd)
        .map_err(lib_err(ROOT.to_string(), "exporting BPF"))?;
    let mut f = File::from(fd);
    f.seek(SeekFrom::Start(0)).map_err(io("seek memfd"))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).map_err(io("read memfd"))?;
    Ok(buf)
}

/// One profile flag as `SECCOMP_FILTER_FLAG_*` bits.
fn flag_bits(f: Flag, notify: bool) -> u32 {
    (match f {
        Flag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
        Flag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
        Flag::SeccompFilterFlagSpecAllow => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
        // Only meaningful (and only accepted by the kernel) with a listener.
        Flag::SeccompFilterFlagWaitKillableRecv if notify => {
            libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
        }
        Flag::SeccompFilterFlagWaitKillableRecv => 0,
    }) as u32
}

/// The flags from the profile, as `SECCOMP_FILTER_FLAG_*` bits.
fn profile_flags(s: &LinuxSeccomp, notify: bool) -> u32 {
    s.flags()
        .iter()
        .flatten()
        .fold(0, |acc, f| acc | flag_bits(*f, notify))
}

/// Probes the kernel with the exact flags [`load`] will use; on refusal,
/// names the first profile flag the kernel rejects.  Cheap (one syscall per
/// flag at most), so it also runs on a cache hit.
fn check_kernel_support(s: &LinuxSeccomp, p: &Program) -> Result<(), SeccompError> {
    let probe = |flags| {
        load::kernel_accepts(flags).map_err(|e| SeccompError::Io {
            what: "probing seccomp(2)".into(),
            source: e.into(),
        })
    };
    let all = load::kernel_flags(p);
    if probe(all)? {
        return Ok(());
    }
    let base = all & !(p.flags as libc::c_ulong);
    for (i, f) in s.flags().iter().flatten().enumerate() {
        let bits = flag_bits(*f, p.notify) as libc::c_ulong;
        if bits != 0 && !probe(base | bits)? {
            return Err(SeccompError::UnsupportedFlag {
                path: format!("{ROOT}.flags[{i}]"),
                flag: f.to_string(),
            });
        }
    }
    Err(SeccompError::UnsupportedFlag {
        path: format!("{ROOT}.flags"),
        flag: format!("the combination {all:#x}"),
    })
}

fn insn_bytes(v: &[libc::sock_filter]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len() * 8);
    for i in v {
        out.extend_from_slice(&i.code.to_ne_bytes());
        out.push(i.jt);
        out.push(i.jf);
        out.extend_from_slice(&i.k.to_ne_bytes());
    }
    out
}

fn bytes_to_insns(b: &[u8]) -> Option<Vec<libc::sock_filter>> {
    if !b.len().is_multiple_of(8) {
        return None;
    }
    let insn = |c: &[u8]| libc::sock_filter {
        code: u16::from_ne_bytes([c[0], c[1]]),
        jt: c[2],
        jf: c[3],
        k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
    };
    Some(b.chunks_exact(8).map(insn).collect())
}
