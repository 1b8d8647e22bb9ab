//! `ferry copy --referrers` (OCI distribution 1.1): an image's referrers,
//! and theirs, go with it between OCI layouts (as unnamed `index.json`
//! entries), Debian's docker-registry 2.8 (which has no referrers API: the
//! fallback tag `sha256-<hex>`), and a scripted registry with the
//! referrers API; hostile listings are refused with errors that say why.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use ferry_core::Digest;
use ferry_tests::registry::{
    Registry, Reply, ScriptedServer, Setup, failed, ferry, request, succeeded,
};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const EMPTY: &str = "application/vnd.oci.empty.v1+json";
const SIG_TYPE: &str = "application/vnd.example.signature.v1";
const COUNTER_TYPE: &str = "application/vnd.example.countersignature.v1";

/// A blob or manifest: its bytes and digest.
#[derive(Clone)]
struct Content {
    bytes: Vec<u8>,
    digest: Digest,
}

impl Content {
    fn new(bytes: impl Into<Vec<u8>>) -> Content {
        let bytes = bytes.into();
        let digest = Digest::sha256_of(&bytes);
        Content { bytes, digest }
    }

    fn descriptor(&self, media_type: &str) -> String {
        format!(
            r#"{{"mediaType":"{media_type}","digest":"{}","size":{}}}"#,
            self.digest,
            self.bytes.len()
        )
    }
}

/// An image with no layers, a signature whose subject is the image, and a
/// countersignature whose subject is the signature.
struct Signed {
    config: Content,
    empty: Content,
    payload: Content,
    image: Content,
    signature: Content,
    counter: Content,
}

fn artifact(artifact_type: &str, empty: &Content, layer: &Content, subject: &Content) -> Content {
    Content::new(format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"{artifact_type}","config":{},"layers":[{}],"subject":{},"annotations":{{"org.example.made-by":"ferry tests"}}}}"#,
        empty.descriptor(EMPTY),
        layer.descriptor("application/vnd.example.payload"),
        subject.descriptor(OCI_MANIFEST)
    ))
}

impl Signed {
    fn new() -> Signed {
        let config = Content::new(
            r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
        );
        let empty = Content::new("{}");
        let payload = Content::new("a signature, for the tests");
        let image = Content::new(format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{},"layers":[]}}"#,
            config.descriptor("application/vnd.oci.image.config.v1+json")
        ));
        let signature = artifact(SIG_TYPE, &empty, &payload, &image);
        let counter = artifact(COUNTER_TYPE, &empty, &payload, &signature);
        Signed {
            config,
            empty,
            payload,
            image,
            signature,
            counter,
        }
    }

    fn blobs(&self) -> [&Content; 6] {
        [
            &self.config,
            &self.empty,
            &self.payload,
            &self.image,
            &self.signature,
            &self.counter,
        ]
    }

    /// An OCI layout holding the image as `img` and both referrers as
    /// unnamed entries.
    fn layout(&self, root: &Path) {
        self.layout_with(root, &[]);
    }

    /// [`layout`](Self::layout), with more entries: `(name, manifest)`.
    fn layout_with(&self, root: &Path, named: &[(&str, &Content)]) {
        std::fs::create_dir_all(root.join("blobs/sha256")).unwrap();
        std::fs::write(
            root.join("oci-layout"),
            r#"{"imageLayoutVersion": "1.0.0"}"#,
        )
        .unwrap();
        for c in self.blobs() {
            std::fs::write(root.join("blobs/sha256").join(c.digest.encoded()), &c.bytes).unwrap();
        }
        let entry = |name: &str, c: &Content| {
            format!(
                r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"{name}"}}}}"#,
                c.digest,
                c.bytes.len()
            )
        };
        let mut entries = vec![
            entry("img", &self.image),
            self.signature.descriptor(OCI_MANIFEST),
            self.counter.descriptor(OCI_MANIFEST),
        ];
        entries.extend(named.iter().map(|(name, c)| entry(name, c)));
        std::fs::write(
            root.join("index.json"),
            format!(
                r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
                entries.join(",")
            ),
        )
        .unwrap();
    }
}

fn copy_referrers(source: &str, destination: &str) -> std::process::Output {
    ferry(&[
        "copy",
        "--referrers",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--progress",
        "none",
        source,
        destination,
    ])
}

