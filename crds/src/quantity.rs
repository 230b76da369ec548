use thiserror::Error;

/// A Kubernetes quantity that is not a whole number of bytes.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("`{0}` is not a byte quantity (examples: 512Mi, 2Gi, 1000000)")]
pub struct QuantityError(pub String);

/// Parses a Kubernetes byte quantity (`2Gi`, `500M`, `1048576`) into bytes.
pub fn parse_quantity(text: &str) -> Result<u64, QuantityError> {
    let err = || QuantityError(text.to_owned());
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, suffix) = trimmed.split_at(split);
    let number: u64 = digits.parse().map_err(|_| err())?;
    let multiplier: u64 = match suffix {
        "" => 1,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        _ => return Err(err()),
    };
    number.checked_mul(multiplier).ok_or_else(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_binary_and_decimal_suffixes() {
        assert_eq!(parse_quantity("2Gi"), Ok(2 << 30));
        assert_eq!(parse_quantity("500M"), Ok(500_000_000));
        assert_eq!(parse_quantity("1048576"), Ok(1 << 20));
        assert!(parse_quantity("1.5Gi").is_err());
        assert!(parse_quantity("Gi").is_err());
        assert!(parse_quantity("99999999999Ti").is_err());
    }
}
