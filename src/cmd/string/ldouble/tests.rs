//! INCRBYFLOAT's arithmetic against answers recorded from redis-server 7.0.15 on x86-64
//! (`SET f <stored>`, `INCRBYFLOAT f <increment>`).

use super::{LONG_DOUBLE_TEXT_MAX, LongDouble};

/// Stored value (`None`: no key), increment, and Redis's answer (`ERR:` then the message
/// for an error).
const CASES: &[(Option<&str>, &str, &str)] = &[
    (None, "0.1", "0.1"),
    (Some("0.1"), "0.2", "0.3"),
    (
        Some("1e308"),
        "1e308",
        "199999999999999999993371759311691291321120199694831134415594095989843469737676123744200253843777078640893494450108026446304269499187921167194841628860392837535918200039206381557326219209014213335878306791577877829121087126122536729803237260434173178506889763247582601711514636284849020905456510092687857156096",
    ),
    (Some("3.0"), "0", "3"),
    (
        Some("1e300"),
        "1",
        "1000000000000000000008997324079559193870523944273290747938260082321265646596180935755849152083750497190350372508614274835903592556184672983913096260520748646287327135641843653294084255107606016789726652932370030551382947620994540294772781889620606179267611627097410650567187386105690089424915104006144",
    ),
    (Some("0x10"), "1", "17"),
    (Some("inf"), "1", "ERR:increment would produce NaN or Infinity"),
    (Some(" 1"), "1", "ERR:value is not a valid float"),
    (Some("1"), "1e-4940", "1"),
    (Some("1"), "1e5000", "ERR:value is not a valid float"),
    (Some("5.0e3"), "0", "5000"),
    (Some("10"), "1.1e-17", "10.00000000000000001"),
    (Some("1.5"), ".5", "2"),
    (Some("2"), "+1", "3"),
    (Some("3"), "1.", "4"),
    (Some("12345678901234567890"), "1", "12345678901234567891"),
    (Some("1"), "-1", "0"),
    (Some("-1"), "-1e-20", "-1"),
    (Some("0"), "-0", "0"),
    (Some("-0"), "0", "0"),
    (Some("1.23456789012345678901234567890"), "0", "1.23456789012345679"),
    (Some("0.1"), "0", "0.1"),
    (Some("100"), "-99.99", "0.01"),
    (Some("1e-10"), "0", "0.0000000001"),
    (Some("1e-17"), "0", "0.00000000000000001"),
    (Some("1e-18"), "0", "0"),
    (Some("5e-18"), "0", "0"),
    (Some("4e-18"), "0", "0"),
    (Some("6e-18"), "0", "0.00000000000000001"),
    (Some("1.5e-17"), "0", "0.00000000000000002"),
    (Some("2.5e-17"), "0", "0.00000000000000002"),
    (Some("0x1p-16445"), "0", "0"),
    (Some("0x1.8p1"), "0", "3"),
    (Some("0X.8"), "0", "0.5"),
    (Some("1.18e4932"), "1e4931", "ERR:increment would produce NaN or Infinity"),
    (Some("-1e4932"), "-2e4932", "ERR:value is not a valid float"),
    (Some("123456789.123456789"), "987654321.987654321", "1111111111.11111110995989293"),
    (Some("9007199254740993"), "0", "9007199254740993"),
    (Some("18446744073709551615"), "0", "18446744073709551615"),
    (Some("18446744073709551617"), "0", "18446744073709551616"),
    (Some("-5"), "2.5", "-2.5"),
    (Some("7"), "infinity", "ERR:increment would produce NaN or Infinity"),
    (Some("1"), "nan", "ERR:value is not a valid float"),
    (Some("1"), "1e", "ERR:value is not a valid float"),
    (Some("1"), "e1", "ERR:value is not a valid float"),
    (Some("1"), "1e+", "ERR:value is not a valid float"),
    (Some("1"), "0x", "ERR:value is not a valid float"),
    (Some("1"), "0x1p", "ERR:value is not a valid float"),
    (Some("1"), "--1", "ERR:value is not a valid float"),
    (Some("1"), "1 ", "ERR:value is not a valid float"),
    (Some("1"), ".", "ERR:value is not a valid float"),
    (Some("1"), "1e-99999", "ERR:value is not a valid float"),
    (Some("1"), "0e99999", "1"),
    (Some("1"), "3.999999999999999999999999", "5"),
    (Some("0.0000000000000000000000001"), "1", "1"),
    (Some("1e-4951"), "0", "ERR:value is not a valid float"),
    (Some("3e-4951"), "0", "0"),
    (Some("2e-4951"), "0", "0"),
    (Some("1.8e-4951"), "0", "ERR:value is not a valid float"),
    (Some("2.3"), "-2.3", "0"),
    (Some("1.1"), "2.2", "3.3"),
    (Some("3.14159265358979323846264338327950288"), "0", "3.14159265358979324"),
    (Some("-0.00000000000000000001"), "0", "0"),
    (Some("1e-4950"), "1e-4950", "0"),
    (Some("1.2e4932"), "0", "ERR:value is not a valid float"),
    (Some("1.18973149535723176508e4932"), "0", "ERR:value is not a valid float"),
    (Some("-7.5"), "-0.25", "-7.75"),
    (Some("1e20"), "1", "100000000000000000000"),
    (Some("1e25"), "1", "10000000000000000000000000"),
    (Some("123.456"), "-0.456", "123"),
    (Some("0.5e-17"), "0", "0"),
    (Some("1.5e-17"), "1e-17", "0.00000000000000003"),
    (Some("99999999999999999.9"), "0", "99999999999999999.8984375"),
    (Some("9.99999999999999999e16"), "0", "99999999999999999.8984375"),
    (Some("0x1p63"), "0", "9223372036854775808"),
    (Some("0x1p64"), "1", "18446744073709551616"),
    (Some("1e1"), "1E1", "20"),
    (Some("INF"), "-INF", "ERR:increment would produce NaN or Infinity"),
    (Some("+inf"), "0", "ERR:increment would produce NaN or Infinity"),
    (Some("1"), "-infinity", "ERR:increment would produce NaN or Infinity"),
    (Some("00001.5000"), "0", "1.5"),
    (Some("1"), "1e-4951", "ERR:value is not a valid float"),
    (Some("1"), "0.0e-99999999999999999999", "1"),
];

