//! ferry-core's layer stacking behind a C ABI: the page sends each layer's
//! members (what ferry-core's `layerEntries` made of their names), and gets
//! back what each layer changed and, at the end, the stacked paths. This
//! module only encodes and decodes; every rule is
//! [`ferry_core::tar::stack`]'s.
//!
//! One stack per instance (the page instantiates the module for each
//! filesystem it stacks):
//!
//! 1. `stack_input(len) -> ptr`: room for one layer's encoded members;
//! 2. `stack_apply(len) -> n`: applies them as the next layer; the layer's
//!    changes are the `n` bytes at `stack_output()`; [`MALFORMED`] if the
//!    members could not be decoded;
//! 3. `stack_paths() -> n`: the stacked paths, `n` bytes at `stack_output()`.
//!
//! Encodings (integers are u32, little-endian; a string is its byte
//! length, then its UTF-8 bytes):
//!
//! - a member: one tag byte, then a string for every tag but [`SKIP`]:
//!   [`PUT_FILE`] and [`PUT_DIR`] (its path), [`WHITEOUT`] (the path it
//!   deletes), [`OPAQUE`] (the directory);
//! - a layer's changes: three lists (added, changed, deleted), each a count
//!   and that many strings;
//! - the paths: a count, then per path its layer, its member ([`IMPLIED`]
//!   for a directory no member names), a byte 1 for a directory or 0, and
//!   the path.

use std::cell::RefCell;

use ferry_core::tar::stack::{Change, LayerChanges, Stack};

use crate::abi::{Buffers, put_str, put_u32};

/// A member that changes nothing (AUFS metadata, a refused name).
pub const SKIP: u8 = 0;
/// Content that is not a directory.
pub const PUT_FILE: u8 = 1;
/// A directory.
pub const PUT_DIR: u8 = 2;
/// A whiteout.
pub const WHITEOUT: u8 = 3;
/// An opaque directory marker.
pub const OPAQUE: u8 = 4;
/// The member of a directory no member names.
pub const IMPLIED: u32 = u32::MAX;
/// `stack_apply`: the members could not be decoded.
pub const MALFORMED: i32 = -1;

/// Decodes one layer's members; `None` if they are cut short, have an
/// unknown tag or a path that is not UTF-8.
pub fn decode(mut bytes: &[u8]) -> Option<Vec<Change<'_>>> {
    let mut members = Vec::new();
    while let Some((&tag, rest)) = bytes.split_first() {
        bytes = rest;
        if tag == SKIP {
            members.push(Change::Skip);
            continue;
        }
        let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
        let text = std::str::from_utf8(bytes.get(4..4 + len)?).ok()?;
        bytes = &bytes[4 + len..];
        members.push(match tag {
            PUT_FILE => Change::Put {
                path: text,
                dir: false,
            },
            PUT_DIR => Change::Put {
                path: text,
                dir: true,
            },
            WHITEOUT => Change::Whiteout { target: text },
            OPAQUE => Change::Opaque { dir: text },
            _ => return None,
        });
    }
    Some(members)
}

/// Encodes a layer's changes.
pub fn encode_changes(changes: &LayerChanges, out: &mut Vec<u8>) {
    for list in [&changes.added, &changes.changed, &changes.deleted] {
        put_u32(out, list.len() as u32);
        for path in list {
            put_str(out, path);
        }
    }
}

/// Encodes the stacked paths.
pub fn encode_paths(stack: &Stack, out: &mut Vec<u8>) {
    put_u32(out, stack.paths().len() as u32);
    for (path, origin) in stack.paths() {
        put_u32(out, origin.layer as u32);
        put_u32(out, origin.member.map_or(IMPLIED, |m| m as u32));
        out.push(u8::from(origin.dir));
        put_str(out, path);
    }
}

