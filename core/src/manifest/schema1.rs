//! Docker image manifest, schema 1 (signed and unsigned).
//!
//! Schema 1 lists layers top-first in `fsLayers`, each with a
//! `v1Compatibility` history entry holding a legacy image JSON. It has no
//! config blob: containers/image derives one from the history, and the
//! image ID is that config's digest. Consecutive entries with the same ID
//! are duplicates that containers/image drops; any other repeated ID or a
//! broken parent chain makes the manifest invalid.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use super::convert_error::ConvertError;
use super::rfc3339;
use super::{
    AllowedFields, Descriptor, LayerInfo, ManifestError, check_unambiguous, parse_top, v1image,
};
use crate::digest::Digest;
use crate::json::{self, Fields, Value};
use crate::media_type as mt;

/// A Docker schema 1 manifest, after containers/image's layer fix-ups.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema1 {
    raw: Vec<u8>,
    signed: bool,
    pub name: String,
    pub tag: String,
    pub architecture: String,
    /// `blobSum` of each layer, top layer first, consecutive duplicates
    /// removed.
    pub fs_layers: Vec<String>,
    /// The `v1Compatibility` text of each layer, aligned with `fs_layers`.
    pub history: Vec<String>,
    compat: Vec<V1Compatibility>,
}

/// The fields of a `v1Compatibility` entry that ferry uses.
#[derive(Debug, Clone, PartialEq, Default)]
struct V1Compatibility {
    id: String,
    parent: String,
    comment: String,
    created: Option<String>,
    cmd: Vec<String>,
    author: String,
    throwaway: bool,
}

/// Why a schema 1 manifest's layers and history do not fit together.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum HistoryError {
    /// `fsLayers` and `history` differ in length.
    LengthMismatch { layers: usize, history: usize },
    /// There are no layers at all.
    NoLayers,
    /// A `v1Compatibility` entry is not the JSON it should be.
    Entry { index: usize, reason: String },
    /// An `id` is not 64 lowercase hex characters.
    InvalidId { index: usize, id: String },
    /// The base layer names a parent.
    BaseHasParent,
    /// An ID appears twice, not next to itself.
    DuplicateId { id: String },
    /// A layer's parent is not the layer below it.
    InvalidParent {
        index: usize,
        expected: String,
        found: String,
    },
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HistoryError::LengthMismatch { layers, history } => write!(
                f,
                "schema 1 manifest has {layers} fsLayers but {history} history entries"
            ),
            HistoryError::NoLayers => f.write_str("schema 1 manifest has no fsLayers"),
            HistoryError::Entry { index, reason } => {
                write!(f, "/history/{index}/v1Compatibility: {reason}")
            }
            HistoryError::InvalidId { index, id } => write!(
                f,
                "/history/{index}/v1Compatibility: image ID {id} is not 64 lowercase hex characters",
                id = crate::Quoted(id)
            ),
            HistoryError::BaseHasParent => {
                f.write_str("the base layer's history entry names a parent")
            }
            HistoryError::DuplicateId { id } => {
                write!(f, "image ID {id} appears more than once in the history")
            }
            HistoryError::InvalidParent {
                index,
                expected,
                found,
            } => write!(
                f,
                "/history/{index}/v1Compatibility: parent is {found}, expected {expected}",
                found = crate::Quoted(found),
                expected = crate::Quoted(expected)
            ),
        }
    }
}

impl core::error::Error for HistoryError {}

impl From<HistoryError> for ManifestError {
    fn from(e: HistoryError) -> Self {
        ManifestError::Schema1(e)
    }
}

