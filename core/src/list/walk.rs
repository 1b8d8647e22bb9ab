//! Nested lists: an index entry may itself be an index.
//!
//! containers/image cannot copy them (its issue #2076); crane, regclient
//! and oras can, and so does ferry. The core does no I/O, so a [`Tree`] is
//! grown by its caller: [`Tree::new`] takes the top-level list,
//! [`Tree::wanted`] names the nested lists whose bytes it still lacks, and
//! [`Tree::provide`] takes them, verified against their digest before they
//! are trusted. The copy engine fetches what is wanted until nothing is;
//! `planCopy` looks it up in what it was given.
//!
//! Lists are known by digest: a list named twice (by two parents, or twice
//! by one) is read once and written once, so a hostile document naming the
//! same list a thousand times at each level costs one fetch, not 1000⁸.
//! [`Tree::order`] is the order to write them in: children before the
//! lists that name them, the top-level list last.
//!
//! A list cannot name itself, directly or through lists nested in it,
//! without a hash collision, but a source could still claim it does;
//! [`Tree::order`] refuses such a loop, naming the digests around it.
//! Nesting is bounded by [`MAX_NESTING`]: a chain that goes deeper is
//! refused as soon as the list that would go too deep is named, before it
//! is fetched, so a source serving endless chains cannot run the walk away.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use super::List;
use crate::digest::Digest;
use crate::manifest::{Descriptor, ManifestError};
use crate::media_type as mt;

/// How many levels of lists may sit below the top-level list. Real images
/// use one level, sometimes two.
pub const MAX_NESTING: usize = 8;

/// Whether a list entry names another list, which the tree descends into
/// (its entry's media type says so, as for every other entry).
pub fn is_nested(entry: &Descriptor) -> bool {
    mt::is_list(&entry.media_type)
}

/// A nested list the tree needs the bytes of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// Its digest, as the list naming it writes it (already validated).
    pub digest: String,
    /// Its media type, as the list naming it gives it.
    pub media_type: String,
}

/// Why a nested list cannot be taken into the tree, or the tree cannot be
/// walked.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum WalkError {
    /// The bytes given for a nested list do not have its digest.
    DigestMismatch { expected: String, actual: String },
    /// An entry naming a list has an invalid digest.
    InvalidDigest {
        /// The list the entry is in.
        list: String,
        /// The entry's position in it.
        entry: usize,
        digest: String,
    },
    /// A nested list does not parse.
    Parse {
        digest: String,
        error: ManifestError,
    },
    /// Bytes were given for a list the tree did not ask for.
    NotWanted { digest: String },
    /// A list names itself, directly or through lists nested in it: the
    /// digests around the loop, starting and ending with the same one.
    Cycle { chain: Vec<String> },
    /// Lists nested deeper than [`MAX_NESTING`]: the digests from the
    /// top-level list down to the one too deep.
    TooDeep { chain: Vec<String> },
}

impl fmt::Display for WalkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WalkError::DigestMismatch { expected, actual } => write!(
                f,
                "nested list {expected}: the content read has digest {actual}"
            ),
            WalkError::InvalidDigest {
                list,
                entry,
                digest,
            } => write!(
                f,
                "list {list}: /manifests/{entry} names a list by the invalid digest {digest}",
                digest = crate::Quoted(digest)
            ),
            WalkError::Parse { digest, error } => write!(f, "nested list {digest}: {error}"),
            WalkError::NotWanted { digest } => write!(
                f,
                "list {digest} was given, but no list in the tree names it"
            ),
            WalkError::Cycle { chain } => write!(
                f,
                "list {} contains itself ({}); refusing to copy a loop of lists",
                chain.first().map_or("", String::as_str),
                crate::join(chain, " names ")
            ),
            WalkError::TooDeep { chain } => write!(
                f,
                "lists are nested more than {MAX_NESTING} levels deep ({})",
                crate::join(chain, " names ")
            ),
        }
    }
}

impl core::error::Error for WalkError {}

