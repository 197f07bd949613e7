package wsnet

import (
	"fmt"
	"net"
	"sync"

	"golang.org/x/sys/unix"
)

// poller is the epoll reactor: one goroutine waits on one epoll set for
// every connection in poll mode and hands readiness to the connections,
// which start a goroutine only when there is work.
//
// Sockets are registered edge-triggered for input and output once, at the
// upgrade: no epoll_ctl call per read or write. A connection's reader (or
// writer) that finds the socket empty (or full) just ends; the next edge
// starts another.
type poller struct {
	epfd int
	wake int // an eventfd that stops the loop

	mu    sync.RWMutex
	conns []*Conn // by descriptor
	done  chan struct{}
}

func newPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(wake)
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	p := &poller{epfd: epfd, wake: wake, done: make(chan struct{})}
	go p.loop()
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

func (p *poller) close() {
	var one = [8]byte{1}
	_, _ = unix.Write(p.wake, one[:])
	<-p.done
	_ = unix.Close(p.epfd)
	_ = unix.Close(p.wake)
}

type readiness struct {
	c  *Conn
	ev uint32
}

func (p *poller) loop() {
	defer close(p.done)
	events := make([]unix.EpollEvent, 256)
	ready := make([]readiness, 0, len(events))
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			// Only a bug makes epoll_wait fail (EBADF, EFAULT, EINVAL).
			panic(fmt.Sprintf("wsnet: epoll_wait: %v", err))
		}
		ready = ready[:0]
		stop := false
		p.mu.RLock()
		for _, e := range events[:n] {
			fd := int(e.Fd)
			if fd == p.wake {
				stop = true
				continue
			}
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
		if stop {
			return
		}
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
