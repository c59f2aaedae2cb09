//! Cgroup resources and the commands on them (pause, resume, update, events,
//! ps, kill --all, delete), checked against the live v1 cgroup files.

mod common;
use common::{alive, read, Env};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Create container `id` from `config` (its init waits for `start`).
fn create(e: &Env, config: Value, id: &str) {
    e.write(config, id);
    let b = e.bundle();
    e.husk(&["create", "--bundle", b.to_str().unwrap(), id])
        .ok();
}

/// Poll `cond` for up to 20 s; panic with `what` if it never holds.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(20) {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}

fn procs(e: &Env, id: &str) -> Vec<i64> {
    let mut p: Vec<i64> = read(&e.cgroup_dir("pids", id).join("cgroup.procs"))
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    p.sort();
    p
}

fn res(c: &mut Value) -> &mut Value {
    &mut c["linux"]["resources"]
}

#[test]
fn resources_are_written_to_the_v1_files() {
    let e = Env::new("cgres");
    let mut c = e.config(&["sleep", "60"]);
    let r = res(&mut c);
    r["memory"] = json!({"limit": 64 << 20, "swap": 128 << 20, "reservation": 32 << 20});
    r["cpu"] = json!({"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"});
    r["pids"] = json!({"limit": 50});
    r["devices"]
        .as_array_mut()
        .unwrap()
        .push(json!({"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rwm"}));
    // /dev/vda (254:0) on the test machine; any block device will do.
    let blk = Path::new("/sys/dev/block/254:0").exists();
    if blk {
        r["blockIO"] =
            json!({"throttleReadBpsDevice": [{"major": 254, "minor": 0, "rate": 1048576}]});
    }
    create(&e, c, "r1");
    let mem = e.cgroup_dir("memory", "r1");
    assert_eq!(read(&mem.join("memory.limit_in_bytes")), "67108864");
    assert_eq!(read(&mem.join("memory.memsw.limit_in_bytes")), "134217728");
    assert_eq!(read(&mem.join("memory.soft_limit_in_bytes")), "33554432");
    let cpu = e.cgroup_dir("cpu", "r1");
    assert_eq!(read(&cpu.join("cpu.shares")), "512");
    assert_eq!(read(&cpu.join("cpu.cfs_quota_us")), "50000");
    assert_eq!(read(&cpu.join("cpu.cfs_period_us")), "100000");
    assert_eq!(read(&e.cgroup_dir("cpuset", "r1").join("cpuset.cpus")), "0");
    assert_eq!(read(&e.cgroup_dir("pids", "r1").join("pids.max")), "50");
    let devs = read(&e.cgroup_dir("devices", "r1").join("devices.list"));
    assert!(devs.lines().any(|l| l == "c 10:229 rwm"), "{devs}");
    assert!(devs.lines().any(|l| l == "c 1:3 rwm"), "{devs}");
    assert!(!devs.contains("a *:* rwm"), "{devs}");
    if blk {
        let t = read(
            &e.cgroup_dir("blkio", "r1")
                .join("blkio.throttle.read_bps_device"),
        );
        assert_eq!(t, "254:0 1048576");
    }
    // The init is in every hierarchy.
    let pid = e.state("r1")["pid"].as_i64().unwrap();
    assert_eq!(procs(&e, "r1"), vec![pid]);
    e.husk(&["delete", "r1"]).ok();
    assert!(
        e.cgroup_leftovers().is_empty(),
        "{:?}",
        e.cgroup_leftovers()
    );
}

#[test]
fn oom_kill_at_the_memory_limit() {
    let e = Env::new("cgoom");
    let mut c = e.config(&[
        "sh",
        "-c",
        "a=$(head -c 20000000 /dev/zero | tr '\\000' x); echo survived",
    ]);
    res(&mut c)["memory"] = json!({"limit": 8 << 20, "swap": 8 << 20});
    e.write(c, "o1");
    let b = e.bundle();
    let o = e.husk(&["run", "--keep", "--bundle", b.to_str().unwrap(), "o1"]);
    assert_eq!(o.code, 137, "{} {}", o.stdout, o.stderr);
    assert!(!o.stdout.contains("survived"));
    let oom = read(&e.cgroup_dir("memory", "o1").join("memory.oom_control"));
    // At least one kill (the shell's pipeline may lose more than one process).
    let kills = oom
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|n| n.parse::<u64>().ok());
    assert!(kills.is_some_and(|n| n >= 1), "{oom}");
    e.husk(&["delete", "o1"]).ok();
}

