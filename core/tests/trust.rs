//! policy.json, scopes, identities, payloads and verdicts, as
//! containers/image decides them.

use ferry_core::reference::Named;
use ferry_core::trust::policy::{Fulcio, KeyType, SigstoreTrust};
use ferry_core::trust::strict::Problem;
use ferry_core::trust::verdict::SignatureRefusal;
use ferry_core::trust::{
    AppliedScope, CryptoFailure, Format, IdentityRule, Image, ImageScope, KeySource, Payload,
    Policy, Refusal, Requirement, Signed, Verdict, Verifier,
};

const CONTAINERS_IMAGE_POLICY: &[u8] =
    include_bytes!("fixtures/trust/containers-image-policy.json");
const REGISTRY_POLICY: &[u8] = include_bytes!("fixtures/trust/policy-registry.json");
const MANIFEST: &[u8] = include_bytes!("fixtures/trust/image.manifest.json");

fn named(text: &str) -> Named {
    Named::parse_normalized(text).unwrap()
}

fn refusal(policy: &str) -> (String, Problem) {
    let e = Policy::parse(policy.as_bytes()).unwrap_err();
    (e.pointer, e.problem)
}

// ---------------------------------------------------------------------
// Reading policy.json

#[test]
fn reads_containers_image_example_policy() {
    let policy = Policy::parse(CONTAINERS_IMAGE_POLICY).unwrap();
    assert_eq!(policy.default, vec![Requirement::Reject]);
    let docker = policy
        .transports
        .iter()
        .find(|t| t.transport == "docker")
        .unwrap();
    let scope = |name: &str| &docker.scopes.iter().find(|(s, _)| s == name).unwrap().1;
    assert_eq!(
        scope("registry.redhat.io/beta")[0],
        Requirement::SignedBy {
            key_type: KeyType::GpgKeys,
            keys: KeySource::Paths(vec![
                "/keys/RH-production-signing-key-gpg-keyring".into(),
                "/keys/RH-beta-signing-key-gpg-keyring".into()
            ]),
            signed_identity: IdentityRule::MatchRepoDigestOrExact,
        }
    );
    assert_eq!(
        scope("bogus/key-data-example")[0],
        Requirement::SignedBy {
            key_type: KeyType::SignedByGpgKeys,
            keys: KeySource::Data(b"nonsense".to_vec()),
            signed_identity: IdentityRule::MatchRepoDigestOrExact,
        }
    );
    assert_eq!(
        scope("private-mirror:5000/vendor-mirror")[0],
        Requirement::SignedBy {
            key_type: KeyType::GpgKeys,
            keys: KeySource::Path("/keys/vendor-gpg-keyring".into()),
            signed_identity: IdentityRule::RemapIdentity {
                prefix: "private-mirror:5000/vendor-mirror".into(),
                signed_prefix: "vendor.example.com".into(),
            },
        }
    );
    assert_eq!(
        scope("example.com/sigstore/key-path-example")[0],
        Requirement::SigstoreSigned {
            trust: SigstoreTrust::Key(KeySource::Path("/keys/public-key".into())),
            rekor_public_key: None,
            signed_identity: IdentityRule::MatchRepository,
        }
    );
}

#[test]
fn reads_sigstore_fulcio_and_rekor_as_later_containers_image_does() {
    let policy = Policy::parse(
        br#"{"default": [{"type": "sigstoreSigned",
              "fulcio": {"caPath": "/ca.pem", "oidcIssuer": "https://issuer", "subjectEmail": "a@b.c"},
              "rekorPublicKeyData": "cmVrb3I="}]}"#,
    )
    .unwrap();
    assert_eq!(
        policy.default[0],
        Requirement::SigstoreSigned {
            trust: SigstoreTrust::Fulcio(Fulcio {
                ca: KeySource::Path("/ca.pem".into()),
                oidc_issuer: "https://issuer".into(),
                subject_email: "a@b.c".into(),
            }),
            rekor_public_key: Some(KeySource::Data(b"rekor".to_vec())),
            signed_identity: IdentityRule::MatchRepoDigestOrExact,
        }
    );
}

