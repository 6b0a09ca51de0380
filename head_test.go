package tus_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/golang/mock/gomock"

	"github.com/tusgo/tus"
)

func TestHead(t *testing.T) {
	future := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	tests := []struct {
		name    string
		opts    []envOpt
		info    *tus.FileInfo
		status  int
		headers map[string]string
		absent  []string
	}{
		{
			name:   "unfinished upload with metadata",
			info:   &tus.FileInfo{ID: "up1", Size: 10, Offset: 3, MetaData: tus.MetaData{"filename": "a.txt", "flag": ""}},
			status: 200,
			headers: map[string]string{
				"Upload-Offset": "3", "Upload-Length": "10", "Cache-Control": "no-store",
				"Upload-Metadata": "filename YS50eHQ=,flag",
			},
			absent: []string{"Upload-Defer-Length", "Upload-Concat", "Upload-Expires"},
		},
		{
			name:    "finished upload",
			info:    &tus.FileInfo{ID: "up1", Size: 10, Offset: 10},
			status:  200,
			headers: map[string]string{"Upload-Offset": "10", "Upload-Length": "10", "Cache-Control": "no-store"},
			absent:  []string{"Upload-Metadata"},
		},
		{
			name:    "deferred length",
			info:    &tus.FileInfo{ID: "up1", SizeIsDeferred: true, Offset: 4},
			status:  200,
			headers: map[string]string{"Upload-Offset": "4", "Upload-Defer-Length": "1", "Cache-Control": "no-store"},
			absent:  []string{"Upload-Length"},
		},
		{
			name:    "expiring upload",
			info:    &tus.FileInfo{ID: "up1", Size: 10, Offset: 3, ExpiresAt: future},
			status:  200,
			headers: map[string]string{"Upload-Expires": "Tue, 06 May 2031 07:08:09 GMT", "Upload-Offset": "3"},
		},
		{
			name:   "expired finished upload is still there",
			info:   &tus.FileInfo{ID: "up1", Size: 10, Offset: 10, ExpiresAt: time.Now().Add(-time.Hour)},
			status: 200, headers: map[string]string{"Upload-Offset": "10"},
			absent: []string{"Upload-Expires"},
		},
		{
			name:   "expired unfinished upload",
			info:   &tus.FileInfo{ID: "up1", Size: 10, Offset: 3, ExpiresAt: time.Now().Add(-time.Second)},
			status: 410, headers: map[string]string{"Cache-Control": "no-store"},
			absent: []string{"Upload-Offset", "Upload-Length"},
		},
		{
			name:   "unknown upload",
			status: 404, headers: map[string]string{"Cache-Control": "no-store"},
			absent: []string{"Upload-Offset", "Upload-Length"},
		},
		{
			name:    "partial upload",
			opts:    []envOpt{withConcater},
			info:    &tus.FileInfo{ID: "up1", Size: 10, Offset: 2, IsPartial: true},
			status:  200,
			headers: map[string]string{"Upload-Concat": "partial", "Upload-Offset": "2", "Upload-Length": "10"},
		},
		{
			name:   "finished final upload",
			opts:   []envOpt{withConcater},
			info:   &tus.FileInfo{ID: "up1", Size: 7, Offset: 7, IsFinal: true, PartialUploads: []string{"p1", "p2"}},
			status: 200,
			headers: map[string]string{"Upload-Offset": "7", "Upload-Length": "7",
				"Upload-Concat": "final;http://" + testHost + "/files/p1 http://" + testHost + "/files/p2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newMockEnv(t, tt.opts...)
			if tt.info != nil {
				e.upload(*tt.info)
			} else {
				e.missing("up1")
			}
			w := e.serve(newReq(http.MethodHead, "/up1", nil, nil))
			eq(t, "status", w.Code, tt.status)
			eq(t, "body", w.Body.String(), "")
			headers(t, w.Header(), tt.headers)
			absent(t, w.Header(), tt.absent...)
		})
	}
}

func TestHeadFinalUpload(t *testing.T) {
	p1 := tus.FileInfo{ID: "p1", Size: 3, Offset: 3, IsPartial: true}
	final := tus.FileInfo{ID: "fin", Size: 7, IsFinal: true, PartialUploads: []string{"p1", "p2"}}
	concatHeader := "final;http://" + testHost + "/files/p1 http://" + testHost + "/files/p2"

	t.Run("partials unfinished: no Upload-Offset, no concatenation", func(t *testing.T) {
		e := newMockEnv(t, withConcater)
		e.upload(p1)
		e.upload(tus.FileInfo{ID: "p2", Size: 4, Offset: 1, IsPartial: true})
		e.upload(final) // ConcatUploads and FinishUpload are not expected
		w := e.serve(newReq(http.MethodHead, "/fin", nil, nil))
		eq(t, "status", w.Code, http.StatusOK)
		absent(t, w.Header(), "Upload-Offset")
		headers(t, w.Header(), map[string]string{"Upload-Length": "7", "Upload-Concat": concatHeader})
	})
	t.Run("partials finished meanwhile: HEAD concatenates", func(t *testing.T) {
		e := newMockEnv(t, withConcater)
		up1 := e.upload(p1)
		up2 := e.upload(tus.FileInfo{ID: "p2", Size: 4, Offset: 4, IsPartial: true})
		fin := e.upload(final)
		cu := NewMockConcatableUpload(e.ctrl)
		e.concat.EXPECT().AsConcatableUpload(fin).Return(cu)
		gomock.InOrder(
			cu.EXPECT().ConcatUploads(gomock.Any(), []tus.Upload{up1, up2}).Return(nil).Times(1),
			fin.EXPECT().FinishUpload(gomock.Any()).Return(nil).Times(1),
		)
		w := e.serve(newReq(http.MethodHead, "/fin", nil, nil))
		eq(t, "status", w.Code, http.StatusOK)
		headers(t, w.Header(), map[string]string{"Upload-Offset": "7", "Upload-Length": "7", "Upload-Concat": concatHeader})
	})
	t.Run("concatenation fails", func(t *testing.T) {
		e := newMockEnv(t, withConcater)
		e.upload(p1)
		e.upload(tus.FileInfo{ID: "p2", Size: 4, Offset: 4, IsPartial: true})
		fin := e.upload(final)
		cu := NewMockConcatableUpload(e.ctrl)
		e.concat.EXPECT().AsConcatableUpload(fin).Return(cu)
		cu.EXPECT().ConcatUploads(gomock.Any(), gomock.Any()).Return(errors.New("copy failed"))
		w := e.serve(newReq(http.MethodHead, "/fin", nil, nil))
		eq(t, "status", w.Code, http.StatusInternalServerError)
		absent(t, w.Header(), "Upload-Offset")
	})
}

func TestHeadStoreError(t *testing.T) {
	e := newMockEnv(t)
	up := NewMockUpload(e.ctrl)
	e.store.EXPECT().GetUpload(gomock.Any(), "up1").Return(up, nil)
	up.EXPECT().GetInfo(gomock.Any()).Return(tus.FileInfo{}, errors.New("corrupt info file"))
	w := e.serve(newReq(http.MethodHead, "/up1", nil, nil))
	eq(t, "status", w.Code, http.StatusInternalServerError)
	eq(t, "body", w.Body.String(), "")
	absent(t, w.Header(), "Upload-Offset")
}
