//! The TOML configuration (`mciassrv --config PATH`), its defaults and its
//! validation. Every problem is reported with the key that causes it.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// OWASP's minimum Argon2id memory cost (with t = 2).
pub const ARGON2_MIN_MEMORY_KIB: u32 = 19_456;
/// OWASP's minimum Argon2id time cost at the minimum memory.
pub const ARGON2_MIN_TIME: u32 = 2;

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[server]`
    pub server: ServerConfig,
    /// `[database]`
    pub database: DatabaseConfig,
    /// `[master_key]`
    pub master_key: MasterKeyConfig,
    /// `[tokens]`
    pub tokens: TokensConfig,
    /// `[argon2]`
    #[serde(default)]
    pub argon2: Argon2Config,
    /// `[rate_limit]`
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
    /// `[log]`
    #[serde(default)]
    pub log: LogConfig,
    /// `[sessions]`
    #[serde(default)]
    pub sessions: SessionsConfig,
}

/// `[server]`: the listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address and port to listen on, e.g. `0.0.0.0:8443`.
    pub listen_addr: SocketAddr,
    /// The URL clients reach the server at (`https://host[:port]`): the
    /// token issuer (`iss`) and the base of every URL in discovery. Defaults
    /// to `tokens.issuer`; one of the two is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// PEM certificate chain; required unless `insecure_plaintext`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key; required unless `insecure_plaintext`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// Lowest TLS version accepted: `"1.2"` (default) or `"1.3"`.
    #[serde(default)]
    pub tls_min_version: TlsVersion,
    /// Serve without TLS; only allowed on a loopback `listen_addr`.
    #[serde(default)]
    pub insecure_plaintext: bool,
    /// Largest accepted request message in bytes (default 65536).
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    /// Concurrent HTTP/2 streams per connection (default 64).
    #[serde(default = "default_max_concurrent_streams")]
    pub max_concurrent_streams: u32,
    /// How long shutdown waits for in-flight calls (default 10s).
    #[serde(default = "default_shutdown_grace")]
    pub shutdown_grace: Duration,
    /// Browser origins (`https://app.example.com`, or `*`) allowed to call
    /// the API cross-origin (gRPC-Web and REST); empty (default) allows none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cors_allowed_origins: Vec<String>,
}

/// `[database]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Path of the SQLite database file.
    pub path: PathBuf,
}

/// `[master_key]`: exactly one of the two sources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MasterKeyConfig {
    /// Name of an environment variable holding a passphrase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase_env: Option<String>,
    /// Path of a file holding 32 random bytes (raw, hex or base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyfile: Option<PathBuf>,
}

/// `[tokens]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensConfig {
    /// The `iss` claim: `server.public_url` (the older name of the same
    /// setting; when both are set they must agree).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub issuer: String,
    /// The `aud` claim (default `mcias`).
    #[serde(default = "default_audience")]
    pub audience: String,
    /// Lifetime of access tokens from Login and RenewToken (default 1h).
    #[serde(default = "default_access_ttl")]
    pub access_ttl: Duration,
    /// Lifetime of refresh tokens (default 30d).
    #[serde(default = "default_refresh_ttl")]
    pub refresh_ttl: Duration,
    /// Lifetime of service tokens for system accounts (default 90d).
    #[serde(default = "default_service_token_ttl")]
    pub service_token_ttl: Duration,
    /// How long after its use a refresh token may be presented again and
    /// get the same successor (racing browser tabs); default 0 (never).
    #[serde(default)]
    pub refresh_grace: Duration,
    /// Rotate the signing key automatically this often (e.g. "30d"); unset
    /// means only on request (RotateSigningKey).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key_rotation: Option<Duration>,
    /// How long a rotated signing key is published in the JWKS before it
    /// signs (default 5m, the JWKS cache lifetime), so relying parties that
    /// cache the JWKS know a key before they meet it; until then the
    /// previous key signs. Revocation and the first key sign at once.
    #[serde(default = "default_signing_key_lead")]
    pub signing_key_lead: Duration,
}

/// `[argon2]`: password hashing cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Argon2Config {
    /// Memory cost in KiB (default 65536, at least 19456).
    #[serde(default = "default_memory_kib")]
    pub memory_kib: u32,
    /// Iterations (default 3, at least 2).
    #[serde(default = "default_time")]
    pub time: u32,
    /// Lanes (default 4).
    #[serde(default = "default_parallelism")]
    pub parallelism: u32,
}

