//! Mount option strings of config.json `mounts[].options` -> mount(2) flags,
//! propagation, recursive attributes (mount_setattr) and the data string.

use libc::c_ulong;

/// Attributes for mount_setattr(2) (linux/mount.h).
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub const MOUNT_ATTR__ATIME: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// Flags to set on mount(2).
    pub flags: c_ulong,
    /// Flags explicitly cleared ("rw", "suid", ...), kept for remounts.
    pub cleared: c_ulong,
    /// Propagation changes, applied in order after the mount.
    pub propagation: Vec<c_ulong>,
    /// Recursive attributes: set and clear masks for mount_setattr.
    pub rec_set: u64,
    pub rec_clr: u64,
    /// Options passed to the filesystem as its data string.
    pub data: String,
    /// `tmpcopyup` (runc's extension): fill a new tmpfs with what it hides.
    pub copy_up: bool,
}

impl Parsed {
    pub fn is_bind(&self) -> bool {
        self.flags & libc::MS_BIND != 0
    }
}

fn flag(opt: &str) -> Option<(bool, c_ulong)> {
    use libc::*;
    Some(match opt {
        "async" => (false, MS_SYNCHRONOUS),
        "atime" => (false, MS_NOATIME),
        "bind" => (true, MS_BIND),
        "defaults" => (true, 0),
        "dev" => (false, MS_NODEV),
        "diratime" => (false, MS_NODIRATIME),
        "dirsync" => (true, MS_DIRSYNC),
        "exec" => (false, MS_NOEXEC),
        "iversion" => (true, MS_I_VERSION),
        "lazytime" => (true, MS_LAZYTIME),
        "loud" => (false, MS_SILENT),
        "mand" => (true, MS_MANDLOCK),
        "noatime" => (true, MS_NOATIME),
        "nodev" => (true, MS_NODEV),
        "nodiratime" => (true, MS_NODIRATIME),
        "noexec" => (true, MS_NOEXEC),
        "noiversion" => (false, MS_I_VERSION),
        "nolazytime" => (false, MS_LAZYTIME),
        "nomand" => (false, MS_MANDLOCK),
        "norelatime" => (false, MS_RELATIME),
        "nostrictatime" => (false, MS_STRICTATIME),
        "nosuid" => (true, MS_NOSUID),
        "nosymfollow" => (true, MS_NOSYMFOLLOW),
        "rbind" => (true, MS_BIND | MS_REC),
        "relatime" => (true, MS_RELATIME),
        "remount" => (true, MS_REMOUNT),
        "ro" => (true, MS_RDONLY),
        "rw" => (false, MS_RDONLY),
        "silent" => (true, MS_SILENT),
        "strictatime" => (true, MS_STRICTATIME),
        "suid" => (false, MS_NOSUID),
        "sync" => (true, MS_SYNCHRONOUS),
        _ => return None,
    })
}

/// Propagation option -> flags (with MS_REC for the r- variants).
pub fn propagation(opt: &str) -> Option<c_ulong> {
    use libc::*;
    Some(match opt {
        "private" => MS_PRIVATE,
        "rprivate" => MS_PRIVATE | MS_REC,
        "shared" => MS_SHARED,
        "rshared" => MS_SHARED | MS_REC,
        "slave" => MS_SLAVE,
        "rslave" => MS_SLAVE | MS_REC,
        "unbindable" => MS_UNBINDABLE,
        "runbindable" => MS_UNBINDABLE | MS_REC,
        _ => return None,
    })
}

/// Recursive attribute -> (set?, attr). Atime attrs also clear the atime field.
fn rec_attr(opt: &str) -> Option<(bool, u64)> {
    Some(match opt {
        "rro" => (true, MOUNT_ATTR_RDONLY),
        "rrw" => (false, MOUNT_ATTR_RDONLY),
        "rnosuid" => (true, MOUNT_ATTR_NOSUID),
        "rsuid" => (false, MOUNT_ATTR_NOSUID),
        "rnodev" => (true, MOUNT_ATTR_NODEV),
        "rdev" => (false, MOUNT_ATTR_NODEV),
        "rnoexec" => (true, MOUNT_ATTR_NOEXEC),
        "rexec" => (false, MOUNT_ATTR_NOEXEC),
        "rnodiratime" => (true, MOUNT_ATTR_NODIRATIME),
        "rdiratime" => (false, MOUNT_ATTR_NODIRATIME),
        "rrelatime" => (true, MOUNT_ATTR_RELATIME),
        "rnorelatime" => (false, MOUNT_ATTR__ATIME),
        "rnoatime" => (true, MOUNT_ATTR_NOATIME),
        "ratime" => (false, MOUNT_ATTR_NOATIME),
        "rstrictatime" => (true, MOUNT_ATTR_STRICTATIME),
        "rnostrictatime" => (false, MOUNT_ATTR_STRICTATIME),
        "rnosymfollow" => (true, MOUNT_ATTR_NOSYMFOLLOW),
        "rsymfollow" => (false, MOUNT_ATTR_NOSYMFOLLOW),
        _ => return None,
    })
}

/// Parse a mount's options. Unsupported ones are errors (named by the caller).
pub fn parse(options: &[String]) -> Result<Parsed, String> {
    let mut p = Parsed::default();
    let mut data: Vec<&str> = Vec::new();
    for o in options {
        let o = o.as_str();
        if let Some((set, f)) = flag(o) {
            if set {
                p.flags |= f;
                p.cleared &= !f;
            } else {
                p.flags &= !f;
                p.cleared |= f;
            }
        } else if let Some(f) = propagation(o) {
            p.propagation.push(f);
        } else if let Some((set, a)) = rec_attr(o) {
            if a & MOUNT_ATTR__ATIME != 0 || a == MOUNT_ATTR_RELATIME {
                // The atime attributes are one field: clear it, then set.
                p.rec_clr |= MOUNT_ATTR__ATIME;
            }
            if set {
                p.rec_set |= a;
            } else {
                p.rec_clr |= a;
            }
        } else if o == "idmap" || o == "ridmap" {
            return Err(format!("option {o:?} is not supported yet"));
        } else if o == "tmpcopyup" {
            p.copy_up = true;
        } else {
            data.push(o);
        }
    }
    p.data = data.join(",");
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn flags_data_and_propagation() {
        let p = parse(&v(&[
            "nosuid",
            "noexec",
            "mode=755",
            "size=65536k",
            "rslave",
        ]))
        .unwrap();
        assert_eq!(p.flags, libc::MS_NOSUID | libc::MS_NOEXEC);
        assert_eq!(p.data, "mode=755,size=65536k");
        assert_eq!(p.propagation, vec![libc::MS_SLAVE | libc::MS_REC]);
        assert!(!p.is_bind());
    }

    #[test]
    fn later_options_win_and_binds() {
        let p = parse(&v(&["ro", "rw", "rbind"])).unwrap();
        assert_eq!(p.flags, libc::MS_BIND | libc::MS_REC);
        assert_eq!(p.cleared, libc::MS_RDONLY);
        assert!(p.is_bind());
    }

    #[test]
    fn recursive_attributes() {
        let p = parse(&v(&["rro", "rnosuid", "rnoatime"])).unwrap();
        assert_eq!(
            p.rec_set,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME
        );
        assert_eq!(p.rec_clr, MOUNT_ATTR__ATIME);
        assert!(parse(&v(&["idmap"])).is_err());
    }
}
