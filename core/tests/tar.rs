//! What tar member names, link targets, magic bytes and whiteouts mean:
//! `ferry_core::tar`, one behaviour per test.

use ferry_core::tar::{
    Compression, Entry, File, Format, Member, MemberError, NameError, Refusal, WhiteoutError,
    checksum_matches, classify, files, normalise, resolve_symlink, sniff,
};

/// A tar written by Python's tarfile (see web/tests/fixtures/tar/make.py).
const WELL_FORMED: &[u8] = include_bytes!("fixtures/tar/well-formed.tar");

fn refusal(name: &str, reason: Refusal) -> MemberError {
    MemberError {
        name: name.into(),
        reason,
    }
}

// --- names ----------------------------------------------------------------

#[test]
fn dot_components_empty_components_and_trailing_slashes_are_dropped() {
    assert_eq!(
        normalise("./blobs//sha256/./x/").as_deref(),
        Ok("blobs/sha256/x")
    );
}

#[test]
fn the_root_normalises_to_the_empty_name() {
    assert_eq!(normalise("./").as_deref(), Ok(""));
    assert_eq!(normalise(".").as_deref(), Ok(""));
}

#[test]
fn an_absolute_name_is_refused_naming_it() {
    let e = normalise("/etc/passwd").unwrap_err();
    assert_eq!(
        e,
        NameError::Absolute {
            name: "/etc/passwd".into()
        }
    );
    assert_eq!(e.to_string(), r#"absolute path "/etc/passwd""#);
}

#[test]
fn a_parent_component_anywhere_is_refused_naming_the_name() {
    for bad in ["../x", "a/../../x", "a/..", "a/../b"] {
        assert_eq!(
            normalise(bad),
            Err(NameError::ParentComponent { name: bad.into() }),
            "{bad}"
        );
    }
    assert_eq!(
        normalise("a/../b").unwrap_err().to_string(),
        r#"path "a/../b" has a '..' component"#
    );
}

#[test]
fn dots_inside_a_component_are_ordinary() {
    assert_eq!(normalise("a/..b/c...").as_deref(), Ok("a/..b/c..."));
}

// --- symbolic links -------------------------------------------------------

#[test]
fn a_symlink_target_is_read_relative_to_the_links_directory() {
    assert_eq!(
        resolve_symlink("a/b/layer.tar", "../c/layer.tar").as_deref(),
        Some("a/c/layer.tar")
    );
    assert_eq!(resolve_symlink("a/layer.tar", "../x").as_deref(), Some("x"));
    assert_eq!(resolve_symlink("link", "./a//b").as_deref(), Some("a/b"));
}

#[test]
fn a_symlink_climbing_above_the_root_leaves_the_archive() {
    assert_eq!(resolve_symlink("a/layer.tar", "../../x"), None);
}

#[test]
fn an_absolute_or_empty_symlink_target_leaves_the_archive() {
    assert_eq!(resolve_symlink("x", "/etc/passwd"), None);
    assert_eq!(resolve_symlink("x", ""), None);
}

// --- compression and format -----------------------------------------------

#[test]
fn compression_is_told_by_magic_bytes() {
    assert_eq!(
        Compression::detect(&[0x1f, 0x8b, 8, 0]),
        Some(Compression::Gzip)
    );
    assert_eq!(
        Compression::detect(&[0x28, 0xb5, 0x2f, 0xfd]),
        Some(Compression::Zstd)
    );
    assert_eq!(
        Compression::detect(b"\xfd7zXZ\x00rest"),
        Some(Compression::Xz)
    );
    assert_eq!(Compression::detect(b"BZh91AY"), Some(Compression::Bzip2));
    assert_eq!(Compression::detect(b"oci-la"), None);
}

#[test]
fn gzip_magic_includes_the_deflate_method_byte_as_containers_image_reads_it() {
    assert_eq!(Compression::detect(&[0x1f, 0x8b]), None);
    assert_eq!(Compression::detect(&[0x1f, 0x8b, 0x07]), None);
}

#[test]
fn compressions_are_named_as_containers_image_names_them() {
    let names = [
        Compression::Gzip,
        Compression::Zstd,
        Compression::Xz,
        Compression::Bzip2,
    ]
    .map(Compression::name);
    assert_eq!(names, ["gzip", "zstd", "xz", "bzip2"]);
}

#[test]
fn a_header_whose_checksum_holds_is_a_tar() {
    assert!(checksum_matches(&WELL_FORMED[..512]));
    assert_eq!(sniff(WELL_FORMED), Format::Tar);
}

#[test]
fn a_header_with_one_byte_changed_is_not_a_tar() {
    let mut block = WELL_FORMED[..512].to_vec();
    block[0] ^= 1;
    assert!(!checksum_matches(&block));
}

#[test]
fn a_tar_whose_first_name_starts_like_bzip2_is_still_a_tar() {
    let mut block = WELL_FORMED[..512].to_vec();
    let old: i64 = block[..3].iter().map(|b| i64::from(*b)).sum();
    block[..3].copy_from_slice(b"BZh");
    // Rewrite the checksum for the new name.
    let new: i64 = b"BZh".iter().map(|b| i64::from(*b)).sum();
    let stored = std::str::from_utf8(&block[148..154]).unwrap();
    let sum = i64::from_str_radix(stored, 8).unwrap() - old + new;
    block[148..154].copy_from_slice(format!("{sum:06o}").as_bytes());
    assert_eq!(sniff(&block), Format::Tar);
}

#[test]
fn data_shorter_than_a_header_is_sniffed_by_magic_bytes_only() {
    assert_eq!(
        sniff(&[0x1f, 0x8b, 8, 0, 0]),
        Format::Compressed(Compression::Gzip)
    );
    assert_eq!(sniff(&WELL_FORMED[..511]), Format::Unknown);
    assert_eq!(sniff(b""), Format::Unknown);
}

#[test]
fn formats_are_named_tar_the_compression_or_nothing() {
    assert_eq!(Format::Tar.name(), "tar");
    assert_eq!(Format::Compressed(Compression::Zstd).name(), "zstd");
    assert_eq!(Format::Unknown.name(), "");
}

// --- the regular files of an image archive ----------------------------------

fn m<'a>(name: &'a str, typeflag: u8, link: &'a str) -> Member<'a> {
    Member {
        name,
        typeflag,
        link,
    }
}

fn file(name: &str) -> Member<'_> {
    m(name, b'0', "")
}

