use std::cmp::Ordering::{self, Equal, Greater, Less};

use proptest::prelude::*;

use super::*;

use Collation::*;

/// The supported collations, for loops.
const ALL: [Collation; 8] = [
    Binary,
    Utf8Mb4Bin,
    Utf8Mb4BinNoPadding,
    Utf8Mb4GeneralCi,
    Utf8Mb4UnicodeCi,
    Utf8Mb40900AiCi,
    Utf8Mb40900Bin,
    Latin1Bin,
];

fn key(c: Collation, s: &[u8]) -> Vec<u8> {
    c.sort_key_vec(s).unwrap()
}

/// Checks `compare` against `expected` and that the sort keys agree with it.
fn check(c: Collation, a: &[u8], b: &[u8], expected: Ordering) {
    let got = c.compare(a, b).unwrap();
    assert_eq!(got, expected, "{c:?}: {a:?} vs {b:?}");
    assert_eq!(
        c.compare(b, a).unwrap(),
        expected.reverse(),
        "{c:?}: {b:?} vs {a:?}"
    );
    assert_eq!(
        key(c, a).cmp(&key(c, b)),
        expected,
        "{c:?} sort keys: {a:?} vs {b:?}"
    );
}

#[test]
fn from_i32_matches_tikv() {
    // TiKV components/tidb_query_datatype/src/def/field_type.rs, Collation::from_i32.
    let table = [
        (-33, Utf8Mb4GeneralCi),
        (-45, Utf8Mb4GeneralCi),
        (-46, Utf8Mb4Bin),
        (-83, Utf8Mb4Bin),
        (-65, Utf8Mb4Bin),
        (-47, Latin1Bin),
        (-63, Binary),
        (63, Binary),
        (47, Binary),
        (-224, Utf8Mb4UnicodeCi),
        (-192, Utf8Mb4UnicodeCi),
        (-255, Utf8Mb40900AiCi),
        (-309, Utf8Mb40900Bin),
        (0, Utf8Mb4BinNoPadding),
        (46, Utf8Mb4BinNoPadding),
        (45, Utf8Mb4BinNoPadding),
        (224, Utf8Mb4BinNoPadding),
        (i32::MAX, Utf8Mb4BinNoPadding),
    ];
    for (id, c) in table {
        assert_eq!(Collation::from_i32(id).unwrap(), c, "id {id}");
    }
    for id in [-87, -28, -248, -249, -1, -8, -2048, i32::MIN] {
        match Collation::from_i32(id) {
            Err(Error::Unsupported(msg)) => assert!(msg.contains(&id.to_string()), "{msg}"),
            other => panic!("id {id}: {other:?}"),
        }
    }
    for c in ALL {
        assert_eq!(Collation::from_i32(c.id()).unwrap(), c);
    }
}

#[test]
fn flags() {
    for c in ALL {
        assert_eq!(
            c.is_binary(),
            !c.pads_space() && !c.is_case_insensitive() && c != Utf8Mb40900AiCi
        );
    }
    assert!(Binary.is_binary() && Utf8Mb4BinNoPadding.is_binary() && Utf8Mb40900Bin.is_binary());
    assert!(!Utf8Mb4Bin.is_binary() && !Latin1Bin.is_binary());
    assert!(!Utf8Mb40900AiCi.pads_space() && Utf8Mb4UnicodeCi.pads_space());
}

