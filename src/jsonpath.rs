//! JSON paths of deserialization errors, e.g. `linux.namespaces[1].type`.
//!
//! Instead of tracking the path while deserializing (as `serde_path_to_error`
//! does, which doubles the deserializer code in the binary), we deserialize
//! with plain serde_json and, only on error, walk the text up to the position
//! serde_json stopped at, tracking object keys and array indices.

use serde::de::DeserializeOwned;
use std::fmt;

/// A deserialization error with the JSON path of the value it is about.
#[derive(Debug)]
pub struct PathError {
    /// `.`-separated keys and `[i]` indices; `.` for the top level.
    pub path: String,
    /// The serde_json error.
    pub error: serde_json::Error,
}

impl PathError {
    /// The error message without serde_json's " at line L column C".
    pub fn reason(&self) -> String {
        let mut msg = self.error.to_string();
        if let Some(at) = msg.rfind(" at line ") {
            msg.truncate(at);
        }
        msg
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.error)
    }
}

impl std::error::Error for PathError {}

/// Deserializes `text`; errors carry the JSON path of the failing value.
pub fn from_slice<T: DeserializeOwned>(text: &[u8]) -> Result<T, PathError> {
    serde_json::from_slice(text).map_err(|error| PathError {
        path: error_path(text, &error),
        error,
    })
}

/// The JSON path at which deserializing `text` failed with `e`.
pub fn error_path(text: &[u8], e: &serde_json::Error) -> String {
    match offset(text, e.line(), e.column()) {
        Some(end) => path_at(text, end),
        None => ".".into(),
    }
}

/// The byte offset of serde_json's (1-based line, byte column) position: the
/// number of bytes it had read.
fn offset(text: &[u8], line: usize, column: usize) -> Option<usize> {
    if line == 0 {
        return None;
    }
    let mut start = 0;
    for _ in 1..line {
        start += text[start..].iter().position(|&b| b == b'\n')? + 1;
    }
    Some((start + column).min(text.len()))
}

enum Frame {
    /// An object and the key of its current member (None before the key).
    Obj(Option<String>),
    /// An array and the index of its current element.
    Arr(usize),
}

/// The path of the value being read, or just read, after the first `end`
/// bytes of `text`: the containers open at that point with their current
/// member.
pub fn path_at(text: &[u8], end: usize) -> String {
    let text = &text[..end.min(text.len())];
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'{' => stack.push(Frame::Obj(None)),
            b'[' => stack.push(Frame::Arr(0)),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Obj(k)) => *k = None,
                Some(Frame::Arr(n)) => *n += 1,
                None => {}
            },
            b'"' => {
                let mut j = i + 1;
                while j < text.len() && text[j] != b'"' {
                    j += if text[j] == b'\\' { 2 } else { 1 };
                }
                if j >= text.len() {
                    break; // inside an unfinished string
                }
                if let Some(Frame::Obj(k @ None)) = stack.last_mut() {
                    let raw = &text[i..=j];
                    *k = Some(serde_json::from_slice(raw).unwrap_or_else(|_| {
                        String::from_utf8_lossy(&raw[1..raw.len() - 1]).into_owned()
                    }));
                }
                i = j;
            }
            _ => {}
        }
        i += 1;
    }
    let mut out = String::new();
    for f in &stack {
        match f {
            Frame::Obj(Some(k)) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Frame::Obj(None) => {}
            Frame::Arr(n) => {
                out.push('[');
                out.push_str(&n.to_string());
                out.push(']');
            }
        }
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Top {
        a: Option<Vec<Inner>>,
        b: Option<Inner>,
        #[serde(rename = "k\"q")]
        q: Option<u8>,
    }
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        n: u32,
        s: Option<String>,
        v: Option<Vec<Vec<u8>>>,
        e: Option<E>,
    }
    #[derive(Deserialize, Debug)]
    enum E {
        X,
    }

    fn path(json: &str) -> String {
        from_slice::<Top>(json.as_bytes()).unwrap_err().path
    }

    #[test]
    fn paths_of_errors() {
        let cases = [
            (r#"{"a":[{"n":1},{"n":"x"}]}"#, "a[1].n"),
            (r#"{"a":[{"n":1},{"n":-1}]}"#, "a[1].n"),
            (r#"{"a":[{"n":1},{"n":1.5 }]}"#, "a[1].n"),
            (r#"{"a":[{"n":1},{"s":"x"}]}"#, "a[1]"),
            (r#"{"a":[{"n":1},{"n":1,"s":{}}]}"#, "a[1].s"),
            (r#"{"a":[{"n":1},{"n":1,"s":[1]}]}"#, "a[1].s"),
            (r#"{"a":[{"n":1},{"n":1,"zz":[1]}]}"#, "a[1].zz"),
            (r#"{"a":[{"n":1}, "x"]}"#, "a[1]"),
            (r#"{"a":[{"n":1}, []]}"#, "a[1]"),
            (r#"{"a":{}}"#, "a"),
            (r#"{"b":{"n":1,"v":[[1,2],[3,300]]}}"#, "b.v[1][1]"),
            (r#"{"b":{"n":1,"v":[[1,2],[3,"x"]]}}"#, "b.v[1][1]"),
            (r#"{"b":{"n":1,"e":"Y"}}"#, "b.e"),
            (r#"{"b":{"s":"a\"}b,{[","n":1,"e":"Y"}}"#, "b.e"),
            (r#"{"k\"q":300}"#, "k\"q"),
            (
                r#"{"b" : { "n" : 1 ,
                 "e" : "Y" } }"#,
                "b.e",
            ),
            ("[]", "."),
            (r#"{"a":null} x"#, "."),
        ];
        for (json, want) in cases {
            assert_eq!(path(json), want, "{json}");
        }
    }

    #[test]
    fn display_and_reason() {
        let e = from_slice::<Top>(br#"{"b":{"n":"x"}}"#).unwrap_err();
        assert!(e.to_string().starts_with("b.n: invalid type"), "{e}");
        assert!(e.to_string().contains(" at line 1 column "), "{e}");
        assert!(!e.reason().contains(" at line "), "{}", e.reason());
    }
}
