//! A JSON document model that reads manifests the way registries do.
//!
//! Registries and containers/image are written in Go, and a manifest means
//! whatever Go's `encoding/json` makes of it. serde_json makes different
//! choices (it rejects invalid UTF-8, drops all but one duplicate key and
//! matches keys exactly), so ferry reads manifests with this small parser
//! instead and keeps every member in document order. On top of that tree,
//! [`Object::field`] applies Go's rules (keys match case-insensitively, the
//! last match wins) and [`Value`]'s accessors apply Go's type rules (an
//! `int64` is an integer literal in range; `null` leaves a field unset).
//! [`crate::validate`] uses the same tree to point out duplicate and
//! case-variant keys, which Go and other parsers read differently.
//!
//! The parser is iterative, so hostile nesting cannot overflow the stack;
//! depth is still capped at [`MAX_DEPTH`] because every later walk over the
//! tree (and dropping it) is recursive. Manifests nest about six levels.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

/// Deepest nesting of arrays and objects accepted. Go allows 10,000; nothing
/// a registry stores comes near 100, and a lower cap keeps every recursive
/// walk safe on WebAssembly's small stack.
pub const MAX_DEPTH: usize = 1000;

/// A parsed JSON value. Objects keep all members, duplicates included, in
/// document order; numbers keep their literal text.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Value>),
    Object(Object),
}

/// A number as written in the document, so that re-serialization keeps it
/// and conversion to an integer can apply Go's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number(String);

/// An object's members in document order, duplicates included.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Object {
    pub members: Vec<Member>,
}

/// One `"key": value` pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub key: String,
    pub value: Value,
}

/// Why a document is not JSON, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset of the problem.
    pub offset: usize,
    pub kind: SyntaxErrorKind,
}

/// What kind of syntax problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyntaxErrorKind {
    /// The input ended inside a value (or was empty).
    UnexpectedEnd,
    /// A byte that cannot appear here; `context` says what was expected.
    InvalidCharacter { found: char, context: &'static str },
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            SyntaxErrorKind::UnexpectedEnd => {
                write!(f, "unexpected end of JSON input at byte {}", self.offset)
            }
            SyntaxErrorKind::InvalidCharacter { found, context } => write!(
                f,
                "invalid character {} {context} at byte {}",
                quote_char(*found),
                self.offset
            ),
            SyntaxErrorKind::TooDeep => write!(
                f,
                "JSON nested deeper than {MAX_DEPTH} levels at byte {}",
                self.offset
            ),
        }
    }
}

impl core::error::Error for SyntaxError {}

fn quote_char(c: char) -> String {
    match c {
        '\'' => "'\\''".to_string(),
        '"' => "'\"'".to_string(),
        c if (c as u32) < 0x20 || c == '\u{7f}' => alloc::format!("'\\x{:02x}'", c as u32),
        c => alloc::format!("'{c}'"),
    }
}

/// Parses one JSON document (surrounding whitespace allowed, nothing else).
pub fn parse(input: &[u8]) -> Result<Value, SyntaxError> {
    Parser {
        input,
        pos: 0,
        depth: 0,
    }
    .document()
}

/// A member's key and the byte range of its value.
pub type MemberSpan = (String, core::ops::Range<usize>);

