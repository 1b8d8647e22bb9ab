//! The npm package's `planCopy` (ferry-api, as every runtime calls it)
//! plans what `ferry copy --dry-run` plans: the parity suite's
//! `--add-compression` call, on its own case (`demo:`'s list, with the
//! image manifests given), summarises as the CLI's dry run of `demo:`.

use std::path::{Path, PathBuf};

use ferry_tests::registry::ferry_command;

fn parity_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("parity")
}

/// The args of the parity suite's `planCopy` call with `addCompression`.
fn add_compression_call() -> String {
    let text = std::fs::read_to_string(parity_dir().join("operations.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let calls = doc["calls"].as_array().unwrap();
    let found: Vec<&str> = calls
        .iter()
        .filter(|c| c["op"] == "planCopy")
        .filter_map(|c| c["args"].as_str())
        .filter(|a| a.contains("addCompression"))
        .collect();
    assert_eq!(found.len(), 1, "one planCopy call with addCompression");
    found[0].to_string()
}

/// `ferry ARGS`' standard output, which must succeed.
fn ferry(args: &[&str]) -> Vec<u8> {
    let out = ferry_command().args(args).output().expect("run ferry");
    assert!(
        out.status.success(),
        "ferry {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn the_parity_case_of_add_compression_is_demos_list() {
    let case = std::fs::read(parity_dir().join("cases/demo-index.json")).unwrap();
    assert_eq!(ferry(&["inspect", "--raw", "demo:"]), case);
}

#[test]
fn plan_copy_with_add_compression_summarises_as_the_cli_dry_run_does() {
    let case = std::fs::read(parity_dir().join("cases/demo-index.json")).unwrap();
    let answer = ferry_api::call("planCopy", &case, &add_compression_call());
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let summary = &answer["ok"]["summary"];
    assert!(summary.is_object(), "{answer}");

    let out = std::env::temp_dir().join(format!("ferry-plan-copy-{}", std::process::id()));
    let report = ferry(&[
        "copy",
        "--progress",
        "none",
        "--dry-run",
        "--json",
        "--all",
        "--add-compression",
        "zstd",
        "demo:",
        &format!("oci:{}", out.display()),
    ]);
    assert!(!out.exists(), "a dry run writes nothing");
    let report: serde_json::Value = serde_json::from_slice(&report).unwrap();
    assert_eq!(&report["plan"], summary);
    let twins = summary["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "zstd-twin")
        .count();
    assert_eq!(twins, 4, "{summary}");
}
