//! Docker's legacy `V1Image` JSON, re-encoded the way containers/image does
//! for schema 1 images made by Docker before 1.8.3.
//!
//! Those old Docker versions wrote `v1Compatibility` entries without some
//! fields that are not `omitempty` in Docker's Go structs. containers/image
//! (`Schema1.ToSchema2Config`) therefore decodes such an entry into the
//! struct and encodes it again, which fills in those fields and drops
//! everything the struct does not know. The image ID is computed from the
//! result, so ferry must reproduce that encoding byte for byte: field
//! order, `omitempty` rules, `null` for nil slices and maps, and sorted map
//! keys.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::json::{self, GoDecode, Object, TypeError, Value, write_string};

/// Whether `docker_version` is older than 1.8.3, compared as Docker's
/// `versions.LessThan` does: dot-separated parts as integers (a part that
/// is not a number counts as 0), the shorter padded with zeros.
pub(super) fn needs_reencode(docker_version: &str) -> bool {
    if docker_version.is_empty() {
        return false;
    }
    let parts = |v: &str| -> Vec<i64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    let a = parts(docker_version);
    let b = [1, 8, 3];
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        if x != y {
            return x < y;
        }
    }
    false
}

/// How a field is typed in Docker's structs.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Bool,
    Int,
    /// `[]string`.
    Strings,
    /// `strslice.StrSlice`: a string or an array of strings.
    StrSlice,
    /// `map[string]struct{}`.
    Set,
    /// `map[string]string`.
    StringMap,
    /// A pointer to a struct ferry does not model: kept as raw JSON.
    Raw,
    /// `time.Time`.
    Time,
    /// `container.Config`, by value or by pointer.
    Config,
}

/// One decoded field value.
#[derive(Clone, Debug)]
enum Field {
    Str(String),
    Bool(bool),
    Int(i64),
    List(Option<Vec<String>>),
    /// Go's `map[string]struct{}`: only the keys count, and every value is
    /// empty. A `BTreeMap<String, String>` rather than a set, as every key
    /// and value type of a map is its own copy of the map's code in the
    /// WebAssembly module, and this one is the annotations' (a
    /// `BTreeMap<String, ()>` here and in `list::walk` cost 4,550 bytes).
    Set(Option<BTreeMap<String, String>>),
    Map(Option<BTreeMap<String, String>>),
    Raw(Option<Value>),
    Time(Option<String>),
    Config(Option<Vec<Field>>),
}

/// Docker's `container.Config` (as vendored in containers/image), in
/// declaration order, with `omitempty`.
const CONFIG: [(&str, Kind, bool); 25] = [
    ("Hostname", Kind::Str, false),
    ("Domainname", Kind::Str, false),
    ("User", Kind::Str, false),
    ("AttachStdin", Kind::Bool, false),
    ("AttachStdout", Kind::Bool, false),
    ("AttachStderr", Kind::Bool, false),
    ("ExposedPorts", Kind::Set, true),
    ("Tty", Kind::Bool, false),
    ("OpenStdin", Kind::Bool, false),
    ("StdinOnce", Kind::Bool, false),
    ("Env", Kind::Strings, false),
    ("Cmd", Kind::StrSlice, false),
    ("Healthcheck", Kind::Raw, true),
    ("ArgsEscaped", Kind::Bool, true),
    ("Image", Kind::Str, false),
    ("Volumes", Kind::Set, false),
    ("WorkingDir", Kind::Str, false),
    ("Entrypoint", Kind::StrSlice, false),
    ("NetworkDisabled", Kind::Bool, true),
    ("MacAddress", Kind::Str, true),
    ("OnBuild", Kind::Strings, false),
    ("Labels", Kind::StringMap, false),
    ("StopSignal", Kind::Str, true),
    ("StopTimeout", Kind::Raw, true),
    ("Shell", Kind::StrSlice, true),
];

/// containers/image's `Schema2V1Image`, in declaration order.
const V1_IMAGE: [(&str, Kind, bool); 13] = [
    ("id", Kind::Str, true),
    ("parent", Kind::Str, true),
    ("comment", Kind::Str, true),
    ("created", Kind::Time, false),
    ("container", Kind::Str, true),
    ("container_config", Kind::Config, false),
    ("docker_version", Kind::Str, true),
    ("author", Kind::Str, true),
    ("config", Kind::Config, true),
    ("architecture", Kind::Str, true),
    ("variant", Kind::Str, true),
    ("os", Kind::Str, true),
    ("Size", Kind::Int, true),
];

