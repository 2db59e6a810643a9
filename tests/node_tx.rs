//! MULTI on a cluster node (`--node`): a queued key of a shard the node does not host gets
//! its WRONG_SHARD error at once and makes EXEC abort, as Redis Cluster's `-MOVED` does;
//! keys it hosts run atomically as on a plain server.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::{Proc, WAIT, free_port, temp_file};
use shale::client::{Client, Error, RespValue};
use shale::protocol::Status;
use shale::shardmap::ShardMap;

#[tokio::test]
async fn a_key_of_another_shard_aborts_the_transaction() {
    let (pa, pb) = (free_port(), free_port());
    let map = ShardMap::builder(2)
        .node("a", "127.0.0.1", pa)
        .node("b", "127.0.0.1", pb)
        .shard(1, &["a"])
        .shard(2, &["b"])
        .build()
        .unwrap();
    let path = temp_file("map.json", &map.to_json());
    let key_of = |shard| {
        (0..).map(|i| format!("k{i}")).find(|k| map.shard_for_key(k.as_bytes()) == shard).unwrap()
    };
    let (mine, theirs) = (key_of(1), key_of(2));
    let spawn = |name, port| {
        Proc::spawn_on(&["server", "--shardmap", path.to_str().unwrap(), "--node", name], port)
    };
    let (a, b) = (spawn("a", pa), spawn("b", pb));
    a.wait_log("node ready");
    b.wait_log("node ready");
    let c =
        Client::builder().addr(a.addr.to_string()).request_timeout(WAIT).connect().await.unwrap();

    let mut tx = c.transaction::<&str>(&[]).await.unwrap();
    tx.queue(&["SET", &mine, "1"]).unwrap().queue(&["SET", &theirs, "1"]).unwrap();
    let abort = tx.exec().await.unwrap_err();
    assert!(
        matches!(&abort, Error::Server { message, .. } if message.starts_with("Transaction")),
        "{abort:?}"
    );
    assert_eq!(c.get(mine.clone()).await.unwrap(), None, "nothing ran");

    let mut tx = c.transaction(&[mine.as_str()]).await.unwrap();
    tx.queue(&["SET", &mine, "2"]).unwrap();
    assert_eq!(tx.exec().await.unwrap(), Some(vec![RespValue::Simple("OK".into())]));
    let wrong = c.transaction(&[theirs.as_str()]).await.unwrap_err();
    assert_eq!(wrong.status(), Some(Status::WrongShard), "WATCH is admitted like a read");
}
