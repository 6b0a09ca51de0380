package tus

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
)

func TestForwardedOrigin(t *testing.T) {
	tests := []struct {
		name   string
		hdr    map[string]string
		scheme string
		host   string
	}{
		{"none", nil, "http", "orig.example"},
		{"x-forwarded", map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "a.example"}, "https", "a.example"},
		{"x-forwarded lists", map[string]string{"X-Forwarded-Proto": " HTTPS , http", "X-Forwarded-Host": " a.example:8443 ,b"}, "https", "a.example:8443"},
		{"x-forwarded proto only", map[string]string{"X-Forwarded-Proto": "https"}, "https", "orig.example"},
		{"x-forwarded bad proto", map[string]string{"X-Forwarded-Proto": "gopher"}, "http", "orig.example"},
		{"x-forwarded bad host", map[string]string{"X-Forwarded-Host": "a.example/evil"}, "http", "orig.example"},
		{"x-forwarded host with userinfo", map[string]string{"X-Forwarded-Host": "user@a.example"}, "http", "orig.example"},
		{"forwarded", map[string]string{"Forwarded": "for=1.2.3.4;proto=https;host=f.example"}, "https", "f.example"},
		{"forwarded quoted, mixed case", map[string]string{"Forwarded": `Proto="HTTPS"; HOST="f.example:444"`}, "https", "f.example:444"},
		{"forwarded first element only", map[string]string{"Forwarded": "host=first.example, host=second.example;proto=https"}, "http", "first.example"},
		{"forwarded wins", map[string]string{"Forwarded": "proto=https", "X-Forwarded-Host": "x.example"}, "https", "orig.example"},
		{"forwarded garbage", map[string]string{"Forwarded": "garbage;;=;host=\"a b\""}, "http", "orig.example"},
		{"forwarded ipv6", map[string]string{"Forwarded": `host="[::1]:8080"`}, "http", "[::1]:8080"},
		{"forwarded too long host", map[string]string{"Forwarded": "host=" + strings.Repeat("a", 256)}, "http", "orig.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodPost, "http://orig.example/files/", nil)
			for k, v := range tt.hdr {
				r.Header.Set(k, v)
			}
			scheme, host := forwardedOrigin(r, "http", "orig.example")
			if scheme != tt.scheme || host != tt.host {
				t.Errorf("forwardedOrigin = %s, %s; want %s, %s", scheme, host, tt.scheme, tt.host)
			}
		})
	}
}

func TestUploadURL(t *testing.T) {
	mk := func(bp string, forward bool) *Handler {
		h := &Handler{cfg: Config{BasePath: bp, RespectForwardedHeaders: forward}}
		h.baseOrigin, h.basePath = splitBasePath(bp)
		return h
	}
	r, _ := http.NewRequest(http.MethodPost, "http://orig.example:81/files/", nil)
	r.Header.Set("X-Forwarded-Host", "proxy.example")
	if got, want := mk("/files/", false).uploadURL(r, "abc"), "http://orig.example:81/files/abc"; got != want {
		t.Errorf("uploadURL = %q, want %q", got, want)
	}
	if got, want := mk("/files/", true).uploadURL(r, "abc"), "http://proxy.example/files/abc"; got != want {
		t.Errorf("uploadURL = %q, want %q", got, want)
	}
	if got, want := mk("https://cdn.example/u/", true).uploadURL(r, "abc"), "https://cdn.example/u/abc"; got != want {
		t.Errorf("uploadURL = %q, want %q", got, want)
	}
	r.TLS = &tls.ConnectionState{}
	if got, want := mk("/files/", false).uploadURL(r, "abc"), "https://orig.example:81/files/abc"; got != want {
		t.Errorf("uploadURL = %q, want %q", got, want)
	}
}

func TestSplitBasePath(t *testing.T) {
	for bp, want := range map[string][2]string{
		"/files/":                     {"", "/files/"},
		"https://x.example/up/files/": {"https://x.example", "/up/files/"},
		"https://x.example":           {"https://x.example", "/"},
	} {
		if origin, path := splitBasePath(bp); origin != want[0] || path != want[1] {
			t.Errorf("splitBasePath(%q) = %q, %q, want %q, %q", bp, origin, path, want[0], want[1])
		}
	}
}

func TestContentDisposition(t *testing.T) {
	tests := []struct {
		inline bool
		meta   MetaData
		want   string
	}{
		{false, nil, "attachment"},
		{true, MetaData{"filename": "a.png"}, `inline; filename="a.png"; filename*=UTF-8''a.png`},
		{false, MetaData{"name": "n.bin"}, `attachment; filename="n.bin"; filename*=UTF-8''n.bin`},
		{false, MetaData{"filename": "f", "name": "n"}, `attachment; filename="f"; filename*=UTF-8''f`},
		{false, MetaData{"filename": "日本.txt"}, `attachment; filename="__.txt"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt`},
		{false, MetaData{"filename": "C:\\Users\\x\\a b.txt"}, `attachment; filename="a b.txt"; filename*=UTF-8''a%20b.txt`},
		{false, MetaData{"filename": "!#$&+-.^_`|~"}, "attachment; filename=\"!#$&+-.^_`|~\"; filename*=UTF-8''!#$&+-.^_`|~"},
		{false, MetaData{"filename": "\x01\x02"}, "attachment"},
	}
	for _, tt := range tests {
		if got := contentDisposition(tt.inline, tt.meta); got != tt.want {
			t.Errorf("contentDisposition(%v, %v) = %q, want %q", tt.inline, tt.meta, got, tt.want)
		}
	}
}
