pub fn hello() {}
pub mod seccomp;