#[test]
fn tidb_compare_table() {
    // TiDB pkg/util/collate/collate_test.go, TestUTF8CollatorCompare; columns binary,
    // utf8mb4_bin, utf8mb4_general_ci, utf8mb4_unicode_ci, utf8mb4_0900_ai_ci, utf8mb4_0900_bin.
    let cols = [
        Binary,
        Utf8Mb4Bin,
        Utf8Mb4GeneralCi,
        Utf8Mb4UnicodeCi,
        Utf8Mb40900AiCi,
        Utf8Mb40900Bin,
    ];
    let (l, e, g) = (Less, Equal, Greater);
    let cases: &[(&str, &str, [Ordering; 6])] = &[
        ("a", "b", [l, l, l, l, l, l]),
        ("a", "A", [g, g, e, e, e, g]),
        ("À", "A", [g, g, e, e, e, g]),
        ("abc", "abc", [e, e, e, e, e, e]),
        ("abc", "ab", [g, g, g, g, g, g]),
        ("😜", "😃", [g, g, e, e, g, g]),
        ("a", "a ", [l, e, e, e, l, l]),
        ("a ", "a  ", [l, e, e, e, l, l]),
        ("a\t", "a", [g, g, g, g, g, g]),
        ("ß", "s", [g, g, e, g, g, g]),
        ("ß", "ss", [g, g, l, e, e, g]),
        ("啊", "吧", [g, g, g, g, g, g]),
        ("中文", "汉字", [l, l, l, l, l, l]),
        ("æ", "ae", [g, g, g, g, e, g]),
        ("A\u{30A}", "A", [g, g, g, e, e, g]),
        ("Å", "A", [g, g, e, e, e, g]),
        ("\u{1730F}", "啊", [g, g, g, g, l, g]),
        ("가", "㉡", [g, g, g, g, l, g]),
        ("갟", "감1", [g, g, g, g, g, g]),
        ("\u{FFFFE}", "\u{FFFFF}", [l, l, e, e, l, l]),
    ];
    for (a, b, expected) in cases {
        for (c, exp) in cols.iter().zip(expected) {
            check(*c, a.as_bytes(), b.as_bytes(), *exp);
        }
    }
}

