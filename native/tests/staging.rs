//! Archive copies stage in TMPDIR, in `ferry-staging-*` directories that
//! hold an advisory lock (`flock` on `.lock` inside) for their whole life.
//! A killed copy cannot remove its directory, but the kernel drops its
//! lock; the next archive copy sweeps every ferry staging directory whose
//! lock is free, and nothing else: not one in use, not one of another
//! user, not through a symbolic link, not a name that is not ferry's. A
//! staging directory is born locked (built as `….new`, renamed once its
//! `.lock` is held), and what a kill during its birth leaves goes with the
//! next copy once its process is gone. Two tests kill a copy under strace
//! (installed on the machines here; `apt-get install strace`).
//!
//! Each test gives ferry a TMPDIR of its own, so sweeps stay inside it.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::{
    Found, Scratch, check, copy_command, copy_succeeds, snapshot, staging_dirs,
    write_dir_image_uncompressed,
};

/// Starts a copy of `src` to the archive at `archive` and kills it
/// (SIGKILL) as soon as `seen` finds what it looks for; returns that. The
/// window can be short, and a starved test thread can miss it: a copy that
/// finishes first is not a failure, its archive is removed and the copy
/// started again, up to five times.
fn kill_once_seen<T>(
    src: &str,
    dst: &str,
    archive: &Path,
    tmpdir: &Path,
    seen: impl Fn() -> Option<T>,
) -> T {
    for _ in 0..5 {
        let mut child = copy_command(src, dst, tmpdir).spawn().expect("spawn ferry");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(found) = seen() {
                child.kill().expect("kill ferry");
                if !child.wait().expect("wait for ferry").success() {
                    return found;
                }
                break;
            }
            if let Some(status) = child.try_wait().expect("wait for ferry") {
                assert!(status.success(), "the copy failed ({status})");
                break;
            }
            assert!(Instant::now() < deadline, "nothing to kill appeared");
            std::thread::sleep(Duration::from_millis(1));
        }
        // Finished before the kill: start over.
        std::fs::remove_file(archive).expect("remove the finished archive");
    }
    panic!("five copies of {src} to {dst} finished before they could be killed");
}

/// Kills a copy as soon as its staging directory has begun to fill;
/// returns that directory.
fn kill_while_staging(src: &str, dst: &str, archive: &Path, tmpdir: &Path) -> PathBuf {
    kill_once_seen(src, dst, archive, tmpdir, || {
        staging_dirs(tmpdir)
            .into_iter()
            .find(|d| d.join(".lock").is_file() && d.join("blobs").is_dir())
    })
}

/// A stand-in staging directory: mode 0700, a `.lock` and a payload.
fn fake_staging(path: &Path) -> std::fs::File {
    std::fs::create_dir_all(path.join("blobs/sha256")).unwrap();
    std::fs::write(path.join("blobs/sha256/payload"), b"staged bytes").unwrap();
    set_mode(path, 0o700);
    std::fs::File::create(path.join(".lock")).unwrap()
}

/// The ID of a process that has ended (and been reaped): nothing of it is
/// alive, as nothing is of a copy killed before it locked its files.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().expect("run true");
    child.wait().expect("wait for true");
    child.id()
}

/// Makes `path` (and all below it) another user's: nobody's.
fn give_to_nobody(path: &Path) {
    let chown = Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(path)
        .status()
        .expect("run chown");
    assert!(chown.success(), "chown (needs root)");
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
}

/// Runs a small archive copy in `tmpdir` and checks it worked.
fn another_archive_copy(s: &Scratch, tmpdir: &Path, name: &str) {
    let src = s.join("small");
    if !src.exists() {
        write_dir_image_uncompressed(&src, 31, 1, 4096);
    }
    let dst = format!("oci-archive:{}", s.join(name).display());
    copy_succeeds(&format!("dir:{}", src.display()), &dst, tmpdir);
    assert!(matches!(check(&dst), Ok(Found::Images { .. })), "{dst}");
}