/// `[rate_limit]`: per client IP, across every surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Sustained requests per second (default 20).
    #[serde(default = "default_rps")]
    pub requests_per_second: u32,
    /// Burst above the sustained rate (default 100).
    #[serde(default = "default_burst")]
    pub burst: u32,
}

/// `[sessions]`: browser sessions of the sign-in and self-service pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionsConfig {
    /// A session unused this long ends (default 30m).
    #[serde(default = "default_session_idle")]
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, used or not (default 10h).
    #[serde(default = "default_session_lifetime")]
    pub lifetime: Duration,
}

/// `[log]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing filter such as `info` or `mcias=debug` (default `info`).
    #[serde(default = "default_log_level")]
    pub level: String,
    /// `text` (default) or `json`.
    #[serde(default)]
    pub format: LogFormat,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The lowest TLS version accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TlsVersion {
    /// TLS 1.2 and 1.3.
    #[default]
    #[serde(rename = "1.2")]
    Tls12,
    /// TLS 1.3 only.
    #[serde(rename = "1.3")]
    Tls13,
}

/// A duration written as `90s`, `15m`, `1h`, `30d` or a number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Duration(pub u64);

impl Duration {
    /// Whole seconds.
    pub fn secs(self) -> u64 {
        self.0
    }
    /// Whole seconds as i64 (saturating).
    pub fn secs_i64(self) -> i64 {
        i64::try_from(self.0).unwrap_or(i64::MAX)
    }
    /// As a std duration.
    pub fn std(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.0)
    }

    /// Parses `90s`, `15m`, `1h`, `30d` or plain seconds.
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        let s = s.trim();
        let (num, mult) = match s.char_indices().last() {
            Some((i, 's')) => (&s[..i], 1),
            Some((i, 'm')) => (&s[..i], 60),
            Some((i, 'h')) => (&s[..i], 3600),
            Some((i, 'd')) => (&s[..i], 86_400),
            _ => (s, 1),
        };
        let n: u64 = num
            .parse()
            .map_err(|_| format!("invalid duration {s:?}: use e.g. 90s, 15m, 1h or 30d"))?;
        n.checked_mul(mult)
            .map(Duration)
            .ok_or_else(|| format!("duration {s:?} is too large"))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if s != 0 && s.is_multiple_of(86_400) {
            write!(f, "{}d", s / 86_400)
        } else if s != 0 && s.is_multiple_of(3600) {
            write!(f, "{}h", s / 3600)
        } else if s != 0 && s.is_multiple_of(60) {
            write!(f, "{}m", s / 60)
        } else {
            write!(f, "{s}s")
        }
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Secs(n) => Ok(Duration(n)),
            Raw::Text(t) => Duration::parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

fn default_max_message_bytes() -> usize {
    64 * 1024
}
fn default_max_concurrent_streams() -> u32 {
    64
}
fn default_shutdown_grace() -> Duration {
    Duration(10)
}
fn default_audience() -> String {
    "mcias".to_owned()
}
fn default_access_ttl() -> Duration {
    Duration(3600)
}
fn default_refresh_ttl() -> Duration {
    Duration(30 * 86_400)
}
fn default_service_token_ttl() -> Duration {
    Duration(90 * 86_400)
}
/// The JWKS cache lifetime (`Cache-Control: max-age=300`).
fn default_signing_key_lead() -> Duration {
    Duration(300)
}
fn default_memory_kib() -> u32 {
    65_536
}
fn default_time() -> u32 {
    3
}
fn default_parallelism() -> u32 {
    4
}
fn default_rps() -> u32 {
    20
}
fn default_burst() -> u32 {
    100
}
fn default_log_level() -> String {
    "info".to_owned()
}

impl Default for Argon2Config {
    fn default() -> Self {
        Self {
            memory_kib: default_memory_kib(),
            time: default_time(),
            parallelism: default_parallelism(),
        }
    }
}

fn default_session_idle() -> Duration {
    Duration(30 * 60)
}
fn default_session_lifetime() -> Duration {
    Duration(10 * 3600)
}

impl Default for SessionsConfig {
    fn default() -> Self {
        Self {
            idle_timeout: default_session_idle(),
            lifetime: default_session_lifetime(),
        }
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            requests_per_second: default_rps(),
            burst: default_burst(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: default_log_level(),
            format: LogFormat::Text,
        }
    }
}

