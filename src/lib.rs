//! husk: a small, fast OCI container runtime, runc-compatible.
//!
//! The flow of a container follows the modules: `cli` -> `spec` (load and
//! validate) -> `state` (the store) -> `create` (plan, spawn, record) ->
//! `spawn` (parent side) / `init` (child side, `rootfs`) -> `container`
//! (start, state, kill, delete).

pub mod alloc;
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

/// Capability names husk knows (those of the `caps` crate), in number order.
pub fn features_caps() -> Vec<String> {
    let mut all: Vec<::caps::Capability> = ::caps::all().into_iter().collect();
    all.sort_by_key(|c| c.index());
    all.iter().map(|c| c.to_string()).collect()
}
