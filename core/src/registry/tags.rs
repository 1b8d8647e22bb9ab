//! Following a tag list's `Link` pagination, bounded: a registry whose
//! list names a page already read, or never ends, is refused with the
//! reason instead of being followed forever.

use alloc::collections::BTreeSet;
use alloc::string::{String, ToString};
use core::fmt;

/// The most pages one tag list is followed for.
pub const MAX_TAG_PAGES: usize = 10_000;
/// The most tags one list may hold (about 30 MB of names).
pub const MAX_TAGS: usize = 1_000_000;

/// Why a tag list is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TagListError {
    /// A `Link` names a page already read: the list loops.
    Loop { url: String },
    /// More than [`MAX_TAG_PAGES`] pages.
    TooManyPages { limit: usize },
    /// More than [`MAX_TAGS`] tags.
    TooManyTags { limit: usize },
}

impl fmt::Display for TagListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagListError::Loop { url } => {
                write!(
                    f,
                    "the tag list loops: its next page {url} was already read"
                )
            }
            TagListError::TooManyPages { limit } => {
                write!(f, "the tag list does not end: more than {limit} pages")
            }
            TagListError::TooManyTags { limit } => {
                write!(f, "the tag list holds more than {limit} tags")
            }
        }
    }
}

impl core::error::Error for TagListError {}

/// The pages of one tag list, as they are read.
#[derive(Debug, Clone)]
pub struct TagPages {
    visited: BTreeSet<String>,
    tags: usize,
}

impl TagPages {
    /// Starts with the first page's URL.
    pub fn new(first: &str) -> TagPages {
        let mut visited = BTreeSet::new();
        visited.insert(first.to_string());
        TagPages { visited, tags: 0 }
    }

    /// Takes a page holding `tags` tags and its `Link` header; the next
    /// page's URL (relative links resolved against `base`,
    /// `scheme://host`), or `None` at the end.
    pub fn next(
        &mut self,
        tags: usize,
        link: Option<&str>,
        base: &str,
    ) -> Result<Option<String>, TagListError> {
        self.tags += tags;
        if self.tags > MAX_TAGS {
            return Err(TagListError::TooManyTags { limit: MAX_TAGS });
        }
        let Some(target) = link.and_then(super::response::next_page) else {
            return Ok(None);
        };
        let url = super::response::page_url(base, target);
        if self.visited.len() >= MAX_TAG_PAGES {
            return Err(TagListError::TooManyPages {
                limit: MAX_TAG_PAGES,
            });
        }
        if !self.visited.insert(url.clone()) {
            return Err(TagListError::Loop { url });
        }
        Ok(Some(url))
    }
}
