//! The device rules compiled to eBPF: rule translation, instruction encoding
//! and the verdicts of the emitted program run by a small interpreter.

use oci_spec::runtime::LinuxDeviceCgroup;

use crate::cgroup::devbpf::*;
use crate::cgroup::CgroupError;

fn rules(json: &str) -> Vec<LinuxDeviceCgroup> {
    serde_json::from_str(json).unwrap()
}

/// Run the program on one bpf_cgroup_dev_ctx; only the instructions the
/// compiler emits are understood.
fn run(prog: &[Insn], typ: u32, major: u32, minor: u32, access: u32) -> u64 {
    let ctx = [typ | (access << 16), major, minor];
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    for _ in 0..4096 {
        let i = prog[pc];
        let (d, s) = (i.dst as usize, i.src as usize);
        pc += 1;
        match i.code {
            0x61 => {
                assert_eq!(s, 1, "loads only from the context");
                assert!(i.off % 4 == 0 && (0..12).contains(&i.off));
                r[d] = ctx[i.off as usize / 4] as u64;
            }
            0x54 => r[d] = (r[d] as u32 & i.imm as u32) as u64,
            0x74 => r[d] = ((r[d] as u32) >> i.imm) as u64,
            0xb4 => r[d] = i.imm as u32 as u64,
            0xbc => r[d] = r[s] as u32 as u64,
            0x55 | 0x5d | 0x15 => {
                let other = if i.code == 0x5d {
                    r[s]
                } else {
                    i.imm as i64 as u64
                };
                assert!(i.off > 0, "only forward jumps");
                if (r[d] != other) == (i.code != 0x15) {
                    pc += i.off as usize;
                }
            }
            0x95 => return r[0],
            c => panic!("unexpected opcode {c:#x}"),
        }
        assert!(pc < prog.len(), "fell off the end");
    }
    panic!("no exit");
}

const R: u32 = ACC_READ;
const W: u32 = ACC_WRITE;
const M: u32 = ACC_MKNOD;
const C: u32 = DEV_CHAR;
const B: u32 = DEV_BLOCK;

/// Check the program and the reference semantics agree on `want`.
fn verdicts(f: &Filter, cases: &[(u32, u32, u32, u32, bool)]) {
    let prog = f.program();
    for &(t, ma, mi, acc, want) in cases {
        let got = run(&prog, t, ma, mi, acc);
        assert_eq!(got, want as u64, "type {t} {ma}:{mi} access {acc:#x}");
        assert_eq!(
            f.check(t, ma, mi, acc),
            want,
            "type {t} {ma}:{mi} access {acc:#x}"
        );
    }
}

