//! Payloads of the coordinator operations, sans I/O: RMW (a router asks a shard's
//! coordinator to run a read-modify-write command) and FENCE (a node taking over as a
//! shard's coordinator stops the one before it). Every integer is big-endian; decoders
//! check every length against the bytes present and allocate nothing from a length read
//! off the wire.
//!
//! ```text
//! RMW    req   value = the command as one RESP array of bulk strings (as CMD);
//!              ttl_ms = the command's id (0 = none), the same on every attempt
//!        OK    reply_len:u32 | reply: reply_len bytes of RESP3 | outcome page | [ids]
//!              outcome page = a dump page (see [`super::dump`]) with more = 0: one record
//!              per key the command changed (value or tombstone, remaining TTL, version)
//!              ids = present when the request had an id: per record, in order,
//!              count:u8 (at most MAX_RMW_IDS) | id:u64{count}
//! VSET/VDEL with FLAG_RMW_IDS: value = version:u64 | count:u8 | id:u64{count} | data
//! BUCKET_DUMP with FLAG_RMW_IDS: OK = a dump page | [ids], ids as in RMW's OK (none: the
//!              node keeps no ids of any of them, or is older than ids in pages)
//! FENCE  req   value = shard:u32 | name of the node taking over (UTF-8, at most 255 B)
//!        OK    clock:u64 | [count:u32 | id:u64{count}]: the RMW ids the fenced node
//!              knows took effect in its state of the shard, for the node taking over
//! NOT_COORDINATOR message ends with `coordinator=<name>` (nothing after `=` when the node
//!              knows of no coordinator)
//! ```

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::Opcode;
use super::binary::{FLAG_RMW_IDS, RequestFrame, versioned_frame};
use super::cluster::{MAX_NODE_NAME, Stale};
use super::dump::{DumpPage, DumpRecord, decode_page_prefix, encode_page};
use super::text::encode_command;

/// What a NOT_COORDINATOR message puts before the coordinator's name.
pub const COORDINATOR_FIELD: &str = "coordinator=";

/// Most read-modify-write ids one key's state carries (in an outcome record or a
/// versioned write): the latest commands whose effect it holds, newest last. A command run
/// again after its reply was lost is recognised while its id is among them.
pub const MAX_RMW_IDS: usize = 16;
// An outcome write's version, id count and ids fit in what a router may add to a frame.
const _: () = assert!(8 + 1 + 8 * MAX_RMW_IDS <= super::limits::FORWARD_OVERHEAD);

/// The OK payload of RMW: the command's reply and the resulting state of every key it
/// changed, which the router writes to the shard's other replicas with these versions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RmwOutcome {
    /// The command's reply, encoded as RESP3.
    pub reply: Bytes,
    /// One record per key the command changed.
    pub records: Vec<DumpRecord>,
    /// Per record, the ids of the read-modify-writes its state holds the effect of (at
    /// most [`MAX_RMW_IDS`], newest last); empty when the request carried no id.
    pub ids: Vec<Vec<u64>>,
}

impl RmwOutcome {
    /// The wire form.
    pub fn encode(&self) -> Bytes {
        let page = encode_page(&DumpPage { records: self.records.clone(), next: None });
        let ids_len = record_ids_len(&self.ids);
        let mut b = BytesMut::with_capacity(4 + self.reply.len() + page.len() + ids_len);
        b.put_u32(u32::try_from(self.reply.len()).unwrap_or(u32::MAX));
        b.put_slice(&self.reply);
        b.put_slice(&page);
        if !self.ids.is_empty() {
            debug_assert_eq!(self.ids.len(), self.records.len());
            put_record_ids(&mut b, &self.ids);
        }
        b.freeze()
    }

    /// Parses the wire form; `None` if it is malformed.
    pub fn decode(mut p: Bytes) -> Option<Self> {
        if p.len() < 4 {
            return None;
        }
        let reply_len = p.get_u32() as usize;
        if p.len() < reply_len {
            return None;
        }
        let reply = p.split_to(reply_len);
        let (page, mut rest) = decode_page_prefix(p).ok()?;
        if page.next.is_some() {
            return None;
        }
        let ids = take_record_ids(&mut rest, page.records.len())?;
        rest.is_empty().then_some(Self { reply, records: page.records, ids })
    }
}

