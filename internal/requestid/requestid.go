// Package requestid makes and checks the request IDs that the tus handler
// and tusd's request log share through the X-Request-ID header.
package requestid

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
)

// Header is the header that carries a request ID.
const Header = "X-Request-ID"

// MaxLength is the longest client-chosen request ID that is kept.
const MaxLength = 64

// Valid reports whether id is a request ID a client may choose: 1 to
// MaxLength letters, digits and "-_.".
func Valid(id string) bool {
	if id == "" || len(id) > MaxLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// New returns a new random request ID of 16 hex digits.
func New() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// Of returns r's X-Request-ID if it is Valid, else a new one.
func Of(r *http.Request) string {
	if id := r.Header.Get(Header); Valid(id) {
		return id
	}
	return New()
}
