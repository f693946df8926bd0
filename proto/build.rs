//! Generates the prost messages and tonic services from `proto/*.proto` with `protox`, so no
//! system `protoc` is needed.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from("proto");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "proto"))
        .collect();
    files.sort();
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    println!("cargo:rerun-if-changed={}", dir.display());
    let descriptors = protox::compile(&files, [&dir])?;
    tonic_prost_build::configure()
        // The commands of a `BatchCommands` message are boxed: the response enum is over
        // 2 KiB (its largest variant), and every answer was moved several times while
        // decoding and routing it.
        .boxed(".tikvpb.BatchCommandsRequest.Request.cmd")
        .boxed(".tikvpb.BatchCommandsResponse.Response.cmd")
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
