package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tkesj/tkesj/internal/app"
)

// Graceful drain (README, "Several nodes"): a node told to stop first fails
// /readyz so the load balancer sends it nothing new, then stops accepting,
// closes every WebSocket with 1012 (service restart: the web client
// reconnects at once, through the balancer, to another node), lets requests
// in flight finish, and only then exits.
func TestGracefulDrain(t *testing.T) {
	s := startServer(t, "sqlite", func(c *app.Config) { c.DrainDelay = "1s" })
	p := s.register(t, "Drained")
	ws := s.ws(t, p.Token)
	ws.next("ready")

	// An upload is in flight: its headers and half its body are sent.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "notes.txt")
	fw.Write(bytes.Repeat([]byte("a line of notes\n"), 4096))
	mw.Close()
	host := strings.TrimPrefix(s.URL, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/media HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		host, p.Token, mw.FormDataContentType(), body.Len())
	half := body.Len() / 2
	if _, err := conn.Write(body.Bytes()[:half]); err != nil {
		t.Fatal(err)
	}

	stopped := make(chan struct{})
	go func() { s.stop(); close(stopped) }()

	t.Run("a stopping node fails its readiness check first", func(t *testing.T) {
		deadline := time.Now().Add(5 * time.Second)
		for {
			r, err := http.Get(s.URL + "/readyz")
			if err == nil {
				var b bytes.Buffer
				b.ReadFrom(r.Body)
				r.Body.Close()
				if r.StatusCode == 503 && strings.Contains(b.String(), `"code":"draining"`) {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz never answered 503 draining (last: %v)", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("sockets are told to reconnect elsewhere with 1012", func(t *testing.T) {
		if code := ws.waitClosed(); code != websocket.StatusServiceRestart {
			t.Errorf("socket closed with %d, want 1012 (service restart)", code)
		}
	})

	t.Run("new connections are refused once the sockets are gone", func(t *testing.T) {
		c, err := net.DialTimeout("tcp", host, time.Second)
		if err == nil {
			c.Close()
			t.Error("the draining node still accepts connections")
		}
	})

	t.Run("the request in flight finishes", func(t *testing.T) {
		select {
		case <-stopped:
			t.Fatal("the server exited with a request in flight")
		default:
		}
		if _, err := conn.Write(body.Bytes()[half:]); err != nil {
			t.Fatalf("finishing the upload: %v", err)
		}
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("no answer to the upload in flight: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Errorf("upload in flight answered %d, want 201", resp.StatusCode)
		}
	})

	select {
	case <-stopped:
	case <-time.After(15 * time.Second):
		t.Fatal("the server did not exit after draining")
	}
	if !strings.Contains(s.Log.String(), "drained") {
		t.Error("no drained line in the log")
	}
}
