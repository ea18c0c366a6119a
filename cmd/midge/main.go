// Command midge is an MQTT broker that is a drop-in replacement for Eclipse
// Mosquitto: same command line, configuration file and log lines.
//
//	midge [-c config_file] [-d] [-h] [-p port] [-v] [--test-config]
//	midge logs explain|json|summary [FILE|-]
package main

import (
	"os"

	"github.com/midgemq/midge/internal/app"
)

func main() {
	os.Exit(app.Main(os.Args[1:]))
}