/// A dump page followed by each record's ids (BUCKET_DUMP with [`FLAG_RMW_IDS`]); no ids
/// section when no record has any.
pub fn encode_page_ids(page: &DumpPage, ids: &[Vec<u64>]) -> Bytes {
    let page_bytes = encode_page(page);
    if ids.iter().all(Vec::is_empty) {
        return page_bytes;
    }
    debug_assert_eq!(ids.len(), page.records.len());
    let mut b = BytesMut::with_capacity(page_bytes.len() + record_ids_len(ids));
    b.put_slice(&page_bytes);
    put_record_ids(&mut b, ids);
    b.freeze()
}

/// Parses [`encode_page_ids`]'s form (or a bare page, whose records carry no ids); `None`
/// if it is malformed. The ids list has one entry per record.
pub fn decode_page_ids(p: Bytes) -> Option<(DumpPage, Vec<Vec<u64>>)> {
    let (page, mut rest) = decode_page_prefix(p).ok()?;
    let mut ids = take_record_ids(&mut rest, page.records.len())?;
    if ids.is_empty() {
        ids = vec![Vec::new(); page.records.len()];
    }
    rest.is_empty().then_some((page, ids))
}

/// Bytes [`put_record_ids`] appends for `ids`.
fn record_ids_len(ids: &[Vec<u64>]) -> usize {
    ids.iter().map(|ids| 1 + 8 * ids.len().min(MAX_RMW_IDS)).sum()
}

/// Appends each record's ids, in order, after a page (RMW's OK, BUCKET_DUMP's with ids).
fn put_record_ids(dst: &mut BytesMut, ids: &[Vec<u64>]) {
    for ids in ids {
        put_ids(dst, ids);
    }
}

/// Takes `records` records' ids off the front of `rest`: none (an empty list) when `rest`
/// is empty, else one list per record; `None` if that section is malformed or cut short.
fn take_record_ids(rest: &mut Bytes, records: usize) -> Option<Vec<Vec<u64>>> {
    if rest.is_empty() {
        return Some(Vec::new());
    }
    (0..records).map(|_| take_ids(rest)).collect()
}

/// Appends `count:u8 | id:u64{count}` (at most [`MAX_RMW_IDS`] of them, the newest).
fn put_ids(dst: &mut BytesMut, ids: &[u64]) {
    let ids = &ids[ids.len().saturating_sub(MAX_RMW_IDS)..];
    dst.put_u8(ids.len() as u8);
    for &id in ids {
        dst.put_u64(id);
    }
}

/// Takes `count:u8 | id:u64{count}` off the front of `p`; `None` if it is malformed
/// (more than [`MAX_RMW_IDS`], a zero id, or short).
pub fn take_ids(p: &mut Bytes) -> Option<Vec<u64>> {
    let count = usize::from(*p.first()?);
    if count > MAX_RMW_IDS || p.len() < 1 + 8 * count {
        return None;
    }
    p.advance(1);
    let ids: Vec<u64> = (0..count).map(|_| p.get_u64()).collect();
    ids.iter().all(|&id| id != 0).then_some(ids)
}

/// An RMW request carrying the command `argv` (its name first) and its id (0 = none), which
/// every attempt of one command carries so a coordinator can tell a command it already
/// applied.
pub fn rmw_frame<A: AsRef<[u8]>>(argv: &[A], id: u64) -> RequestFrame {
    let mut value = BytesMut::new();
    encode_command(argv, &mut value);
    let opcode = Opcode::Rmw as u8;
    RequestFrame { opcode, ttl_ms: id, value: value.freeze(), ..Default::default() }
}

/// A versioned write of an outcome record, carrying the ids of the read-modify-writes its
/// state holds (flag [`FLAG_RMW_IDS`]; none: a plain versioned write).
pub fn outcome_frame(
    key: Bytes,
    value: Option<&[u8]>,
    ttl_ms: u64,
    version: u64,
    ids: &[u64],
) -> RequestFrame {
    if ids.is_empty() {
        return versioned_frame(key, value, ttl_ms, version);
    }
    // The same write without its data gives the opcode, TTL and version; the data is
    // copied once, after the ids.
    let head = versioned_frame(key, value.map(|_| &[][..]), ttl_ms, version);
    let data = value.unwrap_or_default();
    let mut v = BytesMut::with_capacity(head.value.len() + 1 + 8 * ids.len() + data.len());
    v.put_slice(&head.value);
    put_ids(&mut v, ids);
    v.put_slice(data);
    RequestFrame { flags: FLAG_RMW_IDS, value: v.freeze(), ..head }
}