impl Schema1 {
    /// Parses with containers/image's `Schema1FromManifest` rules.
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        let top = parse_top(bytes, "Schema1")?;
        let f = Fields::new(&top, "");
        let name = f.string("name")?;
        let tag = f.string("tag")?;
        let architecture = f.string("architecture")?;
        let fs_layers = f.slice("fsLayers", |v, p| -> Result<String, ManifestError> {
            Ok(struct_string_field(v, p, "blobSum")?)
        })?;
        let history = f.slice("history", |v, p| -> Result<String, ManifestError> {
            Ok(struct_string_field(v, p, "v1Compatibility")?)
        })?;
        let schema_version = f.get::<i64>("schemaVersion")?.unwrap_or(0);
        if schema_version != 1 {
            return Err(ManifestError::UnsupportedSchemaVersion {
                media_type: mt::DOCKER_V2S1_SIGNED.to_string(),
                found: schema_version,
            });
        }
        check_unambiguous(f, mt::DOCKER_V2S1_SIGNED, AllowedFields::SCHEMA1)?;
        if fs_layers.len() != history.len() {
            return Err(HistoryError::LengthMismatch {
                layers: fs_layers.len(),
                history: history.len(),
            }
            .into());
        }
        if fs_layers.is_empty() {
            return Err(HistoryError::NoLayers.into());
        }
        let compat = history
            .iter()
            .enumerate()
            .map(|(index, text)| V1Compatibility::parse(text, index))
            .collect::<Result<Vec<_>, _>>()?;
        let signed = !matches!(f.object.field("signatures"), None | Some(Value::Null));
        let mut manifest = Schema1 {
            raw: bytes.to_vec(),
            signed,
            name,
            tag,
            architecture,
            fs_layers,
            history,
            compat,
        };
        manifest.fix_layers()?;
        Ok(manifest)
    }

    /// containers/image's `fixManifestLayers`: validate IDs and the parent
    /// chain, and drop consecutive duplicate entries.
    fn fix_layers(&mut self) -> Result<(), HistoryError> {
        for (index, c) in self.compat.iter().enumerate() {
            if !is_v1_id(&c.id) {
                return Err(HistoryError::InvalidId {
                    index,
                    id: c.id.clone(),
                });
            }
        }
        if self.compat.last().is_some_and(|c| !c.parent.is_empty()) {
            return Err(HistoryError::BaseHasParent);
        }
        let mut seen: Vec<&str> = Vec::new();
        let mut last: &str = "";
        for c in &self.compat {
            if c.id != last && seen.contains(&c.id.as_str()) {
                return Err(HistoryError::DuplicateId { id: c.id.clone() });
            }
            last = &c.id;
            seen.push(&c.id);
        }
        for i in (0..self.compat.len().saturating_sub(1)).rev() {
            if self.compat[i].id == self.compat[i + 1].id {
                self.compat.remove(i);
                self.fs_layers.remove(i);
                self.history.remove(i);
            } else if self.compat[i].parent != self.compat[i + 1].id {
                return Err(HistoryError::InvalidParent {
                    index: i,
                    expected: self.compat[i + 1].id.clone(),
                    found: self.compat[i].parent.clone(),
                });
            }
        }
        Ok(())
    }

    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// Whether the document carries a `signatures` member.
    pub fn is_signed(&self) -> bool {
        self.signed
    }

    /// Layers base first; sizes are unknown (-1) and throwaway layers are
    /// marked empty.
    pub fn layer_infos(&self) -> Vec<LayerInfo> {
        self.fs_layers
            .iter()
            .zip(&self.compat)
            .rev()
            .map(|(blob_sum, c)| LayerInfo {
                descriptor: Descriptor {
                    digest_text: blob_sum.clone(),
                    size: -1,
                    ..Descriptor::default()
                },
                empty_layer: c.throwaway,
            })
            .collect()
    }

    /// Converts to Docker schema 2, as containers/image does: the layers
    /// that are not throwaway (base first), each gzip with the size it was
    /// copied with, and a config built from the history with the layers'
    /// diff IDs. `layers` gives, for each entry of [`Schema1::layer_infos`]
    /// (base first), its size and the sha256 of its uncompressed content.
    /// Returns the config blob and the manifest.
    pub fn to_schema2(
        &self,
        layers: &[(i64, Digest)],
    ) -> Result<(Vec<u8>, Vec<u8>), ManifestError> {
        let infos = self.layer_infos();
        if layers.len() != infos.len() {
            return Err(HistoryError::LengthMismatch {
                layers: infos.len(),
                history: layers.len(),
            }
            .into());
        }
        let mut diff_ids = Vec::new();
        let mut descriptors = Vec::new();
        for (info, (size, diff_id)) in infos.iter().zip(layers) {
            if info.empty_layer {
                continue;
            }
            diff_ids.push(diff_id.clone());
            let mut layer = json::Object::default();
            layer.set("mediaType", Value::from(mt::DOCKER_LAYER_GZIP));
            layer.set("size", Value::from(*size));
            layer.set("digest", Value::from(info.descriptor.digest_text.as_str()));
            descriptors.push(Value::Object(layer));
        }
        let config = self.to_schema2_config(&diff_ids)?;
        let config_digest = Digest::sha256_of(&config);
        let mut config_descriptor = json::Object::default();
        config_descriptor.set("mediaType", Value::from(mt::DOCKER_CONFIG));
        config_descriptor.set("size", Value::from(config.len() as i64));
        config_descriptor.set("digest", Value::from(config_digest.as_str()));
        let manifest = json::Object::from_pairs([
            ("schemaVersion", Value::from(2)),
            ("mediaType", Value::from(mt::DOCKER_V2S2)),
            ("config", Value::Object(config_descriptor)),
            ("layers", Value::Array(descriptors)),
        ]);
        Ok((
            config,
            Value::Object(manifest).to_compact(true).into_bytes(),
        ))
    }

    /// The image ID: the hex digest of [`Schema1::to_schema2_config`] with
    /// no diff IDs, as containers/image computes it.
    pub fn image_id(&self) -> Result<String, ManifestError> {
        Ok(Digest::sha256_of(&self.to_schema2_config(&[])?)
            .encoded()
            .to_string())
    }

    /// The Docker image config containers/image derives from the history
    /// (`Schema1.ToSchema2Config`): the top entry's legacy JSON without its
    /// ID fields, plus `history` and `rootfs`, keys sorted, written the way
    /// Go's encoder writes them.
    pub fn to_schema2_config(&self, diff_ids: &[Digest]) -> Result<Vec<u8>, ManifestError> {
        let text = self.history.first().map(String::as_bytes).unwrap_or(b"{}");
        let pointer = "/history/0/v1Compatibility";
        let decoded = json::parse(text).map_err(|e| HistoryError::Entry {
            index: 0,
            reason: e.to_string(),
        })?;
        let empty = json::Object::default();
        let object = match &decoded {
            Value::Object(o) => o,
            _ => &empty,
        };
        let docker_version = Fields::new(object, pointer).string("docker_version")?;
        let reencoded;
        let top: &[u8] = if v1image::needs_reencode(&docker_version) {
            reencoded = v1image::reencode(object)?;
            &reencoded
        } else {
            text
        };
        let mut rootfs = String::from(r#"{"type":"layers""#);
        if !diff_ids.is_empty() {
            rootfs.push_str(r#","diff_ids":["#);
            for (i, d) in diff_ids.iter().enumerate() {
                if i > 0 {
                    rootfs.push(',');
                }
                json::write_string(&mut rootfs, d.as_str(), true);
            }
            rootfs.push(']');
        }
        rootfs.push('}');
        Ok(marshal_raw_map(
            top,
            &["id", "parent", "parent_id", "layer_id", "throwaway", "Size"],
            [
                ("rootfs", rootfs.into_bytes()),
                ("history", self.converted_history().into_bytes()),
            ],
        ))
    }

    /// The OCI-style history, base first, as Go marshals
    /// `[]imgspecv1.History`.
    fn converted_history(&self) -> String {
        let mut out = String::from("[");
        for (i, c) in self.compat.iter().rev().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"created\":");
            let created = c
                .created
                .as_deref()
                .and_then(rfc3339::normalize)
                .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string());
            json::write_string(&mut out, &created, true);
            let created_by = crate::join(&c.cmd, " ");
            // Field order of Docker's `image.History`, which containers/image
            // marshals here.
            for (key, value) in [
                ("author", &c.author),
                ("created_by", &created_by),
                ("comment", &c.comment),
            ] {
                if !value.is_empty() {
                    out.push_str(",\"");
                    out.push_str(key);
                    out.push_str("\":");
                    json::write_string(&mut out, value, true);
                }
            }
            if c.throwaway {
                out.push_str(",\"empty_layer\":true");
            }
            out.push('}');
        }
        out.push(']');
        out
    }
}