/// The members of a top-level object with the byte range of each value in
/// `input`, for code that must reuse values byte for byte (Go's
/// `map[string]json.RawMessage`). Returns `None` for `null`.
pub fn object_member_spans(input: &[u8]) -> Result<Option<Vec<MemberSpan>>, SyntaxError> {
    // The top-level object is one level of nesting: its values may nest one
    // level less than a document, or this would accept documents that
    // `parse` refuses as too deep.
    let mut p = Parser {
        input,
        pos: 0,
        depth: 1,
    };
    p.skip_ws();
    match p.input.get(p.pos) {
        Some(b'n') => {
            p.literal(b"null", Value::Null)?;
            p.skip_ws();
            if p.pos < input.len() {
                return Err(p.invalid("after top-level value"));
            }
            return Ok(None);
        }
        Some(b'{') => p.pos += 1,
        _ => {
            // Not an object: report the error a full parse reports.
            parse(input)?;
            return Err(SyntaxError {
                offset: 0,
                kind: SyntaxErrorKind::InvalidCharacter {
                    found: char::from(input[p.pos]),
                    context: "looking for beginning of object",
                },
            });
        }
    }
    let mut members = Vec::new();
    p.skip_ws();
    if p.input.get(p.pos) == Some(&b'}') {
        p.pos += 1;
    } else {
        loop {
            p.skip_ws();
            let key = p.key("looking for beginning of object key string")?;
            p.skip_ws();
            let start = p.pos;
            p.value()?;
            members.push((key, start..p.pos));
            p.skip_ws();
            match p.input.get(p.pos) {
                Some(b',') => p.pos += 1,
                Some(b'}') => {
                    p.pos += 1;
                    break;
                }
                _ => return Err(p.invalid("after object key:value pair")),
            }
        }
    }
    p.skip_ws();
    if p.pos < input.len() {
        return Err(p.invalid("after top-level value"));
    }
    Ok(Some(members))
}

/// Go's `json.Compact` with HTML escaping, as `json.Marshal` applies to a
/// `json.RawMessage`: drops insignificant whitespace and escapes `<`, `>`,
/// `&`, U+2028 and U+2029 inside strings; every other byte stays as it is.
/// `input` must be valid JSON.
pub fn compact_raw(input: &[u8], out: &mut Vec<u8>) {
    let mut in_string = false;
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if in_string {
            match b {
                b'\\' => {
                    out.extend_from_slice(&input[i..(i + 2).min(input.len())]);
                    i += 2;
                    continue;
                }
                b'"' => in_string = false,
                b'<' | b'>' | b'&' => {
                    out.extend_from_slice(b"\\u00");
                    out.push(b"0123456789abcdef"[usize::from(b >> 4)]);
                    out.push(b"0123456789abcdef"[usize::from(b & 0xf)]);
                    i += 1;
                    continue;
                }
                0xe2 if input.get(i + 1) == Some(&0x80)
                    && matches!(input.get(i + 2), Some(0xa8 | 0xa9)) =>
                {
                    out.extend_from_slice(if input[i + 2] == 0xa8 {
                        b"\\u2028"
                    } else {
                        b"\\u2029"
                    });
                    i += 3;
                    continue;
                }
                _ => {}
            }
            out.push(b);
        } else {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' => {}
                b'"' => {
                    in_string = true;
                    out.push(b);
                }
                _ => out.push(b),
            }
        }
        i += 1;
    }
}

enum Frame {
    Array(Vec<Value>),
    Object(Vec<Member>, String),
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    /// Containers already open around the value being parsed, which count
    /// towards [`MAX_DEPTH`].
    depth: usize,
}

