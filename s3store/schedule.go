package s3store

// schedule fixes the size of every part of an upload, so that any process can
// tell where part n starts and whether a listed part is whole. It is chosen
// at creation and stored in the info object.
//
// With Block zero every part has Base bytes. Otherwise the parts come in
// blocks of Block parts, and each block's parts are twice the size of the
// previous block's: a deferred-length upload starts with small parts and can
// still grow to the maximum object size within the part-count limit.
type schedule struct {
	Base  int64 `json:"Base"`
	Block int   `json:"Block,omitempty"`
}

// maxDoublings bounds how often a growing schedule doubles its part size.
const maxDoublings = 8

// size returns the size of part n (1-based).
func (s schedule) size(n int) int64 {
	if s.Block == 0 {
		return s.Base
	}
	return s.Base << uint((n-1)/s.Block)
}

// start returns the offset of the first byte of part n (1-based).
func (s schedule) start(n int) int64 {
	if s.Block == 0 {
		return int64(n-1) * s.Base
	}
	k := (n - 1) / s.Block
	// Blocks 0..k-1 hold Block parts each of Base, 2*Base, ...
	return s.Base*int64(s.Block)*((int64(1)<<uint(k))-1) + int64((n-1)%s.Block)*(s.Base<<uint(k))
}

// capacity returns how many bytes parts 1..maxParts hold.
func (s schedule) capacity(maxParts int) int64 {
	return s.start(maxParts + 1)
}

// fixedSchedule returns the schedule of an upload of known size: parts of
// the preferred size, or larger where that would need too many parts.
func fixedSchedule(o Options, size int64) schedule {
	base := o.PartSize
	if need := ceilDiv(size, int64(o.MaxParts)); need > base {
		base = need
	}
	return schedule{Base: base}
}

// deferredSchedule returns the schedule of an upload whose size is not known
// yet: it must reach MaxObjectSize within MaxParts parts.
func deferredSchedule(o Options) schedule {
	if !o.EqualParts && o.MaxParts >= 2*maxDoublings {
		block := o.MaxParts / maxDoublings
		blocks := o.MaxParts / block // parts beyond blocks*block are not used
		// capacity = Base*block*(2^blocks - 1) >= MaxObjectSize
		per := int64(block) * ((int64(1) << uint(blocks)) - 1)
		base := o.PartSize
		if need := ceilDiv(o.MaxObjectSize, per); need > base {
			base = need
		}
		s := schedule{Base: base, Block: block}
		if s.size(blocks*block) <= o.MaxPartSize {
			return s
		}
	}
	return fixedSchedule(o, o.MaxObjectSize)
}

// partOf returns the number of the part that holds offset off.
func (s schedule) partOf(off int64) int {
	if s.Block == 0 {
		return int(off/s.Base) + 1
	}
	n := 1
	for k := 0; ; k++ {
		blockBytes := (s.Base << uint(k)) * int64(s.Block)
		if off < blockBytes {
			return n + int(off/(s.Base<<uint(k)))
		}
		off -= blockBytes
		n += s.Block
	}
}

func ceilDiv(a, b int64) int64 {
	if a <= 0 {
		return 0
	}
	return (a-1)/b + 1
}
