//! v1 / hybrid writers, tasks, freezer and stats on a fake tree.

use std::fs;

use super::*;
use crate::cgroup::*;

#[test]
fn v1_apply_writes_every_resource() {
    let f = Fake::new("v1apply");
    let mut cg = open_fake(&f, V1_LINES, "/c");
    cg.create().unwrap();
    f.files("devices/c", &["devices.allow", "devices.deny"]);
    f.files(
        "memory/c",
        &[
            "memory.memsw.limit_in_bytes",
            "memory.soft_limit_in_bytes",
            "memory.swappiness",
        ],
    );
    f.files("memory/c", &["memory.oom_control", "memory.use_hierarchy"]);
    f.put("memory/c/memory.limit_in_bytes", "9223372036854771712\n");
    f.files(
        "cpu,cpuacct/c",
        &[
            "cpu.shares",
            "cpu.cfs_period_us",
            "cpu.cfs_quota_us",
            "cpu.cfs_burst_us",
        ],
    );
    f.files(
        "cpu,cpuacct/c",
        &["cpu.rt_period_us", "cpu.rt_runtime_us", "cpu.idle"],
    );
    f.files("cpuset/c", &["cpuset.cpus", "cpuset.mems"]);
    f.files("pids/c", &["pids.max"]);
    f.files(
        "blkio/c",
        &[
            "blkio.weight",
            "blkio.leaf_weight",
            "blkio.weight_device",
            "blkio.leaf_weight_device",
        ],
    );
    f.files(
        "blkio/c",
        &[
            "blkio.throttle.read_bps_device",
            "blkio.throttle.write_bps_device",
        ],
    );
    f.files(
        "blkio/c",
        &[
            "blkio.throttle.read_iops_device",
            "blkio.throttle.write_iops_device",
        ],
    );
    f.files("hugetlb/c", &["hugetlb.2MB.limit_in_bytes"]);
    f.files(
        "net_cls,net_prio/c",
        &["net_cls.classid", "net_prio.ifpriomap"],
    );
    f.files("rdma/c", &["rdma.max"]);
    cg.apply(&res(FULL)).unwrap();
    let expect = [
        ("devices/c/devices.deny", "a *:* rwm"),
        ("devices/c/devices.allow", "c 1:3 rwm"),
        ("memory/c/memory.limit_in_bytes", "8388608"),
        ("memory/c/memory.memsw.limit_in_bytes", "16777216"),
        ("memory/c/memory.soft_limit_in_bytes", "4194304"),
        ("memory/c/memory.swappiness", "10"),
        ("memory/c/memory.oom_control", "1"),
        ("memory/c/memory.use_hierarchy", "1"),
        ("cpu,cpuacct/c/cpu.shares", "512"),
        ("cpu,cpuacct/c/cpu.cfs_period_us", "100000"),
        ("cpu,cpuacct/c/cpu.cfs_quota_us", "50000"),
        ("cpu,cpuacct/c/cpu.cfs_burst_us", "1000"),
        ("cpu,cpuacct/c/cpu.rt_period_us", "1000"),
        ("cpu,cpuacct/c/cpu.rt_runtime_us", "950"),
        ("cpu,cpuacct/c/cpu.idle", "0"),
        ("cpuset/c/cpuset.cpus", "0-1"),
        ("cpuset/c/cpuset.mems", "0"),
        ("pids/c/pids.max", "max"),
        ("blkio/c/blkio.weight", "500"),
        ("blkio/c/blkio.leaf_weight", "300"),
        ("blkio/c/blkio.weight_device", "8:0 600"),
        ("blkio/c/blkio.leaf_weight_device", "8:0 200"),
        ("blkio/c/blkio.throttle.read_bps_device", "8:0 1048576"),
        ("blkio/c/blkio.throttle.write_bps_device", "8:0 2097152"),
        ("blkio/c/blkio.throttle.read_iops_device", "8:0 100"),
        ("blkio/c/blkio.throttle.write_iops_device", "8:0 0"),
        ("hugetlb/c/hugetlb.2MB.limit_in_bytes", "209715200"),
        ("net_cls,net_prio/c/net_cls.classid", "1048577"),
        ("net_cls,net_prio/c/net_prio.ifpriomap", "eth0 5"),
        ("rdma/c/rdma.max", "mlx5_1 hca_handle=3 hca_object=10000"),
    ];
    for (file, want) in expect {
        assert_eq!(f.get(file), want, "{file}");
    }
    // Unified keys need cgroup v2: the error names the key.
    let err = cg
        .apply(&res(r#"{"unified": {"memory.high": "1"}}"#))
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"memory.high\""), "{err}");
    unfake(&*cg);
    cg.destroy().unwrap();
}

