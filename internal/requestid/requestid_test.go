package requestid

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	for id, want := range map[string]bool{
		"":                               false,
		"abc-DEF_1.2":                    true,
		strings.Repeat("a", MaxLength):   true,
		strings.Repeat("a", MaxLength+1): false,
		"with space":                     false,
		"semi;colon":                     false,
		"caf\u00e9":                      false,
	} {
		if got := Valid(id); got != want {
			t.Errorf("Valid(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestOf(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set(Header, "client-id.1")
	if got := Of(r); got != "client-id.1" {
		t.Errorf("a valid client ID was replaced by %q", got)
	}
	r.Header.Set(Header, "bad id")
	got := Of(r)
	if got == "bad id" || len(got) != 16 || !Valid(got) {
		t.Errorf("an invalid client ID gave %q, want 16 new hex digits", got)
	}
	if New() == New() {
		t.Error("two new IDs are equal")
	}
}
