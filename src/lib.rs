//! husk: a small, fast OCI container runtime, runc-compatible.
//!
//! The flow of a container follows the modules: `cli` -> `spec` (load and
//! validate) -> `state` (the store) -> `create` (plan, spawn, record) ->
//! `spawn` (parent side) / `init` (child side, `rootfs`) -> `container`
//! (start, state, kill, delete).

pub mod caps;
pub mod cgroup;
pub mod cgroup_cmds;
pub mod cgroups;
pub mod cli;
pub mod confine;
pub mod container;
pub mod create;
pub mod error;
pub mod exec;
pub mod features;
pub mod hooks;
pub mod init;
pub mod jsonpath;
pub mod log;
pub mod mountopt;
pub mod plan;
pub mod rootfs;
pub mod runwait;
pub mod seccomp;
pub mod spawn;
pub mod spec;
pub mod specgen;
pub mod state;
pub mod step;
pub mod sync;
pub mod sys;
pub mod util;

/// The runtime-spec version husk implements.
pub const OCI_VERSION: &str = "1.3.0";

/// Capability names husk knows, for `features`.
pub fn features_caps() -> Vec<String> {
    (0..=40u8)
        .filter_map(|i| serde_json::to_value(caps_name(i)?).ok())
        .filter_map(|v| v.as_str().map(String::from))
        .collect()
}

fn caps_name(i: u8) -> Option<String> {
    const NAMES: [&str; 41] = [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_DAC_READ_SEARCH",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETPCAP",
        "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "CAP_IPC_LOCK",
        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN",
        "CAP_SYS_BOOT",
        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG",
        "CAP_MKNOD",
        "CAP_LEASE",
        "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN",
        "CAP_SYSLOG",
        "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ",
        "CAP_PERFMON",
        "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    ];
    NAMES.get(i as usize).map(|s| s.to_string())
}