/// Decodes `object` as a V1Image and encodes it again, as Go would.
pub(super) fn reencode(object: &Object) -> Result<Vec<u8>, TypeError> {
    let fields = decode_struct(object, "", &V1_IMAGE)?;
    let mut out = String::new();
    encode_struct(&V1_IMAGE, &fields, &mut out);
    Ok(out.into_bytes())
}

fn zero(kind: Kind) -> Field {
    match kind {
        Kind::Str => Field::Str(String::new()),
        Kind::Bool => Field::Bool(false),
        Kind::Int => Field::Int(0),
        Kind::Strings | Kind::StrSlice => Field::List(None),
        Kind::Set => Field::Set(None),
        Kind::StringMap => Field::Map(None),
        Kind::Raw => Field::Raw(None),
        Kind::Time => Field::Time(None),
        Kind::Config => Field::Config(None),
    }
}

/// Go's struct decoding: each member goes to the field it names (exact
/// name first, then case-insensitively); later members overwrite scalars
/// and merge into maps.
fn decode_struct(
    object: &Object,
    pointer: &str,
    spec: &[(&str, Kind, bool)],
) -> Result<Vec<Field>, TypeError> {
    let mut fields: Vec<Field> = spec.iter().map(|(_, k, _)| zero(*k)).collect();
    for m in &object.members {
        let index = spec.iter().position(|(n, _, _)| *n == m.key).or_else(|| {
            spec.iter()
                .position(|(n, _, _)| json::go_fold_eq(n, &m.key))
        });
        let Some(index) = index else { continue };
        let p = json::child_pointer(pointer, &m.key);
        let kind = spec[index].1;
        fields[index] = decode_field(&m.value, &p, kind, &fields[index])?;
    }
    Ok(fields)
}

/// Go decoding an object into a map (or set) that already holds `old`'s
/// entries: each member adds its key, or replaces its value, with what
/// `value` makes of it.
fn merge(
    old: &Field,
    object: &Object,
    mut value: impl FnMut(&json::Member) -> Result<String, TypeError>,
) -> Result<BTreeMap<String, String>, TypeError> {
    let mut map = match old {
        Field::Set(Some(m)) | Field::Map(Some(m)) => m.clone(),
        _ => BTreeMap::new(),
    };
    for m in &object.members {
        map.insert(m.key.clone(), value(m)?);
    }
    Ok(map)
}

fn decode_field(value: &Value, pointer: &str, kind: Kind, old: &Field) -> Result<Field, TypeError> {
    let type_error = |expected: &'static str| TypeError {
        pointer: pointer.into(),
        found: value.kind().into(),
        expected,
    };
    Ok(match kind {
        Kind::Str => match String::go_decode(value, pointer)? {
            Some(s) => Field::Str(s),
            None => old.clone(),
        },
        Kind::Bool => match bool::go_decode(value, pointer)? {
            Some(b) => Field::Bool(b),
            None => old.clone(),
        },
        Kind::Int => match i64::go_decode(value, pointer)? {
            Some(n) => Field::Int(n),
            None => old.clone(),
        },
        Kind::Time => match value {
            Value::Null => old.clone(),
            Value::String(s) => match super::rfc3339::normalize(s) {
                Some(t) => Field::Time(Some(t)),
                None => return Err(type_error("time.Time")),
            },
            _ => return Err(type_error("time.Time")),
        },
        Kind::Strings => match value {
            Value::Null => Field::List(None),
            Value::Array(items) => Field::List(Some(strings(items, pointer)?)),
            _ => return Err(type_error("[]string")),
        },
        Kind::StrSlice => match value {
            Value::Null => Field::List(None),
            Value::String(s) => Field::List(Some(alloc::vec![s.clone()])),
            Value::Array(items) => Field::List(Some(strings(items, pointer)?)),
            _ => return Err(type_error("strslice.StrSlice")),
        },
        Kind::Set => match value {
            Value::Null => Field::Set(None),
            Value::Object(o) => Field::Set(Some(merge(old, o, |m| {
                if matches!(m.value, Value::Object(_) | Value::Null) {
                    Ok(String::new())
                } else {
                    Err(type_error("struct {}"))
                }
            })?)),
            _ => return Err(type_error("map[string]struct {}")),
        },
        Kind::StringMap => match value {
            Value::Null => Field::Map(None),
            Value::Object(o) => Field::Map(Some(merge(old, o, |m| {
                let p = json::child_pointer(pointer, &m.key);
                Ok(String::go_decode(&m.value, &p)?.unwrap_or_default())
            })?)),
            _ => return Err(type_error("map[string]string")),
        },
        Kind::Raw => match value {
            Value::Null => Field::Raw(None),
            v => Field::Raw(Some(v.clone())),
        },
        Kind::Config => match value {
            Value::Null => old.clone(),
            Value::Object(o) => Field::Config(Some(decode_struct(o, pointer, &CONFIG)?)),
            _ => return Err(type_error("container.Config")),
        },
    })
}

