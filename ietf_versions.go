package tus

import (
	"strconv"
	"strings"
)

// The IETF resumable upload protocol (draft-ietf-httpbis-resumable-upload)
// is identified per request by its interop version, which the drafts bump
// for breaking changes. The versions and the drafts that define them:
//
//	3  draft -01        Upload-Incomplete; 104 with Location
//	4  draft -02        Upload-Complete replaces Upload-Incomplete
//	5  draft -03        progress in further 104 responses (Upload-Offset)
//	6  drafts -04, -05  application/partial-upload appends, Upload-Limit
//	                    (expires=; sent in the 104 with Location, in
//	                    creation, append and HEAD responses, OPTIONS and
//	                    413s), problem types for a mismatching offset and a
//	                    completed upload; -05 adds Upload-Length
//	7  drafts -06..-08  Upload-Limit max-age= (was expires=), problem type
//	                    for an inconsistent length, Upload-Complete required
//	                    on appends and in their responses (204), HEAD and
//	                    DELETE no longer refuse state headers, invalid
//	                    Upload-Length/Upload-Complete values are ignored
//	8  drafts -09..-12  content appended to a completed upload is an
//	                    inconsistent length (not a completed upload)
//
// From version 6, an empty completing append to an upload that already
// holds its whole length succeeds (see ietfAppend).
const (
	// IETFMinInteropVersion is the oldest interop version served.
	IETFMinInteropVersion = 3
	// IETFMaxInteropVersion is the newest interop version served.
	IETFMaxInteropVersion = 8
)

// ietfVersion is an interop version this server speaks, 3 to 8.
type ietfVersion int

// completeHeader names the header that carries completeness: the inverse
// Upload-Incomplete in version 3, Upload-Complete from version 4.
func (v ietfVersion) completeHeader() string {
	if v == 3 {
		return "Upload-Incomplete"
	}
	return "Upload-Complete"
}

// completeValue is the completeness header's value for complete.
func (v ietfVersion) completeValue(complete bool) string {
	if v == 3 {
		complete = !complete
	}
	return formatBool(complete)
}

// progress reports whether the draft lets the server send progress in
// further 104 responses while it reads content (draft -03 on).
func (v ietfVersion) progress() bool { return v >= 5 }

// partialUploadType reports whether appends must carry Content-Type
// application/partial-upload (draft -04 on).
func (v ietfVersion) partialUploadType() bool { return v >= 6 }

// limits reports whether the draft defines Upload-Limit (draft -04 on).
func (v ietfVersion) limits() bool { return v >= 6 }

// lengthHeader reports whether the draft defines the Upload-Length header
// (draft -05; interop version 6 covers -04 and -05, so 6 accepts it).
func (v ietfVersion) lengthHeader() bool { return v >= 6 }

// problems reports whether the mismatching-offset and completed-upload
// problem types exist (draft -04 on).
func (v ietfVersion) problems() bool { return v >= 6 }

// lengthProblem reports whether the inconsistent-upload-length problem type
// exists (draft -06 on).
func (v ietfVersion) lengthProblem() bool { return v >= 7 }

// ignoresInvalidFields reports whether an Upload-Length or Upload-Complete
// value that is not a valid structured-field Integer or Boolean is ignored,
// as if the header were absent ("Other values MUST cause the entire header
// field to be ignored", draft -06 on); earlier drafts' servers refuse it.
func (v ietfVersion) ignoresInvalidFields() bool { return v >= 7 }

// completedAppendInconsistent reports whether an append with content to a
// completed upload is an inconsistent length rather than a completed upload
// (draft -10 on, Upload Append, Server Behavior).
func (v ietfVersion) completedAppendInconsistent() bool { return v >= 8 }

// ageKey is the Upload-Limit key for the upload's remaining lifetime:
// expires in drafts -04/-05, max-age from -06.
func (v ietfVersion) ageKey() string {
	if v >= 7 {
		return "max-age"
	}
	return "expires"
}

// appendStatus is the status of a successful append: drafts up to -05 ask
// for 201 Created, later ones show 204 No Content.
func (v ietfVersion) appendStatus() int {
	if v >= 7 {
		return 204
	}
	return 201
}

// rejectsStateHeaders reports whether offset retrieval and cancellation
// must refuse requests carrying Upload-Offset or completeness (drafts up to
// -05; -06 dropped the rule).
func (v ietfVersion) rejectsStateHeaders() bool { return v <= 6 }

// requiresComplete reports whether appends must carry Upload-Complete
// (draft -06 on); before, an append without it did not complete the upload
// (in version 3, one without Upload-Incomplete did).
func (v ietfVersion) requiresComplete() bool { return v >= 7 }

// parseInteropVersion parses an Upload-Draft-Interop-Version value (a
// structured-field Integer) and reports whether it is one we speak.
func parseInteropVersion(s string) (ietfVersion, bool) {
	n, ok := parseSFInteger(s)
	if !ok || n < IETFMinInteropVersion || n > IETFMaxInteropVersion {
		return 0, false
	}
	return ietfVersion(n), true
}

// sfItem returns the bare item of a structured-field Item, without its
// parameters (RFC 9651 section 3.3), and whether there is one.
func sfItem(s string) (string, bool) {
	s = strings.Trim(s, " \t")
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = strings.TrimRight(s[:i], " \t")
	}
	return s, s != ""
}

// parseSFInteger parses a non-negative structured-field Integer (at most
// 15 digits, RFC 9651 section 3.3.1); parameters are ignored.
func parseSFInteger(s string) (int64, bool) {
	item, ok := sfItem(s)
	if !ok || len(item) > 15 {
		return 0, false
	}
	return parseUint(item)
}

// parseSFBoolean parses a structured-field Boolean ("?1" or "?0");
// parameters are ignored.
func parseSFBoolean(s string) (value, ok bool) {
	item, _ := sfItem(s)
	switch item {
	case "?1":
		return true, true
	case "?0":
		return false, true
	}
	return false, false
}

// formatBool formats a structured-field Boolean.
func formatBool(b bool) string {
	if b {
		return "?1"
	}
	return "?0"
}

// ietfLimits formats Upload-Limit for version v: max-size from
// Config.MaxSize and the remaining lifetime in seconds (ttl, when positive).
// A server without limits says min-size=0, as draft -05 asks, rather than
// sending an empty dictionary.
func (h *Handler) ietfLimits(v ietfVersion, ttl int64) string {
	var parts []string
	if h.cfg.MaxSize > 0 {
		parts = append(parts, "max-size="+formatInt(h.cfg.MaxSize))
	}
	if ttl > 0 {
		parts = append(parts, v.ageKey()+"="+strconv.FormatInt(ttl, 10))
	}
	if len(parts) == 0 {
		return "min-size=0"
	}
	return strings.Join(parts, ", ")
}
