//! `ferry sync`'s decisions: tag selection, destination names as skopeo
//! sync makes them, shards, and report merging.

use ferry_core::Digest;
use ferry_core::reference::Named;
use ferry_core::sync::report::{self, ImageReport, MergeError, Report, Status};
use ferry_core::sync::semver::{Constraint, ConstraintError, Version};
use ferry_core::sync::{
    Destination, DestinationKind, PlanError, Shard, SourceImage, TagRegex, destination_suffix,
    join, plan,
};

fn docker(text: &str) -> SourceImage {
    SourceImage::Docker(ferry_core::reference::transport::docker(text).unwrap())
}

#[test]
fn semver_constraints_select_as_masterminds_does() {
    // (constraint, tag, selected)
    let cases = [
        (">= 1.2", "1.2.0", true),
        (">= 1.2", "v1.3", true),
        (">= 1.2", "1.1.9", false),
        (">= 1.2, < 2", "2.0.0", false),
        (">= 1.2 < 2", "1.9.9", true),
        ("1.2 - 1.4.5", "1.4.5", true),
        ("1.2 - 1.4.5", "1.4.6", false),
        ("~1.2.3", "1.2.9", true),
        ("~1.2.3", "1.3.0", false),
        ("~1", "1.9.0", true),
        ("^1.2.3", "1.9.0", true),
        ("^1.2.3", "2.0.0", false),
        ("^0.2.3", "0.2.9", true),
        ("^0.2.3", "0.3.0", false),
        ("^0.0.3", "0.0.4", false),
        ("1.x", "1.7.2", true),
        ("1.x", "2.0.0", false),
        ("*", "42.0.1", true),
        ("!= 1.2.3", "1.2.4", true),
        ("!= 1.2.3", "1.2.3", false),
        ("> 1.x", "2.0.0", true),
        ("> 1.x", "1.9.0", false),
        ("<= 1.2.x", "1.2.9", true),
        ("<= 1.2.x", "1.3.0", false),
        ("< 2 || >= 3", "3.1.0", true),
        ("< 2 || >= 3", "2.5.0", false),
        ("1.2.3", "1.2.3", true),
        ("=1.2.3", "1.2.4", false),
    ];
    for (constraint, tag, selected) in cases {
        let c = Constraint::parse(constraint).unwrap();
        assert_eq!(c.selects(tag), selected, "{constraint} on {tag}");
    }
}

#[test]
fn semver_prereleases_need_a_prerelease_constraint() {
    let plain = Constraint::parse(">= 1.0").unwrap();
    assert!(!plain.selects("1.5.0-rc.1"));
    let pre = Constraint::parse(">= 1.0.0-0").unwrap();
    assert!(pre.selects("1.5.0-rc.1"));
}

#[test]
fn tags_that_are_not_versions_are_not_selected() {
    let c = Constraint::parse(">= 0").unwrap();
    for tag in ["latest", "1.2.3.4", "1..2", "1.02-a.01", "stable-1.2", ""] {
        assert!(!c.selects(tag), "{tag}");
    }
    assert_eq!(
        Version::parse("v1.2").map(|v| (v.major, v.minor, v.patch)),
        Some((1, 2, 0))
    );
}

#[test]
fn a_malformed_constraint_is_refused() {
    assert!(matches!(
        Constraint::parse(">= banana"),
        Err(ConstraintError::Improper { .. })
    ));
    assert!(matches!(
        Constraint::parse(&"1 ||".repeat(1000)),
        Err(ConstraintError::TooLong { .. })
    ));
}

#[test]
fn a_tag_regex_matches_anywhere_in_the_tag_as_go_does() {
    let r = TagRegex::new(r"1\.2[0-9]").unwrap();
    assert!(r.selects("v1.21-alpine"));
    assert!(!r.selects("1.3"));
    let anchored = TagRegex::new(r"^\d+$").unwrap();
    assert!(anchored.selects("123"));
    assert!(!anchored.selects("123a"));
}

#[test]
fn a_backtracking_regex_runs_in_linear_time() {
    // Catastrophic for a backtracking engine on a 128-byte tag of 'a's;
    // a finite automaton answers at once.
    let r = TagRegex::new("^(a+)+$").unwrap();
    let tag = format!("{}b", "a".repeat(127));
    assert!(!r.selects(&tag));
}

#[test]
fn a_huge_or_invalid_regex_is_refused_with_the_reason() {
    assert!(
        TagRegex::new(&"a".repeat(2000))
            .unwrap_err()
            .contains("2000 bytes")
    );
    // Counted repetition that would compile to a huge automaton.
    assert!(TagRegex::new("(((a{100}){100}){100})").is_err());
    assert!(TagRegex::new(r"(a\1)").is_err());
}

