//go:build race

package broker

// raceEnabled: the race detector (and Pebble's invariant checks, which it
// turns on) change heap use, so heap bounds are not asserted.
const raceEnabled = true
