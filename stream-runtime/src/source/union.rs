//! Two sources of one record type read as one: Flink's `union`, at the
//! source.

use std::io;

use super::Source;

/// The records of `first` and of `second`, as one source whose splits are
/// `first`'s, then `second`'s. Each split keeps its own durable position,
/// watermark and idleness, so the sources run at their own pace; the
/// pipeline's tokens read whichever split has data. Built by
/// [`Stream::union`](crate::Stream::union) (`|> union(..)` in `pipeline!`).
///
/// It ends when both end. A union of a bounded source with an endless one
/// is endless, but the bounded one's splits end: once read to their end,
/// they hold the watermark back no more, at once, as a finished split does
/// in Flink.
///
/// ```
/// use stream_runtime::source::Union;
/// use stream_runtime::{InMemorySource, Sequence, Source};
///
/// let both = Union::new(Sequence::new().take(10).with_splits(2), Sequence::new().take(5));
/// assert_eq!(both.splits(), 3);
/// assert!(both.is_bounded());
/// ```
#[derive(Debug, Clone)]
pub struct Union<A, B> {
    first: A,
    second: B,
}

impl<A, B> Union<A, B> {
    /// `first`'s splits, then `second`'s.
    pub fn new(first: A, second: B) -> Self {
        Self { first, second }
    }
}

/// Which source a split of the union belongs to, and its split there.
enum Side {
    First(u32),
    Second(u32),
}

impl<A: Source, B: Source<Item = A::Item>> Union<A, B> {
    fn side(&self, split: u32) -> Side {
        let first = self.first.splits();
        if split < first {
            Side::First(split)
        } else {
            Side::Second(split - first)
        }
    }
}

impl<A: Source, B: Source<Item = A::Item>> Source for Union<A, B> {
    type Item = A::Item;

    fn splits(&self) -> u32 {
        self.first.splits().saturating_add(self.second.splits())
    }

    fn position_of(&self, item: &Self::Item) -> Option<u64> {
        // A record carries its position, or neither source says it.
        (self.first.position_of(item)).or_else(|| self.second.position_of(item))
    }

    async fn read(&self, split: u32, position: u64, max: usize) -> io::Result<Vec<Self::Item>> {
        match self.side(split) {
            Side::First(split) => self.first.read(split, position, max).await,
            Side::Second(split) => self.second.read(split, position, max).await,
        }
    }

    async fn available(&self, split: u32, position: u64, max: usize) -> io::Result<usize> {
        match self.side(split) {
            Side::First(split) => self.first.available(split, position, max).await,
            Side::Second(split) => self.second.available(split, position, max).await,
        }
    }

    async fn start(&self, split: u32) -> io::Result<u64> {
        match self.side(split) {
            Side::First(split) => self.first.start(split).await,
            Side::Second(split) => self.second.start(split).await,
        }
    }

    fn is_remote(&self) -> bool {
        self.first.is_remote() || self.second.is_remote()
    }

    fn is_bounded(&self) -> bool {
        self.first.is_bounded() && self.second.is_bounded()
    }

    fn pushed(&self, split: u32) -> Option<super::PushLimits> {
        match self.side(split) {
            Side::First(split) => self.first.pushed(split),
            Side::Second(split) => self.second.pushed(split),
        }
    }

    fn decode_pushed(&self, split: u32, record: &serde_json::Value) -> Result<Self::Item, String> {
        match self.side(split) {
            Side::First(split) => self.first.decode_pushed(split, record),
            Side::Second(split) => self.second.decode_pushed(split, record),
        }
    }

    async fn pull(
        &self,
        split: u32,
        mark: Option<String>,
        max: usize,
        bytes: usize,
    ) -> io::Result<super::Pulled> {
        match self.side(split) {
            Side::First(split) => self.first.pull(split, mark, max, bytes).await,
            Side::Second(split) => self.second.pull(split, mark, max, bytes).await,
        }
    }

    fn split_is_bounded(&self, split: u32) -> bool {
        match self.side(split) {
            Side::First(split) => self.first.split_is_bounded(split),
            Side::Second(split) => self.second.split_is_bounded(split),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::assert_available_matches_read;
    use crate::source::{InMemorySource, Sequence};
    use crate::testing::read;

    #[test]
    fn the_splits_are_the_first_sources_then_the_seconds() {
        let union = Union::new(
            Sequence::new().take(6).with_splits(2),
            InMemorySource::new(vec![100u64, 101, 102]),
        );
        assert_eq!(union.splits(), 3);
        assert_eq!(read(&union, 0, 0, 10), [0, 2, 4]);
        assert_eq!(read(&union, 1, 0, 10), [1, 3, 5]);
        assert_eq!(read(&union, 2, 1, 10), [101, 102]);
        assert_available_matches_read(&union);
    }

    #[test]
    fn it_ends_only_when_both_end() {
        let bounded = || Sequence::new().take(3);
        assert!(Union::new(bounded(), bounded()).is_bounded());
        assert!(!Union::new(bounded(), Sequence::new()).is_bounded());
        let mixed = Union::new(Sequence::new().with_splits(2), bounded());
        let ends: Vec<bool> = (0..3).map(|split| mixed.split_is_bounded(split)).collect();
        assert_eq!(ends, [false, false, true], "each split as its own source");
    }
}
