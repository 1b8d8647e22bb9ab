//! ferry against real registries (Debian's docker-registry on loopback):
//! push and pull with every authentication set-up, skopeo as the peer, and
//! faults injected by a proxy.

use std::path::Path;
use std::process::Command;

use ferry_tests::Scratch;
use ferry_tests::registry::{
    DEMO_INDEX_DIGEST, DemoImage, FaultProxy, Faults, Match, Registry, Rule, Setup, SkopeoSide,
    ferry, ferry_bin, skopeo, succeeded,
};

fn sha256(bytes: &[u8]) -> String {
    ferry_core::Digest::sha256_of(bytes).to_string()
}

/// ferry pushes, skopeo pulls; skopeo pushes, ferry pulls: identical
/// digests both ways, with inspect, list-tags and delete on top.
fn round_trip(setup: Setup, name: &str) {
    let registry = Registry::start(setup);
    let s = Scratch::new(name);
    let dest = registry.skopeo_flags(SkopeoSide::Dest);
    let src = registry.skopeo_flags(SkopeoSide::Src);
    let only = registry.skopeo_flags(SkopeoSide::Only);

    let mut push: Vec<String> = vec![
        "copy".into(),
        "--all".into(),
        "--progress".into(),
        "none".into(),
    ];
    push.extend(dest.iter().cloned());
    push.extend(["demo:".into(), registry.docker_ref("ferry/demo:v1")]);
    assert_eq!(
        succeeded(&ferry(&push)),
        DEMO_INDEX_DIGEST,
        "{name}: ferry push"
    );

    let mut inspect: Vec<String> = vec!["inspect".into(), "--raw".into()];
    inspect.extend(only.iter().cloned());
    inspect.push(registry.docker_ref("ferry/demo:v1"));
    let raw = skopeo(&inspect);
    assert!(
        raw.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&raw.stderr)
    );
    assert_eq!(
        sha256(&raw.stdout),
        DEMO_INDEX_DIGEST,
        "{name}: skopeo reads ferry's push"
    );
    let mut pull: Vec<String> = vec!["copy".into(), "--all".into()];
    pull.extend(src.iter().cloned());
    pull.extend([
        registry.docker_ref("ferry/demo:v1"),
        format!("dir:{}", s.arg("skopeo-pulled")),
    ]);
    let out = skopeo(&pull);
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let demo = DemoImage::make();
    let mut skopeo_push: Vec<String> = vec!["copy".into(), "--all".into()];
    skopeo_push.extend(dest.iter().cloned());
    skopeo_push.extend([demo.dir_ref(), registry.docker_ref("skopeo/demo:v1")]);
    let out = skopeo(&skopeo_push);
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut ferry_pull: Vec<String> = vec![
        "copy".into(),
        "--all".into(),
        "--progress".into(),
        "none".into(),
    ];
    ferry_pull.extend(src.iter().cloned());
    ferry_pull.extend([
        registry.docker_ref("skopeo/demo:v1"),
        format!("oci:{}:pulled", s.arg("oci")),
    ]);
    assert_eq!(
        succeeded(&ferry(&ferry_pull)),
        DEMO_INDEX_DIGEST,
        "{name}: ferry reads skopeo's push"
    );

    let mut tags: Vec<String> = vec!["list-tags".into()];
    tags.extend(only.iter().cloned());
    tags.push(registry.docker_ref("ferry/demo"));
    let listed: serde_json::Value = serde_json::from_str(&succeeded(&ferry(&tags))).unwrap();
    assert_eq!(listed["Tags"], serde_json::json!(["v1"]), "{name}");

    let mut summary: Vec<String> = vec!["inspect".into()];
    summary.extend(only.iter().cloned());
    summary.push(registry.docker_ref("ferry/demo:v1"));
    let inspected: serde_json::Value = serde_json::from_str(&succeeded(&ferry(&summary))).unwrap();
    assert_eq!(inspected["Digest"], DEMO_INDEX_DIGEST);
    assert_eq!(inspected["Layers"].as_array().unwrap().len(), 2);
}

#[test]
fn push_and_pull_over_plain_http() {
    round_trip(Setup::plain(), "plain");
}

#[test]
fn push_and_pull_with_basic_auth() {
    round_trip(Setup::basic("alice", "wonderland"), "basic");
}

#[test]
fn push_and_pull_with_bearer_tokens() {
    round_trip(Setup::token("bob", "builder"), "token");
}

#[test]
fn push_and_pull_over_tls_with_a_private_ca() {
    round_trip(Setup::tls(), "tls");
}

