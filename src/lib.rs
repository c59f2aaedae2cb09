pub fn hello() {}
pub mod cgroup;