/// What INCRBYFLOAT answers, computed here.
fn incrbyfloat(stored: Option<&str>, by: &str) -> String {
    let parse = |s: &str| LongDouble::parse(s.as_bytes());
    let zero = LongDouble::Finite { neg: false, m: 0, e: 0 };
    let (Some(value), Some(by)) = (stored.map_or(Some(zero), parse), parse(by)) else {
        return "ERR:value is not a valid float".into();
    };
    match value.checked_add(by) {
        Some(sum @ LongDouble::Finite { .. }) => {
            let mut out = [0; LONG_DOUBLE_TEXT_MAX];
            let len = sum.format(&mut out);
            String::from_utf8_lossy(&out[..len]).into_owned()
        }
        _ => "ERR:increment would produce NaN or Infinity".into(),
    }
}

#[test]
fn answers_like_redis() {
    for (stored, by, want) in CASES {
        assert_eq!(incrbyfloat(*stored, by), *want, "{stored:?} + {by:?}");
    }
}

#[test]
fn the_extremes_print_in_full() {
    // (stored, increment, length, first 30 and last 30 characters), from redis-server.
    let cases = [
        ("1e4932", "1", 4933, "100000000000000000000601894938", "163141086538418113791886622720"),
        (
            "0x1.fffffffffffffffep16383",
            "0",
            4933,
            "118973149535723176502126385303",
            "444156604419552086811989770240",
        ),
        (
            "-1.1e4932",
            "0",
            4934,
            "-10999999999999999999743731075",
            "529957267178522323242088136704",
        ),
    ];
    for (stored, by, len, head, tail) in cases {
        let got = incrbyfloat(Some(stored), by);
        assert_eq!(got.len(), len, "{stored}");
        assert!(got.starts_with(head) && got.ends_with(tail), "{stored}: {got}");
    }
}

#[test]
fn garbage_never_panics() {
    let long = "9".repeat(LONG_DOUBLE_TEXT_MAX - 1);
    let tiny = format!("0.{}1", "0".repeat(LONG_DOUBLE_TEXT_MAX - 4));
    let inputs = ["", "-", "+", "0x.", "0x.p1", "1e99999999999999999999999", "\u{0}", &long, &tiny];
    for s in inputs {
        let _ = LongDouble::parse(s.as_bytes()).map(|v| v.checked_add(v));
    }
    assert_eq!(LongDouble::parse(long.as_bytes()), None, "10^5119 overflows");
}