#[test]
fn encoding() {
    let e = |i: Insn| i.encode();
    // r2 = *(u32 *)(r1 + 0)
    assert_eq!(e(Insn::ldx_w(R2, R1, 0)), [0x61, 0x12, 0, 0, 0, 0, 0, 0]);
    // r4 = *(u32 *)(r1 + 4)
    assert_eq!(e(Insn::ldx_w(R4, R1, 4)), [0x61, 0x14, 4, 0, 0, 0, 0, 0]);
    // w2 &= 0xffff
    assert_eq!(
        e(Insn::alu32_imm(AND, R2, 0xffff)),
        [0x54, 0x02, 0, 0, 0xff, 0xff, 0, 0]
    );
    // w3 >>= 16
    assert_eq!(
        e(Insn::alu32_imm(RSH, R3, 16)),
        [0x74, 0x03, 0, 0, 16, 0, 0, 0]
    );
    // w1 = w3
    assert_eq!(
        e(Insn::alu32_reg(MOV, R1, R3)),
        [0xbc, 0x31, 0, 0, 0, 0, 0, 0]
    );
    // w0 = 1
    assert_eq!(e(Insn::mov32_imm(R0, 1)), [0xb4, 0x00, 0, 0, 1, 0, 0, 0]);
    // if r2 != 2 goto +5
    let mut j = Insn::jne_imm(R2, 2);
    j.off = 5;
    assert_eq!(e(j), [0x55, 0x02, 5, 0, 2, 0, 0, 0]);
    // if r1 != r3 goto +3
    let mut j = Insn::jne_reg(R1, R3);
    j.off = 3;
    assert_eq!(e(j), [0x5d, 0x31, 3, 0, 0, 0, 0, 0]);
    // if r1 == 0 goto +2
    let mut j = Insn::jeq_imm(R1, 0);
    j.off = 2;
    assert_eq!(e(j), [0x15, 0x01, 2, 0, 0, 0, 0, 0]);
    assert_eq!(e(Insn::exit()), [0x95, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn translation() {
    let f = Filter::new(&rules(
        r#"[{"allow": true, "type": "c", "major": 9, "access": "r"},
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": true, "type": "b", "minor": 0, "access": "mw"},
            {"allow": false, "type": "u", "major": 4, "minor": 1, "access": "wr"}]"#,
    ))
    .unwrap();
    // The rule before the "a" reset is dropped; the reset gives the default.
    assert_eq!(
        f,
        Filter {
            default_allow: false,
            rules: vec![
                Rule {
                    allow: true,
                    typ: C,
                    major: Some(1),
                    minor: Some(3),
                    access: R | W | M
                },
                Rule {
                    allow: true,
                    typ: B,
                    major: None,
                    minor: Some(0),
                    access: W | M
                },
                Rule {
                    allow: false,
                    typ: C,
                    major: Some(4),
                    minor: Some(1),
                    access: R | W
                },
            ]
        }
    );
    assert!(!f.allows_all());
    // No rules at all: deny everything; an "allow a" only: allow everything.
    let none = Filter::new(&[]).unwrap();
    assert!(!none.default_allow && none.rules.is_empty());
    assert_eq!(none.program().len(), 6 + 2);
    let all = Filter::new(&rules(r#"[{"allow": true}]"#)).unwrap();
    assert!(all.allows_all());
    // Invalid rules are refused before anything is compiled.
    for bad in [
        r#"[{"allow": true, "type": "p", "access": "r"}]"#,
        r#"[{"allow": true, "type": "c", "access": "rx"}]"#,
        r#"[{"allow": true, "type": "c", "major": 4294967296, "access": "r"}]"#,
    ] {
        let err = Filter::new(&rules(bad)).unwrap_err();
        assert!(matches!(err, CgroupError::Invalid(_)), "{bad}: {err}");
    }
}

#[test]
fn program_shape() {
    let f = Filter::new(&rules(
        r#"[{"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "r"}]"#,
    ))
    .unwrap();
    let p = f.program();
    // 6 loads; c 1:5 r = type + 3 access + major + minor + 2; c 1:3 rwm =
    // type + major + minor + 2 (no access test); default = 2.
    assert_eq!(p.len(), 6 + 8 + 5 + 2);
    // The last rule comes first; every jump of a block lands on the next block.
    assert_eq!(p[6], {
        let mut j = Insn::jne_imm(R2, C as i32);
        j.off = 7;
        j
    });
    assert_eq!((p[10].imm, p[10].off), (1, 3)); // major 1 -> next block
    assert_eq!((p[11].imm, p[11].off), (5, 2)); // minor 5 -> next block
    assert_eq!(p[12], Insn::mov32_imm(R0, 1));
    assert_eq!(p[13], Insn::exit());
    assert_eq!(p[14].off, 4);
    assert_eq!(p[19..], [Insn::mov32_imm(R0, 0), Insn::exit()]);
}

#[test]
fn verdicts_of_the_program() {
    let f = Filter::new(&rules(
        r#"[{"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "r"}]"#,
    ))
    .unwrap();
    verdicts(
        &f,
        &[
            (C, 1, 3, R | W, true),
            (C, 1, 3, M, true),
            (C, 1, 5, R, true),
            (C, 1, 5, W, false),
            (C, 1, 5, R | W, false), // asks for more than "r"
            (C, 1, 5, M, false),
            (C, 1, 9, R, false),
            (B, 1, 3, R, false),
            (B, 8, 0, R, false),
        ],
    );

    // Default allow with holes; later rules override earlier ones.
    let f = Filter::new(&rules(
        r#"[{"allow": true, "type": "a"},
            {"allow": false, "type": "b", "access": "rwm"},
            {"allow": true, "type": "b", "major": 8, "access": "r"},
            {"allow": false, "type": "c", "major": 10, "minor": 200, "access": "w"},
            {"allow": false, "type": "c", "major": 4294967295, "access": "w"}]"#,
    ))
    .unwrap();
    assert!(!f.allows_all());
    verdicts(
        &f,
        &[
            (B, 8, 0, R, true),
            (B, 8, 1, R, true),
            (B, 8, 0, W, false),
            (B, 8, 0, M, false),
            (B, 7, 0, R, false),
            (C, 10, 200, R, true),
            (C, 10, 200, W, false),
            (C, 10, 200, R | W, false), // a deny rule matches any overlap
            (C, 10, 201, W, true),
            (C, 1, 3, R | W | M, true),
        ],
    );

    // runc's defaults after a deny-all: mknod of any char/block device, the
    // standard devices and every pty.
    let f = Filter::new(&rules(
        r#"[{"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "access": "m"},
            {"allow": true, "type": "b", "access": "m"},
            {"allow": true, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
            {"allow": true, "type": "c", "major": 136, "access": "rwm"}]"#,
    ))
    .unwrap();
    verdicts(
        &f,
        &[
            (C, 1, 1, M, true),
            (B, 8, 0, M, true),
            (C, 1, 1, R, false),
            (C, 1, 9, R | W, true),
            (C, 136, 4, R | W, true),
            (C, 137, 4, R | W, false),
        ],
    );
}
