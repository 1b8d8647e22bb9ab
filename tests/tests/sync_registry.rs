//! `ferry sync` against real registries: Debian's docker-registry on
//! loopback (anonymous and with Basic auth), beside skopeo 1.9.3's
//! `skopeo sync` on the same YAML; four shards as four processes into one
//! registry; a re-sync where nothing changed, counted at a proxy.
//!
//! Source images are small dir: images made here (a shared base layer and
//! one of their own each) and pushed with `ferry copy`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ferry_core::Digest;
use ferry_tests::registry::{
    FaultProxy, Faults, Match, Registry, Rule, Setup, failed, ferry, skopeo, succeeded, sync_args,
};
use ferry_tests::signed::{OCI_INDEX, OCI_MANIFEST, Signed};

/// A dir: image with a layer of its own (from `seed`) on a shared base.
fn dir_image(root: &Path, seed: u32) -> PathBuf {
    let dir = root.join(format!("image-{seed}"));
    std::fs::create_dir_all(&dir).unwrap();
    let base: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
    let own: Vec<u8> = (0..2048u32)
        .map(|i| ((i + seed) * 31 % 253) as u8)
        .collect();
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Labels":{{"seed":"{seed}"}}}},"rootfs":{{"type":"layers","diff_ids":["{}","{}"]}}}}"#,
        Digest::sha256_of(&base),
        Digest::sha256_of(&own)
    );
    let mut layers = String::new();
    for blob in [&base, &own] {
        let digest = Digest::sha256_of(blob);
        std::fs::write(dir.join(digest.encoded()), blob).unwrap();
        if !layers.is_empty() {
            layers.push(',');
        }
        layers.push_str(&format!(
            r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{digest}","size":{}}}"#,
            blob.len()
        ));
    }
    let config_digest = Digest::sha256_of(config.as_bytes());
    std::fs::write(dir.join(config_digest.encoded()), &config).unwrap();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{layers}]}}"#,
        config.len()
    );
    std::fs::write(dir.join("manifest.json"), manifest).unwrap();
    std::fs::write(dir.join("version"), "Directory Transport Version: 1.1\n").unwrap();
    dir
}

/// Pushes one image per `repo:tag` to `registry` (anonymous).
fn seed(registry: &Registry, work: &Path, images: &[&str]) {
    for (i, name) in images.iter().enumerate() {
        let dir = dir_image(work, i as u32);
        succeeded(&ferry(&[
            "copy",
            "--dest-tls-verify=false",
            &format!("dir:{}", dir.display()),
            &registry.docker_ref(name),
        ]));
    }
}

/// A registry holding one image per `repo:tag` of `images`.
fn seeded(work: &Path, images: &[&str]) -> Registry {
    let registry = Registry::start(Setup::plain());
    seed(&registry, work, images);
    registry
}

/// Writes a sync YAML file at `path` for `source` (plain HTTP): its
/// `entries` follow `tls-verify: false` under the registry's name.
fn write_yaml(path: &Path, source: &Registry, entries: &str) {
    std::fs::write(
        path,
        format!("{}:\n  tls-verify: false\n{entries}", source.host()),
    )
    .unwrap();
}

/// A JSON file (a sync report).
fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `repo:tag`s a registry holds, in order.
fn tags(registry: &Registry) -> Vec<String> {
    contents(registry, None).into_keys().collect()
}

/// Every repository's tags and their manifest digests, read from the
/// registry's catalog.
fn contents(registry: &Registry, auth: Option<&str>) -> BTreeMap<String, String> {
    let headers: Vec<(&str, &str)> = auth.map(|a| vec![("Authorization", a)]).unwrap_or_default();
    let catalog = registry.request("GET", "/v2/_catalog", &headers).unwrap();
    let catalog: serde_json::Value = serde_json::from_slice(&catalog.body).unwrap();
    let mut out = BTreeMap::new();
    for repo in catalog["repositories"].as_array().unwrap() {
        let repo = repo.as_str().unwrap();
        let tags = registry
            .request("GET", &format!("/v2/{repo}/tags/list"), &headers)
            .unwrap();
        let tags: serde_json::Value = serde_json::from_slice(&tags.body).unwrap();
        for tag in tags["tags"].as_array().into_iter().flatten() {
            let tag = tag.as_str().unwrap();
            let mut h = headers.clone();
            h.push(("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json"));
            let manifest = registry
                .request("GET", &format!("/v2/{repo}/manifests/{tag}"), &h)
                .unwrap();
            out.insert(
                format!("{repo}:{tag}"),
                Digest::sha256_of(&manifest.body).to_string(),
            );
        }
    }
    out
}

