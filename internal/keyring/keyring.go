// Package keyring gives every person their own data key and encrypts their
// data with it, so that destroying that one key (crypto-shredding, requirement
// R-DEL-3) makes every byte of theirs unreadable, in the live database and in
// every backup of it, without finding and rewriting those bytes.
//
// Data keys are random AES-256 keys, stored wrapped (encrypted) under a master
// key in a Store kept apart from the main data: the SQLite file keys.db in an
// embedded installation, the PostgreSQL schema tkesj_keys in a scale-out one.
// A backup of the data therefore never carries the keys that decrypt it. The
// master key comes from TKESJ_MASTER_KEY or the file master.key (see
// LoadOrCreateMasterKey). Look-up columns such as phone numbers and usernames
// store Index values, keyed hashes, instead of plaintext.
//
// This is the only package in tkesj that encrypts or decrypts. It may be
// imported by the service layer, which seals and opens row contents, and by
// commands, which load the master key, open the key store and rotate the
// master key. Storage adapters never import it: they store the sealed bytes
// they are given and never see a key.
package keyring

import (
	"container/list"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf8"
)

// ErrShredded is returned by Seal and Open when the id has no data key: it was
// destroyed, or never created.
var ErrShredded = errors.New("keyring: data key destroyed")

// ErrCorrupt is returned by Open when the sealed value or the stored data key
// fails its integrity check: a byte changed on disk, a row was moved under
// another id, or the key store was sealed under another master key. It is not
// a deletion and must never be shown as one (issue 14 item 9).
var ErrCorrupt = errors.New("keyring: integrity check failed")

const (
	// sealVersion is the first byte of every sealed value and wrapped key:
	// version || 12-byte nonce || AES-256-GCM ciphertext and tag.
	sealVersion = 1
	// sealOverhead is how much longer a sealed value is than its plaintext.
	sealOverhead = 1 + 12 + 16
	// keySize is the size of data keys, of the index key and of the master key.
	keySize = masterKeySize
	// indexID is the reserved Store id of the index key. Ids given to the
	// Keyring cannot hold control characters, so they cannot collide with it.
	indexID = "\x00index"
	// wrapADPrefix, followed by the id, is the associated data of a wrapped
	// key: a wrapped key moved to another id does not unwrap.
	wrapADPrefix = "tkesj/data-key/v1/"
	// maxIDLen bounds ids so that they fit every store's primary key.
	maxIDLen = 256
	// defaultCacheSize is the cache bound when New is given cacheSize <= 0.
	defaultCacheSize = 10000
	// cacheTTL bounds how long an unwrapped key is served from the cache:
	// a key destroyed by another process sharing the key store (scale-out)
	// stops being served by this one within cacheTTL.
	cacheTTL = 5 * time.Minute
	// newTimeout bounds the key store work New does at start-up.
	newTimeout = 30 * time.Second
)

// Keyring creates, uses and destroys data keys. It is safe for concurrent use.
type Keyring struct {
	store Store
	cond  conditionalStore // store's atomic writes; nil when it has none
	index []byte           // HMAC key of Index; never changes

	// wrapMu is held for writing by Rotate and for reading by everything else
	// that wraps, unwraps, creates or deletes a stored key, so that Rotate
	// sees a stable set of keys, no key is wrapped under a master being
	// retired, and Rotate cannot re-store a key being destroyed.
	wrapMu sync.RWMutex
	master cipher.AEAD   // guarded by wrapMu
	others []cipher.AEAD // guarded by wrapMu: new masters of unfinished Rotates

	// createMu makes check-then-put atomic within this Keyring for stores
	// without conditionalStore.
	createMu sync.Mutex

	mu       sync.Mutex // guards the fields below
	capacity int
	lru      *list.List               // of *cacheEntry, most recently used first
	items    map[string]*list.Element // by id
	gen      uint64                   // incremented by every Destroy
	hits     uint64
	misses   uint64
	ttl      time.Duration
	now      func() time.Time
}