#[test]
fn tidb_key_table() {
    // TiDB pkg/util/collate/collate_test.go, TestUTF8CollatorKey; same columns as above.
    let cols = [
        Binary,
        Utf8Mb4Bin,
        Utf8Mb4GeneralCi,
        Utf8Mb4UnicodeCi,
        Utf8Mb40900AiCi,
        Utf8Mb40900Bin,
    ];
    let foo = "Foo © bar 𝌆 baz ☃ qux";
    let cases: Vec<(&str, [Vec<u8>; 6])> = vec![
        (
            "a",
            [
                vec![0x61],
                vec![0x61],
                vec![0, 0x41],
                vec![0x0E, 0x33],
                vec![0x1C, 0x47],
                vec![0x61],
            ],
        ),
        (
            "A",
            [
                vec![0x41],
                vec![0x41],
                vec![0, 0x41],
                vec![0x0E, 0x33],
                vec![0x1C, 0x47],
                vec![0x41],
            ],
        ),
        (
            foo,
            [
                foo.as_bytes().to_vec(),
                foo.as_bytes().to_vec(),
                vec![
                    0x0, 0x46, 0x0, 0x4f, 0x0, 0x4f, 0x0, 0x20, 0x0, 0xa9, 0x0, 0x20, 0x0, 0x42,
                    0x0, 0x41, 0x0, 0x52, 0x0, 0x20, 0xff, 0xfd, 0x0, 0x20, 0x0, 0x42, 0x0, 0x41,
                    0x0, 0x5a, 0x0, 0x20, 0x26, 0x3, 0x0, 0x20, 0x0, 0x51, 0x0, 0x55, 0x0, 0x58,
                ],
                vec![
                    0x0E, 0xB9, 0x0F, 0x82, 0x0F, 0x82, 0x02, 0x09, 0x02, 0xC5, 0x02, 0x09, 0x0E,
                    0x4A, 0x0E, 0x33, 0x0F, 0xC0, 0x02, 0x09, 0xFF, 0xFD, 0x02, 0x09, 0x0E, 0x4A,
                    0x0E, 0x33, 0x10, 0x6A, 0x02, 0x09, 0x06, 0xFF, 0x02, 0x09, 0x0F, 0xB4, 0x10,
                    0x1F, 0x10, 0x5A,
                ],
                vec![
                    0x1c, 0xe5, 0x1d, 0xdd, 0x1d, 0xdd, 0x2, 0x9, 0x5, 0x84, 0x2, 0x9, 0x1c, 0x60,
                    0x1c, 0x47, 0x1e, 0x33, 0x2, 0x9, 0xe, 0xf0, 0x2, 0x9, 0x1c, 0x60, 0x1c, 0x47,
                    0x1f, 0x21, 0x2, 0x9, 0x9, 0x1b, 0x2, 0x9, 0x1e, 0x21, 0x1e, 0xb5, 0x1e, 0xff,
                ],
                foo.as_bytes().to_vec(),
            ],
        ),
        (
            "a ",
            [
                vec![0x61, 0x20],
                vec![0x61],
                vec![0, 0x41],
                vec![0x0E, 0x33],
                vec![0x1c, 0x47, 0x2, 0x9],
                vec![0x61, 0x20],
            ],
        ),
        (
            "ﷻ",
            [
                vec![0xEF, 0xB7, 0xBB],
                vec![0xEF, 0xB7, 0xBB],
                vec![0xFD, 0xFB],
                vec![
                    0x13, 0x5E, 0x13, 0xAB, 0x02, 0x09, 0x13, 0x5E, 0x13, 0xAB, 0x13, 0x50, 0x13,
                    0xAB, 0x13, 0xB7,
                ],
                vec![
                    0x23, 0x25, 0x23, 0x9c, 0x2, 0x9, 0x23, 0x25, 0x23, 0x9c, 0x23, 0xb, 0x23,
                    0x9c, 0x23, 0xb1,
                ],
                vec![0xEF, 0xB7, 0xBB],
            ],
        ),
        (
            "中文",
            [
                "中文".as_bytes().to_vec(),
                "中文".as_bytes().to_vec(),
                vec![0x4E, 0x2D, 0x65, 0x87],
                vec![0xFB, 0x40, 0xCE, 0x2D, 0xFB, 0x40, 0xE5, 0x87],
                vec![0xFB, 0x40, 0xCE, 0x2D, 0xFB, 0x40, 0xE5, 0x87],
                "中文".as_bytes().to_vec(),
            ],
        ),
        (
            "갟감1",
            [
                "갟감1".as_bytes().to_vec(),
                "갟감1".as_bytes().to_vec(),
                vec![0xac, 0x1f, 0xac, 0x10, 0x0, 0x31],
                vec![0xfb, 0xc1, 0xac, 0x1f, 0xfb, 0xc1, 0xac, 0x10, 0xe, 0x2a],
                vec![
                    0x3b, 0xf5, 0x3c, 0x74, 0x3c, 0xd3, 0x3b, 0xf5, 0x3c, 0x73, 0x3c, 0xe0, 0x1c,
                    0x3e,
                ],
                "갟감1".as_bytes().to_vec(),
            ],
        ),
        (
            "\u{FFFFE}\u{FFFFF}",
            [
                vec![0xf3, 0xbf, 0xbf, 0xbe, 0xf3, 0xbf, 0xbf, 0xbf],
                vec![0xf3, 0xbf, 0xbf, 0xbe, 0xf3, 0xbf, 0xbf, 0xbf],
                vec![0xff, 0xfd, 0xff, 0xfd],
                vec![0xff, 0xfd, 0xff, 0xfd],
                vec![0xfb, 0xdf, 0xff, 0xfe, 0xfb, 0xdf, 0xff, 0xff],
                vec![0xf3, 0xbf, 0xbf, 0xbe, 0xf3, 0xbf, 0xbf, 0xbf],
            ],
        ),
    ];
    for (s, expected) in &cases {
        for (c, exp) in cols.iter().zip(expected) {
            assert_eq!(&key(*c, s.as_bytes()), exp, "{c:?}: {s:?}");
        }
    }
}