#[test]
fn refuses_policies_containers_image_refuses_naming_where() {
    /// (policy, pointer of the refusal, what the refusal must be)
    type Case = (&'static str, &'static str, fn(&Problem) -> bool);
    let cases: &[Case] = &[
        ("{}", "", |p| matches!(p, Problem::MissingKey("default"))),
        (r#"{"default": []}"#, "/default", |p| {
            matches!(p, Problem::EmptyRequirements)
        }),
        (
            r#"{"default": [{"type": "reject"}], "extra": 1}"#,
            "",
            |p| matches!(p, Problem::UnknownKey(k) if k == "extra"),
        ),
        (
            r#"{"default": [{"type": "reject"}], "default": [{"type": "reject"}]}"#,
            "",
            |p| matches!(p, Problem::DuplicateKey(k) if k == "default"),
        ),
        (
            r#"{"default": [{"type": "acceptEverything"}]}"#,
            "/default/0/type",
            |p| matches!(p, Problem::UnknownRequirementType(t) if t == "acceptEverything"),
        ),
        (
            r#"{"default": [{"type": "reject", "why": "x"}]}"#,
            "/default/0",
            |p| matches!(p, Problem::UnknownKey(k) if k == "why"),
        ),
        (
            r#"{"default": [{"keyType": "GPGKeys"}]}"#,
            "/default/0",
            |p| matches!(p, Problem::MissingKey("type")),
        ),
        (
            r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys"}]}"#,
            "/default/0",
            |p| matches!(p, Problem::KeySources { found, .. } if found.is_empty()),
        ),
        (
            r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/a", "keyData": "YQ=="}]}"#,
            "/default/0",
            |p| matches!(p, Problem::KeySources { found, .. } if *found == ["keyPath", "keyData"]),
        ),
        (
            r#"{"default": [{"type": "signedBy", "keyType": "PGP", "keyPath": "/a"}]}"#,
            "/default/0/keyType",
            |p| matches!(p, Problem::UnknownKeyType(t) if t == "PGP"),
        ),
        (
            r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyData": "not base64!"}]}"#,
            "/default/0/keyData",
            |p| matches!(p, Problem::InvalidBase64),
        ),
        (
            r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/a", "signedIdentity": {"type": "matchAnything"}}]}"#,
            "/default/0/signedIdentity/type",
            |p| matches!(p, Problem::UnknownIdentityType(t) if t == "matchAnything"),
        ),
        (
            r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/a", "signedIdentity": {"type": "exactReference", "dockerReference": "busybox"}}]}"#,
            "/default/0/signedIdentity/dockerReference",
            |p| matches!(p, Problem::InvalidReference { value, .. } if value == "busybox"),
        ),
        (
            r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/a", "signedIdentity": {"type": "exactRepository", "dockerRepository": "UPPER/case"}}]}"#,
            "/default/0/signedIdentity/dockerRepository",
            |p| matches!(p, Problem::InvalidReference { .. }),
        ),
        (
            r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/a", "signedIdentity": {"type": "remapIdentity", "prefix": "example.com/ns", "signedPrefix": "example.com/ns:tag"}}]}"#,
            "/default/0/signedIdentity/signedPrefix",
            |p| matches!(p, Problem::InvalidPrefix(s) if s == "example.com/ns:tag"),
        ),
        (
            r#"{"default": [{"type": "reject"}], "transports": {"dir": {"relative/path": [{"type": "reject"}]}}}"#,
            "/transports/dir/relative~1path",
            |p| matches!(p, Problem::InvalidScope { .. }),
        ),
        (
            r#"{"default": [{"type": "reject"}], "transports": {"oci": {"/": [{"type": "reject"}]}}}"#,
            "/transports/oci/~1",
            |p| matches!(p, Problem::InvalidScope { .. }),
        ),
        (
            r#"{"default": [{"type": "reject"}], "transports": {"oci": {"/a/../b": [{"type": "reject"}]}}}"#,
            "/transports/oci/~1a~1..~1b",
            |p| matches!(p, Problem::InvalidScope { .. }),
        ),
        (
            r#"{"default": [{"type": "reject"}], "transports": {"docker-archive": {"/a": [{"type": "reject"}]}}}"#,
            "/transports/docker-archive/~1a",
            |p| matches!(p, Problem::InvalidScope { .. }),
        ),
        (
            r#"{"default": [{"type": "reject"}], "transports": {"docker": {"x": {}}}}"#,
            "/transports/docker/x",
            |p| {
                matches!(
                    p,
                    Problem::WrongType {
                        expected: "an array",
                        found: "object"
                    }
                )
            },
        ),
        (r#"{"default": [{"type": "reject"}]} trailing"#, "", |p| {
            matches!(p, Problem::Syntax(_))
        }),
    ];
    for (policy, pointer, problem) in cases {
        let (at, found) = refusal(policy);
        assert_eq!(at, *pointer, "pointer for {policy}");
        assert!(problem(&found), "problem for {policy}: {found:?}");
    }
}

