//! Applying layers to a containers-storage vfs tree, and rebuilding their
//! streams from tar-split metadata: one behaviour per test. The layers are
//! written here, header by header, because the hostile ones cannot be made
//! by a tar writer that refuses them.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use ferry::transport::storage::layer::{self, LayerError, Whiteouts};
use ferry_core::Digest;

/// One member: name, type, content, link target, mode, owner.
struct Member<'a> {
    name: &'a str,
    typeflag: u8,
    content: &'a [u8],
    link: &'a str,
    mode: u32,
    uid: u32,
}

fn file<'a>(name: &'a str, content: &'a [u8]) -> Member<'a> {
    Member {
        name,
        typeflag: b'0',
        content,
        link: "",
        mode: 0o644,
        uid: 0,
    }
}

fn dir(name: &str) -> Member<'_> {
    Member {
        name,
        typeflag: b'5',
        content: b"",
        link: "",
        mode: 0o755,
        uid: 0,
    }
}

fn link<'a>(name: &'a str, typeflag: u8, target: &'a str) -> Member<'a> {
    Member {
        name,
        typeflag,
        content: b"",
        link: target,
        mode: 0o777,
        uid: 0,
    }
}

fn octal(field: &mut [u8], value: u64) {
    let text = format!("{:0width$o}", value, width = field.len() - 1);
    field[..text.len()].copy_from_slice(text.as_bytes());
}

/// A ustar stream of `members`, its end blocks, and `trailer`.
fn tar(members: &[Member<'_>], trailer: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in members {
        let mut h = [0u8; 512];
        h[..m.name.len()].copy_from_slice(m.name.as_bytes());
        octal(&mut h[100..108], u64::from(m.mode));
        octal(&mut h[108..116], u64::from(m.uid));
        octal(&mut h[116..124], u64::from(m.uid));
        octal(&mut h[124..136], m.content.len() as u64);
        octal(&mut h[136..148], 1_700_000_000);
        h[156] = m.typeflag;
        h[157..157 + m.link.len()].copy_from_slice(m.link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].fill(b' ');
        let sum: u64 = h.iter().map(|b| u64::from(*b)).sum();
        octal(&mut h[148..155], sum);
        h[155] = 0;
        out.extend_from_slice(&h);
        out.extend_from_slice(m.content);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out.extend_from_slice(trailer);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// A scratch directory with `blob` written in it and an empty `tree`.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tree")).unwrap();
        Scratch { dir }
    }

    fn tree(&self) -> std::path::PathBuf {
        self.dir.path().join("tree")
    }

    fn apply(&self, blob: &[u8]) -> Result<layer::Applied, LayerError> {
        let path = self.dir.path().join("blob");
        std::fs::write(&path, blob).unwrap();
        layer::apply(&path, &self.tree(), Whiteouts::Delete)
    }

    /// The stream rebuilt from `applied`'s tar-split and the tree.
    fn rebuilt(&self, applied: &layer::Applied) -> Vec<u8> {
        let path = self.dir.path().join("tar-split.gz");
        std::fs::write(&path, &applied.tar_split).unwrap();
        let mut out = Vec::new();
        layer::assemble(&path, &self.tree(), &mut out).unwrap();
        out
    }
}

#[test]
fn a_layer_rebuilds_to_the_identical_stream_with_its_diff_id() {
    let stream = tar(
        &[
            dir("etc/"),
            file("etc/motd", b"hello\n"),
            link("etc/motd-link", b'1', "etc/motd"),
            link("etc/rel", b'2', "motd"),
            link("etc/abs", b'2', "/etc/motd"),
            file("big", &[7u8; 70_000]),
            file("empty", b""),
        ],
        b"trailing bytes after the end blocks",
    );
    let scratch = Scratch::new();
    let applied = scratch.apply(&gzip(&stream)).unwrap();
    assert_eq!(applied.diff_id, Digest::sha256_of(&stream));
    assert_eq!(applied.diff_size, stream.len() as u64);
    assert_eq!(scratch.rebuilt(&applied), stream);
}

