//! Hostile registries (scripted loopback servers playing a registry that
//! lies or attacks): redirects to other hosts, token realms pointing
//! elsewhere, oversized and endless responses, wrong digests. Each case
//! shows ferry's clear error (or, for redirects, that credentials stayed
//! home) and that nothing was written outside the destination, nor a
//! half-written image inside it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_core::Digest;
use ferry_tests::registry::{
    Body, Registry, Reply, ScriptedServer, Seen, Setup, failed, ferry, succeeded,
};

/// A one-layer OCI image for the scripted registries to serve.
struct Tiny {
    manifest: Vec<u8>,
    manifest_digest: Digest,
    config: Vec<u8>,
    config_digest: Digest,
    layer: Vec<u8>,
    layer_digest: Digest,
}

impl Tiny {
    fn new() -> Tiny {
        let config =
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
                .to_vec();
        let layer: Vec<u8> = (0..64 * 1024u32).map(|i| (i * 7 % 251) as u8).collect();
        let (config_digest, layer_digest) = (Digest::sha256_of(&config), Digest::sha256_of(&layer));
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer_digest}","size":{}}}]}}"#,
            config.len(),
            layer.len()
        )
        .into_bytes();
        Tiny {
            manifest_digest: Digest::sha256_of(&manifest),
            manifest,
            config,
            config_digest,
            layer,
            layer_digest,
        }
    }

    /// What an honest registry answers for repository `x/app`.
    fn honest(&self, request: &Seen) -> Reply {
        let path = request.path();
        if path == "/v2/" {
            return Reply::ok(b"{}".to_vec());
        }
        if let Some(reference) = path.strip_prefix("/v2/x/app/manifests/")
            && (reference == "v1" || reference == self.manifest_digest.as_str())
        {
            return Reply::ok(self.manifest.clone())
                .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                .header("Docker-Content-Digest", self.manifest_digest.as_str());
        }
        if let Some(digest) = path.strip_prefix("/v2/x/app/blobs/") {
            if digest == self.config_digest.as_str() {
                return Reply::ok(self.config.clone());
            }
            if digest == self.layer_digest.as_str() {
                return Reply::ok(self.layer.clone());
            }
        }
        Reply::not_found()
    }
}

/// A scripted registry serving [`Tiny`], with `tweak` answering first.
fn hostile(
    tweak: impl Fn(&Seen, &Tiny) -> Option<Reply> + Send + Sync + 'static,
) -> (ScriptedServer, Arc<Tiny>) {
    let tiny = Arc::new(Tiny::new());
    let served = Arc::clone(&tiny);
    let server = ScriptedServer::start(move |request| {
        tweak(request, &served).unwrap_or_else(|| served.honest(request))
    });
    (server, tiny)
}

/// A scratch directory whose only legitimate content is `dest`.
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Scratch {
        Scratch(tempfile::tempdir().unwrap())
    }

    fn dest(&self) -> PathBuf {
        self.0.path().join("dest")
    }

    /// Nothing outside `dest`, and no image (nor temporary file) in it.
    fn assert_nothing_written(&self) {
        for entry in std::fs::read_dir(self.0.path()).unwrap() {
            let name = entry.unwrap().file_name();
            assert_eq!(name, "dest", "written outside the destination");
        }
        let dest = self.dest();
        if dest.exists() {
            assert!(
                !dest.join("manifest.json").exists(),
                "a manifest was written"
            );
            for entry in std::fs::read_dir(&dest).unwrap() {
                let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                assert!(
                    !name.starts_with(".ferry-tmp"),
                    "temporary file left: {name}"
                );
            }
        }
    }
}

fn pull(server: &str, extra: &[&str], scratch: &Scratch) -> std::process::Output {
    let source = format!("docker://{server}/x/app:v1");
    let dest = format!("dir:{}", scratch.dest().display());
    let mut args = vec!["copy", "--src-tls-verify=false", "--progress", "none"];
    if !extra.contains(&"--retry-times") {
        args.extend(["--retry-times", "1"]);
    }
    args.extend_from_slice(extra);
    args.extend([source.as_str(), dest.as_str()]);
    ferry(&args)
}

