use super::*;

/// Every construct of `node` that the walk does not interpret, by path. A schema change that
/// brings one in (an `anyOf`, a tuple `items`, a `oneOf` branch with properties) must extend the
/// walk, or fields under it would be accepted unchecked.
fn unhandled(node: &JSONSchemaProps, path: &str, out: &mut Vec<String>) {
    let mut note = |what: &str| out.push(format!("{path}: {what}"));
    if node.any_of.is_some() {
        note("anyOf");
    }
    if node.all_of.is_some() {
        note("allOf");
    }
    if node.not.is_some() {
        note("not");
    }
    if node.pattern_properties.is_some() {
        note("patternProperties");
    }
    if node.ref_path.is_some() {
        note("$ref");
    }
    if matches!(node.items, Some(JSONSchemaPropsOrArray::Schemas(_))) {
        note("items as a list");
    }
    for branch in node.one_of.iter().flatten() {
        let only_required = JSONSchemaProps {
            required: branch.required.clone(),
            ..JSONSchemaProps::default()
        };
        if *branch != only_required {
            note("oneOf branch with more than `required`");
        }
    }
    for (name, child) in node.properties.iter().flatten() {
        unhandled(child, &join(path, name), out);
    }
    if let Some(JSONSchemaPropsOrArray::Schema(item)) = &node.items {
        unhandled(item, &format!("{path}[]"), out);
    }
    if let Some(JSONSchemaPropsOrBool::Schema(each)) = &node.additional_properties {
        unhandled(each, &format!("{path}{{}}"), out);
    }
}

#[test]
fn the_schema_uses_only_what_the_walk_understands() {
    let mut out = Vec::new();
    unhandled(schema(), "", &mut out);
    assert!(out.is_empty(), "{out:#?}");
}

#[test]
fn metadata_takes_object_meta_fields() {
    let fields = metadata_fields();
    for name in [
        "name",
        "namespace",
        "labels",
        "annotations",
        "uid",
        "generation",
    ] {
        assert!(fields.iter().any(|f| f == name), "{name} in {fields:?}");
    }
}

#[test]
fn suggestions_are_close_matches_only() {
    let known = ["sizeInMBs", "intervalInSeconds"];
    assert_eq!(closest("sizeInMB", known.into_iter()), Some("sizeInMBs"));
    assert_eq!(closest("sizeinmbs", known.into_iter()), Some("sizeInMBs"));
    assert_eq!(
        closest("intervalInSecnods", known.into_iter()),
        Some("intervalInSeconds")
    );
    assert_eq!(closest("size", known.into_iter()), None);
    assert_eq!(closest("colour", known.into_iter()), None);
    // Short names get one edit: `port` for `prot`, but not `host` for `port`.
    assert_eq!(closest("prot", ["port"].into_iter()), Some("port"));
    assert_eq!(closest("host", ["port"].into_iter()), None);
}

#[test]
fn a_document_that_is_not_a_map_is_refused() {
    let problems = check(&Value::from("hello"));
    assert_eq!(problems.len(), 1);
    assert_eq!(
        problems[0].message,
        "expected a map, found string \"hello\""
    );
}