fn killed_copy_leaves_staging_that_the_next_copy_sweeps(kind: &str) {
    let s = Scratch::new(&format!("staging-killed-{kind}"));
    let tmpdir = s.join("tmp");
    std::fs::create_dir_all(&tmpdir).unwrap();
    write_dir_image_uncompressed(&s.join("src"), 30, 4, 3 << 20);
    let src = format!("dir:{}", s.join("src").display());
    let dst = format!("{kind}:{}", s.join("image.tar").display());

    let stale = kill_while_staging(&src, &dst, &s.join("image.tar"), &tmpdir);
    assert!(
        stale.is_dir(),
        "the killed copy's staging directory is gone"
    );
    assert_eq!(staging_dirs(&tmpdir), vec![stale.clone()]);
    assert_eq!(check(&dst), Ok(Found::Nothing), "killed before its commit");
    println!(
        "{kind}: killed with {} left in {}",
        stale.display(),
        tmpdir.display()
    );

    // Another archive copy, to another destination, sweeps it.
    another_archive_copy(&s, &tmpdir, "other.tar");
    assert!(!stale.exists(), "{} was not swept", stale.display());
    assert_eq!(staging_dirs(&tmpdir), Vec::<PathBuf>::new());

    // And the interrupted copy, run again, completes: 4 layers and a
    // config, and for oci-archive the manifest too.
    copy_succeeds(&src, &dst, &tmpdir);
    let blobs = if kind == "oci-archive" { 6 } else { 5 };
    assert_eq!(
        check(&dst).map(|f| matches!(f, Found::Images { blobs: b, .. } if b == blobs)),
        Ok(true),
        "{dst}"
    );
    assert_eq!(std::fs::read_dir(&tmpdir).unwrap().count(), 0);
}

#[test]
fn a_killed_oci_archive_copy_leaves_its_staging_and_the_next_archive_copy_sweeps_it() {
    killed_copy_leaves_staging_that_the_next_copy_sweeps("oci-archive");
}

#[test]
fn a_killed_docker_archive_copy_leaves_its_staging_and_the_next_archive_copy_sweeps_it() {
    killed_copy_leaves_staging_that_the_next_copy_sweeps("docker-archive");
}

/// Runs an archive copy of `src` to `dst` under strace, which kills it
/// (SIGKILL) as it enters its first call of one of `syscalls`: a kill at
/// an exact step, the same on every run. The first `flock` and the first
/// rename of an archive copy are those of its staging directory's birth.
fn killed_on_first(syscalls: &str, src: &str, dst: &str, tmpdir: &Path) {
    use std::os::unix::process::ExitStatusExt;
    let out = Command::new("strace")
        .args(["-f", "-o", "/dev/null", "-e"])
        .arg(format!("trace={syscalls}"))
        .arg("-e")
        .arg(format!("inject={syscalls}:signal=KILL:when=1"))
        .arg("--")
        .arg(support::ferry_bin())
        .args(["copy", "--progress", "none", "--jobs", "1", src, dst])
        .env("TMPDIR", tmpdir)
        .output()
        .expect("run strace (apt-get install strace)");
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGKILL),
        "the copy was not killed at its first {syscalls}: {}",
        support::stderr(&out)
    );
}

/// A copy killed while its staging directory is being born leaves no
/// directory under a staging name (`ferry-staging-<pid>-<random>`) without
/// its `.lock`: the directory is built as `….new` and renamed once its lock
/// is held inside. What the kill left (`….new`, its creator gone) goes
/// with the next archive copy, and nothing stays.
fn killed_while_staging_is_born(syscalls: &str) {
    let s = Scratch::new(&format!("staging-birth-{}", &syscalls[..4]));
    let tmpdir = s.join("tmp");
    std::fs::create_dir_all(&tmpdir).unwrap();
    write_dir_image_uncompressed(&s.join("src"), 34, 1, 4096);
    let src = format!("dir:{}", s.join("src").display());
    let dst = format!("oci-archive:{}", s.join("image.tar").display());

    killed_on_first(syscalls, &src, &dst, &tmpdir);
    let left = staging_dirs(&tmpdir);
    assert_eq!(
        left.len(),
        1,
        "the kill did not cut a birth short: {left:?}"
    );
    for dir in &left {
        let name = dir.file_name().unwrap().to_string_lossy();
        assert!(
            name.ends_with(".new") || dir.join(".lock").is_file(),
            "{} has a staging name and no .lock",
            dir.display()
        );
    }
    assert!(!s.join("image.tar").exists());

    another_archive_copy(&s, &tmpdir, "other.tar");
    assert_eq!(
        std::fs::read_dir(&tmpdir).unwrap().count(),
        0,
        "the next copy left {left:?}"
    );
}

