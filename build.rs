//! Link libgcc's unwinder statically, as `gcc -static-libgcc` would, so that
//! the husk binary depends on nothing but libc at run time (std names
//! `-lgcc_s` explicitly on *-linux-gnu, so `-static-libgcc` alone does not do
//! it): a linker script named libgcc_s.so, found first, stands in for
//! libgcc_s.so.1 and pulls in libgcc_eh.a instead.

use std::{env, fs, path::PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |k: &str| env::var(k).unwrap_or_default();
    let crt_static = var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static");
    if var("CARGO_CFG_TARGET_OS") != "linux" || var("CARGO_CFG_TARGET_ENV") != "gnu" || crt_static {
        return;
    }
    let dir = PathBuf::from(var("OUT_DIR")).join("static-libgcc");
    fs::create_dir_all(&dir).expect("create OUT_DIR/static-libgcc");
    fs::write(dir.join("libgcc_s.so"), "INPUT(-lgcc_eh)\n").expect("write libgcc_s.so");
    println!("cargo:rustc-link-search=native={}", dir.display());
}