/// The gzip stream of an empty tar archive (1024 zero bytes) that schema 1
/// names for history entries without a layer of their own, byte for byte
/// the one Docker and containers/image write, so that its digest is
/// [`GZIPPED_EMPTY_LAYER_DIGEST`].
pub const GZIPPED_EMPTY_LAYER: [u8; 32] = [
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x09, 0x6e, 0x88, 0x00, 0xff, 0x62, 0x18, 0x05, 0xa3, 0x60, 0x14,
    0x8c, 0x58, 0x00, 0x08, 0x00, 0x00, 0xff, 0xff, 0x2e, 0xaf, 0xb5, 0xef, 0x00, 0x04, 0x00, 0x00,
];

/// The digest of [`GZIPPED_EMPTY_LAYER`].
pub const GZIPPED_EMPTY_LAYER_DIGEST: &str =
    "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4";

/// What building a schema 1 manifest from an image config needs.
#[derive(Debug, Clone, Copy)]
pub struct FromConfig<'a> {
    /// The Docker image config.
    pub config: &'a [u8],
    /// The layer digests, base first, as the source manifest names them
    /// (the legacy image IDs are derived from these).
    pub source_layers: &'a [String],
    /// The same layers as the destination stores them (different when a
    /// layer was compressed on the way).
    pub written_layers: &'a [String],
    /// The repository path of a registry destination, else empty.
    pub name: &'a str,
    /// The tag of a registry destination, else empty.
    pub tag: &'a str,
}

