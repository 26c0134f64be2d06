//! A position in PostgreSQL's write-ahead log, as the server prints it.

use std::fmt;
use std::str::FromStr;

/// A position in the write-ahead log (a log sequence number): a byte
/// offset, printed as two hexadecimal halves, `16/B374D848`.
///
/// ```
/// use stream_runtime::postgres::cdc::Lsn;
///
/// let lsn: Lsn = "16/B374D848".parse().unwrap();
/// assert_eq!(lsn, Lsn(0x16_B374_D848));
/// assert_eq!(lsn.to_string(), "16/B374D848");
/// assert!(lsn < "17/0".parse().unwrap());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

/// A text that is not an LSN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a WAL position (an LSN is two hexadecimal numbers, `16/B374D848`)")]
pub struct LsnError(String);

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

impl FromStr for Lsn {
    type Err = LsnError;

    fn from_str(text: &str) -> Result<Self, LsnError> {
        let error = || LsnError(text.to_owned());
        let (high, low) = text.split_once('/').ok_or_else(error)?;
        let half = |h: &str| {
            let hex = !h.is_empty() && h.len() <= 8 && h.bytes().all(|b| b.is_ascii_hexdigit());
            hex.then(|| u32::from_str_radix(h, 16).ok()).flatten()
        };
        let (high, low) = (half(high).ok_or_else(error)?, half(low).ok_or_else(error)?);
        Ok(Lsn(u64::from(high) << 32 | u64::from(low)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_prints_the_servers_form() {
        for (text, value) in [
            ("0/0", 0),
            ("0/16B3748", 0x16B_3748),
            ("FFFFFFFF/FFFFFFFF", u64::MAX),
            ("1/0", 1 << 32),
        ] {
            let lsn: Lsn = text.parse().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(lsn, Lsn(value));
            assert_eq!(lsn.to_string(), text);
        }
        let lower: Lsn = "0/16b3748".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(lower, Lsn(0x16B_3748));
    }

    #[test]
    fn refuses_what_is_not_one() {
        for text in [
            "",
            "0",
            "/0",
            "0/",
            "0/0/0",
            "G/0",
            "100000000/0",
            "-1/0",
            "+1/0",
            " 0/0",
        ] {
            let error = text.parse::<Lsn>().err();
            assert!(
                error.is_some_and(|e| e.to_string().contains("is not a WAL position")),
                "{text:?}"
            );
        }
    }
}
