//go:build !unix || aix

package main

// settleDisk does nothing where sync(2) is missing.
func settleDisk() {}
