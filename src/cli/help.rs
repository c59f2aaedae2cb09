//! `--help`: the global usage with the commands, or one command's usage
//! and options, made from the tables.

use super::parse::{Cmd, Kind, Opt};
use super::{COMMANDS, GLOBALS};
use std::fmt::Write;

const HELP: Opt = Opt::flag("help", "show help").short('h');

/// `husk --help`, `husk help`.
pub fn global() -> String {
    let mut s = String::from(
        "husk - a small, fast OCI container runtime\n\n\
         Usage: husk [global options] <command> [command options] [arguments...]\n\n\
         Commands:\n",
    );
    let w = COMMANDS.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in COMMANDS {
        let alias = match c.alias {
            "" => String::new(),
            a => format!(" (alias: {a})"),
        };
        let _ = writeln!(s, "  {:w$}  {}{alias}", c.name, c.about);
    }
    let help = "show the commands, or one command's help";
    let _ = writeln!(s, "  {:w$}  {help}", "help");
    s.push_str("\nGlobal options:\n");
    options(&mut s, &[GLOBALS]);
    s
}

/// `husk CMD --help`, `husk help CMD`.
pub fn command(c: &Cmd) -> String {
    let mut s = format!("husk {} - {}\n\nUsage: husk {}", c.name, c.about, c.name);
    if c.opts.iter().any(|g| !g.is_empty()) {
        s.push_str(" [command options]");
    }
    if !c.usage.is_empty() {
        let _ = write!(s, " {}", c.usage);
    }
    s.push('\n');
    if !c.alias.is_empty() {
        let _ = writeln!(s, "Alias: {}", c.alias);
    }
    s.push_str("\nOptions:\n");
    options(&mut s, c.opts);
    s.push_str("\nThe global options (husk --help) may come after the command too.\n");
    s
}

fn options(s: &mut String, groups: &[&[Opt]]) {
    let rows: Vec<(String, &Opt)> = groups
        .iter()
        .flat_map(|g| g.iter())
        .chain([&HELP])
        .filter(|o| !o.hidden)
        .map(|o| {
            let short = o.short.map_or("    ".into(), |c| format!("-{c}, "));
            let value = match o.kind {
                Kind::Flag => "",
                Kind::Maybe { .. } => "[=<value>]",
                _ => " <value>",
            };
            (format!("{short}--{}{value}", o.long), o)
        })
        .collect();
    let w = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    for (left, o) in rows {
        let _ = write!(s, "  {left:w$}  {}", o.help);
        match (o.kind, o.default) {
            (_, "") => {}
            (Kind::U32 | Kind::I64, d) => {
                let _ = write!(s, " (default: {d})");
            }
            (_, d) => {
                let _ = write!(s, " (default: {d:?})");
            }
        }
        s.push('\n');
    }
}
