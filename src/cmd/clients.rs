//! [`Clients`]: the registry of open connections behind CLIENT LIST, CLIENT INFO and
//! CLIENT KILL, and the Redis 7.2 line format of one client.
//!
//! The connection loop registers each connection ([`Clients::register`]) and the entry
//! leaves when the returned guard drops. Owns no socket: killing a client cancels its
//! connection's token and the loop closes it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use super::session::ClientInfo;

/// Every open connection, by id.
#[derive(Debug, Default)]
pub struct Clients {
    map: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
}

/// Removes its connection from the registry when dropped.
#[derive(Debug)]
pub struct Registration<'a> {
    clients: &'a Clients,
    id: u64,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.clients.deregister(self.id);
    }
}

impl Registration<'_> {
    /// Leaves the connection registered after the registration is gone: for a
    /// connection moving to another worker thread, which registers it again there (or
    /// calls [`Clients::deregister`] if it never arrives), so CLIENT LIST and KILL find it
    /// throughout.
    pub fn keep(self) {
        std::mem::forget(self);
    }
}

/// Which connections CLIENT KILL (new form) or CLIENT LIST selects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only these ids (CLIENT LIST ID, CLIENT KILL ID).
    pub ids: Option<Vec<u64>>,
    /// Only this peer address (`ip:port`).
    pub addr: Option<String>,
    /// Only this local address.
    pub laddr: Option<String>,
    /// Only normal clients (`true`), or none (`false`: master, replica, pubsub).
    pub normal: Option<bool>,
    /// Only this user (every shale client is `default`).
    pub user: Option<String>,
    /// Leave out this connection (SKIPME, on by default for KILL).
    pub skip: Option<u64>,
}

impl Filter {
    fn admits(&self, c: &ClientInfo) -> bool {
        let local = c.conn().and_then(|f| f.local).map(|a| a.to_string());
        self.ids.as_ref().is_none_or(|ids| ids.contains(&c.id))
            && self.addr.as_ref().is_none_or(|a| *a == c.peer.to_string())
            && self.laddr.as_ref().is_none_or(|a| Some(a) == local.as_ref())
            && self.normal != Some(false)
            && self.user.as_ref().is_none_or(|u| u == "default")
            && self.skip != Some(c.id)
    }
}

impl Clients {
    /// Adds a connection; it stays listed until the guard drops.
    pub fn register(&self, client: Arc<ClientInfo>) -> Registration<'_> {
        let id = client.id;
        self.map.lock().insert(id, client);
        Registration { clients: self, id }
    }

    /// Removes connection `id` from the registry.
    pub fn deregister(&self, id: u64) {
        self.map.lock().remove(&id);
    }

    /// Connections open now.
    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    /// Whether no connection is open.
    pub fn is_empty(&self) -> bool {
        self.map.lock().is_empty()
    }

    /// The connections `filter` selects, by id.
    pub fn select(&self, filter: &Filter) -> Vec<Arc<ClientInfo>> {
        self.map.lock().values().filter(|c| filter.admits(c)).cloned().collect()
    }

    /// Asks every connection `filter` selects to close; returns how many were asked.
    pub fn kill(&self, filter: &Filter) -> usize {
        self.select(filter).iter().filter(|c| c.kill()).count()
    }

    /// The largest input and output buffers now (INFO `client_recent_max_*`).
    pub fn max_buffers(&self) -> (usize, usize) {
        let map = self.map.lock();
        map.values().fold((0, 0), |(i, o), c| {
            let s = c.state();
            (i.max(s.qbuf + s.qbuf_free), o.max(s.obl))
        })
    }
}