/// One list in the tree.
#[derive(Debug, Clone, PartialEq)]
struct Node {
    digest: String,
    list: List,
    /// The node that first named this one (none for the top-level list),
    /// for the chain in a [`WalkError::TooDeep`].
    parent: Option<usize>,
    /// Levels below the top-level list, along the path it was first met on.
    depth: usize,
}

/// A list and the lists nested in it, as far as their bytes are known.
#[derive(Debug, Clone, PartialEq)]
pub struct Tree {
    /// Node 0 is the top-level list.
    nodes: Vec<Node>,
    /// Lists named but not yet provided, in the order they were met.
    wanted: Vec<Wanted>,
    /// For each of `wanted`, the node that first named it.
    wanted_by: Vec<usize>,
    /// Every digest met, the nodes' and the wanted lists', as keys (the
    /// values are empty). A map, as a hostile top-level list may name tens
    /// of thousands of lists.
    ///
    /// Keys only, and [`Tree::index`] finds nodes by digest, for the
    /// WebAssembly module's size: every key and value type of a `BTreeMap`
    /// is its own copy of the map's code. `BTreeMap<String, String>` (the
    /// annotations') and `BTreeMap<&str, usize>` (planning's) are already
    /// in the module; a `BTreeMap<String, Option<usize>>` here cost 4,469
    /// bytes of it after wasm-opt.
    known: BTreeMap<String, String>,
}

impl Tree {
    /// A tree of the top-level list alone; its nested lists are wanted.
    pub fn new(root: List) -> Result<Self, WalkError> {
        let mut tree = Tree {
            nodes: Vec::new(),
            wanted: Vec::new(),
            wanted_by: Vec::new(),
            known: BTreeMap::new(),
        };
        tree.add(root.digest().as_str().into(), root, None, 0)?;
        Ok(tree)
    }

    /// The nested lists whose bytes the tree still needs, in the order they
    /// were met (breadth first).
    pub fn wanted(&self) -> &[Wanted] {
        &self.wanted
    }

    /// Whether every nested list is known.
    pub fn is_complete(&self) -> bool {
        self.wanted.is_empty()
    }

