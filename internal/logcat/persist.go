package logcat

// Persistence lines (reference §1.13) and midge's own lines about its store
// (issue 4). Mosquitto logs nothing after a successful restore; midge says
// what it restored, so an operator can see that state survived a restart.
var (
	// path
	PersistSaving = def(&Entry{Key: "persist.saving", Level: Info, V20: "Saving in-memory database to %s."})
	// strerror-like text
	PersistError = def(&Entry{Key: "persist.error", Level: Err, V20: "Error: %s."})
	// retained, sessions, subscriptions, queued, in flight, inbound QoS 2, path
	PersistRestored = def(&Entry{Key: "persist.restored", Level: Info,
		V20: "Restored %d retained messages, %d sessions, %d subscriptions, %d queued, %d in-flight and %d incoming QoS 2 messages from %s."})
	// error text
	PersistWriteFailed = def(&Entry{Key: "persist.write_failed", Level: Err,
		V20: "Error: persistent store write failed (%s); refusing QoS 1 and 2 messages and subscriptions until restarted."})
	// path, retained, sessions, subscriptions, queued messages
	PersistImported = def(&Entry{Key: "persist.imported", Level: Info,
		V20: "Imported Mosquitto database %s: %d retained messages, %d sessions, %d subscriptions, %d queued messages."})
	// path, error text
	PersistImportFailed = def(&Entry{Key: "persist.import_failed", Level: Err,
		V20: "Error: Unable to import Mosquitto database %s: %s."})
	// Mosquitto's warnings and errors while reading a mosquitto.db.
	PersistEmpty        = def(&Entry{Key: "persist.empty", Level: Warning, V20: "Warning: Persistence file is empty."})
	PersistUnsupChunk   = def(&Entry{Key: "persist.unsupported_chunk", Level: Warning, V20: "Warning: Unsupported chunk \"%d\" in persistent database file. Ignoring."})
	PersistNoClient     = def(&Entry{Key: "persist.client_msg_no_client", Level: Warning, V20: "Warning: Persistence file contains client message with no matching client. File may be corrupt."})
	PersistBadVersion   = def(&Entry{Key: "persist.bad_version", Level: Err, V20: "Error: Unsupported persistent database format version %d (need version %d)."})
	PersistUnrecognised = def(&Entry{Key: "persist.unrecognised", Level: Err, V20: "Error: Unable to restore persistent database. Unrecognised file format."})
)