impl Parser<'_> {
    fn err(&self, kind: SyntaxErrorKind) -> SyntaxError {
        SyntaxError {
            offset: self.pos,
            kind,
        }
    }

    fn invalid(&self, context: &'static str) -> SyntaxError {
        match self.peek_char() {
            None => self.err(SyntaxErrorKind::UnexpectedEnd),
            Some(found) => self.err(SyntaxErrorKind::InvalidCharacter { found, context }),
        }
    }

    /// The character at the cursor as Go reports it: a byte that does not
    /// start valid UTF-8 is shown as that byte's Latin-1 character.
    fn peek_char(&self) -> Option<char> {
        let rest = self.input.get(self.pos..)?;
        let first = *rest.first()?;
        if first < 0x80 {
            return Some(first as char);
        }
        match decode_utf8(rest) {
            Some((c, _)) => Some(c),
            None => Some(char::from(first)),
        }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.input.get(self.pos) {
            self.pos += 1;
        }
    }

    fn document(mut self) -> Result<Value, SyntaxError> {
        self.skip_ws();
        let value = self.value()?;
        self.skip_ws();
        if self.pos < self.input.len() {
            return Err(self.invalid("after top-level value"));
        }
        Ok(value)
    }

    /// Steps over a container's opening bracket and the whitespace after
    /// it: `true` if `close` follows at once (the empty container, stepped
    /// over too), `false` if members follow and `open` more containers
    /// (and this one) are still within [`MAX_DEPTH`].
    fn open(&mut self, close: u8, open: usize) -> Result<bool, SyntaxError> {
        self.pos += 1;
        self.skip_ws();
        if self.input.get(self.pos) == Some(&close) {
            self.pos += 1;
            return Ok(true);
        }
        if self.depth + open >= MAX_DEPTH {
            return Err(self.err(SyntaxErrorKind::TooDeep));
        }
        Ok(false)
    }

    /// Parses one value starting at the cursor (no leading whitespace) and
    /// leaves the cursor just after it.
    fn value(&mut self) -> Result<Value, SyntaxError> {
        let mut stack: Vec<Frame> = Vec::new();
        'value: loop {
            // Expecting the start of a value.
            let mut value = match self.input.get(self.pos) {
                None => return Err(self.err(SyntaxErrorKind::UnexpectedEnd)),
                Some(b'{') => {
                    if self.open(b'}', stack.len())? {
                        Value::Object(Object::default())
                    } else {
                        let key = self.key("looking for beginning of object key string")?;
                        stack.push(Frame::Object(Vec::new(), key));
                        self.skip_ws();
                        continue 'value;
                    }
                }
                Some(b'[') => {
                    if self.open(b']', stack.len())? {
                        Value::Array(Vec::new())
                    } else {
                        stack.push(Frame::Array(Vec::new()));
                        continue 'value;
                    }
                }
                Some(b'"') => Value::String(self.string()?),
                Some(b't') => self.literal(b"true", Value::Bool(true))?,
                Some(b'f') => self.literal(b"false", Value::Bool(false))?,
                Some(b'n') => self.literal(b"null", Value::Null)?,
                Some(b'-' | b'0'..=b'9') => Value::Number(self.number()?),
                Some(_) => return Err(self.invalid("looking for beginning of value")),
            };
            // A value is complete: attach it to its parent, closing as many
            // containers as end here.
            loop {
                if stack.is_empty() {
                    return Ok(value);
                }
                self.skip_ws();
                match stack.last_mut() {
                    None => return Ok(value),
                    Some(Frame::Array(items)) => {
                        items.push(value);
                        match self.input.get(self.pos) {
                            Some(b',') => {
                                self.pos += 1;
                                self.skip_ws();
                                continue 'value;
                            }
                            Some(b']') => {
                                self.pos += 1;
                                let Some(Frame::Array(items)) = stack.pop() else {
                                    unreachable!("top frame is an array")
                                };
                                value = Value::Array(items);
                            }
                            _ => return Err(self.invalid("after array element")),
                        }
                    }
                    Some(Frame::Object(members, key)) => {
                        members.push(Member {
                            key: core::mem::take(key),
                            value,
                        });
                        match self.input.get(self.pos) {
                            Some(b',') => {
                                self.pos += 1;
                                self.skip_ws();
                                *key = self.key("looking for beginning of object key string")?;
                                self.skip_ws();
                                continue 'value;
                            }
                            Some(b'}') => {
                                self.pos += 1;
                                let Some(Frame::Object(members, _)) = stack.pop() else {
                                    unreachable!("top frame is an object")
                                };
                                value = Value::Object(Object { members });
                            }
                            _ => return Err(self.invalid("after object key:value pair")),
                        }
                    }
                }
            }
        }
    }

    /// Reads `"key"` and the following `:`.
    fn key(&mut self, context: &'static str) -> Result<String, SyntaxError> {
        if self.input.get(self.pos) != Some(&b'"') {
            return Err(self.invalid(context));
        }
        let key = self.string()?;
        self.skip_ws();
        if self.input.get(self.pos) != Some(&b':') {
            return Err(self.invalid("after object key"));
        }
        self.pos += 1;
        Ok(key)
    }

    fn literal(&mut self, word: &[u8], value: Value) -> Result<Value, SyntaxError> {
        for &expected in word {
            if self.input.get(self.pos) != Some(&expected) {
                return Err(self.invalid("in literal"));
            }
            self.pos += 1;
        }
        Ok(value)
    }

    fn number(&mut self) -> Result<Number, SyntaxError> {
        let start = self.pos;
        if self.input.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        match self.input.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.invalid("in numeric literal")),
        }
        if self.input.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if !matches!(self.input.get(self.pos), Some(b'0'..=b'9')) {
                return Err(self.invalid("after decimal point in numeric literal"));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.input.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.input.get(self.pos) {
                self.pos += 1;
            }
            if !matches!(self.input.get(self.pos), Some(b'0'..=b'9')) {
                return Err(self.invalid("in exponent of numeric literal"));
            }
            self.digits();
        }
        // The slice is ASCII by construction.
        let text = core::str::from_utf8(&self.input[start..self.pos]).unwrap_or_default();
        Ok(Number(text.to_string()))
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.input.get(self.pos) {
            self.pos += 1;
        }
    }

    /// Reads a string literal the way Go does: invalid UTF-8 and unpaired
    /// surrogate escapes become U+FFFD instead of errors.
    fn string(&mut self) -> Result<String, SyntaxError> {
        debug_assert_eq!(self.input.get(self.pos), Some(&b'"'));
        self.pos += 1;
        // Fast path: most strings have no escapes and are valid UTF-8, so
        // they become one exact allocation.
        let start = self.pos;
        let end = start
            + self.input[start..]
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .unwrap_or(self.input.len() - start);
        if self.input.get(end) == Some(&b'"')
            && let Ok(text) = core::str::from_utf8(&self.input[start..end])
        {
            self.pos = end + 1;
            return Ok(String::from(text));
        }
        let mut out = String::with_capacity(end - start);
        loop {
            // Copy the longest run of plain bytes at once.
            let run_start = self.pos;
            while let Some(&b) = self.input.get(self.pos) {
                if b == b'"' || b == b'\\' || !(0x20..0x80).contains(&b) {
                    break;
                }
                self.pos += 1;
            }
            if self.pos > run_start {
                // ASCII only, so always valid UTF-8.
                out.push_str(core::str::from_utf8(&self.input[run_start..self.pos]).unwrap_or(""));
            }
            let Some(&b) = self.input.get(self.pos) else {
                return Err(self.err(SyntaxErrorKind::UnexpectedEnd));
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => self.escape(&mut out)?,
                0..=0x1f => return Err(self.invalid("in string literal")),
                _ => match decode_utf8(&self.input[self.pos..]) {
                    Some((c, len)) => {
                        out.push(c);
                        self.pos += len;
                    }
                    None => {
                        out.push(char::REPLACEMENT_CHARACTER);
                        self.pos += 1;
                    }
                },
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), SyntaxError> {
        self.pos += 1; // the backslash
        let Some(&b) = self.input.get(self.pos) else {
            return Err(self.err(SyntaxErrorKind::UnexpectedEnd));
        };
        let simple = match b {
            b'"' => Some('"'),
            b'\\' => Some('\\'),
            b'/' => Some('/'),
            b'b' => Some('\u{8}'),
            b'f' => Some('\u{c}'),
            b'n' => Some('\n'),
            b'r' => Some('\r'),
            b't' => Some('\t'),
            b'u' => None,
            _ => return Err(self.invalid("in string escape code")),
        };
        if let Some(c) = simple {
            out.push(c);
            self.pos += 1;
            return Ok(());
        }
        self.pos += 1;
        let unit = self.hex4()?;
        if (0xD800..0xDC00).contains(&unit) {
            // A high surrogate pairs only with an immediately following
            // `\uDC00`..`\uDFFF`; otherwise it stands for U+FFFD and the
            // next escape is read on its own.
            if self.input.get(self.pos) == Some(&b'\\')
                && self.input.get(self.pos + 1) == Some(&b'u')
            {
                let save = self.pos;
                self.pos += 2;
                let low = self.hex4()?;
                if (0xDC00..0xE000).contains(&low) {
                    let c = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                    out.push(char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
                    return Ok(());
                }
                self.pos = save;
            }
            out.push(char::REPLACEMENT_CHARACTER);
        } else {
            out.push(char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER));
        }
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let mut unit = 0u32;
        for _ in 0..4 {
            let Some(&b) = self.input.get(self.pos) else {
                return Err(self.err(SyntaxErrorKind::UnexpectedEnd));
            };
            let digit = match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                b'A'..=b'F' => b - b'A' + 10,
                _ => return Err(self.invalid("in \\u hexadecimal character escape")),
            };
            unit = unit * 16 + u32::from(digit);
            self.pos += 1;
        }
        Ok(unit)
    }
}

