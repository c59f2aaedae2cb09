//! Where the runtime meets the cgroup module: which cgroup a spec asks for.

use crate::error::Result;
use oci_spec::runtime::Spec;
use std::path::PathBuf;

pub const ROOT: &str = "/sys/fs/cgroup";

/// The cgroup operations the lifecycle needs (implemented for v1 and v2).
pub trait Cgroup {
    fn create(&mut self) -> std::result::Result<(), String>;
    fn apply(&self, res: &oci_spec::runtime::LinuxResources) -> std::result::Result<(), String>;
    fn add_task(&self, pid: i32) -> std::result::Result<(), String>;
    fn destroy(&mut self) -> std::result::Result<(), String>;
    fn paths(&self) -> Vec<PathBuf>;
}

/// True when /sys/fs/cgroup itself is the unified hierarchy.
pub fn is_v2_root() -> bool {
    nix::sys::statfs::statfs(ROOT).is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
}

/// The container's cgroup, not yet created.
pub fn for_spec(_spec: &Spec, _id: &str) -> Result<Option<Box<dyn Cgroup>>> {
    Ok(None)
}

/// Remove cgroup directories recorded in a state (deepest first).
pub fn destroy_paths(paths: &[PathBuf]) {
    let mut p: Vec<&PathBuf> = paths.iter().collect();
    p.sort_by_key(|x| std::cmp::Reverse(x.components().count()));
    for d in p {
        let _ = std::fs::remove_dir(d);
    }
}
