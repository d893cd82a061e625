//! The dist/ files: install.sh stages everything and is idempotent, the
//! example configurations load, the unit is hardened as documented.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn install(destdir: &Path) -> std::process::Output {
    let bindir = Path::new(env!("CARGO_BIN_EXE_mciassrv")).parent().unwrap();
    Command::new("sh")
        .arg(root().join("dist/install.sh"))
        .arg(bindir)
        .env("DESTDIR", destdir)
        .env("PREFIX", "/usr")
        .output()
        .unwrap()
}

#[test]
fn install_sh_stages_everything_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = install(d);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [
        "usr/bin/mciassrv",
        "usr/bin/mciasctl",
        "usr/bin/mciasdb",
        "usr/share/man/man1/mciasctl.1",
        "usr/share/man/man1/mciasdb.1",
        "usr/share/man/man5/mcias.conf.5",
        "usr/share/man/man8/mciassrv.8",
        "etc/systemd/system/mcias.service",
        "etc/mcias/mcias.toml",
        "etc/mcias/env",
        "var/lib/mcias",
    ] {
        assert!(d.join(f).exists(), "{f}");
    }
    let unit = std::fs::read_to_string(d.join("etc/systemd/system/mcias.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/mciassrv --config /etc/mcias/mcias.toml"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &str| std::fs::metadata(d.join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("var/lib/mcias"), 0o700);
        assert_eq!(mode("etc/mcias"), 0o750);
        assert_eq!(mode("etc/mcias/env"), 0o640);
        assert_eq!(mode("usr/bin/mciasctl"), 0o755);
    }

    // A second run keeps the operator's configuration.
    std::fs::write(d.join("etc/mcias/mcias.toml"), "# edited\n").unwrap();
    let out = install(d);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(d.join("etc/mcias/mcias.toml")).unwrap(),
        "# edited\n"
    );
    // It never starts anything.
    let script = std::fs::read_to_string(root().join("dist/install.sh")).unwrap();
    assert!(!script.contains("systemctl start") && !script.contains("--now mcias\n"));

    // A missing binary directory is refused with a clear message.
    let out = Command::new("sh")
        .arg(root().join("dist/install.sh"))
        .arg(d.join("nowhere"))
        .env("DESTDIR", d)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
}

#[test]
fn example_configurations_load() {
    for name in ["mcias.conf.example", "mcias-dev.conf.example"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mcias.toml");
        std::fs::copy(root().join("dist").join(name), &path).unwrap();
        if let Err(e) = mcias_core::config::Config::load(&path) {
            panic!("{name}: {}", e.message);
        }
    }
    // Every key of the full example is present (commented or not).
    let text = std::fs::read_to_string(root().join("dist/mcias.conf.example")).unwrap();
    for key in [
        "listen_addr",
        "public_url",
        "tls_cert",
        "tls_key",
        "tls_min_version",
        "insecure_plaintext",
        "max_message_bytes",
        "max_concurrent_streams",
        "shutdown_grace",
        "cors_allowed_origins",
        "path",
        "keyfile",
        "passphrase_env",
        "issuer",
        "audience",
        "access_ttl",
        "refresh_ttl",
        "service_token_ttl",
        "memory_kib",
        "time",
        "parallelism",
        "requests_per_second",
        "burst",
        "level",
        "format",
    ] {
        assert!(text.contains(&format!("{key} =")), "{key}");
    }
}

#[test]
fn the_unit_is_hardened() {
    let unit = std::fs::read_to_string(root().join("dist/mcias.service")).unwrap();
    for line in [
        "User=mcias",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/mcias",
        "EnvironmentFile=/etc/mcias/env\n",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
        "Restart=on-failure",
    ] {
        assert!(unit.contains(line), "{line:?}");
    }
    let docker = std::fs::read_to_string(root().join("dist/Dockerfile")).unwrap();
    for line in [
        "USER 10001:10001",
        "VOLUME /data",
        "EXPOSE 8443",
        "distroless",
    ] {
        assert!(docker.contains(line), "{line}");
    }
}