/// An unsigned schema 1 manifest built from an image config.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    /// Go's compact encoding of the manifest, ready for
    /// [`super::jws::Signing`].
    pub unsigned: Vec<u8>,
    /// Whether it names [`GZIPPED_EMPTY_LAYER`], which the destination must
    /// then hold.
    pub uses_empty_layer: bool,
}

/// One entry of the config's `history`, as Docker's `image.History`
/// decodes it.
struct ConfigHistory {
    /// As Go writes the decoded `time.Time` back; the zero time if unset.
    created: String,
    author: String,
    created_by: String,
    comment: String,
    empty_layer: bool,
}

/// Builds the schema 1 manifest containers/image makes of a schema 2 image
/// (`convertToManifestSchema1`, after docker/distribution's schema 1
/// builder):
///
/// - one `fsLayers`/`history` pair per entry of the config's `history`,
///   top first; entries marked `empty_layer` name the gzipped empty layer,
///   the others the image's layers in order;
/// - each entry gets a legacy ID, the sha256 of the layer's hex digest and
///   its parent's ID joined by a space (the base's parent is empty), and a
///   `v1Compatibility` of just its ID, parent, comment, creation time, a
///   `container_config.Cmd` holding `created_by`, author and `throwaway`;
/// - the top entry instead carries the whole config less `rootfs` and
///   `history`, with its ID (from its layer, its parent and the config text)
///   and parent.
///
/// Layers that no history entry accounts for are refused: containers/image
/// leaves them out of the manifest, which silently yields a different
/// image.
pub fn from_config(input: &FromConfig<'_>) -> Result<Built, ConvertError> {
    if input.source_layers.len() != input.written_layers.len() {
        return Err(ConvertError::LayerCount {
            layers: input.source_layers.len(),
            written: input.written_layers.len(),
        });
    }
    let config_error = |reason: String| ConvertError::Config { reason };
    let root = json::parse(input.config).map_err(|e| config_error(e.to_string()))?;
    let object = root
        .as_struct()
        .ok_or_else(|| config_error(not_an_object(&root)))?;
    let f = Fields::new(object, "");
    let architecture = f
        .string("architecture")
        .map_err(|e| config_error(e.to_string()))?;
    let history = f
        .slice("history", ConfigHistory::decode)
        .map_err(|e| config_error(e.to_string()))?;
    let Some(top) = history.last() else {
        return Err(ConvertError::NoHistory);
    };

    let layer_hex = |digest: &str| -> Result<String, ConvertError> {
        Digest::parse(digest)
            .map(|d| d.encoded().to_string())
            .map_err(|error| ConvertError::LayerDigest {
                digest: digest.to_string(),
                error,
            })
    };
    let legacy_id = |parts: &[&str]| {
        Digest::sha256_of(crate::join(parts, " ").as_bytes())
            .encoded()
            .to_string()
    };
    // Base first, as the config lists history.
    let mut blob_sums = Vec::with_capacity(history.len());
    let mut entries = Vec::with_capacity(history.len());
    let mut layers = input.source_layers.iter().zip(input.written_layers);
    let mut parent = String::new();
    let mut top_source_hex = String::new();
    for h in &history {
        let (source, written) = if h.empty_layer {
            (GZIPPED_EMPTY_LAYER_DIGEST, GZIPPED_EMPTY_LAYER_DIGEST)
        } else {
            let (s, w) = layers.next().ok_or(ConvertError::HistoryNeedsMoreLayers {
                layers: input.source_layers.len(),
            })?;
            (s.as_str(), w.as_str())
        };
        top_source_hex = layer_hex(source)?;
        layer_hex(written)?;
        let id = legacy_id(&[&top_source_hex, &parent]);
        entries.push(h.v1_compatibility(&id, &parent));
        blob_sums.push(written.to_string());
        if entries.len() < history.len() {
            parent = id;
        }
    }
    let unused = layers.count();
    if unused > 0 {
        return Err(ConvertError::LayersWithoutHistory {
            layers: input.source_layers.len(),
            unused,
        });
    }
    // The top entry: the config itself, under an ID that also covers it.
    let config_text =
        core::str::from_utf8(input.config).map_err(|_| config_error("not UTF-8".into()))?;
    let top_id = legacy_id(&[&top_source_hex, &parent, config_text]);
    let mut set = alloc::vec![("id", quoted(&top_id))];
    if !parent.is_empty() {
        set.push(("parent", quoted(&parent)));
    }
    if top.empty_layer {
        set.push(("throwaway", b"true".to_vec()));
    }
    let top_entry = marshal_raw_map(input.config, &["rootfs", "history"], set);
    if let Some(last) = entries.last_mut() {
        *last = String::from_utf8(top_entry).map_err(|_| config_error("not UTF-8".into()))?;
    }

    // Go's encoding of containers/image's `Schema1` struct, top first.
    let mut out = String::from("{\"name\":");
    json::write_string(&mut out, input.name, true);
    out.push_str(",\"tag\":");
    json::write_string(&mut out, input.tag, true);
    out.push_str(",\"architecture\":");
    json::write_string(&mut out, &architecture, true);
    out.push_str(",\"fsLayers\":");
    write_wrapped(&mut out, "blobSum", blob_sums.iter().rev());
    out.push_str(",\"history\":");
    write_wrapped(&mut out, "v1Compatibility", entries.iter().rev());
    out.push_str(",\"schemaVersion\":1}");
    let unsigned = out.into_bytes();
    // What containers/image does with the result next: read it back as
    // schema 1. A config whose fields do not fit there fails here.
    Schema1::parse(&unsigned).map_err(|error| ConvertError::Schema1 { error })?;
    Ok(Built {
        uses_empty_layer: history.iter().any(|h| h.empty_layer),
        unsigned,
    })
}

