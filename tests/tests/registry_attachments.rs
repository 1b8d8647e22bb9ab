//! Signatures the registry keeps itself, as containers/image 5.23 keeps
//! them: sigstore signatures in `sha256-<hex>.sig` attachments (against
//! Debian's docker-registry, with skopeo 1.9.3 reading and writing them
//! too), and the registry signature API extension (against a scripted
//! registry that advertises it).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ferry_tests::registry::{
    DemoImage, Registry, Reply, ScriptedServer, Setup, failed, ferry, skopeo, succeeded,
};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const SIGSTORE_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";

/// A scratch directory with a cosign key pair and its passphrase.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let scratch = Scratch {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::write(scratch.passphrase(), "attachments\n").unwrap();
        for name in ["key", "other"] {
            succeeded(&ferry(&[
                "generate-sigstore-key",
                "--output-prefix",
                &scratch.path(name).display().to_string(),
                "--passphrase-file",
                &scratch.passphrase().display().to_string(),
            ]));
        }
        scratch
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn passphrase(&self) -> PathBuf {
        self.path("passphrase")
    }

    /// A `registries.d` directory holding `yaml`.
    fn registries_d(&self, name: &str, yaml: &str) -> PathBuf {
        let dir = self.path(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.yaml"), yaml).unwrap();
        dir
    }

    /// One image of the demo in `dir:` form, signed with `key` for
    /// `identity`.
    /// A sigstore-signed image pushed by ferry to `repository_and_tag`
    /// with attachments on: its reference, the registries.d used, and
    /// the signed `dir:` image pushed.
    fn push_signed(
        &self,
        registry: &Registry,
        repository_and_tag: &str,
    ) -> (String, PathBuf, PathBuf) {
        let target = registry.docker_ref(repository_and_tag);
        let signed = self.signed_image(target.trim_start_matches("docker://"));
        let config = self.registries_d("on.d", attachments_on());
        succeeded(&copy(
            &config,
            &format!("dir:{}", signed.display()),
            &target,
        ));
        (target, config, signed)
    }

    fn signed_image(&self, identity: &str) -> PathBuf {
        let demo = DemoImage::make();
        let out = self.path("signed");
        succeeded(&ferry(&[
            "--insecure-policy",
            "copy",
            "--progress",
            "none",
            "--sign-by-sigstore-private-key",
            &self.path("key.private").display().to_string(),
            "--sign-passphrase-file",
            &self.passphrase().display().to_string(),
            "--sign-identity",
            identity,
            &demo.dir_ref(),
            &format!("dir:{}", out.display()),
        ]));
        out
    }

    /// A policy that accepts only sigstore signatures by `key`.
    fn policy(&self, key: &str) -> PathBuf {
        let path = self.path(&format!("policy-{key}.json"));
        let public = self.path(&format!("{key}.pub"));
        std::fs::write(
            &path,
            format!(
                r#"{{"default":[{{"type":"sigstoreSigned","keyPath":"{}"}}]}}"#,
                public.display()
            ),
        )
        .unwrap();
        path
    }
}

fn attachments_on() -> &'static str {
    "default-docker:\n  use-sigstore-attachments: true\n"
}

fn copy(registries_d: &Path, source: &str, destination: &str) -> std::process::Output {
    ferry(&[
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--progress",
        "none",
        "--registries.d",
        &registries_d.display().to_string(),
        source,
        destination,
    ])
}

fn verify(registries_d: &Path, policy: &Path, image: &str) -> Option<i32> {
    ferry(&[
        "verify",
        "--policy",
        &policy.display().to_string(),
        "--tls-verify=false",
        "--registries.d",
        &registries_d.display().to_string(),
        image,
    ])
    .status
    .code()
}

/// The `.sig` manifest of `digest` in `repository`, parsed.
fn attachment(registry: &Registry, repository: &str, digest: &str) -> serde_json::Value {
    let tag = format!("{}.sig", digest.replacen(':', "-", 1));
    let response = registry
        .request(
            "GET",
            &format!("/v2/{repository}/manifests/{tag}"),
            &[("Accept", OCI_MANIFEST)],
        )
        .unwrap();
    assert_eq!(response.status, 200, "{tag}: {}", response.text());
    serde_json::from_slice(&response.body).unwrap()
}

#[test]
fn a_sigstore_signature_travels_in_the_sig_attachment_and_back_byte_for_byte() {
    let registry = Registry::start(Setup::plain());
    let scratch = Scratch::new();
    let target = registry.docker_ref("signed/app:v1");
    let identity = target.trim_start_matches("docker://");
    let signed = scratch.signed_image(identity);
    let config = scratch.registries_d("on.d", attachments_on());

    let digest = succeeded(&copy(
        &config,
        &format!("dir:{}", signed.display()),
        &target,
    ));
    let manifest = attachment(&registry, "signed/app", &digest);
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{manifest}");
    assert_eq!(layers[0]["mediaType"], SIGSTORE_MEDIA_TYPE);
    assert!(
        layers[0]["annotations"]["dev.cosignproject.cosign/signature"].is_string(),
        "{manifest}"
    );

    let back = scratch.path("back");
    succeeded(&copy(&config, &target, &format!("dir:{}", back.display())));
    assert_eq!(
        std::fs::read(back.join("signature-1")).unwrap(),
        std::fs::read(signed.join("signature-1")).unwrap()
    );
    assert!(!back.join("signature-2").exists());
}

