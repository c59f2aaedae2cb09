pub fn hello() {}
pub mod caps;
pub mod seccomp;
