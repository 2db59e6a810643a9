//! What a deployment past one machine relies on: node addresses that are DNS names are
//! resolved again on every reconnect (a restarted pod has a new IP), and a shard map
//! mounted from a Kubernetes ConfigMap is followed through the kubelet's symlink swap.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::{Text, start, until};
use shale::client::config::Resolver;
use shale::router::{Router, RouterConfig};
use shale::shardmap::ShardMap;

/// A one-shard map with one node, `n1`, at `host:port`.
fn map_at(host: &str, port: u16) -> ShardMap {
    ShardMap::builder(1).node("n1", host, port).shard(1, &["n1"]).build().unwrap()
}

/// Hermetic DNS: a resolver hook (the router's `resolver`, which replaces getaddrinfo) that
/// answers the name `cache-1.shale.test` with whichever server the test points it at, and
/// counts lookups. The router is given only the name; when the first server dies and the
/// name moves to a second one, the router must find it by resolving again.
#[tokio::test]
async fn node_names_are_resolved_again_on_every_reconnect() {
    let (first, second) = (start().await, start().await);
    let target = Arc::new(Mutex::new(first.local_addr()));
    let lookups = Arc::new(AtomicUsize::new(0));
    let (t, n) = (target.clone(), lookups.clone());
    let resolver = Resolver(Arc::new(move |name: &str| {
        assert_eq!(name, "cache-1.shale.test:7401", "the router resolves the map's name");
        n.fetch_add(1, Ordering::Relaxed);
        Ok(vec![*t.lock().unwrap()])
    }));
    let path = common::temp_file("map.json", &map_at("cache-1.shale.test", 7401).to_json());
    let mut cfg = RouterConfig::loopback(0, &path);
    cfg.resolver = Some(resolver);
    let router = Router::start(cfg).await.unwrap();
    let mut client = Text::connect(router.local_addr()).await;
    client.roundtrip(b"SET k first\r\n", b"+OK\r\n").await;
    assert!(first.store().get(b"k").is_some(), "the name led to the first server");
    let before = lookups.load(Ordering::Relaxed);
    assert!(before >= 1);

    // The pod restarts elsewhere: the old address refuses, the name now means `second`.
    first.shutdown().await;
    *target.lock().unwrap() = second.local_addr();
    let moved = until(async || {
        client.send(b"SET k second\r\n").await;
        client.read_until(b"\r\n").await == b"+OK\r\n"
    })
    .await;
    assert!(moved, "the router found the node under its new address");
    assert_eq!(second.store().get(b"k").as_deref(), Some(&b"second"[..]));
    assert!(lookups.load(Ordering::Relaxed) > before, "reconnecting resolved the name again");
    router.shutdown().await;
    second.shutdown().await;
}

/// The system resolver path, with a name every machine resolves without DNS.
#[tokio::test]
async fn node_addresses_may_be_hostnames() {
    let node = start().await;
    let path =
        common::temp_file("map.json", &map_at("localhost", node.local_addr().port()).to_json());
    let router = Router::start(RouterConfig::loopback(0, &path)).await.unwrap();
    let mut client = Text::connect(router.local_addr()).await;
    // localhost may resolve to ::1 first, where nothing listens: the connect tries each.
    client.roundtrip(b"SET k v\r\n", b"+OK\r\n").await;
    assert!(node.store().get(b"k").is_some());
    router.shutdown().await;
    node.shutdown().await;
}

/// A ConfigMap volume as the kubelet writes it (`AtomicWriter`): the data in a timestamped
/// directory, `..data` a symlink to it, and each key a symlink through `..data`.
struct ConfigMapVolume {
    dir: PathBuf,
    version: u32,
}

impl ConfigMapVolume {
    fn new(key: &str, content: &str) -> Self {
        let dir = common::temp_file("unused", "").parent().unwrap().join("volume");
        std::fs::create_dir_all(&dir).unwrap();
        let mut volume = Self { dir, version: 0 };
        let data = volume.write_data_dir(key, content);
        std::os::unix::fs::symlink(&data, volume.dir.join("..data")).unwrap();
        std::os::unix::fs::symlink(Path::new("..data").join(key), volume.dir.join(key)).unwrap();
        volume
    }

    /// `..2026_12_04_10_00_00.<n>/<key>`, as the kubelet names them.
    fn write_data_dir(&mut self, key: &str, content: &str) -> PathBuf {
        self.version += 1;
        let name =
            PathBuf::from(format!("..2026_12_04_10_00_0{}.{:09}", self.version, self.version));
        std::fs::create_dir(self.dir.join(&name)).unwrap();
        std::fs::write(self.dir.join(&name).join(key), content).unwrap();
        name
    }

    /// The kubelet's update: a new timestamped directory, a `..data_tmp` symlink to it
    /// renamed over `..data` (the atomic step), then the old directory removed.
    fn update(&mut self, key: &str, content: &str) {
        let old = std::fs::read_link(self.dir.join("..data")).unwrap();
        let new = self.write_data_dir(key, content);
        std::os::unix::fs::symlink(&new, self.dir.join("..data_tmp")).unwrap();
        std::fs::rename(self.dir.join("..data_tmp"), self.dir.join("..data")).unwrap();
        std::fs::remove_dir_all(self.dir.join(old)).unwrap();
    }
}

#[tokio::test]
async fn a_configmap_update_by_symlink_swap_is_followed() {
    let (a, b) = (start().await, start().await);
    let map_a = map_at("127.0.0.1", a.local_addr().port());
    let map_b = map_at("127.0.0.1", b.local_addr().port());
    let mut volume = ConfigMapVolume::new("shardmap.json", &map_a.to_json());
    let path = volume.dir.join("shardmap.json");
    let router = Router::start(RouterConfig::loopback(0, &path)).await.unwrap();
    assert_eq!(**router.router().topology().map(), map_a);

    volume.update("shardmap.json", &map_b.to_json());
    let followed = until(async || **router.router().topology().map() == map_b).await;
    assert!(followed, "the router follows the swapped map (no SIGHUP)");
    let mut client = Text::connect(router.local_addr()).await;
    client.roundtrip(b"SET k v\r\n", b"+OK\r\n").await;
    assert!(b.store().get(b"k").is_some() && a.store().get(b"k").is_none());
    assert_eq!(router.router().watcher().generation(), 2);
    router.shutdown().await;
    a.shutdown().await;
    b.shutdown().await;
}