    /// Takes the bytes of a wanted list. `media_type` is the type the source
    /// reports; when empty, the type the naming entry gives is used.
    pub fn provide(
        &mut self,
        digest: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<(), WalkError> {
        let at = self
            .wanted
            .iter()
            .position(|w| w.digest == digest)
            .ok_or_else(|| WalkError::NotWanted {
                digest: digest.into(),
            })?;
        let parsed = Digest::parse(digest).map_err(|_| WalkError::NotWanted {
            digest: digest.into(),
        })?;
        if !parsed.matches(bytes) {
            return Err(WalkError::DigestMismatch {
                expected: digest.into(),
                actual: Digest::of(parsed.algorithm(), bytes).to_string(),
            });
        }
        let media_type = if media_type.is_empty() {
            self.wanted[at].media_type.as_str()
        } else {
            media_type
        };
        let list = List::from_blob(bytes, media_type).map_err(|error| WalkError::Parse {
            digest: digest.into(),
            error,
        })?;
        self.place(at, digest, list)
    }

    /// Adds `list`, wanted at `at`, one level below the list that named it.
    fn place(&mut self, at: usize, digest: &str, list: List) -> Result<(), WalkError> {
        let parent = self.wanted_by[at];
        let depth = self.nodes[parent].depth + 1;
        self.add(digest.into(), list, Some(parent), depth)?;
        self.wanted.remove(at);
        self.wanted_by.remove(at);
        Ok(())
    }

    /// Adds a node and wants the lists it names that are not known yet.
    /// Checks every entry before changing anything, so a refused list
    /// leaves the tree as it was.
    fn add(
        &mut self,
        digest: String,
        list: List,
        parent: Option<usize>,
        depth: usize,
    ) -> Result<(), WalkError> {
        let new = |entry: &&Descriptor| {
            is_nested(entry)
                && entry.digest_text != digest
                && !self.known.contains_key(&entry.digest_text)
        };
        for (i, entry) in list.entries.iter().enumerate() {
            if is_nested(entry) && entry.digest().is_err() {
                return Err(WalkError::InvalidDigest {
                    list: digest,
                    entry: i,
                    digest: entry.digest_text.clone(),
                });
            }
        }
        if depth + 1 > MAX_NESTING
            && let Some(entry) = list.entries.iter().find(new)
        {
            let mut chain = self.chain_to(parent);
            chain.push(digest);
            chain.push(entry.digest_text.clone());
            return Err(WalkError::TooDeep { chain });
        }
        let index = self.nodes.len();
        let named: Vec<Wanted> = list
            .entries
            .iter()
            .filter(new)
            .map(|entry| Wanted {
                digest: entry.digest_text.clone(),
                media_type: entry.media_type.clone(),
            })
            .collect();
        for wanted in named {
            // A list may name the same new list twice: want it once.
            if self
                .known
                .insert(wanted.digest.clone(), String::new())
                .is_none()
            {
                self.wanted.push(wanted);
                self.wanted_by.push(index);
            }
        }
        self.known.insert(digest.clone(), String::new());
        self.nodes.push(Node {
            digest,
            list,
            parent,
            depth,
        });
        Ok(())
    }

    /// The digests from the top-level list down to `node`.
    fn chain_to(&self, mut node: Option<usize>) -> Vec<String> {
        let mut chain = Vec::new();
        while let Some(n) = node {
            chain.push(self.nodes[n].digest.clone());
            node = self.nodes[n].parent;
        }
        chain.reverse();
        chain
    }

    /// The known lists by digest, built for one walk over the tree (see
    /// `known` for why it is not kept).
    fn index(&self) -> BTreeMap<&str, usize> {
        let mut index = BTreeMap::new();
        for (i, node) in self.nodes.iter().enumerate() {
            index.insert(node.digest.as_str(), i);
        }
        index
    }

    /// The top-level list.
    pub fn root(&self) -> &List {
        &self.nodes[0].list
    }

    /// A known list by digest (the top-level list included).
    pub fn get(&self, digest: &str) -> Option<&List> {
        self.nodes
            .iter()
            .find(|n| n.digest == digest)
            .map(|n| &n.list)
    }

    /// The known lists, each with the digest it is known by (its parent's
    /// spelling; the top-level list's sha256), in the order to write them:
    /// each once, every list
    /// after the lists it names, the top-level list last. Lists not yet
    /// provided are left out. Refuses loops and chains deeper than
    /// [`MAX_NESTING`] along any path (a list met early through a short
    /// path may also sit at the end of a long one).
    pub fn order(&self) -> Result<Vec<(&str, &List)>, WalkError> {
        // Depth-first, with an explicit stack (a long chain must not
        // overflow WebAssembly's small stack). `height` is the longest
        // chain of lists below a finished node.
        const NEW: u8 = 0;
        const OPEN: u8 = 1;
        const DONE: u8 = 2;
        let index = self.index();
        let mut state = alloc::vec![NEW; self.nodes.len()];
        let mut height = alloc::vec![0usize; self.nodes.len()];
        let mut order = Vec::with_capacity(self.nodes.len());
        let mut stack: Vec<(usize, usize)> = alloc::vec![(0, 0)];
        state[0] = OPEN;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let entries = &self.nodes[node].list.entries;
            if let Some(entry) = entries.get(*next) {
                *next += 1;
                if !is_nested(entry) {
                    continue;
                }
                let Some(child) = index.get(entry.digest_text.as_str()).copied() else {
                    continue;
                };
                match state[child] {
                    OPEN => {
                        let from = stack.iter().position(|(n, _)| *n == child).unwrap_or(0);
                        let mut chain: Vec<String> = stack[from..]
                            .iter()
                            .map(|(n, _)| self.nodes[*n].digest.clone())
                            .collect();
                        chain.push(self.nodes[child].digest.clone());
                        return Err(WalkError::Cycle { chain });
                    }
                    DONE => height[node] = height[node].max(height[child] + 1),
                    _ => {
                        state[child] = OPEN;
                        stack.push((child, 0));
                    }
                }
            } else {
                stack.pop();
                state[node] = DONE;
                order.push(node);
                if let Some(&(parent, _)) = stack.last() {
                    height[parent] = height[parent].max(height[node] + 1);
                }
            }
        }
        if height[0] > MAX_NESTING {
            // Follow the longest chain down to name it.
            let mut chain = Vec::new();
            let mut node = 0;
            loop {
                chain.push(self.nodes[node].digest.clone());
                let next = self.nodes[node]
                    .list
                    .entries
                    .iter()
                    .filter(|e| is_nested(e))
                    .filter_map(|e| index.get(e.digest_text.as_str()).copied())
                    .find(|c| height[*c] + 1 == height[node]);
                match next {
                    Some(c) if chain.len() <= MAX_NESTING => node = c,
                    Some(c) => {
                        chain.push(self.nodes[c].digest.clone());
                        break;
                    }
                    None => break,
                }
            }
            return Err(WalkError::TooDeep { chain });
        }
        Ok(order
            .into_iter()
            .map(|n| (self.nodes[n].digest.as_str(), &self.nodes[n].list))
            .collect())
    }

