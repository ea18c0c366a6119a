package app

import (
	"errors"
	"os"
	"time"

	"github.com/midgemq/midge/internal/logcat"
	"github.com/midgemq/midge/internal/mosqdb"
	"github.com/midgemq/midge/internal/store"
)

// Persistence (issue 4): with `persistence true` midge keeps its state in a
// Pebble store next to where Mosquitto keeps mosquitto.db:
// persistence_location/persistence_file + ".midge" (a directory). State is
// restored before the listeners open. A mosquitto.db at the configured path
// is imported when midge has no store of its own yet.

// storeDir returns the store directory for the config.
func (r *runner) storeDir() string { return r.cfg.PersistenceFilePath() + ".midge" }

// openStore opens the store, imports a mosquitto.db if there is one and no
// store yet, and restores the broker's state. It returns an exit status
// (0 = go on).
func (r *runner) openStore() int {
	if !r.cfg.Persistence {
		return 0
	}
	dir := r.storeDir()
	fresh := !store.Exists(dir)
	o := store.Options{}
	if r.cfg.PersistenceSync == "periodic" {
		o.Sync = store.SyncPeriodic
	}
	db, err := store.Open(dir, o)
	if err != nil {
		r.log.Log(logcat.PersistError, err.Error())
		return exitFail
	}
	r.srv.SetStore(db)
	if fresh {
		r.importMosquitto(db)
	}
	res, err := r.srv.Restore(time.Now().Unix())
	if err != nil {
		r.log.Log(logcat.PersistError, err.Error())
		db.Close()
		return exitFail
	}
	r.log.Log(logcat.PersistRestored, res.Retained, res.Sessions, res.Subscriptions, res.Queued, res.Inflight, res.Inbound, dir)
	return 0
}

// saveStore is SIGUSR1 and shutdown: Mosquitto's line, then a sync.
func (r *runner) saveStore() {
	if r.srv == nil || r.srv.Store() == nil {
		return
	}
	r.log.Log(logcat.PersistSaving, r.storeDir())
	if err := r.srv.SaveStore(); err != nil {
		r.log.Log(logcat.PersistError, err.Error())
	}
}

// closeStore closes the store after the broker stopped.
func (r *runner) closeStore() {
	if r.srv == nil || r.srv.Store() == nil {
		return
	}
	if err := r.srv.Store().Close(); err != nil {
		r.log.Log(logcat.PersistError, err.Error())
	}
}

// importMosquitto imports persistence_file if it is a Mosquitto database.
func (r *runner) importMosquitto(db *store.DB) {
	path := r.cfg.PersistenceFilePath()
	if _, err := os.Stat(path); err != nil {
		return
	}
	mdb, err := mosqdb.ReadFile(path)
	if err != nil {
		var ve *mosqdb.VersionError
		switch {
		case errors.Is(err, mosqdb.ErrEmpty):
			r.log.Log(logcat.PersistEmpty)
		case errors.Is(err, mosqdb.ErrUnrecognised):
			r.log.Log(logcat.PersistUnrecognised)
		case errors.As(err, &ve):
			r.log.Log(logcat.PersistBadVersion, ve.Got, mosqdb.Version)
		default:
			r.log.Log(logcat.PersistImportFailed, path, err.Error())
		}
		return
	}
	for _, w := range mdb.Warnings {
		switch w.Key {
		case "persist.unsupported_chunk":
			r.log.Log(logcat.PersistUnsupChunk, w.Arg)
		case "persist.client_msg_no_client":
			r.log.Log(logcat.PersistNoClient)
		}
	}
	ops := mdb.Ops(time.Now().Unix(), 0)
	ops = append(ops, store.Op{Key: store.MetaKey("imported"), Value: []byte(path)})
	if err := db.Wait(db.Enqueue(ops...)); err != nil {
		r.log.Log(logcat.PersistImportFailed, path, err.Error())
		return
	}
	ret, sess, subs, queued := mdb.Counts()
	r.log.Log(logcat.PersistImported, path, ret, sess, subs, queued)
}