fn found(members: &[Member<'_>]) -> Vec<File> {
    files(members).expect("files")
}

fn pairs(expected: &[(&str, usize)]) -> Vec<File> {
    expected
        .iter()
        .map(|(name, member)| File {
            name: name.to_string(),
            member: *member,
        })
        .collect()
}

#[test]
fn regular_files_come_out_in_archive_order_under_normalised_names() {
    let members = [
        file("./oci-layout"),
        m("blobs/", b'5', ""),
        m("blobs//sha256/x", b'\0', ""),
        m("a-contiguous-file", b'7', ""),
    ];
    assert_eq!(
        found(&members),
        pairs(&[
            ("oci-layout", 0),
            ("blobs/sha256/x", 2),
            ("a-contiguous-file", 3)
        ])
    );
}

#[test]
fn a_pre_posix_name_with_a_trailing_slash_is_a_directory() {
    assert_eq!(found(&[m("blobs/", b'\0', "")]), []);
}

#[test]
fn the_root_may_only_be_a_directory() {
    assert_eq!(found(&[m("./", b'5', "")]), []);
    assert_eq!(
        files(&[m("./", b'5', ""), file(".")]),
        Err(refusal(".", Refusal::Root))
    );
}

#[test]
fn a_name_given_twice_in_any_spelling_is_refused() {
    let e = files(&[file("a"), file("./a")]).unwrap_err();
    assert_eq!(e, refusal("./a", Refusal::Duplicate { name: "a".into() }));
    assert_eq!(
        e.to_string(),
        r#""./a": duplicate entry "a": readers disagree on which copy counts"#
    );
}

#[test]
fn a_member_name_that_escapes_is_refused_naming_the_member() {
    let e = files(&[file("a/../../x")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#""a/../../x": path "a/../../x" has a '..' component"#
    );
}

#[test]
fn the_first_member_in_archive_order_that_breaks_a_rule_is_named() {
    let e = files(&[m("dev/x", b'3', ""), file("/etc/passwd")]).unwrap_err();
    assert_eq!(e, refusal("dev/x", Refusal::Device));
}

#[test]
fn a_hard_link_reads_as_the_earlier_file_it_names() {
    let members = [file("a/data"), m("hard", b'1', "./a/data")];
    assert_eq!(found(&members), pairs(&[("a/data", 0), ("hard", 0)]));
}

#[test]
fn a_hard_link_target_is_relative_to_the_root_not_the_link() {
    let members = [file("x"), m("dir/hard", b'1', "x")];
    assert_eq!(found(&members)[1..], pairs(&[("dir/hard", 0)]));
}

#[test]
fn a_hard_link_out_of_the_archive_is_refused() {
    for target in ["../outside", "/etc/passwd"] {
        let e = files(&[m("link", b'1', target)]).unwrap_err();
        assert_eq!(
            e,
            refusal(
                "link",
                Refusal::HardLinkOutside {
                    target: target.into()
                }
            )
        );
        assert!(e.to_string().ends_with("points outside the archive"), "{e}");
    }
}

#[test]
fn a_hard_link_to_a_later_or_non_regular_member_is_refused() {
    for target in ["later", "dir"] {
        let e = files(&[m("dir", b'5', ""), m("link", b'1', target), file("later")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                r#""link": hard link to "{target}", which is not an earlier regular file in the archive"#
            )
        );
    }
}

#[test]
fn symbolic_links_read_as_the_file_they_lead_to_through_chains() {
    let members = [
        m("b/soft", b'2', "../a/data"),
        m("chain", b'2', "b/soft"),
        file("a/data"),
    ];
    assert_eq!(
        found(&members),
        pairs(&[("b/soft", 2), ("chain", 2), ("a/data", 2)])
    );
}

#[test]
fn links_to_nothing_or_to_directories_are_left_out() {
    let members = [
        m("dir", b'5', ""),
        m("dangling", b'2', "nothing"),
        m("to-dir", b'2', "dir"),
    ];
    assert_eq!(found(&members), []);
}

#[test]
fn a_symbolic_link_out_of_the_archive_is_refused() {
    let e = files(&[m("index.json", b'2', "../../etc/passwd")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#""index.json": symbolic link to "../../etc/passwd" points outside the archive"#
    );
}

#[test]
fn a_symbolic_link_loop_is_refused_naming_a_link_in_it() {
    let e = files(&[m("a", b'2', "b"), m("b", b'2', "a")]).unwrap_err();
    assert_eq!(e, refusal("a", Refusal::LinkLoop));
}

#[test]
fn devices_fifos_and_sparse_files_are_refused() {
    for (typeflag, reason, message) in [
        (
            b'3',
            Refusal::Device,
            "device files have no place in an image archive",
        ),
        (
            b'4',
            Refusal::Device,
            "device files have no place in an image archive",
        ),
        (
            b'6',
            Refusal::Fifo,
            "FIFOs have no place in an image archive",
        ),
        (
            b'S',
            Refusal::Sparse,
            "sparse files are not supported in image archives",
        ),
    ] {
        let e = files(&[m("dev/x", typeflag, "")]).unwrap_err();
        assert_eq!(e.reason, reason);
        assert_eq!(e.to_string(), format!(r#""dev/x": {message}"#));
    }
}

#[test]
fn an_unknown_entry_type_is_refused_naming_it() {
    let e = files(&[m("x", b'X', "")]).unwrap_err();
    assert_eq!(e.to_string(), r#""x": unsupported entry type 'X'"#);
}

// --- whiteouts --------------------------------------------------------------

#[test]
fn an_ordinary_member_is_content() {
    assert_eq!(classify("./usr/bin/sh"), Ok(Entry::Ordinary));
}

#[test]
fn a_whiteout_deletes_the_name_after_its_prefix_in_its_directory() {
    assert_eq!(
        classify("./etc/.wh.passwd"),
        Ok(Entry::Whiteout {
            target: "etc/passwd".into()
        })
    );
    assert_eq!(
        classify(".wh.tmp"),
        Ok(Entry::Whiteout {
            target: "tmp".into()
        })
    );
}

#[test]
fn the_opaque_marker_makes_its_directory_opaque() {
    assert_eq!(
        classify("var/cache/.wh..wh..opq"),
        Ok(Entry::Opaque {
            dir: "var/cache".into()
        })
    );
}

#[test]
fn the_opaque_marker_at_the_root_makes_the_root_opaque() {
    assert_eq!(
        classify("./.wh..wh..opq"),
        Ok(Entry::Opaque { dir: String::new() })
    );
}

#[test]
fn aufs_metadata_at_the_root_is_not_content() {
    assert_eq!(classify(".wh..wh.plnk/123.456"), Ok(Entry::AufsMeta));
    assert_eq!(classify(".wh..wh.aufs"), Ok(Entry::AufsMeta));
}

#[test]
fn a_whiteout_of_nothing_or_of_its_own_directory_is_refused() {
    for name in ["a/.wh.", "a/.wh..", "a/.wh..."] {
        assert_eq!(
            classify(name),
            Err(WhiteoutError::NoTarget { name: name.into() }),
            "{name}"
        );
    }
    assert_eq!(
        classify("a/.wh.").unwrap_err().to_string(),
        r#"whiteout "a/.wh." names no file in its directory"#
    );
}

#[test]
fn a_whiteout_name_that_escapes_is_refused() {
    assert_eq!(
        classify("../.wh.x"),
        Err(WhiteoutError::Name(NameError::ParentComponent {
            name: "../.wh.x".into()
        }))
    );
}