#[test]
fn refuses_hostile_nesting_without_overflowing() {
    let deep = format!(
        "{{\"default\": {}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let (_, problem) = refusal(&deep);
    assert!(matches!(problem, Problem::Syntax(_)), "{problem:?}");
}

#[test]
fn policy_with_a_hundred_thousand_scopes_is_read_and_a_late_duplicate_found() {
    let mut scopes: Vec<String> = (0..100_000)
        .map(|i| format!(r#""example.com/r{i}":[{{"type":"reject"}}]"#))
        .collect();
    let policy = |scopes: &[String]| {
        format!(
            r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{{}}}}}}}"#,
            scopes.join(",")
        )
    };
    let wide = Policy::parse(policy(&scopes).as_bytes()).unwrap();
    assert_eq!(wide.transports[0].scopes.len(), 100_000);
    scopes.push(r#""example.com/r0":[]"#.into());
    assert_eq!(
        refusal(&policy(&scopes)),
        (
            "/transports/docker".into(),
            Problem::DuplicateKey("example.com/r0".into())
        )
    );
}

#[test]
fn errors_name_the_pointer_in_their_message() {
    let e = Policy::parse(br#"{"default": [{"type": "rejected"}]}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "at /default/0/type: unknown policy requirement type \"rejected\""
    );
}

#[test]
fn accepts_scopes_of_transports_it_does_not_know() {
    let policy = Policy::parse(
        br#"{"default": [{"type": "reject"}], "transports": {"ostree": {"anything at all": [{"type": "reject"}]}}}"#,
    )
    .unwrap();
    assert_eq!(policy.transports[0].transport, "ostree");
}

// ---------------------------------------------------------------------
// Scopes

fn applied(policy: &Policy, image: &ImageScope) -> AppliedScope {
    policy.requirements_for(image).0
}

fn scope(transport: &str, scope: &str) -> AppliedScope {
    AppliedScope::Scope {
        transport: transport.into(),
        scope: scope.into(),
    }
}

#[test]
fn docker_scopes_go_from_the_repository_to_wildcard_hosts() {
    let image = ImageScope::docker(&named("registry.example.com:5000/team/app/sub:1.0"));
    assert_eq!(image.identity, "registry.example.com:5000/team/app/sub:1.0");
    assert_eq!(
        image.namespaces,
        [
            "registry.example.com:5000/team/app/sub",
            "registry.example.com:5000/team/app",
            "registry.example.com:5000/team",
            "registry.example.com:5000",
            "*.example.com",
            "*.com"
        ]
    );
    let by_digest = named(&format!("busybox@sha256:{}", "a".repeat(64)));
    assert_eq!(
        ImageScope::docker(&by_digest).identity,
        format!("docker.io/library/busybox@sha256:{}", "a".repeat(64))
    );
}

#[test]
fn only_a_scope_of_insecure_accept_anything_alone_accepts_anything() {
    let policy = Policy::parse(
        br#"{"default": [{"type": "insecureAcceptAnything"}],
             "transports": {"docker": {
                 "example.com/locked": [{"type": "reject"}],
                 "example.com/mixed": [{"type": "insecureAcceptAnything"}, {"type": "reject"}]}}}"#,
    )
    .unwrap();
    let docker = |name: &str| ImageScope::docker(&named(name));
    assert!(policy.accepts_anything(&docker("example.com/open:1")));
    assert!(!policy.accepts_anything(&docker("example.com/locked:1")));
    assert!(!policy.accepts_anything(&docker("example.com/mixed:1")));
    // Another transport falls to the default.
    assert!(policy.accepts_anything(&ImageScope::dir("/images/app")));
}

