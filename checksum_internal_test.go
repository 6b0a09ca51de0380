package tus

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseChecksum(t *testing.T) {
	sha1Of := func(s string) string {
		sum := sha1.Sum([]byte(s))
		return base64.StdEncoding.EncodeToString(sum[:])
	}
	tests := []struct {
		in   string
		alg  string
		size int
		err  error
	}{
		{"sha1 " + sha1Of("x"), "sha1", 20, nil},
		{"SHA1 " + sha1Of("x"), "sha1", 20, nil},
		{" sha1  " + sha1Of("x") + " ", "sha1", 20, nil},
		{"md5 " + base64.StdEncoding.EncodeToString(make([]byte, 16)), "md5", 16, nil},
		{"sha256 " + base64.StdEncoding.EncodeToString(make([]byte, 32)), "sha256", 32, nil},
		{"sha512 " + base64.StdEncoding.EncodeToString(make([]byte, 64)), "sha512", 64, nil},
		{"crc32 AAAAAA==", "crc32", 4, nil},
		{"crc32c AAAAAA==", "", 0, ErrUnsupportedChecksumAlgorithm},
		{"sha3 " + sha1Of("x"), "", 0, ErrUnsupportedChecksumAlgorithm},
		{strings.Repeat("x", 1000) + " AAAA", "", 0, ErrUnsupportedChecksumAlgorithm},
		{"", "", 0, ErrInvalidChecksum},
		{"sha1", "", 0, ErrInvalidChecksum},
		{" " + sha1Of("x"), "", 0, ErrInvalidChecksum},
		{"sha1 " + sha1Of("x")[:20], "", 0, ErrInvalidChecksum},
		{"sha1 " + strings.TrimRight(sha1Of("x"), "="), "", 0, ErrInvalidChecksum},
		{"sha1 " + base64.URLEncoding.EncodeToString([]byte{0xfb, 0xff, 0xfe, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}), "", 0, ErrInvalidChecksum},
		{"md5 " + sha1Of("x"), "", 0, ErrInvalidChecksum}, // wrong size for md5
	}
	for _, tt := range tests {
		c, err := parseChecksum(tt.in)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("parseChecksum(%.40q) error = %v, want %v", tt.in, err, tt.err)
			}
			if err != nil && len(err.Error()) > 300 {
				t.Errorf("parseChecksum error message is %d bytes long", len(err.Error()))
			}
			continue
		}
		if err != nil {
			t.Errorf("parseChecksum(%q): %v", tt.in, err)
			continue
		}
		if c.alg != tt.alg || len(c.sum) != tt.size || c.hash == nil || c.hash.Size() != tt.size {
			t.Errorf("parseChecksum(%q) = %s/%d bytes", tt.in, c.alg, len(c.sum))
		}
	}
}

func TestVerifyingReader(t *testing.T) {
	sum := sha1.Sum([]byte("hello"))
	good := "sha1 " + base64.StdEncoding.EncodeToString(sum[:])
	req := func(header string, trailer http.Header) *http.Request {
		r, _ := http.NewRequest(http.MethodPatch, "/", nil)
		if header != "" {
			r.Header.Set("Upload-Checksum", header)
		}
		r.Trailer = trailer
		return r
	}
	t.Run("no checksum returns the body itself", func(t *testing.T) {
		body := strings.NewReader("hello")
		got, err := newVerifyingReader(body, req("", nil))
		if err != nil || got != io.Reader(body) {
			t.Errorf("newVerifyingReader = %v, %v; want the body unchanged", got, err)
		}
	})
	t.Run("header match", func(t *testing.T) {
		v, err := newVerifyingReader(iotest.OneByteReader(strings.NewReader("hello")), req(good, nil))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(v)
		if err != nil || string(b) != "hello" {
			t.Errorf("ReadAll = %q, %v", b, err)
		}
	})
	t.Run("header mismatch", func(t *testing.T) {
		v, _ := newVerifyingReader(strings.NewReader("hellO"), req(good, nil))
		_, err := io.ReadAll(v)
		if !errors.Is(err, ErrChecksumMismatch) || !errors.Is(err, ErrDiscardChunk) || asError(err) == nil || asError(err).Status != 460 {
			t.Errorf("error = %v, want a 460 discard error", err)
		}
	})
	t.Run("body error is a discard", func(t *testing.T) {
		v, _ := newVerifyingReader(io.MultiReader(strings.NewReader("he"), iotest.ErrReader(ErrReadTimeout)), req(good, nil))
		_, err := io.ReadAll(v)
		if !errors.Is(err, ErrDiscardChunk) || errors.Is(err, ErrChecksumMismatch) {
			t.Errorf("error = %v, want the discard signal and not a checksum mismatch", err)
		}
		if e := asError(err); e == nil || e.Status != 408 {
			t.Errorf("status of %v = %+v, want the cause's 408", err, e)
		}
	})
	t.Run("trailer", func(t *testing.T) {
		tr := http.Header{"Upload-Checksum": nil}
		r := req("", tr)
		v, err := newVerifyingReader(strings.NewReader("hello"), r)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 3)
		if _, err := io.ReadFull(v, buf); err != nil {
			t.Fatal(err)
		}
		tr.Set("Upload-Checksum", good) // trailers arrive with the end of the body
		rest, err := io.ReadAll(v)
		if err != nil || string(buf)+string(rest) != "hello" {
			t.Errorf("trailer verification: %q, %v", rest, err)
		}
	})
	t.Run("DiscardChunk", func(t *testing.T) {
		err := DiscardChunk(ErrSizeExceeded)
		if !errors.Is(err, ErrDiscardChunk) || !errors.Is(err, ErrSizeExceeded) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrChecksumMismatch) {
			t.Errorf("DiscardChunk matching is wrong: %v", err)
		}
		if e := asError(err); e == nil || e.Status != ErrSizeExceeded.Status {
			t.Errorf("DiscardChunk(ErrSizeExceeded) answers %+v, want its cause's status", e)
		}
		if err.Error() != ErrSizeExceeded.Error() {
			t.Errorf("DiscardChunk(...).Error() = %q", err.Error())
		}
		if !errors.Is(ErrChecksumMismatch.WithMessage("x"), ErrDiscardChunk) || errors.Is(ErrSizeExceeded, ErrDiscardChunk) {
			t.Error("only ErrChecksumMismatch, with any message, of the protocol errors matches ErrDiscardChunk")
		}
	})
}
