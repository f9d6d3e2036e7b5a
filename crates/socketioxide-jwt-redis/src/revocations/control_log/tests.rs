//! Reading the log: what a read says of the position it was made from, and its parsing.

use super::reply::*;
use super::*;

fn read(last: (u64, u64), added: u64, length: u64) -> Read {
    Read {
        last_generated: StreamId(last.0, last.1),
        added,
        length,
        batch: Vec::new(),
        holds_position: true,
    }
}

#[test]
fn a_read_knows_when_messages_were_missed() {
    let at = Position {
        last: StreamId(100, 0),
        count: 10,
    };
    // 15 added, 5 of them (the read ones) trimmed: nothing missed.
    assert_eq!(read((200, 0), 15, 10).verdict(&at), Verdict::InStep);
    // 15 added, 11 trimmed: one this process had not read.
    assert_eq!(read((200, 0), 15, 4).verdict(&at), Verdict::Gap);
    // The log holds less than was read: a failover lost messages, or the key went.
    assert_eq!(read((90, 0), 15, 15).verdict(&at), Verdict::WentBack);
    assert_eq!(read((0, 0), 0, 0).verdict(&at), Verdict::WentBack);
    assert_eq!(read((300, 0), 8, 8).verdict(&at), Verdict::WentBack);
    assert_eq!(
        read((0, 0), 0, 0).verdict(&Position::default()),
        Verdict::InStep
    );
    assert_eq!(read((200, 0), 5, 6).verdict(&at), Verdict::WentBack);
    // The message at the position is gone but fewer were trimmed than read up to it: the
    // log was deleted and written again (more messages since than this process had read).
    let refilled = Read {
        holds_position: false,
        ..read((300, 0), 12, 12)
    };
    assert_eq!(refilled.verdict(&at), Verdict::WentBack);
    // Gone by trimming: every message up to it was trimmed.
    let trimmed = Read {
        holds_position: false,
        ..read((300, 0), 15, 5)
    };
    assert_eq!(trimmed.verdict(&at), Verdict::InStep);
}

#[test]
fn stream_ids_order_as_redis_orders_them() {
    assert!(StreamId::parse("10-2") < StreamId::parse("10-10"));
    assert!(StreamId::parse("9-99") < StreamId::parse("10-0"));
    assert_eq!(StreamId::parse("x-1"), None);
    assert_eq!(
        StreamId::parse("7-1").map(|id| id.to_string()),
        Some("7-1".into())
    );
}

#[test]
fn a_read_reply_is_parsed_and_a_wrong_shape_refused() {
    let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
    let reply = Value::Array(vec![
        bulk("5-1"),
        Value::Int(3),
        Value::Int(2),
        Value::Array(vec![
            Value::Array(vec![
                bulk("5-1"),
                Value::Array(vec![bulk("m"), bulk("{}"), bulk("o"), bulk("42")]),
            ]),
            Value::Array(vec![bulk("5-2"), Value::Nil]),
        ]),
        Value::Int(1),
    ]);
    let read = parse_read(reply).expect("parsed");
    assert_eq!(read.last_generated, StreamId(5, 1));
    assert_eq!((read.added, read.length), (3, 2));
    assert_eq!(
        read.batch,
        vec![
            (StreamId(5, 1), 42, b"{}".to_vec()),
            (StreamId(5, 2), 0, Vec::new())
        ],
        "a message with malformed fields still counts"
    );
    assert!(read.holds_position);
    assert!(parse_read(Value::Nil).is_none());
    assert!(parse_read(Value::Array(vec![bulk("nope")])).is_none());
}
