//! A copy killed at any moment leaves the destination as it was or
//! complete and valid, never half-written, and running it again finishes
//! the job.
//!
//! Kill delays are random over the whole length of a copy (measured first)
//! and seeded: the seed is printed, and `FERRY_TEST_SEED=<seed>` replays a
//! run. Every destination is checked by `support::check`, which verifies
//! every digest reachable from its entry point.
//!
//! `docker-archive:` never writes over a non-empty archive (as in
//! containers/image), so its "previous" state is an empty file, as
//! `mktemp` leaves one: after a kill it must still be there, empty or the
//! whole archive. Archive copies leave their staging directory in TMPDIR
//! when killed, and `dir:` and `oci:` copies their blobs' temporary files;
//! the rerun must sweep every one.

mod support;

use std::time::{Duration, Instant};

use support::{
    Found, Rng, Scratch, check, copy_command, copy_succeeds, snapshot, staging_dirs,
    write_dir_image, write_dir_image_uncompressed,
};

/// Big enough that a debug build takes a noticeable time to copy it.
const LAYERS: usize = 4;
const LAYER_SIZE: usize = 3 << 20;
/// Kills per destination and starting state.
const KILLS: usize = 4;

/// Copies `src` to `dst`, killing the copy `KILLS` times at random
/// moments; after each kill the destination must hold what it held
/// before or the whole new image; then a rerun must finish.
fn killed_copies_leave_the_destination_consistent(kind: &str, prefill: bool) {
    let (mut rng, seed) = Rng::from_env_or_clock();
    println!("{kind} (prefilled: {prefill}): seed {seed}");
    let s = Scratch::new(&format!("interrupted-{kind}-{prefill}"));
    let tmpdir = s.join("tmp");
    std::fs::create_dir_all(&tmpdir).unwrap();
    if kind == "docker-archive" {
        // Stored uncompressed, so given uncompressed.
        write_dir_image_uncompressed(&s.join("src"), 1, LAYERS, LAYER_SIZE);
    } else {
        write_dir_image(&s.join("src"), 1, LAYERS, LAYER_SIZE);
    }
    write_dir_image(&s.join("old"), 2, 1, 4096);
    let src = format!("dir:{}", s.join("src").display());
    let (dst, dst_named) = match kind {
        "dir" => {
            let d = format!("dir:{}", s.join("dst").display());
            (d.clone(), d)
        }
        "oci" => {
            let d = format!("oci:{}", s.join("dst").display());
            (d.clone(), format!("{d}:big"))
        }
        "oci-archive" | "docker-archive" => {
            let d = format!("{kind}:{}", s.join("dst.tar").display());
            (d.clone(), format!("{d}:big"))
        }
        other => panic!("unknown destination kind {other}"),
    };
    let run_to_end = |from: &str, to: &str| copy_succeeds(from, to, &tmpdir);

    // How long a whole copy takes here, so kills spread over all of it.
    let timing = s.join("timing");
    let timing_ref = match kind {
        "dir" => format!("dir:{}", timing.display()),
        "oci" => format!("oci:{}", timing.display()),
        _ => format!("{kind}:{}.tar", timing.display()),
    };
    let started = Instant::now();
    run_to_end(&src, &timing_ref);
    let full = started.elapsed();
    let expected = check(&timing_ref).expect("an uninterrupted copy is valid");

    // Each kill starts from the same state: a copy that found the new
    // image already complete would skip everything and test nothing.
    let reset = || {
        let _ = std::fs::remove_dir_all(s.join("dst"));
        let _ = std::fs::remove_file(s.join("dst.tar"));
        if prefill && kind == "docker-archive" {
            std::fs::write(s.join("dst.tar"), b"").unwrap();
        } else if prefill {
            run_to_end(&format!("dir:{}", s.join("old").display()), &dst_named);
        }
    };
    reset();
    let before = check(&dst).expect("the starting destination is valid");
    assert_eq!(
        before == Found::Nothing,
        !prefill || kind == "docker-archive"
    );

    // A layout keeps the images it held: naming the new image takes the
    // name off the old one's entry, which stays (as in containers/image),
    // so a complete copy over an OCI image holds both, old first.
    let complete = if kind == "oci" && prefill {
        [before.tops(), expected.tops()].concat()
    } else {
        expected.tops()
    };

    let window = (full.as_micros() as u64 * 6 / 5).max(1000);
    let mut outcomes = Vec::new();
    for kill in 0..KILLS {
        if kill > 0 {
            reset();
        }
        let delay = Duration::from_micros(rng.below(window));
        let mut child = copy_command(&src, &dst_named, &tmpdir).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let status = child.wait().unwrap();
        let found = check(&dst).unwrap_or_else(|e| {
            panic!("{kind}: after a kill at {delay:?} (seed {seed}) the destination is broken: {e}")
        });
        if prefill && kind == "docker-archive" {
            assert!(
                s.join("dst.tar").is_file(),
                "{kind}: after a kill at {delay:?} (seed {seed}) the empty file is gone"
            );
        }
        let state = if found.tops() == before.tops() {
            "as before"
        } else if found.tops() == complete {
            "complete"
        } else {
            panic!(
                "{kind}: after a kill at {delay:?} (seed {seed}) the destination holds {found:?}, neither {before:?} nor {complete:?}"
            )
        };
        outcomes.push(format!(
            "{:.0?}: {state}{}",
            delay,
            if status.success() {
                " (finished first)"
            } else {
                ""
            }
        ));
    }
    println!(
        "{kind}: whole copy {full:.0?}; kills at {}",
        outcomes.join(", ")
    );

    // The last kill's leftovers stay: the rerun must finish from there.
    let staged = staging_dirs(&tmpdir);
    if kind == "docker-archive" && check(&dst).unwrap() != Found::Nothing {
        // A complete archive is never written over: the rerun says so and
        // leaves it be; once the user removes it, the rerun goes ahead.
        let archive = std::fs::read(s.join("dst.tar")).unwrap();
        let out = copy_command(&src, &dst_named, &tmpdir).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains("cannot add to an existing archive"),
            "{kind}: {err}"
        );
        assert_eq!(std::fs::read(s.join("dst.tar")).unwrap(), archive);
        std::fs::remove_file(s.join("dst.tar")).unwrap();
    }
    run_to_end(&src, &dst_named);
    let after = check(&dst).expect("the rerun leaves a valid destination");
    assert_eq!(after.tops(), complete, "{kind}: the rerun finished");
    let left = staging_dirs(&tmpdir);
    // What is inside says which step a kill cut short.
    let inside: Vec<_> = left.iter().map(|d| snapshot(d)).collect();
    assert_eq!(
        left,
        Vec::<std::path::PathBuf>::new(),
        "{kind}: the rerun swept the {} staging director(ies) the kills left; inside: {inside:?}",
        staged.len()
    );
    let partial: Vec<String> = std::fs::read_dir(&s.0)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.starts_with(".ferry-tmp-") && (n.ends_with("-dst.tar") || n.ends_with("-dst.tar.new"))
        })
        .collect();
    assert_eq!(
        partial,
        Vec::<String>::new(),
        "{kind}: partial archives beside the destination after the rerun"
    );
    let temporary: Vec<String> = snapshot(&s.join("dst"))
        .into_keys()
        .filter(|k| k.contains(".ferry-tmp-"))
        .collect();
    assert_eq!(
        temporary,
        Vec::<String>::new(),
        "{kind}: temporary files of killed copies inside the destination after the rerun"
    );
    println!(
        "{kind}: {} staging director(ies) left by kills, swept by the rerun",
        staged.len()
    );
}

