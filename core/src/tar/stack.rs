//! Layers stacked in order, as a container sees them: what a whiteout
//! deletes, what an opaque directory hides, which layer each path comes
//! from, and what each layer adds, changes and deletes.
//!
//! The rules are the OCI image-spec's changesets (`layer.md`, "Applying
//! Changesets" and "Whiteouts"):
//!
//! - a layer's whiteouts and opaque markers act on what the layers *below*
//!   it hold, never on the layer's own members, wherever in the layer they
//!   stand (so a layer is applied in two passes: deletions, then content).
//!   The spec says so ("whiteout files MUST only apply to resources in
//!   lower/parent layers"); containers/storage's plain applier
//!   (`pkg/archive`'s `UnpackLayer`) keeps the layer's own paths from an
//!   opaque marker but lets a plain whiteout remove a path the same layer
//!   put earlier. Layers written as the spec recommends, whiteouts before
//!   their siblings, read the same either way;
//! - a whiteout deletes its path and everything below it;
//! - an opaque marker deletes everything the directory holds;
//! - a later member of a path replaces an earlier one; a member that is
//!   not a directory replaces a whole directory (and what it holds); a
//!   directory over a directory keeps what is in it;
//! - the parents a member's path needs exist: a parent no member names is
//!   a directory *implied* by the layer that needed it.
//!
//! [`Stack`] takes the layers one at a time, so a reader that streams
//! layers (the browser inspector, a native store applying layers) never
//! holds more than the stacked paths. Its input is what [`classify`] and
//! [`normalise`] make of each member's name, plus whether it is a
//! directory: [`Change::of`].
//!
//! [`classify`]: super::classify
//! [`normalise`]: super::normalise

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use super::Entry;

/// What one layer member does when its layer is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    /// Content at `path` (normalised; `""`, the layer's root, changes
    /// nothing). `dir`: whether the member is a directory.
    Put { path: &'a str, dir: bool },
    /// Deletes `target` and what is below it from the layers below.
    Whiteout { target: &'a str },
    /// Deletes what the layers below hold in `dir` (`""`: the root).
    Opaque { dir: &'a str },
    /// Nothing: AUFS metadata, or a member whose name was refused.
    Skip,
}

impl<'a> Change<'a> {
    /// The change of a member that [`classify`](super::classify) read as
    /// `entry`, whose name normalises to `path`.
    pub fn of(entry: &'a Entry, path: &'a str, dir: bool) -> Change<'a> {
        match entry {
            Entry::Ordinary => Change::Put { path, dir },
            Entry::Whiteout { target } => Change::Whiteout { target },
            Entry::Opaque { dir } => Change::Opaque { dir },
            Entry::AufsMeta => Change::Skip,
        }
    }
}

/// Where a stacked path comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// The position of its layer, lowest first.
    pub layer: usize,
    /// The position of its member in that layer; `None` for a directory
    /// no member names, implied by the paths below it.
    pub member: Option<usize>,
    /// Whether it is a directory.
    pub dir: bool,
}

/// What one layer did to the layers below it, each list in path order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerChanges {
    /// Paths the layers below did not have.
    pub added: Vec<String>,
    /// Paths the layers below had, now from this layer.
    pub changed: Vec<String>,
    /// Paths the layers below had, deleted by a whiteout or an opaque
    /// marker (for an opaque marker: each path directly in its directory).
    pub deleted: Vec<String>,
}

/// Layers applied one after another.
#[derive(Debug, Clone, Default)]
pub struct Stack {
    paths: BTreeMap<String, Origin>,
    layers: usize,
}

impl Stack {
    /// An empty filesystem.
    pub fn new() -> Stack {
        Stack::default()
    }

    /// Applies the next layer (its members in archive order) and says what
    /// it did.
    pub fn apply(&mut self, members: &[Change<'_>]) -> LayerChanges {
        let layer = self.layers;
        self.layers += 1;
        let mut changes = LayerChanges::default();
        for member in members {
            match *member {
                Change::Whiteout { target } => {
                    if self.paths.contains_key(target) {
                        self.remove_below(target);
                        self.paths.remove(target);
                        changes.deleted.push(target.into());
                    }
                }
                Change::Opaque { dir } => {
                    let inside: Vec<String> = self
                        .below(dir)
                        .filter(|p| !p[prefix_len(dir)..].contains('/'))
                        .cloned()
                        .collect();
                    self.remove_below(dir);
                    changes.deleted.extend(inside);
                }
                Change::Put { .. } | Change::Skip => {}
            }
        }
        for (position, member) in members.iter().enumerate() {
            let Change::Put { path, dir } = *member else {
                continue;
            };
            if path.is_empty() {
                continue;
            }
            self.imply_parents(path, layer);
            let before = self.paths.get(path).copied();
            if before.is_some_and(|o| o.dir && !dir) {
                self.remove_below(path);
            }
            let origin = Origin {
                layer,
                member: Some(position),
                dir,
            };
            self.paths.insert(path.into(), origin);
            match before {
                // Listed already by an earlier member of this layer.
                Some(o) if o.layer == layer && o.member.is_some() => {}
                Some(o) if o.layer < layer => changes.changed.push(path.into()),
                _ => changes.added.push(path.into()),
            }
        }
        changes.added.sort_unstable();
        changes.changed.sort_unstable();
        changes.deleted.sort_unstable();
        changes
    }

    /// Every path of the stacked filesystem, in path order, with its origin.
    pub fn paths(&self) -> &BTreeMap<String, Origin> {
        &self.paths
    }

    /// How many layers were applied.
    pub fn layers(&self) -> usize {
        self.layers
    }

    /// The paths strictly below `dir` (`""`: every path).
    fn below<'s>(&'s self, dir: &str) -> impl Iterator<Item = &'s String> + 's {
        let prefix = dir_prefix(dir);
        self.paths
            .range::<str, _>((
                core::ops::Bound::Included(prefix.as_str()),
                core::ops::Bound::Unbounded,
            ))
            .map(|(p, _)| p)
            .take_while(move |p| p.starts_with(prefix.as_str()))
    }

    fn remove_below(&mut self, dir: &str) {
        let gone: Vec<String> = self.below(dir).cloned().collect();
        for p in gone {
            self.paths.remove(&p);
        }
    }

    /// Makes the missing parents of `path` directories implied by `layer`.
    fn imply_parents(&mut self, path: &str, layer: usize) {
        for (at, _) in path.match_indices('/') {
            let parent = &path[..at];
            if !self.paths.contains_key(parent) {
                let origin = Origin {
                    layer,
                    member: None,
                    dir: true,
                };
                self.paths.insert(parent.into(), origin);
            }
        }
    }
}

/// `dir/`, or `""` for the root: what every path below `dir` starts with.
fn dir_prefix(dir: &str) -> String {
    let mut prefix = String::with_capacity(dir.len() + 1);
    if !dir.is_empty() {
        prefix.push_str(dir);
        prefix.push('/');
    }
    prefix
}

fn prefix_len(dir: &str) -> usize {
    if dir.is_empty() { 0 } else { dir.len() + 1 }
}
