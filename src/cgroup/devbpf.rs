//! cgroup v2 device control: the OCI `linux.resources.devices` rules compiled
//! into a BPF_PROG_TYPE_CGROUP_DEVICE program (hand-assembled, like runc's
//! devicefilter), loaded with bpf(2) and attached to the container's directory.
//!
//! Rules are evaluated like the v1 device controller: a type "a" rule resets
//! everything to allow-all/deny-all (so the last one gives the default and the
//! rules before it are dropped); among the rules after it the last match wins,
//! so they are emitted in reverse order, each returning as soon as it matches.
//! Access is matched like the v1 controller does: an allow rule matches a
//! request for a subset of its access, a deny rule one that asks for any of it.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use super::convert::device_rule;
use super::{warn, CgroupError, Result};

/// struct bpf_cgroup_dev_ctx.access_type, low 16 bits.
pub const DEV_BLOCK: u32 = 1;
pub const DEV_CHAR: u32 = 2;
/// struct bpf_cgroup_dev_ctx.access_type, high 16 bits.
pub const ACC_MKNOD: u32 = 1;
pub const ACC_READ: u32 = 2;
pub const ACC_WRITE: u32 = 4;
const ACC_ALL: u32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// One rule after validation; `None` is a wildcard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    /// DEV_BLOCK or DEV_CHAR.
    pub typ: u32,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// ACC_* bits.
    pub access: u32,
}

/// The effective rule set: the default verdict and the rules after the last
/// type "a" rule, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub default_allow: bool,
    pub rules: Vec<Rule>,
}

impl Filter {
    pub fn new(devices: &[LinuxDeviceCgroup]) -> Result<Filter> {
        let mut f = Filter {
            default_allow: false,
            rules: Vec::new(),
        };
        for d in devices {
            device_rule(d)?; // validates type and access
            let typ = match d.typ().unwrap_or(LinuxDeviceType::A) {
                LinuxDeviceType::A => {
                    f.default_allow = d.allow();
                    f.rules.clear();
                    continue;
                }
                LinuxDeviceType::B => DEV_BLOCK,
                _ => DEV_CHAR, // c and u; p was rejected by device_rule
            };
            let num = |n: Option<i64>, what: &str| match n {
                Some(n) if n > u32::MAX as i64 => Err(CgroupError::Invalid(format!(
                    "device rule {what} {n} is out of range"
                ))),
                Some(n) if n >= 0 => Ok(Some(n as u32)),
                _ => Ok(None),
            };
            let mut access = 0;
            for c in d.access().as_deref().unwrap_or("rwm").chars() {
                access |= match c {
                    'r' => ACC_READ,
                    'w' => ACC_WRITE,
                    _ => ACC_MKNOD,
                };
            }
            f.rules.push(Rule {
                allow: d.allow(),
                typ,
                major: num(d.major(), "major")?,
                minor: num(d.minor(), "minor")?,
                access,
            });
        }
        Ok(f)
    }

    /// True if every access is allowed (nothing to enforce).
    pub fn allows_all(&self) -> bool {
        self.default_allow && self.rules.iter().all(|r| r.allow)
    }

    /// What the program decides for one request (the reference semantics).
    pub fn check(&self, typ: u32, major: u32, minor: u32, access: u32) -> bool {
        self.rules
            .iter()
            .rev()
            .find(|r| {
                r.typ == typ
                    && r.major.is_none_or(|m| m == major)
                    && r.minor.is_none_or(|m| m == minor)
                    && if r.allow {
                        access & r.access == access
                    } else {
                        access & r.access != 0
                    }
            })
            .map_or(self.default_allow, |r| r.allow)
    }

