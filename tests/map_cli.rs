//! `shale map` through the real binary: init, add-node, remove-node and check.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::process::{Command, Output};

use shale::shardmap::ShardMap;

fn shale_map(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shale")).arg("map").args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn counts(map: &ShardMap) -> Vec<usize> {
    map.nodes().map(|n| map.shards_of(&n.name).len()).collect()
}

#[test]
fn init_writes_a_balanced_map_that_checks_clean() {
    let out = shale_map(&[
        "init",
        "--nodes",
        "shale-0.shale-nodes,shale-1.shale-nodes,shale-2.shale-nodes",
        "--shards",
        "16",
        "--replicas",
        "2",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let map = ShardMap::from_json(&text(&out.stdout)).unwrap();
    let node = map.node("shale-1.shale-nodes").unwrap();
    assert_eq!((node.address.as_str(), node.port), ("shale-1.shale-nodes", 7379));
    let c = counts(&map);
    assert!(c.iter().max().unwrap() - c.iter().min().unwrap() <= 1, "{c:?}");
    let path = common::temp_file("map.json", &text(&out.stdout));
    let check = shale_map(&["check", path.to_str().unwrap()]);
    assert!(check.status.success() && check.stdout.is_empty(), "{}", text(&check.stdout));
}

#[test]
fn node_specs_take_names_ports_and_weights() {
    let out = shale_map(&[
        "init",
        "--nodes",
        "a=127.0.0.1:7401,b=[::1]:7402,c=10.0.0.3",
        "--port",
        "7000",
        "--weights",
        "2,1,1",
        "--shards",
        "8",
        "--replicas",
        "1",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let map = ShardMap::from_json(&text(&out.stdout)).unwrap();
    assert_eq!(map.node("b").unwrap().addr_string(), "[::1]:7402");
    assert_eq!(map.node("c").unwrap().port, 7000);
    assert_eq!(counts(&map), [4, 2, 2], "weight 2 takes twice the shards");
    let bad = shale_map(&["init", "--nodes", "a,b", "--weights", "1", "--shards", "4"]);
    assert_eq!(text(&bad.stderr).trim(), "error: --weights has 1 values for 2 nodes");
}

#[test]
fn add_then_remove_a_node_in_place() {
    let init = shale_map(&["init", "--nodes", "n1,n2,n3", "--shards", "12", "--replicas", "2"]);
    let path = common::temp_file("map.json", &text(&init.stdout));
    let file = path.to_str().unwrap();
    let add = shale_map(&["add-node", file, "--node", "n4=127.0.0.1:7404", "-o", file]);
    assert!(add.status.success(), "{}", text(&add.stderr));
    let stderr = text(&add.stderr);
    assert!(stderr.contains("6 replica(s) move"), "24 slots over 4 nodes: n4 takes 6\n{stderr}");
    assert_eq!(stderr.lines().filter(|l| l.ends_with("-> n4")).count(), 6, "{stderr}");
    let map = ShardMap::load(&path).unwrap();
    assert_eq!(counts(&map), [6, 6, 6, 6]);
    let remove = shale_map(&["remove-node", file, "n2", "-o", file]);
    assert!(remove.status.success(), "{}", text(&remove.stderr));
    let stderr = text(&remove.stderr);
    assert!(stderr.contains("run remove-node again"), "{stderr}");
    let map = ShardMap::load(&path).unwrap();
    assert_eq!(counts(&map), [8, 0, 8, 8], "n2 stays listed, holding nothing");
    let check = shale_map(&["check", file]);
    assert!(check.status.success(), "{}", text(&check.stdout));
    let drop = shale_map(&["remove-node", file, "n2", "-o", file]);
    assert!(text(&drop.stderr).contains("dropped"), "{}", text(&drop.stderr));
    let map = ShardMap::load(&path).unwrap();
    assert!(map.node("n2").is_none());
    assert_eq!(counts(&map), [8, 8, 8]);
    let unknown = shale_map(&["remove-node", file, "zz"]);
    assert_eq!(text(&unknown.stderr).trim(), "error: node 'zz' is not in the map");
}

#[test]
fn check_lists_each_problem_and_fails() {
    let path = common::temp_file(
        "bad.json",
        r#"{"numShards": 4, "nodes": {"a": {"address": "h", "port": 1}, "b": {"address": "h", "port": 0}},
            "shards": {"1": ["a", "ghost"], "2": ["a", "a"]}}"#,
    );
    let out = shale_map(&["check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    let p = path.display();
    assert_eq!(
        lines,
        [
            format!("{p}: node 'b' has port 0"),
            format!("{p}: shard 1 names unknown node 'ghost'"),
            format!("{p}: shard 2 lists node 'a' twice"),
        ]
    );
}
