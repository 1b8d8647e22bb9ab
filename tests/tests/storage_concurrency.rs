//! ferry and podman on one containers-storage store at once, and ferry
//! killed part-way: the store stays one that podman reads without error,
//! no half-written image is ever visible, and a rerun completes.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use ferry_tests::registry::{ferry, ferry_bin, succeeded};
use ferry_tests::storage::{Store, layered_layout};

/// A layout of 4 layers of 16 files of 256 KiB, beside the store.
fn big_layout(store: &Store) -> String {
    let layout = store.scratch("big");
    layered_layout(&layout, 4, 16, 256 << 10);
    format!("oci:{}:big", layout.display())
}

fn copy_command(source: &str, destination: &str) -> Command {
    let mut command = Command::new(ferry_bin());
    command
        .env("HOME", ferry_tests::test_home())
        .args(["copy", "--progress", "none", source, destination])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

fn wait_ok(child: Child, what: &str) {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every image podman lists can be saved, which reads all its layers.
fn every_listed_image_reads(store: &Store) {
    for image in store.images() {
        let id = image["Id"].as_str().unwrap();
        let out = store.scratch(&format!("save-{id}.tar"));
        store.podman_ok(&["save", "-o", &out.display().to_string(), id]);
        std::fs::remove_file(out).unwrap();
    }
}

#[test]
fn ferry_writing_while_podman_lists_leaves_a_readable_store() {
    let store = Store::new();
    let source = big_layout(&store);
    // One listing first, so podman has made its own files.
    store.images();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let lister = s.spawn(|| {
            let mut listings = 0;
            while !done.load(Ordering::SeqCst) && listings < 500 {
                let out = store.podman(&["images", "--format", "json"]);
                assert!(
                    out.status.success(),
                    "podman images failed while ferry wrote: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                listings += 1;
            }
        });
        for tag in ["big:1", "big:2", "demo:1"] {
            let source = if tag.starts_with("demo") {
                "demo:"
            } else {
                &source
            };
            let child = copy_command(source, &store.reference(tag)).spawn().unwrap();
            wait_ok(child, tag);
        }
        done.store(true, Ordering::SeqCst);
        lister.join().unwrap();
    });
    let names: Vec<String> = store
        .images()
        .iter()
        .flat_map(|i| i["Names"].as_array().cloned().unwrap_or_default())
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    for tag in ["big:1", "big:2", "demo:1"] {
        assert!(
            names.contains(&format!("docker.io/library/{tag}")),
            "{tag} in {names:?}"
        );
    }
    every_listed_image_reads(&store);
}

#[test]
fn two_ferry_copies_into_one_store_both_land() {
    let store = Store::new();
    let source = big_layout(&store);
    let first = copy_command(&source, &store.reference("big:a"))
        .spawn()
        .unwrap();
    let second = copy_command(&source, &store.reference("big:b"))
        .spawn()
        .unwrap();
    let third = copy_command("demo:", &store.reference("demo:c"))
        .spawn()
        .unwrap();
    wait_ok(first, "big:a");
    wait_ok(second, "big:b");
    wait_ok(third, "demo:c");
    let big = store.inspect("big:a");
    assert_eq!(big["Id"], store.inspect("big:b")["Id"]);
    // One record per layer, none left incomplete.
    let layers = store.layer_records();
    let mut ids: Vec<&str> = layers.iter().map(|l| l["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), layers.len());
    assert!(
        layers
            .iter()
            .all(|l| l.pointer("/flags/incomplete").is_none())
    );
    every_listed_image_reads(&store);
}

/// Kill points, in milliseconds after the start; the seed's offset is
/// printed so a failing run can be replayed with `FERRY_KILL_SEED`.
fn kill_points() -> Vec<u64> {
    let seed: u64 = std::env::var("FERRY_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| u64::from(std::process::id()) % 97);
    eprintln!("FERRY_KILL_SEED={seed}");
    [5, 40, 120, 250, 400, 700, 1000, 1500]
        .iter()
        .map(|base| base + seed)
        .collect()
}

#[test]
fn a_copy_killed_at_any_point_leaves_no_half_visible_image_and_a_rerun_completes() {
    let store = Store::new();
    let source = big_layout(&store);
    let destination = store.reference("big:latest");
    for delay in kill_points() {
        let mut child = copy_command(&source, &destination).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
        // Whatever the point, podman reads the store, and an image it
        // lists is whole.
        every_listed_image_reads(&store);
        // The rerun completes.
        wait_ok(
            copy_command(&source, &destination).spawn().unwrap(),
            &format!("rerun after a kill at {delay} ms"),
        );
        every_listed_image_reads(&store);
        assert!(
            store
                .layer_records()
                .iter()
                .all(|l| l.pointer("/flags/incomplete").is_none()),
            "incomplete layers after the rerun (kill at {delay} ms)"
        );
        // Nothing staged is left behind.
        let staged: Vec<_> = std::fs::read_dir(store.graph_root().join("tmp"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(staged.is_empty(), "{staged:?} after a kill at {delay} ms");
        // Start the next round from an empty store, as far as images go.
        store.podman_ok(&["rmi", "--all", "--force"]);
    }
    succeeded(&ferry(&[
        "copy",
        "--progress",
        "none",
        &source,
        &destination,
    ]));
}

#[test]
fn a_layer_a_killed_writer_left_incomplete_is_removed_and_made_again() {
    let store = Store::new();
    let destination = store.reference("demo:v1");
    succeeded(&ferry(&[
        "copy",
        "--progress",
        "none",
        "demo:",
        &destination,
    ]));
    // What a writer killed between recording the top layer and finishing
    // it leaves: the record flagged, its tar-split missing, no image.
    let root = store.graph_root();
    std::fs::write(root.join("vfs-images/images.json"), b"[]").unwrap();
    let mut layers = store.layer_records();
    let top = layers.last_mut().unwrap();
    top["flags"] = serde_json::json!({"incomplete": true});
    let top_id = top["id"].as_str().unwrap().to_string();
    std::fs::write(
        root.join("vfs-layers/layers.json"),
        serde_json::to_vec(&layers).unwrap(),
    )
    .unwrap();
    std::fs::remove_file(root.join(format!("vfs-layers/{top_id}.tar-split.gz"))).unwrap();

    succeeded(&ferry(&[
        "copy",
        "--progress",
        "none",
        "demo:",
        &destination,
    ]));
    let layers = store.layer_records();
    assert_eq!(layers.len(), 2);
    assert!(
        layers
            .iter()
            .all(|l| l.pointer("/flags/incomplete").is_none())
    );
    assert!(
        root.join(format!("vfs-layers/{top_id}.tar-split.gz"))
            .is_file()
    );
    every_listed_image_reads(&store);
}
