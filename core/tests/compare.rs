//! Two stacked filesystems compared: `ferry_core::tar::compare`, one
//! behaviour per test. The cases are in fixtures/layers/comparing.json,
//! each named by its test; the browser inspector's comparison shows the
//! same answers (web/tests/unit/tree.test.mjs).

use ferry_core::tar::compare::{
    CompareError, Comparison, Filesystem, How, Kind, Metadata, Side, StackedPath, compare,
};
use serde_json::Value;

const CASES: &str = include_str!("fixtures/layers/comparing.json");

/// One side of a case: its layers' digests and its paths.
fn side(v: &Value) -> (Vec<&str>, Vec<StackedPath<'_>>) {
    let layers = v["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    let paths = v["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, m)| {
            let typeflag = m
                .get("type")
                .map_or(b'0', |t| t.as_str().unwrap().as_bytes()[0]);
            let mode = m.get("mode").map_or("644", |t| t.as_str().unwrap());
            let number = |key: &str| m.get(key).map_or(0, |n| n.as_u64().unwrap());
            StackedPath {
                path,
                layer: number("layer") as usize,
                metadata: Metadata {
                    kind: Kind::of(typeflag),
                    mode: u32::from_str_radix(mode, 8).unwrap(),
                    uid: number("uid"),
                    gid: number("gid"),
                    size: number("size"),
                    link: m.get("link").map_or("", |l| l.as_str().unwrap()),
                    digest: m.get("digest").map(|d| d.as_str().unwrap()),
                },
            }
        })
        .collect();
    (layers, paths)
}

/// Compares the sides of case `name` and checks the layers and the paths
/// that differ.
fn check(name: &str) {
    let cases: Value = serde_json::from_str(CASES).unwrap();
    let case = &cases[name];
    assert!(case.is_object(), "no case {name:?} in comparing.json");
    let (a_layers, a_paths) = side(&case["a"]);
    let (b_layers, b_paths) = side(&case["b"]);
    let a = Filesystem {
        layers: &a_layers,
        paths: &a_paths,
    };
    let b = Filesystem {
        layers: &b_layers,
        paths: &b_paths,
    };
    let Comparison { layers, paths } = compare(&a, &b).unwrap();
    if let Some(want) = case.get("layers") {
        let digests = |side: &[&str], at: &[usize]| -> Vec<String> {
            at.iter().map(|&i| side[i].to_string()).collect()
        };
        let got = serde_json::json!({
            "shared": digests(&a_layers, &layers.shared),
            "onlyA": digests(&a_layers, &layers.only_a),
            "onlyB": digests(&b_layers, &layers.only_b),
        });
        assert_eq!(&got, want, "{name}: layers");
    }
    let got: Vec<(String, &str)> = paths
        .iter()
        .map(|d| {
            let path = match (d.a, d.b) {
                (Some(i), _) => a_paths[i].path,
                (None, Some(j)) => b_paths[j].path,
                (None, None) => panic!("{name}: a difference on neither side"),
            };
            if let (Some(i), Some(j)) = (d.a, d.b) {
                assert_eq!(a_paths[i].path, b_paths[j].path, "{name}: one path");
            }
            let how = match d.how {
                How::OnlyA => "only-a",
                How::OnlyB => "only-b",
                How::Metadata => "metadata",
                How::Content => "content",
                How::MayDiffer => "may-differ",
            };
            (path.to_string(), how)
        })
        .collect();
    let want: Vec<(String, String)> = serde_json::from_value(case["differ"].clone()).unwrap();
    let want: Vec<(String, &str)> = want.iter().map(|(p, h)| (p.clone(), h.as_str())).collect();
    assert_eq!(got, want, "{name}: paths that differ");
}

#[test]
fn layers_both_images_list_are_shared_the_others_are_each_images_own() {
    check("layers both images list are shared, the others are each image's own");
}

#[test]
fn a_path_only_one_image_has_is_that_images() {
    check("a path only one image has is that image's");
}

#[test]
fn another_type_mode_owner_size_or_link_target_differs_in_metadata() {
    check("another type, mode, owner, size or link target differs in metadata");
}

#[test]
fn a_path_both_take_from_the_same_layer_is_the_same_file_hashed_or_not() {
    check("a path both take from the same layer is the same file, hashed or not");
}

#[test]
fn regular_files_from_different_layers_with_the_same_content_digest_are_the_same_file() {
    check("regular files from different layers with the same content digest are the same file");
}

#[test]
fn regular_files_from_different_layers_with_other_content_digests_differ_in_content() {
    check("regular files from different layers with other content digests differ in content");
}

#[test]
fn regular_files_from_different_layers_not_both_hashed_may_differ() {
    check("regular files from different layers not both hashed may differ");
}

#[test]
fn other_members_with_the_same_metadata_from_different_layers_are_the_same() {
    check("other members with the same metadata from different layers are the same");
}

#[test]
fn a_difference_in_metadata_is_named_before_one_in_content() {
    check("a difference in metadata is named before one in content");
}

#[test]
fn types_0_nul_and_7_are_all_regular_files() {
    check("types 0, NUL and 7 are all regular files");
}

#[test]
fn paths_are_compared_and_answered_in_byte_order() {
    check("paths are compared and answered in byte order");
}

/// A regular file of `size` bytes at `path`, from the first layer.
fn file(path: &str, size: u64) -> StackedPath<'_> {
    StackedPath {
        path,
        layer: 0,
        metadata: Metadata {
            kind: Kind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size,
            link: "",
            digest: None,
        },
    }
}

#[test]
fn paths_out_of_byte_order_are_refused_naming_the_side_and_the_paths() {
    let sorted = [file("a.b", 1), file("a/b", 1)];
    let unsorted = [file("a/b", 1), file("a.b", 1)];
    let side = |paths| Filesystem {
        layers: &["sha256:a"],
        paths,
    };
    assert_eq!(
        compare(&side(&sorted), &side(&unsorted)),
        Err(CompareError::OutOfOrder {
            side: Side::B,
            previous: "a/b".into(),
            path: "a.b".into(),
        })
    );
    assert_eq!(
        compare(&side(&unsorted), &side(&sorted))
            .unwrap_err()
            .to_string(),
        r#"filesystem A: path "a.b" comes after "a/b", not in byte order"#
    );
}

#[test]
fn a_path_listed_twice_on_one_side_is_refused() {
    let twice = [file("x", 1), file("x", 2)];
    let once = [file("x", 2)];
    let side = |paths| Filesystem {
        layers: &["sha256:a"],
        paths,
    };
    assert!(matches!(
        compare(&side(&twice), &side(&once)),
        Err(CompareError::OutOfOrder { side: Side::A, .. })
    ));
}

#[test]
fn every_case_in_the_fixture_has_its_test() {
    let cases: Value = serde_json::from_str(CASES).unwrap();
    let named = include_str!("compare.rs").matches("    check(\"").count();
    assert_eq!(cases.as_object().unwrap().len() - 1, named);
}