#[test]
fn a_second_copy_of_the_same_signature_does_not_add_a_layer() {
    let registry = Registry::start(Setup::plain());
    let scratch = Scratch::new();
    let target = registry.docker_ref("twice/app:v1");
    let signed = scratch.signed_image(target.trim_start_matches("docker://"));
    let config = scratch.registries_d("on.d", attachments_on());
    let source = format!("dir:{}", signed.display());
    let digest = succeeded(&copy(&config, &source, &target));
    succeeded(&copy(&config, &source, &target));
    let manifest = attachment(&registry, "twice/app", &digest);
    assert_eq!(
        manifest["layers"].as_array().unwrap().len(),
        1,
        "{manifest}"
    );
}

#[test]
fn verify_allows_the_attached_signature_by_its_key_and_refuses_another_key() {
    let registry = Registry::start(Setup::plain());
    let scratch = Scratch::new();
    let (target, config, _) = scratch.push_signed(&registry, "verified/app:v1");

    assert_eq!(verify(&config, &scratch.policy("key"), &target), Some(0));
    assert_eq!(verify(&config, &scratch.policy("other"), &target), Some(1));
    // Without attachments configured, the registry holds no signature.
    let off = scratch.registries_d("off.d", "default-docker:\n");
    assert_eq!(verify(&off, &scratch.policy("key"), &target), Some(1));
}

#[test]
fn sigstore_signatures_without_attachments_are_refused_before_anything_moves() {
    let registry = Registry::start(Setup::plain());
    let scratch = Scratch::new();
    let target = registry.docker_ref("refused/app:v1");
    let signed = scratch.signed_image(target.trim_start_matches("docker://"));
    // Lookaside staging takes simple signatures, not sigstore ones.
    let config = scratch.registries_d(
        "lookaside.d",
        &format!(
            "default-docker:\n  lookaside-staging: file://{}\n",
            scratch.path("staging").display()
        ),
    );
    let stderr = failed(&copy(
        &config,
        &format!("dir:{}", signed.display()),
        &target,
    ));
    assert!(
        stderr.contains("writing sigstore attachments is disabled by configuration"),
        "{stderr}"
    );
    let tags = registry
        .request("GET", "/v2/refused/app/tags/list", &[])
        .unwrap();
    assert_eq!(tags.status, 404, "nothing was pushed: {}", tags.text());
    assert!(!scratch.path("staging").exists());
}