#[test]
fn a_copy_killed_before_its_staging_lock_is_held_leaves_no_staging_name_without_a_lock() {
    killed_while_staging_is_born("flock");
}

#[test]
fn a_copy_killed_before_its_staging_directory_takes_its_name_leaves_no_staging_name_without_a_lock()
{
    killed_while_staging_is_born("rename,renameat,renameat2");
}

/// A removal takes a staging directory's `.lock` last, then the directory:
/// a copy killed between the two, while sweeping a dead copy's directory
/// (or dropping its own), leaves that directory empty under its staging
/// name. The next archive copy removes it. Before it did, such a
/// directory stayed for ever: 5 of 2000 random kills within a copy's first
/// 30 ms left one here, and CI caught it once (`interrupted.rs`).
#[test]
fn a_sweep_killed_between_the_lock_and_the_directory_leaves_what_the_next_sweep_removes() {
    let s = Scratch::new("staging-cut-sweep");
    let tmpdir = s.join("tmp");
    std::fs::create_dir_all(&tmpdir).unwrap();
    let stale = tmpdir.join("ferry-staging-stale");
    drop(fake_staging(&stale));
    write_dir_image_uncompressed(&s.join("src"), 35, 1, 4096);
    let src = format!("dir:{}", s.join("src").display());
    let dst = format!("oci-archive:{}", s.join("image.tar").display());

    // The sweep's `rmdir` of the stale directory is the copy's first.
    killed_on_first("rmdir", &src, &dst, &tmpdir);
    assert_eq!(
        snapshot(&stale),
        BTreeMap::new(),
        "the kill did not land between the lock and the directory"
    );
    assert!(stale.is_dir());

    another_archive_copy(&s, &tmpdir, "other.tar");
    assert_eq!(
        staging_dirs(&tmpdir),
        Vec::<PathBuf>::new(),
        "the next copy left a staging directory"
    );
}

/// A staging directory whose lock is held belongs to a live copy: it
/// stays until the lock is released, then goes with the next sweep.
#[test]
fn a_staging_directory_whose_lock_is_held_is_left_alone_until_released() {
    let s = Scratch::new("staging-held");
    let tmpdir = s.join("tmp");
    std::fs::create_dir_all(&tmpdir).unwrap();
    let live = tmpdir.join("ferry-staging-live");
    let lock = fake_staging(&live);
    lock.lock().expect("hold the lock as a live ferry would");
    let dead = tmpdir.join("ferry-staging-dead");
    drop(fake_staging(&dead));
    let live_before = snapshot(&live);

    another_archive_copy(&s, &tmpdir, "first.tar");
    assert_eq!(
        snapshot(&live),
        live_before,
        "a live staging directory was touched"
    );
    assert!(!dead.exists(), "a dead staging directory was not swept");

    drop(lock);
    another_archive_copy(&s, &tmpdir, "second.tar");
    assert!(!live.exists(), "released, it should have been swept");
    assert_eq!(std::fs::read_dir(&tmpdir).unwrap().count(), 0);
}