/// A string as Go's encoder writes it, as bytes.
fn quoted(text: &str) -> Vec<u8> {
    let mut out = String::new();
    json::write_string(&mut out, text, true);
    out.into_bytes()
}

impl ConfigHistory {
    fn decode(value: &Value, pointer: &str) -> Result<Self, json::TypeError> {
        let object = value
            .as_struct()
            .ok_or_else(|| value.type_error(pointer, "struct"))?;
        let f = Fields::new(object, pointer);
        let created = match object.field("created") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                Some(rfc3339::normalize(s).ok_or_else(|| json::TypeError {
                    pointer: json::child_pointer(pointer, "created"),
                    found: alloc::format!("{s}", s = crate::Quoted(s)),
                    expected: "an RFC 3339 time",
                })?)
            }
            Some(other) => {
                return Err(other.type_error(&json::child_pointer(pointer, "created"), "time"));
            }
        };
        Ok(ConfigHistory {
            created: created.unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string()),
            author: f.string("author")?,
            created_by: f.string("created_by")?,
            comment: f.string("comment")?,
            empty_layer: f.get::<bool>("empty_layer")?.unwrap_or(false),
        })
    }

    /// Go's encoding of containers/image's `Schema1V1Compatibility` for
    /// this entry: fields in struct order, `omitempty` where the struct
    /// says so (never for `created` and `container_config`).
    fn v1_compatibility(&self, id: &str, parent: &str) -> String {
        let mut out = String::from("{\"id\":");
        json::write_string(&mut out, id, true);
        if !parent.is_empty() {
            out.push_str(",\"parent\":");
            json::write_string(&mut out, parent, true);
        }
        if !self.comment.is_empty() {
            out.push_str(",\"comment\":");
            json::write_string(&mut out, &self.comment, true);
        }
        out.push_str(",\"created\":");
        json::write_string(&mut out, &self.created, true);
        out.push_str(",\"container_config\":{\"Cmd\":[");
        json::write_string(&mut out, &self.created_by, true);
        out.push_str("]}");
        if !self.author.is_empty() {
            out.push_str(",\"author\":");
            json::write_string(&mut out, &self.author, true);
        }
        if self.empty_layer {
            out.push_str(",\"throwaway\":true");
        }
        out.push('}');
        out
    }
}

