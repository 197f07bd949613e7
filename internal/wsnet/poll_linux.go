package wsnet

import (
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// poller is the epoll reactor: one goroutine takes readiness from one epoll
// set for every connection in poll mode and hands it to the connections,
// which start a goroutine only when there is work.
//
// Sockets are registered edge-triggered for input and output once, at the
// upgrade: no epoll_ctl call per read or write. A connection's reader (or
// writer) that finds the socket empty (or full) just ends; the next edge
// starts another.
//
// The reactor never blocks in epoll_wait: the epoll descriptor is itself
// registered with the Go runtime's poller (an epoll set is readable while
// it has events), and epoll_wait is called with a zero timeout once the
// runtime says so. A thread parked in epoll_wait would hold the runtime's
// only P when GOMAXPROCS is 1 (a server pinned to one core) until sysmon
// took it back, delaying every other goroutine.
type poller struct {
	epfd int
	file *os.File // epfd, for the runtime's poller

	mu    sync.RWMutex
	conns []*Conn // by descriptor
	done  chan struct{}
}

func newPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		_ = unix.Close(epfd)
		return nil, fmt.Errorf("epoll: %w", err)
	}
	f := os.NewFile(uintptr(epfd), "wsnet-epoll")
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("epoll: %w", err)
	}
	p := &poller{epfd: epfd, file: f, done: make(chan struct{})}
	go p.loop(rc)
	return p, nil
}

func (p *poller) add(c *Conn) error {
	p.mu.Lock()
	if c.fd >= len(p.conns) {
		grown := make([]*Conn, max(c.fd+1, 2*len(p.conns), 1024))
		copy(grown, p.conns)
		p.conns = grown
	}
	p.conns[c.fd] = c
	p.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(c.fd)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		p.mu.Lock()
		p.conns[c.fd] = nil
		p.mu.Unlock()
		return fmt.Errorf("epoll_ctl add: %w", err)
	}
	return nil
}

// del unregisters c before its descriptor is closed.
func (p *poller) del(c *Conn) {
	_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	p.mu.Lock()
	if c.fd < len(p.conns) && p.conns[c.fd] == c {
		p.conns[c.fd] = nil
	}
	p.mu.Unlock()
}

func (p *poller) all() []*Conn {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var all []*Conn
	for _, c := range p.conns {
		if c != nil {
			all = append(all, c)
		}
	}
	return all
}

// close stops the loop (its wait on the closed file fails) and closes the
// epoll set.
func (p *poller) close() {
	_ = p.file.Close()
	<-p.done
}

type readiness struct {
	c  *Conn
	ev uint32
}

func (p *poller) loop(rc syscall.RawConn) {
	defer close(p.done)
	events := make([]unix.EpollEvent, 256)
	ready := make([]readiness, 0, len(events))
	for {
		n := 0
		err := rc.Read(func(fd uintptr) bool {
			for {
				var err error
				n, err = unix.EpollWait(int(fd), events, 0)
				if err != unix.EINTR {
					break
				}
			}
			return n > 0 // none: wait until the runtime's poller says there are
		})
		if err != nil {
			return // closed
		}
		ready = ready[:0]
		p.mu.RLock()
		for _, e := range events[:n] {
			fd := int(e.Fd)
			if fd < len(p.conns) && p.conns[fd] != nil {
				ready = append(ready, readiness{p.conns[fd], e.Events})
			}
		}
		p.mu.RUnlock()
		for _, r := range ready {
			if r.ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				r.c.onReadable()
			}
			if r.ev&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				r.c.onWritable()
			}
		}
		clear(ready)
	}
}

// detach takes the socket out of the Go runtime's poller: the descriptor
// is duplicated and the net.Conn closed, so the connection no longer costs
// a netFD and a pollDesc, and only this package's epoll set watches it.
func detach(tc *net.TCPConn) (int, error) {
	rc, err := tc.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("detach socket: %w", err)
	}
	fd := -1
	var dupErr error
	if err := rc.Control(func(s uintptr) {
		fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, fmt.Errorf("detach socket: %w", err)
	}
	if dupErr != nil {
		return -1, fmt.Errorf("detach socket: dup: %w", dupErr)
	}
	_ = tc.Close()
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		return -1, fmt.Errorf("detach socket: %w", err)
	}
	return fd, nil
}

func readFd(fd int, p []byte) (int, error) {
	for {
		n, err := unix.Read(fd, p)
		switch err {
		case nil:
			return n, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, errAgain
		}
		return 0, err
	}
}

func writeFd(fd int, p []byte) (int, error) {
	for {
		n, err := unix.Write(fd, p)
		switch err {
		case nil:
			return n, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return max(n, 0), errAgain
		}
		return 0, err
	}
}

func shutdownFd(fd int) { _ = unix.Shutdown(fd, unix.SHUT_RDWR) }

func shutdownWriteFd(fd int) { _ = unix.Shutdown(fd, unix.SHUT_WR) }

func closeFd(fd int) { _ = unix.Close(fd) }
