//! Confinement of the container's process: capabilities, seccomp,
//! no_new_privs ordering, LSM labels, personality, scheduler, I/O priority,
//! CPU affinity and memory policy. `build` runs in the parent (parsing,
//! compiling seccomp, checking the host); the `apply_*` functions run in
//! the child and only make system calls.

use crate::caps::{self, CapSets};
use crate::error::{Error, Result};
use crate::seccomp::{self, Program};
use crate::sys;
use nix::errno::Errno;
use oci_spec::runtime::{
    IOPriorityClass, LinuxSchedulerFlag, LinuxSchedulerPolicy, MemoryPolicyFlagType,
    MemoryPolicyModeType, Spec,
};
use std::ffi::CString;
use std::path::Path;

const CAP_SYS_ADMIN: u32 = 21;

#[derive(Debug, Default)]
pub struct Confinement {
    pub caps: Option<CapSets>,
    pub last_cap: u32,
    pub seccomp: Option<Program>,
    /// Load seccomp before the uid change (no NNP and no CAP_SYS_ADMIN after).
    pub seccomp_early: bool,
    pub personality: Option<libc::c_ulong>,
    pub sched: Option<sys::SchedAttr>,
    pub ioprio: Option<i32>,
    pub affinity_initial: Option<libc::cpu_set_t>,
    pub affinity_final: Option<libc::cpu_set_t>,
    pub mempolicy: Option<(i32, Vec<libc::c_ulong>)>,
    /// "/proc/self/attr/..." file and the label to write there before exec.
    pub lsm_exec: Option<(CString, Vec<u8>)>,
}

impl std::fmt::Debug for sys::SchedAttr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SchedAttr(policy {})", self.sched_policy)
    }
}

fn bad(m: String) -> Error {
    Error::Invalid(m)
}

/// Parse a CPU list like "0-3,6" into a cpu_set_t.
pub fn cpu_set(list: &str, field: &str) -> Result<libc::cpu_set_t> {
    // SAFETY: cpu_set_t is plain data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let (a, b): (usize, usize) = match (a.trim().parse(), b.trim().parse()) {
            (Ok(a), Ok(b)) if a <= b && b < libc::CPU_SETSIZE as usize => (a, b),
            _ => return Err(bad(format!("{field}: invalid CPU list {list:?}"))),
        };
        for c in a..=b {
            // SAFETY: c < CPU_SETSIZE, checked above.
            unsafe { libc::CPU_SET(c, &mut set) };
        }
    }
    Ok(set)
}

/// Is CPU `c` in `set`?
pub fn cpu_isset(c: usize, set: &libc::cpu_set_t) -> bool {
    // SAFETY: CPU_ISSET only reads the set; c is bounds-checked by libc's macro.
    c < libc::CPU_SETSIZE as usize && unsafe { libc::CPU_ISSET(c, set) }
}

/// Parse a NUMA node list into a nodemask of words.
fn node_mask(list: &str, field: &str) -> Result<Vec<libc::c_ulong>> {
    let mut words = vec![0 as libc::c_ulong; 16];
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (usize, usize) = match (a.parse(), b.parse()) {
            (Ok(a), Ok(b)) if a <= b && b < 1024 => (a, b),
            _ => return Err(bad(format!("{field}: invalid node list {list:?}"))),
        };
        for n in a..=b {
            words[n / 64] |= 1 << (n % 64);
        }
    }
    Ok(words)
}

fn lsm_enabled(name: &str) -> bool {
    match name {
        "apparmor" => std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|s| s.trim() == "Y"),
        "selinux" => Path::new("/sys/fs/selinux/enforce").exists(),
        _ => false,
    }
}

