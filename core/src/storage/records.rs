//! The records of `layers.json` and `images.json`, kept as JSON values so
//! that fields ferry does not model (written by podman, or by a later
//! containers/storage) survive a rewrite untouched.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::{Map, Value, json};

use super::{INCOMPLETE_FLAG, MANIFEST_KEY};
use crate::digest::Digest;

/// containers/storage's `archive.Compression` numbers, as layer records'
/// `compression` holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerCompression {
    Uncompressed = 0,
    Gzip = 2,
    Zstd = 4,
}

/// What a new layer record says.
#[derive(Debug, Clone)]
pub struct NewLayer<'a> {
    pub id: &'a str,
    pub parent: Option<&'a str>,
    /// RFC 3339.
    pub created: &'a str,
    /// The blob the layer was applied from: its digest and size.
    pub compressed: (&'a Digest, u64),
    pub compression: LayerCompression,
    /// The uncompressed stream: its digest (the diff ID) and length.
    pub uncompressed: (&'a Digest, u64),
    /// The owners seen in the layer, sorted.
    pub uids: &'a [u32],
    pub gids: &'a [u32],
}

/// A layer record, flagged incomplete until [`mark_complete`].
pub fn new_layer(layer: &NewLayer<'_>) -> Value {
    let mut record = Map::new();
    record.insert("id".into(), layer.id.into());
    if let Some(parent) = layer.parent {
        record.insert("parent".into(), parent.into());
    }
    record.insert("created".into(), layer.created.into());
    record.insert(
        "compressed-diff-digest".into(),
        layer.compressed.0.as_str().into(),
    );
    if layer.compressed.1 != 0 {
        record.insert("compressed-size".into(), layer.compressed.1.into());
    }
    record.insert("diff-digest".into(), layer.uncompressed.0.as_str().into());
    if layer.uncompressed.1 != 0 {
        record.insert("diff-size".into(), layer.uncompressed.1.into());
    }
    if layer.compression != LayerCompression::Uncompressed {
        record.insert("compression".into(), (layer.compression as u8).into());
    }
    if !layer.uids.is_empty() {
        record.insert("uidset".into(), layer.uids.into());
    }
    if !layer.gids.is_empty() {
        record.insert("gidset".into(), layer.gids.into());
    }
    record.insert("flags".into(), json!({ INCOMPLETE_FLAG: true }));
    Value::Object(record)
}

/// Clears a layer record's `incomplete` flag (and `flags`, once empty, as
/// Go's `omitempty` leaves it out).
pub fn mark_complete(layer: &mut Value) {
    if let Some(record) = layer.as_object_mut() {
        let empty = match record.get_mut("flags").and_then(Value::as_object_mut) {
            Some(flags) => {
                flags.remove(INCOMPLETE_FLAG);
                flags.is_empty()
            }
            None => false,
        };
        if empty {
            record.remove("flags");
        }
    }
}

/// Whether a layer record is flagged incomplete: a writer stopped before
/// its files were all written, and it must not be used.
pub fn is_incomplete(layer: &Value) -> bool {
    layer
        .pointer(&alloc::format!("/flags/{INCOMPLETE_FLAG}"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// A record's `id`.
pub fn id(record: &Value) -> Option<&str> {
    record.get("id").and_then(Value::as_str)
}

/// A string field of a record.
pub fn text<'a>(record: &'a Value, field: &str) -> Option<&'a str> {
    record.get(field).and_then(Value::as_str)
}

/// The records of a `layers.json` or `images.json` (empty for an empty
/// or missing file, as containers/storage reads one).
pub fn parse_list(bytes: &[u8]) -> Result<Vec<Value>, serde_json::Error> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    serde_json::from_slice(bytes)
}

/// One big-data item of an image: key, bytes' length and digest.
#[derive(Debug, Clone)]
pub struct BigData<'a> {
    pub key: &'a str,
    pub size: u64,
    pub digest: &'a Digest,
}

/// What an image record should hold after a copy.
#[derive(Debug, Clone)]
pub struct NewImage<'a> {
    pub id: &'a str,
    pub top_layer: Option<&'a str>,
    /// RFC 3339, the config's `created` when it has one.
    pub created: &'a str,
    /// The name to add, if the reference has one.
    pub name: Option<&'a str>,
    /// In the order containers/image sets them.
    pub big_data: &'a [BigData<'a>],
    /// JSON of the signature sizes.
    pub metadata: &'a str,
}