/// Only real directories named `ferry-staging-*`, owned by the user,
/// writable by no one else, with a regular, free `.lock` or empty are
/// swept: a link is neither followed nor removed, another user's directory
/// and a world-writable one stay, as do names that are not ferry's, and
/// one under a staging name holding anything but no `.lock`, which ferry
/// never makes. A directory being born (`….new`) goes only if the process
/// named in it is gone and it holds nothing but a `.lock` nobody holds: its
/// creator was killed before it could take its name.
#[test]
fn the_sweep_follows_no_link_and_touches_nothing_that_is_not_a_dead_ferrys() {
    let s = Scratch::new("staging-hostile");
    let tmpdir = s.join("tmp");
    std::fs::create_dir_all(&tmpdir).unwrap();
    // A directory of someone else's, reached only through links.
    let victim = s.join("victim");
    drop(fake_staging(&victim));
    std::os::unix::fs::symlink(&victim, tmpdir.join("ferry-staging-link")).unwrap();
    let through_link = tmpdir.join("ferry-staging-lock-link");
    std::fs::create_dir_all(through_link.join("blobs")).unwrap();
    std::fs::write(through_link.join("blobs/payload"), b"x").unwrap();
    set_mode(&through_link, 0o700);
    std::os::unix::fs::symlink(victim.join(".lock"), through_link.join(".lock")).unwrap();
    // Another user's, and one anyone may write into.
    let nobodys = tmpdir.join("ferry-staging-nobody");
    drop(fake_staging(&nobodys));
    give_to_nobody(&nobodys);
    let open = tmpdir.join("ferry-staging-open");
    drop(fake_staging(&open));
    set_mode(&open, 0o777);
    // Names that are not ferry's staging directories.
    drop(fake_staging(&tmpdir.join("not-ferry-staging")));
    std::fs::write(tmpdir.join("ferry-staging-file"), b"a file").unwrap();
    // A staging name holding something but no `.lock`, of a dead process
    // or not, old or new: not something ferry makes.
    let gone = dead_pid();
    for name in [
        "ferry-staging-young".to_string(),
        format!("ferry-staging-{gone}-bare"),
    ] {
        std::fs::create_dir_all(tmpdir.join(&name).join("blobs")).unwrap();
        set_mode(&tmpdir.join(&name), 0o700);
    }
    let old = tmpdir.join("ferry-staging-old");
    std::fs::create_dir_all(old.join("blobs")).unwrap();
    set_mode(&old, 0o700);
    // Empty without its `.lock`: a removal killed before its last step.
    let removal_cut_short = tmpdir.join("ferry-staging-emptied");
    std::fs::create_dir_all(&removal_cut_short).unwrap();
    set_mode(&removal_cut_short, 0o700);
    let touched = Command::new("touch")
        .args(["-d", "2 hours ago"])
        .arg(&old)
        .status()
        .unwrap();
    assert!(touched.success());
    // Being born to a live process (this one), its `.lock` not held yet:
    // the process lives, so the directory stays.
    let being_born = tmpdir.join(format!("ferry-staging-{}-born.new", std::process::id()));
    std::fs::create_dir_all(&being_born).unwrap();
    std::fs::write(being_born.join(".lock"), b"").unwrap();
    set_mode(&being_born, 0o700);
    // Being born, its `.lock` held: by a ferry in another PID namespace,
    // whose process ID means nothing here. It stays.
    let elsewhere = tmpdir.join(format!("ferry-staging-{gone}-elsewhere.new"));
    std::fs::create_dir_all(&elsewhere).unwrap();
    set_mode(&elsewhere, 0o700);
    let held = std::fs::File::create(elsewhere.join(".lock")).unwrap();
    held.lock().unwrap();
    // Killed while being born: empty, or with its `.lock` free. Its
    // process is gone, so it goes at once.
    let killed_at_mkdir = tmpdir.join(format!("ferry-staging-{gone}-mkdir.new"));
    std::fs::create_dir_all(&killed_at_mkdir).unwrap();
    set_mode(&killed_at_mkdir, 0o700);
    let killed_at_lock = tmpdir.join(format!("ferry-staging-{gone}-lock.new"));
    std::fs::create_dir_all(&killed_at_lock).unwrap();
    std::fs::write(killed_at_lock.join(".lock"), b"").unwrap();
    set_mode(&killed_at_lock, 0o700);
    // Being born, a dead process, but not what a birth cut short leaves:
    // nothing to conclude from, it stays.
    let not_a_birth = tmpdir.join(format!("ferry-staging-{gone}-full.new"));
    std::fs::create_dir_all(not_a_birth.join("blobs")).unwrap();
    std::fs::write(not_a_birth.join("blobs/payload"), b"x").unwrap();
    std::fs::write(not_a_birth.join(".lock"), b"").unwrap();
    set_mode(&not_a_birth, 0o700);

    let victim_before = snapshot(&victim);
    let mut tmp_before = snapshot(&tmpdir);
    tmp_before.retain(|k, _| {
        !k.starts_with(&format!("ferry-staging-{gone}-mkdir.new"))
            && !k.starts_with(&format!("ferry-staging-{gone}-lock.new"))
            && k != "ferry-staging-emptied/"
    });

    another_archive_copy(&s, &tmpdir, "out.tar");

    assert_eq!(snapshot(&victim), victim_before, "the link was followed");
    assert_eq!(
        snapshot(&tmpdir),
        tmp_before,
        "something not a dead ferry's was touched"
    );
    assert!(
        !killed_at_mkdir.exists() && !killed_at_lock.exists(),
        "a directory whose creator was killed while it was being born was not swept"
    );
    assert!(
        !removal_cut_short.exists(),
        "an empty directory a removal left was not swept"
    );
    drop(held);
}

