//! Hostile manifests, through `ferry manifest …` and through `ferry copy`:
//! numbers no integer holds, nesting 100,000 deep, 50 MB strings, 10,000
//! entries, lone surrogates, control characters, and digests that try to
//! be paths. Each gets a clear answer (never a panic), terminal output
//! carries no raw control characters, and nothing is read or written
//! outside where it should be.
//!
//! The small cases are files in `tests/fixtures/hostile/` (see its
//! README); the big ones are generated here. `tests/cli.rs` covers empty,
//! garbage, whitespace, deep arrays and invalid UTF-8.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use ferry_core::Digest;
use support::{Scratch, Sentinel, ferry, ferry_within, fifo, index_for, write_layout};

const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hostile")
        .join(name)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// What every answer must be, whatever the input: no panic, and no
/// control characters (ESC, BEL, CR, NUL…) on the terminal.
fn assert_well_behaved(o: &Output, context: &str) {
    let all = text(o);
    assert!(!all.contains("panicked"), "{context}: {all}");
    let bad: Vec<char> = all
        .chars()
        .filter(|c| c.is_control() && *c != '\n' && *c != '\t')
        .collect();
    assert!(
        bad.is_empty(),
        "{context}: raw control characters {bad:?} in {all:?}"
    );
}

/// `ferry COMMAND... FILE`.
fn run_on(command: &[&str], file: &Path) -> Output {
    let mut args = command.to_vec();
    args.push(file.to_str().unwrap());
    ferry(&args)
}

/// Every manifest command refuses `file`, well behaved, its output naming
/// each of `says`.
fn assert_every_command_refuses(file: &Path, context: &str, says: &[&str]) {
    for command in [DIGEST, INSPECT, VALIDATE, CHOOSE, CONVERT] {
        let out = run_on(command, file);
        let context = format!("{command:?} {context}");
        assert_well_behaved(&out, &context);
        assert!(!out.status.success(), "{context} succeeded");
        for phrase in says {
            assert!(
                text(&out).contains(phrase),
                "{context}: lacks {phrase:?}: {}",
                text(&out)
            );
        }
    }
}

/// A well-behaved failure (exit 1) whose output says `says`.
fn assert_refused_saying(out: &Output, context: &str, says: &str) {
    assert_well_behaved(out, context);
    assert_eq!(out.status.code(), Some(1), "{context}: {}", text(out));
    assert!(
        text(out).contains(says),
        "{context}: {:?} lacks {says:?}",
        text(out)
    );
}

/// One command on one fixture: the exit code and a phrase the output must
/// contain. Failures must also name the file.
struct Case {
    file: &'static str,
    command: &'static [&'static str],
    code: i32,
    says: &'static str,
}

const DIGEST: &[&str] = &["manifest", "digest"];
const INSPECT: &[&str] = &["manifest", "inspect"];
const INSPECT_JSON: &[&str] = &["manifest", "inspect", "--json"];
const VALIDATE: &[&str] = &["manifest", "validate"];
const CHOOSE: &[&str] = &[
    "manifest",
    "choose",
    "--platform",
    "linux/amd64",
    "--explain",
];
const CONVERT: &[&str] = &["manifest", "convert", "--to", "docker-list"];

