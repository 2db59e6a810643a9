//! Tests of the coordinator payloads' codecs: round trips, limits, truncations.

use super::*;

#[test]
fn an_outcome_of_the_largest_key_and_value_with_every_id_is_a_frame_nodes_take() {
    use tokio_util::codec::{Decoder, Encoder};
    let limits = crate::protocol::Limits::default();
    let key = Bytes::from(vec![b'k'; limits.max_key_size]);
    let value = vec![b'v'; limits.max_value_size];
    let ids: Vec<u64> = (1..=MAX_RMW_IDS as u64).collect();
    let mut wire = BytesMut::new();
    let frame = outcome_frame(key, Some(&value), 0, 9, &ids);
    crate::codec::ClientCodec::new(usize::MAX).encode(&frame, &mut wire).unwrap();
    let decoded = crate::codec::ServerCodec::new(limits).decode(&mut wire);
    assert!(matches!(decoded, Ok(Some(_))), "{:?}", decoded.map(|_| ()));
}

#[test]
fn a_superseded_message_says_what_the_key_holds() {
    let stale = Stale { held: 41, clock: 97 };
    let msg = superseded_message("node b ran past it", stale);
    assert_eq!(superseded_stale(&msg), Some(stale));
    assert_eq!(superseded_stale("node b ran past it"), None);
}

fn outcome() -> RmwOutcome {
    let record = |key: &'static str, value: Option<&'static str>| DumpRecord {
        key: Bytes::from_static(key.as_bytes()),
        value: value.map(|v| Bytes::from_static(v.as_bytes())),
        ttl_ms: 7,
        version: 42,
    };
    RmwOutcome {
        reply: Bytes::from_static(b":3\r\n"),
        records: vec![record("a", Some("3")), record("b", None)],
        ids: Vec::new(),
    }
}

#[test]
fn outcomes_with_ids_round_trip_and_bad_id_lists_are_refused() {
    let mut o = outcome();
    o.ids = vec![vec![7, 8], vec![]];
    let bytes = o.encode();
    assert_eq!(RmwOutcome::decode(bytes.clone()), Some(o.clone()));
    for cut in outcome().encode().len() + 1..bytes.len() {
        assert_eq!(RmwOutcome::decode(bytes.slice(..cut)), None, "cut at {cut}");
    }
    let mut padded = BytesMut::from(&bytes[..]);
    padded.put_u8(0);
    assert_eq!(RmwOutcome::decode(padded.freeze()), None, "a list too many");
    o.ids = vec![(1..=40).collect(), vec![3]];
    let back = RmwOutcome::decode(o.encode()).unwrap();
    assert_eq!(back.ids[0], (25..=40).collect::<Vec<u64>>(), "the newest MAX_RMW_IDS");
    let mut zero = Bytes::from_static(&[1, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(take_ids(&mut zero), None, "id 0 means none");
    let mut many = BytesMut::new();
    many.put_u8(17);
    many.put_bytes(1, 17 * 8);
    assert_eq!(take_ids(&mut many.freeze()), None);
}

#[test]
fn pages_with_ids_round_trip_and_bare_pages_carry_none() {
    let page = DumpPage { records: outcome().records, next: Some(9) };
    let ids = vec![vec![7, 8]; page.records.len()];
    let (back, back_ids) = decode_page_ids(encode_page_ids(&page, &ids)).unwrap();
    assert_eq!((back, back_ids), (page.clone(), ids.clone()));
    let none = vec![Vec::new(); page.records.len()];
    assert_eq!(encode_page_ids(&page, &none), encode_page(&page), "no ids, a bare page");
    assert_eq!(decode_page_ids(encode_page(&page)).unwrap().1, none);
    let whole = encode_page_ids(&page, &ids);
    // The last record's ids whole, or cut short.
    for cut in [whole.len() - 1, whole.len() - 8, whole.len() - (1 + 8 * 2)] {
        assert_eq!(decode_page_ids(whole.slice(..cut)), None, "cut at {cut}");
    }
    let mut extra = BytesMut::from(&whole[..]);
    extra.put_u8(0);
    assert_eq!(decode_page_ids(extra.freeze()), None, "bytes after the ids");
}

#[test]
fn outcome_writes_put_their_ids_between_version_and_data() {
    let f = outcome_frame(Bytes::from_static(b"k"), Some(b"v"), 0, 9, &[5]);
    assert_eq!(f.flags, FLAG_RMW_IDS);
    assert_eq!(&f.value[..], [&9u64.to_be_bytes()[..], &[1], &5u64.to_be_bytes(), b"v"].concat());
    let plain = outcome_frame(Bytes::from_static(b"k"), None, 0, 9, &[]);
    assert_eq!(plain, versioned_frame(Bytes::from_static(b"k"), None, 0, 9));
}

#[test]
fn outcomes_round_trip_and_truncations_are_refused() {
    let o = outcome();
    let bytes = o.encode();
    assert_eq!(RmwOutcome::decode(bytes.clone()), Some(o));
    for cut in 0..bytes.len() {
        assert_eq!(RmwOutcome::decode(bytes.slice(..cut)), None, "cut at {cut}");
    }
    let empty = RmwOutcome::default();
    assert_eq!(RmwOutcome::decode(empty.encode()), Some(empty));
    assert_eq!(RmwOutcome::decode(Bytes::from_static(&[0, 0, 0, 9, 1])), None);
}

#[test]
fn fence_answers_round_trip_and_truncations_are_refused() {
    let plain = FenceOk { clock: 5, ids: Vec::new() };
    assert_eq!(plain.encode().len(), 8, "the clock alone, as before ids");
    assert_eq!(FenceOk::decode(plain.encode()), Some(plain));
    let ok = FenceOk { clock: 9, ids: vec![1, 2, 3] };
    let bytes = ok.encode();
    assert_eq!(FenceOk::decode(bytes.clone()), Some(ok));
    for cut in 9..bytes.len() {
        assert_eq!(FenceOk::decode(bytes.slice(..cut)), None, "cut at {cut}");
    }
    let mut huge = BytesMut::new();
    huge.put_u64(1);
    huge.put_u32(u32::MAX);
    assert_eq!(FenceOk::decode(huge.freeze()), None, "a count past the bytes");
}

#[test]
fn fences_round_trip() {
    let f = fence_frame(3, "n1");
    assert_eq!(f.opcode, Opcode::Fence as u8);
    assert_eq!(parse_fence(&f.value), Some((3, "n1".to_owned())));
    assert_eq!(parse_fence(&[0, 0, 0, 3]), None, "a name is required");
    assert_eq!(parse_fence(&[0, 0, 3]), None);
    assert_eq!(parse_fence(&[0, 0, 0, 3, 0xff]), None, "names are UTF-8");
}

#[test]
fn not_coordinator_names_the_coordinator() {
    let msg = not_coordinator_message("n2", 4, Some("n1"));
    assert_eq!(msg, "node n2 does not coordinate shard 4; coordinator=n1");
    assert_eq!(coordinator_named(&msg), Some("n1"));
    assert_eq!(coordinator_named(&not_coordinator_message("n2", 4, None)), None);
    assert_eq!(coordinator_named("something else"), None);
}

#[test]
fn rmw_frames_carry_the_argv() {
    let f = rmw_frame(&["INCR", "k"], 77);
    assert_eq!((f.opcode, f.ttl_ms), (Opcode::Rmw as u8, 77));
    assert_eq!(&f.value[..], b"*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n");
}
