//! Manual pages: the title, synopsis, description and options come from the
//! clap definitions (clap_mangen); a COMMANDS section is generated from the
//! subcommand tree; configuration format, signals, exit status, files,
//! examples and security notes are written by hand in `man/src/*.roff`. `make man`
//! writes them to `man/`; a test checks that the committed pages are
//! current.

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::todo,
        clippy::unimplemented,
        clippy::await_holding_lock
    )
)]

use std::fmt::Write as _;

use clap::{Arg, ArgAction, Command, CommandFactory};

use mcias_server::cli::ServerCli;
use mcias_tools::ctl::CtlCli;
use mcias_tools::db::DbCli;

/// Why a page could not be rendered.
type Result<T> = std::result::Result<T, String>;

/// The date printed in the pages' headers (bumped with releases).
pub const MAN_DATE: &str = "2026-11-22";

/// One manual page: its path below `man/` and its roff source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// E.g. `man1/mciasctl.1`.
    pub path: &'static str,
    /// The roff source.
    pub text: String,
}

/// Escapes text for roff: backslashes, and a leading `.` or `'`. Puts each
/// sentence on its own line, as man page style asks.
fn esc(text: &str) -> String {
    let mut out = String::new();
    for (i, line) in text.replace('\\', "\\e").lines().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut rest = line.trim();
        loop {
            let split = rest
                .match_indices(". ")
                .map(|(i, _)| i)
                .find(|&i| rest[i + 2..].starts_with(|c: char| c.is_ascii_uppercase()));
            match split {
                Some(i) => {
                    out.push_str(&guard(&rest[..=i]));
                    out.push('\n');
                    rest = rest[i + 2..].trim_start();
                }
                None => {
                    out.push_str(&guard(rest));
                    break;
                }
            }
        }
    }
    out
}

fn guard(line: &str) -> String {
    if line.starts_with('.') || line.starts_with('\'') {
        format!("\\&{line}")
    } else {
        line.to_owned()
    }
}

fn opt_name(a: &Arg) -> Option<String> {
    let mut names = Vec::new();
    if let Some(s) = a.get_short() {
        names.push(format!("\\fB\\-{s}\\fR"));
    }
    if let Some(l) = a.get_long() {
        names.push(format!("\\fB\\-\\-{}\\fR", l.replace('-', "\\-")));
    }
    if names.is_empty() {
        return None;
    }
    let mut s = names.join(", ");
    if matches!(a.get_action(), ArgAction::Set | ArgAction::Append) {
        let v = a
            .get_value_names()
            .and_then(|v| v.first())
            .map(|v| v.to_string())
            .unwrap_or_else(|| a.get_id().to_string().to_uppercase());
        let _ = write!(s, " \\fI{}\\fR", esc(&v));
    }
    Some(s)
}

fn positional_name(a: &Arg) -> String {
    let v = a
        .get_value_names()
        .and_then(|v| v.first())
        .map(|v| v.to_string())
        .unwrap_or_else(|| a.get_id().to_string().to_uppercase());
    if matches!(a.get_action(), ArgAction::Append)
        || a.get_num_args().is_some_and(|n| n.max_values() > 1)
    {
        format!("{v}...")
    } else {
        v
    }
}

fn arg_help(a: &Arg) -> String {
    let mut help = a
        .get_long_help()
        .or_else(|| a.get_help())
        .map(|h| h.to_string())
        .unwrap_or_default();
    let values: Vec<String> = a
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_owned())
        .collect();
    // clap drops the final period of a one-sentence help; put it back
    // before another sentence follows.
    let end_sentence = |help: &mut String| {
        if !help.is_empty() && !help.ends_with('.') {
            help.push('.');
        }
    };
    if !values.is_empty() && matches!(a.get_action(), ArgAction::Set | ArgAction::Append) {
        end_sentence(&mut help);
        let _ = write!(help, " One of: {}.", values.join(", "));
    }
    let defaults: Vec<String> = a
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    if !defaults.is_empty() && matches!(a.get_action(), ArgAction::Set | ArgAction::Append) {
        end_sentence(&mut help);
        let _ = write!(help, " Default: {}.", defaults.join(","));
    }
    help
}

fn visible_args(cmd: &Command) -> impl Iterator<Item = &Arg> {
    cmd.get_arguments().filter(|a| {
        !a.is_hide_set() && !a.is_global_set() && !matches!(a.get_id().as_str(), "help" | "version")
    })
}

