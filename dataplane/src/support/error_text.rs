//! Error messages that carry their causes: what the error output and `/status` show.

/// The full chain of an error's causes, joined by `: `.
pub fn describe(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
