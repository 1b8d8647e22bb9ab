//! Layers stacked in order: `ferry_core::tar::stack`, one behaviour per
//! test. The cases are in fixtures/layers/stacking.json, each named by its
//! test; the browser inspector's filesystem view shows the same answers
//! (web/tests/unit/tree.test.mjs).

use std::collections::BTreeMap;

use ferry_core::tar::stack::{Change, LayerChanges, Stack};
use ferry_core::tar::{classify, normalise};
use serde_json::Value;

const CASES: &str = include_str!("fixtures/layers/stacking.json");

/// Stacks the layers of case `name` and checks its paths and changes.
fn check(name: &str) {
    let cases: Value = serde_json::from_str(CASES).unwrap();
    let case = &cases[name];
    assert!(case.is_object(), "no case {name:?} in stacking.json");
    let mut stack = Stack::new();
    let mut changes = Vec::new();
    for layer in case["layers"].as_array().unwrap() {
        // "TYPE NAME": each member's name read as the tar readers read it.
        let members: Vec<(bool, String, Option<ferry_core::tar::Entry>)> = layer
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let (kind, name) = m.as_str().unwrap().split_once(' ').unwrap();
                let path = normalise(name).unwrap_or_default();
                (kind == "dir", path, classify(name).ok())
            })
            .collect();
        let layer: Vec<Change<'_>> = members
            .iter()
            .map(|(dir, path, entry)| match entry {
                Some(entry) => Change::of(entry, path, *dir),
                None => Change::Skip,
            })
            .collect();
        changes.push(stack.apply(&layer));
    }
    let paths: BTreeMap<String, String> = stack
        .paths()
        .iter()
        .map(|(p, o)| {
            let member = o.member.map_or("implied".into(), |m| m.to_string());
            (p.clone(), format!("{}:{member}", o.layer))
        })
        .collect();
    let want: BTreeMap<String, String> = serde_json::from_value(case["paths"].clone()).unwrap();
    assert_eq!(paths, want, "{name}: paths");
    let list = |c: &Value, key: &str| -> Vec<String> {
        c.get(key)
            .map(|v| serde_json::from_value(v.clone()).unwrap())
            .unwrap_or_default()
    };
    let want: Vec<LayerChanges> = case["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| LayerChanges {
            added: list(c, "added"),
            changed: list(c, "changed"),
            deleted: list(c, "deleted"),
        })
        .collect();
    assert_eq!(changes, want, "{name}: changes");
}

#[test]
fn an_upper_layers_file_replaces_the_lower_ones() {
    check("an upper layer's file replaces the lower one's");
}

#[test]
fn a_whiteout_deletes_the_lower_path_and_everything_below_it() {
    check("a whiteout deletes the lower path and everything below it");
}

#[test]
fn a_whiteout_deletes_only_its_own_path_not_its_siblings_that_share_its_spelling() {
    check("a whiteout deletes only its own path, not its siblings that share its spelling");
}

#[test]
fn a_whiteout_never_deletes_what_its_own_layer_adds_wherever_it_stands() {
    check("a whiteout never deletes what its own layer adds, wherever it stands");
}

#[test]
fn a_whiteout_of_a_path_no_lower_layer_has_deletes_nothing() {
    check("a whiteout of a path no lower layer has deletes nothing");
}

#[test]
fn an_opaque_directory_hides_what_the_lower_layers_hold_in_it_keeping_its_own() {
    check("an opaque directory hides what the lower layers hold in it, keeping its own");
}

#[test]
fn an_opaque_marker_at_the_root_hides_every_lower_path() {
    check("an opaque marker at the root hides every lower path");
}

#[test]
fn a_file_over_a_lower_directory_replaces_the_whole_directory() {
    check("a file over a lower directory replaces the whole directory");
}

#[test]
fn a_directory_over_a_lower_directory_keeps_what_is_in_it() {
    check("a directory over a lower directory keeps what is in it");
}

#[test]
fn a_paths_missing_parents_are_directories_implied_by_its_layer() {
    check("a path's missing parents are directories implied by its layer");
}

#[test]
fn a_directory_named_after_the_paths_it_holds_in_the_same_layer_is_added_not_changed() {
    check("a directory named after the paths it holds in the same layer is added, not changed");
}

#[test]
fn a_later_member_of_the_same_path_in_one_layer_replaces_the_earlier_listed_once() {
    check("a later member of the same path in one layer replaces the earlier, listed once");
}

#[test]
fn refused_names_the_root_and_aufs_metadata_change_nothing() {
    check("refused names, the root and AUFS metadata change nothing");
}

#[test]
fn every_case_in_the_fixture_has_its_test() {
    let cases: Value = serde_json::from_str(CASES).unwrap();
    let named = include_str!("stack.rs").matches("    check(\"").count();
    assert_eq!(cases.as_object().unwrap().len() - 1, named);
}