#[test]
fn skopeo_reads_the_attachment_ferry_wrote() {
    let registry = Registry::start(Setup::plain());
    let scratch = Scratch::new();
    let (target, config, signed) = scratch.push_signed(&registry, "by-ferry/app:v1");

    let pulled = scratch.path("skopeo-pulled");
    let out = skopeo([
        "--insecure-policy",
        "--registries.d",
        &config.display().to_string(),
        "copy",
        "--src-tls-verify=false",
        &target,
        &format!("dir:{}", pulled.display()),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(pulled.join("signature-1")).unwrap(),
        std::fs::read(signed.join("signature-1")).unwrap()
    );
}

#[test]
fn ferry_reads_the_attachment_skopeo_wrote() {
    let registry = Registry::start(Setup::plain());
    let scratch = Scratch::new();
    let target = registry.docker_ref("by-skopeo/app:v1");
    let signed = scratch.signed_image(target.trim_start_matches("docker://"));
    let config = scratch.registries_d("on.d", attachments_on());
    let out = skopeo([
        "--insecure-policy",
        "--registries.d",
        &config.display().to_string(),
        "copy",
        "--dest-tls-verify=false",
        &format!("dir:{}", signed.display()),
        &target,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let back = scratch.path("back");
    succeeded(&copy(&config, &target, &format!("dir:{}", back.display())));
    assert_eq!(
        std::fs::read(back.join("signature-1")).unwrap(),
        std::fs::read(signed.join("signature-1")).unwrap()
    );
    assert_eq!(verify(&config, &scratch.policy("key"), &target), Some(0));
}

// ---------------------------------------------------------------------------
// The registry signature API extension.

/// A stand-in for a simple signature (0xA3 opens an OpenPGP packet).
fn simple_signature() -> Vec<u8> {
    let mut bytes = vec![0xa3];
    bytes.extend_from_slice(b"simple signature");
    bytes
}

fn sha256(bytes: &[u8]) -> String {
    ferry_core::Digest::sha256_of(bytes).to_string()
}

/// A registry serving `app:v1` (one empty-layered OCI image), accepting
/// pushes, advertising the signature extension and keeping the bodies
/// PUT to it.
struct ExtensionRegistry {
    server: ScriptedServer,
    manifest: Vec<u8>,
    puts: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl ExtensionRegistry {
    fn start(list: String) -> ExtensionRegistry {
        let config =
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
                .to_vec();
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[]}}"#,
            sha256(&config),
            config.len()
        )
        .into_bytes();
        let puts = Arc::new(Mutex::new(Vec::new()));
        let (served, kept) = (manifest.clone(), puts.clone());
        let server = ScriptedServer::start(move |request| {
            let path = request.path();
            let reply = match (request.method.as_str(), path) {
                (_, "/v2/") => Reply::ok(b"{}".to_vec()),
                ("GET" | "HEAD", p) if p.starts_with("/v2/app/manifests/") => {
                    Reply::ok(served.clone())
                        .header("Content-Type", OCI_MANIFEST)
                        .header("Docker-Content-Digest", &sha256(&served))
                }
                ("GET", p) if p == format!("/v2/app/blobs/{}", sha256(&config)) => {
                    Reply::ok(config.clone())
                }
                ("HEAD", p) if p.starts_with("/v2/app/blobs/") => Reply::not_found(),
                ("POST", "/v2/app/blobs/uploads/") => {
                    Reply::status(202).header("Location", "/v2/app/blobs/uploads/1")
                }
                ("PUT", "/v2/app/blobs/uploads/1") => Reply::status(201),
                ("PUT", p) if p.starts_with("/v2/app/manifests/") => Reply::status(201),
                ("GET", p) if p.starts_with("/extensions/v2/app/signatures/") => {
                    Reply::ok(list.clone().into_bytes())
                }
                ("PUT", p) if p.starts_with("/extensions/v2/app/signatures/") => {
                    kept.lock().unwrap().push(request.body.clone());
                    Reply::status(201)
                }
                _ => Reply::not_found(),
            };
            reply.header("X-Registry-Supports-Signatures", "1")
        });
        ExtensionRegistry {
            server,
            manifest,
            puts,
        }
    }

    fn reference(&self) -> String {
        format!("docker://{}/app:v1", self.server.host())
    }

    fn signatures_path(&self) -> String {
        format!("/extensions/v2/app/signatures/{}", sha256(&self.manifest))
    }
}

fn extension_entry(schema_version: u32, kind: &str, content: &[u8]) -> String {
    use base64::Engine as _;
    format!(
        r#"{{"schemaVersion":{schema_version},"name":"n","type":"{kind}","content":"{}"}}"#,
        base64::engine::general_purpose::STANDARD.encode(content)
    )
}

#[test]
fn simple_signatures_are_read_from_the_registry_extension() {
    let list = format!(
        r#"{{"signatures":[{},{}]}}"#,
        extension_entry(2, "atomic", &simple_signature()),
        extension_entry(2, "other", b"skipped")
    );
    let registry = ExtensionRegistry::start(list);
    let scratch = Scratch::new();
    let none = scratch.registries_d("none.d", "");
    let out = scratch.path("out");
    succeeded(&copy(
        &none,
        &registry.reference(),
        &format!("dir:{}", out.display()),
    ));
    assert_eq!(
        std::fs::read(out.join("signature-1")).unwrap(),
        simple_signature()
    );
    assert!(!out.join("signature-2").exists());
    assert!(
        registry
            .server
            .requests()
            .iter()
            .any(|r| r.method == "GET" && r.path() == registry.signatures_path())
    );
}

#[test]
fn simple_signatures_are_added_through_the_registry_extension_once() {
    let already = [0xa3, b'o', b'l', b'd'];
    let list = format!(
        r#"{{"signatures":[{}]}}"#,
        extension_entry(2, "atomic", &already)
    );
    let registry = ExtensionRegistry::start(list);
    let scratch = Scratch::new();
    let none = scratch.registries_d("none.d", "");
    // A dir: copy of the image, signed twice: once anew, once as the
    // registry already has it.
    let image = scratch.path("image");
    succeeded(&copy(
        &none,
        &registry.reference(),
        &format!("dir:{}", image.display()),
    ));
    std::fs::write(image.join("signature-1"), simple_signature()).unwrap();
    std::fs::write(image.join("signature-2"), already).unwrap();
    succeeded(&copy(
        &none,
        &format!("dir:{}", image.display()),
        &registry.reference(),
    ));
    let puts = registry.puts.lock().unwrap().clone();
    assert_eq!(puts.len(), 1, "only the new signature is added");
    let body: serde_json::Value = serde_json::from_slice(&puts[0]).unwrap();
    assert_eq!(body["schemaVersion"], 2);
    assert_eq!(body["type"], "atomic");
    let name = body["name"].as_str().unwrap();
    let (digest, random) = name.split_once('@').unwrap();
    assert_eq!(digest, sha256(&registry.manifest));
    assert_eq!(random.len(), 32, "{name}");
    use base64::Engine as _;
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(body["content"].as_str().unwrap())
            .unwrap(),
        simple_signature()
    );
}
