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
    let Some(end) = offset(text, e.line(), e.column()) else {
        return ".".into();
    };
    // serde_json positions an error that a Deserialize impl raises after
    // reading its value (oci-spec's `deserialize_with` checks, Capability)
    // where it next stops: after the value, after the `,` that follows an
    // array element, or, for the last member of an object or array, after
    // the closing bracket.  serde's own messages come from visitors that
    // serde_json runs, and are positioned at the value.
    if !e.is_data() {
        // Syntax errors are positioned after the byte serde_json peeked at.
        return path_at(text, end.saturating_sub(1), false);
    }
    let msg = e.to_string();
    let serde_message = [
        "invalid type: ",
        "invalid value: ",
        "invalid length ",
        "unknown variant ",
        "unknown field ",
        "missing field ",
        "duplicate field ",
    ]
    .iter()
    .any(|p| msg.starts_with(p));
    path_at(text, end, !serde_message)
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
    /// An array, the index of its current element and whether that began.
    Arr(usize, bool),
}

/// The path of the value being read, or just read, after the first `end`
/// bytes of `text`: the containers open at that point with their current
/// member.  With `last_member`, the path is that of the value read last: if
/// the last byte closed a container, its last member; after a `,` in an
/// array, the element before it.
pub fn path_at(text: &[u8], end: usize, last_member: bool) -> String {
    let text = &text[..end.min(text.len())];
    let mut stack: Vec<Frame> = Vec::new();
    let mut closed = None; // the container the last byte closed
    let mut after_comma = false; // the last token was a `,` in an array
    let mut i = 0;
    while i < text.len() {
        let c = text[i];
        let space = matches!(c, b' ' | b'\t' | b'\n' | b'\r');
        if !space && c != b']' && c != b',' {
            if let Some(Frame::Arr(_, began)) = stack.last_mut() {
                *began = true;
            }
        }
        closed = None;
        after_comma &= space;
        match c {
            b'{' => stack.push(Frame::Obj(None)),
            b'[' => stack.push(Frame::Arr(0, false)),
            b'}' | b']' => closed = stack.pop(),
            b',' => match stack.last_mut() {
                Some(Frame::Obj(k)) => *k = None,
                Some(Frame::Arr(n, began)) => {
                    (*n, *began) = (*n + 1, false);
                    after_comma = true;
                }
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
    if last_member {
        // serde_json ate the `,` after the element (end_seq), or the closing
        // bracket after the last member.
        match (stack.last_mut(), closed) {
            (Some(Frame::Arr(n, began)), _) if after_comma => (*n, *began) = (*n - 1, true),
            (_, Some(f @ (Frame::Obj(Some(_)) | Frame::Arr(_, true)))) => stack.push(f),
            _ => {}
        }
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
            Frame::Arr(n, _) => {
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
        #[serde(default, deserialize_with = "checked")]
        c: Option<String>,
        l: Option<Vec<Leaf>>,
    }
    fn checked<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        if s.as_deref() == Some("bad") {
            return Err(serde::de::Error::custom("bad value"));
        }
        Ok(s)
    }
    #[derive(Debug)]
    struct Leaf;
    impl<'de> Deserialize<'de> for Leaf {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            match String::deserialize(d)?.as_str() {
                "bad" => Err(serde::de::Error::custom("bad leaf")),
                _ => Ok(Leaf),
            }
        }
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
            // Errors raised after the value was read (custom checks).
            (r#"{"b":{"n":1,"c":"bad"}}"#, "b.c"),
            (r#"{"b":{"c":"bad","n":1}}"#, "b.c"),
            (r#"{"b":{"c":"bad" ,"n":1}}"#, "b.c"),
            (r#"{"b":{"n":1,"c":"bad"} }"#, "b.c"),
            (r#"{"b":{"n":1,"l":["ok","bad"]}}"#, "b.l[1]"),
            (r#"{"b":{"n":1,"l":["bad","ok"]}}"#, "b.l[0]"),
            (r#"{"b":{"n":1,"l":["ok", "bad" ],"s":"x"}}"#, "b.l[1]"),
            (r#"{"b":{"l":[],"c":"bad"}}"#, "b.c"),
            (r#"{"b":{"n":1,"l":[]}, "a":[{"s":"x"}]}"#, "a[0]"),
            (r#"{"b":{"n":1,"l":[]}, "a":[{"n":1}, {"s":"x"} ]}"#, "a[1]"),
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
