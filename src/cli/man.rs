//! Manual pages: the title, synopsis, description and options come from the
//! clap definitions (clap_mangen); a COMMANDS section is generated from the
//! subcommand tree; configuration format, signals, exit status, files,
//! examples and security notes are written by hand below. `make man`
//! writes them to `man/`; a test checks that the committed pages are
//! current.

use std::fmt::Write as _;

use clap::{Arg, ArgAction, Command, CommandFactory};

use super::ServerCli;
use super::ctl::CtlCli;
use super::db::DbCli;
use crate::error::{Error, Result};

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
    let io = |e: std::io::Error| Error::internal(format!("rendering {name}: {e}"));
    man.render_title(&mut buf).map_err(io)?;
    man.render_name_section(&mut buf).map_err(io)?;
    man.render_synopsis_section(&mut buf).map_err(io)?;
    man.render_description_section(&mut buf).map_err(io)?;
    man.render_options_section(&mut buf).map_err(io)?;
    let mut text = String::from_utf8(buf).map_err(|e| Error::internal(e.to_string()))?;
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
        ".\\\" Generated by `make man` from the clap definitions in src/cli/ and the\n.\\\" hand-written sections in src/cli/man.rs. Do not edit.\n{text}"
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

const CTL_EXTRA: &str = r#".SH ENVIRONMENT
.TP
.B MCIAS_SERVER
The server URL, as \fB\-\-server\fR.
.TP
.B MCIAS_CA_CERT
The CA certificate file, as \fB\-\-ca\-cert\fR.
.TP
.B MCIAS_TOKEN
The access token, as \fB\-\-token\fR.
.TP
.B MCIAS_TOKEN_FILE
The token file, as \fB\-\-token\-file\fR.
.SH FILES
.TP
.I ~/.config/mcias/token
The token stored by
.B mciasctl login
(mode 0600, in a directory of mode 0700), read by every other command when
no token is given.
The first line is the access token; after a password login the second line
is the refresh token, which
.B token refresh
uses and replaces,
.B token renew
keeps, and
.B logout
revokes.
.B $XDG_CONFIG_HOME
replaces
.I ~/.config
when set.
.SH EXIT STATUS
.TP
.B 0
Success.
.TP
.B 1
The server refused the request; its message and gRPC code are printed on
standard error.
A token that is not valid
(\fBwhoami\fR, \fBtoken validate\fR, \fBtoken introspect\fR)
also exits 1.
.TP
.B 2
Usage error: unknown command or option, bad value, missing token, unreadable
standard input.
.TP
.B 3
Connection or TLS problem: the server cannot be reached, or its certificate
is not trusted.
.SH OUTPUT
With
.B \-\-output json
every record is one JSON object on its own line, with stable field names;
actions print an object with \fB\(dqok\(dq: true\fR.
Errors are printed on standard error as
.B {\(dqerror\(dq:{\(dqcode\(dq:...,\(dqmessage\(dq:...},\(dqexit\(dq:N}
in JSON mode.
Timestamps are RFC 3339 in UTC.
The records and their fields:
.TP
accounts
id, username, type, status, totp_enabled, created_at, updated_at
.TP
claims (\fBwhoami\fR, \fBtoken validate\fR)
valid, subject, roles, token_type, issuer, issued_at, expires_at, jti
.TP
roles
account_id, roles
.TP
\fBtoken issue\fR
account_id, token, expires_at
.TP
\fBtoken keys\fR
kid, kty, crv, alg, use, x
.TP
\fBlogin\fR
username, expires_at, refresh_expires_at, token_file (with
\fB\-\-client\-credentials\fR: client_id, expires_at, token_file);
no token is printed
.TP
\fBtoken refresh\fR
expires_at, refresh_expires_at, token_file; with
\fB\-\-refresh\-token\-stdin\fR: token, expires_at, refresh_token,
refresh_expires_at
.TP
\fBtoken introspect\fR
active, token_type (access_token or refresh_token), subject, account_type,
roles, issuer, issued_at, expires_at, jti; an inactive token prints only
active (false)
.TP
\fBlogout\fR
revoked, refresh_revoked; with \fB\-\-everywhere\fR: account_id (null for
your own), signed_out
.TP
\fBkey rotate\fR, \fBkey rotate\-refresh\fR
kid; key_id
.TP
\fBaccount client\-secret\fR
account_id, client_secret
.TP
\fBtotp enroll\fR
secret, otpauth_uri
.TP
\fBpgcreds get\fR
account_id, host, port, database, username, password
.TP
audit events
id, occurred_at, event_type, outcome, actor_id, target_id, peer, details
(an object)
.SH EXAMPLES
Log in to a development server and look around:
.PP
.EX
export MCIAS_SERVER=https://localhost:8443
export MCIAS_CA_CERT=mcias\-dev/tls/ca.pem
mciasctl login admin
mciasctl whoami
mciasctl account list
.EE
.PP
Create a service account and issue it a token from a script:
.PP
.EX
mciasctl account create billing \-\-type system
mciasctl \-\-output json token issue billing | jq \-r .token
.EE
.PP
Create a person and grant a role, the password read from a file:
.PP
.EX
mciasctl account create alice \-\-password\-stdin < alice.pw
mciasctl role grant alice ops
.EE
.PP
Keep a session going with the stored refresh token, then end every
session of the account:
.PP
.EX
mciasctl token refresh
mciasctl logout \-\-everywhere
.EE
.PP
Give a service a client secret and log it in with it:
.PP
.EX
mciasctl \-\-output json account client\-secret billing | jq \-r .client_secret > billing.secret
mciasctl login \-\-client\-credentials \-\-client\-id billing \-\-secret\-stdin < billing.secret
.EE
.PP
Check and revoke a token kept in a file:
.PP
.EX
mciasctl token introspect \- < leaked.token
mciasctl token revoke\-value < leaked.token
.EE
.PP
Follow failed logins:
.PP
.EX
mciasctl audit list \-\-type login_failure \-\-since 1h \-\-follow
.EE
.SH SECURITY NOTES
Passwords are never accepted as arguments, where other users could read
them in the process list: they are prompted without echo, or read from
standard input with
.BR \-\-password\-stdin .
A token given with
.B \-\-token
is visible in the process list; prefer the token file or
.BR MCIAS_TOKEN .
Client secrets are likewise never arguments: they are prompted without echo
or read with
.BR \-\-secret\-stdin .
Tokens given to
.B token introspect
and
.B token revoke\-value
as arguments stay in the shell history and are visible in the process list;
give
.B \-
(or nothing, for
.BR "token revoke\-value" )
and pass them on standard input instead.
The refresh token is kept only in the token file and is printed only by
.BR "token refresh \-\-refresh\-token\-stdin" ,
whose caller keeps its tokens itself.
.BR "token issue" ,
.B account client\-secret
(shown once; it cannot be read again)
and
.B pgcreds get
print secrets on standard output.
Usernames are resolved to ids with ListAccounts, which needs the admin role;
other users give account ids.
.SH SEE ALSO
.BR mciasdb (1),
.BR mciassrv (8),
.BR mcias.conf (5)
"#;

const DB_EXTRA: &str = r#".SH LOCKING
The server holds an exclusive lock on
.I <database>.lock
for as long as it runs.
Commands that write take the same lock and are refused while a server holds
it, with a message saying so.
Read\-only commands
(\fBschema verify\fR, \fBaccount list\fR, \fBaccount get\fR, \fBrole list\fR,
\fBtoken list\fR, \fBaudit\fR, \fBbackup\fR, \fBverify\fR)
do not take it and may run at any time.
The server refuses to start while
.B mciasdb
holds the lock.
.SH PASSWORDS
Passwords are prompted twice without echo, or read with
.BR \-\-password\-stdin :
one line, or two lines that must be identical.
A mismatch changes nothing and exits 2.
They are never accepted as arguments.
.SH EXIT STATUS
.TP
.B 0
Success.
.TP
.B 1
Failure or refusal: the database is held by a running server, the master key
is wrong, the command was refused,
.B schema verify
found pending migrations, or
.B verify
found problems.
.TP
.B 2
Usage error, including mismatched password confirmation.
.SH FILES
.TP
.I /etc/mcias/mcias.toml
The server configuration read with
.BR \-\-config .
.TP
.I /var/lib/mcias/mcias.db
The database (the path is set in the configuration), with its
.I \-wal
and
.I \-shm
files and
.IR .lock .
.TP
.I <database>.pre\-restore\-<time>
The database a
.B restore
replaced.
.SH EXAMPLES
Create the first admin of a new deployment:
.PP
.EX
mciasdb \-\-config /etc/mcias/mcias.toml \e
    bootstrap\-admin \-\-username admin \-\-password\-stdin < admin.pw
.EE
.PP
Take a backup while the server runs, and check it:
.PP
.EX
mciasdb \-\-config /etc/mcias/mcias.toml backup \-\-to /backup/mcias\-$(date +%F).db
.EE
.PP
Restore it (with the server stopped):
.PP
.EX
systemctl stop mcias
mciasdb \-\-config /etc/mcias/mcias.toml restore \-\-from /backup/mcias\-2026\-01\-31.db
systemctl start mcias
.EE
.PP
Rotate the master key:
.PP
.EX
systemctl stop mcias
(umask 077; openssl rand \-hex 32 > /etc/mcias/master.key.new)
mciasdb \-\-config /etc/mcias/mcias.toml rekey \-\-new\-keyfile /etc/mcias/master.key.new
mv /etc/mcias/master.key.new /etc/mcias/master.key
systemctl start mcias
.EE
.SH SECURITY NOTES
.B mciasdb
holds the master key in memory for the duration of the command.
Run it as the service user, on the server's host.
.B pgcreds get
prints a password in clear text, warns on standard error, and records the
read in the audit log.
Every change is audited with the actor
.BR mciasdb .
.B rekey
re-seals every secret in one transaction: if it fails, nothing changed and
the old key still works; once it succeeds, only the new key opens the
database.
.SH SEE ALSO
.BR mciasctl (1),
.BR mciassrv (8),
.BR mcias.conf (5)
"#;

const SRV_EXTRA: &str = r#".SH SIGNALS
.TP
.BR SIGTERM ", " SIGINT
Graceful shutdown: stop accepting connections, drain in\-flight calls for up
to
.B server.shutdown_grace
and checkpoint the database.
.SH EXIT STATUS
.TP
.B 0
Clean shutdown.
.TP
.B 1
Start\-up failed: a configuration error (naming the key), a wrong master key
(nothing is changed), a database held by another process, or a listener
that cannot bind.
.TP
.B 2
Usage error.
.SH ENVIRONMENT
.TP
.B MCIAS_LOG
A tracing filter that overrides
.BR log.level ,
e.g.
.BR mcias=debug .
.TP
The variable named by \fBmaster_key.passphrase_env\fR
The master key passphrase, when the configuration uses one.
.SH FILES
.TP
.I /etc/mcias/mcias.toml
The configuration.
.TP
.I /etc/mcias/master.key
The master keyfile (mode 0600; refused when group or others can read it).
.TP
.I /etc/mcias/env
Environment for the systemd unit (for example the master key passphrase).
.TP
.I /var/lib/mcias/mcias.db
The database, with its
.I \-wal ,
.I \-shm
and
.I .lock
files.
.SH EXAMPLES
.EX
mciassrv \-\-config /etc/mcias/mcias.toml
mciassrv dev \-\-data\-dir ./mcias\-dev \-\-listen 127.0.0.1:9443
.EE
.SH SECURITY NOTES
Run it as a dedicated user with the hardened unit in
.IR dist/mcias.service .
Logs carry method, peer, status, duration and account id, never a password,
token, secret or key.
A wrong master key is detected at start by a sealed check value; the server
then refuses to start and changes nothing.
.SH SEE ALSO
.BR mciasctl (1),
.BR mciasdb (1),
.BR mcias.conf (5)
"#;

const CONF_PAGE: &str = r#".TH MCIAS.CONF 5 2026-11-22 "mcias" "MCIAS Manual"
.SH NAME
mcias.conf \- MCIAS server configuration
.SH SYNOPSIS
.I /etc/mcias/mcias.toml
.SH DESCRIPTION
The configuration of
.BR mciassrv (8)
and
.BR mciasdb (1)
is a TOML file.
Unknown keys, missing required keys and unsafe values are refused with an
error that names the key.
Relative paths are resolved against the directory of the file.
Durations are written as
.BR 90s ,
.BR 15m ,
.BR 1h ,
.B 30d
or a number of seconds.
.SH SECTIONS
.SS "[server]"
.TP
.B listen_addr
Required.
Address and port to listen on, e.g.
.BR 0.0.0.0:8443 .
.TP
.B tls_cert
PEM certificate chain; required unless
.BR insecure_plaintext .
.TP
.B tls_key
PEM private key; required unless
.BR insecure_plaintext .
.TP
.B tls_min_version
.B \(dq1.2\(dq
(default) or
.BR \(dq1.3\(dq .
.TP
.B insecure_plaintext
Serve without TLS; only allowed on a loopback
.BR listen_addr .
Default false.
.TP
.B max_message_bytes
Largest accepted request message.
Default 65536.
.TP
.B max_concurrent_streams
Concurrent HTTP/2 streams per connection.
Default 64.
.TP
.B shutdown_grace
How long shutdown waits for in\-flight calls.
Default 10s.
.TP
.B cors_allowed_origins
Browser origins allowed to call the API cross\-origin (gRPC\-Web and REST),
each as scheme://host[:port], or "*".
Default empty: no cross\-origin calls.
.SS "[database]"
.TP
.B path
Required.
The SQLite database file.
Its directory must exist.
.SS "[master_key]"
Exactly one of:
.TP
.B keyfile
A file of 32 bytes as 64 hex characters, base64 or raw; mode 0600.
.TP
.B passphrase_env
The name of an environment variable holding a passphrase of at least 16
bytes; the key is derived with Argon2id and a salt stored in the database.
.SS "[tokens]"
.TP
.B issuer
Required.
The
.B iss
claim, usually the server's public URL.
.TP
.B audience
The
.B aud
claim.
Default
.BR mcias .
.TP
.B access_ttl
Lifetime of access tokens.
Default 1h.
.TP
.B refresh_ttl
Lifetime of refresh tokens.
Default 30d.
.TP
.B service_token_ttl
Lifetime of service tokens.
Default 90d.
.TP
.B refresh_grace
How long after its use a refresh token may be presented again and get the
same successor (racing browser tabs); at most 60s.
Default 0s (never).
.TP
.B signing_key_rotation
Rotate the signing key automatically this often, e.g. 30d; at least 1h.
Unset by default (rotation only on request).
.SS "[argon2]"
.TP
.B memory_kib
Memory cost in KiB; at least 19456.
Default 65536.
.TP
.B time
Iterations; at least 2.
Default 3.
.TP
.B parallelism
Lanes.
Default 4.
.SS "[rate_limit]"
.TP
.B requests_per_second
Sustained requests per second per client IP.
Default 20.
.TP
.B burst
Burst above the sustained rate.
Default 100.
.SS "[log]"
.TP
.B level
A tracing filter such as
.B info
or
.BR mcias=debug .
Default
.BR info .
.B MCIAS_LOG
overrides it.
.TP
.B format
.B text
(default) or
.BR json .
.SH EXAMPLES
.EX
[server]
listen_addr = "0.0.0.0:8443"
tls_cert = "/etc/mcias/tls/server.pem"
tls_key = "/etc/mcias/tls/server\-key.pem"

[database]
path = "/var/lib/mcias/mcias.db"

[master_key]
keyfile = "/etc/mcias/master.key"

[tokens]
issuer = "https://mcias.example.com"
.EE
.SH FILES
.TP
.I /etc/mcias/mcias.toml
The configuration.
.TP
.I dist/mcias.conf.example
Every key, commented.
.SH SEE ALSO
.BR mciassrv (8),
.BR mciasdb (1),
.BR mciasctl (1)
"#;
