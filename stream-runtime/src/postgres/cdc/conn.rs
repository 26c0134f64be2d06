//! A replication connection to PostgreSQL: the startup with
//! `replication=database`, password authentication (cleartext, MD5,
//! SCRAM-SHA-256), the simple queries of the replication protocol
//! (`CREATE_REPLICATION_SLOT`, `START_REPLICATION`), and the copy stream
//! that follows. Written over `postgres-protocol`, which encodes the
//! messages a client sends; tokio-postgres has no replication support.

use std::io;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256, SCRAM_SHA_256};
use postgres_protocol::message::frontend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_postgres::config::Host;

/// An error PostgreSQL answered, with its SQLSTATE code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("PostgreSQL: {message} (SQLSTATE {code})")]
pub struct ServerError {
    /// The SQLSTATE code (`42704`: an object that does not exist).
    pub code: String,
    /// The message.
    pub message: String,
}

impl ServerError {
    /// The server error an I/O error carries, if it is one.
    pub fn find(error: &io::Error) -> Option<&ServerError> {
        error.get_ref()?.downcast_ref()
    }
}

/// One replication connection.
pub(crate) struct Replication {
    stream: TcpStream,
    read: BytesMut,
    write: BytesMut,
}

/// A message from the server: its tag and its body.
struct Frame {
    tag: u8,
    body: Bytes,
}

/// The rows of a simple query, each column's text (or `None` for NULL).
pub(crate) type Rows = Vec<Vec<Option<String>>>;