#[test]
fn events_reports_an_oom_kill_and_ends_with_the_container() {
    let e = Env::new("cgoomev");
    let mut c = e.config(&[
        "sh",
        "-c",
        "a=$(head -c 20000000 /dev/zero | tr '\\000' x); echo survived",
    ]);
    res(&mut c)["memory"] = json!({"limit": 8 << 20, "swap": 8 << 20});
    create(&e, c, "o2");
    let mut ev = e
        .cmd(&["events", "--interval", "100ms", "o2"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(ev.stdout.take().unwrap()).lines();
    // The first stats event means the OOM notification is registered.
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["type"], "stats");
    assert_eq!(first["id"], "o2");
    e.husk(&["start", "o2"]).ok();
    // events exits once the container's init has died.
    let rest: Vec<Value> = lines
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    assert!(ev.wait().unwrap().success());
    assert!(
        rest.contains(&json!({"type": "oom", "id": "o2"})),
        "{rest:?}"
    );
    assert_eq!(e.status("o2"), "stopped");
    e.husk(&["delete", "o2"]).ok();
}

#[test]
fn fork_fails_at_pids_max() {
    let e = Env::new("cgpids");
    let mut c = e.config(&["sh", "-c", "sleep 1 & sleep 1 & sleep 1 & wait"]);
    res(&mut c)["pids"] = json!({"limit": 3});
    let o = e.run(c, "p1");
    assert!(o.stderr.contains("can't fork"), "{} {}", o.code, o.stderr);
}

#[test]
fn tiny_limits_still_run_true() {
    let e = Env::new("cgtiny");
    let mut c = e.config(&["true"]);
    res(&mut c)["memory"] = json!({"limit": 1 << 20});
    let o = e.run(c, "t1");
    assert_eq!(o.code, 0, "{}", o.stderr);
    let mut c = e.config(&["true"]);
    res(&mut c)["pids"] = json!({"limit": 1});
    let o = e.run(c, "t2");
    assert_eq!(o.code, 0, "{}", o.stderr);
}

#[test]
fn pause_and_resume() {
    let e = Env::new("cgpause");
    let data = e.dir.join("data");
    std::fs::create_dir(&data).unwrap();
    let mut c = e.config(&[
        "sh",
        "-c",
        "i=0; while :; do i=$((i+1)); echo $i >> /tmp/count; sleep 0.1; done",
    ]);
    c["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/tmp", "type": "bind", "source": data, "options": ["rbind", "rw"]
    }));
    let count = data.join("count");
    let len = || std::fs::metadata(&count).map(|m| m.len()).unwrap_or(0);
    create(&e, c, "pz");
    // Resuming a container that is not paused fails.
    let o = e.husk(&["resume", "pz"]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("container not paused"), "{}", o.stderr);
    e.husk(&["start", "pz"]).ok();
    wait_for("the counter file to grow", || len() > 0);

    e.husk(&["pause", "pz"]).ok();
    assert_eq!(e.status("pz"), "paused");
    let freezer = e.cgroup_dir("freezer", "pz").join("freezer.state");
    assert_eq!(read(&freezer), "FROZEN");
    let before = len();
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(len(), before, "the file grew while paused");
    let o = e.husk(&["pause", "pz"]);
    assert_ne!(o.code, 0, "pausing a paused container must fail");
    assert!(o.stderr.contains("container not running"), "{}", o.stderr);

    e.husk(&["resume", "pz"]).ok();
    assert_eq!(e.status("pz"), "running");
    assert_eq!(read(&freezer), "THAWED");
    wait_for("the counter file to grow again", || len() > before);
    let o = e.husk(&["resume", "pz"]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("container not paused"), "{}", o.stderr);

    // A paused container can still be force-deleted.
    e.husk(&["pause", "pz"]).ok();
    let pid = e.state("pz")["pid"].as_i64().unwrap();
    e.husk(&["delete", "--force", "pz"]).ok();
    assert!(!alive(pid));
    assert!(
        e.cgroup_leftovers().is_empty(),
        "{:?}",
        e.cgroup_leftovers()
    );
}