#[test]
fn killed_copies_into_an_empty_dir_leave_nothing_or_the_whole_image() {
    killed_copies_leave_the_destination_consistent("dir", false);
}

#[test]
fn killed_copies_over_a_dir_image_leave_the_old_or_the_new_image() {
    killed_copies_leave_the_destination_consistent("dir", true);
}

#[test]
fn killed_copies_into_an_empty_oci_layout_leave_nothing_or_the_whole_image() {
    killed_copies_leave_the_destination_consistent("oci", false);
}

#[test]
fn killed_copies_over_an_oci_image_leave_the_old_or_the_new_image() {
    killed_copies_leave_the_destination_consistent("oci", true);
}

#[test]
fn killed_copies_into_a_new_oci_archive_leave_nothing_or_the_whole_archive() {
    killed_copies_leave_the_destination_consistent("oci-archive", false);
}

#[test]
fn killed_copies_over_an_oci_archive_leave_the_old_or_the_new_archive() {
    killed_copies_leave_the_destination_consistent("oci-archive", true);
}

#[test]
fn killed_copies_into_a_new_docker_archive_leave_nothing_or_the_whole_archive() {
    killed_copies_leave_the_destination_consistent("docker-archive", false);
}

#[test]
fn killed_copies_into_an_empty_docker_archive_file_leave_it_empty_or_the_whole_archive() {
    killed_copies_leave_the_destination_consistent("docker-archive", true);
}

/// The rerun after kills skips the blobs the killed runs completed.
#[test]
fn a_rerun_after_kills_reuses_the_blobs_already_written() {
    let (mut rng, seed) = Rng::from_env_or_clock();
    println!("seed {seed}");
    let s = Scratch::new("interrupted-reuse");
    write_dir_image(&s.join("src"), 3, LAYERS, LAYER_SIZE);
    let src = format!("dir:{}", s.join("src").display());
    let dst = format!("oci:{}:big", s.join("dst").display());
    let tmpdir = s.join("tmp");
    std::fs::create_dir_all(&tmpdir).unwrap();
    let started = Instant::now();
    let timing = format!("oci:{}", s.join("timing").display());
    assert!(
        copy_command(&src, &timing, &tmpdir)
            .status()
            .unwrap()
            .success()
    );
    let full = started.elapsed().as_micros() as u64;
    for _ in 0..3 {
        let mut child = copy_command(&src, &dst, &tmpdir).spawn().unwrap();
        // Late enough that some blobs are likely complete.
        let delay = full / 4 + rng.below(full / 2);
        std::thread::sleep(Duration::from_micros(delay));
        let _ = child.kill();
        let _ = child.wait();
        check(&format!("oci:{}", s.join("dst").display())).expect("consistent after a kill");
    }
    let out = support::ferry(&["copy", "--progress", "none", "--json", &src, &dst]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let copied = report["blobsCopied"].as_u64().unwrap();
    let skipped = report["blobsSkipped"].as_u64().unwrap();
    assert_eq!(copied + skipped, LAYERS as u64 + 1, "{report}");
    match check(&format!("oci:{}", s.join("dst").display())).unwrap() {
        Found::Images { blobs, .. } => assert_eq!(blobs, LAYERS + 2),
        Found::Nothing => panic!("the rerun committed nothing"),
    }
    println!("rerun after interruptions: {copied} blob(s) copied, {skipped} skipped");
}
