//! deploy/: every Kubernetes manifest parses (serde_yaml), and what ties them together
//! agrees: selectors match labels, Service ports match container ports, the flags in the
//! containers' args exist and agree with the ports, probes and mounts, the ConfigMap is
//! mounted as a directory and holds a map whose nodes are the StatefulSet's pods, and the
//! grace period covers preStop plus shale's drain. The Dockerfile is checked by reading.
#![allow(missing_docs, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml::Value;
use shale::shardmap::ShardMap;
use shale::shardmap::check::problems;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes")
}

fn yaml(name: &str) -> Value {
    let text = std::fs::read_to_string(dir().join(name)).unwrap();
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}"))
}

/// Every manifest the kustomization lists, by kind and name.
fn manifests() -> BTreeMap<(String, String), Value> {
    let k = yaml("kustomization.yaml");
    let mut out = BTreeMap::new();
    for file in k["resources"].as_sequence().unwrap() {
        let doc = yaml(s(file));
        let key = (s(&doc["kind"]).to_owned(), s(&doc["metadata"]["name"]).to_owned());
        out.insert(key, doc);
    }
    out
}

fn get<'a>(all: &'a BTreeMap<(String, String), Value>, kind: &str, name: &str) -> &'a Value {
    all.get(&(kind.to_owned(), name.to_owned())).unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// Whether every `key: value` of `selector` is among `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    let sel = selector.as_mapping().unwrap();
    !sel.is_empty() && sel.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// A container's `--flag value` pairs.
fn flags(container: &Value) -> BTreeMap<String, String> {
    let args: Vec<&str> = container["args"].as_sequence().unwrap().iter().map(s).collect();
    let mut out = BTreeMap::new();
    for pair in args[1..].chunks(2) {
        assert!(pair[0].starts_with("--"), "flags come in pairs: {args:?}");
        out.insert(pair[0].to_owned(), pair.get(1).copied().unwrap_or_default().to_owned());
    }
    out
}

fn port_named(container: &Value, name: &str) -> u64 {
    let ports = container["ports"].as_sequence().unwrap();
    let port =
        ports.iter().find(|p| s(&p["name"]) == name).unwrap_or_else(|| panic!("no port {name}"));
    port["containerPort"].as_u64().unwrap()
}

/// The workload's one container, checked for what every shale container needs.
fn check_container(workload: &Value, role: &str, data_port: u64) -> BTreeMap<String, String> {
    let pod = &workload["spec"]["template"];
    let container = &pod["spec"]["containers"][0];
    let f = flags(container);
    assert_eq!(s(&container["args"][0]), role);
    assert_eq!(f["--port"].parse::<u64>().unwrap(), port_named(container, "data"));
    assert_eq!(port_named(container, "data"), data_port);
    let metrics = port_named(container, "metrics");
    assert_eq!(f["--metrics-port"].parse::<u64>().unwrap(), metrics);
    assert_eq!(f["--metrics-bind"], "0.0.0.0", "the kubelet probes the pod IP");
    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        let get = &container[probe]["httpGet"];
        assert_eq!((s(&get["path"]), s(&get["port"])), (path, "metrics"), "{role} {probe}");
    }
    let notes = &pod["metadata"]["annotations"];
    assert_eq!(s(&notes["prometheus.io/port"]).parse::<u64>().unwrap(), metrics);
    assert_eq!(s(&notes["prometheus.io/path"]), "/metrics");
    assert!(container["resources"]["requests"]["cpu"].is_string(), "{role}: cpu request");
    assert!(container["resources"]["requests"]["memory"].is_string(), "{role}: memory request");
    assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    // The grace period covers preStop and shale's own drain.
    let pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"].as_u64().unwrap();
    let grace = pod["spec"]["terminationGracePeriodSeconds"].as_u64().unwrap();
    let drain = shale::net::DEFAULT_SHUTDOWN_GRACE.as_secs();
    assert!(grace > pre_stop + drain, "{role}: grace {grace} <= {pre_stop} + {drain}");
    check_mounts(pod, container, &f);
    f
}