/// Decodes one UTF-8 character at the start of `bytes`, or `None` when the
/// bytes there are not valid UTF-8 (Go then consumes a single byte).
fn decode_utf8(bytes: &[u8]) -> Option<(char, usize)> {
    let len = match bytes.first()? {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return None,
    };
    let s = core::str::from_utf8(bytes.get(..len)?).ok()?;
    s.chars().next().map(|c| (c, len))
}

// ---------------------------------------------------------------------------
// Go's decoding rules over the tree.

impl Object {
    /// The value Go's `encoding/json` would store in the struct field `name`:
    /// the last member whose key equals `name` ignoring case.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.members
            .iter()
            .rev()
            .find(|m| go_fold_eq(&m.key, name))
            .map(|m| &m.value)
    }

    /// The value Go would decode into field `name`, mutably.
    pub fn field_mut(&mut self, name: &str) -> Option<&mut Value> {
        self.members
            .iter_mut()
            .rev()
            .find(|m| go_fold_eq(&m.key, name))
            .map(|m| &mut m.value)
    }

    /// Whether any member's key matches `name` as Go matches it.
    pub fn has_field(&self, name: &str) -> bool {
        self.field(name).is_some()
    }

    /// The first member with exactly this key.
    pub fn get_exact(&self, key: &str) -> Option<&Value> {
        self.members.iter().find(|m| m.key == key).map(|m| &m.value)
    }

    /// Sets `key` (exact match), replacing every member that Go would read
    /// into the same field, or appends it.
    pub fn set(&mut self, key: &str, value: Value) {
        let mut value = Some(value);
        let mut i = 0;
        while i < self.members.len() {
            if go_fold_eq(&self.members[i].key, key) {
                match value.take() {
                    Some(v) => {
                        self.members[i] = Member {
                            key: key.to_string(),
                            value: v,
                        };
                        i += 1;
                    }
                    None => {
                        self.members.remove(i);
                    }
                }
            } else {
                i += 1;
            }
        }
        if let Some(v) = value {
            self.members.push(Member {
                key: key.to_string(),
                value: v,
            });
        }
    }

    /// Removes every member Go would read into field `key`.
    pub fn remove(&mut self, key: &str) {
        self.members.retain(|m| !go_fold_eq(&m.key, key));
    }
}

