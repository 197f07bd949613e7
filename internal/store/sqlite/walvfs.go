package sqlite

import (
	"errors"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"modernc.org/libc"
	"modernc.org/libc/sys/types"
	sqlite3 "modernc.org/sqlite/lib"
)

// walVFS is the name of the VFS every connection opens with: SQLite's own
// "unix" VFS, except that writes to a write-ahead log are gathered in
// memory and reach the file in one pwrite(2) instead of two per page
// (issue 17). SQLite writes each WAL frame as a 24-byte header and then the
// page, each a system call; on this project's reference machine (a
// Firecracker VM) a system call costs about 5 µs, and a group commit of
// a few hundred messages writes hundreds of frames: the writes were 10 %
// of B2's server CPU.
//
// Nothing waits in the buffer past the moment it could matter:
//   - xSync writes it first, so a commit that syncs (synchronous=FULL, the
//     message writer) is on disk exactly as before when SQLite returns;
//   - xShmBarrier, on any connection, writes every WAL's buffer first. SQLite
//     calls it when it publishes a commit in the WAL index (between the two
//     copies of the index header, walIndexWriteHdr), so no reader, and no
//     checkpoint, can learn of a frame before it is in the file. That covers
//     commits that do not sync (the indexer's relaxed ones);
//   - xRead, xFileSize, xTruncate, xFileControl and xClose of the WAL write
//     it first, and a write that does not follow on from the buffer (a WAL
//     restarted from its start) writes the buffer before it is gathered.
//
// A crash with frames still in the buffer loses only frames of a commit
// that had not returned: SQLite ignores frames after the last commit frame
// it finds valid, which is what it does with a torn write today.
const walVFS = "tkesj-wal"

// walMaxBuffer is the most a WAL buffer holds before it is written out.
const walMaxBuffer = 4 << 20

var (
	walVFSOnce sync.Once
	walVFSErr  error
	unixVFS    uintptr // SQLite's own VFS, which every call is handed on to

	// The io_methods the unix VFS gives its files (it has several kinds),
	// each with the copy of it walVFS puts in its place.
	methodsMu  sync.RWMutex
	walCopies  = map[uintptr]uintptr{} // unix's methods -> a WAL's gathering copy
	dbCopies   = map[uintptr]uintptr{} // unix's methods -> a database's copy, whose barrier flushes
	originalOf = map[uintptr]uintptr{} // a copy -> unix's methods

	walBuffersMu sync.Mutex
	walBuffers   = map[uintptr]*walBuffer{} // by the sqlite3_file of an open WAL
	walPending   atomic.Int64               // WAL buffers that hold bytes
	walWrites    atomic.Int64               // gathered writes made (tests)
)

// walBuffer is what one open WAL file has gathered: n bytes at buf (C
// memory, so SQLite's code may read it) meant for the file at off.
type walBuffer struct {
	mu   sync.Mutex
	file uintptr
	unix *sqlite3.Tsqlite3_io_methods // the file's own methods
	buf  uintptr
	cap  int
	n    int
	off  int64
}

// registerWALVFS registers walVFS once per process.
func registerWALVFS() error {
	walVFSOnce.Do(func() {
		tls := libc.NewTLS()
		defer tls.Close()
		unixVFS = sqlite3.Xsqlite3_vfs_find(tls, 0)
		if unixVFS == 0 {
			walVFSErr = errNoVFS
			return
		}
		name, err := libc.CString(walVFS)
		if err != nil {
			walVFSErr = err
			return
		}
		p := libc.Xcalloc(tls, 1, types.Size_t(unsafe.Sizeof(sqlite3.Tsqlite3_vfs{})))
		v := (*sqlite3.Tsqlite3_vfs)(ptr(p))
		*v = *(*sqlite3.Tsqlite3_vfs)(ptr(unixVFS))
		v.FpNext = 0
		v.FzName = name
		v.FxOpen = cFuncPointer(walVFSOpen)
		if rc := sqlite3.Xsqlite3_vfs_register(tls, p, 0); rc != sqlite3.SQLITE_OK {
			walVFSErr = errNoVFS
		}
	})
	return walVFSErr
}

type vfsError string

func (e vfsError) Error() string { return string(e) }

const errNoVFS = vfsError("sqlite: cannot register the WAL-gathering VFS")

// ptr is the C memory at address p: modernc's SQLite hands out C addresses
// as uintptr. (Reading the bits through a pointer to p, not converting p,
// which vet rightly warns about for Go memory; this is never Go memory.)
func ptr(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }

// cfunc is the C function pointer p as the Go function it is in modernc's
// SQLite, to call it.
func cfunc[T any](p uintptr) T { return *(*T)(unsafe.Pointer(&struct{ uintptr }{p})) }

// cFuncPointer is a Go function (not a closure) as the C function pointer
// modernc's SQLite calls (the representation of golang.org/s/go11func).
func cFuncPointer[T any](f T) uintptr {
	return *(*uintptr)(unsafe.Pointer(&struct{ f T }{f}))
}