#[test]
fn the_most_specific_docker_scope_wins() {
    let policy = Policy::parse(REGISTRY_POLICY).unwrap();
    let at = |r: &str| applied(&policy, &ImageScope::docker(&named(r)));
    assert_eq!(
        at("registry.example.com/team/app:1"),
        scope("docker", "registry.example.com/team/app")
    );
    assert_eq!(
        at("registry.example.com/team/other:1"),
        scope("docker", "registry.example.com/team")
    );
    assert_eq!(
        at("registry.example.com/elsewhere:1"),
        scope("docker", "*.example.com")
    );
    assert_eq!(
        at("mirror.sub.example.com/x:1"),
        scope("docker", "*.example.com")
    );
    assert_eq!(
        at("quay.io/x:1"),
        AppliedScope::TransportDefault {
            transport: "docker".into()
        }
    );
}

#[test]
fn path_scopes_cover_the_directory_and_its_parents() {
    let policy = Policy::parse(REGISTRY_POLICY).unwrap();
    let oci = ImageScope::oci("oci", "/srv/layouts/app");
    assert_eq!(oci.namespaces, ["/srv/layouts/app", "/srv/layouts", "/srv"]);
    assert_eq!(applied(&policy, &oci), scope("oci", "/srv/layouts"));
    let dir = ImageScope::dir("/srv/dirs/app/v1");
    assert_eq!(dir.namespaces, ["/srv/dirs/app", "/srv/dirs", "/srv"]);
    assert_eq!(applied(&policy, &dir), scope("dir", "/srv/dirs"));
    assert_eq!(
        applied(&policy, &ImageScope::dir("/elsewhere")),
        AppliedScope::Default
    );
    assert_eq!(
        applied(&policy, &ImageScope::unscoped("docker-archive")),
        AppliedScope::TransportDefault {
            transport: "docker-archive".into()
        }
    );
    assert_eq!(
        applied(
            &policy,
            &ImageScope::oci("oci-archive", "/srv/layouts/a.tar")
        ),
        AppliedScope::Default
    );
}

// ---------------------------------------------------------------------
// Identities

#[test]
fn identity_rules_accept_what_containers_image_accepts() {
    let digest = format!("sha256:{}", "b".repeat(64));
    let by_digest = format!("example.com/ns/repo@{digest}");
    let remap = IdentityRule::RemapIdentity {
        prefix: "mirror.local/vendor".into(),
        signed_prefix: "vendor.example.com".into(),
    };
    // (rule, image, claimed, accepted)
    let cases: Vec<(IdentityRule, &str, &str, bool)> = vec![
        (
            IdentityRule::MatchExact,
            "example.com/ns/repo:1",
            "example.com/ns/repo:1",
            true,
        ),
        (
            IdentityRule::MatchExact,
            "example.com/ns/repo:1",
            "example.com/ns/repo:2",
            false,
        ),
        (
            IdentityRule::MatchExact,
            "example.com/ns/repo:1",
            "example.com/ns/repo",
            false,
        ),
        (
            IdentityRule::MatchExact,
            &by_digest,
            "example.com/ns/repo:1",
            false,
        ),
        (
            IdentityRule::MatchExact,
            "busybox:latest",
            "docker.io/library/busybox:latest",
            true,
        ),
        (
            IdentityRule::MatchRepoDigestOrExact,
            "example.com/ns/repo:1",
            "example.com/ns/repo:1",
            true,
        ),
        (
            IdentityRule::MatchRepoDigestOrExact,
            "example.com/ns/repo:1",
            "example.com/ns/repo:2",
            false,
        ),
        (
            IdentityRule::MatchRepoDigestOrExact,
            &by_digest,
            "example.com/ns/repo:anything",
            true,
        ),
        (
            IdentityRule::MatchRepoDigestOrExact,
            &by_digest,
            "example.com/ns/other:1",
            false,
        ),
        (
            IdentityRule::MatchRepoDigestOrExact,
            &by_digest,
            "example.com/ns/repo",
            false,
        ),
        (
            IdentityRule::MatchRepository,
            "example.com/ns/repo:1",
            "example.com/ns/repo:2",
            true,
        ),
        (
            IdentityRule::MatchRepository,
            "example.com/ns/repo:1",
            "example.com/ns/repo",
            true,
        ),
        (
            IdentityRule::MatchRepository,
            "example.com/ns/repo:1",
            "example.com/ns/other:1",
            false,
        ),
        (
            IdentityRule::ExactReference(named("example.com/signed:v1")),
            "example.com/ns/repo:1",
            "example.com/signed:v1",
            true,
        ),
        (
            IdentityRule::ExactReference(named("example.com/signed:v1")),
            "example.com/ns/repo:1",
            "example.com/signed:v2",
            false,
        ),
        (
            IdentityRule::ExactRepository(named("example.com/signed")),
            "example.com/ns/repo:1",
            "example.com/signed:v9",
            true,
        ),
        (
            IdentityRule::ExactRepository(named("example.com/signed")),
            "example.com/ns/repo:1",
            "example.com/other:v9",
            false,
        ),
        (
            remap.clone(),
            "mirror.local/vendor/app:1",
            "vendor.example.com/app:1",
            true,
        ),
        (
            remap.clone(),
            "mirror.local/vendor/app:1",
            "mirror.local/vendor/app:1",
            false,
        ),
        (
            remap.clone(),
            "mirror.local/vendorx/app:1",
            "mirror.local/vendorx/app:1",
            true,
        ),
        (
            remap.clone(),
            "mirror.local/vendor/app:1",
            "vendor.example.com/app:2",
            false,
        ),
        (
            IdentityRule::MatchExact,
            "example.com/ns/repo:1",
            "Not A Reference",
            false,
        ),
    ];
    for (rule, image, claimed, accepted) in cases {
        let image = named(image);
        assert_eq!(
            rule.check(Some(&image), claimed).is_ok(),
            accepted,
            "{rule} for image {image}, claim {claimed}"
        );
    }
}

