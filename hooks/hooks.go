package hooks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/tusgo/tus"
)

// Type names a hook event, spelled as tusd spells it; it is also the name
// of the program a file hook runs.
type Type string

// Hook types.
const (
	// PreCreate runs before an upload is created (blocking). It may reject
	// the creation or change the upload's ID and metadata.
	PreCreate Type = "pre-create"
	// PostCreate runs after an upload is created.
	PostCreate Type = "post-create"
	// PostReceive runs as bytes of an upload arrive, at most once per
	// tus.Config.ProgressInterval per request, and when a request's body
	// ends. It may stop the upload.
	PostReceive Type = "post-receive"
	// PreFinish runs after the last byte is stored and before the response
	// is sent (blocking); its HTTPResponse is merged into the response.
	PreFinish Type = "pre-finish"
	// PostFinish runs after an upload is complete.
	PostFinish Type = "post-finish"
	// PreTerminate runs before an upload is deleted (blocking) and may
	// reject the deletion.
	PreTerminate Type = "pre-terminate"
	// PostTerminate runs after an upload is deleted.
	PostTerminate Type = "post-terminate"
	// PreAccess runs on every request that names an upload, and on the
	// creation of one (blocking); it may refuse the request.
	PreAccess Type = "pre-access"
)

// AllTypes returns every hook type, in the order of an upload's life. The
// slice is new on every call; the caller may modify it.
func AllTypes() []Type {
	return []Type{PreAccess, PreCreate, PostCreate, PostReceive, PreFinish, PostFinish, PreTerminate, PostTerminate}
}

// DefaultEnabled returns the hook types the reference server tusd enables
// by default: pre-create, post-create, post-receive, post-terminate and
// post-finish. The slice is new on every call.
func DefaultEnabled() []Type {
	return []Type{PreCreate, PostCreate, PostReceive, PostTerminate, PostFinish}
}

// Blocking reports whether hooks of type t run on the request path and can
// change its outcome.
func (t Type) Blocking() bool {
	switch t {
	case PreCreate, PreFinish, PreTerminate, PreAccess:
		return true
	}
	return false
}

// valid reports whether t is a known hook type.
func (t Type) valid() bool {
	return slices.Contains(AllTypes(), t)
}

// ParseTypes parses a comma-separated list of hook types, such as
// "pre-create,post-finish" (the form of tusd's -hooks-enabled-events flag). Spaces around names and empty items
// are ignored, duplicates are kept once, and an empty list enables no
// hook. An unknown name is an error that lists the valid ones.
func ParseTypes(csv string) ([]Type, error) {
	var types []Type
	seen := make(map[Type]bool)
	for _, item := range strings.Split(csv, ",") {
		t := Type(strings.TrimSpace(item))
		if t == "" || seen[t] {
			continue
		}
		if !t.valid() {
			return nil, fmt.Errorf("unknown hook event %q; valid events are %s", t, joinTypes(AllTypes()))
		}
		seen[t] = true
		types = append(types, t)
	}
	return types, nil
}

// joinTypes returns types as a comma-separated list.
func joinTypes(types []Type) string {
	s := make([]string, len(types))
	for i, t := range types {
		s[i] = string(t)
	}
	return strings.Join(s, ",")
}

// Request is what a hook receives, as JSON: the hook's type and the event.
type Request struct {
	// Type is the hook's type.
	Type Type `json:"Type"`
	// Event describes what happened.
	Event Event `json:"Event"`
}

// Event is the event a hook is told of.
type Event struct {
	// Upload is the upload's state. For pre-create it is the upload about
	// to be created.
	Upload tus.FileInfo `json:"Upload"`
	// HTTPRequest is the request that caused the event.
	HTTPRequest tus.HTTPRequest `json:"HTTPRequest"`
	// Access is set for pre-access hooks only.
	Access *Access `json:"Access,omitempty"`
	// Expired is set for post-terminate hooks when the upload was removed
	// because it expired (the expiry sweep), not by a request; then
	// HTTPRequest is empty.
	Expired bool `json:"Expired,omitempty"`
}

// Access describes what a request wants of an upload, for pre-access
// hooks.
type Access struct {
	// Mode is "read" (reading the offset, downloading, or using a partial
	// upload in a concatenation) or "write" (creating, writing or
	// terminating), as in tusd.
	Mode string `json:"Mode"`
	// Action is the finer-grained tus.AccessEvent action ("create",
	// "read-offset", "write", "download", "terminate" or "concatenate");
	// tusd does not send it.
	Action string `json:"Action"`
	// Files holds the upload the request names.
	Files []tus.FileInfo `json:"Files"`
}

// Access modes, the values of Access.Mode.
const (
	// ModeRead: the request reads the upload (HEAD, GET, or a final
	// upload naming it as a partial).
	ModeRead = "read"
	// ModeWrite: the request creates, writes or terminates the upload.
	ModeWrite = "write"
)

// Response is a hook's answer, decoded from JSON. Every field is optional;
// the zero Response accepts. Fields a hook type does not use are ignored.
type Response struct {
	// HTTPResponse shapes the client's response: merged into it when the
	// request goes on, used as it when a hook rejects it.
	HTTPResponse tus.HTTPResponse `json:"HTTPResponse"`
	// RejectUpload refuses the creation (pre-create).
	RejectUpload bool `json:"RejectUpload"`
	// ChangeFileInfo changes the upload about to be created (pre-create).
	ChangeFileInfo FileInfoChanges `json:"ChangeFileInfo"`
	// StopUpload stops the upload and terminates it (post-receive).
	StopUpload bool `json:"StopUpload"`
	// RejectTermination refuses the termination (pre-terminate).
	RejectTermination bool `json:"RejectTermination"`
	// RejectAccess refuses the request (pre-access).
	RejectAccess bool `json:"RejectAccess"`
}

// FileInfoChanges are the changes a pre-create hook may ask for.
type FileInfoChanges struct {
	// ID, if not empty, replaces the generated upload ID.
	ID string `json:"ID"`
	// MetaData, if not nil, replaces the upload's metadata.
	MetaData tus.MetaData `json:"MetaData"`
	// Storage is accepted for compatibility with tusd but not supported:
	// the stores choose where uploads go. A hook that sets it gets a
	// warning in the log.
	Storage map[string]string `json:"Storage"`
}

// Backend invokes hooks. Invoke runs the hook for req.Type and returns its
// answer; it must be safe for concurrent use and return when ctx ends. An
// error means the hook failed (and is logged and counted by the
// Dispatcher), except ErrNoHook.
type Backend interface {
	Invoke(ctx context.Context, req Request) (Response, error)
}

// ErrNoHook is returned by a Backend that has no hook for the request's
// type (a file hook whose program does not exist). The Dispatcher treats it
// as an empty answer and does not count it as an invocation.
var ErrNoHook = errors.New("hooks: no hook for this event")

// Protocol errors sent to clients when a hook refuses a request.
var (
	// ErrUploadRejected (400): a pre-create hook rejected the upload.
	ErrUploadRejected = tus.NewError(http.StatusBadRequest, "ERR_UPLOAD_REJECTED", "upload creation was rejected by the server")
	// ErrTerminationRejected (400): a pre-terminate hook rejected the
	// termination.
	ErrTerminationRejected = tus.NewError(http.StatusBadRequest, "ERR_UPLOAD_TERMINATION_REJECTED", "upload termination was rejected by the server")
)
