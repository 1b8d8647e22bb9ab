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
    Body, Registry, Reply, ScriptedServer, Setup, failed, ferry, request, succeeded,
};

use ferry_tests::signed::{
    COUNTER_TYPE, Content, OCI_INDEX, OCI_MANIFEST, SIG_TYPE, Signed, SignedLayout, artifact,
};

/// A docker-registry (no referrers API) holding the signed image at
/// `repository:img`, copied there from its layout with `--referrers`.
fn pushed_with_referrers(repository: &str) -> (Registry, SignedLayout) {
    let registry = Registry::start(Setup::plain());
    let layout = SignedLayout::new();
    succeeded(&copy_referrers(
        &layout.image(),
        &registry.docker_ref(&format!("{repository}:img")),
    ));
    (registry, layout)
}

/// `oci:PATH:img`.
fn layout_image(path: &Path) -> String {
    format!("oci:{}:img", path.display())
}

/// `img` at a scripted registry's `repo`.
fn api_image(source: &ScriptedServer) -> String {
    format!("docker://{}/repo:img", source.addr())
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
    let (registry, layout) = pushed_with_referrers("signed");
    let signed = &layout.signed;
    assert_fallback_tags(&registry, "signed", signed);
}

#[test]
fn without_referrers_no_referrer_is_copied() {
    let registry = Registry::start(Setup::plain());
    let layout = SignedLayout::new();
    let signed = &layout.signed;
    succeeded(&ferry(&[
        "copy",
        "--dest-tls-verify=false",
        "--progress",
        "none",
        &layout.image(),
        &registry.docker_ref("plain:img"),
    ]));
    assert_eq!(
        manifest(&registry, "plain", &fallback_tag(&signed.image.digest)),
        Err(404)
    );
}

#[test]
fn referrers_go_from_fallback_tags_to_fallback_tags_in_the_same_order() {
    let (registry, layout) = pushed_with_referrers("first");
    let signed = &layout.signed;
    succeeded(&copy_referrers(
        &registry.docker_ref("first:img"),
        &registry.docker_ref("second:img"),
    ));
    assert_fallback_tags(&registry, "second", signed);
    let tag = fallback_tag(&signed.image.digest);
    assert_eq!(
        manifest(&registry, "second", &tag),
        manifest(&registry, "first", &tag),
        "the fallback index is rebuilt byte for byte"
    );
}

#[test]
fn referrers_go_from_a_registry_into_a_layout_as_unnamed_entries_and_back() {
    let (registry, layout) = pushed_with_referrers("out");
    let signed = &layout.signed;
    let back = layout.beside("back");
    succeeded(&copy_referrers(
        &registry.docker_ref("out:img"),
        &layout_image(&back),
    ));
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(back.join("index.json")).unwrap()).unwrap();
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
        &layout_image(&back),
        &registry.docker_ref("again:img"),
    ));
    assert_fallback_tags(&registry, "again", signed);
}

/// A registry with the referrers API, read-only, serving `signed` in
/// `repo` and answering `GET /v2/repo/referrers/<digest>` with
/// `listings[digest]` (an empty index when there is none).
fn api_registry(signed: &Signed, listings: HashMap<String, Body>) -> ScriptedServer {
    api_registry_paged(signed, listings, HashMap::new())
}

/// [`api_registry`], whose listing of a subject in `next_pages` names a
/// next page there (`Link: <…>; rel="next"`).
fn api_registry_paged(
    signed: &Signed,
    listings: HashMap<String, Body>,
    next_pages: HashMap<String, String>,
) -> ScriptedServer {
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
            // A next page is a listing of its own, named by its path.
            let subject = if seen.target.contains("page=2") {
                "page2"
            } else {
                subject
            };
            let body = listings.get(subject).cloned().unwrap_or_else(|| {
                Body::Bytes(
                    format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[]}}"#)
                        .into_bytes(),
                )
            });
            let reply = Reply::status(200)
                .with_body(body)
                .header("Content-Type", OCI_INDEX);
            return match next_pages.get(subject) {
                Some(link) => reply.header("Link", &format!("<{link}>; rel=\"next\"")),
                None => reply,
            };
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

