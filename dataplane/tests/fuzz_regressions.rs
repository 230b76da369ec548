//! Inputs the fuzz targets (`fuzz/`) found wrong answers for, each with the right answer.

use dataplane::fuzzing::{plain_frames, put_record_batch_frames, put_record_frames};
use dataplane::process::cloudwatch::extract;
use dataplane::process::deaggregate;
use dataplane::process::lambda::{Input, interpret};

/// A body with bytes that are not UTF-8 in a member the request does not have: accepted, as
/// serde_json skips unknown members without checking their text. It is not JSON.
#[test]
fn firehose_body_with_invalid_utf8_in_an_unknown_member_is_refused() {
    let body = include_bytes!("fuzz_regressions/firehose-invalid-utf8-in-unknown-member.json");
    for parsed in [put_record_batch_frames(body, 0), put_record_frames(body, 0)] {
        let e = parsed.expect_err("not JSON");
        assert_eq!(e.kind, "SerializationException");
        assert!(e.message.contains("UTF-8"), "{}", e.message);
    }
}

/// A body that is an array of the members in order, and a record that is an array: serde's
/// derived structs accept both, so `["-",[""]]` put one empty record to the stream `-`.
#[test]
fn firehose_body_or_record_that_is_an_array_is_refused() {
    let body = include_bytes!("fuzz_regressions/firehose-array-for-object.json");
    let nested = br#"{"DeliveryStreamName":"s","Records":[["eA=="]],"Record":["eA=="]}"#;
    for body in [&body[..], nested] {
        for parsed in [put_record_batch_frames(body, 0), put_record_frames(body, 0)] {
            let e = parsed.expect_err("not the request's shape");
            assert_eq!(e.kind, "SerializationException", "{}", e.message);
        }
    }
}

/// A body of only a CRLF line break: taken as one empty record, where a body of only `\n` is
/// refused as holding none.
#[test]
fn plain_body_of_only_a_crlf_line_break_holds_no_records() {
    let body = include_bytes!("fuzz_regressions/plain-crlf-only.txt");
    let e = plain_frames(body, 0).expect_err("no records");
    assert_eq!(e.kind, "InvalidArgumentException");
    let batch = plain_frames(b"a\r\nb\r\n", 0).expect("two records");
    assert_eq!(batch.records(), 2);
    assert_eq!(batch.payload_bytes(), 2);
    // The last line loses one `\r`, as every other line does: "a\r" and "o\r".
    for body in [&b"a\r\r\n"[..], b"o\r\r"] {
        let batch = plain_frames(body, 0).expect("one record");
        assert_eq!((batch.records(), batch.payload_bytes()), (1, 2));
    }
}

/// JSON de-aggregation of a record with bytes that are not UTF-8 inside a string: split into
/// "JSON objects" that are not JSON.
#[test]
fn json_deaggregation_refuses_a_record_that_is_not_utf8() {
    let record = include_bytes!("fuzz_regressions/deaggregate-json-invalid-utf8.json");
    let failure = deaggregate::json(record).expect_err("not JSON");
    assert_eq!(failure.code, "RecordDeAggregation.InvalidJson");
    assert!(failure.message.contains("UTF-8"), "{}", failure.message);
}

/// A Lambda response with bytes that are not UTF-8 in a member it does not have (the key of
/// `metadata`): accepted as a transformation result.
#[test]
fn lambda_response_that_is_not_utf8_is_a_json_processing_failure() {
    let body = include_bytes!("fuzz_regressions/lambda-invalid-utf8-in-unknown-member.json");
    let inputs: Vec<Input<'_>> = (0..3)
        .map(|i| Input {
            id: format!("r{i}"),
            arrival_ms: 0,
            data: b"",
        })
        .collect();
    let failure = interpret(&inputs, body).expect_err("not JSON");
    assert_eq!(failure.code, "Lambda.JsonProcessingException");
    assert!(failure.message.contains("UTF-8"), "{}", failure.message);
}

/// A CloudWatch Logs payload with bytes that are not UTF-8 in a member it does not read (a log
/// event's key): extracted.
#[test]
fn cloudwatch_payload_that_is_not_utf8_is_invalid_data() {
    let payload = include_bytes!("fuzz_regressions/cloudwatch-invalid-utf8-in-unknown-member.json");
    for messages_only in [true, false] {
        let failure = extract(payload.to_vec(), messages_only).expect_err("not JSON");
        assert_eq!(failure.code, "CloudWatchLogProcessing.InvalidData");
        assert!(failure.message.contains("UTF-8"), "{}", failure.message);
    }
}