#[test]
fn v1_errors_name_file_and_value() {
    let f = Fake::new("v1err");
    let mut cg = hybrid(&f, "/c");
    cg.create().unwrap();
    let err = cg
        .apply(&res(r#"{"cpu": {"shares": 512}}"#))
        .unwrap_err()
        .to_string();
    let want = format!(
        "write 512 to {}: No such file or directory",
        f.p("cpu,cpuacct/c/cpu.shares").display()
    );
    assert_eq!(err, want);
    // swap below the memory limit is rejected before writing.
    let err = cg
        .apply(&res(r#"{"memory": {"limit": 200, "swap": 100}}"#))
        .unwrap_err();
    assert!(matches!(err, CgroupError::Invalid(_)), "{err}");
    // swap without swap accounting (no memsw file).
    f.files("memory/c", &["memory.limit_in_bytes"]);
    let err = cg
        .apply(&res(r#"{"memory": {"limit": 100, "swap": 200}}"#))
        .unwrap_err();
    assert!(
        err.to_string().contains("memory.memsw.limit_in_bytes"),
        "{err}"
    );
    // ... but unlimited swap is fine.
    cg.apply(&res(r#"{"memory": {"limit": -1}}"#)).unwrap();
    assert_eq!(f.get("memory/c/memory.limit_in_bytes"), "-1");
    // Unsupported controller and invalid names.
    let err = cg
        .apply(&res(
            r#"{"hugepageLimits": [{"pageSize": "../x", "limit": 1}]}"#,
        ))
        .unwrap_err();
    assert!(matches!(err, CgroupError::Invalid(_)), "{err}");
    unfake(&*cg);
    cg.destroy().unwrap();
}

#[test]
fn v1_add_task_freeze_pids_kill() {
    let f = Fake::new("v1tasks");
    let mut cg = hybrid(&f, "/c");
    cg.create().unwrap();
    for p in cg.paths() {
        fs::write(p.join("cgroup.procs"), "").unwrap();
    }
    cg.add_task(4242).unwrap();
    assert_eq!(f.get("memory/c/cgroup.procs"), "4242");
    assert_eq!(f.get("unified/c/cgroup.procs"), "4242");
    f.put("pids/c/sub/cgroup.procs", "77\n");
    assert_eq!(cg.pids().unwrap(), vec![77, 4242]);
    f.put("freezer/c/freezer.state", "THAWED\n");
    assert!(!cg.is_frozen().unwrap());
    cg.freeze().unwrap();
    assert!(cg.is_frozen().unwrap());
    // A task that joined a frozen cgroup makes it FREEZING: still paused.
    f.put("freezer/c/freezer.state", "FREEZING\n");
    assert!(cg.is_frozen().unwrap());
    cg.thaw().unwrap();
    assert_eq!(f.get("freezer/c/freezer.state"), "THAWED");
    // No pids left: nothing to do, freezer is thawed afterwards.
    for p in cg.paths() {
        fs::write(p.join("cgroup.procs"), "").unwrap();
    }
    let _ = fs::remove_dir_all(f.p("pids/c/sub"));
    cg.kill_all(libc::SIGCONT).unwrap();
    assert_eq!(f.get("freezer/c/freezer.state"), "THAWED");
    assert!(cg.kill_all(9999).is_err());
    unfake(&*cg);
    cg.destroy().unwrap();
    assert!(!f.p("freezer/c").exists());
}

#[test]
fn v1_stats_shape() {
    let f = Fake::new("v1stats");
    let cg = open_fake(&f, V1_LINES, "/c");
    f.put("cpu,cpuacct/c/cpuacct.usage", "3000\n");
    f.put("cpu,cpuacct/c/cpuacct.usage_percpu", "1000 2000 \n");
    f.put("cpu,cpuacct/c/cpuacct.stat", "user 2\nsystem 1\n");
    f.put(
        "cpu,cpuacct/c/cpu.stat",
        "nr_periods 4\nnr_throttled 1\nthrottled_time 55\n",
    );
    f.put("memory/c/memory.usage_in_bytes", "4096\n");
    f.put("memory/c/memory.limit_in_bytes", "8388608\n");
    f.put("memory/c/memory.max_usage_in_bytes", "8192\n");
    f.put("memory/c/memory.failcnt", "0\n");
    f.put("memory/c/memory.stat", "cache 12\nrss 34\n");
    f.put("pids/c/pids.current", "2\n");
    f.put("pids/c/pids.max", "max\n");
    f.put(
        "blkio/c/blkio.throttle.io_service_bytes_recursive",
        "8:0 Read 10\n8:0 Write 20\nTotal 30\n",
    );
    f.put("hugetlb/c/hugetlb.2MB.limit_in_bytes", "0\n");
    f.put("hugetlb/c/hugetlb.2MB.usage_in_bytes", "0\n");
    f.put("hugetlb/c/hugetlb.2MB.failcnt", "3\n");
    f.put("hugetlb/c/hugetlb.2MB.rsvd.limit_in_bytes", "0\n");
    let s = cg.stats().unwrap();
    assert_eq!(s["cpu"]["usage"]["total"], 3000);
    assert_eq!(s["cpu"]["usage"]["percpu"], serde_json::json!([1000, 2000]));
    assert_eq!(s["cpu"]["usage"]["user"], 20_000_000);
    assert_eq!(s["cpu"]["usage"]["kernel"], 10_000_000);
    assert_eq!(
        s["cpu"]["throttling"],
        serde_json::json!({"periods": 4, "throttledPeriods": 1, "throttledTime": 55})
    );
    assert_eq!(
        s["memory"]["usage"],
        serde_json::json!({"limit": 8388608, "usage": 4096, "max": 8192, "failcnt": 0})
    );
    assert_eq!(s["memory"]["cache"], 12);
    assert_eq!(s["memory"]["raw"]["rss"], 34);
    assert_eq!(
        s["memory"]["swap"],
        serde_json::json!({"limit": 0, "failcnt": 0})
    );
    assert_eq!(s["pids"], serde_json::json!({"current": 2}));
    assert_eq!(
        s["blkio"]["ioServiceBytesRecursive"],
        serde_json::json!([{"major": 8, "op": "Read", "value": 10}, {"major": 8, "op": "Write", "value": 20}])
    );
    assert_eq!(s["hugetlb"], serde_json::json!({"2MB": {"failcnt": 3}}));
    assert!(s["network_interfaces"].is_null());
}