#[test]
fn rules_that_compare_with_the_image_need_a_docker_reference() {
    assert!(
        IdentityRule::MatchRepository
            .check(None, "example.com/a:1")
            .is_err()
    );
    assert!(
        IdentityRule::ExactRepository(named("example.com/a"))
            .check(None, "example.com/a:1")
            .is_ok()
    );
}

// ---------------------------------------------------------------------
// Payloads

const DIGEST: &str = "sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55";

/// Not the digest of [`MANIFEST`].
const OTHER_DIGEST: &str =
    "sha256:0000000000000000000000000000000000000000000000000000000000000000";

fn payload(reference: &str, digest: &str) -> Vec<u8> {
    Payload {
        manifest_digest: digest.into(),
        docker_reference: reference.into(),
        creator: Some("atomic 5.23.1".into()),
        timestamp: Some(1_700_000_000),
    }
    .to_bytes(Format::SimpleSigning)
    .unwrap()
}

#[test]
fn writes_payloads_byte_for_byte_as_containers_image() {
    assert_eq!(
        String::from_utf8(payload("example.com/a<b>:1", DIGEST)).unwrap(),
        format!(
            "{{\"critical\":{{\"identity\":{{\"docker-reference\":\"example.com/a\\u003cb\\u003e:1\"}},\"image\":{{\"docker-manifest-digest\":\"{DIGEST}\"}},\"type\":\"atomic container signature\"}},\"optional\":{{\"creator\":\"atomic 5.23.1\",\"timestamp\":1700000000}}}}"
        )
    );
}

#[test]
fn reads_payloads_strictly() {
    let ok = Payload::parse(&payload("example.com/a:1", DIGEST), Format::SimpleSigning).unwrap();
    assert_eq!(ok.docker_reference, "example.com/a:1");
    assert_eq!(ok.timestamp, Some(1_700_000_000));
    let refused = |text: &str, format: Format| Payload::parse(text.as_bytes(), format).unwrap_err();
    let critical = r#""critical":{"type":"atomic container signature","image":{"docker-manifest-digest":"sha256:x"},"identity":{"docker-reference":"a"}}"#;
    assert!(matches!(
        refused(
            &format!("{{{critical},\"optional\":{{}},\"extra\":1}}"),
            Format::SimpleSigning
        )
        .problem,
        Problem::UnknownKey(_)
    ));
    let unknown_critical = critical.replace("\"identity\"", "\"condition\":1,\"identity\"");
    assert_eq!(
        refused(
            &format!("{{{unknown_critical},\"optional\":{{}}}}"),
            Format::SimpleSigning
        )
        .pointer,
        "/critical"
    );
    assert!(matches!(
        refused(
            &format!("{{{critical},\"optional\":{{}}}}"),
            Format::Sigstore
        )
        .problem,
        Problem::UnknownSignatureType(_)
    ));
    assert!(matches!(
        refused(
            &format!("{{{critical},\"optional\":{{\"timestamp\":1.5}}}}"),
            Format::SimpleSigning
        )
        .problem,
        Problem::NotInteger(_)
    ));
    // Unknown optional members are ignored; a float timestamp with an
    // integral value is one.
    let lenient = Payload::parse(
        format!("{{{critical},\"optional\":{{\"timestamp\":1.7e9,\"note\":[1]}}}}").as_bytes(),
        Format::SimpleSigning,
    )
    .unwrap();
    assert_eq!(lenient.timestamp, Some(1_700_000_000));
    // sigstore allows a null optional part; simple signing does not.
    let sigstore_critical = critical.replace(
        "atomic container signature",
        "cosign container image signature",
    );
    assert!(
        Payload::parse(
            format!("{{{sigstore_critical},\"optional\":null}}").as_bytes(),
            Format::Sigstore
        )
        .is_ok()
    );
    assert!(
        Payload::parse(
            format!("{{{critical},\"optional\":null}}").as_bytes(),
            Format::SimpleSigning
        )
        .is_err()
    );
}