#[derive(Debug, Default)]
struct State {
    stack: Stack,
    io: Buffers,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// Room for `len` bytes of one layer's encoded members.
#[allow(unsafe_code)] // an export name; no unsafe code
#[unsafe(no_mangle)]
pub extern "C" fn stack_input(len: u32) -> *mut u8 {
    STATE.with_borrow_mut(|s| s.io.room(len))
}

/// Applies the first `len` bytes of the input as the next layer: the
/// length of its encoded changes, or [`MALFORMED`].
#[allow(unsafe_code)] // an export name; no unsafe code
#[unsafe(no_mangle)]
pub extern "C" fn stack_apply(len: u32) -> i32 {
    STATE.with_borrow_mut(|s| {
        let State {
            stack,
            io: Buffers { input, output },
        } = s;
        let Some(members) = input.get(..len as usize).and_then(decode) else {
            return MALFORMED;
        };
        let changes = stack.apply(&members);
        output.clear();
        encode_changes(&changes, output);
        output.len() as i32
    })
}

/// Encodes the stacked paths: their length.
#[allow(unsafe_code)] // an export name; no unsafe code
#[unsafe(no_mangle)]
pub extern "C" fn stack_paths() -> i32 {
    STATE.with_borrow_mut(|s| {
        s.io.output.clear();
        encode_paths(&s.stack, &mut s.io.output);
        s.io.output.len() as i32
    })
}

/// Where the last answer is.
#[allow(unsafe_code)] // an export name; no unsafe code
#[unsafe(no_mangle)]
pub extern "C" fn stack_output() -> *const u8 {
    STATE.with_borrow(|s| s.io.output.as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(tag: u8, text: &str) -> Vec<u8> {
        let mut out = vec![tag];
        put_str(&mut out, text);
        out
    }

    #[test]
    fn members_decode_to_the_changes_their_tags_name() {
        let mut bytes = member(PUT_DIR, "etc");
        bytes.extend(member(PUT_FILE, "etc/hostname"));
        bytes.push(SKIP);
        bytes.extend(member(WHITEOUT, "etc/passwd"));
        bytes.extend(member(OPAQUE, "var"));
        assert_eq!(
            decode(&bytes),
            Some(vec![
                Change::Put {
                    path: "etc",
                    dir: true
                },
                Change::Put {
                    path: "etc/hostname",
                    dir: false
                },
                Change::Skip,
                Change::Whiteout {
                    target: "etc/passwd"
                },
                Change::Opaque { dir: "var" },
            ])
        );
    }

    #[test]
    fn members_cut_short_an_unknown_tag_or_a_path_not_utf8_are_malformed() {
        let whole = member(PUT_FILE, "etc/hostname");
        assert_eq!(decode(&whole[..whole.len() - 1]), None);
        assert_eq!(decode(&whole[..3]), None);
        assert_eq!(decode(&member(9, "x")), None);
        assert_eq!(decode(&[PUT_FILE, 1, 0, 0, 0, 0xff]), None);
    }

    #[test]
    fn a_layer_applied_through_the_abi_answers_its_changes_then_the_paths() {
        let mut bytes = member(PUT_FILE, "a/b");
        bytes.extend(member(PUT_DIR, "a"));
        let at = stack_input(bytes.len() as u32);
        STATE.with_borrow_mut(|s| s.io.host_writes(at, &bytes));
        let n = stack_apply(bytes.len() as u32);
        let mut changes = Vec::new();
        encode_changes(
            &LayerChanges {
                added: vec!["a".into(), "a/b".into()],
                ..Default::default()
            },
            &mut changes,
        );
        assert_eq!(n as usize, changes.len());
        STATE.with_borrow(|s| assert_eq!(s.io.output, changes));
        let n = stack_paths();
        let mut paths = Vec::new();
        for (layer, member, dir, path) in [(0, 1, 1, "a"), (0, 0, 0, "a/b")] {
            put_u32(&mut paths, layer);
            put_u32(&mut paths, member);
            paths.push(dir);
            put_str(&mut paths, path);
        }
        STATE.with_borrow(|s| {
            assert_eq!(s.io.output[..4], 2u32.to_le_bytes());
            assert_eq!(s.io.output[4..], paths[..]);
            assert_eq!(n as usize, s.io.output.len());
        });
    }
}