const IMAGES: [&str; 7] = [
    "team/app:1.0.0",
    "team/app:1.1.0",
    "team/app:2.0.0",
    "team/app:latest",
    "tools/cli:x1",
    "tools/cli:x2",
    "tools/cli:y1",
];

#[test]
fn a_yaml_sync_writes_the_tags_and_digests_skopeo_sync_writes() {
    let work = tempfile::tempdir().unwrap();
    let source = seeded(work.path(), &IMAGES);
    let file = work.path().join("sync.yaml");
    write_yaml(
        &file,
        &source,
        "  images:\n    team/app:\n      - \"1.0.0\"\n      - latest\n  images-by-tag-regex:\n    tools/cli: ^x[0-9]$\n",
    );
    // ferry into a registry with Basic auth, skopeo into another.
    let by_ferry = Registry::start(Setup::basic("mirror", "s3cret"));
    let by_skopeo = Registry::start(Setup::plain());
    let file = file.to_str().unwrap();
    succeeded(&ferry(&sync_args(
        "yaml",
        "docker",
        &["--dest-creds=mirror:s3cret"],
        file,
        &format!("{}/mirror", by_ferry.host()),
    )));
    succeeded(&skopeo(sync_args(
        "yaml",
        "docker",
        &[],
        file,
        &format!("{}/mirror", by_skopeo.host()),
    )));
    let auth = by_ferry.credentials().unwrap().basic_authorization();
    let ferry_side = contents(&by_ferry, Some(&auth));
    assert_eq!(ferry_side, contents(&by_skopeo, None));
    assert_eq!(
        ferry_side.keys().cloned().collect::<Vec<_>>(),
        [
            "mirror/app:1.0.0",
            "mirror/app:latest",
            "mirror/cli:x1",
            "mirror/cli:x2"
        ]
    );
}

#[test]
fn a_scoped_docker_sync_of_a_repository_matches_skopeo_sync() {
    let work = tempfile::tempdir().unwrap();
    let source = seeded(work.path(), &IMAGES[..4]);
    let by_ferry = Registry::start(Setup::plain());
    let by_skopeo = Registry::start(Setup::plain());
    // A source registry with a port cannot be scoped into a docker
    // destination (the name would hold a colon), so scope into dir:.
    let ferry_dir = work.path().join("ferry");
    let skopeo_dir = work.path().join("skopeo");
    std::fs::create_dir_all(&ferry_dir).unwrap();
    std::fs::create_dir_all(&skopeo_dir).unwrap();
    let repository = source.reference("team/app");
    let scoped = |into: &Path| {
        sync_args(
            "docker",
            "dir",
            &["--scoped"],
            &repository,
            into.to_str().unwrap(),
        )
    };
    succeeded(&ferry(&scoped(&ferry_dir)));
    succeeded(&skopeo(scoped(&skopeo_dir)));
    let listing = |root: &Path| {
        let mut found = Vec::new();
        for image in ferry::sync::dir_images(root).unwrap() {
            let manifest = std::fs::read(image.join("manifest.json")).unwrap();
            found.push((
                image.strip_prefix(root).unwrap().display().to_string(),
                Digest::sha256_of(&manifest).to_string(),
            ));
        }
        found
    };
    assert_eq!(listing(&ferry_dir), listing(&skopeo_dir));
    assert_eq!(listing(&ferry_dir).len(), 4);
    // And back from dir: into registries, unscoped.
    let back = |from: &Path, into: &Registry| {
        sync_args(
            "dir",
            "docker",
            &[],
            from.to_str().unwrap(),
            &into.reference("back"),
        )
    };
    succeeded(&ferry(&back(&ferry_dir, &by_ferry)));
    succeeded(&skopeo(back(&skopeo_dir, &by_skopeo)));
    assert_eq!(contents(&by_ferry, None), contents(&by_skopeo, None));
}

#[test]
fn yaml_credentials_reach_a_source_registry_with_auth() {
    let work = tempfile::tempdir().unwrap();
    let source = Registry::start(Setup::basic("reader", "pw"));
    // Seed through ferry with credentials.
    let dir = dir_image(work.path(), 9);
    succeeded(&ferry(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds=reader:pw",
        &format!("dir:{}", dir.display()),
        &source.docker_ref("private/app:1"),
    ]));
    let destination = Registry::start(Setup::plain());
    let file = work.path().join("sync.yaml");
    write_yaml(
        &file,
        &source,
        "  credentials:\n    username: reader\n    password: pw\n  images:\n    private/app: []\n",
    );
    let sync = |file: &Path| {
        ferry(&sync_args(
            "yaml",
            "docker",
            &[],
            file.to_str().unwrap(),
            &destination.host(),
        ))
    };
    succeeded(&sync(&file));
    assert_eq!(tags(&destination), ["app:1"]);
    // Without them, the failure names the registry and the exit status
    // says so.
    let bad = work.path().join("bad.yaml");
    write_yaml(&bad, &source, "  images:\n    private/app: []\n");
    let error = failed(&sync(&bad));
    assert!(error.contains(&source.host()), "{error}");
}

