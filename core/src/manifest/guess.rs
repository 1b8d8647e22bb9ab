//! Recognising a manifest's type from its bytes, as containers/image does.

use alloc::string::String;

use super::Descriptor;
use crate::json::{self, GoDecode, Value};
use crate::media_type::*;

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
pub fn guess_media_type(bytes: &[u8]) -> String {
    guess_inner(bytes).into()
}

fn guess_inner(bytes: &[u8]) -> alloc::borrow::Cow<'static, str> {
    // Each step in containers/image is a separate json.Unmarshal into a
    // small struct; any decoding error there makes the guess "".
    let Ok(doc) = json::parse(bytes) else {
        return "".into();
    };
    // Unmarshalling `null` into a struct succeeds and sets nothing; any
    // other non-object is a type error.
    let Some(obj) = doc.as_struct() else {
        return "".into();
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
    Descriptor::decode_oci(item, "").is_ok()
}
