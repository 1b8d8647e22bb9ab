//! RFC 3339 timestamps as Go's `time.Time` reads and writes them.

use alloc::string::String;

/// Parses `text` strictly and returns it as Go's `RFC3339Nano` layout
/// writes it back: fraction without trailing zeros, `Z` for a zero
/// offset. `None` when `text` is not a valid timestamp.
pub fn normalize(text: &str) -> Option<String> {
    let b = text.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |r: core::ops::Range<usize>| -> Option<u32> {
        let s = b.get(r)?;
        if !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        core::str::from_utf8(s).ok()?.parse().ok()
    };
    let year = num(0..4)?;
    let month = num(5..7)?;
    let day = num(8..10)?;
    let hour = num(11..13)?;
    let minute = num(14..16)?;
    let second = num(17..19)?;
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut pos = 19;
    let mut fraction = "";
    if matches!(b.get(pos), Some(b'.' | b',')) {
        let start = pos + 1;
        let mut end = start;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        if end == start {
            return None;
        }
        fraction = &text[start..end];
        pos = end;
    }
    let zone = &text[pos..];
    let zone = match zone.as_bytes() {
        [b'Z'] => "Z".into(),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2]
            if [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()) =>
        {
            let hh = u32::from(h1 - b'0') * 10 + u32::from(h2 - b'0');
            let mm = u32::from(m1 - b'0') * 10 + u32::from(m2 - b'0');
            if hh > 23 || mm > 59 {
                return None;
            }
            if hh == 0 && mm == 0 {
                "Z".into()
            } else {
                alloc::format!("{}{hh:02}:{mm:02}", char::from(*sign))
            }
        }
        _ => return None,
    };
    // Go keeps nanoseconds: at most nine digits, then trailing zeros go.
    let nanos = &fraction[..fraction.len().min(9)];
    let nanos = nanos.trim_end_matches('0');
    let mut out = String::from(&text[..19]);
    if !nanos.is_empty() {
        out.push('.');
        out.push_str(nanos);
    }
    out.push_str(&zone);
    Some(out)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    /// Asserts that each `(time, written)` pair normalizes as written.
    fn assert_normalized(pairs: &[(&str, &str)]) {
        for (time, written) in pairs {
            assert_eq!(normalize(time).as_deref(), Some(*written), "{time}");
        }
    }

    #[test]
    fn keeps_nanoseconds_and_trims_trailing_zeros() {
        assert_normalized(&[
            (
                "2018-05-15T13:03:28.171472200Z",
                "2018-05-15T13:03:28.1714722Z",
            ),
            ("2018-05-15T13:03:28.000Z", "2018-05-15T13:03:28Z"),
        ]);
    }

    #[test]
    fn zero_offset_is_written_as_z() {
        assert_normalized(&[
            ("2020-01-01T00:00:00+00:00", "2020-01-01T00:00:00Z"),
            ("2020-01-01T00:00:00+02:00", "2020-01-01T00:00:00+02:00"),
        ]);
    }

    #[test]
    fn rejects_impossible_dates() {
        assert!(normalize("2019-02-29T00:00:00Z").is_none());
        assert!(normalize("2020-02-29T00:00:00Z").is_some());
        assert!(normalize("2020-01-01 00:00:00Z").is_none());
        assert!(normalize("2020-01-01T24:00:00Z").is_none());
    }
}