/// Adds or updates the image record in `images`: a new record, or the
/// existing one with this ID (its big data and names merged, as
/// containers/image reuses an image with the same ID and top layer).
/// The name moves from any other image that holds it. Fails, naming the
/// existing top layer, if an image with the ID has another top layer.
pub fn put_image(images: &mut Vec<Value>, image: &NewImage<'_>) -> Result<(), String> {
    let position = match images.iter().position(|r| id(r) == Some(image.id)) {
        Some(i) => {
            let existing = text(&images[i], "layer");
            if existing != image.top_layer {
                return Err(existing.unwrap_or_default().to_string());
            }
            i
        }
        None => {
            let mut record = Map::new();
            record.insert("id".into(), image.id.into());
            if let Some(layer) = image.top_layer {
                record.insert("layer".into(), layer.into());
            }
            record.insert("created".into(), image.created.into());
            images.push(Value::Object(record));
            images.len() - 1
        }
    };
    if let Some(name) = image.name {
        for (i, other) in images.iter_mut().enumerate() {
            if i != position {
                remove_name(other, name);
            }
        }
    }
    let Some(record) = images[position].as_object_mut() else {
        return Err(String::new());
    };
    for item in image.big_data {
        let names = array(record, "big-data-names");
        if !names.iter().any(|n| n.as_str() == Some(item.key)) {
            names.push(item.key.into());
        }
        object(record, "big-data-sizes").insert(item.key.into(), item.size.into());
        object(record, "big-data-digests").insert(item.key.into(), item.digest.as_str().into());
        // The first manifest digest set becomes the image's digest.
        let is_manifest = item.key == MANIFEST_KEY || item.key.starts_with("manifest-");
        if is_manifest && text_of(record, "digest").is_none() {
            record.insert("digest".into(), item.digest.as_str().into());
        }
    }
    record.insert("metadata".into(), image.metadata.into());
    if let Some(name) = image.name {
        let names = array(record, "names");
        if !names.iter().any(|n| n.as_str() == Some(name)) {
            names.push(name.into());
        }
        let history = array(record, "names-history");
        history.retain(|n| n.as_str() != Some(name));
        history.insert(0, name.into());
    }
    Ok(())
}

fn text_of<'a>(record: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    record
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn array<'a>(record: &'a mut Map<String, Value>, field: &str) -> &'a mut Vec<Value> {
    let slot = record
        .entry(field)
        .or_insert_with(|| Value::Array(Vec::new()));
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    match slot {
        Value::Array(a) => a,
        _ => unreachable!("made an array above"),
    }
}

fn object<'a>(record: &'a mut Map<String, Value>, field: &str) -> &'a mut Map<String, Value> {
    let slot = record
        .entry(field)
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(o) => o,
        _ => unreachable!("made an object above"),
    }
}

fn remove_name(record: &mut Value, name: &str) {
    if let Some(names) = record.get_mut("names").and_then(Value::as_array_mut) {
        names.retain(|n| n.as_str() != Some(name));
        if names.is_empty()
            && let Some(r) = record.as_object_mut()
        {
            r.remove("names");
        }
    }
}

/// An image record's names.
pub fn names(record: &Value) -> impl Iterator<Item = &str> {
    record
        .get("names")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// The digests an image can be found by, as containers/storage computes
/// them: its `digest`, then those of its manifest big data.
pub fn digests(record: &Value) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    if let Some(d) = text(record, "digest").filter(|d| !d.is_empty()) {
        out.push(d);
    }
    if let Some(map) = record.get("big-data-digests").and_then(Value::as_object) {
        for (key, value) in map {
            if (key == MANIFEST_KEY || key.starts_with("manifest-"))
                && let Some(d) = value.as_str()
                && !out.contains(&d)
            {
                out.push(d);
            }
        }
    }
    out
}

/// Whether an image has a big-data item `key`.
pub fn has_big_data(record: &Value, key: &str) -> bool {
    record
        .get("big-data-names")
        .and_then(Value::as_array)
        .is_some_and(|names| names.iter().any(|n| n.as_str() == Some(key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn digest() -> Digest {
        Digest::parse(DIGEST).unwrap()
    }

    #[test]
    fn a_new_layer_is_incomplete_until_marked() {
        let d = digest();
        let mut layer = new_layer(&NewLayer {
            id: "abc",
            parent: Some("def"),
            created: "2026-01-01T00:00:00Z",
            compressed: (&d, 10),
            compression: LayerCompression::Gzip,
            uncompressed: (&d, 1024),
            uids: &[0],
            gids: &[0],
        });
        assert!(is_incomplete(&layer));
        assert_eq!(layer["compression"], 2);
        assert_eq!(layer["parent"], "def");
        mark_complete(&mut layer);
        assert!(!is_incomplete(&layer));
        assert!(layer.get("flags").is_none());
    }

    #[test]
    fn an_image_name_moves_to_the_new_image() {
        let d = digest();
        let mut images =
            parse_list(br#"[{"id":"old","names":["docker.io/library/a:1"],"unknown-field":7}]"#)
                .unwrap();
        put_image(
            &mut images,
            &NewImage {
                id: "new",
                top_layer: Some("top"),
                created: "2026-01-01T00:00:00Z",
                name: Some("docker.io/library/a:1"),
                big_data: &[BigData {
                    key: "manifest",
                    size: 0,
                    digest: &d,
                }],
                metadata: "{}",
            },
        )
        .unwrap();
        assert!(images[0].get("names").is_none());
        assert_eq!(images[0]["unknown-field"], 7);
        assert_eq!(
            names(&images[1]).collect::<Vec<_>>(),
            ["docker.io/library/a:1"]
        );
        assert_eq!(images[1]["digest"], DIGEST);
        assert_eq!(digests(&images[1]), [DIGEST]);
    }

    #[test]
    fn an_existing_id_with_another_top_layer_is_refused() {
        let mut images = parse_list(br#"[{"id":"x","layer":"a"}]"#).unwrap();
        let image = NewImage {
            id: "x",
            top_layer: Some("b"),
            created: "",
            name: None,
            big_data: &[],
            metadata: "{}",
        };
        assert_eq!(put_image(&mut images, &image), Err("a".to_string()));
    }
}
