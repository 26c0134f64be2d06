//! When a pull's stream is quiet, and when the server is only still
//! reading its way to where the pull starts. Plain code over the server's
//! answers, apart from the connection.
//!
//! Each pull's server decodes the slot's WAL from the slot's restart
//! position, which can lie far before the pull's mark: PostgreSQL moves it
//! only past a running-transactions record it decoded below a confirmed
//! position, and a burst of writes between two such records leaves it
//! where it was. The server sends nothing until it has read past the mark,
//! so a pull that took that silence for a quiet stream would stop with
//! nothing and leave the mark where it was, and every pull after it would
//! do the same: the split would never move again. How far the server has
//! read is what its keepalive answers (its sent position), so a pull goes
//! on waiting while that is before the mark and moving.

use super::Lsn;

/// What a pull does after a silence, or after the server's answer to its
/// question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Ask the server how far it has read (a status update asking for a
    /// reply), and wait again.
    Ask,
    /// Wait again: the server is still reading its way to the mark.
    Wait,
    /// Stop: the stream is quiet. With a position, the server has sent
    /// everything before it.
    Stop(Option<Lsn>),
}

/// A pull's view of its stream's silences.
#[derive(Debug)]
pub(crate) struct Quiet {
    /// Where the pull starts.
    start: Lsn,
    /// Whether a question is out.
    asked: bool,
    /// How far the server had read at its last answer before `start`.
    reading: Option<Lsn>,
}

impl Quiet {
    /// For a pull that starts at `start`.
    pub(crate) fn new(start: Lsn) -> Self {
        Self {
            start,
            asked: false,
            reading: None,
        }
    }

    /// Whether a question is out (a keepalive is then its answer).
    pub(crate) fn asked(&self) -> bool {
        self.asked
    }

    /// Nothing came for the quiet time: ask, or, when a question went
    /// unanswered, stop.
    pub(crate) fn silence(&mut self) -> Next {
        match self.asked {
            true => Next::Stop(None),
            false => {
                self.asked = true;
                Next::Ask
            }
        }
    }

    /// The server answered the question: it has read up to `sent`. Before
    /// the start, and further than at its last such answer, it is still
    /// on its way there; anything else is a quiet stream.
    pub(crate) fn answer(&mut self, sent: Lsn) -> Next {
        let moving = self.reading.is_none_or(|reading| sent > reading);
        if sent < self.start && moving {
            self.reading = Some(sent);
            self.asked = false;
            return Next::Wait;
        }
        Next::Stop(Some(sent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiet_stream_is_asked_once_then_stops_where_the_server_is() {
        let mut quiet = Quiet::new(Lsn(100));
        assert_eq!(quiet.silence(), Next::Ask);
        assert!(quiet.asked());
        assert_eq!(quiet.answer(Lsn(100)), Next::Stop(Some(Lsn(100))));
        let mut quiet = Quiet::new(Lsn(100));
        quiet.silence();
        assert_eq!(quiet.answer(Lsn(250)), Next::Stop(Some(Lsn(250))));
    }

    #[test]
    fn an_unanswered_question_stops_the_pull() {
        let mut quiet = Quiet::new(Lsn(100));
        assert_eq!(quiet.silence(), Next::Ask);
        assert_eq!(quiet.silence(), Next::Stop(None));
    }

    /// The stall this guards against: a server decoding from a restart
    /// position far before the mark answered before it got there, and
    /// every pull stopped with nothing.
    #[test]
    fn a_server_still_reading_up_to_the_start_is_waited_for_while_it_moves() {
        let mut quiet = Quiet::new(Lsn(1_000));
        assert_eq!(quiet.silence(), Next::Ask);
        assert_eq!(quiet.answer(Lsn(200)), Next::Wait);
        assert!(!quiet.asked());
        assert_eq!(quiet.silence(), Next::Ask);
        assert_eq!(quiet.answer(Lsn(600)), Next::Wait);
        assert_eq!(quiet.silence(), Next::Ask);
        assert_eq!(quiet.answer(Lsn(1_000)), Next::Stop(Some(Lsn(1_000))));
    }

    #[test]
    fn a_server_that_stops_moving_before_the_start_ends_the_pull() {
        let mut quiet = Quiet::new(Lsn(1_000));
        quiet.silence();
        assert_eq!(quiet.answer(Lsn(400)), Next::Wait);
        quiet.silence();
        assert_eq!(quiet.answer(Lsn(400)), Next::Stop(Some(Lsn(400))));
    }
}
