package streamhttp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// maxHeaderBytes bounds a response's status line and headers together.
const maxHeaderBytes = 1 << 20

// Response is a response's head and its body.
type Response struct {
	StatusCode int
	Proto      string // "HTTP/1.1"
	Header     http.Header
	// Head stamps the read that completed the headers: the response's
	// first bytes, for a server that sends its headers before any token.
	Head Stamp
	Body *Body
}

type framing int

const (
	framedChunked framing = iota // Transfer-Encoding: chunked
	framedLength                 // Content-Length
	framedClose                  // until the server closes the connection
)

// Body is a response body. Every Read returns bytes delivered by one socket
// read, never more, so that Stamp tells exactly when the bytes a Read
// returned arrived. Close it: a body read to its end returns its
// connection to the pool, any other is closed.
type Body struct {
	cr        *connReader
	conn      *conn
	framing   framing
	remaining int64 // of the current chunk, or of the Content-Length
	started   bool  // a chunk header has been read (chunked)
	done      bool
	err       error
	last      Stamp
	keepAlive bool
	closed    bool
}

var errBadChunk = errors.New("malformed chunked encoding")

// Stamp is the stamp of the socket read that delivered the bytes of the
// latest Read.
func (b *Body) Stamp() Stamp { return b.last }

// Read reads body bytes, at most those of one socket read.
func (b *Body) Read(p []byte) (int, error) {
	for {
		if b.done {
			return 0, io.EOF
		}
		if b.err != nil {
			return 0, b.err
		}
		if len(p) == 0 {
			return 0, nil
		}
		if b.framing == framedChunked && b.remaining == 0 {
			if err := b.nextChunk(); err != nil {
				b.err = err
				return 0, err
			}
			continue
		}
		if b.cr.buffered() == 0 {
			if err := b.cr.fill(); err != nil {
				if err == io.EOF {
					if b.framing == framedClose {
						b.done = true
						return 0, io.EOF
					}
					err = io.ErrUnexpectedEOF
				}
				b.err = err
				return 0, err
			}
		}
		data, st := b.cr.head()
		n := min(len(data), len(p))
		if b.framing != framedClose && int64(n) > b.remaining {
			n = int(b.remaining)
		}
		copy(p, data[:n])
		b.cr.r += n
		b.last = st
		if b.framing != framedClose {
			b.remaining -= int64(n)
			if b.framing == framedLength && b.remaining == 0 {
				b.done = true
			}
		}
		return n, nil
	}
}

// nextChunk reads the CRLF that ends a chunk's data, then the next chunk
// header; at the last chunk it reads the trailers and ends the body.
func (b *Body) nextChunk() error {
	if b.started {
		line, _, err := b.cr.line()
		if err != nil {
			return eofIsUnexpected(err)
		}
		if len(line) != 0 {
			return fmt.Errorf("%w: %q after a chunk's data, where CRLF belongs", errBadChunk, truncate(line))
		}
	}
	b.started = true
	line, _, err := b.cr.line()
	if err != nil {
		return eofIsUnexpected(err)
	}
	size, err := chunkSize(line)
	if err != nil {
		return err
	}
	if size > 0 {
		b.remaining = size
		return nil
	}
	for { // trailers, until the blank line
		line, _, err := b.cr.line()
		if err != nil {
			return eofIsUnexpected(err)
		}
		if len(line) == 0 {
			break
		}
	}
	b.done = true
	return nil
}

// chunkSize parses a chunk-size line: hex digits, optional extensions
// after ';' (RFC 9112 §7.1).
func chunkSize(line []byte) (int64, error) {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimRight(line, " \t")
	if len(line) == 0 || len(line) > 15 {
		return 0, fmt.Errorf("%w: chunk size %q", errBadChunk, truncate(line))
	}
	var n int64
	for _, c := range line {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, fmt.Errorf("%w: chunk size %q", errBadChunk, truncate(line))
		}
		n = n<<4 | int64(d)
	}
	return n, nil
}

func eofIsUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Close ends the body. A body read to its end hands its connection back
// for the next request; any other closes it.
func (b *Body) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	b.conn.release(b.done && b.err == nil && b.cr.err == nil && b.keepAlive && b.cr.buffered() == 0)
	return nil
}

// Finish reads what remains of the body, at most limit bytes and for at
// most d, and closes it: after the last event of a stream only the chunked
// terminator is left, and reading it keeps the connection for reuse.
func (b *Body) Finish(limit int64, d time.Duration) {
	if !b.done && b.err == nil {
		_ = b.conn.nc.SetReadDeadline(time.Now().Add(d))
		buf := make([]byte, 512)
		for read := int64(0); read < limit; {
			n, err := b.Read(buf)
			read += int64(n)
			if err != nil {
				break
			}
		}
		_ = b.conn.nc.SetReadDeadline(time.Time{})
	}
	_ = b.Close()
}

// readResponse reads a response head and sets up its body. 1xx answers
// (103 Early Hints) are skipped.
func readResponse(cr *connReader, c *conn) (*Response, error) {
	for {
		resp, err := readHead(cr)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != 101 {
			continue
		}
		body := &Body{cr: cr, conn: c, keepAlive: resp.Proto == "HTTP/1.1"}
		if tokenListHas(resp.Header.Values("Connection"), "close") {
			body.keepAlive = false
		}
		te := resp.Header.Values("Transfer-Encoding")
		cl := resp.Header.Get("Content-Length")
		switch {
		case resp.StatusCode == 204 || resp.StatusCode == 304 || resp.StatusCode == 101:
			body.framing, body.done = framedLength, true
		case len(te) > 0:
			// chunked is the only coding asked for or understood; with a
			// Content-Length beside it the framing is ambiguous, and the
			// connection is not reused (RFC 9112 §6.3).
			if !strings.EqualFold(strings.TrimSpace(strings.Join(te, ",")), "chunked") {
				return nil, fmt.Errorf("unsupported Transfer-Encoding %q: only chunked is understood", strings.Join(te, ", "))
			}
			body.framing = framedChunked
			if cl != "" {
				body.keepAlive = false
			}
		case cl != "":
			n, err := strconv.ParseInt(strings.TrimSpace(cl), 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("bad Content-Length %q", cl)
			}
			body.framing, body.remaining, body.done = framedLength, n, n == 0
		default:
			body.framing, body.keepAlive = framedClose, false
		}
		resp.Body = body
		return resp, nil
	}
}

func readHead(cr *connReader) (*Response, error) {
	line, st, err := cr.line()
	if err != nil {
		return nil, err
	}
	proto, rest, ok := strings.Cut(string(line), " ")
	if !ok || !strings.HasPrefix(proto, "HTTP/1.") {
		return nil, fmt.Errorf("malformed HTTP status line %q", truncate(line))
	}
	code, _, _ := strings.Cut(rest, " ")
	status, err := strconv.Atoi(code)
	if err != nil || status < 100 || status > 999 {
		return nil, fmt.Errorf("malformed HTTP status line %q", truncate(line))
	}
	resp := &Response{StatusCode: status, Proto: proto, Header: http.Header{}}
	size := len(line)
	for {
		line, st, err = cr.line()
		if err != nil {
			return nil, eofIsUnexpected(err)
		}
		if size += len(line); size > maxHeaderBytes {
			return nil, fmt.Errorf("response headers longer than %d bytes", maxHeaderBytes)
		}
		if len(line) == 0 {
			resp.Head = st
			return resp, nil
		}
		k, v, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			return nil, fmt.Errorf("malformed HTTP header line %q", truncate(line))
		}
		key := textproto.CanonicalMIMEHeaderKey(string(bytes.TrimSpace(k)))
		resp.Header.Add(key, string(bytes.TrimSpace(v)))
	}
}

// tokenListHas reports whether a comma-separated header lists token.
func tokenListHas(values []string, token string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func truncate(b []byte) []byte {
	if len(b) > 100 {
		return b[:100]
	}
	return b
}
