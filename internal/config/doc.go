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

// Known differences from Mosquitto 2.0.20, all deliberate or not yet done:
//   - bind_address is not resolved at parse time, so an unresolvable name is
//     reported when the listener opens instead of as a config error.
//   - A string value over 65535 bytes is reported (conf.value_too_long);
//     Mosquitto fails with only "Error found at".
//   - With several -c options Mosquitto reads every file into one config;
//     midge reads the last.
//   - Options that Mosquitto 2.0.20 only warns about in builds without TLS,
//     bridges or websockets are errors here (conf.not_supported).
