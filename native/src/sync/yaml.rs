//! Reading a `--src yaml` file into ferry-core's [`Node`] tree, which
//! keeps each node's line; [`SourceConfig::from_node`] gives it meaning.
//!
//! The reader is bounded before it builds anything large: the file is at
//! most [`MAX_FILE_SIZE`] bytes and the tree at most [`MAX_NODES`] nodes,
//! and aliases are refused (the source format has no use for them, and
//! they are how a small YAML file expands into a huge one).

use std::path::Path;

use ferry_core::sync::config::{
    ConfigError, ConfigErrorKind, MAX_FILE_SIZE, MAX_NODES, Node, SourceConfig,
};
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;

/// Why a source file cannot be used.
#[derive(Debug)]
#[non_exhaustive]
pub enum SourceFileError {
    Io {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
    TooLarge {
        path: std::path::PathBuf,
        size: u64,
    },
    Config {
        path: std::path::PathBuf,
        error: Box<ConfigError>,
    },
}

impl std::fmt::Display for SourceFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceFileError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            SourceFileError::TooLarge { path, size } => write!(
                f,
                "{}: {size} bytes, more than the {MAX_FILE_SIZE} a sync source may have",
                path.display()
            ),
            SourceFileError::Config { path, error } => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl std::error::Error for SourceFileError {}

/// Reads and interprets a sync source file.
pub fn load(path: &Path) -> Result<SourceConfig, SourceFileError> {
    let io = |error| SourceFileError::Io {
        path: path.to_path_buf(),
        error,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_FILE_SIZE {
        return Err(SourceFileError::TooLarge {
            path: path.to_path_buf(),
            size,
        });
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    let config = |error| SourceFileError::Config {
        path: path.to_path_buf(),
        error: Box::new(error),
    };
    let root = parse(&text).map_err(config)?;
    SourceConfig::from_node(&root).map_err(config)
}

/// The first document of `text` as a tree (an empty file is an empty
/// mapping: no registries).
pub fn parse(text: &str) -> Result<Node, ConfigError> {
    let mut parser = Parser::new_from_str(text);
    let mut reader = Reader {
        parser: &mut parser,
        nodes: 0,
    };
    loop {
        let (event, mark) = reader.next()?;
        match event {
            Event::StreamStart | Event::DocumentStart | Event::Nothing => continue,
            Event::StreamEnd | Event::DocumentEnd => {
                return Ok(Node::Mapping {
                    entries: Vec::new(),
                    line: mark,
                });
            }
            event => return reader.node(event, mark, 0),
        }
    }
}

/// Deeper than any source file, and shallow enough for the stack.
const MAX_DEPTH: usize = 64;

struct Reader<'a, 'b> {
    parser: &'a mut Parser<std::str::Chars<'b>>,
    nodes: usize,
}

impl Reader<'_, '_> {
    fn next(&mut self) -> Result<(Event, usize), ConfigError> {
        self.parser
            .next_token()
            .map(|(event, mark)| (event, mark.line()))
            .map_err(|e| ConfigError {
                line: e.marker().line(),
                kind: ConfigErrorKind::Syntax {
                    reason: e.info().to_string(),
                },
            })
    }

    fn node(&mut self, event: Event, line: usize, depth: usize) -> Result<Node, ConfigError> {
        self.nodes += 1;
        let refuse = |kind| Err(ConfigError { line, kind });
        if self.nodes > MAX_NODES {
            return refuse(ConfigErrorKind::TooManyNodes { limit: MAX_NODES });
        }
        if depth > MAX_DEPTH {
            return refuse(ConfigErrorKind::Unsupported {
                what: format!("nesting deeper than {MAX_DEPTH}"),
            });
        }
        match event {
            Event::Scalar(value, style, _, _) => {
                let null = style == TScalarStyle::Plain
                    && matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL");
                Ok(if null {
                    Node::Null { line }
                } else {
                    Node::Scalar { value, line }
                })
            }
            Event::SequenceStart(..) => {
                let mut items = Vec::new();
                loop {
                    let (event, at) = self.next()?;
                    if event == Event::SequenceEnd {
                        return Ok(Node::Sequence { items, line });
                    }
                    items.push(self.node(event, at, depth + 1)?);
                }
            }
            Event::MappingStart(..) => {
                let mut entries = Vec::new();
                loop {
                    let (event, at) = self.next()?;
                    if event == Event::MappingEnd {
                        return Ok(Node::Mapping { entries, line });
                    }
                    let key = self.node(event, at, depth + 1)?;
                    let (event, at) = self.next()?;
                    let value = self.node(event, at, depth + 1)?;
                    entries.push((key, value));
                }
            }
            Event::Alias(_) => refuse(ConfigErrorKind::Unsupported {
                what: "a YAML alias".into(),
            }),
            other => refuse(ConfigErrorKind::Syntax {
                reason: format!("unexpected {other:?}"),
            }),
        }
    }
}