/// The manifest at `repository:reference` of a docker-registry, or its
/// status when there is none.
fn manifest(registry: &Registry, repository: &str, reference: &str) -> Result<Vec<u8>, u16> {
    let response = request(
        registry.addr(),
        "GET",
        &format!("/v2/{repository}/manifests/{reference}"),
        &[("Accept", &format!("{OCI_INDEX}, {OCI_MANIFEST}"))],
    )
    .unwrap();
    if response.status == 200 {
        Ok(response.body)
    } else {
        Err(response.status)
    }
}

fn fallback_tag(subject: &Digest) -> String {
    ferry_core::referrers::fallback_tag(subject)
}

/// The digests a fallback index lists.
fn listed(index: &[u8]) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_slice(index).unwrap();
    value["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_string())
        .collect()
}

/// The fallback indexes of the signed image in `repository`: the image's
/// and the signature's, each naming exactly the one referrer below it.
fn assert_fallback_tags(registry: &Registry, repository: &str, signed: &Signed) {
    let of_image = manifest(registry, repository, &fallback_tag(&signed.image.digest))
        .unwrap_or_else(|s| panic!("no fallback tag for the image in {repository}: {s}"));
    assert_eq!(listed(&of_image), [signed.signature.digest.to_string()]);
    let value: serde_json::Value = serde_json::from_slice(&of_image).unwrap();
    assert_eq!(value["manifests"][0]["artifactType"], SIG_TYPE);
    assert_eq!(
        value["manifests"][0]["annotations"]["org.example.made-by"],
        "ferry tests"
    );
    let of_signature = manifest(
        registry,
        repository,
        &fallback_tag(&signed.signature.digest),
    )
    .unwrap_or_else(|s| panic!("no fallback tag for the signature in {repository}: {s}"));
    assert_eq!(listed(&of_signature), [signed.counter.digest.to_string()]);
    for referrer in [&signed.signature, &signed.counter] {
        assert_eq!(
            manifest(registry, repository, referrer.digest.as_str()).unwrap(),
            referrer.bytes,
            "referrers are copied unmodified"
        );
    }
}

#[test]
fn a_layout_s_referrers_go_to_a_registry_without_the_api_through_the_fallback_tag() {
    let registry = Registry::start(Setup::plain());
    let dir = tempfile::tempdir().unwrap();
    let signed = Signed::new();
    signed.layout(&dir.path().join("src"));
    succeeded(&copy_referrers(
        &format!("oci:{}:img", dir.path().join("src").display()),
        &registry.docker_ref("signed:img"),
    ));
    assert_fallback_tags(&registry, "signed", &signed);
}

#[test]
fn without_referrers_no_referrer_is_copied() {
    let registry = Registry::start(Setup::plain());
    let dir = tempfile::tempdir().unwrap();
    let signed = Signed::new();
    signed.layout(&dir.path().join("src"));
    succeeded(&ferry(&[
        "copy",
        "--dest-tls-verify=false",
        "--progress",
        "none",
        &format!("oci:{}:img", dir.path().join("src").display()),
        &registry.docker_ref("plain:img"),
    ]));
    assert_eq!(
        manifest(&registry, "plain", &fallback_tag(&signed.image.digest)),
        Err(404)
    );
}

#[test]
fn referrers_go_from_fallback_tags_to_fallback_tags_in_the_same_order() {
    let registry = Registry::start(Setup::plain());
    let dir = tempfile::tempdir().unwrap();
    let signed = Signed::new();
    signed.layout(&dir.path().join("src"));
    succeeded(&copy_referrers(
        &format!("oci:{}:img", dir.path().join("src").display()),
        &registry.docker_ref("first:img"),
    ));
    succeeded(&copy_referrers(
        &registry.docker_ref("first:img"),
        &registry.docker_ref("second:img"),
    ));
    assert_fallback_tags(&registry, "second", &signed);
    let tag = fallback_tag(&signed.image.digest);
    assert_eq!(
        manifest(&registry, "second", &tag),
        manifest(&registry, "first", &tag),
        "the fallback index is rebuilt byte for byte"
    );
}

