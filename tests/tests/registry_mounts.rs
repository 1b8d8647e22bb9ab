//! Cross-repository mounts that the registry refuses. containers/image
//! then uploads the blob, whatever the refusal was (a 403, a 401 it cannot
//! answer, an upload opened instead of a mount); so does ferry, and it
//! says so in its progress instead of keeping quiet.
//!
//! A scripted registry (loopback) serves `x/app:v1`, a one-layer image,
//! and takes pushes to `y/copy`; `mount` answers the mount requests.

use std::sync::Arc;

use ferry_core::Digest;
use ferry_tests::registry::{Reply, ScriptedServer, Seen, ferry, succeeded};

/// The image the source repository serves.
struct Image {
    manifest: Vec<u8>,
    manifest_digest: Digest,
    config: Vec<u8>,
    config_digest: Digest,
    layer: Vec<u8>,
    layer_digest: Digest,
}

impl Image {
    fn new() -> Image {
        let config =
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
                .to_vec();
        let mut layer: Vec<u8> = (0..64 * 1024u32).map(|i| (i * 13 % 251) as u8).collect();
        // gzip's magic bytes, as its type says: kept as it is by
        // destinations that want compressed layers.
        layer[..3].copy_from_slice(&[0x1f, 0x8b, 0x08]);
        let (config_digest, layer_digest) = (Digest::sha256_of(&config), Digest::sha256_of(&layer));
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{layer_digest}","size":{}}}]}}"#,
            config.len(),
            layer.len()
        )
        .into_bytes();
        Image {
            manifest_digest: Digest::sha256_of(&manifest),
            manifest,
            config,
            config_digest,
            layer,
            layer_digest,
        }
    }
}

/// A registry with `x/app` to read and `y/copy` to push to, anonymous
/// except where `mount` says otherwise; `mount` answers every
/// `POST /v2/y/copy/blobs/uploads/?mount=…`.
fn registry(
    mount: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
) -> (ScriptedServer, Arc<Image>) {
    let image = Arc::new(Image::new());
    let served = Arc::clone(&image);
    let server = ScriptedServer::start(move |request| {
        let path = request.path();
        let image = &served;
        if path == "/v2/" {
            return Reply::ok(b"{}".to_vec());
        }
        if let Some(reference) = path.strip_prefix("/v2/x/app/manifests/") {
            if reference == "v1" || reference == image.manifest_digest.as_str() {
                return Reply::ok(image.manifest.clone())
                    .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                    .header("Docker-Content-Digest", image.manifest_digest.as_str());
            }
            return Reply::not_found();
        }
        if let Some(digest) = path.strip_prefix("/v2/x/app/blobs/") {
            if digest == image.config_digest.as_str() {
                return Reply::ok(image.config.clone());
            }
            if digest == image.layer_digest.as_str() {
                return Reply::ok(image.layer.clone());
            }
            return Reply::not_found();
        }
        match (request.method.as_str(), path) {
            ("POST", "/v2/y/copy/blobs/uploads/") if request.target.contains("mount=") => {
                mount(request)
            }
            ("POST", "/v2/y/copy/blobs/uploads/") => {
                Reply::status(202).header("Location", "/v2/y/copy/blobs/uploads/session")
            }
            ("PUT", "/v2/y/copy/blobs/uploads/session") => Reply::status(201),
            ("PATCH", "/v2/y/copy/blobs/uploads/session") => {
                Reply::status(202).header("Location", "/v2/y/copy/blobs/uploads/session")
            }
            ("DELETE", p) if p.starts_with("/v2/y/copy/blobs/uploads/") => Reply::status(204),
            ("GET", "/no-token") => Reply::status(403),
            ("PUT", "/v2/y/copy/manifests/v1") => {
                Reply::status(201).header("Docker-Content-Digest", image.manifest_digest.as_str())
            }
            _ => Reply::not_found(),
        }
    });
    (server, image)
}

/// `ferry copy --progress json docker://…/x/app:v1 docker://…/y/copy:v1`;
/// the copy must succeed. Returns its progress events.
fn copy(server: &ScriptedServer) -> Vec<serde_json::Value> {
    let out = ferry(&[
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--retry-times",
        "0",
        "--progress",
        "json",
        &format!("docker://{}/x/app:v1", server.host()),
        &format!("docker://{}/y/copy:v1", server.host()),
    ]);
    succeeded(&out);
    // The events, one per line, and then the summary line.
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: not an event: {line}"))
        })
        .collect()
}