/// ferry's temporary archives beside `path` (`.ferry-tmp-*-<name>`).
fn partial_archives(path: &Path) -> Vec<PathBuf> {
    let name = path.file_name().unwrap().to_str().unwrap().to_string();
    let mut found: Vec<PathBuf> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with(".ferry-tmp-") && n.ends_with(&format!("-{name}"))
        })
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

/// The archive is written beside its final name and renamed into place.
/// A copy killed while writing it leaves that partial archive; the next
/// copy to the same name removes it (its writer's lock is free), and the
/// archive itself was never half-written.
fn killed_while_writing_the_archive(kind: &str) {
    let s = Scratch::new(&format!("staging-partial-{kind}"));
    let tmpdir = s.join("tmp");
    std::fs::create_dir_all(&tmpdir).unwrap();
    write_dir_image_uncompressed(&s.join("src"), 32, 4, 4 << 20);
    let src = format!("dir:{}", s.join("src").display());
    let path = s.join("out/image.tar");
    std::fs::create_dir_all(s.join("out")).unwrap();
    let dst = format!("{kind}:{}", path.display());

    let partial = kill_once_seen(&src, &dst, &path, &tmpdir, || {
        partial_archives(&path).into_iter().next()
    });
    assert!(partial.is_file(), "the partial archive is gone");
    assert!(
        !path.exists(),
        "the archive appeared before it was complete"
    );
    println!(
        "{kind}: killed while writing {} ({} bytes)",
        partial.display(),
        std::fs::metadata(&partial).unwrap().len()
    );

    copy_succeeds(&src, &dst, &tmpdir);
    assert_eq!(partial_archives(&path), Vec::<PathBuf>::new());
    assert!(matches!(check(&dst), Ok(Found::Images { .. })), "{dst}");
    assert_eq!(staging_dirs(&tmpdir), Vec::<PathBuf>::new());
}

#[test]
fn a_partial_oci_archive_left_by_a_kill_is_removed_by_the_next_copy_to_it() {
    killed_while_writing_the_archive("oci-archive");
}

#[test]
fn a_partial_docker_archive_left_by_a_kill_is_removed_by_the_next_copy_to_it() {
    killed_while_writing_the_archive("docker-archive");
}