#[test]
fn referrers_go_from_a_registry_into_a_layout_as_unnamed_entries_and_back() {
    let registry = Registry::start(Setup::plain());
    let dir = tempfile::tempdir().unwrap();
    let signed = Signed::new();
    signed.layout(&dir.path().join("src"));
    succeeded(&copy_referrers(
        &format!("oci:{}:img", dir.path().join("src").display()),
        &registry.docker_ref("out:img"),
    ));
    let layout = dir.path().join("back");
    succeeded(&copy_referrers(
        &registry.docker_ref("out:img"),
        &format!("oci:{}:img", layout.display()),
    ));
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let entries: Vec<(String, bool)> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["digest"].as_str().unwrap().to_string(),
                m["annotations"]["org.opencontainers.image.ref.name"].is_string(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            (signed.image.digest.to_string(), true),
            (signed.signature.digest.to_string(), false),
            (signed.counter.digest.to_string(), false),
        ]
    );
    succeeded(&copy_referrers(
        &format!("oci:{}:img", layout.display()),
        &registry.docker_ref("again:img"),
    ));
    assert_fallback_tags(&registry, "again", &signed);
}

/// A registry with the referrers API, read-only, serving `signed` in
/// `repo` and answering `GET /v2/repo/referrers/<digest>` with
/// `listings[digest]` (an empty index when there is none).
fn api_registry(signed: &Signed, listings: HashMap<String, Vec<u8>>) -> ScriptedServer {
    let mut files: HashMap<String, (String, Vec<u8>)> = HashMap::new();
    for c in [&signed.config, &signed.empty, &signed.payload] {
        files.insert(
            format!("/v2/repo/blobs/{}", c.digest),
            ("application/octet-stream".into(), c.bytes.clone()),
        );
    }
    for c in [&signed.image, &signed.signature, &signed.counter] {
        files.insert(
            format!("/v2/repo/manifests/{}", c.digest),
            (OCI_MANIFEST.into(), c.bytes.clone()),
        );
    }
    files.insert(
        "/v2/repo/manifests/img".into(),
        (OCI_MANIFEST.into(), signed.image.bytes.clone()),
    );
    let files = Arc::new(files);
    ScriptedServer::start(move |seen| {
        let path = seen.path();
        if path == "/v2/" {
            return Reply::ok("{}");
        }
        if let Some(subject) = path.strip_prefix("/v2/repo/referrers/") {
            let body = listings.get(subject).cloned().unwrap_or_else(|| {
                format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[]}}"#)
                    .into_bytes()
            });
            return Reply::ok(body).header("Content-Type", OCI_INDEX);
        }
        match files.get(path) {
            Some((media_type, bytes)) => {
                let reply = Reply::ok(if seen.method == "HEAD" {
                    Vec::new()
                } else {
                    bytes.clone()
                })
                .header("Content-Type", media_type)
                .header("Docker-Content-Digest", Digest::sha256_of(bytes).as_str());
                if seen.method == "HEAD" {
                    reply.header("Content-Length", &bytes.len().to_string())
                } else {
                    reply
                }
            }
            None => Reply::not_found(),
        }
    })
}

fn index_of(entries: &[&Content]) -> Vec<u8> {
    let listed: Vec<String> = entries
        .iter()
        .map(|c| {
            format!(
                r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":{},"artifactType":"{SIG_TYPE}"}}"#,
                c.digest,
                c.bytes.len()
            )
        })
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
        listed.join(",")
    )
    .into_bytes()
}

fn honest_listings(signed: &Signed) -> HashMap<String, Vec<u8>> {
    HashMap::from([
        (
            signed.image.digest.to_string(),
            index_of(&[&signed.signature]),
        ),
        (
            signed.signature.digest.to_string(),
            index_of(&[&signed.counter]),
        ),
    ])
}

#[test]
fn referrers_listed_by_the_api_go_to_a_registry_without_it_through_the_fallback_tag() {
    let signed = Signed::new();
    let source = api_registry(&signed, honest_listings(&signed));
    let registry = Registry::start(Setup::plain());
    succeeded(&copy_referrers(
        &format!("docker://{}/repo:img", source.addr()),
        &registry.docker_ref("fromapi:img"),
    ));
    assert_fallback_tags(&registry, "fromapi", &signed);
    assert!(
        source
            .requests()
            .iter()
            .any(|s| s.path() == format!("/v2/repo/referrers/{}", signed.image.digest)),
        "the referrers API was asked"
    );
}

