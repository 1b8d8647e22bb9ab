//! The native side of the parity suite: every conformance case through
//! `ferry_api::call`, one JSON line per case.
//!
//! The calls are the ones in `tests/parity/operations.json`; the other
//! runtimes (the npm package under Node, in Chromium, in workerd) make the
//! same calls through the same facade and must print the same lines, byte
//! for byte. Output:
//!
//! ```text
//! {"conformanceDir":"…","cases":248,"calls":33}
//! {"case":"generated/0001-docker-list","answers":[{"ok":…},{"error":"…"},…]}
//! ```
//!
//! Each answer is embedded exactly as `call` returned it, so the line is the
//! comparison. After the conformance cases come the parity suite's own
//! inputs, `tests/parity/cases/NAME.json`, named `parity/NAME` (the header's
//! `parityCasesDir`): documents a call needs that the conformance corpus
//! lacks, such as a list whose image manifests `planCopy` is given. Usage: `cargo run -q -p ferry-tests --bin parity [OPERATIONS.json]`.
//!
//! `parity bench FILE [ITERATIONS]` times `call` for `digest` and `inspect`
//! on FILE natively, for `tests/parity/bench.mjs`, which compares with the
//! same calls in WebAssembly under Node (build with `--release`).

use std::io::{BufWriter, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use ferry_tests::conformance;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("parity: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    if std::env::args().nth(1).as_deref() == Some("bench") {
        return bench();
    }
    let operations = std::env::args_os().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("parity/operations.json"),
        PathBuf::from,
    );
    let calls = load_calls(&operations)?;
    let mut cases: Vec<(String, Vec<u8>)> = conformance::load()
        .into_iter()
        .map(|c| (c.name, c.bytes))
        .collect();
    let dir = conformance::dir();
    let dir = dir.canonicalize().unwrap_or(dir);
    let own = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("parity/cases");
    let own = own.canonicalize().unwrap_or(own);
    cases.extend(parity_cases(&own)?);

    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let header = serde_json::json!({
        "conformanceDir": dir.display().to_string(),
        "parityCasesDir": own.display().to_string(),
        "cases": cases.len(),
        "calls": calls.len(),
    });
    let write_error = |e: std::io::Error| format!("cannot write: {e}");
    writeln!(out, "{header}").map_err(write_error)?;
    for (name, bytes) in &cases {
        let name = serde_json::to_string(name).map_err(|e| e.to_string())?;
        write!(out, "{{\"case\":{name},\"answers\":[").map_err(write_error)?;
        for (i, (op, args)) in calls.iter().enumerate() {
            if i > 0 {
                out.write_all(b",").map_err(write_error)?;
            }
            let answer = ferry_api::call(op, bytes, args);
            out.write_all(answer.as_bytes()).map_err(write_error)?;
        }
        out.write_all(b"]}\n").map_err(write_error)?;
    }
    out.flush().map_err(write_error)
}

/// The suite's own inputs in `dir`, as `(parity/NAME, bytes)`, by name.
fn parity_cases(dir: &std::path::Path) -> Result<Vec<(String, Vec<u8>)>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut cases = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        let bytes =
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        cases.push((format!("parity/{name}"), bytes));
    }
    cases.sort();
    Ok(cases)
}

/// `(op, args)` pairs; `args` is passed on as the exact string the file
/// holds, as every runtime does.
fn load_calls(path: &std::path::Path) -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let calls = doc["calls"]
        .as_array()
        .ok_or_else(|| format!("{}: no \"calls\" array", path.display()))?;
    calls
        .iter()
        .map(|c| match (c["op"].as_str(), c["args"].as_str()) {
            (Some(op), Some(args)) => Ok((op.to_string(), args.to_string())),
            _ => Err(format!(
                "{}: each call needs string \"op\" and \"args\": {c}",
                path.display()
            )),
        })
        .collect()
}

/// Prints `{"op","iterations","nsPerCall"}` for `digest` and `inspect` of a file.
fn bench() -> Result<(), String> {
    let mut args = std::env::args().skip(2);
    let path = args.next().ok_or("usage: parity bench FILE [ITERATIONS]")?;
    let iterations: u32 = match args.next() {
        Some(n) => n.parse().map_err(|e| format!("ITERATIONS: {e}"))?,
        None => 200,
    };
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    for op in ["digest", "inspect"] {
        let first = ferry_api::call(op, &bytes, "");
        if !first.starts_with("{\"ok\":") {
            return Err(format!("{op} failed on {path}: {first}"));
        }
        let start = std::time::Instant::now();
        for _ in 0..iterations {
            std::hint::black_box(ferry_api::call(op, std::hint::black_box(&bytes), ""));
        }
        let ns = start.elapsed().as_nanos() / u128::from(iterations.max(1));
        println!(
            "{}",
            serde_json::json!({"op": op, "iterations": iterations, "nsPerCall": ns as u64})
        );
    }
    Ok(())
}
