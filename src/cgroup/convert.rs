//! Pure conversions from OCI resource values to cgroup file contents.
//! Version-specific helpers are prefixed (`v2_...`); nothing here touches the filesystem.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxRdma};

use super::{CgroupError, Result};

/// pids.max: a positive limit is written as-is; 0 or negative means unlimited ("max"), like runc.
pub fn pids_max(limit: i64) -> String {
    if limit > 0 {
        limit.to_string()
    } else {
        "max".to_string()
    }
}

/// A device-cgroup rule line, e.g. "c 1:3 rwm" or "a *:* rwm" (also validates the rule).
pub fn device_rule(d: &LinuxDeviceCgroup) -> Result<String> {
    let typ = match d.typ().unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::A => 'a',
        LinuxDeviceType::B => 'b',
        LinuxDeviceType::C | LinuxDeviceType::U => 'c',
        LinuxDeviceType::P => {
            return Err(CgroupError::Invalid(
                "device rule of type \"p\" (fifo) cannot be expressed in the device cgroup".into(),
            ))
        }
    };
    let num = |n: Option<i64>| match n {
        Some(n) if n >= 0 => n.to_string(),
        _ => "*".to_string(),
    };
    let access = d.access().as_deref().unwrap_or("rwm");
    let mut seen = String::new();
    for c in access.chars() {
        if !"rwm".contains(c) || seen.contains(c) {
            return Err(CgroupError::Invalid(format!(
                "device rule access {access:?}: want a subset of \"rwm\""
            )));
        }
        seen.push(c);
    }
    if seen.is_empty() {
        return Err(CgroupError::Invalid("device rule has empty access".into()));
    }
    Ok(format!(
        "{typ} {}:{} {access}",
        num(d.major()),
        num(d.minor())
    ))
}

/// An rdma.max line ("mlx4_0 hca_handle=2 hca_object=2000"), or None if nothing is limited.
pub fn rdma_line(device: &str, r: &LinuxRdma) -> Result<Option<String>> {
    if device.is_empty() || device.contains(|c: char| c.is_whitespace() || c == '/') {
        return Err(CgroupError::Invalid(format!(
            "invalid rdma device name {device:?}"
        )));
    }
    let mut line = device.to_string();
    if let Some(h) = r.hca_handles() {
        line += &format!(" hca_handle={h}");
    }
    if let Some(o) = r.hca_objects() {
        line += &format!(" hca_object={o}");
    }
    Ok((line.len() > device.len()).then_some(line))
}

/// Hugepage sizes as the kernel names them in hugetlb.<size>.* files: "2MB", "1GB", "64KB".
pub fn check_page_size(size: &str) -> Result<()> {
    let digits = size.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &size[digits.len()..];
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || !["KB", "MB", "GB"].contains(&unit)
    {
        return Err(CgroupError::Invalid(format!(
            "invalid hugepage size {size:?} (want e.g. \"2MB\")"
        )));
    }
    Ok(())
}

/// A key of linux.resources.unified must be a plain file name in the cgroup dir.
pub fn check_unified_key(key: &str) -> Result<()> {
    if key.is_empty() || key.contains('/') || key.starts_with('.') || !key.contains('.') {
        return Err(CgroupError::Invalid(format!(
            "invalid unified resource key {key:?}"
        )));
    }
    Ok(())
}

/// A "maj:min value" line as used by blkio.*_device and io.* files.
pub fn dev_line(major: i64, minor: i64, value: impl std::fmt::Display) -> String {
    format!("{major}:{minor} {value}")
}

/// cpu.shares (v1, 2..262144) to cpu.weight (v2, 1..10000), runc's formula.
pub fn v2_cpu_weight(shares: u64) -> u64 {
    let s = shares.clamp(2, 262_144);
    1 + ((s - 2) * 9999) / 262_142
}

/// blkio.weight (v1, 10..1000) to io.weight (v2, 1..10000), runc's formula.
pub fn v2_io_weight(weight: u64) -> u64 {
    let w = weight.clamp(10, 1000);
    1 + ((w - 10) * 9999) / 990
}

/// A v2 byte limit: negative means "max".
pub fn v2_limit(v: i64) -> String {
    if v < 0 {
        "max".to_string()
    } else {
        v.to_string()
    }
}

/// memory.swap.max from OCI's memory+swap total `swap` and the memory `limit`
/// (runc semantics): None leaves it unchanged (swap == 0).
pub fn v2_swap_max(swap: i64, limit: Option<i64>) -> Result<Option<String>> {
    match (swap, limit.unwrap_or(0)) {
        (0, _) => Ok(None),
        (s, _) if s < 0 => Ok(Some("max".into())),
        (_, l) if l <= 0 => Err(CgroupError::Invalid(
            "memory.swap needs a memory.limit on cgroup v2".into(),
        )),
        (s, l) if s < l => Err(CgroupError::Invalid(format!(
            "memory.swap {s} (memory+swap) must be >= memory.limit {l}"
        ))),
        (s, l) => Ok(Some((s - l).to_string())),
    }
}

/// cpu.max "quota period" ("max" for no quota); None if neither is set.
pub fn v2_cpu_max(quota: Option<i64>, period: Option<u64>) -> Option<String> {
    let quota = quota.filter(|q| *q != 0);
    let period = period.filter(|p| *p != 0);
    if quota.is_none() && period.is_none() {
        return None;
    }
    let mut s = match quota {
        Some(q) if q > 0 => q.to_string(),
        _ => "max".to_string(),
    };
    if let Some(p) = period {
        s += &format!(" {p}");
    }
    Some(s)
}

