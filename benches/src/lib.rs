//! Deterministic inputs for ferry's benchmarks.

pub mod images;

/// A sha256 digest string derived from `seed`, so inputs are reproducible.
pub fn fake_digest(seed: &str) -> String {
    ferry_core::Digest::sha256_of(seed.as_bytes()).to_string()
}

/// The platforms entries cycle through; the last one is what the
/// benchmarks ask for, so choosing scans the whole list.
const PLATFORMS: [(&str, &str, &str); 7] = [
    ("linux", "amd64", ""),
    ("linux", "arm64", "v8"),
    ("linux", "arm", "v6"),
    ("linux", "ppc64le", ""),
    ("linux", "s390x", ""),
    ("windows", "amd64", ""),
    ("linux", "arm", "v7"),
];

/// An OCI index with `entries` entries, annotated like real multi-platform
/// images; only the final entry is linux/riscv64.
pub fn oci_index(entries: usize) -> Vec<u8> {
    let mut out = String::from(
        r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":["#,
    );
    for i in 0..entries {
        if i > 0 {
            out.push(',');
        }
        let (os, arch, variant) = if i + 1 == entries {
            ("linux", "riscv64", "")
        } else {
            PLATFORMS[i % PLATFORMS.len()]
        };
        let variant = if variant.is_empty() {
            String::new()
        } else {
            format!(r#","variant":"{variant}""#)
        };
        out.push_str(&format!(
            r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{},"platform":{{"architecture":"{arch}","os":"{os}"{variant}}},"annotations":{{"org.opencontainers.image.ref.name":"entry-{i}"}}}}"#,
            fake_digest(&format!("entry {i}")),
            1000 + i
        ));
    }
    out.push_str(r#"],"annotations":{"org.opencontainers.image.created":"2026-01-01T00:00:00Z"}}"#);
    out.into_bytes()
}

/// The same entries as a Docker manifest list.
pub fn docker_list(entries: usize) -> Vec<u8> {
    let index = ferry_core::List::parse(&oci_index(entries)).expect("generated index parses");
    let options = ferry_core::list::ConvertOptions::default();
    index
        .convert_to(ferry_core::list::ListKind::DockerList, &options)
        .expect("generated index converts")
        .list
        .serialize()
        .to_vec()
}