#[test]
fn referrers_listed_by_the_api_go_into_a_layout() {
    let signed = Signed::new();
    let source = api_registry(&signed, honest_listings(&signed));
    let dir = tempfile::tempdir().unwrap();
    succeeded(&copy_referrers(
        &format!("docker://{}/repo:img", source.addr()),
        &format!("oci:{}:img", dir.path().display()),
    ));
    let index = std::fs::read_to_string(dir.path().join("index.json")).unwrap();
    for referrer in [&signed.signature, &signed.counter] {
        assert!(index.contains(referrer.digest.as_str()), "{index}");
    }
}

fn refused_copy(listings: HashMap<String, Vec<u8>>, signed: &Signed) -> String {
    let source = api_registry(signed, listings);
    let dir = tempfile::tempdir().unwrap();
    failed(&copy_referrers(
        &format!("docker://{}/repo:img", source.addr()),
        &format!("oci:{}:img", dir.path().display()),
    ))
}

#[test]
fn a_referrers_index_that_names_its_subject_is_refused() {
    let signed = Signed::new();
    let stderr = refused_copy(
        HashMap::from([(signed.image.digest.to_string(), index_of(&[&signed.image]))]),
        &signed,
    );
    assert!(stderr.contains("itself"), "{stderr}");
}

#[test]
fn a_cycle_of_referrers_is_refused() {
    let signed = Signed::new();
    let mut listings = honest_listings(&signed);
    // The countersignature's referrers would be the signature again.
    listings.insert(
        signed.counter.digest.to_string(),
        index_of(&[&signed.signature]),
    );
    let stderr = refused_copy(listings, &signed);
    assert!(stderr.contains("a cycle"), "{stderr}");
}

#[test]
fn a_referrer_that_does_not_name_its_subject_is_refused() {
    let signed = Signed::new();
    // The countersignature's subject is the signature, not the image.
    let stderr = refused_copy(
        HashMap::from([(
            signed.image.digest.to_string(),
            index_of(&[&signed.counter]),
        )]),
        &signed,
    );
    assert!(stderr.contains("but its subject is"), "{stderr}");
}

#[test]
fn a_huge_referrers_index_is_refused() {
    let signed = Signed::new();
    let many: Vec<Content> = (0..1001).map(|n| Content::new(format!("{n}"))).collect();
    let refs: Vec<&Content> = many.iter().collect();
    let stderr = refused_copy(
        HashMap::from([(signed.image.digest.to_string(), index_of(&refs))]),
        &signed,
    );
    assert!(stderr.contains("more than the 1000"), "{stderr}");
}

/// The image pushed to `repository:img` with a cosign `.sig` and `.att`
/// tag beside it (no `.sbom`), each an artifact of its own.
fn push_with_cosign_tags(registry: &Registry, repository: &str, signed: &Signed) -> [String; 2] {
    let dir = tempfile::tempdir().unwrap();
    let sig = ferry_core::referrers::cosign_tag(&signed.image.digest, ".sig");
    let att = ferry_core::referrers::cosign_tag(&signed.image.digest, ".att");
    signed.layout_with(
        dir.path(),
        &[
            (sig.as_str(), &signed.signature),
            (att.as_str(), &signed.counter),
        ],
    );
    for tag in ["img", sig.as_str(), att.as_str()] {
        succeeded(&ferry(&[
            "copy",
            "--dest-tls-verify=false",
            "--progress",
            "none",
            &format!("oci:{}:{tag}", dir.path().display()),
            &registry.docker_ref(&format!("{repository}:{tag}")),
        ]));
    }
    [sig, att]
}

fn copy_cosign_tags(source: &str, destination: &str) -> std::process::Output {
    ferry(&[
        "copy",
        "--cosign-tags",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--progress",
        "none",
        source,
        destination,
    ])
}

#[test]
fn cosign_tags_are_copied_with_their_image_between_registries() {
    let registry = Registry::start(Setup::plain());
    let signed = Signed::new();
    let [sig, att] = push_with_cosign_tags(&registry, "cosigned", &signed);
    succeeded(&copy_cosign_tags(
        &registry.docker_ref("cosigned:img"),
        &registry.docker_ref("mirror:img"),
    ));
    assert_eq!(
        manifest(&registry, "mirror", &sig),
        Ok(signed.signature.bytes.clone())
    );
    assert_eq!(
        manifest(&registry, "mirror", &att),
        Ok(signed.counter.bytes.clone())
    );
    let sbom = ferry_core::referrers::cosign_tag(&signed.image.digest, ".sbom");
    assert_eq!(manifest(&registry, "mirror", &sbom), Err(404));
}

