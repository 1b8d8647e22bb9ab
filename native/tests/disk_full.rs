//! A copy that runs out of space fails with an error naming the path and
//! "No space left on device", and leaves the destination exactly as it
//! was: empty, or the previous image intact. Space is made short with a
//! small tmpfs (these tests need root, as CI has).
//!
//! `docker-archive:` never writes over a non-empty archive (as in
//! containers/image), so its "previous image" is an archive beside the
//! destination, and the destination an empty file as `mktemp` leaves one:
//! that file must stay empty, not vanish or fill halfway.

mod support;

use std::path::Path;

use support::{
    Found, Scratch, Sentinel, Tmpfs, check, one_test_per_row, snapshot, write_dir_image,
    write_dir_image_uncompressed,
};

/// 3 layers of 512 KiB: more than the 1 MiB tmpfs holds. For
/// `docker-archive:`, which stores layers uncompressed, the layers are.
fn big_source(s: &Scratch, kind: &str) -> String {
    if kind == "docker-archive" {
        write_dir_image_uncompressed(&s.join("src"), 10, 3, 512 << 10);
    } else {
        write_dir_image(&s.join("src"), 10, 3, 512 << 10);
    }
    format!("dir:{}", s.join("src").display())
}

/// A small image that fits, to be the "previous image".
fn small_source(s: &Scratch, kind: &str) -> String {
    if kind == "docker-archive" {
        write_dir_image_uncompressed(&s.join("small"), 11, 1, 4096);
    } else {
        write_dir_image(&s.join("small"), 11, 1, 4096);
    }
    format!("dir:{}", s.join("small").display())
}

