package tus

import (
	"encoding/base64"
	"net/http"
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

// parseMetadata reads the Upload-Metadata header of a creation. A header
// longer than Config.MaxMetadataSize is refused before it is decoded.
func (h *Handler) parseMetadata(v string) (MetaData, error) {
	if n := int64(len(v)); n > h.cfg.MaxMetadataSize {
		return nil, h.metadataTooLarge(n)
	}
	return ParseMetadata(v)
}

// checkMetadataSize refuses the metadata of an upload to create if, encoded
// as an Upload-Metadata header (as a HEAD sends it back), it would be
// longer than Config.MaxMetadataSize. The decoded keys and values are
// shorter than that.
func (h *Handler) checkMetadataSize(meta MetaData) error {
	if n := encodedMetadataLen(meta); n > h.cfg.MaxMetadataSize {
		return h.metadataTooLarge(n)
	}
	return nil
}

// metadataTooLarge is the error for metadata of n bytes.
func (h *Handler) metadataTooLarge(n int64) error {
	return ErrInvalidMetadata.WithMessage("Upload-Metadata is too large: " + formatInt(n) +
		" bytes, this server takes at most " + formatInt(h.cfg.MaxMetadataSize))
}

// encodedMetadataLen is len(EncodeMetadata(meta)), computed without
// encoding.
func encodedMetadataLen(meta MetaData) int64 {
	var n int64
	for k, v := range meta {
		n += metadataPairLen(k, v) + 1 // and a comma
	}
	return max(n-1, 0)
}

// metadataPairLen is the length of one encoded Upload-Metadata pair.
func metadataPairLen(k, v string) int64 {
	n := int64(len(k))
	if v != "" {
		n += 1 + int64(base64.StdEncoding.EncodedLen(len(v)))
	}
	return n
}

// encodeMetadataLimit encodes meta as EncodeMetadata does, in at most limit
// bytes: if the whole does not fit, only the pairs that do, taken in key
// order; it reports whether pairs were left out.
func encodeMetadataLimit(meta MetaData, limit int64) (string, bool) {
	if encodedMetadataLen(meta) <= limit {
		return EncodeMetadata(meta), false
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	kept := make(MetaData)
	var n int64
	for _, k := range keys {
		add := metadataPairLen(k, meta[k])
		if len(kept) > 0 {
			add++ // the comma
		}
		if n+add <= limit {
			kept[k] = meta[k]
			n += add
		}
	}
	return EncodeMetadata(kept), true
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
// followed by space-separated upload URLs of this server (own), whose IDs
// are returned. The same partial may be named more than once (tus 1.0,
// Concatenation: it "MAY be present multiple times"). A URL that names
// anything but one of own's uploads is refused, with the URL (shortened)
// in the message.
func parseConcat(header string, own ownURLs) (concatKind, []string, error) {
	header = strings.TrimSpace(header)
	switch {
	case header == "":
		return concatNone, nil, nil
	case header == "partial":
		return concatPartial, nil, nil
	case strings.HasPrefix(header, "final;"):
		var ids []string
		for u := range strings.FieldsSeq(header[len("final;"):]) {
			id, ok := own.uploadID(u)
			if !ok {
				return concatNone, nil, ErrInvalidConcat.WithMessage("invalid Upload-Concat header: not an upload URL of this server: " + truncate(u, 80))
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

// ownURLs describes this server's upload URLs as one request sees them: a
// final upload may name its partials by these only.
type ownURLs struct {
	// hosts are the hosts (host[:port]) that name this server; empty
	// entries are unused. The first is the one relative URLs resolve
	// against.
	hosts [3]string
	// path is the base path, with a leading and a trailing slash.
	path string
}

// ownURLs returns the upload URLs of this server as r sees them: those on
// r's Host, on the host of an absolute Config.BasePath, and, with
// Config.RespectForwardedHeaders, on the host the proxy forwarded; all
// under the base path.
func (h *Handler) ownURLs(r *http.Request) ownURLs {
	o := ownURLs{path: h.basePath}
	o.hosts[0] = r.Host
	if h.baseOrigin != "" {
		o.hosts[1] = h.baseOrigin[strings.Index(h.baseOrigin, "://")+3:]
	}
	if h.cfg.RespectForwardedHeaders {
		_, o.hosts[2] = forwardedOrigin(r, "http", "")
	}
	return o
}

// uploadID returns the ID of the upload raw names, if raw is one of o's
// upload URLs: an absolute http or https URL on one of o's hosts, or a
// reference relative to the base path ("/files/ID", or just "ID"), with
// the ID as the one segment below the base path (a trailing slash, a query
// and a fragment are ignored).
func (o ownURLs) uploadID(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Opaque != "" {
		return "", false
	}
	base := url.URL{Scheme: "http", Host: o.hosts[0], Path: o.path}
	ref := base.ResolveReference(u)
	if u.Scheme != "" || u.Host != "" { // not a path: its host must be ours
		if ref.Scheme != "http" && ref.Scheme != "https" || !o.ownHost(ref.Scheme, ref.Host) {
			return "", false
		}
	}
	p := ref.EscapedPath()
	if !strings.HasPrefix(p, o.path) {
		return "", false
	}
	id := strings.TrimSuffix(p[len(o.path):], "/")
	return id, ValidID(id)
}

// ownHost reports whether host, in a URL of scheme, is one of o's hosts.
// Hosts compare without case, and a default port (80 for http, 443 for
// https) counts as none.
func (o ownURLs) ownHost(scheme, host string) bool {
	host = withoutDefaultPort(scheme, host)
	for _, h := range o.hosts {
		if h != "" && strings.EqualFold(withoutDefaultPort(scheme, h), host) {
			return true
		}
	}
	return false
}

// withoutDefaultPort strips the default port of scheme from host.
func withoutDefaultPort(scheme, host string) string {
	switch {
	case scheme == "http" && strings.HasSuffix(host, ":80"):
		return host[:len(host)-3]
	case scheme == "https" && strings.HasSuffix(host, ":443"):
		return host[:len(host)-4]
	}
	return host
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
