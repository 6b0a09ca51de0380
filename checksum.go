package tus

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"strings"
)

// checksumAlgorithms is the Tus-Checksum-Algorithm value.
const checksumAlgorithms = "md5,sha1,sha256,sha512,crc32"

// newChecksumHash returns a hash for a Tus-Checksum-Algorithm name.
func newChecksumHash(alg string) (hash.Hash, bool) {
	switch alg {
	case "md5":
		return md5.New(), true
	case "sha1":
		return sha1.New(), true
	case "sha256":
		return sha256.New(), true
	case "sha512":
		return sha512.New(), true
	case "crc32":
		return crc32.NewIEEE(), true
	}
	return nil, false
}

// checksum is a parsed Upload-Checksum value.
type checksum struct {
	alg  string
	hash hash.Hash
	sum  []byte
}

// parseChecksum decodes "<algorithm> <base64 digest>".
func parseChecksum(v string) (*checksum, error) {
	alg, enc, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || alg == "" {
		return nil, ErrInvalidChecksum
	}
	alg = strings.ToLower(alg)
	h, ok := newChecksumHash(alg)
	if !ok {
		return nil, ErrUnsupportedChecksumAlgorithm.WithMessage("unsupported checksum algorithm " + truncate(alg, 20) + "; supported: " + checksumAlgorithms)
	}
	sum, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil || len(sum) != h.Size() {
		return nil, ErrInvalidChecksum.WithMessage("invalid Upload-Checksum header: digest is not base64 of the algorithm's size")
	}
	return &checksum{alg: alg, hash: h, sum: sum}, nil
}

// checkChecksumHeader validates an Upload-Checksum header, if any, before
// the request changes anything. A request that sends the header and also
// announces an Upload-Checksum trailer is refused: which of two digests
// would count is not for the server to guess.
func checkChecksumHeader(r *http.Request) error {
	if v := r.Header.Get("Upload-Checksum"); v != "" {
		if checksumTrailer(r) {
			return errChecksumTwice
		}
		_, err := parseChecksum(v)
		return err
	}
	return nil
}

// errChecksumTwice refuses a request with both an Upload-Checksum header
// and an announced Upload-Checksum trailer.
var errChecksumTwice = ErrInvalidChecksum.WithMessage("Upload-Checksum is sent as a header and announced as a trailer: send one of them")

// checksummed reports whether r's body is verified by a checksum (header or
// announced trailer), so that it may still be refused whole.
func checksummed(r *http.Request) bool {
	return r.Header.Get("Upload-Checksum") != "" || checksumTrailer(r)
}

// checksumTrailer reports whether r announces an Upload-Checksum trailer.
func checksumTrailer(r *http.Request) bool {
	_, ok := r.Trailer["Upload-Checksum"]
	return ok
}

// verifyingReader hashes what it reads and, at the end of the body, checks
// the digest from the Upload-Checksum header or trailer. Every failure,
// including a body that ends early, refuses the chunk (DiscardChunk): a checksummed chunk
// is stored whole or not at all.
type verifyingReader struct {
	r      io.Reader
	req    *http.Request
	expect *checksum            // from the header; nil in trailer mode
	hashes map[string]hash.Hash // trailer mode: every algorithm, as it is named only at the end
	w      io.Writer            // where read bytes are hashed
}

// newVerifyingReader wraps body when r carries Upload-Checksum as a header
// or announces it as a trailer (both at once is refused, see
// checkChecksumHeader); it returns body unchanged otherwise.
func newVerifyingReader(body io.Reader, r *http.Request) (io.Reader, error) {
	if v := r.Header.Get("Upload-Checksum"); v != "" {
		if checksumTrailer(r) {
			return nil, errChecksumTwice
		}
		c, err := parseChecksum(v)
		if err != nil {
			return nil, err
		}
		return &verifyingReader{r: body, req: r, expect: c, w: c.hash}, nil
	}
	if checksumTrailer(r) {
		v := &verifyingReader{r: body, req: r, hashes: make(map[string]hash.Hash, 5)}
		ws := make([]io.Writer, 0, 5)
		for alg := range strings.SplitSeq(checksumAlgorithms, ",") {
			h, _ := newChecksumHash(alg)
			v.hashes[alg] = h
			ws = append(ws, h)
		}
		v.w = io.MultiWriter(ws...)
		return v, nil
	}
	return body, nil
}

// Remaining implements RemainingReader for the body it reads.
func (v *verifyingReader) Remaining() int64 {
	if r, ok := v.r.(RemainingReader); ok {
		return r.Remaining()
	}
	return -1
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	if n > 0 {
		_, _ = v.w.Write(p[:n]) // hashes never fail
	}
	switch {
	case err == io.EOF:
		if verr := v.verify(); verr != nil {
			return n, DiscardChunk(verr)
		}
		return n, io.EOF
	case err != nil:
		return n, DiscardChunk(err)
	}
	return n, nil
}

// verify compares the digest of everything read with the expected one.
func (v *verifyingReader) verify() error {
	c := v.expect
	if c == nil {
		t := v.req.Trailer.Get("Upload-Checksum")
		if t == "" {
			return ErrChecksumMismatch.WithMessage("checksum mismatch: the announced Upload-Checksum trailer was not sent; the chunk was not stored")
		}
		var err error
		if c, err = parseChecksum(t); err != nil {
			return err
		}
		c.hash = v.hashes[c.alg]
	}
	if !bytes.Equal(c.hash.Sum(nil), c.sum) {
		return ErrChecksumMismatch
	}
	return nil
}
