package tus

import (
	"io"
	"mime"
	"net/http"
	"strings"
)

// download serves GET in both protocols: the bytes of a finished upload.
// Range and conditional requests work as with http.ServeContent.
// Content-Type comes from the "filetype" metadata only for types that are
// safe to show inline; anything else is sent as application/octet-stream
// for download, with the file name from the "filename" (or "name")
// metadata in Content-Disposition. It reads without taking the upload's
// lock, but a final upload whose partials are done is concatenated first,
// under its lock.
func (h *Handler) download(q *request) {
	if !h.downloadEnabled() {
		q.w.Header().Set("Allow", h.allow)
		h.fail(q, ErrMethodNotAllowed.WithMessage("downloads are disabled on this server"))
		return
	}
	up, info, err := h.openUpload(q, q.id, ActionDownload)
	if err == nil {
		up, info, err = h.completePendingFinal(q, up, info)
	}
	if err != nil {
		h.fail(q, err)
		return
	}
	if !info.IsComplete() {
		h.fail(q, ErrUploadNotFinished)
		return
	}
	hdr := q.w.Header()
	ctype, inline := contentType(info.MetaData)
	hdr.Set("Content-Type", ctype)
	hdr.Set("Content-Disposition", contentDisposition(inline, info.MetaData))
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	sw := &servingWriter{ResponseWriter: q.w}
	if err := h.composer.ContentServer.AsServableUpload(up).ServeContent(q.ctx(), sw, q.r); err != nil {
		if sw.started {
			// The status and maybe some content are sent: an error message
			// now would be taken for content. Returning cuts the response
			// short of its Content-Length (net/http then closes the
			// connection), which the client sees as a failed download.
			h.logError(q, err)
			return
		}
		h.fail(q, err)
	}
}

// servingWriter is the http.ResponseWriter of a store's ServeContent: it
// records whether the response has begun, so that a failure afterwards is
// not answered with an error message inside the content. It passes
// ReadFrom (sendfile) and Flush through, and others by Unwrap
// (http.ResponseController).
type servingWriter struct {
	http.ResponseWriter
	started bool
}

func (w *servingWriter) WriteHeader(status int) {
	// 1xx answers are informational: the response proper is still to come.
	if status >= 200 {
		w.started = true
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *servingWriter) Write(b []byte) (int, error) {
	w.started = true
	return w.ResponseWriter.Write(b)
}

// ReadFrom copies r to the response with the underlying writer's ReadFrom
// where it has one (sendfile for files).
func (w *servingWriter) ReadFrom(r io.Reader) (int64, error) {
	w.started = true
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{w.ResponseWriter}, r)
}

// Flush sends what is buffered, if the underlying writer can.
func (w *servingWriter) Flush() {
	w.started = true
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *servingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// writerOnly hides every method of a writer but Write, so io.Copy does not
// call ReadFrom back.
type writerOnly struct{ io.Writer }

// inlineTypes are the media types a browser may show inline: none of them
// can run script in our origin.
var inlineTypes = map[string]bool{
	"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true,
	"image/avif": true, "image/apng": true, "image/bmp": true,
	"video/mp4": true, "video/webm": true, "video/ogg": true, "video/quicktime": true,
	"audio/mpeg": true, "audio/ogg": true, "audio/wav": true, "audio/webm": true,
	"audio/aac": true, "audio/flac": true, "audio/mp4": true,
	"text/plain": true, "application/pdf": true,
}

// contentType picks the download's Content-Type and whether it is shown
// inline.
func contentType(meta MetaData) (string, bool) {
	mt, _, err := mime.ParseMediaType(meta["filetype"])
	if err == nil && inlineTypes[mt] {
		if mt == "text/plain" {
			return "text/plain; charset=utf-8", true
		}
		return mt, true
	}
	return "application/octet-stream", false
}

// contentDisposition builds an RFC 6266 Content-Disposition: an ASCII
// fallback filename and the exact name as RFC 8187 filename*.
func contentDisposition(inline bool, meta MetaData) string {
	kind := "attachment"
	if inline {
		kind = "inline"
	}
	name := meta["filename"]
	if name == "" {
		name = meta["name"]
	}
	// Only the last path element, without control characters.
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	if name == "" {
		return kind
	}
	var ascii strings.Builder
	for _, c := range name {
		switch {
		case c == '"' || c == '\\' || c == '%' || c == ';':
			ascii.WriteByte('_')
		case c < 0x80:
			ascii.WriteRune(c)
		default:
			ascii.WriteByte('_')
		}
	}
	return kind + `; filename="` + ascii.String() + `"; filename*=UTF-8''` + rfc8187Escape(name)
}

// rfc8187Escape percent-encodes s for an ext-value: everything but
// attr-char is escaped.
func rfc8187Escape(s string) string {
	const attrChar = "!#$&+-.^_`|~"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(attrChar, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		const hex = "0123456789ABCDEF"
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
