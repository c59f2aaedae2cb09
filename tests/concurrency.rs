//! Commands racing on one container id: the state directory is locked and
//! written atomically, so exactly one create wins and readers never see a
//! torn state.json.

mod common;
use common::Env;

#[test]
fn concurrent_creates_of_one_id_make_one_container() {
    let e = Env::new("race-create");
    e.write(e.config(&["sleep", "60"]), "same");
    let b = e.bundle();
    let children: Vec<_> = (0..8)
        .map(|i| {
            let out = e.dir.join(format!("c{i}.err"));
            e.cmd(&["create", "--bundle", b.to_str().unwrap(), "same"])
                .stdout(std::process::Stdio::null())
                .stderr(std::fs::File::create(out).unwrap())
                .spawn()
                .unwrap()
        })
        .collect();
    let codes: Vec<i32> = children
        .into_iter()
        .map(|mut c| c.wait().unwrap().code().unwrap())
        .collect();
    assert_eq!(codes.iter().filter(|&&c| c == 0).count(), 1, "{codes:?}");
    let losers: Vec<String> = (0..8)
        .map(|i| std::fs::read_to_string(e.dir.join(format!("c{i}.err"))).unwrap())
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(losers.len(), 7);
    assert!(losers.iter().all(|s| s.contains("exists")), "{losers:?}");
    assert_eq!(e.status("same"), "created");
    e.husk(&["start", "same"]).ok();
    assert_eq!(e.status("same"), "running");
}

#[test]
fn state_readers_never_see_a_torn_file_while_commands_run() {
    let e = Env::new("race-state");
    e.write(e.config(&["sleep", "60"]), "r");
    let b = e.bundle();
    e.husk(&["create", "--bundle", b.to_str().unwrap(), "r"])
        .ok();
    // Readers and a start, kill and delete racing with each other.
    let mut readers: Vec<_> = (0..6)
        .map(|_| {
            e.cmd(&["state", "r"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    e.husk(&["start", "r"]).ok();
    readers.extend((0..6).map(|_| {
        e.cmd(&["state", "r"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }));
    e.husk(&["delete", "--force", "r"]).ok();
    for r in readers {
        let o = r.wait_with_output().unwrap();
        if o.status.success() {
            let v: serde_json::Value =
                serde_json::from_slice(&o.stdout).expect("a whole state JSON");
            assert_eq!(v["id"], "r");
        } else {
            // Only after delete: the container is gone, said clearly.
            assert!(
                String::from_utf8_lossy(&o.stderr).contains("does not exist"),
                "{:?}",
                o
            );
        }
    }
}

#[test]
fn the_cgroup_mount_shows_the_containers_own_cgroup() {
    let e = Env::new("cgmount");
    let mut c = e.config(&[
        "cat",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        "/sys/fs/cgroup/pids/pids.max",
    ]);
    c["linux"]["resources"]["memory"] = serde_json::json!({"limit": 33554432});
    c["linux"]["resources"]["pids"] = serde_json::json!({"limit": 77});
    let o = e.run(c, "cg");
    assert_eq!(o.ok(), "33554432\n77\n");
}
