package store

import (
	"slices"
	"testing"
)

// Issue 17, R-MSG-6: a batch and its posting lists decode to what was
// written, removed entries included, and lists intersect as sets.
func TestPostingsRoundTrip(t *testing.T) {
	items := []batchItem{{"c1", 1, 1700000000000000}, {}, {"群组-2", 1 << 40, -5}, {"c1", 2, 0}}
	got, err := decodeBatch(encodeBatch(items))
	if err != nil || !slices.Equal(got, items) {
		t.Fatalf("batch round trip = %v, %v; want %v", got, err, items)
	}
	for _, l := range [][]int{nil, {0}, {3}, {0, 1, 2, 900, 70000}} {
		got, err := decodeItems(encodeItems(l))
		if err != nil || !slices.Equal(got, l) {
			t.Errorf("items round trip of %v = %v, %v", l, got, err)
		}
	}
	if got := intersectItems([]int{1, 3, 5, 7}, []int{0, 3, 4, 7, 9}); !slices.Equal(got, []int{3, 7}) {
		t.Errorf("intersect = %v, want [3 7]", got)
	}
	if got := withoutItems([]int{1, 3, 5}, map[int]bool{3: true, 9: true}); !slices.Equal(got, []int{1, 5}) {
		t.Errorf("without = %v, want [1 5]", got)
	}
}

// A damaged index file is hostile input: its entries fail to decode, never
// panic, and a list never decodes to numbers out of order.
func FuzzDecodePostings(f *testing.F) {
	f.Add(encodeBatch([]batchItem{{"c", 1, 2}}))
	f.Add(encodeItems([]int{0, 5, 9}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{0x05, 'a'})
	f.Fuzz(func(t *testing.T, b []byte) {
		if items, err := decodeBatch(b); err == nil {
			if again, err := decodeBatch(encodeBatch(items)); err != nil || !slices.Equal(again, items) {
				t.Fatalf("batch %x decoded to %v, which re-encodes to %v, %v", b, items, again, err)
			}
		}
		if l, err := decodeItems(b); err == nil && !slices.IsSorted(l) {
			t.Fatalf("items %x decoded out of order: %v", b, l)
		} else if err == nil && len(slices.Compact(slices.Clone(l))) != len(l) {
			t.Fatalf("items %x decoded with repeats: %v", b, l)
		}
	})
}
