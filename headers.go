package tus

import (
	"encoding/base64"
	"net/url"
	"sort"
	"strings"
	"time"
)

// parseUint parses a non-negative decimal integer header value: digits only,
// no sign, no spaces, no overflow.
func parseUint(s string) (int64, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (1<<63-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// ParseMetadata decodes an Upload-Metadata header: comma-separated pairs of
// a key and an optional base64 value, separated by a space. Keys must be
// non-empty, unique and free of spaces and commas. An empty header gives a
// nil map.
func ParseMetadata(header string) (MetaData, error) {
	if strings.TrimSpace(header) == "" {
		return nil, nil
	}
	meta := make(MetaData)
	for pair := range strings.SplitSeq(header, ",") {
		pair = strings.Trim(pair, " \t")
		key, value, hasValue := strings.Cut(pair, " ")
		if key == "" || !validMetaKey(key) {
			return nil, ErrInvalidMetadata.WithMessage("invalid Upload-Metadata header: malformed key")
		}
		if _, dup := meta[key]; dup {
			return nil, ErrInvalidMetadata.WithMessage("invalid Upload-Metadata header: duplicate key " + key)
		}
		var decoded string
		if hasValue {
			value = strings.Trim(value, " \t")
			if strings.ContainsAny(value, " \t") {
				return nil, ErrInvalidMetadata.WithMessage("invalid Upload-Metadata header: value of " + key + " has spaces")
			}
			b, err := base64.StdEncoding.DecodeString(value)
			if err != nil {
				b, err = base64.RawStdEncoding.DecodeString(value)
			}
			if err != nil {
				return nil, ErrInvalidMetadata.WithMessage("invalid Upload-Metadata header: value of " + key + " is not base64")
			}
			decoded = string(b)
		}
		meta[key] = decoded
	}
	return meta, nil
}

// validMetaKey reports whether key is printable ASCII without spaces or commas.
func validMetaKey(key string) bool {
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c <= ' ' || c >= 0x7f || c == ',' {
			return false
		}
	}
	return true
}

// EncodeMetadata encodes meta as an Upload-Metadata header, keys sorted.
// Keys with an empty value are sent without one.
func EncodeMetadata(meta MetaData) string {
	if len(meta) == 0 {
		return ""
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		if v := meta[k]; v != "" {
			b.WriteByte(' ')
			b.WriteString(base64.StdEncoding.EncodeToString([]byte(v)))
		}
	}
	return b.String()
}

// MaxPartialUploads is the most partial uploads one final upload may name.
const MaxPartialUploads = 1000

// concatKind is what an Upload-Concat header asks for.
type concatKind int

const (
	concatNone concatKind = iota
	concatPartial
	concatFinal
)

// parseConcat decodes an Upload-Concat header: "partial", or "final;"
// followed by space-separated upload URLs, whose last path segments are
// returned as IDs. The same partial may be named more than once (tus 1.0,
// Concatenation: it "MAY be present multiple times").
func parseConcat(header string) (concatKind, []string, error) {
	header = strings.TrimSpace(header)
	switch {
	case header == "":
		return concatNone, nil, nil
	case header == "partial":
		return concatPartial, nil, nil
	case strings.HasPrefix(header, "final;"):
		var ids []string
		for u := range strings.FieldsSeq(header[len("final;"):]) {
			id, ok := idFromURL(u)
			if !ok {
				return concatNone, nil, ErrInvalidConcat.WithMessage("invalid Upload-Concat header: not an upload URL: " + truncate(u, 80))
			}
			if len(ids) == MaxPartialUploads {
				return concatNone, nil, ErrInvalidConcat.WithMessage("invalid Upload-Concat header: more than " + formatInt(MaxPartialUploads) + " partial uploads")
			}
			ids = append(ids, id)
		}
		if len(ids) == 0 {
			return concatNone, nil, ErrInvalidConcat.WithMessage("invalid Upload-Concat header: final upload names no partial uploads")
		}
		return concatFinal, ids, nil
	default:
		return concatNone, nil, ErrInvalidConcat
	}
}

// idFromURL returns the upload ID at the end of an absolute or relative URL.
func idFromURL(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", false
	}
	p := strings.TrimSuffix(u.EscapedPath(), "/")
	id := p[strings.LastIndexByte(p, '/')+1:]
	return id, ValidID(id)
}

// truncate shortens s to at most n bytes for use in messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// isOffsetOctetStream reports whether a Content-Type header names
// application/offset+octet-stream (parameters ignored).
func isOffsetOctetStream(ct string) bool {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.EqualFold(strings.TrimSpace(ct), OffsetOctetStream)
}

// formatExpires formats an Upload-Expires value (RFC 9110 HTTP-date).
func formatExpires(t time.Time) string {
	return t.UTC().Format(httpTimeFormat)
}

const httpTimeFormat = "Mon, 02 Jan 2006 15:04:05 GMT"
