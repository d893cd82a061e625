//! MCIAS server: the wire around the domain of `mcias-core`.
//!
//! `api` serves gRPC, gRPC-Web, REST/JSON and the OAuth endpoints on one TLS
//! port and converts between the wire (`mcias-proto`) and domain types;
//! `dev` prepares the zero-setup development server; `cli` holds the clap
//! definition of `mciassrv`.

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::todo,
        clippy::unimplemented,
        clippy::await_holding_lock
    )
)]

pub mod api;
pub mod cli;
pub mod dev;

/// The layering the crate graph and these checks enforce (ARCHITECTURE.md,
/// "Invariants"): the core knows nothing of the wire, the API never reaches
/// past the domain into the store, the Rust client carries no server.
#[cfg(test)]
mod layering {
    use std::path::{Path, PathBuf};

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// Lines of code (comments skipped) under `dir` that name any of `names`
    /// as a path (`name::`).
    fn naming(dir: &str, names: &[&str]) -> Vec<String> {
        let mut files = Vec::new();
        rust_files(&root().join(dir), &mut files);
        let mut hits = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.trim_start();
                if code.starts_with("//") {
                    continue;
                }
                for name in names {
                    let found = code.match_indices(&format!("{name}::")).any(|(i, _)| {
                        i == 0 || {
                            let before = code.as_bytes()[i - 1];
                            !(before.is_ascii_alphanumeric() || before == b'_')
                        }
                    });
                    if found {
                        hits.push(format!("{}:{}: {code}", f.display(), n + 1));
                    }
                }
            }
        }
        hits
    }

    /// The `[dependencies]` section of a manifest.
    fn normal_dependencies(manifest: &str) -> String {
        let text = std::fs::read_to_string(root().join(manifest)).unwrap();
        let start = text.find("\n[dependencies]").unwrap();
        let rest = &text[start + 1..];
        let end = rest[1..].find("\n[").map_or(rest.len(), |i| i + 1);
        rest[..end].to_owned()
    }

    const WIRE: &[&str] = &[
        "tonic",
        "tonic-prost",
        "prost",
        "prost-types",
        "prost-reflect",
        "hyper",
        "hyper-util",
        "axum",
        "tower",
        "http",
        "mcias-proto",
    ];

    #[test]
    fn the_core_knows_no_wire() {
        let deps = normal_dependencies("crates/core/Cargo.toml");
        for name in WIRE {
            assert!(
                !deps
                    .lines()
                    .any(|l| l.starts_with(&format!("{name}."))
                        || l.starts_with(&format!("{name} "))),
                "mcias-core depends on {name}"
            );
        }
        let snake: Vec<String> = WIRE.iter().map(|n| n.replace('-', "_")).collect();
        let names: Vec<&str> = snake.iter().map(String::as_str).collect();
        let hits = naming("crates/core/src", &names);
        assert!(
            hits.is_empty(),
            "wire types below the API:\n{}",
            hits.join("\n")
        );
    }

    #[test]
    fn the_api_never_names_the_store() {
        let hits = naming("src", &["store", "rusqlite"]);
        assert!(
            hits.is_empty(),
            "the API reaches into the store:\n{}",
            hits.join("\n")
        );
    }

    #[test]
    fn the_tools_reach_the_database_through_idm() {
        let hits = naming("crates/tools/src", &["store", "rusqlite"]);
        assert!(
            hits.is_empty(),
            "the tools reach into the store:\n{}",
            hits.join("\n")
        );
    }

    #[test]
    fn oauth_calls_rpcs_by_type_not_by_name() {
        let text = std::fs::read_to_string(root().join("src/api/oauth.rs")).unwrap();
        assert!(
            !text.contains("\"mcias.v1.") && !text.contains("get_field_by_name"),
            "src/api/oauth.rs names RPCs or fields by string"
        );
    }

    #[test]
    fn the_rust_client_carries_no_server() {
        let deps = normal_dependencies("clients/rust/Cargo.toml");
        for name in ["mcias-server", "mcias-core", "rusqlite", "argon2", "axum"] {
            assert!(!deps.contains(name), "mcias-client depends on {name}");
        }
        assert!(
            !deps.contains("\"server\"") && !deps.contains("\"router\""),
            "mcias-client enables tonic's server: {deps}"
        );
    }
}
