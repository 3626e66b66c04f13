package streamhttp

import (
	"bytes"
	"errors"
	"fmt"
)

// maxBuffer bounds the bytes held for one line (status, header, chunk
// size) or unread body.
const maxBuffer = 1 << 20

var errLineTooLong = errors.New("response line longer than 1 MiB")

// connReader buffers a connection's reads and remembers which socket read
// delivered which bytes: segs[i] ends at segs[i].end and begins where
// segs[i-1] ends (the first at r). That is what net/http's bufio.Reader
// cannot say, and what keeps an event's stamp exact.
type connReader struct {
	rx   rx
	buf  []byte
	r, w int
	segs []segment
	err  error // sticky: the connection's read side is done
	// received counts the bytes read, over the connection's life: a
	// request that failed before it grew got no byte of a response.
	received int64
}

type segment struct {
	end int
	st  Stamp
}

func newConnReader(x rx) *connReader {
	return &connReader{rx: x, buf: make([]byte, 16<<10), segs: make([]segment, 0, 8)}
}

// buffered is the number of unread bytes.
func (c *connReader) buffered() int { return c.w - c.r }

// fill makes one socket read, appending to the buffer.
func (c *connReader) fill() error {
	if c.err != nil {
		return c.err
	}
	switch {
	case c.r == c.w:
		c.r, c.w, c.segs = 0, 0, c.segs[:0]
	case c.w == len(c.buf) && c.r > 0:
		n := copy(c.buf, c.buf[c.r:c.w])
		for i := range c.segs {
			c.segs[i].end -= c.r
		}
		c.r, c.w = 0, n
	}
	if c.w == len(c.buf) {
		if len(c.buf) >= maxBuffer {
			return errLineTooLong
		}
		nb := make([]byte, 2*len(c.buf))
		copy(nb, c.buf[:c.w])
		c.buf = nb
	}
	n, st, err := c.rx.read(c.buf[c.w:])
	if n > 0 {
		c.w += n
		c.received += int64(n)
		c.segs = append(c.segs, segment{c.w, st})
	}
	if err != nil {
		c.err = err
		if n > 0 {
			return nil
		}
		return err
	}
	return nil
}

// head returns the unread bytes of the oldest socket read still buffered,
// and its stamp; nothing when the buffer is empty.
func (c *connReader) head() ([]byte, Stamp) {
	for len(c.segs) > 0 && c.segs[0].end <= c.r {
		c.segs = c.segs[1:]
	}
	if len(c.segs) == 0 {
		return nil, Stamp{}
	}
	return c.buf[c.r:c.segs[0].end], c.segs[0].st
}

// stampAt is the stamp of the read that delivered the byte at buf[i].
func (c *connReader) stampAt(i int) Stamp {
	for _, s := range c.segs {
		if i < s.end {
			return s.st
		}
	}
	return Stamp{}
}

// line returns the next line without its "\n" (and "\r"), reading as
// needed, with the stamp of the read that completed it. The line aliases
// the buffer until the next call.
func (c *connReader) line() ([]byte, Stamp, error) {
	scanned := 0
	for {
		if i := bytes.IndexByte(c.buf[c.r+scanned:c.w], '\n'); i >= 0 {
			end := c.r + scanned + i
			st := c.stampAt(end)
			line := c.buf[c.r:end]
			c.r = end + 1
			return bytes.TrimSuffix(line, []byte{'\r'}), st, nil
		}
		scanned = c.w - c.r
		if scanned >= maxBuffer {
			return nil, Stamp{}, fmt.Errorf("%w (after %d bytes)", errLineTooLong, scanned)
		}
		if err := c.fill(); err != nil {
			return nil, Stamp{}, err
		}
	}
}
