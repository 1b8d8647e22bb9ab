//! Signatures through lookaside storage configured in `registries.d`
//! (containers-registries.d(5)), against Debian's docker-registry: written
//! to a `file://` staging directory on push, read back over `file://` and
//! over `http://` (a loopback static server) on pull, per instance.

use std::path::{Path, PathBuf};

use ferry_tests::registry::{
    DEMO_INDEX_DIGEST, DemoImage, Registry, Reply, ScriptedServer, Setup, failed, ferry, skopeo,
    succeeded,
};

/// A stand-in for a simple-signing signature: containers/image recognises
/// the format by its first byte (0xA3 opens an OpenPGP compressed-data
/// packet) and copies such signatures without verifying them.
fn signature(text: &str) -> Vec<u8> {
    let mut bytes = vec![0xa3];
    bytes.extend_from_slice(text.as_bytes());
    bytes
}

/// The demo image in `dir:` form with signatures: two for the index and
/// one for each instance, with contents that name what they sign.
fn signed_demo() -> (DemoImage, Vec<String>) {
    let demo = DemoImage::make();
    std::fs::write(
        demo.path().join("signature-1"),
        signature("index signature one"),
    )
    .unwrap();
    std::fs::write(
        demo.path().join("signature-2"),
        signature("index signature two"),
    )
    .unwrap();
    let list = ferry_core::List::parse(&demo.index()).unwrap();
    let mut instances = Vec::new();
    for entry in &list.entries {
        let digest = entry.digest().unwrap();
        std::fs::write(
            demo.path()
                .join(format!("{}.signature-1", digest.encoded())),
            signature(&format!("signature of {digest}")),
        )
        .unwrap();
        instances.push(digest.to_string());
    }
    (demo, instances)
}

fn write_registries_d(dir: &Path, file: &str, yaml: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(file), yaml).unwrap();
}

/// `{base}/{repo}@sha256={hex}/signature-{n}` under a file:// top level.
fn signature_file(top: &Path, repository: &str, digest: &str, n: usize) -> PathBuf {
    let (algorithm, hex) = digest.split_once(':').unwrap();
    top.join(format!("{repository}@{algorithm}={hex}"))
        .join(format!("signature-{n}"))
}