/// Parse a cpuset list ("0-3,8,10-11") into its members.
pub fn parse_cpuset_list(s: &str) -> Option<Vec<u16>> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => out.extend(a.parse::<u16>().ok()?..=b.parse::<u16>().ok()?),
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(json: &str) -> LinuxDeviceCgroup {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn pids() {
        assert_eq!(pids_max(10), "10");
        assert_eq!(pids_max(0), "max");
        assert_eq!(pids_max(-1), "max");
    }

    #[test]
    fn devices() {
        assert_eq!(
            device_rule(&dev(r#"{"allow":false,"access":"rwm"}"#)).unwrap(),
            "a *:* rwm"
        );
        let d = dev(r#"{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}"#);
        assert_eq!(device_rule(&d).unwrap(), "c 1:3 rw");
        let d = dev(r#"{"allow":true,"type":"b","major":8,"minor":-1}"#);
        assert_eq!(device_rule(&d).unwrap(), "b 8:* rwm");
        assert_eq!(
            device_rule(&dev(r#"{"allow":true,"type":"u","major":5}"#)).unwrap(),
            "c 5:* rwm"
        );
        assert!(device_rule(&dev(r#"{"allow":true,"access":"rwx"}"#)).is_err());
        assert!(device_rule(&dev(r#"{"allow":true,"access":"rr"}"#)).is_err());
        assert!(device_rule(&dev(r#"{"allow":true,"access":""}"#)).is_err());
        assert!(device_rule(&dev(r#"{"allow":true,"type":"p"}"#)).is_err());
    }

    #[test]
    fn rdma() {
        let r: LinuxRdma = serde_json::from_str(r#"{"hcaHandles":3,"hcaObjects":10000}"#).unwrap();
        assert_eq!(
            rdma_line("mlx5_1", &r).unwrap().unwrap(),
            "mlx5_1 hca_handle=3 hca_object=10000"
        );
        let r: LinuxRdma = serde_json::from_str(r#"{"hcaObjects":7}"#).unwrap();
        assert_eq!(rdma_line("m", &r).unwrap().unwrap(), "m hca_object=7");
        assert_eq!(rdma_line("m", &LinuxRdma::default()).unwrap(), None);
        assert!(rdma_line("a b", &r).is_err());
    }

    #[test]
    fn names() {
        for ok in ["2MB", "1GB", "64KB"] {
            check_page_size(ok).unwrap();
        }
        for bad in ["", "MB", "2", "2TB", "../2MB", "2MB/x", "2mb"] {
            assert!(check_page_size(bad).is_err(), "{bad}");
        }
        check_unified_key("memory.high").unwrap();
        for bad in ["", "../memory.max", "a/b.c", ".x", "nodot"] {
            assert!(check_unified_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cpu_weight() {
        assert_eq!(v2_cpu_weight(2), 1);
        assert_eq!(v2_cpu_weight(1024), 39);
        assert_eq!(v2_cpu_weight(512), 20);
        assert_eq!(v2_cpu_weight(262_144), 10_000);
        assert_eq!(v2_cpu_weight(1), 1);
        assert_eq!(v2_cpu_weight(u64::MAX), 10_000);
    }

    #[test]
    fn io_weight() {
        assert_eq!(v2_io_weight(10), 1);
        assert_eq!(v2_io_weight(500), 4950);
        assert_eq!(v2_io_weight(1000), 10_000);
        assert_eq!(v2_io_weight(1), 1);
    }

    #[test]
    fn swap() {
        assert_eq!(v2_swap_max(0, Some(100)).unwrap(), None);
        assert_eq!(v2_swap_max(-1, None).unwrap().unwrap(), "max");
        assert_eq!(v2_swap_max(300, Some(100)).unwrap().unwrap(), "200");
        assert_eq!(v2_swap_max(100, Some(100)).unwrap().unwrap(), "0");
        assert!(v2_swap_max(50, Some(100)).is_err());
        assert!(v2_swap_max(50, None).is_err());
        assert!(v2_swap_max(50, Some(-1)).is_err());
        assert_eq!(v2_limit(-1), "max");
        assert_eq!(v2_limit(4096), "4096");
    }

    #[test]
    fn cpu_max() {
        assert_eq!(v2_cpu_max(None, None), None);
        assert_eq!(v2_cpu_max(Some(0), Some(0)), None);
        assert_eq!(
            v2_cpu_max(Some(50_000), Some(100_000)).unwrap(),
            "50000 100000"
        );
        assert_eq!(v2_cpu_max(Some(-1), Some(100_000)).unwrap(), "max 100000");
        assert_eq!(v2_cpu_max(None, Some(20_000)).unwrap(), "max 20000");
        assert_eq!(v2_cpu_max(Some(30_000), None).unwrap(), "30000");
    }

    #[test]
    fn cpuset_list() {
        assert_eq!(parse_cpuset_list("0-3,8\n").unwrap(), vec![0, 1, 2, 3, 8]);
        assert_eq!(parse_cpuset_list("").unwrap(), Vec::<u16>::new());
        assert_eq!(parse_cpuset_list("x"), None);
    }
}
