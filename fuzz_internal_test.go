package tus

import (
	"encoding/base64"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func FuzzParseUint(f *testing.F) {
	for _, s := range []string{"0", "42", "-1", "+5", "abc", "", " 1", "9223372036854775807",
		"9223372036854775808", "99999999999999999999", "0000000000000000001", "1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := parseUint(s)
		digits := s != "" && strings.Trim(s, "0123456789") == ""
		ref, err := strconv.ParseInt(s, 10, 64)
		wantOK := digits && len(s) <= 19 && err == nil
		if ok != wantOK {
			t.Fatalf("parseUint(%q) ok = %v, want %v", s, ok, wantOK)
		}
		if !ok {
			if n != 0 {
				t.Fatalf("parseUint(%q) = %d with ok false", s, n)
			}
			return
		}
		if n != ref || n < 0 {
			t.Fatalf("parseUint(%q) = %d, want %d", s, n, ref)
		}
	})
}

func FuzzParseChecksum(f *testing.F) {
	for _, s := range []string{
		"sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=", "md5 XrY7u+Ae7tCTyyK7j1rNww==", "crc32 DUoRhQ==",
		"sha256 " + base64.StdEncoding.EncodeToString(make([]byte, 32)), "SHA1 x", "sha1", " ", "",
		"sha512 ===", "sha1  Kq5sNclPz7QV2+lfQIuc6R7oRu0=", "crc32 AAAA\nAA==",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseChecksum(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidChecksum) && !errors.Is(err, ErrUnsupportedChecksumAlgorithm) {
				t.Fatalf("parseChecksum(%q) error %v is not a checksum error", s, err)
			}
			if e := asError(err); e == nil || e.Status != 400 || len(e.Message) > 200 {
				t.Fatalf("parseChecksum(%q) error %+v", s, e)
			}
			return
		}
		if !strings.Contains(","+checksumAlgorithms+",", ","+c.alg+",") {
			t.Fatalf("parseChecksum(%q) accepted algorithm %q", s, c.alg)
		}
		if len(c.sum) != c.hash.Size() {
			t.Fatalf("parseChecksum(%q): digest of %d bytes for %s", s, len(c.sum), c.alg)
		}
		// Re-encoding gives the same checksum.
		c2, err := parseChecksum(c.alg + " " + base64.StdEncoding.EncodeToString(c.sum))
		if err != nil || c2.alg != c.alg || !reflect.DeepEqual(c2.sum, c.sum) {
			t.Fatalf("round trip of %q: %v", s, err)
		}
	})
}

func FuzzParseConcat(f *testing.F) {
	for _, s := range []string{"", "partial", "final;/files/a /files/b", "final;http://x/files/a",
		"final;", "final; ", "final;/files/a.b", "final;%", "final;/files/..%2Fa", "Final;x", "final;\t/a\n/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kind, ids, err := parseConcat(s, testOwn)
		if err != nil {
			if !errors.Is(err, ErrInvalidConcat) {
				t.Fatalf("parseConcat(%q) error %v is not ErrInvalidConcat", s, err)
			}
			if kind != concatNone || ids != nil {
				t.Fatalf("parseConcat(%q) returned %v %q with an error", s, kind, ids)
			}
			if e := asError(err); len(e.Message) > 200 {
				t.Fatalf("error message of %d bytes", len(e.Message))
			}
			return
		}
		switch kind {
		case concatNone:
			if strings.TrimSpace(s) != "" || ids != nil {
				t.Fatalf("parseConcat(%q) = none, %q", s, ids)
			}
		case concatPartial:
			if strings.TrimSpace(s) != "partial" || ids != nil {
				t.Fatalf("parseConcat(%q) = partial, %q", s, ids)
			}
		case concatFinal:
			if len(ids) == 0 {
				t.Fatalf("parseConcat(%q) = final without IDs", s)
			}
			urls := make([]string, len(ids))
			for i, id := range ids {
				if !ValidID(id) {
					t.Fatalf("parseConcat(%q) returned invalid ID %q", s, id)
				}
				urls[i] = "https://h.example/files/" + id
			}
			_, again, err := parseConcat("final;"+strings.Join(urls, " "), testOwn)
			if err != nil || !reflect.DeepEqual(again, ids) {
				t.Fatalf("round trip of %q gave %q, %v", s, again, err)
			}
		}
	})
}