fn assert_mentions(stderr: &str, needles: &[&str]) {
    for needle in needles {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
}

// ------------------------------------------------------------ redirects

#[test]
fn credentials_do_not_follow_a_blob_redirect_to_another_host() {
    // The other host: records every request and serves the blobs.
    let tiny = Arc::new(Tiny::new());
    let cdn_tiny = Arc::clone(&tiny);
    let cdn = ScriptedServer::start(move |request| {
        let digest = request.path().trim_start_matches("/cdn/");
        if digest == cdn_tiny.layer_digest.as_str() {
            Reply::ok(cdn_tiny.layer.clone())
        } else if digest == cdn_tiny.config_digest.as_str() {
            Reply::ok(cdn_tiny.config.clone())
        } else {
            Reply::not_found()
        }
    });
    let cdn_url = cdn.url();
    let basic = "Basic YWxpY2U6czNjcmV0"; // alice:s3cret
    let (registry, _) = hostile(move |request, _| {
        if request.header("authorization") != Some(basic) {
            return Some(Reply::status(401).header("WWW-Authenticate", "Basic realm=\"test\""));
        }
        let digest = request.path().strip_prefix("/v2/x/app/blobs/")?;
        Some(Reply::redirect(&format!("{cdn_url}/cdn/{digest}")))
    });
    let scratch = Scratch::new();
    succeeded(&pull(
        &registry.host(),
        &["--src-creds", "alice:s3cret"],
        &scratch,
    ));
    let blobs_at_registry: Vec<Seen> = registry
        .requests()
        .into_iter()
        .filter(|r| r.path().contains("/blobs/"))
        .collect();
    assert!(!blobs_at_registry.is_empty());
    assert!(
        blobs_at_registry
            .iter()
            .all(|r| r.header("authorization") == Some(basic))
    );
    let at_cdn = cdn.requests();
    assert_eq!(at_cdn.len(), 2, "config and layer: {at_cdn:#?}");
    for request in &at_cdn {
        assert_eq!(
            request.header("authorization"),
            None,
            "credentials followed the redirect: {request:?}"
        );
    }
    let stored = std::fs::read(scratch.dest().join(tiny.layer_digest.encoded())).unwrap();
    assert!(tiny.layer_digest.matches(&stored));
}

#[test]
fn an_endless_redirect_chain_is_cut_off() {
    let (registry, _) = hostile(|request, _| {
        let path = request.path();
        path.contains("/blobs/").then(|| {
            let host = request.header("host").unwrap_or_default();
            Reply::redirect(&format!("http://{host}{path}/again"))
        })
    });
    let scratch = Scratch::new();
    let stderr = failed(&pull(&registry.host(), &[], &scratch));
    assert_mentions(&stderr, &["more than 10 redirects"]);
    scratch.assert_nothing_written();
}

#[test]
fn a_redirect_to_a_file_url_is_refused() {
    let (registry, _) = hostile(|request, _| {
        request
            .path()
            .contains("/blobs/")
            .then(|| Reply::redirect("file:///etc/passwd"))
    });
    let scratch = Scratch::new();
    let stderr = failed(&pull(&registry.host(), &[], &scratch));
    assert_mentions(&stderr, &["file:///etc/passwd"]);
    scratch.assert_nothing_written();
}

// ------------------------------------------------------------ realms

#[test]
fn a_token_realm_that_is_not_http_is_refused() {
    let (registry, _) = hostile(|request, _| {
        (request.header("authorization").is_none()).then(|| {
            Reply::status(401).header(
                "WWW-Authenticate",
                "Bearer realm=\"file:///etc/passwd\",service=\"x\"",
            )
        })
    });
    let scratch = Scratch::new();
    let stderr = failed(&pull(&registry.host(), &[], &scratch));
    assert_mentions(&stderr, &["file:///etc/passwd", "not an http(s) URL"]);
    scratch.assert_nothing_written();
}

#[test]
fn credentials_are_not_sent_to_a_plain_http_realm_of_an_https_registry() {
    let registry = Registry::start(Setup::token("alice", "s3cret").with_tls());
    let scratch = Scratch::new();
    let cert_dir = registry.cert_dir().unwrap();
    let out = ferry(&[
        "copy",
        "--src-cert-dir",
        &cert_dir.display().to_string(),
        "--src-creds",
        "alice:s3cret",
        "--progress",
        "none",
        &registry.docker_ref("x/app:v1"),
        &format!("dir:{}", scratch.dest().display()),
    ]);
    let stderr = failed(&out);
    assert_mentions(&stderr, &["plain HTTP", "refusing to send credentials"]);
    assert!(!stderr.contains("s3cret"), "{stderr}");
    assert!(
        registry.token_requests().is_empty(),
        "the token server was asked: {:?}",
        registry.token_requests()
    );
    scratch.assert_nothing_written();
}

#[test]
fn an_endless_token_response_is_cut_off() {
    let token_server = ScriptedServer::start(|_| {
        Reply::status(200).with_body(Body::Endless {
            fill: b'a',
            cap: 1 << 30,
        })
    });
    let realm = format!("{}/token", token_server.url());
    let (registry, _) = hostile(move |request, _| {
        (request.header("authorization").is_none()).then(|| {
            Reply::status(401).header(
                "WWW-Authenticate",
                &format!("Bearer realm=\"{realm}\",service=\"x\""),
            )
        })
    });
    let scratch = Scratch::new();
    let stderr = failed(&pull(&registry.host(), &[], &scratch));
    assert_mentions(&stderr, &["token server's response is larger than 1048576"]);
    scratch.assert_nothing_written();
}

// ------------------------------------------------------------ sizes

#[test]
fn a_manifest_over_4_mib_is_refused() {
    let (registry, _) = hostile(|request, _| {
        request.path().contains("/manifests/").then(|| {
            Reply::ok(vec![b' '; 5 * 1024 * 1024])
                .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        })
    });
    let scratch = Scratch::new();
    let stderr = failed(&pull(&registry.host(), &[], &scratch));
    assert_mentions(&stderr, &["larger than the 4 MiB limit"]);
    scratch.assert_nothing_written();
}

#[test]
fn an_endless_manifest_is_cut_off_at_4_mib() {
    let (registry, _) = hostile(|request, _| {
        request.path().contains("/manifests/").then(|| {
            Reply::status(200)
                .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                .with_body(Body::Endless {
                    fill: b' ',
                    cap: 1 << 30,
                })
        })
    });
    let scratch = Scratch::new();
    let stderr = failed(&pull(&registry.host(), &[], &scratch));
    assert_mentions(&stderr, &["larger than the 4 MiB limit"]);
    scratch.assert_nothing_written();
}

#[test]
fn a_blob_longer_than_its_descriptor_is_refused() {
    let (registry, tiny) = hostile(|request, tiny| {
        request
            .path()
            .ends_with(tiny.layer_digest.as_str())
            .then(|| {
                let mut longer = tiny.layer.clone();
                longer.extend_from_slice(&[0u8; 100]);
                Reply::ok(longer)
            })
    });
    let scratch = Scratch::new();
    let stderr = failed(&pull(&registry.host(), &[], &scratch));
    assert_mentions(
        &stderr,
        &[
            tiny.layer_digest.as_str(),
            &format!(
                "the layer of manifest {}: content of {} is {} bytes, its descriptor says {}",
                tiny.manifest_digest,
                tiny.layer_digest,
                tiny.layer.len() + 100,
                tiny.layer.len()
            ),
        ],
    );
    scratch.assert_nothing_written();
}

/// A list whose entry states another size than its instance has: the
/// instance is refused before any blob is fetched.
#[test]
fn a_list_entry_whose_size_is_not_the_instances_is_refused() {
    let (registry, tiny) = hostile(|request, tiny| {
        request.path().ends_with("/manifests/v1").then(|| {
            Reply::ok(lying_list(tiny))
                .header("Content-Type", "application/vnd.oci.image.index.v1+json")
        })
    });
    let scratch = Scratch::new();
    let stderr = failed(&pull(&registry.host(), &["--all"], &scratch));
    let list = lying_list(&tiny);
    assert_mentions(
        &stderr,
        &[&format!(
            "entry 0 of list {}: content of {} is {} bytes, its descriptor says {}",
            Digest::sha256_of(&list),
            tiny.manifest_digest,
            tiny.manifest.len(),
            tiny.manifest.len() + 100
        )],
    );
    assert!(!scratch.dest().exists(), "the destination was created");
    scratch.assert_nothing_written();
    let blobs_read = registry
        .requests()
        .iter()
        .filter(|r| r.path().contains("/blobs/"))
        .count();
    assert_eq!(blobs_read, 0, "blobs were fetched");
}

/// An OCI index naming [`Tiny`]'s manifest with 100 bytes too many.
fn lying_list(tiny: &Tiny) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{},"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
        tiny.manifest_digest,
        tiny.manifest.len() + 100
    )
    .into_bytes()
}