/// Beside the archive, only ferry's own temporary files for that archive
/// whose lock is free go, and those not locked yet whose process is gone:
/// one being written (locked), one being created by a live process, one
/// for another archive, a link and another user's file stay.
#[test]
fn only_dead_partial_archives_of_the_same_name_are_removed() {
    let s = Scratch::new("staging-partial-others");
    let tmpdir = s.join("tmp");
    std::fs::create_dir_all(&tmpdir).unwrap();
    let out = s.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let dead = out.join(".ferry-tmp-1-0-image.tar");
    std::fs::write(&dead, b"partial").unwrap();
    let live = out.join(".ferry-tmp-2-0-image.tar");
    std::fs::write(&live, b"being written").unwrap();
    let held = std::fs::File::open(&live).unwrap();
    held.lock().unwrap();
    std::fs::write(out.join(".ferry-tmp-3-0-other.tar"), b"another archive's").unwrap();
    std::fs::write(s.join("target"), b"outside").unwrap();
    std::os::unix::fs::symlink(s.join("target"), out.join(".ferry-tmp-4-0-image.tar")).unwrap();
    let nobodys = out.join(".ferry-tmp-5-0-image.tar");
    std::fs::write(&nobodys, b"nobody's").unwrap();
    give_to_nobody(&nobodys);
    std::fs::write(out.join(".ferry-tmp-x-0-image.tar"), b"not ferry's pattern").unwrap();
    // Not locked yet: its creator was killed before it could lock it (its
    // process is gone), or is about to (this process lives).
    let gone = dead_pid();
    let unborn = out.join(format!(".ferry-tmp-{gone}-0-image.tar.new"));
    std::fs::write(&unborn, b"").unwrap();
    std::fs::write(
        out.join(format!(".ferry-tmp-{}-0-image.tar.new", std::process::id())),
        b"",
    )
    .unwrap();
    let mut before = snapshot(&out);
    before.remove(".ferry-tmp-1-0-image.tar");
    before.remove(&format!(".ferry-tmp-{gone}-0-image.tar.new"));
    let outside = snapshot(&s.join("target"));

    write_dir_image_uncompressed(&s.join("small"), 33, 1, 4096);
    let dst = format!("oci-archive:{}", out.join("image.tar").display());
    copy_succeeds(&format!("dir:{}", s.join("small").display()), &dst, &tmpdir);

    assert!(!dead.exists(), "the dead partial archive was not removed");
    assert!(
        !unborn.exists(),
        "the file a killed copy had not locked yet was not removed"
    );
    let mut after = snapshot(&out);
    assert!(after.remove("image.tar").is_some());
    assert_eq!(after, before, "something else beside the archive changed");
    assert_eq!(snapshot(&s.join("target")), outside);
    drop(held);
}

