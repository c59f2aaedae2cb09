//! The parser behind `cli`: static tables of options and commands, one
//! pass over the arguments, nothing built at run time but the values read.
//!
//! Forms: `--name`, `--name=value`, `--name value`, `-n`, `-n value`,
//! `-nvalue`, `-n=value`, clusters of boolean shorts (`-ti`, the last may
//! take a value: `-tu root`), `--flag=true|false` as Go's flag package
//! takes it, and `--` to end the options. An option that takes a value
//! takes the next argument whatever it looks like (`--memory -1`).
//! Errors are worded as runc (Go's flag package and urfave/cli) words them.

use super::{help, Command, Stop, COMMANDS, GLOBALS};
use std::iter::Peekable;
use std::str::FromStr;

pub type Args = Peekable<std::vec::IntoIter<String>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// No value; `--x=false` turns it off.
    Flag,
    /// A string value.
    Str,
    /// A value checked to be a u32 as it is read.
    U32,
    /// A value checked to be an i64 as it is read.
    I64,
    /// An optional value: `--x=V`, or `--x V` when V is one of `choices`;
    /// `bare` when there is none.
    Maybe {
        choices: &'static [&'static str],
        bare: &'static str,
    },
}

/// One option of a table.
#[derive(Debug)]
pub struct Opt {
    pub long: &'static str,
    pub short: Option<char>,
    pub kind: Kind,
    /// The value when the option is not given ("" for none).
    pub default: &'static str,
    pub help: &'static str,
    /// Also taken after the command (the global options).
    pub global: bool,
    /// Left out of the help.
    pub hidden: bool,
}

impl Opt {
    const fn new(long: &'static str, kind: Kind, help: &'static str) -> Opt {
        Opt {
            long,
            short: None,
            kind,
            default: "",
            help,
            global: false,
            hidden: false,
        }
    }
    pub const fn flag(long: &'static str, help: &'static str) -> Opt {
        Opt::new(long, Kind::Flag, help)
    }
    pub const fn val(long: &'static str, help: &'static str) -> Opt {
        Opt::new(long, Kind::Str, help)
    }
    pub const fn u32(long: &'static str, help: &'static str) -> Opt {
        Opt::new(long, Kind::U32, help).default("0")
    }
    pub const fn i64(long: &'static str, help: &'static str) -> Opt {
        Opt::new(long, Kind::I64, help).default("0")
    }
    pub const fn maybe(
        long: &'static str,
        choices: &'static [&'static str],
        bare: &'static str,
        help: &'static str,
    ) -> Opt {
        Opt::new(long, Kind::Maybe { choices, bare }, help)
    }
    pub const fn short(mut self, c: char) -> Opt {
        self.short = Some(c);
        self
    }
    pub const fn default(mut self, d: &'static str) -> Opt {
        self.default = d;
        self
    }
    pub const fn global(mut self) -> Opt {
        self.global = true;
        self
    }
    pub const fn hide(mut self) -> Opt {
        self.hidden = true;
        self
    }
}

/// One command of the table.
pub struct Cmd {
    pub name: &'static str,
    /// Another name for it ("" for none).
    pub alias: &'static str,
    pub about: &'static str,
    /// The arguments part of the usage line (and lines about them).
    pub usage: &'static str,
    /// Its options, in groups (run = create's and its own).
    pub opts: &'static [&'static [Opt]],
    /// How many arguments it takes, at least and at most.
    pub args: (usize, usize),
    /// After the first argument, the first one that is not an option of
    /// the command starts the arguments, and all that follow are arguments,
    /// hyphens and all (exec's command line, ps's options).
    pub trailing: bool,
    /// Make the command from what was read.
    pub build: fn(&mut Matches) -> Command,
}

#[derive(Debug)]
enum Val {
    On,
    Off,
    Str(String),
}

/// What was read for one command (or for the global options): the options
/// in the order given, and the arguments.
pub struct Matches {
    groups: &'static [&'static [Opt]],
    set: Vec<(&'static Opt, Val)>,
    pos: Vec<String>,
}

