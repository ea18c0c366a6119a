//go:build !linux

package auth

import "io"

// noEcho cannot hide input on this system; the password is read as typed.
func noEcho(io.Reader) func() { return func() {} }
