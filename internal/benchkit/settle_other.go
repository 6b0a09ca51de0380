//go:build !unix || aix

package benchkit

// SettleDisk does nothing where sync(2) is missing.
func SettleDisk() {}