/// Go's case-insensitive key match: ASCII letters fold, and so do the two
/// non-ASCII characters that fold to ASCII letters (KELVIN SIGN and LATIN
/// SMALL LETTER LONG S).
pub fn go_fold_eq(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    let mut x = a.chars().map(go_fold_char);
    let mut y = b.chars().map(go_fold_char);
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(p), Some(q)) if p == q => {}
            _ => return false,
        }
    }
}

fn go_fold_char(c: char) -> char {
    match c {
        '\u{212a}' => 'k',
        '\u{17f}' => 's',
        c => c.to_ascii_lowercase(),
    }
}

/// A value that does not fit the Go type it is decoded into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeError {
    /// JSON pointer of the value.
    pub pointer: String,
    /// What was found: `string`, `number`, `object`, `array` or `bool`, or the
    /// number's text when it does not fit.
    pub found: String,
    /// The Go type it should have been.
    pub expected: &'static str,
}

impl fmt::Display for TypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.pointer.is_empty() {
            "the document"
        } else {
            &self.pointer
        };
        write!(f, "cannot read {} at {at} as {}", self.found, self.expected)
    }
}

impl core::error::Error for TypeError {}

impl Value {
    /// Go's name for this JSON kind in type errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The members Go's decoder reads when it unmarshals this value into a
    /// struct: an object's own, none for `null` (which sets nothing), and
    /// `None` for any other kind, a type error.
    pub fn as_struct(&self) -> Option<&Object> {
        static NO_MEMBERS: Object = Object {
            members: Vec::new(),
        };
        match self {
            Value::Object(o) => Some(o),
            Value::Null => Some(&NO_MEMBERS),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn type_error(&self, pointer: &str, expected: &'static str) -> TypeError {
        TypeError {
            pointer: pointer.to_string(),
            found: self.kind().to_string(),
            expected,
        }
    }
}

/// Reading a possibly absent value into a Go type. `None` (absent) and
/// `null` both leave the Go field at its zero value.
pub trait GoDecode: Sized {
    fn go_decode(value: &Value, pointer: &str) -> Result<Option<Self>, TypeError>;
}

impl GoDecode for String {
    fn go_decode(value: &Value, pointer: &str) -> Result<Option<Self>, TypeError> {
        match value {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            other => Err(other.type_error(pointer, "string")),
        }
    }
}

impl GoDecode for i64 {
    fn go_decode(value: &Value, pointer: &str) -> Result<Option<Self>, TypeError> {
        match value {
            Value::Null => Ok(None),
            Value::Number(n) => n.as_i64().map(Some).ok_or_else(|| TypeError {
                pointer: pointer.to_string(),
                found: alloc::format!("number {}", n.as_str()),
                expected: "int64",
            }),
            other => Err(other.type_error(pointer, "int64")),
        }
    }
}

impl GoDecode for bool {
    fn go_decode(value: &Value, pointer: &str) -> Result<Option<Self>, TypeError> {
        match value {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(*b)),
            other => Err(other.type_error(pointer, "bool")),
        }
    }
}

impl Number {
    /// The literal as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Go's rule for integer fields: an integer literal (no fraction, no
    /// exponent) that fits in 64 bits.
    pub fn as_i64(&self) -> Option<i64> {
        self.0.parse::<i64>().ok()
    }

