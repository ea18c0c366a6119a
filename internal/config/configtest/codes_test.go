// Package configtest cross-checks internal/config against the log catalog.
// It holds tests only, so that config and logcat both stay leaf packages.
package configtest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/midgemq/midge/internal/config"
	"github.com/midgemq/midge/internal/logcat"
)

// Every Code the config package can emit has a catalog entry under the same key.
func TestEveryCodeIsCatalogued(t *testing.T) {
	seen := map[config.Code]bool{}
	for _, c := range config.AllCodes() {
		if seen[c] {
			t.Errorf("code %s listed twice", c)
		}
		seen[c] = true
		if logcat.ByKey(string(c)) == nil {
			t.Errorf("no catalog entry for %s", c)
		}
	}
	// And the catalog has no conf./args. entry the package does not emit.
	for _, k := range logcat.Keys() {
		if (strings.HasPrefix(k, "conf.") || strings.HasPrefix(k, "args.")) && !seen[config.Code(k)] {
			t.Errorf("catalog entry %s is not a config code", k)
		}
	}
}

// A real parse error renders to Mosquitto's two lines.
func TestRenderUnknownVariable(t *testing.T) {
	_, err := config.Parse(strings.NewReader("listener 1883\nfoo bar\n"), "bad.conf")
	e, ok := err.(*config.Error)
	if !ok || len(e.Problems) != 1 {
		t.Fatalf("err = %v", err)
	}
	p := e.Problems[0]
	var got []string
	got = append(got, logcat.ByKey(string(p.Code)).Lines(logcat.Dialect20, p.Args...)...)
	for _, at := range p.Positions() {
		got = append(got, logcat.ByKey(string(config.CodeErrorFoundAt)).Lines(logcat.Dialect20, at.File, at.Line)...)
	}
	want := []string{`Error: Unknown configuration variable "foo".`, "Error found at bad.conf:2."}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