#[test]
fn members_are_written_with_their_modes_owners_and_links() {
    let mut owned = file("owned", b"x");
    owned.uid = 1234;
    owned.mode = 0o4750;
    let scratch = Scratch::new();
    let applied = scratch
        .apply(&tar(
            &[
                owned,
                file("a", b"data"),
                link("hard", b'1', "a"),
                link("soft", b'2', "a"),
            ],
            b"",
        ))
        .unwrap();
    let tree = scratch.tree();
    let meta = std::fs::symlink_metadata(tree.join("owned")).unwrap();
    assert_eq!(
        (meta.uid(), meta.permissions().mode() & 0o7777),
        (1234, 0o4750)
    );
    assert_eq!(
        std::fs::metadata(tree.join("a")).unwrap().ino(),
        std::fs::metadata(tree.join("hard")).unwrap().ino()
    );
    assert_eq!(
        std::fs::read_link(tree.join("soft")).unwrap(),
        Path::new("a")
    );
    assert_eq!(applied.uids, [0, 1234]);
}

#[test]
fn a_whiteout_deletes_what_the_parent_layer_had() {
    let scratch = Scratch::new();
    std::fs::write(scratch.tree().join("gone"), b"old").unwrap();
    std::fs::write(scratch.tree().join("kept"), b"old").unwrap();
    scratch.apply(&tar(&[file(".wh.gone", b"")], b"")).unwrap();
    assert!(!scratch.tree().join("gone").exists());
    assert!(!scratch.tree().join(".wh.gone").exists());
    assert!(scratch.tree().join("kept").exists());
}

#[test]
fn an_opaque_directory_hides_the_parents_entries_but_keeps_its_own() {
    let scratch = Scratch::new();
    std::fs::create_dir(scratch.tree().join("d")).unwrap();
    std::fs::write(scratch.tree().join("d/old"), b"old").unwrap();
    scratch
        .apply(&tar(
            &[
                dir("d/"),
                file("d/new", b"new"),
                file("d/.wh..wh..opq", b""),
            ],
            b"",
        ))
        .unwrap();
    assert!(!scratch.tree().join("d/old").exists());
    assert_eq!(std::fs::read(scratch.tree().join("d/new")).unwrap(), b"new");
}