fn strings(items: &[Value], pointer: &str) -> Result<Vec<String>, TypeError> {
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            Ok(String::go_decode(v, &json::index_pointer(pointer, i))?.unwrap_or_default())
        })
        .collect()
}

fn is_empty(field: &Field) -> bool {
    match field {
        Field::Str(s) => s.is_empty(),
        Field::Bool(b) => !b,
        Field::Int(n) => *n == 0,
        Field::List(l) => l.as_ref().is_none_or(Vec::is_empty),
        Field::Set(s) => s.as_ref().is_none_or(BTreeMap::is_empty),
        Field::Map(m) => m.as_ref().is_none_or(BTreeMap::is_empty),
        Field::Raw(r) => r.is_none(),
        Field::Time(_) => false,
        Field::Config(c) => c.is_none(),
    }
}

fn encode_struct(spec: &[(&str, Kind, bool)], fields: &[Field], out: &mut String) {
    out.push('{');
    let mut first = true;
    for ((name, kind, omit_empty), field) in spec.iter().zip(fields) {
        // `container_config` is a struct value: never empty, always written.
        let value_struct = matches!(kind, Kind::Config) && !omit_empty;
        if *omit_empty && is_empty(field) && !value_struct {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        write_string(out, name, true);
        out.push(':');
        encode_field(field, out);
    }
    out.push('}');
}

fn encode_field(field: &Field, out: &mut String) {
    match field {
        Field::Str(s) => write_string(out, s, true),
        Field::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Field::Int(n) => out.push_str(&alloc::format!("{n}")),
        Field::List(None) | Field::Set(None) | Field::Map(None) | Field::Raw(None) => {
            out.push_str("null");
        }
        Field::List(Some(items)) => json::write_joined(out, ('[', ']'), items, |out, s| {
            write_string(out, s, true);
        }),
        Field::Set(Some(set)) => json::write_joined(out, ('{', '}'), set.keys(), |out, k| {
            write_string(out, k, true);
            out.push_str(":{}");
        }),
        Field::Map(Some(map)) => json::write_joined(out, ('{', '}'), map, |out, (k, v)| {
            write_string(out, k, true);
            out.push(':');
            write_string(out, v, true);
        }),
        Field::Raw(Some(v)) => v.write_compact(out, true),
        Field::Time(t) => write_string(out, t.as_deref().unwrap_or("0001-01-01T00:00:00Z"), true),
        Field::Config(None) => encode_struct(&CONFIG, &CONFIG.map(|(_, k, _)| zero(k)), out),
        Field::Config(Some(fields)) => encode_struct(&CONFIG, fields, out),
    }
}

#[cfg(test)]
mod tests {
    use super::needs_reencode;

    #[test]
    fn docker_versions_before_1_8_3_are_reencoded() {
        assert!(needs_reencode("1.8.2"));
        assert!(needs_reencode("1.8.2-rc1"));
        assert!(needs_reencode("0.9"));
        assert!(!needs_reencode("1.8.3"));
        assert!(!needs_reencode("1.13.1"));
        assert!(!needs_reencode("18.09.7"));
        assert!(!needs_reencode(""));
    }
}
