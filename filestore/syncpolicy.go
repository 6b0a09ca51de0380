package filestore

import "fmt"

// SyncPolicy says when a FileStore forces what it wrote to the disk with
// fsync(2). The zero value is SyncFinish.
type SyncPolicy int

const (
	// SyncFinish, the default, fsyncs an upload's data file, its info file
	// and the directory before FinishUpload returns, and the info file and
	// the directory before DeclareLength returns. The handler completes an
	// upload, and answers the request that completed it, only after that,
	// so an acknowledged upload survives a power loss or a kernel crash.
	// Bytes of an unfinished upload are not fsynced: after a power loss its
	// offset may be lower than the last one acknowledged, and the client
	// resumes from there.
	SyncFinish SyncPolicy = iota
	// SyncNone never fsyncs. Uploads survive a crash of the process, whose
	// writes the kernel already holds, but a power loss or a kernel crash
	// may lose or truncate uploads that were acknowledged as complete,
	// including their info files. Use it only where that is acceptable,
	// or where the storage is volatile anyway (tmpfs).
	SyncNone
)

// String returns the policy's name as ParseSyncPolicy takes it: "finish" or
// "none".
func (p SyncPolicy) String() string {
	switch p {
	case SyncFinish:
		return "finish"
	case SyncNone:
		return "none"
	}
	return fmt.Sprintf("SyncPolicy(%d)", int(p))
}

// ParseSyncPolicy returns the policy named s, "finish" or "none".
func ParseSyncPolicy(s string) (SyncPolicy, error) {
	switch s {
	case "finish":
		return SyncFinish, nil
	case "none":
		return SyncNone, nil
	}
	return 0, fmt.Errorf("filestore: unknown sync policy %q (want finish or none)", s)
}

// MarshalText implements encoding.TextMarshaler with the policy's name.
func (p SyncPolicy) MarshalText() ([]byte, error) {
	if p != SyncFinish && p != SyncNone {
		return nil, fmt.Errorf("filestore: unknown sync policy %d", int(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseSyncPolicy,
// so a policy can be a flag.TextVar.
func (p *SyncPolicy) UnmarshalText(b []byte) error {
	v, err := ParseSyncPolicy(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}
