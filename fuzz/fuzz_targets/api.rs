//! The JSON facade every runtime calls (`ferry_api::call`).
//!
//! Header (before the first newline): one byte picking the operation (one of
//! `ferry_api::OPERATIONS`, or an unknown name), then the arguments' JSON text.
//!
//! Invariants: the answer is always one JSON object with exactly one of
//! `ok` or `error` (an error may add `explanation`); `digest` answers what
//! `manifest::digest` computes (containers/image's digest of any bytes); a chosen instance is in the list.
#![no_main]

use ferry_api::{OPERATIONS, call};
use ferry_core::{List, manifest};
use ferry_fuzz::{byte, split};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (header, input) = split(data);
    let op = OPERATIONS
        .get(usize::from(byte(header, 0)) % (OPERATIONS.len() + 1))
        .copied()
        .unwrap_or("noSuchOperation");
    let args = String::from_utf8_lossy(header.get(1..).unwrap_or_default());
    let answer = call(op, input, &args);
    let value: serde_json::Value = serde_json::from_str(&answer).expect("the answer is JSON");
    let object = value.as_object().expect("the answer is an object");
    let ok = object.get("ok");
    let error = object.get("error");
    match (ok, error) {
        (Some(ok), None) => {
            assert_eq!(object.len(), 1, "{answer}");
            match op {
                "digest" => {
                    let expected = manifest::digest(input).expect("digest succeeded");
                    assert_eq!(ok.as_str(), Some(expected.as_str()));
                }
                "chooseInstance" => {
                    let digest = ok["digest"].as_str().expect("a chosen digest");
                    let list = List::parse(input).expect("a list was chosen from");
                    assert!(list.instance(digest).is_some());
                }
                _ => {}
            }
        }
        (None, Some(error)) => {
            assert!(error.as_str().is_some_and(|e| !e.is_empty()), "{answer}");
            assert!(object.keys().all(|k| k == "error" || k == "explanation"));
        }
        _ => panic!("neither ok nor error alone: {answer}"),
    }
});
