package config

import "fmt"

// MaxCmdPorts is how many -p options Mosquitto accepts.
const MaxCmdPorts = 10

// Args is the parsed command line (reference §2.1).
type Args struct {
	// ConfigFile is the -c file ("" = none: local-only defaults). Mosquitto
	// reads each -c file when it meets it; midge keeps the last one.
	ConfigFile string
	Daemon     bool
	// Ports from -p, used only in local-only mode.
	Ports   []int
	Verbose bool
	// Help: print Usage to stdout and exit with status 3.
	Help bool
	// TestConfig (midge): parse the config, report, exit.
	TestConfig bool
}

// ParseArgs parses the mosquitto command line (args excludes the program
// name). On an unknown option the caller prints the problem on stderr
// without a timestamp, then the usage; every error exits with status 3.
func ParseArgs(args []string) (Args, error) {
	var a Args
	fail := func(c Code, v ...any) (Args, error) {
		return a, &Error{Problems: []Problem{{Code: c, Args: v}}}
	}
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-c", "--config-file":
			if i == len(args)-1 {
				return fail(CodeArgNoConfig)
			}
			i++
			a.ConfigFile = args[i]
		case "-d", "--daemon":
			a.Daemon = true
		case "-h", "--help":
			a.Help = true
			return a, nil
		case "-p", "--port":
			if i == len(args)-1 {
				return fail(CodeArgNoPort)
			}
			i++
			n := atoi(args[i])
			if n < 1 || n > 65535 {
				return fail(CodeArgBadPort, n)
			}
			if len(a.Ports) == MaxCmdPorts {
				return fail(CodeArgTooMany, MaxCmdPorts)
			}
			a.Ports = append(a.Ports, n)
		case "-v", "--verbose":
			a.Verbose = true
		case "--test-config":
			a.TestConfig = true
		default:
			return fail(CodeUnknownOption, args[i])
		}
	}
	return a, nil
}

// ApplyArgs applies the command line's overrides: -v sets every log type.
// (-p ports matter only in local-only mode; see LocalListeners.)
func (c *Config) ApplyArgs(a Args) {
	if a.Verbose {
		c.LogType = LogAll
	}
}

// Usage is the help text printed for -h and after an unknown option.
func Usage(version string) string {
	return fmt.Sprintf(`mosquitto version %s

mosquitto is an MQTT v5.0/v3.1.1/v3.1 broker.

Usage: mosquitto [-c config_file] [-d] [-h] [-p port]

 -c : specify the broker config file.
 -d : put the broker into the background after starting.
 -h : display this help.
 -p : start the broker listening on the specified port.
      Not recommended in conjunction with the -c option.
 -v : verbose mode - enable all logging types. This overrides
      any logging options given in the config file.
 --test-config : parse the config file, report any problem and exit.

See https://mosquitto.org/ for more information.

`, version)
}
