// Package demo serves tusd's demo page: a small form to upload a file to the
// server's own tus endpoint, with a progress bar, the current speed, Pause
// and Resume, and a download link at the end. The page's tus 1.0 client is
// a few hundred lines of plain JavaScript of this package, with no
// libraries; every file is embedded in the binary.
package demo

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"net/http"
	"time"
)

// assetPrefix is the path under which the page's script, style sheet and
// icon are served, as assetPrefix + file name.
const assetPrefix = "/demo/"

//go:embed page.html app.js style.css icon.svg
var files embed.FS

// pageTemplate is the page; the upload path goes into an attribute, which
// html/template escapes.
var pageTemplate = template.Must(template.ParseFS(files, "page.html"))

// contentSecurityPolicy allows the page only its own script, style sheet
// and icon, and requests to its own origin: no inline script or style, no
// frames, no forms posted elsewhere.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// asset is one response the handler serves.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

func newAsset(body []byte, contentType string) asset {
	sum := sha256.Sum256(body)
	return asset{body: body, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// handler serves the page and its assets by exact path.
type handler struct {
	assets map[string]asset
}

// Handler returns the handler of the demo page, to be mounted at "/" of the
// server whose tus endpoint is at uploadPath (such as "/files/"; the page
// resolves it against its own address, so it must be on the same origin).
//
// It answers GET and HEAD of "/" with the page and of "/demo/" + name
// with the page's files, 405 Method Not Allowed (with Allow) to other
// methods on those paths, and 404 Not Found to every other path, so that it
// can take all the requests no other route of the server matched. Every
// response carries a strict Content-Security-Policy and
// X-Content-Type-Options: nosniff.
func Handler(uploadPath string) http.Handler {
	var page bytes.Buffer
	if err := pageTemplate.Execute(&page, struct{ UploadPath string }{uploadPath}); err != nil {
		// The template is embedded and its data is one string: this
		// cannot happen with a template that ever passed the tests.
		panic("demo: rendering the page: " + err.Error())
	}
	h := &handler{assets: map[string]asset{
		"/": newAsset(page.Bytes(), "text/html; charset=utf-8"),
	}}
	for name, ctype := range map[string]string{
		"app.js":    "text/javascript; charset=utf-8",
		"style.css": "text/css; charset=utf-8",
		"icon.svg":  "image/svg+xml",
	} {
		b, err := files.ReadFile(name)
		if err != nil {
			panic("demo: " + err.Error()) // embedded above
		}
		h.assets[assetPrefix+name] = newAsset(b, ctype)
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", contentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "same-origin")
	hdr.Set("X-Frame-Options", "DENY")
	a, ok := h.assets[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("ETag", a.etag)
	hdr.Set("Cache-Control", "no-cache") // revalidate: a new tusd may bring a new page
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