type cacheEntry struct {
	id      string
	key     [keySize]byte
	expires time.Time
}

// New returns a Keyring that wraps data keys under master and keeps them in
// store. It keeps up to cacheSize unwrapped keys in memory (10000 when
// cacheSize <= 0). On the first New over a store it creates the index key;
// afterwards it unwraps it, which fails when master is not the key the store
// was created (or last rotated) with.
func New(master []byte, store Store, cacheSize int) (*Keyring, error) {
	if store == nil {
		return nil, errors.New("new keyring: nil store")
	}
	m, err := newAEAD(master)
	if err != nil {
		return nil, fmt.Errorf("new keyring: master key: %w", err)
	}
	if cacheSize <= 0 {
		cacheSize = defaultCacheSize
	}
	k := &Keyring{
		store:    store,
		master:   m,
		capacity: cacheSize,
		lru:      list.New(),
		items:    make(map[string]*list.Element),
		ttl:      cacheTTL,
		now:      time.Now,
	}
	k.cond, _ = store.(conditionalStore)
	ctx, cancel := context.WithTimeout(context.Background(), newTimeout)
	defer cancel()
	index, err := k.loadOrCreateIndexKey(ctx)
	if err != nil {
		return nil, err
	}
	k.index = index
	return k, nil
}

func (k *Keyring) loadOrCreateIndexKey(ctx context.Context) ([]byte, error) {
	wrapped, err := k.store.Key(ctx, indexID)
	if errors.Is(err, ErrNoKey) {
		// A new index key would silently change every Index value, so only a
		// store without data keys may get one.
		errDataKey := errors.New("data key found")
		err := k.store.EachKey(ctx, func(id string, _ []byte) error {
			if id != indexID {
				return errDataKey
			}
			return nil
		})
		if errors.Is(err, errDataKey) {
			return nil, errors.New("new keyring: the key store holds data keys but no index key; restore the key store from its backup")
		}
		if err != nil {
			return nil, err
		}
		var key [keySize]byte
		defer clear(key[:])
		rand.Read(key[:])
		created, err := k.putNew(ctx, indexID, key[:])
		if err != nil {
			return nil, err
		}
		if created {
			return append([]byte(nil), key[:]...), nil
		}
		// Another process created it first: use theirs.
		wrapped, err = k.store.Key(ctx, indexID)
	}
	if err != nil {
		return nil, err
	}
	key, err := k.unwrap(indexID, wrapped)
	if err != nil {
		return nil, fmt.Errorf("new keyring: open index key (is this the master key the key store was created or last rotated with?): %w", err)
	}
	return key[:], nil
}

// CreateKey creates the data key of id: 32 random bytes, stored wrapped under
// the master key. It refuses to replace a key id already has: that would make
// everything sealed with it unreadable.
func (k *Keyring) CreateKey(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	var key [keySize]byte
	defer clear(key[:])
	rand.Read(key[:])

	k.mu.Lock()
	gen := k.gen
	k.mu.Unlock()

	k.wrapMu.RLock()
	created, err := k.putNew(ctx, id, key[:])
	k.wrapMu.RUnlock()
	if err != nil {
		return err
	}
	if !created {
		return fmt.Errorf("create data key: id %q already has one", id)
	}
	k.mu.Lock()
	if k.gen == gen {
		k.cachePut(id, &key)
	}
	k.mu.Unlock()
	return nil
}

// putNew stores key wrapped under id unless id already has a key. The caller
// holds wrapMu (for reading or writing) or is New.
func (k *Keyring) putNew(ctx context.Context, id string, key []byte) (bool, error) {
	wrapped := sealWith(k.master, key, wrapAD(id))
	if k.cond != nil {
		return k.cond.insertKey(ctx, id, wrapped)
	}
	k.createMu.Lock()
	defer k.createMu.Unlock()
	_, err := k.store.Key(ctx, id)
	if err == nil {
		return false, nil
	}
	if !errors.Is(err, ErrNoKey) {
		return false, err
	}
	if err := k.store.PutKey(ctx, id, wrapped); err != nil {
		return false, err
	}
	return true, nil
}

