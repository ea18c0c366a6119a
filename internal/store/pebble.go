package store

import (
	"errors"
	"os"

	"github.com/cockroachdb/pebble/v2"
)

// pebbleEngine is the Engine on github.com/cockroachdb/pebble/v2: a
// log-structured merge tree with a write-ahead log, checksummed blocks and
// atomic batches, used in production by CockroachDB.
type pebbleEngine struct {
	db *pebble.DB
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	pebble.DefaultLogger.Fatalf(format, args...)
}

// Exists reports whether dir holds a store.
func Exists(dir string) bool {
	_, err := os.Stat(dir + "/CURRENT")
	if err == nil {
		return true
	}
	// Pebble names its manifest marker differently across versions.
	ents, err := os.ReadDir(dir)
	return err == nil && len(ents) > 0
}

// OpenPebble opens (creating if needed) a Pebble store in dir.
func OpenPebble(dir string) (Engine, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	o := &pebble.Options{Logger: quietLogger{}}
	db, err := pebble.Open(dir, o)
	if err != nil {
		return nil, err
	}
	return &pebbleEngine{db: db}, nil
}

// Open opens the Pebble store in dir with the group committer.
func Open(dir string, o Options) (*DB, error) {
	eng, err := OpenPebble(dir)
	if err != nil {
		return nil, err
	}
	return New(eng, o), nil
}

func (e *pebbleEngine) Apply(ops []Op, sync bool) error {
	b := e.db.NewBatch()
	defer b.Close()
	for _, op := range ops {
		var err error
		switch op.Kind {
		case Set:
			err = b.Set(op.Key, op.Value, nil)
		case Delete:
			err = b.Delete(op.Key, nil)
		case DeleteRange:
			err = b.DeleteRange(op.Key, op.End, nil)
		}
		if err != nil {
			return err
		}
	}
	wo := pebble.NoSync
	if sync {
		wo = pebble.Sync
	}
	return b.Commit(wo)
}

func (e *pebbleEngine) Sync() error {
	// An empty synced log record makes every earlier write durable.
	return e.db.LogData(nil, pebble.Sync)
}

func (e *pebbleEngine) Iterate(prefix []byte, fn func(k, v []byte) error) error {
	return e.IterateFrom(prefix, prefix, fn)
}

func (e *pebbleEngine) IterateFrom(prefix, start []byte, fn func(k, v []byte) error) error {
	if string(start) < string(prefix) {
		start = prefix
	}
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: PrefixEnd(prefix)})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			it.Close()
			return err
		}
	}
	return errors.Join(it.Error(), it.Close())
}

func (e *pebbleEngine) Get(key []byte) ([]byte, bool, error) {
	v, c, err := e.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := append([]byte(nil), v...)
	c.Close()
	return out, true, nil
}

func (e *pebbleEngine) Close() error { return e.db.Close() }

// DiskSize is the space the store's files take: tables, logs, manifests.
func (e *pebbleEngine) DiskSize() uint64 { return e.db.Metrics().DiskSpaceUsage() }