fn run_sync(args: &[String]) -> std::process::Child {
    ferry_tests::registry::ferry_command()
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn four_shards_as_four_processes_copy_what_one_unsharded_sync_copies_once_each() {
    let work = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..16)
        .map(|i| format!("fleet/svc{}:v{i}", i % 3))
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let source = seeded(work.path(), &refs);
    let file = work.path().join("sync.yaml");
    write_yaml(
        &file,
        &source,
        "  images:\n    fleet/svc0: []\n    fleet/svc1: []\n    fleet/svc2: []\n",
    );
    let sharded = Registry::start(Setup::plain());
    let whole = Registry::start(Setup::plain());
    // Unscoped: --scoped with a source host:port would make an invalid
    // name.
    let args = |dest: &Registry, extra: &[String]| {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        sync_args(
            "yaml",
            "docker",
            &extra,
            file.to_str().unwrap(),
            &format!("{}/m", dest.host()),
        )
    };
    let reports: Vec<PathBuf> = (0..4)
        .map(|k| work.path().join(format!("shard-{k}.json")))
        .collect();
    let children: Vec<_> = (0..4)
        .map(|k| {
            run_sync(&args(
                &sharded,
                &[
                    format!("--shard={k}/4"),
                    format!("--report={}", reports[k].display()),
                ],
            ))
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let whole_report = work.path().join("whole.json");
    succeeded(&ferry(&args(
        &whole,
        &[format!("--report={}", whole_report.display())],
    )));
    assert_eq!(contents(&sharded, None), contents(&whole, None));
    assert_eq!(contents(&whole, None).len(), 16);
    // The merge refuses an image in two reports, so success means each
    // image was copied by one shard only.
    let merged = work.path().join("merged.json");
    let mut merge = vec!["sync".to_string(), "--merge-reports".to_string()];
    merge.extend(reports.iter().map(|p| p.display().to_string()));
    merge.push(format!("--report={}", merged.display()));
    succeeded(&ferry(&merge));
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["key"].as_str().unwrap().to_string())
            .collect();
        k.sort();
        k
    };
    let merged = read_json(&merged);
    assert_eq!(keys(&merged), keys(&read_json(&whole_report)));
    assert_eq!(merged["totals"]["copied"], 16);
    assert_eq!(merged["shards"].as_array().unwrap().len(), 4);
}

#[test]
fn a_resync_with_nothing_changed_makes_one_request_per_manifest() {
    let work = tempfile::tempdir().unwrap();
    let source = seeded(work.path(), &IMAGES);
    let destination = Registry::start(Setup::basic("mirror", "pw"));
    let proxy = destination.proxy(Faults::none());
    let sync = |report: &Path| {
        ferry(&sync_args(
            "docker",
            "docker",
            &[
                "--dest-creds=mirror:pw",
                &format!("--report={}", report.display()),
            ],
            &source.reference("team/app"),
            &format!("{}/m", proxy.host()),
        ))
    };
    let first = work.path().join("first.json");
    succeeded(&sync(&first));
    let before = proxy.exchanges().len();
    let second = work.path().join("second.json");
    succeeded(&sync(&second));
    let requests: Vec<String> = proxy.exchanges()[before..]
        .iter()
        .map(|e| format!("{} {}", e.method, e.target))
        .collect();
    let report = read_json(&second);
    assert_eq!(report["totals"]["skipped"], 4, "{report}");
    assert_eq!(report["totals"]["bytesCopied"], 0);
    let manifests = requests
        .iter()
        .filter(|r| r.starts_with("HEAD ") && r.contains("/manifests/"))
        .count();
    assert_eq!(manifests, 4, "{requests:#?}");
    // Besides one HEAD per manifest, once for the whole run however many
    // images it has: the HTTPS attempt (a TLS connection, no request),
    // the plain HTTP ping, and an authenticated one (its challenge, then
    // the answer).
    assert!(requests.len() <= manifests + 4, "{requests:#?}");
}

