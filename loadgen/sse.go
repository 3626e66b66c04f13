package loadgen

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/infbench/infbench/loadgen/streamhttp"
)

// MaxLineBytes bounds one SSE line. A longer line is a malformed stream (a
// server that never sends a line end would otherwise grow the buffer without
// limit).
const MaxLineBytes = 4 << 20

// ErrLineTooLong is returned by [SSEReader.Next] when a line exceeds
// MaxLineBytes.
var ErrLineTooLong = errors.New("sse: line longer than 4 MiB")

// SSEEvent is one dispatched server-sent event.
type SSEEvent struct {
	// Data is the event's data: the values of its data: lines joined by "\n".
	// It aliases the reader's buffer and is valid until the next call to Next.
	Data []byte
	// At is when the bytes of the read that completed the event's last
	// data line arrived: the kernel's receive time where the body reports
	// one (a *streamhttp.Body on Linux), else when that read returned. It
	// is taken before any JSON decoding.
	At time.Time
	// Stamp is that read's stamp, whose At is At: its Lag (user-space
	// return − kernel receipt) is the client's delay in delivering the
	// event, its Clock the clock that stamped it, and its Seq numbers the
	// read (events with the same Seq arrived together and share it).
	Stamp streamhttp.Stamp
}

// StampedReader is a body whose every Read comes from one socket read and
// knows when that read's bytes arrived (*streamhttp.Body).
type StampedReader interface {
	io.Reader
	Stamp() streamhttp.Stamp
}

// SSEReader reads server-sent events from a response body.
//
// It is written here rather than taken from a library because the timing is
// the measurement: every event must carry the time at which its bytes were
// complete on the socket, stamped once per read system call and before any
// decoding, and the reader must not allocate per event. Generic SSE clients
// stamp (if at all) after dispatching to a callback or channel, which adds
// scheduling delay to every TTFT and ITL sample.
//
// It accepts everything seen from LLM servers: "\n", "\r\n" or "\r" line
// ends, a space before the line end (TensorRT-LLM), "data:" with or without
// the space, comment lines (": ping"), other fields (event:, id:, retry:),
// several data lines per event, and events split across or merged within
// reads. At the end of the stream, an event whose data lines are complete
// but which lacks its blank line is dispatched (a server that closes after
// "data: [DONE]\n" has still sent it); a stream that ends inside a line
// was cut, and Next returns io.ErrUnexpectedEOF.
type SSEReader struct {
	r       io.Reader
	stamped StampedReader // r, when it stamps its reads
	now     func() time.Time

	buf        []byte // bytes read and not yet consumed: buf[start:end]
	start, end int
	read       streamhttp.Stamp // of the last read
	firstByte  time.Time
	skipLF     bool // previous line ended in a bare '\r': skip a following '\n'
	eof        bool
	err        error

	data      []byte // data of the event being assembled
	hasData   bool
	dataStamp streamhttp.Stamp // of the read that completed the data
	comments  int
}

// NewSSEReader returns a reader over r. A StampedReader stamps its own
// reads; any other reader's are stamped with now as they return (nil
// means time.Now).
func NewSSEReader(r io.Reader, now func() time.Time) *SSEReader {
	if now == nil {
		now = time.Now
	}
	s := &SSEReader{r: r, now: now, buf: make([]byte, 4096)}
	s.stamped, _ = r.(StampedReader)
	return s
}

// Reset makes the reader read from r, keeping its buffers.
func (s *SSEReader) Reset(r io.Reader) {
	*s = SSEReader{r: r, now: s.now, buf: s.buf, data: s.data[:0]}
	s.stamped, _ = r.(StampedReader)
}

// FirstByte is when the first read that returned data returned (zero before).
func (s *SSEReader) FirstByte() time.Time { return s.firstByte }

// Comments counts the comment lines seen (": ping" keep-alives and the like).
func (s *SSEReader) Comments() int { return s.comments }

// Next returns the next event. At the end of the stream it returns io.EOF;
// other errors are the underlying reader's, or ErrLineTooLong.
func (s *SSEReader) Next() (SSEEvent, error) {
	for {
		line, ok, err := s.line()
		if err != nil {
			if err == io.EOF && s.hasData {
				return s.dispatch(), nil
			}
			return SSEEvent{}, err
		}
		if !ok {
			continue
		}
		if len(line) == 0 {
			if s.hasData {
				return s.dispatch(), nil
			}
			continue
		}
		s.field(line)
	}
}

func (s *SSEReader) dispatch() SSEEvent {
	ev := SSEEvent{Data: s.data, At: s.dataStamp.At(), Stamp: s.dataStamp}
	s.data = s.data[:0]
	s.hasData = false
	return ev
}

// field interprets one non-empty line.
func (s *SSEReader) field(line []byte) {
	if line[0] == ':' {
		s.comments++
		return
	}
	name, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	if string(name) != "data" {
		return // event:, id:, retry: and unknown fields carry nothing we measure
	}
	if s.hasData {
		s.data = append(s.data, '\n')
	}
	s.data = append(s.data, value...)
	s.hasData = true
	s.dataStamp = s.read
}

// line returns the next complete line without its terminator. ok is false
// when the call consumed only a '\n' that completed a "\r\n" pair.
func (s *SSEReader) line() (line []byte, ok bool, err error) {
	for {
		if s.start < s.end {
			b := s.buf[s.start:s.end]
			if s.skipLF {
				s.skipLF = false
				if b[0] == '\n' {
					s.start++
					return nil, false, nil
				}
			}
			if i := indexLineEnd(b); i >= 0 {
				line = b[:i]
				s.start += i + 1
				if b[i] == '\r' {
					if i+1 < len(b) {
						if b[i+1] == '\n' {
							s.start++
						}
					} else {
						s.skipLF = true
					}
				}
				return line, true, nil
			}
		}
		if s.eof {
			if s.start < s.end && s.err == io.EOF {
				// The body ended inside a line: the stream was cut, not
				// finished (the SSE spec discards such an event).
				s.start = s.end
				return nil, false, io.ErrUnexpectedEOF
			}
			return nil, false, s.err
		}
		if err := s.fill(); err != nil {
			return nil, false, err
		}
	}
}

// indexLineEnd finds the first '\n' or '\r'. Servers almost always send
// '\n', so look for that first and only then for an earlier '\r'.
func indexLineEnd(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	end := b
	if i >= 0 {
		end = b[:i]
	}
	if j := bytes.IndexByte(end, '\r'); j >= 0 {
		return j
	}
	return i
}

// fill reads more bytes, compacting or growing the buffer as needed.
func (s *SSEReader) fill() error {
	if s.start > 0 {
		n := copy(s.buf, s.buf[s.start:s.end])
		s.start, s.end = 0, n
	}
	if s.end == len(s.buf) {
		if len(s.buf) >= MaxLineBytes {
			return fmt.Errorf("%w (after %d bytes without a line end)", ErrLineTooLong, s.end)
		}
		nb := make([]byte, 2*len(s.buf))
		copy(nb, s.buf[:s.end])
		s.buf = nb
	}
	n, err := s.r.Read(s.buf[s.end:])
	if n > 0 {
		if s.stamped != nil {
			s.read = s.stamped.Stamp()
		} else { // stamped in user space as the read returns
			s.read = streamhttp.Stamp{User: s.now(), Seq: s.read.Seq + 1}
		}
		if s.firstByte.IsZero() {
			s.firstByte = s.read.At()
		}
		s.end += n
	}
	if err != nil {
		s.eof = true
		s.err = err
		if n > 0 || s.start < s.end {
			return nil
		}
		return err
	}
	return nil
}