// ---------------------------------------------------------------------
// Verdicts

/// A verifier that "verifies" signatures of the form `\xa3KEY:payload`
/// when KEY is among the keys, so the decisions can be tested without
/// cryptography (native tests do it with real OpenPGP).
struct FakeOpenPgp;

impl Verifier for FakeOpenPgp {
    fn read_key_file(&mut self, path: &str) -> Result<Vec<u8>, String> {
        path.strip_prefix("/keys/")
            .map(|k| k.as_bytes().to_vec())
            .ok_or_else(|| format!("{path}: no such file"))
    }

    fn verify_openpgp(
        &mut self,
        keys: &[Vec<u8>],
        signature: &[u8],
    ) -> Result<Signed, CryptoFailure> {
        let body = &signature[1..];
        let colon = body
            .iter()
            .position(|b| *b == b':')
            .ok_or(CryptoFailure::Malformed {
                detail: "no colon".into(),
            })?;
        let (key, payload) = (&body[..colon], &body[colon + 1..]);
        if keys.iter().any(|k| k == key) {
            Ok(Signed {
                payload: payload.to_vec(),
                signer: String::from_utf8_lossy(key).into_owned(),
            })
        } else {
            Err(CryptoFailure::UnknownKey {
                key_id: String::from_utf8_lossy(key).into_owned(),
            })
        }
    }
}

fn signature(key: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0xa3];
    out.extend_from_slice(key.as_bytes());
    out.push(b':');
    out.extend_from_slice(payload);
    out
}

fn judge(policy: &str, reference: &str, signatures: &[Vec<u8>]) -> Verdict {
    let policy = Policy::parse(policy.as_bytes()).unwrap();
    let reference = named(reference);
    let scope = ImageScope::docker(&reference);
    let image = Image {
        name: "docker://test",
        scope: &scope,
        reference: Some(&reference),
        manifest: MANIFEST,
        signatures,
    };
    policy.judge(&image, &mut FakeOpenPgp)
}

const SIGNED_BY: &str =
    r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/keys/good"}]}"#;

fn manifest_digest() -> String {
    ferry_core::manifest::digest(MANIFEST).unwrap().to_string()
}

fn refusal_of(verdict: Verdict) -> Refusal {
    match verdict {
        Verdict::Refused { refusal, .. } => refusal,
        Verdict::Allowed { .. } => panic!("allowed"),
    }
}

#[test]
fn signed_by_accepts_a_good_signature_for_this_manifest_and_name() {
    let sig = signature("good", &payload("example.com/app:1", &manifest_digest()));
    assert!(judge(SIGNED_BY, "example.com/app:1", &[sig]).is_allowed());
}

#[test]
fn signed_by_refuses_an_unsigned_image() {
    assert_eq!(
        refusal_of(judge(SIGNED_BY, "example.com/app:1", &[])),
        Refusal::NoSignature { other_formats: 0 }
    );
}

