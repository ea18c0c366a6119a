package logread

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
)

const usage = `usage: midge logs explain|json|summary [--lang en|zh] [--json] [-f] [FILE|-]

  explain   every line with its time made human and a plain explanation
  json      one JSON object per line (time, event, client, address, port, fields)
  summary   connections, disconnect reasons, incomplete QoS 1/2 handshakes,
            topics, connections per minute, busiest clients
  --lang    explanation language: en (default) or zh
  --json    summary as JSON instead of text tables
  -f        follow FILE as it grows (explain and json)
  FILE      a log file; - or nothing reads standard input
`

// options are the parsed arguments of `midge logs`.
type options struct {
	cmd    string
	lang   Lang
	json   bool
	follow bool
	file   string
}

func parseArgs(args []string) (options, error) {
	o := options{file: "-"}
	files := 0
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--lang" || a == "-lang":
			if i+1 == len(args) {
				return o, fmt.Errorf("--lang needs en or zh")
			}
			i++
			if err := o.setLang(args[i]); err != nil {
				return o, err
			}
		case len(a) > 7 && a[:7] == "--lang=":
			if err := o.setLang(a[7:]); err != nil {
				return o, err
			}
		case a == "--json" || a == "-json":
			o.json = true
		case a == "-f" || a == "--follow":
			o.follow = true
		case a == "-h" || a == "--help" || a == "help":
			return o, errHelp
		case o.cmd == "":
			if a != "explain" && a != "json" && a != "summary" {
				return o, fmt.Errorf("unknown subcommand %q", a)
			}
			o.cmd = a
		case a != "-" && len(a) > 1 && a[0] == '-':
			return o, fmt.Errorf("unknown flag %q", a)
		default:
			files++
			o.file = a
		}
	}
	switch {
	case o.cmd == "":
		return o, fmt.Errorf("missing subcommand")
	case files > 1:
		return o, fmt.Errorf("only one FILE may be given")
	case o.follow && o.cmd == "summary":
		return o, fmt.Errorf("-f works with explain and json, not summary")
	case o.json && o.cmd != "summary":
		return o, fmt.Errorf("--json is for summary; use `midge logs json` for lines")
	}
	return o, nil
}

var errHelp = fmt.Errorf("help")

func (o *options) setLang(s string) error {
	switch s {
	case "en":
		o.lang = English
	case "zh", "zh-CN", "cn":
		o.lang = Chinese
	default:
		return fmt.Errorf("unknown language %q (en or zh)", s)
	}
	return nil
}

// Main runs `midge logs ARGS...` (ARGS excludes "logs"): subcommands
// explain, json, summary; flags --lang en|zh, --json (summary), -f (follow),
// FILE or - (stdin). Returns the exit status: 0 ok, 1 read error, 2 usage.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return run(ctx, args, stdin, stdout, stderr)
}

// run is Main with a context that ends -f.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := parseArgs(args)
	if err == errHelp {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "midge logs: %v\n%s", err, usage)
		return 2
	}
	in := stdin
	if o.file != "-" {
		f, err := os.Open(o.file)
		if err != nil {
			fmt.Fprintf(stderr, "midge logs: %v\n", err)
			return 1
		}
		defer f.Close()
		in = f
	}
	bw := bufio.NewWriterSize(stdout, 64<<10)
	var emit func(*Record) error
	var sum *Summary
	var buf []byte
	switch o.cmd {
	case "explain":
		emit = func(r *Record) error { return writeExplained(bw, r, o.lang) }
	case "json":
		emit = func(r *Record) error { return writeJSON(bw, r, &buf) }
	case "summary":
		sum = NewSummary()
		emit = func(r *Record) error { sum.Add(r); return nil }
	}
	if o.follow { // flush after each line so that output appears as lines arrive
		inner := emit
		emit = func(r *Record) error {
			if err := inner(r); err != nil {
				return err
			}
			return bw.Flush()
		}
	}
	err = stream(ctx, in, o.follow, emit)
	if err == nil && sum != nil {
		rep := sum.Report()
		if o.json {
			err = rep.WriteJSON(bw)
		} else {
			err = rep.WriteText(bw)
		}
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		fmt.Fprintf(stderr, "midge logs: %v\n", err)
		return 1
	}
	return 0
}
