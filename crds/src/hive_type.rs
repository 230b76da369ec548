//! Glue/Hive column types, parsed: `string`, `int`, `bigint`, `decimal(10,2)`,
//! `array<struct<a:int,b:string>>`, `map<string,double>`, ...

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HiveType {
    String,
    TinyInt,
    SmallInt,
    Int,
    BigInt,
    Float,
    Double,
    Boolean,
    Timestamp,
    Date,
    Binary,
    Decimal(u8, i8),
    Array(Box<HiveType>),
    Map(Box<HiveType>, Box<HiveType>),
    Struct(Vec<(String, HiveType)>),
}

/// How deeply `array`, `map` and `struct` may nest: the parser, and the converters that walk a
/// type, recurse once per level, and a column type from a hostile manifest must not exhaust
/// the stack. Real schemas nest a few levels.
pub const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HiveTypeError(pub String);

impl fmt::Display for HiveTypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl HiveType {
    pub fn parse(text: &str) -> Result<Self, HiveTypeError> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
            depth: 0,
        };
        let t = p.ty()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(p.error("unexpected text after the type"));
        }
        Ok(t)
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    /// Nested types open at `i`.
    depth: usize,
}

impl Parser<'_> {
    fn error(&self, why: &str) -> HiveTypeError {
        HiveTypeError(format!(
            "{why} at position {} of `{}`",
            self.i,
            String::from_utf8_lossy(self.s)
        ))
    }

    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn word(&mut self) -> String {
        self.ws();
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_')
        {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).to_ascii_lowercase()
    }

    fn expect(&mut self, c: u8) -> Result<(), HiveTypeError> {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected `{}`", c as char)))
        }
    }

    fn peek(&mut self, c: u8) -> bool {
        self.ws();
        self.s.get(self.i) == Some(&c)
    }

    fn number(&mut self) -> Result<i64, HiveTypeError> {
        let w = self.word();
        w.parse().map_err(|_| self.error("expected a number"))
    }

    fn ty(&mut self) -> Result<HiveType, HiveTypeError> {
        let name = self.word();
        if matches!(name.as_str(), "array" | "map" | "struct") {
            if self.depth == MAX_DEPTH {
                return Err(self.error(&format!("types nest more than {MAX_DEPTH} levels")));
            }
            self.depth += 1;
            let t = self.nested(&name);
            self.depth -= 1;
            return t;
        }
        self.scalar(&name)
    }

    fn scalar(&mut self, name: &str) -> Result<HiveType, HiveTypeError> {
        Ok(match name {
            "string" => HiveType::String,
            "varchar" | "char" => {
                self.expect(b'(')?;
                self.number()?;
                self.expect(b')')?;
                HiveType::String
            }
            "tinyint" => HiveType::TinyInt,
            "smallint" => HiveType::SmallInt,
            "int" | "integer" => HiveType::Int,
            "bigint" => HiveType::BigInt,
            "float" => HiveType::Float,
            "double" => HiveType::Double,
            "boolean" => HiveType::Boolean,
            "timestamp" => HiveType::Timestamp,
            "date" => HiveType::Date,
            "binary" => HiveType::Binary,
            "decimal" => {
                let (mut p, mut s) = (10, 0);
                if self.peek(b'(') {
                    self.expect(b'(')?;
                    p = self.number()?;
                    if self.peek(b',') {
                        self.expect(b',')?;
                        s = self.number()?;
                    }
                    self.expect(b')')?;
                }
                if !(1..=38).contains(&p) || !(0..=p).contains(&s) {
                    return Err(self.error("decimal precision must be 1-38 and scale 0-precision"));
                }
                HiveType::Decimal(p as u8, s as i8)
            }
            "" => return Err(self.error("expected a type")),
            other => return Err(self.error(&format!("unknown type `{other}`"))),
        })
    }

    fn nested(&mut self, name: &str) -> Result<HiveType, HiveTypeError> {
        Ok(match name {
            "array" => {
                self.expect(b'<')?;
                let t = self.ty()?;
                self.expect(b'>')?;
                HiveType::Array(Box::new(t))
            }
            "map" => {
                self.expect(b'<')?;
                let k = self.ty()?;
                self.expect(b',')?;
                let v = self.ty()?;
                self.expect(b'>')?;
                HiveType::Map(Box::new(k), Box::new(v))
            }
            "struct" => {
                self.expect(b'<')?;
                let mut fields = Vec::new();
                loop {
                    let name = self.word();
                    if name.is_empty() {
                        return Err(self.error("expected a field name"));
                    }
                    self.expect(b':')?;
                    fields.push((name, self.ty()?));
                    if self.peek(b',') {
                        self.expect(b',')?;
                        continue;
                    }
                    self.expect(b'>')?;
                    break;
                }
                HiveType::Struct(fields)
            }
            other => return Err(self.error(&format!("unknown type `{other}`"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_bounded() {
        let nested =
            |levels: usize| format!("{}int{}", "array<".repeat(levels), ">".repeat(levels));
        assert!(HiveType::parse(&nested(MAX_DEPTH)).is_ok());
        let err = HiveType::parse(&nested(MAX_DEPTH + 1)).unwrap_err();
        assert!(err.0.contains("nest more than 32 levels"), "{err}");
        // Deep enough to overflow a thread's stack without the bound.
        assert!(HiveType::parse(&nested(100_000)).is_err());
        let structs = format!(
            "{}int{}",
            "struct<a:".repeat(MAX_DEPTH + 1),
            ">".repeat(MAX_DEPTH + 1)
        );
        assert!(HiveType::parse(&structs).is_err());
    }

    #[test]
    fn parses_nested_types() {
        assert_eq!(HiveType::parse("BIGINT").unwrap(), HiveType::BigInt);
        assert_eq!(
            HiveType::parse("decimal(12, 2)").unwrap(),
            HiveType::Decimal(12, 2)
        );
        assert_eq!(
            HiveType::parse("map<string,array<struct<a:int, b:varchar(10)>>>").unwrap(),
            HiveType::Map(
                Box::new(HiveType::String),
                Box::new(HiveType::Array(Box::new(HiveType::Struct(vec![
                    ("a".into(), HiveType::Int),
                    ("b".into(), HiveType::String)
                ]))))
            )
        );
        assert!(HiveType::parse("array<int").is_err());
        assert!(HiveType::parse("uuid").is_err());
        assert!(HiveType::parse("decimal(40,2)").is_err());
    }
}