// Seal encrypts plaintext with the data key of id. ad (associated data) binds
// the result to where it is stored, e.g. "users/<id>/profile": Open fails
// unless given the same ad. The result is a version byte (1), a random 12-byte
// nonce, and the AES-256-GCM ciphertext with its tag.
func (k *Keyring) Seal(ctx context.Context, id string, plaintext, ad []byte) ([]byte, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	key, err := k.dataKey(ctx, id)
	if err != nil {
		return nil, err
	}
	aead, err := newAEAD(key[:])
	clear(key[:])
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return sealWith(aead, plaintext, ad), nil
}

// Open decrypts what Seal returned for the same id and ad. It returns
// ErrShredded when the data key of id has been destroyed, and an error (never
// a panic) when sealed is malformed, tampered with, or sealed with another ad.
func (k *Keyring) Open(ctx context.Context, id string, sealed, ad []byte) ([]byte, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	if err := checkSealed(sealed); err != nil {
		return nil, fmt.Errorf("open sealed data: %w: %w", ErrCorrupt, err)
	}
	key, err := k.dataKey(ctx, id)
	if err != nil {
		return nil, err
	}
	aead, err := newAEAD(key[:])
	clear(key[:])
	if err != nil {
		return nil, fmt.Errorf("open sealed data: %w", err)
	}
	plaintext, err := openWith(aead, sealed, ad)
	if err != nil {
		return nil, fmt.Errorf("open sealed data: %w: %w", ErrCorrupt, err)
	}
	return plaintext, nil
}

// Destroy deletes the data key of id from the store and from the cache,
// zeroing the cached copy; everything sealed with it becomes unreadable for
// good (R-DEL-3). Destroying a key that does not exist is not an error.
//
// Once Destroy has returned, this Keyring never serves the key again, even to
// an Open that read it from the store just before. Another Keyring sharing the
// store stops serving a copy it had cached within 5 minutes.
func (k *Keyring) Destroy(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	k.wrapMu.RLock()
	err := k.store.DeleteKey(ctx, id)
	k.wrapMu.RUnlock()

	// After the delete, not before: a load that began before it ends with a
	// generation that no longer matches and is not cached; a load that begins
	// after it finds no key.
	k.mu.Lock()
	k.gen++
	if el, ok := k.items[id]; ok {
		k.evict(el)
	}
	k.mu.Unlock()
	return err
}

// Move gives the data key of from to the id to, and destroys it under from:
// everything sealed with it reads as shredded through from (ErrShredded),
// while a holder of to can still open it. A legal hold on a destroyed
// account uses it (R-LEG-1); destroying to later completes the shredding.
func (k *Keyring) Move(ctx context.Context, from, to string) error {
	if err := checkID(to); err != nil {
		return err
	}
	key, err := k.dataKey(ctx, from)
	if err != nil {
		return err
	}
	k.wrapMu.RLock()
	_, err = k.putNew(ctx, to, key[:])
	k.wrapMu.RUnlock()
	clear(key[:])
	if err != nil {
		return fmt.Errorf("move data key: %w", err)
	}
	return k.Destroy(ctx, from)
}

// Exists reports whether id has a data key. An account row whose key does
// not exist belongs to a destroyed person: the key store is the destruction
// log that a restored data backup is checked against (R-DEL-3).
func (k *Keyring) Exists(ctx context.Context, id string) (bool, error) {
	if err := checkID(id); err != nil {
		return false, err
	}
	k.wrapMu.RLock()
	_, err := k.store.Key(ctx, id)
	k.wrapMu.RUnlock()
	if errors.Is(err, ErrNoKey) {
		return false, nil
	}
	return err == nil, err
}