/// Applies `members` to a tree beside a sentinel file, expecting a
/// refusal that names `member`, and nothing changed outside the tree.
fn refused(members: &[Member<'_>], member: &str) {
    let scratch = Scratch::new();
    let sentinel = scratch.dir.path().join("sentinel");
    std::fs::write(&sentinel, b"untouched").unwrap();
    match scratch.apply(&tar(members, b"")) {
        Err(LayerError::Refused { member: m, .. }) => assert_eq!(m, member),
        other => panic!("expected {member:?} refused, got {other:?}"),
    }
    assert_eq!(std::fs::read(&sentinel).unwrap(), b"untouched");
    let outside: Vec<_> = std::fs::read_dir(scratch.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let mut outside = outside;
    outside.sort();
    assert_eq!(outside, ["blob", "sentinel", "tree"]);
}

#[test]
fn a_parent_component_is_refused() {
    refused(&[file("../sentinel", b"evil")], "../sentinel");
    refused(&[file("a/../../sentinel", b"evil")], "a/../../sentinel");
}

#[test]
fn an_absolute_name_is_refused() {
    refused(&[file("/sentinel", b"evil")], "/sentinel");
}

#[test]
fn a_hard_link_out_of_the_layer_is_refused() {
    refused(&[link("h", b'1', "../sentinel")], "h");
    refused(&[link("h", b'1', "/etc/passwd")], "h");
}

#[test]
fn a_relative_symlink_climbing_out_of_the_layer_is_refused() {
    refused(&[link("s", b'2', "../sentinel")], "s");
}

#[test]
fn a_path_through_a_symlink_is_refused() {
    refused(
        &[link("out", b'2', "/"), file("out/sentinel", b"evil")],
        "out/sentinel",
    );
    refused(&[link("up", b'2', "."), file("up/x", b"evil")], "up/x");
}

#[test]
fn a_negative_size_is_refused() {
    let mut stream = tar(&[file("f", b"")], b"");
    // Base-256, negative.
    stream[124..136].copy_from_slice(&[0xff; 12]);
    stream[148..156].fill(b' ');
    let sum: u64 = stream[..512].iter().map(|b| u64::from(*b)).sum();
    octal(&mut stream[148..155], sum);
    stream[155] = 0;
    let scratch = Scratch::new();
    assert!(matches!(
        scratch.apply(&stream),
        Err(LayerError::Refused { ref member, .. }) if member == "f"
    ));
}

#[test]
fn a_stream_cut_inside_a_member_is_malformed() {
    let stream = tar(&[file("f", &[1u8; 2000])], b"");
    let scratch = Scratch::new();
    assert!(matches!(
        scratch.apply(&stream[..1000]),
        Err(LayerError::Malformed { .. })
    ));
}

#[test]
fn a_name_twice_is_refused_as_tar_split_refuses_it() {
    refused(&[file("f", b"1"), file("./f", b"2")], "./f");
}

#[test]
fn a_zstd_layer_applies_and_rebuilds_to_the_identical_stream() {
    let stream = tar(&[dir("etc/"), file("etc/motd", b"hello\n")], b"");
    let scratch = Scratch::new();
    let applied = scratch
        .apply(&zstd::encode_all(stream.as_slice(), 3).unwrap())
        .unwrap();
    assert_eq!(applied.diff_id, Digest::sha256_of(&stream));
    assert_eq!(scratch.rebuilt(&applied), stream);
    assert_eq!(
        std::fs::read(scratch.tree().join("etc/motd")).unwrap(),
        b"hello\n"
    );
}

#[test]
fn an_xz_layer_is_refused_naming_its_compression() {
    let scratch = Scratch::new();
    let xz_magic = [0xfd, b'7', b'z', b'X', b'Z', 0, 0, 0];
    let e = scratch.apply(&xz_magic).unwrap_err();
    assert!(e.to_string().contains("xz"), "{e}");
}

#[test]
fn a_zstd_layer_expanding_past_the_limit_is_refused_as_a_bomb() {
    // One file of 256 MiB of zeros: a few KiB of zstd.
    let size = 256u64 << 20;
    let mut header = [0u8; 512];
    header[..4].copy_from_slice(b"zero");
    octal(&mut header[100..108], 0o644);
    octal(&mut header[124..136], size);
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].fill(b' ');
    let sum: u64 = header.iter().map(|b| u64::from(*b)).sum();
    octal(&mut header[148..155], sum);
    let mut encoder = zstd::Encoder::new(Vec::new(), 19).unwrap();
    encoder.write_all(&header).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..(size >> 20) + 1 {
        encoder.write_all(&zeros).unwrap();
    }
    let bomb = encoder.finish().unwrap();
    assert!(bomb.len() < 64 << 10, "{} bytes", bomb.len());
    let scratch = Scratch::new();
    let e = scratch.apply(&bomb).unwrap_err();
    assert!(e.to_string().contains("decompression limit"), "{e}");
}

#[test]
fn a_copied_parent_tree_keeps_hard_links_owners_and_modes() {
    let from = tempfile::tempdir().unwrap();
    let root = from.path().join("t");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("a"), b"x").unwrap();
    std::fs::hard_link(root.join("a"), root.join("b")).unwrap();
    std::os::unix::fs::symlink("a", root.join("s")).unwrap();
    std::os::unix::fs::lchown(root.join("a"), Some(42), Some(43)).unwrap();
    std::fs::set_permissions(root.join("a"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let to = from.path().join("copy");
    layer::copy_tree(&root, &to).unwrap();
    let a = std::fs::symlink_metadata(to.join("a")).unwrap();
    assert_eq!((a.uid(), a.gid(), a.mode() & 0o7777), (42, 43, 0o640));
    assert_eq!(a.ino(), std::fs::metadata(to.join("b")).unwrap().ino());
    assert_eq!(std::fs::read_link(to.join("s")).unwrap(), Path::new("a"));
}