impl Replication {
    /// Connects as `config` says (its first TCP host and port), in
    /// replication mode on its database, and authenticates.
    pub(crate) async fn connect(config: &tokio_postgres::Config) -> io::Result<Self> {
        let limit = Duration::from_secs(10);
        match tokio::time::timeout(limit, Self::connect_now(config)).await {
            Ok(connected) => connected,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("PostgreSQL did not take a replication connection within {limit:?}"),
            )),
        }
    }

    async fn connect_now(config: &tokio_postgres::Config) -> io::Result<Self> {
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(host)) => host.clone(),
            Some(_) => {
                return Err(invalid(
                    "CDC connects over TCP: give a host name, not a socket",
                ))
            }
            None => "localhost".to_owned(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let user = config
            .get_user()
            .ok_or_else(|| invalid("the connection string names no user"))?;
        let dbname = config.get_dbname().unwrap_or(user);
        let stream = TcpStream::connect((host.as_str(), port)).await?;
        stream.set_nodelay(true)?;
        let mut conn = Self {
            stream,
            read: BytesMut::with_capacity(64 << 10),
            write: BytesMut::new(),
        };
        let parameters = [
            ("user", user),
            ("database", dbname),
            ("replication", "database"),
            ("application_name", "stream-runtime-cdc"),
        ];
        frontend::startup_message(parameters, &mut conn.write)?;
        conn.flush().await?;
        conn.authenticate(user, config.get_password()).await?;
        // Parameters and the backend key, up to ready-for-query.
        loop {
            let frame = conn.frame().await?;
            match frame.tag {
                b'Z' => return Ok(conn),
                b'E' => return Err(server_error(&frame.body)),
                _ => {}
            }
        }
    }

    /// Answers the server's authentication requests.
    async fn authenticate(&mut self, user: &str, password: Option<&[u8]>) -> io::Result<()> {
        let needs = || invalid("the server asks for a password and the connection string has none");
        let mut scram: Option<ScramSha256> = None;
        loop {
            let frame = self.frame().await?;
            match frame.tag {
                b'R' => {}
                b'E' => return Err(server_error(&frame.body)),
                other => {
                    return Err(protocol(format!(
                        "message `{}` during authentication",
                        other as char
                    )))
                }
            }
            let mut body = frame.body;
            if body.len() < 4 {
                return Err(protocol("a short authentication message".to_owned()));
            }
            match body.get_i32() {
                0 => return Ok(()),
                3 => {
                    frontend::password_message(password.ok_or_else(needs)?, &mut self.write)?;
                }
                5 => {
                    if body.len() < 4 {
                        return Err(protocol("an MD5 request with no salt".to_owned()));
                    }
                    let salt = [body[0], body[1], body[2], body[3]];
                    let hash = md5_hash(user.as_bytes(), password.ok_or_else(needs)?, salt);
                    frontend::password_message(hash.as_bytes(), &mut self.write)?;
                }
                10 => {
                    let offered = String::from_utf8_lossy(&body);
                    if !offered.split('\0').any(|m| m == SCRAM_SHA_256) {
                        return Err(invalid(format!(
                            "the server offers no SASL mechanism we know: {offered}"
                        )));
                    }
                    let client = ScramSha256::new(
                        password.ok_or_else(needs)?,
                        ChannelBinding::unsupported(),
                    );
                    frontend::sasl_initial_response(
                        SCRAM_SHA_256,
                        client.message(),
                        &mut self.write,
                    )?;
                    scram = Some(client);
                }
                11 => {
                    let client = scram
                        .as_mut()
                        .ok_or_else(|| protocol("SASL continue before start".to_owned()))?;
                    client.update(&body)?;
                    frontend::sasl_response(client.message(), &mut self.write)?;
                }
                12 => {
                    let mut client = scram
                        .take()
                        .ok_or_else(|| protocol("SASL final before start".to_owned()))?;
                    client.finish(&body)?;
                    continue;
                }
                code => {
                    return Err(invalid(format!(
                        "the server asks for authentication {code}, which CDC does not speak"
                    )))
                }
            }
            self.flush().await?;
        }
    }

    /// Runs one simple query and answers its rows (text).
    pub(crate) async fn query(&mut self, sql: &str) -> io::Result<Rows> {
        frontend::query(sql, &mut self.write)?;
        self.flush().await?;
        let mut rows = Vec::new();
        let mut failed = None;
        loop {
            let frame = self.frame().await?;
            match frame.tag {
                b'D' => rows.push(data_row(frame.body)?),
                b'E' => failed = Some(server_error(&frame.body)),
                b'Z' => return failed.map_or(Ok(rows), Err),
                _ => {}
            }
        }
    }

    /// Sends `START_REPLICATION …` and waits until the server streams.
    pub(crate) async fn start(&mut self, sql: &str) -> io::Result<()> {
        frontend::query(sql, &mut self.write)?;
        self.flush().await?;
        loop {
            let frame = self.frame().await?;
            match frame.tag {
                b'W' => return Ok(()),
                b'E' => return Err(server_error(&frame.body)),
                _ => {}
            }
        }
    }

    /// The next message of the copy stream, or `None` if none came within
    /// `wait`. An error the server sends ends the stream with it.
    pub(crate) async fn next_copy(&mut self, wait: Duration) -> io::Result<Option<Bytes>> {
        loop {
            let frame = match tokio::time::timeout(wait, self.frame()).await {
                Ok(frame) => frame?,
                Err(_) => return Ok(None),
            };
            match frame.tag {
                b'd' => return Ok(Some(frame.body)),
                b'E' => return Err(server_error(&frame.body)),
                b'c' => return Err(protocol("the server ended the copy stream".to_owned())),
                _ => {}
            }
        }
    }

    /// Ends the copy stream and the session, so that the server lets go of
    /// the slot at once (the next pull would find it in use); best effort.
    pub(crate) async fn close(mut self) {
        frontend::copy_done(&mut self.write);
        frontend::terminate(&mut self.write);
        let _ = tokio::time::timeout(Duration::from_secs(1), self.flush()).await;
    }

    /// Sends one message of the copy stream (a standby status update).
    pub(crate) async fn send_copy(&mut self, data: &[u8]) -> io::Result<()> {
        frontend::CopyData::new(data)?.write(&mut self.write);
        self.flush().await
    }

    async fn flush(&mut self) -> io::Result<()> {
        self.stream.write_all(&self.write).await?;
        self.write.clear();
        Ok(())
    }

    /// Reads one whole message.
    async fn frame(&mut self) -> io::Result<Frame> {
        loop {
            if self.read.len() >= 5 {
                let len =
                    i32::from_be_bytes([self.read[1], self.read[2], self.read[3], self.read[4]]);
                let len = usize::try_from(len).ok().filter(|len| *len >= 4);
                let len =
                    len.ok_or_else(|| protocol("a message with a negative length".to_owned()))?;
                if self.read.len() > len {
                    let mut message = self.read.split_to(1 + len).freeze();
                    let tag = message.get_u8();
                    message.advance(4);
                    return Ok(Frame { tag, body: message });
                }
            }
            if self.stream.read_buf(&mut self.read).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "PostgreSQL closed the connection",
                ));
            }
        }
    }
}

/// A data row's columns.
fn data_row(mut body: Bytes) -> io::Result<Vec<Option<String>>> {
    let short = || protocol("a short data row".to_owned());
    if body.len() < 2 {
        return Err(short());
    }
    let count = body.get_i16();
    let mut columns = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    for _ in 0..count {
        if body.len() < 4 {
            return Err(short());
        }
        let len = body.get_i32();
        let Ok(len) = usize::try_from(len) else {
            columns.push(None);
            continue;
        };
        if body.len() < len {
            return Err(short());
        }
        let value = body.split_to(len);
        columns.push(Some(String::from_utf8_lossy(&value).into_owned()));
    }
    Ok(columns)
}

/// An error response's code and message.
fn server_error(body: &[u8]) -> io::Error {
    let mut error = ServerError {
        code: String::new(),
        message: String::new(),
    };
    for field in body.split(|b| *b == 0).filter(|f| !f.is_empty()) {
        let value = String::from_utf8_lossy(&field[1..]).into_owned();
        match field[0] {
            b'C' => error.code = value,
            b'M' => error.message = value,
            _ => {}
        }
    }
    io::Error::other(error)
}

fn invalid(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, why.into())
}

fn protocol(why: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("PostgreSQL's replication protocol: {why}"),
    )
}
