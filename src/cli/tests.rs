//! The parser, form by form, and the tables.

use super::*;
use crate::cgroup_cmds::UpdateArgs;
use crate::exec::ExecArgs;

fn parse_str(s: &str) -> (Cli, Option<Stop>) {
    parse(s.split_whitespace().map(String::from).collect())
}

/// The command `s` gives; it must parse.
fn cmd(s: &str) -> Command {
    match parse_str(s) {
        (cli, None) => cli.command.expect("a command"),
        (_, Some(stop)) => panic!("{s:?}: {stop:?}"),
    }
}

/// The usage error `s` gives, and its exit code.
fn err(s: &str) -> (String, i32) {
    match parse_str(s).1 {
        Some(Stop::Usage(m, code)) => (m, code),
        other => panic!("{s:?}: {other:?}"),
    }
}

fn err1(s: &str) -> String {
    let (m, code) = err(s);
    assert_eq!(code, 1, "{s:?}");
    m
}

fn help(s: &str) -> String {
    match parse_str(s).1 {
        Some(Stop::Help(h)) => h,
        other => panic!("{s:?}: {other:?}"),
    }
}

fn exec(s: &str) -> ExecArgs {
    match cmd(s) {
        Command::Exec(a) => a,
        c => panic!("{c:?}"),
    }
}

fn update(s: &str) -> UpdateArgs {
    match cmd(s) {
        Command::Update(a) => a,
        c => panic!("{c:?}"),
    }
}

fn list(format: &str, quiet: bool) -> Command {
    Command::List {
        format: format.into(),
        quiet,
    }
}

