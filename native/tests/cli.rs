//! The `ferry` binary as a user meets it: output, exit codes, and what
//! happens on bad input.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const V2S1_SIGNED_DIGEST: &str =
    "sha256:7f821268369f8802c6c3d0ad3b3b49c80d3b11494e4d0e4395fd27ee66171bdb";
const V2S1_SIGNED_FILE_SHA256: &str =
    "sha256:79427efce8ea255e8850fbb172e538d330aa71819697588e61e623e961352dc4";
const OCI_INDEX_DIGEST: &str =
    "sha256:e6292e1d8c413482e135e881de4b00da9281f8ac92fb23d85578afab2163a1f6";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn ferry(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .env("HOME", fixture("../../../tests/fixtures/home"))
        .args(args)
        .output()
        .expect("run ferry")
}

fn ferry_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .env("HOME", fixture("../../../tests/fixtures/home"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ferry");
    let mut stdin = child.stdin.take().expect("stdin");
    // ferry may stop reading early (oversized input); a broken pipe is fine.
    let _ = stdin.write_all(input);
    drop(stdin);
    child.wait_with_output().expect("wait for ferry")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts that ferry exited with `code`, saying `needle` on stderr.
fn assert_exit(out: &Output, code: i32, needle: &str) {
    assert_eq!(out.status.code(), Some(code), "{}", stderr(out));
    assert!(stderr(out).contains(needle), "{}", stderr(out));
}

/// `ferry manifest COMMAND FILE FLAGS...`.
fn manifest(command: &str, file: &Path, flags: &[&str]) -> Output {
    let mut args = vec!["manifest", command, file.to_str().unwrap()];
    args.extend_from_slice(flags);
    ferry(&args)
}

/// The JSON a successful run printed; a failed run fails the test with its
/// stderr.
fn json_of(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A scratch file that is removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str, content: &[u8]) -> Self {
        let dir = std::env::temp_dir().join(format!("ferry-cli-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let path = dir.join(name);
        std::fs::write(&path, content).expect("write scratch file");
        Scratch(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("utf-8 temp path")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn digest_of_signed_schema1_is_the_payload_digest() {
    let out = manifest("digest", &fixture("v2s1-signed.json"), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), V2S1_SIGNED_DIGEST);
    assert_ne!(V2S1_SIGNED_DIGEST, V2S1_SIGNED_FILE_SHA256);
}

#[test]
fn manifest_digest_is_skopeos_spelling_of_the_same_command() {
    let path = fixture("oci-index.json");
    let a = ferry(&["manifest-digest", path.to_str().unwrap()]);
    let b = ferry(&["manifest", "digest", path.to_str().unwrap()]);
    assert_eq!(stdout(&a).trim(), OCI_INDEX_DIGEST);
    assert_eq!(stdout(&a), stdout(&b));
}

// Each test file uses part of the shared rule (its `require` is for
// registry tests).
#[allow(dead_code)]
#[path = "../../tests/src/skopeo.rs"]
mod skopeo_check;

/// Every manifest file the digest comparison covers: the conformance
/// corpus and ferry-core's schema 1 key fixtures (signed with libtrust).
fn digest_comparison_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap();
            if path.is_dir() {
                walk(&path, out);
            } else if name.ends_with(".json") && !name.ends_with(".expected.json") {
                out.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    walk(&root.join("tests/conformance"), &mut files);
    walk(&root.join("core/tests/fixtures/schema1-keys"), &mut files);
    files.sort();
    files
}

#[test]
fn manifest_digest_prints_what_skopeo_prints_for_every_file() {
    if !skopeo_check::available("ferry manifest-digest against skopeo manifest-digest") {
        return;
    }
    // Beyond the corpus: a file over the 4 MiB manifest limit, which skopeo
    // reads whole.
    let mut big = b"{\"pad\":\"".to_vec();
    big.extend(std::iter::repeat_n(b'x', 5 << 20));
    big.extend_from_slice(b"\"}");
    let big = Scratch::new("five-mebibytes.json", &big);
    let mut files = digest_comparison_files();
    assert!(files.len() >= 280, "only {} files", files.len());
    files.push(PathBuf::from(big.path()));

    let mut differences = Vec::new();
    for path in &files {
        let theirs = Command::new(skopeo_check::PROGRAM)
            .arg("manifest-digest")
            .arg(path)
            .output()
            .expect("run skopeo");
        let ours = ferry(&["manifest-digest", path.to_str().unwrap()]);
        // skopeo panics (exit 2) on an RSA exponent over 4 bytes; ferry
        // fails as on any other key it cannot read.
        let skopeo_panicked = stderr(&theirs).contains("panic: ");
        let same_status = if skopeo_panicked {
            ours.status.code() == Some(1)
        } else {
            ours.status.code() == theirs.status.code()
        };
        if theirs.stdout != ours.stdout || !same_status {
            differences.push(format!(
                "{}: skopeo {:?} {:?} {}, ferry {:?} {:?} {}",
                path.display(),
                theirs.status.code(),
                stdout(&theirs),
                stderr(&theirs).trim(),
                ours.status.code(),
                stdout(&ours),
                stderr(&ours).trim()
            ));
        }
    }
    assert!(differences.is_empty(), "{differences:#?}");
}

#[test]
fn manifest_digest_hashes_what_is_not_json_and_manifest_digest_refuses_it() {
    let sha256 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let empty = Scratch::new("empty-for-digest.json", b"");
    let out = ferry(&["manifest-digest", empty.path()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{sha256}\n"));
    let strict = ferry(&["manifest", "digest", empty.path()]);
    assert_eq!(strict.status.code(), Some(1));
    assert!(stdout(&strict).is_empty());
}

#[test]
fn manifest_digest_fails_like_skopeo_when_signatures_are_malformed() {
    let out = ferry(&[
        "manifest-digest",
        fixture("v2s1-signed-bad-protected.json").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());
    assert!(
        stderr(&out).contains("invalid base64url at /signatures/0/protected"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn inspect_describes_a_signed_schema1_whose_signatures_are_malformed() {
    let file = fixture("v2s1-signed-bad-protected.json");
    let v = json_of(&manifest("inspect", &file, &["--json"]));
    assert_eq!(
        v["mediaType"],
        "application/vnd.docker.distribution.manifest.v1+prettyjws"
    );
    assert!(!v["layers"].as_array().unwrap().is_empty());
    assert_eq!(v["digest"], serde_json::Value::Null);
    assert_eq!(v["diagnostics"][0]["pointer"], "/signatures");
    assert_eq!(v["diagnostics"][0]["severity"], "error");

    let text = manifest("inspect", &file, &[]);
    assert!(text.status.success(), "{}", stderr(&text));
    let text = stdout(&text);
    assert!(text.contains("Digest:      none"), "{text}");
    assert!(
        text.contains("Problem:     error: /signatures: the manifest digest cannot be computed: invalid base64url at /signatures/0/protected"),
        "{text}"
    );
}

#[test]
fn dash_reads_standard_input() {
    let bytes = std::fs::read(fixture("oci-index.json")).unwrap();
    let out = ferry_stdin(&["manifest", "digest", "-"], &bytes);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), OCI_INDEX_DIGEST);
}

#[test]
fn inspect_json_describes_an_image() {
    let v = json_of(&manifest("inspect", &fixture("v2s2.json"), &["--json"]));
    assert_eq!(
        v["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(v["detectedMediaType"], v["mediaType"]);
    assert!(v["digest"].as_str().unwrap().starts_with("sha256:"));
    for key in ["digest", "size", "mediaType"] {
        assert!(v["config"].get(key).is_some(), "config lacks {key}: {v}");
    }
    assert!(v["layers"].is_array());
}

#[test]
fn inspect_json_describes_a_list_with_platforms() {
    let v = json_of(&manifest(
        "inspect",
        &fixture("oci-index.json"),
        &["--json"],
    ));
    assert_eq!(v["mediaType"], "application/vnd.oci.image.index.v1+json");
    assert_eq!(v["digest"], OCI_INDEX_DIGEST);
    let manifests = v["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 2);
    assert_eq!(manifests[0]["platform"]["os"], "linux");
    assert_eq!(manifests[0]["platform"]["architecture"], "arm");
    for key in ["digest", "size", "mediaType"] {
        assert!(manifests[0].get(key).is_some(), "entry lacks {key}");
    }
}

#[test]
fn inspect_text_shows_platforms_and_sizes() {
    let out = manifest("inspect", &fixture("oci-index.json"), &[]);
    let text = stdout(&out);
    assert!(text.contains("linux/arm"), "{text}");
    assert!(text.contains("linux/ppc64le"), "{text}");
    assert!(text.contains(OCI_INDEX_DIGEST), "{text}");
}

#[test]
fn validate_exits_zero_for_a_valid_manifest() {
    let out = manifest("validate", &fixture("v2s2.json"), &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}

#[test]
fn validate_exits_one_and_lists_every_problem() {
    let doc = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:bad","size":-5},"layers":[],"Layers":[]}"#;
    let file = Scratch::new("problems.json", doc);
    let out = ferry(&["manifest", "validate", "--json", file.path()]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    let pointers: Vec<&str> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["pointer"].as_str().unwrap())
        .collect();
    for p in ["/config/digest", "/config/size", "/Layers"] {
        assert!(pointers.contains(&p), "{p} not in {pointers:?}");
    }
}

#[test]
fn validate_exits_two_for_an_unreadable_file_or_bad_usage() {
    let out = ferry(&["manifest", "validate", "/nonexistent/ferry/manifest.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/nonexistent/ferry/manifest.json"));
    let out = ferry(&["manifest", "validate", "--no-such-flag", "x"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Every hostile input fails cleanly: non-zero exit, a one-line error that
/// names the file, and no panic.
#[test]
fn bad_input_gets_a_one_line_error_never_a_panic() {
    let mut deep = vec![b'['; 100_000];
    deep.extend(std::iter::repeat_n(b']', 100_000));
    let mut big_valid = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0},"layers":[],"annotations":{"pad":""#.to_vec();
    big_valid.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
    big_valid.extend_from_slice(b"\"}}");
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty.json", Vec::new()),
        ("garbage.bin", garbage),
        ("whitespace.json", vec![b' '; 100 * 1024 * 1024]),
        ("deep.json", deep),
        (
            "invalid-utf8.json",
            b"{\"schemaVersion\":2,\xff\xfe}".to_vec(),
        ),
        ("ten-megabytes.json", big_valid),
    ];
    for (name, content) in cases {
        let file = Scratch::new(name, &content);
        for command in [
            &["manifest", "inspect"][..],
            &["manifest", "digest"],
            &["manifest", "validate"],
        ] {
            let mut args = command.to_vec();
            args.push(file.path());
            let out = ferry(&args);
            let err = stderr(&out);
            let text = format!("{err}{}", stdout(&out));
            assert!(!out.status.success(), "{command:?} {name} succeeded");
            assert!(
                !text.contains("panicked"),
                "{command:?} {name} panicked: {err}"
            );
            assert!(
                text.contains(name),
                "{command:?} {name}: output does not name the file: {text}"
            );
            if command[1] != "validate" {
                assert_eq!(
                    err.trim_end().lines().count(),
                    1,
                    "{command:?} {name}: {err}"
                );
            }
        }
    }
}

#[test]
fn choose_prints_the_digest_for_a_platform() {
    let list = fixture("oci-index.json");
    let out = manifest("choose", &list, &["--platform", "linux/ppc64le"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&list).unwrap()).unwrap();
    assert_eq!(
        stdout(&out).trim(),
        doc["manifests"][1]["digest"].as_str().unwrap()
    );
}

#[test]
fn choose_json_explains_every_entry() {
    let list = fixture("oci-index.json");
    let v = json_of(&manifest(
        "choose",
        &list,
        &["--json", "--platform", "linux/arm"],
    ));
    assert!(v["digest"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(v["explanation"].as_array().unwrap().len(), 2);
}

#[test]
fn choose_without_a_match_exits_one_naming_the_platform() {
    let list = fixture("oci-index.json");
    let out = manifest("choose", &list, &["--platform", "linux/riscv64"]);
    assert_exit(&out, 1, "linux/riscv64");
}

#[test]
fn choose_rejects_a_malformed_platform_as_a_usage_error() {
    let list = fixture("oci-index.json");
    let out = manifest("choose", &list, &["--platform", "linux"]);
    assert_exit(&out, 2, "os/architecture");
}

#[test]
fn convert_writes_the_new_list_and_reports_losses_on_stderr() {
    let list = fixture("oci-index-annotated.json");
    let out = manifest("convert", &list, &["--to", "docker-list"]);
    let v = json_of(&out);
    assert_eq!(
        v["mediaType"],
        "application/vnd.docker.distribution.manifest.list.v2+json"
    );
    let err = stderr(&out);
    assert!(err.contains("dropped /annotations"), "{err}");
    assert!(err.contains("defaulted /manifests/1/platform"), "{err}");
}

#[test]
fn convert_report_is_json_with_the_new_digest() {
    let list = fixture("oci-index-annotated.json");
    let v = json_of(&manifest(
        "convert",
        &list,
        &[
            "--to",
            "docker-list",
            "--report",
            "--default-platform",
            "linux/amd64",
        ],
    ));
    assert!(v["digest"].as_str().unwrap().starts_with("sha256:"));
    let losses = v["losses"].as_array().unwrap();
    assert!(
        losses
            .iter()
            .any(|l| l["kind"] == "defaulted" && l["pointer"] == "/manifests/1/platform")
    );
}

/// The digest of the built-in demo index (pinned in `demo.rs` too).
const DEMO_INDEX: &str = "sha256:dceb5d4a6bad3eb2dd02f10a6b6a19a36cce7e0850d937fb68b81dfae2811111";

/// ferry's demo list (linux amd64, arm64/v8, arm/v7, s390x) in an OCI
/// layout of its own, removed when dropped.
struct DemoLayout(PathBuf);

impl DemoLayout {
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ferry-cli-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let layout = DemoLayout(dir);
        let out = ferry(&[
            "copy",
            "--progress",
            "none",
            "--all",
            "demo:",
            &layout.reference(),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        layout
    }

    fn reference(&self) -> String {
        format!("oci:{}:demo", self.0.display())
    }
}

impl Drop for DemoLayout {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn inspect_with_overrides_describes_the_image_chosen_for_that_platform() {
    let layout = DemoLayout::new("inspect-overrides");
    let out = ferry(&[
        "inspect",
        "--override-arch",
        "arm",
        "--override-variant",
        "v7",
        &layout.reference(),
    ]);
    let v = json_of(&out);
    assert_eq!(v["Architecture"], "arm");
    assert_eq!(v["Variant"], "v7");
    // The digest is the list's, as skopeo reports it.
    assert_eq!(v["Digest"], DEMO_INDEX);
}

#[test]
fn inspect_raw_prints_the_list_whatever_the_overrides_say() {
    let layout = DemoLayout::new("inspect-raw-overrides");
    let out = ferry(&[
        "inspect",
        "--raw",
        "--override-arch",
        "arm64",
        &layout.reference(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        ferry_core::Digest::sha256_of(&out.stdout).to_string(),
        DEMO_INDEX
    );
}

#[test]
fn inspect_with_overrides_no_image_matches_names_the_platform() {
    let layout = DemoLayout::new("inspect-no-match");
    let out = ferry(&["inspect", "--override-os", "windows", &layout.reference()]);
    assert_exit(&out, 1, "windows/");
}

/// `ferry inspect` and `skopeo inspect` with the same overrides: the same
/// bytes for `--raw`, the same image described otherwise, the same
/// failures.
#[test]
fn inspect_with_overrides_answers_as_skopeo_inspect_does() {
    if !skopeo_check::available("ferry inspect --override-* against skopeo inspect") {
        return;
    }
    let layout = DemoLayout::new("inspect-vs-skopeo");
    let reference = layout.reference();
    let cases: &[&[&str]] = &[
        &["--override-arch", "arm64"],
        &["--override-arch", "arm", "--override-variant", "v7"],
        &["--override-os", "linux", "--override-arch", "s390x"],
        &["--override-arch", "arm", "--override-variant", "v6"],
        &["--override-os", "windows"],
        &["--raw", "--override-arch", "arm64"],
        &["--config", "--raw", "--override-arch", "arm64"],
        &[
            "--config",
            "--raw",
            "--override-arch",
            "arm",
            "--override-variant",
            "v7",
        ],
    ];
    for flags in cases {
        let mut args = vec!["inspect"];
        args.extend_from_slice(flags);
        args.push(&reference);
        let theirs = Command::new(skopeo_check::PROGRAM)
            .args(&args)
            .output()
            .expect("run skopeo");
        let ours = ferry(&args);
        assert_eq!(
            ours.status.success(),
            theirs.status.success(),
            "{flags:?}: ferry {}, skopeo {}",
            stderr(&ours),
            stderr(&theirs)
        );
        if !theirs.status.success() {
            continue;
        }
        if flags.contains(&"--raw") {
            assert_eq!(ours.stdout, theirs.stdout, "{flags:?}");
            continue;
        }
        let ours: serde_json::Value = serde_json::from_slice(&ours.stdout).unwrap();
        let theirs: serde_json::Value = serde_json::from_slice(&theirs.stdout).unwrap();
        for key in ["Digest", "Created", "Architecture", "Os", "Layers", "Env"] {
            assert_eq!(ours[key], theirs[key], "{flags:?}: {key}");
        }
    }
}
