//! `tmpcopyup` (runc's mount extension, which podman uses for
//! `--read-only`): a tmpfs that starts with a copy of what it hides.

mod common;
use common::Env;
use serde_json::json;

#[test]
fn tmpfs_with_tmpcopyup_holds_a_copy_of_the_directory_it_hides() {
    let e = Env::new("copyup");
    let mut c = e.config(&[
        "sh",
        "-c",
        "head -1 /etc/passwd; grep ' /etc ' /proc/mounts | cut -d' ' -f3; \
         echo x > /etc/new && cat /etc/new; readlink /bin/sh; grep ' /bin ' /proc/mounts | cut -d' ' -f3,4 | cut -d, -f1; \
         touch /bin/x 2>/dev/null || echo bin-ro",
    ]);
    let mounts = c["mounts"].as_array_mut().unwrap();
    mounts.push(
        json!({"destination": "/etc", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "tmpcopyup", "mode=755"]}),
    );
    // The program itself runs from the copy; read-only once filled.
    mounts.push(
        json!({"destination": "/bin", "type": "tmpfs", "source": "tmpfs",
        "options": ["tmpcopyup", "ro"]}),
    );
    // Without tmpcopyup a tmpfs starts empty.
    mounts.push(
        json!({"destination": "/root", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid"]}),
    );
    let o = e.run(c, "c");
    assert_eq!(
        o.ok(),
        "root:x:0:0:root:/root:/bin/sh\ntmpfs\nx\nbusybox\ntmpfs ro\nbin-ro\n"
    );
    let features = e.husk(&["features"]);
    assert!(features.ok().contains("\"tmpcopyup\""));
}
