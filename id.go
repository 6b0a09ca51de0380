package tus

import (
	"crypto/rand"
	"encoding/hex"
)

// MaxIDLength is the longest upload ID the handler accepts.
const MaxIDLength = 128

// ValidID reports whether id is an acceptable upload ID: 1 to MaxIDLength
// bytes of ASCII letters, digits, '-' and '_'. Such an ID is safe as a file
// name and as an object key: it has no '/', no '.', and no encoded form.
func ValidID(id string) bool {
	if len(id) == 0 || len(id) > MaxIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// NewID returns a new upload ID: 128 random bits as 32 lowercase hex digits.
func NewID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}