#[rustfmt::skip]
const CASES: &[Case] = &[
    // Numbers beyond int64: the digest is of the bytes (as containers/image
    // computes it); everything that needs the number refuses it, naming
    // where it is.
    Case { file: "manifest-layer-size-1e999.json", command: DIGEST, code: 0, says: "sha256:" },
    Case { file: "manifest-layer-size-1e999.json", command: INSPECT, code: 1, says: "cannot read number 1e999 at /layers/0/size as int64" },
    Case { file: "manifest-layer-size-1e999.json", command: VALIDATE, code: 1, says: "/layers/0/size: size 1e999 is not a 64-bit integer" },
    Case { file: "manifest-layer-size-2-pow-64-plus-1.json", command: INSPECT, code: 1, says: "cannot read number 18446744073709551617 at /layers/0/size" },
    Case { file: "manifest-layer-size-2-pow-64-plus-1.json", command: VALIDATE, code: 1, says: "size 18446744073709551617 is not a 64-bit integer" },
    Case { file: "manifest-layer-size-negative.json", command: INSPECT, code: 0, says: "unknown" },
    Case { file: "manifest-layer-size-negative.json", command: VALIDATE, code: 1, says: "/layers/0/size: size -9223372036854775808 is negative" },
    Case { file: "index-entry-size-1e999.json", command: CHOOSE, code: 1, says: "cannot read number 1e999 at /manifests/0/size" },
    Case { file: "index-entry-size-1e999.json", command: CONVERT, code: 1, says: "cannot read number 1e999 at /manifests/0/size" },
    Case { file: "index-entry-size-negative.json", command: VALIDATE, code: 1, says: "/manifests/0/size: size -7 is negative" },
    // Lone surrogates decode to U+FFFD, as Go's encoding/json does; the
    // digest stays that of the bytes.
    Case { file: "manifest-lone-surrogates.json", command: INSPECT_JSON, code: 0, says: "\"mediaType\"" },
    Case { file: "manifest-lone-surrogates.json", command: VALIDATE, code: 0, says: "valid" },
    // Control characters are refused by validate and escaped on screen.
    Case { file: "manifest-media-type-control-characters.json", command: INSPECT, code: 0, says: "\\u{1b}[31m\\u{7}" },
    Case { file: "manifest-media-type-control-characters.json", command: VALIDATE, code: 1, says: "unknown manifest media type" },
    Case { file: "index-control-characters.json", command: INSPECT, code: 0, says: "linux\\u{1b}]0;pwned\\u{7}/amd64\\u{d}" },
    Case { file: "index-control-characters.json", command: VALIDATE, code: 1, says: "contains whitespace or control characters" },
    Case { file: "index-control-characters.json", command: CHOOSE, code: 1, says: "os \"linux\\u{1b}]0;pwned\\u{7}\" is not \"linux\"" },
    Case { file: "index-control-characters.json", command: CONVERT, code: 0, says: "\\u001b[2J" },
    // Newlines inside values stay on their line, escaped.
    Case { file: "manifest-newlines-in-values.json", command: INSPECT, code: 0, says: "config.v1+json\\u{a}Digest:      sha256:forged-config" },
    Case { file: "index-newlines-in-values.json", command: INSPECT, code: 0, says: "first line\\u{a}second line" },
    // Digests that look like paths: shown, flagged, never handed on.
    Case { file: "manifest-config-digest-traversal.json", command: VALIDATE, code: 1, says: "/config/digest: invalid digest \"sha256:../../../etc/passwd\"" },
    Case { file: "manifest-layer-digest-traversal.json", command: VALIDATE, code: 1, says: "/layers/0/digest: invalid digest" },
    Case { file: "index-entry-digest-traversal.json", command: VALIDATE, code: 1, says: "/manifests/0/digest: invalid digest" },
    Case { file: "index-entry-digest-traversal.json", command: CHOOSE, code: 1, says: "the chosen entry 1 has an invalid digest \"sha256:../../../etc/passwd\"" },
    Case { file: "layout-index-json-digest-traversal.json", command: CHOOSE, code: 1, says: "invalid digest \"sha256:../../etc/passwd\"" },
];

#[test]
fn hostile_manifest_fixtures_get_clear_answers_from_every_command() {
    for case in CASES {
        let path = fixture(case.file);
        let out = run_on(case.command, &path);
        let context = format!("{:?} {}", case.command, case.file);
        assert_well_behaved(&out, &context);
        assert_eq!(
            out.status.code(),
            Some(case.code),
            "{context}: {}",
            text(&out)
        );
        assert!(
            text(&out).contains(case.says),
            "{context}: {:?} lacks {:?}",
            text(&out),
            case.says
        );
        if case.code != 0 {
            assert!(
                text(&out).contains(case.file),
                "{context}: does not name the file"
            );
        }
    }
}

