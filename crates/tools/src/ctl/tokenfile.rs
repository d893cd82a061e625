//! The token file: where `login` keeps the access token and, after a
//! password login, the refresh token (mode 0600).

use std::io::Write;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::{Ctx, Fail, R};

/// The token file's contents: the access token on the first line and,
/// after a password login, the refresh token on the second.
pub(super) struct Stored {
    pub(super) access: Zeroizing<String>,
    pub(super) refresh: Option<Zeroizing<String>>,
}

impl Stored {
    fn parse(text: &str) -> Option<Self> {
        let mut lines = text.lines().map(str::trim);
        let access = lines.next().filter(|l| !l.is_empty())?;
        let refresh = lines
            .next()
            .filter(|l| !l.is_empty())
            .map(|l| Zeroizing::new(l.to_owned()));
        Some(Self {
            access: Zeroizing::new(access.to_owned()),
            refresh,
        })
    }
}

impl Ctx {
    /// --token-file, else $XDG_CONFIG_HOME/mcias/token or
    /// ~/.config/mcias/token.
    pub(super) fn token_file(&self) -> R<PathBuf> {
        if let Some(p) = &self.cli.token_file {
            return Ok(p.clone());
        }
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
            .ok_or_else(|| {
                Fail::Usage("neither HOME nor XDG_CONFIG_HOME is set; give --token-file".into())
            })?;
        Ok(base.join("mcias").join("token"))
    }

    /// The token file's contents, if it exists and holds a token.
    pub(super) fn stored(&self) -> R<Option<Stored>> {
        let path = self.token_file()?;
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Stored::parse(&Zeroizing::new(text))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Fail::Usage(format!("cannot read {}: {e}", path.display()))),
        }
    }

    /// Writes the access token and, when there is one, the refresh token.
    pub(super) fn store_tokens(&self, access: &str, refresh: Option<&str>) -> R<PathBuf> {
        let path = self.token_file()?;
        let mut contents = Zeroizing::new(access.to_owned());
        if let Some(r) = refresh.filter(|r| !r.is_empty()) {
            contents.push('\n');
            contents.push_str(r);
        }
        write_private(&path, &contents)
            .map_err(|e| Fail::Refused(format!("cannot write {}: {e}", path.display())))?;
        Ok(path)
    }
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(dir)?;
    }
    let tmp = {
        let mut name = path.as_os_str().to_owned();
        name.push(".tmp");
        PathBuf::from(name)
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(contents.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Removes the token file; a missing one is fine.
pub(super) fn remove(path: &Path) -> R<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Fail::Refused(format!(
            "cannot remove {}: {e}",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::Stored;

    #[test]
    fn token_file_lines() {
        let s = Stored::parse("access\nrefresh\n").unwrap();
        assert_eq!(s.access.as_str(), "access");
        assert_eq!(s.refresh.as_deref().map(String::as_str), Some("refresh"));
        // A file from before refresh tokens: one line.
        let s = Stored::parse("  access  \n").unwrap();
        assert_eq!(s.access.as_str(), "access");
        assert!(s.refresh.is_none());
        let s = Stored::parse("access\r\n\r\n").unwrap();
        assert!(s.refresh.is_none());
        assert!(Stored::parse("").is_none());
        assert!(Stored::parse("\nrefresh\n").is_none());
    }
}