impl Matches {
    pub fn new(groups: &'static [&'static [Opt]]) -> Matches {
        Matches {
            groups,
            set: Vec::new(),
            pos: Vec::new(),
        }
    }

    fn find(&self, f: impl Fn(&Opt) -> bool) -> Option<&'static Opt> {
        self.groups.iter().flat_map(|g| g.iter()).find(|o| f(o))
    }

    fn opt(&self, long: &str) -> &'static Opt {
        self.find(|o| o.long == long)
            .unwrap_or_else(|| panic!("--{long} is not in the table"))
    }

    /// A flag: given (and not `=false` after that).
    pub fn flag(&self, long: &str) -> bool {
        debug_assert_eq!(self.opt(long).kind, Kind::Flag);
        self.set
            .iter()
            .rev()
            .find(|(o, _)| o.long == long)
            .is_some_and(|(_, v)| matches!(v, Val::On))
    }

    /// An option's value, the last one given.
    pub fn value(&mut self, long: &str) -> Option<String> {
        self.set.iter_mut().rev().find_map(|(o, v)| match v {
            Val::Str(s) if o.long == long => Some(std::mem::take(s)),
            _ => None,
        })
    }

    /// An option's value or its default.
    pub fn string(&mut self, long: &str) -> String {
        let d = self.opt(long).default;
        self.value(long).unwrap_or_else(|| d.to_string())
    }

    /// Every value given for a repeatable option, in order.
    pub fn values(&mut self, long: &str) -> Vec<String> {
        self.set
            .iter_mut()
            .filter_map(|(o, v)| match v {
                Val::Str(s) if o.long == long => Some(std::mem::take(s)),
                _ => None,
            })
            .collect()
    }

    /// A number option or its default. The values were checked as they were
    /// read, and the defaults are numbers, so nothing fails here.
    pub fn num<T: FromStr + Default>(&mut self, long: &str) -> T {
        let d = self.opt(long).default;
        self.value(long)
            .as_deref()
            .unwrap_or(d)
            .parse()
            .unwrap_or_default()
    }

    /// Every value given for a repeatable number option (checked as read).
    pub fn nums<T: FromStr>(&mut self, long: &str) -> Vec<T> {
        let v = self.values(long);
        v.iter().filter_map(|s| s.parse().ok()).collect()
    }

    /// The next argument (their number was checked).
    pub fn arg(&mut self) -> String {
        self.opt_arg().unwrap_or_default()
    }

    /// The next argument, if there is one.
    pub fn opt_arg(&mut self) -> Option<String> {
        (!self.pos.is_empty()).then(|| self.pos.remove(0))
    }

    /// The arguments not taken yet.
    pub fn rest(&mut self) -> Vec<String> {
        std::mem::take(&mut self.pos)
    }
}

fn usage(msg: String) -> Stop {
    Stop::Usage(msg, 1)
}

/// A flag's name as runc's messages show it: dashes and value cut off.
fn shown(tok: &str) -> &str {
    let t = tok.trim_start_matches('-');
    t.split_once('=').map_or(t, |(n, _)| n)
}

fn unknown(tok: &str) -> Stop {
    usage(format!("flag provided but not defined: -{}", shown(tok)))
}

fn needs(name: &str) -> Stop {
    usage(format!("flag needs an argument: -{name}"))
}

fn is_flag(tok: &str) -> bool {
    tok.len() > 1 && tok.starts_with('-')
}

/// `--x=V` for a flag, as Go's strconv.ParseBool takes V.
fn boolean(v: &str, name: &str) -> Result<Val, Stop> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(Val::On),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(Val::Off),
        _ => Err(usage(format!(
            "invalid boolean value {v:?} for -{name}: parse error"
        ))),
    }
}

/// Check a number option's value as it is read, to name the flag as given.
fn check(opt: &Opt, name: &str, v: &str) -> Result<(), Stop> {
    let e = match opt.kind {
        Kind::U32 => v.parse::<u32>().err(),
        Kind::I64 => v.parse::<i64>().err(),
        _ => None,
    };
    match e {
        Some(e) => Err(usage(format!("invalid value {v:?} for flag -{name}: {e}"))),
        None => Ok(()),
    }
}

enum Read {
    Done,
    /// Not an option here (the caller decides what that means).
    Unknown,
    Help,
}

/// Where an option is: in `m`, or (`true`) among the global options `g`
/// takes after the command.
fn lookup(
    m: &Matches,
    g: &Option<&mut Matches>,
    want: impl Fn(&Opt) -> bool,
) -> Option<(&'static Opt, bool)> {
    m.find(&want).map(|o| (o, false)).or_else(|| {
        g.as_ref()
            .and_then(|g| g.find(|o| o.global && want(o)))
            .map(|o| (o, true))
    })
}