/// Reads `{"<field>": "..."}` as a Go struct with one string field.
fn struct_string_field(
    value: &Value,
    pointer: &str,
    field: &str,
) -> Result<String, json::TypeError> {
    match value {
        Value::Null => Ok(String::new()),
        Value::Object(o) => Fields::new(o, pointer).string(field),
        other => Err(json::TypeError {
            pointer: pointer.into(),
            found: other.kind().into(),
            expected: "struct",
        }),
    }
}

/// Go's `json.Marshal` of the `map[string]*json.RawMessage` that
/// `json.Unmarshal` makes of the object `text` (exact keys, the last
/// duplicate winning), less the `drop` keys and with `set` added or
/// replacing: keys sorted by their bytes, values compacted with HTML
/// escaping. `text` must be valid JSON; anything but an object counts as
/// an empty map.
fn marshal_raw_map<'a>(
    text: &[u8],
    drop: &[&str],
    set: impl IntoIterator<Item = (&'a str, Vec<u8>)>,
) -> Vec<u8> {
    // Kept sorted by key as it is filled, a later duplicate replacing the
    // earlier value, rather than deduplicated and sorted at the end: the
    // same map, and no stable sort of `(String, Vec<u8>)` in the
    // WebAssembly module (4,099 bytes of it after wasm-opt).
    fn put(entries: &mut Vec<(String, Vec<u8>)>, key: String, value: Vec<u8>) {
        match entries.binary_search_by(|(k, _)| k.as_bytes().cmp(key.as_bytes())) {
            Ok(i) => entries[i].1 = value,
            Err(i) => entries.insert(i, (key, value)),
        }
    }
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    if let Ok(Some(spans)) = json::object_member_spans(text) {
        for (key, range) in spans {
            if drop.contains(&key.as_str()) {
                continue;
            }
            let mut value = Vec::new();
            json::compact_raw(&text[range], &mut value);
            put(&mut entries, key, value);
        }
    }
    for (key, value) in set {
        put(&mut entries, key.to_string(), value);
    }
    let mut out = Vec::new();
    out.push(b'{');
    for (i, (key, value)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let mut k = String::new();
        json::write_string(&mut k, key, true);
        out.extend_from_slice(k.as_bytes());
        out.push(b':');
        out.extend_from_slice(value);
    }
    out.push(b'}');
    out
}