    /// The eBPF program: load the context into r2..r5, one block per rule
    /// (last rule first) that jumps to the next block on a mismatch and
    /// otherwise returns the rule's verdict, then return the default.
    pub fn program(&self) -> Vec<Insn> {
        let mut p = vec![
            Insn::ldx_w(R2, R1, 0), // r2 = type (low 16 bits of access_type)
            Insn::alu32_imm(AND, R2, 0xffff),
            Insn::ldx_w(R3, R1, 0), // r3 = access (high 16 bits)
            Insn::alu32_imm(RSH, R3, 16),
            Insn::ldx_w(R4, R1, 4), // r4 = major
            Insn::ldx_w(R5, R1, 8), // r5 = minor
        ];
        for r in self.rules.iter().rev() {
            // Device numbers are at most 12 (major) and 20 (minor) bits, so a
            // number that does not fit the sign-extended immediate never matches.
            if r.major.is_some_and(|m| m > i32::MAX as u32)
                || r.minor.is_some_and(|m| m > i32::MAX as u32)
            {
                continue;
            }
            // The tests jump to the next block on a mismatch (offsets set below).
            let mut tests = vec![Insn::jne_imm(R2, r.typ as i32)];
            if r.access & ACC_ALL != ACC_ALL {
                tests.push(Insn::alu32_reg(MOV, R1, R3));
                tests.push(Insn::alu32_imm(AND, R1, r.access as i32));
                tests.push(if r.allow {
                    // if (r3 & access) != r3: asks for more than allowed.
                    Insn::jne_reg(R1, R3)
                } else {
                    // if (r3 & access) == 0: asks for nothing denied.
                    Insn::jeq_imm(R1, 0)
                });
            }
            if let Some(m) = r.major {
                tests.push(Insn::jne_imm(R4, m as i32));
            }
            if let Some(m) = r.minor {
                tests.push(Insn::jne_imm(R5, m as i32));
            }
            let len = tests.len() + 2;
            for (i, mut t) in tests.into_iter().enumerate() {
                if t.code & 0x07 == JMP {
                    t.off = (len - i - 1) as i16;
                }
                p.push(t);
            }
            p.push(Insn::mov32_imm(R0, r.allow as i32));
            p.push(Insn::exit());
        }
        p.push(Insn::mov32_imm(R0, self.default_allow as i32));
        p.push(Insn::exit());
        p
    }
}

// ---- a tiny eBPF instruction encoder ----

pub const R0: u8 = 0;
pub const R1: u8 = 1;
pub const R2: u8 = 2;
pub const R3: u8 = 3;
pub const R4: u8 = 4;
pub const R5: u8 = 5;

// Instruction classes, operations and sources (linux/bpf_common.h, linux/bpf.h).
pub const LDX: u8 = 0x01;
pub const ALU: u8 = 0x04;
pub const JMP: u8 = 0x05;
pub const MEM_W: u8 = 0x60; // BPF_MEM | BPF_W
pub const AND: u8 = 0x50;
pub const RSH: u8 = 0x70;
pub const MOV: u8 = 0xb0;
pub const JEQ: u8 = 0x10;
pub const JNE: u8 = 0x50;
pub const EXIT: u8 = 0x90;
pub const SRC_K: u8 = 0x00;
pub const SRC_X: u8 = 0x08;

/// struct bpf_insn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            dst,
            src,
            off,
            imm,
        }
    }
    /// dst = *(u32 *)(src + off)
    pub fn ldx_w(dst: u8, src: u8, off: i16) -> Insn {
        Insn::new(LDX | MEM_W, dst, src, off, 0)
    }
    /// 32-bit `dst op= imm`.
    pub fn alu32_imm(op: u8, dst: u8, imm: i32) -> Insn {
        Insn::new(ALU | op | SRC_K, dst, 0, 0, imm)
    }
    /// 32-bit `dst op= src`.
    pub fn alu32_reg(op: u8, dst: u8, src: u8) -> Insn {
        Insn::new(ALU | op | SRC_X, dst, src, 0, 0)
    }
    pub fn mov32_imm(dst: u8, imm: i32) -> Insn {
        Insn::alu32_imm(MOV, dst, imm)
    }
    /// if dst != imm goto +off (offset filled in by the caller).
    pub fn jne_imm(dst: u8, imm: i32) -> Insn {
        Insn::new(JMP | JNE | SRC_K, dst, 0, 0, imm)
    }
    /// if dst == imm goto +off (offset filled in by the caller).
    pub fn jeq_imm(dst: u8, imm: i32) -> Insn {
        Insn::new(JMP | JEQ | SRC_K, dst, 0, 0, imm)
    }
    /// if dst != src goto +off (offset filled in by the caller).
    pub fn jne_reg(dst: u8, src: u8) -> Insn {
        Insn::new(JMP | JNE | SRC_X, dst, src, 0, 0)
    }
    pub fn exit() -> Insn {
        Insn::new(JMP | EXIT, 0, 0, 0, 0)
    }

    /// The 8-byte kernel encoding (the register nibbles follow the bitfield
    /// order of the target's endianness).
    pub fn encode(&self) -> [u8; 8] {
        let regs = if cfg!(target_endian = "little") {
            (self.src << 4) | (self.dst & 0x0f)
        } else {
            (self.dst << 4) | (self.src & 0x0f)
        };
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = regs;
        b[2..4].copy_from_slice(&self.off.to_ne_bytes());
        b[4..8].copy_from_slice(&self.imm.to_ne_bytes());
        b
    }
}

