//! Writes the manual pages to the directory given as the first argument
//! (default `man`). Run by `make man`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "man".into()));
    let pages = match mcias_mangen::pages() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("mangen: {e}");
            return ExitCode::FAILURE;
        }
    };
    for page in pages {
        let path = dir.join(page.path);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, page.text));
        if let Err(e) = written {
            eprintln!("mangen: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("{}", path.display());
    }
    ExitCode::SUCCESS
}
