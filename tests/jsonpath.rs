//! The JSON paths of config.json parse errors (src/jsonpath.rs, found from
//! serde_json's error position) agree with serde_path_to_error's (which tracks
//! the path while deserializing, at the cost of twice the deserializer code,
//! so it is only a dev-dependency): every leaf of oci-spec's sample config is
//! broken in several ways, compact and pretty-printed.

use oci_spec::runtime::Spec;
use serde_json::{json, Value};

const SAMPLE: &str = include_str!("../vendor/oci-spec/src/runtime/test/fixture/sample.json");

/// JSON pointers of every value in `v`.
fn pointers(v: &Value, p: String, out: &mut Vec<String>) {
    out.push(p.clone());
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                pointers(
                    x,
                    format!("{p}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                )
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                pointers(x, format!("{p}/{i}"), out)
            }
        }
        _ => {}
    }
}

/// Replacements for a value (None: remove it).
fn breakages(v: &Value) -> Vec<Option<Value>> {
    let broken = match v {
        Value::String(_) => vec![json!(12345), json!("BOGUS"), json!(""), json!({})],
        Value::Number(_) => vec![json!("x"), json!(-1), json!(1.5), json!([])],
        Value::Bool(_) => vec![json!("x")],
        Value::Object(_) => vec![json!("x"), json!([1])],
        Value::Array(_) => vec![json!("x"), json!({}), json!([[]])],
        Value::Null => vec![],
    };
    broken.into_iter().map(Some).chain([None]).collect()
}

#[test]
fn error_paths_agree_with_serde_path_to_error() {
    let base: Value = serde_json::from_str(SAMPLE).unwrap();
    let mut ptrs = vec![];
    pointers(&base, String::new(), &mut ptrs);
    let (mut compared, mut mismatches) = (0, vec![]);
    for p in ptrs.iter().filter(|p| !p.is_empty()) {
        for b in breakages(base.pointer(p).unwrap()) {
            let mut v = base.clone();
            let (parent, key) = p.rsplit_once('/').unwrap();
            let key = key.replace("~1", "/").replace("~0", "~");
            match (v.pointer_mut(parent).unwrap(), b) {
                (Value::Object(o), Some(b)) => drop(o.insert(key, b)),
                (Value::Object(o), None) => drop(o.remove(&key)),
                (Value::Array(a), Some(b)) => a[key.parse::<usize>().unwrap()] = b,
                (Value::Array(a), None) => drop(a.remove(key.parse::<usize>().unwrap())),
                _ => unreachable!(),
            }
            for text in [
                serde_json::to_vec(&v).unwrap(),
                serde_json::to_vec_pretty(&v).unwrap(),
            ] {
                let ours = husk::jsonpath::from_slice::<Spec>(&text);
                let de = &mut serde_json::Deserializer::from_slice(&text);
                let theirs = serde_path_to_error::deserialize::<_, Spec>(de);
                match (ours, theirs) {
                    (Ok(_), Ok(_)) => {}
                    (Err(a), Err(b)) => {
                        compared += 1;
                        if a.path != b.path().to_string() {
                            mismatches.push(format!("{p}: {} != {}: {}", a.path, b.path(), a));
                        }
                    }
                    (a, b) => panic!("{p}: {:?} vs {:?}", a.err(), b.err()),
                }
            }
        }
    }
    assert!(compared > 1000, "{compared}");
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}
