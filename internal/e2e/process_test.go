package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// tkesjBinary builds cmd/tkesj once per test run.
func tkesjBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tkesj-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "tkesj")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/tkesj/tkesj/cmd/tkesj").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a tkesj server running as a child process.
type proc struct {
	*server
	cmd  *exec.Cmd
	args []string
	env  []string
	log  *syncBuffer
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startProc runs `tkesj serve` with args (plus --addr and --sms-webhook) and
// waits for /healthz.
func startProc(t *testing.T, inbox *smsInbox, data string, extra ...string) *proc {
	return startProcEnv(t, inbox, data, nil, extra...)
}

// startProcEnv is startProc with extra environment variables.
func startProcEnv(t *testing.T, inbox *smsInbox, data string, env []string, extra ...string) *proc {
	t.Helper()
	if inbox == nil {
		inbox = &smsInbox{}
	}
	gw := httptest.NewServer(inbox)
	t.Cleanup(gw.Close)
	addr := freePort(t)
	args := append([]string{"serve", "--addr", addr, "--data", data, "--sms-webhook", gw.URL, "--log-level", "warn"}, extra...)
	p := &proc{args: args, env: env, log: &syncBuffer{}}
	p.server = &server{URL: "http://" + addr, Data: data, SMS: inbox, Log: p.log}
	p.start(t)
	return p
}

func (p *proc) start(t *testing.T) {
	t.Helper()
	p.cmd = exec.Command(tkesjBinary(t), p.args...)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd := p.cmd
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("child server did not come up: %v\n%s", err, tail(p.log.String()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill ends the child with SIGKILL: no shutdown, no flush.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
}

func tail(s string) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}
