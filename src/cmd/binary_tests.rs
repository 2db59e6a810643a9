use bytes::Bytes;

use super::*;
use crate::protocol::binary::{FLAG_MOVER, cmd_frame, versioned_frame};

fn req(opcode: u8, key: &'static [u8], value: &'static [u8], ttl_ms: u64) -> RequestFrame {
    RequestFrame {
        opcode,
        flags: 0,
        id: 7,
        ttl_ms,
        key: Bytes::from_static(key),
        value: Bytes::from_static(value),
    }
}

#[test]
fn from_frame_validates() {
    let limits = Limits { max_key_size: 4, max_value_size: 4 };
    let cases: Vec<(RequestFrame, Result<Command, Status>)> = vec![
        // empty key on a keyed op
        (req(2, b"", b"", 0), Err(Status::InvalidArgument)),
        // key over the limit
        (req(2, b"12345", b"", 0), Err(Status::KeyTooLarge)),
        // value over the limit
        (req(3, b"k", b"12345", 0), Err(Status::ValueTooLarge)),
        // unknown opcode
        (req(0x3f, b"k", b"", 0), Err(Status::UnknownOpcode)),
        // ttl above the maximum
        (req(3, b"k", b"v", u64::MAX), Err(Status::InvalidArgument)),
        // ping without a value echoes nothing
        (req(1, b"", b"", 0), Ok(Command::Ping(None))),
        // ttl 0 = never expires
        (
            req(3, b"k", b"v", 0),
            Ok(Command::Set(SetArgs {
                key: Bytes::from_static(b"k"),
                value: Bytes::from_static(b"v"),
                ttl: None,
                more: None,
            })),
        ),
        (req(4, b"k", b"", 0), Ok(Command::Del(vec![Bytes::from_static(b"k")]))),
        // the TTL opcode answers in milliseconds, as PTTL does
        (req(5, b"k", b"", 0), Ok(Command::Pttl(Bytes::from_static(b"k")))),
    ];
    for (frame, want) in cases {
        let got = from_frame(frame.clone(), &limits).map_err(|e| e.status);
        assert_eq!(got, want, "{frame:?}");
    }
}

#[test]
fn nonzero_flags_are_invalid() {
    let mut f = req(2, b"k", b"", 0);
    f.flags = 1;
    let err = from_frame(f, &Limits::default()).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument);
}

#[test]
fn versioned_writes_take_the_mover_flag_and_nothing_else() {
    let vset = versioned_frame(Bytes::from_static(b"k"), Some(b"v"), 0, 9);
    let vdel = versioned_frame(Bytes::from_static(b"k"), None, 0, 9);
    let limits = Limits::default();
    for (frame, flags, mover) in [(&vset, 0, false), (&vset, FLAG_MOVER, true), (&vdel, 1, true)] {
        let got = from_frame(RequestFrame { flags, ..frame.clone() }, &limits).unwrap();
        let got_mover = match got {
            Command::VSet(a) => a.mover,
            Command::VDel(a) => a.mover,
            other => panic!("{other:?}"),
        };
        assert_eq!(got_mover, mover, "flags {flags}");
    }
    let other = RequestFrame { flags: 2, ..vset };
    assert_eq!(from_frame(other, &limits).unwrap_err().status, Status::InvalidArgument);
}

#[test]
fn cmd_frames_carry_any_command() {
    let limits = Limits::default();
    let got = from_frame(cmd_frame(&["get", "k"]), &limits);
    assert_eq!(got, Ok(Command::Get(Bytes::from_static(b"k"))));
    let got =
        from_frame(cmd_frame(&["CONFIG", "GET", "max*"]), &limits).map(|c| c.full_spec().name);
    assert_eq!(got, Ok("config|get"));
    // The text parser's errors, word for word.
    let err = from_frame(cmd_frame(&["nosuch", "x"]), &limits).unwrap_err();
    assert_eq!(err.message, "unknown command 'nosuch', with args beginning with: 'x' ");
    let err = from_frame(cmd_frame(&["get"]), &limits).unwrap_err();
    assert_eq!(err.message, "wrong number of arguments for 'get' command");
    // Key limits apply as for text.
    let small = Limits { max_key_size: 2, max_value_size: 4 };
    let err = from_frame(cmd_frame(&["get", "long"]), &small).unwrap_err();
    assert_eq!(err.status, Status::KeyTooLarge);
}

#[test]
fn cmd_values_must_be_one_resp_array() {
    let limits = Limits::default();
    for value in
        [&b"GET k\r\n"[..], b"*1\r\n$4\r\nPING\r\n*1\r\n", b"*2\r\n$3\r\nGET\r\n", b"*0\r\n", b""]
    {
        let frame = RequestFrame {
            opcode: Opcode::Cmd as u8,
            value: Bytes::from_static(value),
            ..Default::default()
        };
        let err = from_frame(frame, &limits).unwrap_err();
        assert_eq!(err.status, Status::InvalidArgument, "{value:?}");
        assert!(err.message.starts_with("CMD value must be"), "{}", err.message);
    }
}

#[test]
fn bucket_dumps_take_the_ids_flag_and_nothing_else() {
    use crate::protocol::cluster::{BucketSet, bucket_dump_frame};
    let limits = Limits::default();
    for ids in [false, true] {
        let got = from_frame(bucket_dump_frame(1, &BucketSet::all(), 3, ids), &limits).unwrap();
        assert!(matches!(got, Command::BucketDump(a) if a.ids == ids && a.cursor == 3));
    }
    let mover =
        RequestFrame { flags: FLAG_MOVER, ..bucket_dump_frame(1, &BucketSet::all(), 0, false) };
    assert_eq!(from_frame(mover, &limits).unwrap_err().status, Status::InvalidArgument);
}
