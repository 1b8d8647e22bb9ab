//! Registry faults through the fault proxy in front of Debian's
//! docker-registry: connection resets at random (seeded, printed) offsets
//! during downloads and uploads, 500/503/429 bursts, a slow trickle, and
//! wrong bytes for a digest. Copies either complete with verified content
//! or fail saying why, with nothing half-written at the destination.
//!
//! The offsets come from `FERRY_FAULT_SEED` when set (to replay a run),
//! else from the clock; each test prints the seed it used.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ferry_core::Digest;
use ferry_tests::registry::{
    Faults, Match, Registry, Rule, Setup, SkopeoSide, failed, ferry, skopeo, succeeded,
};

/// A small deterministic generator (xorshift64*), enough for offsets.
struct Offsets(u64);

impl Offsets {
    fn seeded(test: &str) -> Offsets {
        let seed = std::env::var("FERRY_FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
        println!("{test}: FERRY_FAULT_SEED={seed}");
        Offsets(seed | 1)
    }

    /// A number in `low..high`.
    fn within(&mut self, low: u64, high: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        low + self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % (high - low)
    }
}

/// A one-layer image of 4 MiB in `dir:` form.
struct Big {
    dir: PathBuf,
    layer: Vec<u8>,
    layer_digest: Digest,
}

const LAYER_SIZE: u64 = 4 * 1024 * 1024;

fn big_image(root: &Path) -> Big {
    let dir = root.join("big");
    std::fs::create_dir_all(&dir).unwrap();
    let mut layer: Vec<u8> = (0..LAYER_SIZE as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    // gzip's magic bytes, as its type says: kept as it is by destinations
    // that want compressed layers (which would gzip plain bytes).
    layer[..3].copy_from_slice(&[0x1f, 0x8b, 0x08]);
    let layer_digest = Digest::sha256_of(&layer);
    std::fs::write(dir.join(layer_digest.encoded()), &layer).unwrap();
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = Digest::sha256_of(config);
    std::fs::write(dir.join(config_digest.encoded()), config).unwrap();
    std::fs::write(
        dir.join("manifest.json"),
        format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{layer_digest}","size":{}}}]}}"#,
            config.len(),
            layer.len()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("version"), "Directory Transport Version: 1.1\n").unwrap();
    Big {
        dir,
        layer,
        layer_digest,
    }
}

fn copy(retries: &str, source: &str, destination: &str) -> std::process::Output {
    ferry(&[
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--retry-times",
        retries,
        "--progress",
        "none",
        "--json",
        source,
        destination,
    ])
}

/// A registry holding the big image as `faulty/big:v1`.
fn registry_with_big(root: &Path) -> (Registry, Big) {
    let registry = Registry::start(Setup::plain());
    let big = big_image(root);
    succeeded(&copy(
        "0",
        &format!("dir:{}", big.dir.display()),
        &registry.docker_ref("faulty/big:v1"),
    ));
    (registry, big)
}

/// The layer as stored in a pulled `dir:` image, checked against its digest.
fn assert_layer_intact(pulled: &Path, big: &Big) {
    let stored = std::fs::read(pulled.join(big.layer_digest.encoded())).unwrap();
    assert_eq!(stored.len(), big.layer.len());
    assert!(big.layer_digest.matches(&stored), "layer content verified");
}

fn report(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn download_resets_at_random_offsets_resume_and_verify() {
    let scratch = tempfile::tempdir().unwrap();
    let (registry, big) = registry_with_big(scratch.path());
    let mut offsets = Offsets::seeded("download resets");
    let mut faults = Faults::none();
    for _ in 0..3 {
        // Each cut applies to the next (resumed) response, so a quarter of
        // the layer at most each keeps every cut inside a body.
        let at = offsets.within(1, LAYER_SIZE / 4);
        println!("  cut the layer download after {at} bytes");
        faults = faults.with(Rule::cut_body(
            Match::contains("GET", big.layer_digest.as_str()),
            at,
        ));
    }
    let proxy = registry.proxy(faults);
    let pulled = scratch.path().join("pulled");
    let out = succeeded(&copy(
        "5",
        &format!("docker://{}/faulty/big:v1", proxy.host()),
        &format!("dir:{}", pulled.display()),
    ));
    assert_eq!(proxy.injected(), 3, "{:#?}", proxy.exchanges());
    let report = report(&out);
    println!("  bytes fetched again: {}", report["bytesRefetched"]);
    assert_layer_intact(&pulled, &big);
}

#[test]
fn upload_resets_at_random_offsets_are_retried_and_the_push_is_complete() {
    let scratch = tempfile::tempdir().unwrap();
    let registry = Registry::start(Setup::plain());
    let big = big_image(scratch.path());
    let mut offsets = Offsets::seeded("upload resets");
    let at = offsets.within(1, LAYER_SIZE);
    println!("  cut the layer upload after {at} bytes");
    let proxy = registry.proxy(Faults::none().with(Rule::cut_request(
        Match::contains("*", "/blobs/uploads/"),
        at,
    )));
    let out = succeeded(&copy(
        "3",
        &format!("dir:{}", big.dir.display()),
        &format!("docker://{}/pushed/big:v1", proxy.host()),
    ));
    assert_eq!(proxy.injected(), 1, "{:#?}", proxy.exchanges());
    println!("  bytes sent again: {}", report(&out)["bytesRefetched"]);
    // What the registry holds is the whole layer, verified on the way back.
    let pulled = scratch.path().join("pulled");
    succeeded(&copy(
        "0",
        &registry.docker_ref("pushed/big:v1"),
        &format!("dir:{}", pulled.display()),
    ));
    assert_layer_intact(&pulled, &big);
}

#[test]
fn a_blob_of_known_size_is_uploaded_in_two_requests_and_skopeo_reads_it_back() {
    let scratch = tempfile::tempdir().unwrap();
    let registry = Registry::start(Setup::plain());
    let big = big_image(scratch.path());
    let proxy = registry.proxy(Faults::none());
    succeeded(&copy(
        "0",
        &format!("dir:{}", big.dir.display()),
        &format!("docker://{}/pushed/whole:v1", proxy.host()),
    ));
    // The 4 MiB layer and the config: each a POST opening the upload and
    // one PUT carrying the bytes and naming the digest (the monolithic
    // upload), no PATCH between them.
    let uploads: Vec<_> = proxy
        .exchanges()
        .into_iter()
        .filter(|e| e.target.contains("/blobs/uploads/"))
        .map(|e| (e.method, e.target))
        .collect();
    let posts = uploads.iter().filter(|(m, _)| m == "POST").count();
    let puts: Vec<_> = uploads
        .iter()
        .filter(|(m, t)| m == "PUT" && t.contains("digest=sha256"))
        .collect();
    assert_eq!(
        (posts, puts.len(), uploads.len()),
        (2, 2, 4),
        "{uploads:#?}"
    );
    assert!(
        puts.iter()
            .any(|(_, t)| t.contains(big.layer_digest.as_str())),
        "{uploads:#?}"
    );
    // What distribution stored from the monolithic PUT is the layer, as
    // skopeo reads it.
    let pulled = scratch.path().join("by-skopeo");
    let flags = registry.skopeo_flags(SkopeoSide::Src);
    let mut args: Vec<String> = vec!["copy".into()];
    args.extend(flags);
    args.push(registry.docker_ref("pushed/whole:v1"));
    args.push(format!("dir:{}", pulled.display()));
    succeeded(&skopeo(&args));
    assert_layer_intact(&pulled, &big);
}

#[test]
fn bursts_of_500_503_and_429_are_waited_out() {
    let scratch = tempfile::tempdir().unwrap();
    let (registry, big) = registry_with_big(scratch.path());
    let proxy = registry.proxy(
        Faults::none()
            .with(Rule::status(Match::prefix("GET", "/v2/faulty/big/manifests/"), 500).times(3))
            .with(Rule::status(Match::contains("GET", big.layer_digest.as_str()), 503).times(3))
            .with(Rule::too_many_requests(Match::contains("GET", "/blobs/sha256:"), 1).times(2)),
    );
    let pulled = scratch.path().join("pulled");
    succeeded(&copy(
        "4",
        &format!("docker://{}/faulty/big:v1", proxy.host()),
        &format!("dir:{}", pulled.display()),
    ));
    assert_eq!(
        (proxy.fired(0), proxy.fired(1), proxy.fired(2)),
        (3, 3, 2),
        "{:#?}",
        proxy.exchanges()
    );
    assert_layer_intact(&pulled, &big);
}

#[test]
fn a_burst_longer_than_the_retries_fails_naming_the_status() {
    let scratch = tempfile::tempdir().unwrap();
    let (registry, _) = registry_with_big(scratch.path());
    let proxy = registry.proxy(
        Faults::none()
            .with(Rule::status(Match::prefix("GET", "/v2/faulty/big/manifests/"), 503).always()),
    );
    let pulled = scratch.path().join("pulled");
    let stderr = failed(&copy(
        "2",
        &format!("docker://{}/faulty/big:v1", proxy.host()),
        &format!("dir:{}", pulled.display()),
    ));
    assert!(stderr.contains("503"), "{stderr}");
    assert_eq!(proxy.fired(0), 3, "one try and two retries");
    assert!(!pulled.join("manifest.json").exists());
}

#[test]
fn a_slow_trickle_still_arrives_whole() {
    let scratch = tempfile::tempdir().unwrap();
    let (registry, big) = registry_with_big(scratch.path());
    let proxy = registry.proxy(Faults::none().with(Rule::trickle(
        Match::contains("GET", big.layer_digest.as_str()),
        16 * 1024,
        Duration::from_millis(3),
    )));
    let pulled = scratch.path().join("pulled");
    succeeded(&copy(
        "0",
        &format!("docker://{}/faulty/big:v1", proxy.host()),
        &format!("dir:{}", pulled.display()),
    ));
    assert!(proxy.fired(0) >= 1);
    assert_layer_intact(&pulled, &big);
}

/// The first part of `big`'s layer kept beside the blobs in `blobs` for
/// the next run (ferry's `fs::kept`).
fn kept_part(blobs: &Path, big: &Big) -> PathBuf {
    blobs.join(format!(".ferry-partial-{}", big.layer_digest.encoded()))
}

/// The layer's GETs the proxy saw, as the bytes of body each received.
fn layer_downloads(proxy: &ferry_tests::registry::FaultProxy, big: &Big) -> Vec<u64> {
    proxy
        .exchanges()
        .into_iter()
        .filter(|e| e.method == "GET" && e.target.contains(big.layer_digest.as_str()))
        .map(|e| e.body_bytes)
        .collect()
}

/// A pull into `destination`, whose blobs go into `blobs`, cut at 90% of
/// the layer and given up, then run again.
fn given_up_then_continued(destination: &str, blobs: &Path) {
    let scratch = tempfile::tempdir().unwrap();
    let (registry, big) = registry_with_big(scratch.path());
    let at = LAYER_SIZE / 10 * 9;
    let proxy = registry.proxy(Faults::none().with(Rule::cut_body(
        Match::contains("GET", big.layer_digest.as_str()),
        at,
    )));
    let source = format!("docker://{}/faulty/big:v1", proxy.host());

    // No retries: the run gives up at 90%, and what arrived stays beside
    // where the layer goes, under no blob's name.
    failed(&copy("0", &source, destination));
    assert_eq!(std::fs::metadata(kept_part(blobs, &big)).unwrap().len(), at);
    assert!(!blobs.join(big.layer_digest.encoded()).exists());

    let out = succeeded(&copy("0", &source, destination));
    assert_eq!(layer_downloads(&proxy, &big), [at, LAYER_SIZE - at]);
    assert_layer_intact(blobs, &big);
    assert!(!kept_part(blobs, &big).exists());
    assert_eq!(report(&out)["bytesRefetched"], 0);
}

#[test]
fn a_pull_into_dir_given_up_mid_layer_is_continued_by_the_next_run_fetching_only_the_rest() {
    let scratch = tempfile::tempdir().unwrap();
    let pulled = scratch.path().join("pulled");
    given_up_then_continued(&format!("dir:{}", pulled.display()), &pulled);
}

#[test]
fn a_pull_into_oci_given_up_mid_layer_is_continued_by_the_next_run_fetching_only_the_rest() {
    let scratch = tempfile::tempdir().unwrap();
    let layout = scratch.path().join("layout");
    given_up_then_continued(
        &format!("oci:{}:v1", layout.display()),
        &layout.join("blobs/sha256"),
    );
}

#[test]
fn a_kept_part_with_wrong_bytes_fails_its_digest_and_the_layer_is_fetched_whole() {
    let scratch = tempfile::tempdir().unwrap();
    let (registry, big) = registry_with_big(scratch.path());
    let proxy = registry.proxy(Faults::none());
    let pulled = scratch.path().join("pulled");
    std::fs::create_dir_all(&pulled).unwrap();
    let mut wrong = big.layer[..LAYER_SIZE as usize / 2].to_vec();
    wrong[1000] ^= 0xff;
    std::fs::write(kept_part(&pulled, &big), &wrong).unwrap();

    succeeded(&copy(
        "1",
        &format!("docker://{}/faulty/big:v1", proxy.host()),
        &format!("dir:{}", pulled.display()),
    ));
    // The rest after the kept part, refused with it; then the whole layer.
    assert_eq!(
        layer_downloads(&proxy, &big),
        [LAYER_SIZE - wrong.len() as u64, LAYER_SIZE]
    );
    assert_layer_intact(&pulled, &big);
    assert!(!kept_part(&pulled, &big).exists());
}

#[test]
fn wrong_bytes_once_are_refused_and_fetched_again() {
    let scratch = tempfile::tempdir().unwrap();
    let (registry, big) = registry_with_big(scratch.path());
    let at = Offsets::seeded("wrong bytes once").within(0, LAYER_SIZE);
    println!("  flip the layer's byte at {at}");
    let proxy = registry.proxy(Faults::none().with(Rule::corrupt(
        Match::contains("GET", big.layer_digest.as_str()),
        at,
    )));
    let pulled = scratch.path().join("pulled");
    let out = succeeded(&copy(
        "2",
        &format!("docker://{}/faulty/big:v1", proxy.host()),
        &format!("dir:{}", pulled.display()),
    ));
    assert_eq!(proxy.fired(0), 1);
    let refetched = report(&out)["bytesRefetched"].as_u64().unwrap();
    println!("  bytes fetched again: {refetched}");
    assert!(refetched > 0, "the corrupt download was fetched again");
    assert_layer_intact(&pulled, &big);
}

#[test]
fn wrong_bytes_every_time_fail_the_copy_and_nothing_is_half_written() {
    let scratch = tempfile::tempdir().unwrap();
    let (registry, big) = registry_with_big(scratch.path());
    let at = Offsets::seeded("wrong bytes always").within(0, LAYER_SIZE);
    println!("  flip the layer's byte at {at}");
    let proxy = registry.proxy(
        Faults::none()
            .with(Rule::corrupt(Match::contains("GET", big.layer_digest.as_str()), at).always()),
    );
    let pulled = scratch.path().join("pulled");
    let stderr = failed(&copy(
        "2",
        &format!("docker://{}/faulty/big:v1", proxy.host()),
        &format!("dir:{}", pulled.display()),
    ));
    assert!(
        stderr.contains(big.layer_digest.as_str()) && stderr.contains("content has digest"),
        "{stderr}"
    );
    assert!(
        proxy.fired(0) >= 3,
        "fetched three times, refused each time"
    );
    assert!(!pulled.join("manifest.json").exists());
    assert!(!pulled.join(big.layer_digest.encoded()).exists());
    if pulled.exists() {
        for entry in std::fs::read_dir(&pulled).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                !name.starts_with(".ferry-tmp"),
                "temporary file left: {name}"
            );
        }
    }
}

#[test]
fn a_manifest_refused_for_a_blob_another_writer_is_linking_is_written_again() {
    // distribution answers 400 MANIFEST_BLOB_UNKNOWN while another writer
    // rewrites the blob's link in the repository (a concurrent shard).
    let scratch = tempfile::tempdir().unwrap();
    let (registry, big) = registry_with_big(scratch.path());
    let proxy = registry.proxy(Faults::none().with(Rule::status(
        Match::prefix("PUT", "/v2/faulty/again/manifests/"),
        400,
    )));
    succeeded(&copy(
        "2",
        &format!("dir:{}", big.dir.display()),
        &format!("docker://{}/faulty/again:v1", proxy.host()),
    ));
    assert_eq!(proxy.fired(0), 1, "{:#?}", proxy.exchanges());
}

#[test]
fn a_manifest_naming_a_blob_the_registry_never_knows_fails_once_the_retries_are_spent() {
    let scratch = tempfile::tempdir().unwrap();
    let (registry, big) = registry_with_big(scratch.path());
    let proxy = registry.proxy(
        Faults::none()
            .with(Rule::status(Match::prefix("PUT", "/v2/faulty/never/manifests/"), 400).times(3)),
    );
    let out = copy(
        "2",
        &format!("dir:{}", big.dir.display()),
        &format!("docker://{}/faulty/never:v1", proxy.host()),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("MANIFEST_BLOB_UNKNOWN"), "{stderr}");
    assert_eq!(proxy.fired(0), 3, "{:#?}", proxy.exchanges());
}
