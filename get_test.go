package tus_test

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"testing"
	"time"

	"github.com/golang/mock/gomock"

	"github.com/tusgo/tus"
)

// expectServe makes the upload servable; ServeContent writes content.
func (e *mockEnv) expectServe(up tus.Upload, content string) {
	su := NewMockServableUpload(e.ctrl)
	e.content.EXPECT().AsServableUpload(up).Return(su)
	su.EXPECT().ServeContent(gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(
		func(_ context.Context, w http.ResponseWriter, _ *http.Request) error {
			w.WriteHeader(http.StatusOK)
			_, err := w.Write([]byte(content))
			return err
		}).Times(1)
}

func TestGet(t *testing.T) {
	tests := []struct {
		name        string
		meta        tus.MetaData
		ctype       string
		disposition string
		filename    string // decoded filename parameter; "" means none
	}{
		{"no metadata", nil, "application/octet-stream", "attachment", ""},
		{"png inline", tus.MetaData{"filetype": "image/png", "filename": "cat.png"},
			"image/png", `inline; filename="cat.png"; filename*=UTF-8''cat.png`, "cat.png"},
		{"upper-case media type", tus.MetaData{"filetype": "Image/PNG; q=1"}, "image/png", "inline", ""},
		{"plain text gets a charset", tus.MetaData{"filetype": "text/plain"}, "text/plain; charset=utf-8", "inline", ""},
		{"pdf inline", tus.MetaData{"filetype": "application/pdf", "name": "doc.pdf"},
			"application/pdf", `inline; filename="doc.pdf"; filename*=UTF-8''doc.pdf`, "doc.pdf"},
		{"html is downloaded", tus.MetaData{"filetype": "text/html", "filename": "x.html"},
			"application/octet-stream", `attachment; filename="x.html"; filename*=UTF-8''x.html`, "x.html"},
		{"svg is downloaded", tus.MetaData{"filetype": "image/svg+xml", "filename": "logo.svg"},
			"application/octet-stream", `attachment; filename="logo.svg"; filename*=UTF-8''logo.svg`, "logo.svg"},
		{"xhtml is downloaded", tus.MetaData{"filetype": "application/xhtml+xml"}, "application/octet-stream", "attachment", ""},
		{"javascript is downloaded", tus.MetaData{"filetype": "text/javascript"}, "application/octet-stream", "attachment", ""},
		{"malformed type", tus.MetaData{"filetype": "image/png\"; x"}, "application/octet-stream", "attachment", ""},
		{"unicode filename", tus.MetaData{"filetype": "application/pdf", "filename": "naïve résumé 📄.pdf"},
			"application/pdf",
			`inline; filename="na_ve r_sum_ _.pdf"; filename*=UTF-8''na%C3%AFve%20r%C3%A9sum%C3%A9%20%F0%9F%93%84.pdf`,
			"naïve résumé 📄.pdf"},
		{"filename with quotes and path", tus.MetaData{"filename": `..\dir/../"evil";x=%41.txt`},
			"application/octet-stream",
			`attachment; filename="_evil__x=_41.txt"; filename*=UTF-8''%22evil%22%3Bx%3D%2541.txt`,
			`"evil";x=%41.txt`},
		{"control characters dropped", tus.MetaData{"filename": "a\r\nX-Evil: 1\x00\x7f.txt"},
			"application/octet-stream",
			`attachment; filename="aX-Evil: 1.txt"; filename*=UTF-8''aX-Evil%3A%201.txt`,
			"aX-Evil: 1.txt"},
		{"filename is only a path", tus.MetaData{"filename": "dir/"}, "application/octet-stream", "attachment", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newMockEnv(t, withContent)
			up := e.upload(tus.FileInfo{ID: "up1", Size: 7, Offset: 7, MetaData: tt.meta})
			e.expectServe(up, "content")
			// Downloads are plain HTTP: no Tus-Resumable needed.
			w := e.serve(newReq(http.MethodGet, "/up1", nil, hdr{"Tus-Resumable": ""}))
			eq(t, "status", w.Code, http.StatusOK)
			eq(t, "body", w.Body.String(), "content")
			headers(t, w.Header(), map[string]string{
				"Content-Type":            tt.ctype,
				"Content-Disposition":     tt.disposition,
				"X-Content-Type-Options":  "nosniff",
				"Content-Security-Policy": "default-src 'none'; sandbox",
			})
			_, params, err := mime.ParseMediaType(w.Header().Get("Content-Disposition"))
			noErr(t, err)
			eq(t, "decoded filename", params["filename"], tt.filename)
		})
	}
}