/// A proxy in front of `registry` that holds every answer to requests
/// `slow` matches for 150 ms: requests sent together are then seen
/// together, and requests sent one after another are not.
fn slowed(registry: &Registry, slow: Match) -> FaultProxy {
    registry.proxy(Faults::none().with(Rule::delay(slow, Duration::from_millis(150)).always()))
}

#[test]
fn a_resync_checks_images_side_by_side_however_few_are_copied_at_once() {
    let work = tempfile::tempdir().unwrap();
    let source = seeded(work.path(), &IMAGES[..4]);
    let destination = Registry::start(Setup::plain());
    // Slow answers about manifests, so that checks sent one after another
    // cannot pass for checks sent together.
    let proxy = slowed(&destination, Match::contains("HEAD", "/manifests/"));
    let sync = || {
        succeeded(&ferry(&sync_args(
            "docker",
            "docker",
            &["--parallel-images=1"],
            &source.reference("team/app"),
            &format!("{}/m", proxy.host()),
        )))
    };
    sync();
    let before = proxy.exchanges().len();
    sync();
    let exchanges = proxy.exchanges();
    let checks: Vec<&ferry_tests::registry::Exchange> = exchanges[before..]
        .iter()
        .filter(|e| e.method == "HEAD" && e.target.contains("/manifests/"))
        .collect();
    assert_eq!(checks.len(), 4, "{checks:#?}");
    let checks_alongside = checks
        .iter()
        .filter(|e| {
            e.alongside.iter().any(|&other| {
                let other = &exchanges[other];
                other.method == "HEAD" && other.target.contains("/manifests/")
            })
        })
        .count();
    assert!(checks_alongside >= 1, "{checks:#?}");
}

#[test]
fn a_syncs_blob_transfers_all_images_together_stay_within_four_times_jobs() {
    let work = tempfile::tempdir().unwrap();
    let tags: Vec<String> = (0..8).map(|i| format!("team/app:t{i}")).collect();
    let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
    let source = seeded(work.path(), &tags);
    let destination = Registry::start(Setup::plain());
    // Slow uploads, so that transfers side by side are seen side by side.
    let proxy = slowed(&destination, Match::contains("PUT", "/blobs/uploads/"));
    succeeded(&ferry(&sync_args(
        "docker",
        "docker",
        // skopeo's name for --jobs: blobs at once, per image.
        &["--image-parallel-copies=1", "--parallel-images=8"],
        &source.reference("team/app"),
        &format!("{}/m", proxy.host()),
    )));
    let exchanges = proxy.exchanges();
    let upload = |e: &ferry_tests::registry::Exchange| {
        e.method == "PUT" && e.target.contains("/blobs/uploads/")
    };
    let most_at_once = exchanges
        .iter()
        .filter(|e| upload(e))
        .map(|e| {
            1 + e
                .alongside
                .iter()
                .filter(|&&o| upload(&exchanges[o]))
                .count()
        })
        .max()
        .unwrap();
    // Eight images, one transfer each at a time, but four for
    // the run: and more than one, or images would not overlap at all.
    assert!(
        (2..=4).contains(&most_at_once),
        "{most_at_once} uploads at once"
    );
}

