package streamhttp

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http/httputil"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A read made late still carries the time the bytes arrived: the server
// records when it wrote the event, the client reads it 50 ms later, and
// the kernel stamp is the write, the user stamp the read.
func TestLateReadCarriesArrivalTime(t *testing.T) {
	if ok, err := KernelStamps(); !ok {
		t.Skipf("no kernel receive timestamps here: %v", err)
	}
	wrote := make(chan time.Time, 1)
	url := rawServer(t, func(_ int, c net.Conn, _ *bufio.Reader) bool {
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
		time.Sleep(20 * time.Millisecond)
		before := time.Now()
		_, _ = io.WriteString(c, "6\r\nevent\n\r\n0\r\n\r\n")
		wrote <- before
		return false
	})
	tr, err := New(url, 1, time.Second)
	require.NoError(t, err)
	resp, _, err := tr.Do(context.Background(), post("{}"))
	require.NoError(t, err)
	before := <-wrote
	time.Sleep(50 * time.Millisecond) // the client is busy elsewhere
	p := make([]byte, 64)
	n, err := resp.Body.Read(p)
	require.NoError(t, err)
	assert.Equal(t, "event\n", string(p[:n]))
	st := resp.Body.Stamp()
	require.Equal(t, ClockKernel, st.Clock())
	assert.False(t, st.Kernel.Before(before), "kernel stamp %v before the server wrote", st.Kernel.Sub(before))
	// The truth is the write; the read came at least 50 ms after it.
	assert.GreaterOrEqual(t, st.User.Sub(before), 50*time.Millisecond)
	assert.Less(t, st.Kernel.Sub(before), st.User.Sub(before)-25*time.Millisecond,
		"kernel stamp %v after the write, user stamp %v: the kernel stamp must be the arrival", st.Kernel.Sub(before), st.User.Sub(before))
	assert.Equal(t, st.User.Sub(st.Kernel), st.Lag())
	_ = resp.Body.Close()
}

// scriptedRx delivers wire in pieces, one per read, numbering them.
type scriptedRx struct {
	pieces [][]byte
	seq    uint64
}

func (s *scriptedRx) alive() bool { return true }

func (s *scriptedRx) read(p []byte) (int, Stamp, error) {
	if len(s.pieces) == 0 {
		return 0, Stamp{}, io.EOF
	}
	n := copy(p, s.pieces[0])
	s.pieces[0] = s.pieces[0][n:]
	if len(s.pieces[0]) == 0 {
		s.pieces = s.pieces[1:]
	}
	s.seq++
	return n, Stamp{User: time.Unix(0, int64(s.seq)), Seq: s.seq}, nil
}

// FuzzChunkedBody checks the decoder against net/http's chunked reader
// and, above all, that every Read returns bytes of one socket read only,
// with that read's stamp: the property the package exists for.
func FuzzChunkedBody(f *testing.F) {
	f.Add([]byte("data: {\"a\":1}\n\ndata: [DONE]\n\n"), []byte{3, 7, 1, 40}, []byte{5, 9})
	f.Add([]byte("x"), []byte{1}, []byte{1})
	f.Fuzz(func(t *testing.T, body, chunkSizes, cuts []byte) {
		// Encode body in chunks of the given sizes, recording for every
		// body byte its offset on the wire.
		head := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		var wire bytes.Buffer
		wire.WriteString(head)
		pos := make([]int, 0, len(body))
		for i, k := 0, 0; i < len(body); k++ {
			size := 1
			if len(chunkSizes) > 0 {
				size = max(1, int(chunkSizes[k%len(chunkSizes)]))
			}
			size = min(size, len(body)-i)
			fmt.Fprintf(&wire, "%x\r\n", size)
			for j := 0; j < size; j++ {
				pos = append(pos, wire.Len())
				wire.WriteByte(body[i+j])
			}
			wire.WriteString("\r\n")
			i += size
		}
		wire.WriteString("0\r\n\r\n")
		w := wire.Bytes()
		// Cut the wire into reads; seqEnd[s] is where read s ends.
		var pieces [][]byte
		seqEnd := []int{0}
		for at, k := 0, 0; at < len(w); k++ {
			n := len(w) - at
			if len(cuts) > 0 {
				n = min(n, max(1, int(cuts[k%len(cuts)])))
			}
			pieces = append(pieces, w[at:at+n])
			at += n
			seqEnd = append(seqEnd, at)
		}
		cr := newConnReader(&scriptedRx{pieces: pieces})
		resp, err := readResponse(cr, &conn{})
		require.NoError(t, err)
		var got []byte
		p := make([]byte, 5)
		for {
			n, err := resp.Body.Read(p)
			if n > 0 {
				seq := resp.Body.Stamp().Seq
				first, last := pos[len(got)], pos[len(got)+n-1]
				require.True(t, first >= seqEnd[seq-1] && last < seqEnd[seq],
					"a Read returned wire bytes %d..%d stamped with read %d, which spans %d..%d", first, last, seq, seqEnd[seq-1], seqEnd[seq]-1)
				got = append(got, p[:n]...)
			}
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
		}
		want, err := io.ReadAll(httputil.NewChunkedReader(strings.NewReader(wire.String()[len(head):])))
		require.NoError(t, err)
		// As strings: for an empty body nothing is appended to got,
		// which stays nil, while want and body are empty slices.
		assert.Equal(t, string(want), string(got))
		assert.Equal(t, string(body), string(got))
	})
}
