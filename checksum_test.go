package tus_test

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/tusgo/tus"
)

func digest(alg, data string) string {
	var sum []byte
	switch alg {
	case "md5":
		s := md5.Sum([]byte(data))
		sum = s[:]
	case "sha1":
		s := sha1.Sum([]byte(data))
		sum = s[:]
	case "sha256":
		s := sha256.Sum256([]byte(data))
		sum = s[:]
	case "sha512":
		s := sha512.Sum512([]byte(data))
		sum = s[:]
	case "crc32":
		sum = binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE([]byte(data)))
	default:
		panic(alg)
	}
	return alg + " " + base64.StdEncoding.EncodeToString(sum)
}

func TestChecksumHeader(t *testing.T) {
	const body = "hello world"
	type tc struct {
		name    string
		header  string
		body    io.Reader
		status  int
		code    string
		written bool // WriteChunk is called
		discard bool // and sees the discard signal
		stored  string
	}
	var tests []tc
	for _, alg := range []string{"md5", "sha1", "sha256", "sha512", "crc32"} {
		tests = append(tests,
			tc{name: alg + " match", header: digest(alg, body), status: 204, written: true, stored: body},
			tc{name: alg + " mismatch", header: digest(alg, body+"!"), status: 460, code: "ERR_CHECKSUM_MISMATCH", written: true, discard: true},
			tc{name: alg + " match, chunked", header: digest(alg, body), body: iotest.OneByteReader(strings.NewReader(body)),
				status: 204, written: true, stored: body},
		)
	}
	tests = append(tests,
		tc{name: "upper-case algorithm", header: strings.ToUpper("sha1") + digest("sha1", body)[4:], status: 204, written: true, stored: body},
		tc{name: "extra spaces", header: "  sha1   " + digest("sha1", body)[5:] + " ", status: 204, written: true, stored: body},
		tc{name: "unsupported algorithm", header: "sha3-256 " + base64.StdEncoding.EncodeToString(make([]byte, 32)), status: 400, code: "ERR_UNSUPPORTED_CHECKSUM_ALGORITHM"},
		tc{name: "no digest", header: "sha1", status: 400, code: "ERR_INVALID_CHECKSUM"},
		tc{name: "empty algorithm", header: " " + digest("sha1", body)[5:], status: 400, code: "ERR_INVALID_CHECKSUM"},
		tc{name: "not base64", header: "sha1 ***not-base64***", status: 400, code: "ERR_INVALID_CHECKSUM"},
		tc{name: "digest of the wrong size", header: "sha1 " + base64.StdEncoding.EncodeToString(make([]byte, 19)), status: 400, code: "ERR_INVALID_CHECKSUM"},
		tc{name: "hex digest", header: "md5 5eb63bbbe01eeed093cb22bb8f5acdc3", status: 400, code: "ERR_INVALID_CHECKSUM"},
		tc{name: "body cut short", header: digest("sha1", body),
			body:    io.MultiReader(strings.NewReader("hello"), iotest.ErrReader(io.ErrUnexpectedEOF)),
			written: true, discard: true},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newMockEnv(t)
			up := e.upload(tus.FileInfo{ID: "up1", Size: 100, Offset: 3})
			var c *chunk
			if tt.written {
				c = expectWrite(up)
			}
			b := tt.body
			if b == nil {
				b = strings.NewReader(body)
			}
			w := e.serve(newReq(http.MethodPatch, "/up1", b, hdr{
				"Content-Type": octet, "Upload-Offset": "3", "Upload-Checksum": tt.header,
			}))
			if tt.status != 0 {
				eq(t, "status", w.Code, tt.status)
			}
			if tt.code != "" {
				wantError(t, w, tt.status, tt.code)
			}
			if tt.stored != "" {
				eq(t, "Upload-Offset", w.Header().Get("Upload-Offset"), "14")
			} else if tt.written {
				eq(t, "Upload-Offset (chunk not stored)", w.Header().Get("Upload-Offset"), "3")
			}
			if c == nil {
				return
			}
			_, _, data, err := c.get()
			if tt.discard {
				if !errors.Is(err, tus.ErrDiscardChunk) {
					t.Errorf("WriteChunk source error = %v, want the discard signal", err)
				}
			} else {
				noErr(t, err)
				eq(t, "data", data, tt.stored)
			}
		})
	}
}

// trailerPatch sends a chunked PATCH whose Upload-Checksum comes as a
// trailer (set to trailer after the body; nil trailer: announced, not sent).
func trailerPatch(t *testing.T, url, offset, body string, trailer *string) (*http.Response, string) {
	t.Helper()
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPatch, url, pr)
	noErr(t, err)
	req.ContentLength = -1
	req.Header.Set("Tus-Resumable", tusVersion)
	req.Header.Set("Content-Type", octet)
	req.Header.Set("Upload-Offset", offset)
	req.Trailer = http.Header{"Upload-Checksum": nil}
	go func() {
		// Two writes make two chunks.
		half := len(body) / 2
		_, _ = io.WriteString(pw, body[:half])
		_, _ = io.WriteString(pw, body[half:])
		if trailer != nil {
			req.Trailer.Set("Upload-Checksum", *trailer)
		}
		pw.Close()
	}()
	res, err := http.DefaultClient.Do(req)
	noErr(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	noErr(t, err)
	return res, string(b)
}

func TestChecksumTrailer(t *testing.T) {
	const body = "hello trailer"
	tests := []struct {
		name    string
		trailer *string
		status  int
		code    string
		stored  string
	}{
		{"sha1 match", ptr(digest("sha1", body)), 204, "", body},
		{"md5 match", ptr(digest("md5", body)), 204, "", body},
		{"crc32 match", ptr(digest("crc32", body)), 204, "", body},
		{"sha512 match", ptr(digest("sha512", body)), 204, "", body},
		{"sha256 mismatch", ptr(digest("sha256", "hello trailex")), 460, "ERR_CHECKSUM_MISMATCH", ""},
		{"announced but not sent", nil, 460, "ERR_CHECKSUM_MISMATCH", ""},
		{"unsupported algorithm", ptr("whirlpool AAAA"), 400, "ERR_UNSUPPORTED_CHECKSUM_ALGORITHM", ""},
		{"malformed", ptr("sha1 !!!"), 400, "ERR_INVALID_CHECKSUM", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, store, _ := newMemHandler(t, tus.Config{})
			store.put(tus.FileInfo{ID: "up1", Size: 100}, "abc")
			mux := http.NewServeMux()
			mux.Handle("/files/", http.StripPrefix("/files/", h))
			srv := httptest.NewServer(mux)
			defer srv.Close()

			res, resBody := trailerPatch(t, srv.URL+"/files/up1", "3", body, tt.trailer)
			checkCommon(t, http.MethodPatch, res.StatusCode, res.Header, resBody)
			eq(t, "status", res.StatusCode, tt.status)
			if tt.code != "" && !strings.HasPrefix(resBody, tt.code+": ") {
				t.Errorf("body = %q, want code %s", resBody, tt.code)
			}
			data, _, _ := store.state("up1")
			eq(t, "stored", data, "abc"+tt.stored)
			eq(t, "Upload-Offset", res.Header.Get("Upload-Offset"), formatLen("abc"+tt.stored))
		})
	}
}

func formatLen(s string) string { return strconv.Itoa(len(s)) }