#[test]
fn a_failed_image_is_reported_and_fails_the_run_while_keep_going_copies_the_rest() {
    let work = tempfile::tempdir().unwrap();
    let source = seeded(work.path(), &IMAGES[..2]);
    let destination = Registry::start(Setup::plain());
    let file = work.path().join("sync.yaml");
    write_yaml(
        &file,
        &source,
        "  images:\n    team/app: [\"1.0.0\", \"gone\", \"1.1.0\"]\n",
    );
    let report = work.path().join("report.json");
    let out = ferry(&sync_args(
        "yaml",
        "docker",
        &[
            "--keep-going",
            "--parallel-images=1",
            &format!("--report={}", report.display()),
        ],
        file.to_str().unwrap(),
        &destination.host(),
    ));
    let error = failed(&out);
    assert!(error.contains("team/app:gone"), "{error}");
    let report = read_json(&report);
    assert_eq!(report["totals"]["copied"], 2, "{report}");
    assert_eq!(report["totals"]["failed"], 1);
    let failed_image = report["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["status"] == "failed")
        .unwrap();
    assert!(
        failed_image["error"]
            .as_str()
            .unwrap()
            .contains("not found")
    );
}

#[test]
fn a_blob_shared_by_images_of_a_run_is_uploaded_once_and_mounted_into_other_repositories() {
    let work = tempfile::tempdir().unwrap();
    let source = seeded(work.path(), &["one/a:1", "one/a:2", "two/b:1", "two/b:2"]);
    let destination = Registry::start(Setup::plain());
    let proxy = destination.proxy(Faults::none());
    let file = work.path().join("sync.yaml");
    write_yaml(&file, &source, "  images:\n    one/a: []\n    two/b: []\n");
    succeeded(&ferry(&sync_args(
        "yaml",
        "docker",
        &["--parallel-images=4"],
        file.to_str().unwrap(),
        &format!("{}/m", proxy.host()),
    )));
    // Every image has the same base layer (compressed on its way into
    // the source registry): each blob is uploaded once in the whole run,
    // asked about at most once, and the other repository mounts the base.
    let exchanges = proxy.exchanges();
    let mut uploads: BTreeMap<String, usize> = BTreeMap::new();
    let mut checks: BTreeMap<String, usize> = BTreeMap::new();
    let mut mounts = 0;
    for e in &exchanges {
        if e.method == "PUT"
            && let Some(digest) = e.target.split("digest=").nth(1)
        {
            *uploads.entry(digest.to_string()).or_default() += 1;
        }
        if e.method == "HEAD"
            && let Some(digest) = e.target.split("/blobs/").nth(1)
        {
            *checks.entry(digest.to_string()).or_default() += 1;
        }
        if e.method == "POST" && e.target.contains("mount=") {
            mounts += 1;
        }
    }
    assert!(uploads.values().all(|&n| n == 1), "{uploads:#?}");
    assert!(checks.values().all(|&n| n == 1), "{checks:#?}");
    assert_eq!(mounts, 1, "{exchanges:#?}");
    // The base, then a layer and a config of each of the four images.
    assert_eq!(uploads.len(), 1 + 2 * 4);
    assert_eq!(contents(&destination, None).len(), 4);
}

#[test]
fn images_by_semver_select_versions_and_a_dry_run_writes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let source = seeded(work.path(), &IMAGES[..4]);
    let destination = Registry::start(Setup::plain());
    let file = work.path().join("sync.yaml");
    write_yaml(
        &file,
        &source,
        "  images-by-semver:\n    team/app: \">= 1.0, < 2\"\n",
    );
    let sync = |flags: &[&str]| {
        ferry(&sync_args(
            "yaml",
            "docker",
            flags,
            file.to_str().unwrap(),
            &destination.host(),
        ))
    };
    let planned: serde_json::Value =
        serde_json::from_str(&succeeded(&sync(&["--dry-run"]))).unwrap();
    let mut keys: Vec<&str> = planned["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["destination"].as_str().unwrap())
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            format!("docker://{}/app:1.0.0", destination.host()),
            format!("docker://{}/app:1.1.0", destination.host())
        ]
    );
    assert_eq!(planned["totals"]["planned"], 2);
    let catalog = destination.request("GET", "/v2/_catalog", &[]).unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&catalog.body).unwrap()["repositories"],
        serde_json::json!([])
    );
    succeeded(&sync(&[]));
    assert_eq!(tags(&destination), ["app:1.0.0", "app:1.1.0"]);
}

#[test]
fn a_resync_into_dir_skips_the_images_already_there() {
    let work = tempfile::tempdir().unwrap();
    let source = seeded(work.path(), &IMAGES[4..]);
    let into = work.path().join("mirror");
    let sync = || {
        succeeded(&ferry(&sync_args(
            "docker",
            "dir",
            &["--report=-"],
            &source.reference("tools/cli"),
            into.to_str().unwrap(),
        )))
    };
    let first: serde_json::Value = serde_json::from_str(&sync()).unwrap();
    assert_eq!(first["totals"]["copied"], 3, "{first}");
    let again: serde_json::Value = serde_json::from_str(&sync()).unwrap();
    assert_eq!(again["totals"]["skipped"], 3, "{again}");
    assert!(into.join("cli:x1/manifest.json").is_file());
}

#[test]
fn format_converts_every_synced_image() {
    let work = tempfile::tempdir().unwrap();
    let source = seeded(work.path(), &IMAGES[4..6]);
    let destination = Registry::start(Setup::plain());
    succeeded(&ferry(&sync_args(
        "docker",
        "docker",
        &["--format", "v2s2"],
        &source.reference("tools/cli"),
        &destination.host(),
    )));
    for tag in ["x1", "x2"] {
        let manifest = destination
            .request(
                "GET",
                &format!("/v2/cli/manifests/{tag}"),
                &[(
                    "Accept",
                    "application/vnd.docker.distribution.manifest.v2+json",
                )],
            )
            .unwrap();
        let manifest: serde_json::Value = serde_json::from_slice(&manifest.body).unwrap();
        assert_eq!(
            manifest["mediaType"],
            "application/vnd.docker.distribution.manifest.v2+json"
        );
    }
}

