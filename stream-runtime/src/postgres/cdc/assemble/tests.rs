use super::*;
use crate::postgres::cdc::pgoutput::{Column, Datum, Tuple};

fn relation() -> Message {
    let column = |name: &str, type_id| Column {
        key: name == "id",
        name: name.to_owned(),
        type_id,
        type_modifier: -1,
    };
    Message::Relation(Relation {
        id: 7,
        namespace: "public".to_owned(),
        name: "orders".to_owned(),
        replica_identity: b'd',
        columns: vec![column("id", 23), column("shop", 25), column("paid", 16)],
    })
}

fn begin(lsn: u64) -> Message {
    Message::Begin {
        final_lsn: Lsn(lsn),
        commit_time: 0,
        xid: 1,
    }
}

fn commit(lsn: u64) -> Message {
    Message::Commit {
        commit_lsn: Lsn(lsn),
        end_lsn: Lsn(lsn + 8),
        commit_time: 0,
    }
}

fn insert(id: u32) -> Message {
    Message::Insert {
        relation: 7,
        new: Tuple(vec![
            Datum::Text(id.to_string()),
            Datum::Text("north".to_owned()),
            Datum::Null,
        ]),
    }
}

/// The ids a pull took, and its mark.
fn pull(start: Mark, max: usize, stream: &[Message]) -> (Vec<i64>, Mark) {
    let mut assembler = Assembler::new(start, max, usize::MAX);
    for message in stream {
        if assembler.message(message.clone()).expect("a valid stream") == Step::Full {
            break;
        }
    }
    let (changes, mark) = assembler.finish();
    let ids = changes
        .iter()
        .map(|c| c["after"]["id"].as_i64().unwrap_or(-1))
        .collect();
    (ids, mark)
}

/// Two transactions, at 100 (changes 1, 2, 3) and at 200 (change 4),
/// as the server sends them from any start before 100.
fn stream() -> Vec<Message> {
    vec![
        relation(),
        begin(100),
        insert(1),
        insert(2),
        insert(3),
        commit(100),
        begin(200),
        insert(4),
        commit(200),
    ]
}

#[test]
fn a_pull_takes_whole_transactions_and_marks_the_end_of_the_last() {
    let start = Mark {
        lsn: Lsn(50),
        skip: 0,
    };
    assert_eq!(
        pull(start, 100, &stream()),
        (
            vec![1, 2, 3, 4],
            Mark {
                lsn: Lsn(208),
                skip: 0
            }
        )
    );
}

#[test]
fn a_pull_full_inside_a_transaction_marks_what_it_took_of_it_and_the_next_skips_it() {
    let start = Mark {
        lsn: Lsn(50),
        skip: 0,
    };
    let (first, mark) = pull(start, 2, &stream());
    assert_eq!(
        (first, mark),
        (
            vec![1, 2],
            Mark {
                lsn: Lsn(50),
                skip: 2
            }
        )
    );
    // The server sends the same transaction again from the same start; the
    // pull fills up inside the next one.
    let (second, mark) = pull(mark, 2, &stream());
    assert_eq!(
        (second, mark),
        (
            vec![3, 4],
            Mark {
                lsn: Lsn(108),
                skip: 1
            }
        )
    );
    // Only the end of that one is left: nothing to take, the mark moves on.
    let (third, mark) = pull(mark, 2, &stream());
    assert_eq!(
        (third, mark),
        (
            vec![],
            Mark {
                lsn: Lsn(208),
                skip: 0
            }
        )
    );
}

#[test]
fn a_transaction_committed_before_the_mark_is_not_taken_again() {
    let start = Mark {
        lsn: Lsn(108),
        skip: 0,
    };
    assert_eq!(
        pull(start, 100, &stream()),
        (
            vec![4],
            Mark {
                lsn: Lsn(208),
                skip: 0
            }
        )
    );
    // Nothing new: the mark stays.
    let start = Mark {
        lsn: Lsn(208),
        skip: 0,
    };
    assert_eq!(pull(start, 100, &stream()), (vec![], start));
}

#[test]
fn a_row_has_typed_columns_and_its_position() {
    let start = Mark {
        lsn: Lsn(50),
        skip: 0,
    };
    let mut assembler = Assembler::new(start, 100, usize::MAX);
    for message in [
        relation(),
        begin(0x1_0000_0010),
        insert(5),
        commit(0x1_0000_0010),
    ] {
        assembler.message(message).expect("a valid stream");
    }
    let (changes, _) = assembler.finish();
    assert_eq!(
        changes,
        [serde_json::json!({
            "table": "public.orders",
            "op": "insert",
            "after": {"id": 5, "shop": "north", "paid": null},
            "lsn": "1/10",
            "commit_millis": 946_684_800_000i64,
        })]
    );
}

#[test]
fn a_change_to_a_table_never_described_is_an_error() {
    let mut assembler = Assembler::new(
        Mark {
            lsn: Lsn(0),
            skip: 0,
        },
        10,
        usize::MAX,
    );
    assembler.message(begin(100)).expect("a begin");
    let error = assembler.message(insert(1)).expect_err("no relation");
    assert!(error.contains("relation 7"), "{error}");
}

#[test]
fn a_quiet_stream_moves_the_mark_to_what_the_server_passed_unless_inside_a_transaction() {
    let start = Mark {
        lsn: Lsn(208),
        skip: 0,
    };
    let mut assembler = Assembler::new(start, 100, usize::MAX);
    assembler.passed(Lsn(500));
    assert_eq!(
        assembler.finish().1,
        Mark {
            lsn: Lsn(500),
            skip: 0
        }
    );
    // Never back.
    let mut assembler = Assembler::new(start, 100, usize::MAX);
    assembler.passed(Lsn(100));
    assert_eq!(assembler.finish().1, start);
    // Not past a transaction taken in part.
    let inside = Mark {
        lsn: Lsn(208),
        skip: 3,
    };
    let mut assembler = Assembler::new(inside, 100, usize::MAX);
    assembler.passed(Lsn(500));
    assert_eq!(assembler.finish().1, inside);
    // Not while one is open.
    let mut assembler = Assembler::new(start, 100, usize::MAX);
    assembler.message(relation()).expect("a relation");
    assembler.message(begin(300)).expect("a begin");
    assembler.passed(Lsn(500));
    assert!(assembler.in_transaction());
}

#[test]
fn a_mark_reads_back_as_written() {
    let mark = Mark {
        lsn: Lsn(0x16_B374_D848),
        skip: 3,
    };
    assert_eq!(mark.to_string(), "16/B374D848+3");
    assert_eq!("16/B374D848+3".parse::<Mark>(), Ok(mark));
    assert_eq!(
        "0/10".parse::<Mark>(),
        Ok(Mark {
            lsn: Lsn(16),
            skip: 0
        })
    );
    assert!("0/10+x".parse::<Mark>().is_err());
}