#[test]
fn tikv_compare_table() {
    // TiKV components/tidb_query_datatype/src/codec/collation/collator/mod.rs, test_compare;
    // columns utf8mb4_bin, utf8mb4_bin (no padding), general_ci, unicode_ci, latin1_bin,
    // 0900_ai_ci, 0900_bin.
    let cols = [
        Utf8Mb4Bin,
        Utf8Mb4BinNoPadding,
        Utf8Mb4GeneralCi,
        Utf8Mb4UnicodeCi,
        Latin1Bin,
        Utf8Mb40900AiCi,
        Utf8Mb40900Bin,
    ];
    let (l, e, g) = (Less, Equal, Greater);
    let cases: &[(&str, &str, [Ordering; 7])] = &[
        ("a", "a", [e, e, e, e, e, e, e]),
        ("a", "a ", [e, l, e, e, e, l, l]),
        ("a", "A ", [g, g, e, e, g, l, g]),
        ("aa ", "a a", [g, g, g, g, g, g, g]),
        ("A", "a\t", [l, l, l, l, l, l, l]),
        ("cAfe", "café", [l, l, e, e, l, e, l]),
        ("cAfe ", "café", [l, l, e, e, l, g, l]),
        ("ß", "ss", [g, g, l, e, g, e, g]),
        ("中文", "汉字", [l, l, l, l, l, l, l]),
        ("啊", "把", [l, l, l, l, l, l, l]),
        ("ʩ", "F", [g, g, g, g, g, g, g]),
    ];
    for (a, b, expected) in cases {
        for (c, exp) in cols.iter().zip(expected) {
            check(*c, a.as_bytes(), b.as_bytes(), *exp);
        }
    }
    // test_latin1_bin: only trailing U+0020 is padding.
    let base = [0xFF, 0x88, 0x00, 0x13];
    check(Latin1Bin, &base, &base, Equal);
    check(
        Latin1Bin,
        &[0xFF, 0x88, 0x00, 0x13, 0x20, 0x20, 0x20],
        &base,
        Equal,
    );
    check(
        Latin1Bin,
        &[0xFF, 0x88, 0x00, 0x13, 0x09, 0x09, 0x09],
        &base,
        Greater,
    );
}

#[test]
fn tikv_sort_keys() {
    // TiKV collator/mod.rs, test_utf8mb4_sort_key (cases not already in the TiDB table).
    assert_eq!(key(Utf8Mb4BinNoPadding, b"A "), b"A ");
    assert_eq!(key(Utf8Mb4Bin, b"A "), b"A");
    assert_eq!(key(Latin1Bin, b"A "), b"A");
    assert_eq!(key(Utf8Mb4GeneralCi, "😃".as_bytes()), [0xFF, 0xFD]);
    assert_eq!(key(Utf8Mb4UnicodeCi, "😃".as_bytes()), [0xFF, 0xFD]);
    assert_eq!(key(Utf8Mb40900AiCi, "😃".as_bytes()), [0x15, 0xFE]);
    assert_eq!(key(Utf8Mb40900AiCi, b"A "), [0x1C, 0x47, 0x02, 0x09]);
}

#[test]
fn ignorable_and_expansions() {
    // U+0000 is ignorable in both UCA versions: it adds no weight.
    for c in [Utf8Mb4UnicodeCi, Utf8Mb40900AiCi] {
        check(c, "a\u{0}b".as_bytes(), b"ab", Equal);
        check(c, "".as_bytes(), "\u{0}".as_bytes(), Equal);
        assert!(key(c, "\u{0}".as_bytes()).is_empty());
    }
    // U+00AD (soft hyphen) is ignorable in UCA 9.0.0 but not in UCA 4.0.0.
    check(Utf8Mb40900AiCi, "a\u{AD}b".as_bytes(), b"AB", Equal);
    check(Utf8Mb4UnicodeCi, "a\u{AD}b".as_bytes(), b"AB", Less);
    // general_ci gives U+0000 a real weight.
    check(Utf8Mb4GeneralCi, "a\u{0}b".as_bytes(), b"ab", Less);
    // Long expansions: U+FDFB (8 weights), U+3392 ㎒ and ligature ﬃ.
    check(Utf8Mb4UnicodeCi, "ﬃ".as_bytes(), b"FFI", Equal);
    check(Utf8Mb40900AiCi, "ﬃ".as_bytes(), b"ffi", Equal);
    check(Utf8Mb4GeneralCi, "ﬃ".as_bytes(), b"ffi", Greater);
    check(Utf8Mb4UnicodeCi, "Ǆ".as_bytes(), "dž".as_bytes(), Equal);
}