    pub fn from_i64(n: i64) -> Self {
        Number(n.to_string())
    }
}

/// A JSON pointer one level below `parent`.
pub fn child_pointer(parent: &str, key: &str) -> String {
    let mut out = String::with_capacity(parent.len() + key.len() + 1);
    out.push_str(parent);
    out.push('/');
    for c in key.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
    out
}

/// A JSON pointer to array element `index` below `parent`.
pub fn index_pointer(parent: &str, index: usize) -> String {
    alloc::format!("{parent}/{index}")
}

// ---------------------------------------------------------------------------
// Writing, as Go's encoder writes.

impl Value {
    /// Compact JSON, as Go's `json.Marshal` writes it: no whitespace, and
    /// with `escape_html`, `<`, `>` and `&` escaped as `\u003c` and so on.
    pub fn to_compact(&self, escape_html: bool) -> String {
        let mut out = String::new();
        self.write_compact(&mut out, escape_html);
        out
    }

    /// Appends the compact form to `out`.
    pub fn write_compact(&self, out: &mut String, escape_html: bool) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(true) => out.push_str("true"),
            Value::Bool(false) => out.push_str("false"),
            Value::Number(n) => out.push_str(&n.0),
            Value::String(s) => write_string(out, s, escape_html),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_compact(out, escape_html);
                }
                out.push(']');
            }
            Value::Object(o) => {
                out.push('{');
                for (i, m) in o.members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(out, &m.key, escape_html);
                    out.push(':');
                    m.value.write_compact(out, escape_html);
                }
                out.push('}');
            }
        }
    }

    /// Converts to serde_json's model (duplicates collapse, last wins),
    /// for output and for comparing as JSON values.
    pub fn to_serde(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => serde_json::from_str::<serde_json::Value>(&n.0)
                .unwrap_or_else(|_| serde_json::Value::String(n.0.clone())),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_serde).collect())
            }
            Value::Object(o) => {
                let mut map = serde_json::Map::new();
                for m in &o.members {
                    map.insert(m.key.clone(), m.value.to_serde());
                }
                serde_json::Value::Object(map)
            }
        }
    }
}

/// `items` between `brackets`, comma-separated, each written by `write`:
/// an array, or an object whose members `write` writes.
pub fn write_joined<I: IntoIterator>(
    out: &mut String,
    (open, close): (char, char),
    items: I,
    mut write: impl FnMut(&mut String, I::Item),
) {
    out.push(open);
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write(out, item);
    }
    out.push(close);
}

