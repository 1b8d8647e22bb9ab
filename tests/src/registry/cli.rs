//! Running the ferry binary from registry tests.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The ferry binary: `FERRY_BIN`, else the one cargo built next to the
/// running test (building it if it is missing).
pub fn ferry_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("FERRY_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("ferry"))
        .unwrap_or_default();
    if !bin.is_file() {
        let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
            .args(["build", "--quiet", "-p", "ferry"])
            .status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "building ferry for the registry tests"
        );
    }
    bin
}

/// `ferry`, with the tests' home, to be given arguments and run.
pub fn ferry_command() -> Command {
    let mut command = Command::new(ferry_bin());
    command.env("HOME", crate::test_home());
    // No blob info cache shared between tests (nor with the user's):
    // the tests of the cache name their own file.
    command.env("FERRY_BLOB_INFO_CACHE", "off");
    command
}

/// Runs `ferry ARGS…` and returns what it did.
pub fn ferry<S: AsRef<OsStr>>(args: &[S]) -> Output {
    ferry_command()
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running ferry: {e}"))
}

/// The words of `sync --src SRC --dest DEST FLAGS… FROM TO`, the same for
/// [`ferry`] and [`skopeo`](super::skopeo), with TLS verification off on
/// each side that is `docker` (the test registries speak plain HTTP on
/// loopback).
pub fn sync_args(src: &str, dest: &str, flags: &[&str], from: &str, to: &str) -> Vec<String> {
    let mut args: Vec<String> = ["sync", "--src", src, "--dest", dest]
        .map(String::from)
        .into();
    if src == "docker" {
        args.push("--src-tls-verify=false".into());
    }
    if dest == "docker" {
        args.push("--dest-tls-verify=false".into());
    }
    args.extend(flags.iter().map(|f| f.to_string()));
    args.extend([from.to_string(), to.to_string()]);
    args
}

/// stdout of a command that must have succeeded (stderr in the panic).
pub fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "expected success; stderr:\n{}\nstdout:\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// stderr of a command that must have failed.
pub fn failed(output: &Output) -> String {
    assert!(
        !output.status.success(),
        "expected failure; stdout:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}
