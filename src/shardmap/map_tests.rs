//! Tests for the shard map: the example parses, each validation error and its message,
//! lookups, canonical JSON and the builder.

use std::path::PathBuf;

use super::{MAX_MAP_FILE_BYTES, MAX_SHARDS_IN_MAP, MapError, ShardMap};

const EXAMPLE: &str = r#"{
  "numShards": 8,
  "nodes": {
    "n1": {"address": "127.0.0.1", "port": 7401, "weight": 2},
    "n2": {"address": "127.0.0.1", "port": 7402},
    "n3": {"address": "cache-3.internal", "port": 7403}
  },
  "shards": {"1": ["n1", "n3"], "2": ["n2"], "3": [], "8": ["n3", "n1"]}
}"#;

/// A one-node, one-shard map with `nodes` and `shards` spliced in.
fn map_with(num_shards: &str, nodes: &str, shards: &str) -> String {
    format!(r#"{{"numShards": {num_shards}, "nodes": {{{nodes}}}, "shards": {{{shards}}}}}"#)
}

const N1: &str = r#""n1": {"address": "127.0.0.1", "port": 7401}"#;

fn error_of(text: &str) -> MapError {
    ShardMap::from_json(text).expect_err("map should be rejected")
}

#[test]
fn example_map_parses() {
    let map = ShardMap::from_json(EXAMPLE).unwrap();
    assert_eq!(map.num_shards(), 8);
    assert_eq!(map.replicas(1), ["n1", "n3"]);
    assert_eq!(map.replicas(8), ["n3", "n1"], "file order is kept");
    let names: Vec<_> = map.nodes().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["n1", "n2", "n3"]);
    let n1 = map.node("n1").unwrap();
    assert_eq!((n1.address.as_str(), n1.port, n1.weight), ("127.0.0.1", 7401, 2));
    assert_eq!(map.shards_of("n1"), [1, 8]);
    assert_eq!(map.shards_of("n3"), [1, 8], "sorted even though listed 8 after 1");
    assert!(map.hosts("n3", 8));
    assert!(!map.hosts("n2", 8));
    assert!(!map.hosts("nope", 1));
    assert!(map.shards_of("nope").is_empty());
    assert!(map.node("nope").is_none());
}

#[test]
fn weight_defaults_to_one() {
    let map = ShardMap::from_json(EXAMPLE).unwrap();
    assert_eq!(map.node("n2").unwrap().weight, 1);
}

#[test]
fn missing_and_empty_shards_have_no_replicas() {
    let map = ShardMap::from_json(EXAMPLE).unwrap();
    // "3" is [], "4" is absent, 0 and 9 are outside the map.
    for shard in [3, 4, 0, 9, u32::MAX] {
        assert!(map.replicas(shard).is_empty(), "shard {shard}");
    }
}

#[test]
fn nodes_and_shards_may_be_omitted() {
    let map = ShardMap::from_json(r#"{"numShards": 2}"#).unwrap();
    assert_eq!(map.nodes().count(), 0);
    assert!(map.replicas(1).is_empty());
}

#[test]
fn unknown_fields_are_ignored_at_every_level() {
    let text = r#"{"numShards": 1, "version": 7, "comment": {"x": [1]},
        "nodes": {"n1": {"address": "::1", "port": 1, "zone": "eu", "tags": ["a"]}},
        "shards": {"1": ["n1"]}}"#;
    let map = ShardMap::from_json(text).unwrap();
    assert_eq!(map.replicas(1), ["n1"]);
}

#[test]
fn shard_for_key_uses_fnv1() {
    let map = ShardMap::from_json(EXAMPLE).unwrap();
    assert_eq!(map.shard_for_key(b"abc"), 4);
}

#[test]
fn addr_string_brackets_ipv6() {
    let map = ShardMap::builder(1)
        .node("v4", "10.0.0.1", 1)
        .node("v6", "fe80::1", 2)
        .node("host", "cache.local", 3)
        .build()
        .unwrap();
    assert_eq!(map.node("v4").unwrap().addr_string(), "10.0.0.1:1");
    assert_eq!(map.node("v6").unwrap().addr_string(), "[fe80::1]:2");
    assert_eq!(map.node("host").unwrap().addr_string(), "cache.local:3");
}