// Index returns HMAC-SHA256(index key, kind || 0x00 || value): a 32-byte value
// to store and search in a look-up column (phone number, username) instead of
// the plaintext. It is deterministic and survives restarts and Rotate. Callers
// normalize value first (E.164 phone, lower-case username); kind is a constant
// such as "phone" and must not contain NUL.
func (k *Keyring) Index(kind, value string) []byte {
	m := hmac.New(sha256.New, k.index)
	io.WriteString(m, kind)
	m.Write([]byte{0})
	io.WriteString(m, value)
	return m.Sum(nil)
}

// Indexes returns Index(kind, v) for each of values. One keyed state serves
// them all: HMAC's key is absorbed once instead of once per value, which
// halves the hashing of the search index's tokens (issue 17).
func (k *Keyring) Indexes(kind string, values []string) [][]byte {
	m := hmac.New(sha256.New, k.index)
	out := make([][]byte, len(values))
	buf := make([]byte, 0, len(values)*sha256.Size)
	for i, v := range values {
		m.Reset()
		io.WriteString(m, kind)
		m.Write([]byte{0})
		io.WriteString(m, v)
		buf = m.Sum(buf)
		out[i] = buf[len(buf)-sha256.Size : len(buf) : len(buf)]
	}
	return out
}

// Rotate re-wraps every stored key, data keys and the index key, under
// newMaster and then makes newMaster the master key of k. Data keys do not
// change, so sealed data and Index values stay valid.
//
// Run it from a command while no other process uses the key store: another
// process would keep wrapping new keys under the old master. Make newMaster
// the configured master key only after Rotate has returned nil. If Rotate
// fails part-way, nothing is lost: k keeps the old master but can still
// unwrap the keys already re-wrapped, and running Rotate again with the same
// newMaster finishes the job.
func (k *Keyring) Rotate(ctx context.Context, newMaster []byte) error {
	next, err := newAEAD(newMaster)
	if err != nil {
		return fmt.Errorf("rotate master key: new master key: %w", err)
	}
	k.wrapMu.Lock()
	defer k.wrapMu.Unlock()
	err = k.store.EachKey(ctx, func(id string, wrapped []byte) error {
		ad := wrapAD(id)
		key, err := k.unwrap(id, wrapped)
		if err != nil {
			if plain, err2 := openWith(next, wrapped, ad); err2 == nil {
				clear(plain)
				return nil // re-wrapped by an earlier, interrupted Rotate
			}
			return err
		}
		rewrapped := sealWith(next, key[:], ad)
		clear(key[:])
		return k.replace(ctx, id, rewrapped)
	})
	if err != nil {
		k.others = append(k.others, next)
		return fmt.Errorf("rotate master key (run it again with the same new key to finish): %w", err)
	}
	k.master = next
	k.others = nil
	return nil
}

// replace stores a re-wrapped key, but never brings back one deleted since
// EachKey read it (when the store can tell). The caller holds wrapMu.
func (k *Keyring) replace(ctx context.Context, id string, wrapped []byte) error {
	if k.cond != nil {
		_, err := k.cond.replaceKey(ctx, id, wrapped)
		return err
	}
	return k.store.PutKey(ctx, id, wrapped)
}

// CacheStats reports how many key look-ups the cache answered (hits) and how
// many went to the store (misses), and how many keys it holds now.
func (k *Keyring) CacheStats() (hits, misses uint64, size int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.hits, k.misses, k.lru.Len()
}