/// Every fixture through every command: never a panic, never a raw
/// control character, and the digest is always that of the bytes.
#[test]
fn every_command_on_every_hostile_fixture_is_well_behaved() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixture(""))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 10);
    for file in &files {
        for command in [DIGEST, INSPECT, INSPECT_JSON, VALIDATE, CHOOSE, CONVERT] {
            let out = run_on(command, file);
            assert_well_behaved(&out, &format!("{command:?} {}", file.display()));
            if command == DIGEST {
                let bytes = std::fs::read(file).unwrap();
                assert_eq!(
                    String::from_utf8_lossy(&out.stdout).trim(),
                    Digest::sha256_of(&bytes).as_str(),
                    "{}",
                    file.display()
                );
            }
        }
    }
}

/// A newline or carriage return inside a value would end ferry's line
/// early and start one that looks like ferry's own (`Digest:      …`,
/// `Total size:  …`, a second table row): `inspect` shows each value on
/// its own line, escaped, so the output has exactly the lines of an
/// honest document with the same shape.
#[test]
fn newlines_inside_values_cannot_forge_lines_of_inspect_output() {
    for (file, lines, forged) in [
        (
            "manifest-newlines-in-values.json",
            // Media type, digest, size, config, layer count, one layer, total.
            7,
            &["Digest:      sha256:forged", "Total size:  0 B"][..],
        ),
        (
            "index-newlines-in-values.json",
            // Media type, digest, size, count, header, one entry, its
            // annotation, "Annotations:", one annotation.
            9,
            &["  2    linux/arm64", "Manifests:   9", "second line", "1)"][..],
        ),
    ] {
        let out = ferry(&["manifest", "inspect", fixture(file).to_str().unwrap()]);
        assert_well_behaved(&out, file);
        assert_eq!(out.status.code(), Some(0), "{file}: {}", text(&out));
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(!stdout.contains('\r'), "{file}: raw CR in {stdout:?}");
        assert_eq!(stdout.lines().count(), lines, "{file}: {stdout}");
        for line in stdout.lines() {
            for fake in forged {
                assert!(
                    !line.starts_with(fake),
                    "{file}: a value started the line {line:?}"
                );
            }
        }
        assert!(stdout.contains("\\u{a}"), "{file}: {stdout}");
    }
}

/// Sizes that add up past i64::MAX are shown saturated, not overflowed.
#[test]
fn sizes_summing_past_i64_max_do_not_overflow() {
    let s = Scratch::new("hostile-overflow");
    let max = i64::MAX;
    let layer = format!(
        r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{EMPTY}","size":{max}}}"#
    );
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{EMPTY}","size":{max}}},"layers":[{layer},{layer},{layer}]}}"#
    );
    let entry = format!(
        r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{EMPTY}","size":{max},"platform":{{"os":"linux","architecture":"amd64"}}}}"#
    );
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{entry},{entry},{entry}]}}"#
    );
    for (name, doc) in [("manifest.json", manifest), ("index.json", index)] {
        let path = s.join(name);
        std::fs::write(&path, doc).unwrap();
        for command in [INSPECT, INSPECT_JSON] {
            let out = run_on(command, &path);
            assert_well_behaved(&out, name);
            assert!(out.status.success(), "{name}: {}", text(&out));
        }
    }
}