fn put(
    m: &mut Matches,
    g: &mut Option<&mut Matches>,
    (opt, global): (&'static Opt, bool),
    val: Val,
) {
    match g {
        Some(g) if global => g.set.push((opt, val)),
        _ => m.set.push((opt, val)),
    }
}

/// The value of `opt`, given as `name`: the `inline` one (after "="), or
/// the rest of a cluster of shorts (`attached`), or the next argument.
fn value(
    opt: &Opt,
    name: &str,
    inline: Option<&str>,
    attached: &str,
    it: &mut Args,
) -> Result<Val, Stop> {
    let v = match (opt.kind, inline) {
        (Kind::Flag, None) => return Ok(Val::On),
        (Kind::Flag, Some(v)) => return boolean(v, name),
        (_, Some(v)) => v.to_string(),
        (_, None) if !attached.is_empty() => attached.to_string(),
        (Kind::Maybe { choices, bare }, None) => it
            .next_if(|n| choices.contains(&n.as_str()))
            .unwrap_or_else(|| bare.to_string()),
        (_, None) => it.next().ok_or_else(|| needs(name))?,
    };
    check(opt, name, &v)?;
    Ok(Val::Str(v))
}

/// Read the option `tok` (and its value, from `tok` or `it`) into `m`, or
/// into `g` when it is one of the global options taken after the command.
fn read(
    tok: &str,
    it: &mut Args,
    m: &mut Matches,
    mut g: Option<&mut Matches>,
) -> Result<Read, Stop> {
    if let Some(body) = tok.strip_prefix("--") {
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        if name == "help" {
            return Ok(Read::Help);
        }
        let Some(at) = lookup(m, &g, |o| o.long == name) else {
            return Ok(Read::Unknown);
        };
        let val = value(at.0, name, inline, "", it)?;
        put(m, &mut g, at, val);
        return Ok(Read::Done);
    }
    // A cluster of shorts: flags, up to one that takes a value (the rest of
    // the cluster, or the next argument) or "=".
    let body = &tok[1..];
    for (i, c) in body.char_indices() {
        let name = &body[i..i + c.len_utf8()];
        let rest = &body[i + c.len_utf8()..];
        let Some(at) = lookup(m, &g, |o| o.short == Some(c)) else {
            return match (c, i) {
                ('h', _) => Ok(Read::Help),
                (_, 0) => Ok(Read::Unknown),
                _ => Err(unknown(name)),
            };
        };
        let inline = rest.strip_prefix('=');
        let val = value(at.0, name, inline, rest, it)?;
        let more = inline.is_none() && matches!(val, Val::On);
        put(m, &mut g, at, val);
        if !more {
            break;
        }
    }
    Ok(Read::Done)
}

/// Parse the arguments (without the program's name). The global options
/// read go into `g` whatever happens after them: the logger needs them to
/// report the error.
pub fn run(args: Vec<String>, g: &mut Matches) -> Result<Option<Command>, Stop> {
    let mut it: Args = args.into_iter().peekable();
    let name = loop {
        let Some(tok) = it.next() else {
            return Ok(None);
        };
        if tok == "--" {
            match it.next() {
                Some(name) => break name,
                None => return Ok(None),
            }
        }
        if !is_flag(&tok) {
            break tok;
        }
        match read(&tok, &mut it, g, None)? {
            Read::Done => {}
            Read::Help => return Err(Stop::Help(help::global())),
            Read::Unknown => return Err(unknown(&tok)),
        }
    };
    if name == "help" {
        return Err(match it.next() {
            None => Stop::Help(help::global()),
            Some(t) => Stop::Help(help::command(command(&t)?)),
        });
    }
    let cmd = command(&name)?;
    let mut m = Matches::new(cmd.opts);
    // Once `rest`, no more options: after "--", or once the trailing
    // arguments of exec or ps have started.
    let mut rest = false;
    while let Some(tok) = it.next() {
        if rest || !is_flag(&tok) {
            m.pos.push(tok);
            rest = rest || (cmd.trailing && m.pos.len() > 1);
            continue;
        }
        if tok == "--" {
            rest = true;
            continue;
        }
        match read(&tok, &mut it, &mut m, Some(g))? {
            Read::Done => {}
            Read::Help => return Err(Stop::Help(help::command(cmd))),
            Read::Unknown if cmd.trailing && !m.pos.is_empty() => {
                m.pos.push(tok);
                rest = true;
            }
            Read::Unknown => return Err(unknown(&tok)),
        }
    }
    let (min, max) = cmd.args;
    let n = m.pos.len();
    if n < min || n > max {
        let want = if min == max {
            format!("exactly {min}")
        } else if n < min {
            format!("a minimum of {min}")
        } else {
            format!("a maximum of {max}")
        };
        return Err(usage(format!(
            "husk: {:?} requires {want} argument(s)",
            cmd.name
        )));
    }
    Ok(Some((cmd.build)(&mut m)))
}

/// The command called `name`; runc's words and exit code if none is.
fn command(name: &str) -> Result<&'static Cmd, Stop> {
    COMMANDS
        .iter()
        .find(|c| c.name == name || (c.alias == name && !name.is_empty()))
        .ok_or_else(|| Stop::Usage(format!("No help topic for '{name}'"), 3))
}

/// The global options read, or their defaults.
pub fn globals() -> Matches {
    static GROUPS: &[&[Opt]] = &[GLOBALS];
    Matches::new(GROUPS)
}
