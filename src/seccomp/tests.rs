use std::path::PathBuf;

use super::*;

fn p(json: &str) -> LinuxSeccomp {
    parse(json).unwrap_or_else(|e| panic!("{e}"))
}

fn err_of(json: &str) -> String {
    match parse(json) {
        Ok(s) => validate(&s).expect_err("expected an error").to_string(),
        Err(e) => e.to_string(),
    }
}

const LARGE: &str = include_str!("../../tests/fixtures/seccomp-large.json");

#[test]
fn unknown_operator_names_field() {
    let e = err_of(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["getpid"],"action":"SCMP_ACT_ERRNO"},
            {"names":["getppid"],"action":"SCMP_ACT_ERRNO",
             "args":[{"index":0,"value":1,"op":"SCMP_CMP_BOGUS"}]}]}"#,
    );
    assert!(
        e.starts_with("linux.seccomp.syscalls[1].args[0].op: unknown operator"),
        "{e}"
    );
    assert!(
        e.contains("SCMP_CMP_BOGUS") && !e.contains(" at line "),
        "{e}"
    );
}

#[test]
fn unknown_action_and_arch_name_field() {
    let e = err_of(r#"{"defaultAction":"SCMP_ACT_NOPE"}"#);
    assert!(
        e.starts_with("linux.seccomp.defaultAction: unknown action"),
        "{e}"
    );
    let e = err_of(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"KILL"}]}"#,
    );
    assert!(
        e.starts_with("linux.seccomp.syscalls[0].action: unknown action"),
        "{e}"
    );
    let e = err_of(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86","SCMP_ARCH_VAX"]}"#,
    );
    assert!(
        e.starts_with("linux.seccomp.architectures[1]: unknown architecture"),
        "{e}"
    );
    let e = err_of(r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_X"]}"#);
    assert!(e.starts_with("linux.seccomp.flags[0]: unknown flag"), "{e}");
}

#[test]
fn type_errors_name_field() {
    let e = err_of(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":"getpid"}]}"#);
    assert!(
        e.starts_with("linux.seccomp.syscalls[0].names: invalid type"),
        "{e}"
    );
}

#[test]
fn whole_config_paths_have_no_prefix_doubling() {
    // How the core reports a parse error of the whole config.json.
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Cfg {
        linux: Linux,
    }
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Linux {
        seccomp: LinuxSeccomp,
    }
    let json = r#"{"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW",
        "syscalls":[{"names":["x"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"LT"}]}]}}}"#;
    let e = crate::jsonpath::from_slice::<Cfg>(json.as_bytes()).unwrap_err();
    let e = SeccompError::from_path_error("", e).to_string();
    assert!(
        e.starts_with("linux.seccomp.syscalls[0].args[0].op: unknown operator"),
        "{e}"
    );
}

#[test]
fn errno_ret_only_with_errno_or_trace() {
    let e = err_of(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["a"],"action":"SCMP_ACT_ERRNO","errnoRet":3},
            {"names":["b"],"action":"SCMP_ACT_TRACE","errnoRet":3},
            {"names":["c"],"action":"SCMP_ACT_KILL","errnoRet":3}]}"#,
    );
    assert_eq!(
        e,
        "linux.seccomp.syscalls[2].errnoRet: only valid with SCMP_ACT_ERRNO/SCMP_ACT_TRACE"
    );
    let e = err_of(r#"{"defaultAction":"SCMP_ACT_LOG","defaultErrnoRet":1}"#);
    assert!(e.starts_with("linux.seccomp.defaultErrnoRet: "), "{e}");
    let e = err_of(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_ERRNO","errnoRet":5000}]}"#,
    );
    assert!(
        e.starts_with("linux.seccomp.syscalls[0].errnoRet: 5000 is out of range"),
        "{e}"
    );
}

#[test]
fn other_validation_errors() {
    let cases = [
        (
            r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#,
            "linux.seccomp.defaultAction: ",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["write"],"action":"SCMP_ACT_NOTIFY"}]}"#,
            "linux.seccomp.syscalls[0].names[0]: SCMP_ACT_NOTIFY cannot be used for the write",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a",""],"action":"SCMP_ACT_TRAP"}]}"#,
            "linux.seccomp.syscalls[0].names[1]: empty syscall name",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":[],"action":"SCMP_ACT_TRAP"}]}"#,
            "linux.seccomp.syscalls[0].names: must not be empty",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_TRAP",
                "args":[{"index":6,"value":0,"op":"SCMP_CMP_EQ"}]}]}"#,
            "linux.seccomp.syscalls[0].args[0].index: 6 is out of range",
        ),
    ];
    for (json, want) in cases {
        let e = err_of(json);
        assert!(e.starts_with(want), "{e} !~ {want}");
    }
}

#[test]
fn compile_small_profile() {
    let s = p(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
        {"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":42},
        {"names":["getpid","no_such_syscall_xyz"],"action":"SCMP_ACT_ALLOW"}]}"#);
    let prog = compile(&s).unwrap();
    assert!(!prog.notify);
    assert_eq!(prog.flags, 0);
    // The errno action with data 42 must appear as a BPF return constant.
    let ret_errno_42 = 0x0005_0000 | 42;
    assert!(prog
        .bpf
        .iter()
        .any(|i| i.code == 0x06 && i.k == ret_errno_42));
}

