package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	a, err := ParseArgs([]string{"-c", "m.conf", "-d", "-p", "1884", "--port", "1885", "-v", "--test-config"})
	want := Args{ConfigFile: "m.conf", Daemon: true, Ports: []int{1884, 1885}, Verbose: true, TestConfig: true}
	if err != nil || !reflect.DeepEqual(a, want) {
		t.Fatalf("got %+v, %v", a, err)
	}
	a, err = ParseArgs([]string{"--config-file", "x", "--daemon", "--verbose"})
	if err != nil || a.ConfigFile != "x" || !a.Daemon || !a.Verbose {
		t.Fatalf("long forms: %+v %v", a, err)
	}
	if a, err := ParseArgs([]string{"-h", "--bogus"}); err != nil || !a.Help {
		t.Errorf("-h: %+v %v", a, err)
	}
	if a, err := ParseArgs([]string{"--help"}); err != nil || !a.Help {
		t.Errorf("--help: %+v %v", a, err)
	}

	eleven := []string{}
	for range 11 {
		eleven = append(eleven, "-p", "1")
	}
	for _, tc := range []struct {
		args []string
		code Code
		vals []any
	}{
		{[]string{"-x"}, CodeUnknownOption, []any{"-x"}},
		{[]string{"run"}, CodeUnknownOption, []any{"run"}},
		{[]string{"-p", "0"}, CodeArgBadPort, []any{0}},
		{[]string{"-p", "65536"}, CodeArgBadPort, []any{65536}},
		{[]string{"-p", "abc"}, CodeArgBadPort, []any{0}},
		{[]string{"-p"}, CodeArgNoPort, nil},
		{[]string{"-c"}, CodeArgNoConfig, nil},
		{eleven, CodeArgTooMany, []any{10}},
	} {
		_, err := ParseArgs(tc.args)
		p := problemOf(t, err)
		if p.Code != tc.code || !reflect.DeepEqual(p.Args, tc.vals) || len(p.Positions()) != 0 {
			t.Errorf("%q: got %+v", tc.args, p)
		}
	}
}

func TestApplyArgs(t *testing.T) {
	c := Default()
	c.ApplyArgs(Args{Verbose: true})
	if c.LogType != LogAll {
		t.Errorf("-v: %x", c.LogType)
	}
}

func TestUsage(t *testing.T) {
	u := Usage("2.0.20")
	lines := strings.Split(u, "\n")
	want := []string{"mosquitto version 2.0.20", "", "mosquitto is an MQTT v5.0/v3.1.1/v3.1 broker.", "",
		"Usage: mosquitto [-c config_file] [-d] [-h] [-p port]"}
	if !reflect.DeepEqual(lines[:5], want) {
		t.Errorf("usage starts %q", lines[:5])
	}
	if !strings.Contains(u, "--test-config") {
		t.Error("usage lacks --test-config")
	}
}
