//! Compiles the repository's `proto/` with protox (no protoc needed) into one encoded
//! FileDescriptorSet that keeps extension options (the `google.api.http` rules
//! and the `mcias.v1.permission` option), then generates the prost messages
//! and tonic services from it.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "mcias/v1/options.proto",
    "mcias/v1/account.proto",
    "mcias/v1/auth_service.proto",
    "mcias/v1/token_service.proto",
    "mcias/v1/account_service.proto",
    "mcias/v1/admin_service.proto",
    "mcias/v1/client_service.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=../../proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    let mut compiler = protox::Compiler::new(["../../proto"])?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(PROTOS)?;

    // `encode_file_descriptor_set` keeps extension options; re-encoding the
    // prost-types value would drop them.
    std::fs::write(
        out_dir.join("mcias_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // No `connect` helpers: they need tonic's transport, which a user of
        // the messages alone does not want.
        .build_transport(false)
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