/// The map and the password come from mounted volumes, as directories (no subPath).
fn check_mounts(pod: &Value, container: &Value, f: &BTreeMap<String, String>) {
    let volumes = pod["spec"]["volumes"].as_sequence().unwrap();
    let mounts = container["volumeMounts"].as_sequence().unwrap();
    let file_in = |path: &str| {
        let mount = mounts
            .iter()
            .find(|m| Path::new(path).parent() == Some(Path::new(s(&m["mountPath"]))))
            .unwrap_or_else(|| panic!("nothing mounted where {path} is"));
        assert!(mount.get("subPath").is_none(), "subPath mounts are never updated");
        let name = &mount["name"];
        let volume = volumes.iter().find(|v| &v["name"] == name).unwrap();
        (volume.clone(), Path::new(path).file_name().unwrap().to_str().unwrap().to_owned())
    };
    let (map_volume, key) = file_in(&f["--shardmap"]);
    assert_eq!(s(&map_volume["configMap"]["name"]), "shale-shardmap");
    assert_eq!(key, "shardmap.json", "the key of the generated ConfigMap");
    for flag in ["--requirepass-file", "--backend-password-file"] {
        if let Some(path) = f.get(flag) {
            let (volume, key) = file_in(path);
            assert_eq!(s(&volume["secret"]["secretName"]), "shale-password");
            assert_eq!(key, "password");
        }
    }
}

#[test]
fn the_kustomization_lists_every_manifest_and_generates_the_map() {
    let k = yaml("kustomization.yaml");
    let mut listed: Vec<&str> = k["resources"].as_sequence().unwrap().iter().map(s).collect();
    listed.sort_unstable();
    let mut files: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|f| f.ends_with(".yaml") && f != "kustomization.yaml")
        .collect();
    files.sort_unstable();
    assert_eq!(listed, files);
    let generator = &k["configMapGenerator"][0];
    assert_eq!(s(&generator["name"]), "shale-shardmap");
    assert_eq!(s(&generator["files"][0]), "shardmap.json");
    assert_eq!(
        k["generatorOptions"]["disableNameSuffixHash"].as_bool(),
        Some(true),
        "updated in place"
    );
}

