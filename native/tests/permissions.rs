//! A destination ferry may not write fails with an error naming the path
//! and the cause, and is left as it was. Root bypasses file modes, so the
//! tests deny writes three ways: a read-only mount, the immutable
//! attribute (`chattr +i`), and running ferry as `nobody` (`setpriv`)
//! against root's directories. They need root, as CI has.
//!
//! `docker-archive:` never writes over a non-empty archive (as in
//! containers/image), so where another kind is immutable with a previous
//! image in it, the docker archive is an immutable empty file, as
//! `mktemp` leaves one: ferry stages everything, then cannot put the
//! archive in its place, and must clean up.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{Found, Scratch, Sentinel, Tmpfs, check, snapshot, write_dir_image_uncompressed};

const KINDS: [&str; 4] = ["dir", "oci", "oci-archive", "docker-archive"];

/// Uncompressed layers, which every kind (docker-archive: included)
/// stores as they are.
fn source(s: &Scratch) -> String {
    write_dir_image_uncompressed(&s.join("src"), 20, 2, 64 << 10);
    format!("dir:{}", s.join("src").display())
}

fn previous(s: &Scratch) -> String {
    write_dir_image_uncompressed(&s.join("prev"), 21, 1, 4096);
    format!("dir:{}", s.join("prev").display())
}

fn dest(kind: &str, parent: &Path) -> (PathBuf, String) {
    let path = match kind {
        "oci-archive" | "docker-archive" => parent.join("image.tar"),
        _ => parent.join("image"),
    };
    let reference = format!("{kind}:{}", path.display());
    (path, reference)
}

/// `ferry copy`, as root or (with `as_nobody`) as uid/gid 65534.
fn copy(src: &str, dst: &str, tmpdir: &Path, as_nobody: bool) -> Output {
    let mut command = if as_nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(support::ferry_bin());
        c
    } else {
        Command::new(support::ferry_bin())
    };
    command
        .args(["copy", "--progress", "none", src, dst])
        .env("TMPDIR", tmpdir)
        // Root's blob info cache, which uid 65534 may not read, is not
        // what these tests are about.
        .env("FERRY_BLOB_INFO_CACHE", "off")
        .output()
        .expect("run ferry")
}

/// Asserts a one-line failure that names `path` and says `cause`.
fn assert_refused(out: &Output, what: &str, path: &Path, cause: &str) {
    let err = support::stderr(out);
    assert_eq!(out.status.code(), Some(1), "{what}: {err}");
    assert!(err.contains(cause), "{what}: {err:?} lacks {cause:?}");
    assert_eq!(err.matches(cause).count(), 1, "{what}: cause once: {err}");
    assert!(
        err.contains(&path.display().to_string()),
        "{what}: {err:?} does not name {}",
        path.display()
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{what}: {err}");
    println!("{what}: {}", err.trim_end());
}

/// Copies the previous image to `dst`, which must succeed.
fn copy_previous(s: &Scratch, dst: &str, tmp: &Path) {
    let out = copy(&previous(s), dst, tmp, false);
    assert!(out.status.success(), "{}", support::stderr(&out));
}

/// A destination's place (`dir`) as it was before a copy that must be
/// refused: its files, and what the checker finds at `dst`.
struct Before {
    dir: PathBuf,
    dst: String,
    files: std::collections::BTreeMap<String, String>,
    found: Found,
}

impl Before {
    fn take(dir: &Path, dst: &str) -> Self {
        Before {
            dir: dir.to_path_buf(),
            dst: dst.to_string(),
            files: snapshot(dir),
            found: check(dst).unwrap(),
        }
    }

    /// The refused copy left the place, the sentinel and the staging
    /// directory `tmp` as they were.
    fn assert_kept(&self, what: &str, sentinel: &Sentinel, tmp: &Path) {
        assert_eq!(snapshot(&self.dir), self.files, "{what}");
        assert_eq!(check(&self.dst).unwrap(), self.found, "{what}");
        sentinel.assert_untouched(what);
        assert_eq!(
            std::fs::read_dir(tmp).unwrap().count(),
            0,
            "{what}: staging"
        );
    }
}

/// A scratch TMPDIR anyone may write, so staging is not what fails.
fn open_tmpdir(s: &Scratch) -> PathBuf {
    let tmp = s.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o1777)).unwrap();
    tmp
}

/// Sets the immutable attribute on a path and clears it when dropped.
struct Immutable(PathBuf);