/// The OK payload of FENCE: the fenced node's clock and the RMW ids it knows took effect in
/// its state of the shard, which the node taking over keeps too: it pulls that state, and
/// with it the effect of those commands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FenceOk {
    /// The fenced node's clock.
    pub clock: u64,
    /// The ids.
    pub ids: Vec<u64>,
}

impl FenceOk {
    /// The wire form (the clock alone when there are no ids, as before ids existed).
    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(12 + 8 * self.ids.len());
        b.put_u64(self.clock);
        if !self.ids.is_empty() {
            b.put_u32(u32::try_from(self.ids.len()).unwrap_or(u32::MAX));
            for &id in &self.ids {
                b.put_u64(id);
            }
        }
        b.freeze()
    }

    /// Parses the wire form; `None` if it is malformed.
    pub fn decode(mut p: Bytes) -> Option<Self> {
        if p.len() < 8 {
            return None;
        }
        let clock = p.get_u64();
        if p.is_empty() {
            return Some(Self { clock, ids: Vec::new() });
        }
        if p.len() < 4 {
            return None;
        }
        let count = p.get_u32() as usize;
        if p.len() != count.checked_mul(8)? {
            return None;
        }
        let ids = (0..count).map(|_| p.get_u64()).collect();
        Some(Self { clock, ids })
    }
}

/// A FENCE request: node `by` takes over as coordinator of `shard`.
pub fn fence_frame(shard: u32, by: &str) -> RequestFrame {
    let name = &by.as_bytes()[..by.len().min(MAX_NODE_NAME)];
    let mut value = BytesMut::with_capacity(4 + name.len());
    value.put_u32(shard);
    value.put_slice(name);
    RequestFrame { opcode: Opcode::Fence as u8, value: value.freeze(), ..Default::default() }
}

/// Parses a FENCE request value: the shard and the name of the node taking over.
pub fn parse_fence(mut value: &[u8]) -> Option<(u32, String)> {
    if value.len() < 4 || value.len() > 4 + MAX_NODE_NAME {
        return None;
    }
    let shard = value.get_u32();
    let name = std::str::from_utf8(value).ok().filter(|n| !n.is_empty())?;
    Some((shard, name.to_owned()))
}

/// The message of a NOT_COORDINATOR reply from node `me` for `shard`.
pub fn not_coordinator_message(me: &str, shard: u32, coordinator: Option<&str>) -> String {
    let named = coordinator.unwrap_or("");
    format!("node {me} does not coordinate shard {shard}; {COORDINATOR_FIELD}{named}")
}

/// Where a SUPERSEDED message says what the key holds: `held=<version> clock=<clock>`, as
/// a STALE reply's payload does, so a writer can re-stamp above it.
pub const SUPERSEDED_FIELDS: &str = "; held=";

/// The message of a SUPERSEDED reply (see `server/node/orphans.rs`): why, then what the
/// key holds.
pub fn superseded_message(why: &str, stale: Stale) -> String {
    format!("{why}{SUPERSEDED_FIELDS}{} clock={}", stale.held, stale.clock)
}

/// What a SUPERSEDED message says the key holds.
pub fn superseded_stale(message: &str) -> Option<Stale> {
    let (_, rest) = message.rsplit_once(SUPERSEDED_FIELDS)?;
    let (held, clock) = rest.split_once(" clock=")?;
    Some(Stale { held: held.parse().ok()?, clock: clock.parse().ok()? })
}

/// The coordinator a NOT_COORDINATOR message names, if it names one.
pub fn coordinator_named(message: &str) -> Option<&str> {
    let (_, rest) = message.rsplit_once(COORDINATOR_FIELD)?;
    let name = rest.split_whitespace().next().unwrap_or("");
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
#[path = "rmw_tests.rs"]
mod tests;
