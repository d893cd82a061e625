//! Presentation shared by the command-line tools: aligned tables or JSON
//! lines, RFC 3339 timestamps, `--since` parsing and terminal QR codes.

use serde_json::{Map, Value};

use crate::args::Output;

/// `println!` for the tools' standard output: a closed pipe
/// (`mciasctl … | head`) ends the process quietly instead of panicking.
#[macro_export]
macro_rules! outln {
    () => {
        $crate::output::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Writes to standard output. When the reader has gone (a closed pipe) the
/// process exits with status 0 and no message, as `cat | head` does; any
/// other write error is reported and exits with status 1.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        stdout_failed(&e);
    }
}

/// Writes bytes to standard output, like [`write_stdout`].
pub fn write_stdout_bytes(bytes: &[u8]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(bytes).and_then(|()| out.flush()) {
        stdout_failed(&e);
    }
}

fn stdout_failed(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("cannot write to standard output: {e}");
    std::process::exit(1);
}

/// Prints records as a table or as one JSON object per line.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    output: Output,
}

fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "-".to_owned(),
        Some(Value::String(s)) if s.is_empty() => "-".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => {
            let parts: Vec<String> = a.iter().map(|x| cell(Some(x))).collect();
            if parts.is_empty() {
                "-".to_owned()
            } else {
                parts.join(",")
            }
        }
        Some(Value::Object(o)) if o.is_empty() => "-".to_owned(),
        Some(other) => other.to_string(),
    }
}

impl Printer {
    /// A printer for `output`.
    pub fn new(output: Output) -> Self {
        Self { output }
    }

    /// Whether the output is JSON lines.
    pub fn is_json(&self) -> bool {
        self.output == Output::Json
    }

    /// One JSON value on its own line.
    pub fn line(&self, v: &Value) {
        crate::outln!("{v}");
    }

    /// Rows with a header (table) or one JSON object per row.
    pub fn rows(&self, columns: &[&str], rows: &[Value]) {
        self.rows_inner(columns, rows, true);
    }

    /// More rows of a listing already started (no header).
    pub fn rows_continued(&self, columns: &[&str], rows: &[Value]) {
        self.rows_inner(columns, rows, false);
    }

    fn rows_inner(&self, columns: &[&str], rows: &[Value], header: bool) {
        if self.is_json() {
            for r in rows {
                self.line(r);
            }
            return;
        }
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|r| columns.iter().map(|c| cell(r.get(*c))).collect())
            .collect();
        let mut widths: Vec<usize> = columns.iter().map(|c| c.len()).collect();
        for row in &cells {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let fmt = |vals: Vec<String>| {
            let last = vals.len().saturating_sub(1);
            let mut line = String::new();
            for (i, (v, w)) in vals.iter().zip(&widths).enumerate() {
                if i == last {
                    line.push_str(v);
                } else {
                    line.push_str(&format!("{v:<w$}  "));
                }
            }
            line.trim_end().to_owned()
        };
        if header {
            crate::outln!(
                "{}",
                fmt(columns.iter().map(|c| c.to_uppercase()).collect())
            );
        }
        for row in cells {
            crate::outln!("{}", fmt(row));
        }
    }

    /// One record: `key: value` lines in `keys` order, or one JSON line.
    pub fn record(&self, v: &Value, keys: &[&str]) {
        if self.is_json() {
            self.line(v);
            return;
        }
        let width = keys.iter().map(|k| k.len()).max().unwrap_or(0);
        for k in keys {
            crate::outln!("{k:<width$}  {}", cell(v.get(*k)));
        }
    }

    /// A completed action: a sentence, or its JSON with `"ok": true`.
    pub fn ack(&self, message: &str, v: Value) {
        if self.is_json() {
            let mut obj = match v {
                Value::Object(o) => o,
                _ => Map::new(),
            };
            obj.insert("ok".into(), Value::Bool(true));
            self.line(&Value::Object(obj));
        } else {
            crate::outln!("{message}");
        }
    }
}

/// The columns of an audit event, in table and JSON order.
pub const AUDIT_COLUMNS: &[&str] = &[
    "id",
    "occurred_at",
    "event_type",
    "outcome",
    "actor_id",
    "target_id",
    "peer",
    "details",
];

/// One audit event as a JSON record, the same from the API (mciasctl) and
/// from the database (mciasdb). `details` is embedded as JSON when it parses.
#[allow(clippy::too_many_arguments)]
pub fn audit_event(
    id: i64,
    occurred_at: String,
    event_type: &str,
    outcome: &str,
    actor_id: Option<&str>,
    target_id: Option<&str>,
    peer: Option<&str>,
    details: &str,
) -> serde_json::Value {
    let details: serde_json::Value = serde_json::from_str(details)
        .unwrap_or_else(|_| serde_json::Value::String(details.to_owned()));
    serde_json::json!({
        "id": id,
        "occurred_at": occurred_at,
        "event_type": event_type,
        "outcome": outcome,
        "actor_id": actor_id,
        "target_id": target_id,
        "peer": peer,
        "details": details,
    })
}

/// Unix seconds as RFC 3339 UTC.
pub fn unix(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

/// A protobuf timestamp as RFC 3339 UTC, or an empty string when absent.
pub fn ts(t: Option<&prost_types::Timestamp>) -> String {
    t.map(|t| unix(t.seconds)).unwrap_or_default()
}

/// The current Unix time.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Parses `--since`: RFC 3339, Unix seconds, or an age such as `15m`,
/// `1h`, `7d` (meaning that long ago).
pub fn parse_since(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse()
            .map_err(|_| format!("--since {s:?}: number too large"));
    }
    if let Ok(t) = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Ok(t.unix_timestamp());
    }
    match mcias_core::config::Duration::parse(s) {
        Ok(d) => Ok(now().saturating_sub(d.secs_i64())),
        Err(_) => Err(format!(
            "--since {s:?}: use RFC 3339 (2026-01-31T12:00:00Z), Unix seconds, or an age such as 15m, 1h or 7d"
        )),
    }
}

/// `text` as a QR code drawn with Unicode half blocks, or `None` when it
/// does not fit in a QR code.
pub fn qr(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::unicode::Dense1x2>()
            .dark_color(qrcode::render::unicode::Dense1x2::Light)
            .light_color(qrcode::render::unicode::Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_forms() {
        assert_eq!(parse_since("1700000000"), Ok(1_700_000_000));
        assert_eq!(parse_since("2023-11-14T22:13:20Z"), Ok(1_700_000_000));
        let age = parse_since("1h").unwrap();
        assert!((now() - 3600 - age).abs() < 5);
        assert!(parse_since("yesterday").is_err());
    }

    #[test]
    fn timestamps_and_cells() {
        assert_eq!(unix(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(cell(Some(&serde_json::json!(["a", "b"]))), "a,b");
        assert_eq!(cell(Some(&serde_json::json!(""))), "-");
        assert!(
            qr("otpauth://totp/x?secret=ABC")
                .is_some_and(|q| q.contains('█') || q.contains('▀') || q.contains('▄'))
        );
    }
}
