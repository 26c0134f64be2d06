//! Messages written byte by byte as PostgreSQL's `proto.c` writes them
//! (protocol version 1), decoded.

use super::*;

/// Builds a message as the server sends it: big-endian numbers, strings
/// ended by a zero byte.
#[derive(Default)]
struct Bytes(Vec<u8>);

impl Bytes {
    fn u8(mut self, b: u8) -> Self {
        self.0.push(b);
        self
    }
    fn u16(mut self, n: u16) -> Self {
        self.0.extend(n.to_be_bytes());
        self
    }
    fn u32(mut self, n: u32) -> Self {
        self.0.extend(n.to_be_bytes());
        self
    }
    fn i32(mut self, n: i32) -> Self {
        self.0.extend(n.to_be_bytes());
        self
    }
    fn u64(mut self, n: u64) -> Self {
        self.0.extend(n.to_be_bytes());
        self
    }
    fn string(mut self, s: &str) -> Self {
        self.0.extend(s.as_bytes());
        self.0.push(0);
        self
    }
    fn text(self, s: &str) -> Self {
        let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
        let mut b = self.u8(b't').u32(len);
        b.0.extend(s.as_bytes());
        b
    }
    fn decoded(&self) -> Message {
        decode(&self.0).unwrap_or_else(|e| panic!("{e}: {:?}", self.0))
    }
}

fn text(s: &str) -> Datum {
    Datum::Text(s.to_owned())
}

#[test]
fn a_transaction_begins_and_commits() {
    let begin = Bytes::default()
        .u8(b'B')
        .u64(0x16_B374_D848)
        .u64(1_000_000)
        .u32(742);
    assert_eq!(
        begin.decoded(),
        Message::Begin {
            final_lsn: Lsn(0x16_B374_D848),
            commit_time: 1_000_000,
            xid: 742
        }
    );
    let commit = Bytes::default()
        .u8(b'C')
        .u8(0)
        .u64(0x100)
        .u64(0x128)
        .u64(2_000_000);
    assert_eq!(
        commit.decoded(),
        Message::Commit {
            commit_lsn: Lsn(0x100),
            end_lsn: Lsn(0x128),
            commit_time: 2_000_000
        }
    );
    assert_eq!(unix_millis(2_000_000), 946_684_802_000);
    assert_eq!(unix_millis(-1_000), 946_684_799_999);
}

#[test]
fn a_relation_names_its_columns_and_key() {
    let bytes = Bytes::default()
        .u8(b'R')
        .u32(16_384)
        .string("public")
        .string("orders")
        .u8(b'd')
        .u16(2)
        .u8(1)
        .string("id")
        .u32(23)
        .i32(-1)
        .u8(0)
        .string("shop")
        .u32(1043)
        .i32(24);
    let Message::Relation(relation) = bytes.decoded() else {
        panic!("a relation")
    };
    assert_eq!(
        (
            relation.id,
            relation.namespace.as_str(),
            relation.name.as_str()
        ),
        (16_384, "public", "orders")
    );
    assert_eq!(relation.replica_identity, b'd');
    let columns: Vec<_> = (relation.columns.iter())
        .map(|c| (c.key, c.name.as_str(), c.type_id, c.type_modifier))
        .collect();
    assert_eq!(columns, [(true, "id", 23, -1), (false, "shop", 1043, 24)]);

    let origin = Bytes::default().u8(b'O').u64(7).string("east");
    assert_eq!(
        origin.decoded(),
        Message::Origin {
            lsn: Lsn(7),
            name: "east".into()
        }
    );
    let ty = Bytes::default()
        .u8(b'Y')
        .u32(90_001)
        .string("public")
        .string("mood");
    assert_eq!(
        ty.decoded(),
        Message::Type {
            id: 90_001,
            namespace: "public".into(),
            name: "mood".into()
        }
    );
}

#[test]
fn inserts_updates_and_deletes_carry_their_rows() {
    let insert = Bytes::default()
        .u8(b'I')
        .u32(16_384)
        .u8(b'N')
        .u16(3)
        .text("1")
        .u8(b'n')
        .text("héllo");
    assert_eq!(
        insert.decoded(),
        Message::Insert {
            relation: 16_384,
            new: Tuple(vec![text("1"), Datum::Null, text("héllo")])
        }
    );

    // Replica identity default: no old row unless the key changed.
    let update = Bytes::default()
        .u8(b'U')
        .u32(5)
        .u8(b'N')
        .u16(2)
        .text("1")
        .u8(b'u');
    assert_eq!(
        update.decoded(),
        Message::Update {
            relation: 5,
            old: None,
            new: Tuple(vec![text("1"), Datum::Unchanged])
        }
    );
    let key_changed = Bytes::default()
        .u8(b'U')
        .u32(5)
        .u8(b'K')
        .u16(2)
        .text("1")
        .u8(b'n')
        .u8(b'N')
        .u16(2)
        .text("2")
        .text("b");
    assert_eq!(
        key_changed.decoded(),
        Message::Update {
            relation: 5,
            old: Some(Old::Key(Tuple(vec![text("1"), Datum::Null]))),
            new: Tuple(vec![text("2"), text("b")])
        }
    );
    let full = Bytes::default()
        .u8(b'D')
        .u32(5)
        .u8(b'O')
        .u16(2)
        .text("2")
        .text("b");
    assert_eq!(
        full.decoded(),
        Message::Delete {
            relation: 5,
            old: Old::Full(Tuple(vec![text("2"), text("b")]))
        }
    );
}

#[test]
fn a_truncate_names_its_tables_and_options() {
    let bytes = Bytes::default().u8(b'T').u32(2).u8(3).u32(5).u32(6);
    assert_eq!(
        bytes.decoded(),
        Message::Truncate {
            relations: vec![5, 6],
            cascade: true,
            restart_identity: true
        }
    );
}

#[test]
fn what_is_not_a_message_says_where() {
    let cases: [(Bytes, &str, usize); 6] = [
        (Bytes::default().u8(b'Z'), "an unknown message type", 0),
        (Bytes::default().u8(b'B').u32(1), "the end, too soon", 1),
        (
            Bytes::default().u8(b'B').u64(1).u64(2).u32(3).u8(0),
            "bytes after the message's end",
            21,
        ),
        (
            Bytes::default().u8(b'I').u32(1).u8(b'X'),
            "an insert's new row (`N`)",
            5,
        ),
        (
            Bytes::default().u8(b'I').u32(1).u8(b'N').u16(1).u8(b'x'),
            "a column's `n`, `u` or `t`",
            8,
        ),
        (
            Bytes::default()
                .u8(b'I')
                .u32(1)
                .u8(b'N')
                .u16(1)
                .u8(b't')
                .u32(10),
            "a value's end",
            13,
        ),
    ];
    for (bytes, what, at) in cases {
        assert_eq!(
            decode(&bytes.0),
            Err(DecodeError { what, at }),
            "{:?}",
            bytes.0
        );
    }
    let unended = Bytes::default().u8(b'O').u64(7).u8(b'e');
    assert_eq!(
        decode(&unended.0).err().map(|e| e.what),
        Some("a string's end")
    );
    assert!(decode(&[]).is_err());
}