/// A `dir:` image or an OCI layout keeps, after a kill, the temporary
/// files (`.ferry-tmp-<pid>-<n>-<name>`) of the blobs being written. The
/// next copy into it removes those whose process is gone and which no
/// one holds locked, and nothing else: not a live process's, not one
/// locked by another PID namespace's ferry, not a link (nor what it points
/// to), not another user's, not a name that is not ferry's.
fn dead_temporary_files_are_swept_from(kind: &str) {
    let s = Scratch::new(&format!("staging-temp-files-{kind}"));
    let tmpdir = s.join("tmp");
    std::fs::create_dir_all(&tmpdir).unwrap();
    write_dir_image_uncompressed(&s.join("first"), 41, 1, 4096);
    write_dir_image_uncompressed(&s.join("second"), 42, 1, 4096);
    let root = s.join("dst");
    let (first, second, blobs) = match kind {
        "dir" => (
            format!("dir:{}", root.display()),
            format!("dir:{}", root.display()),
            root.clone(),
        ),
        "oci" => (
            format!("oci:{}:first", root.display()),
            format!("oci:{}:second", root.display()),
            root.join("blobs/sha256"),
        ),
        other => panic!("unknown destination kind {other}"),
    };
    copy_succeeds(
        &format!("dir:{}", s.join("first").display()),
        &first,
        &tmpdir,
    );

    let gone = dead_pid();
    let hex = "ab".repeat(32);
    let dead = blobs.join(format!(".ferry-tmp-{gone}-7-{hex}"));
    std::fs::write(&dead, b"the first 90% of a layer").unwrap();
    let dead_index = root.join(format!(".ferry-tmp-{gone}-8-index.json"));
    if kind == "oci" {
        std::fs::write(&dead_index, b"{\"schemaVersion\":").unwrap();
    }
    std::fs::write(
        blobs.join(format!(".ferry-tmp-{}-0-{hex}", std::process::id())),
        b"being written by a live process",
    )
    .unwrap();
    let locked = blobs.join(format!(".ferry-tmp-{gone}-9-{hex}"));
    std::fs::write(&locked, b"written from another PID namespace").unwrap();
    let held = std::fs::File::open(&locked).unwrap();
    held.lock().unwrap();
    std::fs::write(s.join("outside"), b"not ferry's").unwrap();
    std::os::unix::fs::symlink(
        s.join("outside"),
        blobs.join(format!(".ferry-tmp-{gone}-10-{hex}")),
    )
    .unwrap();
    let nobodys = blobs.join(format!(".ferry-tmp-{gone}-11-{hex}"));
    std::fs::write(&nobodys, b"another user's").unwrap();
    give_to_nobody(&nobodys);
    std::fs::write(blobs.join(".ferry-tmp-x-0-y"), b"not ferry's pattern").unwrap();
    let temporary = |snap: BTreeMap<String, String>| -> BTreeMap<String, String> {
        snap.into_iter()
            .filter(|(k, _)| k.contains(".ferry-tmp-"))
            .collect()
    };
    let mut expected = temporary(snapshot(&root));
    let dead_name = |p: &Path| p.strip_prefix(&root).unwrap().display().to_string();
    assert!(expected.remove(&dead_name(&dead)).is_some());
    if kind == "oci" {
        assert!(expected.remove(&dead_name(&dead_index)).is_some());
    }
    let outside = snapshot(&s.join("outside"));

    copy_succeeds(
        &format!("dir:{}", s.join("second").display()),
        &second,
        &tmpdir,
    );

    assert!(!dead.exists(), "{kind}: a dead copy's partial blob stayed");
    assert!(
        !dead_index.exists(),
        "{kind}: a dead copy's partial index.json stayed"
    );
    assert_eq!(
        temporary(snapshot(&root)),
        expected,
        "{kind}: the sweep took a file that was not a dead ferry's"
    );
    assert_eq!(snapshot(&s.join("outside")), outside);
    let whole = format!("{kind}:{}", root.display());
    let found = check(&whole);
    assert!(
        matches!(found, Ok(Found::Images { .. })),
        "{whole}: {found:?}"
    );
    drop(held);
}

#[test]
fn a_dir_image_keeps_no_temporary_file_of_a_dead_copy_after_the_next_copy() {
    dead_temporary_files_are_swept_from("dir");
}

#[test]
fn an_oci_layout_keeps_no_temporary_file_of_a_dead_copy_after_the_next_copy() {
    dead_temporary_files_are_swept_from("oci");
}

/// A copy that compresses a layer stages it in a scratch file in TMPDIR
/// (`.ferry-tmp-<pid>-<n>-layer`); killed, it leaves that behind. The next
/// scratch file's creation removes it, and only it.
#[test]
fn a_dead_copys_scratch_layer_goes_with_the_next_scratch_layer() {
    let s = Scratch::new("staging-scratch-layer");
    let tmpdir = s.join("tmp");
    std::fs::create_dir_all(&tmpdir).unwrap();
    let gone = dead_pid();
    let dead = tmpdir.join(format!(".ferry-tmp-{gone}-0-layer"));
    std::fs::write(&dead, b"half a compressed layer").unwrap();
    let live = tmpdir.join(format!(".ferry-tmp-{}-0-layer", std::process::id()));
    std::fs::write(&live, b"a live process's layer").unwrap();
    let nobodys = tmpdir.join(format!(".ferry-tmp-{gone}-1-layer"));
    std::fs::write(&nobodys, b"another user's").unwrap();
    give_to_nobody(&nobodys);

    write_dir_image_uncompressed(&s.join("src"), 43, 1, 4096);
    let dst = format!("oci:{}:x", s.join("dst").display());
    copy_succeeds(&format!("dir:{}", s.join("src").display()), &dst, &tmpdir);

    assert!(!dead.exists(), "the dead copy's scratch layer stayed");
    assert!(live.exists() && nobodys.exists(), "the sweep took too much");
    let mut left: Vec<String> = std::fs::read_dir(&tmpdir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left.len(), 2, "{left:?}");
}