/// Writes `s` as a JSON string literal with Go's escaping rules.
pub fn write_string(out: &mut String, s: &str, escape_html: bool) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' if escape_html => {
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 0xf] as char);
            }
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 0xf] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Helpers to build values in code.
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Number(Number::from_i64(n))
    }
}

impl From<Object> for Value {
    fn from(o: Object) -> Self {
        Value::Object(o)
    }
}

impl Object {
    /// An object from `(key, value)` pairs, in order.
    pub fn from_pairs<I, K>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, Value)>,
        K: Into<String>,
    {
        Object {
            members: pairs
                .into_iter()
                .map(|(k, v)| Member {
                    key: k.into(),
                    value: v,
                })
                .collect(),
        }
    }
}

/// Parses `input` and requires an object at the top, as every manifest is.
pub fn parse_object(input: &[u8]) -> Result<Box<Object>, SyntaxError> {
    match parse(input)? {
        Value::Object(o) => Ok(Box::new(o)),
        _ => Err(SyntaxError {
            offset: 0,
            kind: SyntaxErrorKind::InvalidCharacter {
                found: ' ',
                context: "expected an object",
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_kind(input: &[u8]) -> SyntaxErrorKind {
        parse(input).unwrap_err().kind
    }

    #[test]
    fn keeps_duplicate_members_in_order() {
        let v = parse(br#"{"a":1,"A":2,"a":3}"#).unwrap();
        let o = v.as_object().unwrap();
        assert_eq!(o.members.len(), 3);
        assert_eq!(o.field("a"), Some(&Value::from(3)));
    }

    #[test]
    fn field_lookup_ignores_case_and_last_match_wins() {
        let v = parse(br#"{"mediaType":"x","MEDIATYPE":"y"}"#).unwrap();
        assert_eq!(
            v.as_object().unwrap().field("mediaType"),
            Some(&Value::from("y"))
        );
    }

    #[test]
    fn kelvin_sign_folds_to_k() {
        assert!(go_fold_eq("\u{212a}ey", "key"));
        assert!(!go_fold_eq("keys", "key"));
    }

    #[test]
    fn invalid_utf8_in_strings_becomes_replacement_characters() {
        let v = parse(b"\"a\xff\xfeb\"").unwrap();
        assert_eq!(v, Value::from("a\u{fffd}\u{fffd}b"));
    }

    #[test]
    fn lone_surrogate_escape_becomes_replacement_character() {
        assert_eq!(parse(br#""\ud800x""#).unwrap(), Value::from("\u{fffd}x"));
        assert_eq!(
            parse(br#""\ud83d\ude00""#).unwrap(),
            Value::from("\u{1f600}")
        );
        assert_eq!(
            parse(br#""\ud800\u0041""#).unwrap(),
            Value::from("\u{fffd}A")
        );
    }

    #[test]
    fn rejects_what_go_rejects() {
        assert_eq!(err_kind(b""), SyntaxErrorKind::UnexpectedEnd);
        assert_eq!(err_kind(b"   \n"), SyntaxErrorKind::UnexpectedEnd);
        assert_eq!(err_kind(br#"{"a":1"#), SyntaxErrorKind::UnexpectedEnd);
        for bad in [
            &b"{} {}"[..],
            b"{\"a\":02}",
            b"// c\n{}",
            b"\xef\xbb\xbf{}",
            b"{\xc2\xa0}",
            b"[1,]",
            b"{\"a\" 1}",
            b"\"tab\tin string\"",
            b"01",
            b"1.",
            b"1e",
            b"nul",
        ] {
            assert!(parse(bad).is_err(), "{:?}", core::str::from_utf8(bad));
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let mut doc = Vec::new();
        doc.resize(100_000, b'[');
        assert_eq!(err_kind(&doc), SyntaxErrorKind::TooDeep);
        let mut ok = Vec::new();
        ok.resize(MAX_DEPTH, b'[');
        ok.resize(MAX_DEPTH * 2, b']');
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn integers_follow_go_int64_rules() {
        let n = |s: &str| Number(s.to_string()).as_i64();
        assert_eq!(n("42"), Some(42));
        assert_eq!(n("-1"), Some(-1));
        assert_eq!(n("2e0"), None);
        assert_eq!(n("2.0"), None);
        assert_eq!(n("9223372036854775808"), None);
    }

    #[test]
    fn compact_output_escapes_like_go() {
        let v = parse(br#"{"a" : "<b>&\u2028\u0001", "n": 1.50}"#).unwrap();
        assert_eq!(
            v.to_compact(true),
            r#"{"a":"\u003cb\u003e\u0026\u2028\u0001","n":1.50}"#
        );
        assert_eq!(v.to_compact(false), r#"{"a":"<b>&\u2028\u0001","n":1.50}"#);
    }

    #[test]
    fn syntax_errors_say_where() {
        let e = parse(b"{\"a\":1}}").unwrap_err();
        assert_eq!(e.offset, 7);
        assert!(e.to_string().contains("after top-level value"), "{e}");
    }
}

// ---------------------------------------------------------------------------
// Struct-style decoding.

/// Reads an object's fields with Go's struct rules, building JSON pointers
/// for errors as it goes.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    pub object: &'a Object,
    pub pointer: &'a str,
}

impl<'a> Fields<'a> {
    pub fn new(object: &'a Object, pointer: &'a str) -> Self {
        Fields { object, pointer }
    }

    /// A scalar field; `None` when absent or null.
    pub fn get<T: GoDecode>(&self, name: &str) -> Result<Option<T>, TypeError> {
        match self.object.field(name) {
            None => Ok(None),
            // The pointer is only built when there is an error to report.
            Some(v) => T::go_decode(v, "").map_err(|mut e| {
                e.pointer = child_pointer(self.pointer, name);
                e
            }),
        }
    }

    /// A string field, `""` when absent or null.
    pub fn string(&self, name: &str) -> Result<String, TypeError> {
        Ok(self.get::<String>(name)?.unwrap_or_default())
    }

    /// A nested struct; `None` when absent or null.
    pub fn object(&self, name: &str) -> Result<Option<(&'a Object, String)>, TypeError> {
        match self.object.field(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(o)) => Ok(Some((o, child_pointer(self.pointer, name)))),
            Some(other) => Err(other.type_error(&child_pointer(self.pointer, name), "struct")),
        }
    }

    /// A slice field, each element decoded by `item`; empty when absent or
    /// null.
    pub fn slice<T, E>(
        &self,
        name: &str,
        mut item: impl FnMut(&'a Value, &str) -> Result<T, E>,
    ) -> Result<Vec<T>, E>
    where
        E: From<TypeError>,
    {
        let pointer = child_pointer(self.pointer, name);
        match self.object.field(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| item(v, &index_pointer(&pointer, i)))
                .collect(),
            Some(other) => Err(other.type_error(&pointer, "slice").into()),
        }
    }

    /// A `[]string` field.
    pub fn strings(&self, name: &str) -> Result<Vec<String>, TypeError> {
        self.slice(
            name,
            |v, p| Ok(String::go_decode(v, p)?.unwrap_or_default()),
        )
    }

    /// A `map[string]string` field, sorted by key as Go writes maps.
    pub fn string_map(
        &self,
        name: &str,
    ) -> Result<alloc::collections::BTreeMap<String, String>, TypeError> {
        let pointer = child_pointer(self.pointer, name);
        let mut out = alloc::collections::BTreeMap::new();
        match self.object.field(name) {
            None | Some(Value::Null) => {}
            Some(Value::Object(o)) => {
                for m in &o.members {
                    let v = String::go_decode(&m.value, &child_pointer(&pointer, &m.key))?;
                    out.insert(m.key.clone(), v.unwrap_or_default());
                }
            }
            Some(other) => return Err(other.type_error(&pointer, "map")),
        }
        Ok(out)
    }

    /// Whether the field is present with a non-null value, as Go sees an
    /// `interface{}` field.
    pub fn is_set(&self, name: &str) -> bool {
        !matches!(self.object.field(name), None | Some(Value::Null))
    }
}