/// Writes one `.SS` per leaf command below `cmd`.
fn commands(out: &mut String, prefix: &str, cmd: &Command) {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() == "help" {
            continue;
        }
        let path = format!("{prefix} {}", sub.get_name());
        if sub.has_subcommands() {
            commands(out, &path, sub);
            continue;
        }
        let _ = writeln!(out, ".SS \"{}\"", path.replace('-', "\\-"));
        let mut synopsis = format!("\\fB{}\\fR", path.replace('-', "\\-"));
        for a in visible_args(sub) {
            let part = match opt_name(a) {
                Some(o) => o,
                None => format!("\\fI{}\\fR", esc(&positional_name(a))),
            };
            if a.is_required_set() {
                let _ = write!(synopsis, " {part}");
            } else {
                let _ = write!(synopsis, " [{part}]");
            }
        }
        let _ = writeln!(out, "{synopsis}");
        let _ = writeln!(out, ".br");
        let about = sub
            .get_long_about()
            .or_else(|| sub.get_about())
            .map(|a| a.to_string())
            .unwrap_or_default();
        let _ = writeln!(out, "{}", esc(&about));
        for a in visible_args(sub) {
            let name =
                opt_name(a).unwrap_or_else(|| format!("\\fI{}\\fR", esc(&positional_name(a))));
            let _ = writeln!(out, ".TP\n{name}\n{}", esc(&arg_help(a)));
        }
    }
}

fn generated(cmd: Command, section: &str) -> Result<String> {
    let name = cmd.get_name().to_owned();
    let man = clap_mangen::Man::new(cmd.clone())
        .title(name.to_uppercase())
        .section(section)
        .date(MAN_DATE)
        .source(format!("mcias {}", env!("CARGO_PKG_VERSION")))
        .manual("MCIAS Manual");
    let mut buf = Vec::new();
    let io = |e: std::io::Error| format!("rendering {name}: {e}");
    man.render_title(&mut buf).map_err(io)?;
    man.render_name_section(&mut buf).map_err(io)?;
    man.render_synopsis_section(&mut buf).map_err(io)?;
    man.render_description_section(&mut buf).map_err(io)?;
    man.render_options_section(&mut buf).map_err(io)?;
    let mut text = String::from_utf8(buf).map_err(|e| e.to_string())?;
    if cmd.has_subcommands() {
        text.push_str(".SH COMMANDS\n");
        commands(&mut text, &name, &cmd);
    }
    Ok(text)
}

/// Wraps text lines at 80 bytes, strips trailing blanks and folds the
/// empty breaks clap_mangen leaves around value lists, so `mandoc -T lint`
/// has nothing to say.
fn tidy(text: &str) -> String {
    let text = text.replace("\n.br\n\n.br\n", "\n.br\n");
    let mut out = String::with_capacity(text.len());
    let mut in_example = false;
    for line in text.lines() {
        let line = line.trim_end();
        match line {
            ".EX" => in_example = true,
            ".EE" => in_example = false,
            _ => {}
        }
        if in_example || line.starts_with('.') || line.len() <= 80 {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let mut current = String::new();
        for word in line.split(' ').filter(|w| !w.is_empty()) {
            if !current.is_empty() && current.len() + 1 + word.len() > 78 {
                out.push_str(&guard(&current));
                out.push('\n');
                current.clear();
            }
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(word);
        }
        if !current.is_empty() {
            out.push_str(&guard(&current));
            out.push('\n');
        }
    }
    out
}

fn with_header(text: String) -> String {
    tidy(&format!(
        ".\\\" Generated by `make man` from the clap definitions and the hand-written\n.\\\" sections in man/src/. Do not edit.\n{text}"
    ))
}

/// Every manual page of the project.
pub fn pages() -> Result<Vec<Page>> {
    let mut ctl = generated(CtlCli::command(), "1")?;
    ctl.push_str(CTL_EXTRA);
    let mut db = generated(DbCli::command(), "1")?;
    db.push_str(DB_EXTRA);
    let mut srv = generated(ServerCli::command(), "8")?;
    srv.push_str(SRV_EXTRA);
    Ok(vec![
        Page {
            path: "man1/mciasctl.1",
            text: with_header(ctl),
        },
        Page {
            path: "man1/mciasdb.1",
            text: with_header(db),
        },
        Page {
            path: "man8/mciassrv.8",
            text: with_header(srv),
        },
        Page {
            path: "man5/mcias.conf.5",
            text: with_header(CONF_PAGE.to_owned()),
        },
    ])
}

const CTL_EXTRA: &str = include_str!("../../../man/src/mciasctl.1.roff");

const DB_EXTRA: &str = include_str!("../../../man/src/mciasdb.1.roff");

const SRV_EXTRA: &str = include_str!("../../../man/src/mciassrv.8.roff");

const CONF_PAGE: &str = include_str!("../../../man/src/mcias.conf.5.roff");