#[test]
fn pause_of_a_stopped_container_fails() {
    let e = Env::new("cgpstop");
    create(&e, e.config(&["true"]), "ps1");
    e.husk(&["start", "ps1"]).ok();
    wait_for("ps1 to stop", || e.status("ps1") == "stopped");
    let o = e.husk(&["pause", "ps1"]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("container not running"), "{}", o.stderr);
    let o = e.husk(&["resume", "ps1"]);
    assert!(o.stderr.contains("container not paused"), "{}", o.stderr);
    let o = e.husk(&["update", "--memory", "64M", "ps1"]);
    assert!(o.stderr.contains("container not running"), "{}", o.stderr);
    let o = e.husk(&["events", "--stats", "ps1"]);
    assert!(o.stderr.contains("is not running"), "{}", o.stderr);
    let o = e.husk(&["pause", "nope"]);
    assert!(o.stderr.contains("does not exist"), "{}", o.stderr);
    e.husk(&["delete", "ps1"]).ok();
}

fn stored_resources(e: &Env, id: &str) -> Value {
    let st: Value =
        serde_json::from_slice(&std::fs::read(e.root.join(id).join("state.json")).unwrap())
            .unwrap();
    st["config"]["linux"]["resources"].clone()
}

#[test]
fn update_changes_the_live_cgroup_and_the_state() {
    let e = Env::new("cgupd");
    let mut c = e.config(&["sleep", "60"]);
    res(&mut c)["memory"] = json!({"limit": 32 << 20});
    res(&mut c)["cpu"] = json!({"shares": 512});
    e.run_detached(c, "u1");
    let mem = e.cgroup_dir("memory", "u1").join("memory.limit_in_bytes");
    let shares = e.cgroup_dir("cpu", "u1").join("cpu.shares");
    assert_eq!(read(&mem), (32u64 << 20).to_string());

    e.husk(&["update", "--memory", "64M", "u1"]).ok();
    assert_eq!(read(&mem), (64u64 << 20).to_string());
    let r = stored_resources(&e, "u1");
    assert_eq!(r["memory"]["limit"], json!(64 << 20));
    assert_eq!(r["cpu"]["shares"], 512, "unchanged values are kept: {r}");

    let flags = [
        "update",
        "--cpu-share",
        "300",
        "--cpu-period",
        "100000",
        "--cpu-quota",
        "20000",
        "--pids-limit",
        "30",
        "--memory-swap",
        "128m",
        "--memory-reservation",
        "16MiB",
        "u1",
    ];
    e.husk(&flags).ok();
    let cpu = e.cgroup_dir("cpu", "u1");
    assert_eq!(read(&shares), "300");
    assert_eq!(read(&cpu.join("cpu.cfs_quota_us")), "20000");
    assert_eq!(read(&cpu.join("cpu.cfs_period_us")), "100000");
    assert_eq!(read(&e.cgroup_dir("pids", "u1").join("pids.max")), "30");
    let memdir = e.cgroup_dir("memory", "u1");
    assert_eq!(
        read(&memdir.join("memory.memsw.limit_in_bytes")),
        (128u64 << 20).to_string()
    );
    assert_eq!(
        read(&memdir.join("memory.soft_limit_in_bytes")),
        (16u64 << 20).to_string()
    );

    // -r -: the JSON on stdin; the other flags are then ignored.
    let mut child = e
        .cmd(&["update", "-r", "-", "--memory", "1G", "u1"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            br#"{"memory": {"limit": 100003840}, "cpu": {"shares": 333}, "pids": {"limit": 20}}"#,
        )
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(read(&mem), "100003840");
    assert_eq!(read(&shares), "333");
    assert_eq!(read(&e.cgroup_dir("pids", "u1").join("pids.max")), "20");
    let r = stored_resources(&e, "u1");
    assert_eq!(r["memory"]["limit"], 100003840);
    assert_eq!(r["memory"]["swap"], json!(128 << 20));
    assert_eq!(r["pids"]["limit"], 20);

    // -r FILE
    let f = e.dir.join("res.json");
    std::fs::write(&f, r#"{"cpu": {"shares": 444}}"#).unwrap();
    e.husk(&["update", "--resources", f.to_str().unwrap(), "u1"])
        .ok();
    assert_eq!(read(&shares), "444");

    // Bad input changes nothing.
    let o = e.husk(&["update", "--memory", "1X", "u1"]);
    assert_ne!(o.code, 0);
    assert!(
        o.stderr
            .contains("invalid value for memory: invalid size: '1X'"),
        "{}",
        o.stderr
    );
    let o = e.husk(&["update", "--cpuset-cpus", "99", "u1"]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("cpuset.cpus"), "{}", o.stderr);
    assert_eq!(stored_resources(&e, "u1")["cpu"].get("cpus"), None);
    let o = e.husk(&["update", "--kernel-memory", "10M", "u1"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("kernel-memory is ignored"),
        "{}",
        o.stderr
    );
    assert_eq!(read(&mem), "100003840");

    // -1 means unlimited, memory and swap together.
    e.husk(&[
        "update",
        "--memory",
        "-1",
        "--pids-limit",
        "-1",
        "--cpu-quota",
        "-1",
        "u1",
    ])
    .ok();
    // "Unlimited" reads back as the largest page-aligned value.
    let unlimited = |p: &Path| read(p).parse::<u64>().unwrap() > 1 << 62;
    assert!(unlimited(&mem));
    assert!(unlimited(&memdir.join("memory.memsw.limit_in_bytes")));
    assert_eq!(read(&e.cgroup_dir("pids", "u1").join("pids.max")), "max");
    assert_eq!(read(&cpu.join("cpu.cfs_quota_us")), "-1");
    let r = stored_resources(&e, "u1");
    assert_eq!(
        (&r["memory"]["limit"], &r["memory"]["swap"]),
        (&json!(-1), &json!(-1))
    );
    e.husk(&["delete", "--force", "u1"]).ok();
}

#[test]
fn events_stats_match_the_cgroup_files() {
    let e = Env::new("cgstats");
    let mut c = e.config(&["sh", "-c", "sleep 60 & sleep 60 & wait"]);
    res(&mut c)["memory"] = json!({"limit": 64 << 20});
    res(&mut c)["pids"] = json!({"limit": 40});
    e.run_detached(c, "s1");
    wait_for("three processes", || procs(&e, "s1").len() == 3);
    let o = e.husk(&["events", "--stats", "s1"]);
    let out = o.ok();
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.starts_with(r#"{"type":"stats","id":"s1","data":{"#),
        "{out}"
    );
    let v: Value = serde_json::from_str(out).unwrap();
    let d = &v["data"];
    let mut keys: Vec<&str> = d.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    keys.sort();
    // The keys runc 1.1 prints under "data".
    assert_eq!(
        keys,
        [
            "blkio",
            "cpu",
            "cpuset",
            "hugetlb",
            "intel_rdt",
            "memory",
            "network_interfaces",
            "pids"
        ]
    );
    assert_eq!(d["pids"]["current"], 3);
    assert_eq!(d["pids"]["limit"], 40);
    let mem = e.cgroup_dir("memory", "s1");
    assert_eq!(d["memory"]["usage"]["limit"], 64 << 20);
    assert!(d["memory"]["usage"]["usage"].as_u64().unwrap() > 0);
    let max: u64 = read(&mem.join("memory.max_usage_in_bytes"))
        .parse()
        .unwrap();
    assert!(d["memory"]["usage"]["max"].as_u64().unwrap() <= max);
    assert_eq!(
        d["memory"]["usage"]["failcnt"].as_u64().unwrap(),
        read(&mem.join("memory.failcnt")).parse::<u64>().unwrap()
    );
    assert!(d["memory"]["raw"]["total_rss"].is_u64());
    assert!(d["cpu"]["usage"]["total"].as_u64().unwrap() > 0);
    let cpus = read(&e.cgroup_dir("cpuset", "s1").join("cpuset.cpus"));
    assert!(
        !d["cpuset"]["cpus"].as_array().unwrap().is_empty(),
        "{cpus}"
    );
    // A bad interval is refused like runc does.
    let o = e.husk(&["events", "--interval", "0s", "s1"]);
    assert!(o.stderr.contains("must be greater than 0"), "{}", o.stderr);
    e.husk(&["delete", "--force", "s1"]).ok();
}

#[test]
fn ps_lists_the_container_processes() {
    let e = Env::new("cgps");
    let pid = e.run_detached(e.config(&["sh", "-c", "sleep 60 & wait"]), "q1");
    wait_for("two processes", || procs(&e, "q1").len() == 2);
    let o = e.husk(&["ps", "--format", "json", "q1"]);
    let pids: Vec<i64> = serde_json::from_str(o.ok()).unwrap();
    assert_eq!(pids, procs(&e, "q1"));
    assert!(pids.contains(&pid));
    assert!(!o.stdout.contains(' '), "compact like runc: {}", o.stdout);

    let o = e.husk(&["ps", "q1"]);
    let lines: Vec<&str> = o.ok().lines().collect();
    assert!(lines[0].split_whitespace().any(|f| f == "PID"), "{lines:?}");
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines
        .iter()
        .any(|l| l.split_whitespace().nth(1) == Some(&pid.to_string()) && l.contains("sh")));

    // Arguments after the id go to ps.
    let o = e.husk(&["ps", "q1", "-o", "pid,comm"]);
    let lines: Vec<&str> = o.ok().lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["PID", "COMMAND"]
    );
    let pid_s = pid.to_string();
    assert!(
        lines
            .iter()
            .any(|l| l.split_whitespace().eq([pid_s.as_str(), "sh"])),
        "{lines:?}"
    );
    let o = e.husk(&["ps", "--format", "yaml", "q1"]);
    assert!(o.stderr.contains("invalid format option"), "{}", o.stderr);
    e.husk(&["delete", "--force", "q1"]).ok();
}

#[test]
fn kill_all_reaches_the_children() {
    let e = Env::new("cgkill");
    let pid = e.run_detached(e.config(&["sh", "-c", "sleep 60 & sleep 60 & wait"]), "k1");
    wait_for("three processes", || procs(&e, "k1").len() == 3);
    let all = procs(&e, "k1");
    assert!(all.contains(&pid));
    e.husk(&["kill", "--all", "k1", "KILL"]).ok();
    wait_for("every process to die", || all.iter().all(|p| !alive(*p)));
    assert_eq!(e.status("k1"), "stopped");
    e.husk(&["delete", "k1"]).ok();
    assert!(
        e.cgroup_leftovers().is_empty(),
        "{:?}",
        e.cgroup_leftovers()
    );
}

#[test]
fn delete_kills_what_is_left_and_removes_the_cgroup() {
    let e = Env::new("cgdel");
    // The init exits, its background child stays in the cgroup (no pid
    // namespace, whose end would take the child along).
    let mut c = e.config(&["sh", "-c", "sleep 60 & sleep 0.2"]);
    c["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "pid");
    let pid = e.run_detached(c, "d1");
    wait_for("the init to exit", || !alive(pid));
    let left = procs(&e, "d1");
    assert_eq!(left.len(), 1, "the orphaned sleep stays in the cgroup");
    assert_eq!(e.status("d1"), "stopped");
    e.husk(&["delete", "d1"]).ok();
    assert!(!alive(left[0]));
    assert!(!e.root.join("d1").exists());
    assert!(
        e.cgroup_leftovers().is_empty(),
        "{:?}",
        e.cgroup_leftovers()
    );
}

#[test]
fn a_value_the_kernel_rejects_fails_create_cleanly() {
    let e = Env::new("cgbad");
    let mut c = e.config(&["true"]);
    res(&mut c)["cpu"] = json!({"cpus": "99"});
    e.write(c, "b1");
    let b = e.bundle();
    let o = e.husk(&["create", "--bundle", b.to_str().unwrap(), "b1"]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("cpuset.cpus"), "{}", o.stderr);
    assert!(o.stderr.contains("99"), "{}", o.stderr);
    assert!(!e.root.join("b1").exists());
    assert!(
        e.cgroup_leftovers().is_empty(),
        "{:?}",
        e.cgroup_leftovers()
    );
}
