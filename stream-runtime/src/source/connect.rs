//! Two sources of different record types read as one stream of
//! [`Either`]: Flink's `connect`, at the source.

use std::io;
use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

use super::{Source, Union};

/// A record of one of two connected inputs: [`Left`](Either::Left) from the
/// first source, [`Right`](Either::Right) from the second.
///
/// ```
/// use stream_runtime::source::Either;
///
/// let click: Either<&str, u32> = Either::Left("click");
/// assert_eq!(click.left(), Some(&"click"));
/// assert_eq!(click.right(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Either<L, R> {
    /// A record of the first input.
    Left(L),
    /// A record of the second input.
    Right(R),
}

impl<L, R> Either<L, R> {
    /// The first input's record, if this is one.
    pub fn left(&self) -> Option<&L> {
        match self {
            Either::Left(left) => Some(left),
            Either::Right(_) => None,
        }
    }

    /// The second input's record, if this is one.
    pub fn right(&self) -> Option<&R> {
        match self {
            Either::Left(_) => None,
            Either::Right(right) => Some(right),
        }
    }

    /// `on_left` of a first input's record, `on_right` of a second's: for
    /// a key or a timestamp both inputs have, as in
    /// `key_by(|e| e.either(|click| click.user, |profile| profile.user))`.
    pub fn either<T>(&self, on_left: impl FnOnce(&L) -> T, on_right: impl FnOnce(&R) -> T) -> T {
        match self {
            Either::Left(left) => on_left(left),
            Either::Right(right) => on_right(right),
        }
    }
}

/// Two sources connected: `first`'s records as [`Either::Left`] and
/// `second`'s as [`Either::Right`], one stream whose splits are `first`'s,
/// then `second`'s, each with its own position, watermark and idleness (a
/// [`Union`]). Built by [`Stream::connect`](crate::Stream::connect)
/// (`|> connect(..)` in `pipeline!`).
///
/// ```
/// use stream_runtime::source::{connect, Either};
/// use stream_runtime::{InMemorySource, Sequence, Source};
///
/// let both = connect(Sequence::new().take(3), InMemorySource::new(vec!["a"]));
/// assert_eq!(both.splits(), 2);
/// ```
pub type Connect<A, B> = Union<Lefts<A, <B as Source>::Item>, Rights<B, <A as Source>::Item>>;

/// Connects `first` and `second` (see [`Connect`]).
pub fn connect<A: Source, B: Source>(first: A, second: B) -> Connect<A, B> {
    Union::new(Lefts(first, PhantomData), Rights(second, PhantomData))
}

/// A source whose records are the left side of an [`Either`].
#[derive(Debug, Clone)]
pub struct Lefts<S, R>(S, PhantomData<fn() -> R>);

/// A source whose records are the right side of an [`Either`].
#[derive(Debug, Clone)]
pub struct Rights<S, L>(S, PhantomData<fn() -> L>);

/// The one source a side wraps, and how its records become `Either`s.
macro_rules! side_source {
    ($side:ident, $variant:ident, <$s:ident, $other:ident>, $item:ty) => {
        impl<$s: Source, $other: Send + 'static> Source for $side<$s, $other>
        where
            Self: Send + Sync + 'static,
        {
            type Item = $item;

            fn splits(&self) -> u32 {
                self.0.splits()
            }

            fn position_of(&self, item: &$item) -> Option<u64> {
                match item {
                    Either::$variant(record) => self.0.position_of(record),
                    _ => None,
                }
            }

            async fn read(&self, split: u32, position: u64, max: usize) -> io::Result<Vec<$item>> {
                let records = self.0.read(split, position, max).await?;
                Ok(records.into_iter().map(Either::$variant).collect())
            }

            async fn available(&self, split: u32, position: u64, max: usize) -> io::Result<usize> {
                self.0.available(split, position, max).await
            }

            async fn start(&self, split: u32) -> io::Result<u64> {
                self.0.start(split).await
            }

            fn is_remote(&self) -> bool {
                self.0.is_remote()
            }

            fn is_bounded(&self) -> bool {
                self.0.is_bounded()
            }

            fn split_is_bounded(&self, split: u32) -> bool {
                self.0.split_is_bounded(split)
            }

            fn pushed(&self, split: u32) -> Option<super::PushLimits> {
                self.0.pushed(split)
            }

            fn decode_pushed(
                &self,
                split: u32,
                record: &serde_json::Value,
            ) -> Result<$item, String> {
                self.0.decode_pushed(split, record).map(Either::$variant)
            }

            async fn pull(
                &self,
                split: u32,
                mark: Option<String>,
                max: usize,
                bytes: usize,
            ) -> io::Result<super::Pulled> {
                self.0.pull(split, mark, max, bytes).await
            }
        }
    };
}

side_source!(Lefts, Left, <S, R>, Either<S::Item, R>);
side_source!(Rights, Right, <S, L>, Either<L, S::Item>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::assert_available_matches_read;
    use crate::source::{InMemorySource, Sequence};
    use crate::testing::read;

    #[test]
    fn the_first_sources_records_are_left_and_the_seconds_right() {
        let both = connect(
            Sequence::new().take(4).with_splits(2),
            InMemorySource::new(vec!["a", "b"]),
        );
        assert_eq!(both.splits(), 3);
        assert_eq!(read(&both, 0, 0, 10), [Either::Left(0), Either::Left(2)]);
        assert_eq!(read(&both, 2, 1, 10), [Either::Right("b")]);
        assert_available_matches_read(&both);
    }
}
