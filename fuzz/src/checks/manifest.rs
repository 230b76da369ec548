//! The manifest parser and validator (`hydrant validate`, `hydrant run -f`).
//!
//! Asserts: every document of a file is read and validated without panicking; a document that
//! reads as a DeliveryStream serialises to one that reads the same; `parse_manifest` accepts
//! exactly the files of one document that `parse_document` accepts.

use crds::manifest::{documents, parse_document, parse_manifest};

pub fn check(input: &[u8]) {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let single = parse_manifest(text);
    let Ok(documents) = documents(text) else {
        assert!(single.is_err());
        return;
    };
    if documents.len() != 1 {
        assert!(single.is_err());
    }
    for (i, document) in documents.into_iter().enumerate() {
        let Ok(stream) = parse_document(document) else {
            if i == 0 {
                assert!(single.is_err());
            }
            continue;
        };
        let _ = crds::validate_spec(&stream);
        let value = serde_json::to_value(&stream).expect("a stream serialises");
        let again = parse_document(value.clone()).expect("a serialised stream reads");
        assert_eq!(
            serde_json::to_value(&again).expect("a stream serialises"),
            value
        );
        if i == 0
            && let Ok(single) = &single
        {
            assert_eq!(
                serde_json::to_value(single).expect("a stream serialises"),
                value
            );
        }
    }
}