// ---- bpf(2) ----

const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_DETACH: libc::c_int = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_int = 13;
const BPF_PROG_QUERY: libc::c_int = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The BPF_PROG_LOAD part of union bpf_attr (up to expected_attach_type).
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The BPF_PROG_ATTACH/DETACH part of union bpf_attr.
#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

/// The BPF_PROG_QUERY part of union bpf_attr.
#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

/// The BPF_PROG_GET_FD_BY_ID part of union bpf_attr.
#[repr(C)]
#[derive(Default)]
struct GetFdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// bpf(cmd, attr, sizeof attr).
fn bpf<T>(cmd: libc::c_int, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, exclusively borrowed #[repr(C)] prefix of
    // union bpf_attr for `cmd` and its exact size is passed; the kernel reads
    // (and for queries writes) only within that size, and any pointers inside
    // it were set by the caller to buffers that outlive this call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Take ownership of a descriptor returned by bpf(2).
fn owned(fd: libc::c_long) -> OwnedFd {
    // SAFETY: the kernel just returned this new descriptor to us and nothing
    // else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

/// BPF_PROG_LOAD of a cgroup device program; on failure the verifier log is
/// part of the error.
fn load(insns: &[Insn]) -> io::Result<OwnedFd> {
    let code: Vec<u8> = insns.iter().flat_map(|i| i.encode()).collect();
    let license = c"Apache";
    let mut log = vec![0u8; 0];
    let attempt = |log: &mut Vec<u8>| {
        let mut a = ProgLoadAttr {
            prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
            insn_cnt: insns.len() as u32,
            insns: code.as_ptr() as u64,
            license: license.as_ptr() as u64,
            expected_attach_type: BPF_CGROUP_DEVICE,
            ..Default::default()
        };
        a.prog_name[..8].copy_from_slice(b"husk_dev");
        if !log.is_empty() {
            a.log_level = 1;
            a.log_size = log.len() as u32;
            a.log_buf = log.as_mut_ptr() as u64;
        }
        bpf(BPF_PROG_LOAD, &mut a).map(owned)
    };
    match attempt(&mut log) {
        Ok(fd) => Ok(fd),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => with_memlock(|| attempt(&mut log)),
        Err(e) => {
            log.resize(64 * 1024, 0);
            match attempt(&mut log) {
                Ok(fd) => Ok(fd),
                Err(_) => {
                    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
                    let text = String::from_utf8_lossy(&log[..end]);
                    Err(io::Error::new(
                        e.kind(),
                        format!("{e}; verifier log: {}", text.trim()),
                    ))
                }
            }
        }
    }
}

/// Run `f` with RLIMIT_MEMLOCK raised (kernels before 5.11 charge BPF
/// programs to it), putting the old limit back afterwards so the container
/// does not inherit the raised one.
fn with_memlock<T>(f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource, RLIM_INFINITY};
    let old = getrlimit(Resource::RLIMIT_MEMLOCK).ok();
    let _ = setrlimit(Resource::RLIMIT_MEMLOCK, RLIM_INFINITY, RLIM_INFINITY);
    let r = f();
    if let Some((soft, hard)) = old {
        let _ = setrlimit(Resource::RLIMIT_MEMLOCK, soft, hard);
    }
    r
}

/// The ids of the device programs attached directly to the cgroup directory `dir`.
pub fn attached_programs(dir: &Path) -> Result<Vec<u32>> {
    let d = File::open(dir).map_err(|source| CgroupError::Io {
        op: "open",
        path: dir.to_path_buf(),
        source,
    })?;
    attached(d.as_raw_fd()).map_err(|source| CgroupError::Io {
        op: "BPF_PROG_QUERY (BPF_CGROUP_DEVICE)",
        path: dir.to_path_buf(),
        source,
    })
}

fn attached(dir: RawFd) -> io::Result<Vec<u32>> {
    loop {
        let mut q = QueryAttr {
            target_fd: dir as u32,
            attach_type: BPF_CGROUP_DEVICE,
            ..Default::default()
        };
        bpf(BPF_PROG_QUERY, &mut q)?;
        if q.prog_cnt == 0 {
            return Ok(Vec::new());
        }
        let mut ids = vec![0u32; q.prog_cnt as usize];
        let mut q = QueryAttr {
            target_fd: dir as u32,
            attach_type: BPF_CGROUP_DEVICE,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            ..Default::default()
        };
        match bpf(BPF_PROG_QUERY, &mut q) {
            Ok(_) => {
                ids.truncate(q.prog_cnt as usize);
                return Ok(ids);
            }
            // More were attached in between: ask again.
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => continue,
            Err(e) => return Err(e),
        }
    }
}

fn attach_op(cmd: libc::c_int, dir: RawFd, prog: RawFd, flags: u32) -> io::Result<()> {
    let mut a = AttachAttr {
        target_fd: dir as u32,
        attach_bpf_fd: prog as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: flags,
    };
    bpf(cmd, &mut a).map(|_| ())
}

/// Detach the program with this id from `dir`; one that is already gone is fine.
fn detach_id(dir: RawFd, id: u32) -> io::Result<()> {
    let mut g = GetFdAttr {
        prog_id: id,
        ..Default::default()
    };
    let prog = match bpf(BPF_PROG_GET_FD_BY_ID, &mut g) {
        Ok(fd) => owned(fd),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(e),
    };
    match attach_op(BPF_PROG_DETACH, dir, prog.as_raw_fd(), 0) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        r => r,
    }
}