#[test]
fn signed_by_refuses_each_bad_signature_with_its_reason() {
    let digest = manifest_digest();
    let sigs = [
        signature("stranger", &payload("example.com/app:1", &digest)),
        signature("good", &payload("example.com/app:1", OTHER_DIGEST)),
        signature("good", &payload("example.com/app:2", &digest)),
        signature("good", b"{}"),
        vec![0x42, 1, 2],
    ];
    let Refusal::NoneAccepted(reasons) = refusal_of(judge(SIGNED_BY, "example.com/app:1", &sigs))
    else {
        panic!("expected NoneAccepted");
    };
    assert!(
        matches!(&reasons[0], SignatureRefusal::Crypto(CryptoFailure::UnknownKey { key_id }) if key_id == "stranger")
    );
    assert!(
        matches!(&reasons[1], SignatureRefusal::DigestMismatch { signed } if signed == OTHER_DIGEST)
    );
    assert!(
        matches!(&reasons[2], SignatureRefusal::IdentityMismatch { signed, .. } if signed == "example.com/app:2")
    );
    assert!(matches!(&reasons[3], SignatureRefusal::Payload(_)));
    assert!(matches!(&reasons[4], SignatureRefusal::Unreadable(_)));
}

#[test]
fn one_good_signature_among_bad_ones_is_enough() {
    let digest = manifest_digest();
    let sigs = [
        signature("stranger", &payload("example.com/app:1", &digest)),
        signature("good", &payload("example.com/app:1", &digest)),
    ];
    assert!(judge(SIGNED_BY, "example.com/app:1", &sigs).is_allowed());
}

#[test]
fn every_requirement_of_the_scope_must_be_met() {
    let digest = manifest_digest();
    let sig = signature("good", &payload("example.com/app:1", &digest));
    let both = r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/keys/good"},
                                 {"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/keys/second"}]}"#;
    assert!(!judge(both, "example.com/app:1", std::slice::from_ref(&sig)).is_allowed());
    let second = signature("second", &payload("example.com/app:1", &digest));
    assert!(judge(both, "example.com/app:1", &[sig, second]).is_allowed());
}

#[test]
fn simple_requirements_decide_without_signatures() {
    let insecure = r#"{"default": [{"type": "insecureAcceptAnything"}]}"#;
    assert!(judge(insecure, "example.com/app:1", &[]).is_allowed());
    let reject = r#"{"default": [{"type": "reject"}]}"#;
    assert_eq!(
        refusal_of(judge(reject, "example.com/app:1", &[])),
        Refusal::Rejected
    );
    let base_layer = r#"{"default": [{"type": "signedBaseLayer", "baseLayerIdentity": {"type": "matchRepository"}}]}"#;
    assert_eq!(
        refusal_of(judge(base_layer, "example.com/app:1", &[])),
        Refusal::SignedBaseLayer
    );
    let x509 = r#"{"default": [{"type": "signedBy", "keyType": "X509Certificates", "keyPath": "/keys/good"}]}"#;
    assert_eq!(
        refusal_of(judge(x509, "example.com/app:1", &[])),
        Refusal::KeyTypeUnsupported(KeyType::X509Certificates)
    );
}

#[test]
fn unreadable_key_files_refuse_the_image_naming_the_file() {
    let missing =
        r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/nowhere/key"}]}"#;
    let refusal = refusal_of(judge(missing, "example.com/app:1", &[]));
    assert!(refusal.to_string().contains("/nowhere/key"), "{refusal}");
}

#[test]
fn refusals_name_the_scope_that_applied() {
    let policy = r#"{"default": [{"type": "insecureAcceptAnything"}],
                     "transports": {"docker": {"example.com/app": [{"type": "reject"}]}}}"#;
    let verdict = judge(policy, "example.com/app:1", &[]);
    assert_eq!(
        verdict.to_string(),
        "refused by policy scope \"example.com/app\" of transport \"docker\": the policy rejects it"
    );
}

#[test]
fn sigstore_requirements_ignore_simple_signatures() {
    let policy = r#"{"default": [{"type": "sigstoreSigned", "keyData": "a2V5"}]}"#;
    let sig = signature("good", &payload("example.com/app:1", &manifest_digest()));
    assert_eq!(
        refusal_of(judge(policy, "example.com/app:1", &[sig])),
        Refusal::NoSignature { other_formats: 1 }
    );
}

#[test]
fn null_optional_claims_are_read_as_go_reads_them() {
    let critical = r#""critical":{"type":"atomic container signature","image":{"docker-manifest-digest":"sha256:x"},"identity":{"docker-reference":"a"}}"#;
    let payload = Payload::parse(
        format!("{{{critical},\"optional\":{{\"creator\":null,\"timestamp\":null}}}}").as_bytes(),
        Format::SimpleSigning,
    )
    .unwrap();
    assert_eq!(payload.creator.as_deref(), Some(""));
    assert_eq!(payload.timestamp, Some(0));
}
