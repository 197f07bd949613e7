package realtime

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
)

// Buffer sizes of a hijacked connection. Client frames are small (the read
// limit is 8 KiB by default, and bufio reads a payload larger than its buffer
// straight into the caller's slice); a server frame larger than the write
// buffer costs one more write call. net/http would leave 4 KiB each way on
// every connection for its lifetime, which is most of an idle connection's
// memory.
const (
	readBufferSize  = 256
	writeBufferSize = 1024
)

// smallBuffers is the ResponseWriter given to websocket.Accept: its Hijack
// hands the library small buffers and remembers the socket.
type smallBuffers struct {
	http.ResponseWriter
	raw net.Conn
}

// Hijack hijacks the underlying connection (following Unwrap, as
// http.ResponseController does) and shrinks the buffers it returns.
//
// net/http's connection keeps pointers to the returned bufio.Reader and
// bufio.Writer until the handler returns, that is for the whole life of a
// WebSocket, so replacing them with new small ones would free nothing. After
// a hijack they belong to the caller (net/http never touches them again), so
// their contents are replaced in place: the same objects, with small
// buffers, and the 8 KiB become garbage.
func (w *smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	raw, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.raw = raw

	// Bytes the client sent right behind its handshake are buffered in
	// the old reader; carry them over and keep them buffered in the new
	// one, where websocket.Accept looks for them.
	var src io.Reader = raw
	size := readBufferSize
	early := brw.Reader.Buffered()
	if early > 0 {
		b, _ := brw.Reader.Peek(early)
		src = io.MultiReader(bytes.NewReader(bytes.Clone(b)), raw)
		size = max(size, early)
	}
	*brw.Reader = *bufio.NewReaderSize(src, size)
	if early > 0 {
		if _, err := brw.Reader.Peek(early); err != nil {
			_ = raw.Close()
			return nil, nil, err
		}
	}

	if brw.Writer.Buffered() > 0 {
		if err := brw.Writer.Flush(); err != nil {
			_ = raw.Close()
			return nil, nil, err
		}
	}
	*brw.Writer = *bufio.NewWriterSize(raw, writeBufferSize)
	return raw, brw, nil
}

// Unwrap lets http.ResponseController reach the ResponseWriter underneath.
func (w *smallBuffers) Unwrap() http.ResponseWriter { return w.ResponseWriter }
