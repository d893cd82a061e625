//! Reading passwords: from the terminal without echo (twice for a new one),
//! or from standard input for scripts. Never from an argument.

use std::io::BufRead;

use zeroize::Zeroizing;

/// Reads up to `n` lines of standard input (without their line endings).
pub fn stdin_lines(n: usize) -> Result<Vec<Zeroizing<String>>, String> {
    let stdin = std::io::stdin();
    let mut lock = stdin.lock();
    let mut out = Vec::new();
    for _ in 0..n {
        let mut line = Zeroizing::new(String::new());
        let read = lock
            .read_line(&mut line)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        if read == 0 {
            break;
        }
        out.push(Zeroizing::new(
            line.trim_end_matches(['\r', '\n']).to_owned(),
        ));
    }
    Ok(out)
}

/// Prompts on the terminal without echo.
pub fn secret(prompt: &str) -> Result<Zeroizing<String>, String> {
    rpassword::prompt_password(prompt)
        .map(Zeroizing::new)
        .map_err(|e| {
            format!("cannot prompt on the terminal ({e}); use --password-stdin in scripts")
        })
}

/// Prompts for a new secret twice; refuses an empty one or a mismatch.
pub fn new_secret(what: &str) -> Result<Zeroizing<String>, String> {
    let first = secret(&format!("{what}: "))?;
    if first.is_empty() {
        return Err(format!("{what} must not be empty"));
    }
    let second = secret(&format!("{what} (again): "))?;
    if !constant_time_eq(first.as_bytes(), second.as_bytes()) {
        return Err("the two entries do not match; nothing was changed".into());
    }
    Ok(first)
}

/// Reads a new secret from standard input: one line, or two identical
/// lines when `confirm` (a mismatch is refused).
pub fn new_secret_stdin(confirm: bool) -> Result<Zeroizing<String>, String> {
    let mut lines = stdin_lines(if confirm { 2 } else { 1 })?;
    if confirm && lines.len() == 2 {
        let second = lines.pop().unwrap_or_default();
        let first = lines.pop().unwrap_or_default();
        if !constant_time_eq(first.as_bytes(), second.as_bytes()) {
            return Err(
                "the two passwords on standard input do not match; nothing was changed".into(),
            );
        }
        lines.push(first);
    }
    lines
        .pop()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| "no password on standard input".to_owned())
}

/// Prompts for a line on the terminal (echoed).
pub fn line(prompt: &str) -> Result<String, String> {
    eprint!("{prompt}");
    let mut s = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut s)
        .map_err(|e| format!("cannot read standard input: {e}"))?;
    let s = s.trim().to_owned();
    if s.is_empty() {
        return Err("nothing entered".into());
    }
    Ok(s)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
