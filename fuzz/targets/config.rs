//! Config parsing: TOML text → validated `Config` (`Config::parse`), and a
//! valid config written back (`to_toml`) parses again.

use mcias_core::config::Config;

pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cfg) = Config::parse(text) {
        let again = cfg.to_toml().expect("a valid config serializes");
        let back = Config::parse(&again)
            .unwrap_or_else(|e| panic!("a valid config written back is refused: {e:?}\n{again}"));
        assert_eq!(back, cfg, "{again}");
    }
}
