//! Carrying what one keyed stage's groups answered for the next stage
//! ([`Passed`]) to that stage's groups, as plain code over the [`Calls`]
//! seam: each group there is called once with what every group before
//! made for it (in as many calls as the budget needs), so a hot group of a
//! later stage takes one call per carry, not one per group of the stage
//! before. A token carries in a chain without timers, after each stage of
//! its round; the clock carries after it woke a stage that fires each
//! window once on event time.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use serde_json::value::RawValue;

use super::exchange::{Delivered, Exchange, Relayed, Unsent};
use crate::protocol::{Calls, DeadLetter, FailedStage, Passed};
use crate::record::Record;

/// Calls each group of keyed stage `level` (0 for the first) with what
/// the stage before made for it, in the order `passed` lists it (each
/// group's output in the order it was made), and answers what they
/// answered, with what did not reach them ([`chained_letter`]).
pub(crate) async fn carry<C: Calls, F: Record>(
    exchange: &Exchange<'_, C>,
    level: u32,
    passed: Vec<Passed>,
) -> Delivered<F> {
    let mut groups: BTreeMap<u32, Vec<(Box<RawValue>, u64)>> = BTreeMap::new();
    for Passed {
        group,
        from,
        records,
    } in passed
    {
        let into = groups.entry(group).or_default();
        into.extend(records.into_iter().map(|r| (r, u64::from(from))));
    }
    let stage = Relayed {
        level,
        sink: PhantomData::<F>,
    };
    exchange.deliver(&stage, groups).await
}

/// The dead letter of a record carried to keyed stage `level` that did
/// not reach its group, named by the group of the stage before that made
/// it (its origin).
pub(crate) fn chained_letter(level: u32, unsent: Unsent) -> DeadLetter {
    let (from, count, error, record) = unsent.into_parts();
    let from = from.unwrap_or(0);
    DeadLetter {
        split: 0,
        position: 0,
        count: u32::try_from(count).unwrap_or(u32::MAX),
        stage: FailedStage::Chained {
            stage: level + 1,
            from_group: u32::try_from(from).unwrap_or(u32::MAX),
        },
        error,
        record,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::codec::Encoding;
    use crate::protocol::{Answer, BatchAnswer, Message};
    use crate::round::fake::FakeCalls;
    use crate::testing::block_on;
    use crate::time::watermark::Need;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    fn passed(group: u32, from: u32, records: &[&str]) -> Passed {
        Passed {
            group,
            from,
            records: records.iter().map(|r| raw(r)).collect(),
        }
    }

    /// Answers every group's call with a wake-up for it, at its level.
    fn answering_needs() -> FakeCalls {
        FakeCalls::new(|address, _| {
            let group: u32 = address.split('/').nth(1).unwrap().parse().unwrap();
            let answer = Answer::<u64> {
                needs: vec![Need {
                    group,
                    at: 10,
                    level: 1,
                }],
                ..Answer::default()
            };
            let encoded = crate::protocol::Encoded::new(&answer).unwrap();
            BatchAnswer::Done(encoded)
                .encode()
                .map_err(|e| restate_sdk::errors::TerminalError::new(e.to_string()))
        })
    }

    #[test]
    fn each_group_of_the_next_stage_is_called_once_with_every_groups_records() {
        let calls = answering_needs();
        let exchange = Exchange {
            calls: &calls,
            budget: 1 << 20,
            attempts: 1,
            watermark: None,
            relay: false,
            encoding: Encoding::Json,
        };
        // Three groups of the stage before made records for two groups.
        let made = vec![
            passed(7, 0, &["1", "2"]),
            passed(9, 0, &["3"]),
            passed(7, 1, &["4"]),
            passed(7, 2, &["5"]),
        ];
        let delivered: Delivered<u64> = block_on(carry(&exchange, 1, made));
        let lines = calls.lines("call ");
        assert_eq!(
            lines,
            [
                r#"call TKeyed2/7/process {"records":[1,2,4,5]}"#,
                r#"call TKeyed2/9/process {"records":[3]}"#,
            ],
            "one call per group, in the order each group made them"
        );
        assert!(delivered.unsent.is_empty());
        let mut woken: Vec<u32> = delivered.answer.needs.iter().map(|n| n.group).collect();
        woken.sort_unstable();
        assert_eq!(woken, [7, 9], "each group's wake-up is answered");
    }

    #[test]
    fn a_record_that_does_not_reach_its_group_names_the_group_that_made_it() {
        let letter = chained_letter(
            1,
            Unsent::Failed {
                origin: 3,
                error: "no".to_owned(),
                record: None,
            },
        );
        assert_eq!(
            letter.stage,
            FailedStage::Chained {
                stage: 2,
                from_group: 3
            }
        );
        assert_eq!((letter.count, letter.error.as_str()), (1, "no"));
    }
}
