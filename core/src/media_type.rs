//! Media types of manifests, lists, configs and layers, and how
//! containers/image recognises a manifest's type from its bytes.

use crate::json::{self, GoDecode, Value};

/// Docker schema 1, unsigned.
pub const DOCKER_V2S1: &str = "application/vnd.docker.distribution.manifest.v1+json";
/// Docker schema 1 with JWS signatures: the form registries actually serve.
pub const DOCKER_V2S1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";
/// Docker schema 2 image manifest.
pub const DOCKER_V2S2: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Docker image config.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker gzip layer.
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// Docker uncompressed layer.
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
/// Docker foreign (non-distributable) layer, uncompressed.
pub const DOCKER_FOREIGN_LAYER: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar";
/// Docker foreign (non-distributable) layer, gzip.
pub const DOCKER_FOREIGN_LAYER_GZIP: &str =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/// OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// OCI's empty descriptor (`{}`), the config of artifacts.
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// OCI uncompressed layer.
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
/// OCI gzip layer.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// OCI zstd layer.
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// OCI non-distributable layer, uncompressed (deprecated by the spec).
pub const OCI_LAYER_NONDISTRIBUTABLE: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar";
/// OCI non-distributable layer, gzip (deprecated by the spec).
pub const OCI_LAYER_NONDISTRIBUTABLE_GZIP: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
/// OCI non-distributable layer, zstd (deprecated by the spec).
pub const OCI_LAYER_NONDISTRIBUTABLE_ZSTD: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";

/// The six manifest and list types, in the order containers/image lists
/// them when it asks a registry for a manifest.
pub const MANIFEST_TYPES: [&str; 6] = [
    OCI_MANIFEST,
    DOCKER_V2S2,
    DOCKER_V2S1_SIGNED,
    DOCKER_V2S1,
    DOCKER_LIST,
    OCI_INDEX,
];

/// Maps a declared or guessed type to the type ferry handles it as.
///
/// As in containers/image, anything unknown, the empty string and the
/// legacy `application/json` are treated as signed schema 1: registries
/// from before schema 2 served schema 1 under those names, and treating them
/// so is what makes their digests come out right.
pub fn normalize(media_type: &str) -> &str {
    match media_type {
        DOCKER_V2S1 | DOCKER_V2S1_SIGNED | DOCKER_V2S2 | DOCKER_LIST | OCI_MANIFEST | OCI_INDEX => {
            media_type
        }
        _ => DOCKER_V2S1_SIGNED,
    }
}

/// Whether the type is a manifest list (Docker list or OCI index).
pub fn is_list(media_type: &str) -> bool {
    matches!(media_type, DOCKER_LIST | OCI_INDEX)
}

/// Whether the type is one of the six ferry understands.
pub fn is_manifest_type(media_type: &str) -> bool {
    MANIFEST_TYPES.contains(&media_type)
}

/// Guesses a manifest's type from its bytes alone, with containers/image's
/// rules (`manifest.GuessMIMEType`). Returns `""` when nothing fits.
///
/// A declared `mediaType` of one of the four schema-2-era types wins. Else
/// `schemaVersion` decides: 1 is schema 1 (signed when it has a non-null
/// `signatures` member);
/// 2 is an OCI document that predates mandatory `mediaType`, told apart by
/// its config type and whether it has `manifests`. Note the containers/image
/// quirk, kept for compatibility: an index-like document without a
/// `mediaType` whose config has a custom type is guessed as that config
/// type.
pub fn guess(bytes: &[u8]) -> String {
    guess_inner(bytes).into()
}

fn guess_inner(bytes: &[u8]) -> alloc::borrow::Cow<'static, str> {
    // Each step in containers/image is a separate json.Unmarshal into a
    // small struct; any decoding error there makes the guess "".
    let Ok(doc) = json::parse(bytes) else {
        return "".into();
    };
    let empty = json::Object::default();
    let obj = match &doc {
        Value::Object(o) => o,
        // Unmarshalling `null` into a struct succeeds and sets nothing;
        // any other non-object is a type error.
        Value::Null => &empty,
        _ => return "".into(),
    };
    // containers/image first reads mediaType, schemaVersion and signatures
    // in one struct: a wrong type in any of them makes the guess "".
    let Ok(media_type) = read::<String>(obj, "mediaType") else {
        return "".into();
    };
    let Ok(version) = read::<i64>(obj, "schemaVersion") else {
        return "".into();
    };
    let media_type = media_type.unwrap_or_default();
    match media_type.as_str() {
        DOCKER_V2S2 => return DOCKER_V2S2.into(),
        DOCKER_LIST => return DOCKER_LIST.into(),
        OCI_MANIFEST => return OCI_MANIFEST.into(),
        OCI_INDEX => return OCI_INDEX.into(),
        _ => {}
    }
    match version.unwrap_or(0) {
        1 => {
            // `signatures` is read into an interface{}: any value but
            // null, even an empty array or a string, means "signed".
            match obj.field("signatures") {
                None | Some(Value::Null) => DOCKER_V2S1.into(),
                Some(_) => DOCKER_V2S1_SIGNED.into(),
            }
        }
        2 => {
            let config_type = match obj.field("config") {
                None | Some(Value::Null) => String::new(),
                Some(Value::Object(config)) => match read::<String>(config, "mediaType") {
                    Ok(t) => t.unwrap_or_default(),
                    Err(()) => return "".into(),
                },
                Some(_) => return "".into(),
            };
            match config_type.as_str() {
                OCI_CONFIG => return OCI_MANIFEST.into(),
                DOCKER_CONFIG => return DOCKER_V2S2.into(),
                _ => {}
            }
            let has_manifests = match obj.field("manifests") {
                None | Some(Value::Null) => false,
                Some(Value::Array(items)) => {
                    if !items.iter().all(descriptor_decodes) {
                        return "".into();
                    }
                    !items.is_empty()
                }
                Some(_) => return "".into(),
            };
            if has_manifests {
                if config_type.is_empty() {
                    return OCI_INDEX.into();
                }
                return config_type.into();
            }
            OCI_MANIFEST.into()
        }
        _ => "".into(),
    }
}

fn read<T: GoDecode>(obj: &json::Object, name: &str) -> Result<Option<T>, ()> {
    match obj.field(name) {
        None => Ok(None),
        Some(v) => T::go_decode(v, "").map_err(|_| ()),
    }
}

/// Whether an element of `manifests` decodes into an OCI descriptor.
fn descriptor_decodes(item: &Value) -> bool {
    crate::manifest::Descriptor::decode_oci(item, "").is_ok()
}

use alloc::string::String;