/// The manifest at `repository:reference`, if there is one.
fn manifest_at(registry: &Registry, repository: &str, reference: &str) -> Option<Vec<u8>> {
    let accept = format!("{OCI_INDEX}, {OCI_MANIFEST}");
    let response = registry
        .request(
            "GET",
            &format!("/v2/{repository}/manifests/{reference}"),
            &[("Accept", &accept)],
        )
        .unwrap();
    (response.status == 200).then_some(response.body)
}

/// `ferry copy FLAG` of the signed image in `layout` (at `img`) to
/// `registry`'s `team/app:img`.
fn push_signed(registry: &Registry, layout: &Path, flag: &str) {
    succeeded(&ferry(&[
        "copy",
        flag,
        "--dest-tls-verify=false",
        "--progress=none",
        &format!("oci:{}:img", layout.display()),
        &registry.docker_ref("team/app:img"),
    ]));
}

/// That `destination` holds the signature, unmodified, at cosign's tag
/// of the image in `m/app`.
fn assert_signature_at_its_cosign_tag(destination: &Registry, signed: &Signed) {
    let cosign = ferry_core::referrers::cosign_tag(&signed.image.digest, ".sig");
    assert_eq!(
        manifest_at(destination, "m/app", &cosign),
        Some(signed.signature.bytes.clone())
    );
}

/// A source registry holding the signed image as `team/app:img`, its
/// referrers under their fallback tags, and the signature also under
/// cosign's tag of the image.
fn signed_source(work: &Path, signed: &Signed) -> Registry {
    let source = Registry::start(Setup::plain());
    let layout = work.join("layout");
    signed.layout(&layout);
    push_signed(&source, &layout, "--referrers");
    let cosign = ferry_core::referrers::cosign_tag(&signed.image.digest, ".sig");
    succeeded(&ferry(&[
        "copy",
        "--preserve-digests",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--progress=none",
        &source.docker_ref(&format!("team/app@{}", signed.signature.digest)),
        &source.docker_ref(&format!("team/app:{cosign}")),
    ]));
    source
}

#[test]
fn referrers_and_cosign_tags_go_with_each_synced_image() {
    let work = tempfile::tempdir().unwrap();
    let signed = Signed::new();
    let source = signed_source(work.path(), &signed);
    let destination = Registry::start(Setup::plain());
    succeeded(&ferry(&sync_args(
        "docker",
        "docker",
        &["--referrers", "--cosign-tags"],
        &source.reference("team/app:img"),
        &format!("{}/m", destination.host()),
    )));
    let fallback = |subject: &Digest| ferry_core::referrers::fallback_tag(subject);
    assert!(manifest_at(&destination, "m/app", &fallback(&signed.image.digest)).is_some());
    assert!(manifest_at(&destination, "m/app", &fallback(&signed.signature.digest)).is_some());
    for referrer in [&signed.signature, &signed.counter] {
        assert_eq!(
            manifest_at(&destination, "m/app", referrer.digest.as_str()),
            Some(referrer.bytes.clone()),
            "referrers are copied unmodified"
        );
    }
    assert_signature_at_its_cosign_tag(&destination, &signed);
}

#[test]
fn without_referrers_a_sync_copies_the_image_only() {
    let work = tempfile::tempdir().unwrap();
    let signed = Signed::new();
    let source = signed_source(work.path(), &signed);
    let destination = Registry::start(Setup::plain());
    succeeded(&ferry(&sync_args(
        "docker",
        "docker",
        &[],
        &source.reference("team/app:img"),
        &format!("{}/m", destination.host()),
    )));
    assert!(manifest_at(&destination, "m/app", "img").is_some());
    let fallback = ferry_core::referrers::fallback_tag(&signed.image.digest);
    assert!(manifest_at(&destination, "m/app", &fallback).is_none());
    assert!(manifest_at(&destination, "m/app", signed.signature.digest.as_str()).is_none());
}

#[test]
fn a_resync_with_referrers_brings_referrers_added_since() {
    let work = tempfile::tempdir().unwrap();
    let signed = Signed::new();
    let source = Registry::start(Setup::plain());
    let layout = work.path().join("layout");
    signed.layout(&layout);
    // The image first, without its referrers; they come later.
    push_signed(&source, &layout, "--preserve-digests");
    let destination = Registry::start(Setup::plain());
    let sync = || {
        succeeded(&ferry(&sync_args(
            "docker",
            "docker",
            &["--referrers"],
            &source.reference("team/app:img"),
            &format!("{}/m", destination.host()),
        )))
    };
    sync();
    assert!(manifest_at(&destination, "m/app", signed.signature.digest.as_str()).is_none());
    push_signed(&source, &layout, "--referrers");
    sync();
    assert_eq!(
        manifest_at(&destination, "m/app", signed.signature.digest.as_str()),
        Some(signed.signature.bytes.clone())
    );
}