fn index_of(entries: &[&Content]) -> Body {
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
    Body::Bytes(
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
            listed.join(",")
        )
        .into_bytes(),
    )
}

fn honest_listings(signed: &Signed) -> HashMap<String, Body> {
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
        &api_image(&source),
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
        &api_image(&source),
        &layout_image(dir.path()),
    ));
    let index = std::fs::read_to_string(dir.path().join("index.json")).unwrap();
    for referrer in [&signed.signature, &signed.counter] {
        assert!(index.contains(referrer.digest.as_str()), "{index}");
    }
}

/// stderr of a copy with `--referrers` from `source` into a layout,
/// which must fail.
fn refused_copy_from(source: &ScriptedServer) -> String {
    let dir = tempfile::tempdir().unwrap();
    failed(&copy_referrers(
        &api_image(source),
        &layout_image(dir.path()),
    ))
}

/// [`refused_copy_from`] a registry with the API and `listings`.
fn refused_copy(listings: HashMap<String, Body>, signed: &Signed) -> String {
    refused_copy_from(&api_registry(signed, listings))
}

/// [`refused_copy`] where the image's listing is `listing` and nothing
/// else has referrers.
fn refused_image_listing(signed: &Signed, listing: Body) -> String {
    refused_copy(
        HashMap::from([(signed.image.digest.to_string(), listing)]),
        signed,
    )
}

#[test]
fn a_referrers_index_that_names_its_subject_is_refused() {
    let signed = Signed::new();
    let stderr = refused_image_listing(&signed, index_of(&[&signed.image]));
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
    let stderr = refused_image_listing(&signed, index_of(&[&signed.counter]));
    assert!(stderr.contains("but its subject is"), "{stderr}");
}

#[test]
fn every_page_of_a_referrers_listing_is_read() {
    let signed = Signed::new();
    let image = signed.image.digest.to_string();
    let mut listings = honest_listings(&signed);
    let second = listings
        .remove(&signed.signature.digest.to_string())
        .unwrap();
    listings.insert("page2".into(), second);
    // The image's listing goes on to a second page that names the
    // countersignature (which here refers to the signature, so the copy
    // must refuse it: proof that the second page was read).
    let source = api_registry_paged(
        &signed,
        listings,
        HashMap::from([(image.clone(), format!("/v2/repo/referrers/{image}?page=2"))]),
    );
    let stderr = refused_copy_from(&source);
    assert!(
        stderr.contains(&format!(
            "{} is listed as a referrer of {image} but its subject is {}",
            signed.counter.digest, signed.signature.digest
        )),
        "{stderr}"
    );
}

#[test]
fn a_referrers_page_on_another_host_is_refused() {
    let signed = Signed::new();
    let image = signed.image.digest.to_string();
    let source = api_registry_paged(
        &signed,
        honest_listings(&signed),
        HashMap::from([(image, "http://elsewhere.invalid/next".to_string())]),
    );
    let stderr = refused_copy_from(&source);
    assert!(stderr.contains("away from the registry"), "{stderr}");
}

#[test]
fn an_endless_referrers_listing_is_cut_off() {
    let signed = Signed::new();
    let stderr = refused_image_listing(
        &signed,
        Body::Endless {
            fill: b' ',
            cap: 64 * 1024 * 1024,
        },
    );
    assert!(stderr.contains("larger than 4194304 bytes"), "{stderr}");
}