/// Runs a copy expected to fail for lack of space, and checks the message
/// names `path_in_message` and the cause.
fn copy_fails_for_space(src: &str, dst: &str, tmpdir: &Path, path_in_message: &Path) -> String {
    let out = std::process::Command::new(support::ferry_bin())
        .args(["copy", "--progress", "none", src, dst])
        .env("TMPDIR", tmpdir)
        .output()
        .expect("run ferry");
    let err = support::stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{dst}: {err}");
    assert_eq!(
        err.matches("No space left on device").count(),
        1,
        "{dst}: the cause, once: {err}"
    );
    assert!(
        err.contains(&path_in_message.display().to_string()),
        "{dst}: the error does not name {}: {err}",
        path_in_message.display()
    );
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn copy_succeeds(src: &str, dst: &str, tmpdir: &Path) {
    let out = std::process::Command::new(support::ferry_bin())
        .args(["copy", "--progress", "none", src, dst])
        .env("TMPDIR", tmpdir)
        .output()
        .expect("run ferry");
    assert!(out.status.success(), "{dst}: {}", support::stderr(&out));
}

/// The shared shape: a tmpfs with a sentinel directory, optionally a
/// previous image in the destination, a copy that runs out of space, and
/// afterwards the whole tmpfs byte for byte as before.
fn full_disk_leaves_destination_as_it_was(test: &str, kind: &str, prefill: bool) {
    let s = Scratch::new(test);
    let tmpdir = s.join("tmp");
    std::fs::create_dir_all(&tmpdir).unwrap();
    let big = big_source(&s, kind);
    let small = small_source(&s, kind);
    let disk = Tmpfs::mount(&s.join("disk"), "1m");
    let sentinel = Sentinel::new(disk.path.join("sentinel"));
    let dest_path = match kind {
        "oci-archive" | "docker-archive" => disk.path.join("image.tar"),
        _ => disk.path.join("image"),
    };
    let dst = format!("{kind}:{}", dest_path.display());
    if prefill && kind == "docker-archive" {
        let previous = format!("{kind}:{}", disk.path.join("previous.tar").display());
        copy_succeeds(&small, &previous, &tmpdir);
        check(&previous).expect("the previous archive is valid");
        std::fs::write(&dest_path, b"").unwrap();
    } else if prefill {
        copy_succeeds(&small, &dst, &tmpdir);
    }
    let before = snapshot(&disk.path);
    let found_before = check(&dst).expect("valid before");

    let err = copy_fails_for_space(&big, &dst, &tmpdir, &disk.path);
    println!("{kind} (prefilled: {prefill}): {err}");

    assert_eq!(
        snapshot(&disk.path),
        before,
        "{kind}: the disk is not as it was"
    );
    assert_eq!(check(&dst).expect("valid after"), found_before);
    sentinel.assert_untouched(kind);
    assert_eq!(
        std::fs::read_dir(&tmpdir).unwrap().count(),
        0,
        "no staging left in TMPDIR"
    );
    if kind == "docker-archive" {
        // The file is still one ferry writes into: an image that fits goes in.
        copy_succeeds(&small, &dst, &tmpdir);
        assert!(matches!(check(&dst), Ok(Found::Images { .. })), "{dst}");
    }
}

one_test_per_row! {
    full_disk_leaves_destination_as_it_was:
    dir_on_a_full_disk_fails_and_leaves_nothing("full-dir-empty", "dir", false);
    dir_on_a_full_disk_keeps_the_previous_image("full-dir-prev", "dir", true);
    oci_on_a_full_disk_fails_and_leaves_nothing("full-oci-empty", "oci", false);
    oci_on_a_full_disk_keeps_the_previous_image("full-oci-prev", "oci", true);
    oci_archive_on_a_full_disk_fails_and_leaves_nothing("full-ociar-empty", "oci-archive", false);
    oci_archive_on_a_full_disk_keeps_the_previous_archive("full-ociar-prev", "oci-archive", true);
    docker_archive_on_a_full_disk_fails_and_leaves_nothing("full-dockerar-empty", "docker-archive", false);
    docker_archive_on_a_full_disk_keeps_the_empty_file_and_the_archive_beside_it("full-dockerar-prev", "docker-archive", true);
}

/// Archive destinations stage in TMPDIR; when that is what fills up, the
/// error names TMPDIR, the staging goes, and the archive is untouched.
fn full_temporary_directory_fails_and_cleans_up(test: &str, kind: &str) {
    let s = Scratch::new(test);
    let big = big_source(&s, kind);
    let small = small_source(&s, kind);
    let dest_path = s.join("out/image.tar");
    std::fs::create_dir_all(s.join("out")).unwrap();
    let dst = format!("{kind}:{}", dest_path.display());
    if kind == "docker-archive" {
        // Never written over: the previous archive is beside it.
        copy_succeeds(
            &small,
            &format!("{kind}:{}", s.join("out/previous.tar").display()),
            &s.0,
        );
    } else {
        copy_succeeds(&small, &dst, &s.0);
    }
    let before = snapshot(&s.join("out"));
    let found_before = check(&dst).unwrap();

    let tmp = Tmpfs::mount(&s.join("tmp"), "1m");
    let err = copy_fails_for_space(&big, &dst, &tmp.path, &tmp.path);
    println!("{err}");
    assert_eq!(snapshot(&s.join("out")), before, "the archive is untouched");
    assert_eq!(check(&dst).unwrap(), found_before);
    assert_eq!(
        std::fs::read_dir(&tmp.path).unwrap().count(),
        0,
        "the staging directory was removed"
    );
}

one_test_per_row! {
    full_temporary_directory_fails_and_cleans_up:
    oci_archive_with_a_full_temporary_directory_fails_and_cleans_up("full-ociar-tmpdir", "oci-archive");
    docker_archive_with_a_full_temporary_directory_fails_and_cleans_up("full-dockerar-tmpdir", "docker-archive");
}

/// A gzip-compressed archive is decompressed into TMPDIR before reading;
/// when that fills up the copy fails naming TMPDIR and removes the
/// partial file.
#[test]
fn decompressing_a_source_archive_into_a_full_temporary_directory_fails_and_cleans_up() {
    let s = Scratch::new("full-gunzip");
    let big = big_source(&s, "oci-archive");
    let archive = s.join("image.tar");
    copy_succeeds(&big, &format!("oci-archive:{}", archive.display()), &s.0);
    let gz = s.join("image.tar.gz");
    let status = std::process::Command::new("gzip")
        .args(["-k", "-1"])
        .arg(&archive)
        .status()
        .unwrap();
    assert!(status.success());
    assert!(gz.exists());

    let tmp = Tmpfs::mount(&s.join("tmp"), "1m");
    let out_dir = s.join("out");
    let err = copy_fails_for_space(
        &format!("oci-archive:{}", gz.display()),
        &format!("oci:{}", out_dir.display()),
        &tmp.path,
        &tmp.path,
    );
    println!("{err}");
    assert_eq!(
        std::fs::read_dir(&tmp.path).unwrap().count(),
        0,
        "the partial decompressed copy was removed"
    );
    assert!(!out_dir.exists(), "nothing was created at the destination");
}