#[test]
fn rejections_name_the_problem() {
    let n1 = N1;
    let cases: &[(&str, String, &str)] = &[
        ("num_shards zero", map_with("0", n1, ""), "numShards must be at least 1"),
        ("num_shards over cap", map_with("65537", n1, ""), "numShards 65537 exceeds the limit"),
        ("huge num_shards", map_with("99999999999", n1, ""), "exceeds the limit of 65536"),
        ("key not integer", map_with("8", n1, r#""one": ["n1"]"#), "shard key 'one' is not"),
        ("signed key", map_with("8", n1, r#""+1": ["n1"]"#), "shard key '+1' is not"),
        ("key empty", map_with("8", n1, r#""": ["n1"]"#), "shard key '' is not"),
        ("out of range", map_with("8", n1, r#""9": ["n1"]"#), "shard 9 is out of range 1..=8"),
        ("shard zero", map_with("8", n1, r#""0": []"#), "shard 0 is out of range 1..=8"),
        ("overflows u32", map_with("8", n1, r#""99999999999": []"#), "shard 99999999999 is out"),
        ("same shard twice", map_with("8", n1, r#""2": [], "02": []"#), "shard 2 is listed twice"),
        ("unknown node", map_with("8", n1, r#""3": ["n7"]"#), "shard 3 names unknown node 'n7'"),
        (
            "replica twice",
            map_with("8", n1, r#""2": ["n1", "n1"]"#),
            "shard 2 lists node 'n1' twice",
        ),
        ("node twice", map_with("8", &format!("{n1}, {n1}"), ""), "node 'n1' is defined twice"),
        (
            "weight zero",
            map_with("8", r#""n1": {"address": "::1", "port": 1, "weight": 0}"#, ""),
            "node 'n1' has weight 0",
        ),
        (
            "port zero",
            map_with("8", r#""n1": {"address": "::1", "port": 0}"#, ""),
            "node 'n1' has port 0",
        ),
        ("empty name", map_with("8", r#""": {"address": "::1", "port": 1}"#, ""), "empty name"),
    ];
    for (what, text, want) in cases {
        let msg = error_of(text).to_string();
        assert!(msg.contains(want), "{what}: got {msg:?}, want {want:?}");
    }
}

#[test]
fn bad_addresses_are_rejected() {
    // Each is something an operator could plausibly type by mistake.
    for address in [
        "",
        "127.0.0.1:7401",
        "[::1]",
        "999.1.1.1",
        "-bad.example",
        "bad-.example",
        "a..b",
        "under_score",
        "sp ace",
        "http://x",
        &"a".repeat(64),
    ] {
        let text = map_with("1", &format!(r#""n1": {{"address": "{address}", "port": 1}}"#), "");
        let msg = error_of(&text).to_string();
        let want = format!("node 'n1' has address '{address}', which is not an IP");
        assert!(msg.contains(&want), "{address:?}: got {msg:?}");
    }
}

#[test]
fn good_addresses_are_accepted() {
    for address in ["127.0.0.1", "::1", "2001:db8::7", "localhost", "cache-1.eu-west.internal"] {
        let text = map_with("1", &format!(r#""n1": {{"address": "{address}", "port": 1}}"#), "");
        assert!(ShardMap::from_json(&text).is_ok(), "{address}");
    }
}

#[test]
fn bad_json_reports_line_and_column() {
    let err = error_of("{\n  \"numShards\": 8,\n  oops\n}");
    assert!(matches!(&err, MapError::Json { source } if source.line() == 3), "{err:?}");
    let msg = err.to_string();
    assert!(msg.starts_with("shard map is not valid JSON"), "{msg}");
    assert!(msg.contains("line 3 column 3"), "{msg}");
}

#[test]
fn wrong_types_are_json_errors() {
    // Missing numShards, a negative count, a port over 65535 and a non-list shard.
    for text in [
        r#"{"nodes": {}}"#.to_owned(),
        map_with("-1", N1, ""),
        map_with("1", r#""n1": {"address": "::1", "port": 70000}"#, ""),
        map_with("1", N1, r#""1": "n1""#),
        "[]".to_owned(),
    ] {
        assert!(matches!(error_of(&text), MapError::Json { .. }), "{text}");
    }
}

#[test]
fn to_json_round_trips_and_is_canonical() {
    let map = ShardMap::from_json(EXAMPLE).unwrap();
    let text = map.to_json();
    assert_eq!(ShardMap::from_json(&text).unwrap(), map);
    // Canonical: rendering the re-parsed map gives the same bytes.
    assert_eq!(ShardMap::from_json(&text).unwrap().to_json(), text);
    assert!(text.contains("\"numShards\": 8"), "{text}");
    assert!(text.contains("\"weight\": 1"), "weights are explicit: {text}");
}

#[test]
fn to_json_orders_shards_numerically() {
    let map = ShardMap::builder(12).node("n1", "::1", 1).shard(10, &["n1"]).build().unwrap();
    let text = map.to_json();
    let at = |key: &str| text.find(key).unwrap();
    assert!(at("\"2\"") < at("\"10\""), "{text}");
    assert_eq!(ShardMap::from_json(&text).unwrap(), map);
}

#[test]
fn builder_builds_and_validates() {
    let map = ShardMap::builder(8)
        .node("n1", "127.0.0.1", 7401)
        .weight(2)
        .node("n2", "127.0.0.1", 7402)
        .node("n3", "cache-3.internal", 7403)
        .shard(1, &["n1", "n3"])
        .shard(2, &["n2"])
        .shard(3, &[])
        .shard(8, &["n3", "n1"])
        .build()
        .unwrap();
    assert_eq!(map, ShardMap::from_json(EXAMPLE).unwrap());

    let err = ShardMap::builder(8).shard(9, &[]).build().unwrap_err();
    assert_eq!(err.to_string(), "shard 9 is out of range 1..=8");
    let err = ShardMap::builder(0).build().unwrap_err();
    assert!(matches!(err, MapError::NoShards));
    let err = ShardMap::builder(1).weight(3).node("n1", "::1", 1).build().unwrap_err();
    assert!(matches!(err, MapError::WeightWithoutNode));
    let err = ShardMap::builder(MAX_SHARDS_IN_MAP + 1).build().unwrap_err();
    assert!(matches!(err, MapError::TooManyShards { .. }));
}

#[test]
fn max_shards_map_is_accepted() {
    let map = ShardMap::builder(MAX_SHARDS_IN_MAP).build().unwrap();
    assert_eq!(map.num_shards(), MAX_SHARDS_IN_MAP);
    assert!(map.replicas(MAX_SHARDS_IN_MAP).is_empty());
}

/// A fresh directory under the system temp dir, unique per process and call.
fn temp_dir(tag: &str) -> PathBuf {
    crate::testdir::fresh(&format!("map-{tag}"))
}

#[test]
fn load_reads_a_file() {
    let dir = temp_dir("load");
    let path = dir.join("map.json");
    std::fs::write(&path, EXAMPLE).unwrap();
    assert_eq!(ShardMap::load(&path).unwrap(), ShardMap::from_json(EXAMPLE).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn load_names_an_unreadable_path() {
    let dir = temp_dir("missing");
    let path = dir.join("absent.json");
    let err = ShardMap::load(&path).unwrap_err();
    assert!(matches!(err, MapError::Unreadable { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("cannot read shard map") && msg.contains("absent.json"), "{msg}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn load_refuses_oversized_files() {
    let dir = temp_dir("big");
    let path = dir.join("big.json");
    let size = usize::try_from(MAX_MAP_FILE_BYTES).unwrap() + 1;
    std::fs::write(&path, vec![b' '; size]).unwrap();
    let err = ShardMap::load(&path).unwrap_err();
    assert!(matches!(err, MapError::FileTooLarge { .. }), "{err:?}");
    assert!(err.to_string().contains("big.json"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_placement_hash_sees_where_keys_live_and_nothing_else() {
    let example = ShardMap::from_json(EXAMPLE).unwrap();
    let moved_addresses =
        EXAMPLE.replace("127.0.0.1", "10.0.0.9").replace("\"weight\": 2", "\"weight\": 5");
    let same = ShardMap::from_json(&moved_addresses).unwrap();
    assert_eq!(example.placement_hash(), same.placement_hash());
    assert_ne!(example.json_hash(), same.json_hash());
    let reordered = EXAMPLE.replace(r#""8": ["n3", "n1"]"#, r#""8": ["n1", "n3"]"#);
    let other = ShardMap::from_json(&reordered).unwrap();
    assert_ne!(example.placement_hash(), other.placement_hash(), "the first replica coordinates");
}