/// Nesting 100,000 deep inside a real manifest's annotations and a list:
/// refused at ferry's depth limit by every command, the cause named.
#[test]
fn nesting_a_hundred_thousand_deep_is_refused_by_every_command() {
    let s = Scratch::new("hostile-deep");
    let depth = 100_000;
    let nested = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{EMPTY}","size":0}},"layers":[],"annotations":{nested}}}"#
    );
    let list = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}{}]}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    for (name, doc) in [("deep-manifest.json", manifest), ("deep-list.json", list)] {
        let path = s.join(name);
        std::fs::write(&path, doc).unwrap();
        // The cause, and the file.
        assert_every_command_refuses(&path, name, &["nested deeper than 1000 levels", name]);
    }
}

/// A 50 MB string is over the 4 MiB manifest limit: every command says so
/// without reading the rest.
#[test]
fn a_fifty_megabyte_string_is_refused_by_every_command() {
    let s = Scratch::new("hostile-giant");
    let mut doc = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],"annotations":{"x":""#.to_vec();
    doc.extend(std::iter::repeat_n(b'x', 50 << 20));
    doc.extend_from_slice(br#""}}"#);
    let path = s.join("giant-string.json");
    std::fs::write(&path, doc).unwrap();
    // The file, and the limit.
    assert_every_command_refuses(&path, "", &["giant-string.json", "4194304"]);
}

/// 10,000 entries work with every command; how long each takes is
/// printed (budgets belong in benchmarks, not here).
#[test]
fn a_ten_thousand_entry_list_works_with_every_command() {
    let s = Scratch::new("hostile-wide");
    let entries: Vec<String> = (0..10_000)
        .map(|i| {
            format!(
                r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{},"platform":{{"os":"linux","architecture":"arch{i}"}}}}"#,
                Digest::sha256_of(format!("{i}").as_bytes()),
                100 + i
            )
        })
        .collect();
    let doc = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
        entries.join(",")
    );
    let path = s.join("wide.json");
    std::fs::write(&path, &doc).unwrap();
    let path = path.to_str().unwrap();
    let last = Digest::sha256_of(b"9999").to_string();
    let mut timings = Vec::new();
    let commands: [(&[&str], &str); 6] = [
        (&["manifest", "digest", path], "sha256:"),
        (&["manifest", "inspect", path], "Manifests:   10000"),
        (&["manifest", "inspect", "--json", path], &last),
        (&["manifest", "validate", path], "valid"),
        (
            &["manifest", "choose", path, "--platform", "linux/arch9999"],
            &last,
        ),
        (&["manifest", "convert", path, "--to", "docker-list"], &last),
    ];
    for (args, says) in commands {
        let started = Instant::now();
        let out = ferry(args);
        timings.push(format!("{} {:.0?}", args[1], started.elapsed()));
        assert_well_behaved(&out, args[1]);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(says), "{args:?} lacks {says}");
    }
    println!("10,000 entries: {}", timings.join(", "));
}

// ---------------------------------------------------------------------
// Through copy: digests that try to be paths
// ---------------------------------------------------------------------

/// Copies `source` into a fresh `oci:` destination beside it and expects a
/// clear refusal: the message names the bad digest; the destination is
/// not created; FIFO traps where `../` would lead are never opened (ferry
/// would block on them); the sentinel directory is untouched.
fn assert_copy_refused(s: &Scratch, source: &str, says: &str) {
    let sentinel = Sentinel::new(s.join("sentinel"));
    let dst = s.join("out");
    let out = ferry_within(
        &[
            "copy",
            "--all",
            "--progress",
            "none",
            source,
            &format!("oci:{}", dst.display()),
        ],
        Duration::from_secs(60),
    );
    assert_refused_saying(&out, source, says);
    assert!(!dst.exists(), "{source}: the destination was created");
    sentinel.assert_untouched(source);
    // Inspecting the source reads no blob through the bad digest either
    // (it may show the manifest: the digest is text there).
    let out = ferry_within(&["inspect", source], Duration::from_secs(60));
    assert_well_behaved(&out, source);
}

