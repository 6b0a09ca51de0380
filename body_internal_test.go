package tus

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

// Progress counts only bytes the store took: those of reads that returned
// before, never those of the read in progress, which a store may still
// drop.
func TestBodyReaderProgressCountsTakenBytes(t *testing.T) {
	r := httptest.NewRequest("PATCH", "/x", strings.NewReader(strings.Repeat("x", 100)))
	br := newBodyReader(httptest.NewRecorder(), r, -1, 0)
	var taken int64
	var reports []int64
	br.onProgress = func(read int64) {
		if read > taken {
			t.Errorf("progress %d while the store has taken %d bytes", read, taken)
		}
		reports = append(reports, read)
	}
	p := make([]byte, 7)
	for {
		n, err := br.Read(p)
		taken += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(reports) == 0 || reports[len(reports)-1] != 100 {
		t.Errorf("progress reports %v, want them to reach 100", reports)
	}
}

// For an IETF request, content past a known length keeps the bytes up to
// it (the store sees a plain ErrSizeExceeded); for tus the chunk is dropped.
func TestBodyReaderOverflow(t *testing.T) {
	for _, keep := range []bool{false, true} {
		r := httptest.NewRequest("PATCH", "/x", strings.NewReader("abcdef"))
		br := newBodyReader(httptest.NewRecorder(), r, 4, 0)
		br.keepToLimit = keep
		got, err := io.ReadAll(br)
		if string(got) != "abcd" {
			t.Errorf("keep %v: read %q, want abcd", keep, got)
		}
		_, dropped := err.(*discardError)
		if dropped == keep || err == nil {
			t.Errorf("keep %v: error %v (%T)", keep, err, err)
		}
	}
}