#[test]
fn cosign_tags_become_named_layout_entries_and_go_back() {
    let registry = Registry::start(Setup::plain());
    let signed = Signed::new();
    let [sig, att] = push_with_cosign_tags(&registry, "cosigned", &signed);
    let dir = tempfile::tempdir().unwrap();
    succeeded(&copy_cosign_tags(
        &registry.docker_ref("cosigned:img"),
        &format!("oci:{}:img", dir.path().display()),
    ));
    let index = std::fs::read_to_string(dir.path().join("index.json")).unwrap();
    assert!(
        index.contains(&format!(r#""org.opencontainers.image.ref.name":"{sig}""#)),
        "{index}"
    );
    succeeded(&copy_cosign_tags(
        &format!("oci:{}:img", dir.path().display()),
        &registry.docker_ref("back:img"),
    ));
    assert_eq!(
        manifest(&registry, "back", &att),
        Ok(signed.counter.bytes.clone())
    );
}

#[test]
fn without_cosign_tags_no_tag_is_copied() {
    let registry = Registry::start(Setup::plain());
    let signed = Signed::new();
    let [sig, _] = push_with_cosign_tags(&registry, "cosigned", &signed);
    succeeded(&ferry(&[
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--progress",
        "none",
        &registry.docker_ref("cosigned:img"),
        &registry.docker_ref("bare:img"),
    ]));
    assert_eq!(manifest(&registry, "bare", &sig), Err(404));
}

fn inspect_referrers(image: &str, json: bool) -> String {
    let mut args = vec!["inspect", "--referrers", "--tls-verify=false", image];
    if json {
        args.push("--json");
    }
    succeeded(&ferry(&args))
}

#[test]
fn inspect_lists_a_layout_s_referrers_and_theirs_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let signed = Signed::new();
    signed.layout(dir.path());
    let out = inspect_referrers(&format!("oci:{}:img", dir.path().display()), true);
    let found: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows: Vec<(String, String, String, u64)> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["digest"].as_str().unwrap().to_string(),
                r["subject"].as_str().unwrap().to_string(),
                r["artifactType"].as_str().unwrap().to_string(),
                r["depth"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                signed.signature.digest.to_string(),
                signed.image.digest.to_string(),
                SIG_TYPE.to_string(),
                1
            ),
            (
                signed.counter.digest.to_string(),
                signed.signature.digest.to_string(),
                COUNTER_TYPE.to_string(),
                2
            ),
        ]
    );
    assert_eq!(
        found[0]["annotations"]["org.example.made-by"],
        "ferry tests"
    );
}

#[test]
fn inspect_lists_a_registry_s_fallback_referrers_as_text_one_a_line() {
    let registry = Registry::start(Setup::plain());
    let dir = tempfile::tempdir().unwrap();
    let signed = Signed::new();
    signed.layout(dir.path());
    succeeded(&copy_referrers(
        &format!("oci:{}:img", dir.path().display()),
        &registry.docker_ref("listed:img"),
    ));
    let out = inspect_referrers(&registry.docker_ref("listed:img"), false);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with(signed.signature.digest.as_str()),
        "{out}"
    );
    assert!(lines[0].contains(SIG_TYPE), "{out}");
    assert!(
        lines[1].starts_with(&format!("  {}", signed.counter.digest)),
        "a referrer of a referrer is indented: {out}"
    );
}

#[test]
fn inspect_of_an_image_without_referrers_lists_none() {
    let registry = Registry::start(Setup::plain());
    let dir = tempfile::tempdir().unwrap();
    Signed::new().layout(dir.path());
    succeeded(&ferry(&[
        "copy",
        "--dest-tls-verify=false",
        "--progress",
        "none",
        &format!("oci:{}:img", dir.path().display()),
        &registry.docker_ref("alone:img"),
    ]));
    assert_eq!(
        inspect_referrers(&registry.docker_ref("alone:img"), true).trim(),
        "[]"
    );
}