/// FIFOs where `sha256:../../etc/passwd` and `sha256:../../../etc/passwd`
/// lead from `blobs/sha256/` of a layout at `<scratch>/layout`.
fn traps(s: &Scratch, layout: &Path) {
    fifo(&layout.join("etc/passwd"));
    fifo(&s.join("etc/passwd"));
}

#[test]
fn a_layout_index_json_digest_that_is_a_path_is_refused() {
    let s = Scratch::new("hostile-index-traversal");
    let layout = s.join("layout");
    write_layout(
        &layout,
        &std::fs::read(fixture("layout-index-json-digest-traversal.json")).unwrap(),
        &[],
    );
    traps(&s, &layout);
    assert_copy_refused(
        &s,
        &format!("oci:{}", layout.display()),
        "index.json: invalid digest \"sha256:../../etc/passwd\"",
    );
}

#[test]
fn manifest_digests_that_are_paths_are_refused_in_layouts() {
    for (name, media_type) in [
        (
            "manifest-config-digest-traversal.json",
            "application/vnd.oci.image.manifest.v1+json",
        ),
        (
            "manifest-layer-digest-traversal.json",
            "application/vnd.oci.image.manifest.v1+json",
        ),
        (
            "index-entry-digest-traversal.json",
            "application/vnd.oci.image.index.v1+json",
        ),
    ] {
        let s = Scratch::new(&format!("hostile-{name}"));
        let layout = s.join("layout");
        let manifest = std::fs::read(fixture(name)).unwrap();
        write_layout(
            &layout,
            &index_for(&manifest, media_type),
            &[&manifest, b""],
        );
        traps(&s, &layout);
        assert_copy_refused(
            &s,
            &format!("oci:{}", layout.display()),
            "invalid digest \"sha256:../../../etc/passwd\"",
        );
    }
}

#[test]
fn a_dir_list_instance_digest_that_is_a_path_is_refused() {
    let s = Scratch::new("hostile-dir-traversal");
    // Three levels down, so `../../../etc/passwd.manifest.json` is a trap
    // inside the scratch directory.
    let image = s.join("a/b/image");
    std::fs::create_dir_all(&image).unwrap();
    std::fs::write(image.join("version"), "Directory Transport Version: 1.1\n").unwrap();
    std::fs::copy(
        fixture("index-entry-digest-traversal.json"),
        image.join("manifest.json"),
    )
    .unwrap();
    fifo(&s.join("etc/passwd.manifest.json"));
    assert_copy_refused(
        &s,
        &format!("dir:{}", image.display()),
        "invalid digest \"sha256:../../../etc/passwd\"",
    );
}

#[test]
fn an_oci_archive_whose_index_json_digest_is_a_path_is_refused() {
    let s = Scratch::new("hostile-archive-traversal");
    let layout = s.join("layout");
    write_layout(
        &layout,
        &std::fs::read(fixture("layout-index-json-digest-traversal.json")).unwrap(),
        &[],
    );
    let archive = s.join("image.tar");
    support::tar_layout(&layout, &archive);
    assert_copy_refused(
        &s,
        &format!("oci-archive:{}", archive.display()),
        "index.json: invalid digest \"sha256:../../etc/passwd\"",
    );
}

