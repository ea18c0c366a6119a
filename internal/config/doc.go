// Package config reads mosquitto.conf files the way Eclipse Mosquitto 2.0.20
// does (reference §2), so that midge can be dropped in with an existing
// configuration: same option names, same value syntax, same defaults (the
// code's, where the man page disagrees) and the same error lines.
//
// Options are rows of one table (directives.go); a second table (notYet)
// names the options midge recognises but does not implement, which are
// rejected instead of silently ignored.
//
// Parsing stops at the first error, as Mosquitto does. Problems and notices
// are reported as Codes plus arguments: the texts live in the log catalog
// (internal/logcat/conf.go), keyed by the Code string, because this package
// is a leaf and imports no other midge package.
package config