#[test]
fn tokens_are_asked_for_with_the_repository_scope_and_reused() {
    let registry = Registry::start(Setup::token("bob", "builder"));
    let mut push: Vec<String> = vec![
        "copy".into(),
        "--all".into(),
        "--progress".into(),
        "none".into(),
    ];
    push.extend(registry.skopeo_flags(SkopeoSide::Dest));
    push.extend(["demo:".into(), registry.docker_ref("scoped/demo:v1")]);
    succeeded(&ferry(&push));
    let requests = registry.token_requests();
    assert!(!requests.is_empty());
    assert!(
        requests.iter().all(|r| r.user.as_deref() == Some("bob")),
        "{requests:?}"
    );
    assert!(
        requests.iter().any(|r| r
            .scopes
            .iter()
            .any(|s| s == "repository:scoped/demo:pull,push")),
        "{requests:?}"
    );
    // One token serves the whole push (14 requests or more).
    assert!(
        requests.len() <= 2,
        "{} token requests: {requests:?}",
        requests.len()
    );
}

#[test]
fn wrong_credentials_fail_clearly_without_printing_the_password() {
    let registry = Registry::start(Setup::basic("alice", "wonderland"));
    let out = ferry(&[
        "copy",
        "--all",
        "--dest-tls-verify=false",
        "--dest-creds",
        "alice:not-the-password",
        "demo:",
        &registry.docker_ref("x/y:z"),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not authorized") || err.contains("401"),
        "{err}"
    );
    assert!(!err.contains("not-the-password"), "{err}");
}

#[test]
fn registry_to_registry_mounts_shared_blobs_and_keeps_the_list_digest() {
    let registry = Registry::start(Setup::plain());
    let flags = [
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--progress",
        "none",
    ];
    let mut first = vec!["copy", "--all"];
    first.extend(flags);
    let target = registry.docker_ref("a/demo:v1");
    first.extend(["demo:", &target]);
    succeeded(&ferry(&first));
    let other = registry.docker_ref("b/demo:v1");
    let mut second = vec!["copy", "--all", "--json"];
    second.extend(flags);
    second.extend([target.as_str(), other.as_str()]);
    let report: serde_json::Value = serde_json::from_str(&succeeded(&ferry(&second))).unwrap();
    assert_eq!(report["digest"], DEMO_INDEX_DIGEST);
    assert_eq!(report["blobsMounted"], 9, "{report}");
    assert_eq!(report["blobsCopied"], 0);
}

#[test]
fn stripping_platforms_writes_a_smaller_list_the_registry_accepts() {
    let registry = Registry::start(Setup::plain());
    let target = registry.docker_ref("small/demo:v1");
    let digest = succeeded(&ferry(&[
        "copy",
        "--dest-tls-verify=false",
        "--progress",
        "none",
        "--multi-arch",
        "linux/amd64,linux/arm/v7",
        "--strip-removed-platforms",
        "demo:",
        &target,
    ]));
    let raw = skopeo(["inspect", "--raw", "--tls-verify=false", &target]);
    assert!(raw.status.success());
    assert_eq!(sha256(&raw.stdout), digest);
    let list = ferry_core::List::parse(&raw.stdout).unwrap();
    assert_eq!(list.entries.len(), 2);
}

#[test]
fn copies_through_faults_complete_verified_resuming_cut_downloads() {
    let registry = Registry::start(Setup::plain());
    let s = Scratch::new("faults");
    // A bigger blob than the demo's, so a cut lands inside it.
    let big = s.arg("big");
    std::fs::create_dir_all(&big).unwrap();
    let mut layer: Vec<u8> = (0..4 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    // gzip's magic bytes: a destination that wants compressed layers
    // keeps it as it is (bytes that are not compressed it would gzip, a
    // new blob that the cut below would never meet).
    layer[..3].copy_from_slice(&[0x1f, 0x8b, 0x08]);
    let layer_digest = ferry_core::Digest::sha256_of(&layer);
    std::fs::write(Path::new(&big).join(layer_digest.encoded()), &layer).unwrap();
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = ferry_core::Digest::sha256_of(config);
    std::fs::write(Path::new(&big).join(config_digest.encoded()), config).unwrap();
    std::fs::write(
        Path::new(&big).join("manifest.json"),
        format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{layer_digest}","size":{}}}]}}"#,
            config.len(),
            layer.len()
        ),
    )
    .unwrap();
    std::fs::write(
        Path::new(&big).join("version"),
        "Directory Transport Version: 1.1\n",
    )
    .unwrap();
    succeeded(&ferry(&[
        "copy",
        "--dest-tls-verify=false",
        "--progress",
        "none",
        &format!("dir:{big}"),
        &registry.docker_ref("faulty/big:v1"),
    ]));

    let proxy: FaultProxy = registry.proxy(
        Faults::none()
            // The layer itself (not the config, which may be fetched at the
            // same moment): cut once after 1 MiB.
            .with(
                Rule::cut_body(Match::contains("GET", layer_digest.as_str()), 1024 * 1024).times(1),
            )
            .with(Rule::status(Match::prefix("GET", "/v2/faulty/big/manifests/"), 500).times(1))
            .with(
                Rule::too_many_requests(Match::prefix("GET", "/v2/faulty/big/manifests/"), 1)
                    .times(1),
            ),
    );
    let source = format!("docker://{}/faulty/big:v1", proxy.host());
    let out = ferry(&[
        "copy",
        "--src-tls-verify=false",
        "--progress",
        "none",
        "--json",
        &source,
        &format!("oci:{}:pulled", s.arg("oci")),
    ]);
    let report: serde_json::Value = serde_json::from_str(&succeeded(&out)).unwrap();
    assert_eq!(
        proxy.fired(1),
        1,
        "the manifest request failed once with 500"
    );
    assert_eq!(proxy.fired(0), 1, "the blob download was cut once");
    // The cut download resumed with a Range request: nothing was fetched
    // twice.
    let refetched = report["bytesRefetched"].as_u64().unwrap();
    assert_eq!(refetched, 0, "{report}");
    println!("bytes fetched again after the cut: {refetched} (resumed with Range)");
    // What arrived is verified: the layer in the layout has its digest.
    let stored = std::fs::read(
        s.path("oci")
            .join("blobs/sha256")
            .join(layer_digest.encoded()),
    )
    .unwrap();
    assert!(layer_digest.matches(&stored));
}

#[test]
fn credentials_come_from_an_auth_file_when_no_creds_are_given() {
    let registry = Registry::start(Setup::basic("carol", "s3cret"));
    let s = Scratch::new("authfile");
    let file = s.arg("auth.json");
    // base64("carol:s3cret")
    std::fs::write(
        &file,
        format!(
            r#"{{"auths":{{"{}":{{"auth":"Y2Fyb2w6czNjcmV0"}}}}}}"#,
            registry.host()
        ),
    )
    .unwrap();
    let target = registry.docker_ref("authfile/demo:v1");
    let out = ferry(&[
        "copy",
        "--all",
        "--dest-tls-verify=false",
        "--progress",
        "none",
        "--authfile",
        &file,
        "demo:",
        &target,
    ]);
    assert_eq!(succeeded(&out), DEMO_INDEX_DIGEST);
    // The same file through $REGISTRY_AUTH_FILE, for inspect.
    let out = Command::new(ferry_bin())
        .env("HOME", ferry_tests::test_home())
        .env("REGISTRY_AUTH_FILE", &file)
        .args(["inspect", "--raw", "--tls-verify=false", &target])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(sha256(&out.stdout), DEMO_INDEX_DIGEST);
}

/// ferry's nested-index fixture (native/tests/fixtures/nested-index): an
/// OCI index naming a nested index of two images, and a third image.
const NESTED_TOP: &str = "sha256:128b09475903ed6931059bea70e791d8b73cc325abe294db73907b89805a2088";
const NESTED_CHILD: &str =
    "sha256:42c47f7995a56036f10631bcf126e7923e79b459663c51942cb20fe5fd05b60e";

#[test]
fn a_nested_index_is_pushed_whole_and_skopeo_reads_both_indexes_back() {
    let registry = Registry::start(Setup::plain());
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../native/tests/fixtures/nested-index");
    let target = registry.docker_ref("nested/index:v1");
    let digest = succeeded(&ferry(&[
        "copy",
        "--all",
        "--dest-tls-verify=false",
        "--progress",
        "none",
        &format!("oci:{}:nested", fixture.display()),
        &target,
    ]));
    assert_eq!(digest, NESTED_TOP);
    let raw = skopeo(["inspect", "--raw", "--tls-verify=false", &target]);
    assert!(
        raw.status.success(),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    assert_eq!(sha256(&raw.stdout), NESTED_TOP);
    let child = registry.docker_ref(&format!("nested/index@{NESTED_CHILD}"));
    let raw = skopeo(["inspect", "--raw", "--tls-verify=false", &child]);
    assert!(
        raw.status.success(),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    assert_eq!(sha256(&raw.stdout), NESTED_CHILD);
    for entry in ferry_core::List::parse(&raw.stdout).unwrap().entries {
        let image = registry.docker_ref(&format!("nested/index@{}", entry.digest_text));
        let raw = skopeo(["inspect", "--raw", "--tls-verify=false", &image]);
        assert!(
            raw.status.success(),
            "{}",
            String::from_utf8_lossy(&raw.stderr)
        );
        assert_eq!(sha256(&raw.stdout), entry.digest_text);
    }
    // And ferry pulls it back whole.
    let s = Scratch::new("nested-pull");
    let oci = s.arg("oci");
    let digest = succeeded(&ferry(&[
        "copy",
        "--all",
        "--src-tls-verify=false",
        "--progress",
        "none",
        &target,
        &format!("oci:{oci}"),
    ]));
    assert_eq!(digest, NESTED_TOP);
    let blob = Path::new(&oci)
        .join("blobs/sha256")
        .join(NESTED_CHILD.trim_start_matches("sha256:"));
    assert!(blob.is_file(), "the nested index was not pulled");
}