#[test]
fn a_huge_referrers_index_is_refused() {
    let signed = Signed::new();
    let many: Vec<Content> = (0..1001).map(|n| Content::new(format!("{n}"))).collect();
    let refs: Vec<&Content> = many.iter().collect();
    let stderr = refused_image_listing(&signed, index_of(&refs));
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
        &layout_image(dir.path()),
    ));
    let index = std::fs::read_to_string(dir.path().join("index.json")).unwrap();
    assert!(
        index.contains(&format!(r#""org.opencontainers.image.ref.name":"{sig}""#)),
        "{index}"
    );
    succeeded(&copy_cosign_tags(
        &layout_image(dir.path()),
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
    let layout = SignedLayout::new();
    let signed = &layout.signed;
    let out = inspect_referrers(&layout.image(), true);
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
    let (registry, layout) = pushed_with_referrers("listed");
    let signed = &layout.signed;
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
    let layout = SignedLayout::new();
    succeeded(&ferry(&[
        "copy",
        "--dest-tls-verify=false",
        "--progress",
        "none",
        &layout.image(),
        &registry.docker_ref("alone:img"),
    ]));
    assert_eq!(
        inspect_referrers(&registry.docker_ref("alone:img"), true).trim(),
        "[]"
    );
}

/// A writable registry with the referrers API, in memory, for one
/// repository `repo`: blobs (monolithic uploads), manifests by tag and
/// digest, and `GET /v2/repo/referrers/<digest>` built from the stored
/// manifests' subjects. With `echo_subject`, a manifest pushed with a
/// subject is answered with `OCI-Subject`, as the spec requires of a
/// registry with the API.
struct MemoryRegistry {
    server: ScriptedServer,
}

#[derive(Default)]
struct Stored {
    blobs: HashMap<String, Vec<u8>>,
    /// By tag or digest: media type and bytes.
    manifests: HashMap<String, (String, Vec<u8>)>,
    uploads: usize,
}

impl MemoryRegistry {
    fn start(echo_subject: bool) -> MemoryRegistry {
        let stored = Arc::new(std::sync::Mutex::new(Stored::default()));
        let server = ScriptedServer::start(move |seen| {
            let mut stored = stored.lock().unwrap();
            let path = seen.path().to_string();
            let query = seen.target.split_once('?').map(|(_, q)| q).unwrap_or("");
            let method = seen.method.as_str();
            if path == "/v2/" {
                return Reply::ok("{}");
            }
            if method == "POST" && path == "/v2/repo/blobs/uploads/" {
                stored.uploads += 1;
                return Reply::status(202)
                    .header("Location", &format!("/upload/{}", stored.uploads));
            }
            if method == "PUT" && path.starts_with("/upload/") {
                let digest = query
                    .split('&')
                    .find_map(|p| p.strip_prefix("digest="))
                    .unwrap_or_default()
                    .replace("%3A", ":");
                stored.blobs.insert(digest, seen.body.clone());
                return Reply::status(201);
            }
            if let Some(digest) = path.strip_prefix("/v2/repo/blobs/") {
                return match stored.blobs.get(digest) {
                    Some(bytes) if method == "HEAD" => {
                        Reply::status(200).header("Content-Length", &bytes.len().to_string())
                    }
                    Some(bytes) => Reply::ok(bytes.clone()),
                    None => Reply::not_found(),
                };
            }
            if let Some(reference) = path.strip_prefix("/v2/repo/manifests/") {
                if method == "PUT" {
                    let media_type = seen.header("Content-Type").unwrap_or_default().to_string();
                    let digest = Digest::sha256_of(&seen.body).to_string();
                    let entry = (media_type, seen.body.clone());
                    stored.manifests.insert(digest.clone(), entry.clone());
                    stored.manifests.insert(reference.to_string(), entry);
                    let mut reply = Reply::status(201).header("Docker-Content-Digest", &digest);
                    if echo_subject
                        && let Ok(r) = ferry_core::referrers::referrer(&seen.body, None)
                        && !r.subject.is_empty()
                    {
                        reply = reply.header("OCI-Subject", &r.subject);
                    }
                    return reply;
                }
                return match stored.manifests.get(reference) {
                    Some((media_type, bytes)) => Reply::ok(if method == "HEAD" {
                        Vec::new()
                    } else {
                        bytes.clone()
                    })
                    .header("Content-Type", media_type)
                    .header("Docker-Content-Digest", Digest::sha256_of(bytes).as_str()),
                    None => Reply::not_found(),
                };
            }
            if let Some(subject) = path.strip_prefix("/v2/repo/referrers/") {
                let mut entries: Vec<(String, serde_json::Value)> = stored
                    .manifests
                    .iter()
                    .filter(|(key, _)| key.starts_with("sha256:"))
                    .filter_map(|(_, (media_type, bytes))| {
                        let r = ferry_core::referrers::referrer(bytes, Some(media_type)).ok()?;
                        (r.subject == subject).then(|| {
                            (
                                r.descriptor.digest_text.clone(),
                                serde_json::to_value(&r.descriptor).unwrap(),
                            )
                        })
                    })
                    .collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                let index = serde_json::json!({
                    "schemaVersion": 2,
                    "mediaType": OCI_INDEX,
                    "manifests": entries.into_iter().map(|e| e.1).collect::<Vec<_>>(),
                });
                return Reply::ok(serde_json::to_vec(&index).unwrap())
                    .header("Content-Type", OCI_INDEX);
            }
            Reply::not_found()
        });
        MemoryRegistry { server }
    }

    fn docker_ref(&self, tag: &str) -> String {
        format!("docker://{}/repo:{tag}", self.server.addr())
    }

    /// Every manifest PUT, by the reference it went to.
    fn manifests_put(&self) -> Vec<String> {
        self.server
            .requests()
            .iter()
            .filter(|s| s.method == "PUT")
            .filter_map(|s| {
                s.path()
                    .strip_prefix("/v2/repo/manifests/")
                    .map(String::from)
            })
            .collect()
    }
}

#[test]
fn a_registry_that_names_the_subject_back_gets_no_fallback_tag() {
    let registry = MemoryRegistry::start(true);
    let layout = SignedLayout::new();
    let signed = &layout.signed;
    succeeded(&copy_referrers(
        &layout.image(),
        &registry.docker_ref("img"),
    ));
    assert_eq!(
        registry.manifests_put(),
        [
            "img".to_string(),
            signed.signature.digest.to_string(),
            signed.counter.digest.to_string()
        ]
    );
}

#[test]
fn a_registry_with_the_api_that_does_not_name_the_subject_back_gets_the_fallback_tag() {
    let registry = MemoryRegistry::start(false);
    let layout = SignedLayout::new();
    let signed = &layout.signed;
    succeeded(&copy_referrers(
        &layout.image(),
        &registry.docker_ref("img"),
    ));
    assert!(
        registry
            .manifests_put()
            .contains(&fallback_tag(&signed.image.digest)),
        "{:?}",
        registry.manifests_put()
    );
}

#[test]
fn referrers_go_from_the_api_to_the_api() {
    let signed = Signed::new();
    let source = api_registry(&signed, honest_listings(&signed));
    let registry = MemoryRegistry::start(true);
    succeeded(&copy_referrers(
        &api_image(&source),
        &registry.docker_ref("img"),
    ));
    let out = inspect_referrers(&registry.docker_ref("img"), true);
    let found: serde_json::Value = serde_json::from_str(&out).unwrap();
    let digests: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["digest"].as_str().unwrap())
        .collect();
    assert_eq!(
        digests,
        [
            signed.signature.digest.as_str(),
            signed.counter.digest.as_str()
        ]
    );
    assert!(
        !registry
            .manifests_put()
            .iter()
            .any(|r| r.starts_with("sha256-")),
        "no fallback tag: {:?}",
        registry.manifests_put()
    );
}

#[test]
fn a_dry_run_lists_the_referrers_it_would_copy_and_writes_none() {
    let registry = Registry::start(Setup::plain());
    let layout = SignedLayout::new();
    let signed = &layout.signed;
    let out = succeeded(&ferry(&[
        "copy",
        "--referrers",
        "--dry-run",
        "--dest-tls-verify=false",
        &layout.image(),
        &registry.docker_ref("dry:img"),
    ]));
    for (referrer, subject) in [
        (&signed.signature, &signed.image),
        (&signed.counter, &signed.signature),
    ] {
        assert!(
            out.contains(&format!(
                "copy referrer {} of {}",
                referrer.digest, subject.digest
            )),
            "{out}"
        );
    }
    assert_eq!(
        manifest(&registry, "dry", signed.signature.digest.as_str()),
        Err(404)
    );
}

#[test]
fn the_json_report_names_each_referrer_copied_with_its_subject() {
    let registry = Registry::start(Setup::plain());
    let layout = SignedLayout::new();
    let signed = &layout.signed;
    let out = succeeded(&ferry(&[
        "copy",
        "--referrers",
        "--json",
        "--dest-tls-verify=false",
        &layout.image(),
        &registry.docker_ref("reported:img"),
    ]));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let referrers = report["referrers"].as_array().unwrap();
    assert_eq!(referrers.len(), 2, "{out}");
    assert_eq!(referrers[0]["digest"], signed.signature.digest.as_str());
    assert_eq!(referrers[0]["subject"], signed.image.digest.as_str());
    assert_eq!(referrers[0]["artifactType"], SIG_TYPE);
    assert_eq!(referrers[1]["depth"], 2);
}

#[test]
fn referrers_of_a_list_and_of_each_instance_are_copied() {
    let signed = Signed::new();
    let index = Content::new(format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":{},"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
        signed.image.digest,
        signed.image.bytes.len()
    ));
    let of_index = artifact(SIG_TYPE, &signed.empty, &signed.payload, &index);
    let dir = tempfile::tempdir().unwrap();
    // The layout's "img" is the index; the signature refers to its
    // instance, of_index to the index itself.
    signed.layout_with(dir.path(), &[("list", &index)]);
    for c in [&index, &of_index] {
        std::fs::write(
            dir.path().join("blobs/sha256").join(c.digest.encoded()),
            &c.bytes,
        )
        .unwrap();
    }
    let mut layout: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap();
    let entries = layout["manifests"].as_array_mut().unwrap();
    for entry in entries.iter_mut() {
        if entry["digest"] == index.digest.as_str() {
            entry["mediaType"] = OCI_INDEX.into();
        }
    }
    entries.push(serde_json::from_str(&of_index.descriptor(OCI_MANIFEST)).unwrap());
    std::fs::write(
        dir.path().join("index.json"),
        serde_json::to_vec(&layout).unwrap(),
    )
    .unwrap();
    let registry = Registry::start(Setup::plain());
    succeeded(&ferry(&[
        "copy",
        "--all",
        "--referrers",
        "--dest-tls-verify=false",
        "--progress",
        "none",
        &format!("oci:{}:list", dir.path().display()),
        &registry.docker_ref("multi:list"),
    ]));
    let of_list = manifest(&registry, "multi", &fallback_tag(&index.digest)).unwrap();
    assert_eq!(listed(&of_list), [of_index.digest.to_string()]);
    assert_fallback_tags(&registry, "multi", &signed);
}

/// `--referrers` or `--cosign-tags` into `dest`, whose kind cannot store
/// them: refused, and `dest` not created.
fn refused_before_anything_is_written(flag: &str, dest: &str, expected: &str) {
    let layout = SignedLayout::new();
    let out = layout.beside("out");
    let stderr = failed(&ferry(&[
        "copy",
        flag,
        "--progress",
        "none",
        &layout.image(),
        &format!("{dest}:{}", out.display()),
    ]));
    assert!(stderr.contains(expected), "{stderr}");
    assert!(!out.exists(), "{dest}: something was written");
}

#[test]
fn referrers_into_a_dir_are_refused_before_the_image_is_written() {
    refused_before_anything_is_written("--referrers", "dir", "cannot store referrers");
}

#[test]
fn referrers_into_archives_are_refused_before_the_image_is_written() {
    for dest in ["oci-archive", "docker-archive"] {
        refused_before_anything_is_written("--referrers", dest, "cannot store referrers");
    }
}

#[test]
fn cosign_tags_into_a_dir_are_refused_before_the_image_is_written() {
    refused_before_anything_is_written("--cosign-tags", "dir", "cannot hold tags");
}
