//! The database file as a whole: `backup`, `restore`, `verify`, `rekey`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use serde_json::json;
use zeroize::Zeroizing;

use super::usage;
use crate::output::Printer;
use mcias_core::clock::{OsRandom, SystemClock};
use mcias_core::error::Result;
use mcias_core::idm::{self, Idm, KeySource, ReadOnlyDb};

/// `backup`: SQLite's online backup, with a progress bar on a terminal.
pub(super) async fn backup(p: &Printer, db: &ReadOnlyDb, to: &Path) -> Result<ExitCode> {
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} backing up [{bar:40}] {pos}/{len} pages",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        Some(bar)
    } else {
        None
    };
    let b = bar.clone();
    db.backup_to(to, move |done, total| {
        if let Some(b) = &b {
            b.set_length(total);
            b.set_position(done);
        }
    })
    .await?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let size = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    p.ack(
        &format!("backed up to {} ({size} bytes)", to.display()),
        json!({ "backup": to.display().to_string(), "bytes": size }),
    );
    Ok(ExitCode::SUCCESS)
}

/// `restore` (under the lock).
pub(super) async fn restore(
    p: &Printer,
    db: &Path,
    from: &Path,
    source: &KeySource,
) -> Result<ExitCode> {
    let kept =
        idm::restore_audited(db, from, source, Arc::new(OsRandom), Arc::new(SystemClock)).await?;
    p.ack(
        &match &kept {
            Some(k) => format!(
                "restored {}; the previous database is kept as {}",
                db.display(),
                k.display()
            ),
            None => format!("restored {}", db.display()),
        },
        json!({ "restored": db.display().to_string(), "kept_previous": kept.map(|k| k.display().to_string()) }),
    );
    Ok(ExitCode::SUCCESS)
}

/// `verify`: exit 1 on any problem.
pub(super) async fn verify(p: &Printer, db: &ReadOnlyDb) -> Result<ExitCode> {
    let report = db.verify().await?;
    let v = json!({
        "ok": report.is_clean(),
        "integrity_problems": report.integrity,
        "sealed_ok": report.sealed_ok,
        "sealed_bad": report.sealed_bad,
        "pending_migrations": report.pending_migrations,
    });
    p.record(
        &v,
        &[
            "ok",
            "integrity_problems",
            "sealed_ok",
            "sealed_bad",
            "pending_migrations",
        ],
    );
    if !report.is_clean() {
        eprintln!("mciasdb: verification found problems");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// `rekey` (under the lock).
pub(super) fn rekey(
    p: &Printer,
    idm: &Idm,
    new_keyfile: Option<PathBuf>,
    new_passphrase_env: Option<String>,
) -> Result<ExitCode> {
    let new = match (new_keyfile, new_passphrase_env) {
        (Some(f), None) => KeySource::Keyfile(f),
        (None, Some(var)) => match std::env::var(&var) {
            Ok(v) if !v.is_empty() => KeySource::Passphrase(Zeroizing::new(v)),
            _ => {
                return Err(usage(format!(
                    "--new-passphrase-env names {var:?}, but that variable is unset or empty"
                )));
            }
        },
        _ => {
            return Err(usage(
                "give exactly one of --new-keyfile or --new-passphrase-env",
            ));
        }
    };
    let n = tokio::task::block_in_place(|| idm.rekey(&new))?;
    p.ack(
        &format!(
            "re-sealed {n} value(s) and the key check under the new master key; \
             now point [master_key] in the configuration at the new key"
        ),
        json!({ "resealed": n }),
    );
    Ok(ExitCode::SUCCESS)
}
