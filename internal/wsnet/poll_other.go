//go:build !linux

package wsnet

import (
	"errors"
	"net"
)

// Without epoll every connection is served in stream mode.
type poller struct{}

func newPoller() (*poller, error) { return nil, nil }

func (p *poller) add(c *Conn) error { return errors.New("no poller") }
func (p *poller) del(c *Conn)       {}
func (p *poller) all() []*Conn      { return nil }
func (p *poller) close()            {}

func detach(tc *net.TCPConn) (int, error) { return -1, errors.New("no poller") }

func readFd(fd int, p []byte) (int, error)  { return 0, errors.New("no poller") }
func writeFd(fd int, p []byte) (int, error) { return 0, errors.New("no poller") }
func shutdownFd(fd int)                     {}
func shutdownWriteFd(fd int)                {}

func closeFd(fd int) {}
