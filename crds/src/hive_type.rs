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
        Ok(match name.as_str() {
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
            "" => return Err(self.error("expected a type")),
            other => return Err(self.error(&format!("unknown type `{other}`"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