fn ps(format: &str, args: &[&str]) -> Command {
    Command::Ps {
        format: format.into(),
        id: "x".into(),
        ps_args: strings(args),
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn defaults() {
    let (cli, stop) = parse_str("list");
    assert_eq!(stop, None);
    assert_eq!(
        cli,
        Cli {
            debug: false,
            log: "".into(),
            log_format: "text".into(),
            root: "/run/husk".into(),
            criu: "criu".into(),
            systemd_cgroup: false,
            rootless: "auto".into(),
            version: false,
            command: Some(list("table", false)),
        }
    );
    assert_eq!(
        cmd("create x"),
        Command::Create(CreateArgs {
            bundle: ".".into(),
            id: "x".into(),
            ..Default::default()
        })
    );
    assert_eq!(
        cmd("spec"),
        Command::Spec {
            bundle: "".into(),
            rootless: false
        }
    );
    assert_eq!(
        cmd("events x"),
        Command::Events {
            interval: "5s".into(),
            stats: false,
            id: "x".into()
        }
    );
    assert_eq!(cmd("ps x"), ps("table", &[]));
    assert_eq!(
        exec("exec x ls"),
        ExecArgs {
            id: "x".into(),
            command: strings(&["ls"]),
            ..Default::default()
        }
    );
    assert_eq!(
        update("update x"),
        UpdateArgs {
            id: "x".into(),
            ..Default::default()
        }
    );
    assert_eq!(cmd("features"), Command::Features);
    assert_eq!(cmd("ls"), list("table", false));
    // No command: main says so.
    let (cli, stop) = parse_str("--debug");
    assert_eq!((cli.command, stop), (None, None));
}

#[test]
fn long_short_and_equals() {
    for s in [
        "list --format json",
        "list --format=json",
        "list -f json",
        "list -fjson",
        "list -f=json",
    ] {
        assert_eq!(cmd(s), list("json", false), "{s}");
    }
    assert_eq!(cmd("list --quiet"), list("table", true));
    assert_eq!(cmd("list -q"), list("table", true));
    let Command::Create(a) = cmd("create -b/b --pid-file=/p --console-socket /s --no-pivot x")
    else {
        panic!()
    };
    assert_eq!(
        (a.bundle.as_str(), a.pid_file, a.console_socket, a.no_pivot),
        ("/b", Some("/p".into()), Some("/s".into()), true)
    );
    // An empty value is a value.
    assert_eq!(cmd("list --format="), list("", false));
}

#[test]
fn clusters() {
    assert_eq!(cmd("list -qf json"), list("json", true));
    assert_eq!(cmd("list -qfjson"), list("json", true));
    let a = exec("exec -tu root x id");
    assert!(a.tty);
    assert_eq!(a.user.as_deref(), Some("root"));
    assert_eq!(a.command, strings(&["id"]));
    let a = exec("exec -td x id");
    assert!(a.tty && a.detach);
    let Command::Run { create, detach, .. } = cmd("run -db /b x") else {
        panic!()
    };
    assert!(detach);
    assert_eq!(create.bundle, "/b");
    assert_eq!(err1("exec -ti x sh"), "flag provided but not defined: -i");
}

#[test]
fn booleans_take_go_values() {
    assert_eq!(cmd("list -q=true"), list("table", true));
    assert_eq!(cmd("list --quiet -q=false"), list("table", false));
    assert_eq!(cmd("list --quiet=1"), list("table", true));
    assert!(parse_str("--debug=true list").0.debug);
    assert!(!parse_str("--debug --debug=false list").0.debug);
    assert_eq!(
        err1("--debug=maybe list"),
        "invalid boolean value \"maybe\" for -debug: parse error"
    );
}

#[test]
fn double_dash_ends_options() {
    assert_eq!(
        cmd("delete -- -x"),
        Command::Delete {
            force: false,
            id: "-x".into()
        }
    );
    assert_eq!(cmd("state x --"), Command::State { id: "x".into() });
    assert_eq!(cmd("state -- x"), Command::State { id: "x".into() });
    assert_eq!(cmd("list --"), list("table", false));
    assert_eq!(cmd("-- list"), list("table", false));
    assert_eq!(exec("exec x -- ls -l").command, strings(&["ls", "-l"]));
    assert_eq!(exec("exec x -- -foo").command, strings(&["-foo"]));
    assert_eq!(
        exec("exec x ls -- -l").command,
        strings(&["ls", "--", "-l"])
    );
    assert_eq!(exec("exec -- x ls").id, "x");
    assert_eq!(cmd("ps x -- -ef"), ps("table", &["-ef"]));
    assert_eq!(cmd("ps x -- -f json"), ps("table", &["-f", "json"]));
}

#[test]
fn repeated_options_collect() {
    let a = exec("exec -e A=1 --env B=2 -eC=3 --cap CAP_A -c CAP_B --cgroup a --cgroup=b -g 1 -g2 --additional-gids=3 x ls");
    assert_eq!(a.env, strings(&["A=1", "B=2", "C=3"]));
    assert_eq!(a.cap, strings(&["CAP_A", "CAP_B"]));
    assert_eq!(a.cgroup, strings(&["a", "b"]));
    assert_eq!(a.additional_gids, vec![1, 2, 3]);
    // A single option given twice: the last wins (as in runc).
    assert_eq!(cmd("list -f json --format table"), list("table", false));
}

#[test]
fn integers() {
    assert_eq!(exec("exec --preserve-fds=3 x ls").preserve_fds, 3);
    let Command::Create(a) = cmd("create --preserve-fds 2 x") else {
        panic!()
    };
    assert_eq!(a.preserve_fds, 2);
    let u = update("update --pids-limit -1 --blkio-weight=500 x");
    assert_eq!((u.pids_limit, u.blkio_weight), (-1, 500));
    assert_eq!(
        err1("exec -g abc x ls"),
        "invalid value \"abc\" for flag -g: invalid digit found in string"
    );
    assert_eq!(
        err1("update --pids-limit abc x"),
        "invalid value \"abc\" for flag -pids-limit: invalid digit found in string"
    );
    assert!(err1("create --preserve-fds=-1 x")
        .starts_with("invalid value \"-1\" for flag -preserve-fds: "));
    assert!(
        err1("exec -g 4294967296 x ls").starts_with("invalid value \"4294967296\" for flag -g: ")
    );
}

#[test]
fn values_may_start_with_a_hyphen() {
    assert_eq!(update("update --memory -1 x").memory.as_deref(), Some("-1"));
    assert_eq!(update("update x --memory -1").memory.as_deref(), Some("-1"));
    assert_eq!(
        update("update x --memory-swap=-1").memory_swap.as_deref(),
        Some("-1")
    );
    assert_eq!(update("update -r - x").resources.as_deref(), Some("-"));
    assert_eq!(exec("exec -e -h x ls").env, strings(&["-h"]));
    assert_eq!(exec("exec --cwd -- x ls").cwd.as_deref(), Some("--"));
    // A lone "-" is an argument.
    assert_eq!(cmd("state -"), Command::State { id: "-".into() });
}

#[test]
fn exec_command_is_trailing() {
    let a = exec("exec x sh -c y");
    assert_eq!(
        (a.id.as_str(), a.command),
        ("x", strings(&["sh", "-c", "y"]))
    );
    let a = exec("exec -t x ls -l");
    assert!(a.tty);
    assert_eq!(a.command, strings(&["ls", "-l"]));
    // Options of exec between the id and the command are still options...
    let a = exec("exec x -t -e A ls");
    assert!(a.tty);
    assert_eq!((a.env, a.command), (strings(&["A"]), strings(&["ls"])));
    // ... an unknown one starts the command, as does the first argument.
    assert_eq!(
        exec("exec x --bogus ls").command,
        strings(&["--bogus", "ls"])
    );
    assert_eq!(exec("exec x -z").command, strings(&["-z"]));
    let a = exec("exec x ls -t --root /r -h");
    assert!(!a.tty);
    assert_eq!(a.command, strings(&["ls", "-t", "--root", "/r", "-h"]));
    // Global options before the command line are global options.
    let (cli, _) = parse_str("exec x --root /r ls");
    assert_eq!(cli.root, "/r");
    // No command: exec says so itself (or takes --process).
    assert_eq!(exec("exec -p /p.json x").command, Vec::<String>::new());
    // Before the id, an unknown option is an error.
    assert_eq!(
        err1("exec --bogus x ls"),
        "flag provided but not defined: -bogus"
    );
}

#[test]
fn ps_args_are_trailing() {
    assert_eq!(cmd("ps x -ef"), ps("table", &["-ef"]));
    assert_eq!(cmd("ps x aux"), ps("table", &["aux"]));
    assert_eq!(cmd("ps -f json x"), ps("json", &[]));
    assert_eq!(cmd("ps x -f json"), ps("json", &[]));
    assert_eq!(cmd("ps x --format json -ef"), ps("json", &["-ef"]));
    assert_eq!(cmd("ps x aux -f json"), ps("table", &["aux", "-f", "json"]));
    assert_eq!(cmd("ps x --debug"), ps("table", &[]));
    assert!(parse_str("ps x --debug").0.debug);
}

#[test]
fn positionals_and_options_interleave() {
    assert_eq!(
        cmd("delete x --force"),
        Command::Delete {
            force: true,
            id: "x".into()
        }
    );
    assert_eq!(
        cmd("kill x KILL --all"),
        Command::Kill {
            all: true,
            id: "x".into(),
            signal: Some("KILL".into())
        }
    );
    assert_eq!(
        cmd("kill -a x"),
        Command::Kill {
            all: true,
            id: "x".into(),
            signal: None
        }
    );
    let Command::Run { create, keep, .. } = cmd("run x --keep -b /b") else {
        panic!()
    };
    assert_eq!(
        (create.id.as_str(), create.bundle.as_str(), keep),
        ("x", "/b", true)
    );
    assert_eq!(
        cmd("events --interval 1s x --stats"),
        Command::Events {
            interval: "1s".into(),
            stats: true,
            id: "x".into()
        }
    );
}

#[test]
fn globals_before_and_after_the_command() {
    let all = "--debug --log /l --log-format json --root /r --criu /c --systemd-cgroup";
    let want = |cli: Cli| {
        assert!(cli.debug && cli.systemd_cgroup);
        assert_eq!(
            [cli.log, cli.log_format, cli.root, cli.criu],
            ["/l", "json", "/r", "/c"]
        );
        assert_eq!(cli.command, Some(Command::State { id: "x".into() }));
    };
    want(parse_str(&format!("{all} state x")).0);
    want(parse_str(&format!("state x {all}")).0);
    want(
        parse_str(
            "--log=/l --log-format=json state --root=/r x --criu=/c --debug --systemd-cgroup",
        )
        .0,
    );
    assert_eq!(parse_str("list --root=/r").0.root, "/r");
    // A usage error still has the global options read before it.
    let (cli, stop) = parse_str("--log /l --log-format json state");
    assert_eq!((cli.log.as_str(), cli.log_format.as_str()), ("/l", "json"));
    assert!(matches!(stop, Some(Stop::Usage(..))));
    let (cli, _) = parse_str("--root /r delete --bogus x");
    assert_eq!(cli.root, "/r");
    // --rootless and --version only come before the command.
    assert_eq!(
        err1("list --rootless"),
        "flag provided but not defined: -rootless"
    );
    assert_eq!(err1("list -v"), "flag provided but not defined: -v");
}

#[test]
fn rootless_has_an_optional_value() {
    let r = |s: &str| {
        let (cli, stop) = parse_str(s);
        assert_eq!(stop, None, "{s}");
        assert_eq!(cli.command, Some(list("table", false)), "{s}");
        cli.rootless
    };
    assert_eq!(r("list"), "auto");
    assert_eq!(r("--rootless list"), "true");
    assert_eq!(r("--rootless false list"), "false");
    assert_eq!(r("--rootless auto list"), "auto");
    assert_eq!(r("--rootless=false list"), "false");
    assert_eq!(
        cmd("spec --rootless"),
        Command::Spec {
            bundle: "".into(),
            rootless: true
        }
    );
}

#[test]
fn version() {
    assert!(parse_str("-v").0.version);
    assert!(parse_str("--version").0.version);
    let (cli, stop) = parse_str("--version list");
    assert!(cli.version && stop.is_none());
}

#[test]
fn help_anywhere() {
    let global = help("--help");
    assert!(global.contains("Commands:") && global.contains("  exec "));
    assert!(global.contains("--root <value>"));
    assert_eq!(help("-h"), global);
    assert_eq!(help("help"), global);
    assert_eq!(help("--debug -h list"), global);
    let l = help("list -h");
    assert!(l.starts_with("husk list - lists containers"), "{l}");
    assert!(l.contains("-f, --format <value>  select one of: table or json (default: \"table\")"));
    assert_eq!(help("list --help"), l);
    assert_eq!(help("help list"), l);
    assert_eq!(help("help ls"), l);
    assert_eq!(help("ls -qh"), l);
    let e = help("exec x -h");
    assert!(e.contains("--preserve-fds <value>") && e.contains("(default: 0)"));
    assert!(!help("update -h").contains("kernel-memory"));
    assert!(help("state -h").contains("Usage: husk state <container-id>"));
    assert_eq!(err("help nosuch"), ("No help topic for 'nosuch'".into(), 3));
}

#[test]
fn usage_errors_in_runcs_words() {
    assert_eq!(
        err1("state"),
        "husk: \"state\" requires exactly 1 argument(s)"
    );
    assert_eq!(
        err1("state a b"),
        "husk: \"state\" requires exactly 1 argument(s)"
    );
    assert_eq!(
        err1("delete --force"),
        "husk: \"delete\" requires exactly 1 argument(s)"
    );
    assert_eq!(
        err1("list extra"),
        "husk: \"list\" requires exactly 0 argument(s)"
    );
    assert_eq!(
        err1("ls extra"),
        "husk: \"list\" requires exactly 0 argument(s)"
    );
    assert_eq!(
        err1("kill"),
        "husk: \"kill\" requires a minimum of 1 argument(s)"
    );
    assert_eq!(
        err1("kill a b c"),
        "husk: \"kill\" requires a maximum of 2 argument(s)"
    );
    assert_eq!(
        err1("exec"),
        "husk: \"exec\" requires a minimum of 1 argument(s)"
    );
    assert_eq!(
        err1("ps -f json"),
        "husk: \"ps\" requires a minimum of 1 argument(s)"
    );
    assert_eq!(err1("--foo list"), "flag provided but not defined: -foo");
    assert_eq!(
        err1("delete --bogus x"),
        "flag provided but not defined: -bogus"
    );
    assert_eq!(
        err1("delete --bogus=1 x"),
        "flag provided but not defined: -bogus"
    );
    assert_eq!(err1("state -foo"), "flag provided but not defined: -foo");
    assert_eq!(err1("list -f"), "flag needs an argument: -f");
    assert_eq!(err1("list --format"), "flag needs an argument: -format");
    assert_eq!(err1("--root"), "flag needs an argument: -root");
    assert_eq!(
        err("nosuchcmd"),
        ("No help topic for 'nosuchcmd'".into(), 3)
    );
    // An empty name is no command either (some have no alias: "").
    assert_eq!(
        parse(vec![String::new()]).1,
        Some(Stop::Usage("No help topic for ''".into(), 3))
    );
}

#[test]
fn tables_are_consistent() {
    let mut cmds: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
    cmds.extend(COMMANDS.iter().map(|c| c.alias).filter(|a| !a.is_empty()));
    cmds.push("help");
    let n = cmds.len();
    cmds.sort();
    cmds.dedup();
    assert_eq!(cmds.len(), n, "a command name twice");
    for c in COMMANDS {
        // Each command's options and the global ones after it: no long or
        // short twice, and no -h (that is help).
        let opts: Vec<&Opt> = c.opts.iter().flat_map(|g| g.iter()).collect();
        let after = GLOBALS.iter().filter(|o| o.global);
        let mut longs: Vec<&str> = opts
            .iter()
            .map(|o| o.long)
            .chain(after.map(|o| o.long))
            .collect();
        let n = longs.len();
        longs.sort();
        longs.dedup();
        assert_eq!(longs.len(), n, "{}: a long option twice", c.name);
        assert!(!longs.contains(&"help"));
        let mut shorts: Vec<char> = opts.iter().filter_map(|o| o.short).collect();
        let n = shorts.len();
        shorts.sort();
        shorts.dedup();
        assert_eq!(shorts.len(), n, "{}: a short option twice", c.name);
        assert!(!shorts.contains(&'h'));
        // Number defaults parse (Matches::num relies on it).
        for o in opts {
            if matches!(o.kind, Kind::U32 | Kind::I64) && !o.default.is_empty() {
                assert!(o.default.parse::<i64>().is_ok(), "--{}", o.long);
            }
        }
    }
}

#[test]
fn every_command_builds_with_all_its_options() {
    // Give every option of every command once, to catch a name the
    // builder asks for that is not in the table (that panics).
    for c in COMMANDS {
        let mut args = vec![c.name.to_string()];
        for o in c.opts.iter().flat_map(|g| g.iter()) {
            args.push(format!("--{}", o.long));
            if o.kind != Kind::Flag {
                args.push("1".into());
            }
        }
        args.extend(
            ["id".to_string(), "arg".to_string()]
                .into_iter()
                .take(c.args.1.min(2)),
        );
        let (cli, stop) = parse(args.clone());
        assert_eq!(stop, None, "{args:?}");
        assert!(cli.command.is_some());
    }
}