// unixIO is unix's own io_methods for file, whose methods are one of
// walVFS's copies (or unix's, for a file walVFS left alone).
func unixIO(file uintptr) *sqlite3.Tsqlite3_io_methods {
	m := (*sqlite3.Tsqlite3_file)(ptr(file)).FpMethods
	methodsMu.RLock()
	orig, ok := originalOf[m]
	methodsMu.RUnlock()
	if !ok {
		orig = m
	}
	return (*sqlite3.Tsqlite3_io_methods)(ptr(orig))
}

// walVFSOpen opens a file with the unix VFS and, for a WAL or a main
// database file, swaps in the methods that gather and flush.
func walVFSOpen(tls *libc.TLS, pVfs, zName, pFile uintptr, flags int32, pOutFlags uintptr) int32 {
	open := cfunc[func(*libc.TLS, uintptr, uintptr, uintptr, int32, uintptr) int32]((*sqlite3.Tsqlite3_vfs)(ptr(unixVFS)).FxOpen)
	rc := open(tls, unixVFS, zName, pFile, flags, pOutFlags)
	if rc != sqlite3.SQLITE_OK || (*sqlite3.Tsqlite3_file)(ptr(pFile)).FpMethods == 0 {
		return rc
	}
	f := (*sqlite3.Tsqlite3_file)(ptr(pFile))
	switch {
	case flags&sqlite3.SQLITE_OPEN_WAL != 0:
		b := &walBuffer{file: pFile, unix: (*sqlite3.Tsqlite3_io_methods)(ptr(f.FpMethods))}
		f.FpMethods = copyMethods(tls, f.FpMethods, walCopies, func(m *sqlite3.Tsqlite3_io_methods) {
			m.FxClose = cFuncPointer(walClose)
			m.FxRead = cFuncPointer(walRead)
			m.FxWrite = cFuncPointer(walWrite)
			m.FxTruncate = cFuncPointer(walTruncate)
			m.FxSync = cFuncPointer(walSync)
			m.FxFileSize = cFuncPointer(walFileSize)
			m.FxFileControl = cFuncPointer(walFileControl)
		})
		walBuffersMu.Lock()
		walBuffers[pFile] = b
		walBuffersMu.Unlock()
	case flags&sqlite3.SQLITE_OPEN_MAIN_DB != 0:
		f.FpMethods = copyMethods(tls, f.FpMethods, dbCopies, func(m *sqlite3.Tsqlite3_io_methods) {
			m.FxShmBarrier = cFuncPointer(dbShmBarrier)
		})
	}
	return rc
}

// copyMethods returns walVFS's copy of unix's methods orig, made by
// override once and kept for the life of the process (few exist).
func copyMethods(tls *libc.TLS, orig uintptr, copies map[uintptr]uintptr, override func(*sqlite3.Tsqlite3_io_methods)) uintptr {
	methodsMu.Lock()
	defer methodsMu.Unlock()
	if c, ok := copies[orig]; ok {
		return c
	}
	c := libc.Xcalloc(tls, 1, types.Size_t(unsafe.Sizeof(sqlite3.Tsqlite3_io_methods{})))
	m := (*sqlite3.Tsqlite3_io_methods)(ptr(c))
	*m = *(*sqlite3.Tsqlite3_io_methods)(ptr(orig))
	override(m)
	copies[orig], originalOf[c] = c, orig
	return c
}

func bufferOf(file uintptr) *walBuffer {
	walBuffersMu.Lock()
	defer walBuffersMu.Unlock()
	return walBuffers[file]
}

// flushLocked writes what b holds (b.mu held).
func (b *walBuffer) flushLocked() int32 {
	if b.n == 0 {
		return sqlite3.SQLITE_OK
	}
	// One pwrite(2) on the file's descriptor: unix's xWrite writes at most
	// 128 KiB a call (seekAndWrite masks the length), a commit's frames more.
	fd := int((*sqlite3.TunixFile)(ptr(b.file)).Fh)
	p := unsafe.Slice((*byte)(ptr(b.buf)), b.n)
	for off := b.off; len(p) > 0; {
		n, err := syscall.Pwrite(fd, p, off)
		switch {
		case err == syscall.EINTR:
			continue
		case errors.Is(err, syscall.ENOSPC) || (err == nil && n == 0):
			return sqlite3.SQLITE_FULL // kept: the next flush tries again, and reads fail until one works
		case err != nil:
			return sqlite3.SQLITE_IOERR_WRITE
		}
		p, off = p[n:], off+int64(n)
		walWrites.Add(1)
	}
	b.n = 0
	walPending.Add(-1)
	return sqlite3.SQLITE_OK
}

