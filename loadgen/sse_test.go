package loadgen

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chunkedReader returns the given pieces one Read at a time, like a socket
// delivering TCP segments, and counts the reads.
type chunkedReader struct {
	pieces []string
	reads  int
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if len(c.pieces) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.pieces[0])
	c.pieces[0] = c.pieces[0][n:]
	if c.pieces[0] == "" {
		c.pieces = c.pieces[1:]
	}
	c.reads++
	return n, nil
}

// readAll collects the events' data and, for each, the number of reads done
// when it was stamped (the fake clock returns the read count).
func readAll(t *testing.T, r io.Reader) (data []string, stamps []int, err error) {
	t.Helper()
	var reads int
	cr, _ := r.(*chunkedReader)
	epoch := time.Unix(0, 0)
	now := func() time.Time {
		reads++
		if cr != nil {
			reads = cr.reads
		}
		return epoch.Add(time.Duration(reads))
	}
	sr := NewSSEReader(r, now)
	for {
		ev, err := sr.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return data, stamps, nil
			}
			return data, stamps, err
		}
		data = append(data, string(ev.Data))
		stamps = append(stamps, int(ev.At.Sub(epoch)))
	}
}

func TestSSEFramings(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []string
	}{
		{"lf", "data: a\n\ndata: b\n\n", []string{"a", "b"}},
		{"crlf", "data: a\r\n\r\ndata: b\r\n\r\n", []string{"a", "b"}},
		{"cr", "data: a\r\rdata: b\r\r", []string{"a", "b"}},
		{"space before line end (TensorRT-LLM)", "data: {\"x\":1} \n\ndata: [DONE]\n\n", []string{"{\"x\":1} ", "[DONE]"}},
		{"no space after colon", "data:a\n\n", []string{"a"}},
		{"comments and ping", ": ping\n\ndata: a\n\n: keep-alive\ndata: b\n\n", []string{"a", "b"}},
		{"other fields ignored", "event: message\nid: 7\nretry: 100\ndata: a\n\n", []string{"a"}},
		{"multi-line data", "data: a\ndata: b\n\n", []string{"a\nb"}},
		{"empty data", "data:\n\ndata: x\n\n", []string{"", "x"}},
		{"blank lines only", "\n\n\r\n", nil},
		{"last event without blank line", "data: a\n\ndata: [DONE]\n", []string{"a", "[DONE]"}},
		{"field without colon", "data\n\n", []string{""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := readAll(t, strings.NewReader(tc.in))
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			// The same bytes one at a time: framing must not depend on reads.
			got, _, err = readAll(t, iotest.OneByteReader(strings.NewReader(tc.in)))
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// An event is stamped by the read that completed its data line, not by an
// earlier read that carried part of it nor a later one.
func TestSSEStampsTheCompletingRead(t *testing.T) {
	cr := &chunkedReader{pieces: []string{
		"data: {\"a\"",           // read 1: partial line
		":1}\n",                  // read 2: line complete -> event 1 stamped 2
		"\n",                     // read 3: blank line dispatches it
		"data: b\n\ndata: c\n\n", // read 4: two events merged in one read
		"data: d\r",              // read 5: CR ends the line here
		"\n\r\n",                 // read 6: LF of the CRLF, then the blank line
	}}
	data, stamps, err := readAll(t, cr)
	require.NoError(t, err)
	assert.Equal(t, []string{`{"a":1}`, "b", "c", "d"}, data)
	assert.Equal(t, []int{2, 4, 4, 5}, stamps)
}

func TestSSEErrors(t *testing.T) {
	// A body that ends inside a line was cut: the partial event is not
	// dispatched, and the error says so.
	data, _, err := readAll(t, strings.NewReader("data: a\n\ndata: {\"choi"))
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Equal(t, []string{"a"}, data)

	// A connection cut mid-stream surfaces the transport error after the
	// complete events.
	cut := errors.New("connection reset by peer")
	r := io.MultiReader(strings.NewReader("data: a\n\ndata: b"), iotest.ErrReader(cut))
	data, _, err = readAll(t, r)
	assert.ErrorIs(t, err, cut)
	assert.Equal(t, []string{"a"}, data)

	// A line without end beyond the limit is an error, not unbounded memory.
	huge := io.MultiReader(strings.NewReader("data: "), bytes.NewReader(bytes.Repeat([]byte("x"), MaxLineBytes+10)))
	_, _, err = readAll(t, huge)
	assert.ErrorIs(t, err, ErrLineTooLong)
}

func TestSSEFirstByteAndComments(t *testing.T) {
	sr := NewSSEReader(strings.NewReader(": ping\n: ping\ndata: x\n\n"), nil)
	assert.True(t, sr.FirstByte().IsZero())
	_, err := sr.Next()
	require.NoError(t, err)
	assert.False(t, sr.FirstByte().IsZero())
	assert.Equal(t, 2, sr.Comments())
}

// FuzzSSEReader checks that framing never depends on how the bytes are cut
// into reads, and that the reader neither panics nor loops on any input.
func FuzzSSEReader(f *testing.F) {
	for _, s := range []string{
		"data: a\n\n", "data: a\r\n\r\n", "data: a\r\r", ": ping\n\ndata: {\"x\":1} \n\n",
		"data: a\ndata: b\n\n", "event: e\nid: 1\ndata:x\n\ndata: [DONE]", "\r\n\r\r\n\n", "data",
	} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, cut uint8) {
		whole, _, err := readAll(t, bytes.NewReader(in))
		wholeCut := errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !wholeCut {
			t.Fatalf("whole input: %v", err)
		}
		step := int(cut%16) + 1
		var pieces []string
		for i := 0; i < len(in); i += step {
			pieces = append(pieces, string(in[i:min(i+step, len(in))]))
		}
		split, _, err := readAll(t, &chunkedReader{pieces: pieces})
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("split input: %v", err)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) != wholeCut {
			t.Fatalf("end of stream depends on reads: whole %v, split %v", wholeCut, err)
		}
		if !equalStrings(whole, split) {
			t.Fatalf("framing depends on reads: whole %q, split by %d %q", whole, step, split)
		}
	})
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