#[test]
fn destinations_are_named_as_skopeo_sync_names_them() {
    // (source, scoped, destination base, expected)
    let cases = [
        (
            "localhost:5000/library/busybox:1.36",
            false,
            "mirror.example/m",
            "mirror.example/m/busybox:1.36",
        ),
        (
            "quay.io/org/app:v1",
            true,
            "mirror.example",
            "mirror.example/quay.io/org/app:v1",
        ),
        (
            "busybox:latest",
            true,
            "mirror.example/",
            "mirror.example/docker.io/library/busybox:latest",
        ),
        (
            "quay.io/org/app@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            false,
            "mirror.example",
            "mirror.example/app@sha256:0000000000000000000000000000000000000000000000000000000000000000",
        ),
    ];
    for (source, scoped, base, expected) in cases {
        let suffix = destination_suffix(&docker(source), scoped);
        assert_eq!(join(base, &suffix), expected, "{source} scoped={scoped}");
    }
}

#[test]
fn dir_sources_are_named_by_their_path_below_the_source() {
    let image = SourceImage::Dir {
        base: "/src".into(),
        path: "/src/team/app:1".into(),
    };
    assert_eq!(destination_suffix(&image, false), "app:1");
    assert_eq!(
        join("reg/m", &destination_suffix(&image, true)),
        "reg/m/team/app:1"
    );
    assert_eq!(image.key(), "team/app:1");
    let whole = SourceImage::Dir {
        base: "/src/app".into(),
        path: "/src/app".into(),
    };
    assert_eq!(destination_suffix(&whole, false), "app");
}

#[test]
fn every_image_belongs_to_exactly_one_shard() {
    let keys: Vec<String> = (0..500)
        .map(|i| format!("registry.example/repo{}:tag{i}", i % 7))
        .collect();
    for count in [1u32, 2, 3, 4, 16] {
        let mut sizes = vec![0usize; count as usize];
        for key in &keys {
            let owners: Vec<u32> = (0..count)
                .filter(|&index| Shard { index, count }.owns(key))
                .collect();
            assert_eq!(owners.len(), 1, "{key} of {count}");
            sizes[owners[0] as usize] += 1;
        }
        // A hash spreads them: no shard is empty or holds most of them.
        assert!(
            sizes
                .iter()
                .all(|&n| n > 0 && n < 500 * 3 / (2 * count as usize) + 20),
            "{sizes:?}"
        );
    }
}

#[test]
fn shard_assignment_is_stable_across_releases() {
    // Changing the hash would move images between the workers of a
    // running mirror: these values are a promise.
    assert_eq!(
        Shard::of("localhost:5000/busybox:1", 4),
        Shard::of("localhost:5000/busybox:1", 4)
    );
    let pinned: Vec<u32> = ["a:1", "b:2", "registry.example/x/y:z"]
        .iter()
        .map(|k| Shard::of(k, 1000))
        .collect();
    assert_eq!(pinned, PINNED_SHARDS);
}

// Computed independently: `int.from_bytes(sha256(key)[:8], "big") % 1000` in Python.
const PINNED_SHARDS: [u32; 3] = [71, 690, 504];

#[test]
fn shard_specs_parse_and_refuse_nonsense() {
    assert_eq!(
        "1/4".parse::<Shard>().unwrap(),
        Shard { index: 1, count: 4 }
    );
    for bad in ["4/4", "0/0", "1", "-1/4", "a/b", "1/4/5"] {
        assert!(bad.parse::<Shard>().is_err(), "{bad}");
    }
}

#[test]
fn a_plan_keeps_each_source_once() {
    let sources = vec![docker("reg/a:1"), docker("reg/a:1"), docker("reg/b:1")];
    let planned = plan(sources, "mirror", DestinationKind::Docker, false, None).unwrap();
    assert_eq!(planned.len(), 2);
    assert_eq!(
        planned[0].destination,
        Destination::Docker(Named::parse_normalized("mirror/a:1").unwrap())
    );
}

#[test]
fn two_sources_for_one_destination_are_refused() {
    let sources = vec![docker("reg/x/busybox:1"), docker("reg/y/busybox:1")];
    let error = plan(sources, "mirror", DestinationKind::Docker, false, None).unwrap_err();
    assert!(matches!(error, PlanError::Collision { .. }), "{error}");
    assert!(error.to_string().contains("--scoped"));
}

#[test]
fn a_scoped_destination_with_a_port_is_not_a_reference() {
    let sources = vec![docker("localhost:5000/busybox:1")];
    let error = plan(sources, "mirror", DestinationKind::Docker, true, None).unwrap_err();
    assert!(matches!(error, PlanError::Destination { .. }), "{error}");
}