// flushAll writes every WAL buffer of the process and returns the first
// error: a read of any WAL must not find a frame missing that a buffer
// holds (another connection's file handle may hold it).
func flushAll(tls *libc.TLS) int32 {
	if walPending.Load() == 0 {
		return sqlite3.SQLITE_OK
	}
	walBuffersMu.Lock()
	all := make([]*walBuffer, 0, len(walBuffers))
	for _, b := range walBuffers {
		all = append(all, b)
	}
	walBuffersMu.Unlock()
	rc := int32(sqlite3.SQLITE_OK)
	for _, b := range all {
		b.mu.Lock()
		if r := b.flushLocked(); rc == sqlite3.SQLITE_OK {
			rc = r
		}
		b.mu.Unlock()
	}
	return rc
}

func flushFile(tls *libc.TLS, file uintptr) int32 {
	b := bufferOf(file)
	if b == nil {
		return sqlite3.SQLITE_OK
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func walWrite(tls *libc.TLS, file, p uintptr, amt int32, off int64) int32 {
	b := bufferOf(file)
	if b == nil {
		write := cfunc[func(*libc.TLS, uintptr, uintptr, int32, int64) int32](unixIO(file).FxWrite)
		return write(tls, file, p, amt, off)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n > 0 && (off != b.off+int64(b.n) || b.n+int(amt) > walMaxBuffer) {
		if rc := b.flushLocked(); rc != sqlite3.SQLITE_OK {
			return rc
		}
	}
	if int(amt) > walMaxBuffer {
		write := cfunc[func(*libc.TLS, uintptr, uintptr, int32, int64) int32](unixIO(file).FxWrite)
		return write(tls, file, p, amt, off)
	}
	if b.n+int(amt) > b.cap {
		c := max(64<<10, 2*b.cap, b.n+int(amt))
		nb := libc.Xrealloc(tls, b.buf, types.Size_t(c))
		if nb == 0 {
			return sqlite3.SQLITE_IOERR_NOMEM
		}
		b.buf, b.cap = nb, c
	}
	if b.n == 0 {
		b.off = off
		walPending.Add(1)
	}
	copy(unsafe.Slice((*byte)(ptr(b.buf+uintptr(b.n))), amt), unsafe.Slice((*byte)(ptr(p)), amt))
	b.n += int(amt)
	return sqlite3.SQLITE_OK
}

func walRead(tls *libc.TLS, file, p uintptr, amt int32, off int64) int32 {
	if rc := flushAll(tls); rc != sqlite3.SQLITE_OK {
		return rc
	}
	read := cfunc[func(*libc.TLS, uintptr, uintptr, int32, int64) int32](unixIO(file).FxRead)
	return read(tls, file, p, amt, off)
}

func walTruncate(tls *libc.TLS, file uintptr, size int64) int32 {
	if rc := flushFile(tls, file); rc != sqlite3.SQLITE_OK {
		return rc
	}
	truncate := cfunc[func(*libc.TLS, uintptr, int64) int32](unixIO(file).FxTruncate)
	return truncate(tls, file, size)
}

func walSync(tls *libc.TLS, file uintptr, flags int32) int32 {
	if rc := flushFile(tls, file); rc != sqlite3.SQLITE_OK {
		return rc
	}
	sync := cfunc[func(*libc.TLS, uintptr, int32) int32](unixIO(file).FxSync)
	return sync(tls, file, flags)
}

func walFileSize(tls *libc.TLS, file, pSize uintptr) int32 {
	if rc := flushFile(tls, file); rc != sqlite3.SQLITE_OK {
		return rc
	}
	size := cfunc[func(*libc.TLS, uintptr, uintptr) int32](unixIO(file).FxFileSize)
	return size(tls, file, pSize)
}

func walFileControl(tls *libc.TLS, file uintptr, op int32, pArg uintptr) int32 {
	if rc := flushFile(tls, file); rc != sqlite3.SQLITE_OK {
		return rc
	}
	fc := cfunc[func(*libc.TLS, uintptr, int32, uintptr) int32](unixIO(file).FxFileControl)
	return fc(tls, file, op, pArg)
}

func walClose(tls *libc.TLS, file uintptr) int32 {
	rc := flushFile(tls, file)
	walBuffersMu.Lock()
	b := walBuffers[file]
	delete(walBuffers, file)
	walBuffersMu.Unlock()
	if b != nil && b.buf != 0 {
		libc.Xfree(tls, b.buf)
	}
	closeFn := cfunc[func(*libc.TLS, uintptr) int32](unixIO(file).FxClose)
	if rc2 := closeFn(tls, file); rc == sqlite3.SQLITE_OK {
		rc = rc2
	}
	return rc
}

// dbShmBarrier writes every WAL buffer before SQLite's own barrier: SQLite
// is about to publish frames in the WAL index (see walVFS).
func dbShmBarrier(tls *libc.TLS, file uintptr) {
	// A failed write stays in its buffer; every read of a WAL writes the
	// buffers first and fails while that fails, so nobody reads a frame
	// the file lacks.
	flushAll(tls)
	barrier := cfunc[func(*libc.TLS, uintptr)](unixIO(file).FxShmBarrier)
	barrier(tls, file)
}
