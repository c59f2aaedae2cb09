//! v2 writers, controller enabling, freeze and stats on a fake tree.

use std::fs;

use super::*;
use crate::cgroup::*;

#[test]
fn v2_create_enables_controllers() {
    let f = Fake::new("v2ctl");
    f.put("cgroup.controllers", "cpu io memory pids\n");
    f.put("cgroup.subtree_control", "memory\n");
    let mut cg = open_at(&f.0, OWN, V2_MOUNTINFO, "/a/b", "x").unwrap();
    cg.create().unwrap();
    assert_eq!(f.get("cgroup.subtree_control"), "+cpu +io +pids");
    assert_eq!(cg.v2_dir().unwrap(), f.p("a/b"));
    assert_eq!(cg.paths(), vec![f.p("a/b")]);
    unfake(&*cg);
    cg.destroy().unwrap();
    assert!(!f.p("a").exists());
}

#[test]
fn v2_apply_converts_like_runc() {
    let f = Fake::new("v2apply");
    let mut cg = open_fake(&f, V2_MOUNTINFO, "/c");
    cg.create().unwrap();
    f.files(
        "c",
        &[
            "memory.max",
            "memory.swap.max",
            "memory.low",
            "cpu.weight",
            "cpu.max",
        ],
    );
    f.files(
        "c",
        &[
            "cpu.max.burst",
            "cpu.idle",
            "cpuset.cpus",
            "cpuset.mems",
            "pids.max",
        ],
    );
    f.files(
        "c",
        &[
            "io.weight",
            "io.max",
            "hugetlb.2MB.max",
            "rdma.max",
            "memory.high",
        ],
    );
    let mut full: serde_json::Value = serde_json::from_str(FULL).unwrap();
    full["cpu"]
        .as_object_mut()
        .unwrap()
        .remove("realtimeRuntime");
    full["cpu"]
        .as_object_mut()
        .unwrap()
        .remove("realtimePeriod");
    full["pids"]["limit"] = 10.into();
    full["unified"] = serde_json::json!({"memory.high": "7000000"});
    // Device rules become an eBPF program, which needs a real cgroup2 dir
    // (tests/cgroup_v2_real.rs); a fake one is refused before anything else.
    let devices = full.as_object_mut().unwrap().remove("devices").unwrap();
    let err = cg
        .apply(&serde_json::from_value(serde_json::json!({"devices": devices})).unwrap())
        .unwrap_err();
    assert!(matches!(err, CgroupError::Unsupported(_)), "{err}");
    assert!(err.to_string().contains("cgroup2"), "{err}");
    cg.apply(&serde_json::from_value(full).unwrap()).unwrap();
    let expect = [
        ("c/memory.max", "8388608"),
        ("c/memory.swap.max", "8388608"),
        ("c/memory.low", "4194304"),
        ("c/cpu.weight", "20"),
        ("c/cpu.max", "50000 100000"),
        ("c/cpu.max.burst", "1000"),
        ("c/cpu.idle", "0"),
        ("c/cpuset.cpus", "0-1"),
        ("c/cpuset.mems", "0"),
        ("c/pids.max", "10"),
        ("c/io.weight", "8:0 5960"),
        ("c/io.max", "8:0 wiops=max"),
        ("c/hugetlb.2MB.max", "209715200"),
        ("c/rdma.max", "mlx5_1 hca_handle=3 hca_object=10000"),
        ("c/memory.high", "7000000"),
    ];
    for (file, want) in expect {
        assert_eq!(f.get(file), want, "{file}");
    }
    cg.apply(&res(r#"{"blockIO": {"weight": 1000}}"#)).unwrap();
    assert_eq!(f.get("c/io.weight"), "10000");
    let err = cg
        .apply(&res(r#"{"cpu": {"realtimeRuntime": 5}}"#))
        .unwrap_err();
    assert!(matches!(err, CgroupError::Unsupported(_)), "{err}");
    let err = cg
        .apply(&res(r#"{"unified": {"nope.file": "1"}}"#))
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"nope.file\""), "{err}");
    let err = cg
        .apply(&res(r#"{"devices": [{"allow": true, "access": "x"}]}"#))
        .unwrap_err();
    assert!(matches!(err, CgroupError::Invalid(_)), "{err}");
    unfake(&*cg);
    cg.destroy().unwrap();
}

#[test]
fn v2_freeze_thaw_and_kill() {
    let f = Fake::new("v2freeze");
    let mut cg = open_fake(&f, V2_MOUNTINFO, "/c");
    cg.create().unwrap();
    f.put("c/cgroup.freeze", "0\n");
    f.put("c/cgroup.events", "populated 1\nfrozen 1\n");
    cg.freeze().unwrap();
    assert_eq!(f.get("c/cgroup.freeze"), "1");
    assert!(cg.is_frozen().unwrap());
    f.put("c/cgroup.events", "populated 1\nfrozen 0\n");
    cg.thaw().unwrap();
    assert_eq!(f.get("c/cgroup.freeze"), "0");
    assert!(!cg.is_frozen().unwrap());
    f.put("c/cgroup.kill", "");
    cg.kill_all(libc::SIGKILL).unwrap();
    assert_eq!(f.get("c/cgroup.kill"), "1");
    f.put("c/cgroup.procs", "5\n6\n");
    f.put("c/x/cgroup.procs", "7\n");
    assert_eq!(cg.pids().unwrap(), vec![5, 6, 7]);
    fs::remove_dir_all(f.p("c/x")).unwrap();
    unfake(&*cg);
    cg.destroy().unwrap();
    assert!(!f.p("c").exists());
}

#[test]
fn v2_stats_shape() {
    let f = Fake::new("v2stats");
    let cg = open_fake(&f, V2_MOUNTINFO, "/c");
    f.put("c/cpu.stat", "usage_usec 5\nuser_usec 3\nsystem_usec 2\nnr_periods 1\nnr_throttled 1\nthrottled_usec 7\n");
    f.put("c/memory.current", "100\n");
    f.put("c/memory.max", "max\n");
    f.put("c/memory.swap.current", "10\n");
    f.put("c/memory.swap.max", "max\n");
    f.put(
        "c/memory.events",
        "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n",
    );
    f.put("c/memory.stat", "anon 50\nfile 40\n");
    f.put("c/pids.current", "3\n");
    f.put("c/pids.max", "20\n");
    f.put(
        "c/io.stat",
        "8:16 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n",
    );
    f.put("c/cpuset.cpus.effective", "0-1\n");
    let s = cg.stats().unwrap();
    assert_eq!(
        s["cpu"]["usage"],
        serde_json::json!({"total": 5000, "user": 3000, "kernel": 2000})
    );
    assert_eq!(s["cpu"]["throttling"]["throttledTime"], 7000);
    assert_eq!(
        s["memory"]["usage"],
        serde_json::json!({"limit": u64::MAX, "usage": 100, "failcnt": 2})
    );
    assert_eq!(s["memory"]["swap"]["usage"], 110);
    assert_eq!(s["memory"]["swap"]["limit"], u64::MAX);
    assert_eq!(s["memory"]["cache"], 40);
    assert_eq!(
        s["memory"]["event_count"],
        serde_json::json!({"max": 2, "oom": 1, "oom_kill": 1})
    );
    assert_eq!(s["pids"], serde_json::json!({"current": 3, "limit": 20}));
    assert_eq!(s["cpuset"]["cpus"], serde_json::json!([0, 1]));
    assert_eq!(
        s["blkio"]["ioServicedRecursive"][1],
        serde_json::json!({"major": 8, "minor": 16, "op": "Write", "value": 4})
    );
}
