package tus_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/golang/mock/gomock"

	"github.com/tusgo/tus"
)

func TestDelete(t *testing.T) {
	tests := []struct {
		name      string
		opts      []envOpt
		info      *tus.FileInfo
		terminate error // nil: Terminate succeeds; errSkip: not called
		status    int
		code      string
		allow     string
	}{
		{name: "terminate", opts: []envOpt{withTerminater}, info: &tus.FileInfo{ID: "up1", Size: 10, Offset: 4}, status: 204},
		{name: "terminate a finished upload", opts: []envOpt{withTerminater}, info: &tus.FileInfo{ID: "up1", Size: 10, Offset: 10}, status: 204},
		{name: "terminate an expired upload", opts: []envOpt{withTerminater},
			info: &tus.FileInfo{ID: "up1", Size: 10, Offset: 4, ExpiresAt: time.Now().Add(-time.Hour)}, status: 204},
		{name: "unknown upload", opts: []envOpt{withTerminater}, terminate: errSkip, status: 404, code: "ERR_UPLOAD_NOT_FOUND"},
		{name: "store fails", opts: []envOpt{withTerminater}, info: &tus.FileInfo{ID: "up1", Size: 10},
			terminate: errors.New("permission denied: /var/tus/up1"), status: 500, code: "ERR_INTERNAL_SERVER_ERROR"},
		{name: "termination disabled", opts: []envOpt{withAll, withConfig(func(c *tus.Config) { c.DisableTermination = true })},
			terminate: errSkip, status: 405, code: "ERR_METHOD_NOT_ALLOWED", allow: "OPTIONS, HEAD, PATCH, GET"},
		{name: "store cannot terminate", opts: []envOpt{withConcater}, terminate: errSkip, status: 405,
			code: "ERR_METHOD_NOT_ALLOWED", allow: "OPTIONS, HEAD, PATCH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newMockEnv(t, tt.opts...)
			if tt.info != nil {
				up := e.upload(*tt.info)
				if tt.terminate != errSkip {
					tu := NewMockTerminatableUpload(e.ctrl)
					e.term.EXPECT().AsTerminatableUpload(up).Return(tu)
					tu.EXPECT().Terminate(gomock.Any()).Return(tt.terminate).Times(1)
				}
			} else if tt.status == 404 {
				e.missing("up1")
			}
			w := e.serve(newReq(http.MethodDelete, "/up1", nil, nil))
			eq(t, "status", w.Code, tt.status)
			if tt.code != "" {
				wantError(t, w, tt.status, tt.code)
				notContains(t, "body", w.Body.String(), "/var/tus")
			} else {
				eq(t, "body", w.Body.String(), "")
			}
			eq(t, "Allow", w.Header().Get("Allow"), tt.allow)
		})
	}
}

var errSkip = errors.New("not called")