#[test]
fn the_shards_of_a_plan_partition_it() {
    let sources: Vec<SourceImage> = (0..40).map(|i| docker(&format!("reg/r:{i}"))).collect();
    let whole = plan(sources.clone(), "m", DestinationKind::Docker, false, None).unwrap();
    let mut union = Vec::new();
    for index in 0..4 {
        let part = plan(
            sources.clone(),
            "m",
            DestinationKind::Docker,
            false,
            Some(Shard { index, count: 4 }),
        )
        .unwrap();
        union.extend(part.into_iter().map(|p| p.key));
    }
    union.sort();
    let mut all: Vec<String> = whole.into_iter().map(|p| p.key).collect();
    all.sort();
    assert_eq!(union, all);
}

fn image(key: &str, status: Status, bytes: u64) -> ImageReport {
    ImageReport {
        source: format!("docker://{key}"),
        destination: format!("docker://m/{key}"),
        key: key.into(),
        status,
        source_digest: None,
        destination_digest: None,
        bytes_copied: bytes,
        blobs_copied: 0,
        blobs_skipped: 0,
        blobs_mounted: 0,
        error: None,
    }
}

#[test]
fn shard_reports_merge_into_one_with_totals() {
    let a = Report::new(
        Some(Shard { index: 1, count: 2 }),
        vec![image("r:2", Status::Copied, 10)],
    );
    let b = Report::new(
        Some(Shard { index: 0, count: 2 }),
        vec![
            image("r:1", Status::Failed, 0),
            image("r:3", Status::Skipped, 0),
        ],
    );
    let merged = report::merge(vec![a, b]).unwrap();
    assert_eq!(merged.shards.len(), 2);
    let keys: Vec<&str> = merged.images.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, ["r:1", "r:2", "r:3"]);
    assert_eq!(merged.totals.copied, 1);
    assert_eq!(merged.totals.failed, 1);
    assert_eq!(merged.totals.bytes_copied, 10);
    assert!(merged.failed());
}

#[test]
fn merging_refuses_missing_duplicate_and_overlapping_shards() {
    let shard = |index, keys: &[&str]| {
        Report::new(
            Some(Shard { index, count: 3 }),
            keys.iter().map(|k| image(k, Status::Copied, 1)).collect(),
        )
    };
    assert!(matches!(
        report::merge(vec![shard(0, &["a"]), shard(1, &["b"])]),
        Err(MergeError::MissingShards { .. })
    ));
    assert!(matches!(
        report::merge(vec![shard(0, &["a"]), shard(0, &["b"])]),
        Err(MergeError::DuplicateShard { .. })
    ));
    assert!(matches!(
        report::merge(vec![shard(0, &["a"]), shard(1, &["a"]), shard(2, &[])]),
        Err(MergeError::Overlap { .. })
    ));
}

const OCI_IMAGE: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":3}]}"#;

#[test]
fn an_image_a_registry_already_holds_is_known_by_its_own_digest() {
    use ferry_core::destination::Kind;
    use ferry_core::plan::{CopyOptions, Selection};
    let destination = Kind::Docker.capabilities().plan_destination(None);
    let options = CopyOptions::new(Selection::All);
    // Uncompressed layers, which a registry would rather have compressed,
    // do not stop the check: the manifest already there is the image.
    assert_eq!(
        ferry_core::sync::unchanged_digest(
            OCI_IMAGE.as_bytes(),
            "application/vnd.oci.image.manifest.v1+json",
            &destination,
            &options
        ),
        Some(Digest::sha256_of(OCI_IMAGE.as_bytes()).to_string())
    );
    let forced = CopyOptions {
        forced: Some("application/vnd.docker.distribution.manifest.v2+json".into()),
        ..options
    };
    assert_eq!(
        ferry_core::sync::unchanged_digest(
            OCI_IMAGE.as_bytes(),
            "application/vnd.oci.image.manifest.v1+json",
            &destination,
            &forced
        ),
        None
    );
}

#[test]
fn a_tag_list_is_followed_for_a_bounded_number_of_pages() {
    use ferry_core::registry::tags::{MAX_TAG_PAGES, TagListError, TagPages};
    let mut pages = TagPages::new("http://r/v2/x/tags/list");
    let mut result = Ok(None);
    for n in 0..=MAX_TAG_PAGES {
        let link = format!("</v2/x/tags/list?last={n}>; rel=\"next\"");
        result = pages.next(1, Some(&link), "http://r");
        if result.is_err() {
            break;
        }
    }
    assert_eq!(
        result,
        Err(TagListError::TooManyPages {
            limit: MAX_TAG_PAGES
        })
    );
}

#[test]
fn a_relative_next_page_is_resolved_and_the_last_page_ends_the_list() {
    use ferry_core::registry::tags::TagPages;
    let mut pages = TagPages::new("http://r/v2/x/tags/list");
    assert_eq!(
        pages.next(
            3,
            Some("</v2/x/tags/list?last=c>; rel=\"next\""),
            "http://r"
        ),
        Ok(Some("http://r/v2/x/tags/list?last=c".to_string()))
    );
    assert_eq!(pages.next(2, None, "http://r"), Ok(None));
}