#[test]
fn compile_all_actions_and_ops() {
    let actions = [
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_TRAP",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_LOG",
        "SCMP_ACT_NOTIFY",
    ];
    let ops = ["NE", "LT", "LE", "EQ", "GE", "GT", "MASKED_EQ"];
    let names = [
        "getppid",
        "getpgid",
        "getsid",
        "getpriority",
        "umask",
        "alarm",
        "dup",
        "close",
    ];
    let mut rules = Vec::new();
    for (i, a) in actions.iter().enumerate() {
        let op = ops[i % ops.len()];
        rules.push(format!(
            r#"{{"names":["{}"],"action":"{a}","args":[{{"index":1,"value":7,"valueTwo":3,"op":"SCMP_CMP_{op}"}}]}}"#,
            names[i]
        ));
    }
    let json = format!(
        r#"{{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],"syscalls":[{}]}}"#,
        rules.join(",")
    );
    let prog = compile(&p(&json)).unwrap();
    assert!(prog.notify);
    let want =
        (libc::SECCOMP_FILTER_FLAG_LOG | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) as u32;
    assert_eq!(prog.flags, want);
}

#[test]
fn wait_killable_dropped_without_notify() {
    let s = p(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV","SECCOMP_FILTER_FLAG_TSYNC"],
        "syscalls":[{"names":["getppid"],"action":"SCMP_ACT_KILL"}]}"#,
    );
    assert_eq!(
        compile(&s).unwrap().flags,
        libc::SECCOMP_FILTER_FLAG_TSYNC as u32
    );
}

#[test]
fn rule_equal_to_default_is_skipped() {
    let base = r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ALLOW"}"#;
    let a = compile(&p(&format!("{base}]}}"))).unwrap();
    let b = compile(&p(&format!(
        r#"{base},{{"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":1}}]}}"#
    )))
    .unwrap();
    assert_eq!(a, b);
}

#[test]
fn several_architectures() {
    let s = p(r#"{"defaultAction":"SCMP_ACT_ALLOW",
        "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32","SCMP_ARCH_AARCH64","SCMP_ARCH_NATIVE"],
        "syscalls":[{"names":["socketcall","getppid"],"action":"SCMP_ACT_ERRNO"}]}"#);
    let one = p(r#"{"defaultAction":"SCMP_ACT_ALLOW",
        "syscalls":[{"names":["socketcall","getppid"],"action":"SCMP_ACT_ERRNO"}]}"#);
    let (many, single) = (compile(&s).unwrap(), compile(&one).unwrap());
    assert!(many.bpf.len() > single.bpf.len());
    // The arch checks compare against the AUDIT_ARCH_* constants.
    for audit in [0xc000_003e_u32, 0x4000_0003, 0xc000_00b7] {
        assert!(many.bpf.iter().any(|i| i.k == audit), "{audit:#x}");
    }
}

#[test]
fn compile_large_profile() {
    let s = p(LARGE);
    let n: usize = s
        .syscalls()
        .as_ref()
        .unwrap()
        .iter()
        .map(|c| c.names().len())
        .sum();
    assert!(n >= 300, "fixture has {n} names");
    let prog = compile(&s).unwrap();
    assert!(prog.bpf.len() > 100 && prog.bpf.len() <= MAX_INSNS);
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("husk-seccomp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn cache_hit_does_not_compile() {
    let dir = scratch("cache-hit");
    let s = p(LARGE);
    let before = compiles_on_this_thread();
    let first = compile_cached(&s, &dir).unwrap();
    assert_eq!(compiles_on_this_thread(), before + 1);
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].extension().unwrap() == "bpf");
    let mtime = std::fs::metadata(&files[0]).unwrap().modified().unwrap();
    let second = compile_cached(&s, &dir).unwrap();
    assert_eq!(
        compiles_on_this_thread(),
        before + 1,
        "a hit must not compile"
    );
    assert_eq!(
        std::fs::metadata(&files[0]).unwrap().modified().unwrap(),
        mtime
    );
    assert_eq!(first, second);
    assert_eq!(first, compile(&s).unwrap());
    // Another profile gets another entry.
    let other = p(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#);
    compile_cached(&other, &dir).unwrap();
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cache_corrupt_or_foreign_entry_is_a_miss() {
    let dir = scratch("cache-corrupt");
    let s = p(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_KILL"}]}"#,
    );
    let good = compile_cached(&s, &dir).unwrap();
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.truncate(bytes.len() - 3); // torn write
    std::fs::write(&file, &bytes).unwrap();
    let before = compiles_on_this_thread();
    assert_eq!(compile_cached(&s, &dir).unwrap(), good);
    assert_eq!(compiles_on_this_thread(), before + 1);
    // A different key stored under our name (a hash collision) is a miss too.
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.windows(7).position(|w| w == b"getppid").unwrap();
    bytes[at..at + 7].copy_from_slice(b"getpid_");
    std::fs::write(&file, &bytes).unwrap();
    assert_eq!(compile_cached(&s, &dir).unwrap(), good);
    assert_eq!(compiles_on_this_thread(), before + 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cache_dir_must_be_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("cache-perm");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let s = p(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#);
    let e = compile_cached(&s, &dir).unwrap_err().to_string();
    assert!(e.contains("writable by group or others"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn kernel_flag_probe() {
    assert!(load::kernel_accepts(0).unwrap());
    assert!(load::kernel_accepts(libc::SECCOMP_FILTER_FLAG_LOG).unwrap());
    assert!(!load::kernel_accepts(1 << 30).unwrap());
}

#[test]
fn arch_unknown_to_this_libseccomp_names_field() {
    let v = libseccomp::ScmpVersion::current().unwrap();
    if (v.major, v.minor) >= (2, 6) {
        return; // 2.6 knows every architecture oci-spec lists
    }
    let s = p(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86","SCMP_ARCH_LOONGARCH64"]}"#,
    );
    let e = compile(&s).unwrap_err().to_string();
    assert!(
        e.starts_with("linux.seccomp.architectures[1]: architecture not supported"),
        "{e}"
    );
}
