//! On-disk cache of compiled filters: `<cache_dir>/<hash>.bpf`.
//!
//! The key is the canonical serialization of the profile (serde_json of the
//! typed oci-spec struct: fixed field order, no maps) plus the husk version,
//! the libseccomp version and API level, and the native architecture.  The
//! file name is a 64-bit FNV-1a of the key; the full key is stored in the file
//! and compared on read, so a hash collision is just a miss.
//!
//! File layout (native byte order; it never leaves the host):
//! `b"HUSKBPF1"`, flags u32, notify u32, key_len u32, insns u32, key, insns*8.
//!
//! Files are written to a temporary name and renamed into place, so readers
//! see either nothing or a complete file.  No fsync: a torn file after a crash
//! fails validation and is treated as a miss.  Write errors are ignored (the
//! cache is an optimisation); a cache directory writable by others, or owned
//! by another user, is an error since its content decides the filter.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use oci_spec::runtime::LinuxSeccomp;

use super::{bytes_to_insns, check_kernel_support, compile, insn_bytes, validate, Program};
use super::{SeccompError, MAX_INSNS};

const MAGIC: &[u8; 8] = b"HUSKBPF1";
const HEADER: usize = 8 + 4 * 4;
const MAX_KEY: usize = 16 << 20;

/// Like [`compile`], through the cache in `cache_dir` (created 0700 if
/// missing).  A hit reads the file and does not run libseccomp; the kernel
/// flag probe still runs.
pub fn compile_cached(s: &LinuxSeccomp, cache_dir: &Path) -> Result<Program, SeccompError> {
    validate(s)?;
    let key = cache_key(s)?;
    let name = format!("{:016x}.bpf", fnv1a64(&key));
    check_dir(cache_dir)?;
    let path = cache_dir.join(&name);
    if let Some(p) = read_entry(&path, &key) {
        check_kernel_support(s, &p)?;
        return Ok(p);
    }
    let p = compile(s)?;
    let _ = write_entry(cache_dir, &name, &key, &p);
    Ok(p)
}

fn cache_key(s: &LinuxSeccomp) -> Result<Vec<u8>, SeccompError> {
    let v = libseccomp::ScmpVersion::current().map_err(|source| SeccompError::Libseccomp {
        path: super::ROOT.into(),
        msg: "libseccomp version".into(),
        source,
    })?;
    let mut key = format!(
        "husk {} libseccomp {}.{}.{} api {} native {:?}\n",
        env!("CARGO_PKG_VERSION"),
        v.major,
        v.minor,
        v.micro,
        libseccomp::get_api(),
        libseccomp::ScmpArch::native(),
    )
    .into_bytes();
    serde_json::to_writer(&mut key, s).map_err(|e| SeccompError::Io {
        what: "serializing profile".into(),
        source: e.into(),
    })?;
    Ok(key)
}

fn fnv1a64(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn check_dir(dir: &Path) -> Result<(), SeccompError> {
    let err = |msg: &str| SeccompError::Io {
        what: format!("cache directory {}", dir.display()),
        source: std::io::Error::other(msg.to_string()),
    };
    let md = match fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|source| SeccompError::Io {
                    what: format!("creating cache directory {}", dir.display()),
                    source,
                })?;
            fs::metadata(dir)
        }
        r => r,
    }
    .map_err(|source| SeccompError::Io {
        what: format!("cache directory {}", dir.display()),
        source,
    })?;
    if !md.is_dir() {
        return Err(err("not a directory"));
    }
    if md.uid() != nix::unistd::geteuid().as_raw() {
        return Err(err("owned by another user"));
    }
    if md.mode() & 0o022 != 0 {
        return Err(err("writable by group or others"));
    }
    Ok(())
}

fn u32_at(b: &[u8], off: usize) -> usize {
    u32::from_ne_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]]) as usize
}

/// Reads and checks an entry; any problem (missing, torn, other key) is a miss.
fn read_entry(path: &Path, key: &[u8]) -> Option<Program> {
    let f = File::open(path).ok()?;
    let mut b = Vec::new();
    let limit = (HEADER + MAX_KEY + MAX_INSNS * 8) as u64;
    f.take(limit).read_to_end(&mut b).ok()?;
    if b.len() < HEADER || &b[..8] != MAGIC {
        return None;
    }
    let (flags, notify, klen, n) = (
        u32_at(&b, 8),
        u32_at(&b, 12),
        u32_at(&b, 16),
        u32_at(&b, 20),
    );
    if notify > 1 || n == 0 || n > MAX_INSNS || b.len() != HEADER + klen + n * 8 {
        return None;
    }
    if &b[HEADER..HEADER + klen] != key {
        return None;
    }
    let bpf = bytes_to_insns(&b[HEADER + klen..])?;
    Some(Program {
        bpf,
        flags: flags as u32,
        notify: notify == 1,
    })
}

fn write_entry(dir: &Path, name: &str, key: &[u8], p: &Program) -> std::io::Result<()> {
    if key.len() > MAX_KEY {
        return Ok(()); // absurdly large profile: not cached
    }
    let mut b = Vec::with_capacity(HEADER + key.len() + p.bpf.len() * 8);
    b.extend_from_slice(MAGIC);
    for v in [
        p.flags,
        p.notify as u32,
        key.len() as u32,
        p.bpf.len() as u32,
    ] {
        b.extend_from_slice(&v.to_ne_bytes());
    }
    b.extend_from_slice(key);
    b.extend_from_slice(&insn_bytes(&p.bpf));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!(".{name}.{}.{nanos}.tmp", std::process::id()));
    let res = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(&b))
        .and_then(|()| fs::rename(&tmp, dir.join(name)));
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}
