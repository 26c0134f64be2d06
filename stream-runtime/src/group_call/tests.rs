use super::{batch::by_key, by_group};
use crate::builder::Pipeline;
use crate::group::by_key_slots;
use crate::keyed::Emit;
use crate::sink::CollectSink;
use crate::source::Sequence;
use crate::testing::stages;

#[test]
fn a_batch_names_each_distinct_key_once_in_order() {
    let flow = stages(
        Pipeline::named("T")
            .source(Sequence::new())
            .key_by(|n| n % 2)
            .reduce(|a, b| a + b),
        CollectSink::<u64>::new(),
    );
    let grouped = by_key(&*flow.first, vec![1, 2, 3, 4]).expect("keys encode");
    assert_eq!(grouped.keys, ["1", "0"]);
    let slots: Vec<usize> = grouped.records.iter().map(|(slot, _)| *slot).collect();
    assert_eq!(slots, [0, 1, 0, 1]);
    assert_eq!(by_key_slots(&grouped, 1), 1);
}

#[test]
fn records_passed_on_fold_per_key_where_the_next_stage_combines() {
    let next = |emit| {
        stages(
            Pipeline::named("T")
                .key_groups(1)
                .source(Sequence::new())
                .key_by(|n| n % 2)
                .reduce_emitting(|a, b| a + b, emit),
            CollectSink::<u64>::new(),
        )
    };
    let latest = next(Emit::LatestPerBatch);
    // 1 + 3 would be even: that fold is not kept.
    let by = by_group(&*latest.first, vec![1, 2, 3, 4]);
    assert_eq!(by.groups.get(&0), Some(&vec![1, 6, 3]));
    let every = next(Emit::EveryUpdate);
    let by = by_group(&*every.first, vec![1, 2, 3, 4]);
    assert_eq!(by.groups.get(&0), Some(&vec![1, 2, 3, 4]));
}
