//! Firehose's S3 prefix expressions (`!{namespace:value}`), parsed once so validation and key
//! naming agree on what a prefix means.

use thiserror::Error;

/// One field of a `!{timestamp:...}` pattern (Java `DateTimeFormatter` letters Firehose users write).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimePart {
    Literal(String),
    Year4,
    Year2,
    Month,
    Day,
    DayOfYear,
    Hour,
    Minute,
    Second,
}

/// One piece of a prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrefixPart {
    Literal(String),
    Timestamp(Vec<TimePart>),
    /// `!{firehose:random-string}`: 11 random characters, new per occurrence.
    RandomString,
    /// `!{firehose:error-output-type}`: only in the error output prefix.
    ErrorOutputType,
    /// `!{partitionKeyFromQuery:<key>}` or `!{partitionKeyFromLambda:<key>}` (dynamic
    /// partitioning), kept as written: `partitionKeyFromQuery:<key>`.
    PartitionKey(String),
}

/// A parsed prefix.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrefixTemplate {
    pub parts: Vec<PrefixPart>,
}

/// Why a prefix does not parse.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PrefixError {
    #[error(
        "`!{{` must start an expression of the form !{{namespace:value}}, and it is not closed"
    )]
    Unclosed,
    #[error(
        "unknown expression `!{{{0}}}`: use !{{timestamp:...}}, !{{firehose:random-string}}, !{{firehose:error-output-type}}, !{{partitionKeyFromQuery:...}} or !{{partitionKeyFromLambda:...}}"
    )]
    Unknown(String),
    #[error(
        "timestamp pattern `{0}` uses an unsupported letter `{1}` (supported: yyyy yy MM dd DDD HH mm ss and 'quoted text')"
    )]
    BadPattern(String, char),
}

impl PrefixTemplate {
    /// Parses a prefix.
    pub fn parse(text: &str) -> Result<Self, PrefixError> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("!{") {
            if start > 0 {
                parts.push(PrefixPart::Literal(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after.find('}').ok_or(PrefixError::Unclosed)?;
            let expr = &after[..end];
            parts.push(parse_expression(expr)?);
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(PrefixPart::Literal(rest.to_owned()));
        }
        Ok(Self { parts })
    }

    /// Whether any `!{...}` expression appears.
    pub fn has_expressions(&self) -> bool {
        self.parts
            .iter()
            .any(|p| !matches!(p, PrefixPart::Literal(_)))
    }

    /// Whether a `!{timestamp:...}` expression appears.
    pub fn has_timestamp(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, PrefixPart::Timestamp(_)))
    }

    /// Whether `!{firehose:error-output-type}` appears.
    pub fn has_error_output_type(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, PrefixPart::ErrorOutputType))
    }

    /// The `partitionKeyFrom...:<key>` expressions, in order.
    pub fn partition_keys(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            PrefixPart::PartitionKey(k) => Some(k.as_str()),
            _ => None,
        })
    }

    /// The default `yyyy/MM/dd/HH/` time prefix.
    pub fn default_time() -> Vec<TimePart> {
        vec![
            TimePart::Year4,
            TimePart::Literal("/".into()),
            TimePart::Month,
            TimePart::Literal("/".into()),
            TimePart::Day,
            TimePart::Literal("/".into()),
            TimePart::Hour,
            TimePart::Literal("/".into()),
        ]
    }

    /// Firehose's rule: a prefix with no timestamp expression gets `yyyy/MM/dd/HH/` appended by
    /// plain concatenation (no `/` inserted) — unless it names partition keys (dynamic
    /// partitioning lays out keys exactly as the prefix says).
    pub fn with_default_time(mut self) -> Self {
        if !self.has_timestamp() && self.partition_keys().next().is_none() {
            self.parts.push(PrefixPart::Timestamp(Self::default_time()));
        }
        self
    }
}

fn parse_expression(expr: &str) -> Result<PrefixPart, PrefixError> {
    let unknown = || PrefixError::Unknown(expr.to_owned());
    let (namespace, value) = expr.split_once(':').ok_or_else(unknown)?;
    match (namespace.trim(), value.trim()) {
        ("timestamp", pattern) => parse_time_pattern(pattern).map(PrefixPart::Timestamp),
        ("firehose", "random-string") => Ok(PrefixPart::RandomString),
        ("firehose", "error-output-type") => Ok(PrefixPart::ErrorOutputType),
        (ns @ ("partitionKeyFromQuery" | "partitionKeyFromLambda"), key) if !key.is_empty() => {
            Ok(PrefixPart::PartitionKey(format!("{ns}:{key}")))
        }
        _ => Err(unknown()),
    }
}

fn parse_time_pattern(pattern: &str) -> Result<Vec<TimePart>, PrefixError> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // Quoted literal; '' is a single quote.
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '\'' {
                literal.push(chars[j]);
                j += 1;
            }
            if j == i + 1 {
                literal.push('\'');
            }
            i = j + 1;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            literal.push(c);
            i += 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|&&x| x == c).count();
        let part = match (c, run) {
            ('y', 4) | ('u', 4) => TimePart::Year4,
            ('y', 2) | ('u', 2) => TimePart::Year2,
            ('M', 2) => TimePart::Month,
            ('d', 2) => TimePart::Day,
            ('D', 3) => TimePart::DayOfYear,
            ('H', 2) => TimePart::Hour,
            ('m', 2) => TimePart::Minute,
            ('s', 2) => TimePart::Second,
            _ => return Err(PrefixError::BadPattern(pattern.to_owned(), c)),
        };
        if !literal.is_empty() {
            parts.push(TimePart::Literal(std::mem::take(&mut literal)));
        }
        parts.push(part);
        i += run;
    }
    if !literal.is_empty() {
        parts.push(TimePart::Literal(literal));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_expressions_and_literals() {
        let t = PrefixTemplate::parse("events/!{timestamp:yyyy/MM/dd}/!{firehose:random-string}/")
            .unwrap();
        assert_eq!(t.parts.len(), 5);
        assert!(t.has_timestamp());
        assert!(!t.has_error_output_type());
        assert_eq!(t.parts[3], PrefixPart::RandomString);
    }

    #[test]
    fn quoted_text_is_literal() {
        let t = PrefixTemplate::parse("!{timestamp:'year='yyyy}").unwrap();
        assert_eq!(
            t.parts,
            vec![PrefixPart::Timestamp(vec![
                TimePart::Literal("year=".into()),
                TimePart::Year4
            ])]
        );
    }

    #[test]
    fn rejects_unknown_and_unclosed() {
        assert!(matches!(
            PrefixTemplate::parse("a/!{foo:bar}"),
            Err(PrefixError::Unknown(_))
        ));
        assert_eq!(
            PrefixTemplate::parse("a/!{timestamp:yyyy"),
            Err(PrefixError::Unclosed)
        );
        assert!(matches!(
            PrefixTemplate::parse("!{timestamp:YYYY}"),
            Err(PrefixError::BadPattern(_, 'Y'))
        ));
    }

    #[test]
    fn default_time_is_appended_only_without_timestamp() {
        let t = PrefixTemplate::parse("legacy").unwrap().with_default_time();
        assert_eq!(t.parts.len(), 2);
        let t = PrefixTemplate::parse("x/!{timestamp:yyyy}/")
            .unwrap()
            .with_default_time();
        assert_eq!(t.parts.len(), 3);
    }
}
