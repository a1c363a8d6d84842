use super::*;

fn e(shard: u16, id: &str) -> Entry {
    entry(shard, id, |f| match f {
        "type" => Some("webhook.applied".into()),
        "data" => Some(r#"{"n":1}"#.into()),
        _ => Some(String::new()),
    })
    .unwrap()
}

/// Drive a merge over in-memory streams, as `Export` does over Redis.
fn run(streams: Vec<Vec<Entry>>, page: usize) -> (Vec<(u16, String)>, usize) {
    let mut merge = Merge::new(streams.len() as u16, page);
    let mut offsets = vec![0; streams.len()];
    let mut out = Vec::new();
    let mut max_held = 0;
    loop {
        while let Some(s) = merge.needs() {
            let s = usize::from(s);
            let chunk: Vec<Entry> = streams[s]
                .iter()
                .skip(offsets[s])
                .take(page)
                .cloned()
                .collect();
            offsets[s] += chunk.len();
            merge.feed(s as u16, chunk);
        }
        max_held = max_held.max(merge.pages.iter().map(VecDeque::len).max().unwrap_or(0));
        match merge.pop() {
            Some(x) => out.push((x.shard, x.id)),
            None => return (out, max_held),
        }
    }
}

#[test]
fn stream_ids_parse_order_and_advance() {
    let a = StreamId::parse("1700000000000-3").unwrap();
    assert_eq!(
        a,
        StreamId {
            ms: 1_700_000_000_000,
            seq: 3
        }
    );
    assert_eq!(a.to_string(), "1700000000000-3");
    assert!(StreamId::parse("12").is_none());
    assert!(StreamId::parse("a-1").is_none());
    assert_eq!(
        a.next(),
        Some(StreamId {
            ms: 1_700_000_000_000,
            seq: 4
        })
    );
    let last = StreamId {
        ms: 5,
        seq: u64::MAX,
    };
    assert_eq!(last.next(), Some(StreamId { ms: 6, seq: 0 }));
    assert!(StreamId { ms: 2, seq: 0 } > StreamId { ms: 1, seq: 9 });
}

#[test]
fn merges_by_time_then_shard_then_seq() {
    let streams = vec![
        vec![e(0, "10-0"), e(0, "10-1"), e(0, "30-0")],
        vec![e(1, "5-0"), e(1, "10-0"), e(1, "40-0")],
        vec![],
        vec![e(3, "10-0"), e(3, "20-0")],
    ];
    let (out, _) = run(streams, 2);
    let got: Vec<(u16, &str)> = out.iter().map(|(s, i)| (*s, i.as_str())).collect();
    assert_eq!(
        got,
        [
            (1, "5-0"),
            (0, "10-0"),
            (0, "10-1"),
            (1, "10-0"),
            (3, "10-0"),
            (3, "20-0"),
            (0, "30-0"),
            (1, "40-0"),
        ]
    );
}

#[test]
fn holds_at_most_one_page_per_shard_and_loses_nothing() {
    let streams: Vec<Vec<Entry>> = (0..16u16)
        .map(|s| {
            (0..1000u64)
                .map(|i| e(s, &format!("{}-{}", i * 7 + u64::from(s) % 5, i % 3)))
                .collect()
        })
        .collect();
    let (out, held) = run(streams, 100);
    assert_eq!(out.len(), 16_000);
    assert!(held <= 100, "held {held}");
    let keys: Vec<(u64, u16, u64)> = out
        .iter()
        .map(|(s, i)| {
            let id = StreamId::parse(i).unwrap();
            (id.ms, *s, id.seq)
        })
        .collect();
    assert!(keys.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn a_page_exactly_full_asks_again_then_ends_on_empty() {
    let streams = vec![vec![e(0, "1-0"), e(0, "2-0")]];
    let (out, _) = run(streams, 2);
    assert_eq!(out.len(), 2);
}

#[test]
fn data_is_parsed_json_or_kept_as_text() {
    let x = e(2, "7-1");
    assert_eq!(x.data, serde_json::json!({"n": 1}));
    let line = serde_json::to_value(&x).unwrap();
    assert_eq!(line["type"], "webhook.applied");
    assert_eq!(line["shard"], 2);
    assert_eq!(line["id"], "7-1");
    assert!(line.get("sid").is_none());
    let y = entry(0, "1-0", |f| (f == "data").then(|| "not json".to_string())).unwrap();
    assert_eq!(y.data, serde_json::json!("not json"));
}
