package tus

import (
	"context"
	"net/http"
)

// HookEvent is what a callback or event subscriber learns about a request:
// the upload as it stands and the HTTP request that caused the event.
type HookEvent struct {
	// Context is the request's context; it ends when the request does.
	Context context.Context `json:"-"`
	// Upload is the upload's state. For PreUploadCreateCallback it is the
	// upload about to be created (no ID yet unless the client chose one).
	Upload FileInfo
	// HTTPRequest describes the request.
	HTTPRequest HTTPRequest
}

// HTTPRequest is the part of an http.Request that callbacks see.
type HTTPRequest struct {
	Method     string
	URI        string
	RemoteAddr string
	Header     http.Header
}

// newHookEvent builds the event for r and info.
func newHookEvent(r *http.Request, info FileInfo) HookEvent {
	return HookEvent{
		Context: r.Context(),
		Upload:  info,
		HTTPRequest: HTTPRequest{
			Method:     r.Method,
			URI:        r.RequestURI,
			RemoteAddr: r.RemoteAddr,
			Header:     r.Header,
		},
	}
}

// HTTPResponse lets a callback shape the response. A zero StatusCode keeps
// the handler's status; a non-empty Body replaces the body; Header entries
// are added to the response.
//
// A callback rejects a request by returning a non-nil error. The response is
// then the callback's HTTPResponse if its StatusCode is set, else the status
// of the *Error the error wraps, else 500.
type HTTPResponse struct {
	StatusCode int
	Body       string
	Header     map[string]string
}

// FileInfoChanges are the changes PreUploadCreateCallback may make to a new
// upload. Empty fields leave the upload as the client asked.
type FileInfoChanges struct {
	// ID replaces the generated ID. It must satisfy ValidID and not be taken.
	ID string
	// MetaData, if not nil, replaces the upload's metadata.
	MetaData MetaData
}

// AccessEvent is what AccessCallback decides on.
type AccessEvent struct {
	HookEvent
	// Action names what the request wants: "create", "read-offset"
	// (HEAD), "write" (PATCH), "download" (GET), "terminate" (DELETE) or
	// "concatenate" (a partial named by a final upload).
	Action string
}

// Access actions passed in AccessEvent.Action.
const (
	ActionCreate      = "create"
	ActionReadOffset  = "read-offset"
	ActionWrite       = "write"
	ActionDownload    = "download"
	ActionTerminate   = "terminate"
	ActionConcatenate = "concatenate"
)

// RejectWith returns an error that refuses a request with resp, for the
// callbacks that return only an error (AccessCallback). resp's headers are
// sent (WWW-Authenticate, say); its status and body, if set, replace those
// of err, which is also what the handler logs and matches with errors.Is.
func RejectWith(resp HTTPResponse, err error) error {
	if err == nil {
		err = ErrAccessDenied
	}
	return &callbackError{resp: resp, err: err}
}