fn copy_args(registries_d: &Path, source: &str, destination: &str) -> Vec<String> {
    [
        "copy",
        "--all",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--progress",
        "none",
        "--registries.d",
        &registries_d.display().to_string(),
        source,
        destination,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The signatures a `dir:` image holds for the index and each instance.
fn dir_signatures(dir: &Path, instances: &[String]) -> Vec<(String, Vec<u8>)> {
    let mut names = vec!["signature-1".to_string(), "signature-2".to_string()];
    for digest in instances {
        let hex = digest.split_once(':').unwrap().1;
        names.push(format!("{hex}.signature-1"));
    }
    names
        .into_iter()
        .map(|n| {
            let bytes = std::fs::read(dir.join(&n))
                .unwrap_or_else(|e| panic!("{}: {e}", dir.join(&n).display()));
            (n, bytes)
        })
        .collect()
}

#[test]
fn signatures_go_to_file_staging_on_push_and_come_back_per_instance_on_pull() {
    let registry = Registry::start(Setup::plain());
    let (demo, instances) = signed_demo();
    let scratch = tempfile::tempdir().unwrap();
    let top = scratch.path().join("sigstore");
    let config = scratch.path().join("registries.d");
    write_registries_d(
        &config,
        "ferry.yaml",
        &format!(
            "docker:\n  {host}/signed:\n    lookaside: file://{top}\n    lookaside-staging: file://{top}\n",
            host = registry.host(),
            top = top.display()
        ),
    );
    let target = registry.docker_ref("signed/demo:v1");
    assert_eq!(
        succeeded(&ferry(&copy_args(&config, &demo.dir_ref(), &target))),
        DEMO_INDEX_DIGEST
    );
    // Staging holds signature-N files named by each manifest's digest.
    assert_eq!(
        std::fs::read(signature_file(&top, "signed/demo", DEMO_INDEX_DIGEST, 2)).unwrap(),
        signature("index signature two")
    );
    for digest in &instances {
        assert_eq!(
            std::fs::read(signature_file(&top, "signed/demo", digest, 1)).unwrap(),
            signature(&format!("signature of {digest}"))
        );
        assert!(!signature_file(&top, "signed/demo", digest, 2).exists());
    }

    let pulled = scratch.path().join("pulled");
    succeeded(&ferry(&copy_args(
        &config,
        &target,
        &format!("dir:{}", pulled.display()),
    )));
    assert_eq!(
        dir_signatures(&pulled, &instances),
        dir_signatures(demo.path(), &instances)
    );
}

#[test]
fn signatures_are_read_from_an_http_lookaside_and_a_404_ends_them() {
    let registry = Registry::start(Setup::plain());
    let (demo, instances) = signed_demo();
    let scratch = tempfile::tempdir().unwrap();
    let staging = scratch.path().join("staging");
    let push_config = scratch.path().join("push.d");
    write_registries_d(
        &push_config,
        "staging.yaml",
        &format!(
            "default-docker:\n  sigstore-staging: file://{}\n",
            staging.display()
        ),
    );
    let target = registry.docker_ref("web/demo:v1");
    succeeded(&ferry(&copy_args(&push_config, &demo.dir_ref(), &target)));

    // A static web server publishing the staging directory, as the
    // containers/image documentation suggests.
    let root = staging.clone();
    let web = ScriptedServer::start(move |request| {
        let relative = request.path().trim_start_matches("/sigs/");
        if relative.contains("..") {
            return Reply::status(400);
        }
        match std::fs::read(root.join(relative)) {
            Ok(bytes) => Reply::ok(bytes),
            Err(_) => Reply::not_found(),
        }
    });
    let pull_config = scratch.path().join("pull.d");
    // The most specific namespace wins over default-docker.
    write_registries_d(
        &pull_config,
        "a-default.yaml",
        "default-docker:\n  lookaside: file:///nonexistent/never-read\n",
    );
    write_registries_d(
        &pull_config,
        "b-host.yaml",
        &format!(
            "docker:\n  {}:\n    lookaside: {}/sigs/\n",
            registry.host(),
            web.url()
        ),
    );
    let pulled = scratch.path().join("pulled");
    succeeded(&ferry(&copy_args(
        &pull_config,
        &target,
        &format!("dir:{}", pulled.display()),
    )));
    assert_eq!(
        dir_signatures(&pulled, &instances),
        dir_signatures(demo.path(), &instances)
    );
    let requests = web.requests();
    // Index: 1, 2 and the 404 for 3; each instance: 1 and the 404 for 2.
    assert_eq!(requests.len(), 3 + 2 * instances.len(), "{requests:#?}");
    assert!(
        requests.iter().all(|r| r.header("authorization").is_none()),
        "no credentials go to the lookaside server"
    );
}

#[test]
fn a_push_of_signatures_without_lookaside_staging_fails_before_writing_anything() {
    let registry = Registry::start(Setup::plain());
    let (demo, _) = signed_demo();
    let scratch = tempfile::tempdir().unwrap();
    let empty = scratch.path().join("registries.d");
    std::fs::create_dir_all(&empty).unwrap();
    let target = registry.docker_ref("unsigned/demo:v1");
    let stderr = failed(&ferry(&copy_args(&empty, &demo.dir_ref(), &target)));
    assert!(
        stderr.contains("Pushing signatures to a Docker Registry is not supported")
            || stderr.contains("pushing signatures to a Docker Registry is not supported"),
        "{stderr}"
    );
    assert!(stderr.contains("--remove-signatures"), "{stderr}");
    // Nothing reached the registry: no blob, no manifest, no tag.
    let tags = registry
        .request("GET", "/v2/unsigned/demo/tags/list", &[])
        .unwrap();
    assert_eq!(tags.status, 404, "{}", tags.text());
    assert!(
        !registry
            .storage_dir()
            .join("docker/registry/v2/blobs")
            .exists()
    );

    // --remove-signatures makes the same copy go through.
    let mut args = copy_args(&empty, &demo.dir_ref(), &target);
    args.insert(1, "--remove-signatures".into());
    assert_eq!(succeeded(&ferry(&args)), DEMO_INDEX_DIGEST);
}

#[test]
fn an_http_staging_location_and_a_broken_configuration_are_refused_by_name() {
    let registry = Registry::start(Setup::plain());
    let (demo, _) = signed_demo();
    let scratch = tempfile::tempdir().unwrap();
    let http_staging = scratch.path().join("http.d");
    write_registries_d(
        &http_staging,
        "web.yaml",
        "default-docker:\n  lookaside-staging: https://sigs.example/upload\n",
    );
    let stderr = failed(&ferry(&copy_args(
        &http_staging,
        &demo.dir_ref(),
        &registry.docker_ref("http/demo:v1"),
    )));
    assert!(stderr.contains("only supported to file://"), "{stderr}");
    let tags = registry
        .request("GET", "/v2/http/demo/tags/list", &[])
        .unwrap();
    assert_eq!(tags.status, 404, "refused before anything was pushed");

    let broken = scratch.path().join("broken.d");
    write_registries_d(&broken, "bad.yaml", "docker:\n  - not a mapping\n");
    let stderr = failed(&ferry(&copy_args(
        &broken,
        &demo.dir_ref(),
        &registry.docker_ref("broken/demo:v1"),
    )));
    assert!(
        stderr.contains("bad.yaml") && stderr.contains("docker: expected a mapping"),
        "{stderr}"
    );

    let twice = scratch.path().join("twice.d");
    write_registries_d(
        &twice,
        "a.yaml",
        "default-docker:\n  lookaside: file:///a\n",
    );
    write_registries_d(
        &twice,
        "b.yaml",
        "default-docker:\n  lookaside: file:///b\n",
    );
    let stderr = failed(&ferry(&copy_args(
        &twice,
        &demo.dir_ref(),
        &registry.docker_ref("twice/demo:v1"),
    )));
    assert!(
        stderr.contains("default-docker is configured in both"),
        "{stderr}"
    );
}

#[test]
fn skopeo_reads_the_signatures_ferry_staged_and_ferry_reads_skopeos() {
    let registry = Registry::start(Setup::plain());
    let (demo, instances) = signed_demo();
    let scratch = tempfile::tempdir().unwrap();
    let top = scratch.path().join("sigstore");
    let config = scratch.path().join("registries.d");
    write_registries_d(
        &config,
        "shared.yaml",
        &format!(
            "default-docker:\n  sigstore: file://{top}\n  sigstore-staging: file://{top}\n",
            top = top.display()
        ),
    );
    let config_flag = format!("--registries.d={}", config.display());

    // ferry pushes, skopeo pulls.
    let by_ferry = registry.docker_ref("by-ferry/demo:v1");
    succeeded(&ferry(&copy_args(&config, &demo.dir_ref(), &by_ferry)));
    let skopeo_pulled = scratch.path().join("skopeo-pulled");
    let out = skopeo([
        config_flag.as_str(),
        "copy",
        "--all",
        "--src-tls-verify=false",
        &by_ferry,
        &format!("dir:{}", skopeo_pulled.display()),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        dir_signatures(&skopeo_pulled, &instances),
        dir_signatures(demo.path(), &instances)
    );

    // skopeo pushes, ferry pulls.
    let by_skopeo = registry.docker_ref("by-skopeo/demo:v1");
    let out = skopeo([
        config_flag.as_str(),
        "copy",
        "--all",
        "--dest-tls-verify=false",
        &demo.dir_ref(),
        &by_skopeo,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ferry_pulled = scratch.path().join("ferry-pulled");
    succeeded(&ferry(&copy_args(
        &config,
        &by_skopeo,
        &format!("dir:{}", ferry_pulled.display()),
    )));
    assert_eq!(
        dir_signatures(&ferry_pulled, &instances),
        dir_signatures(demo.path(), &instances)
    );
}
