// Package logread reads Mosquitto (1.3 to 2.0) and midge broker logs and
// explains, converts or summarises them: it is `midge logs`.
//
// A log is read as a stream of physical lines (bounded length, never the whole
// file). Each physical line is cut into records at every glued
// "<10-digit epoch>: " boundary, because logs copied from web pages often lose
// their newlines. Each record has an optional timestamp prefix (epoch seconds
// or any log_timestamp_format output) and a message, which is matched against
// a table of line forms. The forms come from internal/logcat (whose keys are
// the event names) plus the 1.x, bridge and Appendix A forms the catalog does
// not hold (see forms.go and docs/LOGS.md).
//
// Some lines only have a meaning in context: the tab-indented filter lines and
// the "<client> <qos> <filter>" lines belong to the preceding
// "Received SUBSCRIBE/UNSUBSCRIBE from" line and the tab-indented will topic
// belongs to "Will message specified". A Parser keeps that small context per
// stream. Lines that match no form are kept with event "unknown".
//
// Invariants: parsing never panics on any input (fuzzed); memory is bounded
// by the maximum line length plus the capped summary state.
package logread
