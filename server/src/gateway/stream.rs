//! One connection's bytes, whatever carries them (plain TCP, TLS as a server to a client, TLS
//! as a client to an upstream), read a line at a time within a length limit.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

pub enum Stream {
    Plain(TcpStream),
    /// A client of ours, after STARTTLS or on an implicit-TLS port.
    Accepted(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    /// An upstream mail server.
    Connected(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    /// Taken away (for the TLS handshake); reads and writes fail.
    Gone,
}

fn gone() -> io::Error {
    io::ErrorKind::NotConnected.into()
}

impl Stream {
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Accepted(_) | Stream::Connected(_))
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Accepted(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Connected(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Gone => Poll::Ready(Err(gone())),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Accepted(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Connected(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Gone => Poll::Ready(Err(gone())),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Accepted(s) => Pin::new(s).poll_flush(cx),
            Stream::Connected(s) => Pin::new(s).poll_flush(cx),
            Stream::Gone => Poll::Ready(Err(gone())),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Accepted(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Connected(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Gone => Poll::Ready(Err(gone())),
        }
    }
}

/// A line as read: its bytes without the line ending, or why it is not a proper line.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// Ended by CRLF.
    Ok(Vec<u8>),
    /// Ended by a LF without a CR before it (the start of SMTP smuggling).
    BareLf(Vec<u8>),
    /// Longer than the limit; read up to its end and dropped.
    TooLong,
}

/// Reads lines (and exact byte counts, for IMAP literals) with a buffer of its own; writes go
/// straight to the stream.
pub struct Reader {
    pub stream: Stream,
    buf: Vec<u8>,
    start: usize,
}

impl Reader {
    pub fn new(stream: Stream) -> Self {
        Reader {
            stream,
            buf: Vec::with_capacity(1024),
            start: 0,
        }
    }

    /// Bytes already received and not read yet: a client that did not wait for our reply.
    pub fn buffered(&self) -> bool {
        self.start < self.buf.len()
    }

    /// The plain TCP stream, taken out for a TLS handshake (nothing may be buffered).
    pub fn take_plain(&mut self) -> Option<TcpStream> {
        match std::mem::replace(&mut self.stream, Stream::Gone) {
            Stream::Plain(t) => Some(t),
            other => {
                self.stream = other;
                None
            }
        }
    }

    /// The stream, and the bytes read ahead of the last line (to be passed on first).
    pub fn into_parts(self) -> (Stream, Vec<u8>) {
        let rest = self.buf[self.start..].to_vec();
        (self.stream, rest)
    }

    async fn fill(&mut self) -> io::Result<usize> {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 64 * 1024 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        // Straight into the buffer: a chunk on the stack would sit in every future above.
        self.buf.reserve(16 * 1024);
        let n = self.stream.read_buf(&mut self.buf).await?;
        Ok(n)
    }

    /// The next line of at most `max` bytes, the CRLF included; `None` at the end of the
    /// stream (an unfinished last line is dropped).
    pub async fn line(&mut self, max: usize) -> io::Result<Option<Line>> {
        let mut too_long = false;
        loop {
            if let Some(i) = self.buf[self.start..].iter().position(|b| *b == b'\n') {
                let end = self.start + i;
                let line = &self.buf[self.start..end];
                let result = if too_long || i + 1 > max {
                    Line::TooLong
                } else if line.last() == Some(&b'\r') {
                    Line::Ok(line[..line.len() - 1].to_vec())
                } else {
                    Line::BareLf(line.to_vec())
                };
                self.start = end + 1;
                return Ok(Some(result));
            }
            if self.buf.len() - self.start > max {
                // Past the limit without an end: drop what came, keep reading to the end.
                too_long = true;
                self.start = self.buf.len();
            }
            if self.fill().await? == 0 {
                return Ok(None);
            }
        }
    }

    /// Exactly `n` bytes (an IMAP literal).
    pub async fn exact(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() - self.start < n {
            if self.fill().await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        let out = self.buf[self.start..self.start + n].to_vec();
        self.start += n;
        Ok(out)
    }

    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    /// [`Reader::send`] within `limit`: a peer that stops reading cannot hold the connection.
    pub async fn send_within(
        &mut self,
        bytes: &[u8],
        limit: std::time::Duration,
    ) -> io::Result<()> {
        match tokio::time::timeout(limit, self.send(bytes)).await {
            Ok(r) => r,
            Err(_) => Err(io::ErrorKind::TimedOut.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn reader_over(bytes: &'static [u8]) -> Reader {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut c = TcpStream::connect(addr).await.unwrap();
            c.write_all(bytes).await.unwrap();
        });
        let (s, _) = listener.accept().await.unwrap();
        Reader::new(Stream::Plain(s))
    }

    #[tokio::test]
    async fn lines_are_told_apart() {
        let mut r = reader_over(b"EHLO a\r\nbare\nxxxxxxxxxxxxxxxxxxxxxxxx\r\nok\r\nend").await;
        assert_eq!(
            r.line(16).await.unwrap(),
            Some(Line::Ok(b"EHLO a".to_vec()))
        );
        assert_eq!(
            r.line(16).await.unwrap(),
            Some(Line::BareLf(b"bare".to_vec()))
        );
        assert_eq!(r.line(16).await.unwrap(), Some(Line::TooLong));
        assert_eq!(r.line(16).await.unwrap(), Some(Line::Ok(b"ok".to_vec())));
        assert_eq!(r.line(16).await.unwrap(), None);
    }
}
