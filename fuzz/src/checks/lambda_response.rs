//! The Lambda-response parser: a transformation function's answer for three records.
//!
//! Asserts: an accepted response answers each record sent exactly once, in the order sent, as
//! its `result` says (`Ok` with its `data` decoded, `Dropped`, or failed); a refused one is a
//! `Lambda.*` failure.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use dataplane::process::lambda::{Input, Transformed, interpret};
use serde_json::Value;

use super::{ARRIVAL_MS, json_value};

pub fn check(body: &[u8]) {
    let inputs: Vec<Input<'_>> = [&b"a"[..], b"", b"ccc"]
        .iter()
        .enumerate()
        .map(|(i, data)| Input {
            id: format!("r{i}"),
            arrival_ms: ARRIVAL_MS,
            data,
        })
        .collect();
    match interpret(&inputs, body) {
        Ok(out) => {
            assert_eq!(out.len(), inputs.len());
            let Some(doc) = json_value(body) else {
                return;
            };
            let answers: HashMap<&str, &Value> = doc["records"]
                .as_array()
                .expect("an accepted response has records")
                .iter()
                .map(|r| (r["recordId"].as_str().expect("a recordId"), r))
                .collect();
            assert_eq!(answers.len(), inputs.len());
            for (input, got) in inputs.iter().zip(&out) {
                let answer = answers[input.id.as_str()];
                match (answer["result"].as_str(), got) {
                    (Some("Ok"), Transformed::Ok(data, _)) => {
                        let sent = answer["data"].as_str().expect("Ok with data");
                        assert_eq!(&STANDARD.decode(sent).expect("base64 data"), data);
                    }
                    (Some("Dropped"), Transformed::Dropped) => {}
                    (_, Transformed::Failed(f, _)) => assert!(f.code.starts_with("Lambda.")),
                    (result, got) => panic!("result {result:?} became {got:?}"),
                }
            }
        }
        Err(f) => assert!(f.code.starts_with("Lambda."), "{}", f.code),
    }
}