#[test]
fn an_endless_blob_stream_is_refused_once_past_its_size() {
    let (registry, tiny) = hostile(|request, tiny| {
        request
            .path()
            .ends_with(tiny.layer_digest.as_str())
            .then(|| {
                Reply::status(200).with_body(Body::Endless {
                    fill: 0,
                    cap: 1 << 30,
                })
            })
    });
    let scratch = Scratch::new();
    let stderr = failed(&pull(&registry.host(), &[], &scratch));
    assert_mentions(&stderr, &[tiny.layer_digest.as_str()]);
    assert!(
        stderr.contains("bytes, expected") || stderr.contains("content has digest"),
        "{stderr}"
    );
    scratch.assert_nothing_written();
}

// ------------------------------------------------------------ digests

#[test]
fn a_wrong_docker_content_digest_is_refused() {
    let wrong = Digest::sha256_of(b"something else");
    let claimed = wrong.to_string();
    let (registry, tiny) = hostile(move |request, tiny| {
        request.path().ends_with("/manifests/v1").then(|| {
            Reply::ok(tiny.manifest.clone())
                .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                .header("Docker-Content-Digest", &claimed)
        })
    });
    let scratch = Scratch::new();
    let stderr = failed(&pull(&registry.host(), &[], &scratch));
    assert_mentions(
        &stderr,
        &[
            &format!("content has digest {}", tiny.manifest_digest),
            &format!("expected {wrong}"),
        ],
    );
    scratch.assert_nothing_written();
}