/// Compile `devices`, load the program and attach it to the cgroup v2 `dir`
/// (BPF_F_ALLOW_MULTI), then detach the device programs that were attached
/// before (a previous apply), like runc: the new filter is in force before the
/// old one goes, and the program lives as long as it is attached.
pub fn install(dir: &Path, devices: &[LinuxDeviceCgroup]) -> Result<()> {
    let filter = Filter::new(devices)?;
    let err = |op: &'static str| {
        move |source| CgroupError::Io {
            op,
            path: dir.to_path_buf(),
            source,
        }
    };
    let d = File::open(dir).map_err(err("open"))?;
    let fs = nix::sys::statfs::fstatfs(&d).map_err(|e| err("statfs")(e.into()))?;
    if fs.filesystem_type() != nix::sys::statfs::CGROUP2_SUPER_MAGIC {
        return Err(CgroupError::Unsupported(format!(
            "device rules need a cgroup2 directory, {} is not one",
            dir.display()
        )));
    }
    let res = (|| {
        let old = attached(d.as_raw_fd()).map_err(err("BPF_PROG_QUERY (BPF_CGROUP_DEVICE)"))?;
        let prog = load(&filter.program()).map_err(err("BPF_PROG_LOAD (CGROUP_DEVICE) for"))?;
        attach_op(
            BPF_PROG_ATTACH,
            d.as_raw_fd(),
            prog.as_raw_fd(),
            BPF_F_ALLOW_MULTI,
        )
        .map_err(err(
            "BPF_PROG_ATTACH (BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI) to",
        ))?;
        for id in old {
            detach_id(d.as_raw_fd(), id)
                .map_err(err("BPF_PROG_DETACH (BPF_CGROUP_DEVICE) from"))?;
        }
        Ok(())
    })();
    match res {
        // Like runc: without the privilege to use BPF (e.g. in a user
        // namespace) a rule set that allows everything needs no program.
        Err(CgroupError::Io { ref source, .. })
            if source.raw_os_error() == Some(libc::EPERM) && filter.allows_all() =>
        {
            warn("cannot install the device filter (EPERM); the rules allow every device anyway");
            Ok(())
        }
        r => r,
    }
}