/// One CLIENT LIST line (without the newline), with Redis 7.2's fields in Redis's order.
/// `current` overrides `cmd=` for the connection asking, whose own command is still
/// running.
pub fn line(c: &ClientInfo, now: Instant, current: Option<&str>) -> String {
    let s = c.state();
    let conn = c.conn();
    let show = |b: &Option<bytes::Bytes>| {
        String::from_utf8_lossy(b.as_deref().unwrap_or(b"")).into_owned()
    };
    let laddr = conn.and_then(|f| f.local).map_or_else(String::new, |a: SocketAddr| a.to_string());
    let fd = conn.map_or(-1, |f| f.fd);
    let flags = if s.monitor { "O" } else { "N" };
    let events = if s.obl > 0 { "rw" } else { "r" };
    let mut out = String::with_capacity(320);
    let _ = write!(
        out,
        "id={} addr={} laddr={laddr} fd={fd} name={} age={} idle={} flags={flags} db=0 \
         sub=0 psub=0 ssub=0 multi=-1 qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs={} \
         rbp={} obl={} oll=0 omem={} tot-mem={} events={events} cmd={} user=default \
         redir=-1 resp={} lib-name={} lib-ver={}",
        c.id,
        c.peer,
        show(&s.name),
        now.duration_since(c.created).as_secs(),
        now.duration_since(s.last_active).as_secs(),
        s.qbuf,
        s.qbuf_free,
        s.qbuf + s.qbuf_free,
        s.qbuf + s.qbuf_free,
        s.obl,
        s.omem,
        s.qbuf + s.qbuf_free + s.omem,
        current.unwrap_or(s.last_cmd),
        s.resp,
        show(&s.lib_name),
        show(&s.lib_ver),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(id: u64) -> Arc<ClientInfo> {
        Arc::new(ClientInfo::new(id, format!("127.0.0.1:{}", 1000 + id).parse().expect("addr")))
    }

    #[test]
    fn registration_lasts_as_long_as_its_guard() {
        let clients = Clients::default();
        let a = clients.register(client(1));
        {
            let _b = clients.register(client(2));
            assert_eq!(clients.len(), 2);
        }
        assert_eq!(clients.len(), 1);
        drop(a);
        assert!(clients.is_empty());
    }

    #[test]
    fn filters_select_like_redis() {
        let clients = Clients::default();
        let _g: Vec<_> = (1..=3).map(|i| clients.register(client(i))).collect();
        let ids = |f: Filter| clients.select(&f).iter().map(|c| c.id).collect::<Vec<_>>();
        assert_eq!(ids(Filter::default()), [1, 2, 3]);
        assert_eq!(ids(Filter { ids: Some(vec![3, 1, 9]), ..Filter::default() }), [1, 3]);
        assert_eq!(ids(Filter { addr: Some("127.0.0.1:1002".into()), ..Filter::default() }), [2]);
        assert_eq!(ids(Filter { skip: Some(2), ..Filter::default() }), [1, 3]);
        assert!(ids(Filter { normal: Some(false), ..Filter::default() }).is_empty());
        assert!(ids(Filter { user: Some("bob".into()), ..Filter::default() }).is_empty());
        // Without a connection loop behind them, nothing can be closed.
        assert_eq!(clients.kill(&Filter::default()), 0);
    }

    #[test]
    fn line_has_redis_fields_in_order() {
        let c = client(7);
        c.update(|s| s.name = Some("app".into()));
        let l = line(&c, Instant::now(), Some("client|list"));
        let keys: Vec<&str> = l.split(' ').filter_map(|f| f.split('=').next()).collect();
        assert_eq!(
            keys,
            [
                "id",
                "addr",
                "laddr",
                "fd",
                "name",
                "age",
                "idle",
                "flags",
                "db",
                "sub",
                "psub",
                "ssub",
                "multi",
                "qbuf",
                "qbuf-free",
                "argv-mem",
                "multi-mem",
                "rbs",
                "rbp",
                "obl",
                "oll",
                "omem",
                "tot-mem",
                "events",
                "cmd",
                "user",
                "redir",
                "resp",
                "lib-name",
                "lib-ver"
            ]
        );
        assert!(l.starts_with("id=7 addr=127.0.0.1:1007 laddr= fd=-1 name=app "), "{l}");
        assert!(l.contains(" cmd=client|list "), "{l}");
    }
}