/// An array of objects with one string member `key` each, one for each of
/// `values`: schema 1's `fsLayers` and `history`.
fn write_wrapped<'a>(out: &mut String, key: &str, values: impl Iterator<Item = &'a String>) {
    json::write_joined(out, ('[', ']'), values, |out, value| {
        out.push_str("{\"");
        out.push_str(key);
        out.push_str("\":");
        json::write_string(out, value, true);
        out.push('}');
    });
}

/// Why a document read as a Go struct is not one.
fn not_an_object(value: &Value) -> String {
    alloc::format!("a JSON {}, not an object", value.kind())
}

fn is_v1_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl V1Compatibility {
    fn parse(text: &str, index: usize) -> Result<Self, HistoryError> {
        let entry_error = |reason: String| HistoryError::Entry { index, reason };
        let value = json::parse(text.as_bytes()).map_err(|e| entry_error(e.to_string()))?;
        let object = value
            .as_struct()
            .ok_or_else(|| entry_error(not_an_object(&value)))?;
        let f = Fields::new(object, "");
        let type_error = |e: json::TypeError| entry_error(e.to_string());
        let created = match f.object.field("created") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                if rfc3339::normalize(s).is_none() {
                    return Err(entry_error(alloc::format!(
                        "created {s} is not an RFC 3339 time",
                        s = crate::Quoted(s)
                    )));
                }
                Some(s.clone())
            }
            Some(other) => {
                return Err(entry_error(alloc::format!(
                    "created is a JSON {}, not a time string",
                    other.kind()
                )));
            }
        };
        let cmd = match f.object("container_config").map_err(type_error)? {
            None => Vec::new(),
            Some((o, p)) => Fields::new(o, &p).strings("Cmd").map_err(type_error)?,
        };
        Ok(V1Compatibility {
            id: f.string("id").map_err(type_error)?,
            parent: f.string("parent").map_err(type_error)?,
            comment: f.string("comment").map_err(type_error)?,
            created,
            cmd,
            author: f.string("author").map_err(type_error)?,
            throwaway: f
                .get::<bool>("throwaway")
                .map_err(type_error)?
                .unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod conversion_tests {
    use super::*;

    #[test]
    fn schema1_converts_to_schema2_without_throwaway_layers() {
        let text = include_str!("../../tests/fixtures/plan/v2s1-mixed-layers.json");
        let m = Schema1::parse(text.as_bytes()).unwrap();
        let infos = m.layer_infos();
        let layers: Vec<(i64, Digest)> = infos
            .iter()
            .enumerate()
            .map(|(i, _)| (100 + i as i64, Digest::sha256_of(&[i as u8])))
            .collect();
        let (config, manifest) = m.to_schema2(&layers).unwrap();
        let converted = crate::Manifest::parse(&manifest).unwrap();
        assert_eq!(converted.media_type(), mt::DOCKER_V2S2);
        let kept = infos.iter().filter(|l| !l.empty_layer).count();
        assert!(
            kept > 0 && kept < infos.len(),
            "the fixture mixes real and throwaway layers"
        );
        assert_eq!(converted.layers().len(), kept);
        assert_eq!(
            converted.config().digest_text,
            Digest::sha256_of(&config).as_str()
        );
        let config_text = core::str::from_utf8(&config).unwrap();
        assert!(config_text.contains("\"diff_ids\":["), "{config_text}");
    }
}
