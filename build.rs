//! Link-time settings for a small binary that needs nothing but libc.
//!
//! 1. Link libgcc's unwinder statically, as `gcc -static-libgcc` would (std
//!    names `-lgcc_s` explicitly on *-linux-gnu, so that flag alone does not
//!    do it): a linker script named libgcc_s.so, found first, stands in for
//!    libgcc_s.so.1 and pulls in libgcc_eh.a instead.
//! 2. Release builds (`panic = "abort"`, stripped) drop the unwind tables
//!    (.eh_frame, .eh_frame_hdr, .gcc_except_table: an eighth of the binary):
//!    nothing unwinds, and a panic still prints its message and aborts; only
//!    RUST_BACKTRACE has no frames to show (without symbols it showed bare
//!    addresses).  Test binaries, which unwind, keep them. crtbegin's and
//!    crtend's pieces stay: their code refers to the section's start.
//! 3. Static musl builds (`--target x86_64-unknown-linux-musl`, the shipping
//!    build) add build/fortify.c, compiled with the system's C compiler: the
//!    one glibc-only symbol that Debian's libseccomp.a needs.

use std::{env, fs, path::PathBuf, process::Command};

const NO_UNWIND_TABLES: &str = "\
SECTIONS
{
  /DISCARD/ : {
    EXCLUDE_FILE(*crtbegin*.o *crtend*.o) *(.eh_frame)
    *(.eh_frame.*) *(.gcc_except_table) *(.gcc_except_table.*)
  }
}
INSERT AFTER .text;
";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |k: &str| env::var(k).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") != "linux" {
        return;
    }
    let out = PathBuf::from(var("OUT_DIR"));
    let crt_static = var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static");
    if var("CARGO_CFG_TARGET_ENV") == "gnu" && !crt_static {
        let dir = out.join("static-libgcc");
        fs::create_dir_all(&dir).expect("create OUT_DIR/static-libgcc");
        fs::write(dir.join("libgcc_s.so"), "INPUT(-lgcc_eh)\n").expect("write libgcc_s.so");
        println!("cargo:rustc-link-search=native={}", dir.display());
    }
    if var("CARGO_CFG_TARGET_ENV") == "musl" {
        println!("cargo:rerun-if-changed=build/fortify.c");
        let obj = out.join("fortify.o");
        let cc = env::var("CC").unwrap_or_else(|_| "cc".into());
        let st = Command::new(&cc)
            .args([
                "-O2",
                "-fPIC",
                "-fno-stack-protector",
                "-c",
                "build/fortify.c",
                "-o",
            ])
            .arg(&obj)
            .status()
            .unwrap_or_else(|e| panic!("run {cc}: {e}"));
        assert!(st.success(), "{cc} build/fortify.c failed");
        println!("cargo:rustc-link-arg={}", obj.display());
    }
    if var("PROFILE") == "release" {
        let script = out.join("no-unwind-tables.ld");
        fs::write(&script, NO_UNWIND_TABLES).expect("write no-unwind-tables.ld");
        println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
    }
}