/// Sizes no integer holds, an index.json nested 100,000 deep or of 50 MB,
/// and control characters in the media type: each refused with its cause.
#[test]
fn layouts_with_hostile_numbers_nesting_sizes_and_media_types_are_refused() {
    let deep = format!(
        r#"{{"schemaVersion":2,"manifests":{}1{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let mut giant = br#"{"schemaVersion":2,"manifests":[],"annotations":{"x":""#.to_vec();
    giant.extend(std::iter::repeat_n(b'x', 50 << 20));
    giant.extend_from_slice(br#""}}"#);
    let cases: Vec<(&str, Option<&str>, Vec<u8>, &str)> = vec![
        (
            "size-1e999",
            Some("manifest-layer-size-1e999.json"),
            Vec::new(),
            "cannot read number 1e999 at /layers/0/size",
        ),
        (
            "size-2-pow-64",
            Some("manifest-layer-size-2-pow-64-plus-1.json"),
            Vec::new(),
            "18446744073709551617",
        ),
        (
            "deep-index",
            None,
            deep.into_bytes(),
            "nested deeper than 1000 levels",
        ),
        (
            "giant-index",
            None,
            giant,
            "larger than the 4194304-byte limit",
        ),
    ];
    for (name, manifest_fixture, index, says) in cases {
        let s = Scratch::new(&format!("hostile-layout-{name}"));
        let layout = s.join("layout");
        match manifest_fixture {
            Some(f) => {
                let manifest = std::fs::read(fixture(f)).unwrap();
                write_layout(
                    &layout,
                    &index_for(&manifest, "application/vnd.oci.image.manifest.v1+json"),
                    &[&manifest, b""],
                );
            }
            None => write_layout(&layout, &index, &[]),
        }
        let sentinel = Sentinel::new(s.join("sentinel"));
        let dst = s.join("out");
        let source = format!("oci:{}", layout.display());
        let out = ferry_within(
            &[
                "copy",
                "--progress",
                "none",
                &source,
                &format!("oci:{}", dst.display()),
            ],
            Duration::from_secs(60),
        );
        assert_refused_saying(&out, name, says);
        assert!(!dst.exists(), "{name}: the destination was created");
        sentinel.assert_untouched(name);
    }
}

/// An `index.json` entry whose media type carries control characters is
/// refused by name, escaped, before anything is read through it.
#[test]
fn a_layout_entry_media_type_with_control_characters_is_refused() {
    let s = Scratch::new("hostile-layout-media-type");
    let layout = s.join("layout");
    let manifest = std::fs::read(fixture("manifest-lone-surrogates.json")).unwrap();
    let index = index_for(
        &manifest,
        "application/vnd.oci.image.manifest.v1+json\\u001b[31m\\u0007",
    );
    write_layout(&layout, &index, &[&manifest, b""]);
    let sentinel = Sentinel::new(s.join("sentinel"));
    let dst = s.join("out");
    let out = ferry(&[
        "copy",
        "--progress",
        "none",
        &format!("oci:{}", layout.display()),
        &format!("oci:{}", dst.display()),
    ]);
    assert_well_behaved(&out, "media type");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("index.json: the entry for sha256:"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("has media type \"application/vnd.oci.image.manifest.v1+json\\u{1b}[31m\\u{7}\", which is not a manifest type"),
        "{}",
        text(&out)
    );
    assert!(!dst.exists());
    sentinel.assert_untouched("media type");
}

/// Lone surrogates do not stop a copy: the manifest crosses byte for byte
/// (its digest is of the bytes), and the checker finds the copy valid.
#[test]
fn a_manifest_with_lone_surrogates_is_copied_byte_for_byte() {
    let s = Scratch::new("hostile-surrogates-copy");
    let layout = s.join("layout");
    let manifest = std::fs::read(fixture("manifest-lone-surrogates.json")).unwrap();
    let index = index_for(&manifest, "application/vnd.oci.image.manifest.v1+json");
    write_layout(&layout, &index, &[&manifest, b""]);
    let dst = s.join("out");
    let out = ferry(&[
        "copy",
        "--progress",
        "none",
        &format!("oci:{}", layout.display()),
        &format!("oci:{}", dst.display()),
    ]);
    assert_well_behaved(&out, "surrogates");
    assert!(out.status.success(), "{}", text(&out));
    let digest = Digest::sha256_of(&manifest);
    assert_eq!(
        std::fs::read(dst.join("blobs/sha256").join(digest.encoded())).unwrap(),
        manifest
    );
    let found = support::check(&format!("oci:{}", dst.display())).unwrap();
    assert_eq!(found.tops(), vec![digest.to_string()]);
}