#[test]
fn invalid_utf8() {
    let bad: &[&[u8]] = &[
        &[0xFF],
        &[0x3E, 0xFE, 0x3E],
        &[0xE4, 0xB8],
        &[0xED, 0xA0, 0x80],
        &[0xC0, 0x80],
    ];
    for b in bad {
        for c in [Utf8Mb4GeneralCi, Utf8Mb4UnicodeCi, Utf8Mb40900AiCi] {
            assert!(
                matches!(c.compare(b, b"a"), Err(Error::Corrupted { .. })),
                "{c:?} {b:?}"
            );
            assert!(
                matches!(c.compare(b"a", b), Err(Error::Corrupted { .. })),
                "{c:?} {b:?}"
            );
            let mut out = vec![1];
            assert!(c.sort_key(b, &mut out).is_err());
            assert_eq!(out, [1], "nothing appended on error");
        }
        for c in [
            Utf8Mb4Bin,
            Utf8Mb4BinNoPadding,
            Utf8Mb40900Bin,
            Utf8Mb4GeneralCi,
        ] {
            assert!(matches!(c.char_len(b), Err(Error::Corrupted { .. })));
        }
        // Byte-wise collations never decode.
        for c in [
            Binary,
            Utf8Mb4Bin,
            Utf8Mb4BinNoPadding,
            Utf8Mb40900Bin,
            Latin1Bin,
        ] {
            assert_eq!(c.compare(b, b).unwrap(), Equal);
            assert_eq!(key(c, b), b.to_vec());
            assert_eq!(Binary.char_len(b).unwrap(), b.len());
        }
    }
}

#[test]
fn char_len() {
    let s = "a😃ß中 ".as_bytes();
    assert_eq!(Binary.char_len(s).unwrap(), s.len());
    assert_eq!(Latin1Bin.char_len(s).unwrap(), s.len());
    for c in [
        Utf8Mb4Bin,
        Utf8Mb4GeneralCi,
        Utf8Mb4UnicodeCi,
        Utf8Mb40900AiCi,
        Utf8Mb40900Bin,
    ] {
        assert_eq!(c.char_len(s).unwrap(), 5, "{c:?}");
    }
    assert_eq!(Utf8Mb4Bin.char_len(b"").unwrap(), 0);
}

#[test]
fn like_chars() {
    assert!(Utf8Mb4GeneralCi.like_char_eq('a', 'A'));
    assert!(Utf8Mb4GeneralCi.like_char_eq('ß', 's'));
    assert!(Utf8Mb4GeneralCi.like_char_eq('😃', '😜'));
    assert!(!Utf8Mb4Bin.like_char_eq('a', 'A'));
    assert!(Utf8Mb4UnicodeCi.like_char_eq('a', 'Á'));
    assert!(!Utf8Mb4UnicodeCi.like_char_eq('😃', '😜'));
    assert!(Utf8Mb4UnicodeCi.like_char_eq('😃', '😃'));
    // U+321D has more than four weights: it matches only itself.
    assert!(Utf8Mb4UnicodeCi.like_char_eq('\u{321D}', '\u{321D}'));
    assert!(!Utf8Mb4UnicodeCi.like_char_eq('\u{321D}', '\u{321E}'));
    assert!(Utf8Mb40900AiCi.like_char_eq('a', 'Å'));
    assert!(!Utf8Mb40900AiCi.like_char_eq('😃', '😜'));
}

