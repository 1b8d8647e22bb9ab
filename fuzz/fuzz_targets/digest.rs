//! Digests: of manifests (signed schema 1 included), of documents, and
//! digest strings themselves.
//!
//! Invariants: a manifest's digest is the sha256 of its bytes unless they
//! are signed schema 1, where it is the sha256 of the recovered payload;
//! `digest_document` agrees with `digest` on anything that is JSON and
//! refuses the rest; a parsed digest string prints back as itself and
//! re-parses; streaming in two chunks gives the one-shot digest.
#![no_main]

use ferry_core::digest::{Algorithm, Hasher};
use ferry_core::manifest::{self, jws};
use ferry_core::{Digest, json, media_type as mt};
use ferry_fuzz::sha256;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let signed = ferry_core::manifest::guess_media_type(data) == mt::DOCKER_V2S1_SIGNED;
    let digest = manifest::digest(data);
    match &digest {
        Ok(d) if signed => {
            let payload = jws::payload(data).expect("the payload the digest was computed from");
            assert_eq!(d.as_str(), sha256(&payload));
        }
        Ok(d) => assert_eq!(d.as_str(), sha256(data)),
        Err(_) => assert!(signed, "only signed schema 1 can fail to digest"),
    }
    match manifest::digest_document(data) {
        Ok(d) => {
            assert!(json::parse(data).is_ok());
            assert_eq!(Ok(&d), digest.as_ref());
        }
        Err(_) => assert!(json::parse(data).is_err() || digest.is_err()),
    }

    let mut hasher = Hasher::new(Algorithm::Sha256);
    let (a, b) = data.split_at(data.len() / 2);
    hasher.update(a);
    hasher.update(b);
    assert_eq!(hasher.bytes(), data.len() as u64);
    let streamed = hasher.finish();
    assert_eq!(streamed, Digest::sha256_of(data));
    assert!(streamed.matches(data));

    if let Ok(text) = core::str::from_utf8(data)
        && let Ok(d) = Digest::parse(text)
    {
        assert_eq!(d.as_str(), text, "a digest prints as it was written");
        assert_eq!(Digest::parse(d.as_str()), Ok(d.clone()));
        assert_eq!(
            d.as_str(),
            format!("{}:{}", d.algorithm().name(), d.encoded())
        );
        // Safe as a file name: no separators, no dot segments.
        assert!(!d.encoded().contains(['/', '\\', '.']));
    }
});