func TestGetRefused(t *testing.T) {
	tests := []struct {
		name   string
		opts   []envOpt
		info   *tus.FileInfo
		status int
		code   string
	}{
		{"unfinished upload", []envOpt{withContent}, &tus.FileInfo{ID: "up1", Size: 7, Offset: 6}, 409, "ERR_UPLOAD_NOT_FINISHED"},
		{"deferred-length upload", []envOpt{withContent}, &tus.FileInfo{ID: "up1", SizeIsDeferred: true, Offset: 6}, 409, "ERR_UPLOAD_NOT_FINISHED"},
		{"unknown upload", []envOpt{withContent}, nil, 404, "ERR_UPLOAD_NOT_FOUND"},
		{"expired unfinished upload", []envOpt{withContent},
			&tus.FileInfo{ID: "up1", Size: 7, Offset: 6, ExpiresAt: time.Now().Add(-time.Minute)}, 410, "ERR_UPLOAD_EXPIRED"},
		{"downloads disabled", []envOpt{withContent, withConfig(func(c *tus.Config) { c.DisableDownload = true })}, nil, 405, "ERR_METHOD_NOT_ALLOWED"},
		{"no content server", nil, nil, 405, "ERR_METHOD_NOT_ALLOWED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newMockEnv(t, tt.opts...) // ServeContent is never expected
			if tt.info != nil {
				e.upload(*tt.info)
			} else if tt.status == 404 {
				e.missing("up1")
			}
			w := e.serve(newReq(http.MethodGet, "/up1", nil, hdr{"Tus-Resumable": ""}))
			wantError(t, w, tt.status, tt.code)
			if tt.status == 405 {
				eq(t, "Allow", w.Header().Get("Allow"), "OPTIONS, HEAD, PATCH")
			}
			absent(t, w.Header(), "Content-Disposition")
		})
	}
}

func TestGetServeContentFails(t *testing.T) {
	e := newMockEnv(t, withContent)
	up := e.upload(tus.FileInfo{ID: "up1", Size: 7, Offset: 7})
	su := NewMockServableUpload(e.ctrl)
	e.content.EXPECT().AsServableUpload(up).Return(su)
	su.EXPECT().ServeContent(gomock.Any(), gomock.Any(), gomock.Any()).Return(errors.New("bucket gone"))
	w := e.serve(newReq(http.MethodGet, "/up1", nil, nil))
	wantError(t, w, http.StatusInternalServerError, "ERR_INTERNAL_SERVER_ERROR")
	notContains(t, "body", w.Body.String(), "bucket")
}

// A store whose ServeContent fails after the response has begun: the
// handler sends no error message, which the client would take for
// content; the response stays short of its Content-Length.
func TestGetServeContentFailsMidway(t *testing.T) {
	e := newMockEnv(t, withContent)
	up := e.upload(tus.FileInfo{ID: "up1", Size: 7, Offset: 7})
	su := NewMockServableUpload(e.ctrl)
	e.content.EXPECT().AsServableUpload(up).Return(su)
	su.EXPECT().ServeContent(gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(
		func(_ context.Context, w http.ResponseWriter, _ *http.Request) error {
			w.Header().Set("Content-Length", "7")
			w.WriteHeader(http.StatusOK)
			if _, err := w.Write([]byte("abc")); err != nil {
				return err
			}
			return tus.ErrUnavailable
		}).Times(1)
	w := e.serve(newReq(http.MethodGet, "/up1", nil, nil))
	eq(t, "status", w.Code, http.StatusOK)
	eq(t, "body", w.Body.String(), "abc")
	eq(t, "Content-Length", w.Header().Get("Content-Length"), "7")
}

// GET of a final upload whose partials finished after its creation
// concatenates it first (concatenation-unfinished).
func TestGetConcatenatesPendingFinal(t *testing.T) {
	e := newMockEnv(t, withContent, withConcater)
	up1 := e.upload(tus.FileInfo{ID: "p1", Size: 3, Offset: 3, IsPartial: true})
	up2 := e.upload(tus.FileInfo{ID: "p2", Size: 4, Offset: 4, IsPartial: true})
	fin := e.upload(tus.FileInfo{ID: "fin", Size: 7, IsFinal: true, PartialUploads: []string{"p1", "p2"}})
	cu := NewMockConcatableUpload(e.ctrl)
	e.concat.EXPECT().AsConcatableUpload(fin).Return(cu)
	gomock.InOrder(
		cu.EXPECT().ConcatUploads(gomock.Any(), []tus.Upload{up1, up2}).Return(nil),
		fin.EXPECT().FinishUpload(gomock.Any()).Return(nil),
	)
	e.expectServe(fin, "abcdefg")
	w := e.serve(newReq(http.MethodGet, "/fin", nil, nil))
	eq(t, "status", w.Code, http.StatusOK)
	eq(t, "body", w.Body.String(), "abcdefg")
}