#[test]
fn nodes_statefulset_service_map_and_budget_agree() {
    let all = manifests();
    let sts = get(&all, "StatefulSet", "shale");
    let svc = get(&all, "Service", "shale-nodes");
    let labels = &sts["spec"]["template"]["metadata"]["labels"];
    assert!(selects(&sts["spec"]["selector"]["matchLabels"], labels));
    assert!(selects(&svc["spec"]["selector"], labels));
    assert!(selects(
        &get(&all, "PodDisruptionBudget", "shale-nodes")["spec"]["selector"]["matchLabels"],
        labels
    ));
    assert_eq!(
        get(&all, "PodDisruptionBudget", "shale-nodes")["spec"]["maxUnavailable"].as_u64(),
        Some(1)
    );
    assert_eq!(s(&sts["spec"]["serviceName"]), "shale-nodes");
    assert_eq!(s(&svc["spec"]["clusterIP"]), "None", "headless: one DNS name per pod");
    assert_eq!(svc["spec"]["publishNotReadyAddresses"].as_bool(), Some(true));
    let data = svc["spec"]["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|p| s(&p["name"]) == "data")
        .unwrap();
    let f = check_container(sts, "server", data["port"].as_u64().unwrap());
    assert_eq!(f["--node"], "$(POD_NAME).shale-nodes");
    let env = &sts["spec"]["template"]["spec"]["containers"][0]["env"][0];
    assert_eq!(
        (s(&env["name"]), s(&env["valueFrom"]["fieldRef"]["fieldPath"])),
        ("POD_NAME", "metadata.name")
    );
    // The map's nodes are exactly the StatefulSet's pods, at the data port.
    let text = std::fs::read_to_string(dir().join("shardmap.json")).unwrap();
    assert!(problems(&text).is_empty(), "{:?}", problems(&text));
    let map = ShardMap::from_json(&text).unwrap();
    let replicas = sts["spec"]["replicas"].as_u64().unwrap();
    let pods: Vec<String> = (0..replicas).map(|i| format!("shale-{i}.shale-nodes")).collect();
    let names: Vec<String> = map.nodes().map(|n| n.name.clone()).collect();
    assert_eq!(names, pods);
    for node in map.nodes() {
        assert_eq!(
            (node.address.as_str(), u64::from(node.port)),
            (node.name.as_str(), data["port"].as_u64().unwrap())
        );
    }
}

#[test]
fn routers_deployment_service_and_budget_agree() {
    let all = manifests();
    let deploy = get(&all, "Deployment", "shale-router");
    let svc = get(&all, "Service", "shale");
    let labels = &deploy["spec"]["template"]["metadata"]["labels"];
    assert!(selects(&deploy["spec"]["selector"]["matchLabels"], labels));
    assert!(selects(&svc["spec"]["selector"], labels));
    assert!(selects(
        &get(&all, "PodDisruptionBudget", "shale-router")["spec"]["selector"]["matchLabels"],
        labels
    ));
    let nodes = &get(&all, "StatefulSet", "shale")["spec"]["template"]["metadata"]["labels"];
    assert!(!selects(&svc["spec"]["selector"], nodes), "clients reach routers, not nodes");
    let port = &svc["spec"]["ports"][0];
    assert_eq!(s(&port["targetPort"]), "data");
    check_container(deploy, "router", port["port"].as_u64().unwrap());
    let map_volume = deploy["spec"]["template"]["spec"]["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v.get("configMap").is_some())
        .unwrap();
    assert_eq!(
        map_volume["configMap"]["optional"].as_bool(),
        Some(true),
        "a router may start before its map"
    );
}

#[test]
fn every_flag_in_the_manifests_exists() {
    let all = manifests();
    for (workload, role) in [
        (get(&all, "StatefulSet", "shale"), "server"),
        (get(&all, "Deployment", "shale-router"), "router"),
    ] {
        let help = std::process::Command::new(env!("CARGO_BIN_EXE_shale"))
            .args([role, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8(help.stdout).unwrap();
        for flag in flags(&workload["spec"]["template"]["spec"]["containers"][0]).keys() {
            assert!(help.contains(&format!("{flag} ")), "shale {role} has no {flag}");
        }
    }
}

#[test]
fn the_dockerfile_builds_in_stages_and_runs_shale_as_non_root() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/Dockerfile"))
            .unwrap();
    let lines: Vec<&str> =
        text.lines().map(str::trim).filter(|l| !l.starts_with('#') && !l.is_empty()).collect();
    let froms: Vec<&&str> = lines.iter().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "a build stage and a small final stage");
    assert!(froms[0].ends_with(" AS build") && froms[1].contains("distroless"), "{froms:?}");
    let last_stage = lines.iter().rposition(|l| l.starts_with("FROM ")).unwrap();
    let fin = &lines[last_stage..];
    assert!(
        fin.iter().any(|l| l.starts_with("COPY --from=build ")),
        "the binary comes from the build stage"
    );
    let user = fin.iter().find(|l| l.starts_with("USER ")).expect("a USER in the final stage");
    assert!(!user.contains("root") || user.contains("nonroot"), "{user}");
    assert!(!user.starts_with("USER 0"), "{user}");
    assert!(fin.contains(&r#"ENTRYPOINT ["/usr/local/bin/shale"]"#));
    assert!(lines.iter().any(|l| l.contains("cargo build --release --locked")));
    let ignore =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(".dockerignore"))
            .unwrap();
    assert!(ignore.lines().any(|l| l.trim() == "target"), "target/ stays out of the context");
}