#[test]
fn wrong_bytes_for_a_blob_digest_are_refused_and_not_kept() {
    let (registry, tiny) = hostile(|request, tiny| {
        request
            .path()
            .ends_with(tiny.layer_digest.as_str())
            .then(|| {
                let mut wrong = tiny.layer.clone();
                wrong[1000] ^= 0xff;
                Reply::ok(wrong)
            })
    });
    let scratch = Scratch::new();
    let stderr = failed(&pull(&registry.host(), &[], &scratch));
    assert_mentions(&stderr, &[tiny.layer_digest.as_str(), "content has digest"]);
    scratch.assert_nothing_written();
    assert!(!Path::new(&scratch.dest().join(tiny.layer_digest.encoded())).exists());
}

// ------------------------------------------------------------ scopes

/// A bearer registry whose token server (on the same scripted host)
/// grants `t1` for the repository's own scope and `t2` only when asked
/// for `repository:shared/base:pull` too; blobs need `t2` unless
/// `never_enough`, when every blob request is refused for scope.
fn scoped_registry(never_enough: bool) -> ScriptedServer {
    let tiny = Tiny::new();
    ScriptedServer::start(move |request| {
        let realm = format!(
            "Bearer realm=\"http://{}/token\",service=\"scripted\"",
            request.header("host").unwrap_or_default()
        );
        if request.path() == "/token" {
            let token = if request.target.contains("repository%3Ashared%2Fbase%3Apull") {
                "t2"
            } else {
                "t1"
            };
            return Reply::ok(format!(r#"{{"token":"{token}","expires_in":300}}"#));
        }
        let auth = request.header("authorization");
        if request.path().contains("/blobs/") && (never_enough || auth != Some("Bearer t2")) {
            return Reply::status(401).header(
                "WWW-Authenticate",
                &format!(
                    "{realm},scope=\"repository:shared/base:pull\",error=\"insufficient_scope\""
                ),
            );
        }
        if auth.is_none() {
            return Reply::status(401).header(
                "WWW-Authenticate",
                &format!("{realm},scope=\"repository:x/app:pull\""),
            );
        }
        tiny.honest(request)
    })
}

#[test]
fn insufficient_scope_gets_one_new_token_with_the_challenge_scope() {
    let registry = scoped_registry(false);
    let scratch = Scratch::new();
    succeeded(&pull(&registry.host(), &[], &scratch));
    let requests = registry.requests();
    let tokens: Vec<&Seen> = requests.iter().filter(|r| r.path() == "/token").collect();
    assert!(!tokens[0].target.contains("shared%2Fbase"));
    // Each later token request adds the scope the challenge named.
    assert!(tokens.len() >= 2, "{tokens:#?}");
    assert!(
        tokens[1..]
            .iter()
            .all(|t| t.target.contains("scope=repository%3Ashared%2Fbase%3Apull")),
        "{tokens:#?}"
    );
    // One new token, however many blob requests were refused for scope
    // (config and layer may be refused at the same moment: the second
    // takes the token the first fetched), and every blob arrives.
    let refused = requests
        .iter()
        .filter(|r| r.path().contains("/blobs/") && r.header("authorization") == Some("Bearer t1"))
        .count();
    assert!(refused >= 1, "{requests:#?}");
    assert_eq!(tokens.len(), 2, "{requests:#?}");
    let granted = requests
        .iter()
        .filter(|r| r.path().contains("/blobs/") && r.header("authorization") == Some("Bearer t2"))
        .count();
    assert_eq!(granted, 2, "config and layer, once each");
}

#[test]
fn insufficient_scope_is_retried_exactly_once_per_request() {
    let registry = scoped_registry(true);
    let scratch = Scratch::new();
    let stderr = failed(&pull(&registry.host(), &["--retry-times", "0"], &scratch));
    assert_mentions(&stderr, &["not authorized (401"]);
    let requests = registry.requests();
    let blobs: Vec<&str> = requests
        .iter()
        .filter(|r| r.path().contains("/blobs/"))
        .map(|r| r.path())
        .collect();
    let mut distinct = blobs.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let tokens_after_manifest = requests
        .iter()
        .skip_while(|r| !r.path().contains("/blobs/"))
        .filter(|r| r.path() == "/token")
        .count();
    // Every blob request that was refused for scope was retried once,
    // never more, with a new token (one at most per blob: requests
    // refused at the same moment share it).
    assert_eq!(blobs.len(), 2 * distinct.len(), "{requests:#?}");
    assert!(
        (1..=distinct.len()).contains(&tokens_after_manifest),
        "{requests:#?}"
    );
    scratch.assert_nothing_written();
}

// ------------------------------------------------------------ retries

/// How many requests `registry` saw whose path ends with `suffix`.
fn requests_ending(registry: &ScriptedServer, suffix: &str) -> usize {
    registry
        .requests()
        .iter()
        .filter(|r| r.path().ends_with(suffix))
        .count()
}

#[test]
fn a_blob_refused_as_unauthorized_is_not_fetched_again() {
    let (registry, tiny) = hostile(|request, tiny| {
        request
            .path()
            .ends_with(tiny.layer_digest.as_str())
            .then(|| Reply::status(401))
    });
    let scratch = Scratch::new();
    let stderr = failed(&pull(&registry.host(), &["--retry-times", "3"], &scratch));
    assert_mentions(&stderr, &["not authorized (401"]);
    assert_eq!(
        requests_ending(&registry, tiny.layer_digest.as_str()),
        1,
        "{:#?}",
        registry.requests()
    );
    scratch.assert_nothing_written();
}

#[test]
fn a_refused_token_is_not_asked_for_again() {
    // Manifests are public; blobs need a token, which the token server
    // refuses.
    let (registry, _) = hostile(|request, _| {
        if request.path() == "/token" {
            return Some(Reply::status(401));
        }
        (request.path().contains("/blobs/") && request.header("authorization").is_none()).then(
            || {
                Reply::status(401).header(
                    "WWW-Authenticate",
                    &format!(
                        "Bearer realm=\"http://{}/token\",service=\"scripted\"",
                        request.header("host").unwrap_or_default()
                    ),
                )
            },
        )
    });
    let scratch = Scratch::new();
    let stderr = failed(&pull(&registry.host(), &["--retry-times", "3"], &scratch));
    assert_mentions(&stderr, &["the token server refused (401"]);
    // Each blob asked for (the copy may start both before the first
    // refusal) is asked for once, with one token request.
    let requests = registry.requests();
    let blobs: Vec<&str> = requests
        .iter()
        .filter(|r| r.path().contains("/blobs/"))
        .map(Seen::path)
        .collect();
    let mut distinct = blobs.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(blobs.len(), distinct.len(), "{requests:#?}");
    assert_eq!(
        requests_ending(&registry, "/token"),
        blobs.len(),
        "{requests:#?}"
    );
    scratch.assert_nothing_written();
}

#[test]
fn a_manifest_over_its_limit_is_not_fetched_again() {
    // Malformed input: the same answer would come again.
    let (registry, _) = hostile(|request, _| {
        request
            .path()
            .starts_with("/v2/x/app/manifests/")
            .then(|| Reply::ok(vec![b' '; 5 * 1024 * 1024]))
    });
    let scratch = Scratch::new();
    let stderr = failed(&pull(&registry.host(), &["--retry-times", "3"], &scratch));
    assert_mentions(&stderr, &["larger than the 4 MiB limit"]);
    assert_eq!(
        registry
            .requests()
            .iter()
            .filter(|r| r.path().starts_with("/v2/x/app/manifests/"))
            .count(),
        1
    );
    scratch.assert_nothing_written();
}
