//! `mciassrv dev`: a zero-setup data directory with a config file, a master
//! keyfile, a development CA and server certificate, and the database.
//! Re-running with an existing directory reuses everything.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use mcias_core::clock::SecureRandom;
use mcias_core::config::{
    Argon2Config, Config, DatabaseConfig, LogConfig, MasterKeyConfig, RateLimitConfig,
    ServerConfig, TlsVersion, TokensConfig,
};
use mcias_core::crypto::master;
use mcias_core::error::{Error, Result};

/// The default data directory.
pub const DEFAULT_DIR: &str = "./mcias-dev";
/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";

/// What `prepare` set up.
#[derive(Debug, Clone)]
pub struct DevSetup {
    /// The data directory.
    pub dir: PathBuf,
    /// The config in force (paths resolved).
    pub config: Config,
    /// `DIR/tls/ca.pem`
    pub ca_pem: PathBuf,
    /// `DIR/admin-password`
    pub admin_password_file: PathBuf,
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::invalid("dev_setup", format!("{what} {}: {e}", path.display()))
}

/// Writes a file readable by its owner only.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| io_err("cannot write", path, e))?;
    f.write_all(contents)
        .and_then(|_| f.sync_all())
        .map_err(|e| io_err("cannot write", path, e))
}

fn default_config(listen: SocketAddr) -> Config {
    Config {
        server: ServerConfig {
            listen_addr: listen,
            public_url: Some(public_url_for(listen)),
            tls_cert: Some("tls/server.pem".into()),
            tls_key: Some("tls/server-key.pem".into()),
            tls_min_version: TlsVersion::Tls12,
            insecure_plaintext: false,
            max_message_bytes: 64 * 1024,
            max_concurrent_streams: 64,
            shutdown_grace: mcias_core::config::Duration(10),
            cors_allowed_origins: Vec::new(),
        },
        database: DatabaseConfig {
            path: "mcias.db".into(),
        },
        master_key: MasterKeyConfig {
            passphrase_env: None,
            keyfile: Some("master.key".into()),
        },
        tokens: TokensConfig {
            issuer: String::new(),
            audience: "mcias".into(),
            access_ttl: mcias_core::config::Duration(3600),
            refresh_ttl: mcias_core::config::Duration(30 * 86_400),
            service_token_ttl: mcias_core::config::Duration(90 * 86_400),
            refresh_grace: mcias_core::config::Duration(0),
            signing_key_rotation: None,
            signing_key_lead: mcias_core::config::Duration(300),
        },
        argon2: Argon2Config::default(),
        rate_limit: RateLimitConfig::default(),
        sessions: Default::default(),
        log: LogConfig::default(),
    }
}

/// Creates a development CA and a server certificate for localhost,
/// 127.0.0.1 and ::1 signed by it. Returns (ca_pem, server_pem, server_key_pem).
pub fn generate_tls() -> Result<(String, String, zeroize::Zeroizing<String>)> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let e = |e: rcgen::Error| Error::internal(format!("certificate generation: {e}"));
    let ca_key = KeyPair::generate().map_err(e)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(e)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "MCIAS development CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(e)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().map_err(e)?;
    let mut params = CertificateParams::new(vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ])
    .map_err(e)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "MCIAS development server");
    let cert = params.signed_by(&server_key, &issuer).map_err(e)?;
    Ok((
        ca_cert.pem(),
        cert.pem(),
        zeroize::Zeroizing::new(server_key.serialize_pem()),
    ))
}

/// The URL of a development server listening on `addr`: loopback and
/// unspecified addresses as `localhost` (the name the development
/// certificate, the README and the banner use), others as the IP address.
pub fn public_url_for(addr: SocketAddr) -> String {
    let ip = addr.ip();
    if ip.is_loopback() || ip.is_unspecified() {
        format!("https://localhost:{}", addr.port())
    } else if ip.is_ipv6() {
        format!("https://[{ip}]:{}", addr.port())
    } else {
        format!("https://{ip}:{}", addr.port())
    }
}

/// The address `prepare` will serve on: `listen`, else the one stored in
/// `dir`'s config, else the default. Reads only; creates nothing.
pub fn listen_addr(dir: &Path, listen: Option<SocketAddr>) -> Result<SocketAddr> {
    if let Some(addr) = listen {
        return Ok(addr);
    }
    let config_path = dir.join("mcias.toml");
    if config_path.exists() {
        return Ok(Config::load(&config_path)?.server.listen_addr);
    }
    DEFAULT_LISTEN
        .parse()
        .map_err(|_| Error::internal("default listen address"))
}

/// Creates what is missing in `dir` and returns the setup. `listen`
/// overrides the stored listen address for this run.
pub fn prepare(dir: &Path, listen: Option<SocketAddr>, rng: &dyn SecureRandom) -> Result<DevSetup> {
    std::fs::create_dir_all(dir.join("tls")).map_err(|e| io_err("cannot create", dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    let config_path = dir.join("mcias.toml");
    if !config_path.exists() {
        let default_listen: SocketAddr = DEFAULT_LISTEN
            .parse()
            .map_err(|_| Error::internal("default listen address"))?;
        let cfg = default_config(listen.unwrap_or(default_listen));
        let text = format!(
            "# MCIAS development configuration, written by `mciassrv dev`.\n# Relative paths are relative to this file.\n\n{}",
            cfg.to_toml()?
        );
        write_private(&config_path, text.as_bytes())?;
    }
    let keyfile = dir.join("master.key");
    if !keyfile.exists() {
        master::create_keyfile(&keyfile, rng)?;
    }
    let tls = dir.join("tls");
    let ca_pem = tls.join("ca.pem");
    if !ca_pem.exists() || !tls.join("server.pem").exists() || !tls.join("server-key.pem").exists()
    {
        let (ca, cert, key) = generate_tls()?;
        write_private(&tls.join("server-key.pem"), key.as_bytes())?;
        std::fs::write(tls.join("server.pem"), cert)
            .map_err(|e| io_err("cannot write", &tls, e))?;
        std::fs::write(&ca_pem, ca).map_err(|e| io_err("cannot write", &ca_pem, e))?;
    }
    let mut config = Config::load(&config_path)?;
    if let Some(addr) = listen {
        config.server.listen_addr = addr;
    }
    Ok(DevSetup {
        dir: dir.to_owned(),
        config,
        ca_pem,
        admin_password_file: dir.join("admin-password"),
    })
}
