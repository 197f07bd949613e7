package store

import (
	"context"
	"encoding/binary"
	"errors"
	"slices"
)

// The search index's storage shape (issue 17, fifth pass). An indexer pass
// writes one batch: search_batches holds the batch's messages in one row
// (conversation, seq and time of each, an item number being its place in
// that list), and search_postings one row per token the batch holds, with
// the item numbers of the batch's messages that hold it. A pass of 1,000
// messages sharing most of their words thus writes ~1,000 posting rows
// instead of ~20,000 token rows (one per word and prefix and message),
// which were 18 % of a sent message's CPU. search_message_tokens keeps, per
// indexed message, its batch, item and token keys, so that removing a
// message rewrites just the posting lists it is in and leaves no trace of
// it: its item becomes an empty entry in the batch, and its number leaves
// every list (a list left empty is deleted, as is a batch left empty).

// errBadPostings is a posting list or batch that does not decode: the
// index file was damaged (its rows are derived, and the store's check
// rebuilds it).
var errBadPostings = errors.New("store: search index entry does not decode")

// batchItem is one message of an index batch; the zero value marks a
// message removed from the index.
type batchItem struct {
	conv    string
	seq, at int64
}

func (it batchItem) removed() bool { return it.conv == "" }

// appendBatchItem appends it to a batch's encoding: the conversation id's
// length and bytes, the seq, and the time in microseconds.
func appendBatchItem(b []byte, it batchItem) []byte {
	b = binary.AppendUvarint(b, uint64(len(it.conv)))
	b = append(b, it.conv...)
	b = binary.AppendUvarint(b, uint64(it.seq))
	return binary.AppendVarint(b, it.at)
}

func encodeBatch(items []batchItem) []byte {
	b := make([]byte, 0, 40*len(items))
	for _, it := range items {
		b = appendBatchItem(b, it)
	}
	return b
}

func decodeBatch(b []byte) ([]batchItem, error) {
	var out []batchItem
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return nil, errBadPostings
		}
		it := batchItem{conv: string(b[k : k+int(n)])}
		b = b[k+int(n):]
		seq, k := binary.Uvarint(b)
		if k <= 0 {
			return nil, errBadPostings
		}
		it.seq, b = int64(seq), b[k:]
		if it.at, k = binary.Varint(b); k <= 0 {
			return nil, errBadPostings
		}
		out = append(out, it)
		b = b[k:]
	}
	return out, nil
}

// encodeItems encodes ascending item numbers as their differences.
func encodeItems(items []int) []byte {
	b := make([]byte, 0, len(items)+1)
	prev := 0
	for i, it := range items {
		d := it - prev
		if i == 0 {
			d = it
		}
		b = binary.AppendUvarint(b, uint64(d))
		prev = it
	}
	return b
}

func decodeItems(b []byte) ([]int, error) {
	var out []int
	prev := 0
	for len(b) > 0 {
		d, k := binary.Uvarint(b)
		if k <= 0 || d > 1<<30 {
			return nil, errBadPostings
		}
		if len(out) > 0 {
			if d == 0 {
				return nil, errBadPostings
			}
			d += uint64(prev)
		}
		prev = int(d)
		out = append(out, prev)
		b = b[k:]
	}
	return out, nil
}

// intersectItems returns the numbers in both ascending lists.
func intersectItems(a, b []int) []int {
	out := a[:0]
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// withoutItems returns list without the numbers in gone.
func withoutItems(list []int, gone map[int]bool) []int {
	return slices.DeleteFunc(list, func(it int) bool { return gone[it] })
}

// DecodeIndexBatch and DecodeIndexItems expose the encodings to tests
// outside the package (the e2e suites read the index files directly).
func DecodeIndexBatch(b []byte) (convs []string, seqs []int64, err error) {
	items, err := decodeBatch(b)
	for _, it := range items {
		convs, seqs = append(convs, it.conv), append(seqs, it.seq)
	}
	return convs, seqs, err
}

// DecodeIndexItems decodes a posting list's item numbers.
func DecodeIndexItems(b []byte) ([]int, error) { return decodeItems(b) }

// IndexSize counts the index's batches, posting lists and indexed
// messages (what an operator's stats and the conformance tests read).
func (q *Queries) IndexSize(ctx context.Context) (batches, lists, msgs int64, err error) {
	err = q.row(ctx, `SELECT (SELECT COUNT(*) FROM search_batches), (SELECT COUNT(*) FROM search_postings), (SELECT COUNT(*) FROM search_message_tokens)`).Scan(&batches, &lists, &msgs)
	return batches, lists, msgs, err
}
