//! `ferry copy --dry-run` and `ferry copy` are one machine
//! (`ferry_core::copy`), fed answers in one case and I/O in the other: for
//! every copy scenario of the suite, both must report the same plan (the
//! manifests to write, each blob to move or skip, the byte counts) and skip
//! the same blobs.

mod support;

use std::path::Path;

use support::{Scratch, ferry, gzip, tar_of, write_dir_image, write_dir_image_uncompressed};

/// Runs `ferry copy --json ARGS SRC DST` (with `--dry-run` first when
/// `dry`) and returns its report.
fn report(dry: bool, args: &[&str], src: &str, dst: &str) -> serde_json::Value {
    let mut all = vec!["copy", "--json"];
    if dry {
        all.push("--dry-run");
    }
    all.extend_from_slice(args);
    all.extend([src, dst]);
    let out = ferry(&all);
    assert!(
        out.status.success(),
        "ferry {all:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A dry run, then the copy, into `dst` as it is: the plans and the skipped
/// blobs must agree.
fn dry_run_agrees(scenario: &str, args: &[&str], src: &str, dst: &str) {
    let planned = report(true, args, src, dst);
    let done = report(false, args, src, dst);
    assert_eq!(planned["dryRun"], true);
    assert_eq!(
        planned["plan"], done["plan"],
        "{scenario}: the dry run's plan is not the copy's"
    );
    assert_eq!(
        planned["blobsSkipped"], done["blobsSkipped"],
        "{scenario}: the dry run skips other blobs than the copy"
    );
    assert_eq!(
        planned["bytesSkipped"], done["bytesSkipped"],
        "{scenario}: skipped bytes differ"
    );
}

/// An unsigned schema 1 `dir:` image with one real layer.
fn schema1_dir(root: &Path) {
    std::fs::create_dir_all(root).unwrap();
    let layer = gzip(&tar_of("base.txt", b"base"));
    let digest = ferry_core::Digest::sha256_of(&layer);
    std::fs::write(root.join(digest.encoded()), &layer).unwrap();
    let compat = format!(
        r#"{{"id":"{}","created":"2019-01-01T00:00:00Z","architecture":"amd64","os":"linux","container_config":{{"Cmd":["/bin/sh"]}}}}"#,
        "a".repeat(64)
    );
    let manifest = serde_json::json!({
        "schemaVersion": 1,
        "name": "ferry/test",
        "tag": "latest",
        "architecture": "amd64",
        "fsLayers": [{"blobSum": digest.to_string()}],
        "history": [{"v1Compatibility": compat}],
    });
    std::fs::write(
        root.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
    std::fs::write(root.join("version"), "Directory Transport Version: 1.1\n").unwrap();
}

fn fixture(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
        .display()
        .to_string()
}

/// Every destination kind that can be written locally, fresh.
fn destinations(s: &Scratch, name: &str) -> Vec<String> {
    let at = |kind: &str| s.join(&format!("{name}-{kind}")).display().to_string();
    vec![
        format!("dir:{}", at("dir")),
        format!("oci:{}:x", at("oci")),
        format!("oci-archive:{}:x", at("oci-archive.tar")),
        format!("docker-archive:{}:x/y:z", at("docker-archive.tar")),
    ]
}

#[test]
fn a_dry_run_plans_what_each_local_copy_does() {
    let s = Scratch::new("dry-run-agrees");
    let plain = s.join("plain").display().to_string();
    write_dir_image_uncompressed(Path::new(&plain), 8, 2, 2048);
    let schema1 = s.join("schema1").display().to_string();
    schema1_dir(Path::new(&schema1));
    let nested = format!("oci:{}:nested", fixture("nested-index"));
    let sources: Vec<(&str, String, Vec<&str>)> = vec![
        ("the system image of a list", "demo:".into(), vec![]),
        (
            "an image with uncompressed layers",
            format!("dir:{plain}"),
            vec![],
        ),
        ("a schema 1 image", format!("dir:{schema1}"), vec![]),
        (
            "a docker-archive",
            format!(
                "docker-archive:{}",
                fixture("archives/skopeo-docker-archive.tar")
            ),
            vec![],
        ),
        (
            "an oci-archive",
            format!("oci-archive:{}", fixture("archives/skopeo-oci-archive.tar")),
            vec![],
        ),
        ("one platform of a nested index", nested.clone(), vec![]),
    ];
    for (i, (scenario, src, args)) in sources.iter().enumerate() {
        for dst in destinations(&s, &format!("s{i}")) {
            dry_run_agrees(&format!("{scenario} to {dst}"), args, src, &dst);
        }
    }
    // Whole lists, to the kinds that store lists.
    let lists: Vec<(&str, String, Vec<&str>)> = vec![
        ("a whole list", "demo:".into(), vec!["--all"]),
        (
            "the list alone",
            "demo:".into(),
            vec!["--multi-arch", "index-only"],
        ),
        (
            "a stripped list",
            "demo:".into(),
            vec!["--multi-arch", "linux/arm64", "--strip-removed-platforms"],
        ),
        ("a nested index", nested, vec!["--all"]),
    ];
    for (i, (scenario, src, args)) in lists.iter().enumerate() {
        for dst in destinations(&s, &format!("l{i}"))
            .into_iter()
            .filter(|d| !d.starts_with("docker-archive:"))
        {
            dry_run_agrees(&format!("{scenario} to {dst}"), args, src, &dst);
        }
    }
}

#[test]
fn a_dry_run_into_a_filled_destination_skips_what_the_copy_skips() {
    let s = Scratch::new("dry-run-filled");
    let half = s.join("half").display().to_string();
    write_dir_image(Path::new(&half), 9, 3, 2048);
    for dst in [
        format!("dir:{}", s.join("dir").display()),
        format!("oci:{}:x", s.join("oci").display()),
    ] {
        // Filled by one image, then the whole list; then all over again.
        report(false, &[], &format!("dir:{half}"), &dst);
        dry_run_agrees(
            &format!("the demo list onto {dst}"),
            &["--all"],
            "demo:",
            &dst,
        );
        dry_run_agrees(
            &format!("the demo list again onto {dst}"),
            &["--all"],
            "demo:",
            &dst,
        );
    }
}

#[test]
fn a_dry_run_of_a_signed_list_plans_what_the_copy_does() {
    let s = Scratch::new("dry-run-signed");
    let src = s.join("src").display().to_string();
    report(false, &["--all"], "demo:", &format!("dir:{src}"));
    std::fs::write(Path::new(&src).join("signature-1"), b"top-level signature").unwrap();
    let dst = format!("dir:{}", s.join("dst").display());
    dry_run_agrees(
        "a signed list to a dir",
        &["--all"],
        &format!("dir:{src}"),
        &dst,
    );
    let oci = format!("oci:{}:x", s.join("oci").display());
    dry_run_agrees(
        "a signed list to a layout, signatures removed",
        &["--all", "--remove-signatures"],
        &format!("dir:{src}"),
        &oci,
    );
}
