package s3store

import "testing"

func TestScheduleConsistent(t *testing.T) {
	o, err := Options{Bucket: "b"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []schedule{fixedSchedule(o, 1<<40), deferredSchedule(o), {Base: 7, Block: 3}} {
		var off int64
		for n := 1; n <= 40; n++ {
			if got := s.start(n); got != off {
				t.Fatalf("%+v: start(%d) = %d, want %d", s, n, got, off)
			}
			if got := s.partOf(off); got != n {
				t.Fatalf("%+v: partOf(%d) = %d, want %d", s, off, got, n)
			}
			if got := s.partOf(off + s.size(n) - 1); got != n {
				t.Fatalf("%+v: partOf(end of %d) = %d", s, n, got)
			}
			off += s.size(n)
		}
	}
}

func TestDeferredScheduleReachesMaxObjectSize(t *testing.T) {
	for _, maxParts := range []int{10000, 1000, 16, 3} {
		o, err := Options{Bucket: "b", MaxParts: maxParts, MaxObjectSize: int64(maxParts) * (1 << 30)}.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		s := deferredSchedule(o)
		if got := s.capacity(o.MaxParts); got < o.MaxObjectSize {
			t.Errorf("MaxParts %d: capacity %d < MaxObjectSize %d", maxParts, got, o.MaxObjectSize)
		}
		if s.size(1) < o.MinPartSize || s.size(o.MaxParts) > o.MaxPartSize {
			t.Errorf("MaxParts %d: part sizes %d..%d outside limits", maxParts, s.size(1), s.size(o.MaxParts))
		}
	}
	o, _ := Options{Bucket: "b"}.withDefaults()
	if s := deferredSchedule(o); s.Base < o.PartSize || s.Base > 2*o.PartSize || s.Block == 0 {
		t.Errorf("default deferred schedule %+v should start at the preferred part size and grow", s)
	}
	o.EqualParts = true
	if s := deferredSchedule(o); s.Block != 0 || s.capacity(o.MaxParts) < o.MaxObjectSize {
		t.Errorf("EqualParts deferred schedule %+v", s)
	}
}

func TestFixedScheduleRespectsMaxParts(t *testing.T) {
	o, _ := Options{Bucket: "b", MaxParts: 1000}.withDefaults()
	size := int64(1000)*o.PartSize + 1
	s := fixedSchedule(o, size)
	if got := s.partOf(size - 1); got > 1000 {
		t.Errorf("last byte in part %d > 1000", got)
	}
}