impl Immutable {
    fn set(path: &Path) -> Self {
        let ok = Command::new("chattr")
            .arg("+i")
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "chattr +i {} (needs root)", path.display());
        Immutable(path.to_path_buf())
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

#[test]
fn read_only_file_system_refuses_new_destinations_and_keeps_old_ones() {
    for kind in KINDS {
        for prefill in [false, true] {
            let s = Scratch::new(&format!("ro-{kind}-{prefill}"));
            let src = source(&s);
            let tmp = open_tmpdir(&s);
            let disk = Tmpfs::mount(&s.join("disk"), "4m");
            let sentinel = Sentinel::new(disk.path.join("sentinel"));
            let (_, dst) = dest(kind, &disk.path);
            if prefill {
                copy_previous(&s, &dst, &tmp);
            }
            assert_eq!(check(&dst).unwrap() == Found::Nothing, !prefill);
            disk.set_read_only(true);
            let before = Before::take(&disk.path, &dst);

            let out = copy(&src, &dst, &tmp, false);
            let what = format!("{kind} on a read-only mount (prefilled: {prefill})");
            assert_refused(&out, &what, &disk.path, "Read-only file system");
            before.assert_kept(&what, &sentinel, &tmp);
        }
    }
}

/// An immutable image directory (or archive file) cannot be changed; the
/// copy fails and what the copy wrote elsewhere (blobs of a layout whose
/// root is immutable are written under `blobs/`) is removed again.
#[test]
fn immutable_destinations_are_refused_and_left_as_they_were() {
    for kind in KINDS {
        let s = Scratch::new(&format!("immutable-{kind}"));
        let src = source(&s);
        let tmp = open_tmpdir(&s);
        let parent = s.join("out");
        std::fs::create_dir_all(&parent).unwrap();
        let sentinel = Sentinel::new(s.join("sentinel"));
        let (path, dst) = dest(kind, &parent);
        if kind == "docker-archive" {
            std::fs::write(&path, b"").unwrap();
        } else {
            copy_previous(&s, &dst, &tmp);
        }
        let before = Before::take(&parent, &dst);
        let guard = Immutable::set(&path);

        let out = copy(&src, &dst, &tmp, false);
        let what = format!("{kind} immutable");
        assert_refused(&out, &what, &path, "Operation not permitted");
        drop(guard);
        before.assert_kept(&what, &sentinel, &tmp);
    }
}

/// As `nobody`, a directory owned by root with mode 0755 cannot receive
/// a new destination, nor can root's existing layout be changed.
#[test]
fn an_unprivileged_user_cannot_write_into_roots_directories() {
    for kind in KINDS {
        for prefill in [false, true] {
            let s = Scratch::new(&format!("nobody-{kind}-{prefill}"));
            let src = source(&s);
            let tmp = open_tmpdir(&s);
            let parent = s.join("root-owned");
            std::fs::create_dir_all(&parent).unwrap();
            let sentinel = Sentinel::new(s.join("sentinel"));
            let (path, dst) = dest(kind, &parent);
            if prefill {
                copy_previous(&s, &dst, &tmp);
            }
            let before = Before::take(&parent, &dst);

            let out = copy(&src, &dst, &tmp, true);
            let what = format!("{kind} as nobody (prefilled: {prefill})");
            let named = if prefill && !kind.ends_with("-archive") {
                &path
            } else {
                &parent
            };
            assert_refused(&out, &what, named, "Permission denied");
            before.assert_kept(&what, &sentinel, &tmp);
        }
    }
}

/// A source blob the user may not read fails the copy naming that blob's
/// file, and the new destination is not left behind.
#[test]
fn an_unreadable_source_blob_is_named_and_nothing_is_left_behind() {
    let s = Scratch::new("nobody-source");
    let src = source(&s);
    let tmp = open_tmpdir(&s);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.join("src/manifest.json")).unwrap()).unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    let blob = s.join("src").join(layer.trim_start_matches("sha256:"));
    std::fs::set_permissions(&blob, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let out_dir = s.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::set_permissions(
        &out_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    for kind in KINDS {
        let (_, dst) = dest(kind, &out_dir);
        let out = copy(&src, &dst, &tmp, true);
        assert_refused(
            &out,
            &format!("unreadable source blob into {kind}"),
            &blob,
            "Permission denied",
        );
        assert_eq!(
            std::fs::read_dir(&out_dir).unwrap().count(),
            0,
            "{kind}: nothing left in the destination's directory"
        );
        assert_eq!(
            std::fs::read_dir(&tmp).unwrap().count(),
            0,
            "{kind}: staging"
        );
    }
}
