//! process.terminal: the pty master handed to --console-socket, the
//! refusal without one, and a foreground `run` relaying it to its stdio.

mod common;
use common::{Env, Out};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use serde_json::{json, Value};
use std::io::{IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::process::Stdio;

fn tty_config(e: &Env, script: &str) -> Value {
    let mut c = e.config(&["sh", "-c", script]);
    c["process"]["terminal"] = json!(true);
    c
}

/// Accept husk's connection and take the pty master it sends.
fn receive_master(l: &UnixListener) -> (OwnedFd, Vec<u8>) {
    let (conn, _) = l.accept().unwrap();
    let mut buf = [0u8; 256];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .unwrap();
    let mut fd = None;
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            assert_eq!(fds.len(), 1, "{fds:?}");
            // SAFETY: the fd was just received and is owned by nobody else.
            fd = Some(unsafe { OwnedFd::from_raw_fd(fds[0]) });
        }
    }
    let n = msg.bytes;
    let fd = fd.expect("no fd received on the console socket");
    (fd, buf[..n].to_vec())
}

/// Read the master until the container side closes (EIO), or `want` is
/// in the output when `want` is given. Bounded so that a bug fails the
/// test instead of hanging it.
fn read_master(master: &OwnedFd, want: Option<&str>) -> String {
    let mut out = Vec::new();
    let mut f = std::fs::File::from(master.try_clone().unwrap());
    loop {
        if let Some(w) = want {
            if String::from_utf8_lossy(&out).contains(w) {
                break;
            }
        }
        let mut fds = [nix::poll::PollFd::new(
            master.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let n = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(30_000u16)).unwrap();
        assert!(
            n > 0,
            "no output from the pty; so far {:?}",
            String::from_utf8_lossy(&out)
        );
        let mut buf = [0u8; 4096];
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.raw_os_error() == Some(libc::EIO) => break,
            Err(e) => panic!("read pty master: {e}"),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn wait_stopped(e: &Env, id: &str) {
    for _ in 0..2000 {
        if e.status(id) == "stopped" {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{id} never stopped");
}

fn is_tty(fd: &OwnedFd) -> bool {
    nix::sys::termios::tcgetattr(fd.as_fd()).is_ok()
}

#[test]
fn console_socket_receives_the_pty_master() {
    let e = Env::new("console");
    let sock = e.dir.join("console.sock");
    let l = UnixListener::bind(&sock).unwrap();
    e.write(tty_config(&e, "tty; echo hello-tty"), "t1");
    let b = e.bundle();
    e.husk(&[
        "create",
        "--bundle",
        b.to_str().unwrap(),
        "--console-socket",
        sock.to_str().unwrap(),
        "t1",
    ])
    .ok();
    let (master, _name) = receive_master(&l);
    assert!(is_tty(&master), "the received fd is not a terminal");
    assert_eq!(e.status("t1"), "created");

    e.husk(&["start", "t1"]).ok();
    let out = read_master(&master, None);
    assert_eq!(out, "/dev/pts/0\r\nhello-tty\r\n");
    wait_stopped(&e, "t1");
    e.husk(&["delete", "t1"]).ok();
}

#[test]
fn detached_run_with_console_socket_takes_input() {
    let e = Env::new("consolein");
    let sock = e.dir.join("console.sock");
    let l = UnixListener::bind(&sock).unwrap();
    e.write(
        tty_config(
            &e,
            "echo ready; read line; echo got:$line; echo TERM=$TERM; \
             stat -c %t:%T /dev/console /dev/pts/0",
        ),
        "t2",
    );
    let b = e.bundle();
    e.husk(&[
        "run",
        "-d",
        "--bundle",
        b.to_str().unwrap(),
        "--console-socket",
        sock.to_str().unwrap(),
        "t2",
    ])
    .ok();
    let (master, _) = receive_master(&l);
    assert_eq!(e.status("t2"), "running");
    let out = read_master(&master, Some("ready\r\n"));
    assert_eq!(out, "ready\r\n");
    std::fs::File::from(master.try_clone().unwrap())
        .write_all(b"ping\n")
        .unwrap();
    let out = read_master(&master, None);
    // The pty echoes the input, then the shell answers.
    // /dev/console is the pty too (as runc binds it): 136:0 is /dev/pts/0.
    assert_eq!(out, "ping\r\ngot:ping\r\nTERM=xterm\r\n88:0\r\n88:0\r\n");
    wait_stopped(&e, "t2");
}

#[test]
fn terminal_without_console_socket_is_refused_for_create_and_detach() {
    let e = Env::new("noconsole");
    let b = e.bundle();
    e.write(tty_config(&e, "true"), "t3");
    for args in [
        vec!["create", "--bundle", b.to_str().unwrap(), "t3"],
        vec!["run", "-d", "--bundle", b.to_str().unwrap(), "t3"],
    ] {
        let o = e.husk(&args);
        assert_ne!(o.code, 0, "{args:?} accepted");
        assert!(
            o.stderr.contains("console socket"),
            "{args:?}: {}",
            o.stderr
        );
        assert!(!e.root.join("t3").exists(), "{args:?} left a state dir");
        assert_eq!(e.husk(&["list", "-q"]).ok(), "");
    }

    // And a console socket without a terminal is a mistake too.
    let sock = e.dir.join("unused.sock");
    let _l = UnixListener::bind(&sock).unwrap();
    e.write(e.config(&["true"]), "t4");
    let o = e.husk(&[
        "create",
        "--bundle",
        b.to_str().unwrap(),
        "--console-socket",
        sock.to_str().unwrap(),
        "t4",
    ]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("terminal"), "{}", o.stderr);
    assert!(!e.root.join("t4").exists());
}

#[test]
fn foreground_run_relays_the_pty_to_its_stdio() {
    let e = Env::new("fgtty");
    e.write(tty_config(&e, "tty; read x; echo got-$x; exit 5"), "t5");
    let b = e.bundle();
    let mut child = e
        .cmd(&["run", "--bundle", b.to_str().unwrap(), "t5"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"abc\n").unwrap();
    // stdin stays open until the program has exited.
    let o = Out::from(child.wait_with_output().unwrap());
    drop(stdin);
    let (out, err) = (o.stdout, o.stderr);
    assert_eq!(o.code, 5, "stdout={out:?} stderr={err:?}");
    // The pty echoes "abc" whenever it arrives, maybe before `tty` runs.
    let lines: Vec<&str> = out.split("\r\n").collect();
    assert!(lines.contains(&"/dev/pts/0"), "{out:?}");
    assert!(lines.contains(&"abc"), "{out:?}");
    assert!(out.ends_with("got-abc\r\n"), "{out:?}");
    assert!(!e.root.join("t5").exists());
}

#[test]
fn foreground_run_loses_no_output_at_exit() {
    // More than a pty buffer, written right before the program exits.
    let e = Env::new("fgflood");
    e.write(tty_config(&e, "seq 1 20000; echo last-line"), "t6");
    let b = e.bundle();
    let o = e
        .cmd(&["run", "--bundle", b.to_str().unwrap(), "t6"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.split("\r\n").collect();
    assert_eq!(
        lines.len(),
        20002,
        "{}",
        &out[out.len().saturating_sub(200)..]
    );
    assert_eq!(lines[0], "1");
    assert_eq!(lines[19999], "20000");
    assert_eq!(lines[20000], "last-line");
}

#[test]
fn exec_with_a_tty_through_the_console_socket() {
    let e = Env::new("exec-tty");
    e.write(e.config(&["sleep", "600"]), "et");
    let b = e.bundle();
    e.husk(&["run", "-d", "--bundle", b.to_str().unwrap(), "et"])
        .ok();
    let sock = e.dir.join("exec-console.sock");
    let l = UnixListener::bind(&sock).unwrap();
    // Detached, so husk returns once the process runs; the master waits
    // for us in the socket's queue.
    e.husk(&[
        "exec",
        "-t",
        "-d",
        "--console-socket",
        sock.to_str().unwrap(),
        "et",
        "sh",
        "-c",
        "tty; echo exec-tty",
    ])
    .ok();
    let (master, _) = receive_master(&l);
    assert!(is_tty(&master));
    let out = read_master(&master, Some("exec-tty"));
    assert!(out.starts_with("/dev/pts/"), "{out:?}");
    assert!(out.contains("exec-tty\r\n"), "{out:?}");
}

#[test]
fn foreground_exec_with_a_tty_relays_to_its_stdio() {
    let e = Env::new("exec-tty-fg");
    e.write(e.config(&["sleep", "600"]), "ef");
    let b = e.bundle();
    e.husk(&["run", "-d", "--bundle", b.to_str().unwrap(), "ef"])
        .ok();
    let o = e.husk(&["exec", "-t", "ef", "sh", "-c", "tty; exit 4"]);
    assert_eq!(o.code, 4);
    assert!(o.stdout.starts_with("/dev/pts/"), "{:?}", o.stdout);
}

#[test]
fn console_size_is_applied() {
    let e = Env::new("consize");
    let mut c = tty_config(&e, "stty size");
    c["process"]["consoleSize"] = json!({"height": 30, "width": 100});
    let o = e.run(c, "cs");
    assert_eq!(o.ok().trim(), "30 100");
}