/// The label write for AppArmor ("exec PROFILE" into attr/apparmor/exec, or
/// attr/exec on older kernels) or SELinux (the label into attr/exec).
pub fn lsm_label(
    apparmor: Option<&str>,
    selinux: Option<&str>,
    enabled: &dyn Fn(&str) -> bool,
) -> Result<Option<(CString, Vec<u8>)>> {
    if let Some(p) = apparmor.filter(|p| !p.is_empty()) {
        if !enabled("apparmor") {
            return Err(bad(format!(
                "process.apparmorProfile: {p:?} requested but AppArmor is not enabled on this host"
            )));
        }
        let file = if Path::new("/proc/self/attr/apparmor/exec").exists() {
            "/proc/self/attr/apparmor/exec"
        } else {
            "/proc/self/attr/exec"
        };
        return Ok(Some((
            crate::plan::cstr(file),
            format!("exec {p}").into_bytes(),
        )));
    }
    if let Some(l) = selinux.filter(|l| !l.is_empty()) {
        if !enabled("selinux") {
            return Err(bad(format!(
                "process.selinuxLabel: {l:?} requested but SELinux is not enabled on this host"
            )));
        }
        return Ok(Some((
            crate::plan::cstr("/proc/self/attr/exec"),
            l.as_bytes().to_vec(),
        )));
    }
    Ok(None)
}

pub fn build(spec: &Spec, cache_dir: &Path) -> Result<Confinement> {
    let mut c = Confinement::default();
    let Some(process) = spec.process() else {
        return Ok(c);
    };
    let linux = spec.linux().clone().unwrap_or_default();
    c.last_cap = caps::read_last_cap().map_err(|e| Error::Msg(e.to_string()))?;
    if let Some(capabilities) = process.capabilities() {
        let v = serde_json::to_value(capabilities).expect("serializes");
        let parsed = caps::parse(&v, c.last_cap).map_err(|e| bad(e.to_string()))?;
        for w in parsed.warnings {
            crate::log::warn(&w);
        }
        c.caps = Some(parsed.sets);
    }
    let nnp = process.no_new_privileges().unwrap_or(false);
    if let Some(s) = linux.seccomp() {
        seccomp::validate(s).map_err(|e| bad(e.to_string()))?;
        let prog = seccomp::compile_cached(s, cache_dir).map_err(|e| bad(e.to_string()))?;
        let keeps_admin = match c.caps {
            Some(sets) => sets.effective & (1 << CAP_SYS_ADMIN) != 0,
            None => process.user().uid() == 0,
        };
        c.seccomp_early = !nnp && !keeps_admin;
        c.seccomp = Some(prog);
    }
    if let Some(p) = linux.personality() {
        let domain = match p.domain() {
            oci_spec::runtime::LinuxPersonalityDomain::PerLinux => 0x0000,
            oci_spec::runtime::LinuxPersonalityDomain::PerLinux32 => 0x0008,
        };
        if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
            return Err(bad("linux.personality.flags: no flags are supported".into()));
        }
        c.personality = Some(domain);
    }
    if let Some(s) = process.scheduler() {
        let policy = match s.policy() {
            LinuxSchedulerPolicy::SchedOther => 0,
            LinuxSchedulerPolicy::SchedFifo => 1,
            LinuxSchedulerPolicy::SchedRr => 2,
            LinuxSchedulerPolicy::SchedBatch => 3,
            LinuxSchedulerPolicy::SchedIso => 4,
            LinuxSchedulerPolicy::SchedIdle => 5,
            LinuxSchedulerPolicy::SchedDeadline => 6,
        };
        let mut flags = 0u64;
        for f in s.flags().iter().flatten() {
            flags |= match f {
                LinuxSchedulerFlag::SchedResetOnFork => 0x01,
                LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
                LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
                LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
                LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
                LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
                LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
            };
        }
        c.sched = Some(sys::SchedAttr {
            size: std::mem::size_of::<sys::SchedAttr>() as u32,
            sched_policy: policy,
            sched_flags: flags,
            sched_nice: s.nice().unwrap_or(0),
            sched_priority: s.priority().unwrap_or(0) as u32,
            sched_runtime: s.runtime().unwrap_or(0),
            sched_deadline: s.deadline().unwrap_or(0),
            sched_period: s.period().unwrap_or(0),
        });
    }
    if let Some(io) = process.io_priority() {
        let class = match io.class() {
            IOPriorityClass::IoprioClassRt => 1,
            IOPriorityClass::IoprioClassBe => 2,
            IOPriorityClass::IoprioClassIdle => 3,
        };
        if !(0..=7).contains(&io.priority()) {
            return Err(bad(format!(
                "process.ioPriority.priority: {} is not in 0..7",
                io.priority()
            )));
        }
        c.ioprio = Some((class << 13) | io.priority() as i32);
    }
    if let Some(a) = process.exec_cpu_affinity() {
        if let Some(i) = a.initial() {
            c.affinity_initial = Some(cpu_set(i, "process.execCPUAffinity.initial")?);
        }
        if let Some(f) = a.cpu_affinity_final() {
            c.affinity_final = Some(cpu_set(f, "process.execCPUAffinity.final")?);
        }
    }
    if let Some(m) = linux.memory_policy() {
        let mut mode = match m.mode() {
            MemoryPolicyModeType::MpolDefault => 0,
            MemoryPolicyModeType::MpolPreferred => 1,
            MemoryPolicyModeType::MpolBind => 2,
            MemoryPolicyModeType::MpolInterleave => 3,
            MemoryPolicyModeType::MpolLocal => 4,
            MemoryPolicyModeType::MpolPreferredMany => 5,
            MemoryPolicyModeType::MpolWeightedInterleave => 6,
        };
        for f in m.flags().iter().flatten() {
            mode |= match f {
                MemoryPolicyFlagType::MpolFNumaBalancing => 1 << 13,
                MemoryPolicyFlagType::MpolFRelativeNodes => 1 << 14,
                MemoryPolicyFlagType::MpolFStaticNodes => 1 << 15,
            };
        }
        let nodes = node_mask(
            m.nodes().as_deref().unwrap_or(""),
            "linux.memoryPolicy.nodes",
        )?;
        c.mempolicy = Some((mode, nodes));
    }
    c.lsm_exec = lsm_label(
        process.apparmor_profile().as_deref(),
        process.selinux_label().as_deref(),
        &lsm_enabled,
    )?;
    Ok(c)
}

