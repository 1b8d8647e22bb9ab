//! `ferry sync --src yaml` files: what each key means, and refusals that
//! name the line. Fixtures in `fixtures/sync/`.

use std::path::{Path, PathBuf};

use ferry::sync::yaml::{SourceFileError, load};
use ferry_core::sync::config::{ConfigErrorKind, Wanted};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sync")
        .join(name)
}

/// The line and kind of a refused fixture.
fn refusal(name: &str) -> (usize, ConfigErrorKind, String) {
    match load(&fixture(name)) {
        Err(e @ SourceFileError::Config { .. }) => {
            let text = e.to_string();
            let SourceFileError::Config { error, .. } = e else {
                unreachable!()
            };
            (error.line, error.kind, text)
        }
        other => panic!("{name}: expected a refusal, got {other:?}"),
    }
}

#[test]
fn every_key_skopeo_reads_is_read() {
    let config = load(&fixture("full.yaml")).unwrap();
    assert_eq!(config.registries.len(), 2);
    let example = &config.registries[0];
    assert_eq!(example.name, "registry.example.com");
    assert_eq!(
        example.credentials,
        Some(("john".into(), "this is a secret".into()))
    );
    assert_eq!(example.tls_verify, Some(false));
    assert_eq!(example.cert_dir.as_deref(), Some("/home/john/certs"));
    let names: Vec<String> = example
        .repositories
        .iter()
        .map(|r| r.name.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "registry.example.com/busybox",
            "registry.example.com/redis",
            "registry.example.com/nginx",
            "registry.example.com/alpine"
        ]
    );
    assert!(matches!(example.repositories[0].wanted, Wanted::Tags(_)));
    let Wanted::References(redis) = &example.repositories[1].wanted else {
        panic!("redis names references");
    };
    let redis: Vec<String> = redis.iter().map(ToString::to_string).collect();
    assert_eq!(
        redis,
        [
            "registry.example.com/redis:1.0",
            "registry.example.com/redis@sha256:0000000000000000000000000000000000000000000000000000000000000000"
        ]
    );
    let Wanted::Tags(regex) = &example.repositories[2].wanted else {
        panic!("nginx is by regex");
    };
    assert!(regex.selects("1.25.3") && !regex.selects("1.19.0"));
    let Wanted::Tags(semver) = &example.repositories[3].wanted else {
        panic!("alpine is by semver");
    };
    assert!(semver.selects("3.19") && !semver.selects("4.0") && !semver.selects("edge"));
    assert_eq!(config.registries[1].tls_verify, Some(true));
}

#[test]
fn an_unknown_key_is_refused_at_its_line() {
    let (line, kind, text) = refusal("unknown-key.yaml");
    assert_eq!(line, 4);
    assert!(matches!(kind, ConfigErrorKind::UnknownKey { .. }));
    assert!(
        text.contains("unknown-key.yaml: line 4: unknown key \"image\""),
        "{text}"
    );
}

#[test]
fn a_bad_regex_is_refused_at_its_line() {
    let (line, kind, _) = refusal("bad-regex.yaml");
    assert_eq!(line, 4);
    assert!(matches!(kind, ConfigErrorKind::Regex { .. }));
}

#[test]
fn a_reference_that_is_not_a_tag_is_refused_at_its_line() {
    let (line, kind, _) = refusal("bad-tag.yaml");
    assert_eq!(line, 5);
    assert!(matches!(kind, ConfigErrorKind::Reference { .. }));
}

#[test]
fn tls_verify_must_be_a_boolean() {
    let (line, kind, _) = refusal("bad-tls-verify.yaml");
    assert_eq!(line, 2);
    assert!(matches!(kind, ConfigErrorKind::NotABool { .. }));
}

#[test]
fn a_repository_given_twice_is_refused() {
    let (line, kind, _) = refusal("duplicate-key.yaml");
    assert_eq!(line, 4);
    assert!(matches!(kind, ConfigErrorKind::DuplicateKey { .. }));
}

#[test]
fn aliases_are_refused() {
    let (line, kind, _) = refusal("alias.yaml");
    assert_eq!(line, 4);
    assert!(matches!(kind, ConfigErrorKind::Unsupported { .. }));
}

#[test]
fn broken_yaml_is_refused_with_the_parser_s_line() {
    let (line, kind, _) = refusal("not-yaml.yaml");
    assert!(line >= 3, "{line}");
    assert!(matches!(kind, ConfigErrorKind::Syntax { .. }));
}

#[test]
fn a_file_of_a_million_tags_is_refused_before_it_fills_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("million.yaml");
    let mut text = String::from("registry.example.com:\n  images:\n    busybox:\n");
    for i in 0..1_000_000 {
        text.push_str(&format!("      - t{i}\n"));
    }
    std::fs::write(&path, &text).unwrap();
    let error = load(&path).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(
            error,
            SourceFileError::Config { ref error, .. }
                if matches!(error.kind, ConfigErrorKind::TooManyNodes { .. } | ConfigErrorKind::TooManyReferences { .. })
        ),
        "{message}"
    );
    assert!(message.contains("split the file"), "{message}");
}

#[test]
fn an_oversized_file_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.yaml");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(ferry_core::sync::config::MAX_FILE_SIZE + 1)
        .unwrap();
    assert!(matches!(load(&path), Err(SourceFileError::TooLarge { .. })));
}