#[test]
fn a_sync_into_dir_with_referrers_is_refused_before_anything_is_written() {
    let work = tempfile::tempdir().unwrap();
    let source = seeded(work.path(), &["team/app:1"]);
    let out = work.path().join("out");
    for flag in ["--referrers", "--cosign-tags"] {
        let stderr = failed(&ferry(&sync_args(
            "docker",
            "dir",
            &[flag],
            &source.reference("team/app"),
            out.to_str().unwrap(),
        )));
        assert!(stderr.contains("cannot"), "{stderr}");
        assert!(!out.exists(), "{flag}: something was written");
    }
}

/// A sync of the whole of `team/app` from `source`, with `flags`, into
/// `destination`'s `m/`; the sources its report lists as images, sorted.
fn sync_whole_repository(
    work: &Path,
    source: &Registry,
    destination: &Registry,
    flags: &[&str],
) -> Vec<String> {
    let report = work.join("report.json");
    let report_flag = format!("--report={}", report.display());
    let mut flags = flags.to_vec();
    flags.push(&report_flag);
    succeeded(&ferry(&sync_args(
        "docker",
        "docker",
        &flags,
        &source.reference("team/app"),
        &format!("{}/m", destination.host()),
    )));
    let mut sources: Vec<String> = read_json(&report)["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|image| image["source"].as_str().unwrap().to_string())
        .collect();
    sources.sort();
    sources
}

#[test]
fn a_whole_repository_sync_with_referrers_carries_fallback_and_cosign_tags_with_their_image() {
    let work = tempfile::tempdir().unwrap();
    let signed = Signed::new();
    let source = signed_source(work.path(), &signed);
    let destination = Registry::start(Setup::plain());
    let sources = sync_whole_repository(
        work.path(),
        &source,
        &destination,
        &["--referrers", "--cosign-tags"],
    );
    assert_eq!(
        sources,
        [format!("docker://{}", source.reference("team/app:img"))],
        "only the image is an image of its own"
    );
    let fallback = ferry_core::referrers::fallback_tag(&signed.image.digest);
    assert!(manifest_at(&destination, "m/app", &fallback).is_some());
    assert_signature_at_its_cosign_tag(&destination, &signed);
}

#[test]
fn a_whole_repository_sync_without_referrers_copies_every_tag_as_skopeo_does() {
    let work = tempfile::tempdir().unwrap();
    let signed = Signed::new();
    let source = signed_source(work.path(), &signed);
    let destination = Registry::start(Setup::plain());
    let sources = sync_whole_repository(work.path(), &source, &destination, &[]);
    let fallback = ferry_core::referrers::fallback_tag(&signed.image.digest);
    let cosign = ferry_core::referrers::cosign_tag(&signed.image.digest, ".sig");
    for tag in ["img", fallback.as_str(), cosign.as_str()] {
        let expected = format!("docker://{}", source.reference(&format!("team/app:{tag}")));
        assert!(sources.contains(&expected), "{tag} not in {sources:?}");
    }
}

/// The YAML documents of the Kubernetes example in
/// docs/mirroring-at-scale.md (its one ```yaml block).
fn kubernetes_example() -> Vec<yaml_rust2::Yaml> {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/mirroring-at-scale.md"),
    )
    .unwrap();
    let start = doc.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let end = start + doc[start..].find("\n```").unwrap();
    yaml_rust2::YamlLoader::load_from_str(&doc[start..end]).unwrap()
}