    /// The images (entries that are not lists) under the top-level list,
    /// depth first in document order: a nested list's images take its
    /// entry's place. A list named twice contributes its images once, where
    /// it is first met; lists not yet provided contribute nothing.
    pub fn images(&self) -> Vec<&Descriptor> {
        let index = self.index();
        let mut seen = alloc::vec![false; self.nodes.len()];
        let mut out = Vec::new();
        let mut stack: Vec<(usize, usize)> = alloc::vec![(0, 0)];
        seen[0] = true;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let Some(entry) = self.nodes[node].list.entries.get(*next) else {
                stack.pop();
                continue;
            };
            *next += 1;
            if !is_nested(entry) {
                out.push(entry);
            } else if let Some(child) = index.get(entry.digest_text.as_str()).copied()
                && !seen[child]
            {
                seen[child] = true;
                stack.push((child, 0));
            }
        }
        out
    }
}

#[cfg(test)]
impl Tree {
    /// Adds a list under a digest it does not have, which only a hash
    /// collision makes possible: the one way to build a loop in a test.
    fn provide_unverified(&mut self, digest: &str, list: List) -> Result<(), WalkError> {
        let at = self
            .wanted
            .iter()
            .position(|w| w.digest == digest)
            .expect("wanted");
        self.place(at, digest, list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::vec;

    const INDEX: &str = "application/vnd.oci.image.index.v1+json";
    const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

    fn index(entries: &[(&str, &str)]) -> Vec<u8> {
        let manifests: Vec<String> = entries
            .iter()
            .map(|(media_type, digest)| {
                format!(r#"{{"mediaType":"{media_type}","digest":"{digest}","size":1}}"#)
            })
            .collect();
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{INDEX}","manifests":[{}]}}"#,
            manifests.join(",")
        )
        .into_bytes()
    }

    fn image(tag: &str) -> String {
        Digest::sha256_of(tag.as_bytes()).to_string()
    }

    fn digest(bytes: &[u8]) -> String {
        Digest::sha256_of(bytes).to_string()
    }

    fn list(bytes: &[u8]) -> List {
        List::parse(bytes).unwrap()
    }

    fn tree(top: &[u8]) -> Tree {
        Tree::new(list(top)).unwrap()
    }

    /// The digests of the tree's lists, in the order they are written.
    fn order(tree: &Tree) -> Vec<String> {
        tree.order()
            .unwrap()
            .iter()
            .map(|(d, _)| d.to_string())
            .collect()
    }

    /// The tree of `top` whose nested lists each name one list:
    /// `(digest, names)`, read without checking their digests.
    fn looped(top: &[u8], links: &[(&str, &str)]) -> Tree {
        let mut tree = tree(top);
        for (digest, names) in links {
            tree.provide_unverified(digest, list(&index(&[(INDEX, names)])))
                .unwrap();
        }
        tree
    }

    /// Grows `tree` from `store` until nothing more is wanted.
    fn grow(tree: &mut Tree, store: &[Vec<u8>]) -> Result<(), WalkError> {
        while let Some(w) = tree.wanted().first().cloned() {
            let bytes = store.iter().find(|b| digest(b) == w.digest).unwrap();
            tree.provide(&w.digest, bytes, "")?;
        }
        Ok(())
    }

    #[test]
    fn a_list_without_nested_lists_wants_nothing_and_is_its_own_order() {
        let top = index(&[(MANIFEST, &image("a"))]);
        let tree = tree(&top);
        assert!(tree.is_complete());
        assert_eq!(order(&tree), [digest(&top)]);
    }

    #[test]
    fn children_come_before_the_lists_that_name_them() {
        // top -> [left -> [deep], image, right]
        let deep = index(&[(MANIFEST, &image("d"))]);
        let left = index(&[(INDEX, &digest(&deep)), (MANIFEST, &image("l"))]);
        let right = index(&[(MANIFEST, &image("r"))]);
        let top = index(&[
            (INDEX, &digest(&left)),
            (MANIFEST, &image("t")),
            (INDEX, &digest(&right)),
        ]);
        let mut tree = tree(&top);
        let wanted: Vec<String> = tree.wanted().iter().map(|w| w.digest.clone()).collect();
        assert_eq!(wanted, [digest(&left), digest(&right)]);
        grow(&mut tree, &[deep.clone(), left.clone(), right.clone()]).unwrap();
        assert_eq!(
            order(&tree),
            [digest(&deep), digest(&left), digest(&right), digest(&top)]
        );
    }

    #[test]
    fn images_are_listed_depth_first_in_document_order() {
        let inner = index(&[(MANIFEST, &image("a")), (MANIFEST, &image("b"))]);
        let top = index(&[(INDEX, &digest(&inner)), (MANIFEST, &image("c"))]);
        let mut tree = tree(&top);
        grow(&mut tree, &[inner]).unwrap();
        let images: Vec<&str> = tree
            .images()
            .iter()
            .map(|d| d.digest_text.as_str())
            .collect();
        assert_eq!(images, [image("a"), image("b"), image("c")]);
    }

    #[test]
    fn a_list_named_twice_is_wanted_once_and_written_once() {
        let shared = index(&[(MANIFEST, &image("s"))]);
        let left = index(&[(INDEX, &digest(&shared))]);
        let top = index(&[
            (INDEX, &digest(&left)),
            (INDEX, &digest(&shared)),
            (INDEX, &digest(&shared)),
        ]);
        let mut tree = tree(&top);
        assert_eq!(tree.wanted().len(), 2);
        grow(&mut tree, &[shared.clone(), left.clone()]).unwrap();
        assert_eq!(order(&tree), [digest(&shared), digest(&left), digest(&top)]);
        assert_eq!(tree.images().len(), 1);
    }

    #[test]
    fn bytes_that_do_not_match_the_digest_are_refused() {
        let top = index(&[(INDEX, &image("x"))]);
        let mut tree = tree(&top);
        let err = tree.provide(&image("x"), &index(&[]), "").unwrap_err();
        assert!(matches!(err, WalkError::DigestMismatch { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with(&format!("nested list {}: the content", image("x"))),
            "{err}"
        );
        assert!(!tree.is_complete());
    }

    #[test]
    fn a_list_not_asked_for_is_refused() {
        let top = index(&[(MANIFEST, &image("a"))]);
        let mut tree = tree(&top);
        let other = index(&[]);
        let err = tree.provide(&digest(&other), &other, "").unwrap_err();
        assert!(matches!(err, WalkError::NotWanted { .. }), "{err:?}");
    }

    #[test]
    fn a_list_that_names_itself_is_refused_naming_it() {
        let fake = image("self");
        let top = index(&[(INDEX, &fake)]);
        let tree = looped(&top, &[(&fake, &fake)]);
        let err = tree.order().unwrap_err();
        assert_eq!(
            err,
            WalkError::Cycle {
                chain: vec![fake.clone(), fake.clone()]
            }
        );
        assert_eq!(
            err.to_string(),
            format!(
                "list {fake} contains itself ({fake} names {fake}); refusing to copy a loop of lists"
            )
        );
    }

    #[test]
    fn a_loop_through_nested_lists_is_refused_naming_every_digest() {
        // top -> a -> b -> a
        let (a, b) = (image("a"), image("b"));
        let top = index(&[(INDEX, &a)]);
        let tree = looped(&top, &[(&a, &b), (&b, &a)]);
        assert!(tree.is_complete());
        let err = tree.order().unwrap_err();
        assert_eq!(
            err,
            WalkError::Cycle {
                chain: vec![a.clone(), b.clone(), a.clone()]
            }
        );
    }

    #[test]
    fn a_loop_back_to_the_top_level_list_is_refused() {
        let top_digest_holder = image("b");
        let top = index(&[(INDEX, &top_digest_holder)]);
        let root = digest(&top);
        let tree = looped(&top, &[(&top_digest_holder, &root)]);
        let err = tree.order().unwrap_err();
        assert_eq!(
            err,
            WalkError::Cycle {
                chain: vec![root.clone(), top_digest_holder, root]
            }
        );
    }

    /// A chain of `levels` lists below a top-level list, bottom first.
    fn chain(levels: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
        let mut bytes = index(&[(MANIFEST, &image("bottom"))]);
        let mut store = Vec::new();
        for _ in 0..levels {
            store.push(bytes.clone());
            bytes = index(&[(INDEX, &digest(&bytes))]);
        }
        (bytes, store)
    }

    #[test]
    fn nesting_down_to_the_limit_is_accepted() {
        let (top, store) = chain(MAX_NESTING);
        let mut tree = tree(&top);
        grow(&mut tree, &store).unwrap();
        assert_eq!(tree.order().unwrap().len(), MAX_NESTING + 1);
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_refused_before_the_list_too_deep_is_read() {
        let (top, store) = chain(MAX_NESTING + 1);
        let mut tree = tree(&top);
        let err = grow(&mut tree, &store).unwrap_err();
        let WalkError::TooDeep { chain } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(chain.len(), MAX_NESTING + 2);
        assert_eq!(chain[0], digest(&top));
        assert_eq!(chain[MAX_NESTING + 1], digest(&store[0]));
        assert!(
            err.to_string()
                .starts_with("lists are nested more than 8 levels deep ("),
            "{err}"
        );
    }

    #[test]
    fn a_long_chain_reached_through_a_shortcut_is_still_too_deep() {
        // The top names every list of a chain directly, so each is met one
        // level down; the chain itself is still nine lists long.
        let (_, store) = chain(MAX_NESTING + 1);
        let entries: Vec<String> = store.iter().rev().map(|b| digest(b)).collect();
        let pairs: Vec<(&str, &str)> = entries.iter().map(|d| (INDEX, d.as_str())).collect();
        let top = index(&pairs);
        let mut tree = tree(&top);
        grow(&mut tree, &store).unwrap();
        let err = tree.order().unwrap_err();
        let WalkError::TooDeep { chain } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(chain.len(), MAX_NESTING + 2);
    }

    #[test]
    fn an_invalid_digest_on_a_nested_list_is_refused_naming_the_entry() {
        let top = index(&[(MANIFEST, &image("a")), (INDEX, "sha256:12")]);
        let err = Tree::new(list(&top)).unwrap_err();
        assert_eq!(
            err,
            WalkError::InvalidDigest {
                list: digest(&top),
                entry: 1,
                digest: "sha256:12".into()
            }
        );
    }
}