#[test]
fn weights_fit_and_data_decodes() {
    // Every character's weights fit the inline buffer, and every table entry is reachable.
    for uca in [&UCA0400, &UCA0900] {
        for cp in 0..=0x10FFFFu32 {
            if let Some(c) = char::from_u32(cp) {
                let w = uca.weights(c);
                assert!(w.as_slice().len() <= 8);
                assert!(!w.as_slice().contains(&0));
            }
        }
    }
    // Runs are sorted and disjoint.
    for runs in [
        GENERAL_CI_RUNS,
        uca0400_data::UCA0400_RUNS,
        uca0900_data::UCA0900_RUNS,
    ] {
        for w in runs.windows(2) {
            assert!(w[0].0 + u32::from(w[0].1) <= w[1].0);
        }
    }
    for multi in [uca0400_data::UCA0400_MULTI, uca0900_data::UCA0900_MULTI] {
        for w in multi.windows(2) {
            assert!(w[0].0 < w[1].0);
        }
    }
    // Spot checks against the source tables.
    assert_eq!(
        UCA0400.weights('\u{321D}').as_slice(),
        [0x288, 0x1D6D, 0x1DC6, 0x1D6E, 0x1DC2, 0x1E03, 0x289]
    );
    assert_eq!(UCA0400.weights('\u{4E00}').as_slice(), [0xFB40, 0xCE00]);
    assert_eq!(UCA0400.weights('\u{3400}').as_slice(), [0xFB80, 0xB400]);
    assert_eq!(UCA0400.weights('\u{20000}').as_slice(), [0xFFFD]);
    assert_eq!(UCA0900.weights('\u{20000}').as_slice(), [0xFB84, 0x8000]);
    assert_eq!(UCA0900.weights('\u{17000}').as_slice(), [0xFB00, 0x8000]);
    assert_eq!(
        UCA0900.weights('\u{1F1A9}').as_slice(),
        [0x1D77, 0x1DDD, 0x1E71, 0x1E71, 0x1D77, 0x1CAA, 0x1E71, 0x1E71]
    );
    assert_eq!(general_ci_weight('ß'), 0x53);
    assert_eq!(general_ci_weight('é'), 0x45);
    assert_eq!(general_ci_weight('☃'), 0x2603);
}

/// Strings over a mix of characters that exercise the tables: ASCII with spaces, Latin
/// accents, Greek, Hangul, Han, ignorables, expansions and astral characters.
fn text() -> impl Strategy<Value = String> {
    let chars = prop_oneof![
        4 => prop::sample::select(vec![
            'a', 'A', 'b', 's', 'S', ' ', '\t', 'e', 'é', 'É', 'ß', 'æ', '1'
        ]),
        2 => prop::sample::select(vec![
            '\u{0}', '\u{AD}', 'ﬃ', 'Ǆ', '\u{321D}', 'ﷻ', '가', '각', 'ᄀ', '中', '㐀', '😃', '😜',
            '\u{17000}', '\u{FFFD}'
        ]),
        2 => any::<char>(),
        1 => (0x20u32..0x3000).prop_filter_map("char", char::from_u32),
    ];
    prop::collection::vec(chars, 0..8).prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn sort_key_order_equals_compare(a in text(), b in text()) {
        for c in ALL {
            let ord = c.compare(a.as_bytes(), b.as_bytes()).unwrap();
            prop_assert_eq!(key(c, a.as_bytes()).cmp(&key(c, b.as_bytes())), ord, "{:?}", c);
            prop_assert_eq!(c.compare(b.as_bytes(), a.as_bytes()).unwrap(), ord.reverse());
            if c.is_binary() {
                prop_assert_eq!(ord, a.as_bytes().cmp(b.as_bytes()));
            }
            if c.pads_space() {
                let padded = format!("{a}   ");
                prop_assert_eq!(c.compare(padded.as_bytes(), a.as_bytes()).unwrap(), Equal);
            }
        }
    }

    #[test]
    fn ci_collations_ignore_case(a in "[a-zA-Z ]{0,12}") {
        for c in [Utf8Mb4GeneralCi, Utf8Mb4UnicodeCi, Utf8Mb40900AiCi] {
            let up = a.to_uppercase();
            prop_assert_eq!(c.compare(a.as_bytes(), up.as_bytes()).unwrap(), Equal);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        a in prop::collection::vec(any::<u8>(), 0..16),
        b in prop::collection::vec(any::<u8>(), 0..16),
    ) {
        for c in ALL {
            let ord = c.compare(&a, &b);
            let (ka, kb) = (c.sort_key_vec(&a), c.sort_key_vec(&b));
            let _ = c.char_len(&a);
            match (ord, ka, kb) {
                (Ok(o), Ok(ka), Ok(kb)) => prop_assert_eq!(ka.cmp(&kb), o),
                (Ok(_), _, _) => prop_assert!(false, "compare ok but sort key failed"),
                (Err(_), ka, kb) => prop_assert!(ka.is_err() || kb.is_err()),
            }
        }
    }
}