// dataKey returns a copy of the unwrapped data key of id, from the cache or
// from the store; the caller clears it after use.
func (k *Keyring) dataKey(ctx context.Context, id string) ([keySize]byte, error) {
	k.mu.Lock()
	if el, ok := k.items[id]; ok {
		e := el.Value.(*cacheEntry)
		if k.now().Before(e.expires) {
			k.hits++
			k.lru.MoveToFront(el)
			key := e.key
			k.mu.Unlock()
			return key, nil
		}
		k.evict(el)
	}
	k.misses++
	gen := k.gen
	k.mu.Unlock()

	// Two Opens missing together both load the key; that costs a query and
	// is harmless.
	k.wrapMu.RLock()
	wrapped, err := k.store.Key(ctx, id)
	var key [keySize]byte
	if err == nil {
		key, err = k.unwrap(id, wrapped)
	}
	k.wrapMu.RUnlock()
	if errors.Is(err, ErrNoKey) {
		return key, ErrShredded
	}
	if err != nil {
		return key, err
	}

	k.mu.Lock()
	// A Destroy since the load began may have deleted this very key: then it
	// must not go into the cache, where it would outlive its deletion.
	if k.gen == gen {
		k.cachePut(id, &key)
	}
	k.mu.Unlock()
	return key, nil
}

// unwrap opens a wrapped key under the master key, or under the new master of
// an unfinished Rotate. The caller holds wrapMu, or is New.
func (k *Keyring) unwrap(id string, wrapped []byte) ([keySize]byte, error) {
	var key [keySize]byte
	ad := wrapAD(id)
	plain, err := openWith(k.master, wrapped, ad)
	for i := 0; err != nil && i < len(k.others); i++ {
		plain, err = openWith(k.others[i], wrapped, ad)
	}
	if err != nil {
		return key, fmt.Errorf("unwrap key %q: %w: %w", id, ErrCorrupt, err)
	}
	defer clear(plain)
	if len(plain) != keySize {
		return key, fmt.Errorf("unwrap key %q: %w: %d bytes, want %d", id, ErrCorrupt, len(plain), keySize)
	}
	copy(key[:], plain)
	return key, nil
}

// cachePut adds or refreshes the key of id and evicts the least recently used
// keys beyond the bound. The caller holds mu.
func (k *Keyring) cachePut(id string, key *[keySize]byte) {
	expires := k.now().Add(k.ttl)
	if el, ok := k.items[id]; ok {
		e := el.Value.(*cacheEntry)
		e.key = *key
		e.expires = expires
		k.lru.MoveToFront(el)
		return
	}
	k.items[id] = k.lru.PushFront(&cacheEntry{id: id, key: *key, expires: expires})
	for k.lru.Len() > k.capacity {
		k.evict(k.lru.Back())
	}
}

// evict removes an entry from the cache and zeroes its key. The caller holds
// mu; readers copy keys out under mu, so none is using these bytes.
func (k *Keyring) evict(el *list.Element) {
	e := k.lru.Remove(el).(*cacheEntry)
	delete(k.items, e.id)
	clear(e.key[:])
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != keySize {
		return nil, fmt.Errorf("%d bytes, want %d", len(key), keySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(block)
}

func wrapAD(id string) []byte { return []byte(wrapADPrefix + id) }

// sealWith encrypts under aead, which generates the nonce and prepends it.
func sealWith(aead cipher.AEAD, plaintext, ad []byte) []byte {
	out := make([]byte, 1, sealOverhead+len(plaintext))
	out[0] = sealVersion
	return aead.Seal(out, nil, plaintext, ad)
}

func openWith(aead cipher.AEAD, sealed, ad []byte) ([]byte, error) {
	if err := checkSealed(sealed); err != nil {
		return nil, err
	}
	return aead.Open(nil, nil, sealed[1:], ad)
}

func checkSealed(sealed []byte) error {
	if len(sealed) < sealOverhead {
		return fmt.Errorf("%d bytes, shorter than the %d-byte minimum", len(sealed), sealOverhead)
	}
	if sealed[0] != sealVersion {
		return fmt.Errorf("unknown format version %d", sealed[0])
	}
	return nil
}

// checkID accepts the ids callers may use: 1 to 256 bytes of UTF-8 without
// control characters, which keeps them storable in every Store and apart
// from the reserved ids, which start with NUL.
func checkID(id string) error {
	if id == "" || len(id) > maxIDLen || !utf8.ValidString(id) {
		return fmt.Errorf("keyring: invalid id %q", id)
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("keyring: invalid id %q", id)
		}
	}
	return nil
}