/// `scheme://host[:port][/path]`: https (http only with `insecure_plaintext`),
/// a host, no query, fragment or user info.
fn check_public_url(url: &str, plaintext: bool) -> Result<()> {
    let rest = match url.split_once("://") {
        Some(("https", rest)) => rest,
        Some(("http", rest)) if plaintext => rest,
        Some(("http", _)) => {
            return Err(bad(
                "server.public_url",
                format!("{url:?}: must be https (http only with insecure_plaintext)"),
            ));
        }
        _ => {
            return Err(bad(
                "server.public_url",
                format!("{url:?}: must be an https URL such as \"https://mcias.example.com\""),
            ));
        }
    };
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || rest.contains(['?', '#', '@']) || rest.contains(char::is_whitespace) {
        return Err(bad(
            "server.public_url",
            format!("{url:?}: needs a host, and no query, fragment, user info or spaces"),
        ));
    }
    Ok(())
}

fn bad(key: &str, message: impl fmt::Display) -> Error {
    Error::invalid("invalid_config", format!("config key `{key}`: {message}"))
}

impl Config {
    /// Reads, parses and validates a config file. Relative paths in it are
    /// resolved against the file's directory.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::invalid(
                "config_unreadable",
                format!("cannot read config file {}: {e}", path.display()),
            )
        })?;
        let mut config = Self::parse(&text)
            .map_err(|e| Error::invalid(e.code, format!("{}: {}", path.display(), e.message)))?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        config.resolve_paths(base);
        Ok(config)
    }

    /// Parses and validates TOML text.
    pub fn parse(text: &str) -> Result<Self> {
        let mut config: Config = toml::from_str(text)
            .map_err(|e| Error::invalid("invalid_config", e.to_string().trim().to_owned()))?;
        config.settle_public_url()?;
        config.validate()?;
        Ok(config)
    }

    /// Makes `server.public_url` and `tokens.issuer` one value: either may
    /// be given; both must agree when both are.
    fn settle_public_url(&mut self) -> Result<()> {
        let issuer = self.tokens.issuer.trim().to_owned();
        match self.server.public_url.as_deref().map(str::trim) {
            Some(url) if !issuer.is_empty() && url != issuer => Err(bad(
                "server.public_url",
                format!(
                    "{url:?} differs from `tokens.issuer` {issuer:?}; set only server.public_url"
                ),
            )),
            Some(url) => {
                self.set_public_url(url.to_owned());
                Ok(())
            }
            None if issuer.is_empty() => Err(bad(
                "server.public_url",
                "missing: the URL clients reach the server at, e.g. \"https://mcias.example.com\"",
            )),
            None => {
                self.set_public_url(issuer);
                Ok(())
            }
        }
    }

    /// Sets the public URL, which is also the token issuer.
    pub fn set_public_url(&mut self, url: String) {
        self.tokens.issuer = url.clone();
        self.server.public_url = Some(url);
    }

    /// The URL clients reach the server at, without a trailing slash.
    pub fn public_url(&self) -> &str {
        self.tokens.issuer.trim_end_matches('/')
    }

    /// Serializes to TOML.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| Error::internal(format!("config to TOML: {e}")))
    }

    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.database.path);
        if let Some(p) = self.server.tls_cert.as_mut() {
            fix(p);
        }
        if let Some(p) = self.server.tls_key.as_mut() {
            fix(p);
        }
        if let Some(p) = self.master_key.keyfile.as_mut() {
            fix(p);
        }
    }

    /// Checks every rule that the types alone do not express.
    pub fn validate(&self) -> Result<()> {
        let s = &self.server;
        if s.insecure_plaintext {
            if !s.listen_addr.ip().is_loopback() {
                return Err(bad(
                    "server.insecure_plaintext",
                    format!(
                        "plaintext is only allowed on a loopback listen_addr, not {}",
                        s.listen_addr
                    ),
                ));
            }
        } else {
            if s.tls_cert.is_none() {
                return Err(bad(
                    "server.tls_cert",
                    "missing (required unless insecure_plaintext = true on loopback)",
                ));
            }
            if s.tls_key.is_none() {
                return Err(bad(
                    "server.tls_key",
                    "missing (required unless insecure_plaintext = true on loopback)",
                ));
            }
        }
        if !(1024..=16 * 1024 * 1024).contains(&s.max_message_bytes) {
            return Err(bad(
                "server.max_message_bytes",
                "must be between 1024 and 16777216",
            ));
        }
        if !(1..=1024).contains(&s.max_concurrent_streams) {
            return Err(bad(
                "server.max_concurrent_streams",
                "must be between 1 and 1024",
            ));
        }
        for origin in &s.cors_allowed_origins {
            let ok = origin == "*"
                || ((origin.starts_with("https://") || origin.starts_with("http://"))
                    && origin.split("://").nth(1).is_some_and(|host| {
                        !host.is_empty()
                            && !host.contains('/')
                            && host.bytes().all(|b| {
                                b.is_ascii_alphanumeric()
                                    || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
                            })
                    }));
            if !ok {
                return Err(bad(
                    "server.cors_allowed_origins",
                    format!(
                        "{origin:?} is not an origin: use scheme://host[:port] (no path) or \"*\""
                    ),
                ));
            }
        }
        if s.shutdown_grace.secs() > 300 {
            return Err(bad("server.shutdown_grace", "must be at most 300s"));
        }
        if self.database.path.as_os_str().is_empty() {
            return Err(bad("database.path", "must not be empty"));
        }
        match (&self.master_key.passphrase_env, &self.master_key.keyfile) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "master_key",
                    "set exactly one of passphrase_env and keyfile, not both",
                ));
            }
            (None, None) => {
                return Err(bad(
                    "master_key",
                    "missing: set exactly one of passphrase_env and keyfile",
                ));
            }
            (Some(v), None) if v.trim().is_empty() => {
                return Err(bad("master_key.passphrase_env", "must not be empty"));
            }
            _ => {}
        }
        check_public_url(&self.tokens.issuer, self.server.insecure_plaintext)?;
        let t = &self.tokens;
        if t.audience.trim().is_empty() {
            return Err(bad("tokens.audience", "must not be empty"));
        }
        if !(60..=86_400).contains(&t.access_ttl.secs()) {
            return Err(bad("tokens.access_ttl", "must be between 1m and 24h"));
        }
        if t.refresh_ttl < t.access_ttl || t.refresh_ttl.secs() > 365 * 86_400 {
            return Err(bad(
                "tokens.refresh_ttl",
                "must be at least access_ttl and at most 365d",
            ));
        }
        if !(60..=365 * 86_400).contains(&t.service_token_ttl.secs()) {
            return Err(bad(
                "tokens.service_token_ttl",
                "must be between 1m and 365d",
            ));
        }
        if t.refresh_grace.secs() > 60 {
            return Err(bad("tokens.refresh_grace", "must be at most 60s"));
        }
        if let Some(r) = t.signing_key_rotation
            && r.secs() < 3600
        {
            return Err(bad("tokens.signing_key_rotation", "must be at least 1h"));
        }
        if t.signing_key_lead.secs() > 86_400 {
            return Err(bad("tokens.signing_key_lead", "must be at most 24h"));
        }
        if let Some(r) = t.signing_key_rotation
            && t.signing_key_lead >= r
        {
            return Err(bad(
                "tokens.signing_key_lead",
                "must be shorter than tokens.signing_key_rotation",
            ));
        }
        let a = &self.argon2;
        if a.memory_kib < ARGON2_MIN_MEMORY_KIB {
            return Err(bad(
                "argon2.memory_kib",
                format!(
                    "{} is below the OWASP minimum of {ARGON2_MIN_MEMORY_KIB} KiB",
                    a.memory_kib
                ),
            ));
        }
        if a.memory_kib > 4 * 1024 * 1024 {
            return Err(bad("argon2.memory_kib", "must be at most 4194304 (4 GiB)"));
        }
        if a.time < ARGON2_MIN_TIME {
            return Err(bad(
                "argon2.time",
                format!(
                    "{} is below the OWASP minimum of {ARGON2_MIN_TIME} iterations",
                    a.time
                ),
            ));
        }
        if a.time > 100 {
            return Err(bad("argon2.time", "must be at most 100"));
        }
        if !(1..=64).contains(&a.parallelism) {
            return Err(bad("argon2.parallelism", "must be between 1 and 64"));
        }
        if self.rate_limit.requests_per_second == 0 {
            return Err(bad("rate_limit.requests_per_second", "must be at least 1"));
        }
        if self.rate_limit.burst == 0 {
            return Err(bad("rate_limit.burst", "must be at least 1"));
        }
        let sessions = &self.sessions;
        if !(60..=86_400).contains(&sessions.idle_timeout.secs()) {
            return Err(bad("sessions.idle_timeout", "must be between 1m and 24h"));
        }
        if sessions.lifetime.secs() < sessions.idle_timeout.secs()
            || sessions.lifetime.secs() > 30 * 86_400
        {
            return Err(bad(
                "sessions.lifetime",
                "must be at least sessions.idle_timeout and at most 30d",
            ));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return Err(bad(
                "log.level",
                format!(
                    "{:?} is not a valid filter (e.g. info, debug)",
                    self.log.level
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"
[server]
listen_addr = "127.0.0.1:8443"
tls_cert = "tls/server.pem"
tls_key = "tls/server-key.pem"

[database]
path = "mcias.db"

[master_key]
keyfile = "master.key"

[tokens]
issuer = "https://localhost:8443"
access_ttl = "15m"
"#;

    fn err(text: &str) -> String {
        match Config::parse(text) {
            Ok(c) => format!("unexpectedly valid: {c:?}"),
            Err(e) => e.message,
        }
    }

    #[test]
    fn valid_config_round_trips() -> Result<()> {
        let c = Config::parse(VALID)?;
        assert_eq!(c.tokens.access_ttl, Duration(900));
        assert_eq!(c.argon2, Argon2Config::default());
        assert_eq!(c.tokens.audience, "mcias");
        let again = Config::parse(&c.to_toml()?)?;
        assert_eq!(c, again);
        Ok(())
    }

    #[test]
    fn missing_required_key_is_named() {
        let text = VALID.replace("path = \"mcias.db\"", "");
        let e = err(&text);
        assert!(e.contains("missing field `path`"), "{e}");
        let e = err(&VALID.replace("issuer = \"https://localhost:8443\"", ""));
        assert!(
            e.contains("server.public_url") && e.contains("missing"),
            "{e}"
        );
    }

    #[test]
    fn public_url_and_issuer_are_one_setting() -> Result<()> {
        let only_url = VALID
            .replace("issuer = \"https://localhost:8443\"", "")
            .replace(
                "listen_addr = \"127.0.0.1:8443\"",
                "listen_addr = \"127.0.0.1:8443\"\npublic_url = \"https://id.example.com/\"",
            );
        let c = Config::parse(&only_url)?;
        assert_eq!(c.tokens.issuer, "https://id.example.com/");
        assert_eq!(c.public_url(), "https://id.example.com");
        let c = Config::parse(VALID)?;
        assert_eq!(
            c.server.public_url.as_deref(),
            Some("https://localhost:8443")
        );
        let both = VALID.replace(
            "listen_addr = \"127.0.0.1:8443\"",
            "listen_addr = \"127.0.0.1:8443\"\npublic_url = \"https://other.example.com\"",
        );
        let e = err(&both);
        assert!(
            e.contains("server.public_url") && e.contains("tokens.issuer"),
            "{e}"
        );
        for bad_url in [
            "localhost:8443",
            "http://id.example.com",
            "https://",
            "https://a?b=c",
        ] {
            let e = err(&VALID.replace("https://localhost:8443", bad_url));
            assert!(e.contains("server.public_url"), "{bad_url}: {e}");
        }
        Ok(())
    }

    #[test]
    fn unknown_key_is_named() {
        let e = err(&VALID.replace("[database]", "[database]\npaht = \"x\""));
        assert!(e.contains("paht"), "{e}");
    }

    #[test]
    fn unsafe_argon2_is_rejected_with_key() {
        let e = err(&format!("{VALID}\n[argon2]\nmemory_kib = 8192\n"));
        assert!(
            e.contains("argon2.memory_kib") && e.contains("19456"),
            "{e}"
        );
        let e = err(&format!("{VALID}\n[argon2]\ntime = 1\n"));
        assert!(e.contains("argon2.time"), "{e}");
        let ok = Config::parse(&format!(
            "{VALID}\n[argon2]\nmemory_kib = 19456\ntime = 2\nparallelism = 1\n"
        ));
        assert!(ok.is_ok());
    }

    #[test]
    fn master_key_needs_exactly_one_source() {
        let e = err(&VALID.replace(
            "keyfile = \"master.key\"",
            "keyfile = \"k\"\npassphrase_env = \"P\"",
        ));
        assert!(e.contains("master_key"), "{e}");
        let e = err(&VALID.replace("keyfile = \"master.key\"", ""));
        assert!(e.contains("master_key"), "{e}");
    }

    #[test]
    fn plaintext_only_on_loopback() {
        let text = VALID.replace("127.0.0.1:8443", "0.0.0.0:8443").replace(
            "tls_key = \"tls/server-key.pem\"",
            "tls_key = \"k\"\ninsecure_plaintext = true",
        );
        let e = err(&text);
        assert!(e.contains("server.insecure_plaintext"), "{e}");
    }

    #[test]
    fn tls_files_required_without_plaintext() {
        let e = err(&VALID.replace("tls_cert = \"tls/server.pem\"", ""));
        assert!(e.contains("server.tls_cert"), "{e}");
    }

    #[test]
    fn cors_origins_are_checked() -> Result<()> {
        let with = |list: &str| {
            VALID.replace(
                "tls_key = \"tls/server-key.pem\"",
                &format!("tls_key = \"tls/server-key.pem\"\ncors_allowed_origins = {list}"),
            )
        };
        let c = Config::parse(&with(
            r#"["https://app.example.com", "http://localhost:5173"]"#,
        ))?;
        assert_eq!(c.server.cors_allowed_origins.len(), 2);
        assert!(Config::parse(&with(r#"["*"]"#)).is_ok());
        for bad_origin in [
            r#"["app.example.com"]"#,
            r#"["https://app.example.com/"]"#,
            r#"["https://a.b/c"]"#,
        ] {
            let e = err(&with(bad_origin));
            assert!(e.contains("server.cors_allowed_origins"), "{e}");
        }
        Ok(())
    }

    #[test]
    fn session_settings() -> Result<()> {
        let c = Config::parse(&VALID.replace(
            "access_ttl = \"15m\"",
            "access_ttl = \"15m\"\nrefresh_grace = \"2s\"\nsigning_key_rotation = \"30d\"",
        ))?;
        assert_eq!(c.tokens.refresh_grace, Duration(2));
        assert_eq!(c.tokens.signing_key_rotation, Some(Duration(30 * 86_400)));
        assert_eq!(Config::parse(VALID)?.tokens.refresh_grace, Duration(0));
        let e = err(&VALID.replace(
            "access_ttl = \"15m\"",
            "access_ttl = \"15m\"\nrefresh_grace = \"5m\"",
        ));
        assert!(e.contains("tokens.refresh_grace"), "{e}");
        let e = err(&VALID.replace(
            "access_ttl = \"15m\"",
            "access_ttl = \"15m\"\nsigning_key_rotation = \"10m\"",
        ));
        assert!(e.contains("tokens.signing_key_rotation"), "{e}");
        Ok(())
    }

    #[test]
    fn signing_key_lead() -> Result<()> {
        assert_eq!(Config::parse(VALID)?.tokens.signing_key_lead, Duration(300));
        let with = |extra: &str| {
            VALID.replace(
                "access_ttl = \"15m\"",
                &format!("access_ttl = \"15m\"\n{extra}"),
            )
        };
        let c = Config::parse(&with("signing_key_lead = \"0s\""))?;
        assert_eq!(c.tokens.signing_key_lead, Duration(0));
        let c = Config::parse(&with("signing_key_lead = \"1h\""))?;
        assert_eq!(c.tokens.signing_key_lead, Duration(3600));
        for bad_lead in [
            "signing_key_lead = \"25h\"",
            "signing_key_lead = \"2h\"\nsigning_key_rotation = \"2h\"",
        ] {
            let e = err(&with(bad_lead));
            assert!(e.contains("tokens.signing_key_lead"), "{e}");
        }
        let e = err(&with("signing_key_lead = \"soon\""));
        assert!(e.contains("signing_key_lead") || e.contains("soon"), "{e}");
        Ok(())
    }

    #[test]
    fn bad_duration_is_named() {
        let e = err(&VALID.replace("\"15m\"", "\"15 minutes\""));
        assert!(e.contains("access_ttl") || e.contains("15 minutes"), "{e}");
        let e = err(&VALID.replace("\"15m\"", "\"10s\""));
        assert!(e.contains("tokens.access_ttl"), "{e}");
    }

    #[test]
    fn relative_paths_resolve_against_config_dir() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::internal(e.to_string()))?;
        let p = dir.path().join("mcias.toml");
        std::fs::write(&p, VALID).map_err(|e| Error::internal(e.to_string()))?;
        let c = Config::load(&p)?;
        assert_eq!(c.database.path, dir.path().join("mcias.db"));
        assert_eq!(c.master_key.keyfile, Some(dir.path().join("master.key")));
        Ok(())
    }
}
