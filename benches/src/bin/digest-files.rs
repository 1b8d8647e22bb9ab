//! `digest-files [--chunk BYTES] FILE...`: prints `sha256:<hex>  FILE`
//! for each file, hashing with ferry-core's streaming hasher exactly as the
//! copy engine does while it writes a blob (64 KiB reads, as
//! `native/src/fs/atomic.rs` does, unless
//! `--chunk` says otherwise, to measure what the read size costs). `run.py` runs it beside
//! `openssl dgst -sha256` and `sha256sum` on the same files: the digest
//! throughput target is a ratio to OpenSSL on the same machine.

use std::io::{Read, Write};
use std::process::ExitCode;

use ferry_core::digest::{Algorithm, Hasher};

const CHUNK: usize = 64 * 1024;

fn main() -> ExitCode {
    let mut files: Vec<String> = std::env::args().skip(1).collect();
    let mut chunk = CHUNK;
    if files.first().map(String::as_str) == Some("--chunk") {
        match files.get(1).and_then(|n| n.parse::<usize>().ok()) {
            Some(n) if n > 0 => chunk = n,
            _ => {
                eprintln!("digest-files: error: --chunk needs a positive number of bytes");
                return ExitCode::from(2);
            }
        }
        files.drain(..2);
    }
    if files.is_empty() {
        eprintln!("usage: digest-files [--chunk BYTES] FILE...");
        return ExitCode::from(2);
    }
    let mut buffer = vec![0u8; chunk];
    let mut out = std::io::stdout().lock();
    for name in &files {
        match digest(name, &mut buffer) {
            Ok(d) => {
                let _ = writeln!(out, "{d}  {name}");
            }
            Err(e) => {
                eprintln!("digest-files: error: {name}: {e}");
                return ExitCode::from(1);
            }
        }
    }
    ExitCode::SUCCESS
}

fn digest(name: &str, buffer: &mut [u8]) -> std::io::Result<ferry_core::Digest> {
    let mut file = std::fs::File::open(name)?;
    let mut hasher = Hasher::new(Algorithm::Sha256);
    loop {
        let n = file.read(buffer)?;
        if n == 0 {
            return Ok(hasher.finish());
        }
        hasher.update(&buffer[..n]);
    }
}
