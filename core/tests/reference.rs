//! The reference grammar against distribution/reference's own test cases
//! (fixtures/reference-cases.json, whose header says where each case and
//! answer comes from): one test per way of parsing.

use ferry_core::reference::{Named, ReferenceError, transport};
use serde_json::Value;

fn groups(op: &str) -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/reference-cases.json"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let groups: Vec<Value> = doc["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["op"] == op)
        .cloned()
        .collect();
    assert!(!groups.is_empty(), "no cases for {op}");
    groups
}

fn kind(error: &ReferenceError) -> &'static str {
    match error {
        ReferenceError::NameEmpty => "NameEmpty",
        ReferenceError::InvalidFormat { .. } => "InvalidFormat",
        ReferenceError::NameContainsUppercase { .. } => "NameContainsUppercase",
        ReferenceError::NameTooLong { .. } => "NameTooLong",
        ReferenceError::NameNotCanonical { .. } => "NameNotCanonical",
        ReferenceError::ImageId { .. } => "ImageId",
        ReferenceError::InvalidTag { .. } => "InvalidTag",
        ReferenceError::InvalidDigest { .. } => "InvalidDigest",
        _ => "another kind",
    }
}

/// What a parse gave, in the fixture's terms.
fn outcome(result: Result<Named, ReferenceError>) -> Value {
    match result {
        Ok(r) => serde_json::json!({"ok": {
            "domain": r.domain(),
            "path": r.path(),
            "tag": r.tag(),
            "digest": r.digest().map(|d| d.to_string()),
            "string": r.to_string(),
            "familiar": r.familiar_string(),
        }}),
        Err(e) => serde_json::json!({ "error": kind(&e) }),
    }
}

/// Runs every case of `op` through `parse` and lists every mismatch.
fn check(op: &str, parse: impl Fn(&Value) -> Result<Named, ReferenceError>) {
    let mut failures = Vec::new();
    let mut count = 0;
    for group in groups(op) {
        for case in group["cases"].as_array().unwrap() {
            count += 1;
            let expected = match case.get("ok") {
                Some(ok) => serde_json::json!({ "ok": ok }),
                None => serde_json::json!({ "error": case["error"] }),
            };
            let got = outcome(parse(case));
            if got != expected {
                failures.push(format!(
                    "{} {}\n    expected {expected}\n    got      {got}",
                    group["source"],
                    case.get("input").unwrap_or(case)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} {op} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn input(case: &Value) -> &str {
    case["input"].as_str().unwrap()
}

#[test]
fn parse_reads_a_reference_as_written() {
    check("parse", |c| Named::parse(input(c)));
}

#[test]
fn parse_normalized_reads_familiar_names_as_docker_does() {
    check("normalized", |c| Named::parse_normalized(input(c)));
}

#[test]
fn parse_canonical_refuses_names_that_normalisation_would_change() {
    check("canonical", |c| Named::parse_canonical(input(c)));
}

#[test]
fn with_tag_checks_the_tag_grammar() {
    check("withTag", |c| {
        Named::parse(c["name"].as_str().unwrap())?.with_tag(c["withTag"].as_str().unwrap())
    });
}

#[test]
fn docker_transport_references_are_normalised_and_tagged_latest() {
    check("docker", |c| transport::docker(input(c)));
}

#[test]
fn errors_name_the_input_as_given() {
    let e = Named::parse_normalized("Busybox").unwrap_err();
    assert_eq!(
        e.to_string(),
        "\"Busybox\": invalid reference format: repository name must be lowercase"
    );
    // The normalised text parsed internally is not what the error shows.
    let e = Named::parse_normalized("a..b").unwrap_err();
    assert_eq!(
        e,
        ReferenceError::InvalidFormat {
            input: "a..b".into()
        }
    );
}

#[test]
fn every_reference_error_reads_with_its_input_quoted_as_go_quotes_it() {
    let s = |t: &str| t.to_string();
    let cases = [
        (
            ReferenceError::NameEmpty,
            r#""": repository name must have at least one component"#,
        ),
        (
            ReferenceError::InvalidFormat { input: s("a\"b") },
            r#""a\"b": invalid reference format"#,
        ),
        (
            ReferenceError::NameContainsUppercase { input: s("Ab") },
            r#""Ab": invalid reference format: repository name must be lowercase"#,
        ),
        (
            ReferenceError::NameTooLong {
                input: s("a"),
                length: 300,
            },
            r#""a": repository name must not be more than 255 characters (it has 300)"#,
        ),
        (
            ReferenceError::NameNotCanonical {
                input: s("a"),
                canonical: s("docker.io/library/a"),
            },
            r#""a": repository name must be canonical ("docker.io/library/a")"#,
        ),
        (
            ReferenceError::ImageId { input: s("0f") },
            r#""0f": invalid repository name, cannot specify 64-byte hexadecimal strings (an image ID)"#,
        ),
        (
            ReferenceError::InvalidTag { tag: s(".t") },
            r#"".t": invalid tag format (letters, digits, _ . -, not starting with . or -, at most 128)"#,
        ),
        (
            ReferenceError::DigestNotAllowed {
                input: s("a@sha256:0"),
            },
            r#""a@sha256:0": docker-archive names images by tag, not by digest"#,
        ),
        (
            ReferenceError::EmptyPath { input: s(":a") },
            r#"":a": the path before the first colon is empty"#,
        ),
        (
            ReferenceError::InvalidIndex { selector: s("@x") },
            r#""@x" is not @ followed by an image number"#,
        ),
        (
            ReferenceError::InvalidImageName { name: s("A\n") },
            r#"invalid image name "A\n": components of letters and digits joined by one of - . _ : @ + or by --, separated by /"#,
        ),
    ];
    for (error, message) in cases {
        assert_eq!(error.to_string(), message);
    }
}