/// Whether the blob was uploaded: an upload session closed with its digest.
fn uploaded(server: &ScriptedServer, digest: &Digest) -> bool {
    server.requests().iter().any(|r| {
        r.method == "PUT"
            && r.path() == "/v2/y/copy/blobs/uploads/session"
            && r.target.contains(&format!("digest={digest}"))
    })
}

/// The `mountRefused` events.
fn refusals(events: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    events
        .iter()
        .filter(|e| e["event"] == "mountRefused")
        .collect()
}

/// A refused mount of every blob is reported once per blob, naming the
/// repository, and every blob is uploaded instead.
fn assert_refused_and_uploaded(server: &ScriptedServer, image: &Image, reason: &str) {
    let events = copy(server);
    let refused = refusals(&events);
    let mut digests: Vec<&str> = refused
        .iter()
        .map(|e| e["digest"].as_str().unwrap())
        .collect();
    digests.sort();
    let mut expected = vec![image.config_digest.as_str(), image.layer_digest.as_str()];
    expected.sort();
    assert_eq!(digests, expected, "{events:#?}");
    for event in &refused {
        assert_eq!(event["from"], "x/app");
        let said = event["reason"].as_str().unwrap();
        assert!(said.contains(reason), "{reason:?} not in {said:?}");
    }
    assert!(
        uploaded(server, &image.layer_digest),
        "the layer was not uploaded"
    );
    assert!(
        uploaded(server, &image.config_digest),
        "the config was not uploaded"
    );
    assert!(!events.iter().any(|e| e["event"] == "mounted"));
}

#[test]
fn a_mount_refused_with_403_is_reported_and_the_blob_uploaded() {
    let (server, image) = registry(|_| {
        Reply::status(403)
            .header("Content-Type", "application/json")
            .with_body(ferry_tests::registry::Body::Bytes(
                br#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#
                    .to_vec(),
            ))
    });
    assert_refused_and_uploaded(
        &server,
        &image,
        "requested access to the resource is denied",
    );
}

#[test]
fn a_mount_refused_with_401_that_no_token_answers_is_reported_and_the_blob_uploaded() {
    // The mount asks for pull access to x/app as well; this token server
    // grants nothing, so the mount cannot be authorised.
    let realm = Arc::new(std::sync::OnceLock::<String>::new());
    let challenge = Arc::clone(&realm);
    let (server, image) = registry(move |_| {
        Reply::status(401).header(
            "WWW-Authenticate",
            &format!(
                r#"Bearer realm="{}",service="scripted""#,
                challenge.get().unwrap()
            ),
        )
    });
    realm.set(format!("{}/no-token", server.url())).unwrap();
    assert_refused_and_uploaded(&server, &image, "the token server refused (403 Forbidden)");
}

#[test]
fn a_mount_that_opens_an_upload_instead_is_cancelled_reported_and_the_blob_uploaded() {
    let (server, image) = registry(|request| {
        let digest = request
            .target
            .split("mount=")
            .nth(1)
            .unwrap_or_default()
            .split('&')
            .next()
            .unwrap_or_default()
            .to_string();
        Reply::status(202).header(
            "Location",
            &format!("/v2/y/copy/blobs/uploads/opened-{digest}"),
        )
    });
    assert_refused_and_uploaded(&server, &image, "started an upload instead");
    let cancelled: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| r.path().to_string())
        .collect();
    for digest in [&image.config_digest, &image.layer_digest] {
        let opened = format!("/v2/y/copy/blobs/uploads/opened-{digest}");
        assert!(
            cancelled.contains(&opened),
            "{opened} not cancelled: {cancelled:?}"
        );
    }
}

#[test]
fn an_accepted_mount_moves_no_bytes() {
    let (server, image) = registry(|_| Reply::status(201));
    let events = copy(&server);
    assert!(refusals(&events).is_empty(), "{events:#?}");
    let mounted = events.iter().filter(|e| e["event"] == "mounted").count();
    assert_eq!(mounted, 2, "{events:#?}");
    assert!(!uploaded(&server, &image.layer_digest));
}