/// The document of `kind` named `name`.
fn kubernetes_object<'a>(
    docs: &'a [yaml_rust2::Yaml],
    kind: &str,
    name: &str,
) -> &'a yaml_rust2::Yaml {
    docs.iter()
        .find(|d| d["kind"].as_str() == Some(kind) && d["metadata"]["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// A container's `args`, as strings.
fn container_args(job: &yaml_rust2::Yaml) -> Vec<String> {
    job["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// The Kubernetes example of docs/mirroring-at-scale.md, run as
/// Kubernetes would run it, on loopback: its ConfigMap's sync.yaml with
/// quay.io and docker.io replaced by two local registries (plain HTTP),
/// `mirror.internal` by a third (with Basic auth, the credentials in the
/// mounted auth.json), the volumes by directories, `$(SHARD)` expanded
/// from each worker's completion index; the workers at once, then the
/// merge Job. (Kubernetes itself is not here; this checks the example's
/// arguments, source file and shard arithmetic.)
#[test]
fn the_kubernetes_indexed_job_of_the_docs_mirrors_as_its_workers_and_merge_job_would() {
    let work = tempfile::tempdir().unwrap();
    let docs = kubernetes_example();
    let source_yaml = kubernetes_object(&docs, "ConfigMap", "mirror-source")["data"]["sync.yaml"]
        .as_str()
        .unwrap();
    let job = kubernetes_object(&docs, "Job", "mirror");
    assert_eq!(job["spec"]["completionMode"].as_str(), Some("Indexed"));
    let workers = job["spec"]["completions"].as_i64().unwrap();
    assert_eq!(job["spec"]["parallelism"].as_i64(), Some(workers));
    let env = &job["spec"]["template"]["spec"]["containers"][0]["env"][0];
    assert_eq!(env["name"].as_str(), Some("SHARD"));
    assert_eq!(
        env["valueFrom"]["fieldRef"]["fieldPath"].as_str(),
        Some("metadata.annotations['batch.kubernetes.io/job-completion-index']")
    );

    // The example selects prometheus >= 2.50, every etcd tag, and nginx
    // 1.25-1.29 alpine tags.
    let quay = seeded(
        work.path(),
        &[
            "prometheus/prometheus:2.49.1",
            "prometheus/prometheus:2.50.0",
            "prometheus/prometheus:2.51.2",
            "coreos/etcd:v3.5.9",
            "coreos/etcd:v3.5.10",
        ],
    );
    let hub = seeded(
        work.path(),
        &[
            "library/nginx:1.25.3-alpine",
            "library/nginx:1.25.3",
            "library/nginx:1.24.0-alpine",
        ],
    );
    let mirror = Registry::start(Setup::basic("mirror", "pw"));
    let volumes = work.path().join("volumes");
    let (source, auth, reports) = (
        volumes.join("source"),
        volumes.join("auth"),
        volumes.join("reports"),
    );
    for dir in [&source, &auth, &reports] {
        std::fs::create_dir_all(dir).unwrap();
    }
    let on_loopback = |registry: &Registry| format!("{}:\n  tls-verify: false\n", registry.host());
    std::fs::write(
        source.join("sync.yaml"),
        source_yaml
            .replace("quay.io:\n", &on_loopback(&quay))
            .replace("docker.io:\n", &on_loopback(&hub)),
    )
    .unwrap();
    let credentials = mirror.credentials().unwrap().basic_authorization();
    std::fs::write(
        auth.join("auth.json"),
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{}"}}}}}}"#,
            mirror.host(),
            credentials.trim_start_matches("Basic ")
        ),
    )
    .unwrap();
    let mounted = |arg: &str, shard: i64| {
        arg.replace("$(SHARD)", &shard.to_string())
            .replace("/source/", &format!("{}/", source.display()))
            .replace("/auth/", &format!("{}/", auth.display()))
            .replace("/reports/", &format!("{}/", reports.display()))
            .replace("mirror.internal", &mirror.host())
    };

    let args = container_args(job);
    let running: Vec<_> = (0..workers)
        .map(|shard| {
            // `--scoped` would put the sources' `host:port` in a path,
            // which no reference may hold (skopeo refuses it alike); the
            // example's registries have no port. And plain HTTP, which a
            // real mirror does not need.
            let mut args: Vec<String> = args
                .iter()
                .filter(|a| *a != "--scoped")
                .map(|a| mounted(a, shard))
                .collect();
            args.insert(1, "--dest-tls-verify=false".into());
            run_sync(&args)
        })
        .collect();
    for worker in running {
        let out = worker.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let merge: Vec<String> = container_args(kubernetes_object(&docs, "Job", "mirror-report"))
        .iter()
        .map(|a| mounted(a, 0))
        .collect();
    succeeded(&ferry(&merge));

    let merged = read_json(&reports.join("merged.json"));
    assert_eq!(merged["shards"].as_array().unwrap().len(), workers as usize);
    assert_eq!(merged["totals"]["failed"], 0, "{merged}");
    let mut copied: Vec<String> = merged["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let source = i["source"].as_str().unwrap();
            source[source.rfind('/').unwrap() + 1..].to_string()
        })
        .collect();
    copied.sort();
    assert_eq!(
        copied,
        [
            "etcd:v3.5.10",
            "etcd:v3.5.9",
            "nginx:1.25.3-alpine",
            "prometheus:2.50.0",
            "prometheus:2.51.2"
        ]
    );
}
