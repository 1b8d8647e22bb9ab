//! Human-readable output helpers.

/// `1.5 MiB`-style sizes; exact bytes below 1 KiB.
pub fn human_size(bytes: i64) -> String {
    if bytes < 0 {
        return "unknown".into();
    }
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A digest shortened for tables: `sha256:0123456789ab`.
pub fn short_digest(digest: &str) -> &str {
    match digest.split_once(':') {
        Some((alg, hex)) if hex.len() > 12 => &digest[..alg.len() + 1 + 12],
        _ => digest,
    }
}

/// Text for a terminal with control characters (ESC, BEL, CR, NUL, C1
/// codes) shown as `\u{1b}` escapes, line breaks and tabs kept. Manifests
/// come from strangers; printed raw, a media type or platform holding
/// `ESC ]0;…BEL` would retitle the terminal or repaint what is above it.
pub fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// One value from a document, for showing on a line of a table or a
/// `Key: value` line: as [`terminal_safe`], with line breaks escaped too
/// (`\n`, and `\r`, `\u{85}`, `\u{2028}`, `\u{2029}`, vertical tab and
/// form feed, which some terminals and viewers also break on); tabs stay.
/// A value may hold a newline; printed raw it would end its line early
/// and start one that looks like ferry's own (`Digest:      sha256:…`),
/// misleading a reader or a script that splits lines.
pub fn line_safe(text: &str) -> std::borrow::Cow<'_, str> {
    let breaks = |c: char| (c.is_control() && c != '\t') || matches!(c, '\u{2028}' | '\u{2029}');
    if !text.chars().any(breaks) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if breaks(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_for_terminals() {
        assert_eq!(terminal_safe("linux/amd64\n\t"), "linux/amd64\n\t");
        assert_eq!(
            terminal_safe("a\u{1b}]0;x\u{7}\r\0\u{9b}"),
            "a\\u{1b}]0;x\\u{7}\\u{d}\\u{0}\\u{9b}"
        );
    }

    #[test]
    fn values_on_a_line_have_their_line_breaks_escaped() {
        assert_eq!(line_safe("linux/amd64\t"), "linux/amd64\t");
        assert_eq!(
            line_safe("a\nDigest: x\r\u{2028}\u{85}\u{1b}"),
            "a\\u{a}Digest: x\\u{d}\\u{2028}\\u{85}\\u{1b}"
        );
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MiB");
        assert_eq!(human_size(-1), "unknown");
    }

    #[test]
    fn digests_shorten_after_twelve_hex_digits() {
        assert_eq!(
            short_digest("sha256:0123456789abcdef0123"),
            "sha256:0123456789ab"
        );
        assert_eq!(short_digest("weird"), "weird");
    }
}
