package tus

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseUint(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"7", 7, true},
		{"0010", 10, true},
		{"1234567890", 1234567890, true},
		{"9223372036854775807", 1<<63 - 1, true},
		{"9223372036854775808", 0, false},
		{"9999999999999999999", 0, false},
		{"10000000000000000000", 0, false},
		{"00000000000000000001", 0, false}, // 20 characters
		{"", 0, false},
		{"-1", 0, false},
		{"+5", 0, false},
		{" 5", 0, false},
		{"5 ", 0, false},
		{"5\t", 0, false},
		{"abc", 0, false},
		{"1e3", 0, false},
		{"0x10", 0, false},
		{"1_000", 0, false},
		{"1,000", 0, false},
		{"٣", 0, false}, // Arabic-Indic digit three
		{"３", 0, false}, // full-width three
	}
	for _, tt := range tests {
		got, ok := parseUint(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseUint(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseMetadata(t *testing.T) {
	tests := []struct {
		in   string
		want MetaData
		err  bool
	}{
		{"", nil, false},
		{"   ", nil, false},
		{"filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==", MetaData{"filename": "world_domination_plan.pdf"}, false},
		{"a YQ==,b Yg==,c", MetaData{"a": "a", "b": "b", "c": ""}, false},
		{" a YQ== , b\tYg== ", nil, true}, // a tab does not separate key and value
		{" a YQ== ,\tb Yg==\t", MetaData{"a": "a", "b": "b"}, false},
		{"a YQ", MetaData{"a": "a"}, false}, // unpadded
		{"a ", MetaData{"a": ""}, false},    // trailing space after key
		{"a 4pyTIMOgIGxhIG1vZGU=", MetaData{"a": "✓ à la mode"}, false},
		{"a AAE=", MetaData{"a": "\x00\x01"}, false},
		{"k\x7f YQ==", nil, true},
		{"ké YQ==", nil, true},
		{",", nil, true},
		{"a YQ==,", nil, true},
		{",a YQ==", nil, true},
		{"a YQ==,a Yg==", nil, true},
		{"a YQ== Yg==", nil, true},
		{"a !!!", nil, true},
		{"a Y", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseMetadata(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("ParseMetadata(%q) error = %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidMetadata) {
				t.Errorf("ParseMetadata(%q) error %v is not ErrInvalidMetadata", tt.in, err)
			}
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseMetadata(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestEncodeMetadata(t *testing.T) {
	tests := []struct {
		in   MetaData
		want string
	}{
		{nil, ""},
		{MetaData{}, ""},
		{MetaData{"b": "b", "a": "a", "empty": ""}, "a YQ==,b Yg==,empty"},
		{MetaData{"filename": "résumé.pdf"}, "filename csOpc3Vtw6kucGRm"},
	}
	for _, tt := range tests {
		got := EncodeMetadata(tt.in)
		if got != tt.want {
			t.Errorf("EncodeMetadata(%v) = %q, want %q", tt.in, got, tt.want)
		}
		back, err := ParseMetadata(got)
		if err != nil {
			t.Errorf("ParseMetadata(EncodeMetadata(%v)): %v", tt.in, err)
		}
		if len(tt.in) > 0 && !reflect.DeepEqual(back, tt.in) {
			t.Errorf("round trip of %v gave %v", tt.in, back)
		}
	}
}

// testOwn is the server the parseConcat tests run on: h.example, uploads
// under /files/.
var testOwn = ownURLs{hosts: [3]string{"h.example"}, path: "/files/"}

func TestParseConcat(t *testing.T) {
	tests := []struct {
		in   string
		kind concatKind
		ids  []string
		err  bool
	}{
		{"", concatNone, nil, false},
		{"  ", concatNone, nil, false},
		{"partial", concatPartial, nil, false},
		{" partial ", concatPartial, nil, false},
		{"final;/files/a /files/b", concatFinal, []string{"a", "b"}, false},
		{"final;http://h.example/files/a https://H.Example:443/files/b/", concatFinal, []string{"a", "b"}, false},
		{"final;http://h.example:80/files/a //h.example/files/b", concatFinal, []string{"a", "b"}, false},
		{"final;/files/x/../a", concatFinal, []string{"a"}, false},
		// Only this server's upload URLs name partials (issue 14, item 8):
		// another host, another port, another path, another scheme.
		{"final;http://h.example/files/a https://x.example:8080/up/b/", concatNone, nil, true},
		{"final;http://h.example:8080/files/a", concatNone, nil, true},
		{"final;http://evil.example/files/a", concatNone, nil, true},
		{"final;//evil.example/files/a", concatNone, nil, true},
		{"final;/up/a", concatNone, nil, true},
		{"final;/files/sub/a", concatNone, nil, true},
		{"final;/a", concatNone, nil, true},
		{"final;ftp://h.example/files/a", concatNone, nil, true},
		{"final;http://u:p@h.example/files/a", concatNone, nil, true},
		{"final;/files/a%2Fb", concatNone, nil, true},
		{"final;/files/%2e%2e/a", concatNone, nil, true},
		{"final;mailto:a", concatNone, nil, true},
		{"final; a  b\tc", concatFinal, []string{"a", "b", "c"}, false},
		{"final;/files/a?x=1#frag", concatFinal, []string{"a"}, false},
		{"final;", concatNone, nil, true},
		{"final;   ", concatNone, nil, true},
		{"final;/files/a.b", concatNone, nil, true},
		{"final;/files/a /files/..", concatNone, nil, true},
		{"final;%zz", concatNone, nil, true},
		{"final;" + "/files/" + strings.Repeat("a", 129), concatNone, nil, true},
		{"Partial", concatNone, nil, true},
		{"final /files/a", concatNone, nil, true},
		{"partial;", concatNone, nil, true},
		{"finale;/files/a", concatNone, nil, true},
	}
	for _, tt := range tests {
		kind, ids, err := parseConcat(tt.in, testOwn)
		if (err != nil) != tt.err {
			t.Errorf("parseConcat(%q) error = %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if err != nil && !errors.Is(err, ErrInvalidConcat) {
			t.Errorf("parseConcat(%q) error %v is not ErrInvalidConcat", tt.in, err)
		}
		if kind != tt.kind || !reflect.DeepEqual(ids, tt.ids) {
			t.Errorf("parseConcat(%q) = %v, %q; want %v, %q", tt.in, kind, ids, tt.kind, tt.ids)
		}
	}
}

func TestIsOffsetOctetStream(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/offset+octet-stream":               true,
		"Application/Offset+Octet-Stream":               true,
		" application/offset+octet-stream ; charset=x ": true,
		"application/octet-stream":                      false,
		"application/offset+octet-streams":              false,
		"":                                              false,
		"text/plain; application/offset+octet-stream":   false,
	} {
		if got := isOffsetOctetStream(ct); got != want {
			t.Errorf("isOffsetOctetStream(%q) = %v, want %v", ct, got, want)
		}
	}
}

func TestFormatExpires(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 999, time.FixedZone("CET", 3600))
	if got, want := formatExpires(at), "Wed, 02 Jan 2030 02:04:05 GMT"; got != want {
		t.Errorf("formatExpires = %q, want %q", got, want)
	}
}

func TestErrorMatching(t *testing.T) {
	wrapped := errors.Join(errors.New("ctx"), ErrNotFound.WithMessage("gone"))
	if !errors.Is(wrapped, ErrNotFound) {
		t.Error("a copy WithMessage does not match its sentinel")
	}
	if errors.Is(wrapped, ErrUploadGone) {
		t.Error("ErrNotFound matches ErrUploadGone")
	}
	if e := asError(wrapped); e == nil || e.Status != 404 || e.Message != "gone" {
		t.Errorf("asError = %+v", e)
	}
	if asError(errors.New("plain")) != nil {
		t.Error("asError of a plain error is not nil")
	}
	if got := ErrNotFound.Error(); got != "ERR_UPLOAD_NOT_FOUND: upload not found" {
		t.Errorf("Error() = %q", got)
	}
	// Every sentinel is a one-line "CODE: message" with a sane status.
	for _, e := range []*Error{ErrNotFound, ErrUploadExists, ErrInvalidID, ErrUnsupportedVersion,
		ErrMethodNotAllowed, ErrInvalidContentType, ErrInvalidOffset, ErrMismatchOffset,
		ErrInvalidUploadLength, ErrInvalidUploadDeferLength, ErrUploadLengthAlreadySet,
		ErrInvalidMetadata, ErrMaxSizeExceeded, ErrSizeExceeded, ErrUploadGone, ErrLockTimeout,
		ErrUploadInterrupted, ErrReadTimeout, ErrUploadStopped, ErrChecksumMismatch,
		ErrUnsupportedChecksumAlgorithm, ErrInvalidChecksum, ErrInvalidConcat, ErrModifyFinal,
		ErrUploadNotFinished, ErrNotImplemented, ErrAccessDenied, ErrInternal} {
		if e.Status < 400 || e.Status > 599 || !strings.HasPrefix(e.Code, "ERR_") || e.Message == "" ||
			strings.ContainsAny(e.Error(), "\r\n") {
			t.Errorf("bad sentinel %+v", e)
		}
	}
}

func TestFileInfoState(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name     string
		info     FileInfo
		complete bool
		expired  bool
	}{
		{"empty known", FileInfo{Size: 0}, true, false},
		{"deferred", FileInfo{SizeIsDeferred: true}, false, false},
		{"half", FileInfo{Size: 10, Offset: 5}, false, false},
		{"half, expired", FileInfo{Size: 10, Offset: 5, ExpiresAt: now.Add(-time.Second)}, false, true},
		{"half, expires later", FileInfo{Size: 10, Offset: 5, ExpiresAt: now.Add(time.Second)}, false, false},
		{"done, past expiry", FileInfo{Size: 10, Offset: 10, ExpiresAt: now.Add(-time.Second)}, true, false},
	}
	for _, tt := range tests {
		if got := tt.info.IsComplete(); got != tt.complete {
			t.Errorf("%s: IsComplete = %v", tt.name, got)
		}
		if got := tt.info.IsExpired(now); got != tt.expired {
			t.Errorf("%s: IsExpired = %v", tt.name, got)
		}
	}
}

func TestParseConcatLimits(t *testing.T) {
	if _, ids, err := parseConcat("final;/files/a /files/b /files/a", testOwn); err != nil || strings.Join(ids, " ") != "a b a" {
		t.Errorf("a partial named twice: ids %q, %v; want a b a (tus 1.0 allows it)", ids, err)
	}
	var b strings.Builder
	b.WriteString("final;")
	for i := range MaxPartialUploads + 1 {
		fmt.Fprintf(&b, "/files/p%d ", i)
	}
	if _, _, err := parseConcat(b.String(), testOwn); err == nil {
		t.Errorf("more than %d partials were accepted", MaxPartialUploads)
	}
	if _, ids, err := parseConcat(strings.TrimSuffix(b.String(), fmt.Sprintf("/files/p%d ", MaxPartialUploads)), testOwn); err != nil || len(ids) != MaxPartialUploads {
		t.Errorf("exactly %d partials: %d ids, %v", MaxPartialUploads, len(ids), err)
	}
}
