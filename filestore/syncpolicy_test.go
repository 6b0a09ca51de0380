package filestore

import (
	"flag"
	"io"
	"testing"
)

func TestSyncPolicyNames(t *testing.T) {
	for _, p := range []SyncPolicy{SyncFinish, SyncNone} {
		text, err := p.MarshalText()
		if err != nil {
			t.Fatalf("%v.MarshalText: %v", p, err)
		}
		if string(text) != p.String() {
			t.Errorf("MarshalText = %q, String = %q", text, p.String())
		}
		var back SyncPolicy = -1
		if err := back.UnmarshalText(text); err != nil || back != p {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", text, back, err, p)
		}
	}
	if SyncFinish.String() != "finish" || SyncNone.String() != "none" {
		t.Errorf("names are %q and %q, want finish and none", SyncFinish, SyncNone)
	}
	for _, bad := range []string{"", "Finish", "always", "none "} {
		if p, err := ParseSyncPolicy(bad); err == nil {
			t.Errorf("ParseSyncPolicy(%q) = %v, want an error", bad, p)
		}
	}
	if _, err := SyncPolicy(7).MarshalText(); err == nil {
		t.Error("MarshalText of an unknown policy succeeded")
	}
}

func TestSyncPolicyFlag(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var p SyncPolicy
	fs.TextVar(&p, "sync", SyncFinish, "")
	if err := fs.Parse([]string{"-sync", "none"}); err != nil || p != SyncNone {
		t.Errorf("-sync none gives %v, %v", p, err)
	}
	if err := fs.Parse([]string{"-sync", "sometimes"}); err == nil {
		t.Error("-sync sometimes was accepted")
	}
}

func TestNewWithSyncPolicy(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		opts   Options
		noSync bool
	}{
		{Options{}, false},
		{Options{Sync: SyncFinish}, false},
		{Options{Sync: SyncNone}, true},
		{Options{NoSync: true}, true},
	} {
		s, err := NewWithOptions(dir, c.opts)
		if err != nil {
			t.Fatalf("NewWithOptions(%+v): %v", c.opts, err)
		}
		if s.noSync != c.noSync {
			t.Errorf("NewWithOptions(%+v) skips fsync: %v, want %v", c.opts, s.noSync, c.noSync)
		}
	}
	if _, err := NewWithOptions(dir, Options{Sync: SyncPolicy(9)}); err == nil {
		t.Error("NewWithOptions with an unknown policy succeeded")
	}
}