/// In the child, before the uid change: things that need privileges.
pub fn apply_privileged(c: &Confinement) -> std::result::Result<(), (crate::step::Step, Errno)> {
    use crate::step::Step;
    if let Some(p) = c.personality {
        sys::personality(p).map_err(|e| (Step::Personality, e))?;
    }
    if let Some(a) = &c.sched {
        sys::sched_setattr(a).map_err(|e| (Step::Scheduler, e))?;
    }
    if let Some(p) = c.ioprio {
        sys::ioprio_set(p).map_err(|e| (Step::IoPriority, e))?;
    }
    if let Some((mode, nodes)) = &c.mempolicy {
        sys::set_mempolicy(*mode, nodes).map_err(|e| (Step::MemoryPolicy, e))?;
    }
    if let Some(set) = &c.affinity_initial {
        sys::sched_setaffinity(set).map_err(|e| (Step::CpuAffinity, e))?;
    }
    if let Some((file, label)) = &c.lsm_exec {
        crate::init::write_file(file, label).map_err(|e| (Step::Lsm, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        let s = cpu_set("0-2,5", "f").unwrap();
        assert!(cpu_isset(0, &s) && cpu_isset(2, &s) && cpu_isset(5, &s));
        assert!(!cpu_isset(3, &s));
        assert!(cpu_set("3-1", "f").is_err());
        assert!(cpu_set("x", "process.execCPUAffinity.initial")
            .unwrap_err()
            .to_string()
            .starts_with("process.execCPUAffinity.initial"));
    }

    #[test]
    fn node_masks() {
        assert_eq!(node_mask("0,2-3", "f").unwrap()[0], 0b1101);
        assert_eq!(node_mask("64", "f").unwrap()[1], 1);
    }

    #[test]
    fn lsm_labels() {
        let off = |_: &str| false;
        let on = |_: &str| true;
        let e = lsm_label(Some("docker-default"), None, &off)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("process.apparmorProfile"), "{e}");
        let e = lsm_label(None, Some("system_u:system_r:container_t:s0"), &off)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("process.selinuxLabel"), "{e}");
        let (_, label) = lsm_label(Some("docker-default"), None, &on)
            .unwrap()
            .unwrap();
        assert_eq!(label, b"exec docker-default");
        let (file, label) = lsm_label(None, Some("system_u:system_r:container_t:s0"), &on)
            .unwrap()
            .unwrap();
        assert_eq!(file.to_bytes(), b"/proc/self/attr/exec");
        assert_eq!(label, b"system_u:system_r:container_t:s0");
        assert!(lsm_label(None, None, &off).unwrap().is_none());
    }
}
